/* Legs into calls: evidence in order RFC 7989 Session-ID, configured
 * correlation headers, shared SDP media, then timing + numbers; union-find
 * groups; call outcome, direction and failure attribution at emission. */
#include "calls_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"

#define MAX_CANDS 32

/* Confidence of each evidence (what a wrong link would need to happen). */
#define CONF_SESSION_ID 0.99f  /* same uuid: only a broken UA repeats one */
#define CONF_HEADER 0.95f      /* the node wrote the other Call-ID on purpose */
#define CONF_MEDIA 0.80f       /* same addr:port at once: shared media path */
#define CONF_TIMING 0.55f      /* +0.05 per exact number match, +0.05 when the
                                * INVITE leaves the address the other reached */
#define TIMER_B_NS (64ull * 500 * NS_PER_MS) /* 64*T1 (RFC 3261 17.1.1.2) */
/* The mirror rule: a relay sends its INVITE on within MIRROR_INVITE_NS of
 * the one it got, and relays each response, BYE and CANCEL within
 * MIRROR_NS (a relay takes milliseconds; two independent calls' answers,
 * rings and hang-ups are seconds apart). */
#define MIRROR_INVITE_NS (200 * NS_PER_MS)
#define MIRROR_NS (100 * NS_PER_MS)

void corr_init_dlg(struct dlg *d)
{
    d->uf_parent = d;
    d->grp_next = d;
    d->grp_size = 1;
    d->ev_to = NULL;
    for (int i = 0; i < IX_NODE; i++) {
        d->ix[i].d = d;
        d->ix[i].hnext = NULL;
        d->ix[i].pprev = NULL;
    }
    for (int i = 0; i < IX_N - IX_NODE; i++) {
        d->tix[i].ix.d = d;
        d->tix[i].ix.hnext = NULL;
        d->tix[i].ix.pprev = NULL;
    }
}

uint64_t corr_key_str(int kind, const char *s)
{
    uint8_t k = (uint8_t)kind;
    return ts_hash_mix(ts_hash(&k, 1), s, strlen(s));
}

uint64_t corr_key_addr(int kind, const struct ts_addr *a, uint16_t port)
{
    uint8_t k = (uint8_t)kind;
    uint64_t h = ts_hash(&k, 1);
    h = ts_hash_mix(h, &a->family, 1);
    h = ts_hash_mix(h, a->a, sizeof a->a);
    return ts_hash_mix(h, &port, sizeof port);
}

static void ix_remove(struct ix_ent *e)
{
    if (!e->pprev)
        return;
    *e->pprev = e->hnext;
    if (e->hnext)
        e->hnext->pprev = e->pprev;
    e->hnext = NULL;
    e->pprev = NULL;
}

/* Newest first in its bucket: lookups see the latest legs first. */
static void ix_insert(struct ix_ent **b, struct ix_ent *e, uint64_t key)
{
    ix_remove(e);
    e->key = key;
    e->hnext = *b;
    if (*b)
        (*b)->pprev = &e->hnext;
    e->pprev = b;
    *b = e;
}

void corr_index_dlg(struct calls *c, struct dlg *d, int slot, uint64_t key)
{
    if (slot >= IX_NODE) {
        struct tix_ent *e = &d->tix[slot - IX_NODE];
        e->invite_ns = d->invite_ns;
        e->seq = d->seq;
        ix_insert(&c->tix.b[key & c->tix.mask], &e->ix, key);
        return;
    }
    ix_insert(&c->ix.b[key & c->ix.mask], &d->ix[slot], key);
}

static void unindex_slot(struct calls *c, struct dlg *d, int slot)
{
    (void)c;
    ix_remove(slot >= IX_NODE ? &d->tix[slot - IX_NODE].ix : &d->ix[slot]);
}

void corr_unindex_dlg(struct calls *c, struct dlg *d)
{
    for (int i = 0; i < IX_N; i++)
        unindex_slot(c, d, i);
}

void corr_release(struct calls *c, struct dlg *d)
{
    corr_unindex_dlg(c, d);
    dlg_free(c, d);
}

struct dlg *corr_root(struct dlg *d)
{
    struct dlg *r = d;
    while (r->uf_parent != r)
        r = r->uf_parent;
    while (d->uf_parent != r) {   /* path compression */
        struct dlg *next = d->uf_parent;
        d->uf_parent = r;
        d = next;
    }
    return r;
}

static bool older(const struct dlg *x, const struct dlg *y)
{
    return x->invite_ns < y->invite_ns || (x->invite_ns == y->invite_ns && x->seq < y->seq);
}

static bool same_site(const struct dlg *x, const struct dlg *y)
{
    if (!x->so[DS_SITE] || !y->so[DS_SITE])
        return x->so[DS_SITE] == y->so[DS_SITE];   /* "" only equals "" */
    return !strcmp(dlg_str(x, DS_SITE), dlg_str(y, DS_SITE));
}

