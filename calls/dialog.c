/* INVITE dialogs as legs (RFC 3261 12, 13, 17): transactions with
 * retransmission and hop-copy detection, early dialogs and forking (12.1),
 * CANCEL (9), BYE (15), re-INVITE hold (RFC 3264 8.4), PRACK/UPDATE
 * (RFC 3262, 3311), REFER (RFC 3515), session timers (RFC 4028), timeouts. */
#include "calls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"

static bool dlg_eq(const struct ht_node *n, const void *key)
{
    const struct dlg *d = ts_container_of(n, struct dlg, n);
    return strcmp(d->rec.call_id, (const char *)key) == 0;
}

static struct dlg *dlg_find(struct calls *c, const char *cid)
{
    struct ht_node *n = htab_find(&c->dlgs, ts_hash(cid, strlen(cid)), dlg_eq, cid);
    return n ? ts_container_of(n, struct dlg, n) : NULL;
}

struct dlg *calls_dlg_find(struct calls *c, const char *cid)
{
    return dlg_find(c, cid);
}

struct calls *calls_new(const struct calls_config *cfg, struct ts_stats *st)
{
    struct calls *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cfg)
        c->cfg = *cfg;
    else
        calls_config_default(&c->cfg);
    if (c->cfg.max_dialogs == 0 || c->cfg.max_dialogs > TS_MAX_DIALOGS)
        c->cfg.max_dialogs = TS_MAX_DIALOGS;
    if (c->cfg.bucket_s == 0)
        c->cfg.bucket_s = 60;
    c->st = st ? st : &c->own;
    for (size_t i = 0; i < c->cfg.nsbcs && i < TS_CALLS_MAX_SBC; i++)
        c->sbc[c->nsbc++] = c->cfg.sbcs[i];
    c->tnodes = calloc(TS_CALLS_MAX_TRUNKS, sizeof *c->tnodes);
    c->rnodes = calloc(TS_CALLS_MAX_PEERS, sizeof *c->rnodes);
    if (!c->tnodes || !c->rnodes || htab_init(&c->dlgs, c->cfg.max_dialogs) != 0 ||
        htab_init(&c->ix, (size_t)c->cfg.max_dialogs * 4) != 0 ||
        htab_init(&c->trunk_ix, TS_CALLS_MAX_TRUNKS) != 0 ||
        htab_init(&c->reg_ix, TS_CALLS_MAX_PEERS) != 0 ||
        htab_init(&c->pend, TS_CALLS_MAX_PENDING) != 0) {
        calls_free(c);
        return NULL;
    }
    return c;
}

/* Unlink from every table and free; the caller handles the group. */
void dlg_release(struct calls *c, struct dlg *d)
{
    corr_unindex_dlg(c, d);
    htab_remove(&c->dlgs, &d->n);
    free(d);
}

void calls_free(struct calls *c)
{
    if (!c)
        return;
    if (c->dlgs.buckets) {
        struct ht_node *n;
        while ((n = htab_oldest(&c->dlgs)) != NULL)
            dlg_release(c, ts_container_of(n, struct dlg, n));
    }
    for (size_t i = 0; i < c->ndone; i++)
        free(c->done[i].legs);
    free(c->done);
    trunk_free_all(c);
    reg_free_all(c);
    htab_cleanup(&c->dlgs);
    htab_cleanup(&c->ix);
    htab_cleanup(&c->trunk_ix);
    htab_cleanup(&c->reg_ix);
    htab_cleanup(&c->pend);
    free(c->tnodes);
    free(c->rnodes);
    free(c);
}

void calls_set_sink(struct calls *c, calls_sink_fn fn, void *ctx)
{
    c->sink = fn;
    c->sink_ctx = ctx;
}

void calls_set_media_hooks(struct calls *c, const struct calls_media_hooks *h)
{
    c->mh = *h;
}

void calls_note_drop(struct calls *c, uint64_t t0_ns, uint64_t t1_ns)
{
    /* every dialog still held; the LRU list runs oldest to newest */
    for (struct ht_node *n = htab_oldest(&c->dlgs); n && n != &c->dlgs.lru; n = n->lnext) {
        struct dlg *d = ts_container_of(n, struct dlg, n);
        if (d->rec.invite_ns <= t1_ns && (!d->ended || d->rec.end_ns >= t0_ns))
            d->rec.capture_gap = true;
    }
}

