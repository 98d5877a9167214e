/* One request as the routes see it, below both the routes and the HTTP
 * server: the error body (RFC 9110 s15 status with a JSON error object),
 * JSON text of stored strings, and the server's services to the routes
 * (database connection pool, live figures, export slots, request counts). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/jsonw.h"
#include "../common/utf8.h"
#include "../store/query.h"
#include "api_int.h"

/* Control characters other than CR, LF and TAB show as '?'. */
static bool ctl_shown(unsigned char c)
{
    return (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f;
}

static bool no_ctl(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (ctl_shown((unsigned char)s[i]))
            return false;
    return true;
}

/* A malloc'd copy of s by the program's one UTF-8 policy (common/utf8.h,
 * as in common/jsonw): valid sequences kept, each invalid byte U+FFFD;
 * control characters '?'. NULL when out of memory. */
static char *text_fixed(const char *s, size_t len, size_t *n)
{
    char *copy = len <= SIZE_MAX / 3 ? malloc(len * 3 + 1) : NULL;
    if (!copy)
        return NULL;
    *n = utf8_fix(s, len, copy);
    for (size_t i = 0; i < *n; i++)
        if (ctl_shown((unsigned char)copy[i]))
            copy[i] = '?';
    return copy;
}

json_t *api_jtext(const char *s, size_t len)
{
    if (!s)
        return json_string("");
    if (no_ctl(s, len) && utf8_valid(s, len)) {
        json_t *v = json_stringn(s, len);
        return v ? v : json_string("");
    }
    size_t n;
    char *copy = text_fixed(s, len, &n);
    json_t *v = copy ? json_stringn(copy, n) : NULL;
    free(copy);
    return v ? v : json_string("");
}

void api_wtext(struct jsonw *w, const char *s, size_t len)
{
    if (!s) {
        jsonw_strn(w, "", 0);
        return;
    }
    if (no_ctl(s, len)) { /* jsonw fixes UTF-8 by the same policy */
        jsonw_strn(w, s, len);
        return;
    }
    size_t n;
    char *copy = text_fixed(s, len, &n);
    jsonw_strn(w, copy ? copy : "", copy ? n : 0);
    free(copy);
}

bool api_out_begin(struct api_call *a, struct api_out *o)
{
    *o = (struct api_out){ 0 };
    o->w = malloc(sizeof *o->w);
    o->f = o->w ? open_memstream(&o->buf, &o->len) : NULL;
    if (!o->f) {
        free(o->w);
        o->w = NULL;
        return api_error(a, 500, "internal", "out of memory");
    }
    jsonw_init(o->w, o->f, false);
    return true;
}

void api_out_end(struct api_call *a, struct api_out *o, bool keep)
{
    enum jsonw_err e = keep ? jsonw_finish(o->w) : JSONW_OK;
    bool ok = fclose(o->f) == 0 && e == JSONW_OK;
    free(o->w);
    if (keep && !ok)
        api_error(a, 500, "internal", "out of memory");
    if (!keep || !ok) {
        free(o->buf);
        return;
    }
    if (o->len && o->buf[o->len - 1] == '\n') /* jsonw_end's */
        o->len--;
    free(a->body);
    a->body = o->buf;
    a->body_len = o->len;
    a->ctype = "application/json; charset=utf-8";
}

struct stq *api_db(struct api_call *a)
{
    struct api_server *s = a->srv;
    if (a->q)
        return a->q;
    pthread_mutex_lock(&s->pool_mu);
    for (;;) {
        for (unsigned i = 0; i < s->npool; i++) {
            if (!s->pool_busy[i]) {
                s->pool_busy[i] = true;
                a->q = s->pool[i];
                pthread_mutex_unlock(&s->pool_mu);
                /* one request's queries together get TS_API_QUERY_BUDGET_MS */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                stq_set_deadline(a->q, (uint64_t)ts.tv_sec * 1000000000ull +
                                           (uint64_t)ts.tv_nsec +
                                           (uint64_t)TS_API_QUERY_BUDGET_MS * 1000000ull);
                return a->q;
            }
        }
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    }
}

void api_db_put(struct api_server *s, struct stq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&s->pool_mu);
    for (unsigned i = 0; i < s->npool; i++)
        if (s->pool[i] == q)
            s->pool_busy[i] = false;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

const char *api_db_path(const struct api_server *s) { return s->db_path; }

bool api_live(struct api_server *s, struct api_live_stats *out)
{
    bool have = false;
    pthread_mutex_lock(&s->live_mu);
    if (s->live_fn) {
        *out = (struct api_live_stats){ -1, -1, -1, -1, -1, -1, -1, -1, -1.0, -1, -1, "", false,
                                        -1, -1, -1, -1, -1, -1, -1, -1 };
        s->live_fn(s->live_ctx, out);
        have = true;
    }
    pthread_mutex_unlock(&s->live_mu);
    return have;
}

void api_set_stats_fn(struct api_server *s, api_stats_fn fn, void *ctx)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->live_mu);
    s->live_fn = fn;
    s->live_ctx = ctx;
    pthread_mutex_unlock(&s->live_mu);
}

bool api_export_begin(struct api_server *s)
{
    if (atomic_fetch_add(&s->exports, 1) >= TS_API_MAX_EXPORTS) {
        atomic_fetch_sub(&s->exports, 1);
        return false;
    }
    return true;
}

void api_export_end(struct api_server *s) { atomic_fetch_sub(&s->exports, 1); }

uint64_t api_requests(const struct api_server *s, int cls)
{
    return cls >= 1 && cls <= 5 ? atomic_load(&s->by_class[cls]) : 0;
}

unsigned api_port(const struct api_server *s) { return s ? s->port : 0; }

uint64_t api_guard_count(const struct api_server *s, int which)
{
    switch (which) {
    case 0:
        return atomic_load(&s->conns_evicted);
    case 1:
        return atomic_load(&s->header_timeouts);
    case 2:
        return atomic_load(&s->host_refused);
    default:
        return atomic_load(&s->busy_refused);
    }
}

bool api_error(struct api_call *a, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(a->json);
    free(a->body);
    a->body = NULL;
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", api_jtext(msg, strlen(msg)));
    a->json = json_object();
    json_object_set_new(a->json, "error", e);
    a->status = status;
    return false;
}
