/* Private to the store writer's files (writer.c: the queue, the thread,
 * open and close; records.c: the rows each record becomes; links.c: the
 * message-link map; retention.c: deletion of old data): the record and
 * writer structures and the SQLite binding helpers they share. */
#ifndef TS_STORE_WRITER_INT_H
#define TS_STORE_WRITER_INT_H

#include "store_int.h"
#include "tls_rows.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../calls/calls.h"
#include "../common/htab.h"
#include "../common/limits.h"
#include "../media/media.h"

#define NS_PER_S 1000000000ull
/* Message row ids a link entry keeps inline; later ones of a long dialog are
 * linked by their row id range (a scan of what was stored meanwhile). */
#define LINK_IDS 24
/* Links one statement inserts at most (S_LINK_IDS8; S_LINK_IDS4, S_LINK_IDS2
 * and S_LINK_ID the rest): a dialog's INVITE transaction and its BYE are
 * seven messages (three statements instead of seven). */
#define LINK_STMT_IDS 8
/* Words of the pending-stream filter (32 KiB, 262,144 bits: with 1,000
 * streams waiting, a leg without one finds its bit clear 99.6 % of the
 * time). */
#define PENDING_REF_WORDS 4096
/* Slots of the MOS updates a transaction holds per table (a power of two;
 * flushed when half full, so no eviction): the ids are SQLite's rowids. */
#define MOS_PEND_SLOTS 1024

/* A leg's or call's worst stream MOS so far in the open transaction, with
 * its reason and the one-way / no-audio bits (records.c). */
struct mos_pend {
    int64_t id; /* 0: free slot */
    double mos;
    const char *why; /* static (media_reason_name), NULL: none */
    int64_t flags;
};

enum rec_kind { REC_SIP, REC_CALL, REC_STREAM, REC_CAPTURE_BEGIN, REC_CAPTURE_END,
                REC_SNAP, REC_TLS, REC_OFLOW, REC_AFTER };

/* A trunk as a snapshot copies it: the summary and its changed buckets. */
struct snap_trunk {
    char name[CALLS_USER_LEN];
    struct ts_addr local, peer;
    bool itsp;
    char site[TS_SITE_LEN];
    struct calls_kpi all;
    int64_t p95;                  /* -1: none */
    uint32_t peak;
    uint64_t peak_ns;
    double peak_kbps;             /* calls_trunk_peak_kbps */
    size_t b0, nb;                /* its buckets in snap.buckets */
};

/* A leg in progress, as live_legs stores it. */
struct snap_leg {
    uint64_t key;
    uint8_t state;                /* enum calls_open_state */
    char call_id[CALLS_TEXT_LEN];
    char caller[CALLS_USER_LEN], callee[CALLS_USER_LEN];
    uint64_t invite_ns, ring_ns, answer_ns;
    struct ts_addr src, dst;
    uint16_t sport, dport;
    char transport[8];
    char site[TS_SITE_LEN];
};

/* Trunks, buckets, registrations and legs in progress at one moment; the
 * arrays follow the record in the same block. */
struct snap {
    size_t ntrunks, nbuckets, nregs, nlegs;
    struct snap_trunk *trunks;
    struct calls_bucket *buckets;
    struct calls_reg *regs;
    struct snap_leg *legs;
    struct calls_topo_node *nodes; /* the learned topology */
    size_t nnodes;
    struct calls_open_counts open;
    uint64_t capture_ns;          /* newest capture time seen */
    bool running;                 /* false: the last one (live tables emptied) */
};

struct rec {
    struct rec *next;
    uint8_t kind;
    bool sync;            /* the producer waits for done (owned by the producer) */
    bool done;
    bool seen;            /* writer: handled in this batch (records.c) */
    bool mos_done;        /* writer: a stream whose MOS its leg and call took at insert */
    uint32_t bseq;        /* writer: position in its batch */
    /* writer: a stream whose leg took its MOS at insert: that leg and its
     * call, valid while no leg moved since (st_writer.moves is fold_moves) */
    uint32_t fold_moves;
    int64_t fold_leg, fold_call;
    size_t bytes;
    union {
        struct {
            uint64_t ts, capture_id, frame, off;
            struct ts_addr src, dst;
            uint16_t sport, dport, status;
            uint8_t l4;
            uint32_t cseq;
            uint32_t call_id_len, method_len, cseq_method_len, raw_len;
            char *call_id, *method, *cseq_method;
            uint8_t *raw;
        } sip;
        struct calls_call call; /* legs follow the record in the same block */
        struct media_stream stream; /* series follows the record */
        struct {
            const char *path;
            uint64_t id; /* result */
        } cap;
        struct {
            st_after_fn fn;
            void *ctx;
        } after; /* REC_AFTER: no row; fn runs once the records before it are done */
        struct {
            uint64_t id, first_ts, last_ts;
        } capend;
        struct snap snap;
        struct st_tls_rec tls;    /* store/tls_rows.c */
        struct oflow_done oflow;
    } u;
};

