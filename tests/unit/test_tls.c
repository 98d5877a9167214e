/* Unit tests for dissect/tls.c: hellos built byte by byte after RFC 8446
 * section 4.1.2/4.1.3 and RFC 5246 section 7.4.1 (versions, suites, SNI,
 * ALPN, session id, ticket, EMS, HelloRetryRequest), a TLS 1.2 and a TLS
 * 1.3 conversation fed whole, one byte at a time and at every split point,
 * several records per segment and messages spanning records, certificate
 * lists, CertificateRequest (MTLS), alerts and failures, and the limits at
 * N-1, N and N+1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dissect/tls.h"

/* ---- a small writer ---- */
struct wb {
    uint8_t b[200000];
    size_t n;
};

static void put8(struct wb *w, unsigned v) { w->b[w->n++] = (uint8_t)v; }
static void put16(struct wb *w, unsigned v) { put8(w, v >> 8); put8(w, v & 0xff); }
static void put24(struct wb *w, unsigned v) { put8(w, v >> 16); put16(w, v & 0xffff); }
static void putn(struct wb *w, const void *p, size_t n) { memcpy(w->b + w->n, p, n); w->n += n; }
/* patch a length field of size sz at position at: bytes written since at+sz */
static void patch(struct wb *w, size_t at, int sz)
{
    size_t len = w->n - at - (size_t)sz;
    for (int i = sz - 1; i >= 0; i--, len >>= 8)
        w->b[at + (size_t)i] = (uint8_t)(len & 0xff);
}

struct hello_opts {
    unsigned nsuites;
    unsigned nversions; /* supported_versions entries (0: extension absent) */
    const char *sni;
    const char *alpn1, *alpn2;
    unsigned sid_len;
    bool ems, ticket, psk;
};

