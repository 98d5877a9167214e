/* Shared parts of the capture and collect commands (see sensor.h). */
#include "sensor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include "../calls/calls.h"
#include "../common/log.h"
#include "../common/num.h"
#include "../store/store.h"

bool sensor_opt_known(int opt)
{
    return opt >= SENSOR_O_DB && opt <= SENSOR_O_RETENTION_MB;
}

int sensor_opt(struct sensor_opts *o, const char *prog, int opt, const char *v)
{
    uint64_t u = 0;
    if (opt == SENSOR_O_DB) {
        o->db = v;
    } else if (opt == SENSOR_O_TOKEN_FILE) {
        o->token_file = v;
    } else if (opt == SENSOR_O_CONFIG) {
        o->config = v;
    } else if (opt == SENSOR_O_STATS_FILE) {
        o->stats_file = v;
    } else if (opt == SENSOR_O_LOG) {
        o->log_file = v;
    } else if (opt == SENSOR_O_DURATION) {
        if (!num_u64(v, 1, UINT32_MAX, &u)) {
            fprintf(stderr, "%s: --duration wants seconds > 0\n", prog);
            return 2;
        }
        o->duration_s = u;
    } else if (opt == SENSOR_O_RETENTION_DAYS) {
        if (!num_u64(v, 0, SENSOR_RETENTION_DAYS_MAX, &u)) {
            fprintf(stderr, "%s: --retention-days wants 0..%d\n", prog, SENSOR_RETENTION_DAYS_MAX);
            return 2;
        }
        o->retention_days = (uint32_t)u;
    } else if (opt == SENSOR_O_RETENTION_MB) {
        if (!num_u64(v, 0, SENSOR_RETENTION_MB_MAX, &u)) {
            fprintf(stderr, "%s: --retention-mb wants 0..%d\n", prog, SENSOR_RETENTION_MB_MAX);
            return 2;
        }
        o->retention_mb = (uint32_t)u;
    }
    return 0;
}

int sensor_opts_check(const struct sensor_opts *o, const char *prog, const char *http)
{
    if (http && !o->db) {
        fprintf(stderr, "%s: --http needs --db\n", prog);
        return 2;
    }
    if ((o->retention_days || o->retention_mb) && !o->db) {
        fprintf(stderr, "%s: --retention-days/--retention-mb need --db\n", prog);
        return 2;
    }
    return -1;
}

int sensor_load_config(const struct sensor_opts *o, const char *prog, struct calls_config *cfg)
{
    char err[512];
    calls_config_default(cfg);
    if (o->config && calls_config_load(cfg, o->config, err, sizeof err) != CALLS_OK) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    return 0;
}

struct st_writer *sensor_open_store(const struct sensor_opts *o, const char *prog)
{
    char err[512];
    struct st_options so = { .retention_days = o->retention_days,
                             .retention_mb = o->retention_mb };
    struct st_writer *w = st_writer_open(o->db, &so, err, sizeof err);
    if (!w)
        fprintf(stderr, "%s: %s\n", prog, err);
    return w;
}

void sensor_block_signals(sigset_t *sigs, bool hup)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
    if (hup)
        sigaddset(sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

FILE *sensor_stats_open(const char *path, char *tmp, size_t cap)
{
    if (snprintf(tmp, cap, "%s.tmp", path) >= (int)cap)
        return NULL;
    FILE *f = fopen(tmp, "w");
    if (!f)
        log_msg(LOG_WARN, "stats file %s: %s", tmp, strerror(errno));
    return f;
}

void sensor_stats_commit(FILE *f, const char *tmp, const char *path)
{
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        log_msg(LOG_WARN, "stats file %s: cannot write", path);
        unlink(tmp);
    }
}
