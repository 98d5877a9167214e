/* TLS connection decryption state machine (see tlsdec.h). RFC 5246 sections
 * 6.3 and 8.1 (key block, master secret), RFC 7627 (extended master
 * secret), RFC 5077 (tickets), RFC 8446 sections 4.1.3 (HelloRetryRequest),
 * 4.4.4 (Finished), 4.6.3 (KeyUpdate), 5 and 7. */
#include "tlsdec.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../common/limits.h"
#include "../dissect/tls.h"
#include "tlskdf.h"
#include "tlsrec.h"

enum { HS_CLIENT_HELLO = 1, HS_SERVER_HELLO = 2, HS_NEW_SESSION_TICKET = 4,
       HS_CLIENT_KEY_EXCHANGE = 16, HS_FINISHED = 20, HS_KEY_UPDATE = 24 };
enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23 };
enum { TH_N = 3 }; /* transcript hashes: indexed by enum tlskdf_hash */
enum ms_src { MS_NONE = 0, MS_KEYLOG, MS_RSA, MS_RESUMED };

struct tdir {
    uint8_t *rbuf;            /* a record split across segments */
    size_t rlen, rcap;
    uint8_t *hbuf;            /* a handshake message split across records */
    size_t hlen, hcap;
    size_t hskip;             /* bytes left of a handshake message too long to keep */
    uint8_t *held;            /* protected records waiting for their keys, each
                               * after its 4-byte arrival number, 8-byte capture
                               * time and 8-byte frame number (big endian) */
    size_t held_len;
    uint64_t held_since;
    struct tlsrec rec;
    bool enc;                 /* records of this direction are protected */
    bool waiting;             /* protected, keys not found yet */
    bool dead;                /* stopped: gap, broken record, failed keys */
    bool opened;              /* a record authenticated */
    bool app;                 /* TLS 1.3: application traffic keys */
    uint8_t secret[KEYLOG_SECRET_LEN]; /* TLS 1.3 current traffic secret */
    size_t secret_len;
};

struct tlsdec {
    struct tlskeys *keys;
    struct ts_stats *st;
    uint8_t status;
    int cdir;                 /* direction of the ClientHello, -1 before */
    bool sh_seen, cke_seen, hrr;
    uint16_t version;
    const struct tlsrec_suite *suite;
    uint16_t suite_id;
    bool ems, etm, ticket_offered;
    uint8_t crandom[32], srandom[32];
    uint8_t csid[32], ssid[32];
    uint8_t csid_len, ssid_len;
    uint8_t ms[48];
    uint8_t ms_src;
    bool res_sid, res_ticket; /* a session of this capture for the offered id / ticket */
    uint8_t res_sid_ms[48], res_ticket_ms[48];
    struct ts_addr srv;
    uint16_t srv_port;
    EVP_MD_CTX *th[TH_N];     /* transcript hashes for the extended master secret (RSA) */
    enum tlskdf_hash th_hash;
    bool rsa_known;           /* an RSA key was given for the server */
    uint64_t now;
    uint64_t records;
    uint64_t opened, auth_failed, late; /* per connection: see struct tlsdec_facts */
    bool releasing;           /* records that waited for keys are being opened */
    struct tdir d[2];
};

static const char *const status_names[TLSDEC_NSTATUS] = {
    "handshake", "decrypting", "no_handshake", "no_key", "forward_secret",
    "rsa_key_mismatch", "unsupported", "auth_failed", "lost",
};

const char *tlsdec_status_str(enum tlsdec_status s)
{
    return (unsigned)s < TLSDEC_NSTATUS ? status_names[s] : "?";
}

static const char *const verdict_names[TLSDEC_NSTATUS] = {
    "incomplete", "decrypted", "no_handshake", "no_key", "forward_secret",
    "rsa_key_mismatch", "unsupported", "auth_failed", "lost",
};

