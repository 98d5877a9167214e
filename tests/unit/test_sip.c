/* Unit tests for the SIP parser (dissect/sip.c): start lines, header block,
 * compact forms, folding, LF-only, limits, Content-Length and the readers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/sip.h"

static struct sip_msg M; /* large: keep it off the stack */

static enum sip_result P(const char *s, bool stream)
{
    return sip_parse((const uint8_t *)s, strlen(s), stream, &M);
}

static bool EQS(struct bv b, const char *s)
{
    return bv_eq_cstr(b, s);
}

#define HDRS_MIN                                                    \
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"            \
    "From: \"Alice\" <sip:alice@a.example>;tag=1928\r\n"            \
    "To: <sip:bob@b.example>\r\n"                                   \
    "Call-ID: abc123@10.0.0.1\r\n"                                  \
    "CSeq: 314159 INVITE\r\n"

static void test_request_basic(void **st)
{
    (void)st;
    const char *msg = "INVITE sip:bob@b.example SIP/2.0\r\n" HDRS_MIN
                      "Max-Forwards: 70\r\n"
                      "Content-Type: application/sdp\r\n"
                      "Content-Length: 4\r\n\r\nv=0\nTRAILING";
    assert_int_equal(P(msg, false), SIP_OK);
    assert_true(M.is_request);
    assert_int_equal(M.method, SIP_M_INVITE);
    assert_true(EQS(M.method_str, "INVITE"));
    assert_true(EQS(M.ruri, "sip:bob@b.example"));
    assert_true(EQS(M.version, "SIP/2.0"));
    assert_int_equal(M.nhdrs, 8);
    assert_true(EQS(M.call_id, "abc123@10.0.0.1"));
    assert_int_equal(M.cseq, 314159);
    assert_int_equal(M.cseq_method, SIP_M_INVITE);
    assert_int_equal(M.content_length, 4);
    assert_true(EQS(M.body, "v=0\n"));
    assert_int_equal(M.msg_len, strlen(msg) - strlen("TRAILING"));
    assert_int_equal(M.flags, 0);
    assert_int_equal(M.first[SIP_H_VIA], 0);
    assert_int_equal(M.first[SIP_H_CONTENT_LENGTH], 7);
    assert_int_equal(M.first[SIP_H_ROUTE], -1);
    assert_true(EQS(M.hdrs[1].name, "From"));
    assert_true(EQS(M.hdrs[1].value, "\"Alice\" <sip:alice@a.example>;tag=1928"));
    /* views point into the input: zero copy */
    assert_ptr_equal(M.ruri.p, (const uint8_t *)msg + 7);
    /* same over a stream */
    assert_int_equal(P(msg, true), SIP_OK);
    assert_int_equal(M.body.len, 4);
}

static void test_response(void **st)
{
    (void)st;
    assert_int_equal(P("SIP/2.0 180 Ringing\r\n" HDRS_MIN "Content-Length: 0\r\n\r\n", true), SIP_OK);
    assert_false(M.is_request);
    assert_int_equal(M.status, 180);
    assert_true(EQS(M.reason_phrase, "Ringing"));
    assert_int_equal(M.flags, 0);
    /* empty reason phrase, with and without the SP */
    assert_int_equal(P("SIP/2.0 100 \r\n" HDRS_MIN "l: 0\r\n\r\n", true), SIP_OK);
    assert_int_equal(M.status, 100);
    assert_int_equal(M.reason_phrase.len, 0);
    assert_int_equal(P("SIP/2.0 699\r\n" HDRS_MIN "l: 0\r\n\r\n", true), SIP_OK);
    assert_int_equal(M.status, 699);
    /* UTF-8 reason phrase is kept as bytes */
    assert_int_equal(P("SIP/2.0 486 Occup\xc3\xa9\r\n" HDRS_MIN "l: 0\r\n\r\n", true), SIP_OK);
    assert_true(EQS(M.reason_phrase, "Occup\xc3\xa9"));
    /* lower-case "sip/2.0" is the same version (ABNF literals are case-insensitive) */
    assert_int_equal(P("sip/2.0 200 OK\r\n" HDRS_MIN "l: 0\r\n\r\n", true), SIP_OK);
}

static void test_start_line_errors(void **st)
{
    (void)st;
    static const struct { const char *line; enum sip_result r; } t[] = {
        { "SIP/2.0 099 Low", SIP_MALFORMED },
        { "SIP/2.0 700 High", SIP_MALFORMED },
        { "SIP/2.0 1000 Four digits", SIP_MALFORMED },
        { "SIP/2.0 20 Two", SIP_MALFORMED },
        { "SIP/2.0 2x0 Alpha", SIP_MALFORMED },
        { "SIP/2.0 4294967301 Big", SIP_MALFORMED },
        { "SIP/2.0", SIP_MALFORMED },
        { "SIP/2.x 200 OK", SIP_MALFORMED },
        { "SIP/3.0 200 OK", SIP_UNSUPPORTED },
        { "INVITE sip:a@b SIP/7.0", SIP_UNSUPPORTED },
        { "INVITE sip:a@b SIP/2.1", SIP_UNSUPPORTED },
        { "INVITE  sip:a@b SIP/2.0", SIP_MALFORMED },     /* double SP */
        { "INVITE sip:a@b  SIP/2.0", SIP_MALFORMED },
        { "INVITE sip:a@b SIP/2.0 ", SIP_MALFORMED },     /* trailing SP */
        { "INVITE sip:a@b; lr SIP/2.0", SIP_MALFORMED },  /* LWS in the URI */
        { "INVITE sip:a@b", SIP_MALFORMED },
        { "INVITE", SIP_MALFORMED },
        { " INVITE sip:a@b SIP/2.0", SIP_MALFORMED },
        { "INV\"TE sip:a@b SIP/2.0", SIP_MALFORMED },     /* not a token */
        { "INVITE sip:a@b HTTP/1.1", SIP_MALFORMED },
        { "", SIP_MALFORMED },
        { "GET / HTTP/1.1", SIP_MALFORMED },
    };
    char buf[512];
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(buf, sizeof(buf), "%s\r\n" HDRS_MIN "l: 0\r\n\r\n", t[i].line);
        if (P(buf, false) != t[i].r)
            fail_msg("start line '%s': got %d want %d", t[i].line, (int)P(buf, false), (int)t[i].r);
    }
    /* unknown methods are fine (extension methods) */
    assert_int_equal(P("FOO-BAR sip:a@b.c SIP/2.0\r\n" HDRS_MIN "l: 0\r\n\r\n", false), SIP_OK);
    assert_int_equal(M.method, SIP_M_UNKNOWN);
    assert_true(M.flags & SIP_F_CSEQ_MISMATCH);
}

