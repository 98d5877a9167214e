/* libFuzzer target: the HEP decoder (HEPv2, HEPv3 with the zlib-compressed
 * payload chunk), the collector's HEP3-over-TCP framing and its per-packet
 * path (accounting, token bucket, auth key, node name). Input: [u8 mode]
 * [bytes]; mode bits 0-1 choose the inflate buffer (16 B .. 128 KB), bits 2-3
 * the TCP segment sizes, bit 4 an auth key, bit 5 also reads the bytes as the
 * fields of a message for hep_encode. Oracles: every view of a decoded packet
 * lies in the input or the inflate buffer, lengths add up, every packet gets
 * one verdict, and encoding then decoding (either way round) keeps the
 * fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/limits.h"
#include "../../dissect/hep.h"
#include "../../net/hep_listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t zbuf[TS_SIP_MAX_MSG];
static uint8_t enc[HEP_MAX_PACKET];
static uint8_t zbuf2[TS_SIP_MAX_MSG];
static uint8_t tcpbuf[HEP_MAX_PACKET];

static bool inside(struct bv v, const uint8_t *base, size_t len)
{
    if (!v.len)
        return true;
    uintptr_t p = (uintptr_t)v.p, b = (uintptr_t)base;
    return p >= b && p - b <= len && v.len <= len - (p - b);
}

static bool bv_same(struct bv a, struct bv b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Views in the input (or the inflate buffer for the payload), and the
 * values the decoder promises. */
static void check_decoded(const struct hep_msg *m, struct bv in, const uint8_t *zb, size_t zcap)
{
    if (m->len > in.len || m->len == 0)
        abort();
    if (!m->payload.len)
        abort(); /* HEP_OK carries a payload */
    if (m->compressed ? !inside(m->payload, zb, zcap) : !inside(m->payload, in.p, m->len))
        abort();
    if (!inside(m->auth_key, in.p, m->len) || !inside(m->correlation_id, in.p, m->len) ||
        !inside(m->node_name, in.p, m->len))
        abort();
    if (m->version != 1 && m->version != 2 && m->version != 3)
        abort();
    if (m->version < 3 && (m->family != 4 && m->family != 6))
        abort();
    /* an IPv4 address is its first 4 bytes and zeros: ts_addr_eq and the
     * hash tables compare all 16 */
    static const uint8_t zero[12];
    if ((m->src.family == 4 && memcmp(m->src.a + 4, zero, 12) != 0) ||
        (m->dst.family == 4 && memcmp(m->dst.a + 4, zero, 12) != 0)) {
        fprintf(stderr, "hep: IPv4 address with bytes beyond its 4\n");
        abort();
    }
}

/* A decoded HEPv3 packet, encoded again, decodes to the same fields. */
static void check_roundtrip(const struct hep_msg *m)
{
    if (m->version != 3 || m->src.family != m->dst.family ||
        (m->src.family != 4 && m->src.family != 6))
        return;
    size_t n = hep_encode(m, enc, sizeof enc);
    if (!n)
        return; /* too big once the chunks the decoder skipped are written out */
    struct hep_msg r;
    if (hep_parse(bv_make(enc, n), &r, zbuf2, sizeof zbuf2) != HEP_OK || r.len != n) {
        fprintf(stderr, "hep: re-encoded packet does not decode\n");
        abort();
    }
    bool same = r.ip_proto == m->ip_proto && r.sport == m->sport && r.dport == m->dport &&
                r.proto_type == m->proto_type && r.node_id == m->node_id &&
                r.vlan == m->vlan && ts_addr_eq(&r.src, &m->src) &&
                ts_addr_eq(&r.dst, &m->dst) && bv_same(r.payload, m->payload) &&
                bv_same(r.auth_key, m->auth_key) && bv_same(r.node_name, m->node_name) &&
                bv_same(r.correlation_id, m->correlation_id) && !r.compressed &&
                r.family == m->src.family;
    /* the encoder writes seconds and microseconds: sub-microsecond parts go;
     * a microseconds chunk of a million or more (the decoder adds it as it
     * is) can carry the time past what 32-bit seconds hold */
    if (m->ts_ns / 1000000000ull <= UINT32_MAX)
        same = same && r.ts_ns == m->ts_ns - m->ts_ns % 1000ull;
    else
        same = same && r.ts_ns == 0; /* beyond 2106: sent as no time */
    if (!same) {
        fprintf(stderr, "hep: re-encoded packet decodes differently\n");
        abort();
    }
}

