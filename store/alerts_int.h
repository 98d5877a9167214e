/* Private to the alert evaluator's store files (alerts.c: the queries;
 * alerts_replay.c: the same windows over a database that no longer
 * changes): one leg as a trunk window reads it, and how it is counted. */
#ifndef TS_STORE_ALERTS_INT_H
#define TS_STORE_ALERTS_INT_H

#include "alerts.h"
#include "store_int.h"

/* The columns of a window's leg, in this order (trunk_legs' query; :a is
 * the trunk's local address). */
#define ST_WIN_LEG_COLS                                                                      \
    "l.outcome, l.final_status, l.invite_ts, coalesce(l.ring_ts, l.answer_ts), l.answer_ts," \
    " l.end_ts, l.mos, coalesce(l.media_flags,0), l.call_ref,"                               \
    " (SELECT max(s.lost_pct) FROM rtp_streams s WHERE s.leg_id=l.id), l.src=:a,"            \
    " coalesce(nullif(l.ruri,''), l.to_user)"

enum { WIN_OC_OTHER, WIN_OC_OPEN, WIN_OC_ANSWERED, WIN_OC_CANCELLED };
enum { WIN_HAS_PDD = 1, WIN_HAS_ANSWER = 2, WIN_HAS_END = 4, WIN_HAS_MOS = 8, WIN_HAS_LOSS = 16 };

struct win_leg {
    int64_t invite, pdd_ts, answer, end, call_ref, status, media_flags;
    double mos, loss;
    uint8_t oc;         /* WIN_OC_*: outcome as the window counts it */
    uint8_t has;        /* WIN_HAS_*: which of the nullable columns are set */
    bool local;         /* sent by the trunk's local end */
    const char *callee; /* request URI user, else To; NULL */
};

/* PDD histogram: 100 ms bins to 60 s, the last open-ended */
#define PDD_BINS 601

/* Sums over a window's legs besides the counts in st_trunk_win. */
struct win_acc {
    uint32_t bins[PDD_BINS];
    double mos_sum, loss_sum;
};

/* Read a row of ST_WIN_LEG_COLS (strings valid until the next step). */
void st_win_leg_of_row(sqlite3_stmt *s, struct win_leg *l);
/* Count one leg of the window into w and acc. */
void st_win_add(struct st_trunk_win *w, struct win_acc *acc, const struct win_leg *l,
                const struct st_win_opts *o);
void st_win_ev_add(struct st_trunk_win *w, enum st_ev k, int64_t call);

/* An OPTIONS request or its response in a window (st_alerts_options),
 * in ts order: read by ST_OPT_LIVE_SQL or ST_OPT_REPLAY_SQL (alerts.h). */
struct opt_msg {
    int64_t ts;
    char src[64], dst[64];
    bool req;
    int status;
};
void st_opt_msg_of_row(sqlite3_stmt *s, struct opt_msg *m);

/* alerts_replay.c: the legs of each trunk's windows kept in memory while
 * the evaluator replays a finished database, read once each. */
struct st_replay;
struct st_replay *st_replay_new(void);
void st_replay_free(struct st_replay *r);
/* The legs part of a trunk's window [from, to) between la and pa into w
 * and acc: the counts, the evidence, the busiest destination. ST_OK;
 * ST_ERR_NOT_FOUND when the legs are not kept (too many: the caller asks
 * the database); ST_ERR_SQL or ST_ERR_NOMEM. */
int st_replay_window(struct st_replay *r, sqlite3 *h, const char *la, const char *pa, int64_t from,
                     int64_t to, const struct st_win_opts *o, struct st_trunk_win *w,
                     struct win_acc *acc);
/* The OPTIONS messages with ts in [from, to), in ts and id order, as
 * *v[0..*n) (valid until the next call); ST_ERR_NOT_FOUND when they are
 * not kept. */
int st_replay_options(struct st_replay *r, sqlite3 *h, int64_t from, int64_t to,
                      const struct opt_msg **v, size_t *n);
/* A baseline's counts over [from, to) kept from an earlier window of the
 * same trunk and length: *memo is its slot, *hit true when [from, to)
 * moved forward from it by less than its length (then only the slices
 * that entered and left are counted). */
struct st_replay_counts {
    int64_t trunk_id, from, to;
    uint64_t attempts, answered, ner_ok;
};
struct st_replay_counts *st_replay_counts_slot(struct st_replay *r, int64_t trunk_id, int64_t from,
                                               int64_t to, bool *hit);

#endif
