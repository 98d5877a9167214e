/* Alert rules and notification settings: the shipped defaults
 * (alert/defaults.conf, compiled in) overridden by the `alert.*`,
 * `notify.*` and `capacity` keys of the configuration file. Pure parsing. */
#ifndef TS_ALERT_RULES_H
#define TS_ALERT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"

enum alert_metric {
    AM_ASR_DROP = 0,   /* baseline ASR - ASR of the window */
    AM_NER_DROP,       /* baseline NER - NER */
    AM_5XX_SHARE,      /* legs ended by a 5xx / attempts */
    AM_PDD_P95,        /* ms */
    AM_MOS,            /* mean leg MOS */
    AM_LOSS,           /* mean of the legs' worst stream loss, % */
    AM_NO_RTP,         /* answered legs one-way or without audio / answered */
    AM_OPTIONS_MISSES, /* OPTIONS unanswered in a row, per peer */
    AM_CAPACITY,       /* peak concurrent / configured channels */
    AM_CAPTURE_DROPS,  /* packets the sensor dropped since the last evaluation */
    AM_SENSOR_SILENT,  /* seconds since a running sensor's last snapshot */
    AM_DEST_BURST,     /* attempts to the busiest single destination */
    AM_SHORT_CALLS,    /* answered calls shorter than short_call_s / answered */
    AM_INTL_ATTEMPTS,  /* calls out to other countries (needs country_code) */
    AM_QUIET_ATTEMPTS, /* calls out begun in the unusual hours (alert_quiet_hours) */
    AM_CERT_DAYS,      /* days until a TLS peer's certificate expires (negative: expired) */
    AM_N
};

struct alert_rule {
    char name[32];
    enum alert_metric metric;
    bool enabled;
    double threshold, clear;
    int64_t for_ns, window_ns;
    uint32_t min;
    char severity[12];   /* "warning" or "critical" */
};

struct alert_capacity {
    char addr[64];       /* trunk peer address */
    uint32_t channels;
};

struct alert_config {
    struct alert_rule rules[TS_ALERT_MAX_RULES];
    size_t nrules;
    struct alert_capacity caps[TS_ALERT_MAX_RULES];
    size_t ncaps;
    char webhook[512];       /* plain JSON POST */
    char alertmanager[512];  /* Alertmanager API v2 base URL (…/api/v2/alerts) */
    bool syslog;
    char instance[64];       /* the `instance` label (default: the host name) */
    double short_call_s;     /* a call answered for less counts as short */
    char country_code[8];    /* the calls configuration's: what is international */
    char intl_prefix[8];
    int quiet_from_h, quiet_to_h; /* alert_quiet_hours = FROM-TO (local hours); -1 none */
    int32_t utc_offset_min;  /* alert_utc_offset_min: local time = UTC + this */
    int64_t eval_ns;         /* evaluation period */
    int64_t resend_ns;       /* firing alerts posted to Alertmanager again this often
                              * (notify.resend_s; 0: never), before its resolve_timeout */
};

/* Defaults: the compiled-in rules, no notification, 6-s short calls,
 * 10-s evaluations. 0, or -1 if the compiled-in text is broken. */
int alert_config_default(struct alert_config *c);
/* Apply one `key = value` of a configuration file; keys that are not ours
 * return 1 (ignored), ours 0, a bad value -1 with a reason in err. */
int alert_config_set(struct alert_config *c, const char *key, const char *value, char *err,
                     size_t errlen);
/* Read path's keys of ours; 0, or -1 with "path:line: reason" in err. */
int alert_config_load(struct alert_config *c, const char *path, char *err, size_t errlen);
const char *alert_metric_name(enum alert_metric m);
/* Rules that fire on low values (clear above threshold). */
bool alert_rule_below(const struct alert_rule *r);

#endif
