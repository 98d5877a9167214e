/* The store writer: analysis hands owned copies of SIP messages, finished
 * calls and finished RTP streams to a bounded queue (full: dropped and
 * counted, never blocking); one thread commits them in batched transactions
 * with prepared statements (records.c) and runs retention in small
 * transactions between batches (retention.c). Messages are linked to their
 * leg (sip_links rows, appended with the leg) from a bounded in-memory map
 * of Call-IDs (links.c); streams to their leg by the call layer's leg_ref,
 * whichever of the two arrives first. */
#include "writer_int.h"

#include <errno.h>
#include <stdlib.h>

#include "../common/deadline.h"
#include "../common/log.h"
#include "../dissect/sip.h"

#define DEF_BATCH 2000
#define DEF_FLUSH_MS 1000
#define DEF_RET_BATCH 500
/* Writer connection page cache: the tables' hot pages and the indexes. */
#define WRITER_CACHE_KIB 65536

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Records not written (SQLite refused them, or the queue was full) are
 * logged with the last reason: the first loss at once, then at most once a
 * minute, and what is left at exit (final). */
static void log_losses(struct st_writer *w, bool final)
{
    if (!w->opt.log_losses)
        return;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&w->mu);
    uint64_t lost = w->st.errors + w->st.dropped_full;
    bool due = lost > w->lost_logged &&
               (final || !w->logged_ns || now - w->logged_ns >= TS_STORE_LOG_PERIOD_S * NS_PER_S);
    struct st_stats s = w->st;
    if (due) {
        w->lost_logged = lost;
        w->logged_ns = now;
    }
    pthread_mutex_unlock(&w->mu);
    if (due)
        log_msg(LOG_ERROR,
                "store: %llu records not written so far (%llu refused by the database, "
                "last reason: %s; %llu dropped, queue full); %llu written",
                (unsigned long long)(s.errors + s.dropped_full), (unsigned long long)s.errors,
                s.last_error[0] ? s.last_error : "none", (unsigned long long)s.dropped_full,
                (unsigned long long)s.written);
}

/* ---- triggers ----
 * The rollup tables are kept by triggers for every other writer; the
 * writer's inserts and MOS updates skip them (rollup_owner) and rollup.c
 * sums them per batch instead. A trigger that only checks its WHEN still
 * costs a sub-program with its own registers per row (on i10000 about
 * 45 us per call with its legs, messages and streams, a sixth of analyze
 * --db's CPU), so a batch runs with triggers off when every trigger of the
 * schema is one of these: */
static const char *const SKIPPABLE[] = {
    /* inserts, while rollup_owner holds a row: their WHEN is false */
    "leg_sums_ins", "leg_minutes_ins", "failure_sums_leg_ins0", "failure_sums_leg_ins1",
    "row_counts_legs_ins", "row_counts_sip_messages_ins", "row_counts_rtp_streams_ins",
    "row_counts_calls_ins", "call_minutes_ins", "call_seconds_ins", "legs_rev_ins",
    /* a call inserted while no leg names its id (checked per batch: no leg
     * refers past the largest call id) */
    "failure_sums_call_ins0", "failure_sums_call_ins1",
    /* updates: a MOS alone under rollup_owner, or columns a batch never
     * updates with triggers off (call_ref, addresses, outcome, codes) */
    "leg_sums_upd", "leg_minutes_mos", "leg_minutes_upd", "call_minutes_upd", "call_seconds_upd",
    "failure_sums_leg_upd0", "failure_sums_leg_upd1", "failure_sums_leg_upd2",
    "failure_sums_leg_upd3", "failure_sums_call_upd0", "failure_sums_call_upd1",
    "legs_rev_upd", /* the writer binds the reversed digits and never changes digits */
    /* deletes: only with triggers on (retention, re-analysis, merges) */
    "leg_sums_del", "leg_minutes_del", "call_minutes_del", "call_seconds_del",
    "leg_ports_top", "leg_agents_top", "failure_sums_leg_del0",
    "failure_sums_leg_del1", "failure_sums_call_del0",
    "row_counts_calls_del", "row_counts_legs_del", "row_counts_sip_messages_del",
    "row_counts_rtp_streams_del",
    /* an hour from its minutes (v28): the writer computes the hours of the
     * minutes it writes (records.c), and only retention deletes them */
    "kpi_hour_ins", "kpi_hour_del", "kpi_hour_upd",
    /* leg_minutes' hours (v28), under the same conditions as theirs above */
    "leg_hours_ins", "leg_hours_mos", "leg_hours_upd", "leg_hours_del",
};

