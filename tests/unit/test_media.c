/* Unit tests for the media analysis: RTP sequence accounting (wrap,
 * duplicates, reordering, loss), jitter, SSRC changes, table limits with
 * eviction, idle expiry, SDP endpoints, RTCP RTT, DTMF and detections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/hash.h"
#include "../../media/emodel.h"
#include "../../media/media.h"
#include "../helpers/media_fixture.h"
#include "../../media/rtpstat.h"

/* send_rtp() passes the packet's stream hash as its decode would. */
static bool rtp_with_hash;

/* RTP packet with a 160-byte payload (heap, exact size for the sanitizer). */
static bool send_rtp(struct media *md, const struct pkt_meta *m, uint8_t pt, bool marker,
                     uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    size_t n = 12 + 160;
    uint8_t *p = calloc(1, n);
    assert_non_null(p);
    p[0] = 0x80;
    p[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = (uint8_t)(ssrc >> 24);
    p[9] = (uint8_t)(ssrc >> 16);
    p[10] = (uint8_t)(ssrc >> 8);
    p[11] = (uint8_t)ssrc;
    struct bv b = bv_make(p, n);
    bool r = media_udp(md, m, b, rtp_with_hash ? media_stream_hash(m, b) : 0);
    free(p);
    return r;
}

/* A PCMU stream from 10.0.0.1:4000 to 10.0.0.2:5000: packet i at
 * T0 + 20 ms * i carrying sequence seqs[i] and the timestamp that sequence
 * number has at 20 ms per packet. */
static void send_seqs(struct media *md, const uint16_t *seqs, size_t n, uint32_t ssrc)
{
    for (size_t i = 0; i < n; i++) {
        struct pkt_meta m = media_meta(1, 4000, 2, 5000, T0 + 20 * MS * i);
        uint32_t ts = 160u * (uint16_t)(seqs[i] - seqs[0]);
        bool taken = send_rtp(md, &m, 0, false, seqs[i], ts, ssrc);
        assert_true(taken || i == 0); /* the first waits for the second (heuristics) */
    }
}

static struct media *new_media_eager(uint32_t max_streams);

static struct media *new_media(uint32_t max_streams)
{
    struct media_config c;
    media_config_default(&c);
    if (max_streams)
        c.max_streams = max_streams;
    struct media *m = media_new(&c, NULL);
    assert_non_null(m);
    return m;
}

/* A table that takes every RTP-looking datagram at once (no second packet
 * needed): the stream-table tests open many one-packet streams. */
static struct media *new_media_eager(uint32_t max_streams)
{
    struct media_config c;
    media_config_default(&c);
    c.heuristic_confirm = false;
    if (max_streams)
        c.max_streams = max_streams;
    struct media *m = media_new(&c, NULL);
    assert_non_null(m);
    return m;
}

static const struct media_stream *only(struct media *m)
{
    media_finish(m);
    assert_int_equal(media_count(m), 1);
    return media_get(m, 0);
}

static void test_wrap(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    uint16_t seqs[20];
    for (int i = 0; i < 20; i++)
        seqs[i] = (uint16_t)(65530 + i);
    send_seqs(m, seqs, 20, 0x1111);
    const struct media_stream *s = only(m);
    assert_int_equal(s->packets, 20);
    assert_int_equal(s->expected, 20);
    assert_int_equal(s->lost, 0);
    assert_int_equal(s->seq_errors, 0);
    assert_int_equal(s->seq_resets, 0);
    assert_false(s->problem);
    media_free(m);
}

static void test_wrap_with_loss(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    /* 65533, 65534, [65535, 0 lost], 1, 2 */
    const uint16_t seqs[] = { 65533, 65534, 1, 2 };
    send_seqs(m, seqs, 4, 0x2222);
    const struct media_stream *s = only(m);
    assert_int_equal(s->expected, 6);
    assert_int_equal(s->lost, 2);
    assert_true(s->problem);
    media_free(m);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    const uint16_t seqs[] = { 100, 101, 101, 102, 103, 101 };
    send_seqs(m, seqs, 6, 0x3333);
    const struct media_stream *s = only(m);
    assert_int_equal(s->packets, 6);
    assert_int_equal(s->duplicates, 2);
    assert_int_equal(s->out_of_order, 0);
    /* last sequence 101: tshark's expected = 101 - 100 + 1 = 2, lost -4 */
    assert_int_equal(s->expected, 2);
    assert_int_equal(s->lost, -4);
    media_free(m);
}

static void test_reorder_and_loss(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    /* 3 and 4 swapped, 7 and 8 lost */
    const uint16_t seqs[] = { 1, 2, 4, 3, 5, 6, 9, 10 };
    send_seqs(m, seqs, 8, 0x4444);
    const struct media_stream *s = only(m);
    assert_int_equal(s->packets, 8);
    assert_int_equal(s->out_of_order, 1);
    assert_int_equal(s->duplicates, 0);
    assert_int_equal(s->expected, 10);
    assert_int_equal(s->lost, 2);
    assert_true(s->problem);
    /* E-model input: 2 of 10 lost in one run; the late packet 3 arrived
     * 20 ms late, within the 60 ms buffer. */
    assert_true(s->ppl > 19.9 && s->ppl < 20.1);
    assert_true(s->mos > 1 && s->mos < 4.0);
    media_free(m);
}

static void test_jitter_known(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    /* Packet 1 arrives 4 ms late, the others on time: |D| = 4 for packets
     * 1 and 2, so J1 = 4/16 = 0.25, J2 = (15 * 0.25 + 4) / 16 = 0.484375. */
    for (int i = 0; i < 10; i++) {
        struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0 + 20 * MS * i + (i == 1 ? 4 * MS : 0));
        bool taken = send_rtp(m, &pm, 0, false, (uint16_t)(10 + i), 160u * i, 0x5555);
        assert_true(taken || i == 0);
    }
    const struct media_stream *s = only(m);
    assert_true(s->max_jitter_ms > 0.484374 && s->max_jitter_ms < 0.484376);
    assert_true(s->max_delta_ms > 23.999 && s->max_delta_ms < 24.001);
    assert_true(s->min_delta_ms > 15.999 && s->min_delta_ms < 16.001);
    assert_int_equal(s->clock, 8000);
    assert_string_equal(s->codec, "PCMU");
    /* Direct check of the RFC 3550 A.8 estimator on a synthetic stream. */
    struct rtpstat st;
    rtpstat_init(&st);
    double j = 0;
    for (int i = 0; i < 50; i++) {
        double dev = (i % 2) ? 3.0 : 0.0; /* every other packet 3 ms late */
        struct rtpstat_pkt p = { .t_ms = 20.0 * i + dev, .seq = (uint16_t)i, .ts = 160u * i,
                                 .clock = 8000, .jb_clock = 8000 };
        rtpstat_packet(&st, &p, 60);
        if (i)
            j += (3.0 - j) / 16; /* |D| is 3 ms for every pair */
    }
    assert_true(st.jitter > j - 1e-9 && st.jitter < j + 1e-9);
    assert_int_equal(st.discarded, 0);
    media_free(m);
}

