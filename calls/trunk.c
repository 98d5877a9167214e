/* Trunks (peer pairs at the enterprise edge) and their KPIs: ASR, NER
 * (ITU-T E.425 / GSMA IR.42 style), RFC 6076 SRD, SDD, SDT, SER, SEER, ISA,
 * SCR, PDD percentiles, final code distribution, concurrency and the
 * bandwidth the peak implies, over the capture and per time bucket. */
#include "calls_int.h"

#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"
#include "../common/hash.h"
#include "capacity.h"

static uint64_t pair_hash(const struct ts_addr *x, const struct ts_addr *y)
{
    /* order-free: hash the smaller address first */
    if (memcmp(x, y, sizeof *x) > 0) {
        const struct ts_addr *t = x;
        x = y;
        y = t;
    }
    uint64_t h = ts_hash(x, sizeof *x);
    return ts_hash_mix(h, y, sizeof *y);
}

static const char *configured_name(const struct calls *c, const struct ts_addr *a)
{
    for (size_t i = 0; i < c->cfg.ntrunk_names; i++)
        if (addr_eq(&c->cfg.trunk_names[i].addr, a))
            return c->cfg.trunk_names[i].name;
    return NULL;
}

static bool listed_sbc(const struct calls *c, const struct ts_addr *a)
{
    for (size_t i = 0; i < c->nsbc; i++)
        if (addr_eq(&c->sbc[i], a))
            return true;
    return false;
}

/* Configuration wins (sbc =, internal_net =), then what was learned from
 * the traffic, then the default address ranges. */
uint8_t trunk_side(const struct calls *c, const struct ts_addr *a)
{
    if (listed_sbc(c, a))
        return CALLS_SIDE_SBC;
    uint8_t s = topo_side(c, a);
    bool in = calls_config_internal(&c->cfg, a);
    if (c->cfg.nets_set && c->cfg.nnets)
        return s == CALLS_SIDE_SBC ? s : in ? CALLS_SIDE_ENTERPRISE : CALLS_SIDE_ITSP;
    if (s)
        return s;
    return in ? CALLS_SIDE_ENTERPRISE : CALLS_SIDE_ITSP;
}

bool trunk_is_sbc(const struct calls *c, const struct ts_addr *a)
{
    return trunk_side(c, a) == CALLS_SIDE_SBC;
}

bool trunk_ours(const struct calls *c, const struct ts_addr *a)
{
    return trunk_side(c, a) != CALLS_SIDE_ITSP;
}

static void trunk_name(const struct calls *c, struct calls_trunk *t)
{
    const char *nm = configured_name(c, &t->peer);
    char a[64];
    calls_cp(t->name, sizeof t->name, bv_cstr(nm ? nm : ts_addr_str(&t->peer, a, sizeof a)));
}

/* A trunk created before its local end was known to be ours faces the
 * wrong way: swap the ends and the per-direction counters already taken. */
void trunk_reorient(struct calls *c)
{
    for (size_t i = 0; i < c->ntrunks; i++) {
        struct calls_trunk *t = &c->trunks[i];
        if (trunk_ours(c, &t->local) || !trunk_ours(c, &t->peer))
            continue;
        struct ts_addr a = t->local;
        t->local = t->peer;
        t->peer = a;
        struct calls_kpi k = t->dir[0];
        t->dir[0] = t->dir[1];
        t->dir[1] = k;
        t->itsp = !trunk_ours(c, &t->peer);
        trunk_name(c, t);
    }
}

static void sbc_add(struct calls *c, const struct ts_addr *a)
{
    if (listed_sbc(c, a))
        return;
    if (c->nsbc >= TS_CALLS_MAX_SBC) {
        TS_INC(c->st, CALLS_SBC_FULL);
        return;
    }
    c->sbc[c->nsbc++] = *a;
    c->class_epoch++;
    TS_INC(c->st, CALLS_SBC_LEARNED);
}

void trunk_learn_sbc(struct calls *c, const struct ts_addr *a)
{
    size_t before = c->nsbc;
    sbc_add(c, a);
    if (c->nsbc != before)
        trunk_reorient(c);
}

void trunk_config_changed(struct calls *c)
{
    trunk_reorient(c);
    for (size_t i = 0; i < c->ntrunks; i++) {
        struct calls_trunk *t = &c->trunks[i];
        t->itsp = !trunk_ours(c, &t->peer);
        trunk_name(c, t);
    }
}

