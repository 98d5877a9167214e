/* libFuzzer target: the HTTP API's routing and parameter validation (paths,
 * ids, limit, cursor, from/to times, number match, enum lists, final codes,
 * number/Call-ID/address/User-Agent search, MOS/PDD bounds, site, KPI buckets), driven through routes_dispatch without a listening
 * server, against a small store database made once per process; and the
 * listen-address parser. Input: text lines, the first the decoded request
 * path, each further one a query parameter "key=value" as the HTTP library
 * hands them over ("listen SPEC" as the first line fuzzes api_parse_listen).
 * Oracles: no crash, UB or leak; the status is one the API documents; every
 * answer is valid JSON; an accepted parameter set is within the documented
 * bounds (checked here independently, and from what the answer echoes); a
 * next_cursor is accepted by the same listing. */
#include <jansson.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../api/api_int.h"
#include "../../calls/calls.h"
#include "../../common/limits.h"
#include "../../store/query.h"
#include "../../store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EPOCH_MS (INT64_MAX / 1000000) /* as api/routes.c: ns in int64 */
#define MAX_LINE 512

/* 40 calls over an hour on two trunks and two sites, their legs, two SIP
 * messages and KPI minutes: enough rows for paging, filters and series. */
static const char FIXTURE[] =
    "INSERT INTO captures(id, path, size, mtime, started, finished, first_ts, last_ts)"
    " VALUES (1, '/nonexistent/fuzz.pcap', 1, 1, 1, 1, 1700000000000000000,"
    " 1700003600000000000);"
    "INSERT INTO trunks(id, name, local_addr, peer_addr, itsp, attempts, answered,"
    " asr, ner, acd_s, pdd_mean_ms, pdd_p95_ms, peak_concurrent, peak_ts, site)"
    " VALUES (1, 'a', '10.0.0.1:5060', '10.0.0.2:5060', 1, 30, 20, 0.6, 0.9, 60.5,"
    " 800.0, 1500, 3, 1700000600000000000, 'east'),"
    " (2, 'b', '10.0.0.1:5060', '10.0.0.3:5060', 0, 10, 5, 0.5, 0.8, 30.0, 400.0, 900,"
    " 1, 1700000900000000000, NULL);"
    "INSERT INTO calls(id, capture_id, tracker_id, start, end, caller, callee, direction,"
    " outcome, failure_side, pdd_ms, duration_s, mos, legs, site)"
    " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)"
    " SELECT i, 1, i, 1700000000000000000 + i * 90000000000,"
    " 1700000000000000000 + i * 90000000000 + 60000000000, '4930' || (1000 + i),"
    " '4940' || (2000 + i), CASE i % 4 WHEN 0 THEN 'inbound' WHEN 1 THEN 'outbound'"
    " WHEN 2 THEN 'internal' ELSE 'transit' END, CASE i % 3 WHEN 0 THEN 'answered'"
    " WHEN 1 THEN 'busy' ELSE 'failed' END, CASE i % 3 WHEN 0 THEN 'none' ELSE 'itsp' END,"
    " CASE WHEN i % 5 = 0 THEN NULL ELSE i * 37 END,"
    " CASE WHEN i % 3 = 0 THEN i * 1.5 ELSE NULL END,"
    " CASE WHEN i % 3 = 0 THEN 1.0 + (i % 40) / 10.0 ELSE NULL END, 1,"
    " CASE i % 3 WHEN 0 THEN 'east' WHEN 1 THEN 'west' ELSE NULL END FROM n;"
    "INSERT INTO legs(id, call_ref, idx, call_id, caller_digits, callee_digits, invite_ts,"
    " final_status, transport, src, sport, dst, dport, outcome, site)"
    " SELECT id, id, 0, 'cid' || id, caller, callee, start, 200, 'udp', '10.0.0.1', 5060,"
    " CASE id % 2 WHEN 0 THEN '10.0.0.2' ELSE '10.0.0.3' END, 5060, outcome, site"
    " FROM calls;"
    "INSERT INTO sip_messages(id, ts, src, sport, dst, dport, transport, call_id, leg_id,"
    " method, status, cseq, cseq_method, raw, capture_id, frame, file_off)"
    " VALUES (1, 1700000090000000000, '10.0.0.1', 5060, '10.0.0.2', 5060, 'udp', 'cid1', 1,"
    " 'INVITE', 0, 1, 'INVITE', CAST('INVITE sip:1@b SIP/2.0' || char(13, 10) ||"
    " 'Call-ID: cid1' || char(13, 10, 13, 10) AS BLOB), 1, 1, 24),"
    " (2, 1700000090500000000, '10.0.0.2', 5060, '10.0.0.1', 5060, 'udp', 'cid1', 1,"
    " NULL, 200, 1, 'INVITE', x'5349502f322e3020323030204f4bff0d0a0d0a', 1, 2, 600);"
    "INSERT INTO kpi_minute(trunk_id, direction, minute, attempts, answered, busy, rejected,"
    " cancelled, failed, timeouts, srd_sum_ms, srd_n, ans_sum_ms, ans_n, dur_sum_s, dur_n,"
    " peak_concurrent)"
    " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 59)"
    " SELECT 1 + i % 2, CASE i % 2 WHEN 0 THEN 'inbound' ELSE 'outbound' END,"
    " 28333333 + i, 3, 2, 1, 0, 0, 0, 0, 900.0, 2, 1800.0, 2, 120.0, 2, 2 FROM n;";

