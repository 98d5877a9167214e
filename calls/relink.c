/* Calls already emitted, held a while (the last TS_TOPO_RELINK_CALLS, for
 * TS_TOPO_RELINK_S): when the topology learns a relay after two of its
 * calls were emitted apart (their legs finished while it was unknown, as
 * on a sensor that emits within seconds), the two become one call, in the
 * kept report and, through the sink (calls_call.replaces), in the store.
 * The rule is the live timing rule (correlate.c, level 4) with the learned
 * node: the later call's first INVITE left an address of the B2BUA that an
 * INVITE of the earlier call reached, on another address of it, within the
 * window, before that leg was answered or ended, with the same calling and
 * called numbers (RFC 3261 20.10, 20.39 give them; numbers modulo national
 * and international prefixes); two candidates: left apart and counted. */
#include "calls_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONF_RELINK 0.55f   /* as a timing link (correlate.c CONF_TIMING) */

static const char *callee_raw(const struct calls_leg *l)
{
    return l->ruri[0] ? l->ruri : l->to;
}

static const char *caller_raw(const struct calls_leg *l)
{
    return l->pai[0] ? l->pai : l->from;
}

/* How well leg x (of call xc) hands over to d, the first leg of another
 * call: 0 not at all, else 2 * (number agreement 2..4). Only through a
 * learned multi-homed node (one address in, another out): a relay on one
 * address was linkable while both legs were in memory. */
static int relay_score(const struct calls *c, const struct calls_call *xc,
                       const struct calls_leg *x, const struct calls_leg *d)
{
    uint64_t win = (uint64_t)c->cfg.corr_window_ms * NS_PER_MS;
    if (x->invite_ns >= d->invite_ns || x->invite_ns + win < d->invite_ns)
        return 0;
    if (strncmp(x->site, d->site, sizeof x->site) != 0)
        return 0;   /* two sensors' clocks: not by timing */
    if ((x->answer_ns && x->answer_ns < d->invite_ns) || (x->end_ns && x->end_ns < d->invite_ns))
        return 0;
    if (addr_eq(&x->dst, &d->src) || !topo_same_node(c, &x->dst, &d->src))
        return 0;
    /* not back where it came from, not another attempt of the caller */
    if (addr_eq(&x->src, &d->dst) || addr_eq(&xc->legs[0].src, &d->src))
        return 0;
    int ce = calls_number_match(callee_raw(x), x->callee_digits, callee_raw(d), d->callee_digits);
    int cs = ce ? calls_number_match(caller_raw(x), x->caller_digits, caller_raw(d),
                                     d->caller_digits)
                : 0;
    return cs && ce ? 2 * (cs + ce) : 0;
}

static void ent_free(struct relink_ent *e)
{
    free(e->call.legs);
    e->call.legs = NULL;
}

