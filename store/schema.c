/* Store schema: versioned by PRAGMA user_version, created and upgraded by
 * forward migration steps (a new database runs every step, so the upgrade
 * path is the tested path); plus the small reader/maintenance API. */
#include "store_int.h"
#include "alerts.h" /* ST_OPT_WHERE */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Version 1: the first released layout. Times are ns since the epoch,
 * addresses text, enums their names (stable across builds, readable). */
static const char SCHEMA_V1[] =
    "CREATE TABLE captures("
    " id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER, mtime INTEGER,"
    " head_hash TEXT, sensor TEXT, started INTEGER, finished INTEGER,"
    " first_ts INTEGER, last_ts INTEGER);"
    "CREATE INDEX captures_ident ON captures(path, size, mtime, head_hash);"
    "CREATE TABLE trunks("
    " id INTEGER PRIMARY KEY, name TEXT, local_addr TEXT NOT NULL, peer_addr TEXT NOT NULL,"
    " itsp INTEGER, attempts INTEGER, answered INTEGER, busy INTEGER, rejected INTEGER,"
    " cancelled INTEGER, failed INTEGER, timeouts INTEGER, asr REAL, ner REAL,"
    " acd_s REAL, pdd_mean_ms REAL, pdd_p95_ms INTEGER, peak_concurrent INTEGER,"
    " peak_ts INTEGER, updated INTEGER, UNIQUE(local_addr, peer_addr));"
    "CREATE TABLE peers("
    " id INTEGER PRIMARY KEY, addr TEXT NOT NULL UNIQUE, name TEXT, kind TEXT,"
    " first_ts INTEGER, last_ts INTEGER);"
    "CREATE TABLE calls("
    " id INTEGER PRIMARY KEY, capture_id INTEGER REFERENCES captures(id),"
    " tracker_id INTEGER, start INTEGER NOT NULL, end INTEGER, caller TEXT, callee TEXT,"
    " direction TEXT, outcome TEXT, failure_side TEXT, failure_detail TEXT,"
    " pdd_ms INTEGER, duration_s REAL, mos REAL, legs INTEGER);"
    "CREATE INDEX calls_start ON calls(start);"
    "CREATE INDEX calls_outcome ON calls(outcome, start);"
    "CREATE INDEX calls_failure_side ON calls(failure_side, start);"
    "CREATE INDEX calls_mos ON calls(mos);"
    "CREATE INDEX calls_capture ON calls(capture_id);"
    "CREATE TABLE legs("
    " id INTEGER PRIMARY KEY, call_ref INTEGER NOT NULL REFERENCES calls(id), idx INTEGER,"
    " call_id TEXT NOT NULL, from_user TEXT, to_user TEXT, ruri TEXT, pai TEXT,"
    " caller_digits TEXT, callee_digits TEXT, invite_ts INTEGER, prov_ts INTEGER,"
    " ring_ts INTEGER, answer_ts INTEGER, end_ts INTEGER, bye_ts INTEGER,"
    " final_status INTEGER, reason TEXT, reason_hdr TEXT, q850 INTEGER, ms_diag TEXT,"
    " hangup_by TEXT, transport TEXT, src TEXT, sport INTEGER, dst TEXT, dport INTEGER,"
    " outcome TEXT, ev_type TEXT, ev_conf REAL, linked_to INTEGER,"
    " caller_codecs TEXT, callee_codecs TEXT);"
    "CREATE INDEX legs_call ON legs(call_ref);"
    "CREATE INDEX legs_caller ON legs(caller_digits);"
    "CREATE INDEX legs_callee ON legs(callee_digits);"
    "CREATE INDEX legs_call_id ON legs(call_id);"
    "CREATE TABLE sip_messages("
    " id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, src TEXT, sport INTEGER, dst TEXT,"
    " dport INTEGER, transport TEXT, call_id TEXT, leg_id INTEGER REFERENCES legs(id),"
    " method TEXT, status INTEGER, cseq INTEGER, cseq_method TEXT, raw BLOB,"
    " capture_id INTEGER REFERENCES captures(id), frame INTEGER, file_off INTEGER);"
    "CREATE INDEX sip_messages_call_id ON sip_messages(call_id, ts);"
    "CREATE INDEX sip_messages_leg ON sip_messages(leg_id);"
    "CREATE INDEX sip_messages_ts ON sip_messages(ts);"
    "CREATE INDEX sip_messages_capture ON sip_messages(capture_id);"
    "CREATE TABLE rtp_streams("
    " id INTEGER PRIMARY KEY, call_ref INTEGER REFERENCES calls(id),"
    " leg_id INTEGER REFERENCES legs(id), capture_id INTEGER, src TEXT, sport INTEGER,"
    " dst TEXT, dport INTEGER, ssrc INTEGER, payload_type INTEGER, codec TEXT,"
    " first_ts INTEGER, last_ts INTEGER, packets INTEGER, lost INTEGER,"
    " jitter_mean_ms REAL, jitter_max_ms REAL, max_delta_ms REAL, mos REAL, flags INTEGER);"
    "CREATE INDEX rtp_streams_call ON rtp_streams(call_ref);"
    "CREATE TABLE rtp_intervals("
    " stream_id INTEGER NOT NULL REFERENCES rtp_streams(id), ts INTEGER NOT NULL,"
    " packets INTEGER, lost INTEGER, jitter_mean_ms REAL, jitter_max_ms REAL,"
    " max_delta_ms REAL, mos REAL, flags INTEGER, PRIMARY KEY(stream_id, ts));"
    "CREATE TABLE rtcp_reports("
    " id INTEGER PRIMARY KEY, call_ref INTEGER REFERENCES calls(id),"
    " stream_id INTEGER REFERENCES rtp_streams(id), capture_id INTEGER, ts INTEGER,"
    " src TEXT, sport INTEGER, dst TEXT, dport INTEGER, ssrc INTEGER, type TEXT,"
    " fraction_lost REAL, cum_lost INTEGER, jitter_ms REAL, rtt_ms REAL, mos REAL,"
    " flags INTEGER);"
    "CREATE INDEX rtcp_reports_call ON rtcp_reports(call_ref);"
    "CREATE TABLE registrations("
    " id INTEGER PRIMARY KEY, capture_id INTEGER, client TEXT, server TEXT, aor TEXT,"
    " attempts INTEGER, successes INTEGER, challenges INTEGER, failures INTEGER,"
    " timeouts INTEGER, rt_mean_ms REAL, rt_max_ms INTEGER, last_status INTEGER,"
    " first_ts INTEGER, last_ts INTEGER, last_ok_ts INTEGER);"
    "CREATE TABLE keepalives("
    " id INTEGER PRIMARY KEY, capture_id INTEGER, client TEXT, server TEXT,"
    " attempts INTEGER, successes INTEGER, failures INTEGER, timeouts INTEGER,"
    " rt_mean_ms REAL, rt_max_ms INTEGER, last_status INTEGER,"
    " first_ts INTEGER, last_ts INTEGER, last_ok_ts INTEGER);"
    "CREATE TABLE kpi_minute("
    " trunk_id INTEGER NOT NULL REFERENCES trunks(id), direction TEXT NOT NULL,"
    " minute INTEGER NOT NULL, attempts INTEGER, answered INTEGER, busy INTEGER,"
    " rejected INTEGER, cancelled INTEGER, failed INTEGER, timeouts INTEGER,"
    " srd_sum_ms REAL, srd_n INTEGER, ans_sum_ms REAL, ans_n INTEGER,"
    " dur_sum_s REAL, dur_n INTEGER, peak_concurrent INTEGER,"
    " PRIMARY KEY(trunk_id, minute, direction));";

/* Version 2: the SDP media endpoints of both sides of each leg (per-call
 * RTP export) and the kind of a capture (file now, spool later). */
static const char SCHEMA_V2[] =
    "ALTER TABLE legs ADD COLUMN caller_media_addr TEXT;"
    "ALTER TABLE legs ADD COLUMN caller_media_port INTEGER;"
    "ALTER TABLE legs ADD COLUMN callee_media_addr TEXT;"
    "ALTER TABLE legs ADD COLUMN callee_media_port INTEGER;"
    "ALTER TABLE captures ADD COLUMN kind TEXT NOT NULL DEFAULT 'file';";

/* Digits reversed (CALLS_DIGITS_LEN - 1 = 31 at most) with built-in
 * functions only, so that any connection can insert legs (no application
 * function needed) and a search by the last digits is an index range. */
#define ST_RV(c, n) "substr(" c ",-" n ",1)"
#define ST_REV(c) ST_RV(c, "1") "||" ST_RV(c, "2") "||" ST_RV(c, "3") "||" \
    ST_RV(c, "4") "||" ST_RV(c, "5") "||" ST_RV(c, "6") "||" ST_RV(c, "7") "||" \
    ST_RV(c, "8") "||" ST_RV(c, "9") "||" ST_RV(c, "10") "||" ST_RV(c, "11") "||" \
    ST_RV(c, "12") "||" ST_RV(c, "13") "||" ST_RV(c, "14") "||" ST_RV(c, "15") "||" \
    ST_RV(c, "16") "||" ST_RV(c, "17") "||" ST_RV(c, "18") "||" ST_RV(c, "19") "||" \
    ST_RV(c, "20") "||" ST_RV(c, "21") "||" ST_RV(c, "22") "||" ST_RV(c, "23") "||" \
    ST_RV(c, "24") "||" ST_RV(c, "25") "||" ST_RV(c, "26") "||" ST_RV(c, "27") "||" \
    ST_RV(c, "28") "||" ST_RV(c, "29") "||" ST_RV(c, "30") "||" ST_RV(c, "31")

/* Version 3: media. legs get the call layer's leg_ref (finished RTP streams
 * name their leg by it), capture_gap and the worst stream MOS; rtp_streams
 * gets every statistic of a finished stream. Plus the indexes the 1M-call
 * load test asked for: legs(src, dst) for trunk pages and /metrics, sort
 * indexes matching ORDER BY coalesce(x, -1), id exactly, and reversed
 * digits for number search by the last digits. The SIP message Call-ID
 * index goes: the writer links messages from memory (writer.c), and the
 * leg index only holds linked messages. v2 never wrote rtp_streams. */
