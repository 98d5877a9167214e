/* The rows each record becomes (the store writer's thread, inside its
 * batch transaction): messages, calls and their legs, RTP streams and their
 * series, captures, and the snapshots of trunks, registrations, legs in
 * progress and the learned topology. The SQL of every prepared statement is
 * here, next to the code that binds it. */
#include "writer_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>


/* Bytes of a capture hashed to recognise it when analysed again. */
#define HEAD_HASH_BYTES (64u * 1024)
/* Series points of a stream per interval: 5 s (media's series step). */
#define SERIES_STEP_NS (5ull * NS_PER_S)

/* A stream's MOS for its leg (media_stream_leg_mos): 1.0 when one-way. */
#define ST_LEG_MOS "(CASE WHEN flags&1 THEN 1.0 ELSE mos END)"

/* The upsert of call_minutes and of call_seconds (v25): the sums they share. */
#define CALL_SUMS_SET                                                                   \
    "ON CONFLICT DO UPDATE SET calls=calls+excluded.calls,"                              \
    "attempts=attempts+excluded.attempts,answered=answered+excluded.answered,"           \
    "busy=busy+excluded.busy,rejected=rejected+excluded.rejected,"                       \
    "cancelled=cancelled+excluded.cancelled,failed=failed+excluded.failed,"              \
    "timeouts=timeouts+excluded.timeouts,pdd_sum=pdd_sum+excluded.pdd_sum,"              \
    "pdd_n=pdd_n+excluded.pdd_n,dur_sum=dur_sum+excluded.dur_sum,"                       \
    "dur_n=dur_n+excluded.dur_n,mos_sum=mos_sum+excluded.mos_sum,mos_n=mos_n+excluded.mos_n"

