/* Call scenarios: route, numbers, B2BUA legs and the SIP timeline of each
 * call, and the SIP message text (RFC 3261 s8, s9, s12-s15; provisional and
 * final responses s21; SDP offer/answer RFC 3264 with RFC 4566 syntax; hold
 * s8.4; REFER RFC 3515; Session-ID RFC 7989; SDES crypto RFC 4568). */
#include "genint.h"

#include <inttypes.h>
#include <string.h>

size_t scn_fmt_number(char *out, size_t cap, const char *d, int fmt)
{
    int n;
    if (fmt == FMT_E164)
        n = snprintf(out, cap, "+%s", d);
    else if (fmt == FMT_NATIONAL && strncmp(d, "49", 2) == 0)
        n = snprintf(out, cap, "0%s", d + 2);
    else
        n = snprintf(out, cap, "00%s", d);
    return n > 0 ? (size_t)n : 0;
}

/* ---- planning ---- */

struct plan {
    struct gen *g;
    struct gen_call *c;
    struct rng *r;
    uint32_t rtt[GEN_MAX_LEGS], procb[GEN_MAX_LEGS + 1];
    bool bypass[GEN_MAX_LEGS + 1];
    bool overflow;
};

static void add(struct plan *p, uint64_t t, int leg, int txn, uint16_t status, uint8_t flags)
{
    struct gen_call *c = p->c;
    if (c->nscript >= GEN_MAX_SCRIPT) {
        p->overflow = true;
        return;
    }
    struct gen_sev *e = &c->script[c->nscript++];
    e->t = t;
    e->leg = (uint8_t)leg;
    e->txn = (uint8_t)txn;
    e->status = status;
    e->flags = flags;
}

static int add_txn(struct gen_leg *L, int method, int by_b, int kind, int branch_of, uint32_t cseq)
{
    if (L->ntxn >= GEN_MAX_TXN)
        return 0;
    int i = L->ntxn++;
    struct gen_txn *t = &L->txn[i];
    t->method = (uint8_t)method;
    t->by_b = (uint8_t)by_b;
    t->kind = (uint8_t)kind;
    t->branch_of = (uint8_t)(branch_of < 0 ? i : branch_of);
    if (cseq)
        t->cseq = cseq;
    else
        t->cseq = by_b ? L->next_cseq_b++ : L->next_cseq_a++;
    return i;
}

static uint32_t us(struct rng *r, uint32_t lo, uint32_t hi) { return (uint32_t)rng_range(r, lo, hi); }

static void ext_number(struct rng *r, char *out, size_t cap)
{
    static const char *const de[] = { "30", "40", "89", "221", "69", "711", "151", "171", "176" };
    static const char *const intl[] = { "4420", "331", "1212", "3906", "4122" };
    if (rng_chance(r, 0.75))
        snprintf(out, cap, "49%s%07" PRIu64, de[rng_below(r, 9)], rng_below(r, 10000000));
    else
        snprintf(out, cap, "%s%08" PRIu64, intl[rng_below(r, 5)], rng_below(r, 100000000));
}

static int node_if_on_link(struct gen *g, int node, int link)
{
    const struct gen_link *l = &g->links[link];
    return g->ifs[l->end[0]].node == node ? l->end[0] : l->end[1];
}

/* Relays a response from leg `from` (already at time t) up to leg 0,
 * each B2BUA taking procb; returns the per-leg times in out[]. */
static void relay_back(struct plan *p, int from, uint64_t t, uint16_t status, int txn0,
                       uint64_t *out, bool ack)
{
    struct gen_call *c = p->c;
    for (int j = from; j >= 0; j--) {
        if (j < from) {
            t += p->procb[j + 1];
            /* the SBC hides the ITSP's overload behind its configured code */
            if (status == 503 && p->g->nodes[c->node[j + 1]].role == ROLE_SBC)
                status = p->g->map503;
        }
        add(p, t, j, txn0, status, 0);
        if (out)
            out[j] = t;
        if (ack && status >= 300) {
            struct gen_leg *L = &c->leg[j];
            int ta = add_txn(L, M_ACK, 0, TK_PLAIN, 0, L->txn[0].cseq);
            add(p, t + p->rtt[j], j, ta, 0, 0);
        }
    }
}

/* A request the caller side sends along all legs (re-INVITE, BYE), each hop
 * answering locally; returns the time the request reached each leg. */
static void forward_req(struct plan *p, uint64_t t, int method, int kind, uint64_t *at, int n)
{
    struct gen_call *c = p->c;
    for (int j = 0; j < n; j++) {
        if (j)
            t += p->procb[j];
        struct gen_leg *L = &c->leg[j];
        int tx = add_txn(L, method, 0, kind, -1, 0);
        add(p, t, j, tx, 0, 0);
        if (method == M_BYE)
            add(p, t + p->rtt[j], j, tx, 200, 0);
        at[j] = t;
    }
}

static void backward_bye(struct plan *p, uint64_t t, int n)
{
    struct gen_call *c = p->c;
    for (int j = n - 1; j >= 0; j--) {
        if (j < n - 1)
            t += p->procb[j + 1];
        struct gen_leg *L = &c->leg[j];
        int tx = add_txn(L, M_BYE, 1, TK_PLAIN, -1, 0);
        add(p, t, j, tx, 0, 0);
        add(p, t + p->rtt[j], j, tx, 200, 0);
    }
}

/* re-INVITE from the caller through every leg; the far end answers and each
 * hop relays the 200 back; ACKs go forward again. Returns the far end's 200. */
