/* SDES key parameters of SDP (RFC 4568 section 9: a=crypto), for SRTP and
 * SRTCP: suites AES_CM_128_HMAC_SHA1_80/32 (RFC 4568), AES_256_CM_HMAC_SHA1_80
 * /32 (RFC 6188), AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714); the
 * inline key and salt, lifetime and MKI ("inline:KEY|2^31|1:1", as Teams
 * sends it). Pure: no I/O. */
#ifndef TS_CRYPTO_SDES_H
#define TS_CRYPTO_SDES_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/bv.h"

enum sdes_suite {
    SDES_NONE = 0,
    SDES_AES_CM_128_HMAC_SHA1_80,
    SDES_AES_CM_128_HMAC_SHA1_32,
    SDES_AES_256_CM_HMAC_SHA1_80,
    SDES_AES_256_CM_HMAC_SHA1_32,
    SDES_AEAD_AES_128_GCM,
    SDES_AEAD_AES_256_GCM,
};

struct sdes_key {
    uint32_t tag;
    enum sdes_suite suite;
    uint8_t key[46];        /* master key then master salt */
    uint8_t key_len;        /* the suite's key + salt length */
    uint64_t lifetime;      /* packets; 0: not given */
    uint8_t mki[4];         /* MKI value, big endian in mki_len bytes */
    uint8_t mki_len;        /* 0: no MKI in the packets */
};

enum sdes_result { SDES_OK = 0, SDES_UNSUPPORTED, SDES_MALFORMED };

/* The value of one a=crypto attribute (after "crypto:"): its first inline
 * key is taken. SDES_UNSUPPORTED for a suite not listed above (F8, NULL
 * ciphers) or session parameters that change the keying (KDR, UNENCRYPTED_*). */
enum sdes_result sdes_parse(struct bv value, struct sdes_key *out);
/* "AES_CM_128_HMAC_SHA1_80" ... */
const char *sdes_suite_name(enum sdes_suite s);

#endif