/* Legs seen by different sensors: their clocks differ by up to
 * TS_SITE_SKEW_MS, so arrival order says which came first. */
static bool older_any_site(const struct dlg *x, const struct dlg *y)
{
    return !same_site(x, y) ? x->seq < y->seq : older(x, y);
}

/* newer gets the evidence; false when the groups are already one or too big. */
static bool link(struct calls *c, struct dlg *newer, struct dlg *old, uint8_t ev, float conf)
{
    struct dlg *a = corr_root(newer), *b = corr_root(old);
    if (a == b || newer->ev_to)
        return false;
    if (a->grp_size + b->grp_size > TS_CALLS_MAX_LEGS) {
        TS_INC(c->st, CALLS_LINK_REFUSED);
        return false;
    }
    newer->ev_to = old;
    newer->ev_type = ev;
    newer->ev_conf = conf;
    if (a->grp_size < b->grp_size) {
        struct dlg *t = a;
        a = b;
        b = t;
    }
    b->uf_parent = a;
    a->grp_size = (uint8_t)(a->grp_size + b->grp_size);
    struct dlg *t = a->grp_next;   /* splice the two circular lists */
    a->grp_next = b->grp_next;
    b->grp_next = t;
    TS_INC(c->st, CALLS_LINKS);
    /* exact evidence between INVITEs close in time: one B2BUA relayed it
     * (timing links took their evidence when the leg started) */
    if ((ev == CALLS_EV_SESSION_ID || ev == CALLS_EV_HEADER) && !newer->topo_relayed &&
        newer->invite_ns >= old->invite_ns &&
        newer->invite_ns - old->invite_ns <= (uint64_t)c->cfg.corr_window_ms * NS_PER_MS &&
        !addr_eq(&old->src, &newer->src)) {
        newer->topo_relayed = true;
        topo_relay(c, &old->dst, &newer->src, &old->src, &newer->dst);
    }
    return true;
}

/* Legs whose index slot in [lo, hi] has this key, other than d. */
static unsigned lookup(struct calls *c, uint64_t key, int lo, int hi, const struct dlg *d,
                       struct dlg **out, int *slots)
{
    unsigned n = 0;
    for (const struct ix_ent *e = c->ix.b[key & c->ix.mask]; e && n < MAX_CANDS; e = e->hnext) {
        if (e->key != key)
            continue;
        int slot = (int)(e - e->d->ix);
        if (slot < lo || slot > hi || e->d == d)
            continue;
        slots[n] = slot;
        out[n++] = e->d;
    }
    return n;
}

/* Timing index entries with this key, other than d's (the first MAX_CANDS). */
static unsigned lookup_timing(struct calls *c, uint64_t key, const struct dlg *d,
                              const struct tix_ent **out)
{
    unsigned n = 0;
    for (const struct ix_ent *e = c->tix.b[key & c->tix.mask]; e && n < MAX_CANDS;
         e = e->hnext) {
        if (e->key != key || e->d == d)
            continue;
        out[n++] = ts_container_of(e, struct tix_ent, ix);
    }
    return n;
}

/* Levels 1 and 2: exact keys. Prefer the closest predecessor (its INVITE
 * went to the node this leg's INVITE came from, else the latest one);
 * newer unlinked legs holding the same key are linked to d. */
static bool link_exact(struct calls *c, struct dlg *d, struct dlg **cand, unsigned n, uint8_t ev,
                       float conf)
{
    struct dlg *best = NULL;
    int best_score = 0;
    bool linked = false;
    for (unsigned i = 0; i < n; i++) {
        struct dlg *x = cand[i];
        if (corr_root(x) == corr_root(d) || !x->invite_ns)
            continue;
        if (older(x, d)) {
            if (d->ev_to)
                continue;
            int score = addr_eq(&x->dst, &d->src) ? 2 : 1;
            if (score > best_score || (score == best_score && older(best, x))) {
                best = x;
                best_score = score;
            }
        } else if (!x->ev_to) {
            linked |= link(c, x, d, ev, conf);
        }
    }
    if (best)
        linked |= link(c, d, best, ev, conf);
    return linked;
}

/* calls_number_match() of identity i of x and j of d, with the digit
 * lengths kept at leg start. */
