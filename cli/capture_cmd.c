/* `trunkscope capture -i IFACE ...`: the live sensor. Capture threads ->
 * queues -> one analysis thread (the engine) -> the store's writer thread;
 * the main thread only handles signals, statistics and the event log. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../api/api.h"
#include "../calls/calls.h"
#include "../capture/live.h"
#include "../capture/pcapin.h"
#include "../crypto/tlskeys.h"
#include "../common/hash.h"
#include "../common/jsonw.h"
#include "../common/limits.h"
#include "../common/log.h"
#include "../common/num.h"
#include "../common/opts.h"
#include "../engine/engine.h"
#include "../media/media.h"
#include "../net/hep_send.h"
#include "../store/spool.h"
#include "../store/store.h"
#include "alerting.h"
#include "../alert/eval.h"
#include "cli.h"
#include "report.h"
#include "checklist_live.h"
#include "sensor.h"
#include "tlsopt.h"

#define PROG "trunkscope capture"
/* Drop counters are logged at most this often, and only when they moved. */
#define DROP_LOG_PERIOD_S 60
/* The statistics file is rewritten this often. */
#define STATS_PERIOD_S 10

struct cap_args {
    struct live_opts lo;
    struct sensor_opts so;
    const char *http, *user;
    bool json, dedup;
    const char *hep, *hep_key_file, *hep_node_name, *site;
    bool hep_tcp;
    uint32_t hep_node_id;
    struct cli_tls_opts tls; /* --tls-keylog / --tls-key, in order */
};

/* State shared with the analysis thread through the live callbacks. */
struct cap_ctx {
    struct engine *e;
    _Atomic(struct calls_config *) pending; /* loaded on SIGHUP, taken by cb_sync */
    _Atomic uint64_t drop_events, last_drop_ns;
    char site[TS_SITE_LEN];        /* this sensor's site, on every frame */
    struct st_writer *w;           /* SIP hook targets (either may be NULL) */
    struct hep_send *hep;
    uint32_t hep_node_id;
    char hep_node_name[TS_SITE_LEN];
    char hep_key[TS_HEP_AUTH_KEY_MAX];
    size_t hep_key_len;
    char report[1024];             /* quality report scratch (analysis thread) */
    struct live *lv;               /* for the API's live figures */
    struct sensor_live sl;         /* snapshots to the store, calls up, packets/s */
    struct spool *sp;              /* the capture spool (--spool), or NULL */
};

/* The alert evaluator's capture_drops: every packet the sensor lost. */
static uint64_t cap_drops(void *ctx)
{
    struct cap_ctx *c = ctx;
    struct live_stats s;
    live_stats_get(c->lv, &s);
    return s.kernel_drops + s.if_drops + s.queue_drops;
}

/* /stats and /metrics of a running sensor (a server thread): capture
 * counters from the live module, which are thread-safe to read. */
