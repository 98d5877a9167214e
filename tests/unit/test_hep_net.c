/* Unit tests for the HEP sender and collector sockets: stream framing,
 * auth key, truncation at every length, per-sender token buckets, the
 * bounded sender table at N-1/N/N+1, UDP and TCP round trips, TCP
 * reconnection and a sender that never blocks when the collector is away.
 * Under attack: the key before the bucket and before inflating, the shared
 * budget of unauthenticated addresses, capture times ahead of the clock,
 * the per-address TCP cap and the idle timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
    assert_true(hep_listen_input(l, &a, bv_make(buf, n), 1, 0));
    n = make_pkt(buf, sizeof buf, "secreT", 2);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 2, 0));
    n = make_pkt(buf, sizeof buf, "secre", 3);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 3, 0));
    n = make_pkt(buf, sizeof buf, "secret!", 4);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 4, 0));
    n = make_pkt(buf, sizeof buf, NULL, 5);
    assert_false(hep_listen_input(l, &a, bv_make(buf, n), 5, 0));
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
        assert_false(hep_listen_input(l, &a, bv_make(b, len), len, 0));
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
    assert_false(hep_listen_input(l, &a, bv_make(bad, sizeof bad), 1, 0));
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
        ok += hep_listen_input(l, &a, bv_make(buf, n), t, 0);
    assert_int_equal(ok, 5);
    ok = 0;
    for (int i = 0; i < 5; i++)
        ok += hep_listen_input(l, &b, bv_make(buf, n), t, 0);
    assert_int_equal(ok, 5); /* the flood of a did not starve b */
    /* 0.3 s later: 3 tokens */
    ok = 0;
    for (int i = 0; i < 10; i++)
        ok += hep_listen_input(l, &a, bv_make(buf, n), t + 300000000ull, 0);
    assert_int_equal(ok, 3);
    /* 10 s later: capped at the burst */
    ok = 0;
    for (int i = 0; i < 10; i++)
        ok += hep_listen_input(l, &a, bv_make(buf, n), t + 10300000000ull, 0);
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
            hep_listen_input(l, &a, bv_make(buf, n), i + 1, 0);
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

/* A HEP3 packet with a key and a compressed-payload chunk of junk. */
static size_t make_zjunk(uint8_t *b, const char *key)
{
    size_t n = 6, kl = strlen(key);
    uint8_t ch[] = { 0, 0, 0, 11, 0, 7, 1 };
    memcpy(b + n, ch, sizeof ch);
    n += sizeof ch;
    uint8_t kh[] = { 0, 0, 0, 14, 0, (uint8_t)(6 + kl) };
    memcpy(b + n, kh, sizeof kh);
    memcpy(b + n + 6, key, kl);
    n += 6 + kl;
    uint8_t zh[] = { 0, 0, 0, 16, 0, 6 + 8, 'n', 'o', 't', ' ', 'z', 'l', 'i', 'b' };
    memcpy(b + n, zh, sizeof zh);
    n += sizeof zh;
    memcpy(b, "HEP3", 4);
    b[4] = (uint8_t)(n >> 8);
    b[5] = (uint8_t)n;
    return n;
}

/* With a key: packets with a wrong key (spoofing a sensor's address) do not
 * spend the sensor's tokens; compressed payloads are not inflated before the
 * key is checked; unknown addresses get no sender record and share one
 * budget (N-1, N, N+1 around it). */
static void test_auth_before_rate(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct hep_listen_opts o = { .auth_key = bv_cstr("secret"), .rate = 10, .burst = 5,
                                 .unauth_rate = 1, .unauth_burst = 21 };
    char err[256];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    assert_non_null(l);
    uint8_t good[512], bad[512], z[128];
    size_t ng = make_pkt(good, sizeof good, "secret", 1);
    size_t nb = make_pkt(bad, sizeof bad, "wrong", 1);
    struct ts_addr a = ip4(1);
    uint64_t t = 1000000000ull;
    assert_true(hep_listen_input(l, &a, bv_make(good, ng), t, 0));
    for (int i = 0; i < 100; i++)
        assert_false(hep_listen_input(l, &a, bv_make(bad, nb), t, 0));
    unsigned ok = 0;
    for (int i = 0; i < 6; i++)
        ok += hep_listen_input(l, &a, bv_make(good, ng), t, 0);
    assert_int_equal(ok, 4); /* the burst of 5, the first one taken */
    const struct hep_sender *sa = hep_listen_sender(l, 0);
    assert_int_equal(sa->unauthenticated, 100);
    assert_int_equal(sa->rate_limited, 2);
    /* junk that would not inflate: with a wrong key it is unauthenticated
     * (never inflated), with the right one unsupported */
    size_t nz = make_zjunk(z, "wrong");
    assert_false(hep_listen_input(l, &a, bv_make(z, nz), t + 1000000000ull, 0));
    assert_int_equal(sa->unauthenticated, 101);
    nz = make_zjunk(z, "secret");
    assert_false(hep_listen_input(l, &a, bv_make(z, nz), t + 1000000000ull, 0));
    assert_int_equal(sa->unsupported, 1);
    /* the budget is 21: a's first packet took one; of 21 unknown addresses
     * with a wrong key 20 are parsed, the 21st is over; none gets a record */
    for (unsigned i = 0; i < 21; i++) {
        struct ts_addr x = ip4((uint8_t)(100 + i));
        assert_false(hep_listen_input(l, &x, bv_make(bad, nb), t, 0));
    }
    struct hep_listen_stats st;
    hep_listen_stats(l, &st);
    assert_int_equal(hep_listen_sender_count(l), 1);
    assert_int_equal(st.total.unauth_limited, 1);
    assert_int_equal(st.total.unauthenticated, 121);
    /* a new sensor with the key gets in once the budget refills */
    struct ts_addr b = ip4(2);
    assert_false(hep_listen_input(l, &b, bv_make(good, ng), t, 0));
    assert_true(hep_listen_input(l, &b, bv_make(good, ng), t + 2000000000ull, 0));
    assert_int_equal(hep_listen_sender_count(l), 2);
    hep_listen_free(l);
}