const char *tlsdec_verdict_str(enum tlsdec_status s)
{
    return (unsigned)s < TLSDEC_NSTATUS ? verdict_names[s] : "?";
}

/* The status as the connection's end counts it. */
static enum tlsdec_status final_status(const struct tlsdec *d)
{
    enum tlsdec_status s = (enum tlsdec_status)d->status;
    if (s == TLSDEC_HANDSHAKE && (d->d[0].waiting || d->d[1].waiting))
        s = TLSDEC_NO_KEY; /* ended before its keys were found */
    if (s == TLSDEC_HANDSHAKE && d->cdir < 0)
        s = TLSDEC_NO_HANDSHAKE; /* picked up after its ClientHello */
    /* an RSA key for the server, yet no keys: (EC)DHE or TLS 1.3 */
    if (s == TLSDEC_NO_KEY && d->rsa_known && d->ms_src == MS_NONE &&
        (d->version == 0x0304 || (d->suite && d->suite->kx != TLSREC_KX_RSA)))
        s = TLSDEC_FORWARD_SECRET;
    return s;
}

void tlsdec_facts(const struct tlsdec *d, struct tlsdec_facts *out)
{
    out->verdict = final_status(d);
    out->records = d->opened;
    out->auth_failed = d->auth_failed;
    out->late = d->late;
}

struct tlsdec *tlsdec_new(struct tlskeys *keys, struct ts_stats *st)
{
    struct tlsdec *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->keys = keys;
    d->st = st;
    d->cdir = -1;
    return d;
}

static void tdir_cleanup(struct tdir *t)
{
    free(t->rbuf);
    free(t->hbuf);
    free(t->held);
    tlsrec_cleanup(&t->rec);
    OPENSSL_cleanse(t, sizeof *t);
}

void tlsdec_free(struct tlsdec *d)
{
    if (!d)
        return;
    static const enum ts_stat final[TLSDEC_NSTATUS] = {
        [TLSDEC_HANDSHAKE] = TS_TLS_DEC_INCOMPLETE, [TLSDEC_DECRYPTING] = TS_TLS_DEC_CONNS,
        [TLSDEC_NO_HANDSHAKE] = TS_TLS_DEC_NO_HANDSHAKE, [TLSDEC_NO_KEY] = TS_TLS_DEC_NO_KEY,
        [TLSDEC_FORWARD_SECRET] = TS_TLS_DEC_FORWARD_SECRET,
        [TLSDEC_RSA_MISMATCH] = TS_TLS_DEC_RSA_MISMATCH, [TLSDEC_UNSUPPORTED] = TS_TLS_DEC_UNSUPPORTED,
        [TLSDEC_AUTH_FAILED] = TS_TLS_DEC_AUTH_FAILED_CONNS, [TLSDEC_LOST] = TS_TLS_DEC_LOST,
    };
    d->status = (uint8_t)final_status(d);
    if (d->status < TLSDEC_NSTATUS)
        d->st->v[final[d->status]]++;
    for (int i = 0; i < 2; i++)
        tdir_cleanup(&d->d[i]);
    for (int i = 0; i < TH_N; i++)
        EVP_MD_CTX_free(d->th[i]);
    OPENSSL_cleanse(d, sizeof *d);
    free(d);
}

enum tlsdec_status tlsdec_status(const struct tlsdec *d) { return (enum tlsdec_status)d->status; }
uint16_t tlsdec_version(const struct tlsdec *d) { return d->version; }
uint16_t tlsdec_suite(const struct tlsdec *d) { return d->suite_id; }

/* A verdict sticks, except that decrypting replaces "handshake". */
static void verdict(struct tlsdec *d, enum tlsdec_status s)
{
    if (d->status == TLSDEC_HANDSHAKE || d->status == TLSDEC_DECRYPTING)
        d->status = (uint8_t)s;
}

static void stop_all(struct tlsdec *d, enum tlsdec_status s)
{
    verdict(d, s);
    d->d[0].dead = d->d[1].dead = true;
}

