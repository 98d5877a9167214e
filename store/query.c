/* Read-only queries behind the HTTP API. Every statement is prepared with
 * named parameters and cached per connection; filters pick fixed SQL
 * fragments, values are always bound. Rows go out as typed cells. */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/limits.h"
#include "store_int.h"

#define NS_PER_MS 1000000ll
#define NS_PER_S 1000000000ll
/* Prepared statements kept per connection (the calls list has a few
 * shapes per filter combination in use). */
#define STQ_CACHE 48
/* Longest generated SQL text. */
#define STQ_SQL_MAX 4096
/* Overview series: calls that started this long before the range may still
 * be up in it (the tracker ends silent dialogs after 4 h). */
#define STQ_MAX_CALL_SPAN_NS (4ll * 3600 * NS_PER_S)
/* Up to this many calls (in the range and the 4 h before it) the overview
 * sweeps their starts and ends (an exact peak of concurrent calls, some
 * 20 ms); beyond, it reads the per-minute rollup (schema v16). */
#define STQ_SERIES_SWEEP_CALLS 40000
/* Sites listed at most (each a sensor or HEP node of one deployment). */
#define STQ_SITES_MAX_S "1000"
/* Columns per row handed to a callback. */
#define STQ_MAX_COLS 80
/* A call-list filter on leg columns (final status, address, port, user
 * agent) either collects the calls of every matching leg first (cheap when
 * few legs match: an index range, or one scan for a substring) or walks the
 * calls in list order testing each one's legs (cheap when many match: the
 * page fills early, and without an index a rare value would scan the whole
 * table again per page). The newest this-many legs decide: a walk when
 * more than a page of them match, so a walk reads about as many legs. */
#define STQ_LEG_SAMPLE 8000

/* ISO-8601 UTC with milliseconds of a ns column (NULL stays NULL),
 * truncated like the analysis report (no floating-point rounding). */
#define ISO(x)                                                                                 \
    "(strftime('%Y-%m-%dT%H:%M:%S',(" x ")/1000000000,'unixepoch')||"                          \
    "printf('.%03dZ',(" x ")/1000000%1000))"

struct stq_slot {
    char *sql;
    sqlite3_stmt *s;
};

struct stq {
    sqlite3 *h;
    struct stq_slot cache[STQ_CACHE];
    unsigned next_evict;
    uint64_t deadline_ns;     /* CLOCK_MONOTONIC; 0: none */
    bool interrupted;
    enum stq_leg_way leg_way; /* STQ_LEG_AUTO, or a test's choice */
    enum stq_series_way series_way; /* STQ_SERIES_AUTO, or a test's */
    uint32_t leg_scan;        /* 0: TS_API_LEG_SCAN_MAX, or a test's */
    int64_t port_lo, port_hi; /* the call list's port: leg_ports' id range */
};

/* SQLite calls this every STQ_PROGRESS_OPS virtual machine steps: a query
 * past its deadline is interrupted (SQLITE_INTERRUPT), so that one expensive
 * request cannot hold a connection, and everyone behind it, for long. */
#define STQ_PROGRESS_OPS 10000
static int progress(void *arg)
{
    struct stq *q = arg;
    if (!q->deadline_ns)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (now < q->deadline_ns)
        return 0;
    q->interrupted = true;
    return 1;
}

void stq_set_deadline(struct stq *q, uint64_t deadline_ns)
{
    q->deadline_ns = deadline_ns;
    q->interrupted = false;
}

bool stq_interrupted(const struct stq *q) { return q && q->interrupted; }

struct stq *stq_open(const char *path, char *err, size_t errlen)
{
    struct stq *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (st_open_handle(path, true, &q->h, err, errlen) != ST_OK) {
        free(q);
        return NULL;
    }
    /* defence in depth: this connection can never write */
    sqlite3_exec(q->h, "PRAGMA query_only=1; PRAGMA cache_size=-" TS_STR(TS_API_DB_CACHE_KIB), NULL,
                 NULL, NULL);
    sqlite3_progress_handler(q->h, STQ_PROGRESS_OPS, progress, q);
    return q;
}

void stq_set_leg_way(struct stq *q, enum stq_leg_way way) { q->leg_way = way; }

void stq_set_series_way(struct stq *q, enum stq_series_way way) { q->series_way = way; }

void stq_set_leg_scan(struct stq *q, uint32_t legs) { q->leg_scan = legs; }

void stq_close(struct stq *q)
{
    if (!q)
        return;
    for (unsigned i = 0; i < STQ_CACHE; i++) {
        sqlite3_finalize(q->cache[i].s);
        free(q->cache[i].sql);
    }
    sqlite3_close(q->h);
    free(q);
}

/* A cached statement for sql, reset with no bindings; NULL on error. */
static sqlite3_stmt *prep(struct stq *q, const char *sql)
{
    for (unsigned i = 0; i < STQ_CACHE; i++) {
        if (q->cache[i].sql && strcmp(q->cache[i].sql, sql) == 0) {
            sqlite3_reset(q->cache[i].s);
            sqlite3_clear_bindings(q->cache[i].s);
            return q->cache[i].s;
        }
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(q->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
        return NULL;
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(s);
        return NULL;
    }
    struct stq_slot *sl = &q->cache[q->next_evict++ % STQ_CACHE];
    sqlite3_finalize(sl->s);
    free(sl->sql);
    sl->sql = copy;
    sl->s = s;
    return s;
}

static void bind_i(sqlite3_stmt *s, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    if (i > 0)
        sqlite3_bind_int64(s, i, v);
}

static void bind_d(sqlite3_stmt *s, const char *name, double v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    if (i > 0)
        sqlite3_bind_double(s, i, v);
}

static void bind_t(sqlite3_stmt *s, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    if (i > 0)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Cells of the current row, the first n columns. */
static size_t row_cells(sqlite3_stmt *s, struct stq_cell *c, size_t n)
{
    if (n > STQ_MAX_COLS)
        n = STQ_MAX_COLS;
    for (size_t i = 0; i < n; i++) {
        int k = (int)i;
        memset(&c[i], 0, sizeof c[i]);
        c[i].name = sqlite3_column_name(s, k);
        switch (sqlite3_column_type(s, k)) {
        case SQLITE_INTEGER:
            c[i].type = STQ_INT;
            c[i].i = sqlite3_column_int64(s, k);
            break;
        case SQLITE_FLOAT:
            c[i].type = STQ_REAL;
            c[i].d = sqlite3_column_double(s, k);
            break;
        case SQLITE_TEXT:
            c[i].type = STQ_TEXT;
            c[i].s = (const char *)sqlite3_column_text(s, k);
            c[i].len = (size_t)sqlite3_column_bytes(s, k);
            if (!c[i].s)
                c[i].type = STQ_NULL;
            break;
        case SQLITE_BLOB:
            c[i].type = STQ_BLOB;
            c[i].s = (const char *)sqlite3_column_blob(s, k);
            c[i].len = (size_t)sqlite3_column_bytes(s, k);
            if (!c[i].s)
                c[i].s = "";
            break;
        default:
            c[i].type = STQ_NULL;
            break;
        }
    }
    return n;
}

/* Step through s, fn per row. *rows counts them. ST_OK or ST_ERR_SQL. */
static int run_rows(sqlite3_stmt *s, stq_row_fn fn, void *ctx, size_t *rows)
{
    struct stq_cell cells[STQ_MAX_COLS];
    int r;
    size_t nrows = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        nrows++;
        size_t n = row_cells(s, cells, (size_t)sqlite3_column_count(s));
        if (fn && fn(ctx, cells, n) != 0) {
            r = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    if (rows)
        *rows = nrows;
    return r == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

/* A statement with one :id parameter. */
static int run_id(struct stq *q, const char *sql, int64_t id, stq_row_fn fn, void *ctx,
                  size_t *rows)
{
    sqlite3_stmt *s = prep(q, sql);
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    return run_rows(s, fn, ctx, rows);
}

/* ---- calls ---- */

#define CALL_COLS                                                                           \
    "c.id AS id, " ISO("c.start") " AS start, (c.start+500000)/1000000 AS start_ms, " ISO(           \
        "c.\"end\"") " AS end, c.caller AS caller, c.callee AS callee,"                      \
                     " c.direction AS direction, c.outcome AS outcome,"                      \
                     " c.failure_side AS failure_side, c.failure_detail AS failure_detail,"  \
                     " c.pdd_ms AS pdd_ms, c.duration_s AS duration_s, c.mos AS mos,"        \
                     " c.legs AS legs, (SELECT l0.final_status FROM legs l0 WHERE"           \
                     " l0.call_ref=c.id ORDER BY l0.idx LIMIT 1) AS final_status, c.site AS site," \
                     " c.mos_reason AS mos_reason, (coalesce(c.media_flags,0)&1)<>0 AS one_way," \
                     " (coalesce(c.media_flags,0)&2)<>0 AS no_audio"

/* Bounded SQL text builder: overflow makes the whole text invalid. */
struct sqlbuf {
    char b[STQ_SQL_MAX];
    size_t n;
    bool over;
};

static void sb_add(struct sqlbuf *sb, const char *s)
{
    size_t l = strlen(s);
    if (sb->over || sb->n + l + 1 > sizeof sb->b) {
        sb->over = true;
        return;
    }
    memcpy(sb->b + sb->n, s, l + 1);
    sb->n += l;
}

static const char *const SORT_KEY[] = {
    [STQ_SORT_START] = "c.start",
    [STQ_SORT_DURATION] = "coalesce(c.duration_s,-1.0)",
    [STQ_SORT_PDD] = "coalesce(c.pdd_ms,-1)",
    [STQ_SORT_MOS] = "coalesce(c.mos,-1.0)",
};

static bool sort_is_real(enum stq_sort s)
{
    return s == STQ_SORT_DURATION || s == STQ_SORT_MOS;
}

/* The trunk's addresses for the EXISTS filter. */
static int trunk_addrs(struct stq *q, int64_t id, char *local, char *peer, size_t cap)
{
    sqlite3_stmt *s = prep(q, "SELECT local_addr, peer_addr FROM trunks WHERE id=:id");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    int rc = ST_ERR_NOT_FOUND;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *a = sqlite3_column_text(s, 0), *b = sqlite3_column_text(s, 1);
        snprintf(local, cap, "%s", a ? (const char *)a : "");
        snprintf(peer, cap, "%s", b ? (const char *)b : "");
        rc = ST_OK;
    }
    sqlite3_reset(s);
    return rc;
}

#define LEG_ON_TRUNK "((l.src=:tl AND l.dst=:tp) OR (l.src=:tp AND l.dst=:tl))"

/* " AND <col> IN (:<p>0,:<p>1,...)" for a list of n values. */
static void sb_in(struct sqlbuf *sb, const char *col, const char *p, unsigned n)
{
    char frag[64];
    sb_add(sb, " AND ");
    sb_add(sb, col);
    sb_add(sb, " IN (");
    for (unsigned i = 0; i < n; i++) {
        snprintf(frag, sizeof frag, "%s:%s%u", i ? "," : "", p, i);
        sb_add(sb, frag);
    }
    sb_add(sb, ")");
}

static void bind_list(sqlite3_stmt *s, const char *p, const char *const *v, unsigned n)
{
    char name[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof name, ":%s%u", p, i);
        bind_t(s, name, v[i]);
    }
}

/* A number's digits match a leg's (column X): the last 7 on the reversed
 * digits' index, then both ways a suffix of the other (the same number
 * written with or without country code or prefixes); fewer than 7 digits
 * match exactly (extensions). */
#define NUM_MATCH(X)                                                                         \
    "SELECT l.call_ref FROM legs l WHERE l." X "_rev >= :nrev AND l." X "_rev < :nrev_end"     \
    " AND (l." X "_digits = :nd OR (length(:nd) >= 7 AND ((length(l." X "_digits) >= 7 AND"    \
    " substr(:nd, -length(l." X "_digits)) = l." X "_digits) OR"                              \
    " substr(l." X "_digits, -length(:nd)) = :nd)))"

/* The digits of d (at most max) reversed into rev, and into end the same
 * followed by ':' (after '9'): [rev, end) is the range of the reversed
 * digits' index that ends in d. rev holds max + 1 bytes, end max + 2. */
static void rev_range(const char *d, size_t max, char *rev, char *end)
{
    size_t n = st_digits_rev(d, max, rev);
    memcpy(end, rev, n);
    end[n] = ':';
    end[n + 1] = '\0';
}

/* The values of the leg-column predicates (and of the trunk's addresses). */
static void bind_leg_cols(sqlite3_stmt *s, const struct stq_call_filter *f, const char *tl,
                          const char *tp)
{
    bind_t(s, ":tl", tl);
    bind_t(s, ":tp", tp);
    for (unsigned i = 0; i < f->nfinal_status; i++) {
        char name[16];
        snprintf(name, sizeof name, ":fs%u", i);
        bind_i(s, name, f->final_status[i]);
    }
    if (f->addr[0])
        bind_t(s, ":addr", f->addr);
    if (f->port)
        bind_i(s, ":port", f->port);
    if (f->user_agent) {
        /* a LIKE pattern: the word anywhere, its own % _ \\ escaped (LIKE
         * ignores ASCII case as lower() did, at a third of the cost) */
        char pat[2 * 64 + 3];
        size_t n = 0;
        pat[n++] = '%';
        for (const char *c = f->user_agent; *c && n + 3 < sizeof pat; c++) {
            if (*c == '%' || *c == '_' || *c == '\\')
                pat[n++] = '\\';
            pat[n++] = *c;
        }
        pat[n++] = '%';
        pat[n] = '\0';
        bind_t(s, ":ua", pat);
    }
}

/* The oldest leg id a bounded leg scan reads (legs l.id > *floor), and
 * whether older legs exist; the INVITE time of the first leg read. */
static int leg_scan_floor(struct stq *q, int64_t *floor, bool *older, int64_t *from_ns)
{
    sqlite3_stmt *s = prep(q, "SELECT (SELECT max(id) FROM legs), (SELECT min(id) FROM legs)");
    if (!s)
        return ST_ERR_SQL;
    int64_t max = 0, min = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        max = sqlite3_column_int64(s, 0);
        min = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    *floor = max - (int64_t)(q->leg_scan ? q->leg_scan : TS_API_LEG_SCAN_MAX);
    *older = min <= *floor;
    *from_ns = 0;
    s = prep(q, "SELECT invite_ts FROM legs WHERE id > :f ORDER BY id LIMIT 1");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":f", *floor);
    if (sqlite3_step(s) == SQLITE_ROW)
        *from_ns = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return ST_OK;
}

/* 1: collect the calls of the legs matching pred (legs l) first; 0: walk
 * the calls; -1 on error. */
static int leg_set_first(struct stq *q, const struct stq_call_filter *f, const char *tl,
                         const char *tp, const char *pred, bool by_rowid, uint32_t limit)
{
    if (q->leg_way != STQ_LEG_AUTO)
        return q->leg_way == STQ_LEG_SET;
    char sql[STQ_SQL_MAX];
    /* by_rowid: the rowid range only (NOT INDEXED), where an index of a
     * column in an OR would be walked whole and filtered by rowid; a final
     * status's index gives (status, rowid) ranges */
    int n = snprintf(sql, sizeof sql, "SELECT count(*) FROM legs l%s WHERE l.id >"
                     " (SELECT max(id) FROM legs) - %d AND %s", by_rowid ? " NOT INDEXED" : "",
                     STQ_LEG_SAMPLE, pred);
    if (n < 0 || (size_t)n >= sizeof sql)
        return -1;
    sqlite3_stmt *s = prep(q, sql);
    if (!s)
        return -1;
    bind_leg_cols(s, f, tl, tp);
    bind_i(s, ":plo", q->port_lo);
    bind_i(s, ":phi", q->port_hi);
    int rc = -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        rc = sqlite3_column_int64(s, 0) <= (int64_t)limit;
    sqlite3_reset(s);
    return rc;
}

/* What leg_agents (schema v23) says of a user_agent word: 0 no stored
 * leg's User-Agent or Server holds it, 1 the legs that may are those of
 * ids [*lo, *hi], -1 it cannot say (an older schema, strings evicted from
 * the legs kept, legs written past the table's upto). */
static int agents_lookup(struct stq *q, const struct stq_call_filter *f, int64_t *lo,
                         int64_t *hi)
{
    sqlite3_stmt *s = prep(q, "SELECT (SELECT count(*) FROM leg_agents WHERE agent LIKE :ua"
                              " ESCAPE '\\'), (SELECT min(first_leg) FROM leg_agents WHERE agent"
                              " LIKE :ua ESCAPE '\\'), (SELECT max(last_leg) FROM leg_agents"
                              " WHERE agent LIKE :ua ESCAPE '\\'), (SELECT max(id) FROM legs) <="
                              " upto AND evicted_upto < coalesce((SELECT min(id) FROM legs), 0)+1"
                              " FROM leg_agents_state");
    if (!s)
        return -1; /* no such table */
    bind_leg_cols(s, f, "", "");
    int rc = -1;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 3)) {
        rc = sqlite3_column_int64(s, 0) > 0;
        *lo = sqlite3_column_int64(s, 1);
        *hi = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc;
}

