/* The leg_ports directory (schema v25): per port a stored leg used as its
 * SIP source or destination, the first and last leg id that used it, kept
 * by the writer once per transaction from the legs it wrote, so that the
 * call list's port filter (store/query.c) reads the legs of the port's id
 * range only instead of the newest TS_API_LEG_SCAN_MAX legs. No RFC: the
 * ports are the transport's (RFC 768, RFC 793) as the legs store them. */
#include <stdio.h>

#include "../common/limits.h"
#include "store_int.h"
#include "writer_int.h"

bool st_ports_flush(struct st_writer *w)
{
    /* the legs of this transaction: the range agents.c keeps (it clears it) */
    int64_t lo = w->agents_lo, hi = w->agents_hi;
    if (!lo)
        return true;
    /* the ids in [lo, hi] are this transaction's legs and maybe a few
     * older ones between them (adding a port again changes nothing); one
     * upsert per port, not per leg */
    char sql[900];
    int n = snprintf(sql, sizeof sql,
                     "INSERT INTO leg_ports SELECT p, min(id), max(id) FROM (SELECT sport AS p, id"
                     " FROM legs WHERE id BETWEEN %1$lld AND %2$lld UNION ALL SELECT dport, id FROM"
                     " legs WHERE id BETWEEN %1$lld AND %2$lld) WHERE p BETWEEN 0 AND "
                     ST_PORTS_TOP " GROUP BY p " ST_AGENTS_MERGE ";"
                     "UPDATE leg_ports_state SET upto=max(upto, %2$lld);",
                     (long long)lo, (long long)hi);
    if (n < 0 || (size_t)n >= sizeof sql)
        return false;
    return sqlite3_exec(w->h, sql, NULL, NULL, NULL) == SQLITE_OK;
}