/* ---- keys ---- */

static bool find13(struct tlsdec *d, enum keylog_label l, uint8_t *sec, size_t *len)
{
    return keylog_find(tlskeys_keylog(d->keys), d->crandom, l, sec, len);
}

/* TLS 1.2 and earlier: the master secret from the key log, the RSA
 * premaster or a resumed session; then both directions' keys. */
static bool keys12(struct tlsdec *d)
{
    uint8_t sec[KEYLOG_SECRET_LEN];
    size_t len;
    if (d->ms_src == MS_NONE && find13(d, KEYLOG_CLIENT_RANDOM, sec, &len) && len == 48) {
        memcpy(d->ms, sec, 48);
        d->ms_src = MS_KEYLOG;
    }
    OPENSSL_cleanse(sec, sizeof sec);
    if (d->ms_src == MS_NONE && !d->cke_seen) {
        /* an abbreviated handshake resumes an earlier session of the capture */
        bool sid = d->ssid_len && d->ssid_len == d->csid_len &&
                   memcmp(d->ssid, d->csid, d->csid_len) == 0;
        if (sid && d->res_sid) {
            memcpy(d->ms, d->res_sid_ms, 48);
            d->ms_src = MS_RESUMED;
        } else if (d->res_ticket) {
            memcpy(d->ms, d->res_ticket_ms, 48);
            d->ms_src = MS_RESUMED;
        }
        if (d->ms_src == MS_RESUMED)
            TS_INC(d->st, TLS_DEC_RESUMED);
    }
    return d->ms_src != MS_NONE;
}

static bool activate12(struct tlsdec *d, int dir)
{
    const struct tlsrec_suite *s = d->suite;
    size_t ml = tlsrec_mac_len(s), kl = s->key_len, il = tlsrec_iv_len(s, d->version);
    uint8_t kb[2 * (48 + 32 + 16)];
    size_t n = 2 * (ml + kl + il);
    enum tlskdf_hash h = d->version < 0x0303 ? TLSKDF_MD5_SHA1 : (enum tlskdf_hash)s->prf;
    if (!tlskdf_prf(h, d->ms, 48, "key expansion", d->srandom, 32, d->crandom, 32, kb, n))
        return false;
    bool client = dir == d->cdir;
    /* client MAC, server MAC, client key, server key, client IV, server IV */
    const uint8_t *mac = kb + (client ? 0 : ml);
    const uint8_t *key = kb + 2 * ml + (client ? 0 : kl);
    const uint8_t *iv = kb + 2 * ml + 2 * kl + (client ? 0 : il);
    bool ok = tlsrec_init(&d->d[dir].rec, s, d->version, d->etm, key, iv, mac);
    OPENSSL_cleanse(kb, sizeof kb);
    if (ok && d->ssid_len)
        tlskeys_session_put(d->keys, 0, d->ssid, d->ssid_len, d->ms);
    return ok;
}

static bool activate13(struct tlsdec *d, int dir, enum keylog_label l)
{
    struct tdir *t = &d->d[dir];
    if (!find13(d, l, t->secret, &t->secret_len) ||
        t->secret_len != tlskdf_hash_len((enum tlskdf_hash)d->suite->prf))
        return false;
    return tlsrec_init13(&t->rec, d->suite, t->secret, t->secret_len);
}

/* Keys for a direction whose records are now protected; false: not (yet)
 * known. */
static bool activate(struct tlsdec *d, int dir)
{
    struct tdir *t = &d->d[dir];
    bool client = dir == d->cdir;
    bool ok;
    tlskeys_refresh(d->keys, d->now);
    if (d->version == 0x0304)
        ok = activate13(d, dir, t->app ? (client ? KEYLOG_CLIENT_AP : KEYLOG_SERVER_AP)
                                       : (client ? KEYLOG_CLIENT_HS : KEYLOG_SERVER_HS));
    else
        ok = keys12(d) && activate12(d, dir);
    t->waiting = !ok;
    if (ok)
        verdict(d, TLSDEC_DECRYPTING);
    return ok;
}

