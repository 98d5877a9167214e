/* Call tracker: INVITE transactions and dialogs (RFC 3261 sections 12-17),
 * legs correlated into calls across B2BUAs (RFC 7989 Session-ID, headers,
 * media, timing), trunk KPIs (RFC 6076) and REGISTER/OPTIONS peers. */
#ifndef TS_CALLS_H
#define TS_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../common/limits.h"
#include "../common/stats.h"
#include "../dissect/sdp.h"
#include "../dissect/sip.h"

enum calls_err { CALLS_OK = 0, CALLS_ERR_IO, CALLS_ERR_SYNTAX };

/* Bounded copies of wire strings (printable ASCII, others replaced by '?'). */
#define CALLS_USER_LEN 64
#define CALLS_TEXT_LEN 128
#define CALLS_DIGITS_LEN 32

struct calls_net {
    struct ts_addr addr;
    uint8_t plen;
};

struct calls_trunk_name {
    struct ts_addr addr;
    char name[CALLS_USER_LEN];
};

struct calls_config {
    struct calls_net nets[TS_CALLS_MAX_NETS];      /* internal networks */
    size_t nnets;
    bool nets_set;              /* internal_net given: ranges win over learning */
    char corr_hdrs[TS_CALLS_MAX_CORR_HDRS][CALLS_USER_LEN];
    size_t ncorr_hdrs;
    uint32_t corr_window_ms;    /* timing correlation window (default 2000) */
    uint32_t linger_ms;         /* a finished call waits this long for late legs (4000) */
    uint32_t auth_linger_s;     /* ... and this long after a 401/407 for the retry with
                                 * credentials in the same Call-ID (90: people type) */
    char country_code[8];       /* e.g. "49"; empty: none */
    char national_prefix[8];    /* trunk prefix, default "0" */
    char intl_prefix[8];        /* default "00" ("011" also when country_code is "1") */
    uint32_t no_final_timeout_s; /* INVITE without final response (180) */
    uint32_t no_bye_timeout_s;   /* answered dialog silent this long ends (14400) */
    uint32_t bucket_s;           /* KPI time bucket (60) */
    uint32_t max_dialogs;        /* <= TS_MAX_DIALOGS (tests use small values) */
    uint32_t learn_hold_legs;    /* calls held until this many legs taught the topology
                                  * (TS_TOPO_CONVERGE_LEGS; analyze: ..._OFFLINE); 0: no hold */
    uint32_t learn_hold_s;       /* ... or this long after the first INVITE */
    bool no_report;              /* a sensor: finished calls reach the sink only; none
                                  * are kept for calls_get() (not reloadable) */
    struct calls_trunk_name trunk_names[TS_CALLS_MAX_TRUNK_NAMES];
    size_t ntrunk_names;
    struct ts_addr sbcs[TS_CALLS_MAX_SBC]; /* known SBC addresses (more are learned) */
    size_t nsbcs;
    bool audio;                  /* "audio = on": calls may be played (export, API) */
};

/* Defaults: RFC 1918 + fc00::/7 (+ loopback) internal, X-CID/X-Call-ID/X-Original-Call-ID/
 * X-Orig-Call-ID, 2 s window, national prefix 0, 180 s / 4 h timeouts. */
void calls_config_default(struct calls_config *cfg);
/* Read "key = value" lines into cfg (call calls_config_default first).
 * Keys: internal_net (CIDR, repeatable; the first one replaces the defaults),
 * corr_header (repeatable; the first replaces the defaults), corr_window_ms,
 * linger_ms, auth_linger_s, country_code, national_prefix, intl_prefix, no_final_timeout_s,
 * no_bye_timeout_s, bucket_s, max_dialogs, trunk = <ip> <name>, sbc = <ip> (repeatable),
 * audio = on|off.
 * '#' starts a comment. Returns CALLS_OK or an error with a message in err. */
int calls_config_load(struct calls_config *cfg, const char *path, char *err, size_t errlen);
/* Address inside one of the configured internal networks. */
bool calls_config_internal(const struct calls_config *cfg, const struct ts_addr *a);

/* ---- number normalisation (number.c) ---- */