static void test_jb_discards(void **state)
{
    (void)state;
    struct rtpstat st;
    rtpstat_init(&st);
    for (int i = 0; i < 20; i++) {
        double late = (i == 10) ? 80.0 : 0.0; /* beyond the 60 ms buffer */
        struct rtpstat_pkt p = { .t_ms = 20.0 * i + late, .seq = (uint16_t)i, .ts = 160u * i,
                                 .clock = 8000, .jb_clock = 8000 };
        rtpstat_packet(&st, &p, 60);
    }
    assert_int_equal(st.discarded, 1);
    assert_int_equal(st.bad, 1);
    assert_int_equal(st.runs, 1);
    assert_int_equal(rtpstat_lost(&st), 0);
}

/* One stream through a media table: packet i at 20 ms * i + delay(i) ms
 * carries sequence seq0 + i and timestamp 160 * i (PCMU), unless the caller
 * overrides them. Returns the finished record's MOS. */
struct jb_pkt {
    double t_ms;
    uint16_t seq;
    uint32_t ts;
    bool marker;
};

static double jb_stream_mos(const struct jb_pkt *p, size_t n, uint32_t *discarded, int64_t *lost)
{
    struct media *m = new_media(0);
    for (size_t i = 0; i < n; i++) {
        struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0 + (uint64_t)(p[i].t_ms * 1e6));
        bool taken = send_rtp(m, &pm, 0, p[i].marker, p[i].seq, p[i].ts, 0x4242);
        assert_true(taken || i == 0);
    }
    const struct media_stream *s = only(m);
    double mos = s->mos;
    if (discarded)
        *discarded = s->discarded;
    if (lost)
        *lost = s->lost;
    media_free(m);
    return mos;
}

#define JB_N 500

static double clean_mos(void)
{
    static struct jb_pkt p[JB_N];
    for (int i = 0; i < JB_N; i++)
        p[i] = (struct jb_pkt){ 20.0 * i, (uint16_t)(1000 + i), 160u * i, i == 0 };
    uint32_t disc = 99;
    double mos = jb_stream_mos(p, JB_N, &disc, NULL);
    assert_int_equal(disc, 0);
    return mos;
}

/* A +300 ms delay step where a talkspurt starts (marker after a pause):
 * the buffer re-synchronises there and nothing after the step is late. */
static void test_jb_talkspurt_step(void **state)
{
    (void)state;
    static struct jb_pkt p[JB_N];
    for (int i = 0; i < JB_N; i++) {
        bool after = i >= 200;
        /* packets 190..199 are silence (not sent), 200 starts a talkspurt */
        p[i] = (struct jb_pkt){ 20.0 * i + (after ? 300.0 : 0), (uint16_t)(1000 + i), 160u * i,
                                i == 200 };
    }
    struct jb_pkt q[JB_N];
    size_t n = 0;
    for (int i = 0; i < JB_N; i++)
        if (i < 190 || i >= 200)
            q[n++] = p[i];
    /* the RTP sequence continues across the silence (RFC 3551 4.1) */
    for (size_t i = 190; i < n; i++)
        q[i].seq = (uint16_t)(1000 + i);
    uint32_t disc = 99;
    int64_t lost = -1;
    double mos = jb_stream_mos(q, n, &disc, &lost);
    assert_int_equal(disc, 0);
    assert_int_equal(lost, 0);
    assert_true(mos > 4.3);
    assert_true(mos > clean_mos() - 0.001);

    /* The captured case: marker after a 240 ms pause with the timestamp
     * stepping back (the sender restarted its clock for the talkspurt). */
    for (int i = 0; i < JB_N; i++) {
        double t = 20.0 * i + (i >= 7 ? 240.0 : 0);
        uint32_t ts = i < 7 ? 80000u + 160u * i : 160u * (i - 7);
        p[i] = (struct jb_pkt){ t, (uint16_t)(7 + i), ts, i == 0 || i == 7 };
    }
    mos = jb_stream_mos(p, JB_N, &disc, &lost);
    assert_int_equal(disc, 0);
    assert_true(mos > 4.3);

    /* The same step without a marker is a delay change in mid-talkspurt:
     * late until the sliding window (1-2 s) forgets the smaller transit. */
    for (int i = 0; i < JB_N; i++)
        p[i] = (struct jb_pkt){ 20.0 * i + (i >= 200 ? 300.0 : 0), (uint16_t)(1000 + i),
                                160u * i, false };
    mos = jb_stream_mos(p, JB_N, &disc, NULL);
    assert_true(disc >= 25 && disc <= 100); /* followed within the window, not forever */
    assert_true(mos < 4.0);
}

/* Sequence number and timestamp restart under the same SSRC (a B2BUA
 * switching sources): scored like a clean stream. */
static void test_jb_seq_restart(void **state)
{
    (void)state;
    static struct jb_pkt p[JB_N];
    for (int i = 0; i < JB_N; i++) {
        bool b = i >= 250;
        uint16_t seq = b ? (uint16_t)(i - 250) : (uint16_t)(30000 + i);
        uint32_t ts = b ? 160u * (uint32_t)(i - 250) : 4000000u + 160u * i;
        p[i] = (struct jb_pkt){ 20.0 * i, seq, ts, i == 0 };
    }
    uint32_t disc = 99;
    double mos = jb_stream_mos(p, JB_N, &disc, NULL);
    assert_int_equal(disc, 0);
    assert_true(mos > clean_mos() - 0.001);
    /* a restart whose new sequence lies just ahead of the old one (inside
     * the RFC 3550 A.1 dropout window): the timestamp going back says it
     * is not a gap of 500 lost packets */
    for (int i = 0; i < JB_N; i++) {
        bool b = i >= 250;
        uint16_t seq = (uint16_t)(b ? 30000 + 500 + i : 30000 + i);
        uint32_t ts = b ? 160u * (uint32_t)(i - 250) : 4000000u + 160u * i;
        p[i] = (struct jb_pkt){ 20.0 * i, seq, ts, i == 0 };
    }
    mos = jb_stream_mos(p, JB_N, &disc, NULL);
    assert_int_equal(disc, 0);
    assert_true(mos > clean_mos() - 0.001);
}

/* Real late packets: a jitter burst (packets delayed 70..160 ms, then the
 * queue drains) is still discarded and lowers MOS. */
static void test_jb_jitter_burst(void **state)
{
    (void)state;
    static struct jb_pkt p[JB_N];
    int late = 0;
    for (int i = 0; i < JB_N; i++) {
        double d = 0;
        if (i >= 300 && i < 340) { /* queue grows 5 ms per packet, then drains */
            d = i < 332 ? 5.0 * (i - 300) : 5.0 * (340 - i) * 4;
            if (d > 60)
                late++;
        }
        p[i] = (struct jb_pkt){ 20.0 * i + d, (uint16_t)(1000 + i), 160u * i, i == 0 };
    }
    uint32_t disc = 0;
    int64_t lost = -1;
    double mos = jb_stream_mos(p, JB_N, &disc, &lost);
    assert_int_equal(lost, 0);
    assert_int_equal((int)disc, late);
    assert_true(late > 15);
    assert_true(mos < clean_mos() - 0.5);
}

/* A PCMU stream of n packets where drop(i) packets are lost and late(i)
 * ones arrive 100 ms late; returns the record (copied) of the finished
 * stream. */