/* Trunk of one hop (src -> dst of an INVITE), created on first use; *dir
 * is inbound when the INVITE came from the peer. -1 when the table is full.
 * The local end is the enterprise side (internal network or SBC). */
int32_t trunk_lookup(struct calls *c, const struct ts_addr *src, const struct ts_addr *dst,
                     uint8_t *dir)
{
    uint64_t h = pair_hash(src, dst);
    for (struct ht_node *n = c->trunk_ix.buckets[h & c->trunk_ix.mask]; n; n = n->hnext) {
        if (n->hash != h)
            continue;
        struct tnode *tn = ts_container_of(n, struct tnode, n);
        struct calls_trunk *t = &c->trunks[tn->idx];
        if ((addr_eq(&t->local, src) && addr_eq(&t->peer, dst)) ||
            (addr_eq(&t->local, dst) && addr_eq(&t->peer, src))) {
            *dir = addr_eq(&t->peer, src) ? CALLS_DIR_INBOUND : CALLS_DIR_OUTBOUND;
            return (int32_t)tn->idx;
        }
    }
    if (c->ntrunks >= TS_CALLS_MAX_TRUNKS) {
        TS_INC(c->st, CALLS_TRUNKS_FULL);
        return -1;
    }
    if (c->ntrunks == c->trunks_cap) {
        struct calls_trunk *nt =
            ts_grow(c->trunks, &c->trunks_cap, sizeof *nt, 8, TS_CALLS_MAX_TRUNKS);
        if (!nt)
            return -1;
        c->trunks = nt;
    }
    struct calls_trunk *t = &c->trunks[c->ntrunks];
    memset(t, 0, sizeof *t);
    t->id = (uint32_t)c->ntrunks + 1;
    bool si = trunk_ours(c, src), di = trunk_ours(c, dst);
    const struct ts_addr *local = src, *peer = dst;
    if (si != di) {
        local = si ? src : dst;   /* ITSP trunk: local is the enterprise side */
        peer = si ? dst : src;
    } else if (configured_name(c, src) && !configured_name(c, dst)) {
        local = dst;
        peer = src;
    }
    t->local = *local;
    t->peer = *peer;
    t->itsp = !trunk_ours(c, peer);
    trunk_name(c, t);
    struct tnode *tn = &c->tnodes[c->ntrunks];
    tn->idx = (uint32_t)c->ntrunks;
    htab_insert(&c->trunk_ix, &tn->n, h);
    c->ntrunks++;
    *dir = addr_eq(&t->peer, src) ? CALLS_DIR_INBOUND : CALLS_DIR_OUTBOUND;
    return (int32_t)tn->idx;
}

void trunk_free_all(struct calls *c)
{
    for (size_t i = 0; i < c->ntrunks; i++)
        free(c->trunks[i].buckets);
    free(c->trunks);
    c->trunks = NULL;
    c->ntrunks = c->trunks_cap = 0;
}

/* Bucket holding ts (created in order); NULL when older than the kept window. */
static struct calls_bucket *bucket_at(struct calls *c, struct calls_trunk *t, uint64_t ts)
{
    uint64_t bns = (uint64_t)c->cfg.bucket_s * NS_PER_S;
    uint64_t start = ts - ts % bns;
    size_t i = t->nbuckets;
    while (i > 0 && t->buckets[i - 1].start_ns > start)
        i--;
    if (i > 0 && t->buckets[i - 1].start_ns == start)
        return &t->buckets[i - 1];
    if (t->nbuckets >= TS_CALLS_MAX_BUCKETS) {
        if (i == 0) {
            TS_INC(c->st, CALLS_BUCKETS_DROPPED);
            return NULL;
        }
        memmove(&t->buckets[0], &t->buckets[1], (i - 1) * sizeof t->buckets[0]);
        t->nbuckets--;
        i--;
        TS_INC(c->st, CALLS_BUCKETS_DROPPED);
    } else if (t->nbuckets == t->buckets_cap) {
        struct calls_bucket *nb =
            ts_grow(t->buckets, &t->buckets_cap, sizeof *nb, 4, TS_CALLS_MAX_BUCKETS);
        if (!nb)
            return NULL;
        t->buckets = nb;
    }
    memmove(&t->buckets[i + 1], &t->buckets[i], (t->nbuckets - i) * sizeof t->buckets[0]);
    t->nbuckets++;
    struct calls_bucket *b = &t->buckets[i];
    memset(b, 0, sizeof *b);
    b->start_ns = start;
    b->peak_concurrent = t->concurrent;
    return b;
}

