/* The leg_agents directory (schema v23): every User-Agent and Server
 * string of the stored legs with the first and last leg id that carried
 * it, kept by the writer once per transaction from the legs it wrote, so
 * that the call list's user_agent filter (store/query.c) answers a word no
 * leg has from this small table and reads the legs of a rarer one in its
 * id range only. No RFC: SIP's User-Agent and Server headers (RFC 3261
 * 20.41, 20.35) are stored as the legs carry them. */
#include <stdio.h>

#include "../common/limits.h"
#include "store_int.h"
#include "writer_int.h"

void st_agents_note(struct st_writer *w, int64_t leg_id)
{
    if (!w->agents_lo || leg_id < w->agents_lo)
        w->agents_lo = leg_id;
    if (leg_id > w->agents_hi)
        w->agents_hi = leg_id;
}

bool st_agents_flush(struct st_writer *w)
{
    int64_t lo = w->agents_lo, hi = w->agents_hi;
    w->agents_lo = w->agents_hi = 0;
    if (!lo)
        return true;
    /* the rows of ids in [lo, hi] are this transaction's legs and a few
     * older ones between them (adding a string again changes nothing); one
     * upsert per string, not per leg */
    char sql[1200];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO leg_agents SELECT user_agent, min(id), max(id) FROM legs WHERE"
                     " id BETWEEN %1$lld AND %2$lld AND user_agent IS NOT NULL GROUP BY 1 "
                     ST_AGENTS_MERGE ";"
                     "INSERT INTO leg_agents SELECT server, min(id), max(id) FROM legs WHERE"
                     " id BETWEEN %1$lld AND %2$lld AND server IS NOT NULL GROUP BY 1 "
                     ST_AGENTS_MERGE ";"
                     "UPDATE leg_agents_state SET upto=max(upto, %2$lld);" ST_AGENTS_EVICT,
                     (long long)lo, (long long)hi);
    if (n < 0 || (size_t)n >= sizeof sql)
        return false;
    return sqlite3_exec(w->h, sql, NULL, NULL, NULL) == SQLITE_OK;
}
