/* Unit tests for the frame decoder and SPAN duplicate removal: every link
 * type, VLAN/QinQ, every tunnel, IPv4/IPv6 with extension headers and
 * fragments, UDP/TCP/SCTP, truncation at every length, malformed lengths,
 * limits at N-1/N/N+1, and real captures from the shared corpus. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../capture/decode.h"
#include "../../capture/dedup.h"
#include "../../capture/pcapin.h"
#include "../../common/limits.h"

/* ---- frame builder: layers are wrapped from the inside out ---- */

struct fb {
    uint8_t b[8192];
    size_t n;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void fb_prepend(struct fb *f, const uint8_t *h, size_t n)
{
    assert_true(f->n + n <= sizeof f->b);
    memmove(f->b + n, f->b, f->n);
    memcpy(f->b, h, n);
    f->n += n;
}

static void fb_set(struct fb *f, const char *s)
{
    f->n = strlen(s);
    memcpy(f->b, s, f->n);
}

static void w_udp(struct fb *f, uint16_t sp, uint16_t dp)
{
    uint8_t h[8] = { 0 };
    put16(h, sp);
    put16(h + 2, dp);
    put16(h + 4, (uint16_t)(8 + f->n));
    fb_prepend(f, h, 8);
}

static void w_tcp(struct fb *f, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                  uint8_t flags, size_t optlen)
{
    uint8_t h[60];
    memset(h, 1, sizeof h); /* options: NOP */
    put16(h, sp);
    put16(h + 2, dp);
    put32(h + 4, seq);
    put32(h + 8, ack);
    h[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    h[13] = flags;
    put16(h + 14, 29200);
    put16(h + 16, 0);
    put16(h + 18, 0);
    fb_prepend(f, h, 20 + optlen);
}

static void w_ipv4f(struct fb *f, uint8_t proto, uint16_t id, uint8_t ttl, uint32_t src,
                    uint32_t dst, uint16_t frag)
{
    uint8_t h[20] = { 0x45, 0 };
    put16(h + 2, (uint16_t)(20 + f->n));
    put16(h + 4, id);
    put16(h + 6, frag);
    h[8] = ttl;
    h[9] = proto;
    put16(h + 10, (uint16_t)(0xbeef + ttl)); /* checksum: not verified */
    put32(h + 12, src);
    put32(h + 16, dst);
    fb_prepend(f, h, 20);
}

static void w_ipv4(struct fb *f, uint8_t proto, uint32_t src, uint32_t dst)
{
    w_ipv4f(f, proto, 0x1234, 64, src, dst, 0x4000);
}

static void w_ipv6(struct fb *f, uint8_t nh, uint8_t src, uint8_t dst)
{
    uint8_t h[40] = { 0x60, 0 };
    put16(h + 4, (uint16_t)f->n);
    h[6] = nh;
    h[7] = 64;
    h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8, h[23] = src;
    h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = dst;
    fb_prepend(f, h, 40);
}

/* Generic extension header (len in 8-byte units, AH in 4-byte units). */
static void w_ext6(struct fb *f, uint8_t nh, uint8_t len, int ah)
{
    uint8_t h[64] = { 0 };
    size_t n = ah ? ((size_t)len + 2) * 4 : ((size_t)len + 1) * 8;
    h[0] = nh;
    h[1] = len;
    fb_prepend(f, h, n);
}

static void w_frag6(struct fb *f, uint8_t nh, uint16_t off, int more, uint32_t id)
{
    uint8_t h[8] = { nh, 0 };
    put16(h + 2, (uint16_t)(off | (more ? 1 : 0)));
    put32(h + 4, id);
    fb_prepend(f, h, 8);
}

/* Ethernet with optional tags: tpid[i]/vid[i] outermost first. */
static void w_eth_tags(struct fb *f, uint16_t type, const uint16_t *tpid,
                       const uint16_t *vid, int ntags)
{
    uint8_t h[64] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb };
    size_t n = 12;
    for (int i = 0; i < ntags; i++) {
        put16(h + n, tpid[i]);
        put16(h + n + 2, vid[i]);
        n += 4;
    }
    put16(h + n, type);
    fb_prepend(f, h, n + 2);
}

static void w_eth(struct fb *f, uint16_t type)
{
    w_eth_tags(f, type, NULL, NULL, 0);
}

static void w_gre(struct fb *f, uint16_t flags, uint16_t proto)
{
    uint8_t h[16] = { 0 };
    size_t n = 4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) +
               ((flags & 0x1000) ? 4 : 0);
    put16(h, flags);
    put16(h + 2, proto);
    fb_prepend(f, h, n);
}

/* An IPv4/UDP/payload packet, no link layer. */
static void mk_udp4(struct fb *f, const char *payload, uint16_t sp, uint16_t dp)
{
    fb_set(f, payload);
    w_udp(f, sp, dp);
    w_ipv4(f, 17, 0x0a000001, 0x0a000002);
}

/* ---- a decoder that records what it delivers ---- */

struct rec {
    int udp, tcp, unreach;
    struct pkt_meta q;
    uint8_t code;
    struct pkt_meta m;
    struct tcp_seg seg;
    char pay[4096];
    size_t paylen;
};

static struct ts_stats st;
static struct rec rec;

static void copy_pay(struct bv p)
{
    rec.paylen = p.len < sizeof rec.pay - 1 ? p.len : sizeof rec.pay - 1;
    memcpy(rec.pay, p.p, rec.paylen);
    rec.pay[rec.paylen] = '\0';
}

static void on_udp(void *ctx, const struct pkt_meta *m, struct bv payload)
{
    (void)ctx;
    rec.udp++;
    rec.m = *m;
    copy_pay(payload);
}

static void on_tcp(void *ctx, const struct pkt_meta *m, const struct tcp_seg *seg)
{
    (void)ctx;
    rec.tcp++;
    rec.m = *m;
    rec.seg = *seg;
    copy_pay(seg->payload);
}

static void on_unreach(void *ctx, const struct pkt_meta *m, const struct pkt_meta *q,
                       uint8_t code, struct bv payload)
{
    (void)ctx;
    rec.unreach++;
    rec.m = *m;
    rec.q = *q;
    rec.code = code;
    copy_pay(payload);
}

static struct decoder *mk(void)
{
    static const struct decode_cb cb = { NULL, on_udp, on_tcp, on_unreach, NULL };
    memset(&st, 0, sizeof st);
    memset(&rec, 0, sizeof rec);
    struct decoder *d = decoder_new(&st, &cb);
    assert_non_null(d);
    return d;
}

/* Decode from an exact-size heap copy so the sanitizer sees any overread. */
static void run_n(struct decoder *d, int lt, const uint8_t *p, size_t n, uint64_t ts)
{
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    if (n)
        memcpy(buf, p, n);
    struct ts_frame fr = { .ts_ns = ts, .frame_no = 1, .linktype = lt,
                           .caplen = (uint32_t)n, .wirelen = (uint32_t)n, .data = buf };
    decoder_frame(d, &fr);
    free(buf);
}

/* Each frame a second after the last: outside the duplicate window. */
static void run(struct decoder *d, int lt, const struct fb *f)
{
    static uint64_t ts = 1000000000ull;
    ts += 1000000000ull;
    run_n(d, lt, f->b, f->n, ts);
}

static uint64_t truncated_sum(void)
{
    return st.v[TS_LINK_TRUNCATED] + st.v[TS_TUN_TRUNCATED] + st.v[TS_IPV4_TRUNCATED] +
           st.v[TS_IPV6_TRUNCATED] + st.v[TS_UDP_TRUNCATED] + st.v[TS_TCP_TRUNCATED] +
           st.v[TS_SCTP_TRUNCATED];
}

static uint64_t malformed_sum(void)
{
    return st.v[TS_LINK_MALFORMED] + st.v[TS_TUN_MALFORMED] + st.v[TS_IPV4_MALFORMED] +
           st.v[TS_IPV6_MALFORMED] + st.v[TS_UDP_MALFORMED] + st.v[TS_TCP_MALFORMED] +
           st.v[TS_SCTP_MALFORMED];
}

/* ---- link layers ---- */

/* decoder_decode() on a private copy of the frame: nothing counted, the
 * result's views inside the copy (checked before it goes). */
static struct ts_pkt decode_copy(int lt, const struct fb *f)
{
    uint8_t *buf = malloc(f->n ? f->n : 1);
    assert_non_null(buf);
    memcpy(buf, f->b, f->n);
    struct ts_frame fr = { .ts_ns = 7, .frame_no = 3, .linktype = lt, .caplen = (uint32_t)f->n,
                           .wirelen = (uint32_t)f->n, .data = buf };
    struct ts_pkt p;
    memset(&p, 0xa5, sizeof p); /* every field that matters is set */
    decoder_decode(&fr, &p);
    if (p.next != PKT_NONE && p.next != PKT_TCP)
        assert_true(p.payload.p >= buf && p.payload.p + p.payload.len <= buf + f->n);
    if (p.next == PKT_TCP)
        assert_true(p.seg.payload.p >= buf && p.seg.payload.p <= buf + f->n);
    assert_int_equal(p.m.ts_ns, 7);
    assert_int_equal(p.m.frame_no, 3);
    assert_null(p.sip);
    assert_int_equal(p.stream_hash, 0);
    assert_true(p.cnt_pre <= p.ncnt && p.ncnt <= TS_PKT_MAX_COUNTS);
    free(buf);
    return p;
}

