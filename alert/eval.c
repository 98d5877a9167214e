/* The alert evaluator (alert/eval.h). */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/alerts.h"
#include "../store/store.h"
#include "../common/jsonw.h"

#define NS 1000000000ll
/* OPTIONS: a peer answered within this long is alive (Teams Direct Routing
 * and Lync keep-alive practice: 3 minutes). */
#define OPTIONS_ALIVE_NS (180ll * NS)
/* ASR/NER baseline: the same window on up to 7 earlier days, else the six
 * hours before the window. */
#define BASELINE_DAYS 7
#define BASELINE_BEFORE_NS (6ll * 3600 * NS)

/* An alert the evaluator follows. A run changes these in memory while it
 * reads (no write lock held), then stores the dirty ones in one short write
 * transaction, then notifies the transitions. */
struct act {
    int rule;
    struct st_alert row;
    bool seen;
    bool dirty;         /* changed since it was last stored */
    bool tell;          /* a transition to notify once stored */
    bool fresh;         /* inserted by the write in progress (id to undo on rollback) */
    char *evidence;     /* owned: the evidence to store with it, NULL keeps the stored */
    int64_t sent_wall;  /* wall time it was last posted firing; 0 not by us */
};

/* trunk health being built by one evaluation */
enum { H_IDLE = 0, H_HEALTHY, H_DEGRADED, H_CRITICAL, H_DOWN };
static const char *const HNAME[] = { "idle", "healthy", "degraded", "critical", "down" };

struct health {
    int64_t trunk_id;
    int level;
    bool has_traffic;
    struct st_trunk_win w;       /* the first window's numbers */
    double base_asr, base_ner;   /* -1 none */
    bool has_opt;
    struct st_options_peer opt;
    uint32_t channels;
    bool has_cert;               /* cert: the soonest to expire of its TLS peers */
    struct st_tls_cert cert;
    double cert_days;
};

struct alert_eval {
    struct alert_config cfg;
    struct st_alerts *db;
    struct alert_notify *notify;
    unsigned what;
    struct act *act;
    size_t nact;
    struct st_trunk_win *win;
    size_t nwin;
    struct st_options_peer *opt;
    size_t nopt;
    struct st_tls_cert *cert;
    size_t ncert;
    struct health *h;
    size_t nh;
    int64_t drop[TS_ALERT_MAX_ACTIVE]; /* pending alerts gone before their `for`: to delete */
    size_t ndrop;
    uint64_t last_drops;
    bool have_drops;
    bool replay;        /* alert_eval_replay: past data, nothing to keep alive */
    int64_t wall;       /* of the run */
    struct alert_eval_stats st;
};

struct alert_eval *alert_eval_new(const struct alert_config *cfg, const char *db_path,
                                  struct alert_notify *n, unsigned what, char *err, size_t errlen)
{
    struct alert_eval *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->notify = n;
    e->what = what;
    e->act = calloc(TS_ALERT_MAX_ACTIVE, sizeof *e->act);
    e->win = calloc(TS_CALLS_MAX_TRUNKS, sizeof *e->win);
    e->opt = calloc(TS_ALERT_MAX_PEERS, sizeof *e->opt);
    e->h = calloc(TS_CALLS_MAX_TRUNKS, sizeof *e->h);
    e->cert = calloc(TS_ALERT_MAX_CERTS, sizeof *e->cert);
    if (!e->act || !e->win || !e->opt || !e->h || !e->cert) {
        snprintf(err, errlen, "out of memory");
        alert_eval_free(e);
        return NULL;
    }
    e->db = st_alerts_open(db_path, err, errlen);
    if (!e->db) {
        alert_eval_free(e);
        return NULL;
    }
    /* carry on with what a previous run left pending or firing */
    struct st_alert *rows = calloc(TS_ALERT_MAX_ACTIVE, sizeof *rows);
    size_t n0 = 0;
    if (rows && st_alerts_active(e->db, rows, TS_ALERT_MAX_ACTIVE, &n0) == ST_OK) {
        for (size_t i = 0; i < n0; i++) {
            int r = -1;
            for (size_t k = 0; k < e->cfg.nrules && r < 0; k++)
                if (!strcmp(e->cfg.rules[k].name, rows[i].rule))
                    r = (int)k;
            if (r < 0)
                continue;   /* a rule no longer configured: left as stored */
            e->act[e->nact].rule = r;
            e->act[e->nact++].row = rows[i];
        }
    }
    free(rows);
    return e;
}

void alert_eval_free(struct alert_eval *e)
{
    if (!e)
        return;
    st_alerts_close(e->db);
    for (size_t i = 0; e->act && i < e->nact; i++)
        free(e->act[i].evidence);
    free(e->act);
    free(e->win);
    free(e->opt);
    free(e->cert);
    free(e->h);
    free(e);
}

void alert_eval_stats(const struct alert_eval *e, struct alert_eval_stats *out)
{
    *out = e->st;
    out->pending = out->firing = 0;
    for (size_t i = 0; i < e->nact; i++) {
        if (!strcmp(e->act[i].row.state, "firing"))
            out->firing++;
        else
            out->pending++;
    }
}

/* ---- evidence and notification ---- */

struct ev_text {
    char *buf;
    size_t len;
    FILE *f;
    struct jsonw w;
};

static bool ev_begin(struct ev_text *t, const struct alert_rule *r, double value)
{
    memset(t, 0, sizeof *t);
    t->f = open_memstream(&t->buf, &t->len);
    if (!t->f)
        return false;
    jsonw_init(&t->w, t->f, false);
    jsonw_obj_begin(&t->w);
    jsonw_kstr(&t->w, "metric", alert_metric_name(r->metric));
    jsonw_kreal(&t->w, "value", value);
    jsonw_kreal(&t->w, "threshold", r->threshold);
    jsonw_kreal(&t->w, "clear", r->clear);
    jsonw_kint(&t->w, "window_s", r->window_ns / NS);
    jsonw_kint(&t->w, "for_s", r->for_ns / NS);
    return true;
}

