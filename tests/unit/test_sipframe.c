/* Unit tests for SIP framing (dissect/sipframe.c): sipf_frame, the UDP
 * datagram splitter and the bounded TCP stream buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/limits.h"
#include "../../dissect/sip.h"
#include "../../dissect/sipframe.h"

#define MSG_A "INVITE sip:bob@b.example SIP/2.0\r\n"                 \
              "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\r\n"       \
              "From: <sip:a@a.example>;tag=1\r\n"                   \
              "To: <sip:b@b.example>\r\n"                           \
              "Call-ID: a1\r\n"                                     \
              "CSeq: 1 INVITE\r\n"                                  \
              "Content-Length: 10\r\n\r\n"                          \
              "0123456789"
#define MSG_B "SIP/2.0 100 Trying\r\n"                              \
              "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\r\n"       \
              "From: <sip:a@a.example>;tag=1\r\n"                   \
              "To: <sip:b@b.example>\r\n"                           \
              "Call-ID: a1\r\n"                                     \
              "CSeq: 1 INVITE\r\n"                                  \
              "l: 0\r\n\r\n"
#define MSG_C "BYE sip:bob@b.example SIP/2.0\n"                     \
              "Call-ID: c3\n"                                       \
              "content-length : 3\n\nxyz"
#define MSG_NOCL "ACK sip:bob@b.example SIP/2.0\r\nCall-ID: n\r\n\r\n"

/* ---- collector ---- */
struct coll {
    int n;
    size_t bytes;
    char all[1 << 18];   /* messages joined with '|' */
    size_t alen;
    const uint8_t *last_p;
};

static void on_msg(void *ctx, struct bv m)
{
    struct coll *c = ctx;
    c->n++;
    c->bytes += m.len;
    c->last_p = m.p;
    if (c->alen + m.len + 1 < sizeof(c->all)) {
        memcpy(c->all + c->alen, m.p, m.len);
        c->alen += m.len;
        c->all[c->alen++] = '|';
    }
}

static struct coll C;
static struct ts_stats ST;

static void reset(void)
{
    memset(&C, 0, sizeof(C));
    memset(&ST, 0, sizeof(ST));
}

static void feed_str(struct sip_stream *s, const char *str)
{
    sip_stream_feed(s, bv_cstr(str), on_msg, &C, &ST);
}

/* ---- sipf_frame ---- */

static void test_frame(void **st)
{
    (void)st;
    size_t n;
    assert_int_equal(sipf_frame(BV_LIT(MSG_A), &n), SIPF_MSG);
    assert_int_equal(n, strlen(MSG_A));
    assert_int_equal(sipf_frame(BV_LIT(MSG_A MSG_B), &n), SIPF_MSG);
    assert_int_equal(n, strlen(MSG_A));
    assert_int_equal(sipf_frame(BV_LIT(MSG_B), &n), SIPF_MSG); /* compact l: */
    assert_int_equal(n, strlen(MSG_B));
    assert_int_equal(sipf_frame(BV_LIT(MSG_C "tail"), &n), SIPF_MSG); /* LF only, LWS before ':' */
    assert_int_equal(n, strlen(MSG_C));
    assert_int_equal(sipf_frame(BV_LIT(MSG_NOCL "garbage"), &n), SIPF_MSG); /* no CL: no body */
    assert_int_equal(n, strlen(MSG_NOCL));

    /* incomplete: header block, then body */
    assert_int_equal(sipf_frame(BV_LIT("INVITE sip:bob@b.example SIP/2.0\r\nVia: x\r\n"), &n), SIPF_NEED_MORE);
    assert_int_equal(n, 0);
    struct bv a = BV_LIT(MSG_A);
    assert_int_equal(sipf_frame(bv_head(a, a.len - 1), &n), SIPF_NEED_MORE);
    assert_int_equal(n, a.len);
    assert_int_equal(sipf_frame(BV_LIT("INV"), &n), SIPF_NEED_MORE);
    assert_int_equal(sipf_frame(BV_NULL, &n), SIPF_NEED_MORE);

    /* keep-alives: RFC 5626 ping and pong */
    assert_int_equal(sipf_frame(BV_LIT("\r\n\r\n"), &n), SIPF_SKIP);
    assert_int_equal(n, 4);
    assert_int_equal(sipf_frame(BV_LIT("\r\n" MSG_B), &n), SIPF_SKIP);
    assert_int_equal(n, 2);

    /* garbage: skip whole lines up to a plausible start line */
    assert_int_equal(sipf_frame(BV_LIT("hello world\r\nmore junk\r\n" MSG_B), &n), SIPF_SKIP);
    assert_int_equal(n, strlen("hello world\r\nmore junk\r\n"));
    assert_int_equal(sipf_frame(BV_LIT("{junk without newline"), &n), SIPF_SKIP);
    assert_int_equal(n, strlen("{junk without newline"));
    /* "word SP ..." could still become a request line: wait (bounded by TS_SIP_MAX_MSG) */
    assert_int_equal(sipf_frame(BV_LIT("junk without newline"), &n), SIPF_NEED_MORE);
    assert_int_equal(sipf_frame(BV_LIT("junk\nSIP/2.0 2"), &n), SIPF_SKIP); /* keep the candidate */
    assert_int_equal(n, 5);
    assert_int_equal(sipf_frame(BV_LIT("\x16\x03\x01\x00\x10\n\x01\x02"), &n), SIPF_SKIP);
    assert_int_equal(n, 8);

    /* a bad Content-Length frames as no body; overlarge CL needs more */
    assert_int_equal(sipf_frame(BV_LIT("BYE sip:b SIP/2.0\r\nContent-Length: -3\r\n\r\n"), &n), SIPF_MSG);
    assert_int_equal(sipf_frame(BV_LIT("BYE sip:b SIP/2.0\r\nl: 4294967295\r\n\r\n"), &n), SIPF_NEED_MORE);
    assert_int_equal(n, strlen("BYE sip:b SIP/2.0\r\nl: 4294967295\r\n\r\n") + 4294967295ull);
}

