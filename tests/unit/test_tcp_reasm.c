/* Unit tests for TCP stream reassembly: a fake consumer records each
 * connection's byte streams and gaps, compared byte for byte with the sent
 * data; caps at N-1/N/N+1, close exactly once per connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../capture/tcp_reasm.h"
#include "../../common/hash.h"
#include "../../common/limits.h"

#define SRC_LEN (1u << 20)
static uint8_t SRC[2][SRC_LEN]; /* what each direction sends, by stream offset */

/* ---- the fake consumer ---- */

#define MAX_GAPS 16
struct stream {
    unsigned id;          /* order of first callback */
    uint8_t *b[2];
    size_t len[2], cap[2];
    unsigned ngap[2];
    size_t gap_at[2][MAX_GAPS]; /* stream offset where the gap sits */
    uint64_t gap_len[2][MAX_GAPS];
    const uint8_t *last_p[2]; /* last pointer handed to data() */
};

#define MAX_DONE 512
struct fake {
    unsigned opened, closed, closed_null;
    struct stream *done[MAX_DONE]; /* closed streams, in close order */
    unsigned ndone;
};

static struct stream *slot(struct fake *f, void **user)
{
    if (!*user) {
        struct stream *s = calloc(1, sizeof *s);
        assert_non_null(s);
        s->id = f->opened++;
        *user = s;
    }
    return *user;
}

static void on_data(void *ctx, void **user, int dir, const struct pkt_meta *m, struct bv d)
{
    struct stream *s = slot(ctx, user);
    assert_true(dir == 0 || dir == 1);
    assert_non_null(m);
    assert_true(d.len > 0);
    if (s->len[dir] + d.len > s->cap[dir]) {
        size_t cap = (s->len[dir] + d.len) * 2;
        s->b[dir] = realloc(s->b[dir], cap);
        assert_non_null(s->b[dir]);
        s->cap[dir] = cap;
    }
    memcpy(s->b[dir] + s->len[dir], d.p, d.len); /* ASan checks the pointer */
    s->len[dir] += d.len;
    s->last_p[dir] = d.p;
}

static void on_gap(void *ctx, void **user, int dir, uint64_t n)
{
    struct stream *s = slot(ctx, user);
    assert_true(n > 0);
    if (s->ngap[dir] < MAX_GAPS) {
        s->gap_at[dir][s->ngap[dir]] = s->len[dir];
        s->gap_len[dir][s->ngap[dir]] = n;
    }
    s->ngap[dir]++;
}

static void stream_free(struct stream *s)
{
    if (s) {
        free(s->b[0]);
        free(s->b[1]);
        free(s);
    }
}

static void on_close(void *ctx, void **user)
{
    struct fake *f = ctx;
    f->closed++;
    if (!*user) {
        f->closed_null++;
        return;
    }
    if (f->ndone < MAX_DONE)
        f->done[f->ndone++] = *user;
    else
        stream_free(*user);
    *user = NULL;
}

struct ctx {
    struct ts_stats st;
    struct fake f;
    struct tcp_reasm *t;
    uint64_t ts;
};

static struct ctx *ctx_new(void)
{
    struct ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    struct tcp_reasm_cb cb = { &c->f, on_data, on_gap, on_close };
    c->t = tcp_reasm_new(&c->st, &cb);
    assert_non_null(c->t);
    c->ts = 1000000000ull;
    return c;
}

/* Every connection created was closed exactly once. */
static void ctx_free(struct ctx *c)
{
    tcp_reasm_free(c->t);
    assert_int_equal(c->f.closed, c->st.v[TS_TCP_STREAMS]);
    for (unsigned i = 0; i < c->f.ndone; i++)
        stream_free(c->f.done[i]);
    free(c);
}

/* ---- segments ---- */

enum { SYN = TCP_F_SYN, ACK = TCP_F_ACK, FIN = TCP_F_FIN, RST = TCP_F_RST };

/* Connection `conn` (distinct ports), dir 0 = client 10.0.0.1. */
static void seg_p(struct ctx *c, unsigned conn, int dir, uint32_t seq, uint32_t ack,
                  uint8_t flags, const uint8_t *p, size_t len)
{
    struct pkt_meta m;
    memset(&m, 0, sizeof m);
    m.ts_ns = c->ts;
    m.ipver = 4;
    m.l4 = TS_L4_TCP;
    struct ts_addr a = { 4, { 10, 0, 0, 1 } }, b = { 4, { 10, 0, 0, 2 } };
    uint16_t pa = (uint16_t)(10000 + conn % 50000), pb = 5060;
    a.a[2] = (uint8_t)(conn / 50000);
    m.src = dir ? b : a;
    m.dst = dir ? a : b;
    m.sport = dir ? pb : pa;
    m.dport = dir ? pa : pb;
    struct tcp_seg s = { seq, ack, flags, 65535, bv_make(p, len) };
    tcp_reasm_segment(c->t, &m, &s);
}

