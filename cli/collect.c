/* `trunkscope collect`: the central view of many sensors. HEPv3 (and v2) over
 * UDP and TCP from trunkscope sensors, Kamailio/OpenSIPS siptrace, sngrep and
 * other HEP agents; each SIP (and RTCP) payload runs through the same engine
 * as captured packets, with the sender's addresses, time and site. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../api/api.h"
#include "../calls/calls.h"
#include "../common/hash.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/num.h"
#include "../common/opts.h"
#include "../engine/engine.h"
#include "../engine/engine_hep.h"
#include "../net/hep_listen.h"
#include "../store/store.h"
#include "alerting.h"
#include "../alert/eval.h"
#include "cli.h"
#include "report.h"
#include "sensor.h"
#include "../store/spool.h"
#include "checklist_live.h"

#define PROG "trunkscope collect"
#define STATS_PERIOD_S 10

struct col_args {
    struct hep_listen_opts lo;
    struct sensor_opts so;
    const char *http, *key_file;
    bool json;
};

/* Collector state seen by the HEP callback. */
struct col_ctx {
    struct engine *e;
    uint64_t sip, rtcp, reports, other, too_big;
    uint64_t max_ts, mono_at_max; /* senders' clock, for idle ticks */
    struct sensor_live sl;        /* snapshots to the store, calls up, packets/s */
    struct st_writer *w;          /* for the API's store figures (thread-safe) */
    struct spool *sp;             /* what HEP brought, as frames (--spool), or NULL */
    _Atomic int64_t packets, bytes, kernel_drops; /* published for the API thread */
};

/* The API's live figures (a server thread): HEP packets, kernel drops,
 * calls up, packets/s and the store's figures. */
static void api_live(void *ctx, struct api_live_stats *out)
{
    struct col_ctx *c = ctx;
    out->drops_queue = out->sip_messages = out->queue_depth = -1;
    out->packets = atomic_load(&c->packets);
    out->bytes = atomic_load(&c->bytes);
    out->drops_kernel = atomic_load(&c->kernel_drops);
    sensor_live_figures(&c->sl, &out->active_calls, &out->packets_per_second);
    sensor_store_live(c->w, out);
    sensor_spool_live(c->sp, out);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trunkscope collect --hep-listen ADDR:PORT[/udp|/tcp] [...] [options]\n"
            "  --hep-listen SPEC      receive HEP on SPEC (repeatable, at most %d; default UDP;\n"
            "                         TCP carries HEP3 packets back to back)\n"
            "  --db FILE              store calls in this SQLite database\n"
            "  --http ADDR:PORT       serve the HTTP API over --db\n"
            "  --retention-days N     delete calls older than N days (0: keep, default)\n"
            "  --retention-mb N       keep the database under N MB, oldest calls go first\n"
            "  --token-file F         bearer token of the HTTP API (needed off loopback)\n"
            "  --hep-auth-key-file F  accept only HEP packets carrying this auth key\n"
            "  --hep-rate N           messages/s per sender (default %d, burst %d); 0: no limit\n"
            "  --hep-burst N          token bucket depth per sender\n"
            "  --config FILE          trunk names, internal networks, correlation headers\n"
            "  --duration S           stop after S seconds\n"
            "  --stats-file F         HEP counters per sender as JSON, every %d s and at exit\n"
            "  --log FILE             event log (default stderr; reopened on SIGHUP)\n"
            "  --status-interval S    a status line in the log every S seconds (default 60)\n"
            "  --json                 print the analyze --json report at exit (keeps every\n"
            "                         finished call and stream in memory until then)\n"
            SENSOR_SPOOL_USAGE
            "The site of each leg is the sender's HEP node name, else its node id.\n"
            "Capture times more than %d ms ahead of this host's clock are replaced by the\n"
            "receive time (counted per sender as clock_ahead).\n"
            "SIGINT/SIGTERM stop cleanly; SIGHUP reloads --config and the auth key file and\n"
            "reopens --log, losing nothing.\n",
            TS_HEP_MAX_LISTEN, TS_HEP_RATE_DEFAULT, TS_HEP_BURST_DEFAULT, STATS_PERIOD_S,
            TS_HEP_CLOCK_AHEAD_MS);
}

