/* Tests of the capture -> analysis SPSC ring: FIFO order and contents, the
 * capacity at N-1, N, N+1 records, oversized records, wrap-around with
 * padding, a two-thread stress run, the doorbell, and the deadline its
 * timed wait shares with the store writer and the alert notifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/deadline.h"
#include "../../common/queue.h"

#define HDR sizeof(struct queue_rec)

static void fill(uint8_t *buf, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(seed * 31u + i);
}

static void test_fifo(void **state)
{
    (void)state;
    struct queue *q = queue_new(8192, NULL);
    assert_non_null(q);
    assert_null(queue_peek(q));
    uint8_t buf[300];
    for (uint32_t i = 0; i < 5; i++) {
        fill(buf, 100 + i, i);
        assert_int_equal(queue_push(q, 1000 + i, 1, 200 + i, 7, buf, 100 + i), QUEUE_OK);
    }
    assert_int_equal(queue_pushed(q), 5);
    for (uint32_t i = 0; i < 5; i++) {
        const struct queue_rec *r = queue_peek(q);
        assert_non_null(r);
        assert_int_equal(r->ts_ns, 1000 + i);
        assert_int_equal(r->caplen, 100 + i);
        assert_int_equal(r->wirelen, 200 + i);
        assert_int_equal(r->linktype, 1);
        assert_int_equal(r->src, 7);
        fill(buf, 100 + i, i);
        assert_memory_equal(r->data, buf, 100 + i);
        assert_ptr_equal(queue_peek(q), r); /* peeking again: the same record */
        queue_release(q);
    }
    assert_null(queue_peek(q));
    assert_int_equal(queue_used(q), 0);
    assert_int_equal(queue_drops(q), 0);
    queue_release(q); /* nothing peeked: a no-op */
    queue_free(q);
    queue_free(NULL);
}

/* Records of 128 bytes in a 4096-byte ring: exactly 32 fit. */
static void test_capacity_limit(void **state)
{
    (void)state;
    struct queue *q = queue_new(4096, NULL);
    assert_non_null(q);
    assert_int_equal(queue_capacity(q), 4096);
    uint8_t buf[128 - HDR];
    memset(buf, 0xab, sizeof buf);
    const uint32_t n = 4096 / 128;
    for (uint32_t i = 0; i + 1 < n; i++) /* N-1 */
        assert_int_equal(queue_push(q, i, 1, sizeof buf, 0, buf, sizeof buf), QUEUE_OK);
    assert_int_equal(queue_used(q), 4096 - 128);
    assert_int_equal(queue_push(q, n - 1, 1, sizeof buf, 0, buf, sizeof buf), QUEUE_OK); /* N */
    assert_int_equal(queue_used(q), 4096);
    assert_int_equal(queue_push(q, n, 1, sizeof buf, 0, buf, sizeof buf), QUEUE_FULL); /* N+1 */
    assert_int_equal(queue_drops(q), 1);
    assert_int_equal(queue_pushed(q), n);
    /* one out, one in: the ring wraps onto the freed space */
    assert_non_null(queue_peek(q));
    queue_release(q);
    assert_int_equal(queue_push(q, 99, 1, sizeof buf, 0, buf, sizeof buf), QUEUE_OK);
    uint64_t last = 0;
    size_t got = 0;
    const struct queue_rec *r;
    while ((r = queue_peek(q)) != NULL) {
        last = r->ts_ns;
        got++;
        queue_release(q);
    }
    assert_int_equal(got, n);
    assert_int_equal(last, 99);
    queue_free(q);
}

static void test_too_big(void **state)
{
    (void)state;
    struct queue *q = queue_new(4096, NULL);
    uint8_t buf[4096];
    memset(buf, 1, sizeof buf);
    /* half the ring is the largest record */
    assert_int_equal(queue_push(q, 1, 1, 0, 0, buf, 2048 - HDR), QUEUE_OK);
    assert_int_equal(queue_push(q, 2, 1, 0, 0, buf, 2048 - HDR + 1), QUEUE_TOO_BIG);
    assert_int_equal(queue_drops(q), 1);
    /* an empty record is fine */
    assert_int_equal(queue_push(q, 3, 1, 0, 0, NULL, 0), QUEUE_OK);
    assert_int_equal(queue_peek(q)->caplen, 2048 - HDR);
    queue_release(q);
    assert_int_equal(queue_peek(q)->caplen, 0);
    queue_release(q);
    assert_null(queue_peek(q));
    queue_free(q);
}

/* Random sizes against a model FIFO: padding at the end of the ring never
 * loses or reorders a record, and full is reported exactly when the bytes
 * would not fit. */