/* Data of direction dir from stream offset off (sequence = base + off). */
static void seg_d(struct ctx *c, unsigned conn, int dir, uint32_t base, uint32_t off,
                  uint32_t len, uint32_t ack, uint8_t flags)
{
    seg_p(c, conn, dir, base + off, ack, flags, SRC[dir] + off, len);
}

static const uint32_t ISN0 = 1000, ISN1 = 5000000;

/* Three-way handshake; data of dir d then starts at ISNd + 1. */
static void handshake(struct ctx *c, unsigned conn)
{
    seg_p(c, conn, 0, ISN0, 0, SYN, NULL, 0);
    seg_p(c, conn, 1, ISN1, ISN0 + 1, SYN | ACK, NULL, 0);
    seg_p(c, conn, 0, ISN0 + 1, ISN1 + 1, ACK, NULL, 0);
}

static struct stream *done(struct ctx *c, unsigned i)
{
    assert_true(i < c->f.ndone);
    return c->f.done[i];
}

static void assert_stream(const struct stream *s, int dir, size_t from, size_t len)
{
    assert_int_equal(s->len[dir], len);
    if (len)
        assert_memory_equal(s->b[dir], SRC[dir] + from, len);
}

static int setup(void **state)
{
    (void)state;
    ts_hash_seed_fixed(3, 4);
    uint32_t r = 99;
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < SRC_LEN; i++) {
            r = r * 1664525u + 1013904223u;
            SRC[d][i] = (uint8_t)(r >> 24);
        }
    return 0;
}

/* ---- tests ---- */

