/* The alert evaluator's reads and writes (store/alerts.h): per-trunk
 * numbers over a window from the stored legs, keep-alives, the data's time
 * range, and the alerts and trunk_health tables (schema v10). A replay of
 * a finished database (st_alerts_static) takes the windows' legs and
 * OPTIONS messages from memory (alerts_replay.c) instead of querying them
 * again at every step. */
#include "alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"

struct st_alerts {
    sqlite3 *h;
    struct st_replay *rp;        /* st_alerts_static: windows kept in memory */
    bool dt_known;               /* ... and the data time read once */
    struct st_data_time dt;
    sqlite3_stmt *counts;        /* counts_sql's, kept: a baseline runs it per trunk and day */
};

struct st_alerts *st_alerts_open(const char *path, char *err, size_t errlen)
{
    struct st_alerts *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (st_open_handle(path, false, &a->h, err, errlen) != ST_OK) {
        free(a);
        return NULL;
    }
    return a;
}

void st_alerts_static(struct st_alerts *a, bool on)
{
    st_replay_free(a->rp);
    a->rp = on ? st_replay_new() : NULL; /* NULL: the queries, as live */
    a->dt_known = false;
}

void st_alerts_close(struct st_alerts *a)
{
    if (!a)
        return;
    st_replay_free(a->rp);
    sqlite3_finalize(a->counts);
    sqlite3_close_v2(a->h);
    free(a);
}

static sqlite3_stmt *prep(struct st_alerts *a, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(a->h, sql, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    return s;
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static int64_t col_i(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

int st_alerts_data_time(struct st_alerts *a, struct st_data_time *out)
{
    if (a->rp && a->dt_known) {
        *out = a->dt;
        return ST_OK;
    }
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = prep(a, ST_DATA_SPAN_SQL);
    if (!s)
        return ST_ERR_SQL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->first_ns = col_i(s, 0);
        out->last_ns = col_i(s, 1);
    }
    sqlite3_finalize(s);
    s = prep(a, "SELECT running, updated, capture_ts FROM live_state WHERE id=1");
    if (!s)
        return ST_ERR_SQL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->live = col_i(s, 0) != 0;
        out->live_updated_ns = col_i(s, 1);
        out->live_capture_ns = col_i(s, 2);
    }
    sqlite3_finalize(s);
    a->dt = *out;
    a->dt_known = a->rp != NULL;
    return ST_OK;
}

static double p95(const uint32_t *bins, uint64_t n)
{
    if (!n)
        return -1;
    uint64_t need = (n * 95 + 99) / 100, acc = 0;
    for (unsigned i = 0; i < PDD_BINS; i++) {
        acc += bins[i];
        if (acc >= need)
            return (double)(i + 1) * 100.0;
    }
    return PDD_BINS * 100.0;
}

#define LEGS_OF_TRUNK                                                                         \
    " FROM legs l WHERE ((l.src=:a AND l.dst=:b) OR (l.src=:b AND l.dst=:a))"                  \
    " AND l.invite_ts >= :from AND l.invite_ts < :to"

static void bind_win(sqlite3_stmt *s, const char *la, const char *pa, int64_t from, int64_t to)
{
    sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":a"), la, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":b"), pa, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":from"), from);
    sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":to"), to);
}

/* The window's legs from the database: counts, evidence, the busiest
 * destination. */
