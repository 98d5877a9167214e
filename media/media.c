/* Media analysis: SDP endpoints (RFC 3264) and heuristics find RTP (RFC 3550
 * 5.1) and RTCP (RFC 3550 6.4-6.6, RFC 3611 4.7, RFC 3711 3.4); streams keyed
 * by 5-tuple + SSRC get statistics (rtpstat.c), RFC 4733 events, an E-model
 * rating (emodel.c) and detections; finished records go to a sink and a
 * bounded report list. This file: the stream table, RTP and the clock;
 * media_expect.c the SDP expectations, media_rtcp.c RTCP, media_agg.c the
 * leg and call aggregates, media_end.c finishing streams. */
#include "media_int.h"

#include <limits.h>
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

static const char *const flag_names[MEDIA_F_N] = {
    "one_way", "no_audio", "late_media", "rtp_after_bye", "codec_mismatch",
    "capture_gap", "srtp", "unsignalled", "ssrc_change", "evicted", "series_full",
    "truncated",
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

void media_config_default(struct media_config *cfg)
{
    *cfg = (struct media_config){
        .idle_ms = 30000, .jb_ms = 60, .expect_idle_ms = 3600000,
        .max_streams = TS_MEDIA_MAX_STREAMS, .max_report = TS_MEDIA_MAX_REPORT_STREAMS,
        .max_srtp = TS_MEDIA_SRTP_STREAMS_MAX,
        .heuristic = true, .heuristic_confirm = true,
    };
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
    if (!m->cfg.max_srtp || m->cfg.max_srtp > TS_MEDIA_SRTP_STREAMS_MAX)
        m->cfg.max_srtp = TS_MEDIA_SRTP_STREAMS_MAX;
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
            media_srtp_drop(m, s);
            free(s->rec.series);
            free(s);
        }
        htab_cleanup(&m->streams);
    }
    free_all(&m->flows, offsetof(struct mflow, node));
    if (m->expect.buckets)
        while ((n = htab_oldest(&m->expect)))
            media_expect_drop(m, ts_container_of(n, struct mexpect, node));
    free_all(&m->expect, offsetof(struct mexpect, node));
    free_all(&m->srcs, offsetof(struct msrc, node));
    free_all(&m->aggs, offsetof(struct magg, node));
    free_all(&m->cands, offsetof(struct mcand, node));
    for (size_t i = 0; i < m->nreport; i++)
        free(m->report[i].series);
    free(m->report);
    free(m->egen);
    free(m->sx_buf);
    free(m);
}

void media_set_payload_hook(struct media *m, media_payload_fn fn, void *ctx)
{
    m->payload_fn = fn;
    m->payload_ctx = ctx;
}

