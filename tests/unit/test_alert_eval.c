/* The alert evaluator (alert/eval.c) and the database's other writers: an
 * evaluation reads its windows without the write lock and holds its write
 * transaction only for its writes. A database of 24,000 legs on one trunk
 * (half of them 503'd in the last 10 minutes, the rest spread over the
 * week the baselines read); while one evaluation runs, another connection
 * (the writer thread's place) commits small transactions in a loop. It
 * must get through while the evaluator reads, never waiting more than a
 * fraction of the reads, and the evaluation must still move the 5xx and
 * ASR/NER alerts through pending to firing and write the trunk's health.
 * The times are printed.
 * Replay (st_alerts_static, which keeps the windows' legs and OPTIONS in
 * memory) gives what the queries give: random legs and messages on two
 * trunks, windows sliding as a replay moves them, compared field by field
 * (the busiest destination's ties, the evidence order, the baselines). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "../../alert/eval.h"
#include "../../store/alerts.h"

#define NS 1000000000ll
#define NOW (1700000000ll * NS)
#define LEGS 24000

static char g_db[64];

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void exec(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
}

static void make_db(void)
{
    char err[200];
    struct st_alerts *a = st_alerts_open(g_db, err, sizeof err); /* creates and migrates */
    assert_non_null(a);
    st_alerts_close(a);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(g_db, &h), SQLITE_OK);
    exec(h, "BEGIN; INSERT INTO trunks(id, name, local_addr, peer_addr) VALUES"
            "(1, 'carrier', '10.0.0.1', '10.0.0.2'); CREATE TABLE scratch(x INTEGER)");
    sqlite3_stmt *c, *l;
    assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO calls(id, start, outcome) VALUES(?1, ?2, ?3)",
                                        -1, &c, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "INSERT INTO legs(call_ref, call_id, invite_ts, ring_ts,"
                                        " answer_ts, end_ts, final_status, src, dst, outcome,"
                                        " callee_digits) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                                        " '10.0.0.1', '10.0.0.2', ?8, ?9)",
                                        -1, &l, NULL), SQLITE_OK);
    for (int i = 1; i <= LEGS; i++) {
        bool recent = i % 2 == 0;
        /* recent: the last 10 minutes, 503'd; else one of the 7 days before */
        int64_t ts = recent ? NOW - 590 * NS + (int64_t)(i % 580) * NS
                            : NOW - (int64_t)(1 + i % 7) * 86400 * NS - (int64_t)(i % 600) * NS;
        bool ans = !recent;
        char cid[32], dest[16];
        snprintf(cid, sizeof cid, "c%d@test", i);
        snprintf(dest, sizeof dest, "49301%05d", i % 5000);
        sqlite3_bind_int(c, 1, i);
        sqlite3_bind_int64(c, 2, ts);
        sqlite3_bind_text(c, 3, ans ? "answered" : "failed", -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(c), SQLITE_DONE);
        sqlite3_reset(c);
        sqlite3_bind_int(l, 1, i);
        sqlite3_bind_text(l, 2, cid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(l, 3, ts);
        sqlite3_bind_int64(l, 4, ts + NS);
        if (ans) {
            sqlite3_bind_int64(l, 5, ts + 3 * NS);
            sqlite3_bind_int64(l, 6, ts + 60 * NS);
        } else {
            sqlite3_bind_null(l, 5);
            sqlite3_bind_int64(l, 6, ts + NS);
        }
        sqlite3_bind_int(l, 7, ans ? 200 : 503);
        sqlite3_bind_text(l, 8, ans ? "answered" : "failed", -1, SQLITE_STATIC);
        sqlite3_bind_text(l, 9, dest, -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(l), SQLITE_DONE);
        sqlite3_reset(l);
    }
    sqlite3_finalize(c);
    sqlite3_finalize(l);
    exec(h, "COMMIT");
    sqlite3_close(h);
}

struct runner {
    struct alert_eval *e;
    atomic_int running;     /* 0 before, 1 during, 2 after */
    int rc;
};

static void *run_eval(void *arg)
{
    struct runner *r = arg;
    atomic_store(&r->running, 1);
    r->rc = alert_eval_run(r->e, NOW, NOW, 0);
    atomic_store(&r->running, 2);
    return NULL;
}