/* ---- handshake messages ---- */

static bool vec16(struct bv *b, struct bv *out)
{
    uint16_t n;
    return bv_be16(b, &n) && bv_take(b, n, out);
}

static const char *const th_names[TH_N] = { "MD5-SHA1", "SHA256", "SHA384" };

static void client_hello(struct tlsdec *d, int dir, const struct pkt_meta *m, struct bv body)
{
    struct tls_hello h;
    if (d->cdir >= 0 && (dir != d->cdir || !d->hrr))
        return; /* renegotiation: keys of the first handshake only */
    if (tls_parse_hello(body, false, &h) != TLS_OK)
        return; /* counted by the parser's owner */
    d->cdir = dir;
    memcpy(d->crandom, h.random, 32);
    memcpy(d->csid, h.sid, h.sid_len);
    d->csid_len = h.sid_len;
    if (m) {
        d->srv = m->dst;
        d->srv_port = m->dport;
    }
    d->res_ticket = h.ticket_ext && h.ticket.len &&
                    tlskeys_session_get(d->keys, 1, h.ticket.p, h.ticket.len, d->res_ticket_ms);
    d->res_sid = tlskeys_session_get(d->keys, 0, d->csid, d->csid_len, d->res_sid_ms);
    d->rsa_known = tlskeys_have_rsa(d->keys, &d->srv, d->srv_port);
    if (!d->th[0] && d->rsa_known) {
        /* the extended master secret of RSA key exchange hashes the
         * handshake from here; the hash is the suite's, known later */
        for (int i = 0; i < TH_N; i++) {
            EVP_MD *md = EVP_MD_fetch(NULL, th_names[i], NULL);
            d->th[i] = EVP_MD_CTX_new();
            if (!md || !d->th[i] || !EVP_DigestInit_ex(d->th[i], md, NULL)) {
                EVP_MD_CTX_free(d->th[i]);
                d->th[i] = NULL;
            }
            EVP_MD_free(md);
        }
    }
}

static void server_hello(struct tlsdec *d, int dir, struct bv body)
{
    struct tls_hello h;
    if (d->cdir < 0 || dir == d->cdir || d->sh_seen)
        return;
    if (tls_parse_hello(body, true, &h) != TLS_OK)
        return;
    if (h.hrr) {
        d->hrr = true; /* a second ClientHello follows, then the real ServerHello */
        return;
    }
    d->sh_seen = true;
    memcpy(d->srandom, h.random, 32);
    memcpy(d->ssid, h.sid, h.sid_len);
    d->ssid_len = h.sid_len;
    d->ems = h.ems;
    d->etm = h.etm;
    uint16_t ver = h.selected_version ? h.selected_version : h.legacy_version;
    d->version = ver;
    d->suite_id = h.suite;
    d->suite = tlsrec_suite(h.suite);
    if (ver < 0x0301 || ver > 0x0304 || !d->suite ||
        (ver == 0x0304) != (d->suite->kx == TLSREC_KX_TLS13) ||
        (ver < 0x0303 && (d->suite->mac >= TLSREC_SHA256 || d->suite->cipher != TLSREC_AES_CBC))) {
        stop_all(d, TLSDEC_UNSUPPORTED);
        return;
    }
    if (ver == 0x0304) {
        /* everything after the ServerHello is protected */
        for (int i = 0; i < 2; i++) {
            d->d[i].enc = true;
            activate(d, i);
        }
        return;
    }
    d->th_hash = ver < 0x0303 ? TLSKDF_MD5_SHA1 : (enum tlskdf_hash)d->suite->prf;
}

