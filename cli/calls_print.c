/* Text tables and CSV of calls, trunks and registrations (see calls_print.h). */
#include "calls_print.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../calls/calls.h"
#include "../calls/capacity.h"

static void pct(char *b, size_t cap, double r)
{
    if (r < 0)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.1f%%", r * 100.0);
}

static void num(char *b, size_t cap, double v, const char *fmt)
{
    if (v < 0)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, fmt, v);
}

static void print_calls(FILE *f, const struct calls *c, size_t top)
{
    size_t n = calls_count(c);
    fprintf(f, "\nCalls: %llu finished", (unsigned long long)calls_emitted(c));
    if (n < calls_emitted(c))
        fprintf(f, " (%zu kept)", n);
    if (!top) { /* --summary */
        fprintf(f, "\n");
        return;
    }
    fprintf(f, "\n%-6s %-24s %-18s %-18s %-8s %-9s %4s %6s %8s %-4s %s\n", "id", "start",
            "caller", "callee", "dir", "outcome", "legs", "pdd_ms", "dur_s", "code",
            "failure");
    for (size_t i = 0; i < n && i < top; i++) {
        const struct calls_call *k = calls_get(c, i);
        char t[40], pdd[24];
        calls_iso_time(k->start_ns, t, sizeof t);
        if (k->pdd_ms >= 0)
            snprintf(pdd, sizeof pdd, "%lld", (long long)k->pdd_ms);
        else
            snprintf(pdd, sizeof pdd, "-");
        unsigned code = k->nlegs ? k->legs[0].final_status : 0;
        fprintf(f, "%-6llu %-24s %-18.18s %-18.18s %-8s %-9s %4u %6s %8.1f %-4u %s%s%s\n",
                (unsigned long long)k->id, t, k->caller, k->callee,
                calls_dir_name((enum calls_dir)k->direction),
                calls_outcome_name((enum calls_outcome)k->outcome), k->nlegs, pdd, k->duration_s,
                code, k->failure_side ? calls_side_name((enum calls_side)k->failure_side) : "",
                k->failure_side ? ": " : "", k->failure_detail);
    }
    if (n > top)
        fprintf(f, "... %zu more calls (--top N, --json or --calls-csv)\n", n - top);
}

static void print_trunks(FILE *f, const struct calls *c)
{
    fprintf(f, "\nTrunks: %zu\n", calls_trunk_count(c));
    fprintf(f, "%-4s %-20s %-16s %-6s %-5s %7s %7s %7s %7s %8s %8s %8s %5s %9s\n", "id",
            "name", "local", "type", "dir", "attempt", "answer", "ASR", "NER", "ACD_s",
            "PDD_ms", "PDDp95", "peak", "peak_kbps");
    for (size_t i = 0; i < calls_trunk_count(c); i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        char local[64];
        ts_addr_str(&t->local, local, sizeof local);
        const struct calls_kpi *rows[3] = { &t->all, &t->dir[CALLS_DIR_INBOUND],
                                            &t->dir[CALLS_DIR_OUTBOUND] };
        static const char *const names[3] = { "all", "in", "out" };
        for (int r = 0; r < 3; r++) {
            const struct calls_kpi *k = rows[r];
            if (r && !k->attempts)
                continue;
            char asr[16], ner[16], acd[16], pdd[16], p95[16], kb[16];
            pct(asr, sizeof asr, calls_kpi_asr(k));
            pct(ner, sizeof ner, calls_kpi_ner(k));
            num(acd, sizeof acd, calls_kpi_acd_s(k), "%.1f");
            num(pdd, sizeof pdd, calls_kpi_mean(k->srd_sum_ms, k->srd_n), "%.0f");
            num(p95, sizeof p95, r ? -1 : (double)calls_hist_p95(&t->srd_hist), "%.0f");
            num(kb, sizeof kb, r ? -1 : calls_trunk_peak_kbps(t), "%.1f");
            char peak[16];
            if (r)
                snprintf(peak, sizeof peak, "-");
            else
                snprintf(peak, sizeof peak, "%u", t->peak_concurrent);
            fprintf(f, "%-4u %-20.20s %-16.16s %-6s %-5s %7llu %7llu %7s %7s %8s %8s %8s %5s %9s\n",
                    t->id, r ? "" : t->name, r ? "" : local, r ? "" : (t->itsp ? "itsp" : "direct"),
                    names[r], (unsigned long long)k->attempts, (unsigned long long)k->answered,
                    asr, ner, acd, pdd, p95, peak, kb);
        }
    }
}

/* Busy hour, Erlangs, BHCA, Erlang B channels and the planning guide's
 * bandwidth (per direction) of each trunk. */