static bool noted(const struct ts_pkt *p, unsigned from, unsigned to, enum ts_stat s)
{
    for (unsigned i = from; i < to; i++)
        if (p->cnt[i] == s)
            return true;
    return false;
}

/* What the frame alone says: the unit with its meta, the counters before
 * and after the duplicate check, the fingerprint of the very IP packet
 * (computed here independently), and where the walk stops for the
 * decoder's state (fragments) or for several units (SCTP, ICMP). */
static void test_decode_alone(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    struct fb f;
    char a[64];
    mk_udp4(&f, "INVITE", 5060, 5062);
    w_eth(&f, 0x0800);
    size_t n = f.n;
    memset(f.b + f.n, 0, 20); /* Ethernet padding: not in the fingerprint */
    f.n += 20;
    struct ts_pkt p = decode_copy(1, &f);
    assert_int_equal(p.next, PKT_UDP);
    assert_int_equal(p.payload.len, 6);
    assert_int_equal(p.m.sport, 5060);
    assert_int_equal(p.m.dport, 5062);
    assert_int_equal(p.m.l4, TS_L4_UDP);
    assert_int_equal(p.m.ipver, 4);
    assert_string_equal(ts_addr_str(&p.m.src, a, sizeof a), "10.0.0.1");
    assert_string_equal(ts_addr_str(&p.m.dst, a, sizeof a), "10.0.0.2");
    assert_true(p.dedup);
    assert_true(p.dedup_fp == dedup_fingerprint(4, bv_make(f.b + 14, 20),
                                                bv_make(f.b + 34, n - 34)));
    assert_int_equal(p.cnt_pre, 1);
    assert_true(noted(&p, 0, 1, TS_IPV4));
    assert_true(noted(&p, 1, p.ncnt, TS_UDP));
    assert_int_equal(st.v[TS_IPV4] + st.v[TS_UDP] + st.v[TS_DECODED], 0);

    /* one VLAN tag: counted before the check */
    uint16_t tp[1] = { 0x8100 }, vid[1] = { 7 };
    mk_udp4(&f, "INVITE", 5060, 5062);
    w_eth_tags(&f, 0x0800, tp, vid, 1);
    p = decode_copy(1, &f);
    assert_int_equal(p.next, PKT_UDP);
    assert_int_equal(p.m.vlan, 7);
    assert_true(noted(&p, 0, p.cnt_pre, TS_VLAN_TAGGED));

    /* TCP: the segment */
    fb_set(&f, "REGISTER");
    w_tcp(&f, 5060, 5062, 1000, 2000, 0x18, 0);
    w_ipv4(&f, 6, 0x0a000001, 0x0a000002);
    w_eth(&f, 0x0800);
    p = decode_copy(1, &f);
    assert_int_equal(p.next, PKT_TCP);
    assert_int_equal(p.seg.seq, 1000);
    assert_int_equal(p.seg.payload.len, 8);
    assert_int_equal(p.m.l4, TS_L4_TCP);
    assert_true(noted(&p, p.cnt_pre, p.ncnt, TS_TCP));

    /* an IPv4 fragment: checked for a copy, then reassembled later */
    fb_set(&f, "INVITE");
    w_udp(&f, 5060, 5062);
    w_ipv4f(&f, 17, 9, 64, 0x0a000001, 0x0a000002, 0x2000);
    w_eth(&f, 0x0800);
    p = decode_copy(1, &f);
    assert_int_equal(p.next, PKT_FRAG4);
    assert_true(p.dedup);
    assert_int_equal(p.frag_id, 9);
    assert_int_equal(p.frag_off, 0);
    assert_true(p.frag_more);
    assert_int_equal(p.proto, 17);
    assert_int_equal(p.payload.len, 14);

    /* an IPv6 fragment after a hop-by-hop header */
    fb_set(&f, "INVITE");
    w_udp(&f, 5060, 5062);
    w_frag6(&f, 17, 0, 1, 77);
    w_ext6(&f, 44, 0, 0);
    w_ipv6(&f, 0, 1, 2);
    w_eth(&f, 0x86dd);
    p = decode_copy(1, &f);
    assert_int_equal(p.next, PKT_FRAG6);
    assert_int_equal(p.frag_id, 77);
    assert_int_equal(p.ext, 2);
    assert_int_equal(p.proto, 17);

    /* SCTP goes on in decoder_packet() (several chunks, several units) */
    fb_set(&f, "0123456789ab");
    w_ipv4(&f, 132, 0x0a000001, 0x0a000002);
    w_eth(&f, 0x0800);
    p = decode_copy(1, &f);
    assert_int_equal(p.next, PKT_IP);
    assert_int_equal(p.proto, 132);
    assert_int_equal(p.outer_ver, 4);

    /* truncated at every length: counted, nothing to deliver */
    mk_udp4(&f, "INVITE", 5060, 5062);
    w_eth(&f, 0x0800);
    for (size_t k = 0; k < 14 + 20 + 8; k++) {
        struct fb c = f;
        c.n = k;
        p = decode_copy(1, &c);
        assert_int_equal(p.next, PKT_NONE);
        assert_true(p.ncnt >= 1);
    }
    assert_int_equal(st.v[TS_LINK_TRUNCATED] + st.v[TS_IPV4_TRUNCATED], 0);
}

/* The duplicate check runs in decoder_packet(), on the fingerprint the
 * decode took: the same packet decoded from another copy of its bytes is a
 * duplicate, decoder_frame() agrees, and past the window it is new. A
 * duplicate's counters after the check are not raised. */
static void test_packet_dedup(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    mk_udp4(&f, "INVITE", 5060, 5062);
    w_eth(&f, 0x0800);
    struct ts_frame fr = { .ts_ns = 5000000000ull, .frame_no = 1, .linktype = 1,
                           .caplen = (uint32_t)f.n, .wirelen = (uint32_t)f.n, .data = f.b };
    struct ts_pkt p;
    decoder_decode(&fr, &p);
    decoder_packet(d, &p);
    assert_int_equal(st.v[TS_DUPLICATES], 0);
    assert_int_equal(rec.udp, 1);
    struct fb g = f; /* another copy of the bytes */
    fr.data = g.b;
    decoder_decode(&fr, &p);
    decoder_packet(d, &p);
    assert_int_equal(st.v[TS_DUPLICATES], 1);
    assert_int_equal(rec.udp, 1);
    assert_int_equal(st.v[TS_IPV4], 2);
    assert_int_equal(st.v[TS_UDP], 1);
    assert_int_equal(st.v[TS_DECODED], 1);
    decoder_frame(d, &fr);
    assert_int_equal(st.v[TS_DUPLICATES], 2);
    fr.ts_ns += 10000000000ull; /* past the window */
    decoder_decode(&fr, &p);
    decoder_packet(d, &p);
    assert_int_equal(st.v[TS_DUPLICATES], 2);
    assert_int_equal(rec.udp, 2);
    decoder_free(d);
}

static void test_ether_ipv4_udp(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    mk_udp4(&f, "INVITE", 5060, 5062);
    w_eth(&f, 0x0800);
    memset(f.b + f.n, 0, 20); /* Ethernet padding beyond the IP total length */
    f.n += 20;
    run(d, 1, &f);
    assert_int_equal(rec.udp, 1);
    assert_string_equal(rec.pay, "INVITE");
    assert_int_equal(rec.m.sport, 5060);
    assert_int_equal(rec.m.dport, 5062);
    assert_int_equal(rec.m.ipver, 4);
    assert_int_equal(rec.m.l4, TS_L4_UDP);
    assert_int_equal(rec.m.vlan, 0);
    assert_int_equal(rec.m.encap_depth, 0);
    assert_false(rec.m.reassembled);
    assert_int_equal(rec.m.linktype, 1);
    char a[64];
    assert_string_equal(ts_addr_str(&rec.m.src, a, sizeof a), "10.0.0.1");
    assert_string_equal(ts_addr_str(&rec.m.dst, a, sizeof a), "10.0.0.2");
    assert_int_equal(st.v[TS_DECODED], 1);
    assert_int_equal(st.v[TS_IPV4], 1);
    assert_int_equal(st.v[TS_UDP], 1);

    /* ARP is counted, not decoded */
    fb_set(&f, "0123456789012345678901234567");
    w_eth(&f, 0x0806);
    run(d, 1, &f);
    assert_int_equal(st.v[TS_LINK_NON_IP], 1);
    assert_int_equal(st.v[TS_DECODED], 1);
    decoder_free(d);
    decoder_free(NULL);
}

