/* Unit tests for IP fragment reassembly: ordering, duplicates, overlaps
 * (first data wins), every cap at N-1/N/N+1, timeouts and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../capture/ipfrag.h"
#include "../../common/hash.h"
#include "../../common/limits.h"

static uint8_t SRC[1u << 17];

static int setup(void **state)
{
    (void)state;
    ts_hash_seed_fixed(1, 2);
    for (size_t i = 0; i < sizeof SRC; i++)
        SRC[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
    return 0;
}

static struct ipfrag_key key4(uint32_t id)
{
    struct ipfrag_key k;
    memset(&k, 0, sizeof k);
    k.ipver = 4;
    k.proto = 17;
    k.id = id;
    k.src.family = 4;
    k.src.a[0] = 10, k.src.a[3] = 1;
    k.dst.family = 4;
    k.dst.a[0] = 10, k.dst.a[3] = 2;
    return k;
}

struct ctx {
    struct ts_stats st;
    struct ipfrag *f;
};

static struct ctx *ctx_new(void)
{
    struct ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->f = ipfrag_new(&c->st);
    assert_non_null(c->f);
    return c;
}

static void ctx_free(struct ctx *c)
{
    ipfrag_free(c->f);
    free(c);
}

/* Fragment [off, off+len) of SRC. */
static int add(struct ctx *c, const struct ipfrag_key *k, uint64_t ts, uint32_t off,
               uint32_t len, bool more, struct bv *out)
{
    return ipfrag_add(c->f, k, ts, off, more, bv_make(SRC + off, len), out);
}

static void assert_src(struct bv out, size_t len)
{
    assert_int_equal(out.len, len);
    assert_memory_equal(out.p, SRC, len);
}

static void test_in_order(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct ipfrag_key k = key4(7);
    struct bv out = BV_NULL;
    assert_int_equal(add(c, &k, 1, 0, 1480, true, &out), 0);
    assert_int_equal(add(c, &k, 2, 1480, 1480, true, &out), 0);
    assert_int_equal(ipfrag_pending(c->f), 1);
    assert_int_equal(ipfrag_bytes(c->f), 2960);
    assert_int_equal(add(c, &k, 3, 2960, 333, false, &out), 1);
    assert_src(out, 3293);
    assert_int_equal(ipfrag_pending(c->f), 0);
    assert_int_equal(ipfrag_bytes(c->f), 0);
    assert_int_equal(c->st.v[TS_FRAG_FRAGMENTS], 3);
    assert_int_equal(c->st.v[TS_FRAG_REASSEMBLED], 1);
    /* the same id again is a new datagram */
    assert_int_equal(add(c, &k, 4, 0, 8, true, &out), 0);
    assert_int_equal(ipfrag_pending(c->f), 1);
    ctx_free(c);
}

static void test_reverse_order(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct ipfrag_key k = key4(8);
    struct bv out = BV_NULL;
    assert_int_equal(add(c, &k, 1, 64, 5, false, &out), 0);
    assert_int_equal(add(c, &k, 1, 32, 32, true, &out), 0);
    assert_int_equal(add(c, &k, 1, 8, 24, true, &out), 0);
    assert_int_equal(add(c, &k, 1, 0, 8, true, &out), 1);
    assert_src(out, 69);
    assert_int_equal(c->st.v[TS_FRAG_DUPLICATE] + c->st.v[TS_FRAG_OVERLAP], 0);
    ctx_free(c);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct ipfrag_key k = key4(9);
    struct bv out = BV_NULL;
    assert_int_equal(add(c, &k, 1, 0, 16, true, &out), 0);
    assert_int_equal(add(c, &k, 1, 0, 16, true, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_DUPLICATE], 1);
    assert_int_equal(ipfrag_bytes(c->f), 16);
    assert_int_equal(add(c, &k, 1, 16, 10, false, &out), 1);
    assert_src(out, 26);
    /* a duplicate of a finished datagram's fragment starts a new one */
    assert_int_equal(add(c, &k, 1, 16, 10, false, &out), 0);
    assert_int_equal(add(c, &k, 1, 16, 10, false, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_DUPLICATE], 2);
    ctx_free(c);
}