/* Significant digits of a user part / tel number: visual separators removed,
 * '+', international prefix + country code or national prefix stripped.
 * Non-numeric users ("alice") give "". Returns the digit count. */
size_t calls_number_norm(const struct calls_config *cfg, const char *raw, char *out, size_t cap);
/* 2: equal digits, 1: one is a suffix of the other with >= 7 digits,
 * 0: no match. Non-numeric users match (2) when equal ignoring case. */
int calls_number_match(const char *raw_a, const char *dig_a, const char *raw_b, const char *dig_b);

/* ---- finished records ---- */

/* IN_PROGRESS and PENDING: the input ended (or the sensor stopped) while
 * the call was up or ringing, or while its INVITE waited for any response
 * for less than Timer B (32 s); not counted in a trunk's KPIs. */
enum calls_outcome {
    CALLS_ANSWERED = 0, CALLS_BUSY, CALLS_REJECTED, CALLS_CANCELLED,
    CALLS_FAILED, CALLS_TIMEOUT, CALLS_IN_PROGRESS, CALLS_PENDING, CALLS_OUTCOME_N
};
/* The call has not ended: outcome IN_PROGRESS or PENDING. */
static inline bool calls_outcome_open(unsigned o)
{
    return o == CALLS_IN_PROGRESS || o == CALLS_PENDING;
}
enum calls_party { CALLS_PARTY_NONE = 0, CALLS_PARTY_CALLER, CALLS_PARTY_CALLEE,
                   CALLS_PARTY_TIMEOUT, CALLS_PARTY_ACTIVE };
enum calls_evidence { CALLS_EV_NONE = 0, CALLS_EV_SESSION_ID, CALLS_EV_HEADER,
                      CALLS_EV_MEDIA, CALLS_EV_TIMING };
enum calls_side { CALLS_SIDE_NONE = 0, CALLS_SIDE_ENTERPRISE, CALLS_SIDE_SBC, CALLS_SIDE_ITSP };
enum calls_dir { CALLS_DIR_INBOUND = 0, CALLS_DIR_OUTBOUND, CALLS_DIR_INTERNAL,
                 CALLS_DIR_TRANSIT };
enum calls_media_dir { CALLS_MD_NONE = 0, CALLS_MD_SENDRECV, CALLS_MD_SENDONLY,
                       CALLS_MD_RECVONLY, CALLS_MD_INACTIVE };
enum calls_codec { CALLS_CODEC_G711 = 0, CALLS_CODEC_G729, CALLS_CODEC_G722,
                   CALLS_CODEC_OPUS, CALLS_CODEC_OTHER, CALLS_CODEC_N };

struct calls_sdp {
    bool present;
    struct ts_addr addr;          /* c= address (family 0 when absent) */
    uint16_t port;                /* first audio m= port */
    uint8_t dir;                  /* enum calls_media_dir */
    bool srtp;                    /* RTP/SAVP(F), UDP/TLS/RTP/SAVP(F) or a=crypto */
    char codecs[48];              /* "PCMU,PCMA,telephone-event" */
};

/* Quality an endpoint reported about the leg's media: what the reporter
 * received (RFC 6035 LocalMetrics; PR/PL/JI of a stat header). Absent
 * values are < 0. */
enum calls_epq_source { CALLS_EPQ_NONE = 0, CALLS_EPQ_VQ_RTCPXR, CALLS_EPQ_X_RTP_STAT,
                        CALLS_EPQ_P_RTP_STAT };
struct calls_epq {
    uint8_t source;               /* enum calls_epq_source */
    uint8_t party;                /* enum calls_party of the reporter, NONE: unknown */
    bool interval;                /* an interval/alert report, not the session's end */
    float mos_lq, mos_cq, r_factor;
    float loss_pct, discard_pct, jitter_ms, rtt_ms, delay_ms;
    int64_t packets, lost;
    char codec[16];
};