static void test_compact_forms(void **st)
{
    (void)st;
    static const struct { const char *n; enum sip_hdr_id id; } t[] = {
        { "i", SIP_H_CALL_ID }, { "m", SIP_H_CONTACT }, { "e", SIP_H_CONTENT_ENCODING },
        { "l", SIP_H_CONTENT_LENGTH }, { "c", SIP_H_CONTENT_TYPE }, { "f", SIP_H_FROM },
        { "s", SIP_H_SUBJECT }, { "k", SIP_H_SUPPORTED }, { "t", SIP_H_TO }, { "v", SIP_H_VIA },
        { "o", SIP_H_EVENT }, { "r", SIP_H_REFER_TO }, { "b", SIP_H_REFERRED_BY },
        { "x", SIP_H_SESSION_EXPIRES }, { "u", SIP_H_ALLOW_EVENTS }, { "a", SIP_H_ACCEPT_CONTACT },
        { "j", SIP_H_REJECT_CONTACT }, { "d", SIP_H_REQUEST_DISPOSITION }, { "y", SIP_H_IDENTITY },
        { "n", SIP_H_IDENTITY_INFO }, { "I", SIP_H_CALL_ID }, { "L", SIP_H_CONTENT_LENGTH },
        { "Call-ID", SIP_H_CALL_ID }, { "cALL-iD", SIP_H_CALL_ID }, { "VIA", SIP_H_VIA },
        { "P-Asserted-Identity", SIP_H_P_ASSERTED_IDENTITY }, { "Session-ID", SIP_H_SESSION_ID },
        { "WWW-Authenticate", SIP_H_WWW_AUTHENTICATE }, { "Proxy-Authorization", SIP_H_PROXY_AUTHORIZATION },
        { "Proxy-Authenticate", SIP_H_PROXY_AUTHENTICATE }, { "Ms-Diagnostics", SIP_H_MS_DIAGNOSTICS },
        { "Record-Route", SIP_H_RECORD_ROUTE }, { "History-Info", SIP_H_HISTORY_INFO },
        { "Diversion", SIP_H_DIVERSION }, { "RAck", SIP_H_RACK }, { "RSeq", SIP_H_RSEQ },
        { "Replaces", SIP_H_REPLACES }, { "Session-Expires", SIP_H_SESSION_EXPIRES },
        { "Date", SIP_H_DATE }, { "q", SIP_H_OTHER }, { "X-CID", SIP_H_OTHER },
        { "Via2", SIP_H_OTHER }, { "Vi", SIP_H_OTHER }, { "", SIP_H_OTHER },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (sip_hdr_lookup(bv_cstr(t[i].n)) != t[i].id)
            fail_msg("header %s", t[i].n);

    const char *msg = "BYE sip:bob@b.example SIP/2.0\r\n"
                      "v: SIP/2.0/TCP h.example;branch=z9hG4bKx\r\n"
                      "f: <sip:a@a.example>;tag=1\r\n"
                      "t: <sip:b@b.example>;tag=2\r\n"
                      "i: compact-call\r\n"
                      "cseq: 7 BYE\r\n"
                      "m: <sip:a@10.0.0.1>\r\n"
                      "k: timer, 100rel\r\n"
                      "l: 3\r\n\r\nabc";
    assert_int_equal(P(msg, true), SIP_OK);
    assert_int_equal(M.flags, 0);
    assert_true(EQS(M.call_id, "compact-call"));
    assert_int_equal(M.content_length, 3);
    assert_int_equal(M.first[SIP_H_CONTACT], 5);
    assert_int_equal(M.first[SIP_H_SUPPORTED], 6);
    assert_true(EQS(sip_hdr_get(&M, "Call-ID"), "compact-call"));
    assert_true(EQS(sip_hdr_get(&M, "i"), "compact-call"));
    size_t it = 0;
    struct bv v;
    assert_true(sip_hdr_next(&M, SIP_H_SUPPORTED, &it, &v));
    assert_true(EQS(v, "timer"));
    assert_true(sip_hdr_next(&M, SIP_H_SUPPORTED, &it, &v));
    assert_true(EQS(v, "100rel"));
    assert_false(sip_hdr_next(&M, SIP_H_SUPPORTED, &it, &v));
}

static void test_folding_and_lws(void **st)
{
    (void)st;
    const char *msg = "OPTIONS sip:b@b.example SIP/2.0\r\n"
                      "TO :\r\n sip:b@b.example ;   tag    = 99\r\n"
                      "from   : <sip:a@a.example>\r\n  ;\r\n  tag = x1\r\n"
                      "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=z9hG4bKa\r\n"
                      "Call-ID: c1\r\n"
                      "cseq: 0009\r\n  OPTIONS\r\n"
                      "Subject:\r\n"
                      "X-Long: one\r\n\ttwo\r\n three\r\n"
                      "Content-Length   : 0\r\n\r\n";
    assert_int_equal(P(msg, true), SIP_OK);
    assert_int_equal(M.flags, 0);
    assert_int_equal(M.cseq, 9);
    assert_true(EQS(M.cseq_method_str, "OPTIONS"));
    assert_true(EQS(M.hdrs[0].value, "sip:b@b.example ;   tag    = 99"));
    assert_true(EQS(sip_hdr_get(&M, "X-Long"), "one\r\n\ttwo\r\n three"));
    assert_true(EQS(sip_hdr_get(&M, "subject"), ""));
    assert_int_equal(M.content_length, 0);
    struct sip_nameaddr na;
    size_t it = 0;
    struct bv v;
    assert_true(sip_hdr_next(&M, SIP_H_FROM, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.tag, "x1"));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_TO, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.tag, "99"));
    assert_true(EQS(na.uri, "sip:b@b.example"));
    struct sip_via via;
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_VIA, &it, &v));
    assert_true(sip_via_parse(v, &via));
    assert_true(EQS(via.transport, "UDP"));
    assert_true(EQS(via.host, "192.0.2.2"));
    /* a continuation line before any header is malformed */
    assert_int_equal(P("OPTIONS sip:b@b SIP/2.0\r\n folded: x\r\n\r\n", true), SIP_MALFORMED);
}

