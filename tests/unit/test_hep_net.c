/* Unit tests for the HEP sender and collector sockets: stream framing,
 * auth key, truncation at every length, per-sender token buckets, the
 * bounded sender table at N-1/N/N+1, UDP and TCP round trips, TCP
 * reconnection and a sender that never blocks when the collector is away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../net/hep_listen.h"
#include "../../net/hep_send.h"

static const char SIP[] = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n";

static size_t make_pkt(uint8_t *buf, size_t cap, const char *key, uint32_t seq)
{
    struct hep_msg m;
    memset(&m, 0, sizeof m);
    m.ip_proto = 17;
    m.src.family = m.dst.family = 4;
    memcpy(m.src.a, "\x0a\x00\x00\x01", 4);
    memcpy(m.dst.a, "\x0a\x00\x00\x02", 4);
    m.sport = m.dport = 5060;
    m.ts_ns = 1700000000000000000ull + seq * 1000ull;
    m.proto_type = HEP_PROTO_SIP;
    m.node_id = seq;
    if (key)
        m.auth_key = bv_cstr(key);
    m.node_name = bv_cstr("site-x");
    m.payload = bv_make(SIP, sizeof SIP - 1);
    return hep_encode(&m, buf, cap);
}

static struct ts_addr ip4(uint8_t last)
{
    struct ts_addr a;
    memset(&a, 0, sizeof a);
    a.family = 4;
    a.a[0] = 192; a.a[1] = 0; a.a[2] = 2; a.a[3] = last;
    return a;
}

struct got {
    unsigned n;
    uint32_t last_node;
    char site[TS_SITE_LEN];
};

static void on_msg(void *ctx, const struct hep_msg *h, const struct hep_sender *from, uint64_t t)
{
    struct got *g = ctx;
    (void)t;
    g->n++;
    g->last_node = h->node_id;
    memcpy(g->site, from->node_name, sizeof g->site);
}

static void test_frame(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = make_pkt(buf, sizeof buf, NULL, 1);
    for (size_t len = 0; len < n; len++)
        assert_int_equal(hep_listen_frame(bv_make(buf, len)), 0);
    assert_int_equal(hep_listen_frame(bv_make(buf, n)), (long)n);
    uint8_t two[1024];
    memcpy(two, buf, n);
    memcpy(two + n, buf, n);
    assert_int_equal(hep_listen_frame(bv_make(two, 2 * n)), (long)n);
    assert_int_equal(hep_listen_frame(bv_cstr("HEP2")), -1);
    assert_int_equal(hep_listen_frame(bv_cstr("X")), -1);
    assert_int_equal(hep_listen_frame(bv_make("HEP3\x00\x05", 6)), -1);
    assert_int_equal(hep_listen_frame(bv_make("HEP3\x00\x06", 6)), 6);
}

static void test_auth_key(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct hep_listen_opts o = { .auth_key = bv_cstr("secret"), .unlimited = true };
    char err[256];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    assert_non_null(l);
    uint8_t buf[512];
    struct ts_addr a = ip4(1);
    size_t n = make_pkt(buf, sizeof buf, "secret", 1);
    assert_true(hep_listen_input(l, &a, bv_make(buf, n), 1));
    n = make_pkt(buf, sizeof buf, "secreT", 2);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 2));
    n = make_pkt(buf, sizeof buf, "secre", 3);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 3));
    n = make_pkt(buf, sizeof buf, "secret!", 4);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 4));
    n = make_pkt(buf, sizeof buf, NULL, 5);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 5));
    assert_int_equal(g.n, 1);
    assert_string_equal(g.site, "site-x");
    struct hep_listen_stats st;
    hep_listen_stats(l, &st);
    assert_int_equal(st.total.packets, 5);
    assert_int_equal(st.total.accepted, 1);
    assert_int_equal(st.total.unauthenticated, 4);
    hep_listen_free(l);
}

/* Every prefix of a packet is counted as truncated (below the magic: not
 * HEP, unsupported); nothing reaches the callback. */
static void test_truncation_every_length(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct hep_listen_opts o = { .unlimited = true };
    char err[256];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    uint8_t ref[512];
    size_t n = make_pkt(ref, sizeof ref, NULL, 1);
    struct ts_addr a = ip4(2);
    for (size_t len = 0; len < n; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, ref, len);
        assert_false(hep_listen_input(l, &a, bv_make(b, len), len));
        free(b);
    }
    struct hep_listen_stats st;
    hep_listen_stats(l, &st);
    assert_int_equal(g.n, 0);
    assert_int_equal(st.total.truncated, n - 4);
    assert_int_equal(st.total.unsupported, 4);
    assert_int_equal(st.total.packets, n);
    /* garbage with the magic and a bad chunk length: malformed */
    uint8_t bad[12] = { 'H', 'E', 'P', '3', 0, 12, 0, 0, 0, 1, 0, 2 };
    assert_false(hep_listen_input(l, &a, bv_make(bad, sizeof bad), 1));
    hep_listen_stats(l, &st);
    assert_int_equal(st.total.malformed, 1);
    hep_listen_free(l);
}