static void test_vlan_qinq(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    const uint16_t t1[] = { 0x8100 }, v1[] = { 0x2000 | 100 };
    mk_udp4(&f, "x", 1, 2);
    w_eth_tags(&f, 0x0800, t1, v1, 1);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 1);
    assert_int_equal(rec.m.vlan, 100); /* PCP bits masked off */
    assert_int_equal(st.v[TS_VLAN_TAGGED], 1);
    assert_int_equal(st.v[TS_VLAN_QINQ], 0);

    const uint16_t t2[] = { 0x88a8, 0x8100 }, v2[] = { 200, 100 };
    mk_udp4(&f, "y", 1, 2);
    w_eth_tags(&f, 0x0800, t2, v2, 2);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(rec.m.vlan, 200); /* the outermost tag */
    assert_int_equal(st.v[TS_VLAN_TAGGED], 2);
    assert_int_equal(st.v[TS_VLAN_QINQ], 1);

    const uint16_t t3[] = { 0x9100, 0x8100 }, v3[] = { 300, 100 };
    fb_set(&f, "z");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 1, 2);
    w_eth_tags(&f, 0x86dd, t3, v3, 2);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(rec.m.vlan, 300);
    assert_int_equal(rec.m.ipver, 6);
    assert_int_equal(st.v[TS_VLAN_QINQ], 2);
    decoder_free(d);
}

static void test_linux_cooked(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    uint8_t sll[16] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00 };
    mk_udp4(&f, "v1", 1, 2);
    fb_prepend(&f, sll, sizeof sll);
    run(d, 113, &f);
    assert_int_equal(rec.udp, 1);
    assert_string_equal(rec.pay, "v1");

    uint8_t sll2[20] = { 0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0 };
    fb_set(&f, "v2");
    w_udp(&f, 3, 4);
    w_ipv6(&f, 17, 1, 2);
    fb_prepend(&f, sll2, sizeof sll2);
    run(d, 276, &f);
    assert_int_equal(rec.udp, 2);
    assert_string_equal(rec.pay, "v2");
    assert_int_equal(rec.m.ipver, 6);
    char a[64];
    assert_string_equal(ts_addr_str(&rec.m.src, a, sizeof a), "2001:db8::1");
    decoder_free(d);
}

static void test_raw_ip(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    const int v4types[] = { 12, 14, 101, 228 };
    for (size_t i = 0; i < 4; i++) {
        mk_udp4(&f, "raw", 1, 2);
        run(d, v4types[i], &f);
        assert_int_equal(rec.udp, (int)i + 1);
    }
    const int v6types[] = { 12, 14, 101, 229 };
    for (size_t i = 0; i < 4; i++) {
        fb_set(&f, "raw6");
        w_udp(&f, 1, 2);
        w_ipv6(&f, 17, 1, 2);
        run(d, v6types[i], &f);
        assert_int_equal(rec.udp, 5 + (int)i);
        assert_int_equal(rec.m.ipver, 6);
    }
    /* version nibble neither 4 nor 6 */
    mk_udp4(&f, "raw", 1, 2);
    f.b[0] = 0x55;
    run(d, 12, &f);
    assert_int_equal(st.v[TS_LINK_MALFORMED], 1);
    /* IPv6 bytes under LINKTYPE_IPV4 */
    fb_set(&f, "raw6");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 1, 2);
    run(d, 228, &f);
    assert_int_equal(st.v[TS_IPV4_MALFORMED], 1);
    assert_int_equal(rec.udp, 8);
    decoder_free(d);
}

static void test_loopback(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    const uint8_t le2[4] = { 2, 0, 0, 0 }, be2[4] = { 0, 0, 0, 2 };
    mk_udp4(&f, "lo", 1, 2);
    fb_prepend(&f, le2, 4);
    run(d, 0, &f);
    mk_udp4(&f, "lo", 1, 2);
    fb_prepend(&f, be2, 4);
    run(d, 108, &f);
    assert_int_equal(rec.udp, 2);
    const uint8_t afs6[] = { 24, 28, 30 };
    for (int i = 0; i < 3; i++) {
        for (int be = 0; be < 2; be++) {
            uint8_t h[4] = { 0 };
            h[be ? 3 : 0] = afs6[i];
            fb_set(&f, "lo6");
            w_udp(&f, 1, 2);
            w_ipv6(&f, 17, 1, 2);
            fb_prepend(&f, h, 4);
            run(d, be ? 108 : 0, &f);
        }
    }
    assert_int_equal(rec.udp, 8);
    const uint8_t other[4] = { 7, 0, 0, 0 };
    mk_udp4(&f, "lo", 1, 2);
    fb_prepend(&f, other, 4);
    run(d, 0, &f);
    assert_int_equal(st.v[TS_LINK_NON_IP], 1);
    assert_int_equal(rec.udp, 8);
    decoder_free(d);
}

static void w_pppoe(struct fb *f, uint16_t pppproto)
{
    uint8_t h[8] = { 0x11, 0x00, 0x12, 0x34 };
    put16(h + 4, (uint16_t)(f->n + 2));
    put16(h + 6, pppproto);
    fb_prepend(f, h, 8);
}

static void test_pppoe(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    mk_udp4(&f, "ppp", 1, 2);
    w_pppoe(&f, 0x0021);
    w_eth(&f, 0x8864);
    memset(f.b + f.n, 0, 6); /* padding after the PPPoE payload */
    f.n += 6;
    run(d, 1, &f);
    assert_int_equal(rec.udp, 1);
    assert_string_equal(rec.pay, "ppp");
    assert_int_equal(st.v[TS_TUN_PPPOE], 1);

    fb_set(&f, "ppp6");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 1, 2);
    w_pppoe(&f, 0x0057);
    w_eth(&f, 0x8864);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 2);

    fb_set(&f, "lcp-config-request");
    w_pppoe(&f, 0xc021);
    w_eth(&f, 0x8864);
    run(d, 1, &f);
    assert_int_equal(st.v[TS_LINK_NON_IP], 1);

    /* PPPoE length beyond the frame */
    mk_udp4(&f, "ppp", 1, 2);
    w_pppoe(&f, 0x0021);
    put16(f.b + 4, 1000);
    w_eth(&f, 0x8864);
    run(d, 1, &f);
    assert_int_equal(st.v[TS_TUN_TRUNCATED], 1);
    /* wrong version/type */
    mk_udp4(&f, "ppp", 1, 2);
    w_pppoe(&f, 0x0021);
    f.b[0] = 0x21;
    w_eth(&f, 0x8864);
    run(d, 1, &f);
    assert_int_equal(st.v[TS_TUN_MALFORMED], 1);
    assert_int_equal(rec.udp, 2);
    decoder_free(d);
}

static void test_unknown_linktype(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    mk_udp4(&f, "x", 1, 2);
    run(d, 147, &f);
    run(d, 147, &f);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_LINK_UNSUPPORTED], 2);
    assert_int_equal(rec.udp, 1);
    struct linktype_count lc[4];
    size_t n = decoder_linktypes(d, lc, 4);
    assert_int_equal(n, 2);
    assert_int_equal(lc[0].linktype, 147);
    assert_int_equal(lc[0].packets, 2);
    assert_int_equal(lc[1].linktype, 12);
    assert_int_equal(lc[1].packets, 1);
    assert_int_equal(decoder_linktypes(d, lc, 1), 1);
    /* the table is bounded: many distinct types never overflow it */
    for (int lt = 1000; lt < 1100; lt++)
        run(d, lt, &f);
    struct linktype_count big[200];
    n = decoder_linktypes(d, big, 200);
    assert_true(n >= 2 && n < 100);
    decoder_free(d);
}

/* ---- tunnels ---- */

/* Inner IPv4 UDP 192.168.1.1 -> 192.168.1.2, "inner". */
static void mk_inner(struct fb *f)
{
    fb_set(f, "inner");
    w_udp(f, 5060, 5060);
    w_ipv4(f, 17, 0xc0a80101, 0xc0a80102);
}

static void check_inner(int n, int depth)
{
    char a[64];
    assert_int_equal(rec.udp, n);
    assert_string_equal(rec.pay, "inner");
    assert_string_equal(ts_addr_str(&rec.m.src, a, sizeof a), "192.168.1.1");
    assert_int_equal(rec.m.encap_depth, depth);
}

static void test_gre(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    const uint16_t flagsets[] = { 0, 0x8000, 0x2000, 0x1000, 0xb000 };
    for (int i = 0; i < 5; i++) {
        mk_inner(&f);
        w_gre(&f, flagsets[i], 0x0800);
        w_ipv4(&f, 47, 0x01010101, 0x02020202);
        w_eth(&f, 0x0800);
        run(d, 1, &f);
        check_inner(i + 1, 1);
    }
    /* IPv6 inside GRE */
    fb_set(&f, "inner");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 1, 2);
    w_gre(&f, 0x2000, 0x86dd);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 6);
    assert_int_equal(rec.m.ipver, 6);
    /* transparent Ethernet bridging, inner VLAN */
    const uint16_t t[] = { 0x8100 }, v[] = { 42 };
    mk_inner(&f);
    w_eth_tags(&f, 0x0800, t, v, 1);
    w_gre(&f, 0, 0x6558);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    check_inner(7, 1);
    assert_int_equal(rec.m.vlan, 42);
    assert_int_equal(st.v[TS_TUN_GRE], 7);
    /* GRE version 1 (PPTP) and an unknown protocol */
    mk_inner(&f);
    w_gre(&f, 0x0001, 0x0800);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    run(d, 12, &f);
    mk_inner(&f);
    w_gre(&f, 0, 0x880b);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_TUN_UNSUPPORTED], 2);
    assert_int_equal(rec.udp, 7);
    decoder_free(d);
}

