/* Endpoint quality reports: RFC 6035 section 4.7 vq-rtcpxr bodies (report
 * type line, CallID, LocalID/RemoteID, LocalMetrics / RemoteMetrics blocks
 * of "Name: KEY=value ..." lines) and the X-RTP-Stat / P-RTP-Stat
 * end-of-call headers. Every byte is read through the byte view. */
#include "vq.h"

#include <stddef.h>
#include <string.h>

static void metrics_init(struct vq_metrics *m)
{
    m->mos_lq = m->mos_cq = m->r_lq = m->r_cq = -1;
    m->loss_pct = m->discard_pct = m->jitter_ms = m->rtt_ms = m->delay_ms = -1;
    m->packets = m->lost = m->sent = m->duration_s = -1;
}

static void report_init(struct vq_report *r)
{
    memset(r, 0, sizeof *r);
    metrics_init(&r->local);
    metrics_init(&r->remote);
}

/* A non-negative decimal ("4.2", "88", "0.50"); false on anything else or
 * more than 9 integer digits. RFC 6035 values are small. */
static bool dec(struct bv v, double *out)
{
    double x = 0, scale = 0;
    size_t digits = 0;
    if (!v.len)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        int c = bv_at(v, i);
        if (c == '.' && scale == 0) {
            scale = 1;
            continue;
        }
        if (c < '0' || c > '9')
            return false;
        if (scale == 0) {
            if (++digits > 9)
                return false;
            x = x * 10 + (c - '0');
        } else if (scale < 1e9) {
            scale *= 10;
            x += (c - '0') / scale;
        }
    }
    if (scale != 0 && v.len == 1)
        return false; /* "." alone */
    *out = x;
    return true;
}

/* Next "KEY=value" token of v, separated by any of seps; false at the end. */
static bool next_pair(struct bv *v, const char *seps, struct bv *key, struct bv *val)
{
    for (;;) {
        while (v->len && strchr(seps, bv_at(*v, 0)))
            bv_skip(v, 1);
        if (!v->len)
            return false;
        size_t n = 0;
        while (n < v->len && !strchr(seps, bv_at(*v, n)))
            n++;
        struct bv tok = bv_head(*v, n);
        bv_skip(v, n);
        long eq = bv_index(tok, '=');
        if (eq <= 0)
            continue; /* a flag or garbage: skipped */
        *key = bv_trim(bv_head(tok, (size_t)eq));
        *val = bv_trim(bv_from(tok, (size_t)eq + 1));
        struct bv q = *val;
        if (q.len >= 2 && bv_at(q, 0) == '"' && bv_at(q, q.len - 1) == '"')
            (void)bv_sub(q, 1, q.len - 2, val);
        return true;
    }
}

/* Metric keys of RFC 6035 4.7.x and the stat headers, into m. Returns
 * true when the key was one of them with a number. */
static bool set_metric(struct vq_metrics *m, struct bv key, struct bv val, struct bv *codec,
                       double *pl, double *pr)
{
    static const struct { const char *k; size_t off; } map[] = {
        { "MOSLQ", offsetof(struct vq_metrics, mos_lq) },
        { "MOSCQ", offsetof(struct vq_metrics, mos_cq) },
        { "RLQ", offsetof(struct vq_metrics, r_lq) },
        { "RCQ", offsetof(struct vq_metrics, r_cq) },
        { "NLR", offsetof(struct vq_metrics, loss_pct) },
        { "JDR", offsetof(struct vq_metrics, discard_pct) },
        { "IAJ", offsetof(struct vq_metrics, jitter_ms) },
        { "JI", offsetof(struct vq_metrics, jitter_ms) },
        { "RTD", offsetof(struct vq_metrics, rtt_ms) },
        { "ESD", offsetof(struct vq_metrics, delay_ms) },
        { "LA", offsetof(struct vq_metrics, delay_ms) },
        { "PR", offsetof(struct vq_metrics, packets) },
        { "PL", offsetof(struct vq_metrics, lost) },
        { "PS", offsetof(struct vq_metrics, sent) },
        { "DU", offsetof(struct vq_metrics, duration_s) },
    };
    if (codec && (bv_eq_ci(key, "PD") || bv_eq_ci(key, "EN"))) {
        *codec = val;
        return false; /* a description, not a metric */
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (!bv_eq_ci(key, map[i].k))
            continue;
        double x;
        if (!dec(val, &x))
            return false;
        *(double *)((char *)m + map[i].off) = x;
        if (pl && bv_eq_ci(key, "PL"))
            *pl = x;
        if (pr && bv_eq_ci(key, "PR"))
            *pr = x;
        return true;
    }
    return false;
}