static void client_key_exchange(struct tlsdec *d, int dir, struct bv b)
{
    if (dir != d->cdir || !d->sh_seen || !d->suite || d->version == 0x0304 || d->cke_seen)
        return;
    d->cke_seen = true;
    if (d->suite->kx != TLSREC_KX_RSA) {
        if (tlskeys_have_rsa(d->keys, &d->srv, d->srv_port) && !keys12(d))
            stop_all(d, TLSDEC_FORWARD_SECRET);
        return;
    }
    struct bv enc;
    if (!vec16(&b, &enc)) {
        TS_INC(d->st, TLS_DEC_MALFORMED);
        return;
    }
    uint8_t pms[48];
    int r = tlskeys_rsa_decrypt(d->keys, &d->srv, d->srv_port, enc.p, enc.len, pms);
    if (r < 0 && !keys12(d))
        stop_all(d, TLSDEC_RSA_MISMATCH);
    if (r > 0 && d->ms_src == MS_NONE) {
        bool ok;
        if (d->ems) {
            uint8_t hash[64];
            unsigned hl = 0;
            EVP_MD_CTX *c = EVP_MD_CTX_new();
            ok = d->th[d->th_hash] && c && EVP_MD_CTX_copy_ex(c, d->th[d->th_hash]) &&
                 EVP_DigestFinal_ex(c, hash, &hl) &&
                 tlskdf_prf(d->th_hash, pms, 48, "extended master secret", hash, hl, NULL, 0, d->ms, 48);
            EVP_MD_CTX_free(c);
        } else {
            ok = tlskdf_prf(d->version < 0x0303 ? TLSKDF_MD5_SHA1 : (enum tlskdf_hash)d->suite->prf,
                            pms, 48, "master secret", d->crandom, 32, d->srandom, 32, d->ms, 48);
        }
        if (ok)
            d->ms_src = MS_RSA;
    }
    OPENSSL_cleanse(pms, sizeof pms);
}

static void new_session_ticket(struct tlsdec *d, int dir, struct bv b)
{
    struct bv ticket;
    if (dir == d->cdir || d->version == 0x0304 || !bv_skip(&b, 4) || !vec16(&b, &ticket))
        return;
    if (keys12(d))
        tlskeys_session_put(d->keys, 1, ticket.p, ticket.len, d->ms);
}

/* TLS 1.3: the next traffic secret (RFC 8446 section 7.2). */
static void key_update(struct tlsdec *d, int dir)
{
    struct tdir *t = &d->d[dir];
    uint8_t next[KEYLOG_SECRET_LEN];
    enum tlskdf_hash h = (enum tlskdf_hash)d->suite->prf;
    if (!t->secret_len ||
        !tlskdf_expand_label(h, t->secret, t->secret_len, "traffic upd", NULL, 0, next, t->secret_len) ||
        !tlsrec_init13(&t->rec, d->suite, next, t->secret_len)) {
        t->dead = true;
        return;
    }
    memcpy(t->secret, next, t->secret_len);
    OPENSSL_cleanse(next, sizeof next);
}

static void hs_message(struct tlsdec *d, int dir, const struct pkt_meta *m, uint8_t type,
                       struct bv body)
{
    switch (type) {
    case HS_CLIENT_HELLO:
        client_hello(d, dir, m, body);
        break;
    case HS_SERVER_HELLO:
        server_hello(d, dir, body);
        break;
    case HS_CLIENT_KEY_EXCHANGE:
        client_key_exchange(d, dir, body);
        break;
    case HS_NEW_SESSION_TICKET:
        new_session_ticket(d, dir, body);
        break;
    case HS_FINISHED:
        if (d->version == 0x0304 && d->d[dir].enc && !d->d[dir].app) {
            d->d[dir].app = true; /* the records after Finished use the traffic secret */
            activate(d, dir);
        }
        break;
    case HS_KEY_UPDATE:
        if (d->version == 0x0304 && d->d[dir].app)
            key_update(d, dir);
        break;
    default:
        break;
    }
}

