/* The alert evaluator's trunk windows over a database that no longer
 * changes (`analyze --db` replays its rules over the stored capture time,
 * one evaluation per 10 s of it): each trunk's legs of the longest window
 * are kept in memory, in the order trunk_legs' query reads them (the
 * local-to-peer direction, then the other, each by INVITE time and row
 * id), and a window that moves forward reads only the legs it gains. The
 * queries read every leg of a 600-s window at every step, 60 times over. */
#include "alerts_int.h"

#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"

/* Baseline windows remembered (trunks x the days the baseline looks back). */
#define REPLAY_MEMOS 64

struct rleg {
    struct win_leg l; /* l.callee: owned */
    char *digits;     /* callee_digits; NULL when NULL or empty */
    uint64_t dh;      /* ts_hash of digits */
};

/* Legs of one direction, v[lo..n) in (INVITE, id) order. */
struct rdir {
    struct rleg *v;
    size_t lo, n, cap;
};

/* A trunk's legs with INVITE in [from, to). */
struct rtrunk {
    char la[64], pa[64];
    bool used;
    bool sql; /* had too many legs: its windows are queried */
    int64_t from, to;
    struct rdir d[2]; /* la -> pa, pa -> la */
};

/* OPTIONS messages with ts in [from, to), v[lo..n) in (ts, id) order. */
struct ropt {
    struct opt_msg *v;
    size_t lo, n, cap;
    bool used, sql;
    int64_t from, to, span;
    sqlite3_stmt *load;
};

struct dcount {
    const char *dig; /* NULL: free */
    uint64_t h, n;
};

struct st_replay {
    struct rtrunk *t;
    size_t nt, hint;
    int64_t span; /* the longest window asked for */
    size_t rows;  /* legs kept, every trunk */
    sqlite3_stmt *load;
    struct dcount *dc; /* the busiest destination's count table */
    size_t dcap;
    struct st_replay_counts memo[REPLAY_MEMOS];
    unsigned memo_next;
    struct ropt opt;
};

struct st_replay *st_replay_new(void)
{
    struct st_replay *r = calloc(1, sizeof *r);
    if (r && !(r->t = calloc(TS_CALLS_MAX_TRUNKS, sizeof *r->t))) {
        free(r);
        return NULL;
    }
    return r;
}

static void rleg_free(struct rleg *g)
{
    free((char *)g->l.callee);
    free(g->digits);
}

static void rtrunk_clear(struct st_replay *r, struct rtrunk *t)
{
    for (int k = 0; k < 2; k++) {
        struct rdir *d = &t->d[k];
        for (size_t i = d->lo; i < d->n; i++)
            rleg_free(&d->v[i]);
        r->rows -= d->n - d->lo;
        d->lo = d->n = 0;
    }
    t->used = false;
}

void st_replay_free(struct st_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nt; i++) {
        rtrunk_clear(r, &r->t[i]);
        free(r->t[i].d[0].v);
        free(r->t[i].d[1].v);
    }
    sqlite3_finalize(r->load);
    sqlite3_finalize(r->opt.load);
    free(r->opt.v);
    free(r->t);
    free(r->dc);
    free(r);
}

static char *dup_text(const unsigned char *t)
{
    return t ? strdup((const char *)t) : NULL;
}

/* Append the legs from src to dst with INVITE in [from, to). */
static int load(struct st_replay *r, sqlite3 *h, struct rdir *d, const char *la, const char *src,
                const char *dst, int64_t from, int64_t to)
{
    if (!r->load && sqlite3_prepare_v3(h,
                                       "SELECT " ST_WIN_LEG_COLS ", l.callee_digits FROM legs l"
                                       " WHERE l.src=:s AND l.dst=:d AND l.invite_ts >= :from"
                                       " AND l.invite_ts < :to ORDER BY l.invite_ts, l.id",
                                       -1, SQLITE_PREPARE_PERSISTENT, &r->load, NULL) != SQLITE_OK)
        return ST_ERR_SQL;
    sqlite3_stmt *s = r->load;
    sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":a"), la, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":s"), src, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":d"), dst, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":from"), from);
    sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":to"), to);
    int rc = ST_OK, q;
    while ((q = sqlite3_step(s)) == SQLITE_ROW) {
        if (r->rows >= TS_ALERT_REPLAY_LEGS) {
            rc = ST_ERR_NOT_FOUND;
            break;
        }
        if (d->n == d->cap) {
            if (d->lo) { /* room at the front first */
                memmove(d->v, d->v + d->lo, (d->n - d->lo) * sizeof *d->v);
                d->n -= d->lo;
                d->lo = 0;
            }
            if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 256;
                struct rleg *v = realloc(d->v, cap * sizeof *v);
                if (!v) {
                    rc = ST_ERR_NOMEM;
                    break;
                }
                d->v = v;
                d->cap = cap;
            }
        }
        struct rleg *g = &d->v[d->n];
        st_win_leg_of_row(s, &g->l);
        g->l.callee = dup_text((const unsigned char *)g->l.callee);
        const unsigned char *dig = sqlite3_column_text(s, 12);
        g->digits = dig && dig[0] ? dup_text(dig) : NULL;
        g->dh = g->digits ? ts_hash(g->digits, strlen(g->digits)) : 0;
        d->n++;
        r->rows++;
    }
    if (rc == ST_OK && q != SQLITE_DONE)
        rc = ST_ERR_SQL;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* Forget the legs before keep. */
