/* Frame decoder. Link layers: Ethernet with 802.1Q/802.1ad, Linux cooked
 * v1/v2, raw IP, BSD loopback, PPPoE session (RFC 2516 section 4). Tunnels:
 * GRE (RFC 2784, RFC 2890), ERSPAN II/III, IP-in-IP (RFC 2003, RFC 2473),
 * IPv6-in-IPv4 (RFC 4213 section 3.5), VXLAN (RFC 7348 section 5), GTP-U
 * G-PDUs (3GPP TS 29.281 section 5) to their inner IP packet. ICMP and
 * ICMPv6 destination unreachable quoting a UDP datagram (RFC 792, RFC 4443
 * section 3.1; RFC 1812 4.3.2.3 on how much is quoted). IPv4
 * (RFC 791 section 3.1), IPv6 (RFC 8200 sections 3-4), UDP (RFC 768), TCP
 * (RFC 9293 section 3.1), SCTP DATA chunks (RFC 9260 sections 3, 3.3.1). */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "../common/limits.h"
#include "dedup.h"
#include "ipfrag.h"

/* Distinct link types reported per run: a capture set rarely has more than 3. */
#define DECODE_MAX_LINKTYPES 16

enum {
    ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_VLAN = 0x8100,
    ETH_QINQ = 0x88a8, ETH_QINQ_OLD = 0x9100, ETH_PPPOE_SESS = 0x8864,
    GRE_TEB = 0x6558, GRE_ERSPAN2 = 0x88be, GRE_ERSPAN3 = 0x22eb,
    PPP_IPV4 = 0x0021, PPP_IPV6 = 0x0057,
    IPP_IPIP = 4, IPP_IPV6 = 41, IPP_GRE = 47, IPP_ESP = 50, IPP_AH = 51,
    IPP_ICMP = 1, IPP_ICMP6 = 58,
    IP6_HOP = 0, IP6_ROUTING = 43, IP6_FRAG = 44, IP6_DSTOPTS = 60,
    VXLAN_PORT = 4789, GTPU_PORT = 2152,
};

struct decoder {
    struct ts_stats *st;
    struct decode_cb cb;
    struct ipfrag *frag;
    struct dedup *dedup;
    bool dedup_on;
    size_t nlt;
    struct linktype_count lt[DECODE_MAX_LINKTYPES];
    /* A reassembled datagram is copied here: ipfrag's view dies at its next
     * call, which a fragmented inner packet of a tunnel would make. */
    uint8_t scratch[TS_FRAG_MAX_DGRAM_SIZE];
};

/* Per-frame state. */
struct dctx {
    struct decoder *d;
    struct ts_stats *st;
    struct pkt_meta m;
    unsigned nest;     /* VLAN tags, PPPoE and tunnels: the loop guard */
    bool vlan_seen;
    bool delivered;
    bool snapped;      /* the frame was cut by the capture's snap length */
    const uint8_t *frame;          /* the frame's first byte, for the hint */
    const struct frame_hint *hint; /* NULL: none */
};

static void dec_ether(struct dctx *c, struct bv b);
static void dec_ipv4(struct dctx *c, struct bv b);
static void dec_ipv6(struct dctx *c, struct bv b);

struct decoder *decoder_new(struct ts_stats *st, const struct decode_cb *cb)
{
    struct decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->st = st;
    if (cb)
        d->cb = *cb;
    d->frag = ipfrag_new(st);
    d->dedup = dedup_new();
    if (!d->frag || !d->dedup) {
        decoder_free(d);
        return NULL;
    }
    d->dedup_on = true;
    return d;
}

void decoder_free(struct decoder *d)
{
    if (!d)
        return;
    ipfrag_free(d->frag);
    dedup_free(d->dedup);
    free(d);
}

void decoder_set_dedup(struct decoder *d, bool on)
{
    d->dedup_on = on;
}

void decoder_expire(struct decoder *d, uint64_t now_ns)
{
    ipfrag_expire(d->frag, now_ns);
}

size_t decoder_linktypes(const struct decoder *d, struct linktype_count *out, size_t max)
{
    size_t n = d->nlt < max ? d->nlt : max;
    for (size_t i = 0; i < n; i++)
        out[i] = d->lt[i];
    return n;
}

static void count_linktype(struct decoder *d, int linktype)
{
    for (size_t i = 0; i < d->nlt; i++) {
        if (d->lt[i].linktype == linktype) {
            d->lt[i].packets++;
            return;
        }
    }
    if (d->nlt < DECODE_MAX_LINKTYPES) {
        d->lt[d->nlt].linktype = linktype;
        d->lt[d->nlt].packets = 1;
        d->nlt++;
    }
}

