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

/* Per-frame state. Two modes over the same layer functions: decoder_decode()
 * fills rec from the frame alone (d NULL: counters are noted in rec, and
 * the first step that needs the decoder's state is noted there and ends
 * the walk); decoder_packet() runs those steps with d, counting in st, and
 * goes on from there in the same functions when the walk stopped early. */
struct dctx {
    struct decoder *d;
    struct ts_stats *st;
    struct ts_pkt *rec;
    struct pkt_meta *m; /* the record's own when decoding ahead: no copy of
                         * fields just stored (wide loads over them stall) */
    unsigned nest;     /* VLAN tags, PPPoE and tunnels: the loop guard */
    bool vlan_seen;
    bool delivered;
    bool snapped;      /* the frame was cut by the capture's snap length */
};

/* Most counters a walk can note: 3 per nesting level, 4 besides. */
_Static_assert(TS_PKT_MAX_COUNTS >= 3 * TS_MAX_ENCAP_DEPTH + 4, "ts_pkt.cnt too small");
_Static_assert(TS_STAT_MAX <= UINT16_MAX, "ts_pkt.cnt holds uint16_t");

/* A counter of the layers: raised, or noted for decoder_packet(). */
#define CNT(c, id) cnt_raise((c), TS_##id)

static inline void cnt_raise(struct dctx *c, unsigned id)
{
    struct ts_pkt *p = c->rec;
    if (!p)
        c->st->v[id]++;
    else if (p->ncnt < TS_PKT_MAX_COUNTS) /* always (see the assertion above) */
        p->cnt[p->ncnt++] = (uint16_t)id;
}

static void dec_ether(struct dctx *c, struct bv b);
static void dec_ipv4(struct dctx *c, struct bv b);
static void dec_ipv6(struct dctx *c, struct bv b);
static void dec_ipv6_chain(struct dctx *c, struct bv hdr, struct bv pay, uint8_t nh,
                           struct bv rest, bool reasm, unsigned next);

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
        CNT(c, TUN_TOO_DEEP);
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

static bool dup_check(struct dctx *c, uint64_t fp)
{
    if (!c->d->dedup_on || !dedup_check(c->d->dedup, fp, c->m->ts_ns))
        return false;
    CNT(c, DUPLICATES);
    return true;
}

/* A SPAN duplicate? Decoding the frame alone, the check is noted for
 * decoder_packet() and the walk goes on as for a first copy (after it come
 * only the transport header or a fragment: one check per walk). */
static bool is_dup(struct dctx *c, int ipver, struct bv hdr, struct bv pay)
{
    uint64_t fp = dedup_fingerprint(ipver, hdr, pay);
    if (!c->rec)
        return dup_check(c, fp);
    c->rec->dedup = true;
    c->rec->dedup_fp = fp;
    c->rec->cnt_pre = c->rec->ncnt;
    return false;
}

/* Feed a fragment; true with *out = the whole datagram (in scratch) when it
 * completed one. Decoding the frame alone, the fragment is noted (ext: the
 * IPv6 extension headers walked) and the walk ends. */
static bool reassemble(struct dctx *c, const struct ipfrag_key *k, uint32_t off,
                       bool more, struct bv data, unsigned ext, struct bv *out)
{
    if (c->rec) {
        struct ts_pkt *p = c->rec;
        p->next = k->ipver == 4 ? PKT_FRAG4 : PKT_FRAG6;
        p->proto = k->proto;
        p->frag_id = k->id;
        p->frag_off = off;
        p->frag_more = more;
        p->ext = (uint8_t)ext;
        p->payload = data;
        return false;
    }
    struct bv whole;
    if (ipfrag_add(c->d->frag, k, c->m->ts_ns, off, more, data, &whole) != 1)
        return false;
    size_t n = whole.len;
    if (n > sizeof c->d->scratch) {
        CNT(c, FRAG_TOO_BIG);
        return false;
    }
    bv_copy(&whole, c->d->scratch, n);
    *out = bv_make(c->d->scratch, n);
    c->m->reassembled = true;
    return true;
}

/* ---- transports ---- */

static void deliver_udp(struct dctx *c, struct bv payload)
{
    if (c->rec) { /* decoder_packet() delivers it */
        c->rec->next = PKT_UDP;
        c->rec->payload = payload;
        return;
    }
    c->delivered = true;
    if (c->d->cb.udp)
        c->d->cb.udp(c->d->cb.ctx, c->m, payload);
}

