/* The rollups of the rows the store writer inserts, kept in C per batch
 * instead of per row by triggers (schema.c, version 22): leg_sums,
 * leg_minutes, call_minutes, failure_sums and row_counts, and since
 * version 25 call_seconds (call_minutes' sums per second of the start). Each inserted
 * call and leg adds its contribution, computed from the values it was
 * bound with, as the insert triggers computed it from NEW, to an array;
 * before COMMIT (and before a record that deletes or moves rows) each array
 * is sorted by its key and every distinct key is one UPSERT of the sums.
 * The insert triggers stay for every other writer (the sqlite3 shell, a
 * bulk loader): their WHEN skips them while rollup_owner holds a row, which
 * it does only inside the writer's own transaction (inserted after BEGIN,
 * deleted before COMMIT: no other connection ever sees it). Updates and
 * deletes (MOS updates, merged calls, re-analysis, retention) still run
 * their triggers; those that can subtract from a row only when it exists
 * (leg_minutes, failure_sums) never meet a pending one, since the arrays
 * are written out before such a record. */
#include "writer_int.h"

#include <stdlib.h>

/* Addresses as stored (addr_text): an IPv6 text is at most 45 bytes. */
#define ROLL_ADDR 48
#define ROLL_NAME 16 /* outcome and failure side names */

struct ls_key {
    char src[ROLL_ADDR], dst[ROLL_ADDR];
    int64_t day;
    char outcome[ROLL_NAME];
    int64_t status;
    char codec[48]; /* calls_sdp.codecs up to its first comma */
};
struct ls_ent {
    struct ls_key k;
    int64_t legs, acd_ns, acd_n, pdd_ns, pdd_n, mos_n;
    double mos_sum;
};

struct lm_key {
    char src[ROLL_ADDR], dst[ROLL_ADDR];
    int64_t minute;
};
struct lm_ent {
    struct lm_key k;
    double mos_sum;
    int64_t mos_n;
};

struct cm_key {
    int64_t minute;
    char site[TS_SITE_LEN + 8];
};
enum { CM_CALLS, CM_ATTEMPTS, CM_ANSWERED, CM_BUSY, CM_REJECTED, CM_CANCELLED, CM_FAILED,
       CM_TIMEOUTS, CM_PDD_SUM, CM_PDD_N, CM_DUR_N, CM_MOS_N, CM_ENDS, CM_N };
struct cm_ent {
    struct cm_key k;
    int64_t n[CM_N];
    double dur_sum, mos_sum;
};

/* A failure kind; NULL columns are flagged (the table matches with IS). */
struct fs_key {
    char a[ROLL_ADDR], b[ROLL_ADDR];
    char outcome[ROLL_NAME], side[ROLL_NAME];
    int64_t status, q850;
    char reason[CALLS_USER_LEN + 8], sender[ROLL_ADDR], hdr[CALLS_USER_LEN + 8];
    uint8_t has_status, has_q850, has_sender, pad[5];
};
struct fs_ent {
    struct fs_key k;
    int64_t calls;
};

struct st_roll {
    struct ls_ent ls[ROLL_SLOTS];
    struct lm_ent lm[ROLL_SLOTS];
    struct cm_ent cm[ROLL_SLOTS];
    struct cm_ent cs[ROLL_SLOTS]; /* call_seconds: key.minute holds the second */
    struct fs_ent fs[ROLL_SLOTS];
    size_t nls, nlm, ncm, ncs, nfs;
    int64_t rows[ROLL_TABLES];
};

static const char *const ROLL_TABLE[ROLL_TABLES] = { "calls", "legs", "sip_messages",
                                                     "rtp_streams" };

struct st_roll *st_roll_new(void) { return calloc(1, sizeof(struct st_roll)); }

void st_roll_free(struct st_roll *r) { free(r); }

void st_roll_drop(struct st_roll *r)
{
    if (!r)
        return;
    r->nls = r->nlm = r->ncm = r->ncs = r->nfs = 0;
    memset(r->rows, 0, sizeof r->rows);
}

void st_roll_row(struct st_writer *w, enum roll_table t) { w->roll->rows[t]++; }

static void copy_text(char *dst, size_t cap, const char *src, size_t srclen)
{
    size_t n = strnlen(src, srclen);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
}

/* ---- contributions of inserted rows (NEW of the insert triggers) ---- */

static bool is_open(uint8_t outcome)
{
    return outcome == CALLS_IN_PROGRESS || outcome == CALLS_PENDING;
}

