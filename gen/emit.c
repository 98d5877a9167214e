/* Frame emission, below the generator's scenarios and media: addresses of
 * an interface, UDP, TCP (RFC 9293 handshake and segmentation) and TLS
 * application-data records (RFC 8446 s5.1) carrying SIP, SPAN duplicates,
 * the link between two nodes, and the event queue push. */
#include "genint.h"

#include <string.h>

int gen_link_between(struct gen *g, int na, int nb, int *a_end)
{
    for (int i = 0; i < g->nlink; i++) {
        int n0 = g->ifs[g->links[i].end[0]].node, n1 = g->ifs[g->links[i].end[1]].node;
        if (n0 == na && n1 == nb) {
            *a_end = 0;
            return i;
        }
        if (n1 == na && n0 == nb) {
            *a_end = 1;
            return i;
        }
    }
    return -1;
}

void gen_l3(struct gen *g, struct pcapw_l3 *h, int src_if, int dst_if)
{
    struct gen_if *s = &g->ifs[src_if], *d = &g->ifs[dst_if];
    h->v6 = s->v6;
    memcpy(h->src, s->ip, 16);
    memcpy(h->dst, d->ip, 16);
    memcpy(h->smac, s->mac, 6);
    memcpy(h->dmac, d->mac, 6);
    h->vlan = g->o->vlan;
    h->ipid = s->ipid++;
    h->ttl = 64;
}

void gen_span_flush(struct gen *g, uint64_t upto)
{
    while (g->span_n && g->span[g->span_head].t <= upto) {
        struct gen_span *sp = &g->span[g->span_head];
        pcapw_write(&g->pw, sp->t, sp->data, sp->len);
        g->span_head = (g->span_head + 1) % GEN_SPAN_RING;
        g->span_n--;
    }
}

void gen_write_frame(struct gen *g, uint64_t t, size_t len, const struct pcapw_l3 *h)
{
    if (g->span_n)
        gen_span_flush(g, t);
    pcapw_write(&g->pw, t, g->frame, len);
    g->packets++;
    if (g->o->dup_rate > 0 && g->span && rng_chance(&g->rng, g->o->dup_rate)) {
        if (g->span_n == GEN_SPAN_RING)
            gen_span_flush(g, g->span[g->span_head].t); /* full: oldest copy goes now */
        uint64_t dt = t + rng_range(&g->rng, 2, 8);
        if (dt < g->span_last)
            dt = g->span_last;
        g->span_last = dt;
        struct gen_span *sp = &g->span[(g->span_head + g->span_n) % GEN_SPAN_RING];
        sp->t = dt;
        sp->len = (uint16_t)len;
        memcpy(sp->data, g->frame, len);
        if (h->vlan)
            pcapw_set_vlan(sp->data, (uint16_t)(h->vlan % 4094 + 1));
        g->span_n++;
        g->span_dups++;
    }
}

static void tcp_segment(struct gen *g, uint64_t t, struct gen_link *l, int from,
                        uint8_t flags, const uint8_t *data, size_t len)
{
    struct pcapw_l3 h;
    gen_l3(g, &h, l->end[from], l->end[!from]);
    size_t off = pcapw_payload_off(&h, true);
    if (len)
        memcpy(g->frame + off, data, len);
    size_t fl = pcapw_tcp(g->frame, &h, l->port[from], l->port[!from], l->seq[from],
                          l->seq[!from], flags, len);
    l->seq[from] += (uint32_t)len + ((flags & (PCAPW_TCP_SYN | PCAPW_TCP_FIN)) ? 1 : 0);
    if (len)
        g->tcp_data++;
    gen_write_frame(g, t, fl, &h);
}

void gen_tcp_open(struct gen *g, uint64_t t, struct gen_link *l)
{
    tcp_segment(g, t, l, 0, PCAPW_TCP_SYN, NULL, 0);
    tcp_segment(g, t + 150, l, 1, PCAPW_TCP_SYN | PCAPW_TCP_ACK, NULL, 0);
    tcp_segment(g, t + 300, l, 0, PCAPW_TCP_ACK, NULL, 0);
    g->tcp_ctrl += 3;
}