static void dec_vxlan(struct dctx *c, struct bv b)
{
    uint8_t flags;
    if (!bv_peek_u8(b, 0, &flags) || b.len < 8) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if (!(flags & 0x08)) { /* I flag: the VNI is valid */
        CNT(c, TUN_MALFORMED);
        return;
    }
    if (!nest_enter(c))
        return;
    CNT(c, TUN_VXLAN);
    c->m->encap_depth++;
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
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if ((fl >> 5) != 1 || !(fl & 0x10)) {
        CNT(c, TUN_MALFORMED);
        return;
    }
    if (type != 255) {
        CNT(c, TUN_UNSUPPORTED);
        return;
    }
    struct bv p;
    if (!bv_sub(b, 8, len, &p)) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if (fl & 0x07) {
        uint8_t next;
        if (!bv_peek_u8(p, 3, &next) || !bv_skip(&p, 4)) {
            CNT(c, TUN_TRUNCATED);
            return;
        }
        for (unsigned guard = 0; (fl & 0x04) && next; guard++) {
            uint8_t el;
            if (guard >= 16 || !bv_peek_u8(p, 0, &el) || el == 0) {
                CNT(c, TUN_MALFORMED);
                return;
            }
            if (!bv_peek_u8(p, (size_t)el * 4 - 1, &next) || !bv_skip(&p, (size_t)el * 4)) {
                CNT(c, TUN_TRUNCATED);
                return;
            }
        }
    }
    if (!bv_peek_u8(p, 0, &v)) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if ((v >> 4) != 4 && (v >> 4) != 6) {
        CNT(c, TUN_UNSUPPORTED);   /* non-IP PDU (Ethernet, unstructured) */
        return;
    }
    if (!nest_enter(c))
        return;
    CNT(c, TUN_GTPU);
    c->m->encap_depth++;
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
        CNT(c, UDP_TRUNCATED);
        return;
    }
    if (ulen < 8) { /* 0 is an IPv6 jumbogram (RFC 2675): not for SIP */
        CNT(c, UDP_MALFORMED);
        return;
    }
    struct bv payload;
    if (c->m->cut && b.len < (size_t)ulen - 8) {
        /* a header-only capture: what the snap length kept is handed on
         * with the size of the rest, for RTP statistics from the headers */
        if (dp == VXLAN_PORT || dp == GTPU_PORT) {
            CNT(c, UDP_TRUNCATED);
            return;
        }
        CNT(c, UDP_SNAPPED);
        c->m->cut = (uint32_t)((size_t)ulen - 8 - b.len);
        payload = b;
    } else if (!bv_sub(b, 0, (size_t)ulen - 8, &payload)) {
        /* the IP packet is whole, so the UDP length lies */
        CNT(c, UDP_MALFORMED);
        return;
    } else {
        c->m->cut = 0;
    }
    if (dp == VXLAN_PORT) {
        dec_vxlan(c, payload);
        return;
    }
    if (dp == GTPU_PORT) {
        dec_gtpu(c, payload);
        return;
    }
    CNT(c, UDP);
    c->m->l4 = TS_L4_UDP;
    c->m->sport = sp;
    c->m->dport = dp;
    deliver_udp(c, payload);
}

static void dec_tcp(struct dctx *c, struct bv b)
{
    struct tcp_seg seg;
    uint16_t sp, dp, offfl;
    if (!bv_be16(&b, &sp) || !bv_be16(&b, &dp) || !bv_peek_be32(b, 0, &seg.seq) ||
        !bv_peek_be32(b, 4, &seg.ack) || !bv_peek_be16(b, 8, &offfl) ||
        !bv_peek_be16(b, 10, &seg.window) || b.len < 16) {
        CNT(c, TCP_TRUNCATED);
        return;
    }
    size_t hl = (size_t)(offfl >> 12) * 4;
    if (hl < 20) {
        CNT(c, TCP_MALFORMED);
        return;
    }
    if (b.len < hl - 4) { /* ports already consumed */
        CNT(c, TCP_TRUNCATED);
        return;
    }
    seg.flags = (uint8_t)(offfl & 0x3f); /* ECE/CWR are not TCP_F_* */
    seg.payload = bv_from(b, hl - 4); /* options skipped */
    CNT(c, TCP);
    c->m->l4 = TS_L4_TCP;
    c->m->sport = sp;
    c->m->dport = dp;
    if (c->rec) { /* decoder_packet() delivers it */
        c->rec->next = PKT_TCP;
        c->rec->seg = seg;
        return;
    }
    c->delivered = true;
    if (c->d->cb.tcp)
        c->d->cb.tcp(c->d->cb.ctx, c->m, &seg);
}

