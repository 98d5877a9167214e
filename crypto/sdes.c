/* a=crypto parser (see sdes.h). RFC 4568 sections 6.1 (key-params) and
 * 9.1 (grammar), RFC 6188, RFC 7714 section 12. */
#include "sdes.h"

#include <string.h>

static const struct {
    const char *name;
    enum sdes_suite s;
    uint8_t len; /* key + salt */
} suites[] = {
    { "AES_CM_128_HMAC_SHA1_80", SDES_AES_CM_128_HMAC_SHA1_80, 30 },
    { "AES_CM_128_HMAC_SHA1_32", SDES_AES_CM_128_HMAC_SHA1_32, 30 },
    { "AES_256_CM_HMAC_SHA1_80", SDES_AES_256_CM_HMAC_SHA1_80, 46 },
    { "AES_256_CM_HMAC_SHA1_32", SDES_AES_256_CM_HMAC_SHA1_32, 46 },
    { "AES_CM_256_HMAC_SHA1_80", SDES_AES_256_CM_HMAC_SHA1_80, 46 }, /* an alias in the wild */
    { "AES_CM_256_HMAC_SHA1_32", SDES_AES_256_CM_HMAC_SHA1_32, 46 },
    { "AEAD_AES_128_GCM", SDES_AEAD_AES_128_GCM, 28 },
    { "AEAD_AES_256_GCM", SDES_AEAD_AES_256_GCM, 44 },
};

const char *sdes_suite_name(enum sdes_suite s)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].s == s)
            return suites[i].name;
    return "none";
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Base64 (RFC 4648 section 4, padding optional) of exactly want bytes. */
static bool b64(struct bv s, uint8_t *out, size_t want)
{
    while (s.len && bv_at(s, s.len - 1) == '=')
        s.len--;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        int v = b64val(bv_at(s, i));
        if (v < 0)
            return false;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == want)
                return false;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n == want;
}

/* Next whitespace-separated token (CR and LF around it go too). */
static bool token(struct bv *b, struct bv *out)
{
    *b = bv_trim(*b);
    return bv_word(b, out);
}

enum sdes_result sdes_parse(struct bv value, struct sdes_key *out)
{
    struct bv tag, suite, params, v;
    memset(out, 0, sizeof *out);
    if (!token(&value, &tag) || !bv_u32dec(tag, &out->tag) || !token(&value, &suite) ||
        !token(&value, &params))
        return SDES_MALFORMED;
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (bv_eq_cstr(suite, suites[i].name)) {
            out->suite = suites[i].s;
            out->key_len = suites[i].len;
        }
    if (out->suite == SDES_NONE)
        return SDES_UNSUPPORTED;
    /* session parameters that change how keys are used are not followed */
    while (token(&value, &v))
        if (bv_prefix_ci(v, "KDR=") || bv_prefix_ci(v, "UNENCRYPTED_") ||
            bv_prefix_ci(v, "FEC_KEY="))
            return SDES_UNSUPPORTED;
    /* the first key of "inline:KEY|LIFETIME|MKI:LEN;inline:..." */
    long semi = bv_index(params, ';');
    if (semi >= 0)
        params = bv_head(params, (size_t)semi);
    if (!bv_prefix_ci(params, "inline:"))
        return SDES_MALFORMED;
    bv_skip(&params, 7);
    struct bv key;
    if (!bv_until(&params, '|', &key))
        key = params, params = bv_make(NULL, 0);
    if (!b64(key, out->key, out->key_len))
        return SDES_MALFORMED;
    while (params.len) {
        struct bv part;
        if (!bv_until(&params, '|', &part))
            part = params, params = bv_make(NULL, 0);
        long colon = bv_index(part, ':');
        if (colon >= 0) { /* MKI:LENGTH, the value in LENGTH bytes (1..128; we keep 4) */
            uint32_t val, len;
            if (!bv_u32dec(bv_head(part, (size_t)colon), &val) ||
                !bv_u32dec(bv_from(part, (size_t)colon + 1), &len) || len < 1 || len > 128)
                return SDES_MALFORMED;
            if (len > 4)
                return SDES_UNSUPPORTED;
            if (len < 4 && val >> (8 * len))
                return SDES_MALFORMED;
            out->mki_len = (uint8_t)len;
            for (uint32_t i = 0; i < len; i++)
                out->mki[i] = (uint8_t)(val >> (8 * (len - 1 - i)));
        } else if (bv_prefix_ci(part, "2^")) {
            uint32_t e;
            if (!bv_u32dec(bv_from(part, 2), &e) || e > 63)
                return SDES_MALFORMED;
            out->lifetime = 1ull << e;
        } else {
            uint64_t l;
            if (!bv_u64dec(part, &l))
                return SDES_MALFORMED;
            out->lifetime = l;
        }
    }
    return SDES_OK;
}
