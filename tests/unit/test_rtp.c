/* Unit tests for the RTP, telephone-event and compound RTCP/SRTCP parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/rtp.h"

/* Hex string to bytes; returns the length. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
        assert_true(n < cap);
        out[n++] = (uint8_t)(bv_hexval(hex[i]) << 4 | bv_hexval(hex[i + 1]));
    }
    return n;
}

/* Exact-size heap copy so the sanitizer sees any read past the end. */
static uint8_t *dup_n(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* ---- RTP ---- */

static void test_rtp_basic(void **state)
{
    (void)state;
    const uint8_t pkt[] = { 0x80, 0x08, 0x12, 0x34, 0x00, 0x00, 0x01, 0x40,
                            0xde, 0xad, 0xbe, 0xef, 0xd5, 0xd5, 0xd5 };
    struct rtp_hdr h;
    assert_int_equal(rtp_parse(bv_make(pkt, sizeof pkt), &h), RTP_OK);
    assert_int_equal(h.version, 2);
    assert_false(h.marker);
    assert_int_equal(h.pt, 8);
    assert_int_equal(h.seq, 0x1234);
    assert_int_equal(h.ts, 320);
    assert_int_equal(h.ssrc, 0xdeadbeef);
    assert_int_equal(h.hdr_len, 12);
    assert_int_equal(h.payload.len, 3);
    assert_true(rtp_looks_like(bv_make(pkt, sizeof pkt)));
}

/* CC=2, extension of one word, 4 bytes of padding. */
static const uint8_t full_pkt[] = {
    0xb2, 0xe0, 0x00, 0x07, 0x00, 0x00, 0x00, 0xa0, 0x11, 0x22, 0x33, 0x44,
    0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,  /* CSRC x2 */
    0xbe, 0xde, 0x00, 0x01, 0x10, 0x55, 0x00, 0x00,  /* RFC 8285 one-byte ext */
    0x01, 0x02, 0x03, 0x04, 0x05,                    /* payload */
    0x00, 0x00, 0x00, 0x04,                          /* padding */
};

static void test_rtp_csrc_ext_padding(void **state)
{
    (void)state;
    struct rtp_hdr h;
    assert_int_equal(rtp_parse(bv_make(full_pkt, sizeof full_pkt), &h), RTP_OK);
    assert_true(h.padding);
    assert_true(h.extension);
    assert_true(h.marker);
    assert_int_equal(h.pt, 96);
    assert_int_equal(h.cc, 2);
    assert_int_equal(h.csrc[0], 0xaaaaaaaa);
    assert_int_equal(h.csrc[1], 0xbbbbbbbb);
    assert_int_equal(h.ext_profile, 0xbede);
    assert_int_equal(h.ext_words, 1);
    assert_int_equal(h.ext.len, 4);
    assert_int_equal(h.hdr_len, 28);
    assert_int_equal(h.pad_len, 4);
    assert_int_equal(h.payload.len, 5);
    assert_memory_equal(h.payload.p, "\x01\x02\x03\x04\x05", 5);
}

static void test_rtp_truncated_every_length(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof full_pkt; n++) {
        uint8_t *q = dup_n(full_pkt, n);
        struct rtp_hdr h;
        enum rtp_result r = rtp_parse(bv_make(q, n), &h);
        if (n < 28)
            assert_int_equal(r, RTP_TRUNCATED);
        else
            /* the last byte is then a payload byte read as a pad count */
            assert_true(r == RTP_OK || r == RTP_MALFORMED);
        if (r == RTP_OK)
            assert_true(h.hdr_len + h.payload.len + h.pad_len == n);
        (void)rtp_looks_like(bv_make(q, n));
        (void)rtcp_looks_like(bv_make(q, n));
        free(q);
    }
}

