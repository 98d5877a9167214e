/* INVITE dialogs as legs (RFC 3261 12, 13, 17): transactions with
 * retransmission and hop-copy detection, early dialogs and forking (12.1),
 * CANCEL (9), BYE (15), re-INVITE hold (RFC 3264 8.4), PRACK/UPDATE
 * (RFC 3262, 3311), REFER (RFC 3515), session timers (RFC 4028), timeouts. */
#include "calls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../dissect/vq.h"

/* ---- a dialog's strings: one arena sized to the content ---- */

/* Live strings of a dialog take at most ~1.3 KiB (the caps of calls_leg);
 * an arena that outgrows this through replaced strings is repacked. */
#define ARENA_REPACK 2048
#define ARENA_SLACK 48
#define ARENA_FIRST 200

static void arena_repack(struct dlg *d)
{
    char tmp[ARENA_REPACK];
    size_t len = 1;
    tmp[0] = '\0';
    for (int k = 0; k < DS_N; k++) {
        if (!d->so[k])
            continue;
        size_t l = strlen(d->sa + d->so[k]) + 1;
        if (len + l > sizeof tmp) {   /* cannot happen with the caps: drop */
            d->so[k] = 0;
            continue;
        }
        memcpy(tmp + len, d->sa + d->so[k], l);
        d->so[k] = (uint16_t)len;
        len += l;
    }
    memcpy(d->sa, tmp, len);
    d->sa_len = (uint16_t)len;
}

/* Room for n more bytes at sa + sa_len; a new arena also gets room for
 * what a leg typically adds (identities, digits, codecs, reason). */
static bool arena_room(struct dlg *d, size_t n)
{
    if (d->sa && d->sa_len + n <= d->sa_cap)
        return true;
    if (d->sa && d->sa_len + n > ARENA_REPACK)
        arena_repack(d);
    size_t need = (d->sa ? d->sa_len : 1) + n;
    if (need <= d->sa_cap)
        return true;
    size_t cap = (need + (d->sa ? ARENA_SLACK : ARENA_FIRST) + 15) & ~(size_t)15;
    char *p = realloc(d->sa, cap);
    if (!p)
        return false;
    if (!d->sa) {
        p[0] = '\0';
        d->sa_len = 1;
    }
    d->sa = p;
    d->sa_cap = (uint16_t)cap;
    return true;
}

/* String k = v as calls_cp() copies it into a cap-byte array (printable
 * ASCII, '?' for other bytes), or byte for byte when raw. */
static void str_put(struct dlg *d, int k, struct bv v, size_t cap, bool raw)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (!n) {
        d->so[k] = 0;
        return;
    }
    char *dst;
    if (d->so[k] && strlen(d->sa + d->so[k]) >= n) {
        dst = d->sa + d->so[k];   /* fits where the old value was */
    } else {
        d->so[k] = 0;
        if (!arena_room(d, n + 1))
            return;
        d->so[k] = d->sa_len;
        dst = d->sa + d->sa_len;
        d->sa_len = (uint16_t)(d->sa_len + n + 1);
    }
    for (size_t i = 0; i < n; i++) {
        int ch = bv_at(v, i);
        dst[i] = (raw || (ch >= 0x20 && ch < 0x7f)) ? (char)ch : '?';
    }
    dst[n] = '\0';
}

static void str_set(struct dlg *d, int k, struct bv v, size_t cap)
{
    str_put(d, k, v, cap, false);
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
    for (int l = 0; l < PARK_N; l++)
        c->parked[l].lprev = c->parked[l].lnext = &c->parked[l];
    for (size_t i = 0; i < c->cfg.nsbcs && i < TS_CALLS_MAX_SBC; i++)
        c->sbc[c->nsbc++] = c->cfg.sbcs[i];
    c->tnodes = calloc(TS_CALLS_MAX_TRUNKS, sizeof *c->tnodes);
    c->rnodes = calloc(TS_CALLS_MAX_PEERS, sizeof *c->rnodes);
    size_t nb = 16;
    while (nb < (size_t)c->cfg.max_dialogs * 4)
        nb <<= 1;
    c->ix.b = calloc(nb, sizeof *c->ix.b);
    c->ix.mask = nb - 1;
    c->tix.b = calloc(nb / 2, sizeof *c->tix.b);
    c->tix.mask = nb / 2 - 1;
    if (!c->tnodes || !c->rnodes || !c->ix.b || !c->tix.b || kept_init(c) != 0 ||
        htab_init(&c->dlgs, c->cfg.max_dialogs) != 0 ||
        htab_init(&c->trunk_ix, TS_CALLS_MAX_TRUNKS) != 0 ||
        htab_init(&c->reg_ix, TS_CALLS_MAX_PEERS) != 0 ||
        htab_init(&c->pend, TS_CALLS_MAX_PENDING) != 0) {
        calls_free(c);
        return NULL;
    }
    return c;
}

/* ---- parked dialogs (see struct calls) ---- */

static struct dlg *node_dlg(struct ht_node *n) { return ts_container_of(n, struct dlg, n); }

/* What a parked list is sorted by: its dialogs' deadlines come in that order. */
static uint64_t park_key(int list, const struct dlg *d)
{
    return list == PARK_RINGING ? d->invite_ns : d->touch;
}

/* Out of the walked LRU list into a parked one, at its place from the young
 * end: dialogs arrive nearly in order, so the scan back stops at once (it is
 * bounded: hostile timestamps make the order approximate, not slow). */
static void park(struct calls *c, struct dlg *d, int list)
{
    struct ht_node *s = &c->parked[list], *pos = s;
    ht_list_unlink(&d->n);
    for (unsigned i = 0; i < TS_CALLS_PARK_SCAN && pos->lprev != s &&
                         park_key(list, node_dlg(pos->lprev)) > park_key(list, d);
         i++)
        pos = pos->lprev;
    ht_list_insert_before(pos, &d->n);
}

/* Back into the LRU list where its touch order puts it: among the oldest,
 * where the walk would have found it without parking. */
static void unpark(struct calls *c, struct dlg *d)
{
    ht_list_unlink(&d->n);
    struct ht_node *pos = c->dlgs.lru.lnext;
    for (unsigned i = 0; i < TS_CALLS_PARK_SCAN && pos != &c->dlgs.lru && node_dlg(pos)->touch < d->touch;
         i++)
        pos = pos->lnext;
    ht_list_insert_before(pos, &d->n);
}

