/* libFuzzer target: SRTP and SRTCP opening (crypto/srtpdec.c, srtpauth.c;
 * RFC 3711), differential against libsrtp2 as the sender. Input: [u8 suite]
 * then records [u8 op][u8 len_hi][u8 len_lo][len bytes]; op bit 0: SRTCP,
 * bit 1: protected by libsrtp2 first (else delivered as they are), bit 2:
 * one byte flipped after protection (at the offset given by bits 3-7 and
 * the length), bit 3 of the suite byte: every packet delivered twice. The
 * bytes are whatever header they hold: the opener must find the header's
 * end itself. Oracles: a packet that opens was protected, intact, and opens
 * to what was protected; a packet that does not open is left as it came;
 * a packet delivered again never opens twice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>
#include "../helpers/srtp_policy.h"

#include "../../crypto/sdes.h"
#include "../../crypto/srtpdec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum sdes_suite SUITES[] = {
    SDES_AES_CM_128_HMAC_SHA1_80, SDES_AES_CM_128_HMAC_SHA1_32, SDES_AES_256_CM_HMAC_SHA1_80,
    SDES_AES_256_CM_HMAC_SHA1_32, SDES_AEAD_AES_128_GCM,        SDES_AEAD_AES_256_GCM,
};

static size_t key_len(enum sdes_suite s)
{
    switch (s) {
    case SDES_AES_256_CM_HMAC_SHA1_80:
    case SDES_AES_256_CM_HMAC_SHA1_32: return 46;
    case SDES_AEAD_AES_128_GCM: return 28;
    case SDES_AEAD_AES_256_GCM: return 44;
    default: return 30;
    }
}

enum { MAX = 1500 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        if (srtp_init() != srtp_err_status_ok)
            abort();
        init = true;
    }
    if (size < 1)
        return 0;
    const enum sdes_suite suite = SUITES[data[0] % (sizeof SUITES / sizeof SUITES[0])];
    const bool twice = data[0] & 8;
    struct sdes_key k = { .tag = 1, .suite = suite, .key_len = (uint8_t)key_len(suite) };
    for (size_t i = 0; i < k.key_len; i++)
        k.key[i] = (uint8_t)(i * 29 + 3);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_policy_for(suite, &p);
    p.ssrc.type = ssrc_any_outbound;
    p.key = k.key;
    p.window_size = 1024;
    p.allow_repeat_tx = 1;
    srtp_t tx;
    if (srtp_create(&tx, &p) != srtp_err_status_ok)
        abort();
    struct srtpdec *rx = srtpdec_new(&k);
    if (!rx)
        abort();
    size_t at = 1;
    while (at + 3 <= size) {
        const uint8_t op = data[at];
        size_t len = (size_t)data[at + 1] << 8 | data[at + 2];
        at += 3;
        if (len > size - at)
            len = size - at;
        if (len > MAX)
            len = MAX;
        const bool rtcp = op & 1;
        uint8_t plain[MAX + SRTP_MAX_TRAILER_LEN], pkt[MAX + SRTP_MAX_TRAILER_LEN],
            orig[MAX + SRTP_MAX_TRAILER_LEN];
        memcpy(plain, data + at, len);
        at += len;
        memcpy(pkt, plain, len);
        int n = (int)len;
        bool sent = false, flipped = false;
        if ((op & 2) && len >= 12) {
            sent = (rtcp ? srtp_protect_rtcp(tx, pkt, &n) : srtp_protect(tx, pkt, &n)) ==
                   srtp_err_status_ok;
            if (!sent) { /* refused: delivered as it was */
                memcpy(pkt, plain, len);
                n = (int)len;
            }
        }
        if (sent && (op & 4) && n > 0) {
            pkt[(size_t)(op >> 3) * 37 % (size_t)n] ^= 0x5a;
            flipped = true;
        }
        for (int round = 0; round < (twice ? 2 : 1); round++) {
            uint8_t b[MAX + SRTP_MAX_TRAILER_LEN];
            memcpy(b, pkt, (size_t)n);
            memcpy(orig, pkt, (size_t)n);
            size_t out = 0;
            enum srtpdec_result r = rtcp ? srtpdec_rtcp(rx, b, (size_t)n, &out)
                                         : srtpdec_rtp(rx, b, (size_t)n, &out);
            if (r == SRTPDEC_OK) {
                /* only what libsrtp2 protected opens, once, to what it protected */
                if (!sent || flipped || round > 0 || out != len || memcmp(b, plain, len) != 0)
                    abort();
            } else if (memcmp(b, orig, (size_t)n) != 0) {
                abort();
            }
        }
    }
    srtpdec_free(rx);
    srtp_dealloc(tx);
    return 0;
}
