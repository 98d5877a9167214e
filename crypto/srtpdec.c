/* SRTP/SRTCP opening (see srtpdec.h): the AES-CM/HMAC-SHA1 suites through
 * srtpauth.c (libcrypto), with the packet index estimate and replay check
 * of RFC 3711 sections 3.3.1, 3.3.2 and appendix A; the AEAD suites
 * (RFC 7714) through libsrtp2. */
#include "srtpdec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>
#ifdef TS_SRTP_NSS
#include <nss.h>
#endif

#include "../common/limits.h"
#include "srtpauth.h"

/* The indexes opened at and below the highest (RFC 3711 3.3.2). */
struct replay {
    uint64_t top; /* the highest index opened */
    bool any;
    uint64_t bits[TS_SRTP_REPLAY_WINDOW / 64]; /* index i at bit i mod the window */
};

struct srtpdec {
    srtp_t s;               /* AEAD suites */
    struct srtpauth *auth;  /* HMAC-SHA1 suites: opened through libcrypto */
    struct sdes_key key;    /* AES-CM: until a packet opens (the cipher keys are made then) */
    struct replay rtp, rtcp; /* AES-CM: SRTP packet indexes (ROC << 16 | SEQ), SRTCP indexes */
    uint32_t ssrc;
    uint8_t mki[4], mki_len;
    uint8_t rtp_tag, rtcp_tag;  /* bytes of tag after the MKI (AEAD: none) */
    bool opened;            /* a packet authenticated: the ROC is known */
    uint32_t tries;         /* first packets that failed every ROC guess */
    struct srtpdec_counts n;
};

static _Thread_local uint64_t tries; /* srtpdec_tries() */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void init(void)
{
#ifdef TS_SRTP_NSS
    /* libsrtp2 built on NSS opens NSS per cipher with
     * NSS_INIT_OPTIMIZESPACE, whose softoken keeps keys and sessions in
     * 32-bucket tables that every packet's cipher context walks: with
     * thousands of SRTP streams up those walks took 47 % of a run (6.6 %
     * at 100 calls up). NSS sizes its tables at its first opening, so
     * open it first without that flag (1,024 buckets); kept for the
     * process's life. */
    static NSSInitContext *nss;
    if (!NSS_IsInitialized())
        nss = NSS_InitContext("", "", "", "", NULL, NSS_INIT_READONLY | NSS_INIT_NOCERTDB |
                              NSS_INIT_NOMODDB | NSS_INIT_FORCEOPEN);
    (void)nss;
#endif
    /* a second srtp_init() in the process (another user of libsrtp2)
     * answers bad_param: the library is initialised all the same */
    srtp_err_status_t r = srtp_init();
    init_ok = r == srtp_err_status_ok || r == srtp_err_status_bad_param;
}

static void policy_for(enum sdes_suite s, srtp_crypto_policy_t *p)
{
    switch (s) {
    case SDES_AES_CM_128_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p);
        break;
    case SDES_AES_256_CM_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p);
        break;
    case SDES_AES_256_CM_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p);
        break;
    case SDES_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(p);
        break;
    case SDES_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(p);
        break;
    default:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
        break;
    }
}

/* The libsrtp2 session of d's key; false when libsrtp2 refuses it. */
static bool make_session(struct srtpdec *d)
{
    const struct sdes_key *key = &d->key;
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    policy_for(key->suite, &p.rtp);
    policy_for(key->suite, &p.rtcp);
    /* SRTCP of the 32-bit-tag suites keeps the 80-bit tag (RFC 4568 6.2) */
    if (key->suite == SDES_AES_CM_128_HMAC_SHA1_32)
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    if (key->suite == SDES_AES_256_CM_HMAC_SHA1_32)
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p.rtcp);
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = d->ssrc;
    p.window_size = 1024;
    p.allow_repeat_tx = 1;
    uint8_t keybuf[46];
    memcpy(keybuf, key->key, key->key_len);
    p.key = keybuf;
    srtp_err_status_t r = srtp_create(&d->s, &p);
    explicit_bzero(keybuf, sizeof keybuf);
    if (r != srtp_err_status_ok)
        d->s = NULL;
    return d->s != NULL;
}

struct srtpdec *srtpdec_new(const struct sdes_key *key, uint32_t ssrc)
{
    pthread_once(&init_once, init);
    if (!init_ok || key->suite == SDES_NONE || key->key_len > sizeof key->key)
        return NULL;
    struct srtpdec *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->key = *key;
    /* The MKI is taken out here rather than by libsrtp2, whose unprotect
     * looks for it in SRTCP behind the RTP tag length (wrong for the
     * _32 suites, whose SRTCP tag is 80 bits). One key: its MKI must match. */
    memcpy(d->mki, key->mki, key->mki_len);
    d->mki_len = key->mki_len;
    bool aead = key->suite == SDES_AEAD_AES_128_GCM || key->suite == SDES_AEAD_AES_256_GCM;
    bool short_tag = key->suite == SDES_AES_CM_128_HMAC_SHA1_32 || key->suite == SDES_AES_256_CM_HMAC_SHA1_32;
    d->rtp_tag = aead ? 0 : short_tag ? 4 : 10;
    d->rtcp_tag = aead ? 0 : 10;
    d->ssrc = ssrc;
    /* AES-CM through libcrypto: a key that never authenticates costs HMACs
     * and no cipher, and an opened packet no per-packet cipher context
     * (Debian's libsrtp2 makes an NSS one per packet). AEAD: libsrtp2, as
     * is a key libcrypto refused. */
    d->auth = aead ? NULL : srtpauth_new(key);
    if (!d->auth && !make_session(d)) {
        srtpdec_free(d);
        return NULL;
    }
    if (!d->auth)
        explicit_bzero(&d->key, sizeof d->key); /* libsrtp2 has its copy */
    return d;
}

