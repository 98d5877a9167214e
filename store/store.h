/* SQLite store: versioned schema with forward migrations, one writer thread
 * fed by a bounded queue of owned records (analysis never waits on disk),
 * retention, idempotent re-analysis and per-call pcap export. */
#ifndef TS_STORE_H
#define TS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../capture/packet.h"
#include "../common/bv.h"

struct calls;
struct calls_call;
struct media_stream;
struct sip_msg;

enum st_err {
    ST_OK = 0,
    ST_ERR_OPEN,       /* cannot open or create the database */
    ST_ERR_NEWER,      /* schema newer than this build understands */
    ST_ERR_SQL,        /* SQLite reported an error */
    ST_ERR_NOMEM,
    ST_ERR_IO,         /* capture or output file */
    ST_ERR_NOT_FOUND,  /* no such call */
    ST_ERR_CHANGED,    /* capture file differs from the analysed one */
    ST_ERR_GONE,       /* a live call whose packets are not (or no longer) in the spool */
};

/* Schema version written into PRAGMA user_version. */
#define ST_SCHEMA_VERSION 29

struct st_options {
    uint32_t queue_limit;     /* records queued at most; 0 = TS_STORE_QUEUE_MAX */
    uint32_t batch_records;   /* commit after this many records; 0 = 2000 */
    uint32_t flush_ms;        /* and at least this often; 0 = 1000 */
    uint32_t retention_days;  /* keep calls this many days before the newest; 0 = all */
    uint32_t retention_mb;    /* keep the used database size below this; 0 = no cap */
    uint32_t retention_batch; /* rows deleted per transaction; 0 = 500 */
    const char *sensor;       /* sensor/site name stored with captures; NULL = "" */
    bool log_losses;          /* log records not written (first at once, then at most once
                               * a minute, the rest at close); off: the caller reports them */
    bool wait_when_full;      /* a full queue makes the producer wait instead of dropping:
                               * for files, which lose nothing by waiting */
};

struct st_stats {
    uint64_t queued;          /* records accepted into the queue */
    uint64_t written;         /* records committed */
    uint64_t calls_written;   /* of which calls (one record per call) */
    uint64_t dropped_full;    /* records refused because the queue was full */
    uint64_t batches;         /* transactions committed */
    uint64_t errors;          /* records or batches SQLite refused */
    uint64_t retention_deleted; /* calls deleted by retention */
    uint64_t replaced;        /* calls deleted because a capture was re-analysed */
    uint64_t link_evicted;    /* dialogs forgotten before their call came (LRU at
                               * TS_STORE_LINK_DIALOGS): their messages stay unlinked */
    char last_error[128];     /* SQLite's reason for the last refused write; "" if none */
    uint64_t sqlite_mem;      /* bytes SQLite holds now in this process (page caches of
                               * the writer and every reader, statements), so that a
                               * process's memory tells the cache from the rest */
};

/* The few fields of a SIP message the store indexes; views valid during the
 * call only (the writer copies them). */
struct st_sip_brief {
    struct bv call_id;
    struct bv method;         /* request method token; empty for responses */
    uint16_t status;          /* responses: 100..699; 0 for requests */
    uint32_t cseq;
    struct bv cseq_method;
};

/* Brief of a parsed message (msg NULL: all empty, for unparsable messages). */
void st_sip_brief_of(const struct sip_msg *msg, struct st_sip_brief *out);

/* ---- the writer ---- */

struct st_writer;

/* Open (create, or migrate forward) the database at path (":memory:" ok) and
 * start the writer thread. opt may be NULL (defaults). NULL on error with a
 * one-line reason in err, e.g. a schema newer than ST_SCHEMA_VERSION. */
struct st_writer *st_writer_open(const char *path, const struct st_options *opt, char *err,
                                 size_t errlen);
/* Drain the queue, commit, run pending retention, stop the thread, close.
 * NULL is fine. */
void st_writer_close(struct st_writer *w);
/* st_writer_close, then the final counters into out (NULL: none). */
void st_writer_close_stats(struct st_writer *w, struct st_stats *out);

/* Register an input file; call right after each successful pcapin_add, in
 * the same order (file_idx k of the frames is the k-th capture begun). A
 * capture already stored with the same (path, size, mtime, hash of the first
 * 64 KiB) is re-analysed: its calls, legs, messages and streams are deleted
 * in the same transaction that re-opens it, so nothing is duplicated.
 * Blocks until the writer has done it. Returns the capture id, 0 on error. */
uint64_t st_capture_begin(struct st_writer *w, const char *path);
/* End of input: stamps every capture of this session as finished. Queued:
 * a later st_writer_trunks, st_writer_wait or close waits for it. */
void st_capture_end(struct st_writer *w);

/* Each frame, before it is decoded: remembers its per-file frame number and
 * file offset so that SIP messages can be found again for export. */