static void test_lf_only(void **st)
{
    (void)st;
    const char *msg = "INVITE sip:bob@b.example SIP/2.0\n"
                      "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\n"
                      "From: <sip:a@a.example>;tag=1\n"
                      "To: <sip:b@b.example>\n"
                      "Call-ID: lf\n"
                      "X-Fold: a\n b\n"
                      "CSeq: 1 INVITE\n"
                      "Content-Length: 2\n\nok";
    assert_int_equal(P(msg, true), SIP_OK);
    assert_int_equal(M.flags, SIP_F_LF_ONLY);
    assert_true(EQS(M.call_id, "lf"));
    assert_true(EQS(sip_hdr_get(&M, "x-fold"), "a\n b"));
    assert_true(EQS(M.body, "ok"));
    assert_int_equal(M.msg_len, strlen(msg));
    /* CRLF messages do not get the flag */
    assert_int_equal(P("SIP/2.0 200 OK\r\n" HDRS_MIN "l: 0\r\n\r\n", true), SIP_OK);
    assert_false(M.flags & SIP_F_LF_ONLY);
}

static void test_truncated_and_bad_lines(void **st)
{
    (void)st;
    /* no end of the header block */
    assert_int_equal(P("INVITE sip:a@b.c SIP/2.0\r\n" HDRS_MIN, true), SIP_TRUNCATED);
    assert_int_equal(P("INVITE sip:a@b.c SIP/2.0\r\n" HDRS_MIN "l: 0\r\n", false), SIP_TRUNCATED);
    assert_int_equal(P("INVITE sip:a@b.c SIP/2.0", false), SIP_TRUNCATED);
    assert_int_equal(P("INVI", false), SIP_TRUNCATED);
    assert_int_equal(P("", false), SIP_TRUNCATED);
    assert_int_equal(P("\x16\x03\x01\x02\x00\x01", false), SIP_MALFORMED); /* TLS */
    /* header line without a colon, empty name, space inside the name */
    assert_int_equal(P("INVITE sip:a@b.c SIP/2.0\r\nNoColon\r\n\r\n", false), SIP_MALFORMED);
    assert_int_equal(P("INVITE sip:a@b.c SIP/2.0\r\n: x\r\n\r\n", false), SIP_MALFORMED);
    assert_int_equal(P("INVITE sip:a@b.c SIP/2.0\r\nCall ID: x\r\n\r\n", false), SIP_MALFORMED);
    /* CSeq that is not a number, overflows or lacks the method */
    assert_int_equal(P("BYE sip:a@b.c SIP/2.0\r\nCSeq: x BYE\r\n\r\n", false), SIP_MALFORMED);
    assert_int_equal(P("BYE sip:a@b.c SIP/2.0\r\nCSeq: 4294967296 BYE\r\n\r\n", false), SIP_MALFORMED);
    assert_int_equal(P("BYE sip:a@b.c SIP/2.0\r\nCSeq: 4294967295 BYE\r\n\r\n", false), SIP_OK);
    assert_int_equal(P("BYE sip:a@b.c SIP/2.0\r\nCSeq: 12\r\n\r\n", false), SIP_MALFORMED);
    /* missing essentials */
    assert_int_equal(P("BYE sip:a@b.c SIP/2.0\r\nCSeq: 1 BYE\r\n\r\n", false), SIP_OK);
    assert_true(M.flags & SIP_F_MISSING_HDR);
}