static struct media_stream shaped(int n, int loss_every, int burst, int late_every)
{
    struct media *m = new_media(0);
    for (int i = 0; i < n; i++) {
        if (loss_every && (i / (burst ? burst : 1)) % loss_every == 1)
            continue;
        double late = late_every && i % late_every == 3 ? 100.0 : 0;
        struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0 + (uint64_t)((20.0 * i + late) * 1e6));
        bool taken = send_rtp(m, &pm, 0, i == 0, (uint16_t)(500 + i), 160u * i, 0x5151);
        assert_true(taken || i == 0);
    }
    struct media_stream r = *only(m);
    r.series = NULL;
    media_free(m);
    return r;
}

/* Every stream under MEDIA_POOR_MOS says why, and the reason names the
 * impairment that was put on it. */
static void test_mos_reasons(void **state)
{
    (void)state;
    struct media_stream r = shaped(1000, 10, 0, 0); /* 10 % random loss */
    assert_true(r.mos < MEDIA_POOR_MOS);
    assert_int_equal(r.mos_reason, MEDIA_R_LOSS);
    assert_string_equal(media_reason_name(r.mos_reason), "loss");
    r = shaped(1200, 16, 40, 0); /* 6.7 % loss in runs of 40: fine if it were random */
    assert_true(r.burst_r > 5);
    assert_true(r.ppl > 6 && r.ppl < 7.5);
    assert_true(emodel_mos(emodel_r_for(EMODEL_G711, r.delay_ms, r.ppl, 1)) >= MEDIA_POOR_MOS);
    assert_true(r.mos < MEDIA_POOR_MOS);
    assert_int_equal(r.mos_reason, MEDIA_R_BURST_LOSS);
    r = shaped(1000, 0, 0, 5); /* every 5th packet 100 ms late */
    assert_true(r.discarded >= 190);
    assert_true(r.mos < MEDIA_POOR_MOS);
    assert_int_equal(r.mos_reason, MEDIA_R_LATE);
    r = shaped(1000, 0, 0, 0);
    assert_true(r.mos > 4.3);
    assert_int_equal(r.mos_reason, MEDIA_R_NONE);
    assert_null(media_reason_name(MEDIA_R_NONE));
    /* a sweep: no stream under 3.5 without a reason, none above with one */
    for (int every = 2; every <= 40; every += 3)
        for (int burst = 0; burst <= 8; burst += 4)
            for (int late = 0; late <= 12; late += 6) {
                r = shaped(600, every, burst, late);
                if (r.mos < MEDIA_POOR_MOS)
                    assert_int_not_equal(r.mos_reason, MEDIA_R_NONE);
                else
                    assert_int_equal(r.mos_reason, MEDIA_R_NONE);
            }
}

/* A leg whose other direction is missing or nearly empty scores MOS 1.0
 * (reason one_way) as leg and call, whatever the working direction scored. */
static void test_one_way_leg_mos(void **state)
{
    (void)state;
    struct ts_addr a = { .family = 4, .a = { 10, 0, 0, 1 } };
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    for (int back = 0; back <= 300; back += 5) {
        if (back > 10 && back < 300)
            continue; /* 0, 5, 10 of 500 back: one-way; 300: two-way */
        struct media *m = new_media(0);
        media_expect(m, &a, 4000, false, 5, 50, T0, NULL);
        media_expect(m, &b, 5000, false, 5, 50, T0, NULL);
        media_leg_answered(m, 5, T0);
        for (int i = 0; i < 500; i++) {
            struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0 + 20 * MS * (uint64_t)i);
            assert_true(send_rtp(m, &pm, 0, i == 0, (uint16_t)i, 160u * i, 0x61));
            if (i < back) {
                pm = media_meta(2, 5000, 1, 4000, T0 + 20 * MS * (uint64_t)i + MS);
                assert_true(send_rtp(m, &pm, 0, i == 0, (uint16_t)i, 160u * i, 0x62));
            }
        }
        media_leg_bye(m, 5, T0 + 10100 * MS);
        media_finish(m);
        struct media_quality q, cq;
        assert_true(media_leg_quality(m, 5, &q));
        assert_true(media_call_quality(m, 50, &cq));
        bool one_way = back < 300;
        assert_int_equal(!!(q.flags & MEDIA_F_ONE_WAY), one_way);
        assert_int_equal(!!(cq.flags & MEDIA_F_ONE_WAY), one_way);
        if (one_way) {
            assert_true(q.mos == 1.0 && cq.mos == 1.0);
            assert_int_equal(q.reason, MEDIA_R_ONE_WAY);
            assert_int_equal(cq.reason, MEDIA_R_ONE_WAY);
        } else {
            assert_true(q.mos > 4.3 && cq.mos > 4.3);
            assert_int_equal(q.reason, MEDIA_R_NONE);
        }
        /* the working direction itself still scores what it measured */
        for (size_t i = 0; i < media_count(m); i++) {
            const struct media_stream *s = media_get(m, i);
            if (s->ssrc == 0x61) {
                assert_true(s->mos > 4.3);
                uint8_t why;
                double lm = media_stream_leg_mos(s, &why);
                assert_true(one_way ? lm == 1.0 && why == MEDIA_R_ONE_WAY : lm == s->mos);
            }
        }
        media_free(m);
    }
}

static void test_ssrc_change(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    const uint16_t a[] = { 1, 2, 3 };
    send_seqs(m, a, 3, 0xAAAA);
    const uint16_t b[] = { 500, 501 };
    send_seqs(m, b, 2, 0xBBBB);
    media_finish(m);
    assert_int_equal(media_count(m), 2);
    const struct media_stream *s0 = media_get(m, 0), *s1 = media_get(m, 1);
    if (s0->ssrc != 0xAAAA) {
        const struct media_stream *t = s0;
        s0 = s1;
        s1 = t;
    }
    assert_int_equal(s0->ssrc, 0xAAAA);
    assert_false(s0->flags & MEDIA_F_SSRC_CHANGE);
    assert_true(s1->flags & MEDIA_F_SSRC_CHANGE);
    assert_true(s1->flags & MEDIA_F_UNSIGNALLED);
    assert_int_equal(s1->packets, 2);
    media_free(m);
}

static void add_streams(struct media *m, int n, uint64_t t)
{
    for (int i = 0; i < n; i++) {
        struct pkt_meta pm = media_meta(1, (uint16_t)(10000 + 2 * i), 2, 20000, t + (uint64_t)i * MS);
        assert_true(send_rtp(m, &pm, 8, false, 1, 0, 0x100u + (uint32_t)i));
    }
}

static void test_table_limit(void **state)
{
    (void)state;
    const uint32_t N = 8;
    struct media *m = new_media_eager(N);
    add_streams(m, (int)N - 1, T0);
    assert_int_equal(media_live(m), N - 1);
    assert_int_equal(media_emitted(m), 0);
    add_streams(m, (int)N, T0);   /* the N-1 again plus one new: N */
    assert_int_equal(media_live(m), N);
    assert_int_equal(media_emitted(m), 0);
    struct pkt_meta pm = media_meta(1, 30000, 2, 20000, T0 + 100 * MS);
    assert_true(send_rtp(m, &pm, 8, false, 1, 0, 0xFFFF)); /* N + 1 */
    assert_int_equal(media_live(m), N);
    assert_int_equal(media_emitted(m), 1);
    assert_int_equal(media_count(m), 1);
    const struct media_stream *ev = media_get(m, 0);
    assert_true(ev->flags & MEDIA_F_EVICTED);
    assert_int_equal(ev->ssrc, 0x100);      /* the least recently used one */
    media_finish(m);
    assert_int_equal(media_live(m), 0);
    assert_int_equal(media_count(m), N + 1);
    media_free(m);
}

