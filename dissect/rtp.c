/* RTP header (RFC 3550 5.1), static payload types (RFC 3551 6), named events
 * (RFC 4733 2.3), compound RTCP (RFC 3550 6.4-6.7, A.2), XR VoIP metrics
 * (RFC 3611 4.7) and the SRTCP trailer (RFC 3711 3.4). */
#include "rtp.h"

#include <string.h>

/* ---- RTP ---- */

enum rtp_result rtp_parse(struct bv pkt, struct rtp_hdr *out)
{
    return rtp_parse_cut(pkt, 0, out);
}

enum rtp_result rtp_parse_cut(struct bv pkt, size_t cut, struct rtp_hdr *out)
{
    memset(out, 0, sizeof *out);
    struct bv b = pkt;
    uint8_t o1, o2;
    if (!bv_u8(&b, &o1))
        return RTP_TRUNCATED;
    out->version = o1 >> 6;
    if (out->version != 2)
        return RTP_UNSUPPORTED;
    out->padding = (o1 & 0x20) != 0;
    out->extension = (o1 & 0x10) != 0;
    out->cc = o1 & 0x0f;
    if (!bv_u8(&b, &o2) || !bv_be16(&b, &out->seq) || !bv_be32(&b, &out->ts) ||
        !bv_be32(&b, &out->ssrc))
        return RTP_TRUNCATED;
    out->marker = (o2 & 0x80) != 0;
    out->pt = o2 & 0x7f;
    for (uint8_t i = 0; i < out->cc; i++)
        if (!bv_be32(&b, &out->csrc[i]))
            return RTP_TRUNCATED;
    if (out->extension) {
        if (!bv_be16(&b, &out->ext_profile) || !bv_be16(&b, &out->ext_words) ||
            !bv_take(&b, (size_t)out->ext_words * 4, &out->ext))
            return RTP_TRUNCATED;
    }
    out->hdr_len = pkt.len - b.len;
    if (cut) {
        out->cut = cut;
        out->payload = b;
    } else if (out->padding) {
        /* The last octet counts the padding, itself included (5.1). */
        uint8_t pad = 0;
        if (!bv_peek_u8(pkt, pkt.len - 1, &pad) || pad == 0 || pad > b.len)
            return RTP_MALFORMED;
        out->pad_len = pad;
        out->payload = bv_head(b, b.len - pad);
    } else {
        out->payload = b;
    }
    return RTP_OK;
}

bool rtp_looks_like(struct bv pkt)
{
    struct rtp_hdr h;
    return rtp_parse(pkt, &h) == RTP_OK && rtp_hdr_plausible(&h);
}

bool rtp_hdr_plausible(const struct rtp_hdr *h)
{
    /* RFC 3551 reserves 72-76 so that RTP never looks like SR..APP. */
    if (h->pt >= 72 && h->pt <= 76)
        return false;
    /* RFC 5761 4: marker + 64..95 is RTCP (PT 192-223) on a muxed port. */
    if (h->marker && h->pt >= 64 && h->pt <= 95)
        return false;
    return true;
}

/* RFC 3551 tables 4 and 5. */
static const struct rtp_static_pt static_pts[35] = {
    [0] = { "PCMU", 8000, 1, false },
    [3] = { "GSM", 8000, 1, false },
    [4] = { "G723", 8000, 1, false },
    [5] = { "DVI4", 8000, 1, false },
    [6] = { "DVI4", 16000, 1, false },
    [7] = { "LPC", 8000, 1, false },
    [8] = { "PCMA", 8000, 1, false },
    [9] = { "G722", 8000, 1, false },
    [10] = { "L16", 44100, 2, false },
    [11] = { "L16", 44100, 1, false },
    [12] = { "QCELP", 8000, 1, false },
    [13] = { "CN", 8000, 1, false },
    [14] = { "MPA", 90000, 0, false },
    [15] = { "G728", 8000, 1, false },
    [16] = { "DVI4", 11025, 1, false },
    [17] = { "DVI4", 22050, 1, false },
    [18] = { "G729", 8000, 1, false },
    [25] = { "CelB", 90000, 0, true },
    [26] = { "JPEG", 90000, 0, true },
    [28] = { "nv", 90000, 0, true },
    [31] = { "H261", 90000, 0, true },
    [32] = { "MPV", 90000, 0, true },
    [33] = { "MP2T", 90000, 0, true },
    [34] = { "H263", 90000, 0, true },
};

