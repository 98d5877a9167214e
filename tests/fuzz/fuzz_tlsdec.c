/* libFuzzer target: the TLS decryption path. The first byte picks:
 *   0: a key log (crypto/keylog.c) fed in pieces, then looked up;
 *   1: an a=crypto value (crypto/sdes.c);
 *   2: a TLS connection: [u16 key log length][key log][records...] where
 *      each chunk is [u8 dir|gap][u16 len][bytes], framed by dissect/tls.c
 *      and decrypted by crypto/tlsdec.c with the key log's secrets (the
 *      seeds are real sessions with their keys, see seeds.py);
 *   3: one record opened by crypto/tlsrec.c under a suite and version
 *      chosen by the input.
 * Decrypted application data must lie within the record it came from. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/bv.h"
#include "../../common/limits.h"
#include "../../crypto/keylog.h"
#include "../../crypto/sdes.h"
#include "../../crypto/tlsdec.h"
#include "../../crypto/tlskeys.h"
#include "../../crypto/tlsrec.h"
#include "../../dissect/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t plain_total;
static uint64_t records_fed; /* in this input's session */

static void on_plain(void *ctx, int dir, const struct pkt_meta *m, struct bv plain)
{
    (void)ctx;
    (void)m;
    if (dir < 0 || dir > 1 || plain.len > TS_TLS_MAX_RECORD)
        abort();
    plain_total += plain.len;
}

struct fctx {
    struct tlsdec *d;
    struct pkt_meta m;
};

static void on_record(void *ctx, struct tls_conn *c, int dir, uint8_t type, uint16_t version,
                      struct bv body, uint64_t off)
{
    struct fctx *f = ctx;
    (void)c;
    (void)off;
    records_fed++;
    tlsdec_record(f->d, dir, &f->m, type, version, body, on_plain, NULL);
}

static void on_handshake(void *ctx, struct tls_conn *c, int dir, uint8_t type, struct bv msg,
                         uint64_t off)
{
    struct fctx *f = ctx;
    (void)c;
    (void)type;
    (void)off;
    tlsdec_handshake(f->d, dir, &f->m, msg);
}

static void session(struct bv in)
{
    static struct tlskeys *keys;
    static struct ts_stats st;
    uint16_t kl;
    struct bv log;
    if (!bv_be16(&in, &kl) || !bv_take(&in, kl, &log))
        return;
    /* a fresh key table per input: nothing carries over between inputs */
    tlskeys_free(keys);
    keys = tlskeys_new();
    if (!keys)
        return;
    tlskeys_feed_keylog(keys, log);
    struct fctx f = { .d = tlsdec_new(keys, &st) };
    records_fed = 0;
    f.m.src.family = f.m.dst.family = 4;
    f.m.sport = 40000;
    f.m.dport = 5061;
    struct tls_conn c;
    tls_conn_init(&c);
    struct tls_cb cb = { .ctx = &f, .want_records = true, .record = on_record,
                         .handshake = on_handshake };
    uint8_t hdr;
    uint16_t len;
    struct bv chunk;
    while (f.d && bv_u8(&in, &hdr) && bv_be16(&in, &len) && bv_take(&in, len, &chunk)) {
        int dir = hdr & 1;
        f.m.ts_ns += 1000000;
        if (hdr & 2) {
            tls_conn_gap(&c, dir);
            tlsdec_gap(f.d, dir);
        }
        tls_conn_feed(&c, dir, chunk, &cb, &st);
    }
    (void)tlsdec_status(f.d);
    if (f.d) {
        /* the per-connection verdict is one of the counted ones, and no
         * more records are counted decrypted or failed than were fed */
        struct tlsdec_facts fx;
        tlsdec_facts(f.d, &fx);
        if ((unsigned)fx.verdict >= TLSDEC_NSTATUS || fx.late > fx.records ||
            fx.records + fx.auth_failed > records_fed)
            abort();
    }
    tlsdec_free(f.d);
    tls_conn_close(&c, &st);
    tls_conn_cleanup(&c);
}

static void one_record(struct bv in)
{
    uint16_t id, ver;
    uint8_t flags;
    struct bv keys;
    if (!bv_be16(&in, &id) || !bv_be16(&in, &ver) || !bv_u8(&in, &flags) || !bv_take(&in, 96, &keys) ||
        in.len < 5)
        return;
    const struct tlsrec_suite *s = tlsrec_suite(id);
    if (!s)
        return;
    struct tlsrec r = { 0 };
    if (!tlsrec_init(&r, s, (uint16_t)(0x0301 + ver % 4), flags & 1, keys.p, keys.p + 32, keys.p + 48))
        return;
    static uint8_t out[TS_TLS_MAX_RECORD];
    size_t n = 0;
    uint8_t type;
    struct bv frag = bv_from(in, 5);
    if (frag.len <= TS_TLS_MAX_RECORD && tlsrec_open(&r, in.p, frag.p, frag.len, out, &n, &type) == TLSREC_OK &&
        n > frag.len)
        abort();
    tlsrec_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct bv in = bv_make(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: {
        struct keylog *k = keylog_new();
        if (!k)
            return 0;
        for (size_t i = 0; i < in.len; i += 37)
            keylog_feed(k, bv_make(in.p + i, in.len - i < 37 ? in.len - i : 37));
        uint8_t rnd[KEYLOG_RANDOM_LEN] = { 0 }, sec[KEYLOG_SECRET_LEN];
        size_t len;
        memcpy(rnd, in.p, in.len < sizeof rnd ? in.len : sizeof rnd);
        for (int l = 0; l < KEYLOG_NLABELS; l++)
            if (keylog_find(k, rnd, (enum keylog_label)l, sec, &len) && len > KEYLOG_SECRET_LEN)
                abort();
        keylog_free(k);
        break;
    }
    case 1: {
        struct sdes_key k;
        if (sdes_parse(in, &k) == SDES_OK && (k.key_len > sizeof k.key || k.mki_len > 4))
            abort();
        break;
    }
    case 2:
        session(in);
        break;
    default:
        one_record(in);
        break;
    }
    return 0;
}
