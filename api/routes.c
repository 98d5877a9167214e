/* The /api/v1 routes: every parameter validated (type, range, enum, length)
 * before it reaches a prepared statement; rows become JSON objects whose
 * text is UTF-8-checked. Paging is keyset-based with an opaque cursor. */
#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../calls/calls.h"
#include "../common/num.h"
#include "../common/utf8.h"
#include "../common/version.h"
#include "../crypto/tlsdec.h"
#include "../media/media.h"
#include "../store/query.h"
#include "../store/store.h"
#include "api_int.h"

#define NS_PER_MS 1000000ll
#define NS_PER_S 1000000000ll
/* The last millisecond whose nanoseconds fit in int64 (2262-04-11), as the
 * store and the queries count time: later dates are typos or attacks. */
#define MAX_EPOCH_MS (INT64_MAX / NS_PER_MS)

/* ---- JSON of stored text and rows ---- */

static json_t *jcell(const struct stq_cell *c)
{
    switch (c->type) {
    case STQ_INT:
        return json_integer((json_int_t)c->i);
    case STQ_REAL:
        return isfinite(c->d) ? json_real(c->d) : json_null();
    case STQ_TEXT:
        return api_jtext(c->s, c->len);
    default:
        return json_null();
    }
}

static json_t *jrow(const struct stq_cell *c, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        if (c[i].type != STQ_BLOB)
            json_object_set_new(o, c[i].name, jcell(&c[i]));
    return o;
}

/* Row callback: append the row as an object to the array ctx. */
/* 0/1 columns of a call or leg row as booleans; the leg's endpoint
 * reports (a JSON array the writer stored) as JSON. */
static void media_bools(json_t *o)
{
    static const char *const keys[] = { "one_way", "no_audio", "capture_gap" };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (json_is_integer(v))
            json_object_set_new(o, keys[k], json_boolean(json_integer_value(v) != 0));
    }
    json_t *eq = json_object_get(o, "endpoint_quality");
    if (json_is_string(eq)) {
        json_t *arr = json_loadb(json_string_value(eq), json_string_length(eq), 0, NULL);
        json_object_set_new(o, "endpoint_quality", json_is_array(arr) ? arr : json_array());
        if (arr && !json_is_array(arr))
            json_decref(arr);
    } else if (json_is_null(eq)) {
        json_object_set_new(o, "endpoint_quality", json_array());
    }
}

static int row_to_array(void *ctx, const struct stq_cell *c, size_t n)
{
    json_array_append_new((json_t *)ctx, jrow(c, n));
    return 0;
}

/* Row callback: the (single) row into *(json_t **)ctx. */
static int row_to_obj(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t **o = ctx;
    json_decref(*o);
    *o = jrow(c, n);
    return 1;
}

static const struct stq_cell *cell(const struct stq_cell *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

static bool db_fail(struct api_call *a, int rc)
{
    if (rc == ST_ERR_NOT_FOUND)
        return api_error(a, 404, "not_found", "no such resource");
    if (stq_interrupted(a->q))
        return api_error(a, 503, "query_budget",
                         "the query ran past its budget of %d ms; narrow it (time range, filters)",
                         TS_API_QUERY_BUDGET_MS);
    return api_error(a, 500, "internal", "database query failed");
}

/* The answer {key: rows} of a listing whose query returned rc: rows, now
 * the answer's, back for finishing touches; on an error rows are freed,
 * the error answered and NULL returned. */
static json_t *listing(struct api_call *a, int rc, json_t *rows, const char *key)
{
    if (rc != ST_OK) {
        json_decref(rows);
        db_fail(a, rc);
        return NULL;
    }
    a->json = json_object();
    json_object_set_new(a->json, key, rows);
    return rows;
}

/* ---- parameters ---- */

/* 400 unless every parameter is one of the NULL-terminated names (NULL:
 * none is allowed). */
static bool params_allow(struct api_call *a, const char *const *names)
{
    for (size_t i = 0; i < a->nparams; i++) {
        bool ok = false;
        for (size_t k = 0; names && names[k] && !ok; k++)
            ok = strcmp(a->params[i].key, names[k]) == 0;
        if (!ok) {
            char k[48];
            snprintf(k, sizeof k, "%.40s", a->params[i].key);
            for (char *p = k; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                    *p = '?';
            return api_error(a, 400, "bad_parameter", "unknown parameter '%s'", k);
        }
    }
    return true;
}

static const char *param(struct api_call *a, const char *name)
{
    for (size_t i = 0; i < a->nparams; i++)
        if (strcmp(a->params[i].key, name) == 0)
            return a->params[i].val;
    return NULL;
}

static bool parse_real(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s || strlen(s) > 32)
        return false;
    for (const char *q = s; *q; q++)
        if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == '-'))
            return false; /* no hex, inf, nan, exponents */
    return num_double(s, lo, hi, out);
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Epoch milliseconds, or ISO-8601: YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]. */
static bool parse_time(const char *s, int64_t *ns)
{
    int64_t ms;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 40)
        return false;
    if (strspn(s, "0123456789") == n) {
        if (!num_i64(s, 0, MAX_EPOCH_MS, &ms))
            return false;
        *ns = ms * NS_PER_MS;
        return true;
    }
    int Y, M, D, h = 0, mi = 0, sec = 0, frac_ms = 0, off_min = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &Y) || digits(s + 5, 2, &M) ||
        digits(s + 8, 2, &D))
        return false;
    size_t i = 10;
    if (i < n && (s[i] == 'T' || s[i] == ' ')) {
        if (n < i + 6 || digits(s + i + 1, 2, &h) || s[i + 3] != ':' || digits(s + i + 4, 2, &mi))
            return false;
        i += 6;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || digits(s + i + 1, 2, &sec))
                return false;
            i += 3;
            if (i < n && s[i] == '.') {
                size_t k = i + 1, nd = 0;
                int f = 0;
                while (k < n && s[k] >= '0' && s[k] <= '9') {
                    if (nd < 3) {
                        f = f * 10 + (s[k] - '0');
                        nd++;
                    }
                    k++;
                }
                if (k == i + 1 || k - i - 1 > 9)
                    return false;
                while (nd++ < 3)
                    f *= 10;
                frac_ms = f;
                i = k;
            }
        }
        if (i < n && s[i] == 'Z') {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int oh, om;
            if (n != i + 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
                digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
                return false;
            off_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
            i += 6;
        }
    }
    if (i != n || Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 ||
        mi > 59 || sec > 60)
        return false;
    struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                     .tm_min = mi, .tm_sec = sec };
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != D)
        return false; /* 31 February and friends */
    int64_t v = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    if (v < 0 || v > MAX_EPOCH_MS)
        return false;
    *ns = v * NS_PER_MS;
    return true;
}

/* from and to (ISO-8601 or epoch milliseconds) into *from and *to where
 * given, has_* saying which (NULL: the caller's *from / *to stand for an
 * absent one); 400 when one does not parse or to is not after from. */
static bool param_range(struct api_call *a, int64_t *from, bool *has_from, int64_t *to,
                        bool *has_to)
{
    const char *v;
    bool hf = false, ht = false;
    if ((v = param(a, "from"))) {
        if (!parse_time(v, from))
            return api_error(a, 400, "bad_parameter", "from: ISO-8601 time or epoch milliseconds");
        hf = true;
    }
    if ((v = param(a, "to"))) {
        if (!parse_time(v, to))
            return api_error(a, 400, "bad_parameter", "to: ISO-8601 time or epoch milliseconds");
        ht = true;
    }
    if (has_from)
        *has_from = hf;
    if (has_to)
        *has_to = ht;
    if ((hf || !has_from) && (ht || !has_to) && *to <= *from)
        return api_error(a, 400, "bad_parameter", "to must be after from");
    return true;
}

/* A comma-separated list of names of names[0..n) into out (repeats once):
 * false on an unknown name or more than TS_API_LIST_MAX. */
static bool parse_enum_list(const char *v, const char *(*name)(int), int n, const char **out,
                            uint8_t *nout)
{
    *nout = 0;
    for (const char *p = v;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *hit = NULL;
        for (int i = 0; i < n && !hit; i++) {
            const char *nm = name(i);
            if (nm && strlen(nm) == len && strncmp(nm, p, len) == 0)
                hit = nm;
        }
        if (!hit)
            return false;
        bool dup = false;
        for (unsigned k = 0; k < *nout; k++)
            dup |= out[k] == hit;
        if (!dup) {
            if (*nout >= TS_API_LIST_MAX)
                return false;
            out[(*nout)++] = hit;
        }
        if (!e)
            return true;
        p = e + 1;
    }
}