static void test_in_order(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    uint32_t b0 = ISN0 + 1, b1 = ISN1 + 1;
    seg_d(c, 0, 0, b0, 0, 100, b1, ACK);
    seg_d(c, 0, 0, b0, 100, 200, b1, ACK);
    seg_d(c, 0, 1, b1, 0, 50, b0 + 300, ACK);
    seg_d(c, 0, 0, b0, 300, 1, b1 + 50, ACK | FIN);
    assert_int_equal(tcp_reasm_conns(c->t), 1);
    seg_d(c, 0, 1, b1, 50, 70, b0 + 302, ACK | FIN);
    /* both FINs and all data: closed and freed */
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    assert_int_equal(c->f.closed, 1);
    /* the final ACK of a closed connection creates nothing */
    seg_p(c, 0, 0, b0 + 302, b1 + 121, ACK, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    struct stream *s = done(c, 0);
    assert_stream(s, 0, 0, 301);
    assert_stream(s, 1, 0, 120);
    /* in-order data is handed over without a copy */
    assert_ptr_equal(s->last_p[0], SRC[0] + 300);
    assert_ptr_equal(s->last_p[1], SRC[1] + 50);
    assert_int_equal(s->ngap[0] + s->ngap[1], 0);
    assert_int_equal(c->st.v[TS_TCP_STREAMS], 1);
    assert_int_equal(c->st.v[TS_TCP_CLOSED], 1);
    assert_int_equal(c->st.v[TS_TCP_MIDSTREAM], 0);
    assert_int_equal(c->st.v[TS_TCP_RETRANS], 0);
    ctx_free(c);
}

/* Every permutation of 4 segments, with ISNs straddling 2^32 too. */
static void test_ooo_permutations(void **state)
{
    (void)state;
    static const uint32_t off[5] = { 0, 10, 30, 60, 100 };
    static const uint32_t isns[2] = { 77, 0xFFFFFFC0u };
    unsigned perms = 0;
    for (int w = 0; w < 2; w++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                for (int x = 0; x < 4; x++)
                    for (int y = 0; y < 4; y++) {
                        if (a == b || a == x || a == y || b == x || b == y || x == y)
                            continue;
                        int order[4] = { a, b, x, y };
                        struct ctx *c = ctx_new();
                        uint32_t isn = isns[w];
                        seg_p(c, 0, 0, isn, 0, SYN, NULL, 0);
                        for (int i = 0; i < 4; i++) {
                            int k = order[i];
                            seg_d(c, 0, 0, isn + 1 + 40, off[k], off[k + 1] - off[k], 0, ACK);
                        }
                        assert_int_equal(tcp_reasm_bytes(c->t),
                                         100 + 4 * tcp_reasm_seg_overhead());
                        tcp_reasm_flush(c->t);
                        struct stream *s = done(c, 0);
                        /* the 40 bytes after the SYN never came: flush
                         * reports them, then delivers the 4 in order */
                        assert_int_equal(s->ngap[0], 1);
                        assert_int_equal(s->gap_len[0][0], 40);
                        assert_int_equal(s->gap_at[0][0], 0);
                        assert_stream(s, 0, 0, 100);
                        ctx_free(c);
                        perms++;
                    }
    assert_int_equal(perms, 48);
}

/* The same permutations with the hole filled: no gap at all. */
static void test_ooo_permutations_nogap(void **state)
{
    (void)state;
    static const uint32_t off[5] = { 0, 10, 30, 60, 100 };
    for (int p = 0; p < 256; p++) {
        int order[4] = { p & 3, (p >> 2) & 3, (p >> 4) & 3, (p >> 6) & 3 };
        int seen = 0;
        for (int i = 0; i < 4; i++)
            seen |= 1 << order[i];
        if (seen != 15)
            continue;
        struct ctx *c = ctx_new();
        handshake(c, 0);
        for (int i = 0; i < 4; i++) {
            int k = order[i];
            seg_d(c, 0, 0, ISN0 + 1, off[k], off[k + 1] - off[k], ISN1 + 1, ACK);
        }
        assert_int_equal(tcp_reasm_bytes(c->t), 0);
        assert_int_equal(c->st.v[TS_TCP_OUT_OF_ORDER] > 0, order[0] != 0 || order[1] != 1 || order[2] != 2);
        tcp_reasm_flush(c->t);
        struct stream *s = done(c, 0);
        assert_int_equal(s->ngap[0], 0);
        assert_stream(s, 0, 0, 100);
        ctx_free(c);
    }
}

static void test_retransmission(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    uint32_t b = ISN0 + 1;
    seg_d(c, 0, 0, b, 0, 100, 0, ACK);
    seg_d(c, 0, 0, b, 0, 100, 0, ACK);
    seg_d(c, 0, 0, b, 50, 50, 0, ACK);
    seg_d(c, 0, 0, b, 100, 10, 0, ACK);
    seg_d(c, 0, 0, b, 0, 110, 0, ACK);
    assert_int_equal(c->st.v[TS_TCP_RETRANS], 3);
    /* a retransmitted out-of-order segment */
    seg_d(c, 0, 0, b, 200, 10, 0, ACK);
    seg_d(c, 0, 0, b, 200, 10, 0, ACK);
    assert_int_equal(c->st.v[TS_TCP_RETRANS], 4);
    seg_d(c, 0, 0, b, 110, 90, 0, ACK);
    /* a retransmitted SYN changes nothing */
    seg_p(c, 0, 0, ISN0, 0, SYN, NULL, 0);
    assert_int_equal(c->st.v[TS_TCP_STREAMS], 1);
    tcp_reasm_flush(c->t);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 0);
    assert_stream(s, 0, 0, 210);
    ctx_free(c);
}

static void test_partial_overlap(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    uint32_t b = ISN0 + 1;
    seg_d(c, 0, 0, b, 0, 100, 0, ACK);
    seg_d(c, 0, 0, b, 50, 100, 0, ACK); /* only 100..150 is new */
    assert_int_equal(c->st.v[TS_TCP_OVERLAP], 1);
    /* out-of-order overlaps: keep the first bytes buffered */
    uint8_t alt[400];
    for (int i = 0; i < 400; i++)
        alt[i] = (uint8_t)~SRC[0][i];
    seg_d(c, 0, 0, b, 200, 50, 0, ACK);               /* [200,250) */
    seg_p(c, 0, 0, b + 225, 0, ACK, alt + 225, 50);   /* [225,275): 250..275 new */
    assert_int_equal(c->st.v[TS_TCP_OVERLAP], 2);
    seg_d(c, 0, 0, b, 300, 20, 0, ACK);               /* [300,320) */
    /* in-order [150,350) of other bytes: buffered ones win where they are */
    seg_p(c, 0, 0, b + 150, 0, ACK, alt + 150, 200);
    assert_int_equal(tcp_reasm_bytes(c->t), 0);
    tcp_reasm_flush(c->t);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 0);
    assert_int_equal(s->len[0], 350);
    uint8_t want[350];
    memcpy(want, SRC[0], 150);
    memcpy(want + 150, alt + 150, 50);       /* [150,200) live */
    memcpy(want + 200, SRC[0] + 200, 50);    /* [200,250) first buffered */
    memcpy(want + 250, alt + 250, 25);       /* [250,275) second buffered */
    memcpy(want + 275, alt + 275, 25);       /* [275,300) live */
    memcpy(want + 300, SRC[0] + 300, 20);    /* [300,320) buffered */
    memcpy(want + 320, alt + 320, 30);       /* [320,350) live */
    assert_memory_equal(s->b[0], want, 350);
    ctx_free(c);
}