/* Common header, then chunks padded to 4 bytes; each DATA chunk's user data
 * goes to the UDP callback (SCTP keeps message boundaries like UDP). */
static void dec_sctp(struct dctx *c, struct bv b)
{
    uint16_t sp, dp;
    if (!bv_be16(&b, &sp) || !bv_be16(&b, &dp) || !bv_skip(&b, 8)) {
        CNT(c, SCTP_TRUNCATED);
        return;
    }
    CNT(c, SCTP);
    c->m->l4 = TS_L4_SCTP;
    c->m->sport = sp;
    c->m->dport = dp;
    while (b.len > 0) {
        uint8_t type;
        uint16_t clen;
        if (!bv_peek_u8(b, 0, &type) || !bv_peek_be16(b, 2, &clen)) {
            CNT(c, SCTP_TRUNCATED);
            return;
        }
        if (clen < 4) {
            CNT(c, SCTP_MALFORMED);
            return;
        }
        if (clen > b.len) { /* the IP packet is whole: the length lies */
            CNT(c, SCTP_MALFORMED);
            return;
        }
        if (type == 0) {
            if (clen < 16) {
                CNT(c, SCTP_MALFORMED);
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
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if ((v >> 4) != 1) {
        CNT(c, TUN_MALFORMED);
        return;
    }
    CNT(c, TUN_ERSPAN2);
    dec_ether(c, bv_from(b, 8));
}

static void dec_erspan3(struct dctx *c, struct bv b)
{
    uint8_t v;
    uint16_t w;
    if (!bv_peek_u8(b, 0, &v) || !bv_peek_be16(b, 10, &w)) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if ((v >> 4) != 2) {
        CNT(c, TUN_MALFORMED);
        return;
    }
    size_t hl = (w & 1) ? 20 : 12; /* O bit: platform-specific subheader */
    if (b.len < hl) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if (((w >> 10) & 0x1f) != 0) { /* frame type other than Ethernet */
        CNT(c, TUN_UNSUPPORTED);
        return;
    }
    CNT(c, TUN_ERSPAN3);
    dec_ether(c, bv_from(b, hl));
}

static void dec_gre(struct dctx *c, struct bv b)
{
    uint16_t fl, proto;
    if (!bv_be16(&b, &fl) || !bv_be16(&b, &proto)) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    /* version 1 is PPTP; the routing bit is RFC 1701 source routing */
    if ((fl & 0x7) != 0 || (fl & 0x4000)) {
        CNT(c, TUN_UNSUPPORTED);
        return;
    }
    size_t opt = ((fl & 0x8000) ? 4u : 0u) + ((fl & 0x2000) ? 4u : 0u) +
                 ((fl & 0x1000) ? 4u : 0u);
    if (!bv_skip(&b, opt)) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if (!nest_enter(c))
        return;
    CNT(c, TUN_GRE);
    c->m->encap_depth++;
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
        CNT(c, TUN_UNSUPPORTED);
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
        CNT(c, IP_OTHER_PROTO);
        return;
    }
    if (type != (ver == 4 ? 3 : 1)) {
        CNT(c, IP_OTHER_PROTO);   /* echo, time exceeded, ND...: not ours */
        return;
    }
    struct bv ip = bv_from(b, 8), udp;
    struct pkt_meta q = *c->m;
    size_t hl;
    if (!bv_peek_u8(ip, 0, &vihl) || (vihl >> 4) != ver) {
        CNT(c, ICMP_MALFORMED);
        return;
    }
    if (ver == 4) {
        hl = (size_t)(vihl & 0x0f) * 4;
        if (hl < 20 || !bv_peek_u8(ip, 9, &proto) || ip.len < hl) {
            CNT(c, ICMP_MALFORMED);
            return;
        }
        get_addr(ip, 12, 4, &q.src);
        get_addr(ip, 16, 4, &q.dst);
    } else {
        hl = 40;
        if (!bv_peek_u8(ip, 6, &proto) || ip.len < hl) {
            CNT(c, ICMP_MALFORMED);
            return;
        }
        get_addr(ip, 8, 16, &q.src);
        get_addr(ip, 24, 16, &q.dst);
    }
    if (proto != TS_L4_UDP || !bv_sub(ip, hl, 8, &udp) || !bv_peek_be16(udp, 0, &q.sport) ||
        !bv_peek_be16(udp, 2, &q.dport)) {
        CNT(c, ICMP_UNREACH_OTHER);
        return;
    }
    q.ipver = (uint8_t)ver;
    q.l4 = TS_L4_UDP;
    CNT(c, ICMP_UNREACH);
    if (c->d->cb.unreach)
        c->d->cb.unreach(c->d->cb.ctx, c->m, &q, code, bv_from(ip, hl + 8));
}

/* Upper layer of an IP packet (outer_ver tells 6in4 from 6in6). */
static void dec_ip_payload(struct dctx *c, int outer_ver, uint8_t proto, struct bv pay)
{
    if (c->rec && (proto == TS_L4_SCTP || proto == IPP_ICMP || proto == IPP_ICMP6)) {
        /* several units, or a quoted one: decoder_packet() goes on here */
        c->rec->next = PKT_IP;
        c->rec->outer_ver = (uint8_t)outer_ver;
        c->rec->proto = proto;
        c->rec->payload = pay;
        return;
    }
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
            CNT(c, TUN_IP6IN4);
        else
            CNT(c, TUN_IPIP);
        c->m->encap_depth++;
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
            CNT(c, IP_OTHER_PROTO);
        break;
    case IPP_ESP:
        if (outer_ver == 4)
            CNT(c, IPV4_UNSUPPORTED);
        else
            CNT(c, IPV6_UNSUPPORTED);
        break;
    default:
        CNT(c, IP_OTHER_PROTO);
        break;
    }
}

/* ---- IP ---- */

static void dec_ipv4(struct dctx *c, struct bv b)
{
    uint8_t vihl, proto;
    uint16_t tot, id, frag;
    if (!bv_peek_u8(b, 0, &vihl)) {
        CNT(c, IPV4_TRUNCATED);
        return;
    }
    if ((vihl >> 4) != 4) {
        CNT(c, IPV4_MALFORMED);
        return;
    }
    size_t hl = (size_t)(vihl & 0x0f) * 4;
    if (!bv_peek_be16(b, 2, &tot) || !bv_peek_be16(b, 4, &id) ||
        !bv_peek_be16(b, 6, &frag) || !bv_peek_u8(b, 9, &proto) || b.len < 20) {
        CNT(c, IPV4_TRUNCATED);
        return;
    }
    if (hl < 20 || tot < hl) {
        CNT(c, IPV4_MALFORMED);
        return;
    }
    if (b.len < tot) {
        /* cut by the snap length: an unfragmented UDP datagram whose
         * headers were kept still goes on (header-only captures) */
        if (!c->snapped || (frag & 0x3fff) || proto != TS_L4_UDP || b.len < hl + 8) {
            CNT(c, IPV4_TRUNCATED);
            return;
        }
        c->m->cut = (uint32_t)(tot - b.len);
    }
    b = bv_head(b, tot); /* Ethernet padding goes */
    CNT(c, IPV4);
    struct bv hdr, pay;
    bv_take(&b, hl, &hdr);
    pay = b;
    c->m->ipver = 4;
    get_addr(hdr, 12, 4, &c->m->src);
    get_addr(hdr, 16, 4, &c->m->dst);

    uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
    bool more = (frag & 0x2000) != 0;
    if (more || off) {
        if (is_dup(c, 4, hdr, pay))
            return;
        struct ipfrag_key k = { .ipver = 4, .proto = proto, .id = id,
                                .src = c->m->src, .dst = c->m->dst };
        struct bv whole;
        if (reassemble(c, &k, off, more, pay, 0, &whole))
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
        CNT(c, IPV6_TRUNCATED);
        return;
    }
    if ((v >> 4) != 6) {
        CNT(c, IPV6_MALFORMED);
        return;
    }
    if (b.len < 40) {
        CNT(c, IPV6_TRUNCATED);
        return;
    }
    bv_peek_be16(b, 4, &plen);
    bv_peek_u8(b, 6, &nh);
    if (plen == 0) { /* jumbogram (RFC 2675) or segmentation offload */
        CNT(c, IPV6_UNSUPPORTED);
        return;
    }
    struct bv hdr, pay;
    bv_take(&b, 40, &hdr);
    if (!bv_sub(b, 0, plen, &pay)) {
        /* as for IPv4: UDP right after the fixed header, its header kept */
        if (!c->snapped || nh != TS_L4_UDP || b.len < 8) {
            CNT(c, IPV6_TRUNCATED);
            return;
        }
        c->m->cut = (uint32_t)(plen - b.len);
        pay = b;
    }
    CNT(c, IPV6);
    c->m->ipver = 6;
    get_addr(hdr, 8, 16, &c->m->src);
    get_addr(hdr, 24, 16, &c->m->dst);
    dec_ipv6_chain(c, hdr, pay, nh, pay, false, 0);
}

/* The extension headers of an IPv6 packet (hdr, pay) from nh on at rest,
 * next of them walked; reasm: rest is the datagram its fragments made
 * (decoder_packet() goes on here after reassembling one). */
static void dec_ipv6_chain(struct dctx *c, struct bv hdr, struct bv pay, uint8_t nh,
                           struct bv rest, bool reasm, unsigned next)
{
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
                CNT(c, IPV6_UNSUPPORTED);
                return;
            }
            next++;
            if (nh != IP6_FRAG) {
                if (!bv_peek_u8(rest, 0, &nxt) || !bv_peek_u8(rest, 1, &hlen)) {
                    CNT(c, IPV6_TRUNCATED);
                    return;
                }
                size_t l = nh == IPP_AH ? ((size_t)hlen + 2) * 4 : ((size_t)hlen + 1) * 8;
                if (!bv_skip(&rest, l)) {
                    CNT(c, IPV6_TRUNCATED);
                    return;
                }
                nh = nxt;
                continue;
            }
            if (!bv_peek_u8(rest, 0, &nxt) || !bv_peek_be16(rest, 2, &offm) ||
                !bv_peek_be32(rest, 4, &id)) {
                CNT(c, IPV6_TRUNCATED);
                return;
            }
            bv_skip(&rest, 8);
            nh = nxt;
            if ((offm & 0xfff8) == 0 && !(offm & 1))
                continue; /* atomic fragment (RFC 6946): a whole packet */
            if (reasm) { /* a fragment inside a reassembled datagram */
                CNT(c, IPV6_MALFORMED);
                return;
            }
            if (is_dup(c, 6, hdr, pay))
                return;
            struct ipfrag_key k = { .ipver = 6, .proto = nxt, .id = id,
                                    .src = c->m->src, .dst = c->m->dst };
            if (!reassemble(c, &k, offm & 0xfff8u, (offm & 1) != 0, rest, next, &rest))
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
        CNT(c, TUN_TRUNCATED);
        return;
    }
    if (vt != 0x11 || code != 0 || len < 2) {
        CNT(c, TUN_MALFORMED);
        return;
    }
    if (len > b.len) {
        CNT(c, TUN_TRUNCATED);
        return;
    }
    b = bv_head(b, len); /* Ethernet padding goes */
    bv_be16(&b, &proto);
    if (!nest_enter(c))
        return;
    CNT(c, TUN_PPPOE);
    if (proto == PPP_IPV4)
        dec_ipv4(c, b);
    else if (proto == PPP_IPV6)
        dec_ipv6(c, b);
    else /* LCP, IPCP, ... */
        CNT(c, LINK_NON_IP);
}

