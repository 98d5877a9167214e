/* X.509 certificates (RFC 5280) read with OpenSSL's libcrypto: the facts a
 * trunk's TLS status shows (subject, issuer, subject alternative names,
 * validity, public key type and size, signature algorithm). libcrypto's
 * headers stay in crypto/. */
#ifndef TS_CRYPTO_X509_H
#define TS_CRYPTO_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/limits.h"

struct x509_facts {
    /* names as `openssl x509 -noout -subject` prints them, without the
     * "subject=" prefix ("C = US, O = Example, CN = sbc.example.net") */
    char subject[TS_X509_NAME_MAX + 1];
    char issuer[TS_X509_NAME_MAX + 1];
    /* "DNS:a.example, IP:192.0.2.1, URI:sip:b.example" (cut at the cap) */
    char sans[TS_X509_SANS_MAX + 1];
    int64_t not_before, not_after; /* seconds since the epoch (UTC) */
    char key_type[16];             /* "RSA", "EC", "ED25519", "DSA", ... */
    uint32_t key_bits;
    char sig_alg[48];              /* "sha256WithRSAEncryption", ... */
    char serial[TS_X509_SERIAL_MAX + 1]; /* hex */
    bool self_signed;              /* subject equals issuer */
};

/* Parse one DER certificate; false when libcrypto cannot read it (the
 * facts are then zeroed). */
bool x509_parse(struct bv der, struct x509_facts *out);

/* Whole days from now_s to not_after (negative once expired). */
int64_t x509_days_left(const struct x509_facts *f, int64_t now_s);

#endif
