/* TLS key derivation through OpenSSL's EVP_KDF: the TLS 1.0-1.2 PRF (RFC
 * 2246 section 5, RFC 5246 section 5; "MD5-SHA1" for TLS 1.0/1.1) with the
 * master secret, extended master secret (RFC 7627) and key block, and TLS
 * 1.3's HKDF-Expand-Label (RFC 8446 section 7.1) for traffic keys and
 * KeyUpdate. */
#ifndef TS_CRYPTO_TLSKDF_H
#define TS_CRYPTO_TLSKDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tlskdf_hash { TLSKDF_MD5_SHA1 = 0, TLSKDF_SHA256, TLSKDF_SHA384 };

/* Output length of the hash (36, 32, 48). */
size_t tlskdf_hash_len(enum tlskdf_hash h);

/* PRF(secret, label, seed1 + seed2)[0..outlen): true on success. */
bool tlskdf_prf(enum tlskdf_hash h, const uint8_t *secret, size_t secret_len,
                const char *label, const uint8_t *seed1, size_t seed1_len,
                const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t outlen);

/* HKDF-Expand-Label(secret, label, context, outlen) with "tls13 " prefixed
 * to label (h is SHA256 or SHA384). */
bool tlskdf_expand_label(enum tlskdf_hash h, const uint8_t *secret, size_t secret_len,
                         const char *label, const uint8_t *context, size_t context_len,
                         uint8_t *out, size_t outlen);

/* HKDF-Extract(salt, ikm) into out (the hash's length), for the unit tests
 * of the key schedule (RFC 8448) and Derive-Secret. */
bool tlskdf_extract(enum tlskdf_hash h, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, uint8_t *out);

/* Hash of data (the transcript hash of RFC 7627 and RFC 8446). */
bool tlskdf_digest(enum tlskdf_hash h, const uint8_t *data, size_t len, uint8_t *out);

#endif
