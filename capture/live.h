/* Live capture from network interfaces (a SPAN/mirror port) through libpcap:
 * one capture thread per interface feeding a bounded queue, one analysis
 * thread draining the queues in time order into the caller's callbacks. */
#ifndef TS_LIVE_H
#define TS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"
#include "packet.h"

enum live_err { LIVE_OK = 0, LIVE_ERR_OPEN, LIVE_ERR_FILTER, LIVE_ERR_NOMEM, LIVE_ERR_THREAD };

/* Every UDP, TCP and SCTP packet, IPv6 fragments (next header 44), the
 * tunnels the decoder peels (GRE/ERSPAN, IP-in-IP, IPv6-in-IPv4; VXLAN is
 * UDP), each also behind one or two VLAN tags, and UDP/TCP in PPPoE sessions.
 * "vlan" and "pppoes" shift the offsets of everything after them, so PPPoE is
 * matched by absolute offsets and the tagged branches come last and nest. */
#define LIVE_L4 "udp or tcp or sctp or ip proto 47 or ip proto 4 or ip proto 41 " \
                "or (ip6 and ip6[6] == 44)"
#define LIVE_PPPOE "(ether[12:2] == 0x8864 and " \
                   "((ether[20:2] == 0x0021 and (ether[31] == 17 or ether[31] == 6)) or " \
                   "(ether[20:2] == 0x0057 and (ether[28] == 17 or ether[28] == 6))))"
#define LIVE_DEFAULT_FILTER \
    LIVE_L4 " or " LIVE_PPPOE " or (vlan and (" LIVE_L4 " or (vlan and (" LIVE_L4 "))))"

struct live_opts {
    const char *ifaces[TS_LIVE_MAX_IFACES];
    size_t nifaces;
    const char *filter;     /* BPF; NULL: LIVE_DEFAULT_FILTER (LIVE_L4 on links
                             * without VLANs) */
    uint32_t buffer_mb;     /* kernel ring per interface; 0: TS_LIVE_BUFFER_MB_DEFAULT */
    uint32_t snaplen;       /* 0: TS_SNAPLEN */
    size_t queue_bytes;     /* per interface; 0: TS_LIVE_QUEUE_BYTES */
    bool no_promisc;        /* promiscuous mode is on unless this is set */
    uint64_t max_packets;   /* analysis stops after this many frames; 0: no limit */
};

/* Callbacks, all run on the analysis thread, one at a time. */
struct live_cb {
    void *ctx;
    /* One frame; f->file_idx is the interface index, f->data valid during
     * the call only. */
    void (*frame)(void *ctx, const struct ts_frame *f);
    /* No frame for a while: wall-clock time (ns since the epoch) so that
     * idle state can expire on a quiet link. About every 200 ms. NULL ok. */
    void (*tick)(void *ctx, uint64_t now_ns);
    /* Packets were lost (kernel ring full or queue full): count new losses,
     * ts_ns the time of the latest one. Calls in progress around ts_ns may be
     * incomplete. Called at a packet boundary. NULL ok. */
    void (*drop)(void *ctx, uint64_t ts_ns, uint64_t count);
    /* live_request_sync() was called: runs once at the next packet boundary
     * (swap a reloaded configuration here). NULL ok. */
    void (*sync)(void *ctx);
};

struct live_stats {
    uint64_t received;      /* frames libpcap handed us, all interfaces */
    uint64_t bytes;         /* their wire length */
    uint64_t kernel_drops;  /* pcap ps_drop: the kernel ring was full */
    uint64_t if_drops;      /* pcap ps_ifdrop: dropped by the interface/driver
                             * (on Linux any rx_dropped, not only ours) */
    uint64_t queue_drops;   /* the analysis queue was full */
    uint64_t analysed;      /* frames given to the frame callback */
    uint64_t last_drop_ns;  /* time of the latest kernel or queue drop, 0: none */
    uint32_t ifaces;        /* interfaces opened */
    uint32_t ifaces_failed; /* interfaces whose capture ended with an error */
};

struct live;

/* Open and activate every interface with the options (needs root or
 * CAP_NET_RAW), compile and set the filter. Nothing is captured until
 * live_start. NULL with a one-line reason in err ("eth9: no such device",
 * "filter: syntax error", ...). */
struct live *live_open(const struct live_opts *o, char *err, size_t errlen);
/* Start the capture threads and the analysis thread (they inherit the
 * caller's signal mask). cb is copied. LIVE_OK or an error with err filled. */
int live_start(struct live *lv, const struct live_cb *cb, char *err, size_t errlen);
/* Ask the analysis thread to run cb->sync at its next packet boundary. */
void live_request_sync(struct live *lv);
/* True once the analysis thread stopped on its own (max_packets reached) or
 * every interface failed. */
bool live_done(const struct live *lv);
/* Stop capturing, drain the queues through cb->frame, join the threads.
 * Afterwards the caller owns whatever the callbacks touched. Idempotent. */
void live_stop(struct live *lv);
void live_free(struct live *lv); /* stops first; NULL is fine */

/* Counters so far, from any thread. Kernel counters are polled about once a
 * second by each capture thread. */
void live_stats_get(const struct live *lv, struct live_stats *out);
/* Per interface (i < live_iface_count): name, link type, and its counters
 * (ifaces is 1 in the result). */
size_t live_iface_count(const struct live *lv);
const char *live_iface_name(const struct live *lv, size_t i);
int live_iface_linktype(const struct live *lv, size_t i);
void live_iface_stats(const struct live *lv, size_t i, struct live_stats *out);

/* A compiled filter for offline checks (tests, option validation); expr
 * NULL: the default, as live_open would set it for that link type. */
struct live_filter;
struct live_filter *live_filter_new(const char *expr, int linktype, uint32_t snaplen, char *err,
                                    size_t errlen);
bool live_filter_match(const struct live_filter *lf, const struct ts_frame *f);
void live_filter_free(struct live_filter *lf); /* NULL is fine */

/* Current wall-clock time in ns since the epoch. */
uint64_t live_now_ns(void);

#endif