static int by_touch(const void *a, const void *b)
{
    uint64_t x = (*(struct dlg *const *)a)->touch, y = (*(struct dlg *const *)b)->touch;
    return x < y ? -1 : x > y;
}

/* Every parked dialog back into the LRU list, which is left in touch order
 * (the order it had without parking). */
static void unpark_all(struct calls *c)
{
    struct ht_node *lru = &c->dlgs.lru;
    struct dlg **all = malloc((c->dlgs.count ? c->dlgs.count : 1) * sizeof *all);
    size_t n = 0;
    for (int l = 0; l < PARK_N; l++)
        while (c->parked[l].lnext != &c->parked[l]) {
            struct ht_node *p = c->parked[l].lnext;
            ht_list_unlink(p);
            ht_list_insert_before(lru, p);   /* out of memory: the order is approximate */
        }
    if (!all)
        return;
    for (struct ht_node *p = lru->lnext; p != lru && n < c->dlgs.count; p = p->lnext)
        all[n++] = node_dlg(p);
    qsort(all, n, sizeof *all, by_touch);
    lru->lprev = lru->lnext = lru;
    for (size_t i = 0; i < n; i++)
        ht_list_insert_before(lru, &all[i]->n);
    free(all);
}

/* The least recently touched dialog, parked or not (among the ringing ones,
 * sorted by INVITE time, nearly). */
static struct ht_node *dlg_oldest(struct calls *c)
{
    struct ht_node *best = htab_oldest(&c->dlgs);
    for (int l = 0; l < PARK_N; l++) {
        struct ht_node *p = c->parked[l].lnext;
        if (p != &c->parked[l] && (!best || node_dlg(p)->touch < node_dlg(best)->touch))
            best = p;
    }
    return best;
}

/* A member of d's call is still up: d's group cannot be done before it ends. */
static bool group_open(const struct dlg *d)
{
    const struct dlg *x = d;
    unsigned guard = 0;
    do {
        if (!x->ended)
            return true;
        x = x->grp_next;
    } while (x != d && ++guard <= TS_CALLS_MAX_LEGS);
    return false;
}

void calls_free(struct calls *c)
{
    if (!c)
        return;
    if (c->dlgs.buckets) {
        struct ht_node *n;
        while ((n = dlg_oldest(c)) != NULL)
            corr_release(c, ts_container_of(n, struct dlg, n));
    }
    kept_free(c);
    trunk_free_all(c);
    reg_free_all(c);
    topo_free(c);
    relink_free(c);
    htab_cleanup(&c->dlgs);
    free(c->ix.b);
    free(c->tix.b);
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
    /* every dialog still held: the LRU list and the parked ones */
    for (int l = -1; l < PARK_N; l++) {
        struct ht_node *s = l < 0 ? &c->dlgs.lru : &c->parked[l];
        for (struct ht_node *n = s->lnext; n != s; n = n->lnext) {
            struct dlg *d = node_dlg(n);
            if (d->invite_ns <= t1_ns && (!d->ended || d->end_ns >= t0_ns))
                d->capture_gap = true;
        }
    }
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

/* Values of a list header, at most 255. */
static uint8_t count_values(const struct sip_msg *msg, enum sip_hdr_id id)
{
    size_t it = 0;
    struct bv v;
    unsigned n = 0;
    while (n < UINT8_MAX && sip_hdr_next(msg, id, &it, &v))
        n++;
    return (uint8_t)n;
}

static uint64_t hash_bv(struct bv v)
{
    return v.len ? ts_hash(v.p, v.len) : 0;
}

static void set_user(struct dlg *d, int k, const struct sip_uri *u)
{
    str_set(d, k, u->user.len ? u->user : u->host, CALLS_USER_LEN);
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
        if (bv_eq_ci(r.protocol, "Q.850") && !d->q850_cause)
            d->q850_cause = r.cause;
        if (!d->so[DS_REASON_HDR])
            str_set(d, DS_REASON_HDR, v, CALLS_USER_LEN);
    }
    struct bv md = first_value(msg, SIP_H_MS_DIAGNOSTICS);
    if (md.len && !d->so[DS_MS_DIAG])
        str_set(d, DS_MS_DIAG, md, CALLS_TEXT_LEN);
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
    if (!v.len)
        return;
    /* the value read last time again (every response repeats it): slots
     * only fill, so it would change nothing */
    uint64_t vh = ts_hash(v.p, v.len);
    if (vh == d->sid_h)
        return;
    if (!sip_session_id_parse(v, &loc, &rem))
        return;
    d->sid_h = vh;
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
        if (!strcmp(dlg_str(d, DS_SID0), u) || !strcmp(dlg_str(d, DS_SID1), u))
            continue;
        int slot = !d->so[DS_SID0] ? 0 : (!d->so[DS_SID1] ? 1 : -1);
        if (slot < 0)
            break;
        str_set(d, DS_SID0 + slot, bv_cstr(u), CALLS_UUID_LEN);
        if (!d->so[DS_SID0 + slot]) {
            d->sid_h = 0;   /* no memory for it: read the value again next time */
            break;
        }
        corr_index_dlg(c, d, IX_SID0 + slot, corr_key_str(IX_SID0, u));
        added = true;
    }
    if (added && d->invite_ns && !d->starting)
        corr_try(c, d);
}

static void add_media(struct calls *c, struct dlg *d, const struct dlg_sdp *s)
{
    if (!s->port || !s->addr.family)
        return;
    static const uint8_t zero[16];
    if (memcmp(s->addr.a, zero, 16) == 0)
        return;   /* c=0.0.0.0 hold: no endpoint */
    for (unsigned i = 0; i < d->nmedia; i++)
        if (d->media[i].port == s->port && addr_eq(&d->media[i].addr, &s->addr))
            return;
    if (d->nmedia >= TS_CALLS_MAX_MEDIA)
        return;
    struct media_ep *ep = &d->media[d->nmedia];
    ep->addr = s->addr;
    ep->port = s->port;
    corr_index_dlg(c, d, IX_MEDIA0 + d->nmedia, corr_key_addr(IX_MEDIA0, &ep->addr, ep->port));
    d->nmedia++;
    if (d->invite_ns && !d->starting)
        corr_try(c, d);
    corr_media_added(c, d, ep);
}

