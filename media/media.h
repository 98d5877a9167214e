/* Media analysis: RTP streams (RFC 3550) found from SDP offer/answer
 * (RFC 3264) endpoints or by heuristics, per-stream statistics that agree
 * with tshark's RTP stream analysis, RTCP SR/RR/SDES/BYE/XR (RFC 3550 6.4,
 * RFC 3611 4.7), RFC 4733 DTMF events, E-model quality (ITU-T G.107) and
 * detections (one-way audio, late media, RTP after BYE, codec mismatch,
 * capture gaps). Bounded tables with LRU eviction throughout. */
#ifndef TS_MEDIA_H
#define TS_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/bv.h"
#include "../common/limits.h"
#include "../common/stats.h"
#include "../crypto/sdes.h"

struct sdp_media;

enum media_err { MEDIA_OK = 0, MEDIA_ERR_NOMEM };

struct media_config {
    uint32_t idle_ms;         /* a stream silent this long ends (30000; up to 2 s later) */
    uint32_t jb_ms;           /* de-jitter buffer depth for the E-model (60) */
    uint32_t expect_idle_ms;  /* an SDP endpoint unused this long is forgotten (3600000;
                               * up to a sixteenth + 2 s later) */
    uint32_t max_streams;     /* live streams, <= TS_MEDIA_MAX_STREAMS (tests use small) */
    uint32_t max_report;      /* finished streams kept, <= TS_MEDIA_MAX_REPORT_STREAMS;
                               * 0: none (a sensor: records reach the sink only) */
    uint32_t max_srtp;        /* streams with SRTP state, <= TS_MEDIA_SRTP_STREAMS_MAX
                               * (0: that; tests use small) */
    bool heuristic;           /* find unsignalled RTP by header heuristics (true) */
    bool heuristic_confirm;   /* ... only once a second packet continues the first (true);
                               * false: each RTP-looking datagram at once (stream-table
                               * tests that need many one-packet streams) */
};

void media_config_default(struct media_config *cfg);

/* What an SDP media section says about one endpoint. */
enum media_dir { MEDIA_DIR_SENDRECV = 0, MEDIA_DIR_SENDONLY, MEDIA_DIR_RECVONLY,
                 MEDIA_DIR_INACTIVE };

struct media_codec {
    uint8_t pt;
    uint32_t clock;           /* 0 unknown */
    char name[16];            /* encoding name, "" unknown */
};

/* The SDES keys (a=crypto, RFC 4568) an endpoint's SDP announced: the keys
 * its sender encrypts with (section 6.1). */
struct media_keys {
    uint8_t n;
    struct sdes_key k[TS_MEDIA_SDES_KEYS];
};

struct media_sdp_info {
    uint8_t ncodecs;
    struct media_codec codec[TS_MEDIA_SDP_CODECS]; /* the m= format list */
    uint8_t dir;              /* enum media_dir */
    bool srtp;                /* RTP/SAVP(F) or a=crypto / fingerprint */
    bool not_rtp;             /* udptl (T.38) or TCP: packets there are not RTP */
    uint16_t rtcp_port;       /* a=rtcp, 0: port + 1 */
    struct media_keys keys;   /* a=crypto keys that parsed (n 0: none) */
};

/* Fill info from a parsed m= section (formats, rtpmaps, direction, SRTP). */
void media_sdp_info_from(const struct sdp_media *sm, struct media_sdp_info *info);

/* Stream flags. */
enum {
    MEDIA_F_ONE_WAY = 1u << 0,       /* answered leg, the other direction silent or nearly */
    MEDIA_F_NO_AUDIO = 1u << 1,      /* answered leg without audio packets */
    MEDIA_F_LATE_MEDIA = 1u << 2,    /* first packet > 2 s after the answer */
    MEDIA_F_RTP_AFTER_BYE = 1u << 3, /* packets > 1 s after the leg's BYE */
    MEDIA_F_CODEC_MISMATCH = 1u << 4,/* a PT outside the negotiated set */
    MEDIA_F_CAPTURE_GAP = 1u << 5,   /* the capture itself lost packets meanwhile */
    MEDIA_F_SRTP = 1u << 6,
    MEDIA_F_UNSIGNALLED = 1u << 7,   /* found by heuristics, no SDP */
    MEDIA_F_SSRC_CHANGE = 1u << 8,   /* another SSRC was seen on this 5-tuple before */
    MEDIA_F_EVICTED = 1u << 9,       /* ended early: the stream table was full */
    MEDIA_F_SERIES_FULL = 1u << 10,  /* time series stopped at TS_MEDIA_MAX_SERIES */
    MEDIA_F_TRUNCATED = 1u << 11,    /* payloads cut by the capture's snap length:
                                      * figures from the headers only */
    MEDIA_F_N = 12
};
/* JSON/text name of flag bit i ("one_way"), NULL past the end. */
const char *media_flag_name(unsigned bit);