enum stmt_id {
    S_SIP, S_CALL, S_LEG, S_LINK_ID, S_LINK_IDS2, S_LINK_IDS4, S_LINK_IDS8, S_LINK_RANGE, S_CAP_FIND, S_CAP_NEW, S_CAP_REOPEN,
    S_CAP_END, S_TRUNK, S_KPI, S_PEER, S_REG, S_KEEP, S_STREAM, S_IVL, S_LEG_BY_REF,
    S_LEG_MOS, S_CALL_MOS, S_ADOPT, S_LEG_MOS_ALL, S_CALL_MOS_ALL, S_LIVE_LEG, S_LIVE_STATE,
    S_ROLL_LS, S_ROLL_LM, S_ROLL_CM, S_ROLL_CS, S_ROLL_FS_ADD, S_ROLL_FS_NEW, S_ROLL_ROWS, S_ROLL_ON,
    S_ROLL_OFF, S_ROLL_LEG_OLD, S_ROLL_CALL_OLD, S_ROLL_LM_GONE, S_ROLL_LH, S_ROLL_LH_GONE,
    S_KPI_HOUR, S_N
};

/* Rows of the rollups a window of inserts may add before it is written out
 * (rollup.c): at most this many legs and calls, whatever the batch size. */
#define ROLL_SLOTS 2048

/* The rollups of the rows the writer inserts (rollup.c), summed per batch. */
struct st_roll;
enum roll_table { ROLL_CALLS, ROLL_LEGS, ROLL_MESSAGES, ROLL_STREAMS, ROLL_TABLES };
struct st_roll *st_roll_new(void);
void st_roll_free(struct st_roll *r);
/* forget what is pending (the transaction rolled back) */
void st_roll_drop(struct st_roll *r);

/* The SQL of each prepared statement (records.c), prepared at open. */
extern const char *const st_stmt_sql[S_N];

/* Messages of a Call-ID not linked to a leg yet (writer thread only). Only
 * dialogs an INVITE started are kept: OPTIONS, REGISTER and the like never
 * become calls. */
struct link_ent {
    struct ht_node node;
    uint32_t nids;
    bool overflow;            /* more than LINK_IDS: the rest by row id range */
    int64_t over_lo, over_hi;
    int64_t ids[LINK_IDS];
    uint64_t ts[LINK_IDS];    /* of ids[i]: the leg's time range is checked here,
                               * so that linking reads no message row back */
    uint32_t call_id_len;
    char call_id[];
};

struct st_writer {
    sqlite3 *h;
    sqlite3_stmt *s[S_N];
    struct st_options opt;
    char sensor[128];
    pthread_t thr;
    bool thr_started;

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* writer: work arrived / closing */
    pthread_cond_t done_cv; /* producers: a sync record was handled */
    struct rec *head, *tail;
    size_t qcount, qbytes;
    bool closing;
    struct st_stats st;
    uint64_t lost_logged;   /* errors + dropped_full when last logged */
    uint64_t logged_ns;     /* CLOCK_MONOTONIC of that log line; 0: never */

    /* producer side (the analysis thread) */
    uint64_t cap_ids[TS_MAX_INPUT_FILES];
    uint64_t file_frames[TS_MAX_INPUT_FILES];
    uint64_t first_ts[TS_MAX_INPUT_FILES], last_ts[TS_MAX_INPUT_FILES];
    uint32_t ncaps;
    uint64_t cur_frame_no, cur_file_frame, cur_off;
    /* records held at the end of the input (st_writer_hold), in order */
    bool holding;
    struct rec *held_head, *held_tail;
    size_t nheld, held_bytes;