void st_writer_frame(struct st_writer *w, const struct ts_frame *f);
/* One SIP message (every one the engine sees, malformed ones with an empty
 * brief). Copied; dropped and counted when the queue is full. */
void st_writer_sip(struct st_writer *w, const struct pkt_meta *m, struct bv raw,
                   const struct st_sip_brief *b);
/* engine_sip_fn adapter (ctx is the st_writer): brief of msg, or an empty
 * one when msg is NULL (unparsable), then st_writer_sip. */
void st_sip_hook(void *ctx, const struct pkt_meta *m, struct bv raw, const struct sip_msg *msg);
/* One finished call with its legs (deep-copied). */
void st_writer_call(struct st_writer *w, const struct calls_call *c);
/* calls_sink_fn adapter: ctx is the st_writer. */
void st_calls_sink(void *ctx, const struct calls_call *c);
/* One finished RTP stream with its 5-second series (deep-copied). It joins
 * the leg of this session with the same leg_ref, now or when that leg is
 * written; the leg's and the call's MOS become the worst of their streams. */
void st_writer_stream(struct st_writer *w, const struct media_stream *s);
/* media_sink_fn adapter: ctx is the st_writer. */
void st_media_sink(void *ctx, const struct media_stream *s);
/* A TLS connection whose handshake ended (engine_set_tls_sink): its row in
 * tls_conns and its peer pair's in tls_peers. Copied. */
struct tlspeer_conn;
void st_writer_tls(struct st_writer *w, const struct tlspeer_conn *c);
void st_tls_sink(void *ctx, const struct tlspeer_conn *c);
/* A forgotten other flow (engine_set_oflow_sink): added to other_flows. */
struct oflow_done;
void st_writer_oflow(struct st_writer *w, const struct oflow_done *f);
void st_oflow_sink(void *ctx, const struct oflow_done *f);
/* End of analysis: trunks, KPI buckets, peers, registrations and
 * keepalives, as st_writer_live with every bucket; the live tables are
 * emptied. Blocks until written. */
void st_writer_trunks(struct st_writer *w, const struct calls *c);
/* The same snapshot, copied now but queued without waiting, so that the
 * caller can print its report while the writer ends; st_writer_wait (or
 * close) waits for it. */
void st_writer_trunks_queue(struct st_writer *w, const struct calls *c);
/* Blocks until every record queued so far is committed (or failed). */
void st_writer_wait(struct st_writer *w);
/* A running sensor's state, copied now on the caller's thread and written
 * by the writer in one transaction: every trunk with its KPI buckets that
 * start at or after since_ns (older ones are already stored and did not
 * change), registrations and keep-alives (this session's rows replaced),
 * and the legs in progress (live_legs, live_state; now_ns is the capture
 * time it stands for). Never waits; false when
 * the queue refused it (counted as dropped): the next one should start at
 * the same since_ns. */
bool st_writer_live(struct st_writer *w, const struct calls *c, uint64_t since_ns,
                    uint64_t now_ns);
/* Queue a mark behind every record queued so far: the writer thread calls
 * fn(ctx) once those records are committed (or failed), outside any
 * transaction and before a later st_writer_trunks returns. Never waits,
 * never dropped, not counted as data; false only when memory is short. */
typedef void (*st_after_fn)(void *ctx);
bool st_writer_after(struct st_writer *w, st_after_fn fn, void *ctx);
/* End of the input (on): the records that follow (the calls and streams
 * that end with the input) wait on the producer's side, in their order,
 * and go to the queue together when it is turned off (or a bound of
 * TS_STORE_HELD_* is reached, or a waiting record comes), so that they are
 * written in one transaction: a call's streams come after the call, which
 * was written in an earlier transaction, and each made an UPDATE of the
 * leg's and the call's MOS; in the same transaction the leg and the call
 * take it at insert. For a producer with wait_when_full. */
void st_writer_hold(struct st_writer *w, bool on);
/* Counters so far (thread-safe). */
void st_writer_stats(struct st_writer *w, struct st_stats *out);
/* "store: 12 queued, 12 written, 0 dropped (queue full), 1 batches, 0 errors" */
void st_stats_print(FILE *f, const struct st_stats *s);

/* The live capture spool is store/spool.h: its files are indexed in
 * spool_files and spool_blocks; st_export_frames reads a live call from it. */

/* ---- reading ---- */

struct st_db;

/* Open for reading/maintenance (migrates forward like the writer unless
 * readonly). NULL on error with a reason in err. */
struct st_db *st_db_open(const char *path, bool readonly, char *err, size_t errlen);
void st_db_close(struct st_db *db);
/* For read-only users (serve): a database of an older schema (1 to
 * ST_SCHEMA_VERSION - 1) is upgraded with one read-write open; a current,
 * newer, empty or unreadable one is left to the next open to judge. ST_OK,
 * or an error with a one-line reason in err. */
