/* RFC 4475 torture messages through the SIP parser, the datagram splitter and
 * the stream framer: a verdict per file, specific facts for the tricky ones,
 * and every prefix of every message under the sanitizers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/sip.h"
#include "../../dissect/sipframe.h"

#define DIR TS_SHARED_DIR "/sip-torture/"

enum cls { VALID, INVALID, OTHER }; /* RFC 4475 3.1.1 / 3.1.2 / 3.2-3.4 */

/* Verdict of sip_parse(stream=false) and the exact flags it must set. */
static const struct case_ {
    const char *name;
    enum cls cls;
    enum sip_result r;
    uint32_t flags;
} cases[] = {
    /* 3.1.1 valid */
    { "wsinv", VALID, SIP_OK, 0 },
    { "intmeth", VALID, SIP_OK, 0 },
    { "esc01", VALID, SIP_OK, 0 },
    { "escnull", VALID, SIP_OK, 0 },
    { "esc02", VALID, SIP_OK, 0 },
    { "lwsdisp", VALID, SIP_OK, 0 },
    { "longreq", VALID, SIP_OK, 0 },
    { "dblreq", VALID, SIP_OK, 0 },
    { "semiuri", VALID, SIP_OK, 0 },
    { "transports", VALID, SIP_OK, 0 },
    { "mpart01", VALID, SIP_OK, 0 },
    { "unreason", VALID, SIP_OK, 0 },
    { "noreason", VALID, SIP_OK, 0 },
    /* 3.1.2 invalid: rejected or flagged */
    { "badinv01", INVALID, SIP_OK, SIP_F_BAD_HEADER },     /* empty Via/Contact params */
    { "clerr", INVALID, SIP_TRUNCATED, SIP_F_CL_MISMATCH }, /* CL 9999 */
    { "ncl", INVALID, SIP_OK, SIP_F_CL_INVALID },           /* CL -999 */
    { "scalar02", INVALID, SIP_MALFORMED, 0 },              /* CSeq 2^65 */
    { "scalarlg", INVALID, SIP_MALFORMED, 0 },              /* CSeq overflow */
    { "quotbal", INVALID, SIP_OK, SIP_F_BAD_HEADER },       /* unterminated quote in To */
    { "ltgtruri", INVALID, SIP_OK, SIP_F_BAD_URI },         /* <> around the R-URI */
    { "lwsruri", INVALID, SIP_MALFORMED, 0 },
    { "lwsstart", INVALID, SIP_MALFORMED, 0 },
    { "trws", INVALID, SIP_MALFORMED, 0 },
    { "escruri", INVALID, SIP_OK, SIP_F_BAD_URI },          /* headers in the R-URI */
    { "baddate", INVALID, SIP_OK, SIP_F_BAD_HEADER },       /* EST, not GMT */
    { "regbadct", INVALID, SIP_OK, SIP_F_BAD_HEADER },      /* '?' in a bare addr-spec */
    { "badaspec", INVALID, SIP_OK, SIP_F_BAD_HEADER },      /* LWS inside <> */
    { "baddn", INVALID, SIP_TRUNCATED, SIP_F_BAD_HEADER },  /* no empty line; comma display */
    { "badvers", INVALID, SIP_UNSUPPORTED, 0 },
    { "mismatch01", INVALID, SIP_OK, SIP_F_CSEQ_MISMATCH },
    { "mismatch02", INVALID, SIP_OK, SIP_F_CSEQ_MISMATCH },
    { "bigcode", INVALID, SIP_MALFORMED, 0 },
    /* 3.2 - 3.4: parseable */
    { "badbranch", OTHER, SIP_OK, 0 },
    { "insuf", OTHER, SIP_OK, SIP_F_MISSING_HDR },
    { "unkscm", OTHER, SIP_OK, 0 },
    { "novelsc", OTHER, SIP_OK, 0 },
    { "unksm2", OTHER, SIP_OK, 0 },
    { "bext01", OTHER, SIP_OK, 0 },
    { "invut", OTHER, SIP_OK, 0 },
    { "regaut01", OTHER, SIP_OK, 0 },
    { "multi01", OTHER, SIP_OK, SIP_F_DUP_SINGLE },
    { "mcl01", OTHER, SIP_OK, SIP_F_CL_INVALID },
    { "bcast", OTHER, SIP_OK, 0 },
    { "zeromf", OTHER, SIP_OK, 0 },
    { "cparam01", OTHER, SIP_OK, 0 },
    { "cparam02", OTHER, SIP_OK, 0 },
    { "regescrt", OTHER, SIP_OK, 0 },
    { "sdp01", OTHER, SIP_OK, 0 },
    { "inv2543", OTHER, SIP_OK, SIP_F_NO_CL },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static struct sip_msg M;

/* Whole file in an exact-size heap block, so ASan sees any over-read. */
static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), DIR "%s.dat", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t tmp[8192];
    size_t n = fread(tmp, 1, sizeof(tmp), f);
    fclose(f);
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    memcpy(b, tmp, n);
    *len = n;
    return b;
}

