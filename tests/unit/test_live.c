/* Tests of live capture without a network: the default BPF filter keeps
 * every frame the decoder uses in the shared captures, bad filters and
 * interfaces give one-line errors; as root, inside a private network
 * namespace, a real capture on its loopback (frames, max_packets, ticks,
 * sync, queue drops reported through the drop callback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../capture/live.h"
#include "../../capture/pcapin.h"
#include "../../common/hash.h"
#include "../../engine/engine.h"

static void test_filter_compiles(void **state)
{
    (void)state;
    char err[256];
    /* Ethernet, Linux cooked v1/v2, raw IP: the default compiles (without
     * its VLAN half where the link has none) */
    static const int types[] = { 1, 113, 276, 12, 0 };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct live_filter *lf = live_filter_new(NULL, types[i], 0, err, sizeof err);
        if (!lf)
            fail_msg("linktype %d: %s", types[i], err);
        live_filter_free(lf);
    }
    struct live_filter *lf = live_filter_new("udp and (", 1, 0, err, sizeof err);
    assert_null(lf);
    assert_memory_equal(err, "filter:", 7);
    assert_null(strchr(err, '\n'));
    live_filter_free(NULL);
}

/* Minimal frames through the compiled default filter. */
static void test_filter_matches(void **state)
{
    (void)state;
    char err[256];
    struct live_filter *lf = live_filter_new(NULL, 1, 0, err, sizeof err);
    assert_non_null(lf);
    uint8_t fr[128];
    struct ts_frame f = { .linktype = 1, .data = fr };
    /* Ethernet + IPv4 + proto */
    static const struct { uint16_t vlans; uint8_t proto; bool keep; } cases[] = {
        { 0, 17, true }, { 0, 6, true }, { 0, 132, true }, { 0, 47, true }, { 0, 4, true },
        { 0, 1, false }, { 1, 17, true }, { 1, 1, false }, { 2, 6, true }, { 2, 89, false },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(fr, 0, sizeof fr);
        size_t off = 12;
        for (uint16_t v = 0; v < cases[c].vlans; v++) {
            fr[off] = v == 0 && cases[c].vlans == 2 ? 0x88 : 0x81;
            fr[off + 1] = v == 0 && cases[c].vlans == 2 ? 0xa8 : 0x00;
            fr[off + 3] = 10;
            off += 4;
        }
        fr[off] = 0x08;
        fr[off + 1] = 0x00;
        uint8_t *ip = fr + off + 2;
        ip[0] = 0x45;
        ip[3] = 60;
        ip[8] = 64;
        ip[9] = cases[c].proto;
        f.caplen = f.wirelen = (uint32_t)(off + 2 + 60);
        assert_int_equal(live_filter_match(lf, &f), cases[c].keep);
    }
    /* IPv6 fragment header (next header 44) */
    memset(fr, 0, sizeof fr);
    fr[12] = 0x86;
    fr[13] = 0xdd;
    fr[14] = 0x60;
    fr[14 + 6] = 44;
    f.caplen = f.wirelen = 14 + 40 + 16;
    assert_true(live_filter_match(lf, &f));
    fr[14 + 6] = 58; /* ICMPv6 */
    assert_false(live_filter_match(lf, &f));
    live_filter_free(lf);
}

/* Every frame of the shared captures that the decoder turns into a
 * transport payload passes the default filter for its link type. */
