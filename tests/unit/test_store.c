/* Store tests: schema creation and migration, newer schema refused, the
 * bounded queue at N-1/N/N+1, batch and timed flush, retention by age and
 * size, re-analysis without duplicates, SQL metacharacters stored verbatim.
 * With arguments it is also the helper the corpus tests drive:
 *   test_store --analyze DB PCAP...   store calls + SIP of captures (UDP)
 *   test_store --write-forever DB     write records until killed
 *   test_store --export DB ID OUT     export one call as pcap
 *   test_store --bench-sip DB N       store N SIP messages, print the rate */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../calls/calls.h"
#include "../../capture/decode.h"
#include "../../capture/pcapin.h"
#include "../../common/hash.h"
#include "../../dissect/sip.h"
#include "../../dissect/sipframe.h"
#include "../../media/media.h"
#include "../../store/alerts.h"
#include "../../store/query.h"
#include "../../store/store.h"

#define NS 1000000000ull
#define T0 (1700000000ull * NS)
#define T0_TEXT "1700000000000000000"

static char g_dir[256];

static void tmp_path(char *buf, size_t cap, const char *name)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/test_store.XXXXXX");
        if (!mkdtemp(g_dir))
            abort();
    }
    snprintf(buf, cap, "%s/%s", g_dir, name);
    char side[300];
    unlink(buf);
    snprintf(side, sizeof side, "%s-wal", buf);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", buf);
    unlink(side);
}

/* A file NAME in the test directory holding TEXT: the store identifies a
 * capture by path, size, time and first bytes, never reads it as pcap. */
static void fake_capture(char *path, size_t cap, const char *name, const char *text)
{
    tmp_path(path, cap, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A writer on a new database file NAME in the test directory. */
static struct st_writer *fresh_writer(char *db, size_t cap, const char *name)
{
    char err[256] = "";
    tmp_path(db, cap, name);
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    if (!w)
        print_error("st_writer_open: %s\n", err);
    assert_non_null(w);
    return w;
}

/* A new database at name in the test's directory, with the current schema
 * (created by the writer). */
static void fresh_db(char *buf, size_t cap, const char *name)
{
    st_writer_close(fresh_writer(buf, cap, name));
}

/* Undoes the step that left the writer's rollups to rollup.c, for a test
 * that sets the version back before it: nothing, since the triggers it
 * recreated keep their names (the earlier steps' undo drops them) and its
 * table stays (the step creates it if missing; the triggers name it). */
#define VROLL_DOWN ""

/* Undoes schema v29 (the streams' covering leg index): the plain one back. */
#define V29_DOWN                                                                              \
    "DROP INDEX rtp_streams_leg_media; CREATE INDEX rtp_streams_leg ON rtp_streams(leg_id);"

/* Undoes schema v28 (the hourly rollups), which its step builds again. */
#define V28_DOWN                                                                              \
    V29_DOWN                                                                                  \
    "DROP TRIGGER kpi_hour_ins; DROP TRIGGER kpi_hour_del; DROP TRIGGER kpi_hour_upd;"         \
    " DROP TRIGGER leg_hours_ins; DROP TRIGGER leg_hours_del; DROP TRIGGER leg_hours_mos;"     \
    " DROP TRIGGER leg_hours_upd; DROP TABLE kpi_hour; DROP TABLE leg_hours;"                \
    " DROP INDEX rtp_streams_srtp_fail; CREATE INDEX rtp_streams_srtp_fail ON"                 \
    " rtp_streams(srtp_auth_fail) WHERE srtp_auth_fail>0;"

/* Undoes schema v27 (the OPTIONS messages' partial index), which the
 * v27 step creates again. */
#define V27_DOWN V28_DOWN "DROP INDEX sip_messages_options;"

/* Undoes schema v26's triggers (the reversed digits of other writers'
 * legs), which name the columns earlier steps drop; the steps from v17 on
 * take the stored columns as they find them. */
#define V26_DOWN V27_DOWN "DROP TRIGGER legs_rev_ins; DROP TRIGGER legs_rev_upd;"

/* Undoes schema v25 (call_seconds, the leg_ports directory): every test
 * that sets the version back runs v25 again. */
#define V25_DOWN                                                                              \
    V26_DOWN "DROP TRIGGER call_seconds_ins; DROP TRIGGER call_seconds_del;"                          \
    " DROP TRIGGER call_seconds_upd; DROP TRIGGER leg_ports_top; DROP TRIGGER leg_agents_top;"  \
    " DROP TABLE call_seconds; DROP TABLE leg_ports; DROP TABLE leg_ports_state;"

/* Undoes schema v24 (the streams' SRTP packets not tried): every test that
 * sets the version back runs v24 again. */
#define V24_DOWN V25_DOWN "ALTER TABLE rtp_streams DROP COLUMN srtp_not_tried;"

/* Undoes schema v23 (the leg_agents directory): every test that sets the
 * version back runs v23 again. */
#define V23_DOWN "DROP TABLE leg_agents; DROP TABLE leg_agents_state;"

/* Undoes schema v21 (the TLS decryption verdicts): a test that sets the
 * version back before an earlier step runs v21 again. */
#define V21_DOWN                                                                              \
    "ALTER TABLE tls_conns DROP COLUMN decrypt; ALTER TABLE tls_conns DROP COLUMN"           \
    " decrypt_records; ALTER TABLE tls_conns DROP COLUMN decrypt_auth_failed;"               \
    " ALTER TABLE tls_conns DROP COLUMN decrypt_late; ALTER TABLE tls_peers DROP COLUMN"     \
    " decrypt;"

static int64_t q(const char *db, const char *sql)
{
    char err[256];
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    int64_t v = st_db_scalar(d, sql, -1);
    st_db_close(d);
    return v;
}

static void qtext(const char *db, const char *sql, char *buf, size_t cap)
{
    char err[256];
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_text(d, sql, buf, cap), ST_OK);
    st_db_close(d);
}

static void put_sip(struct st_writer *w, uint64_t ts, const char *call_id, const char *raw)
{
    struct pkt_meta m = { .ts_ns = ts, .l4 = TS_L4_UDP, .sport = 5060, .dport = 5060 };
    m.src.family = m.dst.family = 4;
    m.src.a[0] = 10, m.src.a[3] = 1;
    m.dst.a[0] = 10, m.dst.a[3] = 2;
    struct st_sip_brief b = { .call_id = bv_cstr(call_id), .method = BV_LIT("INVITE"),
                              .cseq = 1, .cseq_method = BV_LIT("INVITE") };
    st_writer_sip(w, &m, bv_cstr(raw), &b);
}

static void put_call_ref(struct st_writer *w, uint64_t id, uint64_t start, const char *call_id,
                         const char *caller, uint64_t leg_ref)
{
    struct calls_leg leg;
    memset(&leg, 0, sizeof leg);
    snprintf(leg.call_id, sizeof leg.call_id, "%s", call_id);
    snprintf(leg.from, sizeof leg.from, "%s", caller);
    snprintf(leg.caller_digits, sizeof leg.caller_digits, "%s", caller);
    snprintf(leg.callee_digits, sizeof leg.callee_digits, "4930123456");
    leg.invite_ns = start;
    leg.answer_ns = start + 2 * NS;
    leg.end_ns = start + 30 * NS;
    leg.final_status = 200;
    leg.ev_linked_to = -1;
    leg.caller_sdp.present = true;
    leg.caller_sdp.addr.family = 4;
    leg.caller_sdp.addr.a[0] = 10;
    leg.caller_sdp.addr.a[3] = 7;
    leg.caller_sdp.port = 40000;
    leg.leg_ref = leg_ref;
    struct calls_call c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.start_ns = start;
    snprintf(c.caller, sizeof c.caller, "%s", caller);
    snprintf(c.callee, sizeof c.callee, "4930123456");
    c.pdd_ms = 1500;
    c.duration_s = 28.0;
    c.nlegs = 1;
    c.legs = &leg;
    st_writer_call(w, &c);
}

static void put_call(struct st_writer *w, uint64_t id, uint64_t start, const char *call_id,
                     const char *caller)
{
    put_call_ref(w, id, start, call_id, caller, 0);
}

/* A finished stream of leg_ref with nseries 5-second points. */
static void put_stream_flags(struct st_writer *w, uint64_t leg_ref, double mos, uint32_t nseries,
                             uint32_t flags)
{
    struct media_stream m;
    memset(&m, 0, sizeof m);
    m.src.family = m.dst.family = 4;
    m.src.a[0] = 10, m.src.a[3] = 7;
    m.dst.a[0] = 10, m.dst.a[3] = 8;
    m.sport = 40000;
    m.dport = 40002;
    m.ssrc = 0x1234abcd;
    m.pt = 8;
    m.pts_seen[0] = (1ull << 8) | (1ull << 0);
    m.pts_seen[1] = 1ull << (101 - 64);
    snprintf(m.codec, sizeof m.codec, "PCMA");
    m.clock = 8000;
    m.packets = 1500;
    m.bytes = 1500 * 172;
    m.expected = 1503;
    m.lost = 3;
    m.lost_pct = 0.2;
    m.min_delta_ms = -1;
    m.mean_delta_ms = 20.0;
    m.max_delta_ms = 41.5;
    m.min_jitter_ms = 0.1;
    m.mean_jitter_ms = 1.5;
    m.max_jitter_ms = 7.25;
    m.first_ns = T0 + 2 * NS;
    m.last_ns = T0 + 32 * NS;
    m.mos = mos;
    m.r_factor = mos > 0 ? 80.0 : -1;
    m.flags = flags;
    m.mos_reason = mos >= 0 && mos < MEDIA_POOR_MOS ? MEDIA_R_LOSS : MEDIA_R_NONE;
    m.signalled = leg_ref != 0;
    m.leg_ref = m.call_ref = leg_ref;
    snprintf(m.dtmf, sizeof m.dtmf, "12#");
    m.dtmf_events = 3;
    m.rtcp.sr = 4;
    m.rtcp.blocks = 2;
    m.rtcp.fraction_lost = 0.5f;
    m.rtcp.jitter_ms = -1;
    m.rtcp.xr_mos_lq = -1;
    m.rtcp.xr_r_factor = -1;
    snprintf(m.rtcp.cname, sizeof m.rtcp.cname, "x'); DROP TABLE rtp_streams;--");
    struct media_series ser[8];
    for (uint32_t i = 0; i < nseries && i < 8; i++)
        ser[i] = (struct media_series){ .packets = 250, .lost = (uint16_t)i, .jitter_ms = 1.0f,
                                        .mos = i == 1 ? -1.0f : (float)mos };
    m.nseries = nseries;
    m.series = nseries ? ser : NULL;
    st_writer_stream(w, &m);
}

static void put_stream(struct st_writer *w, uint64_t leg_ref, double mos, uint32_t nseries)
{
    put_stream_flags(w, leg_ref, mos, nseries, MEDIA_F_LATE_MEDIA | MEDIA_F_CAPTURE_GAP);
}

static bool wait_written(struct st_writer *w, uint64_t n, int ms)
{
    struct st_stats s;
    for (int i = 0; i < ms / 10; i++) {
        st_writer_stats(w, &s);
        if (s.written >= n)
            return true;
        usleep(10000);
    }
    return false;
}

/* ---- schema ---- */

static void test_schema_create(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "create.db");
    st_writer_close(w);
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN"
                           "('captures','trunks','peers','calls','legs','sip_messages',"
                           "'rtp_streams','rtp_intervals','rtcp_reports','registrations',"
                           "'keepalives','kpi_minute','sip_links')"),
                     13);
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE type='index' AND name IN"
                           "('calls_start','calls_outcome','calls_failure_side','calls_mos',"
                           "'legs_caller_rev','legs_callee_rev','legs_call_id','legs_src_dst',"
                           "'legs_leg_ref','calls_sort_pdd','calls_sort_duration',"
                           "'calls_sort_mos','rtp_streams_pending')"),
                     13);
    /* v20: kpi_minute clustered by its key; the step keeps a rowid table's
     * rows (here a v1 table, the version set back to the step before) */
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE name='kpi_minute' AND"
                           " sql LIKE '%WITHOUT ROWID'"),
                     1);
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    int km_step = 2;
    while (km_step <= ST_SCHEMA_VERSION && !strstr(st_schema_step(km_step), "kpi_minute"))
        km_step++;
    char sql[2048];
    snprintf(sql, sizeof sql,
             V24_DOWN V23_DOWN VROLL_DOWN V21_DOWN "DROP TABLE kpi_minute; CREATE TABLE kpi_minute(trunk_id INTEGER NOT NULL,"
             " direction TEXT NOT NULL, minute INTEGER NOT NULL, attempts INTEGER,"
             " answered INTEGER, busy INTEGER, rejected INTEGER, cancelled INTEGER,"
             " failed INTEGER, timeouts INTEGER, srd_sum_ms REAL, srd_n INTEGER,"
             " ans_sum_ms REAL, ans_n INTEGER, dur_sum_s REAL, dur_n INTEGER,"
             " peak_concurrent INTEGER, PRIMARY KEY(trunk_id, minute, direction));"
             "INSERT INTO kpi_minute(trunk_id, direction, minute, attempts, peak_concurrent)"
             " VALUES(2, 'in', 60, 5, 3), (1, 'out', 120, 7, 4); PRAGMA user_version=%d",
             km_step - 1);
    assert_int_equal(st_db_exec(d, sql, err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE name='kpi_minute' AND"
                           " sql LIKE '%WITHOUT ROWID'"),
                     1);
    assert_int_equal(q(db, "SELECT group_concat(trunk_id||direction||minute||attempts||"
                           "peak_concurrent) = '1out12074,2in6053' FROM kpi_minute"),
                     1);
    /* gone in v3 (the writer links messages from memory) and v6 (links are
     * rows of sip_links) */
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                           "('sip_messages_call_id','legs_caller','legs_callee',"
                           "'sip_messages_leg')"),
                     0);
    char mode[32];
    qtext(db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    /* the memory database works too */
    w = st_writer_open(":memory:", NULL, err, sizeof err);
    assert_non_null(w);
    put_call(w, 1, T0, "mem@x", "100");
    st_writer_close(w);
}

/* store/schema.c: the empty database made at build time by the steps */
extern const unsigned char st_schema_image[];
extern const size_t st_schema_image_len;

/* A database file that does not exist starts as the image the build made
 * with the migration steps (scripts/schema_template.c); one that exists,
 * even empty, runs the steps: the same schema, version and journal mode. */
static void test_schema_image(void **state)
{
    (void)state;
    char img[300], mig[300], a[16384], b[16384];
    struct st_writer *w = fresh_writer(img, sizeof img, "image.db");
    st_writer_close(w);
    tmp_path(mig, sizeof mig, "migrated.db");
    FILE *f = fopen(mig, "wb"); /* empty: SQLite's new database, the steps */
    assert_non_null(f);
    fclose(f);
    char err[256];
    w = st_writer_open(mig, NULL, err, sizeof err);
    assert_non_null(w);
    st_writer_close(w);
    const char *schema = "SELECT group_concat(type||'|'||name||'|'||tbl_name||'|'||"
                         "coalesce(sql,''), char(10)) FROM (SELECT * FROM sqlite_master "
                         "ORDER BY name)";
    qtext(img, schema, a, sizeof a);
    qtext(mig, schema, b, sizeof b);
    assert_true(strlen(a) > 10000);
    assert_string_equal(a, b);
    assert_int_equal(q(img, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    qtext(img, "PRAGMA journal_mode", a, sizeof a);
    assert_string_equal(a, "wal");
    /* the first one is the image (past the header, which the open changed) */
    assert_true(st_schema_image_len > 4096);
    f = fopen(img, "rb");
    assert_non_null(f);
    unsigned char *got = malloc(st_schema_image_len);
    assert_non_null(got);
    assert_int_equal(fread(got, 1, st_schema_image_len, f), st_schema_image_len);
    fclose(f);
    assert_memory_equal(got + 100, st_schema_image + 100, st_schema_image_len - 100);
    free(got);
    snprintf(a, sizeof a, "%s.new-%ld", img, (long)getpid()); /* nothing left beside it */
    assert_int_equal(access(a, F_OK), -1);
}

static void test_migrate_v1(void **state)
{
    (void)state;
    char db[300], err[256];
    tmp_path(db, sizeof db, "v1.db");
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_non_null(st_schema_step(1));
    assert_int_equal(st_db_exec(d, st_schema_step(1), err, sizeof err), ST_OK);
    assert_int_equal(st_db_exec(d,
                                "PRAGMA user_version=1;"
                                "INSERT INTO calls(id,start,caller,outcome) VALUES(7,1,'old','answered');"
                                "INSERT INTO legs(call_ref,call_id) VALUES(7,'old@v1');",
                                err, sizeof err),
                     ST_OK);
    /* still version 1 without the new columns (raw open does not migrate) */
    assert_int_equal(st_db_scalar(d, "PRAGMA user_version", -1), 1);
    assert_int_equal(st_db_scalar(d, "SELECT count(*) FROM pragma_table_info('legs') WHERE "
                                     "name='caller_media_port'", -1),
                     0);
    st_db_close(d);
    /* a read-only open refuses the old version rather than upgrading */
    assert_null(st_db_open(db, true, err, sizeof err));
    /* a read-write open upgrades */
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT count(*) FROM pragma_table_info('legs') WHERE "
                           "name IN ('caller_media_addr','caller_media_port',"
                           "'callee_media_addr','callee_media_port')"),
                     4);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE id=7 AND caller='old'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE call_id='old@v1'"), 1);
    char kind[16];
    qtext(db, "SELECT kind FROM captures UNION ALL SELECT 'file' LIMIT 1", kind, sizeof kind);
    assert_string_equal(kind, "file");

    /* and through the writer: a v1 file opens, upgrades and accepts rows */
    tmp_path(db, sizeof db, "v1w.db");
    d = st_db_open_raw(db, err, sizeof err);
    assert_int_equal(st_db_exec(d, st_schema_step(1), err, sizeof err), ST_OK);
    assert_int_equal(st_db_exec(d, "PRAGMA user_version=1", err, sizeof err), ST_OK);
    st_db_close(d);
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    put_call(w, 1, T0, "new@v2", "200");
    st_writer_close(w);
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT caller_media_port FROM legs WHERE call_id='new@v2'"), 40000);
}