static int legs_sql(struct st_alerts *a, struct st_trunk_win *w, const char *la, const char *pa,
                    int64_t from, int64_t to, const struct st_win_opts *o, struct win_acc *acc)
{
    sqlite3_stmt *s = prep(a, "SELECT " ST_WIN_LEG_COLS LEGS_OF_TRUNK);
    if (!s)
        return ST_ERR_SQL;
    bind_win(s, la, pa, from, to);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        struct win_leg l;
        st_win_leg_of_row(s, &l);
        st_win_add(w, acc, &l, o);
    }
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return ST_ERR_SQL;
    if (!w->attempts)
        return ST_OK; /* nothing in the window: the rest would find nothing either */

    /* the busiest destination and calls to it */
    s = prep(a, "SELECT l.callee_digits, count(*)" LEGS_OF_TRUNK
                " AND l.callee_digits IS NOT NULL AND l.callee_digits<>''"
                " GROUP BY 1 ORDER BY 2 DESC LIMIT 1");
    if (!s)
        return ST_ERR_SQL;
    bind_win(s, la, pa, from, to);
    if (sqlite3_step(s) == SQLITE_ROW) {
        col_text(s, 0, w->top_dest, sizeof w->top_dest);
        w->top_dest_attempts = (uint64_t)col_i(s, 1);
    }
    sqlite3_finalize(s);
    if (w->top_dest_attempts) {
        s = prep(a, "SELECT DISTINCT l.call_ref" LEGS_OF_TRUNK " AND l.callee_digits=:d LIMIT 5");
        if (!s)
            return ST_ERR_SQL;
        bind_win(s, la, pa, from, to);
        sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":d"), w->top_dest, -1,
                          SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW)
            st_win_ev_add(w, ST_EV_DEST, col_i(s, 0));
        sqlite3_finalize(s);
    }
    return ST_OK;
}

static int trunk_legs(struct st_alerts *a, struct st_trunk_win *w, const char *la, const char *pa,
                      int64_t from, int64_t to, const struct st_win_opts *o)
{
    struct win_acc acc;
    memset(&acc, 0, sizeof acc);
    int rc = ST_ERR_NOT_FOUND;
    if (a->rp)
        rc = st_replay_window(a->rp, a->h, la, pa, from, to, o, w, &acc);
    if (rc == ST_ERR_NOT_FOUND) {
        memset(&acc, 0, sizeof acc);
        rc = legs_sql(a, w, la, pa, from, to, o, &acc);
    }
    if (rc != ST_OK)
        return rc;
    w->pdd_p95_ms = p95(acc.bins, w->pdd_n);
    w->mos_mean = w->mos_n ? acc.mos_sum / (double)w->mos_n : -1;
    w->loss_pct = w->loss_n ? acc.loss_sum / (double)w->loss_n : -1;
    if (!w->attempts)
        return ST_OK;
    sqlite3_stmt *s = prep(a, "SELECT max(peak_concurrent) FROM kpi_minute WHERE trunk_id=:id"
                              " AND minute >= :from AND minute < :to");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_int64(s, 1, w->trunk_id);
    sqlite3_bind_int64(s, 2, from - from % 60000000000ll);
    sqlite3_bind_int64(s, 3, to);
    if (sqlite3_step(s) == SQLITE_ROW)
        w->peak_concurrent = (uint32_t)col_i(s, 0);
    sqlite3_finalize(s);
    return ST_OK;
}

int st_alerts_trunk_window(struct st_alerts *a, int64_t from_ns, int64_t to_ns,
                           const struct st_win_opts *o,
                           struct st_trunk_win *out, size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *t = prep(a, "SELECT id, coalesce(name,peer_addr), coalesce(site,''), local_addr,"
                              " peer_addr FROM trunks ORDER BY id");
    if (!t)
        return ST_ERR_SQL;
    int rc = ST_OK, r;
    while ((r = sqlite3_step(t)) == SQLITE_ROW && *n < max) {
        struct st_trunk_win *w = &out[*n];
        memset(w, 0, sizeof *w);
        w->trunk_id = col_i(t, 0);
        col_text(t, 1, w->name, sizeof w->name);
        col_text(t, 2, w->site, sizeof w->site);
        col_text(t, 4, w->peer, sizeof w->peer);
        char la[64], pa[64];
        col_text(t, 3, la, sizeof la);
        col_text(t, 4, pa, sizeof pa);
        rc = trunk_legs(a, w, la, pa, from_ns, to_ns, o);
        if (rc != ST_OK)
            break;
        (*n)++;
    }
    sqlite3_finalize(t);
    return rc != ST_OK ? rc : (r == SQLITE_DONE || r == SQLITE_ROW) ? ST_OK : ST_ERR_SQL;
}

