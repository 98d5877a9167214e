/* Media expectations: the RTP and RTCP endpoints SDP offers and answers
 * announce (RFC 3264, RFC 5761 rtcp-mux), their codecs and direction, the
 * leg they belong to, and the leg events (answered, BYE, ended) that
 * start and end the legs' media aggregates. */
#include "media_int.h"

#include <stdlib.h>
#include <string.h>

#include "../dissect/sdp.h"

/* ---- expectations ---- */

void media_expect_drop(struct media *m, struct mexpect *e)
{
    egen_bump(m, &e->addr, e->port);
    htab_remove(&m->expect, &e->node);
    media_keys_free(e->keys);
    free(e);
}

/* Eviction's second chance: an entry used since it was queued goes to the
 * young end instead (true), if it was queued long enough ago. */
bool media_lru_spared(struct htab *t, struct ht_node *n, uint64_t last_ns, uint64_t *queued_ns,
                       uint64_t now)
{
    return last_ns > *queued_ns && htab_requeue(t, n, queued_ns, now, LRU_REQUEUE_NS);
}

/* The oldest SDP endpoint not in use, to make room (LRU_SECOND_CHANCES
 * spared at most). */
struct mexpect *media_expect_victim(struct media *m, uint64_t now)
{
    for (int k = 0;; k++) {
        struct mexpect *e = ts_container_of(htab_oldest(&m->expect), struct mexpect, node);
        if (k == LRU_SECOND_CHANCES ||
            !media_lru_spared(&m->expect, &e->node, e->last_ns, &e->queued_ns, now))
            return e;
    }
}

/* rtp_port: an RTCP endpoint's RTP port (0: port is RTP). */
static void expect_put(struct media *m, const struct ts_addr *a, uint16_t port, uint16_t rtp_port,
                       bool mux, uint8_t side, uint64_t leg, uint64_t call, uint64_t now,
                       const struct media_sdp_info *info)
{
    uint64_t h = hash_ep(a, port);
    bool is_rtcp = rtp_port != 0;
    unsigned nc = info && !is_rtcp ? info->ncodecs : 0;
    if (nc > TS_MEDIA_SDP_CODECS)
        nc = TS_MEDIA_SDP_CODECS;
    /* Streams holding the old expectation look again (see struct mstream). */
    egen_bump(m, a, port);
    struct mexpect *e = expect_find_h(m, a, port, h);
    bool known = e != NULL;
    if (e && e->ncap < nc) {
        media_expect_drop(m, e); /* too small for the new format list */
        e = NULL;
    }
    if (e) {
        htab_touch(&m->expect, &e->node);
    } else {
        if (htab_full(&m->expect)) {
            media_expect_drop(m, media_expect_victim(m, now));
            TS_INC(m->st, RTP_EXPECT_EVICTED);
        }
        e = calloc(1, sizeof *e + nc * sizeof e->codec[0]);
        if (!e)
            return;
        e->addr = *a;
        e->port = port;
        e->ncap = (uint8_t)nc;
        htab_insert(&m->expect, &e->node, h);
        if (!known)
            TS_INC(m->st, RTP_EXPECT);
    }
    e->is_rtcp = is_rtcp;
    e->rtp_port = rtp_port;
    e->rtcp_mux = mux;
    e->side = side;
    e->leg_ref = leg;
    e->call_ref = call;
    e->last_ns = e->queued_ns = now;
    e->dir = info ? info->dir : 0;
    e->srtp = info && info->srtp;
    e->not_rtp = info && info->not_rtp;
    /* the keys this endpoint's sender encrypts with (RTP endpoints only:
     * SRTCP is opened with its RTP stream's) */
    if (!is_rtcp && info && info->keys.n) {
        if (!e->keys)
            e->keys = malloc(sizeof *e->keys);
        if (e->keys)
            *e->keys = info->keys;
    } else if (e->keys) {
        media_keys_free(e->keys);
        e->keys = NULL;
    }
    e->ncodecs = (uint8_t)nc;
    if (nc)
        memcpy(e->codec, info->codec, nc * sizeof e->codec[0]);
}

/* Which side of the leg an endpoint is: the same endpoint keeps its side,
 * a new one takes a free side, a re-INVITE moving ports keeps the host's. */
static uint8_t leg_side(struct magg *leg, const struct ts_addr *a, uint16_t port)
{
    if (!leg)
        return 0;
    for (uint8_t i = 0; i < 2; i++)
        if (leg->ep_set[i] && leg->ep_port[i] == port && ts_addr_eq(&leg->ep[i], a))
            return i;
    uint8_t side = 1;
    if (!leg->ep_set[0])
        side = 0;
    else if (!leg->ep_set[1])
        side = 1;
    else if (ts_addr_eq(&leg->ep[0], a))
        side = 0;
    leg->ep[side] = *a;
    leg->ep_port[side] = port;
    leg->ep_set[side] = true;
    return side;
}