static void ev_calls(struct ev_text *t, const int64_t *ids, size_t n)
{
    jsonw_key(&t->w, "calls");
    jsonw_arr_begin(&t->w);
    for (size_t i = 0; i < n; i++)
        jsonw_int(&t->w, ids[i]);
    jsonw_arr_end(&t->w);
}

/* The JSON text (malloc'd) or NULL. */
static char *ev_end(struct ev_text *t)
{
    if (!t->f)
        return NULL;
    jsonw_obj_end(&t->w);
    enum jsonw_err e = jsonw_finish(&t->w);
    if (fclose(t->f) != 0 || e != JSONW_OK) {
        free(t->buf);
        return NULL;
    }
    /* jsonw_end adds a newline */
    if (t->len && t->buf[t->len - 1] == '\n')
        t->buf[t->len - 1] = '\0';
    return t->buf;
}

static void notify(struct alert_eval *e, const struct st_alert *r, bool resend)
{
    struct alert_event ev = {
        .resend = resend,
        .id = r->id, .rule = r->rule, .severity = r->severity, .state = r->state,
        .scope = r->scope, .target = r->target, .site = r->site, .trunk_id = r->trunk_id,
        .summary = r->summary, .value = r->value, .threshold = r->threshold,
        .started_ns = r->started, .fired_ns = r->fired, .resolved_ns = r->resolved,
        .evidence = r->evidence,
    };
    alert_notify_send(e->notify, &ev);
}

/* ---- the state machine ---- */

struct cand {
    const char *scope, *target, *site;
    int64_t trunk_id;
    double value;
    bool valid;        /* enough samples */
    char summary[256];
    char *evidence;    /* owned here until stored */
};

static void act_remove(struct alert_eval *e, size_t i)
{
    free(e->act[i].evidence);
    e->act[i] = e->act[--e->nact];
}

static void act_evidence(struct act *a, struct cand *c)
{
    if (!c->evidence)
        return;
    free(a->evidence);
    a->evidence = c->evidence;
    c->evidence = NULL;
}

/* One rule's value for one target: moves its alert through the lifecycle,
 * in memory (stored by store_changes). */
static void apply(struct alert_eval *e, int ri, struct cand *c, int64_t now)
{
    const struct alert_rule *r = &e->cfg.rules[ri];
    bool below = alert_rule_below(r);
    bool fire = c->valid && (below ? c->value <= r->threshold : c->value >= r->threshold);
    bool clear = !c->valid || (below ? c->value >= r->clear : c->value <= r->clear);
    size_t i = 0;
    while (i < e->nact && !(e->act[i].rule == ri && !strcmp(e->act[i].row.target, c->target) &&
                            e->act[i].row.trunk_id == c->trunk_id &&
                            strcmp(e->act[i].row.state, "resolved")))
        i++;
    if (i == e->nact) {
        if (!fire)
            goto out;
        if (e->nact == TS_ALERT_MAX_ACTIVE) {
            e->st.skipped++;
            goto out;
        }
        struct act *a = &e->act[e->nact++];
        memset(a, 0, sizeof *a);
        a->rule = ri;
        a->seen = true;
        a->dirty = true;
        struct st_alert *s = &a->row;
        snprintf(s->rule, sizeof s->rule, "%s", r->name);
        snprintf(s->scope, sizeof s->scope, "%s", c->scope);
        snprintf(s->target, sizeof s->target, "%s", c->target);
        snprintf(s->severity, sizeof s->severity, "%s", r->severity);
        snprintf(s->site, sizeof s->site, "%s", c->site ? c->site : "");
        s->trunk_id = c->trunk_id;
        s->threshold = r->threshold;
        s->started = now;
        bool at_once = r->for_ns <= 0;
        snprintf(s->state, sizeof s->state, "%s", at_once ? "firing" : "pending");
        s->fired = at_once ? now : 0;
        s->value = c->value;
        s->updated = now;
        snprintf(s->summary, sizeof s->summary, "%s", c->summary);
        act_evidence(a, c);
        if (at_once) {
            e->st.fired++;
            a->tell = true;
        }
        goto out;
    }
    struct act *a = &e->act[i];
    struct st_alert *s = &a->row;
    a->seen = true;
    bool pending = !strcmp(s->state, "pending");
    if (pending && !fire) {
        if (s->id && e->ndrop < TS_ALERT_MAX_ACTIVE)
            e->drop[e->ndrop++] = s->id;
        act_remove(e, i);
        goto out;
    }
    /* between clear and threshold a firing alert stays firing
     * (hysteresis), keeping the evidence of the last time it held */
    s->updated = now;
    if (c->valid) {
        s->value = c->value;
        snprintf(s->summary, sizeof s->summary, "%s", c->summary);
    }
    if (fire)
        act_evidence(a, c);
    a->dirty = true;
    if (pending && now - s->started >= r->for_ns) {
        snprintf(s->state, sizeof s->state, "firing");
        s->fired = now;
        a->tell = true;
        e->st.fired++;
    } else if (!pending && clear) {
        snprintf(s->state, sizeof s->state, "resolved");
        s->resolved = now;
        a->tell = true;
        e->st.resolved++;
    }
out:
    free(c->evidence);
    c->evidence = NULL;
}

/* ---- values ---- */

static bool trunk_metric(enum alert_metric m)
{
    return m <= AM_NO_RTP || m == AM_CAPACITY || m == AM_DEST_BURST || m == AM_SHORT_CALLS ||
           m == AM_INTL_ATTEMPTS || m == AM_QUIET_ATTEMPTS;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : -1;
}