static void test_report_limit(void **state)
{
    (void)state;
    struct media_config c;
    media_config_default(&c);
    c.max_report = 3;
    c.heuristic_confirm = false;
    struct ts_stats st = { { 0 } };
    struct media *m = media_new(&c, &st);
    add_streams(m, 4, T0);
    media_finish(m);
    assert_int_equal(media_count(m), 3);
    assert_int_equal(media_emitted(m), 4);
    assert_int_equal(st.v[TS_RTP_REPORT_DROPPED], 1);
    assert_null(media_get(m, 3));
    media_free(m);
    /* 0: a sensor keeps none and nothing counts as dropped */
    c.max_report = 0;
    struct ts_stats st0 = { { 0 } };
    m = media_new(&c, &st0);
    add_streams(m, 4, T0);
    media_finish(m);
    assert_int_equal(media_count(m), 0);
    assert_int_equal(media_emitted(m), 4);
    assert_int_equal(st0.v[TS_RTP_REPORT_DROPPED], 0);
    assert_null(media_get(m, 0));
    media_free(m);
}

static void test_idle_expiry(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media_config ec;
    media_config_default(&ec);
    ec.heuristic_confirm = false; /* one-packet streams */
    struct media *m = media_new(&ec, &st);
    add_streams(m, 2, T0);
    media_tick(m, T0 + 29000 * MS);
    assert_int_equal(media_live(m), 2);
    media_tick(m, T0 + 31000 * MS);
    assert_int_equal(media_live(m), 0);
    assert_int_equal(media_count(m), 2);
    assert_int_equal(st.v[TS_RTP_IDLE], 2);
    /* A packet after expiry starts a new stream. */
    add_streams(m, 1, T0 + 32000 * MS);
    assert_int_equal(media_live(m), 1);
    media_free(m); /* frees live state too (ASan checks) */
}

/* Lazy LRU: packets do not reorder the table, but a stream still sending
 * is not the one evicted nor the one idle expiry takes; silent ones still
 * end 30 s (and < 32 s) after their last packet. */
static void test_lazy_lru(void **state)
{
    (void)state;
    const uint32_t N = 8;
    struct ts_stats st = { { 0 } };
    struct media_config c;
    media_config_default(&c);
    c.heuristic_confirm = false;
    c.max_streams = N;
    struct media *m = media_new(&c, &st);
    assert_non_null(m);
    /* the oldest stream (0x500) goes on sending, 7 others send once */
    struct pkt_meta a = media_meta(3, 4000, 4, 5000, T0);
    assert_true(send_rtp(m, &a, 8, false, 0, 0, 0x500));
    add_streams(m, (int)N - 1, T0 + MS);
    uint16_t seq = 1;
    for (uint64_t t = T0 + 100 * MS; t <= T0 + 3000 * MS; t += 100 * MS, seq++) {
        a = media_meta(3, 4000, 4, 5000, t);
        assert_true(send_rtp(m, &a, 8, false, seq, 160u * seq, 0x500));
    }
    /* a new stream evicts the oldest one not in use: 0x100, not 0x500 */
    struct pkt_meta pm = media_meta(1, 30000, 2, 20000, T0 + 3000 * MS);
    assert_true(send_rtp(m, &pm, 8, false, 1, 0, 0xFFFF));
    assert_int_equal(media_count(m), 1);
    assert_int_equal(media_get(m, 0)->ssrc, 0x100);
    assert_true(media_get(m, 0)->flags & MEDIA_F_EVICTED);
    /* 0x500 sends every second up to 60 s, ticks every second: the others
     * end 30-32 s after their last packet, 0x500 only after its own 30 s
     * of silence, whatever the order it was queued in */
    for (uint64_t s = 4; s <= 100; s++) {
        uint64_t t = T0 + s * 1000 * MS;
        if (s <= 60) {
            a = media_meta(3, 4000, 4, 5000, t);
            assert_true(send_rtp(m, &a, 8, false, seq, 160u * seq, 0x500));
            seq++;
        }
        media_tick(m, t);
        if (s < 30)
            assert_int_equal(media_live(m), N);
        else if (s == 32)
            assert_int_equal(media_live(m), 2); /* 0x500 and 0xFFFF (from 3 s) */
        else if (s >= 35 && s < 90)
            assert_int_equal(media_live(m), 1);
        else if (s >= 92)
            assert_int_equal(media_live(m), 0);
    }
    assert_int_equal(st.v[TS_RTP_IDLE], N);
    const struct media_stream *last = media_get(m, media_count(m) - 1);
    assert_int_equal(last->ssrc, 0x500);
    assert_int_equal(last->packets, 31 + 57);
    media_free(m);
}

/* RTCP SR from SSRC 0xA at t, NTP middle word 0x12345678. */
static void send_sr(struct media *md, uint64_t t, uint32_t ssrc, uint32_t ntp_mid)
{
    uint8_t p[28] = { 0x80, 200, 0, 6 };
    p[4] = (uint8_t)(ssrc >> 24); p[5] = (uint8_t)(ssrc >> 16);
    p[6] = (uint8_t)(ssrc >> 8); p[7] = (uint8_t)ssrc;
    /* NTP: seconds = ntp_mid >> 16 in the low half, fraction high half */
    p[10] = (uint8_t)(ntp_mid >> 24); p[11] = (uint8_t)(ntp_mid >> 16);
    p[12] = (uint8_t)(ntp_mid >> 8); p[13] = (uint8_t)ntp_mid;
    struct pkt_meta pm = media_meta(1, 4001, 2, 5001, t);
    assert_true(media_udp(md, &pm, bv_make(p, sizeof p), 0));
}

static void send_rr(struct media *md, uint64_t t, uint32_t reporter, uint32_t about,
                    uint32_t lsr, uint32_t dlsr, uint8_t fraction, uint32_t jitter)
{
    uint8_t p[32] = { 0x81, 201, 0, 7 };
    uint32_t w[7] = { reporter, about, (uint32_t)fraction << 24 | 3, 1000, jitter, lsr, dlsr };
    for (int i = 0; i < 7; i++) {
        p[4 + 4 * i] = (uint8_t)(w[i] >> 24);
        p[5 + 4 * i] = (uint8_t)(w[i] >> 16);
        p[6 + 4 * i] = (uint8_t)(w[i] >> 8);
        p[7 + 4 * i] = (uint8_t)w[i];
    }
    struct pkt_meta pm = media_meta(2, 5001, 1, 4001, t);
    assert_true(media_udp(md, &pm, bv_make(p, sizeof p), 0));
}

