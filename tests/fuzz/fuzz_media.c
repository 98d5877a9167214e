/* libFuzzer target: the RTP, RTCP and SDP parsers, and the media analysis
 * (stream table, sequence/jitter statistics, RTCP state, SDP endpoints, leg
 * events, DTMF, E-model) fed a sequence of UDP payloads and events. Input:
 * records [u8 ctl][u8 dt][u16 len][len bytes] (an input that is not such a
 * sequence is one payload); ctl bits 0-1 pick the host, bit 2 the direction,
 * bit 3 the RTCP port, bits 4-6 the operation (0-3 a packet, 4 an SDP offer
 * for the host's leg, 5 answered, 6 ended, 7 a capture gap), bit 7 a payload
 * cut by a snap length (header-only capture); dt advances the
 * clock by dt ms (255: by 35 s, past the idle timeout). A fresh analyser per
 * input, so that a finding replays alone. Oracles: parser views lie in the
 * input and counts within their arrays; every finished stream's figures are
 * finite and in range. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dissect/rtp.h"
#include "../../dissect/sdp.h"
#include "../../media/media.h"
#include "../helpers/media_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct bv v, struct bv in)
{
    if (!v.len)
        return true;
    uintptr_t p = (uintptr_t)v.p, b = (uintptr_t)in.p;
    return p >= b && p - b <= in.len && v.len <= in.len - (p - b);
}

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

/* The parsers alone, on one payload. */
static void parsers(struct bv in)
{
    static struct rtcp_compound rc;
    static struct sdp sdp;
    struct rtp_hdr h;
    struct rtp_event ev;
    if (rtp_parse(in, &h) == RTP_OK) {
        if (h.version != 2 || h.cc > RTP_MAX_CSRC || h.pt > 127 || !inside(h.payload, in) ||
            !inside(h.ext, in) || h.hdr_len > in.len || h.ext.len != 4u * h.ext_words ||
            h.hdr_len + h.payload.len + h.pad_len != in.len)
            abort();
        if (rtp_event_parse(h.payload, &ev) == RTP_OK && ev.volume > 63)
            abort();
    }
    if (rtp_parse_cut(in, 1, &h) == RTP_OK &&
        (h.pad_len || h.cut != 1 || h.hdr_len + h.payload.len != in.len || !inside(h.payload, in)))
        abort(); /* a cut packet: all after the header is payload */
    (void)rtp_looks_like(in);
    bool looks = rtcp_looks_like(in);
    enum rtp_result r = rtcp_parse(in, &rc);
    if (rc.npkts > TS_RTCP_MAX_PACKETS)
        abort();
    if (r == RTP_OK && !looks && !rc.trailing && rc.npkts && rc.pkts[0].pt >= RTCP_SR &&
        rc.pkts[0].pt <= RTCP_XR)
        abort(); /* the cheap test accepts what the parser accepts (stray bytes aside) */
    for (unsigned i = 0; i < rc.npkts && i < TS_RTCP_MAX_PACKETS; i++) {
        const struct rtcp_pkt *p = &rc.pkts[i];
        if (!inside(p->body, in))
            abort();
        if ((p->pt == RTCP_SR || p->pt == RTCP_RR) && p->u.report.nrb > RTCP_MAX_RC)
            abort();
        if (p->pt == RTCP_SDES) {
            if (p->u.sdes.nchunks > RTCP_MAX_RC)
                abort();
            for (unsigned k = 0; k < p->u.sdes.nchunks; k++)
                if (!inside(p->u.sdes.chunk[k].cname, in))
                    abort();
        }
        if (p->pt == RTCP_BYE && (p->u.bye.nssrc > RTCP_MAX_RC || !inside(p->u.bye.reason, in)))
            abort();
    }
    if (sdp_parse(in, &sdp) == SDP_OK && sdp.nmedia > TS_SDP_MAX_MEDIA)
        abort();
}

static bool num_ok(double v, double lo, double hi) { return isfinite(v) && v >= lo && v <= hi; }

static void check_stream(const struct media_stream *s)
{
    bool ok = s->flags < (1u << MEDIA_F_N) && terminated(s->codec, sizeof s->codec) &&
              terminated(s->dtmf, sizeof s->dtmf) &&
              terminated(s->rtcp.cname, sizeof s->rtcp.cname) && s->first_pt <= 127 &&
              s->pt <= 127 && s->nseries <= TS_MEDIA_MAX_SERIES &&
              (s->nseries == 0 || s->series) && isfinite(s->lost_pct) &&
              (s->mos < 0 || num_ok(s->mos, 1.0, 5.0)) &&
              (s->r_factor < 0 || num_ok(s->r_factor, 0.0, 120.0)) &&
              isfinite(s->mean_delta_ms) && isfinite(s->max_delta_ms) &&
              isfinite(s->mean_jitter_ms) && isfinite(s->max_jitter_ms) &&
              s->first_ns <= s->last_ns && isfinite(s->rtcp.fraction_lost) &&
              isfinite(s->rtcp.jitter_ms) && isfinite(s->rtcp.rtt_ms) &&
              isfinite(s->rtcp.rtt_max_ms) && isfinite(s->ppl) && isfinite(s->burst_r) &&
              isfinite(s->delay_ms);
    for (uint32_t i = 0; ok && i < s->nseries; i++)
        ok = isfinite(s->series[i].jitter_ms) && isfinite(s->series[i].mos) &&
             (s->series[i].mos < 0 || s->series[i].mos <= 5.0f);
    if (!ok) {
        fprintf(stderr, "media: stream %llu out of range (flags %x mos %g lost_pct %g)\n",
                (unsigned long long)s->id, s->flags, s->mos, s->lost_pct);
        abort();
    }
}