    /* writer side */
    uint64_t run_capture; /* calls belong to the session's first capture */
    int64_t leg_floor, stream_floor; /* rows of this session have larger ids */
    int64_t reg_floor, keep_floor;   /* ... and registrations, keep-alives */
    struct htab links;    /* Call-ID -> struct link_ent */
    int64_t last_msg_id;  /* the newest message row: while it exists, the
                           * map's ids name the rows they were noted for */
    uint64_t link_evicted; /* not yet added to st */
    uint64_t replaced_pending; /* calls deleted in the open transaction */
    int64_t agents_lo, agents_hi; /* leg ids written in the open transaction */
    bool retention_more;
    /* leg_refs of this session's streams stored before their leg, as bits
     * of a hash: a leg whose bit is clear has no stream to adopt (most
     * streams end after their leg), so its UPDATE of rtp_streams is skipped */
    uint64_t pending_refs[PENDING_REF_WORDS];
    /* MOS updates of the open transaction, one per leg ([0]) and per call
     * ([1]) however many streams it had, and their order (slot indexes) */
    struct mos_pend mos[2][MOS_PEND_SLOTS];
    uint16_t mos_order[2][MOS_PEND_SLOTS / 2];
    size_t nmos[2];
    /* The batch's streams by leg_ref (records.c, st_batch_begin): a leg
     * written in the same batch as its later streams takes their MOS at
     * insert. Open addressing, nbs slots (a power of two), NULL: free. */
    struct rec **bs;
    size_t nbs;
    /* the rollups of this transaction's inserts, not written yet; a failed
     * write of them rolls the transaction back (the rows would lack them) */
    struct st_roll *roll;
    bool roll_failed;
    /* triggers: may be off (every trigger is one whose skipping the batch
     * makes up for, writer.c); are off now */
    bool trig_may_skip, trig_off;
    /* records written that move or delete legs (merges, re-analysis) */
    uint32_t moves;
};

/* A row inserted into one of the tables row_counts counts. */
void st_roll_row(struct st_writer *w, enum roll_table t);
/* Leg l inserted with the MOS mos (NULL: none), as bound. */
void st_roll_leg(struct st_writer *w, const struct calls_leg *l, const struct mos_pend *mos);
/* Call c inserted with end time end_ns and MOS mos, and those of its legs
 * whose leg_stored[i] (their failure kinds). */
void st_roll_call(struct st_writer *w, const struct calls_call *c, uint64_t end_ns,
                  const struct mos_pend *mos, const bool *leg_stored);
/* Run upd, a bound UPDATE of the MOS of row id of legs (k 0) or calls (k 1)
 * returning the new MOS, and add the change to the rollups (the update
 * triggers leave the writer's MOS updates to this); false on an error. */
bool st_roll_mos(struct st_writer *w, int k, int64_t id, sqlite3_stmt *upd);
/* Write the pending sums out (one UPSERT per key); false when SQLite refused one. */
bool st_roll_flush(struct st_writer *w);

/* Keep SQLite's reason for the failure that just happened (first one of a
 * batch wins: later ones are often its consequence). */
static inline void note_reason(struct st_writer *w, char *why, size_t cap)
{
    if (!why[0])
        snprintf(why, cap, "%s", sqlite3_errmsg(w->h));
}

static inline uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- binding helpers (SQLITE_STATIC: every record outlives its step) ---- */