static int num_match(const struct dlg *x, int i, const struct dlg *d, int j)
{
    size_t la = x->nd_len[i], lb = d->nd_len[j];
    if (la && lb) {
        /* both rules below need the last min(7, length) digits equal */
        if (x->nd_tail[i] != d->nd_tail[j] || (la != lb && (la < 7 || lb < 7)))
            return 0;
        const char *a = dlg_str(x, DS_ND + i), *b = dlg_str(d, DS_ND + j);
        if (la == lb)
            return memcmp(a, b, la) == 0 ? 2 : 0;
        const char *lng = la > lb ? a : b, *sht = la > lb ? b : a;
        size_t ls = la > lb ? lb : la, ll = la > lb ? la : lb;
        return (ls >= 7 && memcmp(lng + (ll - ls), sht, ls) == 0) ? 1 : 0;
    }
    if (la || lb)
        return 0;
    return calls_number_match(dlg_str(x, DS_FROM + i), "", dlg_str(d, DS_FROM + j), "");
}

/* Best match between two numbers of x (fields i0, i1) and two of d, using
 * the digits normalised at leg start. */
static int num_best(const struct dlg *x, int i0, int i1, const struct dlg *d)
{
    const int fa[2] = { i0, i1 };
    int best = 0;
    for (int i = 0; i < 2; i++) {
        if (!x->so[DS_FROM + fa[i]])
            continue;
        for (int j = 0; j < 2; j++) {
            if (!d->so[DS_FROM + fa[j]])
                continue;
            int m = num_match(x, fa[i], d, fa[j]);
            if (m > best)
                best = m;
        }
    }
    return best;
}

static void ambiguous(struct calls *c, struct dlg *d)
{
    if (!d->ambig) {
        d->ambig = true;   /* counted once per leg */
        TS_INC(c->st, CALLS_AMBIGUOUS);
    }
}

/* Levels 3 and 4: link to the single best group; 1 linked, 0 nothing,
 * -1 two groups equally good (not guessed). */
static int link_fuzzy(struct calls *c, struct dlg *d, struct dlg **cand, const int *score,
                      unsigned n, uint8_t ev, float conf_base)
{
    int best = 0;
    for (unsigned i = 0; i < n; i++)
        if (score[i] > best)
            best = score[i];
    if (best <= 0)
        return 0;
    struct dlg *pick = NULL, *root = NULL;
    bool several = false;
    for (unsigned i = 0; i < n; i++) {
        if (score[i] != best)
            continue;
        struct dlg *r = corr_root(cand[i]);
        if (root && r != root)
            several = true;
        root = r;
        /* the adjacent leg: its INVITE reached this leg's source, else the latest */
        bool node = addr_eq(&cand[i]->dst, &d->src);
        bool pnode = pick && addr_eq(&pick->dst, &d->src);
        if (!pick || (node && !pnode) || (node == pnode && older(pick, cand[i])))
            pick = cand[i];
    }
    if (several) {
        ambiguous(c, d);
        return -1;
    }
    /* timing score: 2 * (number agreement 2..4) + node match */
    float conf = conf_base +
                 (ev == CALLS_EV_TIMING ? 0.05f * (float)(best / 2 - 2 + best % 2) : 0.0f);
    return link(c, d, pick, ev, conf) ? 1 : 0;
}

/* The oldest leg of x's group: the one its caller sent. */
static const struct dlg *group_first(struct dlg *x)
{
    const struct dlg *first = x;
    const struct dlg *y = x->grp_next;
    for (unsigned guard = 0; y != x && guard < TS_CALLS_MAX_LEGS; guard++, y = y->grp_next)
        if (older(y, first))
            first = y;
    return first;
}

/* By number alone, x -> d must look like a relay through one multi-homed
 * node: x reached one side of the enterprise edge and d left from the
 * other, and x's call had not crossed the edge before (it started on the
 * side x ends on), or both are SBC addresses; d does not go back where x
 * came from; and d does not come from the node that started x's call (a
 * redial or a twin call, not a relay). */
static bool other_side(const struct calls *c, struct dlg *x, const struct dlg *d)
{
    const struct dlg *first = group_first(x);
    bool xin = calls_config_internal(&c->cfg, &x->dst);
    bool edge = (xin != calls_config_internal(&c->cfg, &d->src) &&
                 xin == calls_config_internal(&c->cfg, &first->src)) ||
                (trunk_is_sbc(c, &x->dst) && trunk_is_sbc(c, &d->src)) ||
                topo_same_node(c, &x->dst, &d->src);
    return edge && !addr_eq(&x->src, &d->dst) && !addr_eq(&first->src, &d->src);
}

/* Both INVITEs on the same socket pair: a relay sends the new leg
 * elsewhere, so this is just the next call between the same two hosts. */
static bool same_path(const struct dlg *x, const struct dlg *d)
{
    return addr_eq(&x->src, &d->src) && addr_eq(&x->dst, &d->dst) &&
           x->sport == d->sport && x->dport == d->dport;
}

static void topo_scan(struct calls *c, struct dlg *d);

