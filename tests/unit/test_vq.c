/* Unit tests for the endpoint quality report parser: an RFC 6035 section 4
 * vq-rtcpxr body (example layout, both metric blocks), the colon-less report
 * type line, X-RTP-Stat / P-RTP-Stat header values, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/vq.h"

#define NEAR(a, b) assert_true((a) > (b) - 1e-9 && (a) < (b) + 1e-9)

static const char RFC6035_BODY[] =
    "VQSessionReport: CallTerm\r\n"
    "CallID: 6dg37f1890463\r\n"
    "LocalID: Alice <sip:alice@atlanta.example.org>\r\n"
    "RemoteID: Bill <sip:bill@biloxi.example.org>\r\n"
    "OrigID: Alice <sip:alice@atlanta.example.org>\r\n"
    "LocalGroup: example-phone-55671\r\n"
    "RemoteGroup: example-gateway-09871\r\n"
    "LocalAddr: IP=10.10.1.100 PORT=5000 SSRC=1a2b3c4d\r\n"
    "LocalMAC: 00:1f:5b:cc:21:0f\r\n"
    "RemoteAddr: IP=11.1.1.150 PORT=5002 SSRC=0x2468abcd\r\n"
    "RemoteMAC: 00:26:08:8e:95:02\r\n"
    "LocalMetrics:\r\n"
    "Timestamps: START=2004-10-10T18:23:43Z STOP=2004-10-01T18:26:02Z\r\n"
    "SessionDesc: PT=18 PD=G729 SR=8000 FD=20 FO=20 FPP=2 PPS=50 FMTP=\"annexb=no\" PLC=3 "
    "SSUP=on\r\n"
    "JitterBuffer: JBA=3 JBR=2 JBN=40 JBM=80 JBX=120\r\n"
    "PacketLoss: NLR=5.0 JDR=2.0\r\n"
    "BurstGapLoss: BLD=0 BD=0 GLD=2.0 GD=500 GMIN=16\r\n"
    "Delay: RTD=200 ESD=140 SOWD=200 IAJ=2 MAJ=10\r\n"
    "Signal: SL=-21 NL=-50 RERL=55\r\n"
    "QualityEst: RLQ=88 RCQ=85 EXTRI=90 MOSLQ=4.2 MOSCQ=4.3 QoEEstAlg=P.564\r\n"
    "RemoteMetrics:\r\n"
    "Timestamps: START=2004-10-10T18:23:43Z STOP=2004-10-01T18:26:02Z\r\n"
    "SessionDesc: PT=18 PD=G729 SR=8000 FD=20 FO=20 FPP=2 PPS=50 FMTP=\"annexb=no\" PLC=3 "
    "SSUP=on\r\n"
    "PacketLoss: NLR=1.0 JDR=0.5\r\n"
    "Delay: RTD=200 ESD=140 SOWD=200 IAJ=7 MAJ=10\r\n"
    "QualityEst: RLQ=90 MOSLQ=3.9\r\n"
    "DialogID: 1890463548@alice.example.org;to-tag=8472761;from-tag=9123dh311\r\n";

static void test_rfc6035_body(void **state)
{
    (void)state;
    struct vq_report r;
    assert_int_equal(vq_parse_rtcpxr(bv_cstr(RFC6035_BODY), &r), VQ_OK);
    assert_false(r.interval);
    assert_true(bv_eq_cstr(r.call_id, "6dg37f1890463"));
    assert_true(bv_eq_cstr(r.local_id, "Alice <sip:alice@atlanta.example.org>"));
    assert_true(bv_eq_cstr(r.codec, "G729"));
    assert_true(r.has_local && r.has_remote);
    NEAR(r.local.mos_lq, 4.2);
    NEAR(r.local.mos_cq, 4.3);
    NEAR(r.local.r_lq, 88);
    NEAR(r.local.r_cq, 85);
    NEAR(r.local.loss_pct, 5.0);
    NEAR(r.local.discard_pct, 2.0);
    NEAR(r.local.rtt_ms, 200);
    NEAR(r.local.delay_ms, 140);
    NEAR(r.local.jitter_ms, 2);
    assert_true(r.local.packets < 0 && r.local.lost < 0);
    NEAR(r.remote.loss_pct, 1.0);
    NEAR(r.remote.jitter_ms, 7);
    NEAR(r.remote.mos_lq, 3.9);
    assert_true(r.remote.mos_cq < 0);
    /* LF-only line ends, no trailing newline, no blank after the colon */
    static const char lf[] = "VQIntervalReport\nLocalMetrics:\nPacketLoss:NLR=8.0\nCallID:x@y\n"
                             "Delay:IAJ=93";
    assert_int_equal(vq_parse_rtcpxr(bv_cstr(lf), &r), VQ_OK);
    assert_true(r.interval);
    assert_true(bv_eq_cstr(r.call_id, "x@y"));
    NEAR(r.local.loss_pct, 8.0);
    NEAR(r.local.jitter_ms, 93);
}

