/* HEP collector sockets: UDP and TCP listeners (TCP framed by the HEP3
 * length field), the auth-key check, per-sender accounting and per-sender
 * token buckets, and a bounded table of senders. One thread polls them all
 * and hands every accepted HEP packet to the caller. Built for a hostile
 * network: the key is checked before any rate accounting or inflating,
 * addresses that never authenticated share one budget, TCP connections are
 * capped per address and closed when idle, and capture times ahead of the
 * collector's clock are not trusted. */
#ifndef TS_HEP_LISTEN_H
#define TS_HEP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/bv.h"
#include "../common/limits.h"
#include "../dissect/hep.h"

enum hep_listen_err { HEP_LISTEN_OK = 0, HEP_LISTEN_ERR_ADDR, HEP_LISTEN_ERR_SOCKET,
                      HEP_LISTEN_ERR_NOMEM };

struct hep_listen_opts {
    const char *specs[TS_HEP_MAX_LISTEN]; /* "ADDR:PORT[/udp|/tcp]" (default UDP) */
    size_t nspecs;
    struct bv auth_key;       /* empty: no check; else every packet must carry it */
    uint32_t rate;            /* messages/s per sender; 0: TS_HEP_RATE_DEFAULT */
    uint32_t burst;           /* bucket depth; 0: TS_HEP_BURST_DEFAULT */
    bool unlimited;           /* no token bucket at all */
    uint32_t max_senders;     /* <= TS_HEP_MAX_SENDERS; 0: the maximum (tests use small) */
    int rcvbuf;               /* UDP receive buffer bytes; 0: 32 MiB (as far as allowed) */
    /* 0: the TS_HEP_* defaults of common/limits.h (tests use small values) */
    uint32_t tcp_hello_ms;    /* close a TCP connection with nothing accepted after this */
    uint32_t tcp_idle_ms;     /* close a TCP connection silent for this long */
    uint32_t max_conns_per_addr;
    uint32_t unauth_rate, unauth_burst; /* packets/s from not yet authenticated addresses */
    uint32_t clock_ahead_ms;  /* capture times further ahead of the wall clock: not trusted */
};

/* Counters of one sender (source IP address) or of all of them. */
struct hep_sender {
    struct ts_addr addr;
    uint64_t packets;         /* HEP packets received (datagrams or framed on TCP) */
    uint64_t bytes;
    uint64_t accepted;        /* handed to the caller */
    uint64_t truncated, malformed, unsupported; /* hep_parse verdicts */
    uint64_t unauthenticated; /* auth key missing or wrong */
    uint64_t rate_limited;    /* over the sender's token bucket */
    uint64_t unauth_limited;  /* dropped unparsed: over the budget of unauthenticated addresses */
    uint64_t clock_ahead;     /* capture time ahead of our clock: receive time used instead */
    uint32_t node_id;         /* of the last accepted packet */
    char node_name[TS_SITE_LEN];
    uint64_t first_ns, last_ns;
};

struct hep_listen_stats {
    struct hep_sender total;  /* every sender, evicted ones included */
    uint64_t senders_evicted; /* table full: least recently heard sender forgotten */
    uint64_t tcp_accepted, tcp_refused, tcp_closed, tcp_framing_errors;
    uint64_t tcp_evicted;     /* closed to make room (per-address cap or table full) */
    uint64_t tcp_idle_closed; /* closed by the hello or idle timeout */
    uint64_t socket_errors;
    uint64_t kernel_drops;    /* datagrams the kernel dropped, receive buffer full (SO_RXQ_OVFL) */
};

/* fn gets every accepted packet: h's views (payload, node name...) are valid
 * during the call only; from is the sender's record; recv_ns is the wall
 * clock at receipt, and h->ts_ns is 0 when the packet had no time or one
 * too far ahead of recv_ns. */
typedef void (*hep_listen_fn)(void *ctx, const struct hep_msg *h, const struct hep_sender *from,
                              uint64_t recv_ns);

struct hep_listen;

/* Bind every spec (port 0 picks a free one). NULL with a one-line reason.
 * With nspecs 0 no socket is opened (tests feed hep_listen_input). */
struct hep_listen *hep_listen_new(const struct hep_listen_opts *o, hep_listen_fn fn, void *ctx,
                                  char *err, size_t errlen);
void hep_listen_free(struct hep_listen *l); /* NULL is fine */

/* Wait up to timeout_ms for traffic, then read what is ready from every
 * socket (a bounded amount each, in turn). Returns packets accepted. */
size_t hep_listen_poll(struct hep_listen *l, int timeout_ms);
/* One HEP packet from sender `from`, as the sockets deliver it: decoding
 * (not inflating), auth key, the sender's token bucket, inflating, the
 * capture-time check, then fn. mono_ns (CLOCK_MONOTONIC) drives the token
 * buckets; wall_ns (CLOCK_REALTIME) is the receive time (0: no capture-time
 * check). With an auth key, an address gets a sender record only with its
 * first authenticated packet; until then its packets are counted in the
 * totals and, as datagrams (this function; TCP connections prove their
 * address), spend the shared unauthenticated budget. Returns true when it
 * reached fn. */
bool hep_listen_input(struct hep_listen *l, const struct ts_addr *from, struct bv pkt,
                      uint64_t mono_ns, uint64_t wall_ns);
/* A new auth key (SIGHUP); empty: no check. False when too long. */
bool hep_listen_set_key(struct hep_listen *l, struct bv key);

/* HEP3 framing on a byte stream: the length of the complete packet at the
 * start of b; 0 when more bytes are needed; -1 when b does not start with a
 * HEP3 header (the stream is out of step). Pure. */
long hep_listen_frame(struct bv b);

/* Bound port of listener i (in spec order), 0 when none. */
uint16_t hep_listen_port(const struct hep_listen *l, size_t i);
void hep_listen_stats(const struct hep_listen *l, struct hep_listen_stats *out);
/* HEP/TCP connections open now. */
size_t hep_listen_conn_count(const struct hep_listen *l);
/* Senders in the table now (at most max_senders); i < count. */
size_t hep_listen_sender_count(const struct hep_listen *l);
const struct hep_sender *hep_listen_sender(const struct hep_listen *l, size_t i);

#endif
