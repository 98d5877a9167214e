/* Pending-event queue of the generator: a binary min-heap ordered by time,
 * ties broken by insertion order so the output is deterministic. */
#ifndef TS_GEN_EVQ_H
#define TS_GEN_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evq_ent {
    uint64_t t;   /* microseconds since the epoch */
    uint64_t tie; /* insertion counter */
    void *obj;
    uint32_t a;
    uint16_t b;
    uint8_t kind;
    uint8_t flags;
};

struct evq {
    struct evq_ent *v;
    size_t n, cap, peak;
    uint64_t tie;
};

void evq_init(struct evq *q);
void evq_cleanup(struct evq *q);
/* Adds an event; false only when memory runs out. */
bool evq_push(struct evq *q, uint64_t t, uint8_t kind, void *obj, uint32_t a,
              uint16_t b, uint8_t flags);
/* Removes the earliest event into *out; false when empty. */
bool evq_pop(struct evq *q, struct evq_ent *out);

#endif