/* What leg_ports (schema v25) says of a port: 1 the legs that may have
 * used it are those of ids [*lo, *hi] (*lo > *hi: none), -1 it cannot say
 * (an older schema, legs written past the table's upto). */
static int ports_lookup(struct stq *q, int64_t port, int64_t *lo, int64_t *hi)
{
    sqlite3_stmt *s = prep(q, "SELECT (SELECT first_leg FROM leg_ports WHERE port=:p),"
                              " (SELECT last_leg FROM leg_ports WHERE port=:p),"
                              " (SELECT max(id) FROM legs) <= upto FROM leg_ports_state");
    if (!s)
        return -1; /* no such table */
    bind_i(s, ":p", port);
    int rc = -1;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 2)) {
        rc = 1;
        bool has = sqlite3_column_type(s, 0) != SQLITE_NULL;
        *lo = has ? sqlite3_column_int64(s, 0) : 1;
        *hi = has ? sqlite3_column_int64(s, 1) : 0;
    }
    sqlite3_reset(s);
    return rc;
}

int stq_calls(struct stq *q, const struct stq_call_filter *f, stq_row_fn fn, void *ctx,
              struct stq_cursor *next)
{
    struct sqlbuf sb = { .n = 0 };
    char tl[64] = "", tp[64] = "";
    const char *key = SORT_KEY[f->sort <= STQ_SORT_MOS ? f->sort : STQ_SORT_START];
    char frag[512];
    memset(next, 0, sizeof *next);
    if (f->trunk_id) {
        int rc = trunk_addrs(q, f->trunk_id, tl, tp, sizeof tl);
        if (rc != ST_OK)
            return rc;
    }
    /* a user_agent word: no leg has it, or the legs that may */
    int64_t ua_lo = 0, ua_hi = 0;
    int ua_known = f->user_agent ? agents_lookup(q, f, &ua_lo, &ua_hi) : -1;
    if (ua_known == 0)
        return ST_OK;
    sb_add(&sb, "SELECT " CALL_COLS ", c.id AS k_id, ");
    sb_add(&sb, key);
    sb_add(&sb, " AS k_key FROM calls c WHERE 1");
    if (f->has_from)
        sb_add(&sb, " AND c.start >= :from");
    if (f->has_to)
        sb_add(&sb, " AND c.start < :to");
    /* the last digits: a range of the reversed digits' index */
    if (f->caller[0] && f->number_suffix)
        sb_add(&sb, " AND c.id IN (SELECT l.call_ref FROM legs l WHERE"
                    " l.caller_rev >= :caller_rev AND l.caller_rev < :caller_rev_end)");
    if (f->callee[0] && f->number_suffix)
        sb_add(&sb, " AND c.id IN (SELECT l.call_ref FROM legs l WHERE"
                    " l.callee_rev >= :callee_rev AND l.callee_rev < :callee_rev_end)");
    if (f->caller[0] && !f->number_suffix)
        sb_add(&sb, " AND (instr(c.caller,:caller)>0 OR EXISTS(SELECT 1 FROM legs l WHERE"
                    " l.call_ref=c.id AND instr(l.caller_digits,:caller)>0))");
    if (f->callee[0] && !f->number_suffix)
        sb_add(&sb, " AND (instr(c.callee,:callee)>0 OR EXISTS(SELECT 1 FROM legs l WHERE"
                    " l.call_ref=c.id AND instr(l.callee_digits,:callee)>0))");
    if (f->trunk_id)
        sb_add(&sb, " AND EXISTS(SELECT 1 FROM legs l WHERE l.call_ref=c.id AND " LEG_ON_TRUNK
                    ")");
    if (f->number_digits[0])
        sb_add(&sb, " AND c.id IN (" NUM_MATCH("caller") " UNION " NUM_MATCH("callee") ")");
    if (f->number_user[0])
        sb_add(&sb, " AND c.id IN (SELECT l.call_ref FROM legs l WHERE"
                    " l.from_user=:nu COLLATE NOCASE OR l.to_user=:nu COLLATE NOCASE OR"
                    " l.ruri=:nu COLLATE NOCASE OR l.pai=:nu COLLATE NOCASE)");
    if (f->call_id)
        sb_add(&sb, " AND c.id IN (SELECT l.call_ref FROM legs l WHERE l.call_id=:cid)");
    /* leg columns: a set of calls when few legs match, else a test per call */
    struct sqlbuf lp[3];
    bool lp_scan[3] = { false, false, false }; /* no index: a bounded scan */
    unsigned nlp = 0;
    if (f->addr[0] || f->port) {
        struct sqlbuf *b = &lp[nlp++];
        b->n = 0, b->over = false, b->b[0] = '\0';
        if (f->addr[0] && f->port)
            sb_add(b, "((l.src=:addr AND l.sport=:port) OR (l.dst=:addr AND l.dport=:port))");
        else if (f->addr[0])
            sb_add(b, "(l.src=:addr OR l.dst=:addr)");
        else {
            /* the legs of the port's id range only (leg_ports, v25): the
             * same legs match, fewer are read */
            if (ports_lookup(q, f->port, &q->port_lo, &q->port_hi) == 1)
                sb_add(b, "(l.id BETWEEN :plo AND :phi AND (l.sport=:port OR l.dport=:port))");
            else
                sb_add(b, "(l.sport=:port OR l.dport=:port)");
            lp_scan[nlp - 1] = true;
        }
    }
    if (f->user_agent) {
        struct sqlbuf *b = &lp[nlp++];
        b->n = 0, b->over = false, b->b[0] = '\0';
        sb_add(b, "(l.user_agent LIKE :ua ESCAPE '\\' OR l.server LIKE :ua ESCAPE '\\')");
        lp_scan[nlp - 1] = true;
    }
    if (f->nfinal_status) {
        struct sqlbuf *b = &lp[nlp++];
        bool none = false;
        for (unsigned i = 0; i < f->nfinal_status; i++)
            none |= f->final_status[i] == 0;
        b->n = 0, b->over = false, b->b[0] = '\0';
        sb_add(b, "((1");
        sb_in(b, "l.final_status", "fs", f->nfinal_status);
        sb_add(b, none ? " OR l.final_status IS NULL)" : ")");
        if (f->trunk_id)
            sb_add(b, " AND " LEG_ON_TRUNK);
        sb_add(b, ")");
    }
    bool scanned = false, port_scan = f->port && !f->addr[0]; /* a bounded leg scan */
    for (unsigned i = 0; i < nlp; i++) {
        if (lp[i].over)
            return ST_ERR_SQL;
        int small = leg_set_first(q, f, tl, tp, lp[i].b, !(f->nfinal_status && i == nlp - 1),
                                  f->limit ? f->limit : 1);
        if (small < 0)
            return ST_ERR_SQL;
        /* the walk names legs(call_ref): without statistics the planner
         * would take a leg column's index and scan it for every call; a
         * set without an index reads the newest legs only (rowid range) */
        if (small && lp_scan[i]) {
            scanned = true;
            sb_add(&sb, " AND c.id IN (SELECT l.call_ref FROM legs l NOT INDEXED WHERE"
                        " l.id > :scan_floor AND ");
        } else {
            sb_add(&sb, small ? " AND c.id IN (SELECT l.call_ref FROM legs l WHERE "
                              : " AND EXISTS(SELECT 1 FROM legs l INDEXED BY legs_call WHERE"
                                " l.call_ref=c.id AND ");
        }
        sb_add(&sb, lp[i].b);
        sb_add(&sb, ")");
    }
    int64_t scan_floor = 0, scan_from = 0;
    bool scan_older = false;
    if (scanned && leg_scan_floor(q, &scan_floor, &scan_older, &scan_from) != ST_OK)
        return ST_ERR_SQL;
    /* the word's legs all within the newest ones read: none older to miss
     * (a port scan beside it still reads the newest only) */
    if (scanned && ua_known == 1 && !port_scan && ua_lo - 1 >= scan_floor) {
        scan_floor = ua_lo - 1;
        scan_older = false;
    }
    if (f->site)
        sb_add(&sb, " AND c.site=:site");
    if (f->ndirection)
        sb_in(&sb, "c.direction", "dir", f->ndirection);
    if (f->noutcome)
        sb_in(&sb, "c.outcome", "oc", f->noutcome);
    if (f->nfailure_side)
        sb_in(&sb, "c.failure_side", "fside", f->nfailure_side);
    if (f->has_min_mos)
        sb_add(&sb, " AND c.mos >= :min_mos");
    if (f->has_max_mos)
        sb_add(&sb, " AND c.mos <= :max_mos");
    if (f->has_min_pdd)
        sb_add(&sb, " AND c.pdd_ms >= :min_pdd");
    if (f->after.valid) {
        /* keyset paging on (key, id); the first comparison lets an index
         * on the key bound the scan */
        snprintf(frag, sizeof frag, " AND %s %s :k AND (%s %s :k OR c.id %s :kid)", key,
                 f->desc ? "<=" : ">=", key, f->desc ? "<" : ">", f->desc ? "<" : ">");
        sb_add(&sb, frag);
    }
    snprintf(frag, sizeof frag, " ORDER BY %s %s, c.id %s LIMIT :lim", key,
             f->desc ? "DESC" : "ASC", f->desc ? "DESC" : "ASC");
    sb_add(&sb, frag);
    if (sb.over)
        return ST_ERR_SQL;

