#!/usr/bin/env python3
"""What a rollup kept by triggers costs the store writer per leg: CPU time
of the writer's own statements (a call, its leg, later the leg's and the
call's MOS update, as store/records.c writes them, in batches of 2,000)
on a database trunkscope created, with every trigger of the current schema
and with the named triggers dropped, runs interleaved. Prints microseconds
per leg (insert) and per MOS update, the median over the runs.

usage: api_rollup_cost.py --bin TRUNKSCOPE --drop TRIGGER[,TRIGGER...]
                          [--legs 20000] [--runs 5] [--dir DIR]"""
import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

CALL = ("INSERT INTO calls(capture_id,tracker_id,start,end,caller,callee,direction,outcome,"
        "failure_side,failure_detail,pdd_ms,duration_s,mos,legs,site)"
        " VALUES(1,?,?,?,?,?,'inbound',?,NULL,NULL,1500,28.0,NULL,1,NULL)")
LEG = ("INSERT INTO legs(call_ref,idx,call_id,caller_digits,callee_digits,invite_ts,ring_ts,"
       "answer_ts,end_ts,final_status,transport,src,sport,dst,dport,outcome,callee_codecs,leg_ref)"
       " VALUES(?,0,?,?,?,?,?,?,?,?,'udp',?,5060,?,5060,?,'PCMA',?)")
LEG_MOS = "UPDATE legs SET mos=min(coalesce(mos,99),?2) WHERE id=?1"
CALL_MOS = "UPDATE calls SET mos=min(coalesce(mos,99),?2) WHERE id=?1"


def run(path, legs, seed):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    rnd = random.Random(seed)
    base = con.execute("SELECT coalesce(max(id),0) FROM calls").fetchone()[0]
    t0 = 1700000000 * 10 ** 9 + base * 10 ** 8
    rows = []
    for i in range(legs):
        cid = base + i + 1
        ts = t0 + i * 10 ** 8
        ok = rnd.random() < 0.6
        peer = "203.0.113.%d" % (1 + i % 4)
        src, dst = ("10.1.0.1", peer) if i % 2 else (peer, "10.1.0.1")
        rows.append((cid, ts, ok, src, dst))
    ins = time.process_time()
    for lo in range(0, legs, 2000):
        con.execute("BEGIN")
        for cid, ts, ok, src, dst in rows[lo:lo + 2000]:
            con.execute(CALL, (cid, ts, ts + 30 * 10 ** 9, "4930%07d" % cid, "4940%07d" % cid,
                               "answered" if ok else "busy"))
            con.execute(LEG, (cid, "c%d@x" % cid, "4930%07d" % cid, "4940%07d" % cid, ts,
                              ts + 10 ** 9, ts + 2 * 10 ** 9 if ok else None, ts + 30 * 10 ** 9,
                              200 if ok else 486, src, dst, "answered" if ok else "busy", cid))
        con.execute("COMMIT")
    ins = time.process_time() - ins
    ids = [r[0] for r in con.execute("SELECT id, call_ref FROM legs WHERE call_ref > ? AND"
                                     " outcome='answered'", (base,))]
    refs = [r[0] for r in con.execute("SELECT call_ref FROM legs WHERE call_ref > ? AND"
                                      " outcome='answered'", (base,))]
    upd = time.process_time()
    for lo in range(0, len(ids), 2000):
        con.execute("BEGIN")
        for lid, cref in zip(ids[lo:lo + 2000], refs[lo:lo + 2000]):
            m = 3.0 + rnd.random() * 1.4
            con.execute(LEG_MOS, (lid, m))
            con.execute(CALL_MOS, (cref, m))
        con.execute("COMMIT")
    upd = time.process_time() - upd
    con.close()
    return ins / legs * 1e6, upd / max(1, len(ids)) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--drop", required=True)
    ap.add_argument("--legs", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    d = tempfile.mkdtemp(dir=a.dir)
    dbs = {}
    for kind in ("all", "dropped"):
        p = os.path.join(d, kind + ".db")
        subprocess.run([a.bin, "analyze", "--quiet", "--no-alerts", "--db", p, "/dev/null"],
                       capture_output=True)
        con = sqlite3.connect(p, isolation_level=None)
        if kind == "dropped":
            for t in a.drop.split(","):
                con.execute('DROP TRIGGER "%s"' % t)
        con.execute("INSERT OR IGNORE INTO captures(id,path) VALUES(1,'bench')")
        con.close()
        dbs[kind] = p
    res = {"all": [], "dropped": []}
    work = os.path.join(d, "run.db")
    for r in range(a.runs):  # each run on a fresh copy: the same work
        for kind in ("dropped", "all") if r % 2 else ("all", "dropped"):
            shutil.copyfile(dbs[kind], work)
            res[kind].append(run(work, a.legs, r))
            for suf in ("", "-wal", "-shm"):
                if os.path.exists(work + suf):
                    os.unlink(work + suf)
    for kind in ("dropped", "all"):
        ins = statistics.median(x[0] for x in res[kind])
        upd = statistics.median(x[1] for x in res[kind])
        print("%-8s leg insert %.1f us, leg+call MOS update %.1f us (runs: %s)" % (
            "without" if kind == "dropped" else "with", ins, upd,
            " ".join("%.1f/%.1f" % x for x in res[kind])))
    for p in dbs.values():
        for suf in ("", "-wal", "-shm"):
            if os.path.exists(p + suf):
                os.unlink(p + suf)
    os.rmdir(d)


if __name__ == "__main__":
    sys.exit(main())