static void test_content_length(void **st)
{
    (void)st;
    const char *base = "MESSAGE sip:b@b.example SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
                       "From: <sip:a@a.example>;tag=1\r\n"
                       "To: <sip:b@b.example>\r\n"
                       "Call-ID: cl\r\n"
                       "CSeq: 1 MESSAGE\r\n";
    char buf[1024];
    /* absent: UDP runs to the end, stream has no body */
    snprintf(buf, sizeof(buf), "%s\r\nhello", base);
    assert_int_equal(P(buf, false), SIP_OK);
    assert_true(EQS(M.body, "hello"));
    assert_int_equal(M.content_length, -1);
    assert_int_equal(M.flags, SIP_F_NO_CL);
    assert_int_equal(P(buf, true), SIP_OK);
    assert_int_equal(M.body.len, 0);
    assert_int_equal(M.msg_len, strlen(buf) - 5);
    /* larger than present: truncated, flagged over UDP */
    snprintf(buf, sizeof(buf), "%sContent-Length: 6\r\n\r\nhello", base);
    assert_int_equal(P(buf, false), SIP_TRUNCATED);
    assert_true(M.flags & SIP_F_CL_MISMATCH);
    assert_int_equal(P(buf, true), SIP_TRUNCATED);
    assert_false(M.flags & SIP_F_CL_MISMATCH);
    /* exact and shorter */
    snprintf(buf, sizeof(buf), "%sContent-Length: 5\r\n\r\nhello", base);
    assert_int_equal(P(buf, true), SIP_OK);
    assert_int_equal(M.msg_len, strlen(buf));
    snprintf(buf, sizeof(buf), "%sContent-Length: 4\r\n\r\nhello", base);
    assert_int_equal(P(buf, false), SIP_OK);
    assert_true(EQS(M.body, "hell"));
    /* negative, garbage, overflow, two different values */
    static const char *bad[] = { "-5", "abc", "5x", "99999999999999999999999", "4294967296", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "%sContent-Length: %s\r\n\r\nhello", base, bad[i]);
        assert_int_equal(P(buf, false), SIP_OK);
        assert_true(M.flags & SIP_F_CL_INVALID);
        assert_int_equal(M.content_length, -1);
        assert_true(EQS(M.body, "hello"));
        assert_int_equal(P(buf, true), SIP_OK);
        assert_int_equal(M.body.len, 0);
    }
    snprintf(buf, sizeof(buf), "%sContent-Length: 5\r\nl: 3\r\n\r\nhello", base);
    assert_int_equal(P(buf, false), SIP_OK);
    assert_true(M.flags & SIP_F_CL_INVALID);
    snprintf(buf, sizeof(buf), "%sContent-Length: 5\r\nl: 5\r\n\r\nhello", base);
    assert_int_equal(P(buf, false), SIP_OK);
    assert_false(M.flags & SIP_F_CL_INVALID);
    assert_true(M.flags & SIP_F_DUP_SINGLE);
}

/* A message with n header fields in total (5 essentials + fillers + CL last). */
static char *build_hdrs(size_t n)
{
    size_t cap = 256 + n * 32;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, "OPTIONS sip:x@y.example SIP/2.0\r\n" HDRS_MIN);
    for (size_t i = 5; i + 1 < n; i++)
        o += (size_t)snprintf(b + o, cap - o, "X-H%zu: %zu\r\n", i, i);
    snprintf(b + o, cap - o, "Content-Length: 2\r\n\r\nZZ");
    return b;
}

static void test_max_headers(void **st)
{
    (void)st;
    size_t ns[] = { 100, TS_SIP_MAX_HEADERS - 1, TS_SIP_MAX_HEADERS, TS_SIP_MAX_HEADERS + 1,
                    TS_SIP_MAX_HEADERS * 4 };
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        char *b = build_hdrs(ns[k]);
        assert_int_equal(P(b, true), SIP_OK);
        bool over = ns[k] > TS_SIP_MAX_HEADERS;
        assert_int_equal(M.nhdrs, over ? TS_SIP_MAX_HEADERS : ns[k]);
        assert_int_equal(!!(M.flags & SIP_F_TOO_MANY_HDRS), over);
        /* essentials after the cap are still honoured: the body is framed */
        assert_int_equal(M.content_length, 2);
        assert_true(EQS(M.body, "ZZ"));
        assert_int_equal(M.first[SIP_H_CONTENT_LENGTH] >= 0, !over);
        free(b);
    }
}

static void test_hdr_next_lists(void **st)
{
    (void)st;
    const char *msg =
        "SIP/2.0 401 Unauthorized\r\n"
        "Via: SIP/2.0/UDP p1.example;branch=z9hG4bKa, SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKb\r\n"
        "v: SIP/2.0/UDP 10.0.0.3;rport=5070;received=192.0.2.9;branch=z9hG4bKc\r\n"
        "From: <sip:a@a.example>;tag=1\r\n"
        "To: <sip:b@b.example>;tag=2\r\n"
        "Call-ID: lists\r\n"
        "CSeq: 2 REGISTER\r\n"
        "Contact: \"Doe, John\" <sip:j@h.example;x=\"a,b\">;expires=60, <sip:k,1@h.example>, *\r\n"
        "Record-Route: <sip:p1.example;lr>,<sip:p2.example;lr>\r\n"
        "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"
        "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=MD5\r\n"
        "Supported: ,, timer ,\r\n"
        "Content-Length: 0\r\n\r\n";
    assert_int_equal(P(msg, true), SIP_OK);
    assert_int_equal(M.flags & SIP_F_INVALID_MASK, 0);
    size_t it = 0;
    struct bv v;
    struct sip_via via;
    const char *hosts[] = { "p1.example", "2001:db8::1", "10.0.0.3" };
    for (int i = 0; i < 3; i++) {
        assert_true(sip_hdr_next(&M, SIP_H_VIA, &it, &v));
        assert_true(sip_via_parse(v, &via));
        assert_true(EQS(via.host, hosts[i]));
    }
    assert_false(sip_hdr_next(&M, SIP_H_VIA, &it, &v));
    assert_false(sip_hdr_next(&M, SIP_H_VIA, &it, &v)); /* stays done */

    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_CONTACT, &it, &v));
    assert_true(EQS(v, "\"Doe, John\" <sip:j@h.example;x=\"a,b\">;expires=60"));
    assert_true(sip_hdr_next(&M, SIP_H_CONTACT, &it, &v));
    assert_true(EQS(v, "<sip:k,1@h.example>"));
    assert_true(sip_hdr_next(&M, SIP_H_CONTACT, &it, &v));
    assert_true(EQS(v, "*"));
    assert_false(sip_hdr_next(&M, SIP_H_CONTACT, &it, &v));

    it = 0;
    int n = 0;
    while (sip_hdr_next(&M, SIP_H_RECORD_ROUTE, &it, &v))
        n++;
    assert_int_equal(n, 2);
    /* not split: Date, WWW-Authenticate */
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_DATE, &it, &v));
    assert_true(EQS(v, "Sat, 13 Nov 2010 23:29:00 GMT"));
    assert_false(sip_hdr_next(&M, SIP_H_DATE, &it, &v));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_WWW_AUTHENTICATE, &it, &v));
    assert_true(EQS(v, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5"));
    assert_false(sip_hdr_next(&M, SIP_H_WWW_AUTHENTICATE, &it, &v));
    /* empty elements skipped */
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_SUPPORTED, &it, &v));
    assert_true(EQS(v, "timer"));
    assert_false(sip_hdr_next(&M, SIP_H_SUPPORTED, &it, &v));
    /* absent and out of range ids */
    it = 0;
    assert_false(sip_hdr_next(&M, SIP_H_REASON, &it, &v));
    it = 0;
    assert_false(sip_hdr_next(&M, SIP_H_COUNT, &it, &v));
    assert_int_equal(sip_hdr_get(&M, "X-Absent").len, 0);
    assert_true(EQS(sip_hdr_get(&M, "via"), "SIP/2.0/UDP p1.example;branch=z9hG4bKa"));
}