static void api_live(void *ctx, struct api_live_stats *out)
{
    struct cap_ctx *c = ctx;
    struct live_stats s;
    live_stats_get(c->lv, &s);
    out->packets = (int64_t)s.received;
    out->bytes = (int64_t)s.bytes;
    out->drops_kernel = (int64_t)s.kernel_drops;
    out->drops_queue = (int64_t)s.queue_drops;
    sensor_store_live(c->w, out); /* the store's figures, never left unknown with --db */
    out->sip_messages = -1;
    out->queue_depth = (int64_t)(s.received - s.analysed - s.queue_drops);
    sensor_live_figures(&c->sl, &out->active_calls, &out->packets_per_second);
    sensor_spool_live(c->sp, out);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trunkscope capture -i IFACE [-i IFACE2 ...] [options]\n"
            "  -i, --interface IFACE  capture on IFACE (repeatable, at most %d)\n"
            "  --db FILE              store calls in this SQLite database\n"
            "  --http ADDR:PORT       serve the HTTP API and dashboard (needs --db)\n"
            "  --retention-days N     delete calls older than N days (0: keep, default)\n"
            "  --retention-mb N       keep the database under N MB, oldest calls go first\n"
            "  --token-file F         bearer token for the API (required off loopback)\n"
            "  --filter BPF           capture filter (default: UDP, TCP, SCTP, tunnels, VLANs)\n"
            "  --config FILE          trunk names, internal networks, correlation headers;\n"
            "                         re-read on SIGHUP\n"
            "  --buffer-mb N          kernel ring per interface (default %d, max %d)\n"
            "  --snaplen N            bytes kept per packet (default %d)\n"
            "  --no-promisc           do not put the interfaces in promiscuous mode\n"
            "  --no-dedup             keep SPAN duplicates\n"
            "  --user NAME            drop root for NAME once the interfaces are open\n"
            "  --duration S           stop after S seconds\n"
            "  --max-packets N        stop after N packets\n"
            "  --stats-file F         write capture counters as JSON to F every %d s and at exit\n"
            "  --log FILE             event log to FILE (reopened on SIGHUP), default stderr\n"
            "  --status-interval S    a status line in the log every S seconds (default 60)\n"
            "  --json                 print the analyze --json report at exit (keeps every\n"
            "                         finished call and stream in memory until then)\n"
            "  --site NAME            site of this sensor on every leg (default: host name)\n"
            "  --hep HOST:PORT        forward SIP, RTCP and stream quality reports as HEPv3\n"
            "  --hep-transport udp|tcp  (default udp)\n"
            "  --hep-node-id N        HEP capture agent id (default 0)\n"
            "  --hep-node-name NAME   HEP node name (default: the site)\n"
            "  --hep-auth-key-file F  HEP auth key (first line of F)\n"
            "  --tls-keylog FILE      decrypt SIP over TLS with an NSS key log, read again as\n"
            "                         it grows (readable by --user after the drop)\n"
            "  --tls-key ADDR:PORT=FILE.pem  the server's RSA key for TLS_RSA_* (repeatable)\n"
            SENSOR_SPOOL_USAGE
            "SIGINT/SIGTERM stop cleanly; SIGHUP reloads --config and reopens --log.\n",
            TS_LIVE_MAX_IFACES, TS_LIVE_BUFFER_MB_DEFAULT, TS_LIVE_BUFFER_MB_MAX, TS_SNAPLEN,
            STATS_PERIOD_S);
}