static uint32_t channels_of(const struct alert_eval *e, const char *peer)
{
    for (size_t i = 0; i < e->cfg.ncaps; i++)
        if (!strcmp(e->cfg.caps[i].addr, peer))
            return e->cfg.caps[i].channels;
    return 0;
}

/* Baseline ASR and NER of a trunk for the window ending at now. */
static void baseline(struct alert_eval *e, const struct st_trunk_win *w, int64_t now, int64_t win,
                     uint32_t min, double *asr, double *ner)
{
    uint64_t at = 0, an = 0, no = 0;
    for (int d = 1; d <= BASELINE_DAYS; d++) {
        uint64_t a1, b1, c1;
        int64_t off = (int64_t)d * 86400 * NS;
        if (st_alerts_trunk_counts(e->db, w->trunk_id, now - win - off, now - off, &a1, &b1, &c1) ==
            ST_OK) {
            at += a1;
            an += b1;
            no += c1;
        }
    }
    if (at < (min ? min : 1)) {
        at = an = no = 0;
        st_alerts_trunk_counts(e->db, w->trunk_id, now - win - BASELINE_BEFORE_NS, now - win, &at,
                               &an, &no);
    }
    *asr = at >= (min ? min : 1) ? ratio(an, at) : -1;
    *ner = at >= (min ? min : 1) ? ratio(no, at) : -1;
}

static struct health *health_of(struct alert_eval *e, int64_t trunk_id)
{
    for (size_t i = 0; i < e->nh; i++)
        if (e->h[i].trunk_id == trunk_id)
            return &e->h[i];
    return NULL;
}

/* The trunk's health entry, made when missing (NULL when the table is full). */
static struct health *health_get(struct alert_eval *e, int64_t trunk_id)
{
    struct health *hh = health_of(e, trunk_id);
    if (!hh && e->nh < TS_CALLS_MAX_TRUNKS) {
        hh = &e->h[e->nh++];
        memset(hh, 0, sizeof *hh);
        hh->trunk_id = trunk_id;
        hh->base_asr = hh->base_ner = -2; /* not computed */
    }
    return hh;
}

