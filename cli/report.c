/* The analyze report, streamed: finished calls and RTP streams are written
 * through common/jsonw once final, so memory holds only the records still
 * waiting (a call for its legs' streams to end, a stream for its call), not
 * every finished call. --json keeps the document's order (counters first,
 * calls, trunks, registrations, streams) by writing the calls and streams
 * arrays to two unlinked spool files and copying them in at the end;
 * --json-lines writes each object as a line of its own. */
#include "report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../alert/checklist.h"
#include "../calls/calls.h"
#include "../calls/capacity.h"
#include "../calls/tlspeers.h"
#include "../capture/pcapin.h"
#include "../common/jsonw.h"
#include "../common/limits.h"
#include "../engine/engine.h"
#include "../engine/oflows.h"
#include "../media/media.h"
#include "../store/store.h"

/* ---- records waiting to be written ---- */

/* How long an ended call waits for late streams: the media layer's idle
 * timeout, after which a silent stream ends. */
#define REPORT_HOLD_NS (30ull * 1000000000ull)

struct rp_call {
    struct rp_call *next;
    uint64_t emitted_ns; /* capture time it came */
    struct calls_call c;
    struct calls_leg legs[]; /* c.legs points here */
};

struct rp_stream {
    struct rp_stream *next;
    struct media_stream s; /* s.series owned */
};

/* Legs of emitted calls -> call id: a ring of the newest entries with a
 * chained index (leg refs are our own counters, not wire data). */
struct rp_leg {
    uint64_t leg_ref, call_id;
    uint32_t next; /* chain in the bucket, UINT32_MAX: end */
};

struct report {
    FILE *out;
    enum report_form form;
    const struct engine *e;
    FILE *spool_calls, *spool_streams; /* REPORT_JSON */
    struct jsonw wc, ws;               /* item writers on the spools */
    struct rp_call *ch, **ct;
    struct rp_stream *sh, **st;
    size_t ncalls, nstreams;
    struct rp_leg *legs;
    uint32_t *bucket;
    size_t cap, nlegs, oldest; /* ring: entries [oldest, oldest + nlegs) mod cap */
    uint64_t early;            /* records written before final (limits) */
    uint64_t now_ns; /* capture time (report_tick) */
    bool nomem;
};

static uint32_t leg_bucket(const struct report *r, uint64_t ref)
{
    return (uint32_t)((ref * 0x9E3779B97F4A7C15ull) >> 32) & (uint32_t)(r->cap - 1);
}

static void leg_forget_oldest(struct report *r)
{
    struct rp_leg *o = &r->legs[r->oldest];
    uint32_t *p = &r->bucket[leg_bucket(r, o->leg_ref)];
    while (*p != UINT32_MAX && *p != r->oldest)
        p = &r->legs[*p].next;
    if (*p == r->oldest)
        *p = o->next;
    r->oldest = (r->oldest + 1) & (r->cap - 1);
    r->nlegs--;
}

static void leg_put(struct report *r, uint64_t leg_ref, uint64_t call_id)
{
    if (!leg_ref)
        return;
    if (r->nlegs == r->cap)
        leg_forget_oldest(r);
    size_t i = (r->oldest + r->nlegs) & (r->cap - 1);
    uint32_t b = leg_bucket(r, leg_ref);
    r->legs[i] = (struct rp_leg){ leg_ref, call_id, r->bucket[b] };
    r->bucket[b] = (uint32_t)i;
    r->nlegs++;
}

/* The call id of the newest call holding leg_ref; false when unknown. */
static bool leg_find(const struct report *r, uint64_t leg_ref, uint64_t *call_id)
{
    for (uint32_t i = r->bucket[leg_bucket(r, leg_ref)]; i != UINT32_MAX; i = r->legs[i].next)
        if (r->legs[i].leg_ref == leg_ref) {
            *call_id = r->legs[i].call_id;
            return true;
        }
    return false;
}

/* ---- JSON of one record (the shapes of the README) ---- */

static void put_text(struct jsonw *w, const char *k, const char *s)
{
    jsonw_key(w, k);
    jsonw_str(w, s ? s : "");
}

static void put_text_or_null(struct jsonw *w, const char *k, const char *s)
{
    jsonw_key(w, k);
    if (s && s[0])
        jsonw_str(w, s);
    else
        jsonw_null(w);
}

/* calls_iso_time()'s text, its date part formatted once per day and the
 * time of day from the seconds (a report has a dozen times per call, and
 * they cross seconds often enough for gmtime and snprintf to show). */
static void put_time(struct jsonw *w, const char *k, uint64_t ns)
{
    static _Thread_local uint64_t day = UINT64_MAX;
    static _Thread_local char b[40];
    jsonw_key(w, k);
    if (!ns) {
        jsonw_null(w);
        return;
    }
    uint64_t s = ns / 1000000000u;
    if (s / 86400u != day) {
        calls_iso_time(ns, b, sizeof b);
        day = strlen(b) == 24 ? s / 86400u : UINT64_MAX;
        if (day == UINT64_MAX) { /* a year beyond four digits: as it is */
            jsonw_str(w, b);
            return;
        }
    }
    unsigned sd = (unsigned)(s % 86400u), ms = (unsigned)(ns / 1000000u % 1000u);
    unsigned v[3] = { sd / 3600, sd / 60 % 60, sd % 60 };
    for (int i = 0; i < 3; i++) { /* "HH:MM:SS" at 11 */
        b[11 + 3 * i] = (char)('0' + v[i] / 10);
        b[12 + 3 * i] = (char)('0' + v[i] % 10);
    }
    b[20] = (char)('0' + ms / 100);
    b[21] = (char)('0' + ms / 10 % 10);
    b[22] = (char)('0' + ms % 10);
    jsonw_strn(w, b, 24);
}

static void put_real_or_null(struct jsonw *w, const char *k, bool present, double v)
{
    jsonw_key(w, k);
    if (present)
        jsonw_real(w, v);
    else
        jsonw_null(w);
}

/* Non-negative value, else null ("unknown"). */
static void put_opt(struct jsonw *w, const char *k, double v)
{
    put_real_or_null(w, k, !(v < 0), v);
}

static void put_int_or_null(struct jsonw *w, const char *k, bool present, int64_t v)
{
    jsonw_key(w, k);
    if (present)
        jsonw_int(w, v);
    else
        jsonw_null(w);
}

static void put_addr(struct jsonw *w, const char *k, const struct ts_addr *a, uint16_t port)
{
    char b[64], out[80];
    jsonw_key(w, k);
    if (!a->family) {
        jsonw_null(w);
        return;
    }
    if (!port) {
        jsonw_str(w, ts_addr_str(a, b, sizeof b));
        return;
    }
    jsonw_str(w, ts_endpoint_str(a, port, out, sizeof out));
}

static void put_sdp(struct jsonw *w, const char *k, const struct calls_sdp *s)
{
    jsonw_key(w, k);
    if (!s->present) {
        jsonw_null(w);
        return;
    }
    jsonw_obj_begin(w);
    put_addr(w, "media", &s->addr, s->port);
    put_text(w, "codecs", s->codecs);
    put_text(w, "direction", calls_media_dir_name((enum calls_media_dir)s->dir));
    jsonw_obj_end(w);
}

/* The call's worst leg: MOS and its reason, and whether any leg was one-way
 * or silent. */
struct call_worst {
    double mos;
    uint8_t reason;
    bool one_way, no_audio;
};

