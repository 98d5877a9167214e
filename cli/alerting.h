/* The alert evaluator as the commands run it: a thread in `capture`,
 * `collect` and `serve`, a replay over the stored data in `analyze`. */
#ifndef TS_CLI_ALERTING_H
#define TS_CLI_ALERTING_H

#include <stdint.h>

#include "../alert/rules.h"

/* Defaults, then the `alert.*`/`notify.*`/`capacity` keys of config_path
 * (may be NULL): 0, or 2 after a one-line error naming prog. */
int cli_alerts_config(const char *config_path, const char *prog, struct alert_config *out);

struct cli_alerts;
/* Evaluates every cfg->eval_ns until cli_alerts_stop. what: ALERT_EVAL_*.
 * drops (may be NULL) gives the capture's dropped packets so far. NULL
 * (logged) when the evaluator cannot start. */
struct cli_alerts *cli_alerts_start(const struct alert_config *cfg, const char *db, unsigned what,
                                    uint64_t (*drops)(void *), void *ctx);
void cli_alerts_stop(struct cli_alerts *a); /* NULL ok */
/* analyze --db: the lifecycle over the stored capture's time, notifications
 * delivered (up to 10 s) before it returns. 0, or -1 (logged). */
int cli_alerts_replay(const struct alert_config *cfg, const char *db, const char *prog);

#endif