/* A sender over its bucket is limited; another sender is not affected;
 * tokens come back with time, never above the burst. */
static void test_rate_limit(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct hep_listen_opts o = { .rate = 10, .burst = 5 };
    char err[256];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    uint8_t buf[512];
    size_t n = make_pkt(buf, sizeof buf, NULL, 1);
    struct ts_addr a = ip4(10), b = ip4(11);
    uint64_t t = 5000000000ull;
    unsigned ok = 0;
    for (int i = 0; i < 20; i++)
        ok += hep_listen_input(l, &a, bv_make(buf, n), t);
    assert_int_equal(ok, 5);
    ok = 0;
    for (int i = 0; i < 5; i++)
        ok += hep_listen_input(l, &b, bv_make(buf, n), t);
    assert_int_equal(ok, 5); /* the flood of a did not starve b */
    /* 0.3 s later: 3 tokens */
    ok = 0;
    for (int i = 0; i < 10; i++)
        ok += hep_listen_input(l, &a, bv_make(buf, n), t + 300000000ull);
    assert_int_equal(ok, 3);
    /* 10 s later: capped at the burst */
    ok = 0;
    for (int i = 0; i < 10; i++)
        ok += hep_listen_input(l, &a, bv_make(buf, n), t + 10300000000ull);
    assert_int_equal(ok, 5);
    const struct hep_sender *sa = NULL;
    for (size_t i = 0; i < hep_listen_sender_count(l); i++)
        if (ts_addr_eq(&hep_listen_sender(l, i)->addr, &a))
            sa = hep_listen_sender(l, i);
    assert_non_null(sa);
    assert_int_equal(sa->packets, 40);
    assert_int_equal(sa->accepted, 13);
    assert_int_equal(sa->rate_limited, 27);
    hep_listen_free(l);
}

/* The sender table holds max_senders; one more evicts the least recently
 * heard, and the totals keep the evicted one's counts. */
static void test_sender_table(void **state)
{
    (void)state;
    const unsigned max = 4;
    for (unsigned k = max - 1; k <= max + 1; k++) {
        struct got g = { 0 };
        struct hep_listen_opts o = { .unlimited = true, .max_senders = max };
        char err[256];
        struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
        uint8_t buf[512];
        size_t n = make_pkt(buf, sizeof buf, NULL, 1);
        for (unsigned i = 0; i < k; i++) {
            struct ts_addr a = ip4((uint8_t)(i + 1));
            hep_listen_input(l, &a, bv_make(buf, n), i + 1);
        }
        struct hep_listen_stats st;
        hep_listen_stats(l, &st);
        assert_int_equal(hep_listen_sender_count(l), k < max ? k : max);
        assert_int_equal(st.senders_evicted, k > max ? k - max : 0);
        assert_int_equal(st.total.accepted, k);
        if (k > max) {
            /* sender 1 (the oldest) is gone, sender k is there */
            struct ts_addr first = ip4(1), last = ip4((uint8_t)k);
            bool has_first = false, has_last = false;
            for (size_t i = 0; i < hep_listen_sender_count(l); i++) {
                has_first |= ts_addr_eq(&hep_listen_sender(l, i)->addr, &first);
                has_last |= ts_addr_eq(&hep_listen_sender(l, i)->addr, &last);
            }
            assert_false(has_first);
            assert_true(has_last);
        }
        hep_listen_free(l);
    }
}

static unsigned poll_until(struct hep_listen *l, struct got *g, unsigned want, int ms)
{
    for (int i = 0; i < ms / 10 && g->n < want; i++)
        hep_listen_poll(l, 10);
    return g->n;
}

