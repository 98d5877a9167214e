/* Unit tests for the HEPv3 encoder: round trips through hep_parse, every
 * chunk, the 64 KiB bound at N-1/N/N+1, output capacity at every length and
 * decoding of every truncated prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/hep.h"

static const char SIP[] = "INVITE sip:100@10.0.0.2 SIP/2.0\r\nCall-ID: abc@x\r\n"
                          "Content-Length: 0\r\n\r\n";

static struct hep_msg sample_v4(void)
{
    struct hep_msg m;
    memset(&m, 0, sizeof m);
    m.ip_proto = 17;
    m.src.family = m.dst.family = 4;
    memcpy(m.src.a, "\x0a\x00\x00\x01", 4);
    memcpy(m.dst.a, "\xcb\x00\x71\x05", 4);
    m.sport = 5060;
    m.dport = 5080;
    m.ts_ns = 1700000000123456000ull;
    m.proto_type = HEP_PROTO_SIP;
    m.node_id = 2001;
    m.vlan = 42;
    m.auth_key = bv_cstr("key-1");
    m.correlation_id = bv_cstr("abc@x");
    m.node_name = bv_cstr("branch-7");
    m.payload = bv_make(SIP, sizeof SIP - 1);
    return m;
}

static void test_roundtrip_v4(void **state)
{
    (void)state;
    struct hep_msg m = sample_v4(), d;
    uint8_t buf[1024];
    size_t n = hep_encode(&m, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal((buf[4] << 8) | buf[5], n);
    assert_memory_equal(buf, "HEP3", 4);
    assert_int_equal(hep_parse(bv_make(buf, n), &d, NULL, 0), HEP_OK);
    assert_int_equal(d.version, 3);
    assert_int_equal(d.family, 4);
    assert_int_equal(d.ip_proto, 17);
    assert_true(ts_addr_eq(&d.src, &m.src));
    assert_true(ts_addr_eq(&d.dst, &m.dst));
    assert_int_equal(d.sport, 5060);
    assert_int_equal(d.dport, 5080);
    assert_true(d.ts_ns == m.ts_ns); /* microsecond resolution: m is whole us */
    assert_int_equal(d.proto_type, HEP_PROTO_SIP);
    assert_int_equal(d.node_id, 2001);
    assert_int_equal(d.vlan, 42);
    assert_true(bv_eq_cstr(d.auth_key, "key-1"));
    assert_true(bv_eq_cstr(d.correlation_id, "abc@x"));
    assert_true(bv_eq_cstr(d.node_name, "branch-7"));
    assert_true(bv_eq(d.payload, m.payload));
    assert_int_equal(d.len, n);
    assert_false(d.compressed);
}

