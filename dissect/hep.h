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
    struct bv zpayload;    /* hep_parse_head: the compressed payload, not inflated yet */
    bool compressed;
    size_t len;            /* bytes of this HEP packet */
};

/* True when the bytes start like a HEPv3 or HEPv2 packet. */
bool hep_looks_like(struct bv b);

/* Decode one HEP packet. A compressed payload is inflated into buf (cap
 * bytes); larger payloads are HEP_UNSUPPORTED. */
enum hep_result hep_parse(struct bv b, struct hep_msg *out, uint8_t *buf, size_t cap);
/* hep_parse in two steps, so that a collector checks the auth key before it
 * spends CPU on inflating: hep_parse_head decodes every chunk but leaves a
 * compressed payload in out->zpayload (payload empty); hep_inflate then
 * inflates it into buf (HEP_OK at once when the payload was plain). */
enum hep_result hep_parse_head(struct bv b, struct hep_msg *out);
enum hep_result hep_inflate(struct hep_msg *m, uint8_t *buf, size_t cap);

/* ---- encoding (hep_enc.c) ---- */

/* Chunk types of the HEP3 specification (vendor 0) that hep_encode writes. */
enum {
    HEP_CH_FAMILY = 1, HEP_CH_PROTO = 2, HEP_CH_SRC4 = 3, HEP_CH_DST4 = 4, HEP_CH_SRC6 = 5,
    HEP_CH_DST6 = 6, HEP_CH_SPORT = 7, HEP_CH_DPORT = 8, HEP_CH_TS_SEC = 9, HEP_CH_TS_USEC = 10,
    HEP_CH_PROTO_TYPE = 11, HEP_CH_NODE_ID = 12, HEP_CH_AUTH_KEY = 14, HEP_CH_PAYLOAD = 15,
    HEP_CH_CORRELATION = 17, HEP_CH_VLAN = 18, HEP_CH_NODE_NAME = 19
};
/* Largest HEP3 packet: its length field has 16 bits. */
#define HEP_MAX_PACKET 65535u

/* Encode m as one HEPv3 packet into out (cap bytes): family, IP protocol,
 * addresses (IPv4 or IPv6 after m->src.family), ports, timestamp seconds and
 * microseconds (m->ts_ns), protocol type, capture agent id (m->node_id), then
 * the auth key, correlation id, node name and VLAN when set, and the payload
 * (never compressed). m->version, compressed and len are ignored. Pure.
 * Returns the bytes written, 0 when the packet would exceed cap or
 * HEP_MAX_PACKET, or the addresses are not both IPv4 or both IPv6. */
size_t hep_encode(const struct hep_msg *m, uint8_t *out, size_t cap);

#endif
