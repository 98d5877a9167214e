/* Unit tests of the call tracker: dialogs, outcomes, retransmissions,
 * timeouts, correlation evidence, failure attribution, trunk KPIs, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../calls/calls.h"
#include "../../cli/report.h"
#include "../../common/hash.h"
#include "../../common/jsonw.h"

#define BASE_NS 1700000000000000000ull
#define MS 1000000ull

static struct sip_msg M;
static char BUF[8192];
static const char *SITE;   /* site of the sensor that sees the next messages (NULL: local) */

/* The report's JSON of the kept calls ('c'), trunks ('t') or registrations
 * ('r') as one array, written by the report module and parsed back: the
 * writer's output must be valid JSON. */
static json_t *report_json_array(const struct calls *c, char what)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct jsonw w;
    jsonw_init(&w, f, what == 't');
    jsonw_arr_begin(&w);
    size_t n = what == 'c' ? calls_count(c) : what == 't' ? calls_trunk_count(c) : calls_reg_count(c);
    for (size_t i = 0; i < n; i++) {
        if (what == 'c')
            report_put_call(&w, calls_get(c, i), NULL);
        else if (what == 't')
            report_put_trunk(&w, calls_trunk_get(c, i));
        else
            report_put_registration(&w, calls_reg_get(c, i));
    }
    jsonw_arr_end(&w);
    assert_int_equal(jsonw_finish(&w), JSONW_OK);
    fclose(f);
    json_error_t err;
    json_t *j = json_loadb(buf, len, 0, &err);
    free(buf);
    return j;
}

/* One message, written as text and parsed by the real parser. */
struct m {
    const char *method;   /* request method, NULL for a response */
    unsigned status;
    const char *reason;
    const char *ruri;     /* request-URI user */
    const char *cid;
    unsigned cseq;
    const char *cmeth;    /* CSeq method (default: method) */
    const char *from, *ftag, *to, *ttag;
    const char *branch;
    const char *extra;    /* extra header lines, CRLF terminated */
    const char *sdp;
};

static void addr_port(const char *s, struct ts_addr *a, uint16_t *port)
{
    char buf[80];
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strrchr(buf, ':');
    *port = 5060;
    if (colon && strchr(buf, '.')) {
        *colon = '\0';
        *port = (uint16_t)strtoul(colon + 1, NULL, 10);
    }
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, buf, a->a) == 1)
        a->family = 4;
    else if (inet_pton(AF_INET6, buf, a->a) == 1)
        a->family = 6;
    else
        fail_msg("bad address %s", s);
}

static void tx_send(struct calls *c, uint64_t t_ms, const char *src, const char *dst,
                 const struct m *x)
{
    const char *body = x->sdp ? x->sdp : "";
    int n;
    const char *cm = x->cmeth ? x->cmeth : x->method;
    if (x->method)
        n = snprintf(BUF, sizeof BUF, "%s sip:%s@example.net SIP/2.0\r\n", x->method,
                     x->ruri ? x->ruri : (x->to ? x->to : "x"));
    else
        n = snprintf(BUF, sizeof BUF, "SIP/2.0 %u %s\r\n", x->status,
                     x->reason ? x->reason : "Reason");
    n += snprintf(BUF + n, sizeof BUF - (size_t)n,
                  "Via: SIP/2.0/UDP host.example.net;branch=%s\r\n"
                  "From: <sip:%s@example.net>;tag=%s\r\n"
                  "To: <sip:%s@example.net>%s%s\r\n"
                  "Call-ID: %s\r\n"
                  "CSeq: %u %s\r\n"
                  "Max-Forwards: 70\r\n"
                  "%s%s"
                  "Content-Length: %zu\r\n\r\n%s",
                  x->branch ? x->branch : "z9hG4bK1", x->from ? x->from : "alice",
                  x->ftag ? x->ftag : "ft", x->to ? x->to : "bob", x->ttag ? ";tag=" : "",
                  x->ttag ? x->ttag : "", x->cid, x->cseq ? x->cseq : 1, cm ? cm : "INVITE",
                  x->extra ? x->extra : "",
                  x->sdp ? "Content-Type: application/sdp\r\n" : "", strlen(body), body);
    assert_true(n > 0 && (size_t)n < sizeof BUF);
    assert_int_equal(sip_parse((const uint8_t *)BUF, (size_t)n, false, &M), SIP_OK);
    struct pkt_meta pm;
    memset(&pm, 0, sizeof pm);
    pm.ts_ns = BASE_NS + t_ms * MS;
    pm.l4 = TS_L4_UDP;
    pm.ipver = 4;
    addr_port(src, &pm.src, &pm.sport);
    addr_port(dst, &pm.dst, &pm.dport);
    pm.site = SITE;
    calls_sip(c, &pm, &M);
}

#define TX(c, t, s, d, ...) tx_send((c), (t), (s), (d), &(struct m){ __VA_ARGS__ })

static const char *sdp(char *buf, size_t cap, const char *ip, unsigned port, const char *dir)
{
    snprintf(buf, cap,
             "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n",
             ip, ip, port, dir);
    return buf;
}

/* INVITE, 100, 180 (ring_ms, 0: none), 200 (ans_ms), ACK. */
static void setup_call(struct calls *c, uint64_t t, const char *cid, const char *a, const char *b,
                       const char *from, const char *to, uint64_t ring_ms, uint64_t ans_ms,
                       const char *extra)
{
    TX(c, t, a, b, .method = "INVITE", .cid = cid, .from = from, .to = to, .ruri = to,
       .extra = extra);
    TX(c, t + 5, b, a, .status = 100, .cid = cid, .from = from, .to = to, .cmeth = "INVITE");
    if (ring_ms)
        TX(c, t + ring_ms, b, a, .status = 180, .cid = cid, .from = from, .to = to,
           .ttag = "tt", .cmeth = "INVITE");
    TX(c, t + ans_ms, b, a, .status = 200, .reason = "OK", .cid = cid, .from = from, .to = to,
       .ttag = "tt", .cmeth = "INVITE");
    TX(c, t + ans_ms + 10, a, b, .method = "ACK", .cid = cid, .from = from, .to = to,
       .ttag = "tt", .branch = "z9hG4bKack");
}

/* BYE by the caller at t and its 200 20 ms later. */
static void bye_call(struct calls *c, uint64_t t, const char *cid, const char *a, const char *b,
                     const char *from, const char *to)
{
    TX(c, t, a, b, .method = "BYE", .cid = cid, .cseq = 2, .from = from, .to = to, .ttag = "tt",
       .branch = "z9hG4bKbye");
    TX(c, t + 20, b, a, .status = 200, .cid = cid, .cseq = 2, .cmeth = "BYE", .from = from,
       .to = to, .ttag = "tt", .branch = "z9hG4bKbye");
}

/* A whole answered call on one leg; BYE by the caller after dur_ms. */
static void answered_call(struct calls *c, uint64_t t, const char *cid, const char *a,
                          const char *b, const char *from, const char *to, uint64_t ring_ms,
                          uint64_t ans_ms, uint64_t dur_ms, const char *extra)
{
    setup_call(c, t, cid, a, b, from, to, ring_ms, ans_ms, extra);
    bye_call(c, t + ans_ms + dur_ms, cid, a, b, from, to);
}

static struct calls *mk(void)
{
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.learn_hold_legs = 0;   /* calls emitted as they end (the hold has its own test) */
    struct calls *c = calls_new(&cfg, NULL);
    assert_non_null(c);
    return c;
}

static const struct calls_call *only_call(const struct calls *c)
{
    assert_int_equal(calls_count(c), 1);
    return calls_get(c, 0);
}

/* Endpoint reports on a leg: X-RTP-Stat / P-RTP-Stat of the BYE (caller)
 * and of its 200 (callee), a vq-rtcpxr PUBLISH naming the leg's Call-ID;
 * at most TS_CALLS_MAX_EPQ are kept, the first ones. */
static void test_endpoint_reports(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *A = "10.0.0.1", *B = "10.0.0.2";
    setup_call(c, 0, "epq@x", A, B, "alice", "bob", 0, 100, NULL);
    static const char stats[] = "X-RTP-Stat: PS=500,PR=498,PL=2,JI=3,LA=40,EN=PCMU\r\n"
                                "P-RTP-Stat: PR=498,PL=2\r\n";
    TX(c, 5000, A, B, .method = "BYE", .cid = "epq@x", .cseq = 2, .from = "alice", .to = "bob",
       .ttag = "tt", .branch = "z9hG4bKbye", .extra = stats);              /* 2 reports */
    static const char vq[] = "VQSessionReport: CallTerm\r\nCallID: epq@x\r\nLocalMetrics:\r\n"
                             "QualityEst: MOSLQ=3.1\r\n";
    TX(c, 5010, A, "10.0.0.9", .method = "PUBLISH", .cid = "pub@x", .from = "alice",
       .to = "collector", .extra = "Content-Type: application/vq-rtcpxr\r\n", .sdp = vq);
    TX(c, 5011, A, "10.0.0.9", .method = "PUBLISH", .cid = "pub@x", .cseq = 2, .from = "alice",
       .to = "collector", .extra = "Content-Type: application/vq-rtcpxr\r\n", .sdp = vq);
    /* 3 (N - 1): the second PUBLISH replaced the first */
    TX(c, 5020, B, A, .status = 200, .cid = "epq@x", .cseq = 2, .cmeth = "BYE", .from = "alice",
       .to = "bob", .ttag = "tt", .branch = "z9hG4bKbye", .extra = stats); /* 4 (N), then N + 1 */
    TX(c, 5030, A, "10.0.0.9", .method = "PUBLISH", .cid = "pub2@x", .from = "alice",
       .to = "collector", .extra = "Content-Type: application/vq-rtcpxr\r\n",
       .sdp = "VQSessionReport: CallTerm\r\nCallID: nobody@x\r\nLocalMetrics:\r\n"
              "QualityEst: MOSLQ=3.1\r\n");
    calls_finish(c);
    const struct calls_leg *l = &only_call(c)->legs[0];
    assert_int_equal(TS_CALLS_MAX_EPQ, 4);
    assert_int_equal(l->nepq, 4);
    assert_int_equal(l->epq[0].source, CALLS_EPQ_X_RTP_STAT);
    assert_int_equal(l->epq[0].party, CALLS_PARTY_CALLER);
    assert_int_equal(l->epq[0].packets, 498);
    assert_int_equal(l->epq[0].lost, 2);
    assert_true(l->epq[0].loss_pct > 0.39 && l->epq[0].loss_pct < 0.41);
    assert_string_equal(l->epq[0].codec, "PCMU");
    assert_int_equal(l->epq[1].source, CALLS_EPQ_P_RTP_STAT);
    assert_int_equal(l->epq[2].source, CALLS_EPQ_VQ_RTCPXR);
    assert_int_equal(l->epq[2].party, CALLS_PARTY_NONE);
    assert_true(l->epq[2].mos_lq > 3.09 && l->epq[2].mos_lq < 3.11);
    assert_int_equal(l->epq[3].source, CALLS_EPQ_X_RTP_STAT);
    assert_int_equal(l->epq[3].party, CALLS_PARTY_CALLEE); /* the 200's sender */
    assert_int_equal(calls_stat(c, TS_VQ_REPORTS), 5);     /* 4 kept + the replaced one */
    assert_int_equal(calls_stat(c, TS_VQ_UNMATCHED), 1);
    char js[TS_CALLS_MAX_EPQ * 320];
    size_t n = calls_epq_json(l, js, sizeof js);
    assert_true(n > 0 && js[0] == '[' && js[n - 1] == ']');
    assert_int_equal(calls_epq_json(l, js, 16), 0); /* does not fit: nothing */
    calls_free(c);
}

static void test_answered_bye_by_callee(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *A = "10.0.0.1", *B = "10.0.0.2";
    TX(c, 0, A, B, .method = "INVITE", .cid = "c1", .to = "2000", .from = "1000");
    TX(c, 10, B, A, .status = 100, .cid = "c1", .to = "2000", .from = "1000");
    TX(c, 250, B, A, .status = 180, .cid = "c1", .to = "2000", .from = "1000", .ttag = "b1");
    TX(c, 3000, B, A, .status = 200, .reason = "OK", .cid = "c1", .to = "2000", .from = "1000",
       .ttag = "b1");
    TX(c, 3010, A, B, .method = "ACK", .cid = "c1", .to = "2000", .from = "1000", .ttag = "b1",
       .branch = "z9hG4bKa");
    /* callee hangs up: its From carries its own tag */
    TX(c, 63000, B, A, .method = "BYE", .cid = "c1", .from = "2000", .ftag = "b1", .to = "1000",
       .ttag = "ft", .branch = "z9hG4bKb");
    TX(c, 63020, A, B, .status = 200, .cid = "c1", .cmeth = "BYE", .from = "2000", .ftag = "b1",
       .to = "1000", .ttag = "ft", .branch = "z9hG4bKb");
    assert_int_equal(calls_count(c), 0);   /* not emitted before the linger */
    calls_tick(c, BASE_NS + 64000 * MS);
    assert_int_equal(calls_count(c), 0);
    calls_tick(c, BASE_NS + 68000 * MS);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_int_equal(k->nlegs, 1);
    assert_int_equal(k->legs[0].hangup_by, CALLS_PARTY_CALLEE);
    assert_int_equal(k->legs[0].final_status, 200);
    assert_int_equal(k->pdd_ms, 250);
    assert_true(k->duration_s > 59.99 && k->duration_s < 60.01);
    assert_int_equal(k->legs[0].bye_ok_ns - k->legs[0].bye_ns, 20 * MS);
    assert_string_equal(k->caller, "1000");
    assert_string_equal(k->callee, "2000");
    assert_int_equal(k->direction, CALLS_DIR_INTERNAL);
    assert_int_equal(calls_dialogs_held(c), 0);
    calls_free(c);
}

static void test_busy_and_rejected(void **state)
{
    (void)state;
    struct calls *c = mk();
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "busy");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 486, .reason = "Busy Here", .cid = "busy",
       .ttag = "x");
    TX(c, 110, "10.0.0.1", "10.0.0.2", .method = "ACK", .cid = "busy", .ttag = "x");
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "rej");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 404, .reason = "Not Found", .cid = "rej",
       .ttag = "x");
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "fail");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 480, .cid = "fail", .ttag = "x");
    calls_finish(c);
    assert_int_equal(calls_count(c), 3);
    unsigned seen = 0;
    for (size_t i = 0; i < 3; i++) {
        const struct calls_call *k = calls_get(c, i);
        if (!strcmp(k->legs[0].call_id, "busy")) {
            assert_int_equal(k->outcome, CALLS_BUSY);
            assert_string_equal(k->legs[0].reason, "Busy Here");
            seen |= 1;
        } else if (!strcmp(k->legs[0].call_id, "rej")) {
            assert_int_equal(k->outcome, CALLS_REJECTED);
            seen |= 2;
        } else {
            assert_int_equal(k->outcome, CALLS_FAILED);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    calls_free(c);
}

static void test_cancel_487(void **state)
{
    (void)state;
    struct calls *c = mk();
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "cx");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 180, .cid = "cx", .ttag = "t");
    TX(c, 5000, "10.0.0.1", "10.0.0.2", .method = "CANCEL", .cid = "cx",
       .extra = "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n");
    TX(c, 5010, "10.0.0.2", "10.0.0.1", .status = 200, .cid = "cx", .cmeth = "CANCEL",
       .ttag = "t");
    TX(c, 5020, "10.0.0.2", "10.0.0.1", .status = 487, .reason = "Request Terminated",
       .cid = "cx", .ttag = "t");
    TX(c, 5030, "10.0.0.1", "10.0.0.2", .method = "ACK", .cid = "cx", .ttag = "t");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->outcome, CALLS_CANCELLED);
    assert_true(k->legs[0].cancelled);
    assert_int_equal(k->legs[0].final_status, 487);
    assert_int_equal(k->legs[0].q850_cause, 16);
    assert_int_equal(k->failure_side, CALLS_SIDE_NONE);
    calls_free(c);
}