/* final_status=486,503,none: SIP codes 100..699, "none" (no final: 0). */
static bool parse_status_list(const char *v, int64_t *out, uint8_t *nout)
{
    *nout = 0;
    for (const char *p = v;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char one[8];
        int64_t code = -1;
        if (len == 4 && strncmp(p, "none", 4) == 0) {
            code = 0;
        } else if (len == 3) {
            memcpy(one, p, 3);
            one[3] = '\0';
            if (!num_i64(one, 100, 699, &code))
                return false;
        } else {
            return false;
        }
        if (*nout >= TS_API_LIST_MAX)
            return false;
        out[(*nout)++] = code;
        if (!e)
            return true;
        p = e + 1;
    }
}

static bool printable(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return false;
    return true;
}

/* A number as a ticket carries it: "+49 30 1234-567", "030 1234567",
 * "0049301234567", "sip:+4930...@host;user=phone", "tel:..." or a user name
 * ("alice"). Digits (separators, '+' and leading zeros dropped) go to
 * f->number_digits, anything else to f->number_user. */
static bool parse_number(const char *v, struct stq_call_filter *f)
{
    if (!printable(v, 64))
        return false;
    static const char *const schemes[] = { "sip:", "sips:", "tel:" };
    for (size_t i = 0; i < 3; i++)
        if (strncasecmp(v, schemes[i], strlen(schemes[i])) == 0)
            v += strlen(schemes[i]);
    size_t n = strcspn(v, "@;");
    if (n == 0 || n >= sizeof f->number_user)
        return false;
    bool numeric = true;
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] >= '0' && v[i] <= '9')
            nd++;
        else if (!strchr("+-.() /", v[i]))
            numeric = false;
    }
    if (numeric && nd) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9' || (k == 0 && v[i] == '0'))
                continue;
            if (k + 1 >= sizeof f->number_digits)
                return false;
            f->number_digits[k++] = v[i];
        }
        f->number_digits[k] = '\0';
        return k > 0;
    }
    memcpy(f->number_user, v, n);
    f->number_user[n] = '\0';
    return true;
}

/* IPv4 or IPv6 address, optionally with a port ("10.0.0.1:5060",
 * "[2001:db8::1]:5060"), into its stored text form and port (0: none). */
static bool parse_addr(const char *v, char *out, size_t cap, int64_t *port)
{
    char host[64];
    const char *ps = NULL;
    size_t n = strlen(v);
    if (n == 0 || n >= sizeof host)
        return false;
    if (v[0] == '[') {
        const char *e = strchr(v, ']');
        if (!e || (e[1] && e[1] != ':'))
            return false;
        memcpy(host, v + 1, (size_t)(e - v - 1));
        host[e - v - 1] = '\0';
        ps = e[1] ? e + 2 : NULL;
    } else if (strchr(v, ':') == strrchr(v, ':') && strchr(v, ':')) {
        const char *c = strchr(v, ':');
        memcpy(host, v, (size_t)(c - v));
        host[c - v] = '\0';
        ps = c + 1;
    } else {
        memcpy(host, v, n + 1);
    }
    unsigned char bin[16];
    int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, host, bin) != 1 || !inet_ntop(fam, bin, out, (socklen_t)cap))
        return false;
    *port = 0;
    return !ps || num_i64(ps, 1, 65535, port);
}

/* A site name: 1 to TS_SITE_LEN - 1 bytes without control characters
 * (names come from sensors and HEP nodes; bound, never pasted). */
static bool parse_site(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= TS_SITE_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return false;
    return true;
}

#define SITE_ERR "site: 1 to %d characters, no control characters"

static const char *dir_name(int i) { return calls_dir_name((enum calls_dir)i); }
static const char *outcome_name(int i) { return calls_outcome_name((enum calls_outcome)i); }
static const char *side_name(int i) { return calls_side_name((enum calls_side)i); }

/* ---- cursor: base64url("v1.<sort>.<a|d>.<key>.<id>") ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = B64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = B64[v & 63];
    }
    out[o] = '\0';
}

static bool unb64url(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in), o = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (n == 0 || n > 128 || n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(B64, in[i]);
        if (!p || !in[i])
            return false;
        acc = (acc << 6) | (uint32_t)(p - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return false;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return strlen(out) == o;
}

static const char *const SORT_NAMES[] = { "start", "duration", "pdd", "mos" };

static void cursor_encode(const struct stq_cursor *c, enum stq_sort sort, bool desc, char *out,
                          size_t cap)
{
    char txt[128];
    if (sort == STQ_SORT_DURATION || sort == STQ_SORT_MOS)
        snprintf(txt, sizeof txt, "v1.%s.%c.%.17g.%lld", SORT_NAMES[sort], desc ? 'd' : 'a',
                 c->key_d, (long long)c->id);
    else
        snprintf(txt, sizeof txt, "v1.%s.%c.%lld.%lld", SORT_NAMES[sort], desc ? 'd' : 'a',
                 (long long)c->key_i, (long long)c->id);
    b64url(txt, strlen(txt), out, cap);
}

static bool cursor_decode(const char *in, enum stq_sort sort, bool desc, struct stq_cursor *c)
{
    char txt[128], want[32];
    if (!unb64url(in, txt, sizeof txt))
        return false;
    snprintf(want, sizeof want, "v1.%s.%c.", SORT_NAMES[sort], desc ? 'd' : 'a');
    size_t wl = strlen(want);
    if (strncmp(txt, want, wl) != 0)
        return false;
    char *key = txt + wl;
    char *dot = strrchr(key, '.');
    if (!dot || dot == key)
        return false;
    *dot = '\0';
    memset(c, 0, sizeof *c);
    if (!num_i64(dot + 1, 1, INT64_MAX, &c->id))
        return false;
    if (sort == STQ_SORT_DURATION || sort == STQ_SORT_MOS) {
        if (!num_double(key, -DBL_MAX, DBL_MAX, &c->key_d))
            return false;
    } else if (!num_i64(key, -1, INT64_MAX, &c->key_i)) {
        return false;
    }
    c->valid = true;
    return true;
}

/* ---- handlers ---- */

static void h_health(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct api_live_stats ls;
    a->json = json_object();
    json_object_set_new(a->json, "status", json_string("ok"));
    json_object_set_new(a->json, "version", json_string(ts_version()));
    json_object_set_new(a->json, "schema_version", json_integer(ST_SCHEMA_VERSION));
    json_object_set_new(a->json, "live", json_boolean(api_live(a->srv, &ls)));
}

static json_t *jopt_i(int64_t v) { return v < 0 ? json_null() : json_integer((json_int_t)v); }

/* The capture spool: what the index holds (sum, the oldest packet's time,
 * so what a call export can still find) and, from a running sensor, what
 * its caps deleted or held back. Takes db (one row, or NULL); null when
 * there is no spool. */
static json_t *spool_stats(const struct api_live_stats *ls, json_t *db)
{
    json_t *n = json_object_get(db, "files");
    if (!ls && (!json_is_integer(n) || json_integer_value(n) == 0)) {
        json_decref(db);
        return json_null();
    }
    json_t *o = db ? db : json_object();
    static const char *const K[] = { "files_deleted", "deleted_size", "deleted_age",
                                     "deleted_floor", "blocks_floor", "blocks_dropped",
                                     "torn_recovered", "errors" };
    const int64_t v[] = { ls ? ls->spool_files_deleted : -1, ls ? ls->spool_deleted_size : -1,
                          ls ? ls->spool_deleted_age : -1, ls ? ls->spool_deleted_floor : -1,
                          ls ? ls->spool_blocks_floor : -1, ls ? ls->spool_blocks_dropped : -1,
                          ls ? ls->spool_torn_recovered : -1, ls ? ls->spool_errors : -1 };
    for (size_t i = 0; i < sizeof K / sizeof *K; i++)
        json_object_set_new(o, K[i], jopt_i(v[i]));
    return o;
}

