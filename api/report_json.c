/* Builds the analyze report with jansson: every non-zero counter by its
 * dotted name as nested objects, SIP per method and class, link types, and
 * the calls/trunks/registrations of the call tracker. */
#include "report.h"

#include <string.h>

#include "../capture/pcapin.h"
#include "../calls/calls.h"
#include "../engine/engine.h"
#include "../media/media.h"
#include "../store/store.h"
#include "json_int.h"

/* Set obj["a"]["b"]["c"] = v for the dotted path "a.b.c". */
static void set_path(json_t *obj, const char *path, json_t *v)
{
    char key[64];
    const char *dot;
    while ((dot = strchr(path, '.')) != NULL) {
        size_t n = (size_t)(dot - path);
        if (n >= sizeof key)
            n = sizeof key - 1;
        memcpy(key, path, n);
        key[n] = '\0';
        json_t *child = json_object_get(obj, key);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(obj, key, child);
        }
        obj = child;
        path = dot + 1;
    }
    json_object_set_new(obj, path, v);
}

static json_t *mos_or_null(const struct media_quality *q, bool ok)
{
    return ok && q->mos >= 0 ? json_real(q->mos) : json_null();
}

/* Streams know their leg (leg_ref); calls know their legs. Give each stream
 * its call id, each leg its MOS (worst direction) and each call its MOS
 * (worst leg). calls_json_calls() lists calls in calls_get() order. */
static void join_media(json_t *calls, json_t *streams, const struct calls *c,
                       const struct media *md)
{
    size_t n = calls_count(c), si;
    json_t *js;
    /* the engine passes the leg as call ref; the real call id comes below,
     * and a stream whose leg is not among the reported calls has none */
    json_array_foreach(streams, si, js)
        json_object_set_new(js, "call", json_null());
    for (size_t i = 0; i < n && i < json_array_size(calls); i++) {
        const struct calls_call *k = calls_get(c, i);
        json_t *jc = json_array_get(calls, i);
        json_t *jlegs = json_object_get(jc, "legs");
        double worst = -1;
        for (unsigned l = 0; l < k->nlegs; l++) {
            struct media_quality q;
            bool ok = media_leg_quality(md, k->legs[l].leg_ref, &q);
            json_t *jl = json_array_get(jlegs, l);
            if (jl) {
                json_object_set_new(jl, "leg_ref", json_integer((json_int_t)k->legs[l].leg_ref));
                json_object_set_new(jl, "mos", mos_or_null(&q, ok));
                json_object_set_new(jl, "streams", json_integer(ok ? (json_int_t)q.streams : 0));
            }
            if (ok && q.mos >= 0 && (worst < 0 || q.mos < worst))
                worst = q.mos;
        }
        json_object_set_new(jc, "mos", worst >= 0 ? json_real(worst) : json_null());
        /* streams of these legs belong to this call */
        json_array_foreach(streams, si, js) {
            json_t *leg = json_object_get(js, "leg");
            if (!json_is_integer(leg))
                continue;
            for (unsigned l = 0; l < k->nlegs; l++)
                if ((uint64_t)json_integer_value(leg) == k->legs[l].leg_ref)
                    json_object_set_new(js, "call", json_integer((json_int_t)k->id));
        }
    }
}

static json_t *build(const struct report_input *in)
{
    const struct engine *e = in->engine;
    const struct ts_stats *st = engine_stats(e);
    json_t *root = json_object();
    /* the documented keys are always present, zero or not */
    set_path(root, "packets", json_integer((json_int_t)st->v[TS_PACKETS]));
    set_path(root, "sip.messages", json_integer((json_int_t)st->v[TS_SIP_MESSAGES]));
    set_path(root, "sip.call_ids", json_integer((json_int_t)st->v[TS_SIP_CALL_IDS]));
    for (int i = 0; i < TS_STAT_MAX; i++)
        if (st->v[i])
            set_path(root, ts_stat_name((enum ts_stat)i), json_integer((json_int_t)st->v[i]));

    json_t *methods = json_object();
    for (int m = 1; m < SIP_M_COUNT; m++) {
        uint64_t n = engine_method_count(e, (enum sip_method)m);
        if (n)
            json_object_set_new(methods, sip_method_name((enum sip_method)m), json_integer((json_int_t)n));
    }
    if (engine_method_count(e, SIP_M_UNKNOWN))
        json_object_set_new(methods, "other",
                            json_integer((json_int_t)engine_method_count(e, SIP_M_UNKNOWN)));
    set_path(root, "sip.methods", methods);
    json_t *classes = json_object();
    for (int c = 1; c <= 6; c++) {
        char k[4] = { (char)('0' + c), 'x', 'x', 0 };
        json_object_set_new(classes, k, json_integer((json_int_t)engine_status_class_count(e, c)));
    }
    set_path(root, "sip.responses_by_class", classes);

    int types[32];
    uint64_t counts[32];
    size_t n = engine_linktypes(e, types, counts, 32);
    json_t *lt = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(lt, pcapin_linktype_name(types[i]), json_integer((json_int_t)counts[i]));
    json_object_set_new(root, "link_types", lt);

    json_t *errs = json_array();
    for (size_t i = 0; i < in->n_input_errors; i++)
        json_array_append_new(errs, json_string(in->input_errors[i]));
    json_object_set_new(root, "input_errors", errs);
    json_object_set_new(root, "elapsed_s", json_real(in->elapsed_s));
    if (in->store) {
        const struct st_stats *s = in->store;
        json_t *so = json_object();
        json_object_set_new(so, "queued", json_integer((json_int_t)s->queued));
        json_object_set_new(so, "written", json_integer((json_int_t)s->written));
        json_object_set_new(so, "dropped_queue_full", json_integer((json_int_t)s->dropped_full));
        json_object_set_new(so, "batches", json_integer((json_int_t)s->batches));
        json_object_set_new(so, "errors", json_integer((json_int_t)s->errors));
        json_object_set_new(so, "replaced_calls", json_integer((json_int_t)s->replaced));
        json_object_set_new(root, "store", so);
    }

    const struct calls *c = engine_calls(e);
    const struct media *md = engine_media(e);
    json_t *streams = media_json_streams(md);
    if (c) {
        json_t *calls = calls_json_calls(c);
        join_media(calls, streams, c, md);
        json_object_set_new(root, "calls", calls);
        json_object_set_new(root, "trunks", calls_json_trunks(c));
        json_object_set_new(root, "registrations", calls_json_registrations(c));
    }
    json_object_set_new(root, "streams", streams);
    return root;
}

int api_report_json(FILE *f, const struct report_input *in)
{
    json_t *root = build(in);
    if (!root)
        return -1;
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    fputc('\n', f);
    json_decref(root);
    return rc == 0 && !ferror(f) ? 0 : -1;
}