void srtpdec_free(struct srtpdec *d)
{
    if (!d)
        return;
    if (d->s)
        srtp_dealloc(d->s); /* libsrtp2 zeroises its key material */
    srtpauth_free(d->auth);
    explicit_bzero(&d->key, sizeof d->key);
    free(d);
}

/* Removes the MKI in front of the last tag bytes; false when the packet
 * carries another MKI (another key) or is too short. */
static bool strip_mki(struct srtpdec *d, uint8_t *pkt, size_t *len, size_t tag, size_t min)
{
    if (!d->mki_len)
        return true;
    if (*len < min + d->mki_len + tag)
        return false;
    uint8_t *at = pkt + *len - tag - d->mki_len;
    if (memcmp(at, d->mki, d->mki_len) != 0)
        return false;
    memmove(at, at + d->mki_len, tag);
    *len -= d->mki_len;
    return true;
}

static enum srtpdec_result verdict(struct srtpdec *d, srtp_err_status_t r)
{
    switch (r) {
    case srtp_err_status_ok:
        return SRTPDEC_OK;
    case srtp_err_status_auth_fail:
        d->n.auth_failed++;
        return SRTPDEC_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        d->n.replayed++;
        return SRTPDEC_REPLAY;
    default:
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
}

static bool seen(const struct replay *w, uint64_t i)
{
    return w->any && i <= w->top &&
           (w->top - i >= TS_SRTP_REPLAY_WINDOW ||
            w->bits[i % TS_SRTP_REPLAY_WINDOW / 64] >> (i % 64) & 1);
}

static void mark(struct replay *w, uint64_t i)
{
    if (!w->any || i > w->top) {
        /* the indexes skipped are not opened yet */
        uint64_t gap = w->any ? i - w->top - 1 : TS_SRTP_REPLAY_WINDOW;
        if (gap >= TS_SRTP_REPLAY_WINDOW)
            memset(w->bits, 0, sizeof w->bits);
        for (uint64_t k = 1; gap < TS_SRTP_REPLAY_WINDOW && k <= gap; k++) {
            uint64_t j = w->top + k;
            w->bits[j % TS_SRTP_REPLAY_WINDOW / 64] &= ~(1ull << (j % 64));
        }
        w->top = i;
        w->any = true;
    }
    w->bits[i % TS_SRTP_REPLAY_WINDOW / 64] |= 1ull << (i % 64);
}

/* The rollover counter of SEQ beside the highest index opened (RFC 3711
 * appendix A): the one of the sequence numbers nearest to it. */
static uint32_t roc_estimate(uint64_t top, uint16_t seq)
{
    uint32_t roc = (uint32_t)(top >> 16);
    uint16_t s_l = (uint16_t)top;
    if (s_l < 32768)
        return seq - s_l > 32768 ? roc - 1 : roc; /* ROC 0 wraps: never authenticates */
    return s_l - 32768 > seq ? roc + 1 : roc;
}

/* An SRTP packet of the AES-CM suites (copy: MKI removed, tag last). Until
 * one authenticates, the rollover counters from 0 are guessed (the stream
 * may have begun before the capture); then the estimate's alone. */
static enum srtpdec_result open_cm(struct srtpdec *d, uint8_t *copy, size_t plen, size_t *out_len)
{
    uint16_t seq = (uint16_t)(copy[2] << 8 | copy[3]); /* plen >= 12: checked by the caller */
    uint32_t first = 0, guesses = 1, roc = 0;
    if (!d->opened) {
        /* every guess on the first packets, and on each retry of a stream
         * that gave up (media_srtp.c), should its first packets have been damaged */
        bool guess = d->tries < TS_SRTP_ROC_FIRST_PACKETS || d->tries >= TS_SRTP_GIVE_UP;
        guesses = guess ? TS_SRTP_ROC_GUESS + 1 : 1;
    } else {
        first = roc_estimate(d->rtp.top, seq);
        if (seen(&d->rtp, ((uint64_t)first << 16 | seq) & 0xffffffffffffull)) {
            d->n.replayed++;
            return SRTPDEC_REPLAY;
        }
    }
    if (!srtpauth_rtp(d->auth, copy, plen, first, guesses, &roc)) {
        d->n.auth_failed++;
        return SRTPDEC_AUTH;
    }
    if (!srtpauth_cipher(d->auth, &d->key) ||
        !srtpauth_decrypt_rtp(d->auth, copy, plen - d->rtp_tag, roc)) {
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
    explicit_bzero(&d->key, sizeof d->key); /* the cipher keys are made */
    mark(&d->rtp, (uint64_t)roc << 16 | seq);
    *out_len = plen - d->rtp_tag;
    return SRTPDEC_OK;
}

enum srtpdec_result srtpdec_rtp(struct srtpdec *d, uint8_t *pkt, size_t len, size_t *out_len)
{
    if (len < 12 || len > TS_SRTP_MAX_PACKET) {
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
    uint8_t copy[TS_SRTP_MAX_PACKET];
    memcpy(copy, pkt, len);
    size_t plen = len;
    if (!strip_mki(d, copy, &plen, d->rtp_tag, 12)) {
        d->n.auth_failed++;
        return SRTPDEC_AUTH;
    }
    enum srtpdec_result v;
    size_t n_out = 0;
    if (d->auth) {
        v = open_cm(d, copy, plen, &n_out);
    } else {
        int n = (int)plen;
        srtp_err_status_t r = srtp_unprotect(d->s, copy, &n);
        tries++;
        /* a stream that began before the capture: try the next rollover
         * counters until one authenticates (each try on the original bytes) */
        for (uint32_t roc = 1; r == srtp_err_status_auth_fail && !d->opened &&
                               d->tries < TS_SRTP_ROC_FIRST_PACKETS && roc <= TS_SRTP_ROC_GUESS; roc++) {
            memcpy(copy, pkt, len);
            plen = len;
            strip_mki(d, copy, &plen, d->rtp_tag, 12);
            n = (int)plen;
            if (srtp_set_stream_roc(d->s, d->ssrc, roc) != srtp_err_status_ok)
                break;
            r = srtp_unprotect(d->s, copy, &n);
            tries++;
        }
        if (r != srtp_err_status_ok && !d->opened)
            srtp_set_stream_roc(d->s, d->ssrc, 0);
        v = verdict(d, r);
        n_out = v == SRTPDEC_OK ? (size_t)n : 0;
    }
    if (v == SRTPDEC_OK) {
        memcpy(pkt, copy, n_out);
        d->opened = true;
        d->n.rtp_ok++;
        if (d->auth)
            d->n.roc = (uint32_t)(d->rtp.top >> 16);
        else
            srtp_get_stream_roc(d->s, d->ssrc, &d->n.roc);
        *out_len = n_out;
    } else if (!d->opened) {
        d->tries++;
    }
    explicit_bzero(copy, len);
    return v;
}

enum srtpdec_result srtpdec_rtcp(struct srtpdec *d, uint8_t *pkt, size_t len, size_t *out_len)
{
    if (len < 8 || len > TS_SRTP_MAX_PACKET) {
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
    uint8_t copy[TS_SRTP_MAX_PACKET];
    memcpy(copy, pkt, len);
    size_t plen = len;
    if (!strip_mki(d, copy, &plen, d->rtcp_tag, 12)) {
        d->n.auth_failed++;
        return SRTPDEC_AUTH;
    }
    enum srtpdec_result v;
    size_t n_out = 0;
    if (d->auth) {
        /* header, payload, E flag and SRTCP index, tag (RFC 3711 3.4) */
        if (plen < 8 + 4 + (size_t)d->rtcp_tag) {
            d->n.malformed++;
            v = SRTPDEC_MALFORMED;
        } else if (!srtpauth_rtcp(d->auth, copy, plen)) {
            d->n.auth_failed++;
            v = SRTPDEC_AUTH;
        } else {
            size_t body = plen - d->rtcp_tag;
            uint64_t idx = ((uint64_t)copy[body - 4] << 24 | (uint64_t)copy[body - 3] << 16 |
                            (uint64_t)copy[body - 2] << 8 | copy[body - 1]) & 0x7fffffffu;
            if (seen(&d->rtcp, idx)) {
                d->n.replayed++;
                v = SRTPDEC_REPLAY;
            } else if (!srtpauth_cipher(d->auth, &d->key) ||
                       !srtpauth_decrypt_rtcp(d->auth, copy, body)) {
                d->n.malformed++;
                v = SRTPDEC_MALFORMED;
            } else {
                explicit_bzero(&d->key, sizeof d->key);
                mark(&d->rtcp, idx);
                n_out = body - 4;
                v = SRTPDEC_OK;
            }
        }
    } else {
        int n = (int)plen;
        v = verdict(d, srtp_unprotect_rtcp(d->s, copy, &n));
        n_out = v == SRTPDEC_OK ? (size_t)n : 0;
    }
    if (v == SRTPDEC_OK) {
        memcpy(pkt, copy, n_out);
        d->n.rtcp_ok++;
        *out_len = n_out;
    }
    explicit_bzero(copy, len);
    return v;
}

void srtpdec_counts(const struct srtpdec *d, struct srtpdec_counts *out)
{
    *out = d->n;
}

uint64_t srtpdec_tries(void)
{
    return tries;
}
