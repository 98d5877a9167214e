/* TLS seen from outside: record framing on a TCP stream (RFC 8446 section
 * 5.1, RFC 5246 section 6.2), handshake messages reassembled across records
 * (RFC 8446 section 4), the hello messages and their extensions (server_name
 * RFC 6066 section 3, ALPN RFC 7301, supported_versions RFC 8446 4.2.1,
 * extended_master_secret RFC 7627, session_ticket RFC 5077, pre_shared_key
 * RFC 8446 4.2.11), Certificate and CertificateRequest, alerts (RFC 8446
 * section 6). Every wire read goes through the byte view. */
#include "tls.h"

#include <stdlib.h>
#include <string.h>

/* The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest"
 * (RFC 8446 section 4.1.3). */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* An encrypted TLS 1.3 alert: 2 bytes, the inner content type and a 16-byte
 * AEAD tag (every TLS 1.3 suite's tag is 16 bytes). */
#define TLS13_ALERT_LEN 19u

enum { EXT_SNI = 0, EXT_ALPN = 16, EXT_ETM = 22, EXT_EMS = 23, EXT_TICKET = 35, EXT_PSK = 41,
       EXT_VERSIONS = 43, EXT_RENEG = 65281 };

bool tls_record_plausible(struct bv d)
{
    uint8_t type, major, minor;
    uint16_t len;
    return bv_peek_u8(d, 0, &type) && bv_peek_u8(d, 1, &major) && bv_peek_u8(d, 2, &minor) &&
           bv_peek_be16(d, 3, &len) && type >= TLS_CT_CCS && type <= TLS_CT_APPDATA &&
           major == 3 && minor <= 4 && len > 0 && len <= TS_TLS_MAX_RECORD - 5;
}

bool tls_looks_like_hello(struct bv d)
{
    uint8_t type, hs;
    if (!tls_record_plausible(d) || !bv_peek_u8(d, 0, &type) || type != TLS_CT_HANDSHAKE)
        return false;
    if (!bv_peek_u8(d, 5, &hs))
        return true; /* the header alone came in this segment */
    return hs == TLS_HS_CLIENT_HELLO || hs == TLS_HS_SERVER_HELLO;
}

const char *tls_alert_name(uint8_t desc)
{
    switch (desc) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 21: return "decryption_failed";
    case 22: return "record_overflow";
    case 30: return "decompression_failure";
    case 40: return "handshake_failure";
    case 41: return "no_certificate";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 60: return "export_restriction";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return NULL;
    }
}

const char *tls_version_name(uint16_t v)
{
    switch (v) {
    case 0x0300: return "SSL3.0";
    case 0x0301: return "TLS1.0";
    case 0x0302: return "TLS1.1";
    case 0x0303: return "TLS1.2";
    case 0x0304: return "TLS1.3";
    default: return NULL;
    }
}

const char *tls_suite_name(uint16_t id)
{
    /* the suites SIP trunks negotiate (IANA TLS Cipher Suites registry) */
    switch (id) {
    case 0x1301: return "TLS_AES_128_GCM_SHA256";
    case 0x1302: return "TLS_AES_256_GCM_SHA384";
    case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256";
    case 0x1304: return "TLS_AES_128_CCM_SHA256";
    case 0x1305: return "TLS_AES_128_CCM_8_SHA256";
    case 0xc02b: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
    case 0xc02c: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
    case 0xc02f: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
    case 0xc030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384";
    case 0xcca8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
    case 0xcca9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
    case 0xc009: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA";
    case 0xc00a: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA";
    case 0xc013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA";
    case 0xc014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA";
    case 0xc023: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256";
    case 0xc024: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384";
    case 0xc027: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256";
    case 0xc028: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384";
    case 0x009e: return "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256";
    case 0x009f: return "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384";
    case 0x009c: return "TLS_RSA_WITH_AES_128_GCM_SHA256";
    case 0x009d: return "TLS_RSA_WITH_AES_256_GCM_SHA384";
    case 0x002f: return "TLS_RSA_WITH_AES_128_CBC_SHA";
    case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA";
    case 0x003c: return "TLS_RSA_WITH_AES_128_CBC_SHA256";
    case 0x003d: return "TLS_RSA_WITH_AES_256_CBC_SHA256";
    case 0x000a: return "TLS_RSA_WITH_3DES_EDE_CBC_SHA";
    case 0x0005: return "TLS_RSA_WITH_RC4_128_SHA";
    default: return NULL;
    }
}

