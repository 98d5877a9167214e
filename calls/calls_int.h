/* Private to calls/: the dialog (leg in progress), the tracker and the
 * functions the files of calls/ share. */
#ifndef TS_CALLS_INT_H
#define TS_CALLS_INT_H

#include "calls.h"

#include <string.h>

#include "../common/htab.h"
#include "../dissect/sdp.h"

/* Secondary index slots of a dialog (correlation keys). */
enum {
    IX_SID0 = 0, IX_SID1,               /* RFC 7989 uuids (local, remote) */
    IX_HDR0,                            /* correlation header values */
    IX_MEDIA0 = IX_HDR0 + 2,            /* SDP addr:port */
    IX_NODE = IX_MEDIA0 + TS_CALLS_MAX_MEDIA, /* INVITE destination IP (timing) */
    IX_NUM,                             /* called number's last digits (timing) */
    IX_N
};
#define CALLS_HDR_VALUES 2
#define CALLS_UUID_LEN 40

struct dlg;

/* One entry of the correlation multimap (calls.ix): chained per bucket,
 * newest first; pprev NULL when the slot is not indexed. */
struct ix_ent {
    struct ix_ent *hnext, **pprev;
    uint64_t key;
    struct dlg *d;
};

struct ixmap {
    struct ix_ent **b;
    size_t mask;
};

/* The timing slots (IX_NODE, IX_NUM) have a map of their own (calls.tix):
 * their chains are long (every INVITE to one node) and their entries carry
 * what the first tests need, so most candidates are passed over without
 * touching their dialog. */
struct tix_ent {
    struct ix_ent ix;               /* chained like the exact-key entries */
    uint64_t invite_ns, seq;        /* copies of d's (set before indexing) */
};

struct tixmap {
    struct ix_ent **b;
    size_t mask;
};

static inline bool addr_eq(const struct ts_addr *x, const struct ts_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, sizeof x->a) == 0;
}

/* One client transaction as seen on the wire (all hops). Its message
 * fingerprints live in the dialog's pool (dlg.fp): rings of the last
 * TS_CALLS_MAX_FP exact messages and events, nfp/nev count insertions. */
struct calls_txn {
    uint32_t cseq;
    uint8_t method;
    uint8_t nfp, nev;
};

struct media_ep {
    struct ts_addr addr;
    uint16_t port;
};

/* A (src, dst) pair the first INVITE was seen on and its trunk. */
struct dlg_hop {
    struct ts_addr src, dst;
    int32_t trunk;                  /* -1: none */
    uint8_t dir;                    /* enum calls_dir (in/out) */
    uint16_t final;                 /* final response its destination sent (0: none) */
    uint64_t final_ns;
};

/* First offer/answer of one side; its codec list is a dialog string. */
struct dlg_sdp {
    struct ts_addr addr;
    uint16_t port;
    uint8_t dir;                    /* enum calls_media_dir */
    bool present;
    bool srtp;                      /* RTP/SAVP(F), UDP/TLS/RTP/SAVP(F) or a=crypto */
};

/* Rare parts of a dialog, allocated when a second fork or hop shows up. */
struct dlg_ext {
    uint64_t fork_tag_h[TS_CALLS_MAX_FORKS - 1];
    struct dlg_hop hop[TS_CALLS_MAX_HOPS - 1];
    uint8_t nepq;                   /* endpoint quality reports (epq.c) */
    struct calls_epq epq[TS_CALLS_MAX_EPQ];
};

enum { ND_FROM, ND_PAI, ND_RURI, ND_TO };

/* Fingerprints kept in the dialog itself; more go to the heap. */
#define DLG_FP_INLINE 16

/* Strings of a dialog, kept in its arena sized to their content. The four
 * identities come in ND_ order, their normalised digits too. */
enum dlg_str {
    DS_FROM = 0, DS_PAI, DS_RURI, DS_TO,
    DS_ND = 4,                       /* DS_ND + ND_x: digits of identity x */
    DS_CALL_ID = DS_ND + 4,
    DS_REASON, DS_REASON_HDR, DS_MS_DIAG,
    DS_CODECS_CALLER, DS_CODECS_CALLEE,
    DS_SITE,
    DS_UA, DS_SERVER,               /* caller's User-Agent, callee's Server (or UA) */
    DS_SID0, DS_SID1,               /* RFC 7989 uuids, lower case */
    DS_HV0, DS_HV1,                 /* correlation header values */
    DS_N
};