static void transcript(struct tlsdec *d, struct bv msg)
{
    if (d->cdir < 0 || d->cke_seen || d->version == 0x0304)
        return;
    for (int i = 0; i < TH_N; i++)
        if (d->th[i])
            EVP_DigestUpdate(d->th[i], msg.p, msg.len);
}

/* Decrypted handshake bytes of one direction (TLS 1.3 Finished and
 * KeyUpdate), in order, messages split anywhere. */
static void hs_bytes(struct tlsdec *d, int dir, const struct pkt_meta *m, struct bv b)
{
    struct tdir *t = &d->d[dir];
    while (b.len && !t->dead) {
        if (t->hskip) {
            size_t n = b.len < t->hskip ? b.len : t->hskip;
            bv_skip(&b, n);
            t->hskip -= n;
            continue;
        }
        /* the header first, then the body */
        size_t want = 4;
        if (t->hlen >= 4) {
            struct bv h = bv_make(t->hbuf, t->hlen);
            uint8_t l0 = 0;
            uint16_t l1 = 0;
            bv_peek_u8(h, 1, &l0);
            bv_peek_be16(h, 2, &l1);
            want = 4 + ((size_t)l0 << 16 | l1);
        }
        if (t->hlen < want) {
            if (t->hcap < want) {
                size_t cap = want < 64 ? 64 : want;
                uint8_t *nb = realloc(t->hbuf, cap);
                if (!nb) {
                    t->dead = true;
                    return;
                }
                t->hbuf = nb;
                t->hcap = cap;
            }
            size_t n = want - t->hlen < b.len ? want - t->hlen : b.len;
            memcpy(t->hbuf + t->hlen, b.p, n);
            t->hlen += n;
            bv_skip(&b, n);
        }
        if (t->hlen == 4 && want == 4) {
            uint8_t l0 = 0;
            uint16_t l1 = 0;
            bv_peek_u8(bv_make(t->hbuf, 4), 1, &l0);
            bv_peek_be16(bv_make(t->hbuf, 4), 2, &l1);
            size_t len = (size_t)l0 << 16 | l1;
            if (len > TS_TLS_MAX_HS_MSG) { /* a certificate chain: not needed */
                t->hskip = len;
                t->hlen = 0;
            }
            if (len)
                continue;
        }
        if (t->hlen >= 4) {
            struct bv msg = bv_make(t->hbuf, t->hlen);
            uint8_t type = 0, l0 = 0;
            uint16_t l1 = 0;
            bv_peek_u8(msg, 0, &type);
            bv_peek_u8(msg, 1, &l0);
            bv_peek_be16(msg, 2, &l1);
            if (msg.len == 4 + ((size_t)l0 << 16 | l1)) {
                t->hlen = 0;
                hs_message(d, dir, m, type, bv_from(msg, 4));
            }
        }
    }
}

/* ---- records ---- */

enum { HELD_HDR = 4 + 8 + 8 }; /* arrival number, capture time, frame number */

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void hold(struct tdir *t, uint32_t order, const struct pkt_meta *m, const uint8_t *hdr,
                 struct bv frag, uint64_t now)
{
    size_t n = HELD_HDR + 5 + frag.len;
    if (t->held_len + n > TS_TLS_HOLD_BYTES) {
        t->dead = true; /* keys too late: the direction is given up */
        return;
    }
    uint8_t *nb = realloc(t->held, t->held_len + n);
    if (!nb) {
        t->dead = true;
        return;
    }
    if (!t->held_len)
        t->held_since = now;
    t->held = nb;
    uint8_t *e = t->held + t->held_len;
    put_be(e, order, 4);
    put_be(e + 4, m ? m->ts_ns : 0, 8);
    put_be(e + 12, m ? m->frame_no : 0, 8);
    memcpy(e + HELD_HDR, hdr, 5);
    memcpy(e + HELD_HDR + 5, frag.p, frag.len);
    t->held_len += n;
}

