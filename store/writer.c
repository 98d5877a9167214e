/* The store writer: analysis hands owned copies of SIP messages, finished
 * calls and finished RTP streams to a bounded queue (full: dropped and
 * counted, never blocking); one thread commits them in batched transactions
 * with prepared statements and runs retention in small transactions between
 * batches. Messages are linked to their leg (sip_links rows, appended with
 * the leg) from a bounded in-memory map of Call-IDs (no Call-ID index to
 * update per message, no message row to rewrite); streams to their leg by
 * the call layer's leg_ref, whichever of the two arrives first. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../calls/calls.h"
#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "../dissect/sip.h"
#include "../media/media.h"

#define NS_PER_S 1000000000ull
#define DEF_BATCH 2000
#define DEF_FLUSH_MS 1000
#define DEF_RET_BATCH 500
/* Bytes of a capture hashed to recognise it when analysed again. */
#define HEAD_HASH_BYTES (64u * 1024)
/* A leg's messages are linked to it within this margin of its times. */
#define LINK_MARGIN_NS (64ull * NS_PER_S)
/* Message row ids a link entry keeps inline; later ones of a long dialog are
 * linked by their row id range (a scan of what was stored meanwhile). */
#define LINK_IDS 24
/* Series points of a stream per interval: 5 s (media's series step). */
#define SERIES_STEP_NS (5ull * NS_PER_S)
/* Writer connection page cache: the tables' hot pages and the indexes. */
#define WRITER_CACHE_KIB 65536

enum rec_kind { REC_SIP, REC_CALL, REC_STREAM, REC_CAPTURE_BEGIN, REC_CAPTURE_END,
                REC_SNAP };

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
            uint64_t id, first_ts, last_ts;
        } capend;
        struct snap snap;
    } u;
};

enum stmt_id {
    S_SIP, S_CALL, S_LEG, S_LINK_ID, S_LINK_RANGE, S_CAP_FIND, S_CAP_NEW, S_CAP_REOPEN,
    S_CAP_END, S_TRUNK, S_KPI, S_PEER, S_REG, S_KEEP, S_STREAM, S_IVL, S_LEG_BY_REF,
    S_LEG_MOS, S_CALL_MOS, S_ADOPT, S_LEG_MOS_ALL, S_CALL_MOS_ALL, S_LIVE_LEG, S_LIVE_STATE,
    S_N
};

/* A stream's MOS for its leg (media_stream_leg_mos): 1.0 when one-way. */
#define ST_LEG_MOS "(CASE WHEN flags&1 THEN 1.0 ELSE mos END)"

