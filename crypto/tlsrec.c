/* TLS record protection through EVP (see tlsrec.h). Every cipher, hash and
 * MAC is OpenSSL's; this file only arranges nonces, additional data,
 * padding and MAC input as the RFCs say. */
#include "tlsrec.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../common/bv.h"

#define S(id, kx, c, mac, kl, tag, prf) { id, TLSREC_KX_##kx, TLSREC_##c, TLSREC_##mac, kl, tag, TLSKDF_##prf }
static const struct tlsrec_suite suites[] = {
    /* TLS 1.3 (RFC 8446 appendix B.4) */
    S(0x1301, TLS13, AES_GCM, AEAD, 16, 16, SHA256),
    S(0x1302, TLS13, AES_GCM, AEAD, 32, 16, SHA384),
    S(0x1303, TLS13, CHACHA, AEAD, 32, 16, SHA256),
    S(0x1304, TLS13, AES_CCM, AEAD, 16, 16, SHA256),
    S(0x1305, TLS13, AES_CCM, AEAD, 16, 8, SHA256),
    /* RSA key exchange */
    S(0x002f, RSA, AES_CBC, SHA1, 16, 0, SHA256),
    S(0x0035, RSA, AES_CBC, SHA1, 32, 0, SHA256),
    S(0x003c, RSA, AES_CBC, SHA256, 16, 0, SHA256),
    S(0x003d, RSA, AES_CBC, SHA256, 32, 0, SHA256),
    S(0x009c, RSA, AES_GCM, AEAD, 16, 16, SHA256),
    S(0x009d, RSA, AES_GCM, AEAD, 32, 16, SHA384),
    S(0xc09c, RSA, AES_CCM, AEAD, 16, 16, SHA256),
    S(0xc09d, RSA, AES_CCM, AEAD, 32, 16, SHA256),
    S(0xc0a0, RSA, AES_CCM, AEAD, 16, 8, SHA256),
    S(0xc0a1, RSA, AES_CCM, AEAD, 32, 8, SHA256),
    /* DHE_RSA */
    S(0x0033, DHE, AES_CBC, SHA1, 16, 0, SHA256),
    S(0x0039, DHE, AES_CBC, SHA1, 32, 0, SHA256),
    S(0x0067, DHE, AES_CBC, SHA256, 16, 0, SHA256),
    S(0x006b, DHE, AES_CBC, SHA256, 32, 0, SHA256),
    S(0x009e, DHE, AES_GCM, AEAD, 16, 16, SHA256),
    S(0x009f, DHE, AES_GCM, AEAD, 32, 16, SHA384),
    S(0xc09e, DHE, AES_CCM, AEAD, 16, 16, SHA256),
    S(0xc09f, DHE, AES_CCM, AEAD, 32, 16, SHA256),
    S(0xccaa, DHE, CHACHA, AEAD, 32, 16, SHA256),
    /* ECDHE_ECDSA */
    S(0xc009, ECDHE, AES_CBC, SHA1, 16, 0, SHA256),
    S(0xc00a, ECDHE, AES_CBC, SHA1, 32, 0, SHA256),
    S(0xc023, ECDHE, AES_CBC, SHA256, 16, 0, SHA256),
    S(0xc024, ECDHE, AES_CBC, SHA384, 32, 0, SHA384),
    S(0xc02b, ECDHE, AES_GCM, AEAD, 16, 16, SHA256),
    S(0xc02c, ECDHE, AES_GCM, AEAD, 32, 16, SHA384),
    S(0xc0ac, ECDHE, AES_CCM, AEAD, 16, 16, SHA256),
    S(0xc0ad, ECDHE, AES_CCM, AEAD, 32, 16, SHA256),
    S(0xc0ae, ECDHE, AES_CCM, AEAD, 16, 8, SHA256),
    S(0xc0af, ECDHE, AES_CCM, AEAD, 32, 8, SHA256),
    S(0xcca9, ECDHE, CHACHA, AEAD, 32, 16, SHA256),
    /* ECDHE_RSA */
    S(0xc013, ECDHE, AES_CBC, SHA1, 16, 0, SHA256),
    S(0xc014, ECDHE, AES_CBC, SHA1, 32, 0, SHA256),
    S(0xc027, ECDHE, AES_CBC, SHA256, 16, 0, SHA256),
    S(0xc028, ECDHE, AES_CBC, SHA384, 32, 0, SHA384),
    S(0xc02f, ECDHE, AES_GCM, AEAD, 16, 16, SHA256),
    S(0xc030, ECDHE, AES_GCM, AEAD, 32, 16, SHA384),
    S(0xcca8, ECDHE, CHACHA, AEAD, 32, 16, SHA256),
};
#undef S