/* One more level of nesting, or false (counted) past TS_MAX_ENCAP_DEPTH. */
static bool nest_enter(struct dctx *c)
{
    if (c->nest >= TS_MAX_ENCAP_DEPTH) {
        TS_INC(c->st, TUN_TOO_DEEP);
        return false;
    }
    c->nest++;
    return true;
}

static void get_addr(struct bv b, size_t off, size_t n, struct ts_addr *a)
{
    struct bv v;
    memset(a, 0, sizeof *a);
    a->family = n == 4 ? 4 : 6;
    if (bv_sub(b, off, n, &v))
        bv_copy(&v, a->a, n);
}

/* Tunnels are deduplicated on their inner packet, where a mirror copy and
 * its original agree even when the outer headers differ. */
static bool carries_tunnel(uint8_t proto, struct bv pay)
{
    uint16_t dport = 0;
    if (proto == IPP_IPIP || proto == IPP_IPV6 || proto == IPP_GRE)
        return true;
    return proto == TS_L4_UDP && bv_peek_be16(pay, 2, &dport) &&
           (dport == VXLAN_PORT || dport == GTPU_PORT);
}

static bool is_dup(struct dctx *c, int ipver, struct bv hdr, struct bv pay)
{
    if (!c->d->dedup_on)
        return false;
    const struct frame_hint *h = c->hint;
    uint64_t fp;
    if (h && h->ip_tot && ipver == 4 && hdr.p == c->frame + h->ip_off && hdr.len == h->ip_hl &&
        pay.p == hdr.p + h->ip_hl && pay.len + h->ip_hl == h->ip_tot)
        fp = h->dedup_fp; /* the reader thread hashed these same bytes */
    else
        fp = dedup_fingerprint(ipver, hdr, pay);
    if (!dedup_check(c->d->dedup, fp, c->m.ts_ns))
        return false;
    TS_INC(c->st, DUPLICATES);
    return true;
}

/* Feed a fragment; true with *out = the whole datagram (in scratch) when it
 * completed one. */
static bool reassemble(struct dctx *c, const struct ipfrag_key *k, uint32_t off,
                       bool more, struct bv data, struct bv *out)
{
    struct bv whole;
    if (ipfrag_add(c->d->frag, k, c->m.ts_ns, off, more, data, &whole) != 1)
        return false;
    size_t n = whole.len;
    if (n > sizeof c->d->scratch) {
        TS_INC(c->st, FRAG_TOO_BIG);
        return false;
    }
    bv_copy(&whole, c->d->scratch, n);
    *out = bv_make(c->d->scratch, n);
    c->m.reassembled = true;
    return true;
}

/* ---- transports ---- */

static void deliver_udp(struct dctx *c, struct bv payload)
{
    c->delivered = true;
    if (c->d->cb.udp)
        c->d->cb.udp(c->d->cb.ctx, &c->m, payload);
}

static void dec_vxlan(struct dctx *c, struct bv b)
{
    uint8_t flags;
    if (!bv_peek_u8(b, 0, &flags) || b.len < 8) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if (!(flags & 0x08)) { /* I flag: the VNI is valid */
        TS_INC(c->st, TUN_MALFORMED);
        return;
    }
    if (!nest_enter(c))
        return;
    TS_INC(c->st, TUN_VXLAN);
    c->m.encap_depth++;
    dec_ether(c, bv_from(b, 8));
}

/* GTP-U (3GPP TS 29.281 5.1, 5.2): version 1, PT 1; a G-PDU (type 255)
 * carries a user IP packet after the 8-byte header, 4 more when E, S or PN
 * is set, and the extension headers the E flag chains (length in 4-byte
 * units, next type in the last byte). Other messages (echo, error
 * indication, end marker) carry no user packet. */