static void trunk_cand(struct alert_eval *e, const struct alert_rule *r, const struct st_trunk_win *w,
                       const struct health *hh, struct cand *c)
{
    memset(c, 0, sizeof *c);
    c->scope = "trunk";
    c->target = w->name;
    c->site = w->site;
    c->trunk_id = w->trunk_id;
    double v = -1;
    bool ok = false;
    const int64_t *ids = NULL;
    size_t nids = 0;
    struct ev_text t;
    int mins = (int)(r->window_ns / NS / 60);
    switch (r->metric) {
    case AM_ASR_DROP:
    case AM_NER_DROP: {
        double ba = hh ? hh->base_asr : -1, bn = hh ? hh->base_ner : -1;
        bool asr = r->metric == AM_ASR_DROP;
        double cur = ratio(asr ? w->answered : w->ner_ok, w->attempts);
        double base = asr ? ba : bn;
        ok = w->attempts >= r->min && base >= 0 && cur >= 0;
        v = ok ? base - cur : 0;
        snprintf(c->summary, sizeof c->summary,
                 "%s %.0f%% over %d min (%llu attempts) against a baseline of %.0f%%",
                 asr ? "ASR" : "NER", cur * 100, mins, (unsigned long long)w->attempts, base * 100);
        ids = w->ev[ST_EV_FAILED];
        nids = w->nev[ST_EV_FAILED];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "attempts", w->attempts);
            jsonw_kuint(&t.w, asr ? "answered" : "ner_ok", asr ? w->answered : w->ner_ok);
            jsonw_kreal(&t.w, asr ? "asr" : "ner", cur);
            jsonw_kreal(&t.w, asr ? "baseline_asr" : "baseline_ner", base);
        }
        break;
    }
    case AM_5XX_SHARE:
        ok = w->attempts >= r->min;
        v = ok ? ratio(w->s5xx, w->attempts) : 0;
        snprintf(c->summary, sizeof c->summary, "%.0f%% of %llu attempts ended by a 5xx over %d min",
                 v * 100, (unsigned long long)w->attempts, mins);
        ids = w->ev[ST_EV_5XX];
        nids = w->nev[ST_EV_5XX];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "attempts", w->attempts);
            jsonw_kuint(&t.w, "5xx", w->s5xx);
        }
        break;
    case AM_PDD_P95:
        ok = w->pdd_n >= r->min && w->pdd_p95_ms >= 0;
        v = ok ? w->pdd_p95_ms : 0;
        snprintf(c->summary, sizeof c->summary, "PDD p95 %.0f ms over %llu calls in %d min", v,
                 (unsigned long long)w->pdd_n, mins);
        ids = w->ev[ST_EV_SLOW];
        nids = w->nev[ST_EV_SLOW];
        if (ok && ev_begin(&t, r, v))
            jsonw_kuint(&t.w, "samples", w->pdd_n);
        break;
    case AM_MOS:
        ok = w->mos_n >= r->min && w->mos_mean >= 0;
        v = ok ? w->mos_mean : 5;
        snprintf(c->summary, sizeof c->summary, "mean MOS %.2f over %llu legs in %d min", v,
                 (unsigned long long)w->mos_n, mins);
        ids = w->ev[ST_EV_POOR];
        nids = w->nev[ST_EV_POOR];
        if (ok && ev_begin(&t, r, v))
            jsonw_kuint(&t.w, "legs", w->mos_n);
        break;
    case AM_LOSS:
        ok = w->loss_n >= r->min && w->loss_pct >= 0;
        v = ok ? w->loss_pct : 0;
        snprintf(c->summary, sizeof c->summary, "mean packet loss %.1f%% over %llu legs in %d min",
                 v, (unsigned long long)w->loss_n, mins);
        ids = w->ev[ST_EV_POOR];
        nids = w->nev[ST_EV_POOR];
        if (ok && ev_begin(&t, r, v))
            jsonw_kuint(&t.w, "legs", w->loss_n);
        break;
    case AM_NO_RTP:
        ok = w->media_legs >= r->min;
        v = ok ? ratio(w->no_rtp, w->media_legs) : 0;
        snprintf(c->summary, sizeof c->summary,
                 "%llu of %llu answered calls one-way or silent over %d min",
                 (unsigned long long)w->no_rtp, (unsigned long long)w->media_legs, mins);
        ids = w->ev[ST_EV_NORTP];
        nids = w->nev[ST_EV_NORTP];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "answered", w->media_legs);
            jsonw_kuint(&t.w, "one_way_or_silent", w->no_rtp);
        }
        break;
    case AM_CAPACITY: {
        uint32_t ch = channels_of(e, w->peer);
        ok = ch > 0 && w->attempts >= r->min;
        v = ok ? (double)w->peak_concurrent / ch : 0;
        snprintf(c->summary, sizeof c->summary, "%u concurrent calls of %u channels", w->peak_concurrent,
                 ch);
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "peak_concurrent", w->peak_concurrent);
            jsonw_kuint(&t.w, "channels", ch);
        }
        break;
    }
    case AM_DEST_BURST:
        ok = w->attempts >= r->min && w->top_dest_attempts > 0;
        v = ok ? (double)w->top_dest_attempts : 0;
        snprintf(c->summary, sizeof c->summary, "%llu attempts to %s in %d min",
                 (unsigned long long)w->top_dest_attempts, w->top_dest, mins);
        ids = w->ev[ST_EV_DEST];
        nids = w->nev[ST_EV_DEST];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kstr(&t.w, "destination", w->top_dest);
            jsonw_kuint(&t.w, "attempts", w->top_dest_attempts);
        }
        break;
    case AM_INTL_ATTEMPTS:
        ok = e->cfg.country_code[0] && w->out_attempts >= r->min;
        v = ok ? (double)w->intl_attempts : 0;
        snprintf(c->summary, sizeof c->summary,
                 "%llu of %llu calls out to other countries than +%s in %d min",
                 (unsigned long long)w->intl_attempts, (unsigned long long)w->out_attempts,
                 e->cfg.country_code, mins);
        ids = w->ev[ST_EV_INTL];
        nids = w->nev[ST_EV_INTL];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "calls_out", w->out_attempts);
            jsonw_kuint(&t.w, "international", w->intl_attempts);
            jsonw_kstr(&t.w, "country_code", e->cfg.country_code);
        }
        break;
    case AM_QUIET_ATTEMPTS:
        ok = e->cfg.quiet_from_h >= 0 && w->out_attempts >= r->min;
        v = ok ? (double)w->quiet_attempts : 0;
        snprintf(c->summary, sizeof c->summary,
                 "%llu calls out between %02d:00 and %02d:00 (UTC%+d min) in %d min",
                 (unsigned long long)w->quiet_attempts, e->cfg.quiet_from_h, e->cfg.quiet_to_h,
                 (int)e->cfg.utc_offset_min, mins);
        ids = w->ev[ST_EV_QUIET];
        nids = w->nev[ST_EV_QUIET];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "calls_out", w->out_attempts);
            jsonw_kuint(&t.w, "in_quiet_hours", w->quiet_attempts);
            jsonw_kint(&t.w, "quiet_from_h", e->cfg.quiet_from_h);
            jsonw_kint(&t.w, "quiet_to_h", e->cfg.quiet_to_h);
        }
        break;
    case AM_SHORT_CALLS:
        ok = w->media_legs >= r->min;
        v = ok ? ratio(w->short_calls, w->media_legs) : 0;
        snprintf(c->summary, sizeof c->summary, "%llu of %llu answered calls shorter than %.0f s in %d min",
                 (unsigned long long)w->short_calls, (unsigned long long)w->media_legs,
                 e->cfg.short_call_s, mins);
        ids = w->ev[ST_EV_SHORT];
        nids = w->nev[ST_EV_SHORT];
        if (ok && ev_begin(&t, r, v)) {
            jsonw_kuint(&t.w, "answered", w->media_legs);
            jsonw_kuint(&t.w, "short", w->short_calls);
        }
        break;
    default:
        break;
    }
    c->value = v;
    c->valid = ok;
    if (ok && t.f) {
        ev_calls(&t, ids, nids);
        c->evidence = ev_end(&t);
    }
}

/* ---- one evaluation ---- */

static bool window_done(const int64_t *done, size_t n, int64_t w)
{
    for (size_t i = 0; i < n; i++)
        if (done[i] == w)
            return true;
    return false;
}