const char *const st_stmt_sql[S_N] = {
    [S_SIP] = "INSERT INTO sip_messages(ts,src,sport,dst,dport,transport,call_id,method,status,"
              "cseq,cseq_method,raw,capture_id,frame,file_off) "
              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_CALL] = "INSERT INTO calls(capture_id,tracker_id,start,end,caller,callee,direction,"
               "outcome,failure_side,failure_detail,pdd_ms,duration_s,mos,legs,site,"
               "mos_reason,media_flags) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?16,?13,"
               "?14,?17,?18)",
    [S_LEG] = "INSERT INTO legs(call_ref,idx,call_id,from_user,to_user,ruri,pai,caller_digits,"
              "callee_digits,invite_ts,prov_ts,ring_ts,answer_ts,end_ts,bye_ts,final_status,"
              "reason,reason_hdr,q850,ms_diag,hangup_by,transport,src,sport,dst,dport,outcome,"
              "ev_type,ev_conf,linked_to,caller_codecs,callee_codecs,caller_media_addr,"
              "caller_media_port,callee_media_addr,callee_media_port,leg_ref,capture_gap,site,"
              "user_agent,server,endpoint_quality,mos,mos_reason,media_flags,caller_rev,"
              "callee_rev) "
              "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
              "?,?,?,?,?,?,?,?,?,?,?)",
    /* Appended in leg order (schema.c, version 6). A message is linked
     * once: the map forgets an id it linked, and links a range once. */
    [S_LINK_ID] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) VALUES(?1,?2)",
    /* two, four and eight of them in one statement (one step, one cursor) */
    [S_LINK_IDS2] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) VALUES(?1,?2),(?1,?3)",
    [S_LINK_IDS4] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) VALUES(?1,?2),(?1,?3),"
                    "(?1,?4),(?1,?5)",
    [S_LINK_IDS8] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) VALUES(?1,?2),(?1,?3),"
                    "(?1,?4),(?1,?5),(?1,?6),(?1,?7),(?1,?8),(?1,?9)",
    [S_LINK_RANGE] = "INSERT OR IGNORE INTO sip_links(leg_id,msg_id) SELECT ?1, id FROM "
                     "sip_messages WHERE id BETWEEN ?5 AND ?6 AND call_id=?2 AND "
                     "ts BETWEEN ?3 AND ?4",
    [S_CAP_FIND] = "SELECT id FROM captures WHERE path=? AND size=? AND mtime=? AND head_hash=?",
    [S_CAP_NEW] = "INSERT INTO captures(path,size,mtime,head_hash,sensor,started,kind) "
                  "VALUES(?,?,?,?,?,?,'file')",
    [S_CAP_REOPEN] = "UPDATE captures SET sensor=?2, started=?3, finished=NULL WHERE id=?1",
    [S_CAP_END] = "UPDATE captures SET finished=?2, first_ts=?3, last_ts=?4 WHERE id=?1",
    [S_TRUNK] = "INSERT INTO trunks(name,local_addr,peer_addr,itsp,attempts,answered,busy,"
                "rejected,cancelled,failed,timeouts,asr,ner,acd_s,pdd_mean_ms,pdd_p95_ms,"
                "peak_concurrent,peak_ts,updated,site,peak_kbps) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(local_addr,peer_addr) DO UPDATE SET name=excluded.name,"
                "itsp=excluded.itsp,attempts=excluded.attempts,answered=excluded.answered,"
                "busy=excluded.busy,rejected=excluded.rejected,cancelled=excluded.cancelled,"
                "failed=excluded.failed,timeouts=excluded.timeouts,asr=excluded.asr,"
                "ner=excluded.ner,acd_s=excluded.acd_s,pdd_mean_ms=excluded.pdd_mean_ms,"
                "pdd_p95_ms=excluded.pdd_p95_ms,peak_concurrent=excluded.peak_concurrent,"
                "peak_ts=excluded.peak_ts,updated=excluded.updated,"
                "site=coalesce(excluded.site,trunks.site),peak_kbps=excluded.peak_kbps RETURNING id",
    [S_KPI] = "INSERT OR REPLACE INTO kpi_minute(trunk_id,direction,minute,attempts,answered,"
              "busy,rejected,cancelled,failed,timeouts,srd_sum_ms,srd_n,ans_sum_ms,ans_n,"
              "dur_sum_s,dur_n,peak_concurrent) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_PEER] = "INSERT INTO peers(addr,name,kind,first_ts,last_ts) VALUES(?,?,?,?,?) "
               "ON CONFLICT(addr) DO UPDATE SET name=excluded.name,"
               "last_ts=max(coalesce(last_ts,0),excluded.last_ts)",
    [S_REG] = "INSERT INTO registrations(capture_id,client,server,aor,attempts,successes,"
              "challenges,failures,timeouts,rt_mean_ms,rt_max_ms,last_status,first_ts,"
              "last_ts,last_ok_ts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_KEEP] = "INSERT INTO keepalives(capture_id,client,server,attempts,successes,failures,"
               "timeouts,rt_mean_ms,rt_max_ms,last_status,first_ts,last_ts,last_ok_ts) "
               "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_STREAM] = "INSERT INTO rtp_streams(call_ref,leg_id,capture_id,src,sport,dst,dport,ssrc,"
                 "payload_type,codec,first_ts,last_ts,packets,lost,jitter_mean_ms,jitter_max_ms,"
                 "max_delta_ms,mos,flags,leg_ref,clock_rate,payload_types,bytes,expected,"
                 "lost_pct,duplicates,out_of_order,seq_resets,seq_errors,markers,comfort_noise,"
                 "jb_discarded,min_delta_ms,mean_delta_ms,jitter_min_ms,problem,r_factor,"
                 "ppl_pct,burst_r,delay_ms,signalled,dtmf_events,dtmf,rtcp_sr,rtcp_rr,"
                 "rtcp_sdes,rtcp_bye,rtcp_xr,rtcp_app,rtcp_feedback,rtcp_srtcp,rtcp_cname,"
                 "rtcp_report_blocks,rtcp_fraction_lost,rtcp_fraction_lost_max,"
                 "rtcp_cumulative_lost,rtcp_jitter_ms,rtcp_rtt_samples,rtcp_rtt_ms,"
                 "rtcp_rtt_max_ms,rtcp_xr_voip,rtcp_xr_mos_lq,rtcp_xr_r_factor,mos_reason,"
                 "srtp_decrypted,srtp_auth_fail,srtp_not_tried) VALUES("
                 "?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,"
                 "?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,"
                 "?39,?40,?41,?42,?43,?44,?45,?46,?47,?48,?49,?50,?51,?52,?53,?54,?55,?56,"
                 "?57,?58,?59,?60,?61,?62,?63,?64,?65,?66,?67)",
    [S_IVL] = "INSERT OR REPLACE INTO rtp_intervals(stream_id,ts,packets,lost,jitter_max_ms,mos)"
              " VALUES(?,?,?,?,?,?)",
    /* this session's legs only: leg_ref is unique per run, not per database */
    [S_LEG_BY_REF] = "SELECT id, call_ref FROM legs WHERE leg_ref=?1 AND id>?2 "
                     "ORDER BY id DESC LIMIT 1",
    /* the worst MOS with its reason; the one-way / no-audio bits */
    [S_LEG_MOS] = "UPDATE legs SET mos=min(coalesce(mos,99),?2), mos_reason=CASE WHEN "
                  "?2<coalesce(mos,99) THEN ?3 ELSE mos_reason END, "
                  "media_flags=coalesce(media_flags,0)|?4 WHERE id=?1 RETURNING mos",
    [S_CALL_MOS] = "UPDATE calls SET mos=min(coalesce(mos,99),?2), mos_reason=CASE WHEN "
                   "?2<coalesce(mos,99) THEN ?3 ELSE mos_reason END, "
                   "media_flags=coalesce(media_flags,0)|?4 WHERE id=?1 RETURNING mos",
    [S_ADOPT] = "UPDATE rtp_streams SET leg_id=?1, call_ref=?2 WHERE leg_ref=?3 AND "
                "leg_id IS NULL AND id>?4",
    /* as media_stream_leg_mos(): a one-way stream gives its leg MOS 1.0 */
    [S_LEG_MOS_ALL] = "UPDATE legs SET mos=(SELECT min(" ST_LEG_MOS ") FROM rtp_streams "
                      "WHERE leg_id=?1), mos_reason=(SELECT CASE WHEN flags&1 THEN 'one_way' "
                      "ELSE mos_reason END FROM rtp_streams WHERE leg_id=?1 AND " ST_LEG_MOS
                      " IS NOT NULL ORDER BY " ST_LEG_MOS " LIMIT 1), media_flags=(SELECT "
                      "max(flags&1)|max(flags&2) FROM rtp_streams WHERE leg_id=?1) WHERE id=?1 "
                      "RETURNING mos",
    [S_CALL_MOS_ALL] = "UPDATE calls SET mos=(SELECT min(mos) FROM legs WHERE call_ref=?1), "
                       "mos_reason=(SELECT mos_reason FROM legs WHERE call_ref=?1 AND mos IS "
                       "NOT NULL ORDER BY mos LIMIT 1), media_flags=(SELECT "
                       "max(coalesce(media_flags,0)&1)|max(coalesce(media_flags,0)&2) FROM legs "
                       "WHERE call_ref=?1) WHERE id=?1 RETURNING mos",
    [S_LIVE_LEG] = "INSERT INTO live_legs(call_key,state,call_id,caller,callee,invite_ts,ring_ts,"
                   "answer_ts,src,sport,dst,dport,transport,site) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_LIVE_STATE] = "INSERT OR REPLACE INTO live_state(id,updated,capture_ts,calls_up,legs_up,"
                     "legs_ringing,legs_trying,running) VALUES(1,?,?,?,?,?,?,?)",
    /* the rollups of a batch's inserts (rollup.c; schema.c, version 22) */
    [S_ROLL_LS] = "INSERT INTO leg_sums VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) "
                  "ON CONFLICT DO UPDATE SET legs=legs+excluded.legs,"
                  "acd_ns=acd_ns+excluded.acd_ns,acd_n=acd_n+excluded.acd_n,"
                  "pdd_ns=pdd_ns+excluded.pdd_ns,pdd_n=pdd_n+excluded.pdd_n,"
                  "mos_sum=mos_sum+excluded.mos_sum,mos_n=mos_n+excluded.mos_n",
    [S_ROLL_LM] = "INSERT INTO leg_minutes VALUES(?1,?2,?3,?4,?5) ON CONFLICT DO UPDATE SET "
                  "mos_sum=mos_sum+excluded.mos_sum,mos_n=mos_n+excluded.mos_n",
    [S_ROLL_CM] = "INSERT INTO call_minutes(minute,site,calls,attempts,answered,busy,rejected,"
                  "cancelled,failed,timeouts,pdd_sum,pdd_n,dur_sum,dur_n,mos_sum,mos_n,ends) "
                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17) "
                  CALL_SUMS_SET ",ends=ends+excluded.ends",
    [S_ROLL_CS] = "INSERT INTO call_seconds(second,site,calls,attempts,answered,busy,rejected,"
                  "cancelled,failed,timeouts,pdd_sum,pdd_n,dur_sum,dur_n,mos_sum,mos_n) "
                  "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16) "
                  CALL_SUMS_SET,
    [S_ROLL_FS_ADD] = "UPDATE failure_sums SET calls=calls+?10 WHERE a IS ?1 AND b IS ?2 AND "
                      "outcome IS ?3 AND side IS ?4 AND status IS ?5 AND reason IS ?6 AND "
                      "sender IS ?7 AND q850 IS ?8 AND hdr IS ?9",
    [S_ROLL_FS_NEW] = "INSERT INTO failure_sums VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    [S_ROLL_ROWS] = "UPDATE row_counts SET n=n+?2 WHERE tbl=?1",
    [S_ROLL_ON] = "INSERT INTO rollup_owner(id) VALUES(1)",
    /* a row's rollup keys and MOS before a MOS update (rollup.c) */
    [S_ROLL_LEG_OLD] = "SELECT mos, src, dst, invite_ts, outcome, final_status, callee_codecs "
                       "FROM legs WHERE id=?1",
    [S_ROLL_CALL_OLD] = "SELECT mos, start, site, outcome FROM calls WHERE id=?1",
    /* a leg_minutes row whose last MOS went (LM_SUB) */
    [S_ROLL_LM_GONE] = "DELETE FROM leg_minutes WHERE src=?1 AND dst=?2 AND minute=?3 AND "
                       "mos_n<=0",
    [S_ROLL_OFF] = "DELETE FROM rollup_owner",
    /* leg_minutes' sums per hour (schema v28), written with them */
    [S_ROLL_LH] = "INSERT INTO leg_hours VALUES(?1,?2,?3/" ST_HOUR_NS "*" ST_HOUR_NS ",?4,?5) "
                  "ON CONFLICT DO UPDATE SET mos_sum=mos_sum+excluded.mos_sum,"
                  "mos_n=mos_n+excluded.mos_n",
    [S_ROLL_LH_GONE] = "DELETE FROM leg_hours WHERE src=?1 AND dst=?2 AND "
                       "hour=?3/" ST_HOUR_NS "*" ST_HOUR_NS " AND mos_n<=0",
    /* the hour of a KPI minute just written, from its minutes (v28: what
     * kpi_hour_ins does with triggers on) */
    [S_KPI_HOUR] = "INSERT OR REPLACE INTO kpi_hour SELECT trunk_id, direction, ?3, "
                   ST_KPI_HOUR_SUMS " FROM kpi_minute WHERE trunk_id=?1 AND direction=?2 AND"
                   " minute >= ?3 AND minute < ?3+" ST_HOUR_NS " GROUP BY trunk_id, direction",
};

/* ---- record writers (writer thread, inside a transaction) ---- */

static const char *l4_name(uint8_t l4)
{
    switch (l4) {
    case TS_L4_TCP:
        return "TCP";
    case TS_L4_SCTP:
        return "SCTP";
    default:
        return "UDP";
    }
}

static bool write_sip(struct st_writer *w, struct rec *r)
{
    sqlite3_stmt *s = w->s[S_SIP];
    b_i64(s, 1, (int64_t)r->u.sip.ts);
    b_addr(s, 2, &r->u.sip.src);
    b_i64(s, 3, r->u.sip.sport);
    b_addr(s, 4, &r->u.sip.dst);
    b_i64(s, 5, r->u.sip.dport);
    b_text(s, 6, l4_name(r->u.sip.l4));
    b_textn(s, 7, r->u.sip.call_id, r->u.sip.call_id_len);
    b_textn(s, 8, r->u.sip.method, r->u.sip.method_len);
    if (r->u.sip.status)
        b_i64(s, 9, r->u.sip.status);
    b_i64(s, 10, r->u.sip.cseq);
    b_textn(s, 11, r->u.sip.cseq_method, r->u.sip.cseq_method_len);
    sqlite3_bind_blob(s, 12, r->u.sip.raw, (int)r->u.sip.raw_len, SQLITE_STATIC);
    if (r->u.sip.capture_id)
        b_i64(s, 13, (int64_t)r->u.sip.capture_id);
    if (r->u.sip.frame) {
        b_i64(s, 14, (int64_t)r->u.sip.frame);
        b_i64(s, 15, (int64_t)r->u.sip.off);
    }
    if (!run(w, s))
        return false;
    st_roll_row(w, ROLL_MESSAGES);
    w->last_msg_id = sqlite3_last_insert_rowid(w->h);
    st_link_note(w, r, w->last_msg_id);
    return true;
}

/* The filter bit of leg_ref, set when set (never cleared: a set bit only
 * costs the adopting UPDATE that finds nothing). */
static bool pending_ref(struct st_writer *w, uint64_t leg_ref, bool set)
{
    uint64_t h = leg_ref * 0x9e3779b97f4a7c15ull;
    uint64_t *word = &w->pending_refs[(h >> 32) % PENDING_REF_WORDS], bit = 1ull << (h >> 58);
    if (set)
        *word |= bit;
    return (*word & bit) != 0;
}

/* Streams that finished before their leg was written join it now; the leg
 * and the call take the worst MOS. */
static bool adopt_streams(struct st_writer *w, int64_t leg_id, int64_t call_ref,
                          const struct calls_leg *l)
{
    if (!l->leg_ref || !pending_ref(w, l->leg_ref, false))
        return true;
    sqlite3_stmt *s = w->s[S_ADOPT];
    b_i64(s, 1, leg_id);
    b_i64(s, 2, call_ref);
    b_i64(s, 3, (int64_t)l->leg_ref);
    b_i64(s, 4, w->stream_floor);
    if (!run(w, s))
        return false;
    if (sqlite3_changes(w->h) == 0)
        return true;
    st_mos_flush(w); /* the call's MOS is read back from its legs */
    s = w->s[S_LEG_MOS_ALL];
    b_i64(s, 1, leg_id);
    bool ok = st_roll_mos(w, 0, leg_id, s);
    s = w->s[S_CALL_MOS_ALL];
    b_i64(s, 1, call_ref);
    return ok && st_roll_mos(w, 1, call_ref, s);
}

/* A MOS taken at insert: mos, mos_reason, media_flags from column i. */
static void b_mos(sqlite3_stmt *s, int i, const struct mos_pend *p)
{
    if (!p || !p->id)
        return;
    sqlite3_bind_double(s, i, p->mos);
    if (p->why)
        b_text(s, i + 1, p->why);
    b_i64(s, i + 2, p->flags);
}

static void b_media(sqlite3_stmt *s, int i, const struct calls_sdp *sdp)
{
    if (sdp->present && sdp->addr.family && sdp->port) {
        b_addr(s, i, &sdp->addr);
        b_i64(s, i + 1, sdp->port);
    }
}

static bool write_leg(struct st_writer *w, int64_t call_ref, int idx, const struct calls_leg *l,
                      const struct mos_pend *mos, bool *stored, int64_t *id)
{
    sqlite3_stmt *s = w->s[S_LEG];
    int i = 1;
    b_i64(s, i++, call_ref);
    b_i64(s, i++, idx);
    b_text(s, i++, l->call_id);
    b_text(s, i++, l->from);
    b_text(s, i++, l->to);
    b_text(s, i++, l->ruri);
    b_text(s, i++, l->pai);
    b_text(s, i++, l->caller_digits);
    b_text(s, i++, l->callee_digits);
    b_ts(s, i++, l->invite_ns);
    b_ts(s, i++, l->prov_ns);
    b_ts(s, i++, l->ring_ns);
    b_ts(s, i++, l->answer_ns);
    b_ts(s, i++, l->end_ns);
    b_ts(s, i++, l->bye_ns);
    if (l->final_status)
        b_i64(s, i, l->final_status);
    i++;
    b_text(s, i++, l->reason);
    b_text(s, i++, l->reason_hdr);
    if (l->q850_cause)
        b_i64(s, i, l->q850_cause);
    i++;
    b_text(s, i++, l->ms_diag);
    b_text(s, i++, calls_party_name((enum calls_party)l->hangup_by));
    b_text(s, i++, l->transport);
    b_addr(s, i++, &l->src);
    b_i64(s, i++, l->sport);
    b_addr(s, i++, &l->dst);
    b_i64(s, i++, l->dport);
    b_text(s, i++, calls_outcome_name((enum calls_outcome)l->outcome));
    b_text(s, i++, calls_evidence_name((enum calls_evidence)l->ev_type));
    sqlite3_bind_double(s, i++, l->ev_conf);
    if (l->ev_linked_to >= 0)
        b_i64(s, i, l->ev_linked_to);
    i++;
    b_text(s, i++, l->caller_sdp.codecs);
    b_text(s, i++, l->callee_sdp.codecs);
    b_media(s, i, &l->caller_sdp);
    i += 2;
    b_media(s, i, &l->callee_sdp);
    i += 2;
    if (l->leg_ref)
        b_i64(s, i, (int64_t)l->leg_ref);
    i++;
    b_i64(s, i++, l->capture_gap);
    b_site(s, i++, l->site);
    b_text(s, i++, l->user_agent);
    b_text(s, i++, l->server);
    char epq[TS_CALLS_MAX_EPQ * 320];
    size_t ne = calls_epq_json(l, epq, sizeof epq);
    if (ne)
        b_textn(s, i, epq, ne);
    b_mos(s, i + 1, mos); /* mos, mos_reason, media_flags */
    /* as schema v26's ST_REV_SHORT gives them (ASCII digits, 31 at most:
     * calls_number_norm) */
    char rev[2][CALLS_DIGITS_LEN];
    st_digits_rev(l->caller_digits, CALLS_DIGITS_LEN - 1, rev[0]);
    st_digits_rev(l->callee_digits, CALLS_DIGITS_LEN - 1, rev[1]);
    b_text(s, i + 4, rev[0]);
    b_text(s, i + 5, rev[1]);
    if (!run(w, s))
        return false;
    /* before st_roll_leg: writing the sums out when they are full inserts
     * failure_sums rows, which takes the connection's last rowid */
    int64_t leg_id = sqlite3_last_insert_rowid(w->h);
    st_roll_leg(w, l, mos);
    *stored = true;
    *id = leg_id;
    st_agents_note(w, leg_id);
    return st_link_messages(w, leg_id, l) && adopt_streams(w, leg_id, call_ref, l);
}

static void b_opt(sqlite3_stmt *s, int i, bool have, double v)
{
    if (have)
        sqlite3_bind_double(s, i, v);
}

/* ---- MOS updates, one per leg and per call in a transaction ----
 * A leg's MOS is its worst stream's, its call's the worst of its legs'
 * (S_LEG_MOS, S_CALL_MOS: the lower value wins with its reason, the flags
 * add up). Each UPDATE also runs the rollup triggers (leg_sums,
 * call_minutes) twice, so the streams of a transaction are folded first
 * in the same way and each leg and call is updated once, before COMMIT and
 * before any statement that reads those columns. The fold keeps the first
 * stream of the lowest MOS, as the UPDATEs in turn would. */

static bool run_mos(struct st_writer *w, int k, const struct mos_pend *p)
{
    sqlite3_stmt *s = w->s[k ? S_CALL_MOS : S_LEG_MOS];
    b_i64(s, 1, p->id);
    sqlite3_bind_double(s, 2, p->mos);
    if (p->why)
        b_text(s, 3, p->why);
    b_i64(s, 4, p->flags);
    return st_roll_mos(w, k, p->id, s);
}

bool st_mos_flush(struct st_writer *w)
{
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < w->nmos[k]; i++) { /* in the order they came */
            struct mos_pend *p = &w->mos[k][w->mos_order[k][i]];
            ok &= run_mos(w, k, p);
            p->id = 0;
        }
        w->nmos[k] = 0;
    }
    return ok;
}

