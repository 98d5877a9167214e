/* Private to store/: the SQLite handle, schema set-up and small helpers
 * shared by the writer, the reader and the exporter. */
#ifndef TS_STORE_INT_H
#define TS_STORE_INT_H

#include <sqlite3.h>
#include <string.h>

#include "../common/limits.h"
#include "store.h"

/* leg_agents (schema v23): an INSERT ... SELECT of (string, id, id) rows
 * adds each string or widens its leg id range; then, past
 * TS_STORE_AGENTS_MAX strings, those last seen longest ago go and
 * leg_agents_state.evicted_upto says up to which leg id the table may lack
 * a string (schema.c's step, agents.c per transaction). */
#define ST_AGENTS_MERGE                                                                        \
    "ON CONFLICT DO UPDATE SET first_leg=min(first_leg, excluded.first_leg),"                  \
    " last_leg=max(last_leg, excluded.last_leg)"
#define ST_AGENTS_EVICT                                                                        \
    "UPDATE leg_agents_state SET evicted_upto=max(evicted_upto, (SELECT last_leg FROM"         \
    " leg_agents ORDER BY last_leg DESC LIMIT 1 OFFSET " TS_STR(TS_STORE_AGENTS_MAX) "))"      \
    " WHERE (SELECT count(*) FROM leg_agents) > " TS_STR(TS_STORE_AGENTS_MAX) ";"              \
    "DELETE FROM leg_agents WHERE last_leg <= (SELECT evicted_upto FROM leg_agents_state);"

/* leg_ports (schema v25): the highest port a row may have (the legs'
 * ports are 16-bit, so the table has at most TS_STORE_PORTS_MAX rows). */
#define ST_PORTS_TOP TS_STR(TS_STORE_PORTS_TOP)

struct st_db {
    sqlite3 *h;
};

/* kpi_hour (schema v28): an hour's ns, as a number and as SQL text, and
 * its row's sums over its kpi_minute rows, for the step's triggers
 * (schema.c) and the writer's S_KPI_HOUR (records.c) alike */
#define ST_HOUR_NS_N 3600000000000
#define ST_HOUR_NS TS_STR(ST_HOUR_NS_N)
#define ST_KPI_HOUR_SUMS                                                                       \
    "sum(attempts), sum(answered), sum(busy), sum(rejected), sum(cancelled), sum(failed),"     \
    " sum(timeouts), sum(srd_sum_ms), sum(srd_n), sum(ans_sum_ms), sum(ans_n), sum(dur_sum_s),"\
    " sum(dur_n), max(peak_concurrent)"

/* Open path, set WAL/synchronous/busy timeout and bring the schema to
 * ST_SCHEMA_VERSION (unless readonly). ST_OK, ST_ERR_NEWER, ST_ERR_OPEN. */
int st_open_handle(const char *path, bool readonly, sqlite3 **out, char *err, size_t errlen);
/* An empty database at ST_SCHEMA_VERSION, made at build time by the
 * migration steps (scripts/schema_template.c): a new file starts as it. */
extern const unsigned char st_schema_image[];
extern const size_t st_schema_image_len;
/* Create the schema of one version from scratch (v1 exists for migration
 * tests), or run the forward migrations from the current user_version. */
int st_schema_migrate(sqlite3 *h, char *err, size_t errlen);
/* "1.2.3.4" / "2001:db8::1"; "" for family 0. */
void st_addr_text(const struct ts_addr *a, char *buf, size_t cap);
bool st_addr_parse(const char *s, struct ts_addr *out);
/* Column i of the current row as text, "" for NULL; valid until the next
 * step, reset or finalize of s. */
const char *st_col_text(sqlite3_stmt *s, int i);
/* sqlmem.c: before the process's first connection (every open in store/
 * calls it), SQLite's memory statistics off and its allocator counted per
 * thread; st_sqlmem_used() is the bytes SQLite holds now (its own
 * sqlite3_memory_used() when SQLite was initialised before, and counting
 * is off: st_sqlmem_counting()). */
void st_sqlmem_setup(void);
uint64_t st_sqlmem_used(void);
bool st_sqlmem_counting(void);

/* The first max characters of d reversed into out (max + 1 bytes), as
 * legs.caller_rev and callee_rev hold a leg's digits (schema v26) and a
 * search by the last digits looks them up; the length. */
static inline size_t st_digits_rev(const char *d, size_t max, char *out)
{
    size_t n = strnlen(d, max);
    for (size_t i = 0; i < n; i++)
        out[i] = d[n - 1 - i];
    out[n] = '\0';
    return n;
}

#endif