struct dlg {
    struct ht_node n;               /* by Call-ID in calls.dlgs */
    char *sa;                       /* string arena: sa[0] is the empty string */
    uint64_t seq;                   /* creation order (tie-break of equal INVITE times),
                                     * also the leg_ref */
    uint64_t touch;                 /* calls.touches when last moved to the LRU's young end */
    /* read by correlation for many candidates: kept together */
    uint64_t invite_ns, answer_ns, end_ns, last_ns;
    struct ts_addr src, dst;        /* first INVITE */
    uint16_t sport, dport;
    bool ended, answered;
    uint16_t so[DS_N];              /* string offsets in sa (0: empty) */
    uint8_t nd_len[4];              /* lengths of the DS_ND strings */
    uint32_t nd_tail[4];            /* their last (up to 7) digits as a number */
    bool timed_out;
    bool cut;                       /* still open when the input ended */
    bool starting;                  /* first INVITE being read: correlate once at the end */
    uint8_t nmedia;
    uint8_t grp_size;               /* root only */
    /* correlation */
    struct dlg *uf_parent;          /* union-find; root: uf_parent == self */
    struct dlg *grp_next;           /* circular list of the group */
    struct dlg *ev_to;              /* leg this one was linked to */
    uint64_t prov_ns, ring_ns, attempt_ns, bye_ns, bye_ok_ns, err_ns;
    uint64_t from_tag_h;            /* caller's From tag */
    uint64_t fork_tag_h0;           /* first To-tag of the forks */
    uint64_t sid_h;                 /* hash of the Session-ID value read last */
    uint64_t cid_key;               /* IX_HDR0 key of the Call-ID (headers naming it) */
    uint64_t *fp;                   /* fingerprint pool: hash high bits | txn tag;
                                     * fp_in until it outgrows it */
    struct dlg_ext *ext;
    uint32_t init_cseq, q850_cause, reinvites, retrans;
    float ev_conf;
    uint16_t final_status, err_status, holds;
    uint16_t sa_len, sa_cap;
    uint8_t ntxn, txn_next, fp_n, fp_cap;
    uint8_t hangup_by, ev_type, codec, nhops, forks;
    bool conc_counted;              /* counted in trunk concurrency */
    uint8_t conc_hops;              /* ... on these hops (bit per hop) */
    bool ambig;                     /* counted as ambiguous */
    bool topo_done;                 /* its B2BUA evidence was taken */
    bool acked;                     /* the ACK of the initial 2xx was seen */
    bool unreach;                   /* ICMP destination unreachable for its INVITE */
    uint16_t ok_retrans;            /* retransmissions of the initial 2xx */
    bool topo_relayed;              /* ... and counted on a pair */
    bool mirror_bad;                /* two legs claimed it as their mirror */
    uint8_t nvia, nrr;              /* Via / Record-Route values of its first INVITE */
    uint64_t cancel_ns;             /* first CANCEL */
    /* The leg this one may be the other side of (correlate.c, the mirror
     * rule): set on both, cleared on both when either is freed. */
    struct dlg *mirror;
    bool cancelled, transfer, session_timer, auth_challenged, capture_gap, hold, on_hold;
    char transport[8];
    struct ts_addr err_src;
    struct dlg_sdp caller_sdp, callee_sdp;
    struct calls_txn txn[TS_CALLS_MAX_TXN];
    uint64_t fp_in[DLG_FP_INLINE];  /* INVITE, ACK and BYE transactions fit */
    struct dlg_hop hop0;
    struct media_ep media[TS_CALLS_MAX_MEDIA];
    struct ix_ent ix[IX_NODE];
    struct tix_ent tix[IX_N - IX_NODE];
};

/* String k of d ("" when unset). */
static inline const char *dlg_str(const struct dlg *d, int k)
{
    return d->sa ? d->sa + d->so[k] : "";
}

/* Hop i (< d->nhops) of d. */
static inline struct dlg_hop *dlg_hop(struct dlg *d, unsigned i)
{
    return i == 0 ? &d->hop0 : &d->ext->hop[i - 1];
}
static inline const struct dlg_hop *dlg_hop_c(const struct dlg *d, unsigned i)
{
    return i == 0 ? &d->hop0 : &d->ext->hop[i - 1];
}

struct tnode {
    struct ht_node n;
    uint32_t idx;
};

struct pend {
    struct ht_node n;
    uint64_t key;
    uint32_t reg;
    uint64_t req_ns;
};