static int counts_sql(struct st_alerts *a, int64_t trunk_id, int64_t from_ns, int64_t to_ns,
                      uint64_t *attempts, uint64_t *answered, uint64_t *ner_ok)
{
    *attempts = *answered = *ner_ok = 0;
    if (!a->counts &&
        sqlite3_prepare_v3(
            a->h, "SELECT count(*), coalesce(sum(l.outcome='answered'),0),"
           " coalesce(sum(l.outcome IN ('answered','cancelled') OR"
           " l.final_status IN (486,480,487,600,603,404,484)),0)"
           " FROM trunks t JOIN legs l ON ((l.src=t.local_addr AND l.dst=t.peer_addr) OR"
           " (l.src=t.peer_addr AND l.dst=t.local_addr)) WHERE t.id=:id"
           " AND l.invite_ts >= :from AND l.invite_ts < :to"
           " AND l.outcome NOT IN ('in_progress','pending')",
            -1, SQLITE_PREPARE_PERSISTENT, &a->counts, NULL) != SQLITE_OK)
        return ST_ERR_SQL;
    sqlite3_stmt *s = a->counts;
    sqlite3_bind_int64(s, 1, trunk_id);
    sqlite3_bind_int64(s, 2, from_ns);
    sqlite3_bind_int64(s, 3, to_ns);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *attempts = (uint64_t)col_i(s, 0);
        *answered = (uint64_t)col_i(s, 1);
        *ner_ok = (uint64_t)col_i(s, 2);
    }
    sqlite3_reset(s);
    return r == SQLITE_ROW ? ST_OK : ST_ERR_SQL;
}

int st_alerts_trunk_counts(struct st_alerts *a, int64_t trunk_id, int64_t from_ns, int64_t to_ns,
                           uint64_t *attempts, uint64_t *answered, uint64_t *ner_ok)
{
    bool hit = false;
    struct st_replay_counts *m =
        a->rp ? st_replay_counts_slot(a->rp, trunk_id, from_ns, to_ns, &hit) : NULL;
    if (!hit) {
        int rc = counts_sql(a, trunk_id, from_ns, to_ns, attempts, answered, ner_ok);
        if (m && rc == ST_OK)
            *m = (struct st_replay_counts){ trunk_id, from_ns, to_ns, *attempts, *answered,
                                            *ner_ok };
        else if (m)
            m->trunk_id = 0;
        return rc;
    }
    /* the data no longer changes: what entered the window, less what left */
    uint64_t in[3], out[3];
    int rc = counts_sql(a, trunk_id, m->to, to_ns, &in[0], &in[1], &in[2]);
    if (rc == ST_OK)
        rc = counts_sql(a, trunk_id, m->from, from_ns, &out[0], &out[1], &out[2]);
    if (rc != ST_OK) {
        m->trunk_id = 0;
        return rc;
    }
    m->attempts += in[0] - out[0];
    m->answered += in[1] - out[1];
    m->ner_ok += in[2] - out[2];
    m->from = from_ns;
    m->to = to_ns;
    *attempts = m->attempts;
    *answered = m->answered;
    *ner_ok = m->ner_ok;
    return ST_OK;
}

