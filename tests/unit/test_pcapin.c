/* Unit tests for capture file input: pcap (µs and ns) and pcapng written by
 * hand, the time-ordered merge of several inputs, record offsets, standard
 * input, the one-line errors for missing, unreadable and foreign files, and
 * the reader thread handing the same frames over in batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../capture/pcapin.h"
#include "../../capture/readahead.h"
#include "../../common/limits.h"

static char dir[256];

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void le16(FILE *f, uint16_t v)
{
    fputc(v & 0xff, f);
    fputc(v >> 8, f);
}

static void le32(FILE *f, uint32_t v)
{
    le16(f, (uint16_t)v);
    le16(f, (uint16_t)(v >> 16));
}

struct rec {
    uint32_t sec, frac; /* frac in µs or ns, as the file says */
    uint8_t tag;        /* first payload byte: identifies the record */
    uint32_t len;
};

/* Classic pcap, Ethernet; every record's bytes are tag, tag+1, ... */
static void write_pcap(const char *name, bool nsec, const struct rec *r, size_t n)
{
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    le32(f, nsec ? 0xa1b23c4d : 0xa1b2c3d4);
    le16(f, 2);
    le16(f, 4);
    le32(f, 0);
    le32(f, 0);
    le32(f, 65535);
    le32(f, 1);
    for (size_t i = 0; i < n; i++) {
        le32(f, r[i].sec);
        le32(f, r[i].frac);
        le32(f, r[i].len);
        le32(f, r[i].len + 4); /* wire length: a little longer */
        for (uint32_t j = 0; j < r[i].len; j++)
            fputc((r[i].tag + j) & 0xff, f);
    }
    fclose(f);
}

/* pcapng: SHB, IDB with if_tsresol = 9 (ns), one EPB per record. */
static void write_pcapng(const char *name, int linktype, const uint64_t *ts, size_t n)
{
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    le32(f, 0x0a0d0d0a);
    le32(f, 28);
    le32(f, 0x1a2b3c4d);
    le16(f, 1);
    le16(f, 0);
    le32(f, 0xffffffff);
    le32(f, 0xffffffff);
    le32(f, 28);
    le32(f, 1);
    le32(f, 32);
    le16(f, (uint16_t)linktype);
    le16(f, 0);
    le32(f, 65535);
    le16(f, 9); /* if_tsresol */
    le16(f, 1);
    le32(f, 9);
    le32(f, 0); /* opt_endofopt */
    le32(f, 32);
    for (size_t i = 0; i < n; i++) {
        const uint32_t dl = 6; /* padded to 8 */
        le32(f, 6);
        le32(f, 32 + 8);
        le32(f, 0);
        le32(f, (uint32_t)(ts[i] >> 32));
        le32(f, (uint32_t)ts[i]);
        le32(f, dl);
        le32(f, dl);
        for (uint32_t j = 0; j < 8; j++)
            fputc(j < dl ? (int)(0x40 + i) : 0, f);
        le32(f, 32 + 8);
    }
    fclose(f);
}