static void test_rtp_bad_padding(void **state)
{
    (void)state;
    uint8_t p[16] = { 0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 0 };
    struct rtp_hdr h;
    /* count 0 */
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_MALFORMED);
    assert_false(rtp_looks_like(bv_make(p, 16)));
    /* count larger than what follows the header (4) */
    p[15] = 5;
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_MALFORMED);
    /* exactly everything after the header: empty payload */
    p[15] = 4;
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_OK);
    assert_int_equal(h.payload.len, 0);
    /* padding bit on a bare header: no count byte beyond the header */
    assert_int_equal(rtp_parse(bv_make(p, 12), &h), RTP_MALFORMED);
}

/* A header-only capture: the packet's tail is missing, so the padding count
 * in its last byte is unknown; the header must still be whole. */
static void test_rtp_cut(void **state)
{
    (void)state;
    struct rtp_hdr h;
    /* full_pkt's 28 header bytes and 2 payload bytes kept, 7 cut */
    uint8_t *q = dup_n(full_pkt, 30);
    assert_int_equal(rtp_parse_cut(bv_make(q, 30), 7, &h), RTP_OK);
    assert_true(h.padding);
    assert_int_equal(h.cut, 7);
    assert_int_equal(h.pad_len, 0);
    assert_int_equal(h.hdr_len, 28);
    assert_int_equal(h.payload.len, 2);
    assert_int_equal(h.ssrc, 0x11223344);
    assert_true(rtp_hdr_plausible(&h));
    /* the same bytes as a whole packet: the last payload byte (2) would be
     * taken for the pad count */
    assert_int_equal(rtp_parse(bv_make(q, 30), &h), RTP_OK);
    assert_int_equal(h.pad_len, 2);
    assert_int_equal(h.payload.len, 0);
    /* header cut inside the extension: N-1 of 28 */
    assert_int_equal(rtp_parse_cut(bv_make(q, 27), 10, &h), RTP_TRUNCATED);
    /* exactly the header: empty payload */
    assert_int_equal(rtp_parse_cut(bv_make(q, 28), 9, &h), RTP_OK);
    assert_int_equal(h.payload.len, 0);
    free(q);
    /* cut 0 is rtp_parse */
    assert_int_equal(rtp_parse_cut(bv_make(full_pkt, sizeof full_pkt), 0, &h), RTP_OK);
    assert_int_equal(h.pad_len, 4);
    assert_int_equal(h.cut, 0);
    /* the payload type rules apply to a parsed header */
    h.pt = 73;
    assert_false(rtp_hdr_plausible(&h));
    h.pt = 72 + 5;
    h.marker = true;
    assert_false(rtp_hdr_plausible(&h));
}

static void test_rtp_version_and_ext_overrun(void **state)
{
    (void)state;
    uint8_t p[16] = { 0x40, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
    struct rtp_hdr h;
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_UNSUPPORTED);
    assert_false(rtp_looks_like(bv_make(p, 16)));
    /* extension claims 2 words where 0 follow */
    p[0] = 0x90;
    p[12] = 0xbe; p[13] = 0xde; p[14] = 0x00; p[15] = 0x02;
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_TRUNCATED);
    p[15] = 0x00;
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_OK);
    /* CC=15 needs 72 bytes */
    p[0] = 0x8f;
    assert_int_equal(rtp_parse(bv_make(p, 16), &h), RTP_TRUNCATED);
}

