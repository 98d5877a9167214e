/* Alerts and trunk health in the API: GET /api/v1/alerts (the lifecycle
 * the evaluator stored, with its evidence), the `health` of each trunk
 * in /trunks, /trunks/{id} and /topology, and the Lync trunk checklist
 * (/trunks/{id}/checklist and the trunk's page). */
#include <string.h>

#include "../common/jsonw.h"
#include "../store/query.h"
#include "../store/store.h"
#include "api_int.h"

static json_t *cell_json(const struct stq_cell *c)
{
    switch (c->type) {
    case STQ_INT: return json_integer(c->i);
    case STQ_REAL: return json_real(c->d);
    case STQ_TEXT: return api_jtext(c->s, c->len);
    default: return json_null();
    }
}

/* JSON text the evaluator wrote, parsed; null when absent or unreadable */
static json_t *cell_doc(const struct stq_cell *c)
{
    if (c->type != STQ_TEXT)
        return json_null();
    json_t *v = json_loadb(c->s, c->len, 0, NULL);
    return v ? v : json_null();
}

static void cell_write(struct jsonw *w, const struct stq_cell *c)
{
    switch (c->type) {
    case STQ_INT: jsonw_int(w, c->i); break;
    case STQ_REAL: jsonw_real_prec(w, c->d, API_REAL_PRECISION); break;
    case STQ_TEXT: api_wtext(w, c->s, c->len); break;
    default: jsonw_null(w);
    }
}

/* The evaluator's evidence as cell_doc() reads it and the server dumps it. */
static void doc_write(struct jsonw *w, const struct stq_cell *c)
{
    json_t *v = cell_doc(c);
    char *t = json_is_null(v)
                  ? NULL
                  : json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(API_REAL_PRECISION));
    json_decref(v);
    if (t)
        jsonw_raw(w, t, strlen(t));
    else
        jsonw_null(w);
    free(t);
}

static int alert_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct jsonw *w = ctx;
    jsonw_obj_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_key(w, c[i].name);
        if (!strcmp(c[i].name, "evidence"))
            doc_write(w, &c[i]);
        else
            cell_write(w, &c[i]);
    }
    jsonw_obj_end(w);
    return 0;
}

/* pending, firing, firing_critical, firing_warning */
static int count_row(void *ctx, const struct stq_cell *c, size_t n)
{
    int64_t *k = ctx;
    if (n < 3 || c[0].type != STQ_TEXT || c[1].type != STQ_TEXT)
        return 0;
    if (!(c[0].len == 6 && !memcmp(c[0].s, "firing", 6))) {
        k[0] += c[2].i;
        return 0;
    }
    k[1] += c[2].i;
    k[c[1].len == 8 && !memcmp(c[1].s, "critical", 8) ? 2 : 3] += c[2].i;
    return 0;
}

/* Written as the rows come: a page of 500 as a jansson tree cost twice as
 * much (the tree, its dump and its frees) as the queries. */
int api_alerts_write(struct stq *q, unsigned states, int64_t trunk_id, uint32_t limit,
                     struct jsonw *w)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "alerts");
    jsonw_arr_begin(w);
    int rc = stq_alerts(q, states, trunk_id, limit, alert_row, w);
    jsonw_arr_end(w);
    int64_t k[4] = { 0 };
    if (rc == ST_OK)
        rc = stq_alert_counts(q, count_row, k);
    jsonw_key(w, "active");
    jsonw_obj_begin(w);
    jsonw_kint(w, "pending", k[0]);
    jsonw_kint(w, "firing", k[1]);
    jsonw_kint(w, "firing_critical", k[2]);
    jsonw_kint(w, "firing_warning", k[3]);
    jsonw_obj_end(w);
    jsonw_obj_end(w);
    return rc;
}

