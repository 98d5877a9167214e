/* Classic pcap writer (buffered, no per-packet allocation) and frame builder:
 * Ethernet II, 802.1Q, IPv4 (RFC 791 s3.1), IPv6 (RFC 8200 s3), UDP (RFC 768,
 * checksum mandatory over IPv6 per RFC 8200 s8.1), TCP (RFC 9293 s3.1). */
#include "pcapw.h"

#include <stdlib.h>
#include <string.h>

#define PCAPW_BUF (1u << 20)

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

bool pcapw_open(struct pcapw *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->cap = PCAPW_BUF;
    w->buf = malloc(w->cap);
    if (!w->buf) {
        w->err = true;
        return false;
    }
    uint8_t h[24];
    le32(h, 0xa1b2c3d4u); /* microsecond resolution */
    h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
    le32(h + 8, 0);
    le32(h + 12, 0);
    le32(h + 16, 65535);
    le32(h + 20, 1); /* LINKTYPE_ETHERNET */
    memcpy(w->buf, h, sizeof h);
    w->used = sizeof h;
    return true;
}

static void flush_buf(struct pcapw *w)
{
    if (w->used && !w->err && fwrite(w->buf, 1, w->used, w->f) != w->used)
        w->err = true;
    w->used = 0;
}

void pcapw_write(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, size_t len)
{
    if (!w->buf)
        return;
    if (w->cap - w->used < len + 16)
        flush_buf(w);
    uint8_t *p = w->buf + w->used;
    le32(p, (uint32_t)(ts_us / 1000000u));
    le32(p + 4, (uint32_t)(ts_us % 1000000u));
    le32(p + 8, (uint32_t)len);
    le32(p + 12, (uint32_t)len);
    memcpy(p + 16, frame, len);
    w->used += len + 16;
    w->frames++;
}

bool pcapw_close(struct pcapw *w)
{
    flush_buf(w);
    if (!w->err && w->f && fflush(w->f) != 0)
        w->err = true;
    free(w->buf);
    w->buf = NULL;
    return !w->err;
}

static size_t l2_len(const struct pcapw_l3 *h) { return h->vlan ? 18 : 14; }
static size_t l3_len(const struct pcapw_l3 *h) { return h->v6 ? 40 : 20; }

size_t pcapw_payload_off(const struct pcapw_l3 *h, bool tcp)
{
    return l2_len(h) + l3_len(h) + (tcp ? 20 : 8);
}

/* One's-complement sum (RFC 1071) of n bytes, accumulated into acc. */
static uint32_t csum_add(uint32_t acc, const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < n)
        acc += (uint32_t)(p[i] << 8);
    return acc;
}

static uint16_t csum_fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

/* Ethernet (+VLAN) and IP headers for an L4 segment of l4len bytes. */
static size_t put_l2l3(uint8_t *f, const struct pcapw_l3 *h, uint8_t proto, size_t l4len)
{
    memcpy(f, h->dmac, 6);
    memcpy(f + 6, h->smac, 6);
    size_t o = 12;
    if (h->vlan) {
        put16(f + o, 0x8100);
        put16(f + o + 2, h->vlan & 0x0fff);
        o += 4;
    }
    put16(f + o, h->v6 ? 0x86dd : 0x0800);
    o += 2;
    uint8_t *ip = f + o;
    if (h->v6) {
        put32(ip, 0x60000000u);
        put16(ip + 4, (uint16_t)l4len);
        ip[6] = proto;
        ip[7] = h->ttl ? h->ttl : 64;
        memcpy(ip + 8, h->src, 16);
        memcpy(ip + 24, h->dst, 16);
        return o + 40;
    }
    ip[0] = 0x45;
    ip[1] = proto == 17 ? 0xb8 : 0x68; /* DSCP EF for RTP-ish UDP, CS3 signalling */
    put16(ip + 2, (uint16_t)(20 + l4len));
    put16(ip + 4, h->ipid);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = h->ttl ? h->ttl : 64;
    ip[9] = proto;
    put16(ip + 10, 0);
    memcpy(ip + 12, h->src, 4);
    memcpy(ip + 16, h->dst, 4);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    return o + 20;
}

static uint32_t pseudo_sum(const struct pcapw_l3 *h, uint8_t proto, size_t l4len)
{
    uint32_t acc = 0;
    if (h->v6) {
        acc = csum_add(acc, h->src, 16);
        acc = csum_add(acc, h->dst, 16);
        acc += (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
    } else {
        acc = csum_add(acc, h->src, 4);
        acc = csum_add(acc, h->dst, 4);
        acc += (uint32_t)l4len;
    }
    return acc + proto;
}

size_t pcapw_udp(uint8_t *frame, const struct pcapw_l3 *h, uint16_t sport,
                 uint16_t dport, size_t plen)
{
    size_t l4len = 8 + plen;
    size_t o = put_l2l3(frame, h, 17, l4len);
    uint8_t *u = frame + o;
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)l4len);
    put16(u + 6, 0);
    uint16_t c = csum_fold(csum_add(pseudo_sum(h, 17, l4len), u, l4len));
    put16(u + 6, c == 0 ? 0xffff : c); /* 0 means "no checksum" */
    return o + l4len;
}

size_t pcapw_tcp(uint8_t *frame, const struct pcapw_l3 *h, uint16_t sport,
                 uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                 size_t plen)
{
    size_t l4len = 20 + plen;
    size_t o = put_l2l3(frame, h, 6, l4len);
    uint8_t *t = frame + o;
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, (flags & PCAPW_TCP_ACK) ? ack : 0);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 64240);
    put16(t + 16, 0);
    put16(t + 18, 0);
    put16(t + 16, csum_fold(csum_add(pseudo_sum(h, 6, l4len), t, l4len)));
    return o + l4len;
}

void pcapw_set_vlan(uint8_t *frame, uint16_t vlan)
{
    put16(frame + 14, vlan & 0x0fff);
}
