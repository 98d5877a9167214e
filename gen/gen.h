/* trunkscope traffic generator: writes a realistic SIP trunk capture (pcap)
 * and an exact truth file (JSON). Same options + seed = same bytes. */
#ifndef TS_GEN_H
#define TS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gen_err {
    GEN_OK = 0,
    GEN_EUSAGE,    /* bad option or value */
    GEN_EIO,       /* cannot open or write a file */
    GEN_ENOMEM,    /* allocation failed */
    GEN_EINTERNAL, /* a message did not fit its buffer (a bug) */
};

/* Scenario mix keys (--mix KEY=WEIGHT,...). hold/early/refer are answered calls. */
enum gen_mix {
    GEN_MIX_ANSWERED,
    GEN_MIX_HOLD,
    GEN_MIX_EARLY,
    GEN_MIX_REFER,
    GEN_MIX_BUSY,
    GEN_MIX_REJECTED,
    GEN_MIX_CANCELLED,
    GEN_MIX_FAILED,
    GEN_MIX_TIMEOUT,
    GEN_MIX_MAX
};

/* Impairments a stream may be given (--impairments LIST). */
enum gen_imp {
    GEN_IMP_NONE,
    GEN_IMP_LOSS,
    GEN_IMP_BURST,
    GEN_IMP_JITTER,
    GEN_IMP_REORDER,
    GEN_IMP_DUP,
    GEN_IMP_SSRC_CHANGE,
    GEN_IMP_ONE_WAY,
    GEN_IMP_MAX
};

enum gen_transport { GEN_TP_UDP, GEN_TP_TCP, GEN_TP_TLS, GEN_TP_MIX };
/* Correlation style of a B2BUA: -1 in opts means "seeded random". */
enum gen_corr { GEN_CORR_NONE, GEN_CORR_SESSION_ID, GEN_CORR_HEADER };
/* B2BUAs whose style can be set: central SBC, Mediation Server, branch SBC. */
enum gen_b2b { GEN_B2B_SBC, GEN_B2B_MS, GEN_B2B_BRANCH_SBC, GEN_B2B_MAX };

struct gen_opts {
    const char *out_path;   /* -o */
    const char *truth_path; /* --truth; NULL: derived from out_path */
    uint64_t calls;         /* 0: unlimited (needs max_packets) */
    uint32_t concurrency;   /* 0: open arrivals at cps */
    double cps;
    double duration_mean; /* seconds of talk time */
    uint64_t max_packets; /* 0: no cap */
    uint64_t seed;
    uint64_t start_us; /* first timestamp */
    uint32_t mix[GEN_MIX_MAX];
    int transport; /* enum gen_transport */
    bool ipv6;     /* SBC outside <-> ITSP over IPv6 */
    bool branch, gateway, registrations, pretty;
    uint16_t vlan; /* 0: untagged */
    double dup_rate, inbound, retrans, impair, loss, srtp, bypass, twin_rate;
    uint32_t jitter_ms;
    uint32_t impair_mask; /* bit per enum gen_imp */
    uint32_t itsps;
    int corr[GEN_B2B_MAX];
    uint32_t sbc_map_503; /* status the SBC sends upstream for an ITSP 503 */
    char xcid_name[32];
    uint32_t options_interval_s;
    uint32_t fault_itsp;              /* 1-based ITSP that fails; 0 none */
    uint32_t fault_from_s, fault_to_s; /* since start_us; to 0: to the end */
};

struct gen_result {
    uint64_t frames;  /* records in the pcap (SPAN copies included) */
    uint64_t packets; /* without SPAN copies */
    uint64_t sip_messages, rtp_packets, rtcp_packets;
    uint64_t calls, truncated_calls;
    uint64_t peak_live_calls, peak_events, live_calls_at_end;
    uint64_t outcomes[8]; /* by answered, busy, rejected, cancelled, failed, timeout,
                           * in_progress, pending (the last two: calls cut short) */
};

/* Defaults: 30 calls, 1 cps, seed 1, UDP, IPv4, every scenario. */
void gen_opts_default(struct gen_opts *o);
/* Parses argv[1..argc) strictly ("--opt V" or "--opt=V"); argv[0] is the
 * command name. On error a one-line message is written to err. */
enum gen_err gen_parse_args(struct gen_opts *o, int argc, char **argv, char *err,
                            size_t errlen);
/* Generates into open streams (not closed). truth may be NULL. */
enum gen_err gen_run(const struct gen_opts *o, FILE *pcap, FILE *truth,
                     struct gen_result *res);
/* Opens o->out_path and the truth path, runs, closes. */
enum gen_err gen_run_files(const struct gen_opts *o, struct gen_result *res,
                           char *err, size_t errlen);
/* The usage text (several lines). */
const char *gen_usage(void);
/* Name of a mix key / impairment / outcome index. */
const char *gen_mix_name(int m);
const char *gen_imp_name(int i);
const char *gen_outcome_name(int o);

#endif