/* Digest challenge, then the retry with credentials in the same Call-ID
 * half a minute later (a person typing): one leg, PDD from the retry. */
static void test_auth_retry(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *A = "10.0.0.1", *P = "203.0.113.1";
    TX(c, 0, A, P, .method = "INVITE", .cid = "au");
    TX(c, 50, P, A, .status = 407, .cid = "au", .ttag = "p1");
    TX(c, 60, A, P, .method = "ACK", .cid = "au", .ttag = "p1");
    calls_tick(c, BASE_NS + 30000 * MS);   /* past the linger, not past auth_linger_s */
    assert_int_equal(calls_count(c), 0);
    TX(c, 30000, A, P, .method = "INVITE", .cseq = 2, .cid = "au", .branch = "z9hG4bK2",
       .extra = "Proxy-Authorization: Digest username=\"a\"\r\n");
    TX(c, 30200, P, A, .status = 180, .cseq = 2, .cid = "au", .ttag = "p2", .branch = "z9hG4bK2");
    TX(c, 31000, P, A, .status = 200, .cseq = 2, .cid = "au", .ttag = "p2", .branch = "z9hG4bK2");
    TX(c, 40000, A, P, .method = "BYE", .cseq = 3, .cid = "au", .ttag = "p2", .branch = "z9hG4bK3");
    /* a challenge nobody answers goes after auth_linger_s */
    TX(c, 50000, A, P, .method = "INVITE", .cid = "au2");
    TX(c, 50050, P, A, .status = 401, .cid = "au2", .ttag = "x");
    calls_tick(c, BASE_NS + 60000 * MS);
    assert_int_equal(calls_count(c), 1);
    const struct calls_call *k = calls_get(c, 0);
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_true(k->legs[0].auth_challenged);
    assert_int_equal(k->pdd_ms, 200);
    assert_int_equal(k->legs[0].invite_ns, BASE_NS);
    assert_int_equal(calls_dialogs_held(c), 1);
    calls_tick(c, BASE_NS + 139000 * MS);
    assert_int_equal(calls_dialogs_held(c), 1);
    calls_tick(c, BASE_NS + 141000 * MS);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_int_equal(calls_get(c, 1)->outcome, CALLS_REJECTED);
    calls_free(c);
}

static void test_forking(void **state)
{
    (void)state;
    struct calls *c = mk();
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "fk");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 180, .cid = "fk", .ttag = "one");
    TX(c, 120, "10.0.0.2", "10.0.0.1", .status = 180, .cid = "fk", .ttag = "two");
    TX(c, 2000, "10.0.0.2", "10.0.0.1", .status = 200, .cid = "fk", .ttag = "two");
    TX(c, 2010, "10.0.0.1", "10.0.0.2", .method = "ACK", .cid = "fk", .ttag = "two",
       .branch = "z9hG4bKa");
    TX(c, 9000, "10.0.0.1", "10.0.0.2", .method = "BYE", .cseq = 2, .cid = "fk", .ttag = "two",
       .branch = "z9hG4bKb");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_int_equal(k->legs[0].forks, 2);
    assert_int_equal(k->legs[0].hangup_by, CALLS_PARTY_CALLER);
    assert_int_equal(k->legs[0].retrans, 0);
    calls_free(c);
}

static void test_retransmissions(void **state)
{
    (void)state;
    struct ts_stats st;
    memset(&st, 0, sizeof st);
    struct calls *c = calls_new(NULL, &st);
    const char *A = "10.0.0.1", *B = "198.51.100.7";
    for (int i = 0; i < 3; i++)   /* Timer A: 0, 500, 1500 ms */
        TX(c, (uint64_t)(i ? 500 * (1 << (i - 1)) + (i > 1 ? 500 : 0) : 0), A, B,
           .method = "INVITE", .cid = "rt");
    TX(c, 1600, B, A, .status = 180, .cid = "rt", .ttag = "t");
    TX(c, 1700, B, A, .status = 180, .cid = "rt", .ttag = "t");
    TX(c, 3000, B, A, .status = 200, .cid = "rt", .ttag = "t");
    TX(c, 3500, B, A, .status = 200, .cid = "rt", .ttag = "t");
    TX(c, 3510, A, B, .method = "ACK", .cid = "rt", .ttag = "t", .branch = "z9hG4bKa");
    TX(c, 3520, A, B, .method = "ACK", .cid = "rt", .ttag = "t", .branch = "z9hG4bKa");
    TX(c, 9000, A, B, .method = "BYE", .cseq = 2, .cid = "rt", .ttag = "t", .branch = "z9hG4bKb");
    TX(c, 9500, A, B, .method = "BYE", .cseq = 2, .cid = "rt", .ttag = "t", .branch = "z9hG4bKb");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->legs[0].retrans, 6);   /* INVITE 2, 180, 200, ACK, BYE */
    assert_int_equal(st.v[TS_CALLS_RETRANS], 6);
    assert_int_equal(k->legs[0].ring_ns - k->legs[0].invite_ns, 1600 * MS);
    assert_int_equal(k->legs[0].answer_ns - k->legs[0].invite_ns, 3000 * MS);
    assert_int_equal(calls_trunk_count(c), 1);
    const struct calls_trunk *t = calls_trunk_get(c, 0);
    assert_int_equal(t->all.attempts, 1);
    assert_int_equal(t->all.answered, 1);
    assert_int_equal(t->codes[200 - 100], 1);
    calls_free(c);
}

/* The INVITE sent again after total-1 other messages (fill writes message i)
 * in a fresh dialog of Call-ID cid: a retransmission while total is within
 * limit (checked for limit-1, limit and limit+1); check, when given, sees
 * each run's total and the leg's forks. */
typedef void (*fill_fn)(struct calls *c, const char *cid, int i);
static void retrans_after(int limit, const char *cid, fill_fn fill, void (*check)(int total,
                                                                                 unsigned forks))
{
    const char *A = "10.0.0.1", *B = "198.51.100.7";
    for (int extra = -1; extra <= 1; extra++) {
        struct ts_stats st;
        memset(&st, 0, sizeof st);
        struct calls *c = calls_new(NULL, &st);
        int total = limit + extra;
        TX(c, 0, A, B, .method = "INVITE", .cid = cid);
        for (int i = 1; i < total; i++)
            fill(c, cid, i);
        TX(c, 1000, A, B, .method = "INVITE", .cid = cid);   /* Timer A fires */
        calls_finish(c);
        const struct calls_call *k = only_call(c);
        unsigned want = extra <= 0 ? 1 : 0;
        assert_int_equal(k->legs[0].retrans, want);
        assert_int_equal(st.v[TS_CALLS_RETRANS], want);
        if (check)
            check(total, k->legs[0].forks);
        calls_free(c);
    }
}

static void fill_fork(struct calls *c, const char *cid, int i)
{
    char tag[16];
    snprintf(tag, sizeof tag, "t%d", i);   /* forks: each a new message */
    TX(c, (uint64_t)(10 * i), "198.51.100.7", "10.0.0.1", .status = 183, .cid = cid, .ttag = tag);
}

static void check_forks(int total, unsigned forks)
{
    assert_int_equal(forks, total - 1 < TS_CALLS_MAX_FORKS ? total - 1 : TS_CALLS_MAX_FORKS);
}

/* Each transaction remembers its last TS_CALLS_MAX_FP exact messages: the
 * INVITE sent again after N-1, N and N+1 distinct messages (the INVITE and
 * its forked 183s) in its transaction is a retransmission only while it is
 * among them. */
static void test_fingerprint_limit(void **state)
{
    (void)state;
    retrans_after(TS_CALLS_MAX_FP, "fpl", fill_fork, check_forks);
}

static void fill_info(struct calls *c, const char *cid, int i)
{
    char br[24];
    snprintf(br, sizeof br, "z9hG4bKi%d", i);
    TX(c, (uint64_t)(10 * i), "10.0.0.1", "198.51.100.7", .method = "INFO", .cid = cid,
       .cseq = (unsigned)(1 + i), .branch = br);
}

/* A dialog remembers its last TS_CALLS_MAX_TXN transactions: the INVITE's
 * retransmission after N-1, N and N+1 transactions in all (INFOs). */
static void test_transaction_limit(void **state)
{
    (void)state;
    retrans_after(TS_CALLS_MAX_TXN, "txl", fill_info, NULL);
}

static struct calls_call sunk;
static struct calls_leg sunk_legs[TS_CALLS_MAX_LEGS];
static void sink_copy(void *ctx, const struct calls_call *k)
{
    (void)ctx;
    sunk = *k;
    memcpy(sunk_legs, k->legs, k->nlegs * sizeof *k->legs);
}

/* A leg with every text at its cap and a reason replaced many times (the
 * dialog's string arena repacks): the kept record reads back as the sink
 * got it. */
static void test_leg_strings_kept(void **state)
{
    (void)state;
    struct calls *c = mk();
    calls_set_sink(c, sink_copy, NULL);
    char cid[200], user[100], reason[100], extra[1200];
    memset(cid, 'c', sizeof cid - 1);
    cid[sizeof cid - 1] = '\0';
    memset(user, '7', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    snprintf(extra, sizeof extra,
             "P-Asserted-Identity: <sip:+%s@example.net>\r\n"
             "X-CID: %s\r\n"
             "Reason: Q.850;cause=16;text=\"%s\"\r\n"
             "Ms-Diagnostics: 1;reason=\"%s\"\r\n",
             user, cid, cid, cid);
    const char *A = "10.0.0.1", *B = "198.51.100.7";
    for (unsigned i = 1; i <= 40; i++) {   /* challenged again and again */
        memset(reason, 'a' + (char)(i % 26), sizeof reason - 1);
        reason[sizeof reason - 1] = '\0';
        TX(c, 100 * i, A, B, .method = "INVITE", .cid = cid, .cseq = i, .from = user,
           .to = user, .ruri = user, .extra = extra);
        TX(c, 100 * i + 5, B, A, .status = 407, .reason = reason, .cid = cid, .cseq = i,
           .from = user, .to = user, .ttag = "t", .extra = extra);
    }
    TX(c, 5000, A, B, .method = "INVITE", .cid = cid, .cseq = 41, .from = user, .to = user,
       .ruri = user, .extra = extra);
    TX(c, 5100, B, A, .status = 200, .reason = "OK", .cid = cid, .cseq = 41, .from = user,
       .to = user, .ttag = "t");
    TX(c, 9000, A, B, .method = "BYE", .cid = cid, .cseq = 42, .from = user, .to = user,
       .ttag = "t", .branch = "z9hG4bKb", .extra = extra);
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 1);
    const struct calls_leg *l = &k->legs[0];
    assert_int_equal(strlen(l->call_id), CALLS_TEXT_LEN - 1);
    assert_int_equal(strlen(l->from), CALLS_USER_LEN - 1);
    assert_int_equal(strlen(l->pai), CALLS_USER_LEN - 1);
    assert_int_equal(strlen(l->caller_digits), CALLS_DIGITS_LEN - 1);
    assert_string_equal(l->reason, "OK");
    assert_true(l->auth_challenged);
    assert_int_equal(l->q850_cause, 16);
    assert_int_equal(strlen(l->reason_hdr), CALLS_USER_LEN - 1);
    assert_int_equal(strlen(l->ms_diag), CALLS_TEXT_LEN - 1);
    /* the unpacked report record is the record the sink got */
    assert_int_equal(k->nlegs, sunk.nlegs);
    assert_int_equal(k->id, sunk.id);
    assert_string_equal(k->caller, sunk.caller);
    assert_string_equal(k->failure_detail, sunk.failure_detail);
    assert_memory_equal(l, &sunk_legs[0], sizeof *l);
    calls_free(c);
}

/* A proxy relays the same Call-ID: one leg seen on two hops, no double count. */
static void test_same_callid_two_hops(void **state)
{
    (void)state;
    struct ts_stats st;
    memset(&st, 0, sizeof st);
    struct calls *c = calls_new(NULL, &st);
    const char *A = "10.0.0.1", *P = "10.0.0.5", *B = "10.0.0.9";
    TX(c, 0, A, P, .method = "INVITE", .cid = "hop", .branch = "z9hG4bKa1");
    TX(c, 2, P, B, .method = "INVITE", .cid = "hop", .branch = "z9hG4bKp1");
    TX(c, 100, B, P, .status = 180, .cid = "hop", .ttag = "t", .branch = "z9hG4bKp1");
    TX(c, 102, P, A, .status = 180, .cid = "hop", .ttag = "t", .branch = "z9hG4bKa1");
    TX(c, 900, B, P, .status = 200, .cid = "hop", .ttag = "t", .branch = "z9hG4bKp1");
    TX(c, 902, P, A, .status = 200, .cid = "hop", .ttag = "t", .branch = "z9hG4bKa1");
    TX(c, 5000, A, P, .method = "BYE", .cseq = 2, .cid = "hop", .ttag = "t", .branch = "z9hG4bKa2");
    TX(c, 5002, P, B, .method = "BYE", .cseq = 2, .cid = "hop", .ttag = "t", .branch = "z9hG4bKp2");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 1);
    assert_int_equal(k->legs[0].nhops, 2);
    assert_int_equal(k->legs[0].retrans, 0);
    assert_int_equal(st.v[TS_CALLS_HOP_COPIES], 4);
    assert_int_equal(k->legs[0].ring_ns - k->legs[0].invite_ns, 100 * MS);
    assert_int_equal(calls_trunk_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(calls_trunk_get(c, i)->all.attempts, 1);
        assert_int_equal(calls_trunk_get(c, i)->all.answered, 1);
    }
    calls_free(c);
}

static void test_timeouts_free_state(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.no_bye_timeout_s = 600;
    struct calls *c = calls_new(&cfg, NULL);
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "nofinal");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 180, .cid = "nofinal", .ttag = "t");
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "nobye");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 200, .cid = "nobye", .ttag = "t");
    assert_int_equal(calls_dialogs_held(c), 2);
    calls_tick(c, BASE_NS + 179000 * MS);
    assert_int_equal(calls_dialogs_held(c), 2);
    calls_tick(c, BASE_NS + 180000 * MS);   /* silent for longer than the linger: out */
    assert_int_equal(calls_dialogs_held(c), 1);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->outcome, CALLS_TIMEOUT);
    assert_int_equal(k->legs[0].final_status, 0);
    calls_tick(c, BASE_NS + 599000 * MS);
    assert_int_equal(calls_dialogs_held(c), 1);
    calls_tick(c, BASE_NS + 610000 * MS);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_int_equal(calls_count(c), 2);
    k = calls_get(c, 1);
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_int_equal(k->legs[0].hangup_by, CALLS_PARTY_TIMEOUT);
    assert_int_equal(calls_stat(c, TS_CALLS_TIMEOUTS), 2);
    calls_free(c);
}

