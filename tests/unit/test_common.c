/* Unit tests for the byte view, the seeded hash, the bounded table, the
 * UTF-8 policy and the JSON writer's numbers and spliced arrays. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../common/bv.h"
#include "../../common/grow.h"
#include "../../common/hash.h"
#include "../../common/htab.h"
#include "../../common/jsonw.h"
#include "../../common/utf8.h"

/* The sticky reader: in-bounds reads as the plain readers give them; after
 * the first read past the end every read yields 0 and consumes nothing. */
static void test_bv_sticky_reader(void **state)
{
    (void)state;
    const uint8_t buf[] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xfe, 0x01 };
    struct bv_rd r = bv_rd_make(bv_make(buf, sizeof buf));
    assert_int_equal(bv_rd_be32(&r), 0x12345678);
    assert_int_equal(bv_rd_u8(&r), 0x9a);
    assert_int_equal(bv_rd_s8(&r), -2);
    assert_true(r.ok);
    assert_int_equal(r.b.len, 1);
    assert_int_equal(bv_rd_be16(&r), 0); /* one byte left: fails */
    assert_false(r.ok);
    assert_int_equal(r.b.len, 1);
    assert_int_equal(bv_rd_u8(&r), 0); /* sticky: nothing more is read */
    assert_int_equal(r.b.len, 1);
    assert_false(r.ok);
    assert_int_equal(bv_rd_be32(&r), 0);
    bv_rd_skip(&r, 1);
    assert_false(r.ok);
    struct bv_rd e = bv_rd_make(BV_NULL);
    bv_rd_skip(&e, 0);
    assert_true(e.ok);
    assert_int_equal(bv_rd_u8(&e), 0);
    assert_false(e.ok);
}

static void test_bv_readers(void **state)
{
    (void)state;
    const uint8_t buf[] = { 0x12, 0x34, 0x56, 0x78, 0x9a };
    struct bv b = bv_make(buf, sizeof buf);
    uint16_t s;
    uint32_t w;
    assert_true(bv_be16(&b, &s));
    assert_int_equal(s, 0x1234);
    assert_true(bv_be16(&b, &s));
    assert_int_equal(s, 0x5678);
    /* one byte left: a 16-bit read must fail and leave the view intact */
    assert_false(bv_be16(&b, &s));
    assert_int_equal(b.len, 1);
    assert_false(bv_be32(&b, &w));
    uint8_t c;
    assert_true(bv_u8(&b, &c));
    assert_int_equal(c, 0x9a);
    assert_false(bv_u8(&b, &c));
    assert_false(bv_skip(&b, 1));
    assert_true(bv_skip(&b, 0));
}

static void test_bv_peek_bounds(void **state)
{
    (void)state;
    const uint8_t buf[4] = { 1, 2, 3, 4 };
    struct bv b = bv_make(buf, 4);
    uint32_t w;
    uint16_t s;
    assert_true(bv_peek_be32(b, 0, &w));
    assert_false(bv_peek_be32(b, 1, &w));
    assert_true(bv_peek_be16(b, 2, &s));
    assert_false(bv_peek_be16(b, 3, &s));
    assert_false(bv_peek_be16(b, SIZE_MAX, &s));
    assert_int_equal(bv_at(b, 3), 4);
    assert_int_equal(bv_at(b, 4), -1);
    struct bv sub;
    assert_false(bv_sub(b, 2, 3, &sub));
    assert_true(bv_sub(b, 2, 2, &sub));
    assert_int_equal(bv_from(b, 9).len, 0);
}