static void test_erspan(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    /* type II: GRE with sequence number, 8-byte header */
    uint8_t e2[8] = { 0x10, 0x64, 0x00, 0x01, 0, 0, 0, 0 };
    mk_inner(&f);
    w_eth(&f, 0x0800);
    fb_prepend(&f, e2, 8);
    w_gre(&f, 0x1000, 0x88be);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    check_inner(1, 1);
    assert_int_equal(st.v[TS_TUN_ERSPAN2], 1);
    /* type I: no sequence number, no header */
    mk_inner(&f);
    w_eth(&f, 0x0800);
    w_gre(&f, 0, 0x88be);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    run(d, 12, &f);
    check_inner(2, 1);
    /* type III without and with the platform subheader */
    for (int o = 0; o < 2; o++) {
        uint8_t e3[20] = { 0x20, 0x64, 0x00, 0x01, 1, 2, 3, 4, 0, 0, 0x00, (uint8_t)o };
        mk_inner(&f);
        w_eth(&f, 0x0800);
        fb_prepend(&f, e3, o ? 20 : 12);
        w_gre(&f, 0x1000, 0x22eb);
        w_ipv4(&f, 47, 0x01010101, 0x02020202);
        w_eth(&f, 0x0800);
        run(d, 1, &f);
        check_inner(3 + o, 1);
    }
    assert_int_equal(st.v[TS_TUN_ERSPAN3], 2);
    /* bad version in the ERSPAN II header */
    e2[0] = 0x30;
    mk_inner(&f);
    w_eth(&f, 0x0800);
    fb_prepend(&f, e2, 8);
    w_gre(&f, 0x1000, 0x88be);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_TUN_MALFORMED], 1);
    assert_int_equal(rec.udp, 4);
    decoder_free(d);
}

static void test_ipip(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    mk_inner(&f);
    w_ipv4(&f, 4, 0x01010101, 0x02020202);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    check_inner(1, 1);
    assert_int_equal(st.v[TS_TUN_IPIP], 1);
    /* IPv6 in IPv4 */
    fb_set(&f, "inner");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 7, 8);
    w_ipv4(&f, 41, 0x01010101, 0x02020202);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(rec.m.ipver, 6);
    assert_int_equal(st.v[TS_TUN_IP6IN4], 1);
    /* IPv4 in IPv6 and IPv6 in IPv6 */
    mk_inner(&f);
    w_ipv6(&f, 4, 1, 2);
    run(d, 12, &f);
    check_inner(3, 1);
    fb_set(&f, "inner");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 7, 8);
    w_ipv6(&f, 41, 1, 2);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 4);
    assert_int_equal(rec.m.src.a[15], 7);
    assert_int_equal(st.v[TS_TUN_IPIP], 3);
    decoder_free(d);
}

static void test_vxlan(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    uint8_t vx[8] = { 0x08, 0, 0, 0, 0, 0x10, 0x00, 0 };
    mk_inner(&f);
    w_eth(&f, 0x0800);
    fb_prepend(&f, vx, 8);
    w_udp(&f, 40000, 4789);
    w_ipv4(&f, 17, 0x01010101, 0x02020202);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    check_inner(1, 1);
    assert_int_equal(rec.m.sport, 5060);
    assert_int_equal(st.v[TS_TUN_VXLAN], 1);
    assert_int_equal(st.v[TS_UDP], 1); /* the outer UDP is the tunnel */
    /* I flag missing */
    vx[0] = 0;
    mk_inner(&f);
    w_eth(&f, 0x0800);
    fb_prepend(&f, vx, 8);
    w_udp(&f, 40000, 4789);
    w_ipv4(&f, 17, 0x01010101, 0x02020202);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_TUN_MALFORMED], 1);
    assert_int_equal(rec.udp, 1);
    decoder_free(d);
}

/* IP-in-IP nested n times. */
static void mk_nested(struct fb *f, int n)
{
    mk_inner(f);
    for (int i = 0; i < n; i++)
        w_ipv4(f, 4, 0x01010101 + (uint32_t)i, 0x02020202);
}

static void test_depth_guard(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    mk_nested(&f, TS_MAX_ENCAP_DEPTH - 1);
    run(d, 12, &f);
    check_inner(1, TS_MAX_ENCAP_DEPTH - 1);
    mk_nested(&f, TS_MAX_ENCAP_DEPTH);
    run(d, 12, &f);
    check_inner(2, TS_MAX_ENCAP_DEPTH);
    assert_int_equal(st.v[TS_TUN_TOO_DEEP], 0);
    mk_nested(&f, TS_MAX_ENCAP_DEPTH + 1);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(st.v[TS_TUN_TOO_DEEP], 1);
    /* VLAN tags count towards the same guard */
    uint16_t tp[TS_MAX_ENCAP_DEPTH + 1], vid[TS_MAX_ENCAP_DEPTH + 1];
    for (int i = 0; i <= TS_MAX_ENCAP_DEPTH; i++) {
        tp[i] = 0x8100;
        vid[i] = (uint16_t)(i + 1);
    }
    mk_inner(&f);
    w_eth_tags(&f, 0x0800, tp, vid, TS_MAX_ENCAP_DEPTH);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 3);
    mk_inner(&f);
    w_eth_tags(&f, 0x0800, tp, vid, TS_MAX_ENCAP_DEPTH + 1);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(st.v[TS_TUN_TOO_DEEP], 2);
    decoder_free(d);
}

/* ---- IP ---- */

static void test_ipv6_ext(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    fb_set(&f, "tcp-data");
    w_tcp(&f, 5060, 40000, 1000, 2000, 0x18, 0);
    w_ext6(&f, 6, 1, 1);   /* AH, 12 bytes */
    w_ext6(&f, 51, 0, 0);  /* destination options */
    w_ext6(&f, 60, 2, 0);  /* routing, 24 bytes */
    w_ext6(&f, 43, 0, 0);  /* hop-by-hop */
    w_ipv6(&f, 0, 1, 2);
    w_eth(&f, 0x86dd);
    run(d, 1, &f);
    assert_int_equal(rec.tcp, 1);
    assert_string_equal(rec.pay, "tcp-data");
    assert_int_equal(rec.m.l4, TS_L4_TCP);

    /* TS_MAX_IPV6_EXT_HDRS headers pass, one more does not */
    for (int n = TS_MAX_IPV6_EXT_HDRS - 1; n <= TS_MAX_IPV6_EXT_HDRS + 1; n++) {
        fb_set(&f, "many");
        w_udp(&f, 1, 2);
        w_ext6(&f, 17, 0, 0);
        for (int i = 1; i < n; i++)
            w_ext6(&f, 60, 0, 0);
        w_ipv6(&f, 60, 1, 2);
        run(d, 229, &f);
    }
    assert_int_equal(rec.udp, 2);
    assert_int_equal(st.v[TS_IPV6_UNSUPPORTED], 1);

    /* ESP: unsupported; atomic fragment: a whole packet */
    fb_set(&f, "encrypted-bytes");
    w_ipv6(&f, 50, 1, 2);
    run(d, 229, &f);
    assert_int_equal(st.v[TS_IPV6_UNSUPPORTED], 2);
    fb_set(&f, "atomic");
    w_udp(&f, 1, 2);
    w_frag6(&f, 17, 0, 0, 99);
    w_ipv6(&f, 44, 1, 2);
    run(d, 229, &f);
    assert_int_equal(rec.udp, 3);
    assert_string_equal(rec.pay, "atomic");
    assert_false(rec.m.reassembled);
    /* extension header running past the payload */
    fb_set(&f, "x");
    w_ext6(&f, 17, 0, 0);
    f.b[1] = 10;
    w_ipv6(&f, 60, 1, 2);
    run(d, 229, &f);
    assert_int_equal(st.v[TS_IPV6_TRUNCATED], 1);
    /* no next header, ICMPv6 */
    fb_set(&f, "icmp");
    w_ipv6(&f, 58, 1, 2);
    run(d, 229, &f);
    fb_set(&f, "");
    w_ext6(&f, 59, 0, 0);
    w_ipv6(&f, 60, 1, 2);
    run(d, 229, &f);
    assert_int_equal(st.v[TS_IP_OTHER_PROTO], 2);
    decoder_free(d);
}