/* A ClientHello handshake message (header included). */
static void client_hello(struct wb *w, const struct hello_opts *o)
{
    put8(w, TLS_HS_CLIENT_HELLO);
    size_t at = w->n;
    put24(w, 0);
    put16(w, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(w, 0xc0 + (unsigned)i);
    put8(w, o->sid_len);
    for (unsigned i = 0; i < o->sid_len; i++)
        put8(w, 0x50 + i);
    put16(w, 2 * o->nsuites);
    for (unsigned i = 0; i < o->nsuites; i++)
        put16(w, 0x1301 + i);
    put8(w, 1);
    put8(w, 0);
    size_t ext = w->n;
    put16(w, 0);
    if (o->sni) {
        put16(w, 0);
        size_t e = w->n;
        put16(w, 0);
        size_t l = w->n;
        put16(w, 0);
        put8(w, 0);
        put16(w, (unsigned)strlen(o->sni));
        putn(w, o->sni, strlen(o->sni));
        patch(w, l, 2);
        patch(w, e, 2);
    }
    if (o->alpn1) {
        put16(w, 16);
        size_t e = w->n;
        put16(w, 0);
        size_t l = w->n;
        put16(w, 0);
        put8(w, (unsigned)strlen(o->alpn1));
        putn(w, o->alpn1, strlen(o->alpn1));
        if (o->alpn2) {
            put8(w, (unsigned)strlen(o->alpn2));
            putn(w, o->alpn2, strlen(o->alpn2));
        }
        patch(w, l, 2);
        patch(w, e, 2);
    }
    if (o->nversions) {
        put16(w, 43);
        put16(w, 1 + 2 * o->nversions);
        put8(w, 2 * o->nversions);
        for (unsigned i = 0; i < o->nversions; i++)
            put16(w, 0x0304 - i);
    }
    if (o->ems) {
        put16(w, 23);
        put16(w, 0);
    }
    if (o->ticket) {
        put16(w, 35);
        put16(w, 3);
        putn(w, "tkt", 3);
    }
    if (o->psk) {
        put16(w, 41);
        put16(w, 1);
        put8(w, 0);
    }
    patch(w, ext, 2);
    patch(w, at, 3);
}

static void server_hello(struct wb *w, unsigned version, unsigned suite, unsigned sid_len,
                         bool ems, const char *alpn, bool hrr)
{
    static const uint8_t hrr_random[32] = {
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
        0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    };
    put8(w, TLS_HS_SERVER_HELLO);
    size_t at = w->n;
    put24(w, 0);
    put16(w, 0x0303);
    if (hrr)
        putn(w, hrr_random, 32);
    else
        for (int i = 0; i < 32; i++)
            put8(w, 0x20 + (unsigned)i);
    put8(w, sid_len);
    for (unsigned i = 0; i < sid_len; i++)
        put8(w, 0x50 + i);
    put16(w, suite);
    put8(w, 0);
    size_t ext = w->n;
    put16(w, 0);
    if (version == 0x0304) {
        put16(w, 43);
        put16(w, 2);
        put16(w, 0x0304);
    }
    if (ems) {
        put16(w, 23);
        put16(w, 0);
    }
    if (alpn) {
        put16(w, 16);
        put16(w, (unsigned)(3 + strlen(alpn)));
        put16(w, (unsigned)(1 + strlen(alpn)));
        put8(w, (unsigned)strlen(alpn));
        putn(w, alpn, strlen(alpn));
    }
    patch(w, ext, 2);
    patch(w, at, 3);
}

/* Certificate (TLS 1.2 layout) carrying n fake DER blobs of size sz each. */
static void certificate(struct wb *w, unsigned n, unsigned sz)
{
    put8(w, TLS_HS_CERTIFICATE);
    size_t at = w->n;
    put24(w, 0);
    size_t l = w->n;
    put24(w, 0);
    for (unsigned i = 0; i < n; i++) {
        put24(w, sz);
        for (unsigned k = 0; k < sz; k++)
            put8(w, (unsigned)(i * 7 + k) & 0xff);
    }
    patch(w, l, 3);
    patch(w, at, 3);
}

static void empty_msg(struct wb *w, unsigned type, unsigned len)
{
    put8(w, type);
    put24(w, len);
    for (unsigned i = 0; i < len; i++)
        put8(w, i & 0xff);
}

/* Wrap bytes [from, w->n) of a scratch writer into records of at most
 * maxrec bytes of content type type, appended to out. */
static void records(struct wb *out, unsigned type, const uint8_t *p, size_t n, size_t maxrec)
{
    while (n) {
        size_t k = n < maxrec ? n : maxrec;
        put8(out, type);
        put16(out, 0x0303);
        put16(out, (unsigned)k);
        putn(out, p, k);
        p += k;
        n -= k;
    }
}

/* The handshake messages written in m, as records of at most maxrec bytes
 * appended to out; m emptied for the next flight. */
static void hs_records(struct wb *out, struct wb *m, size_t maxrec)
{
    records(out, TLS_CT_HANDSHAKE, m->b, m->n, maxrec);
    m->n = 0;
}

static void opaque_record(struct wb *out, unsigned type, unsigned len)
{
    put8(out, type);
    put16(out, 0x0303);
    put16(out, len);
    for (unsigned i = 0; i < len; i++)
        put8(out, 0xaa);
}

/* ---- a conversation: two directions, as segments in order ---- */
struct seg {
    int dir;
    size_t off, len; /* in conv.b */
};
struct conv {
    struct wb w;
    struct seg seg[64];
    size_t nseg;
};

/* The records written in src as the next segment, sent in direction dir;
 * src emptied for the next. */
static void conv_add(struct conv *cv, int dir, struct wb *src)
{
    cv->seg[cv->nseg].dir = dir;
    cv->seg[cv->nseg].off = cv->w.n;
    cv->seg[cv->nseg].len = src->n;
    putn(&cv->w, src->b, src->n);
    cv->nseg++;
    src->n = 0;
}

struct seen {
    unsigned certs_server, certs_client, alerts, hs[32];
    size_t cert_len[8];
    uint64_t ch_off;
};

static void on_cert(void *ctx, struct tls_conn *c, bool from_server, unsigned index, struct bv der)
{
    (void)c;
    struct seen *s = ctx;
    if (from_server)
        s->certs_server++;
    else
        s->certs_client++;
    if (index < 8)
        s->cert_len[index] = der.len;
}

static void on_hs(void *ctx, struct tls_conn *c, int dir, uint8_t type, struct bv msg, uint64_t off)
{
    (void)c;
    (void)dir;
    (void)msg;
    struct seen *s = ctx;
    if (type < 32)
        s->hs[type]++;
    if (type == TLS_HS_CLIENT_HELLO)
        s->ch_off = off;
}

static void on_alert(void *ctx, struct tls_conn *c, int dir, uint8_t level, uint8_t desc)
{
    (void)c;
    (void)dir;
    (void)level;
    (void)desc;
    ((struct seen *)ctx)->alerts++;
}

/* Feed the conversation with each segment cut at chunk bytes (0: whole). */
static void run(const struct conv *cv, size_t chunk, struct tls_conn *c, struct seen *s,
                struct ts_stats *st)
{
    memset(s, 0, sizeof *s);
    memset(st, 0, sizeof *st);
    tls_conn_init(c);
    struct tls_cb cb = { .ctx = s, .handshake = on_hs, .cert = on_cert, .alert = on_alert };
    for (size_t i = 0; i < cv->nseg; i++) {
        const uint8_t *p = cv->w.b + cv->seg[i].off;
        size_t n = cv->seg[i].len;
        while (n) {
            size_t k = chunk && chunk < n ? chunk : n;
            tls_conn_feed(c, cv->seg[i].dir, bv_make(p, k), &cb, st);
            p += k;
            n -= k;
        }
    }
    tls_conn_close(c, st);
}

/* TLS 1.2 with MTLS: ClientHello | ServerHello, Certificate (3 certs, one
 * larger than a record), CertificateRequest, ServerHelloDone | client
 * Certificate, ClientKeyExchange, CCS, Finished | CCS, Finished | data. */
static void build_tls12(struct conv *cv)
{
    struct wb *m = malloc(sizeof *m), *r = malloc(sizeof *r);
    assert_non_null(m);
    assert_non_null(r);
    struct hello_opts o = { .nsuites = 5, .sni = "sip.example.net", .alpn1 = "sip",
                            .alpn2 = "h2", .sid_len = 32, .ems = true, .ticket = true };
    m->n = r->n = 0;
    client_hello(m, &o);
    hs_records(r, m, 16384);
    conv_add(cv, 0, r);
    server_hello(m, 0x0303, 0xc02f, 32, true, "sip", false);
    certificate(m, 3, 9000); /* 27 KB: spans records */
    empty_msg(m, TLS_HS_CERTIFICATE_REQUEST, 20);
    empty_msg(m, TLS_HS_SERVER_HELLO_DONE, 0);
    hs_records(r, m, 16384);
    conv_add(cv, 1, r);
    certificate(m, 1, 700);
    empty_msg(m, TLS_HS_CLIENT_KEY_EXCHANGE, 66);
    hs_records(r, m, 100); /* many small records */
    opaque_record(r, TLS_CT_CCS, 1);
    opaque_record(r, TLS_CT_HANDSHAKE, 40); /* encrypted Finished */
    conv_add(cv, 0, r);
    opaque_record(r, TLS_CT_CCS, 1);
    opaque_record(r, TLS_CT_HANDSHAKE, 40);
    conv_add(cv, 1, r);
    opaque_record(r, TLS_CT_APPDATA, 500);
    opaque_record(r, TLS_CT_APPDATA, 300);
    conv_add(cv, 0, r);
    free(m);
    free(r);
}

static void check_tls12(const struct tls_conn *c, const struct seen *s, const struct ts_stats *st)
{
    assert_int_equal(c->state, TLS_ST_ESTABLISHED);
    assert_int_equal(c->client_dir, 0);
    assert_int_equal(c->version, 0x0303);
    assert_int_equal(c->suite, 0xc02f);
    assert_int_equal(c->nsuites, 5);
    assert_int_equal(c->suites[4], 0x1305);
    assert_int_equal(c->noffered, 1);
    assert_int_equal(c->offered[0], 0x0303);
    assert_string_equal(c->sni, "sip.example.net");
    assert_string_equal(c->alpn_offered, "sip,h2");
    assert_string_equal(c->alpn, "sip");
    assert_true(c->ems);
    assert_true(c->ch_ticket);
    assert_true(c->resumed); /* the server echoed the 32-byte session id */
    assert_int_equal(c->client_random[0], 0xc0);
    assert_int_equal(c->server_random[31], 0x3f);
    assert_int_equal(c->server_certs, 3);
    assert_true(c->cert_requested);
    assert_true(c->client_cert_sent);
    assert_int_equal(c->client_certs, 1);
    assert_int_equal(s->certs_server, 3);
    assert_int_equal(s->certs_client, 1);
    assert_int_equal(s->cert_len[0], 700); /* the client's came last */
    assert_int_equal(s->hs[TLS_HS_CLIENT_HELLO], 1);
    assert_int_equal(s->hs[TLS_HS_SERVER_HELLO_DONE], 1);
    assert_int_equal(s->hs[TLS_HS_CLIENT_KEY_EXCHANGE], 1);
    assert_int_equal(s->hs[TLS_HS_FINISHED], 0); /* encrypted */
    assert_int_equal(s->ch_off, 5);
    assert_int_equal(c->ch_off, 5);
    assert_int_equal(c->sh_off, 5);
    assert_int_equal(st->v[TS_TLS_ESTABLISHED], 1);
    assert_int_equal(st->v[TS_TLS_MALFORMED], 0);
    assert_int_equal(st->v[TS_TLS_LOST], 0);
    assert_int_equal(st->v[TS_TLS_CERTS], 4);
}

static void test_tls12_any_segmentation(void **state)
{
    (void)state;
    struct conv *cv = calloc(1, sizeof *cv);
    struct tls_conn *c = malloc(sizeof *c);
    struct seen s;
    struct ts_stats st;
    assert_non_null(cv);
    build_tls12(cv);
    size_t chunks[] = { 0, 1, 2, 3, 4, 5, 6, 7, 13, 100, 1000, 1460, 16389, 16390 };
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        run(cv, chunks[i], c, &s, &st);
        check_tls12(c, &s, &st);
    }
    free(c);
    free(cv);
}