struct calls_leg {
    uint64_t leg_ref;             /* unique per run: ties media streams to the leg */
    char call_id[CALLS_TEXT_LEN];
    char from[CALLS_USER_LEN], to[CALLS_USER_LEN], ruri[CALLS_USER_LEN], pai[CALLS_USER_LEN];
    char caller_digits[CALLS_DIGITS_LEN], callee_digits[CALLS_DIGITS_LEN];
    uint64_t invite_ns, prov_ns, ring_ns, answer_ns, end_ns; /* 0 = never */
    uint64_t attempt_ns;          /* INVITE of the last attempt (the retry after a
                                   * 401/407); delays (PDD, SRD) start here */
    uint64_t bye_ns, bye_ok_ns;   /* BYE and its 2xx (SDD) */
    uint16_t final_status;        /* 0 = no final response */
    char reason[CALLS_USER_LEN];  /* reason phrase of the final response */
    char reason_hdr[CALLS_USER_LEN]; /* Reason header protocol;cause;text */
    uint32_t q850_cause;          /* 0 = none */
    char ms_diag[CALLS_TEXT_LEN];
    char user_agent[CALLS_TEXT_LEN]; /* User-Agent of the INVITE */
    char server[CALLS_TEXT_LEN];  /* Server (else User-Agent) of the callee's first response */
    uint8_t hangup_by;            /* enum calls_party */
    struct calls_sdp caller_sdp, callee_sdp;
    char transport[8];
    struct ts_addr src, dst;      /* first INVITE seen */
    uint16_t sport, dport;
    uint8_t nhops;                /* distinct (src,dst) the INVITE was seen on */
    struct ts_addr hop_src[TS_CALLS_MAX_HOPS], hop_dst[TS_CALLS_MAX_HOPS];
    uint8_t forks;                /* distinct To-tags in responses to the INVITE */
    bool cancelled, transfer, session_timer, auth_challenged;
    bool capture_gap;             /* the capture dropped packets while the leg was up */
    bool hold;                    /* put on hold at least once (re-INVITE/UPDATE offer) */
    bool on_hold;                 /* still on hold at the end (no resume seen) */
    uint16_t holds;               /* hold transitions */
    uint32_t reinvites, retrans;
    bool no_ack;                  /* 2xx retransmitted and never ACKed (Timer H) */
    bool unreach;                 /* ended by an ICMP destination unreachable */
    uint16_t err_status;          /* earliest final error response (>= 300) */
    uint64_t err_ns;
    struct ts_addr err_src;
    uint8_t outcome;              /* enum calls_outcome */
    uint8_t ev_type;              /* enum calls_evidence (NONE for the first leg) */
    float ev_conf;
    int8_t ev_linked_to;          /* index of the leg it links to, -1 */
    char site[TS_SITE_LEN];       /* sensor/site that saw the first INVITE ("" local) */
    uint8_t nepq;                 /* endpoint quality reports */
    struct calls_epq epq[TS_CALLS_MAX_EPQ];
};

struct calls_call {
    uint64_t id;
    uint64_t start_ns;            /* first INVITE */
    char caller[CALLS_USER_LEN], callee[CALLS_USER_LEN];
    uint8_t direction;            /* enum calls_dir */
    uint8_t outcome;              /* enum calls_outcome */
    uint8_t failure_side;         /* enum calls_side */
    char failure_detail[256];
    bool no_ack;                  /* a leg answered and never ACKed */
    int64_t pdd_ms;               /* -1 = none */
    double duration_s;
    uint8_t nlegs;
    struct calls_leg *legs;       /* nlegs, ordered by INVITE time */
    char site[TS_SITE_LEN];       /* site of the first leg (legs keep their own) */
    uint64_t replaces;            /* 0; else this call (emitted before with this id)
                                   * now also holds the legs of call `replaces`, which
                                   * is gone: a relay learned later joined them */
};

/* ---- trunks ---- */

/* RFC 6076 / E.425 style counters for one trunk, direction or bucket. */
struct calls_kpi {
    uint64_t attempts, answered, busy, rejected, cancelled, failed, timeouts;
    uint64_t redirects;   /* final 3xx: excluded from SER/SEER denominators */
    uint64_t ner_ok;      /* answered + 486 480 487 600 603 404 484 (user side) */
    uint64_t seer_ok;     /* answered + 480 486 600 603 (RFC 6076 4.7) */
    uint64_t isa;         /* final 408 500 503 504 (RFC 6076 4.8) */
    uint64_t completed;   /* answered and ended by BYE (RFC 6076 4.9), ACKed */
    uint64_t no_ack;      /* answered, 2xx never ACKed (dropped by Timer H) */
    double dur_sum_s; uint64_t dur_n;       /* answered: answer -> end (ACD, SDT) */
    double srd_sum_ms; uint64_t srd_n;      /* INVITE -> first 180/183 (SRD, PDD) */
    double ans_sum_ms; uint64_t ans_n;      /* INVITE -> 2xx */
    double sdd_sum_ms; uint64_t sdd_n;      /* BYE -> 2xx (SDD) */
};