/* Dispatch on an EtherType, peeling 802.1Q/802.1ad tags first. */
static void dec_ethertype(struct dctx *c, uint16_t type, struct bv b)
{
    unsigned tags = 0;
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
        uint16_t tci;
        if (!bv_be16(&b, &tci) || !bv_be16(&b, &type)) {
            CNT(c, LINK_TRUNCATED);
            return;
        }
        if (!nest_enter(c))
            return;
        if (!c->vlan_seen) {
            c->vlan_seen = true;
            c->m->vlan = tci & 0x0fff;
        }
        if (tags++ == 0)
            CNT(c, VLAN_TAGGED);
        else if (tags == 2)
            CNT(c, VLAN_QINQ);
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
        CNT(c, LINK_NON_IP);
        break;
    }
}

static void dec_ether(struct dctx *c, struct bv b)
{
    uint16_t type;
    if (!bv_skip(&b, 12) || !bv_be16(&b, &type)) {
        CNT(c, LINK_TRUNCATED);
        return;
    }
    dec_ethertype(c, type, b);
}

/* Raw IP: the version nibble says which. */
static void dec_raw(struct dctx *c, struct bv b)
{
    uint8_t v;
    if (!bv_peek_u8(b, 0, &v)) {
        CNT(c, LINK_TRUNCATED);
        return;
    }
    if ((v >> 4) == 4)
        dec_ipv4(c, b);
    else if ((v >> 4) == 6)
        dec_ipv6(c, b);
    else
        CNT(c, LINK_MALFORMED);
}