static bool refused(const struct dlg *x)
{
    return !x->answered &&
           (x->cancelled || x->timed_out ||
            (x->final_status >= 300 && x->final_status != 401 && x->final_status != 407));
}

/* d is a failover of x: the node that sent x (refused by its peer with an
 * error, cancelled or left unanswered) sends the call again, within the
 * window after x ended (or while x still rings, when x was cancelled), and
 * the leg that brought the call to that node is still waiting for it. */
static bool failover_of(struct calls *c, struct dlg *x, const struct dlg *d, uint64_t win)
{
    if (!addr_eq(&x->src, &d->src) || same_path(x, d) || x->invite_ns > d->invite_ns)
        return false;
    if (!refused(x) && !(x->final_status == 0 && x->ended == false && x->prov_ns == 0))
        return false;
    if (x->ended && (x->end_ns > d->invite_ns || x->end_ns + win < d->invite_ns))
        return false;
    if (!x->ended && !x->cancelled && d->invite_ns < x->invite_ns + win)
        return false;   /* parallel, not a failover: the relay rules decide */
    if (!num_best(x, ND_RURI, ND_TO, d) || !num_best(x, ND_FROM, ND_PAI, d))
        return false;
    struct dlg *y = x->grp_next;
    for (unsigned g = 0; y != x && g < TS_CALLS_MAX_LEGS; g++, y = y->grp_next)
        /* as things stood when d was sent (a retry runs later) */
        if ((!y->answer_ns || y->answer_ns > d->invite_ns) &&
            (!y->ended || y->end_ns > d->invite_ns) && older(y, x) &&
            (addr_eq(&y->dst, &d->src) || topo_same_node(c, &y->dst, &d->src)))
            return true;
    return false;
}

/* d joined a call in which its node already sent the call elsewhere and
 * was refused: both peers are alternatives (carriers, typically). */
static void note_failover(struct calls *c, struct dlg *d)
{
    struct dlg *y = d->grp_next;
    for (unsigned g = 0; y != d && g < TS_CALLS_MAX_LEGS; g++, y = y->grp_next)
        if (addr_eq(&y->src, &d->src) && !addr_eq(&y->dst, &d->dst) && refused(y) &&
            older(y, d)) {
            TS_INC(c->st, CALLS_FAILOVERS);
            topo_hint_failover(c, &y->dst, &d->dst);
            return;
        }
}