static void test_wraparound(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    uint32_t isn = 0xFFFFFF00u;
    seg_p(c, 0, 0, isn, 0, SYN, NULL, 0);
    seg_p(c, 0, 1, 0xFFFFFFFFu, isn + 1, SYN | ACK, NULL, 0); /* data at 0 */
    uint32_t b = isn + 1;
    seg_d(c, 0, 0, b, 0, 200, 0, ACK);      /* crosses 2^32 */
    seg_d(c, 0, 0, b, 400, 100, 0, ACK);    /* buffered past the wrap */
    seg_d(c, 0, 0, b, 200, 200, 0, ACK);
    seg_d(c, 0, 0, b, 100, 50, 0, ACK);     /* retransmission across the wrap */
    assert_int_equal(c->st.v[TS_TCP_RETRANS], 1);
    seg_d(c, 0, 1, 0, 0, 10, b + 500, ACK);
    seg_d(c, 0, 0, b, 500, 0, 10, ACK | FIN);
    seg_d(c, 0, 1, 0, 10, 0, b + 501, ACK | FIN);
    assert_int_equal(c->f.closed, 1);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0] + s->ngap[1], 0);
    assert_stream(s, 0, 0, 500);
    assert_stream(s, 1, 0, 10);
    ctx_free(c);
}

static void test_midstream(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    /* the server speaks first: it becomes dir 0 */
    seg_p(c, 0, 1, 777777 + 0, 4242, ACK, SRC[0], 30);
    seg_p(c, 0, 1, 777777 + 30, 4242, ACK, SRC[0] + 30, 30);
    assert_int_equal(c->st.v[TS_TCP_MIDSTREAM], 1);
    seg_p(c, 0, 0, 4242, 777777 + 60, ACK, SRC[1], 20);
    assert_int_equal(c->st.v[TS_TCP_MIDSTREAM], 2);
    /* a pure ACK, a stray RST or FIN of an unknown connection start nothing */
    seg_p(c, 1, 0, 1, 1, ACK, NULL, 0);
    seg_p(c, 2, 0, 1, 1, RST, NULL, 0);
    seg_p(c, 3, 0, 1, 1, FIN | ACK, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), 1);
    tcp_reasm_flush(c->t);
    struct stream *s = done(c, 0);
    assert_stream(s, 0, 0, 60);
    assert_stream(s, 1, 0, 20);
    assert_int_equal(c->st.v[TS_TCP_STREAMS], 1);
    ctx_free(c);
}

static void test_gap_on_ack(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    uint32_t b0 = ISN0 + 1, b1 = ISN1 + 1;
    seg_d(c, 0, 0, b0, 0, 100, b1, ACK);
    seg_d(c, 0, 0, b0, 200, 100, b1, ACK);      /* [100,200) never captured */
    seg_d(c, 0, 0, b0, 350, 50, b1, ACK);       /* [300,350) never captured */
    /* the peer acknowledges up to 320: the first hole is certain, and 20 of
     * the second; the rest waits */
    seg_p(c, 0, 1, b1, b0 + 320, ACK, NULL, 0);
    assert_int_equal(c->st.v[TS_TCP_GAPS], 2);
    assert_int_equal(c->st.v[TS_TCP_GAP_BYTES], 120);
    seg_d(c, 0, 0, b0, 320, 30, b1, ACK);       /* the rest of the hole arrives */
    /* an ACK of data never seen, with nothing buffered: resync there */
    seg_p(c, 0, 1, b1, b0 + 450, ACK, NULL, 0);
    seg_d(c, 0, 0, b0, 450, 10, b1, ACK);
    /* an absurd ACK is not a gap */
    seg_p(c, 0, 1, b1, b0 + 460 + TS_TCP_MAX_WINDOW + 1, ACK, NULL, 0);
    /* an old ACK is not a gap either */
    seg_p(c, 0, 1, b1, b0 + 5, ACK, NULL, 0);
    tcp_reasm_flush(c->t);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 3);
    assert_int_equal(s->gap_at[0][0], 100);
    assert_int_equal(s->gap_len[0][0], 100);
    assert_int_equal(s->gap_at[0][1], 200);
    assert_int_equal(s->gap_len[0][1], 20);
    assert_int_equal(s->gap_at[0][2], 280);
    assert_int_equal(s->gap_len[0][2], 50);
    assert_int_equal(c->st.v[TS_TCP_GAP_BYTES], 170);
    uint8_t want[300];
    memcpy(want, SRC[0], 100);
    memcpy(want + 100, SRC[0] + 200, 100);
    memcpy(want + 200, SRC[0] + 320, 80); /* 320..400 then 450..460 */
    memcpy(want + 280, SRC[0] + 450, 10);
    assert_int_equal(s->len[0], 290);
    assert_memory_equal(s->b[0], want, 290);
    ctx_free(c);
}

