/* Hand-written classic pcap writer (microsecond timestamps, Ethernet) and
 * frame builder: Ethernet, 802.1Q, IPv4 (RFC 791), IPv6 (RFC 8200), UDP
 * (RFC 768) and TCP (RFC 9293) with correct checksums (RFC 1071). */
#ifndef TS_GEN_PCAPW_H
#define TS_GEN_PCAPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest frame we build: Ethernet + VLAN + IPv6 + TCP + payload. */
#define PCAPW_MAX_FRAME 2048

struct pcapw {
    FILE *f;
    uint8_t *buf;
    size_t used, cap;
    uint64_t frames;
    bool err;
};

/* Link/network header parameters of one frame. */
struct pcapw_l3 {
    bool v6;
    uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes */
    uint8_t smac[6], dmac[6];
    uint16_t vlan; /* 0: untagged */
    uint16_t ipid;
    uint8_t ttl;
};

#define PCAPW_TCP_FIN 0x01
#define PCAPW_TCP_SYN 0x02
#define PCAPW_TCP_PSH 0x08
#define PCAPW_TCP_ACK 0x10

/* Writes the pcap file header to f (not owned). false on I/O error. */
bool pcapw_open(struct pcapw *w, FILE *f);
/* Appends one record. ts in microseconds since the Unix epoch. */
void pcapw_write(struct pcapw *w, uint64_t ts_us, const uint8_t *frame, size_t len);
/* Flushes buffered records and frees the buffer; false if any I/O failed. */
bool pcapw_close(struct pcapw *w);

/* Offset of the transport payload in a frame with headers h. */
size_t pcapw_payload_off(const struct pcapw_l3 *h, bool tcp);
/* Fills the headers in front of the plen payload bytes already placed at
 * frame + pcapw_payload_off(h, false); returns the frame length. */
size_t pcapw_udp(uint8_t *frame, const struct pcapw_l3 *h, uint16_t sport,
                 uint16_t dport, size_t plen);
/* Same for a TCP segment. */
size_t pcapw_tcp(uint8_t *frame, const struct pcapw_l3 *h, uint16_t sport,
                 uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                 size_t plen);
/* Replaces the VLAN id of a frame built with a tag (SPAN copy). */
void pcapw_set_vlan(uint8_t *frame, uint16_t vlan);

#endif
