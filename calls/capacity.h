/* Capacity planning from per-minute trunk counts: the busy hour, its
 * traffic in Erlangs, BHCA, and the channels Erlang B asks for at a given
 * blocking; the bandwidth of that many calls by the Lync Server 2013 SIP
 * trunk planning rule (maximum simultaneous calls x (64 kbit/s + header)).
 * Pure: no clock, no I/O; the analyze report and the API feed it. */
#ifndef TS_CAPACITY_H
#define TS_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Minutes a busy hour spans. */
#define CAPACITY_HOUR_MIN 60

struct capacity_min {
    int64_t minute_ns;          /* start of the minute */
    uint64_t attempts, answered;
    double hold_s;              /* holding time of the answered calls begun in it */
};

/* Feed minutes in ascending order (several buckets of one minute merge);
 * read the result with capacity_finish. Zero-initialise or capacity_init. */
struct capacity {
    struct capacity_min ring[CAPACITY_HOUR_MIN]; /* the last hour's minutes */
    size_t head, n;
    uint64_t w_attempts, w_answered;
    double w_hold_s;
    int64_t first_ns, last_ns;  /* first and last minute seen; first_ns < 0: none */
    /* the busiest 60-minute window so far */
    int64_t bh_start_ns;
    uint64_t bh_attempts, bh_answered;
    double bh_hold_s;
};

struct capacity_result {
    int64_t bh_start_ns;        /* -1: no minute with traffic */
    double window_s;            /* 3600, or the observed span when shorter */
    uint64_t bh_attempts, bh_answered;
    double erlangs;             /* busy-hour holding time / window */
    double bhca;                /* attempts in the busy hour (scaled to an hour when shorter) */
    double mean_hold_s;         /* -1 when nothing answered */
    unsigned channels_1pct, channels_01pct;
};

void capacity_init(struct capacity *c);
void capacity_add(struct capacity *c, int64_t start_ns, uint64_t attempts, uint64_t answered,
                  double hold_s);
void capacity_finish(const struct capacity *c, struct capacity_result *r);

/* Erlang B blocking of a erlangs offered to n channels, by the recursion
 * B(0) = 1, B(m) = a B(m-1) / (m + a B(m-1)) (no factorials, no table). */
double capacity_erlang_b(double a, unsigned n);
/* Fewest channels whose blocking is at most p (0 for no traffic; at most
 * TS_CAPACITY_MAX_CHANNELS). */
unsigned capacity_channels(double a, double p);

/* The planning guide's per-call rate, per direction: 64 kbit/s of G.711
 * plus IPv4/UDP/RTP headers (40 B every 20 ms = 16 kbit/s). */
#define CAPACITY_GUIDE_KBPS 80.0
/* Layer-2 rate of a measured stream, per direction, kbit/s: RTP bytes plus
 * IP (20 B IPv4, 40 B IPv6), UDP 8 B and Ethernet 18 B per packet; -1 when
 * the stream lasted under a second. */
double capacity_l2_kbps(uint64_t rtp_bytes, uint64_t packets, double duration_s, int ipv6);

#endif
