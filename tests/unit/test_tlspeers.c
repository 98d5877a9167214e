/* Unit tests for the TLS status per peer pair (calls/tlspeers.c) and the
 * certificate reader's edges (crypto/x509.c): a handshake's facts folded
 * into its pair, status from the last handshake, the table at N-1, N and
 * N+1 pairs (the least recently seen replaced), with keys the decryption
 * verdicts and the list of ended connections (at N-1, N and N+1), days to
 * expiry around a
 * day's boundaries, and bytes libcrypto refuses. Real certificates are
 * compared with `openssl x509` in tests/realnet/test_realnet_tls.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../calls/tlspeers.h"

static struct ts_addr v4(uint32_t x)
{
    struct ts_addr a = { .family = 4 };
    a.a[0] = (uint8_t)(x >> 24);
    a.a[1] = (uint8_t)(x >> 16);
    a.a[2] = (uint8_t)(x >> 8);
    a.a[3] = (uint8_t)x;
    return a;
}

static void conn(struct tlspeers *t, uint32_t cli, uint32_t srv, enum tls_state state,
                 uint64_t ns, const struct x509_facts *cert)
{
    struct tls_conn tc;
    tls_conn_init(&tc);
    tc.state = state;
    tc.have_ch = tc.have_sh = true;
    tc.client_dir = 0;
    tc.version = 0x0303;
    tc.suite = 0xc02f;
    tc.noffered = 2;
    tc.offered[0] = 0x0a0a; /* GREASE: left out of the text */
    tc.offered[1] = 0x0303;
    memcpy(tc.sni, "sbc.example", 12);
    if (state == TLS_ST_FAILED) {
        tc.alerts = 1;
        tc.last_alert_level = 2;
        tc.last_alert_desc = 42;
        tc.last_alert_dir = 1;
    }
    struct tlspeer_conn pc = { .client = v4(cli), .server = v4(srv), .cport = 40000,
                               .sport = 5061, .first_ns = ns, .last_ns = ns, .tls = &tc,
                               .cert = { cert, NULL } };
    tlspeers_add(t, &pc);
}

static void test_fold(void **state)
{
    (void)state;
    struct tlspeers *t = tlspeers_new();
    assert_non_null(t);
    struct x509_facts f;
    memset(&f, 0, sizeof f);
    memcpy(f.subject, "CN = sbc", 9);
    f.not_after = 1000 * 86400;
    conn(t, 1, 2, TLS_ST_ESTABLISHED, 10, &f);
    conn(t, 1, 2, TLS_ST_FAILED, 20, NULL);
    assert_int_equal(tlspeers_count(t), 1);
    const struct tlspeer *p = tlspeers_get(t, 0);
    assert_int_equal(p->conns, 2);
    assert_int_equal(p->established, 1);
    assert_int_equal(p->failed, 1);
    assert_int_equal(p->status, TLSPEER_FAILING);
    assert_string_equal(tlspeers_status_str(p->status), "failing");
    assert_true(p->have_alert);
    assert_true(p->alert_from_server);
    assert_int_equal(p->alert_desc, 42);
    assert_string_equal(p->offered, "TLS1.2");
    assert_string_equal(p->cert[0].subject, "CN = sbc"); /* kept from the first */
    struct ts_addr a = v4(2), b = v4(1), c = v4(3);
    assert_ptr_equal(tlspeers_between(t, &a, &b), p);
    assert_null(tlspeers_between(t, &a, &c));
    int64_t days;
    assert_true(tlspeers_days_left(p, 990 * 86400, &days));
    assert_int_equal(days, 10);
    conn(t, 1, 2, TLS_ST_ESTABLISHED, 30, NULL);
    assert_int_equal(tlspeers_get(t, 0)->status, TLSPEER_OK);
    tlspeers_free(t);
}