static void test_newer_refused(void **state)
{
    (void)state;
    char db[300], err[256] = "";
    tmp_path(db, sizeof db, "newer.db");
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_int_equal(st_db_exec(d, "CREATE TABLE x(a); PRAGMA user_version=99", err, sizeof err),
                     ST_OK);
    st_db_close(d);
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_null(w);
    assert_non_null(strstr(err, "newer"));
    assert_non_null(strstr(err, "99"));
    assert_null(strchr(err, '\n'));
    assert_null(st_db_open(db, false, err, sizeof err));
    assert_null(st_db_open(db, true, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    /* untouched */
    d = st_db_open_raw(db, err, sizeof err);
    assert_int_equal(st_db_scalar(d, "PRAGMA user_version", -1), 99);
    st_db_close(d);
}

static int64_t raw_scalar(const char *db, const char *sql)
{
    char err[256];
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    int64_t v = st_db_scalar(d, sql, -1);
    st_db_close(d);
    return v;
}

/* Back from v19: the trunk series' MOS rollup and its triggers go. */
#define V19_DOWN \
    "DROP TRIGGER leg_minutes_ins; DROP TRIGGER leg_minutes_del;" \
    "DROP TRIGGER leg_minutes_mos; DROP TRIGGER leg_minutes_upd; DROP TABLE leg_minutes;"
/* Back from v15: its rollups, their triggers and index go. */
#define V18_DOWN \
    "DROP INDEX rtp_streams_srtp_fail;" \
    "ALTER TABLE rtp_streams DROP COLUMN srtp_decrypted;" \
    "ALTER TABLE rtp_streams DROP COLUMN srtp_auth_fail;"
#define V15_DOWN \
    "DROP TRIGGER leg_sums_ins;" \
    "DROP TRIGGER leg_sums_del;" \
    "DROP TRIGGER leg_sums_upd;" \
    "DROP TRIGGER failure_sums_leg_ins0;" \
    "DROP TRIGGER failure_sums_leg_ins1;" \
    "DROP TRIGGER failure_sums_leg_del0;" \
    "DROP TRIGGER failure_sums_leg_del1;" \
    "DROP TRIGGER failure_sums_leg_upd0;" \
    "DROP TRIGGER failure_sums_leg_upd1;" \
    "DROP TRIGGER failure_sums_leg_upd2;" \
    "DROP TRIGGER failure_sums_leg_upd3;" \
    "DROP TRIGGER failure_sums_call_ins0;" \
    "DROP TRIGGER failure_sums_call_ins1;" \
    "DROP TRIGGER failure_sums_call_del0;" \
    "DROP TRIGGER failure_sums_call_upd0;" \
    "DROP TRIGGER failure_sums_call_upd1;" \
    "DROP TABLE leg_sums; DROP TABLE failure_sums; DROP INDEX legs_src_dst_outcome;"

/* Back from v16: the overview's per-minute rollup, the row counts, their
 * triggers and legs(dst, dport) go. */
#define V16_DOWN \
    "DROP TRIGGER call_minutes_ins; DROP TRIGGER call_minutes_del;" \
    "DROP TRIGGER call_minutes_upd; DROP TABLE call_minutes;" \
    "DROP TRIGGER row_counts_calls_ins; DROP TRIGGER row_counts_calls_del;" \
    "DROP TRIGGER row_counts_legs_ins; DROP TRIGGER row_counts_legs_del;" \
    "DROP TRIGGER row_counts_sip_messages_ins; DROP TRIGGER row_counts_sip_messages_del;" \
    "DROP TRIGGER row_counts_rtp_streams_ins; DROP TRIGGER row_counts_rtp_streams_del;" \
    "DROP TABLE row_counts; DROP INDEX legs_dst;"

/* serve only reads: st_db_upgrade() brings a v4 database (narrow
 * legs_src_dst) to the current schema first, and leaves a current, a newer
 * and an empty file as they are. */
static void test_upgrade_for_readers(void **state)
{
    (void)state;
    char db[300], err[256] = "";
    struct st_writer *w = fresh_writer(db, sizeof db, "v4.db");
    st_writer_close(w);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM pragma_index_info('legs_src_dst')"), 10);
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_int_equal(st_db_exec(d, V24_DOWN V23_DOWN VROLL_DOWN V19_DOWN V18_DOWN V16_DOWN V15_DOWN "DROP INDEX legs_src_dst;"
                                   "CREATE INDEX legs_src_dst ON legs(src, dst, mos);"
                                   "DROP TABLE sip_links;" /* and v6 */
                                   "DROP TABLE live_legs; DROP TABLE live_state;" /* v7 */
                                   "DROP INDEX legs_final_status;"
                                   "ALTER TABLE legs DROP COLUMN user_agent;"
                                   "ALTER TABLE legs DROP COLUMN server;"
                                   "CREATE INDEX sip_messages_leg ON sip_messages(leg_id) "
                                   "WHERE leg_id IS NOT NULL;"
                                   "ALTER TABLE rtp_streams DROP COLUMN mos_reason;" /* and v8 */
                                   "ALTER TABLE legs DROP COLUMN mos_reason;"
                                   "ALTER TABLE legs DROP COLUMN media_flags;"
                                   "ALTER TABLE legs DROP COLUMN endpoint_quality;"
                                   "ALTER TABLE calls DROP COLUMN mos_reason;"
                                   "ALTER TABLE calls DROP COLUMN media_flags;"
                                   "DROP TABLE alerts; DROP TABLE trunk_health;" /* v10 */
                                   "DROP INDEX legs_src_dst_invite;"
                                   "DROP TABLE spool_blocks; DROP TABLE spool_files;" /* v11 */
                                   "ALTER TABLE trunks DROP COLUMN peak_kbps;" /* v12 */
                                   "DROP TABLE trunk_checklist;" /* v13 */
                                   "DROP TABLE tls_peers; DROP TABLE tls_conns;" /* v14 */
                                   "DROP TABLE other_flows;"
                                   "PRAGMA user_version=4", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_null(st_db_open(db, true, err, sizeof err)); /* a reader refuses it */
    assert_non_null(strstr(err, "version 4"));
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM pragma_index_info('legs_src_dst')"), 10);
    d = st_db_open(db, true, err, sizeof err);
    assert_non_null(d);
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK); /* current: nothing */
    /* newer: left for the open to refuse */
    d = st_db_open_raw(db, err, sizeof err);
    assert_int_equal(st_db_exec(d, "PRAGMA user_version=99", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), 99);
    /* an empty file and a missing one get no schema */
    char empty[300];
    tmp_path(empty, sizeof empty, "empty.db");
    FILE *f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(st_db_upgrade(empty, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(empty, "SELECT count(*) FROM sqlite_master"), 0);
    tmp_path(empty, sizeof empty, "missing.db");
    assert_int_equal(st_db_upgrade(empty, err, sizeof err), ST_OK);
    assert_int_equal(access(empty, F_OK), -1);
}

/* Reversed digits (v26): every leg's, whether the writer wrote it (digits
 * of every length the schema's expression branches on) or another writer
 * did (trigger), and after its digits change; checked against a reversal
 * in plain SQL (a recursive CTE), independent of both. */
#define REV_WRONG(who)                                                                         \
    "WITH RECURSIVE r(id, s, o) AS (SELECT id, " who "_digits, '' FROM legs WHERE " who         \
    "_digits IS NOT NULL UNION ALL SELECT id, substr(s, 2), substr(s, 1, 1) || o FROM r"       \
    " WHERE s <> '') SELECT count(*) FROM legs l JOIN r ON r.id = l.id AND r.s = ''"           \
    " WHERE l." who "_rev IS NOT r.o"
static void test_digits_rev(void **state)
{
    (void)state;
    char db[300], err[256], got[64];
    tmp_path(db, sizeof db, "rev.db");
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    static const char *const caller[] = { "", "7", "1234567", "12345678", "123456789",
                                          "491701234567", "4917012345678", "1234567890123456",
                                          "12345678901234567", "12345678901234567890",
                                          "123456789012345678901", "123456789012345678901234",
                                          "1234567890123456789012345",
                                          "1234567890123456789012345678",
                                          "12345678901234567890123456789",
                                          "1234567890123456789012345678901" };
    size_t n = sizeof caller / sizeof caller[0];
    for (size_t i = 0; i < n; i++) {
        char cid[32];
        snprintf(cid, sizeof cid, "rev%zu@x", i);
        put_call_ref(w, 100 + i, T0 + i * NS, cid, caller[i], 500 + i);
    }
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE caller_rev IS NOT NULL AND "
                           "callee_rev IS NOT NULL"),
                     (int64_t)n);
    assert_int_equal(q(db, REV_WRONG("caller")), 0);
    assert_int_equal(q(db, REV_WRONG("callee")), 0);
    qtext(db, "SELECT caller_rev FROM legs WHERE call_id='rev5@x'", got, sizeof got);
    assert_string_equal(got, "765432107194");
    /* another writer's leg, then its digits changed: the triggers */
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d,
                                "INSERT INTO legs(call_ref,call_id,caller_digits,callee_digits) "
                                "VALUES(100,'ext@x','12345','987654321');"
                                "INSERT INTO legs(call_ref,call_id) VALUES(100,'none@x');",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(st_db_scalar(d, "SELECT count(*) FROM legs WHERE call_id='ext@x' AND "
                                     "caller_rev='54321' AND callee_rev='123456789'", -1),
                     1);
    assert_int_equal(st_db_scalar(d, "SELECT count(*) FROM legs WHERE call_id='none@x' AND "
                                     "caller_rev IS NULL AND callee_rev IS NULL", -1),
                     1);
    assert_int_equal(st_db_exec(d, "UPDATE legs SET callee_digits='4711' WHERE call_id='ext@x'",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(st_db_scalar(d, "SELECT count(*) FROM legs WHERE callee_rev >= '1174' AND "
                                     "callee_rev < '1174:'", -1),
                     1);
    st_db_close(d);
    assert_int_equal(q(db, REV_WRONG("caller")), 0);
    assert_int_equal(q(db, REV_WRONG("callee")), 0);
}

/* v27: the alert rules' two OPTIONS queries read the partial index
 * sip_messages_options (no other messages, no sort for the replay's order),
 * which holds exactly the OPTIONS requests and the responses to them; a
 * v26 file gains it over the rows it has. */
#define OPT_COUNT(how) "SELECT count(*) FROM sip_messages " how " WHERE " ST_OPT_WHERE
static void test_options_index(void **state)
{
    (void)state;
    char db[300], err[256], plan[512];
    fresh_db(db, sizeof db, "opt.db");
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d,
                                "INSERT INTO sip_messages(ts,src,dst,method,status,cseq_method) VALUES"
                                "(1,'a','b','OPTIONS',NULL,'OPTIONS'),(2,'b','a',NULL,200,'OPTIONS'),"
                                "(3,'a','b','INVITE',NULL,'INVITE'),(4,'b','a',NULL,200,'INVITE'),"
                                "(5,'c','b','OPTIONS',NULL,'OPTIONS'),(6,'b','c',NULL,404,'OPTIONS'),"
                                "(7,'a','b','BYE',NULL,'BYE'),(8,'b','a',NULL,200,'BYE'),"
                                "(9,'a','b',NULL,200,NULL),(10,'a','b','REGISTER',NULL,'OPTIONS')",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(st_db_scalar(d, OPT_COUNT("INDEXED BY sip_messages_options"), -1), 4);
    assert_int_equal(st_db_scalar(d, OPT_COUNT("NOT INDEXED"), -1), 4);
    assert_int_equal(st_db_plan(d, ST_OPT_LIVE_SQL, plan, sizeof plan), ST_OK);
    assert_non_null(strstr(plan, "COVERING INDEX sip_messages_options"));
    assert_int_equal(st_db_plan(d, ST_OPT_REPLAY_SQL, plan, sizeof plan), ST_OK);
    assert_non_null(strstr(plan, "COVERING INDEX sip_messages_options"));
    assert_null(strstr(plan, "TEMP B-TREE"));
    /* back to v26, upgraded by the next open */
    assert_int_equal(st_db_exec(d, V27_DOWN "PRAGMA user_version=26", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, OPT_COUNT("INDEXED BY sip_messages_options")), 4);
}

/* The data's first and last INVITE (ST_DATA_SPAN_SQL, read by the alert
 * evaluator at every run): the min() and max() over all legs, NULL
 * addresses (which leg_sums keys as '') and NULL times included, found by
 * seeks per address pair, never a scan of legs. */
#define SPAN_ALL(f) "SELECT " f "(invite_ts) FROM legs NOT INDEXED"
static void test_data_span(void **state)
{
    (void)state;
    char db[300], err[256], plan[1024];
    fresh_db(db, sizeof db, "span.db");
    struct st_alerts *a = st_alerts_open(db, err, sizeof err);
    assert_non_null(a);
    struct st_data_time dt;
    assert_int_equal(st_alerts_data_time(a, &dt), ST_OK);
    assert_int_equal(dt.first_ns, 0); /* no legs */
    assert_int_equal(dt.last_ns, 0);
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    /* the earliest INVITE on a leg without a source, the latest on one
     * without a destination; others between, and one without a time */
    assert_int_equal(st_db_exec(d,
                                "INSERT INTO calls(id,start,caller,outcome) VALUES(1,5,'a','answered');"
                                "INSERT INTO legs(call_ref,call_id,src,dst,invite_ts) VALUES"
                                "(1,'c1','10.0.0.1','10.0.0.2',50),(1,'c2','10.0.0.1','10.0.0.2',70),"
                                "(1,'c3','10.0.0.2','10.0.0.1',60),(1,'c4',NULL,'10.0.0.2',7),"
                                "(1,'c5','10.0.0.3',NULL,900),(1,'c6','10.0.0.3','10.0.0.4',NULL),"
                                "(1,'c7',NULL,NULL,40)",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(st_db_scalar(d, SPAN_ALL("min"), -1), 7);
    assert_int_equal(st_db_scalar(d, SPAN_ALL("max"), -1), 900);
    assert_int_equal(st_db_scalar(d, "SELECT first FROM (" ST_DATA_SPAN_SQL ")", -1), 7);
    assert_int_equal(st_db_scalar(d, "SELECT last FROM (" ST_DATA_SPAN_SQL ")", -1), 900);
    assert_int_equal(st_alerts_data_time(a, &dt), ST_OK);
    assert_int_equal(dt.first_ns, 7);
    assert_int_equal(dt.last_ns, 900);
    assert_int_equal(st_db_plan(d, ST_DATA_SPAN_SQL, plan, sizeof plan), ST_OK);
    assert_non_null(strstr(plan, "SEARCH legs USING COVERING INDEX legs_src_dst_invite"));
    assert_null(strstr(plan, "SCAN legs"));
    st_db_close(d);
    st_alerts_close(a);
}

/* A v2 database with data: v3 adds the media columns, reversed digits of
 * the existing legs (generated; stored since v26), the new indexes; rows
 * survive. */
static void test_migrate_v2(void **state)
{
    (void)state;
    char db[300], err[256], got[64];
    tmp_path(db, sizeof db, "v2.db");
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, st_schema_step(1), err, sizeof err), ST_OK);
    assert_int_equal(st_db_exec(d, st_schema_step(2), err, sizeof err), ST_OK);
    assert_int_equal(st_db_exec(d,
                                "PRAGMA user_version=2;"
                                "INSERT INTO calls(id,start,caller,outcome,pdd_ms) "
                                " VALUES(7,1,'old','answered',900);"
                                "INSERT INTO legs(call_ref,call_id,caller_digits,callee_digits,"
                                " src,dst) VALUES(7,'old@v2','4930111','4940123456',"
                                " '10.0.0.1','10.0.0.2');"
                                "INSERT INTO sip_messages(ts,call_id,raw) VALUES(1,'old@v2','x');",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(st_db_scalar(d, "SELECT count(*) FROM pragma_table_info('legs') WHERE "
                                     "name='leg_ref'", -1),
                     0);
    st_db_close(d);
    /* read-only: refused (needs an upgrade) */
    assert_null(st_db_open(db, true, err, sizeof err));
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    put_call_ref(w, 8, T0, "new@v3", "200", 41);
    put_stream(w, 41, 3.7, 2);
    st_writer_close(w);
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT count(*) FROM pragma_table_xinfo('legs') WHERE name IN"
                           "('leg_ref','capture_gap','mos','caller_rev','callee_rev')"),
                     5);
    qtext(db, "SELECT callee_rev FROM legs WHERE call_id='old@v2'", got, sizeof got);
    assert_string_equal(got, "6543210494");
    qtext(db, "SELECT caller_rev FROM legs WHERE call_id='old@v2'", got, sizeof got);
    assert_string_equal(got, "1110394");
    /* suffix search is an index range on the reversed digits */
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE callee_rev >= '6543' AND "
                           "callee_rev < '6543:'"),
                     2);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE callee_rev >= '654321049' AND "
                           "callee_rev < '654321049:'"),
                     1);
    /* (query plans are checked by the API test, which sees the real queries) */
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE id=7 AND caller='old'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages WHERE call_id='old@v2'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_ref=41 AND "
                           "call_ref=(SELECT id FROM calls WHERE tracker_id=8)"),
                     1);
    /* the v3 file opens read-only now */
    d = st_db_open(db, true, err, sizeof err);
    assert_non_null(d);
    st_db_close(d);
}

/* A v3 database with data: v4 adds the site of legs, calls and trunks
 * (NULL for the old rows) and calls(site, start); new rows get their site,
 * an empty site stays NULL. */