static void test_reinvite_hold_resume(void **state)
{
    (void)state;
    struct calls *c = mk();
    char s1[512], s2[512], s3[512];
    const char *A = "10.0.0.1", *B = "10.0.0.2";
    TX(c, 0, A, B, .method = "INVITE", .cid = "h", .sdp = sdp(s1, sizeof s1, A, 4000, "sendrecv"));
    TX(c, 500, B, A, .status = 200, .cid = "h", .ttag = "t",
       .sdp = sdp(s2, sizeof s2, B, 5000, "sendrecv"));
    TX(c, 510, A, B, .method = "ACK", .cid = "h", .ttag = "t", .branch = "z9hG4bKa");
    const struct calls_call *k;
    TX(c, 10000, A, B, .method = "INVITE", .cseq = 2, .cid = "h", .ttag = "t",
       .branch = "z9hG4bKr1", .sdp = sdp(s3, sizeof s3, A, 4000, "sendonly"));
    TX(c, 10100, B, A, .status = 200, .cseq = 2, .cid = "h", .ttag = "t", .branch = "z9hG4bKr1",
       .sdp = sdp(s2, sizeof s2, B, 5000, "recvonly"));
    TX(c, 20000, A, B, .method = "INVITE", .cseq = 3, .cid = "h", .ttag = "t",
       .branch = "z9hG4bKr2", .sdp = sdp(s3, sizeof s3, A, 4000, "sendrecv"));
    TX(c, 20100, B, A, .status = 200, .cseq = 3, .cid = "h", .ttag = "t", .branch = "z9hG4bKr2",
       .sdp = sdp(s2, sizeof s2, B, 5000, "sendrecv"));
    TX(c, 30000, A, B, .method = "BYE", .cseq = 4, .cid = "h", .ttag = "t", .branch = "z9hG4bKb");
    calls_finish(c);
    k = only_call(c);
    assert_true(k->legs[0].hold);
    assert_int_equal(k->legs[0].holds, 1);
    assert_false(k->legs[0].on_hold);   /* resumed */
    assert_int_equal(k->legs[0].reinvites, 2);
    assert_int_equal(k->legs[0].answer_ns - k->legs[0].invite_ns, 500 * MS);
    assert_true(k->legs[0].caller_sdp.present);
    assert_int_equal(k->legs[0].caller_sdp.port, 4000);
    assert_int_equal(k->legs[0].callee_sdp.port, 5000);
    assert_int_equal(k->legs[0].caller_sdp.dir, CALLS_MD_SENDRECV);
    assert_string_equal(k->legs[0].caller_sdp.codecs, "PCMU,PCMA,telephone-event");
    calls_free(c);
}

static const struct calls_call *call_with_legs(const struct calls *c, unsigned n)
{
    for (size_t i = 0; i < calls_count(c); i++)
        if (calls_get(c, i)->nlegs == n)
            return calls_get(c, i);
    fail_msg("no call with %u legs", n);
    return NULL;
}

static void test_corr_session_id(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *sid = "Session-ID: ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000\r\n";
    answered_call(c, 0, "legA", "10.0.0.1", "10.0.0.2", "100", "200", 100, 900, 5000, sid);
    answered_call(c, 30, "legB", "10.0.0.2", "203.0.113.5", "999", "888", 50, 850, 5000, sid);
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 2);
    assert_string_equal(k->legs[0].call_id, "legA");
    assert_int_equal(k->legs[0].ev_type, CALLS_EV_NONE);
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_SESSION_ID);
    assert_int_equal(k->legs[1].ev_linked_to, 0);
    assert_true(k->legs[1].ev_conf > 0.9f);
    assert_int_equal(k->direction, CALLS_DIR_OUTBOUND);
    calls_free(c);
}

static void test_corr_x_cid(void **state)
{
    (void)state;
    struct calls *c = mk();
    answered_call(c, 0, "orig-callid-1", "10.0.0.1", "10.0.0.2", "100", "200", 100, 900, 5000,
                  NULL);
    answered_call(c, 3000, "other", "10.0.0.2", "203.0.113.5", "1", "2", 50, 850, 5000,
                  "X-CID: orig-callid-1\r\n");
    /* same header value on both legs also links */
    answered_call(c, 100000, "p1", "10.0.0.1", "10.0.0.2", "100", "200", 100, 900, 5000,
                  "X-Orig-Call-ID: shared-77\r\n");
    answered_call(c, 100100, "p2", "10.0.0.2", "203.0.113.5", "1", "2", 50, 850, 5000,
                  "X-Orig-Call-ID: shared-77\r\n");
    calls_finish(c);
    assert_int_equal(calls_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct calls_call *k = calls_get(c, i);
        assert_int_equal(k->nlegs, 2);
        assert_int_equal(k->legs[1].ev_type, CALLS_EV_HEADER);
    }
    calls_free(c);
}

static void test_corr_timing_numbers(void **state)
{
    (void)state;
    struct calls *c = mk();
    /* the SBC rewrites national to E.164 */
    answered_call(c, 0, "in1", "10.0.0.1", "10.0.0.2", "0891234567", "030123456", 100, 900,
                  5000, NULL);
    answered_call(c, 40, "out1", "10.0.0.2", "203.0.113.5", "+49891234567", "+4930123456", 50,
                  850, 5000, NULL);
    /* numbers that do not match stay apart */
    answered_call(c, 50000, "in2", "10.0.0.1", "10.0.0.2", "0891234567", "030123456", 100, 900,
                  5000, NULL);
    answered_call(c, 50040, "out2", "10.0.0.2", "203.0.113.5", "+49891234567", "+4940999999",
                  50, 850, 5000, NULL);
    /* too late for the window */
    answered_call(c, 90000, "in3", "10.0.0.1", "10.0.0.2", "0891234567", "030123456", 100, 900,
                  5000, NULL);
    answered_call(c, 92500, "out3", "10.0.0.2", "203.0.113.5", "+49891234567", "+4930123456",
                  50, 850, 5000, NULL);
    calls_finish(c);
    assert_int_equal(calls_count(c), 5);
    const struct calls_call *k = call_with_legs(c, 2);
    assert_string_equal(k->legs[0].call_id, "in1");
    assert_string_equal(k->legs[1].call_id, "out1");
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_TIMING);
    assert_true(k->legs[1].ev_conf >= 0.59f && k->legs[1].ev_conf < 0.66f);
    calls_free(c);

    /* with the country code configured the numbers are equal: more confidence */
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    strcpy(cfg.country_code, "49");
    c = calls_new(&cfg, NULL);
    answered_call(c, 0, "in1", "10.0.0.1", "10.0.0.2", "0891234567", "030123456", 100, 900,
                  5000, NULL);
    answered_call(c, 40, "out1", "10.0.0.2", "203.0.113.5", "+49891234567", "+4930123456", 50,
                  850, 5000, NULL);
    calls_finish(c);
    k = only_call(c);
    assert_int_equal(k->nlegs, 2);
    assert_true(k->legs[1].ev_conf > 0.69f);
    calls_free(c);
}

/* Evidence order: a Session-ID match beats a timing+numbers match. */
static void test_corr_order(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *sid = "Session-ID: feedfacefeedfacefeedfacefeedface\r\n";
    answered_call(c, 0, "a1", "10.0.0.1", "10.0.0.2", "111", "222", 100, 900, 5000, sid);
    answered_call(c, 10, "a2", "10.0.0.3", "10.0.0.2", "0891234567", "030123456", 100, 900,
                  5000, NULL);
    answered_call(c, 20, "b", "10.0.0.2", "203.0.113.5", "+49891234567", "+4930123456", 50, 850,
                  5000, sid);
    calls_finish(c);
    assert_int_equal(calls_count(c), 2);
    const struct calls_call *k = call_with_legs(c, 2);
    assert_string_equal(k->legs[0].call_id, "a1");
    assert_string_equal(k->legs[1].call_id, "b");
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_SESSION_ID);
    assert_int_equal(calls_stat(c, TS_CALLS_AMBIGUOUS), 0);
    calls_free(c);
}

static void test_corr_ambiguous(void **state)
{
    (void)state;
    struct calls *c = mk();
    answered_call(c, 0, "a1", "10.0.0.1", "10.0.0.2", "0891234567", "030123456", 100, 900, 5000,
                  NULL);
    answered_call(c, 10, "a2", "10.0.0.3", "10.0.0.2", "0891234567", "030123456", 100, 900, 5000,
                  NULL);
    answered_call(c, 40, "b", "10.0.0.2", "203.0.113.5", "+49891234567", "+4930123456", 50, 850,
                  5000, NULL);
    calls_finish(c);
    assert_int_equal(calls_count(c), 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(calls_get(c, i)->nlegs, 1);
    assert_int_equal(calls_stat(c, TS_CALLS_AMBIGUOUS), 1);
    calls_free(c);
}

static void test_corr_three_leg_chain(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *sid = "Session-ID: 0123456789abcdef0123456789abcdef\r\n";
    answered_call(c, 0, "l1", "10.0.0.1", "10.0.0.2", "100", "200", 100, 900, 5000, NULL);
    answered_call(c, 20, "l2", "10.0.0.2", "10.0.0.3", "x", "y", 80, 880, 5000,
                  "X-CID: l1\r\nSession-ID: 0123456789ABCDEF0123456789ABCDEF\r\n");
    answered_call(c, 40, "l3", "10.0.0.3", "203.0.113.9", "p", "q", 60, 860, 5000, sid);
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 3);
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_HEADER);
    assert_int_equal(k->legs[1].ev_linked_to, 0);
    assert_int_equal(k->legs[2].ev_type, CALLS_EV_SESSION_ID);
    assert_int_equal(k->legs[2].ev_linked_to, 1);
    calls_free(c);
}

/* B2BUA with direct media: the second leg's re-INVITE offers the caller's media. */
static void test_corr_shared_media(void **state)
{
    (void)state;
    struct calls *c = mk();
    char s1[512], s2[512];
    const char *A = "172.16.98.1", *S = "172.16.98.101", *B = "172.16.98.145";
    TX(c, 0, A, S, .method = "INVITE", .cid = "ma", .from = "telephone1", .to = "2302",
       .sdp = sdp(s1, sizeof s1, A, 8000, "sendrecv"));
    TX(c, 3, S, B, .method = "INVITE", .cid = "mb", .from = "telephone1", .to = "telephone2",
       .sdp = sdp(s2, sizeof s2, S, 18010, "sendrecv"));
    TX(c, 7000, B, S, .status = 200, .cid = "mb", .ttag = "t", .from = "telephone1",
       .to = "telephone2", .sdp = sdp(s2, sizeof s2, B, 8000, "sendrecv"));
    TX(c, 7005, S, A, .status = 200, .cid = "ma", .ttag = "t", .from = "telephone1", .to = "2302",
       .sdp = sdp(s2, sizeof s2, S, 13060, "sendrecv"));
    TX(c, 7010, S, B, .method = "INVITE", .cseq = 2, .cid = "mb", .ttag = "t", .branch = "z9hG4bKr",
       .from = "telephone1", .to = "telephone2", .sdp = sdp(s1, sizeof s1, A, 8000, "sendrecv"));
    TX(c, 20000, A, S, .method = "BYE", .cseq = 2, .cid = "ma", .ttag = "t", .branch = "z9hG4bKb");
    TX(c, 20005, S, B, .method = "BYE", .cseq = 3, .cid = "mb", .ttag = "t", .branch = "z9hG4bKc");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 2);
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_MEDIA);
    assert_string_equal(k->legs[0].to, "2302");
    assert_string_equal(k->legs[1].to, "telephone2");
    calls_free(c);
}

static void test_failure_attribution(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *E = "10.0.0.1", *S = "10.0.0.2", *I = "203.0.113.5";
    const char *sid = "Session-ID: 11112222333344445555666677778888\r\n";
    TX(c, 0, E, S, .method = "INVITE", .cid = "ent", .extra = sid);
    TX(c, 5, S, E, .status = 100, .cid = "ent");
    TX(c, 20, S, I, .method = "INVITE", .cid = "itsp", .extra = sid);
    TX(c, 120, I, S, .status = 503, .reason = "Service Unavailable", .cid = "itsp", .ttag = "i",
       .extra = "Reason: Q.850;cause=41\r\n");
    TX(c, 125, S, I, .method = "ACK", .cid = "itsp", .ttag = "i");
    TX(c, 130, S, E, .status = 500, .reason = "Server Internal Error", .cid = "ent", .ttag = "s");
    TX(c, 135, E, S, .method = "ACK", .cid = "ent", .ttag = "s");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->outcome, CALLS_FAILED);
    assert_int_equal(k->failure_side, CALLS_SIDE_ITSP);
    assert_non_null(strstr(k->failure_detail, "ITSP 203.0.113.5 answered 503"));
    assert_non_null(strstr(k->failure_detail, "SBC 10.0.0.2 sent 500"));
    assert_non_null(strstr(k->failure_detail, "to the enterprise"));
    assert_int_equal(k->legs[1].q850_cause, 41);
    calls_free(c);
}

/* 408 from a relay after Timer B (64*T1 = 32 s): nobody downstream
 * answered, a timeout blamed on the silent node; an early 408 is a failure. */
static void test_timer_b_timeout(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *E = "10.0.0.1", *S = "10.0.0.2", *I = "203.0.113.5";
    const char *sid = "Session-ID: 99998888777766665555444433332222\r\n";
    TX(c, 0, E, S, .method = "INVITE", .cid = "tb0", .extra = sid);
    TX(c, 20, S, I, .method = "INVITE", .cid = "tb1", .extra = sid);
    TX(c, 32030, S, E, .status = 408, .reason = "Request Timeout", .cid = "tb0", .ttag = "s");
    TX(c, 32040, E, S, .method = "ACK", .cid = "tb0", .ttag = "s");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 2);
    assert_int_equal(k->outcome, CALLS_TIMEOUT);
    assert_int_equal(k->legs[0].outcome, CALLS_TIMEOUT);
    assert_int_equal(k->failure_side, CALLS_SIDE_ITSP);
    assert_non_null(strstr(k->failure_detail, "203.0.113.5 sent no final response"));
    calls_free(c);

    /* one leg: 408 at 31.999 s is a failure, at 32 s a timeout (N-1, N) */
    for (int late = 0; late < 2; late++) {
        c = mk();
        TX(c, 0, E, I, .method = "INVITE", .cid = "t1");
        TX(c, late ? 32000 : 31999, I, E, .status = 408, .cid = "t1", .ttag = "i");
        calls_finish(c);
        k = only_call(c);
        assert_int_equal(k->outcome, late ? CALLS_TIMEOUT : CALLS_FAILED);
        assert_int_equal(k->failure_side, CALLS_SIDE_ITSP);
        calls_free(c);
    }
}

/* Duration ends at the first BYE on any answered leg: the callee hung up
 * on the far leg, the relay's BYE on the near leg is 2 s late. */
static void test_duration_first_bye(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *hdr = "X-CID: d0\r\n";
    setup_call(c, 0, "d0", "10.0.0.1", "10.0.0.2", "100", "200", 100, 1000, NULL);
    setup_call(c, 20, "d1", "10.0.0.2", "203.0.113.9", "100", "200", 80, 970, hdr);
    TX(c, 11000, "203.0.113.9", "10.0.0.2", .method = "BYE", .cid = "d1", .cseq = 5,
       .from = "200", .ftag = "tt", .to = "100", .ttag = "ft", .branch = "z9hG4bKb1");
    TX(c, 13000, "10.0.0.2", "10.0.0.1", .method = "BYE", .cid = "d0", .cseq = 5,
       .from = "200", .ftag = "tt", .to = "100", .ttag = "ft", .branch = "z9hG4bKb2");
    calls_finish(c);
    const struct calls_call *k = only_call(c);
    assert_int_equal(k->nlegs, 2);
    assert_true(k->duration_s > 9.9999 && k->duration_s < 10.0001);
    assert_int_equal(k->pdd_ms, 100);
    calls_free(c);
}

