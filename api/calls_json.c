/* JSON views of the call tracker: finished calls with their legs and
 * correlation evidence, trunks with KPIs per direction and time bucket,
 * REGISTER/OPTIONS peers. Stored text is printable ASCII (calls_cp). */
#include <stdio.h>
#include <string.h>

#include "../calls/calls.h"
#include "json_int.h"

static json_t *jstr(const char *s)
{
    json_t *v = json_string(s ? s : "");
    return v ? v : json_string("");
}

static json_t *jstr_or_null(const char *s)
{
    return (s && s[0]) ? jstr(s) : json_null();
}

static json_t *jtime(uint64_t ns)
{
    char b[40];
    return ns ? jstr(calls_iso_time(ns, b, sizeof b)) : json_null();
}

static json_t *jratio(double r)
{
    return r < 0 ? json_null() : json_real(r);
}

static json_t *jaddr(const struct ts_addr *a, uint16_t port)
{
    char b[64], out[80];
    if (!a->family)
        return json_null();
    ts_addr_str(a, b, sizeof b);
    if (!port)
        return jstr(b);
    snprintf(out, sizeof out, a->family == 6 ? "[%s]:%u" : "%s:%u", b, port);
    return jstr(out);
}

static json_t *jsdp(const struct calls_sdp *s)
{
    if (!s->present)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "media", jaddr(&s->addr, s->port));
    json_object_set_new(o, "codecs", jstr(s->codecs));
    json_object_set_new(o, "direction", jstr(calls_media_dir_name((enum calls_media_dir)s->dir)));
    return o;
}

static json_t *jleg(const struct calls_leg *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "call_id", jstr(l->call_id));
    json_object_set_new(o, "from", jstr(l->from));
    json_object_set_new(o, "to", jstr(l->to));
    json_object_set_new(o, "ruri", jstr(l->ruri));
    json_object_set_new(o, "pai", jstr_or_null(l->pai));
    json_object_set_new(o, "caller_digits", jstr(l->caller_digits));
    json_object_set_new(o, "callee_digits", jstr(l->callee_digits));
    json_object_set_new(o, "outcome", jstr(calls_outcome_name((enum calls_outcome)l->outcome)));
    json_object_set_new(o, "final_status",
                        l->final_status ? json_integer(l->final_status) : json_null());
    json_object_set_new(o, "reason", jstr_or_null(l->reason));
    json_object_set_new(o, "reason_header", jstr_or_null(l->reason_hdr));
    json_object_set_new(o, "q850_cause", l->q850_cause ? json_integer(l->q850_cause) : json_null());
    json_object_set_new(o, "ms_diagnostics", jstr_or_null(l->ms_diag));
    json_object_set_new(o, "hangup_by",
                        l->hangup_by ? jstr(calls_party_name((enum calls_party)l->hangup_by))
                                     : json_null());
    json_object_set_new(o, "invite_ts", jtime(l->invite_ns));
    json_object_set_new(o, "attempt_ts", jtime(l->attempt_ns));
    json_object_set_new(o, "ring_ts", jtime(l->ring_ns));
    json_object_set_new(o, "answer_ts", jtime(l->answer_ns));
    json_object_set_new(o, "end_ts", jtime(l->end_ns));
    json_object_set_new(o, "transport", jstr(l->transport));
    json_object_set_new(o, "src", jaddr(&l->src, l->sport));
    json_object_set_new(o, "dst", jaddr(&l->dst, l->dport));
    json_object_set_new(o, "caller_sdp", jsdp(&l->caller_sdp));
    json_object_set_new(o, "callee_sdp", jsdp(&l->callee_sdp));
    if (l->err_status) {
        json_t *fe = json_object();
        json_object_set_new(fe, "status", json_integer(l->err_status));
        json_object_set_new(fe, "from", jaddr(&l->err_src, 0));
        json_object_set_new(fe, "ts", jtime(l->err_ns));
        json_object_set_new(o, "first_error", fe);
    } else {
        json_object_set_new(o, "first_error", json_null());
    }
    json_object_set_new(o, "forks", json_integer(l->forks));
    json_object_set_new(o, "hops", json_integer(l->nhops));
    json_object_set_new(o, "site", l->site[0] ? jstr(l->site) : json_null());
    json_object_set_new(o, "capture_gap", json_boolean(l->capture_gap));
    json_object_set_new(o, "reinvites", json_integer(l->reinvites));
    json_object_set_new(o, "retransmissions", json_integer(l->retrans));
    json_object_set_new(o, "hold", json_boolean(l->hold));
    json_object_set_new(o, "holds", json_integer(l->holds));
    json_object_set_new(o, "on_hold_at_end", json_boolean(l->on_hold));
    json_object_set_new(o, "transfer", json_boolean(l->transfer));
    json_object_set_new(o, "session_timer", json_boolean(l->session_timer));
    json_object_set_new(o, "auth_challenged", json_boolean(l->auth_challenged));
    if (l->ev_type && l->ev_linked_to >= 0) {
        json_t *ev = json_object();
        json_object_set_new(ev, "type", jstr(calls_evidence_name((enum calls_evidence)l->ev_type)));
        json_object_set_new(ev, "confidence", json_real((double)l->ev_conf));
        json_object_set_new(ev, "linked_to", json_integer(l->ev_linked_to));
        json_object_set_new(o, "evidence", ev);
    } else {
        json_object_set_new(o, "evidence", json_null());
    }
    return o;
}