static void test_migrate_v3(void **state)
{
    (void)state;
    char db[300], err[256], got[64];
    tmp_path(db, sizeof db, "v3.db");
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    for (int v = 1; v <= 3; v++)
        assert_int_equal(st_db_exec(d, st_schema_step(v), err, sizeof err), ST_OK);
    assert_null(st_schema_step(ST_SCHEMA_VERSION + 1));
    assert_int_equal(st_db_exec(d,
                                "PRAGMA user_version=3;"
                                "INSERT INTO calls(id,start,caller,outcome) VALUES(7,1,'old','answered');"
                                "INSERT INTO legs(call_ref,call_id,src,dst) VALUES(7,'old@v3',"
                                " '10.0.0.1','10.0.0.2');"
                                "INSERT INTO trunks(local_addr,peer_addr,attempts) VALUES"
                                " ('10.0.0.1','10.0.0.2',1);",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(st_db_scalar(d, "SELECT count(*) FROM pragma_table_info('calls') WHERE "
                                     "name='site'", -1),
                     0);
    st_db_close(d);
    assert_null(st_db_open(db, true, err, sizeof err)); /* needs the upgrade */
    assert_non_null(strstr(err, "version 3"));
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    /* a call seen at two sites: the call keeps the first leg's */
    struct calls_leg legs[2];
    memset(legs, 0, sizeof legs);
    for (int i = 0; i < 2; i++) {
        snprintf(legs[i].call_id, sizeof legs[i].call_id, "new%d@v4", i);
        legs[i].invite_ns = T0 + (uint64_t)i * NS;
        legs[i].ev_linked_to = -1;
        legs[i].src.family = legs[i].dst.family = 4;
        legs[i].src.a[0] = legs[i].dst.a[0] = 10;
        legs[i].dst.a[3] = (uint8_t)(i + 2);
    }
    snprintf(legs[0].site, sizeof legs[0].site, "branch-1");
    /* a full TS_SITE_LEN buffer without a terminator is stored bounded */
    memset(legs[1].site, 'h', sizeof legs[1].site);
    struct calls_call c;
    memset(&c, 0, sizeof c);
    c.id = 9;
    c.start_ns = T0;
    c.pdd_ms = -1;
    c.nlegs = 2;
    c.legs = legs;
    snprintf(c.site, sizeof c.site, "branch-1");
    st_writer_call(w, &c);
    put_call(w, 10, T0 + 5 * NS, "local@v4", "300"); /* no site: NULL */
    st_writer_close(w);
    assert_int_equal(q(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT count(*) FROM pragma_table_info('legs') WHERE name='site'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM pragma_table_info('trunks') WHERE name='site'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE name='calls_site'"), 1);
    /* the old rows survive with no site */
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE id=7 AND caller='old' AND site IS NULL"),
                     1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE call_id='old@v3' AND site IS NULL"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM trunks WHERE attempts=1 AND site IS NULL"), 1);
    qtext(db, "SELECT site FROM calls WHERE tracker_id=9", got, sizeof got);
    assert_string_equal(got, "branch-1");
    qtext(db, "SELECT site FROM legs WHERE call_id='new0@v4'", got, sizeof got);
    assert_string_equal(got, "branch-1");
    assert_int_equal(q(db, "SELECT length(site) FROM legs WHERE call_id='new1@v4'"), TS_SITE_LEN);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=10 AND site IS NULL"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE call_id='local@v4' AND site IS NULL"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE site='branch-1'"), 1);
    d = st_db_open(db, true, err, sizeof err);
    assert_non_null(d);
    st_db_close(d);
}

/* ---- streams and their legs ---- */

/* leg_sums (schema v15, kept by triggers) equals the same sums computed
 * from the legs now: every group's difference is zero. */
/* call_seconds (schema v25: rollup.c for the writer's rows, triggers for
 * the others) against the same sums over the calls: the (second, site)
 * groups whose difference is not zero. */
static int64_t call_seconds_diff(const char *db)
{
    return q(db, "SELECT count(*) FROM (SELECT sum(n) n, sum(at) at, sum(an) an, sum(bu) bu,"
                 " sum(re) re, sum(ca) ca, sum(fa) fa, sum(ti) ti, sum(p) p, sum(pn) pn,"
                 " total(d) d, sum(dn) dn, total(ms) ms, sum(mn) mn FROM ("
                 "SELECT second m, site s, calls n, attempts at, answered an, busy bu,"
                 " rejected re, cancelled ca, failed fa, timeouts ti, pdd_sum p, pdd_n pn,"
                 " dur_sum d, dur_n dn, mos_sum ms, mos_n mn FROM call_seconds UNION ALL"
                 " SELECT start/1000000000*1000000000, ifnull(site,''), -1,"
                 " -(ifnull(outcome,'') NOT IN ('in_progress','pending')),"
                 " -(ifnull(outcome,'')='answered'), -(ifnull(outcome,'')='busy'),"
                 " -(ifnull(outcome,'')='rejected'), -(ifnull(outcome,'')='cancelled'),"
                 " -(ifnull(outcome,'')='failed'), -(ifnull(outcome,'')='timeout'),"
                 " -iif(ifnull(outcome,'') IN ('in_progress','pending'), 0, ifnull(pdd_ms,0)),"
                 " -(ifnull(outcome,'') NOT IN ('in_progress','pending') AND pdd_ms IS NOT NULL),"
                 " -iif(ifnull(outcome,'')='answered', ifnull(duration_s,0), 0),"
                 " -(ifnull(outcome,'')='answered' AND duration_s IS NOT NULL),"
                 " -iif(ifnull(outcome,'') IN ('in_progress','pending'), 0, ifnull(mos,0)),"
                 " -(ifnull(outcome,'') NOT IN ('in_progress','pending') AND mos IS NOT NULL)"
                 " FROM calls) GROUP BY m, s) WHERE n<>0 OR at<>0 OR an<>0 OR bu<>0 OR re<>0 OR"
                 " ca<>0 OR fa<>0 OR ti<>0 OR p<>0 OR pn<>0 OR abs(d)>1e-6 OR dn<>0 OR"
                 " abs(ms)>1e-6 OR mn<>0");
}

/* call_minutes and row_counts (schema v16, kept by triggers) equal the
 * same sums and counts over the rows; so does call_seconds (v25). */
static void assert_call_minutes(const char *db)
{
    assert_int_equal(call_seconds_diff(db), 0);
    assert_int_equal(
        q(db, "SELECT count(*) FROM (SELECT sum(n) n, sum(at) at, sum(an) an, sum(bu) bu,"
              " sum(re) re, sum(ca) ca, sum(fa) fa, sum(ti) ti, sum(p) p, sum(pn) pn,"
              " total(d) d, sum(dn) dn, total(ms) ms, sum(mn) mn, sum(e) e FROM ("
              "SELECT minute m, site s, calls n, attempts at, answered an, busy bu,"
              " rejected re, cancelled ca, failed fa, timeouts ti, pdd_sum p, pdd_n pn,"
              " dur_sum d, dur_n dn, mos_sum ms, mos_n mn, ends e FROM call_minutes UNION ALL"
              " SELECT start/60000000000*60000000000, ifnull(site,''), -1,"
              " -(ifnull(outcome,'') NOT IN ('in_progress','pending')),"
              " -(ifnull(outcome,'')='answered'), -(ifnull(outcome,'')='busy'),"
              " -(ifnull(outcome,'')='rejected'), -(ifnull(outcome,'')='cancelled'),"
              " -(ifnull(outcome,'')='failed'), -(ifnull(outcome,'')='timeout'),"
              " -iif(ifnull(outcome,'') IN ('in_progress','pending'), 0, ifnull(pdd_ms,0)),"
              " -(ifnull(outcome,'') NOT IN ('in_progress','pending') AND pdd_ms IS NOT NULL),"
              " -iif(ifnull(outcome,'')='answered', ifnull(duration_s,0), 0),"
              " -(ifnull(outcome,'')='answered' AND duration_s IS NOT NULL),"
              " -iif(ifnull(outcome,'') IN ('in_progress','pending'), 0, ifnull(mos,0)),"
              " -(ifnull(outcome,'') NOT IN ('in_progress','pending') AND mos IS NOT NULL), 0"
              " FROM calls UNION ALL"
              " SELECT max(ifnull(\"end\",start),start)/60000000000*60000000000,"
              " ifnull(site,''), 0,0,0,0,0,0,0,0,0,0,0,0,0,0,-1 FROM calls)"
              " GROUP BY m, s) WHERE n<>0 OR at<>0 OR an<>0 OR bu<>0 OR re<>0 OR ca<>0 OR"
              " fa<>0 OR ti<>0 OR p<>0 OR pn<>0 OR abs(d)>1e-6 OR dn<>0 OR abs(ms)>1e-6 OR"
              " mn<>0 OR e<>0"),
        0);
    assert_int_equal(q(db, "SELECT count(*) FROM row_counts WHERE n<>CASE tbl"
                           " WHEN 'calls' THEN (SELECT count(*) FROM calls)"
                           " WHEN 'legs' THEN (SELECT count(*) FROM legs)"
                           " WHEN 'sip_messages' THEN (SELECT count(*) FROM sip_messages)"
                           " WHEN 'rtp_streams' THEN (SELECT count(*) FROM rtp_streams) END"),
                     0);
    assert_int_equal(q(db, "SELECT count(*) FROM row_counts"), 4);
}

/* kpi_hour and leg_hours (v28) hold their minutes' sums per hour: the
 * same rows as a GROUP BY of kpi_minute (peak as the maximum) and of
 * leg_minutes, no more, no fewer. */
#define HOUR_OF(c) c "/3600000000000*3600000000000"
#define KH_SUMS                                                                              \
    " sum(attempts), sum(answered), sum(busy), sum(rejected), sum(cancelled), sum(failed),"   \
    " sum(timeouts), sum(srd_sum_ms), sum(srd_n), sum(ans_sum_ms), sum(ans_n), sum(dur_sum_s),"\
    " sum(dur_n), max(peak_concurrent)"
#define KH_ROWS                                                                              \
    "SELECT trunk_id, direction, hour, attempts, answered, busy, rejected, cancelled, failed," \
    " timeouts, srd_sum_ms, srd_n, ans_sum_ms, ans_n, dur_sum_s, dur_n, peak_concurrent"       \
    " FROM kpi_hour"
#define KH_REF                                                                               \
    "SELECT trunk_id, direction, " HOUR_OF("minute") "," KH_SUMS " FROM kpi_minute"            \
    " GROUP BY 1, 2, 3"
static void assert_hours(const char *db)
{
    assert_int_equal(q(db, "SELECT count(*) FROM (" KH_ROWS " EXCEPT " KH_REF ")"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM (" KH_REF " EXCEPT " KH_ROWS ")"), 0);
    assert_int_equal(
        q(db, "SELECT count(*) FROM (SELECT sum(n) n, total(ms) ms FROM ("
              "SELECT src, dst, hour h, mos_sum ms, mos_n n FROM leg_hours UNION ALL"
              " SELECT src, dst, " HOUR_OF("minute") ", -mos_sum, -mos_n FROM leg_minutes)"
              " GROUP BY src, dst, h) WHERE n<>0 OR abs(ms)>1e-9"),
        0);
    assert_int_equal(q(db, "SELECT count(*) FROM leg_hours WHERE mos_n<=0"), 0);
}

static void assert_leg_sums(const char *db)
{
    assert_int_equal(
        q(db, "SELECT count(*) FROM (SELECT sum(n) n, sum(a) a, sum(an) an, sum(p) p,"
              " sum(pn) pn, total(ms) ms, sum(mn) mn FROM ("
              "SELECT src, dst, day, outcome, final_status, codec, legs n, acd_ns a, acd_n an,"
              " pdd_ns p, pdd_n pn, mos_sum ms, mos_n mn FROM leg_sums UNION ALL"
              " SELECT ifnull(src,''), ifnull(dst,''), ifnull(invite_ts,0)/86400000000000,"
              " ifnull(outcome,''), ifnull(final_status,-1),"
              " ifnull(substr(callee_codecs,1,instr(callee_codecs||',',',')-1),''), -1,"
              " -(CASE WHEN outcome='answered' AND end_ts>=answer_ts THEN end_ts-answer_ts"
              " ELSE 0 END),"
              " -(CASE WHEN outcome='answered' AND end_ts>=answer_ts THEN 1 ELSE 0 END),"
              " -(CASE WHEN ifnull(ring_ts,answer_ts)>=invite_ts THEN"
              " ifnull(ring_ts,answer_ts)-invite_ts ELSE 0 END),"
              " -(CASE WHEN ifnull(ring_ts,answer_ts)>=invite_ts THEN 1 ELSE 0 END),"
              " -ifnull(mos,0), -(mos IS NOT NULL)"
              " FROM legs) GROUP BY src, dst, day, outcome, final_status, codec)"
              " WHERE n<>0 OR a<>0 OR an<>0 OR p<>0 OR pn<>0 OR mn<>0 OR abs(ms)>1e-9"),
        0);
    assert_true(q(db, "SELECT count(*) FROM leg_sums") > 0);
    /* leg_minutes (v19): the MOS sum and count of the legs with a MOS per
     * source, destination and minute of the INVITE, no row without one */
    assert_int_equal(
        q(db, "SELECT count(*) FROM (SELECT sum(n) n, total(ms) ms, count(*) k FROM ("
              "SELECT src, dst, minute m, mos_sum ms, mos_n n FROM leg_minutes UNION ALL"
              " SELECT src, dst, invite_ts/60000000000*60000000000, -mos, -1 FROM legs"
              " WHERE mos IS NOT NULL AND src IS NOT NULL AND dst IS NOT NULL AND"
              " invite_ts IS NOT NULL) GROUP BY src, dst, m) WHERE n<>0 OR abs(ms)>1e-9"),
        0);
    assert_int_equal(q(db, "SELECT count(*) FROM leg_minutes WHERE mos_n<=0"), 0);
    assert_hours(db);
    /* failure_sums: distinct calls per kind and unordered address pair (a
     * leg without both addresses has no pair) */
    assert_int_equal(
        q(db, "SELECT count(*) FROM (SELECT sum(n) n FROM ("
              "SELECT a, b, outcome o, side s, status st, reason r, sender se, q850 q, hdr h,"
              " calls n FROM failure_sums UNION ALL"
              " SELECT iif(l.src<l.dst,l.src,l.dst), iif(l.src<l.dst,l.dst,l.src), c.outcome,"
              " ifnull(c.failure_side,'none'), l.final_status, l.reason,"
              " iif(l.final_status IS NULL, NULL, l.dst), l.q850, l.reason_hdr,"
              " -count(DISTINCT c.id) FROM legs l, calls c WHERE c.id=l.call_ref AND"
              " l.outcome NOT IN ('answered','in_progress','pending') AND l.src IS NOT NULL"
              " AND l.dst IS NOT NULL GROUP BY 1,2,3,4,5,6,7,8,9)"
              " GROUP BY a, b, o, s, st, r, se, q, h) WHERE n<>0"),
        0);
}

static void test_stream_after_leg(void **state)
{
    (void)state;
    char db[300], got[64];
    struct st_writer *w = fresh_writer(db, sizeof db, "st1.db");
    put_call_ref(w, 1, T0, "s1@x", "100", 5);
    put_call_ref(w, 2, T0 + NS, "s2@x", "101", 6);
    put_stream(w, 5, 3.9, 3);
    put_stream(w, 5, 3.2, 0); /* the worse one sets the leg and the call */
    put_stream(w, 6, -1, 1);  /* no MOS (no audio codec): nothing to take */
    put_stream(w, 0, 4.1, 0); /* unsignalled: no leg */
    put_call_ref(w, 3, T0 + 2 * NS, "s3@x", "102", 8);
    put_stream_flags(w, 8, 4.3, 0, MEDIA_F_ONE_WAY); /* a one-way leg: 1.0, one_way */
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams"), 5);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams s JOIN legs l ON l.id=s.leg_id "
                           "AND l.call_ref=s.call_ref WHERE l.leg_ref=5"),
                     2);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL"), 1);
    assert_int_equal(q(db, "SELECT round(mos*10) FROM legs WHERE leg_ref=5"), 32);
    assert_int_equal(q(db, "SELECT round(mos*10) FROM calls WHERE tracker_id=1"), 32);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=2 AND mos IS NULL"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE leg_ref=6 AND mos IS NULL"), 1);
    assert_leg_sums(db);
    assert_call_minutes(db);
    /* every field */
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_ref=5 AND src='10.0.0.7' "
                           "AND sport=40000 AND dst='10.0.0.8' AND dport=40002 AND "
                           "ssrc=305441741 AND payload_type=8 AND codec='PCMA' AND "
                           "clock_rate=8000 AND payload_types='0,8,101' AND packets=1500 AND "
                           "bytes=258000 AND expected=1503 AND lost=3 AND lost_pct=0.2 AND "
                           "min_delta_ms IS NULL AND mean_delta_ms=20 AND max_delta_ms=41.5 AND "
                           "jitter_min_ms=0.1 AND jitter_mean_ms=1.5 AND jitter_max_ms=7.25 AND "
                           "r_factor=80 AND flags=36 AND signalled=1 AND dtmf='12#' AND "
                           "dtmf_events=3 AND rtcp_sr=4 AND rtcp_report_blocks=2 AND "
                           "rtcp_fraction_lost=0.5 AND rtcp_jitter_ms IS NULL AND "
                           "rtcp_rtt_ms IS NULL AND first_ts IS NOT NULL AND last_ts>first_ts"),
                     2);
    qtext(db, "SELECT rtcp_cname FROM rtp_streams LIMIT 1", got, sizeof got);
    assert_string_equal(got, "x'); DROP TABLE rtp_streams;--");
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_ref=6 AND mos IS NULL "
                           "AND r_factor IS NULL AND delay_ms IS NULL"),
                     1);
    /* the 5-second series, a point without MOS kept as NULL */
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_intervals"), 4);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_intervals i JOIN rtp_streams s ON "
                           "s.id=i.stream_id WHERE s.mos > 3.5 AND i.mos IS NULL AND "
                           "i.ts=s.first_ts+5000000000 AND i.lost=1"),
                     1);
    /* why: the worst stream's reason on leg and call; a one-way leg and its
     * call score 1.0 and say one_way, with the flag for the call list */
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_ref=5 AND mos<3.5 AND "
                           "mos_reason='loss'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE leg_ref=5 AND mos_reason='loss' AND "
                           "coalesce(media_flags,0)=0"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=1 AND mos_reason='loss'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE leg_ref=8 AND mos=1.0 AND "
                           "mos_reason='one_way' AND media_flags=1"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=3 AND mos=1.0 AND "
                           "mos_reason='one_way' AND media_flags=1"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_ref=8 AND mos>4.2 AND "
                           "mos_reason IS NULL"), 1);
    /* leg_minutes (v19) through every kind of leg UPDATE: a MOS lowered,
     * taken away, a leg moved to another minute and address, one added */
    char err[256];
    assert_int_equal(q(db, "SELECT count(*) FROM leg_minutes"), 0); /* no addresses */
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d,
                                "UPDATE legs SET src='10.0.0.1', dst='10.0.0.2';"
                                "UPDATE legs SET mos=2.5 WHERE leg_ref=5;"
                                "UPDATE legs SET mos=NULL WHERE leg_ref=8;"
                                "UPDATE legs SET mos=4.0 WHERE leg_ref=6;"
                                "UPDATE legs SET invite_ts=invite_ts+120000000000,"
                                " src='10.9.9.9' WHERE leg_ref=6;"
                                "UPDATE legs SET mos=mos WHERE leg_ref=5;",
                                err, sizeof err),
                     ST_OK);
    st_db_close(d);
    assert_int_equal(q(db, "SELECT sum(mos_n) FROM leg_minutes"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM leg_minutes WHERE src='10.9.9.9'"), 1);
    assert_leg_sums(db);
    /* the v19 step builds the rollup from the rows already stored */
    char down[2048];
    int lm_step = 1; /* the step that adds leg_minutes, whatever its number */
    while (lm_step < ST_SCHEMA_VERSION && !strstr(st_schema_step(lm_step), "TABLE leg_minutes"))
        lm_step++;
    assert_true(lm_step < ST_SCHEMA_VERSION + 1 && lm_step > 18);
    snprintf(down, sizeof down, "%s%s%sPRAGMA user_version=%d", V24_DOWN V23_DOWN VROLL_DOWN, V21_DOWN, V19_DOWN,
             lm_step - 1);
    d = st_db_open_raw(db, err, sizeof err);
    assert_int_equal(st_db_exec(d, down, err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT sum(mos_n) FROM leg_minutes"), 2);
    assert_leg_sums(db);
}

/* A leg and its call take the worst MOS of the leg's streams, with its
 * reason and the one-way bit, alike whether the streams come in the same
 * transaction as the call (taken at insert), in another (one update per
 * leg and call) or one per transaction (an update per stream). */
static void test_mos_batches(void **state)
{
    (void)state;
    const uint32_t batch[] = { 1, 2, 3, 0 };
    char first[1024] = "";
    for (size_t k = 0; k < sizeof batch / sizeof batch[0]; k++) {
        char db[300], name[32], err[256], got[1024];
        snprintf(name, sizeof name, "mosb%zu.db", k);
        tmp_path(db, sizeof db, name);
        struct st_options o = { .batch_records = batch[k], .flush_ms = 600000 };
        struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
        assert_non_null(w);
        put_call_ref(w, 1, T0, "m1@x", "100", 5);
        put_call_ref(w, 2, T0 + NS, "m2@x", "101", 6);
        put_stream(w, 5, 3.9, 0);
        put_stream_flags(w, 6, 4.3, 0, MEDIA_F_ONE_WAY); /* 1.0, one_way */
        put_stream(w, 5, 3.2, 0);                        /* worse: loss */
        put_stream(w, 5, 3.2, 0);                        /* a tie keeps the first */
        put_stream(w, 6, 4.2, 0);                        /* better: the leg keeps 1.0 */
        put_stream(w, 6, -1, 0);                         /* no MOS: nothing */
        put_call_ref(w, 3, T0 + 2 * NS, "m3@x", "102", 8);
        put_stream(w, 8, 4.4, 0);
        st_writer_close(w);
        qtext(db, "SELECT group_concat(v, ';') FROM (SELECT leg_ref||':'||round(mos,3)||':'||"
                  "ifnull(mos_reason,'-')||':'||ifnull(media_flags,'-') v FROM legs UNION ALL "
                  "SELECT tracker_id||'c:'||round(mos,3)||':'||ifnull(mos_reason,'-')||':'||"
                  "ifnull(media_flags,'-') FROM calls ORDER BY 1)", got, sizeof got);
        if (!k)
            snprintf(first, sizeof first, "%s", got);
        assert_string_equal(got, first);
        assert_leg_sums(db);
        assert_call_minutes(db);
    }
    assert_string_equal(first, "1c:3.2:loss:0;2c:1.0:one_way:1;3c:4.4:-:0;5:3.2:loss:0;"
                               "6:1.0:one_way:1;8:4.4:-:0");
}

/* st_writer_hold: the calls and streams of the end of an input wait and go
 * to the writer together, in one transaction however small the batches,
 * with the same rows as without (a call's legs take the MOS of its streams
 * at insert); a record that must not wait (a snapshot of the trunks) takes
 * what is held to the queue first, in order. */
static void test_writer_hold(void **state)
{
    (void)state;
    char db[300], err[256], got[1024];
    tmp_path(db, sizeof db, "hold.db");
    /* a queue of one record: without the hold, each is a transaction */
    struct st_options o = { .batch_records = 1, .flush_ms = 600000, .queue_limit = 1,
                            .wait_when_full = true };
    struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
    assert_non_null(w);
    struct calls_config cfg;
    calls_config_default(&cfg);
    struct calls *c = calls_new(&cfg, NULL);
    assert_non_null(c);
    st_writer_hold(w, true);
    put_call_ref(w, 1, T0, "m1@x", "100", 5);
    put_call_ref(w, 2, T0 + NS, "m2@x", "101", 6);
    put_stream(w, 5, 3.9, 0);
    put_stream_flags(w, 6, 4.3, 0, MEDIA_F_ONE_WAY);
    put_stream(w, 5, 3.2, 0);
    put_stream(w, 5, 3.2, 0);
    put_stream(w, 6, 4.2, 0);
    put_stream(w, 6, -1, 0);
    put_call_ref(w, 3, T0 + 2 * NS, "m3@x", "102", 8);
    put_stream(w, 8, 4.4, 0);
    st_writer_hold(w, false);
    st_writer_trunks(w, c); /* waits for all of it */
    struct st_stats st;
    st_writer_stats(w, &st);
    assert_int_equal(st.queued, 10);
    assert_int_equal(st.written, 10);
    assert_in_range(st.batches, 1, 2); /* the ten records, and the snapshot with them or not */
    st_writer_hold(w, true);
    put_call_ref(w, 4, T0 + 3 * NS, "m4@x", "103", 9);
    st_writer_trunks(w, c); /* does not wait behind the call: takes it along */
    st_writer_stats(w, &st);
    assert_int_equal(st.written, 11);
    put_stream(w, 9, 2.5, 0); /* held again, written at close */
    calls_free(c);
    st_writer_close_stats(w, &st);
    assert_int_equal(st.written, 12);
    assert_int_equal(st.errors, 0);
    qtext(db, "SELECT group_concat(v, ';') FROM (SELECT leg_ref||':'||round(mos,3)||':'||"
              "ifnull(mos_reason,'-')||':'||ifnull(media_flags,'-') v FROM legs UNION ALL "
              "SELECT tracker_id||'c:'||round(mos,3)||':'||ifnull(mos_reason,'-')||':'||"
              "ifnull(media_flags,'-') FROM calls ORDER BY 1)", got, sizeof got);
    assert_string_equal(got, "1c:3.2:loss:0;2c:1.0:one_way:1;3c:4.4:-:0;4c:2.5:loss:0;5:3.2:loss:0;"
                             "6:1.0:one_way:1;8:4.4:-:0;9:2.5:loss:0");
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL"), 0);
    assert_leg_sums(db);
    assert_call_minutes(db);
}

/* Call i of a varied mix: 1-3 legs, every outcome, final status, reason,
 * Reason header and Q.850 cause the failure kinds group by, IPv4 and IPv6
 * and missing addresses, three sites, codecs with and without a comma,
 * starts across minutes and days; leg_refs 10 * i + k. */
static void put_varied(struct st_writer *w, uint64_t i)
{
    static const uint8_t outcome[] = { CALLS_ANSWERED, CALLS_BUSY,   CALLS_FAILED,
                                       CALLS_ANSWERED, CALLS_CANCELLED, CALLS_REJECTED,
                                       CALLS_TIMEOUT,  CALLS_IN_PROGRESS, CALLS_PENDING };
    static const uint16_t status[] = { 200, 486, 503, 200, 487, 403, 0, 0, 0 };
    static const char *const codecs[] = { "PCMA,PCMU,telephone-event", "G722", "", "PCMU" };
    static const char *const site[] = { "", "hq", "branch-1" };
    uint64_t start = T0 + i * 7 * NS + (i % 5) * 86400 * NS; /* minutes and days */
    size_t o = i % (sizeof outcome / sizeof outcome[0]);
    struct calls_leg legs[3];
    struct calls_call c;
    memset(&c, 0, sizeof c);
    memset(legs, 0, sizeof legs);
    c.id = i + 1;
    c.start_ns = start;
    c.outcome = outcome[o];
    c.failure_side = (uint8_t)(outcome[o] == CALLS_ANSWERED ? CALLS_SIDE_NONE : 1 + i % 3);
    c.pdd_ms = i % 4 ? (int64_t)(300 + i % 700) : -1;
    c.duration_s = outcome[o] == CALLS_ANSWERED ? 10.0 + (double)(i % 13) / 3.0 : -1;
    c.nlegs = (uint8_t)(1 + i % 3);
    c.legs = legs;
    snprintf(c.site, sizeof c.site, "%s", site[i % 3]);
    for (unsigned k = 0; k < c.nlegs; k++) {
        struct calls_leg *l = &legs[k];
        snprintf(l->call_id, sizeof l->call_id, "v%llu-%u@x", (unsigned long long)i, k);
        l->leg_ref = 10 * i + k + 1;
        l->invite_ns = start + k * NS / 100;
        l->ring_ns = i % 6 ? l->invite_ns + NS : 0;
        l->answer_ns = outcome[o] == CALLS_ANSWERED ? l->invite_ns + 2 * NS : 0;
        l->end_ns = l->answer_ns ? l->answer_ns + 20 * NS : (i % 2 ? l->invite_ns + 3 * NS : 0);
        l->final_status = status[o];
        l->outcome = (uint8_t)(k == 2 ? CALLS_ANSWERED : outcome[o]);
        if (status[o] >= 300) {
            snprintf(l->reason, sizeof l->reason, "%s", i % 2 ? "Busy Here" : "");
            if (i % 3 == 0)
                snprintf(l->reason_hdr, sizeof l->reason_hdr, "Q.850;cause=%u", 17 + k);
            l->q850_cause = i % 3 == 0 ? 17 + k : 0;
        }
        l->ev_linked_to = k ? (int8_t)(k - 1) : -1;
        if (i % 7 != 6) { /* a leg without addresses now and then */
            l->src.family = l->dst.family = (uint8_t)(i % 4 == 3 ? 6 : 4);
            l->src.a[0] = 10, l->src.a[15] = (uint8_t)(1 + k), l->src.a[3] = (uint8_t)(1 + k);
            l->dst.a[0] = 10, l->dst.a[15] = (uint8_t)(2 + k + i % 2);
            l->dst.a[3] = (uint8_t)(2 + k + i % 2);
        }
        snprintf(l->callee_sdp.codecs, sizeof l->callee_sdp.codecs, "%s", codecs[(i + k) % 4]);
        snprintf(l->site, sizeof l->site, "%s", site[i % 3]);
    }
    st_writer_call(w, &c);
}

/* A leg inserted when the batch's sums are full, which writes them out
 * (new failure_sums rows among them) before the leg's id is used for its
 * links and its streams: the id is the leg's own, not the last row the
 * sums inserted. One transaction of more legs than the sums hold. */
static void test_leg_ids_flush(void **state)
{
    (void)state;
    char db[300], err[256], cid[64];
    tmp_path(db, sizeof db, "legids.db");
    struct st_options o = { .wait_when_full = true };
    struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
    assert_non_null(w);
    st_writer_hold(w, true);
    int64_t legs = 0;
    for (uint64_t i = 0; i < 1500; i++) { /* 1-3 legs each: the legs' sums fill first */
        uint64_t start = T0 + i * 7 * NS + (i % 5) * 86400 * NS; /* as put_varied */
        for (unsigned k = 0; k < 1 + i % 3; k++, legs++) {
            snprintf(cid, sizeof cid, "v%llu-%u@x", (unsigned long long)i, k);
            put_sip(w, start + k * NS / 100, cid, "INVITE");
        }
        put_varied(w, i); /* failure kinds among them: new failure_sums rows */
        put_stream(w, 10 * i + 1, 4.0, 0);
    }
    st_writer_hold(w, false);
    struct st_stats st;
    st_writer_close_stats(w, &st);
    assert_int_equal(st.errors, 0);
    assert_true(legs > 2048); /* ROLL_SLOTS: the sums of 2,048 legs */
    assert_int_equal(q(db, "SELECT count(*) FROM legs"), legs);
    assert_true(q(db, "SELECT count(*) FROM failure_sums") > 0);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_links k JOIN legs l ON l.id=k.leg_id "
                           "JOIN sip_messages m ON m.id=k.msg_id WHERE m.call_id=l.call_id"),
                     legs);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams s JOIN legs l ON l.id=s.leg_id "
                           "WHERE l.leg_ref=s.leg_ref AND l.call_ref=s.call_ref"),
                     1500);
}