static int eval_trunks(struct alert_eval *e, int64_t now)
{
    int64_t done[TS_ALERT_MAX_RULES];
    size_t ndone = 0;
    bool first = true;
    for (size_t k = 0; k < e->cfg.nrules; k++) {
        const struct alert_rule *r0 = &e->cfg.rules[k];
        if (!r0->enabled || !trunk_metric(r0->metric) || window_done(done, ndone, r0->window_ns))
            continue;
        done[ndone++] = r0->window_ns;
        struct st_win_opts wo = { .short_s = e->cfg.short_call_s,
                                  .quiet_from_h = e->cfg.quiet_from_h,
                                  .quiet_to_h = e->cfg.quiet_to_h,
                                  .utc_offset_min = e->cfg.utc_offset_min };
        snprintf(wo.country_code, sizeof wo.country_code, "%s", e->cfg.country_code);
        snprintf(wo.intl_prefix, sizeof wo.intl_prefix, "%s", e->cfg.intl_prefix);
        int rc = st_alerts_trunk_window(e->db, now - r0->window_ns, now, &wo, e->win,
                                        TS_CALLS_MAX_TRUNKS, &e->nwin);
        if (rc != ST_OK)
            return rc;
        for (size_t i = 0; i < e->nwin; i++) {
            const struct st_trunk_win *w = &e->win[i];
            struct health *hh = health_of(e, w->trunk_id);
            if (!hh && e->nh < TS_CALLS_MAX_TRUNKS) {
                hh = &e->h[e->nh++];
                memset(hh, 0, sizeof *hh);
                hh->trunk_id = w->trunk_id;
                hh->base_asr = hh->base_ner = -2; /* not computed */
                hh->channels = channels_of(e, w->peer);
            }
            if (hh && first) {
                hh->w = *w;
                hh->has_traffic = w->attempts > 0;
            }
            bool base_done = false;
            double ba = -1, bn = -1;
            for (size_t j = k; j < e->cfg.nrules; j++) {
                const struct alert_rule *r = &e->cfg.rules[j];
                if (!r->enabled || !trunk_metric(r->metric) || r->window_ns != r0->window_ns)
                    continue;
                if ((r->metric == AM_ASR_DROP || r->metric == AM_NER_DROP) && !base_done) {
                    base_done = true;
                    if (w->attempts >= r->min)
                        baseline(e, w, now, r->window_ns, r->min, &ba, &bn);
                    if (hh && first) {
                        hh->base_asr = ba;
                        hh->base_ner = bn;
                    }
                }
                struct health tmp = { .trunk_id = w->trunk_id, .base_asr = ba, .base_ner = bn };
                struct cand c;
                trunk_cand(e, r, w, &tmp, &c);
                apply(e, (int)j, &c, now);
            }
        }
        first = false;
    }
    return ST_OK;
}

static int eval_options(struct alert_eval *e, int64_t now)
{
    int64_t done[TS_ALERT_MAX_RULES];
    size_t ndone = 0;
    for (size_t k = 0; k < e->cfg.nrules; k++) {
        const struct alert_rule *r0 = &e->cfg.rules[k];
        if (!r0->enabled || r0->metric != AM_OPTIONS_MISSES ||
            window_done(done, ndone, r0->window_ns))
            continue;
        done[ndone++] = r0->window_ns;
        int rc = st_alerts_options(e->db, now - r0->window_ns, now, e->opt, TS_ALERT_MAX_PEERS,
                                   &e->nopt);
        if (rc != ST_OK)
            return rc;
        for (size_t i = 0; i < e->nopt; i++) {
            const struct st_options_peer *p = &e->opt[i];
            if (p->trunk_id) {
                struct health *hh = health_get(e, p->trunk_id);
                if (hh && !hh->has_opt) {
                    hh->has_opt = true;
                    hh->opt = *p;
                }
            }
            char target[136];
            snprintf(target, sizeof target, "%s>%s", p->client, p->server);
            for (size_t j = k; j < e->cfg.nrules; j++) {
                const struct alert_rule *r = &e->cfg.rules[j];
                if (!r->enabled || r->metric != AM_OPTIONS_MISSES || r->window_ns != r0->window_ns)
                    continue;
                struct cand c = { .scope = "peer", .target = target, .site = "",
                                  .trunk_id = p->trunk_id, .value = p->misses_in_row,
                                  .valid = p->requests >= r->min };
                if (p->last_ok_ns)
                    snprintf(c.summary, sizeof c.summary,
                             "%u OPTIONS from %s to %s unanswered in a row (last answer %.0f s ago)",
                             p->misses_in_row, p->client, p->server,
                             (double)(now - p->last_ok_ns) / 1e9);
                else
                    snprintf(c.summary, sizeof c.summary,
                             "%u OPTIONS from %s to %s unanswered in a row (none answered in %lld min)",
                             p->misses_in_row, p->client, p->server,
                             (long long)(r->window_ns / NS / 60));
                struct ev_text t;
                if (c.valid && ev_begin(&t, r, c.value)) {
                    jsonw_kuint(&t.w, "requests", p->requests);
                    jsonw_kuint(&t.w, "answered", p->answered);
                    jsonw_kuint(&t.w, "misses_in_row", p->misses_in_row);
                    jsonw_kint(&t.w, "last_status", p->last_status);
                    jsonw_key(&t.w, "last_answer_age_s");
                    if (p->last_ok_ns)
                        jsonw_real(&t.w, (double)(now - p->last_ok_ns) / 1e9);
                    else
                        jsonw_null(&t.w);
                    ev_calls(&t, NULL, 0);
                    c.evidence = ev_end(&t);
                }
                apply(e, (int)j, &c, now);
            }
        }
    }
    return ST_OK;
}

static double cert_days(int64_t not_after_s, int64_t now)
{
    return ((double)not_after_s * 1e9 - (double)now) / (86400.0 * 1e9);
}

/* A long subject is cut: the text stays within one summary. */
static void cert_text(const struct st_tls_cert *c, double days, char *out, size_t cap)
{
    const char *who = c->client_cert ? "client" : "server";
    int n = days < 0 ? snprintf(out, cap, "TLS %s certificate of %s>%s:%u (%.60s) expired %.0f days ago",
                                who, c->client, c->server, c->port, c->subject, -days)
                     : snprintf(out, cap, "TLS %s certificate of %s>%s:%u (%.60s) expires in %.0f days",
                                who, c->client, c->server, c->port, c->subject, days);
    (void)n;
}

/* The certificates the TLS peers of the window showed: days until each
 * expires (at data time), per (client, server, port) and leaf. */