/* Below this MOS a stream, leg or call is poor and says why. */
#define MEDIA_POOR_MOS 3.5
/* Why a MOS is poor: the impairment that took it under MEDIA_POOR_MOS. */
enum media_reason {
    MEDIA_R_NONE = 0,
    MEDIA_R_LOSS,       /* network loss (random) */
    MEDIA_R_BURST_LOSS, /* the same loss would not be poor if it were random */
    MEDIA_R_LATE,       /* most bad packets came too late for the de-jitter buffer */
    MEDIA_R_DELAY,      /* mouth-to-ear delay alone */
    MEDIA_R_CODEC,      /* the codec's impairment alone */
    MEDIA_R_ONE_WAY,    /* leg/call: one direction missing or nearly empty */
    MEDIA_R_NO_AUDIO,   /* leg/call: answered, no audio either way */
    MEDIA_R_N
};
/* "loss", "burst_loss", "late_discards", "delay", "codec", "one_way",
 * "no_audio"; NULL for MEDIA_R_NONE and past the end. */
const char *media_reason_name(unsigned r);

/* One 5-second interval of a stream. */
struct media_series {
    uint16_t packets;
    uint16_t lost;            /* sequence gaps seen in the interval */
    float jitter_ms;          /* largest jitter in the interval */
    float mos;                /* interval E-model MOS, < 0 when unknown */
};

struct media_rtcp {
    uint32_t sr, rr, sdes, bye, xr, app, fb;   /* packets sent by this SSRC */
    bool srtcp;
    char cname[48];
    /* report blocks about this SSRC (the receiver's view) */
    uint32_t blocks;
    float fraction_lost;      /* last, 0..1 */
    float fraction_lost_max;
    int32_t cum_lost;         /* last */
    float jitter_ms;          /* last, via the stream clock; < 0 unknown */
    uint32_t rtt_n;
    float rtt_ms, rtt_max_ms; /* capture point <-> receiver, from LSR/DLSR */
    bool xr_voip;
    float xr_mos_lq, xr_r_factor; /* < 0 when unavailable */
    /* compounds this SSRC sent: first and last, and the longest silence
     * between two (the Lync trunk checklist's 30-s RTCP rule) */
    uint64_t first_ns, last_ns, max_gap_ns;
};

#define MEDIA_DTMF_LEN 32

/* A finished stream. series is owned by the record. */
struct media_stream {
    /* updated by every packet: first (one cache line) */
    uint64_t packets, bytes;  /* bytes: RTP header + payload */
    uint64_t last_ns;
    uint64_t pts_seen[2];     /* bit per payload type 0..127 */
    uint32_t ssrc;
    uint32_t flags;           /* MEDIA_F_* */
    uint32_t markers, cn_packets;
    uint64_t leg_ref;
    uint64_t id;
    struct ts_addr src, dst;
    uint16_t sport, dport;
    uint8_t first_pt, pt;     /* first and main (first audio) payload type */
    char codec[16];
    uint32_t clock;           /* of the main PT, 0 unknown */
    int64_t expected, lost;   /* tshark's: last - first sequence + 1, minus packets */
    double lost_pct;
    uint32_t duplicates, out_of_order, seq_resets, seq_errors;
    uint32_t discarded;
    double min_delta_ms, mean_delta_ms, max_delta_ms;     /* min -1: none */
    double min_jitter_ms, mean_jitter_ms, max_jitter_ms;  /* min -1: none */
    bool problem;             /* tshark's "Problem?" */
    uint64_t first_ns;
    double r_factor, mos;     /* < 0 when unknown (no audio codec) */
    double ppl, burst_r, delay_ms; /* E-model inputs */
    uint8_t mos_reason;       /* enum media_reason: set when mos < MEDIA_POOR_MOS */
    bool signalled;
    uint64_t call_ref;
    uint32_t dtmf_events;
    char dtmf[MEDIA_DTMF_LEN];
    /* SRTP opened with the SDP's SDES keys: RTP packets decrypted, those
     * that failed to authenticate (wrong key, tampering), and those not
     * tried because every key had failed TS_SRTP_GIVE_UP packets in a row
     * (one in TS_SRTP_RETRY_EVERY is still tried); all 0 without keys */
    uint64_t srtp_decrypted, srtp_auth_fail, srtp_not_tried;
    struct media_rtcp rtcp;
    uint32_t nseries;
    struct media_series *series;
};

/* Worst-of aggregation per leg and per call. */
struct media_quality {
    uint32_t streams;
    uint64_t packets;
    int64_t lost;
    double mos, r_factor;     /* worst; < 0 when no stream had one. 1.0 (R 0) for a
                               * one-way or silent leg, whatever the other way scored */
    double max_jitter_ms;
    uint32_t flags;           /* union of MEDIA_F_* (leg-level one_way/no_audio included) */
    uint8_t reason;           /* enum media_reason of the worst, when mos < MEDIA_POOR_MOS */
};

/* The MOS a stream gives its leg (and call): 1.0 when the leg is one-way
 * (the stream is flagged one_way), else its own; reason gets why it is
 * poor (MEDIA_R_NONE when it is not). */