static void write_text(const char *name, const char *text)
{
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ts_pcapin_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct pcapin *open_files(const char *const *names, size_t n)
{
    struct pcapin *in = pcapin_new();
    char p[512], err[256];
    assert_non_null(in);
    for (size_t i = 0; i < n; i++) {
        path_of(p, sizeof p, names[i]);
        if (pcapin_add(in, p, err, sizeof err) != 0)
            fail_msg("%s", err);
    }
    return in;
}

static void test_merge_order(void **state)
{
    (void)state;
    const struct rec a[] = { { 1, 1, 0xa1, 10 }, { 3, 0, 0xa3, 20 }, { 5, 999999999, 0xa5, 30 } };
    const struct rec b[] = { { 2, 1, 0xb2, 40 }, { 3, 0, 0xb3, 50 }, { 4, 999999, 0xb4, 60 } };
    write_pcap("a.pcap", true, a, 3);
    write_pcap("b.pcap", false, b, 3);
    const char *names[] = { "a.pcap", "b.pcap" };
    struct pcapin *in = open_files(names, 2);
    static const struct {
        uint8_t tag;
        uint32_t file;
        uint64_t ts, off;
        uint32_t len;
    } want[] = {
        { 0xa1, 0, 1000000001ull, 24, 10 },
        { 0xb2, 1, 2000001000ull, 24, 40 },   /* µs scaled to ns */
        { 0xa3, 0, 3000000000ull, 24 + 16 + 10, 20 },
        { 0xb3, 1, 3000000000ull, 24 + 16 + 40, 50 }, /* tie: input order */
        { 0xb4, 1, 4999999000ull, 24 + 32 + 90, 60 },
        { 0xa5, 0, 5999999999ull, 24 + 32 + 30, 30 },
    };
    struct ts_frame f;
    char err[256];
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(pcapin_next(in, &f, err, sizeof err), 1);
        assert_int_equal(f.data[0], want[i].tag);
        assert_int_equal(f.data[f.caplen - 1], (want[i].tag + want[i].len - 1) & 0xff);
        assert_int_equal(f.file_idx, want[i].file);
        assert_int_equal(f.frame_no, i + 1);
        assert_int_equal(f.ts_ns, want[i].ts);
        assert_int_equal(f.file_off, want[i].off);
        assert_int_equal(f.caplen, want[i].len);
        assert_int_equal(f.wirelen, want[i].len + 4);
        assert_int_equal(f.linktype, 1);
    }
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 0);
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 0);
    pcapin_free(in);
    pcapin_free(NULL);

    /* one input, and an input with no packets at all */
    write_pcap("empty.pcap", false, NULL, 0);
    const char *names2[] = { "empty.pcap", "b.pcap", "empty.pcap" };
    in = open_files(names2, 3);
    int n = 0;
    while (pcapin_next(in, &f, err, sizeof err) == 1) {
        assert_int_equal(f.file_idx, 1);
        n++;
    }
    assert_int_equal(n, 3);
    pcapin_free(in);
}

static void test_errors(void **state)
{
    (void)state;
    struct pcapin *in = pcapin_new();
    char p[512], err[256];
    const struct rec a[] = { { 1, 0, 1, 10 } };
    write_pcap("ok.pcap", false, a, 1);
    path_of(p, sizeof p, "ok.pcap");
    assert_int_equal(pcapin_add(in, p, err, sizeof err), 0);

    path_of(p, sizeof p, "missing.pcap");
    assert_int_equal(pcapin_add(in, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "missing.pcap: no such file"));
    assert_null(strchr(err, '\n'));

    write_text("notes.txt", "this is not a capture file\nat all\n");
    path_of(p, sizeof p, "notes.txt");
    assert_int_equal(pcapin_add(in, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "notes.txt: not a pcap or pcapng file"));
    assert_null(strchr(err, '\n'));

    write_text("empty.bin", "");
    path_of(p, sizeof p, "empty.bin");
    assert_int_equal(pcapin_add(in, p, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a pcap or pcapng file"));

    assert_int_equal(pcapin_add(in, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "is a directory"));

    if (geteuid() != 0) { /* root reads anything */
        path_of(p, sizeof p, "ok.pcap");
        char q[512];
        path_of(q, sizeof q, "secret.pcap");
        assert_int_equal(rename(p, q), 0);
        chmod(q, 0);
        assert_int_equal(pcapin_add(in, q, err, sizeof err), -1);
        assert_non_null(strstr(err, "cannot read"));
        chmod(q, 0600);
        rename(q, p);
    }

    /* the good input is still there */
    struct ts_frame f;
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 1);
    assert_int_equal(f.file_idx, 0);
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 0);
    pcapin_free(in);
}

/* A file cut in the middle of a record: -1 once, then the others go on. */
static void test_truncated_file(void **state)
{
    (void)state;
    const struct rec a[] = { { 1, 0, 0x10, 100 }, { 3, 0, 0x11, 100 } };
    const struct rec b[] = { { 2, 0, 0x20, 10 }, { 4, 0, 0x21, 10 } };
    write_pcap("cut.pcap", false, a, 2);
    write_pcap("fine.pcap", false, b, 2);
    char p[512];
    path_of(p, sizeof p, "cut.pcap");
    assert_int_equal(truncate(p, 24 + 116 + 16 + 50), 0);
    const char *names[] = { "cut.pcap", "fine.pcap" };
    struct pcapin *in = open_files(names, 2);
    struct ts_frame f;
    char err[256];
    int got = 0, errors = 0, rc;
    uint8_t tags[8];
    while ((rc = pcapin_next(in, &f, err, sizeof err)) != 0) {
        if (rc < 0) {
            errors++;
            assert_non_null(strstr(err, "cut.pcap"));
            assert_null(strchr(err, '\n'));
            continue;
        }
        assert_true(got < 8);
        tags[got++] = f.data[0];
    }
    assert_int_equal(errors, 1);
    assert_int_equal(got, 3);
    assert_int_equal(tags[0], 0x10);
    assert_int_equal(tags[1], 0x20);
    assert_int_equal(tags[2], 0x21);
    pcapin_free(in);
}