bool vq_is_rtcpxr_type(struct bv ct)
{
    long semi = bv_index(ct, ';');
    if (semi >= 0)
        ct = bv_head(ct, (size_t)semi);
    return bv_eq_ci(bv_trim(ct), "application/vq-rtcpxr");
}

enum vq_result vq_parse_rtcpxr(struct bv body, struct vq_report *out)
{
    report_init(out);
    struct bv line;
    struct vq_metrics *cur = NULL;
    bool typed = false;
    unsigned nmetrics = 0;
    while (body.len) {
        if (!bv_line(&body, &line)) {
            line = body; /* last line without LF */
            body.len = 0;
        }
        line = bv_trim(line);
        if (!line.len)
            continue;
        long colon = bv_index(line, ':');
        if (colon == 0 || (colon < 0 && typed))
            continue;
        /* the first line names the report type, ": CallTerm" optional (4.7.1) */
        struct bv name = colon > 0 ? bv_trim(bv_head(line, (size_t)colon)) : line;
        struct bv val = colon > 0 ? bv_trim(bv_from(line, (size_t)colon + 1)) : bv_make("", 0);
        if (!typed) {
            if (bv_eq_ci(name, "VQSessionReport"))
                out->interval = false;
            else if (bv_eq_ci(name, "VQIntervalReport") || bv_eq_ci(name, "VQAlertReport"))
                out->interval = true;
            else
                return VQ_INVALID;
            typed = true;
            continue;
        }
        if (bv_eq_ci(name, "CallID")) {
            out->call_id = val;
        } else if (bv_eq_ci(name, "LocalID")) {
            out->local_id = val;
        } else if (bv_eq_ci(name, "RemoteID")) {
            out->remote_id = val;
        } else if (bv_eq_ci(name, "LocalMetrics")) {
            cur = &out->local;
            out->has_local = true;
        } else if (bv_eq_ci(name, "RemoteMetrics")) {
            cur = &out->remote;
            out->has_remote = true;
        } else if (cur) {
            struct bv key, v;
            while (next_pair(&val, " \t", &key, &v))
                nmetrics += set_metric(cur, key, v, cur == &out->local ? &out->codec : NULL,
                                       NULL, NULL);
        }
    }
    if (!typed)
        return VQ_TRUNCATED;
    return nmetrics ? VQ_OK : VQ_UNSUPPORTED;
}

enum vq_result vq_parse_stat(struct bv value, struct vq_report *out)
{
    report_init(out);
    value = bv_trim(value);
    if (!value.len)
        return VQ_TRUNCATED;
    if (bv_index(value, '=') < 0)
        return VQ_INVALID;
    struct bv key, v;
    unsigned n = 0;
    double pl = -1, pr = -1;
    while (next_pair(&value, ",; \t", &key, &v))
        n += set_metric(&out->local, key, v, &out->codec, &pl, &pr);
    if (!n)
        return VQ_UNSUPPORTED;
    out->has_local = true;
    if (pl >= 0 && pr >= 0 && pl + pr > 0)
        out->local.loss_pct = 100.0 * pl / (pl + pr);
    return VQ_OK;
}