/* A vector with a 1- or 2-byte length prefix. */
static bool vec8(struct bv *b, struct bv *out)
{
    uint8_t n;
    return bv_u8(b, &n) && bv_take(b, n, out);
}

static bool vec16(struct bv *b, struct bv *out)
{
    uint16_t n;
    return bv_be16(b, &n) && bv_take(b, n, out);
}

static enum tls_result parse_ext(uint16_t type, struct bv e, bool server, struct tls_hello *h)
{
    switch (type) {
    case EXT_SNI: {
        if (server) /* the server's is empty (RFC 6066 section 3) */
            return TLS_OK;
        struct bv list, name;
        if (!vec16(&e, &list))
            return TLS_MALFORMED;
        while (list.len) {
            uint8_t nt;
            if (!bv_u8(&list, &nt) || !vec16(&list, &name))
                return TLS_MALFORMED;
            if (nt == 0 && !h->sni.len)
                h->sni = name;
        }
        return TLS_OK;
    }
    case EXT_ALPN: {
        struct bv list, name;
        if (!vec16(&e, &list))
            return TLS_MALFORMED;
        while (list.len) {
            if (!vec8(&list, &name) || !name.len)
                return TLS_MALFORMED;
            if (h->nalpn < TS_TLS_MAX_ALPN)
                h->alpn[h->nalpn++] = name;
        }
        return TLS_OK;
    }
    case EXT_VERSIONS: {
        uint16_t v;
        if (server) {
            if (!bv_be16(&e, &v))
                return TLS_MALFORMED;
            h->selected_version = v;
            return TLS_OK;
        }
        struct bv list;
        if (!vec8(&e, &list) || list.len % 2)
            return TLS_MALFORMED;
        while (bv_be16(&list, &v))
            if (h->nversions < TS_TLS_MAX_VERSIONS)
                h->versions[h->nversions++] = v;
        return TLS_OK;
    }
    case EXT_ETM:
        h->etm = true;
        return TLS_OK;
    case EXT_EMS:
        h->ems = true;
        return TLS_OK;
    case EXT_TICKET:
        h->ticket_ext = true;
        h->ticket = e;
        return TLS_OK;
    case EXT_PSK:
        h->psk = true;
        return TLS_OK;
    case EXT_RENEG:
        h->reneg_info = true;
        return TLS_OK;
    default:
        return TLS_OK;
    }
}

enum tls_result tls_parse_hello(struct bv body, bool server, struct tls_hello *h)
{
    memset(h, 0, sizeof *h);
    struct bv sid, v;
    if (!bv_be16(&body, &h->legacy_version) || !bv_copy(&body, h->random, 32) ||
        !vec8(&body, &sid))
        return TLS_TRUNCATED;
    if (sid.len > 32)
        return TLS_MALFORMED;
    h->sid_len = (uint8_t)sid.len;
    bv_copy(&sid, h->sid, sid.len);
    if (server) {
        uint8_t comp;
        if (!bv_be16(&body, &h->suite) || !bv_u8(&body, &comp))
            return TLS_TRUNCATED;
        h->hrr = memcmp(h->random, hrr_random, 32) == 0;
    } else {
        struct bv suites, comp;
        if (!vec16(&body, &suites) || !vec8(&body, &comp))
            return TLS_TRUNCATED;
        if (suites.len % 2 || !suites.len || !comp.len)
            return TLS_MALFORMED;
        uint16_t s;
        while (bv_be16(&suites, &s)) {
            if (s == 0x00ff)
                h->reneg_info = true;
            if (h->nsuites < TS_TLS_MAX_SUITES)
                h->suites[h->nsuites++] = s;
            h->nsuites_total++;
        }
    }
    if (!body.len) /* no extensions (SSL 3.0, old TLS 1.0 stacks) */
        return TLS_OK;
    struct bv exts;
    if (!vec16(&body, &exts))
        return TLS_MALFORMED;
    while (exts.len) {
        uint16_t type;
        if (!bv_be16(&exts, &type) || !vec16(&exts, &v))
            return TLS_MALFORMED;
        enum tls_result r = parse_ext(type, v, server, h);
        if (r != TLS_OK)
            return r;
    }
    return TLS_OK;
}

static bool u24(struct bv *b, uint32_t *v)
{
    uint8_t hi;
    uint16_t lo;
    if (!bv_u8(b, &hi) || !bv_be16(b, &lo))
        return false;
    *v = ((uint32_t)hi << 16) | lo;
    return true;
}

