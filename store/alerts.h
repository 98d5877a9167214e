/* The alert evaluator's view of the database: the numbers of each trunk
 * over a time window (from the stored legs and streams), the OPTIONS
 * keep-alives, the data's time range and the sensor's liveness; and what it
 * writes back: the lifecycle of each alert (pending, firing, resolved) with
 * its evidence, and each trunk's health. Its own read-write connection;
 * the writer thread and the API's readers are untouched (WAL). */
#ifndef TS_STORE_ALERTS_H
#define TS_STORE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"
#include "store.h"

/* The alert rules' OPTIONS traffic in [?1, ?2): the live evaluator's query
 * (ts order, at most ST_OPTIONS_ROWS: a flood stops there) and the replay's
 * (every row, in (ts, id) order). ST_OPT_WHERE is also the condition of the
 * partial index sip_messages_options (v27): spelt alike, which is what lets
 * SQLite use it, so both read the OPTIONS rows only. */
#define ST_OPT_COLS "ts, src, dst, method, status FROM sip_messages"
#define ST_OPT_WHERE "(method='OPTIONS' OR (method IS NULL AND cseq_method='OPTIONS'))"
#define ST_OPTIONS_ROWS 200000
#define ST_OPT_LIVE_SQL                                                                      \
    "SELECT " ST_OPT_COLS " WHERE ts >= ?1 AND ts < ?2 AND " ST_OPT_WHERE                    \
    " ORDER BY ts LIMIT " TS_STR(ST_OPTIONS_ROWS)
#define ST_OPT_REPLAY_SQL                                                                    \
    "SELECT " ST_OPT_COLS " WHERE ts >= ?1 AND ts < ?2 AND " ST_OPT_WHERE " ORDER BY ts, id"

/* The stored legs' first and last INVITE. min() and max() over all legs
 * scan a whole index (2.8 s at 10 M calls, at every run of a serve's
 * evaluator); per (src, dst) pair of leg_sums (schema v15) each is one seek
 * into legs_src_dst_invite. leg_sums keys a NULL address as '', so such a
 * pair seeks the NULL key too. */
#define ST_DATA_SPAN_SQL                                                                      \
    "SELECT min((SELECT min(invite_ts) FROM legs WHERE src IS k.s AND dst IS k.d)) AS first,"  \
    " max((SELECT max(invite_ts) FROM legs WHERE src IS k.s AND dst IS k.d)) AS last FROM"     \
    " (SELECT CASE WHEN x.n THEN NULL ELSE p.src END AS s,"                                   \
    " CASE WHEN y.n THEN NULL ELSE p.dst END AS d FROM (SELECT DISTINCT src, dst FROM"        \
    " leg_sums) p JOIN (SELECT 0 AS n UNION ALL SELECT 1) x ON x.n=0 OR p.src=''"              \
    " JOIN (SELECT 0 AS n UNION ALL SELECT 1) y ON y.n=0 OR p.dst='') k"

struct st_alerts;

/* Open (and migrate) path read-write. NULL with a reason in err. */
struct st_alerts *st_alerts_open(const char *path, char *err, size_t errlen);
void st_alerts_close(struct st_alerts *a); /* NULL ok */
/* on: the legs, and so the data time and the trunk windows, will not change
 * until off (a replay of a finished database): windows that move forward
 * read only the legs they gain and keep the others in memory; the answers
 * are the same as the queries'. */
void st_alerts_static(struct st_alerts *a, bool on);

struct st_data_time {
    int64_t first_ns, last_ns;  /* INVITEs of stored legs; 0 when none */
    bool live;                  /* a sensor's live_state row says running */
    int64_t live_updated_ns;    /* its last snapshot (wall clock), 0 none */
    int64_t live_capture_ns;    /* capture time of that snapshot */
};
int st_alerts_data_time(struct st_alerts *a, struct st_data_time *out);

/* Call ids kept as evidence per kind of trouble. */
enum st_ev { ST_EV_FAILED, ST_EV_5XX, ST_EV_SLOW, ST_EV_POOR, ST_EV_NORTP, ST_EV_SHORT,
             ST_EV_DEST, ST_EV_INTL, ST_EV_QUIET, ST_EV_N };

/* How the window's legs are judged beyond the plain counts. */
struct st_win_opts {
    double short_s;             /* an answered call shorter than this counts as short */
    char country_code[8];       /* ours ("49"); "": international calls are not told */
    char intl_prefix[8];        /* dialled before a foreign country code ("00") */
    int quiet_from_h, quiet_to_h; /* unusual hours [from, to) local; -1: none */
    int32_t utc_offset_min;     /* local time = UTC + this */
};