/* ---- datagrams ---- */

static void test_datagram_split(void **st)
{
    (void)st;
    struct bv m[4];
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_A), m, 4), 1);
    assert_int_equal(m[0].len, strlen(MSG_A));
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_A MSG_B "\r\n" MSG_C), m, 4), 3);
    assert_true(bv_eq(m[1], BV_LIT(MSG_B)));
    assert_true(bv_eq(m[2], BV_LIT(MSG_C)));
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_A MSG_B MSG_C), m, 2), 2);
    /* trailing junk is not a message */
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_A "\r\n\r\njunk\r\n"), m, 4), 1);
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_A "\0\0\0\0"), m, 4), 1);
    /* no Content-Length: to the end of the datagram */
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_NOCL "body" MSG_B), m, 4), 1);
    assert_int_equal(m[0].len, strlen(MSG_NOCL "body" MSG_B));
    /* Content-Length beyond the datagram: the rest (the parser says truncated) */
    struct bv a = BV_LIT(MSG_A);
    assert_int_equal(sip_datagram_split(bv_head(a, a.len - 3), m, 4), 1);
    assert_int_equal(m[0].len, a.len - 3);
    /* keep-alive datagrams and nothing */
    assert_int_equal(sip_datagram_split(BV_LIT("\r\n\r\n"), m, 4), 0);
    assert_int_equal(sip_datagram_split(BV_NULL, m, 4), 0);
    assert_int_equal(sip_datagram_split(BV_LIT(MSG_A), m, 0), 0);
    /* non-SIP first message is still handed over (the parser rejects it) */
    assert_int_equal(sip_datagram_split(BV_LIT("\x80\x00junk"), m, 4), 1);
}

/* ---- stream ---- */

static void test_stream_several_and_keepalive(void **st)
{
    (void)st;
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    const char *in = "\r\n\r\n" MSG_A "\r\n" MSG_B MSG_C "\r\n\r\n";
    feed_str(&s, in);
    assert_int_equal(C.n, 3);
    assert_string_equal(C.all, MSG_A "|" MSG_B "|" MSG_C "|");
    assert_int_equal(ST.v[TS_SIP_KEEPALIVES], 3);
    assert_int_equal(ST.v[TS_SIP_TCP_RESYNC], 0);
    /* nothing buffered: zero copy from the input, no buffer held */
    assert_ptr_equal(C.last_p, (const uint8_t *)in + strlen("\r\n\r\n" MSG_A "\r\n" MSG_B));
    assert_null(s.buf);
    assert_int_equal(s.len, 0);
    sip_stream_cleanup(&s);
    sip_stream_cleanup(NULL);
}