static void test_rtcp_rtt(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    struct ts_addr a = { .family = 4, .a = { 10, 0, 0, 1 } };
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    media_expect(m, &a, 4000, false, 7, 70, T0, NULL);
    media_expect(m, &b, 5000, false, 7, 70, T0, NULL);
    const uint16_t seqs[] = { 1, 2, 3, 4, 5 };
    send_seqs(m, seqs, 5, 0xA);
    send_sr(m, T0, 0xA, 0x12345678);
    /* RR about 0xA 600 ms later with DLSR 0.5 s: RTT = 100 ms */
    send_rr(m, T0 + 600 * MS, 0xB, 0xA, 0x12345678, 32768, 64, 80);
    /* An RR whose LSR matches no SR seen gives no RTT sample. */
    send_rr(m, T0 + 700 * MS, 0xB, 0xA, 0x0BADF00D, 32768, 64, 80);
    const struct media_stream *s = only(m);
    assert_int_equal(s->rtcp.sr, 1);
    assert_int_equal(s->rtcp.blocks, 2);
    assert_int_equal(s->rtcp.rtt_n, 1);
    assert_true(s->rtcp.rtt_ms > 99.99 && s->rtcp.rtt_ms < 100.01);
    assert_true(s->rtcp.fraction_lost > 0.249 && s->rtcp.fraction_lost < 0.251);
    assert_int_equal(s->rtcp.cum_lost, 3);
    assert_true(s->rtcp.jitter_ms > 9.99 && s->rtcp.jitter_ms < 10.01); /* 80 / 8 kHz */
    assert_true(s->signalled);
    assert_int_equal(s->leg_ref, 7);
    assert_int_equal(s->call_ref, 70);
    /* E-model delay includes RTT / 2 */
    assert_true(s->delay_ms > 50 + 60);
    media_free(m);
}

static void test_sdp_expect(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    struct media_sdp_info info;
    memset(&info, 0, sizeof info);
    info.ncodecs = 2;
    info.codec[0] = (struct media_codec){ 111, 48000, "opus" };
    info.codec[1] = (struct media_codec){ 101, 8000, "telephone-event" };
    info.srtp = true;
    media_expect(m, &b, 5000, false, 9, 90, T0, &info);
    struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0);
    for (int i = 0; i < 5; i++) {
        pm.ts_ns = T0 + 20 * MS * i;
        assert_true(send_rtp(m, &pm, 111, i == 0, (uint16_t)i, 960u * i, 0x77));
    }
    /* DTMF '5' (3 packets, one event), then '#' */
    for (int i = 0; i < 5; i++) {
        uint8_t p[16] = { 0x80, 101, 0, (uint8_t)(10 + i), 0, 0, 0x10, (uint8_t)(i < 3 ? 0 : 1),
                          0, 0, 0, 0x77, (uint8_t)(i < 3 ? 5 : 11), 0x0a, 0, 160 };
        pm.ts_ns = T0 + 200 * MS + 20 * MS * i;
        assert_true(media_udp(m, &pm, bv_make(p, sizeof p), 0));
    }
    /* An unlisted PT on the same stream: codec mismatch */
    pm.ts_ns = T0 + 400 * MS;
    assert_true(send_rtp(m, &pm, 0, false, 20, 20000, 0x77));
    /* Non-RTP (STUN) on the media port is taken but not counted as RTP */
    uint8_t stun[20] = { 0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42 };
    assert_true(media_udp(m, &pm, bv_make(stun, sizeof stun), 0));
    const struct media_stream *s = only(m);
    assert_string_equal(s->codec, "opus");
    assert_int_equal(s->clock, 48000);
    assert_int_equal(s->pt, 111);
    assert_int_equal(s->dtmf_events, 2);
    assert_string_equal(s->dtmf, "5#");
    assert_true(s->flags & MEDIA_F_SRTP);
    assert_true(s->flags & MEDIA_F_CODEC_MISMATCH);
    assert_false(s->flags & MEDIA_F_UNSIGNALLED);
    assert_int_equal(s->packets, 11);
    assert_true(s->mos > 0);
    media_free(m);
}

static void test_detections(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    struct ts_addr a = { .family = 4, .a = { 10, 0, 0, 1 } };
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    media_expect(m, &a, 4000, false, 5, 50, T0, NULL);
    media_expect(m, &b, 5000, false, 5, 50, T0, NULL);
    media_leg_answered(m, 5, T0);
    /* Only a -> b sends, starting 3 s after the answer, until 2 s after BYE. */
    for (int i = 0; i < 100; i++) {
        struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0 + 3000 * MS + 50 * MS * i);
        assert_true(send_rtp(m, &pm, 8, false, (uint16_t)i, 400u * i, 0x99));
    }
    media_leg_bye(m, 5, T0 + 3000 * MS + 50 * MS * 60);
    const struct media_stream *s = only(m);
    assert_true(s->flags & MEDIA_F_ONE_WAY);
    assert_true(s->flags & MEDIA_F_LATE_MEDIA);
    assert_true(s->flags & MEDIA_F_RTP_AFTER_BYE);
    assert_false(s->flags & MEDIA_F_NO_AUDIO);
    struct media_quality q;
    assert_true(media_leg_quality(m, 5, &q));
    assert_int_equal(q.streams, 1);
    assert_true(q.flags & MEDIA_F_ONE_WAY);
    assert_true(q.mos == 1.0); /* one-way: the leg sounds broken */
    assert_true(media_call_quality(m, 50, &q));
    assert_true(q.flags & MEDIA_F_ONE_WAY);
    assert_false(media_leg_quality(m, 6, &q));
    /* A leg answered without any media: no audio. */
    media_expect(m, &a, 4100, false, 8, 80, T0, NULL);
    media_leg_answered(m, 8, T0);
    media_leg_ended(m, 8, T0 + 10000 * MS);
    assert_true(media_leg_quality(m, 8, &q));
    assert_true(q.flags & MEDIA_F_NO_AUDIO);
    assert_true(media_call_quality(m, 80, &q));
    assert_true(q.flags & MEDIA_F_NO_AUDIO);
    media_free(m);
}

/* rtp_after_bye needs a BYE: not a leg that ended by timeout (answered,
 * no BYE captured), not the failed first attempt of a leg challenged
 * 401/407 that was then answered; a real BYE with media going on is. */
static void test_rtp_after_bye(void **state)
{
    (void)state;
    struct ts_addr a = { .family = 4, .a = { 10, 0, 0, 1 } };
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    for (int kind = 0; kind < 3; kind++) {
        struct media *m = new_media(0);
        media_expect(m, &a, 4000, false, 5, 50, T0, NULL);
        media_expect(m, &b, 5000, false, 5, 50, T0, NULL);
        if (kind == 1) /* INVITE challenged: the leg "ends" at the 407 */
            media_leg_ended(m, 5, T0);
        media_leg_answered(m, 5, T0 + 500 * MS);
        for (int i = 0; i < 300; i++) { /* 6 s of media from 1 s on */
            uint64_t t = T0 + 1000 * MS + 20 * MS * i;
            struct pkt_meta pm = media_meta(1, 4000, 2, 5000, t);
            assert_true(send_rtp(m, &pm, 0, i == 0, (uint16_t)i, 160u * i, 0x77));
            pm = media_meta(2, 5000, 1, 4000, t);
            assert_true(send_rtp(m, &pm, 0, i == 0, (uint16_t)i, 160u * i, 0x78));
        }
        if (kind == 0) /* answered, no BYE: ended by the session timeout */
            media_leg_ended(m, 5, T0 + 1000 * MS);
        if (kind == 2) /* a BYE at 3 s while media goes on to 7 s */
            media_leg_bye(m, 5, T0 + 3000 * MS);
        else
            media_leg_bye(m, 5, T0 + 7000 * MS); /* the BYE after the media */
        media_finish(m);
        assert_int_equal(media_count(m), 2);
        for (size_t i = 0; i < 2; i++) {
            const struct media_stream *s = media_get(m, i);
            if (kind == 2)
                assert_true(s->flags & MEDIA_F_RTP_AFTER_BYE);
            else
                assert_false(s->flags & MEDIA_F_RTP_AFTER_BYE);
            assert_false(s->flags & (MEDIA_F_ONE_WAY | MEDIA_F_NO_AUDIO));
        }
        media_free(m);
    }
}

