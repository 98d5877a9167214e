/* Seeded keyed hashes for every table keyed by wire data: Call-IDs, ports
 * and SSRCs are chosen by strangers, so the keys are random per process and
 * collisions cannot be planned. SipHash-1-3 for strings of any length; a
 * universal hash (ts_hash_words) for the short fixed-form keys hashed once
 * or twice per packet (flows, streams, the duplicate fingerprint). */
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

/* The most words ts_hash_words takes: the duplicate fingerprint's 13. */
#define TS_HASH_WORDS 13

/* A 64-bit hash of a short key given as n 64-bit words (n up to
 * TS_HASH_WORDS; callers build the words from fields or from the packet,
 * not from bytes just stored, which stalls the loads), several times
 * cheaper than SipHash: NH (UMAC's inner hash, Black et al. 1999), the sum
 * of (w[2i] + k[2i]) * (w[2i+1] + k[2i+1]) mod 2^128 over the words and then
 * n (zero-padded to pairs), is almost-universal (two distinct keys, of any
 * lengths, collide with probability at most 2^-63), and the vector
 * multiply-add-shift of its two halves (Dietzfelbinger 1996: the top 64
 * bits of a0 + a1 lo + a2 hi mod 2^128) is strongly universal onto 64 bits.
 * So for any two distinct keys fixed in advance, over the random process
 * keys (derived from the seed through SipHash), they collide with
 * probability at most 2^-62 and their low bits (a table's bucket) coincide
 * with probability about 1/buckets: chains stay short whatever traffic a
 * stranger sends, unless the stranger learns how keys land, and this
 * process sends nothing back to the senders and no hash value leaves it.
 * Flooding by adaptive probing needs such an oracle; where one could exist
 * (a key whose collision gives a wrong answer a stranger observes and
 * retries cheaply) use ts_hash(). A caller's encoding of its key into words
 * must be injective (field lengths in a word of their own where they vary). */
uint64_t ts_hash_words(const uint64_t *w, size_t n);

/* Fold len more bytes into h with keyed 64x64->128-bit multiplies, 16
 * bytes per multiply (two lanes of 16): several times cheaper than
 * ts_hash_mix on long runs of bytes. For bytes that follow others already
 * hashed into h by SipHash or ts_hash_words (a payload after its headers).
 * Its keys come from the random process seed through SipHash and h is
 * itself a keyed hash value, so every
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