static void test_bv_text(void **state)
{
    (void)state;
    struct bv b = bv_cstr("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
    struct bv line, tok;
    assert_true(bv_line(&b, &line));
    assert_true(bv_eq_cstr(line, "INVITE sip:a@b SIP/2.0"));
    assert_true(bv_until(&line, ' ', &tok));
    assert_true(bv_eq_ci(tok, "invite"));
    assert_int_equal(bv_find(b, "x\r\n", 3), 5);
    assert_int_equal(bv_find(b, "zz", 2), -1);
    assert_true(bv_eq_cstr(bv_trim(bv_cstr(" \t a b \r\n")), "a b"));
    /* words: spaces and tabs separate, CR and LF belong to a word */
    struct bv w = bv_cstr(" \tCLIENT_RANDOM\tab  c\r\n \t"), word;
    assert_true(bv_word(&w, &word) && bv_eq_cstr(word, "CLIENT_RANDOM"));
    assert_true(bv_word(&w, &word) && bv_eq_cstr(word, "ab"));
    assert_true(bv_word(&w, &word) && bv_eq_cstr(word, "c\r\n"));
    assert_false(bv_word(&w, &word));
    assert_int_equal(w.len, 0);
    w = bv_cstr("");
    assert_false(bv_word(&w, &word));
    uint32_t v;
    assert_true(bv_u32dec(bv_cstr("4294967295"), &v));
    assert_int_equal(v, 4294967295u);
    assert_false(bv_u32dec(bv_cstr("4294967296"), &v));
    assert_false(bv_u32dec(bv_cstr("-1"), &v));
    assert_false(bv_u32dec(bv_cstr(""), &v));
    uint64_t big;
    assert_false(bv_u64dec(bv_cstr("18446744073709551616"), &big));
    char out[4];
    assert_int_equal(bv_to_cstr(bv_cstr("abcdef"), out, sizeof out), 3);
    assert_string_equal(out, "abc");
}

static void test_hash_seeded(void **state)
{
    (void)state;
    ts_hash_seed_fixed(1, 2);
    uint64_t a = ts_hash("call-id-1", 9);
    assert_int_equal(a, ts_hash("call-id-1", 9));
    assert_int_not_equal(a, ts_hash("call-id-2", 9));
    ts_hash_seed_fixed(3, 4);
    assert_int_not_equal(a, ts_hash("call-id-1", 9));
}

/* The slot mix: keyed, and RTP-like endpoints (one address, even ports;
 * consecutive addresses, one port) spread over 16-bit slots about as
 * random placement would (8,192 into 65,536: a slot holds at most 4-5). */
static void test_mix64_slots(void **state)
{
    (void)state;
    static uint8_t load[65536];
    memset(load, 0, sizeof load);
    ts_hash_seed_fixed(1, 2);
    unsigned max = 0, same_seed2 = 0;
    for (uint64_t i = 0; i < 8192; i++) {
        uint64_t x = i < 4096 ? 0x0a000001ull | (10000 + 2 * i) << 32
                              : (0x0a000000ull + i) | 5004ull << 32;
        uint64_t h = ts_mix64(0, x);
        assert_int_equal(h, ts_mix64(0, x));
        uint32_t slot = (uint32_t)(h >> 32) & 65535;
        if (++load[slot] > max)
            max = load[slot];
        ts_hash_seed_fixed(3, 4);
        same_seed2 += ((uint32_t)(ts_mix64(0, x) >> 32) & 65535) == slot;
        ts_hash_seed_fixed(1, 2);
    }
    assert_in_range(max, 1, 6);
    assert_in_range(same_seed2, 0, 8192 / 100); /* another seed, other slots */
    /* chained words both count */
    assert_int_not_equal(ts_mix64(ts_mix64(0, 1), 2), ts_mix64(ts_mix64(0, 1), 3));
    assert_int_not_equal(ts_mix64(ts_mix64(0, 1), 2), ts_mix64(ts_mix64(0, 5), 2));
}

/* The wide fold (dedup's payload hash): every bit of every length counts,
 * trailing zeros and the length count, the running hash and the seed
 * count, and 200,000 RTP-like payloads (sequence, timestamp, audio) give
 * 200,000 values. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_hash_wide(void **state)
{
    (void)state;
    ts_hash_seed_fixed(1, 2);
    uint8_t buf[200], zero[200];
    memset(zero, 0, sizeof zero);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof buf; len++) {
        uint64_t h = ts_hash_wide(7, buf, len);
        assert_int_equal(h, ts_hash_wide(7, buf, len));
        assert_int_not_equal(h, ts_hash_wide(8, buf, len));
        if (len < sizeof buf)
            assert_int_not_equal(ts_hash_wide(7, zero, len), ts_hash_wide(7, zero, len + 1));
        for (size_t i = 0; i < len; i++)
            for (int bit = 0; bit < 8; bit += 3) {
                buf[i] ^= (uint8_t)(1u << bit);
                assert_int_not_equal(h, ts_hash_wide(7, buf, len));
                buf[i] ^= (uint8_t)(1u << bit);
            }
    }
    uint64_t a = ts_hash_wide(0, buf, 160);
    ts_hash_seed_fixed(3, 4);
    assert_int_not_equal(a, ts_hash_wide(0, buf, 160));
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint8_t rtp[172];
    for (uint32_t k = 0; k < N; k++) { /* distinct: sequence and timestamp */
        for (size_t i = 0; i < sizeof rtp; i++)
            rtp[i] = (uint8_t)(0xd5 ^ (i % 3)); /* near-silence */
        rtp[2] = (uint8_t)(k >> 8);
        rtp[3] = (uint8_t)k;
        uint32_t ts = k * 160;
        memcpy(rtp + 4, &ts, 4);
        v[k] = ts_hash_wide(0, rtp, sizeof rtp);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    size_t dup = 0;
    for (size_t k = 1; k < N; k++)
        dup += v[k] == v[k - 1];
    free(v);
    assert_int_equal(dup, 0);
}