void corr_try(struct calls *c, struct dlg *d)
{
    struct dlg *cand[MAX_CANDS];
    int slots[MAX_CANDS], score[MAX_CANDS];
    unsigned n;
    if (!d->invite_ns)
        return;
    if (!d->topo_done)
        topo_scan(c, d);
    /* 1: RFC 7989 Session-ID, either uuid, order-free */
    for (int k = 0; k < 2; k++) {
        if (!d->so[DS_SID0 + k])
            continue;
        const char *sid = dlg_str(d, DS_SID0 + k);
        const struct ix_ent *own = &d->ix[IX_SID0 + k];
        n = lookup(c, own->pprev ? own->key : corr_key_str(IX_SID0, sid), IX_SID0, IX_SID1, d,
                   cand, slots);
        unsigned m = 0;
        for (unsigned i = 0; i < n; i++)
            if (!strcmp(dlg_str(cand[i], DS_SID0 + slots[i] - IX_SID0), sid))
                cand[m++] = cand[i];
        if (link_exact(c, d, cand, m, CALLS_EV_SESSION_ID, CONF_SESSION_ID))
            return;
    }
    /* 2: a correlation header names the other leg's Call-ID, or both legs
     * carry the same value */
    for (int k = 0; k < CALLS_HDR_VALUES; k++) {
        if (!d->so[DS_HV0 + k])
            continue;
        const char *hv = dlg_str(d, DS_HV0 + k);
        unsigned m = 0;
        struct dlg *x = calls_dlg_find(c, hv);
        if (x && x != d)
            cand[m++] = x;
        struct dlg *tmp[MAX_CANDS];
        const struct ix_ent *own = &d->ix[IX_HDR0 + k];
        n = lookup(c, own->pprev ? own->key : corr_key_str(IX_HDR0, hv), IX_HDR0, IX_HDR0 + 1, d,
                   tmp, slots);
        for (unsigned i = 0; i < n && m < MAX_CANDS; i++)
            if (!strcmp(dlg_str(tmp[i], DS_HV0 + slots[i] - IX_HDR0), hv))
                cand[m++] = tmp[i];
        if (link_exact(c, d, cand, m, CALLS_EV_HEADER, CONF_HEADER))
            return;
    }
    n = lookup(c, d->cid_key, IX_HDR0, IX_HDR0 + 1, d, cand, slots);
    if (n && link_exact(c, d, cand, n, CALLS_EV_HEADER, CONF_HEADER))
        return;
    if (d->ev_to)
        return;
    /* 3: shared media address:port, legs alive at the same time */
    {
        unsigned m = 0;
        for (unsigned k = 0; k < d->nmedia && m < MAX_CANDS; k++) {
            struct dlg *tmp[MAX_CANDS];
            n = lookup(c, corr_key_addr(IX_MEDIA0, &d->media[k].addr, d->media[k].port),
                       IX_MEDIA0, IX_MEDIA0 + TS_CALLS_MAX_MEDIA - 1, d, tmp, slots);
            for (unsigned i = 0; i < n && m < MAX_CANDS; i++) {
                struct dlg *x = tmp[i];
                const struct media_ep *ep = &x->media[slots[i] - IX_MEDIA0];
                if (ep->port != d->media[k].port || !addr_eq(&ep->addr, &d->media[k].addr))
                    continue;
                if (!older(x, d) || corr_root(x) == corr_root(d))
                    continue;
                if (x->ended && x->end_ns < d->invite_ns)
                    continue;   /* an earlier call that reused the port */
                if (same_path(x, d))
                    continue;
                /* a port reused by another call while this one is up (a
                 * busy relay's pool): the called numbers must agree */
                if ((x->nd_len[ND_RURI] || x->nd_len[ND_TO]) &&
                    (d->nd_len[ND_RURI] || d->nd_len[ND_TO]) && !num_best(x, ND_RURI, ND_TO, d))
                    continue;
                cand[m] = x;
                score[m++] = 1;
            }
        }
        if (m && link_fuzzy(c, d, cand, score, m, CALLS_EV_MEDIA, CONF_MEDIA) != 0)
            return;   /* linked, or ambiguous at level 3: do not guess lower */
    }
    /* 4: an INVITE reached a node (or was sent to the same called number)
     * just before, and the calling and called numbers agree. A multi-homed
     * B2BUA sends from another address than it was reached on, so the
     * number index finds those; reaching this very address scores higher.
     * A node that re-sends a call another peer refused or left unanswered
     * (failover) is found by its failed leg. */
    {
        uint64_t win = (uint64_t)c->cfg.corr_window_ms * NS_PER_MS;
        const struct tix_ent *tmp[2][MAX_CANDS];
        unsigned nk[2];
        const struct tix_ent *num = &d->tix[IX_NUM - IX_NODE];
        nk[0] = lookup_timing(c, corr_key_addr(IX_NODE, &d->src, 0), d, tmp[0]);
        nk[1] = num->ix.pprev ? lookup_timing(c, num->ix.key, d, tmp[1]) : 0;
        unsigned m = 0, mf = 0;
        struct dlg *fcand[MAX_CANDS];
        int fscore[MAX_CANDS];
        bool hold = !topo_converged(c);
        for (int k = 0; k < 2; k++) {
            for (unsigned i = 0; i < nk[k] && m < MAX_CANDS; i++) {
                const struct tix_ent *e = tmp[k][i];
                struct dlg *x = e->ix.d;
                /* newer legs, and those out of the window, by the entry's
                 * copies alone (one site: its order is the INVITE time) */
                bool one_site = !c->any_site;
                if (one_site && !(e->invite_ns < d->invite_ns ||
                                  (e->invite_ns == d->invite_ns && e->seq < d->seq)))
                    continue;
                bool node = addr_eq(&x->dst, &d->src);
                if ((k == 0 && !node) || (!one_site && !older_any_site(x, d)))
                    continue;
                /* the window widens by the clock skew between sensors */
                uint64_t skew = (uint64_t)TS_SITE_SKEW_MS * NS_PER_MS;
                if (k == 1 && failover_of(c, x, d, win)) {
                    if (mf < MAX_CANDS && corr_root(x) != corr_root(d)) {
                        fcand[mf] = x;
                        fscore[mf++] = 1;
                    }
                    continue;
                }
                if (e->invite_ns + win + skew < d->invite_ns) {
                    /* too old for later legs; while learning, and while a
                     * leg still rings (its node may fail over), kept */
                    if (!hold && (k == 0 || x->answered ||
                                  (x->ended && x->end_ns + win + skew < d->invite_ns)))
                        unindex_slot(c, x, k == 0 ? IX_NODE : IX_NUM);
                    continue;
                }
                if (e->invite_ns + win < d->invite_ns && (one_site || same_site(x, d)))
                    continue;
                if (corr_root(x) == corr_root(d))
                    continue;
                /* a relay sends the new INVITE before its own leg is answered
                 * or has ended, and to somewhere else */
                if (same_path(x, d))
                    continue;
                if (x->answer_ns && x->answer_ns < d->invite_ns)
                    continue;
                if (x->ended && x->end_ns < d->invite_ns)
                    continue;
                /* by number alone: another INVITE from the node that started
                 * that call is a new attempt (a redial, a twin), not a relay */
                if (!node && !other_side(c, x, d))
                    continue;
                bool dup = false;
                for (unsigned j = 0; j < m; j++)
                    dup |= cand[j] == x;
                if (dup)
                    continue;
                int ce = num_best(x, ND_RURI, ND_TO, d);
                int cs = ce ? num_best(x, ND_FROM, ND_PAI, d) : 0;
                if (!cs || !ce)
                    continue;
                cand[m] = x;
                score[m++] = 2 * (cs + ce) + (node ? 1 : 0);
            }
        }
        if (m) {
            if (link_fuzzy(c, d, cand, score, m, CALLS_EV_TIMING, CONF_TIMING) > 0)
                note_failover(c, d);
            return;
        }
        if (mf && link_fuzzy(c, d, fcand, fscore, mf, CALLS_EV_TIMING, CONF_TIMING) > 0) {
            TS_INC(c->st, CALLS_FAILOVERS);
            topo_hint_failover(c, &d->ev_to->dst, &d->dst);
        }
    }
}

