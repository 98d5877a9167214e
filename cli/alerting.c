/* The alert evaluator as the commands run it (cli/alerting.h). */
#include "alerting.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../alert/eval.h"
#include "../alert/notify.h"
#include "../common/log.h"

int cli_alerts_config(const char *config_path, const char *prog, struct alert_config *out)
{
    char err[512];
    if (alert_config_default(out) != 0) {
        fprintf(stderr, "%s: the compiled-in alert rules do not parse\n", prog);
        return 2;
    }
    if (config_path && alert_config_load(out, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    return 0;
}

struct cli_alerts {
    struct alert_config cfg;
    struct alert_notify *notify;
    struct alert_eval *eval;
    uint64_t (*drops)(void *);
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void *run(void *arg)
{
    struct cli_alerts *a = arg;
    bool failed = false;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        int64_t t = (int64_t)dl.tv_sec * 1000000000ll + dl.tv_nsec + a->cfg.eval_ns;
        dl.tv_sec = (time_t)(t / 1000000000ll);
        dl.tv_nsec = (long)(t % 1000000000ll);
        while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu, &dl) == 0)
            ;
        if (a->stop)
            break;
        pthread_mutex_unlock(&a->mu);
        int64_t now = alert_eval_data_now(a->eval);
        uint64_t drops = a->drops ? a->drops(a->ctx) : 0;
        if (now > 0 || !a->drops) {
            int rc = alert_eval_run(a->eval, now > 0 ? now : wall_ns(), wall_ns(), drops);
            if (rc != 0 && !failed)
                log_msg(LOG_WARN, "alerts: an evaluation failed (database busy or locked); "
                                  "retrying every period");
            failed = rc != 0;
        }
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

struct cli_alerts *cli_alerts_start(const struct alert_config *cfg, const char *db, unsigned what,
                                    uint64_t (*drops)(void *), void *ctx)
{
    struct cli_alerts *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    char err[512];
    a->cfg = *cfg;
    a->drops = drops;
    a->ctx = ctx;
    a->notify = alert_notify_new(cfg);
    a->eval = alert_eval_new(cfg, db, a->notify, what, err, sizeof err);
    if (!a->eval) {
        log_msg(LOG_ERROR, "alerts: %s; no alert evaluation", err);
        alert_notify_free(a->notify);
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        log_msg(LOG_ERROR, "alerts: cannot start the evaluator thread");
        alert_eval_free(a->eval);
        alert_notify_free(a->notify);
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
        return NULL;
    }
    log_msg(LOG_INFO, "alerts: %zu rules, evaluated every %lld s%s%s%s", cfg->nrules,
            (long long)(cfg->eval_ns / 1000000000ll), cfg->alertmanager[0] ? ", Alertmanager" : "",
            cfg->webhook[0] ? ", webhook" : "", cfg->syslog ? ", syslog" : "");
    return a;
}

void cli_alerts_stop(struct cli_alerts *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    alert_eval_free(a->eval);
    alert_notify_free(a->notify);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

int cli_alerts_replay(const struct alert_config *cfg, const char *db, const char *prog)
{
    char err[512];
    struct alert_notify *n = alert_notify_new(cfg);
    struct alert_eval *e = alert_eval_new(cfg, db, n, ALERT_EVAL_DATA, err, sizeof err);
    if (!e) {
        fprintf(stderr, "%s: alerts: %s\n", prog, err);
        alert_notify_free(n);
        return -1;
    }
    int rc = alert_eval_replay(e);
    if (rc != 0)
        fprintf(stderr, "%s: alerts: evaluating the stored data failed\n", prog);
    alert_eval_free(e);
    if (n && !alert_notify_flush(n, 10000))
        fprintf(stderr, "%s: alerts: notifications still undelivered after 10 s\n", prog);
    alert_notify_free(n);
    return rc ? -1 : 0;
}