/* A leg's fields; mos and streams from the media analysis of its streams. */
static void put_leg(struct jsonw *w, const struct calls_leg *l, const struct media *md,
                    struct call_worst *worst)
{
    jsonw_obj_begin(w);
    put_text(w, "call_id", l->call_id);
    put_text(w, "from", l->from);
    put_text(w, "to", l->to);
    put_text(w, "ruri", l->ruri);
    put_text_or_null(w, "pai", l->pai);
    put_text(w, "caller_digits", l->caller_digits);
    put_text(w, "callee_digits", l->callee_digits);
    put_text(w, "outcome", calls_outcome_name((enum calls_outcome)l->outcome));
    put_int_or_null(w, "final_status", l->final_status != 0, l->final_status);
    put_text_or_null(w, "reason", l->reason);
    put_text_or_null(w, "reason_header", l->reason_hdr);
    put_int_or_null(w, "q850_cause", l->q850_cause != 0, l->q850_cause);
    put_text_or_null(w, "ms_diagnostics", l->ms_diag);
    jsonw_kstr(w, "hangup_by",
               l->hangup_by ? calls_party_name((enum calls_party)l->hangup_by) : NULL);
    put_time(w, "invite_ts", l->invite_ns);
    put_time(w, "attempt_ts", l->attempt_ns);
    put_time(w, "ring_ts", l->ring_ns);
    put_time(w, "answer_ts", l->answer_ns);
    put_time(w, "end_ts", l->end_ns);
    put_text(w, "transport", l->transport);
    put_addr(w, "src", &l->src, l->sport);
    put_addr(w, "dst", &l->dst, l->dport);
    put_sdp(w, "caller_sdp", &l->caller_sdp);
    put_sdp(w, "callee_sdp", &l->callee_sdp);
    jsonw_key(w, "first_error");
    if (l->err_status) {
        jsonw_obj_begin(w);
        jsonw_kint(w, "status", l->err_status);
        put_addr(w, "from", &l->err_src, 0);
        put_time(w, "ts", l->err_ns);
        jsonw_obj_end(w);
    } else {
        jsonw_null(w);
    }
    jsonw_kint(w, "forks", l->forks);
    jsonw_kint(w, "hops", l->nhops);
    put_text_or_null(w, "site", l->site);
    jsonw_kbool(w, "capture_gap", l->capture_gap);
    jsonw_kbool(w, "no_ack", l->no_ack);
    jsonw_kint(w, "reinvites", l->reinvites);
    jsonw_kint(w, "retransmissions", l->retrans);
    jsonw_kbool(w, "hold", l->hold);
    jsonw_kint(w, "holds", l->holds);
    jsonw_kbool(w, "on_hold_at_end", l->on_hold);
    jsonw_kbool(w, "transfer", l->transfer);
    jsonw_kbool(w, "session_timer", l->session_timer);
    jsonw_kbool(w, "auth_challenged", l->auth_challenged);
    jsonw_key(w, "evidence");
    if (l->ev_type && l->ev_linked_to >= 0) {
        jsonw_obj_begin(w);
        put_text(w, "type", calls_evidence_name((enum calls_evidence)l->ev_type));
        jsonw_kreal(w, "confidence", (double)l->ev_conf);
        jsonw_kint(w, "linked_to", l->ev_linked_to);
        jsonw_obj_end(w);
    } else {
        jsonw_null(w);
    }
    struct media_quality q;
    bool ok = md && media_leg_quality(md, l->leg_ref, &q);
    jsonw_kuint(w, "leg_ref", l->leg_ref);
    put_real_or_null(w, "mos", ok && q.mos >= 0, q.mos);
    const char *why = ok ? media_reason_name(q.reason) : NULL;
    jsonw_kstr(w, "mos_reason", why); /* NULL writes null */
    bool ow = ok && (q.flags & MEDIA_F_ONE_WAY), na = ok && (q.flags & MEDIA_F_NO_AUDIO);
    jsonw_kbool(w, "one_way", ow);
    jsonw_kbool(w, "no_audio", na);
    jsonw_kuint(w, "streams", ok ? q.streams : 0);
    jsonw_key(w, "endpoint_quality");
    calls_epq_write(w, l);
    if (ok && q.mos >= 0 && (worst->mos < 0 || q.mos < worst->mos)) {
        worst->mos = q.mos;
        worst->reason = q.reason;
    }
    worst->one_way |= ow;
    worst->no_audio |= na;
    jsonw_obj_end(w);
}

/* A call's fields (inside an open object); legs with their media quality
 * and the call's MOS (its worst leg's). */
static void put_call_fields(struct jsonw *w, const struct calls_call *c, const struct media *md)
{
    jsonw_kuint(w, "id", c->id);
    put_text_or_null(w, "site", c->site);
    put_time(w, "start", c->start_ns);
    put_text(w, "caller", c->caller);
    put_text(w, "callee", c->callee);
    put_text(w, "direction", calls_dir_name((enum calls_dir)c->direction));
    put_text(w, "outcome", calls_outcome_name((enum calls_outcome)c->outcome));
    jsonw_kstr(w, "failure_side",
               c->failure_side ? calls_side_name((enum calls_side)c->failure_side) : NULL);
    put_text_or_null(w, "failure_detail", c->failure_detail);
    jsonw_kbool(w, "no_ack", c->no_ack);
    put_int_or_null(w, "pdd_ms", c->pdd_ms >= 0, c->pdd_ms);
    jsonw_kreal(w, "duration_s", c->duration_s);
    jsonw_key(w, "legs");
    jsonw_arr_begin(w);
    struct call_worst worst = { .mos = -1 };
    for (unsigned i = 0; i < c->nlegs; i++)
        put_leg(w, &c->legs[i], md, &worst);
    jsonw_arr_end(w);
    put_real_or_null(w, "mos", worst.mos >= 0, worst.mos);
    jsonw_kstr(w, "mos_reason", media_reason_name(worst.reason));
    jsonw_kbool(w, "one_way", worst.one_way);
    jsonw_kbool(w, "no_audio", worst.no_audio);
}

static void put_rtcp(struct jsonw *w, const struct media_rtcp *r)
{
    jsonw_key(w, "rtcp");
    jsonw_obj_begin(w);
    jsonw_kint(w, "sr", r->sr);
    jsonw_kint(w, "rr", r->rr);
    jsonw_kint(w, "sdes", r->sdes);
    jsonw_kint(w, "bye", r->bye);
    jsonw_kint(w, "xr", r->xr);
    jsonw_kint(w, "app", r->app);
    jsonw_kint(w, "feedback", r->fb);
    jsonw_kbool(w, "srtcp", r->srtcp);
    put_text_or_null(w, "cname", r->cname);
    jsonw_kint(w, "report_blocks", r->blocks);
    put_real_or_null(w, "fraction_lost", r->blocks, r->fraction_lost);
    put_real_or_null(w, "fraction_lost_max", r->blocks, r->fraction_lost_max);
    put_int_or_null(w, "cumulative_lost", r->blocks != 0, r->cum_lost);
    put_opt(w, "jitter_ms", r->jitter_ms);
    jsonw_kint(w, "rtt_samples", r->rtt_n);
    put_real_or_null(w, "rtt_ms", r->rtt_n, r->rtt_ms);
    put_real_or_null(w, "rtt_max_ms", r->rtt_n, r->rtt_max_ms);
    jsonw_kbool(w, "xr_voip", r->xr_voip);
    put_opt(w, "xr_mos_lq", r->xr_mos_lq);
    put_opt(w, "xr_r_factor", r->xr_r_factor);
    jsonw_obj_end(w);
}