    sqlite3_stmt *s = prep(q, sb.b);
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":from", f->from_ns);
    bind_i(s, ":to", f->to_ns);
    bind_t(s, ":caller", f->caller);
    bind_t(s, ":callee", f->callee);
    char rev[2][sizeof f->caller], end[2][sizeof f->caller + 1];
    rev_range(f->caller, sizeof f->caller - 1, rev[0], end[0]);
    rev_range(f->callee, sizeof f->callee - 1, rev[1], end[1]);
    bind_t(s, ":caller_rev", rev[0]);
    bind_t(s, ":caller_rev_end", end[0]);
    bind_t(s, ":callee_rev", rev[1]);
    bind_t(s, ":callee_rev_end", end[1]);
    if (f->site)
        bind_t(s, ":site", f->site);
    bind_list(s, "dir", f->direction, f->ndirection);
    bind_list(s, "oc", f->outcome, f->noutcome);
    bind_list(s, "fside", f->failure_side, f->nfailure_side);
    if (f->number_digits[0]) {
        /* the last (up to) 7 digits, reversed, and the end of their range */
        const char *d = f->number_digits;
        size_t n = strlen(d);
        char nrev[8], nrend[9];
        rev_range(n > 7 ? d + n - 7 : d, 7, nrev, nrend);
        bind_t(s, ":nd", d);
        bind_t(s, ":nrev", nrev);
        bind_t(s, ":nrev_end", nrend);
    }
    if (f->number_user[0])
        bind_t(s, ":nu", f->number_user);
    if (f->call_id)
        bind_t(s, ":cid", f->call_id);
    bind_leg_cols(s, f, tl, tp);
    bind_i(s, ":plo", q->port_lo);
    bind_i(s, ":phi", q->port_hi);
    bind_i(s, ":scan_floor", scan_floor);
    bind_d(s, ":min_mos", f->min_mos);
    bind_d(s, ":max_mos", f->max_mos);
    bind_i(s, ":min_pdd", f->min_pdd_ms);
    if (f->after.valid) {
        if (sort_is_real(f->sort))
            bind_d(s, ":k", f->after.key_d);
        else
            bind_i(s, ":k", f->after.key_i);
        bind_i(s, ":kid", f->after.id);
    }
    uint32_t limit = f->limit ? f->limit : 1;
    bind_i(s, ":lim", (int64_t)limit + 1); /* one more: is there a next page? */

    struct stq_cell cells[STQ_MAX_COLS];
    uint32_t got = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (got == limit) {
            next->valid = true; /* the key of the last row handed out */
            break;
        }
        int nc = sqlite3_column_count(s);
        size_t n = row_cells(s, cells, (size_t)nc);
        next->id = sqlite3_column_int64(s, nc - 2);
        if (sort_is_real(f->sort))
            next->key_d = sqlite3_column_double(s, nc - 1);
        else
            next->key_i = sqlite3_column_int64(s, nc - 1);
        got++;
        if (fn && fn(ctx, cells, n >= 2 ? n - 2 : n) != 0)
            break;
    }
    bool ok = r == SQLITE_ROW || r == SQLITE_DONE;
    sqlite3_reset(s);
    if (scanned && scan_older && !next->valid) {
        next->partial = true;
        next->searched_from_ns = scan_from;
    }
    return ok ? ST_OK : ST_ERR_SQL;
}

int stq_call(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    size_t rows = 0;
    int rc = run_id(q, "SELECT " CALL_COLS " FROM calls c WHERE c.id=:id", id, fn, ctx, &rows);
    return rc == ST_OK && rows == 0 ? ST_ERR_NOT_FOUND : rc;
}

int stq_call_packets(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    size_t rows = 0;
    /* the same choice as st_export_frames: capture ids, else the spool,
     * which covers the call when its oldest packet is no later than the
     * call's start */
    int rc = run_id(q,
                    "SELECT CASE WHEN c.capture_id IS NOT NULL OR EXISTS(SELECT 1 FROM legs l"
                    " JOIN sip_links k ON k.leg_id=l.id JOIN sip_messages m ON m.id=k.msg_id"
                    " WHERE l.call_ref=c.id AND m.capture_id IS NOT NULL) THEN 'capture'"
                    " WHEN (SELECT min(first_ts) FROM spool_files) IS NULL THEN 'not_kept'"
                    " WHEN (SELECT min(first_ts) FROM spool_files) > c.start THEN 'aged_out'"
                    " ELSE 'spool' END AS packets FROM calls c WHERE c.id=:id",
                    id, fn, ctx, &rows);
    return rc == ST_OK && rows == 0 ? ST_ERR_NOT_FOUND : rc;
}

int64_t stq_call_exists(struct stq *q, int64_t id)
{
    sqlite3_stmt *s = prep(q, "SELECT coalesce(capture_id, 0), 1 FROM calls WHERE id=:id");
    int64_t v = -1;
    if (!s)
        return -1;
    bind_i(s, ":id", id);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
}

int stq_call_legs(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT idx AS idx, call_id AS call_id, from_user AS \"from\", to_user AS \"to\","
                  " ruri AS ruri, pai AS pai, caller_digits AS caller_digits,"
                  " callee_digits AS callee_digits, " ISO("invite_ts") " AS invite_ts, " ISO(
                      "prov_ts") " AS prov_ts, " ISO("ring_ts") " AS ring_ts, " ISO("answer_ts") " AS"
                  " answer_ts, " ISO("end_ts") " AS end_ts, " ISO("bye_ts") " AS bye_ts,"
                  " final_status AS final_status, reason AS reason, reason_hdr AS reason_header,"
                  " q850 AS q850_cause, ms_diag AS ms_diagnostics, hangup_by AS hangup_by,"
                  " transport AS transport, src AS src, sport AS sport, dst AS dst, dport AS dport,"
                  " outcome AS outcome, ev_type AS evidence, ev_conf AS confidence,"
                  " linked_to AS linked_to, caller_codecs AS caller_codecs,"
                  " callee_codecs AS callee_codecs, caller_media_addr AS caller_media_addr,"
                  " caller_media_port AS caller_media_port, callee_media_addr AS"
                  " callee_media_addr, callee_media_port AS callee_media_port,"
                  " leg_ref AS leg_ref, capture_gap AS capture_gap, mos AS mos, site AS site,"
                  " user_agent AS user_agent, server AS server,"
                  " mos_reason AS mos_reason, (coalesce(media_flags,0)&1)<>0 AS one_way,"
                  " (coalesce(media_flags,0)&2)<>0 AS no_audio,"
                  " endpoint_quality AS endpoint_quality"
                  " FROM legs WHERE call_ref=:id ORDER BY idx, id",
                  id, fn, ctx, NULL);
}

#define MSG_FROM                                                                             \
    " FROM legs l JOIN sip_links k ON k.leg_id=l.id JOIN sip_messages m ON m.id=k.msg_id"    \
    " WHERE l.call_ref=:id"                                                                  \
    " ORDER BY m.ts, m.id"

int stq_call_messages(struct stq *q, int64_t id, uint32_t max, stq_row_fn fn, void *ctx,
                      bool *more)
{
    sqlite3_stmt *s = prep(q, "SELECT m.id AS id, " ISO("m.ts") " AS ts, m.ts AS ts_ns,"
                              " m.src AS src, m.sport AS sport, m.dst AS dst, m.dport AS dport,"
                              " m.transport AS transport, l.idx AS leg, m.method AS method,"
                              " m.status AS status, m.cseq AS cseq, m.cseq_method AS cseq_method,"
                              " length(m.raw) AS size, substr(m.raw,1,200) AS head,"
                              " m.raw AS raw" MSG_FROM " LIMIT :lim");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    bind_i(s, ":lim", (int64_t)max + 1);
    struct stq_cell cells[STQ_MAX_COLS];
    uint32_t got = 0;
    int r;
    *more = false;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (got == max) {
            *more = true;
            break;
        }
        got++;
        size_t n = row_cells(s, cells, (size_t)sqlite3_column_count(s));
        if (fn(ctx, cells, n) != 0)
            break;
    }
    bool ok = r == SQLITE_ROW || r == SQLITE_DONE;
    sqlite3_reset(s);
    return ok ? ST_OK : ST_ERR_SQL;
}

int stq_call_message_raw(struct stq *q, int64_t id, int64_t n, stq_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(q, "SELECT m.id AS id, " ISO("m.ts") " AS ts, m.src AS src,"
                              " m.sport AS sport, m.dst AS dst, m.dport AS dport,"
                              " m.transport AS transport, l.idx AS leg, m.raw AS raw" MSG_FROM
                              " LIMIT 1 OFFSET :n");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    bind_i(s, ":n", n);
    size_t rows = 0;
    int rc = run_rows(s, fn, ctx, &rows);
    return rc == ST_OK && rows == 0 ? ST_ERR_NOT_FOUND : rc;
}