static void test_overlap_first_wins(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct ipfrag_key k = key4(10);
    struct bv out = BV_NULL;
    uint8_t other[64];
    memset(other, 0xEE, sizeof other);
    /* [0,8) and [16,24) from SRC, then [0,32) of 0xEE: only the holes
     * [8,16) and [24,32) take the new bytes */
    assert_int_equal(add(c, &k, 1, 0, 8, true, &out), 0);
    assert_int_equal(add(c, &k, 1, 16, 8, true, &out), 0);
    assert_int_equal(ipfrag_add(c->f, &k, 1, 0, true, bv_make(other, 32), &out), 0);
    assert_int_equal(c->st.v[TS_FRAG_OVERLAP], 1);
    assert_int_equal(ipfrag_bytes(c->f), 32);
    /* fully covered, not identical: an overlap that adds nothing */
    assert_int_equal(ipfrag_add(c->f, &k, 1, 8, true, bv_make(other, 16), &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_OVERLAP], 2);
    assert_int_equal(add(c, &k, 1, 32, 4, false, &out), 1);
    assert_int_equal(out.len, 36);
    assert_memory_equal(out.p, SRC, 8);
    assert_memory_equal(out.p + 8, other, 8);
    assert_memory_equal(out.p + 16, SRC + 16, 8);
    assert_memory_equal(out.p + 24, other, 8);
    assert_memory_equal(out.p + 32, SRC + 32, 4);

    /* a last fragment that is entirely covered still fixes the length */
    struct ipfrag_key k2 = key4(11);
    assert_int_equal(add(c, &k2, 1, 0, 24, true, &out), 0);
    assert_int_equal(add(c, &k2, 1, 16, 8, false, &out), 1);
    assert_src(out, 24);
    ctx_free(c);
}

/* A datagram in n fragments of 8 bytes: the last one completes it. */
static int frag_n(struct ctx *c, uint32_t id, unsigned n, struct bv *out)
{
    struct ipfrag_key k = key4(id);
    int r = -2;
    /* odd offsets first, then even ones: exercise out-of-order insertion */
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned i = pass ? 0 : 1; i + 1 < n; i += 2)
            assert_int_equal(add(c, &k, 1, i * 8, 8, true, out), 0);
    r = add(c, &k, 1, (n - 1) * 8, 8, false, out);
    return r;
}

static void test_too_many(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    assert_int_equal(frag_n(c, 1, TS_FRAG_MAX_PER_DGRAM - 1, &out), 1);
    assert_src(out, (TS_FRAG_MAX_PER_DGRAM - 1) * 8);
    assert_int_equal(frag_n(c, 2, TS_FRAG_MAX_PER_DGRAM, &out), 1);
    assert_src(out, TS_FRAG_MAX_PER_DGRAM * 8);
    assert_int_equal(c->st.v[TS_FRAG_TOO_MANY], 0);
    assert_int_equal(frag_n(c, 3, TS_FRAG_MAX_PER_DGRAM + 1, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_TOO_MANY], 1);
    assert_int_equal(ipfrag_pending(c->f), 0);
    assert_int_equal(ipfrag_bytes(c->f), 0);
    ctx_free(c);
}

static void test_too_big(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct ipfrag_key k = key4(1);
    struct bv out = BV_NULL;
    /* ending at exactly TS_FRAG_MAX_DGRAM_SIZE is fine */
    assert_int_equal(add(c, &k, 1, TS_FRAG_MAX_DGRAM_SIZE - 7, 7, false, &out), 0);
    assert_int_equal(ipfrag_pending(c->f), 1);
    /* one byte past it drops the whole datagram */
    struct ipfrag_key k2 = key4(2);
    assert_int_equal(add(c, &k2, 1, 0, 8, true, &out), 0);
    assert_int_equal(add(c, &k2, 1, TS_FRAG_MAX_DGRAM_SIZE - 7, 8, false, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_TOO_BIG], 1);
    assert_int_equal(ipfrag_pending(c->f), 1);
    /* offsets near 2^32 must not wrap */
    assert_int_equal(ipfrag_add(c->f, &k2, 1, UINT32_MAX - 3, true, bv_make(SRC, 8), &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_TOO_BIG], 2);

    /* the largest datagram in full */
    struct ipfrag_key k3 = key4(3);
    uint32_t chunk = 1480;
    uint32_t off = 0;
    int r = 0;
    while (off + chunk < TS_FRAG_MAX_DGRAM_SIZE) {
        assert_int_equal(add(c, &k3, 1, off, chunk, true, &out), 0);
        off += chunk;
    }
    r = add(c, &k3, 1, off, TS_FRAG_MAX_DGRAM_SIZE - off, false, &out);
    assert_int_equal(r, 1);
    assert_src(out, TS_FRAG_MAX_DGRAM_SIZE);
    ctx_free(c);
}

