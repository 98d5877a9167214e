/* X.509 certificate facts through libcrypto (RFC 5280 sections 4.1 and
 * 4.2.1.6): the one place trunkscope hands certificate bytes to OpenSSL.
 * d2i_X509 bounds its reads by the length given; everything returned is
 * copied into fixed-size text. */
#include "x509.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* A name as the openssl x509 command prints it by default (its "oneline"
 * form: "C = US, O = Example, CN = name"), UTF-8. */
static void name_text(const X509_NAME *n, char *dst, size_t cap)
{
    dst[0] = 0;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    unsigned long fl = XN_FLAG_ONELINE & ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(b, n, 0, fl | ASN1_STRFLGS_UTF8_CONVERT) >= 0) {
        int k = BIO_read(b, dst, (int)(cap - 1));
        dst[k > 0 ? k : 0] = 0;
    }
    BIO_free(b);
}

static int64_t time_of(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

static void append(char *dst, size_t cap, const char *kind, const char *v, size_t vlen)
{
    size_t n = strlen(dst);
    size_t need = (n ? 2 : 0) + strlen(kind) + 1 + vlen;
    if (n + need >= cap)
        return;
    if (n) {
        memcpy(dst + n, ", ", 2);
        n += 2;
    }
    memcpy(dst + n, kind, strlen(kind));
    n += strlen(kind);
    dst[n++] = ':';
    for (size_t i = 0; i < vlen; i++) /* control bytes and commas would blur the list */
        dst[n++] = (unsigned char)v[i] < 0x20 || v[i] == ',' ? '?' : v[i];
    dst[n] = 0;
}

static void sans_text(X509 *x, char *dst, size_t cap)
{
    dst[0] = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!gens)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const ASN1_STRING *s = NULL;
        const char *kind = NULL;
        switch (g->type) {
        case GEN_DNS: kind = "DNS"; s = g->d.dNSName; break;
        case GEN_URI: kind = "URI"; s = g->d.uniformResourceIdentifier; break;
        case GEN_EMAIL: kind = "email"; s = g->d.rfc822Name; break;
        case GEN_IPADD: {
            const ASN1_OCTET_STRING *ip = g->d.iPAddress;
            char buf[48];
            const unsigned char *p = ASN1_STRING_get0_data(ip);
            int len = ASN1_STRING_length(ip);
            if (len == 4) {
                snprintf(buf, sizeof buf, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
                append(dst, cap, "IP", buf, strlen(buf));
            } else if (len == 16) {
                /* the openssl command's form: groups in hex, no compression */
                size_t k = 0;
                for (int j = 0; j < 16; j += 2)
                    k += (size_t)snprintf(buf + k, sizeof buf - k, j ? ":%X" : "%X",
                                          (unsigned)(p[j] << 8 | p[j + 1]));
                append(dst, cap, "IP", buf, k);
            }
            continue;
        }
        default:
            continue;
        }
        append(dst, cap, kind, (const char *)ASN1_STRING_get0_data(s),
               (size_t)ASN1_STRING_length(s));
    }
    GENERAL_NAMES_free(gens);
}

bool x509_parse(struct bv der, struct x509_facts *out)
{
    memset(out, 0, sizeof *out);
    if (!der.len || der.len > (size_t)INT32_MAX)
        return false;
    const unsigned char *p = der.p;
    X509 *x = d2i_X509(NULL, &p, (long)der.len);
    if (!x)
        return false;
    name_text(X509_get_subject_name(x), out->subject, sizeof out->subject);
    name_text(X509_get_issuer_name(x), out->issuer, sizeof out->issuer);
    out->self_signed = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
    sans_text(x, out->sans, sizeof out->sans);
    out->not_before = time_of(X509_get0_notBefore(x));
    out->not_after = time_of(X509_get0_notAfter(x));
    EVP_PKEY *k = X509_get0_pubkey(x);
    if (k) {
        int id = EVP_PKEY_get_base_id(k);
        const char *name = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC"
                         : id == EVP_PKEY_ED25519 ? "ED25519" : id == EVP_PKEY_ED448 ? "ED448"
                         : id == EVP_PKEY_DSA ? "DSA" : id == EVP_PKEY_RSA_PSS ? "RSA-PSS"
                         : "other";
        snprintf(out->key_type, sizeof out->key_type, "%s", name);
        int bits = EVP_PKEY_get_bits(k);
        out->key_bits = bits > 0 ? (uint32_t)bits : 0;
    }
    int nid = X509_get_signature_nid(x);
    const char *sig = nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
    snprintf(out->sig_alg, sizeof out->sig_alg, "%s", sig ? sig : "unknown");
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    BIGNUM *bn = sn ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
    if (bn) {
        char *hex = BN_bn2hex(bn);
        if (hex)
            snprintf(out->serial, sizeof out->serial, "%s", hex);
        OPENSSL_free(hex);
        BN_free(bn);
    }
    X509_free(x);
    return true;
}

int64_t x509_days_left(const struct x509_facts *f, int64_t now_s)
{
    int64_t d = f->not_after - now_s;
    /* whole days, rounded towards minus infinity: 0 on the last day */
    return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}