static int parse_args(int argc, char **argv, struct col_args *a)
{
    memset(a, 0, sizeof *a);
    a->so.spool_min_free_mb = -1;
    enum { O_JSON = 256, O_HEP_LISTEN, O_HTTP, O_KEY_FILE, O_HEP_RATE, O_HEP_BURST };
    static const struct option table[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, O_JSON },
        { "hep-listen", required_argument, NULL, O_HEP_LISTEN },
        { "http", required_argument, NULL, O_HTTP },
        { "hep-auth-key-file", required_argument, NULL, O_KEY_FILE },
        { "hep-rate", required_argument, NULL, O_HEP_RATE },
        { "hep-burst", required_argument, NULL, O_HEP_BURST },
        SENSOR_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = PROG, .unknown_suffix = " (try --help)", .table = table,
                       .shorts = "h" };
    const char *v;
    for (int c; (c = opts_next(&op, argc, argv, &v)) != OPTS_END;) {
        uint64_t u;
        if (sensor_opt_known(c)) {
            if (sensor_opt(&a->so, PROG, c, v) != 0)
                return 2;
            continue;
        }
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case O_JSON:
            a->json = true;
            break;
        case O_HEP_LISTEN:
            if (a->lo.nspecs >= TS_HEP_MAX_LISTEN) {
                fprintf(stderr, PROG ": at most %d --hep-listen\n", TS_HEP_MAX_LISTEN);
                return 2;
            }
            a->lo.specs[a->lo.nspecs++] = v;
            break;
        case O_HTTP:
            a->http = v;
            break;
        case O_KEY_FILE:
            a->key_file = v;
            break;
        case O_HEP_RATE:
        case O_HEP_BURST:
            if (!num_u64(v, 0, 100000000, &u)) {
                fprintf(stderr, PROG ": %s wants a number\n",
                        c == O_HEP_BURST ? "--hep-burst" : "--hep-rate");
                return 2;
            }
            if (c == O_HEP_BURST)
                a->lo.burst = (uint32_t)u;
            else if (u == 0)
                a->lo.unlimited = true;
            else
                a->lo.rate = (uint32_t)u;
            break;
        case OPTS_OPERAND:
            fprintf(stderr, PROG ": unknown option '%s' (try --help)\n", v);
            return 2;
        default:
            return 2;
        }
    }
    if (!a->lo.nspecs) {
        fprintf(stderr, PROG ": no --hep-listen ADDR:PORT\n");
        return 2;
    }
    return sensor_opts_check(&a->so, PROG, a->http);
}

/* The key file's first line, surrounding whitespace trimmed, into buf. */
static int read_key(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[TS_HEP_AUTH_KEY_MAX + 4];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                 line[n - 1] == '\t'))
        n--;
    size_t s = 0;
    while (s < n && (line[s] == ' ' || line[s] == '\t'))
        s++;
    if (n - s == 0 || n - s > TS_HEP_AUTH_KEY_MAX || n - s > cap)
        return -1;
    memcpy(buf, line + s, n - s);
    *len = n - s;
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Finished streams (of RTP the senders forwarded): the trunk checklist's. */
static void col_stream(void *ctx, const struct media_stream *s)
{
    struct col_ctx *c = ctx;
    checklist_live_stream(c->sl.cl, s);
}