void dlg_end(struct calls *c, struct dlg *d, uint64_t ts, uint8_t party)
{
    if (d->ended)
        return;
    d->ended = true;
    d->rec.end_ns = ts;
    if (c->mh.ended)
        c->mh.ended(c->mh.ctx, d->rec.leg_ref, ts);
    if (party)
        d->rec.hangup_by = party;
    if (d->conc_counted)
        trunk_conc(c, d, -1, ts);
}

/* ---- small readers over the parsed message ---- */

static bool first_nameaddr(const struct sip_msg *msg, enum sip_hdr_id id, struct sip_nameaddr *na)
{
    size_t it = 0;
    struct bv v;
    memset(na, 0, sizeof *na);
    return sip_hdr_next(msg, id, &it, &v) && sip_nameaddr_parse(v, na);
}

static struct bv first_value(const struct sip_msg *msg, enum sip_hdr_id id)
{
    size_t it = 0;
    struct bv v = BV_NULL;
    if (!sip_hdr_next(msg, id, &it, &v))
        return BV_NULL;
    return v;
}

static uint64_t hash_bv(struct bv v)
{
    return v.len ? ts_hash(v.p, v.len) : 0;
}

static void copy_user(char *dst, size_t cap, const struct sip_uri *u)
{
    calls_cp(dst, cap, u->user.len ? u->user : u->host);
}

/* Reason header of a final response, BYE or CANCEL (RFC 3326). */
static void take_reason(struct dlg *d, const struct sip_msg *msg)
{
    size_t it = 0;
    struct bv v;
    while (sip_hdr_next(msg, SIP_H_REASON, &it, &v)) {
        struct sip_reason r;
        if (!sip_reason_parse(v, &r))
            continue;
        if (bv_eq_ci(r.protocol, "Q.850") && !d->rec.q850_cause)
            d->rec.q850_cause = r.cause;
        if (!d->rec.reason_hdr[0])
            calls_cp(d->rec.reason_hdr, sizeof d->rec.reason_hdr, v);
    }
    struct bv md = first_value(msg, SIP_H_MS_DIAGNOSTICS);
    if (md.len && !d->rec.ms_diag[0])
        calls_cp(d->rec.ms_diag, sizeof d->rec.ms_diag, md);
}

static bool is_null_uuid(struct bv u)
{
    if (!u.len)
        return true;
    for (size_t i = 0; i < u.len; i++)
        if (bv_at(u, i) != '0')
            return false;
    return true;
}