#define CALLS_HIST_N 281
struct calls_hist { uint32_t n[CALLS_HIST_N]; uint64_t total; };

struct calls_bucket {
    uint64_t start_ns;
    struct calls_kpi k;
    uint32_t peak_concurrent;
};

struct calls_trunk {
    uint32_t id;
    char name[CALLS_USER_LEN];
    struct ts_addr local, peer;   /* local = enterprise side */
    bool itsp;                    /* peer external: ITSP trunk; else direct */
    struct calls_kpi all, dir[2]; /* dir[CALLS_DIR_INBOUND / OUTBOUND] */
    struct calls_hist srd_hist, ans_hist;
    uint32_t codes[600];          /* final status 100..699 */
    uint32_t concurrent, peak_concurrent;
    uint64_t peak_ns;
    /* calls up per codec now, and at the bandwidth peak (peak_kbps: the
     * largest sum of calls x codec rate at one instant, per direction) */
    uint32_t conc_codec[CALLS_CODEC_N], peak_codec[CALLS_CODEC_N];
    double peak_kbps;
    size_t nbuckets, buckets_cap;
    struct calls_bucket *buckets; /* ascending start_ns */
    char site[TS_SITE_LEN];       /* site that saw its first INVITE */
};

double calls_kpi_asr(const struct calls_kpi *k);   /* answered / attempts, -1 if none */
double calls_kpi_ner(const struct calls_kpi *k);
double calls_kpi_ser(const struct calls_kpi *k);
double calls_kpi_seer(const struct calls_kpi *k);
double calls_kpi_isa(const struct calls_kpi *k);
double calls_kpi_scr(const struct calls_kpi *k);
double calls_kpi_acd_s(const struct calls_kpi *k); /* -1 if none */
double calls_kpi_mean(double sum, uint64_t n);    /* -1 if n == 0 */
/* Upper bound of the bin holding the 95th percentile (ms), -1 if empty. */
int64_t calls_hist_p95(const struct calls_hist *h);
/* Per-direction kbit/s (Ethernet L2 incl.) at the trunk's bandwidth peak:
 * the largest sum over the calls up at one instant of their codec's rate. */
double calls_trunk_peak_kbps(const struct calls_trunk *t);
double calls_codec_kbps(enum calls_codec k);
struct capacity_result;
/* Busy hour, Erlangs, BHCA and Erlang B channels from the kept buckets
 * (calls/capacity.h; the buckets' holding time is by INVITE minute). */
void calls_trunk_capacity(const struct calls_trunk *t, struct capacity_result *r);

/* ---- learned topology (topo.c) ---- */

struct calls;

enum calls_role { CALLS_ROLE_NONE = 0, CALLS_ROLE_ENDPOINT, CALLS_ROLE_PBX, CALLS_ROLE_MEDIATION,
                  CALLS_ROLE_SBC, CALLS_ROLE_CARRIER, CALLS_ROLE_GATEWAY };
/* How a node's side was found: relaying calls (B2BUA evidence), its place
 * in the chain beyond a learned edge, address ranges, configuration. */
enum { TOPO_HOW_NONE = 0, TOPO_HOW_RELAY, TOPO_HOW_CHAIN, TOPO_HOW_RANGES, TOPO_HOW_CONFIG,
       TOPO_HOW_MIRROR };
#define CALLS_TOPO_NODE_ADDRS 8

struct calls_topo_node {
    uint32_t id;
    uint8_t role;                 /* enum calls_role */
    uint8_t side;                 /* enum calls_side */
    uint8_t how;                  /* TOPO_HOW_* */
    bool b2bua;                   /* relays calls (learned from the traffic) */
    uint8_t naddrs;
    struct ts_addr addrs[CALLS_TOPO_NODE_ADDRS];
    uint32_t calls;               /* calls supporting it (relayed, or INVITEs for a peer) */
    float confidence;
    char ua[48];                  /* User-Agent / Server it announced */
    char site[TS_SITE_LEN];       /* sensor site that saw most of its calls ("" none) */
};
/* Nodes as learned so far (B2BUAs with their addresses, then every other
 * trunk end); at most cap written, the count returned. */
