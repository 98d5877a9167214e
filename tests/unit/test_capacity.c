/* Capacity planning (calls/capacity.c): Erlang B pinned against a
 * published table, the busy hour over a sliding 60 minutes, BHCA and the
 * channel counts the planning rule asks for. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../calls/capacity.h"

#define MIN_NS (60ll * 1000000000ll)

/* B. Collins, "Carrier Grade Voice over IP", 2nd ed., McGraw-Hill 2003,
 * Appendix A "Table of Erlang B": offered traffic (E, one decimal) per
 * channels (rows 1-9, and the first six columns of row 10) and blocking
 * probability (columns). Each printed value must be the traffic at which
 * our recursion reaches that blocking, rounded to 0.1 E. */
static const double P[16] = { 0.0001, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006,
                              0.007,  0.008,  0.009, 0.01,  0.02,  0.03,  0.04,  0.05 };
static const double T[10][16] = {
    { 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1 },
    { 0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4 },
    { 0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9 },
    { 0.2, 0.4, 0.4, 0.5, 0.6, 0.7, 0.7, 0.7, 0.8, 0.8, 0.8, 0.9, 1.1, 1.3, 1.4, 1.5 },
    { 0.5, 0.6, 0.8, 0.9, 1.0, 1.1, 1.1, 1.2, 1.2, 1.3, 1.3, 1.4, 1.7, 1.9, 2.1, 2.2 },
    { 0.7, 1.0, 1.1, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.8, 1.9, 1.9, 2.3, 2.5, 2.8, 3.0 },
    { 1.1, 1.4, 1.6, 1.8, 1.9, 2.1, 2.2, 2.2, 2.3, 2.4, 2.4, 2.5, 2.9, 3.2, 3.5, 3.7 },
    { 1.4, 1.8, 2.1, 2.3, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, 3.1, 3.1, 3.6, 4.0, 4.3, 4.5 },
    { 1.8, 2.3, 2.6, 2.9, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 4.3, 4.7, 5.1, 5.4 },
    { 2.3, 2.8, 3.1, 3.4, 3.6, 3.8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 },
};

/* the traffic at which n channels block with probability p (bisection) */
static double traffic_at(unsigned n, double p)
{
    double lo = 0, hi = 100;
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (capacity_erlang_b(mid, n) > p)
            hi = mid;
        else
            lo = mid;
    }
    return lo;
}

static void test_erlang_b_table(void **st)
{
    (void)st;
    unsigned checked = 0;
    for (unsigned n = 1; n <= 10; n++)
        for (unsigned j = 0; j < 16; j++) {
            if (T[n - 1][j] < 0)
                continue;
            double a = traffic_at(n, P[j]);
            if (fabs(a - T[n - 1][j]) > 0.05 + 1e-9)
                fail_msg("%u channels at %g: table %.1f E, computed %.4f E", n, P[j],
                         T[n - 1][j], a);
            checked++;
        }
    assert_int_equal(checked, 150);
}

/* Two-decimal traffic of larger trunks as Erlang B tables print it (the
 * same Appendix A extends to 200 channels at one decimal): at that traffic
 * the trunk suffices, 0.01 E more needs one channel more. */
static void test_channels(void **st)
{
    (void)st;
    static const struct { double a, p; unsigned n; } C[] = {
        { 4.46, 0.01, 10 },   { 3.09, 0.001, 10 },  { 12.03, 0.01, 20 }, { 9.41, 0.001, 20 },
        { 37.90, 0.01, 50 },  { 32.51, 0.001, 50 }, { 84.06, 0.01, 100 }, { 75.24, 0.001, 100 },
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        assert_int_equal(capacity_channels(C[i].a, C[i].p), C[i].n);
        assert_int_equal(capacity_channels(C[i].a + 0.01, C[i].p), C[i].n + 1);
    }
    /* one channel: B = A / (1 + A) */
    assert_true(fabs(capacity_erlang_b(0.5, 1) - 0.5 / 1.5) < 1e-12);
    assert_true(capacity_erlang_b(3, 0) == 1.0);
    assert_int_equal(capacity_channels(0, 0.01), 0);
    assert_int_equal(capacity_channels(-1, 0.01), 0);
    assert_int_equal(capacity_channels(NAN, 0.01), 0);
    assert_int_equal(capacity_channels(INFINITY, 0.01), 0);
    /* absurd traffic stops at the limit instead of looping */
    assert_int_equal(capacity_channels(1e7, 0.01), 100000u);
}