static void dec_gtpu(struct dctx *c, struct bv b)
{
    uint8_t fl, type, v;
    uint16_t len;
    if (!bv_peek_u8(b, 0, &fl) || !bv_peek_u8(b, 1, &type) || !bv_peek_be16(b, 2, &len) ||
        b.len < 8) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if ((fl >> 5) != 1 || !(fl & 0x10)) {
        TS_INC(c->st, TUN_MALFORMED);
        return;
    }
    if (type != 255) {
        TS_INC(c->st, TUN_UNSUPPORTED);
        return;
    }
    struct bv p;
    if (!bv_sub(b, 8, len, &p)) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if (fl & 0x07) {
        uint8_t next;
        if (!bv_peek_u8(p, 3, &next) || !bv_skip(&p, 4)) {
            TS_INC(c->st, TUN_TRUNCATED);
            return;
        }
        for (unsigned guard = 0; (fl & 0x04) && next; guard++) {
            uint8_t el;
            if (guard >= 16 || !bv_peek_u8(p, 0, &el) || el == 0) {
                TS_INC(c->st, TUN_MALFORMED);
                return;
            }
            if (!bv_peek_u8(p, (size_t)el * 4 - 1, &next) || !bv_skip(&p, (size_t)el * 4)) {
                TS_INC(c->st, TUN_TRUNCATED);
                return;
            }
        }
    }
    if (!bv_peek_u8(p, 0, &v)) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if ((v >> 4) != 4 && (v >> 4) != 6) {
        TS_INC(c->st, TUN_UNSUPPORTED);   /* non-IP PDU (Ethernet, unstructured) */
        return;
    }
    if (!nest_enter(c))
        return;
    TS_INC(c->st, TUN_GTPU);
    c->m.encap_depth++;
    if ((v >> 4) == 4)
        dec_ipv4(c, p);
    else
        dec_ipv6(c, p);
}

static void dec_udp(struct dctx *c, struct bv b)
{
    uint16_t sp, dp, ulen;
    if (!bv_be16(&b, &sp) || !bv_be16(&b, &dp) || !bv_be16(&b, &ulen) ||
        !bv_skip(&b, 2)) {
        TS_INC(c->st, UDP_TRUNCATED);
        return;
    }
    if (ulen < 8) { /* 0 is an IPv6 jumbogram (RFC 2675): not for SIP */
        TS_INC(c->st, UDP_MALFORMED);
        return;
    }
    struct bv payload;
    if (c->m.cut && b.len < (size_t)ulen - 8) {
        /* a header-only capture: what the snap length kept is handed on
         * with the size of the rest, for RTP statistics from the headers */
        if (dp == VXLAN_PORT || dp == GTPU_PORT) {
            TS_INC(c->st, UDP_TRUNCATED);
            return;
        }
        TS_INC(c->st, UDP_SNAPPED);
        c->m.cut = (uint32_t)((size_t)ulen - 8 - b.len);
        payload = b;
    } else if (!bv_sub(b, 0, (size_t)ulen - 8, &payload)) {
        /* the IP packet is whole, so the UDP length lies */
        TS_INC(c->st, UDP_MALFORMED);
        return;
    } else {
        c->m.cut = 0;
    }
    if (dp == VXLAN_PORT) {
        dec_vxlan(c, payload);
        return;
    }
    if (dp == GTPU_PORT) {
        dec_gtpu(c, payload);
        return;
    }
    TS_INC(c->st, UDP);
    c->m.l4 = TS_L4_UDP;
    c->m.sport = sp;
    c->m.dport = dp;
    deliver_udp(c, payload);
}

static void dec_tcp(struct dctx *c, struct bv b)
{
    struct tcp_seg seg;
    uint16_t sp, dp, offfl;
    if (!bv_be16(&b, &sp) || !bv_be16(&b, &dp) || !bv_peek_be32(b, 0, &seg.seq) ||
        !bv_peek_be32(b, 4, &seg.ack) || !bv_peek_be16(b, 8, &offfl) ||
        !bv_peek_be16(b, 10, &seg.window) || b.len < 16) {
        TS_INC(c->st, TCP_TRUNCATED);
        return;
    }
    size_t hl = (size_t)(offfl >> 12) * 4;
    if (hl < 20) {
        TS_INC(c->st, TCP_MALFORMED);
        return;
    }
    if (b.len < hl - 4) { /* ports already consumed */
        TS_INC(c->st, TCP_TRUNCATED);
        return;
    }
    seg.flags = (uint8_t)(offfl & 0x3f); /* ECE/CWR are not TCP_F_* */
    seg.payload = bv_from(b, hl - 4); /* options skipped */
    TS_INC(c->st, TCP);
    c->m.l4 = TS_L4_TCP;
    c->m.sport = sp;
    c->m.dport = dp;
    c->delivered = true;
    if (c->d->cb.tcp)
        c->d->cb.tcp(c->d->cb.ctx, &c->m, &seg);
}

/* Common header, then chunks padded to 4 bytes; each DATA chunk's user data
 * goes to the UDP callback (SCTP keeps message boundaries like UDP). */