static void test_fragments(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb whole, f;
    char msg[200];
    memset(msg, 'a', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    memcpy(msg, "OPTIONS", 7);
    fb_set(&whole, msg);
    w_udp(&whole, 5060, 5060); /* UDP header + payload: 207 bytes */
    /* IPv4: 104 bytes at offset 0 (MF), the rest at offset 104 */
    memcpy(f.b, whole.b, 104);
    f.n = 104;
    w_ipv4f(&f, 17, 0x4242, 64, 0x0a000001, 0x0a000002, 0x2000);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 0);
    memcpy(f.b, whole.b + 104, whole.n - 104);
    f.n = whole.n - 104;
    w_ipv4f(&f, 17, 0x4242, 64, 0x0a000001, 0x0a000002, 104 / 8);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 1);
    assert_true(rec.m.reassembled);
    assert_string_equal(rec.pay, msg);
    assert_int_equal(rec.m.sport, 5060);
    assert_int_equal(st.v[TS_FRAG_REASSEMBLED], 1);
    assert_int_equal(st.v[TS_DECODED], 1);

    /* IPv6: the fragment header, second fragment first */
    memcpy(f.b, whole.b + 104, whole.n - 104);
    f.n = whole.n - 104;
    w_frag6(&f, 17, 104, 0, 0xabcdef);
    w_ipv6(&f, 44, 1, 2);
    run(d, 229, &f);
    memcpy(f.b, whole.b, 104);
    f.n = 104;
    w_frag6(&f, 17, 0, 1, 0xabcdef);
    w_ext6(&f, 44, 0, 0); /* hop-by-hop before the fragment header */
    w_ipv6(&f, 0, 1, 2);
    run(d, 229, &f);
    assert_int_equal(rec.udp, 2);
    assert_true(rec.m.reassembled);
    assert_int_equal(rec.m.ipver, 6);
    assert_string_equal(rec.pay, msg);

    /* a fragmented tunnel: the outer IPv4 fragments carry IPv4/UDP */
    struct fb inner;
    fb_set(&inner, msg);
    w_udp(&inner, 5060, 5060);
    w_ipv4(&inner, 17, 0xc0a80101, 0xc0a80102);
    memcpy(f.b, inner.b, 96);
    f.n = 96;
    w_ipv4f(&f, 4, 0x777, 64, 0x01010101, 0x02020202, 0x2000);
    run(d, 12, &f);
    memcpy(f.b, inner.b + 96, inner.n - 96);
    f.n = inner.n - 96;
    w_ipv4f(&f, 4, 0x777, 64, 0x01010101, 0x02020202, 96 / 8);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(rec.m.encap_depth, 1);
    assert_string_equal(rec.pay, msg);
    decoder_free(d);
}

static void test_tcp(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    fb_set(&f, "SIP/2.0 200 OK\r\n");
    w_tcp(&f, 5060, 34567, 0x01020304, 0xa0b0c0d0, 0x18, 12);
    w_ipv4(&f, 6, 0x0a000001, 0x0a000002);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    assert_int_equal(rec.tcp, 1);
    assert_int_equal(rec.seg.seq, 0x01020304);
    assert_int_equal(rec.seg.ack, 0xa0b0c0d0);
    assert_int_equal(rec.seg.flags, TCP_F_PSH | TCP_F_ACK);
    assert_int_equal(rec.seg.window, 29200);
    assert_string_equal(rec.pay, "SIP/2.0 200 OK\r\n");
    assert_int_equal(rec.m.sport, 5060);
    assert_int_equal(rec.m.dport, 34567);
    assert_int_equal(st.v[TS_TCP], 1);
    /* bare SYN: empty payload still delivered */
    fb_set(&f, "");
    w_tcp(&f, 34567, 5060, 1, 0, TCP_F_SYN, 20);
    w_ipv4(&f, 6, 0x0a000002, 0x0a000001);
    run(d, 12, &f);
    assert_int_equal(rec.tcp, 2);
    assert_int_equal(rec.seg.payload.len, 0);
    assert_int_equal(rec.seg.flags, TCP_F_SYN);
    decoder_free(d);
}

/* SCTP: common header then chunks (each given with its full length). */
static void add_chunk(struct fb *f, uint8_t type, const char *data)
{
    size_t dl = strlen(data);
    size_t hl = type == 0 ? 16 : 4;
    uint8_t *p = f->b + f->n;
    memset(p, 0, hl + dl + 4);
    p[0] = type;
    p[1] = 0x03;
    put16(p + 2, (uint16_t)(hl + dl));
    if (type == 0)
        put32(p + 12, 0); /* payload protocol id */
    memcpy(p + hl, data, dl);
    f->n += (hl + dl + 3) & ~(size_t)3;
}

static void w_sctp(struct fb *f, uint16_t sp, uint16_t dp)
{
    uint8_t h[12] = { 0 };
    put16(h, sp);
    put16(h + 2, dp);
    put32(h + 4, 0xdeadbeef);
    fb_prepend(f, h, 12);
}

static void test_sctp(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    f.n = 0;
    add_chunk(&f, 3, "sack-body-xx");
    add_chunk(&f, 0, "INVITE sip:a");
    add_chunk(&f, 0, "BYE sip:b@c"); /* 11 bytes: padded */
    add_chunk(&f, 0, "");            /* no user data: nothing delivered */
    w_sctp(&f, 5060, 5061);
    w_ipv4(&f, 132, 0x0a000001, 0x0a000002);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(rec.m.l4, TS_L4_SCTP);
    assert_int_equal(rec.m.sport, 5060);
    assert_int_equal(rec.m.dport, 5061);
    assert_string_equal(rec.pay, "BYE sip:b@c");
    assert_int_equal(st.v[TS_SCTP], 1);
    assert_int_equal(st.v[TS_DECODED], 1);

    /* the last chunk without its padding */
    f.n = 0;
    add_chunk(&f, 0, "abcde");
    f.n -= 3;
    w_sctp(&f, 1, 2);
    w_ipv4(&f, 132, 0x0a000001, 0x0a000002);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 3);
    assert_string_equal(rec.pay, "abcde");

    /* chunk length < 4, DATA length < 16, chunk length past the end */
    const uint16_t bad[] = { 2, 12, 400 };
    for (int i = 0; i < 3; i++) {
        f.n = 0;
        add_chunk(&f, 0, "data");
        put16(f.b + 2, bad[i]);
        w_sctp(&f, 1, 2);
        w_ipv4(&f, 132, 0x0a000001, 0x0a000002);
        run(d, 12, &f);
    }
    assert_int_equal(st.v[TS_SCTP_MALFORMED], 3);
    assert_int_equal(rec.udp, 3);
    /* SCTP over IPv6 */
    f.n = 0;
    add_chunk(&f, 0, "v6data");
    w_sctp(&f, 1, 2);
    w_ipv6(&f, 132, 1, 2);
    run(d, 229, &f);
    assert_int_equal(rec.udp, 4);
    assert_int_equal(rec.m.ipver, 6);
    decoder_free(d);
}

static void test_malformed_lengths(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    /* IHL < 5 */
    mk_udp4(&f, "x", 1, 2);
    f.b[0] = 0x44;
    run(d, 12, &f);
    /* total length < header length */
    mk_udp4(&f, "x", 1, 2);
    put16(f.b + 2, 19);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_IPV4_MALFORMED], 2);
    /* IHL beyond the total length */
    mk_udp4(&f, "x", 1, 2);
    f.b[0] = 0x4f;
    run(d, 12, &f);
    assert_int_equal(st.v[TS_IPV4_MALFORMED], 3);
    /* total length beyond the capture */
    mk_udp4(&f, "x", 1, 2);
    put16(f.b + 2, 1500);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_IPV4_TRUNCATED], 1);
    /* UDP length < 8, > the IP payload; shorter than the IP payload trims */
    mk_udp4(&f, "x", 1, 2);
    put16(f.b + 24, 7);
    run(d, 12, &f);
    mk_udp4(&f, "x", 1, 2);
    put16(f.b + 24, 10);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_UDP_MALFORMED], 2);
    mk_udp4(&f, "xyz", 1, 2);
    put16(f.b + 24, 9);
    run(d, 12, &f);
    assert_int_equal(rec.udp, 1);
    assert_string_equal(rec.pay, "x");
    /* TCP data offset < 5 and beyond the segment */
    fb_set(&f, "");
    w_tcp(&f, 1, 2, 0, 0, 0x10, 0);
    w_ipv4(&f, 6, 0x0a000001, 0x0a000002);
    f.b[20 + 12] = 0x40;
    run(d, 12, &f);
    assert_int_equal(st.v[TS_TCP_MALFORMED], 1);
    f.b[20 + 12] = 0xf0;
    run(d, 12, &f);
    assert_int_equal(st.v[TS_TCP_TRUNCATED], 1);
    /* IPv6 wrong version, payload length beyond the capture, zero */
    fb_set(&f, "x");
    w_udp(&f, 1, 2);
    w_ipv6(&f, 17, 1, 2);
    f.b[0] = 0x40;
    run(d, 229, &f);
    assert_int_equal(st.v[TS_IPV6_MALFORMED], 1);
    f.b[0] = 0x60;
    put16(f.b + 4, 100);
    run(d, 229, &f);
    assert_int_equal(st.v[TS_IPV6_TRUNCATED], 1);
    put16(f.b + 4, 0);
    run(d, 229, &f);
    assert_int_equal(st.v[TS_IPV6_UNSUPPORTED], 1);
    assert_int_equal(rec.udp, 1);
    assert_int_equal(rec.tcp, 0);
    /* ICMP and ESP over IPv4 */
    fb_set(&f, "ping");
    w_ipv4(&f, 1, 0x0a000001, 0x0a000002);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_IP_OTHER_PROTO], 1);
    fb_set(&f, "esp-bytes");
    w_ipv4(&f, 50, 0x0a000001, 0x0a000002);
    run(d, 12, &f);
    assert_int_equal(st.v[TS_IPV4_UNSUPPORTED], 1);
    decoder_free(d);
}

/* Cut a valid frame at every length: exactly one truncated verdict, no
 * delivery, nothing malformed; the whole frame is delivered. */
