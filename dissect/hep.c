/* HEPv2 (Kamailio/OpenSIPS hep_hdr + hep_timehdr) and HEPv3 (chunked, per
 * the HEP3 network protocol specification) decoding. */
#include "hep.h"

#include <string.h>
#include <zlib.h>

bool hep_looks_like(struct bv b)
{
    if (bv_starts_with(b, "HEP3"))
        return true;
    uint8_t v, l, fam;
    if (!bv_peek_u8(b, 0, &v) || !bv_peek_u8(b, 1, &l) || !bv_peek_u8(b, 2, &fam))
        return false;
    return (v == 1 || v == 2) && (fam == 2 || fam == 10) && (l == 16 || l == 28 || l == 40 || l == 52);
}

static bool inflate_into(struct bv in, uint8_t *buf, size_t cap, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* zlib or gzip header */
        return false;
    /* zlib does not write through next_in; the cast only drops const */
    z.next_in = (Bytef *)(uintptr_t)in.p;
    z.avail_in = (uInt)in.len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int r = inflate(&z, Z_FINISH);
    *outlen = cap - z.avail_out;
    inflateEnd(&z);
    return r == Z_STREAM_END;
}

static enum hep_result parse_v3(struct bv b, struct hep_msg *m)
{
    uint16_t total;
    if (!bv_skip(&b, 4) || !bv_be16(&b, &total))
        return HEP_TRUNCATED;
    if (total < 6)
        return HEP_MALFORMED;
    if (b.len < (size_t)total - 6)
        return HEP_TRUNCATED;
    b.len = (size_t)total - 6;
    m->len = total;
    m->version = 3;
    uint32_t sec = 0, usec = 0;
    bool have_ts = false;
    while (b.len) {
        uint16_t vendor, type, clen;
        if (!bv_be16(&b, &vendor) || !bv_be16(&b, &type) || !bv_be16(&b, &clen))
            return HEP_TRUNCATED;
        struct bv c;
        if (clen < 6)
            return HEP_MALFORMED;
        if (!bv_take(&b, (size_t)clen - 6, &c))
            return HEP_TRUNCATED;
        if (vendor != 0)
            continue; /* vendor chunks are skipped */
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        switch (type) {
        case 1:
            if (bv_u8(&c, &u8))
                m->family = u8 == 10 ? 6 : 4;
            break;
        case 2:
            if (bv_u8(&c, &u8))
                m->ip_proto = u8;
            break;
        case 3:
        case 4: {
            struct ts_addr *a = type == 3 ? &m->src : &m->dst;
            memset(a->a, 0, sizeof a->a); /* after an IPv6 chunk too: compared as 16 bytes */
            if (!bv_copy(&c, a->a, 4))
                return HEP_MALFORMED;
            a->family = 4;
            break;
        }
        case 5:
        case 6: {
            struct ts_addr *a = type == 5 ? &m->src : &m->dst;
            if (!bv_copy(&c, a->a, 16))
                return HEP_MALFORMED;
            a->family = 6;
            break;
        }
        case 7:
        case 8:
            if (!bv_be16(&c, &u16))
                return HEP_MALFORMED;
            *(type == 7 ? &m->sport : &m->dport) = u16;
            break;
        case 9:
        case 10:
            if (!bv_be32(&c, &u32))
                return HEP_MALFORMED;
            *(type == 9 ? &sec : &usec) = u32;
            have_ts = true;
            break;
        case 11:
            if (bv_u8(&c, &u8))
                m->proto_type = u8;
            break;
        case 12:
            if (bv_be32(&c, &u32))
                m->node_id = u32;
            break;
        case 14:
            m->auth_key = c;
            break;
        case 15:
            m->payload = c;
            break;
        case 16:
            m->zpayload = c;
            break;
        case 17:
            m->correlation_id = c;
            break;
        case 18:
            if (bv_be16(&c, &u16))
                m->vlan = u16;
            break;
        case 19:
            m->node_name = c;
            break;
        default:
            break;
        }
    }
    if (have_ts)
        m->ts_ns = (uint64_t)sec * 1000000000ull + (uint64_t)usec * 1000ull;
    if (m->payload.len)
        m->zpayload = BV_NULL; /* the plain payload wins */
    return m->payload.len || m->zpayload.len ? HEP_OK : HEP_MALFORMED;
}

static enum hep_result parse_v2(struct bv b, struct hep_msg *m)
{
    uint8_t v, hl, fam, proto;
    uint16_t sp, dp;
    struct bv start = b;
    if (!bv_u8(&b, &v) || !bv_u8(&b, &hl) || !bv_u8(&b, &fam) || !bv_u8(&b, &proto) ||
        !bv_be16(&b, &sp) || !bv_be16(&b, &dp))
        return HEP_TRUNCATED;
    m->version = v;
    m->ip_proto = proto;
    m->sport = sp;
    m->dport = dp;
    size_t alen = fam == 2 ? 4 : fam == 10 ? 16 : 0;
    if (!alen)
        return HEP_MALFORMED;
    m->family = m->src.family = m->dst.family = alen == 4 ? 4 : 6;
    if (!bv_copy(&b, m->src.a, alen) || !bv_copy(&b, m->dst.a, alen))
        return HEP_TRUNCATED;
    if (v == 2) {
        uint32_t sec, usec;
        uint16_t capt;
        /* hep_timehdr is written in the sender's byte order: little-endian in practice */
        if (!bv_le32(&b, &sec) || !bv_le32(&b, &usec) || !bv_le16(&b, &capt))
            return HEP_TRUNCATED;
        m->ts_ns = (uint64_t)sec * 1000000000ull + (uint64_t)usec * 1000ull;
        m->node_id = capt;
        uint16_t pad;
        if (!bv_le16(&b, &pad))
            return HEP_TRUNCATED;
    }
    size_t hdr = start.len - b.len;
    if (hdr != hl)
        return HEP_MALFORMED;
    m->proto_type = HEP_PROTO_SIP;
    m->payload = b;
    m->len = start.len;
    return b.len ? HEP_OK : HEP_MALFORMED;
}

enum hep_result hep_parse_head(struct bv b, struct hep_msg *out)
{
    memset(out, 0, sizeof *out);
    if (bv_starts_with(b, "HEP3"))
        return parse_v3(b, out);
    if (hep_looks_like(b))
        return parse_v2(b, out);
    return HEP_UNSUPPORTED;
}

enum hep_result hep_inflate(struct hep_msg *m, uint8_t *buf, size_t cap)
{
    if (m->payload.len || !m->zpayload.len)
        return m->payload.len ? HEP_OK : HEP_MALFORMED;
    size_t n;
    if (!buf || !inflate_into(m->zpayload, buf, cap, &n))
        return HEP_UNSUPPORTED;
    m->payload = bv_make(buf, n);
    m->zpayload = BV_NULL;
    m->compressed = true;
    return n ? HEP_OK : HEP_MALFORMED;
}

enum hep_result hep_parse(struct bv b, struct hep_msg *out, uint8_t *buf, size_t cap)
{
    enum hep_result r = hep_parse_head(b, out);
    return r == HEP_OK ? hep_inflate(out, buf, cap) : r;
}
