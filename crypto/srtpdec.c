/* SRTP/SRTCP opening (see srtpdec.h) through srtpauth.c (libcrypto), with
 * the packet index estimate and replay check of RFC 3711 sections 3.3.1,
 * 3.3.2 and appendix A. */
#include "srtpdec.h"

#include <stdlib.h>
#include <string.h>

#include "../common/bv.h"
#include "../common/limits.h"
#include "srtpauth.h"

/* The indexes opened at and below the highest (RFC 3711 3.3.2). */
struct replay {
    uint64_t top; /* the highest index opened */
    bool any;
    uint64_t bits[TS_SRTP_REPLAY_WINDOW / 64]; /* index i at bit i mod the window */
};

struct srtpdec {
    struct srtpauth *auth;
    struct sdes_key key;    /* AES-CM: until a packet opens (the cipher keys are made then) */
    struct replay rtp, rtcp; /* SRTP packet indexes (ROC << 16 | SEQ), SRTCP indexes */
    uint8_t mki[4], mki_len;
    uint8_t rtp_tag, rtcp_tag;  /* bytes of tag after the MKI (AEAD: none, the MKI is last) */
    bool opened;            /* a packet authenticated: the ROC is known */
    uint32_t tries;         /* first packets that failed every ROC guess */
    struct srtpdec_counts n;
};

struct srtpdec *srtpdec_new(const struct sdes_key *key)
{
    if (key->suite == SDES_NONE || key->key_len > sizeof key->key)
        return NULL;
    struct srtpdec *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->key = *key;
    /* The MKI is taken out here, in front of the tag (AEAD: last). One
     * key: its MKI must match. */
    memcpy(d->mki, key->mki, key->mki_len);
    d->mki_len = key->mki_len;
    bool aead = key->suite == SDES_AEAD_AES_128_GCM || key->suite == SDES_AEAD_AES_256_GCM;
    bool short_tag = key->suite == SDES_AES_CM_128_HMAC_SHA1_32 || key->suite == SDES_AES_256_CM_HMAC_SHA1_32;
    d->rtp_tag = aead ? 0 : short_tag ? 4 : 10;
    d->rtcp_tag = aead ? 0 : 10;
    d->auth = srtpauth_new(key); /* AES-CM: HMACs until a packet opens, no cipher */
    if (!d->auth) {
        srtpdec_free(d);
        return NULL;
    }
    if (srtpauth_aead(d->auth))
        explicit_bzero(&d->key, sizeof d->key); /* the cipher is made */
    return d;
}

void srtpdec_free(struct srtpdec *d)
{
    if (!d)
        return;
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

/* The master key once the cipher keys are made: wiped the first time, not
 * on every packet after. */
static void forget_key(struct srtpdec *d)
{
    if (d->key.key_len)
        explicit_bzero(&d->key, sizeof d->key);
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

/* An SRTP packet (copy: MKI removed, tag last). Until
 * one authenticates, the rollover counters from 0 are guessed (the stream
 * may have begun before the capture); then the estimate's alone. */
static enum srtpdec_result open_rtp(struct srtpdec *d, uint8_t *copy, size_t plen, size_t *out_len)
{
    uint16_t seq = 0;
    if (!bv_peek_be16(bv_make(copy, plen), 2, &seq)) {
        d->n.malformed++;
        return SRTPDEC_MALFORMED;
    }
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
    if (srtpauth_aead(d->auth)) {
        if (!srtpauth_open_aead_rtp(d->auth, copy, plen, first, guesses, &roc)) {
            d->n.auth_failed++;
            return SRTPDEC_AUTH;
        }
        *out_len = plen - SRTPAUTH_GCM_TAG;
    } else {
        if (!srtpauth_rtp(d->auth, copy, plen, first, guesses, &roc)) {
            d->n.auth_failed++;
            return SRTPDEC_AUTH;
        }
        if (!srtpauth_cipher(d->auth, &d->key) ||
            !srtpauth_decrypt_rtp(d->auth, copy, plen - d->rtp_tag, roc)) {
            d->n.malformed++;
            return SRTPDEC_MALFORMED;
        }
        forget_key(d);
        *out_len = plen - d->rtp_tag;
    }
    mark(&d->rtp, (uint64_t)roc << 16 | seq);
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
    size_t n_out = 0;
    enum srtpdec_result v = open_rtp(d, copy, plen, &n_out);
    if (v == SRTPDEC_OK) {
        memcpy(pkt, copy, n_out);
        d->opened = true;
        d->n.rtp_ok++;
        d->n.roc = (uint32_t)(d->rtp.top >> 16);
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
    const bool aead = srtpauth_aead(d->auth);
    /* header, payload, E flag and SRTCP index, tag (RFC 3711 3.4); AEAD:
     * header, payload, tag, E flag and index (RFC 7714 9) */
    const size_t body = plen - (aead ? 0 : d->rtcp_tag), tail = aead ? SRTPAUTH_GCM_TAG + 4 : 4;
    if (plen < 8 + 4 + (size_t)(aead ? SRTPAUTH_GCM_TAG : d->rtcp_tag)) {
        d->n.malformed++;
        v = SRTPDEC_MALFORMED;
    } else if (aead ? !srtpauth_open_aead_rtcp(d->auth, copy, plen) : !srtpauth_rtcp(d->auth, copy, plen)) {
        d->n.auth_failed++;
        v = SRTPDEC_AUTH;
    } else {
        uint32_t ei = 0; /* body >= 12: checked above */
        bv_peek_be32(bv_make(copy, body), body - 4, &ei);
        uint64_t idx = ei & 0x7fffffffu;
        if (seen(&d->rtcp, idx)) {
            d->n.replayed++;
            v = SRTPDEC_REPLAY;
        } else if (!aead && (!srtpauth_cipher(d->auth, &d->key) ||
                             !srtpauth_decrypt_rtcp(d->auth, copy, body))) {
            d->n.malformed++;
            v = SRTPDEC_MALFORMED;
        } else {
            forget_key(d);
            mark(&d->rtcp, idx);
            n_out = body - tail;
            v = SRTPDEC_OK;
        }
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