const struct rtp_static_pt *rtp_static_pt(uint8_t pt)
{
    if (pt >= sizeof static_pts / sizeof static_pts[0] || !static_pts[pt].name)
        return NULL;
    return &static_pts[pt];
}

uint32_t rtp_static_clock(uint8_t pt)
{
    const struct rtp_static_pt *s = rtp_static_pt(pt);
    return s ? s->clock : 0;
}

const char *rtp_static_name(uint8_t pt)
{
    const struct rtp_static_pt *s = rtp_static_pt(pt);
    return s ? s->name : NULL;
}

enum rtp_result rtp_event_parse(struct bv payload, struct rtp_event *out)
{
    memset(out, 0, sizeof *out);
    uint8_t ev, flags;
    if (!bv_u8(&payload, &ev) || !bv_u8(&payload, &flags) ||
        !bv_be16(&payload, &out->duration))
        return RTP_TRUNCATED;
    out->event = ev;
    out->end = (flags & 0x80) != 0;
    out->volume = flags & 0x3f;
    return RTP_OK;
}

/* ---- RTCP ---- */

/* Take the next RTCP packet off *b into *whole, checking its header; *pad is
 * the padding length (0 without P). */
static enum rtp_result rtcp_next(struct bv *b, struct bv *whole, uint8_t *pad)
{
    uint8_t o1, pt;
    uint16_t words;
    if (!bv_peek_u8(*b, 0, &o1) || !bv_peek_u8(*b, 1, &pt) ||
        !bv_peek_be16(*b, 2, &words))
        return RTP_TRUNCATED;
    if ((o1 >> 6) != 2)
        return RTP_MALFORMED;
    /* RTCP types live in 192-223 (RFC 5761 4). */
    if (pt < 192 || pt > 223)
        return RTP_MALFORMED;
    if (!bv_take(b, ((size_t)words + 1) * 4, whole))
        return RTP_TRUNCATED;
    *pad = 0;
    if (o1 & 0x20) {
        /* A.2 wants P on the last packet only; senders differ, so only the
         * count itself is checked. */
        if (!bv_peek_u8(*whole, whole->len - 1, pad) || *pad == 0 ||
            *pad > whole->len - 4)
            return RTP_MALFORMED;
    }
    return RTP_OK;
}

/* RTP_OK when the packet headers tile c exactly. */
static enum rtp_result rtcp_walk(struct bv c)
{
    if (c.len == 0)
        return RTP_TRUNCATED;
    while (c.len) {
        struct bv whole;
        uint8_t pad;
        enum rtp_result r = rtcp_next(&c, &whole, &pad);
        if (r != RTP_OK)
            return r;
    }
    return RTP_OK;
}

/* SRTCP authentication tag lengths tried, most common first (RFC 4568
 * AES_CM_128_HMAC_SHA1_80, then _32). */
static const size_t srtcp_tags[] = { 10, 4 };

struct rtcp_frame {
    size_t clen;        /* compound bytes */
    uint8_t trailing;   /* 1-3 ignored bytes after it */
    bool srtcp, encrypted;
    uint32_t index;
    struct bv tag;
};

/* The clear first header of an encrypted compound: SR or RR that fits. */
static bool rtcp_clear_head_ok(struct bv c)
{
    uint8_t o1, pt;
    uint16_t words;
    if (c.len < 8 || c.len % 4 || !bv_peek_u8(c, 0, &o1) || !bv_peek_u8(c, 1, &pt) ||
        !bv_peek_be16(c, 2, &words))
        return false;
    return (o1 >> 6) == 2 && (pt == RTCP_SR || pt == RTCP_RR) &&
           ((size_t)words + 1) * 4 <= c.len;
}

