/* The other flows of the trunk links: UDP and TCP flows that are neither
 * SIP nor RTP/RTCP (nor HEP), classified by nDPI (STUN/TURN, DTLS, DNS,
 * HTTP, TLS that carries no SIP, NTP, SNMP, ...) into an inventory per
 * address pair, server port and protocol. nDPI's headers stay in
 * oflows.c. Bounded: flows being classified (TS_OFLOW_MAX_FLOWS, least
 * recently seen evicted and classified with what it showed) and inventory
 * entries (TS_OFLOW_MAX_ENTRIES, least recently seen replaced). */
#ifndef TS_OFLOWS_H
#define TS_OFLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/bv.h"
#include "../common/stats.h"

struct oflow_entry {
    struct ts_addr client, server; /* client: the sender of the flow's first packet */
    uint16_t port;                 /* server port */
    uint8_t l4;                    /* TS_L4_UDP or TS_L4_TCP */
    char proto[32];                /* nDPI's name: "DNS", "STUN", "TLS.Google", "Unknown" */
    char category[24];             /* nDPI's category: "Network", "VoIP", "Web", ... */
    bool guessed;                  /* by port, after nDPI gave up */
    uint64_t flows, packets, bytes;
    uint64_t first_ns, last_ns;
};

/* A flow forgotten (idle, evicted, end of input), with its protocol and
 * totals, for the store. */
struct oflow_done {
    struct ts_addr client, server;
    uint16_t port;
    uint8_t l4;
    char proto[32], category[24];
    bool guessed;
    uint64_t packets, bytes, first_ns, last_ns;
};

typedef void (*oflows_fn)(void *ctx, const struct oflow_done *f);

struct oflows;

struct oflows *oflows_new(struct ts_stats *st);
/* fn sees each classified flow once, when it is forgotten (not the ones
 * that turned out SIP or RTP). */
void oflows_set_sink(struct oflows *o, oflows_fn fn, void *ctx);
void oflows_free(struct oflows *o);
/* One packet of a flow that is not SIP, RTP or HEP; payload is the
 * transport payload. TCP: the segment's flags, seq and ack. dir: 0 from the
 * flow's client, 1 from its server (a TCP connection's first data may come
 * from the server), -1 unknown (the first packet's sender is the client). */
void oflows_packet(struct oflows *o, const struct pkt_meta *m, const struct tcp_seg *tcp,
                   int dir, struct bv payload);
/* Flows idle since before now_ns - TS_OFLOW_IDLE_NS are classified with
 * what they showed and forgotten (their inventory entries stay). */
void oflows_expire(struct oflows *o, uint64_t now_ns);
/* End of input: every flow classified. */
void oflows_finish(struct oflows *o);

size_t oflows_count(const struct oflows *o);
const struct oflow_entry *oflows_get(const struct oflows *o, size_t i);

#endif