/* The bytes as the fields of a message: hep_encode's output must decode to
 * the same fields (or the encoder must refuse: too big, mixed families). */
static void check_encode(struct bv in)
{
    struct hep_msg m;
    memset(&m, 0, sizeof m);
    uint8_t fam, dfam, klen, clen, nlen, small;
    uint32_t sec, usec;
    if (!bv_u8(&in, &fam) || !bv_u8(&in, &dfam) || !bv_u8(&in, &m.ip_proto) ||
        !bv_copy(&in, m.src.a, 16) || !bv_copy(&in, m.dst.a, 16) || !bv_be16(&in, &m.sport) ||
        !bv_be16(&in, &m.dport) || !bv_be32(&in, &sec) || !bv_be32(&in, &usec) ||
        !bv_u8(&in, &m.proto_type) || !bv_be32(&in, &m.node_id) || !bv_be16(&in, &m.vlan) ||
        !bv_u8(&in, &klen) || !bv_u8(&in, &clen) || !bv_u8(&in, &nlen) || !bv_u8(&in, &small) ||
        !bv_take(&in, klen, &m.auth_key) || !bv_take(&in, clen, &m.correlation_id) ||
        !bv_take(&in, nlen, &m.node_name))
        return;
    m.src.family = fam & 1 ? 6 : 4;
    m.dst.family = dfam & 1 ? 6 : 4;
    if (m.src.family == 4)
        memset(m.src.a + 4, 0, 12); /* as decoded addresses are */
    if (m.dst.family == 4)
        memset(m.dst.a + 4, 0, 12);
    m.ts_ns = (uint64_t)sec * 1000000000ull + (uint64_t)(usec % 1000000u) * 1000ull;
    m.payload = in;
    size_t cap = small & 1 ? small : sizeof enc; /* odd: a small buffer */
    size_t n = hep_encode(&m, enc, cap);
    if (m.src.family != m.dst.family) {
        if (n)
            abort(); /* mixed families are refused */
        return;
    }
    if (!n || !m.payload.len)
        return; /* refused (too big), or no payload: the decoder calls that malformed */
    if (n > cap)
        abort();
    struct hep_msg r;
    if (hep_parse(bv_make(enc, n), &r, NULL, 0) != HEP_OK || r.len != n ||
        r.ts_ns != m.ts_ns || r.ip_proto != m.ip_proto || r.sport != m.sport ||
        r.dport != m.dport || r.proto_type != m.proto_type || r.node_id != m.node_id ||
        r.vlan != m.vlan || !ts_addr_eq(&r.src, &m.src) || !ts_addr_eq(&r.dst, &m.dst) ||
        !bv_same(r.payload, m.payload) || !bv_same(r.auth_key, m.auth_key) ||
        !bv_same(r.correlation_id, m.correlation_id) || !bv_same(r.node_name, m.node_name)) {
        fprintf(stderr, "hep: encoded message decodes differently\n");
        abort();
    }
}

static void on_hep(void *ctx, const struct hep_msg *h, const struct hep_sender *from,
                   uint64_t recv_ns)
{
    (void)recv_ns;
    size_t *n = ctx;
    (*n)++;
    if (!h->payload.len || strlen(from->node_name) >= TS_SITE_LEN)
        abort();
}