static void test_filter_keeps_corpus(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pcaps", TS_SHARED_DIR);
    DIR *d = opendir(dir);
    if (!d) {
        skip();
        return;
    }
    ts_hash_seed_fixed(1, 2);
    uint64_t checked = 0, missed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        if (l < 5 || (strcmp(n + l - 5, ".pcap") && strcmp(n + l - 4, ".cap") &&
                      strcmp(n + l - 7, ".pcapng")))
            continue;
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/%s", dir, n);
        struct pcapin *in = pcapin_new();
        struct engine_config ec = { .dedup = false, .track_calls = false };
        struct engine *e = engine_new(&ec);
        assert_non_null(in);
        assert_non_null(e);
        if (pcapin_add(in, path, err, sizeof err) != 0) {
            pcapin_free(in);
            engine_free(e);
            continue;
        }
        struct live_filter *lf = NULL;
        int lt = -1;
        struct ts_frame f;
        while (pcapin_next(in, &f, err, sizeof err) == 1) {
            if (f.linktype != lt) {
                live_filter_free(lf);
                lt = f.linktype;
                lf = live_filter_new(NULL, lt, 0, err, sizeof err);
            }
            uint64_t before = engine_stats(e)->v[TS_DECODED];
            engine_frame(e, &f);
            if (engine_stats(e)->v[TS_DECODED] == before || !lf)
                continue;
            checked++;
            if (!live_filter_match(lf, &f)) {
                if (missed < 5)
                    print_message("filter drops frame %llu of %s\n",
                                  (unsigned long long)f.frame_no, n);
                missed++;
            }
        }
        live_filter_free(lf);
        pcapin_free(in);
        engine_free(e);
    }
    closedir(d);
    assert_true(checked > 1000);
    assert_int_equal(missed, 0);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[512];
    struct live_opts o = { .nifaces = 1 };
    o.ifaces[0] = "nosuchdev0";
    struct live *lv = live_open(&o, err, sizeof err);
    assert_null(lv);
    assert_non_null(strstr(err, "nosuchdev0"));
    assert_null(strchr(err, '\n'));
    struct live_opts none = { .nifaces = 0 };
    assert_null(live_open(&none, err, sizeof err));
    struct live_opts many = { .nifaces = TS_LIVE_MAX_IFACES + 1 };
    assert_null(live_open(&many, err, sizeof err));
    live_free(NULL);
}

/* ---- live capture in a private network namespace (root only) ---- */

static bool private_loopback(void)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0)
        return false;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return false;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    close(s);
    return ok;
}

struct rx {
    _Atomic uint64_t frames, ticks, syncs, drop_calls, dropped;
    _Atomic uint64_t last_ts;
    int linktype;
    uint32_t sleep_first_ms;
};

static void rx_frame(void *ctx, const struct ts_frame *f)
{
    struct rx *r = ctx;
    if (atomic_fetch_add(&r->frames, 1) == 0 && r->sleep_first_ms)
        usleep(r->sleep_first_ms * 1000);
    atomic_store(&r->last_ts, f->ts_ns);
    r->linktype = f->linktype;
}

static void rx_tick(void *ctx, uint64_t now)
{
    struct rx *r = ctx;
    (void)now;
    atomic_fetch_add(&r->ticks, 1);
}

static void rx_sync(void *ctx)
{
    struct rx *r = ctx;
    atomic_fetch_add(&r->syncs, 1);
}

static void rx_drop(void *ctx, uint64_t ts, uint64_t count)
{
    struct rx *r = ctx;
    (void)ts;
    atomic_fetch_add(&r->drop_calls, 1);
    atomic_fetch_add(&r->dropped, count);
}

static void send_udp(int n, size_t len)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5099) };
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    char buf[1500];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < n; i++)
        sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof to);
    close(s);
}

static bool wait_for(_Atomic uint64_t *v, uint64_t want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (atomic_load(v) >= want)
            return true;
        usleep(10000);
    }
    return atomic_load(v) >= want;
}

static int ns_state;

static struct live *open_lo(uint64_t max_packets, size_t queue_bytes)
{
    char err[512];
    struct live_opts o = { .nifaces = 1, .filter = "udp port 5099", .buffer_mb = 4,
                           .max_packets = max_packets, .queue_bytes = queue_bytes };
    o.ifaces[0] = "lo";
    struct live *lv = live_open(&o, err, sizeof err);
    if (!lv)
        fail_msg("live_open lo: %s", err);
    return lv;
}

