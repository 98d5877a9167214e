/* What the two long-running commands (capture, collect) share: the options
 * for store, API token, config, stats file, log, retention and duration; the
 * signal mask; the stats file written whole and renamed. */
#ifndef TS_CLI_SENSOR_H
#define TS_CLI_SENSOR_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

/* Retention bounds: a century, and 16 TB (the writer computes bytes in 64 bits). */
#define SENSOR_RETENTION_DAYS_MAX 36500
#define SENSOR_RETENTION_MB_MAX 16777216

/* A status line in the log once a minute (--status-interval changes it). */
#define SENSOR_STATUS_S_DEFAULT 60
#define SENSOR_STATUS_S_MAX 86400

struct sensor_opts {
    const char *db, *token_file, *config, *stats_file, *log_file;
    uint64_t duration_s;                   /* 0: until a signal */
    uint32_t status_s;                     /* status line period, 0: the default */
    uint32_t retention_days, retention_mb; /* 0: keep everything */
    /* the capture spool (store/spool.h); spool_dir NULL: none */
    const char *spool_dir;
    uint32_t spool_rotate_s, spool_rtp_first_s;
    uint64_t spool_file_mb, spool_max_mb, spool_max_age_s;
    int64_t spool_min_free_mb;             /* -1: the default */
    int spool_rtp;                         /* enum spool_rtp */
};

/* The shared options (all take a value): their getopt_long entries, for the
 * table of each command, and the vals those return. */
enum {
    SENSOR_O_DB = 512,
    SENSOR_O_TOKEN_FILE,
    SENSOR_O_CONFIG,
    SENSOR_O_STATS_FILE,
    SENSOR_O_LOG,
    SENSOR_O_DURATION,
    SENSOR_O_RETENTION_DAYS,
    SENSOR_O_RETENTION_MB,
    SENSOR_O_STATUS_INTERVAL,
    SENSOR_O_SPOOL,
    SENSOR_O_SPOOL_ROTATE,
    SENSOR_O_SPOOL_FILE_MB,
    SENSOR_O_SPOOL_MAX_MB,
    SENSOR_O_SPOOL_MAX_AGE,
    SENSOR_O_SPOOL_MIN_FREE_MB,
    SENSOR_O_SPOOL_RTP,
};
#define SENSOR_OPTIONS                                                    \
    { "db", required_argument, NULL, SENSOR_O_DB },                       \
    { "token-file", required_argument, NULL, SENSOR_O_TOKEN_FILE },       \
    { "config", required_argument, NULL, SENSOR_O_CONFIG },               \
    { "stats-file", required_argument, NULL, SENSOR_O_STATS_FILE },       \
    { "log", required_argument, NULL, SENSOR_O_LOG },                     \
    { "duration", required_argument, NULL, SENSOR_O_DURATION },           \
    { "retention-days", required_argument, NULL, SENSOR_O_RETENTION_DAYS }, \
    { "retention-mb", required_argument, NULL, SENSOR_O_RETENTION_MB },   \
    { "status-interval", required_argument, NULL, SENSOR_O_STATUS_INTERVAL }, \
    { "spool", required_argument, NULL, SENSOR_O_SPOOL },                 \
    { "spool-rotate", required_argument, NULL, SENSOR_O_SPOOL_ROTATE },   \
    { "spool-file-mb", required_argument, NULL, SENSOR_O_SPOOL_FILE_MB }, \
    { "spool-max-mb", required_argument, NULL, SENSOR_O_SPOOL_MAX_MB },   \
    { "spool-max-age", required_argument, NULL, SENSOR_O_SPOOL_MAX_AGE }, \
    { "spool-min-free-mb", required_argument, NULL, SENSOR_O_SPOOL_MIN_FREE_MB }, \
    { "spool-rtp", required_argument, NULL, SENSOR_O_SPOOL_RTP }
/* The spool options' lines for --help. */
#define SENSOR_SPOOL_USAGE                                                                   \
    "  --spool DIR            keep what is captured in rotating zstd pcap files in DIR\n"   \
    "                         (needs --db: the index), for export --call and /pcap\n"       \
    "  --spool-rotate S       a new file every S seconds of capture time (default 60)\n"   \
    "  --spool-file-mb N      or when a file reaches N MB compressed (default 64)\n"       \
    "  --spool-max-mb N       size cap of the spool, oldest files deleted first\n"         \
    "  --spool-max-age S      delete spool files older than S seconds (default: the\n"     \
    "                         --retention-days, else none)\n"                             \
    "  --spool-min-free-mb N  keep N MB free on the spool's file system (default 10 %%,\n" \
    "                         at most 1024)\n"                                             \
    "  --spool-rtp POLICY     all (default), none, headers, first:SECONDS\n"
/* True when opt (an option's val) is one of the shared options. */
bool sensor_opt_known(int opt);
/* Apply shared option opt (its val) with value v: 0, or 2 after a one-line
 * error. */
