/* Generator internals shared by gen.c (run loop, topology, options),
 * scenario.c (call plans, SIP text), rtpgen.c (RTP/RTCP) and truth.c. */
#ifndef TS_GEN_INT_H
#define TS_GEN_INT_H

#include "../common/jsonw.h"
#include "evq.h"
#include "gen.h"
#include "pcapw.h"
#include "rng.h"

#define GEN_MAX_IF 16
#define GEN_MAX_NODES 16
#define GEN_MAX_LINKS 24
#define GEN_MAX_LEGS 3
#define GEN_MAX_STREAMS (2 * GEN_MAX_LEGS)
#define GEN_MAX_TXN 12
#define GEN_MAX_SCRIPT 112
#define GEN_SIP_MAX 1400 /* keeps every UDP datagram under a 1500-byte MTU */
#define GEN_MAX_REG_LOG 4096
#define GEN_SPAN_RING 256

/* IN_PROGRESS, PENDING: what a capture cut short shows of a call still open
 * at the cut (never planned; see gen.c cut_outcome). */
enum { OUT_ANSWERED, OUT_BUSY, OUT_REJECTED, OUT_CANCELLED, OUT_FAILED, OUT_TIMEOUT,
       OUT_IN_PROGRESS, OUT_PENDING, OUT_MAX };
enum { SIDE_NONE, SIDE_ENTERPRISE, SIDE_SBC, SIDE_ITSP };
enum { ROLE_PBX, ROLE_SBC, ROLE_ITSP, ROLE_GW };
enum { FMT_E164, FMT_NATIONAL, FMT_INTL00 };
enum { M_INVITE, M_ACK, M_BYE, M_CANCEL, M_REFER, M_NOTIFY };
enum { TK_INITIAL, TK_HOLD, TK_RESUME, TK_NOTIFY_TRYING, TK_NOTIFY_OK, TK_PLAIN };
enum { CODEC_PCMA, CODEC_PCMU, CODEC_G722, CODEC_G729, CODEC_MAX };
/* evidence bits linking a leg to the previous one */
#define EVD_SESSION_ID 1u
#define EVD_HEADER 2u
#define EVD_MEDIA 4u
#define EVD_TIMING 8u

enum {
    EV_SPAWN,
    EV_SIP,     /* obj call: next script entry */
    EV_SLOT,    /* obj origin stream: decide the next 20 ms slot */
    EV_PKT,     /* obj stream: write packet of slot a */
    EV_RTCP,    /* obj stream: compound RTCP from the stream's sender */
    EV_OPT,     /* obj link: OPTIONS keep-alive */
    EV_OPT_RESP,
    EV_REG,     /* obj link: registration step a */
};
#define PK_DUP 1u     /* a network duplicate */
#define PK_HAVEID 2u  /* b holds the IP ID to reuse */
#define PK_REORD 4u

struct gen_if {
    char name[24];
    uint8_t node;
    bool v6;
    uint8_t ip[16];
    char ip_s[48];  /* textual address */
    char host[52];  /* URI host: IPv6 in brackets */
    uint8_t mac[6];
    uint16_t ipid;
    uint16_t next_port;
};

struct gen_node {
    char name[24];
    uint8_t role;
    const char *site;
    uint8_t nif;
    uint8_t ifs[2];
    int b2b;     /* enum gen_b2b or -1 */
    int corr;    /* enum gen_corr when b2b >= 0 */
    double bypass;
    const char *ua;
};

struct gen_link {
    uint8_t end[2];  /* interfaces; end[0] opens the TCP connection */
    uint8_t tp;      /* GEN_TP_UDP/TCP/TLS */
    uint8_t fmt;     /* number format on this link */
    uint16_t port[2];
    uint32_t seq[2]; /* next TCP sequence number each end sends */
    uint32_t rtt_lo, rtt_hi; /* microseconds */
    bool trunk;      /* SBC <-> ITSP: OPTIONS and REGISTER */
    uint32_t opt_sent, opt_ok, reg_cseq, reg_n;
    uint64_t opt_first, opt_last;
    char reg_callid[80];
};

struct gen_txn {
    uint8_t method, by_b, kind, branch_of;
    uint32_t cseq;
};

struct gen_mep {
    uint8_t ifx;
    uint16_t port;
};