static void test_hdr_get_unknown(void **st)
{
    (void)st;
    assert_int_equal(P("INVITE sip:b@b.example SIP/2.0\r\n" HDRS_MIN
                       "X-CID: first\r\nx-cid: second\r\nX-Other: o\r\nl: 0\r\n\r\n", true), SIP_OK);
    assert_true(EQS(sip_hdr_get(&M, "X-CID"), "first"));
    assert_true(EQS(sip_hdr_get(&M, "x-other"), "o"));
    assert_int_equal(sip_hdr_get(&M, "X-CI").len, 0);
}

static void test_uri_parse(void **st)
{
    (void)st;
    struct sip_uri u;
    assert_true(sip_uri_parse(BV_LIT("sip:alice:secret@atlanta.example:5070;transport=tcp;lr?subject=x&a=b"), &u));
    assert_true(EQS(u.scheme, "sip"));
    assert_true(EQS(u.user, "alice"));
    assert_true(EQS(u.password, "secret"));
    assert_true(EQS(u.host, "atlanta.example"));
    assert_int_equal(u.port, 5070);
    assert_true(EQS(u.params, ";transport=tcp;lr"));
    assert_true(EQS(u.headers, "subject=x&a=b"));
    struct bv pv;
    assert_true(sip_param_get(u.params, "TRANSPORT", &pv));
    assert_true(EQS(pv, "tcp"));
    assert_true(sip_param_get(u.params, "lr", &pv));
    assert_int_equal(pv.len, 0);
    assert_false(sip_param_get(u.params, "l", &pv));

    assert_true(sip_uri_parse(BV_LIT("sips:[2001:db8::5]:5061"), &u));
    assert_true(EQS(u.host, "2001:db8::5"));
    assert_int_equal(u.port, 5061);
    assert_int_equal(u.user.len, 0);
    assert_true(sip_uri_parse(BV_LIT("SIP:10.1.2.3"), &u));
    assert_true(EQS(u.host, "10.1.2.3"));
    assert_int_equal(u.port, 0);
    /* user with ';' and '?' (RFC 4475 semiuri, intmeth): the first '@' ends it */
    assert_true(sip_uri_parse(BV_LIT("sip:user;par=u%40example.net@example.com"), &u));
    assert_true(EQS(u.user, "user;par=u%40example.net"));
    assert_true(EQS(u.host, "example.com"));
    assert_true(sip_uri_parse(BV_LIT("sip:a?,/;;*:p$w@example.com"), &u));
    assert_true(EQS(u.user, "a?,/;;*"));
    assert_true(EQS(u.password, "p$w"));
    assert_int_equal(u.headers.len, 0);
    assert_true(sip_uri_parse(BV_LIT("tel:+1-201-555-0123;phone-context=example.com"), &u));
    assert_true(EQS(u.user, "+1-201-555-0123"));
    assert_true(EQS(u.params, ";phone-context=example.com"));
    assert_int_equal(u.host.len, 0);
    assert_true(sip_uri_parse(BV_LIT("soap.beep://192.0.2.103:3002"), &u));
    assert_true(EQS(u.scheme, "soap.beep"));
    assert_true(EQS(u.host, "192.0.2.103"));
    assert_int_equal(u.port, 3002);
    assert_true(sip_uri_parse(BV_LIT("urn:service:sos"), &u));
    assert_true(EQS(u.opaque, "service:sos"));
    assert_int_equal(u.host.len, 0);

    static const char *bad[] = {
        "", ":x", "sip:", "sip:@host", "sip:a@", "sip:a@b:0", "sip:a@b:65536", "sip:a@b:port",
        "sip:a@[2001:db8::1", "sip:a@b c", "<sip:a@b>", "1sip:a@b", "sip:a@b\r\n", "tel:",
        "sip:a@b]x", "sip:a@h/st",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sip_uri_parse(bv_cstr(bad[i]), &u))
            fail_msg("accepted bad URI '%s'", bad[i]);
    assert_true(sip_uri_parse(BV_LIT("sip:a@b:65535"), &u));
    assert_int_equal(u.port, 65535);
}