int sensor_opt(struct sensor_opts *o, const char *prog, int opt, const char *v);
/* Options that need --db (http: the --http value or NULL): -1 fine, else 2
 * after a one-line error. */
int sensor_opts_check(const struct sensor_opts *o, const char *prog, const char *http);

struct calls_config;
struct st_writer;
/* cfg gets the defaults, then --config when given: 0, or 2 after a one-line
 * error. */
int sensor_load_config(const struct sensor_opts *o, const char *prog, struct calls_config *cfg);
/* The store writer on --db with the retention options: NULL after a one-line
 * error. */
struct st_writer *sensor_open_store(const struct sensor_opts *o, const char *prog);
/* SIGHUP: the log reopened, then path (when given) read into a new
 * configuration; NULL (logged) when it fails or path is NULL, so that the old
 * one stays. The caller frees the result. */
struct calls_config *sensor_reload_config(const char *path);

struct spool;
/* The spool on --spool (NULL without it, or after a one-line error: *failed). */
struct spool *sensor_open_spool(const struct sensor_opts *o, const char *prog, const char *site,
                                bool *failed);
/* engine_frame_fn: ctx is the struct spool. */
struct ts_frame;
struct engine_frame_info;
void sensor_spool_frame(void *ctx, const struct ts_frame *f, const struct engine_frame_info *fi);
/* The spool's figures as a JSON member ', "spool": {...}' (nothing when NULL),
 * and as a clause of the stop line into buf. */
struct spool_stats;
void sensor_spool_json(FILE *f, const struct spool_stats *s);
void sensor_spool_line(char *buf, size_t cap, const struct spool_stats *s);
struct api_live_stats;
/* The spool's counters into the API's live figures (sp NULL: no spool). */
void sensor_spool_live(struct spool *sp, struct api_live_stats *out);

struct st_stats;
/* The store's figures for the API (/stats, /metrics) from w (NULL: none,
 * left -1); thread-safe. */
void sensor_store_live(struct st_writer *w, struct api_live_stats *out);
/* The store's figures as a JSON member ', "store": {...}' of a stats file
 * (nothing when s is NULL). */
void sensor_store_json(FILE *f, const struct st_stats *s);

/* Block SIGINT, SIGTERM (and SIGHUP when hup) in every thread to come; the
 * main thread waits for sigs with sigtimedwait. SIGPIPE is ignored. */
void sensor_block_signals(sigset_t *sigs, bool hup);

/* A stats file is written to PATH.tmp (tmp, cap) and renamed over path by
 * sensor_stats_commit, so that readers never see half of it. NULL (logged)
 * when the temporary file cannot be opened. */
FILE *sensor_stats_open(const char *path, char *tmp, size_t cap);
void sensor_stats_commit(FILE *f, const char *tmp, const char *path);

/* Live state of a running sensor (capture, collect). On the analysis
 * thread: finished calls go through sensor_live_call (to the store, and
 * noted), and sensor_live_step runs after each frame or tick; it counts the
 * calls in progress once a second and writes a store snapshot when a KPI
 * bucket closes and every SENSOR_SNAP_PERIOD_S in between. Other threads
 * read the published figures with sensor_live_figures. */
#define SENSOR_SNAP_PERIOD_S 5

struct calls;
struct calls_call;
struct checklist_live;
struct sensor_live {
    struct st_writer *w;          /* may be NULL: figures only */
    struct checklist_live *cl;    /* may be NULL: the live trunk checklist */
    uint64_t next_count_ns, next_snap_ns, bucket_ns;
    uint64_t since_ns;            /* buckets from here on may have changed */
    uint64_t min_invite_ns;       /* earliest INVITE of a call emitted since */
    _Atomic int64_t active_calls; /* -1 until counted */
    _Atomic int64_t pps_milli;    /* -1 until measured */
    double rate_t;                /* main thread: last rate sample */
    uint64_t rate_packets;
};

void sensor_live_init(struct sensor_live *sl, struct st_writer *w);
struct engine;
/* The engine's finished calls, TLS connections and other flows go to w, and
 * the calls also to the live checklist on db; set before any thread uses e. */
void sensor_live_attach(struct sensor_live *sl, struct engine *e, struct st_writer *w,
                        const char *db);
/* calls_sink_fn: ctx is the struct sensor_live. */
void sensor_live_call(void *ctx, const struct calls_call *c);
void sensor_live_step(struct sensor_live *sl, const struct calls *c, uint64_t now_ns);
/* Main thread, every fraction of a second: packets so far at monotonic
 * time now_s; packets per second over the last second or more. */
void sensor_live_rate(struct sensor_live *sl, uint64_t packets, double now_s);
/* Calls up now and packets per second (-1: not known yet). */
void sensor_live_figures(struct sensor_live *sl, int64_t *active_calls, double *pps);

#endif
