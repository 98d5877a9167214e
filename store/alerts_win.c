/* One leg or OPTIONS message of an alert window as the evaluator counts it
 * (store/alerts.h): below the queries (alerts.c) and the replay's memory
 * of them (alerts_replay.c), which count the same rows the same way. */
#include "alerts_int.h"

#include <stdio.h>
#include <string.h>

static int64_t col_i(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

void st_win_ev_add(struct st_trunk_win *w, enum st_ev k, int64_t call)
{
    if (!call || w->nev[k] >= TS_ALERT_EVIDENCE_CALLS)
        return;
    for (unsigned i = 0; i < w->nev[k]; i++)
        if (w->ev[k][i] == call)
            return;
    w->ev[k][w->nev[k]++] = call;
}

static bool ner_code(int64_t s)
{
    return s == 486 || s == 480 || s == 487 || s == 600 || s == 603 || s == 404 || s == 484;
}

/* A dialled number (request URI user, else To) to another country: '+' or
 * the international prefix, then a country code other than ours. */
static bool intl_number(const struct st_win_opts *o, const char *n)
{
    if (!o->country_code[0] || !n)
        return false;
    size_t pl = strlen(o->intl_prefix);
    if (n[0] == '+')
        n++;
    else if (pl && !strncmp(n, o->intl_prefix, pl))
        n += pl;
    else
        return false;
    if (n[0] < '1' || n[0] > '9')
        return false;
    return strncmp(n, o->country_code, strlen(o->country_code)) != 0;
}

static bool quiet_hour(const struct st_win_opts *o, int64_t ts_ns)
{
    if (o->quiet_from_h < 0 || o->quiet_to_h < 0 || o->quiet_from_h == o->quiet_to_h)
        return false;
    int64_t s = ts_ns / 1000000000ll + (int64_t)o->utc_offset_min * 60;
    int h = (int)(((s / 3600) % 24 + 24) % 24);
    return o->quiet_from_h < o->quiet_to_h ? h >= o->quiet_from_h && h < o->quiet_to_h
                                           : h >= o->quiet_from_h || h < o->quiet_to_h;
}

void st_win_leg_of_row(sqlite3_stmt *s, struct win_leg *l)
{
    const char *oc = (const char *)sqlite3_column_text(s, 0);
    l->oc = !oc                                                    ? WIN_OC_OTHER
            : !strcmp(oc, "in_progress") || !strcmp(oc, "pending") ? WIN_OC_OPEN
            : !strcmp(oc, "answered")                              ? WIN_OC_ANSWERED
            : !strcmp(oc, "cancelled")                             ? WIN_OC_CANCELLED
                                                                   : WIN_OC_OTHER;
    l->status = col_i(s, 1);
    l->invite = col_i(s, 2);
    l->has = 0;
    l->pdd_ts = col_i(s, 3);
    if (sqlite3_column_type(s, 3) != SQLITE_NULL)
        l->has |= WIN_HAS_PDD;
    l->answer = col_i(s, 4);
    if (sqlite3_column_type(s, 4) != SQLITE_NULL)
        l->has |= WIN_HAS_ANSWER;
    l->end = col_i(s, 5);
    if (sqlite3_column_type(s, 5) != SQLITE_NULL)
        l->has |= WIN_HAS_END;
    l->mos = 0;
    if (sqlite3_column_type(s, 6) != SQLITE_NULL) {
        l->mos = sqlite3_column_double(s, 6);
        l->has |= WIN_HAS_MOS;
    }
    l->media_flags = col_i(s, 7);
    l->call_ref = col_i(s, 8);
    l->loss = 0;
    if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
        l->loss = sqlite3_column_double(s, 9);
        l->has |= WIN_HAS_LOSS;
    }
    l->local = col_i(s, 10) != 0;
    l->callee = (const char *)sqlite3_column_text(s, 11);
}

void st_win_add(struct st_trunk_win *w, struct win_acc *acc, const struct win_leg *l,
                const struct st_win_opts *o)
{
    if (l->oc == WIN_OC_OPEN)
        return; /* not ended: outside the ratios, as the trunk page counts */
    bool ans = l->oc == WIN_OC_ANSWERED;
    int64_t st = l->status, call = l->call_ref;
    w->attempts++;
    if (l->local) { /* sent by the trunk's local end: a call out */
        w->out_attempts++;
        if (intl_number(o, l->callee)) {
            w->intl_attempts++;
            st_win_ev_add(w, ST_EV_INTL, call);
        }
        if (quiet_hour(o, l->invite)) {
            w->quiet_attempts++;
            st_win_ev_add(w, ST_EV_QUIET, call);
        }
    }
    if (ans)
        w->answered++;
    if (ans || ner_code(st) || l->oc == WIN_OC_CANCELLED)
        w->ner_ok++;
    else
        st_win_ev_add(w, ST_EV_FAILED, call);
    if (st >= 500 && st <= 599) {
        w->s5xx++;
        st_win_ev_add(w, ST_EV_5XX, call);
    }
    if (l->has & WIN_HAS_PDD) {
        int64_t d = l->pdd_ts - l->invite;
        if (d >= 0) {
            int64_t bin = d / 100000000;
            acc->bins[bin < PDD_BINS - 1 ? bin : PDD_BINS - 1]++;
            w->pdd_n++;
            if (d >= 5000000000ll)
                st_win_ev_add(w, ST_EV_SLOW, call);
        }
    }
    if (l->has & WIN_HAS_MOS) {
        acc->mos_sum += l->mos;
        w->mos_n++;
        if (l->mos < 3.5)
            st_win_ev_add(w, ST_EV_POOR, call);
    }
    if (l->has & WIN_HAS_LOSS) {
        acc->loss_sum += l->loss;
        w->loss_n++;
    }
    if (ans) {
        w->media_legs++;
        if (l->media_flags & 3) {
            w->no_rtp++;
            st_win_ev_add(w, ST_EV_NORTP, call);
        }
        if ((l->has & WIN_HAS_END) && (l->has & WIN_HAS_ANSWER) &&
            (double)(l->end - l->answer) / 1e9 < o->short_s) {
            w->short_calls++;
            st_win_ev_add(w, ST_EV_SHORT, call);
        }
    }
}

void st_opt_msg_of_row(sqlite3_stmt *s, struct opt_msg *m)
{
    m->ts = col_i(s, 0);
    col_text(s, 1, m->src, sizeof m->src);
    col_text(s, 2, m->dst, sizeof m->dst);
    m->req = sqlite3_column_type(s, 3) != SQLITE_NULL;
    m->status = (int)col_i(s, 4);
}
