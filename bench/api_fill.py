#!/usr/bin/env python3
"""Fill a store database with N calls, fast, for the API load test
(bench/api_load.sh). The schema is trunkscope's own: `analyze --db` on a
small generated capture (400 calls over 4 ITSPs and a branch) runs the real
migrations and writes real rows: calls, legs with their evidence, SIP
messages with their raw text, RTP streams and their intervals, trunks,
registrations, keep-alives, topology, KPI minutes. Those calls are the
templates: the fill copies them in SQL (INSERT ... SELECT over a recursive
counter, no row passes through Python), call i being template
hash(i) mod 400, moved to its slot of the time span (N calls spread evenly
over --days days ending where the generator's captures start,
1700000000 s), its numbers' last six digits and its Call-IDs made unique.
Indexes are dropped first and created again at the end from the same SQL
(sorting once is much faster than growing ten B-trees row by row), so the
database has exactly the schema store/schema.c creates.

SIP messages, links and RTP streams with intervals are copied for the
newest --detail calls only (default 200,000): per-call lookups in those
tables are index probes whose cost grows with the B-tree depth (log n),
and their full size (about 14 messages of 600 bytes per call) would be
90 GB at 10 M calls. kpi_minute gets one row per trunk and minute of the
span (the templates' minutes in turn); alerts 5,000 resolved and 5 firing.
The rollups that triggers keep on legs and calls (schema v15 and later:
leg_sums, failure_sums, call_minutes, row_counts, leg_minutes) are not grown
row by row either: the fill takes the template back to schema 14 (UNDO
below: what each later step adds goes) and lets trunkscope's own migration
steps build them from the filled tables. No ANALYZE: the writer never runs
it either. A new schema step that adds something the fill copies (a table,
an index, a column) needs its line in UNDO.

--finish DB ends a fill whose migrations stopped (a fill by this script
before UNDO existed ended at schema 15: its v16 step found the template's
call_minutes): what the template had of the steps after the file's version
goes, and the migrations run from there.

usage: api_fill.py --bin TRUNKSCOPE --out DB [--calls 10000000] [--days 7]
                   [--detail 200000] [--cache-mb 1024] [--sort-threads 1]
       api_fill.py --bin TRUNKSCOPE --finish DB"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

T0_S = 1700000000  # where gen's captures start: the fill ends there
H1 = "(({i} * 2654435761) % 4294967296)"  # Knuth's multiplicative hash
H2 = "(({i} * 40503 + 977) % 1000003)"
H3 = "(({i} * 69069 + 12345) % 999983)"


def rev_short(c):
    """store/schema.c's ST_REV_SHORT: c's digits reversed (31 at most)."""
    rv = lambda n: "substr(%s,-%d,1)" % (c, n)
    four = lambda a: "||".join(rv(n) for n in range(a, a + 4))
    tail = "||".join(rv(n) for n in (29, 30, 31))
    for a in (25, 21, 17, 13, 9):
        tail = "%s||(CASE WHEN length(%s)>%d THEN %s ELSE '' END)" % (four(a), c, a + 3, tail)
    return "%s||%s||(CASE WHEN length(%s)>8 THEN %s ELSE '' END)" % (four(1), four(5), c, tail)


# What schema steps after 14 add, by step: undone in reverse, each only
# when present, so that the steps run again on the filled rows. (v17
# re-creates the reversed-digit columns and indexes, and the v15 triggers
# it replaces are dropped with all triggers: nothing of its own to undo.)
UNDO = {
    15: ["DROP TABLE IF EXISTS leg_sums", "DROP TABLE IF EXISTS failure_sums",
         "DROP INDEX IF EXISTS legs_src_dst_outcome"],
    16: ["DROP TABLE IF EXISTS call_minutes", "DROP TABLE IF EXISTS row_counts",
         "DROP INDEX IF EXISTS legs_dst"],
    18: ["DROP INDEX IF EXISTS rtp_streams_srtp_fail", "column rtp_streams srtp_decrypted",
         "column rtp_streams srtp_auth_fail"],
    19: ["DROP TABLE IF EXISTS leg_minutes"],
    21: ["column tls_conns decrypt", "column tls_conns decrypt_records",
         "column tls_conns decrypt_auth_failed", "column tls_conns decrypt_late",
         "column tls_peers decrypt"],
    22: ["DROP TABLE IF EXISTS rollup_owner"],
    23: ["DROP TABLE IF EXISTS leg_agents", "DROP TABLE IF EXISTS leg_agents_state"],
    24: ["column rtp_streams srtp_not_tried"],
    25: ["DROP TABLE IF EXISTS call_seconds", "DROP TABLE IF EXISTS leg_ports",
         "DROP TABLE IF EXISTS leg_ports_state"],
    # v26 stores the reversed digits: back to v17's generated columns, which
    # the copy leaves out and the step fills (one pass over the legs)
    26: ["DROP INDEX IF EXISTS legs_caller_rev", "DROP INDEX IF EXISTS legs_callee_rev",
         "column legs caller_rev", "column legs callee_rev"]
        + ["ALTER TABLE legs ADD COLUMN %s_rev TEXT GENERATED ALWAYS AS (%s) VIRTUAL"
           % (w, rev_short(w + "_digits")) for w in ("caller", "callee")]
        + ["CREATE INDEX legs_caller_rev ON legs(caller_rev)",
           "CREATE INDEX legs_callee_rev ON legs(callee_rev)"],
    27: ["DROP INDEX IF EXISTS sip_messages_options"],
    28: ["DROP TABLE IF EXISTS kpi_hour", "DROP TABLE IF EXISTS leg_hours",
         "DROP INDEX IF EXISTS rtp_streams_srtp_fail"],
    # v29 replaces v3's leg index, which the step drops: back to it
    29: ["DROP INDEX IF EXISTS rtp_streams_leg_media",
         "CREATE INDEX IF NOT EXISTS rtp_streams_leg ON rtp_streams(leg_id)"],
}


def undo_above(con, version):
    """Drop what the steps after version made, and set the version to it."""
    for v in sorted(UNDO, reverse=True):
        if v <= version:
            continue
        for sql in UNDO[v]:
            if sql.startswith("column "):
                _, table, col = sql.split()
                if any(r[1] == col for r in con.execute("PRAGMA table_xinfo(%s)" % table)):
                    con.execute("ALTER TABLE %s DROP COLUMN %s" % (table, col))
            else:
                con.execute(sql)
    con.execute("PRAGMA user_version=%d" % version)


def back_to_14(con):
    """The template back to 14: every trigger (none before v15) and what
    the steps after 14 made."""
    if con.execute("PRAGMA user_version").fetchone()[0] < 15:
        return
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        con.execute('DROP TRIGGER "%s"' % name)
    undo_above(con, 14)


def migrate(binary, db):
    """trunkscope's own steps from 14 on; their time, and the version reached."""
    t = time.time()
    r = subprocess.run([binary, "analyze", "--quiet", "--no-alerts", "--db", db, "/dev/null"],
                       capture_output=True, text=True)
    con = sqlite3.connect(db)
    v = con.execute("PRAGMA user_version").fetchone()[0]
    con.close()
    print("api_fill: schema upgraded to %d (%.0f s)" % (v, time.time() - t), file=sys.stderr)
    if "schema" in r.stderr:  # a failed step: the database is not usable
        sys.exit("api_fill: " + r.stderr.strip())
    return v