/* HEP callback: SIP and RTCP into the engine with the sender's site. */
static void on_hep(void *ctx, const struct hep_msg *h, const struct hep_sender *from,
                   uint64_t recv_ns)
{
    struct col_ctx *c = ctx;
    if (h->proto_type != HEP_PROTO_SIP && h->proto_type != HEP_PROTO_RTCP) {
        if (h->proto_type == 34 || h->proto_type == 35)
            c->reports++;
        else
            c->other++;
        return;
    }
    char site[TS_SITE_LEN];
    if (from->node_name[0])
        snprintf(site, sizeof site, "%s", from->node_name);
    else
        snprintf(site, sizeof site, "%u", from->node_id);
    /* A message without a trusted time (none, or one ahead of our clock that
     * hep_listen dropped) takes the senders' clock, not the wall clock: a
     * sensor replaying an old capture must not be aged by it. */
    struct hep_msg hm = *h;
    bool trusted = h->ts_ns != 0;
    if (!trusted)
        hm.ts_ns = c->max_ts ? c->max_ts + (mono_ns() - c->mono_at_max) : recv_ns;
    if (engine_hep(c->e, &hm, site, recv_ns) != ENGINE_HEP_OK) {
        c->too_big++;
        return;
    }
    if (h->proto_type == HEP_PROTO_SIP)
        c->sip++;
    else
        c->rtcp++;
    /* times ahead of our clock never get here, so one datagram cannot move
     * this clock into the future */
    uint64_t ts = hm.ts_ns;
    if (ts > c->max_ts && (trusted || !c->max_ts)) {
        c->max_ts = ts;
        c->mono_at_max = mono_ns();
    }
}


static void sender_fields(FILE *f, const struct hep_sender *s)
{
    fprintf(f,
            "\"packets\": %llu, \"bytes\": %llu, \"accepted\": %llu, \"truncated\": %llu, "
            "\"malformed\": %llu, \"unsupported\": %llu, \"unauthenticated\": %llu, "
            "\"rate_limited\": %llu, \"unauth_limited\": %llu, \"clock_ahead\": %llu",
            (unsigned long long)s->packets, (unsigned long long)s->bytes,
            (unsigned long long)s->accepted, (unsigned long long)s->truncated,
            (unsigned long long)s->malformed, (unsigned long long)s->unsupported,
            (unsigned long long)s->unauthenticated, (unsigned long long)s->rate_limited,
            (unsigned long long)s->unauth_limited, (unsigned long long)s->clock_ahead);
}

/* HEP counters, total and per sender, and the store's (store NULL: none),
 * written whole then renamed. */
static void write_stats(const char *path, const struct hep_listen *l, const struct col_ctx *c,
                        const struct st_stats *store, const struct spool_stats *sp, bool final)
{
    char tmp[4096];
    FILE *f = sensor_stats_open(path, tmp, sizeof tmp);
    if (!f)
        return;
    struct hep_listen_stats st;
    hep_listen_stats(l, &st);
    fprintf(f, "{\"final\": %s, ", final ? "true" : "false");
    sender_fields(f, &st.total);
    fprintf(f,
            ", \"sip\": %llu, \"rtcp\": %llu, \"reports\": %llu, \"other\": %llu, "
            "\"too_big\": %llu, \"senders_evicted\": %llu, \"tcp_accepted\": %llu, "
            "\"tcp_refused\": %llu, \"tcp_framing_errors\": %llu, \"tcp_evicted\": %llu, "
            "\"tcp_idle_closed\": %llu, \"tcp_open\": %zu, \"kernel_drops\": %llu, \"ports\": [",
            (unsigned long long)c->sip, (unsigned long long)c->rtcp,
            (unsigned long long)c->reports, (unsigned long long)c->other,
            (unsigned long long)c->too_big, (unsigned long long)st.senders_evicted,
            (unsigned long long)st.tcp_accepted, (unsigned long long)st.tcp_refused,
            (unsigned long long)st.tcp_framing_errors, (unsigned long long)st.tcp_evicted,
            (unsigned long long)st.tcp_idle_closed, hep_listen_conn_count(l),
            (unsigned long long)st.kernel_drops);
    for (size_t i = 0; hep_listen_port(l, i); i++)
        fprintf(f, "%s%u", i ? ", " : "", hep_listen_port(l, i));
    fprintf(f, "], \"senders\": [");
    for (size_t i = 0; i < hep_listen_sender_count(l); i++) {
        const struct hep_sender *s = hep_listen_sender(l, i);
        char ip[64];
        fprintf(f, "%s{\"addr\": ", i ? ", " : "");
        jsonw_fput_str(f, ts_addr_str(&s->addr, ip, sizeof ip));
        fprintf(f, ", \"node_id\": %u, \"node_name\": ", s->node_id);
        jsonw_fput_str(f, s->node_name);
        fprintf(f, ", ");
        sender_fields(f, s);
        fprintf(f, "}");
    }
    fprintf(f, "]");
    sensor_store_json(f, store);
    sensor_spool_json(f, sp);
    fprintf(f, "}\n");
    sensor_stats_commit(f, tmp, path);
}

