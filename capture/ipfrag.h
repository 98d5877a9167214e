/* IPv4 (RFC 791) and IPv6 (RFC 8200 section 4.5) fragment reassembly with
 * bounded memory: caps per datagram, on datagrams and on bytes held. */
#ifndef TS_IPFRAG_H
#define TS_IPFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../common/stats.h"
#include "packet.h"

struct ipfrag_key {
    uint8_t ipver;   /* 4 or 6 */
    uint8_t proto;   /* upper-layer protocol of the datagram */
    uint32_t id;     /* IPv4 identification (16 bits) or IPv6 fragment id */
    struct ts_addr src, dst;
};

struct ipfrag;

/* Counters go to st (owned by the caller, must outlive the table). */
struct ipfrag *ipfrag_new(struct ts_stats *st);
void ipfrag_free(struct ipfrag *f); /* NULL is fine */

/* Add one fragment: offset in bytes from the start of the upper-layer
 * payload, more = MF flag, data = the fragment's payload bytes.
 * Returns 1 when this fragment completed the datagram: *out then views the
 * whole upper-layer payload, valid until the next call on f. Returns 0 when
 * the fragment is held, -1 when it was dropped (counted in st). Duplicate and
 * overlapping fragments keep the first bytes seen. */
int ipfrag_add(struct ipfrag *f, const struct ipfrag_key *k, uint64_t ts_ns,
               uint32_t offset, bool more, struct bv data, struct bv *out);

/* Drop datagrams older than TS_FRAG_TIMEOUT_NS at time now_ns. */
void ipfrag_expire(struct ipfrag *f, uint64_t now_ns);

/* Datagrams and bytes currently held (for tests and stats). */
size_t ipfrag_pending(const struct ipfrag *f);
size_t ipfrag_bytes(const struct ipfrag *f);

#endif
