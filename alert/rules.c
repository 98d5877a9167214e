/* Alert rules: the compiled-in defaults and the configuration's overrides
 * (alert/rules.h). */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "../common/num.h"

/* alert/defaults.conf, embedded at build time */
extern const char ts_alert_defaults[];

static const char *const METRIC[AM_N] = {
    "asr_drop", "ner_drop", "5xx_share", "pdd_p95_ms", "mos", "loss_pct", "no_rtp_share",
    "options_misses", "capacity_use", "capture_drops", "sensor_silent_s", "dest_burst",
    "short_share", "intl_attempts", "quiet_hour_attempts", "cert_days_left",
};

const char *alert_metric_name(enum alert_metric m)
{
    return (unsigned)m < AM_N ? METRIC[m] : "?";
}

bool alert_rule_below(const struct alert_rule *r)
{
    return r->clear > r->threshold;
}

static struct alert_rule *rule_get(struct alert_config *c, const char *name, bool create)
{
    for (size_t i = 0; i < c->nrules; i++)
        if (!strcmp(c->rules[i].name, name))
            return &c->rules[i];
    if (!create || c->nrules >= TS_ALERT_MAX_RULES)
        return NULL;
    struct alert_rule *r = &c->rules[c->nrules++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->metric = AM_N; /* until `metric` names one */
    r->enabled = true;
    r->window_ns = 600ll * 1000000000ll;
    snprintf(r->severity, sizeof r->severity, "warning");
    return r;
}

static int bad(char *err, size_t errlen, const char *fmt, const char *a)
{
    snprintf(err, errlen, fmt, a);
    return -1;
}

/* The next blank-separated word of *p (NUL-terminated in place), NULL at the end. */
static char *word(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    *p = *e ? e + 1 : e;
    *e = '\0';
    return s;
}

/* "metric M threshold X clear Y for S window S min N severity S" or "off"/"on" */
static int rule_set(struct alert_config *c, const char *name, const char *value, char *err,
                    size_t errlen)
{
    if (!*name || strlen(name) >= sizeof c->rules[0].name)
        return bad(err, errlen, "alert.%s: a rule name of 1 to 31 characters", name);
    struct alert_rule *r = rule_get(c, name, true);
    if (!r)
        return bad(err, errlen, "alert.%s: too many rules", name);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", value);
    char *cur = buf;
    for (char *k = word(&cur); k; k = word(&cur)) {
        if (!strcmp(k, "off") || !strcmp(k, "on")) {
            r->enabled = k[1] == 'n';
            continue;
        }
        char *v = word(&cur);
        if (!v)
            return bad(err, errlen, "alert rule: '%s' needs a value", k);
        double d;
        uint64_t u;
        if (!strcmp(k, "metric")) {
            unsigned m = 0;
            while (m < AM_N && strcmp(METRIC[m], v))
                m++;
            if (m == AM_N)
                return bad(err, errlen, "alert rule: unknown metric '%s'", v);
            r->metric = (enum alert_metric)m;
        } else if (!strcmp(k, "threshold") || !strcmp(k, "clear")) {
            if (!num_double(v, -1e12, 1e12, &d))
                return bad(err, errlen, "alert rule: '%s' is not a number", v);
            if (k[0] == 't')
                r->threshold = d;
            else
                r->clear = d;
        } else if (!strcmp(k, "for") || !strcmp(k, "window")) {
            if (!num_u64(v, 0, 7 * 86400, &u))
                return bad(err, errlen, "alert rule: '%s' is not a number of seconds (0..604800)", v);
            if (k[0] == 'f')
                r->for_ns = (int64_t)u * 1000000000ll;
            else
                r->window_ns = (int64_t)(u ? u : 1) * 1000000000ll;
        } else if (!strcmp(k, "min")) {
            if (!num_u64(v, 0, 1000000, &u))
                return bad(err, errlen, "alert rule: min '%s' is not 0..1000000", v);
            r->min = (uint32_t)u;
        } else if (!strcmp(k, "severity")) {
            if (strcmp(v, "warning") && strcmp(v, "critical"))
                return bad(err, errlen, "alert rule: severity '%s' is not warning or critical", v);
            snprintf(r->severity, sizeof r->severity, "%s", v);
        } else {
            return bad(err, errlen, "alert rule: unknown key '%s' (metric, threshold, clear, for, "
                                    "window, min, severity, off)", k);
        }
    }
    if (r->metric == AM_N)
        return bad(err, errlen, "alert.%s: a new rule needs a metric", name);
    return 0;
}

int alert_config_set(struct alert_config *c, const char *key, const char *value, char *err,
                     size_t errlen)
{
    if (!strncmp(key, "alert.", 6))
        return rule_set(c, key + 6, value, err, errlen);
    if (!strcmp(key, "notify.webhook") || !strcmp(key, "notify.alertmanager")) {
        char *dst = key[7] == 'w' ? c->webhook : c->alertmanager;
        if (strlen(value) >= sizeof c->webhook ||
            (strncmp(value, "http://", 7) && strncmp(value, "https://", 8) && *value))
            return bad(err, errlen, "%s: an http:// or https:// URL (under 512 bytes)", key);
        snprintf(dst, sizeof c->webhook, "%s", value);
        return 0;
    }
    if (!strcmp(key, "notify.syslog")) {
        if (strcmp(value, "on") && strcmp(value, "off"))
            return bad(err, errlen, "%s: on or off", key);
        c->syslog = value[1] == 'n';
        return 0;
    }
    if (!strcmp(key, "notify.resend_s")) {
        uint64_t u;
        if (!num_u64(value, 0, 86400, &u))
            return bad(err, errlen, "%s: seconds, 0 (never) to 86400", key);
        c->resend_ns = (int64_t)u * 1000000000ll;
        return 0;
    }
    if (!strcmp(key, "notify.instance")) {
        snprintf(c->instance, sizeof c->instance, "%s", value);
        return 0;
    }
    if (!strcmp(key, "alert_short_call_s")) {
        if (!num_double(value, 0, 3600, &c->short_call_s))
            return bad(err, errlen, "%s: seconds, 0..3600", key);
        return 0;
    }
    if (!strcmp(key, "alert_quiet_hours")) {
        /* FROM-TO in whole hours, local time; "off" */
        uint64_t f, t;
        char a[8], b[8];
        const char *dash = strchr(value, '-');
        if (!strcmp(value, "off")) {
            c->quiet_from_h = c->quiet_to_h = -1;
            return 0;
        }
        if (!dash || dash == value || (size_t)(dash - value) >= sizeof a || strlen(dash + 1) >= sizeof b)
            return bad(err, errlen, "%s: FROM-TO hours such as 22-6 (0..23), or off", key);
        memcpy(a, value, (size_t)(dash - value));
        a[dash - value] = '\0';
        snprintf(b, sizeof b, "%s", dash + 1);
        if (!num_u64(a, 0, 23, &f) || !num_u64(b, 0, 23, &t) || f == t)
            return bad(err, errlen, "%s: FROM-TO hours such as 22-6 (0..23, FROM not TO), or off",
                       key);
        c->quiet_from_h = (int)f;
        c->quiet_to_h = (int)t;
        return 0;
    }
    if (!strcmp(key, "alert_utc_offset_min")) {
        int64_t v;
        if (!num_i64(value, -14 * 60, 14 * 60, &v))
            return bad(err, errlen, "%s: minutes east of UTC, -840..840", key);
        c->utc_offset_min = (int32_t)v;
        return 0;
    }
    if (!strcmp(key, "country_code") || !strcmp(key, "intl_prefix")) {
        /* the calls configuration's keys: read here too, left to it (1) */
        char *dst = key[0] == 'c' ? c->country_code : c->intl_prefix;
        snprintf(dst, sizeof c->country_code, "%s", value);
        return 1;
    }
    if (!strcmp(key, "alert_eval_s")) {
        uint64_t u;
        if (!num_u64(value, 1, 3600, &u))
            return bad(err, errlen, "%s: seconds, 1..3600", key);
        c->eval_ns = (int64_t)u * 1000000000ll;
        return 0;
    }
    if (!strcmp(key, "capacity")) {
        /* capacity = PEER-ADDRESS CHANNELS */
        char a[64];
        const char *sp = strpbrk(value, " \t");
        uint64_t n;
        size_t al = sp ? (size_t)(sp - value) : 0;
        if (!sp || al >= sizeof a || c->ncaps >= TS_ALERT_MAX_RULES)
            return bad(err, errlen, "%s: PEER-ADDRESS CHANNELS", key);
        memcpy(a, value, al);
        a[al] = '\0';
        while (*sp == ' ' || *sp == '\t')
            sp++;
        if (!num_u64(sp, 1, 1000000, &n))
            return bad(err, errlen, "%s: PEER-ADDRESS CHANNELS (1..1000000)", key);
        snprintf(c->caps[c->ncaps].addr, sizeof c->caps[0].addr, "%s", a);
        c->caps[c->ncaps++].channels = (uint32_t)n;
        return 0;
    }
    return 1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* One line of a file or the defaults: -1 on error (err set), else 0. */
static int line_apply(struct alert_config *c, char *line, char *err, size_t errlen)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *s = trim(line);
    char *eq = strchr(s, '=');
    if (!*s || !eq)
        return 0; /* the calls configuration reports lines without '=' */
    *eq = '\0';
    return alert_config_set(c, trim(s), trim(eq + 1), err, errlen) < 0 ? -1 : 0;
}

int alert_config_default(struct alert_config *c)
{
    memset(c, 0, sizeof *c);
    c->short_call_s = 6;
    c->quiet_from_h = c->quiet_to_h = -1;
    snprintf(c->intl_prefix, sizeof c->intl_prefix, "00");
    c->eval_ns = 10ll * 1000000000ll;
    c->resend_ns = 60ll * 1000000000ll; /* Alertmanager's resolve_timeout is 5 min */
    char err[160];
    const char *p = ts_alert_defaults;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        if (n >= sizeof line)
            return -1;
        memcpy(line, p, n);
        line[n] = '\0';
        if (line_apply(c, line, err, sizeof err) < 0)
            return -1;
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

int alert_config_load(struct alert_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    char line[1024], why[200];
    unsigned no = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        if (line_apply(c, line, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%u: %s", path, no, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}
