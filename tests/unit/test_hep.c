/* Unit tests for the HEPv2/HEPv3 decoder and the WebSocket framer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "../../dissect/hep.h"
#include "../../dissect/ws.h"

static size_t chunk(uint8_t *p, uint16_t type, const void *data, uint16_t len)
{
    p[0] = 0; p[1] = 0;
    p[2] = (uint8_t)(type >> 8); p[3] = (uint8_t)type;
    p[4] = (uint8_t)((len + 6) >> 8); p[5] = (uint8_t)(len + 6);
    memcpy(p + 6, data, len);
    return (size_t)len + 6;
}

static size_t build_hep3(uint8_t *buf, const char *sip, bool compress)
{
    size_t n = 6;
    uint8_t fam = 2, proto = 17, src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };
    uint8_t sp[2] = { 0x13, 0xc4 }, dp[2] = { 0x13, 0xc5 };
    uint8_t sec[4] = { 0x65, 0x00, 0x00, 0x01 }, usec[4] = { 0, 0, 0x03, 0xe8 };
    uint8_t pt = 1, node[4] = { 0, 0, 0, 7 };
    memcpy(buf, "HEP3", 4);
    n += chunk(buf + n, 1, &fam, 1);
    n += chunk(buf + n, 2, &proto, 1);
    n += chunk(buf + n, 3, src, 4);
    n += chunk(buf + n, 4, dst, 4);
    n += chunk(buf + n, 7, sp, 2);
    n += chunk(buf + n, 8, dp, 2);
    n += chunk(buf + n, 9, sec, 4);
    n += chunk(buf + n, 10, usec, 4);
    n += chunk(buf + n, 11, &pt, 1);
    n += chunk(buf + n, 12, node, 4);
    n += chunk(buf + n, 19, "branch-1", 8);
    if (compress) {
        uint8_t z[1024];
        uLongf zl = sizeof z;
        assert_int_equal(compress2(z, &zl, (const Bytef *)sip, strlen(sip), 6), Z_OK);
        n += chunk(buf + n, 16, z, (uint16_t)zl);
    } else {
        n += chunk(buf + n, 15, sip, (uint16_t)strlen(sip));
    }
    buf[4] = (uint8_t)(n >> 8);
    buf[5] = (uint8_t)n;
    return n;
}

static const char *SIP = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";

static void test_hep3_plain_and_compressed(void **state)
{
    (void)state;
    uint8_t pkt[2048], out[4096];
    for (int z = 0; z < 2; z++) {
        size_t n = build_hep3(pkt, SIP, z);
        struct hep_msg m;
        assert_true(hep_looks_like(bv_make(pkt, n)));
        assert_int_equal(hep_parse(bv_make(pkt, n), &m, out, sizeof out), HEP_OK);
        assert_int_equal(m.version, 3);
        assert_int_equal(m.family, 4);
        assert_int_equal(m.src.a[3], 1);
        assert_int_equal(m.dst.a[3], 2);
        assert_int_equal(m.sport, 5060);
        assert_int_equal(m.dport, 5061);
        assert_int_equal(m.ts_ns, 0x65000001ull * 1000000000ull + 1000ull * 1000ull);
        assert_int_equal(m.node_id, 7);
        assert_true(bv_eq_cstr(m.node_name, "branch-1"));
        assert_int_equal(m.compressed, z);
        assert_true(bv_eq_cstr(m.payload, SIP));
        /* every truncation fails cleanly */
        for (size_t cut = 0; cut < n; cut++)
            assert_int_not_equal(hep_parse(bv_make(pkt, cut), &m, out, sizeof out), HEP_OK);
    }
}

