/* `trunkscope analyze FILE...`: offline analysis of capture files, printed
 * as text tables or one JSON object (--json). */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../alert/checklist.h"
#include "../api/api.h"
#include "../calls/calls.h"
#include "../capture/pcapin.h"
#include "../capture/pcapng_secrets.h"
#include "../capture/readahead.h"
#include "../common/hash.h"
#include "../common/limits.h"
#include "../common/num.h"
#include "../common/opts.h"
#include "../crypto/tlskeys.h"
#include "../engine/engine.h"
#include "../media/media.h"
#include "../store/store.h"
#include "calls_print.h"
#include "media_print.h"
#include "alerting.h"
#include "other_print.h"
#include "tls_print.h"
#include "cli.h"
#include "progress.h"
#include "tlsopt.h"
#include "report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: trunkscope analyze [--json | --json-lines] [--quiet] [--no-dedup] [--no-calls]\n"
               "                          [--summary | --top N]\n"
               "                          [--config FILE] [--calls-csv FILE] [--db FILE] FILE...\n"
               "  FILE may be '-' for standard input (pcap or pcapng)\n"
               "  --json        one JSON object, written as calls and streams finish\n"
               "  --json-lines  one JSON object per line: each call, stream, trunk and\n"
               "                registration as it is final, then the summary (\"type\" says which)\n"
               "  --quiet       no progress line on a terminal's stderr\n"
               "  --timing      the wall time of each phase of the run, one line on stderr\n"
               "  --top N       at most N calls and the N worst streams in the text tables (200)\n"
               "  --summary     the text report without the call and stream tables\n"
               "  --db FILE  store calls, legs and SIP messages in an SQLite database, then\n"
               "             evaluate the alert rules over the stored capture time (--config:\n"
               "             alert.*, notify.*; --no-alerts skips it)\n"
               "  --serve ADDR:PORT  then serve the database (API and dashboard) until Ctrl-C\n"
               "  --tls-keylog FILE  decrypt SIP over TLS with an NSS key log (SSLKEYLOGFILE)\n"
               "  --tls-key ADDR:PORT=FILE.pem  the server's RSA key for TLS_RSA_* (repeatable)\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --timing: the wall time of each phase, so that a user (and bench/run.sh)
 * sees where a run goes: the reading, the end of the input, the store's last
 * transaction, the report, the last checkpoint, the alert replay. */
struct phases {
    double last;
    size_t n;
    const char *name[12];
    double s[12];
};

static void phase_end(struct phases *p, const char *name)
{
    double t = now_s();
    if (p->n < sizeof p->s / sizeof p->s[0]) {
        p->name[p->n] = name;
        p->s[p->n++] = t - p->last;
    }
    p->last = t;
}

static void phases_print(const struct phases *p, double t0)
{
    fprintf(stderr, "trunkscope analyze: timing:");
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, " %s %.3f s,", p->name[i], p->s[i]);
    fprintf(stderr, " total %.3f s\n", p->last - t0);
}

