/* Key material of one analysis: key log, RSA keys, resumable sessions (see
 * tlskeys.h). RSA decryption is EVP_PKEY_decrypt with PKCS#1 v1.5 padding
 * (RFC 5246 section 7.4.7.1). */
#include "tlskeys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"
#include "../common/num.h"

struct rsa_key {
    struct ts_addr addr;
    uint16_t port;
    EVP_PKEY *pkey;
};

struct sess {
    struct ht_node node;
    uint8_t kind;
    uint64_t id_hash2; /* a second hash of the id: a ticket can be 64 KiB, not kept */
    uint8_t ms[48];
};

struct tlskeys {
    struct keylog *kl;
    bool have_keylog;
    uint64_t last_refresh_ns;
    struct rsa_key rsa[TS_TLS_RSA_KEYS_MAX];
    size_t nrsa;
    struct htab sessions;
    uint8_t scratch[TS_TLS_MAX_RECORD];
};

struct tlskeys *tlskeys_new(void)
{
    struct tlskeys *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->kl = keylog_new();
    if (!k->kl || htab_init(&k->sessions, TS_TLS_SESSIONS_MAX) != 0) {
        keylog_free(k->kl);
        free(k);
        return NULL;
    }
    return k;
}

void tlskeys_free(struct tlskeys *k)
{
    if (!k)
        return;
    keylog_free(k->kl);
    for (size_t i = 0; i < k->nrsa; i++)
        EVP_PKEY_free(k->rsa[i].pkey);
    while (k->sessions.count) {
        struct sess *s = ts_container_of(k->sessions.lru.lnext, struct sess, node);
        htab_remove(&k->sessions, &s->node);
        OPENSSL_cleanse(s, sizeof *s);
        free(s);
    }
    htab_cleanup(&k->sessions);
    free(k);
}

static bool others_can_read(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && (sb.st_mode & (S_IRGRP | S_IROTH));
}

