/* Frame decoder: link layers, VLAN/QinQ, tunnels (GRE, ERSPAN II/III,
 * IP-in-IP, IPv6-in-IPv4, VXLAN, PPPoE), IPv4/IPv6 with fragment reassembly,
 * SPAN duplicate removal, then UDP, TCP and SCTP to the callbacks. */
#ifndef TS_DECODE_H
#define TS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/stats.h"
#include "packet.h"

struct decode_cb {
    void *ctx;
    /* A UDP payload, or one SCTP DATA chunk's user data (m->l4 says which). */
    void (*udp)(void *ctx, const struct pkt_meta *m, struct bv payload);
    /* One TCP segment (header fields and payload). */
    void (*tcp)(void *ctx, const struct pkt_meta *m, const struct tcp_seg *seg);
    /* ICMP / ICMPv6 destination unreachable (RFC 792, RFC 4443 3.1): m is
     * the ICMP packet (src: who reported it), q the quoted UDP datagram's
     * addresses and ports, code the ICMP code, payload what was quoted of
     * the datagram's UDP payload (may be cut short). */
    void (*unreach)(void *ctx, const struct pkt_meta *m, const struct pkt_meta *q, uint8_t code,
                    struct bv payload);
    /* The UDP datagram a struct ts_pkt holds (p->m, p->payload, with what
     * the analysis added to it on decoding); NULL: udp gets it. */
    void (*pkt_udp)(void *ctx, const struct ts_pkt *p);
};

struct decoder;

struct decoder *decoder_new(struct ts_stats *st, const struct decode_cb *cb);
void decoder_free(struct decoder *d); /* NULL is fine */

/* Decode one frame; every outcome is counted in st, nothing is fatal.
 * DECODED counts frames that delivered at least one UDP/TCP/SCTP unit.
 * decoder_decode() then decoder_packet(). */
void decoder_frame(struct decoder *d, const struct ts_frame *f);
/* The layers of f read from its bytes alone into p (see struct ts_pkt):
 * no decoder, nothing counted, so any thread may call it, and the frame's
 * bytes must stay until decoder_packet() is done with p. */
void decoder_decode(const struct ts_frame *f, struct ts_pkt *p);
/* Finish p with the decoder's state, in capture order: its counters, the
 * duplicate check, the unit to the callbacks, or reassembly and the rest
 * of the walk from where decoder_decode() stopped. */
void decoder_packet(struct decoder *d, const struct ts_pkt *p);

/* SPAN duplicate removal (on by default): off for captures known to hold
 * each packet once, where a genuine copy within the window must count. */
void decoder_set_dedup(struct decoder *d, bool on);

/* Prefetch the dedup bucket of fingerprint fp (speed only). */
void decoder_prefetch_dedup(const struct decoder *d, uint64_t fp);

/* Expire fragment state older than its timeout at now_ns. */
void decoder_expire(struct decoder *d, uint64_t now_ns);

/* Packets seen per link type, for the report. */
struct linktype_count {
    int linktype;
    uint64_t packets;
};
size_t decoder_linktypes(const struct decoder *d, struct linktype_count *out, size_t max);

#endif