/* One hole byte at offset 0, then n one-byte segments at 1..n. */
static void ooo_segs_case(unsigned n)
{
    struct ctx *c = ctx_new();
    seg_p(c, 0, 0, ISN0, 0, SYN, NULL, 0);
    uint32_t b = ISN0 + 1;
    for (unsigned i = 1; i <= n; i++)
        seg_d(c, 0, 0, b, i, 1, 0, ACK);
    if (n <= TS_TCP_MAX_OOO_SEGS) {
        assert_int_equal(c->st.v[TS_TCP_GAPS], 0);
        assert_int_equal(tcp_reasm_bytes(c->t), n * (1 + tcp_reasm_seg_overhead()));
    } else {
        assert_int_equal(c->st.v[TS_TCP_GAPS], 1);
        assert_int_equal(c->st.v[TS_TCP_GAP_BYTES], 1);
        assert_int_equal(c->st.v[TS_TCP_OOO_FULL], 1);
        assert_int_equal(tcp_reasm_bytes(c->t), 0);
    }
    /* the missing byte now: in order if no gap was declared yet */
    seg_d(c, 0, 0, b, 0, 1, 0, ACK);
    tcp_reasm_flush(c->t);
    struct stream *s = done(c, 0);
    if (n <= TS_TCP_MAX_OOO_SEGS) {
        assert_int_equal(s->ngap[0], 0);
        assert_stream(s, 0, 0, n + 1);
    } else {
        assert_int_equal(s->ngap[0], 1);
        assert_int_equal(s->gap_at[0][0], 0);
        assert_int_equal(s->gap_len[0][0], 1);
        assert_int_equal(c->st.v[TS_TCP_RETRANS], 1);
        assert_stream(s, 0, 1, n);
    }
    ctx_free(c);
}

static void test_cap_ooo_segs(void **state)
{
    (void)state;
    ooo_segs_case(TS_TCP_MAX_OOO_SEGS - 1);
    ooo_segs_case(TS_TCP_MAX_OOO_SEGS);
    ooo_segs_case(TS_TCP_MAX_OOO_SEGS + 1);
}

/* One hole byte at offset 0, then n bytes in 4 segments after it. */
static void ooo_bytes_case(uint32_t n)
{
    struct ctx *c = ctx_new();
    seg_p(c, 0, 0, ISN0, 0, SYN, NULL, 0);
    uint32_t b = ISN0 + 1, q = n / 4;
    seg_d(c, 0, 0, b, 1, q, 0, ACK);
    seg_d(c, 0, 0, b, 1 + q, q, 0, ACK);
    seg_d(c, 0, 0, b, 1 + 2 * q, q, 0, ACK);
    seg_d(c, 0, 0, b, 1 + 3 * q, n - 3 * q, 0, ACK);
    struct stream *s;
    if (n <= TS_TCP_MAX_OOO_BYTES) {
        assert_int_equal(c->st.v[TS_TCP_GAPS], 0);
        assert_int_equal(tcp_reasm_bytes(c->t), n + 4 * tcp_reasm_seg_overhead());
        seg_d(c, 0, 0, b, 0, 1, 0, ACK);
        tcp_reasm_flush(c->t);
        s = done(c, 0);
        assert_int_equal(s->ngap[0], 0);
        assert_stream(s, 0, 0, n + 1);
    } else {
        assert_int_equal(c->st.v[TS_TCP_GAPS], 1);
        assert_int_equal(c->st.v[TS_TCP_GAP_BYTES], 1);
        assert_int_equal(tcp_reasm_bytes(c->t), 0);
        tcp_reasm_flush(c->t);
        s = done(c, 0);
        assert_int_equal(s->gap_len[0][0], 1);
        assert_stream(s, 0, 1, n);
    }
    ctx_free(c);
}

static void test_cap_ooo_bytes(void **state)
{
    (void)state;
    ooo_bytes_case(TS_TCP_MAX_OOO_BYTES - 1);
    ooo_bytes_case(TS_TCP_MAX_OOO_BYTES);
    ooo_bytes_case(TS_TCP_MAX_OOO_BYTES + 1);
}

