/* HEP-received messages into the engine (the collector): each SIP or RTCP
 * payload is analysed exactly like a captured UDP datagram with the
 * sender's addresses, ports, timestamp and site. */
#ifndef TS_ENGINE_HEP_H
#define TS_ENGINE_HEP_H

#include <stdint.h>

#include "../dissect/hep.h"
#include "engine.h"

enum engine_hep_result { ENGINE_HEP_OK = 0, ENGINE_HEP_TOO_BIG, ENGINE_HEP_BAD_ADDR };

/* Feed h's payload to e as a raw IPv4/IPv6 + UDP frame (LINKTYPE_RAW) from
 * h->src:sport to h->dst:dport at h->ts_ns (recv_ns when the packet had no
 * time), tagged with site (NULL: none). Not thread-safe: one thread per
 * engine, as for engine_frame. ENGINE_HEP_TOO_BIG when the payload does not
 * fit one IP datagram, ENGINE_HEP_BAD_ADDR when the addresses are not both
 * IPv4 or both IPv6. */
int engine_hep(struct engine *e, const struct hep_msg *h, const char *site, uint64_t recv_ns);

#endif