static void dec_sctp(struct dctx *c, struct bv b)
{
    uint16_t sp, dp;
    if (!bv_be16(&b, &sp) || !bv_be16(&b, &dp) || !bv_skip(&b, 8)) {
        TS_INC(c->st, SCTP_TRUNCATED);
        return;
    }
    TS_INC(c->st, SCTP);
    c->m.l4 = TS_L4_SCTP;
    c->m.sport = sp;
    c->m.dport = dp;
    while (b.len > 0) {
        uint8_t type;
        uint16_t clen;
        if (!bv_peek_u8(b, 0, &type) || !bv_peek_be16(b, 2, &clen)) {
            TS_INC(c->st, SCTP_TRUNCATED);
            return;
        }
        if (clen < 4) {
            TS_INC(c->st, SCTP_MALFORMED);
            return;
        }
        if (clen > b.len) { /* the IP packet is whole: the length lies */
            TS_INC(c->st, SCTP_MALFORMED);
            return;
        }
        if (type == 0) {
            if (clen < 16) {
                TS_INC(c->st, SCTP_MALFORMED);
                return;
            }
            struct bv data;
            if (bv_sub(b, 16, (size_t)clen - 16, &data) && data.len > 0)
                deliver_udp(c, data);
        }
        size_t padded = ((size_t)clen + 3) & ~(size_t)3;
        if (padded > b.len) /* the last chunk may go without its padding */
            padded = b.len;
        bv_skip(&b, padded);
    }
}

/* ---- tunnels ---- */

static void dec_erspan2(struct dctx *c, struct bv b)
{
    uint8_t v;
    if (!bv_peek_u8(b, 0, &v) || b.len < 8) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if ((v >> 4) != 1) {
        TS_INC(c->st, TUN_MALFORMED);
        return;
    }
    TS_INC(c->st, TUN_ERSPAN2);
    dec_ether(c, bv_from(b, 8));
}

static void dec_erspan3(struct dctx *c, struct bv b)
{
    uint8_t v;
    uint16_t w;
    if (!bv_peek_u8(b, 0, &v) || !bv_peek_be16(b, 10, &w)) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if ((v >> 4) != 2) {
        TS_INC(c->st, TUN_MALFORMED);
        return;
    }
    size_t hl = (w & 1) ? 20 : 12; /* O bit: platform-specific subheader */
    if (b.len < hl) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if (((w >> 10) & 0x1f) != 0) { /* frame type other than Ethernet */
        TS_INC(c->st, TUN_UNSUPPORTED);
        return;
    }
    TS_INC(c->st, TUN_ERSPAN3);
    dec_ether(c, bv_from(b, hl));
}

static void dec_gre(struct dctx *c, struct bv b)
{
    uint16_t fl, proto;
    if (!bv_be16(&b, &fl) || !bv_be16(&b, &proto)) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    /* version 1 is PPTP; the routing bit is RFC 1701 source routing */
    if ((fl & 0x7) != 0 || (fl & 0x4000)) {
        TS_INC(c->st, TUN_UNSUPPORTED);
        return;
    }
    size_t opt = ((fl & 0x8000) ? 4u : 0u) + ((fl & 0x2000) ? 4u : 0u) +
                 ((fl & 0x1000) ? 4u : 0u);
    if (!bv_skip(&b, opt)) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if (!nest_enter(c))
        return;
    TS_INC(c->st, TUN_GRE);
    c->m.encap_depth++;
    switch (proto) {
    case ETH_IPV4:
        dec_ipv4(c, b);
        break;
    case ETH_IPV6:
        dec_ipv6(c, b);
        break;
    case GRE_TEB:
        dec_ether(c, b);
        break;
    case GRE_ERSPAN2:
        if (fl & 0x1000)
            dec_erspan2(c, b);
        else /* ERSPAN type I: no sequence number and no header */
            dec_ether(c, b);
        break;
    case GRE_ERSPAN3:
        dec_erspan3(c, b);
        break;
    default:
        TS_INC(c->st, TUN_UNSUPPORTED);
        break;
    }
}

/* Destination unreachable: the quoted IP header (no options beyond its
 * length, no extension headers for IPv6) and UDP header say which datagram
 * did not arrive; the rest of the quote goes along. */