static void test_pcapng(void **state)
{
    (void)state;
    const uint64_t ts[] = { 1700000000123456789ull, 1700000000123456790ull };
    write_pcapng("x.pcapng", 113, ts, 2);
    const char *names[] = { "x.pcapng" };
    struct pcapin *in = open_files(names, 1);
    struct ts_frame f;
    char err[256];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pcapin_next(in, &f, err, sizeof err), 1);
        assert_int_equal(f.ts_ns, ts[i]);
        assert_int_equal(f.linktype, 113);
        assert_int_equal(f.caplen, 6);
        assert_int_equal(f.data[0], 0x40 + i);
        assert_int_equal(f.file_off, 0); /* pcapng: no record offsets */
    }
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 0);
    pcapin_free(in);

    /* a real pcapng from the shared corpus */
    in = pcapin_new();
    char p[512];
    snprintf(p, sizeof p, "%s/pcaps/ndpi_rtp_vlan.pcapng", TS_SHARED_DIR);
    assert_int_equal(pcapin_add(in, p, err, sizeof err), 0);
    int n = 0;
    uint64_t last = 0;
    while (pcapin_next(in, &f, err, sizeof err) == 1) {
        assert_int_equal(f.linktype, 1);
        assert_true(f.ts_ns >= last);
        last = f.ts_ns;
        n++;
    }
    assert_int_equal(n, 112);
    pcapin_free(in);
}

static void test_stdin(void **state)
{
    (void)state;
    const struct rec a[] = { { 7, 5, 0x77, 12 } };
    write_pcap("in.pcap", true, a, 1);
    char p[512], err[256];
    path_of(p, sizeof p, "in.pcap");
    int saved = dup(0);
    int fd = open(p, O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    struct pcapin *in = pcapin_new();
    assert_int_equal(pcapin_add(in, "-", err, sizeof err), 0);
    assert_int_equal(pcapin_add(in, "-", err, sizeof err), -1);
    assert_non_null(strstr(err, "standard input"));
    struct ts_frame f;
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 1);
    assert_int_equal(f.ts_ns, 7000000005ull);
    assert_int_equal(f.data[0], 0x77);
    assert_int_equal(pcapin_next(in, &f, err, sizeof err), 0);
    pcapin_free(in);
    dup2(saved, 0);
    close(saved);
}

/* TS_MAX_INPUT_FILES inputs are accepted, one more is refused. */
static void test_input_limit(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < TS_MAX_INPUT_FILES + 64) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < TS_MAX_INPUT_FILES + 64)
            skip();
        rl.rlim_cur = TS_MAX_INPUT_FILES + 64;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    const struct rec a[] = { { 1, 0, 1, 4 } };
    write_pcap("one.pcap", false, a, 1);
    char p[512], err[256];
    path_of(p, sizeof p, "one.pcap");
    struct pcapin *in = pcapin_new();
    for (int i = 0; i < TS_MAX_INPUT_FILES - 1; i++)
        assert_int_equal(pcapin_add(in, p, err, sizeof err), 0);
    assert_int_equal(pcapin_add(in, p, err, sizeof err), 0); /* N */
    assert_int_equal(pcapin_add(in, p, err, sizeof err), -1); /* N+1 */
    assert_non_null(strstr(err, "too many input files"));
    struct ts_frame f;
    uint64_t n = 0;
    uint32_t last_idx = 0;
    while (pcapin_next(in, &f, err, sizeof err) == 1) {
        assert_true(n == 0 || f.file_idx == last_idx + 1); /* ties: input order */
        last_idx = f.file_idx;
        n++;
    }
    assert_int_equal(n, TS_MAX_INPUT_FILES);
    assert_int_equal(f.frame_no, TS_MAX_INPUT_FILES);
    pcapin_free(in);
}