static uint64_t reinvite(struct plan *p, uint64_t t, int kind, int n)
{
    struct gen_call *c = p->c;
    uint64_t at[GEN_MAX_LEGS] = { 0 }, ok[GEN_MAX_LEGS] = { 0 };
    int tx[GEN_MAX_LEGS] = { 0 };
    for (int j = 0; j < n; j++) {
        if (j)
            t += p->procb[j];
        tx[j] = add_txn(&c->leg[j], M_INVITE, 0, kind, -1, 0);
        add(p, t, j, tx[j], 0, 0);
        at[j] = t;
    }
    uint64_t far = at[n - 1] + p->rtt[n - 1];
    uint64_t tt = far;
    for (int j = n - 1; j >= 0; j--) {
        if (j < n - 1)
            tt += p->procb[j + 1];
        add(p, tt, j, tx[j], 200, 0);
        ok[j] = tt;
    }
    uint64_t ta = ok[0] + p->rtt[0];
    for (int j = 0; j < n; j++) {
        if (j)
            ta += p->procb[j];
        struct gen_leg *L = &c->leg[j];
        int a = add_txn(L, M_ACK, 0, TK_PLAIN, -1, L->txn[tx[j]].cseq);
        add(p, ta, j, a, 0, 0);
    }
    return far;
}

static void sort_script(struct gen_call *c)
{
    /* insertion sort: stable, and scripts are short */
    for (int i = 1; i < c->nscript; i++) {
        struct gen_sev e = c->script[i];
        int j = i - 1;
        while (j >= 0 && c->script[j].t > e.t) {
            c->script[j + 1] = c->script[j];
            j--;
        }
        c->script[j + 1] = e;
    }
}

static void route(struct gen *g, struct gen_call *c)
{
    struct rng *r = &c->rng;
    const struct gen_opts *o = g->o;
    int path[GEN_MAX_LEGS + 1], n = 0;
    int itsp = g->n_itsp0 + (int)rng_below(r, (uint64_t)g->n_itsps);
    c->dir = rng_chance(r, o->inbound) ? 1 : 0;
    c->site = g->n_bpbx >= 0 && rng_chance(r, 0.3) ? 1 : 0;
    if (c->site == 1) {
        path[n++] = g->n_bpbx;
        if (rng_chance(r, 0.5)) {
            path[n++] = g->n_pbx;
            path[n++] = g->n_sbc;
            path[n++] = itsp;
        } else {
            path[n++] = g->n_bsbc;
            path[n++] = g->n_itsp0;
        }
    } else if (g->n_gw >= 0 && rng_chance(r, 0.15)) {
        path[n++] = g->n_pbx;
        path[n++] = g->n_gw;
    } else {
        path[n++] = g->n_pbx;
        path[n++] = g->n_sbc;
        path[n++] = itsp;
    }
    for (int i = 0; i < n; i++)
        c->node[i] = (uint8_t)(c->dir ? path[n - 1 - i] : path[i]);
    c->nnodes = (uint8_t)n;
    char ent[20], ext[20];
    if (c->site == 1)
        snprintf(ent, sizeof ent, "4940567%04" PRIu64, rng_below(r, 10000));
    else
        snprintf(ent, sizeof ent, "4930123%04" PRIu64, rng_below(r, 10000));
    ext_number(r, ext, sizeof ext);
    snprintf(c->caller, sizeof c->caller, "%s", c->dir ? ext : ent);
    snprintf(c->callee, sizeof c->callee, "%s", c->dir ? ent : ext);
}

static void hexid(struct rng *r, char *out, size_t cap, size_t digits)
{
    static const char hx[] = "0123456789abcdef";
    size_t i = 0;
    for (; i < digits && i + 1 < cap; i++) {
        if (i % 16 == 0 && i)
            (void)0;
        out[i] = hx[rng_below(r, 16)];
    }
    out[i] = 0;
}