static void test_capture_loopback(void **state)
{
    (void)state;
    if (!ns_state) {
        skip();
        return;
    }
    struct rx r;
    memset(&r, 0, sizeof r);
    struct live *lv = open_lo(0, 0);
    assert_int_equal(live_iface_count(lv), 1);
    assert_string_equal(live_iface_name(lv, 0), "lo");
    char err[256];
    struct live_cb cb = { .ctx = &r, .frame = rx_frame, .tick = rx_tick, .sync = rx_sync,
                          .drop = rx_drop };
    assert_int_equal(live_start(lv, &cb, err, sizeof err), LIVE_OK);
    usleep(100000);
    uint64_t t0 = live_now_ns();
    send_udp(50, 200);
    assert_true(wait_for(&r.frames, 50, 5000));
    uint64_t ts = atomic_load(&r.last_ts);
    assert_true(ts + 1000000000ull > t0 && ts < live_now_ns() + 1000000000ull);
    assert_int_equal(r.linktype, live_iface_linktype(lv, 0));
    /* idle: wall-clock ticks; a sync request runs once */
    assert_true(wait_for(&r.ticks, 1, 3000));
    live_request_sync(lv);
    assert_true(wait_for(&r.syncs, 1, 3000));
    assert_false(live_done(lv));
    live_stop(lv);
    live_stop(lv); /* idempotent */
    struct live_stats s;
    live_stats_get(lv, &s);
    assert_int_equal(s.received, 50);
    assert_int_equal(s.analysed, 50);
    assert_int_equal(s.kernel_drops + s.queue_drops, 0);
    assert_int_equal(s.ifaces, 1);
    assert_int_equal(r.drop_calls, 0);
    assert_int_equal(r.syncs, 1);
    live_free(lv);
}

static void test_capture_max_packets(void **state)
{
    (void)state;
    if (!ns_state) {
        skip();
        return;
    }
    struct rx r;
    memset(&r, 0, sizeof r);
    struct live *lv = open_lo(3, 0);
    char err[256];
    struct live_cb cb = { .ctx = &r, .frame = rx_frame };
    assert_int_equal(live_start(lv, &cb, err, sizeof err), LIVE_OK);
    usleep(100000);
    send_udp(5, 100);
    for (int i = 0; i < 300 && !live_done(lv); i++)
        usleep(10000);
    assert_true(live_done(lv));
    live_stop(lv);
    assert_int_equal(atomic_load(&r.frames), 3);
    struct live_stats s;
    live_stats_get(lv, &s);
    assert_int_equal(s.analysed, 3);
    assert_int_equal(s.received, 5);
    live_free(lv);
}

/* A stalled analysis thread fills the (tiny) queue: the losses are counted
 * and reported through the drop callback, and capture never blocks. */
static void test_capture_queue_drops(void **state)
{
    (void)state;
    if (!ns_state) {
        skip();
        return;
    }
    struct rx r;
    memset(&r, 0, sizeof r);
    r.sleep_first_ms = 500;
    struct live *lv = open_lo(0, 4096);
    char err[256];
    struct live_cb cb = { .ctx = &r, .frame = rx_frame, .drop = rx_drop };
    assert_int_equal(live_start(lv, &cb, err, sizeof err), LIVE_OK);
    usleep(100000);
    send_udp(1, 100);
    usleep(200000); /* the analysis thread now sleeps inside the first frame */
    send_udp(100, 1000);
    usleep(1500000);
    live_stop(lv);
    struct live_stats s;
    live_stats_get(lv, &s);
    assert_int_equal(s.received, 101);
    assert_true(s.queue_drops > 0);
    assert_int_equal(s.analysed + s.queue_drops, 101);
    assert_true(r.drop_calls >= 1);
    assert_int_equal(r.dropped, s.queue_drops + s.kernel_drops);
    assert_true(s.last_drop_ns > 0);
    live_free(lv);
}

/* Two ctest entries: unit.test_live runs the cases that need nothing;
 * unit.test_live_netns (argument "netns") captures in a private network
 * namespace and exits 77, ctest's skip code, without root. */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "netns") == 0) {
        const struct CMUnitTest netns[] = {
            cmocka_unit_test(test_capture_loopback),
            cmocka_unit_test(test_capture_max_packets),
            cmocka_unit_test(test_capture_queue_drops),
        };
        ns_state = private_loopback() ? 1 : 0;
        if (!ns_state) {
            printf("skipped: needs root and a private network namespace\n");
            return 77;
        }
        return cmocka_run_group_tests(netns, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_compiles),
        cmocka_unit_test(test_filter_matches),
        cmocka_unit_test(test_filter_keeps_corpus),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
