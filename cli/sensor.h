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
#include <stdio.h>

/* Retention bounds: a century, and 16 TB (the writer computes bytes in 64 bits). */
#define SENSOR_RETENTION_DAYS_MAX 36500
#define SENSOR_RETENTION_MB_MAX 16777216

struct sensor_opts {
    const char *db, *token_file, *config, *stats_file, *log_file;
    uint64_t duration_s;                   /* 0: until a signal */
    uint32_t retention_days, retention_mb; /* 0: keep everything */
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
};
#define SENSOR_OPTIONS                                                    \
    { "db", required_argument, NULL, SENSOR_O_DB },                       \
    { "token-file", required_argument, NULL, SENSOR_O_TOKEN_FILE },       \
    { "config", required_argument, NULL, SENSOR_O_CONFIG },               \
    { "stats-file", required_argument, NULL, SENSOR_O_STATS_FILE },       \
    { "log", required_argument, NULL, SENSOR_O_LOG },                     \
    { "duration", required_argument, NULL, SENSOR_O_DURATION },           \
    { "retention-days", required_argument, NULL, SENSOR_O_RETENTION_DAYS }, \
    { "retention-mb", required_argument, NULL, SENSOR_O_RETENTION_MB }
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

/* Block SIGINT, SIGTERM (and SIGHUP when hup) in every thread to come; the
 * main thread waits for sigs with sigtimedwait. SIGPIPE is ignored. */
void sensor_block_signals(sigset_t *sigs, bool hup);

/* A stats file is written to PATH.tmp (tmp, cap) and renamed over path by
 * sensor_stats_commit, so that readers never see half of it. NULL (logged)
 * when the temporary file cannot be opened. */
FILE *sensor_stats_open(const char *path, char *tmp, size_t cap);
void sensor_stats_commit(FILE *f, const char *tmp, const char *path);

#endif