void st_roll_leg(struct st_writer *w, const struct calls_leg *l, const struct mos_pend *mos)
{
    struct st_roll *r = w->roll;
    if ((r->nls == ROLL_SLOTS || r->nlm == ROLL_SLOTS) && !st_roll_flush(w))
        w->roll_failed = true;
    bool has_mos = mos && mos->id;
    struct ls_ent *e = &r->ls[r->nls++];
    memset(e, 0, sizeof *e);
    addr_text(&l->src, e->k.src, sizeof e->k.src);
    addr_text(&l->dst, e->k.dst, sizeof e->k.dst);
    e->k.day = (int64_t)l->invite_ns / 86400000000000ll;
    const char *o = calls_outcome_name((enum calls_outcome)l->outcome);
    copy_text(e->k.outcome, sizeof e->k.outcome, o, strlen(o));
    e->k.status = l->final_status ? l->final_status : -1;
    const char *cd = l->callee_sdp.codecs;
    size_t cl = strnlen(cd, sizeof l->callee_sdp.codecs);
    const char *comma = memchr(cd, ',', cl);
    copy_text(e->k.codec, sizeof e->k.codec, cd, comma ? (size_t)(comma - cd) : cl);
    e->legs = 1;
    /* LS_ACD, LS_PDD: a NULL (0) time makes the comparison NULL */
    if (l->outcome == CALLS_ANSWERED && l->end_ns && l->answer_ns && l->end_ns >= l->answer_ns) {
        e->acd_ns = (int64_t)(l->end_ns - l->answer_ns);
        e->acd_n = 1;
    }
    uint64_t rung = l->ring_ns ? l->ring_ns : l->answer_ns;
    if (rung && l->invite_ns && rung >= l->invite_ns) {
        e->pdd_ns = (int64_t)(rung - l->invite_ns);
        e->pdd_n = 1;
    }
    if (has_mos) {
        e->mos_sum = mos->mos;
        e->mos_n = 1;
        if (e->k.src[0] && e->k.dst[0] && l->invite_ns) { /* LM_HAS: both addresses */
            struct lm_ent *m = &r->lm[r->nlm++];
            memset(m, 0, sizeof *m);
            memcpy(m->k.src, e->k.src, sizeof m->k.src);
            memcpy(m->k.dst, e->k.dst, sizeof m->k.dst);
            m->k.minute = (int64_t)l->invite_ns / 60000000000ll * 60000000000ll;
            m->mos_sum = mos->mos;
            m->mos_n = 1;
        }
    }
    st_roll_row(w, ROLL_LEGS);
}

/* The failure kind of leg l of call c; false when it has none (FS_QUAL). */
static bool fail_kind(const struct calls_call *c, const struct calls_leg *l, struct fs_key *k)
{
    if (l->outcome == CALLS_ANSWERED || is_open(l->outcome))
        return false;
    char s[ROLL_ADDR] = "", d[ROLL_ADDR] = "";
    if (!addr_text(&l->src, s, sizeof s) || !addr_text(&l->dst, d, sizeof d))
        return false; /* a NULL address */
    memset(k, 0, sizeof *k);
    bool lt = strcmp(s, d) < 0; /* min()/max() of two texts: BINARY, bytes */
    memcpy(k->a, lt ? s : d, sizeof k->a);
    memcpy(k->b, lt ? d : s, sizeof k->b);
    const char *o = calls_outcome_name((enum calls_outcome)c->outcome);
    copy_text(k->outcome, sizeof k->outcome, o, strlen(o));
    const char *sd = calls_side_name((enum calls_side)c->failure_side);
    copy_text(k->side, sizeof k->side, sd, strlen(sd));
    if (l->final_status) {
        k->status = l->final_status;
        k->has_status = 1;
        memcpy(k->sender, d, sizeof k->sender);
        k->has_sender = 1;
    }
    copy_text(k->reason, sizeof k->reason, l->reason, sizeof l->reason);
    copy_text(k->hdr, sizeof k->hdr, l->reason_hdr, sizeof l->reason_hdr);
    if (l->q850_cause) {
        k->q850 = l->q850_cause;
        k->has_q850 = 1;
    }
    return true;
}