/* Every trigger of the schema is in SKIPPABLE (a new one keeps triggers on
 * until it is reviewed and listed). */
static bool triggers_skippable(struct st_writer *w)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(w->h, "SELECT name FROM sqlite_master WHERE type='trigger'", -1, &s,
                           NULL) != SQLITE_OK)
        return false;
    bool all = true;
    while (all && sqlite3_step(s) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(s, 0);
        bool known = false;
        for (size_t i = 0; n && !known && i < sizeof SKIPPABLE / sizeof SKIPPABLE[0]; i++)
            known = !strcmp(n, SKIPPABLE[i]);
        all = known;
    }
    sqlite3_finalize(s);
    return all;
}

/* Triggers off for a batch: the writer may skip them, and no leg refers to
 * a call id past the largest (the id the next call takes), whose insert
 * triggers would then adjust failure_sums. */
static void batch_triggers(struct st_writer *w)
{
    bool off = w->trig_may_skip &&
               q_i64(w, "SELECT m < 4611686018427387904 AND NOT EXISTS (SELECT 1 FROM legs"
                        " WHERE call_ref > m) FROM (SELECT coalesce(max(id),0) AS m FROM calls)"
                        " WHERE ?1=?1", 0, 0) == 1;
    st_writer_triggers(w, !off);
}

/* Records whose rows need the triggers: a re-analysed capture's deletes and
 * a merge of two calls (legs move, a call goes). */
static bool needs_triggers(const struct rec *r)
{
    return r->kind == REC_CAPTURE_BEGIN || (r->kind == REC_CALL && r->u.call.replaces);
}

/* Keep SQLite's reason for the failure that just happened (first one of a
 * batch wins: later ones are often its consequence). */
/* ---- the thread ---- */

/* Commit one list of records in one transaction. */
static void write_batch(struct st_writer *w, struct rec *list)
{
    uint64_t ok = 0, bad = 0, calls_ok = 0;
    char why[sizeof w->st.last_error] = "";
    w->replaced_pending = 0;
    w->roll_failed = false;
    /* rollup_owner's row: the insert triggers leave this transaction's
     * rows to rollup.c */
    bool txn = exec(w, "BEGIN IMMEDIATE");
    if (txn && !run(w, w->s[S_ROLL_ON])) {
        note_reason(w, why, sizeof why);
        exec(w, "ROLLBACK");
        txn = false;
    } else if (!txn) {
        note_reason(w, why, sizeof why);
    }
    if (txn)
        batch_triggers(w);
    st_batch_begin(w, list);
    for (struct rec *r = list; r; r = r->next) {
        if (txn && needs_triggers(r) && !st_writer_triggers(w, true)) {
            note_reason(w, why, sizeof why);
            txn = false; /* nothing more is written: the batch rolls back */
            exec(w, "ROLLBACK");
        }
        bool done = txn && st_rec_write(w, r);
        if (txn && !done)
            note_reason(w, why, sizeof why);
        if (r->sync || r->kind == REC_AFTER) /* control records are not counted as data */
            continue;
        if (done)
            ok++;
        else
            bad++;
        calls_ok += done && r->kind == REC_CALL;
    }
    if (txn && !st_mos_flush(w)) /* the records were counted; the reason is kept */
        note_reason(w, why, sizeof why);
    /* rows without their rollups, or the owner's row left behind, never commit */
    bool roll_ok = txn && st_roll_flush(w) && !w->roll_failed && run(w, w->s[S_ROLL_OFF]);
    /* nor legs whose ports leg_ports (v25), or whose User-Agent and Server
     * leg_agents (v23), lacks */
    bool agents_ok = txn && st_ports_flush(w) && st_agents_flush(w);
    bool committed = roll_ok && agents_ok && exec(w, "COMMIT");
    if (txn && !committed) {
        note_reason(w, why, sizeof why);
        exec(w, "ROLLBACK");
    }
    st_mos_drop(w);
    st_roll_drop(w->roll);
    st_batch_end(w);
    if (!committed)
        st_link_check_ids(w);
    /* marks: outside the lock, before a sync record of the batch is done */
    for (struct rec *r = list; r; r = r->next)
        if (r->kind == REC_AFTER)
            r->u.after.fn(r->u.after.ctx);
    pthread_mutex_lock(&w->mu);
    w->st.link_evicted += w->link_evicted;
    w->link_evicted = 0;
    if (committed) {
        w->st.written += ok;
        w->st.calls_written += calls_ok;
        w->st.errors += bad;
        w->st.batches++;
        w->st.replaced += w->replaced_pending;
    } else {
        w->st.errors += ok + bad;
    }
    if (why[0])
        memcpy(w->st.last_error, why, sizeof why);
    for (struct rec *r = list, *next; r; r = next) {
        next = r->next;
        if (r->sync) {
            if (!committed && r->kind == REC_CAPTURE_BEGIN)
                r->u.cap.id = 0;
            r->done = true; /* the producer owns and frees it */
        } else {
            free(r);
        }
    }
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
}