/* A multi-homed SBC (10.0.0.2 inside, 198.51.100.10 outside) is learned
 * from linked legs; a call it refused before that is attributed to it at
 * the end, and the trunk created facing the wrong way turns round. */
static void test_sbc_learned(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *P = "10.0.0.1", *Si = "10.0.0.2", *So = "198.51.100.10", *I = "203.0.113.5";
    TX(c, 0, I, So, .method = "INVITE", .cid = "r1", .from = "+4930111", .to = "+4989222");
    TX(c, 5, So, I, .status = 403, .reason = "Forbidden", .cid = "r1", .ttag = "s",
       .from = "+4930111", .to = "+4989222");
    TX(c, 10, I, So, .method = "ACK", .cid = "r1", .ttag = "s");
    calls_tick(c, BASE_NS + 9000 * MS);
    assert_int_equal(calls_count(c), 1);
    assert_int_equal(calls_get(c, 0)->failure_side, CALLS_SIDE_ITSP);   /* not known yet */
    const char *sid = "Session-ID: abcdefabcdefabcdefabcdefabcdef01\r\n";
    answered_call(c, 10000, "o0", P, Si, "100", "0891234567", 100, 900, 5000, sid);
    answered_call(c, 10020, "o1", So, I, "100", "0891234567", 80, 870, 5000, sid);
    calls_finish(c);
    assert_int_equal(calls_stat(c, TS_CALLS_SBC_LEARNED), 2);
    assert_int_equal(calls_count(c), 2);
    const struct calls_call *r = calls_get(c, 0);
    assert_string_equal(r->legs[0].call_id, "r1");
    assert_int_equal(r->failure_side, CALLS_SIDE_SBC);
    assert_int_equal(r->direction, CALLS_DIR_INBOUND);
    assert_int_equal(calls_get(c, 1)->direction, CALLS_DIR_OUTBOUND);
    const struct calls_trunk *t = NULL;
    char a[64];
    for (size_t i = 0; i < calls_trunk_count(c); i++)
        if (!strcmp(ts_addr_str(&calls_trunk_get(c, i)->peer, a, sizeof a), I))
            t = calls_trunk_get(c, i);
    assert_non_null(t);
    assert_string_equal(ts_addr_str(&t->local, a, sizeof a), So);
    assert_true(t->itsp);
    assert_int_equal(t->dir[CALLS_DIR_INBOUND].attempts, 1);
    assert_int_equal(t->dir[CALLS_DIR_OUTBOUND].attempts, 1);
    assert_int_equal(t->dir[CALLS_DIR_OUTBOUND].answered, 1);
    calls_free(c);
}

/* Timing + numbers through a multi-homed SBC (no evidence, other address
 * out than in); a redial from the caller and an inside-to-inside pair
 * with the same numbers are not relays. */
static void test_corr_timing_multihomed(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *P = "10.0.0.1", *Si = "10.0.0.2", *So = "198.51.100.10", *I = "203.0.113.5";
    answered_call(c, 0, "m0", P, Si, "+4930123456", "+49891234567", 100, 900, 5000, NULL);
    answered_call(c, 30, "m1", So, I, "030123456", "0891234567", 60, 860, 5000, NULL);
    /* the PBX tries again at once over another path: not a relay of m0 */
    answered_call(c, 200, "m2", P, "10.0.0.9", "+4930123456", "+49891234567", 100, 900, 5000,
                  NULL);
    /* inside to inside from elsewhere, same numbers: no edge crossed */
    answered_call(c, 300, "m3", "10.0.0.7", "10.0.0.8", "+4930123456", "+49891234567", 100, 900,
                  5000, NULL);
    calls_finish(c);
    assert_int_equal(calls_count(c), 3);
    const struct calls_call *k = call_with_legs(c, 2);
    assert_string_equal(k->legs[0].call_id, "m0");
    assert_string_equal(k->legs[1].call_id, "m1");
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_TIMING);
    assert_true(k->legs[1].ev_conf > 0.54f && k->legs[1].ev_conf < 0.56f);
    calls_free(c);
}


/* A dual-homed SBC with private addresses on both sides (10.1.0.1 toward
 * the PBX, 10.2.0.1 toward two carriers), no configuration and no
 * correlation header: three relayed calls teach the pair, the held calls
 * are linked once it is learned; a call refused by carrier A with 503 and
 * re-sent to carrier B is one call of three legs, answered, and the failed
 * leg counts on trunk A with its error from A; a call carrier A leaves
 * unanswered (CANCEL after 5 s, beyond the window) fails over the same way.
 * The failovers make the carrier side the carriers' side. */
static void test_failover_learned(void **state)
{
    (void)state;
    struct calls *c = calls_new(NULL, NULL);   /* default: held while learning */
    assert_non_null(c);
    const char *P = "10.1.0.10", *Si = "10.1.0.1", *So = "10.2.0.1", *A = "10.2.0.50",
               *B = "10.2.0.60";
    char to[16];
    for (int i = 0; i < 3; i++) {
        snprintf(to, sizeof to, "089123400%d", i);
        char c0[8], c1[8];
        snprintf(c0, sizeof c0, "p%d", i);
        snprintf(c1, sizeof c1, "s%d", i);
        answered_call(c, (uint64_t)i * 3000, c0, P, Si, "+49301112222", to, 100, 900, 5000, NULL);
        answered_call(c, (uint64_t)i * 3000 + 20, c1, So, A, "0301112222", to, 80, 870, 5000, NULL);
    }
    /* failover after a 503 */
    const char *f = "0891239999";
    TX(c, 10000, P, Si, .method = "INVITE", .cid = "f0", .from = "+49301112222", .to = f, .ruri = f);
    TX(c, 10020, So, A, .method = "INVITE", .cid = "f1", .from = "0301112222", .to = f, .ruri = f);
    TX(c, 10100, A, So, .status = 503, .reason = "Service Unavailable", .cid = "f1",
       .from = "0301112222", .to = f, .ttag = "a");
    TX(c, 10105, So, A, .method = "ACK", .cid = "f1", .from = "0301112222", .to = f, .ttag = "a");
    answered_call(c, 10150, "f2", So, B, "0301112222", f, 100, 800, 5000, NULL);
    TX(c, 10960, Si, P, .status = 200, .reason = "OK", .cid = "f0", .from = "+49301112222", .to = f,
       .ttag = "tt", .cmeth = "INVITE");
    TX(c, 10970, P, Si, .method = "ACK", .cid = "f0", .from = "+49301112222", .to = f, .ttag = "tt",
       .branch = "z9hG4bKack");
    bye_call(c, 15960, "f0", P, Si, "+49301112222", f);
    /* failover after silence: carrier A never answers, the SBC cancels */
    const char *g = "0891238888";
    TX(c, 15000, P, Si, .method = "INVITE", .cid = "g0", .from = "+49301112222", .to = g, .ruri = g);
    TX(c, 15020, So, A, .method = "INVITE", .cid = "g1", .from = "0301112222", .to = g, .ruri = g);
    TX(c, 20020, So, A, .method = "CANCEL", .cid = "g1", .from = "0301112222", .to = g,
       .cmeth = "CANCEL");
    answered_call(c, 20030, "g2", So, B, "0301112222", g, 100, 800, 5000, NULL);
    TX(c, 20840, Si, P, .status = 200, .reason = "OK", .cid = "g0", .from = "+49301112222", .to = g,
       .ttag = "tt", .cmeth = "INVITE");
    TX(c, 20850, P, Si, .method = "ACK", .cid = "g0", .from = "+49301112222", .to = g, .ttag = "tt",
       .branch = "z9hG4bKack");
    bye_call(c, 25840, "g0", P, Si, "+49301112222", g);
    calls_tick(c, BASE_NS + 29000 * MS);
    assert_int_equal(calls_count(c), 0);   /* held: 22 legs within 30 s */
    calls_finish(c);
    assert_int_equal(calls_count(c), 5);
    int three = 0;
    for (size_t i = 0; i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        if (k->nlegs == 2) {
            assert_int_equal(k->legs[1].ev_type, CALLS_EV_TIMING);
            continue;
        }
        assert_int_equal(k->nlegs, 3);
        three++;
        assert_int_equal(k->outcome, CALLS_ANSWERED);
        assert_int_equal(k->failure_side, CALLS_SIDE_NONE);
        assert_int_equal(k->direction, CALLS_DIR_OUTBOUND);
        assert_string_equal(k->legs[2].call_id, k->legs[0].call_id[0] == 'f' ? "f2" : "g2");
        assert_int_equal(k->legs[2].ev_type, CALLS_EV_TIMING);
        assert_int_equal(k->legs[1].outcome,
                         k->legs[0].call_id[0] == 'f' ? CALLS_FAILED : CALLS_CANCELLED);
        char a[64];
        if (k->legs[0].call_id[0] == 'f')
            assert_string_equal(ts_addr_str(&k->legs[1].err_src, a, sizeof a), A);
    }
    assert_int_equal(three, 2);
    assert_int_equal(calls_stat(c, TS_CALLS_FAILOVERS), 2);
    /* trunk A: 5 attempts, 3 answered, the 503 failed */
    const struct calls_trunk *ta = NULL;
    char a[64];
    for (size_t i = 0; i < calls_trunk_count(c); i++)
        if (!strcmp(ts_addr_str(&calls_trunk_get(c, i)->peer, a, sizeof a), A))
            ta = calls_trunk_get(c, i);
    assert_non_null(ta);
    assert_string_equal(ts_addr_str(&ta->local, a, sizeof a), So);
    assert_true(ta->itsp);
    assert_int_equal(ta->all.attempts, 5);
    assert_int_equal(ta->all.failed, 1);
    assert_int_equal(ta->all.cancelled, 1);
    assert_int_equal(ta->codes[503 - 100], 1);
    /* the learned picture: one SBC with both addresses, two carriers */
    struct calls_topo_node nv[16];
    size_t n = calls_topo_nodes(c, nv, 16);
    int sbc = 0, carriers = 0;
    for (size_t i = 0; i < n; i++) {
        if (nv[i].role == CALLS_ROLE_SBC) {
            sbc++;
            assert_int_equal(nv[i].naddrs, 2);
            assert_true(nv[i].b2bua);
        }
        carriers += nv[i].role == CALLS_ROLE_CARRIER;
    }
    assert_int_equal(sbc, 1);
    assert_int_equal(carriers, 2);
    calls_free(c);
}

/* Each node's site is the site that saw most of its INVITEs (not the
 * first one): the PBX is first seen by the branch sensor, then three times
 * by dc1; the relay's two faces, the carrier and the PBX are dc1's, the branch
 * phone the branch's; a local capture (no site) leaves it empty. */
static void test_topo_site(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *P = "10.1.0.10", *Si = "10.1.0.1", *So = "10.2.0.1", *A = "10.2.0.50",
               *Ph = "10.9.0.5", *L = "10.7.0.7";
    char to[16], c0[8], c1[8];
    SITE = "branch";
    answered_call(c, 0, "b0", Ph, P, "2001", "2002", 100, 900, 1000, NULL);
    SITE = "dc1";
    for (int i = 0; i < 3; i++) {
        snprintf(to, sizeof to, "089123400%d", i);
        snprintf(c0, sizeof c0, "p%d", i);
        snprintf(c1, sizeof c1, "s%d", i);
        answered_call(c, 3000 + (uint64_t)i * 3000, c0, P, Si, "+49301112222", to, 100, 900,
                      5000, NULL);
        answered_call(c, 3000 + (uint64_t)i * 3000 + 20, c1, So, A, "0301112222", to, 80, 870,
                      5000, NULL);
    }
    SITE = NULL;
    answered_call(c, 20000, "l0", L, P, "3001", "3002", 100, 900, 1000, NULL);
    calls_finish(c);
    struct calls_topo_node nv[16];
    size_t n = calls_topo_nodes(c, nv, 16);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        char a[64];
        const char *first = ts_addr_str(&nv[i].addrs[0], a, sizeof a);
        if (nv[i].b2bua) {   /* the relay: both faces */
            assert_int_equal(nv[i].naddrs, 2);
            assert_string_equal(nv[i].site, "dc1");
            seen |= 1;
        } else if (!strcmp(first, A)) {
            assert_string_equal(nv[i].site, "dc1");
            seen |= 2;
        } else if (!strcmp(first, P)) {
            assert_string_equal(nv[i].site, "dc1");   /* 3 of the 4 INVITEs sites saw */
            seen |= 4;
        } else if (!strcmp(first, Ph)) {
            assert_string_equal(nv[i].site, "branch");
            seen |= 8;
        } else if (!strcmp(first, L)) {
            assert_string_equal(nv[i].site, "");
            seen |= 16;
        }
    }
    assert_int_equal(seen, 31);
    calls_free(c);
}

struct merged_log {
    unsigned calls, merges;
    uint64_t replaced[8];
};

static void sink_merges(void *ctx, const struct calls_call *k)
{
    struct merged_log *g = ctx;
    if (!k->replaces) {
        g->calls++;
        return;
    }
    assert_true(g->merges < 8);
    g->replaced[g->merges++] = k->replaces;
    assert_int_equal(k->nlegs, 2);
    assert_int_equal(k->legs[1].ev_linked_to, 0);
    assert_int_equal(k->legs[1].ev_type, CALLS_EV_TIMING);
}

/* Call i (0..9) of a relay through a dual-homed SBC (10.1.0.1 in, 10.2.0.1
 * out), 20 s apart: the outer leg p<i>, 20 ms later the inner one s<i>,
 * both answered; the inner one's hang-up relayed 300 ms late (not a mirror:
 * learned at the third call), or none yet (bye_inner false). Then the
 * clock runs 19 s on. */
static void relay_late_bye(struct calls *c, int i, bool bye_inner, bool other_caller)
{
    uint64_t t = (uint64_t)i * 20000;
    char to[16], c0[8], c1[8];
    snprintf(to, sizeof to, "089123400%d", i);
    snprintf(c0, sizeof c0, "p%d", i);
    snprintf(c1, sizeof c1, "s%d", i);
    answered_call(c, t, c0, "10.1.0.10", "10.1.0.1", "+49301112222", to, 100, 900, 5000, NULL);
    if (bye_inner)
        answered_call(c, t + 20, c1, "10.2.0.1", "10.2.0.50", "0301112222", to, 80, 870, 5310,
                      NULL);
    else
        setup_call(c, t + 20, c1, "10.2.0.1", "10.2.0.50", "0301112222", to, 80, 870, NULL);
    if (other_caller)   /* same numbers, another caller, another callee */
        answered_call(c, t + 40, "h0", "10.1.0.77", "10.1.0.78", "+49301112222", to, 80, 870,
                      5000, NULL);
    for (uint64_t k = 7; k <= 19; k++)
        calls_tick(c, BASE_NS + (t + k * 1000) * MS);
}

/* A sensor that emits calls as they end: the relay through a dual-homed
 * SBC (private on both sides, no configuration) is learned at its third
 * call, after the first two were emitted as single legs; they are joined
 * then (the sink hears which call each one replaces, the report keeps the
 * merged calls only). A call from another host with the same numbers in
 * the same window, emitted at the same time, is not joined to anything.
 * The SBC relays the hang-ups 300 ms late, so the mirror rule (below) does
 * not learn it from the first call. */