/* Answered legs in progress per trunk; peaks overall, per codec, per bucket. */
void trunk_conc(struct calls *c, struct dlg *d, int delta, uint64_t ts)
{
    if (delta > 0 && d->conc_counted)
        return;
    if (delta < 0 && !d->conc_counted)
        return;
    d->conc_counted = delta > 0;
    for (unsigned h = 0; h < d->nhops && h < TS_CALLS_MAX_HOPS; h++) {
        const struct dlg_hop *hop = dlg_hop_c(d, h);
        if (hop->trunk < 0)
            continue;
        if (delta > 0) {
            /* not the peers a relay tried before the one that answered */
            bool alt = hop->final >= 300;
            for (unsigned k = 0; k < d->nhops && !alt && !hop->final; k++) {
                const struct dlg_hop *o = dlg_hop_c(d, k);
                alt = k != h && addr_eq(&o->src, &hop->src) && o->final >= 200 && o->final < 300;
            }
            if (alt)
                continue;
            d->conc_hops = (uint8_t)(d->conc_hops | (1u << h));
        } else if (!(d->conc_hops & (1u << h))) {
            continue;
        }
        struct calls_trunk *t = &c->trunks[hop->trunk];
        unsigned k = d->codec < CALLS_CODEC_N ? d->codec : CALLS_CODEC_OTHER;
        if (delta > 0) {
            t->concurrent++;
            t->conc_codec[k]++;
            if (t->concurrent > t->peak_concurrent) {
                t->peak_concurrent = t->concurrent;
                t->peak_ns = ts;
            }
            /* the bandwidth peak is one instant: its codec mix is kept, not
             * each codec's own maximum (those may fall at different times) */
            double kbps = 0;
            for (unsigned j = 0; j < CALLS_CODEC_N; j++)
                kbps += t->conc_codec[j] * calls_codec_kbps((enum calls_codec)j);
            if (kbps > t->peak_kbps) {
                t->peak_kbps = kbps;
                memcpy(t->peak_codec, t->conc_codec, sizeof t->peak_codec);
            }
            struct calls_bucket *b = bucket_at(c, t, ts);
            if (b && t->concurrent > b->peak_concurrent)
                b->peak_concurrent = t->concurrent;
        } else {
            if (t->concurrent)
                t->concurrent--;
            if (t->conc_codec[k])
                t->conc_codec[k]--;
        }
    }
}

static unsigned hist_bin(uint64_t ms)
{
    if (ms < 1000)
        return (unsigned)(ms / 10);               /* 10 ms steps */
    if (ms < 10000)
        return 100 + (unsigned)((ms - 1000) / 100);  /* 100 ms steps */
    if (ms < 100000)
        return 190 + (unsigned)((ms - 10000) / 1000); /* 1 s steps */
    return CALLS_HIST_N - 1;
}

static int64_t hist_upper(unsigned bin)
{
    if (bin < 100)
        return (int64_t)(bin + 1) * 10;
    if (bin < 190)
        return 1000 + (int64_t)(bin - 99) * 100;
    if (bin < CALLS_HIST_N - 1)
        return 10000 + (int64_t)(bin - 189) * 1000;
    return 100000;
}

int64_t calls_hist_p95(const struct calls_hist *h)
{
    if (!h->total)
        return -1;
    uint64_t need = (h->total * 95 + 99) / 100, acc = 0;
    for (unsigned i = 0; i < CALLS_HIST_N; i++) {
        acc += h->n[i];
        if (acc >= need)
            return hist_upper(i);
    }
    return hist_upper(CALLS_HIST_N - 1);
}

static bool in_list(unsigned s, const unsigned *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (l[i] == s)
            return true;
    return false;
}

