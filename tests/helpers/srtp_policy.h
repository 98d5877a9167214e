/* libsrtp2's policy for an SDES suite (RFC 4568 6.2.1, RFC 7714 12): the
 * tests' and the fuzz target's reference sender protects with it. */
#ifndef TS_TEST_SRTP_POLICY_H
#define TS_TEST_SRTP_POLICY_H

#include <srtp2/srtp.h>

#include "../../crypto/sdes.h"

static inline void srtp_policy_for(enum sdes_suite s, srtp_policy_t *p)
{
    switch (s) {
    case SDES_AES_CM_128_HMAC_SHA1_32: /* SRTCP keeps the 80-bit tag */
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        break;
    case SDES_AES_256_CM_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p->rtcp);
        break;
    case SDES_AES_256_CM_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&p->rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p->rtcp);
        break;
    case SDES_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        break;
    case SDES_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtcp);
        break;
    default:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
        break;
    }
}

#endif