static void test_reads_do_not_block_writers(void **st)
{
    (void)st;
    make_db();
    struct alert_config cfg;
    assert_int_equal(alert_config_default(&cfg), 0);
    char err[200];
    struct alert_eval *e = alert_eval_new(&cfg, g_db, NULL, ALERT_EVAL_DATA, err, sizeof err);
    assert_non_null(e);
    sqlite3 *w;
    assert_int_equal(sqlite3_open(g_db, &w), SQLITE_OK);
    sqlite3_busy_timeout(w, 60000);

    struct runner r = { .e = e };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_eval, &r), 0);
    while (atomic_load(&r.running) == 0)
        ;
    int64_t t0 = mono_ns(), max_wait = 0;
    unsigned during = 0, total = 0;
    while (atomic_load(&r.running) == 1) {
        int64_t a = mono_ns();
        exec(w, "BEGIN IMMEDIATE; INSERT INTO scratch VALUES(1); COMMIT");
        int64_t b = mono_ns();
        if (b - a > max_wait)
            max_wait = b - a;
        total++;
        if (atomic_load(&r.running) == 1)
            during++; /* committed while the evaluation was still running */
        usleep(2000);
    }
    int64_t run = mono_ns() - t0;
    pthread_join(t, NULL);
    assert_int_equal(r.rc, 0);
    struct alert_eval_stats s;
    alert_eval_stats(e, &s);
    printf("evaluation %.1f ms: reads %.1f ms without the write lock, write transaction %.2f ms;"
           " a writer committed %u times meanwhile (%u during it), waiting at most %.2f ms\n",
           (double)run / 1e6, (double)s.read_ns / 1e6, (double)s.write_ns / 1e6, total, during,
           (double)max_wait / 1e6);
    /* the reads must be long enough to tell (24,000 legs, 8 baselines) */
    assert_true(s.read_ns > 20 * 1000000ll);
    assert_true(during >= 2);
    assert_true(max_wait < s.read_ns / 2);
    assert_true(s.write_ns < s.read_ns / 2);
    /* every attempt of the window 503'd, the baseline days all answered:
     * sip_5xx, asr_drop and ner_drop go pending (their `for` is to come) */
    assert_int_equal(s.pending, 3);
    assert_int_equal(s.firing, 0);

    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(w, "SELECT state FROM trunk_health WHERE trunk_id=1", -1,
                                        &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "degraded");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(w, "SELECT group_concat(rule) FROM (SELECT rule FROM alerts"
                                           " WHERE state='pending' ORDER BY rule)", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "asr_drop,ner_drop,sip_5xx");
    sqlite3_finalize(q);

    /* 2 minutes on, with nothing new: they fire, stored in a write as short */
    assert_int_equal(alert_eval_run(e, NOW + 120 * NS, NOW + 120 * NS, 0), 0);
    alert_eval_stats(e, &s);
    printf("second evaluation: reads %.1f ms, write transaction %.2f ms, %zu firing\n",
           (double)s.read_ns / 1e6, (double)s.write_ns / 1e6, s.firing);
    assert_int_equal(s.firing, 3);
    assert_true(s.write_ns_max < s.read_ns / 2);
    assert_int_equal(sqlite3_prepare_v2(w, "SELECT count(*) FROM alerts WHERE state='firing'", -1,
                                        &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 3);
    sqlite3_finalize(q);
    sqlite3_close(w);
    alert_eval_free(e);
}

/* ---- replay against the queries ---- */

#define R_T0 (NOW - 2400 * NS)
#define R_LEGS 6000

static const char *pick(const char *const *v, size_t n) { return v[(size_t)rand() % n]; }