static void record(struct tlsdec *d, int dir, const struct pkt_meta *m, const uint8_t *hdr,
                   struct bv frag, tlsdec_data_fn fn, void *ctx);

/* The records that waited for keys go first, those of both directions
 * whose keys are now known merged in the order they came: a request and
 * its response wait in different directions, and the SIP above must see
 * them as they were sent (a live sensor's key log grows after the
 * handshake). Each keeps the time and frame it was captured with, and the
 * addresses of its own direction (m is of direction dir, the record that
 * released them). A direction still without keys keeps waiting. */
static void release_held(struct tlsdec *d, int dir, const struct pkt_meta *m, tlsdec_data_fn fn,
                         void *ctx)
{
    uint8_t *buf[2] = { NULL, NULL };
    struct bv h[2] = { { 0 }, { 0 } };
    for (int i = 0; i < 2; i++) {
        struct tdir *t = &d->d[i];
        if (!t->held_len || t->dead || (t->waiting && !activate(d, i)))
            continue;
        buf[i] = t->held;
        h[i] = bv_make(t->held, t->held_len);
        t->held = NULL;
        t->held_len = 0;
    }
    for (;;) {
        uint32_t o[2];
        bool has[2] = { bv_peek_be32(h[0], 0, &o[0]), bv_peek_be32(h[1], 0, &o[1]) };
        if (!has[0] && !has[1])
            break;
        int i = !has[0] ? 1 : !has[1] ? 0 : (int32_t)(o[1] - o[0]) < 0;
        uint16_t rl = 0;
        uint32_t t_hi = 0, t_lo = 0, f_hi = 0, f_lo = 0;
        struct bv rec;
        if (!bv_peek_be32(h[i], 4, &t_hi) || !bv_peek_be32(h[i], 8, &t_lo) ||
            !bv_peek_be32(h[i], 12, &f_hi) || !bv_peek_be32(h[i], 16, &f_lo) ||
            !bv_peek_be16(h[i], HELD_HDR + 3, &rl) || !bv_skip(&h[i], HELD_HDR) ||
            !bv_take(&h[i], 5u + rl, &rec)) {
            h[i].len = 0;
            continue;
        }
        struct pkt_meta hm;
        if (m) {
            hm = *m;
            hm.ts_ns = (uint64_t)t_hi << 32 | t_lo;
            hm.frame_no = (uint64_t)f_hi << 32 | f_lo;
            if (i != dir) {
                hm.src = m->dst;
                hm.dst = m->src;
                hm.sport = m->dport;
                hm.dport = m->sport;
            }
        }
        bool outer = d->releasing;
        d->releasing = true;
        if (!d->d[i].dead)
            record(d, i, m ? &hm : NULL, rec.p, bv_from(rec, 5), fn, ctx);
        d->releasing = outer;
    }
    free(buf[0]);
    free(buf[1]);
}