/* SIGHUP: reopen the log, re-read the auth key file and --config; what
 * fails to load keeps the old value. The HEP loop never stops meanwhile
 * (the sockets keep queueing), so nothing is lost. */
static void reload(const struct col_args *a, struct col_ctx *c, struct hep_listen *l)
{
    struct calls_config *cfg = sensor_reload_config(a->so.config);
    if (a->key_file) {
        char key[TS_HEP_AUTH_KEY_MAX];
        size_t klen;
        if (read_key(a->key_file, key, sizeof key, &klen) != 0)
            log_msg(LOG_ERROR, "SIGHUP: %s: cannot read an auth key, keeping the old one",
                    a->key_file);
        else
            hep_listen_set_key(l, bv_make(key, klen));
    }
    if (!a->so.config)
        log_msg(LOG_INFO, "SIGHUP: log reopened%s (no --config to reload)",
                a->key_file ? ", auth key re-read" : "");
    if (!cfg)
        return;
    engine_set_calls_config(c->e, cfg);
    log_msg(LOG_INFO, "config reloaded: %zu trunk names, %zu internal networks, "
                      "%zu correlation headers (applies to new calls)",
            cfg->ntrunk_names, cfg->nnets, cfg->ncorr_hdrs);
    free(cfg);
}

int cmd_collect(int argc, char **argv)
{
    struct col_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    rc = 2;
    sigset_t sigs;
    sensor_block_signals(&sigs, true);

    char err[1024], key[TS_HEP_AUTH_KEY_MAX];
    struct calls_config ccfg;
    struct col_ctx ctx;
    struct hep_listen *l = NULL;
    struct st_writer *w = NULL;
    struct api_server *api = NULL;
    struct cli_alerts *alerts = NULL;
    struct alert_config acfg;
    memset(&ctx, 0, sizeof ctx);
    sensor_live_init(&ctx.sl, NULL);
    if (a.so.log_file && log_open(a.so.log_file) != LOG_OK) {
        fprintf(stderr, PROG ": %s: %s\n", a.so.log_file, strerror(errno));
        return 2;
    }
    if (a.key_file) {
        size_t klen;
        if (read_key(a.key_file, key, sizeof key, &klen) != 0) {
            fprintf(stderr, PROG ": %s: cannot read an auth key (1..%d bytes)\n", a.key_file,
                    TS_HEP_AUTH_KEY_MAX);
            goto out;
        }
        a.lo.auth_key = bv_make(key, klen);
    }
    if (sensor_load_config(&a.so, PROG, &ccfg) != 0 ||
        cli_alerts_config(a.so.config, PROG, &acfg) != 0)
        goto out;
    ts_hash_seed_random();
    /* Sensors' messages are not SPAN copies: de-duplication stays off. */
    struct engine_config ecfg = { .dedup = false, .track_calls = true, .calls_cfg = &ccfg,
                                  .no_report = !a.json };
    ctx.e = engine_new(&ecfg);
    if (!ctx.e) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    l = hep_listen_new(&a.lo, on_hep, &ctx, err, sizeof err);
    if (!l) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (a.so.db) {
        w = sensor_open_store(&a.so, PROG);
        if (!w)
            goto out;
        sensor_live_attach(&ctx.sl, ctx.e, w, a.so.db);
        engine_set_stream_sink(ctx.e, col_stream, &ctx);
        engine_set_sip_hook(ctx.e, st_sip_hook, w);
        ctx.w = w;
        bool failed;
        ctx.sp = sensor_open_spool(&a.so, PROG, NULL, &failed);
        if (failed)
            goto out;
        if (ctx.sp)
            engine_set_frame_hook(ctx.e, sensor_spool_frame, ctx.sp);
    }
    if (a.so.db)
        alerts = cli_alerts_start(&acfg, a.so.db, ALERT_EVAL_DATA, NULL, NULL);
    if (a.http) {
        struct api_options ao = { .db_path = a.so.db, .http = a.http, .token_file = a.so.token_file,
                                  .audio = ccfg.audio };
        api = api_start(&ao, err, sizeof err);
        if (!api) {
            fprintf(stderr, PROG ": %s\n", err);
            goto out;
        }
        api_set_stats_fn(api, api_live, &ctx);
    }
    {
        char ports[128] = "";
        size_t pl = 0;
        for (size_t i = 0; hep_listen_port(l, i) && pl < sizeof ports; i++) {
            int k = snprintf(ports + pl, sizeof ports - pl, "%s%s (port %u)", i ? ", " : "",
                             a.lo.specs[i], hep_listen_port(l, i));
            pl += k > 0 ? (size_t)k : 0;
        }
        log_msg(LOG_INFO, "collector listening on %s%s%s", ports, a.key_file ? "; auth key" : "",
                a.so.db ? "; db" : "");
    }
    struct timespec t0s;
    clock_gettime(CLOCK_MONOTONIC, &t0s);
    double t0 = (double)t0s.tv_sec + (double)t0s.tv_nsec / 1e9, next_stats = t0;
    double status_s = a.so.status_s ? a.so.status_s : SENSOR_STATUS_S_DEFAULT;
    double next_status = t0 + status_s, last_status = t0;
    uint64_t status_prev = 0;
    const char *why = "end";
    rc = 0;
    for (;;) {
        hep_listen_poll(l, 100);
        struct timespec zero = { 0, 0 }, nowts;
        int sig = sigtimedwait(&sigs, NULL, &zero);
        if (sig == SIGINT || sig == SIGTERM) {
            why = sig == SIGINT ? "SIGINT" : "SIGTERM";
            break;
        }
        if (sig == SIGHUP)
            reload(&a, &ctx, l);
        clock_gettime(CLOCK_MONOTONIC, &nowts);
        double now = (double)nowts.tv_sec + (double)nowts.tv_nsec / 1e9;
        /* idle time runs on the senders' clock, advanced by the wall time
         * since their latest message (they may replay old captures) */
        if (ctx.max_ts) {
            uint64_t t = ctx.max_ts + (mono_ns() - ctx.mono_at_max);
            engine_tick(ctx.e, t);
            spool_tick(ctx.sp, t);
            sensor_live_step(&ctx.sl, engine_calls(ctx.e), t);
        }
        struct hep_listen_stats hs;
        hep_listen_stats(l, &hs);
        sensor_live_rate(&ctx.sl, hs.total.packets, now);
        atomic_store(&ctx.packets, (int64_t)hs.total.packets);
        atomic_store(&ctx.bytes, (int64_t)hs.total.bytes);
        atomic_store(&ctx.kernel_drops, (int64_t)hs.kernel_drops);
        if (now >= next_status) {
            /* the engine runs on this thread: its counters are ours to read */
            const struct ts_stats *es = engine_stats(ctx.e);
            uint64_t msgs = ctx.sip + ctx.rtcp + ctx.reports + ctx.other;
            log_msg(LOG_INFO,
                    "status: HEP %llu SIP, %llu RTCP, %llu quality reports, %llu other "
                    "(%.0f/s), %llu too big; %llu calls, %llu streams",
                    (unsigned long long)ctx.sip, (unsigned long long)ctx.rtcp,
                    (unsigned long long)ctx.reports, (unsigned long long)ctx.other,
                    now > last_status ? (double)(msgs - status_prev) / (now - last_status) : 0,
                    (unsigned long long)ctx.too_big,
                    (unsigned long long)es->v[TS_CALLS_CALLS],
                    (unsigned long long)es->v[TS_RTP_STREAMS]);
            status_prev = msgs;
            last_status = now;
            next_status = now + status_s;
        }
        if (a.so.stats_file && now >= next_stats) {
            struct st_stats ss;
            struct spool_stats sps;
            if (w)
                st_writer_stats(w, &ss);
            spool_stats_get(ctx.sp, &sps);
            write_stats(a.so.stats_file, l, &ctx, w ? &ss : NULL, ctx.sp ? &sps : NULL, false);
            next_stats = now + STATS_PERIOD_S;
        }
        if (a.so.duration_s && now - t0 >= (double)a.so.duration_s) {
            why = "--duration";
            break;
        }
    }
    /* take what is still queued in the socket buffers */
    while (hep_listen_poll(l, 0))
        ;
    log_msg(LOG_INFO, "stopping (%s)", why);
    cli_alerts_stop(alerts);
    alerts = NULL;
    engine_finish(ctx.e);
    struct st_stats ss;
    memset(&ss, 0, sizeof ss);
    api_stop(api); /* it reads the writer's figures */
    api = NULL;
    char spool_line[320] = "";
    struct spool_stats fsp;
    bool have_sp = ctx.sp != NULL;
    if (ctx.sp) {
        spool_close_stats(ctx.sp, &fsp);
        ctx.sp = NULL;
        sensor_spool_line(spool_line, sizeof spool_line, &fsp);
    }
    char store_line[320] = "";
    bool stored = w != NULL;
    if (w) {
        st_writer_trunks(w, engine_calls(ctx.e));
        checklist_live_stop(ctx.sl.cl, engine_calls(ctx.e)); /* beside the trunks just written */
        ctx.sl.cl = NULL;
        ctx.w = NULL;
        st_writer_close_stats(w, &ss); /* after the last batch: what was really stored */
        w = NULL;
        snprintf(store_line, sizeof store_line,
                 "; store: %llu calls and %llu records written, %llu not written%s%s",
                 (unsigned long long)ss.calls_written, (unsigned long long)ss.written,
                 (unsigned long long)(ss.errors + ss.dropped_full),
                 ss.errors ? ", last error: " : "", ss.errors ? ss.last_error : "");
    }
    struct hep_listen_stats hs;
    hep_listen_stats(l, &hs);
    const struct ts_stats *est = engine_stats(ctx.e);
    log_msg(LOG_INFO,
            "collector stopped: %llu HEP packets from %zu senders, %llu accepted, %llu SIP, "
            "%llu RTCP, %llu truncated, %llu malformed, %llu unauthenticated, %llu rate-limited, "
            "%llu kernel drops; %llu calls analysed%s%s",
            (unsigned long long)hs.total.packets, hep_listen_sender_count(l),
            (unsigned long long)hs.total.accepted, (unsigned long long)ctx.sip,
            (unsigned long long)ctx.rtcp, (unsigned long long)hs.total.truncated,
            (unsigned long long)hs.total.malformed, (unsigned long long)hs.total.unauthenticated,
            (unsigned long long)hs.total.rate_limited, (unsigned long long)hs.kernel_drops,
            (unsigned long long)est->v[TS_CALLS_CALLS], store_line, spool_line);
    if (a.so.stats_file)
        write_stats(a.so.stats_file, l, &ctx, stored ? &ss : NULL, have_sp ? &fsp : NULL, true);
    if (a.json) {
        double elapsed = 0;
        struct timespec te;
        clock_gettime(CLOCK_MONOTONIC, &te);
        elapsed = (double)te.tv_sec + (double)te.tv_nsec / 1e9 - t0;
        struct report_input ri = { ctx.e, NULL, 0, elapsed, stored ? &ss : NULL, NULL };
        if (report_write_kept(stdout, &ri) != 0)
            rc = 2;
    }
out:
    cli_alerts_stop(alerts);
    api_stop(api);
    checklist_live_stop(ctx.sl.cl, NULL);
    spool_close(ctx.sp);
    st_writer_close(w);
    hep_listen_free(l);
    engine_free(ctx.e);
    log_close();
    return rc;
}