static const char *const STMT_SQL[S_N] = {
    [S_SIP] = "INSERT INTO sip_messages(ts,src,sport,dst,dport,transport,call_id,method,status,"
              "cseq,cseq_method,raw,capture_id,frame,file_off) "
              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_CALL] = "INSERT INTO calls(capture_id,tracker_id,start,end,caller,callee,direction,"
               "outcome,failure_side,failure_detail,pdd_ms,duration_s,mos,legs,site) "
               "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,NULL,?,?)",
    [S_LEG] = "INSERT INTO legs(call_ref,idx,call_id,from_user,to_user,ruri,pai,caller_digits,"
              "callee_digits,invite_ts,prov_ts,ring_ts,answer_ts,end_ts,bye_ts,final_status,"
              "reason,reason_hdr,q850,ms_diag,hangup_by,transport,src,sport,dst,dport,outcome,"
              "ev_type,ev_conf,linked_to,caller_codecs,callee_codecs,caller_media_addr,"
              "caller_media_port,callee_media_addr,callee_media_port,leg_ref,capture_gap,site,"
              "user_agent,server,endpoint_quality) "
              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
              "?,?,?,?,?,?)",
    /* Appended in leg order (schema.c, version 6). A message is linked
     * once: the map forgets an id it linked, and links a range once. */
    [S_LINK_ID] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) VALUES(?1,?2)",
    [S_LINK_RANGE] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) SELECT ?1, id FROM "
                     "sip_messages WHERE id BETWEEN ?5 AND ?6 AND call_id=?2 AND "
                     "ts BETWEEN ?3 AND ?4",
    [S_CAP_FIND] = "SELECT id FROM captures WHERE path=? AND size=? AND mtime=? AND head_hash=?",
    [S_CAP_NEW] = "INSERT INTO captures(path,size,mtime,head_hash,sensor,started,kind) "
                  "VALUES(?,?,?,?,?,?,'file')",
    [S_CAP_REOPEN] = "UPDATE captures SET sensor=?2, started=?3, finished=NULL WHERE id=?1",
    [S_CAP_END] = "UPDATE captures SET finished=?2, first_ts=?3, last_ts=?4 WHERE id=?1",
    [S_TRUNK] = "INSERT INTO trunks(name,local_addr,peer_addr,itsp,attempts,answered,busy,"
                "rejected,cancelled,failed,timeouts,asr,ner,acd_s,pdd_mean_ms,pdd_p95_ms,"
                "peak_concurrent,peak_ts,updated,site) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(local_addr,peer_addr) DO UPDATE SET name=excluded.name,"
                "itsp=excluded.itsp,attempts=excluded.attempts,answered=excluded.answered,"
                "busy=excluded.busy,rejected=excluded.rejected,cancelled=excluded.cancelled,"
                "failed=excluded.failed,timeouts=excluded.timeouts,asr=excluded.asr,"
                "ner=excluded.ner,acd_s=excluded.acd_s,pdd_mean_ms=excluded.pdd_mean_ms,"
                "pdd_p95_ms=excluded.pdd_p95_ms,peak_concurrent=excluded.peak_concurrent,"
                "peak_ts=excluded.peak_ts,updated=excluded.updated,"
                "site=coalesce(excluded.site,trunks.site) RETURNING id",
    [S_KPI] = "INSERT OR REPLACE INTO kpi_minute(trunk_id,direction,minute,attempts,answered,"
              "busy,rejected,cancelled,failed,timeouts,srd_sum_ms,srd_n,ans_sum_ms,ans_n,"
              "dur_sum_s,dur_n,peak_concurrent) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_PEER] = "INSERT INTO peers(addr,name,kind,first_ts,last_ts) VALUES(?,?,?,?,?) "
               "ON CONFLICT(addr) DO UPDATE SET name=excluded.name,"
               "last_ts=max(coalesce(last_ts,0),excluded.last_ts)",
    [S_REG] = "INSERT INTO registrations(capture_id,client,server,aor,attempts,successes,"
              "challenges,failures,timeouts,rt_mean_ms,rt_max_ms,last_status,first_ts,"
              "last_ts,last_ok_ts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_KEEP] = "INSERT INTO keepalives(capture_id,client,server,attempts,successes,failures,"
               "timeouts,rt_mean_ms,rt_max_ms,last_status,first_ts,last_ts,last_ok_ts) "
               "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_STREAM] = "INSERT INTO rtp_streams(call_ref,leg_id,capture_id,src,sport,dst,dport,ssrc,"
                 "payload_type,codec,first_ts,last_ts,packets,lost,jitter_mean_ms,jitter_max_ms,"
                 "max_delta_ms,mos,flags,leg_ref,clock_rate,payload_types,bytes,expected,"
                 "lost_pct,duplicates,out_of_order,seq_resets,seq_errors,markers,comfort_noise,"
                 "jb_discarded,min_delta_ms,mean_delta_ms,jitter_min_ms,problem,r_factor,"
                 "ppl_pct,burst_r,delay_ms,signalled,dtmf_events,dtmf,rtcp_sr,rtcp_rr,"
                 "rtcp_sdes,rtcp_bye,rtcp_xr,rtcp_app,rtcp_feedback,rtcp_srtcp,rtcp_cname,"
                 "rtcp_report_blocks,rtcp_fraction_lost,rtcp_fraction_lost_max,"
                 "rtcp_cumulative_lost,rtcp_jitter_ms,rtcp_rtt_samples,rtcp_rtt_ms,"
                 "rtcp_rtt_max_ms,rtcp_xr_voip,rtcp_xr_mos_lq,rtcp_xr_r_factor,mos_reason) VALUES("
                 "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,"
                 "?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,"
                 "?39,?40,?41,?42,?43,?44,?45,?46,?47,?48,?49,?50,?51,?52,?53,?54,?55,?56,"
                 "?57,?58,?59,?60,?61,?62,?63,?64)",
    [S_IVL] = "INSERT OR REPLACE INTO rtp_intervals(stream_id,ts,packets,lost,jitter_max_ms,mos)"
              " VALUES(?,?,?,?,?,?)",
    /* this session's legs only: leg_ref is unique per run, not per database */
    [S_LEG_BY_REF] = "SELECT id, call_ref FROM legs WHERE leg_ref=?1 AND id>?2 "
                     "ORDER BY id DESC LIMIT 1",
    /* the worst MOS with its reason; the one-way / no-audio bits */
    [S_LEG_MOS] = "UPDATE legs SET mos=min(coalesce(mos,99),?2), mos_reason=CASE WHEN "
                  "?2<coalesce(mos,99) THEN ?3 ELSE mos_reason END, "
                  "media_flags=coalesce(media_flags,0)|?4 WHERE id=?1",
    [S_CALL_MOS] = "UPDATE calls SET mos=min(coalesce(mos,99),?2), mos_reason=CASE WHEN "
                   "?2<coalesce(mos,99) THEN ?3 ELSE mos_reason END, "
                   "media_flags=coalesce(media_flags,0)|?4 WHERE id=?1",
    [S_ADOPT] = "UPDATE rtp_streams SET leg_id=?1, call_ref=?2 WHERE leg_ref=?3 AND "
                "leg_id IS NULL AND id>?4",
    /* as media_stream_leg_mos(): a one-way stream gives its leg MOS 1.0 */
    [S_LEG_MOS_ALL] = "UPDATE legs SET mos=(SELECT min(" ST_LEG_MOS ") FROM rtp_streams "
                      "WHERE leg_id=?1), mos_reason=(SELECT CASE WHEN flags&1 THEN 'one_way' "
                      "ELSE mos_reason END FROM rtp_streams WHERE leg_id=?1 AND " ST_LEG_MOS
                      " IS NOT NULL ORDER BY " ST_LEG_MOS " LIMIT 1), media_flags=(SELECT "
                      "max(flags&1)|max(flags&2) FROM rtp_streams WHERE leg_id=?1) WHERE id=?1",
    [S_CALL_MOS_ALL] = "UPDATE calls SET mos=(SELECT min(mos) FROM legs WHERE call_ref=?1), "
                       "mos_reason=(SELECT mos_reason FROM legs WHERE call_ref=?1 AND mos IS "
                       "NOT NULL ORDER BY mos LIMIT 1), media_flags=(SELECT "
                       "max(coalesce(media_flags,0)&1)|max(coalesce(media_flags,0)&2) FROM legs "
                       "WHERE call_ref=?1) WHERE id=?1",
    [S_LIVE_LEG] = "INSERT INTO live_legs(call_key,state,call_id,caller,callee,invite_ts,ring_ts,"
                   "answer_ts,src,sport,dst,dport,transport,site) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_LIVE_STATE] = "INSERT OR REPLACE INTO live_state(id,updated,capture_ts,calls_up,legs_up,"
                     "legs_ringing,legs_trying,running) VALUES(1,?,?,?,?,?,?,?)",
};

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

struct link_key {
    const char *p;
    size_t len;
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

    /* writer side */
    uint64_t run_capture; /* calls belong to the session's first capture */
    int64_t leg_floor, stream_floor; /* rows of this session have larger ids */
    int64_t reg_floor, keep_floor;   /* ... and registrations, keep-alives */
    struct htab links;    /* Call-ID -> struct link_ent */
    int64_t last_msg_id;  /* the newest message row: while it exists, the
                           * map's ids name the rows they were noted for */
    uint64_t link_evicted; /* not yet added to st */
    uint64_t replaced_pending; /* calls deleted in the open transaction */
    bool retention_more;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Records not written (SQLite refused them, or the queue was full) are
 * logged with the last reason: the first loss at once, then at most once a
 * minute, and what is left at exit (final). */
static void log_losses(struct st_writer *w, bool final)
{
    if (!w->opt.log_losses)
        return;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&w->mu);
    uint64_t lost = w->st.errors + w->st.dropped_full;
    bool due = lost > w->lost_logged &&
               (final || !w->logged_ns || now - w->logged_ns >= TS_STORE_LOG_PERIOD_S * NS_PER_S);
    struct st_stats s = w->st;
    if (due) {
        w->lost_logged = lost;
        w->logged_ns = now;
    }
    pthread_mutex_unlock(&w->mu);
    if (due)
        log_msg(LOG_ERROR,
                "store: %llu records not written so far (%llu refused by the database, "
                "last reason: %s; %llu dropped, queue full); %llu written",
                (unsigned long long)(s.errors + s.dropped_full), (unsigned long long)s.errors,
                s.last_error[0] ? s.last_error : "none", (unsigned long long)s.dropped_full,
                (unsigned long long)s.written);
}

/* Keep SQLite's reason for the failure that just happened (first one of a
 * batch wins: later ones are often its consequence). */
static void note_reason(struct st_writer *w, char *why, size_t cap)
{
    if (!why[0])
        snprintf(why, cap, "%s", sqlite3_errmsg(w->h));
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ---- binding helpers (SQLITE_STATIC: every record outlives its step) ---- */

static void b_text(sqlite3_stmt *s, int i, const char *t)
{
    sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

/* A site name (TS_SITE_LEN buffer, maybe unterminated): NULL when empty. */
static void b_site(sqlite3_stmt *s, int i, const char *site)
{
    size_t n = strnlen(site, TS_SITE_LEN);
    if (n)
        sqlite3_bind_text(s, i, site, (int)n, SQLITE_STATIC);
}

static void b_textn(sqlite3_stmt *s, int i, const char *t, size_t n)
{
    if (t)
        sqlite3_bind_text(s, i, t, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void b_i64(sqlite3_stmt *s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }

static void b_ts(sqlite3_stmt *s, int i, uint64_t ns) /* 0 = never: NULL */
{
    if (ns)
        sqlite3_bind_int64(s, i, (int64_t)ns);
    else
        sqlite3_bind_null(s, i);
}

static void b_real(sqlite3_stmt *s, int i, double v) /* negative = none: NULL */
{
    if (v >= 0)
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* Dotted quad without printf (two per stored message); others by st_addr_text. */
static size_t addr_text(const struct ts_addr *a, char *buf, size_t cap)
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

static void b_addr(sqlite3_stmt *s, int i, const struct ts_addr *a)
{
    char buf[64];
    size_t n = addr_text(a, buf, sizeof buf);
    if (n)
        sqlite3_bind_text(s, i, buf, (int)n, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

/* Step a statement that returns no row; true on success. */
static bool run(struct st_writer *w, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    (void)w;
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

static bool exec(struct st_writer *w, const char *sql)
{
    return sqlite3_exec(w->h, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* ---- record writers (writer thread, inside a transaction) ---- */

static const char *l4_name(uint8_t l4)
{
    switch (l4) {
    case TS_L4_TCP:
        return "TCP";
    case TS_L4_SCTP:
        return "SCTP";
    default:
        return "UDP";
    }
}

/* ---- message links (writer thread) ---- */

static bool link_eq(const struct ht_node *n, const void *key)
{
    const struct link_ent *e = ts_container_of(n, struct link_ent, node);
    const struct link_key *k = key;
    return e->call_id_len == k->len && memcmp(e->call_id, k->p, k->len) == 0;
}

static struct link_ent *link_find(struct st_writer *w, const char *p, size_t len, uint64_t *h)
{
    struct link_key k = { p, len };
    *h = ts_hash(p, len);
    struct ht_node *n = htab_find(&w->links, *h, link_eq, &k);
    return n ? ts_container_of(n, struct link_ent, node) : NULL;
}

static void link_drop(struct st_writer *w, struct link_ent *e)
{
    htab_remove(&w->links, &e->node);
    free(e);
}

/* Remember a stored message of a dialog for its leg. */
static void link_note(struct st_writer *w, const struct rec *r, int64_t rowid)
{
    size_t len = r->u.sip.call_id_len;
    if (!len)
        return;
    uint64_t h;
    struct link_ent *e = link_find(w, r->u.sip.call_id, len, &h);
    if (!e) {
        if (r->u.sip.cseq_method_len != 6 || memcmp(r->u.sip.cseq_method, "INVITE", 6) != 0)
            return;
        if (htab_full(&w->links)) {
            link_drop(w, ts_container_of(htab_oldest(&w->links), struct link_ent, node));
            w->link_evicted++;
        }
        e = malloc(sizeof *e + len);
        if (!e)
            return;
        memset(e, 0, sizeof *e);
        memcpy(e->call_id, r->u.sip.call_id, len);
        e->call_id_len = (uint32_t)len;
        htab_insert(&w->links, &e->node, h);
    } else {
        htab_touch(&w->links, &e->node);
    }
    if (e->nids < LINK_IDS) {
        e->ts[e->nids] = r->u.sip.ts;
        e->ids[e->nids++] = rowid;
    } else {
        if (!e->overflow)
            e->over_lo = rowid;
        e->overflow = true;
        e->over_hi = rowid;
    }
}

static void link_drop_all(struct st_writer *w)
{
    struct ht_node *n;
    while ((n = htab_oldest(&w->links)))
        link_drop(w, ts_container_of(n, struct link_ent, node));
}

static void link_free_all(struct st_writer *w)
{
    if (!w->links.buckets)
        return;
    link_drop_all(w);
    htab_cleanup(&w->links);
}

static int64_t q_i64(struct st_writer *w, const char *sql, int64_t a, int64_t dflt);

/* SQLite hands out max(rowid) + 1: once the newest message row is gone (a
 * rolled-back batch, a capture analysed again, retention of everything),
 * new messages may get the ids the map holds. Forget them then; those
 * dialogs stay unlinked, counted as evicted. */
static void link_check_ids(struct st_writer *w)
{
    if (!w->last_msg_id)
        return;
    int64_t top = q_i64(w, "SELECT max(id) FROM sip_messages WHERE ?1=?1", 0, 0);
    if (top >= w->last_msg_id)
        return;
    w->link_evicted += w->links.count;
    link_drop_all(w);
    w->last_msg_id = top;
}

static bool write_sip(struct st_writer *w, struct rec *r)
{
    sqlite3_stmt *s = w->s[S_SIP];
    b_i64(s, 1, (int64_t)r->u.sip.ts);
    b_addr(s, 2, &r->u.sip.src);
    b_i64(s, 3, r->u.sip.sport);
    b_addr(s, 4, &r->u.sip.dst);
    b_i64(s, 5, r->u.sip.dport);
    b_text(s, 6, l4_name(r->u.sip.l4));
    b_textn(s, 7, r->u.sip.call_id, r->u.sip.call_id_len);
    b_textn(s, 8, r->u.sip.method, r->u.sip.method_len);
    if (r->u.sip.status)
        b_i64(s, 9, r->u.sip.status);
    b_i64(s, 10, r->u.sip.cseq);
    b_textn(s, 11, r->u.sip.cseq_method, r->u.sip.cseq_method_len);
    sqlite3_bind_blob(s, 12, r->u.sip.raw, (int)r->u.sip.raw_len, SQLITE_STATIC);
    if (r->u.sip.capture_id)
        b_i64(s, 13, (int64_t)r->u.sip.capture_id);
    if (r->u.sip.frame) {
        b_i64(s, 14, (int64_t)r->u.sip.frame);
        b_i64(s, 15, (int64_t)r->u.sip.off);
    }
    if (!run(w, s))
        return false;
    w->last_msg_id = sqlite3_last_insert_rowid(w->h);
    link_note(w, r, w->last_msg_id);
    return true;
}

static uint64_t leg_last_ns(const struct calls_leg *l)
{
    uint64_t t[] = { l->invite_ns, l->prov_ns, l->ring_ns, l->answer_ns, l->end_ns,
                     l->bye_ns, l->bye_ok_ns, l->err_ns };
    uint64_t m = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] > m)
            m = t[i];
    return m;
}

/* Link the messages already stored (they precede the call in the queue):
 * the ones the map holds for its Call-ID within the leg's time range. */
static bool link_messages(struct st_writer *w, int64_t leg_id, const struct calls_leg *l)
{
    uint64_t h;
    struct link_ent *e = link_find(w, l->call_id, strlen(l->call_id), &h);
    if (!e)
        return true;
    uint64_t lo = l->invite_ns > LINK_MARGIN_NS ? l->invite_ns - LINK_MARGIN_NS : 0;
    uint64_t hi = leg_last_ns(l) + LINK_MARGIN_NS;
    bool ok = true;
    uint32_t keep = 0;
    for (uint32_t k = 0; k < e->nids; k++) {
        if (e->ts[k] < lo || e->ts[k] > hi) { /* another call reusing the Call-ID */
            e->ts[keep] = e->ts[k];
            e->ids[keep++] = e->ids[k];
            continue;
        }
        sqlite3_stmt *s = w->s[S_LINK_ID];
        b_i64(s, 1, leg_id);
        b_i64(s, 2, e->ids[k]);
        ok &= run(w, s);
    }
    e->nids = keep;
    if (e->overflow) {
        sqlite3_stmt *s = w->s[S_LINK_RANGE];
        b_i64(s, 1, leg_id);
        sqlite3_bind_text(s, 2, e->call_id, (int)e->call_id_len, SQLITE_STATIC);
        b_i64(s, 3, (int64_t)lo);
        b_i64(s, 4, (int64_t)hi);
        b_i64(s, 5, e->over_lo);
        b_i64(s, 6, e->over_hi);
        ok &= run(w, s);
        e->overflow = false;
    }
    if (!e->nids)
        link_drop(w, e);
    return ok;
}

/* Streams that finished before their leg was written join it now; the leg
 * and the call take the worst MOS. */
static bool adopt_streams(struct st_writer *w, int64_t leg_id, int64_t call_ref,
                          const struct calls_leg *l)
{
    if (!l->leg_ref)
        return true;
    sqlite3_stmt *s = w->s[S_ADOPT];
    b_i64(s, 1, leg_id);
    b_i64(s, 2, call_ref);
    b_i64(s, 3, (int64_t)l->leg_ref);
    b_i64(s, 4, w->stream_floor);
    if (!run(w, s))
        return false;
    if (sqlite3_changes(w->h) == 0)
        return true;
    s = w->s[S_LEG_MOS_ALL];
    b_i64(s, 1, leg_id);
    bool ok = run(w, s);
    s = w->s[S_CALL_MOS_ALL];
    b_i64(s, 1, call_ref);
    return ok && run(w, s);
}

static void b_media(sqlite3_stmt *s, int i, const struct calls_sdp *sdp)
{
    if (sdp->present && sdp->addr.family && sdp->port) {
        b_addr(s, i, &sdp->addr);
        b_i64(s, i + 1, sdp->port);
    }
}

static bool write_leg(struct st_writer *w, int64_t call_ref, int idx, const struct calls_leg *l)
{
    sqlite3_stmt *s = w->s[S_LEG];
    int i = 1;
    b_i64(s, i++, call_ref);
    b_i64(s, i++, idx);
    b_text(s, i++, l->call_id);
    b_text(s, i++, l->from);
    b_text(s, i++, l->to);
    b_text(s, i++, l->ruri);
    b_text(s, i++, l->pai);
    b_text(s, i++, l->caller_digits);
    b_text(s, i++, l->callee_digits);
    b_ts(s, i++, l->invite_ns);
    b_ts(s, i++, l->prov_ns);
    b_ts(s, i++, l->ring_ns);
    b_ts(s, i++, l->answer_ns);
    b_ts(s, i++, l->end_ns);
    b_ts(s, i++, l->bye_ns);
    if (l->final_status)
        b_i64(s, i, l->final_status);
    i++;
    b_text(s, i++, l->reason);
    b_text(s, i++, l->reason_hdr);
    if (l->q850_cause)
        b_i64(s, i, l->q850_cause);
    i++;
    b_text(s, i++, l->ms_diag);
    b_text(s, i++, calls_party_name((enum calls_party)l->hangup_by));
    b_text(s, i++, l->transport);
    b_addr(s, i++, &l->src);
    b_i64(s, i++, l->sport);
    b_addr(s, i++, &l->dst);
    b_i64(s, i++, l->dport);
    b_text(s, i++, calls_outcome_name((enum calls_outcome)l->outcome));
    b_text(s, i++, calls_evidence_name((enum calls_evidence)l->ev_type));
    sqlite3_bind_double(s, i++, l->ev_conf);
    if (l->ev_linked_to >= 0)
        b_i64(s, i, l->ev_linked_to);
    i++;
    b_text(s, i++, l->caller_sdp.codecs);
    b_text(s, i++, l->callee_sdp.codecs);
    b_media(s, i, &l->caller_sdp);
    i += 2;
    b_media(s, i, &l->callee_sdp);
    i += 2;
    if (l->leg_ref)
        b_i64(s, i, (int64_t)l->leg_ref);
    i++;
    b_i64(s, i++, l->capture_gap);
    b_site(s, i++, l->site);
    b_text(s, i++, l->user_agent);
    b_text(s, i++, l->server);
    char epq[TS_CALLS_MAX_EPQ * 320];
    size_t ne = calls_epq_json(l, epq, sizeof epq);
    if (ne)
        b_textn(s, i, epq, ne);
    if (!run(w, s))
        return false;
    int64_t leg_id = sqlite3_last_insert_rowid(w->h);
    return link_messages(w, leg_id, l) && adopt_streams(w, leg_id, call_ref, l);
}

static void b_opt(sqlite3_stmt *s, int i, bool have, double v)
{
    if (have)
        sqlite3_bind_double(s, i, v);
}

static bool write_stream(struct st_writer *w, struct rec *r)
{
    const struct media_stream *m = &r->u.stream;
    const struct media_rtcp *rc = &m->rtcp;
    int64_t leg_id = 0, call_ref = 0;
    sqlite3_stmt *s;
    if (m->leg_ref) {
        s = w->s[S_LEG_BY_REF];
        b_i64(s, 1, (int64_t)m->leg_ref);
        b_i64(s, 2, w->leg_floor);
        if (sqlite3_step(s) == SQLITE_ROW) {
            leg_id = sqlite3_column_int64(s, 0);
            call_ref = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    char pts[128 * 4 + 1];
    size_t np = 0;
    for (unsigned pt = 0; pt < 128; pt++)
        if (m->pts_seen[pt >> 6] & (1ull << (pt & 63)))
            np += (size_t)snprintf(pts + np, sizeof pts - np, "%s%u", np ? "," : "", pt);
    bool q = m->mos >= 0;
    s = w->s[S_STREAM];
    if (leg_id) {
        b_i64(s, 1, call_ref);
        b_i64(s, 2, leg_id);
    }
    if (w->run_capture)
        b_i64(s, 3, (int64_t)w->run_capture);
    b_addr(s, 4, &m->src);
    b_i64(s, 5, m->sport);
    b_addr(s, 6, &m->dst);
    b_i64(s, 7, m->dport);
    b_i64(s, 8, m->ssrc);
    b_i64(s, 9, m->pt);
    if (m->codec[0])
        b_textn(s, 10, m->codec, strnlen(m->codec, sizeof m->codec));
    b_ts(s, 11, m->first_ns);
    b_ts(s, 12, m->last_ns);
    b_i64(s, 13, (int64_t)m->packets);
    b_i64(s, 14, m->lost);
    sqlite3_bind_double(s, 15, m->mean_jitter_ms);
    sqlite3_bind_double(s, 16, m->max_jitter_ms);
    sqlite3_bind_double(s, 17, m->max_delta_ms);
    b_real(s, 18, m->mos);
    b_i64(s, 19, m->flags);
    if (m->leg_ref)
        b_i64(s, 20, (int64_t)m->leg_ref);
    if (m->clock)
        b_i64(s, 21, m->clock);
    b_textn(s, 22, pts, np);
    b_i64(s, 23, (int64_t)m->bytes);
    b_i64(s, 24, m->expected);
    sqlite3_bind_double(s, 25, m->lost_pct);
    b_i64(s, 26, m->duplicates);
    b_i64(s, 27, m->out_of_order);
    b_i64(s, 28, m->seq_resets);
    b_i64(s, 29, m->seq_errors);
    b_i64(s, 30, m->markers);
    b_i64(s, 31, m->cn_packets);
    b_i64(s, 32, m->discarded);
    b_real(s, 33, m->min_delta_ms);
    sqlite3_bind_double(s, 34, m->mean_delta_ms);
    b_real(s, 35, m->min_jitter_ms);
    b_i64(s, 36, m->problem);
    b_opt(s, 37, q, m->r_factor);
    sqlite3_bind_double(s, 38, m->ppl);
    sqlite3_bind_double(s, 39, m->burst_r);
    b_opt(s, 40, q, m->delay_ms);
    b_i64(s, 41, m->signalled);
    b_i64(s, 42, m->dtmf_events);
    b_textn(s, 43, m->dtmf, strnlen(m->dtmf, sizeof m->dtmf));
    b_i64(s, 44, rc->sr);
    b_i64(s, 45, rc->rr);
    b_i64(s, 46, rc->sdes);
    b_i64(s, 47, rc->bye);
    b_i64(s, 48, rc->xr);
    b_i64(s, 49, rc->app);
    b_i64(s, 50, rc->fb);
    b_i64(s, 51, rc->srtcp);
    if (rc->cname[0])
        b_textn(s, 52, rc->cname, strnlen(rc->cname, sizeof rc->cname));
    b_i64(s, 53, rc->blocks);
    b_opt(s, 54, rc->blocks, rc->fraction_lost);
    b_opt(s, 55, rc->blocks, rc->fraction_lost_max);
    if (rc->blocks)
        b_i64(s, 56, rc->cum_lost);
    b_real(s, 57, rc->jitter_ms);
    b_i64(s, 58, rc->rtt_n);
    b_opt(s, 59, rc->rtt_n, rc->rtt_ms);
    b_opt(s, 60, rc->rtt_n, rc->rtt_max_ms);
    b_i64(s, 61, rc->xr_voip);
    b_real(s, 62, rc->xr_mos_lq);
    b_real(s, 63, rc->xr_r_factor);
    const char *why = media_reason_name(m->mos_reason);
    if (why)
        b_text(s, 64, why);
    if (!run(w, s))
        return false;
    int64_t sid = sqlite3_last_insert_rowid(w->h);
    bool ok = true;
    for (uint32_t k = 0; k < m->nseries && m->series; k++) {
        const struct media_series *p = &m->series[k];
        s = w->s[S_IVL];
        b_i64(s, 1, sid);
        b_i64(s, 2, (int64_t)(m->first_ns + k * SERIES_STEP_NS));
        b_i64(s, 3, p->packets);
        b_i64(s, 4, p->lost);
        sqlite3_bind_double(s, 5, p->jitter_ms);
        b_real(s, 6, p->mos);
        ok &= run(w, s);
    }
    uint8_t reason;
    double leg_mos = media_stream_leg_mos(m, &reason);
    const char *lwhy = media_reason_name(reason);
    if (leg_id && leg_mos >= 0) { /* worst stream of the leg, worst leg of the call */
        for (int k = 0; k < 2; k++) {
            s = w->s[k ? S_CALL_MOS : S_LEG_MOS];
            b_i64(s, 1, k ? call_ref : leg_id);
            sqlite3_bind_double(s, 2, leg_mos);
            if (lwhy)
                b_text(s, 3, lwhy);
            b_i64(s, 4, m->flags & (MEDIA_F_ONE_WAY | MEDIA_F_NO_AUDIO));
            ok &= run(w, s);
        }
    }
    return ok;
}

static bool write_call(struct st_writer *w, struct rec *r)
{
    const struct calls_call *c = &r->u.call;
    sqlite3_stmt *s = w->s[S_CALL];
    uint64_t end = 0;
    for (size_t i = 0; i < c->nlegs; i++) {
        uint64_t e = leg_last_ns(&c->legs[i]);
        if (e > end)
            end = e;
    }
    if (w->run_capture)
        b_i64(s, 1, (int64_t)w->run_capture);
    b_i64(s, 2, (int64_t)c->id);
    b_i64(s, 3, (int64_t)c->start_ns);
    b_ts(s, 4, end);
    b_text(s, 5, c->caller);
    b_text(s, 6, c->callee);
    b_text(s, 7, calls_dir_name((enum calls_dir)c->direction));
    b_text(s, 8, calls_outcome_name((enum calls_outcome)c->outcome));
    b_text(s, 9, calls_side_name((enum calls_side)c->failure_side));
    b_text(s, 10, c->failure_detail);
    if (c->pdd_ms >= 0)
        b_i64(s, 11, c->pdd_ms);
    b_real(s, 12, c->duration_s);
    b_i64(s, 13, c->nlegs);
    b_site(s, 14, c->site);
    if (!run(w, s))
        return false;
    int64_t ref = sqlite3_last_insert_rowid(w->h);
    bool ok = true;
    for (size_t i = 0; i < c->nlegs; i++)
        ok &= write_leg(w, ref, (int)i, &c->legs[i]);
    return ok;
}

/* FNV-1a over the first 64 KiB: stable across runs (ts_hash is seeded). */
static bool capture_ident(const char *path, int64_t *size, int64_t *mtime, char hex[17])
{
    struct stat sb;
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    uint8_t *buf = malloc(HEAD_HASH_BYTES);
    ssize_t n = buf ? read(fd, buf, HEAD_HASH_BYTES) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return false;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (ssize_t i = 0; i < n; i++) {
        h ^= buf[i];
        h *= 0x100000001b3ull;
    }
    free(buf);
    *size = (int64_t)sb.st_size;
    *mtime = (int64_t)sb.st_mtim.tv_sec * (int64_t)NS_PER_S + sb.st_mtim.tv_nsec;
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
    return true;
}

/* Remove everything a capture produced (re-analysis replaces it). */
static bool delete_capture_rows(struct st_writer *w, int64_t id)
{
    static const struct {
        const char *sql;
        bool calls; /* its count is the calls replaced */
    } del[] = {
        { "DELETE FROM sip_links WHERE leg_id IN (SELECT l.id FROM legs l JOIN calls c ON "
          "c.id=l.call_ref WHERE c.capture_id=?1)", false },
        { "DELETE FROM sip_messages WHERE capture_id=?1", false },
        { "DELETE FROM rtp_intervals WHERE stream_id IN (SELECT id FROM rtp_streams WHERE "
          "capture_id=?1 OR call_ref IN (SELECT id FROM calls WHERE capture_id=?1))", false },
        { "DELETE FROM rtp_streams WHERE capture_id=?1 OR call_ref IN "
          "(SELECT id FROM calls WHERE capture_id=?1)", false },
        { "DELETE FROM rtcp_reports WHERE capture_id=?1 OR call_ref IN "
          "(SELECT id FROM calls WHERE capture_id=?1)", false },
        { "DELETE FROM legs WHERE call_ref IN (SELECT id FROM calls WHERE capture_id=?1)", false },
        { "DELETE FROM calls WHERE capture_id=?1", true },
        { "DELETE FROM registrations WHERE capture_id=?1", false },
        { "DELETE FROM keepalives WHERE capture_id=?1", false },
    };
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(w->h, del[i].sql, -1, &s, NULL) != SQLITE_OK)
            return false;
        sqlite3_bind_int64(s, 1, id);
        int rc = sqlite3_step(s);
        if (del[i].calls)
            w->replaced_pending += (uint64_t)sqlite3_changes(w->h);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return false;
    }
    return true;
}

static bool write_capture_begin(struct st_writer *w, struct rec *r)
{
    int64_t size = 0, mtime = 0;
    char hex[17] = "", real[PATH_MAX];
    /* the real path: g.pcap, ./g.pcap and a link to it are one capture
     * (and export finds it from any directory) */
    const char *path = realpath(r->u.cap.path, real) ? real : r->u.cap.path;
    bool ident = capture_ident(path, &size, &mtime, hex);
    int64_t id = 0;
    if (ident) {
        sqlite3_stmt *s = w->s[S_CAP_FIND];
        b_text(s, 1, path);
        b_i64(s, 2, size);
        b_i64(s, 3, mtime);
        b_text(s, 4, hex);
        if (sqlite3_step(s) == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (id) {
        if (!delete_capture_rows(w, id))
            return false;
        link_check_ids(w);
        /* freed ids may be handed out again: keep them above the floors */
        int64_t ml = q_i64(w, "SELECT coalesce(max(id),0) FROM legs WHERE ?1=?1", 0, 0);
        int64_t ms = q_i64(w, "SELECT coalesce(max(id),0) FROM rtp_streams WHERE ?1=?1", 0, 0);
        if (ml < w->leg_floor)
            w->leg_floor = ml;
        if (ms < w->stream_floor)
            w->stream_floor = ms;
        sqlite3_stmt *s = w->s[S_CAP_REOPEN];
        b_i64(s, 1, id);
        b_text(s, 2, w->sensor);
        b_i64(s, 3, (int64_t)wall_ns());
        if (!run(w, s))
            return false;
    } else {
        sqlite3_stmt *s = w->s[S_CAP_NEW];
        b_text(s, 1, path);
        if (ident) {
            b_i64(s, 2, size);
            b_i64(s, 3, mtime);
            b_text(s, 4, hex);
        }
        b_text(s, 5, w->sensor);
        b_i64(s, 6, (int64_t)wall_ns());
        if (!run(w, s))
            return false;
        id = sqlite3_last_insert_rowid(w->h);
    }
    r->u.cap.id = (uint64_t)id;
    if (!w->run_capture)
        w->run_capture = (uint64_t)id;
    return true;
}

static bool write_capture_end(struct st_writer *w, struct rec *r)
{
    sqlite3_stmt *s = w->s[S_CAP_END];
    b_i64(s, 1, (int64_t)r->u.capend.id);
    b_i64(s, 2, (int64_t)wall_ns());
    b_ts(s, 3, r->u.capend.first_ts);
    b_ts(s, 4, r->u.capend.last_ts);
    return run(w, s);
}

static void b_kpi_counts(sqlite3_stmt *s, int i, const struct calls_kpi *k)
{
    b_i64(s, i++, (int64_t)k->attempts);
    b_i64(s, i++, (int64_t)k->answered);
    b_i64(s, i++, (int64_t)k->busy);
    b_i64(s, i++, (int64_t)k->rejected);
    b_i64(s, i++, (int64_t)k->cancelled);
    b_i64(s, i++, (int64_t)k->failed);
    b_i64(s, i, (int64_t)k->timeouts);
}

static bool write_peer(struct st_writer *w, const struct ts_addr *a, const char *name,
                       const char *kind, uint64_t first, uint64_t last)
{
    sqlite3_stmt *s = w->s[S_PEER];
    b_addr(s, 1, a);
    b_text(s, 2, name);
    b_text(s, 3, kind);
    b_ts(s, 4, first);
    b_ts(s, 5, last);
    return run(w, s);
}

static bool exec_bind2(struct st_writer *w, const char *sql, int64_t a, int64_t b, int *changes);

static const char *const OPEN_STATE[] = { "up", "ringing", "trying" };

/* Registrations and keep-alives of this session are replaced by each
 * snapshot: their rows are the ones past the floors read at open. */
static bool write_regs(struct st_writer *w, const struct snap *sn)
{
    bool ok = exec_bind2(w, "DELETE FROM registrations WHERE id>?1 AND ?2=?2", w->reg_floor, 0,
                         NULL) &&
              exec_bind2(w, "DELETE FROM keepalives WHERE id>?1 AND ?2=?2", w->keep_floor, 0,
                         NULL);
    for (size_t i = 0; i < sn->nregs; i++) {
        const struct calls_reg *g = &sn->regs[i];
        double rt = calls_kpi_mean(g->rt_sum_ms, g->rt_n);
        sqlite3_stmt *s;
        int k = 1;
        if (g->method == SIP_M_REGISTER) {
            s = w->s[S_REG];
            if (w->run_capture)
                b_i64(s, k, (int64_t)w->run_capture);
            k++;
            b_addr(s, k++, &g->client);
            b_addr(s, k++, &g->server);
            b_text(s, k++, g->aor);
            b_i64(s, k++, (int64_t)g->attempts);
            b_i64(s, k++, (int64_t)g->successes);
            b_i64(s, k++, (int64_t)g->challenges);
        } else {
            s = w->s[S_KEEP];
            if (w->run_capture)
                b_i64(s, k, (int64_t)w->run_capture);
            k++;
            b_addr(s, k++, &g->client);
            b_addr(s, k++, &g->server);
            b_i64(s, k++, (int64_t)g->attempts);
            b_i64(s, k++, (int64_t)g->successes);
        }
        b_i64(s, k++, (int64_t)g->failures);
        b_i64(s, k++, (int64_t)g->timeouts);
        b_real(s, k++, rt);
        b_i64(s, k++, g->rt_max_ms);
        if (g->last_status)
            b_i64(s, k, g->last_status);
        k++;
        b_ts(s, k++, g->first_ns);
        b_ts(s, k++, g->last_ns);
        b_ts(s, k++, g->last_ok_ns);
        ok &= run(w, s);
        ok &= write_peer(w, &g->server, "", g->method == SIP_M_REGISTER ? "registrar" : "options",
                         g->first_ns, g->last_ns);
    }
    return ok;
}

/* live_legs rewritten whole, live_state's one row replaced. */
static bool write_open(struct st_writer *w, const struct snap *sn)
{
    bool ok = exec(w, "DELETE FROM live_legs");
    for (size_t i = 0; i < sn->nlegs; i++) {
        const struct snap_leg *l = &sn->legs[i];
        sqlite3_stmt *s = w->s[S_LIVE_LEG];
        b_i64(s, 1, (int64_t)l->key);
        b_text(s, 2, OPEN_STATE[l->state < 3 ? l->state : 2]);
        b_text(s, 3, l->call_id);
        b_text(s, 4, l->caller);
        b_text(s, 5, l->callee);
        b_ts(s, 6, l->invite_ns);
        b_ts(s, 7, l->ring_ns);
        b_ts(s, 8, l->answer_ns);
        b_addr(s, 9, &l->src);
        b_i64(s, 10, l->sport);
        b_addr(s, 11, &l->dst);
        b_i64(s, 12, l->dport);
        b_text(s, 13, l->transport);
        b_site(s, 14, l->site);
        ok &= run(w, s);
    }
    sqlite3_stmt *s = w->s[S_LIVE_STATE];
    b_i64(s, 1, (int64_t)wall_ns());
    b_ts(s, 2, sn->capture_ns);
    b_i64(s, 3, (int64_t)sn->open.calls_up);
    b_i64(s, 4, (int64_t)sn->open.legs_up);
    b_i64(s, 5, (int64_t)sn->open.legs_ringing);
    b_i64(s, 6, (int64_t)sn->open.legs_trying);
    b_i64(s, 7, sn->running);
    return ok & run(w, s);
}

/* The learned topology replaces the stored one (a few dozen rows). */
static bool write_topology(struct st_writer *w, const struct snap *sn)
{
    sqlite3_stmt *s = NULL;
    bool ok = exec(w, "DELETE FROM topology") &&
              sqlite3_prepare_v2(w->h,
                                 "INSERT INTO topology(id,role,side,learned_from,b2bua,calls,"
                                 "confidence,user_agent,addresses,site) VALUES(?,?,?,?,?,?,?,?,?,?)",
                                 -1, &s, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < sn->nnodes; i++) {
        const struct calls_topo_node *o = &sn->nodes[i];
        char addrs[CALLS_TOPO_NODE_ADDRS * 48] = "";
        size_t len = 0;
        for (unsigned k = 0; k < o->naddrs; k++) {
            char a[64];
            size_t l = addr_text(&o->addrs[k], a, sizeof a);
            if (l && len + l + 2 < sizeof addrs) {
                if (len)
                    addrs[len++] = ' ';
                memcpy(addrs + len, a, l);
                len += l;
                addrs[len] = '\0';
            }
        }
        b_i64(s, 1, o->id);
        b_text(s, 2, calls_role_name((enum calls_role)o->role));
        if (o->side)
            b_text(s, 3, calls_side_name((enum calls_side)o->side));
        b_text(s, 4, calls_topo_how_name(o->how));
        b_i64(s, 5, o->b2bua);
        b_i64(s, 6, o->calls);
        b_real(s, 7, (double)o->confidence);
        if (o->ua[0])
            b_text(s, 8, o->ua);
        b_text(s, 9, addrs);
        ok &= run(w, s);
    }
    sqlite3_finalize(s);
    return ok;
}

static bool write_snap(struct st_writer *w, const struct snap *sn)
{
    bool ok = write_topology(w, sn);
    uint64_t now = wall_ns();
    for (size_t i = 0; i < sn->ntrunks; i++) {
        const struct snap_trunk *t = &sn->trunks[i];
        sqlite3_stmt *s = w->s[S_TRUNK];
        b_text(s, 1, t->name);
        b_addr(s, 2, &t->local);
        b_addr(s, 3, &t->peer);
        b_i64(s, 4, t->itsp);
        b_kpi_counts(s, 5, &t->all);
        b_real(s, 12, calls_kpi_asr(&t->all));
        b_real(s, 13, calls_kpi_ner(&t->all));
        b_real(s, 14, calls_kpi_acd_s(&t->all));
        b_real(s, 15, calls_kpi_mean(t->all.srd_sum_ms, t->all.srd_n));
        if (t->p95 >= 0)
            b_i64(s, 16, t->p95);
        b_i64(s, 17, t->peak);
        b_ts(s, 18, t->peak_ns);
        b_i64(s, 19, (int64_t)now);
        b_site(s, 20, t->site);
        int64_t tid = 0;
        if (sqlite3_step(s) == SQLITE_ROW)
            tid = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (!tid) {
            ok = false;
            continue;
        }
        /* The tracker's buckets mix both directions: stored as 'all'. */
        for (size_t b = t->b0; b < t->b0 + t->nb; b++) {
            const struct calls_bucket *bk = &sn->buckets[b];
            const struct calls_kpi *k = &bk->k;
            s = w->s[S_KPI];
            b_i64(s, 1, tid);
            b_text(s, 2, "all");
            b_i64(s, 3, (int64_t)bk->start_ns);
            b_kpi_counts(s, 4, k);
            sqlite3_bind_double(s, 11, k->srd_sum_ms);
            b_i64(s, 12, (int64_t)k->srd_n);
            sqlite3_bind_double(s, 13, k->ans_sum_ms);
            b_i64(s, 14, (int64_t)k->ans_n);
            sqlite3_bind_double(s, 15, k->dur_sum_s);
            b_i64(s, 16, (int64_t)k->dur_n);
            b_i64(s, 17, bk->peak_concurrent);
            ok &= run(w, s);
        }
        ok &= write_peer(w, &t->peer, t->name, t->itsp ? "itsp" : "direct", 0, t->peak_ns);
    }
    ok &= write_regs(w, sn);
    ok &= write_open(w, sn);
    return ok;
}

/* ---- retention (writer thread, its own small transactions) ---- */

static int64_t q_i64(struct st_writer *w, const char *sql, int64_t a, int64_t dflt)
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

static bool exec_bind2(struct st_writer *w, const char *sql, int64_t a, int64_t b, int *changes)
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

/* Cut-off time below which data goes: by age relative to the newest call
 * (offline captures are old; wall clock would delete them at once), and by
 * size (the oldest batch of calls while the used pages exceed the cap).
 * 0 = nothing to delete. */
static int64_t retention_cutoff(struct st_writer *w)
{
    int64_t cut = 0;
    uint32_t n = w->opt.retention_batch;
    if (w->opt.retention_days) {
        int64_t newest = q_i64(w, "SELECT max(start) FROM calls WHERE ?1=?1", 0, 0);
        int64_t age = (int64_t)w->opt.retention_days * 86400 * (int64_t)NS_PER_S;
        if (newest > age)
            cut = newest - age;
    }
    if (w->opt.retention_mb) {
        int64_t pages = q_i64(w, "SELECT page_count FROM pragma_page_count WHERE ?1=?1", 0, 0);
        int64_t fl = q_i64(w, "SELECT freelist_count FROM pragma_freelist_count WHERE ?1=?1", 0, 0);
        int64_t psz = q_i64(w, "SELECT page_size FROM pragma_page_size WHERE ?1=?1", 0, 4096);
        if ((pages - fl) * psz > (int64_t)w->opt.retention_mb * 1024 * 1024) {
            int64_t c = q_i64(w, "SELECT start FROM calls ORDER BY start LIMIT 1 OFFSET ?1",
                              (int64_t)n - 1, -1);
            if (c < 0) /* fewer calls than a batch: take them all */
                c = q_i64(w, "SELECT max(start) FROM calls WHERE ?1=?1", 0, -1);
            if (c < 0) /* no calls at all: the oldest messages */
                c = q_i64(w, "SELECT ts FROM sip_messages ORDER BY ts LIMIT 1 OFFSET ?1",
                          (int64_t)n - 1, -1);
            if (c >= 0 && c + 1 > cut)
                cut = c + 1;
        }
    }
    return cut;
}

/* One deletion transaction of at most retention_batch calls (and their
 * legs, messages, streams) plus as many stray messages. Returns true when
 * more remains. */
static bool retention_step(struct st_writer *w)
{
    int64_t cut = retention_cutoff(w);
    int64_t n = w->opt.retention_batch;
    if (cut <= 0)
        return false;
    if (q_i64(w, "SELECT 1 FROM calls WHERE start < ?1 LIMIT 1", cut, 0) == 0 &&
        q_i64(w, "SELECT 1 FROM sip_messages WHERE ts < ?1 LIMIT 1", cut, 0) == 0)
        return false;
    int ncalls = 0, nmsgs = 0;
    bool ok = exec(w, "BEGIN IMMEDIATE") &&
              exec(w, "CREATE TEMP TABLE IF NOT EXISTS st_del(id INTEGER PRIMARY KEY);"
                      "DELETE FROM temp.st_del") &&
              exec_bind2(w, "INSERT INTO temp.st_del SELECT id FROM calls WHERE start < ?1 "
                            "ORDER BY start LIMIT ?2", cut, n, &ncalls) &&
              exec(w, "DELETE FROM sip_messages WHERE id IN (SELECT k.msg_id FROM legs l "
                      "JOIN temp.st_del d ON l.call_ref=d.id JOIN sip_links k ON k.leg_id=l.id);"
                      "DELETE FROM sip_links WHERE leg_id IN (SELECT l.id FROM legs l "
                      "JOIN temp.st_del d ON l.call_ref=d.id);"
                      "DELETE FROM rtp_intervals WHERE stream_id IN (SELECT id FROM "
                      "rtp_streams WHERE call_ref IN temp.st_del);"
                      "DELETE FROM rtp_streams WHERE call_ref IN temp.st_del;"
                      "DELETE FROM rtcp_reports WHERE call_ref IN temp.st_del;"
                      "DELETE FROM legs WHERE call_ref IN temp.st_del;"
                      "DELETE FROM calls WHERE id IN temp.st_del;") &&
              exec_bind2(w, "DELETE FROM sip_messages WHERE id IN (SELECT id FROM "
                            "sip_messages WHERE ts < ?1 ORDER BY ts LIMIT ?2)", cut, n, &nmsgs) &&
              exec_bind2(w, "DELETE FROM kpi_minute WHERE minute < ?1 AND ?2=?2", cut, 0, NULL) &&
              /* streams whose leg never came */
              exec_bind2(w, "DELETE FROM rtp_intervals WHERE stream_id IN (SELECT id FROM "
                            "rtp_streams WHERE leg_id IS NULL AND last_ts < ?1 ORDER BY id "
                            "LIMIT ?2)", cut, n, NULL) &&
              exec_bind2(w, "DELETE FROM rtp_streams WHERE id IN (SELECT id FROM rtp_streams "
                            "WHERE leg_id IS NULL AND last_ts < ?1 ORDER BY id LIMIT ?2)",
                         cut, n, NULL) &&
              exec(w, "COMMIT");
    char why[sizeof w->st.last_error] = "";
    if (!ok)
        note_reason(w, why, sizeof why);
    pthread_mutex_lock(&w->mu);
    if (ok) {
        w->st.retention_deleted += (uint64_t)ncalls;
    } else {
        w->st.errors++;
        memcpy(w->st.last_error, why, sizeof why);
    }
    pthread_mutex_unlock(&w->mu);
    if (!ok) {
        exec(w, "ROLLBACK");
        return false;
    }
    link_check_ids(w);
    return ncalls == n || nmsgs == n;
}

/* ---- the thread ---- */

static bool write_rec(struct st_writer *w, struct rec *r)
{
    switch (r->kind) {
    case REC_SIP:
        return write_sip(w, r);
    case REC_CALL:
        return write_call(w, r);
    case REC_STREAM:
        return write_stream(w, r);
    case REC_CAPTURE_BEGIN:
        return write_capture_begin(w, r);
    case REC_CAPTURE_END:
        return write_capture_end(w, r);
    case REC_SNAP:
        return write_snap(w, &r->u.snap);
    }
    return false;
}

/* Commit one list of records in one transaction. */
static void write_batch(struct st_writer *w, struct rec *list)
{
    uint64_t ok = 0, bad = 0, calls_ok = 0;
    char why[sizeof w->st.last_error] = "";
    w->replaced_pending = 0;
    bool txn = exec(w, "BEGIN IMMEDIATE");
    if (!txn)
        note_reason(w, why, sizeof why);
    for (struct rec *r = list; r; r = r->next) {
        bool done = txn && write_rec(w, r);
        if (txn && !done)
            note_reason(w, why, sizeof why);
        if (r->sync) /* control records are not counted as data */
            continue;
        if (done)
            ok++;
        else
            bad++;
        calls_ok += done && r->kind == REC_CALL;
    }
    bool committed = txn && exec(w, "COMMIT");
    if (txn && !committed) {
        note_reason(w, why, sizeof why);
        exec(w, "ROLLBACK");
    }
    if (!committed)
        link_check_ids(w);
    pthread_mutex_lock(&w->mu);
    w->st.link_evicted += w->link_evicted;
    w->link_evicted = 0;
    if (committed) {
        w->st.written += ok;
        w->st.calls_written += calls_ok;
        w->st.errors += bad;
        w->st.batches++;
        w->st.replaced += w->replaced_pending;
    } else {
        w->st.errors += ok + bad;
    }
    if (why[0])
        memcpy(w->st.last_error, why, sizeof why);
    for (struct rec *r = list, *next; r; r = next) {
        next = r->next;
        if (r->sync) {
            if (!committed && r->kind == REC_CAPTURE_BEGIN)
                r->u.cap.id = 0;
            r->done = true; /* the producer owns and frees it */
        } else {
            free(r);
        }
    }
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool has_sync(const struct st_writer *w)
{
    for (const struct rec *r = w->head; r; r = r->next)
        if (r->sync)
            return true;
    return false;
}

static void *writer_main(void *arg)
{
    struct st_writer *w = arg;
    bool retention = w->opt.retention_days || w->opt.retention_mb;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        /* Wait for a full batch, the flush interval, a waiting producer or close. */
        struct timespec dl;
        deadline_in(&dl, w->retention_more ? 0 : w->opt.flush_ms);
        while (!w->closing && w->qcount < w->opt.batch_records && !has_sync(w)) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT)
                break;
        }
        struct rec *list = w->head;
        w->head = w->tail = NULL;
        w->qcount = 0;
        w->qbytes = 0;
        bool closing = w->closing;
        pthread_mutex_unlock(&w->mu);

        if (list)
            write_batch(w, list);
        if (retention)
            w->retention_more = retention_step(w);
        log_losses(w, false);

        pthread_mutex_lock(&w->mu);
        if (closing && !w->head) {
            pthread_mutex_unlock(&w->mu);
            while (retention && retention_step(w))
                ;
            log_losses(w, true);
            return NULL;
        }
    }
}

/* ---- producer side ---- */

/* A record of size bytes whose first head bytes are cleared; NULL (the drop
 * counted like a full queue) when memory is short. */
static struct rec *rec_new(struct st_writer *w, enum rec_kind kind, size_t head, size_t size)
{
    struct rec *r = malloc(size);
    if (!r) {
        pthread_mutex_lock(&w->mu);
        w->st.dropped_full++;
        pthread_mutex_unlock(&w->mu);
        return NULL;
    }
    memset(r, 0, head);
    r->kind = (uint8_t)kind;
    r->bytes = size;
    return r;
}

/* Queue a record; false (record freed, counted) when full. */
static bool enqueue(struct st_writer *w, struct rec *r)
{
    pthread_mutex_lock(&w->mu);
    if (!r->sync && (w->qcount >= w->opt.queue_limit ||
                     w->qbytes + r->bytes > TS_STORE_QUEUE_BYTES)) {
        w->st.dropped_full++;
        pthread_mutex_unlock(&w->mu);
        free(r);
        return false;
    }
    r->next = NULL;
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->qcount++;
    w->qbytes += r->bytes;
    if (!r->sync)
        w->st.queued++;
    if (r->sync || w->qcount >= w->opt.batch_records)
        pthread_cond_signal(&w->cv);
    if (r->sync)
        while (!r->done)
            pthread_cond_wait(&w->done_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return true;
}

void st_sip_brief_of(const struct sip_msg *msg, struct st_sip_brief *out)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return;
    out->call_id = msg->call_id;
    if (msg->is_request)
        out->method = msg->method_str;
    else
        out->status = msg->status;
    out->cseq = msg->cseq;
    out->cseq_method = msg->cseq_method_str;
}

void st_writer_frame(struct st_writer *w, const struct ts_frame *f)
{
    if (!w)
        return;
    w->cur_frame_no = f->frame_no;
    w->cur_off = f->file_off;
    w->cur_file_frame = 0;
    if (f->file_idx < TS_MAX_INPUT_FILES) {
        uint32_t i = f->file_idx;
        w->cur_file_frame = ++w->file_frames[i];
        if (!w->first_ts[i] || f->ts_ns < w->first_ts[i])
            w->first_ts[i] = f->ts_ns;
        if (f->ts_ns > w->last_ts[i])
            w->last_ts[i] = f->ts_ns;
    }
}

static char *put(char **p, struct bv v) /* copy v into the record block */
{
    char *d = *p;
    if (v.len)
        memcpy(d, v.p, v.len);
    *p += v.len;
    return d;
}

void st_writer_sip(struct st_writer *w, const struct pkt_meta *m, struct bv raw,
                   const struct st_sip_brief *b)
{
    if (!w)
        return;
    struct st_sip_brief empty = { 0 };
    if (!b)
        b = &empty;
    if (raw.len > TS_SIP_MAX_MSG)
        raw.len = TS_SIP_MAX_MSG;
    struct bv cid = b->call_id, meth = b->method, cm = b->cseq_method;
    /* Bounded copies of what the brief names (the raw text has it all). */
    if (cid.len > 1024)
        cid.len = 1024;
    if (meth.len > 64)
        meth.len = 64;
    if (cm.len > 64)
        cm.len = 64;
    size_t extra = cid.len + meth.len + cm.len + raw.len;
    /* only the SIP member of the union: a message is the most common record */
    size_t head = offsetof(struct rec, u) + sizeof((struct rec *)0)->u.sip;
    head = (head + 7) & ~(size_t)7;
    struct rec *r = rec_new(w, REC_SIP, head, head + extra);
    if (!r)
        return;
    char *p = (char *)r + head;
    r->u.sip.call_id = cid.len ? put(&p, cid) : NULL;
    r->u.sip.call_id_len = (uint32_t)cid.len;
    r->u.sip.method = meth.len ? put(&p, meth) : NULL;
    r->u.sip.method_len = (uint32_t)meth.len;
    r->u.sip.cseq_method = cm.len ? put(&p, cm) : NULL;
    r->u.sip.cseq_method_len = (uint32_t)cm.len;
    r->u.sip.raw = (uint8_t *)put(&p, raw);
    r->u.sip.raw_len = (uint32_t)raw.len;
    r->u.sip.ts = m->ts_ns;
    r->u.sip.src = m->src;
    r->u.sip.dst = m->dst;
    r->u.sip.sport = m->sport;
    r->u.sip.dport = m->dport;
    r->u.sip.l4 = m->l4;
    r->u.sip.status = b->status;
    r->u.sip.cseq = b->cseq;
    if (m->file_idx < w->ncaps)
        r->u.sip.capture_id = w->cap_ids[m->file_idx];
    if (m->frame_no && m->frame_no == w->cur_frame_no) {
        r->u.sip.frame = w->cur_file_frame;
        r->u.sip.off = w->cur_off;
    }
    enqueue(w, r);
}

void st_writer_call(struct st_writer *w, const struct calls_call *c)
{
    if (!w || !c)
        return;
    size_t n = c->nlegs;
    size_t sz = sizeof(struct rec) + n * sizeof(struct calls_leg);
    struct rec *r = rec_new(w, REC_CALL, sizeof *r, sz);
    if (!r)
        return;
    r->u.call = *c;
    r->u.call.legs = (struct calls_leg *)(r + 1);
    if (n)
        memcpy(r->u.call.legs, c->legs, n * sizeof(struct calls_leg));
    enqueue(w, r);
}

void st_sip_hook(void *ctx, const struct pkt_meta *m, struct bv raw, const struct sip_msg *msg)
{
    struct st_sip_brief b;
    st_sip_brief_of(msg, &b);
    st_writer_sip(ctx, m, raw, &b);
}

void st_calls_sink(void *ctx, const struct calls_call *c) { st_writer_call(ctx, c); }

void st_writer_stream(struct st_writer *w, const struct media_stream *s)
{
    if (!w || !s)
        return;
    size_t n = s->series ? s->nseries : 0;
    if (n > TS_MEDIA_MAX_SERIES)
        n = TS_MEDIA_MAX_SERIES;
    size_t sz = sizeof(struct rec) + n * sizeof(struct media_series);
    struct rec *r = rec_new(w, REC_STREAM, sizeof *r, sz);
    if (!r)
        return;
    r->u.stream = *s;
    r->u.stream.nseries = (uint32_t)n;
    r->u.stream.series = n ? (struct media_series *)(r + 1) : NULL;
    if (n)
        memcpy(r->u.stream.series, s->series, n * sizeof(struct media_series));
    enqueue(w, r);
}

void st_media_sink(void *ctx, const struct media_stream *s) { st_writer_stream(ctx, s); }

uint64_t st_capture_begin(struct st_writer *w, const char *path)
{
    if (!w || !path)
        return 0;
    struct rec r = { .kind = REC_CAPTURE_BEGIN, .sync = true };
    r.u.cap.path = path;
    enqueue(w, &r);
    if (w->ncaps < TS_MAX_INPUT_FILES)
        w->cap_ids[w->ncaps++] = r.u.cap.id;
    return r.u.cap.id;
}

void st_capture_end(struct st_writer *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->ncaps; i++) {
        if (!w->cap_ids[i])
            continue;
        struct rec r = { .kind = REC_CAPTURE_END, .sync = true };
        r.u.capend.id = w->cap_ids[i];
        r.u.capend.first_ts = w->first_ts[i];
        r.u.capend.last_ts = w->last_ts[i];
        enqueue(w, &r);
    }
}

/* Buckets of t from since_ns on (ascending: counted from the end). */
static size_t buckets_since(const struct calls_trunk *t, uint64_t since_ns)
{
    size_t n = 0;
    while (n < t->nbuckets && t->buckets[t->nbuckets - 1 - n].start_ns >= since_ns)
        n++;
    return n;
}

struct open_fill {
    struct snap_leg *legs;
    size_t n, cap;
};

static void open_leg(void *ctx, const struct calls_leg *l, enum calls_open_state st,
                     uint64_t key)
{
    struct open_fill *f = ctx;
    if (f->n >= f->cap)
        return;
    struct snap_leg *o = &f->legs[f->n++];
    memset(o, 0, sizeof *o);
    o->key = key;
    o->state = (uint8_t)st;
    memcpy(o->call_id, l->call_id, sizeof o->call_id);
    memcpy(o->caller, l->pai[0] ? l->pai : l->from, sizeof o->caller);
    memcpy(o->callee, l->ruri[0] ? l->ruri : l->to, sizeof o->callee);
    o->invite_ns = l->invite_ns;
    o->ring_ns = l->ring_ns;
    o->answer_ns = l->answer_ns;
    o->src = l->src;
    o->dst = l->dst;
    o->sport = l->sport;
    o->dport = l->dport;
    memcpy(o->transport, l->transport, sizeof o->transport);
    memcpy(o->site, l->site, sizeof o->site);
}

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* A snapshot record of c (buckets from since_ns, legs in progress when
 * running); NULL when memory is short (counted). */
static struct rec *snap_new(struct st_writer *w, const struct calls *c, uint64_t since_ns,
                            uint64_t now_ns, bool running)
{
    size_t nt = calls_trunk_count(c), nb = 0, nr = calls_reg_count(c);
    for (size_t i = 0; i < nt; i++)
        nb += buckets_since(calls_trunk_get(c, i), since_ns);
    struct calls_open_counts oc;
    memset(&oc, 0, sizeof oc);
    if (running)
        calls_open_legs(c, NULL, NULL, &oc);
    uint64_t open = oc.legs_up + oc.legs_ringing + oc.legs_trying;
    size_t nl = open < TS_STORE_LIVE_LEGS ? (size_t)open : TS_STORE_LIVE_LEGS;
    struct calls_topo_node *nodes = calloc(TS_TOPO_MAX_ADDRS, sizeof *nodes);
    size_t nn = nodes ? calls_topo_nodes(c, nodes, TS_TOPO_MAX_ADDRS) : 0;
    size_t head = ALIGN8(sizeof(struct rec));
    size_t o_t = head, o_b = ALIGN8(o_t + nt * sizeof(struct snap_trunk)),
           o_r = ALIGN8(o_b + nb * sizeof(struct calls_bucket)),
           o_l = ALIGN8(o_r + nr * sizeof(struct calls_reg)),
           o_n = ALIGN8(o_l + nl * sizeof(struct snap_leg)),
           end = o_n + nn * sizeof(struct calls_topo_node);
    struct rec *r = rec_new(w, REC_SNAP, sizeof *r, end);
    if (!r) {
        free(nodes);
        return NULL;
    }
    struct snap *sn = &r->u.snap;
    sn->trunks = (struct snap_trunk *)((char *)r + o_t);
    sn->buckets = (struct calls_bucket *)((char *)r + o_b);
    sn->regs = (struct calls_reg *)((char *)r + o_r);
    sn->legs = (struct snap_leg *)((char *)r + o_l);
    sn->nodes = (struct calls_topo_node *)((char *)r + o_n);
    if (nn)
        memcpy(sn->nodes, nodes, nn * sizeof *nodes);
    sn->nnodes = nn;
    free(nodes);
    sn->running = running;
    sn->open = oc;
    sn->capture_ns = now_ns;
    for (size_t i = 0; i < nt; i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        struct snap_trunk *o = &sn->trunks[sn->ntrunks++];
        memset(o, 0, sizeof *o);
        memcpy(o->name, t->name, sizeof o->name);
        o->local = t->local;
        o->peer = t->peer;
        o->itsp = t->itsp;
        memcpy(o->site, t->site, sizeof o->site);
        o->all = t->all;
        o->p95 = calls_hist_p95(&t->srd_hist);
        o->peak = t->peak_concurrent;
        o->peak_ns = t->peak_ns;
        size_t k = buckets_since(t, since_ns);
        o->b0 = sn->nbuckets;
        o->nb = k;
        if (k)
            memcpy(&sn->buckets[sn->nbuckets], &t->buckets[t->nbuckets - k],
                   k * sizeof t->buckets[0]);
        sn->nbuckets += k;
    }
    for (size_t i = 0; i < nr; i++)
        sn->regs[sn->nregs++] = *calls_reg_get(c, i);
    if (nl) {
        struct open_fill f = { sn->legs, 0, nl };
        struct calls_open_counts again;
        calls_open_legs(c, open_leg, &f, &again);
        sn->nlegs = f.n;
    }
    return r;
}

void st_writer_trunks(struct st_writer *w, const struct calls *c)
{
    if (!w || !c)
        return;
    struct rec *r = snap_new(w, c, 0, 0, false);
    if (!r)
        return;
    r->sync = true;
    enqueue(w, r);
    free(r); /* a sync record stays the producer's */
}

bool st_writer_live(struct st_writer *w, const struct calls *c, uint64_t since_ns,
                    uint64_t now_ns)
{
    if (!w || !c)
        return false;
    struct rec *r = snap_new(w, c, since_ns, now_ns, true);
    return r && enqueue(w, r);
}

void st_writer_stats(struct st_writer *w, struct st_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}

void st_stats_print(FILE *f, const struct st_stats *s)
{
    fprintf(f,
            "store: %llu queued, %llu written, %llu dropped (queue full), %llu batches, "
            "%llu errors, %llu calls expired, %llu calls replaced\n",
            (unsigned long long)s->queued, (unsigned long long)s->written,
            (unsigned long long)s->dropped_full, (unsigned long long)s->batches,
            (unsigned long long)s->errors, (unsigned long long)s->retention_deleted,
            (unsigned long long)s->replaced);
    if (s->errors)
        fprintf(f, "store: last error: %s\n", s->last_error);
}

/* ---- open / close ---- */

static void writer_destroy(struct st_writer *w)
{
    link_free_all(w);
    for (int i = 0; i < S_N; i++)
        sqlite3_finalize(w->s[i]);
    sqlite3_close(w->h);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->done_cv);
    free(w);
}

struct st_writer *st_writer_open(const char *path, const struct st_options *opt, char *err,
                                 size_t errlen)
{
    struct st_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    /* the flush deadline runs on the monotonic clock: a step of the wall
     * clock neither stalls the writer nor makes it spin */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->done_cv, NULL);
    if (opt)
        w->opt = *opt;
    if (!w->opt.queue_limit || w->opt.queue_limit > TS_STORE_QUEUE_MAX)
        w->opt.queue_limit = TS_STORE_QUEUE_MAX;
    if (!w->opt.batch_records)
        w->opt.batch_records = DEF_BATCH;
    if (!w->opt.flush_ms)
        w->opt.flush_ms = DEF_FLUSH_MS;
    if (!w->opt.retention_batch)
        w->opt.retention_batch = DEF_RET_BATCH;
    snprintf(w->sensor, sizeof w->sensor, "%s", w->opt.sensor ? w->opt.sensor : "");
    w->opt.sensor = NULL;

    if (htab_init(&w->links, TS_STORE_LINK_DIALOGS) != 0) {
        snprintf(err, errlen, "out of memory");
        writer_destroy(w);
        return NULL;
    }
    if (st_open_handle(path, false, &w->h, err, errlen) != ST_OK) {
        writer_destroy(w);
        return NULL;
    }
    /* A private page cache large enough for the hot index pages; temporary
     * b-trees (retention's id lists) in memory. */
    char pragma[96];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
             WRITER_CACHE_KIB);
    exec(w, pragma);
    w->leg_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM legs WHERE ?1=?1", 0, 0);
    w->stream_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM rtp_streams WHERE ?1=?1", 0, 0);
    w->reg_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM registrations WHERE ?1=?1", 0, 0);
    w->keep_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM keepalives WHERE ?1=?1", 0, 0);
    for (int i = 0; i < S_N; i++) {
        if (sqlite3_prepare_v3(w->h, STMT_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &w->s[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: cannot prepare statement %d: %s", path, i,
                     sqlite3_errmsg(w->h));
            writer_destroy(w);
            return NULL;
        }
    }
    if (pthread_create(&w->thr, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the store writer thread");
        writer_destroy(w);
        return NULL;
    }
    w->thr_started = true;
    return w;
}

void st_writer_close_stats(struct st_writer *w, struct st_stats *out)
{
    if (!w)
        return;
    if (w->thr_started) {
        pthread_mutex_lock(&w->mu);
        w->closing = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thr, NULL);
    }
    if (out)
        *out = w->st;
    writer_destroy(w);
}

void st_writer_close(struct st_writer *w) { st_writer_close_stats(w, NULL); }
