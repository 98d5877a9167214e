/* TLS record protection, one direction: the cipher suites' parameters and
 * the opening of protected records through OpenSSL's EVP (RFC 5246 section
 * 6.2.3 for CBC with HMAC and AEAD, RFC 2246/4346 for TLS 1.0/1.1 CBC IVs,
 * RFC 7366 encrypt-then-MAC, RFC 5288 GCM, RFC 6655/7251 CCM, RFC 7905
 * ChaCha20-Poly1305, RFC 8446 section 5.2-5.3 for TLS 1.3). */
#ifndef TS_CRYPTO_TLSREC_H
#define TS_CRYPTO_TLSREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlskdf.h"

enum tlsrec_kx { TLSREC_KX_RSA = 1, TLSREC_KX_DHE, TLSREC_KX_ECDHE, TLSREC_KX_TLS13 };
enum tlsrec_cipher { TLSREC_AES_CBC = 1, TLSREC_AES_GCM, TLSREC_AES_CCM, TLSREC_CHACHA };
enum tlsrec_mac { TLSREC_AEAD = 0, TLSREC_SHA1, TLSREC_SHA256, TLSREC_SHA384 };

struct tlsrec_suite {
    uint16_t id;
    uint8_t kx, cipher, mac;
    uint8_t key_len;     /* 16 or 32 */
    uint8_t tag_len;     /* AEAD tag: 16, 8 for CCM_8 */
    uint8_t prf;         /* enum tlskdf_hash of the TLS 1.2 PRF / TLS 1.3 HKDF */
};

/* The suite, or NULL when this tool cannot decrypt it (NULL ciphers,
 * 3DES, RC4, Camellia, export...). */
const struct tlsrec_suite *tlsrec_suite(uint16_t id);
/* MAC key length of the suite (0 for AEAD) and its fixed IV length (TLS
 * 1.2 GCM/CCM salt 4, ChaCha20 and TLS 1.3 12, CBC 16). */
size_t tlsrec_mac_len(const struct tlsrec_suite *s);
size_t tlsrec_iv_len(const struct tlsrec_suite *s, uint16_t version);

/* One direction's read state. */
struct tlsrec {
    const struct tlsrec_suite *s;
    uint16_t version;                 /* 0x0301..0x0304 */
    bool etm;                         /* encrypt-then-MAC negotiated */
    uint64_t seq;
    uint8_t key[32], iv[16], mac_key[48];
    void *ctx;                        /* EVP_CIPHER_CTX */
    void *mac;                        /* EVP_MAC_CTX keyed once (CBC suites) */
};

/* Keys for version and suite; false when OpenSSL cannot set them up. */
bool tlsrec_init(struct tlsrec *r, const struct tlsrec_suite *s, uint16_t version, bool etm,
                 const uint8_t *key, const uint8_t *iv, const uint8_t *mac_key);
/* TLS 1.3: key and IV from a traffic secret (RFC 8446 section 7.3). */
bool tlsrec_init13(struct tlsrec *r, const struct tlsrec_suite *s, const uint8_t *secret,
                   size_t secret_len);
void tlsrec_cleanup(struct tlsrec *r); /* wipes the keys */

enum tlsrec_result { TLSREC_OK = 0, TLSREC_AUTH, TLSREC_MALFORMED };

/* Opens one record (its 5-byte header hdr, its fragment frag) into out
 * (room for frag_len bytes). On TLSREC_OK *out_len is the plaintext length
 * and, for TLS 1.3, *type the inner content type (the padding removed);
 * the sequence number advances on every call. TLSREC_AUTH: the tag or MAC
 * did not verify (wrong key, or tampering), nothing is returned. */
enum tlsrec_result tlsrec_open(struct tlsrec *r, const uint8_t hdr[5], const uint8_t *frag,
                               size_t frag_len, uint8_t *out, size_t *out_len, uint8_t *type);

#endif