/* TLS 1.3: ClientHello with supported_versions | HRR | second ClientHello |
 * ServerHello then encrypted flight | CCS + client Finished + data | ticket. */
static void test_tls13(void **state)
{
    (void)state;
    struct conv *cv = calloc(1, sizeof *cv);
    struct wb *m = malloc(sizeof *m), *r = malloc(sizeof *r);
    struct tls_conn *c = malloc(sizeof *c);
    assert_non_null(cv);
    assert_non_null(m);
    assert_non_null(r);
    struct hello_opts o = { .nsuites = 3, .nversions = 2, .sni = "teams.example",
                            .sid_len = 32, .psk = true };
    m->n = r->n = 0;
    client_hello(m, &o);
    hs_records(r, m, 16384);
    conv_add(cv, 0, r);
    server_hello(m, 0x0304, 0x1302, 32, false, NULL, true);
    hs_records(r, m, 16384);
    conv_add(cv, 1, r);
    o.sni = "second.example";
    client_hello(m, &o);
    hs_records(r, m, 16384);
    conv_add(cv, 0, r);
    server_hello(m, 0x0304, 0x1302, 32, false, NULL, false);
    hs_records(r, m, 16384);
    opaque_record(r, TLS_CT_CCS, 1);
    opaque_record(r, TLS_CT_APPDATA, 2000); /* EncryptedExtensions..Finished */
    conv_add(cv, 1, r);
    opaque_record(r, TLS_CT_CCS, 1);
    opaque_record(r, TLS_CT_APPDATA, 53); /* Finished */
    opaque_record(r, TLS_CT_APPDATA, 400); /* SIP */
    conv_add(cv, 0, r);
    opaque_record(r, TLS_CT_APPDATA, 250); /* NewSessionTicket */
    conv_add(cv, 1, r);
    struct seen s;
    struct ts_stats st;
    for (size_t chunk = 0; chunk < 12; chunk++) {
        run(cv, chunk, c, &s, &st);
        assert_int_equal(c->state, TLS_ST_ESTABLISHED);
        assert_int_equal(c->version, 0x0304);
        assert_int_equal(c->suite, 0x1302);
        assert_true(c->hrr);
        assert_int_equal(c->noffered, 2);
        assert_int_equal(c->offered[1], 0x0303);
        assert_string_equal(c->sni, "second.example"); /* the second hello counts */
        assert_true(c->ch_psk);
        assert_true(c->d[0].encrypted && c->d[1].encrypted);
        assert_int_equal(s.hs[TLS_HS_CLIENT_HELLO], 2);
        assert_int_equal(s.hs[TLS_HS_SERVER_HELLO], 2);
        assert_int_equal(st.v[TS_TLS_ESTABLISHED], 1);
    }
    /* the server answers the client's flight with an alert-sized record
     * only (a rejected client certificate): a failure */
    cv->nseg--;
    opaque_record(r, TLS_CT_APPDATA, 19);
    conv_add(cv, 1, r);
    run(cv, 0, c, &s, &st);
    assert_int_equal(c->state, TLS_ST_FAILED);
    assert_int_equal(c->encrypted_alerts, 1);
    assert_int_equal(st.v[TS_TLS_FAILED], 1);
    free(c);
    free(m);
    free(r);
    free(cv);
}