/* A stream's fields (inside an open object); call: its call's id, or 0. */
static void put_stream_fields(struct jsonw *w, const struct media_stream *s, uint64_t call)
{
    char b[80];
    jsonw_kuint(w, "id", s->id);
    put_text(w, "src", media_endpoint_str(&s->src, s->sport, b, sizeof b));
    put_text(w, "dst", media_endpoint_str(&s->dst, s->dport, b, sizeof b));
    static const char hex[] = "0123456789ABCDEF"; /* "0x%08X" */
    b[0] = '0';
    b[1] = 'x';
    for (int i = 0; i < 8; i++)
        b[2 + i] = hex[s->ssrc >> (28 - 4 * i) & 15];
    jsonw_key(w, "ssrc");
    jsonw_strn(w, b, 10);
    jsonw_kuint(w, "ssrc_num", s->ssrc);
    jsonw_kint(w, "payload_type", s->pt);
    jsonw_key(w, "payload_types");
    jsonw_arr_begin(w);
    for (unsigned pt = 0; pt < 128; pt++)
        if (s->pts_seen[pt >> 6] & (1ull << (pt & 63)))
            jsonw_int(w, pt);
    jsonw_arr_end(w);
    put_text_or_null(w, "codec", s->codec);
    put_int_or_null(w, "clock_rate", s->clock != 0, s->clock);
    jsonw_kuint(w, "packets", s->packets);
    jsonw_kuint(w, "bytes", s->bytes);
    jsonw_kint(w, "expected", s->expected);
    jsonw_kint(w, "lost", s->lost);
    jsonw_kreal(w, "lost_pct", s->lost_pct);
    jsonw_kint(w, "duplicates", s->duplicates);
    jsonw_kint(w, "out_of_order", s->out_of_order);
    jsonw_kint(w, "seq_resets", s->seq_resets);
    jsonw_kint(w, "seq_errors", s->seq_errors);
    jsonw_kint(w, "markers", s->markers);
    jsonw_kint(w, "comfort_noise", s->cn_packets);
    jsonw_kint(w, "jb_discarded", s->discarded);
    put_opt(w, "min_delta_ms", s->min_delta_ms);
    jsonw_kreal(w, "mean_delta_ms", s->mean_delta_ms);
    jsonw_kreal(w, "max_delta_ms", s->max_delta_ms);
    put_opt(w, "jitter_min_ms", s->min_jitter_ms);
    jsonw_kreal(w, "jitter_mean_ms", s->mean_jitter_ms);
    jsonw_kreal(w, "jitter_max_ms", s->max_jitter_ms);
    jsonw_kbool(w, "problem", s->problem);
    put_time(w, "first_ts", s->first_ns);
    put_time(w, "last_ts", s->last_ns);
    jsonw_kreal(w, "duration_s", (double)(s->last_ns - s->first_ns) / 1e9);
    put_opt(w, "mos", s->mos);
    jsonw_kstr(w, "mos_reason", media_reason_name(s->mos_reason));
    put_real_or_null(w, "r_factor", s->mos >= 0, s->r_factor);
    jsonw_kreal(w, "ppl_pct", s->ppl);
    jsonw_kreal(w, "burst_r", s->burst_r);
    put_real_or_null(w, "delay_ms", s->mos >= 0, s->delay_ms);
    jsonw_key(w, "flags");
    jsonw_obj_begin(w);
    for (unsigned i = 0; media_flag_name(i); i++)
        jsonw_kbool(w, media_flag_name(i), (s->flags & (1u << i)) != 0);
    jsonw_obj_end(w);
    jsonw_kbool(w, "signalled", s->signalled);
    put_int_or_null(w, "call", call != 0, (int64_t)call);
    put_int_or_null(w, "leg", s->leg_ref != 0, (int64_t)s->leg_ref);
    put_rtcp(w, &s->rtcp);
    jsonw_key(w, "events");
    jsonw_obj_begin(w);
    jsonw_kint(w, "count", s->dtmf_events);
    put_text(w, "digits", s->dtmf);
    jsonw_obj_end(w);
    jsonw_kuint(w, "srtp_decrypted", s->srtp_decrypted);
    jsonw_kuint(w, "srtp_auth_fail", s->srtp_auth_fail);
    jsonw_kuint(w, "srtp_not_tried", s->srtp_not_tried);
    jsonw_key(w, "series");
    jsonw_arr_begin(w);
    for (uint32_t i = 0; i < s->nseries; i++) {
        const struct media_series *p = &s->series[i];
        jsonw_obj_begin(w);
        jsonw_kint(w, "t", (int64_t)i * 5);
        jsonw_kint(w, "packets", p->packets);
        jsonw_kint(w, "lost", p->lost);
        jsonw_kreal(w, "jitter_ms", (double)p->jitter_ms);
        put_opt(w, "mos", (double)p->mos);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

/* KPI fields: ratios 0..1 (null without attempts), times in ms / s. */
static void put_kpi_fields(struct jsonw *w, const struct calls_kpi *k)
{
    jsonw_kuint(w, "attempts", k->attempts);
    jsonw_kuint(w, "answered", k->answered);
    jsonw_kuint(w, "busy", k->busy);
    jsonw_kuint(w, "rejected", k->rejected);
    jsonw_kuint(w, "cancelled", k->cancelled);
    jsonw_kuint(w, "failed", k->failed);
    jsonw_kuint(w, "timeouts", k->timeouts);
    put_opt(w, "asr", calls_kpi_asr(k));
    put_opt(w, "ner", calls_kpi_ner(k));
    put_opt(w, "ser", calls_kpi_ser(k));
    put_opt(w, "seer", calls_kpi_seer(k));
    put_opt(w, "isa", calls_kpi_isa(k));
    put_opt(w, "scr", calls_kpi_scr(k));
    jsonw_kuint(w, "no_ack", k->no_ack);
    put_opt(w, "acd_s", calls_kpi_acd_s(k));
    put_opt(w, "sdt_s", calls_kpi_acd_s(k));
    put_opt(w, "pdd_ms", calls_kpi_mean(k->srd_sum_ms, k->srd_n));
    put_opt(w, "srd_ms", calls_kpi_mean(k->srd_sum_ms, k->srd_n));
    put_opt(w, "pdd_answer_ms", calls_kpi_mean(k->ans_sum_ms, k->ans_n));
    put_opt(w, "sdd_ms", calls_kpi_mean(k->sdd_sum_ms, k->sdd_n));
}

/* Capacity planning (calls/capacity.h): bandwidths per direction. */
static void put_capacity(struct jsonw *w, const struct calls_trunk *t)
{
    struct capacity_result r;
    calls_trunk_capacity(t, &r);
    jsonw_key(w, "capacity");
    jsonw_obj_begin(w);
    if (r.bh_start_ns >= 0)
        put_time(w, "busy_hour_start", (uint64_t)r.bh_start_ns);
    else
        jsonw_knull(w, "busy_hour_start");
    jsonw_kreal(w, "window_s", r.window_s);
    jsonw_kuint(w, "busy_hour_attempts", r.bh_attempts);
    jsonw_kuint(w, "busy_hour_answered", r.bh_answered);
    jsonw_kreal(w, "erlangs", r.erlangs);
    jsonw_kreal(w, "bhca", r.bhca);
    put_opt(w, "mean_holding_s", r.mean_hold_s);
    jsonw_kint(w, "peak_concurrent", t->peak_concurrent);
    jsonw_kint(w, "channels_1pct", r.channels_1pct);
    jsonw_kint(w, "channels_01pct", r.channels_01pct);
    jsonw_kreal(w, "guide_kbps_per_call", CAPACITY_GUIDE_KBPS);
    jsonw_kreal(w, "guide_kbps_peak", CAPACITY_GUIDE_KBPS * t->peak_concurrent);
    jsonw_kreal(w, "guide_kbps_1pct", CAPACITY_GUIDE_KBPS * r.channels_1pct);
    jsonw_kreal(w, "guide_kbps_01pct", CAPACITY_GUIDE_KBPS * r.channels_01pct);
    jsonw_obj_end(w);
}

/* ---- TLS ---- */

static void put_cert(struct jsonw *w, const char *k, bool have, const struct x509_facts *f,
                     int64_t now_s)
{
    jsonw_key(w, k);
    if (!have) {
        jsonw_null(w);
        return;
    }
    int64_t days = x509_days_left(f, now_s);
    jsonw_obj_begin(w);
    put_text(w, "subject", f->subject);
    put_text(w, "issuer", f->issuer);
    put_text(w, "sans", f->sans);
    put_time(w, "not_before", f->not_before > 0 ? (uint64_t)f->not_before * 1000000000u : 0);
    put_time(w, "not_after", f->not_after > 0 ? (uint64_t)f->not_after * 1000000000u : 0);
    jsonw_kint(w, "days_left", days);
    jsonw_kbool(w, "expiring", days < TS_TLS_EXPIRY_WARN_DAYS);
    put_text(w, "key_type", f->key_type);
    jsonw_kuint(w, "key_bits", f->key_bits);
    put_text(w, "signature_algorithm", f->sig_alg);
    put_text(w, "serial", f->serial);
    jsonw_kbool(w, "self_signed", f->self_signed);
    jsonw_obj_end(w);
}

/* Connections ended by decryption verdict (with keys; {} without). */
static void put_decrypt_counts(struct jsonw *w, const uint32_t dec[TLSDEC_NSTATUS])
{
    jsonw_key(w, "decrypt");
    jsonw_obj_begin(w);
    for (int i = 0; i < TLSDEC_NSTATUS; i++)
        if (dec[i])
            jsonw_kuint(w, tlsdec_verdict_str((enum tlsdec_status)i), dec[i]);
    jsonw_obj_end(w);
}

/* One connection whose decryption ended: its addresses, handshake and
 * why it was or was not decrypted. */
static void put_tls_conn_fields(struct jsonw *w, const struct tlspeer_connrec *c)
{
    put_addr(w, "client", &c->client, c->cport);
    put_addr(w, "server", &c->server, c->sport);
    put_time(w, "first", c->first_ns);
    put_time(w, "last", c->last_ns);
    put_text_or_null(w, "version", tls_version_name(c->version));
    put_text_or_null(w, "suite_name", tls_suite_name(c->suite));
    put_text(w, "handshake", c->state == TLS_ST_ESTABLISHED ? "established"
                             : c->state == TLS_ST_FAILED    ? "failed"
                                                            : "incomplete");
    put_text(w, "decrypt", tlsdec_verdict_str(c->dec.verdict));
    jsonw_kuint(w, "decrypt_records", c->dec.records);
    jsonw_kuint(w, "decrypt_auth_failed", c->dec.auth_failed);
    jsonw_kuint(w, "decrypt_late", c->dec.late);
}

/* One peer pair's TLS status; days to expiry count from now_s (the time of
 * the report: the question is whether the trunk breaks soon). */
static void put_tls_peer_fields(struct jsonw *w, const struct tlspeer *p, int64_t now_s)
{
    char v[16];
    put_text(w, "status", tlspeers_status_str(p->status));
    put_addr(w, "client", &p->client, 0);
    put_addr(w, "server", &p->server, p->sport);
    put_text_or_null(w, "site", p->site);
    put_text_or_null(w, "version", tls_version_name(p->version));
    jsonw_key(w, "suite");
    if (p->suite) {
        snprintf(v, sizeof v, "0x%04x", p->suite);
        jsonw_str(w, v);
    } else {
        jsonw_null(w);
    }
    put_text_or_null(w, "suite_name", tls_suite_name(p->suite));
    put_text(w, "offered_versions", p->offered);
    put_text_or_null(w, "sni", p->sni);
    put_text_or_null(w, "alpn", p->alpn);
    jsonw_kbool(w, "mtls", tlspeers_mtls(p));
    jsonw_kbool(w, "client_cert_requested", p->cert_requested);
    jsonw_kuint(w, "connections", p->conns);
    jsonw_kuint(w, "established", p->established);
    jsonw_kuint(w, "failed", p->failed);
    jsonw_kuint(w, "resumed", p->resumed);
    jsonw_kuint(w, "alerts", p->alerts);
    jsonw_key(w, "last_alert");
    if (p->have_alert) {
        jsonw_obj_begin(w);
        put_text(w, "level", p->alert_level == 2 ? "fatal" : "warning");
        const char *d = tls_alert_name(p->alert_desc);
        snprintf(v, sizeof v, "%u", p->alert_desc);
        put_text(w, "description", d ? d : v);
        put_text(w, "from", p->alert_from_server ? "server" : "client");
        jsonw_obj_end(w);
    } else {
        jsonw_null(w);
    }
    put_time(w, "first", p->first_ns);
    put_time(w, "last", p->last_ns);
    put_time(w, "last_ok", p->last_ok_ns);
    put_time(w, "last_failure", p->last_fail_ns);
    jsonw_kuint(w, "chain_length", p->chain_len);
    put_cert(w, "certificate", p->have_cert[0], &p->cert[0], now_s);
    put_cert(w, "client_certificate", p->have_cert[1], &p->cert[1], now_s);
    int64_t days;
    jsonw_kbool(w, "expiry_warning",
                tlspeers_days_left(p, now_s, &days) && days < TS_TLS_EXPIRY_WARN_DAYS);
    put_decrypt_counts(w, p->dec);
}

/* ---- other flows (nDPI) ---- */

static void put_oflow(struct jsonw *w, const struct oflow_entry *x)
{
    jsonw_obj_begin(w);
    put_addr(w, "client", &x->client, 0);
    put_addr(w, "server", &x->server, 0);
    jsonw_kuint(w, "port", x->port);
    put_text(w, "transport", x->l4 == TS_L4_TCP ? "tcp" : "udp");
    put_text(w, "protocol", x->proto);
    put_text(w, "category", x->category);
    jsonw_kbool(w, "guessed", x->guessed);
    jsonw_kuint(w, "flows", x->flows);
    jsonw_kuint(w, "packets", x->packets);
    jsonw_kuint(w, "bytes", x->bytes);
    put_time(w, "first", x->first_ns);
    put_time(w, "last", x->last_ns);
    jsonw_obj_end(w);
}

/* The other flows that touch either address of a trunk (its link's). */
static void put_trunk_oflows(struct jsonw *w, const struct calls_trunk *t, const struct oflows *o)
{
    jsonw_key(w, "other_flows");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < oflows_count(o); i++) {
        const struct oflow_entry *x = oflows_get(o, i);
        if (ts_addr_eq(&x->client, &t->local) || ts_addr_eq(&x->client, &t->peer) ||
            ts_addr_eq(&x->server, &t->local) || ts_addr_eq(&x->server, &t->peer))
            put_oflow(w, x);
    }
    jsonw_arr_end(w);
}

static void put_tls_peer(struct jsonw *w, const struct tlspeer *p, int64_t now_s)
{
    jsonw_obj_begin(w);
    put_tls_peer_fields(w, p, now_s);
    jsonw_obj_end(w);
}

/* type_key: the key of the trunk's kind ("type"; a line has its own type).
 * e: the engine, for the TLS status and the other flows (NULL: none known). */
static void put_trunk_fields(struct jsonw *w, const struct calls_trunk *t, const char *type_key,
                             const struct engine *e)
{
    const struct tlspeers *tp = e ? engine_tlspeers(e) : NULL;
    jsonw_kint(w, "id", t->id);
    put_text(w, "name", t->name);
    put_text_or_null(w, "site", t->site);
    put_addr(w, "local", &t->local, 0);
    put_addr(w, "peer", &t->peer, 0);
    put_text(w, type_key, t->itsp ? "itsp" : "direct");
    put_kpi_fields(w, &t->all);
    int64_t p95 = calls_hist_p95(&t->srd_hist), a95 = calls_hist_p95(&t->ans_hist);
    put_int_or_null(w, "pdd_p95_ms", p95 >= 0, p95);
    put_int_or_null(w, "pdd_answer_p95_ms", a95 >= 0, a95);
    jsonw_kint(w, "peak_concurrent", t->peak_concurrent);
    put_time(w, "peak_time", t->peak_ns);
    jsonw_kreal(w, "peak_bandwidth_kbps", calls_trunk_peak_kbps(t));
    put_capacity(w, t);
    jsonw_key(w, "peak_concurrent_by_codec");
    jsonw_obj_begin(w);
    for (unsigned k = 0; k < CALLS_CODEC_N; k++)
        if (t->peak_codec[k])
            jsonw_kint(w, calls_codec_name((enum calls_codec)k), t->peak_codec[k]);
    jsonw_obj_end(w);
    jsonw_key(w, "codes");
    jsonw_obj_begin(w);
    for (unsigned i = 0; i < 600; i++) {
        if (!t->codes[i])
            continue;
        char k[8];
        snprintf(k, sizeof k, "%u", i + 100);
        jsonw_kint(w, k, t->codes[i]);
    }
    jsonw_obj_end(w);
    jsonw_key(w, "inbound");
    jsonw_obj_begin(w);
    put_kpi_fields(w, &t->dir[CALLS_DIR_INBOUND]);
    jsonw_obj_end(w);
    jsonw_key(w, "outbound");
    jsonw_obj_begin(w);
    put_kpi_fields(w, &t->dir[CALLS_DIR_OUTBOUND]);
    jsonw_obj_end(w);
    /* the TLS status between the trunk's two addresses (null: no TLS seen) */
    const struct tlspeer *tls = tlspeers_between(tp, &t->local, &t->peer);
    jsonw_key(w, "tls");
    if (tls)
        put_tls_peer(w, tls, (int64_t)time(NULL));
    else
        jsonw_null(w);
    put_trunk_oflows(w, t, e ? engine_oflows(e) : NULL);
    jsonw_key(w, "buckets");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < t->nbuckets; i++) {
        const struct calls_bucket *b = &t->buckets[i];
        jsonw_obj_begin(w);
        put_time(w, "start", b->start_ns);
        put_kpi_fields(w, &b->k);
        jsonw_kint(w, "peak_concurrent", b->peak_concurrent);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

/* The Lync trunk checklist of trunk i (alert/checklist.h), when made. */
static void put_checklist(struct jsonw *w, const struct report_input *in, size_t i)
{
    if (!in->checklist)
        return;
    struct cl_result r;
    checklist_trunk(in->checklist, engine_calls(in->engine), i, &r);
    jsonw_key(w, "checklist");
    checklist_json(w, &r, NULL, NULL);
}

static void put_reg_fields(struct jsonw *w, const struct calls_reg *r)
{
    put_addr(w, "client", &r->client, 0);
    put_addr(w, "server", &r->server, 0);
    put_text(w, "method", sip_method_name((enum sip_method)r->method));
    put_text(w, "aor", r->aor);
    jsonw_kuint(w, "attempts", r->attempts);
    jsonw_kuint(w, "successes", r->successes);
    jsonw_kuint(w, "challenges", r->challenges);
    jsonw_kuint(w, "failures", r->failures);
    jsonw_kuint(w, "timeouts", r->timeouts);
    put_opt(w, "response_ms_mean", calls_kpi_mean(r->rt_sum_ms, r->rt_n));
    put_int_or_null(w, "response_ms_max", r->rt_n != 0, r->rt_max_ms);
    put_int_or_null(w, "last_status", r->last_status != 0, r->last_status);
    put_time(w, "first", r->first_ns);
    put_time(w, "last", r->last_ns);
    put_time(w, "last_success", r->last_ok_ns);
}

/* ---- one record, as a line or an item of the document ---- */

/* Opens one record: with --json-lines, a line of its own (in *line) that
 * starts with its "type"; with --json, an object in item (a spool's writer
 * or the document's). Returns the writer to put its fields on. */
static struct jsonw *rec_begin(const struct report *r, struct jsonw *line, struct jsonw *item,
                               const char *type)
{
    if (r->form != REPORT_JSON_LINES) {
        jsonw_obj_begin(item);
        return item;
    }
    jsonw_init(line, r->out, false);
    jsonw_obj_begin(line);
    jsonw_kstr(line, "type", type);
    return line;
}

/* Closes rec_begin()'s record; false when a line could not be written. */
static bool rec_end(struct report *r, struct jsonw *w)
{
    jsonw_obj_end(w);
    if (r->form != REPORT_JSON_LINES || jsonw_end(w) == JSONW_OK)
        return true;
    r->nomem |= ferror(r->out) != 0;
    return false;
}

static void write_call(struct report *r, const struct calls_call *c)
{
    struct jsonw line;
    struct jsonw *w = rec_begin(r, &line, &r->wc, "call");
    put_call_fields(w, c, engine_media(r->e));
    if (r->form == REPORT_JSON_LINES && c->replaces)
        jsonw_kuint(w, "replaces", c->replaces);
    rec_end(r, w);
}

static void write_stream(struct report *r, const struct media_stream *s, uint64_t call)
{
    struct jsonw line;
    struct jsonw *w = rec_begin(r, &line, &r->ws, "stream");
    put_stream_fields(w, s, call);
    rec_end(r, w);
}

/* Trunk i at the end of the input (doc: the document's writer with --json);
 * its own kind is "type" in trunks[], "trunk_type" on a line. */
static void write_trunk(struct report *r, struct jsonw *doc, const struct report_input *in,
                        size_t i)
{
    struct jsonw line;
    struct jsonw *w = rec_begin(r, &line, doc, "trunk");
    put_trunk_fields(w, calls_trunk_get(engine_calls(in->engine), i),
                     r->form == REPORT_JSON_LINES ? "trunk_type" : "type", in->engine);
    put_checklist(w, in, i);
    rec_end(r, w);
}

static void write_registration(struct report *r, struct jsonw *doc, const struct calls_reg *reg)
{
    struct jsonw line;
    struct jsonw *w = rec_begin(r, &line, doc, "registration");
    put_reg_fields(w, reg);
    rec_end(r, w);
}

/* ---- the counters: dotted names as nested objects, in the order a name
 * first appears (what setting them one by one into a JSON tree gives) ---- */

/* Every counter, method and class, and the keys set after them. */
#define CT_NODES (TS_STAT_MAX + SIP_M_COUNT + 32)

struct ct_node {
    char name[32];
    int parent, first, last, next; /* -1: none */
    bool obj;
    int special; /* K_*: a key written by put_special() */
    uint64_t v;
};

struct ct {
    struct ct_node n[CT_NODES];
    int count;
};

/* Node 0 is the document itself. */
static void ct_init(struct ct *t)
{
    memset(&t->n[0], 0, sizeof t->n[0]);
    t->n[0].parent = t->n[0].first = t->n[0].last = t->n[0].next = -1;
    t->n[0].obj = true;
    t->count = 1;
}

static int ct_child(struct ct *t, int parent, const char *name, size_t len, bool obj)
{
    for (int i = t->n[parent].first; i >= 0; i = t->n[i].next)
        if (strlen(t->n[i].name) == len && !memcmp(t->n[i].name, name, len)) {
            if (obj && !t->n[i].obj) { /* a value becomes an object in place */
                t->n[i].obj = true;
                t->n[i].first = t->n[i].last = -1;
            }
            return i;
        }
    if (t->count >= CT_NODES || len >= sizeof t->n[0].name)
        return -1;
    int i = t->count++;
    struct ct_node *c = &t->n[i];
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    c->parent = parent;
    c->first = c->last = c->next = -1;
    c->obj = obj;
    c->special = 0;
    c->v = 0;
    struct ct_node *p = &t->n[parent];
    if (p->last >= 0)
        t->n[p->last].next = i;
    else
        p->first = i;
    p->last = i;
    return i;
}

/* Node of a dotted path ("a.b.c"); obj: the leaf is an object. */
static int ct_path(struct ct *t, const char *path, bool obj)
{
    int node = 0;
    const char *dot;
    while ((dot = strchr(path, '.')) != NULL) {
        node = ct_child(t, node, path, (size_t)(dot - path), true);
        if (node < 0)
            return -1;
        path = dot + 1;
    }
    return ct_child(t, node, path, strlen(path), obj);
}

static void ct_set(struct ct *t, const char *path, uint64_t v)
{
    int i = ct_path(t, path, false);
    if (i >= 0 && !t->n[i].obj)
        t->n[i].v = v;
}

/* Node i (just that one when one, else it and its next siblings). */
static void ct_put(struct jsonw *w, const struct ct *t, int i, bool one)
{
    for (; i >= 0; i = one ? -1 : t->n[i].next) {
        jsonw_key(w, t->n[i].name);
        if (!t->n[i].obj) {
            jsonw_uint(w, t->n[i].v);
            continue;
        }
        jsonw_obj_begin(w);
        ct_put(w, t, t->n[i].first, false);
        jsonw_obj_end(w);
    }
}

/* Keys set after the counters; one that a counter group already holds
 * ("calls": the calls.* counters) takes its place, as setting keys into a
 * JSON object one by one did. */
enum { K_LINK_TYPES = 1, K_INPUT_ERRORS, K_ELAPSED, K_STORE, K_CALLS, K_TRUNKS, K_REGS,
       K_STREAMS, K_TOPOLOGY, K_TLS_PEERS, K_OTHER_FLOWS, K_TLS_CONNS };

/* The learned topology: nodes (role, side, addresses, how learned, from how
 * many calls) and the trunks between them, each end tied to its node. */
static void put_topology(struct jsonw *w, const struct calls *c)
{
    struct calls_topo_node *nv = calloc(TS_TOPO_MAX_ADDRS, sizeof *nv);
    size_t n = nv ? calls_topo_nodes(c, nv, TS_TOPO_MAX_ADDRS) : 0;
    jsonw_obj_begin(w);
    jsonw_key(w, "nodes");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        const struct calls_topo_node *o = &nv[i];
        jsonw_obj_begin(w);
        jsonw_kuint(w, "id", o->id);
        put_text(w, "role", calls_role_name((enum calls_role)o->role));
        jsonw_kstr(w, "side", o->side ? calls_side_name((enum calls_side)o->side) : NULL);
        jsonw_key(w, "addresses");
        jsonw_arr_begin(w);
        for (unsigned k = 0; k < o->naddrs; k++) {
            char a[64];
            jsonw_str(w, ts_addr_str(&o->addrs[k], a, sizeof a));
        }
        jsonw_arr_end(w);
        jsonw_kbool(w, "b2bua", o->b2bua);
        put_text(w, "learned_from", calls_topo_how_name(o->how));
        jsonw_kuint(w, "calls", o->calls);
        jsonw_kreal(w, "confidence", (double)o->confidence);
        put_text_or_null(w, "user_agent", o->ua);
        put_text_or_null(w, "site", o->site);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_key(w, "trunks");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < calls_trunk_count(c); i++) {
        const struct calls_trunk *t = calls_trunk_get(c, i);
        uint32_t a = 0, b = 0;
        for (size_t j = 0; j < n; j++)
            for (unsigned k = 0; k < nv[j].naddrs; k++) {
                if (!a && !memcmp(&nv[j].addrs[k], &t->local, sizeof t->local))
                    a = nv[j].id;
                if (!b && !memcmp(&nv[j].addrs[k], &t->peer, sizeof t->peer))
                    b = nv[j].id;
            }
        jsonw_obj_begin(w);
        jsonw_kint(w, "id", t->id);
        put_text(w, "name", t->name);
        put_text(w, "type", t->itsp ? "itsp" : "direct");
        put_addr(w, "local", &t->local, 0);
        put_addr(w, "peer", &t->peer, 0);
        put_int_or_null(w, "local_node", a > 0, a);
        put_int_or_null(w, "peer_node", b > 0, b);
        put_kpi_fields(w, &t->all);
        jsonw_kuint(w, "peak_concurrent", t->peak_concurrent);
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    free(nv);
}

static void ct_special(struct ct *t, const char *name, int id)
{
    int i = ct_child(t, 0, name, strlen(name), false);
    if (i >= 0) {
        t->n[i].obj = false;
        t->n[i].special = id;
    }
}

static void put_special(struct jsonw *w, int id, const struct report_input *in,
                        struct report *r)
{
    const struct engine *e = in->engine;
    const struct calls *c = engine_calls(e);
    switch (id) {
    case K_LINK_TYPES: {
        int types[32];
        uint64_t counts[32];
        size_t n = engine_linktypes(e, types, counts, 32);
        jsonw_obj_begin(w);
        for (size_t i = 0; i < n; i++)
            jsonw_kuint(w, pcapin_linktype_name(types[i]), counts[i]);
        jsonw_obj_end(w);
        break;
    }
    case K_INPUT_ERRORS:
        jsonw_arr_begin(w);
        for (size_t i = 0; i < in->n_input_errors; i++)
            if (in->input_errors[i])
                jsonw_str(w, in->input_errors[i]);
        jsonw_arr_end(w);
        break;
    case K_ELAPSED:
        jsonw_real(w, in->elapsed_s);
        break;
    case K_STORE: {
        const struct st_stats *s = in->store;
        jsonw_obj_begin(w);
        jsonw_kuint(w, "queued", s->queued);
        jsonw_kuint(w, "written", s->written);
        jsonw_kuint(w, "dropped_queue_full", s->dropped_full);
        jsonw_kuint(w, "batches", s->batches);
        jsonw_kuint(w, "errors", s->errors);
        jsonw_kuint(w, "replaced_calls", s->replaced);
        jsonw_obj_end(w);
        break;
    }
    case K_CALLS:
        jsonw_arr_begin(w);
        jsonw_splice(w, r->spool_calls);
        jsonw_arr_end(w);
        break;
    case K_TRUNKS:
        jsonw_arr_begin(w);
        for (size_t i = 0; i < calls_trunk_count(c); i++)
            write_trunk(r, w, in, i);
        jsonw_arr_end(w);
        break;
    case K_OTHER_FLOWS: {
        const struct oflows *o = engine_oflows(e);
        jsonw_arr_begin(w);
        for (size_t i = 0; i < oflows_count(o); i++)
            put_oflow(w, oflows_get(o, i));
        jsonw_arr_end(w);
        break;
    }
    case K_TLS_PEERS: {
        const struct tlspeers *tp = engine_tlspeers(e);
        int64_t now = (int64_t)time(NULL);
        jsonw_arr_begin(w);
        for (size_t i = 0; i < tlspeers_count(tp); i++)
            put_tls_peer(w, tlspeers_get(tp, i), now);
        jsonw_arr_end(w);
        break;
    }
    case K_TLS_CONNS: {
        const struct tlspeers *tp = engine_tlspeers(e);
        jsonw_arr_begin(w);
        for (size_t i = 0; i < tlspeers_conn_count(tp); i++) {
            jsonw_obj_begin(w);
            put_tls_conn_fields(w, tlspeers_conn_get(tp, i));
            jsonw_obj_end(w);
        }
        jsonw_arr_end(w);
        break;
    }
    case K_REGS:
        jsonw_arr_begin(w);
        for (size_t i = 0; i < calls_reg_count(c); i++)
            write_registration(r, w, calls_reg_get(c, i));
        jsonw_arr_end(w);
        break;
    case K_TOPOLOGY:
        put_topology(w, c);
        break;
    case K_STREAMS:
        jsonw_arr_begin(w);
        jsonw_splice(w, r->spool_streams);
        jsonw_arr_end(w);
        break;
    }
}

/* Counters (every non-zero one by its dotted name, as nested objects; SIP
 * per method and class), link types, input errors, elapsed time, the
 * store's figures and, with r, the records: the document's fields (inside an
 * open object). */
static void put_document_fields(struct jsonw *w, const struct report_input *in, uint64_t early,
                                struct report *r)
{
    const struct engine *e = in->engine;
    const struct ts_stats *st = engine_stats(e);
    struct ct *t = calloc(1, sizeof *t);
    if (!t) {
        w->err = JSONW_EIO; /* out of memory: the report is not written */
        return;
    }
    ct_init(t);
    /* the documented keys are always present, zero or not */
    ct_set(t, "packets", st->v[TS_PACKETS]);
    ct_set(t, "sip.messages", st->v[TS_SIP_MESSAGES]);
    ct_set(t, "sip.call_ids", st->v[TS_SIP_CALL_IDS]);
    for (int i = 0; i < TS_STAT_MAX; i++)
        if (st->v[i])
            ct_set(t, ts_stat_name((enum ts_stat)i), st->v[i]);
    if (early)
        ct_set(t, "report.early", early);
    int methods = ct_path(t, "sip.methods", true);
    for (int m = 1; m < SIP_M_COUNT && methods >= 0; m++) {
        uint64_t n = engine_method_count(e, (enum sip_method)m);
        const char *name = sip_method_name((enum sip_method)m);
        int k = n ? ct_child(t, methods, name, strlen(name), false) : -1;
        if (k >= 0)
            t->n[k].v = n;
    }
    if (methods >= 0 && engine_method_count(e, SIP_M_UNKNOWN)) {
        int k = ct_child(t, methods, "other", 5, false);
        if (k >= 0)
            t->n[k].v = engine_method_count(e, SIP_M_UNKNOWN);
    }
    int classes = ct_path(t, "sip.responses_by_class", true);
    for (int c = 1; c <= 6 && classes >= 0; c++) {
        char k[4] = { (char)('0' + c), 'x', 'x', 0 };
        int i = ct_child(t, classes, k, 3, false);
        if (i >= 0)
            t->n[i].v = engine_status_class_count(e, c);
    }
    ct_special(t, "link_types", K_LINK_TYPES);
    ct_special(t, "input_errors", K_INPUT_ERRORS);
    ct_special(t, "elapsed_s", K_ELAPSED);
    if (in->store)
        ct_special(t, "store", K_STORE);
    if (r) {
        ct_special(t, "tls_peers", K_TLS_PEERS);
        if (tlspeers_conn_count(engine_tlspeers(e))) /* with keys */
            ct_special(t, "tls_connections", K_TLS_CONNS);
        ct_special(t, "other_flows", K_OTHER_FLOWS);
    }
    if (r && engine_calls(e)) {
        ct_special(t, "calls", K_CALLS);
        ct_special(t, "trunks", K_TRUNKS);
        ct_special(t, "registrations", K_REGS);
        ct_special(t, "topology", K_TOPOLOGY);
    }
    if (r)
        ct_special(t, "streams", K_STREAMS);
    for (int i = t->n[0].first; i >= 0; i = t->n[i].next) {
        if (!t->n[i].special) {
            ct_put(w, t, i, true);
            continue;
        }
        jsonw_key(w, t->n[i].name);
        put_special(w, t->n[i].special, in, r);
    }
    free(t);
}

void report_put_call(struct jsonw *w, const struct calls_call *c, const struct media *md)
{
    jsonw_obj_begin(w);
    put_call_fields(w, c, md);
    jsonw_obj_end(w);
}

void report_put_stream(struct jsonw *w, const struct media_stream *s, uint64_t call)
{
    jsonw_obj_begin(w);
    put_stream_fields(w, s, call);
    jsonw_obj_end(w);
}

void report_put_trunk(struct jsonw *w, const struct calls_trunk *t)
{
    jsonw_obj_begin(w);
    put_trunk_fields(w, t, "type", NULL);
    jsonw_obj_end(w);
}

void report_put_registration(struct jsonw *w, const struct calls_reg *r)
{
    jsonw_obj_begin(w);
    put_reg_fields(w, r);
    jsonw_obj_end(w);
}

/* ---- writing records as they become final ---- */

/* A call is final once none of its legs has a live stream (their MOS and
 * stream counts are known) and REPORT_HOLD_NS of capture time passed since
 * it ended: RTP that starts late still finds its leg through the SDP
 * endpoint (the media layer keeps those for an hour), and an SBC learned
 * meanwhile still reclassifies it. */
static bool call_final(const struct report *r, const struct rp_call *p)
{
    if (r->now_ns < p->emitted_ns + REPORT_HOLD_NS)
        return false;
    const struct media *md = engine_media(r->e);
    for (unsigned i = 0; i < p->c.nlegs; i++)
        if (media_leg_active(md, p->legs[i].leg_ref))
            return false;
    return true;
}

/* A stream's call id (0: none); false while its call may still come. */
static bool stream_call(const struct report *r, const struct media_stream *s, uint64_t *call)
{
    *call = 0;
    if (!engine_calls(r->e)) { /* no call tracker: the media layer's own ref */
        *call = s->call_ref;
        return true;
    }
    return !s->leg_ref || leg_find(r, s->leg_ref, call);
}

/* Writes what is final, oldest first, keeping the order; force: everything
 * (end of input, or a queue at its limit: its oldest record). */
static void pump(struct report *r, bool force)
{
    while (r->ch && (force || call_final(r, r->ch) ||
                     r->ncalls > TS_REPORT_MAX_PENDING_CALLS)) {
        struct rp_call *p = r->ch;
        if (!force && !call_final(r, p))
            r->early++;
        const struct calls *cs = engine_calls(r->e);
        if (cs)
            calls_classify(cs, &p->c); /* with the SBC addresses learned since it ended */
        write_call(r, &p->c);
        r->ch = p->next;
        if (!r->ch)
            r->ct = &r->ch;
        r->ncalls--;
        free(p);
    }
    while (r->sh) {
        struct rp_stream *p = r->sh;
        uint64_t call = 0;
        bool known = stream_call(r, &p->s, &call);
        if (!known && !force && r->nstreams <= TS_REPORT_MAX_PENDING_STREAMS)
            break;
        if (!known && !force)
            r->early++;
        write_stream(r, &p->s, call);
        r->sh = p->next;
        if (!r->sh)
            r->st = &r->sh;
        r->nstreams--;
        free(p->s.series);
        free(p);
    }
}

/* A call joined with one emitted apart (calls/relink.c: c->id keeps the
 * earlier part's id, c->replaces is the other's): the parts still waiting
 * are not written; parts written already stay, and a JSON line of the
 * joined call says which call it replaces. */
static void drop_parts(struct report *r, const struct calls_call *c)
{
    for (struct rp_call **pp = &r->ch; *pp;) {
        struct rp_call *p = *pp;
        if (p->c.id != c->id && p->c.id != c->replaces) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        if (r->ct == &p->next)
            r->ct = pp;
        r->ncalls--;
        free(p);
    }
}

void report_call(void *ctx, const struct calls_call *c)
{
    struct report *r = ctx;
    if (c->replaces)
        drop_parts(r, c);
    struct rp_call *p = malloc(sizeof *p + (size_t)c->nlegs * sizeof p->legs[0]);
    if (!p) {
        r->nomem = true;
        return;
    }
    p->next = NULL;
    /* The hold runs from the call's last event, not from the batch's first
     * frame: a batch can span a long silence (report_tick), and a part held
     * from before it would be written before a relay learned meanwhile
     * joins it. */
    p->emitted_ns = r->now_ns;
    for (unsigned i = 0; i < c->nlegs; i++) {
        const struct calls_leg *l = &c->legs[i];
        uint64_t t[] = { l->invite_ns, l->answer_ns, l->end_ns, l->bye_ok_ns, l->err_ns };
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
            if (t[k] > p->emitted_ns)
                p->emitted_ns = t[k];
    }
    p->c = *c;
    memcpy(p->legs, c->legs, (size_t)c->nlegs * sizeof p->legs[0]);
    p->c.legs = p->legs;
    for (unsigned i = 0; i < c->nlegs; i++)
        leg_put(r, c->legs[i].leg_ref, c->id);
    *r->ct = p;
    r->ct = &p->next;
    r->ncalls++;
    pump(r, false);

}

void report_stream(void *ctx, const struct media_stream *s)
{
    struct report *r = ctx;
    struct rp_stream *p = malloc(sizeof *p);
    if (!p) {
        r->nomem = true;
        return;
    }
    p->next = NULL;
    p->s = *s;
    p->s.series = NULL;
    if (s->nseries) {
        p->s.series = malloc((size_t)s->nseries * sizeof *s->series);
        if (!p->s.series) {
            free(p);
            r->nomem = true;
            return;
        }
        memcpy(p->s.series, s->series, (size_t)s->nseries * sizeof *s->series);
    }
    *r->st = p;
    r->st = &p->next;
    r->nstreams++;
    pump(r, false);

}

void report_tick(struct report *r, uint64_t now_ns)
{
    if (now_ns <= r->now_ns)
        return;
    r->now_ns = now_ns;
    pump(r, false);
}

/* An unlinked file for a spool: nothing is left behind, even on a crash. */
static FILE *spool_open(char *err, size_t errcap)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/trunkscope-report-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errcap, "cannot create a spool file in %s: %s (set TMPDIR)",
                 dir && dir[0] ? dir : "/tmp", strerror(errno));
        return NULL;
    }
    unlink(path);
    FILE *f = fdopen(fd, "w+");
    if (!f) {
        close(fd);
        snprintf(err, errcap, "out of memory");
    }
    return f;
}