/* Decide how the datagram splits into compound and SRTCP trailer. */
static enum rtp_result rtcp_frame(struct bv pkt, struct rtcp_frame *f)
{
    memset(f, 0, sizeof *f);
    uint8_t o1;
    if (!bv_peek_u8(pkt, 0, &o1))
        return RTP_TRUNCATED;
    if ((o1 >> 6) != 2)
        return RTP_UNSUPPORTED;
    enum rtp_result r = rtcp_walk(pkt);
    if (r == RTP_OK) {
        f->clen = pkt.len;
        return RTP_OK;
    }
    /* Pass 1: compound in the clear followed by index + tag (E=0, or a
     * single-packet compound whose only header is the clear one). Pass 2:
     * encrypted compound, only the first header is readable. */
    for (int pass = 1; pass <= 2; pass++) {
        for (size_t i = 0; i < sizeof srtcp_tags / sizeof srtcp_tags[0]; i++) {
            size_t t = 4 + srtcp_tags[i];
            uint32_t idx;
            if (pkt.len < t + 8 || !bv_peek_be32(pkt, pkt.len - t, &idx))
                continue;
            struct bv c = bv_head(pkt, pkt.len - t);
            bool e = (idx & 0x80000000u) != 0;
            if (pass == 1 && rtcp_walk(c) != RTP_OK)
                continue;
            if (pass == 2 && (!e || !rtcp_clear_head_ok(c)))
                continue;
            if (e && !rtcp_clear_head_ok(c))
                continue;
            f->clen = c.len;
            f->srtcp = true;
            f->encrypted = e;
            f->index = idx & 0x7fffffffu;
            f->tag = bv_from(pkt, pkt.len - srtcp_tags[i]);
            return RTP_OK;
        }
    }
    /* Some stacks append 1-3 bytes after the last packet; Wireshark stops
     * when fewer than 4 bytes remain, and so do we. */
    size_t rem = pkt.len % 4;
    if (rem && pkt.len > rem && rtcp_walk(bv_head(pkt, pkt.len - rem)) == RTP_OK) {
        f->clen = pkt.len - rem;
        f->trailing = (uint8_t)rem;
        return RTP_OK;
    }
    return r;
}

/* One 24-byte report block (RFC 3550 6.4.1); false when b is shorter. */
static bool rtcp_report_block(struct bv *b, struct rtcp_report_block *rb)
{
    struct bv_rd r = bv_rd_make(*b);
    rb->ssrc = bv_rd_be32(&r);
    uint32_t w = bv_rd_be32(&r);
    rb->fraction_lost = (uint8_t)(w >> 24);
    rb->cum_lost = (int32_t)((w & 0xffffffu) ^ 0x800000u) - 0x800000;
    rb->ext_high_seq = bv_rd_be32(&r);
    rb->jitter = bv_rd_be32(&r);
    rb->lsr = bv_rd_be32(&r);
    rb->dlsr = bv_rd_be32(&r);
    if (r.ok)
        *b = r.b;
    return r.ok;
}

static enum rtp_result rtcp_reports(struct rtcp_pkt *p, struct bv *b)
{
    for (uint8_t i = 0; i < p->count; i++) {
        if (b->len < 24 || !rtcp_report_block(b, &p->u.report.rb[i]))
            return RTP_MALFORMED;
        p->u.report.nrb++;
    }
    /* Anything left is a profile-specific extension (6.4.1). */
    return RTP_OK;
}

static enum rtp_result rtcp_sdes(struct rtcp_pkt *p, struct bv body)
{
    struct bv b = body;
    for (uint8_t i = 0; i < p->count; i++) {
        struct rtcp_sdes_chunk *ch = &p->u.sdes.chunk[i];
        if (!bv_be32(&b, &ch->ssrc))
            return RTP_MALFORMED;
        p->u.sdes.nchunks++;
        for (;;) {
            uint8_t type, len;
            struct bv text;
            if (!bv_u8(&b, &type))
                return RTP_MALFORMED;
            if (type == 0)
                break;
            if (!bv_u8(&b, &len) || !bv_take(&b, len, &text))
                return RTP_MALFORMED;
            if (type == 1 && ch->cname.len == 0)
                ch->cname = text;
        }
        /* Null octets up to the next 32-bit boundary (6.5); the body starts
         * aligned. */
        size_t off = bv_offset_of(body, b);
        size_t pad = (4 - off % 4) % 4;
        if (!bv_skip(&b, pad))
            return RTP_MALFORMED;
    }
    if (p->u.sdes.nchunks)
        p->ssrc = p->u.sdes.chunk[0].ssrc;
    return RTP_OK;
}