static const char SCHEMA_V3[] =
    "ALTER TABLE legs ADD COLUMN leg_ref INTEGER;"
    "ALTER TABLE legs ADD COLUMN capture_gap INTEGER;"
    "ALTER TABLE legs ADD COLUMN mos REAL;"
    "ALTER TABLE legs ADD COLUMN caller_rev TEXT GENERATED ALWAYS AS (" ST_REV("caller_digits")
    ") VIRTUAL;"
    "ALTER TABLE legs ADD COLUMN callee_rev TEXT GENERATED ALWAYS AS (" ST_REV("callee_digits")
    ") VIRTUAL;"
    "CREATE INDEX legs_leg_ref ON legs(leg_ref) WHERE leg_ref IS NOT NULL;"
    "CREATE INDEX legs_src_dst ON legs(src, dst, mos);" /* mos: trunk MOS index-only */
    "CREATE INDEX legs_caller_rev ON legs(caller_rev);"
    "CREATE INDEX legs_callee_rev ON legs(callee_rev);"
    "DROP INDEX legs_caller;" /* instr() substring search never used them */
    "DROP INDEX legs_callee;"
    "CREATE INDEX calls_sort_pdd ON calls(coalesce(pdd_ms,-1), id);"
    "CREATE INDEX calls_sort_duration ON calls(coalesce(duration_s,-1.0), id);"
    "CREATE INDEX calls_sort_mos ON calls(coalesce(mos,-1.0), id);"
    "DROP INDEX sip_messages_call_id;"
    "DROP INDEX sip_messages_leg;"
    "CREATE INDEX sip_messages_leg ON sip_messages(leg_id) WHERE leg_id IS NOT NULL;"
    "ALTER TABLE rtp_streams ADD COLUMN leg_ref INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN clock_rate INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN payload_types TEXT;"
    "ALTER TABLE rtp_streams ADD COLUMN bytes INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN expected INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN lost_pct REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN duplicates INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN out_of_order INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN seq_resets INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN seq_errors INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN markers INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN comfort_noise INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN jb_discarded INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN min_delta_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN mean_delta_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN jitter_min_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN problem INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN r_factor REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN ppl_pct REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN burst_r REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN delay_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN signalled INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN dtmf_events INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN dtmf TEXT;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_sr INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_rr INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_sdes INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_bye INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_xr INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_app INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_feedback INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_srtcp INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_cname TEXT;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_report_blocks INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_fraction_lost REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_fraction_lost_max REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_cumulative_lost INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_jitter_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_rtt_samples INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_rtt_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_rtt_max_ms REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_xr_voip INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_xr_mos_lq REAL;"
    "ALTER TABLE rtp_streams ADD COLUMN rtcp_xr_r_factor REAL;"
    "CREATE INDEX rtp_streams_leg ON rtp_streams(leg_id);"
    /* streams that arrived before their leg: few, adopted when it comes */
    "CREATE INDEX rtp_streams_pending ON rtp_streams(leg_ref) WHERE leg_id IS NULL;";

/* Version 4: branch sites and many sensors. Each leg, call and trunk keeps
 * the site (sensor or HEP node) that saw it; NULL for a local capture.
 * calls(site, start) serves the call list and the overview of one site. */
static const char SCHEMA_V4[] =
    "ALTER TABLE legs ADD COLUMN site TEXT;"
    "ALTER TABLE calls ADD COLUMN site TEXT;"
    "ALTER TABLE trunks ADD COLUMN site TEXT;"
    "CREATE INDEX calls_site ON calls(site, start) WHERE site IS NOT NULL;";

/* Version 5: a trunk's page sums every leg between its two addresses
 * (directions, final codes, answered codecs); legs_src_dst now holds the
 * columns those sums read, so that they never visit the table (3.9 to 0.4 s
 * for a trunk of 700,000 legs). Same name and leading columns: the trunk
 * MOS stays index-only. */
static const char SCHEMA_V5[] =
    "DROP INDEX legs_src_dst;"
    "CREATE INDEX legs_src_dst ON legs(src, dst, mos, outcome, final_status, invite_ts,"
    " ring_ts, answer_ts, end_ts, callee_codecs);";

/* Version 6: a message's leg is a row of sip_links, written with the leg
 * and in leg order, so that it is appended at the end of a narrow B-tree.
 * Setting sip_messages.leg_id rewrote the page of every message, and with
 * 10,000 calls up a leg's messages lie pages apart: 220,000 of the 330,000
 * page writes of the 4M-packet benchmark capture. The column stays, since
 * SQLite cannot drop a foreign-key column; nothing writes or reads it. */
static const char SCHEMA_V6[] =
    "CREATE TABLE sip_links(leg_id INTEGER NOT NULL, msg_id INTEGER NOT NULL,"
    " PRIMARY KEY(leg_id, msg_id)) WITHOUT ROWID;"
    "INSERT INTO sip_links SELECT leg_id, id FROM sip_messages WHERE leg_id IS NOT NULL;"
    "DROP INDEX sip_messages_leg;";

/* Version 7: the live state of a running sensor. live_legs holds the legs
 * in progress at the last snapshot (rewritten whole, at most
 * TS_STORE_LIVE_LEGS rows), live_state one row with the counts of all of
 * them and the snapshot time; both are emptied when the sensor stops.
 * Legs keep the caller's User-Agent and the callee's Server, which tickets
 * name; an index on the final status serves the search by code. */
static const char SCHEMA_V7[] =
    "ALTER TABLE legs ADD COLUMN user_agent TEXT;"
    "ALTER TABLE legs ADD COLUMN server TEXT;"
    "CREATE INDEX legs_final_status ON legs(final_status) WHERE final_status IS NOT NULL;"
    "CREATE TABLE live_legs(call_key INTEGER NOT NULL, state TEXT NOT NULL, call_id TEXT,"
    " caller TEXT, callee TEXT, invite_ts INTEGER, ring_ts INTEGER, answer_ts INTEGER,"
    " src TEXT, sport INTEGER, dst TEXT, dport INTEGER, transport TEXT, site TEXT);"
    "CREATE TABLE live_state(id INTEGER PRIMARY KEY CHECK(id = 1), updated INTEGER,"
    " capture_ts INTEGER, calls_up INTEGER, legs_up INTEGER, legs_ringing INTEGER,"
    " legs_trying INTEGER, running INTEGER);";

/* Version 8: the topology learned from the traffic, one row per node (its
 * addresses space-separated), replaced whenever the trunks are written. */
static const char SCHEMA_V8[] =
    "CREATE TABLE IF NOT EXISTS topology(id INTEGER PRIMARY KEY, role TEXT NOT NULL, side TEXT,"
    " learned_from TEXT NOT NULL, b2bua INTEGER NOT NULL, calls INTEGER NOT NULL,"
    " confidence REAL, user_agent TEXT, addresses TEXT NOT NULL, site TEXT);";

/* Version 9: why a MOS is poor and the quality endpoints report. A stream,
 * leg and call keep the reason of their MOS under 3.5 (loss, burst_loss,
 * late_discards, delay, codec, one_way, no_audio); legs and calls the
 * one-way / no-audio bits of their streams (media_flags: 1 one_way,
 * 2 no_audio), so the call list can show them; a leg the reports its
 * endpoints sent (vq-rtcpxr PUBLISH, X-RTP-Stat / P-RTP-Stat of BYE and
 * 200) as a JSON array written by the writer. */
static const char SCHEMA_V9[] =
    "ALTER TABLE rtp_streams ADD COLUMN mos_reason TEXT;"
    "ALTER TABLE legs ADD COLUMN mos_reason TEXT;"
    "ALTER TABLE legs ADD COLUMN media_flags INTEGER;"
    "ALTER TABLE legs ADD COLUMN endpoint_quality TEXT;"
    "ALTER TABLE calls ADD COLUMN mos_reason TEXT;"
    "ALTER TABLE calls ADD COLUMN media_flags INTEGER;";

/* Version 10: alerts and trunk health. alerts keeps each alert's
 * lifecycle (pending, firing, resolved) with the numbers and call ids
 * behind it as JSON; trunk_health the last evaluation per trunk (state,
 * reasons, metrics); legs(src, dst, invite_ts) lets the evaluator read a
 * trunk's last minutes as an index range. */
static const char SCHEMA_V10[] =
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, rule TEXT NOT NULL, scope TEXT NOT NULL,"
    " target TEXT NOT NULL, trunk_id INTEGER, site TEXT, severity TEXT NOT NULL,"
    " state TEXT NOT NULL, value REAL, threshold REAL, started INTEGER NOT NULL, fired INTEGER,"
    " resolved INTEGER, updated INTEGER NOT NULL, summary TEXT, evidence TEXT);"
    "CREATE INDEX alerts_state ON alerts(state, started);"
    "CREATE INDEX alerts_started ON alerts(started);"
    "CREATE TABLE trunk_health(trunk_id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
    " reasons TEXT, metrics TEXT, data_ts INTEGER, updated INTEGER);"
    "CREATE INDEX legs_src_dst_invite ON legs(src, dst, invite_ts);";

/* Version 11: the live capture spool (store/spool.c). One row per rotating
 * file and one per block (a zstd frame of whole pcap records) with its
 * capture time range, so that a call's frames are found by time without
 * reading other files; sizes for the size cap. */
static const char SCHEMA_V11[] =
    "CREATE TABLE spool_files("
    " id INTEGER PRIMARY KEY, path TEXT NOT NULL, sensor TEXT, linktype INTEGER NOT NULL,"
    " first_ts INTEGER, last_ts INTEGER, bytes INTEGER NOT NULL DEFAULT 0,"
    " raw_bytes INTEGER NOT NULL DEFAULT 0, frames INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL DEFAULT 'open', torn INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE spool_blocks("
    " file_id INTEGER NOT NULL REFERENCES spool_files(id), off INTEGER NOT NULL,"
    " len INTEGER NOT NULL, raw_len INTEGER NOT NULL, first_ts INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL, frames INTEGER NOT NULL, PRIMARY KEY(file_id, off))"
    " WITHOUT ROWID;"
    "CREATE INDEX spool_blocks_time ON spool_blocks(first_ts);";

/* Version 12: the trunk's peak bandwidth, computed once where the calls
 * are (the largest sum of calls x codec rate at one instant), so that the
 * report, the API and the dashboard give the same figure. */
static const char SCHEMA_V12[] = "ALTER TABLE trunks ADD COLUMN peak_kbps REAL;";

/* Version 13: the Lync 2013 trunk checklist per trunk (alert/checklist.c)
 * as the analysis left it: the worst item's status and the items as JSON
 * (each with its evidence and the store's ids of the calls behind it). */
static const char SCHEMA_V13[] =
    "CREATE TABLE trunk_checklist(trunk_id INTEGER PRIMARY KEY, status TEXT NOT NULL,"
    " items TEXT NOT NULL, updated INTEGER NOT NULL);";

/* Version 14: TLS seen from outside and the other flows of the trunk links.
 * tls_peers: one row per (client, server, port), replaced as handshakes
 * come; tls_conns: one row per connection whose handshake ended (the
 * newest TS_STORE_TLS_CONNS kept); other_flows: the nDPI inventory, one row
 * per (client, server, port, transport, protocol). Times are ns, a
 * certificate's validity seconds since the epoch. */