static void test_rtp_heuristic_pt_rules(void **state)
{
    (void)state;
    uint8_t p[20] = { 0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
    for (unsigned b2 = 0; b2 < 256; b2++) {
        p[1] = (uint8_t)b2;
        unsigned pt = b2 & 0x7f;
        bool marker = b2 & 0x80;
        bool want = !(pt >= 72 && pt <= 76) && !(marker && pt >= 64 && pt <= 95);
        assert_int_equal(rtp_looks_like(bv_make(p, sizeof p)), want);
    }
    /* SR/RR first bytes are never taken as RTP */
    p[1] = 0xc8;
    assert_false(rtp_looks_like(bv_make(p, sizeof p)));
    p[1] = 0xc9;
    assert_false(rtp_looks_like(bv_make(p, sizeof p)));
    p[1] = 0x00;
    assert_false(rtp_looks_like(bv_make(p, 11)));
    assert_true(rtp_looks_like(bv_make(p, 12)));
}

static void test_rtp_static_table(void **state)
{
    (void)state;
    assert_int_equal(rtp_static_clock(0), 8000);
    assert_string_equal(rtp_static_name(0), "PCMU");
    assert_string_equal(rtp_static_name(8), "PCMA");
    assert_int_equal(rtp_static_clock(9), 8000); /* G722: 8000 per RFC 3551 */
    assert_string_equal(rtp_static_name(9), "G722");
    assert_string_equal(rtp_static_name(18), "G729");
    assert_int_equal(rtp_static_clock(34), 90000);
    assert_true(rtp_static_pt(34)->video);
    assert_false(rtp_static_pt(0)->video);
    assert_int_equal(rtp_static_pt(10)->channels, 2);
    assert_null(rtp_static_pt(2));
    assert_int_equal(rtp_static_clock(2), 0);
    assert_null(rtp_static_name(35));
    assert_null(rtp_static_name(96));
    assert_null(rtp_static_name(255));
}

static void test_rtp_event(void **state)
{
    (void)state;
    const uint8_t ev[] = { 0x0b, 0x8a, 0x03, 0x20 };
    struct rtp_event e;
    assert_int_equal(rtp_event_parse(bv_make(ev, 4), &e), RTP_OK);
    assert_int_equal(e.event, 11);
    assert_true(e.end);
    assert_int_equal(e.volume, 10);
    assert_int_equal(e.duration, 800);
    const uint8_t ev2[] = { 0x05, 0x0a, 0x00, 0xa0 };
    assert_int_equal(rtp_event_parse(bv_make(ev2, 4), &e), RTP_OK);
    assert_false(e.end);
    assert_int_equal(e.duration, 160);
    assert_int_equal(rtp_event_parse(bv_make(ev, 3), &e), RTP_TRUNCATED);
    assert_int_equal(rtp_event_parse(BV_NULL, &e), RTP_TRUNCATED);
}

/* ---- RTCP ---- */

/* UDP payloads of ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap
 * (frames 1-5), extracted with tshark -e udp.payload. */
static const char *const ndpi_rtcp[5] = {
    "81c8000c5d931534dd3ac1704d614df800007d00000000c800007d0000000000000000010000000000000000000000000000000081ca000e5d931534010835643933313533340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d000000",
    "81c9000701932db400000000010000010000bec200000001000000000000000081ca000e01932db40107313933326462340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d00000000",
    "81c8000c5d931534dd3ac17452808c820000faa0000001910000faa001932db4000000010000000000000000000000000000000081ca000e5d931534010835643933313533340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d000000",
    "81c9000701932db45d931534000000010000bf8b00000006c1704d610004051c81ca000e01932db40107313933326462340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d00000000",
    "81c8000c5d931534dd3ac178579d2bf5000178400000025a0001784001932db4000000010000000000000000000000000000000081ca000e5d931534010835643933313533340725467265655357495443482e6f7267202d2d20436f6d6520746f20436c7565436f6e2e636f6d000000",
};

static struct rtcp_compound cmp; /* large: keep it off the stack */

static void test_rtcp_real_sr_sdes(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(ndpi_rtcp[0], buf, sizeof buf);
    assert_int_equal(n, 112); /* udp.length 120 - 8 */
    assert_true(rtcp_looks_like(bv_make(buf, n)));
    assert_false(rtp_looks_like(bv_make(buf, n)));
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_false(cmp.srtcp);
    assert_int_equal(cmp.npkts, 2);
    const struct rtcp_pkt *sr = &cmp.pkts[0];
    assert_int_equal(sr->pt, RTCP_SR);
    assert_int_equal(sr->ssrc, 0x5d931534);
    /* values as tshark shows them */
    assert_int_equal(sr->u.report.si.ntp >> 32, 3711615344u);
    assert_int_equal(sr->u.report.si.rtp_ts, 32000);
    assert_int_equal(sr->u.report.si.pkt_count, 200);
    assert_int_equal(sr->u.report.si.octet_count, 32000);
    assert_int_equal(sr->u.report.nrb, 1);
    assert_int_equal(sr->u.report.rb[0].ssrc, 0);
    assert_int_equal(sr->u.report.rb[0].cum_lost, 1);
    const struct rtcp_pkt *sd = &cmp.pkts[1];
    assert_int_equal(sd->pt, RTCP_SDES);
    assert_int_equal(sd->u.sdes.nchunks, 1);
    assert_int_equal(sd->u.sdes.chunk[0].ssrc, 0x5d931534);
    assert_true(bv_eq_cstr(sd->u.sdes.chunk[0].cname, "5d931534"));
}

static void test_rtcp_real_rr_sdes(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(ndpi_rtcp[3], buf, sizeof buf);
    assert_int_equal(n, 92);
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_int_equal(cmp.npkts, 2);
    const struct rtcp_report_block *rb = &cmp.pkts[0].u.report.rb[0];
    assert_int_equal(cmp.pkts[0].pt, RTCP_RR);
    assert_int_equal(cmp.pkts[0].ssrc, 0x01932db4);
    assert_int_equal(rb->ssrc, 0x5d931534);
    assert_int_equal(rb->fraction_lost, 0);
    assert_int_equal(rb->cum_lost, 1);
    assert_int_equal(rb->ext_high_seq, 49035);
    assert_int_equal(rb->jitter, 6);
    assert_int_equal(rb->lsr, 3245362529u);
    assert_int_equal(rb->dlsr, 263452);
    assert_true(bv_eq_cstr(cmp.pkts[1].u.sdes.chunk[0].cname, "1932db4"));
}

static void test_rtcp_real_all_and_prefixes(void **state)
{
    (void)state;
    for (int f = 0; f < 5; f++) {
        uint8_t buf[256];
        size_t n = unhex(ndpi_rtcp[f], buf, sizeof buf);
        assert_true(rtcp_looks_like(bv_make(buf, n)));
        assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
        assert_int_equal(cmp.npkts, 2);
        assert_int_equal(cmp.pkts[1].pt, RTCP_SDES);
        for (size_t k = 0; k < n; k++) {
            uint8_t *q = dup_n(buf, k);
            enum rtp_result r = rtcp_parse(bv_make(q, k), &cmp);
            /* a prefix can still end on a packet boundary */
            if (r == RTP_OK)
                assert_true(k % 4 == 0 || cmp.srtcp || cmp.trailing);
            (void)rtcp_looks_like(bv_make(q, k));
            free(q);
        }
    }
}

/* heplify_rtp_rtcp_sip_ipv4_udp.pcap frame 529: SR + RR + SDES and two
 * stray bytes, which tshark ignores ("frame length check: OK - 116 bytes"). */
static const char heplify_529[] =
    "81c8000cd2bd4e3ec59286d4f645a1cb000002800000000400000280d2bd4e3e00000000"
    "000400040000000086d4f6450000000181c90007d2bd4e3e58f33dea0000000000002c44"
    "0000000086d4f6450000000181ca0007d2bd4e3e0114756e6b6e6f776e403230302e3537"
    "2e372e32303400000000";

static void test_rtcp_real_trailing_bytes(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(heplify_529, buf, sizeof buf);
    assert_int_equal(n, 118);
    assert_true(rtcp_looks_like(bv_make(buf, n)));
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_int_equal(cmp.trailing, 2);
    assert_false(cmp.srtcp);
    assert_int_equal(cmp.npkts, 3);
    assert_int_equal(cmp.pkts[0].u.report.si.ntp, 0xc59286d4f645a1cbull);
    assert_int_equal(cmp.pkts[0].u.report.si.pkt_count, 4);
    assert_int_equal(cmp.pkts[0].u.report.rb[0].ext_high_seq, 262148);
    assert_int_equal(cmp.pkts[0].u.report.rb[0].lsr, 2262103621u);
    assert_int_equal(cmp.pkts[0].u.report.rb[0].dlsr, 1);
    assert_int_equal(cmp.pkts[1].pt, RTCP_RR);
    assert_int_equal(cmp.pkts[1].u.report.rb[0].ssrc, 0x58f33dea);
    assert_int_equal(cmp.pkts[1].u.report.rb[0].ext_high_seq, 11332);
    assert_true(bv_eq_cstr(cmp.pkts[2].u.sdes.chunk[0].cname, "unknown@200.57.7.204"));
}

/* SR (1 block) + SDES (CNAME + NAME) + BYE with reason. */
static const char sr_sdes_bye[] =
    "81c8000c" "11111111" "e1a2b3c4d5e6f708" "000003e8" "0000000a" "00000640"
    "22222222" "05fffffe" "00010010" "00000020" "b3c4d5e6" "00008000"
    "81ca0005" "11111111" "0105616c696365" "0203426f62" "00000000"
    "81cb0003" "11111111" "04" "64696e65" "000000";

static void test_rtcp_sr_sdes_bye(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(sr_sdes_bye, buf, sizeof buf);
    assert_int_equal(n, 52 + 24 + 16);
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_int_equal(cmp.npkts, 3);
    const struct rtcp_pkt *sr = &cmp.pkts[0];
    assert_int_equal(sr->u.report.si.ntp, 0xe1a2b3c4d5e6f708ull);
    assert_int_equal(sr->u.report.si.rtp_ts, 1000);
    assert_int_equal(sr->u.report.si.pkt_count, 10);
    assert_int_equal(sr->u.report.si.octet_count, 1600);
    const struct rtcp_report_block *rb = &sr->u.report.rb[0];
    assert_int_equal(rb->ssrc, 0x22222222);
    assert_int_equal(rb->fraction_lost, 5);
    assert_int_equal(rb->cum_lost, -2); /* 0xfffffe, signed 24-bit */
    assert_int_equal(rb->ext_high_seq, 0x00010010);
    assert_int_equal(rb->jitter, 32);
    assert_int_equal(rb->lsr, 0xb3c4d5e6);
    assert_int_equal(rb->dlsr, 0x8000);
    assert_true(bv_eq_cstr(cmp.pkts[1].u.sdes.chunk[0].cname, "alice"));
    const struct rtcp_pkt *bye = &cmp.pkts[2];
    assert_int_equal(bye->pt, RTCP_BYE);
    assert_int_equal(bye->u.bye.nssrc, 1);
    assert_int_equal(bye->ssrc, 0x11111111);
    assert_true(bv_eq_cstr(bye->u.bye.reason, "dine"));
}

static void test_rtcp_cum_lost_extremes(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = unhex("81c90007" "01020304" "0a0b0c0d" "ff800000" "00000000"
                     "00000000" "00000000" "00000000", buf, sizeof buf);
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_int_equal(cmp.pkts[0].u.report.rb[0].fraction_lost, 255);
    assert_int_equal(cmp.pkts[0].u.report.rb[0].cum_lost, -8388608);
    buf[13] = 0x7f; buf[14] = 0xff; buf[15] = 0xff;
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_int_equal(cmp.pkts[0].u.report.rb[0].cum_lost, 8388607);
}

/* RR (no blocks) + XR with a receiver reference time block (BT=4, skipped)
 * and a VoIP metrics block (BT=7) with known values. */
static const char rr_xr[] =
    "80c90001" "aabbccdd"
    "80cf000d" "aabbccdd"
    "04000002" "e1a2b3c4" "d5e6f708"
    "07000008" "11223344"
    "0c" "03" "40" "10"         /* loss 12, discard 3, burst 64, gap 16 */
    "0078" "1388"               /* burst 120 ms, gap 5000 ms */
    "0032" "0064"               /* RTT 50 ms, end system 100 ms */
    "e6" "b5" "7f" "10"         /* signal -26, noise -75, RERL 127, Gmin 16 */
    "5d" "7f" "29" "2a"         /* R 93, ext R 127, MOS-LQ 4.1, MOS-CQ 4.2 */
    "b4" "00" "003c"            /* RX config, rsvd, JB nominal 60 */
    "0078" "00c8";              /* JB max 120, abs max 200 */

static void test_rtcp_xr_voip(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = unhex(rr_xr, buf, sizeof buf);
    assert_int_equal(n, 8 + 56);
    assert_true(rtcp_looks_like(bv_make(buf, n)));
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
    assert_int_equal(cmp.npkts, 2);
    const struct rtcp_pkt *xr = &cmp.pkts[1];
    assert_int_equal(xr->pt, RTCP_XR);
    assert_int_equal(xr->ssrc, 0xaabbccdd);
    assert_int_equal(xr->u.xr.nblocks, 2);
    assert_true(xr->u.xr.has_voip);
    const struct rtcp_xr_voip *v = &xr->u.xr.voip;
    assert_int_equal(v->ssrc, 0x11223344);
    assert_int_equal(v->loss_rate, 12);
    assert_int_equal(v->discard_rate, 3);
    assert_int_equal(v->burst_density, 64);
    assert_int_equal(v->gap_density, 16);
    assert_int_equal(v->burst_duration, 120);
    assert_int_equal(v->gap_duration, 5000);
    assert_int_equal(v->round_trip_delay, 50);
    assert_int_equal(v->end_system_delay, 100);
    assert_int_equal(v->signal_level, -26);
    assert_int_equal(v->noise_level, -75);
    assert_int_equal(v->rerl, 127);
    assert_int_equal(v->gmin, 16);
    assert_int_equal(v->r_factor, 93);
    assert_int_equal(v->ext_r_factor, 127);
    assert_int_equal(v->mos_lq, 41);
    assert_int_equal(v->mos_cq, 42);
    assert_int_equal(v->rx_config, 0xb4);
    assert_int_equal(v->jb_nominal, 60);
    assert_int_equal(v->jb_max, 120);
    assert_int_equal(v->jb_abs_max, 200);

    /* a VoIP block with the wrong block length */
    buf[8 + 8 + 12 + 3] = 7;
    /* now the XR block lengths no longer add up to the packet */
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_MALFORMED);
    assert_int_equal(cmp.npkts, 2);
}