int stq_call_streams(struct stq *q, int64_t id, uint32_t max, stq_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(
        q, "SELECT s.id AS id, l.idx AS leg, s.leg_ref AS leg_ref, s.src AS src,"
           " s.sport AS sport, s.dst AS dst, s.dport AS dport, s.ssrc AS ssrc,"
           " s.payload_type AS payload_type, s.payload_types AS payload_types, s.codec AS codec,"
           " s.clock_rate AS clock_rate, " ISO("s.first_ts") " AS first_ts, " ISO(
               "s.last_ts") " AS last_ts, (s.last_ts-s.first_ts)/1e9 AS duration_s,"
           " s.packets AS packets, s.bytes AS bytes, s.expected AS expected, s.lost AS lost,"
           " s.lost_pct AS lost_pct, s.duplicates AS duplicates, s.out_of_order AS out_of_order,"
           " s.seq_resets AS seq_resets, s.seq_errors AS seq_errors, s.markers AS markers,"
           " s.comfort_noise AS comfort_noise, s.jb_discarded AS jb_discarded,"
           " s.min_delta_ms AS min_delta_ms, s.mean_delta_ms AS mean_delta_ms,"
           " s.max_delta_ms AS max_delta_ms, s.jitter_min_ms AS jitter_min_ms,"
           " s.jitter_mean_ms AS jitter_mean_ms, s.jitter_max_ms AS jitter_max_ms,"
           " s.problem AS problem, s.mos AS mos, s.mos_reason AS mos_reason,"
           " s.r_factor AS r_factor, s.ppl_pct AS ppl_pct,"
           " s.burst_r AS burst_r, s.delay_ms AS delay_ms, s.flags AS flags,"
           " s.signalled AS signalled, s.dtmf_events AS dtmf_events, s.dtmf AS dtmf,"
           " s.srtp_decrypted AS srtp_decrypted, s.srtp_auth_fail AS srtp_auth_fail,"
           " s.srtp_not_tried AS srtp_not_tried,"
           " s.rtcp_sr AS rtcp_sr, s.rtcp_rr AS rtcp_rr, s.rtcp_sdes AS rtcp_sdes,"
           " s.rtcp_bye AS rtcp_bye, s.rtcp_xr AS rtcp_xr, s.rtcp_app AS rtcp_app,"
           " s.rtcp_feedback AS rtcp_feedback, s.rtcp_srtcp AS rtcp_srtcp,"
           " s.rtcp_cname AS rtcp_cname, s.rtcp_report_blocks AS rtcp_report_blocks,"
           " s.rtcp_fraction_lost AS rtcp_fraction_lost,"
           " s.rtcp_fraction_lost_max AS rtcp_fraction_lost_max,"
           " s.rtcp_cumulative_lost AS rtcp_cumulative_lost, s.rtcp_jitter_ms AS rtcp_jitter_ms,"
           " s.rtcp_rtt_samples AS rtcp_rtt_samples, s.rtcp_rtt_ms AS rtcp_rtt_ms,"
           " s.rtcp_rtt_max_ms AS rtcp_rtt_max_ms, s.rtcp_xr_voip AS rtcp_xr_voip,"
           " s.rtcp_xr_mos_lq AS rtcp_xr_mos_lq, s.rtcp_xr_r_factor AS rtcp_xr_r_factor"
           " FROM rtp_streams s LEFT JOIN legs l ON l.id=s.leg_id WHERE s.call_ref=:id"
           " ORDER BY s.first_ts, s.id LIMIT :lim");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    bind_i(s, ":lim", max);
    return run_rows(s, fn, ctx, NULL);
}

int stq_stream_series(struct stq *q, int64_t stream_id, uint32_t max, stq_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(q, "SELECT " ISO("ts") " AS t, ts/1000000 AS t_ms, packets AS packets,"
                              " lost AS lost, jitter_mean_ms AS jitter_mean_ms,"
                              " jitter_max_ms AS jitter_max_ms, max_delta_ms AS max_delta_ms,"
                              " mos AS mos, flags AS flags FROM rtp_intervals"
                              " WHERE stream_id=:id ORDER BY ts LIMIT :lim");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", stream_id);
    bind_i(s, ":lim", max);
    return run_rows(s, fn, ctx, NULL);
}

/* ---- trunks ---- */

#define TRUNK_COLS                                                                           \
    "t.id AS id, t.name AS name, t.local_addr AS local, t.peer_addr AS peer,"                \
    " CASE WHEN t.itsp THEN 'itsp' ELSE 'direct' END AS type, t.attempts AS attempts,"        \
    " t.answered AS answered, t.busy AS busy, t.rejected AS rejected,"                        \
    " t.cancelled AS cancelled, t.failed AS failed, t.timeouts AS timeouts, t.asr AS asr,"    \
    " t.ner AS ner, t.acd_s AS acd_s, t.pdd_mean_ms AS pdd_mean_ms,"                          \
    " t.pdd_p95_ms AS pdd_p95_ms, t.peak_concurrent AS peak_concurrent, " ISO("t.peak_ts")    \
    " AS peak_ts, t.peak_kbps AS peak_kbps, " ISO("t.updated") " AS updated, t.site AS site"

int stq_trunks(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q, "SELECT " TRUNK_COLS " FROM trunks t WHERE :id=:id ORDER BY t.id", 0, fn,
                  ctx, NULL);
}

int stq_trunks_site(struct stq *q, const char *site, stq_row_fn fn, void *ctx)
{
    if (!site)
        return stq_trunks(q, fn, ctx);
    sqlite3_stmt *s = prep(q, "SELECT " TRUNK_COLS " FROM trunks t WHERE t.site=:site ORDER BY t.id");
    if (!s)
        return ST_ERR_SQL;
    bind_t(s, ":site", site);
    return run_rows(s, fn, ctx, NULL);
}

int stq_sites(struct stq *q, stq_row_fn fn, void *ctx)
{
    /* calls(site, start) answers the distinct sites and their counts */
    return run_id(q,
                  "SELECT s.site AS site, (SELECT count(*) FROM calls c WHERE c.site=s.site) AS"
                  " calls, (SELECT count(*) FROM trunks t WHERE t.site=s.site) AS trunks, " ISO(
                      "(SELECT min(c.start) FROM calls c WHERE c.site=s.site)") " AS first_call, " ISO(
                      "(SELECT max(c.start) FROM calls c WHERE c.site=s.site)") " AS last_call"
                  " FROM (SELECT DISTINCT site FROM calls WHERE site IS NOT NULL UNION"
                  " SELECT site FROM trunks WHERE site IS NOT NULL) s WHERE :id=:id"
                  " ORDER BY 1 LIMIT " STQ_SITES_MAX_S,
                  0, fn, ctx, NULL);
}

int stq_topology(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT id AS id, role AS role, side AS side, learned_from AS learned_from,"
                  " b2bua AS b2bua, calls AS calls, confidence AS confidence,"
                  " user_agent AS user_agent, addresses AS addresses, site AS site"
                  " FROM topology WHERE :id=:id ORDER BY id",
                  0, fn, ctx, NULL);
}

int stq_trunk(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    size_t rows = 0;
    int rc = run_id(q, "SELECT " TRUNK_COLS " FROM trunks t WHERE t.id=:id", id, fn, ctx, &rows);
    return rc == ST_OK && rows == 0 ? ST_ERR_NOT_FOUND : rc;
}

/* A trunk's sums come from leg_sums (schema v15: per address pair, day
 * and leg class, kept by triggers on legs), a few rows per trunk and day
 * instead of every leg. One aggregate per direction; a leg between equal
 * addresses counts once, as inbound. Legs still open when their input
 * ended count apart (in_progress), outside the ratios; an outcome stored
 * as NULL ('' here) counts in neither, as before. */
#define LS_ENDED "(s.outcome NOT IN ('in_progress','pending',''))"
#define LS_OPEN "(s.outcome IN ('in_progress','pending'))"
#define LS_SUM(cond) "total(CASE WHEN " cond " THEN s.legs END)"
#define DIR_SUMS                                                                             \
    " CAST(" LS_SUM(LS_ENDED) " AS INTEGER) AS attempts,"                                    \
    " CAST(" LS_SUM(LS_OPEN) " AS INTEGER) AS in_progress,"                                  \
    " CAST(" LS_SUM("s.outcome='answered'") " AS INTEGER) AS answered,"                      \
    " CAST(" LS_SUM("s.outcome='busy'") " AS INTEGER) AS busy,"                              \
    " CAST(" LS_SUM("s.outcome='rejected'") " AS INTEGER) AS rejected,"                      \
    " CAST(" LS_SUM("s.outcome='cancelled'") " AS INTEGER) AS cancelled,"                    \
    " CAST(" LS_SUM("s.outcome='failed'") " AS INTEGER) AS failed,"                          \
    " CAST(" LS_SUM("s.outcome='timeout'") " AS INTEGER) AS timeouts,"                       \
    " " LS_SUM("s.outcome='answered'") "/nullif(" LS_SUM(LS_ENDED) ",0) AS asr,"             \
    " " LS_SUM(LS_ENDED " AND (s.outcome IN ('answered','cancelled') OR s.final_status IN"    \
               " (486,480,487,600,603,404,484))") "/nullif(" LS_SUM(LS_ENDED) ",0) AS ner,"   \
    " total(s.acd_ns)/1e9/nullif(sum(s.acd_n),0) AS acd_s,"                                 \
    " total(s.pdd_ns)/1e6/nullif(sum(s.pdd_n),0) AS pdd_mean_ms"                             \
    " FROM trunks t JOIN leg_sums s ON "
#define LS_OF_TRUNK                                                                          \
    " FROM trunks t JOIN leg_sums s ON (s.src=t.local_addr AND s.dst=t.peer_addr)"           \
    " OR (s.src=t.peer_addr AND s.dst=t.local_addr) WHERE t.id=:id"

int stq_trunk_directions(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT * FROM ("
                  "SELECT 'inbound' AS direction," DIR_SUMS
                  "s.src=t.peer_addr AND s.dst=t.local_addr WHERE t.id=:id"
                  " UNION ALL SELECT 'outbound'," DIR_SUMS
                  "s.src=t.local_addr AND s.dst=t.peer_addr AND s.src<>t.peer_addr"
                  " WHERE t.id=:id) WHERE attempts+in_progress>0 ORDER BY 1",
                  id, fn, ctx, NULL);
}

int stq_trunk_codes(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT s.final_status AS status, sum(s.legs) AS count" LS_OF_TRUNK
                  " AND s.final_status>=0 GROUP BY 1 HAVING count>0 ORDER BY 2 DESC, 1 LIMIT 600",
                  id, fn, ctx, NULL);
}

int stq_trunk_failures(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    /* failure_sums (v15): distinct calls per failure kind and address
     * pair, kept by triggers; an answered leg's call is never in it */
    return run_id(q,
                  "SELECT f.outcome AS outcome, f.side AS failure_side, f.status AS final_status,"
                  " f.reason AS reason, f.sender AS sender, f.q850 AS q850_cause,"
                  " f.hdr AS reason_header, sum(f.calls) AS calls"
                  " FROM trunks t JOIN failure_sums f ON f.a=min(t.local_addr,t.peer_addr)"
                  " AND f.b=max(t.local_addr,t.peer_addr) WHERE t.id=:id"
                  " GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING calls>0 ORDER BY 8 DESC, 3 LIMIT 200",
                  id, fn, ctx, NULL);
}

int stq_trunk_codecs(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT s.codec AS codec, sum(s.legs) AS count" LS_OF_TRUNK
                  " AND s.outcome='answered' GROUP BY 1 HAVING count>0 ORDER BY 2 DESC LIMIT 32",
                  id, fn, ctx, NULL);
}

static void cell_i(struct stq_cell *c, const char *name, int64_t v)
{
    *c = (struct stq_cell){ .name = name, .type = STQ_INT, .i = v };
}

/* SQL's sum() of a column over some rows, added up in C: the rows of a
 * trunk's minutes are read once in key order instead of grouped by SQL
 * (a week is 10,080 rows per direction: most of a trunk page's time went
 * to SQL's aggregate steps). As SQLite's sum(): NULL when every value was
 * NULL, an integer when every value was one, else the double sum of all
 * values in row order from 0.0, so the answers stay the GROUP BY's. */
struct col_sum {
    int64_t i;
    double d;
    bool any, real;
};

static void col_add(struct col_sum *c, sqlite3_stmt *s, int k)
{
    switch (sqlite3_column_type(s, k)) {
    case SQLITE_NULL:
        return;
    case SQLITE_INTEGER: {
        int64_t v = sqlite3_column_int64(s, k);
        c->i += v;
        c->d += (double)v;
        break;
    }
    default:
        c->d += sqlite3_column_double(s, k);
        c->real = true;
        break;
    }
    c->any = true;
}

static void cell_sum(struct stq_cell *c, const char *name, const struct col_sum *v)
{
    if (!v->any)
        *c = (struct stq_cell){ .name = name, .type = STQ_NULL };
    else if (v->real)
        *c = (struct stq_cell){ .name = name, .type = STQ_REAL, .d = v->d };
    else
        *c = (struct stq_cell){ .name = name, .type = STQ_INT, .i = v->i };
}

/* SQL's a/b of two sums, when the count n (a sum too) is above 0: NULL
 * otherwise or when a is NULL; integer division when both are integers. */
static void cell_div(struct stq_cell *c, const char *name, const struct col_sum *a,
                     const struct col_sum *b, const struct col_sum *n)
{
    bool pos = n->any && (n->real ? n->d > 0 : n->i > 0);
    if (!pos || !a->any || !b->any || (!b->real && b->i == 0 && !a->real))
        *c = (struct stq_cell){ .name = name, .type = STQ_NULL };
    else if (!a->real && !b->real)
        *c = (struct stq_cell){ .name = name, .type = STQ_INT, .i = a->i / b->i };
    else
        *c = (struct stq_cell){ .name = name,
                                .type = STQ_REAL,
                                .d = (a->real ? a->d : (double)a->i) /
                                     (b->real ? b->d : (double)b->i) };
}