double media_stream_leg_mos(const struct media_stream *s, uint8_t *reason);

struct media;
typedef void (*media_sink_fn)(void *ctx, const struct media_stream *s);

/* cfg copied (NULL: defaults); st gets the rtp.* / rtcp.* counters (NULL: an
 * internal set). NULL on allocation failure. */
struct media *media_new(const struct media_config *cfg, struct ts_stats *st);
void media_free(struct media *m);
/* fn(ctx, stream) for every finished stream; valid during the call only. */
void media_set_sink(struct media *m, media_sink_fn fn, void *ctx);
/* fn(ctx, stream id, sequence number, payload) for every RTP packet whose
 * payload is plaintext: plain RTP, and SRTP once opened with its SDES
 * keys (a packet that fails to authenticate never gets here); the payload
 * is valid during the call only. */
typedef void (*media_payload_fn)(void *ctx, uint64_t stream_id, uint16_t seq, struct bv payload);
void media_set_payload_hook(struct media *m, media_payload_fn fn, void *ctx);

/* A UDP payload that is not SIP/HEP. Returns true when it was taken as RTP,
 * RTCP or other traffic on an SDP-announced media port. hash: its
 * media_stream_hash() when the packet's decoder worked it out (0: not
 * known; it is then computed here). */
bool media_udp(struct media *m, const struct pkt_meta *pm, struct bv payload, uint64_t hash);

/* Prefetch hints for a UDP packet a few packets before media_udp sees it
 * (speed only, no effect on results). media_stream_hash() is the stream
 * table's hash of the packet's RTP key (0: not RTP-like) and
 * media_endpoint_slots() its endpoints' generation slots; they read no
 * analyser state, so a reader thread may compute them. Then, a few packets
 * ahead, media_prefetch_bucket() fetches the bucket and the slots and, once
 * the bucket arrived, media_prefetch_stream() the stream itself. */
uint64_t media_stream_hash(const struct pkt_meta *pm, struct bv payload);
void media_endpoint_slots(const struct pkt_meta *pm, uint32_t slot[2]);
void media_prefetch_bucket(const struct media *m, uint64_t hash, const uint32_t slot[2]);
void media_prefetch_stream(const struct media *m, uint64_t hash);

/* An SDP offer or answer announced addr:port for leg_ref / call_ref (refs are
 * the caller's, non-zero). A later call for the same endpoint replaces it.
 * info may be NULL. The RTCP endpoint (a=rtcp or port + 1) is registered too
 * unless rtcp_mux. */
void media_expect(struct media *m, const struct ts_addr *addr, uint16_t port, bool rtcp_mux,
                  uint64_t leg_ref, uint64_t call_ref, uint64_t now_ns,
                  const struct media_sdp_info *info);
/* The call layer's view of a leg: answered (2xx) and ended (BYE / CANCEL). */
void media_leg_answered(struct media *m, uint64_t leg_ref, uint64_t ts_ns);
void media_leg_ended(struct media *m, uint64_t leg_ref, uint64_t ts_ns);
/* A BYE ended the leg: RTP more than 1 s after it is flagged rtp_after_bye
 * (an end by timeout, failure or challenge is not a BYE). An answer after
 * an end (a new attempt after 401/407, or a 2xx winning over a failure on
 * another hop) reopens the leg. */
void media_leg_bye(struct media *m, uint64_t leg_ref, uint64_t ts_ns);
/* The capture is known to have dropped packets in [t0, t1] (interface drop
 * counters): streams active then get MEDIA_F_CAPTURE_GAP. */
void media_capture_gap(struct media *m, uint64_t t0_ns, uint64_t t1_ns);

/* Capture time advanced: idle streams end, old endpoints are forgotten. */
void media_tick(struct media *m, uint64_t now_ns);
/* End of input: every stream ends. */
void media_finish(struct media *m);

size_t media_count(const struct media *m);            /* finished streams kept */
const struct media_stream *media_get(const struct media *m, size_t i);
uint64_t media_emitted(const struct media *m);        /* all finished, kept or not */
size_t media_live(const struct media *m);             /* streams in the table */
/* Worst-of quality of the finished streams of a leg / call; false when
 * nothing is known about it. */
bool media_leg_quality(const struct media *m, uint64_t leg_ref, struct media_quality *out);
bool media_call_quality(const struct media *m, uint64_t call_ref, struct media_quality *out);
/* True while a stream tied to the leg is still live (its quality is not
 * final yet). */
bool media_leg_active(const struct media *m, uint64_t leg_ref);
/* Legs among the aggregates held whose flags have any of these bits. */
size_t media_legs_flagged(const struct media *m, uint32_t flags);

/* "1.2.3.4:5" or "[2001:db8::1]:5" into buf (>= 56 bytes). */
const char *media_endpoint_str(const struct ts_addr *a, uint16_t port, char *buf, size_t cap);

#endif
