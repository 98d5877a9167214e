/* /metrics in the Prometheus text exposition format (version 0.0.4):
 * per-trunk counters and gauges, a per-trunk MOS histogram, capture and
 * drop counters (live sensor) and the server's own request counters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/version.h"
#include "../store/query.h"
#include "../store/store.h"
#include "api_int.h"

/* Largest /metrics body: 1024 trunks x ~30 lines fits easily. */
#define MET_MAX_BYTES (8u * 1024 * 1024)
#define MET_MAX_TRUNKS 1024

static const double MOS_LE[] = { 1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.3, 4.5 };
#define MOS_NB (sizeof MOS_LE / sizeof MOS_LE[0])

struct met_buf {
    char *b;
    size_t n, cap;
    bool over;
};

static void mb_printf(struct met_buf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_printf(struct met_buf *m, const char *fmt, ...)
{
    if (m->over)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(m->b + m->n, m->cap - m->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            m->over = true;
            return;
        }
        if ((size_t)k < m->cap - m->n) {
            m->n += (size_t)k;
            return;
        }
        size_t nc = m->cap * 2;
        if (nc > MET_MAX_BYTES || nc < m->n + (size_t)k + 1) {
            if (m->n + (size_t)k + 1 > MET_MAX_BYTES) {
                m->over = true;
                return;
            }
            nc = m->n + (size_t)k + 1;
        }
        char *nb = realloc(m->b, nc);
        if (!nb) {
            m->over = true;
            return;
        }
        m->b = nb;
        m->cap = nc;
    }
}

/* A label value: printable ASCII with \\, \" and \n escaped. */
static void label(char *out, size_t cap, const struct stq_cell *c)
{
    size_t o = 0;
    for (size_t i = 0; c && c->type == STQ_TEXT && i < c->len && o + 3 < cap; i++) {
        unsigned char ch = (unsigned char)c->s[i];
        if (ch == '\\' || ch == '"') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
        }
    }
    out[o] = '\0';
}

struct trunk_m {
    int64_t id;
    char labels[256];
    int64_t attempts, answered, peak;
    double asr, ner, pdd, acd;
    bool has_asr, has_ner, has_pdd, has_acd;
    uint64_t mos_bucket[MOS_NB];
    uint64_t mos_n;
    double mos_sum;
};

struct met_ctx {
    struct trunk_m *t;
    size_t n;
};

static const struct stq_cell *cell(const struct stq_cell *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

static int64_t ci(const struct stq_cell *c) { return c && c->type == STQ_INT ? c->i : 0; }

static bool cd(const struct stq_cell *c, double *v)
{
    if (!c || (c->type != STQ_REAL && c->type != STQ_INT))
        return false;
    *v = c->type == STQ_REAL ? c->d : (double)c->i;
    return true;
}

/* the evaluator's health as a number, for alert rules over /metrics */
static int health_level(const struct stq_cell *c)
{
    static const char *const S[] = { "idle", "healthy", "degraded", "critical", "down" };
    for (int i = 0; i < 5; i++)
        if (c && c->type == STQ_TEXT && c->len == strlen(S[i]) && !memcmp(c->s, S[i], c->len))
            return i;
    return -1;
}

struct health_ctx {
    struct met_ctx *m;
    struct met_buf *mb;
};

static int health_metric_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct health_ctx *h = ctx;
    int64_t id = ci(cell(c, n, "trunk_id"));
    int lv = health_level(cell(c, n, "state"));
    for (size_t i = 0; i < h->m->n && lv >= 0; i++)
        if (h->m->t[i].id == id)
            mb_printf(h->mb, "trunkscope_trunk_health_level{%s} %d\n", h->m->t[i].labels, lv);
    return 0;
}

static int alert_metric_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct met_buf *mb = ctx;
    char rule[64], target[160], sev[16], tr[24] = "";
    label(rule, sizeof rule, cell(c, n, "rule"));
    label(target, sizeof target, cell(c, n, "target"));
    label(sev, sizeof sev, cell(c, n, "severity"));
    const struct stq_cell *t = cell(c, n, "trunk_id");
    if (t && t->type == STQ_INT)
        snprintf(tr, sizeof tr, "%lld", (long long)t->i);
    mb_printf(mb, "trunkscope_alert_firing{alertname=\"%s\",target=\"%s\",severity=\"%s\",trunk=\"%s\"} 1\n",
              rule, target, sev, tr);
    return 0;
}

