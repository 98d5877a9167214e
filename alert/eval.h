/* The alert evaluator: every period it reads each trunk's recent numbers
 * and the OPTIONS keep-alives from the database (store/alerts.h), computes
 * each rule's value, moves each (rule, target) through pending -> firing
 * -> resolved (the `for` time, the clear threshold as hysteresis), stores
 * every transition with its evidence (numbers and call ids), hands firing
 * and resolved ones to the notifier, and writes each trunk's health with
 * its reasons. Time is the data's: the sensor's capture clock, or the
 * capture's when analyze replays a finished database. */
#ifndef TS_ALERT_EVAL_H
#define TS_ALERT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify.h"
#include "rules.h"

/* Which rules an evaluator runs: the data writers (sensor, collector,
 * analyze) run those over the traffic; `serve` watches the sensor. */
enum { ALERT_EVAL_DATA = 1, ALERT_EVAL_SENSOR = 2 };

struct alert_eval;
/* cfg copied; n (may be NULL) not owned. NULL with a reason in err. */
struct alert_eval *alert_eval_new(const struct alert_config *cfg, const char *db_path,
                                  struct alert_notify *n, unsigned what, char *err,
                                  size_t errlen);
void alert_eval_free(struct alert_eval *e); /* NULL ok */
/* One evaluation at data time now_ns (wall_ns: the wall clock, for the
 * sensor's silence). drops: the sensor's dropped packets so far (0 without
 * a capture). 0 on success. */
int alert_eval_run(struct alert_eval *e, int64_t now_ns, int64_t wall_ns, uint64_t drops);
/* Evaluations every cfg->eval_ns over the stored data's time range, then
 * one at its end plus the longest window (so faults at the end resolve or
 * stay as the data says). 0 on success. */
int alert_eval_replay(struct alert_eval *e);
/* The data time a live evaluation should use now (the sensor's capture
 * clock, else the newest INVITE); 0 when the database holds nothing. */
int64_t alert_eval_data_now(struct alert_eval *e);

struct alert_eval_stats {
    uint64_t runs, fired, resolved, skipped;
    uint64_t resent;    /* firing alerts posted to Alertmanager again */
    size_t pending, firing;
    /* the last run: reading (no lock held) and its write transaction, and
     * the longest write transaction of any run (monotonic ns) */
    int64_t read_ns, write_ns, write_ns_max;
};
void alert_eval_stats(const struct alert_eval *e, struct alert_eval_stats *out);

#endif