void st_mos_drop(struct st_writer *w)
{
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < w->nmos[k]; i++)
            w->mos[k][w->mos_order[k][i]].id = 0;
        w->nmos[k] = 0;
    }
}

/* Fold one stream's MOS into the update held for row id of legs (k 0) or
 * calls (k 1). Row ids are SQLite's, not the wire's: a plain multiply
 * spreads them. */
static bool mos_note(struct st_writer *w, int k, int64_t id, double mos, const char *why,
                     int64_t flags)
{
    bool ok = true;
    for (;;) {
        size_t i = (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 54) & (MOS_PEND_SLOTS - 1);
        struct mos_pend *p;
        while ((p = &w->mos[k][i])->id && p->id != id)
            i = (i + 1) & (MOS_PEND_SLOTS - 1);
        if (p->id) {
            if (mos < p->mos) {
                p->mos = mos;
                p->why = why;
            }
            p->flags |= flags;
            return ok;
        }
        if (w->nmos[k] < MOS_PEND_SLOTS / 2) {
            *p = (struct mos_pend){ id, mos, why, flags };
            w->mos_order[k][w->nmos[k]++] = (uint16_t)i;
            return ok;
        }
        ok = st_mos_flush(w); /* half full: write them, then hold this one */
    }
}

/* ---- a batch's streams by leg_ref ----
 * Most streams end after their leg, so the leg and its call were inserted
 * with no MOS and each stream updated both. When the streams come in the
 * same batch as their call, the leg and the call are inserted with the
 * fold of those streams instead (the same fold, in the same order, as the
 * updates would have made), and the streams update nothing. */