/* VoIP metrics block body (RFC 3611 4.7); the caller checked its 32 bytes. */
static void rtcp_xr_voip(struct bv b, struct rtcp_xr_voip *v)
{
    struct bv_rd r = bv_rd_make(b);
    v->ssrc = bv_rd_be32(&r);
    v->loss_rate = bv_rd_u8(&r);
    v->discard_rate = bv_rd_u8(&r);
    v->burst_density = bv_rd_u8(&r);
    v->gap_density = bv_rd_u8(&r);
    v->burst_duration = bv_rd_be16(&r);
    v->gap_duration = bv_rd_be16(&r);
    v->round_trip_delay = bv_rd_be16(&r);
    v->end_system_delay = bv_rd_be16(&r);
    v->signal_level = bv_rd_s8(&r);
    v->noise_level = bv_rd_s8(&r);
    v->rerl = bv_rd_u8(&r);
    v->gmin = bv_rd_u8(&r);
    v->r_factor = bv_rd_u8(&r);
    v->ext_r_factor = bv_rd_u8(&r);
    v->mos_lq = bv_rd_u8(&r);
    v->mos_cq = bv_rd_u8(&r);
    v->rx_config = bv_rd_u8(&r);
    bv_rd_skip(&r, 1); /* reserved */
    v->jb_nominal = bv_rd_be16(&r);
    v->jb_max = bv_rd_be16(&r);
    v->jb_abs_max = bv_rd_be16(&r);
}

static enum rtp_result rtcp_xr(struct rtcp_pkt *p, struct bv b)
{
    while (b.len) {
        uint8_t bt, spec;
        uint16_t words;
        struct bv blk;
        if (!bv_u8(&b, &bt) || !bv_u8(&b, &spec) || !bv_be16(&b, &words) ||
            !bv_take(&b, (size_t)words * 4, &blk))
            return RTP_MALFORMED;
        if (p->u.xr.nblocks < UINT16_MAX)
            p->u.xr.nblocks++;
        if (bt == 7) {
            if (words != 8)
                return RTP_MALFORMED;
            if (!p->u.xr.has_voip) {
                rtcp_xr_voip(blk, &p->u.xr.voip);
                p->u.xr.has_voip = true;
            }
        }
    }
    return RTP_OK;
}

/* Decode the body of one packet whose header rtcp_next accepted. */
static enum rtp_result rtcp_body(struct rtcp_pkt *p)
{
    struct bv b = p->body;
    switch (p->pt) {
    case RTCP_SR:
        if (!bv_be32(&b, &p->ssrc) || b.len < 20)
            return RTP_MALFORMED;
        {
            /* sender info (6.4.1): NTP time, RTP time, packet and octet counts */
            struct bv_rd r = bv_rd_make(b);
            uint64_t msw = bv_rd_be32(&r);
            p->u.report.si.ntp = msw << 32 | bv_rd_be32(&r);
            p->u.report.si.rtp_ts = bv_rd_be32(&r);
            p->u.report.si.pkt_count = bv_rd_be32(&r);
            p->u.report.si.octet_count = bv_rd_be32(&r);
            b = r.b;
        }
        return rtcp_reports(p, &b);
    case RTCP_RR:
        if (!bv_be32(&b, &p->ssrc))
            return RTP_MALFORMED;
        return rtcp_reports(p, &b);
    case RTCP_SDES:
        return rtcp_sdes(p, b);
    case RTCP_BYE:
        for (uint8_t i = 0; i < p->count; i++) {
            if (!bv_be32(&b, &p->u.bye.ssrc[i]))
                return RTP_MALFORMED;
            p->u.bye.nssrc++;
        }
        if (p->u.bye.nssrc)
            p->ssrc = p->u.bye.ssrc[0];
        if (b.len) {
            uint8_t len;
            (void)bv_u8(&b, &len);
            if (!bv_take(&b, len, &p->u.bye.reason))
                return RTP_MALFORMED;
        }
        return RTP_OK;
    case RTCP_APP:
        if (!bv_be32(&b, &p->ssrc) || !bv_take(&b, 4, &p->u.app.name))
            return RTP_MALFORMED;
        p->u.app.data = b;
        return RTP_OK;
    case RTCP_RTPFB:
    case RTCP_PSFB:
        if (!bv_be32(&b, &p->ssrc) || !bv_be32(&b, &p->u.fb.media_ssrc))
            return RTP_MALFORMED;
        return RTP_OK;
    case RTCP_XR:
        if (!bv_be32(&b, &p->ssrc))
            return RTP_MALFORMED;
        return rtcp_xr(p, b);
    default:
        /* Unknown type in the RTCP range: kept as a body view. */
        (void)bv_be32(&b, &p->ssrc);
        return RTP_OK;
    }
}

