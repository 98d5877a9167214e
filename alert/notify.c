/* Alert notifications (alert/notify.h): Alertmanager API v2 (POST
 * /api/v2/alerts, an array of postable alerts), a plain JSON webhook and
 * syslog (RFC 5424 via syslog(3)), from one delivery thread over a bounded
 * queue. */
#include "notify.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "../common/deadline.h"
#include "../common/jsonw.h"

struct item {
    char *am_body, *json_body;   /* NULL when that receiver is not configured */
    char *line;                  /* syslog text */
    int prio;
};

struct alert_notify {
    struct alert_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv, idle;
    struct item q[TS_NOTIFY_MAX_QUEUE];
    size_t head, n;
    bool busy, stop;
    struct alert_notify_stats st;
};

static void iso(char *b, size_t cap, int64_t ns)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    char t[32] = "1970-01-01T00:00:00";
    if (gmtime_r(&s, &tm))
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(b, cap, "%s.%03dZ", t, (int)(ns / 1000000 % 1000));
}

/* A JSON document built by fn into a malloc'd string (NULL on failure). */
static char *json_text(void (*fn)(struct jsonw *, const struct alert_event *, const char *),
                       const struct alert_event *ev, const char *instance)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    struct jsonw w;
    jsonw_init(&w, f, false);
    fn(&w, ev, instance);
    enum jsonw_err e = jsonw_finish(&w);
    if (fclose(f) != 0 || e != JSONW_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void am_alert(struct jsonw *w, const struct alert_event *ev, const char *instance)
{
    char t[48];
    jsonw_arr_begin(w);
    jsonw_obj_begin(w);
    jsonw_key(w, "labels");
    jsonw_obj_begin(w);
    jsonw_kstr(w, "alertname", ev->rule);
    jsonw_kstr(w, "severity", ev->severity);
    jsonw_kstr(w, "scope", ev->scope);
    jsonw_kstr(w, "target", ev->target);
    if (ev->site && *ev->site)
        jsonw_kstr(w, "site", ev->site);
    if (ev->trunk_id) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)ev->trunk_id);
        jsonw_kstr(w, "trunk_id", id);
    }
    jsonw_kstr(w, "instance", instance);
    jsonw_kstr(w, "source", "trunkscope");
    jsonw_obj_end(w);
    jsonw_key(w, "annotations");
    jsonw_obj_begin(w);
    jsonw_kstr(w, "summary", ev->summary);
    if (ev->evidence)
        jsonw_kstr(w, "evidence", ev->evidence);
    jsonw_obj_end(w);
    iso(t, sizeof t, ev->fired_ns ? ev->fired_ns : ev->started_ns);
    jsonw_kstr(w, "startsAt", t);
    if (ev->resolved_ns) {
        iso(t, sizeof t, ev->resolved_ns);
        jsonw_kstr(w, "endsAt", t);
    }
    jsonw_obj_end(w);
    jsonw_arr_end(w);
}

static void plain_alert(struct jsonw *w, const struct alert_event *ev, const char *instance)
{
    char t[48];
    jsonw_obj_begin(w);
    jsonw_kstr(w, "source", "trunkscope");
    jsonw_kstr(w, "instance", instance);
    jsonw_kint(w, "id", ev->id);
    jsonw_kstr(w, "rule", ev->rule);
    jsonw_kstr(w, "state", ev->state);
    jsonw_kstr(w, "severity", ev->severity);
    jsonw_kstr(w, "scope", ev->scope);
    jsonw_kstr(w, "target", ev->target);
    if (ev->trunk_id)
        jsonw_kint(w, "trunk_id", ev->trunk_id);
    else
        jsonw_knull(w, "trunk_id");
    jsonw_kstr(w, "site", ev->site && *ev->site ? ev->site : NULL);
    jsonw_kstr(w, "summary", ev->summary);
    jsonw_kreal(w, "value", ev->value);
    jsonw_kreal(w, "threshold", ev->threshold);
    iso(t, sizeof t, ev->started_ns);
    jsonw_kstr(w, "started", t);
    if (ev->fired_ns) {
        iso(t, sizeof t, ev->fired_ns);
        jsonw_kstr(w, "fired", t);
    } else {
        jsonw_knull(w, "fired");
    }
    if (ev->resolved_ns) {
        iso(t, sizeof t, ev->resolved_ns);
        jsonw_kstr(w, "resolved", t);
    } else {
        jsonw_knull(w, "resolved");
    }
    /* the evidence as text: it is already JSON, and a receiver may log it */
    jsonw_kstr(w, "evidence", ev->evidence);
    jsonw_obj_end(w);
}

static size_t sink(char *p, size_t sz, size_t nm, void *u)
{
    (void)p;
    (void)u;
    return sz * nm;
}

/* One POST; true on a 2xx answer. */
static bool post(const char *url, const char *body)
{
    CURL *h = curl_easy_init();
    if (!h)
        return false;
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    long code = 0;
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && code >= 200 && code < 300;
}

static void item_free(struct item *it)
{
    free(it->am_body);
    free(it->json_body);
    free(it->line);
    memset(it, 0, sizeof *it);
}