bool scn_plan(struct gen *g, struct gen_call *c, uint64_t t0, const struct gen_call *tw)
{
    const struct gen_opts *o = g->o;
    struct plan P;
    memset(&P, 0, sizeof P);
    P.g = g;
    P.c = c;
    P.r = &c->rng;
    struct rng *r = &c->rng;

    if (tw) {
        c->dir = tw->dir;
        c->site = tw->site;
        c->nnodes = tw->nnodes;
        memcpy(c->node, tw->node, sizeof c->node);
        memcpy(c->caller, tw->caller, sizeof c->caller);
        memcpy(c->callee, tw->callee, sizeof c->callee);
        c->twin = true;
    } else {
        route(g, c);
        c->twin = rng_chance(r, o->twin_rate);
    }
    switch (c->mix) {
    case GEN_MIX_BUSY: c->outcome = OUT_BUSY; break;
    case GEN_MIX_REJECTED: c->outcome = OUT_REJECTED; break;
    case GEN_MIX_CANCELLED: c->outcome = OUT_CANCELLED; break;
    case GEN_MIX_FAILED: c->outcome = OUT_FAILED; break;
    case GEN_MIX_TIMEOUT: c->outcome = OUT_TIMEOUT; break;
    default: c->outcome = OUT_ANSWERED; break;
    }
    /* where the INVITE stops: the far end, or an SBC that refuses it */
    int stop = c->nnodes - 1;
    int sbc_at = -1;
    for (int i = 1; i < c->nnodes - 1; i++)
        if (g->nodes[c->node[i]].role == ROLE_SBC)
            sbc_at = i;
    uint16_t final = 0;
    c->fside = SIDE_NONE;
    if (c->outcome == OUT_REJECTED || c->outcome == OUT_FAILED) {
        bool at_sbc = sbc_at > 0 && rng_chance(r, c->outcome == OUT_REJECTED ? 0.4 : 0.25);
        if (at_sbc) {
            stop = sbc_at;
            final = c->outcome == OUT_REJECTED ? 403 : 503;
        } else if (c->outcome == OUT_REJECTED) {
            final = rng_chance(r, 0.7) ? 404 : 484;
        } else {
            uint64_t k = rng_below(r, 4);
            final = k < 2 ? 503 : k == 2 ? 500 : 408;
        }
    }
    if (c->outcome == OUT_BUSY)
        final = 486;
    /* --fault-itsp: the failing carrier refuses every call sent to it */
    if (!c->dir && gen_fault_at(g, c->node[c->nnodes - 1], t0)) {
        c->outcome = OUT_FAILED;
        stop = c->nnodes - 1;
        final = 503;
    }
    int n = stop;
    if (n < 1 || n > GEN_MAX_LEGS)
        return false;
    c->nlegs = (uint8_t)n;
    if (c->outcome != OUT_ANSWERED && c->outcome != OUT_CANCELLED) {
        int role = g->nodes[c->node[stop]].role;
        c->fside = role == ROLE_SBC && stop < c->nnodes - 1 ? SIDE_SBC
                   : role == ROLE_ITSP                     ? SIDE_ITSP
                                                           : SIDE_ENTERPRISE;
    }
    c->codec = (uint8_t)(rng_chance(r, 0.5) ? CODEC_PCMA : rng_chance(r, 0.4) ? CODEC_PCMU
                         : rng_chance(r, 0.5) ? CODEC_G722 : CODEC_G729);
    c->srtp = rng_chance(r, o->srtp);
    for (int i = 0; i < n; i++) {
        int a_end;
        int li = gen_link_between(g, c->node[i], c->node[i + 1], &a_end);
        if (li < 0)
            return false;
        if (g->links[li].tp == GEN_TP_TLS)
            c->srtp = true; /* keys travel in the encrypted SDP */
    }
    hexid(r, c->uuid_a, sizeof c->uuid_a, 32);
    hexid(r, c->uuid_b, sizeof c->uuid_b, 32);

    /* legs */
    for (int i = 0; i < n; i++) {
        struct gen_leg *L = &c->leg[i];
        int a_end;
        L->link = (uint8_t)gen_link_between(g, c->node[i], c->node[i + 1], &a_end);
        L->a_end = (uint8_t)a_end;
        L->a_node = c->node[i];
        L->b_node = c->node[i + 1];
        const struct gen_link *lk = &g->links[L->link];
        const struct gen_if *aif = &g->ifs[lk->end[a_end]];
        snprintf(L->callid, sizeof L->callid, "%016" PRIx64 "-%" PRIu64 "@%s",
                 rng_next(r) ^ g->salt, ++g->next_callid, aif->ip_s);
        snprintf(L->ftag, sizeof L->ftag, "%08" PRIx64, rng_next(r) & 0xffffffffu);
        snprintf(L->ttag, sizeof L->ttag, "%08" PRIx64, rng_next(r) & 0xffffffffu);
        L->next_cseq_a = (uint32_t)rng_range(r, 1, 30000);
        L->next_cseq_b = (uint32_t)rng_range(r, 1, 30000);
        scn_fmt_number(L->from_num, sizeof L->from_num, c->caller, lk->fmt);
        scn_fmt_number(L->to_num, sizeof L->to_num, c->callee, lk->fmt);
        L->sess_a = rng_below(r, 1000000000ull) + 1;
        L->sess_b = rng_below(r, 1000000000ull) + 1;
        L->srtp = c->srtp;
        P.rtt[i] = us(r, lk->rtt_lo, lk->rtt_hi);
        add_txn(L, M_INVITE, 0, TK_INITIAL, -1, 0);
    }
    /* B2BUAs between legs: correlation evidence and media anchoring */
    for (int i = 1; i < n; i++) {
        const struct gen_node *b = &g->nodes[c->node[i]];
        struct gen_leg *L = &c->leg[i], *P0 = &c->leg[i - 1];
        P.procb[i] = us(r, 800, 3500);
        int fa = node_if_on_link(g, c->node[i], P0->link), fb = node_if_on_link(g, c->node[i], L->link);
        bool can = g->ifs[fa].v6 == g->ifs[fb].v6;
        P.bypass[i] = can && (tw ? false : rng_chance(r, b->bypass));
        L->evidence = EVD_TIMING;
        if (b->corr == GEN_CORR_SESSION_ID) {
            L->sid = P0->sid = true;
            L->evidence |= EVD_SESSION_ID;
        } else if (b->corr == GEN_CORR_HEADER) {
            snprintf(L->xcid, sizeof L->xcid, "%s", P0->xcid[0] ? P0->xcid : P0->callid);
            L->evidence |= EVD_HEADER;
        }
        if (P.bypass[i])
            L->evidence |= EVD_MEDIA;
        L->indist = c->twin && !(L->evidence & (EVD_SESSION_ID | EVD_HEADER | EVD_MEDIA));
    }
    if (tw) /* a twin copies the original's anchoring so the legs look alike
             * (where the original has the leg: it may have stopped earlier) */
        for (int i = 1; i < n && i < tw->nlegs; i++) {
            P.bypass[i] = (tw->leg[i].evidence & EVD_MEDIA) != 0;
            c->leg[i].evidence = tw->leg[i].evidence;
            c->leg[i].indist = tw->leg[i].indist;
        }
    /* media addresses: anchored hops get new ports, bypassed hops pass the
     * other side's address through unchanged */
    for (int i = 0; i < n; i++) {
        struct gen_leg *L = &c->leg[i];
        if (i > 0 && P.bypass[i]) {
            L->am = c->leg[i - 1].am;
        } else {
            int fi = node_if_on_link(g, c->node[i], L->link);
            L->am.ifx = (uint8_t)fi;
            L->am.port = gen_alloc_port(g, fi);
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        struct gen_leg *L = &c->leg[i];
        if (i < n - 1 && P.bypass[i + 1]) {
            L->bm = c->leg[i + 1].bm;
        } else {
            int fi = node_if_on_link(g, c->node[i + 1], L->link);
            L->bm.ifx = (uint8_t)fi;
            L->bm.port = gen_alloc_port(g, fi);
        }
    }

    /* ---- timeline ---- */
    bool silent = c->outcome == OUT_TIMEOUT;
    uint64_t inv[GEN_MAX_LEGS] = { 0 }, tx[GEN_MAX_LEGS] = { 0 };
    uint64_t t = t0;
    for (int i = 0; i < n; i++) {
        bool udp = g->links[c->leg[i].link].tp == GEN_TP_UDP;
        bool last = i == n - 1;
        inv[i] = t;
        add(&P, t, i, 0, 0, 0);
        uint64_t eff = t;
        if (udp && last && silent) {
            /* Timer A doubling from T1 = 500 ms until Timer B (64*T1) */
            uint64_t at = 0, iv = 500000;
            for (int k = 0; k < 6; k++) {
                at += iv;
                iv *= 2;
                add(&P, t + at, i, 0, 0, SEV_RETRANS);
            }
        } else if (udp && rng_chance(r, o->retrans)) {
            eff = t + 500000; /* the first copy was lost beyond the tap */
            add(&P, eff, i, 0, 0, SEV_RETRANS);
        }
        tx[i] = eff;
        if (!(last && silent))
            add(&P, eff + P.rtt[i], i, 0, 100, 0);
        t = eff + P.rtt[i] + (i + 1 < n ? P.procb[i + 1] : 0);
    }
    uint64_t T = tx[n - 1] + P.rtt[n - 1]; /* the far end has the INVITE */
    uint64_t sumb = 0;
    for (int i = 1; i < n; i++)
        sumb += P.procb[i];
    c->pdd_target_ms = (uint16_t)us(r, 500, 3000);
    uint64_t t18 = inv[0] + (uint64_t)c->pdd_target_ms * 1000;
    t18 = t18 > sumb ? t18 - sumb : t18;
    if (t18 < T + 1000)
        t18 = T + 1000;
    uint64_t per[GEN_MAX_LEGS] = { 0 };
    bool early = c->mix == GEN_MIX_EARLY;

    switch (c->outcome) {
    case OUT_ANSWERED: {
        relay_back(&P, n - 1, t18, early ? 183 : 180, 0, per, false);
        uint64_t t200 = t18 + (early ? us(r, 3000000, 12000000) : us(r, 1500000, 12000000));
        uint64_t ok[GEN_MAX_LEGS] = { 0 };
        relay_back(&P, n - 1, t200, 200, 0, ok, false);
        uint64_t ta = ok[0] + P.rtt[0];
        for (int j = 0; j < n; j++) {
            if (j)
                ta += P.procb[j];
            struct gen_leg *L = &c->leg[j];
            int a = add_txn(L, M_ACK, 0, TK_PLAIN, -1, L->txn[0].cseq);
            add(&P, ta, j, a, 0, 0);
        }
        double mean = o->duration_mean;
        double d = rng_exp(r, mean);
        double dmin = c->mix == GEN_MIX_ANSWERED || c->mix == GEN_MIX_EARLY ? 2.0 : 8.0;
        if (d < dmin)
            d = dmin;
        if (d > 20 * mean + dmin)
            d = 20 * mean + dmin;
        uint64_t D = (uint64_t)(d * 1e6);
        uint64_t te = ok[0] + D;
        uint64_t hold_from = 0, hold_to = 0;
        if (c->mix == GEN_MIX_HOLD) {
            c->t_hold = ok[0] + D * 3 / 10;
            c->t_resume = ok[0] + D * 6 / 10;
            hold_from = reinvite(&P, c->t_hold, TK_HOLD, n);
            hold_to = reinvite(&P, c->t_resume, TK_RESUME, n);
        }
        if (c->mix == GEN_MIX_REFER) {
            /* the enterprise side refers the far party; the adjacent hop
             * accepts and reports progress (RFC 3515 s2.4.4) */
            int lj = c->dir ? n - 1 : 0;
            int by_b = c->dir ? 1 : 0;
            struct gen_leg *L = &c->leg[lj];
            uint64_t tf = ok[0] + D / 2;
            int rf = add_txn(L, M_REFER, by_b, TK_PLAIN, -1, 0);
            add(&P, tf, lj, rf, 0, 0);
            add(&P, tf + P.rtt[lj], lj, rf, 202, 0);
            int n1 = add_txn(L, M_NOTIFY, !by_b, TK_NOTIFY_TRYING, -1, 0);
            uint64_t tn = tf + P.rtt[lj] + 1500;
            add(&P, tn, lj, n1, 0, 0);
            add(&P, tn + P.rtt[lj], lj, n1, 200, 0);
            int n2 = add_txn(L, M_NOTIFY, !by_b, TK_NOTIFY_OK, -1, 0);
            tn += us(r, 500000, 2000000);
            add(&P, tn, lj, n2, 0, 0);
            add(&P, tn + P.rtt[lj], lj, n2, 200, 0);
            if (te < tn + 1000000)
                te = tn + 1000000;
        }
        c->by_callee = rng_chance(r, 0.5);
        uint64_t at[GEN_MAX_LEGS] = { 0 };
        if (c->by_callee)
            backward_bye(&P, te, n);
        else
            forward_req(&P, te, M_BYE, TK_PLAIN, at, n);
        rtpgen_setup(g, c, ok[0] + P.rtt[0], early ? t18 : t200, te, hold_from, hold_to);
        break;
    }
    case OUT_BUSY:
    case OUT_REJECTED:
    case OUT_FAILED: {
        uint64_t tf;
        if (c->outcome == OUT_BUSY && rng_chance(r, 0.3)) {
            relay_back(&P, n - 1, t18, 180, 0, per, false);
            tf = t18 + us(r, 1000000, 5000000);
        } else if (stop < c->nnodes - 1) {
            tf = T + us(r, 1000, 10000); /* the SBC decides on its own */
        } else {
            tf = T + us(r, c->outcome == OUT_BUSY ? 200000 : 50000, c->outcome == OUT_FAILED ? 2000000 : 1500000);
        }
        relay_back(&P, n - 1, tf, final, 0, NULL, true);
        break;
    }
    case OUT_CANCELLED: {
        relay_back(&P, n - 1, t18, 180, 0, per, false);
        uint64_t tc = per[0] + us(r, 2000000, 15000000);
        for (int j = 0; j < n; j++) {
            if (j)
                tc += P.procb[j];
            struct gen_leg *L = &c->leg[j];
            int cx = add_txn(L, M_CANCEL, 0, TK_PLAIN, 0, L->txn[0].cseq);
            add(&P, tc, j, cx, 0, 0);
            add(&P, tc + P.rtt[j], j, cx, 200, 0);
            uint64_t t487 = tc + P.rtt[j] + 300;
            add(&P, t487, j, 0, 487, 0);
            int a = add_txn(L, M_ACK, 0, TK_PLAIN, 0, L->txn[0].cseq);
            add(&P, t487 + P.rtt[j], j, a, 0, 0);
        }
        break;
    }
    case OUT_TIMEOUT: {
        /* Timer B at the hop before the silent end; it answers 408 upstream */
        if (n >= 2)
            relay_back(&P, n - 2, inv[n - 1] + 32000000, 408, 0, NULL, true);
        break;
    }
    }
    if (P.overflow || c->nscript == 0)
        return false;
    sort_script(c);
    return true;
}

/* ---- message text ---- */

struct sb {
    char *p;
    size_t n, cap;
    bool full;
};

static void sbf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void sbf(struct sb *b, const char *fmt, ...)
{
    if (b->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= b->cap - b->n) {
        b->full = true;
        return;
    }
    b->n += (size_t)k;
}

static const char *method_name(int m)
{
    static const char *const n[] = { "INVITE", "ACK", "BYE", "CANCEL", "REFER", "NOTIFY" };
    return n[m];
}

static const char *reason(int s)
{
    switch (s) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 484: return "Address Incomplete";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 500: return "Server Internal Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static const char *tp_name(int tp) { return tp == GEN_TP_UDP ? "UDP" : tp == GEN_TP_TCP ? "TCP" : "TLS"; }
static const char *tp_param(int tp) { return tp == GEN_TP_UDP ? "udp" : tp == GEN_TP_TCP ? "tcp" : "tls"; }
static int sip_port(int tp) { return tp == GEN_TP_TLS ? 5061 : 5060; }

static uint64_t mix64(uint64_t x)
{
    return rng_splitmix(&x);
}

static void branch(struct gen *g, const struct gen_call *c, int leg, int b, char *out, size_t cap)
{
    uint64_t h = mix64(g->salt ^ (c->id << 8) ^ ((uint64_t)leg << 5) ^ (uint64_t)b);
    snprintf(out, cap, "z9hG4bK%012" PRIx64, h & UINT64_C(0xffffffffffff));
}

/* SDP body (RFC 4566) for one side of a leg. kind: TK_INITIAL/HOLD/RESUME. */
static void sdp(struct gen *g, const struct gen_call *c, const struct gen_leg *L, bool side_b,
                int kind, struct sb *b)
{
    const struct gen_mep *m = side_b ? &L->bm : &L->am;
    const struct gen_if *f = &g->ifs[m->ifx];
    const char *ipv = f->v6 ? "IP6" : "IP4";
    int ver = kind == TK_HOLD ? 2 : kind == TK_RESUME ? 3 : 1;
    const char *mode = kind == TK_HOLD ? (side_b ? "recvonly" : "sendonly") : "sendrecv";
    sbf(b, "v=0\r\no=%s %" PRIu64 " %d IN %s %s\r\ns=%s\r\nc=IN %s %s\r\nt=0 0\r\n",
        g->nodes[f->node].role == ROLE_ITSP ? "carrier" : "-", side_b ? L->sess_b : L->sess_a,
        ver, ipv, f->ip_s, "call", ipv, f->ip_s);
    const char *prof = L->srtp ? "RTP/SAVP" : "RTP/AVP";
    if (!side_b) {
        sbf(b, "m=audio %u %s 8 0 9 18 101\r\n", m->port, prof);
        for (int k = 0; k < CODEC_MAX; k++)
            sbf(b, "a=rtpmap:%d %s/8000\r\n", gen_codec_pt(k), gen_codec_name(k));
        sbf(b, "a=fmtp:18 annexb=no\r\n");
    } else {
        sbf(b, "m=audio %u %s %d 101\r\n", m->port, prof, gen_codec_pt(c->codec));
        sbf(b, "a=rtpmap:%d %s/8000\r\n", gen_codec_pt(c->codec), gen_codec_name(c->codec));
        if (c->codec == CODEC_G729)
            sbf(b, "a=fmtp:18 annexb=no\r\n");
    }
    sbf(b, "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=%s\r\n", mode);
    if (L->srtp) {
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char key[41];
        uint64_t h = mix64(g->salt ^ c->id ^ (side_b ? 0x5555u : 0xaaaau) ^ ((uint64_t)L->link << 20));
        for (int i = 0; i < 40; i++) {
            if (i % 10 == 0)
                h = mix64(h + (uint64_t)i);
            key[i] = b64[(h >> ((i % 10) * 6)) & 63];
        }
        key[40] = 0;
        sbf(b, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", key);
    }
}

void scn_emit(struct gen *g, struct gen_call *c, const struct gen_sev *e)
{
    struct gen_leg *L = &c->leg[e->leg];
    const struct gen_txn *T = &L->txn[e->txn];
    const struct gen_link *lk = &g->links[L->link];
    bool req = e->status == 0;
    bool from_b = req ? T->by_b : !T->by_b;          /* who sends this message */
    bool req_b = T->by_b;                             /* who sent the request */
    int a_if = lk->end[L->a_end], b_if = lk->end[!L->a_end];
    const struct gen_if *A = &g->ifs[a_if], *B = &g->ifs[b_if];
    const struct gen_if *RQ = req_b ? B : A;          /* request sender */
    int tp = lk->tp;
    int port = sip_port(tp);
    const char *ua = g->nodes[from_b ? L->b_node : L->a_node].ua;
    bool dialog_tag = !(T->method == M_INVITE && T->kind == TK_INITIAL && (req || e->status == 100)) &&
                      !(T->method == M_CANCEL && req) &&
                      !(T->method == M_CANCEL && e->status == 200);
    /* ACK for a non-2xx and CANCEL share the INVITE's branch */
    char br[32];
    branch(g, c, e->leg, T->branch_of, br, sizeof br);

    char body[1100];
    struct sb bb = { body, 0, sizeof body, false };
    const char *ctype = NULL;
    if (T->method == M_INVITE && (req ? !req_b : (e->status == 183 || e->status == 200))) {
        sdp(g, c, L, !req, T->kind, &bb);
        ctype = "application/sdp";
    } else if (T->method == M_NOTIFY && req) {
        sbf(&bb, "SIP/2.0 %s\r\n", T->kind == TK_NOTIFY_OK ? "200 OK" : "100 Trying");
        ctype = "message/sipfrag;version=2.0";
    }

    struct sb b = { g->msg, 0, GEN_SIP_MAX, false };
    const char *mname = method_name(T->method);
    if (req) {
        bool in_dialog = dialog_tag || T->method == M_ACK;
        if (T->method == M_CANCEL || (T->method == M_ACK && T->branch_of == 0) ||
            (T->method == M_INVITE && T->kind == TK_INITIAL))
            sbf(&b, "%s sip:%s@%s:%d;user=phone SIP/2.0\r\n", mname, L->to_num, B->host, port);
        else if (!req_b)
            sbf(&b, "%s sip:%s@%s:%d;transport=%s SIP/2.0\r\n", mname, L->to_num, B->host, port, tp_param(tp));
        else
            sbf(&b, "%s sip:%s@%s:%d;transport=%s SIP/2.0\r\n", mname, L->from_num, A->host, port, tp_param(tp));
        (void)in_dialog;
    } else {
        sbf(&b, "SIP/2.0 %u %s\r\n", e->status, reason(e->status));
    }
    sbf(&b, "Via: SIP/2.0/%s %s:%d;branch=%s%s\r\n", tp_name(tp), RQ->host, port, br,
        tp == GEN_TP_UDP ? ";rport" : "");
    if (req)
        sbf(&b, "Max-Forwards: 70\r\n");
    /* From/To follow the request direction (RFC 3261 s12.2.1.1) */
    const char *fnum = req_b ? L->to_num : L->from_num, *tnum = req_b ? L->from_num : L->to_num;
    const struct gen_if *FI = req_b ? B : A, *TI = req_b ? A : B;
    const char *ftag = req_b ? L->ttag : L->ftag, *ttag = req_b ? L->ftag : L->ttag;
    sbf(&b, "From: <sip:%s@%s;user=phone>;tag=%s\r\n", fnum, FI->host, ftag);
    sbf(&b, "To: <sip:%s@%s;user=phone>%s%s\r\n", tnum, TI->host, dialog_tag ? ";tag=" : "",
        dialog_tag ? ttag : "");
    sbf(&b, "Call-ID: %s\r\n", L->callid);
    sbf(&b, "CSeq: %u %s\r\n", T->cseq, mname);
    bool contact = (T->method == M_INVITE && (req || e->status >= 180)) || T->method == M_REFER ||
                   (T->method == M_NOTIFY && req);
    if (contact) {
        const struct gen_if *S = from_b ? B : A;
        sbf(&b, "Contact: <sip:%s@%s:%d;transport=%s>\r\n", from_b ? L->to_num : L->from_num,
            S->host, port, tp_param(tp));
    }
    if (L->sid && T->method != M_ACK) {
        bool initial = T->kind == TK_INITIAL && T->method != M_BYE && (req || e->status == 100);
        const char *mine = from_b ? c->uuid_b : c->uuid_a, *peer = from_b ? c->uuid_a : c->uuid_b;
        sbf(&b, "Session-ID: %s;remote=%s\r\n", mine,
            initial && !from_b ? "00000000000000000000000000000000" : peer);
    }
    if (L->xcid[0] && req && T->method == M_INVITE && T->kind == TK_INITIAL)
        sbf(&b, "%s: %s\r\n", g->o->xcid_name, L->xcid);
    if (T->method == M_INVITE && (req || e->status == 200)) {
        sbf(&b, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY\r\n");
        if (req)
            sbf(&b, "Supported: replaces, timer\r\n");
    }
    if (T->method == M_REFER && req) {
        sbf(&b, "Refer-To: <sip:%s@%s>\r\nReferred-By: <sip:%s@%s>\r\n",
            from_b ? L->to_num : L->from_num, (from_b ? B : A)->host,
            from_b ? L->to_num : L->from_num, (from_b ? B : A)->host);
    }
    if (T->method == M_NOTIFY && req)
        sbf(&b, "Event: refer\r\nSubscription-State: %s\r\n",
            T->kind == TK_NOTIFY_OK ? "terminated;reason=noresource" : "active;expires=60");
    if (T->method == M_BYE && req)
        sbf(&b, "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n");
    sbf(&b, "%s: %s\r\n", req ? "User-Agent" : "Server", ua);
    if (ctype)
        sbf(&b, "Content-Type: %s\r\n", ctype);
    sbf(&b, "Content-Length: %zu\r\n\r\n", bb.n);
    if (!b.full && !bb.full && b.n + bb.n <= GEN_SIP_MAX) {
        memcpy(g->msg + b.n, body, bb.n);
        b.n += bb.n;
    } else {
        g->err = GEN_EINTERNAL;
        g->stop = true;
        return;
    }
    bool retrans = (e->flags & SEV_RETRANS) != 0;
    gen_send_sip(g, e->t, L->link, from_b ? !L->a_end : L->a_end, g->msg, b.n, retrans);
    if (lk->tp != GEN_TP_TLS)
        c->sip_msgs++;

    /* bookkeeping for the truth file */
    if (req && e->txn == 0) {
        if (L->invite_tx++ == 0) {
            L->t_invite = e->t;
            if (lk->tp == GEN_TP_TLS)
                g->call_ids_tls++;
            else
                g->call_ids++;
        }
        if (e->leg == 0 && !c->t_setup)
            c->t_setup = e->t;
    }
    if (req && T->method == M_CANCEL && !L->t_cancel)
        L->t_cancel = e->t;
    if (!req && e->txn == 0) {
        if (e->status < 200 && !L->t_prov)
            L->t_prov = e->t;
        if (e->leg == 0 && (e->status == 180 || e->status == 183) && !c->t_18x)
            c->t_18x = e->t;
        if ((e->status == 180 || e->status == 183) && !L->t_ring)
            L->t_ring = e->t;
        if (e->status >= 200 && e->status < 300 && !L->t_answer)
            L->t_answer = e->t;
        if (e->status >= 200) {
            L->final_status = e->status;
            L->t_final = e->t;
            if (e->leg == 0 && e->status == 200)
                c->t_answer = e->t;
            if (e->leg == 0 && e->status >= 300 && !c->t_end)
                c->t_end = e->t;
        }
    }
    if (req && T->method == M_BYE && !L->t_bye) {
        L->t_bye = e->t;
        L->bye_b = T->by_b;
    }
    if (req && T->method == M_BYE && !c->t_end)
        c->t_end = e->t;
}

/* ---- trunk housekeeping messages ---- */

void scn_options(struct gen *g, int li, bool resp)
{
    struct gen_link *l = &g->links[li];
    const struct gen_if *S = &g->ifs[l->end[0]], *I = &g->ifs[l->end[1]];
    int tp = l->tp, port = sip_port(tp);
    uint32_t n = resp ? l->opt_sent : l->opt_sent + 1;
    uint64_t h = mix64(g->salt ^ ((uint64_t)li << 40) ^ n);
    struct sb b = { g->msg, 0, GEN_SIP_MAX, false };
    if (!resp)
        sbf(&b, "OPTIONS sip:%s:%d SIP/2.0\r\n", I->host, port);
    else
        sbf(&b, "SIP/2.0 200 OK\r\n");
    sbf(&b, "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%012" PRIx64 "%s\r\n", tp_name(tp), S->host,
        port, h & UINT64_C(0xffffffffffff), tp == GEN_TP_UDP ? ";rport" : "");
    if (!resp)
        sbf(&b, "Max-Forwards: 70\r\n");
    sbf(&b, "From: <sip:ping@%s>;tag=%08" PRIx64 "\r\n", S->host, (h >> 16) & 0xffffffffu);
    sbf(&b, "To: <sip:%s>%s", I->host, resp ? ";tag=" : "\r\n");
    if (resp)
        sbf(&b, "%08" PRIx64 "\r\n", (h >> 24) & 0xffffffffu);
    sbf(&b, "Call-ID: opt-%" PRIx64 "-%u-%d@%s\r\n", g->salt & UINT64_C(0xffffffffff), n, li, S->ip_s);
    sbf(&b, "CSeq: 1 OPTIONS\r\n");
    if (resp)
        sbf(&b, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\nAccept: application/sdp\r\nServer: %s\r\n",
            g->nodes[I->node].ua);
    else
        sbf(&b, "User-Agent: %s\r\n", g->nodes[S->node].ua);
    sbf(&b, "Content-Length: 0\r\n\r\n");
    if (b.full) {
        g->err = GEN_EINTERNAL;
        g->stop = true;
        return;
    }
    gen_send_sip(g, g->now, li, resp ? 1 : 0, g->msg, b.n, false);
    if (resp) {
        l->opt_ok++;
    } else {
        if (!l->opt_sent)
            l->opt_first = g->now;
        l->opt_sent++;
        l->opt_last = g->now;
        if (tp == GEN_TP_TLS)
            g->call_ids_tls++;
        else
            g->call_ids++;
    }
}

/* REGISTER with a digest challenge (RFC 3261 s10.2, s22.2): step 0 request,
 * 1 the 401, 2 the request with credentials, 3 the 200. */
void scn_register(struct gen *g, int li, int step)
{
    struct gen_link *l = &g->links[li];
    const struct gen_if *S = &g->ifs[l->end[0]], *I = &g->ifs[l->end[1]];
    int tp = l->tp, port = sip_port(tp);
    if (!l->reg_callid[0]) {
        char id[sizeof l->reg_callid];
        snprintf(id, sizeof id, "reg-%" PRIx64 "-%d@%s", g->salt & UINT64_C(0xffffffffff), li,
                 S->ip_s);
        memcpy(l->reg_callid, id, sizeof id);
        l->reg_cseq = 1;
        if (tp == GEN_TP_TLS)
            g->call_ids_tls++;
        else
            g->call_ids++;
    }
    if (step == 0 || step == 2)
        l->reg_n++;
    uint32_t cseq = l->reg_cseq + (step >= 2 ? 1 : 0);
    uint64_t h = mix64(g->salt ^ ((uint64_t)li << 32) ^ l->reg_n);
    uint64_t nonce = mix64(h ^ 0x1234), tag = mix64(g->salt ^ (uint64_t)li);
    struct sb b = { g->msg, 0, GEN_SIP_MAX, false };
    bool resp = step == 1 || step == 3;
    char user[24];
    snprintf(user, sizeof user, "trunk%d", li);
    if (!resp)
        sbf(&b, "REGISTER sip:%s:%d SIP/2.0\r\n", I->host, port);
    else
        sbf(&b, "SIP/2.0 %d %s\r\n", step == 1 ? 401 : 200, step == 1 ? "Unauthorized" : "OK");
    sbf(&b, "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%012" PRIx64 "%s\r\n", tp_name(tp), S->host,
        port, h & UINT64_C(0xffffffffffff), tp == GEN_TP_UDP ? ";rport" : "");
    if (!resp)
        sbf(&b, "Max-Forwards: 70\r\n");
    sbf(&b, "From: <sip:%s@%s>;tag=%08" PRIx64 "\r\n", user, I->host, tag & 0xffffffffu);
    sbf(&b, "To: <sip:%s@%s>%s", user, I->host, resp ? ";tag=" : "\r\n");
    if (resp)
        sbf(&b, "%08" PRIx64 "\r\n", (h >> 8) & 0xffffffffu);
    sbf(&b, "Call-ID: %s\r\nCSeq: %u REGISTER\r\n", l->reg_callid, cseq);
    sbf(&b, "Contact: <sip:%s@%s:%d;transport=%s>%s\r\n", user, S->host, port, tp_param(tp),
        step == 3 ? ";expires=3600" : "");
    if (step == 0 || step == 2)
        sbf(&b, "Expires: 3600\r\nUser-Agent: %s\r\n", g->nodes[S->node].ua);
    if (step == 1)
        sbf(&b, "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%016" PRIx64 "\", algorithm=MD5, qop=\"auth\"\r\n",
            g->nodes[I->node].name, nonce);
    if (step == 2)
        sbf(&b, "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%016" PRIx64
                "\", uri=\"sip:%s\", response=\"%016" PRIx64 "%016" PRIx64
                "\", algorithm=MD5, cnonce=\"%08" PRIx64 "\", qop=auth, nc=00000001\r\n",
            user, g->nodes[I->node].name, nonce, I->host, mix64(nonce), mix64(nonce + 1),
            mix64(nonce + 2) & 0xffffffffu);
    if (resp)
        sbf(&b, "Server: %s\r\n", g->nodes[I->node].ua);
    sbf(&b, "Content-Length: 0\r\n\r\n");
    if (b.full) {
        g->err = GEN_EINTERNAL;
        g->stop = true;
        return;
    }
    gen_send_sip(g, g->now, li, resp ? 1 : 0, g->msg, b.n, false);
    if (step == 3) {
        if (g->nreg < GEN_MAX_REG_LOG) {
            struct gen_reglog *r = &g->reglog[g->nreg++];
            r->link = (uint8_t)li;
            r->t = g->now;
            r->status = 200;
            r->challenged = true;
            r->cseq = cseq;
        }
        l->reg_cseq += 2;
    }
}
