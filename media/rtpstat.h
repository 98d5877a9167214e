/* Per-stream RTP statistics: the packet analysis of Wireshark's RTP stream
 * tap (so that counts, deltas and jitter agree with `tshark -z rtp,streams`)
 * next to RFC 3550 A.1/A.3 sequence accounting (extended highest sequence,
 * duplicates, reordering, resets) and a de-jitter buffer simulation for
 * the E-model (fixed depth; re-synchronised at talkspurt starts, sequence
 * or timestamp restarts; reference = minimum transit over a sliding
 * window). Pure: the caller supplies times and clock rates. */
#ifndef TS_RTPSTAT_H
#define TS_RTPSTAT_H

#include <stdbool.h>
#include <stdint.h>

/* The de-jitter reference is the smallest transit over the last
 * RTPSTAT_JB_SLOTS x RTPSTAT_JB_SLOT_MS of arrivals: slow drift and delay
 * changes are followed within that window, a burst shorter than it is not. */
#define RTPSTAT_JB_SLOTS 2
#define RTPSTAT_JB_SLOT_MS 1000.0

/* One packet as the statistics need it. */
struct rtpstat_pkt {
    double t_ms;        /* arrival, ms on any fixed origin */
    uint16_t seq;
    uint32_t ts;
    uint8_t pt;
    bool marker;
    uint32_t clock;     /* tshark's clock for this PT (rtpstat_clock), 0 unknown */
    uint32_t jb_clock;  /* real clock for the de-jitter simulation, 0 unknown */
};

struct rtpstat {
    /* ---- Wireshark rtppacket_analyse() state ---- */
    bool started, under, problem;
    uint8_t pt;
    uint16_t start_seq, stop_seq;
    uint32_t seq_num;           /* last in-sequence number (32-bit as upstream) */
    uint32_t seq_cycles;
    uint32_t seq_errors;        /* "wrong sequence" events */
    uint32_t total_nr;
    uint64_t ext_ts;            /* unwrapped RTP timestamp of the last packet */
    uint64_t first_ts;          /* extended timestamp of the first packet */
    double last_nominal;        /* ms after first_ts of the last packet with a clock */
    double time_ms;             /* arrival of the last in-time packet */
    double delta, jitter;
    double min_delta, max_delta, mean_delta;
    double min_jitter, max_jitter, mean_jitter;
    /* ---- RFC 3550 A.1 ---- */
    uint16_t max_seq;
    uint32_t cycles;            /* count of wraps << 16 */
    uint32_t base_seq, bad_seq;
    uint32_t received;
    uint32_t duplicates, out_of_order, resets;
    uint64_t seen[2];           /* received bits for max_seq-127 .. max_seq */
    /* ---- loss pattern and de-jitter buffer (for Ppl and BurstR) ---- */
    uint64_t jb_ts0;            /* extended timestamp origin of the timeline */
    double jb_t0;               /* arrival (ms) of the packet that set the origin */
    double jb_last_t;           /* arrival of the previous in-order packet */
    uint64_t jb_last_ts;        /* and its extended timestamp */
    float jb_min[RTPSTAT_JB_SLOTS]; /* smallest transit per slot (ms after jb_t0) */
    uint32_t jb_slot[RTPSTAT_JB_SLOTS]; /* which slot-long period each holds */
    uint32_t jb_clock;          /* clock the origin was taken with */
    bool jb_started, in_run;
    uint32_t discarded, bad, runs;
    uint32_t jb_resyncs;        /* timeline re-anchored (talkspurt, restart, jump) */
    uint32_t win_lost;          /* losses since the caller last reset it */
};

/* Wireshark's clock for pt: static table below 96; for dynamic PTs the SDP
 * rate, else its media-type table by name ("opus" 48000...); 0 when unknown
 * and for telephone-event (whose timestamps do not advance). */
uint32_t rtpstat_clock(uint8_t pt, const char *name, uint32_t sdp_rate);

void rtpstat_init(struct rtpstat *s);
/* Account one packet; jb_ms is the de-jitter buffer depth. */
void rtpstat_packet(struct rtpstat *s, const struct rtpstat_pkt *p, double jb_ms);

/* Wireshark's expected (last seq + cycles - first seq + 1) and lost. */
int64_t rtpstat_expected(const struct rtpstat *s);
int64_t rtpstat_lost(const struct rtpstat *s);
/* RFC 3550 A.3 expected: extended highest - base + 1. */
int64_t rtpstat_rfc_expected(const struct rtpstat *s);

#endif