static size_t bs_slot(const struct st_writer *w, uint64_t leg_ref)
{
    return (size_t)((leg_ref * 0x9e3779b97f4a7c15ull) >> 32) & (w->nbs - 1);
}

void st_batch_begin(struct st_writer *w, struct rec *list)
{
    size_t n = 0;
    uint32_t seq = 0;
    for (struct rec *r = list; r; r = r->next) {
        r->seen = r->mos_done = false;
        r->fold_leg = 0;
        r->bseq = seq++;
        n += r->kind == REC_STREAM && r->u.stream.leg_ref;
    }
    w->bs = NULL;
    w->nbs = 0;
    if (!n)
        return;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    if (!(w->bs = calloc(cap, sizeof *w->bs)))
        return; /* no index: the streams update their leg and call */
    w->nbs = cap;
    for (struct rec *r = list; r; r = r->next) {
        if (r->kind != REC_STREAM || !r->u.stream.leg_ref)
            continue;
        size_t i = bs_slot(w, r->u.stream.leg_ref);
        while (w->bs[i])
            i = (i + 1) & (w->nbs - 1);
        w->bs[i] = r;
    }
}

void st_batch_end(struct st_writer *w)
{
    free(w->bs);
    w->bs = NULL;
    w->nbs = 0;
}

/* Streams that follow in the batch with a MOS for their leg. */
struct later {
    struct rec *r;
    unsigned leg;
    double mos;
    const char *why;
    int64_t flags;
};

static int later_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct later *)a)->r->bseq, y = ((const struct later *)b)->r->bseq;
    return x < y ? -1 : x > y;
}

static void fold(struct mos_pend *p, const struct later *l)
{
    if (!p->id) {
        *p = (struct mos_pend){ 1, l->mos, l->why, l->flags };
        return;
    }
    if (l->mos < p->mos) {
        p->mos = l->mos;
        p->why = l->why;
    }
    p->flags |= l->flags;
}

/* The MOS call c's legs (leg[i]) and the call (*call) take at insert from
 * the streams later in the batch, in their order; false (nothing taken)
 * when a leg has streams stored before it, which it adopts by a query, or
 * too many streams follow. */
#define LATER_STREAMS 64
static bool fold_later(struct st_writer *w, const struct calls_call *c, struct mos_pend *leg,
                       struct mos_pend *call, struct later *got, size_t *ngot)
{
    size_t n = 0;
    *ngot = 0;
    if (!w->bs)
        return false;
    for (unsigned k = 0; k < c->nlegs; k++) {
        uint64_t ref = c->legs[k].leg_ref;
        if (ref && pending_ref(w, ref, false))
            return false;
        if (!ref)
            continue;
        for (size_t i = bs_slot(w, ref); w->bs[i]; i = (i + 1) & (w->nbs - 1)) {
            struct rec *r = w->bs[i];
            if (r->u.stream.leg_ref != ref || r->seen || r->mos_done)
                continue;
            uint8_t reason;
            double mos = media_stream_leg_mos(&r->u.stream, &reason);
            if (mos < 0)
                continue; /* no MOS: no update either */
            if (n == LATER_STREAMS)
                return false;
            got[n++] = (struct later){ r, k, mos, media_reason_name(reason),
                                       r->u.stream.flags & (MEDIA_F_ONE_WAY | MEDIA_F_NO_AUDIO) };
        }
    }
    qsort(got, n, sizeof *got, later_cmp);
    for (size_t i = 0; i < n; i++) {
        fold(&leg[got[i].leg], &got[i]);
        fold(call, &got[i]);
    }
    *ngot = n;
    return true;
}