static void test_rtcp_malformed_lengths(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(ndpi_rtcp[1], buf, sizeof buf);
    /* length field of the RR beyond the datagram */
    buf[3] = 0x40;
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_TRUNCATED);
    assert_false(rtcp_looks_like(bv_make(buf, n)));
    /* RR one word short: the SDES header is then misaligned */
    buf[3] = 0x06;
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_MALFORMED);
    assert_false(rtcp_looks_like(bv_make(buf, n)));
    buf[3] = 0x07;
    /* second packet with version 1 */
    buf[32] = 0x41;
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_MALFORMED);
    assert_int_equal(cmp.npkts, 1); /* the RR before it is kept */
    assert_int_equal(cmp.pkts[0].pt, RTCP_RR);
    buf[32] = 0x81;
    /* RC=2 in an RR that holds one block */
    buf[0] = 0x82;
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_MALFORMED);
    buf[0] = 0x81;
    /* two stray bytes after the compound */
    buf[n] = 0;
    buf[n + 1] = 0;
    assert_int_equal(rtcp_parse(bv_make(buf, n + 2), &cmp), RTP_OK);
    assert_int_equal(cmp.trailing, 2);
    assert_int_equal(cmp.npkts, 2);
    /* ... but not four: that is a truncated header */
    buf[n + 2] = 0;
    buf[n + 3] = 0;
    assert_int_equal(rtcp_parse(bv_make(buf, n + 4), &cmp), RTP_MALFORMED);
    assert_false(rtcp_looks_like(bv_make(buf, n + 4)));
    /* first byte version 0 */
    buf[0] = 0x01;
    assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_UNSUPPORTED);
    assert_int_equal(rtcp_parse(BV_NULL, &cmp), RTP_TRUNCATED);
    /* packet type outside 192-223 */
    const uint8_t notrtcp[8] = { 0x80, 0x60, 0x00, 0x01, 1, 2, 3, 4 };
    assert_int_equal(rtcp_parse(bv_make(notrtcp, 8), &cmp), RTP_MALFORMED);
    assert_false(rtcp_looks_like(bv_make(notrtcp, 8)));
    /* padding count 0 and padding larger than the packet */
    uint8_t pad[8] = { 0xa0, 0xca, 0x00, 0x01, 1, 2, 3, 0 }; /* SDES, SC=0 */
    assert_int_equal(rtcp_parse(bv_make(pad, 8), &cmp), RTP_MALFORMED);
    pad[7] = 5;
    assert_int_equal(rtcp_parse(bv_make(pad, 8), &cmp), RTP_MALFORMED);
    pad[7] = 4;
    assert_int_equal(rtcp_parse(bv_make(pad, 8), &cmp), RTP_OK);
    assert_int_equal(cmp.pkts[0].body.len, 0);
}