/* The rollups of what the writer inserts (rollup.c: summed per batch, the
 * insert triggers skipped) equal the same sums over the rows, with a
 * transaction per record, small ones, and one of 3,000 calls (more legs
 * than a window holds: written out on the way); MOS taken at insert and by
 * later updates alike. After the writer, another connection's inserts and
 * updates are kept by the triggers, which the owner row left alone. */
static void test_rollups_writer(void **state)
{
    (void)state;
    const uint32_t batch[] = { 1, 7, 100000 };
    for (size_t b = 0; b < sizeof batch / sizeof batch[0]; b++) {
        char db[300], name[32], err[256];
        snprintf(name, sizeof name, "roll%zu.db", b);
        tmp_path(db, sizeof db, name);
        struct st_options o = { .batch_records = batch[b], .flush_ms = 600000,
                                .wait_when_full = true };
        struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
        assert_non_null(w);
        uint64_t n = b == 2 ? 3000 : 120;
        for (uint64_t i = 0; i < n; i++) {
            put_varied(w, i);
            if (i % 3 == 0) /* in the call's batch: taken at insert */
                put_stream(w, 10 * i + 1, 2.0 + (double)(i % 20) / 10.0, 0);
            if (i >= 5 && i % 2 == 0) /* an earlier call's leg: an update */
                put_stream(w, 10 * (i - 5) + 1 + (i / 2) % 2, 1.5 + (double)(i % 23) / 10.0, 0);
            if (i % 11 == 0)
                put_stream_flags(w, 10 * i + 2, 4.3, 0, MEDIA_F_ONE_WAY);
            if (i % 4 == 0)
                put_sip(w, T0 + i * NS, "r@x", "x");
        }
        st_writer_close(w);
        assert_int_equal(q(db, "SELECT count(*) FROM calls"), (int64_t)n);
        /* each stream on the leg of its leg_ref and that leg's call, also
         * a leg written just when the sums were written out on the way
         * (their INSERT took the connection's last rowid) */
        assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams s JOIN legs l ON "
                               "l.id=s.leg_id WHERE l.leg_ref IS NOT s.leg_ref OR "
                               "l.call_ref IS NOT s.call_ref"),
                         0);
        assert_true(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NOT NULL") >
                    (int64_t)n / 2);
        assert_leg_sums(db);
        assert_call_minutes(db);
        assert_int_equal(q(db, "SELECT count(*) FROM rollup_owner"), 0);
        assert_true(q(db, "SELECT count(*) FROM failure_sums WHERE calls>0") > 10);
        assert_true(q(db, "SELECT count(*) FROM leg_minutes") > 3);
        assert_true(q(db, "SELECT count(*) FROM legs WHERE mos IS NOT NULL") > (int64_t)n / 3);
        assert_true(q(db, "SELECT count(DISTINCT site) FROM call_minutes") == 3);
        /* the comparison sees one call's MOS missing from its second (the
         * delta of a MOS update), and the writer's MOS updates reached
         * call_seconds: its MOS sums are not what the inserts alone gave */
        assert_true(q(db, "SELECT count(*) FROM call_seconds WHERE mos_n > 0") > 3);
        int64_t sec = q(db, "SELECT max(second) FROM call_seconds WHERE mos_n > 0");
        char tamper[300];
        for (int k = -1; k <= 1; k += 2) {
            snprintf(tamper, sizeof tamper,
                     "UPDATE call_seconds SET mos_sum=mos_sum%+d*0.5, mos_n=mos_n%+d WHERE"
                     " second=%lld AND site=(SELECT min(site) FROM call_seconds WHERE"
                     " second=%lld)", k, k, (long long)sec, (long long)sec);
            struct st_db *t = st_db_open_raw(db, err, sizeof err);
            assert_non_null(t);
            assert_int_equal(st_db_exec(t, tamper, err, sizeof err), ST_OK);
            st_db_close(t);
            assert_int_equal(call_seconds_diff(db), k < 0 ? 1 : 0);
        }
        /* the triggers keep another writer's rows */
        struct st_db *d = st_db_open_raw(db, err, sizeof err);
        assert_non_null(d);
        assert_int_equal(st_db_exec(d,
                                    "INSERT INTO calls(id,start,outcome,failure_side,mos)"
                                    " VALUES(900000," T0_TEXT ",'busy','itsp',NULL);"
                                    "INSERT INTO legs(call_ref,call_id,src,dst,invite_ts,outcome,"
                                    "final_status,reason,mos) VALUES(900000,'raw@x','10.0.0.1',"
                                    "'10.0.0.2'," T0_TEXT ",'busy',486,'Busy',3.1);"
                                    "UPDATE legs SET mos=2.2 WHERE call_id='raw@x';"
                                    "UPDATE calls SET mos=2.2 WHERE id=900000;"
                                    "UPDATE legs SET mos=NULL WHERE id=(SELECT min(id) FROM legs"
                                    " WHERE mos IS NOT NULL);",
                                    err, sizeof err),
                         ST_OK);
        st_db_close(d);
        assert_leg_sums(db);
        assert_call_minutes(db);
    }
}

/* A call emitted before now also holds the legs of a call emitted apart
 * (calls_call.replaces, a relay learned later): the absorbed call's row
 * goes, its leg and streams move to the kept call, the legs are numbered
 * and linked as the merged call says, the call's fields and MOS are
 * written again; a merge naming a leg never stored changes nothing. */
static void test_call_merged(void **state)
{
    (void)state;
    char db[300], got[64];
    struct st_writer *w = fresh_writer(db, sizeof db, "merge.db");
    put_call_ref(w, 1, T0, "m1@x", "100", 11);
    put_call_ref(w, 2, T0 + NS / 50, "m2@x", "100", 12);
    put_call_ref(w, 3, T0 + 5 * NS, "m3@x", "200", 13);
    put_stream(w, 11, 4.1, 0);
    put_stream(w, 12, 3.0, 0);
    struct calls_leg legs[2];
    memset(legs, 0, sizeof legs);
    legs[0].leg_ref = 11;
    legs[0].invite_ns = T0;
    legs[0].answer_ns = T0 + 2 * NS;
    legs[0].end_ns = T0 + 30 * NS;
    legs[0].ev_linked_to = -1;
    legs[1].leg_ref = 12;
    legs[1].invite_ns = T0 + NS / 50;
    legs[1].answer_ns = T0 + 2 * NS;
    legs[1].end_ns = T0 + 40 * NS;
    legs[1].ev_linked_to = 0;
    legs[1].ev_type = CALLS_EV_TIMING;
    legs[1].ev_conf = 0.65f;
    struct calls_call m;
    memset(&m, 0, sizeof m);
    m.id = 1;
    m.replaces = 2;
    m.start_ns = T0;
    snprintf(m.caller, sizeof m.caller, "100");
    snprintf(m.callee, sizeof m.callee, "4930123456");
    m.outcome = CALLS_ANSWERED;
    m.direction = CALLS_DIR_OUTBOUND;
    m.pdd_ms = -1;
    m.duration_s = 28.0;
    m.nlegs = 2;
    m.legs = legs;
    st_writer_call(w, &m);
    /* a leg the store never saw: both calls stay */
    legs[0].leg_ref = 13;
    legs[1].leg_ref = 99;
    m.id = 3;
    m.replaces = 4;
    st_writer_call(w, &m);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM calls"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=2"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM legs"), 3);
    assert_int_equal(q(db, "SELECT count(*) FROM calls c JOIN legs l ON l.call_ref=c.id "
                           "WHERE c.tracker_id=1"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM legs l JOIN calls c ON c.id=l.call_ref WHERE "
                           "c.tracker_id=1 AND l.leg_ref=12 AND l.idx=1 AND l.linked_to=0 AND "
                           "l.ev_type='timing' AND abs(l.ev_conf-0.65)<0.001"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE leg_ref=11 AND idx=0 AND "
                           "linked_to IS NULL"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams s JOIN calls c ON c.id=s.call_ref "
                           "WHERE c.tracker_id=1"), 2);
    assert_int_equal(q(db, "SELECT legs FROM calls WHERE tracker_id=1"), 2);
    assert_int_equal(q(db, "SELECT round(mos*10) FROM calls WHERE tracker_id=1"), 30);
    assert_int_equal(q(db, "SELECT end FROM calls WHERE tracker_id=1") , (int64_t)(T0 + 40 * NS));
    qtext(db, "SELECT direction FROM calls WHERE tracker_id=1", got, sizeof got);
    assert_string_equal(got, "outbound");
    assert_int_equal(q(db, "SELECT count(*) FROM calls c JOIN legs l ON l.call_ref=c.id "
                           "WHERE c.tracker_id=3 AND l.leg_ref=13 AND l.idx=0"), 1);
    assert_leg_sums(db);
    assert_call_minutes(db);
}

static void test_stream_before_leg(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "st2.db");
    put_stream(w, 7, 2.9, 2);
    put_stream(w, 7, 3.6, 0);
    put_stream(w, 8, 4.0, 0);
    st_writer_close(w); /* committed unlinked: the leg comes in a later batch */
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL"), 3);
    /* same session semantics across batches: reopen is a new session, so a
     * stream of an older session is never taken by a new leg of the same ref */
    w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    put_call_ref(w, 1, T0, "b1@x", "100", 8);
    put_stream(w, 9, 3.1, 0);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL"), 4);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE mos IS NOT NULL"), 0);

    /* within one session, in order stream, stream, leg: both adopted */
    tmp_path(db, sizeof db, "st3.db");
    struct st_options o = { .batch_records = 2, .flush_ms = 600000 };
    w = st_writer_open(db, &o, err, sizeof err);
    put_stream(w, 7, 2.9, 2);
    put_stream(w, 7, 3.6, 0);
    assert_true(wait_written(w, 2, 3000)); /* their own transaction */
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL"), 2);
    put_call_ref(w, 1, T0, "b2@x", "100", 7);
    put_call_ref(w, 2, T0, "b3@x", "100", 70);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams s JOIN legs l ON l.id=s.leg_id "
                           "AND l.call_ref=s.call_ref WHERE l.leg_ref=7"),
                     2);
    assert_int_equal(q(db, "SELECT round(mos*10) FROM legs WHERE leg_ref=7"), 29);
    assert_int_equal(q(db, "SELECT round(mos*10) FROM calls WHERE tracker_id=1"), 29);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=2 AND mos IS NULL"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_intervals"), 2);

    /* a stream after its leg, the leg's MOS lower than the new stream's */
    tmp_path(db, sizeof db, "st4.db");
    w = st_writer_open(db, &o, err, sizeof err);
    put_stream(w, 3, 2.5, 0);
    put_call_ref(w, 1, T0, "b4@x", "100", 3);
    put_stream(w, 3, 4.2, 0);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT round(mos*10) FROM calls"), 25);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams WHERE leg_id IS NOT NULL"), 2);
}

/* ---- messages and their legs ---- */

static void put_sip_m(struct st_writer *w, uint64_t ts, const char *call_id, const char *cm)
{
    struct pkt_meta m = { .ts_ns = ts, .l4 = TS_L4_UDP, .sport = 5060, .dport = 5060 };
    m.src.family = m.dst.family = 4;
    struct st_sip_brief b = { .call_id = bv_cstr(call_id), .cseq = 1, .cseq_method = bv_cstr(cm) };
    st_writer_sip(w, &m, BV_LIT("SIP/2.0 200 OK\r\n\r\n"), &b);
}

static void test_message_links(void **state)
{
    (void)state;
    char db[300];
    struct st_writer *w = fresh_writer(db, sizeof db, "links.db");
    /* a dialog that an INVITE started; 23, 24 and 25 more messages after it
     * (25 needs the row id range beyond the inline ids) */
    const char *ids[3] = { "l23@x", "l24@x", "l25@x" };
    for (int k = 0; k < 3; k++) {
        put_sip_m(w, T0, ids[k], "INVITE");
        for (int i = 0; i < 23 + k; i++)
            put_sip_m(w, T0 + (uint64_t)i * NS, ids[k], i % 2 ? "BYE" : "INFO");
    }
    /* OPTIONS never start a dialog; a BYE alone neither */
    put_sip_m(w, T0, "opt@x", "OPTIONS");
    put_sip_m(w, T0, "bye@x", "BYE");
    /* out of the leg's time range: not linked */
    put_sip_m(w, T0 + 3600 * NS, "l23@x", "BYE");
    /* one Call-ID, two calls two hours apart: each message to its own */
    put_sip_m(w, T0, "re@x", "INVITE");
    put_sip_m(w, T0 + 10 * NS, "re@x", "BYE");
    put_sip_m(w, T0 + 7200 * NS, "re@x", "INVITE");
    put_sip_m(w, T0 + 7210 * NS, "re@x", "BYE");
    for (int k = 0; k < 3; k++)
        put_call(w, (uint64_t)k + 1, T0, ids[k], "100");
    put_call(w, 4, T0, "opt@x", "100");
    put_call(w, 5, T0, "bye@x", "100");
    put_call(w, 6, T0 + 7200 * NS, "re@x", "100");
    put_call(w, 7, T0, "re@x", "100");
    assert_true(wait_written(w, 3 + 23 + 24 + 25 + 3 + 4 + 7, 5000));
    struct st_stats s;
    st_writer_stats(w, &s);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages m JOIN sip_links k ON k.msg_id=m.id "
                           "JOIN legs l ON l.id=k.leg_id WHERE l.call_id=m.call_id"),
                     24 + 25 + 26 + 4);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_links k JOIN sip_messages m ON m.id=k.msg_id "
                           "JOIN legs l ON l.id=k.leg_id WHERE m.call_id='re@x' AND "
                           "m.ts BETWEEN l.invite_ts AND l.end_ts"), 4);
    /* every message once: the two re@x calls' ranges do not overlap */
    assert_int_equal(q(db, "SELECT count(*) FROM sip_links"), 24 + 25 + 26 + 4);
    assert_int_equal(q(db, "SELECT count(DISTINCT msg_id) FROM sip_links"), 24 + 25 + 26 + 4);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages WHERE id NOT IN "
                           "(SELECT msg_id FROM sip_links)"), 3);
    assert_int_equal(s.link_evicted, 0);
}

static int count_row(void *ctx, const struct stq_cell *cells, size_t n)
{
    (void)cells;
    (void)n;
    ++*(uint32_t *)ctx;
    return 0;
}

/* v5 kept a message's leg in sip_messages.leg_id; v6 moves every link to
 * sip_links, and the call's message list reads them there. */
static void test_links_upgrade(void **state)
{
    (void)state;
    char db[300], err[256] = "";
    struct st_writer *w = fresh_writer(db, sizeof db, "links5.db");
    put_sip_m(w, T0, "a@x", "INVITE");
    put_sip_m(w, T0 + NS, "a@x", "BYE");
    put_sip_m(w, T0, "b@x", "INVITE");
    put_call(w, 1, T0, "a@x", "100");
    put_call(w, 2, T0, "b@x", "100");
    assert_true(wait_written(w, 5, 5000));
    st_writer_close(w);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM sip_links"), 3);
    /* back to v5: the links in the column, no sip_links */
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, V24_DOWN V23_DOWN VROLL_DOWN V19_DOWN V18_DOWN V16_DOWN V15_DOWN
                                   "UPDATE sip_messages SET leg_id=(SELECT leg_id FROM sip_links "
                                   "WHERE msg_id=sip_messages.id);"
                                   "DROP TABLE sip_links;"
                                   "DROP TABLE live_legs; DROP TABLE live_state;" /* v7 */
                                   "DROP INDEX legs_final_status;"
                                   "ALTER TABLE legs DROP COLUMN user_agent;"
                                   "ALTER TABLE legs DROP COLUMN server;"
                                   "CREATE INDEX sip_messages_leg ON sip_messages(leg_id) "
                                   "WHERE leg_id IS NOT NULL;"
                                   "ALTER TABLE rtp_streams DROP COLUMN mos_reason;" /* and v8 */
                                   "ALTER TABLE legs DROP COLUMN mos_reason;"
                                   "ALTER TABLE legs DROP COLUMN media_flags;"
                                   "ALTER TABLE legs DROP COLUMN endpoint_quality;"
                                   "ALTER TABLE calls DROP COLUMN mos_reason;"
                                   "ALTER TABLE calls DROP COLUMN media_flags;"
                                   "DROP TABLE alerts; DROP TABLE trunk_health;" /* v10 */
                                   "DROP INDEX legs_src_dst_invite;"
                                   "DROP TABLE spool_blocks; DROP TABLE spool_files;" /* v11 */
                                   "ALTER TABLE trunks DROP COLUMN peak_kbps;" /* v12 */
                                   "DROP TABLE trunk_checklist;" /* v13 */
                                   "DROP TABLE tls_peers; DROP TABLE tls_conns;" /* v14 */
                                   "DROP TABLE other_flows;"
                                   "PRAGMA user_version=5", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM sip_messages WHERE leg_id IS NOT NULL"), 3);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM sip_links k JOIN sip_messages m ON "
                                    "m.id=k.msg_id JOIN legs l ON l.id=k.leg_id "
                                    "WHERE l.call_id=m.call_id"), 3);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM sqlite_master WHERE "
                                    "name='sip_messages_leg'"), 0);
    /* the call's messages, as the API lists them */
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    int64_t cid = raw_scalar(db, "SELECT call_ref FROM legs WHERE call_id='a@x'");
    uint32_t n = 0;
    bool more = false;
    assert_int_equal(stq_call_messages(qy, cid, 100, count_row, &n, &more), ST_OK);
    assert_int_equal(n, 2);
    stq_close(qy);
}