static void rtcp_hdr_fields(struct rtcp_pkt *p, struct bv whole, uint8_t pad)
{
    uint8_t o1 = 0;
    (void)bv_peek_u8(whole, 0, &o1);
    (void)bv_peek_u8(whole, 1, &p->pt);
    p->count = o1 & 0x1f;
    p->padding = (o1 & 0x20) != 0;
    p->len = (uint16_t)(whole.len > UINT16_MAX ? UINT16_MAX : whole.len);
    (void)bv_sub(whole, 4, whole.len - 4 - pad, &p->body);
}

/* Parse the packets of c until the end or the first error. */
static enum rtp_result rtcp_parse_pkts(struct bv c, struct rtcp_compound *out)
{
    enum rtp_result res = RTP_OK;
    while (c.len) {
        struct bv whole;
        uint8_t pad;
        enum rtp_result r = rtcp_next(&c, &whole, &pad);
        if (r != RTP_OK)
            return r;
        if (out->total_pkts < UINT16_MAX)
            out->total_pkts++;
        if (out->npkts >= TS_RTCP_MAX_PACKETS) {
            out->too_many = true;
            continue;
        }
        struct rtcp_pkt *p = &out->pkts[out->npkts++];
        memset(p, 0, sizeof *p);
        rtcp_hdr_fields(p, whole, pad);
        r = rtcp_body(p);
        if (r != RTP_OK && res == RTP_OK)
            res = r;
    }
    return res;
}

enum rtp_result rtcp_parse(struct bv pkt, struct rtcp_compound *out)
{
    out->npkts = 0;
    out->total_pkts = 0;
    out->too_many = false;
    out->srtcp = false;
    out->encrypted = false;
    out->srtcp_index = 0;
    out->auth_tag = BV_NULL;
    out->trailing = 0;

    struct rtcp_frame f;
    enum rtp_result r = rtcp_frame(pkt, &f);
    if (r != RTP_OK) {
        if (r != RTP_UNSUPPORTED)
            (void)rtcp_parse_pkts(pkt, out); /* keep what parses */
        return r;
    }
    out->srtcp = f.srtcp;
    out->encrypted = f.encrypted;
    out->srtcp_index = f.index;
    out->auth_tag = f.tag;
    out->trailing = f.trailing;
    struct bv c = bv_head(pkt, f.clen);
    if (!f.encrypted)
        return rtcp_parse_pkts(c, out);

    /* RFC 3711 3.4: the first 8 octets stay clear, the rest is ciphertext. */
    struct rtcp_pkt *p = &out->pkts[0];
    struct bv whole;
    uint16_t words = 0;
    memset(p, 0, sizeof *p);
    (void)bv_peek_be16(c, 2, &words);
    (void)bv_sub(c, 0, ((size_t)words + 1) * 4, &whole);
    rtcp_hdr_fields(p, whole, 0);
    p->padding = false; /* the P bit covers encrypted bytes */
    (void)bv_peek_be32(c, 4, &p->ssrc);
    out->npkts = 1;
    out->total_pkts = 1;
    return RTP_OK;
}

bool rtcp_looks_like(struct bv pkt)
{
    uint8_t pt;
    if (!bv_peek_u8(pkt, 1, &pt) || pt < RTCP_SR || pt > RTCP_XR)
        return false;
    struct rtcp_frame f;
    return rtcp_frame(pkt, &f) == RTP_OK;
}