static bool EQS(struct bv b, const char *s) { return bv_eq_cstr(b, s); }

static void test_verdicts(void **st)
{
    (void)st;
    assert_int_equal(NCASES, 49);
    for (size_t i = 0; i < NCASES; i++) {
        const struct case_ *c = &cases[i];
        size_t n;
        uint8_t *b = load(c->name, &n);
        enum sip_result r = sip_parse(b, n, false, &M);
        if (r != c->r || M.flags != c->flags)
            fail_msg("%s: verdict %d flags 0x%x, want %d flags 0x%x", c->name, (int)r, M.flags,
                     (int)c->r, c->flags);
        if (c->cls == VALID && (r != SIP_OK || (M.flags & SIP_F_INVALID_MASK)))
            fail_msg("%s: valid message not accepted cleanly", c->name);
        if (c->cls == INVALID && r == SIP_OK && !(M.flags & SIP_F_INVALID_MASK))
            fail_msg("%s: invalid message neither rejected nor flagged", c->name);
        if (c->cls == OTHER && r != SIP_OK)
            fail_msg("%s: must parse", c->name);
        free(b);
    }
}

static void test_wsinv(void **st)
{
    (void)st;
    size_t n;
    uint8_t *b = load("wsinv", &n);
    assert_int_equal(sip_parse(b, n, true, &M), SIP_OK);
    assert_true(EQS(M.ruri, "sip:vivekg@chair-dnrc.example.com;unknownparam"));
    assert_true(EQS(M.call_id, "wsinv.ndaksdj@192.0.2.1"));
    assert_int_equal(M.cseq, 9);
    assert_int_equal(M.cseq_method, SIP_M_INVITE);
    assert_int_equal(M.body.len, 150);
    assert_int_equal(M.msg_len, n);
    assert_true(EQS(sip_hdr_get(&M, "max-forwards"), "0068"));
    assert_true(EQS(sip_hdr_get(&M, "Subject"), ""));   /* "s :" */
    assert_true(EQS(sip_hdr_get(&M, "NewFangledHeader"), "newfangled value\r\n continued newfangled value"));
    assert_true(EQS(sip_hdr_get(&M, "UnknownHeaderWithUnusualValue"), ";;,,;;,;"));

    struct bv v;
    struct sip_nameaddr na;
    size_t it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_TO, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.tag, "1918181833n"));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_FROM, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.display, "J Rosenberg \\\\\\\""));
    assert_true(EQS(na.tag, "98asjd8"));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_CONTACT, &it, &v)); /* "m:" */
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.display, "Quoted string \\\"\\\""));
    struct bv pv;
    assert_true(sip_param_get(na.params, "newparam", &pv));
    assert_true(EQS(pv, "newvalue"));
    assert_true(sip_param_get(na.params, "q", &pv));
    assert_true(EQS(pv, "0.33"));
    assert_true(sip_param_get(na.params, "secondparam", &pv));

    /* Via: one in "Via  :", two in "v:" */
    static const char *tr[] = { "UDP", "TCP", "UDP" };
    static const char *br[] = { "390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239" };
    struct sip_via via;
    it = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(sip_hdr_next(&M, SIP_H_VIA, &it, &v));
        assert_true(sip_via_parse(v, &via));
        assert_true(EQS(via.transport, tr[i]));
        assert_true(EQS(via.branch, br[i]));
    }
    assert_false(sip_hdr_next(&M, SIP_H_VIA, &it, &v));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_ROUTE, &it, &v));
    assert_true(EQS(v, "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"));
    free(b);
}