static void test_relink_emitted(void **state)
{
    (void)state;
    struct calls *c = mk();
    struct merged_log g = { 0 };
    calls_set_sink(c, sink_merges, &g);
    for (int i = 0; i < 3; i++) {
        relay_late_bye(c, i, true, i == 0);
        if (i < 2)
            assert_int_equal(calls_count(c), (size_t)(2 * (i + 1) + 1));   /* emitted apart */
    }
    calls_finish(c);
    assert_int_equal(calls_stat(c, TS_CALLS_RELINKED), 2);
    assert_int_equal(g.merges, 2);
    assert_int_equal(calls_count(c), 4);   /* three relayed calls and h0 */
    int two = 0;
    for (size_t i = 0; i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        if (k->nlegs == 1) {
            assert_string_equal(k->legs[0].call_id, "h0");
            continue;
        }
        assert_int_equal(k->nlegs, 2);
        assert_int_equal(k->legs[0].call_id[0], 'p');
        assert_int_equal(k->legs[1].call_id[0], 's');
        assert_int_equal(k->legs[0].call_id[1], k->legs[1].call_id[1]);
        assert_int_equal(k->legs[1].ev_linked_to, 0);
        assert_int_equal(k->outcome, CALLS_ANSWERED);
        for (unsigned m = 0; m < g.merges; m++)
            assert_true(k->id != g.replaced[m]);   /* the absorbed ids are gone */
        two++;
    }
    assert_int_equal(two, 3);
    calls_free(c);
}

/* The same relay, but the first call's inner leg outlasts the learning: its
 * outer leg was emitted before the topology knew the SBC, the inner one is
 * emitted after it, when nothing else changes the topology, and still joins
 * the outer one (the ring is read for a call emitted after a change while
 * an entry older than the change is kept). */
static void test_relink_after_learning(void **state)
{
    (void)state;
    struct calls *c = mk();
    struct merged_log g = { 0 };
    calls_set_sink(c, sink_merges, &g);
    for (int i = 0; i < 3; i++)   /* s0 answered, its BYE long after the third call */
        relay_late_bye(c, i, i > 0, false);
    assert_int_equal(g.merges, 1);   /* p1 and s1, once learned */
    bye_call(c, 90000, "s0", "10.2.0.1", "10.2.0.50", "0301112222", "0891234000");
    calls_tick(c, BASE_NS + 100000 * MS);
    calls_finish(c);
    assert_int_equal(g.merges, 2);
    assert_int_equal(calls_stat(c, TS_CALLS_RELINKED), 2);
    calls_free(c);
}

/* ---- the mirror rule: a B2BUA learned from one or two relayed calls ---- */

static const char *MP = "10.1.0.10", *MSi = "10.1.0.1", *MSo = "10.2.0.1", *MA = "10.2.0.50";

/* An answered call relayed through the dual-homed SBC (MSi in, MSo out):
 * the outer leg's INVITE at t, the inner one gap ms later; the inner 180
 * and 200 come back at t+100 and t+900 and are relayed ans_skew ms later;
 * the caller hangs up at t+5900, relayed bye_skew ms later. */
static void relay_answered(struct calls *c, uint64_t t, int i, uint64_t gap, uint64_t ans_skew,
                           uint64_t bye_skew, const char *extra_out, const char *extra_in)
{
    char to[16], x[8], d[8];
    snprintf(to, sizeof to, "089123450%d", i);
    snprintf(x, sizeof x, "x%d", i);
    snprintf(d, sizeof d, "d%d", i);
    const char *fx = "+49301112222", *fd = "0301112222";
    TX(c, t, MP, MSi, .method = "INVITE", .cid = x, .from = fx, .to = to, .ruri = to,
       .extra = extra_out);
    TX(c, t + 1, MSi, MP, .status = 100, .cid = x, .from = fx, .to = to, .cmeth = "INVITE");
    TX(c, t + gap, MSo, MA, .method = "INVITE", .cid = d, .from = fd, .to = to, .ruri = to,
       .extra = extra_in);
    TX(c, t + gap + 1, MA, MSo, .status = 100, .cid = d, .from = fd, .to = to, .cmeth = "INVITE");
    TX(c, t + 100, MA, MSo, .status = 180, .cid = d, .from = fd, .to = to, .ttag = "tt",
       .cmeth = "INVITE");
    TX(c, t + 101, MSi, MP, .status = 180, .cid = x, .from = fx, .to = to, .ttag = "tt",
       .cmeth = "INVITE");
    TX(c, t + 900, MA, MSo, .status = 200, .reason = "OK", .cid = d, .from = fd, .to = to,
       .ttag = "tt", .cmeth = "INVITE");
    TX(c, t + 900 + ans_skew, MSi, MP, .status = 200, .reason = "OK", .cid = x, .from = fx,
       .to = to, .ttag = "tt", .cmeth = "INVITE");
    TX(c, t + 901, MSo, MA, .method = "ACK", .cid = d, .from = fd, .to = to, .ttag = "tt",
       .branch = "z9hG4bKack");
    TX(c, t + 901 + ans_skew, MP, MSi, .method = "ACK", .cid = x, .from = fx, .to = to,
       .ttag = "tt", .branch = "z9hG4bKack");
    bye_call(c, t + 5900, x, MP, MSi, fx, to);
    bye_call(c, t + 5900 + bye_skew, d, MSo, MA, fd, to);
}

/* A call the carrier refuses with status (486, 503...) at t+200, relayed
 * to the PBX skew ms later as relayed (a proxy turns 503 into 500). */
static void relay_refused(struct calls *c, uint64_t t, int i, unsigned status, unsigned relayed,
                          int64_t skew)
{
    char to[16], x[8], d[8];
    snprintf(to, sizeof to, "089123460%d", i);
    snprintf(x, sizeof x, "rx%d", i);
    snprintf(d, sizeof d, "rd%d", i);
    const char *fx = "+49301112222", *fd = "0301112222";
    TX(c, t, MP, MSi, .method = "INVITE", .cid = x, .from = fx, .to = to, .ruri = to);
    TX(c, t + 2, MSo, MA, .method = "INVITE", .cid = d, .from = fd, .to = to, .ruri = to);
    uint64_t td = t + 200, tx = (uint64_t)((int64_t)td + skew);
    for (int k = 0; k < 2; k++) {
        bool inner = (k == 0) == (skew >= 0);   /* in time order */
        uint64_t at = inner ? td : tx;
        const char *id = inner ? d : x, *from = inner ? fd : fx;
        const char *a = inner ? MSo : MP, *b = inner ? MA : MSi;
        TX(c, at, b, a, .status = inner ? status : relayed, .reason = "No", .cid = id,
           .from = from, .to = to, .ttag = "tt", .cmeth = "INVITE");
        TX(c, at + 1, a, b, .method = "ACK", .cid = id, .from = from, .to = to, .ttag = "tt");
    }
}

static const struct calls_topo_node *b2bua_node(const struct calls *c,
                                                struct calls_topo_node *nv, size_t cap)
{
    size_t n = calls_topo_nodes(c, nv, cap);
    for (size_t i = 0; i < n; i++)
        if (nv[i].b2bua)
            return &nv[i];
    return NULL;
}

/* One call through a dual-homed SBC with private addresses on both sides,
 * no configuration, emitted as calls end (a live sensor past its hold):
 * its INVITE left 20 ms after the one that reached the SBC, ring, answer
 * and hang-up were relayed within milliseconds. The pair is learned from
 * this call alone, with the evidence kind "mirror" and a confidence below
 * a relay learned from three calls, and the call is already one call of
 * two legs. A Via added by the relay (a proxy) raises the confidence. */
static void test_mirror_one_call(void **state)
{
    (void)state;
    for (int hint = 0; hint < 2; hint++) {
        struct calls *c = mk();
        relay_answered(c, 0, 0, 20, 2, 30, NULL,
                       hint ? "Via: SIP/2.0/UDP 10.1.0.10;branch=z9hG4bKorig\r\n" : NULL);
        for (uint64_t k = 6; k <= 12; k++)
            calls_tick(c, BASE_NS + k * 1000 * MS);
        assert_int_equal(calls_count(c), 1);   /* emitted grouped, not joined later */
        assert_int_equal(calls_stat(c, TS_CALLS_RELINKED), 0);
        const struct calls_call *k = only_call(c);
        assert_int_equal(k->nlegs, 2);
        assert_string_equal(k->legs[0].call_id, "x0");
        assert_string_equal(k->legs[1].call_id, "d0");
        assert_int_equal(k->legs[1].ev_type, CALLS_EV_TIMING);
        assert_int_equal(k->legs[1].ev_linked_to, 0);
        assert_int_equal(k->outcome, CALLS_ANSWERED);
        assert_int_equal(calls_stat(c, TS_CALLS_TOPO_MIRRORED), 1);
        struct calls_topo_node nv[16];
        const struct calls_topo_node *nd = b2bua_node(c, nv, 16);
        assert_non_null(nd);
        assert_int_equal(nd->naddrs, 2);
        assert_int_equal(nd->how, TOPO_HOW_MIRROR);
        assert_string_equal(calls_topo_how_name(nd->how), "mirror");
        assert_int_equal(nd->calls, 1);
        assert_true(nd->confidence > (hint ? 0.49f : 0.39f) &&
                    nd->confidence < (hint ? 0.51f : 0.41f));
        calls_free(c);
    }
}

/* Two calls, held while learning (the offline default): an answered one
 * and one the carrier refuses with 486, relayed 15 ms later; both grouped,
 * the node learned from 2 mirrored calls. A 503 relayed as 500 mirrors
 * too (a proxy's rule); a CANCEL relayed forward and its 487 back do. */
static void test_mirror_two_calls(void **state)
{
    (void)state;
    struct calls *c = calls_new(NULL, NULL);
    assert_non_null(c);
    relay_answered(c, 0, 0, 20, 2, 30, NULL, NULL);
    relay_refused(c, 10000, 1, 486, 486, 15);
    calls_finish(c);
    assert_int_equal(calls_count(c), 2);
    for (size_t i = 0; i < 2; i++) {
        const struct calls_call *k = calls_get(c, i);
        assert_int_equal(k->nlegs, 2);
        assert_int_equal(k->outcome, i == 0 ? CALLS_ANSWERED : CALLS_BUSY);
    }
    assert_int_equal(calls_stat(c, TS_CALLS_TOPO_MIRRORED), 2);
    struct calls_topo_node nv[16];
    const struct calls_topo_node *nd = b2bua_node(c, nv, 16);
    assert_non_null(nd);
    assert_int_equal(nd->how, TOPO_HOW_MIRROR);
    assert_int_equal(nd->calls, 2);
    assert_true(nd->confidence > 0.49f && nd->confidence < 0.51f);
    calls_free(c);

    /* 503 relayed as 500 */
    c = calls_new(NULL, NULL);
    relay_refused(c, 0, 0, 503, 500, 40);
    calls_finish(c);
    assert_int_equal(calls_count(c), 1);
    assert_int_equal(calls_stat(c, TS_CALLS_TOPO_MIRRORED), 1);
    calls_free(c);

    /* the caller cancels: CANCEL relayed 10 ms later, 487 back */
    c = calls_new(NULL, NULL);
    const char *to = "0891234700", *fx = "+49301112222", *fd = "0301112222";
    TX(c, 0, MP, MSi, .method = "INVITE", .cid = "cx", .from = fx, .to = to, .ruri = to);
    TX(c, 3, MSo, MA, .method = "INVITE", .cid = "cd", .from = fd, .to = to, .ruri = to);
    TX(c, 100, MA, MSo, .status = 180, .cid = "cd", .from = fd, .to = to, .ttag = "tt",
       .cmeth = "INVITE");
    TX(c, 101, MSi, MP, .status = 180, .cid = "cx", .from = fx, .to = to, .ttag = "tt",
       .cmeth = "INVITE");
    TX(c, 4000, MP, MSi, .method = "CANCEL", .cid = "cx", .from = fx, .to = to);
    TX(c, 4010, MSo, MA, .method = "CANCEL", .cid = "cd", .from = fd, .to = to);
    TX(c, 4012, MA, MSo, .status = 487, .cid = "cd", .from = fd, .to = to, .ttag = "tt",
       .cmeth = "INVITE");
    TX(c, 4013, MSi, MP, .status = 487, .cid = "cx", .from = fx, .to = to, .ttag = "tt",
       .cmeth = "INVITE");
    calls_finish(c);
    assert_int_equal(calls_count(c), 1);
    assert_int_equal(only_call(c)->nlegs, 2);
    assert_int_equal(only_call(c)->outcome, CALLS_CANCELLED);
    assert_int_equal(calls_stat(c, TS_CALLS_TOPO_MIRRORED), 1);
    calls_free(c);
}

/* What the mirror rule must not take for a relay (each: no node learned,
 * the legs left apart):
 * - the same calling and called digits dialled at nearly the same time
 *   through unrelated hosts (two PBXs, two carriers), answered and hung
 *   up seconds apart; and the same, both refused with 486 100 ms after
 *   their own INVITEs (the outer refusal comes first: nothing relayed it);
 * - a relay-like pair whose answer came back 400 ms apart, or whose
 *   hang-ups are 400 ms apart, or whose refusal on the outer leg came
 *   before the one on the inner leg;
 * - a pair whose second INVITE left 300 ms after the first (beyond the
 *   rule's 200 ms), everything else mirrored. */
static void test_mirror_negative(void **state)
{
    (void)state;
    for (int v = 0; v < 6; v++) {
        struct calls *c = calls_new(NULL, NULL);
        assert_non_null(c);
        const char *to = "0891234800", *fr = "+49301112222";
        switch (v) {
        case 0:
            answered_call(c, 0, "u1", "10.1.0.20", "10.2.0.50", fr, to, 100, 900, 5000, NULL);
            answered_call(c, 50, "u2", "10.3.0.5", "10.4.0.60", fr, to, 300, 3900, 9000, NULL);
            break;
        case 1:
            TX(c, 0, "10.1.0.20", "10.2.0.50", .method = "INVITE", .cid = "u1", .from = fr,
               .to = to, .ruri = to);
            TX(c, 50, "10.3.0.5", "10.4.0.60", .method = "INVITE", .cid = "u2", .from = fr,
               .to = to, .ruri = to);
            TX(c, 100, "10.2.0.50", "10.1.0.20", .status = 486, .cid = "u1", .from = fr,
               .to = to, .ttag = "t1", .cmeth = "INVITE");
            TX(c, 150, "10.4.0.60", "10.3.0.5", .status = 486, .cid = "u2", .from = fr, .to = to,
               .ttag = "t2", .cmeth = "INVITE");
            break;
        case 2:
            relay_answered(c, 0, 0, 20, 400, 30, NULL, NULL);
            break;
        case 3:
            relay_answered(c, 0, 0, 20, 2, 400, NULL, NULL);
            break;
        case 4:
            relay_refused(c, 0, 0, 486, 486, -15);
            break;
        default:
            relay_answered(c, 0, 0, 300, 2, 30, NULL, NULL);
            break;
        }
        calls_finish(c);
        assert_int_equal(calls_stat(c, TS_CALLS_TOPO_MIRRORED), 0);
        assert_int_equal(calls_count(c), 2);
        assert_int_equal(calls_get(c, 0)->nlegs, 1);
        struct calls_topo_node nv[16];
        assert_null(b2bua_node(c, nv, 16));
        calls_free(c);
    }
}

/* A 2xx the caller never ACKs is repeated until the callee's Timer H gives
 * up with a BYE (RFC 3261 13.3.1.4): the leg is answered but flagged, the
 * trunk counts it and it is not a completed session. */
