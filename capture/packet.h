/* What the capture path hands to analysis: one transport-layer payload with
 * its addresses and timing. Plain data, no third-party types (pcap.h stays
 * inside capture/pcapin.c). */
#ifndef TS_PACKET_H
#define TS_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/bv.h"

enum { TS_L4_UDP = 17, TS_L4_TCP = 6, TS_L4_SCTP = 132 };

struct ts_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t a[16];  /* IPv4 in the first 4 bytes, rest zero */
};

/* One frame read from a capture. data points into the reader's buffer and is
 * valid until the next read. */
struct ts_frame {
    uint64_t ts_ns;      /* nanoseconds since the epoch */
    uint64_t frame_no;   /* 1-based, across all inputs of the run */
    uint32_t file_idx;   /* which input file */
    uint64_t file_off;   /* byte offset of the record in that file (pcap only, else 0) */
    int linktype;        /* DLT_/LINKTYPE_ value */
    uint32_t caplen, wirelen;
    const uint8_t *data; /* caplen bytes */
    const char *site;    /* sensor/site that saw it (HEP node name), NUL-terminated,
                          * valid during the call; NULL: the local one */
};

/* What a reader thread computes ahead for one frame, from its bytes alone
 * (speed only: see engine_hint). Zero fields: nothing known. */
struct frame_hint {
    uint64_t stream_hash; /* media stream table hash of its RTP key, and */
    uint32_t ep_slot[2];  /* its endpoints' slots in media's generation table */
    uint64_t dialog_hash; /* or: the dialog table hash of its SIP Call-ID */
    uint64_t dedup_fp;    /* SPAN-duplicate fingerprint of its outer IPv4 packet, */
    uint32_t ip_off;      /* which starts ip_off bytes into the frame, */
    uint16_t ip_hl, ip_tot; /* with this header and total length (ip_tot 0: no fp) */
    /* its UDP payload (dgram_len bytes at dgram) held one SIP message,
     * parsed (in the batch's spare buffer: see readahead.h) from parsed_len
     * bytes at parsed_p with result parsed_r; parsed NULL: not done */
    const void *parsed;
    const uint8_t *dgram, *parsed_p;
    uint32_t dgram_len, parsed_len;
    int16_t parsed_r;
    uint16_t parsed_lines; /* cache lines of the parsed header table in use */
};

/* Metadata of a decoded transport-layer unit. */
struct pkt_meta {
    uint64_t ts_ns;
    uint64_t frame_no;
    uint32_t file_idx;
    int linktype;
    uint16_t vlan;        /* outermost 802.1Q/802.1ad VLAN id, 0 if none */
    uint8_t ipver;        /* 4 or 6 (of the innermost IP header) */
    uint8_t l4;           /* TS_L4_* */
    uint8_t encap_depth;  /* tunnels peeled */
    bool reassembled;     /* built from IP fragments */
    uint32_t cut;         /* UDP payload bytes the capture's snap length cut off
                           * (header-only captures); 0: the payload is whole */
    struct ts_addr src, dst;
    uint16_t sport, dport;
    const char *site;     /* ts_frame.site: copied by whoever keeps it */
};

struct tcp_seg {
    uint32_t seq, ack;
    uint8_t flags;        /* TCP_F_* */
    uint16_t window;
    struct bv payload;
};

enum { TCP_F_FIN = 0x01, TCP_F_SYN = 0x02, TCP_F_RST = 0x04, TCP_F_PSH = 0x08,
       TCP_F_ACK = 0x10, TCP_F_URG = 0x20 };

/* Format "1.2.3.4" or "2001:db8::1" into buf (at least 46 bytes). */
const char *ts_addr_str(const struct ts_addr *a, char *buf, unsigned cap);
bool ts_addr_eq(const struct ts_addr *x, const struct ts_addr *y);

#endif