static struct report *report_alloc(FILE *out, enum report_form form, const struct engine *e,
                                   size_t leg_cap)
{
    struct report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->out = out;
    r->form = form;
    r->e = e;
    r->ct = &r->ch;
    r->st = &r->sh;
    r->cap = 1;
    while (r->cap < leg_cap)
        r->cap <<= 1;
    r->legs = malloc(r->cap * sizeof *r->legs);
    r->bucket = malloc(r->cap * sizeof *r->bucket);
    if (!r->legs || !r->bucket) {
        report_free(r);
        return NULL;
    }
    memset(r->bucket, 0xff, r->cap * sizeof *r->bucket);
    return r;
}

struct report *report_new(FILE *out, enum report_form form, const struct engine *e, char *err,
                          size_t errcap)
{
    struct report *r = report_alloc(out, form, e, TS_REPORT_LEG_MAP);
    if (!r) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    if (form == REPORT_JSON) {
        r->spool_calls = spool_open(err, errcap);
        r->spool_streams = r->spool_calls ? spool_open(err, errcap) : NULL;
        if (!r->spool_streams) {
            report_free(r);
            return NULL;
        }
        /* items of root.calls[] and root.streams[] */
        jsonw_init_at(&r->wc, r->spool_calls, true, 2);
        jsonw_init_at(&r->ws, r->spool_streams, true, 2);
    }
    return r;
}