static void test_rtcp_srtcp_trailer(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = unhex(ndpi_rtcp[0], buf, sizeof buf);
    /* E=0: compound in the clear, index 5, 80-bit tag */
    const uint8_t idx_clear[4] = { 0x00, 0x00, 0x00, 0x05 };
    memcpy(buf + n, idx_clear, 4);
    memset(buf + n + 4, 0x5a, 10);
    assert_true(rtcp_looks_like(bv_make(buf, n + 14)));
    assert_int_equal(rtcp_parse(bv_make(buf, n + 14), &cmp), RTP_OK);
    assert_true(cmp.srtcp);
    assert_false(cmp.encrypted);
    assert_int_equal(cmp.srtcp_index, 5);
    assert_int_equal(cmp.auth_tag.len, 10);
    assert_int_equal(cmp.npkts, 2);
    assert_int_equal(cmp.pkts[0].u.report.si.pkt_count, 200);

    /* 32-bit tag */
    assert_int_equal(rtcp_parse(bv_make(buf, n + 8), &cmp), RTP_OK);
    assert_true(cmp.srtcp);
    assert_int_equal(cmp.auth_tag.len, 4);

    /* E=1: everything after the first 8 bytes is ciphertext */
    for (size_t i = 8; i < n; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    const uint8_t idx_enc[4] = { 0x80, 0x00, 0x01, 0x02 };
    memcpy(buf + n, idx_enc, 4);
    memset(buf + n + 4, 0xa5, 10);
    assert_true(rtcp_looks_like(bv_make(buf, n + 14)));
    assert_int_equal(rtcp_parse(bv_make(buf, n + 14), &cmp), RTP_OK);
    assert_true(cmp.srtcp);
    assert_true(cmp.encrypted);
    assert_int_equal(cmp.srtcp_index, 0x102);
    assert_int_equal(cmp.npkts, 1);
    assert_int_equal(cmp.pkts[0].pt, RTCP_SR);
    assert_int_equal(cmp.pkts[0].ssrc, 0x5d931534);
    assert_int_equal(cmp.pkts[0].u.report.nrb, 0);

    /* no E flag and a compound that does not walk: rejected */
    buf[n] = 0x00;
    assert_int_equal(rtcp_parse(bv_make(buf, n + 14), &cmp) == RTP_OK, false);
    assert_false(rtcp_looks_like(bv_make(buf, n + 14)));
    /* every prefix of the SRTCP datagram: no crash */
    buf[n] = 0x80;
    for (size_t k = 0; k < n + 14; k++) {
        uint8_t *q = dup_n(buf, k);
        (void)rtcp_parse(bv_make(q, k), &cmp);
        (void)rtcp_looks_like(bv_make(q, k));
        free(q);
    }
}

/* k empty RRs (8 bytes each). */
static size_t rr_chain(uint8_t *buf, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        const uint8_t rr[8] = { 0x80, 0xc9, 0x00, 0x01, 0, 0, 0, (uint8_t)i };
        memcpy(buf + 8 * i, rr, 8);
    }
    return 8 * k;
}

