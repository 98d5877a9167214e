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
#include "../store/store.h"

#define NS 1000000000ull
/* A leg is judged once its call ended and its streams were quiet this long
 * (data time): a stream finishes after its RTP timeout, after the BYE. */
#define HOLD_NS (60ull * NS)
struct checklist_live {
    struct checklist *cl;           /* analysis thread */
    uint64_t bucket;                /* the bucket of the last hand-over */
    struct st_alerts *db;           /* storing thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cl_snapshot *next;       /* under mu: waiting to be stored */
    /* The calls a snapshot names are in the writer's queue before it: a
     * mark queued behind them (st_writer_after) comes back once they are
     * written. Marks come back in order; next may be stored once marks_done
     * reaches next_mark. Under mu. */
    uint64_t marks_sent, marks_done, next_mark;
    bool orphan;                    /* stopped with marks out: the last one frees */
    bool stop;
    uint64_t stored, failed;
};

static void destroy(struct checklist_live *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

/* The writer thread: the records queued before a mark are written. */
static void mark_done(void *ctx)
{
    struct checklist_live *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->marks_done++;
    bool last = l->orphan && l->marks_done == l->marks_sent;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (last)
        destroy(l);
}

static void *run(void *arg)
{
    struct checklist_live *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        /* the calls it names written first (no wall-clock guess) */
        if (!l->next || l->marks_done < l->next_mark) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
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
        destroy(l);
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

void checklist_live_step(struct checklist_live *l, struct st_writer *w, const struct calls *c,
                         uint64_t now_ns, uint64_t bucket_ns)
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
    /* behind the calls already handed to the writer; without a mark (no
     * memory) it waits for the next one */
    if (!w)
        l->next_mark = l->marks_sent;
    else if (st_writer_after(w, mark_done, l))
        l->next_mark = ++l->marks_sent;
    else
        l->next_mark = l->marks_sent + 1;
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
    pthread_mutex_lock(&l->mu);
    l->orphan = l->marks_done < l->marks_sent; /* the writer still holds marks */
    bool orphan = l->orphan;
    pthread_mutex_unlock(&l->mu);
    if (!orphan)
        destroy(l);
}