int stq_trunk_minutes(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    /* kpi_minute is clustered by (trunk, minute, direction): the rows of a
     * minute are adjacent and come in minute order */
    sqlite3_stmt *s = prep(q, "SELECT minute, attempts, answered, dur_sum_s FROM kpi_minute"
                              " WHERE trunk_id=:id ORDER BY minute");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    struct col_sum v[3];
    int64_t cur = 0;
    bool have = false, stop = false;
    int r;
    for (;;) {
        r = sqlite3_step(s);
        int64_t m = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        if (have && (r != SQLITE_ROW || m != cur)) {
            struct stq_cell c[4];
            cell_i(&c[0], "minute", cur);
            cell_sum(&c[1], "attempts", &v[0]);
            cell_sum(&c[2], "answered", &v[1]);
            if (v[2].any) /* coalesce(sum(dur_sum_s), 0) */
                cell_sum(&c[3], "hold_s", &v[2]);
            else
                cell_i(&c[3], "hold_s", 0);
            if (fn(ctx, c, 4) != 0) {
                stop = true;
                break;
            }
            have = false;
        }
        if (r != SQLITE_ROW)
            break;
        if (!have) {
            memset(v, 0, sizeof v);
            cur = m;
            have = true;
        }
        for (int k = 0; k < 3; k++)
            col_add(&v[k], s, k + 1);
    }
    sqlite3_reset(s);
    return stop || r == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

int stq_trunk_media_rates(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(q, STQ_MEDIA_RATES);
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", id);
    bind_i(s, ":lim", TS_API_MAX_RATE_LEGS);
    return run_rows(s, fn, ctx, NULL);
}

int stq_kpi_range(struct stq *q, int64_t trunk_id, int64_t *first_ns, int64_t *last_ns)
{
    /* min and max apart: each one end of an index (both in one SELECT,
     * or beside a WHERE, read the whole index: 1.2 s on 1 M calls) */
    sqlite3_stmt *s =
        prep(q, trunk_id ? "SELECT (SELECT min(minute) FROM kpi_minute WHERE trunk_id=:id),"
                           " (SELECT max(minute) FROM kpi_minute WHERE trunk_id=:id)"
                         : "SELECT (SELECT min(start) FROM calls), (SELECT max(start) FROM calls)"
                           " WHERE :id=:id");
    *first_ns = *last_ns = 0;
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":id", trunk_id);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *first_ns = sqlite3_column_int64(s, 0);
        *last_ns = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return ST_OK;
}

/* Per-bucket sums of the overview series (all calls, each counted once). */
struct ov_point {
    int64_t attempts, answered, busy, rejected, cancelled, failed, timeouts, concurrent;
    double pdd_sum, dur_sum, mos_sum;
    int64_t pdd_n, dur_n, mos_n;
};

static void cell_d(struct stq_cell *c, const char *name, double sum, int64_t n)
{
    if (n > 0)
        *c = (struct stq_cell){ .name = name, .type = STQ_REAL, .d = sum / (double)n };
    else
        *c = (struct stq_cell){ .name = name, .type = STQ_NULL };
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Peak concurrency per bucket by a sweep over the call start and end times
 * (starts arrive sorted; ends are sorted here). A bucket without events
 * keeps the level it started with. */
static void sweep_peaks(struct ov_point *p, size_t np, int64_t from, int64_t bucket,
                        const int64_t *st, int64_t *en, size_t n)
{
    qsort(en, n, sizeof *en, cmp_i64);
    size_t i = 0, j = 0;
    int64_t level = 0, cur = -1; /* buckets up to cur have seen the level so far */
    while (i < n || j < n) {
        bool is_start = i < n && (j >= n || st[i] < en[j]); /* ends first on ties */
        int64_t t = is_start ? st[i] : en[j];
        int64_t bi = t < from ? -1 : (t - from) / bucket;
        if (bi > (int64_t)np)
            bi = (int64_t)np;
        for (int64_t k = cur + 1; k <= bi && k < (int64_t)np; k++)
            if (p[k].concurrent < level)
                p[k].concurrent = level;
        if (bi > cur)
            cur = bi;
        if (is_start) {
            level++;
            i++;
        } else {
            level--;
            j++;
        }
        if (bi >= 0 && bi < (int64_t)np && p[bi].concurrent < level)
            p[bi].concurrent = level;
    }
    for (int64_t k = cur + 1; k < (int64_t)np; k++)
        if (p[k].concurrent < level)
            p[k].concurrent = level;
}

/* One ended call's outcome, PDD, duration and MOS added to its bucket
 * (column 2 outcome, 3 pdd_ms, 4 duration_s, 5 mos of s); calls not ended
 * count in none of them. */
static void ov_add_call(struct ov_point *pt, sqlite3_stmt *s)
{
    const char *o = (const char *)sqlite3_column_text(s, 2);
    o = o ? o : "";
    if (strcmp(o, "in_progress") == 0 || strcmp(o, "pending") == 0)
        return; /* not ended: outside ASR, NER and ACD */
    pt->attempts++;
    if (strcmp(o, "answered") == 0) {
        pt->answered++;
        if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
            pt->dur_sum += sqlite3_column_double(s, 4);
            pt->dur_n++;
        }
    } else if (strcmp(o, "busy") == 0) {
        pt->busy++;
    } else if (strcmp(o, "rejected") == 0) {
        pt->rejected++;
    } else if (strcmp(o, "cancelled") == 0) {
        pt->cancelled++;
    } else if (strcmp(o, "failed") == 0) {
        pt->failed++;
    } else if (strcmp(o, "timeout") == 0) {
        pt->timeouts++;
    }
    if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
        pt->pdd_sum += (double)sqlite3_column_int64(s, 3);
        pt->pdd_n++;
    }
    if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
        pt->mos_sum += sqlite3_column_double(s, 5);
        pt->mos_n++;
    }
}

/* Raise the concurrency of the buckets over [t0, t1) to at least level. */
static void ov_level(struct ov_point *p, size_t np, int64_t from, int64_t bucket, int64_t t0,
                     int64_t t1, int64_t level)
{
    if (t1 <= from || t1 <= t0)
        return;
    int64_t b0 = t0 < from ? 0 : (t0 - from) / bucket, b1 = (t1 - 1 - from) / bucket;
    for (int64_t k = b0; k <= b1 && k < (int64_t)np; k++)
        if (p[k].concurrent < level)
            p[k].concurrent = level;
}

#define NS_PER_MIN (60 * NS_PER_S)

/* *pt += k * x (k 1 or -1) for the sums of the overview series */
static void ov_sum(struct ov_point *pt, const struct ov_point *x, int k)
{
    pt->attempts += k * x->attempts;
    pt->answered += k * x->answered;
    pt->busy += k * x->busy;
    pt->rejected += k * x->rejected;
    pt->cancelled += k * x->cancelled;
    pt->failed += k * x->failed;
    pt->timeouts += k * x->timeouts;
    pt->pdd_sum += k * x->pdd_sum;
    pt->pdd_n += k * x->pdd_n;
    pt->dur_sum += k * x->dur_sum;
    pt->dur_n += k * x->dur_n;
    pt->mos_sum += k * x->mos_sum;
    pt->mos_n += k * x->mos_n;
}
#define CM_SITE(x) "(:site IS NULL OR site=:site)" x

/* The calls of [a, b) read one by one by raw (start, 0, outcome, pdd_ms,
 * duration_s, mos of the calls of :site, or all when site is NULL, with
 * start in [:a, :b)): each added to its bucket of p, or with p NULL to
 * *part. */
