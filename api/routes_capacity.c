/* The capacity section of a trunk (GET /api/v1/trunks/{id}): busy hour,
 * Erlangs, BHCA and Erlang B channels from the stored per-minute counts
 * (calls/capacity.c), the planning guide's bandwidth for them, and the
 * Layer-2 rate measured per codec from the trunk's stored RTP streams. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../calls/calls.h"
#include "../calls/capacity.h"
#include "../store/query.h"
#include "../store/store.h"
#include "api_int.h"

static double cell_num(const struct stq_cell *c)
{
    return c->type == STQ_INT ? (double)c->i : c->type == STQ_REAL ? c->d : 0.0;
}

static uint64_t cell_count(const struct stq_cell *c)
{
    double v = cell_num(c);
    return v > 0 && v < 1e18 ? (uint64_t)v : 0;
}

static int minute_row(void *ctx, const struct stq_cell *c, size_t n)
{
    if (n >= 4 && c[0].type == STQ_INT)
        capacity_add(ctx, c[0].i, cell_count(&c[1]), cell_count(&c[2]), cell_num(&c[3]));
    return 0;
}

/* per codec: duration-weighted Layer-2 rate over both address families */
struct rate_acc {
    json_t *arr;
};

static double model_kbps(const char *name)
{
    if (strcasecmp(name, "G729") == 0)
        return calls_codec_kbps(CALLS_CODEC_G729);
    if (strcasecmp(name, "opus") == 0)
        return calls_codec_kbps(CALLS_CODEC_OPUS);
    return calls_codec_kbps(CALLS_CODEC_G711);
}

static int rate_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct rate_acc *r = ctx;
    if (n < 6 || c[0].type != STQ_TEXT)
        return 0;
    double dur = cell_num(&c[5]);
    double kbps = capacity_l2_kbps(cell_count(&c[3]), cell_count(&c[4]), dur, c[1].i != 0);
    if (kbps < 0)
        return 0;
    /* rows of one codec (IPv4 and IPv6) merge by duration weight */
    size_t i;
    json_t *o;
    json_array_foreach(r->arr, i, o)
    {
        const char *nm = json_string_value(json_object_get(o, "codec"));
        if (nm && strlen(nm) == c[0].len && memcmp(nm, c[0].s, c[0].len) == 0) {
            double d0 = json_real_value(json_object_get(o, "duration_s"));
            double k0 = json_real_value(json_object_get(o, "l2_kbps"));
            json_int_t s0 = json_integer_value(json_object_get(o, "streams"));
            json_object_set_new(o, "l2_kbps", json_real((k0 * d0 + kbps * dur) / (d0 + dur)));
            json_object_set_new(o, "duration_s", json_real(d0 + dur));
            json_object_set_new(o, "streams", json_integer(s0 + (json_int_t)cell_count(&c[2])));
            return 0;
        }
    }
    o = json_object();
    json_object_set_new(o, "codec", api_jtext(c[0].s, c[0].len));
    json_object_set_new(o, "streams", json_integer((json_int_t)cell_count(&c[2])));
    json_object_set_new(o, "duration_s", json_real(dur));
    json_object_set_new(o, "l2_kbps", json_real(kbps));
    const char *nm = json_string_value(json_object_get(o, "codec"));
    json_object_set_new(o, "model_kbps", json_real(model_kbps(nm ? nm : "")));
    json_array_append_new(r->arr, o);
    return 0;
}

static json_t *iso_time(int64_t ns)
{
    if (ns < 0)
        return json_null();
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    char b[40];
    if (!gmtime_r(&s, &tm) || !strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm))
        return json_null();
    char o[48];
    snprintf(o, sizeof o, "%s.%03dZ", b, (int)(ns / 1000000 % 1000));
    return json_string(o);
}

int api_trunk_capacity(struct stq *q, int64_t id, int64_t peak, json_t **out)
{
    struct capacity cap;
    capacity_init(&cap);
    int rc = stq_trunk_minutes(q, id, minute_row, &cap);
    struct rate_acc ra = { json_array() };
    if (rc == ST_OK)
        rc = stq_trunk_media_rates(q, id, rate_row, &ra);
    if (rc != ST_OK) {
        json_decref(ra.arr);
        return rc;
    }
    struct capacity_result r;
    capacity_finish(&cap, &r);
    double pk = peak > 0 ? (double)peak : 0;
    json_t *o = json_object();
    json_object_set_new(o, "busy_hour_start", iso_time(r.bh_start_ns));
    json_object_set_new(o, "window_s", json_real(r.window_s));
    json_object_set_new(o, "busy_hour_attempts", json_integer((json_int_t)r.bh_attempts));
    json_object_set_new(o, "busy_hour_answered", json_integer((json_int_t)r.bh_answered));
    json_object_set_new(o, "erlangs", json_real(r.erlangs));
    json_object_set_new(o, "bhca", json_real(r.bhca));
    json_object_set_new(o, "mean_holding_s",
                        r.mean_hold_s >= 0 ? json_real(r.mean_hold_s) : json_null());
    json_object_set_new(o, "peak_concurrent", json_integer((json_int_t)pk));
    json_object_set_new(o, "channels_1pct", json_integer(r.channels_1pct));
    json_object_set_new(o, "channels_01pct", json_integer(r.channels_01pct));
    json_object_set_new(o, "guide_kbps_per_call", json_real(CAPACITY_GUIDE_KBPS));
    json_object_set_new(o, "guide_kbps_peak", json_real(CAPACITY_GUIDE_KBPS * pk));
    json_object_set_new(o, "guide_kbps_1pct", json_real(CAPACITY_GUIDE_KBPS * r.channels_1pct));
    json_object_set_new(o, "guide_kbps_01pct", json_real(CAPACITY_GUIDE_KBPS * r.channels_01pct));
    json_object_set_new(o, "measured", ra.arr);
    *out = o;
    return ST_OK;
}