void gen_tcp_close(struct gen *g, uint64_t t, struct gen_link *l)
{
    tcp_segment(g, t, l, 0, PCAPW_TCP_FIN | PCAPW_TCP_ACK, NULL, 0);
    tcp_segment(g, t + 200, l, 1, PCAPW_TCP_FIN | PCAPW_TCP_ACK, NULL, 0);
    tcp_segment(g, t + 400, l, 0, PCAPW_TCP_ACK, NULL, 0);
    g->tcp_ctrl += 3;
}

void gen_send_sip(struct gen *g, uint64_t t, int link, int from, const char *msg,
                  size_t len, bool retrans)
{
    struct gen_link *l = &g->links[link];
    if (l->tp == GEN_TP_UDP) {
        struct pcapw_l3 h;
        gen_l3(g, &h, l->end[from], l->end[!from]);
        size_t off = pcapw_payload_off(&h, false);
        memcpy(g->frame + off, msg, len);
        size_t fl = pcapw_udp(g->frame, &h, l->port[from], l->port[!from], len);
        gen_write_frame(g, t, fl, &h);
        g->sip_udp++;
    } else if (l->tp == GEN_TP_TCP) {
        /* some messages straddle two segments, as a stack with a full send
         * buffer would write them; both go out at once so nothing interleaves */
        if (len > 200 && rng_chance(&g->rng, 0.15)) {
            size_t cut = (size_t)rng_range(&g->rng, len / 4, 3 * len / 4);
            tcp_segment(g, t, l, from, PCAPW_TCP_ACK, (const uint8_t *)msg, cut);
            tcp_segment(g, t, l, from, PCAPW_TCP_PSH | PCAPW_TCP_ACK,
                        (const uint8_t *)msg + cut, len - cut);
        } else {
            tcp_segment(g, t, l, from, PCAPW_TCP_PSH | PCAPW_TCP_ACK, (const uint8_t *)msg, len);
        }
    } else {
        /* TLS 1.2/1.3 application data record (AEAD: 8-byte nonce, 16-byte tag) */
        size_t rl = len + 24;
        uint8_t rec[GEN_SIP_MAX + 64];
        rec[0] = 0x17, rec[1] = 0x03, rec[2] = 0x03;
        rec[3] = (uint8_t)(rl >> 8), rec[4] = (uint8_t)rl;
        for (size_t i = 0; i < rl; i += 8) {
            uint64_t r = rng_next(&g->rng);
            size_t n = rl - i < 8 ? rl - i : 8;
            memcpy(rec + 5 + i, &r, n);
        }
        tcp_segment(g, t, l, from, PCAPW_TCP_PSH | PCAPW_TCP_ACK, rec, rl + 5);
        g->tls_records++;
        return;
    }
    g->sip_msgs++;
    if (retrans)
        g->sip_retrans++;
}

uint16_t gen_alloc_port(struct gen *g, int ifx)
{
    struct gen_if *f = &g->ifs[ifx];
    uint16_t p = f->next_port;
    f->next_port = (uint16_t)(p + 2 >= 32768 ? 16384 : p + 2);
    return p;
}

static bool ref_kind(uint8_t k) { return k == EV_SIP || k == EV_SLOT || k == EV_PKT || k == EV_RTCP; }

struct gen_call *gen_ev_call(uint8_t kind, void *obj)
{
    return kind == EV_SIP ? (struct gen_call *)obj : ((struct gen_stream *)obj)->call;
}

bool gen_push(struct gen *g, uint64_t t, uint8_t kind, void *obj, uint32_t a, uint16_t b,
              uint8_t flags)
{
    if (!evq_push(&g->q, t, kind, obj, a, b, flags)) {
        g->err = GEN_ENOMEM;
        g->stop = true;
        return false;
    }
    if (ref_kind(kind))
        gen_ev_call(kind, obj)->refs++;
    return true;
}