static bool write_stream(struct st_writer *w, struct rec *r)
{
    const struct media_stream *m = &r->u.stream;
    const struct media_rtcp *rc = &m->rtcp;
    int64_t leg_id = 0, call_ref = 0;
    sqlite3_stmt *s;
    if (r->mos_done && r->fold_leg && r->fold_moves == w->moves) {
        leg_id = r->fold_leg; /* the leg S_LEG_BY_REF finds: inserted for it in this batch */
        call_ref = r->fold_call;
    } else if (m->leg_ref) {
        s = w->s[S_LEG_BY_REF];
        b_i64(s, 1, (int64_t)m->leg_ref);
        b_i64(s, 2, w->leg_floor);
        if (sqlite3_step(s) == SQLITE_ROW) {
            leg_id = sqlite3_column_int64(s, 0);
            call_ref = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    char pts[128 * 4 + 1];
    size_t np = 0;
    for (unsigned pt = 0; pt < 128; pt++)
        if (m->pts_seen[pt >> 6] & (1ull << (pt & 63)))
            np += (size_t)snprintf(pts + np, sizeof pts - np, "%s%u", np ? "," : "", pt);
    bool q = m->mos >= 0;
    s = w->s[S_STREAM];
    if (leg_id) {
        b_i64(s, 1, call_ref);
        b_i64(s, 2, leg_id);
    }
    if (w->run_capture)
        b_i64(s, 3, (int64_t)w->run_capture);
    b_addr(s, 4, &m->src);
    b_i64(s, 5, m->sport);
    b_addr(s, 6, &m->dst);
    b_i64(s, 7, m->dport);
    b_i64(s, 8, m->ssrc);
    b_i64(s, 9, m->pt);
    if (m->codec[0])
        b_textn(s, 10, m->codec, strnlen(m->codec, sizeof m->codec));
    b_ts(s, 11, m->first_ns);
    b_ts(s, 12, m->last_ns);
    b_i64(s, 13, (int64_t)m->packets);
    b_i64(s, 14, m->lost);
    sqlite3_bind_double(s, 15, m->mean_jitter_ms);
    sqlite3_bind_double(s, 16, m->max_jitter_ms);
    sqlite3_bind_double(s, 17, m->max_delta_ms);
    b_real(s, 18, m->mos);
    b_i64(s, 19, m->flags);
    if (m->leg_ref)
        b_i64(s, 20, (int64_t)m->leg_ref);
    if (m->clock)
        b_i64(s, 21, m->clock);
    b_textn(s, 22, pts, np);
    b_i64(s, 23, (int64_t)m->bytes);
    b_i64(s, 24, m->expected);
    sqlite3_bind_double(s, 25, m->lost_pct);
    b_i64(s, 26, m->duplicates);
    b_i64(s, 27, m->out_of_order);
    b_i64(s, 28, m->seq_resets);
    b_i64(s, 29, m->seq_errors);
    b_i64(s, 30, m->markers);
    b_i64(s, 31, m->cn_packets);
    b_i64(s, 32, m->discarded);
    b_real(s, 33, m->min_delta_ms);
    sqlite3_bind_double(s, 34, m->mean_delta_ms);
    b_real(s, 35, m->min_jitter_ms);
    b_i64(s, 36, m->problem);
    b_opt(s, 37, q, m->r_factor);
    sqlite3_bind_double(s, 38, m->ppl);
    sqlite3_bind_double(s, 39, m->burst_r);
    b_opt(s, 40, q, m->delay_ms);
    b_i64(s, 41, m->signalled);
    b_i64(s, 42, m->dtmf_events);
    b_textn(s, 43, m->dtmf, strnlen(m->dtmf, sizeof m->dtmf));
    b_i64(s, 44, rc->sr);
    b_i64(s, 45, rc->rr);
    b_i64(s, 46, rc->sdes);
    b_i64(s, 47, rc->bye);
    b_i64(s, 48, rc->xr);
    b_i64(s, 49, rc->app);
    b_i64(s, 50, rc->fb);
    b_i64(s, 51, rc->srtcp);
    if (rc->cname[0])
        b_textn(s, 52, rc->cname, strnlen(rc->cname, sizeof rc->cname));
    b_i64(s, 53, rc->blocks);
    b_opt(s, 54, rc->blocks, rc->fraction_lost);
    b_opt(s, 55, rc->blocks, rc->fraction_lost_max);
    if (rc->blocks)
        b_i64(s, 56, rc->cum_lost);
    b_real(s, 57, rc->jitter_ms);
    b_i64(s, 58, rc->rtt_n);
    b_opt(s, 59, rc->rtt_n, rc->rtt_ms);
    b_opt(s, 60, rc->rtt_n, rc->rtt_max_ms);
    b_i64(s, 61, rc->xr_voip);
    b_real(s, 62, rc->xr_mos_lq);
    b_real(s, 63, rc->xr_r_factor);
    const char *why = media_reason_name(m->mos_reason);
    if (why)
        b_text(s, 64, why);
    b_i64(s, 65, (int64_t)m->srtp_decrypted);
    b_i64(s, 66, (int64_t)m->srtp_auth_fail);
    b_i64(s, 67, (int64_t)m->srtp_not_tried);
    if (!run(w, s))
        return false;
    st_roll_row(w, ROLL_STREAMS);
    if (m->leg_ref && !leg_id)
        pending_ref(w, m->leg_ref, true);
    int64_t sid = sqlite3_last_insert_rowid(w->h);
    bool ok = true;
    for (uint32_t k = 0; k < m->nseries && m->series; k++) {
        const struct media_series *p = &m->series[k];
        s = w->s[S_IVL];
        b_i64(s, 1, sid);
        b_i64(s, 2, (int64_t)(m->first_ns + k * SERIES_STEP_NS));
        b_i64(s, 3, p->packets);
        b_i64(s, 4, p->lost);
        sqlite3_bind_double(s, 5, p->jitter_ms);
        b_real(s, 6, p->mos);
        ok &= run(w, s);
    }
    uint8_t reason;
    double leg_mos = media_stream_leg_mos(m, &reason);
    const char *lwhy = media_reason_name(reason);
    if (leg_id && leg_mos >= 0 && !r->mos_done) { /* worst stream of the leg, worst leg of the call */
        int64_t flags = m->flags & (MEDIA_F_ONE_WAY | MEDIA_F_NO_AUDIO);
        ok &= mos_note(w, 0, leg_id, leg_mos, lwhy, flags) &&
              mos_note(w, 1, call_ref, leg_mos, lwhy, flags);
    }
    return ok;
}

/* One statement run once (rare writes) with integer values v[0..n). */
static bool run_sql(struct st_writer *w, const char *sql, const int64_t *v, size_t n)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(w->h, sql, -1, &s, NULL) != SQLITE_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        b_i64(s, (int)i + 1, v[i]);
    bool ok = run(w, s);
    sqlite3_finalize(s);
    return ok;
}

/* A call emitted before (tracker id c->id) now also holds the legs of call
 * c->replaces, emitted apart (a relay learned later, calls/relink.c): that
 * call's legs and media move to it, its row goes, and the call's fields
 * and its legs' order and links are written again. The rows are found by
 * the legs' leg_ref (this session's); a leg never stored (dropped) leaves
 * both calls as they are. */
static bool merge_call(struct st_writer *w, const struct calls_call *c)
{
    int64_t leg_id[TS_CALLS_MAX_LEGS], ref[TS_CALLS_MAX_LEGS], keep = 0;
    for (size_t i = 0; i < c->nlegs; i++) {
        sqlite3_stmt *s = w->s[S_LEG_BY_REF];
        b_i64(s, 1, (int64_t)c->legs[i].leg_ref);
        b_i64(s, 2, w->leg_floor);
        leg_id[i] = 0;
        if (sqlite3_step(s) == SQLITE_ROW) {
            leg_id[i] = sqlite3_column_int64(s, 0);
            ref[i] = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (!leg_id[i])
            return true;
        if (!keep && q_i64(w, "SELECT tracker_id FROM calls WHERE id=?1", ref[i], -1) ==
                         (int64_t)c->id)
            keep = ref[i];
    }
    if (!keep)
        return true;
    bool ok = true;
    for (size_t i = 0; i < c->nlegs; i++) {
        if (ref[i] == keep)
            continue;
        int64_t v[2] = { keep, ref[i] };
        ok &= run_sql(w, "UPDATE rtp_streams SET call_ref=?1 WHERE call_ref=?2", v, 2) &&
              run_sql(w, "UPDATE rtcp_reports SET call_ref=?1 WHERE call_ref=?2", v, 2) &&
              run_sql(w, "UPDATE legs SET call_ref=?1 WHERE call_ref=?2", v, 2) &&
              run_sql(w, "DELETE FROM calls WHERE id=?2 AND ?1=?1", v, 2);
    }
    for (size_t i = 0; ok && i < c->nlegs; i++) {
        const struct calls_leg *l = &c->legs[i];
        int64_t v[4] = { leg_id[i], (int64_t)i, l->ev_linked_to, (int64_t)l->ev_type };
        ok &= run_sql(w, "UPDATE legs SET idx=?2, linked_to=CASE WHEN ?3>=0 THEN ?3 END WHERE id=?1",
                      v, 3);
        sqlite3_stmt *s = NULL;
        ok &= sqlite3_prepare_v2(w->h, "UPDATE legs SET ev_type=?2, ev_conf=?3 WHERE id=?1", -1, &s,
                                 NULL) == SQLITE_OK;
        if (s) {
            b_i64(s, 1, v[0]);
            b_text(s, 2, calls_evidence_name((enum calls_evidence)l->ev_type));
            sqlite3_bind_double(s, 3, l->ev_conf);
            ok &= run(w, s);
            sqlite3_finalize(s);
        }
    }
    uint64_t end = 0;
    for (size_t i = 0; i < c->nlegs; i++)
        if (leg_last_ns(&c->legs[i]) > end)
            end = leg_last_ns(&c->legs[i]);
    sqlite3_stmt *s = NULL;
    ok &= sqlite3_prepare_v2(w->h,
                             "UPDATE calls SET start=?2, end=?3, caller=?4, callee=?5, direction=?6,"
                             " outcome=?7, failure_side=?8, failure_detail=?9, pdd_ms=?10,"
                             " duration_s=?11, legs=?12, site=?13 WHERE id=?1",
                             -1, &s, NULL) == SQLITE_OK;
    if (s) {
        b_i64(s, 1, keep);
        b_i64(s, 2, (int64_t)c->start_ns);
        b_ts(s, 3, end);
        b_text(s, 4, c->caller);
        b_text(s, 5, c->callee);
        b_text(s, 6, calls_dir_name((enum calls_dir)c->direction));
        b_text(s, 7, calls_outcome_name((enum calls_outcome)c->outcome));
        b_text(s, 8, calls_side_name((enum calls_side)c->failure_side));
        b_text(s, 9, c->failure_detail);
        if (c->pdd_ms >= 0)
            b_i64(s, 10, c->pdd_ms);
        b_real(s, 11, c->duration_s);
        b_i64(s, 12, c->nlegs);
        b_site(s, 13, c->site);
        ok &= run(w, s);
        sqlite3_finalize(s);
    }
    s = w->s[S_CALL_MOS_ALL];
    b_i64(s, 1, keep);
    return ok & st_roll_mos(w, 1, keep, s);
}

static bool write_call(struct st_writer *w, struct rec *r)
{
    const struct calls_call *c = &r->u.call;
    if (c->replaces)
        return merge_call(w, c);
    sqlite3_stmt *s = w->s[S_CALL];
    uint64_t end = 0;
    for (size_t i = 0; i < c->nlegs; i++) {
        uint64_t e = leg_last_ns(&c->legs[i]);
        if (e > end)
            end = e;
    }
    if (w->run_capture)
        b_i64(s, 1, (int64_t)w->run_capture);
    b_i64(s, 2, (int64_t)c->id);
    b_i64(s, 3, (int64_t)c->start_ns);
    b_ts(s, 4, end);
    b_text(s, 5, c->caller);
    b_text(s, 6, c->callee);
    b_text(s, 7, calls_dir_name((enum calls_dir)c->direction));
    b_text(s, 8, calls_outcome_name((enum calls_outcome)c->outcome));
    b_text(s, 9, calls_side_name((enum calls_side)c->failure_side));
    b_text(s, 10, c->failure_detail);
    if (c->pdd_ms >= 0)
        b_i64(s, 11, c->pdd_ms);
    b_real(s, 12, c->duration_s);
    b_i64(s, 13, c->nlegs);
    b_site(s, 14, c->site);
    struct mos_pend leg[TS_CALLS_MAX_LEGS] = { { 0 } }, call = { 0 };
    struct later got[LATER_STREAMS];
    size_t ngot;
    bool pre = fold_later(w, c, leg, &call, got, &ngot);
    b_mos(s, 16, pre ? &call : NULL);
    if (!run(w, s))
        return false;
    for (size_t i = 0; i < ngot; i++)
        got[i].r->mos_done = true;
    int64_t ref = sqlite3_last_insert_rowid(w->h), ids[TS_CALLS_MAX_LEGS] = { 0 };
    bool ok = true, stored[TS_CALLS_MAX_LEGS] = { false };
    for (size_t i = 0; i < c->nlegs; i++)
        ok &= write_leg(w, ref, (int)i, &c->legs[i], pre ? &leg[i] : NULL, &stored[i], &ids[i]);
    for (size_t i = 0; i < ngot; i++) { /* the streams need not look their leg up */
        got[i].r->fold_leg = ids[got[i].leg];
        got[i].r->fold_call = ref;
        got[i].r->fold_moves = w->moves;
    }
    st_roll_call(w, c, end, pre ? &call : NULL, stored);
    return ok;
}

/* FNV-1a over the first 64 KiB: stable across runs (ts_hash is seeded). */
static bool capture_ident(const char *path, int64_t *size, int64_t *mtime, char hex[17])
{
    struct stat sb;
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    uint8_t *buf = malloc(HEAD_HASH_BYTES);
    ssize_t n = buf ? read(fd, buf, HEAD_HASH_BYTES) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return false;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (ssize_t i = 0; i < n; i++) {
        h ^= buf[i];
        h *= 0x100000001b3ull;
    }
    free(buf);
    *size = (int64_t)sb.st_size;
    *mtime = (int64_t)sb.st_mtim.tv_sec * (int64_t)NS_PER_S + sb.st_mtim.tv_nsec;
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
    return true;
}

/* Remove everything a capture produced (re-analysis replaces it). */
static bool delete_capture_rows(struct st_writer *w, int64_t id)
{
    static const struct {
        const char *sql;
        bool calls; /* its count is the calls replaced */
    } del[] = {
        { "DELETE FROM sip_links WHERE leg_id IN (SELECT l.id FROM legs l JOIN calls c ON "
          "c.id=l.call_ref WHERE c.capture_id=?1)", false },
        { "DELETE FROM sip_messages WHERE capture_id=?1", false },
        { "DELETE FROM rtp_intervals WHERE stream_id IN (SELECT id FROM rtp_streams WHERE "
          "capture_id=?1 OR call_ref IN (SELECT id FROM calls WHERE capture_id=?1))", false },
        { "DELETE FROM rtp_streams WHERE capture_id=?1 OR call_ref IN "
          "(SELECT id FROM calls WHERE capture_id=?1)", false },
        { "DELETE FROM rtcp_reports WHERE capture_id=?1 OR call_ref IN "
          "(SELECT id FROM calls WHERE capture_id=?1)", false },
        { "DELETE FROM legs WHERE call_ref IN (SELECT id FROM calls WHERE capture_id=?1)", false },
        { "DELETE FROM calls WHERE capture_id=?1", true },
        { "DELETE FROM registrations WHERE capture_id=?1", false },
        { "DELETE FROM keepalives WHERE capture_id=?1", false },
    };
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(w->h, del[i].sql, -1, &s, NULL) != SQLITE_OK)
            return false;
        sqlite3_bind_int64(s, 1, id);
        int rc = sqlite3_step(s);
        if (del[i].calls)
            w->replaced_pending += (uint64_t)sqlite3_changes(w->h);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return false;
    }
    return true;
}

