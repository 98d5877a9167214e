/* Private to api/: one request as the route handlers see it, and the
 * server services they use (database pool, live stats, export slots). */
#ifndef TS_API_INT_H
#define TS_API_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"
#include "api.h"

struct api_server;
struct stq;

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
/* The request's database connection (NULL: 500 already set). */
struct stq *api_db(struct api_call *a);
const char *api_db_path(const struct api_server *s);
/* Live figures when a sensor supplied the hook; false otherwise. */
bool api_live(struct api_server *s, struct api_live_stats *out);
/* Bounded concurrent exports; false when all slots are busy. */
bool api_export_begin(struct api_server *s);
void api_export_end(struct api_server *s);
/* Requests answered so far, per status class (1..5), for /metrics. */
uint64_t api_requests(const struct api_server *s, int cls);

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
 * control characters other than CR/LF/TAB become '?' (routes.c). */
json_t *api_jtext(const char *s, size_t len);

#endif