/* All connections together: fill TS_TCP_MAX_TOTAL_BYTES exactly. */
static void test_cap_total_bytes(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    size_t ovh = tcp_reasm_seg_overhead();
    size_t per = TS_TCP_MAX_OOO_BYTES; /* cost per connection, one segment */
    unsigned nconn = TS_TCP_MAX_TOTAL_BYTES / per;
    assert_int_equal((size_t)nconn * per, TS_TCP_MAX_TOTAL_BYTES);
    for (unsigned i = 0; i < nconn; i++) {
        seg_p(c, i, 0, ISN0, 0, SYN, NULL, 0);
        seg_d(c, i, 0, ISN0 + 1, 1, (uint32_t)(per - ovh), 0, ACK);
        if (i + 2 == nconn)
            assert_int_equal(tcp_reasm_bytes(c->t), TS_TCP_MAX_TOTAL_BYTES - per); /* N-1 */
    }
    assert_int_equal(tcp_reasm_bytes(c->t), TS_TCP_MAX_TOTAL_BYTES); /* N */
    assert_int_equal(c->st.v[TS_TCP_GAPS], 0);
    /* N+1: one more buffered byte anywhere cannot be held */
    seg_p(c, nconn, 0, ISN0, 0, SYN, NULL, 0);
    seg_d(c, nconn, 0, ISN0 + 1, 5, 1, 0, ACK);
    assert_int_equal(c->st.v[TS_TCP_OOO_FULL], 1);
    assert_int_equal(c->st.v[TS_TCP_GAPS], 1);
    assert_int_equal(c->st.v[TS_TCP_GAP_BYTES], 5);
    assert_int_equal(tcp_reasm_bytes(c->t), TS_TCP_MAX_TOTAL_BYTES);
    tcp_reasm_flush(c->t);
    assert_int_equal(tcp_reasm_bytes(c->t), 0);
    assert_int_equal(c->f.closed, nconn + 1);
    ctx_free(c);
}

static void test_cap_conns(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    /* connection 0 holds an out-of-order segment when it is evicted */
    seg_p(c, 0, 0, ISN0, 0, SYN, NULL, 0);
    seg_d(c, 0, 0, ISN0 + 1, 10, 20, 0, ACK);
    for (unsigned i = 1; i < TS_TCP_MAX_CONNS - 1; i++)
        seg_p(c, i, 0, ISN0, 0, SYN, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), TS_TCP_MAX_CONNS - 1);
    seg_p(c, TS_TCP_MAX_CONNS - 1, 0, ISN0, 0, SYN, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), TS_TCP_MAX_CONNS);
    assert_int_equal(c->st.v[TS_TCP_EVICTED], 0);
    assert_int_equal(c->f.closed, 0);
    /* N+1: the least recently used (connection 0) goes, its buffer
     * delivered (after a gap) before its close */
    seg_p(c, TS_TCP_MAX_CONNS, 0, ISN0, 0, SYN, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), TS_TCP_MAX_CONNS);
    assert_int_equal(c->st.v[TS_TCP_EVICTED], 1);
    assert_int_equal(c->f.closed, 1);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 1);
    assert_int_equal(s->gap_len[0][0], 10);
    assert_stream(s, 0, 10, 20);
    /* touching connection 1 makes connection 2 the next victim */
    seg_p(c, 1, 0, ISN0 + 1, 0, ACK, NULL, 0);
    seg_p(c, TS_TCP_MAX_CONNS + 1, 0, ISN0, 0, SYN, NULL, 0);
    seg_d(c, 1, 0, ISN0 + 1, 0, 5, 0, ACK);
    assert_int_equal(c->st.v[TS_TCP_STREAMS], TS_TCP_MAX_CONNS + 2);
    tcp_reasm_flush(c->t);
    /* connection 1 survived: its data came in order, without a gap */
    assert_int_equal(c->f.ndone, 2);
    assert_int_equal(done(c, 1)->ngap[0], 0);
    assert_stream(done(c, 1), 0, 0, 5);
    ctx_free(c);
}