static void h_stats(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct stq *q = api_db(a);
    json_t *caps = json_array(), *totals = NULL, *spool = NULL;
    int rc = stq_captures(q, row_to_array, caps);
    if (rc == ST_OK)
        rc = stq_totals(q, row_to_obj, &totals);
    if (rc == ST_OK)
        rc = stq_spool_summary(q, row_to_obj, &spool);
    if (rc != ST_OK) {
        json_decref(caps);
        json_decref(totals);
        json_decref(spool);
        db_fail(a, rc);
        return;
    }
    struct api_live_stats ls;
    bool live = api_live(a->srv, &ls);
    json_t *o = json_object();
    json_object_set_new(o, "source", json_string(live ? "live" : "database"));
    json_object_set_new(o, "packets", live ? jopt_i(ls.packets) : json_null());
    json_object_set_new(o, "bytes", live ? jopt_i(ls.bytes) : json_null());
    json_object_set_new(o, "drops_kernel", live ? jopt_i(ls.drops_kernel) : json_null());
    json_object_set_new(o, "drops_queue", live ? jopt_i(ls.drops_queue) : json_null());
    json_object_set_new(o, "store_dropped", live ? jopt_i(ls.store_dropped) : json_null());
    json_object_set_new(o, "store_written", live ? jopt_i(ls.store_written) : json_null());
    json_object_set_new(o, "store_errors", live ? jopt_i(ls.store_errors) : json_null());
    json_object_set_new(o, "store_last_error",
                        live && ls.store_error[0] ? api_jtext(ls.store_error, strlen(ls.store_error))
                                                  : json_null());
    json_object_set_new(o, "active_calls", live ? jopt_i(ls.active_calls) : json_null());
    json_object_set_new(o, "queue_depth", live ? jopt_i(ls.queue_depth) : json_null());
    json_object_set_new(o, "packets_per_second",
                        live && ls.packets_per_second >= 0 ? json_real(ls.packets_per_second)
                                                           : json_null());
    json_object_set_new(o, "totals", totals ? totals : json_object());
    json_object_set_new(o, "captures", caps);
    json_object_set_new(o, "spool", spool_stats(live && ls.spool ? &ls : NULL, spool));
    a->json = o;
}

/* calls list state: rows in an array */
static void h_calls(struct api_call *a)
{
    static const char *const P[] = { "from", "to", "caller", "callee", "match", "trunk", "direction",
                                     "outcome", "failure_side", "min_mos", "max_mos", "min_pdd",
                                     "sort", "order", "cursor", "limit", "site", "number",
                                     "call_id", "addr", "port", "final_status", "user_agent",
                                     NULL };
    if (!params_allow(a, P))
        return;
    struct stq_call_filter f;
    memset(&f, 0, sizeof f);
    f.desc = true;
    f.limit = TS_API_PAGE_DEFAULT;
    const char *v;
    int64_t i64;
    if (!param_range(a, &f.from_ns, &f.has_from, &f.to_ns, &f.has_to))
        return;
    const char *num[2] = { "caller", "callee" };
    char *dst[2] = { f.caller, f.callee };
    for (int k = 0; k < 2; k++) {
        if (!(v = param(a, num[k])))
            continue;
        size_t n = strlen(v);
        bool ok = n >= 1 && n < sizeof f.caller;
        for (size_t i = 0; ok && i < n; i++)
            ok = v[i] >= '0' && v[i] <= '9';
        if (!ok)
            return (void)api_error(a, 400, "bad_parameter", "%s: 1 to %zu digits", num[k],
                                   sizeof f.caller - 1);
        memcpy(dst[k], v, n + 1);
    }
    if ((v = param(a, "match"))) {
        if (strcmp(v, "contains") != 0 && strcmp(v, "suffix") != 0)
            return (void)api_error(a, 400, "bad_parameter", "match: contains or suffix");
        f.number_suffix = v[0] == 's';
    }
    /* a short substring (contains, the default) matches nearly everything
     * and is the slowest search: suffixes may be short, substrings not */
    if (!f.number_suffix && ((f.caller[0] && strlen(f.caller) < TS_API_MIN_CONTAINS) ||
                             (f.callee[0] && strlen(f.callee) < TS_API_MIN_CONTAINS)))
        return (void)api_error(a, 400, "bad_parameter",
                               "caller/callee: at least %d digits (or match=suffix)",
                               TS_API_MIN_CONTAINS);
    if ((v = param(a, "trunk"))) {
        if (!num_i64(v, 1, INT64_MAX, &f.trunk_id))
            return (void)api_error(a, 400, "bad_parameter", "trunk: a trunk id");
    }
    if ((v = param(a, "site"))) {
        if (!parse_site(v))
            return (void)api_error(a, 400, "bad_parameter", SITE_ERR, TS_SITE_LEN - 1);
        f.site = v;
    }
    if ((v = param(a, "direction")) &&
        !parse_enum_list(v, dir_name, 4, f.direction, &f.ndirection))
        return (void)api_error(a, 400, "bad_parameter",
                               "direction: inbound, outbound, internal or transit "
                               "(comma-separated)");
    if ((v = param(a, "outcome")) &&
        !parse_enum_list(v, outcome_name, CALLS_OUTCOME_N, f.outcome, &f.noutcome))
        return (void)api_error(a, 400, "bad_parameter",
                               "outcome: answered, busy, rejected, cancelled, failed, timeout, "
                               "in_progress or pending (comma-separated)");
    if ((v = param(a, "failure_side")) &&
        !parse_enum_list(v, side_name, 4, f.failure_side, &f.nfailure_side))
        return (void)api_error(a, 400, "bad_parameter",
                               "failure_side: none, enterprise, sbc or itsp (comma-separated)");
    if ((v = param(a, "final_status")) && !parse_status_list(v, f.final_status, &f.nfinal_status))
        return (void)api_error(a, 400, "bad_parameter",
                               "final_status: SIP codes 100 to 699 or none, at most %d, "
                               "comma-separated", TS_API_LIST_MAX);
    if ((v = param(a, "number")) && !parse_number(v, &f))
        return (void)api_error(a, 400, "bad_parameter",
                               "number: a number in any format (+E.164, national, 00...) or a "
                               "user name, 1 to 64 characters");
    if ((v = param(a, "call_id"))) {
        if (!printable(v, CALLS_TEXT_LEN - 1))
            return (void)api_error(a, 400, "bad_parameter", "call_id: 1 to %d characters",
                                   CALLS_TEXT_LEN - 1);
        f.call_id = v;
    }
    if ((v = param(a, "addr")) && !parse_addr(v, f.addr, sizeof f.addr, &f.port))
        return (void)api_error(a, 400, "bad_parameter",
                               "addr: an IPv4 or IPv6 address, optionally with :port "
                               "([v6]:port)");
    if ((v = param(a, "port"))) {
        int64_t pt;
        if (!num_i64(v, 1, 65535, &pt) || (f.port && f.port != pt))
            return (void)api_error(a, 400, "bad_parameter", "port: 1 to 65535");
        f.port = pt;
    }
    if ((v = param(a, "user_agent"))) {
        if (!printable(v, 63))
            return (void)api_error(a, 400, "bad_parameter", "user_agent: 1 to 63 characters");
        f.user_agent = v;
    }
    if ((v = param(a, "min_mos"))) {
        if (!parse_real(v, 1.0, 5.0, &f.min_mos))
            return (void)api_error(a, 400, "bad_parameter", "min_mos: 1.0 to 5.0");
        f.has_min_mos = true;
    }
    if ((v = param(a, "max_mos"))) {
        if (!parse_real(v, 1.0, 5.0, &f.max_mos))
            return (void)api_error(a, 400, "bad_parameter", "max_mos: 1.0 to 5.0");
        f.has_max_mos = true;
    }
    if ((v = param(a, "min_pdd"))) {
        if (!num_i64(v, 0, 3600000, &f.min_pdd_ms))
            return (void)api_error(a, 400, "bad_parameter", "min_pdd: milliseconds, 0 to 3600000");
        f.has_min_pdd = true;
    }
    if ((v = param(a, "sort"))) {
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(v, SORT_NAMES[i]) == 0)
                k = i;
        if (k < 0)
            return (void)api_error(a, 400, "bad_parameter", "sort: start, duration, pdd or mos");
        f.sort = (enum stq_sort)k;
    }
    if ((v = param(a, "order"))) {
        if (strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0)
            return (void)api_error(a, 400, "bad_parameter", "order: asc or desc");
        f.desc = v[0] == 'd';
    }
    if ((v = param(a, "limit"))) {
        if (!num_i64(v, 1, TS_API_PAGE_MAX, &i64))
            return (void)api_error(a, 400, "bad_parameter", "limit: 1 to %d", TS_API_PAGE_MAX);
        f.limit = (uint32_t)i64;
    }
    if ((v = param(a, "cursor")) && !cursor_decode(v, f.sort, f.desc, &f.after))
        return (void)api_error(a, 400, "bad_parameter",
                               "cursor: not a cursor of this listing (same sort and order)");

    json_t *rows = json_array();
    struct stq_cursor next;
    int rc = stq_calls(api_db(a), &f, row_to_array, rows, &next);
    if (rc != ST_OK) {
        json_decref(rows);
        if (rc == ST_ERR_NOT_FOUND)
            return (void)api_error(a, 400, "bad_parameter", "trunk: no such trunk");
        return (void)db_fail(a, rc);
    }
    size_t ri;
    json_t *row;
    json_array_foreach(rows, ri, row)
        media_bools(row);
    a->json = json_object();
    json_object_set_new(a->json, "calls", rows);
    if (next.valid) {
        char cur[192];
        cursor_encode(&next, f.sort, f.desc, cur, sizeof cur);
        json_object_set_new(a->json, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(a->json, "next_cursor", json_null());
    }
    json_object_set_new(a->json, "limit", json_integer(f.limit));
    /* a port or User-Agent filter reads the newest legs only: say so */
    json_object_set_new(a->json, "partial", json_boolean(next.partial));
    json_object_set_new(a->json, "searched_from_ms",
                        next.partial ? json_integer(next.searched_from_ns / NS_PER_MS)
                                     : json_null());
}