static int health_row(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t *t = ctx;
    if (n < 6 || c[0].type != STQ_INT)
        return 0;
    json_t *h = json_object();
    json_object_set_new(h, "state", cell_json(&c[1]));
    json_t *r = cell_doc(&c[2]);
    json_object_set_new(h, "reasons", json_is_array(r) ? r : json_array());
    if (!json_is_array(r))
        json_decref(r);
    json_object_set_new(h, "metrics", cell_doc(&c[3]));
    json_object_set_new(h, "data_ts", cell_json(&c[4]));
    json_object_set_new(h, "updated", cell_json(&c[5]));
    size_t i;
    json_t *v;
    json_array_foreach(t, i, v)
    {
        if (json_integer_value(json_object_get(v, "id")) == c[0].i) {
            json_object_set(v, "health", h);
            break;
        }
    }
    json_decref(h);
    return 0;
}

int api_trunks_health(struct stq *q, json_t *trunks, int64_t trunk_id)
{
    size_t i;
    json_t *v;
    json_array_foreach(trunks, i, v)
        json_object_set_new(v, "health", json_null());
    return stq_trunk_health(q, trunk_id, health_row, trunks);
}

static int checklist_row(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t *o = ctx;
    if (n < 3)
        return 0;
    json_object_set_new(o, "status", cell_json(&c[0]));
    json_t *d = cell_doc(&c[1]);
    json_t *items = json_object_get(d, "items");
    json_object_set(o, "items", json_is_array(items) ? items : json_array());
    json_decref(d);
    json_object_set_new(o, "updated", cell_json(&c[2]));
    return 0;
}

int api_trunk_checklist(struct stq *q, int64_t id, json_t **out)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_null());
    json_object_set_new(o, "items", json_array());
    json_object_set_new(o, "updated", json_null());
    int rc = stq_trunk_checklist(q, id, checklist_row, o);
    if (rc != ST_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return ST_OK;
}

/* idle < healthy < degraded < critical < down */
static int state_rank(const char *s)
{
    static const char *const order[] = { "idle", "healthy", "degraded", "critical", "down" };
    for (int i = 0; i < 5; i++)
        if (s && !strcmp(s, order[i]))
            return i;
    return -1;
}

static int site_health_row(void *ctx, const struct stq_cell *c, size_t n)
{
    json_t *sites = ctx;
    if (n < 5 || c[0].type != STQ_TEXT || c[3].type != STQ_TEXT)
        return 0;
    size_t i;
    json_t *v, *site = NULL;
    json_array_foreach(sites, i, v)
    {
        const char *nm = json_string_value(json_object_get(v, "site"));
        if (nm && strlen(nm) == c[0].len && !memcmp(nm, c[0].s, c[0].len)) {
            site = v;
            break;
        }
    }
    if (!site)
        return 0;
    json_t *h = json_object_get(site, "health");
    if (!json_is_object(h)) {
        h = json_object();
        json_object_set_new(h, "state", json_string("idle"));
        json_object_set_new(h, "trunks", json_object());
        json_object_set_new(h, "reasons", json_array());
        json_object_set_new(site, "health", h);
    }
    char st[16];
    snprintf(st, sizeof st, "%.*s", (int)(c[3].len < 15 ? c[3].len : 15), c[3].s);
    json_t *counts = json_object_get(h, "trunks");
    json_object_set_new(counts, st, json_integer(json_integer_value(json_object_get(counts, st)) + 1));
    if (state_rank(st) > state_rank(json_string_value(json_object_get(h, "state"))))
        json_object_set_new(h, "state", json_string(st));
    if (state_rank(st) >= 2) { /* degraded and worse: say which trunk and why */
        json_t *r = json_object();
        json_object_set_new(r, "trunk_id", cell_json(&c[1]));
        json_object_set_new(r, "name", cell_json(&c[2]));
        json_object_set_new(r, "state", json_string(st));
        json_t *why = cell_doc(&c[4]);
        json_object_set_new(r, "reasons", json_is_array(why) ? why : json_array());
        if (!json_is_array(why))
            json_decref(why);
        json_array_append_new(json_object_get(h, "reasons"), r);
    }
    return 0;
}

int api_sites_health(struct stq *q, json_t *sites)
{
    size_t i;
    json_t *v;
    json_array_foreach(sites, i, v)
        json_object_set_new(v, "health", json_null());
    return stq_site_health(q, site_health_row, sites);
}
