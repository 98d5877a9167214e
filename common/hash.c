/* SipHash-1-3 (Aumasson and Bernstein), seeded once per process; NH and
 * multiply-add-shift for short keys, a keyed multiply fold for payloads and a
 * keyed multiply mix for slot indexes (see hash.h for which serves what). */
#include "hash.h"

#include <string.h>
#include <sys/random.h>

static uint64_t k0 = 0x736f6d6570736575ull, k1 = 0x646f72616e646f6dull;
/* the mix's keys, derived from the seed (km odd: the multiply is a bijection) */
static uint64_t kx = 0x9e3779b97f4a7c15ull, km = 0xbf58476d1ce4e5b9ull;

/* ts_hash_wide's keys */
static uint64_t kw0 = 0xa0761d6478bd642full, kw1 = 0xe7037ed1a0b428dbull,
                kw2 = 0x8ebc6af09c88c6e3ull, kw3 = 0x589965cc75374cc3ull,
                kw4 = 0x1d8e4e27c47d124full;

/* ts_hash_words' keys: NH's, one per word of the longest key and its
 * length word (rounded up to pairs), and the three 128-bit ones of the
 * multiply-add-shift */
#define NH_WORDS ((TS_HASH_WORDS + 2) & ~1u)
/* fixed defaults until a seed is set (never zero: a zero NH key would let
 * a zero word erase its partner) */
#define KD(i) (0x9e3779b97f4a7c15ull * (2 * (i) + 1) ^ 0xd6e8feb86659fd93ull)
static uint64_t knh[NH_WORDS] = { KD(0), KD(1), KD(2),  KD(3),  KD(4),  KD(5),  KD(6),
                                  KD(7), KD(8), KD(9), KD(10), KD(11), KD(12), KD(13) };
_Static_assert(NH_WORDS == 14, "one default per NH key");
static unsigned __int128 kms[3] = { (unsigned __int128)KD(20) << 64 | KD(21),
                                    (unsigned __int128)KD(22) << 64 | KD(23),
                                    (unsigned __int128)KD(24) << 64 | KD(25) };

static void derive_mix_keys(void)
{
    for (unsigned i = 0; i < NH_WORDS; i++) {
        uint8_t t[3] = { 'n', 'h', (uint8_t)i };
        knh[i] = ts_hash(t, sizeof t);
    }
    for (unsigned i = 0; i < 3; i++) {
        uint8_t t[4] = { 'm', 's', (uint8_t)i, 0 };
        uint64_t lo = ts_hash(t, sizeof t);
        t[3] = 1;
        kms[i] = (unsigned __int128)ts_hash(t, sizeof t) << 64 | lo;
    }
    kx = ts_hash("mix-x", 5);
    km = ts_hash("mix-m", 5) | 1;
    kw0 = ts_hash("wide-0", 6);
    kw1 = ts_hash("wide-1", 6);
    kw2 = ts_hash("wide-2", 6);
    kw3 = ts_hash("wide-3", 6);
    kw4 = ts_hash("wide-4", 6);
}

void ts_hash_seed_random(void)
{
    uint64_t k[2];
    if (getrandom(k, sizeof k, 0) == (ssize_t)sizeof k) {
        k0 = k[0];
        k1 = k[1];
    }
    derive_mix_keys();
}

void ts_hash_seed_fixed(uint64_t a, uint64_t b)
{
    k0 = a;
    k1 = b;
    derive_mix_keys();
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                             \
    do {                                                                     \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);            \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                               \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                               \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);            \
    } while (0)