static void print_text(const struct engine *e, double elapsed)
{
    const struct ts_stats *st = engine_stats(e);
    const uint64_t *v = st->v;
    printf("packets read          %llu  (%.3f s)\n", (unsigned long long)v[TS_PACKETS], elapsed);
    int types[32];
    uint64_t counts[32];
    size_t n = engine_linktypes(e, types, counts, 32);
    for (size_t i = 0; i < n; i++)
        printf("  link %-16s %llu\n", pcapin_linktype_name(types[i]), (unsigned long long)counts[i]);
    printf("decoded               %llu\n", (unsigned long long)v[TS_DECODED]);
    printf("duplicates dropped    %llu\n", (unsigned long long)v[TS_DUPLICATES]);
    printf("fragments reassembled %llu datagrams from %llu fragments\n",
           (unsigned long long)v[TS_FRAG_REASSEMBLED], (unsigned long long)v[TS_FRAG_FRAGMENTS]);
    printf("tcp streams           %llu\n", (unsigned long long)v[TS_TCP_STREAMS]);
    printf("sip messages          %llu  (%llu requests, %llu responses)\n",
           (unsigned long long)v[TS_SIP_MESSAGES], (unsigned long long)v[TS_SIP_REQUESTS],
           (unsigned long long)v[TS_SIP_RESPONSES]);
    for (int m = 1; m < SIP_M_COUNT; m++) {
        uint64_t c = engine_method_count(e, (enum sip_method)m);
        if (c)
            printf("  %-19s %llu\n", sip_method_name((enum sip_method)m), (unsigned long long)c);
    }
    if (engine_method_count(e, SIP_M_UNKNOWN))
        printf("  %-19s %llu\n", "other",
               (unsigned long long)engine_method_count(e, SIP_M_UNKNOWN));
    for (int c = 1; c <= 6; c++) {
        uint64_t k = engine_status_class_count(e, c);
        if (k)
            printf("  %dxx                 %llu\n", c, (unsigned long long)k);
    }
    printf("distinct call-ids     %llu\n", (unsigned long long)v[TS_SIP_CALL_IDS]);
    printf("encrypted sip flows   %llu\n", (unsigned long long)v[TS_SIP_TLS_FLOWS]);
    /* SRTP with SDP keys: every RTP packet of such streams is one of these
     * (or a replay); not tried: the stream's keys had failed long enough */
    if (v[TS_RTP_SRTP_DECRYPTED] || v[TS_RTP_SRTP_AUTH_FAILED] || v[TS_RTP_SRTP_NOT_TRIED])
        printf("srtp packets          %llu decrypted, %llu failed authentication, %llu not tried\n",
               (unsigned long long)v[TS_RTP_SRTP_DECRYPTED],
               (unsigned long long)v[TS_RTP_SRTP_AUTH_FAILED],
               (unsigned long long)v[TS_RTP_SRTP_NOT_TRIED]);
    int header = 0;
    for (int i = 0; i < TS_STAT_MAX; i++) {
        const char *name = ts_stat_name((enum ts_stat)i);
        bool err = strstr(name, "truncated") || strstr(name, "malformed") ||
                   strstr(name, "unsupported") || strstr(name, "evicted") ||
                   strstr(name, "too_") || strstr(name, "junk") || strstr(name, "full") ||
                   strstr(name, "oversize") || strstr(name, "errors") || strstr(name, "gaps");
        if (!err || !v[i])
            continue;
        if (!header++)
            printf("errors and anomalies:\n");
        printf("  %-22s %llu\n", name, (unsigned long long)v[i]);
    }
}

/* Read-ahead distances within a batch: the stream bucket and the headers of
 * frame i+6 and the stream of frame i+2 are fetched while frame i is
 * analysed (the reader thread wrote the frame on the other core). */
#define PREFETCH_BUCKET 6
#define PREFETCH_STREAM 2

/* Finished calls and streams go to the store, the report and the trunk
 * checklist; the first two may be absent. */
struct sinks {
    struct st_writer *w;
    struct report *r;
    struct checklist *cl;
};

static void sink_call(void *ctx, const struct calls_call *c)
{
    struct sinks *k = ctx;
    if (k->w)
        st_calls_sink(k->w, c);
    if (k->r)
        report_call(k->r, c);
    if (k->cl && !c->replaces) /* a merged call: its legs were counted as they came */
        checklist_call(k->cl, c);
}

static void sink_stream(void *ctx, const struct media_stream *s)
{
    struct sinks *k = ctx;
    if (k->w)
        st_media_sink(k->w, s);
    if (k->r)
        report_stream(k->r, s);
    if (k->cl)
        checklist_media(k->cl, s);
}

