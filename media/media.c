/* Media analysis: SDP endpoints (RFC 3264) and heuristics find RTP (RFC 3550
 * 5.1) and RTCP (RFC 3550 6.4-6.6, RFC 3611 4.7, RFC 3711 3.4); streams keyed
 * by 5-tuple + SSRC get statistics (rtpstat.c), RFC 4733 events, an E-model
 * rating (emodel.c) and detections; finished records go to a sink and a
 * bounded report list. */
#include "media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/grow.h"
#include "../common/hash.h"
#include "../common/htab.h"
#include "../dissect/rtp.h"
#include "../dissect/sdp.h"
#include "emodel.h"
#include "rtpstat.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define SERIES_NS (5 * NS_PER_S)
#define LATE_MEDIA_NS (2 * NS_PER_S)
#define AFTER_BYE_NS (1 * NS_PER_S)
/* A stream of an ended leg, silent this long after the end, ends too
 * (instead of waiting for the idle timeout). */
#define LEG_END_GRACE_NS (5 * NS_PER_S)
/* Capture-gap heuristic: losses on >= GAP_MIN_STREAMS streams (and >= 80 %
 * of the live ones) within GAP_WINDOW_NS of each other. */
#define GAP_RING 64
#define GAP_WINDOW_NS (30 * NS_PER_MS)
#define GAP_MIN_STREAMS 3
#define PT_TELEPHONE_EVENT_DEFAULT 101
/* The stream and SDP-endpoint tables are lazily ordered LRUs (htab_requeue):
 * a packet does not move its entry, the idle walk and eviction requeue the
 * oldest entry when it is still in use, a stream at most once per
 * LRU_REQUEUE_NS (an endpoint, whose timeout is an hour, more rarely). Idle
 * expiry is then late by less than that; moving entries on use cost 5 % of
 * the time at 10,000 calls (two misses on the list neighbours). */
#define LRU_REQUEUE_NS (2 * NS_PER_S)
#define LRU_SECOND_CHANCES 8

enum { AGG_LEG = 0, AGG_CALL = 1 };

struct five {
    struct ts_addr src, dst;
    uint16_t sport, dport;
};

/* Fields in the order one packet touches them: the lookup key, the
 * generation check, the codec cache, the statistics; the record (whose
 * per-packet counters come first) and the rarely used fields last. */
struct mstream {
    struct ht_node node;
    struct five key;
    uint32_t ssrc;            /* rec.ssrc, beside the rest of the key */
    /* The expectation lookup of the last slow-path packet (e NULL: none),
     * valid while the generations of both endpoints' slots are unchanged:
     * a packet of a known stream then needs no expectation lookup. */
    uint32_t eslot[2], egen[2]; /* dst, src */
    struct mexpect *e;
    bool by_src, e_valid;
    bool also_dirty;          /* an expectation at either end changed: leg_also again */
    uint8_t side;             /* toward which leg side (see struct magg) */
    bool have_main, have_event, have_audio;
    bool leg_rx_noted, leg_audio_noted; /* the leg aggregate knows of this stream */
    bool also_audio;
    uint8_t nalso;
    uint32_t win_pkts;
    float win_jitter;
    uint64_t win_start_ns;
    uint64_t queued_ns;       /* last move to the LRU's young end (see LRU_REQUEUE_NS) */
    uint64_t e_seen_ns;       /* e->last_ns last refreshed (once a second) */
    uint64_t audio_pkts;
    /* codec of the last payload type, valid for (pt, expectation) until the
     * expectation changes: saves the SDP and name lookups on every packet */
    struct pt_cache {
        int16_t pt;
        bool event;
        bool unlisted;        /* the expectation lists formats, not this one */
        uint32_t ws_clock, real_clock;
        const struct mexpect *e;
        const char *name;
    } pc;
    struct rtpstat st;
    struct media_stream rec;
    /* in the stream list of its leg's aggregate (lg), and in the FIFO of
     * streams whose leg ended (end_ns: when to look at it) */
    struct magg *lg;
    struct mstream *lg_next, **lg_pprev;
    struct mstream *end_next, *end_prev;
    bool ending;
    uint64_t end_ns;
    uint32_t win_lost0, series_cap;
    uint32_t last_event_ts;
    struct leg_also {         /* other legs carrying it (see leg_also) */
        uint64_t leg;
        uint8_t side;
        bool audio;
    } also[TS_MEDIA_ALSO_LEGS];
};

/* Unsignalled RTP is taken on its content and on two packets that continue
 * each other, not on its ports: the first RTP-looking datagram of a 5-tuple
 * + SSRC waits here, and is replayed into the stream when a second one with
 * the same payload type follows within CAND_TTL_NS, its sequence number
 * 1..CAND_SEQ_AHEAD ahead and its timestamp at most CAND_TS_AHEAD ahead. A
 * protocol whose first byte happens to read as version 2 (BACnet/IP's
 * 0x81, DNS ids, ...) does not continue a sequence. */
#define CAND_TTL_NS (5 * NS_PER_S)
#define CAND_SEQ_AHEAD 16
#define CAND_TS_AHEAD (1u << 17) /* 16 packets of 90 kHz video, 2.7 s of 48 kHz audio */
#define CAND_PAYLOAD 16        /* enough for an RFC 4733 event */

struct mcand {
    struct ht_node node;
    struct five key;
    uint32_t ssrc;
    uint16_t plen;
    size_t len;               /* whole RTP datagram */
    struct rtp_hdr h;         /* views cleared; payload re-pointed at payload[] */
    struct pkt_meta pm;       /* site cleared: not kept */
    uint8_t payload[CAND_PAYLOAD];
};

struct mflow {               /* 5-tuple -> last SSRC, for SSRC changes */
    struct ht_node node;
    struct five key;
    uint32_t ssrc;
    uint64_t last_ns;
};

/* Sized to its format list (RTCP endpoints keep none): most SDPs list 2-5
 * formats, and at 10,000 calls there are ~80,000 of these. */
struct mexpect {
    struct ht_node node;
    struct ts_addr addr;
    uint16_t port;
    bool is_rtcp, rtcp_mux;
    uint8_t side;
    uint8_t dir;              /* enum media_dir */
    bool srtp, not_rtp;
    uint8_t ncodecs, ncap;    /* codec[] used and allocated */
    uint64_t leg_ref, call_ref, last_ns;
    uint64_t queued_ns;       /* last move to the LRU's young end (see LRU_REQUEUE_NS) */
    struct media_codec codec[];
};

struct sr_seen {
    uint32_t lsr;            /* middle 32 bits of the SR's NTP timestamp */
    uint64_t t_ns;           /* capture time of that SR */
};

struct msrc {
    struct ht_node node;
    uint32_t ssrc;
    uint64_t last_ns;
    uint32_t jitter_ts;      /* last reported jitter, timestamp units */
    bool have_jitter;
    uint8_t sr_i;
    struct sr_seen srs[4];
    struct media_rtcp r;
};

struct magg {
    struct ht_node node;
    uint8_t kind;
    uint64_t ref;
    uint64_t call_ref;        /* legs: their call */
    uint64_t answered_ns, ended_ns, bye_ns;
    bool evaluated;
    struct ts_addr ep[2];
    uint16_t ep_port[2];
    bool ep_set[2];
    uint64_t rx[2], audio_rx[2], first_rx_ns[2];
    uint64_t done_audio[2];   /* audio packets of its finished streams, per side */
    uint64_t done_n[2];       /* and their number */
    struct media_quality q;
    struct mstream *streams;  /* legs: live streams toward it (mstream.lg) */
};

struct gap_ev {
    uint64_t t_ns, stream_id;
};

struct media {
    struct media_config cfg;
    struct ts_stats own_st;
    struct ts_stats *st;
    struct htab streams, flows, expect, srcs, aggs, cands;
    media_sink_fn sink;
    void *sink_ctx;
    uint64_t next_id, emitted, base_ns;
    uint64_t hint;            /* see media_set_hint; used once */
    uint32_t *egen;           /* per hash slot of an endpoint: bumped whenever an
                               * expectation there appears, changes or goes */
    bool have_base;
    struct media_stream *report;
    size_t nreport, report_cap;
    struct gap_ev gaps[GAP_RING];
    unsigned gap_i;
    uint64_t last_gap_ns;
    struct mstream *end_head, *end_tail; /* streams of ended legs, by end_ns */
    struct rtcp_compound rtcp; /* scratch: large */
};

static const char *const flag_names[MEDIA_F_N] = {
    "one_way", "no_audio", "late_media", "rtp_after_bye", "codec_mismatch",
    "capture_gap", "srtp", "unsignalled", "ssrc_change", "evicted", "series_full",
};

const char *media_flag_name(unsigned bit)
{
    return bit < MEDIA_F_N ? flag_names[bit] : NULL;
}

static const char *const reason_names[MEDIA_R_N] = {
    NULL, "loss", "burst_loss", "late_discards", "delay", "codec", "one_way", "no_audio",
};

const char *media_reason_name(unsigned r)
{
    return r < MEDIA_R_N ? reason_names[r] : NULL;
}

double media_stream_leg_mos(const struct media_stream *s, uint8_t *reason)
{
    if (s->flags & MEDIA_F_ONE_WAY) {
        *reason = MEDIA_R_ONE_WAY;
        return 1.0;
    }
    *reason = s->mos >= 0 && s->mos < MEDIA_POOR_MOS ? s->mos_reason : MEDIA_R_NONE;
    return s->mos;
}