static uint64_t siphash13(uint64_t a, uint64_t b, const uint8_t *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ a;
    uint64_t v1 = 0x646f72616e646f6dull ^ b;
    uint64_t v2 = 0x6c7967656e657261ull ^ a;
    uint64_t v3 = 0x7465646279746573ull ^ b;
    uint64_t m;
    size_t left = len & 7;
    size_t blocks = len - left;
    for (size_t i = 0; i < blocks; i += 8) {
        memcpy(&m, in + i, 8); /* little-endian hosts only (x86_64, arm64) */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t t = (uint64_t)len << 56;
    for (size_t i = 0; i < left; i++)
        t |= (uint64_t)in[blocks + i] << (8 * i);
    v3 ^= t;
    SIPROUND;
    v0 ^= t;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t ts_hash(const void *data, size_t len)
{
    return siphash13(k0, k1, data, len);
}

uint64_t ts_hash_mix(uint64_t h, const void *data, size_t len)
{
    return siphash13(k0 ^ h, k1 + h, data, len);
}

uint64_t ts_mix64(uint64_t h, uint64_t x)
{
    /* xor-shift first, so that the high bits of h reach the low ones the
     * multiply carries upward */
    h ^= x ^ kx;
    h ^= h >> 29;
    return h * km;
}

/* The 128-bit product of a and b, its halves folded. */
static uint64_t fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Up to 8 bytes at p (k of them) as a word, zero-padded: loads of 8, 4, 2
 * and 1 bytes, never a wide load over bytes just stored byte by byte
 * (which waits for the stores to retire). */
static uint64_t load_upto8(const uint8_t *p, size_t k)
{
    uint64_t w = 0;
    if (k >= 8) {
        memcpy(&w, p, 8);
        return w;
    }
    unsigned sh = 0;
    if (k & 4) {
        uint32_t u;
        memcpy(&u, p, 4);
        w = u;
        sh = 32;
        p += 4;
    }
    if (k & 2) {
        uint16_t u;
        memcpy(&u, p, 2);
        w |= (uint64_t)u << sh;
        sh += 16;
        p += 2;
    }
    if (k & 1)
        w |= (uint64_t)*p << sh;
    return w;
}

uint64_t ts_hash_wide(uint64_t h, const void *data, size_t len)
{
    /* two lanes of 16 bytes, so that two multiplies run at once */
    const uint8_t *p = data;
    uint64_t x = h ^ kw2, y = h ^ kw4, a, b, c, d;
    size_t n = len;
    for (; n >= 32; n -= 32, p += 32) {
        memcpy(&a, p, 8); /* little-endian hosts only, as siphash13 */
        memcpy(&b, p + 8, 8);
        memcpy(&c, p + 16, 8);
        memcpy(&d, p + 24, 8);
        x = fold_mul(a ^ kw0 ^ x, b ^ kw1);
        y = fold_mul(c ^ kw3 ^ y, d ^ kw4);
    }
    /* the last 0-31 bytes, zero-padded */
    a = load_upto8(p, n);
    b = n > 8 ? load_upto8(p + 8, n - 8) : 0;
    c = n > 16 ? load_upto8(p + 16, n - 16) : 0;
    d = n > 24 ? load_upto8(p + 24, n - 24) : 0;
    x = fold_mul(a ^ kw0 ^ x, b ^ kw1 ^ (uint64_t)len);
    y = fold_mul(c ^ kw3 ^ y, d ^ kw4);
    return fold_mul(fold_mul(x ^ kw2, y ^ kw4) ^ kw3, kw1 | 1);
}

uint64_t ts_hash_words(const uint64_t *w, size_t n)
{
    if (n > TS_HASH_WORDS) /* a caller's bug: still a keyed hash */
        return ts_hash(w, n * sizeof *w);
    unsigned __int128 acc = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        acc += (unsigned __int128)(w[i] + knh[i]) * (w[i + 1] + knh[i + 1]);
    /* then n, and a zero word when n is even */
    uint64_t x = i < n ? w[i] : (uint64_t)n, y = i < n ? (uint64_t)n : 0;
    acc += (unsigned __int128)(x + knh[i]) * (y + knh[i + 1]);
    unsigned __int128 r = kms[0] + kms[1] * (uint64_t)acc + kms[2] * (uint64_t)(acc >> 64);
    return (uint64_t)(r >> 64);
}
