/* The Lync trunk checklist in the live sensor and the collector: fed with
 * every finished call and stream on the analysis thread, read there every
 * time a bucket closes (the KPI bucket: a minute by default) and stored by
 * a thread of its own into trunk_checklist (the table analyze --db
 * writes, served by GET /api/v1/trunks/{id}/checklist), so the analysis
 * thread never waits for the database. */
#ifndef TS_CLI_CHECKLIST_LIVE_H
#define TS_CLI_CHECKLIST_LIVE_H

#include <stdint.h>

struct calls;
struct calls_call;
struct media_stream;
struct checklist_live;

/* NULL (logged) when memory is short or the database cannot be opened. */
struct checklist_live *checklist_live_start(const char *db);
/* Analysis thread. */
void checklist_live_call(struct checklist_live *l, const struct calls_call *c);
void checklist_live_stream(struct checklist_live *l, const struct media_stream *s);
/* Analysis thread, at data time now_ns: a new bucket hands the results of
 * every trunk of c to the storing thread (a newer one replaces one not yet
 * stored), which stores them once the writer w has written the calls
 * queued before (a mark in its queue behind them). */
struct st_writer;
void checklist_live_step(struct checklist_live *l, struct st_writer *w, const struct calls *c,
                         uint64_t now_ns, uint64_t bucket_ns);
/* After the analysis thread ended and the calls were written: every held
 * leg judged, the final results stored, the thread joined. NULL ok. */
void checklist_live_stop(struct checklist_live *l, const struct calls *c);

#endif
