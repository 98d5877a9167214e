/* The HTTP API and dashboard server: read-only JSON over a store database,
 * static files of the dashboard, Prometheus metrics. */
#ifndef TS_API_H
#define TS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_err { API_OK = 0, API_ERR_USAGE };

struct api_options {
    const char *db_path;      /* store database (read-only) */
    const char *http;         /* "ADDR:PORT", "[v6]:PORT"; NULL = 127.0.0.1:8080; port 0 = any */
    const char *token_file;   /* bearer token; required unless bound to loopback */
    const char *tls_cert;     /* PEM files: both or neither */
    const char *tls_key;
    const char *static_dir;   /* dashboard files; NULL = no static files */
    unsigned threads;         /* 0 = TS_API_THREADS */
    unsigned rate_per_s;      /* per-client requests/s; 0 = TS_API_RATE_PER_S */
    unsigned rate_burst;      /* 0 = TS_API_RATE_BURST */
    bool no_rate_limit;       /* load tests only */
    const char *allowed_hosts; /* comma-separated names a Host header may carry besides the
                                * bound address (and localhost on loopback); NULL: none */
    bool audio;               /* the configuration's "audio = on": calls may be played
                               * (/calls/{id}/audio); off: 403 */
};

/* Live figures a running sensor supplies (fields it does not know: -1). */
struct api_live_stats {
    int64_t packets, bytes, drops_kernel, drops_queue, store_dropped;
    int64_t sip_messages, active_calls, queue_depth;
    double packets_per_second;
    /* -1: unknown (no store); store_dropped counts both kinds of loss */
    int64_t store_written, store_errors;
    char store_error[128];    /* "" when no write failed */
    /* the capture spool's counters (spool.h); spool false: the sensor has none */
    bool spool;
    int64_t spool_files_deleted, spool_deleted_size, spool_deleted_age,
        spool_deleted_floor, spool_blocks_floor, spool_blocks_dropped, spool_torn_recovered,
        spool_errors;
};
/* Fills out; runs on a server thread, so it must be thread-safe and quick. */
typedef void (*api_stats_fn)(void *ctx, struct api_live_stats *out);

struct api_server;

/* Validate the options (a non-loopback address needs a token file), open
 * the database and start listening. NULL on error with one line in err. */
struct api_server *api_start(const struct api_options *o, char *err, size_t errlen);
/* Stop listening, wait for requests in progress, free. NULL ok. */
void api_stop(struct api_server *s);
/* Port actually bound (useful with port 0). */
unsigned api_port(const struct api_server *s);
/* Let a live sensor supply /stats and /metrics figures (fn NULL: none). */
void api_set_stats_fn(struct api_server *s, api_stats_fn fn, void *ctx);

/* Checks without starting: ADDR:PORT parsed into addr (text) and port;
 * loopback reported. API_OK or API_ERR_USAGE with err filled. */
int api_parse_listen(const char *spec, char *addr, size_t cap, unsigned *port, bool *loopback,
                     char *err, size_t errlen);

#endif