int st_db_upgrade(const char *path, char *err, size_t errlen);
/* Open without pragmas or migration (tests, tools inspecting old files). */
struct st_db *st_db_open_raw(const char *path, char *err, size_t errlen);
/* SQL that creates (version 1) or upgrades to (version > 1) schema version
 * version from the one before; NULL when unknown. */
const char *st_schema_step(int version);
/* Run SQL statements (no results). ST_OK or ST_ERR_SQL with err filled. */
int st_db_exec(struct st_db *db, const char *sql, char *err, size_t errlen);
/* First column of the first row as an integer; dflt if no row or error. */
int64_t st_db_scalar(struct st_db *db, const char *sql, int64_t dflt);
/* First column of the first row as text into buf ("" if none); ST_OK or error. */
int st_db_text(struct st_db *db, const char *sql, char *buf, size_t cap);
/* The query plan of one statement (EXPLAIN QUERY PLAN's detail column, one
 * line per step joined by "; ") into buf; ST_OK or ST_ERR_SQL. */
int st_db_plan(struct st_db *db, const char *sql, char *buf, size_t cap);

/* ---- export ---- */

struct st_export_stats {
    uint64_t sip_frames;      /* frames holding SIP messages of the call */
    uint64_t media_frames;    /* RTP/RTCP frames of the call's media */
    uint64_t skipped_linktype; /* frames of another link type than the first */
    uint32_t legs;
    bool spool;               /* read from the spool (a live call), not capture files */
    uint64_t spool_blocks;    /* spool blocks read */
    uint64_t spool_torn;      /* of which torn or unreadable (skipped) */
};

/* Write every frame with a SIP message of any leg of call_id and the frames
 * of its RTP/RTCP (SDP endpoints, within the call's time range) to out_path,
 * in time order (st_export_frames). */
int st_export_call(const char *db_path, int64_t call_id, const char *out_path,
                   struct st_export_stats *st, char *err, size_t errlen);

/* The frames st_export_call writes, handed to fn in time order instead
 * (sip: the frame holds a SIP message of the call; else RTP/RTCP of its
 * SDP endpoints). info (may be NULL) gets the media time range used. An
 * analysed capture's call is read again from the original files, a live
 * sensor's call from its spool (ST_ERR_GONE with the reason in err when
 * the spool holds none of it: no spool, or aged out). The one way to get a
 * call's packets: the pcap and the audio export both read through it. */
struct ts_frame;
typedef void (*st_frame_fn)(void *ctx, const struct ts_frame *f, bool sip);
struct st_export_info {
    uint64_t lo_ns, hi_ns;
};
/* Audio of one leg of a call as a 16-bit stereo WAV written to out (a
 * stream: the header first, with the length known from the call's end).
 * Channel 1 the caller's voice, channel 2 the callee's; sample 0 is the
 * call's start. leg: the leg's idx, or -1 for the first leg with streams.
 * SRTP streams are opened with the SDES keys of the leg's SDP; unprotect
 * (may be NULL) replaces that: it turns an SRTP packet into RTP, returning
 * the clear packet's length in clear (cap bytes), 0 when it cannot. */
struct st_audio_opts {
    size_t (*unprotect)(void *ctx, struct bv srtp, uint8_t *clear, size_t cap);
    void *unprotect_ctx;
};
struct st_audio_result {
    int leg;                  /* idx of the leg written, -1 none */
    uint32_t rate;            /* samples per second */
    uint64_t frames;          /* samples per channel */
    bool cut;                 /* longer than TS_AUDIO_MAX_SECONDS */
    uint32_t streams, streams_skipped, tracks;
    uint64_t packets, decoded, late, lost, bad;
    uint64_t srtp_skipped;    /* SRTP packets of streams with no key in the SDP */
    uint64_t srtp_opened;     /* SRTP packets a key authenticated and decrypted */
    uint64_t srtp_failed;     /* SRTP packets no key authenticated: silence */
    uint64_t srtp_replayed;   /* copies of SRTP packets already opened */
    uint64_t tones;           /* RFC 4733 DTMF events rendered as tones */
    int codec[2];             /* enum audio_codec per party, 0 none */
};
int st_export_audio(const char *db_path, int64_t call_id, int leg, FILE *out,
                    const struct st_audio_opts *o, struct st_audio_result *res, char *err,
                    size_t errlen);

int st_export_frames(const char *db_path, int64_t call_id, st_frame_fn fn, void *ctx,
                     struct st_export_info *info, struct st_export_stats *st, char *err,
                     size_t errlen);
/* The UDP datagrams of the call's media in those frames (SDP endpoints,
 * within the media time range), handed to fn in time order as the one
 * decode that picked them saw them: what the audio export reads. */
typedef void (*st_media_fn)(void *ctx, const struct pkt_meta *m, struct bv payload);
int st_export_media(const char *db_path, int64_t call_id, st_media_fn fn, void *ctx, char *err,
                    size_t errlen);

#endif
