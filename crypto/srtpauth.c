/* SRTP/SRTCP tag checks through libcrypto (see srtpauth.h): RFC 3711
 * sections 4.2 (HMAC-SHA1 over the packet and the ROC) and 4.3 (the
 * AES-CM PRF). No cipher or hash written here: OpenSSL computes them. */
#include "srtpauth.h"

#include <pthread.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

enum { SALT_LEN = 14, AUTH_KEY_LEN = 20, RTCP_TAG = 10, RTP_HEADER = 12, RTCP_MIN = 8 + 4 };
/* key derivation labels (RFC 3711 4.3.1 and 4.3.2) */
enum { LABEL_RTP_AUTH = 0x01, LABEL_RTCP_AUTH = 0x04 };

struct srtpauth {
    EVP_MAC_CTX *rtp, *rtcp; /* HMAC-SHA1 keyed with each k_a, copied per packet */
    uint8_t rtp_tag;         /* 10 or 4 bytes; SRTCP's is always 10 (RFC 4568 6.2) */
};

static _Thread_local uint64_t checks;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac; /* fetched once, kept for the process's life */

static void init(void)
{
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* PRF_160(k_master, x), x = key_id XOR master salt with key_id = label || r
 * and r = 0 (no key derivation rate): the label lands in the salt's byte 7;
 * AES in counter mode from x * 2^16. */
static bool derive(const struct sdes_key *k, size_t mk_len, uint8_t label, uint8_t out[AUTH_KEY_LEN])
{
    uint8_t iv[16] = { 0 }, zero[AUTH_KEY_LEN] = { 0 };
    for (size_t i = 0; i < SALT_LEN; i++)
        iv[i] = k->key[mk_len + i];
    iv[7] ^= label;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = c &&
              EVP_EncryptInit_ex2(c, mk_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), k->key, iv, NULL) &&
              EVP_EncryptUpdate(c, out, &n, zero, AUTH_KEY_LEN) && n == AUTH_KEY_LEN;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

static EVP_MAC_CTX *keyed(const uint8_t key[AUTH_KEY_LEN])
{
    OSSL_PARAM p[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
                        OSSL_PARAM_construct_end() };
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac);
    if (c && EVP_MAC_init(c, key, AUTH_KEY_LEN, p) > 0)
        return c;
    EVP_MAC_CTX_free(c);
    return NULL;
}

struct srtpauth *srtpauth_new(const struct sdes_key *k)
{
    size_t mk;
    uint8_t tag;
    switch (k->suite) {
    case SDES_AES_CM_128_HMAC_SHA1_80: mk = 16, tag = 10; break;
    case SDES_AES_CM_128_HMAC_SHA1_32: mk = 16, tag = 4; break;
    case SDES_AES_256_CM_HMAC_SHA1_80: mk = 32, tag = 10; break;
    case SDES_AES_256_CM_HMAC_SHA1_32: mk = 32, tag = 4; break;
    default: return NULL;
    }
    if (k->key_len != mk + SALT_LEN)
        return NULL;
    pthread_once(&once, init);
    struct srtpauth *a = hmac ? calloc(1, sizeof *a) : NULL;
    if (!a)
        return NULL;
    a->rtp_tag = tag;
    uint8_t ka[AUTH_KEY_LEN];
    bool ok = derive(k, mk, LABEL_RTP_AUTH, ka) && (a->rtp = keyed(ka)) &&
              derive(k, mk, LABEL_RTCP_AUTH, ka) && (a->rtcp = keyed(ka));
    OPENSSL_cleanse(ka, sizeof ka);
    if (!ok) {
        srtpauth_free(a);
        return NULL;
    }
    return a;
}

void srtpauth_free(struct srtpauth *a)
{
    if (!a)
        return;
    EVP_MAC_CTX_free(a->rtp); /* OpenSSL cleanses the HMAC pads it frees */
    EVP_MAC_CTX_free(a->rtcp);
    free(a);
}

/* Finishes the HMAC c over what it has, plus extra, and compares its first
 * tag_len bytes with tag in constant time. */
static bool tag_matches(EVP_MAC_CTX *c, const uint8_t *extra, size_t extra_len, const uint8_t *tag, size_t tag_len)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t n = 0;
    checks++;
    return (!extra_len || EVP_MAC_update(c, extra, extra_len)) && EVP_MAC_final(c, mac, &n, sizeof mac) &&
           n >= tag_len && CRYPTO_memcmp(mac, tag, tag_len) == 0;
}

int srtpauth_rtp(struct srtpauth *a, const uint8_t *pkt, size_t len, uint32_t guesses)
{
    if (len < RTP_HEADER + (size_t)a->rtp_tag || !guesses)
        return -1;
    const size_t body = len - a->rtp_tag;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(a->rtp);
    if (!c || !EVP_MAC_update(c, pkt, body)) {
        EVP_MAC_CTX_free(c);
        return -1;
    }
    /* the packet is hashed once; each guess finishes a copy with its ROC */
    int found = -1;
    for (uint32_t roc = 0; roc < guesses && found < 0; roc++) {
        EVP_MAC_CTX *g = roc + 1 < guesses ? EVP_MAC_CTX_dup(c) : c;
        if (!g)
            break;
        const uint8_t r[4] = { (uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc };
        if (tag_matches(g, r, sizeof r, pkt + body, a->rtp_tag))
            found = (int)roc;
        if (g != c)
            EVP_MAC_CTX_free(g);
    }
    EVP_MAC_CTX_free(c);
    return found;
}

bool srtpauth_rtcp(struct srtpauth *a, const uint8_t *pkt, size_t len)
{
    if (len < RTCP_MIN + RTCP_TAG)
        return false;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(a->rtcp);
    bool ok = c && EVP_MAC_update(c, pkt, len - RTCP_TAG) && tag_matches(c, NULL, 0, pkt + len - RTCP_TAG, RTCP_TAG);
    EVP_MAC_CTX_free(c);
    return ok;
}

uint64_t srtpauth_checks(void)
{
    return checks;
}