/* Streams of an ended leg end LEG_END_GRACE (5 s) after the BYE when silent
 * since, not after the 30-s idle timeout; one still sending stays. */
static void test_end_with_leg(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media *m = media_new(NULL, &st);
    assert_non_null(m);
    struct ts_addr a = { .family = 4, .a = { 10, 0, 0, 1 } };
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    struct ts_addr c = { .family = 4, .a = { 10, 0, 0, 3 } };
    media_expect(m, &a, 4000, false, 5, 50, T0, NULL);
    media_expect(m, &b, 5000, false, 5, 50, T0, NULL);
    media_expect(m, &c, 6000, false, 7, 70, T0, NULL);
    media_leg_answered(m, 5, T0);
    media_leg_answered(m, 7, T0);
    for (int i = 0; i < 50; i++) {
        uint64_t t = T0 + 20 * MS * (uint64_t)i;
        struct pkt_meta ab = media_meta(1, 4000, 2, 5000, t), ba = media_meta(2, 5000, 1, 4000, t);
        struct pkt_meta xc = media_meta(9, 7000, 3, 6000, t);
        assert_true(send_rtp(m, &ab, 0, false, (uint16_t)i, 160u * i, 0x1));
        assert_true(send_rtp(m, &ba, 0, false, (uint16_t)i, 160u * i, 0x2));
        assert_true(send_rtp(m, &xc, 0, false, (uint16_t)i, 160u * i, 0x3));
    }
    assert_int_equal(media_live(m), 3);
    uint64_t bye = T0 + 1000 * MS;
    media_leg_ended(m, 5, bye);
    media_leg_ended(m, 7, bye);
    /* Leg 7's stream goes on after its BYE. */
    for (int i = 0; i < 400; i++) {
        struct pkt_meta xc = media_meta(9, 7000, 3, 6000, bye + 20 * MS * (uint64_t)i);
        assert_true(send_rtp(m, &xc, 0, false, (uint16_t)(50 + i), 160u * (50u + i), 0x3));
    }
    media_tick(m, bye + 4999 * MS);
    assert_int_equal(media_live(m), 3);
    media_tick(m, bye + 5000 * MS);
    assert_int_equal(media_live(m), 1); /* leg 5's two streams */
    assert_int_equal(st.v[TS_RTP_ENDED_WITH_LEG], 2);
    assert_int_equal(st.v[TS_RTP_IDLE], 0);
    /* The one still sending then waits for the idle timeout. */
    uint64_t last = bye + 20 * MS * 399;
    media_tick(m, last + 29000 * MS);
    assert_int_equal(media_live(m), 1);
    media_tick(m, last + 30000 * MS);
    assert_int_equal(media_live(m), 0);
    assert_int_equal(st.v[TS_RTP_IDLE], 1);
    assert_int_equal(st.v[TS_RTP_ENDED_WITH_LEG], 2);
    /* Leg quality still counts both of leg 5's streams. */
    struct media_quality q;
    assert_true(media_leg_quality(m, 5, &q));
    assert_int_equal(q.streams, 2);
    media_free(m);
}

/* The stream hash a packet's decode worked out (media_stream_hash) and none
 * (0: hashed here) find the same stream; the hash of another key's packet
 * makes that key's own stream. */
static void test_stream_hash(void **state)
{
    (void)state;
    struct media *m = new_media_eager(0);
    struct pkt_meta pm = media_meta(1, 4000, 2, 5000, T0);
    uint8_t p[12] = { 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7 };
    uint64_t h = media_stream_hash(&pm, bv_make(p, sizeof p));
    assert_true(h != 0);
    uint32_t slot[2];
    media_endpoint_slots(&pm, slot);
    media_prefetch_bucket(m, h, slot);
    media_prefetch_stream(m, h);
    assert_true(send_rtp(m, &pm, 0, false, 1, 0, 7));
    for (unsigned i = 0; i < 4; i++) {
        pm.ts_ns = T0 + 20 * MS * (i + 1);
        rtp_with_hash = i % 2 == 0;
        assert_true(send_rtp(m, &pm, 0, false, (uint16_t)(2 + i), 160u * (i + 1), 7));
        assert_int_equal(media_live(m), 1);
    }
    struct pkt_meta other = media_meta(3, 4002, 2, 5000, T0);
    rtp_with_hash = true;
    assert_true(send_rtp(m, &other, 0, false, 1, 0, 7));
    rtp_with_hash = false;
    assert_int_equal(media_live(m), 2);
    media_finish(m);
    assert_int_equal(media_count(m), 2);
    assert_int_equal(media_get(m, 0)->packets + media_get(m, 1)->packets, 6);
    media_free(m);
}

/* Both directions between a:pa and b:pb, 50 packets each; at packet 10 and
 * 20 leg late_leg[0] / [1] (if non-zero) announces b and is answered. */
static void bypass_media(struct media *m, uint16_t pa, uint16_t pb, const uint64_t *late_leg)
{
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    for (int i = 0; i < 50; i++) {
        uint64_t t = T0 + 10 * MS + 20 * MS * (uint64_t)i;
        if ((i == 10 || i == 20) && late_leg[i / 10 - 1]) {
            media_expect(m, &b, pb, false, late_leg[i / 10 - 1], 1, t, NULL);
            media_leg_answered(m, late_leg[i / 10 - 1], t);
        }
        struct pkt_meta ab = media_meta(1, pa, 2, pb, t);
        struct pkt_meta ba = media_meta(2, pb, 1, pa, t + MS);
        assert_true(send_rtp(m, &ab, 8, false, (uint16_t)i, 160u * i, pa));
        assert_true(send_rtp(m, &ba, 8, false, (uint16_t)i, 160u * i, pb));
    }
}

/* Media bypassing B2BUAs: every leg's SDP names a and b, but an endpoint
 * remembers the last leg that announced it. No stream and no leg may look
 * one-way or silent. */
static void test_bypass_legs(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    struct ts_addr a = { .family = 4, .a = { 10, 0, 0, 1 } };
    struct ts_addr b = { .family = 4, .a = { 10, 0, 0, 2 } };
    /* Answers before the media: a -> b lands on leg 1, b -> a on leg 2. */
    media_expect(m, &a, 4000, false, 1, 1, T0, NULL);
    media_expect(m, &a, 4000, false, 2, 1, T0 + MS, NULL);
    media_expect(m, &b, 5000, false, 2, 1, T0 + 2 * MS, NULL);
    media_expect(m, &b, 5000, false, 1, 1, T0 + 3 * MS, NULL);
    media_leg_answered(m, 1, T0 + 3 * MS);
    media_leg_answered(m, 2, T0 + 2 * MS);
    const uint64_t none[2] = { 0, 0 };
    bypass_media(m, 4000, 5000, none);
    /* Three legs answered one by one after the media started (both
     * streams on leg 5 first). */
    for (uint64_t leg = 3; leg <= 5; leg++)
        media_expect(m, &a, 4100, false, leg, 2, T0 + leg * MS, NULL);
    media_expect(m, &b, 5100, false, 5, 2, T0 + 6 * MS, NULL);
    media_leg_answered(m, 5, T0 + 6 * MS);
    const uint64_t late[2] = { 4, 3 };
    bypass_media(m, 4100, 5100, late);
    media_finish(m);
    assert_int_equal(media_count(m), 4);
    for (size_t i = 0; i < 4; i++)
        assert_false(media_get(m, i)->flags & (MEDIA_F_ONE_WAY | MEDIA_F_NO_AUDIO));
    struct media_quality q;
    for (uint64_t leg = 1; leg <= 5; leg++) {
        assert_true(media_leg_quality(m, leg, &q));
        assert_false(q.flags & (MEDIA_F_ONE_WAY | MEDIA_F_NO_AUDIO));
    }
    media_free(m);
}