static void make_random_db(void)
{
    char err[200];
    struct st_alerts *a = st_alerts_open(g_db, err, sizeof err);
    assert_non_null(a);
    st_alerts_close(a);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(g_db, &h), SQLITE_OK);
    exec(h, "BEGIN; INSERT INTO trunks(id, name, local_addr, peer_addr) VALUES"
            "(1, 'a', '10.0.0.1', '10.0.0.2'), (2, 'b', '10.0.0.1', '10.0.0.3'),"
            "(3, 'self', '10.0.0.9', '10.0.0.9')");
    sqlite3_stmt *c, *l, *s, *m;
    assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO calls(id, start, outcome) VALUES(?1, ?2, 'x')",
                                        -1, &c, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "INSERT INTO legs(id, call_ref, call_id, invite_ts, ring_ts,"
                                        " answer_ts, end_ts, final_status, src, dst, outcome,"
                                        " callee_digits, mos, media_flags, ruri, to_user)"
                                        " VALUES(?1, ?2, 'x', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                                        " ?11, ?12, ?13, ?14, ?15)",
                                        -1, &l, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO rtp_streams(leg_id, lost_pct) VALUES(?1, ?2)",
                                        -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "INSERT INTO sip_messages(ts, src, dst, method, status,"
                                        " cseq_method) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                        -1, &m, NULL), SQLITE_OK);
    static const char *const addr[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9" };
    static const char *const oc[] = { "answered", "failed", "cancelled", "in_progress",
                                      "pending", "timeout", NULL };
    /* few numbers, so that the busiest destination often ties; one longer
     * than st_trunk_win keeps */
    static const char *const dig[] = { "4930", "4931", "4940", "", NULL, "4930",
                                       "123456789012345678901234567890123456" };
    static const char *const ruri[] = { "+441234", "00331234", "0301234", "", NULL, "+4930" };
    srand(25);
    for (int i = 1; i <= R_LEGS; i++) {
        int64_t ts = R_T0 + (int64_t)(rand() % 2400) * NS + rand() % 1000; /* some equal times */
        if (i % 7 == 0)
            ts = R_T0 + 1200 * NS;
        const char *src = pick(addr, 4), *dst = pick(addr, 4);
        sqlite3_bind_int(c, 1, i);
        sqlite3_bind_int64(c, 2, ts);
        assert_int_equal(sqlite3_step(c), SQLITE_DONE);
        sqlite3_reset(c);
        sqlite3_bind_int(l, 1, i);
        sqlite3_bind_int(l, 2, i);
        sqlite3_bind_int64(l, 3, ts);
        if (rand() % 4)
            sqlite3_bind_int64(l, 4, ts + (int64_t)(rand() % 8000) * 1000000);
        if (rand() % 2)
            sqlite3_bind_int64(l, 5, ts + (int64_t)(rand() % 9000) * 1000000);
        if (rand() % 3)
            sqlite3_bind_int64(l, 6, ts + (int64_t)(rand() % 40) * NS);
        static const int codes[] = { 200, 503, 486, 404, 500, 0 };
        int code = codes[rand() % 6];
        if (code)
            sqlite3_bind_int(l, 7, code);
        sqlite3_bind_text(l, 8, src, -1, SQLITE_STATIC);
        sqlite3_bind_text(l, 9, dst, -1, SQLITE_STATIC);
        sqlite3_bind_text(l, 10, pick(oc, 7), -1, SQLITE_STATIC);
        sqlite3_bind_text(l, 11, pick(dig, 7), -1, SQLITE_STATIC);
        if (rand() % 3)
            sqlite3_bind_double(l, 12, 2.5 + (double)(rand() % 200) / 100.0);
        sqlite3_bind_int(l, 13, rand() % 5);
        sqlite3_bind_text(l, 14, pick(ruri, 6), -1, SQLITE_STATIC);
        sqlite3_bind_text(l, 15, pick(ruri, 6), -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(l), SQLITE_DONE);
        sqlite3_reset(l);
        sqlite3_clear_bindings(l);
        for (int k = rand() % 3; k > 0; k--) {
            sqlite3_bind_int(s, 1, i);
            sqlite3_bind_double(s, 2, (double)(rand() % 1000) / 100.0);
            assert_int_equal(sqlite3_step(s), SQLITE_DONE);
            sqlite3_reset(s);
        }
        /* OPTIONS requests and answers (some by CSeq only), and other messages */
        int kind = rand() % 4;
        sqlite3_bind_int64(m, 1, ts);
        sqlite3_bind_text(m, 2, src, -1, SQLITE_STATIC);
        sqlite3_bind_text(m, 3, dst, -1, SQLITE_STATIC);
        if (kind == 0)
            sqlite3_bind_text(m, 4, "OPTIONS", -1, SQLITE_STATIC);
        else if (kind == 1)
            sqlite3_bind_text(m, 4, "INVITE", -1, SQLITE_STATIC);
        else
            sqlite3_bind_int(m, 5, kind == 2 ? 200 : 503);
        sqlite3_bind_text(m, 6, kind == 1 ? "INVITE" : "OPTIONS", -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(m), SQLITE_DONE);
        sqlite3_reset(m);
        sqlite3_clear_bindings(m);
    }
    sqlite3_finalize(c);
    sqlite3_finalize(l);
    sqlite3_finalize(s);
    sqlite3_finalize(m);
    exec(h, "COMMIT");
    sqlite3_close(h);
}

