/* TLS PRF and HKDF-Expand-Label through EVP_KDF (see tlskdf.h). No hash or
 * MAC written here: OpenSSL computes them. */
#include "tlskdf.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static const char *md_name(enum tlskdf_hash h)
{
    return h == TLSKDF_MD5_SHA1 ? "MD5-SHA1" : h == TLSKDF_SHA384 ? "SHA384" : "SHA256";
}

size_t tlskdf_hash_len(enum tlskdf_hash h)
{
    return h == TLSKDF_MD5_SHA1 ? 36 : h == TLSKDF_SHA384 ? 48 : 32;
}

static bool kdf_run(const char *alg, OSSL_PARAM *params, uint8_t *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, alg, NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    bool ok = ctx && EVP_KDF_derive(ctx, out, outlen, params) > 0;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return ok;
}

bool tlskdf_prf(enum tlskdf_hash h, const uint8_t *secret, size_t secret_len,
                const char *label, const uint8_t *seed1, size_t seed1_len,
                const uint8_t *seed2, size_t seed2_len, uint8_t *out, size_t outlen)
{
    OSSL_PARAM p[6], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(h), 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len);
    /* the seeds are concatenated: label, then the randoms */
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)label, strlen(label));
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed1, seed1_len);
    if (seed2_len)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed2, seed2_len);
    *q = OSSL_PARAM_construct_end();
    return kdf_run("TLS1-PRF", p, out, outlen);
}

bool tlskdf_expand_label(enum tlskdf_hash h, const uint8_t *secret, size_t secret_len,
                         const char *label, const uint8_t *context, size_t context_len,
                         uint8_t *out, size_t outlen)
{
    /* struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; } */
    uint8_t info[2 + 1 + 255 + 1 + 255];
    size_t ll = 6 + strlen(label);
    if (outlen > 0xffff || ll > 255 || context_len > 255)
        return false;
    size_t n = 0;
    info[n++] = (uint8_t)(outlen >> 8);
    info[n++] = (uint8_t)outlen;
    info[n++] = (uint8_t)ll;
    memcpy(info + n, "tls13 ", 6);
    memcpy(info + n + 6, label, ll - 6);
    n += ll;
    info[n++] = (uint8_t)context_len;
    if (context_len)
        memcpy(info + n, context, context_len);
    n += context_len;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM p[5], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(h), 0);
    *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
    *q = OSSL_PARAM_construct_end();
    return kdf_run("HKDF", p, out, outlen);
}

bool tlskdf_extract(enum tlskdf_hash h, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, uint8_t *out)
{
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    uint8_t zero = 0;
    OSSL_PARAM p[5], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md_name(h), 0);
    *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm_len ? (void *)ikm : &zero,
                                             ikm_len);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_len ? (void *)salt : &zero,
                                             salt_len);
    *q = OSSL_PARAM_construct_end();
    return kdf_run("HKDF", p, out, tlskdf_hash_len(h));
}

bool tlskdf_digest(enum tlskdf_hash h, const uint8_t *data, size_t len, uint8_t *out)
{
    unsigned int n = 0;
    EVP_MD *md = EVP_MD_fetch(NULL, md_name(h), NULL);
    bool ok = md && EVP_Digest(data, len, out, &n, md, NULL) > 0;
    EVP_MD_free(md);
    return ok;
}