static int trunk_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct met_ctx *m = ctx;
    if (m->n >= MET_MAX_TRUNKS)
        return 1;
    struct trunk_m *t = &m->t[m->n++];
    char name[96], peer[64], local[64];
    memset(t, 0, sizeof *t);
    t->id = ci(cell(c, n, "id"));
    label(name, sizeof name, cell(c, n, "name"));
    label(peer, sizeof peer, cell(c, n, "peer"));
    label(local, sizeof local, cell(c, n, "local"));
    snprintf(t->labels, sizeof t->labels, "trunk=\"%lld\",name=\"%s\",local=\"%s\",peer=\"%s\"",
             (long long)t->id, name, local, peer);
    t->attempts = ci(cell(c, n, "attempts"));
    t->answered = ci(cell(c, n, "answered"));
    t->peak = ci(cell(c, n, "peak_concurrent"));
    t->has_asr = cd(cell(c, n, "asr"), &t->asr);
    t->has_ner = cd(cell(c, n, "ner"), &t->ner);
    t->has_pdd = cd(cell(c, n, "pdd_mean_ms"), &t->pdd);
    t->has_acd = cd(cell(c, n, "acd_s"), &t->acd);
    return 0;
}

static int mos_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct met_ctx *m = ctx;
    int64_t id = ci(cell(c, n, "trunk_id"));
    int64_t k = cell(c, n, "n") ? ci(cell(c, n, "n")) : 1; /* legs with this MOS */
    double mos;
    if (!cd(cell(c, n, "mos"), &mos) || k <= 0)
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->t[i].id != id)
            continue;
        for (size_t b = 0; b < MOS_NB; b++)
            if (mos <= MOS_LE[b])
                m->t[i].mos_bucket[b] += (uint64_t)k;
        m->t[i].mos_n += (uint64_t)k;
        m->t[i].mos_sum += mos * (double)k;
    }
    return 0;
}

static int totals_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct met_buf *mb = ctx;
    static const char *const K[] = { "calls", "legs", "sip_messages", "streams", "captures" };
    for (size_t k = 0; k < sizeof K / sizeof K[0]; k++) {
        mb_printf(mb, "# HELP trunkscope_stored_%s Rows in the database.\n", K[k]);
        mb_printf(mb, "# TYPE trunkscope_stored_%s gauge\n", K[k]);
        mb_printf(mb, "trunkscope_stored_%s %lld\n", K[k], (long long)ci(cell(c, n, K[k])));
    }
    mb_printf(mb, "# HELP trunkscope_srtp_auth_failures SRTP packets that failed to authenticate "
                  "with their SDP's SDES keys (wrong key, tampering), over the stored streams.\n");
    mb_printf(mb, "# TYPE trunkscope_srtp_auth_failures gauge\n");
    mb_printf(mb, "trunkscope_srtp_auth_failures %lld\n", (long long)ci(cell(c, n, "srtp_auth_fail")));
    mb_printf(mb, "# HELP trunkscope_srtp_not_tried SRTP packets not tried with their SDP's SDES "
                  "keys because every key had failed many packets in a row, over the stored streams.\n");
    mb_printf(mb, "# TYPE trunkscope_srtp_not_tried gauge\n");
    mb_printf(mb, "trunkscope_srtp_not_tried %lld\n", (long long)ci(cell(c, n, "srtp_not_tried")));
    return 1;
}

/* ---- TLS peers and other flows ---- */

struct tls_m {
    struct met_buf *mb;
    int pass; /* which metric the rows are printed for */
};