int report_finish(struct report *r, const struct report_input *in)
{
    pump(r, true);
    const struct calls *c = engine_calls(in->engine);
    struct jsonw w;
    if (r->form == REPORT_JSON_LINES) {
        for (size_t i = 0; c && i < calls_trunk_count(c); i++)
            write_trunk(r, NULL, in, i);
        for (size_t i = 0; c && i < calls_reg_count(c); i++)
            write_registration(r, NULL, calls_reg_get(c, i));
        const struct tlspeers *tp = engine_tlspeers(in->engine);
        for (size_t i = 0; i < tlspeers_conn_count(tp); i++) {
            struct jsonw *tw = rec_begin(r, &w, NULL, "tls_connection");
            put_tls_conn_fields(tw, tlspeers_conn_get(tp, i));
            rec_end(r, tw);
        }
        struct jsonw *sw = rec_begin(r, &w, NULL, "summary");
        put_document_fields(sw, in, r->early, NULL);
        bool ok = rec_end(r, sw);
        return ok && fflush(r->out) == 0 && !ferror(r->out) && !r->nomem ? 0 : -1;
    }
    jsonw_flush(&r->wc);
    jsonw_flush(&r->ws);
    bool spool_ok = r->wc.err == JSONW_OK && r->ws.err == JSONW_OK;
    jsonw_init(&w, r->out, true);
    jsonw_obj_begin(&w);
    put_document_fields(&w, in, r->early, r);
    jsonw_obj_end(&w);
    return jsonw_finish(&w) == JSONW_OK && spool_ok && !r->nomem ? 0 : -1;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    while (r->ch) {
        struct rp_call *p = r->ch;
        r->ch = p->next;
        free(p);
    }
    while (r->sh) {
        struct rp_stream *p = r->sh;
        r->sh = p->next;
        free(p->s.series);
        free(p);
    }
    if (r->spool_calls)
        fclose(r->spool_calls);
    if (r->spool_streams)
        fclose(r->spool_streams);
    free(r->legs);
    free(r->bucket);
    free(r);
}