static void test_linktype_names(void **state)
{
    (void)state;
    assert_string_equal(pcapin_linktype_name(1), "EN10MB");
    assert_string_equal(pcapin_linktype_name(113), "LINUX_SLL");
    assert_string_equal(pcapin_linktype_name(0), "NULL");
    assert_string_equal(pcapin_linktype_name(99999), "unknown");
}


/* What the analysis keeps of one frame, to compare two ways of reading. */
struct seen {
    uint64_t ts_ns, frame_no, file_off, tag, sum;
    uint32_t file_idx, caplen, wirelen;
};

static uint64_t tag_of(const struct ts_frame *f)
{
    return f->caplen ? ((uint64_t)f->data[0] << 32 | f->caplen) : 7;
}

static bool decode_of(const struct ts_frame *f, struct ts_pkt *p, void *spare)
{
    (void)spare;
    memset(p, 0, sizeof *p);
    p->stream_hash = tag_of(f);
    p->ncnt = 1;
    return false;
}

static uint64_t sum_of(const struct ts_frame *f)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < f->caplen; i++)
        s = s * 31 + f->data[i];
    return s;
}

static void note(struct seen *v, const struct ts_frame *f, uint64_t tag)
{
    *v = (struct seen){ f->ts_ns, f->frame_no, f->file_off, tag, sum_of(f),
                        f->file_idx, f->caplen, f->wirelen };
}

#define RA_N 1500

/* Three inputs, one cut short, frames up to 60 KB (several per batch, so
 * batches end both on their frame count and on their bytes): the reader
 * thread and the inline reader hand over exactly what pcapin_next() gives,
 * in the same order, with the tag computed on the reader's side. */
static void test_readahead_same_frames(void **state)
{
    (void)state;
    static struct rec a[RA_N], b[RA_N];
    for (uint32_t i = 0; i < RA_N; i++) {
        a[i] = (struct rec){ 10 + i, 0, (uint8_t)i, i % 7 == 0 ? 60000 : 40 + i % 300 };
        b[i] = (struct rec){ 10 + i, 500000, (uint8_t)(i + 50), i % 13 == 0 ? 0 : 60 };
    }
    write_pcap("ra_a.pcap", false, a, RA_N);
    write_pcap("ra_b.pcap", false, b, RA_N);
    write_pcap("ra_cut.pcap", false, a, 40);
    char p[512];
    path_of(p, sizeof p, "ra_cut.pcap");
    assert_int_equal(truncate(p, 24 + (16 + 60000) + 16 + 10), 0); /* in record 2 */
    const char *names[] = { "ra_a.pcap", "ra_b.pcap", "ra_cut.pcap" };

    static struct seen ref[3 * RA_N], got[3 * RA_N];
    size_t nref = 0, ref_err = 0;
    struct pcapin *in = open_files(names, 3);
    struct ts_frame f;
    char err[256];
    int rc;
    while ((rc = pcapin_next(in, &f, err, sizeof err)) != 0) {
        if (rc < 0) {
            ref_err++;
            continue;
        }
        assert_true(nref < 3 * RA_N);
        note(&ref[nref++], &f, tag_of(&f));
    }
    pcapin_free(in);
    assert_int_equal(ref_err, 1);
    assert_true(nref > 2 * RA_N);

    for (int threaded = 0; threaded < 2; threaded++) {
        in = open_files(names, 3);
        struct readahead *r = readahead_start(in, decode_of, 0, threaded);
        assert_non_null(r);
        size_t n = 0, batches = 0;
        const struct ra_batch *bt;
        while ((bt = readahead_next(r))) {
            assert_true(bt->n > 0 && bt->n <= 256);
            batches++;
            for (size_t i = 0; i < bt->n; i++) {
                assert_true(n < 3 * RA_N);
                assert_int_equal(bt->pkt[i].ncnt, 1);
                note(&got[n++], &bt->f[i], bt->pkt[i].stream_hash);
            }
        }
        assert_null(readahead_next(r)); /* stays at the end */
        assert_int_equal(n, nref);
        assert_true(batches >= nref / 256);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(&got[i], &ref[i], sizeof got[i]);
        size_t kept, total;
        const char *const *e = readahead_errors(r, &kept, &total);
        assert_int_equal(kept, 1);
        assert_int_equal(total, 1);
        assert_non_null(strstr(e[0], "ra_cut.pcap"));
        readahead_free(r);
        pcapin_free(in);
    }
}