struct seen {
    unsigned n;
    uint64_t ts;
};

static void on_ts(void *ctx, const struct hep_msg *h, const struct hep_sender *from, uint64_t t)
{
    struct seen *s = ctx;
    (void)from;
    (void)t;
    s->n++;
    s->ts = h->ts_ns;
}

/* A capture time ahead of the wall clock by more than the allowance is not
 * passed on (the receive time stands in), counted per sender; within the
 * allowance, or in the past, it is kept. */
static void test_clock_ahead(void **state)
{
    (void)state;
    struct seen sn = { 0 };
    struct hep_listen_opts o = { .unlimited = true, .clock_ahead_ms = 2000 };
    char err[256];
    struct hep_listen *l = hep_listen_new(&o, on_ts, &sn, err, sizeof err);
    uint8_t buf[512];
    size_t n = make_pkt(buf, sizeof buf, NULL, 0); /* ts 1700000000 s */
    struct ts_addr a = ip4(3);
    uint64_t ts = 1700000000000000000ull;
    assert_true(hep_listen_input(l, &a, bv_make(buf, n), 1, ts - 600000000000ull));
    assert_int_equal(sn.ts, 0);
    assert_true(hep_listen_input(l, &a, bv_make(buf, n), 2, ts - 2000000000ull));
    assert_int_equal(sn.ts, ts);
    assert_true(hep_listen_input(l, &a, bv_make(buf, n), 3, ts - 2000000001ull));
    assert_int_equal(sn.ts, 0);
    assert_true(hep_listen_input(l, &a, bv_make(buf, n), 4, ts + 3600000000000ull));
    assert_int_equal(sn.ts, ts);
    assert_int_equal(hep_listen_sender(l, 0)->clock_ahead, 2);
    hep_listen_free(l);
}

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Idle TCP connections: a fourth from one address evicts that address's
 * longest idle one (cap 3); silent ones go after the hello time; one that
 * delivered stays until its idle time. */
static void test_tcp_idle(void **state)
{
    (void)state;
    struct got g = { 0 };
    struct hep_listen_opts o = { .unlimited = true, .nspecs = 1, .max_conns_per_addr = 3,
                                 .tcp_hello_ms = 300, .tcp_idle_ms = 1500 };
    o.specs[0] = "127.0.0.1:0/tcp";
    char err[256];
    struct hep_listen *l = hep_listen_new(&o, on_msg, &g, err, sizeof err);
    assert_non_null(l);
    uint16_t port = hep_listen_port(l, 0);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = tcp_connect(port);
        assert_true(fds[i] >= 0);
        for (int k = 0; k < 5; k++)
            hep_listen_poll(l, 10);
    }
    struct hep_listen_stats st;
    hep_listen_stats(l, &st);
    assert_int_equal(st.tcp_accepted, 5);
    assert_int_equal(st.tcp_evicted, 2);
    assert_int_equal(hep_listen_conn_count(l), 3);
    /* the newest one speaks; the others stay silent past the hello time */
    uint8_t buf[512];
    size_t n = make_pkt(buf, sizeof buf, NULL, 9);
    assert_int_equal(write(fds[4], buf, n), (ssize_t)n);
    assert_int_equal(poll_until(l, &g, 1, 2000), 1);
    for (int k = 0; k < 60; k++)
        hep_listen_poll(l, 10);
    hep_listen_stats(l, &st);
    assert_int_equal(hep_listen_conn_count(l), 1);
    assert_int_equal(st.tcp_idle_closed, 2);
    /* then its idle time runs out too */
    for (int k = 0; k < 200 && hep_listen_conn_count(l); k++)
        hep_listen_poll(l, 10);
    assert_int_equal(hep_listen_conn_count(l), 0);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    hep_listen_free(l);
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
        cmocka_unit_test(test_auth_before_rate),
        cmocka_unit_test(test_clock_ahead),
        cmocka_unit_test(test_tcp_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