/* ---- call-list filters on leg columns ---- */

struct id_sum {
    int64_t n, sum;
};

static int sum_ids(void *ctx, const struct stq_cell *c, size_t n)
{
    struct id_sum *s = ctx;
    if (n && c[0].type == STQ_INT) {
        s->n++;
        s->sum += c[0].i;
    }
    return 0;
}

/* The calls of a filter, counted and summed, with the matching legs' calls
 * collected first, every call tested, and the way the query picks. */
static void leg_filter_case(const char *db, struct stq *qy, struct stq_call_filter *f,
                            const char *ref_where)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT call_ref) FROM legs l WHERE %s", ref_where);
    int64_t want_n = raw_scalar(db, sql);
    snprintf(sql, sizeof sql, "SELECT total(DISTINCT call_ref) FROM legs l WHERE %s", ref_where);
    int64_t want_sum = raw_scalar(db, sql);
    assert_true(want_n > 0);
    const enum stq_leg_way way[] = { STQ_LEG_SET, STQ_LEG_WALK, STQ_LEG_AUTO };
    for (size_t i = 0; i < sizeof way / sizeof way[0]; i++) {
        stq_set_leg_way(qy, way[i]);
        struct id_sum got = { 0, 0 };
        struct stq_cursor next;
        f->limit = 500;
        assert_int_equal(stq_calls(qy, f, sum_ids, &got, &next), ST_OK);
        if (got.n != want_n || got.sum != want_sum)
            print_error("%s (way %d): %lld calls, want %lld\n", ref_where, (int)way[i],
                        (long long)got.n, (long long)want_n);
        assert_int_equal(got.n, want_n);
        assert_int_equal(got.sum, want_sum);
        assert_false(next.valid);
    }
}

static void test_leg_filters(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "legfilter.db");
    static const uint16_t status[] = { 200, 486, 503, 0, 200, 404 };
    static const char *const ua[] = { "EdgeSBC/1.2", "PBX 9", "edgesbc-lite", "" };
    for (uint64_t i = 0; i < 300; i++) {
        struct calls_leg legs[2];
        memset(legs, 0, sizeof legs);
        for (unsigned k = 0; k < 2; k++) {
            struct calls_leg *l = &legs[k];
            snprintf(l->call_id, sizeof l->call_id, "lf%llu-%u@x", (unsigned long long)i, k);
            l->invite_ns = T0 + i * NS + k;
            l->final_status = status[(i * 7 + k * 3) % 6];
            l->ev_linked_to = -1;
            l->src.family = l->dst.family = 4;
            l->src.a[0] = l->dst.a[0] = 10;
            l->src.a[3] = (uint8_t)(1 + (i + k) % 5);
            l->dst.a[3] = (uint8_t)(1 + (i * 3 + k) % 7);
            l->sport = (uint16_t)(5060 + (i % 3));
            l->dport = 5060;
            snprintf(l->user_agent, sizeof l->user_agent, "%s", ua[(i + k) % 4]);
            snprintf(l->server, sizeof l->server, "%s", ua[(i * 5 + k) % 4]);
        }
        struct calls_call c;
        memset(&c, 0, sizeof c);
        c.id = i + 1;
        c.start_ns = T0 + i * NS;
        c.nlegs = 2;
        c.legs = legs;
        st_writer_call(w, &c);
    }
    st_writer_close(w);
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    struct stq_call_filter f;
    memset(&f, 0, sizeof f);
    f.desc = true;
    f.final_status[0] = 503;
    f.final_status[1] = 0;
    f.nfinal_status = 2;
    leg_filter_case(db, qy, &f, "l.final_status=503 OR l.final_status IS NULL");
    memset(&f, 0, sizeof f);
    snprintf(f.addr, sizeof f.addr, "10.0.0.3");
    leg_filter_case(db, qy, &f, "l.src='10.0.0.3' OR l.dst='10.0.0.3'");
    f.port = 5061;
    leg_filter_case(db, qy, &f, "(l.src='10.0.0.3' AND l.sport=5061) OR (l.dst='10.0.0.3' AND"
                                " l.dport=5061)");
    memset(&f, 0, sizeof f);
    f.port = 5062;
    leg_filter_case(db, qy, &f, "l.sport=5062 OR l.dport=5062");
    memset(&f, 0, sizeof f);
    f.user_agent = "EDGESBC";
    leg_filter_case(db, qy, &f, "instr(lower(l.user_agent),'edgesbc') OR"
                                " instr(lower(l.server),'edgesbc')");
    /* two leg filters at once, each its own way */
    f.final_status[0] = 486;
    f.nfinal_status = 1;
    leg_filter_case(db, qy, &f, "(instr(lower(l.user_agent),'edgesbc') OR"
                                " instr(lower(l.server),'edgesbc')) AND l.call_ref IN (SELECT"
                                " call_ref FROM legs WHERE final_status=486)");
    /* LIKE's wildcards in the word are plain characters: no User-Agent
     * holds '_' or '%' (unescaped, each would match them all) */
    static const char *const wild[] = { "_", "%", "\\" };
    for (size_t i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        f.user_agent = wild[i];
        f.limit = 500;
        struct id_sum got = { 0, 0 };
        struct stq_cursor next;
        stq_set_leg_way(qy, STQ_LEG_SET);
        assert_int_equal(stq_calls(qy, &f, sum_ids, &got, &next), ST_OK);
        assert_int_equal(got.n, 0);
    }
    /* a port alone and a User-Agent word read the newest legs only (here
     * 100 of 600): the calls of the matching legs among them, a short page
     * marked partial from the first leg read; all legs read: not partial */
    static const char *const scan_ref[] = { "l.sport=5062 OR l.dport=5062",
                                            "instr(lower(l.user_agent),'edgesbc') OR"
                                            " instr(lower(l.server),'edgesbc')" };
    for (size_t i = 0; i < 2; i++) {
        memset(&f, 0, sizeof f);
        if (i == 0)
            f.port = 5062;
        else
            f.user_agent = "EdgeSBC";
        f.limit = 500;
        f.desc = true;
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT count(DISTINCT call_ref) FROM legs l WHERE"
                 " l.id > (SELECT max(id) FROM legs) - 100 AND (%s)", scan_ref[i]);
        int64_t want_n = raw_scalar(db, sql);
        snprintf(sql, sizeof sql, "SELECT total(DISTINCT call_ref) FROM legs l WHERE"
                 " l.id > (SELECT max(id) FROM legs) - 100 AND (%s)", scan_ref[i]);
        int64_t want_sum = raw_scalar(db, sql);
        assert_true(want_n > 0 && want_n < raw_scalar(db, "SELECT count(*) FROM calls"));
        stq_set_leg_way(qy, STQ_LEG_AUTO);
        stq_set_leg_scan(qy, 100);
        struct id_sum got = { 0, 0 };
        struct stq_cursor next;
        assert_int_equal(stq_calls(qy, &f, sum_ids, &got, &next), ST_OK);
        assert_int_equal(got.n, want_n);
        assert_int_equal(got.sum, want_sum);
        assert_true(next.partial && !next.valid);
        assert_int_equal(next.searched_from_ns,
                         raw_scalar(db, "SELECT invite_ts FROM legs WHERE id > (SELECT max(id)"
                                        " FROM legs) - 100 ORDER BY id LIMIT 1"));
        /* a full page is not marked; the next one, short, is (collecting
         * the legs' calls first: with a page this short, AUTO would walk) */
        stq_set_leg_way(qy, STQ_LEG_SET);
        f.limit = (uint32_t)want_n - 1;
        assert_int_equal(stq_calls(qy, &f, NULL, NULL, &next), ST_OK);
        assert_true(next.valid && !next.partial);
        f.after = next;
        assert_int_equal(stq_calls(qy, &f, NULL, NULL, &next), ST_OK);
        assert_true(!next.valid && next.partial);
        memset(&f.after, 0, sizeof f.after);
        f.limit = 500;
        stq_set_leg_way(qy, STQ_LEG_AUTO);
        stq_set_leg_scan(qy, 0);
        assert_int_equal(stq_calls(qy, &f, NULL, NULL, &next), ST_OK);
        assert_false(next.partial);
    }
    stq_close(qy);
}

/* ---- the overview series: sweep and per-minute rollup ---- */

#define OV_MAX 256
struct ov_rows {
    size_t n;
    struct stq_cell c[OV_MAX][14];
};

static int ov_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct ov_rows *r = ctx;
    assert_int_equal(n, 14);
    assert_true(r->n < OV_MAX);
    memcpy(r->c[r->n++], c, sizeof r->c[0]);
    return 0;
}

/* The series both ways: the same counts and means; the rollup's
 * concurrency the most calls up during a minute of the bucket (SQL over
 * the rows), at least the sweep's peak. */
static void ov_case(const char *db, struct stq *qy, const char *site, int64_t from, int64_t to,
                    int64_t bucket)
{
    struct ov_rows *sw = calloc(1, sizeof *sw), *ro = calloc(1, sizeof *ro);
    assert_non_null(sw);
    assert_non_null(ro);
    stq_set_series_way(qy, STQ_SERIES_SWEEP);
    assert_int_equal(site ? stq_site_kpis(qy, site, from, to, bucket, ov_row, sw)
                          : stq_kpis(qy, 0, from, to, bucket, ov_row, sw), ST_OK);
    stq_set_series_way(qy, STQ_SERIES_ROLLUP);
    assert_int_equal(site ? stq_site_kpis(qy, site, from, to, bucket, ov_row, ro)
                          : stq_kpis(qy, 0, from, to, bucket, ov_row, ro), ST_OK);
    assert_int_equal(sw->n, ro->n);
    assert_true(sw->n > 0);
    int64_t attempts = 0;
    for (size_t i = 0; i < sw->n; i++) {
        for (size_t k = 0; k < 14; k++) {
            const struct stq_cell *a = &sw->c[i][k], *b = &ro->c[i][k];
            assert_string_equal(a->name, b->name);
            if (strcmp(a->name, "concurrent") == 0)
                continue;
            assert_int_equal(a->type, b->type);
            if (a->type == STQ_INT)
                assert_int_equal(a->i, b->i);
            else if (a->type == STQ_REAL)
                assert_true(a->d - b->d < 1e-9 * (1 + a->d) && b->d - a->d < 1e-9 * (1 + a->d));
        }
        attempts += sw->c[i][1].i;
        int64_t t = from + (int64_t)i * bucket, e = t + bucket < to ? t + bucket : to;
        char sql[700];
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE m(x) AS (SELECT %lld UNION ALL SELECT x+60000000000 FROM m"
                 " WHERE x+60000000000 < %lld) SELECT ifnull(max((SELECT count(*) FROM calls"
                 " WHERE start/60000000000*60000000000 <= x AND"
                 " max(ifnull(\"end\",start),start)/60000000000*60000000000 >= x%s%s%s)),0)"
                 " FROM m",
                 (long long)(t / 60000000000ll * 60000000000ll), (long long)e,
                 site ? " AND site='" : "", site ? site : "", site ? "'" : "");
        int64_t want = q(db, sql);
        const struct stq_cell *cs = &sw->c[i][12], *cr = &ro->c[i][12];
        assert_string_equal(cr->name, "concurrent");
        if (cr->i != want)
            print_error("bucket %zu: rollup concurrency %lld, want %lld\n", i, (long long)cr->i,
                        (long long)want);
        assert_int_equal(cr->i, want);
        assert_true(cr->i >= cs->i);
    }
    assert_true(attempts > 0);
    stq_set_series_way(qy, STQ_SERIES_AUTO);
    free(sw);
    free(ro);
}

/* The overview's own choice: the per-minute rollup when the range (and
 * the 4 h before it) holds more than 40,000 calls by its stored minutes,
 * else the sweep of the calls. Minutes without calls behind them tell the
 * two apart: the rollup counts their attempts, the sweep finds none. The
 * count stops at the bound, so the sum must go on past the first rows. */
static int64_t auto_attempts(struct stq *qy, int64_t from, int64_t to)
{
    struct ov_rows *r = calloc(1, sizeof *r);
    assert_non_null(r);
    stq_set_series_way(qy, STQ_SERIES_AUTO);
    assert_int_equal(stq_kpis(qy, 0, from, to, 3600000000000LL, ov_row, r), ST_OK);
    int64_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->c[i][1].i;
    free(r);
    return n;
}

#define AUTO_MIN(m, calls)                                                                    \
    "INSERT INTO call_minutes VALUES(" #m "*60000000000,''," #calls ",1,1,0,0,0,0,0,0,0,0,0,"  \
    "0,0,0);"
static void test_series_auto(void **state)
{
    (void)state;
    char db[300], err[256];
    fresh_db(db, sizeof db, "auto.db");
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    /* 40,000 calls in three minutes of the first hour, and one more in the
     * last minute of a later hour */
    assert_int_equal(st_db_exec(d, AUTO_MIN(1000, 15000) AUTO_MIN(1001, 0) AUTO_MIN(1002, 25000),
                                err, sizeof err),
                     ST_OK);
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    int64_t from = 960 * 60000000000LL, to = 1200 * 60000000000LL;
    assert_int_equal(auto_attempts(qy, from, to), 0); /* 40,000: the sweep */
    assert_int_equal(st_db_exec(d, AUTO_MIN(1199, 1), err, sizeof err), ST_OK);
    assert_int_equal(auto_attempts(qy, from, to), 4); /* 40,001: the rollup */
    stq_close(qy);
    st_db_close(d);
}

/* ids of rows, comma-separated, as group_concat writes them */
static int id_list_row(void *ctx, const struct stq_cell *c, size_t n)
{
    char *buf = ctx;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c[i].name, "id")) {
            size_t len = strlen(buf);
            snprintf(buf + len, 4096 - len, "%s%lld", len ? "," : "", (long long)c[i].i);
        }
    return 0;
}

/* The alert list (firing, pending, resolved, each the newest first, ties
 * by id) equals the same order by plain SQL over the rows, for every set
 * of states, a trunk or none, and limits cutting inside and across states. */
static void test_alerts_list(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "alerts.db");
    st_writer_close(w);
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d,
                                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n"
                                " WHERE i<89) INSERT INTO alerts(rule, scope, target, trunk_id,"
                                " severity, state, started, updated, evidence)"
                                " SELECT 'asr_low', 'trunk', 'x', 1 + i % 3, 'warning',"
                                " CASE i % 5 WHEN 0 THEN 'firing' WHEN 1 THEN 'pending'"
                                " ELSE 'resolved' END, 1000 + (i * 7919) % 23, 1, '{}' FROM n",
                                err, sizeof err),
                     ST_OK);
    st_db_close(d);
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    static const uint32_t lim[] = { 1, 7, 20, 500 };
    for (unsigned m = 1; m < 8; m++)
        for (int64_t t = 0; t < 3; t += 2)
            for (unsigned k = 0; k < 4; k++) {
                char got[4096] = "", want[4096] = "", sql[600];
                assert_int_equal(stq_alerts(qy, m, t, lim[k], id_list_row, got), ST_OK);
                snprintf(sql, sizeof sql,
                         "SELECT group_concat(id) FROM (SELECT id FROM alerts WHERE"
                         " ((%u & 1 AND state='pending') OR (%u & 2 AND state='firing') OR"
                         " (%u & 4 AND state='resolved')) AND (%lld=0 OR trunk_id=%lld)"
                         " ORDER BY state='firing' DESC, state='pending' DESC, started DESC,"
                         " id DESC LIMIT %u)",
                         m, m, m, (long long)t, (long long)t, lim[k]);
                d = st_db_open_raw(db, err, sizeof err);
                assert_int_equal(st_db_text(d, sql, want, sizeof want), ST_OK);
                st_db_close(d);
                assert_string_equal(got, want);
            }
    stq_close(qy);
}

/* ---- a trunk's series and minutes, summed in C: SQL's GROUP BY ---- */

#define TS_MAX 512
struct ts_rows {
    size_t n, ncol;
    struct stq_cell c[TS_MAX][14];
};

static int ts_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct ts_rows *r = ctx;
    assert_true(n <= 14 && r->n < TS_MAX);
    r->ncol = n;
    memcpy(r->c[r->n++], c, n * sizeof c[0]);
    return 0;
}

/* Each row of got is a row of the query ref (its columns named as the
 * cells, values equal, types too: integer, real or NULL), and ref has as
 * many rows. */
static void ts_same(const char *db, const struct ts_rows *got, const char *ref)
{
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s)", ref);
    assert_int_equal(raw_scalar(db, sql), (int64_t)got->n);
    for (size_t i = 0; i < got->n; i++) {
        int n = snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s) WHERE 1", ref);
        for (size_t k = 0; k < got->ncol; k++) {
            const struct stq_cell *c = &got->c[i][k];
            if (c->type == STQ_INT)
                n += snprintf(sql + n, sizeof sql - (size_t)n,
                              " AND typeof(%s)='integer' AND %s=%lld", c->name, c->name,
                              (long long)c->i);
            else if (c->type == STQ_REAL)
                n += snprintf(sql + n, sizeof sql - (size_t)n,
                              " AND typeof(%s)='real' AND abs(%s-(%.17g))<=1e-12*abs(%s)",
                              c->name, c->name, c->d, c->name);
            else
                n += snprintf(sql + n, sizeof sql - (size_t)n, " AND %s IS NULL", c->name);
            assert_true(n > 0 && (size_t)n < sizeof sql);
        }
        if (raw_scalar(db, sql) != 1)
            print_error("row %zu not in the reference: %s\n", i, sql);
        assert_int_equal(raw_scalar(db, sql), 1);
    }
}

/* The pre-C statement of a trunk's series (schema v20), as the reference. */
static void ts_ref(char *buf, size_t cap, int64_t id, const char *tl, const char *tp,
                   int64_t from, int64_t to, int64_t b)
{
    snprintf(buf, cap,
        "SELECT k.t_ms AS t_ms, k.attempts AS attempts, k.answered AS answered, k.busy AS busy,"
        " k.rejected AS rejected, k.cancelled AS cancelled, k.failed AS failed,"
        " k.timeouts AS timeouts, k.asr AS asr, k.pdd_mean_ms AS pdd_mean_ms,"
        " k.answer_delay_ms AS answer_delay_ms, k.acd_s AS acd_s, k.concurrent AS concurrent,"
        " mm.mos AS mos FROM (SELECT %1$lld + ((k.minute - %1$lld) / %3$lld) * %3$lld AS t_ns,"
        " (%1$lld + ((k.minute - %1$lld) / %3$lld) * %3$lld)/1000000 AS t_ms,"
        " sum(k.attempts) AS attempts, sum(k.answered) AS answered, sum(k.busy) AS busy,"
        " sum(k.rejected) AS rejected, sum(k.cancelled) AS cancelled,"
        " sum(k.failed) AS failed, sum(k.timeouts) AS timeouts,"
        " CASE WHEN sum(k.attempts)>0 THEN 1.0*sum(k.answered)/sum(k.attempts) END AS asr,"
        " CASE WHEN sum(k.srd_n)>0 THEN sum(k.srd_sum_ms)/sum(k.srd_n) END AS pdd_mean_ms,"
        " CASE WHEN sum(k.ans_n)>0 THEN sum(k.ans_sum_ms)/sum(k.ans_n) END AS answer_delay_ms,"
        " CASE WHEN sum(k.dur_n)>0 THEN sum(k.dur_sum_s)/sum(k.dur_n) END AS acd_s,"
        " max(k.peak_concurrent) AS concurrent"
        " FROM kpi_minute k WHERE k.trunk_id=%4$lld AND k.minute >= %1$lld AND k.minute < %2$lld"
        " GROUP BY 1) k LEFT JOIN (SELECT t, total(s)/nullif(total(n),0) AS mos FROM ("
        "SELECT %1$lld + ((m.minute - %1$lld) / %3$lld) * %3$lld AS t, m.mos_sum AS s, m.mos_n AS n"
        " FROM leg_minutes m WHERE m.src='%5$s' AND m.dst='%6$s' AND m.minute >= %1$lld"
        " AND m.minute < %2$lld UNION ALL"
        " SELECT %1$lld + ((m.minute - %1$lld) / %3$lld) * %3$lld, m.mos_sum, m.mos_n"
        " FROM leg_minutes m WHERE m.src='%6$s' AND m.dst='%5$s' AND '%5$s'<>'%6$s'"
        " AND m.minute >= %1$lld AND m.minute < %2$lld) GROUP BY t) mm ON mm.t=k.t_ns",
        (long long)from, (long long)to, (long long)b, (long long)id, tl, tp);
}

