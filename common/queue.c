/* Lock-free single-producer/single-consumer byte ring of variable-length
 * packet records, with drop counting and an eventcount-style doorbell. */
#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"

/* len's top bit marks a padding record that fills the ring's tail end. */
#define PAD_FLAG 0x80000000u
#define MIN_BYTES 4096u

struct queue_bell {
    _Atomic uint64_t epoch;
    _Atomic int waiters;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct queue {
    /* producer and consumer positions on their own cache lines */
    _Alignas(64) _Atomic uint64_t head;
    _Atomic uint64_t pushed, drops;
    _Alignas(64) _Atomic uint64_t tail;
    uint32_t cur_len; /* consumer: length of the peeked record */
    _Alignas(64) size_t cap;
    uint8_t *buf;
    struct queue_bell *bell;
};

struct queue_bell *queue_bell_new(void)
{
    struct queue_bell *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        pthread_condattr_destroy(&ca);
        free(b);
        return NULL;
    }
    if (pthread_cond_init(&b->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    return b;
}

void queue_bell_free(struct queue_bell *b)
{
    if (!b)
        return;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

uint64_t queue_bell_epoch(struct queue_bell *b)
{
    return atomic_load(&b->epoch);
}

/* The producer bumps epoch then reads waiters; the consumer sets waiters then
 * reads epoch (both sequentially consistent), so one of them sees the other:
 * no lost wake-up, and no mutex on the fast path. */
void queue_bell_ring(struct queue_bell *b)
{
    atomic_fetch_add(&b->epoch, 1);
    if (atomic_load(&b->waiters)) {
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
}

bool queue_bell_wait(struct queue_bell *b, uint64_t epoch, uint32_t timeout_ms)
{
    struct timespec dl;
    ts_deadline(CLOCK_MONOTONIC, timeout_ms, &dl);
    bool rung = false;
    pthread_mutex_lock(&b->mu);
    atomic_fetch_add(&b->waiters, 1);
    for (;;) {
        if (atomic_load(&b->epoch) != epoch) {
            rung = true;
            break;
        }
        if (pthread_cond_timedwait(&b->cv, &b->mu, &dl) != 0) {
            rung = atomic_load(&b->epoch) != epoch;
            break;
        }
    }
    atomic_fetch_sub(&b->waiters, 1);
    pthread_mutex_unlock(&b->mu);
    return rung;
}

struct queue *queue_new(size_t bytes, struct queue_bell *bell)
{
    bytes &= ~(size_t)7;
    if (bytes < MIN_BYTES)
        bytes = MIN_BYTES;
    struct queue *q = aligned_alloc(64, sizeof(struct queue));
    if (!q)
        return NULL;
    memset(q, 0, sizeof *q);
    q->buf = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!q->buf) {
        free(q);
        return NULL;
    }
    /* Touch every page now: memory use is flat from the start and the
     * capture thread never takes a page fault on a traffic burst. */
    memset(q->buf, 0, bytes);
    q->cap = bytes;
    q->bell = bell;
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    free(q->buf);
    free(q);
}

static void put_len(struct queue *q, size_t pos, uint32_t len)
{
    memcpy(q->buf + pos, &len, sizeof len);
}

int queue_push(struct queue *q, uint64_t ts_ns, int32_t linktype, uint32_t wirelen,
               uint32_t src, const void *data, uint32_t caplen)
{
    size_t need = (sizeof(struct queue_rec) + (size_t)caplen + 7) & ~(size_t)7;
    if (need > q->cap / 2) {
        atomic_fetch_add_explicit(&q->drops, 1, memory_order_relaxed);
        return QUEUE_TOO_BIG;
    }
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    size_t pos = (size_t)(h % q->cap);
    size_t contig = q->cap - pos;
    size_t avail = q->cap - (size_t)(h - t);
    /* A record that does not fit before the end: a padding record covers
     * the rest of the ring and the record goes to the front. */
    if (need > contig) {
        if (avail < contig + need) {
            atomic_fetch_add_explicit(&q->drops, 1, memory_order_relaxed);
            return QUEUE_FULL;
        }
        put_len(q, pos, (uint32_t)contig | PAD_FLAG);
        h += contig;
        pos = 0;
    } else if (avail < need) {
        atomic_fetch_add_explicit(&q->drops, 1, memory_order_relaxed);
        return QUEUE_FULL;
    }
    struct queue_rec *r = (struct queue_rec *)(void *)(q->buf + pos);
    r->len = (uint32_t)need;
    r->caplen = caplen;
    r->wirelen = wirelen;
    r->linktype = linktype;
    r->ts_ns = ts_ns;
    r->src = src;
    r->flags = 0;
    if (caplen)
        memcpy(r->data, data, caplen);
    atomic_store_explicit(&q->head, h + need, memory_order_release);
    atomic_fetch_add_explicit(&q->pushed, 1, memory_order_relaxed);
    if (q->bell)
        queue_bell_ring(q->bell);
    return QUEUE_OK;
}

const struct queue_rec *queue_peek(struct queue *q)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    for (;;) {
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        if (t == h)
            return NULL;
        size_t pos = (size_t)(t % q->cap);
        uint32_t len;
        memcpy(&len, q->buf + pos, sizeof len);
        if (len & PAD_FLAG) {
            t += len & ~PAD_FLAG;
            atomic_store_explicit(&q->tail, t, memory_order_release);
            continue;
        }
        q->cur_len = len;
        return (const struct queue_rec *)(const void *)(q->buf + pos);
    }
}

void queue_release(struct queue *q)
{
    if (!q->cur_len)
        return;
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    atomic_store_explicit(&q->tail, t + q->cur_len, memory_order_release);
    q->cur_len = 0;
}

uint64_t queue_pushed(const struct queue *q)
{
    return atomic_load_explicit(&((struct queue *)q)->pushed, memory_order_relaxed);
}

uint64_t queue_drops(const struct queue *q)
{
    return atomic_load_explicit(&((struct queue *)q)->drops, memory_order_relaxed);
}

size_t queue_used(const struct queue *q)
{
    struct queue *m = (struct queue *)q;
    uint64_t h = atomic_load_explicit(&m->head, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&m->tail, memory_order_acquire);
    return (size_t)(h - t);
}

size_t queue_capacity(const struct queue *q) { return q->cap; }
