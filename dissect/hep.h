/* HEP (Homer Encapsulation Protocol) decoder: HEPv2 and HEPv3, with the
 * zlib-compressed payload chunk. Pure apart from inflating into the caller's
 * buffer. */
#ifndef TS_HEP_H
#define TS_HEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"
#include "../capture/packet.h"

enum hep_result { HEP_OK = 0, HEP_TRUNCATED, HEP_MALFORMED, HEP_UNSUPPORTED };

enum { HEP_PROTO_SIP = 1, HEP_PROTO_RTCP = 5, HEP_PROTO_LOG = 100 };

struct hep_msg {
    uint8_t version;       /* 2 or 3 */
    uint8_t family;        /* 4 or 6 */
    uint8_t ip_proto;      /* 17 UDP, 6 TCP, ... */
    struct ts_addr src, dst;
    uint16_t sport, dport;
    uint64_t ts_ns;        /* 0 when absent */
    uint8_t proto_type;    /* HEP_PROTO_* (HEPv2: SIP) */
    uint32_t node_id;
    uint16_t vlan;
    struct bv auth_key, correlation_id, node_name;
    struct bv payload;     /* plain payload, or the inflated one (in the caller's buffer) */
    bool compressed;
    size_t len;            /* bytes of this HEP packet */
};

/* True when the bytes start like a HEPv3 or HEPv2 packet. */
bool hep_looks_like(struct bv b);

/* Decode one HEP packet. A compressed payload is inflated into buf (cap
 * bytes); larger payloads are HEP_UNSUPPORTED. */
enum hep_result hep_parse(struct bv b, struct hep_msg *out, uint8_t *buf, size_t cap);

#endif