/* ADDR:PORT, ADDR may be [v6]. Only the shape is checked here. */
static bool valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;
    return colon && colon != s && num_u64(colon + 1, 1, 65535, &port);
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct cap_args *a)
{
    memset(a, 0, sizeof *a);
    a->so.spool_min_free_mb = -1;
    a->dedup = true;
    enum { O_JSON = 256, O_NO_PROMISC, O_NO_DEDUP, O_HTTP, O_FILTER, O_BUFFER_MB, O_SNAPLEN,
           O_USER, O_MAX_PACKETS, O_SITE, O_HEP, O_HEP_TRANSPORT, O_HEP_NODE_ID, O_HEP_NODE_NAME,
           O_HEP_KEY_FILE, O_TLS_KEYLOG, O_TLS_KEY };
    static const struct option table[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, O_JSON },
        { "no-promisc", no_argument, NULL, O_NO_PROMISC },
        { "no-dedup", no_argument, NULL, O_NO_DEDUP },
        { "interface", required_argument, NULL, 'i' },
        { "http", required_argument, NULL, O_HTTP },
        { "filter", required_argument, NULL, O_FILTER },
        { "buffer-mb", required_argument, NULL, O_BUFFER_MB },
        { "snaplen", required_argument, NULL, O_SNAPLEN },
        { "user", required_argument, NULL, O_USER },
        { "max-packets", required_argument, NULL, O_MAX_PACKETS },
        { "site", required_argument, NULL, O_SITE },
        { "hep", required_argument, NULL, O_HEP },
        { "hep-transport", required_argument, NULL, O_HEP_TRANSPORT },
        { "hep-node-id", required_argument, NULL, O_HEP_NODE_ID },
        { "hep-node-name", required_argument, NULL, O_HEP_NODE_NAME },
        { "hep-auth-key-file", required_argument, NULL, O_HEP_KEY_FILE },
        { "tls-keylog", required_argument, NULL, O_TLS_KEYLOG },
        { "tls-key", required_argument, NULL, O_TLS_KEY },
        SENSOR_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = PROG, .unknown_suffix = " (try --help)", .table = table,
                       .shorts = "hi:" };
    const char *v;
    for (int c; (c = opts_next(&op, argc, argv, &v)) != OPTS_END;) {
        uint64_t u = 0;
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
        case O_NO_PROMISC:
            a->lo.no_promisc = true;
            break;
        case O_NO_DEDUP:
            a->dedup = false;
            break;
        case 'i':
            if (a->lo.nifaces >= TS_LIVE_MAX_IFACES) {
                fprintf(stderr, PROG ": at most %d interfaces\n", TS_LIVE_MAX_IFACES);
                return 2;
            }
            if (!*v) {
                fprintf(stderr, PROG ": empty interface name\n");
                return 2;
            }
            a->lo.ifaces[a->lo.nifaces++] = v;
            break;
        case O_HTTP:
            if (!valid_listen(v)) {
                fprintf(stderr, PROG ": --http wants ADDR:PORT, not '%s'\n", v);
                return 2;
            }
            a->http = v;
            break;
        case O_FILTER:
            a->lo.filter = v;
            break;
        case O_USER:
            a->user = v;
            break;
        case O_BUFFER_MB:
            if (!num_u64(v, 1, TS_LIVE_BUFFER_MB_MAX, &u)) {
                fprintf(stderr, PROG ": --buffer-mb wants 1..%d\n", TS_LIVE_BUFFER_MB_MAX);
                return 2;
            }
            a->lo.buffer_mb = (uint32_t)u;
            break;
        case O_SNAPLEN:
            if (!num_u64(v, 96, 262144, &u)) {
                fprintf(stderr, PROG ": --snaplen wants 96..262144\n");
                return 2;
            }
            a->lo.snaplen = (uint32_t)u;
            break;
        case O_SITE:
            a->site = v;
            break;
        case O_HEP:
            a->hep = v;
            break;
        case O_HEP_TRANSPORT:
            if (strcmp(v, "udp") && strcmp(v, "tcp")) {
                fprintf(stderr, PROG ": --hep-transport wants udp or tcp\n");
                return 2;
            }
            a->hep_tcp = !strcmp(v, "tcp");
            break;
        case O_HEP_NODE_ID:
            if (!num_u64(v, 0, UINT32_MAX, &u)) {
                fprintf(stderr, PROG ": --hep-node-id wants 0..%u\n", UINT32_MAX);
                return 2;
            }
            a->hep_node_id = (uint32_t)u;
            break;
        case O_HEP_NODE_NAME:
            a->hep_node_name = v;
            break;
        case O_HEP_KEY_FILE:
            a->hep_key_file = v;
            break;
        case O_TLS_KEYLOG:
        case O_TLS_KEY:
            if (cli_tls_opts_add(&a->tls, PROG, c == O_TLS_KEYLOG, v) != 0)
                return 2;
            break;
        case O_MAX_PACKETS:
            if (!num_u64(v, 1, UINT64_MAX, &u)) {
                fprintf(stderr, PROG ": --max-packets wants a number > 0\n");
                return 2;
            }
            a->lo.max_packets = u;
            break;
        case OPTS_OPERAND:
            fprintf(stderr, PROG ": unknown option '%s' (try --help)\n", v);
            return 2;
        default:
            return 2;
        }
    }
    if (a->lo.nifaces == 0) {
        fprintf(stderr, PROG ": no interface (-i IFACE)\n");
        return 2;
    }
    return sensor_opts_check(&a->so, PROG, NULL);
}

/* ---- analysis thread callbacks ---- */

static void cb_frame(void *ctx, const struct ts_frame *f)
{
    struct cap_ctx *c = ctx;
    struct ts_frame g = *f;
    g.site = c->site;
    engine_frame(c->e, &g);
    sensor_live_step(&c->sl, engine_calls(c->e), f->ts_ns);
}

/* Every SIP message: to the store and, as HEPv3 (Call-ID as the
 * correlation id), to the collector. */
/* A HEP message for a packet this sensor saw: its addresses, time, node. */
static void hep_of_packet(const struct cap_ctx *c, const struct pkt_meta *m, uint8_t proto,
                          struct bv payload, struct hep_msg *h)
{
    memset(h, 0, sizeof *h);
    h->family = m->ipver;
    h->ip_proto = m->l4;
    h->src = m->src;
    h->dst = m->dst;
    h->sport = m->sport;
    h->dport = m->dport;
    h->ts_ns = m->ts_ns;
    h->proto_type = proto;
    h->node_id = c->hep_node_id;
    h->vlan = m->vlan;
    h->auth_key = bv_make(c->hep_key, c->hep_key_len);
    h->node_name = bv_cstr(c->hep_node_name);
    h->payload = payload;
}

static void cb_sip(void *ctx, const struct pkt_meta *m, struct bv raw, const struct sip_msg *msg)
{
    struct cap_ctx *c = ctx;
    if (c->w)
        st_sip_hook(c->w, m, raw, msg);
    if (!c->hep)
        return;
    struct hep_msg h;
    hep_of_packet(c, m, HEP_PROTO_SIP, raw, &h);
    if (msg)
        h.correlation_id = msg->call_id;
    hep_send_msg(c->hep, &h);
}