static void test_rtcpxr_rejects(void **state)
{
    (void)state;
    struct vq_report r;
    assert_int_equal(vq_parse_rtcpxr(bv_cstr("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"), &r),
                     VQ_INVALID);
    assert_int_equal(vq_parse_rtcpxr(bv_cstr(""), &r), VQ_TRUNCATED);
    assert_int_equal(vq_parse_rtcpxr(bv_cstr("VQSessionReport: CallTerm\r\nCallID: a\r\n"), &r),
                     VQ_UNSUPPORTED);
    /* numbers that are not ours: signs, exponents, 10+ digits */
    assert_int_equal(vq_parse_rtcpxr(bv_cstr("VQSessionReport\nLocalMetrics:\n"
                                             "QualityEst: MOSLQ=-4 MOSCQ=1e3 RLQ=12345678901\n"),
                                     &r),
                     VQ_UNSUPPORTED);
    assert_true(vq_is_rtcpxr_type(bv_cstr("Application/VQ-RTCPXR ; charset=x")));
    assert_false(vq_is_rtcpxr_type(bv_cstr("application/sdp")));
}

static void test_stat_headers(void **state)
{
    (void)state;
    struct vq_report r;
    assert_int_equal(
        vq_parse_stat(bv_cstr("PS=1240,OS=198400,PR=1238,OR=198080,PL=12,JI=4,LA=35,DU=24,"
                              "EN=PCMA,DE=PCMA"),
                      &r),
        VQ_OK);
    NEAR(r.local.sent, 1240);
    NEAR(r.local.packets, 1238);
    NEAR(r.local.lost, 12);
    NEAR(r.local.loss_pct, 100.0 * 12 / 1250);
    NEAR(r.local.jitter_ms, 4);
    NEAR(r.local.delay_ms, 35);
    NEAR(r.local.duration_s, 24);
    assert_true(bv_eq_cstr(r.codec, "PCMA"));
    assert_true(r.local.mos_lq < 0);
    /* ';' separators and spaces, unknown keys skipped */
    assert_int_equal(vq_parse_stat(bv_cstr(" PR=10; PL=0 ;XX=7;EN=G729"), &r), VQ_OK);
    NEAR(r.local.loss_pct, 0);
    assert_int_equal(vq_parse_stat(bv_cstr(""), &r), VQ_TRUNCATED);
    assert_int_equal(vq_parse_stat(bv_cstr("no pairs here"), &r), VQ_INVALID);
    assert_int_equal(vq_parse_stat(bv_cstr("AB=1,CD=x"), &r), VQ_UNSUPPORTED);
    assert_int_equal(vq_parse_stat(bv_cstr("PR=,PL=="), &r), VQ_UNSUPPORTED);
}

/* Random and truncated input: no crash, views stay inside the input. */
static void test_hostile(void **state)
{
    (void)state;
    srand(11);
    size_t full = strlen(RFC6035_BODY);
    for (size_t cut = 0; cut <= full; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        assert_non_null(p);
        memcpy(p, RFC6035_BODY, cut);
        struct vq_report r;
        (void)vq_parse_rtcpxr(bv_make(p, cut), &r);
        if (r.call_id.len)
            assert_true(r.call_id.p >= p && r.call_id.p + r.call_id.len <= p + cut);
        (void)vq_parse_stat(bv_make(p, cut), &r);
        free(p);
    }
    for (int i = 0; i < 5000; i++) {
        size_t n = (size_t)(rand() % 200);
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        static const char alpha[] = "VQSessionReport:LocalMetrics\r\n=. ,;0123456789MOSLQNLR";
        for (size_t k = 0; k < n; k++)
            p[k] = (uint8_t)(rand() % 3 ? alpha[rand() % (int)(sizeof alpha - 1)] : rand());
        struct vq_report r;
        (void)vq_parse_rtcpxr(bv_make(p, n), &r);
        (void)vq_parse_stat(bv_make(p, n), &r);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6035_body),
        cmocka_unit_test(test_rtcpxr_rejects),
        cmocka_unit_test(test_stat_headers),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