static void test_params(void **st)
{
    (void)st;
    struct bv v;
    struct bv p = BV_LIT(" ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33;text=\"a;b \\\" c\"");
    assert_true(sip_param_get(p, "newparam", &v));
    assert_true(EQS(v, "newvalue"));
    assert_true(sip_param_get(p, "SecondParam", &v));
    assert_int_equal(v.len, 0);
    assert_true(sip_param_get(p, "q", &v));
    assert_true(EQS(v, "0.33"));
    assert_true(sip_param_get(p, "text", &v));
    assert_true(EQS(v, "a;b \\\" c"));
    assert_false(sip_param_get(p, "b", &v));
    assert_false(sip_param_get(BV_NULL, "x", &v));
    assert_true(sip_param_get(BV_LIT("a=1"), "a", &v)); /* no leading ';' */
    assert_true(EQS(v, "1"));
}

static void test_nameaddr(void **st)
{
    (void)st;
    struct sip_nameaddr na;
    assert_true(sip_nameaddr_parse(BV_LIT("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8"), &na));
    assert_true(EQS(na.display, "J Rosenberg \\\\\\\""));
    assert_true(EQS(na.uri, "sip:jdrosen@example.com"));
    assert_true(EQS(na.tag, "98asjd8"));
    assert_true(EQS(na.u.user, "jdrosen"));
    assert_true(sip_nameaddr_parse(BV_LIT("caller<sip:caller@example.com>;tag=323"), &na));
    assert_true(EQS(na.display, "caller"));
    assert_true(EQS(na.tag, "323"));
    assert_true(sip_nameaddr_parse(BV_LIT("token1~` token2'+_ <sip:m@example.com>"), &na));
    assert_true(EQS(na.display, "token1~` token2'+_"));
    assert_true(sip_nameaddr_parse(BV_LIT("<sip:+15551234567@gw.example;user=phone>;tag=a;x"), &na));
    assert_int_equal(na.display.len, 0);
    assert_true(EQS(na.u.params, ";user=phone"));
    assert_true(EQS(na.params, ";tag=a;x"));
    /* bare addr-spec: parameters belong to the header */
    assert_true(sip_nameaddr_parse(BV_LIT("sip:+19725552222@gw1.example.net;unknownparam;tag=77"), &na));
    assert_true(EQS(na.uri, "sip:+19725552222@gw1.example.net"));
    assert_true(EQS(na.params, ";unknownparam;tag=77"));
    assert_true(EQS(na.tag, "77"));
    assert_int_equal(na.u.params.len, 0);
    assert_true(sip_nameaddr_parse(BV_LIT("<tel:+4930123>"), &na));
    assert_true(EQS(na.u.user, "+4930123"));
    assert_true(sip_nameaddr_parse(BV_LIT("\"\" <sip:anonymous@anonymous.invalid>"), &na));
    assert_int_equal(na.display.len, 0);

    static const char *bad[] = {
        "\"Mr. J. User <sip:j.user@example.com>",          /* unterminated quote */
        "\"Watson, Thomas\" < sip:t.watson@example.org >", /* LWS inside <> */
        "Bell, Alexander <sip:a.g.bell@example.com>;tag=43", /* comma in token display */
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E", /* '?' in addr-spec */
        "\"Joe\" <sip:joe@example.org>;;;;",                 /* empty parameters */
        "<sip:a@b.example", "<>", "", "   ", "\"x\" sip:a@b", "<sip:a@b> junk",
        "<sip:a@b>;tag=", "<sip:a@b>;t@g=1", "<sip:a@b>;p=\"unterminated",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sip_nameaddr_parse(bv_cstr(bad[i]), &na))
            fail_msg("accepted bad name-addr '%s'", bad[i]);
}