void st_roll_call(struct st_writer *w, const struct calls_call *c, uint64_t end_ns,
                  const struct mos_pend *mos, const bool *leg_stored)
{
    struct st_roll *r = w->roll;
    if ((r->ncm + 2 > ROLL_SLOTS || r->ncs == ROLL_SLOTS || r->nfs + TS_CALLS_MAX_LEGS > ROLL_SLOTS) &&
        !st_roll_flush(w))
        w->roll_failed = true;
    /* call_minutes (CM_ONE): the start minute's sums, the end minute's end */
    struct cm_ent *e = &r->cm[r->ncm++];
    memset(e, 0, sizeof *e);
    int64_t start = (int64_t)c->start_ns;
    e->k.minute = start / 60000000000ll * 60000000000ll;
    copy_text(e->k.site, sizeof e->k.site, c->site, sizeof c->site);
    bool ended = !is_open(c->outcome);
    e->n[CM_CALLS] = 1;
    e->n[CM_ATTEMPTS] = ended;
    e->n[CM_ANSWERED] = c->outcome == CALLS_ANSWERED;
    e->n[CM_BUSY] = c->outcome == CALLS_BUSY;
    e->n[CM_REJECTED] = c->outcome == CALLS_REJECTED;
    e->n[CM_CANCELLED] = c->outcome == CALLS_CANCELLED;
    e->n[CM_FAILED] = c->outcome == CALLS_FAILED;
    e->n[CM_TIMEOUTS] = c->outcome == CALLS_TIMEOUT;
    if (ended && c->pdd_ms >= 0) {
        e->n[CM_PDD_SUM] = c->pdd_ms;
        e->n[CM_PDD_N] = 1;
    }
    if (ended && c->outcome == CALLS_ANSWERED && c->duration_s >= 0) {
        e->dur_sum = c->duration_s;
        e->n[CM_DUR_N] = 1;
    }
    if (ended && mos && mos->id) {
        e->mos_sum = mos->mos;
        e->n[CM_MOS_N] = 1;
    }
    /* call_seconds (CS_ONE): the same sums at the start's second */
    struct cm_ent *sec = &r->cs[r->ncs++];
    *sec = *e;
    sec->k.minute = start / 1000000000ll * 1000000000ll;
    struct cm_ent *x = &r->cm[r->ncm++];
    memset(x, 0, sizeof *x);
    int64_t end = end_ns ? (int64_t)end_ns : start;
    if (end < start)
        end = start;
    x->k.minute = end / 60000000000ll * 60000000000ll;
    memcpy(x->k.site, e->k.site, sizeof x->k.site);
    x->n[CM_ENDS] = 1;
    st_roll_row(w, ROLL_CALLS);
    /* failure_sums: the call is new, so each distinct kind of its stored
     * legs counts it once (the net of the triggers' take-away-and-add) */
    size_t first = r->nfs;
    for (size_t i = 0; i < c->nlegs; i++) {
        struct fs_key k;
        if (!leg_stored[i] || !fail_kind(c, &c->legs[i], &k))
            continue;
        bool seen = false;
        for (size_t j = first; j < r->nfs && !seen; j++)
            seen = memcmp(&r->fs[j].k, &k, sizeof k) == 0;
        if (!seen) {
            r->fs[r->nfs].k = k;
            r->fs[r->nfs++].calls = 1;
        }
    }
}

/* ---- the writer's MOS updates: the change, as a delta ---- */

/* A row's rollup keys before its MOS update, copied out of the SELECT
 * before the UPDATE changes the row. */
struct old_row {
    bool found, had, fits;
    double mos;
    char src[ROLL_ADDR], dst[ROLL_ADDR], outcome[ROLL_NAME], text[64]; /* codecs; site */
    bool src_null, dst_null, ts_null, status_null, open;
    int64_t ts, status; /* invite_ts (legs), start (calls) */
};

/* Copy column i of q (NULL: "") into dst; false when it does not fit (the
 * writer's own rows always do: addresses, outcome names, codecs, sites). */
static bool col_fit(sqlite3_stmt *q, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(q, i) : 0;
    if (n >= cap)
        return false;
    if (n)
        memcpy(dst, t, n);
    return true;
}