static void dec_icmp(struct dctx *c, int ver, struct bv b)
{
    uint8_t type, code, vihl, proto;
    if (!bv_peek_u8(b, 0, &type) || !bv_peek_u8(b, 1, &code) || b.len < 8) {
        TS_INC(c->st, IP_OTHER_PROTO);
        return;
    }
    if (type != (ver == 4 ? 3 : 1)) {
        TS_INC(c->st, IP_OTHER_PROTO);   /* echo, time exceeded, ND...: not ours */
        return;
    }
    struct bv ip = bv_from(b, 8), udp;
    struct pkt_meta q = c->m;
    size_t hl;
    if (!bv_peek_u8(ip, 0, &vihl) || (vihl >> 4) != ver) {
        TS_INC(c->st, ICMP_MALFORMED);
        return;
    }
    if (ver == 4) {
        hl = (size_t)(vihl & 0x0f) * 4;
        if (hl < 20 || !bv_peek_u8(ip, 9, &proto) || ip.len < hl) {
            TS_INC(c->st, ICMP_MALFORMED);
            return;
        }
        get_addr(ip, 12, 4, &q.src);
        get_addr(ip, 16, 4, &q.dst);
    } else {
        hl = 40;
        if (!bv_peek_u8(ip, 6, &proto) || ip.len < hl) {
            TS_INC(c->st, ICMP_MALFORMED);
            return;
        }
        get_addr(ip, 8, 16, &q.src);
        get_addr(ip, 24, 16, &q.dst);
    }
    if (proto != TS_L4_UDP || !bv_sub(ip, hl, 8, &udp) || !bv_peek_be16(udp, 0, &q.sport) ||
        !bv_peek_be16(udp, 2, &q.dport)) {
        TS_INC(c->st, ICMP_UNREACH_OTHER);
        return;
    }
    q.ipver = (uint8_t)ver;
    q.l4 = TS_L4_UDP;
    TS_INC(c->st, ICMP_UNREACH);
    if (c->d->cb.unreach)
        c->d->cb.unreach(c->d->cb.ctx, &c->m, &q, code, bv_from(ip, hl + 8));
}

/* Upper layer of an IP packet (outer_ver tells 6in4 from 6in6). */
static void dec_ip_payload(struct dctx *c, int outer_ver, uint8_t proto, struct bv pay)
{
    switch (proto) {
    case TS_L4_UDP:
        dec_udp(c, pay);
        break;
    case TS_L4_TCP:
        dec_tcp(c, pay);
        break;
    case TS_L4_SCTP:
        dec_sctp(c, pay);
        break;
    case IPP_IPIP:
    case IPP_IPV6:
        if (!nest_enter(c))
            return;
        if (proto == IPP_IPV6 && outer_ver == 4)
            TS_INC(c->st, TUN_IP6IN4);
        else
            TS_INC(c->st, TUN_IPIP);
        c->m.encap_depth++;
        if (proto == IPP_IPIP)
            dec_ipv4(c, pay);
        else
            dec_ipv6(c, pay);
        break;
    case IPP_GRE:
        dec_gre(c, pay);
        break;
    case IPP_ICMP:
    case IPP_ICMP6:
        if ((proto == IPP_ICMP) == (outer_ver == 4))
            dec_icmp(c, outer_ver, pay);
        else
            TS_INC(c->st, IP_OTHER_PROTO);
        break;
    case IPP_ESP:
        if (outer_ver == 4)
            TS_INC(c->st, IPV4_UNSUPPORTED);
        else
            TS_INC(c->st, IPV6_UNSUPPORTED);
        break;
    default:
        TS_INC(c->st, IP_OTHER_PROTO);
        break;
    }
}

/* ---- IP ---- */