static void test_no_ack(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *E = "10.0.0.1", *I = "203.0.113.5";
    TX(c, 0, E, I, .method = "INVITE", .cid = "n1", .from = "100", .to = "200");
    TX(c, 900, I, E, .status = 200, .reason = "OK", .cid = "n1", .ttag = "t", .cmeth = "INVITE");
    for (int i = 1; i <= 6; i++)   /* T1 doubling up to T2: the same message again */
        TX(c, 900 + 500u * (1u << (i < 4 ? i : 3)) * (unsigned)i, I, E, .status = 200,
           .reason = "OK", .cid = "n1", .ttag = "t", .cmeth = "INVITE");
    TX(c, 32900, I, E, .method = "BYE", .cid = "n1", .cseq = 2, .from = "200", .ftag = "t",
       .to = "100", .ttag = "ft", .branch = "z9hG4bKb");
    answered_call(c, 60000, "n2", E, I, "100", "200", 100, 900, 5000, NULL);
    calls_finish(c);
    assert_int_equal(calls_count(c), 2);
    const struct calls_call *k = calls_get(c, 0);
    assert_string_equal(k->legs[0].call_id, "n1");
    assert_int_equal(k->outcome, CALLS_ANSWERED);
    assert_true(k->no_ack);
    assert_true(k->legs[0].no_ack);
    assert_false(calls_get(c, 1)->no_ack);
    const struct calls_trunk *t = calls_trunk_get(c, 0);
    assert_int_equal(t->all.attempts, 2);
    assert_int_equal(t->all.answered, 2);
    assert_int_equal(t->all.no_ack, 1);
    assert_int_equal(t->all.completed, 1);
    calls_free(c);
}

static void unreach(struct calls *c, uint64_t t_ms, const char *reporter, const char *src,
                    const char *dst, uint8_t code, const char *quote)
{
    struct pkt_meta m, q;
    memset(&m, 0, sizeof m);
    m.ts_ns = BASE_NS + t_ms * MS;
    addr_port(reporter, &m.src, &m.sport);
    addr_port(src, &m.dst, &m.dport);
    q = m;
    q.ipver = 4;
    q.l4 = TS_L4_UDP;
    addr_port(src, &q.src, &q.sport);
    addr_port(dst, &q.dst, &q.dport);
    calls_unreach(c, &m, &q, code, bv_make(quote, strlen(quote)));
}

/* An ICMP port unreachable quoting the INVITE fails the leg with that
 * reason: by the quoted Call-ID, or (cut short before it) by the INVITE's
 * addresses and ports; an ICMP about anything else changes nothing. */
static void test_icmp_unreach_leg(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *S = "198.51.100.10", *I = "203.0.113.5";
    TX(c, 0, S, I, .method = "INVITE", .cid = "u1", .from = "100", .to = "200");
    unreach(c, 3, I, S, I, 3, "INVITE sip:200@example.net SIP/2.0\r\nVia: x\r\n"
                               "Call-ID: u1\r\nCSeq: 1 INVITE\r\n");
    TX(c, 10000, S, I, .method = "INVITE", .cid = "u2", .from = "101", .to = "201");
    unreach(c, 10002, "192.0.2.254", S, I, 1, "INVITE sip:201@example.net SIP/2.0\r\nVia: SIP/2.0/U");
    TX(c, 20000, S, I, .method = "INVITE", .cid = "u3", .from = "102", .to = "202");
    unreach(c, 20002, I, S, "203.0.113.6", 3, "INVITE sip:202@example.net SIP/2.0\r\n");
    unreach(c, 20003, I, S, I, 3, "OPTIONS sip:x SIP/2.0\r\nCall-ID: u3\r\n");
    TX(c, 20500, I, S, .status = 486, .reason = "Busy Here", .cid = "u3", .ttag = "b",
       .cmeth = "INVITE");
    calls_finish(c);
    assert_int_equal(calls_count(c), 3);
    const struct calls_call *k = calls_get(c, 0);
    assert_string_equal(k->legs[0].call_id, "u1");
    assert_int_equal(k->outcome, CALLS_FAILED);
    assert_true(k->legs[0].unreach);
    assert_non_null(strstr(k->legs[0].reason, "ICMP port unreachable from 203.0.113.5"));
    assert_int_equal(k->failure_side, CALLS_SIDE_ITSP);
    assert_non_null(strstr(k->failure_detail, "203.0.113.5 unreachable"));
    k = calls_get(c, 1);
    assert_string_equal(k->legs[0].call_id, "u2");
    assert_int_equal(k->outcome, CALLS_FAILED);
    assert_non_null(strstr(k->legs[0].reason, "host unreachable from 192.0.2.254"));
    k = calls_get(c, 2);
    assert_int_equal(k->outcome, CALLS_BUSY);
    assert_false(k->legs[0].unreach);
    assert_int_equal(calls_stat(c, TS_CALLS_UNREACH), 2);
    assert_int_equal(calls_stat(c, TS_CALLS_UNREACH_UNMATCHED), 1);
    calls_free(c);
}

/* sbc = lines: N accepted, N+1 refused; learned addresses do not need
 * room in that list. */
static void test_sbc_config_limit(void **state)
{
    (void)state;
    char path[] = "/tmp/ts_calls_sbcXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    for (int extra = -1; extra <= 1; extra++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        for (int i = 0; i < TS_CALLS_MAX_SBC + extra; i++)
            fprintf(f, "sbc = 192.0.2.%d\n", i + 1);
        fclose(f);
        struct calls_config cfg;
        calls_config_default(&cfg);
        cfg.learn_hold_legs = 0;
        char err[256] = "";
        int rc = calls_config_load(&cfg, path, err, sizeof err);
        assert_int_equal(rc, extra > 0 ? CALLS_ERR_SYNTAX : CALLS_OK);
        if (extra > 0)
            continue;
        assert_int_equal(cfg.nsbcs, (size_t)(TS_CALLS_MAX_SBC + extra));
        struct calls *c = calls_new(&cfg, NULL);
        assert_non_null(c);
        /* a configured SBC refusing a call */
        TX(c, 0, "203.0.113.5", "192.0.2.1", .method = "INVITE", .cid = "x");
        TX(c, 5, "192.0.2.1", "203.0.113.5", .status = 403, .cid = "x", .ttag = "s");
        /* an SBC to learn: 10.0.0.2 inside, 198.51.100.10 outside */
        const char *sid = "Session-ID: 00001111222233334444555566667777\r\n";
        answered_call(c, 100, "y0", "10.0.0.1", "10.0.0.2", "1", "2", 100, 900, 5000, sid);
        answered_call(c, 120, "y1", "198.51.100.10", "203.0.113.5", "1", "2", 80, 870, 5000,
                      sid);
        calls_finish(c);
        assert_int_equal(calls_get(c, 0)->failure_side, CALLS_SIDE_SBC);
        /* learned from the traffic: in the topology table, whatever the
         * configured list holds */
        assert_int_equal(calls_stat(c, TS_CALLS_SBC_LEARNED), 2);
        assert_int_equal(calls_stat(c, TS_CALLS_SBC_FULL), 0);
        calls_free(c);
    }
    unlink(path);
}

/* An answered call from..to whose offer and answer carry one codec (payload
 * pt); the BYE is the caller's to send. */
static void codec_call(struct calls *c, uint64_t t, const char *cid, const char *from,
                       const char *to, unsigned pt)
{
    const char *E = "10.0.0.1", *I = "203.0.113.5";
    char o[256], a[256];
    snprintf(o, sizeof o, "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP %u\r\n", E, E, (unsigned)(4000 + t / 100), pt);
    snprintf(a, sizeof a, "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
             "m=audio %u RTP/AVP %u\r\n", I, I, (unsigned)(30000 + t / 100), pt);
    TX(c, t, E, I, .method = "INVITE", .cid = cid, .from = from, .to = to, .ruri = to, .sdp = o);
    TX(c, t + 100, I, E, .status = 200, .reason = "OK", .cid = cid, .from = from, .to = to,
       .ttag = "tt", .cmeth = "INVITE", .sdp = a);
    TX(c, t + 110, E, I, .method = "ACK", .cid = cid, .from = from, .to = to, .ttag = "tt",
       .branch = "z9hG4bKack");
}

/* The peak bandwidth is one instant's: two G.711 calls, later three G.729
 * calls: 2 x 87.2 kbit/s, with the codec mix of that instant (adding each
 * codec's own peak gave 268 kbit/s, a moment that never happened). */
static void test_trunk_peak_bandwidth(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *E = "10.0.0.1", *I = "203.0.113.5";
    codec_call(c, 0, "g1", "101", "201", 0);
    codec_call(c, 3000, "g2", "102", "202", 0);
    bye_call(c, 9000, "g2", E, I, "102", "202");
    bye_call(c, 10000, "g1", E, I, "101", "201");
    codec_call(c, 20000, "g3", "103", "203", 18);
    codec_call(c, 23000, "g4", "104", "204", 18);
    codec_call(c, 26000, "g5", "105", "205", 18);
    bye_call(c, 29000, "g5", E, I, "105", "205");
    bye_call(c, 29500, "g4", E, I, "104", "204");
    bye_call(c, 30000, "g3", E, I, "103", "203");
    calls_finish(c);
    assert_int_equal(calls_trunk_count(c), 1);
    const struct calls_trunk *t = calls_trunk_get(c, 0);
    assert_int_equal(t->peak_concurrent, 3);
    assert_true(calls_trunk_peak_kbps(t) > 174.39 && calls_trunk_peak_kbps(t) < 174.41);
    assert_int_equal(t->peak_codec[CALLS_CODEC_G711], 2);
    assert_int_equal(t->peak_codec[CALLS_CODEC_G729], 0);
    calls_free(c);
}

static void test_trunk_kpis(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *E = "10.0.0.1", *I = "203.0.113.5";
    setup_call(c, 0, "k1", E, I, "1", "2", 100, 1000, NULL);
    setup_call(c, 10000, "k2", E, I, "1", "2", 300, 2000, NULL);
    TX(c, 20000, E, I, .method = "INVITE", .cid = "k3");
    TX(c, 20100, I, E, .status = 486, .cid = "k3", .ttag = "t");
    TX(c, 30000, E, I, .method = "INVITE", .cid = "k4");
    TX(c, 30100, I, E, .status = 503, .cid = "k4", .ttag = "t");
    /* inbound on the same trunk */
    TX(c, 40000, I, E, .method = "INVITE", .cid = "k5");
    TX(c, 40100, E, I, .status = 603, .cid = "k5", .ttag = "t");
    bye_call(c, 61000, "k1", E, I, "1", "2");
    bye_call(c, 132000, "k2", E, I, "1", "2");
    calls_finish(c);
    assert_int_equal(calls_trunk_count(c), 1);
    const struct calls_trunk *t = calls_trunk_get(c, 0);
    assert_true(t->itsp);
    char a[64];
    assert_string_equal(ts_addr_str(&t->peer, a, sizeof a), "203.0.113.5");
    assert_string_equal(t->name, "203.0.113.5");
    const struct calls_kpi *o = &t->dir[CALLS_DIR_OUTBOUND];
    assert_int_equal(o->attempts, 4);
    assert_int_equal(o->answered, 2);
    assert_true(calls_kpi_asr(o) == 0.5);
    assert_true(calls_kpi_ner(o) == 0.75);      /* 2 answered + 486 */
    assert_true(calls_kpi_acd_s(o) == 90.0);
    assert_true(calls_kpi_mean(o->srd_sum_ms, o->srd_n) == 200.0);
    assert_true(calls_kpi_mean(o->ans_sum_ms, o->ans_n) == 1500.0);
    assert_true(calls_kpi_isa(o) == 0.25);       /* 503 */
    assert_true(calls_kpi_scr(o) == 0.5);
    assert_true(calls_kpi_seer(o) == 0.75);
    assert_true(calls_kpi_mean(o->sdd_sum_ms, o->sdd_n) == 20.0);
    assert_int_equal(t->dir[CALLS_DIR_INBOUND].attempts, 1);
    assert_int_equal(t->all.attempts, 5);
    assert_true(calls_kpi_ner(&t->all) == 0.8);  /* + 603 */
    assert_int_equal(t->codes[200 - 100], 2);
    assert_int_equal(t->codes[486 - 100], 1);
    assert_int_equal(t->codes[503 - 100], 1);
    assert_int_equal(t->codes[603 - 100], 1);
    assert_int_equal(t->peak_concurrent, 2);
    assert_true(calls_trunk_peak_kbps(t) > 174.39 && calls_trunk_peak_kbps(t) < 174.41);
    assert_int_equal(calls_hist_p95(&t->srd_hist), 310);
    /* 60 s buckets aligned to the epoch: BASE is 20 s into a minute, so the
     * INVITEs at 0..30 s fall in the first, 40 s in the second; the peak of
     * 2 answered calls is in the first */
    assert_int_equal(t->nbuckets, 2);
    assert_int_equal(t->buckets[0].k.attempts, 4);
    assert_int_equal(t->buckets[1].k.attempts, 1);
    assert_int_equal(t->buckets[0].peak_concurrent, 2);
    assert_int_equal(t->buckets[1].start_ns - t->buckets[0].start_ns, 60000 * MS);
    calls_free(c);
}

/* Answered legs idle past the linger leave the tick's walk until their next
 * message or the no-BYE timeout; eviction, drops and the end of input still
 * find them, in the order they were last touched. */
/* The read-ahead hash is the dialog key's: the Call-ID as stored, with
 * non-printable bytes as '?' and cut to the field. */
static void test_callid_hash(void **state)
{
    (void)state;
    char longid[200], cut[CALLS_TEXT_LEN];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    memcpy(cut, longid, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    assert_int_equal(calls_callid_hash(bv_cstr(longid)), calls_callid_hash(bv_cstr(cut)));
    assert_int_equal(calls_callid_hash(bv_cstr(cut)), ts_hash(cut, strlen(cut)));
    assert_int_equal(calls_callid_hash(bv_cstr("a\x01" "b")), calls_callid_hash(bv_cstr("a?b")));
    assert_int_not_equal(calls_callid_hash(bv_cstr("a@b")), calls_callid_hash(bv_cstr("a@c")));
    assert_int_equal(calls_callid_hash(BV_NULL), 0);
}

static void test_parked_dialogs(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.no_bye_timeout_s = 600;
    cfg.max_dialogs = 7;
    struct calls *c = calls_new(&cfg, NULL);
    char cid[16];
    for (unsigned i = 0; i < 5; i++) {
        snprintf(cid, sizeof cid, "p%u", i);
        setup_call(c, i * 100, cid, "10.0.0.1", "10.0.0.2", "alice", "bob", 0, 50, NULL);
    }
    calls_tick(c, BASE_NS + 3000 * MS);
    assert_int_equal(calls_dialogs_parked(c), 0);    /* younger than the linger */
    calls_tick(c, BASE_NS + 10000 * MS);
    assert_int_equal(calls_dialogs_parked(c), 5);
    assert_int_equal(calls_dialogs_held(c), 5);
    /* a BYE brings p2 back: it ends by the caller, not by the timeout */
    bye_call(c, 20000, "p2", "10.0.0.1", "10.0.0.2", "alice", "bob");
    assert_int_equal(calls_dialogs_parked(c), 4);
    calls_tick(c, BASE_NS + 30000 * MS);
    assert_int_equal(calls_count(c), 1);
    assert_string_equal(calls_get(c, 0)->legs[0].call_id, "p2");
    assert_int_equal(calls_get(c, 0)->legs[0].hangup_by, CALLS_PARTY_CALLER);
    /* a re-INVITE touches p0: p1 is now the least recently touched */
    TX(c, 31000, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "p0", .cseq = 2,
       .ttag = "tt", .branch = "z9hG4bKre");
    assert_int_equal(calls_dialogs_parked(c), 3);
    /* a new leg, then two more: the table holds 7, so the oldest goes,
     * parked or not */
    TX(c, 32000, "10.0.0.3", "10.0.0.4", .method = "INVITE", .cid = "n0");
    TX(c, 32100, "10.0.0.3", "10.0.0.4", .method = "INVITE", .cid = "n1");
    TX(c, 32200, "10.0.0.3", "10.0.0.4", .method = "INVITE", .cid = "n2");
    assert_int_equal(calls_dialogs_held(c), 7);
    TX(c, 32300, "10.0.0.3", "10.0.0.4", .method = "INVITE", .cid = "n3");
    assert_int_equal(calls_stat(c, TS_CALLS_EVICTED), 1);
    assert_int_equal(calls_count(c), 2);
    assert_string_equal(calls_get(c, 1)->legs[0].call_id, "p1");
    assert_int_equal(calls_dialogs_parked(c), 2);
    /* a capture drop reaches the parked legs too */
    calls_note_drop(c, BASE_NS + 33000 * MS, BASE_NS + 34000 * MS);
    /* the end of input emits the rest, least recently touched first */
    calls_finish(c);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_int_equal(calls_dialogs_parked(c), 0);
    static const char *const order[] = { "p3", "p4", "p0", "n0", "n1", "n2", "n3" };
    assert_int_equal(calls_count(c), 2 + sizeof order / sizeof order[0]);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const struct calls_call *k = calls_get(c, 2 + i);
        assert_string_equal(k->legs[0].call_id, order[i]);
        assert_true(k->legs[0].capture_gap);
    }
    calls_free(c);
}

