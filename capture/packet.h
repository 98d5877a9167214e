/* What the capture path hands to analysis: one transport-layer payload with
 * its addresses and timing. Plain data, no third-party types (pcap.h stays
 * inside capture/pcapin.c). */
#ifndef TS_PACKET_H
#define TS_PACKET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../common/bv.h"
#include "../common/limits.h"

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

/* A frame decoded by decoder_decode() (capture/decode.c) from its bytes
 * alone, so any thread may do it: the counters its layers raised and what it
 * found, up to the steps that need the decoder's state. decoder_packet()
 * runs those on the analysis thread: the duplicate check first (dedup set:
 * the counters from cnt_pre on and the unit only for a first copy), then
 * the unit goes to the callbacks, or the decoder goes on from where this
 * stopped (fragment reassembly; SCTP and ICMP, whose units are several or
 * quoted). Views point into the frame. */
enum ts_pkt_next {
    PKT_NONE,  /* nothing more (not IP, malformed, ...: counted) */
    PKT_UDP,   /* a UDP datagram: m, payload */
    PKT_TCP,   /* a TCP segment: m, seg */
    PKT_IP,    /* the payload of an IP packet (SCTP, ICMP): outer_ver, proto, payload */
    PKT_FRAG4, /* an IPv4 fragment: proto, frag_*, payload */
    PKT_FRAG6, /* an IPv6 fragment: proto (its next header), frag_*, ext, payload */
};

struct ts_pkt {
    uint8_t next;            /* enum ts_pkt_next */
    bool dedup;              /* the duplicate check of dedup_fp comes first */
    uint8_t ncnt, cnt_pre;   /* counters in cnt; the first cnt_pre precede the check */
    uint8_t proto, outer_ver;
    uint8_t nest;            /* VLAN tags, PPPoE and tunnels peeled so far */
    bool vlan_seen;
    bool snapped;            /* caplen < wirelen: the snap length cut the frame */
    uint8_t ext;             /* PKT_FRAG6: extension headers walked so far */
    bool frag_more;
    uint32_t frag_id, frag_off;
    uint64_t dedup_fp;
    struct bv payload;       /* PKT_UDP, PKT_IP, PKT_FRAG* */
    struct tcp_seg seg;      /* PKT_TCP */
    struct pkt_meta m;       /* of the unit, or as far as the decode went */
    /* What the analysis adds from the unit alone, on the same thread
     * (engine_decode; zero: nothing): the media stream table hash of a UDP
     * unit's RTP key and its endpoints' generation slots, or the dialog
     * table hash of its SIP Call-ID, and when it held one SIP message, that
     * message parsed (a struct sip_msg, sip_r its enum sip_result, from the
     * sip_raw bytes of the payload; sip_lines: cache lines of its header
     * table in use). */
    uint64_t stream_hash;
    uint32_t ep_slot[2];
    uint64_t dialog_hash;
    const void *sip;
    struct bv sip_raw;
    int16_t sip_r;
    uint16_t sip_lines;
    uint16_t cnt[TS_PKT_MAX_COUNTS]; /* enum ts_stat */
};

/* Format "1.2.3.4" or "2001:db8::1" into buf (at least 46 bytes). */
const char *ts_addr_str(const struct ts_addr *a, char *buf, unsigned cap);
/* "1.2.3.4:5060" or "[2001:db8::1]:5060" into buf, cut to cap - 1 bytes
 * like snprintf (80 bytes always hold it). */
const char *ts_endpoint_str(const struct ts_addr *a, uint16_t port, char *buf, unsigned cap);
/* Same family and address bytes. Inline, two 8-byte compares: the media
 * and dialog tables compare two addresses per packet. */
static inline bool ts_addr_eq(const struct ts_addr *x, const struct ts_addr *y)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, x->a, 8);
    memcpy(&a1, x->a + 8, 8);
    memcpy(&b0, y->a, 8);
    memcpy(&b1, y->a + 8, 8);
    return x->family == y->family && ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

#endif