static void test_alert_failure(void **state)
{
    (void)state;
    struct conv *cv = calloc(1, sizeof *cv);
    struct wb *m = malloc(sizeof *m), *r = malloc(sizeof *r);
    struct tls_conn *c = malloc(sizeof *c);
    assert_non_null(cv);
    assert_non_null(m);
    assert_non_null(r);
    struct hello_opts o = { .nsuites = 2 };
    m->n = r->n = 0;
    client_hello(m, &o);
    hs_records(r, m, 16384);
    conv_add(cv, 0, r);
    put8(r, TLS_CT_ALERT);
    put16(r, 0x0303);
    put16(r, 2);
    put8(r, 2);
    put8(r, 40);
    conv_add(cv, 1, r);
    struct seen s;
    struct ts_stats st;
    run(cv, 0, c, &s, &st);
    assert_int_equal(c->state, TLS_ST_FAILED);
    assert_int_equal(c->alerts, 1);
    assert_int_equal(c->last_alert_level, 2);
    assert_int_equal(c->last_alert_desc, 40);
    assert_int_equal(c->last_alert_dir, 1);
    assert_string_equal(tls_alert_name(c->last_alert_desc), "handshake_failure");
    assert_int_equal(s.alerts, 1);
    assert_int_equal(st.v[TS_TLS_FAILED], 1);
    /* no answer at all: closed after the ClientHello is a failure too */
    cv->nseg = 1;
    run(cv, 0, c, &s, &st);
    assert_int_equal(c->state, TLS_ST_FAILED);
    assert_int_equal(c->alerts, 0);
    free(c);
    free(m);
    free(r);
    free(cv);
}