static struct api_server *srv;
static struct stq *db;
static char dir[64], path[96];

static void cleanup(void)
{
    stq_close(db);
    api_stop(srv);
    static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
    for (int i = 0; i < 4; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
}

static bool setup(void)
{
    char err[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ts-fuzz-query-XXXXXX", tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return false;
    snprintf(path, sizeof path, "%s/store.db", dir);
    struct st_db *w = st_db_open(path, false, err, sizeof err);
    if (!w || st_db_exec(w, FIXTURE, err, sizeof err) != ST_OK) {
        fprintf(stderr, "fuzz_query: fixture: %s\n", err);
        abort(); /* the store changed shape: update FIXTURE */
    }
    st_db_close(w);
    srv = api_start_offline(path, err, sizeof err);
    db = stq_open(path, err, sizeof err);
    if (!srv || !db) {
        fprintf(stderr, "fuzz_query: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return true;
}

struct req {
    char path[MAX_LINE + 1];
    char keys[TS_API_MAX_PARAMS][MAX_LINE + 1];
    char vals[TS_API_MAX_PARAMS][MAX_LINE + 1];
    size_t n;
};

static const char *get(const struct req *r, const char *k)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->keys[i], k) == 0)
            return r->vals[i];
    return NULL;
}

/* One request through the routes, as the server makes it (it answers NUL
 * bytes, repeated and too many parameters itself, before routing). */
static int dispatch(const struct req *r, json_t **out)
{
    struct api_call a;
    memset(&a, 0, sizeof a);
    a.srv = srv;
    a.path = r->path;
    a.fd = -1;
    a.status = 200;
    a.q = db;
    for (size_t i = 0; i < r->n; i++)
        a.params[i] = (struct api_param){ r->keys[i], r->vals[i], false };
    a.nparams = r->n;
    routes_dispatch(&a);
    /* every JSON answer must serialise, as send_call does it */
    if (a.json) {
        char *txt = json_dumps(a.json, JSON_COMPACT | JSON_REAL_PRECISION(12));
        if (!txt)
            abort();
        free(txt);
    } else if (a.status == 200 && !a.body && a.fd < 0) {
        abort(); /* a 200 without a body */
    }
    if (a.status != 200 && !json_is_string(json_object_get(json_object_get(a.json, "error"),
                                                           "message")))
        abort(); /* errors are {"error":{"code","message"}} */
    free(a.body);
    if (a.fd >= 0)
        close(a.fd);
    *out = a.json;
    return a.status;
}

static bool digits_only(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool one_of(const char *v, const char *(*name)(int), int n)
{
    for (int i = 0; i < n; i++)
        if (name(i) && strcmp(name(i), v) == 0)
            return true;
    return false;
}
static const char *dir_name(int i) { return calls_dir_name((enum calls_dir)i); }
static const char *outcome_name(int i) { return calls_outcome_name((enum calls_outcome)i); }
static const char *side_name(int i) { return calls_side_name((enum calls_side)i); }

/* A decimal integer in [lo, hi]: optional '-', digits (leading zeros are fine). */
static bool int_in(const char *v, long long lo, long long hi)
{
    const char *d = v + (*v == '-');
    if (!digits_only(d, 1, 4096))
        return false;
    while (*d == '0' && d[1]) /* leading zeros do not change the value */
        d++;
    if (strlen(d) > 19)
        return false;
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    return errno == 0 && x >= lo && x <= hi;
}

static bool real_in(const char *v, double lo, double hi)
{
    char *end = NULL;
    double d = strtod(v, &end);
    return end && !*end && d >= lo && d <= hi;
}

/* A comma-separated list of at most TS_API_LIST_MAX distinct names (a
 * repeat counts once), or of final codes 100..699 / "none" (names NULL). */
static bool list_of(const char *v, const char *(*name)(int), int n)
{
    char buf[MAX_LINE + 1], seen[TS_API_LIST_MAX][16];
    size_t k = 0;
    snprintf(buf, sizeof buf, "%s", v);
    for (char *p = buf;;) {
        char *e = strchr(p, ',');
        if (e)
            *e = '\0';
        bool ok = name ? one_of(p, name, n)
                       : !strcmp(p, "none") || (strlen(p) == 3 && digits_only(p, 3, 3) &&
                                                 int_in(p, 100, 699));
        if (!ok)
            return false;
        bool dup = false;
        for (size_t i = 0; i < k && name; i++)
            dup |= !strcmp(seen[i], p);
        if (!dup) {
            if (k == TS_API_LIST_MAX)
                return false;
            snprintf(seen[k++], sizeof seen[0], "%.15s", p);
        }
        if (!e)
            return true;
        p = e + 1;
    }
}

/* Text of 1..max bytes without control characters. */
static bool text_ok(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return false;
    return true;
}

/* from/to as documented: epoch milliseconds up to 2262-04-11, or ISO-8601
 * (checked here only for its alphabet and shape). */
static bool time_ok(const char *v)
{
    if (digits_only(v, 1, 4096))
        return int_in(v, 0, MAX_EPOCH_MS);
    size_t n = strlen(v);
    return n >= 10 && n <= 40 && strspn(v, "0123456789-T :.Z+") == n && v[4] == '-' &&
           v[7] == '-';
}

static bool site_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= TS_SITE_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return false;
    return true;
}

static void bad(const char *what, const char *v)
{
    fprintf(stderr, "fuzz_query: accepted %s '%.80s'\n", what, v ? v : "(null)");
    abort();
}

/* Independent checks of an accepted /calls parameter set and its answer. */
static void check_calls(const struct req *r, json_t *j)
{
    size_t ndig = sizeof(((struct stq_call_filter *)0)->caller) - 1;
    for (size_t i = 0; i < r->n; i++) {
        const char *k = r->keys[i], *v = r->vals[i];
        bool ok = true;
        if (!strcmp(k, "from") || !strcmp(k, "to"))
            ok = time_ok(v);
        else if (!strcmp(k, "caller") || !strcmp(k, "callee"))
            ok = digits_only(v, 1, ndig);
        else if (!strcmp(k, "match"))
            ok = !strcmp(v, "contains") || !strcmp(v, "suffix");
        else if (!strcmp(k, "trunk"))
            ok = int_in(v, 1, INT64_MAX);
        else if (!strcmp(k, "direction"))
            ok = list_of(v, dir_name, 4);
        else if (!strcmp(k, "outcome"))
            ok = list_of(v, outcome_name, CALLS_OUTCOME_N);
        else if (!strcmp(k, "failure_side"))
            ok = list_of(v, side_name, 4);
        else if (!strcmp(k, "final_status"))
            ok = list_of(v, NULL, 0);
        else if (!strcmp(k, "number"))
            ok = text_ok(v, 64);
        else if (!strcmp(k, "call_id"))
            ok = text_ok(v, CALLS_TEXT_LEN - 1);
        else if (!strcmp(k, "user_agent"))
            ok = text_ok(v, 63);
        else if (!strcmp(k, "addr"))
            ok = text_ok(v, 63) && strspn(v, "0123456789abcdefABCDEF.:[]") == strlen(v);
        else if (!strcmp(k, "port"))
            ok = int_in(v, 1, 65535);
        else if (!strcmp(k, "min_mos") || !strcmp(k, "max_mos"))
            ok = real_in(v, 1.0, 5.0);
        else if (!strcmp(k, "min_pdd"))
            ok = int_in(v, 0, 3600000);
        else if (!strcmp(k, "sort"))
            ok = !strcmp(v, "start") || !strcmp(v, "duration") || !strcmp(v, "pdd") ||
                 !strcmp(v, "mos");
        else if (!strcmp(k, "order"))
            ok = !strcmp(v, "asc") || !strcmp(v, "desc");
        else if (!strcmp(k, "limit"))
            ok = int_in(v, 1, TS_API_PAGE_MAX);
        else if (!strcmp(k, "site"))
            ok = site_ok(v);
        else if (!strcmp(k, "cursor"))
            ok = strlen(v) >= 2 && strlen(v) <= 128;
        else
            ok = false; /* not a documented parameter */
        if (!ok)
            bad(k, v);
    }
    json_int_t limit = json_integer_value(json_object_get(j, "limit"));
    const char *lv = get(r, "limit");
    if (limit < 1 || limit > TS_API_PAGE_MAX || (!lv && limit != TS_API_PAGE_DEFAULT) ||
        (lv && limit != strtoll(lv, NULL, 10)))
        bad("limit (answer)", lv);
    json_t *rows = json_object_get(j, "calls");
    if (!json_is_array(rows) || json_array_size(rows) > (size_t)limit)
        bad("rows", lv);
}

/* The page after: the listing must take its own cursor. */
static void check_cursor(const struct req *r, json_t *j)
{
    const char *cur = json_string_value(json_object_get(j, "next_cursor"));
    if (!cur)
        return;
    static struct req r2;
    r2 = *r;
    size_t i;
    for (i = 0; i < r2.n && strcmp(r2.keys[i], "cursor") != 0; i++)
        ;
    if (i == r2.n) {
        if (r2.n == TS_API_MAX_PARAMS)
            return;
        r2.n++;
        snprintf(r2.keys[i], sizeof r2.keys[i], "cursor");
    }
    snprintf(r2.vals[i], sizeof r2.vals[i], "%s", cur);
    json_t *j2 = NULL;
    int st = dispatch(&r2, &j2);
    json_decref(j2);
    if (st != 200)
        bad("own next_cursor refused", cur);
}

/* /kpis: the range and bucket it answers with are within bounds. */
static void check_kpis(const struct req *r, json_t *j)
{
    json_int_t from = json_integer_value(json_object_get(j, "from_ms"));
    json_int_t to = json_integer_value(json_object_get(j, "to_ms"));
    json_int_t b = json_integer_value(json_object_get(j, "bucket_s"));
    json_t *pts = json_object_get(j, "points");
    /* buckets of 10 s and up: the overview counts calls, a trunk's series
     * sums stored minutes or, under a minute, counts its legs */
    json_int_t unit = 10;
    if (from < 0 || to > MAX_EPOCH_MS + 60000 || to <= from || b < unit || b > 86400 || b % unit ||
        (to - from) / (b * 1000) >= TS_API_MAX_KPI_POINTS || !json_is_array(pts) ||
        json_array_size(pts) > TS_API_MAX_KPI_POINTS)
        bad("kpi range", get(r, "from"));
    const char *v;
    if ((v = get(r, "from")) && !time_ok(v))
        bad("from", v);
    if ((v = get(r, "to")) && !time_ok(v))
        bad("to", v);
    if ((v = get(r, "site")) && !site_ok(v))
        bad("site", v);
    if ((v = get(r, "bucket")) && (!int_in(v, unit, 86400) || b != strtoll(v, NULL, 10)))
        bad("bucket", v);
}

static void fuzz_listen(const char *spec)
{
    char addr[64], err[128];
    unsigned port = 99999;
    bool loop = false;
    memset(addr, 'x', sizeof addr);
    if (api_parse_listen(spec, addr, sizeof addr, &port, &loop, err, sizeof err) == API_OK) {
        if (port > 65535 || !memchr(addr, 0, sizeof addr))
            abort();
    } else if (!memchr(err, 0, sizeof err)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready)
        ready = setup();
    static struct req r;
    memset(&r, 0, sizeof r);
    /* lines: the path, then parameters; a NUL in any of them is answered
     * 400 by the server before routing, so such inputs stop here */
    struct bv in = bv_make(data, size);
    size_t line = 0;
    bool nul = false, dup = false;
    while (in.len || line == 0) {
        struct bv l;
        long k = bv_index(in, '\n');
        if (k < 0) {
            l = in;
            in = BV_NULL;
        } else {
            l = bv_head(in, (size_t)k);
            in = bv_from(in, (size_t)k + 1);
        }
        if (l.len > MAX_LINE || (line > 0 && r.n == TS_API_MAX_PARAMS))
            return 0; /* 414 or too_many_parameters from the server */
        nul |= bv_index(l, 0) >= 0;
        if (line == 0) {
            if (l.len)
                (void)bv_copy(&l, r.path, l.len);
        } else {
            long eq = bv_index(l, '=');
            struct bv key = eq < 0 ? l : bv_head(l, (size_t)eq);
            struct bv val = eq < 0 ? BV_NULL : bv_from(l, (size_t)eq + 1);
            if (key.len)
                (void)bv_copy(&key, r.keys[r.n], key.len);
            if (val.len)
                (void)bv_copy(&val, r.vals[r.n], val.len);
            for (size_t i = 0; i < r.n; i++)
                dup |= strcmp(r.keys[i], r.keys[r.n]) == 0;
            r.n++;
        }
        line++;
    }
    if (strncmp(r.path, "listen ", 7) == 0) {
        fuzz_listen(r.path + 7);
        return 0;
    }
    /* the server routes only paths without control bytes, starting with '/' */
    for (const char *p = r.path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    if (nul || dup || r.path[0] != '/')
        return 0;

    json_t *j = NULL;
    int st = dispatch(&r, &j);
    bool pcap = strstr(r.path, "/pcap") != NULL;
    /* the export answers 409 when the capture file is gone (it is, here) */
    if (st != 200 && st != 400 && st != 404 && !(pcap && (st == 409 || st == 429))) {
        fprintf(stderr, "fuzz_query: status %d for %s\n", st, r.path);
        abort();
    }
    if (st == 200 && strcmp(r.path, "/api/v1/calls") == 0) {
        check_calls(&r, j);
        check_cursor(&r, j);
    }
    if (st == 200 && strncmp(r.path, "/api/v1/", 8) == 0 && strstr(r.path, "kpis"))
        check_kpis(&r, j);
    json_decref(j);
    return 0;
}