/* RTCP as HEP protocol type 5, the datagram as captured (a collector of
 * ours analyses it like captured RTCP). */
static void cb_rtcp(void *ctx, const struct pkt_meta *m, struct bv rtcp)
{
    struct cap_ctx *c = ctx;
    struct hep_msg h;
    hep_of_packet(c, m, HEP_PROTO_RTCP, rtcp, &h);
    hep_send_msg(c->hep, &h);
}

/* A finished RTP stream: its quality as a HEP report (proto type 34, a JSON
 * object, the stream's 5-tuple in the address chunks). */
static void cb_stream(void *ctx, const struct media_stream *s)
{
    struct cap_ctx *c = ctx;
    if (c->w)
        st_writer_stream(c->w, s);
    checklist_live_stream(c->sl.cl, s);
    if (!c->hep)
        return;
    int n = snprintf(c->report, sizeof c->report,
                     "{\"type\":\"stream\",\"ssrc\":%u,\"codec\":\"%s\",\"packets\":%llu,"
                     "\"lost\":%lld,\"max_jitter_ms\":%.3f,\"mos\":%.2f,\"r_factor\":%.1f,"
                     "\"first_ns\":%llu,\"last_ns\":%llu,\"flags\":%u}",
                     s->ssrc, s->codec[0] && !strpbrk(s->codec, "\"\\") ? s->codec : "",
                     (unsigned long long)s->packets, (long long)s->lost, s->max_jitter_ms, s->mos,
                     s->r_factor, (unsigned long long)s->first_ns,
                     (unsigned long long)s->last_ns, s->flags);
    if (n <= 0 || (size_t)n >= sizeof c->report || !s->src.family ||
        s->src.family != s->dst.family)
        return;
    struct hep_msg h;
    memset(&h, 0, sizeof h);
    h.family = s->src.family;
    h.ip_proto = TS_L4_UDP;
    h.src = s->src;
    h.dst = s->dst;
    h.sport = s->sport;
    h.dport = s->dport;
    h.ts_ns = s->last_ns;
    h.proto_type = 34;
    h.node_id = c->hep_node_id;
    h.auth_key = bv_make(c->hep_key, c->hep_key_len);
    h.node_name = bv_cstr(c->hep_node_name);
    h.payload = bv_make(c->report, (size_t)n);
    hep_send_msg(c->hep, &h);
}

/* First line of path, trimmed, into buf; -1 when missing or too long. */
static int read_key_file(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "r");
    char line[TS_HEP_AUTH_KEY_MAX + 4];
    if (!f)
        return -1;
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(line, "\r\n") : 0;
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (!n || n > cap)
        return -1;
    memcpy(buf, line, n);
    *len = n;
    return 0;
}

static void cb_tick(void *ctx, uint64_t now_ns)
{
    struct cap_ctx *c = ctx;
    engine_tick(c->e, now_ns);
    spool_tick(c->sp, now_ns);
    sensor_live_step(&c->sl, engine_calls(c->e), now_ns);
}

/* Lost packets: the streams and calls around ts_ns may be incomplete; the
 * engine marks them, the main thread logs the counts. */
static void cb_drop(void *ctx, uint64_t ts_ns, uint64_t count)
{
    struct cap_ctx *c = ctx;
    engine_note_drop(c->e, ts_ns, count);
    atomic_fetch_add(&c->drop_events, count);
    atomic_store(&c->last_drop_ns, ts_ns);
}

/* At a packet boundary: apply the configuration SIGHUP loaded to the
 * running tracker (calls_set_config lists what changes; the rest waits for
 * a restart and is reported when it differs). */
static void cb_sync(void *ctx)
{
    struct cap_ctx *c = ctx;
    struct calls_config *cfg = atomic_exchange(&c->pending, NULL);
    if (!cfg)
        return;
    const struct calls *tr = engine_calls(c->e);
    const struct calls_config *old = tr ? calls_config_of(tr) : NULL;
    bool restart = old && (old->max_dialogs != cfg->max_dialogs ||
                           old->bucket_s != cfg->bucket_s ||
                           strcmp(old->country_code, cfg->country_code) ||
                           strcmp(old->national_prefix, cfg->national_prefix) ||
                           strcmp(old->intl_prefix, cfg->intl_prefix));
    engine_set_calls_config(c->e, cfg);
    log_msg(LOG_INFO, "config reloaded: %zu trunk names, %zu internal networks, "
                      "%zu correlation headers, %zu SBC addresses, window %u ms "
                      "(applies to new calls)%s",
            cfg->ntrunk_names, cfg->nnets, cfg->ncorr_hdrs, cfg->nsbcs, cfg->corr_window_ms,
            restart ? "; max_dialogs, bucket_s and number prefixes need a restart" : "");
    free(cfg);
}