int report_write_kept(FILE *out, const struct report_input *in)
{
    const struct calls *c = engine_calls(in->engine);
    const struct media *md = engine_media(in->engine);
    size_t legs = 0;
    for (size_t i = 0; c && i < calls_count(c); i++)
        legs += calls_get(c, i)->nlegs;
    struct report *r = report_alloc(out, REPORT_JSON, in->engine, legs + 1);
    char err[256];
    if (!r)
        return -1;
    r->spool_calls = spool_open(err, sizeof err);
    r->spool_streams = r->spool_calls ? spool_open(err, sizeof err) : NULL;
    if (!r->spool_streams) {
        report_free(r);
        return -1;
    }
    jsonw_init_at(&r->wc, r->spool_calls, true, 2);
    jsonw_init_at(&r->ws, r->spool_streams, true, 2);
    /* kept records are final: written straight, streams after every call
     * so that each finds its call */
    for (size_t i = 0; c && i < calls_count(c); i++) {
        const struct calls_call *k = calls_get(c, i);
        for (unsigned l = 0; l < k->nlegs; l++)
            leg_put(r, k->legs[l].leg_ref, k->id);
        write_call(r, k);
    }
    for (size_t i = 0; i < media_count(md); i++) {
        const struct media_stream *s = media_get(md, i);
        uint64_t call;
        (void)stream_call(r, s, &call);
        write_stream(r, s, call);
    }
    int rc = report_finish(r, in);
    report_free(r);
    return rc;
}
