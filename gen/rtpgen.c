/* RTP media of answered calls (RFC 3550 s5.1 header, 20 ms packets, RFC 3551
 * clock rates; SRTP framing RFC 3711 s3.1 with a 10-byte tag) and RTCP
 * compound SR/RR + SDES (RFC 3550 s6.4, s6.5; jitter A.8; loss A.3).
 * Impairments per origin stream; relayed copies follow their origin. */
#include "genint.h"

#include <string.h>

#define SLOT_US 20000u
#define NO_CHG UINT32_MAX
#define RTCP_US 5000000u

static bool same_mep(struct gen_mep a, struct gen_mep b) { return a.ifx == b.ifx && a.port == b.port; }

static struct gen_stream *new_stream(struct gen_call *c, struct gen_mep src, struct gen_mep dst,
                                     int dir, int leg)
{
    struct gen_stream *s = &c->st[c->nst++];
    memset(s, 0, sizeof *s);
    s->call = c;
    s->src = src;
    s->dst = dst;
    s->dir = (uint8_t)dir;
    s->legs = (uint8_t)(1u << leg);
    s->chg_slot = s->chg_idx = NO_CHG;
    return s;
}

static int pick_imp(struct gen *g, struct rng *r, bool allow_one_way)
{
    uint32_t mask = g->o->impair_mask & ~1u;
    if (!allow_one_way)
        mask &= ~(1u << GEN_IMP_ONE_WAY);
    if (!mask || !rng_chance(r, g->o->impair))
        return GEN_IMP_NONE;
    int cand[GEN_IMP_MAX], n = 0;
    for (int i = 1; i < GEN_IMP_MAX; i++)
        if (mask & (1u << i))
            cand[n++] = i;
    return cand[rng_below(r, (uint64_t)n)];
}

static void init_origin(struct gen *g, struct gen_call *c, struct gen_stream *s, uint64_t t0,
                        uint64_t t_stop, int imp)
{
    struct rng *r = &c->rng;
    rng_fork(r, &s->rng);
    s->codec = c->codec;
    s->pt = (uint8_t)gen_codec_pt(c->codec);
    s->srtp = c->srtp;
    s->imp = (uint8_t)imp;
    s->t0 = t0;
    s->t_stop = t_stop;
    s->nslots = t_stop > t0 ? (uint32_t)((t_stop - t0 + SLOT_US - 1) / SLOT_US) : 0;
    s->p0 = s->p1 = UINT32_MAX;
    for (int k = 0; k < 2; k++) {
        s->ssrc[k] = (uint32_t)rng_next(r);
        /* one stream in eight starts just before the 16-bit wrap */
        s->seq0[k] = rng_chance(r, 0.125) ? (uint16_t)(65535 - rng_below(r, 300))
                                          : (uint16_t)rng_next(r);
        s->ts0[k] = (uint32_t)rng_next(r);
    }
    if (s->ssrc[1] == s->ssrc[0])
        s->ssrc[1] ^= 1;
    s->muted = imp == GEN_IMP_ONE_WAY;
    (void)g;
}

static uint32_t paused_before(const struct gen_stream *o, uint32_t slot)
{
    if (o->p0 == UINT32_MAX || slot < o->p0)
        return 0;
    return (slot >= o->p1 ? o->p1 : slot) - o->p0;
}

