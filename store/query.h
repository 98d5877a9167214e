/* Read-only queries for the HTTP API: prepared statements only, every value
 * bound; results handed to a callback as plain typed cells named as the API
 * names them (sqlite3.h stays in store/). One stq handle per thread. */
#ifndef TS_STORE_QUERY_H
#define TS_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"

enum stq_type { STQ_NULL = 0, STQ_INT, STQ_REAL, STQ_TEXT, STQ_BLOB };

/* One column of a result row. s/len (TEXT, BLOB) are valid during the
 * callback only; TEXT is whatever the database holds: check it before use. */
struct stq_cell {
    const char *name;
    enum stq_type type;
    int64_t i;
    double d;
    const char *s;
    size_t len;
};

/* Called once per row; return 0 to go on, non-zero to stop. */
typedef int (*stq_row_fn)(void *ctx, const struct stq_cell *cells, size_t n);

struct stq;

/* Open path read-only (query_only, busy timeout). NULL with a reason in err. */
struct stq *stq_open(const char *path, char *err, size_t errlen);
void stq_close(struct stq *q); /* NULL ok */
/* Queries on q stop at deadline_ns (CLOCK_MONOTONIC; 0: never) with an
 * error, after which stq_interrupted is true until the next set. */
void stq_set_deadline(struct stq *q, uint64_t deadline_ns);
bool stq_interrupted(const struct stq *q);

/* ---- calls list ---- */

enum stq_sort { STQ_SORT_START = 0, STQ_SORT_DURATION, STQ_SORT_PDD, STQ_SORT_MOS };

/* Position after the last row of a page: the sort key (integer for start
 * and pdd, real for duration and mos; absent values sort as -1) and the id. */
struct stq_cursor {
    bool valid;
    int64_t key_i;
    double key_d;
    int64_t id;
    /* set by stq_calls when a filter on a leg column without an index read
     * only the newest TS_API_LEG_SCAN_MAX legs, older legs exist and the
     * page is short: calls whose matching legs are all older may be
     * missing; searched_from_ns is the INVITE time of the oldest leg read */
    bool partial;
    int64_t searched_from_ns;
};

/* Every field is optional (has_* / empty string / 0); strings must already
 * be validated by the caller (digits, enum names): they are bound, never
 * pasted into SQL. */
struct stq_call_filter {
    bool has_from, has_to;
    int64_t from_ns, to_ns;          /* start within [from, to) */
    char caller[33], callee[33];     /* digits: contained in the number, or its end */
    bool number_suffix;              /* caller/callee match the last digits (indexed) */
    int64_t trunk_id;                /* 0 = any */
    const char *site;                /* NULL = any; else the call's site */
    /* lists (n = 0: any): the call's direction, outcome, failure side */
    const char *direction[TS_API_LIST_MAX], *outcome[TS_API_LIST_MAX],
        *failure_side[TS_API_LIST_MAX];
    uint8_t ndirection, noutcome, nfailure_side;
    /* a leg (on trunk_id when given) whose final status is one of these;
     * 0 stands for no final response */
    int64_t final_status[TS_API_LIST_MAX];
    uint8_t nfinal_status;
    /* a number as a ticket writes it: digits (separators, '+' and leading
     * zeros gone) matched on any leg's caller or callee by their last
     * digits (both ways, at least 7; shorter ones exactly), else a user
     * name matched exactly (any case) on From, To, R-URI or PAI */
    char number_digits[33];
    char number_user[65];
    const char *call_id;             /* any leg's Call-ID */
    char addr[64];                   /* a leg from or to this address ("" any) */
    int64_t port;                    /* ... and/or this port (0 any) */
    const char *user_agent;          /* in a leg's User-Agent or Server (any case) */
    bool has_min_mos, has_max_mos, has_min_pdd;
    double min_mos, max_mos;
    int64_t min_pdd_ms;
    enum stq_sort sort;
    bool desc;
    struct stq_cursor after;         /* valid: rows strictly after it */
    uint32_t limit;                  /* 1..TS_API_PAGE_MAX */
};

/* How call-list filters on leg columns run: chosen per request from the
 * newest legs (AUTO), or, for tests, always collecting the matching legs'
 * calls first (SET) or always testing each call's legs (WALK). */
