/* SRTP/SRTCP of the AES-CM/HMAC-SHA1 suites through libcrypto (see
 * srtpauth.h): RFC 3711 sections 4.1.1 (the counter's IV), 4.2 (HMAC-SHA1
 * over the packet and the ROC), 4.3 (the AES-CM PRF) and 3.4 (SRTCP's
 * trailer). No cipher or hash written here: OpenSSL computes them. */
#include "srtpauth.h"

#include "../common/bv.h"
#include "../common/limits.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* SALT_LEN: the AES-CM suites' master and session salts; the AEAD suites'
 * are 12 bytes (RFC 7714 8.1), padded with zeros for the PRF. */
enum { SALT_LEN = 14, GCM_SALT = 12, AUTH_KEY_LEN = 20, RTCP_TAG = 10, RTP_HEADER = 12,
       RTCP_MIN = 8 + 4 };
/* key derivation labels (RFC 3711 4.3.1 and 4.3.2) */
enum {
    LABEL_RTP_ENC = 0x00, LABEL_RTP_AUTH = 0x01, LABEL_RTP_SALT = 0x02,
    LABEL_RTCP_ENC = 0x03, LABEL_RTCP_AUTH = 0x04, LABEL_RTCP_SALT = 0x05,
};

struct srtpauth {
    EVP_MAC_CTX *rtp, *rtcp; /* HMAC-SHA1 keyed with each k_a, restarted per packet */
    EVP_CIPHER_CTX *rtp_c, *rtcp_c; /* AES-CTR (AEAD: AES-GCM) keyed with each k_e; the IV set per packet */
    uint8_t rtp_salt[SALT_LEN], rtcp_salt[SALT_LEN]; /* k_s */
    uint8_t rtp_tag;         /* 10 or 4 bytes; SRTCP's is always 10 (RFC 4568 6.2) */
    uint8_t mk_len;          /* master (and session) key: 16 or 32 bytes */
    bool aead;               /* AEAD_AES_128_GCM, AEAD_AES_256_GCM (RFC 7714) */
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
static bool derive(const struct sdes_key *k, size_t mk_len, uint8_t label, uint8_t *out, size_t len)
{
    uint8_t iv[16] = { 0 }, zero[32] = { 0 };
    if (len > sizeof zero)
        return false;
    for (size_t i = 0; i < SALT_LEN && mk_len + i < k->key_len; i++)
        iv[i] = k->key[mk_len + i];
    iv[7] ^= label;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = c &&
              EVP_EncryptInit_ex2(c, mk_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), k->key, iv, NULL) &&
              EVP_EncryptUpdate(c, out, &n, zero, (int)len) && (size_t)n == len;
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
    bool aead = false;
    switch (k->suite) {
    case SDES_AES_CM_128_HMAC_SHA1_80: mk = 16, tag = 10; break;
    case SDES_AES_CM_128_HMAC_SHA1_32: mk = 16, tag = 4; break;
    case SDES_AES_256_CM_HMAC_SHA1_80: mk = 32, tag = 10; break;
    case SDES_AES_256_CM_HMAC_SHA1_32: mk = 32, tag = 4; break;
    case SDES_AEAD_AES_128_GCM: mk = 16, tag = SRTPAUTH_GCM_TAG, aead = true; break;
    case SDES_AEAD_AES_256_GCM: mk = 32, tag = SRTPAUTH_GCM_TAG, aead = true; break;
    default: return NULL;
    }
    if (k->key_len != mk + (aead ? GCM_SALT : SALT_LEN))
        return NULL;
    pthread_once(&once, init);
    struct srtpauth *a = hmac ? calloc(1, sizeof *a) : NULL;
    if (!a)
        return NULL;
    a->rtp_tag = tag;
    a->mk_len = (uint8_t)mk;
    a->aead = aead;
    if (aead) { /* the tag is the cipher's: its keys now */
        if (!srtpauth_cipher(a, k)) {
            srtpauth_free(a);
            return NULL;
        }
        return a;
    }
    uint8_t ka[AUTH_KEY_LEN];
    bool ok = derive(k, mk, LABEL_RTP_AUTH, ka, sizeof ka) && (a->rtp = keyed(ka)) &&
              derive(k, mk, LABEL_RTCP_AUTH, ka, sizeof ka) && (a->rtcp = keyed(ka));
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
    EVP_CIPHER_CTX_free(a->rtp_c); /* and the key schedules */
    EVP_CIPHER_CTX_free(a->rtcp_c);
    OPENSSL_cleanse(a, sizeof *a);
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

/* c back to its keyed state (no key: HMAC restarts from the pads it kept),
 * fed data; no allocation per packet. */
static bool restart(EVP_MAC_CTX *c, const uint8_t *data, size_t len)
{
    return EVP_MAC_init(c, NULL, 0, NULL) > 0 && EVP_MAC_update(c, data, len) > 0;
}

bool srtpauth_rtp(struct srtpauth *a, const uint8_t *pkt, size_t len, uint32_t first,
                  uint32_t guesses, uint32_t *roc_out)
{
    if (len < RTP_HEADER + (size_t)a->rtp_tag || !guesses)
        return false;
    const size_t body = len - a->rtp_tag;
    /* each guess hashes the packet again: cheaper than a copy of the HMAC
     * state per guess, and a stream whose ROC is known makes one */
    for (uint32_t k = 0; k < guesses; k++) {
        const uint32_t roc = first + k; /* wraps as the ROC does */
        const uint8_t r[4] = { (uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc };
        if (!restart(a->rtp, pkt, body))
            return false;
        if (tag_matches(a->rtp, r, sizeof r, pkt + body, a->rtp_tag)) {
            *roc_out = roc;
            return true;
        }
    }
    return false;
}

bool srtpauth_rtcp(struct srtpauth *a, const uint8_t *pkt, size_t len)
{
    if (len < RTCP_MIN + RTCP_TAG)
        return false;
    return restart(a->rtcp, pkt, len - RTCP_TAG) &&
           tag_matches(a->rtcp, NULL, 0, pkt + len - RTCP_TAG, RTCP_TAG);
}

static EVP_CIPHER_CTX *cipher_of(const struct sdes_key *k, size_t mk_len, uint8_t label, bool aead)
{
    uint8_t ke[32];
    const EVP_CIPHER *e = aead ? (mk_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm())
                               : (mk_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr());
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    bool ok = c && derive(k, mk_len, label, ke, mk_len) && EVP_DecryptInit_ex2(c, e, ke, NULL, NULL);
    OPENSSL_cleanse(ke, sizeof ke);
    if (!ok) {
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    return c;
}

bool srtpauth_cipher(struct srtpauth *a, const struct sdes_key *k)
{
    if (a->rtp_c)
        return true;
    if (k->key_len != (size_t)a->mk_len + (a->aead ? GCM_SALT : SALT_LEN))
        return false;
    a->rtp_c = cipher_of(k, a->mk_len, LABEL_RTP_ENC, a->aead);
    a->rtcp_c = cipher_of(k, a->mk_len, LABEL_RTCP_ENC, a->aead);
    bool ok = a->rtp_c && a->rtcp_c && derive(k, a->mk_len, LABEL_RTP_SALT, a->rtp_salt, SALT_LEN) &&
              derive(k, a->mk_len, LABEL_RTCP_SALT, a->rtcp_salt, SALT_LEN);
    if (!ok) {
        EVP_CIPHER_CTX_free(a->rtp_c);
        EVP_CIPHER_CTX_free(a->rtcp_c);
        a->rtp_c = a->rtcp_c = NULL;
    }
    return ok;
}

/* XORs n bytes at p with the keystream from IV = k_s * 2^16 XOR SSRC * 2^64
 * XOR i * 2^16, i the 48-bit packet index (RFC 3711 4.1.1). */
static bool ctr_xor(EVP_CIPHER_CTX *c, const uint8_t salt[SALT_LEN], uint32_t ssrc, uint64_t i,
                    uint8_t *p, size_t n)
{
    uint8_t iv[16] = { 0 };
    memcpy(iv, salt, SALT_LEN);
    for (int b = 0; b < 4; b++)
        iv[4 + b] ^= (uint8_t)(ssrc >> (24 - 8 * b));
    for (int b = 0; b < 6; b++)
        iv[8 + b] ^= (uint8_t)(i >> (40 - 8 * b));
    int out = 0;
    return EVP_DecryptInit_ex2(c, NULL, NULL, iv, NULL) &&
           (!n || (n <= INT_MAX && EVP_DecryptUpdate(c, p, &out, p, (int)n) && (size_t)out == n));
}

/* The RTP header's length (12 bytes, the CSRCs, the extension), its
 * sequence number and SSRC; 0 when it does not fit in len. */
static size_t rtp_header(const uint8_t *pkt, size_t len, uint16_t *seq, uint32_t *ssrc)
{
    struct bv b = bv_make(pkt, len);
    uint8_t v0 = 0;
    uint16_t xlen = 0;
    if (!bv_peek_u8(b, 0, &v0) || !bv_peek_be16(b, 2, seq) || !bv_peek_be32(b, 8, ssrc))
        return 0;
    size_t h = RTP_HEADER + 4u * (v0 & 0x0fu);
    if (v0 & 0x10u) {
        if (!bv_peek_be16(b, h + 2, &xlen))
            return 0;
        h += 4 + 4u * xlen;
    }
    return h <= len ? h : 0;
}

bool srtpauth_decrypt_rtp(struct srtpauth *a, uint8_t *pkt, size_t len, uint32_t roc)
{
    /* the header stays clear */
    uint16_t seq = 0;
    uint32_t ssrc = 0;
    size_t h = rtp_header(pkt, len, &seq, &ssrc);
    if (!a->rtp_c || a->aead || !h)
        return false;
    return ctr_xor(a->rtp_c, a->rtp_salt, ssrc, (uint64_t)roc << 16 | seq, pkt + h, len - h);
}

/* AES-GCM open of n bytes at ct into out under iv (12 bytes) with the
 * additional data aad1 and aad2 (RFC 7714 sections 8 and 9); false when
 * the tag does not match. */
static bool gcm_open(EVP_CIPHER_CTX *c, const uint8_t iv[GCM_SALT], const uint8_t *aad1, size_t n1,
                     const uint8_t *aad2, size_t n2, const uint8_t *ct, size_t n,
                     const uint8_t tag[SRTPAUTH_GCM_TAG], uint8_t *out)
{
    int o = 0;
    checks++;
    return n1 <= INT_MAX && n <= INT_MAX && EVP_DecryptInit_ex2(c, NULL, NULL, iv, NULL) &&
           EVP_DecryptUpdate(c, NULL, &o, aad1, (int)n1) &&
           (!n2 || EVP_DecryptUpdate(c, NULL, &o, aad2, (int)n2)) &&
           (!n || EVP_DecryptUpdate(c, out, &o, ct, (int)n)) &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SRTPAUTH_GCM_TAG, (void *)tag) > 0 &&
           EVP_DecryptFinal_ex(c, out + n, &o) > 0;
}

/* The 12-byte IV: two zero bytes, SSRC, four bytes, a 16- or 32-bit count,
 * XOR the session salt (RFC 7714 8.1 and 9.1). */
static void gcm_iv(uint8_t iv[GCM_SALT], const uint8_t salt[SALT_LEN], uint32_t ssrc, uint32_t mid,
                   uint32_t low)
{
    const uint8_t b[GCM_SALT] = { 0, 0, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8),
                                  (uint8_t)ssrc, (uint8_t)(mid >> 24), (uint8_t)(mid >> 16),
                                  (uint8_t)(mid >> 8), (uint8_t)mid, (uint8_t)(low >> 8), (uint8_t)low };
    for (int i = 0; i < GCM_SALT; i++)
        iv[i] = b[i] ^ salt[i];
}

bool srtpauth_open_aead_rtp(struct srtpauth *a, uint8_t *pkt, size_t len, uint32_t first,
                            uint32_t guesses, uint32_t *roc_out)
{
    uint16_t seq = 0;
    uint32_t ssrc = 0;
    size_t h = rtp_header(pkt, len, &seq, &ssrc);
    if (!a->aead || !a->rtp_c || !h || len - h < SRTPAUTH_GCM_TAG || len > TS_SRTP_MAX_PACKET)
        return false;
    const size_t n = len - h - SRTPAUTH_GCM_TAG;
    uint8_t out[TS_SRTP_MAX_PACKET];
    for (uint32_t k = 0; k < guesses; k++) {
        uint8_t iv[GCM_SALT];
        gcm_iv(iv, a->rtp_salt, ssrc, first + k, seq);
        if (gcm_open(a->rtp_c, iv, pkt, h, NULL, 0, pkt + h, n, pkt + len - SRTPAUTH_GCM_TAG, out)) {
            memcpy(pkt + h, out, n);
            OPENSSL_cleanse(out, n);
            *roc_out = first + k;
            return true;
        }
    }
    return false;
}

bool srtpauth_open_aead_rtcp(struct srtpauth *a, uint8_t *pkt, size_t len)
{
    struct bv b = bv_make(pkt, len);
    uint32_t ssrc = 0, ei = 0;
    if (!a->aead || !a->rtcp_c || len < 8 + SRTPAUTH_GCM_TAG + 4 || len > TS_SRTP_MAX_PACKET ||
        !bv_peek_be32(b, 4, &ssrc) || !bv_peek_be32(b, len - 4, &ei))
        return false;
    /* header, payload, tag, E flag and SRTCP index; E = 0: all of it is
     * authenticated data and nothing is encrypted */
    const bool enc = ei & 0x80000000u;
    const size_t body = len - 4 - SRTPAUTH_GCM_TAG, clear = enc ? 8 : body;
    uint8_t iv[GCM_SALT], out[TS_SRTP_MAX_PACKET];
    gcm_iv(iv, a->rtcp_salt, ssrc, 0, 0);
    for (int i = 0; i < 4; i++)
        iv[8 + i] ^= (uint8_t)(ei >> (24 - 8 * i) & (i ? 0xff : 0x7f));
    if (!gcm_open(a->rtcp_c, iv, pkt, clear, pkt + len - 4, 4, pkt + clear, body - clear,
                  pkt + body, out))
        return false;
    memcpy(pkt + clear, out, body - clear);
    OPENSSL_cleanse(out, body - clear);
    return true;
}

bool srtpauth_aead(const struct srtpauth *a)
{
    return a->aead;
}

bool srtpauth_decrypt_rtcp(struct srtpauth *a, uint8_t *pkt, size_t len)
{
    struct bv b = bv_make(pkt, len);
    uint32_t ssrc = 0, ei = 0;
    if (!a->rtcp_c || len < RTCP_MIN || !bv_peek_be32(b, 4, &ssrc) || !bv_peek_be32(b, len - 4, &ei))
        return false;
    if (!(ei & 0x80000000u))
        return true; /* sent in the clear (RFC 3711 3.4: E = 0) */
    return ctr_xor(a->rtcp_c, a->rtcp_salt, ssrc, ei & 0x7fffffffu, pkt + 8, len - 4 - 8);
}

uint64_t srtpauth_checks(void)
{
    return checks;
}