static void kpi_add(struct calls_kpi *k, const struct calls_leg *r)
{
    static const unsigned ner_codes[] = { 486, 480, 487, 600, 603, 404, 484 };
    static const unsigned seer_codes[] = { 480, 486, 600, 603 };
    static const unsigned isa_codes[] = { 408, 500, 503, 504 };
    unsigned s = r->final_status;
    bool ans = r->outcome == CALLS_ANSWERED;
    k->attempts++;
    switch (r->outcome) {
    case CALLS_ANSWERED: k->answered++; break;
    case CALLS_BUSY: k->busy++; break;
    case CALLS_REJECTED: k->rejected++; break;
    case CALLS_CANCELLED: k->cancelled++; break;
    case CALLS_FAILED: k->failed++; break;
    default: k->timeouts++; break;
    }
    if (s >= 300 && s < 400)
        k->redirects++;
    if (ans || in_list(s, ner_codes, 7) || r->outcome == CALLS_CANCELLED)
        k->ner_ok++;
    if (ans || in_list(s, seer_codes, 4))
        k->seer_ok++;
    if (!ans && in_list(s, isa_codes, 4))
        k->isa++;
    if (ans && r->bye_ns && !r->no_ack)
        k->completed++;
    if (r->no_ack)
        k->no_ack++;
    if (ans && r->end_ns >= r->answer_ns) {
        k->dur_sum_s += (double)(r->end_ns - r->answer_ns) / 1e9;
        k->dur_n++;
    }
    uint64_t srd_end = r->ring_ns ? r->ring_ns : (ans ? r->answer_ns : 0);
    if (srd_end >= r->attempt_ns && srd_end) {
        k->srd_sum_ms += (double)(srd_end - r->attempt_ns) / 1e6;
        k->srd_n++;
    }
    if (ans && r->answer_ns >= r->attempt_ns) {
        k->ans_sum_ms += (double)(r->answer_ns - r->attempt_ns) / 1e6;
        k->ans_n++;
    }
    if (r->bye_ns && r->bye_ok_ns >= r->bye_ns) {
        k->sdd_sum_ms += (double)(r->bye_ok_ns - r->bye_ns) / 1e6;
        k->sdd_n++;
    }
}

/* Outcome of a final status alone (the Outcomes table, without the
 * caller's CANCEL or the Timer-B 408). */
static uint8_t status_outcome(unsigned s)
{
    if (s >= 200 && s < 300)
        return CALLS_ANSWERED;
    if (s == 486 || s == 600)
        return CALLS_BUSY;
    if (s == 487)
        return CALLS_CANCELLED;
    if (s == 408 || s == 480 || (s >= 500 && s < 600))
        return CALLS_FAILED;
    return CALLS_REJECTED;
}

/* The leg as one hop of it saw it, when a relay tried several peers under
 * one Call-ID: a peer that refused or stayed silent while another answered
 * counts its own result on its trunk. */
static const struct calls_leg *hop_view(const struct dlg *d, const struct dlg_hop *hop,
                                        const struct calls_leg *rec, struct calls_leg *tmp)
{
    if (d->nhops < 2 || hop->final == rec->final_status ||
        (!hop->final && rec->outcome != CALLS_ANSWERED))
        return rec;
    if (!hop->final) {
        /* silent while another peer of the same node answered; else a relay
         * copy whose response was not captured */
        bool alt = false;
        for (unsigned k = 0; k < d->nhops && !alt; k++) {
            const struct dlg_hop *o = dlg_hop_c(d, k);
            alt = o != hop && addr_eq(&o->src, &hop->src) && o->final >= 200 && o->final < 300;
        }
        if (!alt)
            return rec;
    }
    *tmp = *rec;
    tmp->final_status = hop->final;
    if (hop->final) {
        tmp->outcome = status_outcome(hop->final);
        tmp->end_ns = hop->final_ns;
    } else {
        tmp->outcome = rec->cancelled ? CALLS_CANCELLED : CALLS_TIMEOUT;
    }
    if (tmp->outcome != CALLS_ANSWERED) {
        tmp->answer_ns = tmp->bye_ns = tmp->bye_ok_ns = 0;
        tmp->no_ack = false;
    }
    return tmp;
}

/* A finished leg counts on the trunk of every hop it was seen on; one the
 * input cut while up or ringing does not (it has not ended). */
