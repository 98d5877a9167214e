/* SRTP/SRTCP opening through libsrtp2 (see srtpdec.h); the HMAC-SHA1
 * suites' tags are checked first by srtpauth.c. */
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

struct srtpdec {
    srtp_t s;               /* with auth: made when a packet first authenticates */
    struct srtpauth *auth;  /* HMAC-SHA1 suites: tags checked before libsrtp2 */
    struct sdes_key key;    /* to make s then; wiped once it is made */
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
    /* A key that never authenticates then never costs a libsrtp2 session
     * (NSS contexts that live as long as the stream); AEAD: made now. */
    d->auth = aead ? NULL : srtpauth_new(key);
    if (!d->auth && !make_session(d)) {
        srtpdec_free(d);
        return NULL;
    }
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

/* The first packets of a stream whose tags srtpauth checks: the rollover
 * counter comes from the HMAC alone, and libsrtp2 opens only a packet that
 * authenticated. libsrtp2 estimates the index from the ROC it is given and
 * the sequence number (from a ROC above 0 and a sequence number above 2^15
 * it takes the ROC below), so R is set, then R + 1 (a ROC only moves
 * forward). */
static srtp_err_status_t open_checked(struct srtpdec *d, uint8_t *pkt, const uint8_t *copy, size_t plen, int *n)
{
    /* every guess on the first packets, and on each retry of a stream
     * that gave up (media_srtp.c), should its first packets have been damaged */
    bool guess = d->tries < TS_SRTP_ROC_FIRST_PACKETS || d->tries >= TS_SRTP_GIVE_UP;
    int roc = srtpauth_rtp(d->auth, copy, plen, guess ? TS_SRTP_ROC_GUESS + 1 : 1);
    if (roc < 0)
        return srtp_err_status_auth_fail;
    if (!d->s && !make_session(d))
        return srtp_err_status_fail;
    srtp_err_status_t r = srtp_err_status_auth_fail;
    for (uint32_t k = 0; k < 2 && r == srtp_err_status_auth_fail; k++) {
        memcpy(pkt, copy, plen);
        *n = (int)plen;
        if (srtp_set_stream_roc(d->s, d->ssrc, (uint32_t)roc + k) != srtp_err_status_ok)
            break;
        r = srtp_unprotect(d->s, pkt, n);
        tries++;
    }
    if (r != srtp_err_status_ok) { /* a fresh session for the next packet */
        srtp_dealloc(d->s);
        d->s = NULL;
    }
    return r;
}

enum srtpdec_result srtpdec_rtp(struct srtpdec *d, uint8_t *pkt, size_t len, size_t *out_len)
{
    if (len < 12 || len > TS_SRTP_MAX_PACKET) {
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
    uint8_t copy[TS_SRTP_MAX_PACKET], orig[TS_SRTP_MAX_PACKET];
    memcpy(orig, pkt, len);
    size_t plen = len;
    if (!strip_mki(d, pkt, &plen, d->rtp_tag, 12)) {
        memcpy(pkt, orig, len);
        d->n.auth_failed++;
        return SRTPDEC_AUTH;
    }
    int n = (int)plen;
    memcpy(copy, pkt, plen);
    srtp_err_status_t r;
    if (d->auth && !d->opened) {
        r = open_checked(d, pkt, copy, plen, &n);
    } else {
        r = srtp_unprotect(d->s, pkt, &n);
        tries++;
    }
    /* AEAD, a stream that began before the capture: try the next rollover
     * counters until one authenticates (each try on the original bytes) */
    for (uint32_t roc = 1; r == srtp_err_status_auth_fail && !d->auth && !d->opened &&
                           d->tries < TS_SRTP_ROC_FIRST_PACKETS && roc <= TS_SRTP_ROC_GUESS; roc++) {
        memcpy(pkt, copy, plen);
        n = (int)plen;
        if (srtp_set_stream_roc(d->s, d->ssrc, roc) != srtp_err_status_ok)
            break;
        r = srtp_unprotect(d->s, pkt, &n);
        tries++;
    }
    if (r != srtp_err_status_ok) {
        memcpy(pkt, orig, len);
        if (!d->opened) {
            d->tries++;
            if (d->s && !d->auth)
                srtp_set_stream_roc(d->s, d->ssrc, 0);
        }
    }
    memset(copy, 0, plen);
    enum srtpdec_result v = verdict(d, r);
    if (v == SRTPDEC_OK) {
        d->opened = true;
        d->n.rtp_ok++;
        srtp_get_stream_roc(d->s, d->ssrc, &d->n.roc);
        *out_len = (size_t)n;
    }
    return v;
}

enum srtpdec_result srtpdec_rtcp(struct srtpdec *d, uint8_t *pkt, size_t len, size_t *out_len)
{
    if (len < 8 || len > TS_SRTP_MAX_PACKET) {
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
    uint8_t orig[TS_SRTP_MAX_PACKET];
    memcpy(orig, pkt, len);
    size_t plen = len;
    if (!strip_mki(d, pkt, &plen, d->rtcp_tag, 12)) {
        memcpy(pkt, orig, len);
        d->n.auth_failed++;
        return SRTPDEC_AUTH;
    }
    if (d->auth && !d->s) { /* no packet authenticated yet: the tag first */
        if (!srtpauth_rtcp(d->auth, pkt, plen)) {
            memcpy(pkt, orig, len);
            d->n.auth_failed++;
            return SRTPDEC_AUTH;
        }
        if (!make_session(d)) {
            memcpy(pkt, orig, len);
            d->n.malformed++;
            return SRTPDEC_MALFORMED;
        }
    }
    int n = (int)plen;
    srtp_err_status_t r = srtp_unprotect_rtcp(d->s, pkt, &n);
    enum srtpdec_result v = verdict(d, r);
    if (v != SRTPDEC_OK)
        memcpy(pkt, orig, len);
    if (v == SRTPDEC_OK) {
        d->n.rtcp_ok++;
        *out_len = (size_t)n;
    }
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