/* Messages of a call: rows plus the list of nodes in order of appearance. */
struct msg_ctx {
    json_t *msgs, *nodes;
    int64_t t0_ns;
    int64_t n;
};

static void add_node(json_t *nodes, const struct stq_cell *c)
{
    if (!c || c->type != STQ_TEXT)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(nodes, i, v)
    {
        if (strlen(json_string_value(v)) == c->len && memcmp(json_string_value(v), c->s, c->len) == 0)
            return;
    }
    if (json_array_size(nodes) < 64)
        json_array_append_new(nodes, api_jtext(c->s, c->len));
}

static int msg_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct msg_ctx *m = ctx;
    json_t *o = json_object();
    const struct stq_cell *ts = cell(c, n, "ts_ns"), *head = cell(c, n, "head");
    const struct stq_cell *raw = cell(c, n, "raw");
    json_object_set_new(o, "n", json_integer((json_int_t)m->n++));
    for (size_t i = 0; i < n; i++) {
        if (c[i].type == STQ_BLOB || strcmp(c[i].name, "ts_ns") == 0 ||
            strcmp(c[i].name, "head") == 0 || strcmp(c[i].name, "raw") == 0)
            continue;
        json_object_set_new(o, c[i].name, jcell(&c[i]));
    }
    double t_ms = ts && ts->type == STQ_INT ? (double)(ts->i - m->t0_ns) / 1e6 : 0.0;
    json_object_set_new(o, "t_ms", json_real(t_ms));
    /* the start line, for the ladder's arrow label */
    size_t len = 0;
    if (head && (head->type == STQ_BLOB || head->type == STQ_TEXT)) {
        while (len < head->len && head->s[len] != '\r' && head->s[len] != '\n')
            len++;
        if (len > 120)
            len = 120;
    }
    json_object_set_new(o, "first_line", api_jtext(head ? head->s : "", len));
    /* the SDP it carries, for the arrow's annotation (codec, address, direction) */
    json_t *sdp = raw && (raw->type == STQ_BLOB || raw->type == STQ_TEXT)
                      ? api_sdp_view((const uint8_t *)raw->s, raw->len)
                      : NULL;
    json_object_set_new(o, "sdp", sdp ? sdp : json_null());
    add_node(m->nodes, cell(c, n, "src"));
    add_node(m->nodes, cell(c, n, "dst"));
    json_array_append_new(m->msgs, o);
    return 0;
}

static json_t *jbool(const struct stq_cell *c)
{
    return c->type == STQ_INT ? json_boolean(c->i != 0) : json_null();
}

/* "0,8,101" (written by the store) as [0, 8, 101]. */
static json_t *jint_list(const struct stq_cell *c)
{
    json_t *a = json_array();
    if (c->type != STQ_TEXT)
        return a;
    int64_t v = -1;
    for (size_t i = 0; i <= c->len; i++) {
        char ch = i < c->len ? c->s[i] : ',';
        if (ch >= '0' && ch <= '9' && v < 1000000)
            v = (v < 0 ? 0 : v * 10) + (ch - '0');
        else if (ch == ',' && v >= 0) {
            json_array_append_new(a, json_integer((json_int_t)v));
            v = -1;
        }
    }
    return a;
}

/* A stream row: RTCP columns into an "rtcp" object, 0/1 columns as
 * booleans, the flag bits also by name ("detections"). */
static int stream_row(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t *o = json_object(), *rtcp = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *k = c[i].name;
        if (c[i].type == STQ_BLOB)
            continue;
        if (strncmp(k, "rtcp_", 5) == 0) {
            k += 5;
            bool b = strcmp(k, "srtcp") == 0 || strcmp(k, "xr_voip") == 0;
            json_object_set_new(rtcp, k, b ? jbool(&c[i]) : jcell(&c[i]));
        } else if (strcmp(k, "problem") == 0 || strcmp(k, "signalled") == 0) {
            json_object_set_new(o, k, jbool(&c[i]));
        } else if (strcmp(k, "payload_types") == 0) {
            json_object_set_new(o, k, jint_list(&c[i]));
        } else {
            json_object_set_new(o, k, jcell(&c[i]));
            if (strcmp(k, "flags") == 0) {
                json_t *d = json_object();
                int64_t f = c[i].type == STQ_INT ? c[i].i : 0;
                for (unsigned b = 0; media_flag_name(b); b++)
                    json_object_set_new(d, media_flag_name(b), json_boolean(f & (1ll << b)));
                json_object_set_new(o, "detections", d);
            }
        }
    }
    json_object_set_new(o, "rtcp", rtcp);
    json_array_append_new((json_t *)ctx, o);
    return 0;
}

static void h_call(struct api_call *a, int64_t id)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct stq *q = api_db(a);
    json_t *call = NULL;
    int rc = stq_call(q, id, row_to_obj, &call);
    if (rc != ST_OK)
        return (void)db_fail(a, rc);
    json_t *legs = json_array();
    rc = stq_call_legs(q, id, row_to_array, legs);
    size_t li;
    json_t *lg;
    json_array_foreach(legs, li, lg)
        media_bools(lg);
    if (call)
        media_bools(call);
    struct msg_ctx m = { .msgs = json_array(), .nodes = json_array() };
    const char *start = json_string_value(json_object_get(call, "start"));
    json_t *sms = json_object_get(call, "start_ms");
    m.t0_ns = json_is_integer(sms) ? (int64_t)json_integer_value(sms) * NS_PER_MS : 0;
    (void)start;
    bool more = false;
    if (rc == ST_OK)
        rc = stq_call_messages(q, id, TS_API_MAX_CALL_MESSAGES, msg_row, &m, &more);
    json_t *streams = json_array(), *packets = NULL;
    if (rc == ST_OK)
        rc = stq_call_streams(q, id, TS_API_MAX_CALL_STREAMS, stream_row, streams);
    if (rc == ST_OK)
        rc = stq_call_packets(q, id, row_to_obj, &packets);
    size_t i;
    json_t *st;
    json_array_foreach(streams, i, st)
    {
        json_t *series = json_array();
        json_t *sid = json_object_get(st, "id");
        if (rc == ST_OK && json_is_integer(sid))
            rc = stq_stream_series(q, (int64_t)json_integer_value(sid), TS_MEDIA_MAX_SERIES,
                                   row_to_array, series);
        json_object_set_new(st, "series", series);
    }
    /* correlation evidence: how each leg after the first was linked */
    json_t *ev = json_array(), *leg;
    json_array_foreach(legs, i, leg)
    {
        json_t *e = json_object();
        json_object_set_new(e, "leg", json_incref(json_object_get(leg, "idx")));
        json_object_set(e, "linked_to", json_object_get(leg, "linked_to"));
        json_object_set(e, "type", json_object_get(leg, "evidence"));
        json_object_set(e, "confidence", json_object_get(leg, "confidence"));
        json_object_set(e, "call_id", json_object_get(leg, "call_id"));
        json_array_append_new(ev, e);
    }
    if (rc != ST_OK) {
        json_decref(call);
        json_decref(legs);
        json_decref(m.msgs);
        json_decref(m.nodes);
        json_decref(streams);
        json_decref(ev);
        json_decref(packets);
        return (void)db_fail(a, rc);
    }
    /* where /pcap (and /audio) will find the call's frames: the client
     * knows before asking that a live call's packets aged out (410) */
    const char *where = json_string_value(json_object_get(packets, "packets"));
    a->json = json_object();
    json_object_set_new(a->json, "call", call);
    json_object_set_new(a->json, "legs", legs);
    json_object_set_new(a->json, "evidence", ev);
    json_object_set_new(a->json, "nodes", m.nodes);
    json_object_set_new(a->json, "messages", m.msgs);
    json_object_set_new(a->json, "messages_truncated", json_boolean(more));
    json_object_set_new(a->json, "streams", streams);
    json_object_set_new(a->json, "packets", json_string(where ? where : "not_kept"));
    json_object_set_new(a->json, "pcap_available",
                        json_boolean(where && (!strcmp(where, "capture") || !strcmp(where, "spool"))));
    json_decref(packets);
}