void media_config_default(struct media_config *cfg)
{
    *cfg = (struct media_config){
        .idle_ms = 30000, .jb_ms = 60, .expect_idle_ms = 3600000,
        .max_streams = TS_MEDIA_MAX_STREAMS, .max_report = TS_MEDIA_MAX_REPORT_STREAMS,
        .heuristic = true, .heuristic_confirm = true,
    };
}

/* ---- keys ---- */

static uint64_t hash_ep(const struct ts_addr *a, uint16_t port)
{
    uint8_t k[19];
    k[0] = a->family;
    memcpy(k + 1, a->a, 16);
    k[17] = (uint8_t)(port >> 8);
    k[18] = (uint8_t)port;
    return ts_hash(k, sizeof k);
}

/* One hash over both endpoints (and the SSRC for streams): this runs for
 * every RTP packet, so the key is packed (4 address bytes for IPv4: half the
 * SipHash rounds) and hashed once. */
static size_t pack_addr(uint8_t *k, const struct ts_addr *a, uint16_t port)
{
    size_t n = a->family == 4 ? 4 : 16;
    k[0] = a->family;
    memcpy(k + 1, a->a, n);
    k[n + 1] = (uint8_t)(port >> 8);
    k[n + 2] = (uint8_t)port;
    return n + 3;
}

static size_t pack_five(const struct five *f, uint8_t k[42])
{
    size_t n = pack_addr(k, &f->src, f->sport);
    return n + pack_addr(k + n, &f->dst, f->dport);
}

static uint64_t hash_five(const struct five *f)
{
    uint8_t k[42];
    return ts_hash(k, pack_five(f, k));
}

static uint64_t hash_stream(const struct five *f, uint32_t ssrc)
{
    uint8_t k[42];
    size_t n = pack_five(f, k);
    memcpy(k + n, &ssrc, sizeof ssrc);
    return ts_hash(k, n + sizeof ssrc);
}

static bool five_eq(const struct five *a, const struct five *b)
{
    return a->sport == b->sport && a->dport == b->dport && ts_addr_eq(&a->src, &b->src) &&
           ts_addr_eq(&a->dst, &b->dst);
}

/* The 5-tuple key of a packet (zeroed first: it is hashed as bytes). */
static void five_of(const struct pkt_meta *pm, struct five *f)
{
    memset(f, 0, sizeof *f);
    f->src = pm->src;
    f->dst = pm->dst;
    f->sport = pm->sport;
    f->dport = pm->dport;
}

struct stream_key {
    const struct five *f;
    uint32_t ssrc;
};

static bool stream_eq(const struct ht_node *n, const void *key)
{
    const struct mstream *s = ts_container_of(n, struct mstream, node);
    const struct stream_key *k = key;
    return s->ssrc == k->ssrc && five_eq(&s->key, k->f);
}

static bool flow_eq(const struct ht_node *n, const void *key)
{
    return five_eq(&ts_container_of(n, struct mflow, node)->key, key);
}

struct ep_key {
    const struct ts_addr *a;
    uint16_t port;
};

static bool expect_eq(const struct ht_node *n, const void *key)
{
    const struct mexpect *e = ts_container_of(n, struct mexpect, node);
    const struct ep_key *k = key;
    return e->port == k->port && ts_addr_eq(&e->addr, k->a);
}

static bool src_eq(const struct ht_node *n, const void *key)
{
    return ts_container_of(n, struct msrc, node)->ssrc == *(const uint32_t *)key;
}

struct agg_key {
    uint8_t kind;
    uint64_t ref;
};

static bool agg_eq(const struct ht_node *n, const void *key)
{
    const struct magg *a = ts_container_of(n, struct magg, node);
    const struct agg_key *k = key;
    return a->kind == k->kind && a->ref == k->ref;
}

static uint64_t hash_agg(uint8_t kind, uint64_t ref)
{
    uint8_t k[9];
    k[0] = kind;
    memcpy(k + 1, &ref, 8);
    return ts_hash(k, sizeof k);
}

static uint64_t hash_u32(uint32_t v) { return ts_hash(&v, sizeof v); }

/* An endpoint's slot in the generation table. A collision only sends a
 * stream's packet through the expectation lookup again, so the cheap mix
 * does (two SipHashes per RTP packet were a seventh of the reader thread). */
static uint32_t ep_slot(const struct ts_addr *a, uint16_t port)
{
    uint64_t w[2];
    memcpy(w, a->a, sizeof w);
    uint64_t h = ts_mix64(0, w[0] ^ ((uint64_t)port << 32 ^ (uint64_t)a->family << 48));
    if (w[1])
        h = ts_mix64(h, w[1]);
    return (uint32_t)(h >> 32) & (TS_MEDIA_EGEN_SLOTS - 1);
}

/* ---- lifecycle ---- */

struct media *media_new(const struct media_config *cfg, struct ts_stats *st)
{
    struct media *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (cfg)
        m->cfg = *cfg;
    else
        media_config_default(&m->cfg);
    if (!m->cfg.max_streams || m->cfg.max_streams > TS_MEDIA_MAX_STREAMS)
        m->cfg.max_streams = TS_MEDIA_MAX_STREAMS;
    if (m->cfg.max_report > TS_MEDIA_MAX_REPORT_STREAMS)
        m->cfg.max_report = TS_MEDIA_MAX_REPORT_STREAMS;
    if (!m->cfg.idle_ms)
        m->cfg.idle_ms = 30000;
    m->st = st ? st : &m->own_st;
    if (htab_init(&m->streams, m->cfg.max_streams) || htab_init(&m->flows, m->cfg.max_streams) ||
        htab_init(&m->expect, TS_MEDIA_MAX_EXPECT) || htab_init(&m->srcs, TS_MEDIA_MAX_SOURCES) ||
        htab_init(&m->aggs, TS_MEDIA_MAX_AGG) || htab_init(&m->cands, TS_MEDIA_MAX_CANDIDATES) ||
        !(m->egen = calloc(TS_MEDIA_EGEN_SLOTS, sizeof *m->egen))) {
        media_free(m);
        return NULL;
    }
    return m;
}

static void free_all(struct htab *t, size_t off)
{
    if (!t->buckets)
        return;
    struct ht_node *n;
    while ((n = htab_oldest(t))) {
        htab_remove(t, n);
        free((char *)n - off);
    }
    htab_cleanup(t);
}

void media_free(struct media *m)
{
    if (!m)
        return;
    struct ht_node *n;
    if (m->streams.buckets) {
        while ((n = htab_oldest(&m->streams))) {
            struct mstream *s = ts_container_of(n, struct mstream, node);
            htab_remove(&m->streams, n);
            free(s->rec.series);
            free(s);
        }
        htab_cleanup(&m->streams);
    }
    free_all(&m->flows, offsetof(struct mflow, node));
    free_all(&m->expect, offsetof(struct mexpect, node));
    free_all(&m->srcs, offsetof(struct msrc, node));
    free_all(&m->aggs, offsetof(struct magg, node));
    free_all(&m->cands, offsetof(struct mcand, node));
    for (size_t i = 0; i < m->nreport; i++)
        free(m->report[i].series);
    free(m->report);
    free(m->egen);
    free(m);
}

void media_set_sink(struct media *m, media_sink_fn fn, void *ctx)
{
    m->sink = fn;
    m->sink_ctx = ctx;
}

/* ---- aggregates ---- */

/* A leg's live streams: ended soon after the leg (see LEG_END_GRACE_NS). */
static void lg_attach(struct mstream *s, struct magg *leg)
{
    if (s->lg)
        return;
    s->lg = leg;
    s->lg_next = leg->streams;
    if (leg->streams)
        leg->streams->lg_pprev = &s->lg_next;
    s->lg_pprev = &leg->streams;
    leg->streams = s;
}

static void lg_detach(struct mstream *s)
{
    if (!s->lg)
        return;
    *s->lg_pprev = s->lg_next;
    if (s->lg_next)
        s->lg_next->lg_pprev = s->lg_pprev;
    s->lg = NULL;
    s->lg_next = NULL;
    s->lg_pprev = NULL;
}

static void end_unlink(struct media *m, struct mstream *s)
{
    if (!s->ending)
        return;
    if (s->end_prev)
        s->end_prev->end_next = s->end_next;
    else
        m->end_head = s->end_next;
    if (s->end_next)
        s->end_next->end_prev = s->end_prev;
    else
        m->end_tail = s->end_prev;
    s->end_next = s->end_prev = NULL;
    s->ending = false;
}

/* Look at s again at time at: it ends then unless it is still sending. */
static void end_append(struct media *m, struct mstream *s, uint64_t at)
{
    if (s->ending)
        return;
    s->ending = true;
    s->end_ns = at;
    s->end_next = NULL;
    s->end_prev = m->end_tail;
    if (m->end_tail)
        m->end_tail->end_next = s;
    else
        m->end_head = s;
    m->end_tail = s;
}

static void agg_free(struct magg *a)
{
    for (struct mstream *s = a->streams, *next; s; s = next) {
        next = s->lg_next;
        s->lg = NULL;
        s->lg_next = NULL;
        s->lg_pprev = NULL;
    }
    free(a);
}

static struct magg *agg_find(const struct media *m, uint8_t kind, uint64_t ref)
{
    if (!ref)
        return NULL;
    struct agg_key k = { kind, ref };
    struct ht_node *n = htab_find(&m->aggs, hash_agg(kind, ref), agg_eq, &k);
    return n ? ts_container_of(n, struct magg, node) : NULL;
}

