/* Retention of the store writer: between batches, old data is deleted in
 * small transactions of at most retention_batch calls (with their legs,
 * messages, streams and series), by age relative to the newest call and by
 * database size. Writer thread only. */
#include "writer_int.h"


/* Cut-off time below which data goes: by age relative to the newest call
 * (offline captures are old; wall clock would delete them at once), and by
 * size (the oldest batch of calls while the used pages exceed the cap).
 * 0 = nothing to delete. */
static int64_t retention_cutoff(struct st_writer *w)
{
    int64_t cut = 0;
    uint32_t n = w->opt.retention_batch;
    if (w->opt.retention_days) {
        int64_t newest = q_i64(w, "SELECT max(start) FROM calls WHERE ?1=?1", 0, 0);
        int64_t age = (int64_t)w->opt.retention_days * 86400 * (int64_t)NS_PER_S;
        if (newest > age)
            cut = newest - age;
    }
    if (w->opt.retention_mb) {
        int64_t pages = q_i64(w, "SELECT page_count FROM pragma_page_count WHERE ?1=?1", 0, 0);
        int64_t fl = q_i64(w, "SELECT freelist_count FROM pragma_freelist_count WHERE ?1=?1", 0, 0);
        int64_t psz = q_i64(w, "SELECT page_size FROM pragma_page_size WHERE ?1=?1", 0, 4096);
        if ((pages - fl) * psz > (int64_t)w->opt.retention_mb * 1024 * 1024) {
            int64_t c = q_i64(w, "SELECT start FROM calls ORDER BY start LIMIT 1 OFFSET ?1",
                              (int64_t)n - 1, -1);
            if (c < 0) /* fewer calls than a batch: take them all */
                c = q_i64(w, "SELECT max(start) FROM calls WHERE ?1=?1", 0, -1);
            if (c < 0) /* no calls at all: the oldest messages */
                c = q_i64(w, "SELECT ts FROM sip_messages ORDER BY ts LIMIT 1 OFFSET ?1",
                          (int64_t)n - 1, -1);
            if (c >= 0 && c + 1 > cut)
                cut = c + 1;
        }
    }
    return cut;
}

/* One deletion transaction of at most retention_batch calls (and their
 * legs, messages, streams) plus as many stray messages. Returns true when
 * more remains. */
bool st_retention_step(struct st_writer *w)
{
    int64_t cut = retention_cutoff(w);
    int64_t n = w->opt.retention_batch;
    if (cut <= 0)
        return false;
    if (q_i64(w, "SELECT 1 FROM calls WHERE start < ?1 LIMIT 1", cut, 0) == 0 &&
        q_i64(w, "SELECT 1 FROM sip_messages WHERE ts < ?1 LIMIT 1", cut, 0) == 0)
        return false;
    int ncalls = 0, nmsgs = 0;
    /* the delete triggers keep the rollups */
    bool ok = st_writer_triggers(w, true) && exec(w, "BEGIN IMMEDIATE") &&
              exec(w, "CREATE TEMP TABLE IF NOT EXISTS st_del(id INTEGER PRIMARY KEY);"
                      "DELETE FROM temp.st_del") &&
              exec_bind2(w, "INSERT INTO temp.st_del SELECT id FROM calls WHERE start < ?1 "
                            "ORDER BY start LIMIT ?2", cut, n, &ncalls) &&
              exec(w, "DELETE FROM sip_messages WHERE id IN (SELECT k.msg_id FROM legs l "
                      "JOIN temp.st_del d ON l.call_ref=d.id JOIN sip_links k ON k.leg_id=l.id);"
                      "DELETE FROM sip_links WHERE leg_id IN (SELECT l.id FROM legs l "
                      "JOIN temp.st_del d ON l.call_ref=d.id);"
                      "DELETE FROM rtp_intervals WHERE stream_id IN (SELECT id FROM "
                      "rtp_streams WHERE call_ref IN temp.st_del);"
                      "DELETE FROM rtp_streams WHERE call_ref IN temp.st_del;"
                      "DELETE FROM rtcp_reports WHERE call_ref IN temp.st_del;"
                      "DELETE FROM legs WHERE call_ref IN temp.st_del;"
                      "DELETE FROM calls WHERE id IN temp.st_del;") &&
              exec_bind2(w, "DELETE FROM sip_messages WHERE id IN (SELECT id FROM "
                            "sip_messages WHERE ts < ?1 ORDER BY ts LIMIT ?2)", cut, n, &nmsgs) &&
              exec_bind2(w, "DELETE FROM kpi_minute WHERE minute < ?1 AND ?2=?2", cut, 0, NULL) &&
              /* streams whose leg never came */
              exec_bind2(w, "DELETE FROM rtp_intervals WHERE stream_id IN (SELECT id FROM "
                            "rtp_streams WHERE leg_id IS NULL AND last_ts < ?1 ORDER BY id "
                            "LIMIT ?2)", cut, n, NULL) &&
              exec_bind2(w, "DELETE FROM rtp_streams WHERE id IN (SELECT id FROM rtp_streams "
                            "WHERE leg_id IS NULL AND last_ts < ?1 ORDER BY id LIMIT ?2)",
                         cut, n, NULL) &&
              exec(w, "COMMIT");
    char why[sizeof w->st.last_error] = "";
    if (!ok)
        note_reason(w, why, sizeof why);
    pthread_mutex_lock(&w->mu);
    if (ok) {
        w->st.retention_deleted += (uint64_t)ncalls;
    } else {
        w->st.errors++;
        memcpy(w->st.last_error, why, sizeof why);
    }
    pthread_mutex_unlock(&w->mu);
    if (!ok) {
        exec(w, "ROLLBACK");
        return false;
    }
    st_link_check_ids(w);
    return ncalls == n || nmsgs == n;
}