static void protected_record(struct tlsdec *d, int dir, const struct pkt_meta *m,
                             const uint8_t *hdr, struct bv frag, tlsdec_data_fn fn, void *ctx)
{
    struct tdir *t = &d->d[dir];
    if (t->waiting && !activate(d, dir)) {
        hold(t, (uint32_t)d->records, m, hdr, frag, d->now);
        if (!t->dead && d->now > t->held_since + TS_TLS_HOLD_NS)
            t->dead = true;
        if (t->dead)
            verdict(d, d->ms_src == MS_NONE && d->status != TLSDEC_DECRYPTING ? TLSDEC_NO_KEY
                                                                               : TLSDEC_LOST);
        return;
    }
    if (t->held_len || d->d[!dir].held_len)
        release_held(d, dir, m, fn, ctx);
    if (t->dead)
        return;
    uint8_t *out = tlskeys_scratch(d->keys);
    size_t olen = 0;
    uint8_t type = 0;
    enum tlsrec_result r = tlsrec_open(&t->rec, hdr, frag.p, frag.len, out, &olen, &type);
    if (r == TLSREC_AUTH) {
        TS_INC(d->st, TLS_DEC_AUTH_FAILED);
        d->auth_failed++;
        if (d->version == 0x0304 && dir == d->cdir && !t->app && !t->opened) {
            t->rec.seq--; /* 0-RTT data under the early secret: skipped */
            return;
        }
        if (!t->opened) {
            t->dead = true;
            verdict(d, d->ms_src == MS_RSA ? TLSDEC_RSA_MISMATCH : TLSDEC_AUTH_FAILED);
        }
        return;
    }
    if (r != TLSREC_OK) {
        TS_INC(d->st, TLS_DEC_MALFORMED);
        t->dead = true;
        verdict(d, TLSDEC_LOST);
        return;
    }
    t->opened = true;
    TS_INC(d->st, TLS_DEC_RECORDS);
    d->opened++;
    if (d->releasing)
        d->late++;
    if (type == CT_APPDATA) {
        d->st->v[TS_TLS_DEC_BYTES] += olen;
        if (olen && fn)
            fn(ctx, dir, m, bv_make(out, olen));
    } else if (type == CT_HANDSHAKE) {
        hs_bytes(d, dir, m, bv_make(out, olen));
    }
}

static void record(struct tlsdec *d, int dir, const struct pkt_meta *m, const uint8_t *hdr,
                   struct bv frag, tlsdec_data_fn fn, void *ctx)
{
    struct tdir *t = &d->d[dir];
    uint8_t type = hdr[0];
    if (t->dead)
        return;
    if (t->enc) {
        if (d->version == 0x0304 && type == CT_CCS)
            return; /* middlebox compatibility (RFC 8446 section 5) */
        protected_record(d, dir, m, hdr, frag, fn, ctx);
        return;
    }
    switch (type) {
    case CT_CCS:
        if (d->sh_seen && d->version != 0x0304) {
            t->enc = true;
            activate(d, dir);
        }
        break;
    case CT_APPDATA:
        if (d->cdir < 0)
            stop_all(d, TLSDEC_NO_HANDSHAKE);
        break;
    default:
        break;
    }
}

void tlsdec_gap(struct tlsdec *d, int dir)
{
    struct tdir *t = &d->d[dir & 1];
    if (t->dead)
        return;
    t->dead = true;
    TS_INC(d->st, TLS_DEC_GAP);
    verdict(d, d->cdir < 0 ? TLSDEC_NO_HANDSHAKE : TLSDEC_LOST);
}

void tlsdec_handshake(struct tlsdec *d, int dir, const struct pkt_meta *m, struct bv msg)
{
    uint8_t type;
    dir &= 1;
    /* a stopped connection (no key, unsupported suite...) reads no more:
     * after a refused ServerHello there is no suite to read it with */
    if (!bv_peek_u8(msg, 0, &type) || d->d[dir].enc || (d->d[0].dead && d->d[1].dead))
        return;
    if (m)
        d->now = m->ts_ns;
    /* the session hash covers the ClientHello up to the ClientKeyExchange */
    if (type != HS_CLIENT_HELLO)
        transcript(d, msg);
    hs_message(d, dir, m, type, bv_from(msg, 4));
    if (type == HS_CLIENT_HELLO)
        transcript(d, msg);
}

void tlsdec_record(struct tlsdec *d, int dir, const struct pkt_meta *m, uint8_t type,
                   uint16_t version, struct bv body, tlsdec_data_fn fn, void *ctx)
{
    uint8_t hdr[5] = { type, (uint8_t)(version >> 8), (uint8_t)version, (uint8_t)(body.len >> 8),
                       (uint8_t)body.len };
    dir &= 1;
    if (m)
        d->now = m->ts_ns;
    d->records++;
    record(d, dir, m, hdr, body, fn, ctx);
}