static int ov_calls(sqlite3_stmt *raw, const char *site, int64_t a, int64_t b,
                    struct ov_point *p, int64_t from, int64_t bucket, struct ov_point *part)
{
    sqlite3_reset(raw);
    if (site)
        bind_t(raw, ":site", site);
    bind_i(raw, ":a", a);
    bind_i(raw, ":b", b);
    int rr;
    while ((rr = sqlite3_step(raw)) == SQLITE_ROW)
        ov_add_call(p ? &p[(sqlite3_column_int64(raw, 0) - from) / bucket] : part, raw);
    sqlite3_reset(raw);
    return rr == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

/* The sums of the whole seconds [a, b) (call_seconds, schema v25: the
 * calls of :site, or all) added to *part. */
static int ov_seconds(sqlite3_stmt *sec, const char *site, int64_t a, int64_t b,
                      struct ov_point *part)
{
    sqlite3_reset(sec);
    if (site)
        bind_t(sec, ":site", site);
    bind_i(sec, ":a", a);
    bind_i(sec, ":b", b);
    int rr;
    while ((rr = sqlite3_step(sec)) == SQLITE_ROW) {
        part->attempts += sqlite3_column_int64(sec, 0);
        part->answered += sqlite3_column_int64(sec, 1);
        part->busy += sqlite3_column_int64(sec, 2);
        part->rejected += sqlite3_column_int64(sec, 3);
        part->cancelled += sqlite3_column_int64(sec, 4);
        part->failed += sqlite3_column_int64(sec, 5);
        part->timeouts += sqlite3_column_int64(sec, 6);
        part->pdd_sum += (double)sqlite3_column_int64(sec, 7);
        part->pdd_n += sqlite3_column_int64(sec, 8);
        part->dur_sum += sqlite3_column_double(sec, 9);
        part->dur_n += sqlite3_column_int64(sec, 10);
        part->mos_sum += sqlite3_column_double(sec, 11);
        part->mos_n += sqlite3_column_int64(sec, 12);
    }
    sqlite3_reset(sec);
    return rr == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

/* The overview series from call_minutes (schema v16). A minute inside one
 * bucket adds its sums; a minute across a bucket's edge (a range that does
 * not start on a whole minute) adds the sums of its edge's shorter side,
 * whole seconds from call_seconds (v25) and the second the edge cuts from
 * its calls, to one bucket and the rest of its sums to the other (a range
 * cut inside a minute, or buckets under a minute: its calls one by one).
 * Concurrency: the calls up at some time of a minute (the starts up to it
 * less the ends before it), the most of the bucket's minutes: at least the
 * instantaneous peak the sweep finds, more when calls end and others start
 * in one minute. */
static int overview_rollup(struct stq *q, const char *site, int64_t from, int64_t to,
                           int64_t bucket, struct ov_point *p, size_t np)
{
    int64_t m0 = from - ((from % NS_PER_MIN) + NS_PER_MIN) % NS_PER_MIN;
    sqlite3_stmt *s = prep(q, "SELECT total(calls)-total(ends) FROM call_minutes WHERE"
                              " minute < :m0 AND " CM_SITE(""));
    if (!s)
        return ST_ERR_SQL;
    if (site)
        bind_t(s, ":site", site);
    bind_i(s, ":m0", m0);
    int64_t level = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        level = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    /* rows of one minute (one per site) are summed here: cheaper than
     * SQL's GROUP BY over 16 columns */
    s = prep(q, "SELECT minute, calls, ends, attempts, answered, busy, rejected, cancelled,"
                " failed, timeouts, pdd_sum, pdd_n, dur_sum, dur_n, mos_sum, mos_n"
                " FROM call_minutes WHERE minute >= :m0 AND minute < :to AND " CM_SITE("")
                " ORDER BY minute");
    sqlite3_stmt *raw = prep(q, "SELECT start, 0, outcome, pdd_ms, duration_s, mos FROM calls"
                                " WHERE start >= :a AND start < :b AND " CM_SITE(""));
    if (!s || !raw)
        return ST_ERR_SQL;
    /* NULL before v25: the edges' calls are read */
    sqlite3_stmt *sec = prep(q, "SELECT attempts, answered, busy, rejected, cancelled, failed,"
                                " timeouts, pdd_sum, pdd_n, dur_sum, dur_n, mos_sum, mos_n FROM"
                                " call_seconds WHERE second >= :a AND second < :b AND "
                                CM_SITE(""));
    if (site)
        bind_t(s, ":site", site);
    bind_i(s, ":m0", m0);
    bind_i(s, ":to", to);
    int64_t next = m0; /* minutes before next are done */
    int r = sqlite3_step(s);
    int rc = ST_OK;
    while (r == SQLITE_ROW) {
        int64_t m = sqlite3_column_int64(s, 0), calls = 0, ends = 0;
        struct ov_point sum = { 0 };
        do { /* this minute's rows */
            calls += sqlite3_column_int64(s, 1);
            ends += sqlite3_column_int64(s, 2);
            sum.attempts += sqlite3_column_int64(s, 3);
            sum.answered += sqlite3_column_int64(s, 4);
            sum.busy += sqlite3_column_int64(s, 5);
            sum.rejected += sqlite3_column_int64(s, 6);
            sum.cancelled += sqlite3_column_int64(s, 7);
            sum.failed += sqlite3_column_int64(s, 8);
            sum.timeouts += sqlite3_column_int64(s, 9);
            sum.pdd_sum += (double)sqlite3_column_int64(s, 10);
            sum.pdd_n += sqlite3_column_int64(s, 11);
            sum.dur_sum += sqlite3_column_double(s, 12);
            sum.dur_n += sqlite3_column_int64(s, 13);
            sum.mos_sum += sqlite3_column_double(s, 14);
            sum.mos_n += sqlite3_column_int64(s, 15);
        } while ((r = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_int64(s, 0) == m);
        ov_level(p, np, from, bucket, next, m, level); /* minutes without calls */
        level += calls;
        ov_level(p, np, from, bucket, m, m + NS_PER_MIN < to ? m + NS_PER_MIN : to, level);
        level -= ends;
        next = m + NS_PER_MIN;
        int64_t a = m < from ? from : m, b = m + NS_PER_MIN < to ? m + NS_PER_MIN : to;
        if (a >= b)
            continue;
        /* the range's own edge, or buckets under a minute (tests): one by one */
        bool cut = m < from || b < m + NS_PER_MIN || bucket % NS_PER_MIN;
        if (cut || (a - from) / bucket != (b - 1 - from) / bucket) {
            /* across an edge: a cut minute's calls one by one; a whole
             * minute across a bucket's edge e (one: buckets are whole
             * minutes) reads the calls of its shorter side, and the rest
             * of the minute's sums go to the other bucket (a range not on
             * a whole minute crosses an edge in every bucket) */
            int64_t e = from + (b - 1 - from) / bucket * bucket;
            bool early = e - a <= b - e;
            int64_t ra = cut ? a : early ? a : e, rb = cut ? b : early ? e : b;
            struct ov_point part = { 0 };
            if (cut || !sec) {
                rc = ov_calls(raw, site, ra, rb, cut ? p : NULL, from, bucket, &part);
            } else {
                /* [ra, rb) runs from a whole minute to e or from e: the
                 * second e cuts by its calls, the whole ones summed */
                int64_t es = e - e % NS_PER_S, ee = es == e ? e : es + NS_PER_S;
                int64_t ca = early ? es : e, cb = early ? e : ee;
                int64_t sa = early ? ra : ee, sb = early ? es : rb;
                rc = ca < cb ? ov_calls(raw, site, ca, cb, NULL, from, bucket, &part) : ST_OK;
                if (rc == ST_OK && sa < sb)
                    rc = ov_seconds(sec, site, sa, sb, &part);
            }
            if (rc != ST_OK)
                break;
            if (cut)
                continue;
            ov_sum(&p[(ra - from) / bucket], &part, 1);
            ov_sum(&p[((early ? e : a) - from) / bucket], &sum, 1);
            ov_sum(&p[((early ? e : a) - from) / bucket], &part, -1);
            continue;
        }
        ov_sum(&p[(a - from) / bucket], &sum, 1);
    }
    sqlite3_reset(s);
    if (rc == ST_OK && r != SQLITE_DONE)
        rc = ST_ERR_SQL;
    if (rc == ST_OK)
        ov_level(p, np, from, bucket, next, to, level);
    return rc;
}

/* Whether the overview reads call_minutes: whole-minute buckets over more
 * calls than the sweep reads quickly (it reads the calls of the range and
 * of the STQ_MAX_CALL_SPAN_NS before it). 1 yes, 0 no, -1 error. */
static int overview_use_rollup(struct stq *q, const char *site, int64_t from, int64_t to,
                               int64_t bucket)
{
    if (q->series_way != STQ_SERIES_AUTO)
        return q->series_way == STQ_SERIES_ROLLUP;
    if (bucket % NS_PER_MIN)
        return 0;
    /* summed here, to stop at the bound: a week's 10,080 minutes were read
     * for an answer that its first hour gives */
    sqlite3_stmt *s = prep(q, "SELECT calls FROM call_minutes WHERE minute >= :lo AND"
                              " minute < :to AND " CM_SITE(""));
    if (!s)
        return -1;
    if (site)
        bind_t(s, ":site", site);
    bind_i(s, ":lo", from - STQ_MAX_CALL_SPAN_NS - NS_PER_MIN);
    bind_i(s, ":to", to);
    int64_t calls = 0;
    int r = SQLITE_DONE;
    while (calls <= STQ_SERIES_SWEEP_CALLS && (r = sqlite3_step(s)) == SQLITE_ROW)
        calls += sqlite3_column_int64(s, 0);
    int rc = calls > STQ_SERIES_SWEEP_CALLS ? 1 : r == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(s);
    return rc;
}

/* The series counted from rows (start, end, outcome, pdd_ms, duration_s,
 * mos): the calls (of a site), or with trunk_id the legs on that trunk
 * (buckets under the stored minute; a leg counts at its INVITE, as the
 * minutes do). */
static int overview_kpis(struct stq *q, const char *site, int64_t trunk_id, int64_t from,
                         int64_t to, int64_t bucket, stq_row_fn fn, void *ctx)
{
    size_t np = (size_t)((to - from + bucket - 1) / bucket);
    struct ov_point *p = calloc(np ? np : 1, sizeof *p);
    size_t ncalls = 0, cap = 4096;
    int64_t *st = NULL, *en = NULL;
    int rc = ST_OK;
    if (!p) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    int roll = trunk_id ? 0 : overview_use_rollup(q, site, from, to, bucket);
    if (roll < 0) {
        rc = ST_ERR_SQL;
        goto out;
    }
    if (roll) {
        rc = overview_rollup(q, site, from, to, bucket, p, np);
        if (rc == ST_OK)
            goto points;
        goto out;
    }
    st = malloc(cap * sizeof *st);
    en = malloc(cap * sizeof *en);
    if (!st || !en) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    sqlite3_stmt *s =
        trunk_id
            ? prep(q, "SELECT l.invite_ts, coalesce(l.end_ts,l.invite_ts), l.outcome,"
                      " CASE WHEN coalesce(l.ring_ts, CASE WHEN l.outcome='answered' THEN"
                      " l.answer_ts END) >= l.invite_ts THEN (coalesce(l.ring_ts,l.answer_ts)"
                      " - l.invite_ts)/1000000 END,"
                      " CASE WHEN l.outcome='answered' AND l.end_ts >= l.answer_ts THEN"
                      " (l.end_ts - l.answer_ts)/1e9 END, l.mos"
                      " FROM calls c JOIN legs l ON l.call_ref=c.id JOIN trunks t ON t.id=:id"
                      " WHERE c.start >= :lo AND c.start < :to AND l.invite_ts < :to AND"
                      " ((l.src=t.local_addr AND l.dst=t.peer_addr) OR"
                      " (l.src=t.peer_addr AND l.dst=t.local_addr)) ORDER BY l.invite_ts")
        : site ? prep(q, "SELECT start, coalesce(\"end\",start), outcome, pdd_ms,"
                       " duration_s, mos FROM calls WHERE site=:site AND start >= :lo"
                       " AND start < :to ORDER BY start")
             : prep(q, "SELECT start, coalesce(\"end\",start), outcome, pdd_ms,"
                       " duration_s, mos FROM calls WHERE start >= :lo AND start < :to"
                       " ORDER BY start");
    if (!s) {
        rc = ST_ERR_SQL;
        goto out;
    }
    if (trunk_id)
        bind_i(s, ":id", trunk_id);
    else if (site)
        bind_t(s, ":site", site);
    bind_i(s, ":lo", from - STQ_MAX_CALL_SPAN_NS);
    bind_i(s, ":to", to);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t t0 = sqlite3_column_int64(s, 0), t1 = sqlite3_column_int64(s, 1);
        if (t1 < t0)
            t1 = t0;
        if (t1 >= from) { /* up at some time of the range */
            if (ncalls == TS_API_MAX_SERIES_CALLS) {
                rc = STQ_ERR_TOO_MANY;
                break;
            }
            if (ncalls == cap) {
                cap *= 2;
                int64_t *ns = realloc(st, cap * sizeof *st), *ne = ns ? realloc(en, cap * sizeof *en) : NULL;
                if (ns)
                    st = ns;
                if (ne)
                    en = ne;
                if (!ns || !ne) {
                    rc = ST_ERR_NOMEM;
                    break;
                }
            }
            st[ncalls] = t0;
            en[ncalls++] = t1;
        }
        if (t0 < from || t0 >= to)
            continue;
        ov_add_call(&p[(t0 - from) / bucket], s);
    }
    sqlite3_reset(s);
    if (rc == ST_OK && r != SQLITE_DONE)
        rc = ST_ERR_SQL;
    if (rc != ST_OK)
        goto out;
    sweep_peaks(p, np, from, bucket, st, en, ncalls);
points:
    for (size_t i = 0; i < np; i++) {
        struct stq_cell c[16];
        const struct ov_point *pt = &p[i];
        int64_t t = from + (int64_t)i * bucket;
        size_t k = 0;
        cell_i(&c[k++], "t_ms", t / NS_PER_MS);
        cell_i(&c[k++], "attempts", pt->attempts);
        cell_i(&c[k++], "answered", pt->answered);
        cell_i(&c[k++], "busy", pt->busy);
        cell_i(&c[k++], "rejected", pt->rejected);
        cell_i(&c[k++], "cancelled", pt->cancelled);
        cell_i(&c[k++], "failed", pt->failed);
        cell_i(&c[k++], "timeouts", pt->timeouts);
        cell_d(&c[k++], "asr", (double)pt->answered, pt->attempts);
        cell_d(&c[k++], "pdd_mean_ms", pt->pdd_sum, pt->pdd_n);
        cell_d(&c[k++], "answer_delay_ms", 0, 0);
        cell_d(&c[k++], "acd_s", pt->dur_sum, pt->dur_n);
        cell_i(&c[k++], "concurrent", pt->concurrent);
        cell_d(&c[k++], "mos", pt->mos_sum, pt->mos_n);
        if (fn(ctx, c, k) != 0)
            break;
    }
out:
    free(p);
    free(st);
    free(en);
    return rc;
}

int stq_site_kpis(struct stq *q, const char *site, int64_t from_ns, int64_t to_ns,
                  int64_t bucket_ns, stq_row_fn fn, void *ctx)
{
    if (bucket_ns <= 0 || to_ns <= from_ns ||
        (to_ns - from_ns) / bucket_ns >= (int64_t)TS_API_MAX_KPI_POINTS)
        return ST_ERR_SQL;
    return overview_kpis(q, site, 0, from_ns, to_ns, bucket_ns, fn, ctx);
}

int stq_site_range(struct stq *q, const char *site, int64_t *first_ns, int64_t *last_ns)
{
    sqlite3_stmt *s = prep(q, "SELECT (SELECT min(start) FROM calls WHERE site=:site),"
                              " (SELECT max(start) FROM calls WHERE site=:site)");
    *first_ns = *last_ns = 0;
    if (!s)
        return ST_ERR_SQL;
    bind_t(s, ":site", site);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *first_ns = sqlite3_column_int64(s, 0);
        *last_ns = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return ST_OK;
}

/* A trunk's series from its stored minutes: kpi_minute's rows of the range
 * (in key order: minute, direction) summed per bucket in C, and the MOS per
 * bucket from leg_minutes (v19), the trunk's legs both ways. The same
 * rows, sums and types as SQL's GROUP BY of them (col_sum); buckets
 * without a kpi_minute row are left out, a bucket without MOS rows has a
 * null MOS. When every bucket is whole hours (the range starts on an hour,
 * the bucket is hours), the hours before the range's last partial one come
 * from kpi_hour and leg_hours (v28): a week is 168 rows, not 10,080. */
#define TS_KPI_COLS                                                                             \
    " attempts, answered, busy, rejected, cancelled, failed, timeouts, srd_sum_ms, srd_n,"      \
    " ans_sum_ms, ans_n, dur_sum_s, dur_n, peak_concurrent"
enum { TS_ATT, TS_ANS, TS_BUSY, TS_REJ, TS_CANC, TS_FAIL, TS_TMO, TS_SRD, TS_SRD_N, TS_ANSD,
       TS_ANSD_N, TS_DUR, TS_DUR_N, TS_COLS };

struct ts_mos {
    double s, n;
    bool any;
};

static int trunk_series(struct stq *q, int64_t trunk_id, const char *tl, const char *tp,
                        int64_t from, int64_t to, int64_t b, stq_row_fn fn, void *ctx)
{
    size_t np = (size_t)((to - from + b - 1) / b);
    struct ts_mos *mos = calloc(np ? np : 1, sizeof *mos);
    if (!mos)
        return ST_ERR_SQL;
    int rc = ST_OK;
    /* [from, split) from the hours, [split, to) from the minutes */
    int64_t split = from;
    if (b % ST_HOUR_NS_N == 0 && from % ST_HOUR_NS_N == 0 && to - to % ST_HOUR_NS_N > from)
        split = to - to % ST_HOUR_NS_N;
    /* the MOS sums of the trunk's legs each way (a leg between equal
     * addresses once) */
    sqlite3_stmt *s = prep(q, "SELECT hour, mos_sum, mos_n FROM leg_hours WHERE src=:a"
                              " AND dst=:b AND hour >= :from AND hour < :split UNION ALL"
                              " SELECT minute, mos_sum, mos_n FROM leg_minutes WHERE src=:a"
                              " AND dst=:b AND minute >= :split AND minute < :to");
    for (int way = 0; s && way < 2 && rc == ST_OK; way++) {
        if (way && strcmp(tl, tp) == 0)
            break;
        sqlite3_reset(s);
        bind_t(s, ":a", way ? tp : tl);
        bind_t(s, ":b", way ? tl : tp);
        bind_i(s, ":from", from);
        bind_i(s, ":split", split);
        bind_i(s, ":to", to);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            size_t k = (size_t)((sqlite3_column_int64(s, 0) - from) / b);
            if (k >= np)
                continue;
            mos[k].s += sqlite3_column_double(s, 1);
            mos[k].n += sqlite3_column_double(s, 2);
            mos[k].any = true;
        }
        if (r != SQLITE_DONE)
            rc = ST_ERR_SQL;
        sqlite3_reset(s);
    }
    if (!s)
        rc = ST_ERR_SQL;
    /* in time order: the hours, then the minutes after them */
    s = rc == ST_OK ? prep(q, "SELECT hour AS t," TS_KPI_COLS " FROM kpi_hour"
                              " WHERE trunk_id=:id AND hour >= :from AND hour < :split"
                              " UNION ALL SELECT minute," TS_KPI_COLS " FROM kpi_minute"
                              " WHERE trunk_id=:id AND minute >= :split AND minute < :to"
                              " ORDER BY t")
                    : NULL;
    if (!s) {
        free(mos);
        return ST_ERR_SQL;
    }
    bind_i(s, ":id", trunk_id);
    bind_i(s, ":from", from);
    bind_i(s, ":split", split);
    bind_i(s, ":to", to);
    static const char *const NAMES[] = { "attempts", "answered",  "busy",   "rejected",
                                         "cancelled", "failed", "timeouts" };
    struct col_sum v[TS_COLS];
    int64_t peak = 0, cur = -1;
    bool have_peak = false, stop = false;
    int r;
    for (;;) {
        r = sqlite3_step(s);
        int64_t k = r == SQLITE_ROW ? (sqlite3_column_int64(s, 0) - from) / b : -1;
        if (cur >= 0 && k != cur) {
            struct stq_cell c[14];
            int64_t t = from + cur * b;
            cell_i(&c[0], "t_ms", t / NS_PER_MS);
            for (int i = TS_ATT; i <= TS_TMO; i++)
                cell_sum(&c[1 + i], NAMES[i], &v[i]);
            /* 1.0*sum(answered)/sum(attempts), when attempts > 0 */
            struct col_sum ans_r = v[TS_ANS];
            if (ans_r.any && !ans_r.real) {
                ans_r.real = true;
                ans_r.d = (double)ans_r.i;
            }
            cell_div(&c[8], "asr", &ans_r, &v[TS_ATT], &v[TS_ATT]);
            cell_div(&c[9], "pdd_mean_ms", &v[TS_SRD], &v[TS_SRD_N], &v[TS_SRD_N]);
            cell_div(&c[10], "answer_delay_ms", &v[TS_ANSD], &v[TS_ANSD_N], &v[TS_ANSD_N]);
            cell_div(&c[11], "acd_s", &v[TS_DUR], &v[TS_DUR_N], &v[TS_DUR_N]);
            if (have_peak)
                cell_i(&c[12], "concurrent", peak);
            else
                c[12] = (struct stq_cell){ .name = "concurrent", .type = STQ_NULL };
            const struct ts_mos *m = &mos[cur];
            if (m->any && m->n != 0)
                c[13] = (struct stq_cell){ .name = "mos", .type = STQ_REAL, .d = m->s / m->n };
            else
                c[13] = (struct stq_cell){ .name = "mos", .type = STQ_NULL };
            if (fn(ctx, c, 14) != 0) {
                stop = true;
                break;
            }
            cur = -1;
        }
        if (r != SQLITE_ROW || k < 0 || (size_t)k >= np)
            break;
        if (cur < 0) {
            memset(v, 0, sizeof v);
            have_peak = false;
            cur = k;
        }
        for (int i = 0; i < TS_COLS; i++)
            col_add(&v[i], s, i + 1);
        if (sqlite3_column_type(s, 14) != SQLITE_NULL) {
            int64_t p = sqlite3_column_int64(s, 14);
            if (!have_peak || p > peak)
                peak = p;
            have_peak = true;
        }
    }
    sqlite3_reset(s);
    free(mos);
    return stop || r == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

int stq_kpis(struct stq *q, int64_t trunk_id, int64_t from_ns, int64_t to_ns, int64_t bucket_ns,
             stq_row_fn fn, void *ctx)
{
    if (bucket_ns <= 0 || to_ns <= from_ns ||
        (to_ns - from_ns) / bucket_ns >= (int64_t)TS_API_MAX_KPI_POINTS)
        return ST_ERR_SQL; /* the caller validates; never allocate unbounded */
    if (trunk_id == 0 || bucket_ns % (60 * NS_PER_S))
        return overview_kpis(q, NULL, trunk_id, from_ns, to_ns, bucket_ns, fn, ctx);
    /* the addresses first: a later prep() may evict a cached statement */
    char tl[64], tp[64];
    int rc = trunk_addrs(q, trunk_id, tl, tp, sizeof tl);
    if (rc != ST_OK)
        return rc == ST_ERR_NOT_FOUND ? ST_OK : rc;
    return trunk_series(q, trunk_id, tl, tp, from_ns, to_ns, bucket_ns, fn, ctx);
}

#define PEER_OF_TRUNK                                                                        \
    " WHERE :id=0 OR EXISTS(SELECT 1 FROM trunks t WHERE t.id=:id AND"                        \
    " ((client=t.local_addr AND server=t.peer_addr) OR"                                       \
    " (client=t.peer_addr AND server=t.local_addr)))"

int stq_registrations(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT id AS id, client AS client, server AS server, aor AS aor,"
                  " attempts AS attempts, successes AS successes, challenges AS challenges,"
                  " failures AS failures, timeouts AS timeouts, rt_mean_ms AS rt_mean_ms,"
                  " rt_max_ms AS rt_max_ms, last_status AS last_status, " ISO("first_ts") " AS"
                  " first_ts, " ISO("last_ts") " AS last_ts, " ISO("last_ok_ts") " AS last_ok_ts"
                  " FROM registrations" PEER_OF_TRUNK " ORDER BY id LIMIT 10000",
                  trunk_id, fn, ctx, NULL);
}

int stq_keepalives(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT id AS id, client AS client, server AS server, attempts AS attempts,"
                  " successes AS successes, failures AS failures, timeouts AS timeouts,"
                  " rt_mean_ms AS rt_mean_ms, rt_max_ms AS rt_max_ms,"
                  " last_status AS last_status, " ISO("first_ts") " AS first_ts, " ISO(
                      "last_ts") " AS last_ts, " ISO("last_ok_ts") " AS last_ok_ts"
                  " FROM keepalives" PEER_OF_TRUNK " ORDER BY id LIMIT 10000",
                  trunk_id, fn, ctx, NULL);
}