/* The short-key hash (flows, streams, the duplicate fingerprint): every
 * bit of every word counts for every count up to TS_HASH_WORDS, the count
 * counts (trailing zero words too), the seed counts, longer keys are
 * SipHash's; and 20,000 stream keys (10,000 calls) that differ in a port
 * and an SSRC only (what a flood looks like) spread over 65,536 buckets as
 * random values would (a chain of 6 or more has probability about 1e-6 per
 * bucket), while another seed puts them in unrelated buckets. */
static void test_hash_words(void **state)
{
    (void)state;
    ts_hash_seed_fixed(1, 2);
    uint64_t w[TS_HASH_WORDS + 1], zero[TS_HASH_WORDS + 1] = { 0 };
    for (size_t i = 0; i <= TS_HASH_WORDS; i++)
        w[i] = 0x9e3779b97f4a7c15ull * (i + 1);
    for (size_t n = 0; n <= TS_HASH_WORDS; n++) {
        uint64_t h = ts_hash_words(w, n);
        assert_int_equal(h, ts_hash_words(w, n));
        if (n < TS_HASH_WORDS)
            assert_int_not_equal(ts_hash_words(zero, n), ts_hash_words(zero, n + 1));
        for (size_t i = 0; i < n; i++)
            for (int bit = 0; bit < 64; bit++) {
                w[i] ^= 1ull << bit;
                assert_int_not_equal(h, ts_hash_words(w, n));
                w[i] ^= 1ull << bit;
            }
    }
    assert_int_equal(ts_hash_words(w, TS_HASH_WORDS + 1), ts_hash(w, sizeof w));
    uint64_t a = ts_hash_words(w, 3);
    ts_hash_seed_fixed(3, 4);
    assert_int_not_equal(a, ts_hash_words(w, 3));

    enum { N = 20000, SLOTS = 65536 };
    uint8_t *load = calloc(SLOTS, 1);
    uint16_t *slot = malloc(N * sizeof *slot);
    assert_non_null(load);
    assert_non_null(slot);
    unsigned max = 0, same = 0;
    for (int seed = 0; seed < 2; seed++) {
        ts_hash_seed_fixed(5 + (uint64_t)seed, 6);
        for (uint32_t k = 0; k < N; k++) { /* 10.0.0.1:P -> 10.0.0.2:P, SSRC k */
            uint64_t port = 10000 + 2 * (k / 2);
            uint64_t key[3] = { 0x0200000a0100000aull, port | port << 16 | 4ull << 32 | 4ull << 40,
                                k };
            uint16_t b = (uint16_t)ts_hash_words(key, 3);
            if (seed == 0) {
                slot[k] = b;
                if (++load[b] > max)
                    max = load[b];
            } else {
                same += b == slot[k];
            }
        }
    }
    free(load);
    free(slot);
    assert_in_range(max, 1, 5);
    assert_in_range(same, 0, 10); /* about N / 65,536 by chance */
}