static void test_trunk_series(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "series.db");
    st_writer_close(w);
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    /* two trunks, one between equal addresses; minutes over 5 hours with
     * both directions, one, gaps, NULLs and fractional sums; the MOS of
     * legs each way, some minutes without a kpi row */
    assert_int_equal(
        st_db_exec(d,
                   "INSERT INTO trunks(id, local_addr, peer_addr) VALUES(1,'10.0.0.1','10.0.0.2'),"
                   " (2,'10.0.0.3','10.0.0.3');"
                   "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i<299)"
                   " INSERT INTO kpi_minute SELECT 1 + (i % 7 = 3), d.dir,"
                   " 1700000000000000000 + i * 60000000000, 3 + i % 5, i % 4,"
                   " CASE WHEN i % 11 THEN i % 2 END, 0, i % 3, 1, 0,"
                   " CASE WHEN i % 9 THEN 100.125 * (i % 13) + 0.1 END, i % 13,"
                   " 50.5 + i / 7.0, i % 4, (i % 4) * 33.3, i % 4, CASE WHEN i % 17 THEN i % 23 END"
                   " FROM n, (SELECT 'inbound' AS dir UNION ALL SELECT 'outbound') d"
                   " WHERE i % 10 <> 4 AND NOT (d.dir = 'outbound' AND i % 3 = 0);"
                   "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i<309)"
                   " INSERT INTO leg_minutes SELECT p.a, p.b, 1700000000000000000 + i * 60000000000,"
                   " (3.1 + (i % 10) / 7.0 + p.k * 0.4) * (1 + i % 3), 1 + i % 3 FROM n,"
                   " (SELECT '10.0.0.1' AS a, '10.0.0.2' AS b, 0 AS k UNION ALL SELECT '10.0.0.2',"
                   " '10.0.0.1', 1 UNION ALL SELECT '10.0.0.3', '10.0.0.3', 2) p"
                   " WHERE (i + p.k * 3) % 6 <> 0;"
                   /* the minutes' hours, as the v28 step makes them (kpi_hour
                    * by its triggers) */
                   "INSERT INTO leg_hours SELECT src, dst, " HOUR_OF("minute") ", total(mos_sum),"
                   " sum(mos_n) FROM leg_minutes GROUP BY 1, 2, 3;",
                   err, sizeof err),
        ST_OK);
    assert_hours(db);
    st_db_close(d);
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    struct ts_rows *got = calloc(1, sizeof *got);
    assert_non_null(got);
    char ref[6000];
    size_t rows = 0;
    static const struct {
        int64_t from_off, to_off, bucket_s;
    } cases[] = {
        { 0, 300 * 60 * (int64_t)NS, 60 },
        { 0, 300 * 60 * (int64_t)NS, 3600 },
        { 17123 * (int64_t)NS / 1000, 301 * 60 * (int64_t)NS, 3600 }, /* edges inside minutes */
        { 61 * 60 * (int64_t)NS + 5, 200 * 60 * (int64_t)NS, 600 },
        { -3600 * (int64_t)NS, 400 * 60 * (int64_t)NS, 86400 },
        { 90 * 60 * (int64_t)NS, 91 * 60 * (int64_t)NS, 60 },
        /* from an hour (T0 is 800 s past one) in hours: the hours, then the
         * minutes of the last partial one */
        { -800 * (int64_t)NS, 300 * 60 * (int64_t)NS, 3600 },
        { -800 * (int64_t)NS, (5 * 3600 - 800) * (int64_t)NS, 7200 },
        { -4400 * (int64_t)NS, 301 * 60 * (int64_t)NS + 7, 86400 },
        { 2800 * (int64_t)NS, 2800 * (int64_t)NS + 60 * (int64_t)NS, 3600 },
    };
    for (int64_t id = 1; id <= 2; id++) {
        const char *tl = id == 1 ? "10.0.0.1" : "10.0.0.3", *tp = id == 1 ? "10.0.0.2" : "10.0.0.3";
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int64_t from = (int64_t)T0 + cases[i].from_off, to = (int64_t)T0 + cases[i].to_off;
            int64_t b = cases[i].bucket_s * (int64_t)NS;
            got->n = 0;
            assert_int_equal(stq_kpis(qy, id, from, to, b, ts_row, got), ST_OK);
            assert_true(got->n == 0 || got->ncol == 14);
            rows += got->n;
            ts_ref(ref, sizeof ref, id, tl, tp, from, to, b);
            ts_same(db, got, ref);
        }
        got->n = 0;
        assert_int_equal(stq_trunk_minutes(qy, id, ts_row, got), ST_OK);
        assert_true(got->n > 10 && got->ncol == 4);
        snprintf(ref, sizeof ref,
                 "SELECT minute AS minute, sum(attempts) AS attempts, sum(answered) AS answered,"
                 " coalesce(sum(dur_sum_s),0) AS hold_s FROM kpi_minute WHERE trunk_id=%lld"
                 " GROUP BY minute", (long long)id);
        ts_same(db, got, ref);
    }
    assert_true(rows > 300);
    /* those ranges read kpi_hour: a change there shows in the first point */
    d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, "UPDATE kpi_hour SET attempts=attempts+1000", err, sizeof err),
                     ST_OK);
    st_db_close(d);
    got->n = 0;
    assert_int_equal(stq_kpis(qy, 1, (int64_t)T0 - 800 * (int64_t)NS,
                              (int64_t)T0 + 300 * 60 * (int64_t)NS, 3600 * (int64_t)NS, ts_row,
                              got),
                     ST_OK);
    assert_true(got->n == 6 && got->c[0][1].type == STQ_INT && got->c[0][1].i > 1000);
    assert_true(got->c[5][1].i < 1000); /* the last, partial hour from its minutes */
    free(got);
    stq_close(qy);
}

/* ---- leg_agents (v22): the User-Agent and Server strings of the legs ---- */

/* Every string of the legs with its first and last leg id (plain SQL over
 * the rows) equals leg_agents when exact; otherwise each leg's strings are
 * in it with a range holding the leg (legs deleted since). */
static void assert_leg_agents(const char *db, bool exact)
{
    static const char *const cover[] = {
        "SELECT count(*) FROM legs l WHERE l.user_agent IS NOT NULL AND NOT EXISTS(SELECT 1 FROM"
        " leg_agents a WHERE a.agent=l.user_agent AND l.id BETWEEN a.first_leg AND a.last_leg)",
        "SELECT count(*) FROM legs l WHERE l.server IS NOT NULL AND NOT EXISTS(SELECT 1 FROM"
        " leg_agents a WHERE a.agent=l.server AND l.id BETWEEN a.first_leg AND a.last_leg)",
    };
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(raw_scalar(db, cover[i]), 0);
    assert_true(raw_scalar(db, "SELECT upto >= (SELECT coalesce(max(id),0) FROM legs) FROM"
                               " leg_agents_state") == 1);
    if (!exact)
        return;
    char got[8192], want[8192];
    qtext(db, "SELECT group_concat(agent||'/'||first_leg||'/'||last_leg, '|') FROM (SELECT *"
              " FROM leg_agents ORDER BY agent)", got, sizeof got);
    qtext(db, "SELECT group_concat(a||'/'||lo||'/'||hi, '|') FROM (SELECT a, min(id) AS lo,"
              " max(id) AS hi FROM (SELECT user_agent AS a, id FROM legs WHERE user_agent IS NOT"
              " NULL UNION ALL SELECT server, id FROM legs WHERE server IS NOT NULL) GROUP BY a"
              " ORDER BY a)", want, sizeof want);
    assert_true(want[0] != '\0');
    assert_string_equal(got, want);
}

/* The calls of a user_agent word equal plain SQL over the legs (all of
 * them: not partial). */
static void agents_case(const char *db, struct stq *qy, const char *word, bool partial)
{
    struct stq_call_filter f;
    memset(&f, 0, sizeof f);
    f.user_agent = word;
    f.limit = 2000;
    f.desc = true;
    struct id_sum got = { 0, 0 };
    struct stq_cursor next;
    assert_int_equal(stq_calls(qy, &f, sum_ids, &got, &next), ST_OK);
    assert_int_equal(next.partial, partial);
    if (partial)
        return;
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT call_ref) FROM legs WHERE"
             " instr(lower(user_agent), lower('%s')) OR instr(lower(server), lower('%s'))",
             word, word);
    assert_int_equal(got.n, raw_scalar(db, sql));
    snprintf(sql, sizeof sql, "SELECT total(DISTINCT call_ref) FROM legs WHERE"
             " instr(lower(user_agent), lower('%s')) OR instr(lower(server), lower('%s'))",
             word, word);
    assert_int_equal(got.sum, raw_scalar(db, sql));
}

/* Calls i = from..from+n-1 of two legs each, Call-ID "<tag><i>-<k>@x";
 * fill sets each leg's own fields (k: the leg's index). */
static void two_leg_calls(struct st_writer *w, uint64_t from, uint64_t n, const char *tag,
                          void (*fill)(struct calls_leg *l, uint64_t i, unsigned k, const void *ctx),
                          const void *ctx)
{
    for (uint64_t i = from; i < from + n; i++) {
        struct calls_leg legs[2];
        memset(legs, 0, sizeof legs);
        for (unsigned k = 0; k < 2; k++) {
            struct calls_leg *l = &legs[k];
            snprintf(l->call_id, sizeof l->call_id, "%s%llu-%u@x", tag, (unsigned long long)i, k);
            l->invite_ns = T0 + i * NS + k;
            l->ev_linked_to = -1;
            fill(l, i, k, ctx);
        }
        struct calls_call c;
        memset(&c, 0, sizeof c);
        c.id = i + 1;
        c.start_ns = T0 + i * NS;
        c.nlegs = 2;
        c.legs = legs;
        st_writer_call(w, &c);
    }
}

struct agents_set {
    const char *const *ua;
    size_t nua;
};

static void agents_fill(struct calls_leg *l, uint64_t i, unsigned k, const void *ctx)
{
    const struct agents_set *a = ctx;
    snprintf(l->user_agent, sizeof l->user_agent, "%s", a->ua[(i + k) % a->nua]);
    snprintf(l->server, sizeof l->server, "%s", a->ua[(i * 3 + k + 1) % a->nua]);
}

static void agents_write(struct st_writer *w, uint64_t from, uint64_t n, const char *const *ua,
                         size_t nua)
{
    const struct agents_set a = { ua, nua };
    two_leg_calls(w, from, n, "ag", agents_fill, &a);
}

static void test_leg_agents(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "agents.db");
    static const char *const old_ua[] = { "OldPBX 1.0", "EdgeSBC/1.2", "Asterisk 18" };
    static const char *const new_ua[] = { "EdgeSBC/2.0", "FreeSWITCH", "NewPhone 3",
                                          "Asterisk 20" };
    agents_write(w, 0, 300, old_ua, 3);
    st_writer_close(w);
    assert_leg_agents(db, true);
    /* a second writer session, other strings */
    char err2[256];
    w = st_writer_open(db, NULL, err2, sizeof err2);
    assert_non_null(w);
    agents_write(w, 300, 200, new_ua, 4);
    st_writer_close(w);
    assert_leg_agents(db, true);
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    /* read the newest 100 legs at most: a word no leg has is answered whole
     * from leg_agents (it was partial); one of the newest legs only reads
     * those; one of old legs too is partial as before */
    stq_set_leg_way(qy, STQ_LEG_SET);
    stq_set_leg_scan(qy, 100);
    agents_case(db, qy, "NoSuchAgent", false);
    agents_case(db, qy, "OldPBX", true);
    stq_set_leg_scan(qy, 450);
    agents_case(db, qy, "FreeSWITCH", false);
    agents_case(db, qy, "newphone", false);
    stq_set_leg_scan(qy, 0);
    static const char *const words[] = { "edgesbc", "asterisk", "oldpbx", "nosuchagent", "1." };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        for (int way = STQ_LEG_AUTO; way <= STQ_LEG_WALK; way++) {
            stq_set_leg_way(qy, (enum stq_leg_way)way);
            agents_case(db, qy, words[i], false);
        }
    stq_set_leg_way(qy, STQ_LEG_AUTO);
    stq_close(qy);
    /* legs deleted (retention, re-analysis): their strings stay, each
     * remaining leg still in its range */
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, "DELETE FROM legs WHERE call_ref <= 320 OR call_ref > 480;"
                                   "DELETE FROM calls WHERE id <= 320 OR id > 480;",
                                   err, sizeof err),
                     ST_OK);
    st_db_close(d);
    assert_leg_agents(db, false);
    /* new legs reuse the deleted ids above the newest left: still added */
    w = st_writer_open(db, NULL, err2, sizeof err2);
    assert_non_null(w);
    static const char *const third[] = { "Reused 7" };
    agents_write(w, 1000, 5, third, 1);
    st_writer_close(w);
    assert_leg_agents(db, false);
    assert_int_equal(raw_scalar(db, "SELECT first_leg FROM leg_agents WHERE agent='Reused 7'"),
                     raw_scalar(db, "SELECT min(id) FROM legs WHERE user_agent='Reused 7'"));
    qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    agents_case(db, qy, "reused", false);
    agents_case(db, qy, "OldPBX", false);
    stq_close(qy);
    /* full: past TS_STORE_AGENTS_MAX strings, the oldest go and the filter
     * reads legs again (the word of an evicted string still finds its
     * calls) */
    d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    char sql[400];
    snprintf(sql, sizeof sql, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n"
             " WHERE i < %d) INSERT INTO leg_agents SELECT 'filler '||i, 1, 1 FROM n",
             TS_STORE_AGENTS_MAX);
    assert_int_equal(st_db_exec(d, sql, err, sizeof err), ST_OK);
    st_db_close(d);
    w = st_writer_open(db, NULL, err2, sizeof err2);
    assert_non_null(w);
    agents_write(w, 2000, 3, third, 1);
    st_writer_close(w);
    assert_int_equal(raw_scalar(db, "SELECT count(*) <= " TS_STR(TS_STORE_AGENTS_MAX)
                                    " AND count(*) > 0 FROM leg_agents"), 1);
    assert_true(raw_scalar(db, "SELECT evicted_upto FROM leg_agents_state") >= 1);
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM leg_agents WHERE agent LIKE 'filler%'"),
                     0);
    assert_leg_agents(db, false);
    qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    agents_case(db, qy, "OldPBX", false);
    agents_case(db, qy, "NoSuchAgent", false);
    stq_close(qy);
}

/* The v22 step builds leg_agents from the legs already stored. */
static void test_leg_agents_upgrade(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "agents_up.db");
    static const char *const ua[] = { "EdgeSBC/1.2", "PBX 9", "edgesbc-lite", "" };
    agents_write(w, 0, 200, ua, 4);
    st_writer_close(w);
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, V24_DOWN V23_DOWN "PRAGMA user_version=22", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_leg_agents(db, true);
    assert_int_equal(raw_scalar(db, "SELECT evicted_upto FROM leg_agents_state"), 0);
}

/* ---- leg_ports (v25): the ports of the legs and their leg id ranges ---- */

/* Every port of the legs with its first and last leg id (plain SQL over
 * the rows) equals leg_ports when exact; otherwise each leg's ports are in
 * it with a range holding the leg (legs deleted since). */
static void assert_leg_ports(const char *db, bool exact)
{
    assert_int_equal(raw_scalar(db, "SELECT count(*) FROM legs l WHERE NOT EXISTS(SELECT 1 FROM"
                                    " leg_ports p WHERE p.port=l.sport AND l.id BETWEEN"
                                    " p.first_leg AND p.last_leg) OR NOT EXISTS(SELECT 1 FROM"
                                    " leg_ports p WHERE p.port=l.dport AND l.id BETWEEN"
                                    " p.first_leg AND p.last_leg)"),
                     0);
    assert_true(raw_scalar(db, "SELECT upto >= (SELECT coalesce(max(id),0) FROM legs) FROM"
                               " leg_ports_state") == 1);
    if (!exact)
        return;
    char got[8192], want[8192];
    qtext(db, "SELECT group_concat(port||'/'||first_leg||'/'||last_leg, '|') FROM (SELECT *"
              " FROM leg_ports ORDER BY port)", got, sizeof got);
    qtext(db, "SELECT group_concat(p||'/'||lo||'/'||hi, '|') FROM (SELECT p, min(id) AS lo,"
              " max(id) AS hi FROM (SELECT sport AS p, id FROM legs UNION ALL SELECT dport, id"
              " FROM legs) GROUP BY p ORDER BY p)", want, sizeof want);
    assert_true(want[0] != '\0');
    assert_string_equal(got, want);
}

/* The calls of a port (their count, the sum of their ids, partial) equal
 * the pre-v25 answer, the same filter with leg_ports set aside (its upto
 * below the legs: it cannot say), and plain SQL over the legs the filter
 * reads: the newest scan legs collected first (STQ_LEG_SET), every leg when
 * the calls are walked (STQ_LEG_WALK). */
static void ports_case(const char *db, struct stq *qy, int64_t port, uint32_t scan, int way)
{
    struct stq_call_filter f;
    memset(&f, 0, sizeof f);
    f.port = (uint16_t)port;
    f.limit = 2000;
    f.desc = true;
    stq_set_leg_scan(qy, scan);
    stq_set_leg_way(qy, (enum stq_leg_way)way);
    struct id_sum got = { 0, 0 }, old = { 0, 0 };
    struct stq_cursor next, onext;
    assert_int_equal(stq_calls(qy, &f, sum_ids, &got, &next), ST_OK);
    char err[256];
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    int64_t upto = raw_scalar(db, "SELECT upto FROM leg_ports_state");
    assert_int_equal(st_db_exec(d, "UPDATE leg_ports_state SET upto=-1", err, sizeof err), ST_OK);
    assert_int_equal(stq_calls(qy, &f, sum_ids, &old, &onext), ST_OK);
    char sql[400];
    snprintf(sql, sizeof sql, "UPDATE leg_ports_state SET upto=%lld", (long long)upto);
    assert_int_equal(st_db_exec(d, sql, err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(got.n, old.n);
    assert_int_equal(got.sum, old.sum);
    assert_int_equal(next.partial, onext.partial);
    assert_int_equal(next.searched_from_ns, onext.searched_from_ns);
    if (way == STQ_LEG_AUTO)
        return;
    uint32_t n = scan ? scan : TS_API_LEG_SCAN_MAX;
    if (way == STQ_LEG_WALK)
        n = 2000000000u;
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT call_ref) FROM legs WHERE id > (SELECT"
             " max(id) FROM legs) - %u AND (sport=%lld OR dport=%lld)", n, (long long)port,
             (long long)port);
    assert_int_equal(got.n, raw_scalar(db, sql));
    memcpy(sql + 7, "total", 5);
    assert_int_equal(got.sum, raw_scalar(db, sql));
    snprintf(sql, sizeof sql, "SELECT %d AND min(id) <= max(id) - %u FROM legs",
             way == STQ_LEG_SET, n);
    assert_int_equal(next.partial, raw_scalar(db, sql));
}

struct ports_set {
    uint16_t base;
    unsigned mod;
};

static void ports_fill(struct calls_leg *l, uint64_t i, unsigned k, const void *ctx)
{
    const struct ports_set *p = ctx;
    l->sport = (uint16_t)(p->base + (i + k) % p->mod);
    l->dport = k ? 5060 : (uint16_t)(p->base + 100 + i % 3);
}

static void ports_write(struct st_writer *w, uint64_t from, uint64_t n, uint16_t base, unsigned mod)
{
    const struct ports_set p = { base, mod };
    two_leg_calls(w, from, n, "pt", ports_fill, &p);
}

static void test_leg_ports(void **state)
{
    (void)state;
    char db[300], err[256], err2[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "ports.db");
    ports_write(w, 0, 300, 7000, 5); /* old legs: 7000-7004, 7100-7102, 5060 */
    st_writer_close(w);
    assert_leg_ports(db, true);
    w = st_writer_open(db, NULL, err2, sizeof err2);
    assert_non_null(w);
    ports_write(w, 300, 200, 8000, 4); /* new legs: 8000-8003, 8100-8102, 5060 */
    st_writer_close(w);
    assert_leg_ports(db, true);
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    /* a port no leg has, one of old legs only (outside the legs read, then
     * inside), one of new legs, one of all legs; each way of reading */
    static const int64_t ports[] = { 5999, 7003, 8002, 8101, 5060 };
    static const uint32_t scans[] = { 100, 450, 0 };
    for (int way = STQ_LEG_AUTO; way <= STQ_LEG_WALK; way++)
        for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
            for (size_t k = 0; k < sizeof scans / sizeof scans[0]; k++)
                ports_case(db, qy, ports[i], scans[k], way);
    stq_close(qy);
    /* legs deleted: their ports stay, the answers as before */
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, "DELETE FROM legs WHERE call_ref > 480;"
                                   "DELETE FROM calls WHERE id > 480;", err, sizeof err),
                     ST_OK);
    st_db_close(d);
    assert_leg_ports(db, false);
    /* new legs reuse the deleted ids: added; another connection's leg
     * past upto: the table cannot say, the legs are read as before */
    w = st_writer_open(db, NULL, err2, sizeof err2);
    assert_non_null(w);
    ports_write(w, 1000, 5, 9000, 2);
    st_writer_close(w);
    assert_leg_ports(db, false);
    assert_int_equal(raw_scalar(db, "SELECT first_leg FROM leg_ports WHERE port=9000"),
                     raw_scalar(db, "SELECT min(id) FROM legs WHERE sport=9000"));
    d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, "INSERT INTO legs(call_ref,call_id,src,sport,dst,dport,invite_ts)"
                                   " VALUES(1,'raw@x','10.0.0.1',9500,'10.0.0.2',5060," T0_TEXT ")",
                                err, sizeof err),
                     ST_OK);
    st_db_close(d);
    qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        ports_case(db, qy, ports[i], 100, STQ_LEG_SET);
    ports_case(db, qy, 9000, 0, STQ_LEG_SET);
    ports_case(db, qy, 9500, 0, STQ_LEG_AUTO);
    ports_case(db, qy, 9500, 0, STQ_LEG_SET);
    stq_close(qy);
}