enum tls_result tls_cert_list(struct bv body, bool tls13, struct bv *certs, size_t max,
                              size_t *total)
{
    *total = 0;
    struct bv ctx, list, ext;
    uint32_t n;
    if (tls13 && !vec8(&body, &ctx))
        return TLS_TRUNCATED;
    if (!u24(&body, &n) || !bv_take(&body, n, &list))
        return TLS_TRUNCATED;
    while (list.len) {
        struct bv der;
        if (!u24(&list, &n) || !bv_take(&list, n, &der))
            return TLS_MALFORMED;
        if (tls13 && !vec16(&list, &ext))
            return TLS_MALFORMED;
        if (*total < max)
            certs[*total] = der;
        (*total)++;
    }
    return TLS_OK;
}

/* ---- one connection ---- */

void tls_conn_init(struct tls_conn *c)
{
    memset(c, 0, sizeof *c);
    c->client_dir = -1;
    c->last_alert_dir = -1;
}

void tls_conn_cleanup(struct tls_conn *c)
{
    for (int i = 0; i < 2; i++) {
        free(c->d[i].rec);
        free(c->d[i].hs);
        c->d[i].rec = c->d[i].hs = NULL;
        c->d[i].rec_len = c->d[i].hs_len = 0;
    }
}

size_t tls_conn_buffered(const struct tls_conn *c)
{
    return c->d[0].rec_len + c->d[1].rec_len + c->d[0].hs_len + c->d[1].hs_len;
}

static void bad(struct tls_conn *c, struct ts_stats *st)
{
    if (!c->malformed && st)
        TS_INC(st, TLS_MALFORMED);
    c->malformed = true;
}

/* Copy wire text into a C string: printable ASCII kept, the rest as '?'
 * (SNI is an A-label, ALPN names are registered tokens). */
static void text_copy(struct bv b, char *dst, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < b.len && n + 1 < cap; i++) {
        int ch = bv_at(b, i);
        dst[n++] = ch >= 0x20 && ch < 0x7f && ch != ',' ? (char)ch : '?';
    }
    dst[n] = 0;
}

static void alpn_join(const struct tls_hello *h, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = 0;
    for (unsigned i = 0; i < h->nalpn; i++) {
        if (n + 2 >= cap)
            break;
        if (i)
            dst[n++] = ',';
        text_copy(h->alpn[i], dst + n, cap - n);
        n += strlen(dst + n);
    }
}

static void on_client_hello(struct tls_conn *c, int dir, struct bv body, struct ts_stats *st)
{
    struct tls_hello *h = &c->ch_scratch;
    enum tls_result r = tls_parse_hello(body, false, h);
    if (r != TLS_OK) {
        bad(c, st);
        return;
    }
    if (c->have_ch && !c->hrr) /* a renegotiation: the first handshake's facts stay */
        return;
    c->have_ch = true;
    c->client_dir = dir;
    if (c->state < TLS_ST_CLIENT_HELLO)
        c->state = TLS_ST_CLIENT_HELLO;
    c->ch_version = h->legacy_version;
    c->noffered = 0;
    for (unsigned i = 0; i < h->nversions; i++)
        c->offered[c->noffered++] = h->versions[i];
    if (!c->noffered)
        c->offered[c->noffered++] = h->legacy_version;
    memcpy(c->suites, h->suites, h->nsuites * sizeof h->suites[0]);
    c->nsuites = h->nsuites;
    c->nsuites_total = h->nsuites_total;
    text_copy(h->sni, c->sni, sizeof c->sni);
    alpn_join(h, c->alpn_offered, sizeof c->alpn_offered);
    memcpy(c->client_random, h->random, 32);
    memcpy(c->client_sid, h->sid, h->sid_len);
    c->client_sid_len = h->sid_len;
    c->ch_ticket = h->ticket_ext && h->ticket.len;
    c->ch_psk = h->psk;
    c->ch_ems = h->ems;
    if (st)
        TS_INC(st, TLS_HANDSHAKES);
}