/* Frames whose first byte is below 200 want a spare (as a SIP message
 * does): the tag goes there, p->sip points to it; a frame given none is
 * marked. */
static bool decode_spare(const struct ts_frame *f, struct ts_pkt *p, void *spare)
{
    memset(p, 0, sizeof *p);
    if (!f->caplen || f->data[0] >= 200)
        return false;
    if (!spare) {
        p->ncnt = 2; /* left to the analysis */
        return false;
    }
    uint64_t tag = tag_of(f);
    memcpy(spare, &tag, sizeof tag);
    p->sip = spare;
    return true;
}

/* A long stretch of frames that each want a spare (a burst of call
 * set-ups): every one gets its own, in batches that end when the spares are
 * taken, and the spares hold until the batch is given back. */
static void test_readahead_spares(void **state)
{
    (void)state;
    static struct rec a[RA_N];
    for (uint32_t i = 0; i < RA_N; i++) /* 300 in a row want one, then 1 in 2 */
        a[i] = (struct rec){ 1 + i, 0, (uint8_t)(i < 300 ? i % 200 : (i % 2 ? 250 : i % 200)),
                             64 + i % 50 };
    write_pcap("ra_spare.pcap", false, a, RA_N);
    const char *names[] = { "ra_spare.pcap" };
    for (int threaded = 0; threaded < 2; threaded++) {
        struct pcapin *in = open_files(names, 1);
        struct readahead *r = readahead_start(in, decode_spare, 100, threaded);
        assert_non_null(r);
        size_t n = 0, wanted = 0;
        const struct ra_batch *bt;
        while ((bt = readahead_next(r))) {
            size_t used = 0;
            for (size_t i = 0; i < bt->n; i++, n++) {
                const struct ts_frame *f = &bt->f[i];
                assert_int_equal(f->frame_no, n + 1);
                assert_int_not_equal(bt->pkt[i].ncnt, 2);
                if (f->data[0] >= 200) {
                    assert_null(bt->pkt[i].sip);
                    continue;
                }
                wanted++;
                used++;
                uint64_t tag;
                assert_non_null(bt->pkt[i].sip);
                memcpy(&tag, bt->pkt[i].sip, sizeof tag);
                assert_int_equal(tag, tag_of(f));
                for (size_t j = 0; j < i; j++)
                    assert_ptr_not_equal(bt->pkt[j].sip, bt->pkt[i].sip);
            }
            assert_true(used <= TS_READAHEAD_SPARES);
        }
        assert_int_equal(n, RA_N);
        assert_int_equal(wanted, 300 + (RA_N - 300) / 2);
        readahead_free(r);
        pcapin_free(in);
    }
}

/* Stopping early: the reader, blocked on a full ring, is stopped and joined. */
static void test_readahead_stop_early(void **state)
{
    (void)state;
    static struct rec a[RA_N];
    for (uint32_t i = 0; i < RA_N; i++)
        a[i] = (struct rec){ 1 + i, 0, (uint8_t)i, 100 };
    write_pcap("ra_stop.pcap", false, a, RA_N);
    const char *names[] = { "ra_stop.pcap" };
    struct pcapin *in = open_files(names, 1);
    struct readahead *r = readahead_start(in, NULL, 0, true);
    assert_non_null(r);
    const struct ra_batch *bt = readahead_next(r);
    assert_non_null(bt);
    assert_int_equal(bt->f[0].data[0], 0);
    assert_int_equal(bt->pkt[0].stream_hash, 0); /* decoder_decode() alone */
    usleep(20000); /* let the reader fill the ring and wait */
    readahead_free(r);
    pcapin_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_pcapng),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_input_limit),
        cmocka_unit_test(test_linktype_names),
        cmocka_unit_test(test_readahead_same_frames),
        cmocka_unit_test(test_readahead_spares),
        cmocka_unit_test(test_readahead_stop_early),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