static bool has_sync(const struct st_writer *w)
{
    for (const struct rec *r = w->head; r; r = r->next)
        if (r->sync)
            return true;
    return false;
}

static void *writer_main(void *arg)
{
    struct st_writer *w = arg;
    bool retention = w->opt.retention_days || w->opt.retention_mb;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        /* Wait for a full batch, the flush interval, a waiting producer or close. */
        struct timespec dl;
        ts_deadline(CLOCK_MONOTONIC, w->retention_more ? 0 : w->opt.flush_ms, &dl);
        while (!w->closing && w->qcount < w->opt.batch_records && !has_sync(w)) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT)
                break;
        }
        struct rec *list = w->head;
        w->head = w->tail = NULL;
        w->qcount = 0;
        w->qbytes = 0;
        if (w->opt.wait_when_full)
            pthread_cond_broadcast(&w->done_cv); /* room for a waiting producer */
        bool closing = w->closing;
        pthread_mutex_unlock(&w->mu);

        if (list)
            write_batch(w, list);
        if (retention)
            w->retention_more = st_retention_step(w);
        log_losses(w, false);

        pthread_mutex_lock(&w->mu);
        if (closing && !w->head) {
            pthread_mutex_unlock(&w->mu);
            while (retention && st_retention_step(w))
                ;
            log_losses(w, true);
            return NULL;
        }
    }
}

/* ---- producer side ---- */

/* A record of size bytes whose first head bytes are cleared; NULL (the drop
 * counted like a full queue) when memory is short. */
static struct rec *rec_new(struct st_writer *w, enum rec_kind kind, size_t head, size_t size)
{
    struct rec *r = malloc(size);
    if (!r) {
        pthread_mutex_lock(&w->mu);
        w->st.dropped_full++;
        pthread_mutex_unlock(&w->mu);
        return NULL;
    }
    memset(r, 0, head);
    r->kind = (uint8_t)kind;
    r->bytes = size;
    return r;
}

/* Append r to the list head..tail (the queue, or the held records). */
static void rec_append(struct rec **head, struct rec **tail, struct rec *r)
{
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

/* Move the held records to the queue in one piece (the writer takes them
 * into one batch), once the queue has room for them. */
static void held_splice(struct st_writer *w)
{
    if (!w->held_head)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->opt.wait_when_full && w->qcount &&
           (w->qcount + w->nheld > w->opt.queue_limit ||
            w->qbytes + w->held_bytes > TS_STORE_QUEUE_BYTES)) {
        pthread_cond_signal(&w->cv);
        pthread_cond_wait(&w->done_cv, &w->mu);
    }
    if (w->tail)
        w->tail->next = w->held_head;
    else
        w->head = w->held_head;
    w->tail = w->held_tail;
    w->qcount += w->nheld;
    w->qbytes += w->held_bytes;
    w->st.queued += w->nheld;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->held_head = w->held_tail = NULL;
    w->nheld = w->held_bytes = 0;
}

