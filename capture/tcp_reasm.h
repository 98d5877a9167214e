/* TCP stream reassembly per direction (RFC 9293 sequence space): ordered
 * bytes to a consumer, with out-of-order buffering, retransmission and overlap
 * handling, gaps that skip and resynchronise, mid-stream pick-up, and caps on
 * bytes per direction, total bytes and connections. */
#ifndef TS_TCP_REASM_H
#define TS_TCP_REASM_H

#include <stdint.h>

#include "../common/bv.h"
#include "../common/stats.h"
#include "packet.h"

/* Consumer callbacks. `user` points at one void* slot per connection (NULL
 * at first) that the consumer may use for its own per-connection state; it
 * must release it in close(). dir is 0 for the direction of the first packet
 * seen (the SYN's sender when the handshake was captured), 1 for the other.
 * Views passed to a callback are valid only during that call; callbacks may
 * take their time but must not call tcp_reasm_* on the same table. */
struct tcp_reasm_cb {
    void *ctx;
    /* In-order bytes of direction dir; m is the meta of the segment that
     * delivered them (addresses as seen in that direction). */
    void (*data)(void *ctx, void **user, int dir, const struct pkt_meta *m,
                 struct bv data);
    /* nbytes were lost in direction dir before the next data. */
    void (*gap)(void *ctx, void **user, int dir, uint64_t nbytes);
    /* The connection ends (FIN/RST both ways, idle, evicted, flush). */
    void (*close)(void *ctx, void **user);
};

struct tcp_reasm;

struct tcp_reasm *tcp_reasm_new(struct ts_stats *st, const struct tcp_reasm_cb *cb);
void tcp_reasm_free(struct tcp_reasm *t); /* closes every connection first */

/* Feed one segment (payload may be empty: SYN/FIN/ACK still matter). */
void tcp_reasm_segment(struct tcp_reasm *t, const struct pkt_meta *m,
                       const struct tcp_seg *seg);

/* Close connections idle for TS_TCP_IDLE_NS at time now_ns. */
void tcp_reasm_expire(struct tcp_reasm *t, uint64_t now_ns);

/* End of input: deliver what is buffered beyond gaps, then close all. */
void tcp_reasm_flush(struct tcp_reasm *t);

size_t tcp_reasm_conns(const struct tcp_reasm *t);
/* Memory held by out-of-order buffers: payload plus tcp_reasm_seg_overhead()
 * per buffered range; this is what TS_TCP_MAX_TOTAL_BYTES caps. */
size_t tcp_reasm_bytes(const struct tcp_reasm *t);
size_t tcp_reasm_seg_overhead(void);

#endif