/* Ringing legs wait for the no-final-response timeout, and an ended leg
 * for the other leg of its call, out of the walk too; both come back. */
static void test_parked_ringing_and_waiting(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.no_final_timeout_s = 60;
    cfg.no_bye_timeout_s = 600;
    struct calls *c = calls_new(&cfg, NULL);
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "ring");
    TX(c, 100, "10.0.0.2", "10.0.0.1", .status = 180, .cid = "ring", .ttag = "t");
    const char *sid = "Session-ID: ab30317f1a784dc48ff824d0d3715d86;remote=00000000000000000000000000000000\r\n";
    setup_call(c, 1000, "legA", "10.0.0.1", "10.0.0.2", "100", "200", 100, 900, sid);
    setup_call(c, 1030, "legB", "10.0.0.2", "203.0.113.5", "999", "888", 50, 850, sid);
    bye_call(c, 5000, "legA", "10.0.0.1", "10.0.0.2", "100", "200");   /* legB's BYE is lost */
    calls_tick(c, BASE_NS + 20000 * MS);
    assert_int_equal(calls_dialogs_held(c), 3);
    assert_int_equal(calls_dialogs_parked(c), 3);   /* ringing, answered, ended */
    assert_int_equal(calls_count(c), 0);
    calls_tick(c, BASE_NS + 59000 * MS);
    assert_int_equal(calls_count(c), 0);
    calls_tick(c, BASE_NS + 61000 * MS);            /* INVITE + 60 s: "ring" times out */
    assert_int_equal(calls_count(c), 1);
    assert_string_equal(calls_get(c, 0)->legs[0].call_id, "ring");
    assert_int_equal(calls_get(c, 0)->outcome, CALLS_TIMEOUT);
    assert_int_equal(calls_dialogs_parked(c), 2);
    /* legB's no-BYE timeout ends the call: both legs in one record */
    calls_tick(c, BASE_NS + 600000 * MS);
    assert_int_equal(calls_count(c), 1);
    calls_tick(c, BASE_NS + 602000 * MS);
    assert_int_equal(calls_count(c), 2);
    const struct calls_call *k = calls_get(c, 1);
    assert_int_equal(k->nlegs, 2);
    assert_string_equal(k->legs[0].call_id, "legA");
    assert_int_equal(k->legs[0].hangup_by, CALLS_PARTY_CALLER);
    assert_int_equal(k->legs[1].hangup_by, CALLS_PARTY_TIMEOUT);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_int_equal(calls_dialogs_parked(c), 0);
    calls_free(c);
}

/* Calls open when the input ends: up or ringing is in_progress (an answered
 * one lasts until the end of the input), an INVITE without any response
 * younger than Timer B is pending, older a timeout; open ones blame nobody
 * and stay out of the trunk's KPIs. */
static void test_open_at_end(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *A = "10.0.0.1", *B = "203.0.113.5";
    answered_call(c, 0, "done", A, B, "100", "200", 100, 500, 1000, NULL);
    setup_call(c, 1000, "up", A, B, "100", "201", 100, 500, NULL);
    TX(c, 2000, A, B, .method = "INVITE", .cid = "ring", .to = "202");
    TX(c, 2100, B, A, .status = 180, .cid = "ring", .to = "202", .ttag = "t");
    TX(c, 3000, A, B, .method = "INVITE", .cid = "old", .to = "203");
    TX(c, 40000, A, B, .method = "INVITE", .cid = "fresh", .to = "204");
    TX(c, 41000, B, A, .method = "OPTIONS", .cid = "opt", .to = "x");  /* input ends at 41 s */
    calls_finish(c);
    assert_int_equal(calls_count(c), 5);
    for (size_t i = 0; i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        const char *cid = k->legs[0].call_id;
        unsigned want = !strcmp(cid, "done")    ? CALLS_ANSWERED
                        : !strcmp(cid, "up")    ? CALLS_IN_PROGRESS
                        : !strcmp(cid, "ring")  ? CALLS_IN_PROGRESS
                        : !strcmp(cid, "fresh") ? CALLS_PENDING
                                                : CALLS_TIMEOUT; /* "old": 38 s, no answer */
        if (k->outcome != want)
            fail_msg("%s: outcome %s", cid, calls_outcome_name((enum calls_outcome)k->outcome));
        if (want == CALLS_TIMEOUT)
            assert_int_equal(k->failure_side, CALLS_SIDE_ITSP);
        else
            assert_int_equal(k->failure_side, CALLS_SIDE_NONE);
        if (!strcmp(cid, "up")) /* answered at 1.5 s, up until the input ended */
            assert_true(k->duration_s > 39.4 && k->duration_s < 39.6);
    }
    /* done and old ended; up, ring and fresh are not attempts yet */
    assert_int_equal(calls_trunk_count(c), 1);
    const struct calls_trunk *t = calls_trunk_get(c, 0);
    assert_int_equal(t->all.attempts, 2);
    assert_int_equal(t->all.answered, 1);
    assert_int_equal(t->all.timeouts, 1);
    calls_free(c);
}

static void test_dialog_limit(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.max_dialogs = 8;
    struct calls *c = calls_new(&cfg, NULL);
    char cid[32];
    for (unsigned i = 0; i < 7; i++) {
        snprintf(cid, sizeof cid, "lim%u", i);
        TX(c, i, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = cid);
    }
    assert_int_equal(calls_dialogs_held(c), 7);     /* N-1 */
    TX(c, 7, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "lim7");
    assert_int_equal(calls_dialogs_held(c), 8);     /* N */
    assert_int_equal(calls_stat(c, TS_CALLS_EVICTED), 0);
    TX(c, 8, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = "lim8");
    assert_int_equal(calls_dialogs_held(c), 8);     /* N+1: the oldest goes */
    assert_int_equal(calls_stat(c, TS_CALLS_EVICTED), 1);
    assert_int_equal(calls_count(c), 1);
    assert_string_equal(calls_get(c, 0)->legs[0].call_id, "lim0");
    assert_int_equal(calls_get(c, 0)->outcome, CALLS_TIMEOUT);
    calls_finish(c);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_int_equal(calls_count(c), 9);
    calls_free(c);
}

static unsigned sink_calls;
static void sink(void *ctx, const struct calls_call *k)
{
    (void)ctx;
    if (k->outcome == CALLS_ANSWERED && k->nlegs == 1)
        sink_calls++;
}

/* A sensor keeps no finished calls: they reach the sink, calls_get has none. */
static void test_no_report(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.no_report = true;
    struct calls *c = calls_new(&cfg, NULL);
    assert_non_null(c);
    calls_set_sink(c, sink, NULL);
    sink_calls = 0;
    const char *A = "10.0.0.1", *B = "10.0.0.2";
    TX(c, 0, A, B, .method = "INVITE", .cid = "nr", .to = "2000", .from = "1000");
    TX(c, 100, B, A, .status = 200, .cid = "nr", .to = "2000", .from = "1000", .ttag = "b1");
    TX(c, 5000, A, B, .method = "BYE", .cid = "nr", .from = "1000", .to = "2000", .ttag = "b1",
       .branch = "z9hG4bKnr");
    TX(c, 5010, B, A, .status = 200, .cid = "nr", .cmeth = "BYE", .from = "1000", .to = "2000",
       .ttag = "b1", .branch = "z9hG4bKnr");
    calls_finish(c);
    assert_int_equal(sink_calls, 1);
    assert_int_equal(calls_emitted(c), 1);
    assert_int_equal(calls_count(c), 0);
    assert_int_equal(calls_dialogs_held(c), 0);
    calls_free(c);
}

static void test_many_sequential_calls(void **state)
{
    (void)state;
    struct calls *c = mk();
    calls_set_sink(c, sink, NULL);
    sink_calls = 0;
    char cid[32];
    size_t peak = 0;
    const unsigned N = 100000;
    for (unsigned i = 0; i < N; i++) {
        uint64_t t = (uint64_t)i * 10;
        snprintf(cid, sizeof cid, "seq-%u", i);
        TX(c, t, "10.0.0.1", "10.0.0.2", .method = "INVITE", .cid = cid);
        TX(c, t + 1, "10.0.0.2", "10.0.0.1", .status = 200, .cid = cid, .ttag = "t");
        TX(c, t + 2, "10.0.0.1", "10.0.0.2", .method = "ACK", .cid = cid, .ttag = "t",
           .branch = "z9hG4bKa");
        TX(c, t + 8, "10.0.0.1", "10.0.0.2", .method = "BYE", .cseq = 2, .cid = cid, .ttag = "t",
           .branch = "z9hG4bKb");
        TX(c, t + 9, "10.0.0.2", "10.0.0.1", .status = 200, .cseq = 2, .cmeth = "BYE", .cid = cid,
           .ttag = "t", .branch = "z9hG4bKb");
        if (i % 100 == 99)
            calls_tick(c, BASE_NS + (t + 10) * MS);
        if (calls_dialogs_held(c) > peak)
            peak = calls_dialogs_held(c);
    }
    assert_true(peak < 1000);   /* 4 s linger at 100 calls/s */
    calls_finish(c);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_int_equal(calls_emitted(c), N);
    assert_int_equal(sink_calls, N);
    assert_int_equal(calls_count(c), TS_MAX_REPORT_CALLS < N ? TS_MAX_REPORT_CALLS : N);
    assert_int_equal(calls_stat(c, TS_CALLS_REPORT_DROPPED),
                     N > TS_MAX_REPORT_CALLS ? N - TS_MAX_REPORT_CALLS : 0);
    assert_int_equal(calls_trunk_get(c, 0)->all.answered, N);
    assert_int_equal(calls_trunk_get(c, 0)->peak_concurrent, 1);
    calls_free(c);
}

static void test_register_options(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *U = "10.0.0.50", *R = "203.0.113.1";
    TX(c, 0, U, R, .method = "REGISTER", .cid = "reg1", .cseq = 1, .to = "alice");
    TX(c, 40, R, U, .status = 401, .cid = "reg1", .cseq = 1, .cmeth = "REGISTER", .ttag = "r");
    TX(c, 100, U, R, .method = "REGISTER", .cid = "reg1", .cseq = 2, .to = "alice");
    TX(c, 600, U, R, .method = "REGISTER", .cid = "reg1", .cseq = 2, .to = "alice"); /* retrans */
    TX(c, 660, R, U, .status = 200, .cid = "reg1", .cseq = 2, .cmeth = "REGISTER", .ttag = "r");
    TX(c, 700, U, R, .method = "REGISTER", .cid = "reg1", .cseq = 3, .to = "alice");
    TX(c, 720, R, U, .status = 403, .cid = "reg1", .cseq = 3, .cmeth = "REGISTER", .ttag = "r");
    TX(c, 800, U, R, .method = "REGISTER", .cid = "reg1", .cseq = 4, .to = "alice");
    TX(c, 1000, R, U, .method = "OPTIONS", .cid = "opt1");
    TX(c, 1030, U, R, .status = 200, .cid = "opt1", .cmeth = "OPTIONS", .ttag = "o");
    calls_tick(c, BASE_NS + 40000 * MS);   /* cseq 4 never answered: timeout */
    assert_int_equal(calls_reg_count(c), 2);
    assert_int_equal(calls_pending_held(c), 0);
    const struct calls_reg *r = calls_reg_get(c, 0);
    assert_int_equal(r->method, SIP_M_REGISTER);
    assert_int_equal(r->attempts, 4);
    assert_int_equal(r->challenges, 1);
    assert_int_equal(r->successes, 1);
    assert_int_equal(r->failures, 1);
    assert_int_equal(r->timeouts, 1);
    assert_int_equal(r->rt_max_ms, 560);
    assert_string_equal(r->aor, "alice");
    const struct calls_reg *o = calls_reg_get(c, 1);
    assert_int_equal(o->method, SIP_M_OPTIONS);
    assert_int_equal(o->successes, 1);
    assert_true(o->rt_sum_ms == 30.0);
    assert_int_equal(calls_count(c), 0);   /* no leg from REGISTER/OPTIONS */
    calls_free(c);
}

static void test_orphans_and_hostile(void **state)
{
    (void)state;
    struct calls *c = mk();
    TX(c, 0, "10.0.0.1", "10.0.0.2", .method = "BYE", .cid = "never-seen");
    TX(c, 0, "10.0.0.2", "10.0.0.1", .status = 200, .cid = "never-seen-2");
    assert_int_equal(calls_stat(c, TS_CALLS_ORPHANS), 2);
    /* a parsed message with few headers and odd values must not crash */
    const char *raw[] = {
        "INVITE sip:x@y SIP/2.0\r\nCall-ID: z\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        "SIP/2.0 200 OK\r\nCall-ID: z\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
        "Content-Length: 40\r\n\r\nv=0\r\nm=audio 99999 RTP/AVP x\r\nc=IN IP4 \r\n",
        "INVITE tel:+1-555-0100 SIP/2.0\r\nCall-ID: t\r\nFrom: <tel:+1-555-0100>;tag=a\r\n"
        "To: \"\" <>\r\nSession-ID: ;remote=\r\nCSeq: 9 INVITE\r\nContent-Length: 0\r\n\r\n",
    };
    struct pkt_meta pm;
    memset(&pm, 0, sizeof pm);
    pm.ts_ns = BASE_NS;
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        if (sip_parse((const uint8_t *)raw[i], strlen(raw[i]), false, &M) == SIP_OK)
            calls_sip(c, &pm, &M);
    }
    calls_sip(NULL, &pm, &M);
    calls_tick(NULL, 0);
    calls_finish(c);
    assert_int_equal(calls_dialogs_held(c), 0);
    calls_free(c);
    calls_free(NULL);
}