static void test_replay_matches_queries(void **st)
{
    (void)st;
    make_random_db();
    char err[200];
    struct st_alerts *q = st_alerts_open(g_db, err, sizeof err), *r = st_alerts_open(g_db, err, sizeof err);
    assert_non_null(q);
    assert_non_null(r);
    st_alerts_static(r, true);
    struct st_win_opts o = { .short_s = 10, .quiet_from_h = 22, .quiet_to_h = 6,
                             .utc_offset_min = 60 };
    snprintf(o.country_code, sizeof o.country_code, "49");
    snprintf(o.intl_prefix, sizeof o.intl_prefix, "00");
    struct st_trunk_win *wq = calloc(8, sizeof *wq), *wr = calloc(8, sizeof *wr);
    struct st_options_peer *pq = calloc(64, sizeof *pq), *pr = calloc(64, sizeof *pr);
    assert_non_null(wq);
    assert_non_null(wr);
    assert_non_null(pq);
    assert_non_null(pr);
    unsigned dest_ev = 0, intl = 0, peers = 0, based = 0;
    /* forward as a replay goes, then a jump back and forward again */
    for (int step = 0; step < 300; step++) {
        int64_t now = R_T0 + (int64_t)(step < 260 ? step : step - 200) * 10 * NS;
        static const int64_t wins[] = { 600 * NS, 300 * NS };
        for (int k = 0; k < 2; k++) {
            size_t nq = 0, nr = 0;
            memset(wq, 0, 8 * sizeof *wq);
            memset(wr, 0, 8 * sizeof *wr);
            assert_int_equal(st_alerts_trunk_window(q, now - wins[k], now, &o, wq, 8, &nq), 0);
            assert_int_equal(st_alerts_trunk_window(r, now - wins[k], now, &o, wr, 8, &nr), 0);
            assert_int_equal(nq, nr);
            for (size_t i = 0; i < nq; i++) {
                if (memcmp(&wq[i], &wr[i], sizeof wq[i]))
                    fail_msg("step %d window %d trunk %zu: attempts %llu/%llu top %s/%s", step, k, i,
                             (unsigned long long)wq[i].attempts, (unsigned long long)wr[i].attempts,
                             wq[i].top_dest, wr[i].top_dest);
                dest_ev += wq[i].nev[ST_EV_DEST] > 0;
                intl += wq[i].intl_attempts > 0;
            }
            for (int64_t id = 1; id <= 3; id++) {
                /* the baselines' windows: a day back, and the hours before */
                int64_t f[] = { now - wins[k] - 86400 * NS, now - wins[k] - 1800 * NS };
                int64_t t[] = { now - 86400 * NS, now - wins[k] };
                for (int j = 0; j < 2; j++) {
                    uint64_t a1, b1, c1, a2, b2, c2;
                    assert_int_equal(st_alerts_trunk_counts(q, id, f[j], t[j], &a1, &b1, &c1), 0);
                    assert_int_equal(st_alerts_trunk_counts(r, id, f[j], t[j], &a2, &b2, &c2), 0);
                    assert_true(a1 == a2 && b1 == b2 && c1 == c2);
                    based += a1 > 0;
                }
            }
        }
        size_t nq = 0, nr = 0;
        assert_int_equal(st_alerts_options(q, now - 900 * NS, now, pq, 64, &nq), 0);
        assert_int_equal(st_alerts_options(r, now - 900 * NS, now, pr, 64, &nr), 0);
        assert_int_equal(nq, nr);
        assert_memory_equal(pq, pr, nq * sizeof *pq);
        peers += nq > 0;
    }
    printf("replay = queries: %u windows with the destination's calls, %u with "
           "international calls, %u baselines, %u OPTIONS windows\n",
           dest_ev, intl, based, peers);
    assert_true(dest_ev > 100 && intl > 100 && based > 100 && peers > 100);
    free(wq);
    free(wr);
    free(pq);
    free(pr);
    st_alerts_close(q);
    st_alerts_close(r);
}

static int setup(void **st)
{
    (void)st;
    snprintf(g_db, sizeof g_db, "/tmp/ts_alert_evalXXXXXX");
    int fd = mkstemp(g_db);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(g_db);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char p[80];
    unlink(g_db);
    snprintf(p, sizeof p, "%s-wal", g_db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_db);
    unlink(p);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_do_not_block_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_matches_queries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