/* ---- main thread helpers ---- */

static int drop_privileges(const struct passwd *pw, char *err, size_t errlen)
{
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot switch to user %s: %s", pw->pw_name, strerror(errno));
        return -1;
    }
    /* verify: no way back to root */
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))) {
        snprintf(err, errlen, "privileges of user %s not dropped as asked", pw->pw_name);
        return -1;
    }
    return 0;
}


static void stats_fields(FILE *f, const struct live_stats *s)
{
    fprintf(f,
            "\"received\": %llu, \"bytes\": %llu, \"kernel_drops\": %llu, "
            "\"if_drops\": %llu, \"queue_drops\": %llu",
            (unsigned long long)s->received, (unsigned long long)s->bytes,
            (unsigned long long)s->kernel_drops, (unsigned long long)s->if_drops,
            (unsigned long long)s->queue_drops);
}

/* Counters as one JSON object, written to a temporary file and renamed so
 * that readers never see half of it. engine_st may be NULL while running
 * (the engine belongs to the analysis thread). */
static void write_stats_file(const char *path, const struct live *lv, double uptime,
                             const struct ts_stats *engine_st, const struct st_stats *store,
                             const struct spool_stats *sp, bool final)
{
    char tmp[4096];
    FILE *f = sensor_stats_open(path, tmp, sizeof tmp);
    if (!f)
        return;
    struct live_stats s;
    live_stats_get(lv, &s);
    fprintf(f, "{\"final\": %s, \"uptime_s\": %.3f, ", final ? "true" : "false", uptime);
    stats_fields(f, &s);
    fprintf(f, ", \"analysed\": %llu, \"last_drop_ns\": %llu, \"ifaces_failed\": %u",
            (unsigned long long)s.analysed, (unsigned long long)s.last_drop_ns,
            s.ifaces_failed);
    if (engine_st)
        fprintf(f, ", \"sip_messages\": %llu, \"calls\": %llu",
                (unsigned long long)engine_st->v[TS_SIP_MESSAGES],
                (unsigned long long)engine_st->v[TS_CALLS_CALLS]);
    fprintf(f, ", \"interfaces\": [");
    for (size_t i = 0; i < live_iface_count(lv); i++) {
        struct live_stats is;
        live_iface_stats(lv, i, &is);
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        jsonw_fput_str(f, live_iface_name(lv, i));
        fprintf(f, ", \"linktype\": ");
        jsonw_fput_str(f, pcapin_linktype_name(live_iface_linktype(lv, i)));
        fprintf(f, ", ");
        stats_fields(f, &is);
        fprintf(f, "}");
    }
    fprintf(f, "]");
    sensor_store_json(f, store);
    sensor_spool_json(f, sp);
    fprintf(f, "}\n");
    sensor_stats_commit(f, tmp, path);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The status line: packets, bytes and rates since the previous line, drops. */
static void log_status(const struct live_stats *s, const struct live_stats *prev, double dt)
{
    uint64_t dp = s->received - prev->received, db = s->bytes - prev->bytes;
    log_msg(LOG_INFO,
            "status: %llu packets (%.0f/s), %.1f MB (%.2f Mbit/s), %llu analysed; drops: "
            "kernel %llu, interface %llu, queue %llu",
            (unsigned long long)s->received, dt > 0 ? (double)dp / dt : 0, (double)s->bytes / 1e6,
            dt > 0 ? (double)db * 8 / dt / 1e6 : 0, (unsigned long long)s->analysed,
            (unsigned long long)s->kernel_drops, (unsigned long long)s->if_drops,
            (unsigned long long)s->queue_drops);
}

static void log_drops(const struct live_stats *s, struct live_stats *logged)
{
    if (s->kernel_drops == logged->kernel_drops && s->queue_drops == logged->queue_drops &&
        s->if_drops == logged->if_drops)
        return;
    log_msg(LOG_WARN,
            "drops: kernel %llu (+%llu), interface %llu (+%llu), queue %llu (+%llu)",
            (unsigned long long)s->kernel_drops,
            (unsigned long long)(s->kernel_drops - logged->kernel_drops),
            (unsigned long long)s->if_drops,
            (unsigned long long)(s->if_drops - logged->if_drops),
            (unsigned long long)s->queue_drops,
            (unsigned long long)(s->queue_drops - logged->queue_drops));
    *logged = *s;
}

static void reload_config(struct cap_ctx *c, struct live *lv, const char *path)
{
    struct calls_config *cfg = sensor_reload_config(path);
    if (!path)
        log_msg(LOG_INFO, "SIGHUP: log reopened (no --config to reload)");
    if (!cfg)
        return;
    free(atomic_exchange(&c->pending, cfg));
    live_request_sync(lv);
}

int cmd_capture(int argc, char **argv)
{
    struct cap_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    rc = 2;

    /* Every thread (store writer, capture, analysis) inherits this mask;
     * the main thread takes the signals synchronously with sigtimedwait. */
    sigset_t sigs;
    sensor_block_signals(&sigs, true);

    struct calls_config ccfg; /* sensor_load_config fills it */
    char err[1024];
    struct live *lv = NULL;
    struct engine *e = NULL;
    struct st_writer *w = NULL;
    struct api_server *api = NULL;
    struct cli_alerts *alerts = NULL;
    struct alert_config acfg;
    struct tlskeys *tls_keys = NULL;
    struct cap_ctx ctx;
    memset(&ctx, 0, sizeof ctx);

    if (a.so.log_file && log_open(a.so.log_file) != LOG_OK) {
        fprintf(stderr, PROG ": %s: %s\n", a.so.log_file, strerror(errno));
        return 2;
    }
    if (sensor_load_config(&a.so, PROG, &ccfg) != 0 ||
        cli_alerts_config(a.so.config, PROG, &acfg) != 0)
        goto out;
    /* key files are read before privileges are dropped, after the hash
     * seed is set (the key table is hashed) */
    ts_hash_seed_random();
    if (cli_tls_opts_load(&a.tls, &tls_keys, PROG, NULL, 0, NULL) != 0)
        goto out;
    struct passwd pwbuf, *pw = NULL;
    char pwstore[4096];
    if (a.user) {
        int e2 = getpwnam_r(a.user, &pwbuf, pwstore, sizeof pwstore, &pw);
        if (e2 != 0 || !pw) {
            fprintf(stderr, PROG ": --user %s: no such user\n", a.user);
            goto out;
        }
    }
    lv = live_open(&a.lo, err, sizeof err);
    if (!lv) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    if (pw && drop_privileges(pw, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    /* the database is opened as the final user, so its files belong to it */
    if (a.so.db) {
        w = sensor_open_store(&a.so, PROG);
        if (!w)
            goto out;
    }
    struct engine_config ecfg = { .dedup = a.dedup, .track_calls = true, .calls_cfg = &ccfg,
                                  .no_report = !a.json, .tls_keys = tls_keys };
    e = engine_new(&ecfg);
    if (!e) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    ctx.e = e;
    if (a.site) {
        snprintf(ctx.site, sizeof ctx.site, "%s", a.site);
    } else if (gethostname(ctx.site, sizeof ctx.site) != 0) {
        ctx.site[0] = 0;
    }
    ctx.site[sizeof ctx.site - 1] = 0;
    snprintf(ctx.hep_node_name, sizeof ctx.hep_node_name, "%s",
             a.hep_node_name ? a.hep_node_name : ctx.site);
    ctx.hep_node_id = a.hep_node_id;
    {
        bool failed;
        ctx.sp = sensor_open_spool(&a.so, PROG, ctx.site, &failed);
        if (failed)
            goto out;
    }
    if (a.hep_key_file &&
        read_key_file(a.hep_key_file, ctx.hep_key, sizeof ctx.hep_key, &ctx.hep_key_len) != 0) {
        fprintf(stderr, PROG ": %s: cannot read an auth key (1..%d bytes)\n", a.hep_key_file,
                TS_HEP_AUTH_KEY_MAX);
        goto out;
    }
    if (a.hep) {
        struct hep_send_opts ho = { .target = a.hep, .tcp = a.hep_tcp };
        ctx.hep = hep_send_new(&ho, err, sizeof err);
        if (!ctx.hep) {
            fprintf(stderr, PROG ": --hep %s\n", err);
            goto out;
        }
    }
    engine_set_stream_sink(e, cb_stream, &ctx);
    if (ctx.sp)
        engine_set_frame_hook(e, sensor_spool_frame, ctx.sp);
    if (ctx.hep)
        engine_set_rtcp_hook(e, cb_rtcp, &ctx);
    ctx.w = w;
    sensor_live_init(&ctx.sl, w);
    if (w || ctx.hep) {
        /* set once, before any thread uses the engine */
        if (w)
            sensor_live_attach(&ctx.sl, e, w, a.so.db);
        engine_set_sip_hook(e, cb_sip, &ctx);
    }
    if (a.http) {
        if (!a.so.db) {
            fprintf(stderr, PROG ": --http needs --db FILE (the API reads the database)\n");
            goto out;
        }
        struct api_options ao = { .db_path = a.so.db, .http = a.http, .token_file = a.so.token_file,
                                  .static_dir = cli_default_static_dir(), .audio = ccfg.audio };
        ctx.lv = lv;
        api = api_start(&ao, err, sizeof err);
        if (!api) {
            fprintf(stderr, PROG ": %s\n", err);
            goto out;
        }
        api_set_stats_fn(api, api_live, &ctx);
        log_msg(LOG_INFO, "HTTP API on %s", a.http);
    }

    ctx.lv = lv;
    if (a.so.db)
        alerts = cli_alerts_start(&acfg, a.so.db, ALERT_EVAL_DATA, cap_drops, &ctx);
    struct live_cb cb = { .ctx = &ctx, .frame = cb_frame, .tick = cb_tick, .drop = cb_drop,
                          .sync = cb_sync };
    if (live_start(lv, &cb, err, sizeof err) != LIVE_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    char names[512] = "";
    size_t nl = 0;
    for (size_t i = 0; i < live_iface_count(lv) && nl < sizeof names; i++) {
        int k = snprintf(names + nl, sizeof names - nl, "%s%s (%s)", i ? ", " : "",
                         live_iface_name(lv, i),
                         pcapin_linktype_name(live_iface_linktype(lv, i)));
        nl += k > 0 ? (size_t)k : 0;
    }
    log_msg(LOG_INFO, "capture started on %s; filter '%s'; buffer %u MB, snaplen %u%s%s%s",
            names, a.lo.filter ? a.lo.filter : LIVE_DEFAULT_FILTER,
            a.lo.buffer_mb ? a.lo.buffer_mb : TS_LIVE_BUFFER_MB_DEFAULT,
            a.lo.snaplen ? a.lo.snaplen : TS_SNAPLEN, a.so.db ? "; db " : "", a.so.db ? a.so.db : "",
            pw ? "; running as non-root" : "");

    double t0 = mono_s(), next_drop_log = t0 + DROP_LOG_PERIOD_S, next_stats = t0;
    double status_s = a.so.status_s ? a.so.status_s : SENSOR_STATUS_S_DEFAULT;
    double next_status = t0 + status_s, last_status = t0;
    struct live_stats logged, status_prev;
    memset(&logged, 0, sizeof logged);
    memset(&status_prev, 0, sizeof status_prev);
    const char *why = "end";
    rc = 0;
    for (;;) {
        struct timespec to = { 0, 200 * 1000000L };
        int sig = sigtimedwait(&sigs, NULL, &to);
        double now = mono_s();
        {
            struct live_stats ls;
            live_stats_get(lv, &ls);
            sensor_live_rate(&ctx.sl, ls.received, now);
        }
        if (sig == SIGINT || sig == SIGTERM) {
            why = sig == SIGINT ? "SIGINT" : "SIGTERM";
            break;
        }
        if (sig == SIGHUP)
            reload_config(&ctx, lv, a.so.config);
        if (a.so.duration_s && now - t0 >= (double)a.so.duration_s) {
            why = "--duration";
            break;
        }
        if (live_done(lv)) {
            struct live_stats s;
            live_stats_get(lv, &s);
            if (s.ifaces_failed == s.ifaces) {
                why = "every interface failed";
                rc = 1;
            } else {
                why = "--max-packets";
            }
            break;
        }
        if (now >= next_drop_log) {
            struct live_stats s;
            live_stats_get(lv, &s);
            log_drops(&s, &logged);
            next_drop_log = now + DROP_LOG_PERIOD_S;
        }
        if (now >= next_status) {
            struct live_stats s;
            live_stats_get(lv, &s);
            log_status(&s, &status_prev, now - last_status);
            status_prev = s;
            last_status = now;
            next_status = now + status_s;
        }
        if (a.so.stats_file && now >= next_stats) {
            struct st_stats ss;
            struct spool_stats sps;
            if (ctx.w)
                st_writer_stats(ctx.w, &ss);
            spool_stats_get(ctx.sp, &sps);
            write_stats_file(a.so.stats_file, lv, now - t0, NULL, ctx.w ? &ss : NULL,
                             ctx.sp ? &sps : NULL, false);
            next_stats = now + STATS_PERIOD_S;
        }
    }
    log_msg(LOG_INFO, "stopping (%s)", why);
    cli_alerts_stop(alerts); /* reads the capture's drops */
    alerts = NULL;
    api_stop(api); /* before the analysis state it reads goes away */
    api = NULL;
    live_stop(lv); /* the analysis thread drained the queues and ended */
    engine_finish(e);
    char hep_line[240] = "";
    if (ctx.hep) {
        struct hep_send_stats hs;
        hep_send_stop(ctx.hep); /* flushes what finish produced */
        hep_send_stats(ctx.hep, &hs);
        snprintf(hep_line, sizeof hep_line,
                 "; HEP: %llu sent, not sent: %llu queue full, %llu send errors, %llu at exit, "
                 "%llu too big",
                 (unsigned long long)hs.sent, (unsigned long long)hs.dropped_full,
                 (unsigned long long)hs.send_errors, (unsigned long long)hs.unsent_at_exit,
                 (unsigned long long)hs.too_big);
    }
    char spool_line[320] = "";
    struct spool_stats fsp;
    bool have_sp = ctx.sp != NULL;
    if (ctx.sp) { /* the analysis thread ended: what it handed over is written now */
        spool_close_stats(ctx.sp, &fsp);
        ctx.sp = NULL;
        sensor_spool_line(spool_line, sizeof spool_line, &fsp);
    }
    char store_line[320] = "";
    struct st_stats fss;
    bool have_fss = w != NULL;
    if (w) {
        /* blocks until written, so the calls before it are committed too */
        st_writer_trunks(w, engine_calls(e));
        checklist_live_stop(ctx.sl.cl, engine_calls(e)); /* beside the trunks just written */
        ctx.sl.cl = NULL;
        ctx.w = NULL;
        st_writer_close_stats(w, &fss); /* after the last batch: true numbers */
        w = NULL;
        snprintf(store_line, sizeof store_line,
                 "; store: %llu records written (%llu calls), %llu dropped, %llu errors%s%s",
                 (unsigned long long)fss.written, (unsigned long long)fss.calls_written,
                 (unsigned long long)fss.dropped_full, (unsigned long long)fss.errors,
                 fss.errors ? ", last: " : "", fss.errors ? fss.last_error : "");
    }
    double elapsed = mono_s() - t0;

    struct live_stats s;
    live_stats_get(lv, &s);
    log_drops(&s, &logged);
    const struct ts_stats *est = engine_stats(e);
    if (a.so.stats_file)
        write_stats_file(a.so.stats_file, lv, elapsed, est, have_fss ? &fss : NULL,
                         have_sp ? &fsp : NULL, true);
    log_msg(LOG_INFO,
            "capture stopped after %.1f s: %llu frames received, %llu analysed, drops: "
            "kernel %llu, interface %llu, queue %llu; %llu SIP messages, %llu calls%s%s%s",
            elapsed, (unsigned long long)s.received, (unsigned long long)s.analysed,
            (unsigned long long)s.kernel_drops, (unsigned long long)s.if_drops,
            (unsigned long long)s.queue_drops, (unsigned long long)est->v[TS_SIP_MESSAGES],
            (unsigned long long)est->v[TS_CALLS_CALLS], store_line, spool_line, hep_line);
    if (a.json) {
        struct report_input ri = { e, NULL, 0, elapsed, NULL, NULL };
        if (report_write_kept(stdout, &ri) != 0) {
            log_msg(LOG_ERROR, "cannot write the report");
            rc = 2;
        }
    }
out:
    cli_alerts_stop(alerts);
    api_stop(api);
    live_free(lv);
    checklist_live_stop(ctx.sl.cl, NULL); /* on an error: the analysis thread ended */
    spool_close(ctx.sp);
    hep_send_free(ctx.hep);
    st_writer_close(w);
    engine_free(e);
    tlskeys_free(tls_keys);
    free(atomic_exchange(&ctx.pending, NULL));
    log_close();
    return rc;
}