static int eval_certs(struct alert_eval *e, int64_t now)
{
    int64_t done[TS_ALERT_MAX_RULES];
    size_t ndone = 0;
    for (size_t k = 0; k < e->cfg.nrules; k++) {
        const struct alert_rule *r0 = &e->cfg.rules[k];
        if (!r0->enabled || r0->metric != AM_CERT_DAYS || window_done(done, ndone, r0->window_ns))
            continue;
        done[ndone++] = r0->window_ns;
        int rc = st_alerts_certs(e->db, now - r0->window_ns, now, e->cert, TS_ALERT_MAX_CERTS,
                                 &e->ncert);
        if (rc != ST_OK)
            return rc;
        for (size_t i = 0; i < e->ncert; i++) {
            const struct st_tls_cert *x = &e->cert[i];
            double days = cert_days(x->not_after_s, now);
            if (x->trunk_id) {
                /* rows come soonest-to-expire first: the first is the trunk's */
                struct health *hh = health_get(e, x->trunk_id);
                if (hh && !hh->has_cert) {
                    hh->has_cert = true;
                    hh->cert = *x;
                    hh->cert_days = days;
                }
            }
            char target[136];
            if (snprintf(target, sizeof target, "%s>%s:%u%s", x->client, x->server, x->port,
                         x->client_cert ? " client" : "") >= (int)sizeof target)
                continue; /* cannot happen: addresses are 45 characters at most */
            for (size_t j = k; j < e->cfg.nrules; j++) {
                const struct alert_rule *r = &e->cfg.rules[j];
                if (!r->enabled || r->metric != AM_CERT_DAYS || r->window_ns != r0->window_ns)
                    continue;
                struct cand c = { .scope = "peer", .target = target, .site = x->site,
                                  .trunk_id = x->trunk_id, .value = days, .valid = true };
                cert_text(x, days, c.summary, sizeof c.summary);
                struct ev_text t;
                if (ev_begin(&t, r, c.value)) {
                    jsonw_kstr(&t.w, "client", x->client);
                    jsonw_kstr(&t.w, "server", x->server);
                    jsonw_kuint(&t.w, "server_port", x->port);
                    jsonw_kstr(&t.w, "certificate", x->client_cert ? "client" : "server");
                    jsonw_kstr(&t.w, "subject", x->subject);
                    jsonw_kstr(&t.w, "issuer", x->issuer);
                    jsonw_kstr(&t.w, "sni", x->sni);
                    jsonw_kint(&t.w, "not_after", x->not_after_s);
                    jsonw_kreal(&t.w, "days_left", days);
                    ev_calls(&t, NULL, 0);
                    c.evidence = ev_end(&t);
                }
                apply(e, (int)j, &c, now);
            }
        }
    }
    return ST_OK;
}

static int eval_sensor(struct alert_eval *e, int64_t now, int64_t wall, uint64_t drops)
{
    struct st_data_time dt;
    int rc = st_alerts_data_time(e->db, &dt);
    if (rc != ST_OK)
        return rc;
    for (size_t k = 0; k < e->cfg.nrules; k++) {
        const struct alert_rule *r = &e->cfg.rules[k];
        if (!r->enabled)
            continue;
        struct cand c = { .scope = "sensor", .target = "sensor", .site = "" };
        if (r->metric == AM_SENSOR_SILENT && (e->what & ALERT_EVAL_SENSOR)) {
            c.valid = dt.live && dt.live_updated_ns > 0;
            c.value = c.valid ? (double)(wall - dt.live_updated_ns) / 1e9 : 0;
            snprintf(c.summary, sizeof c.summary, "the sensor writing this database is silent for %.0f s",
                     c.value);
        } else if (r->metric == AM_CAPTURE_DROPS && (e->what & ALERT_EVAL_DATA) && drops) {
            c.valid = e->have_drops;
            c.value = c.valid && drops >= e->last_drops ? (double)(drops - e->last_drops) : 0;
            snprintf(c.summary, sizeof c.summary, "%.0f packets dropped by the capture since the last check",
                     c.value);
        } else if (r->metric == AM_CAPTURE_DROPS && (e->what & ALERT_EVAL_DATA)) {
            c.valid = e->have_drops;
            c.value = 0;
            snprintf(c.summary, sizeof c.summary, "no packets dropped");
        } else {
            continue;
        }
        struct ev_text t;
        if (c.valid && ev_begin(&t, r, c.value)) {
            ev_calls(&t, NULL, 0);
            c.evidence = ev_end(&t);
        }
        apply(e, (int)k, &c, now);
    }
    e->have_drops = true;
    e->last_drops = drops;
    return ST_OK;
}

/* ---- health ---- */

static void put_num(struct jsonw *w, const char *k, double v)
{
    if (v < 0 || !isfinite(v))
        jsonw_knull(w, k);
    else
        jsonw_kreal(w, k, v);
}