/* xorshift32: segment sizes from the input, so a crash replays exactly. */
static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bv in = bv_make(data, size);
    uint8_t mode;
    if (!bv_u8(&in, &mode))
        return 0;
    static const size_t zcaps[4] = { sizeof zbuf, 16, 1024, 4096 };
    size_t zcap = zcaps[mode & 3];

    (void)hep_looks_like(in);
    struct hep_msg m;
    enum hep_result r = hep_parse(in, &m, zbuf, zcap);
    if (r == HEP_OK) {
        check_decoded(&m, in, zbuf, zcap);
        check_roundtrip(&m);
    }
    (void)hep_parse(in, &m, NULL, 0); /* no inflate buffer: compressed is unsupported */
    if (mode & 32)
        check_encode(in);

    /* The collector: a fresh one per input (replays stay deterministic),
     * with two senders' slots so that eviction happens, and a small bucket. */
    struct hep_listen_opts o;
    memset(&o, 0, sizeof o);
    if (mode & 16)
        o.auth_key = BV_LIT("fuzz-key");
    o.rate = 100;
    o.burst = 4;
    o.max_senders = 2;
    char err[128];
    size_t accepted = 0;
    struct hep_listen *l = hep_listen_new(&o, on_hep, &accepted, err, sizeof err);
    if (!l)
        return 0;
    struct ts_addr from;
    memset(&from, 0, sizeof from);
    from.family = 4;
    from.a[0] = 192;
    uint64_t now = 1700000000ull * 1000000000ull;
    /* as one UDP datagram */
    size_t acc_udp = hep_listen_input(l, &from, in, now, now);

    /* as a TCP stream cut into segments, framed like the collector does:
     * append, take every complete packet, keep the rest */
    static const uint32_t ranges[4] = { 65535, 7, 100, 1500 };
    uint32_t range = ranges[(mode >> 2) & 3];
    uint32_t x = (uint32_t)size * 2654435761u | 1;
    size_t len = 0, off = 0, framed = 0;
    bool broken = false;
    while (off < in.len && !broken) {
        size_t n = 1 + next(&x) % range;
        if (n > in.len - off)
            n = in.len - off;
        if (n > sizeof tcpbuf - len)
            n = sizeof tcpbuf - len;
        struct bv seg = BV_NULL;
        if (!bv_sub(in, off, n, &seg) || !bv_copy(&seg, tcpbuf + len, n))
            abort();
        len += n;
        off += n;
        from.a[3] = (uint8_t)(off % 3); /* three senders for two slots */
        now += 1000000ull * (n & 63);
        size_t pos = 0;
        for (;;) {
            struct bv rest = bv_make(tcpbuf + pos, len - pos);
            long k = hep_listen_frame(rest);
            if (k < 0) {
                broken = true; /* out of step: the collector closes the connection */
                break;
            }
            if (k == 0)
                break;
            if ((size_t)k > rest.len || k < 6)
                abort();
            hep_listen_input(l, &from, bv_head(rest, (size_t)k), now, now);
            framed++;
            pos += (size_t)k;
        }
        memmove(tcpbuf, tcpbuf + pos, len - pos);
        len -= pos;
        if (len == sizeof tcpbuf && hep_listen_frame(bv_make(tcpbuf, len)) == 0)
            abort(); /* a full buffer always holds a whole packet */
    }

    struct hep_listen_stats st;
    hep_listen_stats(l, &st);
    if (st.total.accepted != accepted || accepted < acc_udp || st.total.packets != 1 + framed ||
        hep_listen_sender_count(l) > 2)
        abort();
    if (st.total.accepted + st.total.truncated + st.total.malformed + st.total.unsupported +
            st.total.unauthenticated + st.total.rate_limited + st.total.unauth_limited !=
        st.total.packets)
        abort(); /* every packet gets exactly one verdict */
    hep_listen_free(l);
    return 0;
}