static int tls_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct tls_m *t = ctx;
    char cl[64], sv[80], lab[200];
    label(cl, sizeof cl, cell(c, n, "client"));
    label(sv, sizeof sv, cell(c, n, "server"));
    snprintf(lab, sizeof lab, "client=\"%s\",server=\"%s\"", cl, sv);
    const struct stq_cell *st = cell(c, n, "status"), *days = cell(c, n, "cert_days_left");
    switch (t->pass) {
    case 0:
        mb_printf(t->mb, "trunkscope_tls_handshake_ok{%s} %d\n", lab,
                  st && st->type == STQ_TEXT && st->len == 2 && !memcmp(st->s, "ok", 2));
        break;
    case 1:
        mb_printf(t->mb, "trunkscope_tls_handshakes_total{%s,result=\"established\"} %lld\n", lab,
                  (long long)ci(cell(c, n, "established")));
        mb_printf(t->mb, "trunkscope_tls_handshakes_total{%s,result=\"failed\"} %lld\n", lab,
                  (long long)ci(cell(c, n, "failed")));
        break;
    case 2:
        mb_printf(t->mb, "trunkscope_tls_alerts_total{%s} %lld\n", lab,
                  (long long)ci(cell(c, n, "alerts")));
        break;
    case 3:
        mb_printf(t->mb, "trunkscope_tls_mtls{%s} %d\n", lab, ci(cell(c, n, "mtls")) != 0);
        break;
    case 4:
        if (days && days->type == STQ_INT)
            mb_printf(t->mb, "trunkscope_tls_cert_expiry_days{%s} %lld\n", lab, (long long)days->i);
        break;
    case 5: {
        /* with keys: {"decrypted":3,"no_key":1} (schema v21), at most the
         * nine verdicts of crypto/tlsdec.h per pair */
        const struct stq_cell *d = cell(c, n, "decrypt");
        json_t *o = d && d->type == STQ_TEXT ? json_loadb(d->s, d->len, 0, NULL) : NULL;
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            if (!json_is_integer(v) || strlen(k) > 32 ||
                strspn(k, "abcdefghijklmnopqrstuvwxyz_") != strlen(k))
                continue; /* only the verdicts' names become labels */
            mb_printf(t->mb, "trunkscope_tls_decrypt_connections_total{%s,result=\"%s\"} %lld\n",
                      lab, k, (long long)json_integer_value(v));
        }
        json_decref(o);
        break;
    }
    }
    return 0;
}

struct oflow_m {
    char name[64][80];
    long long flows[64], bytes[64];
    size_t n;
};

static int oflow_row(void *ctx, const struct stq_cell *c, size_t n)
{
    struct oflow_m *o = ctx;
    char p[32], t[8], k[80];
    label(p, sizeof p, cell(c, n, "protocol"));
    label(t, sizeof t, cell(c, n, "transport"));
    snprintf(k, sizeof k, "protocol=\"%s\",transport=\"%s\"", p, t);
    size_t i = 0;
    while (i < o->n && strcmp(o->name[i], k) != 0)
        i++;
    if (i == o->n) {
        if (o->n == 64)
            return 0; /* the first 64 kinds, the largest first */
        memcpy(o->name[o->n++], k, sizeof k);
    }
    o->flows[i] += ci(cell(c, n, "flows"));
    o->bytes[i] += ci(cell(c, n, "bytes"));
    return 0;
}

#define HEAD(name, type, help) mb_printf(&mb, "# HELP " name " " help "\n# TYPE " name " " type "\n")

static void tls_metrics(struct stq *q, struct met_buf *m)
{
    struct met_buf mb = *m;
    static const char *const H[6][3] = {
        { "trunkscope_tls_handshake_ok", "gauge",
          "1 when the last TLS handshake between client and server succeeded, 0 when it failed." },
        { "trunkscope_tls_handshakes_total", "counter", "TLS handshakes by result." },
        { "trunkscope_tls_alerts_total", "counter", "Plaintext TLS alerts." },
        { "trunkscope_tls_mtls", "gauge",
          "1 when the server asked for a client certificate and the client sent one." },
        { "trunkscope_tls_cert_expiry_days", "gauge",
          "Whole days until the server certificate expires (warn under 30)." },
        { "trunkscope_tls_decrypt_connections_total", "counter",
          "TLS connections ended, by why they were or were not decrypted (with keys)." },
    };
    for (int pass = 0; pass < 6; pass++) {
        mb_printf(&mb, "# HELP %s %s\n# TYPE %s %s\n", H[pass][0], H[pass][2], H[pass][0],
                  H[pass][1]);
        struct tls_m t = { &mb, pass };
        (void)stq_tls_peers(q, tls_row, &t);
    }
    struct oflow_m *o = calloc(1, sizeof *o);
    if (o && stq_other_flows(q, 0, oflow_row, o) == ST_OK) {
        HEAD("trunkscope_other_flows_total", "counter",
             "Flows that are neither SIP nor RTP, by nDPI's protocol.");
        for (size_t i = 0; i < o->n; i++)
            mb_printf(&mb, "trunkscope_other_flows_total{%s} %lld\n", o->name[i], o->flows[i]);
        HEAD("trunkscope_other_flows_bytes_total", "counter",
             "Payload bytes of the flows that are neither SIP nor RTP, by protocol.");
        for (size_t i = 0; i < o->n; i++)
            mb_printf(&mb, "trunkscope_other_flows_bytes_total{%s} %lld\n", o->name[i],
                      o->bytes[i]);
    }
    free(o);
    *m = mb;
}