static void test_rtcp_max_packets(void **state)
{
    (void)state;
    uint8_t buf[8 * (TS_RTCP_MAX_PACKETS + 1)];
    for (size_t k = TS_RTCP_MAX_PACKETS - 1; k <= TS_RTCP_MAX_PACKETS + 1; k++) {
        size_t n = rr_chain(buf, k);
        assert_int_equal(rtcp_parse(bv_make(buf, n), &cmp), RTP_OK);
        size_t want = k < TS_RTCP_MAX_PACKETS ? k : TS_RTCP_MAX_PACKETS;
        assert_int_equal(cmp.npkts, want);
        assert_int_equal(cmp.total_pkts, k);
        assert_int_equal(cmp.too_many, k > TS_RTCP_MAX_PACKETS);
        assert_int_equal(cmp.pkts[want - 1].ssrc, want - 1);
    }
}

static void test_rtcp_31_report_blocks(void **state)
{
    (void)state;
    uint8_t buf[8 + 31 * 24];
    memset(buf, 0, sizeof buf);
    const uint8_t hdr[8] = { 0x9f, 0xc9, 0x00, 1 + 31 * 6, 9, 9, 9, 9 };
    memcpy(buf, hdr, 8);
    for (int i = 0; i < 31; i++)
        buf[8 + i * 24 + 3] = (uint8_t)(i + 1);
    assert_int_equal(rtcp_parse(bv_make(buf, sizeof buf), &cmp), RTP_OK);
    assert_int_equal(cmp.pkts[0].count, 31);
    assert_int_equal(cmp.pkts[0].u.report.nrb, 31);
    assert_int_equal(cmp.pkts[0].u.report.rb[30].ssrc, 31);
}

