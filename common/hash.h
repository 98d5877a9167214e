/* Seeded keyed hash (SipHash-1-3) for every table keyed by wire data:
 * Call-IDs, ports and SSRCs are chosen by strangers, so the seed is random
 * per process and collisions cannot be planned. */
#ifndef TS_HASH_H
#define TS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Seed from getrandom(); tests may fix it for reproducibility. */
void ts_hash_seed_random(void);
void ts_hash_seed_fixed(uint64_t k0, uint64_t k1);

/* SipHash-1-3 of len bytes with the process seed. */
uint64_t ts_hash(const void *data, size_t len);
/* Fold another value into a running hash (for composite keys). */
uint64_t ts_hash_mix(uint64_t h, const void *data, size_t len);

/* A keyed multiply mix of 64 bits into h (start with h = 0); its high bits
 * are the well-mixed ones. Several times cheaper than SipHash but not
 * collision-resistant against a patient prober: only for indexes where a
 * collision costs a second lookup and never a wrong result. */
uint64_t ts_mix64(uint64_t h, uint64_t x);

#endif