static void test_stream_every_split(void **st)
{
    (void)st;
    static const char in[] = "\r\n" MSG_A MSG_B "\r\n\r\n" MSG_C MSG_NOCL;
    const char *want = MSG_A "|" MSG_B "|" MSG_C "|" MSG_NOCL "|";
    size_t n = strlen(in);
    for (size_t cut = 0; cut <= n; cut++) {
        struct sip_stream s;
        reset();
        sip_stream_init(&s);
        struct bv all = bv_make(in, n);
        sip_stream_feed(&s, bv_head(all, cut), on_msg, &C, &ST);
        sip_stream_feed(&s, bv_from(all, cut), on_msg, &C, &ST);
        if (C.n != 4 || strcmp(C.all, want) != 0)
            fail_msg("cut %zu: %d messages", cut, C.n);
        assert_int_equal(ST.v[TS_SIP_TCP_RESYNC], 0);
        assert_null(s.buf); /* freed when empty */
        sip_stream_cleanup(&s);
    }
    /* one byte at a time */
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    for (size_t i = 0; i < n; i++)
        sip_stream_feed(&s, bv_make(in + i, 1), on_msg, &C, &ST);
    assert_int_equal(C.n, 4);
    assert_string_equal(C.all, want);
    sip_stream_cleanup(&s);
}

static void test_stream_garbage(void **st)
{
    (void)st;
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    const char *junk = "\x16\x03\x01 binary junk\r\nGET / HTTP/1.1\r\nHost: x\r\n";
    feed_str(&s, junk);
    feed_str(&s, MSG_B);
    assert_int_equal(C.n, 1);
    assert_string_equal(C.all, MSG_B "|");
    assert_int_equal(ST.v[TS_SIP_TCP_RESYNC], strlen(junk));
    /* junk split so that a start line candidate straddles the feeds */
    reset();
    feed_str(&s, "xx\r\nSIP/2.0 1");
    assert_int_equal(ST.v[TS_SIP_TCP_RESYNC], 4);
    feed_str(&s, MSG_B + strlen("SIP/2.0 1"));
    assert_int_equal(C.n, 1);
    assert_string_equal(C.all, MSG_B "|");
    sip_stream_cleanup(&s);
}

/* HTTP on a SIP port: the blank lines that end its header blocks and the
 * CRLFs of its body are not RFC 5626 keep-alives. */