/* Hold r (st_writer_hold): the producer's own list, no lock. */
static bool held_add(struct st_writer *w, struct rec *r)
{
    if (!w->holding || r->sync || r->kind == REC_AFTER || r->kind == REC_SNAP)
        return false;
    if (w->nheld >= TS_STORE_HELD_RECORDS || w->held_bytes + r->bytes > TS_STORE_HELD_BYTES)
        held_splice(w);
    rec_append(&w->held_head, &w->held_tail, r);
    w->nheld++;
    w->held_bytes += r->bytes;
    return true;
}

void st_writer_hold(struct st_writer *w, bool on)
{
    if (!w)
        return;
    if (!on)
        held_splice(w);
    w->holding = on;
}

/* The bytes of a record whose union holds a member of member_size, rounded
 * up for what follows it (align): a call or a stream needs a sixth of the
 * largest member (a TLS connection's). */
static size_t rec_head(size_t member_size, size_t align)
{
    size_t n = offsetof(struct rec, u) + member_size;
    if (align < _Alignof(struct rec))
        align = _Alignof(struct rec);
    return (n + align - 1) / align * align;
}

/* Queue a record; false (record freed, counted) when full. */
static bool enqueue(struct st_writer *w, struct rec *r)
{
    if (held_add(w, r))
        return true;
    held_splice(w); /* a record that does not wait keeps its place after them */
    pthread_mutex_lock(&w->mu);
    bool mark = r->kind == REC_AFTER; /* never waits, never dropped */
    while (!r->sync && !mark && w->opt.wait_when_full && w->qcount &&
           (w->qcount >= w->opt.queue_limit || w->qbytes + r->bytes > TS_STORE_QUEUE_BYTES)) {
        pthread_cond_signal(&w->cv); /* the writer takes the whole queue */
        pthread_cond_wait(&w->done_cv, &w->mu);
    }
    if (!r->sync && !mark && (w->qcount >= w->opt.queue_limit ||
                     w->qbytes + r->bytes > TS_STORE_QUEUE_BYTES)) {
        w->st.dropped_full++;
        pthread_mutex_unlock(&w->mu);
        free(r);
        return false;
    }
    rec_append(&w->head, &w->tail, r);
    w->qcount++;
    w->qbytes += r->bytes;
    if (!r->sync && !mark)
        w->st.queued++;
    if (r->sync || w->qcount >= w->opt.batch_records)
        pthread_cond_signal(&w->cv);
    if (r->sync)
        while (!r->done)
            pthread_cond_wait(&w->done_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return true;
}

void st_sip_brief_of(const struct sip_msg *msg, struct st_sip_brief *out)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return;
    out->call_id = msg->call_id;
    if (msg->is_request)
        out->method = msg->method_str;
    else
        out->status = msg->status;
    out->cseq = msg->cseq;
    out->cseq_method = msg->cseq_method_str;
}

void st_writer_frame(struct st_writer *w, const struct ts_frame *f)
{
    if (!w)
        return;
    w->cur_frame_no = f->frame_no;
    w->cur_off = f->file_off;
    w->cur_file_frame = 0;
    if (f->file_idx < TS_MAX_INPUT_FILES) {
        uint32_t i = f->file_idx;
        w->cur_file_frame = ++w->file_frames[i];
        if (!w->first_ts[i] || f->ts_ns < w->first_ts[i])
            w->first_ts[i] = f->ts_ns;
        if (f->ts_ns > w->last_ts[i])
            w->last_ts[i] = f->ts_ns;
    }
}

static char *put(char **p, struct bv v) /* copy v into the record block */
{
    char *d = *p;
    if (v.len)
        memcpy(d, v.p, v.len);
    *p += v.len;
    return d;
}

