/* SRTP and SRTCP of the stream table opened with the SDES keys of the
 * streams' SDP (RFC 3711, RFC 4568; crypto/srtpdec.c):
 * a stream tries the keys its sender's endpoint announced, then the other
 * endpoint's (a NAT may hide which is which), and keeps the first that
 * authenticates a packet. Opened payloads go on to what the analysis reads
 * in payloads (RFC 4733 events, the payload hook); a packet that fails is
 * counted per stream and its payload is never read. A stream whose packets
 * fail with every key TS_SRTP_GIVE_UP times in a row stops trying them
 * (each try is an HMAC per key and rollover guess) but for one packet in
 * TS_SRTP_RETRY_EVERY; the packets left are counted as not tried; a packet
 * that opens, or new keys, start it over. Only streams whose SDP had keys
 * hold state, so plain RTP pays nothing; at most TS_MEDIA_SRTP_STREAMS_MAX
 * do, the oldest state given up first. */
#include "media_int.h"

#include <stdlib.h>
#include <string.h>

#include "../crypto/srtpdec.h"

struct msrtp {
    struct mstream *s;
    struct msrtp *older, *newer;
    struct srtpdec *dec[2 * TS_MEDIA_SDES_KEYS]; /* sender's keys first */
    uint8_t ndec;
    int8_t chosen;  /* the decoder that authenticated a packet; -1 none yet */
    uint32_t fails; /* packets in a row that failed with every key, to TS_SRTP_GIVE_UP */
    uint32_t idle;  /* packets not tried since the last try, once given up */
    uint64_t sig;   /* the keys dec[] were made from */
};

void media_keys_free(struct media_keys *k)
{
    if (!k)
        return;
    explicit_bzero(k, sizeof *k);
    free(k);
}

static uint64_t keys_sig(const struct media_keys *a, const struct media_keys *b)
{
    uint64_t h = 0;
    const struct media_keys *kk[2] = { a, b };
    for (int j = 0; j < 2; j++)
        for (uint8_t i = 0; kk[j] && i < kk[j]->n; i++) {
            const struct sdes_key *k = &kk[j]->k[i];
            h = ts_mix64(h, ts_hash(k->key, k->key_len) ^ (uint64_t)k->suite << 56 ^
                                (uint64_t)k->mki_len << 48 ^ (uint64_t)j << 40);
            h = ts_mix64(h, ts_hash(k->mki, sizeof k->mki));
        }
    return h;
}

void media_srtp_drop(struct media *m, struct mstream *s)
{
    struct msrtp *x = s->sx;
    if (!x)
        return;
    if (x->older)
        x->older->newer = x->newer;
    else
        m->sx_old = x->newer;
    if (x->newer)
        x->newer->older = x->older;
    else
        m->sx_new = x->older;
    for (uint8_t i = 0; i < x->ndec; i++)
        srtpdec_free(x->dec[i]);
    free(x);
    s->sx = NULL;
    m->nsx--;
}

void media_srtp_bind(struct media *m, struct mstream *s, const struct pkt_meta *pm)
{
    s->sx_check = false;
    const struct mexpect *snd = expect_find(m, &pm->src, pm->sport);
    const struct mexpect *rcv = expect_find(m, &pm->dst, pm->dport);
    const struct media_keys *a = snd ? snd->keys : NULL, *b = rcv ? rcv->keys : NULL;
    uint64_t sig = a || b ? keys_sig(a, b) : 0;
    if (s->sx && s->sx->sig == sig)
        return;
    media_srtp_drop(m, s); /* keys changed (a re-INVITE), or gone */
    if (!sig)
        return;
    if (!m->sx_buf && !(m->sx_buf = malloc(TS_SRTP_MAX_PACKET)))
        return;
    if (m->nsx >= m->cfg.max_srtp && m->sx_old) {
        TS_INC(m->st, RTP_SRTP_EVICTED);
        media_srtp_drop(m, m->sx_old->s);
    }
    struct msrtp *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->chosen = -1;
    x->sig = sig;
    x->s = s;
    const struct media_keys *kk[2] = { a, b };
    for (int j = 0; j < 2; j++)
        for (uint8_t i = 0; kk[j] && i < kk[j]->n && x->ndec < 2 * TS_MEDIA_SDES_KEYS; i++) {
            struct srtpdec *d = srtpdec_new(&kk[j]->k[i]);
            if (d)
                x->dec[x->ndec++] = d;
        }
    if (!x->ndec) {
        free(x);
        return;
    }
    x->older = m->sx_new;
    if (m->sx_new)
        m->sx_new->newer = x;
    else
        m->sx_old = x;
    m->sx_new = x;
    m->nsx++;
    s->sx = x;
}