static const char SCHEMA_V14[] =
    "CREATE TABLE tls_peers(id INTEGER PRIMARY KEY, client TEXT NOT NULL, server TEXT NOT NULL,"
    " server_port INTEGER NOT NULL, site TEXT, status TEXT, version TEXT, suite INTEGER,"
    " offered TEXT, sni TEXT, alpn TEXT, cert_requested INTEGER, client_cert INTEGER,"
    " conns INTEGER, established INTEGER, failed INTEGER, resumed INTEGER, alerts INTEGER,"
    " alert_level TEXT, alert_desc TEXT, alert_from TEXT, first_ts INTEGER, last_ts INTEGER,"
    " last_ok_ts INTEGER, last_fail_ts INTEGER, chain_len INTEGER,"
    " cert_subject TEXT, cert_issuer TEXT, cert_sans TEXT, cert_not_before INTEGER,"
    " cert_not_after INTEGER, cert_key TEXT, cert_key_bits INTEGER, cert_sig TEXT,"
    " cert_serial TEXT, client_cert_subject TEXT, client_cert_issuer TEXT,"
    " client_cert_not_after INTEGER, UNIQUE(client, server, server_port));"
    "CREATE TABLE tls_conns(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, end_ts INTEGER,"
    " client TEXT, client_port INTEGER, server TEXT, server_port INTEGER, site TEXT,"
    " state TEXT, version TEXT, suite INTEGER, offered TEXT, sni TEXT, alpn TEXT,"
    " resumed INTEGER, ems INTEGER, cert_requested INTEGER, client_cert INTEGER,"
    " alert_desc TEXT, cert_subject TEXT, cert_issuer TEXT, cert_not_after INTEGER);"
    "CREATE INDEX tls_conns_ts ON tls_conns(ts);"
    "CREATE TABLE other_flows(id INTEGER PRIMARY KEY, client TEXT NOT NULL,"
    " server TEXT NOT NULL, port INTEGER NOT NULL, transport TEXT NOT NULL,"
    " protocol TEXT NOT NULL, category TEXT, guessed INTEGER, flows INTEGER, packets INTEGER,"
    " bytes INTEGER, first_ts INTEGER, last_ts INTEGER,"
    " UNIQUE(client, server, port, transport, protocol));";

/* Version 15: what a trunk's page and the trunk list sum over its legs,
 * kept per address pair (leg source and destination: a trunk's two ends,
 * each way), UTC day of the INVITE and leg class (outcome, final status,
 * first answered codec) by triggers, so in the writer's own transactions
 * and on every path that adds, changes or removes a leg (ingestion, MOS
 * updates, merged calls, re-analysis, retention). The sums were index
 * scans over every leg of the trunk: 1-1.5 s for 700,000 legs, 20 s at
 * 10 M calls. Durations are integer ns (exact under any order of adds and
 * removes); a NULL key column is stored as '' or -1. legs(src, dst,
 * outcome) (with the rowid after them) gives a trunk's newest answered
 * legs each way as a backward index walk, for the media rates. */
#define LS_CODEC(L)                                                                            \
    "CASE WHEN instr(" L ".callee_codecs,',')>0 THEN substr(" L ".callee_codecs,1,"               \
    "instr(" L ".callee_codecs,',')-1) ELSE coalesce(" L ".callee_codecs,'') END"
#define LS_ACD(L)                                                                              \
    "CASE WHEN " L ".outcome='answered' AND " L ".end_ts>=" L ".answer_ts THEN " L ".end_ts-" L \
    ".answer_ts END"
#define LS_PDD(L)                                                                              \
    "CASE WHEN coalesce(" L ".ring_ts," L ".answer_ts)>=" L ".invite_ts THEN coalesce(" L      \
    ".ring_ts," L ".answer_ts)-" L ".invite_ts END"
#define LS_KEY(L)                                                                              \
    "coalesce(" L ".src,''), coalesce(" L ".dst,''), coalesce(" L ".invite_ts,0)/86400000000000," \
    " coalesce(" L ".outcome,''), coalesce(" L ".final_status,-1), " LS_CODEC(L)
/* one leg's row, added (S "") or taken away (S "-") */
#define LS_ONE(L, S)                                                                           \
    "INSERT INTO leg_sums VALUES(" LS_KEY(L) ", " S "1, " S "coalesce(" LS_ACD(L) ",0), " S    \
    "(" LS_ACD(L) " IS NOT NULL), " S "coalesce(" LS_PDD(L) ",0), " S "(" LS_PDD(L)           \
    " IS NOT NULL), " S "coalesce(" L ".mos,0), " S "(" L ".mos IS NOT NULL))"                  \
    " ON CONFLICT DO UPDATE SET legs=legs+excluded.legs, acd_ns=acd_ns+excluded.acd_ns,"        \
    " acd_n=acd_n+excluded.acd_n, pdd_ns=pdd_ns+excluded.pdd_ns, pdd_n=pdd_n+excluded.pdd_n,"   \
    " mos_sum=mos_sum+excluded.mos_sum, mos_n=mos_n+excluded.mos_n;"
/* A trunk's failures: calls per failure kind (the call's outcome and
 * failing side, the leg's final status, reason, sender, Q.850 cause and
 * Reason header) and unordered address pair, each call counted once per
 * kind. A change to a call or to one of its legs takes the call's kinds
 * away before it and adds them back after it, so the count stays that of
 * distinct calls whatever order the writer goes in. Key columns may be
 * NULL, hence IS and a plain index instead of a primary key (no alias in
 * a trigger's UPDATE). */
#define FS_SET(C)                                                                              \
    "SELECT DISTINCT min(l.src,l.dst) AS a, max(l.src,l.dst) AS b, c.outcome AS outcome,"       \
    " coalesce(c.failure_side,'none') AS side, l.final_status AS status, l.reason AS reason,"    \
    " CASE WHEN l.final_status IS NOT NULL THEN l.dst END AS sender, l.q850 AS q850,"          \
    " l.reason_hdr AS hdr FROM legs l JOIN calls c ON c.id=l.call_ref WHERE l.call_ref=" C      \
    " AND l.outcome NOT IN ('answered','in_progress','pending') AND l.src IS NOT NULL AND"       \
    " l.dst IS NOT NULL"
#define FS_MATCH(F, X)                                                                         \
    F ".a IS " X ".a AND " F ".b IS " X ".b AND " F ".outcome IS " X ".outcome AND " F          \
    ".side IS " X ".side AND " F ".status IS " X ".status AND " F ".reason IS " X ".reason AND " \
    F ".sender IS " X ".sender AND " F ".q850 IS " X ".q850 AND " F ".hdr IS " X ".hdr"
#define FS_SUB(C)                                                                              \
    "UPDATE failure_sums SET calls=calls-1 FROM (" FS_SET(C) ") AS x WHERE "                   \
    FS_MATCH("failure_sums", "x") ";"
#define FS_ADD(C)                                                                              \
    "UPDATE failure_sums SET calls=calls+1 FROM (" FS_SET(C) ") AS x WHERE "                   \
    FS_MATCH("failure_sums", "x") ";"                                                                     \
    "INSERT INTO failure_sums SELECT x.*, 1 FROM (" FS_SET(C) ") AS x WHERE NOT EXISTS"         \
    " (SELECT 1 FROM failure_sums f WHERE " FS_MATCH("f", "x") ");"