static void on_stream(void *ctx, const struct media_stream *s)
{
    (*(size_t *)ctx)++;
    check_stream(s);
}

static void check_quality(const struct media_quality *q)
{
    if (!(q->mos < 0 || num_ok(q->mos, 1.0, 5.0)) || !isfinite(q->r_factor) ||
        !isfinite(q->max_jitter_ms) || q->flags >= (1u << MEDIA_F_N))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bv in = bv_make(data, size);
    parsers(in);

    /* records, or the whole input as one payload */
    bool records = true;
    for (struct bv r = in; r.len && records;) {
        uint8_t c, dt;
        uint16_t len;
        records = bv_u8(&r, &c) && bv_u8(&r, &dt) && bv_be16(&r, &len) && bv_skip(&r, len);
    }

    struct media_config cfg;
    media_config_default(&cfg);
    cfg.max_streams = 8; /* small tables: eviction is reachable */
    cfg.max_report = 16;
    struct media *m = media_new(&cfg, NULL);
    if (!m)
        return 0;
    size_t sunk = 0;
    media_set_sink(m, on_stream, &sunk);
    uint64_t t = 1700000000ull * 1000000000ull;
    static struct sdp sdp;
    struct bv rest = in;
    while (rest.len) {
        uint8_t ctl = 0, dt = 20;
        uint16_t len;
        struct bv p = rest;
        if (records) {
            if (!bv_u8(&rest, &ctl) || !bv_u8(&rest, &dt) || !bv_be16(&rest, &len) ||
                !bv_take(&rest, len, &p))
                break;
        } else {
            rest = BV_NULL;
        }
        t += dt == 255 ? 35000000000ull : dt * 1000000ull;
        unsigned host = ctl & 3, op = (ctl >> 4) & 7;
        uint64_t leg = 1 + host, call = 1 + (host >> 1);
        struct pkt_meta pm = media_meta((uint8_t)(1 + host), (uint16_t)(4000 + 2 * host), 100, 5000, t);
        if (ctl & 0x80)
            pm.cut = 100; /* a header-only capture kept this much */
        if (ctl & 8) {
            pm.sport++;
            pm.dport++;
        }
        if (ctl & 4) {
            struct ts_addr a = pm.src;
            uint16_t port = pm.sport;
            pm.src = pm.dst;
            pm.sport = pm.dport;
            pm.dst = a;
            pm.dport = port;
        }
        switch (op) {
        case 4: /* SDP: each media section announces an endpoint of the host's leg */
            if (sdp_parse(p, &sdp) != SDP_OK)
                break;
            for (unsigned i = 0; i < sdp.nmedia && i < TS_SDP_MAX_MEDIA; i++) {
                struct media_sdp_info info;
                media_sdp_info_from(&sdp.media[i], &info);
                media_expect(m, i & 1 ? &pm.src : &pm.dst, sdp.media[i].port,
                             sdp.media[i].rtcp_mux, leg, call, t, &info);
            }
            break;
        case 5:
            media_leg_answered(m, leg, t);
            break;
        case 6:
            media_leg_ended(m, leg, t);
            break;
        case 7:
            media_capture_gap(m, t - (t > 2000000000ull ? 2000000000ull : 0), t);
            break;
        default:
            /* the stream hash as a decode works it out, or none */
            (void)media_udp(m, &pm, p, t & 1 ? media_stream_hash(&pm, p) : 0);
            break;
        }
        media_tick(m, t);
        if (media_live(m) > cfg.max_streams)
            abort();
    }
    media_finish(m);
    if (media_live(m) != 0 || media_count(m) > cfg.max_report || media_emitted(m) != sunk ||
        media_count(m) > sunk)
        abort();
    for (size_t i = 0; i < media_count(m); i++)
        check_stream(media_get(m, i));
    for (uint64_t leg = 1; leg <= 4; leg++) {
        struct media_quality q;
        if (media_leg_quality(m, leg, &q))
            check_quality(&q);
        if (leg <= 2 && media_call_quality(m, leg, &q))
            check_quality(&q);
    }
    char buf[64];
    struct ts_addr a6;
    memset(&a6, 0xab, sizeof a6);
    a6.family = 6;
    if (!terminated(media_endpoint_str(&a6, 65535, buf, sizeof buf), sizeof buf))
        abort();
    for (unsigned b = 0; b <= MEDIA_F_N; b++)
        if ((media_flag_name(b) == NULL) != (b == MEDIA_F_N))
            abort();
    media_free(m);
    return 0;
}