/* Once per leg, at its start: B2BUA evidence for the topology. An INVITE
 * reached address A within the window before this one left B toward
 * another peer, for the same calling and called numbers, not from the node
 * that sent the first (a redial) nor back to it: A and B are one B2BUA.
 * Counted only when all such INVITEs point at one (A, B) pair. */
static void topo_scan(struct calls *c, struct dlg *d)
{
    d->topo_done = true;
    topo_invite(c, d);
    const struct tix_ent *num = &d->tix[IX_NUM - IX_NODE];
    if (!num->ix.pprev)
        return;
    const struct tix_ent *tmp[MAX_CANDS];
    unsigned n = lookup_timing(c, num->ix.key, d, tmp);
    uint64_t win = (uint64_t)c->cfg.corr_window_ms * NS_PER_MS;
    const struct dlg *pick = NULL;
    for (unsigned i = 0; i < n; i++) {
        const struct tix_ent *e = tmp[i];
        const struct dlg *x = e->ix.d;
        if (!(e->invite_ns < d->invite_ns || (e->invite_ns == d->invite_ns && e->seq < d->seq)))
            continue;
        if (e->invite_ns + win < d->invite_ns || !same_site(x, d))
            continue;
        if (addr_eq(&x->src, &d->src))
            return;   /* this node sent the call before: a redial, a twin, a failover */
        if (same_path(x, d) || addr_eq(&x->src, &d->dst) || addr_eq(&x->dst, &d->dst))
            continue;
        if ((x->answer_ns && x->answer_ns < d->invite_ns) || (x->ended && x->end_ns < d->invite_ns))
            continue;
        if (!num_best(x, ND_RURI, ND_TO, d) || !num_best(x, ND_FROM, ND_PAI, d))
            continue;
        if (pick && !(addr_eq(&pick->dst, &x->dst)))
            return;   /* two different pairs: no evidence */
        pick = x;
    }
    if (pick && !d->topo_relayed) {
        d->topo_relayed = true;
        topo_relay(c, &pick->dst, &d->src, &pick->src, &d->dst);
    }
    /* the mirror rule waits for both legs' ends; a leg another one claimed
     * already is left out (a fork, a second relay of one call) */
    if (pick && !d->mirror && d->invite_ns - pick->attempt_ns <= MIRROR_INVITE_NS) {
        struct dlg *x = (struct dlg *)pick;
        if (x->mirror || x->mirror_bad) {
            if (x->mirror)
                x->mirror->mirror = NULL;
            x->mirror = NULL;
            x->mirror_bad = true;
        } else {
            x->mirror = d;
            d->mirror = x;
        }
    }
}

/* t2 follows t1 within MIRROR_NS. */
static bool follows(uint64_t t1, uint64_t t2)
{
    return t1 && t2 && t2 >= t1 && t2 - t1 <= MIRROR_NS;
}

/* x reached the node, d left it: every transaction of one mirrors the
 * other's. Responses come back through the relay (d's first, then x's; a
 * final of the same class: a proxy may turn a 503 into 500, RFC 3261
 * 16.7), the caller's CANCEL goes forward (x's first), a BYE either way. */
static bool mirrored(const struct dlg *x, const struct dlg *d)
{
    if (x->timed_out || d->timed_out || x->cut || d->cut)
        return false;
    if (d->invite_ns < x->attempt_ns || d->invite_ns - x->attempt_ns > MIRROR_INVITE_NS)
        return false;
    if ((x->ring_ns != 0) != (d->ring_ns != 0) || (d->ring_ns && !follows(d->ring_ns, x->ring_ns)))
        return false;
    if (x->answered != d->answered || x->cancelled != d->cancelled)
        return false;
    if (x->cancelled && !follows(x->cancel_ns, d->cancel_ns))
        return false;
    if (d->answered)
        return follows(d->answer_ns, x->answer_ns) &&
               (follows(x->bye_ns, d->bye_ns) || follows(d->bye_ns, x->bye_ns));
    return x->final_status >= 300 && x->final_status / 100 == d->final_status / 100 &&
           follows(d->end_ns, x->end_ns);
}