/* The v25 step builds leg_ports and call_seconds from the rows already
 * stored. */
static void test_v25_upgrade(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "v25_up.db");
    ports_write(w, 0, 200, 6000, 7);
    for (uint64_t i = 0; i < 60; i++)
        put_varied(w, i);
    st_writer_close(w);
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, "UPDATE calls SET mos=3.25 WHERE id % 4 = 1;"
                                   V25_DOWN "PRAGMA user_version=24", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_leg_ports(db, true);
    assert_true(raw_scalar(db, "SELECT count(*) FROM call_seconds") > 100);
    assert_int_equal(call_seconds_diff(db), 0);
}

static void test_overview_rollup(void **state)
{
    (void)state;
    char db[300], err[256];
    struct st_writer *w = fresh_writer(db, sizeof db, "overview.db");
    static const uint8_t oc[] = { CALLS_ANSWERED, CALLS_BUSY, CALLS_ANSWERED, CALLS_FAILED,
                                  CALLS_IN_PROGRESS, CALLS_CANCELLED, CALLS_TIMEOUT,
                                  CALLS_REJECTED, CALLS_ANSWERED };
    for (uint64_t i = 0; i < 400; i++) {
        struct calls_leg leg;
        memset(&leg, 0, sizeof leg);
        snprintf(leg.call_id, sizeof leg.call_id, "ov%llu@x", (unsigned long long)i);
        /* starts inside seconds too: the second an edge cuts has calls */
        uint64_t start = T0 + i * 7 * NS + (i % 5) * 130 * NS + (i % 4) * NS / 4;
        leg.invite_ns = start;
        leg.ev_linked_to = -1;
        leg.outcome = oc[i % 9];
        if (leg.outcome == CALLS_ANSWERED) {
            leg.answer_ns = start + 2 * NS;
            leg.end_ns = start + (20 + i % 200) * NS;
            leg.final_status = 200;
        } else if (leg.outcome != CALLS_IN_PROGRESS) {
            leg.end_ns = start + (i % 3) * NS;
            leg.final_status = 486;
        }
        struct calls_call c;
        memset(&c, 0, sizeof c);
        c.id = i + 1;
        c.start_ns = start;
        c.outcome = leg.outcome;
        c.pdd_ms = i % 4 ? (int64_t)(800 + i) : -1;
        c.duration_s = leg.outcome == CALLS_ANSWERED ? (double)(18 + i % 200) + 0.25 : 0;
        snprintf(c.site, sizeof c.site, "%s", i % 3 ? "fra" : "ber");
        c.nlegs = 1;
        c.legs = &leg;
        st_writer_call(w, &c);
    }
    st_writer_close(w);
    /* MOS arrives later, a call goes, one is moved: the update and delete
     * triggers */
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_exec(d, "UPDATE calls SET mos=3.5+(id%10)/10.0 WHERE id%3=0;"
                                   "DELETE FROM calls WHERE id IN (7, 8, 200);"
                                   "UPDATE calls SET start=start+90000000000, site='ber'"
                                   " WHERE id=11;", err, sizeof err), ST_OK);
    st_db_close(d);
    assert_call_minutes(db);
    int64_t first = q(db, "SELECT min(start) FROM calls"), last = q(db, "SELECT max(start) FROM calls");
    int64_t m0 = first / 60000000000ll * 60000000000ll, end = last + 120 * (int64_t)NS;
    struct stq *qy = stq_open(db, err, sizeof err);
    assert_non_null(qy);
    ov_case(db, qy, NULL, m0, end, 300 * (int64_t)NS);           /* whole minutes */
    ov_case(db, qy, NULL, m0 + 17 * (int64_t)NS, end, 300 * (int64_t)NS); /* edges inside */
    ov_case(db, qy, NULL, m0 + 600 * (int64_t)NS, end - 900 * (int64_t)NS,
            60 * (int64_t)NS); /* level carried in, calls up at the end */
    ov_case(db, qy, NULL, m0 + 5 * (int64_t)NS, end, 30 * (int64_t)NS);
    /* edges inside a second (call_seconds, v25, and the cut second's
     * calls): the early side, the late side, a site's */
    ov_case(db, qy, NULL, m0 + 17 * (int64_t)NS + (int64_t)NS / 2, end, 300 * (int64_t)NS);
    ov_case(db, qy, NULL, m0 + 43 * (int64_t)NS + 3 * (int64_t)NS / 4, end, 600 * (int64_t)NS);
    ov_case(db, qy, "fra", m0 + 21 * (int64_t)NS + 1, end, 120 * (int64_t)NS);
    ov_case(db, qy, "fra", m0, end, 600 * (int64_t)NS);
    ov_case(db, qy, "ber", m0 + 33 * (int64_t)NS, end, 120 * (int64_t)NS);
    stq_close(qy);
}

/* ---- queue and batching ---- */

static void queue_case(uint32_t n, uint64_t expect_dropped)
{
    char db[300], err[256];
    tmp_path(db, sizeof db, "queue.db");
    /* The writer only wakes on a full batch, the flush timer or close: with
     * both out of reach everything stays queued until close. */
    struct st_options o = { .queue_limit = 8, .batch_records = 1000, .flush_ms = 600000 };
    struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
    assert_non_null(w);
    for (uint32_t i = 0; i < n; i++)
        put_sip(w, T0 + i, "q@x", "INVITE sip:a@b SIP/2.0\r\n\r\n");
    struct st_stats s;
    st_writer_stats(w, &s);
    assert_int_equal(s.dropped_full, expect_dropped);
    assert_int_equal(s.queued, n - expect_dropped);
    assert_int_equal(s.written, 0);
    st_writer_close(w); /* drains */
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), n - expect_dropped);
}

static void test_queue_full(void **state)
{
    (void)state;
    queue_case(7, 0); /* N-1 */
    queue_case(8, 0); /* N */
    queue_case(9, 1); /* N+1 */
}

static void test_batch_flush(void **state)
{
    (void)state;
    char db[300], err[256];
    tmp_path(db, sizeof db, "batch.db");
    struct st_options o = { .batch_records = 5, .flush_ms = 600000 };
    struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
    assert_non_null(w);
    for (int i = 0; i < 5; i++)
        put_sip(w, T0 + (uint64_t)i, "b@x", "OPTIONS sip:a@b SIP/2.0\r\n\r\n");
    assert_true(wait_written(w, 5, 3000));
    /* committed: another connection sees the rows while the writer runs */
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), 5);
    for (int i = 0; i < 2; i++)
        put_sip(w, T0 + 10 + (uint64_t)i, "b@x", "OPTIONS sip:a@b SIP/2.0\r\n\r\n");
    usleep(300000);
    struct st_stats s;
    st_writer_stats(w, &s);
    assert_int_equal(s.written, 5); /* below the batch size, timer far away */
    assert_int_equal(s.batches, 1);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), 7);

    /* the timer flushes a small batch */
    tmp_path(db, sizeof db, "timer.db");
    struct st_options o2 = { .batch_records = 1000, .flush_ms = 100 };
    w = st_writer_open(db, &o2, err, sizeof err);
    put_sip(w, T0, "t@x", "BYE sip:a@b SIP/2.0\r\n\r\n");
    assert_true(wait_written(w, 1, 3000));
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), 1);
    st_writer_close(w);
}

/* /stats sums the SRTP failures of the failing streams (v28): from the
 * partial index alone, no table read per stream. */
static void test_srtp_sums_index(void **state)
{
    (void)state;
    char db[300], err[256], plan[512];
    fresh_db(db, sizeof db, "srtpsum.db");
    struct st_db *d = st_db_open(db, false, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_plan(d, "SELECT " STQ_SRTP_SUMS, plan, sizeof plan), ST_OK);
    /* both sums from the index alone */
    const char *p1 = strstr(plan, "COVERING INDEX rtp_streams_srtp_fail");
    assert_non_null(p1);
    assert_non_null(strstr(p1 + 1, "COVERING INDEX rtp_streams_srtp_fail"));
    assert_null(strstr(plan, "SCAN rtp_streams"));
    st_db_close(d);
}

/* The v29 index's columns, in order (pragma_index_info). */
#define LEG_MEDIA_COLS "leg_id,codec,src,bytes,packets,first_ts,last_ts"
#define INDEX_COLS(I)                                                                         \
    "SELECT group_concat(name) FROM (SELECT name FROM pragma_index_info('" I "') ORDER BY seqno)"

/* A trunk page's media rates (v29): each leg's streams from the covering
 * index rtp_streams_leg_media, no table read per leg; a v28 file's streams
 * go into it at the upgrade and the plain leg index goes. */
static void test_media_rates_index(void **state)
{
    (void)state;
    char db[300], err[256], plan[4096], cols[128];
    fresh_db(db, sizeof db, "mrates.db");
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(
        st_db_exec(d,
                   "INSERT INTO calls(id,start,caller,outcome) VALUES(1,5,'a','answered');"
                   "INSERT INTO legs(id, call_ref, call_id, src, dst, invite_ts)"
                   " VALUES(1, 1, 'c1', '10.0.0.1', '10.0.0.2', 5);"
                   "INSERT INTO rtp_streams(call_ref, leg_id, codec, src, bytes, packets,"
                   " first_ts, last_ts) VALUES(1, 1, 'PCMA', '10.0.0.1', 1720, 10, 0, 2000000000),"
                   " (1, NULL, 'PCMU', '10.0.0.2', 172, 1, 0, 0);"
                   V29_DOWN "PRAGMA user_version=28",
                   err, sizeof err),
        ST_OK);
    assert_int_equal(st_db_text(d, INDEX_COLS("rtp_streams_leg"), cols, sizeof cols), ST_OK);
    assert_string_equal(cols, "leg_id");
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE name='rtp_streams_leg'"), 0);
    qtext(db, INDEX_COLS("rtp_streams_leg_media"), cols, sizeof cols);
    assert_string_equal(cols, LEG_MEDIA_COLS);
    assert_int_equal(q(db, "SELECT count(*) FROM rtp_streams INDEXED BY rtp_streams_leg_media"
                           " WHERE leg_id=1 AND codec='PCMA' AND bytes=1720"),
                     1);
    d = st_db_open(db, true, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_plan(d, STQ_MEDIA_RATES, plan, sizeof plan), ST_OK);
    assert_non_null(strstr(plan, "SEARCH s USING COVERING INDEX rtp_streams_leg_media (leg_id=?)"));
    assert_null(strstr(plan, "SCAN s"));
    assert_null(strstr(plan, "SEARCH s USING INDEX"));
    st_db_close(d);
}

/* The hourly rollups (v28) through every change their minutes see from a
 * writer with triggers on: minutes inserted, replaced with a lower peak
 * (a maximum taken back), moved to another hour, cut by retention; legs
 * with a MOS inserted, their MOS changed and taken away, moved across an
 * hour, deleted. The v28 step builds the same rows from stored minutes. */