const struct tlsrec_suite *tlsrec_suite(uint16_t id)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == id)
            return &suites[i];
    return NULL;
}

size_t tlsrec_mac_len(const struct tlsrec_suite *s)
{
    return s->mac == TLSREC_SHA1 ? 20 : s->mac == TLSREC_SHA256 ? 32 : s->mac == TLSREC_SHA384 ? 48 : 0;
}

size_t tlsrec_iv_len(const struct tlsrec_suite *s, uint16_t version)
{
    if (s->cipher == TLSREC_AES_CBC)
        return 16;
    if (version >= 0x0304 || s->cipher == TLSREC_CHACHA)
        return 12;
    return 4; /* GCM/CCM salt; the other 8 bytes travel in each record */
}

static const EVP_CIPHER *evp_cipher(const struct tlsrec_suite *s)
{
    bool big = s->key_len == 32;
    switch (s->cipher) {
    case TLSREC_AES_CBC:
        return big ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    case TLSREC_AES_GCM:
        return big ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    case TLSREC_AES_CCM:
        return big ? EVP_aes_256_ccm() : EVP_aes_128_ccm();
    default:
        return EVP_chacha20_poly1305();
    }
}

bool tlsrec_init(struct tlsrec *r, const struct tlsrec_suite *s, uint16_t version, bool etm,
                 const uint8_t *key, const uint8_t *iv, const uint8_t *mac_key)
{
    tlsrec_cleanup(r);
    r->s = s;
    r->version = version;
    r->etm = etm && s->cipher == TLSREC_AES_CBC;
    r->seq = 0;
    memcpy(r->key, key, s->key_len);
    memcpy(r->iv, iv, tlsrec_iv_len(s, version));
    if (tlsrec_mac_len(s))
        memcpy(r->mac_key, mac_key, tlsrec_mac_len(s));
    r->ctx = EVP_CIPHER_CTX_new();
    if (!r->ctx)
        return false;
    if (tlsrec_mac_len(s)) {
        /* fetched and keyed once: a fetch per record cost more than the MAC */
        const char *md = s->mac == TLSREC_SHA1 ? "SHA1" : s->mac == TLSREC_SHA256 ? "SHA256" : "SHA384";
        OSSL_PARAM p[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0),
                            OSSL_PARAM_construct_end() };
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        if (!mc || !EVP_MAC_init(mc, r->mac_key, tlsrec_mac_len(s), p)) {
            EVP_MAC_CTX_free(mc);
            return false;
        }
        r->mac = mc;
    }
    return true;
}

bool tlsrec_init13(struct tlsrec *r, const struct tlsrec_suite *s, const uint8_t *secret,
                   size_t secret_len)
{
    uint8_t key[32], iv[12];
    enum tlskdf_hash h = (enum tlskdf_hash)s->prf;
    bool ok = tlskdf_expand_label(h, secret, secret_len, "key", NULL, 0, key, s->key_len) &&
              tlskdf_expand_label(h, secret, secret_len, "iv", NULL, 0, iv, sizeof iv) &&
              tlsrec_init(r, s, 0x0304, false, key, iv, NULL);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(iv, sizeof iv);
    return ok;
}