static void test_rtcp_looks_like(void **state)
{
    (void)state;
    /* an SDES-only compound passes (200-207); a PT 192 packet does not */
    uint8_t b[8] = { 0x80, 0xca, 0x00, 0x01, 1, 2, 3, 4 };
    assert_true(rtcp_looks_like(bv_make(b, 8)));
    b[1] = 0xc0;
    assert_false(rtcp_looks_like(bv_make(b, 8)));
    b[1] = 0xd0;
    assert_false(rtcp_looks_like(bv_make(b, 8)));
    b[1] = 0xc9;
    assert_true(rtcp_looks_like(bv_make(b, 8)));
    assert_false(rtcp_looks_like(bv_make(b, 7)));
    assert_false(rtcp_looks_like(bv_make(b, 1)));
    assert_false(rtcp_looks_like(BV_NULL));
    /* an RTP packet */
    assert_false(rtcp_looks_like(bv_make(full_pkt, sizeof full_pkt)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtp_basic),
        cmocka_unit_test(test_rtp_csrc_ext_padding),
        cmocka_unit_test(test_rtp_truncated_every_length),
        cmocka_unit_test(test_rtp_bad_padding),
        cmocka_unit_test(test_rtp_cut),
        cmocka_unit_test(test_rtp_version_and_ext_overrun),
        cmocka_unit_test(test_rtp_heuristic_pt_rules),
        cmocka_unit_test(test_rtp_static_table),
        cmocka_unit_test(test_rtp_event),
        cmocka_unit_test(test_rtcp_real_sr_sdes),
        cmocka_unit_test(test_rtcp_real_rr_sdes),
        cmocka_unit_test(test_rtcp_real_all_and_prefixes),
        cmocka_unit_test(test_rtcp_real_trailing_bytes),
        cmocka_unit_test(test_rtcp_sr_sdes_bye),
        cmocka_unit_test(test_rtcp_cum_lost_extremes),
        cmocka_unit_test(test_rtcp_xr_voip),
        cmocka_unit_test(test_rtcp_malformed_lengths),
        cmocka_unit_test(test_rtcp_srtcp_trailer),
        cmocka_unit_test(test_rtcp_max_packets),
        cmocka_unit_test(test_rtcp_31_report_blocks),
        cmocka_unit_test(test_rtcp_looks_like),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