struct raw_ctx {
    json_t *o;
    char *raw;
    size_t len;
};

static int raw_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct raw_ctx *r = ctx;
    r->o = json_object();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].name, "raw") == 0) {
            r->len = c[i].len;
            r->raw = malloc(r->len + 1);
            if (r->raw) {
                if (r->len)
                    memcpy(r->raw, c[i].s, r->len);
                r->raw[r->len] = '\0';
            }
        } else {
            json_object_set_new(r->o, c[i].name, jcell(&c[i]));
        }
    }
    return 1;
}

static void h_message(struct api_call *a, int64_t id, int64_t n)
{
    static const char *const P[] = { "format", NULL };
    if (!params_allow(a, P))
        return;
    const char *fmt = param(a, "format");
    if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "text") != 0)
        return (void)api_error(a, 400, "bad_parameter", "format: json or text");
    struct stq *q = api_db(a);
    if (stq_call_exists(q, id) < 0)
        return (void)api_error(a, 404, "not_found", "no such call");
    struct raw_ctx r = { 0 };
    int rc = stq_call_message_raw(q, id, n, raw_row, &r);
    if (rc != ST_OK || !r.raw) {
        json_decref(r.o);
        free(r.raw);
        if (rc == ST_ERR_NOT_FOUND)
            return (void)api_error(a, 404, "not_found", "no such message in this call");
        return (void)db_fail(a, rc == ST_OK ? ST_ERR_NOMEM : rc);
    }
    bool valid = utf8_valid(r.raw, r.len);
    if (fmt && strcmp(fmt, "text") == 0) {
        json_decref(r.o);
        if (!valid) { /* never invalid bytes under a utf-8 label: U+FFFD */
            char *fixed = r.len <= SIZE_MAX / 3 ? malloc(r.len * 3 + 1) : NULL;
            if (!fixed) {
                free(r.raw);
                return (void)db_fail(a, ST_ERR_NOMEM);
            }
            r.len = utf8_fix(r.raw, r.len, fixed);
            free(r.raw);
            r.raw = fixed;
        }
        a->body = r.raw;
        a->body_len = r.len;
        a->ctype = "text/plain; charset=utf-8";
        return;
    }
    json_object_set_new(r.o, "n", json_integer((json_int_t)n));
    json_object_set_new(r.o, "size", json_integer((json_int_t)r.len));
    json_object_set_new(r.o, "utf8_valid", json_boolean(valid));
    json_object_set_new(r.o, "text", api_jtext(r.raw, r.len));
    free(r.raw);
    a->json = r.o;
}

static void h_pcap(struct api_call *a, int64_t id)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    if (stq_call_exists(api_db(a), id) < 0)
        return (void)api_error(a, 404, "not_found", "no such call");
    if (!api_export_begin(a->srv))
        return (void)api_error(a, 429, "busy", "too many exports at once, retry");
    const char *dir = getenv("TMPDIR");
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/trunkscope-export-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        api_export_end(a->srv);
        return (void)api_error(a, 500, "internal", "cannot create a temporary file");
    }
    struct st_export_stats es;
    int rc = st_export_call(api_db_path(a->srv), id, path, &es, err, sizeof err);
    api_export_end(a->srv);
    /* the open descriptor keeps the data; the name goes at once */
    int rfd = rc == ST_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    unlink(path);
    close(fd);
    struct stat sb;
    if (rc != ST_OK || rfd < 0 || fstat(rfd, &sb) != 0) {
        if (rfd >= 0)
            close(rfd);
        if (rc == ST_ERR_NOT_FOUND)
            return (void)api_error(a, 404, "not_found", "no such call");
        if (rc == ST_ERR_CHANGED || rc == ST_ERR_IO)
            return (void)api_error(a, 409, "capture_unavailable", "%s", err);
        if (rc == ST_ERR_GONE) /* a live call not (or no longer) in the spool */
            return (void)api_error(a, 410, "packets_gone", "%s", err);
        return (void)api_error(a, 500, "internal", "export failed");
    }
    a->fd = rfd;
    a->fd_len = (uint64_t)sb.st_size;
    a->ctype = "application/vnd.tcpdump.pcap";
    snprintf(a->filename, sizeof a->filename, "call-%lld.pcap", (long long)id);
}

/* The call's audio as a WAV (store/export_audio.c), when the configuration
 * turned audio on: recordings are personal data. Written to an unlinked
 * temporary file first, then streamed from it like the pcap. */
static void h_audio(struct api_call *a, int64_t id)
{
    static const char *const P[] = { "leg", NULL };
    if (!params_allow(a, P))
        return;
    if (!a->srv->audio)
        return (void)api_error(a, 403, "audio_off",
                               "audio is off: recordings are personal data; the server's "
                               "configuration must say audio = on");
    int64_t leg = -1;
    const char *ls = param(a, "leg");
    if (ls && !num_i64(ls, 0, 1000, &leg))
        return (void)api_error(a, 400, "bad_parameter", "leg: expected a leg number 0..1000");
    if (stq_call_exists(api_db(a), id) < 0)
        return (void)api_error(a, 404, "not_found", "no such call");
    if (!api_export_begin(a->srv))
        return (void)api_error(a, 429, "busy", "too many exports at once, retry");
    const char *dir = getenv("TMPDIR");
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/trunkscope-audio-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (fd >= 0)
        unlink(path); /* the open file keeps the data */
    if (!f) {
        if (fd >= 0)
            close(fd);
        api_export_end(a->srv);
        return (void)api_error(a, 500, "internal", "cannot create a temporary file");
    }
    struct st_audio_result r;
    int rc = st_export_audio(api_db_path(a->srv), id, (int)leg, f, NULL, &r, err, sizeof err);
    api_export_end(a->srv);
    int rfd = -1;
    struct stat sb;
    if (rc == ST_OK && fflush(f) == 0)
        rfd = dup(fileno(f));
    fclose(f);
    if (rc != ST_OK || rfd < 0 || fstat(rfd, &sb) != 0) {
        if (rfd >= 0)
            close(rfd);
        if (rc == ST_ERR_NOT_FOUND)
            return (void)api_error(a, 404, "not_found", "%s", err);
        if (rc == ST_ERR_CHANGED || rc == ST_ERR_IO)
            return (void)api_error(a, 409, "capture_unavailable", "%s", err);
        if (rc == ST_ERR_GONE) /* a live call not (or no longer) in the spool */
            return (void)api_error(a, 410, "packets_gone", "%s", err);
        return (void)api_error(a, 500, "internal", "audio export failed");
    }
    lseek(rfd, 0, SEEK_SET);
    a->fd = rfd;
    a->fd_len = (uint64_t)sb.st_size;
    a->ctype = "audio/wav";
    snprintf(a->filename, sizeof a->filename, "call-%lld.wav", (long long)id);
}

/* MOS mean per trunk id (small array indexed by position in trunks). */
struct mos_acc {
    json_t *trunks;
};

static int mos_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct mos_acc *m = ctx;
    const struct stq_cell *tid = cell(c, n, "trunk_id"), *mos = cell(c, n, "mos"),
                          *cnt = cell(c, n, "n");
    if (!tid || !mos || mos->type != STQ_REAL)
        return 0;
    json_int_t k = cnt && cnt->type == STQ_INT && cnt->i > 0 ? (json_int_t)cnt->i : 1;
    size_t i;
    json_t *t;
    json_array_foreach(m->trunks, i, t)
    {
        if (json_integer_value(json_object_get(t, "id")) == tid->i) {
            json_object_set_new(t, "_mos_sum",
                                json_real(json_real_value(json_object_get(t, "_mos_sum")) +
                                          mos->d * (double)k));
            json_object_set_new(t, "_mos_n",
                                json_integer(json_integer_value(json_object_get(t, "_mos_n")) + k));
        }
    }
    return 0;
}

/* Per-trunk MOS mean and the live-only active calls, for trunk objects. */
/* Per-trunk calls up from a running sensor's snapshot: "_up" on its trunk. */
static int live_trunk_row(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t *trunks = ctx;
    const struct stq_cell *tid = cell(c, n, "trunk_id"), *calls = cell(c, n, "calls");
    size_t i;
    json_t *t;
    json_array_foreach(trunks, i, t)
        if (tid && calls && json_integer_value(json_object_get(t, "id")) == tid->i)
            json_object_set_new(t, "_up", json_integer((json_int_t)calls->i));
    return 0;
}