static void test_wrap_model(void **state)
{
    (void)state;
    struct queue *q = queue_new(8192, NULL);
    uint8_t buf[1200];
    uint32_t next_push = 0, next_pop = 0, drops = 0;
    srand(7);
    for (int step = 0; step < 200000; step++) {
        if (rand() % 3) {
            uint32_t len = (uint32_t)(rand() % 1100);
            fill(buf, len, next_push);
            int rc = queue_push(q, next_push, 1, len, len, buf, len);
            if (rc == QUEUE_OK)
                next_push++;
            else
                drops++;
            assert_true(rc == QUEUE_OK || rc == QUEUE_FULL);
        } else {
            const struct queue_rec *r = queue_peek(q);
            if (!r) {
                assert_int_equal(next_pop, next_push);
                continue;
            }
            assert_int_equal(r->ts_ns, next_pop);
            assert_int_equal(r->caplen, r->src);
            fill(buf, r->caplen, next_pop);
            assert_memory_equal(r->data, buf, r->caplen);
            next_pop++;
            queue_release(q);
        }
        assert_true(queue_used(q) <= 8192);
    }
    assert_int_equal(queue_drops(q), drops);
    assert_true(drops > 0);
    queue_free(q);
}

struct stress {
    struct queue *q;
    struct queue_bell *bell;
    uint32_t total;
};

static void *producer(void *arg)
{
    struct stress *s = arg;
    uint8_t buf[256];
    for (uint32_t i = 0; i < s->total; i++) {
        uint32_t len = 8 + i % 200;
        memcpy(buf, &i, sizeof i);
        memset(buf + 4, (int)(i & 0xff), len - 4);
        (void)queue_push(s->q, i, 1, len, 0, buf, len);
    }
    return NULL;
}

/* Two threads: every record received is intact and in order; received +
 * dropped = pushed attempts. */
static void test_threads(void **state)
{
    (void)state;
    struct stress s = { .bell = queue_bell_new(), .total = 300000 };
    assert_non_null(s.bell);
    s.q = queue_new(64 * 1024, s.bell);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, producer, &s), 0);
    uint64_t got = 0;
    int64_t last = -1;
    for (;;) {
        uint64_t ep = queue_bell_epoch(s.bell);
        const struct queue_rec *r = queue_peek(s.q);
        if (!r) {
            if (got + queue_drops(s.q) == s.total)
                break;
            queue_bell_wait(s.bell, ep, 50);
            continue;
        }
        uint32_t seq;
        memcpy(&seq, r->data, sizeof seq);
        assert_true((int64_t)seq > last);
        assert_int_equal(r->ts_ns, seq);
        assert_int_equal(r->caplen, 8 + seq % 200);
        for (uint32_t k = 4; k < r->caplen; k++)
            assert_int_equal(r->data[k], seq & 0xff);
        last = seq;
        got++;
        queue_release(s.q);
    }
    pthread_join(th, NULL);
    assert_int_equal(got + queue_drops(s.q), s.total);
    assert_int_equal(queue_pushed(s.q), got);
    queue_free(s.q);
    queue_bell_free(s.bell);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_bell(void **state)
{
    (void)state;
    struct queue_bell *b = queue_bell_new();
    uint64_t ep = queue_bell_epoch(b);
    double t0 = mono();
    assert_false(queue_bell_wait(b, ep, 100)); /* nothing: times out */
    double dt = mono() - t0;
    assert_true(dt >= 0.09 && dt < 2.0);
    queue_bell_ring(b);
    t0 = mono();
    assert_true(queue_bell_wait(b, ep, 5000)); /* rung before we waited */
    assert_true(mono() - t0 < 1.0);
    /* a push rings the queue's bell */
    struct queue *q = queue_new(4096, b);
    ep = queue_bell_epoch(b);
    assert_int_equal(queue_push(q, 1, 1, 0, 0, NULL, 0), QUEUE_OK);
    assert_true(queue_bell_wait(b, ep, 5000));
    queue_free(q);
    queue_bell_free(b);
    queue_bell_free(NULL);
}

/* now + ms, carried into the seconds at 999 and 1000 ms. */
static void test_deadline(void **state)
{
    (void)state;
    static const uint32_t ms[] = { 0, 1, 999, 1000, 1500, 86400000 };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        struct timespec a, dl, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ts_deadline(CLOCK_MONOTONIC, ms[i], &dl);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000L);
        int64_t lo = (int64_t)a.tv_sec * 1000000000 + a.tv_nsec + (int64_t)ms[i] * 1000000;
        int64_t hi = (int64_t)b.tv_sec * 1000000000 + b.tv_nsec + (int64_t)ms[i] * 1000000;
        int64_t at = (int64_t)dl.tv_sec * 1000000000 + dl.tv_nsec;
        assert_true(at >= lo && at <= hi);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_capacity_limit),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_wrap_model),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_bell),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