static int write_health(struct alert_eval *e, int64_t now)
{
    for (size_t i = 0; i < e->nh; i++) {
        struct health *hh = &e->h[i];
        int level = hh->has_traffic || hh->has_opt || hh->has_cert ? H_HEALTHY : H_IDLE;
        char *rb = NULL, *mb = NULL;
        size_t rl = 0, ml = 0;
        FILE *rf = open_memstream(&rb, &rl), *mf = open_memstream(&mb, &ml);
        if (!rf || !mf) {
            if (rf)
                fclose(rf);
            if (mf)
                fclose(mf);
            free(rb);
            free(mb);
            return ST_ERR_NOMEM;
        }
        struct jsonw rw, mw;
        jsonw_init(&rw, rf, false);
        jsonw_arr_begin(&rw);
        for (size_t k = 0; k < e->nact; k++) {
            const struct st_alert *a = &e->act[k].row;
            if (a->trunk_id != hh->trunk_id || !strcmp(a->state, "resolved"))
                continue;
            bool firing = !strcmp(a->state, "firing");
            int l = !firing ? H_DEGRADED
                    : !strcmp(a->rule, "options_down") || e->cfg.rules[e->act[k].rule].metric == AM_OPTIONS_MISSES
                        ? H_DOWN
                    : !strcmp(a->severity, "critical") ? H_CRITICAL : H_DEGRADED;
            if (l > level)
                level = l;
            jsonw_obj_begin(&rw);
            jsonw_kstr(&rw, "rule", a->rule);
            jsonw_kstr(&rw, "state", a->state);
            jsonw_kstr(&rw, "severity", a->severity);
            jsonw_kint(&rw, "alert_id", a->id);
            jsonw_kstr(&rw, "text", a->summary);
            jsonw_obj_end(&rw);
        }
        if (hh->has_opt && (!hh->opt.last_ok_ns || now - hh->opt.last_ok_ns > OPTIONS_ALIVE_NS)) {
            if (level < H_DEGRADED)
                level = H_DEGRADED;
            char txt[200];
            snprintf(txt, sizeof txt, "OPTIONS %s>%s: no answer for more than 3 min", hh->opt.client,
                     hh->opt.server);
            jsonw_obj_begin(&rw);
            jsonw_kstr(&rw, "rule", "options_liveness");
            jsonw_kstr(&rw, "state", "observed");
            jsonw_kstr(&rw, "severity", "warning");
            jsonw_knull(&rw, "alert_id");
            jsonw_kstr(&rw, "text", txt);
            jsonw_obj_end(&rw);
        }
        if (hh->has_cert && hh->cert_days < 30) {
            /* warning under 30 days, failing once expired (the same limit
             * as trunkscope_tls_cert_expiry_days on /metrics) */
            bool expired = hh->cert_days < 0;
            if (level < (expired ? H_CRITICAL : H_DEGRADED))
                level = expired ? H_CRITICAL : H_DEGRADED;
            char txt[256];
            cert_text(&hh->cert, hh->cert_days, txt, sizeof txt);
            jsonw_obj_begin(&rw);
            jsonw_kstr(&rw, "rule", expired ? "cert_expired" : "cert_expiry");
            jsonw_kstr(&rw, "state", "observed");
            jsonw_kstr(&rw, "severity", expired ? "critical" : "warning");
            jsonw_knull(&rw, "alert_id");
            jsonw_kstr(&rw, "text", txt);
            jsonw_kreal(&rw, "days_left", floor(hh->cert_days));
            jsonw_obj_end(&rw);
        }
        jsonw_arr_end(&rw);
        jsonw_finish(&rw);
        fclose(rf);

        const struct st_trunk_win *w = &hh->w;
        jsonw_init(&mw, mf, false);
        jsonw_obj_begin(&mw);
        jsonw_kuint(&mw, "attempts", w->attempts);
        put_num(&mw, "asr", ratio(w->answered, w->attempts));
        put_num(&mw, "ner", ratio(w->ner_ok, w->attempts));
        put_num(&mw, "baseline_asr", hh->base_asr);
        put_num(&mw, "baseline_ner", hh->base_ner);
        put_num(&mw, "share_5xx", ratio(w->s5xx, w->attempts));
        put_num(&mw, "pdd_p95_ms", w->pdd_p95_ms);
        put_num(&mw, "mos", w->mos_mean);
        put_num(&mw, "loss_pct", w->loss_pct);
        put_num(&mw, "no_rtp_share", ratio(w->no_rtp, w->media_legs));
        jsonw_kuint(&mw, "peak_concurrent", w->peak_concurrent);
        if (hh->channels)
            jsonw_kuint(&mw, "channels", hh->channels);
        else
            jsonw_knull(&mw, "channels");
        jsonw_key(&mw, "options");
        if (hh->has_opt) {
            jsonw_obj_begin(&mw);
            jsonw_kuint(&mw, "requests", hh->opt.requests);
            jsonw_kuint(&mw, "answered", hh->opt.answered);
            jsonw_kuint(&mw, "misses_in_row", hh->opt.misses_in_row);
            put_num(&mw, "last_answer_age_s",
                    hh->opt.last_ok_ns ? (double)(now - hh->opt.last_ok_ns) / 1e9 : -1);
            jsonw_obj_end(&mw);
        } else {
            jsonw_null(&mw);
        }
        if (hh->has_cert)
            jsonw_kreal(&mw, "cert_days_left", floor(hh->cert_days));
        else
            jsonw_knull(&mw, "cert_days_left");
        jsonw_obj_end(&mw);
        jsonw_finish(&mw);
        fclose(mf);
        if (rl && rb[rl - 1] == '\n')
            rb[rl - 1] = '\0';
        if (ml && mb[ml - 1] == '\n')
            mb[ml - 1] = '\0';
        int rc = st_alerts_health(e->db, hh->trunk_id, HNAME[level], rb, mb, now);
        free(rb);
        free(mb);
        if (rc != ST_OK)
            return rc;
    }
    return ST_OK;
}

/* Alertmanager resolves an alert nobody posted again within its
 * resolve_timeout (5 min by default): a firing one is posted again every
 * resend_ns of wall time (at once after a restart). */