static void read_old(sqlite3_stmt *q, int k, struct old_row *o)
{
    memset(o, 0, sizeof *o);
    if (sqlite3_step(q) != SQLITE_ROW)
        return;
    o->found = true;
    o->had = sqlite3_column_type(q, 0) != SQLITE_NULL;
    o->mos = o->had ? sqlite3_column_double(q, 0) : 0;
    if (k == 0) { /* mos, src, dst, invite_ts, outcome, final_status, callee_codecs */
        o->src_null = sqlite3_column_type(q, 1) == SQLITE_NULL;
        o->dst_null = sqlite3_column_type(q, 2) == SQLITE_NULL;
        o->ts_null = sqlite3_column_type(q, 3) == SQLITE_NULL;
        o->ts = sqlite3_column_int64(q, 3);
        o->status_null = sqlite3_column_type(q, 5) == SQLITE_NULL;
        o->status = sqlite3_column_int64(q, 5);
        o->fits = col_fit(q, 1, o->src, sizeof o->src) && col_fit(q, 2, o->dst, sizeof o->dst) &&
                  col_fit(q, 4, o->outcome, sizeof o->outcome) &&
                  col_fit(q, 6, o->text, sizeof o->text);
    } else { /* mos, start, site, outcome */
        o->ts_null = sqlite3_column_type(q, 1) == SQLITE_NULL;
        o->ts = sqlite3_column_int64(q, 1);
        const unsigned char *t = sqlite3_column_text(q, 3);
        o->open = t && (strcmp((const char *)t, "in_progress") == 0 ||
                        strcmp((const char *)t, "pending") == 0);
        o->fits = !o->ts_null && col_fit(q, 2, o->text, sizeof o->text);
    }
}

/* The change of a leg's MOS in leg_sums and leg_minutes, as the update
 * triggers made it (all of the old row out, the new one in: the same but
 * the MOS sum and count). */
static bool leg_delta(struct st_writer *w, const struct old_row *o, double dm, int64_t dn)
{
    struct st_roll *r = w->roll;
    if ((r->nls == ROLL_SLOTS || r->nlm == ROLL_SLOTS) && !st_roll_flush(w))
        return false;
    const char *comma = strchr(o->text, ',');
    size_t cl = comma ? (size_t)(comma - o->text) : strlen(o->text);
    struct ls_ent *e = &r->ls[r->nls];
    if (!o->fits || cl >= sizeof e->k.codec)
        return false;
    memset(e, 0, sizeof *e);
    memcpy(e->k.src, o->src, sizeof e->k.src);
    memcpy(e->k.dst, o->dst, sizeof e->k.dst);
    e->k.day = o->ts / 86400000000000ll;
    memcpy(e->k.outcome, o->outcome, sizeof e->k.outcome);
    e->k.status = o->status_null ? -1 : o->status;
    memcpy(e->k.codec, o->text, cl);
    e->mos_sum = dm;
    e->mos_n = dn;
    r->nls++;
    if (!o->src_null && !o->dst_null && !o->ts_null) { /* LM_KEYED */
        struct lm_ent *m = &r->lm[r->nlm++];
        memset(m, 0, sizeof *m);
        memcpy(m->k.src, o->src, sizeof m->k.src);
        memcpy(m->k.dst, o->dst, sizeof m->k.dst);
        m->k.minute = o->ts / 60000000000ll * 60000000000ll;
        m->mos_sum = dm;
        m->mos_n = dn;
    }
    return true;
}

/* The same for a call: its start minute's MOS sums, once it has ended. */
static bool call_delta(struct st_writer *w, const struct old_row *o, double dm, int64_t dn)
{
    struct st_roll *r = w->roll;
    if (o->open)
        return true; /* CM_ENDED: an open call's MOS is not summed */
    if (!o->fits || ((r->ncm == ROLL_SLOTS || r->ncs == ROLL_SLOTS) && !st_roll_flush(w)))
        return false;
    struct cm_ent *e = &r->cm[r->ncm];
    memset(e, 0, sizeof *e);
    e->k.minute = o->ts / 60000000000ll * 60000000000ll;
    size_t n = strlen(o->text);
    if (n >= sizeof e->k.site)
        return false;
    memcpy(e->k.site, o->text, n);
    e->mos_sum = dm;
    e->n[CM_MOS_N] = dn;
    r->ncm++;
    /* and at the start's second (call_seconds) */
    struct cm_ent *sec = &r->cs[r->ncs++];
    *sec = *e;
    sec->k.minute = o->ts / 1000000000ll * 1000000000ll;
    return true;
}