static void roundtrip(bool tcp)
{
    struct got g = { 0 };
    struct hep_listen_opts o = { .unlimited = true, .nspecs = 1 };
    o.specs[0] = tcp ? "127.0.0.1:0/tcp" : "127.0.0.1:0/udp";
    char err[256], target[64];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    assert_non_null(l);
    uint16_t port = hep_listen_port(l, 0);
    assert_true(port > 0);
    snprintf(target, sizeof target, "127.0.0.1:%u", port);
    struct hep_send_opts so = { .target = target, .tcp = tcp };
    struct hep_send *s = hep_send_new(&so, err, sizeof err);
    assert_non_null(s);
    uint8_t buf[512];
    for (uint32_t i = 1; i <= 200; i++) {
        size_t n = make_pkt(buf, sizeof buf, NULL, i);
        assert_true(hep_send_raw(s, bv_make(buf, n)));
    }
    assert_int_equal(poll_until(l, &g, 200, 5000), 200);
    assert_int_equal(g.last_node, 200); /* in order */
    hep_send_stop(s);
    struct hep_send_stats ss;
    hep_send_stats(s, &ss);
    assert_int_equal(ss.queued, 200);
    assert_int_equal(ss.sent, 200);
    assert_int_equal(ss.dropped_full + ss.send_errors + ss.unsent_at_exit, 0);
    hep_send_free(s);
    hep_listen_free(l);
}

static void test_udp_roundtrip(void **state) { (void)state; roundtrip(false); }
static void test_tcp_roundtrip(void **state) { (void)state; roundtrip(true); }

/* TCP: the collector is down at first; the sender keeps the queue, backs
 * off, connects when the collector appears and delivers everything. */
static void test_tcp_reconnect(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct hep_listen_opts o = { .unlimited = true, .nspecs = 1 };
    o.specs[0] = "127.0.0.1:0/tcp";
    char err[256], target[64], spec[64];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    uint16_t port = hep_listen_port(l, 0);
    hep_listen_free(l); /* the port is free again */
    snprintf(target, sizeof target, "127.0.0.1:%u/tcp", port);
    struct hep_send_opts so = { .target = target };
    struct hep_send *s = hep_send_new(&so, err, sizeof err);
    assert_non_null(s);
    uint8_t buf[512];
    for (uint32_t i = 1; i <= 50; i++) {
        size_t n = make_pkt(buf, sizeof buf, NULL, i);
        assert_true(hep_send_raw(s, bv_make(buf, n)));
    }
    struct timespec ts = { 0, 400 * 1000000L };
    nanosleep(&ts, NULL);
    struct hep_send_stats ss;
    hep_send_stats(s, &ss);
    assert_true(ss.connect_failures >= 1);
    assert_false(ss.connected);
    snprintf(spec, sizeof spec, "127.0.0.1:%u/tcp", port);
    o.specs[0] = spec;
    l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(poll_until(l, &g, 50, 10000), 50);
    hep_send_stats(s, &ss);
    assert_true(ss.connected);
    assert_int_equal(ss.connects, 1);
    hep_send_free(s);
    hep_listen_free(l);
}

/* Nobody listens and the queue is tiny: hep_send_msg returns at once and
 * counts what did not fit; stop gives up after flush_ms and counts the rest. */
static void test_never_blocks(void **state)
{
    (void)state;
    char err[256];
    struct hep_send_opts so = { .target = "127.0.0.1:9/tcp", .queue_bytes = 4096,
                                .flush_ms = 200 };
    struct hep_send *s = hep_send_new(&so, err, sizeof err);
    assert_non_null(s);
    uint8_t buf[512];
    size_t n = make_pkt(buf, sizeof buf, NULL, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned ok = 0;
    for (int i = 0; i < 10000; i++)
        ok += hep_send_raw(s, bv_make(buf, n));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(dt < 1.0);
    struct hep_send_stats ss;
    hep_send_stats(s, &ss);
    assert_int_equal(ss.queued, ok);
    assert_int_equal(ss.dropped_full, 10000 - ok);
    assert_true(ok > 0 && ok < 100);
    hep_send_stop(s);
    hep_send_stats(s, &ss);
    assert_int_equal(ss.sent, 0);
    assert_int_equal(ss.unsent_at_exit, ok);
    /* too big and after stop */
    uint8_t *big = calloc(1, HEP_MAX_PACKET + 1);
    assert_false(hep_send_raw(s, bv_make(big, HEP_MAX_PACKET + 1)));
    free(big);
    hep_send_free(s);
    assert_null(hep_send_new(&(struct hep_send_opts){ .target = "nohostport" }, err, sizeof err));
    assert_null(hep_send_new(&(struct hep_send_opts){ .target = "1.2.3.4:99999" }, err,
                             sizeof err));
    hep_send_free(NULL);
    hep_listen_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_auth_key),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_sender_table),
        cmocka_unit_test(test_udp_roundtrip),
        cmocka_unit_test(test_tcp_roundtrip),
        cmocka_unit_test(test_tcp_reconnect),
        cmocka_unit_test(test_never_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