static void dec_ipv4(struct dctx *c, struct bv b)
{
    uint8_t vihl, proto;
    uint16_t tot, id, frag;
    if (!bv_peek_u8(b, 0, &vihl)) {
        TS_INC(c->st, IPV4_TRUNCATED);
        return;
    }
    if ((vihl >> 4) != 4) {
        TS_INC(c->st, IPV4_MALFORMED);
        return;
    }
    size_t hl = (size_t)(vihl & 0x0f) * 4;
    if (!bv_peek_be16(b, 2, &tot) || !bv_peek_be16(b, 4, &id) ||
        !bv_peek_be16(b, 6, &frag) || !bv_peek_u8(b, 9, &proto) || b.len < 20) {
        TS_INC(c->st, IPV4_TRUNCATED);
        return;
    }
    if (hl < 20 || tot < hl) {
        TS_INC(c->st, IPV4_MALFORMED);
        return;
    }
    if (b.len < tot) {
        /* cut by the snap length: an unfragmented UDP datagram whose
         * headers were kept still goes on (header-only captures) */
        if (!c->snapped || (frag & 0x3fff) || proto != TS_L4_UDP || b.len < hl + 8) {
            TS_INC(c->st, IPV4_TRUNCATED);
            return;
        }
        c->m.cut = (uint32_t)(tot - b.len);
    }
    b = bv_head(b, tot); /* Ethernet padding goes */
    TS_INC(c->st, IPV4);
    struct bv hdr, pay;
    bv_take(&b, hl, &hdr);
    pay = b;
    c->m.ipver = 4;
    get_addr(hdr, 12, 4, &c->m.src);
    get_addr(hdr, 16, 4, &c->m.dst);

    uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
    bool more = (frag & 0x2000) != 0;
    if (more || off) {
        if (is_dup(c, 4, hdr, pay))
            return;
        struct ipfrag_key k = { .ipver = 4, .proto = proto, .id = id,
                                .src = c->m.src, .dst = c->m.dst };
        struct bv whole;
        if (reassemble(c, &k, off, more, pay, &whole))
            dec_ip_payload(c, 4, proto, whole);
        return;
    }
    if (!carries_tunnel(proto, pay) && is_dup(c, 4, hdr, pay))
        return;
    dec_ip_payload(c, 4, proto, pay);
}

static void dec_ipv6(struct dctx *c, struct bv b)
{
    uint8_t v, nh;
    uint16_t plen;
    if (!bv_peek_u8(b, 0, &v)) {
        TS_INC(c->st, IPV6_TRUNCATED);
        return;
    }
    if ((v >> 4) != 6) {
        TS_INC(c->st, IPV6_MALFORMED);
        return;
    }
    if (b.len < 40) {
        TS_INC(c->st, IPV6_TRUNCATED);
        return;
    }
    bv_peek_be16(b, 4, &plen);
    bv_peek_u8(b, 6, &nh);
    if (plen == 0) { /* jumbogram (RFC 2675) or segmentation offload */
        TS_INC(c->st, IPV6_UNSUPPORTED);
        return;
    }
    struct bv hdr, pay;
    bv_take(&b, 40, &hdr);
    if (!bv_sub(b, 0, plen, &pay)) {
        /* as for IPv4: UDP right after the fixed header, its header kept */
        if (!c->snapped || nh != TS_L4_UDP || b.len < 8) {
            TS_INC(c->st, IPV6_TRUNCATED);
            return;
        }
        c->m.cut = (uint32_t)(plen - b.len);
        pay = b;
    }
    TS_INC(c->st, IPV6);
    c->m.ipver = 6;
    get_addr(hdr, 8, 16, &c->m.src);
    get_addr(hdr, 24, 16, &c->m.dst);

    struct bv rest = pay;
    bool reasm = false;
    unsigned next = 0;
    for (;;) {
        uint8_t nxt, hlen;
        uint16_t offm;
        uint32_t id;
        switch (nh) {
        case IP6_HOP:
        case IP6_ROUTING:
        case IP6_DSTOPTS:
        case IPP_AH:
        case IP6_FRAG:
            if (next >= TS_MAX_IPV6_EXT_HDRS) {
                TS_INC(c->st, IPV6_UNSUPPORTED);
                return;
            }
            next++;
            if (nh != IP6_FRAG) {
                if (!bv_peek_u8(rest, 0, &nxt) || !bv_peek_u8(rest, 1, &hlen)) {
                    TS_INC(c->st, IPV6_TRUNCATED);
                    return;
                }
                size_t l = nh == IPP_AH ? ((size_t)hlen + 2) * 4 : ((size_t)hlen + 1) * 8;
                if (!bv_skip(&rest, l)) {
                    TS_INC(c->st, IPV6_TRUNCATED);
                    return;
                }
                nh = nxt;
                continue;
            }
            if (!bv_peek_u8(rest, 0, &nxt) || !bv_peek_be16(rest, 2, &offm) ||
                !bv_peek_be32(rest, 4, &id)) {
                TS_INC(c->st, IPV6_TRUNCATED);
                return;
            }
            bv_skip(&rest, 8);
            nh = nxt;
            if ((offm & 0xfff8) == 0 && !(offm & 1))
                continue; /* atomic fragment (RFC 6946): a whole packet */
            if (reasm) { /* a fragment inside a reassembled datagram */
                TS_INC(c->st, IPV6_MALFORMED);
                return;
            }
            if (is_dup(c, 6, hdr, pay))
                return;
            struct ipfrag_key k = { .ipver = 6, .proto = nxt, .id = id,
                                    .src = c->m.src, .dst = c->m.dst };
            if (!reassemble(c, &k, offm & 0xfff8u, (offm & 1) != 0, rest, &rest))
                return;
            reasm = true;
            continue;
        default:
            if (!reasm && !carries_tunnel(nh, rest) && is_dup(c, 6, hdr, pay))
                return;
            dec_ip_payload(c, 6, nh, rest);
            return;
        }
    }
}