static void test_capture_gap(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media_config ec;
    media_config_default(&ec);
    ec.heuristic_confirm = false; /* one-packet streams */
    struct media *m = media_new(&ec, &st);
    /* Four streams lose packets at the same moment: the capture dropped. */
    for (int i = 0; i < 20; i++) {
        if (i >= 8 && i < 11)
            continue;
        for (int k = 0; k < 4; k++) {
            struct pkt_meta pm = media_meta(1, (uint16_t)(6000 + 2 * k), 2, 7000,
                                      T0 + 20 * MS * i + (uint64_t)k * 100000);
            assert_true(send_rtp(m, &pm, 8, false, (uint16_t)i, 160u * i, 0x500u + (uint32_t)k));
        }
    }
    /* A fifth, later stream is unaffected; the explicit hint flags it. */
    struct pkt_meta pm = media_meta(3, 6100, 2, 7000, T0 + 5000 * MS);
    assert_true(send_rtp(m, &pm, 8, false, 1, 0, 0x600));
    media_finish(m);
    assert_int_equal(media_count(m), 5);
    int flagged = 0;
    for (size_t i = 0; i < media_count(m); i++)
        flagged += (media_get(m, i)->flags & MEDIA_F_CAPTURE_GAP) != 0;
    assert_int_equal(flagged, 4);
    assert_int_equal(st.v[TS_RTP_CAPTURE_GAPS], 1);
    media_capture_gap(m, T0 + 4900 * MS, T0 + 5100 * MS);
    flagged = 0;
    for (size_t i = 0; i < media_count(m); i++)
        flagged += (media_get(m, i)->flags & MEDIA_F_CAPTURE_GAP) != 0;
    assert_int_equal(flagged, 5);
    media_free(m);
}

static void test_heuristics_and_hostile(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media *m = media_new(NULL, &st);
    /* RTP-looking DNS is left alone. */
    struct pkt_meta pm = media_meta(1, 53, 2, 40000, T0);
    assert_false(send_rtp(m, &pm, 0, false, 1, 0, 1));
    pm.sport = 40001;
    /* RTCP-conflicting PT (marker + 72) is not RTP */
    uint8_t rr[8] = { 0x80, 0xc9, 0, 1, 0, 0, 0, 1 };
    assert_false(media_udp(m, &pm, bv_make(rr, sizeof rr), 0));
    /* Hostile bytes: nothing crashes, nothing leaks. */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand() % 64);
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        for (size_t k = 0; k < n; k++)
            p[k] = (uint8_t)rand();
        if (n)
            p[0] = (uint8_t)(0x80 | (p[0] & 0x3f));
        pm.ts_ns = T0 + (uint64_t)i * MS;
        pm.sport = (uint16_t)(1024 + rand() % 8);
        (void)media_udp(m, &pm, bv_make(p, n), 0);
        free(p);
    }
    media_tick(m, T0 + 100000 * MS);
    media_finish(m);
    /* random bytes rarely make two consistent RTP packets: few streams */
    assert_true(media_count(m) < 50);
    struct pkt_meta tcp = pm;
    tcp.l4 = 6;
    assert_false(media_udp(m, &tcp, bv_make("x", 1), 0));
    media_free(m);
    media_free(NULL);
}

/* A raw UDP payload into media_udp. */
static bool send_raw(struct media *md, const struct pkt_meta *m, const uint8_t *b, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, b, n);
    bool r = media_udp(md, m, bv_make(p, n), 0);
    free(p);
    return r;
}

/* BACnet/IP (UDP 47808): BVLC type 0x81 reads as RTP version 2 with one
 * CSRC, its length field as a sequence number. A controller's traffic
 * (Who-Is, I-Am, ReadProperty and its answers) is no RTP stream. */
static void test_bacnet_not_rtp(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media *m = media_new(NULL, &st);
    static const uint8_t iam[] = { 0x81, 0x0b, 0x00, 0x19, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff,
                                   0x10, 0x00, 0xc4, 0x02, 0x00, 0x00, 0x01, 0x22, 0x05, 0xc4,
                                   0x91, 0x00, 0x21, 0x0f, 0x00 };
    static const uint8_t rp[] = { 0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x02, 0x05, 0x01, 0x0c,
                                  0x0c, 0x00, 0x00, 0x00, 0x01, 0x19, 0x55 };
    static const uint8_t ack[] = { 0x81, 0x0a, 0x00, 0x18, 0x01, 0x00, 0x30, 0x01, 0x0c, 0x0c,
                                   0x00, 0x00, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x44, 0x42, 0x48,
                                   0x00, 0x00, 0x3f, 0x00 };
    for (int i = 0; i < 200; i++) {
        uint64_t t = T0 + (uint64_t)i * 500 * MS;
        struct pkt_meta a = media_meta(1, 47808, 2, 47808, t), b = media_meta(2, 47808, 1, 47808, t + MS);
        uint8_t q[sizeof rp], r[sizeof ack];
        memcpy(q, rp, sizeof q);
        memcpy(r, ack, sizeof r);
        q[9] = r[8] = (uint8_t)i;        /* invoke id */
        r[20] = (uint8_t)(i * 7);        /* the present value changes */
        assert_false(send_raw(m, &a, q, sizeof q));
        assert_false(send_raw(m, &b, r, sizeof r));
        if (i % 10 == 0)
            assert_false(send_raw(m, &b, iam, sizeof iam));
    }
    media_finish(m);
    assert_int_equal(media_count(m), 0);
    assert_int_equal(st.v[TS_RTP_HEURISTIC], 0);
    media_free(m);
}

/* Real RTP on the STUN/TURN port 3478 is a stream (every packet counted,
 * the first one too); a STUN message there (first two bits 0, magic
 * cookie) is not RTP. */
static void test_rtp_on_3478(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media *m = media_new(NULL, &st);
    static const uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4,
                                      5, 6, 7, 8, 9, 10, 11, 12 };
    struct pkt_meta s0 = media_meta(2, 40000, 1, 3478, T0);
    assert_false(send_raw(m, &s0, stun, sizeof stun));
    for (int i = 0; i < 50; i++) {
        struct pkt_meta pm = media_meta(1, 3478, 2, 40000, T0 + 20 * MS * (uint64_t)i);
        bool taken = send_rtp(m, &pm, 0, i == 0, (uint16_t)(700 + i), 160u * i, 0x3478);
        assert_true(i == 0 || taken); /* the first is held until the second confirms it */
    }
    assert_false(send_raw(m, &s0, stun, sizeof stun));
    const struct media_stream *s = only(m);
    assert_int_equal(s->packets, 50);
    assert_int_equal(s->lost, 0);
    assert_true(s->flags & MEDIA_F_UNSIGNALLED);
    assert_string_equal(s->codec, "PCMU");
    assert_int_equal(st.v[TS_RTP_HEURISTIC], 50);
    media_free(m);
}