void media_expect(struct media *m, const struct ts_addr *addr, uint16_t port, bool rtcp_mux,
                  uint64_t leg_ref, uint64_t call_ref, uint64_t now_ns,
                  const struct media_sdp_info *info)
{
    if (!addr || (addr->family != 4 && addr->family != 6) || port == 0)
        return;
    struct magg *leg = media_agg_get(m, AGG_LEG, leg_ref);
    if (leg && call_ref)
        leg->call_ref = call_ref;
    (void)media_agg_get(m, AGG_CALL, call_ref);
    uint8_t side = leg_side(leg, addr, port);
    expect_put(m, addr, port, 0, rtcp_mux, side, leg_ref, call_ref, now_ns, info);
    if (!rtcp_mux && !(info && info->not_rtp)) {
        uint16_t rp = info && info->rtcp_port ? info->rtcp_port : (uint16_t)(port + 1);
        if (rp && rp != port)
            expect_put(m, addr, rp, port, false, side, leg_ref, call_ref, now_ns, info);
    }
}

void media_leg_answered(struct media *m, uint64_t leg_ref, uint64_t ts_ns)
{
    struct magg *leg = media_agg_get(m, AGG_LEG, leg_ref);
    if (!leg || leg->answered_ns)
        return;
    leg->answered_ns = ts_ns;
    if (leg->ended_ns && !leg->bye_ns) { /* ended by a challenge or failure: reopened */
        leg->ended_ns = 0;
        leg->evaluated = false;
    }
}

void media_leg_bye(struct media *m, uint64_t leg_ref, uint64_t ts_ns)
{
    struct magg *leg = media_agg_get(m, AGG_LEG, leg_ref);
    if (!leg)
        return;
    if (!leg->bye_ns)
        leg->bye_ns = ts_ns;
    media_leg_ended(m, leg_ref, ts_ns);
}

void media_leg_ended(struct media *m, uint64_t leg_ref, uint64_t ts_ns)
{
    struct magg *leg = media_agg_get(m, AGG_LEG, leg_ref);
    if (leg && !leg->ended_ns) {
        leg->ended_ns = ts_ns;
        media_leg_evaluate(m, leg);
        for (struct mstream *s = leg->streams; s; s = s->lg_next)
            media_end_append(m, s, ts_ns + LEG_END_GRACE_NS);
    }
}

void media_sdp_info_from(const struct sdp_media *sm, struct media_sdp_info *info)
{
    memset(info, 0, sizeof *info);
    if (!sm)
        return;
    for (unsigned i = 0; i < sm->nfmt && info->ncodecs < TS_MEDIA_SDP_CODECS; i++) {
        struct media_codec *c = &info->codec[info->ncodecs++];
        struct bv name = { 0 };
        c->pt = sm->fmt[i];
        if (sdp_codec_for_pt(sm, sm->fmt[i], &name, &c->clock)) {
            size_t j = 0;
            for (; j < name.len && j + 1 < sizeof c->name; j++) {
                int ch = bv_at(name, j);
                c->name[j] = (char)(ch > 32 && ch < 127 ? ch : '?');
            }
            c->name[j] = 0;
        }
    }
    switch (sm->dir) {
    case SDP_DIR_SENDONLY: info->dir = MEDIA_DIR_SENDONLY; break;
    case SDP_DIR_RECVONLY: info->dir = MEDIA_DIR_RECVONLY; break;
    case SDP_DIR_INACTIVE: info->dir = MEDIA_DIR_INACTIVE; break;
    default: info->dir = MEDIA_DIR_SENDRECV; break;
    }
    info->srtp = sm->proto == SDP_PROTO_RTP_SAVP || sm->proto == SDP_PROTO_RTP_SAVPF ||
                 sm->proto == SDP_PROTO_UDP_TLS_RTP_SAVP ||
                 sm->proto == SDP_PROTO_UDP_TLS_RTP_SAVPF || sm->crypto;
    info->rtcp_port = sm->rtcp_port;
    info->not_rtp = !sdp_proto_is_rtp(sm->proto);
    for (unsigned i = 0; i < sm->ncrypto && i < TS_SDP_MAX_CRYPTO && info->keys.n < TS_MEDIA_SDES_KEYS;
         i++)
        if (sdes_parse(sm->crypto_val[i], &info->keys.k[info->keys.n]) == SDES_OK)
            info->keys.n++;
}