static int trunks_finish(struct stq *q, json_t *t)
{
    struct mos_acc m = { t };
    int rc = stq_trunk_mos(q, mos_row, &m);
    /* a running sensor: every trunk has a count (0 when nothing is up) */
    json_t *st = NULL;
    bool running = false;
    if (rc == ST_OK && stq_live_state(q, row_to_obj, &st) == ST_OK && st)
        running = json_integer_value(json_object_get(st, "running")) != 0;
    json_decref(st);
    if (rc == ST_OK && running)
        rc = stq_live_trunks(q, live_trunk_row, t);
    size_t i;
    json_t *v;
    json_array_foreach(t, i, v)
    {
        json_int_t nm = json_integer_value(json_object_get(v, "_mos_n"));
        json_object_set_new(v, "mos", nm ? json_real(json_real_value(json_object_get(v, "_mos_sum")) /
                                                     (double)nm)
                                         : json_null());
        json_object_del(v, "_mos_sum");
        json_object_del(v, "_mos_n");
        /* per trunk: a running sensor's snapshot only */
        json_t *up = json_object_get(v, "_up");
        json_object_set_new(v, "active_calls",
                            running ? json_integer(up ? json_integer_value(up) : 0) : json_null());
        json_object_del(v, "_up");
    }
    if (rc == ST_OK)
        rc = api_trunks_health(q, t, 0);
    return rc;
}

static void h_trunks(struct api_call *a)
{
    static const char *const P[] = { "site", NULL };
    if (!params_allow(a, P))
        return;
    const char *site = param(a, "site");
    if (site && !parse_site(site))
        return (void)api_error(a, 400, "bad_parameter", SITE_ERR, TS_SITE_LEN - 1);
    struct stq *q = api_db(a);
    json_t *t = json_array();
    int rc = stq_trunks_site(q, site, row_to_array, t);
    if (rc == ST_OK)
        rc = trunks_finish(q, t);
    if (rc != ST_OK) {
        json_decref(t);
        return (void)db_fail(a, rc);
    }
    a->json = json_object();
    json_object_set_new(a->json, "trunks", t);
}

/* The learned topology: nodes (addresses as an array) and the trunks
 * between them, each trunk end tied to the node holding that address. */
static json_t *node_of(json_t *nodes, const char *addr)
{
    size_t i, k;
    json_t *n, *ad;
    json_array_foreach(nodes, i, n)
    {
        json_array_foreach(json_object_get(n, "addresses"), k, ad)
        {
            if (addr && strcmp(json_string_value(ad), addr) == 0)
                return json_object_get(n, "id");
        }
    }
    return NULL;
}

static void h_topology(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct stq *q = api_db(a);
    json_t *nodes = json_array(), *trunks = json_array();
    int rc = stq_topology(q, row_to_array, nodes);
    if (rc == ST_OK)
        rc = stq_trunks(q, row_to_array, trunks);
    if (rc == ST_OK)
        rc = trunks_finish(q, trunks);
    if (rc != ST_OK) {
        json_decref(nodes);
        json_decref(trunks);
        return (void)db_fail(a, rc);
    }
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *s = json_string_value(json_object_get(n, "addresses"));
        json_t *arr = json_array();
        while (s && *s) {
            const char *e = strchr(s, ' ');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            json_array_append_new(arr, json_stringn(s, l));
            s += l;
            while (*s == ' ')
                s++;
        }
        json_object_set_new(n, "addresses", arr);
        json_object_set_new(n, "b2bua",
                            json_boolean(json_integer_value(json_object_get(n, "b2bua")) != 0));
    }
    json_array_foreach(trunks, i, n)
    {
        json_t *ln = node_of(nodes, json_string_value(json_object_get(n, "local")));
        json_t *pn = node_of(nodes, json_string_value(json_object_get(n, "peer")));
        json_object_set(n, "local_node", ln ? ln : json_null());
        json_object_set(n, "peer_node", pn ? pn : json_null());
    }
    a->json = json_object();
    json_object_set_new(a->json, "nodes", nodes);
    json_object_set_new(a->json, "trunks", trunks);
}

static void h_sites(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    json_t *s = json_array();
    int rc = stq_sites(api_db(a), row_to_array, s);
    if (rc == ST_OK)
        rc = api_sites_health(api_db(a), s);
    listing(a, rc, s, "sites");
}

static double codec_kbps(const char *name)
{
    if (strcasecmp(name, "G729") == 0)
        return calls_codec_kbps(CALLS_CODEC_G729);
    if (strcasecmp(name, "opus") == 0)
        return calls_codec_kbps(CALLS_CODEC_OPUS);
    return calls_codec_kbps(CALLS_CODEC_G711);
}

/* 0/1 columns of a TLS peer or other-flow row as booleans. */
static void tls_bools(json_t *arr)
{
    static const char *const keys[] = { "mtls", "client_cert_requested", "expiry_warning",
                                        "guessed" };
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            json_t *v = json_object_get(o, keys[k]);
            if (json_is_integer(v))
                json_object_set_new(o, keys[k], json_boolean(json_integer_value(v) != 0));
        }
    }
}

/* A pair's connections by decryption verdict: stored as a JSON object's
 * text (schema v21), served as the object ({} without keys). */
static void tls_decrypt_obj(json_t *arr)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *v = json_object_get(o, "decrypt");
        json_t *d = json_is_string(v) ? json_loads(json_string_value(v), 0, NULL) : NULL;
        json_object_set_new(o, "decrypt", json_is_object(d) ? d : json_object());
        if (d && !json_is_object(d))
            json_decref(d);
    }
}

static const char *verdict_name(int i) { return tlsdec_verdict_str((enum tlsdec_status)i); }

/* GET /tls/connections?trunk=ID&addr=A[:PORT]&verdict=V,..&from=T&to=T&limit=N:
 * the newest connections, each with why it was or was not decrypted. */
static void h_tls_conns(struct api_call *a)
{
    static const char *const P[] = { "trunk", "addr", "verdict", "from", "to", "limit", NULL };
    if (!params_allow(a, P))
        return;
    struct stq_tls_filter f;
    memset(&f, 0, sizeof f);
    f.limit = TS_API_TLS_ROWS_MAX;
    const char *v;
    int64_t i64;
    if (!param_range(a, &f.from_ns, &f.has_from, &f.to_ns, &f.has_to))
        return;
    if ((v = param(a, "trunk")) && !num_i64(v, 1, INT64_MAX, &f.trunk_id))
        return (void)api_error(a, 400, "bad_parameter", "trunk: a trunk id (positive integer)");
    if ((v = param(a, "addr")) && !parse_addr(v, f.addr, sizeof f.addr, &f.port))
        return (void)api_error(a, 400, "bad_parameter",
                               "addr: an IPv4 or IPv6 address, optionally with :port "
                               "([v6]:port)");
    if ((v = param(a, "verdict")) &&
        !parse_enum_list(v, verdict_name, TLSDEC_NSTATUS, f.verdict, &f.nverdict))
        return (void)api_error(a, 400, "bad_parameter",
                               "verdict: a comma-separated list (at most %d) of decrypted, "
                               "incomplete, no_handshake, no_key, forward_secret, "
                               "rsa_key_mismatch, unsupported, auth_failed, lost",
                               TS_API_LIST_MAX);
    if ((v = param(a, "limit"))) {
        if (!num_i64(v, 1, TS_API_TLS_ROWS_MAX, &i64))
            return (void)api_error(a, 400, "bad_parameter", "limit: 1 to %d", TS_API_TLS_ROWS_MAX);
        f.limit = (uint32_t)i64;
    }
    json_t *rows = json_array();
    listing(a, stq_tls_conns(api_db(a), &f, row_to_array, rows), rows, "connections");
}

/* TLS status per peer pair (schema v14): what the handshakes showed. */
static void h_tls(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    json_t *peers = json_array();
    if (listing(a, stq_tls_peers(api_db(a), row_to_array, peers), peers, "peers")) {
        tls_bools(peers);
        tls_decrypt_obj(peers);
    }
}

/* The other flows of the trunk links (nDPI's inventory). */
static void h_other_flows(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    json_t *flows = json_array();
    if (listing(a, stq_other_flows(api_db(a), 0, row_to_array, flows), flows, "flows"))
        tls_bools(flows);
}

