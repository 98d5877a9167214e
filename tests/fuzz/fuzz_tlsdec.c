/* libFuzzer target: the parsers and record opening of crypto/. The first
 * byte picks:
 *   0: a key log (crypto/keylog.c) fed in pieces, then looked up;
 *   1: an a=crypto value (crypto/sdes.c);
 *   2: one record opened by crypto/tlsrec.c: [u16 suite][u16 version]
 *      [u8 flags][96 bytes of keys][record header and fragment].
 * An opened record is never longer than its fragment. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/bv.h"
#include "../../common/limits.h"
#include "../../crypto/keylog.h"
#include "../../crypto/sdes.h"
#include "../../crypto/tlsrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    static uint8_t out[(16384 + 2048)];
    size_t n = 0;
    uint8_t type;
    struct bv frag = bv_from(in, 5);
    if (frag.len <= (16384 + 2048) && tlsrec_open(&r, in.p, frag.p, frag.len, out, &n, &type) == TLSREC_OK &&
        n > frag.len)
        abort();
    tlsrec_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct bv in = bv_make(data + 1, size - 1);
    switch (data[0] % 3) {
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
    default:
        one_record(in);
        break;
    }
    return 0;
}