/* SDP of any message: first offer/answer per side, hold, media endpoints.
 * offer_in_dialog: a re-INVITE/UPDATE offer (hold detection). The body is
 * parsed once, for this summary and the media hook. */
static void take_sdp(struct calls *c, struct dlg *d, const struct sip_msg *msg,
                     bool sender_is_caller, bool offer_in_dialog)
{
    if (!msg->body.len)
        return;
    struct bv ct = first_value(msg, SIP_H_CONTENT_TYPE);
    if (ct.len && !bv_prefix_ci(ct, "application/sdp") && !bv_prefix_ci(ct, "multipart/"))
        return;
    enum sdp_result res = sdp_parse(msg->body, &c->sdp);   /* partial results are usable */
    if (c->mh.sdp)
        c->mh.sdp(c->mh.ctx, d->seq, &c->sdp, res, c->now);
    struct dlg_sdp s;
    char codecs[sizeof ((struct calls_sdp *)0)->codecs];
    if (!calls_sdp_summary(&c->sdp, &s, codecs, sizeof codecs))
        return;
    struct dlg_sdp *side = sender_is_caller ? &d->caller_sdp : &d->callee_sdp;
    if (!side->present) {
        *side = s;
        str_set(d, sender_is_caller ? DS_CODECS_CALLER : DS_CODECS_CALLEE, bv_cstr(codecs),
                sizeof codecs);
    }
    if (offer_in_dialog) {
        static const uint8_t zero[16];
        bool zero_addr = s.addr.family && memcmp(s.addr.a, zero, 16) == 0;
        bool held = s.dir == CALLS_MD_SENDONLY || s.dir == CALLS_MD_INACTIVE || zero_addr;
        if (held && !d->on_hold) {
            d->hold = true;
            d->holds++;
        }
        d->on_hold = held;
    }
    add_media(c, d, &s);
}

/* ---- leg creation ---- */

static void record_hop(struct calls *c, struct dlg *d, const struct pkt_meta *m)
{
    for (unsigned i = 0; i < d->nhops; i++) {
        const struct dlg_hop *h = dlg_hop_c(d, i);
        if (addr_eq(&h->src, &m->src) && addr_eq(&h->dst, &m->dst))
            return;
    }
    if (d->nhops >= TS_CALLS_MAX_HOPS)
        return;
    if (d->nhops && !d->ext && !(d->ext = calloc(1, sizeof *d->ext)))
        return;
    /* the same node sends the INVITE on to another peer after the first
     * refused or stayed silent: a failover (serial forking, RFC 3261 16.6) */
    const struct dlg_hop *h0 = &d->hop0;
    if (d->nhops && addr_eq(&h0->src, &m->src) && !addr_eq(&h0->dst, &m->dst) && !d->answered &&
        (h0->final >= 300 || (!d->ring_ns && m->ts_ns >= d->invite_ns + NS_PER_S))) {
        TS_INC(c->st, CALLS_FAILOVERS);
        topo_hint_failover(c, &h0->dst, &m->dst);
    }
    struct dlg_hop *h = dlg_hop(d, d->nhops++);
    h->src = m->src;
    h->dst = m->dst;
    h->final = 0;
    h->final_ns = 0;
    h->trunk = trunk_lookup(c, &m->src, &m->dst, &h->dir);
    if (h->trunk >= 0 && m->site && !c->trunks[h->trunk].site[0])
        snprintf(c->trunks[h->trunk].site, TS_SITE_LEN, "%s", m->site);
}

/* d's call out to the sink and the report, then held a while in case a
 * relay learned later joins it with another (relink.c). */
static void emit(struct calls *c, struct dlg *d, uint8_t open_party)
{
    struct calls_call call;
    size_t kept_i = corr_emit_group(c, d, open_party, &call);
    relink_add(c, &call, kept_i);
}

static struct dlg *dlg_create(struct calls *c, const char *cid, size_t len, uint64_t h)
{
    if (c->dlgs.count >= c->cfg.max_dialogs) {
        struct ht_node *old = dlg_oldest(c);
        if (old) {
            TS_INC(c->st, CALLS_EVICTED);
            emit(c, ts_container_of(old, struct dlg, n), CALLS_PARTY_TIMEOUT);
        }
    }
    struct dlg *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    str_set(d, DS_CALL_ID, bv_make(cid, len), CALLS_TEXT_LEN);
    if (!d->so[DS_CALL_ID]) {
        free(d->sa);
        free(d);
        return NULL;
    }
    d->seq = ++c->seq;
    d->cid_key = corr_key_str(IX_HDR0, dlg_str(d, DS_CALL_ID));
    d->fp = d->fp_in;
    d->fp_cap = DLG_FP_INLINE;
    d->hop0.trunk = -1;
    corr_init_dlg(d);
    htab_insert(&c->dlgs, &d->n, h);
    d->touch = ++c->touches;
    TS_INC(c->st, CALLS_LEGS);
    return d;
}