/* ---- alerts and trunk health (schema v10) ---- */

/* One state's newest alerts: a backward walk of alerts(state, started). */
#define ALERTS_OF(BIT, STATE, RANK)                                                           \
    "SELECT * FROM (SELECT " RANK " AS rk, id, started FROM alerts WHERE :m & " BIT " AND"    \
    " state='" STATE "' AND (:t=0 OR trunk_id=:t) ORDER BY started DESC, id DESC LIMIT :lim)"

int stq_alerts(struct stq *q, unsigned states, int64_t trunk_id, uint32_t limit, stq_row_fn fn,
               void *ctx)
{
    /* firing, pending, then resolved, each the newest first: the page's
     * ids from one index walk per state (sorting every stored alert and
     * formatting its times cost 37 ms for 500 of 5,005), then its rows */
    sqlite3_stmt *s = prep(
        q, "SELECT a.id AS id, a.rule AS rule, a.scope AS scope, a.target AS target,"
           " a.trunk_id AS trunk_id, a.site AS site, a.severity AS severity, a.state AS state,"
           " a.value AS value, a.threshold AS threshold, " ISO("a.started") " AS started, " ISO(
               "a.fired") " AS fired, " ISO("a.resolved") " AS resolved, " ISO("a.updated")
           " AS updated, a.summary AS summary, a.evidence AS evidence FROM (SELECT * FROM ("
           ALERTS_OF("2", "firing", "0") " UNION ALL " ALERTS_OF("1", "pending", "1")
           " UNION ALL " ALERTS_OF("4", "resolved", "2") ") ORDER BY rk, started DESC, id DESC"
           " LIMIT :lim) x JOIN alerts a ON a.id=x.id ORDER BY x.rk, x.started DESC, x.id DESC");
    if (!s)
        return ST_ERR_SQL;
    bind_i(s, ":m", states);
    bind_i(s, ":t", trunk_id);
    bind_i(s, ":lim", limit);
    return run_rows(s, fn, ctx, NULL);
}

int stq_alert_counts(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT state AS state, severity AS severity, count(*) AS count FROM alerts"
                  " WHERE state IN ('pending','firing') AND :id=:id GROUP BY 1, 2",
                  0, fn, ctx, NULL);
}

int stq_trunk_health(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT trunk_id AS trunk_id, state AS state, reasons AS reasons,"
                  " metrics AS metrics, " ISO("data_ts") " AS data_ts, " ISO("updated") " AS updated"
                  " FROM trunk_health WHERE :id=0 OR trunk_id=:id ORDER BY trunk_id LIMIT 10000",
                  trunk_id, fn, ctx, NULL);
}

/* Each evaluated trunk of a site with its health (a site's health is its
 * trunks'). */
int stq_site_health(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT t.site AS site, t.id AS trunk_id, t.name AS name, h.state AS state,"
                  " h.reasons AS reasons FROM trunks t JOIN trunk_health h ON h.trunk_id=t.id"
                  " WHERE t.site IS NOT NULL AND :id=:id ORDER BY t.site, t.id LIMIT 10000",
                  0, fn, ctx, NULL);
}

/* The Lync trunk checklist the analysis stored (schema v13). */
int stq_trunk_checklist(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT status AS status, items AS items, " ISO("updated") " AS updated"
                  " FROM trunk_checklist WHERE trunk_id=:id",
                  trunk_id, fn, ctx, NULL);
}

/* ---- live state ---- */

