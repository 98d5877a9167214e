/* Alert notifications: an Alertmanager API v2 POST (labels, annotations,
 * startsAt/endsAt; Alertmanager routes them on to mail, Slack, Teams,
 * PagerDuty), a plain JSON webhook, and syslog. A bounded queue and one
 * delivery thread: the evaluator never waits for a receiver; failed posts
 * are retried with a doubling back-off, the oldest is dropped when full.
 * HTTP goes through libcurl (only this file includes curl). */
#ifndef TS_ALERT_NOTIFY_H
#define TS_ALERT_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"

struct alert_event {
    int64_t id;
    const char *rule, *severity, *state;  /* state: "firing" or "resolved" */
    const char *scope, *target, *site;    /* site may be "" */
    int64_t trunk_id;
    const char *summary;
    double value, threshold;
    int64_t started_ns, fired_ns, resolved_ns; /* data time; 0 none */
    const char *evidence;                 /* JSON text or NULL */
    bool resend;                          /* a firing alert posted again: to
                                           * Alertmanager only (its resolve_timeout) */
};

struct alert_notify_stats {
    uint64_t queued, sent, failed, retried, dropped;
};

struct alert_notify;
/* NULL when nothing is configured (no URL, no syslog) or on failure. */
struct alert_notify *alert_notify_new(const struct alert_config *cfg);
/* Copies ev into the queue; never blocks on the network. NULL n: no-op. */
void alert_notify_send(struct alert_notify *n, const struct alert_event *ev);
/* Waits until the queue is empty or timeout_ms passed; true if empty. */
bool alert_notify_flush(struct alert_notify *n, int timeout_ms);
void alert_notify_stats(struct alert_notify *n, struct alert_notify_stats *out);
/* Flushes for up to 5 s, then stops the thread. NULL ok. */
void alert_notify_free(struct alert_notify *n);

#endif
