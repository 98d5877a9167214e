/* Private to calls/: the dialog (leg in progress), the tracker and the
 * functions the files of calls/ share. */
#ifndef TS_CALLS_INT_H
#define TS_CALLS_INT_H

#include "calls.h"

#include "../common/htab.h"

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

struct ix_ent {
    struct ht_node n;
    struct dlg *d;
    bool on;
};

/* One client transaction as seen on the wire (all hops). */
struct calls_txn {
    uint32_t cseq;
    uint8_t method;
    uint8_t nfp, nev;
    uint64_t fp[TS_CALLS_MAX_FP];   /* exact message: kind, branch, tags, direction */
    uint64_t ev[TS_CALLS_MAX_FP];   /* event: request or status + To-tag */
};

struct media_ep {
    struct ts_addr addr;
    uint16_t port;
};

enum { ND_FROM, ND_PAI, ND_RURI, ND_TO };

struct dlg {
    struct ht_node n;               /* by Call-ID in calls.dlgs */
    uint64_t seq;                   /* creation order: tie-break of equal INVITE times */
    struct calls_leg rec;
    /* rec.from, pai, ruri, to normalised once at leg start: timing
     * correlation compares them against many candidates */
    char nd[4][CALLS_DIGITS_LEN];
    uint64_t from_tag_h;            /* caller's From tag */
    uint64_t answered_tag_h;
    uint64_t fork_tag_h[TS_CALLS_MAX_FORKS];
    uint32_t init_cseq;
    uint64_t last_ns;
    bool ended, answered, timed_out;
    bool starting;                  /* first INVITE being read: correlate once at the end */
    struct calls_txn txn[TS_CALLS_MAX_TXN];
    uint8_t ntxn, txn_next;
    int32_t hop_trunk[TS_CALLS_MAX_HOPS];   /* -1: none */
    uint8_t hop_dir[TS_CALLS_MAX_HOPS];     /* enum calls_dir (in/out) */
    uint8_t codec;                  /* enum calls_codec of the answer */
    bool conc_counted;              /* counted in trunk concurrency */
    /* correlation */
    struct dlg *uf_parent;          /* union-find; root: uf_parent == self */
    struct dlg *grp_next;           /* circular list of the group */
    uint8_t grp_size;               /* root only */
    struct dlg *ev_to;              /* leg this one was linked to */
    bool ambig;                     /* counted as ambiguous */
    char sid[2][CALLS_UUID_LEN];
    char hv[CALLS_HDR_VALUES][CALLS_TEXT_LEN];
    struct media_ep media[TS_CALLS_MAX_MEDIA];
    uint8_t nmedia;
    struct ix_ent ix[IX_N];
};

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

struct calls {
    struct calls_config cfg;
    struct ts_stats own;
    struct ts_stats *st;
    struct htab dlgs;
    struct htab ix;
    uint64_t seq, now, next_id;
    calls_sink_fn sink;
    void *sink_ctx;
    struct calls_media_hooks mh;
    struct calls_call *done;
    size_t ndone, done_cap;
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
    struct calls_leg scratch[TS_CALLS_MAX_LEGS]; /* call being emitted */
};

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* config.c */
void calls_cp(char *dst, size_t cap, struct bv v);

/* media.c: summary of an SDP body (first audio m= line). */
bool calls_sdp_parse(struct bv body, struct calls_sdp *out);
enum calls_codec calls_codec_of(const char *codecs);

/* correlate.c */
void corr_init_dlg(struct dlg *d);
void corr_index_dlg(struct calls *c, struct dlg *d, int slot, uint64_t key);
void corr_unindex_dlg(struct calls *c, struct dlg *d);
uint64_t corr_key_str(int kind, const char *s);
uint64_t corr_key_addr(int kind, const struct ts_addr *a, uint16_t port);
/* Try to link d with earlier legs; called when d gets new evidence. */
void corr_try(struct calls *c, struct dlg *d);
/* d got a new media endpoint: later unlinked legs sharing it retry. */
void corr_media_added(struct calls *c, struct dlg *d, const struct media_ep *ep);
struct dlg *corr_root(struct dlg *d);
/* Build, account, sink, store and free the group of d; open legs end
 * now with open_party (answered) or as timeout (unanswered). */
void corr_emit_group(struct calls *c, struct dlg *d, uint8_t open_party);
/* Direction and failure side of the kept calls again, with the SBC
 * addresses learned since they were emitted (end of input). */
void corr_reclassify(struct calls *c);
/* True when every leg of d's group ended and the last activity is old enough. */
bool corr_group_done(const struct calls *c, struct dlg *d, uint64_t now);

/* dialog.c */
struct dlg *calls_dlg_find(struct calls *c, const char *cid);
void dlg_release(struct calls *c, struct dlg *d);
void dlg_end(struct calls *c, struct dlg *d, uint64_t ts, uint8_t party);

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
/* Legs old -> newer were linked: a B2BUA whose two sides straddle the
 * enterprise edge is an SBC; its addresses are learned and trunks facing
 * them re-oriented. */
/* a is an SBC address (learned); trunks facing it are re-oriented. */
void trunk_learn_sbc(struct calls *c, const struct ts_addr *a);
void trunk_learn_b2bua(struct calls *c, const struct calls_leg *old, const struct calls_leg *newer);
/* The configuration changed (calls_set_config): trunks re-oriented,
 * ITSP flag and names worked out again. */
void trunk_config_changed(struct calls *c);

/* register.c */
void reg_msg(struct calls *c, const struct pkt_meta *m, const struct sip_msg *msg);
void reg_tick(struct calls *c, uint64_t now);
void reg_free_all(struct calls *c);

#endif