static void on_server_hello(struct tls_conn *c, int dir, struct bv body, struct ts_stats *st)
{
    struct tls_hello *h = &c->ch_scratch;
    if (tls_parse_hello(body, true, h) != TLS_OK) {
        bad(c, st);
        return;
    }
    if (c->have_sh && !c->hrr)
        return;
    if (c->client_dir < 0)
        c->client_dir = 1 - dir;
    if (h->hrr) { /* a second ClientHello follows in plaintext */
        c->hrr = true;
        return;
    }
    c->have_sh = true;
    if (c->state < TLS_ST_SERVER_HELLO)
        c->state = TLS_ST_SERVER_HELLO;
    c->version = h->selected_version ? h->selected_version : h->legacy_version;
    c->suite = h->suite;
    alpn_join(h, c->alpn, sizeof c->alpn);
    memcpy(c->server_random, h->random, 32);
    memcpy(c->server_sid, h->sid, h->sid_len);
    c->server_sid_len = h->sid_len;
    c->ems = h->ems && c->ch_ems;
    if (c->version >= 0x0304) {
        /* everything after the ServerHello is encrypted, both ways */
        c->resumed = h->psk;
        c->d[dir].encrypted = true;
        c->d[1 - dir].encrypted = true;
    } else {
        /* TLS 1.2 and earlier: the server echoes the client's session id */
        c->resumed = h->sid_len && h->sid_len == c->client_sid_len &&
                     memcmp(h->sid, c->client_sid, h->sid_len) == 0;
    }
    if (c->resumed && st)
        TS_INC(st, TLS_RESUMED);
}

static void on_certificate(struct tls_conn *c, int dir, struct bv body, const struct tls_cb *cb,
                           struct ts_stats *st)
{
    struct bv der[16];
    size_t total;
    if (tls_cert_list(body, false, der, 16, &total) != TLS_OK) {
        bad(c, st);
        return;
    }
    bool from_server = c->client_dir >= 0 ? dir != c->client_dir : true;
    if (from_server) {
        c->server_certs = (uint16_t)(total > 0xffff ? 0xffff : total);
    } else {
        c->client_certs = (uint16_t)(total > 0xffff ? 0xffff : total);
        c->client_cert_sent = total > 0;
    }
    for (size_t i = 0; i < total && i < 16; i++) {
        if (st)
            TS_INC(st, TLS_CERTS);
        if (cb && cb->cert)
            cb->cert(cb->ctx, c, from_server, (unsigned)i, der[i]);
    }
}

static void on_handshake_msg(struct tls_conn *c, int dir, struct bv msg, uint64_t off,
                             const struct tls_cb *cb, struct ts_stats *st)
{
    uint8_t type;
    struct bv body = bv_from(msg, 4);
    if (!bv_peek_u8(msg, 0, &type))
        return;
    if (cb && cb->handshake)
        cb->handshake(cb->ctx, c, dir, type, msg, off);
    switch (type) {
    case TLS_HS_CLIENT_HELLO:
        c->ch_off = off;
        c->ch_len = (uint32_t)msg.len;
        on_client_hello(c, dir, body, st);
        break;
    case TLS_HS_SERVER_HELLO:
        c->sh_off = off;
        c->sh_len = (uint32_t)msg.len;
        on_server_hello(c, dir, body, st);
        break;
    case TLS_HS_CERTIFICATE:
        on_certificate(c, dir, body, cb, st);
        break;
    case TLS_HS_CERTIFICATE_REQUEST:
        c->cert_requested = true;
        break;
    default:
        break;
    }
}

/* Length field of the handshake message buffered in d (header complete). */
static uint32_t hs_buffered_len(const struct tls_dir *d)
{
    struct bv h = bv_make(d->hs, d->hs_len);
    uint8_t hi = 0;
    uint16_t lo = 0;
    bv_peek_u8(h, 1, &hi);
    bv_peek_be16(h, 2, &lo);
    return ((uint32_t)hi << 16) | lo;
}

/* Handshake bytes of one record: whole messages are handed on in place when
 * nothing is buffered, the rest is buffered up to TS_TLS_MAX_HS_MSG. */