static void cut_everywhere(int lt, const struct fb *f, int expect_udp, int expect_tcp)
{
    struct decoder *d = mk();
    decoder_set_dedup(d, false);
    for (size_t n = 0; n < f->n; n++) {
        memset(&st, 0, sizeof st);
        run_n(d, lt, f->b, n, 1);
        assert_int_equal(rec.udp + rec.tcp, 0);
        if (truncated_sum() != 1 || malformed_sum() != 0)
            fail_msg("link type %d cut at %zu of %zu: %llu truncated, %llu malformed",
                     lt, n, f->n, (unsigned long long)truncated_sum(),
                     (unsigned long long)malformed_sum());
    }
    memset(&st, 0, sizeof st);
    run_n(d, lt, f->b, f->n, 1);
    assert_int_equal(rec.udp, expect_udp);
    assert_int_equal(rec.tcp, expect_tcp);
    assert_int_equal(truncated_sum() + malformed_sum(), 0);
    decoder_free(d);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    struct fb f;
    const uint16_t t2[] = { 0x88a8, 0x8100 }, v2[] = { 200, 100 };

    mk_udp4(&f, "payload", 1, 2);
    w_eth_tags(&f, 0x0800, t2, v2, 2);
    cut_everywhere(1, &f, 1, 0);

    fb_set(&f, "tcp");
    w_tcp(&f, 1, 2, 3, 4, 0x18, 8);
    w_ext6(&f, 6, 0, 0);
    w_ipv6(&f, 0, 1, 2);
    uint8_t sll[16] = { 0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd };
    fb_prepend(&f, sll, 16);
    cut_everywhere(113, &f, 0, 1);

    mk_inner(&f);
    w_eth(&f, 0x0800);
    uint8_t e3[20] = { 0x20, 0x64, 0x00, 0x01, 1, 2, 3, 4, 0, 0, 0x00, 1 };
    fb_prepend(&f, e3, 20);
    w_gre(&f, 0xb000, 0x22eb);
    w_ipv4(&f, 47, 0x01010101, 0x02020202);
    w_eth(&f, 0x0800);
    cut_everywhere(1, &f, 1, 0);

    uint8_t vx[8] = { 0x08, 0, 0, 0, 0, 0x10, 0x00, 0 };
    mk_inner(&f);
    w_eth(&f, 0x0800);
    fb_prepend(&f, vx, 8);
    w_udp(&f, 40000, 4789);
    w_ipv6(&f, 17, 1, 2);
    cut_everywhere(229, &f, 1, 0);

    mk_inner(&f);
    w_pppoe(&f, 0x0021);
    w_eth(&f, 0x8864);
    cut_everywhere(1, &f, 1, 0);

    f.n = 0;
    add_chunk(&f, 0, "sctp-data");
    w_sctp(&f, 1, 2);
    w_ipv4(&f, 132, 0x0a000001, 0x0a000002);
    const uint8_t le2[4] = { 2, 0, 0, 0 };
    fb_prepend(&f, le2, 4);
    cut_everywhere(0, &f, 1, 0);

    mk_nested(&f, 2);
    uint8_t sll2[20] = { 0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0 };
    fb_prepend(&f, sll2, 20);
    cut_everywhere(276, &f, 1, 0);
}

/* Random bytes under every link type: no crash, no sanitizer report. */
static void test_garbage(void **state)
{
    (void)state;
    struct decoder *d = mk();
    uint8_t buf[600];
    uint32_t x = 12345;
    const int lts[] = { 0, 1, 12, 101, 108, 113, 228, 229, 276 };
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(x % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        /* make deeper layers likely: plausible IP headers at the start */
        if (n > 20 && (round & 1)) {
            buf[0] = 0x45;
            buf[2] = (uint8_t)(n >> 8);
            buf[3] = (uint8_t)n;
            buf[6] = 0;
            buf[9] = (uint8_t)((const uint8_t[]){ 4, 6, 17, 41, 47, 132 }[round % 6]);
        }
        run_n(d, lts[round % 9], buf, n, (uint64_t)round);
    }
    decoder_free(d);
}

/* ---- SPAN duplicates ---- */

static void test_dedup_decoder(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb a, b;
    const uint16_t t1[] = { 0x8100 }, v1[] = { 10 }, v2[] = { 20 };
    fb_set(&a, "INVITE sip:x SIP/2.0");
    w_udp(&a, 5060, 5060);
    w_ipv4f(&a, 17, 0x1111, 64, 0x0a000001, 0x0a000002, 0x4000);
    b = a;
    w_eth_tags(&a, 0x0800, t1, v1, 1);
    /* the copy: other VLAN, TTL one lower (so another checksum), ECN set */
    b.b[8] = 63;
    put16(b.b + 10, 0x1111);
    b.b[1] = 0x01;
    w_eth_tags(&b, 0x0800, t1, v2, 1);

    uint64_t t0 = 5000000000ull;
    run_n(d, 1, a.b, a.n, t0);
    run_n(d, 1, b.b, b.n, t0 + 1000);
    assert_int_equal(rec.udp, 1);
    assert_int_equal(st.v[TS_DUPLICATES], 1);
    assert_int_equal(st.v[TS_UDP], 1);
    /* the window's edge: N is a copy, N+1 is not */
    run_n(d, 1, b.b, b.n, t0 + TS_DEDUP_WINDOW_NS);
    assert_int_equal(st.v[TS_DUPLICATES], 2);
    run_n(d, 1, b.b, b.n, t0 + TS_DEDUP_WINDOW_NS + 1);
    assert_int_equal(rec.udp, 2);
    /* a retransmission with another IP ID within the window passes */
    put16(a.b + 14 + 4 + 4, 0x2222);
    run_n(d, 1, a.b, a.n, t0 + TS_DEDUP_WINDOW_NS + 2);
    assert_int_equal(rec.udp, 3);
    /* different payload, same header: not a copy */
    a.b[a.n - 1] ^= 1;
    run_n(d, 1, a.b, a.n, t0 + TS_DEDUP_WINDOW_NS + 3);
    assert_int_equal(rec.udp, 4);
    assert_int_equal(st.v[TS_DUPLICATES], 2);

    /* tunnelled copy: another outer header, same inner packet */
    struct fb g;
    mk_inner(&g);
    w_gre(&g, 0, 0x0800);
    w_ipv4(&g, 47, 0x01010101, 0x02020202);
    run_n(d, 12, g.b, g.n, t0);
    mk_inner(&g);
    w_ipv4(&g, 4, 0x03030303, 0x04040404);
    run_n(d, 12, g.b, g.n, t0 + 10);
    assert_int_equal(rec.udp, 5);
    assert_int_equal(st.v[TS_DUPLICATES], 3);

    /* IPv6: hop limit and traffic class masked */
    fb_set(&g, "v6");
    w_udp(&g, 1, 2);
    w_ipv6(&g, 17, 1, 2);
    run_n(d, 229, g.b, g.n, t0);
    g.b[7] = 63;
    g.b[0] = 0x6f;
    run_n(d, 229, g.b, g.n, t0 + 5);
    assert_int_equal(rec.udp, 6);
    assert_int_equal(st.v[TS_DUPLICATES], 4);

    /* switched off: every copy passes */
    decoder_set_dedup(d, false);
    run_n(d, 229, g.b, g.n, t0 + 6);
    assert_int_equal(rec.udp, 7);
    decoder_free(d);
}

/* GTP-U G-PDU (3GPP TS 29.281 5.1) around one inner IPv4/UDP packet whose
 * IP ID is 0 and UDP checksum 0, as a GTP tunnel carries RTP. */
static void mk_gtpu(struct fb *f, uint8_t seq, uint8_t flags, bool ext)
{
    char pl[64];
    memset(pl, 'r', sizeof pl - 1);
    pl[sizeof pl - 1] = '\0';
    pl[40] = (char)('A' + seq);   /* differs past the first 32 payload bytes */
    fb_set(f, pl);
    w_udp(f, 30000, 40000);
    w_ipv4f(f, 17, 0, 64, 0x0a640001, 0x0a640002, 0x4000);
    size_t inner = f->n;
    if (ext) {   /* one PDU session container (4 bytes), then none */
        uint8_t e[4] = { 1, 0x10, 0x00, 0 };
        fb_prepend(f, e, 4);
    }
    uint8_t h[12] = { flags, 0xff, 0, 0, 0, 0, 0, 42, 0, 0, 0, (uint8_t)(ext ? 0x85 : 0) };
    size_t hl = (flags & 7) ? 12 : 8;
    put16(h + 2, (uint16_t)(f->n - inner + (hl - 8) + inner));
    fb_prepend(f, h, hl);
    w_udp(f, 2152, 2152);
    w_ipv4f(f, 17, 0, 64, 0xc0000201, 0xc0000202, 0x4000);   /* outer IP ID 0 */
    w_eth(f, 0x0800);
}