static void test_limit(void **state)
{
    (void)state;
    for (uint32_t n = TS_TLS_MAX_PEERS - 1; n <= TS_TLS_MAX_PEERS + 1; n++) {
        struct tlspeers *t = tlspeers_new();
        assert_non_null(t);
        for (uint32_t i = 0; i < n; i++)
            conn(t, 1, 100 + i, TLS_ST_ESTABLISHED, 1000 + i, NULL);
        assert_int_equal(tlspeers_count(t), n <= TS_TLS_MAX_PEERS ? n : TS_TLS_MAX_PEERS);
        assert_int_equal(tlspeers_evicted(t), n > TS_TLS_MAX_PEERS ? 1 : 0);
        /* the least recently seen (the first) went */
        struct ts_addr cl = v4(1), first = v4(100), last = v4(100 + n - 1);
        if (n > TS_TLS_MAX_PEERS)
            assert_null(tlspeers_between(t, &cl, &first));
        else
            assert_non_null(tlspeers_between(t, &cl, &first));
        assert_non_null(tlspeers_between(t, &cl, &last));
        tlspeers_free(t);
    }
}

/* With keys: each connection's decryption verdict counted on its pair when
 * it ends, a connection handed over again (its handshake earlier) not
 * folded twice, and the list of ended connections at N-1, N and N+1 (the
 * oldest let go). */
static void test_conn_list(void **state)
{
    (void)state;
    struct tls_conn tc;
    tls_conn_init(&tc);
    tc.state = TLS_ST_ESTABLISHED;
    tc.have_ch = tc.have_sh = true;
    tc.client_dir = 0;
    struct tlspeer_conn pc = { .client = v4(1), .server = v4(2), .sport = 5061, .tls = &tc,
                               .keys = true };
    struct tlspeers *t = tlspeers_new();
    assert_non_null(t);
    tlspeers_add(t, &pc); /* the handshake ended: decryption goes on */
    assert_int_equal(tlspeers_conn_count(t), 0);
    pc.again = pc.dec_final = true;
    pc.dec.verdict = TLSDEC_DECRYPTING;
    pc.dec.records = 7;
    tlspeers_add(t, &pc);
    const struct tlspeer *p = tlspeers_get(t, 0);
    assert_int_equal(p->conns, 1);
    assert_int_equal(p->established, 1);
    assert_int_equal(p->dec[TLSDEC_DECRYPTING], 1);
    assert_int_equal(tlspeers_conn_count(t), 1);
    assert_int_equal(tlspeers_conn_get(t, 0)->dec.records, 7);
    assert_string_equal(tlsdec_verdict_str(tlspeers_conn_get(t, 0)->dec.verdict), "decrypted");
    tlspeers_free(t);
    for (uint32_t n = TS_TLS_CONN_LIST_MAX - 1; n <= TS_TLS_CONN_LIST_MAX + 1; n++) {
        t = tlspeers_new();
        assert_non_null(t);
        pc.again = false;
        pc.dec.verdict = TLSDEC_NO_KEY;
        for (uint32_t i = 0; i < n; i++) {
            pc.cport = (uint16_t)i;
            pc.first_ns = i;
            tlspeers_add(t, &pc);
        }
        size_t kept = n <= TS_TLS_CONN_LIST_MAX ? n : TS_TLS_CONN_LIST_MAX;
        assert_int_equal(tlspeers_conn_count(t), kept);
        assert_int_equal(tlspeers_conns_dropped(t), n - kept);
        assert_int_equal(tlspeers_conn_get(t, 0)->first_ns, n - kept);
        assert_int_equal(tlspeers_conn_get(t, kept - 1)->first_ns, n - 1);
        assert_null(tlspeers_conn_get(t, kept));
        assert_int_equal(tlspeers_get(t, 0)->dec[TLSDEC_NO_KEY], n);
        tlspeers_free(t);
    }
}

static void test_x509_edges(void **state)
{
    (void)state;
    struct x509_facts f;
    static const uint8_t junk[] = { 0x30, 0x82, 0x01, 0x00, 0x02, 0x01 };
    assert_false(x509_parse(bv_make(junk, sizeof junk), &f));
    assert_int_equal(f.subject[0], 0);
    assert_false(x509_parse(BV_NULL, &f));
    f.not_after = 100 * 86400;
    assert_int_equal(x509_days_left(&f, 100 * 86400), 0);
    assert_int_equal(x509_days_left(&f, 100 * 86400 - 1), 0);
    assert_int_equal(x509_days_left(&f, 99 * 86400), 1);
    assert_int_equal(x509_days_left(&f, 100 * 86400 + 1), -1);
    assert_int_equal(x509_days_left(&f, 101 * 86400), -1);
    assert_int_equal(x509_days_left(&f, 101 * 86400 + 1), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_conn_list),
        cmocka_unit_test(test_x509_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