static bool write_capture_begin(struct st_writer *w, struct rec *r)
{
    int64_t size = 0, mtime = 0;
    char hex[17] = "", real[PATH_MAX];
    /* the real path: g.pcap, ./g.pcap and a link to it are one capture
     * (and export finds it from any directory) */
    const char *path = realpath(r->u.cap.path, real) ? real : r->u.cap.path;
    bool ident = capture_ident(path, &size, &mtime, hex);
    int64_t id = 0;
    if (ident) {
        sqlite3_stmt *s = w->s[S_CAP_FIND];
        b_text(s, 1, path);
        b_i64(s, 2, size);
        b_i64(s, 3, mtime);
        b_text(s, 4, hex);
        if (sqlite3_step(s) == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    if (id) {
        if (!delete_capture_rows(w, id))
            return false;
        st_link_check_ids(w);
        /* freed ids may be handed out again: keep them above the floors */
        int64_t ml = q_i64(w, "SELECT coalesce(max(id),0) FROM legs WHERE ?1=?1", 0, 0);
        int64_t ms = q_i64(w, "SELECT coalesce(max(id),0) FROM rtp_streams WHERE ?1=?1", 0, 0);
        if (ml < w->leg_floor)
            w->leg_floor = ml;
        if (ms < w->stream_floor)
            w->stream_floor = ms;
        sqlite3_stmt *s = w->s[S_CAP_REOPEN];
        b_i64(s, 1, id);
        b_text(s, 2, w->sensor);
        b_i64(s, 3, (int64_t)wall_ns());
        if (!run(w, s))
            return false;
    } else {
        sqlite3_stmt *s = w->s[S_CAP_NEW];
        b_text(s, 1, path);
        if (ident) {
            b_i64(s, 2, size);
            b_i64(s, 3, mtime);
            b_text(s, 4, hex);
        }
        b_text(s, 5, w->sensor);
        b_i64(s, 6, (int64_t)wall_ns());
        if (!run(w, s))
            return false;
        id = sqlite3_last_insert_rowid(w->h);
    }
    r->u.cap.id = (uint64_t)id;
    if (!w->run_capture)
        w->run_capture = (uint64_t)id;
    return true;
}

static bool write_capture_end(struct st_writer *w, struct rec *r)
{
    sqlite3_stmt *s = w->s[S_CAP_END];
    b_i64(s, 1, (int64_t)r->u.capend.id);
    b_i64(s, 2, (int64_t)wall_ns());
    b_ts(s, 3, r->u.capend.first_ts);
    b_ts(s, 4, r->u.capend.last_ts);
    return run(w, s);
}

static void b_kpi_counts(sqlite3_stmt *s, int i, const struct calls_kpi *k)
{
    b_i64(s, i++, (int64_t)k->attempts);
    b_i64(s, i++, (int64_t)k->answered);
    b_i64(s, i++, (int64_t)k->busy);
    b_i64(s, i++, (int64_t)k->rejected);
    b_i64(s, i++, (int64_t)k->cancelled);
    b_i64(s, i++, (int64_t)k->failed);
    b_i64(s, i, (int64_t)k->timeouts);
}

static bool write_peer(struct st_writer *w, const struct ts_addr *a, const char *name,
                       const char *kind, uint64_t first, uint64_t last)
{
    sqlite3_stmt *s = w->s[S_PEER];
    b_addr(s, 1, a);
    b_text(s, 2, name);
    b_text(s, 3, kind);
    b_ts(s, 4, first);
    b_ts(s, 5, last);
    return run(w, s);
}

static const char *const OPEN_STATE[] = { "up", "ringing", "trying" };

/* Registrations and keep-alives of this session are replaced by each
 * snapshot: their rows are the ones past the floors read at open. */
static bool write_regs(struct st_writer *w, const struct snap *sn)
{
    bool ok = exec_bind2(w, "DELETE FROM registrations WHERE id>?1 AND ?2=?2", w->reg_floor, 0,
                         NULL) &&
              exec_bind2(w, "DELETE FROM keepalives WHERE id>?1 AND ?2=?2", w->keep_floor, 0,
                         NULL);
    for (size_t i = 0; i < sn->nregs; i++) {
        const struct calls_reg *g = &sn->regs[i];
        double rt = calls_kpi_mean(g->rt_sum_ms, g->rt_n);
        sqlite3_stmt *s;
        int k = 1;
        if (g->method == SIP_M_REGISTER) {
            s = w->s[S_REG];
            if (w->run_capture)
                b_i64(s, k, (int64_t)w->run_capture);
            k++;
            b_addr(s, k++, &g->client);
            b_addr(s, k++, &g->server);
            b_text(s, k++, g->aor);
            b_i64(s, k++, (int64_t)g->attempts);
            b_i64(s, k++, (int64_t)g->successes);
            b_i64(s, k++, (int64_t)g->challenges);
        } else {
            s = w->s[S_KEEP];
            if (w->run_capture)
                b_i64(s, k, (int64_t)w->run_capture);
            k++;
            b_addr(s, k++, &g->client);
            b_addr(s, k++, &g->server);
            b_i64(s, k++, (int64_t)g->attempts);
            b_i64(s, k++, (int64_t)g->successes);
        }
        b_i64(s, k++, (int64_t)g->failures);
        b_i64(s, k++, (int64_t)g->timeouts);
        b_real(s, k++, rt);
        b_i64(s, k++, g->rt_max_ms);
        if (g->last_status)
            b_i64(s, k, g->last_status);
        k++;
        b_ts(s, k++, g->first_ns);
        b_ts(s, k++, g->last_ns);
        b_ts(s, k++, g->last_ok_ns);
        ok &= run(w, s);
        ok &= write_peer(w, &g->server, "", g->method == SIP_M_REGISTER ? "registrar" : "options",
                         g->first_ns, g->last_ns);
    }
    return ok;
}

/* live_legs rewritten whole, live_state's one row replaced. */
static bool write_open(struct st_writer *w, const struct snap *sn)
{
    bool ok = exec(w, "DELETE FROM live_legs");
    for (size_t i = 0; i < sn->nlegs; i++) {
        const struct snap_leg *l = &sn->legs[i];
        sqlite3_stmt *s = w->s[S_LIVE_LEG];
        b_i64(s, 1, (int64_t)l->key);
        b_text(s, 2, OPEN_STATE[l->state < 3 ? l->state : 2]);
        b_text(s, 3, l->call_id);
        b_text(s, 4, l->caller);
        b_text(s, 5, l->callee);
        b_ts(s, 6, l->invite_ns);
        b_ts(s, 7, l->ring_ns);
        b_ts(s, 8, l->answer_ns);
        b_addr(s, 9, &l->src);
        b_i64(s, 10, l->sport);
        b_addr(s, 11, &l->dst);
        b_i64(s, 12, l->dport);
        b_text(s, 13, l->transport);
        b_site(s, 14, l->site);
        ok &= run(w, s);
    }
    sqlite3_stmt *s = w->s[S_LIVE_STATE];
    b_i64(s, 1, (int64_t)wall_ns());
    b_ts(s, 2, sn->capture_ns);
    b_i64(s, 3, (int64_t)sn->open.calls_up);
    b_i64(s, 4, (int64_t)sn->open.legs_up);
    b_i64(s, 5, (int64_t)sn->open.legs_ringing);
    b_i64(s, 6, (int64_t)sn->open.legs_trying);
    b_i64(s, 7, sn->running);
    return ok & run(w, s);
}

/* The learned topology replaces the stored one (a few dozen rows). */
static bool write_topology(struct st_writer *w, const struct snap *sn)
{
    sqlite3_stmt *s = NULL;
    bool ok = exec(w, "DELETE FROM topology") &&
              sqlite3_prepare_v2(w->h,
                                 "INSERT INTO topology(id,role,side,learned_from,b2bua,calls,"
                                 "confidence,user_agent,addresses,site) VALUES(?,?,?,?,?,?,?,?,?,?)",
                                 -1, &s, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < sn->nnodes; i++) {
        const struct calls_topo_node *o = &sn->nodes[i];
        char addrs[CALLS_TOPO_NODE_ADDRS * 48] = "";
        size_t len = 0;
        for (unsigned k = 0; k < o->naddrs; k++) {
            char a[64];
            size_t l = addr_text(&o->addrs[k], a, sizeof a);
            if (l && len + l + 2 < sizeof addrs) {
                if (len)
                    addrs[len++] = ' ';
                memcpy(addrs + len, a, l);
                len += l;
                addrs[len] = '\0';
            }
        }
        b_i64(s, 1, o->id);
        b_text(s, 2, calls_role_name((enum calls_role)o->role));
        if (o->side)
            b_text(s, 3, calls_side_name((enum calls_side)o->side));
        b_text(s, 4, calls_topo_how_name(o->how));
        b_i64(s, 5, o->b2bua);
        b_i64(s, 6, o->calls);
        b_real(s, 7, (double)o->confidence);
        if (o->ua[0])
            b_text(s, 8, o->ua);
        b_text(s, 9, addrs);
        b_site(s, 10, o->site);
        ok &= run(w, s);
    }
    sqlite3_finalize(s);
    return ok;
}

static bool write_snap(struct st_writer *w, const struct snap *sn)
{
    bool ok = write_topology(w, sn);
    uint64_t now = wall_ns();
    for (size_t i = 0; i < sn->ntrunks; i++) {
        const struct snap_trunk *t = &sn->trunks[i];
        sqlite3_stmt *s = w->s[S_TRUNK];
        b_text(s, 1, t->name);
        b_addr(s, 2, &t->local);
        b_addr(s, 3, &t->peer);
        b_i64(s, 4, t->itsp);
        b_kpi_counts(s, 5, &t->all);
        b_real(s, 12, calls_kpi_asr(&t->all));
        b_real(s, 13, calls_kpi_ner(&t->all));
        b_real(s, 14, calls_kpi_acd_s(&t->all));
        b_real(s, 15, calls_kpi_mean(t->all.srd_sum_ms, t->all.srd_n));
        if (t->p95 >= 0)
            b_i64(s, 16, t->p95);
        b_i64(s, 17, t->peak);
        b_ts(s, 18, t->peak_ns);
        b_i64(s, 19, (int64_t)now);
        b_site(s, 20, t->site);
        b_real(s, 21, t->peak_kbps);
        int64_t tid = 0;
        if (sqlite3_step(s) == SQLITE_ROW)
            tid = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (!tid) {
            ok = false;
            continue;
        }
        /* The tracker's buckets mix both directions: stored as 'all'. */
        for (size_t b = t->b0; b < t->b0 + t->nb; b++) {
            const struct calls_bucket *bk = &sn->buckets[b];
            const struct calls_kpi *k = &bk->k;
            s = w->s[S_KPI];
            b_i64(s, 1, tid);
            b_text(s, 2, "all");
            b_i64(s, 3, (int64_t)bk->start_ns);
            b_kpi_counts(s, 4, k);
            sqlite3_bind_double(s, 11, k->srd_sum_ms);
            b_i64(s, 12, (int64_t)k->srd_n);
            sqlite3_bind_double(s, 13, k->ans_sum_ms);
            b_i64(s, 14, (int64_t)k->ans_n);
            sqlite3_bind_double(s, 15, k->dur_sum_s);
            b_i64(s, 16, (int64_t)k->dur_n);
            b_i64(s, 17, bk->peak_concurrent);
            ok &= run(w, s);
            /* its hour, once per hour of the trunk's buckets (in order) */
            int64_t h = (int64_t)bk->start_ns / ST_HOUR_NS_N * ST_HOUR_NS_N;
            if (b + 1 == t->b0 + t->nb ||
                (int64_t)sn->buckets[b + 1].start_ns / ST_HOUR_NS_N * ST_HOUR_NS_N != h) {
                s = w->s[S_KPI_HOUR];
                b_i64(s, 1, tid);
                b_text(s, 2, "all");
                b_i64(s, 3, h);
                ok &= run(w, s);
            }
        }
        ok &= write_peer(w, &t->peer, t->name, t->itsp ? "itsp" : "direct", 0, t->peak_ns);
    }
    ok &= write_regs(w, sn);
    ok &= write_open(w, sn);
    return ok;
}

bool st_rec_write(struct st_writer *w, struct rec *r)
{
    /* records that may read, move or delete legs and calls see their MOS */
    if ((w->nmos[0] || w->nmos[1]) && r->kind != REC_SIP && r->kind != REC_STREAM &&
        r->kind != REC_AFTER && (r->kind != REC_CALL || r->u.call.replaces))
        st_mos_flush(w);
    /* ... and those that delete or move them find their rollups written:
     * a trigger that takes a row away may only update an existing one */
    if ((r->kind == REC_CAPTURE_BEGIN || (r->kind == REC_CALL && r->u.call.replaces)) &&
        !st_roll_flush(w))
        w->roll_failed = true;
    r->seen = true;
    w->moves += r->kind == REC_CAPTURE_BEGIN || (r->kind == REC_CALL && r->u.call.replaces);
    switch (r->kind) {
    case REC_SIP:
        return write_sip(w, r);
    case REC_CALL:
        return write_call(w, r);
    case REC_STREAM:
        return write_stream(w, r);
    case REC_CAPTURE_BEGIN:
        return write_capture_begin(w, r);
    case REC_CAPTURE_END:
        return write_capture_end(w, r);
    case REC_SNAP:
        return write_snap(w, &r->u.snap);
    case REC_TLS:
        return st_tls_write_conn(w->h, &r->u.tls);
    case REC_OFLOW:
        return st_tls_write_flow(w->h, &r->u.oflow);
    case REC_AFTER:
        return true;
    }
    return false;
}