struct gen_leg {
    uint8_t link, a_end; /* a_end: link end of the caller side */
    uint8_t a_node, b_node;
    char callid[80];
    char ftag[20], ttag[20];
    char from_num[24], to_num[24];
    char xcid[80]; /* empty: no correlation header */
    bool sid;
    bool srtp;
    uint8_t evidence;
    bool indist;
    struct gen_mep am, bm;
    uint16_t final_status; /* written so far (0: none) */
    uint8_t invite_tx;
    uint64_t sess_a, sess_b;
    uint8_t ntxn;
    struct gen_txn txn[GEN_MAX_TXN];
    uint32_t next_cseq_a, next_cseq_b;
    uint64_t t_invite, t_final;
    uint64_t t_ring, t_answer, t_bye; /* first 18x, 2xx of the INVITE; first BYE */
    uint64_t t_prov, t_cancel;        /* first 1xx of the INVITE; CANCEL sent */
    uint8_t bye_b;                    /* the BYE came from the callee side */
};

struct gen_sev {
    uint64_t t;
    uint16_t status; /* 0: the request of txn */
    uint8_t leg, txn, flags;
};
#define SEV_RETRANS 1u

struct gen_seg {
    uint64_t first_ext, max_ext;
    uint32_t pkts, dups;
    uint32_t ssrc;
};

struct gen_call;

struct gen_stream {
    struct gen_call *call;
    struct gen_stream *origin; /* NULL for an origin stream */
    struct gen_stream *relay[GEN_MAX_LEGS];
    struct gen_stream *reverse; /* the other direction between the same ports */
    uint8_t nrelay;
    uint8_t dir;      /* 0: caller -> callee */
    uint8_t legs;     /* bitmask of legs whose SDP describes it */
    uint8_t imp;      /* enum gen_imp of its origin */
    bool muted, srtp, ended;
    uint8_t pt, codec;
    uint32_t delay_us; /* relay: behind the origin */
    struct gen_mep src, dst;
    /* origin parameters */
    uint32_t ssrc[2];
    uint16_t seq0[2];
    uint32_t ts0[2];
    uint32_t chg_slot, chg_idx; /* SSRC change (UINT32_MAX: none) */
    uint32_t p0, p1;            /* paused slots [p0, p1) */
    uint64_t t0, t_stop;        /* slot 0 time; no RTP at or after t_stop */
    uint32_t nslots, slot;
    struct rng rng;
    bool ge_bad, no_reorder_next;
    uint32_t lost, reordered, sent_slots, dups;
    /* what went on the wire */
    struct gen_seg seg[2];
    uint32_t jitter;            /* RFC 3550 A.8, scaled by 16 */
    int64_t last_transit;
    bool have_transit;
    uint64_t prior_expected, prior_received;
    uint8_t prior_seg;
    uint32_t rtcp_n, last_sr_mid;
    uint64_t last_sr_t, octets;
};

struct gen_call {
    uint64_t id;
    struct gen_call *prev, *next;
    uint32_t refs;
    struct rng rng;
    uint8_t mix, outcome, dir, site, fside;
    bool srtp, twin, truncated, by_callee, one_way;
    uint8_t codec;
    uint8_t nlegs, nnodes;
    uint8_t node[GEN_MAX_LEGS + 1];
    uint16_t pdd_target_ms;
    struct gen_leg leg[GEN_MAX_LEGS];
    uint8_t nst;
    struct gen_stream st[GEN_MAX_STREAMS];
    uint16_t nscript, cursor;
    struct gen_sev script[GEN_MAX_SCRIPT];
    char uuid_a[33], uuid_b[33];
    char caller[20], callee[20]; /* E.164 digits without '+' */
    uint64_t t_setup, t_18x, t_answer, t_end;
    uint32_t sip_msgs;
    uint64_t t_media_stop;
    uint32_t hold_on, hold_off; /* callee->caller pause (slot times), us offsets */
    uint64_t t_hold, t_resume;
};

struct gen_reglog {
    uint8_t link;
    uint64_t t;
    uint16_t status;
    bool challenged;
    uint32_t cseq;
};

struct gen_span {
    uint64_t t;
    uint16_t len;
    uint8_t data[PCAPW_MAX_FRAME];
};

struct gen {
    const struct gen_opts *o;
    struct rng rng;
    struct evq q;
    struct pcapw pw;
    struct jsonw jw;
    bool truth;
    uint64_t now;
    enum gen_err err;
    bool stop, spawn_done;