void corr_mirror_end(struct calls *c, struct dlg *d)
{
    struct dlg *o = d->mirror;
    if (!o || !d->ended || !o->ended)
        return;
    d->mirror = o->mirror = NULL;   /* decided once */
    struct dlg *x = older(o, d) ? o : d, *y = x == d ? o : d;
    if (!mirrored(x, y))
        return;
    /* what the headers say, for the confidence only: a proxy adds its Via
     * and Record-Route to those it got and passes the User-Agent on */
    bool hint = y->nvia > x->nvia || y->nrr > x->nrr ||
                (x->so[DS_UA] && !strcmp(dlg_str(x, DS_UA), dlg_str(y, DS_UA)));
    topo_mirror(c, &x->dst, &y->src, hint);
}

void corr_media_added(struct calls *c, struct dlg *d, const struct media_ep *ep)
{
    struct dlg *cand[MAX_CANDS];
    int slots[MAX_CANDS];
    unsigned n = lookup(c, corr_key_addr(IX_MEDIA0, &ep->addr, ep->port), IX_MEDIA0,
                        IX_MEDIA0 + TS_CALLS_MAX_MEDIA - 1, d, cand, slots);
    for (unsigned i = 0; i < n; i++) {
        struct dlg *x = cand[i];
        if (older(d, x) && !x->ev_to && corr_root(x) != corr_root(d))
            corr_try(c, x);
    }
}

static uint64_t wait_ns(const struct calls *c)
{
    uint32_t w = c->cfg.corr_window_ms > c->cfg.linger_ms ? c->cfg.corr_window_ms
                                                          : c->cfg.linger_ms;
    return (uint64_t)w * NS_PER_MS;
}

static int cmp_dlg(const void *a, const void *b);

struct dlg *corr_find_sent(struct calls *c, const struct pkt_meta *q)
{
    const struct tix_ent *tmp[MAX_CANDS];
    unsigned n = lookup_timing(c, corr_key_addr(IX_NODE, &q->dst, 0), NULL, tmp);
    struct dlg *best = NULL;
    for (unsigned i = 0; i < n; i++) {
        struct dlg *x = tmp[i]->ix.d;
        if (!addr_eq(&x->src, &q->src) || !addr_eq(&x->dst, &q->dst) || x->sport != q->sport ||
            x->dport != q->dport || x->answered || x->final_status || x->ended)
            continue;
        if (!best || older(best, x))
            best = x;
    }
    return best;
}

void corr_retry_all(struct calls *c)
{
    size_t n = 0, cap = c->dlgs.count;
    if (!cap)
        return;
    struct dlg **v = malloc(cap * sizeof *v);
    if (!v)
        return;
    const struct ht_node *lists[1 + PARK_N] = { &c->dlgs.lru, &c->parked[0], &c->parked[1],
                                                &c->parked[2] };
    for (int l = 0; l < 1 + PARK_N; l++)
        for (struct ht_node *p = lists[l]->lnext; p != lists[l] && n < cap; p = p->lnext) {
            struct dlg *d = ts_container_of(p, struct dlg, n);
            if (!d->ev_to && d->invite_ns)
                v[n++] = d;
        }
    qsort(v, n, sizeof v[0], cmp_dlg);
    for (size_t i = 0; i < n; i++)
        if (!v[i]->ev_to)
            corr_try(c, v[i]);
    free(v);
}

bool corr_group_done(const struct calls *c, struct dlg *d, uint64_t now)
{
    uint64_t last = 0, wait = wait_ns(c);
    if (!topo_converged(c))
        return false;   /* held until the topology is known */
    struct dlg *x = d;
    unsigned guard = 0;
    do {
        if (!x->ended)
            return false;
        if (x->last_ns > last)
            last = x->last_ns;
        /* challenged: the retry with credentials reuses the Call-ID */
        if (!x->answered && !x->timed_out &&
            (x->final_status == 401 || x->final_status == 407) &&
            (uint64_t)c->cfg.auth_linger_s * NS_PER_S > wait)
            wait = (uint64_t)c->cfg.auth_linger_s * NS_PER_S;
        x = x->grp_next;
    } while (x != d && ++guard <= TS_CALLS_MAX_LEGS);
    return last + wait <= now;
}

/* A 408 that came 64*T1 or later after the INVITE is a relaying node's
 * Timer B: nothing downstream answered at all. */
