/* Quality that endpoints report about a call: RFC 6035 vq-rtcpxr bodies
 * (SIP PUBLISH, Content-Type application/vq-rtcpxr, section 4) and the
 * end-of-call statistics headers of BYE and its 2xx (X-RTP-Stat,
 * P-RTP-Stat: "PS=..,OS=..,PR=..,OR=..,PL=..,JI=..,LA=..,DU=..,EN=.."). Pure:
 * no globals, I/O or allocation; views point into the input. */
#ifndef TS_VQ_H
#define TS_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/bv.h"

enum vq_result {
    VQ_OK = 0,
    VQ_TRUNCATED,   /* a report header without its value, a metrics block cut short */
    VQ_INVALID,     /* not a report of this format */
    VQ_UNSUPPORTED, /* a report, but no metric we know */
};

/* One party's metrics (RFC 6035 4.7: LocalMetrics is what the reporter
 * measured on the stream it received). Absent values are < 0. */
struct vq_metrics {
    double mos_lq, mos_cq;      /* QualityEst MOSLQ / MOSCQ (1.0 - 5.0) */
    double r_lq, r_cq;          /* QualityEst RLQ / RCQ (0 - 120) */
    double loss_pct;            /* PacketLoss NLR; PL / (PR + PL) of a stat header */
    double discard_pct;         /* PacketLoss JDR */
    double jitter_ms;           /* Delay IAJ; JI */
    double rtt_ms;              /* Delay RTD */
    double delay_ms;            /* Delay ESD (end system); LA (latency) */
    double packets, lost, sent; /* PR, PL, PS of a stat header */
    double duration_s;          /* DU; Timestamps STOP - START is not parsed */
};

struct vq_report {
    bool interval;              /* VQIntervalReport / VQAlertReport, not a session end */
    struct bv call_id;          /* CallID: of the reported call (vq-rtcpxr only) */
    struct bv local_id, remote_id;
    struct bv codec;            /* SessionDesc PD=; EN= of a stat header */
    bool has_local, has_remote;
    struct vq_metrics local;    /* a stat header fills local */
    struct vq_metrics remote;
};

/* A vq-rtcpxr body (RFC 6035 4.7). VQ_OK when at least one metric was
 * read; CallID is then set when the body had one. */
enum vq_result vq_parse_rtcpxr(struct bv body, struct vq_report *out);
/* The value of an X-RTP-Stat / P-RTP-Stat header ("KEY=value" separated by
 * ',' or ';'). VQ_OK when at least one known key was read. */
enum vq_result vq_parse_stat(struct bv value, struct vq_report *out);
/* Is this Content-Type value application/vq-rtcpxr (parameters ignored)? */
bool vq_is_rtcpxr_type(struct bv content_type);

#endif