void st_writer_sip(struct st_writer *w, const struct pkt_meta *m, struct bv raw,
                   const struct st_sip_brief *b)
{
    if (!w)
        return;
    struct st_sip_brief empty = { 0 };
    if (!b)
        b = &empty;
    if (raw.len > TS_SIP_MAX_MSG)
        raw.len = TS_SIP_MAX_MSG;
    struct bv cid = b->call_id, meth = b->method, cm = b->cseq_method;
    /* Bounded copies of what the brief names (the raw text has it all). */
    if (cid.len > 1024)
        cid.len = 1024;
    if (meth.len > 64)
        meth.len = 64;
    if (cm.len > 64)
        cm.len = 64;
    size_t extra = cid.len + meth.len + cm.len + raw.len;
    /* only the SIP member of the union: a message is the most common record */
    size_t head = offsetof(struct rec, u) + sizeof((struct rec *)0)->u.sip;
    head = (head + 7) & ~(size_t)7;
    struct rec *r = rec_new(w, REC_SIP, head, head + extra);
    if (!r)
        return;
    char *p = (char *)r + head;
    r->u.sip.call_id = cid.len ? put(&p, cid) : NULL;
    r->u.sip.call_id_len = (uint32_t)cid.len;
    r->u.sip.method = meth.len ? put(&p, meth) : NULL;
    r->u.sip.method_len = (uint32_t)meth.len;
    r->u.sip.cseq_method = cm.len ? put(&p, cm) : NULL;
    r->u.sip.cseq_method_len = (uint32_t)cm.len;
    r->u.sip.raw = (uint8_t *)put(&p, raw);
    r->u.sip.raw_len = (uint32_t)raw.len;
    r->u.sip.ts = m->ts_ns;
    r->u.sip.src = m->src;
    r->u.sip.dst = m->dst;
    r->u.sip.sport = m->sport;
    r->u.sip.dport = m->dport;
    r->u.sip.l4 = m->l4;
    r->u.sip.status = b->status;
    r->u.sip.cseq = b->cseq;
    if (m->file_idx < w->ncaps)
        r->u.sip.capture_id = w->cap_ids[m->file_idx];
    if (m->frame_no && m->frame_no == w->cur_frame_no) {
        r->u.sip.frame = w->cur_file_frame;
        r->u.sip.off = w->cur_off;
    }
    enqueue(w, r);
}

void st_writer_call(struct st_writer *w, const struct calls_call *c)
{
    if (!w || !c)
        return;
    size_t n = c->nlegs;
    size_t head = rec_head(sizeof((struct rec *)0)->u.call, _Alignof(struct calls_leg));
    struct rec *r = rec_new(w, REC_CALL, head, head + n * sizeof(struct calls_leg));
    if (!r)
        return;
    r->u.call = *c;
    r->u.call.legs = (struct calls_leg *)((char *)r + head);
    if (n)
        memcpy(r->u.call.legs, c->legs, n * sizeof(struct calls_leg));
    enqueue(w, r);
}

void st_sip_hook(void *ctx, const struct pkt_meta *m, struct bv raw, const struct sip_msg *msg)
{
    struct st_sip_brief b;
    st_sip_brief_of(msg, &b);
    st_writer_sip(ctx, m, raw, &b);
}

void st_calls_sink(void *ctx, const struct calls_call *c) { st_writer_call(ctx, c); }

void st_writer_stream(struct st_writer *w, const struct media_stream *s)
{
    if (!w || !s)
        return;
    size_t n = s->series ? s->nseries : 0;
    if (n > TS_MEDIA_MAX_SERIES)
        n = TS_MEDIA_MAX_SERIES;
    size_t head = rec_head(sizeof((struct rec *)0)->u.stream, _Alignof(struct media_series));
    struct rec *r = rec_new(w, REC_STREAM, head, head + n * sizeof(struct media_series));
    if (!r)
        return;
    r->u.stream = *s;
    r->u.stream.nseries = (uint32_t)n;
    r->u.stream.series = n ? (struct media_series *)((char *)r + head) : NULL;
    if (n)
        memcpy(r->u.stream.series, s->series, n * sizeof(struct media_series));
    enqueue(w, r);
}