static struct magg *agg_get(struct media *m, uint8_t kind, uint64_t ref)
{
    if (!ref)
        return NULL;
    struct magg *a = agg_find(m, kind, ref);
    if (a) {
        htab_touch(&m->aggs, &a->node);
        return a;
    }
    if (htab_full(&m->aggs)) {
        struct ht_node *o = htab_oldest(&m->aggs);
        htab_remove(&m->aggs, o);
        agg_free(ts_container_of(o, struct magg, node));
        TS_INC(m->st, RTP_AGG_EVICTED);
    }
    a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->kind = kind;
    a->ref = ref;
    a->q.mos = a->q.r_factor = -1;
    htab_insert(&m->aggs, &a->node, hash_agg(kind, ref));
    return a;
}

/* The worst MOS wins, with its R and its reason. */
static void quality_worst(struct media_quality *q, double mos, double rf, uint8_t reason)
{
    if (mos >= 0 && (q->mos < 0 || mos < q->mos)) {
        q->mos = mos;
        q->r_factor = rf;
        q->reason = mos < MEDIA_POOR_MOS ? reason : MEDIA_R_NONE;
    }
}

static void quality_add(struct media_quality *q, const struct media_stream *s)
{
    q->streams++;
    q->packets += s->packets;
    q->lost += s->lost;
    uint8_t reason;
    double mos = media_stream_leg_mos(s, &reason);
    quality_worst(q, mos, mos == s->mos ? s->r_factor : 0, reason);
    if (s->max_jitter_ms > q->max_jitter_ms)
        q->max_jitter_ms = s->max_jitter_ms;
    q->flags |= s->flags & ~(uint32_t)(MEDIA_F_EVICTED | MEDIA_F_SERIES_FULL);
}

/* Audio packets toward side of the leg so far: finished streams and (up to
 * TS_MEDIA_LEG_WALK) live ones; *complete when every stream the leg was
 * told of (rx) was among them (a stream carried for another leg, see
 * leg_also, is not in its list until it ends). */
static uint64_t leg_side_audio(const struct magg *leg, unsigned side, bool *complete)
{
    uint64_t n = leg->done_audio[side], seen = leg->done_n[side];
    unsigned k = 0;
    for (const struct mstream *x = leg->streams; x && k < TS_MEDIA_LEG_WALK; x = x->lg_next, k++)
        if (x->side == side) {
            n += x->audio_pkts;
            seen++;
        }
    *complete = seen >= leg->rx[side] && k < TS_MEDIA_LEG_WALK;
    return n;
}

/* A direction is nearly empty when the other carried at least this many
 * audio packets (5 s at 20 ms) and it less than a twentieth of them:
 * a few packets (a greeting, NAT pinholes) are not a conversation. */
#define NEAR_EMPTY_MIN 250
#define NEAR_EMPTY_DIV 20

static bool leg_nearly_one_way(const struct magg *leg)
{
    if (!leg->ep_set[0] || !leg->ep_set[1])
        return false;
    bool ca, cb;
    uint64_t a = leg_side_audio(leg, 0, &ca), b = leg_side_audio(leg, 1, &cb);
    uint64_t hi = a > b ? a : b, lo = a > b ? b : a;
    return ca && cb && hi >= NEAR_EMPTY_MIN && lo * NEAR_EMPTY_DIV < hi;
}

/* Leg-level verdicts once a leg ended (or the input did): a one-way or
 * silent leg scores MOS 1.0, whatever the working direction scored. */
static void leg_evaluate(struct media *m, struct magg *leg)
{
    if (!leg->answered_ns || leg->evaluated)
        return;
    leg->evaluated = true;
    uint32_t f = 0;
    bool a = leg->audio_rx[0] > 0, b = leg->audio_rx[1] > 0;
    if (!a && !b)
        f |= MEDIA_F_NO_AUDIO;
    else if ((a != b || leg_nearly_one_way(leg)) && leg->ep_set[0] && leg->ep_set[1])
        f |= MEDIA_F_ONE_WAY;
    if (!f)
        return;
    uint8_t why = (f & MEDIA_F_NO_AUDIO) ? MEDIA_R_NO_AUDIO : MEDIA_R_ONE_WAY;
    leg->q.flags |= f;
    quality_worst(&leg->q, 1.0, 0, why);
    struct magg *call = agg_find(m, AGG_CALL, leg->call_ref);
    if (call) {
        call->q.flags |= f;
        quality_worst(&call->q, 1.0, 0, why);
    }
}

/* ---- finishing streams ---- */

static double stream_mos(const struct media *m, struct media_stream *r, double ppl,
                         double burst, double *rf)
{
    enum emodel_codec c = emodel_codec_by_name(r->codec);
    if (c == EMODEL_UNKNOWN) {
        *rf = -1;
        return -1;
    }
    double ptime = r->mean_delta_ms > 0 && r->mean_delta_ms < 200 ? r->mean_delta_ms : 20;
    double net = r->rtcp.rtt_n ? r->rtcp.rtt_ms / 2 : 0;
    double delay = net + ptime + emodel_codec(c)->delay_ms + m->cfg.jb_ms;
    r->delay_ms = delay;
    *rf = emodel_r_for(c, delay, ppl, burst);
    return emodel_mos(*rf);
}

/* Which impairment took a stream under MEDIA_POOR_MOS: delay or codec when
 * the stream is poor even without loss, else late discards when they are
 * most of the bad packets, burst loss when the same loss at random would
 * not be poor, plain loss otherwise. */
static uint8_t stream_reason(const struct media_stream *r, const struct rtpstat *st)
{
    if (r->mos < 0 || r->mos >= MEDIA_POOR_MOS)
        return MEDIA_R_NONE;
    enum emodel_codec c = emodel_codec_by_name(r->codec);
    if (emodel_mos(emodel_r_for(c, r->delay_ms, 0, 1)) < MEDIA_POOR_MOS)
        return emodel_mos(emodel_r_for(c, 0, 0, 1)) < MEDIA_POOR_MOS ? MEDIA_R_CODEC
                                                                     : MEDIA_R_DELAY;
    uint32_t late = st->discarded, net = st->bad > late ? st->bad - late : 0;
    if (late > net)
        return MEDIA_R_LATE;
    if (r->burst_r > 1 && emodel_mos(emodel_r_for(c, r->delay_ms, r->ppl, 1)) >= MEDIA_POOR_MOS)
        return MEDIA_R_BURST_LOSS;
    return MEDIA_R_LOSS;
}

static void series_push(struct media *m, struct mstream *s, const struct media_series *pt)
{
    struct media_stream *r = &s->rec;
    if (r->nseries >= TS_MEDIA_MAX_SERIES) {
        if (!(r->flags & MEDIA_F_SERIES_FULL))
            TS_INC(m->st, RTP_SERIES_FULL);
        r->flags |= MEDIA_F_SERIES_FULL;
        return;
    }
    if (r->nseries == s->series_cap) {
        size_t cap = s->series_cap;
        struct media_series *ns = ts_grow(r->series, &cap, sizeof *ns, 16, TS_MEDIA_MAX_SERIES);
        if (!ns)
            return;
        r->series = ns;
        s->series_cap = (uint32_t)cap;
    }
    r->series[r->nseries++] = *pt;
}

static void window_close(struct media *m, struct mstream *s)
{
    struct media_series pt = { 0 };
    uint32_t lost = s->st.win_lost - s->win_lost0;
    pt.packets = (uint16_t)(s->win_pkts > 65535 ? 65535 : s->win_pkts);
    pt.lost = (uint16_t)(lost > 65535 ? 65535 : lost);
    pt.jitter_ms = s->win_jitter;
    pt.mos = -1;
    enum emodel_codec c = emodel_codec_by_name(s->rec.codec);
    if (c != EMODEL_UNKNOWN && s->win_pkts) {
        double ppl = 100.0 * lost / (lost + s->win_pkts);
        double delay = 20 + emodel_codec(c)->delay_ms + m->cfg.jb_ms;
        pt.mos = (float)emodel_mos(emodel_r_for(c, delay, ppl, 1));
    }
    series_push(m, s, &pt);
    s->win_pkts = 0;
    s->win_lost0 = s->st.win_lost;
    s->win_jitter = 0;
}

static void copy_rtcp(struct media *m, struct media_stream *r)
{
    uint32_t ssrc = r->ssrc;
    struct ht_node *n = htab_find(&m->srcs, hash_u32(ssrc), src_eq, &ssrc);
    r->rtcp.jitter_ms = -1;
    r->rtcp.xr_mos_lq = r->rtcp.xr_r_factor = -1;
    if (!n)
        return;
    const struct msrc *src = ts_container_of(n, struct msrc, node);
    r->rtcp = src->r;
    r->rtcp.jitter_ms = src->have_jitter && r->clock ? (float)(src->jitter_ts * 1000.0 / r->clock)
                                                     : -1.0f;
}