void tlsrec_cleanup(struct tlsrec *r)
{
    EVP_CIPHER_CTX_free(r->ctx);
    EVP_MAC_CTX_free(r->mac);
    OPENSSL_cleanse(r, sizeof *r);
}

static void seq_bytes(uint64_t seq, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)seq;
        seq >>= 8;
    }
}

/* AEAD open: nonce, aad, ciphertext then tag. */
static bool aead_open(struct tlsrec *r, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                      const uint8_t *ct, size_t ct_len, const uint8_t *tag, uint8_t *out)
{
    EVP_CIPHER_CTX *c = r->ctx;
    int n = 0, ilen = (int)ct_len;
    int taglen = r->s->tag_len;
    if (!EVP_CIPHER_CTX_reset(c) || !EVP_DecryptInit_ex(c, evp_cipher(r->s), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL))
        return false;
    if (r->s->cipher == TLSREC_AES_CCM) {
        /* CCM: the tag and the total length come before the data */
        if (!EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, taglen, (void *)tag) ||
            !EVP_DecryptInit_ex(c, NULL, NULL, r->key, nonce) ||
            !EVP_DecryptUpdate(c, NULL, &n, NULL, ilen) ||
            !EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len))
            return false;
        return EVP_DecryptUpdate(c, out, &n, ct, ilen) > 0;
    }
    if (!EVP_DecryptInit_ex(c, NULL, NULL, r->key, nonce) ||
        !EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) ||
        (ilen && !EVP_DecryptUpdate(c, out, &n, ct, ilen)) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, taglen, (void *)tag))
        return false;
    return EVP_DecryptFinal_ex(c, out + n, &n) > 0;
}

static bool hmac(const struct tlsrec *r, const uint8_t *hdr, size_t hdr_len, const uint8_t *data,
                 size_t len, uint8_t *out)
{
    size_t n = 0;
    /* a NULL key keeps the one set at tlsrec_init */
    return r->mac && EVP_MAC_init(r->mac, NULL, 0, NULL) && EVP_MAC_update(r->mac, hdr, hdr_len) &&
           EVP_MAC_update(r->mac, data, len) && EVP_MAC_final(r->mac, out, &n, 64);
}

static bool cbc_decrypt(struct tlsrec *r, const uint8_t *iv, const uint8_t *ct, size_t len,
                        uint8_t *out)
{
    EVP_CIPHER_CTX *c = r->ctx;
    int n = 0, m = 0;
    return EVP_CIPHER_CTX_reset(c) && EVP_DecryptInit_ex(c, evp_cipher(r->s), NULL, r->key, iv) &&
           EVP_CIPHER_CTX_set_padding(c, 0) && EVP_DecryptUpdate(c, out, &n, ct, (int)len) &&
           EVP_DecryptFinal_ex(c, out + n, &m) && (size_t)(n + m) == len;
}