#define FS_LEG_COLS "call_ref, src, dst, outcome, final_status, reason, q850, reason_hdr"
static const char SCHEMA_V15[] =
    "CREATE TABLE leg_sums(src TEXT NOT NULL, dst TEXT NOT NULL, day INTEGER NOT NULL,"
    " outcome TEXT NOT NULL, final_status INTEGER NOT NULL, codec TEXT NOT NULL,"
    " legs INTEGER NOT NULL, acd_ns INTEGER NOT NULL, acd_n INTEGER NOT NULL,"
    " pdd_ns INTEGER NOT NULL, pdd_n INTEGER NOT NULL, mos_sum REAL NOT NULL,"
    " mos_n INTEGER NOT NULL,"
    " PRIMARY KEY(src, dst, day, outcome, final_status, codec)) WITHOUT ROWID;"
    "INSERT INTO leg_sums SELECT " LS_KEY("l") ", count(*), coalesce(sum(" LS_ACD("l") "),0),"
    " count(" LS_ACD("l") "), coalesce(sum(" LS_PDD("l") "),0), count(" LS_PDD("l") "),"
    " total(l.mos), count(l.mos) FROM legs l GROUP BY 1, 2, 3, 4, 5, 6;"
    "CREATE TRIGGER leg_sums_ins AFTER INSERT ON legs BEGIN " LS_ONE("NEW", "") " END;"
    "CREATE TRIGGER leg_sums_del AFTER DELETE ON legs BEGIN " LS_ONE("OLD", "-") " END;"
    "CREATE TRIGGER leg_sums_upd AFTER UPDATE OF src, dst, invite_ts, ring_ts, answer_ts,"
    " end_ts, outcome, final_status, callee_codecs, mos ON legs BEGIN " LS_ONE("OLD", "-")
    " " LS_ONE("NEW", "") " END;"
    "CREATE INDEX legs_src_dst_outcome ON legs(src, dst, outcome);"
    "CREATE TABLE failure_sums(a TEXT, b TEXT, outcome TEXT, side TEXT, status INTEGER,"
    " reason TEXT, sender TEXT, q850 INTEGER, hdr TEXT, calls INTEGER NOT NULL);"
    "CREATE INDEX failure_sums_key ON failure_sums(a, b, outcome, side, status, reason, sender,"
    " q850, hdr);"
    "INSERT INTO failure_sums SELECT a, b, outcome, side, status, reason, sender, q850, hdr,"
    " count(DISTINCT id) FROM (SELECT min(l.src,l.dst) AS a, max(l.src,l.dst) AS b,"
    " c.outcome AS outcome, coalesce(c.failure_side,'none') AS side, l.final_status AS status,"
    " l.reason AS reason, CASE WHEN l.final_status IS NOT NULL THEN l.dst END AS sender,"
    " l.q850 AS q850, l.reason_hdr AS hdr, c.id AS id FROM legs l JOIN calls c ON"
    " c.id=l.call_ref WHERE l.outcome NOT IN ('answered','in_progress','pending') AND"
    " l.src IS NOT NULL AND l.dst IS NOT NULL) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;"
    "CREATE TRIGGER failure_sums_leg_ins0 BEFORE INSERT ON legs BEGIN " FS_SUB("NEW.call_ref")
    " END;"
    "CREATE TRIGGER failure_sums_leg_ins1 AFTER INSERT ON legs BEGIN " FS_ADD("NEW.call_ref")
    " END;"
    "CREATE TRIGGER failure_sums_leg_del0 BEFORE DELETE ON legs BEGIN " FS_SUB("OLD.call_ref")
    " END;"
    "CREATE TRIGGER failure_sums_leg_del1 AFTER DELETE ON legs BEGIN " FS_ADD("OLD.call_ref")
    " END;"
    "CREATE TRIGGER failure_sums_leg_upd0 BEFORE UPDATE OF " FS_LEG_COLS " ON legs BEGIN "
    FS_SUB("OLD.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_upd1 AFTER UPDATE OF " FS_LEG_COLS " ON legs BEGIN "
    FS_ADD("OLD.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_upd2 BEFORE UPDATE OF " FS_LEG_COLS " ON legs"
    " WHEN NEW.call_ref IS NOT OLD.call_ref BEGIN " FS_SUB("NEW.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_upd3 AFTER UPDATE OF " FS_LEG_COLS " ON legs"
    " WHEN NEW.call_ref IS NOT OLD.call_ref BEGIN " FS_ADD("NEW.call_ref") " END;"
    "CREATE TRIGGER failure_sums_call_ins0 BEFORE INSERT ON calls BEGIN " FS_SUB("NEW.id")
    " END;"
    "CREATE TRIGGER failure_sums_call_ins1 AFTER INSERT ON calls BEGIN " FS_ADD("NEW.id")
    " END;"
    "CREATE TRIGGER failure_sums_call_del0 BEFORE DELETE ON calls BEGIN " FS_SUB("OLD.id")
    " END;"
    "CREATE TRIGGER failure_sums_call_upd0 BEFORE UPDATE OF id, outcome, failure_side ON calls"
    " BEGIN " FS_SUB("OLD.id") " END;"
    "CREATE TRIGGER failure_sums_call_upd1 AFTER UPDATE OF id, outcome, failure_side ON calls"
    " BEGIN " FS_ADD("NEW.id") " END;";

/* Version 16: what the overview and /stats counted over every call.
 * call_minutes holds, per minute of a call's start and site ('' for none),
 * the overview series' sums (calls ended or not, outcomes, PDD, ACD and MOS
 * sums with counts) and, for its concurrency, how many calls started in the
 * minute (calls) and how many ended in it (ends, at the minute of
 * coalesce(end, start)): the calls up at some time of minute m are the
 * starts up to m less the ends before m. row_counts holds the rows of the
 * four tables /stats counts. Both are kept by triggers, like v15's. PDD is
 * an integer sum (exact under any order of adds and removes); durations
 * and MOS are REAL sums. legs(dst, dport) lets the call list's address
 * filter find a leg by either end without a scan. On 10 M calls the step
 * reads every call twice (by start, and sorted by end) and sorts the legs
 * once for the index. */
#define CM_OPEN(C) "coalesce(" C ".outcome IN ('in_progress','pending'),0)"
#define CM_IS(C, O) "coalesce(" C ".outcome='" O "',0)"
#define CM_ENDED(C, X) "CASE WHEN NOT " CM_OPEN(C) " THEN " X " END"
#define CM_ANS(C, X) "CASE WHEN " CM_IS(C, "answered") " THEN " X " END"
#define CM_END_NS(C) "max(coalesce(" C ".\"end\"," C ".start)," C ".start)"
/* the sums of one call at its start minute, as columns after minute, site;
 * each term S X ")" with S "(" (add), "-(" (take away) or "sum(" */
#define CM_SUMS(C, S)                                                                          \
    S "1), " S "NOT " CM_OPEN(C) "), " S CM_IS(C, "answered") "), " S CM_IS(C, "busy") "), "  \
    S CM_IS(C, "rejected") "), " S CM_IS(C, "cancelled") "), " S CM_IS(C, "failed") "), "      \
    S CM_IS(C, "timeout") "), " S "coalesce(" CM_ENDED(C, C ".pdd_ms") ",0)), "               \
    S CM_ENDED(C, C ".pdd_ms") " IS NOT NULL), " S "coalesce(" CM_ENDED(C, CM_ANS(C, C         \
    ".duration_s")) ",0)), " S CM_ENDED(C, CM_ANS(C, C ".duration_s")) " IS NOT NULL), "       \
    S "coalesce(" CM_ENDED(C, C ".mos") ",0)), " S CM_ENDED(C, C ".mos") " IS NOT NULL)"
#define CM_MINUTE(X) "((" X ")/60000000000*60000000000)"
#define CM_COLS                                                                                \
    "minute, site, calls, attempts, answered, busy, rejected, cancelled, failed, timeouts,"    \
    " pdd_sum, pdd_n, dur_sum, dur_n, mos_sum, mos_n, ends"
#define CM_ONE(C, S)                                                                           \
    "INSERT INTO call_minutes(" CM_COLS ") VALUES(" CM_MINUTE(C ".start") ","                 \
    " coalesce(" C ".site,''), " CM_SUMS(C, S) ", 0) ON CONFLICT DO UPDATE SET"                \
    " calls=calls+excluded.calls, attempts=attempts+excluded.attempts,"                       \
    " answered=answered+excluded.answered, busy=busy+excluded.busy,"                          \
    " rejected=rejected+excluded.rejected, cancelled=cancelled+excluded.cancelled,"           \
    " failed=failed+excluded.failed, timeouts=timeouts+excluded.timeouts,"                    \
    " pdd_sum=pdd_sum+excluded.pdd_sum, pdd_n=pdd_n+excluded.pdd_n,"                          \
    " dur_sum=dur_sum+excluded.dur_sum, dur_n=dur_n+excluded.dur_n,"                          \
    " mos_sum=mos_sum+excluded.mos_sum, mos_n=mos_n+excluded.mos_n;"                          \
    "INSERT INTO call_minutes(" CM_COLS ") VALUES(" CM_MINUTE(CM_END_NS(C)) ","               \
    " coalesce(" C ".site,''), 0,0,0,0,0,0,0,0,0,0,0,0,0,0, " S "1))"                         \
    " ON CONFLICT DO UPDATE SET ends=ends+excluded.ends;"
#define RC_TRIGGERS(T)                                                                         \
    "CREATE TRIGGER row_counts_" T "_ins AFTER INSERT ON " T " BEGIN UPDATE row_counts"       \
    " SET n=n+1 WHERE tbl='" T "'; END;"                                                       \
    "CREATE TRIGGER row_counts_" T "_del AFTER DELETE ON " T " BEGIN UPDATE row_counts"       \
    " SET n=n-1 WHERE tbl='" T "'; END;"
static const char SCHEMA_V16[] =
    "CREATE TABLE call_minutes(minute INTEGER NOT NULL, site TEXT NOT NULL,"
    " calls INTEGER NOT NULL, attempts INTEGER NOT NULL, answered INTEGER NOT NULL,"
    " busy INTEGER NOT NULL, rejected INTEGER NOT NULL, cancelled INTEGER NOT NULL,"
    " failed INTEGER NOT NULL, timeouts INTEGER NOT NULL, pdd_sum INTEGER NOT NULL,"
    " pdd_n INTEGER NOT NULL, dur_sum REAL NOT NULL, dur_n INTEGER NOT NULL,"
    " mos_sum REAL NOT NULL, mos_n INTEGER NOT NULL, ends INTEGER NOT NULL,"
    " PRIMARY KEY(minute, site)) WITHOUT ROWID;"
    "INSERT INTO call_minutes(" CM_COLS ") SELECT " CM_MINUTE("c.start") ", coalesce(c.site,''),"
    " " CM_SUMS("c", "sum(") ", 0 FROM calls c GROUP BY 1, 2;"
    "INSERT INTO call_minutes(" CM_COLS ") SELECT " CM_MINUTE(CM_END_NS("c")) ","
    " coalesce(c.site,''), 0,0,0,0,0,0,0,0,0,0,0,0,0,0, count(*) FROM calls c WHERE true"
    " GROUP BY 1, 2 ON CONFLICT DO UPDATE SET ends=ends+excluded.ends;"
    "CREATE TRIGGER call_minutes_ins AFTER INSERT ON calls BEGIN " CM_ONE("NEW", "(") " END;"
    "CREATE TRIGGER call_minutes_del AFTER DELETE ON calls BEGIN " CM_ONE("OLD", "-(") " END;"
    "CREATE TRIGGER call_minutes_upd AFTER UPDATE OF start, \"end\", outcome, pdd_ms, duration_s,"
    " mos, site ON calls BEGIN " CM_ONE("OLD", "-(") " " CM_ONE("NEW", "(") " END;"
    "CREATE TABLE row_counts(tbl TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO row_counts SELECT 'calls', count(*) FROM calls UNION ALL SELECT 'legs',"
    " count(*) FROM legs UNION ALL SELECT 'sip_messages', count(*) FROM sip_messages UNION ALL"
    " SELECT 'rtp_streams', count(*) FROM rtp_streams;"
    RC_TRIGGERS("calls") RC_TRIGGERS("legs") RC_TRIGGERS("sip_messages") RC_TRIGGERS("rtp_streams")
    "CREATE INDEX legs_dst ON legs(dst, dport);";
/* SRTP opened with SDES keys per stream; the partial index keeps the
 * /metrics sum of authentication failures to the few streams that had any. */
static const char SCHEMA_V18[] =
    "ALTER TABLE rtp_streams ADD COLUMN srtp_decrypted INTEGER;"
    "ALTER TABLE rtp_streams ADD COLUMN srtp_auth_fail INTEGER;"
    "CREATE INDEX rtp_streams_srtp_fail ON rtp_streams(srtp_auth_fail) WHERE srtp_auth_fail>0;";

/* Why each TLS connection was or was not decrypted (with keys; null
 * without): its verdict and record counts in tls_conns, the connections
 * ended per verdict in tls_peers (a JSON object, {"decrypted":3,...}). */
static const char SCHEMA_V21[] =
    "ALTER TABLE tls_conns ADD COLUMN decrypt TEXT;"
    "ALTER TABLE tls_conns ADD COLUMN decrypt_records INTEGER;"
    "ALTER TABLE tls_conns ADD COLUMN decrypt_auth_failed INTEGER;"
    "ALTER TABLE tls_conns ADD COLUMN decrypt_late INTEGER;"
    "ALTER TABLE tls_peers ADD COLUMN decrypt TEXT;";

/* Version 17: less work per leg and call the store writer inserts, with
 * the same rows and sums. (1) v15's failure_sums triggers
 * run only when they can change something: a leg that is answered, in
 * progress or pending, or lacks an address, gives its call no failure kind,
 * so the call's kinds are the same before and after it comes or goes and
 * taking them away and adding them back was a no-op; a call without legs
 * has no kinds (the writer stores a call before its legs). Each skipped
 * run materialised the call's kinds three times. (2) The reversed digits
 * (v3) are the same value with fewer substr() calls (below); SQLite
 * computes them for every insert, trigger run and MOS update of a leg. */
#define FS_QUAL(L)                                                                             \
    L ".outcome NOT IN ('answered','in_progress','pending') AND " L ".src IS NOT NULL AND " L    \
    ".dst IS NOT NULL"
#define FS_HAS_LEGS(C) "EXISTS (SELECT 1 FROM legs WHERE call_ref=" C ")"
/* Reversed digits: v3 always took 31 one-character substr() and 30
 * concatenations per column; this stops once the digits run out (a
 * position past them gave ''). */
#define ST_RV4(c, a, b, d, e) ST_RV(c, a) "||" ST_RV(c, b) "||" ST_RV(c, d) "||" ST_RV(c, e)
#define ST_MORE(c, n, body) "(CASE WHEN length(" c ")>" n " THEN " body " ELSE '' END)"
#define ST_REV_SHORT(c)                                                                        \
    ST_RV4(c, "1", "2", "3", "4") "||" ST_RV4(c, "5", "6", "7", "8") "||" ST_MORE(             \
        c, "8", ST_RV4(c, "9", "10", "11", "12") "||" ST_MORE(                                  \
            c, "12", ST_RV4(c, "13", "14", "15", "16") "||" ST_MORE(                            \
                c, "16", ST_RV4(c, "17", "18", "19", "20") "||" ST_MORE(                        \
                    c, "20", ST_RV4(c, "21", "22", "23", "24") "||" ST_MORE(                    \
                        c, "24", ST_RV4(c, "25", "26", "27", "28") "||" ST_MORE(                \
                            c, "28", ST_RV(c, "29") "||" ST_RV(c, "30") "||" ST_RV(c, "31")))))))
static const char SCHEMA_V17[] =
    "DROP INDEX legs_caller_rev; DROP INDEX legs_callee_rev;"
    "ALTER TABLE legs DROP COLUMN caller_rev; ALTER TABLE legs DROP COLUMN callee_rev;"
    "ALTER TABLE legs ADD COLUMN caller_rev TEXT GENERATED ALWAYS AS ("
    ST_REV_SHORT("caller_digits") ") VIRTUAL;"
    "ALTER TABLE legs ADD COLUMN callee_rev TEXT GENERATED ALWAYS AS ("
    ST_REV_SHORT("callee_digits") ") VIRTUAL;"
    "CREATE INDEX legs_caller_rev ON legs(caller_rev);"
    "CREATE INDEX legs_callee_rev ON legs(callee_rev);"
    "DROP TRIGGER failure_sums_leg_ins0; DROP TRIGGER failure_sums_leg_ins1;"
    "DROP TRIGGER failure_sums_leg_del0; DROP TRIGGER failure_sums_leg_del1;"
    "DROP TRIGGER failure_sums_call_ins0; DROP TRIGGER failure_sums_call_ins1;"
    "DROP TRIGGER failure_sums_call_del0;"
    "CREATE TRIGGER failure_sums_leg_ins0 BEFORE INSERT ON legs WHEN " FS_QUAL("NEW")
    " BEGIN " FS_SUB("NEW.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_ins1 AFTER INSERT ON legs WHEN " FS_QUAL("NEW")
    " BEGIN " FS_ADD("NEW.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_del0 BEFORE DELETE ON legs WHEN " FS_QUAL("OLD")
    " BEGIN " FS_SUB("OLD.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_del1 AFTER DELETE ON legs WHEN " FS_QUAL("OLD")
    " BEGIN " FS_ADD("OLD.call_ref") " END;"
    "CREATE TRIGGER failure_sums_call_ins0 BEFORE INSERT ON calls WHEN " FS_HAS_LEGS("NEW.id")
    " BEGIN " FS_SUB("NEW.id") " END;"
    "CREATE TRIGGER failure_sums_call_ins1 AFTER INSERT ON calls WHEN " FS_HAS_LEGS("NEW.id")
    " BEGIN " FS_ADD("NEW.id") " END;"
    "CREATE TRIGGER failure_sums_call_del0 BEFORE DELETE ON calls WHEN " FS_HAS_LEGS("OLD.id")
    " BEGIN " FS_SUB("OLD.id") " END;";

/* Version 19: a trunk's KPI series read the MOS of each bucket from the
 * calls of the bucket with a leg on the trunk (past the 2-s budget on 1 M
 * calls). leg_minutes holds, per leg source, destination and minute of the
 * INVITE, the MOS sum and count of those legs, kept by triggers on legs.
 * Only a leg with a MOS has a row to touch: an insert (most legs have no
 * MOS yet) or an UPDATE that leaves the MOS as it was does nothing; the
 * writer's MOS update of a leg is one upsert of one row; a row goes with
 * its last leg (retention, re-analysis), so the table is bounded by the
 * legs kept. */
#define LM_MINUTE(L) "(" L ".invite_ts/60000000000*60000000000)"
#define LM_KEYED(L) L ".src IS NOT NULL AND " L ".dst IS NOT NULL AND " L ".invite_ts IS NOT NULL"
#define LM_HAS(L) L ".mos IS NOT NULL AND " LM_KEYED(L)
#define LM_SAME_KEY                                                                            \
    "OLD.src IS NEW.src AND OLD.dst IS NEW.dst AND " LM_MINUTE("OLD") " IS " LM_MINUTE("NEW")
/* A MOS sum table T keyed by source, destination and column C = K(L) (the
 * minute here, the hour in v28): L's MOS added, or taken out with the row
 * going with its last one. */
#define LX_ADD(T, K, L, S, N)                                                                  \
    "INSERT INTO " T " SELECT " L ".src, " L ".dst, " K(L) ", " S ", " N " WHERE " LM_KEYED(L) \
    " ON CONFLICT DO UPDATE SET mos_sum=mos_sum+excluded.mos_sum,"                             \
    " mos_n=mos_n+excluded.mos_n;"
#define LX_OF(C, K, L) " WHERE src=" L ".src AND dst=" L ".dst AND " C "=" K(L)
#define LX_SUB(T, C, K, L)                                                                     \
    "UPDATE " T " SET mos_sum=mos_sum-" L ".mos, mos_n=mos_n-1" LX_OF(C, K, L) " AND " L        \
    ".mos IS NOT NULL; DELETE FROM " T LX_OF(C, K, L) " AND mos_n<=0;"
#define LM_ADD(L, S, N) LX_ADD("leg_minutes", LM_MINUTE, L, S, N)
#define LM_SUB(L) LX_SUB("leg_minutes", "minute", LM_MINUTE, L)
static const char SCHEMA_V19[] =
    "CREATE TABLE leg_minutes(src TEXT NOT NULL, dst TEXT NOT NULL, minute INTEGER NOT NULL,"
    " mos_sum REAL NOT NULL, mos_n INTEGER NOT NULL,"
    " PRIMARY KEY(src, dst, minute)) WITHOUT ROWID;"
    "INSERT INTO leg_minutes SELECT l.src, l.dst, " LM_MINUTE("l") ", total(l.mos), count(*)"
    " FROM legs l WHERE " LM_HAS("l") " GROUP BY 1, 2, 3;"
    "CREATE TRIGGER leg_minutes_ins AFTER INSERT ON legs WHEN " LM_HAS("NEW") " BEGIN "
    LM_ADD("NEW", "NEW.mos", "1") " END;"
    "CREATE TRIGGER leg_minutes_del AFTER DELETE ON legs WHEN " LM_HAS("OLD") " BEGIN "
    LM_SUB("OLD") " END;"
    /* the writer's MOS update: the same row, one upsert of the difference */
    "CREATE TRIGGER leg_minutes_mos AFTER UPDATE OF mos, src, dst, invite_ts ON legs WHEN"
    " NEW.mos IS NOT NULL AND OLD.mos IS NOT NEW.mos AND " LM_SAME_KEY " BEGIN "
    LM_ADD("NEW", "NEW.mos-coalesce(OLD.mos,0)", "(OLD.mos IS NULL)") " END;"
    /* anything else: out of the old row, into the new one */
    "CREATE TRIGGER leg_minutes_upd AFTER UPDATE OF mos, src, dst, invite_ts ON legs WHEN"
    " (OLD.mos IS NOT NULL OR NEW.mos IS NOT NULL) AND NOT (NEW.mos IS NOT NULL AND "
    LM_SAME_KEY ") AND (OLD.mos IS NOT NEW.mos OR NOT (" LM_SAME_KEY ")) BEGIN "
    LM_SUB("OLD") " INSERT INTO leg_minutes SELECT NEW.src, NEW.dst, " LM_MINUTE("NEW") ","
    " NEW.mos, 1 WHERE " LM_HAS("NEW") " ON CONFLICT DO UPDATE SET"
    " mos_sum=mos_sum+excluded.mos_sum, mos_n=mos_n+1; END;";

/* Version 20: kpi_minute clustered by its key. A trunk's series and its
 * capacity figures read all of its minutes (10,080 a week); in a rowid
 * table those rows lie on pages shared with every other trunk's, one page
 * per row read through the key's index (14 ms for a week on the loaded
 * machine): WITHOUT ROWID keeps a trunk's minutes together. The writer
 * replaces a row per trunk, direction and minute, as before. */
static const char SCHEMA_V20[] =
    "CREATE TABLE kpi_minute_v20("
    " trunk_id INTEGER NOT NULL REFERENCES trunks(id), direction TEXT NOT NULL,"
    " minute INTEGER NOT NULL, attempts INTEGER, answered INTEGER, busy INTEGER,"
    " rejected INTEGER, cancelled INTEGER, failed INTEGER, timeouts INTEGER,"
    " srd_sum_ms REAL, srd_n INTEGER, ans_sum_ms REAL, ans_n INTEGER,"
    " dur_sum_s REAL, dur_n INTEGER, peak_concurrent INTEGER,"
    " PRIMARY KEY(trunk_id, minute, direction)) WITHOUT ROWID;"
    "INSERT INTO kpi_minute_v20 SELECT trunk_id, direction, minute, attempts, answered, busy,"
    " rejected, cancelled, failed, timeouts, srd_sum_ms, srd_n, ans_sum_ms, ans_n, dur_sum_s,"
    " dur_n, peak_concurrent FROM kpi_minute;"
    "DROP TABLE kpi_minute;"
    "ALTER TABLE kpi_minute_v20 RENAME TO kpi_minute;";

/* Version 22: the rollups of the rows the store writer inserts, and of its
 * MOS updates, are summed in C per batch (rollup.c) instead of per row by
 * triggers, which cost most of a leg's insert (ten indexes and thirteen
 * triggers on legs) and of its MOS update. The triggers stay for any other
 * writer of rows (the sqlite3 shell, a bulk loader) and skip while
 * rollup_owner holds a row: the writer inserts it after BEGIN and deletes
 * it before COMMIT, so no other connection ever sees it. An update trigger
 * skips only a change of the MOS alone (the writer's MOS updates); merged
 * calls, re-analysis and retention run every update and delete trigger as
 * before (rollup.c says why that stays right). */
#define RO_NONE "NOT EXISTS (SELECT 1 FROM rollup_owner)"
#define RO_HAS "EXISTS (SELECT 1 FROM rollup_owner)"
/* when leg_minutes' triggers (and leg_hours', v28) act: an insert by
 * another writer; a MOS changed alone; anything else but the writer's MOS
 * update */
#define LM_WHEN_INS LM_HAS("NEW") " AND " RO_NONE
#define LM_WHEN_MOS                                                                            \
    " NEW.mos IS NOT NULL AND OLD.mos IS NOT NEW.mos AND " LM_SAME_KEY " AND " RO_NONE
#define LM_WHEN_UPD                                                                            \
    " (OLD.mos IS NOT NULL OR NEW.mos IS NOT NULL) AND NOT (NEW.mos IS NOT NULL AND "          \
    LM_SAME_KEY ") AND (OLD.mos IS NOT NEW.mos OR NOT (" LM_SAME_KEY ")) AND NOT ("            \
    LM_SAME_KEY " AND " RO_HAS ")"
#define LS_SAME                                                                                \
    "OLD.src IS NEW.src AND OLD.dst IS NEW.dst AND OLD.invite_ts IS NEW.invite_ts AND"          \
    " OLD.ring_ts IS NEW.ring_ts AND OLD.answer_ts IS NEW.answer_ts AND OLD.end_ts IS"          \
    " NEW.end_ts AND OLD.outcome IS NEW.outcome AND OLD.final_status IS NEW.final_status AND"   \
    " OLD.callee_codecs IS NEW.callee_codecs"
#define CM_SAME                                                                                \
    "OLD.start IS NEW.start AND OLD.\"end\" IS NEW.\"end\" AND OLD.outcome IS NEW.outcome AND"  \
    " OLD.pdd_ms IS NEW.pdd_ms AND OLD.duration_s IS NEW.duration_s AND OLD.site IS NEW.site"
#define RC_INS(T)                                                                              \
    "DROP TRIGGER row_counts_" T "_ins;"                                                       \
    "CREATE TRIGGER row_counts_" T "_ins AFTER INSERT ON " T " WHEN " RO_NONE " BEGIN"         \
    " UPDATE row_counts SET n=n+1 WHERE tbl='" T "'; END;"
static const char SCHEMA_V22[] =
    "CREATE TABLE IF NOT EXISTS rollup_owner(id INTEGER PRIMARY KEY);"
    "DROP TRIGGER leg_sums_ins;"
    "CREATE TRIGGER leg_sums_ins AFTER INSERT ON legs WHEN " RO_NONE " BEGIN " LS_ONE("NEW", "")
    " END;"
    "DROP TRIGGER leg_minutes_ins;"
    "CREATE TRIGGER leg_minutes_ins AFTER INSERT ON legs WHEN " LM_WHEN_INS
    " BEGIN " LM_ADD("NEW", "NEW.mos", "1") " END;"
    "DROP TRIGGER call_minutes_ins;"
    "CREATE TRIGGER call_minutes_ins AFTER INSERT ON calls WHEN " RO_NONE " BEGIN "
    CM_ONE("NEW", "(") " END;"
    "DROP TRIGGER failure_sums_leg_ins0; DROP TRIGGER failure_sums_leg_ins1;"
    "CREATE TRIGGER failure_sums_leg_ins0 BEFORE INSERT ON legs WHEN " FS_QUAL("NEW") " AND "
    RO_NONE " BEGIN " FS_SUB("NEW.call_ref") " END;"
    "CREATE TRIGGER failure_sums_leg_ins1 AFTER INSERT ON legs WHEN " FS_QUAL("NEW") " AND "
    RO_NONE " BEGIN " FS_ADD("NEW.call_ref") " END;"
    RC_INS("calls") RC_INS("legs") RC_INS("sip_messages") RC_INS("rtp_streams")
    "DROP TRIGGER leg_sums_upd;"
    "CREATE TRIGGER leg_sums_upd AFTER UPDATE OF src, dst, invite_ts, ring_ts, answer_ts,"
    " end_ts, outcome, final_status, callee_codecs, mos ON legs WHEN NOT (" LS_SAME " AND "
    RO_HAS ") BEGIN " LS_ONE("OLD", "-") " " LS_ONE("NEW", "") " END;"
    "DROP TRIGGER leg_minutes_mos; DROP TRIGGER leg_minutes_upd;"
    "CREATE TRIGGER leg_minutes_mos AFTER UPDATE OF mos, src, dst, invite_ts ON legs WHEN"
    LM_WHEN_MOS " BEGIN " LM_ADD("NEW", "NEW.mos-coalesce(OLD.mos,0)", "(OLD.mos IS NULL)")
    " END;"
    "CREATE TRIGGER leg_minutes_upd AFTER UPDATE OF mos, src, dst, invite_ts ON legs WHEN"
    LM_WHEN_UPD " BEGIN "
    LM_SUB("OLD") " INSERT INTO leg_minutes SELECT NEW.src, NEW.dst, " LM_MINUTE("NEW") ","
    " NEW.mos, 1 WHERE " LM_HAS("NEW") " ON CONFLICT DO UPDATE SET"
    " mos_sum=mos_sum+excluded.mos_sum, mos_n=mos_n+1; END;"
    "DROP TRIGGER call_minutes_upd;"
    "CREATE TRIGGER call_minutes_upd AFTER UPDATE OF start, \"end\", outcome, pdd_ms, duration_s,"
    " mos, site ON calls WHEN NOT (" CM_SAME " AND " RO_HAS ") BEGIN " CM_ONE("OLD", "-(") " "
    CM_ONE("NEW", "(") " END;";

/* Version 23: leg_agents, every User-Agent and Server string of the legs
 * with the first and last leg id that carried it (agents.c keeps it per
 * writer transaction). The call list's user_agent filter found a word no
 * leg has only by reading legs (the newest 50,000, said partial: 32 ms of
 * CPU at 10 M calls); now it answers from this table, and reads the legs
 * of a rarer word from its strings' id range only. A leg deleted leaves
 * its string: the table says where a string may be, the legs are read.
 * leg_agents_state: the legs up to upto are in it, and none up to
 * evicted_upto when strings were evicted (ST_AGENTS_EVICT). */
static const char SCHEMA_V23[] =
    "CREATE TABLE leg_agents(agent TEXT PRIMARY KEY, first_leg INTEGER NOT NULL,"
    " last_leg INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX leg_agents_last ON leg_agents(last_leg);"
    "CREATE TABLE leg_agents_state(id INTEGER PRIMARY KEY CHECK(id=1), upto INTEGER NOT NULL,"
    " evicted_upto INTEGER NOT NULL);"
    "INSERT INTO leg_agents_state VALUES(1, (SELECT coalesce(max(id),0) FROM legs), 0);"
    "INSERT INTO leg_agents SELECT user_agent, id, id FROM legs WHERE user_agent IS NOT NULL "
    ST_AGENTS_MERGE ";"
    "INSERT INTO leg_agents SELECT server, id, id FROM legs WHERE server IS NOT NULL "
    ST_AGENTS_MERGE ";" ST_AGENTS_EVICT;

/* Version 24: per stream, the SRTP packets not tried once every key had
 * failed TS_SRTP_GIVE_UP in a row (media_srtp.c). No index: such a stream
 * has at least that many failures, so the sums read the v18 index's rows. */
static const char SCHEMA_V24[] = "ALTER TABLE rtp_streams ADD COLUMN srtp_not_tried INTEGER;";

/* Version 25: what the overview and the call list's port filter read
 * row by row at 10 M calls. call_seconds holds call_minutes' sums (not its
 * ends) per second of a call's start and site: a range that does not
 * start on a whole minute cuts a minute at every bucket's edge, and the
 * overview read that minute's calls of the edge's shorter side one by one
 * (about 250 a bucket at 16 calls/s, 80 % of a day's series); it now sums
 * the whole seconds of that side and reads the calls of the second the
 * edge cuts. Kept like call_minutes: rollup.c for the store writer's rows,
 * these triggers for every other writer. leg_ports holds, per port (the
 * legs' sport and dport, so at most the 65,536 of the port space), the
 * first and last leg id that used it, kept by ports.c per writer
 * transaction like leg_agents; the call list's port filter, which reads
 * the newest TS_API_LEG_SCAN_MAX legs, reads only those of the port's id
 * range. leg_ports_state.upto: the legs up to it are in the table. */
#define CS_SECOND(X) "((" X ")/1000000000*1000000000)"
#define CS_COLS                                                                                \
    "second, site, calls, attempts, answered, busy, rejected, cancelled, failed, timeouts,"    \
    " pdd_sum, pdd_n, dur_sum, dur_n, mos_sum, mos_n"
#define CS_SET                                                                                 \
    " ON CONFLICT DO UPDATE SET calls=calls+excluded.calls, attempts=attempts+excluded.attempts," \
    " answered=answered+excluded.answered, busy=busy+excluded.busy,"                          \
    " rejected=rejected+excluded.rejected, cancelled=cancelled+excluded.cancelled,"           \
    " failed=failed+excluded.failed, timeouts=timeouts+excluded.timeouts,"                    \
    " pdd_sum=pdd_sum+excluded.pdd_sum, pdd_n=pdd_n+excluded.pdd_n,"                          \
    " dur_sum=dur_sum+excluded.dur_sum, dur_n=dur_n+excluded.dur_n,"                          \
    " mos_sum=mos_sum+excluded.mos_sum, mos_n=mos_n+excluded.mos_n"
#define CS_ONE(C, S)                                                                           \
    "INSERT INTO call_seconds(" CS_COLS ") VALUES(" CS_SECOND(C ".start") ","                 \
    " coalesce(" C ".site,''), " CM_SUMS(C, S) ")" CS_SET ";"
static const char SCHEMA_V25[] =
    "CREATE TABLE call_seconds(second INTEGER NOT NULL, site TEXT NOT NULL,"
    " calls INTEGER NOT NULL, attempts INTEGER NOT NULL, answered INTEGER NOT NULL,"
    " busy INTEGER NOT NULL, rejected INTEGER NOT NULL, cancelled INTEGER NOT NULL,"
    " failed INTEGER NOT NULL, timeouts INTEGER NOT NULL, pdd_sum INTEGER NOT NULL,"
    " pdd_n INTEGER NOT NULL, dur_sum REAL NOT NULL, dur_n INTEGER NOT NULL,"
    " mos_sum REAL NOT NULL, mos_n INTEGER NOT NULL, PRIMARY KEY(second, site)) WITHOUT ROWID;"
    /* one pass in rowid order (calls come in start order): the rows it
     * upserts are mostly the last one again */
    "INSERT INTO call_seconds(" CS_COLS ") SELECT " CS_SECOND("c.start") ", coalesce(c.site,''),"
    " " CM_SUMS("c", "(") " FROM calls c WHERE true" CS_SET ";"
    "CREATE TRIGGER call_seconds_ins AFTER INSERT ON calls WHEN " RO_NONE " BEGIN "
    CS_ONE("NEW", "(") " END;"
    "CREATE TRIGGER call_seconds_del AFTER DELETE ON calls BEGIN " CS_ONE("OLD", "-(") " END;"
    "CREATE TRIGGER call_seconds_upd AFTER UPDATE OF start, \"end\", outcome, pdd_ms, duration_s,"
    " mos, site ON calls WHEN NOT (" CM_SAME " AND " RO_HAS ") BEGIN " CS_ONE("OLD", "-(") " "
    CS_ONE("NEW", "(") " END;"
    "CREATE TABLE leg_ports(port INTEGER PRIMARY KEY, first_leg INTEGER NOT NULL,"
    " last_leg INTEGER NOT NULL);"
    "CREATE TABLE leg_ports_state(id INTEGER PRIMARY KEY CHECK(id=1), upto INTEGER NOT NULL);"
    "INSERT INTO leg_ports_state VALUES(1, (SELECT coalesce(max(id),0) FROM legs));"
    /* one pass over the legs, each leg's two ports (CROSS JOIN keeps legs
     * the outer loop) */
    "INSERT INTO leg_ports SELECT CASE k.k WHEN 0 THEN l.sport ELSE l.dport END, l.id, l.id"
    " FROM legs l CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) k WHERE"
    " (CASE k.k WHEN 0 THEN l.sport ELSE l.dport END) BETWEEN 0 AND " ST_PORTS_TOP " "
    ST_AGENTS_MERGE ";"
    /* the newest legs deleted (re-analysis, retention of everything): upto
     * comes down with them, or another writer's legs taking their ids again
     * would pass for covered; leg_agents (v23) had the same gap */
    "CREATE TRIGGER leg_ports_top AFTER DELETE ON legs WHEN OLD.id >= (SELECT upto FROM"
    " leg_ports_state) BEGIN UPDATE leg_ports_state SET upto=(SELECT coalesce(max(id),0) FROM"
    " legs); END;"
    "CREATE TRIGGER leg_agents_top AFTER DELETE ON legs WHEN OLD.id >= (SELECT upto FROM"
    " leg_agents_state) BEGIN UPDATE leg_agents_state SET upto=(SELECT coalesce(max(id),0) FROM"
    " legs); END;";

/* Version 26: the reversed digits stored. As v17's VIRTUAL columns SQLite
 * computed them at every insert of a leg (its ST_REV_SHORT twice: 5.9 us of
 * a 25-us insert on c10000's legs); the store writer now binds them, which
 * C does at no cost (records.c), and a trigger fills them for every
 * other writer (skipped while rollup_owner holds a row, as the rollups').
 * The step fills the stored rows once (one pass over the legs). */
#define REV_SET(T)                                                                             \
    "UPDATE legs SET caller_rev=" ST_REV_SHORT(T ".caller_digits") ", callee_rev="             \
    ST_REV_SHORT(T ".callee_digits")
static const char SCHEMA_V26[] =
    "DROP INDEX legs_caller_rev; DROP INDEX legs_callee_rev;"
    "ALTER TABLE legs DROP COLUMN caller_rev; ALTER TABLE legs DROP COLUMN callee_rev;"
    "ALTER TABLE legs ADD COLUMN caller_rev TEXT; ALTER TABLE legs ADD COLUMN callee_rev TEXT;"
    REV_SET("legs") " WHERE caller_digits IS NOT NULL OR callee_digits IS NOT NULL;"
    "CREATE INDEX legs_caller_rev ON legs(caller_rev);"
    "CREATE INDEX legs_callee_rev ON legs(callee_rev);"
    "CREATE TRIGGER legs_rev_ins AFTER INSERT ON legs WHEN " RO_NONE " BEGIN " REV_SET("NEW")
    " WHERE id=NEW.id; END;"
    "CREATE TRIGGER legs_rev_upd AFTER UPDATE OF caller_digits, callee_digits ON legs BEGIN "
    REV_SET("NEW") " WHERE id=NEW.id; END;";

/* v27: the OPTIONS messages in an index of their own, partial and covering
 * what the alert rules read: the options rule read every SIP message of
 * its window (through sip_messages_ts) at each evaluation, a live sensor's
 * every 10 s; on c10000, 4 rows of 163,976. */
static const char SCHEMA_V27[] =
    "CREATE INDEX sip_messages_options ON sip_messages(ts, id, src, dst, method, status,"
    " cseq_method) WHERE " ST_OPT_WHERE ";";

/* v28: hourly rollups beside the per-minute ones. A trunk's week (the
 * dashboard's default range, in hour buckets) summed 10,080 kpi_minute
 * rows and 20,160 leg_minutes rows per request; kpi_hour and leg_hours hold
 * the same sums per hour, peak_concurrent as the hour's maximum.
 * - kpi_hour: an hour's row is computed again from its minutes whenever
 *   one of them is written, replaced or deleted (triggers for every writer;
 *   the store writer, whose batches run with triggers off, computes the
 *   hours of the minutes it writes: records.c). No running sums: a
 *   maximum cannot be taken back.
 * - leg_hours: triggers on legs beside leg_minutes', under the same
 *   conditions (LM_WHEN_*); rollup.c writes both. */
#define KH_SET(L)                                                                               \
    "DELETE FROM kpi_hour WHERE trunk_id=" L ".trunk_id AND hour=" L ".minute/" ST_HOUR_NS "*"  \
    ST_HOUR_NS " AND direction=" L ".direction;"                                                \
    "INSERT INTO kpi_hour SELECT trunk_id, direction, " L ".minute/" ST_HOUR_NS "*" ST_HOUR_NS  \
    ", " ST_KPI_HOUR_SUMS " FROM kpi_minute WHERE trunk_id=" L ".trunk_id AND direction=" L     \
    ".direction AND minute >= " L ".minute/" ST_HOUR_NS "*" ST_HOUR_NS " AND minute < " L      \
    ".minute/" ST_HOUR_NS "*" ST_HOUR_NS "+" ST_HOUR_NS " GROUP BY trunk_id, direction;"
#define LH_HOUR(L) "(" L ".invite_ts/" ST_HOUR_NS "*" ST_HOUR_NS ")"
#define LH_ADD(L, S, N) LX_ADD("leg_hours", LH_HOUR, L, S, N)
#define LH_SUB(L) LX_SUB("leg_hours", "hour", LH_HOUR, L)
static const char SCHEMA_V28[] =
    /* and /stats' sums of SRTP failures from the index alone (the rows'
     * srtp_not_tried was one table read per failing stream) */
    "DROP INDEX rtp_streams_srtp_fail;"
    "CREATE INDEX rtp_streams_srtp_fail ON rtp_streams(srtp_auth_fail, srtp_not_tried)"
    " WHERE srtp_auth_fail>0;"
    "CREATE TABLE kpi_hour("
    " trunk_id INTEGER NOT NULL REFERENCES trunks(id), direction TEXT NOT NULL,"
    " hour INTEGER NOT NULL, attempts INTEGER, answered INTEGER, busy INTEGER,"
    " rejected INTEGER, cancelled INTEGER, failed INTEGER, timeouts INTEGER,"
    " srd_sum_ms REAL, srd_n INTEGER, ans_sum_ms REAL, ans_n INTEGER,"
    " dur_sum_s REAL, dur_n INTEGER, peak_concurrent INTEGER,"
    " PRIMARY KEY(trunk_id, hour, direction)) WITHOUT ROWID;"
    "INSERT INTO kpi_hour SELECT trunk_id, direction, minute/" ST_HOUR_NS "*" ST_HOUR_NS ", "
    ST_KPI_HOUR_SUMS " FROM kpi_minute GROUP BY 1, 2, 3;"
    "CREATE TRIGGER kpi_hour_ins AFTER INSERT ON kpi_minute BEGIN " KH_SET("NEW") " END;"
    "CREATE TRIGGER kpi_hour_del AFTER DELETE ON kpi_minute BEGIN " KH_SET("OLD") " END;"
    "CREATE TRIGGER kpi_hour_upd AFTER UPDATE ON kpi_minute BEGIN " KH_SET("OLD") KH_SET("NEW")
    " END;"
    "CREATE TABLE leg_hours(src TEXT NOT NULL, dst TEXT NOT NULL, hour INTEGER NOT NULL,"
    " mos_sum REAL NOT NULL, mos_n INTEGER NOT NULL,"
    " PRIMARY KEY(src, dst, hour)) WITHOUT ROWID;"
    "INSERT INTO leg_hours SELECT src, dst, minute/" ST_HOUR_NS "*" ST_HOUR_NS ", total(mos_sum),"
    " sum(mos_n) FROM leg_minutes GROUP BY 1, 2, 3;"
    "CREATE TRIGGER leg_hours_ins AFTER INSERT ON legs WHEN " LM_WHEN_INS " BEGIN "
    LH_ADD("NEW", "NEW.mos", "1") " END;"
    "CREATE TRIGGER leg_hours_del AFTER DELETE ON legs WHEN " LM_HAS("OLD") " BEGIN "
    LH_SUB("OLD") " END;"
    "CREATE TRIGGER leg_hours_mos AFTER UPDATE OF mos, src, dst, invite_ts ON legs WHEN"
    LM_WHEN_MOS " BEGIN " LH_ADD("NEW", "NEW.mos-coalesce(OLD.mos,0)", "(OLD.mos IS NULL)")
    " END;"
    "CREATE TRIGGER leg_hours_upd AFTER UPDATE OF mos, src, dst, invite_ts ON legs WHEN"
    LM_WHEN_UPD " BEGIN " LH_SUB("OLD") " INSERT INTO leg_hours SELECT NEW.src, NEW.dst, "
    LH_HOUR("NEW") ", NEW.mos, 1 WHERE " LM_HAS("NEW") " ON CONFLICT DO UPDATE SET"
    " mos_sum=mos_sum+excluded.mos_sum, mos_n=mos_n+1; END;";

/* v29: the media-rates sums of a trunk's page (stq_trunk_media_rates) from
 * the leg index alone: it read each of the trunk's newest 1000 legs'
 * streams from the 67-column table, one random page per leg. The other
 * readers by leg_id take the wider index as they took the old one. */
static const char SCHEMA_V29[] =
    "DROP INDEX rtp_streams_leg;"
    "CREATE INDEX rtp_streams_leg_media ON rtp_streams(leg_id, codec, src, bytes, packets,"
    " first_ts, last_ts);";

const char *st_schema_step(int version)
{
    switch (version) {
    case 1:
        return SCHEMA_V1;
    case 2:
        return SCHEMA_V2;
    case 3:
        return SCHEMA_V3;
    case 4:
        return SCHEMA_V4;
    case 5:
        return SCHEMA_V5;
    case 6:
        return SCHEMA_V6;
    case 7:
        return SCHEMA_V7;
    case 8:
        return SCHEMA_V8;
    case 9:
        return SCHEMA_V9;
    case 10:
        return SCHEMA_V10;
    case 11:
        return SCHEMA_V11;
    case 12:
        return SCHEMA_V12;
    case 13:
        return SCHEMA_V13;
    case 14:
        return SCHEMA_V14;
    case 15:
        return SCHEMA_V15;
    case 16:
        return SCHEMA_V16;
    case 17:
        return SCHEMA_V17;
    case 18:
        return SCHEMA_V18;
    case 19:
        return SCHEMA_V19;
    case 20:
        return SCHEMA_V20;
    case 21:
        return SCHEMA_V21;
    case 22:
        return SCHEMA_V22;
    case 23:
        return SCHEMA_V23;
    case 24:
        return SCHEMA_V24;
    case 25:
        return SCHEMA_V25;
    case 26:
        return SCHEMA_V26;
    case 27:
        return SCHEMA_V27;
    case 28:
        return SCHEMA_V28;
    case 29:
        return SCHEMA_V29;
    default:
        return NULL;
    }
}

static int user_version(sqlite3 *h)
{
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

int st_schema_migrate(sqlite3 *h, char *err, size_t errlen)
{
    int v = user_version(h);
    if (v < 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(h));
        return ST_ERR_OPEN;
    }
    if (v > ST_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this trunkscope supports (%d)", v,
                 ST_SCHEMA_VERSION);
        return ST_ERR_NEWER;
    }
    /* Each step and its version bump commit together: a crash leaves the
     * previous version intact and the next open retries the step. */
    while (v < ST_SCHEMA_VERSION) {
        char sql[64], *msg = NULL;
        int rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, &msg);
        if (rc == SQLITE_OK) {
            /* re-read inside the lock: another process may have migrated */
            int cur = user_version(h);
            if (cur != v) {
                sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
                v = cur;
                if (v > ST_SCHEMA_VERSION)
                    return st_schema_migrate(h, err, errlen);
                continue;
            }
            rc = sqlite3_exec(h, st_schema_step(v + 1), NULL, NULL, &msg);
        }
        if (rc == SQLITE_OK) {
            snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
            rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(h, "COMMIT", NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "schema upgrade to version %d failed: %s", v + 1,
                     msg ? msg : sqlite3_errmsg(h));
            sqlite3_free(msg);
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return ST_ERR_SQL;
        }
        v++;
    }
    return ST_OK;
}

/* A WAL database on a read-only file system (or without write access to its
 * directory) cannot be opened plainly: SQLite wants to create its -shm file.
 * Nobody can be writing it then, so it is opened as immutable (RFC 3986
 * percent-encoding of the path in the URI). Replaces *h on success. */
static bool open_immutable(const char *path, sqlite3 **h)
{
    char uri[3 * 4096 + 32];
    size_t n = (size_t)snprintf(uri, sizeof uri, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (n + 4 >= sizeof uri)
            return false;
        if (*p == '?' || *p == '#' || *p == '%' || *p < 0x21 || *p > 0x7e)
            n += (size_t)snprintf(uri + n, sizeof uri - n, "%%%02X", *p);
        else
            uri[n++] = (char)*p;
    }
    if (n + 16 >= sizeof uri)
        return false;
    snprintf(uri + n, sizeof uri - n, "?immutable=1");
    sqlite3 *g = NULL;
    if (sqlite3_open_v2(uri, &g, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sqlite3_close(g);
        return false;
    }
    sqlite3_close(*h);
    *h = g;
    sqlite3_busy_timeout(g, 5000);
    sqlite3_extended_result_codes(g, 1);
    return true;
}

/* A database file that does not exist yet starts as st_schema_image (the
 * steps' result, made when the program was built) instead of running the
 * steps on it: written to a file of its own beside it, synced, and linked
 * to path only if path still does not exist (link(2) never replaces), so
 * a concurrent opener sees no file or the whole image. Any failure leaves
 * path to SQLite and the steps, as before. */
static void create_from_image(const char *path)
{
    struct stat sb;
    char tmp[4096];
    if (!st_schema_image_len || !*path || strcmp(path, ":memory:") == 0 ||
        strncmp(path, "file:", 5) == 0 || lstat(path, &sb) == 0 || errno != ENOENT ||
        (size_t)snprintf(tmp, sizeof tmp, "%s.new-%ld", path, (long)getpid()) >= sizeof tmp)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t done = 0;
    while (done < st_schema_image_len) {
        ssize_t n = write(fd, st_schema_image + done, st_schema_image_len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    bool ok = done == st_schema_image_len && fsync(fd) == 0;
    ok &= close(fd) == 0;
    if (ok)
        (void)link(tmp, path); /* EEXIST: someone else's file, left as it is */
    unlink(tmp);
}

int st_open_handle(const char *path, bool readonly, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *h = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX; /* one connection per thread */
    *out = NULL;
    st_sqlmem_setup();
    if (!readonly)
        create_from_image(path);
    if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path,
                 h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return ST_ERR_OPEN;
    }
    sqlite3_busy_timeout(h, 5000);
    sqlite3_extended_result_codes(h, 1);
    if (!readonly) {
        /* WAL: readers (the API) never block the writer; NORMAL: a commit
         * survives a process crash, only an OS crash may lose the last one. */
        char *msg = NULL;
        if (sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                         &msg) != SQLITE_OK) {
            snprintf(err, errlen, "%s: not a usable database: %s", path,
                     msg ? msg : sqlite3_errmsg(h));
            sqlite3_free(msg);
            sqlite3_close(h);
            return ST_ERR_OPEN;
        }
        int rc = st_schema_migrate(h, err, errlen);
        if (rc != ST_OK) {
            sqlite3_close(h);
            return rc;
        }
    } else {
        int v = user_version(h);
        if (v < 0 && open_immutable(path, &h))
            v = user_version(h);
        if (v < 0) {
            snprintf(err, errlen, "%s: not a usable database: %s", path, sqlite3_errmsg(h));
            sqlite3_close(h);
            return ST_ERR_OPEN;
        }
        if (v != ST_SCHEMA_VERSION) {
            snprintf(err, errlen, "%s: database schema version %d, this trunkscope needs %d%s",
                     path, v, ST_SCHEMA_VERSION,
                     v > ST_SCHEMA_VERSION ? " (newer)" : " (open it read-write to upgrade)");
            sqlite3_close(h);
            return v > ST_SCHEMA_VERSION ? ST_ERR_NEWER : ST_ERR_OPEN;
        }
    }
    *out = h;
    return ST_OK;
}

void st_addr_text(const struct ts_addr *a, char *buf, size_t cap)
{
    if (!cap)
        return;
    buf[0] = '\0';
    if (a->family == 4)
        inet_ntop(AF_INET, a->a, buf, (socklen_t)cap);
    else if (a->family == 6)
        inet_ntop(AF_INET6, a->a, buf, (socklen_t)cap);
}

bool st_addr_parse(const char *s, struct ts_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return false;
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->a) == 1) {
        out->family = 6;
        return true;
    }
    return false;
}

const char *st_col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

/* ---- reader / maintenance handle ---- */

int st_db_upgrade(const char *path, char *err, size_t errlen)
{
    sqlite3 *h = NULL;
    st_sqlmem_setup();
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return ST_OK;
    }
    int v = user_version(h);
    sqlite3_close(h);
    if (v <= 0 || v >= ST_SCHEMA_VERSION)
        return ST_OK;
    int rc = st_open_handle(path, false, &h, err, errlen);
    sqlite3_close(h);
    return rc;
}

struct st_db *st_db_open(const char *path, bool readonly, char *err, size_t errlen)
{
    struct st_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (st_open_handle(path, readonly, &db->h, err, errlen) != ST_OK) {
        free(db);
        return NULL;
    }
    return db;
}

struct st_db *st_db_open_raw(const char *path, char *err, size_t errlen)
{
    struct st_db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st_sqlmem_setup();
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path,
                 db->h ? sqlite3_errmsg(db->h) : "out of memory");
        sqlite3_close(db->h);
        free(db);
        return NULL;
    }
    return db;
}