static void stream_end(struct media *m, struct mstream *s, bool evicted)
{
    struct media_stream *r = &s->rec;
    const struct rtpstat *st = &s->st;
    if (evicted)
        r->flags |= MEDIA_F_EVICTED;
    r->expected = rtpstat_expected(st);
    r->lost = rtpstat_lost(st);
    r->lost_pct = r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0;
    r->duplicates = st->duplicates;
    r->out_of_order = st->out_of_order;
    r->seq_resets = st->resets;
    r->seq_errors = st->seq_errors;
    r->discarded = st->discarded;
    r->min_delta_ms = st->min_delta;
    r->mean_delta_ms = st->mean_delta;
    r->max_delta_ms = st->max_delta;
    r->min_jitter_ms = st->min_jitter;
    r->mean_jitter_ms = st->mean_jitter;
    r->max_jitter_ms = st->max_jitter;
    r->problem = st->problem;
    copy_rtcp(m, r);

    /* E-model: network losses and late discards, as one loss pattern. */
    int64_t exp = rtpstat_rfc_expected(st);
    double total = exp > 0 ? (double)exp : (double)r->packets;
    double bad = st->bad;
    if (bad > total)
        bad = total;
    r->ppl = total > 0 ? 100.0 * bad / total : 0;
    r->burst_r = emodel_burst_r(bad, st->runs, total);
    r->mos = stream_mos(m, r, r->ppl, r->burst_r, &r->r_factor);
    r->mos_reason = stream_reason(r, st);

    if (s->win_pkts)
        window_close(m, s);

    /* Detections that need the leg's view. */
    struct magg *leg = agg_find(m, AGG_LEG, r->leg_ref);
    if (leg) {
        unsigned other = s->side ^ 1u;
        if (leg->answered_ns) {
            if (!s->audio_pkts)
                r->flags |= MEDIA_F_NO_AUDIO;
            if (leg->ep_set[0] && leg->ep_set[1] &&
                (leg->rx[other] == 0 || (s->audio_pkts && leg_nearly_one_way(leg))))
                r->flags |= MEDIA_F_ONE_WAY;
            if (r->first_ns > leg->answered_ns + LATE_MEDIA_NS &&
                leg->first_rx_ns[s->side] == r->first_ns)
                r->flags |= MEDIA_F_LATE_MEDIA;
        }
        if (leg->bye_ns && r->last_ns > leg->bye_ns + AFTER_BYE_NS)
            r->flags |= MEDIA_F_RTP_AFTER_BYE;
        quality_add(&leg->q, r);
        if (s->lg == leg) {
            leg->done_audio[s->side] += s->audio_pkts;
            leg->done_n[s->side]++;
        }
    }
    for (unsigned i = 0; i < s->nalso; i++) { /* the other legs it was counted on */
        struct magg *l = agg_find(m, AGG_LEG, s->also[i].leg);
        if (l) {
            l->done_audio[s->also[i].side] += s->audio_pkts;
            l->done_n[s->also[i].side]++;
        }
    }
    struct magg *call = agg_find(m, AGG_CALL, r->call_ref);
    if (call)
        quality_add(&call->q, r);

    m->emitted++;
    if (m->sink)
        m->sink(m->sink_ctx, r);
    if (m->nreport == m->report_cap && m->report_cap < m->cfg.max_report) {
        struct media_stream *nr =
            ts_grow(m->report, &m->report_cap, sizeof *nr, 64, m->cfg.max_report);
        if (nr)
            m->report = nr;
    }
    if (m->nreport < m->report_cap) {
        m->report[m->nreport++] = *r;
        r->series = NULL;
    } else if (m->cfg.max_report) {
        TS_INC(m->st, RTP_REPORT_DROPPED);
    }
    free(r->series);
    lg_detach(s);
    end_unlink(m, s);
    htab_remove(&m->streams, &s->node);
    free(s);
}

/* ---- capture gaps ---- */

static void flag_live_since(struct media *m, uint64_t t0, uint64_t t1)
{
    /* Every stream: the LRU is ordered by queue time, not last use (a gap
     * is found at most once a second). */
    for (struct ht_node *n = m->streams.lru.lnext; n != &m->streams.lru; n = n->lnext) {
        struct mstream *s = ts_container_of(n, struct mstream, node);
        if (s->rec.last_ns >= t0 && s->rec.first_ns <= t1)
            s->rec.flags |= MEDIA_F_CAPTURE_GAP;
    }
}

static void gap_note(struct media *m, const struct mstream *s, uint64_t t)
{
    m->gaps[m->gap_i++ % GAP_RING] = (struct gap_ev){ t, s->rec.id };
    if (t < m->last_gap_ns + NS_PER_S)
        return;
    uint64_t ids[GAP_RING];
    size_t n = 0;
    for (unsigned i = 0; i < GAP_RING; i++) {
        const struct gap_ev *g = &m->gaps[i];
        if (!g->stream_id || g->t_ns + GAP_WINDOW_NS < t || g->t_ns > t + GAP_WINDOW_NS)
            continue;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = ids[j] == g->stream_id;
        if (!dup)
            ids[n++] = g->stream_id;
    }
    size_t live = m->streams.count;
    if (n >= GAP_MIN_STREAMS && n * 10 >= live * 8) {
        m->last_gap_ns = t;
        TS_INC(m->st, RTP_CAPTURE_GAPS);
        flag_live_since(m, t > NS_PER_S ? t - NS_PER_S : 0, t);
    }
}

void media_capture_gap(struct media *m, uint64_t t0_ns, uint64_t t1_ns)
{
    if (t1_ns < t0_ns)
        return;
    TS_INC(m->st, RTP_CAPTURE_GAPS);
    flag_live_since(m, t0_ns, t1_ns);
    for (size_t i = 0; i < m->nreport; i++) {
        struct media_stream *r = &m->report[i];
        if (r->first_ns <= t1_ns && r->last_ns >= t0_ns)
            r->flags |= MEDIA_F_CAPTURE_GAP;
    }
}

/* ---- expectations ---- */

static void egen_bump(struct media *m, const struct ts_addr *a, uint16_t port)
{
    m->egen[ep_slot(a, port)]++;
}

static struct mexpect *expect_find_h(const struct media *m, const struct ts_addr *a,
                                     uint16_t port, uint64_t h)
{
    struct ep_key k = { a, port };
    struct ht_node *n = htab_find(&m->expect, h, expect_eq, &k);
    return n ? ts_container_of(n, struct mexpect, node) : NULL;
}

static struct mexpect *expect_find(const struct media *m, const struct ts_addr *a, uint16_t port)
{
    return expect_find_h(m, a, port, hash_ep(a, port));
}

static void expect_drop(struct media *m, struct mexpect *e)
{
    egen_bump(m, &e->addr, e->port);
    htab_remove(&m->expect, &e->node);
    free(e);
}

/* Eviction's second chance: an entry used since it was queued goes to the
 * young end instead (true), if it was queued long enough ago. */
static bool lru_spared(struct htab *t, struct ht_node *n, uint64_t last_ns, uint64_t *queued_ns,
                       uint64_t now)
{
    return last_ns > *queued_ns && htab_requeue(t, n, queued_ns, now, LRU_REQUEUE_NS);
}

/* The oldest SDP endpoint not in use, to make room (LRU_SECOND_CHANCES
 * spared at most). */
static struct mexpect *expect_victim(struct media *m, uint64_t now)
{
    for (int k = 0;; k++) {
        struct mexpect *e = ts_container_of(htab_oldest(&m->expect), struct mexpect, node);
        if (k == LRU_SECOND_CHANCES ||
            !lru_spared(&m->expect, &e->node, e->last_ns, &e->queued_ns, now))
            return e;
    }
}

static void expect_put(struct media *m, const struct ts_addr *a, uint16_t port, bool is_rtcp,
                       bool mux, uint8_t side, uint64_t leg, uint64_t call, uint64_t now,
                       const struct media_sdp_info *info)
{
    uint64_t h = hash_ep(a, port);
    unsigned nc = info && !is_rtcp ? info->ncodecs : 0;
    if (nc > TS_MEDIA_SDP_CODECS)
        nc = TS_MEDIA_SDP_CODECS;
    /* Streams holding the old expectation look again (see struct mstream). */
    egen_bump(m, a, port);
    struct mexpect *e = expect_find_h(m, a, port, h);
    bool known = e != NULL;
    if (e && e->ncap < nc) {
        expect_drop(m, e); /* too small for the new format list */
        e = NULL;
    }
    if (e) {
        htab_touch(&m->expect, &e->node);
    } else {
        if (htab_full(&m->expect)) {
            expect_drop(m, expect_victim(m, now));
            TS_INC(m->st, RTP_EXPECT_EVICTED);
        }
        e = calloc(1, sizeof *e + nc * sizeof e->codec[0]);
        if (!e)
            return;
        e->addr = *a;
        e->port = port;
        e->ncap = (uint8_t)nc;
        htab_insert(&m->expect, &e->node, h);
        if (!known)
            TS_INC(m->st, RTP_EXPECT);
    }
    e->is_rtcp = is_rtcp;
    e->rtcp_mux = mux;
    e->side = side;
    e->leg_ref = leg;
    e->call_ref = call;
    e->last_ns = e->queued_ns = now;
    e->dir = info ? info->dir : 0;
    e->srtp = info && info->srtp;
    e->not_rtp = info && info->not_rtp;
    e->ncodecs = (uint8_t)nc;
    if (nc)
        memcpy(e->codec, info->codec, nc * sizeof e->codec[0]);
}

/* Which side of the leg an endpoint is: the same endpoint keeps its side,
 * a new one takes a free side, a re-INVITE moving ports keeps the host's. */
static uint8_t leg_side(struct magg *leg, const struct ts_addr *a, uint16_t port)
{
    if (!leg)
        return 0;
    for (uint8_t i = 0; i < 2; i++)
        if (leg->ep_set[i] && leg->ep_port[i] == port && ts_addr_eq(&leg->ep[i], a))
            return i;
    uint8_t side = 1;
    if (!leg->ep_set[0])
        side = 0;
    else if (!leg->ep_set[1])
        side = 1;
    else if (ts_addr_eq(&leg->ep[0], a))
        side = 0;
    leg->ep[side] = *a;
    leg->ep_port[side] = port;
    leg->ep_set[side] = true;
    return side;
}