static enum tlsrec_result open_cbc(struct tlsrec *r, const uint8_t hdr[5], struct bv f,
                                   uint8_t *out, size_t *out_len)
{
    size_t maclen = tlsrec_mac_len(r->s);
    uint8_t seq[8], mhdr[13], mac[64], iv[16];
    seq_bytes(r->seq, seq);
    memcpy(mhdr, seq, 8);
    memcpy(mhdr + 8, hdr, 3);
    struct bv ivb = bv_make(r->iv, 16);
    if (r->version >= 0x0302 && !bv_take(&f, 16, &ivb)) /* explicit IV */
        return TLSREC_MALFORMED;
    memcpy(iv, ivb.p, 16);
    if (r->etm) {
        /* RFC 7366: the MAC covers the IV and the ciphertext */
        struct bv whole = r->version >= 0x0302 ? bv_make(ivb.p, 16 + f.len) : f;
        if (f.len < maclen || (f.len - maclen) % 16 || f.len == maclen)
            return TLSREC_MALFORMED;
        size_t cl = whole.len - maclen;
        mhdr[11] = (uint8_t)(cl >> 8);
        mhdr[12] = (uint8_t)cl;
        if (!hmac(r, mhdr, 13, whole.p, cl, mac) ||
            CRYPTO_memcmp(mac, whole.p + cl, maclen) != 0)
            return TLSREC_AUTH;
        f.len -= maclen;
    } else if (!f.len || f.len % 16 || f.len < maclen + 1) {
        return TLSREC_MALFORMED;
    }
    if (!cbc_decrypt(r, iv, f.p, f.len, out))
        return TLSREC_MALFORMED;
    if (r->version < 0x0302) /* TLS 1.0: the next record chains on */
        memcpy(r->iv, f.p + f.len - 16, 16);
    struct bv p = bv_make(out, f.len);
    uint8_t pad = 0;
    bv_peek_u8(p, p.len - 1, &pad);
    size_t strip = (size_t)pad + 1 + (r->etm ? 0 : maclen);
    if (strip > p.len)
        return TLSREC_AUTH;
    bool pad_ok = true;
    for (size_t i = 0; i <= pad; i++)
        pad_ok &= bv_at(p, p.len - 1 - i) == pad;
    size_t plen = p.len - strip;
    if (!r->etm) {
        mhdr[11] = (uint8_t)(plen >> 8);
        mhdr[12] = (uint8_t)plen;
        if (!hmac(r, mhdr, 13, out, plen, mac) || CRYPTO_memcmp(mac, out + plen, maclen) != 0)
            pad_ok = false;
    }
    if (!pad_ok)
        return TLSREC_AUTH;
    *out_len = plen;
    return TLSREC_OK;
}

enum tlsrec_result tlsrec_open(struct tlsrec *r, const uint8_t hdr[5], const uint8_t *frag,
                               size_t frag_len, uint8_t *out, size_t *out_len, uint8_t *type)
{
    struct bv f = bv_make(frag, frag_len);
    enum tlsrec_result res;
    uint8_t seq[8];
    seq_bytes(r->seq, seq);
    *type = hdr[0];
    if (!r->s || !r->ctx)
        return TLSREC_MALFORMED;
    if (r->s->cipher == TLSREC_AES_CBC) {
        res = open_cbc(r, hdr, f, out, out_len);
        r->seq++;
        return res;
    }
    r->seq++;
    uint8_t nonce[12], aad[13], tag[16];
    size_t taglen = r->s->tag_len;
    struct bv expl = { 0 }, ct, tagb;
    bool explicit = r->version < 0x0304 && r->s->cipher != TLSREC_CHACHA;
    if ((explicit && !bv_take(&f, 8, &expl)) || f.len < taglen)
        return TLSREC_MALFORMED;
    ct = bv_head(f, f.len - taglen);
    tagb = bv_from(f, f.len - taglen);
    memcpy(tag, tagb.p, taglen);
    size_t aad_len;
    if (explicit) {
        memcpy(nonce, r->iv, 4);
        memcpy(nonce + 4, expl.p, 8);
    } else {
        memcpy(nonce, r->iv, 12);
        for (int i = 0; i < 8; i++)
            nonce[4 + i] ^= seq[i];
    }
    if (r->version >= 0x0304) {
        memcpy(aad, hdr, 5);
        aad_len = 5;
    } else {
        memcpy(aad, seq, 8);
        memcpy(aad + 8, hdr, 3);
        aad[11] = (uint8_t)(ct.len >> 8);
        aad[12] = (uint8_t)ct.len;
        aad_len = 13;
    }
    if (!aead_open(r, nonce, aad, aad_len, ct.p, ct.len, tag, out))
        return TLSREC_AUTH;
    size_t n = ct.len;
    if (r->version >= 0x0304) {
        /* TLSInnerPlaintext: content, type, zero padding */
        while (n && out[n - 1] == 0)
            n--;
        if (!n)
            return TLSREC_MALFORMED;
        *type = out[--n];
    }
    *out_len = n;
    return TLSREC_OK;
}
