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

/* Fold len more bytes into h with keyed 64x64->128-bit multiplies, 16
 * bytes per multiply: several times cheaper than ts_hash_mix on long runs
 * of bytes. For bytes that follow others already hashed with SipHash into
 * h (a payload after its headers). Its three keys come from the random
 * process seed through SipHash and h is itself a SipHash value, so every
 * multiplicand is unknown to whoever chose the bytes: a planned collision
 * (or a zero multiplicand that would erase the bytes before it) needs the
 * keys, and no value of this hash ever leaves the process. Not for keys
 * whose collision gives a wrong answer that a stranger can observe and
 * retry cheaply. */
uint64_t ts_hash_wide(uint64_t h, const void *data, size_t len);

/* A keyed multiply mix of 64 bits into h (start with h = 0); its high bits
 * are the well-mixed ones. Several times cheaper than SipHash but not
 * collision-resistant against a patient prober: only for indexes where a
 * collision costs a second lookup and never a wrong result. */
uint64_t ts_mix64(uint64_t h, uint64_t x);

#endif