void media_expect(struct media *m, const struct ts_addr *addr, uint16_t port, bool rtcp_mux,
                  uint64_t leg_ref, uint64_t call_ref, uint64_t now_ns,
                  const struct media_sdp_info *info)
{
    if (!addr || (addr->family != 4 && addr->family != 6) || port == 0)
        return;
    struct magg *leg = agg_get(m, AGG_LEG, leg_ref);
    if (leg && call_ref)
        leg->call_ref = call_ref;
    (void)agg_get(m, AGG_CALL, call_ref);
    uint8_t side = leg_side(leg, addr, port);
    expect_put(m, addr, port, false, rtcp_mux, side, leg_ref, call_ref, now_ns, info);
    if (!rtcp_mux && !(info && info->not_rtp)) {
        uint16_t rp = info && info->rtcp_port ? info->rtcp_port : (uint16_t)(port + 1);
        if (rp && rp != port)
            expect_put(m, addr, rp, true, false, side, leg_ref, call_ref, now_ns, info);
    }
}

void media_leg_answered(struct media *m, uint64_t leg_ref, uint64_t ts_ns)
{
    struct magg *leg = agg_get(m, AGG_LEG, leg_ref);
    if (!leg || leg->answered_ns)
        return;
    leg->answered_ns = ts_ns;
    if (leg->ended_ns && !leg->bye_ns) { /* ended by a challenge or failure: reopened */
        leg->ended_ns = 0;
        leg->evaluated = false;
    }
}

void media_leg_bye(struct media *m, uint64_t leg_ref, uint64_t ts_ns)
{
    struct magg *leg = agg_get(m, AGG_LEG, leg_ref);
    if (!leg)
        return;
    if (!leg->bye_ns)
        leg->bye_ns = ts_ns;
    media_leg_ended(m, leg_ref, ts_ns);
}

void media_leg_ended(struct media *m, uint64_t leg_ref, uint64_t ts_ns)
{
    struct magg *leg = agg_get(m, AGG_LEG, leg_ref);
    if (leg && !leg->ended_ns) {
        leg->ended_ns = ts_ns;
        leg_evaluate(m, leg);
        for (struct mstream *s = leg->streams; s; s = s->lg_next)
            end_append(m, s, ts_ns + LEG_END_GRACE_NS);
    }
}

void media_sdp_info_from(const struct sdp_media *sm, struct media_sdp_info *info)
{
    memset(info, 0, sizeof *info);
    if (!sm)
        return;
    for (unsigned i = 0; i < sm->nfmt && info->ncodecs < TS_MEDIA_SDP_CODECS; i++) {
        struct media_codec *c = &info->codec[info->ncodecs++];
        struct bv name = { 0 };
        c->pt = sm->fmt[i];
        if (sdp_codec_for_pt(sm, sm->fmt[i], &name, &c->clock)) {
            size_t j = 0;
            for (; j < name.len && j + 1 < sizeof c->name; j++) {
                int ch = bv_at(name, j);
                c->name[j] = (char)(ch > 32 && ch < 127 ? ch : '?');
            }
            c->name[j] = 0;
        }
    }
    switch (sm->dir) {
    case SDP_DIR_SENDONLY: info->dir = MEDIA_DIR_SENDONLY; break;
    case SDP_DIR_RECVONLY: info->dir = MEDIA_DIR_RECVONLY; break;
    case SDP_DIR_INACTIVE: info->dir = MEDIA_DIR_INACTIVE; break;
    default: info->dir = MEDIA_DIR_SENDRECV; break;
    }
    info->srtp = sm->proto == SDP_PROTO_RTP_SAVP || sm->proto == SDP_PROTO_RTP_SAVPF ||
                 sm->proto == SDP_PROTO_UDP_TLS_RTP_SAVP ||
                 sm->proto == SDP_PROTO_UDP_TLS_RTP_SAVPF || sm->crypto;
    info->rtcp_port = sm->rtcp_port;
    info->not_rtp = !sdp_proto_is_rtp(sm->proto);
}

/* ---- RTCP ---- */

static struct msrc *src_get(struct media *m, uint32_t ssrc, uint64_t now)
{
    struct ht_node *n = htab_find(&m->srcs, hash_u32(ssrc), src_eq, &ssrc);
    struct msrc *s;
    if (n) {
        s = ts_container_of(n, struct msrc, node);
        htab_touch(&m->srcs, n);
    } else {
        if (htab_full(&m->srcs)) {
            struct ht_node *o = htab_oldest(&m->srcs);
            htab_remove(&m->srcs, o);
            free(ts_container_of(o, struct msrc, node));
            TS_INC(m->st, RTCP_SOURCES_EVICTED);
        }
        s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        s->ssrc = ssrc;
        s->r.xr_mos_lq = s->r.xr_r_factor = -1;
        htab_insert(&m->srcs, &s->node, hash_u32(ssrc));
    }
    s->last_ns = now;
    return s;
}

static void rtcp_blocks(struct media *m, const struct rtcp_pkt *p, uint64_t now)
{
    for (unsigned i = 0; i < p->u.report.nrb && i < RTCP_MAX_RC; i++) {
        const struct rtcp_report_block *b = &p->u.report.rb[i];
        struct msrc *about = src_get(m, b->ssrc, now);
        if (!about)
            continue;
        about->r.blocks++;
        about->r.fraction_lost = b->fraction_lost / 256.0f;
        if (about->r.fraction_lost > about->r.fraction_lost_max)
            about->r.fraction_lost_max = about->r.fraction_lost;
        about->r.cum_lost = b->cum_lost;
        about->jitter_ts = b->jitter;
        about->have_jitter = true;
        if (!b->lsr)
            continue;
        /* RFC 3550 6.4.1 with capture times: the SR left the capture point
         * at t_sr, the report about it came back at now after DLSR. */
        for (unsigned j = 0; j < 4; j++) {
            const struct sr_seen *sr = &about->srs[j];
            if (!sr->t_ns || sr->lsr != b->lsr || now < sr->t_ns)
                continue;
            double rtt = (double)(now - sr->t_ns) / 1e6 - b->dlsr * 1000.0 / 65536.0;
            if (rtt < 0)
                break;
            about->r.rtt_n++;
            about->r.rtt_ms = (float)rtt;
            if (about->r.rtt_ms > about->r.rtt_max_ms)
                about->r.rtt_max_ms = about->r.rtt_ms;
            break;
        }
    }
}

static void cname_copy(char *dst, size_t cap, struct bv v)
{
    size_t j = 0;
    for (; j < v.len && j + 1 < cap; j++) {
        int c = bv_at(v, j);
        dst[j] = (char)(c >= 32 && c < 127 ? c : '?');
    }
    dst[j] = 0;
}

static void rtcp_datagram(struct media *m, const struct pkt_meta *pm, struct bv payload)
{
    struct rtcp_compound *c = &m->rtcp;
    uint64_t now = pm->ts_ns;
    TS_INC(m->st, RTCP_PACKETS);
    switch (rtcp_parse(payload, c)) {
    case RTP_OK: break;
    case RTP_TRUNCATED: TS_INC(m->st, RTCP_TRUNCATED); break;
    case RTP_UNSUPPORTED: TS_INC(m->st, RTCP_UNSUPPORTED); break;
    default: TS_INC(m->st, RTCP_MALFORMED); break;
    }
    if (c->srtcp)
        TS_INC(m->st, RTCP_SRTCP);
    for (unsigned i = 0; i < c->npkts && i < TS_RTCP_MAX_PACKETS; i++) {
        const struct rtcp_pkt *p = &c->pkts[i];
        struct msrc *src = src_get(m, p->ssrc, now);
        if (!src)
            continue;
        if (c->srtcp)
            src->r.srtcp = true;
        if (c->encrypted) /* only the first header is in clear */
            break;
        switch (p->pt) {
        case RTCP_SR: {
            src->r.sr++;
            TS_INC(m->st, RTCP_SR);
            struct sr_seen *sr = &src->srs[src->sr_i++ & 3];
            sr->lsr = (uint32_t)(p->u.report.si.ntp >> 16);
            sr->t_ns = now;
            rtcp_blocks(m, p, now);
            break;
        }
        case RTCP_RR:
            src->r.rr++;
            TS_INC(m->st, RTCP_RR);
            rtcp_blocks(m, p, now);
            break;
        case RTCP_SDES:
            TS_INC(m->st, RTCP_SDES);
            for (unsigned j = 0; j < p->u.sdes.nchunks && j < RTCP_MAX_RC; j++) {
                struct msrc *cs = j ? src_get(m, p->u.sdes.chunk[j].ssrc, now) : src;
                if (!cs)
                    continue;
                cs->r.sdes++;
                if (p->u.sdes.chunk[j].cname.len)
                    cname_copy(cs->r.cname, sizeof cs->r.cname, p->u.sdes.chunk[j].cname);
            }
            break;
        case RTCP_BYE:
            TS_INC(m->st, RTCP_BYE);
            for (unsigned j = 0; j < p->u.bye.nssrc && j < RTCP_MAX_RC; j++) {
                struct msrc *bs = j ? src_get(m, p->u.bye.ssrc[j], now) : src;
                if (bs)
                    bs->r.bye++;
            }
            break;
        case RTCP_XR:
            src->r.xr++;
            TS_INC(m->st, RTCP_XR);
            if (p->u.xr.has_voip) {
                const struct rtcp_xr_voip *v = &p->u.xr.voip;
                struct msrc *about = src_get(m, v->ssrc, now);
                if (about) {
                    about->r.xr_voip = true;
                    about->r.xr_mos_lq = v->mos_lq != 127 ? v->mos_lq / 10.0f : -1.0f;
                    about->r.xr_r_factor = v->r_factor != 127 ? (float)v->r_factor : -1.0f;
                }
            }
            break;
        case RTCP_APP:
            src->r.app++;
            break;
        case RTCP_RTPFB:
        case RTCP_PSFB:
            src->r.fb++;
            break;
        default:
            break;
        }
    }
}