/* RFC 7989 uuids: kept lower-case; the null uuid says "remote unknown". */
static void take_session_id(struct calls *c, struct dlg *d, const struct sip_msg *msg)
{
    struct bv v = first_value(msg, SIP_H_SESSION_ID), loc, rem;
    if (!v.len || !sip_session_id_parse(v, &loc, &rem))
        return;
    struct bv ids[2] = { loc, rem };
    bool added = false;
    for (int k = 0; k < 2; k++) {
        if (is_null_uuid(ids[k]) || ids[k].len >= CALLS_UUID_LEN)
            continue;
        char u[CALLS_UUID_LEN];
        calls_cp(u, sizeof u, ids[k]);
        for (char *p = u; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (!strcmp(d->sid[0], u) || !strcmp(d->sid[1], u))
            continue;
        int slot = !d->sid[0][0] ? 0 : (!d->sid[1][0] ? 1 : -1);
        if (slot < 0)
            break;
        memcpy(d->sid[slot], u, sizeof u);
        corr_index_dlg(c, d, IX_SID0 + slot, corr_key_str(IX_SID0, u));
        added = true;
    }
    if (added && d->rec.invite_ns && !d->starting)
        corr_try(c, d);
}

static void add_media(struct calls *c, struct dlg *d, const struct calls_sdp *s)
{
    if (!s->port || !s->addr.family)
        return;
    static const uint8_t zero[16];
    if (memcmp(s->addr.a, zero, 16) == 0)
        return;   /* c=0.0.0.0 hold: no endpoint */
    for (unsigned i = 0; i < d->nmedia; i++)
        if (d->media[i].port == s->port && ts_addr_eq(&d->media[i].addr, &s->addr))
            return;
    if (d->nmedia >= TS_CALLS_MAX_MEDIA)
        return;
    struct media_ep *ep = &d->media[d->nmedia];
    ep->addr = s->addr;
    ep->port = s->port;
    corr_index_dlg(c, d, IX_MEDIA0 + d->nmedia, corr_key_addr(IX_MEDIA0, &ep->addr, ep->port));
    d->nmedia++;
    if (d->rec.invite_ns && !d->starting)
        corr_try(c, d);
    corr_media_added(c, d, ep);
}

/* SDP of any message: first offer/answer per side, hold, media endpoints.
 * offer_in_dialog: a re-INVITE/UPDATE offer (hold detection). */
static void take_sdp(struct calls *c, struct dlg *d, const struct sip_msg *msg,
                     bool sender_is_caller, bool offer_in_dialog)
{
    if (!msg->body.len)
        return;
    struct bv ct = first_value(msg, SIP_H_CONTENT_TYPE);
    if (ct.len && !bv_prefix_ci(ct, "application/sdp") && !bv_prefix_ci(ct, "multipart/"))
        return;
    if (c->mh.sdp)
        c->mh.sdp(c->mh.ctx, d->rec.leg_ref, msg->body, c->now);
    struct calls_sdp s;
    if (!calls_sdp_parse(msg->body, &s))
        return;
    struct calls_sdp *side = sender_is_caller ? &d->rec.caller_sdp : &d->rec.callee_sdp;
    if (!side->present)
        *side = s;
    if (offer_in_dialog) {
        static const uint8_t zero[16];
        bool zero_addr = s.addr.family && memcmp(s.addr.a, zero, 16) == 0;
        bool held = s.dir == CALLS_MD_SENDONLY || s.dir == CALLS_MD_INACTIVE || zero_addr;
        if (held && !d->rec.on_hold) {
            d->rec.hold = true;
            d->rec.holds++;
        }
        d->rec.on_hold = held;
    }
    add_media(c, d, &s);
}

/* ---- leg creation ---- */

static void record_hop(struct calls *c, struct dlg *d, const struct pkt_meta *m)
{
    for (unsigned i = 0; i < d->rec.nhops; i++)
        if (ts_addr_eq(&d->rec.hop_src[i], &m->src) && ts_addr_eq(&d->rec.hop_dst[i], &m->dst))
            return;
    if (d->rec.nhops >= TS_CALLS_MAX_HOPS)
        return;
    unsigned i = d->rec.nhops++;
    d->rec.hop_src[i] = m->src;
    d->rec.hop_dst[i] = m->dst;
    d->hop_trunk[i] = trunk_lookup(c, &m->src, &m->dst, &d->hop_dir[i]);
    if (d->hop_trunk[i] >= 0 && m->site && !c->trunks[d->hop_trunk[i]].site[0])
        snprintf(c->trunks[d->hop_trunk[i]].site, TS_SITE_LEN, "%s", m->site);
}

static struct dlg *dlg_create(struct calls *c, const char *cid)
{
    if (c->dlgs.count >= c->cfg.max_dialogs) {
        struct ht_node *old = htab_oldest(&c->dlgs);
        if (old) {
            TS_INC(c->st, CALLS_EVICTED);
            corr_emit_group(c, ts_container_of(old, struct dlg, n), CALLS_PARTY_TIMEOUT);
        }
    }
    struct dlg *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->seq = ++c->seq;
    d->rec.leg_ref = d->seq;
    calls_cp(d->rec.call_id, sizeof d->rec.call_id, bv_cstr(cid));
    d->rec.ev_linked_to = -1;
    for (unsigned i = 0; i < TS_CALLS_MAX_HOPS; i++)
        d->hop_trunk[i] = -1;
    corr_init_dlg(d);
    htab_insert(&c->dlgs, &d->n, ts_hash(d->rec.call_id, strlen(d->rec.call_id)));
    TS_INC(c->st, CALLS_LEGS);
    return d;
}

/* First INVITE of the leg: identities, addresses, correlation keys. */
static void leg_start(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                      const struct sip_msg *msg, const struct sip_nameaddr *from,
                      const struct sip_nameaddr *to)
{
    struct calls_leg *r = &d->rec;
    r->invite_ns = m->ts_ns;
    r->attempt_ns = m->ts_ns;
    if (m->site)
        snprintf(r->site, sizeof r->site, "%s", m->site);
    r->src = m->src;
    r->dst = m->dst;
    r->sport = m->sport;
    r->dport = m->dport;
    d->init_cseq = msg->cseq;
    d->from_tag_h = hash_bv(from->tag);
    copy_user(r->from, sizeof r->from, &from->u);
    copy_user(r->to, sizeof r->to, &to->u);
    struct sip_uri ru;
    if (sip_uri_parse(msg->ruri, &ru))
        copy_user(r->ruri, sizeof r->ruri, &ru);
    struct sip_nameaddr pai;
    if (first_nameaddr(msg, SIP_H_P_ASSERTED_IDENTITY, &pai))
        copy_user(r->pai, sizeof r->pai, &pai.u);
    calls_number_norm(&c->cfg, r->from, d->nd[ND_FROM], sizeof d->nd[ND_FROM]);
    calls_number_norm(&c->cfg, r->pai, d->nd[ND_PAI], sizeof d->nd[ND_PAI]);
    calls_number_norm(&c->cfg, r->ruri, d->nd[ND_RURI], sizeof d->nd[ND_RURI]);
    calls_number_norm(&c->cfg, r->to, d->nd[ND_TO], sizeof d->nd[ND_TO]);
    memcpy(r->caller_digits, d->nd[r->pai[0] ? ND_PAI : ND_FROM], sizeof r->caller_digits);
    memcpy(r->callee_digits, d->nd[r->ruri[0] ? ND_RURI : ND_TO], sizeof r->callee_digits);
    struct sip_via via;
    struct bv vv = first_value(msg, SIP_H_VIA);
    if (vv.len && sip_via_parse(vv, &via) && via.transport.len)
        calls_cp(r->transport, sizeof r->transport, via.transport);
    else
        calls_cp(r->transport, sizeof r->transport,
                 bv_cstr(m->l4 == TS_L4_TCP ? "TCP" : m->l4 == TS_L4_SCTP ? "SCTP" : "UDP"));
    record_hop(c, d, m);
    /* Correlation keys: configured headers, INVITE target node (timing). */
    unsigned nh = 0;
    for (size_t i = 0; i < c->cfg.ncorr_hdrs && nh < CALLS_HDR_VALUES; i++) {
        struct bv v = bv_trim(sip_hdr_get(msg, c->cfg.corr_hdrs[i]));
        if (!v.len)
            continue;
        calls_cp(d->hv[nh], sizeof d->hv[nh], v);
        corr_index_dlg(c, d, IX_HDR0 + (int)nh, corr_key_str(IX_HDR0, d->hv[nh]));
        nh++;
    }
    corr_index_dlg(c, d, IX_NODE, corr_key_addr(IX_NODE, &r->dst, 0));
    /* called number: its last 7 digits (calls_number_match's suffix rule),
     * or the user name in lower case */
    char nk[CALLS_USER_LEN];
    size_t dl = strlen(r->callee_digits);
    if (dl) {
        size_t from = dl > 7 ? dl - 7 : 0;
        memcpy(nk, r->callee_digits + from, dl - from + 1);
    } else {
        calls_cp(nk, sizeof nk, bv_cstr(r->ruri[0] ? r->ruri : r->to));
        for (char *p = nk; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    if (nk[0])
        corr_index_dlg(c, d, IX_NUM, corr_key_str(IX_NUM, nk));
}

/* ---- transactions ---- */

static struct calls_txn *txn_get(struct dlg *d, uint32_t cseq, uint8_t method)
{
    for (unsigned i = 0; i < d->ntxn; i++)
        if (d->txn[i].cseq == cseq && d->txn[i].method == method)
            return &d->txn[i];
    struct calls_txn *t;
    if (d->ntxn < TS_CALLS_MAX_TXN) {
        t = &d->txn[d->ntxn++];
    } else {
        t = &d->txn[d->txn_next];
        d->txn_next = (uint8_t)((d->txn_next + 1) % TS_CALLS_MAX_TXN);
    }
    memset(t, 0, sizeof *t);
    t->cseq = cseq;
    t->method = method;
    return t;
}

static bool in_set(const uint64_t *set, uint8_t n, uint64_t v)
{
    unsigned lim = n < TS_CALLS_MAX_FP ? n : TS_CALLS_MAX_FP;
    for (unsigned i = 0; i < lim; i++)
        if (set[i] == v)
            return true;
    return false;
}

/* Ring of the last TS_CALLS_MAX_FP values; *n counts insertions. */
static void add_set(uint64_t *set, uint8_t *n, uint64_t v)
{
    set[*n % TS_CALLS_MAX_FP] = v;
    *n = (uint8_t)(*n == UINT8_MAX ? TS_CALLS_MAX_FP : *n + 1);
}

/* ---- requests and responses ---- */

static void on_request(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                       const struct sip_msg *msg, const struct sip_nameaddr *from,
                       const struct sip_nameaddr *to)
{
    struct calls_leg *r = &d->rec;
    uint64_t ftag = hash_bv(from->tag);
    bool from_caller = ftag == d->from_tag_h;
    if (first_value(msg, SIP_H_SESSION_EXPIRES).len)
        r->session_timer = true;
    switch (msg->method) {
    case SIP_M_INVITE:
        if (!r->invite_ns) {
            d->starting = true;   /* all evidence first, then levels 1..4 in order */
            leg_start(c, d, m, msg, from, to);
            take_sdp(c, d, msg, true, false);
            take_session_id(c, d, msg);
            d->starting = false;
            corr_try(c, d);
        } else if (!d->answered && !to->tag.len && from_caller && msg->cseq != d->init_cseq) {
            /* a new attempt in the same Call-ID (after 401/407 or a failure) */
            if (r->final_status == 401 || r->final_status == 407)
                r->auth_challenged = true;
            d->init_cseq = msg->cseq;
            r->attempt_ns = m->ts_ns;
            r->prov_ns = r->ring_ns = 0;
            r->final_status = 0;
            r->reason[0] = '\0';
            if (d->ended) {
                d->ended = false;
                r->end_ns = 0;
            }
            take_sdp(c, d, msg, true, false);
        } else if (msg->cseq != d->init_cseq || !from_caller) {
            r->reinvites++;
            take_sdp(c, d, msg, from_caller, true);
        }
        break;
    case SIP_M_ACK:
        take_sdp(c, d, msg, from_caller, false);   /* late offer answer */
        break;
    case SIP_M_CANCEL:
        r->cancelled = true;
        take_reason(d, msg);
        break;
    case SIP_M_BYE:
        if (!r->bye_ns) {
            r->bye_ns = m->ts_ns;
            take_reason(d, msg);
            dlg_end(c, d, m->ts_ns, from_caller ? CALLS_PARTY_CALLER : CALLS_PARTY_CALLEE);
        }
        break;
    case SIP_M_UPDATE:
        take_sdp(c, d, msg, from_caller, d->answered);
        break;
    case SIP_M_PRACK:
        take_sdp(c, d, msg, from_caller, false);
        break;
    case SIP_M_REFER:
        r->transfer = true;
        break;
    case SIP_M_NOTIFY:
        if (bv_prefix_ci(first_value(msg, SIP_H_EVENT), "refer"))
            r->transfer = true;
        break;
    default:
        break;
    }
}

static void on_response(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                        const struct sip_msg *msg, const struct sip_nameaddr *from,
                        const struct sip_nameaddr *to)
{
    struct calls_leg *r = &d->rec;
    uint16_t st = msg->status;
    bool from_caller = hash_bv(from->tag) == d->from_tag_h;  /* request was the caller's */
    if (msg->cseq_method == SIP_M_INVITE && msg->cseq == d->init_cseq && from_caller) {
        uint64_t tt = hash_bv(to->tag);
        if (tt && st > 100) {
            bool seen = false;
            for (unsigned i = 0; i < r->forks && i < TS_CALLS_MAX_FORKS; i++)
                seen |= d->fork_tag_h[i] == tt;
            if (!seen && r->forks < TS_CALLS_MAX_FORKS)
                d->fork_tag_h[r->forks++] = tt;
        }
        take_session_id(c, d, msg);
        if (st < 200) {
            if (!r->prov_ns)
                r->prov_ns = m->ts_ns;
            if (st >= 180 && st < 190 && !r->ring_ns)
                r->ring_ns = m->ts_ns;
            take_sdp(c, d, msg, !from_caller, false);
        } else if (st < 300) {
            take_sdp(c, d, msg, !from_caller, false);
            if (!d->answered) {
                d->answered = true;
                d->answered_tag_h = tt;
                r->answer_ns = m->ts_ns;
                if (c->mh.answered)
                    c->mh.answered(c->mh.ctx, r->leg_ref, m->ts_ns);
                r->final_status = st;
                calls_cp(r->reason, sizeof r->reason, msg->reason_phrase);
                if (d->ended) {   /* a 2xx after a failure on another hop wins */
                    d->ended = false;
                    r->end_ns = 0;
                }
                const char *cod = r->callee_sdp.codecs[0] ? r->callee_sdp.codecs
                                                          : r->caller_sdp.codecs;
                d->codec = (uint8_t)calls_codec_of(cod);
                trunk_conc(c, d, +1, m->ts_ns);
            }
        } else {
            if (st != 401 && st != 407 && !r->err_status) {
                r->err_status = st;
                r->err_ns = m->ts_ns;
                r->err_src = m->src;
            }
            if (!d->answered && !r->final_status) {
                r->final_status = st;
                calls_cp(r->reason, sizeof r->reason, msg->reason_phrase);
                take_reason(d, msg);
                dlg_end(c, d, m->ts_ns, CALLS_PARTY_NONE);
            }
        }
        return;
    }
    if (msg->cseq_method == SIP_M_INVITE || msg->cseq_method == SIP_M_UPDATE ||
        msg->cseq_method == SIP_M_PRACK) {
        if (st >= 200 && st < 300)
            take_sdp(c, d, msg, !from_caller, false);
    } else if (msg->cseq_method == SIP_M_BYE && st >= 200 && r->bye_ns && !r->bye_ok_ns) {
        r->bye_ok_ns = m->ts_ns;
    }
}

static void dlg_msg(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                    const struct sip_msg *msg)
{
    struct sip_nameaddr from, to;
    first_nameaddr(msg, SIP_H_FROM, &from);
    first_nameaddr(msg, SIP_H_TO, &to);
    struct sip_via via;
    memset(&via, 0, sizeof via);
    struct bv vv = first_value(msg, SIP_H_VIA);
    if (vv.len)
        sip_via_parse(vv, &via);
    uint8_t meth = (uint8_t)(msg->is_request ? msg->method : msg->cseq_method);
    uint16_t kind = msg->is_request ? (uint16_t)(1000 + meth) : msg->status;
    uint64_t tt = hash_bv(to.tag), ft = hash_bv(from.tag);
    if (!d->rec.invite_ns && msg->is_request && meth == SIP_M_INVITE)
        d->from_tag_h = ft;   /* the first INVITE's sender is the caller */
    /* requests of the callee (re-INVITE, BYE) have their own CSeq space */
    uint8_t tmeth = (uint8_t)(meth | (ft == d->from_tag_h ? 0 : 0x80));

    /* exact message on this hop (retransmission) vs. the same event seen
     * on another hop (a proxy relaying the same Call-ID) */
    uint64_t fp = ts_hash(&kind, sizeof kind);
    fp = ts_hash_mix(fp, &msg->cseq, sizeof msg->cseq);
    fp = ts_hash_mix(fp, &meth, 1);
    fp = ts_hash_mix(fp, &tt, sizeof tt);
    fp = ts_hash_mix(fp, &ft, sizeof ft);
    uint64_t ev = fp;
    if (via.branch.len)
        fp = ts_hash_mix(fp, via.branch.p, via.branch.len);
    fp = ts_hash_mix(fp, &m->src, sizeof m->src);
    fp = ts_hash_mix(fp, &m->dst, sizeof m->dst);
    fp = ts_hash_mix(fp, &m->sport, sizeof m->sport);
    fp = ts_hash_mix(fp, &m->dport, sizeof m->dport);

    struct calls_txn *t = txn_get(d, msg->cseq, tmeth);
    if (in_set(t->fp, t->nfp, fp)) {
        d->rec.retrans++;
        TS_INC(c->st, CALLS_RETRANS);
        return;
    }
    add_set(t->fp, &t->nfp, fp);
    if (in_set(t->ev, t->nev, ev)) {
        TS_INC(c->st, CALLS_HOP_COPIES);
        if (msg->is_request && meth == SIP_M_INVITE && msg->cseq == d->init_cseq)
            record_hop(c, d, m);
        return;
    }
    add_set(t->ev, &t->nev, ev);
    if (msg->is_request)
        on_request(c, d, m, msg, &from, &to);
    else
        on_response(c, d, m, msg, &from, &to);
}

void calls_sip(struct calls *c, const struct pkt_meta *m, const struct sip_msg *msg)
{
    if (!c || !m || !msg)
        return;
    if (m->ts_ns > c->now)
        c->now = m->ts_ns;
    if (!msg->call_id.len) {
        TS_INC(c->st, CALLS_ORPHANS);
        return;
    }
    enum sip_method meth = msg->is_request ? msg->method : msg->cseq_method;
    if (meth == SIP_M_REGISTER || meth == SIP_M_OPTIONS) {
        reg_msg(c, m, msg);
        return;
    }
    char cid[CALLS_TEXT_LEN];
    calls_cp(cid, sizeof cid, msg->call_id);
    struct dlg *d = dlg_find(c, cid);
    if (!d) {
        /* Any INVITE opens a leg (also a re-INVITE of a call that started
         * before the capture); everything else needs one. */
        if (!msg->is_request || meth != SIP_M_INVITE) {
            /* an INVITE dialog we never saw start (or already emitted);
             * SUBSCRIBE/NOTIFY/MESSAGE/PUBLISH outside calls are not ours */
            if (meth == SIP_M_INVITE || meth == SIP_M_ACK || meth == SIP_M_BYE ||
                meth == SIP_M_CANCEL || meth == SIP_M_PRACK || meth == SIP_M_UPDATE ||
                meth == SIP_M_INFO || meth == SIP_M_REFER)
                TS_INC(c->st, CALLS_ORPHANS);
            return;
        }
        d = dlg_create(c, cid);
        if (!d)
            return;
    }
    htab_touch(&c->dlgs, &d->n);
    if (m->ts_ns > d->last_ns)
        d->last_ns = m->ts_ns;
    dlg_msg(c, d, m, msg);
}

void calls_tick(struct calls *c, uint64_t now)
{
    if (!c)
        return;
    if (now > c->now)
        c->now = now;
    uint64_t nf = (uint64_t)c->cfg.no_final_timeout_s * NS_PER_S;
    uint64_t nb = (uint64_t)c->cfg.no_bye_timeout_s * NS_PER_S;
    uint32_t wms = c->cfg.corr_window_ms > c->cfg.linger_ms ? c->cfg.corr_window_ms
                                                            : c->cfg.linger_ms;
    uint64_t wait = (uint64_t)wms * NS_PER_MS;
    uint64_t min_age = wait < nf ? wait : nf;
    if (nb < min_age)
        min_age = nb;
    for (;;) {
        struct dlg *batch[64];
        unsigned n = 0;
        for (struct ht_node *nd = c->dlgs.lru.lnext; nd != &c->dlgs.lru && n < 64;
             nd = nd->lnext) {
            struct dlg *d = ts_container_of(nd, struct dlg, n);
            if (d->last_ns + min_age > now)
                break;
            if (!d->ended) {
                if (!d->answered && d->rec.invite_ns + nf <= now) {
                    d->timed_out = true;
                    TS_INC(c->st, CALLS_TIMEOUTS);
                    dlg_end(c, d, d->last_ns, CALLS_PARTY_NONE);
                } else if (d->answered && d->last_ns + nb <= now) {
                    d->timed_out = true;
                    TS_INC(c->st, CALLS_TIMEOUTS);
                    dlg_end(c, d, d->last_ns, CALLS_PARTY_TIMEOUT);
                }
            }
            if (d->ended && corr_group_done(c, d, now)) {
                struct dlg *root = corr_root(d);
                bool dup = false;
                for (unsigned i = 0; i < n; i++)
                    dup |= batch[i] == root;
                if (!dup)
                    batch[n++] = root;
            }
        }
        for (unsigned i = 0; i < n; i++)
            corr_emit_group(c, batch[i], CALLS_PARTY_TIMEOUT);
        if (n < 64)
            break;
    }
    reg_tick(c, now);
}

void calls_finish(struct calls *c)
{
    if (!c)
        return;
    struct ht_node *n;
    while ((n = htab_oldest(&c->dlgs)) != NULL)
        corr_emit_group(c, ts_container_of(n, struct dlg, n), CALLS_PARTY_ACTIVE);
    reg_tick(c, UINT64_MAX);
    corr_reclassify(c);
}

/* ---- accessors ---- */

const struct calls_config *calls_config_of(const struct calls *c) { return &c->cfg; }

void calls_set_config(struct calls *c, const struct calls_config *cfg)
{
    struct calls_config *o = &c->cfg; /* cfg may be o itself: memmove */
    memmove(o->nets, cfg->nets, sizeof o->nets);
    o->nnets = cfg->nnets < TS_CALLS_MAX_NETS ? cfg->nnets : TS_CALLS_MAX_NETS;
    memmove(o->corr_hdrs, cfg->corr_hdrs, sizeof o->corr_hdrs);
    o->ncorr_hdrs = cfg->ncorr_hdrs < TS_CALLS_MAX_CORR_HDRS ? cfg->ncorr_hdrs
                                                             : TS_CALLS_MAX_CORR_HDRS;
    memmove(o->trunk_names, cfg->trunk_names, sizeof o->trunk_names);
    o->ntrunk_names = cfg->ntrunk_names < TS_CALLS_MAX_TRUNK_NAMES ? cfg->ntrunk_names
                                                                   : TS_CALLS_MAX_TRUNK_NAMES;
    o->corr_window_ms = cfg->corr_window_ms;
    o->linger_ms = cfg->linger_ms;
    o->auth_linger_s = cfg->auth_linger_s;
    o->no_final_timeout_s = cfg->no_final_timeout_s ? cfg->no_final_timeout_s : 1;
    o->no_bye_timeout_s = cfg->no_bye_timeout_s ? cfg->no_bye_timeout_s : 1;
    /* learned and configured SBC addresses share c->sbc: add, never drop */
    memmove(o->sbcs, cfg->sbcs, sizeof o->sbcs);
    o->nsbcs = cfg->nsbcs < TS_CALLS_MAX_SBC ? cfg->nsbcs : TS_CALLS_MAX_SBC;
    for (size_t i = 0; i < o->nsbcs; i++) {
        if (trunk_is_sbc(c, &o->sbcs[i]))
            continue;
        if (c->nsbc >= TS_CALLS_MAX_SBC) {
            TS_INC(c->st, CALLS_SBC_FULL);
            continue;
        }
        c->sbc[c->nsbc++] = o->sbcs[i];
    }
    trunk_config_changed(c);
}
size_t calls_count(const struct calls *c) { return c ? c->ndone : 0; }
const struct calls_call *calls_get(const struct calls *c, size_t i)
{
    return (c && i < c->ndone) ? &c->done[i] : NULL;
}
uint64_t calls_emitted(const struct calls *c) { return c ? c->emitted : 0; }
size_t calls_trunk_count(const struct calls *c) { return c ? c->ntrunks : 0; }
const struct calls_trunk *calls_trunk_get(const struct calls *c, size_t i)
{
    return (c && i < c->ntrunks) ? &c->trunks[i] : NULL;
}
size_t calls_reg_count(const struct calls *c) { return c ? c->nregs : 0; }
const struct calls_reg *calls_reg_get(const struct calls *c, size_t i)
{
    return (c && i < c->nregs) ? &c->regs[i] : NULL;
}
size_t calls_dialogs_held(const struct calls *c) { return c ? c->dlgs.count : 0; }
size_t calls_pending_held(const struct calls *c) { return c ? c->pend.count : 0; }
uint64_t calls_stat(const struct calls *c, enum ts_stat s)
{
    return (c && (unsigned)s < TS_STAT_MAX) ? c->st->v[s] : 0;
}