static void test_specific_facts(void **st)
{
    (void)st;
    size_t n, it;
    uint8_t *b;
    struct bv v;
    struct sip_nameaddr na;

    b = load("escnull", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_TO, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.u.user, "null-%00-null"));
    it = 0;
    int contacts = 0;
    while (sip_hdr_next(&M, SIP_H_CONTACT, &it, &v))
        contacts++;
    assert_int_equal(contacts, 2);
    assert_int_equal(M.content_length, 0); /* "L:0" */
    free(b);

    b = load("longreq", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_TO, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(na.display.len > 90);
    assert_true(EQS(na.u.host, "example.com"));
    assert_int_equal(na.u.port, 6000);
    it = 0;
    int vias = 0;
    struct sip_via via;
    while (sip_hdr_next(&M, SIP_H_VIA, &it, &v)) {
        assert_true(sip_via_parse(v, &via));
        vias++;
    }
    assert_int_equal(vias, 34);
    assert_int_equal(M.body.len, 150);
    free(b);

    /* dblreq: the REGISTER ends at its Content-Length; the INVITE after it is
     * another message for the splitter, never part of the REGISTER */
    b = load("dblreq", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    assert_int_equal(M.method, SIP_M_REGISTER);
    assert_int_equal(M.body.len, 0);
    assert_int_equal(M.msg_len, 300);
    assert_true(M.msg_len < n);
    struct bv msgs[4];
    assert_int_equal(sip_datagram_split(bv_make(b, n), msgs, 4), 2);
    assert_int_equal(msgs[0].len, 300);
    assert_true(bv_starts_with(msgs[1], "INVITE sip:"));
    assert_int_equal(sip_parse(msgs[1].p, msgs[1].len, false, &M), SIP_OK);
    assert_int_equal(M.method, SIP_M_INVITE);
    assert_int_equal(sip_datagram_split(bv_make(b, n), msgs, 1), 1);
    free(b);

    b = load("mpart01", &n);
    assert_int_equal(sip_parse(b, n, true, &M), SIP_OK);
    assert_int_equal(M.body.len, 553);
    assert_int_equal(M.msg_len, n);
    assert_true(EQS(sip_hdr_get(&M, "Content-Type"), "multipart/mixed;boundary=7a9cbec02ceef655"));
    assert_true(EQS(sip_hdr_get(&M, "Content-Length"), "553"));
    free(b);

    b = load("unreason", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    assert_int_equal(M.status, 200);
    assert_true(bv_starts_with(M.reason_phrase, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe"));
    assert_true(M.reason_phrase.len > 60);
    free(b);

    b = load("noreason", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    assert_int_equal(M.status, 100);
    assert_int_equal(M.reason_phrase.len, 0);
    free(b);

    b = load("intmeth", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    assert_true(EQS(M.method_str, "!interesting-Method0123456789_*+`.%indeed'~"));
    assert_int_equal(M.method, SIP_M_UNKNOWN);
    assert_true(bv_eq(M.method_str, M.cseq_method_str));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_TO, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_int_equal(na.display.len, 20); /* BEL:\<07> NUL:\<00> DEL:\<7f> */
    assert_true(EQS(na.u.password, ""));
    it = 0;
    assert_true(sip_hdr_next(&M, SIP_H_FROM, &it, &v));
    assert_true(sip_nameaddr_parse(v, &na));
    assert_true(EQS(na.tag, "_token~1'+`*%!-."));
    free(b);

    b = load("esc02", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    it = 0;
    contacts = 0;
    while (sip_hdr_next(&M, SIP_H_CONTACT, &it, &v))
        contacts++;
    assert_int_equal(contacts, 2); /* "C%6Fntact" is another header */
    assert_true(EQS(sip_hdr_get(&M, "C%6Fntact"), "<sip:alias2@host2.example.com>"));
    free(b);

    b = load("transports", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    static const char *tr[] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
    it = 0;
    for (int i = 0; i < 5; i++) {
        assert_true(sip_hdr_next(&M, SIP_H_VIA, &it, &v));
        assert_true(sip_via_parse(v, &via));
        assert_true(EQS(via.transport, tr[i]));
    }
    free(b);

    b = load("clerr", &n);
    assert_int_equal(sip_parse(b, n, true, &M), SIP_TRUNCATED);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_TRUNCATED);
    assert_int_equal(M.content_length, 9999);
    free(b);

    b = load("mcl01", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    assert_int_equal(M.content_length, -1);
    assert_int_equal(M.body.len, 67);
    free(b);

    b = load("inv2543", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_OK);
    assert_int_equal(M.body.len, 105);
    free(b);

    b = load("badvers", &n);
    assert_int_equal(sip_parse(b, n, false, &M), SIP_UNSUPPORTED);
    assert_true(EQS(M.version, "SIP/7.0"));
    free(b);
}

static void collect(void *ctx, struct bv m)
{
    size_t *total = ctx;
    *total += m.len;
}

/* Exercise every reader on a parsed message (crash hunting). */
static void read_all(const struct sip_msg *m)
{
    for (int id = 1; id < SIP_H_COUNT; id++) {
        size_t it = 0;
        struct bv v;
        while (sip_hdr_next(m, (enum sip_hdr_id)id, &it, &v)) {
            struct sip_nameaddr na;
            struct sip_via via;
            struct sip_reason r;
            struct bv l, rem, meth;
            uint32_t seq;
            (void)sip_nameaddr_parse(v, &na);
            (void)sip_via_parse(v, &via);
            (void)sip_reason_parse(v, &r);
            (void)sip_session_id_parse(v, &l, &rem);
            (void)sip_cseq_parse(v, &seq, &meth);
        }
    }
    struct sip_uri u;
    (void)sip_uri_parse(m->ruri, &u);
    (void)sip_hdr_get(m, "X-Anything");
}

static void test_every_prefix(void **st)
{
    (void)st;
    for (size_t i = 0; i < NCASES; i++) {
        size_t n;
        uint8_t *full = load(cases[i].name, &n);
        size_t full_len = 0;
        bool framed = cases[i].cls == VALID &&
                      sip_parse(full, n, true, &M) == SIP_OK;
        if (framed)
            full_len = M.msg_len;
        for (size_t k = 0; k <= n; k++) {
            uint8_t *p = malloc(k ? k : 1);
            assert_non_null(p);
            memcpy(p, full, k);
            for (int stream = 0; stream < 2; stream++) {
                enum sip_result r = sip_parse(p, k, stream, &M);
                if (r == SIP_OK) {
                    assert_true(M.msg_len <= k);
                    read_all(&M);
                }
                /* a valid message cut short is incomplete, never invalid */
                if (stream && framed && k < full_len && r != SIP_TRUNCATED)
                    fail_msg("%s prefix %zu: verdict %d", cases[i].name, k, (int)r);
            }
            struct bv in = bv_make(p, k), msgs[4];
            size_t nm = sip_datagram_split(in, msgs, 4);
            assert_true(nm <= 4);
            size_t fn;
            enum sipf_result fr = sipf_frame(in, &fn);
            if (fr == SIPF_MSG || fr == SIPF_SKIP)
                assert_true(fn > 0 && fn <= k);
            if (framed && k < full_len)
                assert_int_equal(fr, SIPF_NEED_MORE);
            (void)sip_looks_like(in);
            free(p);
        }
        /* the whole file through the stream in two pieces at every cut */
        if (framed) {
            for (size_t cut = 0; cut <= n; cut += 7) {
                struct sip_stream s;
                struct ts_stats stt = { { 0 } };
                size_t total = 0;
                sip_stream_init(&s);
                sip_stream_feed(&s, bv_make(full, cut), collect, &total, &stt);
                sip_stream_feed(&s, bv_from(bv_make(full, n), cut), collect, &total, &stt);
                assert_true(total >= full_len);
                sip_stream_cleanup(&s);
            }
        }
        free(full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_wsinv),
        cmocka_unit_test(test_specific_facts),
        cmocka_unit_test(test_every_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