int tlskeys_add_keylog(struct tlskeys *k, const char *path, bool *warn, char *err, size_t errlen)
{
    if (k->have_keylog) {
        snprintf(err, errlen, "%s: only one --tls-keylog", path);
        return -1;
    }
    if (keylog_open(k->kl, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    k->have_keylog = true;
    *warn = others_can_read(path);
    return 0;
}

int tlskeys_add_rsa(struct tlskeys *k, const struct ts_addr *addr, uint16_t port, const char *path,
                    bool *warn, char *err, size_t errlen)
{
    if (k->nrsa >= TS_TLS_RSA_KEYS_MAX) {
        snprintf(err, errlen, "%s: at most %d --tls-key", path, TS_TLS_RSA_KEYS_MAX);
        return -1;
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk) {
        snprintf(err, errlen, "%s: not a PEM private key (unencrypted PKCS#1 or PKCS#8 expected)", path);
        return -1;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        snprintf(err, errlen, "%s: not an RSA key (only RSA key exchange can be decrypted with a key)", path);
        return -1;
    }
    struct rsa_key *r = &k->rsa[k->nrsa++];
    r->addr = *addr;
    r->port = port;
    r->pkey = pk;
    *warn = others_can_read(path);
    return 0;
}

int tlskeys_add_rsa_spec(struct tlskeys *k, const char *spec, bool *warn, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    const char *colon = eq ? memrchr(spec, ':', (size_t)(eq - spec)) : NULL;
    char host[64], portstr[8];
    struct ts_addr a = { 0 };
    uint64_t port = 0;
    size_t hl = colon ? (size_t)(colon - spec) : 0;
    size_t pl = colon ? (size_t)(eq - colon - 1) : 0;
    if (!eq || !colon || !eq[1] || hl == 0 || hl >= sizeof host || pl == 0 || pl >= sizeof portstr) {
        snprintf(err, errlen, "'%s': ADDR:PORT=FILE.pem expected", spec);
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    memcpy(portstr, colon + 1, pl);
    portstr[pl] = 0;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    if (strcmp(host, "*") != 0) {
        if (inet_pton(AF_INET, host, a.a) == 1)
            a.family = 4;
        else if (inet_pton(AF_INET6, host, a.a) == 1)
            a.family = 6;
        else {
            snprintf(err, errlen, "'%s': a numeric IPv4 or IPv6 address (or *) expected before :PORT", spec);
            return -1;
        }
    }
    if (strcmp(portstr, "*") != 0 && !num_u64(portstr, 1, 65535, &port)) {
        snprintf(err, errlen, "'%s': a port 1-65535 (or *) expected after the address", spec);
        return -1;
    }
    return tlskeys_add_rsa(k, &a, (uint16_t)port, eq + 1, warn, err, errlen);
}

void tlskeys_feed_keylog(struct tlskeys *k, struct bv text)
{
    keylog_feed(k->kl, text);
    keylog_feed(k->kl, bv_cstr("\n"));
}

bool tlskeys_empty(const struct tlskeys *k)
{
    return !k->have_keylog && !k->nrsa;
}

void tlskeys_refresh(struct tlskeys *k, uint64_t now_ns)
{
    if (!k->have_keylog || (k->last_refresh_ns && now_ns < k->last_refresh_ns + 1000000000ull))
        return;
    k->last_refresh_ns = now_ns;
    keylog_refresh(k->kl);
}

uint8_t *tlskeys_scratch(struct tlskeys *k)
{
    return k->scratch;
}

const struct keylog *tlskeys_keylog(const struct tlskeys *k)
{
    return k->kl;
}

static const struct rsa_key *rsa_for(const struct tlskeys *k, const struct ts_addr *addr,
                                     uint16_t port)
{
    for (size_t i = 0; i < k->nrsa; i++) {
        const struct rsa_key *r = &k->rsa[i];
        if ((!r->port || r->port == port) && (!r->addr.family || ts_addr_eq(&r->addr, addr)))
            return r;
    }
    return NULL;
}

bool tlskeys_have_rsa(const struct tlskeys *k, const struct ts_addr *addr, uint16_t port)
{
    return rsa_for(k, addr, port) != NULL;
}

int tlskeys_rsa_decrypt(const struct tlskeys *k, const struct ts_addr *addr, uint16_t port,
                        const uint8_t *enc, size_t enc_len, uint8_t pms[48])
{
    const struct rsa_key *r = rsa_for(k, addr, port);
    if (!r)
        return 0;
    uint8_t out[1024];
    size_t outlen = sizeof out;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(r->pkey, NULL);
    bool ok = ctx && (size_t)EVP_PKEY_get_size(r->pkey) <= sizeof out &&
              EVP_PKEY_decrypt_init(ctx) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
              EVP_PKEY_decrypt(ctx, out, &outlen, enc, enc_len) > 0 && outlen == 48;
    EVP_PKEY_CTX_free(ctx);
    if (ok)
        memcpy(pms, out, 48);
    OPENSSL_cleanse(out, sizeof out);
    return ok ? 1 : -1;
}

static bool eq_sess(const struct ht_node *n, const void *key)
{
    const struct sess *s = ts_container_of(n, struct sess, node);
    const uint64_t *kv = key;
    return s->kind == kv[0] && s->id_hash2 == kv[1];
}

static void sess_key(int kind, const uint8_t *id, size_t len, uint64_t *h1, uint64_t kv[2])
{
    uint64_t h = ts_hash(id, len);
    *h1 = ts_mix64(h, (uint64_t)kind);
    kv[0] = (uint64_t)kind;
    kv[1] = ts_mix64(ts_hash_mix(h, id, len), 0x5e55);
}

void tlskeys_session_put(struct tlskeys *k, int kind, const uint8_t *id, size_t id_len,
                         const uint8_t ms[48])
{
    if (!id_len)
        return;
    uint64_t h, kv[2];
    sess_key(kind, id, id_len, &h, kv);
    struct ht_node *n = htab_find(&k->sessions, h, eq_sess, kv);
    struct sess *s;
    if (n) {
        s = ts_container_of(n, struct sess, node);
        htab_touch(&k->sessions, n);
    } else {
        if (htab_full(&k->sessions)) {
            struct sess *old = ts_container_of(k->sessions.lru.lnext, struct sess, node);
            htab_remove(&k->sessions, &old->node);
            OPENSSL_cleanse(old, sizeof *old);
            free(old);
        }
        s = calloc(1, sizeof *s);
        if (!s)
            return;
        s->kind = (uint8_t)kind;
        s->id_hash2 = kv[1];
        htab_insert(&k->sessions, &s->node, h);
    }
    memcpy(s->ms, ms, 48);
}

bool tlskeys_session_get(struct tlskeys *k, int kind, const uint8_t *id, size_t id_len,
                         uint8_t ms[48])
{
    if (!id_len)
        return false;
    uint64_t h, kv[2];
    sess_key(kind, id, id_len, &h, kv);
    struct ht_node *n = htab_find(&k->sessions, h, eq_sess, kv);
    if (!n)
        return false;
    memcpy(ms, ts_container_of(n, struct sess, node)->ms, 48);
    return true;
}