void rtpgen_setup(struct gen *g, struct gen_call *c, uint64_t t_fwd, uint64_t t_back,
                  uint64_t t_stop, uint64_t hold_from, uint64_t hold_to)
{
    int n = c->nlegs;
    struct rng *r = &c->rng;
    c->nst = 0;
    struct gen_stream *fwd[GEN_MAX_LEGS], *back[GEN_MAX_LEGS];
    int nf = 0, nb = 0;
    for (int j = 0; j < n; j++) {
        struct gen_leg *L = &c->leg[j];
        if (nf && same_mep(fwd[nf - 1]->src, L->am) && same_mep(fwd[nf - 1]->dst, L->bm)) {
            fwd[nf - 1]->legs |= (uint8_t)(1u << j);
            continue;
        }
        fwd[nf++] = new_stream(c, L->am, L->bm, 0, j);
    }
    for (int j = n - 1; j >= 0; j--) {
        struct gen_leg *L = &c->leg[j];
        if (nb && same_mep(back[nb - 1]->src, L->bm) && same_mep(back[nb - 1]->dst, L->am)) {
            back[nb - 1]->legs |= (uint8_t)(1u << j);
            continue;
        }
        back[nb++] = new_stream(c, L->bm, L->am, 1, j);
    }
    int imp_f = pick_imp(g, r, true);
    int imp_b = pick_imp(g, r, imp_f != GEN_IMP_ONE_WAY);
    c->one_way = imp_f == GEN_IMP_ONE_WAY || imp_b == GEN_IMP_ONE_WAY;
    init_origin(g, c, fwd[0], t_fwd, t_stop, imp_f);
    init_origin(g, c, back[0], t_back, t_stop, imp_b);
    /* hold: the held party (callee side) stops sending (RFC 3264 s8.4) */
    struct gen_stream *bo = back[0];
    if (hold_to > hold_from && hold_from > bo->t0) {
        bo->p0 = (uint32_t)((hold_from - bo->t0 + SLOT_US - 1) / SLOT_US);
        bo->p1 = (uint32_t)((hold_to - bo->t0 + SLOT_US - 1) / SLOT_US);
        if (bo->p0 >= bo->nslots)
            bo->p0 = bo->p1 = UINT32_MAX;
    }
    struct gen_stream *os[2] = { fwd[0], back[0] };
    for (int k = 0; k < 2; k++) {
        struct gen_stream *o = os[k];
        if (o->imp != GEN_IMP_SSRC_CHANGE)
            continue;
        uint32_t at = o->nslots / 3 + (uint32_t)rng_below(r, o->nslots / 3 + 1);
        if (at >= o->p0 && at < o->p1)
            at = o->p1;
        if (at < 5 || at + 5 >= o->nslots)
            continue; /* too short to change and still show both */
        o->chg_slot = at;
        o->chg_idx = at - paused_before(o, at);
    }
    uint32_t d = 0;
    for (int i = 1; i < nf; i++) {
        d += (uint32_t)rng_range(r, 200, 1500);
        fwd[i]->origin = fwd[0];
        fwd[i]->delay_us = d;
        fwd[0]->relay[fwd[0]->nrelay++] = fwd[i];
    }
    d = 0;
    for (int i = 1; i < nb; i++) {
        d += (uint32_t)rng_range(r, 200, 1500);
        back[i]->origin = back[0];
        back[i]->delay_us = d;
        back[0]->relay[back[0]->nrelay++] = back[i];
    }
    for (int i = 0; i < c->nst; i++) {
        struct gen_stream *s = &c->st[i], *o = s->origin ? s->origin : s;
        if (s->origin) {
            s->codec = o->codec;
            s->pt = o->pt;
            s->srtp = o->srtp;
            s->imp = o->imp;
            s->muted = o->muted;
        }
        for (int j = 0; j < c->nst; j++)
            if (same_mep(c->st[j].src, s->dst) && same_mep(c->st[j].dst, s->src))
                s->reverse = &c->st[j];
    }
}

void rtpgen_start(struct gen *g, struct gen_call *c)
{
    for (int i = 0; i < c->nst; i++) {
        struct gen_stream *s = &c->st[i], *o = s->origin ? s->origin : s;
        if (!s->origin && !s->muted && s->nslots)
            gen_push(g, s->t0, EV_SLOT, s, 0, 0, 0);
        if (s->srtp)
            continue; /* SRTCP would need the keys; none is sent */
        uint64_t t = o->t0 + s->delay_us + rng_range(&c->rng, 1000000, RTCP_US);
        if (t < o->t_stop + s->delay_us)
            gen_push(g, t, EV_RTCP, s, 0, 0, 0);
    }
}

void rtpgen_slot(struct gen *g, struct gen_stream *s)
{
    uint32_t i = s->slot;
    if (i >= s->nslots)
        return;
    if (i >= s->p0 && i < s->p1) {
        s->slot = s->p1;
        if (s->p1 < s->nslots)
            gen_push(g, s->t0 + (uint64_t)s->p1 * SLOT_US, EV_SLOT, s, 0, 0, 0);
        return;
    }
    struct rng *r = &s->rng;
    uint32_t idx = i - paused_before(s, i);
    bool guard = idx < 2 || i + 2 >= s->nslots || i == s->p1 || i + 1 == s->p0 ||
                 (s->chg_idx != NO_CHG && idx + 1 >= s->chg_idx && idx < s->chg_idx + 2);
    bool lost = false, dup = false;
    uint32_t delay = 0;
    uint8_t flags = 0;
    switch (s->imp) {
    case GEN_IMP_LOSS:
        lost = !guard && rng_chance(r, g->o->loss);
        break;
    case GEN_IMP_BURST:
        /* Gilbert-Elliott: rare entry to a bad state that drops everything */
        if (s->ge_bad)
            s->ge_bad = !rng_chance(r, 0.3);
        else
            s->ge_bad = rng_chance(r, 0.01);
        lost = s->ge_bad && !guard;
        break;
    case GEN_IMP_JITTER:
        delay = (uint32_t)rng_below(r, (uint64_t)g->o->jitter_ms * 1000 + 1);
        break;
    case GEN_IMP_REORDER:
        if (!guard && !s->no_reorder_next && rng_chance(r, 0.03)) {
            delay = SLOT_US + (uint32_t)rng_range(r, 1000, 8000); /* after the next one */
            flags |= PK_REORD;
            s->reordered++;
            s->no_reorder_next = true;
        } else {
            s->no_reorder_next = false;
        }
        break;
    case GEN_IMP_DUP:
        dup = !guard && rng_chance(r, 0.03);
        break;
    default:
        break;
    }
    s->sent_slots++;
    uint64_t t = s->t0 + (uint64_t)i * SLOT_US;
    if (lost) {
        s->lost++;
    } else if (delay == 0) {
        uint16_t id = g->ifs[s->src.ifx].ipid;
        rtpgen_pkt(g, s, i, 0, 0);
        if (dup) {
            /* the network copy keeps the IP ID; >= 5 ms so SPAN dedup keeps it */
            s->dups++;
            gen_push(g, t + rng_range(r, 5000, 15000), EV_PKT, s, i, id, PK_DUP | PK_HAVEID);
        }
    } else {
        gen_push(g, t + delay, EV_PKT, s, i, 0, flags);
    }
    s->slot = i + 1;
    if (s->slot < s->nslots)
        gen_push(g, t + SLOT_US, EV_SLOT, s, 0, 0, 0);
}