/* Deliver to one URL with retries; the stop flag cuts the back-off short. */
static void deliver(struct alert_notify *n, const char *url, const char *body)
{
    int wait_ms = TS_NOTIFY_BACKOFF_MS;
    for (int t = 0; t < TS_NOTIFY_MAX_TRIES; t++) {
        if (post(url, body)) {
            pthread_mutex_lock(&n->mu);
            n->st.sent++;
            pthread_mutex_unlock(&n->mu);
            return;
        }
        pthread_mutex_lock(&n->mu);
        bool stop = n->stop;
        if (t + 1 < TS_NOTIFY_MAX_TRIES)
            n->st.retried++;
        pthread_mutex_unlock(&n->mu);
        if (stop || t + 1 == TS_NOTIFY_MAX_TRIES)
            break;
        usleep((useconds_t)wait_ms * 1000u);
        wait_ms *= 2;
    }
    pthread_mutex_lock(&n->mu);
    n->st.failed++;
    pthread_mutex_unlock(&n->mu);
}

static void *run(void *arg)
{
    struct alert_notify *n = arg;
    pthread_mutex_lock(&n->mu);
    for (;;) {
        while (!n->n && !n->stop)
            pthread_cond_wait(&n->cv, &n->mu);
        if (!n->n && n->stop)
            break;
        struct item it = n->q[n->head];
        memset(&n->q[n->head], 0, sizeof it);
        n->head = (n->head + 1) % TS_NOTIFY_MAX_QUEUE;
        n->n--;
        n->busy = true;
        pthread_mutex_unlock(&n->mu);
        if (it.line)
            syslog(it.prio, "%s", it.line);
        if (it.am_body)
            deliver(n, n->cfg.alertmanager, it.am_body);
        if (it.json_body)
            deliver(n, n->cfg.webhook, it.json_body);
        item_free(&it);
        pthread_mutex_lock(&n->mu);
        n->busy = false;
        if (!n->n)
            pthread_cond_broadcast(&n->idle);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

struct alert_notify *alert_notify_new(const struct alert_config *cfg)
{
    if (!cfg->webhook[0] && !cfg->alertmanager[0] && !cfg->syslog)
        return NULL;
    struct alert_notify *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->cfg = *cfg;
    if (!n->cfg.instance[0] && gethostname(n->cfg.instance, sizeof n->cfg.instance - 1) != 0)
        snprintf(n->cfg.instance, sizeof n->cfg.instance, "trunkscope");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(n);
        return NULL;
    }
    if (cfg->syslog)
        openlog("trunkscope", LOG_PID, LOG_DAEMON);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    pthread_cond_init(&n->idle, NULL);
    if (pthread_create(&n->thread, NULL, run, n) != 0) {
        pthread_mutex_destroy(&n->mu);
        pthread_cond_destroy(&n->cv);
        pthread_cond_destroy(&n->idle);
        curl_global_cleanup();
        free(n);
        return NULL;
    }
    return n;
}

void alert_notify_send(struct alert_notify *n, const struct alert_event *ev)
{
    if (!n)
        return;
    struct item it = { 0 };
    if (ev->resend && !n->cfg.alertmanager[0])
        return; /* the webhook and syslog get transitions only */
    if (n->cfg.alertmanager[0])
        it.am_body = json_text(am_alert, ev, n->cfg.instance);
    if (n->cfg.webhook[0] && !ev->resend)
        it.json_body = json_text(plain_alert, ev, n->cfg.instance);
    if (n->cfg.syslog && !ev->resend) {
        size_t cap = 512;
        it.line = malloc(cap);
        if (it.line)
            snprintf(it.line, cap, "alert %s %s %s (%s): %s", ev->rule, ev->state, ev->target,
                     ev->severity, ev->summary);
        bool res = !strcmp(ev->state, "resolved");
        it.prio = res ? LOG_NOTICE : !strcmp(ev->severity, "critical") ? LOG_CRIT : LOG_WARNING;
    }
    pthread_mutex_lock(&n->mu);
    if (n->n == TS_NOTIFY_MAX_QUEUE) {
        /* a receiver down for long: the oldest goes, memory stays bounded */
        item_free(&n->q[n->head]);
        n->head = (n->head + 1) % TS_NOTIFY_MAX_QUEUE;
        n->n--;
        n->st.dropped++;
    }
    n->q[(n->head + n->n) % TS_NOTIFY_MAX_QUEUE] = it;
    n->n++;
    n->st.queued++;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

bool alert_notify_flush(struct alert_notify *n, int timeout_ms)
{
    if (!n)
        return true;
    struct timespec dl;
    ts_deadline(CLOCK_REALTIME, timeout_ms > 0 ? (uint32_t)timeout_ms : 0, &dl);
    pthread_mutex_lock(&n->mu);
    int rc = 0;
    while ((n->n || n->busy) && rc == 0)
        rc = pthread_cond_timedwait(&n->idle, &n->mu, &dl);
    bool empty = !n->n && !n->busy;
    pthread_mutex_unlock(&n->mu);
    return empty;
}

void alert_notify_stats(struct alert_notify *n, struct alert_notify_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    *out = n->st;
    pthread_mutex_unlock(&n->mu);
}

void alert_notify_free(struct alert_notify *n)
{
    if (!n)
        return;
    alert_notify_flush(n, 5000);
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    while (n->n) {
        item_free(&n->q[n->head]);
        n->head = (n->head + 1) % TS_NOTIFY_MAX_QUEUE;
        n->n--;
    }
    if (n->cfg.syslog)
        closelog();
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    pthread_cond_destroy(&n->idle);
    curl_global_cleanup();
    free(n);
}