/* BSD loopback: a 4-byte address family in the writer's byte order (NULL)
 * or network order (LOOP); IPv6 is 24, 28 or 30 depending on the BSD. */
static void dec_loop(struct dctx *c, struct bv b)
{
    uint32_t af;
    if (!bv_peek_be32(b, 0, &af)) {
        CNT(c, LINK_TRUNCATED);
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
        CNT(c, LINK_NON_IP);
}

void decoder_prefetch_dedup(const struct decoder *d, uint64_t fp)
{
    dedup_prefetch(d->dedup, fp);
}

void decoder_decode(const struct ts_frame *f, struct ts_pkt *p)
{
    struct dctx c;
    memset(&c, 0, sizeof c);
    p->next = PKT_NONE;
    p->dedup = false;
    p->ncnt = p->cnt_pre = 0;
    p->stream_hash = p->dialog_hash = 0;
    p->sip = NULL;
    c.rec = p;
    memset(&p->m, 0, sizeof p->m);
    c.m = &p->m;
    p->m.ts_ns = f->ts_ns;
    p->m.frame_no = f->frame_no;
    p->m.file_idx = f->file_idx;
    p->m.linktype = f->linktype;
    p->m.site = f->site;
    c.snapped = f->caplen < f->wirelen;

    struct bv b = bv_make(f->data, f->caplen);
    uint16_t proto;
    switch (f->linktype) {
    case 1: /* EN10MB */
        dec_ether(&c, b);
        break;
    case 113: /* LINUX_SLL: type, ARPHRD, addr len, addr[8], protocol */
        if (!bv_skip(&b, 14) || !bv_be16(&b, &proto)) {
            CNT(&c, LINK_TRUNCATED);
            break;
        }
        dec_ethertype(&c, proto, b);
        break;
    case 276: /* LINUX_SLL2: protocol first, 20 bytes in all */
        if (!bv_be16(&b, &proto) || !bv_skip(&b, 18)) {
            CNT(&c, LINK_TRUNCATED);
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
        CNT(&c, LINK_UNSUPPORTED);
        break;
    }
    if (!p->dedup)
        p->cnt_pre = p->ncnt;
    p->nest = (uint8_t)c.nest;
    p->vlan_seen = c.vlan_seen;
    p->snapped = c.snapped;
}

void decoder_packet(struct decoder *d, const struct ts_pkt *p)
{
    struct dctx c;
    memset(&c, 0, sizeof c);
    c.d = d;
    c.st = d->st;
    struct pkt_meta m = p->m; /* inner layers (a reassembled datagram) rewrite it */
    c.m = &m;
    c.nest = p->nest;
    c.vlan_seen = p->vlan_seen;
    c.snapped = p->snapped;
    count_linktype(d, p->m.linktype);
    for (unsigned i = 0; i < p->cnt_pre; i++)
        d->st->v[p->cnt[i]]++;
    if (p->dedup && dup_check(&c, p->dedup_fp))
        return;
    for (unsigned i = p->cnt_pre; i < p->ncnt; i++)
        d->st->v[p->cnt[i]]++;
    struct bv whole;
    struct ipfrag_key k = { .ipver = 4, .proto = p->proto, .id = p->frag_id,
                            .src = p->m.src, .dst = p->m.dst };
    switch (p->next) {
    case PKT_UDP:
        c.delivered = true;
        if (d->cb.pkt_udp)
            d->cb.pkt_udp(d->cb.ctx, p);
        else if (d->cb.udp)
            d->cb.udp(d->cb.ctx, &p->m, p->payload);
        break;
    case PKT_TCP:
        c.delivered = true;
        if (d->cb.tcp)
            d->cb.tcp(d->cb.ctx, &p->m, &p->seg);
        break;
    case PKT_IP:
        dec_ip_payload(&c, p->outer_ver, p->proto, p->payload);
        break;
    case PKT_FRAG4:
        if (reassemble(&c, &k, p->frag_off, p->frag_more, p->payload, 0, &whole))
            dec_ip_payload(&c, 4, p->proto, whole);
        break;
    case PKT_FRAG6:
        k.ipver = 6;
        if (reassemble(&c, &k, p->frag_off, p->frag_more, p->payload, p->ext, &whole))
            dec_ipv6_chain(&c, BV_NULL, BV_NULL, p->proto, whole, true, p->ext);
        break;
    default:
        break;
    }
    if (c.delivered)
        TS_INC(d->st, DECODED);
}

void decoder_frame(struct decoder *d, const struct ts_frame *f)
{
    struct ts_pkt p;
    decoder_decode(f, &p);
    decoder_packet(d, &p);
}