    struct gen_if ifs[GEN_MAX_IF];
    struct gen_node nodes[GEN_MAX_NODES];
    struct gen_link links[GEN_MAX_LINKS];
    int nif, nnode, nlink;
    int n_pbx, n_sbc, n_gw, n_bpbx, n_bsbc, n_itsp0, n_itsps;

    uint64_t calls_spawned, calls_done, live, peak_live, next_callid, ramp_spawned;
    struct gen_call *live_head;
    uint32_t mix_total;
    uint16_t map503; /* what the SBC relays upstream for a 503 */
    uint64_t salt;   /* run-unique part of generated identifiers */
    uint64_t call_ids_tls;

    /* totals (SPAN copies excluded unless named) */
    uint64_t packets, sip_msgs, sip_retrans, tls_records, rtp_pkts, rtp_dups;
    uint64_t rtcp_pkts, tcp_ctrl, span_dups, call_ids, rtp_streams, srtp_pkts;
    uint64_t sip_udp, tcp_data;
    uint64_t outcomes[OUT_MAX];

    struct gen_reglog reglog[GEN_MAX_REG_LOG];
    uint32_t nreg;

    struct gen_span *span;
    uint32_t span_head, span_n;
    uint64_t span_last;

    uint8_t frame[PCAPW_MAX_FRAME];
    char msg[GEN_SIP_MAX + 64];
    uint8_t payload[4096];
};

/* tables.c */
extern const char *const gen_mix_names[GEN_MIX_MAX];
extern const char *const gen_imp_names[GEN_IMP_MAX];
const char *gen_codec_name(int codec);
int gen_codec_pt(int codec);
int gen_codec_bytes(int codec);

/* emit.c: frames, below scenario.c and rtpgen.c */
void gen_write_frame(struct gen *g, uint64_t t, size_t len, const struct pcapw_l3 *h);
/* SPAN copies due up to upto are written. */
void gen_span_flush(struct gen *g, uint64_t upto);
/* TCP three-way handshake and close of a link (RFC 9293 s3.5, s3.6). */
void gen_tcp_open(struct gen *g, uint64_t t, struct gen_link *l);
void gen_tcp_close(struct gen *g, uint64_t t, struct gen_link *l);
/* The call an event refers to. */
struct gen_call *gen_ev_call(uint8_t kind, void *obj);
void gen_l3(struct gen *g, struct pcapw_l3 *h, int src_if, int dst_if);
/* Sends one SIP message over a link from end `from` (0/1); counts it. */
void gen_send_sip(struct gen *g, uint64_t t, int link, int from, const char *msg,
                  size_t len, bool retrans);
bool gen_push(struct gen *g, uint64_t t, uint8_t kind, void *obj, uint32_t a,
              uint16_t b, uint8_t flags);
uint16_t gen_alloc_port(struct gen *g, int ifx);
int gen_link_between(struct gen *g, int na, int nb, int *a_end);

/* scenario.c */
/* Plans a whole call (legs, numbers, SIP timeline); false if it can't. */
bool scn_plan(struct gen *g, struct gen_call *c, uint64_t t0, const struct gen_call *twin_of);
/* --fault-itsp: node is the failing carrier at t_us (capture time, us). */
bool gen_fault_at(const struct gen *g, int node, uint64_t t_us);
/* Writes script entry e of call c. */
void scn_emit(struct gen *g, struct gen_call *c, const struct gen_sev *e);
size_t scn_fmt_number(char *out, size_t cap, const char *digits, int fmt);

void scn_options(struct gen *g, int link, bool resp);
void scn_register(struct gen *g, int link, int step);

/* rtpgen.c */
/* Builds the call's wire streams from its legs' media addresses. */
void rtpgen_setup(struct gen *g, struct gen_call *c, uint64_t t_fwd, uint64_t t_back,
                  uint64_t t_stop, uint64_t hold_from, uint64_t hold_to);
void rtpgen_start(struct gen *g, struct gen_call *c);
void rtpgen_slot(struct gen *g, struct gen_stream *s);
void rtpgen_pkt(struct gen *g, struct gen_stream *s, uint32_t slot, uint8_t flags, uint16_t ipid);
void rtpgen_rtcp(struct gen *g, struct gen_stream *s);
/* tshark-style stream rows (SSRC + 5-tuple) and lost count of one segment. */
int64_t rtpgen_seg_lost(const struct gen_seg *sg);

/* truth.c */
void truth_begin(struct gen *g);
void truth_call(struct gen *g, struct gen_call *c);
void truth_end(struct gen *g);

#endif
