/* The dialog table, below dialog handling (dialog.c) and cross-leg
 * correlation (correlate.c), which both work on it: dialogs by Call-ID,
 * a dialog's end, its leg record (RFC 3261 12 dialog state as the sink and
 * the report see it) and its removal. */
#include "calls_int.h"

#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"

struct cid_key {
    const char *s;
    size_t len;
};

static bool dlg_eq(const struct ht_node *n, const void *key)
{
    const struct dlg *d = ts_container_of(n, struct dlg, n);
    const struct cid_key *k = key;
    const char *id = dlg_str(d, DS_CALL_ID);
    return memcmp(id, k->s, k->len) == 0 && id[k->len] == '\0';
}

struct dlg *dlg_find_len(struct calls *c, const char *cid, size_t len, uint64_t h)
{
    struct cid_key k = { cid, len };
    struct ht_node *n = htab_find(&c->dlgs, h, dlg_eq, &k);
    return n ? ts_container_of(n, struct dlg, n) : NULL;
}

struct dlg *calls_dlg_find(struct calls *c, const char *cid)
{
    size_t len = strlen(cid);
    return dlg_find_len(c, cid, len, ts_hash(cid, len));
}

/* Out of the table and freed; the caller handles its group and indexes. */
void dlg_free(struct calls *c, struct dlg *d)
{
    htab_remove(&c->dlgs, &d->n);
    if (d->mirror)
        d->mirror->mirror = NULL;
    free(d->sa);
    if (d->fp != d->fp_in)
        free(d->fp);
    free(d->ext);
    free(d);
}

void dlg_end(struct calls *c, struct dlg *d, uint64_t ts, uint8_t party)
{
    if (d->ended)
        return;
    d->ended = true;
    d->end_ns = ts;
    if (c->mh.ended)
        c->mh.ended(c->mh.ctx, d->seq, ts);
    if (party)
        d->hangup_by = party;
    if (d->conc_counted)
        trunk_conc(c, d, -1, ts);
}

/* ---- the leg record ---- */

static void leg_str(char *dst, size_t cap, const struct dlg *d, int k)
{
    const char *s = dlg_str(d, k);
    size_t l = strlen(s);
    if (l >= cap)
        l = cap - 1;   /* cannot happen: stored with the same cap */
    memcpy(dst, s, l);
    dst[l] = '\0';
}

static void leg_sdp(struct calls_sdp *out, const struct dlg *d, const struct dlg_sdp *s, int k)
{
    out->present = s->present;
    out->addr = s->addr;
    out->port = s->port;
    out->dir = s->dir;
    out->srtp = s->srtp;
    leg_str(out->codecs, sizeof out->codecs, d, k);
}

void dlg_leg(const struct dlg *d, struct calls_leg *l)
{
    memset(l, 0, sizeof *l);
    l->leg_ref = d->seq;
    leg_str(l->call_id, sizeof l->call_id, d, DS_CALL_ID);
    leg_str(l->from, sizeof l->from, d, DS_FROM);
    leg_str(l->to, sizeof l->to, d, DS_TO);
    leg_str(l->ruri, sizeof l->ruri, d, DS_RURI);
    leg_str(l->pai, sizeof l->pai, d, DS_PAI);
    leg_str(l->caller_digits, sizeof l->caller_digits, d,
            DS_ND + (d->so[DS_PAI] ? ND_PAI : ND_FROM));
    leg_str(l->callee_digits, sizeof l->callee_digits, d,
            DS_ND + (d->so[DS_RURI] ? ND_RURI : ND_TO));
    l->invite_ns = d->invite_ns;
    l->prov_ns = d->prov_ns;
    l->ring_ns = d->ring_ns;
    l->answer_ns = d->answer_ns;
    l->end_ns = d->end_ns;
    l->attempt_ns = d->attempt_ns;
    l->bye_ns = d->bye_ns;
    l->bye_ok_ns = d->bye_ok_ns;
    l->final_status = d->final_status;
    leg_str(l->reason, sizeof l->reason, d, DS_REASON);
    leg_str(l->reason_hdr, sizeof l->reason_hdr, d, DS_REASON_HDR);
    l->q850_cause = d->q850_cause;
    leg_str(l->ms_diag, sizeof l->ms_diag, d, DS_MS_DIAG);
    leg_str(l->user_agent, sizeof l->user_agent, d, DS_UA);
    leg_str(l->server, sizeof l->server, d, DS_SERVER);
    l->hangup_by = d->hangup_by;
    leg_sdp(&l->caller_sdp, d, &d->caller_sdp, DS_CODECS_CALLER);
    leg_sdp(&l->callee_sdp, d, &d->callee_sdp, DS_CODECS_CALLEE);
    memcpy(l->transport, d->transport, sizeof l->transport);
    l->src = d->src;
    l->dst = d->dst;
    l->sport = d->sport;
    l->dport = d->dport;
    l->nhops = d->nhops;
    for (unsigned i = 0; i < d->nhops; i++) {
        l->hop_src[i] = dlg_hop_c(d, i)->src;
        l->hop_dst[i] = dlg_hop_c(d, i)->dst;
    }
    l->forks = d->forks;
    l->cancelled = d->cancelled;
    l->transfer = d->transfer;
    l->session_timer = d->session_timer;
    l->auth_challenged = d->auth_challenged;
    epq_leg(d, l);
    l->capture_gap = d->capture_gap;
    l->hold = d->hold;
    l->on_hold = d->on_hold;
    l->holds = d->holds;
    l->reinvites = d->reinvites;
    l->retrans = d->retrans;
    l->err_status = d->err_status;
    l->err_ns = d->err_ns;
    l->err_src = d->err_src;
    l->unreach = d->unreach;
    /* a 2xx repeated and never ACKed: the callee's Timer H ends the call
     * (RFC 3261 13.3.1.4), the classic drop after 32 s */
    l->no_ack = d->answered && !d->acked && d->ok_retrans > 0;
    l->ev_type = d->ev_type;
    l->ev_conf = d->ev_conf;
    l->ev_linked_to = -1;
    leg_str(l->site, sizeof l->site, d, DS_SITE);
}