/* ---- RTP ---- */

static const struct media_codec *codec_of(const struct mexpect *e, uint8_t pt)
{
    if (!e)
        return NULL;
    for (unsigned i = 0; i < e->ncodecs; i++)
        if (e->codec[i].pt == pt)
            return &e->codec[i];
    return NULL;
}

/* A stream lookup done once per packet: its key, hash and result. */
struct slook {
    struct five f;
    uint32_t ssrc;
    uint64_t h;
    struct mstream *s;
};

static void stream_find(struct media *m, const struct pkt_meta *pm, uint32_t ssrc,
                        struct slook *l)
{
    five_of(pm, &l->f);
    l->ssrc = ssrc;
    struct stream_key k = { &l->f, ssrc };
    struct ht_node *n = NULL;
    if (m->hint) { /* found: its stored hash is this key's hash */
        n = htab_find(&m->streams, m->hint, stream_eq, &k);
        l->h = m->hint;
        m->hint = 0;
    }
    if (!n) {
        l->h = hash_stream(&l->f, ssrc);
        n = htab_find(&m->streams, l->h, stream_eq, &k);
    }
    l->s = n ? ts_container_of(n, struct mstream, node) : NULL;
}

void media_set_hint(struct media *m, uint64_t hash)
{
    m->hint = hash;
}

uint64_t media_stream_hash(const struct pkt_meta *pm, struct bv payload)
{
    uint8_t b0 = 0, b1 = 0;
    uint32_t ssrc;
    if (!bv_peek_u8(payload, 0, &b0) || !bv_peek_u8(payload, 1, &b1) || (b0 >> 6) != 2 ||
        (b1 >= 192 && b1 <= 223) || !bv_skip(&payload, 8) || !bv_be32(&payload, &ssrc))
        return 0;
    struct five f;
    five_of(pm, &f);
    uint64_t h = hash_stream(&f, ssrc);
    return h ? h : 1;
}

void media_endpoint_slots(const struct pkt_meta *pm, uint32_t slot[2])
{
    slot[0] = ep_slot(&pm->dst, pm->dport);
    slot[1] = ep_slot(&pm->src, pm->sport);
}

void media_prefetch_bucket(const struct media *m, uint64_t hash, const uint32_t slot[2])
{
    htab_prefetch_bucket(&m->streams, hash);
    ts_prefetch(&m->egen[slot[0] & (TS_MEDIA_EGEN_SLOTS - 1)]);
    ts_prefetch(&m->egen[slot[1] & (TS_MEDIA_EGEN_SLOTS - 1)]);
}

void media_prefetch_stream(const struct media *m, uint64_t hash)
{
    /* the fields one packet touches: up to the record's leg reference */
    htab_prefetch_entry(&m->streams, hash, offsetof(struct mstream, node),
                        offsetof(struct mstream, rec) + offsetof(struct media_stream, id));
}

/* The expectations at both ends are still the ones s saw last. */
static bool stream_current(const struct media *m, const struct mstream *s)
{
    return s->e_valid && m->egen[s->eslot[0]] == s->egen[0] &&
           m->egen[s->eslot[1]] == s->egen[1];
}

/* Remember the slow path's expectation lookup for the packets to come. */
static void stream_bind(struct media *m, struct mstream *s, struct mexpect *e, bool by_src)
{
    if (s->e_valid && s->e == e && s->by_src == by_src && stream_current(m, s))
        return;
    s->e = e;
    s->by_src = by_src;
    s->e_valid = true;
    s->egen[0] = m->egen[s->eslot[0]];
    s->egen[1] = m->egen[s->eslot[1]];
    s->pc.pt = -1;        /* the expectation's formats may have changed */
    s->also_dirty = true; /* and the legs naming these endpoints */
}

/* The oldest stream not in use, to make room (see expect_victim). */
static struct mstream *stream_victim(struct media *m, uint64_t now)
{
    for (int k = 0;; k++) {
        struct mstream *s = ts_container_of(htab_oldest(&m->streams), struct mstream, node);
        if (k == LRU_SECOND_CHANCES ||
            !lru_spared(&m->streams, &s->node, s->rec.last_ns, &s->queued_ns, now))
            return s;
    }
}

static struct mstream *stream_get(struct media *m, const struct pkt_meta *pm, struct slook *l,
                                  const struct mexpect *e, bool by_src)
{
    if (l->s)
        return l->s;
    const struct five f = l->f;
    uint32_t ssrc = l->ssrc;
    uint64_t h = l->h;
    if (htab_full(&m->streams)) {
        TS_INC(m->st, RTP_EVICTED);
        stream_end(m, stream_victim(m, pm->ts_ns), true);
    }
    struct mstream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->key = f;
    s->ssrc = ssrc;
    s->pc.pt = -1;
    media_endpoint_slots(pm, s->eslot);
    rtpstat_init(&s->st);
    struct media_stream *r = &s->rec;
    r->id = ++m->next_id;
    r->src = pm->src;
    r->dst = pm->dst;
    r->sport = pm->sport;
    r->dport = pm->dport;
    r->ssrc = ssrc;
    r->first_ns = r->last_ns = pm->ts_ns;
    r->mos = r->r_factor = -1;
    if (e) {
        r->signalled = true;
        r->leg_ref = e->leg_ref;
        r->call_ref = e->call_ref;
        s->side = by_src ? e->side ^ 1u : e->side;
        if (e->srtp)
            r->flags |= MEDIA_F_SRTP;
    } else {
        r->flags |= MEDIA_F_UNSIGNALLED;
    }
    s->win_start_ns = pm->ts_ns;
    s->queued_ns = pm->ts_ns;
    htab_insert(&m->streams, &s->node, h);
    l->s = s;
    TS_INC(m->st, RTP_STREAMS);

    /* SSRC changes on the same 5-tuple. */
    uint64_t fh = hash_five(&f);
    struct ht_node *fn = htab_find(&m->flows, fh, flow_eq, &f);
    if (fn) {
        struct mflow *fl = ts_container_of(fn, struct mflow, node);
        if (fl->ssrc != ssrc)
            r->flags |= MEDIA_F_SSRC_CHANGE;
        fl->ssrc = ssrc;
        fl->last_ns = pm->ts_ns;
        htab_touch(&m->flows, fn);
    } else {
        if (htab_full(&m->flows)) {
            struct ht_node *o = htab_oldest(&m->flows);
            htab_remove(&m->flows, o);
            free(ts_container_of(o, struct mflow, node));
        }
        struct mflow *fl = calloc(1, sizeof *fl);
        if (fl) {
            fl->key = f;
            fl->ssrc = ssrc;
            fl->last_ns = pm->ts_ns;
            htab_insert(&m->flows, &fl->node, fh);
        }
    }
    return s;
}

static char event_char(uint8_t ev)
{
    static const char map[] = "0123456789*#ABCD";
    return ev < 16 ? map[ev] : (ev == 16 ? '!' : '?');
}

/* A stream toward side of leg started (first_ns), and carries audio. */
static void leg_note_rx(struct magg *leg, unsigned side, uint64_t first_ns, bool audio)
{
    if (!leg->rx[side])
        leg->first_rx_ns[side] = first_ns;
    leg->rx[side]++;
    if (audio)
        leg->audio_rx[side]++;
}

static bool leg_ep_is(const struct magg *l, unsigned side, const struct ts_addr *a, uint16_t port)
{
    return l->ep_set[side] && l->ep_port[side] == port && ts_addr_eq(&l->ep[side], a);
}

/* Media bypassing a B2BUA: several legs' SDP name the same two endpoints,
 * and an endpoint remembers only the last leg that announced it, so the two
 * directions of one media session can land on different legs. Every leg
 * whose SDP names both endpoints of the stream carries it (else each such
 * leg looks one-way or silent). x: an expectation at either end. */
static void leg_also(struct media *m, struct mstream *s, const struct mexpect *x,
                     const struct pkt_meta *pm, bool audio)
{
    if (!x || x->is_rtcp || x->leg_ref == s->rec.leg_ref || s->nalso == TS_MEDIA_ALSO_LEGS)
        return;
    for (unsigned i = 0; i < s->nalso; i++)
        if (s->also[i].leg == x->leg_ref)
            return;
    struct magg *l = agg_find(m, AGG_LEG, x->leg_ref);
    if (!l)
        return;
    for (unsigned to = 0; to < 2; to++) {
        if (!leg_ep_is(l, to, &pm->dst, pm->dport) || !leg_ep_is(l, to ^ 1u, &pm->src, pm->sport))
            continue;
        bool au = audio || s->audio_pkts > 0;
        s->also[s->nalso++] = (struct leg_also){ x->leg_ref, (uint8_t)to, au };
        leg_note_rx(l, to, s->rec.first_ns, au);
        return;
    }
}

/* One RTP packet; l: the stream lookup of this packet, done or not (s NULL
 * and h 0: not yet). e, by_src: the expectation found at either end. */