void routes_metrics(struct api_call *a)
{
    struct stq *q = api_db(a);
    struct met_ctx m = { calloc(MET_MAX_TRUNKS, sizeof *m.t), 0 };
    struct met_buf mb = { malloc(16384), 0, 16384, false };
    if (!m.t || !mb.b) {
        free(m.t);
        free(mb.b);
        api_error(a, 500, "internal", "out of memory");
        return;
    }
    int rc = stq_trunks(q, trunk_row, &m);
    if (rc == ST_OK)
        rc = stq_trunk_mos(q, mos_row, &m);
    if (rc != ST_OK) {
        free(m.t);
        free(mb.b);
        api_error(a, 500, "internal", "database query failed");
        return;
    }
    HEAD("trunkscope_trunk_attempts_total", "counter", "INVITE attempts on the trunk.");
    for (size_t i = 0; i < m.n; i++)
        mb_printf(&mb, "trunkscope_trunk_attempts_total{%s} %lld\n", m.t[i].labels,
                  (long long)m.t[i].attempts);
    HEAD("trunkscope_trunk_answered_total", "counter", "Answered attempts on the trunk.");
    for (size_t i = 0; i < m.n; i++)
        mb_printf(&mb, "trunkscope_trunk_answered_total{%s} %lld\n", m.t[i].labels,
                  (long long)m.t[i].answered);
    HEAD("trunkscope_trunk_asr_ratio", "gauge", "Answer-seizure ratio (0..1).");
    for (size_t i = 0; i < m.n; i++)
        if (m.t[i].has_asr)
            mb_printf(&mb, "trunkscope_trunk_asr_ratio{%s} %.6g\n", m.t[i].labels, m.t[i].asr);
    HEAD("trunkscope_trunk_ner_ratio", "gauge", "Network effectiveness ratio (0..1).");
    for (size_t i = 0; i < m.n; i++)
        if (m.t[i].has_ner)
            mb_printf(&mb, "trunkscope_trunk_ner_ratio{%s} %.6g\n", m.t[i].labels, m.t[i].ner);
    HEAD("trunkscope_trunk_pdd_seconds", "gauge", "Mean post-dial delay (INVITE to 180/183).");
    for (size_t i = 0; i < m.n; i++)
        if (m.t[i].has_pdd)
            mb_printf(&mb, "trunkscope_trunk_pdd_seconds{%s} %.6g\n", m.t[i].labels,
                      m.t[i].pdd / 1000.0);
    HEAD("trunkscope_trunk_acd_seconds", "gauge", "Average call duration of answered calls.");
    for (size_t i = 0; i < m.n; i++)
        if (m.t[i].has_acd)
            mb_printf(&mb, "trunkscope_trunk_acd_seconds{%s} %.6g\n", m.t[i].labels, m.t[i].acd);
    HEAD("trunkscope_trunk_peak_concurrent_calls", "gauge", "Peak concurrent calls seen.");
    for (size_t i = 0; i < m.n; i++)
        mb_printf(&mb, "trunkscope_trunk_peak_concurrent_calls{%s} %lld\n", m.t[i].labels,
                  (long long)m.t[i].peak);
    HEAD("trunkscope_trunk_mos", "histogram", "MOS of the calls on the trunk.");
    for (size_t i = 0; i < m.n; i++) {
        for (size_t b = 0; b < MOS_NB; b++)
            mb_printf(&mb, "trunkscope_trunk_mos_bucket{%s,le=\"%.1f\"} %llu\n", m.t[i].labels,
                      MOS_LE[b], (unsigned long long)m.t[i].mos_bucket[b]);
        mb_printf(&mb, "trunkscope_trunk_mos_bucket{%s,le=\"+Inf\"} %llu\n", m.t[i].labels,
                  (unsigned long long)m.t[i].mos_n);
        mb_printf(&mb, "trunkscope_trunk_mos_sum{%s} %.6g\n", m.t[i].labels, m.t[i].mos_sum);
        mb_printf(&mb, "trunkscope_trunk_mos_count{%s} %llu\n", m.t[i].labels,
                  (unsigned long long)m.t[i].mos_n);
    }
    HEAD("trunkscope_trunk_health_level", "gauge",
         "Trunk health by the alert evaluator: 0 idle, 1 healthy, 2 degraded, 3 critical, 4 down.");
    struct health_ctx hc = { &m, &mb };
    if (rc == ST_OK)
        rc = stq_trunk_health(q, 0, health_metric_row, &hc);
    HEAD("trunkscope_alert_firing", "gauge", "Alerts of trunkscope's own rules firing now.");
    if (rc == ST_OK)
        rc = stq_alerts(q, 2, 0, TS_API_PAGE_MAX, alert_metric_row, &mb);
    free(m.t);
    tls_metrics(q, &mb);

    struct api_live_stats ls;
    bool live = api_live(a->srv, &ls);
    HEAD("trunkscope_active_calls", "gauge", "Calls in progress (live sensor; 0 for a database).");
    mb_printf(&mb, "trunkscope_active_calls %lld\n",
              (long long)(live && ls.active_calls > 0 ? ls.active_calls : 0));
    if (live) {
        HEAD("trunkscope_capture_packets_total", "counter", "Packets captured.");
        mb_printf(&mb, "trunkscope_capture_packets_total %lld\n", (long long)ls.packets);
        HEAD("trunkscope_capture_bytes_total", "counter", "Bytes captured.");
        mb_printf(&mb, "trunkscope_capture_bytes_total %lld\n", (long long)ls.bytes);
        HEAD("trunkscope_drops_total", "counter", "Packets or records dropped, by where.");
        mb_printf(&mb, "trunkscope_drops_total{where=\"kernel\"} %lld\n",
                  (long long)ls.drops_kernel);
        mb_printf(&mb, "trunkscope_drops_total{where=\"queue\"} %lld\n", (long long)ls.drops_queue);
        if (ls.store_dropped >= 0)
            mb_printf(&mb, "trunkscope_drops_total{where=\"store\"} %lld\n",
                      (long long)ls.store_dropped);
        if (ls.store_written >= 0) {
            HEAD("trunkscope_store_records_total", "counter",
                 "Records the store committed, or lost: refused by the database (disk full, "
                 "lock, corrupt file) or dropped with the queue full.");
            mb_printf(&mb, "trunkscope_store_records_total{result=\"written\"} %lld\n",
                      (long long)ls.store_written);
            mb_printf(&mb, "trunkscope_store_records_total{result=\"refused\"} %lld\n",
                      (long long)ls.store_errors);
            mb_printf(&mb, "trunkscope_store_records_total{result=\"dropped\"} %lld\n",
                      (long long)(ls.store_dropped - ls.store_errors));
        }
        HEAD("trunkscope_queue_depth", "gauge", "Frames waiting for analysis.");
        mb_printf(&mb, "trunkscope_queue_depth %lld\n", (long long)ls.queue_depth);
    }
    (void)stq_totals(q, totals_row, &mb);
    HEAD("trunkscope_http_refused_total", "counter",
         "Connections or requests refused by the server's guards: evicted (per-client cap, "
         "table full), header_deadline (slowloris), host (foreign Host), busy (in-flight budget).");
    static const char *const GUARD[4] = { "evicted", "header_deadline", "host", "busy" };
    for (int g = 0; g < 4; g++)
        mb_printf(&mb, "trunkscope_http_refused_total{why=\"%s\"} %llu\n", GUARD[g],
                  (unsigned long long)api_guard_count(a->srv, g));
    HEAD("trunkscope_build_info", "gauge", "Always 1; the version label names the build.");
    mb_printf(&mb, "trunkscope_build_info{version=\"%s\"} 1\n", ts_version());
    HEAD("trunkscope_http_requests_total", "counter", "HTTP requests answered, by status class.");
    for (int c = 1; c <= 5; c++)
        mb_printf(&mb, "trunkscope_http_requests_total{class=\"%dxx\"} %llu\n", c,
                  (unsigned long long)api_requests(a->srv, c));
    if (mb.over) {
        free(mb.b);
        api_error(a, 500, "internal", "metrics too large");
        return;
    }
    a->body = mb.b;
    a->body_len = mb.n;
    a->ctype = "text/plain; version=0.0.4; charset=utf-8";
}