size_t calls_topo_nodes(const struct calls *c, struct calls_topo_node *out, size_t cap);
const char *calls_role_name(enum calls_role r);
const char *calls_topo_how_name(unsigned how);

/* ---- REGISTER / OPTIONS peers ---- */

struct calls_reg {
    struct ts_addr client, server;
    uint8_t method;               /* SIP_M_REGISTER or SIP_M_OPTIONS */
    char aor[CALLS_USER_LEN];     /* To user of the last request */
    uint64_t attempts, successes, challenges, failures, timeouts;
    double rt_sum_ms; uint64_t rt_n; uint32_t rt_max_ms;
    uint16_t last_status;
    uint64_t first_ns, last_ns, last_ok_ns;
};

/* ---- the tracker ---- */

struct calls;
typedef void (*calls_sink_fn)(void *ctx, const struct calls_call *call);

/* cfg is copied (NULL = defaults); st receives the calls.* counters and may be
 * NULL (an internal set is used). Returns NULL on allocation failure. */
struct calls *calls_new(const struct calls_config *cfg, struct ts_stats *st);
void calls_free(struct calls *c);
/* Prefetch hints for a SIP message a few packets before calls_sip() sees
 * it (speed only, no effect on results): calls_callid_hash() is the dialog
 * table's hash of a Call-ID value and reads no state, so a reader thread may
 * compute it; then calls_prefetch_bucket() and, once that arrived,
 * calls_prefetch_dialog() fetch the dialog. */
uint64_t calls_callid_hash(struct bv call_id);
void calls_prefetch_bucket(const struct calls *c, uint64_t h);
void calls_prefetch_dialog(const struct calls *c, uint64_t h);
/* ICMP destination unreachable quoting a UDP datagram (decode_cb.unreach):
 * a SIP INVITE whose leg has no final response yet makes that leg failed,
 * its reason the ICMP error. */
void calls_unreach(struct calls *c, const struct pkt_meta *m, const struct pkt_meta *q,
                   uint8_t code, struct bv quoted);
/* One parsed SIP message; views in msg are only read during the call. */
void calls_sip(struct calls *c, const struct pkt_meta *m, const struct sip_msg *msg);
/* Capture time advanced: timeouts, emission of finished calls. */
void calls_tick(struct calls *c, uint64_t now_ns);
/* End of input: every open leg ends (timeout / still active) and is emitted;
 * the kept calls' direction and failure side are worked out again with every
 * SBC address learned by then. */
void calls_finish(struct calls *c);
/* Direction and failure side of an emitted call (a copy) worked out again
 * with the SBC addresses and networks known now, as calls_finish() does for
 * the kept calls: for a consumer that writes calls some time after they were
 * emitted. */
void calls_classify(const struct calls *c, struct calls_call *call);
/* fn(ctx, call) for each emitted call; the record is valid during the call. */
void calls_set_sink(struct calls *c, calls_sink_fn fn, void *ctx);

/* Media observer: SDP bodies as they are seen (offers and answers, re-INVITE
 * and UPDATE included) and the legs' answer and end, so that RTP can be tied
 * to its leg. Called on the analysis thread; any member may be NULL. The
 * body comes parsed (once, for both): s and sdp_parse's verdict r, valid
 * during the call. */
struct calls_media_hooks {
    void *ctx;
    void (*sdp)(void *ctx, uint64_t leg_ref, const struct sdp *s, enum sdp_result r,
                uint64_t ts_ns);
    void (*answered)(void *ctx, uint64_t leg_ref, uint64_t ts_ns);
    void (*ended)(void *ctx, uint64_t leg_ref, uint64_t ts_ns);
    /* a BYE was seen on the leg (ended is also called, maybe earlier on a
     * timeout; media after this is "RTP after BYE") */
    void (*bye)(void *ctx, uint64_t leg_ref, uint64_t ts_ns);
};
void calls_set_media_hooks(struct calls *c, const struct calls_media_hooks *h);
/* The capture lost packets in [t0_ns, t1_ns]: legs up then are marked
 * capture_gap (their messages may be incomplete). */