struct ent {
    struct ht_node n;
    int key;
};

static bool ent_eq(const struct ht_node *n, const void *key)
{
    return ts_container_of(n, struct ent, n)->key == *(const int *)key;
}

static void test_htab_bounded_lru(void **state)
{
    (void)state;
    struct htab t;
    enum { MAX = 8 };
    struct ent e[MAX + 1];
    assert_int_equal(htab_init(&t, MAX), 0);
    for (int i = 0; i < MAX; i++) {
        e[i].key = i;
        assert_false(htab_full(&t));
        htab_insert(&t, &e[i].n, ts_hash(&i, sizeof i));
    }
    /* N entries: full; the N+1th must evict the oldest first */
    assert_true(htab_full(&t));
    int k0 = 0;
    htab_touch(&t, htab_find(&t, ts_hash(&k0, sizeof k0), ent_eq, &k0));
    struct ht_node *old = htab_oldest(&t);
    assert_int_equal(ts_container_of(old, struct ent, n)->key, 1);
    htab_remove(&t, old);
    assert_int_equal(t.count, MAX - 1);
    e[MAX].key = MAX;
    int km = MAX;
    htab_insert(&t, &e[MAX].n, ts_hash(&km, sizeof km));
    assert_non_null(htab_find(&t, ts_hash(&km, sizeof km), ent_eq, &km));
    int k1 = 1;
    assert_null(htab_find(&t, ts_hash(&k1, sizeof k1), ent_eq, &k1));
    /* requeue: not before `every` has passed since *queued, then to the
     * young end with the new time */
    old = htab_oldest(&t);
    uint64_t q = 1000;
    assert_false(htab_requeue(&t, old, &q, 1999, 1000));
    assert_ptr_equal(htab_oldest(&t), old);
    assert_int_equal(q, 1000);
    assert_true(htab_requeue(&t, old, &q, 2000, 1000));
    assert_ptr_not_equal(htab_oldest(&t), old);
    assert_ptr_equal(t.lru.lprev, old);
    assert_int_equal(q, 2000);
    assert_int_equal(t.count, MAX);
    /* near 2^64 and backwards in time: not "long ago" */
    q = UINT64_MAX - 10;
    assert_false(htab_requeue(&t, old, &q, UINT64_MAX - 5, 1000));
    assert_false(htab_requeue(&t, old, &q, 5, 1000));
    assert_int_equal(q, UINT64_MAX - 10);
    htab_cleanup(&t);
}

/* ts_grow: first size, doubling, the cap, refusal at the cap (array and
 * capacity kept), and a size whose doubling would overflow. */
static void test_grow(void **state)
{
    (void)state;
    size_t cap = 0;
    int *a = ts_grow(NULL, &cap, sizeof *a, 4, 10);
    assert_non_null(a);
    assert_int_equal(cap, 4);
    a[3] = 7;
    a = ts_grow(a, &cap, sizeof *a, 4, 10);
    assert_non_null(a);
    assert_int_equal(cap, 8);
    assert_int_equal(a[3], 7);
    a = ts_grow(a, &cap, sizeof *a, 4, 10);
    assert_non_null(a);
    assert_int_equal(cap, 10);
    assert_null(ts_grow(a, &cap, sizeof *a, 4, 10));
    assert_int_equal(cap, 10);
    assert_int_equal(a[3], 7);
    size_t big = SIZE_MAX / 4;
    assert_null(ts_grow(a, &big, 8, 4, 0));
    assert_true(big == SIZE_MAX / 4);
    free(a);
}