/* First INVITE of the leg: identities, addresses, correlation keys. */
static void leg_start(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                      const struct sip_msg *msg, const struct sip_nameaddr *from,
                      const struct sip_nameaddr *to, const struct sip_via *via, bool via_ok)
{
    d->invite_ns = m->ts_ns;
    d->attempt_ns = m->ts_ns;
    if (m->site) {
        str_put(d, DS_SITE, bv_cstr(m->site), TS_SITE_LEN, true);
        if (d->so[DS_SITE])
            c->any_site = true;
    }
    d->src = m->src;
    d->dst = m->dst;
    d->sport = m->sport;
    d->dport = m->dport;
    d->init_cseq = msg->cseq;
    d->from_tag_h = hash_bv(from->tag);
    set_user(d, DS_FROM, &from->u);
    set_user(d, DS_TO, &to->u);
    struct sip_uri ru;
    if (sip_msg_ruri(msg, &ru))
        set_user(d, DS_RURI, &ru);
    struct sip_nameaddr pai;
    if (first_nameaddr(msg, SIP_H_P_ASSERTED_IDENTITY, &pai))
        set_user(d, DS_PAI, &pai.u);
    str_set(d, DS_UA, bv_trim(first_value(msg, SIP_H_USER_AGENT)), CALLS_TEXT_LEN);
    for (int k = ND_FROM; k <= ND_TO; k++) {
        char nd[CALLS_DIGITS_LEN];
        size_t l = calls_number_norm(&c->cfg, dlg_str(d, DS_FROM + k), nd, sizeof nd);
        str_set(d, DS_ND + k, bv_make(nd, l), sizeof nd);
        const char *dg = dlg_str(d, DS_ND + k);
        size_t dl = strlen(dg);
        d->nd_len[k] = (uint8_t)dl;
        uint32_t t = 0;
        for (size_t i = dl > 7 ? dl - 7 : 0; i < dl; i++)
            t = t * 10 + (uint32_t)(dg[i] - '0');
        d->nd_tail[k] = t;
    }
    if (via_ok && via->transport.len)
        calls_cp(d->transport, sizeof d->transport, via->transport);
    else
        calls_cp(d->transport, sizeof d->transport,
                 bv_cstr(m->l4 == TS_L4_TCP ? "TCP" : m->l4 == TS_L4_SCTP ? "SCTP" : "UDP"));
    record_hop(c, d, m);
    topo_hint_ua(c, &m->src, first_value(msg, SIP_H_USER_AGENT));
    /* a proxy keeps the Vias and Record-Routes it got and adds its own */
    d->nvia = count_values(msg, SIP_H_VIA);
    d->nrr = count_values(msg, SIP_H_RECORD_ROUTE);
    /* Correlation keys: configured headers, INVITE target node (timing). */
    unsigned nh = 0;
    for (size_t i = 0; i < c->cfg.ncorr_hdrs && nh < CALLS_HDR_VALUES; i++) {
        struct bv v = bv_trim(sip_hdr_get(msg, c->cfg.corr_hdrs[i]));
        if (!v.len)
            continue;
        str_set(d, DS_HV0 + (int)nh, v, CALLS_TEXT_LEN);
        if (!d->so[DS_HV0 + nh])
            continue;   /* no memory for it */
        corr_index_dlg(c, d, IX_HDR0 + (int)nh, corr_key_str(IX_HDR0, dlg_str(d, DS_HV0 + (int)nh)));
        nh++;
    }
    corr_index_dlg(c, d, IX_NODE, corr_key_addr(IX_NODE, &d->dst, 0));
    /* called number: its last 7 digits (calls_number_match's suffix rule),
     * or the user name in lower case */
    char nk[CALLS_USER_LEN];
    const char *callee = dlg_str(d, DS_ND + (d->so[DS_RURI] ? ND_RURI : ND_TO));
    size_t dl = strlen(callee);
    if (dl) {
        size_t tail = dl > 7 ? dl - 7 : 0;
        memcpy(nk, callee + tail, dl - tail + 1);
    } else {
        calls_cp(nk, sizeof nk, bv_cstr(dlg_str(d, d->so[DS_RURI] ? DS_RURI : DS_TO)));
        for (char *p = nk; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    if (nk[0])
        corr_index_dlg(c, d, IX_NUM, corr_key_str(IX_NUM, nk));
}

/* ---- transactions ---- */

/* Fingerprint pool entries: the hash's high 56 bits and a tag (transaction
 * slot, exact message or event, position in that ring). */
#define FP_TAG(slot, kind, pos) ((uint64_t)(((slot) << 5) | ((kind) << 4) | (pos)))
#define FP_HI(v) ((v) & ~(uint64_t)0xff)
#define FP_POOL_MAX (TS_CALLS_MAX_TXN * TS_CALLS_MAX_FP * 2)
_Static_assert(TS_CALLS_MAX_TXN <= 8 && TS_CALLS_MAX_FP <= 16, "FP_TAG bits");
_Static_assert(FP_POOL_MAX <= UINT8_MAX, "fp_n, fp_cap are uint8_t");
_Static_assert(DLG_FP_INLINE <= FP_POOL_MAX, "the inline pool is a start");
enum { FP_EXACT = 0, FP_EVENT = 1 };

static void fp_drop_txn(struct dlg *d, unsigned slot)
{
    unsigned j = 0;
    for (unsigned i = 0; i < d->fp_n; i++)
        if (((d->fp[i] >> 5) & 7) != slot)
            d->fp[j++] = d->fp[i];
    d->fp_n = (uint8_t)j;
}

/* v among the last TS_CALLS_MAX_FP values of that ring. */
static bool fp_has(const struct dlg *d, unsigned slot, unsigned kind, uint64_t v)
{
    uint64_t want = FP_HI(v) | FP_TAG(slot, kind, 0);
    for (unsigned i = 0; i < d->fp_n; i++)
        if ((d->fp[i] & ~(uint64_t)0xf) == want)
            return true;
    return false;
}

/* Ring of the last TS_CALLS_MAX_FP values; *n counts insertions. */
static void fp_add(struct dlg *d, unsigned slot, unsigned kind, uint8_t *n, uint64_t v)
{
    uint64_t tag = FP_TAG(slot, kind, *n % TS_CALLS_MAX_FP);
    *n = (uint8_t)(*n == UINT8_MAX ? TS_CALLS_MAX_FP : *n + 1);
    for (unsigned i = 0; i < d->fp_n; i++) {
        if ((d->fp[i] & 0xff) == tag) {
            d->fp[i] = FP_HI(v) | tag;
            return;
        }
    }
    if (d->fp_n == d->fp_cap) {
        unsigned cap = d->fp_cap * 2u;
        if (cap > FP_POOL_MAX)
            cap = FP_POOL_MAX;
        uint64_t *p = malloc(cap * sizeof *p);
        if (!p)
            return;
        memcpy(p, d->fp, d->fp_n * sizeof *p);
        if (d->fp != d->fp_in)
            free(d->fp);
        d->fp = p;
        d->fp_cap = (uint8_t)cap;
    }
    d->fp[d->fp_n++] = FP_HI(v) | tag;
}

static unsigned txn_get(struct dlg *d, uint32_t cseq, uint8_t method)
{
    for (unsigned i = 0; i < d->ntxn; i++)
        if (d->txn[i].cseq == cseq && d->txn[i].method == method)
            return i;
    unsigned i;
    if (d->ntxn < TS_CALLS_MAX_TXN) {
        i = d->ntxn++;
    } else {
        i = d->txn_next;
        d->txn_next = (uint8_t)((d->txn_next + 1) % TS_CALLS_MAX_TXN);
        fp_drop_txn(d, i);
    }
    memset(&d->txn[i], 0, sizeof d->txn[i]);
    d->txn[i].cseq = cseq;
    d->txn[i].method = method;
    return i;
}

/* ---- requests and responses ---- */

static void on_request(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                       const struct sip_msg *msg, const struct sip_nameaddr *from,
                       const struct sip_nameaddr *to, uint64_t ftag, const struct sip_via *via,
                       bool via_ok)
{
    bool from_caller = ftag == d->from_tag_h;
    if (first_value(msg, SIP_H_SESSION_EXPIRES).len)
        d->session_timer = true;
    switch (msg->method) {
    case SIP_M_INVITE:
        if (!d->invite_ns) {
            d->starting = true;   /* all evidence first, then levels 1..4 in order */
            leg_start(c, d, m, msg, from, to, via, via_ok);
            take_sdp(c, d, msg, true, false);
            take_session_id(c, d, msg);
            d->starting = false;
            corr_try(c, d);
        } else if (!d->answered && !to->tag.len && from_caller && msg->cseq != d->init_cseq) {
            /* a new attempt in the same Call-ID (after 401/407 or a failure) */
            if (d->final_status == 401 || d->final_status == 407)
                d->auth_challenged = true;
            d->init_cseq = msg->cseq;
            d->attempt_ns = m->ts_ns;
            d->prov_ns = d->ring_ns = 0;
            d->final_status = 0;
            d->so[DS_REASON] = 0;
            if (d->ended) {
                d->ended = false;
                d->end_ns = 0;
            }
            take_sdp(c, d, msg, true, false);
        } else if (msg->cseq != d->init_cseq || !from_caller) {
            d->reinvites++;
            take_sdp(c, d, msg, from_caller, true);
        }
        break;
    case SIP_M_ACK:
        if (msg->cseq == d->init_cseq && d->answered)
            d->acked = true;
        take_sdp(c, d, msg, from_caller, false);   /* late offer answer */
        break;
    case SIP_M_CANCEL:
        d->cancelled = true;
        if (!d->cancel_ns)
            d->cancel_ns = m->ts_ns;
        take_reason(d, msg);
        break;
    case SIP_M_BYE:
        if (!d->bye_ns) {
            d->bye_ns = m->ts_ns;
            take_reason(d, msg);
            if (c->mh.bye)
                c->mh.bye(c->mh.ctx, d->seq, m->ts_ns);
            epq_headers(c, d, msg, from_caller ? CALLS_PARTY_CALLER : CALLS_PARTY_CALLEE);
            dlg_end(c, d, m->ts_ns, from_caller ? CALLS_PARTY_CALLER : CALLS_PARTY_CALLEE);
            corr_mirror_end(c, d);
        }
        break;
    case SIP_M_UPDATE:
        take_sdp(c, d, msg, from_caller, d->answered);
        break;
    case SIP_M_PRACK:
        take_sdp(c, d, msg, from_caller, false);
        break;
    case SIP_M_REFER:
        d->transfer = true;
        break;
    case SIP_M_NOTIFY:
        if (bv_prefix_ci(first_value(msg, SIP_H_EVENT), "refer"))
            d->transfer = true;
        break;
    default:
        break;
    }
}

/* A To-tag of the initial INVITE's responses: distinct ones are forks. */
static void note_fork(struct dlg *d, uint64_t tt)
{
    for (unsigned i = 0; i < d->forks && i < TS_CALLS_MAX_FORKS; i++)
        if ((i == 0 ? d->fork_tag_h0 : d->ext->fork_tag_h[i - 1]) == tt)
            return;
    if (d->forks >= TS_CALLS_MAX_FORKS)
        return;
    if (d->forks == 0) {
        d->fork_tag_h0 = tt;
    } else {
        if (!d->ext && !(d->ext = calloc(1, sizeof *d->ext)))
            return;
        d->ext->fork_tag_h[d->forks - 1] = tt;
    }
    d->forks++;
}

/* Per hop, the final response its destination sent to the initial INVITE:
 * a relay may have tried several peers under one Call-ID. */
static void hop_final(struct dlg *d, const struct pkt_meta *m, const struct sip_msg *msg)
{
    if (msg->is_request || msg->status < 200 || msg->cseq_method != SIP_M_INVITE ||
        msg->cseq != d->init_cseq)
        return;
    for (unsigned i = 0; i < d->nhops; i++) {
        struct dlg_hop *hp = dlg_hop(d, i);
        if (!hp->final && addr_eq(&hp->dst, &m->src)) {
            hp->final = msg->status;
            hp->final_ns = m->ts_ns;
        }
    }
}

static void on_response(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                        const struct sip_msg *msg, uint64_t ftag, uint64_t tt)
{
    uint16_t st = msg->status;
    bool from_caller = ftag == d->from_tag_h;  /* request was the caller's */
    if (msg->cseq_method == SIP_M_INVITE && msg->cseq == d->init_cseq && from_caller) {
        if (tt && st > 100)
            note_fork(d, tt);
        hop_final(d, m, msg);
        if (st >= 180) {   /* what the answering node says it is */
            topo_hint_ua(c, &m->src, first_value(msg, SIP_H_SERVER));
            if (first_value(msg, SIP_H_MS_DIAGNOSTICS).len)
                topo_hint_msdiag(c, &m->src);
        }
        take_session_id(c, d, msg);
        if (!d->so[DS_SERVER]) {
            struct bv sv = bv_trim(first_value(msg, SIP_H_SERVER));
            str_set(d, DS_SERVER, sv.len ? sv : bv_trim(first_value(msg, SIP_H_USER_AGENT)),
                    CALLS_TEXT_LEN);
        }
        if (st < 200) {
            if (!d->prov_ns)
                d->prov_ns = m->ts_ns;
            if (st >= 180 && st < 190 && !d->ring_ns)
                d->ring_ns = m->ts_ns;
            take_sdp(c, d, msg, !from_caller, false);
        } else if (st < 300) {
            take_sdp(c, d, msg, !from_caller, false);
            if (!d->answered) {
                d->answered = true;
                d->answer_ns = m->ts_ns;
                if (c->mh.answered)
                    c->mh.answered(c->mh.ctx, d->seq, m->ts_ns);
                d->final_status = st;
                str_set(d, DS_REASON, msg->reason_phrase, CALLS_USER_LEN);
                if (d->ended) {   /* a 2xx after a failure on another hop wins */
                    d->ended = false;
                    d->end_ns = 0;
                }
                const char *cod = d->so[DS_CODECS_CALLEE] ? dlg_str(d, DS_CODECS_CALLEE)
                                                          : dlg_str(d, DS_CODECS_CALLER);
                d->codec = (uint8_t)calls_codec_of(cod);
                trunk_conc(c, d, +1, m->ts_ns);
            }
        } else {
            if (st != 401 && st != 407 && !d->err_status) {
                d->err_status = st;
                d->err_ns = m->ts_ns;
                d->err_src = m->src;
            }
            if (!d->answered && !d->final_status) {
                d->final_status = st;
                str_set(d, DS_REASON, msg->reason_phrase, CALLS_USER_LEN);
                take_reason(d, msg);
                dlg_end(c, d, m->ts_ns, CALLS_PARTY_NONE);
                corr_mirror_end(c, d);
            }
        }
        return;
    }
    if (msg->cseq_method == SIP_M_INVITE || msg->cseq_method == SIP_M_UPDATE ||
        msg->cseq_method == SIP_M_PRACK) {
        if (st >= 200 && st < 300)
            take_sdp(c, d, msg, !from_caller, false);
    } else if (msg->cseq_method == SIP_M_BYE && st >= 200 && d->bye_ns && !d->bye_ok_ns) {
        d->bye_ok_ns = m->ts_ns;
        /* the answer to the BYE comes from the other party */
        epq_headers(c, d, msg, from_caller ? CALLS_PARTY_CALLEE : CALLS_PARTY_CALLER);
    }
}

static void dlg_msg(struct calls *c, struct dlg *d, const struct pkt_meta *m,
                    const struct sip_msg *msg)
{
    struct sip_nameaddr ftmp, ttmp;
    struct sip_via vtmp;
    bool from_ok, to_ok, via_ok;
    const struct sip_nameaddr *from = sip_msg_nameaddr(msg, SIP_H_FROM, &ftmp, &from_ok);
    const struct sip_nameaddr *to = sip_msg_nameaddr(msg, SIP_H_TO, &ttmp, &to_ok);
    const struct sip_via *via = sip_msg_via(msg, &vtmp, &via_ok);
    uint8_t meth = (uint8_t)(msg->is_request ? msg->method : msg->cseq_method);
    uint16_t kind = msg->is_request ? (uint16_t)(1000 + meth) : msg->status;
    uint64_t tt = hash_bv(to->tag), ft = hash_bv(from->tag);
    if (!d->invite_ns && msg->is_request && meth == SIP_M_INVITE)
        d->from_tag_h = ft;   /* the first INVITE's sender is the caller */
    /* requests of the callee (re-INVITE, BYE) have their own CSeq space */
    uint8_t tmeth = (uint8_t)(meth | (ft == d->from_tag_h ? 0 : 0x80));

    /* exact message on this hop (retransmission) vs. the same event seen
     * on another hop (a proxy relaying the same Call-ID) */
    uint8_t eb[sizeof kind + sizeof msg->cseq + 1 + 2 * sizeof tt];
    memcpy(eb, &kind, sizeof kind);
    memcpy(eb + 2, &msg->cseq, sizeof msg->cseq);
    eb[6] = meth;
    memcpy(eb + 7, &tt, sizeof tt);
    memcpy(eb + 15, &ft, sizeof ft);
    uint64_t ev = ts_hash(eb, sizeof eb);
    uint8_t hb[2 * sizeof m->src + 2 * sizeof m->sport];
    memcpy(hb, &m->src, sizeof m->src);
    memcpy(hb + sizeof m->src, &m->dst, sizeof m->dst);
    memcpy(hb + 2 * sizeof m->src, &m->sport, sizeof m->sport);
    memcpy(hb + 2 * sizeof m->src + 2, &m->dport, sizeof m->dport);
    uint64_t fp = ts_hash_mix(ev, hb, sizeof hb);
    if (via->branch.len)
        fp = ts_hash_mix(fp, via->branch.p, via->branch.len);

    unsigned ti = txn_get(d, msg->cseq, tmeth);
    struct calls_txn *t = &d->txn[ti];
    if (fp_has(d, ti, FP_EXACT, fp)) {
        d->retrans++;
        TS_INC(c->st, CALLS_RETRANS);
        /* the callee repeats its 2xx until the ACK comes (RFC 3261 13.3.1.4) */
        if (!msg->is_request && msg->status >= 200 && msg->status < 300 &&
            meth == SIP_M_INVITE && msg->cseq == d->init_cseq && d->ok_retrans < UINT16_MAX)
            d->ok_retrans++;
        return;
    }
    fp_add(d, ti, FP_EXACT, &t->nfp, fp);
    if (fp_has(d, ti, FP_EVENT, ev)) {
        TS_INC(c->st, CALLS_HOP_COPIES);
        if (msg->is_request && meth == SIP_M_INVITE && msg->cseq == d->init_cseq)
            record_hop(c, d, m);
        else
            hop_final(d, m, msg);
        return;
    }
    fp_add(d, ti, FP_EVENT, &t->nev, ev);
    if (msg->is_request)
        on_request(c, d, m, msg, from, to, ft, via, via_ok);
    else
        on_response(c, d, m, msg, ft, tt);
}

/* A dialog's key: the Call-ID as stored (printable, cut to the field) and
 * its hash. */
static uint64_t callid_key(struct bv v, char cid[CALLS_TEXT_LEN], size_t *len)
{
    calls_cp(cid, CALLS_TEXT_LEN, v);
    *len = v.len < CALLS_TEXT_LEN - 1 ? v.len : CALLS_TEXT_LEN - 1;
    return ts_hash(cid, *len);
}

uint64_t calls_callid_hash(struct bv call_id)
{
    char cid[CALLS_TEXT_LEN];
    size_t len;
    return call_id.len ? callid_key(call_id, cid, &len) : 0;
}

void calls_prefetch_bucket(const struct calls *c, uint64_t h)
{
    htab_prefetch_bucket(&c->dlgs, h);
}

void calls_prefetch_dialog(const struct calls *c, uint64_t h)
{
    /* the whole record: a message reads fields all over it */
    htab_prefetch_entry(&c->dlgs, h, offsetof(struct dlg, n), sizeof(struct dlg));
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
    if (meth == SIP_M_PUBLISH && msg->is_request && msg->body.len) {
        /* a quality report about the leg of the Call-ID it names */
        struct vq_report r;
        if (epq_publish_report(c, msg, &r)) {
            char rcid[CALLS_TEXT_LEN];
            calls_cp(rcid, sizeof rcid, r.call_id);
            struct dlg *rd = r.call_id.len ? calls_dlg_find(c, rcid) : NULL;
            if (rd)
                epq_add(c, rd, &r, CALLS_EPQ_VQ_RTCPXR, CALLS_PARTY_NONE);
            else
                TS_INC(c->st, VQ_UNMATCHED);
        }
    }
    char cid[CALLS_TEXT_LEN];
    size_t cl;
    uint64_t h = callid_key(msg->call_id, cid, &cl);
    struct dlg *d = dlg_find_len(c, cid, cl, h);
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
        d = dlg_create(c, cid, cl, h);
        if (!d)
            return;
    }
    htab_touch(&c->dlgs, &d->n); /* out of the parked list too */
    d->touch = ++c->touches;
    if (m->ts_ns > d->last_ns)
        d->last_ns = m->ts_ns;
    dlg_msg(c, d, m, msg);
}

/* Learning: sides worked out again when something they depend on
 * changed; held calls are linked again once the topology converged (a
 * few dozen legs, or TS_TOPO_CONVERGE_S), and unlinked legs still in memory
 * whenever a new B2BUA pair is learned after that. */
static void topo_step(struct calls *c, uint64_t now, bool end)
{
    struct topo *t = &c->topo;
    uint64_t legs = c->cfg.learn_hold_legs, secs = c->cfg.learn_hold_s;
    bool conv = !t->converged &&
                (end || t->legs >= legs || (t->legs && now >= t->first_ns + secs * NS_PER_S));
    if (topo_update(c)) {
        c->class_epoch++;
        trunk_config_changed(c);
    }
    if (conv || (t->converged && t->changed)) {
        t->converged = true;
        t->changed = false;
        corr_retry_all(c);
        if (topo_update(c)) {
            c->class_epoch++;
            trunk_config_changed(c);
        }
        relink_all(c);   /* calls emitted apart before it was learned */
    }
}

/* ---- ICMP destination unreachable ---- */

/* Call-ID of a quoted SIP request, only when its line is whole ("Call-ID"
 * or the compact "i", RFC 3261 7.3.3). */
static bool quoted_call_id(struct bv q, struct bv *out)
{
    size_t i = 0;
    while (i < q.len) {
        size_t e = i;
        while (e < q.len && bv_at(q, e) != '\n')
            e++;
        if (e >= q.len)
            return false;   /* the quote ends inside this line */
        struct bv line = bv_make((const char *)q.p + i, e - i);
        size_t colon = 0;
        while (colon < line.len && bv_at(line, colon) != ':')
            colon++;
        struct bv name = bv_trim(bv_make((const char *)line.p, colon));
        if (colon < line.len && (bv_eq_ci(name, "call-id") || bv_eq_ci(name, "i"))) {
            *out = bv_trim(bv_from(line, colon + 1));
            return out->len > 0;
        }
        if (line.len <= 1)
            return false;   /* end of the headers */
        i = e + 1;
    }
    return false;
}

static const char *unreach_name(uint8_t ipver, uint8_t code)
{
    if (ipver == 6) {
        static const char *const v6[] = { "no route", "administratively prohibited",
                                          "beyond scope", "address unreachable",
                                          "port unreachable" };
        return code < 5 ? v6[code] : "destination unreachable";
    }
    static const char *const v4[] = { "network unreachable", "host unreachable",
                                      "protocol unreachable", "port unreachable" };
    if (code < 4)
        return v4[code];
    return (code == 9 || code == 10 || code == 13) ? "administratively prohibited"
                                                   : "destination unreachable";
}

void calls_unreach(struct calls *c, const struct pkt_meta *m, const struct pkt_meta *q,
                   uint8_t code, struct bv quoted)
{
    if (!c || !m || !q || !bv_prefix_ci(quoted, "INVITE "))
        return;
    if (m->ts_ns > c->now)
        c->now = m->ts_ns;
    struct bv cidv;
    struct dlg *d = NULL;
    if (quoted_call_id(quoted, &cidv)) {
        char cid[CALLS_TEXT_LEN];
        size_t cl;
        uint64_t h = callid_key(cidv, cid, &cl);
        d = dlg_find_len(c, cid, cl, h);
    }
    if (!d)
        d = corr_find_sent(c, q);
    if (!d || !addr_eq(&d->src, &q->src) || !addr_eq(&d->dst, &q->dst)) {
        TS_INC(c->st, CALLS_UNREACH_UNMATCHED);
        return;
    }
    if (d->answered || d->final_status || d->ended || d->unreach)
        return;   /* decided already (a retransmission's ICMP comes later) */
    TS_INC(c->st, CALLS_UNREACH);
    char why[CALLS_USER_LEN], a[64];
    snprintf(why, sizeof why, "ICMP %s from %s", unreach_name(q->ipver, code),
             ts_addr_str(&m->src, a, sizeof a));
    d->unreach = true;
    str_set(d, DS_REASON, bv_cstr(why), CALLS_USER_LEN);
    if (!d->err_ns) {
        d->err_ns = m->ts_ns;
        d->err_src = d->dst;
    }
    d->last_ns = m->ts_ns > d->last_ns ? m->ts_ns : d->last_ns;
    dlg_end(c, d, m->ts_ns, CALLS_PARTY_NONE);
}

void calls_tick(struct calls *c, uint64_t now)
{
    if (!c)
        return;
    if (now > c->now)
        c->now = now;
    topo_step(c, now, false);
    uint64_t nf = (uint64_t)c->cfg.no_final_timeout_s * NS_PER_S;
    uint64_t nb = (uint64_t)c->cfg.no_bye_timeout_s * NS_PER_S;
    uint32_t wms = c->cfg.corr_window_ms > c->cfg.linger_ms ? c->cfg.corr_window_ms
                                                            : c->cfg.linger_ms;
    uint64_t wait = (uint64_t)wms * NS_PER_MS;
    uint64_t min_age = wait < nf ? wait : nf;
    if (nb < min_age)
        min_age = nb;
    /* Parked dialogs whose timeout came go back to be walked. */
    for (int l = PARK_ANSWERED; l <= PARK_RINGING; l++)
        while (c->parked[l].lnext != &c->parked[l]) {
            struct dlg *d = node_dlg(c->parked[l].lnext);
            if ((l == PARK_ANSWERED ? d->last_ns + nb : d->invite_ns + nf) > now)
                break;
            unpark(c, d);
        }
    /* Oldest first, in batches of 64 groups. After a batch the walk goes
     * on where it stopped: the dialogs before that point are settled for
     * this tick (their timeouts were applied, and their group was not done
     * when its last member there was seen, nor can it become done now). */
    struct ht_node *nd = c->dlgs.lru.lnext, *next;
    for (;;) {
        struct dlg *batch[64];
        unsigned n = 0;
        for (; nd != &c->dlgs.lru && n < 64; nd = next) {
            next = nd->lnext;
            struct dlg *d = ts_container_of(nd, struct dlg, n);
            if (d->last_ns + min_age > now) {
                nd = &c->dlgs.lru;   /* the rest is younger */
                break;
            }
            if (!d->ended) {
                if (!d->answered && d->invite_ns + nf <= now) {
                    d->timed_out = true;
                    TS_INC(c->st, CALLS_TIMEOUTS);
                    dlg_end(c, d, d->last_ns, CALLS_PARTY_NONE);
                } else if (d->answered && d->last_ns + nb <= now) {
                    d->timed_out = true;
                    TS_INC(c->st, CALLS_TIMEOUTS);
                    dlg_end(c, d, d->last_ns, CALLS_PARTY_TIMEOUT);
                } else {
                    /* a call in progress, ringing, or whose end was not
                     * captured: nothing to do before its next message or
                     * its timeout (minutes or hours away); walking it every
                     * second would cost a cache miss per open leg */
                    park(c, d, d->answered ? PARK_ANSWERED : PARK_RINGING);
                    continue;
                }
            } else if (group_open(d)) {
                /* ended, but another leg of its call is up: that leg's
                 * own visit emits the call once it ends */
                park(c, d, PARK_WAITING);
                continue;
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
        /* resume at the first dialog the batch does not take with it */
        for (; nd != &c->dlgs.lru; nd = nd->lnext) {
            struct dlg *root = corr_root(ts_container_of(nd, struct dlg, n));
            bool in = false;
            for (unsigned i = 0; i < n && !in; i++)
                in = batch[i] == root;
            if (!in)
                break;
        }
        for (unsigned i = 0; i < n; i++)
            emit(c, batch[i], CALLS_PARTY_TIMEOUT);
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
    topo_step(c, c->now, true);
    unpark_all(c);
    while ((n = htab_oldest(&c->dlgs)) != NULL)
        emit(c, ts_container_of(n, struct dlg, n), CALLS_PARTY_ACTIVE);
    reg_tick(c, UINT64_MAX);
    summary_reclassify(c);
}

/* ---- accessors ---- */

const struct calls_config *calls_config_of(const struct calls *c) { return &c->cfg; }

void calls_set_config(struct calls *c, const struct calls_config *cfg)
{
    struct calls_config *o = &c->cfg; /* cfg may be o itself: memmove */
    memmove(o->nets, cfg->nets, sizeof o->nets);
    o->nets_set = cfg->nets_set;
    o->nnets = cfg->nnets < TS_CALLS_MAX_NETS ? cfg->nnets : TS_CALLS_MAX_NETS;
    memmove(o->corr_hdrs, cfg->corr_hdrs, sizeof o->corr_hdrs);
    o->ncorr_hdrs = cfg->ncorr_hdrs < TS_CALLS_MAX_CORR_HDRS ? cfg->ncorr_hdrs
                                                             : TS_CALLS_MAX_CORR_HDRS;
    memmove(o->trunk_names, cfg->trunk_names, sizeof o->trunk_names);
    o->ntrunk_names = cfg->ntrunk_names < TS_CALLS_MAX_TRUNK_NAMES ? cfg->ntrunk_names
                                                                   : TS_CALLS_MAX_TRUNK_NAMES;
    o->corr_window_ms = cfg->corr_window_ms;
    o->learn_hold_legs = cfg->learn_hold_legs;
    o->learn_hold_s = cfg->learn_hold_s;
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
    c->class_epoch++;
    trunk_config_changed(c);
}
size_t calls_count(const struct calls *c) { return c ? c->kept.n : 0; }
const struct calls_call *calls_get(const struct calls *c, size_t i)
{
    return c ? kept_get(c, i) : NULL;
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

size_t calls_dialogs_parked(const struct calls *c)
{
    size_t n = 0;
    for (int l = 0; c && l < PARK_N; l++)
        for (const struct ht_node *p = c->parked[l].lnext; p != &c->parked[l]; p = p->lnext)
            n++;
    return n;
}
size_t calls_pending_held(const struct calls *c) { return c ? c->pend.count : 0; }

static const struct dlg *root_of(const struct dlg *d)
{
    while (d->uf_parent != d)
        d = d->uf_parent;
    return d;
}

/* The oldest answered leg still up of its call stands for the call. */
static bool first_up(const struct dlg *d)
{
    const struct dlg *x = d->grp_next;
    for (unsigned guard = 0; x != d && guard < TS_CALLS_MAX_LEGS; guard++, x = x->grp_next)
        if (x->answered && !x->ended && x->seq < d->seq)
            return false;
    return true;
}

void calls_open_legs(const struct calls *c, calls_open_fn fn, void *ctx,
                     struct calls_open_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    struct calls_leg leg;
    for (int l = -1; l < PARK_N; l++) {
        const struct ht_node *s = l < 0 ? &c->dlgs.lru : &c->parked[l];
        for (const struct ht_node *n = s->lnext; n != s; n = n->lnext) {
            const struct dlg *d = ts_container_of(n, struct dlg, n);
            if (d->ended)
                continue;
            enum calls_open_state st = d->answered ? CALLS_OPEN_UP
                                       : d->prov_ns ? CALLS_OPEN_RINGING
                                                    : CALLS_OPEN_TRYING;
            if (st == CALLS_OPEN_UP) {
                out->legs_up++;
                out->calls_up += first_up(d);
            } else if (st == CALLS_OPEN_RINGING) {
                out->legs_ringing++;
            } else {
                out->legs_trying++;
            }
            if (fn) {
                dlg_leg(d, &leg);
                fn(ctx, &leg, st, root_of(d)->seq);
            }
        }
    }
}
uint64_t calls_stat(const struct calls *c, enum ts_stat s)
{
    return (c && (unsigned)s < TS_STAT_MAX) ? c->st->v[s] : 0;
}
