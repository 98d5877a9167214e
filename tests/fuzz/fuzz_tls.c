/* libFuzzer target: TLS record framing and handshake parsing of one TCP
 * connection (dissect/tls.c). Input: [u8 flags] then segments
 * [u8 ctl][u16 len][bytes]; ctl bit 0 is the direction, bits 1..7 cut the
 * segment into pieces of that many bytes (0: whole); flags bit 0 asks for
 * every record (as a decryptor does), bit 1 inserts a gap before the last
 * segment. Each segment is also parsed as a hello and a certificate list;
 * every view handed out must lie inside what was fed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../crypto/x509.h"
#include "../../dissect/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bv fed; /* the piece being fed, or the buffered record */

static void inside(struct bv in, struct bv v)
{
    if (!v.len)
        return;
    if (!in.p || v.p < in.p || v.len > in.len || (size_t)(v.p - in.p) > in.len - v.len)
        abort();
}

static void on_record(void *ctx, struct tls_conn *c, int dir, uint8_t type, uint16_t version,
                      struct bv body, uint64_t off)
{
    (void)ctx;
    (void)version;
    (void)off;
    if (dir < 0 || dir > 1 || type < 20 || type > 23 || body.len > TS_TLS_MAX_RECORD)
        abort();
    if (c->d[dir].rec)
        return; /* in the record buffer */
    inside(fed, body);
}

static void on_handshake(void *ctx, struct tls_conn *c, int dir, uint8_t type, struct bv msg,
                         uint64_t off)
{
    (void)ctx;
    (void)c;
    (void)dir;
    (void)off;
    uint8_t t;
    if (msg.len < 4 || msg.len > TS_TLS_MAX_HS_MSG || !bv_peek_u8(msg, 0, &t) || t != type)
        abort();
}

static void on_cert(void *ctx, struct tls_conn *c, bool from_server, unsigned index, struct bv der)
{
    (void)ctx;
    (void)c;
    (void)from_server;
    (void)index;
    if (der.len > TS_TLS_MAX_HS_MSG)
        abort();
    /* the leaf goes to libcrypto, as the engine does */
    static struct x509_facts f;
    if (index == 0 && x509_parse(der, &f) &&
        (strlen(f.subject) > TS_X509_NAME_MAX || strlen(f.sans) > TS_X509_SANS_MAX))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bv in = bv_make(data, size);
    uint8_t flags;
    if (!bv_u8(&in, &flags))
        return 0;
    struct ts_stats st;
    memset(&st, 0, sizeof st);
    static struct tls_conn c;
    tls_conn_init(&c);
    struct tls_cb cb = { .ctx = NULL, .want_records = flags & 1, .record = on_record,
                         .handshake = on_handshake, .cert = on_cert };
    uint8_t ctl;
    uint16_t len;
    struct bv seg;
    while (bv_u8(&in, &ctl) && bv_be16(&in, &len) && bv_take(&in, len, &seg)) {
        int dir = ctl & 1;
        size_t chunk = ctl >> 1;
        if ((flags & 2) && !in.len)
            tls_conn_gap(&c, dir);
        struct bv rest = seg;
        while (rest.len) {
            struct bv piece;
            bv_take(&rest, chunk && chunk < rest.len ? chunk : rest.len, &piece);
            fed = piece;
            tls_conn_feed(&c, dir, piece, &cb, &st);
        }
        static struct tls_hello h;
        (void)tls_parse_hello(seg, dir, &h);
        inside(seg, h.sni);
        for (unsigned i = 0; i < h.nalpn; i++)
            inside(seg, h.alpn[i]);
        if (h.nsuites > TS_TLS_MAX_SUITES || h.nversions > TS_TLS_MAX_VERSIONS)
            abort();
        struct bv certs[4];
        size_t total;
        (void)tls_cert_list(seg, dir, certs, 4, &total);
        for (size_t i = 0; i < total && i < 4; i++)
            inside(seg, certs[i]);
        (void)tls_looks_like_hello(seg);
    }
    if (strlen(c.sni) > TS_TLS_SNI_MAX || strlen(c.alpn) > TS_TLS_ALPN_TEXT_MAX ||
        c.nsuites > TS_TLS_MAX_SUITES || c.noffered > TS_TLS_MAX_VERSIONS)
        abort();
    tls_conn_close(&c, &st);
    if (tls_conn_buffered(&c))
        abort();
    return 0;
}