/* ---- link layers ---- */

static void dec_pppoe(struct dctx *c, struct bv b)
{
    uint8_t vt, code;
    uint16_t len, proto;
    if (!bv_u8(&b, &vt) || !bv_u8(&b, &code) || !bv_skip(&b, 2) || !bv_be16(&b, &len)) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    if (vt != 0x11 || code != 0 || len < 2) {
        TS_INC(c->st, TUN_MALFORMED);
        return;
    }
    if (len > b.len) {
        TS_INC(c->st, TUN_TRUNCATED);
        return;
    }
    b = bv_head(b, len); /* Ethernet padding goes */
    bv_be16(&b, &proto);
    if (!nest_enter(c))
        return;
    TS_INC(c->st, TUN_PPPOE);
    if (proto == PPP_IPV4)
        dec_ipv4(c, b);
    else if (proto == PPP_IPV6)
        dec_ipv6(c, b);
    else /* LCP, IPCP, ... */
        TS_INC(c->st, LINK_NON_IP);
}

/* Dispatch on an EtherType, peeling 802.1Q/802.1ad tags first. */
static void dec_ethertype(struct dctx *c, uint16_t type, struct bv b)
{
    unsigned tags = 0;
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
        uint16_t tci;
        if (!bv_be16(&b, &tci) || !bv_be16(&b, &type)) {
            TS_INC(c->st, LINK_TRUNCATED);
            return;
        }
        if (!nest_enter(c))
            return;
        if (!c->vlan_seen) {
            c->vlan_seen = true;
            c->m.vlan = tci & 0x0fff;
        }
        if (tags++ == 0)
            TS_INC(c->st, VLAN_TAGGED);
        else if (tags == 2)
            TS_INC(c->st, VLAN_QINQ);
    }
    switch (type) {
    case ETH_IPV4:
        dec_ipv4(c, b);
        break;
    case ETH_IPV6:
        dec_ipv6(c, b);
        break;
    case ETH_PPPOE_SESS:
        dec_pppoe(c, b);
        break;
    default: /* ARP, LLDP, 802.3 length field, PPPoE discovery, ... */
        TS_INC(c->st, LINK_NON_IP);
        break;
    }
}

static void dec_ether(struct dctx *c, struct bv b)
{
    uint16_t type;
    if (!bv_skip(&b, 12) || !bv_be16(&b, &type)) {
        TS_INC(c->st, LINK_TRUNCATED);
        return;
    }
    dec_ethertype(c, type, b);
}

/* Raw IP: the version nibble says which. */
static void dec_raw(struct dctx *c, struct bv b)
{
    uint8_t v;
    if (!bv_peek_u8(b, 0, &v)) {
        TS_INC(c->st, LINK_TRUNCATED);
        return;
    }
    if ((v >> 4) == 4)
        dec_ipv4(c, b);
    else if ((v >> 4) == 6)
        dec_ipv6(c, b);
    else
        TS_INC(c->st, LINK_MALFORMED);
}

/* BSD loopback: a 4-byte address family in the writer's byte order (NULL)
 * or network order (LOOP); IPv6 is 24, 28 or 30 depending on the BSD. */
static void dec_loop(struct dctx *c, struct bv b)
{
    uint32_t af;
    if (!bv_peek_be32(b, 0, &af)) {
        TS_INC(c->st, LINK_TRUNCATED);
        return;
    }
    if (af > 0xffff) /* little-endian writer */
        af = ((af >> 24) & 0xff) | ((af >> 8) & 0xff00);
    b = bv_from(b, 4);
    if (af == 2)
        dec_ipv4(c, b);
    else if (af == 24 || af == 28 || af == 30)
        dec_ipv6(c, b);
    else
        TS_INC(c->st, LINK_NON_IP);
}