void media_set_sink(struct media *m, media_sink_fn fn, void *ctx)
{
    m->sink = fn;
    m->sink_ctx = ctx;
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

/* hash: media_stream_hash() of the packet, 0 when not known. */
static void stream_find(struct media *m, const struct pkt_meta *pm, uint32_t ssrc, uint64_t hash,
                        struct slook *l)
{
    five_of(pm, &l->f);
    l->ssrc = ssrc;
    struct stream_key k = { &l->f, ssrc };
    l->h = hash ? hash : hash_stream(&l->f, ssrc);
    struct ht_node *n = htab_find(&m->streams, l->h, stream_eq, &k);
    l->s = n ? ts_container_of(n, struct mstream, node) : NULL;
}

uint64_t media_stream_hash(const struct pkt_meta *pm, struct bv payload)
{
    uint8_t b0 = 0, b1 = 0;
    uint32_t ssrc;
    if (!bv_peek_u8(payload, 0, &b0) || !bv_peek_u8(payload, 1, &b1) || (b0 >> 6) != 2 ||
        (b1 >= 192 && b1 <= 223) || !bv_skip(&payload, 8) || !bv_be32(&payload, &ssrc))
        return 0;
    /* a key hashing to 0: not known, hashed again */
    return hash_stream_of(&pm->src, pm->sport, &pm->dst, pm->dport, ssrc);
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
    s->sx_check = (e && e->srtp) || s->sx; /* and the SDES keys */
}

/* The oldest stream not in use, to make room (see expect_victim). */
static struct mstream *stream_victim(struct media *m, uint64_t now)
{
    for (int k = 0;; k++) {
        struct mstream *s = ts_container_of(htab_oldest(&m->streams), struct mstream, node);
        if (k == LRU_SECOND_CHANCES ||
            !media_lru_spared(&m->streams, &s->node, s->rec.last_ns, &s->queued_ns, now))
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
        media_stream_end(m, stream_victim(m, pm->ts_ns), true);
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
/* One RTP packet h of len bytes on the wire; pkt: the whole datagram as
 * captured (empty for a replayed candidate, of which 16 bytes are kept). */
static void rtp_packet(struct media *m, const struct pkt_meta *pm, const struct rtp_hdr *h,
                       struct bv pkt, size_t len, struct mexpect *e, bool by_src,
                       struct slook *l)
{
    struct slook own;
    if (!l) {
        stream_find(m, pm, h->ssrc, 0, &own);
        l = &own;
    }
    struct mstream *s = stream_get(m, pm, l, e, by_src);
    if (!s)
        return;
    stream_bind(m, s, e, by_src);
    struct media_stream *r = &s->rec;
    uint64_t t = pm->ts_ns;

    /* SRTP with SDES keys: the payload is read only once opened (the
     * header, in clear, counts either way); without keys as before */
    if (s->sx_check)
        media_srtp_bind(m, s, pm);
    bool readable = !(r->flags & MEDIA_F_SRTP) && pkt.len, failed = false;
    struct rtp_hdr clear_h;
    if (s->sx && !h->cut && pkt.len) {
        struct bv clear;
        failed = media_srtp_rtp(m, s, pkt, &clear) < 0 || rtp_parse(clear, &clear_h) != RTP_OK;
        if (!failed)
            h = &clear_h;
        readable = !failed;
    }

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
        media_window_close(m, s);
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
    if (h->cut)
        r->flags |= MEDIA_F_TRUNCATED;
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

    if (readable && m->payload_fn)
        m->payload_fn(m->payload_ctx, r->id, h->seq, h->payload);
    if (event && !failed) {
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
        media_gap_note(m, s, t);

    /* The leg only needs to know that media arrived (and audio): tell it
     * once per stream instead of looking it up for every packet. */
    if ((!s->leg_rx_noted || (audio && !s->leg_audio_noted)) && r->leg_ref) {
        struct magg *leg = agg_find(m, AGG_LEG, r->leg_ref);
        if (leg) {
            leg_note_rx(leg, s->side, r->first_ns, audio);
            media_lg_attach(s, leg);
            if (leg->ended_ns)
                media_end_append(m, s, t + LEG_END_GRACE_NS);
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
            rtp_packet(m, &c->pm, &c->h, BV_NULL, c->len, NULL, false, NULL);
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

bool media_udp(struct media *m, const struct pkt_meta *pm, struct bv payload, uint64_t hash)
{
    if (pm->l4 != TS_L4_UDP)
        return false;
    if (!m->have_base) {
        m->have_base = true;
        m->base_ns = pm->ts_ns;
    }
    /* len: the datagram's size on the wire, of which a header-only capture
     * kept payload.len bytes (pm->cut the rest) */
    size_t len = payload.len + pm->cut;
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
        if (rtp_parse_cut(payload, pm->cut, &h) == RTP_OK) {
            stream_find(m, pm, h.ssrc, hash, &l);
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
                    rtp_packet(m, pm, &h, payload, len, s->e, s->by_src, &l);
                    return true;
                }
                if (!m->cfg.heuristic || !rtp_hdr_plausible(&h))
                    return false;
                TS_INC(m->st, RTP_PACKETS);
                TS_INC(m->st, RTP_HEURISTIC);
                rtp_packet(m, pm, &h, payload, len, NULL, false, &l);
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
            media_rtcp_datagram(m, pm, payload);
            return true;
        }
        if ((b0 >> 6) != 2) { /* STUN, DTLS, ZRTP keep-alives */
            TS_INC(m->st, RTP_NON_RTP);
            return true;
        }
        struct rtp_hdr h;
        enum rtp_result r = rtp_parse_cut(payload, pm->cut, &h);
        if (r != RTP_OK) {
            count_rtp_err(m, r);
            return true;
        }
        TS_INC(m->st, RTP_PACKETS);
        TS_INC(m->st, RTP_SIGNALLED);
        rtp_packet(m, pm, &h, payload, len, e, by_src, looked ? &l : NULL);
        return true;
    }
    if (!m->cfg.heuristic || stun_message(payload))
        return false;
    struct rtp_hdr h;
    if (rtp_parse_cut(payload, pm->cut, &h) == RTP_OK && rtp_hdr_plausible(&h)) {
        bool known = looked && l.s;
        if (!known && m->cfg.heuristic_confirm && !cand_confirm(m, pm, &h, len))
            return false;
        TS_INC(m->st, RTP_PACKETS);
        TS_INC(m->st, RTP_HEURISTIC);
        /* a confirmed candidate made the stream: look it up again */
        rtp_packet(m, pm, &h, payload, len, NULL, false, known ? &l : NULL);
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
            media_rtcp_datagram(m, pm, payload);
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
            media_rtcp_datagram(m, pm, payload);
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
        media_end_unlink(m, s);
        if (s->rec.last_ns + LEG_END_GRACE_NS <= now_ns) {
            TS_INC(m->st, RTP_ENDED_WITH_LEG);
            media_stream_end(m, s, false);
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
        media_stream_end(m, s, false);
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
        media_expect_drop(m, e);
    }
}

void media_finish(struct media *m)
{
    struct ht_node *n;
    while ((n = htab_oldest(&m->streams)))
        media_stream_end(m, ts_container_of(n, struct mstream, node), false);
    for (n = m->aggs.lru.lnext; n != &m->aggs.lru; n = n->lnext) {
        struct magg *a = ts_container_of(n, struct magg, node);
        if (a->kind == AGG_LEG && !a->ended_ns)
            media_leg_evaluate(m, a);
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
    return ts_endpoint_str(a, port, buf, (unsigned)(cap > UINT_MAX ? UINT_MAX : cap));
}