static void handshake_bytes(struct tls_conn *c, int dir, struct bv b, uint64_t off,
                            const struct tls_cb *cb, struct ts_stats *st)
{
    struct tls_dir *d = &c->d[dir];
    while (b.len) {
        if (!d->hs_len) {
            uint8_t t;
            uint16_t lo;
            uint32_t mlen = 0;
            if (bv_peek_u8(b, 1, &t) && bv_peek_be16(b, 2, &lo))
                mlen = ((uint32_t)t << 16) | lo;
            if (b.len >= 4 && mlen > TS_TLS_MAX_HS_MSG - 4) {
                if (st)
                    TS_INC(st, TLS_HS_OVERSIZE);
                d->lost = true; /* the handshake cannot be followed further */
                return;
            }
            if (b.len >= 4 && b.len - 4 >= mlen) {
                struct bv msg = BV_NULL;
                bv_take(&b, 4 + (size_t)mlen, &msg);
                on_handshake_msg(c, dir, msg, off, cb, st);
                off += 4 + (uint64_t)mlen;
                continue;
            }
            d->hs = malloc(TS_TLS_MAX_HS_MSG);
            if (!d->hs) {
                d->lost = true;
                return;
            }
            d->hs_off = off;
        }
        /* append to the buffered message */
        size_t room = TS_TLS_MAX_HS_MSG - d->hs_len;
        size_t n = b.len;
        uint32_t mlen = 0;
        if (d->hs_len >= 4)
            mlen = hs_buffered_len(d);
        if (d->hs_len < 4 && n > 4 - d->hs_len)
            n = 4 - d->hs_len; /* the header first, to learn the length */
        else if (d->hs_len >= 4 && n > 4 + mlen - d->hs_len)
            n = 4 + mlen - d->hs_len;
        if (n > room)
            n = room;
        struct bv part;
        if (!bv_take(&b, n, &part) || !bv_copy(&part, d->hs + d->hs_len, n))
            break; /* n <= b.len: cannot happen, but -O2 cannot see it */
        d->hs_len += n;
        off += n;
        if (d->hs_len == 4) {
            mlen = hs_buffered_len(d);
            if (mlen > TS_TLS_MAX_HS_MSG - 4) {
                if (st)
                    TS_INC(st, TLS_HS_OVERSIZE);
                d->lost = true;
                return;
            }
        }
        if (d->hs_len >= 4 && d->hs_len == 4 + (size_t)mlen) {
            on_handshake_msg(c, dir, bv_make(d->hs, d->hs_len), d->hs_off, cb, st);
            free(d->hs);
            d->hs = NULL;
            d->hs_len = 0;
        }
    }
}

/* Whether the handshake is done. TLS 1.3 (no keys): once the client has
 * sent its encrypted flight and the server answered after it with more
 * than an alert. */
static void check_established(struct tls_conn *c, int dir, uint8_t type, size_t len,
                              struct ts_stats *st)
{
    if (c->state >= TLS_ST_ESTABLISHED || !c->have_sh || c->client_dir < 0)
        return;
    struct tls_dir *cl = &c->d[c->client_dir], *sv = &c->d[1 - c->client_dir];
    if (c->version >= 0x0304) {
        if (type != TLS_CT_APPDATA)
            return;
        if (len == TLS13_ALERT_LEN) {
            c->encrypted_alerts++;
            return;
        }
        if (dir == c->client_dir)
            c->cl_flight++;
        else if (c->cl_flight)
            c->sv_after++;
        if (c->cl_flight && c->sv_after)
            goto done;
        return;
    }
    /* TLS 1.2 and earlier: each side sends its Finished only once the
     * other's verified (or, resuming, its own comes first and the client
     * answers with an alert instead when it does not verify) */
    if (cl->finished && sv->finished)
        goto done;
    return;
done:
    c->state = TLS_ST_ESTABLISHED;
    if (st)
        TS_INC(st, TLS_ESTABLISHED);
}

static void on_record(struct tls_conn *c, int dir, uint8_t type, uint16_t version, struct bv body,
                      uint16_t rlen, uint64_t off, const struct tls_cb *cb, struct ts_stats *st)
{
    struct tls_dir *d = &c->d[dir];
    d->records++;
    if (st)
        TS_INC(st, SIP_TLS_RECORDS);
    if (cb && cb->record && cb->want_records)
        cb->record(cb->ctx, c, dir, type, version, body, off);
    switch (type) {
    case TLS_CT_CCS:
        if (c->version < 0x0304 || !c->have_sh) /* TLS 1.3's is for middleboxes */
            d->encrypted = true;
        break;
    case TLS_CT_ALERT:
        if (!d->encrypted && body.len == 2) {
            uint8_t level = 0, desc = 0;
            bv_peek_u8(body, 0, &level);
            bv_peek_u8(body, 1, &desc);
            c->alerts++;
            c->last_alert_level = level;
            c->last_alert_desc = desc;
            c->last_alert_dir = dir;
            if (st)
                TS_INC(st, TLS_ALERTS);
            if (cb && cb->alert)
                cb->alert(cb->ctx, c, dir, level, desc);
            if (level == 2 && c->state < TLS_ST_ESTABLISHED && c->state != TLS_ST_FAILED) {
                c->state = TLS_ST_FAILED;
                if (st)
                    TS_INC(st, TLS_FAILED);
            }
        } else {
            c->encrypted_alerts++;
        }
        break;
    case TLS_CT_HANDSHAKE:
        if (!d->encrypted)
            handshake_bytes(c, dir, body, off + 5, cb, st);
        else
            d->finished = true; /* TLS 1.2: the Finished after the cipher change */
        break;
    case TLS_CT_APPDATA:
        d->appdata++;
        break;
    default:
        break;
    }
    check_established(c, dir, type, rlen, st);
}