static void print_capacity(FILE *f, const struct calls *c)
{
    fprintf(f, "\nCapacity (busy hour, Erlang B):\n");
    fprintf(f, "%-4s %-20s %-20s %7s %8s %8s %8s %5s %6s %6s %10s %10s\n", "id", "name",
            "busy_hour", "window", "erlangs", "BHCA", "hold_s", "peak", "ch_1%", "ch_.1%",
            "kbps_peak", "kbps_1%");
    for (size_t i = 0; i < calls_trunk_count(c); i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        struct capacity_result r;
        calls_trunk_capacity(t, &r);
        char bh[32] = "-", hold[16];
        if (r.bh_start_ns >= 0) {
            time_t s = (time_t)(r.bh_start_ns / 1000000000);
            struct tm tm;
            if (gmtime_r(&s, &tm))
                strftime(bh, sizeof bh, "%Y-%m-%dT%H:%MZ", &tm);
        }
        num(hold, sizeof hold, r.mean_hold_s, "%.1f");
        fprintf(f, "%-4u %-20.20s %-20s %6.0fs %8.2f %8.0f %8s %5u %6u %6u %10.0f %10.0f\n", t->id,
                t->name, bh, r.window_s, r.erlangs, r.bhca, hold, t->peak_concurrent,
                r.channels_1pct, r.channels_01pct, CAPACITY_GUIDE_KBPS * t->peak_concurrent,
                CAPACITY_GUIDE_KBPS * r.channels_1pct);
    }
}

static void print_nodes(FILE *f, const struct calls *c)
{
    struct calls_topo_node *nv = calloc(TS_TOPO_MAX_ADDRS, sizeof *nv);
    size_t n = nv ? calls_topo_nodes(c, nv, TS_TOPO_MAX_ADDRS) : 0;
    fprintf(f, "\nNodes (learned from the traffic): %zu\n", n);
    fprintf(f, "%-4s %-16s %-10s %-13s %7s %5s %-20s %-12s %s\n", "id", "role", "side",
            "learned_from", "calls", "conf", "user_agent", "site", "addresses");
    for (size_t i = 0; i < n; i++) {
        const struct calls_topo_node *o = &nv[i];
        char addrs[256] = "", a[64];
        for (unsigned k = 0; k < o->naddrs; k++) {
            size_t l = strlen(addrs);
            snprintf(addrs + l, sizeof addrs - l, "%s%s", k ? ", " : "",
                     ts_addr_str(&o->addrs[k], a, sizeof a));
        }
        fprintf(f, "%-4u %-16s %-10s %-13s %7u %5.2f %-20.20s %-12.12s %s\n", o->id,
                calls_role_name((enum calls_role)o->role),
                o->side ? calls_side_name((enum calls_side)o->side) : "-",
                calls_topo_how_name(o->how), o->calls, (double)o->confidence,
                o->ua[0] ? o->ua : "-", o->site[0] ? o->site : "-", addrs);
    }
    free(nv);
}

static void print_regs(FILE *f, const struct calls *c)
{
    fprintf(f, "\nRegistrations and keep-alives: %zu\n", calls_reg_count(c));
    fprintf(f, "%-8s %-22s %-22s %-16s %7s %7s %7s %7s %7s %8s %5s\n", "method", "client",
            "server", "aor", "attempt", "ok", "chall", "fail", "timeout", "rt_ms", "last");
    for (size_t i = 0; i < calls_reg_count(c); i++) {
        const struct calls_reg *r = calls_reg_get(c, i);
        char a[64], b[64], rt[16];
        num(rt, sizeof rt, calls_kpi_mean(r->rt_sum_ms, r->rt_n), "%.0f");
        fprintf(f, "%-8s %-22s %-22s %-16.16s %7llu %7llu %7llu %7llu %7llu %8s %5u\n",
                sip_method_name((enum sip_method)r->method), ts_addr_str(&r->client, a, sizeof a),
                ts_addr_str(&r->server, b, sizeof b), r->aor, (unsigned long long)r->attempts,
                (unsigned long long)r->successes, (unsigned long long)r->challenges,
                (unsigned long long)r->failures, (unsigned long long)r->timeouts, rt,
                r->last_status);
    }
}

void calls_print(FILE *f, const struct calls *c, size_t top)
{
    if (!c)
        return;
    print_calls(f, c, top);
    print_trunks(f, c);
    print_capacity(f, c);
    print_nodes(f, c);
    print_regs(f, c);
}

static void csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int calls_write_csv(FILE *f, const struct calls *c)
{
    fprintf(f, "id,start,caller,callee,direction,outcome,failure_side,failure_detail,pdd_ms,"
               "duration_s,legs,final_status,call_ids\n");
    for (size_t i = 0; c && i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        char t[40];
        fprintf(f, "%llu,%s,", (unsigned long long)k->id, calls_iso_time(k->start_ns, t, sizeof t));
        csv_str(f, k->caller);
        fputc(',', f);
        csv_str(f, k->callee);
        fprintf(f, ",%s,%s,%s,", calls_dir_name((enum calls_dir)k->direction),
                calls_outcome_name((enum calls_outcome)k->outcome),
                k->failure_side ? calls_side_name((enum calls_side)k->failure_side) : "");
        csv_str(f, k->failure_detail);
        if (k->pdd_ms >= 0)
            fprintf(f, ",%lld", (long long)k->pdd_ms);
        else
            fputc(',', f);
        fprintf(f, ",%.3f,%u,%u,", k->duration_s, k->nlegs, k->nlegs ? k->legs[0].final_status : 0);
        char ids[1024];
        size_t n = 0;
        ids[0] = '\0';
        for (unsigned j = 0; j < k->nlegs; j++) {
            int w = snprintf(ids + n, sizeof ids - n, "%s%s", j ? " " : "", k->legs[j].call_id);
            if (w < 0 || (size_t)w >= sizeof ids - n)
                break;
            n += (size_t)w;
        }
        csv_str(f, ids);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}