static void rtp_packet(struct media *m, const struct pkt_meta *pm, const struct rtp_hdr *h,
                       size_t len, struct mexpect *e, bool by_src, struct slook *l)
{
    struct slook own;
    if (!l) {
        stream_find(m, pm, h->ssrc, &own);
        l = &own;
    }
    struct mstream *s = stream_get(m, pm, l, e, by_src);
    if (!s)
        return;
    stream_bind(m, s, e, by_src);
    struct media_stream *r = &s->rec;
    uint64_t t = pm->ts_ns;

    /* Codec: the SDP of the endpoint, else the RFC 3551 static table. */
    struct pt_cache *pc = &s->pc;
    if (pc->pt != h->pt || pc->e != e) {
        const struct media_codec *mc = codec_of(e, h->pt);
        const char *nm = mc && mc->name[0] ? mc->name : NULL;
        uint32_t sdp_clock = mc ? mc->clock : 0;
        if (!nm && h->pt < 96)
            nm = rtp_static_name(h->pt);
        pc->event = nm ? strcasecmp(nm, "telephone-event") == 0
                       : (!mc && h->pt == PT_TELEPHONE_EVENT_DEFAULT);
        /* tshark only knows dynamic PTs from SDP. */
        pc->ws_clock = rtpstat_clock(h->pt, mc && mc->name[0] ? mc->name : NULL, sdp_clock);
        pc->real_clock = pc->event ? 0 : sdp_clock ? sdp_clock : rtpstat_clock(h->pt, nm, 0);
        pc->unlisted = e && e->ncodecs && !mc;
        pc->name = nm;
        pc->pt = h->pt;
        pc->e = e;
    }
    const char *name = pc->name;
    bool event = pc->event;
    uint32_t ws_clock = pc->ws_clock, real_clock = pc->real_clock;

    /* Series windows are 5 s from the first packet; silent ones are kept. */
    while (t >= s->win_start_ns + SERIES_NS) {
        window_close(m, s);
        s->win_start_ns += SERIES_NS;
        if (r->flags & MEDIA_F_SERIES_FULL) {
            s->win_start_ns = t - (t - s->win_start_ns) % SERIES_NS;
            break;
        }
    }

    struct rtpstat_pkt p = {
        .t_ms = (double)(t - m->base_ns) / 1e6, .seq = h->seq, .ts = h->ts, .pt = h->pt,
        .marker = h->marker, .clock = ws_clock, .jb_clock = real_clock,
    };
    uint32_t lost_before = s->st.win_lost;
    rtpstat_packet(&s->st, &p, m->cfg.jb_ms);

    r->packets++;
    r->bytes += len;
    if (t > r->last_ns)
        r->last_ns = t;
    if (r->packets == 1)
        r->first_pt = h->pt;
    r->pts_seen[h->pt >> 6] |= 1ull << (h->pt & 63);
    if (h->marker)
        r->markers++;
    if (h->pt == 13 || h->pt == 19)
        r->cn_packets++;
    bool audio = !event && h->pt != 13 && h->pt != 19;
    if (audio) {
        s->audio_pkts++;
        if (!s->have_main) {
            s->have_main = true;
            r->pt = h->pt;
            r->clock = real_clock;
            if (name)
                snprintf(r->codec, sizeof r->codec, "%s", name);
            else
                snprintf(r->codec, sizeof r->codec, "PT%u", h->pt);
        }
    }
    if (!by_src && pc->unlisted)
        r->flags |= MEDIA_F_CODEC_MISMATCH;

    if (event) {
        struct rtp_event ev;
        if (rtp_event_parse(h->payload, &ev) == RTP_OK &&
            (!s->have_event || s->last_event_ts != h->ts)) {
            s->have_event = true;
            s->last_event_ts = h->ts;
            size_t n = strlen(r->dtmf);
            if (n + 1 < sizeof r->dtmf) {
                r->dtmf[n] = event_char(ev.event);
                r->dtmf[n + 1] = 0;
            }
            r->dtmf_events++;
            TS_INC(m->st, RTP_DTMF_EVENTS);
        }
    }

    s->win_pkts++;
    if (s->st.jitter > s->win_jitter)
        s->win_jitter = (float)s->st.jitter;
    if (s->st.win_lost != lost_before)
        gap_note(m, s, t);

    /* The leg only needs to know that media arrived (and audio): tell it
     * once per stream instead of looking it up for every packet. */
    if ((!s->leg_rx_noted || (audio && !s->leg_audio_noted)) && r->leg_ref) {
        struct magg *leg = agg_find(m, AGG_LEG, r->leg_ref);
        if (leg) {
            leg_note_rx(leg, s->side, r->first_ns, audio);
            lg_attach(s, leg);
            if (leg->ended_ns)
                end_append(m, s, t + LEG_END_GRACE_NS);
            s->leg_rx_noted = true;
            if (audio)
                s->leg_audio_noted = true;
        }
    }
    /* Re-checked only when an expectation changed: answers arrive leg by
     * leg, after the media has started. */
    if (s->also_dirty && !by_src && r->leg_ref) {
        s->also_dirty = false;
        leg_also(m, s, expect_find(m, &pm->dst, pm->dport), pm, audio);
        leg_also(m, s, expect_find(m, &pm->src, pm->sport), pm, audio);
    }
    if (audio && !s->also_audio) {
        s->also_audio = true;
        for (unsigned i = 0; i < s->nalso; i++) {
            struct magg *leg = agg_find(m, AGG_LEG, s->also[i].leg);
            if (leg && !s->also[i].audio)
                leg->audio_rx[s->also[i].side]++;
            s->also[i].audio = true;
        }
    }
}

/* A STUN message (RFC 8489 5): first two bits 0, magic cookie at 4. */
static bool stun_message(struct bv p)
{
    uint8_t b0;
    uint32_t cookie;
    return bv_peek_u8(p, 0, &b0) && (b0 >> 6) == 0 && bv_peek_be32(p, 4, &cookie) &&
           cookie == 0x2112A442u;
}

static bool cand_eq(const struct ht_node *n, const void *key)
{
    const struct mcand *c = ts_container_of(n, struct mcand, node);
    const struct stream_key *k = key;
    return c->ssrc == k->ssrc && five_eq(&c->key, k->f);
}

/* An unsignalled RTP-looking packet without a stream (see struct mcand):
 * true when it confirmed a held one, which was replayed into a new stream
 * (this packet is then the caller's to account); false when it is held. */
static bool cand_confirm(struct media *m, const struct pkt_meta *pm, const struct rtp_hdr *h,
                         size_t len)
{
    struct five f;
    five_of(pm, &f);
    struct stream_key k = { &f, h->ssrc };
    uint64_t hash = hash_stream(&f, h->ssrc);
    struct ht_node *n = htab_find(&m->cands, hash, cand_eq, &k);
    if (n) {
        struct mcand *c = ts_container_of(n, struct mcand, node);
        uint16_t dseq = (uint16_t)(h->seq - c->h.seq);
        uint32_t dts = h->ts - c->h.ts;
        bool ok = h->pt == c->h.pt && dseq >= 1 && dseq <= CAND_SEQ_AHEAD && dts <= CAND_TS_AHEAD &&
                  pm->ts_ns >= c->pm.ts_ns && pm->ts_ns - c->pm.ts_ns <= CAND_TTL_NS;
        if (ok) {
            htab_remove(&m->cands, n);
            c->h.payload = bv_make(c->payload, c->plen);
            TS_INC(m->st, RTP_PACKETS);
            TS_INC(m->st, RTP_HEURISTIC);
            rtp_packet(m, &c->pm, &c->h, c->len, NULL, false, NULL);
            free(c);
            return true;
        }
        TS_INC(m->st, RTP_CANDIDATES_REFUSED);
        htab_remove(&m->cands, n); /* this one may start a sequence instead */
        free(c);
    }
    if (htab_full(&m->cands)) {
        struct ht_node *o = htab_oldest(&m->cands);
        htab_remove(&m->cands, o);
        free(ts_container_of(o, struct mcand, node));
    }
    struct mcand *c = calloc(1, sizeof *c);
    if (!c)
        return false;
    c->key = f;
    c->ssrc = h->ssrc;
    c->h = *h;
    c->h.ext = bv_make(NULL, 0);
    c->plen = (uint16_t)(h->payload.len < CAND_PAYLOAD ? h->payload.len : CAND_PAYLOAD);
    struct bv pl = h->payload;
    (void)bv_copy(&pl, c->payload, c->plen);
    c->h.payload = bv_make(NULL, 0);
    c->len = len;
    c->pm = *pm;
    c->pm.site = NULL;
    htab_insert(&m->cands, &c->node, hash);
    TS_INC(m->st, RTP_CANDIDATES);
    return false;
}

static void count_rtp_err(struct media *m, enum rtp_result r)
{
    switch (r) {
    case RTP_TRUNCATED: TS_INC(m->st, RTP_TRUNCATED); break;
    case RTP_UNSUPPORTED: TS_INC(m->st, RTP_UNSUPPORTED); break;
    default: TS_INC(m->st, RTP_MALFORMED); break;
    }
}