enum stq_leg_way { STQ_LEG_AUTO = 0, STQ_LEG_SET, STQ_LEG_WALK };
void stq_set_leg_way(struct stq *q, enum stq_leg_way way);
/* Legs such a filter reads at most (tests; 0: TS_API_LEG_SCAN_MAX). */
void stq_set_leg_scan(struct stq *q, uint32_t legs);
/* How the overview series (stq_kpis with trunk 0, stq_site_kpis) runs:
 * chosen by the calls in the range (AUTO), or, for tests, always a sweep
 * over the calls (SWEEP: the exact peak of concurrent calls) or always the
 * per-minute rollup (ROLLUP: the most calls up during a minute). */
enum stq_series_way { STQ_SERIES_AUTO = 0, STQ_SERIES_SWEEP, STQ_SERIES_ROLLUP };
void stq_set_series_way(struct stq *q, enum stq_series_way way);

/* Up to f->limit calls, fn per row; next->valid when more rows follow.
 * ST_OK, ST_ERR_NOT_FOUND (unknown trunk_id), ST_ERR_SQL. */
int stq_calls(struct stq *q, const struct stq_call_filter *f, stq_row_fn fn, void *ctx,
              struct stq_cursor *next);

/* ---- one call ---- */

/* The call row (same columns as the list). ST_ERR_NOT_FOUND if none. */
int stq_call(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Its legs by index. */
int stq_call_legs(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Its SIP messages across legs in time order (n = position, from 0), at
 * most max; *more set when there were more. */
int stq_call_messages(struct stq *q, int64_t id, uint32_t max, stq_row_fn fn, void *ctx,
                      bool *more);
/* Message n of that order with its raw bytes (column "raw", BLOB).
 * ST_ERR_NOT_FOUND if the call or the message does not exist. */
int stq_call_message_raw(struct stq *q, int64_t id, int64_t n, stq_row_fn fn, void *ctx);
/* Its RTP streams (at most max): every stored statistic, RTCP columns
 * prefixed "rtcp_"; and a stream's 5-second points. */
int stq_call_streams(struct stq *q, int64_t id, uint32_t max, stq_row_fn fn, void *ctx);
int stq_stream_series(struct stq *q, int64_t stream_id, uint32_t max, stq_row_fn fn, void *ctx);

/* ---- TLS and other flows (schema v10) ---- */

/* Every TLS peer pair (at most TS_API_TLS_ROWS_MAX): status, handshake
 * facts, the server's certificate with its days left counted from now. */
int stq_tls_peers(struct stq *q, stq_row_fn fn, void *ctx);
/* Filters of the TLS connection list; every field optional (has_* / ""
 * / 0 / nverdict 0). Strings validated by the caller, bound. */
struct stq_tls_filter {
    bool has_from, has_to;
    int64_t from_ns, to_ns;           /* first packet within [from, to) */
    int64_t trunk_id;                 /* between the trunk's two addresses (0: any) */
    char addr[64];                    /* client or server address ("" any) */
    int64_t port;                     /* ... on this port (0: any) */
    const char *verdict[TS_API_LIST_MAX]; /* decryption verdict is one of these */
    uint8_t nverdict;
    uint32_t limit;                   /* 1..TS_API_TLS_ROWS_MAX */
};
/* The newest TLS connections that pass f (at most f->limit, the newest
 * first): handshake and, with keys, why each was or was not decrypted.
 * ST_ERR_NOT_FOUND for an unknown trunk_id. */
int stq_tls_conns(struct stq *q, const struct stq_tls_filter *f, stq_row_fn fn, void *ctx);
/* The TLS peer pairs between a trunk's two addresses, the newest first. */
int stq_trunk_tls(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* The other flows (trunk_id 0: all, at most TS_API_TLS_ROWS_MAX, the
 * largest first; else those touching either of the trunk's addresses). */
int stq_other_flows(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx);

/* ---- trunks, KPIs, registrations ---- */

int stq_trunks(struct stq *q, stq_row_fn fn, void *ctx);
/* The trunks first seen at site (NULL: all, as stq_trunks). */
int stq_trunks_site(struct stq *q, const char *site, stq_row_fn fn, void *ctx);
/* Sites (of calls or trunks) by name: calls, trunks, first/last call. */
int stq_sites(struct stq *q, stq_row_fn fn, void *ctx);
/* Nodes of the learned topology: id, role, side, learned_from, b2bua,
 * calls, confidence, user_agent, addresses (space-separated), site. */
int stq_topology(struct stq *q, stq_row_fn fn, void *ctx);
/* One trunk; ST_ERR_NOT_FOUND if none. */
int stq_trunk(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Per direction (inbound: INVITE from the peer) KPIs of the stored legs
 * between the trunk's two addresses. */
int stq_trunk_directions(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Final status codes of those legs with their counts. */
int stq_trunk_codes(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Whose fault: the calls with an unsuccessful leg (not answered, not in
 * progress) between the trunk's addresses, counted by the call's outcome
 * and failure side (a call answered after a failover to another trunk is
 * "answered") and that leg's final status, reason phrase, sender (the node
 * that answered the INVITE: the leg's destination), Q.850 cause and Reason
 * header; the largest groups first (at most 200). */
int stq_trunk_failures(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Codecs (first of the answering SDP) of those legs that were answered. */
int stq_trunk_codecs(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Time of the first and last KPI minute: (0, 0) when there is none. */
/* Per minute over both directions: minute (ns), attempts, answered,
 * hold_s (holding time of the answered calls begun in it), ascending. */
int stq_trunk_minutes(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Measured RTP of the trunk's latest answered legs (at most
 * TS_API_MAX_RATE_LEGS) per codec and address family: codec, ipv6,
 * streams, bytes (RTP), packets, duration_s (streams of 1 s or more). */
int stq_trunk_media_rates(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Its SQL (:id the trunk, :lim the legs): the newest answered legs each
 * way, backward walks of legs(src, dst, outcome, rowid), then the newest of
 * both; their streams from the covering index rtp_streams_leg_media alone
 * (v29; test_store checks the plan of this text). */
#define STQ_MEDIA_RATES                                                                          \
    "WITH tl AS (SELECT id FROM ("                                                               \
    "SELECT * FROM (SELECT l.id AS id FROM trunks t JOIN legs l ON"                              \
    " l.src=t.local_addr AND l.dst=t.peer_addr AND l.outcome='answered'"                         \
    " WHERE t.id=:id ORDER BY l.id DESC LIMIT :lim) UNION ALL"                                   \
    " SELECT * FROM (SELECT l.id FROM trunks t JOIN legs l ON"                                   \
    " l.src=t.peer_addr AND l.dst=t.local_addr AND l.outcome='answered'"                         \
    " WHERE t.id=:id AND t.local_addr<>t.peer_addr ORDER BY l.id DESC LIMIT :lim))"              \
    " ORDER BY id DESC LIMIT :lim)"                                                              \
    " SELECT coalesce(s.codec,'') AS codec, instr(s.src,':')>0 AS ipv6,"                         \
    " count(*) AS streams, sum(s.bytes) AS bytes, sum(s.packets) AS packets,"                    \
    " sum((s.last_ts-s.first_ts)/1e9) AS duration_s"                                             \
    " FROM tl JOIN rtp_streams s ON s.leg_id=tl.id"                                              \
    " WHERE s.bytes IS NOT NULL AND s.last_ts-s.first_ts >= 1000000000"                          \
    " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 64"
/* Alerts whose state is in states (bits: 1 pending, 2 firing, 4 resolved),
 * of trunk_id (0: all), firing first, then pending, newest first. */
int stq_alerts(struct stq *q, unsigned states, int64_t trunk_id, uint32_t limit, stq_row_fn fn,
               void *ctx);
/* Pending and firing alerts counted by state and severity. */
int stq_alert_counts(struct stq *q, stq_row_fn fn, void *ctx);
/* The evaluator's last health of trunk_id (0: every trunk): state, reasons
 * and metrics (JSON text), data_ts, updated. */
int stq_trunk_health(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx);
/* site, trunk_id, name, state, reasons (JSON text) of every evaluated trunk
 * that has a site. */
int stq_site_health(struct stq *q, stq_row_fn fn, void *ctx);
/* status, items (JSON text), updated of a trunk's stored checklist: no row
 * when never computed. */
int stq_trunk_checklist(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx);
int stq_kpi_range(struct stq *q, int64_t trunk_id, int64_t *first_ns, int64_t *last_ns);
/* stq_kpis with trunk_id 0: more than TS_API_MAX_SERIES_CALLS calls in the
 * range (a value beside enum st_err). */
#define STQ_ERR_TOO_MANY 64

/* KPI series in buckets of bucket_ns over [from, to): trunk_id 0 = all
 * trunks together, counted from the calls. A trunk's series sums its stored
 * minutes when bucket_ns is a multiple of 60 s, else counts its legs (a
 * short capture's seconds). MOS is the mean of the calls started in the
 * bucket. */
int stq_kpis(struct stq *q, int64_t trunk_id, int64_t from_ns, int64_t to_ns, int64_t bucket_ns,
             stq_row_fn fn, void *ctx);
/* The overview series (as stq_kpis with trunk_id 0) of the calls of one
 * site, and the time of that site's first and last call ((0, 0): none). */
int stq_site_kpis(struct stq *q, const char *site, int64_t from_ns, int64_t to_ns,
                  int64_t bucket_ns, stq_row_fn fn, void *ctx);
int stq_site_range(struct stq *q, const char *site, int64_t *first_ns, int64_t *last_ns);
/* REGISTER and OPTIONS peers; trunk_id > 0: only those of that trunk's
 * addresses. */
int stq_registrations(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx);
int stq_keepalives(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx);

/* ---- a running sensor's live state ---- */

/* One row (none before the first snapshot): updated (wall) and
 * capture_time, calls_up, legs_up, legs_ringing, legs_trying, running
 * (0 once the sensor stopped), age_s (seconds since updated, wall clock). */
int stq_live_state(struct stq *q, stq_row_fn fn, void *ctx);
/* Per trunk, calls with an answered leg up on it at the last snapshot of a
 * sensor still running (trunk_id, calls); no rows when none runs. */
int stq_live_trunks(struct stq *q, stq_row_fn fn, void *ctx);
/* Legs in progress at the last snapshot, grouped by call (call_key), the
 * oldest call first; at most max rows. */
int stq_live_legs(struct stq *q, uint32_t max, stq_row_fn fn, void *ctx);

/* ---- stats and metrics ---- */

int stq_captures(struct stq *q, stq_row_fn fn, void *ctx);
/* One row: calls, legs, sip_messages, streams, captures, the SRTP sums
 * (STQ_SRTP_SUMS), first/last call start. */
int stq_totals(struct stq *q, stq_row_fn fn, void *ctx);
/* stq_totals' SRTP sums, both from the covering index rtp_streams_srtp_fail
 * (v28; test_store checks the plan of this text). Not tried only after
 * TS_SRTP_GIVE_UP failures: the same rows. */
#define STQ_SRTP_SUMS                                                                            \
    "(SELECT coalesce(sum(srtp_auth_fail),0) FROM rtp_streams WHERE srtp_auth_fail>0)"           \
    " AS srtp_auth_fail, (SELECT coalesce(sum(srtp_not_tried),0) FROM rtp_streams WHERE"         \
    " srtp_auth_fail>0) AS srtp_not_tried"
/* (trunk_id, mos, n): n legs on that trunk had this MOS (the worst stream
 * of the leg); only legs with a MOS. */
int stq_trunk_mos(struct stq *q, stq_row_fn fn, void *ctx);
/* One row about a live sensor's capture spool: files, bytes, the times of
 * its oldest and newest packet (null when it holds none). */
int stq_spool_summary(struct stq *q, stq_row_fn fn, void *ctx);
/* One row, packets: where the call's frames are, as export finds them:
 * "capture" (the analysed capture files), "spool" (a live sensor's spool
 * still holds its time), "aged_out" (the spool's oldest packet is later
 * than the call's start) or "not_kept" (no spool file at all);
 * ST_ERR_NOT_FOUND for no such call. */
int stq_call_packets(struct stq *q, int64_t id, stq_row_fn fn, void *ctx);
/* Capture id of a call (export needs the database path only): 0 if none. */
int64_t stq_call_exists(struct stq *q, int64_t id);

#endif