/* One trunk over [from, to): legs by their INVITE. */
struct st_trunk_win {
    int64_t trunk_id;
    char name[64], site[32], peer[64];
    uint64_t attempts, answered, ner_ok, s5xx, media_legs, no_rtp, short_calls;
    uint64_t pdd_n, mos_n, loss_n;
    double pdd_p95_ms, mos_mean, loss_pct;     /* -1 when no sample */
    uint32_t peak_concurrent;                  /* of the window's minutes */
    uint64_t top_dest_attempts;
    uint64_t out_attempts;      /* legs the trunk's local end sent */
    uint64_t intl_attempts;     /* ... to another country (needs country_code) */
    uint64_t quiet_attempts;    /* ... begun in the unusual hours */
    char top_dest[32];
    int64_t ev[ST_EV_N][TS_ALERT_EVIDENCE_CALLS];
    uint8_t nev[ST_EV_N];
};
/* Every trunk with legs in the window, into out (at most max); *n set. */
int st_alerts_trunk_window(struct st_alerts *a, int64_t from_ns, int64_t to_ns,
                           const struct st_win_opts *o,
                           struct st_trunk_win *out, size_t max, size_t *n);
/* attempts and answered of trunk_id over [from, to) (a baseline). */
int st_alerts_trunk_counts(struct st_alerts *a, int64_t trunk_id, int64_t from_ns, int64_t to_ns,
                           uint64_t *attempts, uint64_t *answered, uint64_t *ner_ok);

/* OPTIONS keep-alives between two addresses over [from, to), from the
 * stored SIP messages. A request counts as missed when no response below
 * 500 came from the server since it was sent and it is older than 32 s
 * (Timer F) at `to`; misses_in_row are those since the last answer. */
struct st_options_peer {
    int64_t trunk_id;           /* 0 when no trunk joins the two addresses */
    char client[64], server[64];
    uint32_t requests, answered, misses_in_row;
    int64_t last_req_ns, last_ok_ns;   /* 0: none in the window */
    int last_status;
};
int st_alerts_options(struct st_alerts *a, int64_t from_ns, int64_t to_ns,
                      struct st_options_peer *out, size_t max, size_t *n);

/* A certificate a TLS peer showed (tls_peers, schema v14): the server's
 * leaf, or the client's under mutual TLS, of a (client, server, port) pair
 * seen in [from, to). */
struct st_tls_cert {
    int64_t trunk_id;           /* 0 when no trunk joins the two addresses */
    char client[64], server[64];
    unsigned port;
    bool client_cert;           /* the client's certificate, not the server's */
    char site[32], sni[64], subject[128], issuer[128];
    int64_t not_after_s;        /* seconds since the epoch */
    int64_t last_ns;            /* the pair's last handshake */
};
/* The certificates of the pairs seen in the window, the soonest to expire
 * first (at most max). */
int st_alerts_certs(struct st_alerts *a, int64_t from_ns, int64_t to_ns, struct st_tls_cert *out,
                    size_t max, size_t *n);

/* One alert as stored; id 0 until inserted. Times ns. */
struct st_alert {
    int64_t id;
    char rule[32], scope[12], target[136], severity[12], state[12];
    int64_t trunk_id;
    char site[32];
    double value, threshold;
    int64_t started, fired, resolved, updated;
    char summary[256];
    char *evidence;             /* JSON text, owned by the caller */
};
/* Insert (id 0: sets it) or update state, value, times, summary, evidence. */
int st_alerts_put(struct st_alerts *a, struct st_alert *r);
/* Drop a pending alert whose condition went away before its `for`. */
int st_alerts_drop(struct st_alerts *a, int64_t id);
/* The pending and firing alerts, to carry on after a restart. */
int st_alerts_active(struct st_alerts *a, struct st_alert *out, size_t max, size_t *n);
/* Replace a trunk's health row; reasons and metrics are JSON text. */
int st_alerts_health(struct st_alerts *a, int64_t trunk_id, const char *state,
                     const char *reasons, const char *metrics, int64_t data_ns);
/* Store ids of calls by their tracker ids (out[i] = -1 when not stored),
 * looking at the newest `newest` calls only: one run's calls are the last
 * rows, and an older run's tracker ids repeat. */
int st_alerts_call_ids(struct st_alerts *a, uint64_t newest, const uint64_t *tracker,
                       int64_t *out, size_t n);
/* Replace the checklist of the trunk between local and peer (status and
 * items as JSON text); ST_OK also when no such trunk is stored. */
int st_alerts_checklist(struct st_alerts *a, const struct ts_addr *local,
                        const struct ts_addr *peer, const char *status, const char *items);
/* One evaluation's writes in one transaction (BEGIN IMMEDIATE: the write
 * lock from the start, so it is held only for the writes). */
int st_alerts_begin(struct st_alerts *a);
int st_alerts_commit(struct st_alerts *a);
void st_alerts_rollback(struct st_alerts *a);
/* One evaluation's reads in one snapshot: a read transaction, which in WAL
 * mode blocks no writer. read_end ends it (a no-op without one). */
int st_alerts_read_begin(struct st_alerts *a);
void st_alerts_read_end(struct st_alerts *a);

#endif