bool media_udp(struct media *m, const struct pkt_meta *pm, struct bv payload)
{
    if (pm->l4 != TS_L4_UDP)
        return false;
    if (!m->have_base) {
        m->have_base = true;
        m->base_ns = pm->ts_ns;
    }
    uint8_t b0 = 0, b1 = 0;
    (void)bv_peek_u8(payload, 0, &b0);
    (void)bv_peek_u8(payload, 1, &b1);

    /* Fast path, most packets: RTP of a known stream whose endpoints'
     * expectations did not change since its last packet; the expectation
     * lookups would find what the stream remembers. */
    struct slook l;
    bool looked = false;
    if ((b0 >> 6) == 2 && !(b1 >= 192 && b1 <= 223)) {
        struct rtp_hdr h;
        if (rtp_parse(payload, &h) == RTP_OK) {
            stream_find(m, pm, h.ssrc, &l);
            looked = true;
            struct mstream *s = l.s;
            if (s && stream_current(m, s)) {
                if (s->e) {
                    if (pm->ts_ns > s->e_seen_ns + 1000000000ull) {
                        s->e_seen_ns = pm->ts_ns;
                        s->e->last_ns = pm->ts_ns; /* it stays (idle expiry) */
                    }
                    TS_INC(m->st, RTP_PACKETS);
                    TS_INC(m->st, RTP_SIGNALLED);
                    rtp_packet(m, pm, &h, payload.len, s->e, s->by_src, &l);
                    return true;
                }
                if (!m->cfg.heuristic || !rtp_looks_like(payload))
                    return false;
                TS_INC(m->st, RTP_PACKETS);
                TS_INC(m->st, RTP_HEURISTIC);
                rtp_packet(m, pm, &h, payload.len, NULL, false, &l);
                return true;
            }
        }
    }

    bool by_src = false;
    struct mexpect *e = expect_find(m, &pm->dst, pm->dport);
    if (!e) {
        e = expect_find(m, &pm->src, pm->sport);
        by_src = e != NULL;
    }
    if (e) {
        e->last_ns = pm->ts_ns;
        if (e->not_rtp) {
            TS_INC(m->st, RTP_NON_RTP);
            return true;
        }
        if (e->is_rtcp || (b1 >= 192 && b1 <= 223 && (b0 >> 6) == 2)) {
            /* RFC 5761 4: PT 192-223 (marker + 64..95) is RTCP on any
             * RTP port, as the RTP dissector hands it over. */
            rtcp_datagram(m, pm, payload);
            return true;
        }
        if ((b0 >> 6) != 2) { /* STUN, DTLS, ZRTP keep-alives */
            TS_INC(m->st, RTP_NON_RTP);
            return true;
        }
        struct rtp_hdr h;
        enum rtp_result r = rtp_parse(payload, &h);
        if (r != RTP_OK) {
            count_rtp_err(m, r);
            return true;
        }
        TS_INC(m->st, RTP_PACKETS);
        TS_INC(m->st, RTP_SIGNALLED);
        rtp_packet(m, pm, &h, payload.len, e, by_src, looked ? &l : NULL);
        return true;
    }
    if (!m->cfg.heuristic || stun_message(payload))
        return false;
    if (rtp_looks_like(payload)) {
        struct rtp_hdr h;
        if (rtp_parse(payload, &h) != RTP_OK)
            return false;
        bool known = looked && l.s;
        if (!known && m->cfg.heuristic_confirm && !cand_confirm(m, pm, &h, payload.len))
            return false;
        TS_INC(m->st, RTP_PACKETS);
        TS_INC(m->st, RTP_HEURISTIC);
        /* a confirmed candidate made the stream: look it up again */
        rtp_packet(m, pm, &h, payload.len, NULL, false, known ? &l : NULL);
        return true;
    }
    /* RTCP multiplexed on an unsignalled stream's ports (RFC 5761), either
     * direction of a known RTP 5-tuple */
    if ((b0 >> 6) == 2 && b1 >= 200 && b1 <= 207 && rtcp_looks_like(payload)) {
        struct five f, g;
        five_of(pm, &f);
        g = f;
        g.src = pm->dst;
        g.dst = pm->src;
        g.sport = pm->dport;
        g.dport = pm->sport;
        if (htab_find(&m->flows, hash_five(&f), flow_eq, &f) ||
            htab_find(&m->flows, hash_five(&g), flow_eq, &g)) {
            rtcp_datagram(m, pm, payload);
            return true;
        }
    }
    /* Unsignalled RTCP: on an odd port next to a known RTP flow. */
    if ((pm->sport & 1) && (pm->dport & 1) && b1 >= 200 && b1 <= 207 && rtcp_looks_like(payload)) {
        struct five f;
        five_of(pm, &f);
        f.sport = (uint16_t)(pm->sport - 1);
        f.dport = (uint16_t)(pm->dport - 1);
        struct five g = f;
        g.src = pm->dst;
        g.dst = pm->src;
        g.sport = f.dport;
        g.dport = f.sport;
        if (htab_find(&m->flows, hash_five(&f), flow_eq, &f) ||
            htab_find(&m->flows, hash_five(&g), flow_eq, &g)) {
            rtcp_datagram(m, pm, payload);
            return true;
        }
    }
    return false;
}

/* ---- time ---- */

void media_tick(struct media *m, uint64_t now_ns)
{
    uint64_t idle = (uint64_t)m->cfg.idle_ms * NS_PER_MS;
    struct ht_node *n;
    while (m->end_head && m->end_head->end_ns <= now_ns) {
        struct mstream *s = m->end_head;
        end_unlink(m, s);
        if (s->rec.last_ns + LEG_END_GRACE_NS <= now_ns) {
            TS_INC(m->st, RTP_ENDED_WITH_LEG);
            stream_end(m, s, false);
        }
    }
    while ((n = htab_oldest(&m->streams))) {
        struct mstream *s = ts_container_of(n, struct mstream, node);
        if (s->rec.last_ns + idle > now_ns) {
            /* still in use: requeued, unless it and every stream behind it
             * were queued less than LRU_REQUEUE_NS ago */
            if (!htab_requeue(&m->streams, n, &s->queued_ns, now_ns, LRU_REQUEUE_NS))
                break;
            continue;
        }
        TS_INC(m->st, RTP_IDLE);
        stream_end(m, s, false);
    }
    while ((n = htab_oldest(&m->flows))) {
        struct mflow *f = ts_container_of(n, struct mflow, node);
        if (f->last_ns + 2 * idle > now_ns)
            break;
        htab_remove(&m->flows, n);
        free(f);
    }
    while ((n = htab_oldest(&m->cands))) {
        struct mcand *c = ts_container_of(n, struct mcand, node);
        if (c->pm.ts_ns + CAND_TTL_NS > now_ns)
            break;
        htab_remove(&m->cands, n);
        free(c);
    }
    while ((n = htab_oldest(&m->srcs))) {
        struct msrc *s = ts_container_of(n, struct msrc, node);
        if (s->last_ns + 2 * idle > now_ns)
            break;
        htab_remove(&m->srcs, n);
        free(s);
    }
    uint64_t eidle = (uint64_t)m->cfg.expect_idle_ms * NS_PER_MS;
    while ((n = htab_oldest(&m->expect))) {
        struct mexpect *e = ts_container_of(n, struct mexpect, node);
        if (e->last_ns + eidle > now_ns) {
            /* an hour's timeout: late by a sixteenth at most, and each
             * endpoint requeued that rarely */
            if (!htab_requeue(&m->expect, n, &e->queued_ns, now_ns, eidle / 16 + LRU_REQUEUE_NS))
                break;
            continue;
        }
        expect_drop(m, e);
    }
}

void media_finish(struct media *m)
{
    struct ht_node *n;
    while ((n = htab_oldest(&m->streams)))
        stream_end(m, ts_container_of(n, struct mstream, node), false);
    for (n = m->aggs.lru.lnext; n != &m->aggs.lru; n = n->lnext) {
        struct magg *a = ts_container_of(n, struct magg, node);
        if (a->kind == AGG_LEG && !a->ended_ns)
            leg_evaluate(m, a);
    }
}

/* ---- accessors ---- */

size_t media_count(const struct media *m) { return m->nreport; }

const struct media_stream *media_get(const struct media *m, size_t i)
{
    return i < m->nreport ? &m->report[i] : NULL;
}

uint64_t media_emitted(const struct media *m) { return m->emitted; }
size_t media_live(const struct media *m) { return m->streams.count; }

bool media_leg_quality(const struct media *m, uint64_t leg_ref, struct media_quality *out)
{
    const struct magg *a = agg_find(m, AGG_LEG, leg_ref);
    if (!a)
        return false;
    *out = a->q;
    return true;
}

bool media_leg_active(const struct media *m, uint64_t leg_ref)
{
    const struct magg *a = agg_find(m, AGG_LEG, leg_ref);
    return a && a->streams;
}

size_t media_legs_flagged(const struct media *m, uint32_t flags)
{
    size_t n = 0;
    for (const struct ht_node *x = m->aggs.lru.lnext; x != &m->aggs.lru; x = x->lnext) {
        const struct magg *a = ts_container_of(x, struct magg, node);
        n += a->kind == AGG_LEG && (a->q.flags & flags);
    }
    return n;
}

bool media_call_quality(const struct media *m, uint64_t call_ref, struct media_quality *out)
{
    const struct magg *a = agg_find(m, AGG_CALL, call_ref);
    if (!a)
        return false;
    *out = a->q;
    return true;
}

const char *media_endpoint_str(const struct ts_addr *a, uint16_t port, char *buf, size_t cap)
{
    char ab[64];
    ts_addr_str(a, ab, sizeof ab);
    if (a->family == 6)
        snprintf(buf, cap, "[%s]:%u", ab, port);
    else
        snprintf(buf, cap, "%s:%u", ab, port);
    return buf;
}