/* Finished calls kept for the report, packed (kept.c). */
struct kept_ref {
    uint8_t *p;
    uint32_t len;
    uint32_t epoch;                 /* calls.class_epoch it was classified in */
};
struct kept_view;
struct kept_store {
    struct kept_ref *refs;
    size_t n, cap;
    uint8_t **chunks;               /* records are packed into these */
    size_t nchunks, chunks_cap, used;
    uint8_t *scratch;               /* one packed call */
    struct kept_view *view;         /* the call calls_get() unpacked last */
};

enum { PARK_ANSWERED, PARK_RINGING, PARK_WAITING, PARK_N };

/* topo.c: one address that sent or received an INVITE. */
struct topo_addr {
    struct ts_addr a;
    uint32_t inv_in, inv_out;       /* legs' first INVITEs received, sent */
    uint32_t relay_in, relay_out;   /* B2BUA evidence as ingress, egress */
    uint32_t registrar, registers;  /* REGISTERs answered for a client / sent */
    uint32_t failover, msdiag, short_caller;
    uint32_t node_calls;
    uint32_t node_mirrored;         /* root: calls of its pairs that mirrored */
    uint32_t node_hinted;           /* root: ... with a Via/Record-Route/UA hint */
    bool node_strong;               /* root: a pair learned without the mirror rule */
    uint16_t parent;                /* union-find of learned pairs */
    uint16_t reg_client;            /* first client that registered with it */
    bool reg_many;                  /* ... and others too */
    int16_t node;                   /* B2BUA node index, -1 none */
    uint8_t ua_role;                /* enum calls_role from User-Agent/Server */
    uint8_t side, how;              /* learned (enum calls_side, TOPO_HOW_*) */
    uint8_t nside, nhow;            /* being worked out */
    bool ua_seen, carrier_face, single;
    char ua[48];
    char site[TS_SITE_LEN];         /* site that saw most of its INVITEs ("" none) */
    uint32_t site_votes;            /* majority vote (Boyer-Moore) for site */
};

/* Evidence that INVITEs reaching one address are relayed out of the
 * other (either way; a <= b). */
struct topo_pair {
    uint16_t a, b;
    uint32_t n;
    uint32_t mirrored;              /* of those, calls whose transactions mirrored */
    uint32_t hinted;                /* ... and whose headers hinted at a relay */
    bool learned, straddle, ever;
};

/* relink.c: a call already emitted, kept a while. */
struct relink_ent {
    struct calls_call call;         /* legs: its own heap copy; NULL legs: free */
    size_t kept_i;                  /* index in the kept report, SIZE_MAX: none */
    uint64_t emit_ns;               /* calls.now when emitted */
    uint32_t gen;                   /* topo.gen then */
};

struct relink {
    struct relink_ent *v;           /* TS_TOPO_RELINK_CALLS, a ring */
    size_t next;                    /* slot the next call takes */
    uint32_t floor;                 /* no entry's gen is below it (relink_stale) */
};

struct topo {
    int32_t *slots;                 /* open addressing over addrs */
    struct topo_addr *addrs;
    int *score;                     /* scratch of topo_update(): 2 per address */
    size_t naddrs;
    struct topo_pair pairs[TS_TOPO_MAX_PAIRS];
    size_t npairs;
    int nnodes;
    uint64_t legs, first_ns;
    bool dirty;                     /* something topo_update() reads changed */
    bool changed;                   /* a pair was learned: unlinked legs retry */
    bool converged;
    uint32_t gen;                   /* +1 whenever a pair is learned the first time */
};

struct calls {
    struct calls_config cfg;
    struct ts_stats own;
    struct ts_stats *st;
    struct htab dlgs;
    /* Legs idle past the tick's minimum age that only a message, a timeout
     * or another leg's end can move on: out of the LRU list that
     * calls_tick() walks every second (see park()). Answered legs in touch
     * order (no-BYE timeout), ringing ones by INVITE time (no-final-response
     * timeout), ended legs whose call has a leg still up (no timeout). */
    struct ht_node parked[PARK_N];
    uint64_t touches;               /* touch order of the dialogs (dlg.touch) */
    struct ixmap ix;
    struct tixmap tix;
    bool any_site;                  /* some leg has a site name */
    uint64_t seq, now, next_id;
    calls_sink_fn sink;
    void *sink_ctx;
    struct calls_media_hooks mh;
    struct kept_store kept;
    uint64_t emitted;
    struct calls_trunk *trunks;
    size_t ntrunks, trunks_cap;
    struct tnode *tnodes;
    struct htab trunk_ix;
    struct calls_reg *regs;
    size_t nregs, regs_cap;
    struct tnode *rnodes;
    struct htab reg_ix;
    struct htab pend;
    struct ts_addr sbc[TS_CALLS_MAX_SBC]; /* configured, then learned */
    size_t nsbc;
    uint32_t class_epoch;           /* +1 whenever what classify() reads changes */
    struct topo topo;               /* learned from the traffic (topo.c) */
    struct relink relink;           /* calls emitted lately (relink.c) */
    struct sdp sdp;                 /* scratch: the SDP body being read */
    struct calls_leg scratch[TS_CALLS_MAX_LEGS]; /* call being emitted */
    struct calls_leg hop_scratch;   /* one hop's view of a leg (trunk_account) */
};

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* config.c */
void calls_cp(char *dst, size_t cap, struct bv v);

