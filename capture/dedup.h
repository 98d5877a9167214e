/* SPAN duplicate removal: a mirror port delivers many packets twice (ingress
 * and egress copies). Packets are fingerprinted on their IP header with the
 * fields a router hop or a re-tag may change masked out, and remembered in a
 * bounded ring for TS_DEDUP_WINDOW_NS. */
#ifndef TS_DEDUP_H
#define TS_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/bv.h"

struct dedup;

/* A ring of TS_DEDUP_RING fingerprints; NULL on allocation failure. */
struct dedup *dedup_new(void);
void dedup_free(struct dedup *d); /* NULL is fine */

/* Fingerprint of one IP packet as captured, before fragment reassembly.
 * hdr is the IPv4 header with options, or the fixed 40-byte IPv6 header;
 * payload is everything after it (only its first 64 bytes count). TOS/traffic
 * class, TTL/hop limit and the IPv4 header checksum are masked out. */
uint64_t dedup_fingerprint(int ipver, struct bv hdr, struct bv payload);

/* True when fp was remembered within TS_DEDUP_WINDOW_NS of ts_ns (either
 * direction): the packet is a copy. Otherwise fp is remembered at ts_ns
 * (the oldest entry gives way when the ring is full) and false is returned. */
bool dedup_check(struct dedup *d, uint64_t fp, uint64_t ts_ns);
/* Fetch fp's bucket into the cache ahead of dedup_check (speed only). */
void dedup_prefetch(const struct dedup *d, uint64_t fp);

#endif
