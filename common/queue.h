/* Bounded single-producer/single-consumer ring of packet records (capture
 * thread -> analysis thread), lock-free, with drop counting and a doorbell
 * the consumer sleeps on when every queue it serves is empty. */
#ifndef TS_QUEUE_H
#define TS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum queue_err { QUEUE_OK = 0, QUEUE_FULL, QUEUE_TOO_BIG, QUEUE_NOMEM };

/* One packet in the ring; data follows the header, 8-byte aligned. */
struct queue_rec {
    uint32_t len;      /* whole record in the ring (header + data, aligned) */
    uint32_t caplen;   /* bytes in data */
    uint32_t wirelen;
    int32_t linktype;
    uint64_t ts_ns;
    uint32_t src;      /* producer's tag (interface index) */
    uint32_t flags;    /* internal: padding record */
    uint8_t data[];
};

/* Consumer doorbell shared by several queues: producers ring it after a push,
 * the consumer waits on it only after seeing every queue empty. */
struct queue_bell;

struct queue_bell *queue_bell_new(void);
void queue_bell_free(struct queue_bell *b); /* NULL is fine */
/* Read before checking the queues; pass to queue_bell_wait. */
uint64_t queue_bell_epoch(struct queue_bell *b);
/* Sleep until a ring after epoch was taken, or timeout_ms passed. Returns
 * true when rung, false on timeout. */
bool queue_bell_wait(struct queue_bell *b, uint64_t epoch, uint32_t timeout_ms);
/* Wake the consumer (producers call it through queue_push; stop paths too). */
void queue_bell_ring(struct queue_bell *b);

struct queue;

/* A ring of about bytes (rounded down to 8; at least 4 KiB), every page
 * touched up front. bell may be NULL (the consumer then polls). NULL on
 * allocation failure. */
struct queue *queue_new(size_t bytes, struct queue_bell *bell);
void queue_free(struct queue *q); /* NULL is fine */

/* Producer only. Copy one packet in. QUEUE_FULL or QUEUE_TOO_BIG (a record
 * larger than half the ring) drop it and count it; never blocks. */
int queue_push(struct queue *q, uint64_t ts_ns, int32_t linktype, uint32_t wirelen,
               uint32_t src, const void *data, uint32_t caplen);

/* Consumer only. The oldest record, or NULL when empty. It stays valid (and
 * in the ring) until queue_release. */
const struct queue_rec *queue_peek(struct queue *q);
/* Consumer only. Drop the record queue_peek returned. */
void queue_release(struct queue *q);

/* Counters, readable from any thread. */
uint64_t queue_pushed(const struct queue *q);
uint64_t queue_drops(const struct queue *q);
size_t queue_used(const struct queue *q); /* bytes queued now */
size_t queue_capacity(const struct queue *q);

#endif
