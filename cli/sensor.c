/* Shared parts of the capture and collect commands (see sensor.h). */
#include "sensor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "../api/api.h"
#include "../calls/calls.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/num.h"
#include "../engine/engine.h"
#include "../store/spool.h"
#include "../store/store.h"
#include "checklist_live.h"

bool sensor_opt_known(int opt)
{
    return opt >= SENSOR_O_DB && opt <= SENSOR_O_SPOOL_RTP;
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
    } else if (opt == SENSOR_O_STATUS_INTERVAL) {
        if (!num_u64(v, 1, SENSOR_STATUS_S_MAX, &u)) {
            fprintf(stderr, "%s: --status-interval wants seconds 1..%d\n", prog,
                    SENSOR_STATUS_S_MAX);
            return 2;
        }
        o->status_s = (uint32_t)u;
    } else if (opt == SENSOR_O_SPOOL) {
        if (!*v) {
            fprintf(stderr, "%s: --spool wants a directory\n", prog);
            return 2;
        }
        o->spool_dir = v;
    } else if (opt == SENSOR_O_SPOOL_ROTATE) {
        if (!num_u64(v, 1, 86400, &u)) {
            fprintf(stderr, "%s: --spool-rotate wants seconds 1..86400\n", prog);
            return 2;
        }
        o->spool_rotate_s = (uint32_t)u;
    } else if (opt == SENSOR_O_SPOOL_FILE_MB || opt == SENSOR_O_SPOOL_MAX_MB ||
               opt == SENSOR_O_SPOOL_MIN_FREE_MB) {
        if (!num_u64(v, opt == SENSOR_O_SPOOL_FILE_MB ? 1 : 0, SENSOR_RETENTION_MB_MAX, &u)) {
            fprintf(stderr, "%s: --spool-%s wants megabytes %d..%d\n", prog,
                    opt == SENSOR_O_SPOOL_FILE_MB   ? "file-mb"
                    : opt == SENSOR_O_SPOOL_MAX_MB ? "max-mb"
                                                   : "min-free-mb",
                    opt == SENSOR_O_SPOOL_FILE_MB ? 1 : 0, SENSOR_RETENTION_MB_MAX);
            return 2;
        }
        if (opt == SENSOR_O_SPOOL_FILE_MB)
            o->spool_file_mb = u;
        else if (opt == SENSOR_O_SPOOL_MAX_MB)
            o->spool_max_mb = u;
        else
            o->spool_min_free_mb = (int64_t)u;
    } else if (opt == SENSOR_O_SPOOL_MAX_AGE) {
        if (!num_u64(v, 0, (uint64_t)SENSOR_RETENTION_DAYS_MAX * 86400, &u)) {
            fprintf(stderr, "%s: --spool-max-age wants seconds 0..%llu\n", prog,
                    (unsigned long long)SENSOR_RETENTION_DAYS_MAX * 86400);
            return 2;
        }
        o->spool_max_age_s = u;
    } else if (opt == SENSOR_O_SPOOL_RTP) {
        enum spool_rtp r;
        uint32_t first = 0;
        if (!spool_rtp_parse(v, &r, &first)) {
            fprintf(stderr, "%s: --spool-rtp wants all, none, headers or first:SECONDS "
                            "(1..86400), not '%s'\n", prog, v);
            return 2;
        }
        o->spool_rtp = (int)r;
        o->spool_rtp_first_s = first;
    }
    return 0;
}

struct spool *sensor_open_spool(const struct sensor_opts *o, const char *prog, const char *site,
                                bool *failed)
{
    *failed = false;
    if (!o->spool_dir)
        return NULL;
    char err[512];
    /* calls and their packets age together unless told otherwise */
    uint64_t age = o->spool_max_age_s;
    if (!age && o->retention_days)
        age = (uint64_t)o->retention_days * 86400;
    struct spool_options so = {
        .dir = o->spool_dir, .db_path = o->db, .sensor = site,
        .rotate_s = o->spool_rotate_s,
        .file_bytes = o->spool_file_mb * 1024 * 1024,
        .max_bytes = o->spool_max_mb * 1024 * 1024,
        .max_age_s = age,
        .min_free_bytes = o->spool_min_free_mb < 0 ? -1 : o->spool_min_free_mb * 1024 * 1024,
        .rtp = (enum spool_rtp)o->spool_rtp, .rtp_first_s = o->spool_rtp_first_s,
    };
    struct spool *sp = spool_open(&so, err, sizeof err);
    if (!sp) {
        fprintf(stderr, "%s: %s\n", prog, err);
        *failed = true;
        return NULL;
    }
    log_msg(LOG_INFO, "spool in %s: rotate %u s, RTP %s, size cap %llu MB, age cap %llu s",
            o->spool_dir, o->spool_rotate_s ? o->spool_rotate_s : 60,
            o->spool_rtp == SPOOL_RTP_NONE      ? "none"
            : o->spool_rtp == SPOOL_RTP_HEADERS ? "headers"
            : o->spool_rtp == SPOOL_RTP_FIRST   ? "first seconds"
                                                : "all",
            (unsigned long long)o->spool_max_mb, (unsigned long long)age);
    return sp;
}

