/* Private to media/'s files (media.c: the stream table, RTP and the
 * clock; media_agg.c: leg and call aggregates; media_end.c: finishing
 * streams and capture gaps; media_expect.c: SDP expectations;
 * media_rtcp.c: RTCP): the tables' entries, their keys and lookups. */
#ifndef TS_MEDIA_INT_H
#define TS_MEDIA_INT_H

#include "media.h"

#include <string.h>

#include "../common/grow.h"
#include "../common/hash.h"
#include "../common/htab.h"
#include "../dissect/rtp.h"
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
    struct msrtp *sx;         /* SRTP decryption state (media_srtp.c), NULL: none */
    bool sx_check;            /* the expectations changed: look at the keys again */
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
    uint16_t rtp_port;        /* an RTCP endpoint's RTP port (a=rtcp, RFC 3605: any port) */
    bool is_rtcp, rtcp_mux;
    uint8_t side;
    uint8_t dir;              /* enum media_dir */
    bool srtp, not_rtp;
    uint8_t ncodecs, ncap;    /* codec[] used and allocated */
    uint64_t leg_ref, call_ref, last_ns;
    uint64_t queued_ns;       /* last move to the LRU's young end (see LRU_REQUEUE_NS) */
    struct media_keys *keys;  /* RTP endpoints' SDES keys, NULL: none (most) */
    struct media_codec codec[];
};

struct sr_seen {
    uint32_t lsr;            /* middle 32 bits of the SR's NTP timestamp */
    uint64_t t_ns;           /* capture time of that SR */
};

/* An RTCP source: an SSRC on one hop, named by the unordered pair of
 * addresses its RTCP travels between. A B2BUA that anchors the media often
 * keeps the SSRC on both of its sides, and each side has its own reports
 * (keyed by the SSRC alone, both hops' counts were summed into both
 * streams). Zeroed before it is filled: it is hashed as bytes. */
struct src_key {
    uint32_t ssrc;
    struct ts_addr lo, hi;
};

struct msrc {
    struct ht_node node;
    struct src_key key;
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
    uint32_t *egen;           /* per hash slot of an endpoint: bumped whenever an
                               * expectation there appears, changes or goes */
    bool have_base;
    struct media_stream *report;
    size_t nreport, report_cap;
    struct gap_ev gaps[GAP_RING];
    unsigned gap_i;
    uint64_t last_gap_ns;
    struct mstream *end_head, *end_tail; /* streams of ended legs, by end_ns */
    media_payload_fn payload_fn;
    void *payload_ctx;
    /* streams with SRTP state, in the order they got it (media_srtp.c) */
    struct msrtp *sx_old, *sx_new;
    size_t nsx;
    uint8_t *sx_buf;          /* TS_SRTP_MAX_PACKET: the packet being opened */
    struct rtcp_compound rtcp; /* scratch: large */
};

/* ---- keys ---- */

static inline uint64_t hash_ep(const struct ts_addr *a, uint16_t port)
{
    uint8_t k[19];
    k[0] = a->family;
    memcpy(k + 1, a->a, 16);
    k[17] = (uint8_t)(port >> 8);
    k[18] = (uint8_t)port;
    return ts_hash(k, sizeof k);
}

/* The words of a flow's key for ts_hash_words (strangers choose these
 * keys but see no outcome of a lookup: hash.h): IPv4 both ends in 2 words,
 * else 5; the families, in the ports' word, and the count keep it
 * injective. Read from the fields, not from a packed copy. */
static inline size_t flow_words(const struct ts_addr *src, uint16_t sport,
                                const struct ts_addr *dst, uint16_t dport, uint64_t w[6])
{
    uint64_t ports = (uint64_t)sport | (uint64_t)dport << 16 | (uint64_t)src->family << 32 |
                     (uint64_t)dst->family << 40;
    if (src->family == 4 && dst->family == 4) {
        uint32_t s, d;
        memcpy(&s, src->a, 4);
        memcpy(&d, dst->a, 4);
        w[0] = s | (uint64_t)d << 32;
        w[1] = ports;
        return 2;
    }
    memcpy(w, src->a, 16);
    memcpy(w + 2, dst->a, 16);
    w[4] = ports;
    return 5;
}

static inline uint64_t hash_five(const struct five *f)
{
    uint64_t w[6];
    return ts_hash_words(w, flow_words(&f->src, f->sport, &f->dst, f->dport, w));
}

static inline uint64_t hash_stream_of(const struct ts_addr *src, uint16_t sport,
                                      const struct ts_addr *dst, uint16_t dport, uint32_t ssrc)
{
    uint64_t w[6];
    size_t n = flow_words(src, sport, dst, dport, w);
    w[n++] = ssrc;
    return ts_hash_words(w, n);
}

static inline uint64_t hash_stream(const struct five *f, uint32_t ssrc)
{
    return hash_stream_of(&f->src, f->sport, &f->dst, f->dport, ssrc);
}

static inline bool five_eq(const struct five *a, const struct five *b)
{
    return a->sport == b->sport && a->dport == b->dport && ts_addr_eq(&a->src, &b->src) &&
           ts_addr_eq(&a->dst, &b->dst);
}

/* The 5-tuple key of a packet (zeroed first, padding too). */
static inline void five_of(const struct pkt_meta *pm, struct five *f)
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