static inline void b_text(sqlite3_stmt *s, int i, const char *t)
{
    sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

/* A site name (TS_SITE_LEN buffer, maybe unterminated): NULL when empty. */
static inline void b_site(sqlite3_stmt *s, int i, const char *site)
{
    size_t n = strnlen(site, TS_SITE_LEN);
    if (n)
        sqlite3_bind_text(s, i, site, (int)n, SQLITE_STATIC);
}

static inline void b_textn(sqlite3_stmt *s, int i, const char *t, size_t n)
{
    if (t)
        sqlite3_bind_text(s, i, t, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static inline void b_i64(sqlite3_stmt *s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }

static inline void b_ts(sqlite3_stmt *s, int i, uint64_t ns) /* 0 = never: NULL */
{
    if (ns)
        sqlite3_bind_int64(s, i, (int64_t)ns);
    else
        sqlite3_bind_null(s, i);
}

static inline void b_real(sqlite3_stmt *s, int i, double v) /* negative = none: NULL */
{
    if (v >= 0)
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* Dotted quad without printf (two per stored message); others by st_addr_text. */
static inline size_t addr_text(const struct ts_addr *a, char *buf, size_t cap)
{
    if (a->family != 4) {
        st_addr_text(a, buf, cap);
        return strlen(buf);
    }
    size_t n = 0;
    for (int k = 0; k < 4; k++) {
        unsigned v = a->a[k];
        if (k)
            buf[n++] = '.';
        if (v >= 100)
            buf[n++] = (char)('0' + v / 100);
        if (v >= 10)
            buf[n++] = (char)('0' + v / 10 % 10);
        buf[n++] = (char)('0' + v % 10);
    }
    buf[n] = '\0';
    return n;
}

static inline void b_addr(sqlite3_stmt *s, int i, const struct ts_addr *a)
{
    char buf[64];
    size_t n = addr_text(a, buf, sizeof buf);
    if (n)
        sqlite3_bind_text(s, i, buf, (int)n, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* Step a statement that returns no row; true on success. */
static inline bool run(struct st_writer *w, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    (void)w;
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

static inline bool exec(struct st_writer *w, const char *sql)
{
    return sqlite3_exec(w->h, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* One value of a one-parameter query; dflt when it gives no row or NULL. */
static inline int64_t q_i64(struct st_writer *w, const char *sql, int64_t a, int64_t dflt)
{
    sqlite3_stmt *s = NULL;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(w->h, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, a);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
            v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return v;
}

static inline bool exec_bind2(struct st_writer *w, const char *sql, int64_t a, int64_t b,
                              int *changes)
{
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(w->h, sql, -1, &s, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(s, 1, a);
        sqlite3_bind_int64(s, 2, b);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    if (ok && changes)
        *changes = sqlite3_changes(w->h);
    sqlite3_finalize(s);
    return ok;
}

/* The latest time a leg saw a message. */
static inline uint64_t leg_last_ns(const struct calls_leg *l)
{
    uint64_t t[] = { l->invite_ns, l->prov_ns, l->ring_ns, l->answer_ns, l->end_ns,
                     l->bye_ns, l->bye_ok_ns, l->err_ns };
    uint64_t m = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] > m)
            m = t[i];
    return m;
}

/* records.c: write one record's rows (writer thread, inside a transaction). */
bool st_rec_write(struct st_writer *w, struct rec *r);
/* records.c: run the MOS updates held for the open transaction (before
 * COMMIT); false when one failed. */
bool st_mos_flush(struct st_writer *w);
/* records.c: forget them (after a ROLLBACK). */
void st_mos_drop(struct st_writer *w);
/* records.c: index the streams of a batch before it is written, and free
 * the index after. */
void st_batch_begin(struct st_writer *w, struct rec *list);
void st_batch_end(struct st_writer *w);

/* agents.c: note a leg written (its row id); before COMMIT, add the
 * User-Agent and Server strings of the transaction's legs to leg_agents
 * (schema v23). false when that failed. */
void st_agents_note(struct st_writer *w, int64_t leg_id);
bool st_agents_flush(struct st_writer *w);
/* ports.c: before COMMIT and before st_agents_flush, add the ports of the
 * transaction's legs (the range st_agents_note keeps) to leg_ports (v25). */
bool st_ports_flush(struct st_writer *w);

/* links.c: the message-link map (writer thread only). */
/* Remember a stored message (row rowid) of a dialog an INVITE started. */
void st_link_note(struct st_writer *w, const struct rec *r, int64_t rowid);
/* Link the messages the map holds for the leg's Call-ID to leg_id. */
bool st_link_messages(struct st_writer *w, int64_t leg_id, const struct calls_leg *l);
/* Forget the map's ids when the newest message row is gone. */
void st_link_check_ids(struct st_writer *w);
void st_link_free_all(struct st_writer *w);

/* The schema's triggers on (for deletes, merges, retention) or off (a
 * batch's inserts and MOS updates, whose rollups rollup.c writes: writer.c
 * says when); false when SQLite refused. SQLite re-prepares every
 * statement after a change. */
static inline bool st_writer_triggers(struct st_writer *w, bool on)
{
    if (w->trig_off == !on)
        return true;
    int now = -1;
    if (sqlite3_db_config(w->h, SQLITE_DBCONFIG_ENABLE_TRIGGER, on ? 1 : 0, &now) != SQLITE_OK ||
        now != (on ? 1 : 0))
        return false;
    w->trig_off = !on;
    return true;
}

/* retention.c: one deletion transaction; true when more remains. */
bool st_retention_step(struct st_writer *w);

#endif