static void test_hep3_bad_lengths(void **state)
{
    (void)state;
    uint8_t pkt[2048], out[64];
    size_t n = build_hep3(pkt, SIP, true);
    struct hep_msg m;
    /* the inflated payload does not fit the caller's buffer */
    assert_int_equal(hep_parse(bv_make(pkt, n), &m, out, 8), HEP_UNSUPPORTED);
    /* chunk length below its own header */
    pkt[6 + 4] = 0;
    pkt[6 + 5] = 3;
    assert_int_equal(hep_parse(bv_make(pkt, n), &m, out, sizeof out), HEP_MALFORMED);
}

static void test_hep2(void **state)
{
    (void)state;
    uint8_t pkt[256] = { 2, 28, 2, 17, 0x13, 0xc4, 0x13, 0xc4, 192, 0, 2, 1, 192, 0, 2, 2,
                         0x10, 0, 0, 0, 0x20, 0, 0, 0, 9, 0, 0, 0 };
    size_t n = 28 + strlen(SIP);
    memcpy(pkt + 28, SIP, strlen(SIP));
    struct hep_msg m;
    assert_int_equal(hep_parse(bv_make(pkt, n), &m, NULL, 0), HEP_OK);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.ts_ns, 16ull * 1000000000ull + 32ull * 1000ull);
    assert_int_equal(m.node_id, 9);
    assert_true(bv_eq_cstr(m.payload, SIP));
    pkt[1] = 27; /* header length disagrees with the family */
    assert_int_not_equal(hep_parse(bv_make(pkt, n), &m, NULL, 0), HEP_OK);
}

struct got {
    int n;
    char last[256];
};

static void on_payload(void *ctx, struct bv p)
{
    struct got *g = ctx;
    g->n++;
    bv_to_cstr(p, g->last, sizeof g->last);
}

static size_t ws_frame(uint8_t *f, uint8_t opcode, bool fin, const char *s, bool mask)
{
    size_t len = strlen(s), n = 0;
    f[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    f[n++] = (uint8_t)((mask ? 0x80 : 0) | len);
    uint8_t key[4] = { 0x11, 0x22, 0x33, 0x44 };
    if (mask) {
        memcpy(f + n, key, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        f[n + i] = (uint8_t)(s[i] ^ (mask ? key[i & 3] : 0));
    return n + len;
}

static void test_ws_split_masked_fragmented(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = ws_frame(buf, 1, false, "OPTIONS sip:a SIP/2.0\r\n", true);
    n += ws_frame(buf + n, 9, true, "", false); /* ping between fragments */
    n += ws_frame(buf + n, 0, true, "Call-ID: y\r\n\r\n", true);
    /* every split point of the stream gives the same single message */
    for (size_t cut = 0; cut <= n; cut++) {
        struct ws_stream s = { 0 };
        struct ts_stats st = { { 0 } };
        struct got g = { 0 };
        ws_stream_feed(&s, bv_make(buf, cut), on_payload, &g, &st);
        ws_stream_feed(&s, bv_make(buf + cut, n - cut), on_payload, &g, &st);
        assert_int_equal(g.n, 1);
        assert_string_equal(g.last, "OPTIONS sip:a SIP/2.0\r\nCall-ID: y\r\n\r\n");
        assert_int_equal(st.v[TS_SIP_WEBSOCKET], 3);
        ws_stream_cleanup(&s);
    }
}

static void test_ws_bad_frame(void **state)
{
    (void)state;
    uint8_t f[16] = { 0xF1, 0x00 }; /* RSV bits set */
    struct ws_frame fr;
    assert_int_equal(ws_frame_parse(bv_make(f, 2), &fr), WS_BAD);
    uint8_t big[10] = { 0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0 }; /* 4 GiB payload */
    assert_int_equal(ws_frame_parse(bv_make(big, 10), &fr), WS_BAD);
    assert_int_equal(ws_frame_parse(bv_make(big, 1), &fr), WS_NEED_MORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hep3_plain_and_compressed),
        cmocka_unit_test(test_hep3_bad_lengths),
        cmocka_unit_test(test_hep2),
        cmocka_unit_test(test_ws_split_masked_fragmented),
        cmocka_unit_test(test_ws_bad_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