static void resend_firing(struct alert_eval *e)
{
    if (e->replay || e->cfg.resend_ns <= 0)
        return;
    for (size_t i = 0; i < e->nact; i++) {
        struct act *a = &e->act[i];
        const struct alert_rule *r = &e->cfg.rules[a->rule];
        bool ours = r->metric == AM_SENSOR_SILENT ? (e->what & ALERT_EVAL_SENSOR)
                                                  : (e->what & ALERT_EVAL_DATA);
        /* another process evaluates the others: it keeps them alive */
        if (!ours || strcmp(a->row.state, "firing") || e->wall - a->sent_wall < e->cfg.resend_ns)
            continue;
        notify(e, &a->row, true);
        a->sent_wall = e->wall;
        e->st.resent++;
    }
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* The run's writes, in one transaction: pending alerts dropped, changed
 * alerts stored (new ones get their ids), each trunk's health. Nothing is
 * read here but the rows it writes. On failure everything rolls back and
 * stays dirty for the next run. */
static int store_changes(struct alert_eval *e, int64_t now)
{
    int rc = st_alerts_begin(e->db);
    if (rc != ST_OK)
        return rc;
    size_t dropped = 0;
    for (; rc == ST_OK && dropped < e->ndrop; dropped++)
        rc = st_alerts_drop(e->db, e->drop[dropped]);
    for (size_t i = 0; rc == ST_OK && i < e->nact; i++) {
        struct act *a = &e->act[i];
        if (!a->dirty)
            continue;
        a->fresh = a->row.id == 0;
        a->row.evidence = a->evidence;
        rc = st_alerts_put(e->db, &a->row);
        a->row.evidence = NULL;
    }
    if (rc == ST_OK && (e->what & ALERT_EVAL_DATA))
        rc = write_health(e, now);
    if (rc == ST_OK)
        rc = st_alerts_commit(e->db);
    if (rc != ST_OK) {
        st_alerts_rollback(e->db);
        for (size_t i = 0; i < e->nact; i++)
            if (e->act[i].fresh)
                e->act[i].row.id = 0;
        return rc;
    }
    e->ndrop = 0;
    for (size_t i = 0; i < e->nact; i++) {
        struct act *a = &e->act[i];
        a->fresh = false;
        if (!a->dirty)
            continue;
        a->dirty = false;
        free(a->evidence);
        a->evidence = NULL;
    }
    return ST_OK;
}

int alert_eval_run(struct alert_eval *e, int64_t now_ns, int64_t wall_ns, uint64_t drops)
{
    int64_t t0 = mono_ns();
    e->wall = wall_ns;
    for (size_t i = 0; i < e->nact; i++)
        e->act[i].seen = false;
    e->nh = 0;
    /* reads: one snapshot, no write lock (WAL: the writer thread and the
     * API go on); the lifecycle moves in memory */
    int rc = st_alerts_read_begin(e->db);
    if (rc == ST_OK && (e->what & ALERT_EVAL_DATA)) {
        rc = eval_trunks(e, now_ns);
        if (rc == ST_OK)
            rc = eval_options(e, now_ns);
        if (rc == ST_OK)
            rc = eval_certs(e, now_ns);
    }
    if (rc == ST_OK)
        rc = eval_sensor(e, now_ns, wall_ns, drops);
    st_alerts_read_end(e->db);
    /* a target gone from the data (no legs, no OPTIONS in its window): its
     * condition no longer holds */
    for (size_t i = 0; rc == ST_OK && i < e->nact;) {
        struct act *a = &e->act[i];
        const struct alert_rule *r = &e->cfg.rules[a->rule];
        bool ours = r->metric == AM_SENSOR_SILENT ? (e->what & ALERT_EVAL_SENSOR)
                                                  : (e->what & ALERT_EVAL_DATA);
        if (a->seen || !ours) {
            i++;
            continue;
        }
        char target[136];
        snprintf(target, sizeof target, "%s", a->row.target);
        struct cand c = { .scope = a->row.scope, .target = target, .site = a->row.site,
                          .trunk_id = a->row.trunk_id, .valid = false };
        snprintf(c.summary, sizeof c.summary, "%s", a->row.summary);
        size_t before = e->nact;
        apply(e, a->rule, &c, now_ns);
        if (e->nact == before)
            i++; /* still active, or resolved and waiting to be stored */
    }
    int64_t t1 = mono_ns();
    if (rc == ST_OK)
        rc = store_changes(e, now_ns);
    int64_t t2 = mono_ns();
    e->st.read_ns = t1 - t0;
    e->st.write_ns = t2 - t1;
    if (e->st.write_ns > e->st.write_ns_max)
        e->st.write_ns_max = e->st.write_ns;
    if (rc == ST_OK) {
        /* transitions go out once stored (their ids are the rows') */
        for (size_t i = 0; i < e->nact;) {
            struct act *a = &e->act[i];
            if (a->tell) {
                a->tell = false;
                notify(e, &a->row, false);
                a->sent_wall = e->wall;
            }
            if (!strcmp(a->row.state, "resolved"))
                act_remove(e, i);
            else
                i++;
        }
    }
    resend_firing(e);
    e->st.runs++;
    return rc;
}

int64_t alert_eval_data_now(struct alert_eval *e)
{
    struct st_data_time dt;
    if (st_alerts_data_time(e->db, &dt) != ST_OK)
        return 0;
    if (dt.live && dt.live_capture_ns)
        return dt.live_capture_ns;
    return dt.last_ns;
}

int alert_eval_replay(struct alert_eval *e)
{
    struct st_data_time dt;
    int rc = st_alerts_data_time(e->db, &dt);
    if (rc != ST_OK || !dt.first_ns)
        return rc;
    int64_t step = e->cfg.eval_ns > 0 ? e->cfg.eval_ns : 10 * NS;
    /* a capture spanning days (or timestamps decades apart) takes longer
     * steps: the replay stays bounded */
    int64_t span = dt.last_ns > dt.first_ns ? dt.last_ns - dt.first_ns : 0;
    if (span / step > TS_ALERT_MAX_REPLAY_STEPS)
        step = span / TS_ALERT_MAX_REPLAY_STEPS + 1;
    int64_t t0 = dt.first_ns - dt.first_ns % step + step;
    e->replay = true;
    st_alerts_static(e->db, true); /* nothing writes legs meanwhile */
    for (int64_t t = t0; t <= dt.last_ns + step && rc == ST_OK; t += step)
        rc = alert_eval_run(e, t, t, 0);
    st_alerts_static(e->db, false);
    e->replay = false;
    return rc;
}