static void test_gtpu(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    char a[64];
    uint64_t t0 = 7000000000ull;
    /* two distinct packets 1 ms apart: both delivered, to the inner IP */
    mk_gtpu(&f, 0, 0x30, false);
    run_n(d, 1, f.b, f.n, t0);
    mk_gtpu(&f, 1, 0x30, false);
    run_n(d, 1, f.b, f.n, t0 + 1000000);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(st.v[TS_DUPLICATES], 0);
    assert_int_equal(st.v[TS_TUN_GTPU], 2);
    assert_string_equal(ts_addr_str(&rec.m.src, a, sizeof a), "10.100.0.1");
    assert_int_equal(rec.m.sport, 30000);
    assert_int_equal(rec.m.encap_depth, 1);
    assert_int_equal(rec.pay[40], 'B');
    /* a SPAN copy of the second: dropped */
    run_n(d, 1, f.b, f.n, t0 + 1000100);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(st.v[TS_DUPLICATES], 1);
    /* sequence number and an extension header */
    mk_gtpu(&f, 2, 0x36, true);
    run_n(d, 1, f.b, f.n, t0 + 2000000);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(rec.pay[40], 'C');
    /* echo request (type 1): no user packet */
    mk_gtpu(&f, 3, 0x30, false);
    f.b[14 + 20 + 8 + 1] = 1;
    uint64_t before = st.v[TS_TUN_UNSUPPORTED];
    run_n(d, 1, f.b, f.n, t0 + 3000000);
    assert_int_equal(st.v[TS_TUN_UNSUPPORTED], before + 1);
    assert_int_equal(rec.udp, 3);
    /* version 2 (GTP-C): malformed here */
    mk_gtpu(&f, 4, 0x48, false);
    run_n(d, 1, f.b, f.n, t0 + 4000000);
    assert_int_equal(st.v[TS_TUN_MALFORMED], 1);
    assert_int_equal(rec.udp, 3);
    decoder_free(d);
}

/* The dedup fingerprint of zero-checksum UDP covers the whole payload. */
static void test_dedup_zero_checksum(void **state)
{
    (void)state;
    struct fb a, b;
    char pl[100];
    memset(pl, 'x', sizeof pl - 1);
    pl[sizeof pl - 1] = '\0';
    fb_set(&a, pl);
    w_udp(&a, 1000, 2000);
    w_ipv4f(&a, 17, 0, 64, 0x0a000001, 0x0a000002, 0x4000);
    b = a;
    b.b[20 + 8 + 70] = 'y';
    struct bv ha = bv_make(a.b, 20), hb = bv_make(b.b, 20);
    assert_true(dedup_fingerprint(4, ha, bv_make(a.b + 20, a.n - 20)) !=
                dedup_fingerprint(4, hb, bv_make(b.b + 20, b.n - 20)));
    /* with a checksum, the first bytes stand for the rest */
    put16(a.b + 20 + 6, 0x1234);
    put16(b.b + 20 + 6, 0x1234);
    assert_true(dedup_fingerprint(4, ha, bv_make(a.b + 20, a.n - 20)) ==
                dedup_fingerprint(4, hb, bv_make(b.b + 20, b.n - 20)));
}

/* ICMP / ICMPv6 destination unreachable quoting a SIP datagram. */
static void test_icmp_unreach(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    char a[64];
    const char *inv = "INVITE sip:1@x SIP/2.0\r\nCall-ID: abc\r\n";
    fb_set(&f, inv);
    w_udp(&f, 5062, 5060);
    w_ipv4(&f, 17, 0x0a000001, 0x0a000002);
    uint8_t ic[8] = { 3, 3, 0, 0, 0, 0, 0, 0 };
    fb_prepend(&f, ic, 8);
    w_ipv4(&f, 1, 0x0a000002, 0x0a000001);
    w_eth(&f, 0x0800);
    run(d, 1, &f);
    assert_int_equal(rec.unreach, 1);
    assert_int_equal(rec.code, 3);
    assert_string_equal(ts_addr_str(&rec.q.src, a, sizeof a), "10.0.0.1");
    assert_string_equal(ts_addr_str(&rec.q.dst, a, sizeof a), "10.0.0.2");
    assert_int_equal(rec.q.sport, 5062);
    assert_int_equal(rec.q.dport, 5060);
    assert_string_equal(ts_addr_str(&rec.m.src, a, sizeof a), "10.0.0.2");
    assert_string_equal(rec.pay, inv);
    assert_int_equal(st.v[TS_ICMP_UNREACH], 1);
    assert_int_equal(rec.udp, 0);
    /* ICMPv6 type 1 code 4 */
    fb_set(&f, inv);
    w_udp(&f, 5060, 5060);
    w_ipv6(&f, 17, 1, 2);
    uint8_t ic6[8] = { 1, 4, 0, 0, 0, 0, 0, 0 };
    fb_prepend(&f, ic6, 8);
    w_ipv6(&f, 58, 2, 1);
    w_eth(&f, 0x86dd);
    run(d, 1, &f);
    assert_int_equal(rec.unreach, 2);
    assert_int_equal(rec.code, 4);
    assert_int_equal(rec.q.ipver, 6);
    /* echo reply, a quote cut inside the IP header, a quoted TCP segment */
    uint64_t other = st.v[TS_IP_OTHER_PROTO];
    fb_set(&f, "ping");
    uint8_t echo[8] = { 0, 0, 0, 0, 0, 1, 0, 1 };
    fb_prepend(&f, echo, 8);
    w_ipv4(&f, 1, 0x0a000002, 0x0a000001);
    run(d, 101, &f);
    assert_int_equal(st.v[TS_IP_OTHER_PROTO], other + 1);
    fb_set(&f, "");
    w_udp(&f, 5062, 5060);
    w_ipv4(&f, 17, 0x0a000001, 0x0a000002);
    f.n = 12;
    fb_prepend(&f, ic, 8);
    w_ipv4(&f, 1, 0x0a000002, 0x0a000001);
    run(d, 101, &f);
    assert_int_equal(st.v[TS_ICMP_MALFORMED], 1);
    fb_set(&f, "");
    w_tcp(&f, 5062, 5060, 1, 1, 0x18, 0);
    w_ipv4(&f, 6, 0x0a000001, 0x0a000002);
    fb_prepend(&f, ic, 8);
    w_ipv4(&f, 1, 0x0a000002, 0x0a000001);
    run(d, 101, &f);
    assert_int_equal(st.v[TS_ICMP_UNREACH_OTHER], 1);
    assert_int_equal(rec.unreach, 2);
    decoder_free(d);
}

static void test_dedup_ring(void **state)
{
    (void)state;
    struct dedup *dd = dedup_new();
    assert_non_null(dd);
    /* TS_DEDUP_RING fingerprints are all remembered ... */
    for (uint64_t i = 0; i < TS_DEDUP_RING; i++)
        assert_false(dedup_check(dd, i * 0x9e3779b97f4a7c15ull, 100));
    assert_true(dedup_check(dd, 0, 100));
    assert_true(dedup_check(dd, (TS_DEDUP_RING - 1) * 0x9e3779b97f4a7c15ull, 100));
    /* ... one more pushes the oldest out */
    assert_false(dedup_check(dd, 0xfeedull, 100));
    assert_false(dedup_check(dd, 0, 100));
    assert_true(dedup_check(dd, 0xfeedull, 100));
    /* timestamps slightly out of order still match */
    assert_true(dedup_check(dd, 0xfeedull, 50));
    /* a burst of one colliding bucket stays correct */
    for (uint64_t i = 0; i < 3 * TS_DEDUP_RING; i++)
        dedup_check(dd, i << 40, 1000 + i);
    assert_true(dedup_check(dd, (3ull * TS_DEDUP_RING - 1) << 40, 1000));
    dedup_free(dd);
    dedup_free(NULL);

    /* fingerprints: TTL/checksum/TOS masked, ID and payload not */
    uint8_t h1[20] = { 0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 17, 0xaa, 0xbb,
                       10, 0, 0, 1, 10, 0, 0, 2 };
    uint8_t h2[20];
    memcpy(h2, h1, 20);
    h2[1] = 0xb8;
    h2[8] = 63;
    h2[10] = 0x01;
    uint8_t pay[100];
    memset(pay, 7, sizeof pay);
    uint64_t f1 = dedup_fingerprint(4, bv_make(h1, 20), bv_make(pay, 100));
    assert_true(f1 == dedup_fingerprint(4, bv_make(h2, 20), bv_make(pay, 100)));
    h2[5] = 0x35;
    assert_true(f1 != dedup_fingerprint(4, bv_make(h2, 20), bv_make(pay, 100)));
    /* bytes past the first 64 do not count, the total length does */
    pay[80] = 8;
    assert_true(f1 == dedup_fingerprint(4, bv_make(h1, 20), bv_make(pay, 100)));
    pay[10] = 8;
    assert_true(f1 != dedup_fingerprint(4, bv_make(h1, 20), bv_make(pay, 100)));
    pay[10] = 7;
    assert_true(f1 != dedup_fingerprint(4, bv_make(h1, 20), bv_make(pay, 99)));
}

/* ---- real captures ---- */

struct counts {
    uint64_t frames, udp, tcp, sctp;
};

static struct counts cnt;

static void cnt_udp(void *ctx, const struct pkt_meta *m, struct bv payload)
{
    (void)ctx;
    (void)payload;
    if (m->l4 == TS_L4_SCTP)
        cnt.sctp++;
    else
        cnt.udp++;
}

static void cnt_tcp(void *ctx, const struct pkt_meta *m, const struct tcp_seg *seg)
{
    (void)ctx;
    (void)m;
    (void)seg;
    cnt.tcp++;
}