/* sdp_summary.c: summary of a parsed SDP body (first audio m= line); codecs
 * gets the codec list ("PCMU,PCMA,telephone-event"). */
bool calls_sdp_summary(const struct sdp *s, struct dlg_sdp *out, char *codecs, size_t cap);
enum calls_codec calls_codec_of(const char *codecs);

/* correlate.c */
void corr_init_dlg(struct dlg *d);
void corr_index_dlg(struct calls *c, struct dlg *d, int slot, uint64_t key);
void corr_unindex_dlg(struct calls *c, struct dlg *d);
/* Out of the correlation indexes and the dialog table, freed; the caller
 * handles the group. */
void corr_release(struct calls *c, struct dlg *d);
uint64_t corr_key_str(int kind, const char *s);
uint64_t corr_key_addr(int kind, const struct ts_addr *a, uint16_t port);
/* Try to link d with earlier legs; called when d gets new evidence. */
void corr_try(struct calls *c, struct dlg *d);
/* d got a new media endpoint: later unlinked legs sharing it retry. */
void corr_media_added(struct calls *c, struct dlg *d, const struct media_ep *ep);
struct dlg *corr_root(struct dlg *d);
/* The leg whose first INVITE went on q's addresses and ports, still
 * without a final response (by the INVITE target index); NULL. */
struct dlg *corr_find_sent(struct calls *c, const struct pkt_meta *q);
/* Unlinked legs in memory try again, oldest first (the topology changed). */
void corr_retry_all(struct calls *c);
/* Build, account, sink, store and free the group of d; open legs end
 * now with open_party (answered) or as timeout (unanswered). The call
 * emitted goes to out (its legs valid until the next emission); returns
 * its index in the kept report, SIZE_MAX when not kept. */
size_t corr_emit_group(struct calls *c, struct dlg *d, uint8_t open_party, struct calls_call *out);
/* d ended on a BYE or a final response: when its mirror leg ended too,
 * the mirror rule is tried (once per pair). */
void corr_mirror_end(struct calls *c, struct dlg *d);
/* True when every leg of d's group ended and the last activity is old enough. */
bool corr_group_done(const struct calls *c, struct dlg *d, uint64_t now);

/* kept.c */
int kept_init(struct calls *c);
void kept_free(struct calls *c);
/* Keep a copy of call, classified in class_epoch epoch (false: no memory
 * or TS_MAX_REPORT_CALLS reached). */
bool kept_add(struct calls *c, const struct calls_call *call, uint32_t epoch);
/* Kept call i, unpacked: valid until the next kept_get() or kept_update(). */
const struct calls_call *kept_get(const struct calls *c, size_t i);
/* fn (classify) on every kept call classified in an older epoch; a changed
 * one is packed again. */
void kept_update(struct calls *c, void (*fn)(const struct calls *c, struct calls_call *call));

/* dlg_table.c: the dialog of a Call-ID (h: its ts_hash), or NULL */
struct dlg *calls_dlg_find(struct calls *c, const char *cid);
struct dlg *dlg_find_len(struct calls *c, const char *cid, size_t len, uint64_t h);
/* dlg_table.c: out of the table and freed (corr_release() also unindexes) */
void dlg_free(struct calls *c, struct dlg *d);
/* epq.c: end-of-call statistics headers of a BYE or its 2xx sent by party */
void epq_headers(struct calls *c, struct dlg *d, const struct sip_msg *msg, uint8_t party);
/* epq.c: the report of a PUBLISH (any Call-ID) with an
 * application/vq-rtcpxr body into *r (views into msg); false when there is
 * none or it is unreadable (counted). The caller finds the leg of the
 * Call-ID it names and hands it to epq_add. */