static void test_via(void **st)
{
    (void)st;
    struct sip_via v;
    assert_true(sip_via_parse(BV_LIT("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776;received=192.0.2.1;rport=5062"), &v));
    assert_true(EQS(v.transport, "UDP"));
    assert_true(EQS(v.host, "10.0.0.1"));
    assert_int_equal(v.port, 5060);
    assert_true(EQS(v.branch, "z9hG4bK776"));
    assert_true(EQS(v.received, "192.0.2.1"));
    assert_true(v.has_rport);
    assert_true(EQS(v.rport, "5062"));
    assert_true(sip_via_parse(BV_LIT("SIP/2.0/TLS client.example;rport;branch=z9hG4bKx"), &v));
    assert_true(v.has_rport);
    assert_int_equal(v.rport.len, 0);
    assert_int_equal(v.port, 0);
    assert_true(sip_via_parse(BV_LIT("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8"), &v));
    assert_true(EQS(v.transport, "TCP"));
    assert_true(EQS(v.host, "spindle.example.com"));
    assert_true(EQS(v.branch, "z9hG4bK9ikj8"));
    assert_true(sip_via_parse(BV_LIT("SIP/2.0/WSS [2001:db8::9]:443;branch=z9hG4bKw;received=[2001:db8::10]"), &v));
    assert_true(EQS(v.host, "2001:db8::9"));
    assert_int_equal(v.port, 443);
    assert_true(EQS(v.received, "[2001:db8::10]"));
    assert_true(sip_via_parse(BV_LIT("SIP/2.0/UDP host.example : 5080"), &v));
    assert_int_equal(v.port, 5080);
    assert_false(v.has_rport);
    assert_int_equal(v.branch.len, 0);

    static const char *bad[] = {
        "", "SIP/2.0", "SIP/2.0/UDP", "SIP/2.0/UDP ", "SIP/2.0 UDP host", "HTTP/1.1/TCP host",
        "SIP/2.0/UDP 192.0.2.15;;", "SIP/2.0/UDP host:99999", "SIP/2.0/UDP host junk",
        "SIP/2.0/UDP [::1", "SIP/2.0/UDP host;branch=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sip_via_parse(bv_cstr(bad[i]), &v))
            fail_msg("accepted bad Via '%s'", bad[i]);
}

static void test_reason_session_cseq(void **st)
{
    (void)st;
    struct sip_reason r;
    assert_true(sip_reason_parse(BV_LIT("Q.850;cause=16;text=\"Normal call clearing\""), &r));
    assert_true(EQS(r.protocol, "Q.850"));
    assert_int_equal(r.cause, 16);
    assert_true(EQS(r.text, "Normal call clearing"));
    assert_true(sip_reason_parse(BV_LIT("SIP ;cause=200 ;text=\"Call completed elsewhere\""), &r));
    assert_true(EQS(r.protocol, "SIP"));
    assert_int_equal(r.cause, 200);
    assert_true(sip_reason_parse(BV_LIT("preemption"), &r));
    assert_int_equal(r.cause, 0);
    assert_int_equal(r.text.len, 0);
    assert_false(sip_reason_parse(BV_LIT(";cause=1"), &r));
    assert_false(sip_reason_parse(BV_LIT("Q.850;cause=abc"), &r));
    assert_false(sip_reason_parse(BV_LIT("Q.850 x"), &r));

    struct bv l, rem;
    assert_true(sip_session_id_parse(BV_LIT("ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2"), &l, &rem));
    assert_true(EQS(l, "ab30317f1a784dc48ff824d0d3715d86"));
    assert_true(EQS(rem, "47755a9de7794ba387653f2099600ef2"));
    assert_true(sip_session_id_parse(BV_LIT(" 00000000000000000000000000000000 "), &l, &rem));
    assert_int_equal(rem.len, 0);
    assert_false(sip_session_id_parse(BV_LIT("ab30317f1a784dc48ff824d0d3715d8"), &l, &rem));   /* 31 */
    assert_false(sip_session_id_parse(BV_LIT("ab30317f1a784dc48ff824d0d3715d866"), &l, &rem)); /* 33 */
    assert_false(sip_session_id_parse(BV_LIT("zb30317f1a784dc48ff824d0d3715d86"), &l, &rem));
    assert_false(sip_session_id_parse(BV_LIT("ab30317f1a784dc48ff824d0d3715d86;remote=123"), &l, &rem));

    uint32_t seq;
    struct bv meth;
    assert_true(sip_cseq_parse(BV_LIT("0009\r\n  INVITE"), &seq, &meth));
    assert_int_equal(seq, 9);
    assert_true(EQS(meth, "INVITE"));
    assert_true(sip_cseq_parse(BV_LIT("4294967295 ACK"), &seq, &meth));
    assert_int_equal(seq, 4294967295u);
    assert_false(sip_cseq_parse(BV_LIT("4294967296 ACK"), &seq, &meth));
    assert_false(sip_cseq_parse(BV_LIT("36893488147419103232 REGISTER"), &seq, &meth));
    assert_false(sip_cseq_parse(BV_LIT("1INVITE"), &seq, &meth));
    assert_false(sip_cseq_parse(BV_LIT("1 INVITE x"), &seq, &meth));
    assert_false(sip_cseq_parse(BV_LIT("-1 INVITE"), &seq, &meth));
    assert_false(sip_cseq_parse(BV_LIT(""), &seq, &meth));
}

static void test_methods(void **st)
{
    (void)st;
    for (int m = 1; m < SIP_M_COUNT; m++)
        assert_int_equal(sip_method_from(bv_cstr(sip_method_name((enum sip_method)m))), m);
    assert_int_equal(sip_method_from(BV_LIT("invite")), SIP_M_UNKNOWN); /* case-sensitive */
    assert_int_equal(sip_method_from(BV_LIT("INVITEX")), SIP_M_UNKNOWN);
    assert_int_equal(sip_method_from(BV_NULL), SIP_M_UNKNOWN);
    assert_string_equal(sip_method_name((enum sip_method)99), "UNKNOWN");
}

static void test_looks_like(void **st)
{
    (void)st;
    assert_true(sip_looks_like(BV_LIT("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n")));
    assert_true(sip_looks_like(BV_LIT("SIP/2.0 200 OK\r\n")));
    assert_true(sip_looks_like(BV_LIT("SIP/2.0 100\r\n")));
    assert_true(sip_looks_like(BV_LIT("OPTIONS sip:x SIP/2.0")));
    assert_true(sip_looks_like(BV_LIT("FOO x SIP/3.1\n")));
    assert_false(sip_looks_like(BV_LIT("GET / HTTP/1.1\r\n")));
    assert_false(sip_looks_like(BV_LIT("SIP/2.0 20 OK\r\n")));
    assert_false(sip_looks_like(BV_LIT("SIP/2.0 2000 OK\r\n")));
    assert_false(sip_looks_like(BV_LIT("INVITE sip:a@b\r\n")));
    assert_false(sip_looks_like(BV_LIT("INVITE sip:a@b SIP/2.\r\n")));
    assert_false(sip_looks_like(BV_LIT("\x80\x00\x12\x34 RTP")));
    assert_false(sip_looks_like(BV_LIT("")));
    assert_false(sip_looks_like(BV_LIT("\r\n\r\n")));
    assert_false(sip_looks_like(BV_LIT("INVITE SIP/2.0\r\n")));
    assert_int_equal(sip_start_line(BV_LIT("INV"), false), SIP_START_MAYBE);
    assert_int_equal(sip_start_line(BV_LIT("SI"), false), SIP_START_MAYBE);
    assert_int_equal(sip_start_line(BV_LIT("SUB"), false), SIP_START_MAYBE);
    assert_int_equal(sip_start_line(BV_LIT("SIP/2.0 2"), false), SIP_START_MAYBE);
    assert_int_equal(sip_start_line(BV_LIT("INVITE sip:a@b SIP/2"), false), SIP_START_MAYBE);
    assert_int_equal(sip_start_line(BV_LIT("INV\x01"), false), SIP_START_NO);
    assert_int_equal(sip_start_line(BV_LIT("SIP/2.0 200 OK\r\n"), false), SIP_START_YES);
    /* a first byte that no start line has says no at once; line ends do not */
    assert_int_equal(sip_start_line(BV_LIT("\x80INVITE sip:a@b SIP/2.0\r\n"), true), SIP_START_NO);
    assert_int_equal(sip_start_line(BV_LIT(" INVITE sip:a@b SIP/2.0\r\n"), false), SIP_START_NO);
    assert_int_equal(sip_start_line(BV_LIT("\x80"), false), SIP_START_NO);
    assert_int_equal(sip_start_line(BV_LIT("\r"), false), SIP_START_MAYBE);
    assert_int_equal(sip_start_line(BV_LIT("\n"), false), SIP_START_NO);
}

/* Real capture: zeek's long request/response paths, ~9.5 KB messages with ten
 * ~950-byte Via hosts. Raw-IPv4 pcap (linktype 228): walk records by hand. */
/* The read-ahead Call-ID agrees with the parser's on ordinary messages and
 * finds nothing in a body or past a cut-off header block. */
static void test_callid_peek(void **st)
{
    (void)st;
    static const char *const msgs[] = {
        "INVITE sip:b@b SIP/2.0\r\n" HDRS_MIN "Content-Length: 0\r\n\r\n",
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nFrom: <sip:a@a>;tag=1\r\n"
        "To: <sip:b@b>;tag=2\r\ni:  compact@x \r\nCSeq: 1 INVITE\r\n\r\n",
        "BYE sip:b@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\nFrom: <sip:a@a>;tag=1\n"
        "To: <sip:b@b>;tag=2\ncall-id\t:lower@case\nCSeq: 2 BYE\n\n",
    };
    static const char *const want[] = { "abc123@10.0.0.1", "compact@x", "lower@case" };
    for (size_t i = 0; i < 3; i++) {
        struct sip_msg m;
        assert_int_equal(sip_parse((const uint8_t *)msgs[i], strlen(msgs[i]), false, &m), SIP_OK);
        struct bv v = sip_callid_peek(bv_cstr(msgs[i]));
        assert_true(EQS(v, want[i]));
        assert_true(bv_eq(v, m.call_id));
    }
    /* in the body only; headers cut before it; a header merely containing it */
    assert_null(sip_callid_peek(BV_LIT("MESSAGE sip:b SIP/2.0\r\nCSeq: 1 MESSAGE\r\n\r\n"
                                       "Call-ID: body@x\r\n")).p);
    assert_null(sip_callid_peek(BV_LIT("INVITE sip:b SIP/2.0\r\nCall-ID: cut@x")).p);
    assert_null(sip_callid_peek(BV_LIT("INVITE sip:b SIP/2.0\r\nX-Call-ID: other@x\r\n")).p);
    assert_null(sip_callid_peek(BV_LIT("")).p);
}

static void test_zeek_long_paths(void **st)
{
    (void)st;
    FILE *f = fopen(TS_SHARED_DIR "/pcaps/zeek_sip-long-request-response-paths.pcap", "rb");
    if (!f)
        skip();
    static uint8_t file[1 << 16];
    size_t n = fread(file, 1, sizeof(file), f);
    fclose(f);
    struct bv in = bv_make(file, n), rec;
    assert_true(bv_skip(&in, 24));
    int msgs = 0;
    uint32_t caplen;
    while (bv_skip(&in, 8) && bv_le32(&in, &caplen) && bv_skip(&in, 4) && bv_take(&in, caplen, &rec)) {
        uint8_t vihl;
        assert_true(bv_peek_u8(rec, 0, &vihl));
        struct bv udp = bv_from(rec, (size_t)(vihl & 15) * 4 + 8);
        assert_true(sip_looks_like(udp));
        assert_int_equal(sip_parse(udp.p, udp.len, false, &M), SIP_OK);
        assert_int_equal(M.flags & SIP_F_INVALID_MASK, 0);
        assert_true(M.msg_len > 9000);
        size_t it = 0, vias = 0;
        struct bv v;
        struct sip_via via;
        while (sip_hdr_next(&M, SIP_H_VIA, &it, &v)) {
            assert_true(sip_via_parse(v, &via));
            assert_true(via.host.len > 900);
            vias++;
        }
        assert_int_equal(vias, 10);
        msgs++;
    }
    assert_int_equal(msgs, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_basic),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_start_line_errors),
        cmocka_unit_test(test_compact_forms),
        cmocka_unit_test(test_folding_and_lws),
        cmocka_unit_test(test_lf_only),
        cmocka_unit_test(test_truncated_and_bad_lines),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_max_headers),
        cmocka_unit_test(test_hdr_next_lists),
        cmocka_unit_test(test_hdr_get_unknown),
        cmocka_unit_test(test_uri_parse),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_nameaddr),
        cmocka_unit_test(test_via),
        cmocka_unit_test(test_reason_session_cseq),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_looks_like),
        cmocka_unit_test(test_callid_peek),
        cmocka_unit_test(test_zeek_long_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