static void analyze_batch(struct engine *e, struct st_writer *w, const struct ra_batch *b,
                          struct progress *pg, struct report *r)
{
    if (r && b->n)
        report_tick(r, b->f[0].ts_ns);
    if (pg)
        for (size_t i = 0; i < b->n; i++)
            progress_frame(pg, b->f[i].caplen);
    for (size_t i = 0; i < b->n && i < PREFETCH_BUCKET; i++)
        engine_prefetch(e, &b->f[i], &b->pkt[i]);
    for (size_t i = 0; i < b->n; i++) {
        if (i + PREFETCH_BUCKET < b->n)
            engine_prefetch(e, &b->f[i + PREFETCH_BUCKET], &b->pkt[i + PREFETCH_BUCKET]);
        if (i + PREFETCH_STREAM < b->n)
            engine_prefetch_more(e, &b->pkt[i + PREFETCH_STREAM]);
        if (w)
            st_writer_frame(w, &b->f[i]);
        engine_packet(e, &b->f[i], &b->pkt[i]);
    }
}

int cmd_analyze(int argc, char **argv)
{
    bool json = false, lines = false, quiet = false, alerts = true, timing = false;
    struct phases ph = { .n = 0 };
    struct cl_snapshot *cls = NULL; /* the checklist, once the engine is freed */
    double t0 = 0;
    struct engine_config cfg = { .dedup = true, .track_calls = true };
    const char *config_path = NULL, *csv_path = NULL, *db_path = NULL, *serve_addr = NULL;
    struct tlskeys *tls_keys = NULL; /* --tls-keylog / --tls-key */
    struct cli_tls_opts tls_opts = { .n = 0 };
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    int rc = 0;
    if (!files)
        return 2;
    enum { O_JSON = 256, O_JSON_LINES, O_QUIET, O_NO_DEDUP, O_NO_CALLS, O_CONFIG, O_CSV, O_DB,
           O_SERVE, O_SUMMARY, O_TOP, O_NO_ALERTS, O_TIMING,
           O_TLS_KEYLOG, O_TLS_KEY };
    size_t top = 200; /* rows of the call and stream tables in the text report */
    static const struct option table[] = {
        { "json", no_argument, NULL, O_JSON },
        { "json-lines", no_argument, NULL, O_JSON_LINES },
        { "quiet", no_argument, NULL, O_QUIET },
        { "timing", no_argument, NULL, O_TIMING },
        { "no-dedup", no_argument, NULL, O_NO_DEDUP },
        { "no-calls", no_argument, NULL, O_NO_CALLS },
        { "config", required_argument, NULL, O_CONFIG },
        { "calls-csv", required_argument, NULL, O_CSV },
        { "db", required_argument, NULL, O_DB },
        { "serve", required_argument, NULL, O_SERVE },
        { "no-alerts", no_argument, NULL, O_NO_ALERTS },
        { "summary", no_argument, NULL, O_SUMMARY },
        { "top", required_argument, NULL, O_TOP },
        { "tls-keylog", required_argument, NULL, O_TLS_KEYLOG },
        { "tls-key", required_argument, NULL, O_TLS_KEY },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = "trunkscope analyze", .table = table, .shorts = "h" };
    const char *v;
    for (int c; (c = opts_next(&op, argc, argv, &v)) != OPTS_END;) {
        switch (c) {
        case O_JSON: json = true; break;
        case O_JSON_LINES: lines = true; break;
        case O_QUIET: quiet = true; break;
        case O_TIMING: timing = true; break;
        case O_NO_DEDUP: cfg.dedup = false; break;
        case O_NO_CALLS: cfg.track_calls = false; break;
        case O_CONFIG: config_path = v; break;
        case O_CSV: csv_path = v; break;
        case O_DB: db_path = v; break;
        case O_SERVE: serve_addr = v; break;
        case O_NO_ALERTS: alerts = false; break;
        case O_SUMMARY: top = 0; break;
        case O_TOP: {
            uint64_t t;
            if (!num_u64(v, 1, 1000000000, &t)) {
                fprintf(stderr, "trunkscope analyze: --top needs a number of rows from 1, not '%s'\n", v);
                free(files);
                return 2;
            }
            top = (size_t)t;
            break;
        }
        case O_TLS_KEYLOG:
        case O_TLS_KEY:
            if (cli_tls_opts_add(&tls_opts, "trunkscope analyze", c == O_TLS_KEYLOG, v) != 0) {
                free(files);
                return 2;
            }
            break;
        case OPTS_OPERAND: files[nfiles++] = v; break;
        case 'h':
            usage(stdout);
            free(files);
            return 0;
        default:
            free(files);
            return 2;
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "trunkscope analyze: no input file (try --help)\n");
        free(files);
        return 2;
    }
    if (json && lines) {
        fprintf(stderr, "trunkscope analyze: --json and --json-lines exclude each other\n");
        free(files);
        return 2;
    }
    if (serve_addr && !db_path) {
        fprintf(stderr, "trunkscope analyze: --serve needs --db FILE\n");
        free(files);
        return 2;
    }
    if (nfiles > TS_MAX_INPUT_FILES) {
        fprintf(stderr, "trunkscope analyze: at most %d input files\n", TS_MAX_INPUT_FILES);
        free(files);
        return 2;
    }

    /* outputs and the listen address are checked before the analysis */
    FILE *csv = NULL;
    if (csv_path && !(csv = fopen(csv_path, "w"))) {
        fprintf(stderr, "trunkscope analyze: cannot write %s: %s\n", csv_path, strerror(errno));
        free(files);
        return 2;
    }
    if (serve_addr) {
        char err[320];
        if (!cli_listen_ok(serve_addr, err, sizeof err)) {
            fprintf(stderr, "trunkscope analyze: --serve: %s\n", err);
            if (csv)
                fclose(csv);
            free(files);
            return 2;
        }
    }

    struct calls_config ccfg;
    calls_config_default(&ccfg);
    /* a file is read to its end: calls wait longer for the topology */
    ccfg.learn_hold_legs = TS_TOPO_CONVERGE_LEGS_OFFLINE;
    ccfg.learn_hold_s = TS_TOPO_CONVERGE_S_OFFLINE;
    if (config_path) {
        char err[256];
        if (calls_config_load(&ccfg, config_path, err, sizeof err) != 0) {
            fprintf(stderr, "trunkscope analyze: %s\n", err);
            if (csv)
                fclose(csv);
            free(files);
            return 2;
        }
    }
    cfg.calls_cfg = &ccfg;
    struct alert_config *acfg = db_path && alerts ? malloc(sizeof *acfg) : NULL;
    if (acfg && cli_alerts_config(config_path, "trunkscope analyze", acfg) != 0) {
        free(acfg);
        if (csv)
            fclose(csv);
        free(files);
        return 2;
    }
    /* streamed report: the engine keeps no finished records (the CSV of
     * every call still needs them, and then the report is written at the end) */
    bool streamed = (json || lines) && !csv_path;
    cfg.no_report = streamed;

    ts_hash_seed_random();
    struct pcapng_secrets_counts secrets = { 0 };
    if (cli_tls_opts_load(&tls_opts, &tls_keys, "trunkscope analyze", (const char *const *)files,
                          nfiles, &secrets) != 0) {
        tlskeys_free(tls_keys);
        free(acfg);
        if (csv)
            fclose(csv);
        free(files);
        return 2;
    }
    cfg.tls_keys = tls_keys;
    struct st_writer *w = NULL;
    if (db_path) {
        char err[512];
        /* a file waits for the writer rather than losing records */
        struct st_options so = { .wait_when_full = true };
        w = st_writer_open(db_path, &so, err, sizeof err);
        if (!w) {
            fprintf(stderr, "trunkscope analyze: %s\n", err);
            free(acfg);
            tlskeys_free(tls_keys);
            if (csv)
                fclose(csv);
            free(files);
            return 2;
        }
    }
    struct engine *e = engine_new(&cfg);
    struct pcapin *in = pcapin_new();
    char **errors = calloc(nfiles + TS_READ_ERRORS_KEPT + 1, sizeof *errors);
    size_t nerr = 0;
    if (e)
        cli_tls_secrets_count(e, &secrets);
    struct sinks sk = { w, NULL, e && engine_calls(e) ? checklist_new() : NULL };
    struct progress *pg = NULL;
    if (!e || !in || !errors || (e && engine_calls(e) && !sk.cl)) {
        fprintf(stderr, "trunkscope analyze: out of memory\n");
        rc = 2;
        goto out;
    }
    if (streamed || lines) {
        char err[512];
        sk.r = report_new(stdout, lines ? REPORT_JSON_LINES : REPORT_JSON, e, err, sizeof err);
        if (!sk.r) {
            fprintf(stderr, "trunkscope analyze: %s\n", err);
            rc = 2;
            goto out;
        }
    }
    if (w) {
        engine_set_sip_hook(e, st_sip_hook, w); /* malformed messages too */
        engine_set_tls_sink(e, st_tls_sink, w);
        engine_set_oflow_sink(e, st_oflow_sink, w);
    }
    if (w || sk.r || sk.cl) {
        engine_set_call_sink(e, sink_call, &sk);
        engine_set_stream_sink(e, sink_stream, &sk);
    }
    for (size_t i = 0; i < nfiles; i++) {
        char err[512];
        if (pcapin_add(in, files[i], err, sizeof err) != 0) {
            errors[nerr++] = strdup(err);
            rc = 2;
        } else if (w) {
            st_capture_begin(w, files[i]); /* same order as file_idx */
        }
    }
    if (!quiet && isatty(STDERR_FILENO)) {
        uint64_t total = 0;
        for (size_t i = 0; i < nfiles; i++) {
            struct stat sb;
            if (strcmp(files[i], "-") == 0 || stat(files[i], &sb) != 0 || !S_ISREG(sb.st_mode)) {
                total = 0; /* a pipe: no percentage */
                break;
            }
            total += (uint64_t)sb.st_size;
        }
        pg = progress_new(stderr, total);
    }
    t0 = now_s();
    ph.last = t0;
    /* the files are read (and each frame's hashes computed) on a second thread */
    struct readahead *ra = readahead_start(in, engine_decode, engine_decode_spare_size(), true);
    if (!ra) {
        fprintf(stderr, "trunkscope analyze: out of memory\n");
        rc = 2;
        goto out;
    }
    const struct ra_batch *b;
    while ((b = readahead_next(ra)))
        analyze_batch(e, w, b, pg, sk.r);
    progress_free(pg); /* clears its line */
    pg = NULL;
    phase_end(&ph, "read and analysis");
    size_t kept, total;
    const char *const *rerr = readahead_errors(ra, &kept, &total);
    for (size_t i = 0; i < kept; i++)
        errors[nerr++] = rerr[i] ? strdup(rerr[i]) : NULL;
    if (total > kept) {
        char more[64];
        snprintf(more, sizeof more, "%zu more read errors", total - kept);
        errors[nerr++] = strdup(more);
    }
    if (total)
        rc = 2;
    readahead_free(ra);
    /* the calls up at the end share a transaction with their streams */
    st_writer_hold(w, true);
    engine_finish(e);
    st_writer_hold(w, false);
    phase_end(&ph, "end of input");
    struct st_stats sst = { 0 };
    bool text = !json && !lines;
    if (w) {
        st_capture_end(w);
        if (engine_calls(e))
            st_writer_trunks_queue(w, engine_calls(e));
        /* the text report is printed while the writer ends its last
         * transaction; the JSON one carries the store's counts */
        if (!text) {
            st_writer_wait(w);
            st_writer_stats(w, &sst);
            phase_end(&ph, "store");
        }
    }
    double elapsed = now_s() - t0;

    if (csv) {
        if (calls_write_csv(csv, engine_calls(e)) != 0 || fclose(csv) != 0) {
            fprintf(stderr, "trunkscope analyze: cannot write %s\n", csv_path);
            rc = 2;
        }
        csv = NULL;
        phase_end(&ph, "calls csv");
    }
    if (json || lines) {
        struct report_input ri = { e, (const char *const *)errors, nerr, elapsed,
                                   w ? &sst : NULL, sk.cl };
        if ((sk.r ? report_finish(sk.r, &ri) : report_write_kept(stdout, &ri)) != 0) {
            fprintf(stderr, "trunkscope analyze: cannot write the report\n");
            rc = 2;
        }
        phase_end(&ph, "report");
    } else {
        print_text(e, elapsed);
        if (engine_calls(e))
            calls_print(stdout, engine_calls(e), top);
        if (sk.cl)
            checklist_print(stdout, sk.cl, engine_calls(e));
        media_print(stdout, engine_media(e), top);
        tls_print(stdout, engine_tlspeers(e), (int64_t)time(NULL));
        other_print(stdout, engine_oflows(e));
        phase_end(&ph, "report");
        if (w) {
            /* the writer holds copies (the records, the trunk snapshot): the
             * engine is freed while it ends, the checklist kept for after */
            if (sk.cl)
                cls = checklist_snapshot(sk.cl, engine_calls(e));
            engine_free(e);
            e = NULL;
            phase_end(&ph, "free");
            st_writer_wait(w);
            st_writer_stats(w, &sst);
            phase_end(&ph, "store");
            st_stats_print(stdout, &sst);
        }
        if (fflush(stdout) != 0 || ferror(stdout)) { /* a full device, a closed pipe */
            fprintf(stderr, "trunkscope analyze: cannot write the report: %s\n", strerror(errno));
            rc = 2;
        }
    }
    if (w && (sst.errors || sst.dropped_full)) {
        /* the analysis is complete, the database is not: say so, once */
        fprintf(stderr,
                "trunkscope analyze: %s: %llu of %llu records not written (%s%s)\n", db_path,
                (unsigned long long)(sst.errors + sst.dropped_full),
                (unsigned long long)(sst.written + sst.errors + sst.dropped_full),
                sst.errors ? sst.last_error : "store queue full",
                sst.errors && sst.dropped_full ? "; store queue full too" : "");
        rc = 2;
    }
    /* Errors last, one line each, after everything else was analysed. */
    for (size_t i = 0; i < nerr; i++)
        fprintf(stderr, "trunkscope analyze: %s\n", errors[i] ? errors[i] : "error");
out:
    if (csv)
        fclose(csv);
    progress_free(pg);
    report_free(sk.r);
    if (errors)
        for (size_t i = 0; i < nerr; i++)
            free(errors[i]);
    free(errors);
    pcapin_free(in);
    if (w) {
        st_writer_close(w);
        phase_end(&ph, "store close");
    }
    /* the trunk checklist beside the trunks, once the writer put them there */
    if (w && sk.cl && rc == 0) {
        char err[512];
        if (!cls && e)
            cls = checklist_snapshot(sk.cl, engine_calls(e));
        if (checklist_snapshot_save(cls, db_path, err, sizeof err) != 0) {
            fprintf(stderr, "trunkscope analyze: %s\n", err);
            rc = 2;
        }
        phase_end(&ph, "checklist");
    }
    checklist_snapshot_free(cls);
    checklist_free(sk.cl);
    if (e) {
        engine_free(e);
        phase_end(&ph, "free");
    }
    tlskeys_free(tls_keys); /* after the engine, whose decryptors use it */
    free(files);
    /* the alert rules replay a complete store only: after an error (a write
     * refused, an unreadable input) the one line already said what is wrong */
    if (w && acfg && rc == 0) {
        if (cli_alerts_replay(acfg, db_path, "trunkscope analyze") != 0)
            rc = 2;
        phase_end(&ph, "alerts");
    }
    free(acfg);
    if (timing && t0 > 0)
        phases_print(&ph, t0);
    if (serve_addr && rc == 0) {
        struct api_options o = { .db_path = db_path, .http = serve_addr,
                                 .static_dir = cli_default_static_dir(), .audio = ccfg.audio };
        char err[256];
        serve_prepare_signals();
        struct api_server *s = api_start(&o, err, sizeof err);
        if (!s) {
            fprintf(stderr, "trunkscope analyze: %s\n", err);
            return 2;
        }
        fprintf(stderr, "trunkscope: serving %s on http://%s/ (Ctrl-C to stop)\n", db_path,
                serve_addr);
        rc = serve_until_signal(s);
    }
    return rc;
}