static void test_roundtrip_v6_minimal(void **state)
{
    (void)state;
    struct hep_msg m, d;
    memset(&m, 0, sizeof m);
    m.ip_proto = 6;
    m.src.family = m.dst.family = 6;
    m.src.a[0] = 0x20; m.src.a[1] = 0x01; m.src.a[15] = 1;
    m.dst.a[0] = 0x20; m.dst.a[1] = 0x01; m.dst.a[15] = 2;
    m.sport = 1; m.dport = 65535;
    m.ts_ns = 999999000ull; /* sec 0, usec 999999 */
    m.proto_type = HEP_PROTO_RTCP;
    m.payload = bv_make("\x80\xc8\x00\x06", 4);
    uint8_t buf[256];
    size_t n = hep_encode(&m, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(hep_parse(bv_make(buf, n), &d, NULL, 0), HEP_OK);
    assert_int_equal(d.family, 6);
    assert_int_equal(d.ip_proto, 6);
    assert_true(ts_addr_eq(&d.src, &m.src));
    assert_true(ts_addr_eq(&d.dst, &m.dst));
    assert_int_equal(d.dport, 65535);
    assert_true(d.ts_ns == 999999000ull);
    assert_int_equal(d.proto_type, HEP_PROTO_RTCP);
    /* optional chunks left out when empty */
    assert_int_equal(d.auth_key.len, 0);
    assert_int_equal(d.correlation_id.len, 0);
    assert_int_equal(d.node_name.len, 0);
    assert_int_equal(d.vlan, 0);
    /* 6 header + family 7 + proto 7 + 2 * 22 + ports 2 * 8 + ts 2 * 10 + type 7 +
     * node 10 + payload 10 */
    assert_int_equal(n, 6 + 7 + 7 + 44 + 16 + 20 + 7 + 10 + 10);
    /* the last second HEP can carry (2106-02-07), then one past it: sent
     * without a time (the receiver's clock stands in), not wrapped to 1970 */
    m.ts_ns = 4294967295ull * 1000000000ull + 5000ull;
    n = hep_encode(&m, buf, sizeof buf);
    assert_int_equal(hep_parse(bv_make(buf, n), &d, NULL, 0), HEP_OK);
    assert_true(d.ts_ns == m.ts_ns);
    m.ts_ns = 4294967296ull * 1000000000ull + 5000ull;
    n = hep_encode(&m, buf, sizeof buf);
    assert_int_equal(n, 6 + 7 + 7 + 44 + 16 + 7 + 10 + 10);
    assert_int_equal(hep_parse(bv_make(buf, n), &d, NULL, 0), HEP_OK);
    assert_true(d.ts_ns == 0);
    assert_int_equal(d.dport, 65535);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    struct hep_msg m = sample_v4();
    uint8_t buf[1024];
    m.dst.family = 6;
    assert_int_equal(hep_encode(&m, buf, sizeof buf), 0);
    m.src.family = m.dst.family = 0;
    assert_int_equal(hep_encode(&m, buf, sizeof buf), 0);
    assert_int_equal(hep_encode(NULL, buf, sizeof buf), 0);
}

/* Every output capacity below the packet size fails cleanly, N fits. */
static void test_capacity_every_length(void **state)
{
    (void)state;
    struct hep_msg m = sample_v4();
    uint8_t ref[1024];
    size_t n = hep_encode(&m, ref, sizeof ref);
    assert_true(n > 0);
    for (size_t cap = 0; cap < n; cap++) {
        uint8_t *b = malloc(cap ? cap : 1);
        assert_int_equal(hep_encode(&m, b, cap), 0);
        free(b);
    }
    uint8_t *b = malloc(n);
    assert_int_equal(hep_encode(&m, b, n), n);
    assert_memory_equal(b, ref, n);
    free(b);
}

/* The 16-bit length: a packet of exactly 65535 bytes encodes, one more not. */
static void test_max_packet(void **state)
{
    (void)state;
    struct hep_msg m = sample_v4();
    uint8_t *pay = calloc(1, 70000), *buf = malloc(70000);
    m.payload = bv_make(pay, 0);
    size_t base = hep_encode(&m, buf, 70000) ; /* with an empty payload chunk */
    assert_true(base > 0);
    size_t fit = HEP_MAX_PACKET - base;
    m.payload = bv_make(pay, fit - 1);
    assert_int_equal(hep_encode(&m, buf, 70000), HEP_MAX_PACKET - 1);
    m.payload = bv_make(pay, fit);
    assert_int_equal(hep_encode(&m, buf, 70000), HEP_MAX_PACKET);
    struct hep_msg d;
    assert_int_equal(hep_parse(bv_make(buf, HEP_MAX_PACKET), &d, NULL, 0), HEP_OK);
    assert_int_equal(d.payload.len, fit);
    m.payload = bv_make(pay, fit + 1);
    assert_int_equal(hep_encode(&m, buf, 70000), 0);
    free(pay);
    free(buf);
}

/* Every prefix of an encoded packet decodes as truncated (or not HEP at
 * all below the magic), never OK and never out of bounds. */
static void test_truncated_prefixes(void **state)
{
    (void)state;
    struct hep_msg m = sample_v4(), d;
    uint8_t ref[1024];
    size_t n = hep_encode(&m, ref, sizeof ref);
    for (size_t len = 0; len < n; len++) {
        uint8_t *b = malloc(len ? len : 1); /* exact size: ASan sees overreads */
        memcpy(b, ref, len);
        enum hep_result r = hep_parse(bv_make(b, len), &d, NULL, 0);
        if (len < 4)
            assert_int_equal(r, HEP_UNSUPPORTED);
        else
            assert_int_equal(r, HEP_TRUNCATED);
        free(b);
    }
    assert_int_equal(hep_parse(bv_make(ref, n), &d, NULL, 0), HEP_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_v4),
        cmocka_unit_test(test_roundtrip_v6_minimal),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_capacity_every_length),
        cmocka_unit_test(test_max_packet),
        cmocka_unit_test(test_truncated_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