bool decoder_udp_hint(const struct ts_frame *f, struct pkt_meta *m, struct bv *payload,
                      struct frame_hint *h)
{
    struct bv b = bv_make(f->data, f->caplen);
    uint16_t type, flags, tot, dlen, dport = 0;
    uint8_t vihl, proto;
    if (f->linktype != 1 || !bv_skip(&b, 12) || !bv_be16(&b, &type))
        return false;
    if (type == ETH_VLAN && (!bv_skip(&b, 2) || !bv_be16(&b, &type)))
        return false;
    if (type != ETH_IPV4 || !bv_peek_u8(b, 0, &vihl) || (vihl >> 4) != 4)
        return false;
    struct bv ip = b, src, dst;
    if (!bv_skip(&ip, 2) || !bv_be16(&ip, &tot) || !bv_skip(&ip, 2) || !bv_be16(&ip, &flags) ||
        (flags & 0x3fff) || !bv_skip(&ip, 1) || !bv_u8(&ip, &proto) || proto != 17 ||
        !bv_skip(&ip, 2) || !bv_take(&ip, 4, &src) || !bv_take(&ip, 4, &dst))
        return false;
    size_t hl = (size_t)(vihl & 15) * 4;
    /* dec_ipv4()'s checks, so that hdr and pay below are the bytes it dedups */
    if (hl < 20 || tot < hl || b.len < tot)
        return false;
    struct bv hdr, pay = bv_head(b, tot);
    bv_take(&pay, hl, &hdr);
    memset(m, 0, sizeof *m);
    m->src.family = m->dst.family = 4;
    struct bv u = pay;
    if (!bv_copy(&src, m->src.a, 4) || !bv_copy(&dst, m->dst.a, 4) ||
        !bv_be16(&u, &m->sport) || !bv_be16(&u, &m->dport) || !bv_be16(&u, &dlen) ||
        !bv_skip(&u, 2))
        return false;
    m->l4 = TS_L4_UDP;
    *payload = u;
    if (bv_peek_be16(pay, 2, &dport) && dport != VXLAN_PORT) { /* tunnels: inner packet */
        h->ip_off = (uint32_t)(hdr.p - f->data);
        h->ip_hl = (uint16_t)hl;
        h->ip_tot = tot;
        h->dedup_fp = dedup_fingerprint(4, hdr, pay);
    }
    return true;
}

void decoder_prefetch_dedup(const struct decoder *d, uint64_t fp)
{
    dedup_prefetch(d->dedup, fp);
}

void decoder_frame(struct decoder *d, const struct ts_frame *f)
{
    decoder_frame_hinted(d, f, NULL);
}

void decoder_frame_hinted(struct decoder *d, const struct ts_frame *f,
                          const struct frame_hint *h)
{
    struct dctx c;
    memset(&c, 0, sizeof c);
    c.d = d;
    c.st = d->st;
    c.frame = f->data;
    c.hint = h;
    c.m.ts_ns = f->ts_ns;
    c.m.frame_no = f->frame_no;
    c.m.file_idx = f->file_idx;
    c.m.linktype = f->linktype;
    c.m.site = f->site;
    c.snapped = f->caplen < f->wirelen;
    count_linktype(d, f->linktype);

    struct bv b = bv_make(f->data, f->caplen);
    uint16_t proto;
    switch (f->linktype) {
    case 1: /* EN10MB */
        dec_ether(&c, b);
        break;
    case 113: /* LINUX_SLL: type, ARPHRD, addr len, addr[8], protocol */
        if (!bv_skip(&b, 14) || !bv_be16(&b, &proto)) {
            TS_INC(d->st, LINK_TRUNCATED);
            break;
        }
        dec_ethertype(&c, proto, b);
        break;
    case 276: /* LINUX_SLL2: protocol first, 20 bytes in all */
        if (!bv_be16(&b, &proto) || !bv_skip(&b, 18)) {
            TS_INC(d->st, LINK_TRUNCATED);
            break;
        }
        dec_ethertype(&c, proto, b);
        break;
    case 12:  /* DLT_RAW */
    case 14:  /* DLT_RAW on OpenBSD */
    case 101: /* LINKTYPE_RAW */
        dec_raw(&c, b);
        break;
    case 228: /* LINKTYPE_IPV4 */
        dec_ipv4(&c, b);
        break;
    case 229: /* LINKTYPE_IPV6 */
        dec_ipv6(&c, b);
        break;
    case 0:   /* NULL */
    case 108: /* LOOP */
        dec_loop(&c, b);
        break;
    default:
        TS_INC(d->st, LINK_UNSUPPORTED);
        break;
    }
    if (c.delivered)
        TS_INC(d->st, DECODED);
}