static json_t *jcall(const struct calls_call *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)c->id));
    json_object_set_new(o, "site", c->site[0] ? jstr(c->site) : json_null());
    json_object_set_new(o, "start", jtime(c->start_ns));
    json_object_set_new(o, "caller", jstr(c->caller));
    json_object_set_new(o, "callee", jstr(c->callee));
    json_object_set_new(o, "direction", jstr(calls_dir_name((enum calls_dir)c->direction)));
    json_object_set_new(o, "outcome", jstr(calls_outcome_name((enum calls_outcome)c->outcome)));
    json_object_set_new(o, "failure_side",
                        c->failure_side ? jstr(calls_side_name((enum calls_side)c->failure_side))
                                        : json_null());
    json_object_set_new(o, "failure_detail", jstr_or_null(c->failure_detail));
    json_object_set_new(o, "pdd_ms", c->pdd_ms >= 0 ? json_integer(c->pdd_ms) : json_null());
    json_object_set_new(o, "duration_s", json_real(c->duration_s));
    json_t *legs = json_array();
    for (unsigned i = 0; i < c->nlegs; i++)
        json_array_append_new(legs, jleg(&c->legs[i]));
    json_object_set_new(o, "legs", legs);
    return o;
}

json_t *calls_json_calls(const struct calls *c)
{
    json_t *a = json_array();
    for (size_t i = 0; c && i < calls_count(c); i++)
        json_array_append_new(a, jcall(calls_get(c, i)));
    return a;
}

/* KPI object: ratios 0..1 (null without attempts), times in ms / s. */
static json_t *jkpi(const struct calls_kpi *k)
{
    json_t *o = json_object();
    json_object_set_new(o, "attempts", json_integer((json_int_t)k->attempts));
    json_object_set_new(o, "answered", json_integer((json_int_t)k->answered));
    json_object_set_new(o, "busy", json_integer((json_int_t)k->busy));
    json_object_set_new(o, "rejected", json_integer((json_int_t)k->rejected));
    json_object_set_new(o, "cancelled", json_integer((json_int_t)k->cancelled));
    json_object_set_new(o, "failed", json_integer((json_int_t)k->failed));
    json_object_set_new(o, "timeouts", json_integer((json_int_t)k->timeouts));
    json_object_set_new(o, "asr", jratio(calls_kpi_asr(k)));
    json_object_set_new(o, "ner", jratio(calls_kpi_ner(k)));
    json_object_set_new(o, "ser", jratio(calls_kpi_ser(k)));
    json_object_set_new(o, "seer", jratio(calls_kpi_seer(k)));
    json_object_set_new(o, "isa", jratio(calls_kpi_isa(k)));
    json_object_set_new(o, "scr", jratio(calls_kpi_scr(k)));
    json_object_set_new(o, "acd_s", jratio(calls_kpi_acd_s(k)));
    json_object_set_new(o, "sdt_s", jratio(calls_kpi_acd_s(k)));
    json_object_set_new(o, "pdd_ms", jratio(calls_kpi_mean(k->srd_sum_ms, k->srd_n)));
    json_object_set_new(o, "srd_ms", jratio(calls_kpi_mean(k->srd_sum_ms, k->srd_n)));
    json_object_set_new(o, "pdd_answer_ms", jratio(calls_kpi_mean(k->ans_sum_ms, k->ans_n)));
    json_object_set_new(o, "sdd_ms", jratio(calls_kpi_mean(k->sdd_sum_ms, k->sdd_n)));
    return o;
}

static void merge(json_t *dst, json_t *src)
{
    json_object_update(dst, src);
    json_decref(src);
}