void relink_free(struct calls *c)
{
    struct relink *r = &c->relink;
    for (size_t i = 0; r->v && i < TS_TOPO_RELINK_CALLS; i++)
        ent_free(&r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* X's legs and D's into one call that keeps X's id; D's first leg links
 * to X's leg xi. The sink hears of it (replaces = D's id), the kept report
 * changes, D's slot is freed. */
static void merge(struct calls *c, struct relink_ent *X, unsigned xi, struct relink_ent *D,
                  int score)
{
    unsigned nx = X->call.nlegs, nd = D->call.nlegs, n = nx + nd;
    if (n > TS_CALLS_MAX_LEGS) {
        TS_INC(c->st, CALLS_LINK_REFUSED);
        return;
    }
    struct calls_leg *legs = malloc(n * sizeof *legs);
    if (!legs)
        return;
    int8_t mapx[TS_CALLS_MAX_LEGS], mapd[TS_CALLS_MAX_LEGS];
    unsigned a = 0, b = 0;
    for (unsigned k = 0; k < n; k++) {
        const struct calls_leg *lx = a < nx ? &X->call.legs[a] : NULL;
        const struct calls_leg *ld = b < nd ? &D->call.legs[b] : NULL;
        if (lx && (!ld || lx->invite_ns <= ld->invite_ns)) {
            legs[k] = *lx;
            mapx[a++] = (int8_t)k;
        } else {
            legs[k] = *ld;
            mapd[b++] = (int8_t)k;
        }
    }
    for (unsigned k = 0; k < nx; k++) {
        struct calls_leg *l = &legs[mapx[k]];
        if (l->ev_linked_to >= 0)
            l->ev_linked_to = mapx[l->ev_linked_to];
    }
    for (unsigned k = 0; k < nd; k++) {
        struct calls_leg *l = &legs[mapd[k]];
        if (l->ev_linked_to >= 0)
            l->ev_linked_to = mapd[l->ev_linked_to];
    }
    struct calls_leg *d0 = &legs[mapd[0]];
    d0->ev_linked_to = mapx[xi];
    d0->ev_type = CALLS_EV_TIMING;
    d0->ev_conf = CONF_RELINK + 0.05f * (float)(score / 2 - 2);
    struct calls_call m = X->call;
    m.legs = legs;
    m.nlegs = (uint8_t)n;
    summary_call(c, &m);
    m.replaces = D->call.id;
    TS_INC(c->st, CALLS_RELINKED);
    TS_INC(c->st, CALLS_LINKS);
    if (c->sink)
        c->sink(c->sink_ctx, &m);
    m.replaces = 0;
    /* the report: X's entry becomes the call, D's goes */
    size_t gone = SIZE_MAX;
    if (X->kept_i != SIZE_MAX) {
        kept_set(c, X->kept_i, &m);
        gone = D->kept_i;
    } else if (D->kept_i != SIZE_MAX) {
        X->kept_i = D->kept_i;
        kept_set(c, X->kept_i, &m);
    }
    if (gone != SIZE_MAX) {
        kept_remove(c, gone);
        for (size_t i = 0; i < TS_TOPO_RELINK_CALLS; i++) {
            struct relink_ent *e = &c->relink.v[i];
            if (e->call.legs && e->kept_i != SIZE_MAX && e->kept_i > gone)
                e->kept_i--;
        }
    }
    ent_free(X);
    X->call = m;
    ent_free(D);
}

/* Whether an entry was emitted before the topology's last change. Entries
 * take topo.gen, which only grows, so the floor found once holds until the
 * topology changes again: a sensor whose topology is settled pays nothing
 * per call for the ring (it read every entry, twice, for each call). */
static bool relink_stale(struct calls *c)
{
    struct relink *r = &c->relink;
    if (r->floor >= c->topo.gen)
        return false;
    uint32_t m = c->topo.gen;
    for (size_t j = 0; j < TS_TOPO_RELINK_CALLS; j++)
        if (r->v[j].call.legs && r->v[j].gen < m)
            m = r->v[j].gen;
    r->floor = m;
    return m < c->topo.gen;
}

/* Entry i against the others, as the later call (its first leg continues
 * one of theirs) and as the earlier one; true when it was merged (the
 * merged call sits in the earlier one's slot). */
static bool relink_one(struct calls *c, size_t i)
{
    struct relink *r = &c->relink;
    struct relink_ent *E = &r->v[i];
    /* every pair decided with this topology already (the test below) */
    if (E->gen >= c->topo.gen && !relink_stale(c))
        return false;
    uint64_t keep = (uint64_t)TS_TOPO_RELINK_S * NS_PER_S;
    for (int as_later = 1; as_later >= 0; as_later--) {
        struct relink_ent *best = NULL;
        unsigned best_leg = 0;
        int best_score = 0;
        bool several = false;
        for (size_t j = 0; j < TS_TOPO_RELINK_CALLS; j++) {
            struct relink_ent *O = &r->v[j];
            if (j == i || !O->call.legs || O->emit_ns + keep < c->now)
                continue;
            struct relink_ent *X = as_later ? O : E, *D = as_later ? E : O;
            /* decided with this topology already: as correlation left it */
            if (X->gen >= c->topo.gen && D->gen >= c->topo.gen)
                continue;
            for (unsigned k = 0; k < X->call.nlegs; k++) {
                int s = relay_score(c, &X->call, &X->call.legs[k], &D->call.legs[0]);
                if (!s || s < best_score)
                    continue;
                if (s == best_score && best != O)
                    several = true;
                else if (s > best_score)
                    several = false;
                best = O;
                best_leg = k;
                best_score = s;
            }
        }
        if (!best)
            continue;
        if (several) {
            TS_INC(c->st, CALLS_AMBIGUOUS);
            continue;
        }
        if (as_later)
            merge(c, best, best_leg, E, best_score);
        else
            merge(c, E, best_leg, best, best_score);
        return true;
    }
    return false;
}

void relink_add(struct calls *c, const struct calls_call *call, size_t kept_i)
{
    struct relink *r = &c->relink;
    if (!call->nlegs)
        return;
    if (!r->v) {
        r->v = calloc(TS_TOPO_RELINK_CALLS, sizeof *r->v);
        if (!r->v)
            return;
    }
    struct relink_ent *e = &r->v[r->next];
    struct calls_leg *legs = malloc(call->nlegs * sizeof *legs);
    if (!legs)
        return;
    ent_free(e);
    memcpy(legs, call->legs, call->nlegs * sizeof *legs);
    e->call = *call;
    e->call.legs = legs;
    e->call.replaces = 0;
    e->kept_i = kept_i;
    e->emit_ns = c->now;
    e->gen = c->topo.gen;
    size_t i = r->next;
    r->next = (r->next + 1) % TS_TOPO_RELINK_CALLS;
    /* a call emitted before the topology knew a relay: its partner may
     * have been emitted already */
    if (c->topo.nnodes > 0)
        relink_one(c, i);
}

void relink_all(struct calls *c)
{
    struct relink *r = &c->relink;
    if (!r->v)
        return;
    for (size_t k = 0; k < TS_TOPO_RELINK_CALLS; k++) {
        size_t i = (r->next + k) % TS_TOPO_RELINK_CALLS;   /* oldest first */
        while (r->v[i].call.legs && relink_one(c, i))
            ;   /* a merged call may continue further */
    }
}