static void read_file(const char *name, bool dedup)
{
    static const struct decode_cb cb = { NULL, cnt_udp, cnt_tcp, NULL, NULL };
    char path[512], err[256];
    memset(&cnt, 0, sizeof cnt);
    memset(&st, 0, sizeof st);
    snprintf(path, sizeof path, "%s/pcaps/%s", TS_SHARED_DIR, name);
    struct pcapin *in = pcapin_new();
    struct decoder *d = decoder_new(&st, &cb);
    assert_non_null(in);
    assert_non_null(d);
    decoder_set_dedup(d, dedup);
    if (pcapin_add(in, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    struct ts_frame f;
    int rc;
    while ((rc = pcapin_next(in, &f, err, sizeof err)) == 1) {
        cnt.frames++;
        decoder_frame(d, &f);
    }
    assert_int_equal(rc, 0);
    decoder_free(d);
    pcapin_free(in);
}

/* Expected numbers are tshark's (-Y udp, -Y tcp, DATA chunks). */
static void test_real_files(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t frames, udp, tcp, sctp;
        enum ts_stat tun;
        uint64_t ntun;
    } files[] = {
        { "sngrep_ipip.pcap", 4, 0, 4, 0, TS_TUN_IPIP, 2 }, /* 2 of 4 tunnelled */
        { "heplify_erspan_sip_ipv4_udp.pcapng", 140, 140, 0, 0, TS_TUN_GRE, 140 },
        { "sipnab_DTMFsipinfo.pcap", 32, 32, 0, 0, TS_TUN_PPPOE, 32 },
        { "sipnab_h263-over-rtp.pcap", 49, 49, 0, 0, TS_IPV4, 49 },
        { "heplify_ipip0_rawip.pcap", 8, 8, 0, 0, TS_IPV4, 8 },
        { "ndpi_rtp_vlan.pcapng", 112, 75, 37, 0, TS_VLAN_TAGGED, 30 },
        { "heplify_sip_sctp.pcap", 5, 0, 0, 5, TS_SCTP, 5 },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        read_file(files[i].name, false);
        if (cnt.frames != files[i].frames || cnt.udp != files[i].udp ||
            cnt.tcp != files[i].tcp || cnt.sctp != files[i].sctp ||
            st.v[files[i].tun] != files[i].ntun)
            fail_msg("%s: frames %llu udp %llu tcp %llu sctp %llu counter %llu",
                     files[i].name, (unsigned long long)cnt.frames,
                     (unsigned long long)cnt.udp, (unsigned long long)cnt.tcp,
                     (unsigned long long)cnt.sctp,
                     (unsigned long long)st.v[files[i].tun]);
        assert_int_equal(truncated_sum() + malformed_sum(), 0);
        assert_int_equal(st.v[TS_DECODED], files[i].udp + files[i].tcp ? files[i].udp + files[i].tcp : files[i].sctp);
        /* none of these holds mirror copies: dedup must not eat anything */
        read_file(files[i].name, true);
        assert_int_equal(st.v[TS_DUPLICATES], 0);
        assert_int_equal(cnt.udp + cnt.tcp + cnt.sctp,
                         files[i].udp + files[i].tcp + files[i].sctp);
    }
}

/* A frame cut by the capture's snap length (caplen < wirelen), from an
 * exact-size heap copy of its first keep bytes. */
static void run_snapped(struct decoder *d, int lt, const struct fb *f, size_t keep)
{
    static uint64_t ts = 900000000000ull;
    ts += 1000000000ull;
    uint8_t *buf = malloc(keep);
    assert_non_null(buf);
    memcpy(buf, f->b, keep);
    struct ts_frame fr = { .ts_ns = ts, .frame_no = 1, .linktype = lt,
                           .caplen = (uint32_t)keep, .wirelen = (uint32_t)f->n, .data = buf };
    decoder_frame(d, &fr);
    free(buf);
}

/* Header-only captures: an unfragmented UDP datagram cut by the snap length
 * is delivered with what was kept and the size of the rest (IPv4, IPv6);
 * one whose UDP header is cut, a fragment, TCP, a tunnel, or an IP length
 * that lies in a whole frame stay truncated. */
static void test_snapped(void **state)
{
    (void)state;
    struct decoder *d = mk();
    struct fb f;
    char body[201];
    memset(body, 'r', 200);
    body[200] = '\0';
    mk_udp4(&f, body, 30000, 30002);
    run_snapped(d, 12, &f, 20 + 8 + 12);
    assert_int_equal(rec.udp, 1);
    assert_int_equal(rec.paylen, 12);
    assert_int_equal(rec.m.cut, 188);
    assert_int_equal(rec.m.dport, 30002);
    assert_int_equal(st.v[TS_UDP_SNAPPED], 1);
    assert_int_equal(truncated_sum(), 0);
    /* all of the UDP header but no payload: cut is the whole payload */
    run_snapped(d, 12, &f, 28);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(rec.paylen, 0);
    assert_int_equal(rec.m.cut, 200);
    /* the UDP header itself cut: N-1 of 28 bytes */
    run_snapped(d, 12, &f, 27);
    assert_int_equal(rec.udp, 2);
    assert_int_equal(st.v[TS_IPV4_TRUNCATED], 1);
    /* nothing cut: whole, cut 0 */
    run_snapped(d, 12, &f, f.n);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(rec.m.cut, 0);
    assert_int_equal(rec.paylen, 200);
    /* a whole frame whose IP length lies is no header-only capture */
    put16(f.b + 2, (uint16_t)(f.n + 10));
    run(d, 12, &f);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(st.v[TS_IPV4_TRUNCATED], 2);
    /* a fragment (MF) and TCP cut: truncated as before */
    fb_set(&f, body);
    w_udp(&f, 30000, 30002);
    w_ipv4f(&f, 17, 7, 64, 0x0a000001, 0x0a000002, 0x2000);
    run_snapped(d, 12, &f, 40);
    fb_set(&f, body);
    w_tcp(&f, 5060, 5060, 1, 1, 0x18, 0);
    w_ipv4(&f, 6, 0x0a000001, 0x0a000002);
    run_snapped(d, 12, &f, 60);
    assert_int_equal(rec.udp + rec.tcp, 3);
    assert_int_equal(st.v[TS_IPV4_TRUNCATED], 4);
    /* VXLAN cut: its inner frame cannot be read */
    fb_set(&f, body);
    w_udp(&f, 40000, 4789);
    w_ipv4(&f, 17, 0x0a000001, 0x0a000002);
    run_snapped(d, 12, &f, 50);
    assert_int_equal(rec.udp, 3);
    assert_int_equal(st.v[TS_UDP_TRUNCATED], 1);
    /* IPv6 over Ethernet */
    fb_set(&f, body);
    w_udp(&f, 30000, 30002);
    w_ipv6(&f, 17, 1, 2);
    w_eth(&f, 0x86dd);
    run_snapped(d, 1, &f, 14 + 40 + 8 + 42);
    assert_int_equal(rec.udp, 4);
    assert_int_equal(rec.m.ipver, 6);
    assert_int_equal(rec.paylen, 42);
    assert_int_equal(rec.m.cut, 158);
    assert_int_equal(st.v[TS_UDP_SNAPPED], 3);
    decoder_free(d);
}

/* ts_addr_str() and ts_endpoint_str() (our own digits) give inet_ntop's
 * and snprintf's text, also cut short by a small buffer. */
static void test_addr_text(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        struct ts_addr a = { .family = i % 5 == 0 ? 6 : 4 };
        memcpy(a.a, &x, 8);
        if (a.family == 6)
            memcpy(a.a + 8, &x, 8);
        if (i % 7 == 0)
            memset(a.a, 0, i % 3 == 0 ? 16 : 2); /* zeros: "0.0.x.y", "::" */
        uint16_t port = (uint16_t)(i % 11 == 0 ? 0 : x >> 48);
        char ref[80], ab[64], got[80];
        assert_non_null(inet_ntop(a.family == 6 ? AF_INET6 : AF_INET, a.a, ab, sizeof ab));
        assert_string_equal(ts_addr_str(&a, got, sizeof got), ab);
        unsigned cap = (unsigned)(i % 13 == 0 ? x % 20 : sizeof got);
        snprintf(ref, cap ? cap : 1, a.family == 6 ? "[%s]:%u" : "%s:%u", ab, port);
        memset(got, 'x', sizeof got);
        ts_endpoint_str(&a, port, got, cap);
        if (cap)
            assert_string_equal(got, ref);
        else
            assert_int_equal(got[0], 'x');
        if (a.family == 4 && strlen(ab) >= 8) { /* too short: empty, as inet_ntop */
            assert_string_equal(ts_addr_str(&a, got, 8), "");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ether_ipv4_udp),
        cmocka_unit_test(test_decode_alone),
        cmocka_unit_test(test_packet_dedup),
        cmocka_unit_test(test_vlan_qinq),
        cmocka_unit_test(test_linux_cooked),
        cmocka_unit_test(test_raw_ip),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_pppoe),
        cmocka_unit_test(test_unknown_linktype),
        cmocka_unit_test(test_gre),
        cmocka_unit_test(test_erspan),
        cmocka_unit_test(test_ipip),
        cmocka_unit_test(test_vxlan),
        cmocka_unit_test(test_depth_guard),
        cmocka_unit_test(test_ipv6_ext),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_sctp),
        cmocka_unit_test(test_malformed_lengths),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_dedup_decoder),
        cmocka_unit_test(test_dedup_ring),
        cmocka_unit_test(test_gtpu),
        cmocka_unit_test(test_dedup_zero_checksum),
        cmocka_unit_test(test_icmp_unreach),
        cmocka_unit_test(test_snapped),
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_addr_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