void sensor_spool_frame(void *ctx, const struct ts_frame *f, const struct engine_frame_info *fi)
{
    spool_frame(ctx, f, fi->media, fi->payload_off, fi->flow);
}

void sensor_spool_json(FILE *f, const struct spool_stats *s)
{
    if (!s)
        return;
    fprintf(f,
            ", \"spool\": {\"frames\": %llu, \"bytes_raw\": %llu, \"bytes_written\": %llu, "
            "\"blocks_written\": %llu, \"blocks_dropped\": %llu, \"frames_dropped\": %llu, "
            "\"blocks_floor\": %llu, \"media_skipped\": %llu, \"media_cut\": %llu, "
            "\"files_opened\": %llu, \"files_deleted\": %llu, \"deleted_size\": %llu, "
            "\"deleted_age\": %llu, \"deleted_floor\": %llu, \"torn_recovered\": %llu, "
            "\"errors\": %llu, \"spool_bytes\": %llu}",
            (unsigned long long)s->frames, (unsigned long long)s->bytes_raw,
            (unsigned long long)s->bytes_written, (unsigned long long)s->blocks_written,
            (unsigned long long)s->blocks_dropped, (unsigned long long)s->frames_dropped,
            (unsigned long long)s->blocks_floor, (unsigned long long)s->media_skipped,
            (unsigned long long)s->media_cut, (unsigned long long)s->files_opened,
            (unsigned long long)s->files_deleted, (unsigned long long)s->deleted_size,
            (unsigned long long)s->deleted_age, (unsigned long long)s->deleted_floor,
            (unsigned long long)s->torn_recovered, (unsigned long long)s->errors,
            (unsigned long long)s->spool_bytes);
}

void sensor_spool_live(struct spool *sp, struct api_live_stats *out)
{
    out->spool = sp != NULL;
    if (!sp)
        return;
    struct spool_stats s;
    spool_stats_get(sp, &s);
    out->spool_files_deleted = (int64_t)s.files_deleted;
    out->spool_deleted_size = (int64_t)s.deleted_size;
    out->spool_deleted_age = (int64_t)s.deleted_age;
    out->spool_deleted_floor = (int64_t)s.deleted_floor;
    out->spool_blocks_floor = (int64_t)s.blocks_floor;
    out->spool_blocks_dropped = (int64_t)s.blocks_dropped;
    out->spool_torn_recovered = (int64_t)s.torn_recovered;
    out->spool_errors = (int64_t)s.errors;
}

void sensor_spool_line(char *buf, size_t cap, const struct spool_stats *s)
{
    snprintf(buf, cap,
             "; spool: %llu frames, %.1f MB -> %.1f MB, %llu files (%llu deleted), %llu blocks "
             "dropped, %llu errors%s%s",
             (unsigned long long)s->frames, (double)s->bytes_raw / 1e6,
             (double)s->bytes_written / 1e6, (unsigned long long)s->files_opened,
             (unsigned long long)s->files_deleted, (unsigned long long)s->blocks_dropped,
             (unsigned long long)s->errors, s->errors ? ", last: " : "",
             s->errors ? s->last_error : "");
}

int sensor_opts_check(const struct sensor_opts *o, const char *prog, const char *http)
{
    if (http && !o->db) {
        fprintf(stderr, "%s: --http needs --db\n", prog);
        return 2;
    }
    if (o->spool_dir && !o->db) {
        fprintf(stderr, "%s: --spool needs --db (the spool's index is in the store)\n", prog);
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
                             .retention_mb = o->retention_mb,
                             .log_losses = true };
    struct st_writer *w = st_writer_open(o->db, &so, err, sizeof err);
    if (!w)
        fprintf(stderr, "%s: %s\n", prog, err);
    return w;
}