void st_media_sink(void *ctx, const struct media_stream *s) { st_writer_stream(ctx, s); }

void st_writer_tls(struct st_writer *w, const struct tlspeer_conn *c)
{
    if (!w || !c)
        return;
    struct rec *r = rec_new(w, REC_TLS, sizeof *r, sizeof *r);
    if (!r)
        return;
    st_tls_rec_of(c, &r->u.tls);
    enqueue(w, r);
}

void st_tls_sink(void *ctx, const struct tlspeer_conn *c) { st_writer_tls(ctx, c); }

void st_writer_oflow(struct st_writer *w, const struct oflow_done *f)
{
    if (!w || !f)
        return;
    struct rec *r = rec_new(w, REC_OFLOW, sizeof *r, sizeof *r);
    if (!r)
        return;
    r->u.oflow = *f;
    enqueue(w, r);
}

void st_oflow_sink(void *ctx, const struct oflow_done *f) { st_writer_oflow(ctx, f); }

uint64_t st_capture_begin(struct st_writer *w, const char *path)
{
    if (!w || !path)
        return 0;
    struct rec r = { .kind = REC_CAPTURE_BEGIN, .sync = true };
    r.u.cap.path = path;
    enqueue(w, &r);
    if (w->ncaps < TS_MAX_INPUT_FILES)
        w->cap_ids[w->ncaps++] = r.u.cap.id;
    return r.u.cap.id;
}

void st_capture_end(struct st_writer *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->ncaps; i++) {
        struct rec *r;
        if (!w->cap_ids[i] || !(r = rec_new(w, REC_CAPTURE_END, sizeof *r, sizeof *r)))
            continue;
        r->u.capend.id = w->cap_ids[i];
        r->u.capend.first_ts = w->first_ts[i];
        r->u.capend.last_ts = w->last_ts[i];
        enqueue(w, r);
    }
}

/* Buckets of t from since_ns on (ascending: counted from the end). */
static size_t buckets_since(const struct calls_trunk *t, uint64_t since_ns)
{
    size_t n = 0;
    while (n < t->nbuckets && t->buckets[t->nbuckets - 1 - n].start_ns >= since_ns)
        n++;
    return n;
}

struct open_fill {
    struct snap_leg *legs;
    size_t n, cap;
};

static void open_leg(void *ctx, const struct calls_leg *l, enum calls_open_state st,
                     uint64_t key)
{
    struct open_fill *f = ctx;
    if (f->n >= f->cap)
        return;
    struct snap_leg *o = &f->legs[f->n++];
    memset(o, 0, sizeof *o);
    o->key = key;
    o->state = (uint8_t)st;
    memcpy(o->call_id, l->call_id, sizeof o->call_id);
    memcpy(o->caller, l->pai[0] ? l->pai : l->from, sizeof o->caller);
    memcpy(o->callee, l->ruri[0] ? l->ruri : l->to, sizeof o->callee);
    o->invite_ns = l->invite_ns;
    o->ring_ns = l->ring_ns;
    o->answer_ns = l->answer_ns;
    o->src = l->src;
    o->dst = l->dst;
    o->sport = l->sport;
    o->dport = l->dport;
    memcpy(o->transport, l->transport, sizeof o->transport);
    memcpy(o->site, l->site, sizeof o->site);
}

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* A snapshot record of c (buckets from since_ns, legs in progress when
 * running); NULL when memory is short (counted). */