static void be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void rtpgen_pkt(struct gen *g, struct gen_stream *s, uint32_t slot, uint8_t flags, uint16_t ipid)
{
    const struct gen_stream *o = s->origin ? s->origin : s;
    uint32_t idx = slot - paused_before(o, slot);
    int seg = o->chg_idx != NO_CHG && idx >= o->chg_idx ? 1 : 0;
    uint32_t k = seg ? idx - o->chg_idx : idx;
    uint32_t tslot = seg ? slot - o->chg_slot : slot;
    uint64_t ext = (uint64_t)o->seq0[seg] + k;
    uint32_t ts = o->ts0[seg] + tslot * 160u;
    bool marker = k == 0 || slot == o->p1;
    struct pcapw_l3 h;
    gen_l3(g, &h, s->src.ifx, s->dst.ifx);
    if (flags & PK_HAVEID)
        h.ipid = ipid;
    size_t off = pcapw_payload_off(&h, false);
    uint8_t *p = g->frame + off;
    p[0] = 0x80;
    p[1] = (uint8_t)((marker ? 0x80 : 0) | o->pt);
    be16(p + 2, (uint32_t)(ext & 0xffff));
    be32(p + 4, ts);
    be32(p + 8, o->ssrc[seg]);
    size_t bytes = (size_t)gen_codec_bytes(o->codec);
    size_t plen = bytes + (o->srtp ? 10 : 0);
    memcpy(p + 12, g->payload + ((ext * 53u + o->ssrc[seg]) & 2047u), plen);
    size_t fl = pcapw_udp(g->frame, &h, s->src.port, s->dst.port, 12 + plen);
    gen_write_frame(g, g->now, fl, &h);

    struct gen_seg *sg = &s->seg[seg];
    if (sg->pkts == 0) {
        sg->first_ext = sg->max_ext = ext;
        sg->ssrc = o->ssrc[seg];
        s->have_transit = false;
    }
    if (ext > sg->max_ext)
        sg->max_ext = ext;
    sg->pkts++;
    if (flags & PK_DUP)
        sg->dups++;
    /* interarrival jitter at the receiver, in 8 kHz timestamp units */
    int64_t arrival = (int64_t)(g->now / 125u);
    int64_t transit = arrival - (int64_t)tslot * 160;
    if (s->have_transit) {
        int64_t d = transit - s->last_transit;
        if (d < 0)
            d = -d;
        s->jitter += (uint32_t)d - ((s->jitter + 8) >> 4);
    }
    s->last_transit = transit;
    s->have_transit = true;
    s->octets += bytes;
    g->rtp_pkts++;
    if (o->srtp)
        g->srtp_pkts++;
    if (flags & PK_DUP)
        g->rtp_dups++;
    if (!s->origin)
        for (int i = 0; i < s->nrelay; i++) {
            if (flags & PK_DUP)
                s->relay[i]->dups++;
            gen_push(g, g->now + s->relay[i]->delay_us, EV_PKT, s->relay[i], slot, 0,
                     (uint8_t)(flags & PK_DUP));
        }
}

int64_t rtpgen_seg_lost(const struct gen_seg *sg)
{
    if (!sg->pkts)
        return 0;
    int64_t expected = (int64_t)(sg->max_ext - sg->first_ext + 1);
    return expected - (int64_t)(sg->pkts - sg->dups);
}