static void h_trunk(struct api_call *a, int64_t id)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct stq *q = api_db(a);
    json_t *t = NULL, *one = json_array();
    int rc = stq_trunk(q, id, row_to_obj, &t);
    if (rc == ST_OK) {
        json_array_append(one, t);
        rc = trunks_finish(q, one);
    }
    json_decref(one);
    if (rc != ST_OK) {
        json_decref(t);
        return (void)db_fail(a, rc);
    }
    json_t *dirs = json_array(), *codes = json_array(), *codecs = json_array(),
           *regs = json_array(), *keep = json_array(), *fails = json_array();
    rc = stq_trunk_directions(q, id, row_to_array, dirs);
    if (rc == ST_OK)
        rc = stq_trunk_failures(q, id, row_to_array, fails);
    if (rc == ST_OK)
        rc = stq_trunk_codes(q, id, row_to_array, codes);
    if (rc == ST_OK)
        rc = stq_trunk_codecs(q, id, row_to_array, codecs);
    if (rc == ST_OK)
        rc = stq_registrations(q, id, row_to_array, regs);
    if (rc == ST_OK)
        rc = stq_keepalives(q, id, row_to_array, keep);
    json_t *cap = NULL, *cl = NULL;
    if (rc == ST_OK)
        rc = api_trunk_capacity(
            q, id, json_integer_value(json_object_get(t, "peak_concurrent")), &cap);
    if (rc == ST_OK)
        rc = api_trunk_checklist(q, id, &cl);
    json_t *tls = json_array(), *other = json_array();
    if (rc == ST_OK)
        rc = stq_trunk_tls(q, id, row_to_array, tls);
    if (rc == ST_OK)
        rc = stq_other_flows(q, id, row_to_array, other);
    if (rc != ST_OK) {
        json_decref(cap);
        json_decref(cl);
        json_decref(tls);
        json_decref(other);
        json_decref(t);
        json_decref(dirs);
        json_decref(codes);
        json_decref(codecs);
        json_decref(regs);
        json_decref(keep);
        json_decref(fails);
        return (void)db_fail(a, rc);
    }
    /* implied bandwidth: peak concurrency x the answered codec mix, per direction */
    double wsum = 0, n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(codecs, i, c)
    {
        const char *nm = json_string_value(json_object_get(c, "codec"));
        double k = (double)json_integer_value(json_object_get(c, "count"));
        wsum += k * codec_kbps(nm ? nm : "");
        n += k;
    }
    double per_call = n > 0 ? wsum / n : calls_codec_kbps(CALLS_CODEC_G711);
    json_int_t peak = json_integer_value(json_object_get(t, "peak_concurrent"));
    a->json = json_object();
    json_object_set_new(a->json, "trunk", t);
    json_object_set_new(a->json, "directions", dirs);
    json_object_set_new(a->json, "codes", codes);
    json_object_set_new(a->json, "failures", fails);
    json_object_set_new(a->json, "codecs", codecs);
    json_object_set_new(a->json, "kbps_per_call", json_real(per_call));
    /* one figure everywhere: the stored peak (written with the trunk since
     * schema 10); older databases get the estimate from the codec mix */
    json_t *stored = json_object_get(t, "peak_kbps");
    json_object_set_new(a->json, "peak_kbps",
                        json_is_number(stored) ? json_real(json_number_value(stored))
                                               : json_real(per_call * (double)peak));
    json_object_set_new(a->json, "registrations", regs);
    json_object_set_new(a->json, "keepalives", keep);
    json_object_set_new(a->json, "capacity", cap);
    json_object_set_new(a->json, "checklist", cl);
    /* the TLS status between the trunk's addresses (the newest pair first;
     * none: null) and the other flows touching them */
    tls_bools(tls);
    tls_decrypt_obj(tls);
    tls_bools(other);
    json_t *t0 = json_array_get(tls, 0);
    json_object_set(a->json, "tls", t0 ? t0 : json_null());
    json_object_set_new(a->json, "tls_peers", tls);
    json_object_set_new(a->json, "other_flows", other);
}

/* GET /trunks/{id}/checklist: the stored Lync trunk checklist. */
static void h_checklist(struct api_call *a, int64_t id)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct stq *q = api_db(a);
    json_t *t = NULL, *cl = NULL;
    int rc = stq_trunk(q, id, row_to_obj, &t);
    json_decref(t);
    if (rc == ST_OK)
        rc = api_trunk_checklist(q, id, &cl);
    if (rc != ST_OK)
        return (void)db_fail(a, rc);
    json_object_set_new(cl, "trunk_id", json_integer(id));
    a->json = cl;
}

/* Points of a KPI series without a bucket parameter, at most. */
#define KPI_AUTO_POINTS 180

static void h_kpis(struct api_call *a, int64_t trunk_id)
{
    static const char *const P[] = { "from", "to", "bucket", "site", NULL };
    static const char *const PT[] = { "from", "to", "bucket", NULL };
    if (!params_allow(a, trunk_id ? PT : P))
        return;
    const char *site = param(a, "site");
    if (site && !parse_site(site))
        return (void)api_error(a, 400, "bad_parameter", SITE_ERR, TS_SITE_LEN - 1);
    struct stq *q = api_db(a);
    if (trunk_id) {
        json_t *t = NULL;
        int rc = stq_trunk(q, trunk_id, row_to_obj, &t);
        json_decref(t);
        if (rc != ST_OK)
            return (void)db_fail(a, rc);
    }
    int64_t first = 0, last = 0, from, to, bucket_s = 0;
    if ((site ? stq_site_range(q, site, &first, &last)
              : stq_kpi_range(q, trunk_id, &first, &last)) != ST_OK)
        return (void)db_fail(a, ST_ERR_SQL);
    const char *v;
    from = first - first % (60 * NS_PER_S);
    to = last - last % (60 * NS_PER_S) + 60 * NS_PER_S;
    if (!param_range(a, &from, NULL, &to, NULL))
        return;
    /* a trunk's series sums its stored minutes, or under a minute counts
     * its legs; the overview counts calls */
    int64_t unit = 10;
    if ((v = param(a, "bucket"))) {
        if (!num_i64(v, unit, 86400, &bucket_s) || bucket_s % unit)
            return (void)api_error(a, 400, "bad_parameter",
                                   "bucket: seconds, a multiple of %lld from %lld to 86400",
                                   (long long)unit, (long long)unit);
    } else {
        /* the smallest round step giving at most KPI_AUTO_POINTS points:
         * seconds for a short capture, an hour for a week */
        static const int64_t steps[] = { 10,   20,   30,    60,    120,   300,  600,  900,
                                         1800, 3600, 7200, 10800, 21600, 43200, 86400 };
        int64_t span_s = (to - from) / NS_PER_S;
        bucket_s = 86400;
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            if (steps[i] >= unit && span_s / steps[i] < KPI_AUTO_POINTS) {
                bucket_s = steps[i];
                break;
            }
    }
    int64_t b = bucket_s * NS_PER_S;
    /* a range left open starts on a multiple of its bucket (the clock's
     * minutes, hours, days in UTC), which a trunk's hourly rollup answers */
    if (!param(a, "from") && from > 0)
        from -= from % b;
    if ((to - from) / b >= (int64_t)TS_API_MAX_KPI_POINTS)
        return (void)api_error(a, 400, "bad_parameter", "at most %d points: widen the bucket",
                               TS_API_MAX_KPI_POINTS);
    json_t *pts = json_array();
    int rc = site ? stq_site_kpis(q, site, from, to, b, row_to_array, pts)
                  : stq_kpis(q, trunk_id, from, to, b, row_to_array, pts);
    if (rc != ST_OK) {
        json_decref(pts);
        if (rc == STQ_ERR_TOO_MANY)
            return (void)api_error(a, 400, "bad_parameter",
                                   "more than %d calls in the range: narrow it",
                                   TS_API_MAX_SERIES_CALLS);
        return (void)db_fail(a, rc);
    }
    a->json = json_object();
    json_object_set_new(a->json, "trunk_id", trunk_id ? json_integer(trunk_id) : json_null());
    json_object_set_new(a->json, "from_ms", json_integer(from / NS_PER_MS));
    json_object_set_new(a->json, "to_ms", json_integer(to / NS_PER_MS));
    json_object_set_new(a->json, "bucket_s", json_integer(bucket_s));
    json_object_set_new(a->json, "points", pts);
}

static void h_registrations(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    struct stq *q = api_db(a);
    json_t *r = json_array(), *k = json_array();
    int rc = stq_registrations(q, 0, row_to_array, r);
    if (rc == ST_OK)
        rc = stq_keepalives(q, 0, row_to_array, k);
    if (rc != ST_OK) {
        json_decref(r);
        json_decref(k);
        return (void)db_fail(a, rc);
    }
    a->json = json_object();
    json_object_set_new(a->json, "registrations", r);
    json_object_set_new(a->json, "keepalives", k);
}