static void evict(struct st_replay *r, struct rdir *d, int64_t keep)
{
    while (d->lo < d->n && d->v[d->lo].l.invite < keep) {
        rleg_free(&d->v[d->lo++]);
        r->rows--;
    }
    if (d->lo == d->n)
        d->lo = d->n = 0;
}

/* The first leg at or after from. */
static size_t first_at(const struct rdir *d, int64_t from)
{
    size_t lo = d->lo, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->v[mid].l.invite < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct rtrunk *trunk_of(struct st_replay *r, const char *la, const char *pa)
{
    /* the evaluator asks for the trunks in the same order every window */
    for (size_t k = 0; k < r->nt; k++) {
        size_t i = (r->hint + k) % r->nt;
        if (!strcmp(r->t[i].la, la) && !strcmp(r->t[i].pa, pa)) {
            r->hint = i + 1;
            return &r->t[i];
        }
    }
    if (r->nt >= TS_CALLS_MAX_TRUNKS || strlen(la) >= sizeof r->t[0].la ||
        strlen(pa) >= sizeof r->t[0].pa)
        return NULL;
    struct rtrunk *t = &r->t[r->nt++];
    memcpy(t->la, la, strlen(la) + 1);
    memcpy(t->pa, pa, strlen(pa) + 1);
    r->hint = r->nt;
    return t;
}

/* The busiest destination of the window's legs (every leg, ended or not)
 * as the query gives it: the most legs, and of numbers with as many the
 * greatest in SQLite's text order (a GROUP BY in ascending order, then the
 * ORDER BY count DESC LIMIT 1 keeps the last of equals: SQLite 3.40, and
 * test_alert_eval compares the two); then up to 5 of its calls in order. */
static int top_dest(struct st_replay *r, const struct rtrunk *t, int64_t from,
                    struct st_trunk_win *w)
{
    size_t n = 0;
    for (int k = 0; k < 2; k++)
        n += t->d[k].n - first_at(&t->d[k], from);
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (cap > r->dcap) {
        struct dcount *dc = realloc(r->dc, cap * sizeof *dc);
        if (!dc)
            return ST_ERR_NOMEM;
        r->dc = dc;
        r->dcap = cap;
    }
    memset(r->dc, 0, cap * sizeof *r->dc);
    const struct dcount *best = NULL;
    for (int k = 0; k < 2; k++) {
        const struct rdir *d = &t->d[k];
        for (size_t i = first_at(d, from); i < d->n; i++) {
            const struct rleg *g = &d->v[i];
            if (!g->digits)
                continue;
            size_t j = (size_t)g->dh & (cap - 1);
            while (r->dc[j].dig && (r->dc[j].h != g->dh || strcmp(r->dc[j].dig, g->digits)))
                j = (j + 1) & (cap - 1);
            struct dcount *c = &r->dc[j];
            c->dig = g->digits;
            c->h = g->dh;
            c->n++;
            if (!best || c->n > best->n || (c->n == best->n && strcmp(c->dig, best->dig) > 0))
                best = c;
        }
    }
    if (!best)
        return ST_OK;
    snprintf(w->top_dest, sizeof w->top_dest, "%s", best->dig);
    w->top_dest_attempts = best->n;
    for (int k = 0; k < 2; k++) {
        const struct rdir *d = &t->d[k];
        for (size_t i = first_at(d, from); i < d->n && w->nev[ST_EV_DEST] < 5; i++)
            if (d->v[i].digits && !strcmp(d->v[i].digits, w->top_dest))
                st_win_ev_add(w, ST_EV_DEST, d->v[i].l.call_ref);
    }
    return ST_OK;
}

int st_replay_window(struct st_replay *r, sqlite3 *h, const char *la, const char *pa, int64_t from,
                     int64_t to, const struct st_win_opts *o, struct st_trunk_win *w,
                     struct win_acc *acc)
{
    if (to - from > r->span)
        r->span = to - from;
    struct rtrunk *t = trunk_of(r, la, pa);
    if (!t || t->sql)
        return ST_ERR_NOT_FOUND;
    if (!t->used || from < t->from || to < t->to) { /* not what is kept: start over */
        rtrunk_clear(r, t);
        t->used = true;
        t->from = t->to = from;
    }
    if (to > t->to) {
        int rc = load(r, h, &t->d[0], la, la, pa, t->to, to);
        /* a trunk between an address and itself: its legs once, as the
         * query's OR gives them */
        if (rc == ST_OK && strcmp(la, pa))
            rc = load(r, h, &t->d[1], la, pa, la, t->to, to);
        if (rc != ST_OK) {
            rtrunk_clear(r, t);
            t->sql = rc == ST_ERR_NOT_FOUND;
            return rc;
        }
        t->to = to;
    }
    if (to - r->span > t->from) { /* no later window reaches these */
        t->from = to - r->span;
        evict(r, &t->d[0], t->from);
        evict(r, &t->d[1], t->from);
    }
    for (int k = 0; k < 2; k++) {
        const struct rdir *d = &t->d[k];
        for (size_t i = first_at(d, from); i < d->n; i++)
            st_win_add(w, acc, &d->v[i].l, o);
    }
    if (!w->attempts)
        return ST_OK;
    return top_dest(r, t, from, w);
}

struct st_replay_counts *st_replay_counts_slot(struct st_replay *r, int64_t trunk_id, int64_t from,
                                               int64_t to, bool *hit)
{
    *hit = false;
    for (unsigned i = 0; i < REPLAY_MEMOS; i++) {
        struct st_replay_counts *m = &r->memo[i];
        if (m->trunk_id == trunk_id && trunk_id && m->to - m->from == to - from &&
            m->from <= from && from <= m->to && m->to <= to) {
            *hit = true;
            return m;
        }
    }
    struct st_replay_counts *m = &r->memo[r->memo_next++ % REPLAY_MEMOS];
    m->trunk_id = 0;
    return m;
}

/* Append the OPTIONS messages with ts in [from, to). */
static int opt_load(struct st_replay *r, sqlite3 *h, int64_t from, int64_t to)
{
    struct ropt *o = &r->opt;
    if (!o->load && sqlite3_prepare_v3(h, ST_OPT_REPLAY_SQL, -1, SQLITE_PREPARE_PERSISTENT,
                                       &o->load, NULL) != SQLITE_OK)
        return ST_ERR_SQL;
    sqlite3_bind_int64(o->load, 1, from);
    sqlite3_bind_int64(o->load, 2, to);
    int rc = ST_OK, q;
    while ((q = sqlite3_step(o->load)) == SQLITE_ROW) {
        if (o->n - o->lo >= TS_ALERT_REPLAY_LEGS) {
            rc = ST_ERR_NOT_FOUND;
            break;
        }
        if (o->n == o->cap && o->lo) {
            memmove(o->v, o->v + o->lo, (o->n - o->lo) * sizeof *o->v);
            o->n -= o->lo;
            o->lo = 0;
        }
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 256;
            struct opt_msg *v = realloc(o->v, cap * sizeof *v);
            if (!v) {
                rc = ST_ERR_NOMEM;
                break;
            }
            o->v = v;
            o->cap = cap;
        }
        st_opt_msg_of_row(o->load, &o->v[o->n++]);
    }
    if (rc == ST_OK && q != SQLITE_DONE)
        rc = ST_ERR_SQL;
    sqlite3_reset(o->load);
    return rc;
}

int st_replay_options(struct st_replay *r, sqlite3 *h, int64_t from, int64_t to,
                      const struct opt_msg **v, size_t *n)
{
    struct ropt *o = &r->opt;
    if (o->sql)
        return ST_ERR_NOT_FOUND;
    if (to - from > o->span)
        o->span = to - from;
    if (!o->used || from < o->from || to < o->to) {
        o->lo = o->n = 0;
        o->used = true;
        o->from = o->to = from;
    }
    if (to > o->to) {
        int rc = opt_load(r, h, o->to, to);
        if (rc != ST_OK) {
            o->lo = o->n = 0;
            o->used = false;
            o->sql = rc == ST_ERR_NOT_FOUND;
            return rc;
        }
        o->to = to;
    }
    if (to - o->span > o->from) {
        o->from = to - o->span;
        while (o->lo < o->n && o->v[o->lo].ts < o->from)
            o->lo++;
    }
    size_t lo = o->lo, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->v[mid].ts < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    *v = o->v + lo;
    *n = o->n - lo;
    return ST_OK;
}
