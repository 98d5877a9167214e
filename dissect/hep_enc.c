/* HEPv3 encoding (HEP3 network protocol specification: header "HEP3" + total
 * length, then vendor/type/length chunks). Pure: writes the caller's buffer. */
#include "hep.h"

#include <string.h>

/* Bounded writer over the output buffer: every put checks the room left,
 * and an overflow sticks so that one check at the end suffices. */
struct wr {
    uint8_t *p;
    size_t cap, len;
    bool over;
};

static void put(struct wr *w, const void *src, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = true;
        return;
    }
    if (n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_be16(struct wr *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(w, b, 2);
}

/* One vendor-0 chunk: 6 bytes of header + n bytes of value. */
static void chunk(struct wr *w, uint16_t type, const void *v, size_t n)
{
    if (n > HEP_MAX_PACKET - 6) {
        w->over = true;
        return;
    }
    put_be16(w, 0);
    put_be16(w, type);
    put_be16(w, (uint16_t)(n + 6));
    put(w, v, n);
}

static void chunk_u8(struct wr *w, uint16_t type, uint8_t v) { chunk(w, type, &v, 1); }

static void chunk_be16(struct wr *w, uint16_t type, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    chunk(w, type, b, 2);
}

static void chunk_be32(struct wr *w, uint16_t type, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    chunk(w, type, b, 4);
}

static void chunk_bv(struct wr *w, uint16_t type, struct bv v)
{
    if (v.len)
        chunk(w, type, v.p, v.len);
}

size_t hep_encode(const struct hep_msg *m, uint8_t *out, size_t cap)
{
    if (!m || !out)
        return 0;
    uint8_t fam = m->src.family;
    if ((fam != 4 && fam != 6) || m->dst.family != fam)
        return 0;
    struct wr w = { out, cap < HEP_MAX_PACKET ? cap : HEP_MAX_PACKET, 0, false };
    put(&w, "HEP3", 4);
    put_be16(&w, 0); /* total length, patched below */
    chunk_u8(&w, HEP_CH_FAMILY, fam == 6 ? 10 : 2);
    chunk_u8(&w, HEP_CH_PROTO, m->ip_proto);
    chunk(&w, fam == 6 ? HEP_CH_SRC6 : HEP_CH_SRC4, m->src.a, fam == 6 ? 16 : 4);
    chunk(&w, fam == 6 ? HEP_CH_DST6 : HEP_CH_DST4, m->dst.a, fam == 6 ? 16 : 4);
    chunk_be16(&w, HEP_CH_SPORT, m->sport);
    chunk_be16(&w, HEP_CH_DPORT, m->dport);
    /* HEP's seconds are 32 bits (to 2106): a later time goes as none, so
     * that the receiver's clock stands in, rather than wrapped to 1970 */
    if (m->ts_ns / 1000000000ull <= UINT32_MAX) {
        chunk_be32(&w, HEP_CH_TS_SEC, (uint32_t)(m->ts_ns / 1000000000ull));
        chunk_be32(&w, HEP_CH_TS_USEC, (uint32_t)(m->ts_ns % 1000000000ull / 1000ull));
    }
    chunk_u8(&w, HEP_CH_PROTO_TYPE, m->proto_type);
    chunk_be32(&w, HEP_CH_NODE_ID, m->node_id);
    chunk_bv(&w, HEP_CH_AUTH_KEY, m->auth_key);
    chunk_bv(&w, HEP_CH_CORRELATION, m->correlation_id);
    chunk_bv(&w, HEP_CH_NODE_NAME, m->node_name);
    if (m->vlan)
        chunk_be16(&w, HEP_CH_VLAN, m->vlan);
    chunk(&w, HEP_CH_PAYLOAD, m->payload.p, m->payload.len);
    if (w.over)
        return 0;
    out[4] = (uint8_t)(w.len >> 8);
    out[5] = (uint8_t)w.len;
    return w.len;
}