static void opt_add(struct st_options_peer *out, size_t max, size_t *n, int64_t to_ns,
                    const struct opt_msg *m)
{
    const char *cl = m->req ? m->src : m->dst, *sv = m->req ? m->dst : m->src;
    struct st_options_peer *p = NULL;
    for (size_t i = 0; i < *n && !p; i++)
        if (!strcmp(out[i].client, cl) && !strcmp(out[i].server, sv))
            p = &out[i];
    if (!p) {
        if (!m->req || *n >= max)
            return; /* a response to a request before the window */
        p = &out[(*n)++];
        memset(p, 0, sizeof *p);
        snprintf(p->client, sizeof p->client, "%s", cl);
        snprintf(p->server, sizeof p->server, "%s", sv);
    }
    if (m->req) {
        p->requests++;
        p->last_req_ns = m->ts;
        /* the ones still within Timer F at `to` are not missed yet */
        if (m->ts <= to_ns - 32000000000ll)
            p->misses_in_row++;
    } else {
        p->last_status = m->status;
        if (m->status < 500) {
            p->answered++;
            p->last_ok_ns = m->ts;
            p->misses_in_row = 0;
        }
    }
}

int st_alerts_options(struct st_alerts *a, int64_t from_ns, int64_t to_ns,
                      struct st_options_peer *out, size_t max, size_t *n)
{
    *n = 0;
    const struct opt_msg *v = NULL;
    size_t nv = 0;
    int rc = a->rp ? st_replay_options(a->rp, a->h, from_ns, to_ns, &v, &nv) : ST_ERR_NOT_FOUND;
    if (rc == ST_OK) {
        for (size_t i = 0; i < nv && i < ST_OPTIONS_ROWS; i++)
            opt_add(out, max, n, to_ns, &v[i]);
    } else if (rc == ST_ERR_NOT_FOUND) {
        sqlite3_stmt *s = prep(a, ST_OPT_LIVE_SQL);
        if (!s)
            return ST_ERR_SQL;
        sqlite3_bind_int64(s, 1, from_ns);
        sqlite3_bind_int64(s, 2, to_ns);
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            struct opt_msg m;
            st_opt_msg_of_row(s, &m);
            opt_add(out, max, n, to_ns, &m);
        }
        sqlite3_finalize(s);
        if (r != SQLITE_DONE)
            return ST_ERR_SQL;
    } else {
        return rc;
    }
    sqlite3_stmt *s = prep(a, "SELECT id FROM trunks WHERE (local_addr=?1 AND peer_addr=?2) OR"
                " (local_addr=?2 AND peer_addr=?1) LIMIT 1");
    if (!s)
        return ST_ERR_SQL;
    for (size_t i = 0; i < *n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, out[i].client, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, out[i].server, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW)
            out[i].trunk_id = col_i(s, 0);
    }
    sqlite3_finalize(s);
    return ST_OK;
}

int st_alerts_certs(struct st_alerts *a, int64_t from_ns, int64_t to_ns, struct st_tls_cert *out,
                    size_t max, size_t *n)
{
    *n = 0;
    /* each pair's server leaf and client leaf as two rows; a trunk joins
     * the pair's two addresses either way round */
    sqlite3_stmt *s = prep(
        a, "SELECT c.client, c.server, c.server_port, coalesce(c.site,''), coalesce(c.sni,''),"
           " c.subj, coalesce(c.iss,''), c.na, c.last_ts, c.cc,"
           " (SELECT t.id FROM trunks t WHERE (t.local_addr=c.client AND t.peer_addr=c.server)"
           " OR (t.local_addr=c.server AND t.peer_addr=c.client) ORDER BY t.id LIMIT 1)"
           " FROM (SELECT client, server, server_port, site, sni, cert_subject AS subj,"
           " cert_issuer AS iss, cert_not_after AS na, last_ts, 0 AS cc FROM tls_peers"
           " WHERE cert_not_after IS NOT NULL AND last_ts >= ?1 AND first_ts < ?2"
           " UNION ALL SELECT client, server, server_port, site, sni, client_cert_subject,"
           " client_cert_issuer, client_cert_not_after, last_ts, 1 FROM tls_peers"
           " WHERE client_cert_not_after IS NOT NULL AND last_ts >= ?1 AND first_ts < ?2) c"
           " ORDER BY c.na, c.client, c.server LIMIT ?3");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_int64(s, 1, from_ns);
    sqlite3_bind_int64(s, 2, to_ns);
    sqlite3_bind_int64(s, 3, (int64_t)max);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
        struct st_tls_cert *x = &out[(*n)++];
        memset(x, 0, sizeof *x);
        col_text(s, 0, x->client, sizeof x->client);
        col_text(s, 1, x->server, sizeof x->server);
        x->port = (unsigned)col_i(s, 2);
        col_text(s, 3, x->site, sizeof x->site);
        col_text(s, 4, x->sni, sizeof x->sni);
        col_text(s, 5, x->subject, sizeof x->subject);
        col_text(s, 6, x->issuer, sizeof x->issuer);
        x->not_after_s = col_i(s, 7);
        x->last_ns = col_i(s, 8);
        x->client_cert = col_i(s, 9) != 0;
        x->trunk_id = col_i(s, 10);
    }
    sqlite3_finalize(s);
    return r == SQLITE_DONE || r == SQLITE_ROW ? ST_OK : ST_ERR_SQL;
}