/* Mutated messages, few Call-IDs, tiny table: no crash, bounds hold. */
static void test_random_mutations(void **state)
{
    (void)state;
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.max_dialogs = 16;
    struct calls *c = calls_new(&cfg, NULL);
    char s1[512];
    static const char *const methods[] = { "INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "PRACK",
                                           "REFER", "NOTIFY", "REGISTER", "OPTIONS" };
    static const unsigned codes[] = { 100, 180, 183, 200, 401, 407, 486, 487, 503, 603 };
    uint64_t x = 88172645463325252ull;
    char cid[16], tag[8];
    for (unsigned i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        snprintf(cid, sizeof cid, "r%u", (unsigned)(x % 40));
        snprintf(tag, sizeof tag, "t%u", (unsigned)((x >> 8) % 3));
        const char *src = (x >> 12) & 1 ? "10.0.0.1" : "203.0.113.7";
        const char *dst = (x >> 12) & 1 ? "203.0.113.7" : "10.0.0.1";
        const char *sid = (x >> 20) % 4 == 0 ? "Session-ID: 0123456789abcdef0123456789abcdef\r\n"
                          : (x >> 20) % 4 == 1 ? "X-CID: r3\r\n" : NULL;
        const char *body = (x >> 24) % 3 == 0
                               ? sdp(s1, sizeof s1, src, (unsigned)(4000 + (x >> 30) % 4),
                                     (x >> 26) & 1 ? "sendonly" : "sendrecv")
                               : NULL;
        if ((x >> 16) & 1)
            TX(c, i * 50, src, dst, .method = methods[(x >> 32) % 10], .cid = cid,
               .cseq = (unsigned)((x >> 40) % 4 + 1), .ttag = (x >> 44) & 1 ? tag : NULL,
               .ftag = (x >> 45) & 1 ? "ft" : "other", .extra = sid, .sdp = body);
        else
            TX(c, i * 50, src, dst, .status = codes[(x >> 32) % 10], .cid = cid,
               .cseq = (unsigned)((x >> 40) % 4 + 1), .ttag = tag,
               .cmeth = methods[(x >> 48) % 10], .extra = sid, .sdp = body);
        assert_true(calls_dialogs_held(c) <= 16);
        if (i % 97 == 0)
            calls_tick(c, BASE_NS + (uint64_t)i * 50 * MS);
    }
    calls_finish(c);
    assert_int_equal(calls_dialogs_held(c), 0);
    assert_true(calls_emitted(c) > 0);
    json_t *j = report_json_array(c, 'c');
    assert_non_null(j);
    json_decref(j);
    j = report_json_array(c, 't');
    assert_non_null(j);
    json_decref(j);
    calls_free(c);
}

static void test_config_load(void **state)
{
    (void)state;
    char path[] = "/tmp/ts_calls_cfgXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# test\ninternal_net = 100.64.0.0/10\ncorr_header = X-Foo\n"
               "corr_window_ms = 1500\ncountry_code = 49\ntrunk = 203.0.113.5 Carrier A\n"
               "max_dialogs = 99\n");
    fclose(f);
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    char err[256] = "";
    assert_int_equal(calls_config_load(&cfg, path, err, sizeof err), CALLS_OK);
    assert_int_equal(cfg.nnets, 1);
    assert_int_equal(cfg.ncorr_hdrs, 1);
    assert_string_equal(cfg.corr_hdrs[0], "X-Foo");
    assert_int_equal(cfg.corr_window_ms, 1500);
    assert_string_equal(cfg.country_code, "49");
    assert_int_equal(cfg.ntrunk_names, 1);
    assert_string_equal(cfg.trunk_names[0].name, "Carrier A");
    assert_int_equal(cfg.max_dialogs, 99);
    struct ts_addr a = { 4, { 100, 100, 1, 1 } }, b = { 4, { 10, 0, 0, 1 } };
    assert_true(calls_config_internal(&cfg, &a));
    assert_false(calls_config_internal(&cfg, &b));
    f = fopen(path, "w");
    fprintf(f, "internal_net = 300.1.1.1/8\n");
    fclose(f);
    assert_int_equal(calls_config_load(&cfg, path, err, sizeof err), CALLS_ERR_SYNTAX);
    assert_non_null(strstr(err, ":1:"));
    /* the error names the value and what was expected instead */
    assert_non_null(strstr(err, "internal_net = '300.1.1.1/8': expected an address range"));
    f = fopen(path, "w");
    fprintf(f, "# comment\nlinger_ms = 5s\n");
    fclose(f);
    assert_int_equal(calls_config_load(&cfg, path, err, sizeof err), CALLS_ERR_SYNTAX);
    assert_non_null(strstr(err, ":2: linger_ms = '5s': expected a whole number"));
    f = fopen(path, "w");
    fprintf(f, "internal_nets = 10.0.0.0/8\n");
    fclose(f);
    assert_int_equal(calls_config_load(&cfg, path, err, sizeof err), CALLS_ERR_SYNTAX);
    assert_non_null(strstr(err, "unknown setting 'internal_nets'"));
    f = fopen(path, "w");
    fprintf(f, "no equals sign\n");
    fclose(f);
    assert_int_equal(calls_config_load(&cfg, path, err, sizeof err), CALLS_ERR_SYNTAX);
    unlink(path);
    assert_int_equal(calls_config_load(&cfg, path, err, sizeof err), CALLS_ERR_IO);
    /* defaults: RFC 1918 and ULA are internal */
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    struct ts_addr u = { 6, { 0xfd, 0x17 } }, p = { 4, { 172, 32, 0, 1 } };
    assert_true(calls_config_internal(&cfg, &u));
    assert_false(calls_config_internal(&cfg, &p));
}

/* The kept call holding a leg with this Call-ID. */
static const struct calls_call *call_with(const struct calls *c, const char *cid)
{
    for (size_t i = 0; i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        for (unsigned j = 0; j < k->nlegs; j++)
            if (!strcmp(k->legs[j].call_id, cid))
                return k;
    }
    fail_msg("no call with leg %s", cid);
    return NULL;
}

static const struct calls_trunk *trunk_to(const struct calls *c, const char *local,
                                          const char *peer)
{
    char a[64], b[64];
    for (size_t i = 0; i < calls_trunk_count(c); i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        if (!strcmp(ts_addr_str(&t->local, a, sizeof a), local) &&
            !strcmp(ts_addr_str(&t->peer, b, sizeof b), peer))
            return t;
    }
    fail_msg("no trunk %s - %s", local, peer);
    return NULL;
}

/* SIGHUP reload: trunk names, internal networks, correlation headers and
 * SBC addresses apply to what comes next; table sizes and buckets stay. */
static void test_set_config(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *E = "10.0.0.1", *P = "203.0.113.5", *Q = "198.51.100.7", *S = "192.0.2.10";
    answered_call(c, 0, "r1", E, P, "11", "21", 100, 1000, 5000, NULL);
    answered_call(c, 500, "s0", S, Q, "12", "22", 100, 1000, 5000, NULL);
    calls_tick(c, BASE_NS + 20000 * MS);
    assert_int_equal(calls_count(c), 2);
    assert_int_equal(call_with(c, "r1")->direction, CALLS_DIR_OUTBOUND);
    assert_int_equal(call_with(c, "s0")->direction, CALLS_DIR_TRANSIT);
    assert_string_equal(trunk_to(c, E, P)->name, "203.0.113.5");
    assert_true(trunk_to(c, E, P)->itsp);

    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.learn_hold_legs = 0;
    cfg.nnets = 2;
    cfg.nets[0] = (struct calls_net){ { 4, { 10 } }, 8 };
    cfg.nets[1] = (struct calls_net){ { 4, { 203, 0, 113 } }, 24 };
    cfg.ntrunk_names = 2;
    cfg.trunk_names[0] = (struct calls_trunk_name){ { 4, { 203, 0, 113, 5 } }, "Carrier-A" };
    cfg.trunk_names[1] = (struct calls_trunk_name){ { 4, { 198, 51, 100, 7 } }, "Carrier-B" };
    cfg.ncorr_hdrs = 1;
    snprintf(cfg.corr_hdrs[0], sizeof cfg.corr_hdrs[0], "X-Leg-Ref");
    cfg.nsbcs = 1;
    cfg.sbcs[0] = (struct ts_addr){ 4, { 192, 0, 2, 10 } };
    cfg.corr_window_ms = 1234;
    cfg.max_dialogs = 3;                 /* not applied: it sizes the tables */
    cfg.bucket_s = 5;                    /* not applied: buckets are laid out */
    snprintf(cfg.country_code, sizeof cfg.country_code, "49");
    calls_set_config(c, &cfg);
    calls_set_config(c, calls_config_of(c)); /* onto itself: harmless */

    const struct calls_config *now = calls_config_of(c);
    assert_int_equal(now->nnets, 2);
    assert_int_equal(now->ncorr_hdrs, 1);
    assert_string_equal(now->corr_hdrs[0], "X-Leg-Ref");
    assert_int_equal(now->ntrunk_names, 2);
    assert_int_equal(now->corr_window_ms, 1234);
    assert_int_equal(now->max_dialogs, TS_MAX_DIALOGS);
    assert_int_equal(now->bucket_s, 60);
    assert_string_equal(now->country_code, "");
    /* the existing trunk takes its name; its peer is internal now */
    assert_string_equal(trunk_to(c, E, P)->name, "Carrier-A");
    assert_false(trunk_to(c, E, P)->itsp);

    /* new calls: 203.0.113.0/24 is ours, 192.0.2.10 an SBC */
    answered_call(c, 30000, "r2", E, P, "13", "23", 100, 1000, 5000, NULL);
    answered_call(c, 30500, "r3", E, Q, "14", "24", 100, 1000, 5000, NULL);
    answered_call(c, 31000, "s1", S, Q, "15", "25", 100, 1000, 5000, NULL);
    /* the new header links legs, the old one no longer does */
    answered_call(c, 60000, "h1", E, "10.0.0.2", "16", "26", 100, 900, 5000,
                  "X-Leg-Ref: lr-9\r\n");
    answered_call(c, 63000, "h2", "10.0.0.2", Q, "7", "8", 50, 850, 5000,
                  "X-Leg-Ref: lr-9\r\n");
    answered_call(c, 90000, "x1", E, "10.0.0.2", "17", "27", 100, 900, 5000, NULL);
    answered_call(c, 93000, "x2", "10.0.0.2", Q, "3", "4", 50, 850, 5000, "X-CID: x1\r\n");
    calls_finish(c);
    assert_int_equal(call_with(c, "r2")->direction, CALLS_DIR_INTERNAL);
    assert_int_equal(call_with(c, "r3")->direction, CALLS_DIR_OUTBOUND);
    assert_int_equal(call_with(c, "s1")->direction, CALLS_DIR_OUTBOUND);
    assert_string_equal(trunk_to(c, E, Q)->name, "Carrier-B");
    assert_true(trunk_to(c, E, Q)->itsp);
    assert_string_equal(trunk_to(c, S, Q)->name, "Carrier-B");
    const struct calls_call *h = call_with(c, "h1");
    assert_int_equal(h->nlegs, 2);
    assert_ptr_equal(call_with(c, "h2"), h);
    assert_int_equal(h->legs[1].ev_type, CALLS_EV_HEADER);
    assert_int_equal(call_with(c, "x1")->nlegs, 1);
    assert_int_equal(call_with(c, "x2")->nlegs, 1);
    calls_free(c);
}

static void test_json(void **state)
{
    (void)state;
    struct calls *c = mk();
    const char *sid = "Session-ID: ab30317f1a784dc48ff824d0d3715d86\r\n";
    answered_call(c, 0, "legA", "10.0.0.1", "10.0.0.2", "100", "200", 100, 900, 5000, sid);
    answered_call(c, 30, "legB", "10.0.0.2", "203.0.113.5", "9", "8", 50, 850, 5000, sid);
    TX(c, 100, "10.0.0.50", "203.0.113.1", .method = "OPTIONS", .cid = "o");
    calls_finish(c);
    json_t *calls = report_json_array(c, 'c'), *trunks = report_json_array(c, 't'),
           *regs = report_json_array(c, 'r');
    assert_int_equal(json_array_size(calls), 1);
    json_t *k = json_array_get(calls, 0);
    assert_string_equal(json_string_value(json_object_get(k, "outcome")), "answered");
    assert_true(json_is_null(json_object_get(k, "failure_side")));
    assert_int_equal(json_integer_value(json_object_get(k, "pdd_ms")), 100);
    const char *start = json_string_value(json_object_get(k, "start"));
    assert_non_null(start);
    assert_int_equal(strlen(start), 24);
    json_t *legs = json_object_get(k, "legs");
    assert_int_equal(json_array_size(legs), 2);
    assert_true(json_is_null(json_object_get(json_array_get(legs, 0), "evidence")));
    json_t *ev = json_object_get(json_array_get(legs, 1), "evidence");
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "session_id");
    assert_int_equal(json_integer_value(json_object_get(ev, "linked_to")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(legs, 0), "src")),
                        "10.0.0.1:5060");
    assert_int_equal(json_array_size(trunks), 2);
    json_t *t = json_array_get(trunks, 1);
    assert_string_equal(json_string_value(json_object_get(t, "type")), "itsp");
    assert_true(json_real_value(json_object_get(t, "asr")) == 1.0);
    assert_non_null(json_object_get(json_object_get(t, "codes"), "200"));
    assert_int_equal(json_array_size(json_object_get(t, "buckets")), 1);
    assert_int_equal(json_array_size(regs), 1);
    char *dump = json_dumps(calls, 0);
    assert_non_null(dump);
    free(dump);
    json_decref(calls);
    json_decref(trunks);
    json_decref(regs);
    calls_free(c);
}

int main(void)
{
    ts_hash_seed_fixed(1, 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answered_bye_by_callee),
        cmocka_unit_test(test_endpoint_reports),
        cmocka_unit_test(test_busy_and_rejected),
        cmocka_unit_test(test_cancel_487),
        cmocka_unit_test(test_auth_retry),
        cmocka_unit_test(test_forking),
        cmocka_unit_test(test_retransmissions),
        cmocka_unit_test(test_fingerprint_limit),
        cmocka_unit_test(test_transaction_limit),
        cmocka_unit_test(test_leg_strings_kept),
        cmocka_unit_test(test_same_callid_two_hops),
        cmocka_unit_test(test_timeouts_free_state),
        cmocka_unit_test(test_reinvite_hold_resume),
        cmocka_unit_test(test_corr_session_id),
        cmocka_unit_test(test_corr_x_cid),
        cmocka_unit_test(test_corr_timing_numbers),
        cmocka_unit_test(test_corr_order),
        cmocka_unit_test(test_corr_ambiguous),
        cmocka_unit_test(test_corr_three_leg_chain),
        cmocka_unit_test(test_corr_shared_media),
        cmocka_unit_test(test_failure_attribution),
        cmocka_unit_test(test_trunk_kpis),
        cmocka_unit_test(test_trunk_peak_bandwidth),
        cmocka_unit_test(test_timer_b_timeout),
        cmocka_unit_test(test_duration_first_bye),
        cmocka_unit_test(test_sbc_learned),
        cmocka_unit_test(test_failover_learned),
        cmocka_unit_test(test_topo_site),
        cmocka_unit_test(test_relink_emitted),
        cmocka_unit_test(test_relink_after_learning),
        cmocka_unit_test(test_mirror_one_call),
        cmocka_unit_test(test_mirror_two_calls),
        cmocka_unit_test(test_mirror_negative),
        cmocka_unit_test(test_no_ack),
        cmocka_unit_test(test_icmp_unreach_leg),
        cmocka_unit_test(test_corr_timing_multihomed),
        cmocka_unit_test(test_sbc_config_limit),
        cmocka_unit_test(test_dialog_limit),
        cmocka_unit_test(test_open_at_end),
        cmocka_unit_test(test_callid_hash),
        cmocka_unit_test(test_parked_dialogs),
        cmocka_unit_test(test_parked_ringing_and_waiting),
        cmocka_unit_test(test_register_options),
        cmocka_unit_test(test_orphans_and_hostile),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_config_load),
        cmocka_unit_test(test_set_config),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_no_report), cmocka_unit_test(test_many_sequential_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