/* Legs in progress grouped into calls (rows come ordered by call). */
static int live_leg_row(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t *calls = ctx;
    const struct stq_cell *key = cell(c, n, "call_key"), *st = cell(c, n, "state");
    size_t last = json_array_size(calls);
    json_t *call = last ? json_array_get(calls, last - 1) : NULL;
    if (!call || !key || json_integer_value(json_object_get(call, "key")) != key->i) {
        call = json_object();
        json_object_set_new(call, "key", json_integer(key ? key->i : 0));
        json_object_set_new(call, "state", json_string("trying"));
        json_object_set_new(call, "legs", json_array());
        json_array_append_new(calls, call);
    }
    /* the call's state: up if a leg is up, else ringing if one rings */
    const char *cs = json_string_value(json_object_get(call, "state"));
    if (st && st->type == STQ_TEXT && cs &&
        ((!strcmp(st->s, "up")) || (!strcmp(st->s, "ringing") && strcmp(cs, "up"))))
        json_object_set_new(call, "state", json_string(!strcmp(st->s, "up") ? "up" : "ringing"));
    json_t *leg = jrow(c, n);
    json_object_del(leg, "call_key");
    json_array_append_new(json_object_get(call, "legs"), leg);
    return 0;
}

static void h_active(struct api_call *a)
{
    static const char *const P[] = { "limit", NULL };
    if (!params_allow(a, P))
        return;
    int64_t lim = TS_API_PAGE_MAX;
    const char *v;
    if ((v = param(a, "limit")) && !num_i64(v, 1, TS_STORE_LIVE_LEGS, &lim))
        return (void)api_error(a, 400, "bad_parameter", "limit: 1 to %d legs",
                               TS_STORE_LIVE_LEGS);
    struct stq *q = api_db(a);
    json_t *state = NULL, *calls = json_array();
    int rc = stq_live_state(q, row_to_obj, &state);
    if (rc == ST_OK)
        rc = stq_live_legs(q, (uint32_t)lim, live_leg_row, calls);
    if (rc != ST_OK) {
        json_decref(state);
        json_decref(calls);
        return (void)db_fail(a, rc);
    }
    json_t *o = json_object();
    static const char *const F[] = { "updated", "capture_time", "age_s", "calls_up",
                                      "legs_up", "legs_ringing", "legs_trying" };
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        json_t *x = state ? json_object_get(state, F[i]) : NULL;
        json_object_set(o, F[i], x ? x : json_null());
    }
    json_t *run = state ? json_object_get(state, "running") : NULL;
    json_object_set_new(o, "running", json_boolean(run && json_integer_value(run) != 0));
    json_object_set_new(o, "calls", calls);
    json_decref(state);
    a->json = o;
}

static void h_openapi(struct api_call *a)
{
    if (!params_allow(a, NULL)) /* takes none */
        return;
    /* served as the bytes prepared at build time, never parsed here */
    a->body = malloc(openapi_json_len);
    if (!a->body)
        return (void)api_error(a, 500, "internal", "out of memory");
    memcpy(a->body, openapi_json, openapi_json_len);
    a->body_len = openapi_json_len;
    a->ctype = "application/json; charset=utf-8";
}

/* ---- routing ---- */

/* Path segments of s after the prefix, split on '/' (at most max). */
static size_t split(const char *s, char seg[][32], size_t max, bool *too_long)
{
    size_t n = 0;
    *too_long = false;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (n == max || l >= 32 || l == 0) {
            *too_long = true;
            return n;
        }
        memcpy(seg[n], s, l);
        seg[n][l] = '\0';
        n++;
        s += l;
        if (*s == '/')
            s++;
        if (e && !*s) { /* trailing slash */
            *too_long = true;
            return n;
        }
    }
    return n;
}

static bool id_of(const char *s, int64_t *id)
{
    return num_i64(s, 1, INT64_MAX, id) && s[0] != '0';
}

/* GET /alerts?state=pending,firing,resolved&trunk=ID&limit=N */
static void h_alerts(struct api_call *a)
{
    static const char *const P[] = { "state", "trunk", "limit", NULL };
    if (!params_allow(a, P))
        return;
    unsigned states = 7;
    const char *v;
    if ((v = param(a, "state"))) {
        states = 0;
        while (*v) {
            const char *e = strchr(v, ',');
            size_t len = e ? (size_t)(e - v) : strlen(v);
            unsigned bit = len == 7 && !strncmp(v, "pending", 7)    ? 1
                           : len == 6 && !strncmp(v, "firing", 6)   ? 2
                           : len == 8 && !strncmp(v, "resolved", 8) ? 4
                                                                    : 0;
            if (!bit)
                return (void)api_error(a, 400, "bad_parameter",
                                       "state: a comma-separated list of pending, firing, resolved");
            states |= bit;
            v += len + (e ? 1 : 0);
        }
        if (!states)
            return (void)api_error(a, 400, "bad_parameter",
                                   "state: a comma-separated list of pending, firing, resolved");
    }
    int64_t trunk = 0, limit = TS_API_PAGE_DEFAULT;
    if ((v = param(a, "trunk")) && !num_i64(v, 1, INT64_MAX, &trunk))
        return (void)api_error(a, 400, "bad_parameter", "trunk: a trunk id (positive integer)");
    if ((v = param(a, "limit")) && !num_i64(v, 1, TS_API_PAGE_MAX, &limit))
        return (void)api_error(a, 400, "bad_parameter", "limit: 1 to %d", TS_API_PAGE_MAX);
    struct stq *q = api_db(a);
    struct api_out o;
    if (!q || !api_out_begin(a, &o))
        return;
    int rc = api_alerts_write(q, states, trunk, (uint32_t)limit, o.w);
    api_out_end(a, &o, rc == ST_OK);
    if (rc != ST_OK)
        db_fail(a, rc);
}

void routes_dispatch(struct api_call *a)
{
    const char *p = a->path;
    if (strcmp(p, "/metrics") == 0) {
        if (params_allow(a, NULL))
            routes_metrics(a);
        return;
    }
    static const char pre[] = "/api/v1/";
    if (strncmp(p, pre, sizeof pre - 1) != 0)
        return (void)api_error(a, 404, "not_found", "no such endpoint");
    char seg[5][32];
    bool bad = false;
    size_t n = split(p + sizeof pre - 1, seg, 5, &bad);
    int64_t id = 0, k = 0;
    if (bad || n == 0)
        return (void)api_error(a, 404, "not_found", "no such endpoint");
    if (n == 1 && strcmp(seg[0], "health") == 0)
        return h_health(a);
    if (n == 1 && strcmp(seg[0], "stats") == 0)
        return h_stats(a);
    if (n == 1 && strcmp(seg[0], "calls") == 0)
        return h_calls(a);
    if (n == 1 && strcmp(seg[0], "trunks") == 0)
        return h_trunks(a);
    if (n == 1 && strcmp(seg[0], "sites") == 0)
        return h_sites(a);
    if (n == 1 && strcmp(seg[0], "topology") == 0)
        return h_topology(a);
    if (n == 1 && strcmp(seg[0], "kpis") == 0)
        return h_kpis(a, 0);
    if (n == 1 && strcmp(seg[0], "registrations") == 0)
        return h_registrations(a);
    if (n == 1 && strcmp(seg[0], "active") == 0)
        return h_active(a);
    if (n == 1 && strcmp(seg[0], "alerts") == 0)
        return h_alerts(a);
    if (n == 1 && strcmp(seg[0], "openapi.json") == 0)
        return h_openapi(a);
    if (n == 1 && strcmp(seg[0], "tls") == 0)
        return h_tls(a);
    if (n == 2 && strcmp(seg[0], "tls") == 0 && strcmp(seg[1], "connections") == 0)
        return h_tls_conns(a);
    if (n == 1 && strcmp(seg[0], "other-flows") == 0)
        return h_other_flows(a);
    if (n >= 2 && strcmp(seg[0], "calls") == 0) {
        if (!id_of(seg[1], &id))
            return (void)api_error(a, 404, "not_found", "no such call (ids are positive integers)");
        if (n == 2)
            return h_call(a, id);
        if (n == 3 && strcmp(seg[2], "pcap") == 0)
            return h_pcap(a, id);
        if (n == 3 && strcmp(seg[2], "audio") == 0)
            return h_audio(a, id);
        if (n == 4 && strcmp(seg[2], "messages") == 0) {
            if (!num_i64(seg[3], 0, INT32_MAX, &k) || (seg[3][0] == '0' && seg[3][1]))
                return (void)api_error(a, 404, "not_found", "no such message");
            return h_message(a, id, k);
        }
    }
    if (n >= 2 && strcmp(seg[0], "trunks") == 0) {
        if (!id_of(seg[1], &id))
            return (void)api_error(a, 404, "not_found", "no such trunk");
        if (n == 2)
            return h_trunk(a, id);
        if (n == 3 && strcmp(seg[2], "kpis") == 0)
            return h_kpis(a, id);
        if (n == 3 && strcmp(seg[2], "checklist") == 0)
            return h_checklist(a, id);
    }
    api_error(a, 404, "not_found", "no such endpoint");
}