static void test_malformed(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    struct ipfrag_key k = key4(1);
    /* zero-length and odd-length non-last fragments are dropped alone */
    assert_int_equal(add(c, &k, 1, 0, 0, true, &out), -1);
    assert_int_equal(add(c, &k, 1, 0, 7, true, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_MALFORMED], 2);
    assert_int_equal(ipfrag_pending(c->f), 0);

    /* two different last fragments */
    assert_int_equal(add(c, &k, 1, 16, 4, false, &out), 0);
    assert_int_equal(add(c, &k, 1, 24, 4, false, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_MALFORMED], 3);
    assert_int_equal(ipfrag_pending(c->f), 0);

    /* a fragment past the known end */
    assert_int_equal(add(c, &k, 1, 16, 4, false, &out), 0);
    assert_int_equal(add(c, &k, 1, 16, 8, true, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_MALFORMED], 4);
    assert_int_equal(ipfrag_pending(c->f), 0);

    /* a last fragment ending before data already held */
    assert_int_equal(add(c, &k, 1, 32, 8, true, &out), 0);
    assert_int_equal(add(c, &k, 1, 16, 4, false, &out), -1);
    assert_int_equal(c->st.v[TS_FRAG_MALFORMED], 5);
    assert_int_equal(ipfrag_pending(c->f), 0);
    assert_int_equal(ipfrag_bytes(c->f), 0);
    ctx_free(c);
}

static void test_timeout(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    struct ipfrag_key k1 = key4(1), k2 = key4(2);
    uint64_t t0 = 1000000000ull;
    assert_int_equal(add(c, &k1, t0, 0, 8, true, &out), 0);
    assert_int_equal(add(c, &k2, t0 + 10, 0, 8, true, &out), 0);
    ipfrag_expire(c->f, t0 + TS_FRAG_TIMEOUT_NS - 1);
    assert_int_equal(ipfrag_pending(c->f), 2);
    ipfrag_expire(c->f, t0 + TS_FRAG_TIMEOUT_NS);
    assert_int_equal(ipfrag_pending(c->f), 1);
    assert_int_equal(c->st.v[TS_FRAG_TIMEOUT], 1);
    /* lazily on add: k2 expired, the late last fragment starts over */
    assert_int_equal(add(c, &k2, t0 + 10 + TS_FRAG_TIMEOUT_NS, 8, 8, false, &out), 0);
    assert_int_equal(c->st.v[TS_FRAG_TIMEOUT], 2);
    assert_int_equal(ipfrag_pending(c->f), 1);
    assert_int_equal(ipfrag_bytes(c->f), 8);
    /* time going backwards expires nothing */
    ipfrag_expire(c->f, 0);
    assert_int_equal(ipfrag_pending(c->f), 1);
    ctx_free(c);
}

static void test_eviction(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    for (uint32_t i = 0; i < TS_FRAG_MAX_DGRAMS; i++) {
        struct ipfrag_key k = key4(i);
        assert_int_equal(add(c, &k, 1 + i, 0, 8, true, &out), 0);
    }
    assert_int_equal(ipfrag_pending(c->f), TS_FRAG_MAX_DGRAMS);
    assert_int_equal(c->st.v[TS_FRAG_EVICTED], 0);
    struct ipfrag_key kn = key4(TS_FRAG_MAX_DGRAMS);
    assert_int_equal(add(c, &kn, 1 + TS_FRAG_MAX_DGRAMS, 0, 8, true, &out), 0);
    assert_int_equal(ipfrag_pending(c->f), TS_FRAG_MAX_DGRAMS);
    assert_int_equal(c->st.v[TS_FRAG_EVICTED], 1);
    /* the oldest (id 0) is gone, id 1 survives */
    struct ipfrag_key k0 = key4(0), k1 = key4(1);
    assert_int_equal(add(c, &k1, 1, 8, 8, false, &out), 1);
    assert_src(out, 16);
    assert_int_equal(add(c, &k0, 1, 8, 8, false, &out), 0);
    ctx_free(c);
}