static void test_stream_http_not_keepalive(void **st)
{
    (void)st;
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    feed_str(&s, "GET /status HTTP/1.1\r\nHost: 10.0.0.1:5060\r\nAccept: */*\r\n\r\n");
    feed_str(&s, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nline\r\n\r\nend\r\n\r\n\r\n");
    assert_int_equal(C.n, 0);
    assert_int_equal(ST.v[TS_SIP_KEEPALIVES], 0);
    assert_true(ST.v[TS_SIP_TCP_RESYNC] > 0);
    /* after a real message, a CRLF pair is a keep-alive again */
    feed_str(&s, MSG_B "\r\n\r\n");
    assert_int_equal(C.n, 1);
    assert_int_equal(ST.v[TS_SIP_KEEPALIVES], 1);
    sip_stream_cleanup(&s);
}

static void test_stream_abandon(void **st)
{
    (void)st;
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    char *junk = malloc(TS_SIP_MAX_RESYNC + 2);
    memset(junk, 'x', TS_SIP_MAX_RESYNC + 2);
    junk[TS_SIP_MAX_RESYNC - 1] = '\n';
    /* exactly the limit: still listening */
    sip_stream_feed(&s, bv_make(junk, TS_SIP_MAX_RESYNC), on_msg, &C, &ST);
    assert_false(s.abandoned);
    feed_str(&s, MSG_B);
    assert_int_equal(C.n, 1);
    /* one more byte than the limit: not a SIP stream, ignored from now on */
    junk[TS_SIP_MAX_RESYNC - 1] = 'x';
    sip_stream_feed(&s, bv_make(junk, TS_SIP_MAX_RESYNC + 1), on_msg, &C, &ST);
    assert_true(s.abandoned);
    feed_str(&s, MSG_B);
    assert_int_equal(C.n, 1);
    assert_null(s.buf);
    free(junk);
    sip_stream_cleanup(&s);
}

/* A message of exactly len bytes (body padded). */
static char *msg_of_size(size_t len)
{
    const char *head = "MESSAGE sip:b@b.example SIP/2.0\r\nCall-ID: big\r\nContent-Length: ";
    char hdr[256];
    size_t hl = strlen(head) + 4; /* "\r\n\r\n" */
    /* the digits of the body length change the header length: iterate */
    size_t body = len - hl - 1;
    for (int i = 0; i < 3; i++) {
        int d = snprintf(hdr, sizeof(hdr), "%zu", body);
        body = len - hl - (size_t)d;
    }
    char *m = malloc(len + 1);
    int o = snprintf(m, len + 1, "%s%zu\r\n\r\n", head, body);
    assert_int_equal((size_t)o + body, len);
    memset(m + o, 'b', body);
    m[len] = 0;
    return m;
}

static void test_stream_oversize(void **st)
{
    (void)st;
    size_t sizes[] = { TS_SIP_MAX_MSG - 1, TS_SIP_MAX_MSG, TS_SIP_MAX_MSG + 1 };
    for (int k = 0; k < 3; k++) {
        char *m = msg_of_size(sizes[k]);
        bool fits = sizes[k] <= TS_SIP_MAX_MSG;
        for (int mode = 0; mode < 3; mode++) {
            struct sip_stream s;
            reset();
            sip_stream_init(&s);
            struct bv all = bv_make(m, sizes[k]);
            if (mode == 0) { /* one feed: direct path */
                sip_stream_feed(&s, all, on_msg, &C, &ST);
            } else if (mode == 1) { /* 1000-byte segments: buffered path */
                for (size_t o = 0; o < all.len; o += 1000)
                    sip_stream_feed(&s, bv_head(bv_from(all, o), 1000), on_msg, &C, &ST);
            } else { /* a small message first, then the big one in two pieces */
                feed_str(&s, "\r\n");
                sip_stream_feed(&s, bv_head(all, 100), on_msg, &C, &ST);
                sip_stream_feed(&s, bv_from(all, 100), on_msg, &C, &ST);
            }
            feed_str(&s, MSG_B); /* the stream carries on */
            assert_int_equal(C.n, fits ? 2 : 1);
            assert_int_equal(C.bytes, (fits ? sizes[k] : 0) + strlen(MSG_B));
            assert_int_equal(ST.v[TS_SIP_TCP_OVERSIZE], fits ? 0 : 1);
            assert_true(s.cap <= TS_SIP_MAX_MSG);
            assert_null(s.buf);
            sip_stream_cleanup(&s);
        }
        free(m);
    }
}

static void test_stream_header_flood(void **st)
{
    (void)st;
    /* a header block that never ends: dropped at TS_SIP_MAX_MSG, then resync */
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    feed_str(&s, "OPTIONS sip:x@y SIP/2.0\r\n");
    for (size_t i = 0; i < TS_SIP_MAX_MSG / 16 + 10; i++)
        feed_str(&s, "X-Flood: 123456\r\n");
    assert_int_equal(ST.v[TS_SIP_TCP_OVERSIZE], 1);
    assert_true(s.len < TS_SIP_MAX_MSG);
    feed_str(&s, "\r\n");
    feed_str(&s, MSG_A);
    assert_int_equal(C.n, 1);
    assert_string_equal(C.all, MSG_A "|");
    sip_stream_cleanup(&s);
}

static void test_stream_gap(void **st)
{
    (void)st;
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    /* bodies normally end in CRLF (SDP), so the line-based resync finds the next start line */
    struct bv a = BV_LIT("INVITE sip:bob@b.example SIP/2.0\r\nCall-ID: g\r\nl: 5\r\n"
                         "X-Pad: 0123456789012345678901234567890123456789\r\n\r\nv=0\r\n");
    sip_stream_feed(&s, bv_head(a, 50), on_msg, &C, &ST);
    assert_int_equal(s.len, 50);
    sip_stream_gap(&s, &ST);
    assert_true(s.resync);
    assert_int_equal(s.len, 0);
    assert_null(s.buf);
    /* the rest of the lost message, then a complete one */
    sip_stream_feed(&s, bv_from(a, 80), on_msg, &C, &ST);
    feed_str(&s, MSG_B);
    assert_int_equal(C.n, 1);
    assert_string_equal(C.all, MSG_B "|");
    assert_false(s.resync);
    assert_true(ST.v[TS_SIP_TCP_RESYNC] >= 50);
    /* a gap inside an oversize body stops the discarding */
    char *m = msg_of_size(TS_SIP_MAX_MSG + 500);
    reset();
    sip_stream_feed(&s, bv_make(m, 1000), on_msg, &C, &ST);
    assert_true(s.discard > 0);
    sip_stream_gap(&s, &ST);
    assert_int_equal(s.discard, 0);
    feed_str(&s, MSG_B);
    assert_int_equal(C.n, 1);
    free(m);
    /* NULL callback and NULL stats are allowed */
    sip_stream_feed(&s, BV_LIT(MSG_A MSG_B "junk\r\n"), NULL, NULL, NULL);
    sip_stream_gap(&s, NULL);
    sip_stream_cleanup(&s);
}

/* A header block of exactly len bytes: a start line, headers of 37 bytes,
 * one last header padding to size, CRLF. A long start line when long_sl. */
static char *header_block(size_t len, bool long_sl)
{
    char *m = malloc(len + 1);
    size_t o = 0;
    if (long_sl) {
        o = (size_t)snprintf(m, len, "INVITE sip:");
        while (o + 12 + 40 < len)
            m[o++] = 'u';
        o += (size_t)snprintf(m + o, len - o, " SIP/2.0\r\n");
    } else {
        o = (size_t)snprintf(m, len, "OPTIONS sip:x@y SIP/2.0\r\n");
        while (o + 37 + 2 + 40 <= len)
            o += (size_t)snprintf(m + o, len + 1 - o, "X-Filler: 0123456789012345678901234\r\n");
    }
    m[o++] = 'X';
    m[o++] = ':';
    while (o + 4 < len)
        m[o++] = 'a';
    memcpy(m + o, "\r\n\r\n", 4);
    m[len] = 0;
    assert_int_equal(strlen(m), len);
    return m;
}

/* Framing of a stream fed one byte per segment: the same as fed whole, and
 * the bytes examined stay linear (a rescan per segment was quadratic: a
 * 128 KB header block cost about 8 * 10^9 byte comparisons). */
static void test_stream_bytewise_linear(void **st)
{
    (void)st;
    for (int k = 0; k < 4; k++) {
        size_t len = TS_SIP_MAX_MSG;
        char *m = header_block(len, k > 0);
        if (k == 2)
            m[len / 2] = '\x01'; /* late in the request line: garbage, too much of it */
        if (k == 3)
            memcpy(m, "SIP/2.0 200 ", 12); /* a status line judged before its end */
        struct bv all = bv_make(m, len);
        /* reference: one segment */
        struct sip_stream s;
        reset();
        sip_stream_init(&s);
        sip_stream_feed(&s, all, on_msg, &C, &ST);
        feed_str(&s, MSG_B);
        int n0 = C.n;
        size_t bytes0 = C.bytes;
        uint64_t resync0 = ST.v[TS_SIP_TCP_RESYNC], over0 = ST.v[TS_SIP_TCP_OVERSIZE];
        assert_int_equal(n0, k == 2 ? 0 : 2);
        if (k == 2)
            assert_true(resync0 > TS_SIP_MAX_RESYNC);
        sip_stream_cleanup(&s);
        /* one byte per segment */
        reset();
        sip_stream_init(&s);
        for (size_t i = 0; i < len; i++)
            sip_stream_feed(&s, bv_make(m + i, 1), on_msg, &C, &ST);
        if (k != 2) {
            assert_int_equal(C.n, 1);
            assert_int_equal(C.bytes, len);
            assert_memory_equal(C.all, m, len);
            assert_null(s.buf);
        }
        assert_true(s.scanned < 4 * (uint64_t)len);
        feed_str(&s, MSG_B);
        assert_int_equal(C.n, n0);
        assert_int_equal(C.bytes, bytes0);
        assert_int_equal(ST.v[TS_SIP_TCP_RESYNC], resync0);
        assert_int_equal(ST.v[TS_SIP_TCP_OVERSIZE], over0);
        sip_stream_cleanup(&s);
        free(m);
    }
    /* a start line that never ends is bounded by the limit, still linearly */
    struct sip_stream s;
    reset();
    sip_stream_init(&s);
    feed_str(&s, "INVITE ");
    for (size_t i = 0; i < TS_SIP_MAX_MSG + 10; i++)
        sip_stream_feed(&s, BV_LIT("u"), on_msg, &C, &ST);
    assert_int_equal(ST.v[TS_SIP_TCP_OVERSIZE], 1);
    assert_true(s.scanned < 4 * (uint64_t)TS_SIP_MAX_MSG + 64);
    sip_stream_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_datagram_split),
        cmocka_unit_test(test_stream_several_and_keepalive),
        cmocka_unit_test(test_stream_http_not_keepalive),
        cmocka_unit_test(test_stream_every_split),
        cmocka_unit_test(test_stream_garbage),
        cmocka_unit_test(test_stream_abandon),
        cmocka_unit_test(test_stream_oversize),
        cmocka_unit_test(test_stream_header_flood),
        cmocka_unit_test(test_stream_gap),
        cmocka_unit_test(test_stream_bytewise_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