bool st_roll_mos(struct st_writer *w, int k, int64_t id, sqlite3_stmt *upd)
{
    sqlite3_stmt *q = w->s[k ? S_ROLL_CALL_OLD : S_ROLL_LEG_OLD];
    struct old_row o;
    b_i64(q, 1, id);
    read_old(q, k, &o);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    int rc = sqlite3_step(upd);
    bool has = false;
    double now = 0;
    if (rc == SQLITE_ROW) { /* RETURNING mos */
        has = sqlite3_column_type(upd, 0) != SQLITE_NULL;
        now = has ? sqlite3_column_double(upd, 0) : 0;
        rc = sqlite3_step(upd);
    }
    sqlite3_reset(upd);
    sqlite3_clear_bindings(upd);
    bool ok = rc == SQLITE_DONE;
    if (ok && o.found && (o.had != has || o.mos != now)) {
        double dm = now - o.mos;
        int64_t dn = (int64_t)has - (int64_t)o.had;
        ok = k ? call_delta(w, &o, dm, dn) : leg_delta(w, &o, dm, dn);
        if (!ok)
            w->roll_failed = true; /* the transaction rolls back: no drift */
    }
    return ok;
}

/* ---- written out: one UPSERT per distinct key ---- */

static int ls_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(struct ls_key)); }
static int lm_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(struct lm_key)); }
static int cm_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(struct cm_key)); }
static int fs_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(struct fs_key)); }

/* Sort n entries of size sz by their leading key of ksz bytes and fold
 * equal keys into the first with add(); returns the distinct count. */
static size_t fold(void *base, size_t n, size_t sz, size_t ksz, int (*cmp)(const void *, const void *),
                   void (*add)(void *into, const void *from))
{
    if (!n)
        return 0;
    qsort(base, n, sz, cmp);
    char *p = base;
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        if (memcmp(p + out * sz, p + i * sz, ksz) == 0)
            add(p + out * sz, p + i * sz);
        else if (++out != i)
            memcpy(p + out * sz, p + i * sz, sz);
    }
    return out + 1;
}

static void ls_add(void *into, const void *from)
{
    struct ls_ent *a = into;
    const struct ls_ent *b = from;
    a->legs += b->legs;
    a->acd_ns += b->acd_ns;
    a->acd_n += b->acd_n;
    a->pdd_ns += b->pdd_ns;
    a->pdd_n += b->pdd_n;
    a->mos_sum += b->mos_sum;
    a->mos_n += b->mos_n;
}

static void lm_add(void *into, const void *from)
{
    struct lm_ent *a = into;
    const struct lm_ent *b = from;
    a->mos_sum += b->mos_sum;
    a->mos_n += b->mos_n;
}

static void cm_add(void *into, const void *from)
{
    struct cm_ent *a = into;
    const struct cm_ent *b = from;
    for (int i = 0; i < CM_N; i++)
        a->n[i] += b->n[i];
    a->dur_sum += b->dur_sum;
    a->mos_sum += b->mos_sum;
}

static void fs_add(void *into, const void *from)
{
    ((struct fs_ent *)into)->calls += ((const struct fs_ent *)from)->calls;
}