/* Valid UTF-8 is kept byte for byte; each invalid byte becomes U+FFFD
 * (overlong, surrogate, beyond U+10FFFF, truncated, stray continuation). */
static void test_utf8_policy(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        { "plain", "plain" },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
        { "a\xff" "b", "a\xef\xbf\xbd" "b" },
        { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong '/' */
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },  /* surrogate */
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd" },                 /* truncated */
        { "\x80", "\xef\xbf\xbd" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in);
        char out[64];
        size_t m = utf8_fix(cases[i].in, n, out);
        assert_int_equal(m, strlen(cases[i].out));
        assert_memory_equal(out, cases[i].out, m);
        assert_true(utf8_valid(out, m));
        assert_int_equal(utf8_valid(cases[i].in, n), strcmp(cases[i].in, cases[i].out) == 0);
        /* the JSON writer applies the same policy */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct jsonw w;
        jsonw_init(&w, f, false);
        jsonw_strn(&w, cases[i].in, n);
        assert_int_equal(jsonw_finish(&w), JSONW_OK);
        fclose(f);
        json_error_t err;
        json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &err);
        assert_non_null(j);
        assert_int_equal(json_string_length(j), m);
        assert_memory_equal(json_string_value(j), cases[i].out, m);
        json_decref(j);
        free(buf);
    }
}

/* jsonw_real() renders a double as jansson does (the report's numbers did
 * not change when it left jansson); jansson itself is the reference. */
static void test_jsonw_real_as_jansson(void **state)
{
    (void)state;
    static const double v[] = { 0, 1, -1, 0.1, 4.3638637982071948, 1e17, 1e-5, 123456789.125,
                                -0.0, 2.5e-300, 1.7976931348623157e308, 3.0, 0.97, 1e21 };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct jsonw w;
        jsonw_init(&w, f, false);
        jsonw_real(&w, v[i]);
        assert_int_equal(jsonw_finish(&w), JSONW_OK);
        fclose(f);
        json_t *j = json_real(v[i]);
        char *ref = json_dumps(j, JSON_ENCODE_ANY);
        assert_non_null(ref);
        assert_int_equal(len, strlen(ref) + 1);
        assert_memory_equal(buf, ref, strlen(ref));
        free(ref);
        json_decref(j);
        free(buf);
    }
}

/* jsonw_real()'s own digits (printf only outside 1e-22..1e17) against
 * jansson's "%.17g" on random doubles of every magnitude and on exact
 * ties: odd m * 2^-j whose decimal value has 18 digits ending in 5, which
 * round to even. */
static uint64_t xs_state = 88172645463325252ull;
static uint64_t xs(void)
{
    xs_state ^= xs_state << 13;
    xs_state ^= xs_state >> 7;
    xs_state ^= xs_state << 17;
    return xs_state;
}

/* prec 0: jsonw_real() against jansson's default; else jsonw_real_prec()
 * against JSON_REAL_PRECISION(prec), as the API dumps its reals. */
static void real_prec_matches_jansson(double v, int prec)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct jsonw w;
    jsonw_init(&w, f, false);
    if (prec)
        jsonw_real_prec(&w, v, prec);
    else
        jsonw_real(&w, v);
    assert_int_equal(jsonw_finish(&w), JSONW_OK);
    fclose(f);
    json_t *j = json_real(v);
    char *ref = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec));
    assert_non_null(ref);
    if (len != strlen(ref) + 1 || memcmp(buf, ref, strlen(ref)) != 0)
        fail_msg("%a (precision %d): jsonw %.*s, jansson %s", v, prec, (int)len - 1, buf, ref);
    free(ref);
    json_decref(j);
    free(buf);
}

static void real_matches_jansson(double v)
{
    real_prec_matches_jansson(v, 0);
    real_prec_matches_jansson(v, 12);
    static unsigned k; /* every precision in turn */
    real_prec_matches_jansson(v, 1 + (int)(k++ % 17));
}