def cols(con, table):
    # stored columns only: generated ones (caller_rev) are computed
    return [r[1] for r in con.execute("PRAGMA table_xinfo(%s)" % table) if r[6] == 0]


def vary(col, v):
    # the last six characters of a number replaced by v (a 6-digit text)
    return "CASE WHEN length({c}) >= 8 THEN substr({c}, 1, length({c}) - 6) || {v} ELSE {c} END".format(
        c=col, v=v)


def copy_sql(con, table, src, over):
    # INSERT INTO table(every stored column) SELECT (override or src.col)
    cs = cols(con, table)
    exprs = [over.get(c, "%s.%s" % (src, c)) for c in cs]
    return "INSERT INTO %s(%s) SELECT %s" % (table, ",".join('"%s"' % c for c in cs), ",".join(exprs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out")
    ap.add_argument("--finish", metavar="DB")
    ap.add_argument("--calls", type=int, default=10000000)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--detail", type=int, default=200000)
    ap.add_argument("--cache-mb", type=int, default=1024)
    ap.add_argument("--sort-threads", type=int, default=1)
    a = ap.parse_args()
    if a.finish:
        # the steps up to the file's version ran on the filled rows; what a
        # later step adds and the file has came from the template
        con = sqlite3.connect(a.finish, isolation_level=None)
        t = time.time()
        v = con.execute("PRAGMA user_version").fetchone()[0]
        undo_above(con, v)
        con.close()
        print("api_fill: %s: the template's rows of steps after %d gone (%.0f s)" %
              (a.finish, v, time.time() - t), file=sys.stderr)
        migrate(a.bin, a.finish)
        return
    if not a.out:
        ap.error("--out or --finish")
    for sfx in ("", "-wal", "-shm"):
        if os.path.exists(a.out + sfx):
            os.remove(a.out + sfx)
    t_start = time.time()

    def say(what):  # wall and CPU time so far (the CPU is this process's: SQLite runs in it)
        print("api_fill: %s (%.0f s, %.0f s CPU)" % (what, time.time() - t_start, time.process_time()),
              file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as td:
        pcap = os.path.join(td, "t.pcap")
        subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "400", "--cps", "4", "--itsps", "4",
                        "--branch", "--seed", "3", "--impair", "0.1"], check=True, capture_output=True)
        subprocess.run([a.bin, "analyze", "--quiet", "--db", a.out, pcap], check=True,
                       capture_output=True)
    con = sqlite3.connect(a.out, isolation_level=None)
    # No journal, no sync, one process: a failed fill is filled again, and
    # every page is written once (a WAL wrote each twice: log, checkpoint).
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA locking_mode=EXCLUSIVE")
    con.execute("PRAGMA cache_size=-%d" % (a.cache_mb * 1024))  # the index sorts' memory
    con.execute("PRAGMA temp_store=FILE")
    con.execute("PRAGMA threads=%d" % a.sort_threads)  # helper threads of each sort

    def x(sql, *args):
        return con.execute(sql, *args)

    # templates: calls numbered k = 0..T-1 with their legs, messages, streams
    x("CREATE TEMP TABLE tc AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, * FROM calls")
    x("CREATE UNIQUE INDEX temp.tc_k ON tc(k)")
    ntmpl = x("SELECT count(*) FROM tc").fetchone()[0]
    x("CREATE TEMP TABLE tl AS SELECT tc.k AS k, tc.start AS c0, l.* FROM legs l JOIN tc ON tc.id=l.call_ref")
    x("CREATE INDEX temp.tl_k ON tl(k, idx)")
    x("CREATE TEMP TABLE tm AS SELECT tl.k AS k, tl.c0 AS c0, tl.idx AS leg_idx,"
      " row_number() OVER (PARTITION BY tl.k ORDER BY m.id) - 1 AS seq, m.*"
      " FROM sip_messages m JOIN sip_links s ON s.msg_id=m.id JOIN tl ON tl.id=s.leg_id")
    x("CREATE INDEX temp.tm_k ON tm(k, seq)")
    x("CREATE TEMP TABLE ts AS SELECT tl.k AS k, tl.c0 AS c0, tl.idx AS leg_idx,"
      " row_number() OVER (PARTITION BY tl.k ORDER BY r.id) - 1 AS seq, r.*"
      " FROM rtp_streams r JOIN tl ON tl.id=r.leg_id")
    x("CREATE INDEX temp.ts_k ON ts(k, seq)")
    x("CREATE TEMP TABLE ti AS SELECT ts.k AS k, ts.c0 AS c0, ts.seq AS sseq, i.* FROM rtp_intervals i"
      " JOIN ts ON ts.id=i.stream_id")
    x("CREATE INDEX temp.ti_k ON ti(k, sseq)")
    mstride = max(1, x("SELECT max(seq) + 1 FROM tm").fetchone()[0] or 1)
    sstride = max(1, x("SELECT max(seq) + 1 FROM ts").fetchone()[0] or 1)
    kmin = x("SELECT min(minute) FROM kpi_minute").fetchone()[0]
    x("CREATE TEMP TABLE tk AS SELECT (minute - %d) / 60000000000 AS m, * FROM kpi_minute" % kmin)
    kminutes = x("SELECT max(m) + 1 FROM tk").fetchone()[0]
    # the rollups (v15 on) go; trunkscope's migrations build them at the end
    back_to_14(con)
    x("BEGIN")
    for t in ("rtp_intervals", "rtp_streams", "sip_links", "sip_messages", "legs", "calls", "kpi_minute"):
        x("DELETE FROM %s" % t)
    idx = x("SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND tbl_name IN"
            " ('calls','legs','sip_messages','rtp_streams','kpi_minute')").fetchall()
    for name, _ in idx:
        x('DROP INDEX "%s"' % name)
    x("COMMIT")

    n = a.calls
    span = int(a.days * 86400 * 10 ** 9)
    t0 = T0_S * 10 ** 9 - span
    step = max(1, span // max(1, n))
    k_of = "(%s %% %d)" % (H1.format(i="i"), ntmpl)
    chunk = 500000
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        ctr = ("WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d),"
               " x AS MATERIALIZED (SELECT i, %s AS k, %d + i * %d + (%s %% %d) AS s,"
               " substr(%d + %s %% 1000000, 2) AS v1, substr(%d + %s %% 1000000, 2) AS v2 FROM n) " %
               (lo, hi - 1, k_of, t0, step, H2.format(i="i"), step, 10 ** 6, H2.format(i="i"), 10 ** 6,
                H3.format(i="i")))
        v1, v2 = "x.v1", "x.v2"  # the call's two 6-digit texts, made once per call
        sh = "(x.s - tc.start)"
        x("BEGIN")
        x(ctr + copy_sql(con, "calls", "tc", {
            "id": "x.i + 1", "tracker_id": "x.i + 1", "start": "x.s", "end": "tc.\"end\" + " + sh,
            "caller": vary("tc.caller", v1), "callee": vary("tc.callee", v2)}) +
          " FROM x CROSS JOIN tc ON tc.k = x.k")
        shl = "(x.s - tl.c0)"
        over = {"id": "NULL", "call_ref": "x.i + 1", "call_id": "tl.call_id || '-' || x.i"}
        for c in ("invite_ts", "prov_ts", "ring_ts", "answer_ts", "end_ts", "bye_ts"):
            over[c] = "tl.%s + %s" % (c, shl)
        for c in ("from_user", "ruri", "pai", "caller_digits"):
            over[c] = vary("tl." + c, v1)
        for c in ("to_user", "callee_digits"):
            over[c] = vary("tl." + c, v2)
        over["ruri"] = vary("tl.ruri", v2)
        x(ctr + copy_sql(con, "legs", "tl", over) + " FROM x CROSS JOIN tl ON tl.k = x.k")
        x("COMMIT")
        say("%d calls" % hi)

    # the leg index first: the detail copy maps (call, idx) to the new leg id
    for name, sql in idx:
        if name == "legs_call":
            x(sql)
    d0 = max(0, n - a.detail)
    mbase, sbase = 1000000, 1000000
    x("BEGIN")
    ctr = ("WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d),"
           " x AS (SELECT i, %s AS k, c.start AS s FROM n JOIN calls c ON c.id = n.i + 1) " %
           (d0, n - 1, k_of))
    leg_of = "(SELECT l.id FROM legs l WHERE l.call_ref = x.i + 1 AND l.idx = {t}.leg_idx)"
    mid = "%d + (x.i - %d) * %d + tm.seq" % (mbase, d0, mstride)
    x(ctr + copy_sql(con, "sip_messages", "tm", {
        "id": mid, "ts": "tm.ts + (x.s - tm.c0)", "call_id": "tm.call_id || '-' || x.i",
        "leg_id": "NULL"}) + " FROM x CROSS JOIN tm ON tm.k = x.k")
    x(ctr + "INSERT INTO sip_links(leg_id, msg_id) SELECT %s, %s FROM x CROSS JOIN tm ON tm.k = x.k" %
      (leg_of.format(t="tm"), mid))
    sid = "%d + (x.i - %d) * %d + ts.seq" % (sbase, d0, sstride)
    x(ctr + copy_sql(con, "rtp_streams", "ts", {
        "id": sid, "call_ref": "x.i + 1", "leg_id": leg_of.format(t="ts"),
        "first_ts": "ts.first_ts + (x.s - ts.c0)", "last_ts": "ts.last_ts + (x.s - ts.c0)"}) +
      " FROM x CROSS JOIN ts ON ts.k = x.k")
    x(ctr + copy_sql(con, "rtp_intervals", "ti", {
        "stream_id": "%d + (x.i - %d) * %d + ti.sseq" % (sbase, d0, sstride),
        "ts": "ti.ts + (x.s - ti.c0)"}) + " FROM x CROSS JOIN ti ON ti.k = x.k")
    # kpi_minute: every minute of the span, the templates' minutes in turn
    x("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) " %
      (span // (60 * 10 ** 9)) + copy_sql(con, "kpi_minute", "tk", {
          "minute": "%d + n.i * 60000000000" % (t0 - t0 % (60 * 10 ** 9))}) +
      " FROM n JOIN tk ON tk.m = n.i %% %d" % kminutes)
    # alerts: a week of resolved ones and a few firing
    x("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5004)"
      " INSERT INTO alerts(rule, scope, target, trunk_id, severity, state, value, threshold, started,"
      " fired, resolved, updated, summary, evidence)"
      " SELECT CASE i % 3 WHEN 0 THEN 'asr_low' WHEN 1 THEN 'pdd_high' ELSE 'mos_low' END, 'trunk',"
      " t.local_addr || '-' || t.peer_addr, t.id, CASE WHEN i % 4 = 0 THEN 'critical' ELSE 'warning' END,"
      " CASE WHEN i >= 5000 THEN 'firing' ELSE 'resolved' END, 0.3, 0.5, {t0} + i * {st},"
      " {t0} + i * {st} + 60000000000, CASE WHEN i < 5000 THEN {t0} + i * {st} + 600000000000 END,"
      " {t0} + i * {st} + 600000000000, 'ASR 30 % under 50 %', '{{\"calls\":[1,2,3]}}'"
      " FROM n JOIN trunks t ON t.id = 1 + i % (SELECT count(*) FROM trunks)".format(
          t0=t0, st=span // 5005))
    x("COMMIT")
    say("details of %d calls" % (n - d0))
    for name, sql in idx:
        if name != "legs_call":
            x(sql)
            say("index " + name)
    x("PRAGMA journal_mode=DELETE")
    x("PRAGMA locking_mode=NORMAL")
    x("SELECT count(*) FROM trunks")  # releases the exclusive lock
    con.close()
    migrate(a.bin, a.out)  # the migrations after 14: the rollups
    print("api_fill: %s: %d calls in %.0f s, %.0f MiB" % (a.out, n, time.time() - t_start,
                                                          os.path.getsize(a.out) / 2 ** 20))


if __name__ == "__main__":
    main()