static void b_name(sqlite3_stmt *s, int i, const char *t) /* text, maybe empty */
{
    sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

static bool flush_ls(struct st_writer *w, struct st_roll *r)
{
    bool ok = true;
    size_t n = fold(r->ls, r->nls, sizeof r->ls[0], sizeof(struct ls_key), ls_cmp, ls_add);
    for (size_t i = 0; i < n; i++) {
        const struct ls_ent *e = &r->ls[i];
        sqlite3_stmt *s = w->s[S_ROLL_LS];
        b_name(s, 1, e->k.src);
        b_name(s, 2, e->k.dst);
        b_i64(s, 3, e->k.day);
        b_name(s, 4, e->k.outcome);
        b_i64(s, 5, e->k.status);
        b_name(s, 6, e->k.codec);
        b_i64(s, 7, e->legs);
        b_i64(s, 8, e->acd_ns);
        b_i64(s, 9, e->acd_n);
        b_i64(s, 10, e->pdd_ns);
        b_i64(s, 11, e->pdd_n);
        sqlite3_bind_double(s, 12, e->mos_sum);
        b_i64(s, 13, e->mos_n);
        ok &= run(w, s);
    }
    n = fold(r->lm, r->nlm, sizeof r->lm[0], sizeof(struct lm_key), lm_cmp, lm_add);
    for (size_t i = 0; i < n; i++) {
        const struct lm_ent *e = &r->lm[i];
        sqlite3_stmt *s = w->s[S_ROLL_LM];
        b_name(s, 1, e->k.src);
        b_name(s, 2, e->k.dst);
        b_i64(s, 3, e->k.minute);
        sqlite3_bind_double(s, 4, e->mos_sum);
        b_i64(s, 5, e->mos_n);
        ok &= run(w, s);
        /* the same into its hour (v28), and out of both when a MOS went:
         * LM_SUB's row goes with its last one */
        static const int STEPS[] = { S_ROLL_LH, S_ROLL_LM_GONE, S_ROLL_LH_GONE };
        for (size_t j = 0; j < 3 && (j == 0 || e->mos_n < 0); j++) {
            s = w->s[STEPS[j]];
            b_name(s, 1, e->k.src);
            b_name(s, 2, e->k.dst);
            b_i64(s, 3, e->k.minute);
            if (j == 0) {
                sqlite3_bind_double(s, 4, e->mos_sum);
                b_i64(s, 5, e->mos_n);
            }
            ok &= run(w, s);
        }
    }
    r->nls = r->nlm = 0;
    return ok;
}

/* call_minutes (stmt S_ROLL_CM, with ends) and call_seconds (S_ROLL_CS,
 * v25: the same sums per second, no ends) */
static bool flush_calls(struct st_writer *w, struct cm_ent *ents, size_t *nents, int stmt,
                        bool ends)
{
    bool ok = true;
    size_t n = fold(ents, *nents, sizeof ents[0], sizeof(struct cm_key), cm_cmp, cm_add);
    for (size_t i = 0; i < n; i++) {
        const struct cm_ent *e = &ents[i];
        sqlite3_stmt *s = w->s[stmt];
        b_i64(s, 1, e->k.minute);
        b_name(s, 2, e->k.site);
        for (int k = CM_CALLS; k <= CM_TIMEOUTS; k++)
            b_i64(s, 3 + k, e->n[k]);
        b_i64(s, 11, e->n[CM_PDD_SUM]);
        b_i64(s, 12, e->n[CM_PDD_N]);
        sqlite3_bind_double(s, 13, e->dur_sum);
        b_i64(s, 14, e->n[CM_DUR_N]);
        sqlite3_bind_double(s, 15, e->mos_sum);
        b_i64(s, 16, e->n[CM_MOS_N]);
        if (ends)
            b_i64(s, 17, e->n[CM_ENDS]);
        ok &= run(w, s);
    }
    *nents = 0;
    return ok;
}

static void b_fs_key(sqlite3_stmt *s, const struct fs_key *k)
{
    b_name(s, 1, k->a);
    b_name(s, 2, k->b);
    b_name(s, 3, k->outcome);
    b_name(s, 4, k->side);
    if (k->has_status)
        b_i64(s, 5, k->status);
    b_name(s, 6, k->reason);
    if (k->has_sender)
        b_name(s, 7, k->sender);
    if (k->has_q850)
        b_i64(s, 8, k->q850);
    b_name(s, 9, k->hdr);
}

static bool flush_fs(struct st_writer *w, struct st_roll *r)
{
    bool ok = true;
    size_t n = fold(r->fs, r->nfs, sizeof r->fs[0], sizeof(struct fs_key), fs_cmp, fs_add);
    for (size_t i = 0; i < n; i++) {
        const struct fs_ent *e = &r->fs[i];
        sqlite3_stmt *s = w->s[S_ROLL_FS_ADD];
        b_fs_key(s, &e->k);
        b_i64(s, 10, e->calls);
        if (!run(w, s)) {
            ok = false;
            continue;
        }
        if (sqlite3_changes(w->h))
            continue;
        s = w->s[S_ROLL_FS_NEW];
        b_fs_key(s, &e->k);
        b_i64(s, 10, e->calls);
        ok &= run(w, s);
    }
    r->nfs = 0;
    return ok;
}

bool st_roll_flush(struct st_writer *w)
{
    struct st_roll *r = w->roll;
    /* all run, whatever one answers */
    bool ok = flush_ls(w, r);
    ok &= flush_calls(w, r->cm, &r->ncm, S_ROLL_CM, true);
    ok &= flush_calls(w, r->cs, &r->ncs, S_ROLL_CS, false);
    ok &= flush_fs(w, r);
    for (int t = 0; t < ROLL_TABLES; t++) {
        if (!r->rows[t])
            continue;
        sqlite3_stmt *s = w->s[S_ROLL_ROWS];
        b_name(s, 1, ROLL_TABLE[t]);
        b_i64(s, 2, r->rows[t]);
        ok &= run(w, s);
        r->rows[t] = 0;
    }
    return ok;
}
