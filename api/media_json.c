/* JSON view of the media analysis: one object per finished RTP stream with
 * its RTP/RTCP statistics, E-model quality, detections, DTMF events and the
 * 5-second series. Wire text (codec, CNAME) is stored as printable ASCII. */
#include <stdio.h>
#include <string.h>

#include "../calls/calls.h"
#include "../media/media.h"
#include "json_int.h"

static json_t *mstr(const char *s)
{
    json_t *v = json_string(s ? s : "");
    return v ? v : json_string("");
}

static json_t *mtime(uint64_t ns)
{
    char b[40];
    return ns ? mstr(calls_iso_time(ns, b, sizeof b)) : json_null();
}

/* Non-negative value, else null ("unknown"). */
static json_t *mopt(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static json_t *mref(uint64_t ref)
{
    return ref ? json_integer((json_int_t)ref) : json_null();
}

static json_t *rtcp_json(const struct media_rtcp *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "sr", json_integer(r->sr));
    json_object_set_new(o, "rr", json_integer(r->rr));
    json_object_set_new(o, "sdes", json_integer(r->sdes));
    json_object_set_new(o, "bye", json_integer(r->bye));
    json_object_set_new(o, "xr", json_integer(r->xr));
    json_object_set_new(o, "app", json_integer(r->app));
    json_object_set_new(o, "feedback", json_integer(r->fb));
    json_object_set_new(o, "srtcp", json_boolean(r->srtcp));
    json_object_set_new(o, "cname", r->cname[0] ? mstr(r->cname) : json_null());
    json_object_set_new(o, "report_blocks", json_integer(r->blocks));
    json_object_set_new(o, "fraction_lost", r->blocks ? json_real(r->fraction_lost) : json_null());
    json_object_set_new(o, "fraction_lost_max",
                        r->blocks ? json_real(r->fraction_lost_max) : json_null());
    json_object_set_new(o, "cumulative_lost", r->blocks ? json_integer(r->cum_lost) : json_null());
    json_object_set_new(o, "jitter_ms", mopt(r->jitter_ms));
    json_object_set_new(o, "rtt_samples", json_integer(r->rtt_n));
    json_object_set_new(o, "rtt_ms", r->rtt_n ? json_real(r->rtt_ms) : json_null());
    json_object_set_new(o, "rtt_max_ms", r->rtt_n ? json_real(r->rtt_max_ms) : json_null());
    json_object_set_new(o, "xr_voip", json_boolean(r->xr_voip));
    json_object_set_new(o, "xr_mos_lq", mopt(r->xr_mos_lq));
    json_object_set_new(o, "xr_r_factor", mopt(r->xr_r_factor));
    return o;
}

static json_t *stream_json(const struct media_stream *s)
{
    char b[80];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)s->id));
    json_object_set_new(o, "src", mstr(media_endpoint_str(&s->src, s->sport, b, sizeof b)));
    json_object_set_new(o, "dst", mstr(media_endpoint_str(&s->dst, s->dport, b, sizeof b)));
    snprintf(b, sizeof b, "0x%08X", s->ssrc);
    json_object_set_new(o, "ssrc", mstr(b));
    json_object_set_new(o, "ssrc_num", json_integer(s->ssrc));
    json_object_set_new(o, "payload_type", json_integer(s->pt));
    json_t *pts = json_array();
    for (unsigned pt = 0; pt < 128; pt++)
        if (s->pts_seen[pt >> 6] & (1ull << (pt & 63)))
            json_array_append_new(pts, json_integer(pt));
    json_object_set_new(o, "payload_types", pts);
    json_object_set_new(o, "codec", s->codec[0] ? mstr(s->codec) : json_null());
    json_object_set_new(o, "clock_rate", s->clock ? json_integer(s->clock) : json_null());
    json_object_set_new(o, "packets", json_integer((json_int_t)s->packets));
    json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
    json_object_set_new(o, "expected", json_integer(s->expected));
    json_object_set_new(o, "lost", json_integer(s->lost));
    json_object_set_new(o, "lost_pct", json_real(s->lost_pct));
    json_object_set_new(o, "duplicates", json_integer(s->duplicates));
    json_object_set_new(o, "out_of_order", json_integer(s->out_of_order));
    json_object_set_new(o, "seq_resets", json_integer(s->seq_resets));
    json_object_set_new(o, "seq_errors", json_integer(s->seq_errors));
    json_object_set_new(o, "markers", json_integer(s->markers));
    json_object_set_new(o, "comfort_noise", json_integer(s->cn_packets));
    json_object_set_new(o, "jb_discarded", json_integer(s->discarded));
    json_object_set_new(o, "min_delta_ms", mopt(s->min_delta_ms));
    json_object_set_new(o, "mean_delta_ms", json_real(s->mean_delta_ms));
    json_object_set_new(o, "max_delta_ms", json_real(s->max_delta_ms));
    json_object_set_new(o, "jitter_min_ms", mopt(s->min_jitter_ms));
    json_object_set_new(o, "jitter_mean_ms", json_real(s->mean_jitter_ms));
    json_object_set_new(o, "jitter_max_ms", json_real(s->max_jitter_ms));
    json_object_set_new(o, "problem", json_boolean(s->problem));
    json_object_set_new(o, "first_ts", mtime(s->first_ns));
    json_object_set_new(o, "last_ts", mtime(s->last_ns));
    json_object_set_new(o, "duration_s", json_real((double)(s->last_ns - s->first_ns) / 1e9));
    json_object_set_new(o, "mos", mopt(s->mos));
    json_object_set_new(o, "r_factor", s->mos >= 0 ? json_real(s->r_factor) : json_null());
    json_object_set_new(o, "ppl_pct", json_real(s->ppl));
    json_object_set_new(o, "burst_r", json_real(s->burst_r));
    json_object_set_new(o, "delay_ms", s->mos >= 0 ? json_real(s->delay_ms) : json_null());
    json_t *fl = json_object();
    for (unsigned i = 0; media_flag_name(i); i++)
        json_object_set_new(fl, media_flag_name(i), json_boolean(s->flags & (1u << i)));
    json_object_set_new(o, "flags", fl);
    json_object_set_new(o, "signalled", json_boolean(s->signalled));
    json_object_set_new(o, "call", mref(s->call_ref));
    json_object_set_new(o, "leg", mref(s->leg_ref));
    json_object_set_new(o, "rtcp", rtcp_json(&s->rtcp));
    json_t *ev = json_object();
    json_object_set_new(ev, "count", json_integer(s->dtmf_events));
    json_object_set_new(ev, "digits", mstr(s->dtmf));
    json_object_set_new(o, "events", ev);
    json_t *se = json_array();
    for (uint32_t i = 0; i < s->nseries; i++) {
        const struct media_series *p = &s->series[i];
        json_t *po = json_object();
        json_object_set_new(po, "t", json_integer((json_int_t)i * 5));
        json_object_set_new(po, "packets", json_integer(p->packets));
        json_object_set_new(po, "lost", json_integer(p->lost));
        json_object_set_new(po, "jitter_ms", json_real(p->jitter_ms));
        json_object_set_new(po, "mos", mopt(p->mos));
        json_array_append_new(se, po);
    }
    json_object_set_new(o, "series", se);
    return o;
}

json_t *media_json_streams(const struct media *m)
{
    json_t *a = json_array();
    if (!a)
        return json_array();
    if (!m)
        return a;
    for (size_t i = 0; i < media_count(m); i++)
        json_array_append_new(a, stream_json(media_get(m, i)));
    return a;
}