void rtpgen_rtcp(struct gen *g, struct gen_stream *s)
{
    const struct gen_stream *o = s->origin ? s->origin : s;
    struct gen_call *c = s->call;
    uint64_t now = g->now;
    uint64_t end = o->t_stop + s->delay_us;
    int seg = s->seg[1].pkts ? 1 : 0;
    uint32_t my_ssrc = o->ssrc[seg];
    bool sender = s->seg[seg].pkts > 0;
    struct gen_stream *R = s->reverse;
    int rseg = R && R->seg[1].pkts ? 1 : 0;
    bool rb = R && R->seg[rseg].pkts > 0;

    struct pcapw_l3 h;
    gen_l3(g, &h, s->src.ifx, s->dst.ifx);
    size_t off = pcapw_payload_off(&h, false);
    uint8_t *p = g->frame + off;
    size_t n = 0;
    uint64_t ntp_sec = now / 1000000u + 2208988800ull;
    uint64_t ntp_frac = ((now % 1000000u) << 32) / 1000000u;
    uint32_t mid = (uint32_t)((ntp_sec & 0xffff) << 16 | (ntp_frac >> 16));
    /* SR or RR */
    p[0] = (uint8_t)(0x80 | (rb ? 1 : 0));
    p[1] = sender ? 200 : 201;
    be32(p + 4, my_ssrc);
    n = 8;
    if (sender) {
        uint64_t seg_t0 = o->t0 + s->delay_us + (seg ? (uint64_t)o->chg_slot * SLOT_US : 0);
        uint32_t rts = o->ts0[seg] + (uint32_t)((now > seg_t0 ? now - seg_t0 : 0) / 125u);
        be32(p + 8, (uint32_t)ntp_sec);
        be32(p + 12, (uint32_t)ntp_frac);
        be32(p + 16, rts);
        be32(p + 20, s->seg[seg].pkts - s->seg[seg].dups);
        be32(p + 24, (uint32_t)((s->seg[seg].pkts - s->seg[seg].dups) * (uint64_t)gen_codec_bytes(o->codec)));
        n = 28;
    }
    if (rb) {
        const struct gen_seg *sg = &R->seg[rseg];
        if (R->prior_seg != rseg) {
            R->prior_seg = (uint8_t)rseg;
            R->prior_expected = R->prior_received = 0;
        }
        uint64_t expected = sg->max_ext - sg->first_ext + 1;
        uint64_t received = sg->pkts;
        int64_t lost = (int64_t)expected - (int64_t)received;
        if (lost > 0x7fffff)
            lost = 0x7fffff;
        if (lost < -0x800000)
            lost = -0x800000;
        int64_t exp_i = (int64_t)(expected - R->prior_expected);
        int64_t lost_i = exp_i - (int64_t)(received - R->prior_received);
        R->prior_expected = expected;
        R->prior_received = received;
        uint32_t frac = exp_i <= 0 || lost_i <= 0 ? 0 : (uint32_t)((lost_i << 8) / exp_i);
        if (frac > 255)
            frac = 255;
        uint8_t *b = p + n;
        be32(b, sg->ssrc);
        be32(b + 4, (frac << 24) | ((uint32_t)lost & 0xffffff));
        be32(b + 8, (uint32_t)sg->max_ext);
        be32(b + 12, R->jitter >> 4);
        be32(b + 16, R->last_sr_t ? R->last_sr_mid : 0);
        be32(b + 20, R->last_sr_t ? (uint32_t)(((now - R->last_sr_t) << 16) / 1000000u) : 0);
        n += 24;
    }
    be16(p + 2, (uint32_t)(n / 4 - 1));
    /* SDES with the CNAME (RFC 3550 s6.5.1), padded to a 32-bit boundary */
    char cname[64];
    int cl = snprintf(cname, sizeof cname, "ts%llu@%s", (unsigned long long)c->id,
                      g->ifs[s->src.ifx].ip_s);
    if (cl < 0 || cl > 60)
        cl = 0;
    uint8_t *d = p + n;
    size_t sl = 4 + 4 + 2 + (size_t)cl + 1; /* header, ssrc, type+len, text, end */
    size_t padded = (sl + 3) & ~(size_t)3;
    memset(d, 0, padded);
    d[0] = 0x81;
    d[1] = 202;
    be16(d + 2, (uint32_t)(padded / 4 - 1));
    be32(d + 4, my_ssrc);
    d[8] = 1;
    d[9] = (uint8_t)cl;
    memcpy(d + 10, cname, (size_t)cl);
    n += padded;
    size_t fl = pcapw_udp(g->frame, &h, (uint16_t)(s->src.port + 1), (uint16_t)(s->dst.port + 1), n);
    gen_write_frame(g, now, fl, &h);
    g->rtcp_pkts++;
    s->rtcp_n++;
    if (sender) {
        s->last_sr_mid = mid;
        s->last_sr_t = now;
    }
    if (now + RTCP_US < end)
        gen_push(g, now + RTCP_US, EV_RTCP, s, 0, 0, 0);
}
