/* `trunkscope serve --db FILE`: the JSON API and the dashboard over a store
 * database, until SIGINT/SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../api/api.h"
#include "../common/hash.h"
#include "../common/num.h"
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
            "                        [--rate N] [--no-rate-limit]\n"
            "  --http ADDR:PORT  listen address (default 127.0.0.1:8080; port 0 = any free)\n"
            "  --token-file F    require 'Authorization: Bearer <token>' (needed off loopback)\n"
            "  --static DIR      serve the dashboard from DIR (web-static/)\n"
            "  --rate N          requests per second per client (default 50, burst 200)\n");
}

/* The dashboard files: TS_WEB_STATIC_DIR (set at build time to the
 * source tree's web-static/) when it exists, else none. */
const char *cli_default_static_dir(void)
{
    struct stat sb;
    return stat(TS_WEB_STATIC_DIR, &sb) == 0 && S_ISDIR(sb.st_mode) ? TS_WEB_STATIC_DIR : NULL;
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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-rate-limit") == 0) {
            o.no_rate_limit = true;
            continue;
        } else if (strcmp(a, "--db") == 0) {
            dst = &o.db_path;
        } else if (strcmp(a, "--http") == 0) {
            dst = &o.http;
        } else if (strcmp(a, "--token-file") == 0) {
            dst = &o.token_file;
        } else if (strcmp(a, "--tls-cert") == 0) {
            dst = &o.tls_cert;
        } else if (strcmp(a, "--tls-key") == 0) {
            dst = &o.tls_key;
        } else if (strcmp(a, "--static") == 0) {
            dst = &o.static_dir;
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "--rate") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "trunkscope serve: %s needs a value\n", a);
                return 2;
            }
            uint64_t v;
            if (!num_u64(argv[++i], 1, 100000, &v)) {
                fprintf(stderr, "trunkscope serve: bad value for %s\n", a);
                return 2;
            }
            if (strcmp(a, "--threads") == 0)
                o.threads = (unsigned)v;
            else
                o.rate_per_s = o.rate_burst = (unsigned)v;
            continue;
        } else {
            fprintf(stderr, "trunkscope serve: unknown option '%s' (try --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "trunkscope serve: %s needs a value\n", a);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!o.db_path) {
        fprintf(stderr, "trunkscope serve: --db FILE is required\n");
        return 2;
    }
    ts_hash_seed_random();
    char err[512];
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
    return serve_until_signal(s);
}