static void test_byte_cap(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    const uint32_t big = 65528;
    uint32_t n = TS_FRAG_MAX_BYTES / big;
    for (uint32_t i = 0; i < n; i++) {
        struct ipfrag_key k = key4(i);
        assert_int_equal(add(c, &k, 1, 0, big, true, &out), 0);
    }
    uint32_t rest = TS_FRAG_MAX_BYTES - n * big; /* a multiple of 8 */
    assert_int_equal(rest % 8, 0);
    struct ipfrag_key kr = key4(n);
    /* exactly at the cap (N) */
    assert_int_equal(add(c, &kr, 1, 0, rest, true, &out), 0);
    assert_int_equal(ipfrag_bytes(c->f), TS_FRAG_MAX_BYTES);
    assert_int_equal(c->st.v[TS_FRAG_EVICTED], 0);
    /* N+8: the oldest datagram goes, not the one being added to */
    assert_int_equal(add(c, &kr, 1, rest, 8, true, &out), 0);
    assert_int_equal(c->st.v[TS_FRAG_EVICTED], 1);
    assert_int_equal(ipfrag_bytes(c->f), TS_FRAG_MAX_BYTES - big + 8);
    struct ipfrag_key k0 = key4(0);
    assert_int_equal(add(c, &k0, 1, 8, 8, false, &out), 0); /* new datagram */
    assert_int_equal(add(c, &kr, 1, rest + 8, 1, false, &out), 1);
    assert_src(out, rest + 9);
    ctx_free(c);
}

static void test_key_separation(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    struct ipfrag_key v4 = key4(5);
    struct ipfrag_key v6 = v4;
    v6.ipver = 6;
    v6.src.family = v6.dst.family = 6;
    struct ipfrag_key v6b = v6;
    v6b.src.a[15] = 9;
    struct ipfrag_key v4p = v4;
    v4p.proto = 6;
    struct ipfrag_key v4d = v4;
    v4d.dst.a[3] = 3;
    assert_int_equal(add(c, &v4, 1, 0, 8, true, &out), 0);
    assert_int_equal(add(c, &v6, 1, 0, 16, true, &out), 0);
    assert_int_equal(add(c, &v6b, 1, 0, 24, true, &out), 0);
    assert_int_equal(add(c, &v4p, 1, 0, 32, true, &out), 0);
    assert_int_equal(add(c, &v4d, 1, 0, 40, true, &out), 0);
    assert_int_equal(ipfrag_pending(c->f), 5);
    /* each completes on its own length */
    assert_int_equal(add(c, &v6, 1, 16, 1, false, &out), 1);
    assert_src(out, 17);
    assert_int_equal(add(c, &v4d, 1, 40, 1, false, &out), 1);
    assert_src(out, 41);
    assert_int_equal(add(c, &v4, 1, 8, 1, false, &out), 1);
    assert_src(out, 9);
    assert_int_equal(add(c, &v6b, 1, 24, 1, false, &out), 1);
    assert_src(out, 25);
    assert_int_equal(add(c, &v4p, 1, 32, 1, false, &out), 1);
    assert_src(out, 33);
    assert_int_equal(c->st.v[TS_FRAG_DUPLICATE] + c->st.v[TS_FRAG_OVERLAP], 0);
    ctx_free(c);
}

static void test_unfragmented(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    struct ipfrag_key k = key4(1);
    assert_int_equal(add(c, &k, 1, 0, 100, false, &out), 1);
    assert_int_equal(out.len, 100);
    assert_ptr_equal(out.p, SRC);
    assert_int_equal(ipfrag_pending(c->f), 0);
    ctx_free(c);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Random fragments of a few datagrams whose bytes depend only on their
 * offset: whatever the order and overlaps, every datagram produced must be
 * SRC's prefix, and the caps must hold. */
static void test_hostile(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    struct bv out = BV_NULL;
    uint32_t rnd = 12345;
#define RND() lcg(&rnd)
    unsigned done = 0;
    for (unsigned i = 0; i < 200000; i++) {
        struct ipfrag_key k = key4(RND() % 8);
        uint32_t off = (RND() % 256) * 8;
        uint32_t len = (RND() % 6) * 8 + (RND() % 4 == 0 ? RND() % 8 : 0);
        bool more = RND() % 4 != 0;
        if (RND() % 1000 == 0)
            off = RND() % 70000;
        int r = add(c, &k, i * 1000000ull, off, len, more, &out);
        if (r == 1) {
            assert_true(out.len <= TS_FRAG_MAX_DGRAM_SIZE);
            assert_memory_equal(out.p, SRC, out.len);
            done++;
        }
        assert_true(ipfrag_bytes(c->f) <= TS_FRAG_MAX_BYTES);
        assert_true(ipfrag_pending(c->f) <= TS_FRAG_MAX_DGRAMS);
    }
    assert_true(done > 0);
    ipfrag_expire(c->f, UINT64_MAX);
    assert_int_equal(ipfrag_pending(c->f), 0);
    assert_int_equal(ipfrag_bytes(c->f), 0);
    ipfrag_free(NULL);
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_reverse_order),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_overlap_first_wins),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_key_separation),
        cmocka_unit_test(test_unfragmented),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
