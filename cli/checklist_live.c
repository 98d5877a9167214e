/* The live trunk checklist (cli/checklist_live.h). */
#include "checklist_live.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../alert/checklist.h"
#include "../calls/calls.h"
#include "../common/log.h"
#include "../store/alerts.h"

#define NS 1000000000ull
/* A leg is judged once its call ended and its streams were quiet this long
 * (data time): a stream finishes after its RTP timeout, after the BYE. */
#define HOLD_NS (60ull * NS)
/* The storing thread waits this long (wall) after taking results, so the
 * writer thread has written the calls they name. */
#define STORE_DELAY_MS 1500

struct checklist_live {
    struct checklist *cl;           /* analysis thread */
    uint64_t bucket;                /* the bucket of the last hand-over */
    struct st_alerts *db;           /* storing thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cl_snapshot *next;       /* under mu: waiting to be stored */
    bool stop;
    uint64_t stored, failed;
};

static void *run(void *arg)
{
    struct checklist_live *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (!l->next) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        /* let the writer catch up with the calls the results name */
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += (STORE_DELAY_MS % 1000) * 1000000l;
        dl.tv_sec += STORE_DELAY_MS / 1000 + dl.tv_nsec / 1000000000l;
        dl.tv_nsec %= 1000000000l;
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &dl) == 0)
            ;
        if (l->stop)
            break;
        struct cl_snapshot *s = l->next;
        l->next = NULL;
        pthread_mutex_unlock(&l->mu);
        if (checklist_snapshot_store(s, l->db) == 0) {
            l->stored++;
        } else if (!l->failed++) {
            log_msg(LOG_WARN, "checklist: cannot store the trunk checklist (database busy "
                              "or locked); trying again at the next bucket");
        }
        checklist_snapshot_free(s);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

struct checklist_live *checklist_live_start(const char *db)
{
    struct checklist_live *l = calloc(1, sizeof *l);
    char err[512];
    if (!l || !(l->cl = checklist_new())) {
        log_msg(LOG_ERROR, "checklist: out of memory; no live trunk checklist");
        free(l);
        return NULL;
    }
    checklist_set_live(l->cl);
    l->db = st_alerts_open(db, err, sizeof err);
    if (!l->db) {
        log_msg(LOG_ERROR, "checklist: %s; no live trunk checklist", err);
        checklist_free(l->cl);
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->thread, NULL, run, l) != 0) {
        log_msg(LOG_ERROR, "checklist: cannot start its thread; no live trunk checklist");
        st_alerts_close(l->db);
        checklist_free(l->cl);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l);
        return NULL;
    }
    return l;
}

void checklist_live_call(struct checklist_live *l, const struct calls_call *c)
{
    if (l && !c->replaces) /* a merged call: its legs were counted as they came */
        checklist_call(l->cl, c);
}

void checklist_live_stream(struct checklist_live *l, const struct media_stream *s)
{
    if (!l)
        return;
    checklist_media(l->cl, s);
}

void checklist_live_step(struct checklist_live *l, const struct calls *c, uint64_t now_ns,
                         uint64_t bucket_ns)
{
    if (!l || !c || !bucket_ns)
        return;
    uint64_t b = now_ns / bucket_ns;
    if (!l->bucket) {
        l->bucket = b; /* the first bucket closes first */
        return;
    }
    if (b == l->bucket)
        return;
    l->bucket = b;
    if (now_ns > HOLD_NS)
        checklist_settle_before(l->cl, now_ns - HOLD_NS);
    struct cl_snapshot *s = checklist_snapshot(l->cl, c);
    if (!s)
        return;
    pthread_mutex_lock(&l->mu);
    struct cl_snapshot *old = l->next;
    l->next = s;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    checklist_snapshot_free(old);
}

void checklist_live_stop(struct checklist_live *l, const struct calls *c)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    checklist_snapshot_free(l->next);
    if (c) {
        checklist_settle(l->cl);
        struct cl_snapshot *s = checklist_snapshot(l->cl, c);
        if (!s || checklist_snapshot_store(s, l->db) != 0)
            log_msg(LOG_WARN, "checklist: cannot store the final trunk checklist");
        checklist_snapshot_free(s);
    }
    st_alerts_close(l->db);
    checklist_free(l->cl);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