/* r fed whole, from direction dir, to a fresh connection (no callbacks). */
static void feed_fresh(struct tls_conn *c, int dir, const struct wb *r, struct ts_stats *st)
{
    memset(st, 0, sizeof *st);
    tls_conn_init(c);
    tls_conn_feed(c, dir, bv_make(r->b, r->n), NULL, st);
}

/* Limits: suites kept at N-1, N, N+1; the largest record passes, one more
 * byte loses the framing; a handshake message over TS_TLS_MAX_HS_MSG. */
static void test_limits(void **state)
{
    (void)state;
    struct wb *m = malloc(sizeof *m), *r = malloc(sizeof *r);
    struct tls_conn *c = malloc(sizeof *c);
    struct ts_stats st;
    assert_non_null(m);
    assert_non_null(r);
    for (unsigned n = TS_TLS_MAX_SUITES - 1; n <= TS_TLS_MAX_SUITES + 1; n++) {
        struct hello_opts o = { .nsuites = n };
        m->n = r->n = 0;
        client_hello(m, &o);
        hs_records(r, m, 16384);
        feed_fresh(c, 0, r, &st);
        assert_int_equal(c->nsuites, n < TS_TLS_MAX_SUITES ? n : TS_TLS_MAX_SUITES);
        assert_int_equal(c->nsuites_total, n);
        tls_conn_close(c, &st);
    }
    size_t big = TS_TLS_MAX_RECORD - 5;
    for (size_t len = big - 1; len <= big + 1; len++) {
        r->n = 0;
        put8(r, TLS_CT_APPDATA);
        put16(r, 0x0303);
        put16(r, (unsigned)len);
        for (size_t k = 0; k < len; k++)
            put8(r, 1);
        opaque_record(r, TLS_CT_APPDATA, 10);
        feed_fresh(c, 1, r, &st);
        if (len <= big) {
            assert_int_equal(c->d[1].records, 2);
            assert_false(c->d[1].lost);
        } else {
            assert_int_equal(c->d[1].records, 0);
            assert_true(c->d[1].lost);
            assert_int_equal(st.v[TS_TLS_LOST], 1);
        }
        tls_conn_close(c, &st);
    }
    /* handshake message length field at N-1, N (fits) and N+1 */
    for (size_t hl = TS_TLS_MAX_HS_MSG - 5; hl <= TS_TLS_MAX_HS_MSG - 3; hl++) {
        m->n = r->n = 0;
        empty_msg(m, TLS_HS_CERTIFICATE_REQUEST, (unsigned)hl);
        hs_records(r, m, 16384);
        feed_fresh(c, 1, r, &st);
        assert_int_equal(c->cert_requested, hl + 4 <= TS_TLS_MAX_HS_MSG);
        assert_int_equal(st.v[TS_TLS_HS_OVERSIZE], hl + 4 > TS_TLS_MAX_HS_MSG);
        tls_conn_close(c, &st);
    }
    free(c);
    free(m);
    free(r);
}