static json_t *jtrunk(const struct calls_trunk *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(t->id));
    json_object_set_new(o, "name", jstr(t->name));
    json_object_set_new(o, "site", t->site[0] ? jstr(t->site) : json_null());
    json_object_set_new(o, "local", jaddr(&t->local, 0));
    json_object_set_new(o, "peer", jaddr(&t->peer, 0));
    json_object_set_new(o, "type", jstr(t->itsp ? "itsp" : "direct"));
    merge(o, jkpi(&t->all));
    int64_t p95 = calls_hist_p95(&t->srd_hist), a95 = calls_hist_p95(&t->ans_hist);
    json_object_set_new(o, "pdd_p95_ms", p95 >= 0 ? json_integer(p95) : json_null());
    json_object_set_new(o, "pdd_answer_p95_ms", a95 >= 0 ? json_integer(a95) : json_null());
    json_object_set_new(o, "peak_concurrent", json_integer(t->peak_concurrent));
    json_object_set_new(o, "peak_time", jtime(t->peak_ns));
    json_object_set_new(o, "peak_bandwidth_kbps", json_real(calls_trunk_peak_kbps(t)));
    json_t *pc = json_object();
    for (unsigned k = 0; k < CALLS_CODEC_N; k++)
        if (t->peak_codec[k])
            json_object_set_new(pc, calls_codec_name((enum calls_codec)k),
                                json_integer(t->peak_codec[k]));
    json_object_set_new(o, "peak_concurrent_by_codec", pc);
    json_t *codes = json_object();
    for (unsigned i = 0; i < 600; i++) {
        if (!t->codes[i])
            continue;
        char k[8];
        snprintf(k, sizeof k, "%u", i + 100);
        json_object_set_new(codes, k, json_integer(t->codes[i]));
    }
    json_object_set_new(o, "codes", codes);
    json_object_set_new(o, "inbound", jkpi(&t->dir[CALLS_DIR_INBOUND]));
    json_object_set_new(o, "outbound", jkpi(&t->dir[CALLS_DIR_OUTBOUND]));
    json_t *bk = json_array();
    for (size_t i = 0; i < t->nbuckets; i++) {
        const struct calls_bucket *b = &t->buckets[i];
        json_t *bo = json_object();
        json_object_set_new(bo, "start", jtime(b->start_ns));
        merge(bo, jkpi(&b->k));
        json_object_set_new(bo, "peak_concurrent", json_integer(b->peak_concurrent));
        json_array_append_new(bk, bo);
    }
    json_object_set_new(o, "buckets", bk);
    return o;
}

json_t *calls_json_trunks(const struct calls *c)
{
    json_t *a = json_array();
    for (size_t i = 0; c && i < calls_trunk_count(c); i++)
        json_array_append_new(a, jtrunk(calls_trunk_get(c, i)));
    return a;
}

json_t *calls_json_registrations(const struct calls *c)
{
    json_t *a = json_array();
    for (size_t i = 0; c && i < calls_reg_count(c); i++) {
        const struct calls_reg *r = calls_reg_get(c, i);
        json_t *o = json_object();
        json_object_set_new(o, "client", jaddr(&r->client, 0));
        json_object_set_new(o, "server", jaddr(&r->server, 0));
        json_object_set_new(o, "method", jstr(sip_method_name((enum sip_method)r->method)));
        json_object_set_new(o, "aor", jstr(r->aor));
        json_object_set_new(o, "attempts", json_integer((json_int_t)r->attempts));
        json_object_set_new(o, "successes", json_integer((json_int_t)r->successes));
        json_object_set_new(o, "challenges", json_integer((json_int_t)r->challenges));
        json_object_set_new(o, "failures", json_integer((json_int_t)r->failures));
        json_object_set_new(o, "timeouts", json_integer((json_int_t)r->timeouts));
        json_object_set_new(o, "response_ms_mean", jratio(calls_kpi_mean(r->rt_sum_ms, r->rt_n)));
        json_object_set_new(o, "response_ms_max", r->rt_n ? json_integer(r->rt_max_ms) : json_null());
        json_object_set_new(o, "last_status", r->last_status ? json_integer(r->last_status)
                                                             : json_null());
        json_object_set_new(o, "first", jtime(r->first_ns));
        json_object_set_new(o, "last", jtime(r->last_ns));
        json_object_set_new(o, "last_success", jtime(r->last_ok_ns));
        json_array_append_new(a, o);
    }
    return a;
}
