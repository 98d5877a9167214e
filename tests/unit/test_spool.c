/* Unit tests of the capture spool (store/spool.c, spool_read.c): frames in,
 * read back whole from the files and through the index, RTP policies, the
 * size cap, torn files (read and recovered at the next start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../../store/spool.h"
#include "../../store/store.h"

#define NS 1000000000ull

static char g_dir[256], g_db[300], g_spool[300];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ts-spool-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_db, sizeof g_db, "%s/t.db", g_dir);
    snprintf(g_spool, sizeof g_spool, "%s/spool", g_dir);
    char err[256];
    struct st_db *d = st_db_open(g_db, false, err, sizeof err); /* the schema */
    assert_non_null(d);
    st_db_close(d);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int64_t q(const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *s;
    int64_t v = -1;
    assert_int_equal(sqlite3_open(g_db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

/* An Ethernet + IPv4 + UDP frame with an RTP header (seq) and payload_len
 * bytes of payload (which starts at byte 42); its length. */
static size_t make_rtp(uint8_t *buf, uint16_t seq, size_t payload_len, bool random)
{
    memset(buf, 0, 42);
    buf[12] = 0x08;
    buf[14] = 0x45;
    buf[23] = 17;
    uint8_t *rtp = buf + 42;
    rtp[0] = 0x80;
    rtp[1] = 0;
    rtp[2] = (uint8_t)(seq >> 8);
    rtp[3] = (uint8_t)seq;
    for (size_t i = 12; i < payload_len; i++)
        rtp[i] = random ? (uint8_t)rand() : (uint8_t)(i & 7);
    return 42 + payload_len;
}

static struct spool *open_spool(enum spool_rtp rtp, uint32_t first_s, uint64_t max_bytes,
                         uint32_t rotate_s)
{
    struct spool_options o = { .dir = g_spool, .db_path = g_db, .rotate_s = rotate_s,
                               .max_bytes = max_bytes, .min_free_bytes = 0, .rtp = rtp,
                               .rtp_first_s = first_s };
    char err[256];
    struct spool *s = spool_open(&o, err, sizeof err);
    if (!s)
        fail_msg("spool_open: %s", err);
    return s;
}

static void feed(struct spool *s, uint64_t t0, unsigned n, uint64_t step_ns, bool media,
                 size_t payload, bool random)
{
    uint8_t buf[2000];
    for (unsigned i = 0; i < n; i++) {
        size_t len = make_rtp(buf, (uint16_t)i, payload, random);
        struct ts_frame f = { .ts_ns = t0 + i * step_ns, .linktype = 1,
                              .caplen = (uint32_t)len, .wirelen = (uint32_t)len, .data = buf };
        spool_frame(s, &f, media, 42, 7);
        if (i % 64 == 63) /* paced: a burst faster than the disk drops blocks */
            usleep(3000);
    }
}

struct counts {
    uint64_t frames, bytes, short_frames;
};

static void on_frame(void *ctx, const struct ts_frame *f)
{
    struct counts *c = ctx;
    c->frames++;
    c->bytes += f->caplen;
    if (f->caplen < f->wirelen)
        c->short_frames++;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Every spool file read whole: frames, cut frames, torn blocks. */
static struct spool_read_stats read_files(struct counts *c)
{
    struct spool_read_stats rs;
    memset(&rs, 0, sizeof rs);
    sqlite3 *h;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(g_db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT path FROM spool_files ORDER BY id", -1, &s,
                                        NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        size_t len;
        uint8_t *b = slurp((const char *)sqlite3_column_text(s, 0), &len);
        assert_int_equal(spool_read_all(b, len, on_frame, c, &rs), len);
        free(b);
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return rs;
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct spool *s = open_spool(SPOOL_RTP_ALL, 0, 0, 60);
    /* 3 minutes of 50 packets/s: 3 files (one per minute), blocks of 1 s */
    feed(s, 1699999980ull * NS, 9000, 20000000ull, true, 172, false); /* a minute starts */
    struct spool_stats st;
    spool_close_stats(s, &st);
    assert_int_equal(st.frames, 9000);
    assert_int_equal(st.blocks_dropped, 0);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.files_opened, 3);
    assert_true(st.bytes_written < st.bytes_raw / 4); /* a repetitive payload */
    assert_int_equal(q("SELECT count(*) FROM spool_files WHERE state='closed'"), 3);
    assert_int_equal(q("SELECT sum(frames) FROM spool_files"), 9000);
    assert_int_equal(q("SELECT sum(frames) FROM spool_blocks"), 9000);
    assert_int_equal(q("SELECT sum(bytes) FROM spool_files"), (int64_t)st.bytes_written);
    /* no block spans a second or more of capture time */
    assert_int_equal(q("SELECT count(*) FROM spool_blocks WHERE last_ts - first_ts >= 1000000000"),
                     0);
    struct counts c = { 0 };
    struct spool_read_stats rs = read_files(&c);
    assert_int_equal(c.frames, 9000);
    assert_int_equal(c.bytes, 9000ull * (42 + 172));
    assert_int_equal(rs.torn, 0);
    assert_int_equal(rs.malformed, 0);
}

static void test_policies(void **state)
{
    (void)state;
    /* none: media goes, other frames stay */
    struct spool *s = open_spool(SPOOL_RTP_NONE, 0, 0, 60);
    feed(s, 1700000000ull * NS, 100, 20000000ull, true, 172, false);
    feed(s, 1700000002ull * NS, 10, 20000000ull, false, 172, false);
    struct spool_stats st;
    spool_close_stats(s, &st);
    assert_int_equal(st.frames, 10);
    assert_int_equal(st.media_skipped, 100);
    teardown(NULL);
    setup(NULL);
    /* headers: RTP cut after its 12-byte header, wire length kept */
    s = open_spool(SPOOL_RTP_HEADERS, 0, 0, 60);
    feed(s, 1700000000ull * NS, 100, 20000000ull, true, 172, false);
    spool_close_stats(s, &st);
    assert_int_equal(st.media_cut, 100);
    struct counts c = { 0 };
    read_files(&c);
    assert_int_equal(c.frames, 100);
    assert_int_equal(c.bytes, 100ull * (42 + 12));
    assert_int_equal(c.short_frames, 100);
    teardown(NULL);
    setup(NULL);
    /* first 2 s of the flow: 100 of 250 packets at 50/s */
    s = open_spool(SPOOL_RTP_FIRST, 2, 0, 60);
    feed(s, 1700000000ull * NS, 250, 20000000ull, true, 172, false);
    spool_close_stats(s, &st);
    assert_int_equal(st.frames, 100);
    assert_int_equal(st.media_skipped, 150);
}

static void test_policy_parse(void **state)
{
    (void)state;
    enum spool_rtp r;
    uint32_t n;
    assert_true(spool_rtp_parse("all", &r, &n) && r == SPOOL_RTP_ALL);
    assert_true(spool_rtp_parse("first:30", &r, &n) && r == SPOOL_RTP_FIRST && n == 30);
    assert_true(spool_rtp_parse("first:86400", &r, &n) && n == 86400);
    assert_false(spool_rtp_parse("first:86401", &r, &n));
    assert_false(spool_rtp_parse("first:0", &r, &n));
    assert_false(spool_rtp_parse("first:", &r, &n));
    assert_false(spool_rtp_parse("first:1x", &r, &n));
    assert_false(spool_rtp_parse("some", &r, &n));
}

static uint64_t dir_bytes(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "du -sb --apparent-size '%s' | cut -f1", g_spool);
    FILE *p = popen(cmd, "r");
    unsigned long long v = 0;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%llu", &v), 1);
    pclose(p);
    return v;
}

static void test_size_cap(void **state)
{
    (void)state;
    /* incompressible payload, ~1.2 MB a second, a file every 2 s, cap 6 MB */
    uint64_t cap = 6ull * 1024 * 1024;
    struct spool *s = open_spool(SPOOL_RTP_ALL, 0, cap, 2);
    srand(1);
    feed(s, 1700000000ull * NS, 20000, 1000000ull, true, 1200, true); /* 20 s */
    struct spool_stats st;
    spool_close_stats(s, &st);
    assert_true(st.files_deleted > 0);
    assert_int_equal(st.files_deleted, st.deleted_size);
    assert_true(st.spool_bytes <= cap);
    assert_true(dir_bytes() <= cap + 4096); /* the directory entry itself */
    assert_int_equal(q("SELECT sum(bytes) FROM spool_files"), (int64_t)st.spool_bytes);
    /* what is left reads whole */
    struct counts c = { 0 };
    struct spool_read_stats rs = read_files(&c);
    assert_int_equal(rs.torn, 0);
    assert_int_equal(c.frames, (uint64_t)q("SELECT sum(frames) FROM spool_files"));
}

static void test_age_cap(void **state)
{
    (void)state;
    struct spool_options o = { .dir = g_spool, .db_path = g_db, .rotate_s = 10, .max_age_s = 30,
                               .min_free_bytes = 0 };
    char err[256];
    struct spool *s = spool_open(&o, err, sizeof err);
    assert_non_null(s);
    feed(s, 1700000000ull * NS, 1200, 100000000ull, false, 100, false); /* 120 s */
    struct spool_stats st;
    spool_close_stats(s, &st);
    assert_true(st.deleted_age >= 7);
    /* what is left ends within the age of the newest frame */
    assert_true(q("SELECT min(last_ts) FROM spool_files") >=
                (int64_t)((1700000000ull + 119 - 30 - 10) * NS));
}

static void test_torn(void **state)
{
    (void)state;
    struct spool *s = open_spool(SPOOL_RTP_ALL, 0, 0, 60);
    srand(2);
    feed(s, 1700000000ull * NS, 3000, 1000000ull, true, 300, true); /* 3 s: 3 blocks */
    spool_close(s);
    assert_int_equal(q("SELECT count(*) FROM spool_files"), 1);
    int64_t bytes = q("SELECT bytes FROM spool_files");
    int64_t last_off = q("SELECT max(off) FROM spool_blocks");
    char path[600];
    {
        sqlite3 *h;
        sqlite3_stmt *st;
        sqlite3_open(g_db, &h);
        sqlite3_prepare_v2(h, "SELECT path FROM spool_files", -1, &st, NULL);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        snprintf(path, sizeof path, "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        /* as if killed: the file still open, half a block more on disk */
        sqlite3_exec(h, "UPDATE spool_files SET state='open'", NULL, NULL, NULL);
        sqlite3_close(h);
    }
    size_t len;
    uint8_t *b = slurp(path, &len);
    FILE *f = fopen(path, "ab");
    fwrite(b + last_off, 1, (size_t)(bytes - last_off) / 2, f);
    fclose(f);
    /* read whole: the torn tail is counted and its offset returned */
    size_t tlen;
    uint8_t *t = slurp(path, &tlen);
    struct counts c = { 0 };
    struct spool_read_stats rs = { 0 };
    assert_int_equal(spool_read_all(t, tlen, on_frame, &c, &rs), (size_t)bytes);
    assert_int_equal(rs.torn, 1);
    assert_int_equal(c.frames, 3000);
    /* a block cut short, read through the index */
    memset(&rs, 0, sizeof rs);
    spool_read_block(t + last_off, (size_t)(bytes - last_off) - 1, false, 1, on_frame, &c, &rs);
    assert_int_equal(rs.torn, 1);
    free(t);
    free(b);
    /* the next start cuts it back to what the index holds */
    s = open_spool(SPOOL_RTP_ALL, 0, 0, 60);
    struct spool_stats st;
    spool_close_stats(s, &st);
    assert_int_equal(st.torn_recovered, 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, bytes);
    assert_int_equal(q("SELECT torn FROM spool_files"), 1);
    assert_int_equal(q("SELECT count(*) FROM spool_files WHERE state='open'"), 0);
}

static void test_garbage(void **state)
{
    (void)state;
    /* not zstd, and a zstd frame that is no pcap: counted, never fatal */
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37);
    struct counts c = { 0 };
    struct spool_read_stats rs = { 0 };
    assert_int_equal(spool_read_all(junk, sizeof junk, on_frame, &c, &rs), 0);
    assert_int_equal(rs.torn, 1);
    spool_read_block(junk, sizeof junk, true, 1, on_frame, &c, &rs);
    assert_int_equal(rs.torn, 2);
    spool_read_block(junk, 0, false, 1, on_frame, &c, &rs);
    assert_int_equal(c.frames, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
        cmocka_unit_test(test_policy_parse),
        cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_age_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn, setup, teardown),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