int stq_live_state(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT " ISO("updated") " AS updated, " ISO("capture_ts") " AS capture_time,"
                  " calls_up AS calls_up, legs_up AS legs_up, legs_ringing AS legs_ringing,"
                  " legs_trying AS legs_trying, running AS running,"
                   " round((julianday('now')-2440587.5)*86400.0-updated/1e9,3) AS age_s"
                  " FROM live_state WHERE :id=:id",
                  0, fn, ctx, NULL);
}

int stq_live_trunks(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT t.id AS trunk_id, count(DISTINCT l.call_key) AS calls"
                  " FROM live_state s, trunks t JOIN live_legs l ON l.state='up' AND"
                  " ((l.src=t.local_addr AND l.dst=t.peer_addr) OR"
                  " (l.src=t.peer_addr AND l.dst=t.local_addr))"
                  " WHERE s.id=1 AND s.running=1 AND :id=:id GROUP BY t.id",
                  0, fn, ctx, NULL);
}

int stq_live_legs(struct stq *q, uint32_t max, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT l.call_key AS call_key, l.state AS state, l.call_id AS call_id,"
                  " l.caller AS caller, l.callee AS callee, " ISO("l.invite_ts") " AS invite,"
                  " " ISO("l.ring_ts") " AS ring, " ISO("l.answer_ts") " AS answer,"
                  " CASE WHEN l.answer_ts IS NOT NULL THEN (s.capture_ts-l.answer_ts)/1e9 END"
                  " AS up_s, (s.capture_ts-l.invite_ts)/1e9 AS age_s,"
                  " l.src AS src, l.sport AS sport, l.dst AS dst, l.dport AS dport,"
                  " l.transport AS transport, l.site AS site"
                  " FROM live_legs l LEFT JOIN live_state s ON s.id=1"
                  " ORDER BY min(l.invite_ts) OVER (PARTITION BY l.call_key), l.call_key,"
                  " l.invite_ts LIMIT :id",
                  (int64_t)max, fn, ctx, NULL);
}

/* ---- stats, metrics ---- */

int stq_captures(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT id AS id, path AS path, kind AS kind, coalesce(sensor,'') AS sensor,"
                  " size AS size, " ISO("started") " AS started, " ISO("finished") " AS finished, " ISO(
                      "first_ts") " AS first_ts, " ISO("last_ts") " AS last_ts"
                  " FROM captures WHERE :id=:id ORDER BY id DESC LIMIT 100",
                  0, fn, ctx, NULL);
}

int stq_totals(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  /* row_counts (v16), kept by triggers: count(*) read every
                   * row of an index (0.3 s for 20 M legs) */
                  "SELECT (SELECT n FROM row_counts WHERE tbl='calls') AS calls,"
                  " (SELECT n FROM row_counts WHERE tbl='legs') AS legs,"
                  " (SELECT n FROM row_counts WHERE tbl='sip_messages') AS sip_messages,"
                  " (SELECT n FROM row_counts WHERE tbl='rtp_streams') AS streams,"
                  " (SELECT count(*) FROM captures) AS captures,"
                  " " STQ_SRTP_SUMS ", " ISO(
                      "(SELECT min(start) FROM calls)") " AS first_call, " ISO("(SELECT max(start)"
                                                                             " FROM calls)") " AS"
                  " last_call WHERE :id=:id",
                  0, fn, ctx, NULL);
}

int stq_spool_summary(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q,
                  "SELECT count(*) AS files, coalesce(sum(bytes),0) AS bytes,"
                  " CASE WHEN min(first_ts) IS NULL THEN NULL ELSE " ISO("min(first_ts)")
                  " END AS oldest_packet, CASE WHEN max(last_ts) IS NULL THEN NULL ELSE "
                  ISO("max(last_ts)") " END AS newest_packet FROM spool_files WHERE :id=:id",
                  0, fn, ctx, NULL);
}

int stq_trunk_mos(struct stq *q, stq_row_fn fn, void *ctx)
{
    /* leg_sums (v15): the MOS sum and count of both directions of each
     * trunk, handed out as their mean and count */
    return run_id(q,
                  "SELECT t.id AS trunk_id, total(s.mos_sum)/sum(s.mos_n) AS mos,"
                  " sum(s.mos_n) AS n FROM trunks t JOIN leg_sums s ON"
                  " (s.src=t.local_addr AND s.dst=t.peer_addr) OR (s.src=t.peer_addr AND"
                  " s.dst=t.local_addr) WHERE s.mos_n>0 AND :id=:id GROUP BY 1 HAVING n>0",
                  0, fn, ctx, NULL);
}

/* ---- TLS peers and other flows (schema v14) ---- */

#define TLS_NOW "CAST(strftime('%s','now') AS INTEGER)"
#define TLS_PEER_COLS                                                                          \
    "p.id AS id, p.client AS client, CASE WHEN instr(p.server,':')>0 THEN"                     \
    " '['||p.server||']:'||p.server_port ELSE p.server||':'||p.server_port END AS server,"     \
    " p.site AS site, p.status AS status, p.version AS version,"                              \
    " CASE WHEN p.suite IS NULL THEN NULL ELSE printf('0x%04x',p.suite) END AS suite,"        \
    " p.offered AS offered_versions, p.sni AS sni, p.alpn AS alpn,"                           \
    " (coalesce(p.cert_requested,0) AND coalesce(p.client_cert,0)) AS mtls,"                  \
    " coalesce(p.cert_requested,0) AS client_cert_requested, p.conns AS connections,"         \
    " p.established AS established, p.failed AS failed, p.resumed AS resumed,"                \
    " p.alerts AS alerts, p.alert_level AS alert_level, p.alert_desc AS alert_description,"   \
    " p.alert_from AS alert_from, " ISO("p.first_ts") " AS first, " ISO("p.last_ts")          \
    " AS last, " ISO("p.last_ok_ts") " AS last_ok, " ISO("p.last_fail_ts")                    \
    " AS last_failure, p.chain_len AS chain_length, p.cert_subject AS cert_subject,"          \
    " p.cert_issuer AS cert_issuer, p.cert_sans AS cert_sans,"                                \
    " " ISO("p.cert_not_before*1000000000") " AS cert_not_before,"                            \
    " " ISO("p.cert_not_after*1000000000") " AS cert_not_after,"                              \
    " CASE WHEN p.cert_not_after IS NULL THEN NULL WHEN p.cert_not_after>=" TLS_NOW           \
    " THEN (p.cert_not_after-" TLS_NOW ")/86400 ELSE -((" TLS_NOW "-p.cert_not_after+86399)"  \
    "/86400) END AS cert_days_left, p.cert_key AS cert_key_type,"                             \
    " p.cert_key_bits AS cert_key_bits, p.cert_sig AS cert_signature_algorithm,"              \
    " p.cert_serial AS cert_serial, p.client_cert_subject AS client_cert_subject,"            \
    " p.client_cert_issuer AS client_cert_issuer,"                                            \
    " " ISO("p.client_cert_not_after*1000000000") " AS client_cert_not_after,"                \
    " (p.cert_not_after IS NOT NULL AND p.cert_not_after-" TLS_NOW "<"                        \
    " 86400*" TS_STR(TS_TLS_EXPIRY_WARN_DAYS) ") AS expiry_warning, p.decrypt AS decrypt"

int stq_tls_peers(struct stq *q, stq_row_fn fn, void *ctx)
{
    return run_id(q, "SELECT " TLS_PEER_COLS " FROM tls_peers p WHERE :id=:id ORDER BY p.id"
                     " LIMIT " TS_STR(TS_API_TLS_ROWS_MAX), 0, fn, ctx, NULL);
}

int stq_tls_conns(struct stq *q, const struct stq_tls_filter *f, stq_row_fn fn, void *ctx)
{
    if (f->trunk_id) {
        size_t n = 0;
        int rc = run_id(q, "SELECT 1 FROM trunks WHERE id=:id", f->trunk_id, NULL, NULL, &n);
        if (rc != ST_OK || n == 0)
            return rc != ST_OK ? rc : ST_ERR_NOT_FOUND;
    }
    _Static_assert(TS_API_LIST_MAX == 8, "one :vN per verdict in the list");
    /* one statement: an absent filter binds NULL (0 for :nv) and passes */
    sqlite3_stmt *s = prep(
        q, "SELECT c.id AS id, CASE WHEN instr(c.client,':')>0 THEN"
           " '['||c.client||']:'||c.client_port ELSE c.client||':'||c.client_port END"
           " AS client, CASE WHEN instr(c.server,':')>0 THEN '['||c.server||']:'||"
           "c.server_port ELSE c.server||':'||c.server_port END AS server,"
           " c.site AS site, " ISO("c.ts") " AS first, " ISO("c.end_ts") " AS handshake_end,"
           " c.state AS handshake, c.version AS version,"
           " CASE WHEN c.suite IS NULL THEN NULL ELSE printf('0x%04x',c.suite) END"
           " AS suite, c.sni AS sni, c.decrypt AS decrypt,"
           " c.decrypt_records AS decrypt_records,"
           " c.decrypt_auth_failed AS decrypt_auth_failed,"
           " c.decrypt_late AS decrypt_late FROM tls_conns c"
           " WHERE (:from IS NULL OR c.ts>=:from) AND (:to IS NULL OR c.ts<:to)"
           " AND (:addr IS NULL OR (c.client=:addr AND :port IN (0,c.client_port))"
           " OR (c.server=:addr AND :port IN (0,c.server_port)))"
           " AND (:nv=0 OR c.decrypt IN (:v0,:v1,:v2,:v3,:v4,:v5,:v6,:v7))"
           " AND (:trunk IS NULL OR EXISTS(SELECT 1 FROM trunks t WHERE t.id=:trunk AND"
           " ((c.client=t.local_addr AND c.server=t.peer_addr) OR"
           " (c.client=t.peer_addr AND c.server=t.local_addr))))"
           " ORDER BY c.id DESC LIMIT :limit");
    if (!s)
        return ST_ERR_SQL;
    if (f->has_from)
        bind_i(s, ":from", f->from_ns);
    if (f->has_to)
        bind_i(s, ":to", f->to_ns);
    if (f->addr[0])
        bind_t(s, ":addr", f->addr);
    bind_i(s, ":port", f->port);
    bind_i(s, ":nv", f->nverdict);
    for (unsigned i = 0; i < f->nverdict && i < TS_API_LIST_MAX; i++) {
        char p[16];
        snprintf(p, sizeof p, ":v%u", i);
        bind_t(s, p, f->verdict[i]);
    }
    if (f->trunk_id)
        bind_i(s, ":trunk", f->trunk_id);
    bind_i(s, ":limit", f->limit && f->limit <= TS_API_TLS_ROWS_MAX ? f->limit
                                                                    : TS_API_TLS_ROWS_MAX);
    return run_rows(s, fn, ctx, NULL);
}

int stq_trunk_tls(struct stq *q, int64_t id, stq_row_fn fn, void *ctx)
{
    return run_id(q, "SELECT " TLS_PEER_COLS " FROM trunks t JOIN tls_peers p ON"
                     " (p.client=t.local_addr AND p.server=t.peer_addr) OR"
                     " (p.client=t.peer_addr AND p.server=t.local_addr) WHERE t.id=:id"
                     " ORDER BY p.last_ts DESC LIMIT 16", id, fn, ctx, NULL);
}

#define OFLOW_COLS                                                                             \
    "o.client AS client, o.server AS server, o.port AS port, o.transport AS transport,"        \
    " o.protocol AS protocol, o.category AS category, o.guessed AS guessed, o.flows AS flows," \
    " o.packets AS packets, o.bytes AS bytes, " ISO("o.first_ts") " AS first, "                \
    ISO("o.last_ts") " AS last"

int stq_other_flows(struct stq *q, int64_t trunk_id, stq_row_fn fn, void *ctx)
{
    if (!trunk_id)
        return run_id(q, "SELECT " OFLOW_COLS " FROM other_flows o WHERE :id=:id"
                         " ORDER BY o.bytes DESC LIMIT " TS_STR(TS_API_TLS_ROWS_MAX), 0, fn, ctx,
                      NULL);
    return run_id(q, "SELECT " OFLOW_COLS " FROM trunks t JOIN other_flows o ON"
                     " o.client IN (t.local_addr, t.peer_addr) OR o.server IN (t.local_addr,"
                     " t.peer_addr) WHERE t.id=:id ORDER BY o.bytes DESC LIMIT 256",
                  trunk_id, fn, ctx, NULL);
}
