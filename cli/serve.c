/* `trunkscope serve --db FILE`: the JSON API and the dashboard over a store
 * database, until SIGINT/SIGTERM. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../api/api.h"
#include "../calls/calls.h"
#include "../common/hash.h"
#include "../common/num.h"
#include "../common/opts.h"
#include "../net/netaddr.h"
#include "../alert/eval.h"
#include "alerting.h"
#include "cli.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trunkscope serve --db FILE [--http ADDR:PORT] [--token-file F]\n"
            "                        [--tls-cert F --tls-key F] [--static DIR] [--threads N]\n"
            "                        [--rate N] [--no-rate-limit] [--allowed-host NAMES]\n"
            "                        [--config FILE]\n"
            "  --http ADDR:PORT  listen address (default 127.0.0.1:8080; port 0 = any free)\n"
            "  --token-file F    require 'Authorization: Bearer <token>' (needed off loopback)\n"
            "  --static DIR      serve the dashboard from DIR (web-static/)\n"
            "  --rate N          requests per second per client (default 50, burst 200)\n"
            "  --allowed-host NAMES  host names (comma-separated) a request's Host may carry\n"
            "                    besides the listen address (and localhost on loopback);\n"
            "                    others get 421 (DNS rebinding)\n"
            "  --tls-cert/--tls-key  HTTPS: TLS 1.2 or 1.3, forward-secret AEAD suites only\n"
            "  --config FILE     the configuration file; 'audio = on' there lets\n"
            "                    /api/v1/calls/{id}/audio play calls (off by default);\n"
            "                    alert.*/notify.*: serve raises sensor_silent when the\n"
            "                    sensor writing --db stops\n");
}

/* The dashboard files: where an install put them beside the binary
 * (BIN/../share/trunkscope/web-static), else TS_WEB_STATIC_DIR (the source
 * tree's web-static/, set at build time, for a binary run from its build
 * directory), else none. */
const char *cli_default_static_dir(void)
{
    static char installed[PATH_MAX];
    struct stat sb;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(installed, sizeof installed, "%s/../share/trunkscope/web-static", exe);
            if (w > 0 && (size_t)w < sizeof installed && stat(installed, &sb) == 0 &&
                S_ISDIR(sb.st_mode))
                return installed;
        }
    }
    return stat(TS_WEB_STATIC_DIR, &sb) == 0 && S_ISDIR(sb.st_mode) ? TS_WEB_STATIC_DIR : NULL;
}

bool cli_listen_ok(const char *spec, char *err, size_t errlen)
{
    struct netaddr na;
    char why[256];
    if (netaddr_parse(spec, true, &na, why, sizeof why) != NETADDR_OK) {
        snprintf(err, errlen, "bad listen address '%s' (expected ADDR:PORT): %s", spec, why);
        return false;
    }
    int fd = socket(na.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              bind(fd, (struct sockaddr *)&na.ss, na.len) == 0;
    if (!ok)
        snprintf(err, errlen, "cannot listen on %s (%s)", spec, strerror(errno));
    if (fd >= 0)
        close(fd);
    return ok;
}

static sigset_t g_unblocked; /* the mask to wait with */

/* Catch SIGINT/SIGTERM and block them, before the server's threads start:
 * they inherit the mask, so the signal reaches the waiting thread and cannot
 * arrive before the handler is there. */
void serve_prepare_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t b;
    sigemptyset(&b);
    sigaddset(&b, SIGINT);
    sigaddset(&b, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &b, &g_unblocked);
}

/* Blocks until SIGINT/SIGTERM, then stops the server. */
int serve_until_signal(struct api_server *s)
{
    while (!g_stop)
        sigsuspend(&g_unblocked);
    api_stop(s);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    struct api_options o = { 0 };
    enum { O_NO_RATE = 256, O_DB, O_HTTP, O_TOKEN, O_CERT, O_KEY, O_STATIC, O_THREADS, O_RATE,
           O_HOSTS, O_CONFIG };
    const char *config = NULL;
    static const struct option table[] = {
        { "no-rate-limit", no_argument, NULL, O_NO_RATE },
        { "db", required_argument, NULL, O_DB },
        { "http", required_argument, NULL, O_HTTP },
        { "token-file", required_argument, NULL, O_TOKEN },
        { "tls-cert", required_argument, NULL, O_CERT },
        { "tls-key", required_argument, NULL, O_KEY },
        { "static", required_argument, NULL, O_STATIC },
        { "threads", required_argument, NULL, O_THREADS },
        { "rate", required_argument, NULL, O_RATE },
        { "allowed-host", required_argument, NULL, O_HOSTS },
        { "config", required_argument, NULL, O_CONFIG },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = "trunkscope serve", .unknown_suffix = " (try --help)",
                       .table = table, .shorts = "h" };
    const char *v;
    for (int c; (c = opts_next(&op, argc, argv, &v)) != OPTS_END;) {
        uint64_t n;
        switch (c) {
        case O_NO_RATE:
            o.no_rate_limit = true;
            break;
        case O_DB:
            o.db_path = v;
            break;
        case O_HTTP:
            o.http = v;
            break;
        case O_TOKEN:
            o.token_file = v;
            break;
        case O_CERT:
            o.tls_cert = v;
            break;
        case O_KEY:
            o.tls_key = v;
            break;
        case O_STATIC:
            o.static_dir = v;
            break;
        case O_HOSTS:
            o.allowed_hosts = v;
            break;
        case O_CONFIG:
            config = v;
            break;
        case O_THREADS:
        case O_RATE:
            if (!num_u64(v, 1, 100000, &n)) {
                fprintf(stderr, "trunkscope serve: bad value for %s\n",
                        c == O_THREADS ? "--threads" : "--rate");
                return 2;
            }
            if (c == O_THREADS)
                o.threads = (unsigned)n;
            else
                o.rate_per_s = o.rate_burst = (unsigned)n;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPTS_OPERAND:
            fprintf(stderr, "trunkscope serve: unknown option '%s' (try --help)\n", v);
            return 2;
        default:
            return 2;
        }
    }
    if (!o.db_path) {
        fprintf(stderr, "trunkscope serve: --db FILE is required\n");
        return 2;
    }
    struct alert_config acfg;
    if (cli_alerts_config(config, "trunkscope serve", &acfg) != 0)
        return 2;
    ts_hash_seed_random();
    char err[512];
    if (config) {
        struct calls_config cfg;
        calls_config_default(&cfg);
        if (calls_config_load(&cfg, config, err, sizeof err) != CALLS_OK) {
            fprintf(stderr, "trunkscope serve: %s\n", err);
            return 2;
        }
        o.audio = cfg.audio;
    }
    if (!o.static_dir)
        o.static_dir = cli_default_static_dir();
    serve_prepare_signals();
    struct api_server *s = api_start(&o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "trunkscope serve: %s\n", err);
        return 2;
    }
    printf("trunkscope serve: listening on %s://%s port %u\n", o.tls_cert ? "https" : "http",
           o.http ? o.http : "127.0.0.1:8080", api_port(s));
    fflush(stdout);
    /* the sensor writing this database evaluates the traffic; serve
     * watches that it keeps writing */
    struct cli_alerts *al = cli_alerts_start(&acfg, o.db_path, ALERT_EVAL_SENSOR, NULL, NULL);
    int rc = serve_until_signal(s);
    cli_alerts_stop(al);
    return rc;
}
