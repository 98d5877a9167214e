/* RTCP of the media streams (RFC 3550 6.4-6.6, RFC 3611 4.7, RFC 3711
 * 3.4): per-SSRC sources, report blocks and their round-trip times, SDES
 * CNAMEs, per SSRC and hop (the pair of addresses the RTCP travels
 * between); the figures are copied into the record of the stream of that
 * SSRC between those addresses when it ends. */
#include "media_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- RTCP ---- */

/* The source of ssrc on the hop between pm's two addresses (its reports
 * and the reports about it travel both ways on that hop). */
static struct msrc *src_get(struct media *m, uint32_t ssrc, const struct pkt_meta *pm, uint64_t now)
{
    struct src_key k;
    src_key_make(&k, ssrc, &pm->src, &pm->dst);
    uint64_t h = ts_hash(&k, sizeof k);
    struct ht_node *n = htab_find(&m->srcs, h, src_eq, &k);
    struct msrc *s;
    if (n) {
        s = ts_container_of(n, struct msrc, node);
        htab_touch(&m->srcs, n);
    } else {
        if (htab_full(&m->srcs)) {
            struct ht_node *o = htab_oldest(&m->srcs);
            htab_remove(&m->srcs, o);
            free(ts_container_of(o, struct msrc, node));
            TS_INC(m->st, RTCP_SOURCES_EVICTED);
        }
        s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        s->key = k;
        s->r.xr_mos_lq = s->r.xr_r_factor = -1;
        htab_insert(&m->srcs, &s->node, h);
    }
    s->last_ns = now;
    return s;
}

static void rtcp_blocks(struct media *m, const struct rtcp_pkt *p, const struct pkt_meta *pm, uint64_t now)
{
    for (unsigned i = 0; i < p->u.report.nrb && i < RTCP_MAX_RC; i++) {
        const struct rtcp_report_block *b = &p->u.report.rb[i];
        struct msrc *about = src_get(m, b->ssrc, pm, now);
        if (!about)
            continue;
        about->r.blocks++;
        about->r.fraction_lost = b->fraction_lost / 256.0f;
        if (about->r.fraction_lost > about->r.fraction_lost_max)
            about->r.fraction_lost_max = about->r.fraction_lost;
        about->r.cum_lost = b->cum_lost;
        about->jitter_ts = b->jitter;
        about->have_jitter = true;
        if (!b->lsr)
            continue;
        /* RFC 3550 6.4.1 with capture times: the SR left the capture point
         * at t_sr, the report about it came back at now after DLSR. */
        for (unsigned j = 0; j < 4; j++) {
            const struct sr_seen *sr = &about->srs[j];
            if (!sr->t_ns || sr->lsr != b->lsr || now < sr->t_ns)
                continue;
            double rtt = (double)(now - sr->t_ns) / 1e6 - b->dlsr * 1000.0 / 65536.0;
            if (rtt < 0)
                break;
            about->r.rtt_n++;
            about->r.rtt_ms = (float)rtt;
            if (about->r.rtt_ms > about->r.rtt_max_ms)
                about->r.rtt_max_ms = about->r.rtt_ms;
            break;
        }
    }
}

static void cname_copy(char *dst, size_t cap, struct bv v)
{
    size_t j = 0;
    for (; j < v.len && j + 1 < cap; j++) {
        int c = bv_at(v, j);
        dst[j] = (char)(c >= 32 && c < 127 ? c : '?');
    }
    dst[j] = 0;
}

void media_rtcp_datagram(struct media *m, const struct pkt_meta *pm, struct bv payload)
{
    struct rtcp_compound *c = &m->rtcp;
    uint64_t now = pm->ts_ns;
    TS_INC(m->st, RTCP_PACKETS);
    /* SRTCP of a stream whose SDES keys are known: parsed opened */
    bool opened = m->nsx && media_srtp_rtcp(m, pm, &payload);
    switch (rtcp_parse(payload, c)) {
    case RTP_OK: break;
    case RTP_TRUNCATED: TS_INC(m->st, RTCP_TRUNCATED); break;
    case RTP_UNSUPPORTED: TS_INC(m->st, RTCP_UNSUPPORTED); break;
    default: TS_INC(m->st, RTCP_MALFORMED); break;
    }
    if (opened)
        c->srtcp = true;
    if (c->srtcp)
        TS_INC(m->st, RTCP_SRTCP);
    for (unsigned i = 0; i < c->npkts && i < TS_RTCP_MAX_PACKETS; i++) {
        const struct rtcp_pkt *p = &c->pkts[i];
        struct msrc *src = src_get(m, p->ssrc, pm, now);
        if (!src)
            continue;
        if (i == 0) { /* the compound's sender */
            struct media_rtcp *r = &src->r;
            if (r->first_ns && now > r->last_ns && now - r->last_ns > r->max_gap_ns)
                r->max_gap_ns = now - r->last_ns;
            if (!r->first_ns)
                r->first_ns = now;
            if (now > r->last_ns)
                r->last_ns = now;
        }
        if (c->srtcp)
            src->r.srtcp = true;
        if (c->encrypted) /* only the first header is in clear */
            break;
        switch (p->pt) {
        case RTCP_SR: {
            src->r.sr++;
            TS_INC(m->st, RTCP_SR);
            struct sr_seen *sr = &src->srs[src->sr_i++ & 3];
            sr->lsr = (uint32_t)(p->u.report.si.ntp >> 16);
            sr->t_ns = now;
            rtcp_blocks(m, p, pm, now);
            break;
        }
        case RTCP_RR:
            src->r.rr++;
            TS_INC(m->st, RTCP_RR);
            rtcp_blocks(m, p, pm, now);
            break;
        case RTCP_SDES:
            TS_INC(m->st, RTCP_SDES);
            for (unsigned j = 0; j < p->u.sdes.nchunks && j < RTCP_MAX_RC; j++) {
                struct msrc *cs = j ? src_get(m, p->u.sdes.chunk[j].ssrc, pm, now) : src;
                if (!cs)
                    continue;
                cs->r.sdes++;
                if (p->u.sdes.chunk[j].cname.len)
                    cname_copy(cs->r.cname, sizeof cs->r.cname, p->u.sdes.chunk[j].cname);
            }
            break;
        case RTCP_BYE:
            TS_INC(m->st, RTCP_BYE);
            for (unsigned j = 0; j < p->u.bye.nssrc && j < RTCP_MAX_RC; j++) {
                struct msrc *bs = j ? src_get(m, p->u.bye.ssrc[j], pm, now) : src;
                if (bs)
                    bs->r.bye++;
            }
            break;
        case RTCP_XR:
            src->r.xr++;
            TS_INC(m->st, RTCP_XR);
            if (p->u.xr.has_voip) {
                const struct rtcp_xr_voip *v = &p->u.xr.voip;
                struct msrc *about = src_get(m, v->ssrc, pm, now);
                if (about) {
                    about->r.xr_voip = true;
                    about->r.xr_mos_lq = v->mos_lq != 127 ? v->mos_lq / 10.0f : -1.0f;
                    about->r.xr_r_factor = v->r_factor != 127 ? (float)v->r_factor : -1.0f;
                }
            }
            break;
        case RTCP_APP:
            src->r.app++;
            break;
        case RTCP_RTPFB:
        case RTCP_PSFB:
            src->r.fb++;
            break;
        default:
            break;
        }
    }
}