void trunk_account(struct calls *c, const struct dlg *d, const struct calls_leg *rec)
{
    if (calls_outcome_open(rec->outcome))
        return;
    for (unsigned h = 0; h < d->nhops && h < TS_CALLS_MAX_HOPS; h++) {
        const struct dlg_hop *hop = dlg_hop_c(d, h);
        if (hop->trunk < 0)
            continue;
        const struct calls_leg *r = hop_view(d, hop, rec, &c->hop_scratch);
        struct calls_trunk *t = &c->trunks[hop->trunk];
        /* by the trunk's current orientation: it may have turned since */
        unsigned dir = addr_eq(&t->peer, &hop->src) ? CALLS_DIR_INBOUND : CALLS_DIR_OUTBOUND;
        kpi_add(&t->all, r);
        kpi_add(&t->dir[dir], r);
        struct calls_bucket *b = bucket_at(c, t, r->invite_ns);
        if (b)
            kpi_add(&b->k, r);
        if (r->final_status >= 100 && r->final_status < 700)
            t->codes[r->final_status - 100]++;
        uint64_t srd_end = r->ring_ns ? r->ring_ns : r->answer_ns;
        if (srd_end && srd_end >= r->attempt_ns) {
            t->srd_hist.n[hist_bin((srd_end - r->attempt_ns) / NS_PER_MS)]++;
            t->srd_hist.total++;
        }
        if (r->answer_ns && r->answer_ns >= r->attempt_ns) {
            t->ans_hist.n[hist_bin((r->answer_ns - r->attempt_ns) / NS_PER_MS)]++;
            t->ans_hist.total++;
        }
    }
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : -1.0;
}

/* Ratios are 0..1; -1 when the denominator is 0.
 * ASR  = answered / attempts.
 * NER  = (answered + user-side endings 486 480 487 600 603 404 484 or a
 *        caller CANCEL) / attempts: the network delivered the call.
 * SER  = answered / (attempts - 3xx)                      (RFC 6076 4.6)
 * SEER = (answered + 480 486 600 603) / (attempts - 3xx)  (RFC 6076 4.7)
 * ISA  = finals 408 500 503 504 / attempts                (RFC 6076 4.8)
 * SCR  = answered and ended by BYE / attempts             (RFC 6076 4.9)
 * ACD / SDT = mean answer-to-end duration (RFC 6076 4.3).
 * SRD / PDD = mean INVITE to first 180/183, or to the 2xx without one (4.1);
 *   after a 401/407 challenge from the retried INVITE (not the user's typing).
 * SDD = mean BYE to its 2xx (4.2). */
double calls_kpi_asr(const struct calls_kpi *k) { return ratio(k->answered, k->attempts); }
double calls_kpi_ner(const struct calls_kpi *k) { return ratio(k->ner_ok, k->attempts); }
double calls_kpi_ser(const struct calls_kpi *k)
{
    return ratio(k->answered, k->attempts - k->redirects);
}
double calls_kpi_seer(const struct calls_kpi *k)
{
    return ratio(k->seer_ok, k->attempts - k->redirects);
}
double calls_kpi_isa(const struct calls_kpi *k) { return ratio(k->isa, k->attempts); }
double calls_kpi_scr(const struct calls_kpi *k) { return ratio(k->completed, k->attempts); }
double calls_kpi_mean(double sum, uint64_t n) { return n ? sum / (double)n : -1.0; }
double calls_kpi_acd_s(const struct calls_kpi *k) { return calls_kpi_mean(k->dur_sum_s, k->dur_n); }

/* Per direction, Ethernet frame bytes (14 B header + 4 B FCS; add 20 B of
 * preamble and inter-frame gap for wire occupancy, e.g. G.711 95.2 kbit/s),
 * 20 ms packetisation, IPv4 + UDP + RTP = 40 B:
 *   G.711 / G.722: 160 B payload -> 218 B x 50 pps = 87.2 kbit/s
 *   G.729: 20 B -> 78 B x 50 = 31.2 kbit/s
 *   Opus (assumed 32 kbit/s): 80 B -> 138 B x 50 = 55.2 kbit/s
 *   other codecs are counted as G.711. */
double calls_codec_kbps(enum calls_codec k)
{
    switch (k) {
    case CALLS_CODEC_G729: return 31.2;
    case CALLS_CODEC_OPUS: return 55.2;
    default: return 87.2;
    }
}

double calls_trunk_peak_kbps(const struct calls_trunk *t) { return t->peak_kbps; }

void calls_trunk_capacity(const struct calls_trunk *t, struct capacity_result *r)
{
    struct capacity cap;
    capacity_init(&cap);
    for (size_t i = 0; i < t->nbuckets; i++) {
        const struct calls_bucket *b = &t->buckets[i];
        capacity_add(&cap, (int64_t)b->start_ns, b->k.attempts, b->k.answered, b->k.dur_sum_s);
    }
    capacity_finish(&cap, r);
}