static void test_busy_hour(void **st)
{
    (void)st;
    struct capacity c;
    struct capacity_result r;
    capacity_init(&c);
    capacity_finish(&c, &r);
    assert_true(r.bh_start_ns == -1);
    assert_int_equal(r.channels_1pct, 0);

    /* three hours: 10 calls of 180 s a minute in hour 2 (minutes 60-119),
     * 2 a minute elsewhere; several buckets of one minute merge */
    int64_t t0 = 1700000000ll * 1000000000ll;
    t0 -= t0 % MIN_NS;
    for (int m = 0; m < 180; m++) {
        unsigned k = m >= 60 && m < 120 ? 10 : 2;
        capacity_add(&c, t0 + m * MIN_NS, k, k - 1, (k - 1) * 90.0);
        capacity_add(&c, t0 + m * MIN_NS + 30000000000ll, 0, 1, 90.0);
    }
    capacity_finish(&c, &r);
    assert_true(r.bh_start_ns == t0 + 60 * MIN_NS);
    assert_true(r.window_s == 3600);
    assert_int_equal(r.bh_attempts, 600);
    assert_int_equal(r.bh_answered, 600);
    /* 600 calls x 90 s / 3600 s = 15 E */
    assert_true(fabs(r.erlangs - 15.0) < 1e-9);
    assert_true(fabs(r.bhca - 600) < 1e-9);
    assert_true(fabs(r.mean_hold_s - 90) < 1e-9);
    assert_int_equal(r.channels_1pct, capacity_channels(15, 0.01));
    assert_int_equal(r.channels_1pct, 24);   /* 15 E: 23 channels block 1.3 %, 24 0.8 % */
    assert_int_equal(r.channels_01pct, 28);

    /* a window straddling the hours: shift the busy block by 30 minutes */
    capacity_init(&c);
    for (int m = 0; m < 180; m++)
        capacity_add(&c, t0 + m * MIN_NS, 1, 1, m >= 90 && m < 150 ? 300.0 : 10.0);
    capacity_finish(&c, &r);
    assert_true(r.bh_start_ns == t0 + 90 * MIN_NS);

    /* a 10-minute capture: traffic over the 600 s seen, BHCA scaled to an hour */
    capacity_init(&c);
    for (int m = 0; m < 10; m++)
        capacity_add(&c, t0 + m * MIN_NS + 5, 3, 2, 2 * 60.0);
    capacity_add(&c, t0, 5, 5, 100); /* out of order: ignored */
    capacity_finish(&c, &r);
    assert_true(r.bh_start_ns == t0);
    assert_true(r.window_s == 600);
    assert_true(fabs(r.erlangs - 1200.0 / 600.0) < 1e-9);
    assert_true(fabs(r.bhca - 180.0) < 1e-9);

    /* sparse minutes: a gap longer than an hour empties the window */
    capacity_init(&c);
    capacity_add(&c, t0, 50, 50, 5000);
    capacity_add(&c, t0 + 200 * MIN_NS, 1, 1, 10);
    capacity_finish(&c, &r);
    assert_true(r.bh_start_ns == t0);
    assert_true(fabs(r.erlangs - 5000.0 / 3600.0) < 1e-9);
    assert_int_equal(r.bh_attempts, 50);
    /* NaN or negative holding time counts as none */
    capacity_add(&c, t0 + 201 * MIN_NS, 1, 1, NAN);
    capacity_add(&c, t0 + 202 * MIN_NS, 1, 1, -5);
    capacity_finish(&c, &r);
    assert_true(fabs(r.erlangs - 5000.0 / 3600.0) < 1e-9);
}

static void test_l2_rate(void **st)
{
    (void)st;
    /* G.711 20 ms: 50 pps x (12 + 160) B RTP for 10 s -> 87.2 kbit/s at L2 */
    assert_true(fabs(capacity_l2_kbps(500 * 172, 500, 10, 0) - 87.2) < 1e-9);
    assert_true(fabs(capacity_l2_kbps(500 * 172, 500, 10, 1) - 95.2) < 1e-9);
    assert_true(capacity_l2_kbps(100, 1, 0.5, 0) < 0);
    assert_true(capacity_l2_kbps(100, 1, NAN, 0) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erlang_b_table),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_busy_hour),
        cmocka_unit_test(test_l2_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