static void test_recognise(void **state)
{
    (void)state;
    static const uint8_t ch[] = { 22, 3, 1, 0, 200, 1, 0, 0, 196 };
    static const uint8_t sip[] = "INVITE sip:a@b SIP/2.0\r\n";
    static const uint8_t big[] = { 23, 3, 3, 0x48, 0x01 }; /* 18433: one too long */
    static const uint8_t app[] = { 23, 3, 3, 0x48, 0x00 };
    assert_true(tls_looks_like_hello(bv_make(ch, sizeof ch)));
    assert_true(tls_looks_like_hello(bv_make(ch, 5)));
    assert_false(tls_looks_like_hello(bv_make(ch, 4)));
    assert_false(tls_looks_like_hello(bv_make(sip, sizeof sip - 1)));
    assert_false(tls_looks_like_hello(bv_make(app, sizeof app)));
    assert_true(tls_record_plausible(bv_make(app, sizeof app)));
    assert_false(tls_record_plausible(bv_make(big, sizeof big)));
    assert_string_equal(tls_version_name(0x0304), "TLS1.3");
    assert_null(tls_version_name(0x0305));
    assert_null(tls_alert_name(255));
}

/* Random and truncated input: no crash, nothing read outside the input. */
static void test_hostile(void **state)
{
    (void)state;
    struct conv *cv = calloc(1, sizeof *cv);
    struct tls_conn *c = malloc(sizeof *c);
    struct ts_stats st;
    assert_non_null(cv);
    build_tls12(cv);
    srand(7);
    for (int round = 0; round < 300; round++) {
        memset(&st, 0, sizeof st);
        tls_conn_init(c);
        for (size_t i = 0; i < cv->nseg; i++) {
            size_t n = cv->seg[i].len;
            uint8_t *p = malloc(n);
            assert_non_null(p);
            memcpy(p, cv->w.b + cv->seg[i].off, n);
            for (int k = 0; k < 4; k++)
                p[(size_t)rand() % n] = (uint8_t)rand();
            size_t cut = (size_t)rand() % (n + 1);
            tls_conn_feed(c, cv->seg[i].dir, bv_make(p, cut), NULL, &st);
            free(p);
        }
        tls_conn_close(c, &st);
    }
    free(c);
    free(cv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recognise),
        cmocka_unit_test(test_tls12_any_segmentation),
        cmocka_unit_test(test_tls13),
        cmocka_unit_test(test_alert_failure),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