static void test_fin_with_hole(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    uint32_t b0 = ISN0 + 1, b1 = ISN1 + 1;
    seg_d(c, 0, 0, b0, 0, 100, b1, ACK);
    seg_p(c, 0, 0, b0 + 200, b1, FIN | ACK, NULL, 0); /* [100,200) still in flight */
    seg_p(c, 0, 1, b1, b0 + 100, FIN | ACK, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), 1);
    seg_d(c, 0, 0, b0, 100, 100, b1 + 1, ACK);
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 0);
    assert_stream(s, 0, 0, 200);

    /* the hole never fills: the peer's ACK of the FIN proves it lost */
    handshake(c, 1);
    seg_d(c, 1, 0, b0, 0, 100, b1, ACK);
    seg_d(c, 1, 0, b0, 150, 50, b1, FIN | ACK);
    seg_p(c, 1, 1, b1, b0 + 201, FIN | ACK, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    s = done(c, 1);
    assert_int_equal(s->ngap[0], 1);
    assert_int_equal(s->gap_len[0][0], 50);
    assert_int_equal(s->len[0], 150);
    assert_memory_equal(s->b[0], SRC[0], 100);
    assert_memory_equal(s->b[0] + 100, SRC[0] + 150, 50);
    /* data past a FIN is not data */
    handshake(c, 2);
    seg_d(c, 2, 0, b0, 0, 10, b1, FIN | ACK);
    seg_d(c, 2, 0, b0, 5, 20, b1, ACK);
    assert_int_equal(c->st.v[TS_TCP_OOO_DROPPED], 1);
    tcp_reasm_flush(c->t);
    assert_stream(done(c, 2), 0, 0, 10);
    assert_int_equal(c->st.v[TS_TCP_CLOSED], 2);
    ctx_free(c);
}

static void test_rst(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    seg_d(c, 0, 0, ISN0 + 1, 0, 10, ISN1 + 1, ACK);
    seg_d(c, 0, 0, ISN0 + 1, 20, 10, ISN1 + 1, ACK); /* buffered */
    seg_p(c, 0, 1, ISN1 + 1, 0, RST, NULL, 0);
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    assert_int_equal(c->st.v[TS_TCP_CLOSED], 1);
    assert_int_equal(c->f.closed, 1);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 1);
    assert_int_equal(s->gap_len[0][0], 10);
    assert_int_equal(s->len[0], 20);
    /* another RST on the dead connection does nothing */
    seg_p(c, 0, 0, ISN0 + 31, 0, RST | ACK, NULL, 0);
    assert_int_equal(c->f.closed, 1);
    assert_int_equal(tcp_reasm_bytes(c->t), 0);
    ctx_free(c);
}

static void test_syn_reuse(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    seg_d(c, 0, 0, ISN0 + 1, 0, 10, ISN1 + 1, ACK);
    /* same 4-tuple, new ISN: the old connection ends, a new one starts */
    uint32_t isn2 = 900000;
    seg_p(c, 0, 0, isn2, 0, SYN, NULL, 0);
    assert_int_equal(c->st.v[TS_TCP_REUSED], 1);
    assert_int_equal(c->st.v[TS_TCP_STREAMS], 2);
    assert_int_equal(c->f.closed, 1);
    seg_p(c, 0, 1, 42, isn2 + 1, SYN | ACK, NULL, 0);
    seg_p(c, 0, 0, isn2 + 1, 43, ACK, SRC[0] + 10, 15);
    /* a reused tuple after a midstream start */
    seg_p(c, 5, 1, 3000, 9, ACK, SRC[1], 10);
    seg_p(c, 5, 0, 777, 0, SYN, NULL, 0);
    assert_int_equal(c->st.v[TS_TCP_REUSED], 2);
    assert_int_equal(c->f.closed, 2);
    /* a SYN-ACK seen first: its receiver is dir 0 */
    seg_p(c, 9, 1, 100, 51, SYN | ACK, NULL, 0);
    seg_p(c, 9, 0, 51, 101, ACK, SRC[0], 7);
    seg_p(c, 9, 1, 101, 58, ACK, SRC[1], 3);
    tcp_reasm_flush(c->t);
    assert_int_equal(c->st.v[TS_TCP_MIDSTREAM], 2); /* conn 5 dir 0, conn 9 dir 0 */
    assert_stream(done(c, 0), 0, 0, 10);
    /* closed: old 0, old 5 (reuse), then at flush in LRU order: new 0,
     * new 5 (no data: user never set), 9 */
    assert_stream(done(c, 2), 0, 10, 15);
    assert_int_equal(c->f.closed_null, 1); /* the new conn 5 never had data */
    struct stream *s9 = done(c, 3);
    assert_stream(s9, 0, 0, 7);
    assert_stream(s9, 1, 0, 3);
    ctx_free(c);
}