struct vq_report;
bool epq_publish_report(struct calls *c, const struct sip_msg *msg, struct vq_report *r);
/* epq.c: report r (its local metrics) from party (enum calls_party) kept on
 * d, replacing an earlier one of the same source and party. */
void epq_add(struct calls *c, struct dlg *d, const struct vq_report *r, uint8_t source,
             uint8_t party);
/* epq.c: the dialog's reports into its leg record */
void epq_leg(const struct dlg *d, struct calls_leg *l);
/* dlg_table.c: d ended at ts (party: who hung up, 0: unknown) */
void dlg_end(struct calls *c, struct dlg *d, uint64_t ts, uint8_t party);
/* dlg_table.c: the leg record of d as the sink and the report see it. */
void dlg_leg(const struct dlg *d, struct calls_leg *out);

/* trunk.c */
int32_t trunk_lookup(struct calls *c, const struct ts_addr *src, const struct ts_addr *dst,
                     uint8_t *dir);
void trunk_conc(struct calls *c, struct dlg *d, int delta, uint64_t ts);
void trunk_account(struct calls *c, const struct dlg *d, const struct calls_leg *rec);
void trunk_free_all(struct calls *c);
/* An address of the enterprise edge (configured or learned SBC address). */
bool trunk_is_sbc(const struct calls *c, const struct ts_addr *a);
/* Enterprise side: inside an internal network, or an SBC address. */
bool trunk_ours(const struct calls *c, const struct ts_addr *a);
/* a is an SBC address (learned); trunks facing it are re-oriented. */
void trunk_learn_sbc(struct calls *c, const struct ts_addr *a);
/* Side of an address: configuration, then learned, then address ranges. */
uint8_t trunk_side(const struct calls *c, const struct ts_addr *a);
/* Sides changed: trunks facing the wrong way turn round. */
void trunk_reorient(struct calls *c);
/* The configuration changed (calls_set_config): trunks re-oriented,
 * ITSP flag and names worked out again. */
void trunk_config_changed(struct calls *c);

/* topo.c */
void topo_free(struct calls *c);
void topo_invite(struct calls *c, const struct dlg *d);
/* One call was relayed: its INVITE reached in, the next one left out. */
void topo_relay(struct calls *c, const struct ts_addr *in, const struct ts_addr *out,
                const struct ts_addr *from, const struct ts_addr *to);
void topo_hint_ua(struct calls *c, const struct ts_addr *a, struct bv ua);
void topo_hint_msdiag(struct calls *c, const struct ts_addr *a);
void topo_hint_register(struct calls *c, const struct ts_addr *client, const struct ts_addr *server);
void topo_hint_failover(struct calls *c, const struct ts_addr *failed, const struct ts_addr *alt);
/* x and y are addresses of one learned B2BUA. */
bool topo_same_node(const struct calls *c, const struct ts_addr *x, const struct ts_addr *y);
/* One relayed call mirrored its transactions across in and out (the
 * mirror rule, correlate.c): the pair is learned from this call alone. */
void topo_mirror(struct calls *c, const struct ts_addr *in, const struct ts_addr *out, bool hint);
/* Learned side of a (enum calls_side; NONE when not learned). */
uint8_t topo_side(const struct calls *c, const struct ts_addr *a);
bool topo_update(struct calls *c);
bool topo_converged(const struct calls *c);

/* relink.c */
void relink_free(struct calls *c);
/* call was just emitted (kept at kept_i, SIZE_MAX: not kept): held a
 * while, and joined with an emitted call the learned topology says it
 * continues or is continued by. */
void relink_add(struct calls *c, const struct calls_call *call, size_t kept_i);
/* A relay was learned: the calls held try again. */
void relink_all(struct calls *c);

/* kept.c (relink) */
/* Kept call i becomes call (classified in the current epoch). */
bool kept_set(struct calls *c, size_t i, const struct calls_call *call);
/* Kept call i is dropped; later ones move down by one. */
void kept_remove(struct calls *c, size_t i);

/* summary.c: the call's fields from its legs (ordered by INVITE time,
 * each with its outcome), then its direction and failure side. */
void summary_call(const struct calls *c, struct calls_call *call);
/* Direction and failure side of the kept calls again, with the SBC
 * addresses learned since they were emitted (end of input). */
void summary_reclassify(struct calls *c);

/* register.c */
void reg_msg(struct calls *c, const struct pkt_meta *m, const struct sip_msg *msg);
void reg_tick(struct calls *c, uint64_t now);
void reg_free_all(struct calls *c);

#endif