void calls_note_drop(struct calls *c, uint64_t t0_ns, uint64_t t1_ns);

const struct calls_config *calls_config_of(const struct calls *c);
/* A reloaded configuration (SIGHUP) for a running tracker. Copied:
 * internal networks, correlation headers, trunk names, corr_window_ms,
 * linger_ms, auth_linger_s and the two timeouts; SBC addresses are added
 * (never removed: any may also have been learned). Existing trunks are
 * renamed and re-oriented; legs in progress keep the trunk and header values
 * they took at their INVITE, calls emitted later are classified with the new
 * networks. Kept: max_dialogs (sizes the tables), bucket_s (KPI buckets are
 * laid out) and the number prefixes (legs in memory were normalised with the
 * old ones). Call it between messages, on the thread that feeds c. */
void calls_set_config(struct calls *c, const struct calls_config *cfg);
size_t calls_count(const struct calls *c);            /* kept for the report */
/* Kept call i (emission order), unpacked from its compact copy: the record
 * is valid until the next calls_get() on c (or calls_finish, calls_free). */
const struct calls_call *calls_get(const struct calls *c, size_t i);
uint64_t calls_emitted(const struct calls *c);        /* all emitted, kept or not */
size_t calls_trunk_count(const struct calls *c);
const struct calls_trunk *calls_trunk_get(const struct calls *c, size_t i);
size_t calls_reg_count(const struct calls *c);
const struct calls_reg *calls_reg_get(const struct calls *c, size_t i);
size_t calls_dialogs_held(const struct calls *c);     /* legs in memory */
/* Of those, legs the tick's walk skips until their next message, their
 * timeout or the end of another leg of their call. Walks them: diagnostics. */
size_t calls_dialogs_parked(const struct calls *c);
size_t calls_pending_held(const struct calls *c);     /* REGISTER/OPTIONS txns */

/* Legs in progress now (a live view: answered and not ended, ringing, or
 * waiting for any response). */
enum calls_open_state { CALLS_OPEN_UP = 0, CALLS_OPEN_RINGING, CALLS_OPEN_TRYING };
struct calls_open_counts {
    uint64_t calls_up;            /* calls with at least one answered leg up */
    uint64_t legs_up, legs_ringing, legs_trying;
};
/* fn (may be NULL: counts only) for each leg not ended, with its record,
 * its state and the key of its call (legs of one call share it); counts
 * everything in out. The record is valid during the call. Walks every held
 * dialog: call it at most every second or so, on the thread that feeds c. */
typedef void (*calls_open_fn)(void *ctx, const struct calls_leg *l, enum calls_open_state st,
                              uint64_t call_key);
void calls_open_legs(const struct calls *c, calls_open_fn fn, void *ctx,
                     struct calls_open_counts *out);
uint64_t calls_stat(const struct calls *c, enum ts_stat s);

const char *calls_outcome_name(enum calls_outcome o);
const char *calls_party_name(enum calls_party p);
const char *calls_evidence_name(enum calls_evidence e);
const char *calls_side_name(enum calls_side s);
const char *calls_dir_name(enum calls_dir d);
const char *calls_media_dir_name(enum calls_media_dir d);
const char *calls_codec_name(enum calls_codec k);
/* "vq-rtcpxr", "x-rtp-stat", "p-rtp-stat"; NULL for NONE. */
const char *calls_epq_source_name(enum calls_epq_source s);
/* The leg's endpoint reports as a JSON array into buf (not NUL-terminated);
 * returns its length, 0 when there are none or they do not fit cap. */
size_t calls_epq_json(const struct calls_leg *l, char *buf, size_t cap);
/* The same array as a value of an open JSON writer. */
struct jsonw;
void calls_epq_write(struct jsonw *w, const struct calls_leg *l);
/* ISO-8601 UTC with milliseconds ("2024-01-02T03:04:05.678Z"); buf >= 32. */
const char *calls_iso_time(uint64_t ns, char *buf, size_t cap);

#endif