/* One RTP-looking datagram, or two that do not continue each other (same
 * SSRC but sequence numbers far apart, or another payload type), make no
 * stream. */
static void test_two_consistent_packets(void **state)
{
    (void)state;
    struct media *m = new_media(0);
    struct pkt_meta pm = media_meta(1, 7000, 2, 7002, T0);
    assert_false(send_rtp(m, &pm, 0, false, 100, 1000, 0x77));
    pm.ts_ns += 20 * MS;
    assert_false(send_rtp(m, &pm, 0, false, 9100, 1160, 0x77)); /* seq jump */
    pm.ts_ns += 20 * MS;
    assert_false(send_rtp(m, &pm, 8, false, 9101, 1320, 0x77)); /* another PT */
    pm = media_meta(3, 7000, 4, 7002, T0);
    assert_false(send_rtp(m, &pm, 0, false, 5, 0, 0x99));
    media_finish(m);
    assert_int_equal(media_count(m), 0);
    media_free(m);
}

/* One SSRC on two hops (a B2BUA anchoring the media keeps it on both of
 * its sides): each stream gets its own hop's RTCP, as tshark counts it on
 * that stream's addresses; keyed by the SSRC alone both streams showed
 * 3 SR and a report block, the second hop none of its own. */
static void test_rtcp_per_hop(void **state)
{
    (void)state;
    struct media *m = new_media_eager(0);
    for (int i = 0; i < 5; i++) {
        struct pkt_meta h1 = media_meta(1, 4000, 2, 5000, T0 + 20 * MS * (uint64_t)i);
        struct pkt_meta h2 = media_meta(3, 6000, 4, 7000, T0 + 20 * MS * (uint64_t)i + MS);
        assert_true(send_rtp(m, &h1, 0, i == 0, (uint16_t)(1 + i), 160u * (uint32_t)i, 0xA));
        assert_true(send_rtp(m, &h2, 0, i == 0, (uint16_t)(1 + i), 160u * (uint32_t)i, 0xA));
    }
    /* SR from 0xA: two on the first hop, one on the second, each with a
     * CNAME; an RR from 0xB about 0xA on the first hop only */
    const uint8_t sr[40] = { 0x80, 200, 0, 6, 0, 0, 0, 0xA, [28] = 0x81, 202, 0, 2, 0, 0, 0, 0xA, 1, 1, 'a', 0 };
    const uint8_t rr[32] = { 0x81, 201, 0, 7, 0, 0, 0, 0xB, 0, 0, 0, 0xA, 0x20 };
    struct pkt_meta c1 = media_meta(1, 4001, 2, 5001, T0 + 50 * MS), c2 = media_meta(3, 6001, 4, 7001, T0 + 51 * MS);
    struct pkt_meta back = media_meta(2, 5001, 1, 4001, T0 + 60 * MS);
    assert_true(send_raw(m, &c1, sr, sizeof sr));
    c1.ts_ns += 10 * MS;
    assert_true(send_raw(m, &c1, sr, sizeof sr));
    assert_true(send_raw(m, &c2, sr, sizeof sr));
    assert_true(send_raw(m, &back, rr, sizeof rr));
    media_finish(m);
    assert_int_equal(media_count(m), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct media_stream *s = media_get(m, i);
        bool first = s->src.a[3] == 1;
        assert_int_equal(s->ssrc, 0xA);
        assert_int_equal(s->rtcp.sr, first ? 2 : 1);
        assert_int_equal(s->rtcp.sdes, first ? 2 : 1);
        assert_int_equal(s->rtcp.blocks, first ? 1 : 0);
        assert_true(first ? s->rtcp.fraction_lost > 0.124 && s->rtcp.fraction_lost < 0.126 : s->rtcp.fraction_lost == 0);
    }
    media_free(m);
}

/* RTCP multiplexed on an unsignalled RTP stream's ports (RFC 5761) is
 * RTCP: its sender reports reach the stream's record. */
static void test_unsignalled_rtcp_mux(void **state)
{
    (void)state;
    struct ts_stats st = { { 0 } };
    struct media *m = media_new(NULL, &st);
    for (int i = 0; i < 300; i++) {
        struct pkt_meta pm = media_meta(1, 6000, 2, 6100, T0 + 20 * MS * (uint64_t)i);
        (void)send_rtp(m, &pm, 8, i == 0, (uint16_t)i, 160u * i, 0xABCD);
        if (i % 100 == 50) {
            /* SR from 0xABCD, no report blocks, same 5-tuple */
            uint8_t sr[28] = { 0x80, 200, 0, 6, 0, 0, 0xAB, 0xCD };
            assert_true(send_raw(m, &pm, sr, sizeof sr));
            /* and an RR back from the receiver about it, reverse 5-tuple */
            uint8_t rr[32] = { 0x81, 201, 0, 7, 0, 0, 0x12, 0x34, 0, 0, 0xAB, 0xCD, 0x01 };
            struct pkt_meta back = media_meta(2, 6100, 1, 6000, pm.ts_ns + MS);
            assert_true(send_raw(m, &back, rr, sizeof rr));
        }
    }
    const struct media_stream *s = only(m);
    assert_int_equal(s->packets, 300);
    assert_int_equal(st.v[TS_RTCP_SR], 3);
    assert_int_equal(st.v[TS_RTCP_RR], 3);
    assert_int_equal(s->rtcp.sr, 3);
    assert_int_equal(s->rtcp.blocks, 3);
    media_free(m);
}

int main(void)
{
    ts_hash_seed_fixed(1, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap),          cmocka_unit_test(test_wrap_with_loss),
        cmocka_unit_test(test_duplicates),    cmocka_unit_test(test_reorder_and_loss),
        cmocka_unit_test(test_jitter_known),  cmocka_unit_test(test_jb_discards),
        cmocka_unit_test(test_jb_talkspurt_step), cmocka_unit_test(test_jb_seq_restart),
        cmocka_unit_test(test_jb_jitter_burst), cmocka_unit_test(test_rtp_after_bye),
        cmocka_unit_test(test_mos_reasons),   cmocka_unit_test(test_one_way_leg_mos),
        cmocka_unit_test(test_ssrc_change),   cmocka_unit_test(test_table_limit),
        cmocka_unit_test(test_report_limit),  cmocka_unit_test(test_idle_expiry),
        cmocka_unit_test(test_rtcp_rtt),      cmocka_unit_test(test_sdp_expect),
        cmocka_unit_test(test_detections),    cmocka_unit_test(test_bypass_legs),
        cmocka_unit_test(test_capture_gap),   cmocka_unit_test(test_end_with_leg),
        cmocka_unit_test(test_stream_hash),   cmocka_unit_test(test_lazy_lru),
        cmocka_unit_test(test_heuristics_and_hostile),
        cmocka_unit_test(test_bacnet_not_rtp), cmocka_unit_test(test_rtp_on_3478),
        cmocka_unit_test(test_two_consistent_packets), cmocka_unit_test(test_unsignalled_rtcp_mux),
        cmocka_unit_test(test_rtcp_per_hop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