static struct rec *snap_new(struct st_writer *w, const struct calls *c, uint64_t since_ns,
                            uint64_t now_ns, bool running)
{
    size_t nt = calls_trunk_count(c), nb = 0, nr = calls_reg_count(c);
    for (size_t i = 0; i < nt; i++)
        nb += buckets_since(calls_trunk_get(c, i), since_ns);
    struct calls_open_counts oc;
    memset(&oc, 0, sizeof oc);
    if (running)
        calls_open_legs(c, NULL, NULL, &oc);
    uint64_t open = oc.legs_up + oc.legs_ringing + oc.legs_trying;
    size_t nl = open < TS_STORE_LIVE_LEGS ? (size_t)open : TS_STORE_LIVE_LEGS;
    struct calls_topo_node *nodes = calloc(TS_TOPO_MAX_ADDRS, sizeof *nodes);
    size_t nn = nodes ? calls_topo_nodes(c, nodes, TS_TOPO_MAX_ADDRS) : 0;
    size_t head = ALIGN8(sizeof(struct rec));
    size_t o_t = head, o_b = ALIGN8(o_t + nt * sizeof(struct snap_trunk)),
           o_r = ALIGN8(o_b + nb * sizeof(struct calls_bucket)),
           o_l = ALIGN8(o_r + nr * sizeof(struct calls_reg)),
           o_n = ALIGN8(o_l + nl * sizeof(struct snap_leg)),
           end = o_n + nn * sizeof(struct calls_topo_node);
    struct rec *r = rec_new(w, REC_SNAP, sizeof *r, end);
    if (!r) {
        free(nodes);
        return NULL;
    }
    struct snap *sn = &r->u.snap;
    sn->trunks = (struct snap_trunk *)((char *)r + o_t);
    sn->buckets = (struct calls_bucket *)((char *)r + o_b);
    sn->regs = (struct calls_reg *)((char *)r + o_r);
    sn->legs = (struct snap_leg *)((char *)r + o_l);
    sn->nodes = (struct calls_topo_node *)((char *)r + o_n);
    if (nn)
        memcpy(sn->nodes, nodes, nn * sizeof *nodes);
    sn->nnodes = nn;
    free(nodes);
    sn->running = running;
    sn->open = oc;
    sn->capture_ns = now_ns;
    for (size_t i = 0; i < nt; i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        struct snap_trunk *o = &sn->trunks[sn->ntrunks++];
        memset(o, 0, sizeof *o);
        memcpy(o->name, t->name, sizeof o->name);
        o->local = t->local;
        o->peer = t->peer;
        o->itsp = t->itsp;
        memcpy(o->site, t->site, sizeof o->site);
        o->all = t->all;
        o->p95 = calls_hist_p95(&t->srd_hist);
        o->peak = t->peak_concurrent;
        o->peak_ns = t->peak_ns;
        o->peak_kbps = calls_trunk_peak_kbps(t);
        size_t k = buckets_since(t, since_ns);
        o->b0 = sn->nbuckets;
        o->nb = k;
        if (k)
            memcpy(&sn->buckets[sn->nbuckets], &t->buckets[t->nbuckets - k],
                   k * sizeof t->buckets[0]);
        sn->nbuckets += k;
    }
    for (size_t i = 0; i < nr; i++)
        sn->regs[sn->nregs++] = *calls_reg_get(c, i);
    if (nl) {
        struct open_fill f = { sn->legs, 0, nl };
        struct calls_open_counts again;
        calls_open_legs(c, open_leg, &f, &again);
        sn->nlegs = f.n;
    }
    return r;
}

void st_writer_trunks(struct st_writer *w, const struct calls *c)
{
    if (!w || !c)
        return;
    struct rec *r = snap_new(w, c, 0, 0, false);
    if (!r)
        return;
    r->sync = true;
    enqueue(w, r);
    free(r); /* a sync record stays the producer's */
}

void st_writer_trunks_queue(struct st_writer *w, const struct calls *c)
{
    struct rec *r = w && c ? snap_new(w, c, 0, 0, false) : NULL;
    if (r)
        enqueue(w, r);
}

static void no_op(void *ctx) { (void)ctx; }

void st_writer_wait(struct st_writer *w)
{
    if (!w)
        return;
    struct rec r = { .kind = REC_AFTER, .sync = true };
    r.u.after.fn = no_op;
    enqueue(w, &r);
}

bool st_writer_after(struct st_writer *w, st_after_fn fn, void *ctx)
{
    if (!w)
        return false;
    struct rec *r = calloc(1, sizeof *r);
    if (!r)
        return false;
    r->kind = REC_AFTER;
    r->bytes = sizeof *r;
    r->u.after.fn = fn;
    r->u.after.ctx = ctx;
    return enqueue(w, r);
}