static bool timer_b_408(const struct calls_leg *r)
{
    return r->final_status == 408 && r->end_ns >= r->attempt_ns + TIMER_B_NS;
}

/* Outcome rules (final response of the initial INVITE):
 *   2xx                                   answered
 *   486, 600                              busy
 *   487, or the caller sent CANCEL        cancelled
 *   no final response, or a 408 at least 64*T1 (32 s) after the INVITE
 *                                         timeout
 *   408 (earlier), 480, 5xx               failed (not delivered:
 *                                         unreachable, server/network error)
 *   3xx, other 4xx (401/407 left final), 603, 604, 606
 *                                         rejected (refused by a party)
 * A leg still open when the input ends (cut):
 *   answered, or a provisional response came   in_progress
 *   no response yet, INVITE younger than 64*T1  pending
 *   no response for 64*T1 or more               timeout (Timer B expired) */
static uint8_t leg_outcome(const struct dlg *d, const struct calls_leg *r, uint64_t now)
{
    unsigned s = r->final_status;
    if (d->cut && (d->answered || r->prov_ns))
        return CALLS_IN_PROGRESS;
    if (d->cut && !s && !r->cancelled && now < r->attempt_ns + TIMER_B_NS)
        return CALLS_PENDING;
    if (d->answered)
        return CALLS_ANSWERED;
    if (s == 0 && r->unreach)
        return CALLS_FAILED;   /* ICMP: nobody listens there */
    if (s == 0)
        return r->cancelled ? CALLS_CANCELLED : CALLS_TIMEOUT;
    if (s == 486 || s == 600)
        return CALLS_BUSY;
    if (s == 487 || r->cancelled)
        return CALLS_CANCELLED;
    if (timer_b_408(r))
        return CALLS_TIMEOUT;
    if (s == 408 || s == 480 || (s >= 500 && s < 600))
        return CALLS_FAILED;
    return CALLS_REJECTED;
}

static int cmp_dlg(const void *a, const void *b)
{
    const struct dlg *x = *(const struct dlg *const *)a, *y = *(const struct dlg *const *)b;
    return older(x, y) ? -1 : (older(y, x) ? 1 : 0);
}

size_t corr_emit_group(struct calls *c, struct dlg *d, uint8_t open_party, struct calls_call *out)
{
    struct dlg *mem[TS_CALLS_MAX_LEGS];
    unsigned n = 0;
    struct dlg *x = d;
    do {
        mem[n++] = x;
        x = x->grp_next;
    } while (x != d && n < TS_CALLS_MAX_LEGS);
    /* at the end of input, open legs are cut there: an answered one lasted
     * until then (in_progress), the others keep their last message's time */
    bool at_end = open_party == CALLS_PARTY_ACTIVE;
    for (unsigned i = 0; i < n; i++) {
        struct dlg *m = mem[i];
        if (!m->ended) {
            m->timed_out = true;
            m->cut = at_end;
            dlg_end(c, m, at_end && m->answered && c->now > m->last_ns ? c->now : m->last_ns,
                    m->answered ? open_party : CALLS_PARTY_NONE);
        }
    }
    qsort(mem, n, sizeof mem[0], cmp_dlg);

    struct calls_leg *legs = c->scratch;   /* too big for the stack */
    struct calls_call call;
    memset(&call, 0, sizeof call);
    call.id = ++c->next_id;
    call.nlegs = (uint8_t)n;
    call.legs = legs;
    for (unsigned i = 0; i < n; i++) {
        dlg_leg(mem[i], &legs[i]);
        legs[i].outcome = leg_outcome(mem[i], &legs[i], c->now);
        legs[i].ev_linked_to = -1;
        for (unsigned j = 0; j < n && mem[i]->ev_to; j++)
            if (mem[j] == mem[i]->ev_to)
                legs[i].ev_linked_to = (int8_t)j;
        if (legs[i].ev_linked_to < 0) {
            legs[i].ev_type = CALLS_EV_NONE;
            legs[i].ev_conf = 0;
        }
    }
    uint32_t epoch = c->class_epoch;
    summary_call(c, &call);

    for (unsigned i = 0; i < n; i++)
        trunk_account(c, mem[i], &legs[i]);
    TS_INC(c->st, CALLS_CALLS);
    c->emitted++;
    if (c->sink)
        c->sink(c->sink_ctx, &call);
    size_t kept_i = SIZE_MAX;
    if (!c->cfg.no_report) {
        if (kept_add(c, &call, epoch))
            kept_i = c->kept.n - 1;
        else
            TS_INC(c->st, CALLS_REPORT_DROPPED);
    }
    for (unsigned i = 0; i < n; i++)
        corr_release(c, mem[i]);
    *out = call;
    return kept_i;
}