static void bind_opt_i(sqlite3_stmt *s, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

int st_alerts_put(struct st_alerts *a, struct st_alert *r)
{
    sqlite3_stmt *s = prep(
        a, r->id ? "UPDATE alerts SET state=?1, value=?2, fired=?3, resolved=?4, updated=?5,"
                   " summary=?6, evidence=coalesce(?7, evidence) WHERE id=?8"
                 : "INSERT INTO alerts(state, value, fired, resolved, updated, summary, evidence,"
                   " rule, scope, target, trunk_id, site, severity, threshold, started)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?9,?10,?11,?12,?13,?14,?15,?16)");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_text(s, 1, r->state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, r->value);
    bind_opt_i(s, 3, r->fired);
    bind_opt_i(s, 4, r->resolved);
    sqlite3_bind_int64(s, 5, r->updated);
    sqlite3_bind_text(s, 6, r->summary, -1, SQLITE_TRANSIENT);
    if (r->evidence)
        sqlite3_bind_text(s, 7, r->evidence, -1, SQLITE_TRANSIENT);
    if (r->id) {
        sqlite3_bind_int64(s, 8, r->id);
    } else {
        sqlite3_bind_text(s, 9, r->rule, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 10, r->scope, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 11, r->target, -1, SQLITE_TRANSIENT);
        bind_opt_i(s, 12, r->trunk_id);
        if (r->site[0])
            sqlite3_bind_text(s, 13, r->site, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 14, r->severity, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(s, 15, r->threshold);
        sqlite3_bind_int64(s, 16, r->started);
    }
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return ST_ERR_SQL;
    if (!r->id)
        r->id = sqlite3_last_insert_rowid(a->h);
    return ST_OK;
}

int st_alerts_drop(struct st_alerts *a, int64_t id)
{
    sqlite3_stmt *s = prep(a, "DELETE FROM alerts WHERE id=?1 AND state='pending'");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

int st_alerts_active(struct st_alerts *a, struct st_alert *out, size_t max, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = prep(a, "SELECT id, rule, scope, target, coalesce(trunk_id,0),"
                              " coalesce(site,''), severity, state, value, threshold, started,"
                              " coalesce(fired,0), updated, coalesce(summary,'')"
                              " FROM alerts WHERE state IN ('pending','firing') ORDER BY id");
    if (!s)
        return ST_ERR_SQL;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW && *n < max) {
        struct st_alert *x = &out[(*n)++];
        memset(x, 0, sizeof *x);
        x->id = col_i(s, 0);
        col_text(s, 1, x->rule, sizeof x->rule);
        col_text(s, 2, x->scope, sizeof x->scope);
        col_text(s, 3, x->target, sizeof x->target);
        x->trunk_id = col_i(s, 4);
        col_text(s, 5, x->site, sizeof x->site);
        col_text(s, 6, x->severity, sizeof x->severity);
        col_text(s, 7, x->state, sizeof x->state);
        x->value = sqlite3_column_double(s, 8);
        x->threshold = sqlite3_column_double(s, 9);
        x->started = col_i(s, 10);
        x->fired = col_i(s, 11);
        x->updated = col_i(s, 12);
        col_text(s, 13, x->summary, sizeof x->summary);
    }
    sqlite3_finalize(s);
    return r == SQLITE_DONE || r == SQLITE_ROW ? ST_OK : ST_ERR_SQL;
}

int st_alerts_health(struct st_alerts *a, int64_t trunk_id, const char *state,
                     const char *reasons, const char *metrics, int64_t data_ns)
{
    sqlite3_stmt *s = prep(a, "INSERT OR REPLACE INTO trunk_health(trunk_id, state, reasons,"
                              " metrics, data_ts, updated) VALUES(?1,?2,?3,?4,?5,"
                              " CAST((julianday('now')-2440587.5)*86400000000000 AS INTEGER))");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_int64(s, 1, trunk_id);
    sqlite3_bind_text(s, 2, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, reasons, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, metrics, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, data_ns);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}

int st_alerts_begin(struct st_alerts *a)
{
    return sqlite3_exec(a->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? ST_OK
                                                                              : ST_ERR_SQL;
}

int st_alerts_commit(struct st_alerts *a)
{
    return sqlite3_exec(a->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? ST_OK : ST_ERR_SQL;
}

void st_alerts_rollback(struct st_alerts *a)
{
    if (!sqlite3_get_autocommit(a->h))
        sqlite3_exec(a->h, "ROLLBACK", NULL, NULL, NULL);
}

int st_alerts_read_begin(struct st_alerts *a)
{
    return sqlite3_exec(a->h, "BEGIN DEFERRED", NULL, NULL, NULL) == SQLITE_OK ? ST_OK
                                                                             : ST_ERR_SQL;
}

void st_alerts_read_end(struct st_alerts *a)
{
    if (!sqlite3_get_autocommit(a->h))
        sqlite3_exec(a->h, "COMMIT", NULL, NULL, NULL);
}

int st_alerts_call_ids(struct st_alerts *a, uint64_t newest, const uint64_t *tracker,
                       int64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = -1;
    if (!n)
        return ST_OK;
    sqlite3_stmt *s = prep(a, "SELECT id, tracker_id FROM calls ORDER BY id DESC LIMIT ?1");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_int64(s, 1, newest > INT64_MAX ? INT64_MAX : (int64_t)newest);
    size_t left = n;
    int r;
    while (left && (r = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 1) == SQLITE_NULL)
            continue;
        uint64_t t = (uint64_t)sqlite3_column_int64(s, 1);
        for (size_t i = 0; i < n; i++)
            if (out[i] < 0 && tracker[i] == t) {
                out[i] = sqlite3_column_int64(s, 0);
                left--;
            }
    }
    sqlite3_finalize(s);
    return ST_OK;
}

int st_alerts_checklist(struct st_alerts *a, const struct ts_addr *local,
                        const struct ts_addr *peer, const char *status, const char *items)
{
    char la[64], pa[64];
    st_addr_text(local, la, sizeof la);
    st_addr_text(peer, pa, sizeof pa);
    sqlite3_stmt *s = prep(a, "INSERT OR REPLACE INTO trunk_checklist(trunk_id, status, items,"
                              " updated) SELECT id, ?3, ?4,"
                              " CAST((julianday('now')-2440587.5)*86400000000000 AS INTEGER)"
                              " FROM trunks WHERE local_addr=?1 AND peer_addr=?2");
    if (!s)
        return ST_ERR_SQL;
    sqlite3_bind_text(s, 1, la, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, pa, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, items, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? ST_OK : ST_ERR_SQL;
}