#define H0 "1699999200000000000" /* an hour's first ns */
#define MIN_NS "60000000000"
static void test_hour_rollups(void **state)
{
    (void)state;
    char db[300], err[256];
    fresh_db(db, sizeof db, "hours.db");
    struct st_db *d = st_db_open_raw(db, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(
        st_db_exec(d,
                   "INSERT INTO trunks(id, local_addr, peer_addr) VALUES(1,'10.0.0.1','10.0.0.2'),"
                   " (2,'10.0.0.3','10.0.0.4');"
                   "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i<199)"
                   " INSERT INTO kpi_minute SELECT 1 + i % 2, CASE WHEN i % 3 THEN 'all' ELSE"
                   " 'inbound' END, " H0 " + i * " MIN_NS ", i % 7, i % 3, CASE WHEN i % 5 THEN"
                   " 1 END, 0, 1, 0, i % 2, CASE WHEN i % 4 THEN 12.25 * i END, i % 4,"
                   " 7.5 * i, 1, 0.1 * i, i % 3, CASE WHEN i % 6 THEN i % 29 END FROM n;",
                   err, sizeof err),
        ST_OK);
    assert_int_equal(q(db, "SELECT count(*) FROM kpi_hour"), 16); /* 4 hours, 2 trunks, 2 ways */
    assert_hours(db);
    /* the peak of minute 28 of the first hour (28) replaced by 1: the
     * hour's maximum falls to the next highest (27) */
    assert_int_equal(q(db, "SELECT peak_concurrent FROM kpi_hour WHERE trunk_id=1 AND"
                           " direction='all' AND hour=" H0),
                     28);
    assert_int_equal(st_db_exec(d,
                                "INSERT OR REPLACE INTO kpi_minute(trunk_id, direction, minute,"
                                " attempts, peak_concurrent) VALUES(1, 'all', " H0 " + 28 * "
                                MIN_NS ", 50, 1)",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(q(db, "SELECT peak_concurrent FROM kpi_hour WHERE trunk_id=1 AND"
                           " direction='all' AND hour=" H0),
                     27);
    assert_hours(db);
    assert_int_equal(st_db_exec(d,
                                "UPDATE kpi_minute SET minute=minute+10800000000000 WHERE"
                                " trunk_id=2 AND minute=" H0 " + 55 * " MIN_NS ";"
                                "UPDATE kpi_minute SET attempts=attempts+10 WHERE minute % 7 = 0",
                                err, sizeof err),
                     ST_OK);
    assert_hours(db);
    /* retention's cut inside the second hour */
    assert_int_equal(st_db_exec(d,
                                "DELETE FROM kpi_minute WHERE minute < " H0 " + 90 * " MIN_NS,
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(q(db, "SELECT count(*) FROM kpi_hour WHERE hour=" H0), 0);
    assert_true(q(db, "SELECT count(*) FROM kpi_hour WHERE hour=" H0 "+3600000000000") > 0);
    assert_hours(db);

    /* legs with a MOS in two hours, both ways of trunk 1 */
    assert_int_equal(
        st_db_exec(d,
                   "INSERT INTO calls(id,start,caller,outcome) VALUES(1,5,'a','answered');"
                   "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i<39)"
                   " INSERT INTO legs(call_ref, call_id, src, dst, invite_ts, mos) SELECT 1,"
                   " 'c' || i, CASE WHEN i % 2 THEN '10.0.0.1' ELSE '10.0.0.2' END,"
                   " CASE WHEN i % 2 THEN '10.0.0.2' ELSE '10.0.0.1' END,"
                   " " H0 " + i * 3 * " MIN_NS ", CASE WHEN i % 5 THEN 3.0 + i / 17.0 END FROM n;",
                   err, sizeof err),
        ST_OK);
    assert_int_equal(q(db, "SELECT count(*) FROM leg_hours"), 4);
    assert_int_equal(q(db, "SELECT sum(mos_n) FROM leg_hours"), 32);
    assert_hours(db);
    assert_int_equal(st_db_exec(d,
                                "UPDATE legs SET mos=mos-1 WHERE call_id IN ('c1','c2');"
                                "UPDATE legs SET mos=NULL WHERE call_id='c3';"
                                "UPDATE legs SET mos=2.5 WHERE call_id='c5';"
                                "UPDATE legs SET invite_ts=invite_ts+3600000000000 WHERE"
                                " call_id IN ('c4','c6');"
                                "UPDATE legs SET src='10.0.0.9' WHERE call_id='c7';",
                                err, sizeof err),
                     ST_OK);
    assert_int_equal(q(db, "SELECT sum(mos_n) FROM leg_hours"), 32); /* one out, one in */
    assert_hours(db);
    assert_int_equal(st_db_exec(d, "DELETE FROM legs WHERE call_id < 'c3'", err, sizeof err),
                     ST_OK);
    assert_hours(db);
    assert_int_equal(st_db_exec(d, "DELETE FROM legs", err, sizeof err), ST_OK);
    assert_int_equal(q(db, "SELECT count(*) FROM leg_hours"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM leg_minutes"), 0);

    /* the v28 step over stored minutes */
    assert_int_equal(st_db_exec(d,
                                "INSERT INTO leg_minutes VALUES('10.0.0.1','10.0.0.2'," H0
                                ",7.5,2),('10.0.0.1','10.0.0.2'," H0 "+" MIN_NS ",4.0,1);"
                                V28_DOWN "PRAGMA user_version=27",
                                err, sizeof err),
                     ST_OK);
    st_db_close(d);
    assert_int_equal(st_db_upgrade(db, err, sizeof err), ST_OK);
    assert_int_equal(raw_scalar(db, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    assert_true(q(db, "SELECT count(*) FROM kpi_hour") > 0);
    assert_int_equal(q(db, "SELECT mos_n FROM leg_hours WHERE hour=" H0), 3);
    assert_hours(db);
    /* and v29's covering leg index in the old one's place */
    char cols[128];
    qtext(db, INDEX_COLS("rtp_streams_leg_media"), cols, sizeof cols);
    assert_string_equal(cols, LEG_MEDIA_COLS);
    assert_int_equal(q(db, "SELECT count(*) FROM sqlite_master WHERE name='rtp_streams_leg'"), 0);
}

/* ---- retention ---- */

static void test_retention_days(void **state)
{
    (void)state;
    char db[300], err[256], cid[32];
    tmp_path(db, sizeof db, "ret.db");
    struct st_options o = { .retention_days = 1, .retention_batch = 3, .batch_records = 4 };
    struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
    assert_non_null(w);
    uint64_t old = T0 - 3 * 86400 * NS;
    for (int i = 0; i < 10; i++) { /* 10 old calls: deleted in batches of 3 */
        snprintf(cid, sizeof cid, "old%d@x", i);
        put_sip(w, old + (uint64_t)i * NS, cid, "INVITE sip:old SIP/2.0\r\n\r\n");
        put_call(w, (uint64_t)i + 1, old + (uint64_t)i * NS, cid, "111");
    }
    for (int i = 0; i < 5; i++) {
        snprintf(cid, sizeof cid, "new%d@x", i);
        put_sip(w, T0 + (uint64_t)i * NS, cid, "INVITE sip:new SIP/2.0\r\n\r\n");
        put_call(w, (uint64_t)i + 11, T0 + (uint64_t)i * NS, cid, "222");
    }
    put_sip(w, old, "stray@x", "OPTIONS sip:x SIP/2.0\r\n\r\n"); /* no call: by age */
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM calls"), 5);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE caller='111'"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM legs"), 5);
    assert_int_equal(q(db, "SELECT count(*) FROM legs WHERE call_id LIKE 'old%'"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), 5);
    assert_int_equal(q(db, "SELECT count(DISTINCT msg_id) FROM sip_links"), 5);
    assert_leg_sums(db);
    assert_call_minutes(db);
    char ok[16];
    qtext(db, "PRAGMA integrity_check", ok, sizeof ok);
    assert_string_equal(ok, "ok");
}

static void test_retention_size(void **state)
{
    (void)state;
    char db[300], err[256], cid[32];
    tmp_path(db, sizeof db, "retmb.db");
    struct st_options o = { .retention_mb = 1, .retention_batch = 50 };
    struct st_writer *w = st_writer_open(db, &o, err, sizeof err);
    assert_non_null(w);
    char *big = malloc(8193);
    memset(big, 'x', 8192);
    big[8192] = '\0';
    for (int i = 0; i < 400; i++) { /* ~3.3 MB of messages */
        snprintf(cid, sizeof cid, "c%d@x", i);
        put_sip(w, T0 + (uint64_t)i * NS, cid, big);
        put_call(w, (uint64_t)i + 1, T0 + (uint64_t)i * NS, cid, "333");
    }
    free(big);
    st_writer_close(w);
    int64_t used = q(db, "SELECT (SELECT page_count FROM pragma_page_count) - "
                         "(SELECT freelist_count FROM pragma_freelist_count)") *
                   q(db, "PRAGMA page_size");
    assert_true(used <= 1024 * 1024);
    int64_t left = q(db, "SELECT count(*) FROM calls");
    assert_true(left > 0 && left < 400);
    /* the newest survive, the oldest went */
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=400"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM calls WHERE tracker_id=1"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM legs"), left);
}

/* ---- re-analysis ---- */

static void analyse_fake(const char *db, const char *cap, uint64_t *cap_id)
{
    char err[256];
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    *cap_id = st_capture_begin(w, cap);
    assert_true(*cap_id > 0);
    struct ts_frame f = { .ts_ns = T0, .frame_no = 1, .file_idx = 0, .file_off = 24 };
    st_writer_frame(w, &f);
    struct pkt_meta m = { .ts_ns = T0, .frame_no = 1, .l4 = TS_L4_UDP };
    struct st_sip_brief b = { .call_id = BV_LIT("re@x"), .method = BV_LIT("INVITE") };
    st_writer_sip(w, &m, BV_LIT("INVITE sip:x SIP/2.0\r\n\r\n"), &b);
    put_call(w, 1, T0, "re@x", "444");
    put_call(w, 2, T0 + NS, "re2@x", "445");
    st_capture_end(w);
    st_writer_close(w);
}

static void test_reanalysis(void **state)
{
    (void)state;
    char db[300], cap[300];
    tmp_path(db, sizeof db, "re.db");
    fake_capture(cap, sizeof cap, "re.pcap", "not really a capture, identity is what matters");
    uint64_t id1, id2, id3;
    analyse_fake(db, cap, &id1);
    analyse_fake(db, cap, &id2);
    assert_int_equal(id1, id2);
    assert_int_equal(q(db, "SELECT count(*) FROM captures"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM calls"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM legs"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), 1);
    assert_int_equal(q(db, "SELECT frame FROM sip_messages"), 1);
    assert_int_equal(q(db, "SELECT file_off FROM sip_messages"), 24);
    assert_int_equal(q(db, "SELECT count(*) FROM captures WHERE finished IS NOT NULL"), 1);
    /* another file content (size changes): a new capture, rows added */
    FILE *f = fopen(cap, "ab");
    fputs(" more", f);
    fclose(f);
    analyse_fake(db, cap, &id3);
    assert_int_not_equal(id3, id1);
    assert_int_equal(q(db, "SELECT count(*) FROM captures"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM calls"), 4);
    assert_leg_sums(db);
    assert_call_minutes(db);
}

/* A capture analysed again in the same session takes its rows away,
 * including the message the link map still holds for a dialog whose call
 * has not come: its id is handed out again to another dialog's message,
 * which must not be linked to the old dialog's leg. */
static void test_link_ids_reused(void **state)
{
    (void)state;
    char db[300], cap[300], err[256];
    tmp_path(db, sizeof db, "reuse.db");
    fake_capture(cap, sizeof cap, "reuse.pcap", "a capture analysed twice");
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    uint64_t id = st_capture_begin(w, cap);
    assert_true(id > 0);
    put_sip_m(w, T0, "old@x", "INVITE");
    assert_int_equal(st_capture_begin(w, cap), id); /* again: its rows go */
    put_sip_m(w, T0, "new@x", "INVITE");
    put_call(w, 1, T0, "old@x", "100");
    put_call(w, 2, T0, "new@x", "100");
    assert_true(wait_written(w, 4, 5000));
    struct st_stats st;
    st_writer_stats(w, &st);
    st_capture_end(w);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_messages"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_links k JOIN sip_messages m ON m.id=k.msg_id "
                           "JOIN legs l ON l.id=k.leg_id WHERE l.call_id=m.call_id"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM sip_links"), 1);
    assert_int_equal(st.link_evicted, 1);
}

/* ---- hostile text ---- */

static void test_metachars(void **state)
{
    (void)state;
    char db[300], err[256], got[256];
    tmp_path(db, sizeof db, "meta.db");
    const char *cid = "x'); DROP TABLE calls; --\"%_\\@evil";
    const char *num = "'; DELETE FROM legs;--%_";
    struct st_writer *w = st_writer_open(db, NULL, err, sizeof err);
    assert_non_null(w);
    put_sip(w, T0, cid, "INVITE sip:';-- SIP/2.0\r\n\r\n");
    put_call(w, 1, T0, cid, num);
    st_writer_close(w);
    assert_int_equal(q(db, "SELECT count(*) FROM calls"), 1);
    qtext(db, "SELECT call_id FROM legs", got, sizeof got);
    assert_string_equal(got, cid);
    qtext(db, "SELECT call_id FROM sip_messages", got, sizeof got);
    assert_string_equal(got, cid);
    qtext(db, "SELECT caller FROM calls", got, sizeof got);
    assert_string_equal(got, num);
    qtext(db, "SELECT caller_digits FROM legs", got, sizeof got);
    assert_string_equal(got, num);
    qtext(db, "SELECT raw FROM sip_messages", got, sizeof got);
    assert_string_equal(got, "INVITE sip:';-- SIP/2.0\r\n\r\n");
    /* linked although the Call-ID holds LIKE and quote characters */
    assert_int_equal(q(db, "SELECT count(*) FROM sip_links"), 1);
}

/* ---- live snapshots ---- */

static struct sip_msg g_msg;

/* One SIP message from src to dst (IPv4 "a.b.c.d", port 5060) at t (s). */
static void sip_to(struct calls *c, double t, const char *src, const char *dst,
                   const char *first, const char *cid, const char *cseq, const char *to_tag)
{
    static char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "%s\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK%s\r\n"
                     "From: <sip:100@x>;tag=f\r\nTo: <sip:200@x>%s%s\r\nCall-ID: %s\r\n"
                     "CSeq: %s\r\nContent-Length: 0\r\n\r\n",
                     first, cseq, to_tag ? ";tag=" : "", to_tag ? to_tag : "", cid, cseq);
    assert_int_equal(sip_parse((const uint8_t *)buf, (size_t)n, false, &g_msg), SIP_OK);
    struct pkt_meta m;
    memset(&m, 0, sizeof m);
    m.ts_ns = T0 + (uint64_t)(t * 1e9);
    m.l4 = TS_L4_UDP;
    m.ipver = 4;
    m.src.family = m.dst.family = 4;
    unsigned a[4], b[4];
    assert_int_equal(sscanf(src, "%u.%u.%u.%u", &a[0], &a[1], &a[2], &a[3]), 4);
    assert_int_equal(sscanf(dst, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]), 4);
    for (int i = 0; i < 4; i++) {
        m.src.a[i] = (uint8_t)a[i];
        m.dst.a[i] = (uint8_t)b[i];
    }
    m.sport = m.dport = 5060;
    calls_sip(c, &m, &g_msg);
}

#define PBX "10.0.0.5"
#define ITSP "203.0.113.9"

/* INVITE at t, 180 and 200 after 1 s, ACK; BYE at end (0: still up). */
static void live_call(struct calls *c, const char *cid, double t, double end)
{
    sip_to(c, t, PBX, ITSP, "INVITE sip:200@x SIP/2.0", cid, "1 INVITE", NULL);
    sip_to(c, t + 1, ITSP, PBX, "SIP/2.0 180 Ringing", cid, "1 INVITE", "t");
    sip_to(c, t + 1.5, ITSP, PBX, "SIP/2.0 200 OK", cid, "1 INVITE", "t");
    sip_to(c, t + 1.6, PBX, ITSP, "ACK sip:200@x SIP/2.0", cid, "1 ACK", "t");
    if (end > 0) {
        sip_to(c, end, PBX, ITSP, "BYE sip:200@x SIP/2.0", cid, "2 BYE", "t");
        sip_to(c, end + 0.1, ITSP, PBX, "SIP/2.0 200 OK", cid, "2 BYE", "t");
    }
}

static uint64_t written_now(struct st_writer *w)
{
    struct st_stats s;
    st_writer_stats(w, &s);
    return s.written;
}

/* A running sensor's snapshots: trunk and buckets while calls go on, a
 * closed bucket kept when later snapshots only carry newer ones, this
 * session's registrations replaced (not added) each time, legs in
 * progress listed and emptied at the end. */
static void test_live_snapshots(void **state)
{
    (void)state;
    char db[512];
    struct st_writer *w = fresh_writer(db, sizeof db, "live.db");
    struct calls_config cfg;
    calls_config_default(&cfg);
    cfg.no_report = true;
    struct calls *c = calls_new(&cfg, NULL);
    assert_non_null(c);
    calls_set_sink(c, st_calls_sink, w);
    /* T0 is 20 s into a minute: bucket [40, 100) gets two answered calls that
     * end; one is still up at 102 s and one rings */
    live_call(c, "a1", 50, 60);
    live_call(c, "a2", 70, 80);
    live_call(c, "up", 102, 0);
    sip_to(c, 103, PBX, ITSP, "REGISTER sip:x SIP/2.0", "r1", "1 REGISTER", NULL);
    sip_to(c, 103.1, ITSP, PBX, "SIP/2.0 200 OK", "r1", "1 REGISTER", "t");
    sip_to(c, 104, PBX, ITSP, "INVITE sip:200@x SIP/2.0", "ring", "1 INVITE", NULL);
    sip_to(c, 104.5, ITSP, PBX, "SIP/2.0 180 Ringing", "ring", "1 INVITE", "t");
    calls_tick(c, T0 + 110 * NS);
    struct calls_open_counts oc;
    calls_open_legs(c, NULL, NULL, &oc);
    assert_int_equal(oc.calls_up, 1);
    assert_int_equal(oc.legs_up, 1);
    assert_int_equal(oc.legs_ringing, 1);
    uint64_t n0 = written_now(w);
    assert_true(st_writer_live(w, c, 0, T0 + 110 * NS));
    assert_true(wait_written(w, n0 + 3, 5000)); /* two calls and the snapshot */
    assert_int_equal(q(db, "SELECT attempts FROM trunks"), 2);
    assert_int_equal(q(db, "SELECT attempts FROM kpi_minute WHERE minute=1700000040000000000"), 2);
    assert_int_equal(q(db, "SELECT attempts FROM kpi_hour WHERE hour=1699999200000000000"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM registrations"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM live_legs"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM live_legs WHERE state='up' AND call_id='up'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM live_legs WHERE state='ringing'"), 1);
    assert_int_equal(q(db, "SELECT calls_up FROM live_state WHERE running=1"), 1);

    /* the next bucket: one more call; the snapshot carries buckets from
     * 100 s on only, the closed one stays as it was */
    live_call(c, "b1", 120, 130);
    calls_tick(c, T0 + 170 * NS);
    n0 = written_now(w);
    assert_true(st_writer_live(w, c, T0 + 100 * NS, T0 + 170 * NS));
    assert_true(wait_written(w, n0 + 2, 5000));
    assert_int_equal(q(db, "SELECT attempts FROM trunks"), 3);
    assert_int_equal(q(db, "SELECT attempts FROM kpi_minute WHERE minute=1700000040000000000"), 2);
    assert_int_equal(q(db, "SELECT sum(attempts) FROM kpi_minute"), 3);
    assert_int_equal(q(db, "SELECT attempts FROM kpi_hour WHERE hour=1699999200000000000"), 3);
    assert_hours(db);
    assert_int_equal(q(db, "SELECT count(*) FROM registrations"), 1);

    /* stop: everything written, the live tables emptied */
    calls_finish(c);
    st_writer_trunks(w, c);
    assert_int_equal(q(db, "SELECT count(*) FROM live_legs"), 0);
    assert_int_equal(q(db, "SELECT running FROM live_state"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM registrations"), 1);
    st_writer_close(w);
    calls_free(c);
}

/* ---- helper modes for the corpus tests ---- */

struct mini {
    struct calls *calls;
    struct st_writer *w;
    struct sip_msg msg;
    struct st_stats st_final; /* before the final drain */
};

static void mini_udp(void *ctx, const struct pkt_meta *m, struct bv payload)
{
    struct mini *x = ctx;
    if (!sip_looks_like(payload))
        return;
    struct bv msgs[8];
    size_t n = sip_datagram_split(payload, msgs, 8);
    for (size_t i = 0; i < n; i++) {
        enum sip_result r = sip_parse(msgs[i].p, msgs[i].len, false, &x->msg);
        struct st_sip_brief b;
        st_sip_brief_of(r == SIP_OK || r == SIP_TRUNCATED ? &x->msg : NULL, &b);
        st_writer_sip(x->w, m, msgs[i], &b);
        if (r == SIP_OK)
            calls_sip(x->calls, m, &x->msg);
    }
}

static void mini_tcp(void *ctx, const struct pkt_meta *m, const struct tcp_seg *s)
{
    (void)ctx, (void)m, (void)s;
}

/* What `analyze --db` does, for UDP SIP only (no engine): the corpus tests
 * use it when the trunkscope binary has no --db yet. */
static int helper_analyze(int argc, char **argv)
{
    char err[512];
    struct ts_stats st;
    memset(&st, 0, sizeof st);
    static struct mini x;
    x.w = st_writer_open(argv[2], NULL, err, sizeof err);
    if (!x.w) {
        fprintf(stderr, "test_store: %s\n", err);
        return 2;
    }
    ts_hash_seed_random();
    x.calls = calls_new(NULL, &st);
    calls_set_sink(x.calls, st_calls_sink, x.w);
    struct decode_cb cb = { .ctx = &x, .udp = mini_udp, .tcp = mini_tcp };
    struct decoder *dec = decoder_new(&st, &cb);
    struct pcapin *in = pcapin_new();
    for (int i = 3; i < argc; i++) {
        if (pcapin_add(in, argv[i], err, sizeof err) != 0) {
            fprintf(stderr, "test_store: %s\n", err);
            return 2;
        }
        st_capture_begin(x.w, argv[i]);
    }
    struct ts_frame f;
    uint64_t last = 0;
    while (pcapin_next(in, &f, err, sizeof err) > 0) {
        st_writer_frame(x.w, &f);
        decoder_frame(dec, &f);
        if (f.ts_ns > last + NS) {
            calls_tick(x.calls, f.ts_ns);
            last = f.ts_ns;
        }
    }
    calls_finish(x.calls);
    st_capture_end(x.w);
    st_writer_trunks(x.w, x.calls);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st_writer_stats(x.w, &x.st_final);
    struct st_stats s;
    st_writer_close(x.w);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st_stats_print(stderr, &x.st_final);
    fprintf(stderr, "store drained %.3f s after the last frame\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    (void)s;
    decoder_free(dec);
    pcapin_free(in);
    calls_free(x.calls);
    return 0;
}

/* What SQLite holds (st_stats.sqlite_mem, the stats file's sqlite_kb) is
 * counted by the store's allocator wrapper with SQLite's own statistics
 * off: it grows with the writer's page cache as rows are written and with
 * a reader's cache as it reads, and a reader's close gives its memory back
 * (a free not counted would leave it there). */
static void test_sqlite_memory(void **state)
{
    (void)state;
    char db[300], cap[300];
    struct st_writer *w = fresh_writer(db, sizeof db, "mem.db");
    fake_capture(cap, sizeof cap, "mem.pcap", "mem");
    struct st_stats s;
    st_writer_stats(w, &s);
    uint64_t open = s.sqlite_mem;
    assert_true(open > 0);
    char raw[601], cid[64];
    memset(raw, 'm', sizeof raw - 1);
    raw[sizeof raw - 1] = '\0';
    for (int i = 0; i < 3000; i++) {
        snprintf(cid, sizeof cid, "mem-%d@x", i / 6);
        put_sip(w, T0 + (uint64_t)i * NS, cid, raw);
    }
    st_capture_begin(w, cap); /* waits until the messages before it are committed */
    st_writer_stats(w, &s);
    uint64_t written = s.sqlite_mem;
    assert_true(written > open + 1024 * 1024); /* 1.8 MB of rows in the writer's cache */
    char err[256];
    struct st_db *d = st_db_open(db, true, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(st_db_scalar(d, "SELECT sum(length(raw)) FROM sip_messages", -1),
                     3000 * 600);
    st_writer_stats(w, &s);
    uint64_t reading = s.sqlite_mem;
    assert_true(reading > written + 1024 * 1024); /* the reader's 2 MB cache, filled */
    st_db_close(d);
    st_writer_stats(w, &s);
    assert_true(s.sqlite_mem + 1024 * 1024 < reading);
    assert_true(s.sqlite_mem < written + 64 * 1024);
    st_writer_close(w);
}

/* Write calls and messages as fast as possible until killed. */
static int helper_write_forever(char **argv)
{
    char err[512], cid[64];
    struct st_options o = { .flush_ms = 200 };
    struct st_writer *w = st_writer_open(argv[2], &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "test_store: %s\n", err);
        return 2;
    }
    char raw[600];
    memset(raw, 'r', sizeof raw - 1);
    raw[sizeof raw - 1] = '\0';
    for (uint64_t i = 1;; i++) {
        snprintf(cid, sizeof cid, "forever-%llu@x", (unsigned long long)i);
        for (int k = 0; k < 6; k++)
            put_sip(w, T0 + i * NS + (uint64_t)k, cid, raw);
        put_call(w, i, T0 + i * NS, cid, "555");
        if (i % 1000 == 0) {
            struct st_stats s;
            st_writer_stats(w, &s);
            printf("written %llu\n", (unsigned long long)s.written);
            fflush(stdout);
            /* stay near what the writer can take: the test wants commits */
            while (s.queued > s.written + 20000) {
                usleep(1000);
                st_writer_stats(w, &s);
            }
        }
    }
}

/* Storage rate of SIP messages with their raw text (about 600 bytes, six
 * messages per Call-ID like a short call): n messages, then close (which
 * drains); the producer stays below the queue limit so nothing is dropped. */
static int helper_bench_sip(char **argv)
{
    char err[512], cid[64];
    uint64_t n = strtoull(argv[3], NULL, 10);
    struct st_writer *w = st_writer_open(argv[2], NULL, err, sizeof err);
    if (!w) {
        fprintf(stderr, "test_store: %s\n", err);
        return 2;
    }
    char raw[601];
    snprintf(raw, sizeof raw,
             "INVITE sip:+4930123456@10.1.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.10:5060;"
             "branch=z9hG4bK-bench\r\nFrom: <sip:+4940111222@10.1.0.10>;tag=1\r\n"
             "To: <sip:+4930123456@10.1.0.1>\r\nCall-ID: bench\r\nCSeq: 1 INVITE\r\n");
    size_t l = strlen(raw);
    memset(raw + l, 'x', sizeof raw - 1 - l);
    raw[sizeof raw - 1] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < n; i++) {
        if (i % 6 == 0)
            snprintf(cid, sizeof cid, "%016llx-bench@10.1.0.10",
                     (unsigned long long)(i * 0x9e3779b97f4a7c15ull));
        put_sip(w, T0 + i * 1000000ull, cid, raw);
        if (i % 1000 == 999) {
            struct st_stats s;
            st_writer_stats(w, &s);
            while (s.queued > s.written + 40000) {
                usleep(500);
                st_writer_stats(w, &s);
            }
        }
    }
    struct st_stats s;
    st_writer_stats(w, &s);
    st_writer_close(w);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%llu SIP messages stored in %.2f s: %.0f messages/s (%llu dropped)\n",
           (unsigned long long)n, secs, (double)n / secs, (unsigned long long)s.dropped_full);
    return 0;
}

/* What `trunkscope export` does, for binaries that do not have it yet. */
static int helper_export(char **argv)
{
    char err[512];
    struct st_export_stats st;
    if (st_export_call(argv[2], strtoll(argv[3], NULL, 10), argv[4], &st, err, sizeof err) !=
        ST_OK) {
        fprintf(stderr, "test_store: %s\n", err);
        return 2;
    }
    printf("%u legs, %llu SIP frames, %llu RTP/RTCP frames\n", st.legs,
           (unsigned long long)st.sip_frames, (unsigned long long)st.media_frames);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "--export") == 0)
        return helper_export(argv);
    if (argc >= 4 && strcmp(argv[1], "--analyze") == 0)
        return helper_analyze(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "--write-forever") == 0)
        return helper_write_forever(argv);
    if (argc >= 4 && strcmp(argv[1], "--bench-sip") == 0)
        return helper_bench_sip(argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_create),
        cmocka_unit_test(test_schema_image),
        cmocka_unit_test(test_migrate_v1),
        cmocka_unit_test(test_newer_refused),
        cmocka_unit_test(test_upgrade_for_readers),
        cmocka_unit_test(test_migrate_v2),
        cmocka_unit_test(test_digits_rev),
        cmocka_unit_test(test_options_index),
        cmocka_unit_test(test_data_span),
        cmocka_unit_test(test_hour_rollups),
        cmocka_unit_test(test_srtp_sums_index),
        cmocka_unit_test(test_media_rates_index),
        cmocka_unit_test(test_series_auto),
        cmocka_unit_test(test_migrate_v3),
        cmocka_unit_test(test_stream_after_leg),
        cmocka_unit_test(test_mos_batches),
        cmocka_unit_test(test_writer_hold),
        cmocka_unit_test(test_call_merged),
        cmocka_unit_test(test_stream_before_leg),
        cmocka_unit_test(test_message_links),
        cmocka_unit_test(test_links_upgrade),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_batch_flush),
        cmocka_unit_test(test_retention_days),
        cmocka_unit_test(test_retention_size),
        cmocka_unit_test(test_reanalysis),
        cmocka_unit_test(test_link_ids_reused),
        cmocka_unit_test(test_metachars),
        cmocka_unit_test(test_live_snapshots),
        cmocka_unit_test(test_leg_filters),
        cmocka_unit_test(test_overview_rollup),
        cmocka_unit_test(test_trunk_series),
        cmocka_unit_test(test_leg_agents),
        cmocka_unit_test(test_leg_agents_upgrade),
        cmocka_unit_test(test_leg_ports),
        cmocka_unit_test(test_v25_upgrade),
        cmocka_unit_test(test_alerts_list),
        cmocka_unit_test(test_sqlite_memory),
        cmocka_unit_test(test_rollups_writer),
        cmocka_unit_test(test_leg_ids_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