/* Whether a record's body must be read (or handed to a decryptor). */
static bool need_body(const struct tls_conn *c, int dir, uint8_t type, uint16_t len,
                      const struct tls_cb *cb)
{
    if (cb && cb->want_records && cb->record)
        return true;
    if (type == TLS_CT_HANDSHAKE)
        return !c->d[dir].encrypted;
    if (type == TLS_CT_ALERT)
        return len == 2;
    return false;
}

void tls_conn_feed(struct tls_conn *c, int dir, struct bv data, const struct tls_cb *cb,
                   struct ts_stats *st)
{
    if (dir < 0 || dir > 1)
        return;
    struct tls_dir *d = &c->d[dir];
    while (data.len && !d->lost) {
        if (d->skip) { /* the rest of an opaque record */
            size_t n = d->skip < data.len ? d->skip : data.len;
            bv_skip(&data, n);
            d->skip -= n;
            d->off += n;
            continue;
        }
        if (d->hdr_len < 5) {
            size_t n = 5u - d->hdr_len;
            if (n > data.len)
                n = data.len;
            bv_copy(&data, d->hdr + d->hdr_len, n);
            d->hdr_len = (uint8_t)(d->hdr_len + n);
            if (d->hdr_len < 5)
                return;
            struct bv h = bv_make(d->hdr, 5);
            if (!tls_record_plausible(h)) {
                d->lost = true;
                if (st)
                    TS_INC(st, TLS_LOST);
                return;
            }
            d->rec_off = d->off;
            d->off += 5;
            uint16_t rlen = 0;
            bv_peek_be16(h, 3, &rlen);
            if (!need_body(c, dir, d->hdr[0], rlen, cb)) {
                uint16_t ver = 0;
                bv_peek_be16(h, 1, &ver);
                /* nobody needs the body: it is passed without buffering */
                on_record(c, dir, d->hdr[0], ver, BV_NULL, rlen, d->rec_off, cb, st);
                d->skip = rlen;
                d->hdr_len = 0;
                continue;
            }
        }
        uint16_t rlen = 0, ver = 0;
        struct bv h = bv_make(d->hdr, 5);
        bv_peek_be16(h, 3, &rlen);
        bv_peek_be16(h, 1, &ver);
        struct bv body = BV_NULL;
        if (!d->rec_len && data.len >= rlen) { /* whole in this segment: in place */
            bv_take(&data, rlen, &body);
        } else {
            if (!d->rec) {
                d->rec = malloc(TS_TLS_MAX_RECORD);
                if (!d->rec) {
                    d->lost = true;
                    return;
                }
            }
            size_t n = rlen - d->rec_len;
            if (n > data.len)
                n = data.len;
            bv_copy(&data, d->rec + d->rec_len, n);
            d->rec_len += n;
            if (d->rec_len < rlen)
                return;
            body = bv_make(d->rec, rlen);
        }
        d->off += rlen;
        d->hdr_len = 0;
        on_record(c, dir, d->hdr[0], ver, body, rlen, d->rec_off, cb, st);
        if (d->rec_len) {
            free(d->rec);
            d->rec = NULL;
            d->rec_len = 0;
        }
    }
}

void tls_conn_gap(struct tls_conn *c, int dir)
{
    if (dir < 0 || dir > 1)
        return;
    c->d[dir].lost = true;
}

void tls_conn_close(struct tls_conn *c, struct ts_stats *st)
{
    if (c->state == TLS_ST_CLIENT_HELLO || c->state == TLS_ST_SERVER_HELLO) {
        c->state = TLS_ST_FAILED;
        if (st)
            TS_INC(st, TLS_FAILED);
    }
    tls_conn_cleanup(c);
}