bool st_writer_live(struct st_writer *w, const struct calls *c, uint64_t since_ns,
                    uint64_t now_ns)
{
    if (!w || !c)
        return false;
    struct rec *r = snap_new(w, c, since_ns, now_ns, true);
    return r && enqueue(w, r);
}

void st_writer_stats(struct st_writer *w, struct st_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
    out->sqlite_mem = st_sqlmem_used();
}

void st_stats_print(FILE *f, const struct st_stats *s)
{
    fprintf(f,
            "store: %llu queued, %llu written, %llu dropped (queue full), %llu batches, "
            "%llu errors, %llu calls expired, %llu calls replaced\n",
            (unsigned long long)s->queued, (unsigned long long)s->written,
            (unsigned long long)s->dropped_full, (unsigned long long)s->batches,
            (unsigned long long)s->errors, (unsigned long long)s->retention_deleted,
            (unsigned long long)s->replaced);
    if (s->errors)
        fprintf(f, "store: last error: %s\n", s->last_error);
}

/* ---- open / close ---- */

static void writer_destroy(struct st_writer *w)
{
    st_link_free_all(w);
    st_roll_free(w->roll);
    for (int i = 0; i < S_N; i++)
        sqlite3_finalize(w->s[i]);
    sqlite3_close(w->h);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->done_cv);
    free(w);
}

struct st_writer *st_writer_open(const char *path, const struct st_options *opt, char *err,
                                 size_t errlen)
{
    struct st_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    /* the flush deadline runs on the monotonic clock: a step of the wall
     * clock neither stalls the writer nor makes it spin */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->done_cv, NULL);
    if (opt)
        w->opt = *opt;
    if (!w->opt.queue_limit || w->opt.queue_limit > TS_STORE_QUEUE_MAX)
        w->opt.queue_limit = TS_STORE_QUEUE_MAX;
    if (!w->opt.batch_records)
        w->opt.batch_records = DEF_BATCH;
    if (!w->opt.flush_ms)
        w->opt.flush_ms = DEF_FLUSH_MS;
    if (!w->opt.retention_batch)
        w->opt.retention_batch = DEF_RET_BATCH;
    snprintf(w->sensor, sizeof w->sensor, "%s", w->opt.sensor ? w->opt.sensor : "");
    w->opt.sensor = NULL;

    if (htab_init(&w->links, TS_STORE_LINK_DIALOGS) != 0 || !(w->roll = st_roll_new())) {
        snprintf(err, errlen, "out of memory");
        writer_destroy(w);
        return NULL;
    }
    if (st_open_handle(path, false, &w->h, err, errlen) != ST_OK) {
        writer_destroy(w);
        return NULL;
    }
    /* A private page cache large enough for the hot index pages; temporary
     * b-trees (retention's id lists) in memory. */
    char pragma[96];
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
             WRITER_CACHE_KIB);
    exec(w, pragma);
    w->leg_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM legs WHERE ?1=?1", 0, 0);
    w->stream_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM rtp_streams WHERE ?1=?1", 0, 0);
    w->reg_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM registrations WHERE ?1=?1", 0, 0);
    w->keep_floor = q_i64(w, "SELECT coalesce(max(id),0) FROM keepalives WHERE ?1=?1", 0, 0);
    w->trig_may_skip = triggers_skippable(w);
    for (int i = 0; i < S_N; i++) {
        if (sqlite3_prepare_v3(w->h, st_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->s[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: cannot prepare statement %d: %s", path, i,
                     sqlite3_errmsg(w->h));
            writer_destroy(w);
            return NULL;
        }
    }
    if (pthread_create(&w->thr, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the store writer thread");
        writer_destroy(w);
        return NULL;
    }
    w->thr_started = true;
    return w;
}

void st_writer_close_stats(struct st_writer *w, struct st_stats *out)
{
    if (!w)
        return;
    st_writer_hold(w, false);
    if (w->thr_started) {
        pthread_mutex_lock(&w->mu);
        w->closing = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thr, NULL);
    }
    if (out)
        *out = w->st;
    writer_destroy(w);
}

void st_writer_close(struct st_writer *w) { st_writer_close_stats(w, NULL); }