static inline bool stream_eq(const struct ht_node *n, const void *key)
{
    const struct mstream *s = ts_container_of(n, struct mstream, node);
    const struct stream_key *k = key;
    return s->ssrc == k->ssrc && five_eq(&s->key, k->f);
}

static inline bool flow_eq(const struct ht_node *n, const void *key)
{
    return five_eq(&ts_container_of(n, struct mflow, node)->key, key);
}

struct ep_key {
    const struct ts_addr *a;
    uint16_t port;
};

static inline bool expect_eq(const struct ht_node *n, const void *key)
{
    const struct mexpect *e = ts_container_of(n, struct mexpect, node);
    const struct ep_key *k = key;
    return e->port == k->port && ts_addr_eq(&e->addr, k->a);
}

static inline void src_key_make(struct src_key *k, uint32_t ssrc, const struct ts_addr *x,
                                const struct ts_addr *y)
{
    memset(k, 0, sizeof *k);
    k->ssrc = ssrc;
    bool swap = memcmp(x, y, sizeof *x) > 0;
    k->lo = swap ? *y : *x;
    k->hi = swap ? *x : *y;
}

static inline bool src_eq(const struct ht_node *n, const void *key)
{
    return memcmp(&ts_container_of(n, struct msrc, node)->key, key, sizeof(struct src_key)) == 0;
}

struct agg_key {
    uint8_t kind;
    uint64_t ref;
};

static inline bool agg_eq(const struct ht_node *n, const void *key)
{
    const struct magg *a = ts_container_of(n, struct magg, node);
    const struct agg_key *k = key;
    return a->kind == k->kind && a->ref == k->ref;
}

static inline uint64_t hash_agg(uint8_t kind, uint64_t ref)
{
    uint8_t k[9];
    k[0] = kind;
    memcpy(k + 1, &ref, 8);
    return ts_hash(k, sizeof k);
}

static inline uint64_t hash_u32(uint32_t v) { return ts_hash(&v, sizeof v); }

/* An endpoint's slot in the generation table. A collision only sends a
 * stream's packet through the expectation lookup again, so the cheap mix
 * does (two SipHashes per RTP packet were a seventh of the reader thread). */
static inline uint32_t ep_slot(const struct ts_addr *a, uint16_t port)
{
    uint64_t w[2];
    memcpy(w, a->a, sizeof w);
    uint64_t h = ts_mix64(0, w[0] ^ ((uint64_t)port << 32 ^ (uint64_t)a->family << 48));
    if (w[1])
        h = ts_mix64(h, w[1]);
    return (uint32_t)(h >> 32) & (TS_MEDIA_EGEN_SLOTS - 1);
}

static inline struct magg *agg_find(const struct media *m, uint8_t kind, uint64_t ref)
{
    if (!ref)
        return NULL;
    struct agg_key k = { kind, ref };
    struct ht_node *n = htab_find(&m->aggs, hash_agg(kind, ref), agg_eq, &k);
    return n ? ts_container_of(n, struct magg, node) : NULL;
}

static inline void egen_bump(struct media *m, const struct ts_addr *a, uint16_t port)
{
    m->egen[ep_slot(a, port)]++;
}

static inline struct mexpect *expect_find_h(const struct media *m, const struct ts_addr *a,
                                            uint16_t port, uint64_t h)
{
    struct ep_key k = { a, port };
    struct ht_node *n = htab_find(&m->expect, h, expect_eq, &k);
    return n ? ts_container_of(n, struct mexpect, node) : NULL;
}

static inline struct mexpect *expect_find(const struct media *m, const struct ts_addr *a,
                                          uint16_t port)
{
    return expect_find_h(m, a, port, hash_ep(a, port));
}

/* media_agg.c */
void media_lg_attach(struct mstream *s, struct magg *leg);
void media_lg_detach(struct mstream *s);
void media_end_unlink(struct media *m, struct mstream *s);
void media_end_append(struct media *m, struct mstream *s, uint64_t at);
struct magg *media_agg_get(struct media *m, uint8_t kind, uint64_t ref);
void media_quality_add(struct media_quality *q, const struct media_stream *s);
bool media_leg_nearly_one_way(const struct magg *leg);
void media_leg_evaluate(struct media *m, struct magg *leg);
/* media_end.c */
void media_window_close(struct media *m, struct mstream *s);
void media_stream_end(struct media *m, struct mstream *s, bool evicted);
void media_gap_note(struct media *m, const struct mstream *s, uint64_t t);
/* media_expect.c */
void media_expect_drop(struct media *m, struct mexpect *e);
bool media_lru_spared(struct htab *t, struct ht_node *n, uint64_t last_ns, uint64_t *queued_ns,
                       uint64_t now);
struct mexpect *media_expect_victim(struct media *m, uint64_t now);
/* media_rtcp.c */
void media_rtcp_datagram(struct media *m, const struct pkt_meta *pm, struct bv payload);
/* media_srtp.c */
void media_srtp_bind(struct media *m, struct mstream *s, const struct pkt_meta *pm);
void media_srtp_drop(struct media *m, struct mstream *s);
int media_srtp_rtp(struct media *m, struct mstream *s, struct bv pkt, struct bv *clear);
bool media_srtp_rtcp(struct media *m, const struct pkt_meta *pm, struct bv *payload);
void media_keys_free(struct media_keys *k);

#endif