void st_db_close(struct st_db *db)
{
    if (!db)
        return;
    sqlite3_close(db->h);
    free(db);
}

int st_db_exec(struct st_db *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db->h));
        sqlite3_free(msg);
        return ST_ERR_SQL;
    }
    return ST_OK;
}

int64_t st_db_scalar(struct st_db *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *s = NULL;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

int st_db_plan(struct st_db *db, const char *sql, char *buf, size_t cap)
{
    char *x = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s = NULL;
    int rc = ST_ERR_SQL, r = SQLITE_ERROR;
    size_t n = 0;
    if (cap)
        buf[0] = '\0';
    if (x && sqlite3_prepare_v2(db->h, x, -1, &s, NULL) == SQLITE_OK) {
        while ((r = sqlite3_step(s)) == SQLITE_ROW && n < cap) {
            const unsigned char *t = sqlite3_column_text(s, 3);
            int k = snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", t ? (const char *)t : "");
            n = k < 0 ? cap : n + (size_t)k;
        }
        rc = r == SQLITE_DONE || r == SQLITE_ROW ? ST_OK : ST_ERR_SQL;
    }
    sqlite3_finalize(s);
    sqlite3_free(x);
    return rc;
}

int st_db_text(struct st_db *db, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = ST_ERR_SQL;
    if (cap)
        buf[0] = '\0';
    if (sqlite3_prepare_v2(db->h, sql, -1, &s, NULL) == SQLITE_OK) {
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(s, 0);
            snprintf(buf, cap, "%s", t ? (const char *)t : "");
            rc = ST_OK;
        } else if (r == SQLITE_DONE) {
            rc = ST_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}