struct calls_config *sensor_reload_config(const char *path)
{
    if (log_reopen() != LOG_OK)
        log_msg(LOG_ERROR, "cannot reopen the log file: %s", strerror(errno));
    if (!path)
        return NULL;
    struct calls_config *cfg = malloc(sizeof *cfg);
    char err[512];
    if (!cfg) {
        log_msg(LOG_ERROR, "config reload: out of memory");
        return NULL;
    }
    calls_config_default(cfg);
    if (calls_config_load(cfg, path, err, sizeof err) != CALLS_OK) {
        log_msg(LOG_ERROR, "config reload failed, keeping the old one: %s", err);
        free(cfg);
        return NULL;
    }
    return cfg;
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

#define NS_PER_S 1000000000ull

void sensor_live_init(struct sensor_live *sl, struct st_writer *w)
{
    memset(sl, 0, sizeof *sl);
    sl->w = w;
    sl->min_invite_ns = UINT64_MAX;
    sl->rate_t = -1;
    atomic_store(&sl->active_calls, -1);
    atomic_store(&sl->pps_milli, -1);
}

void sensor_live_attach(struct sensor_live *sl, struct engine *e, struct st_writer *w,
                        const char *db)
{
    sl->w = w;
    sl->cl = checklist_live_start(db);
    engine_set_call_sink(e, sensor_live_call, sl);
    engine_set_tls_sink(e, st_tls_sink, w);
    engine_set_oflow_sink(e, st_oflow_sink, w);
}

void sensor_live_call(void *ctx, const struct calls_call *c)
{
    struct sensor_live *sl = ctx;
    /* its legs counted in the buckets of their INVITEs */
    for (unsigned i = 0; i < c->nlegs; i++)
        if (c->legs[i].invite_ns && c->legs[i].invite_ns < sl->min_invite_ns)
            sl->min_invite_ns = c->legs[i].invite_ns;
    st_writer_call(sl->w, c);
    checklist_live_call(sl->cl, c);
}

void sensor_live_step(struct sensor_live *sl, const struct calls *c, uint64_t now_ns)
{
    if (!c || (now_ns < sl->next_count_ns && now_ns < sl->next_snap_ns))
        return;
    if (!sl->bucket_ns) {
        sl->bucket_ns = (uint64_t)calls_config_of(c)->bucket_s * NS_PER_S;
        if (!sl->bucket_ns)
            sl->bucket_ns = 60 * NS_PER_S;
        sl->since_ns = now_ns - now_ns % sl->bucket_ns;
    }
    if (now_ns >= sl->next_count_ns) {
        struct calls_open_counts oc;
        calls_open_legs(c, NULL, NULL, &oc);
        atomic_store(&sl->active_calls, (int64_t)oc.calls_up);
        sl->next_count_ns = now_ns + NS_PER_S;
    }
    if (now_ns < sl->next_snap_ns)
        return;
    uint64_t bucket = now_ns - now_ns % sl->bucket_ns;
    uint64_t since = sl->since_ns < sl->min_invite_ns ? sl->since_ns : sl->min_invite_ns;
    since -= since % sl->bucket_ns;
    if (!sl->w || st_writer_live(sl->w, c, since, now_ns)) {
        sl->since_ns = bucket;
        sl->min_invite_ns = UINT64_MAX;
    }
    /* after the trunks' snapshot: the checklist's rows join them */
    checklist_live_step(sl->cl, sl->w, c, now_ns, sl->bucket_ns);
    /* the next: at the bucket's end or after the period, whichever comes first */
    uint64_t next = now_ns + SENSOR_SNAP_PERIOD_S * NS_PER_S, end = bucket + sl->bucket_ns;
    sl->next_snap_ns = end < next ? end : next;
}

void sensor_live_rate(struct sensor_live *sl, uint64_t packets, double now_s)
{
    if (sl->rate_t < 0) {
        sl->rate_t = now_s;
        sl->rate_packets = packets;
        return;
    }
    double dt = now_s - sl->rate_t;
    if (dt < 1.0)
        return;
    double pps = (double)(packets - sl->rate_packets) / dt;
    atomic_store(&sl->pps_milli, (int64_t)(pps * 1000.0));
    sl->rate_t = now_s;
    sl->rate_packets = packets;
}

void sensor_live_figures(struct sensor_live *sl, int64_t *active_calls, double *pps)
{
    *active_calls = atomic_load(&sl->active_calls);
    int64_t m = atomic_load(&sl->pps_milli);
    *pps = m < 0 ? -1.0 : (double)m / 1000.0;
}

void sensor_store_live(struct st_writer *w, struct api_live_stats *out)
{
    if (!w)
        return;
    struct st_stats ss;
    st_writer_stats(w, &ss);
    out->store_written = (int64_t)ss.written;
    out->store_errors = (int64_t)ss.errors;
    out->store_dropped = (int64_t)(ss.errors + ss.dropped_full);
    snprintf(out->store_error, sizeof out->store_error, "%s", ss.last_error);
}

void sensor_store_json(FILE *f, const struct st_stats *s)
{
    if (!s)
        return;
    fprintf(f,
            ", \"store\": {\"written\": %llu, \"calls_written\": %llu, \"errors\": %llu, "
            "\"dropped_queue_full\": %llu, \"not_written\": %llu, \"sqlite_kb\": %llu, "
            "\"last_error\": ",
            (unsigned long long)s->written, (unsigned long long)s->calls_written,
            (unsigned long long)s->errors, (unsigned long long)s->dropped_full,
            (unsigned long long)(s->errors + s->dropped_full),
            (unsigned long long)(s->sqlite_mem / 1024));
    if (s->last_error[0])
        jsonw_fput_str(f, s->last_error);
    else
        fputs("null", f);
    fputs("}", f);
}
