/* Private to api/: one request as the route handlers see it, the server's
 * state, and the services the routes use (request.c: database pool, live
 * stats, export slots). */
#ifndef TS_API_INT_H
#define TS_API_INT_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/limits.h"
#include "api.h"

struct jsonw;

/* Digits of a real in a response (jansson's JSON_REAL_PRECISION). */
#define API_REAL_PRECISION 12

struct MHD_Daemon;
struct stq;

struct rl_slot {
    uint8_t addr[16];
    bool used;
    double tokens;
    uint64_t last_ns;
    unsigned inflight;        /* requests of this client being answered */
};

/* One accepted connection (the table's index is its socket context + 1). */
struct conn_slot {
    int fd;                   /* -1: free */
    uint8_t key[16];          /* the client (an IPv4 address or an IPv6 /64) */
    uint64_t since_ns;        /* start of the headers being waited for */
    bool in_headers;          /* waiting for (the rest of) a request's headers */
    bool doomed;              /* shut down, its close not yet seen */
};

/* The server's state: server.c runs it, request.c serves it to the routes. */
struct api_server {
    struct MHD_Daemon *d;
    char db_path[PATH_MAX];
    char static_root[PATH_MAX];       /* realpath; "" = no static files */
    char token[TS_API_TOKEN_MAX + 1];
    size_t token_len;                 /* 0 = no token required */
    char *tls_cert, *tls_key;
    unsigned port;
    bool audio;                       /* /calls/{id}/audio allowed */

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    struct stq *pool[TS_API_THREADS * 4];
    bool pool_busy[TS_API_THREADS * 4];
    unsigned npool;

    pthread_mutex_t rl_mu;
    struct rl_slot *rl;
    double rate, burst;
    bool no_rate;

    pthread_mutex_t live_mu;
    api_stats_fn live_fn;
    void *live_ctx;

    pthread_mutex_t conn_mu;
    struct conn_slot conns[TS_API_CONN_SLOTS];
    pthread_t watchdog;
    bool watchdog_on;
    atomic_bool stopping;
    atomic_ullong conns_evicted, header_timeouts, host_refused, busy_refused;

    char bound[64];                   /* the listen address as text */
    bool bound_any, bound_loopback;
    char hosts[TS_API_MAX_HOSTS][TS_API_HOST_LEN]; /* --allowed-host names */
    unsigned nhosts;

    atomic_int exports;
    atomic_ullong by_class[6];
};

struct api_param {
    const char *key, *val; /* NUL-free, valid during the request */
    bool used;
};

struct api_call {
    struct api_server *srv;
    const char *path;                 /* decoded path, starts with '/' */
    struct api_param params[TS_API_MAX_PARAMS];
    size_t nparams;
    struct stq *q;                    /* taken from the pool on first use */

    /* the response: json, or body/ctype, or an open fd of fd_len bytes */
    int status;
    json_t *json;
    char *body;                       /* malloc'd */
    size_t body_len;
    const char *ctype;
    int fd;
    uint64_t fd_len;
    char filename[64];                /* Content-Disposition attachment name */
};

/* Error response {"error":{"code":code,"message":...}}; returns false so a
 * handler can `return api_error(...)`. */
bool api_error(struct api_call *a, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A response written as it is made (a streaming JSON writer into memory)
 * instead of a jansson tree: for pages of many rows. */
struct api_out {
    FILE *f;
    char *buf;
    size_t len;
    struct jsonw *w;
};
/* false: out of memory, the 500 answered. */
bool api_out_begin(struct api_call *a, struct api_out *o);
/* keep: the body becomes the response; else it is dropped (the handler
 * answered an error). */
void api_out_end(struct api_call *a, struct api_out *o, bool keep);
/* The request's database connection (NULL: 500 already set); given back
 * with api_db_put when the request is done (NULL: nothing). */
struct stq *api_db(struct api_call *a);
void api_db_put(struct api_server *s, struct stq *q);
const char *api_db_path(const struct api_server *s);
/* Live figures when a sensor supplied the hook; false otherwise. */
bool api_live(struct api_server *s, struct api_live_stats *out);
/* Bounded concurrent exports; false when all slots are busy. */
bool api_export_begin(struct api_server *s);
void api_export_end(struct api_server *s);
/* Requests answered so far, per status class (1..5), for /metrics. */
uint64_t api_requests(const struct api_server *s, int cls);
/* Guard counters: 0 connections evicted or refused (per-client cap, table
 * full), 1 header deadlines missed, 2 foreign Host refused, 3 requests
 * refused over the in-flight budget. */
uint64_t api_guard_count(const struct api_server *s, int which);

/* A server that does not listen and has no connection pool, over the
 * database at db_path: routes_dispatch runs with api_call.q set by the
 * caller (the fuzz target drives the routes this way). Free with api_stop;
 * NULL on error with one line in err. */
struct api_server *api_start_offline(const char *db_path, char *err, size_t errlen);

/* Route one /api/v1/... or /metrics request (routes.c). */
void routes_dispatch(struct api_call *a);
/* The OpenAPI 3.1 description of the API: api/openapi.json, checked and
 * compacted at build time (scripts/openapi_embed.c); NUL after the end. */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;
/* /metrics text (routes_metrics.c). */
void routes_metrics(struct api_call *a);

/* JSON string of database or wire text: UTF-8-checked, invalid bytes and
 * control characters other than CR/LF/TAB become '?' (request.c). */
json_t *api_jtext(const char *s, size_t len);
/* The same text through a streaming writer (the same bytes as api_jtext's
 * string dumped by jansson). */
void api_wtext(struct jsonw *w, const char *s, size_t len);
/* The SDP of a raw SIP message as {media: [{type, addr, port, proto, codecs,
 * dir, hold, srtp}], version}; NULL when it carries none (sdp_view.c). */
json_t *api_sdp_view(const uint8_t *raw, size_t len);
/* The capacity object of trunk id (routes_capacity.c); peak: its peak
 * concurrent calls. ST_OK with *out set, or the query's error. */
int api_trunk_capacity(struct stq *q, int64_t id, int64_t peak, json_t **out);
/* routes_alerts.c: GET /alerts's body (states: bits 1 pending, 2 firing,
 * 4 resolved; trunk_id 0: all); `health` (null when never evaluated) on
 * each trunk object of trunks (trunk_id: the only one, or 0). */
int api_alerts_write(struct stq *q, unsigned states, int64_t trunk_id, uint32_t limit,
                     struct jsonw *w);
int api_trunks_health(struct stq *q, json_t *trunks, int64_t trunk_id);
/* `health` on each site object of sites (null when none of its trunks was
 * evaluated): the worst of its trunks' states, their count per state, and
 * the trunks that are not healthy with their reasons. */
int api_sites_health(struct stq *q, json_t *sites);
/* The stored Lync trunk checklist of trunk id: {status, items, updated},
 * status null and items empty when never computed. */
int api_trunk_checklist(struct stq *q, int64_t id, json_t **out);

#endif