/* The decoder that opened a packet stays, the others go (memory). */
static void choose(struct msrtp *x, size_t i)
{
    for (size_t k = 0; k < x->ndec; k++)
        if (k != i)
            srtpdec_free(x->dec[k]);
    x->dec[0] = x->dec[i];
    x->ndec = 1;
    x->chosen = 0;
}

int media_srtp_rtp(struct media *m, struct mstream *s, struct bv pkt, struct bv *clear)
{
    struct msrtp *x = s->sx;
    if (x->fails >= TS_SRTP_GIVE_UP && ++x->idle < TS_SRTP_RETRY_EVERY) {
        s->rec.srtp_not_tried++;
        TS_INC(m->st, RTP_SRTP_NOT_TRIED);
        return -1;
    }
    x->idle = 0;
    bool replay = false;
    if (pkt.len <= TS_SRTP_MAX_PACKET) {
        for (size_t k = 0; k < x->ndec; k++) {
            size_t i = x->chosen >= 0 ? (size_t)x->chosen : k, out = 0;
            struct bv b = pkt;
            (void)bv_copy(&b, m->sx_buf, pkt.len);
            enum srtpdec_result r = srtpdec_rtp(x->dec[i], m->sx_buf, pkt.len, &out);
            if (r == SRTPDEC_OK) {
                if (x->chosen < 0)
                    choose(x, i);
                x->fails = 0;
                *clear = bv_make(m->sx_buf, out);
                s->rec.srtp_decrypted++;
                TS_INC(m->st, RTP_SRTP_DECRYPTED);
                return 1;
            }
            replay = replay || r == SRTPDEC_REPLAY;
            if (x->chosen >= 0)
                break;
        }
    }
    if (replay) { /* a copy of a packet already opened */
        TS_INC(m->st, RTP_SRTP_REPLAYED);
        return -1;
    }
    if (x->fails < TS_SRTP_GIVE_UP)
        x->fails++;
    s->rec.srtp_auth_fail++;
    TS_INC(m->st, RTP_SRTP_AUTH_FAILED);
    return -1;
}

/* The RTP port of an RTCP endpoint: the one its SDP's a=rtcp (RFC 3605)
 * belongs to, else the port below (RFC 3550 section 11). */
static uint16_t rtp_port_of(const struct media *m, const struct ts_addr *a, uint16_t port)
{
    const struct mexpect *e = expect_find(m, a, port);
    return e && e->is_rtcp && e->rtp_port ? e->rtp_port : (uint16_t)(port - 1);
}

/* The RTP stream an SRTCP packet belongs to: its sender's SSRC on the same
 * ports (RFC 5761 multiplexing), on the RTP ports the SDP's a=rtcp names,
 * or on the ports below. */
static struct mstream *rtcp_stream(struct media *m, const struct pkt_meta *pm, uint32_t ssrc)
{
    struct five f;
    five_of(pm, &f);
    const uint16_t sp = f.sport, dp = f.dport;
    const uint16_t ports[3][2] = { { sp, dp },
                                   { rtp_port_of(m, &pm->src, sp), rtp_port_of(m, &pm->dst, dp) },
                                   { (uint16_t)(sp - 1), (uint16_t)(dp - 1) } };
    for (int k = 0; k < 3; k++) {
        if (k > 0 && (!sp || !dp))
            break;
        if (k == 2 && ports[2][0] == ports[1][0] && ports[2][1] == ports[1][1])
            break; /* no a=rtcp: the ports below were tried */
        f.sport = ports[k][0];
        f.dport = ports[k][1];
        struct stream_key key = { &f, ssrc };
        struct ht_node *n = htab_find(&m->streams, hash_stream(&f, ssrc), stream_eq, &key);
        if (n)
            return ts_container_of(n, struct mstream, node);
    }
    return NULL;
}

bool media_srtp_rtcp(struct media *m, const struct pkt_meta *pm, struct bv *payload)
{
    uint32_t ssrc;
    if (!bv_peek_be32(*payload, 4, &ssrc) || payload->len > TS_SRTP_MAX_PACKET || !m->sx_buf)
        return false;
    struct mstream *s = rtcp_stream(m, pm, ssrc);
    struct msrtp *x = s ? s->sx : NULL;
    if (!x)
        return false;
    for (size_t k = 0; k < x->ndec; k++) {
        size_t i = x->chosen >= 0 ? (size_t)x->chosen : k, out = 0;
        struct bv b = *payload;
        (void)bv_copy(&b, m->sx_buf, payload->len);
        if (srtpdec_rtcp(x->dec[i], m->sx_buf, payload->len, &out) == SRTPDEC_OK) {
            *payload = bv_make(m->sx_buf, out);
            TS_INC(m->st, RTCP_SRTCP_DECRYPTED);
            return true;
        }
        if (x->chosen >= 0)
            break;
    }
    TS_INC(m->st, RTCP_SRTCP_AUTH_FAILED);
    return false;
}