static void test_jsonw_real_random(void **state)
{
    (void)state;
    int ties = 0;
    for (int i = 0; i < 120000; i++) {
        uint64_t r = xs();
        double v;
        switch (i % 4) {
        case 0: /* any finite bits */
            memcpy(&v, &r, sizeof v);
            if (!isfinite(v))
                continue;
            break;
        case 1: /* 53 random bits scaled by 2^-150..2^70 */
            v = ldexp((double)(r >> 11), (int)(xs() % 220) - 203);
            break;
        case 2: /* milliseconds, jitters, floats widened */
            v = (double)(float)((double)(r % 100000000) * 1e-9 * pow(10, (double)(xs() % 8)));
            break;
        default: { /* a tie at the 18th digit */
            int j = 1 + (int)(xs() % 60);
            double f5 = pow(5, j), lo = ceil(1e17 / f5), hi = floor(1e18 / f5);
            if (hi < lo || hi > 9e15)
                continue;
            uint64_t mm = ((uint64_t)lo + r % ((uint64_t)(hi - lo) + 1)) | 1;
            if ((double)mm * f5 >= 1e18)
                continue;
            v = ldexp((double)mm, -j);
            ties++;
        }
        }
        real_matches_jansson(r & 1 ? -v : v);
    }
    assert_true(ties > 1000);
    /* ties between two 17-digit values near 1e15 (0.125 apart) */
    static const double t[] = { 1e15 + 0.25, 1e15 + 0.75, 1e15 + 0.125, 1e15 + 0.375, 1e-22,
                                9.9999999999999991e-23, 1e17, 99999999999999984.0, 1e16,
                                1.4210854715202004e-14, 5e-324, 2.2250738585072014e-308 };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        real_matches_jansson(t[i]);
}

/* Items written at depth 2 into a spool and spliced into an array give the
 * same bytes as writing them in place. */
static void test_jsonw_splice(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FILE *fa = open_memstream(&a, &alen);
    struct jsonw w;
    jsonw_init(&w, fa, true);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "x");
    jsonw_arr_begin(&w);
    for (int i = 0; i < 3; i++) {
        jsonw_obj_begin(&w);
        jsonw_kint(&w, "i", i);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_key(&w, "y");
    jsonw_arr_begin(&w);
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    assert_int_equal(jsonw_finish(&w), JSONW_OK);
    fclose(fa);

    FILE *spool = tmpfile(), *empty = tmpfile();
    assert_non_null(spool);
    assert_non_null(empty);
    struct jsonw s;
    jsonw_init_at(&s, spool, true, 2);
    for (int i = 0; i < 3; i++) {
        jsonw_obj_begin(&s);
        jsonw_kint(&s, "i", i);
        jsonw_obj_end(&s);
    }
    jsonw_flush(&s); /* the spool writer's buffer reaches its FILE first */
    assert_int_equal(s.err, JSONW_OK);
    FILE *fb = open_memstream(&b, &blen);
    jsonw_init(&w, fb, true);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "x");
    jsonw_arr_begin(&w);
    jsonw_splice(&w, spool);
    jsonw_arr_end(&w);
    jsonw_key(&w, "y");
    jsonw_arr_begin(&w);
    jsonw_splice(&w, empty);
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    assert_int_equal(jsonw_finish(&w), JSONW_OK);
    fclose(fb);
    fclose(spool);
    fclose(empty);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bv_readers),
        cmocka_unit_test(test_bv_sticky_reader),
        cmocka_unit_test(test_bv_peek_bounds),
        cmocka_unit_test(test_bv_text),
        cmocka_unit_test(test_hash_seeded),
        cmocka_unit_test(test_mix64_slots),
        cmocka_unit_test(test_hash_wide),
        cmocka_unit_test(test_hash_words),
        cmocka_unit_test(test_htab_bounded_lru),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_utf8_policy),
        cmocka_unit_test(test_jsonw_real_as_jansson),
        cmocka_unit_test(test_jsonw_real_random),
        cmocka_unit_test(test_jsonw_splice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