static void test_idle_expiry(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    uint64_t t0 = c->ts;
    c->ts = t0 + 10;
    seg_d(c, 1, 0, 1, 0, 5, 0, ACK);
    tcp_reasm_expire(c->t, t0 + TS_TCP_IDLE_NS - 1);
    assert_int_equal(tcp_reasm_conns(c->t), 2);
    tcp_reasm_expire(c->t, t0 + TS_TCP_IDLE_NS);
    assert_int_equal(tcp_reasm_conns(c->t), 1);
    assert_int_equal(c->st.v[TS_TCP_IDLE], 1);
    assert_int_equal(c->f.closed, 1);
    /* lazily on the next segment too */
    c->ts = t0 + 10 + TS_TCP_IDLE_NS;
    seg_d(c, 2, 0, 1, 0, 5, 0, ACK);
    assert_int_equal(c->st.v[TS_TCP_IDLE], 2);
    assert_int_equal(tcp_reasm_conns(c->t), 1);
    ctx_free(c);
}

static void test_flush(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    handshake(c, 0);
    seg_d(c, 0, 0, ISN0 + 1, 0, 10, 0, ACK);
    seg_d(c, 0, 0, ISN0 + 1, 30, 10, 0, ACK);
    seg_d(c, 0, 0, ISN0 + 1, 60, 10, 0, ACK);
    seg_d(c, 0, 1, ISN1 + 1, 5, 5, 0, ACK);
    assert_int_equal(tcp_reasm_bytes(c->t), 25 + 3 * tcp_reasm_seg_overhead());
    tcp_reasm_flush(c->t);
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    assert_int_equal(tcp_reasm_bytes(c->t), 0);
    struct stream *s = done(c, 0);
    assert_int_equal(s->ngap[0], 2);
    assert_int_equal(s->gap_at[0][0], 10);
    assert_int_equal(s->gap_len[0][0], 20);
    assert_int_equal(s->gap_at[0][1], 20);
    assert_int_equal(s->gap_len[0][1], 20);
    assert_int_equal(s->ngap[1], 1);
    assert_int_equal(s->gap_len[1][0], 5);
    assert_stream(s, 1, 5, 5);
    assert_int_equal(s->len[0], 30);
    assert_memory_equal(s->b[0] + 20, SRC[0] + 60, 10);
    assert_int_equal(c->st.v[TS_TCP_GAP_BYTES], 45);
    /* flush on an empty table and free(NULL) are fine */
    tcp_reasm_flush(c->t);
    tcp_reasm_free(NULL);
    ctx_free(c);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Random segments on a few connections, wrapping or not: no crash, no bad
 * pointer (ASan), exact accounting, every connection closed once (checked
 * in ctx_free). */
static void test_hostile(void **state)
{
    (void)state;
    struct ctx *c = ctx_new();
    uint32_t r = 7;
#define RND() lcg(&r)
    for (unsigned i = 0; i < 300000; i++) {
        unsigned conn = RND() % 6;
        int dir = (int)(RND() % 2);
        uint32_t base = conn & 1 ? 0xFFFF0000u : 1000;
        uint32_t off = RND() % 20000;
        uint32_t len = RND() % 3 ? RND() % 1500 : 0;
        uint8_t flags = ACK;
        unsigned f = RND() % 100;
        if (f < 2)
            flags |= SYN, off = 0, len = 0;
        else if (f < 3)
            flags = RST;
        else if (f < 5)
            flags |= FIN;
        if (RND() % 50 == 0)
            off = RND(); /* far away */
        uint32_t ack = base + RND() % 25000;
        c->ts += RND() % 1000000000u;
        if (off + len > SRC_LEN)
            len = 0;
        seg_p(c, conn, dir, base + off, ack, flags, SRC[dir] + (off < SRC_LEN ? off : 0), len);
        assert_true(tcp_reasm_bytes(c->t) <= TS_TCP_MAX_TOTAL_BYTES);
    }
    tcp_reasm_flush(c->t);
    assert_int_equal(tcp_reasm_bytes(c->t), 0);
    assert_int_equal(tcp_reasm_conns(c->t), 0);
    ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_ooo_permutations),
        cmocka_unit_test(test_ooo_permutations_nogap),
        cmocka_unit_test(test_retransmission),
        cmocka_unit_test(test_partial_overlap),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_midstream),
        cmocka_unit_test(test_gap_on_ack),
        cmocka_unit_test(test_cap_ooo_segs),
        cmocka_unit_test(test_cap_ooo_bytes),
        cmocka_unit_test(test_cap_total_bytes),
        cmocka_unit_test(test_cap_conns),
        cmocka_unit_test(test_fin_with_hole),
        cmocka_unit_test(test_rst),
        cmocka_unit_test(test_syn_reuse),
        cmocka_unit_test(test_idle_expiry),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
