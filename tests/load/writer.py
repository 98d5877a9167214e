#!/usr/bin/env python3
"""Background ingest for the load test: inserts calls (with a leg each) into
the database in small transactions at a fixed rate until stopped or until
--seconds pass, like the store writer of a running sensor.
usage: writer.py DB [--rate 500] [--seconds 60]"""
import argparse
import random
import sqlite3
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--rate", type=int, default=500, help="calls per second")
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    con = sqlite3.connect(a.db, timeout=5)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    rnd = random.Random(1)
    start = con.execute("SELECT max(start) FROM calls").fetchone()[0] or 0
    n, t_end, tick = 0, time.time() + a.seconds, 0.1
    while time.time() < t_end:
        t = time.time()
        rows = int(a.rate * tick)
        with con:
            for _ in range(rows):
                start += 10 ** 7
                cur = con.execute("INSERT INTO calls(capture_id,tracker_id,start,end,caller,callee,direction,"
                                  "outcome,failure_side,failure_detail,pdd_ms,duration_s,legs) "
                                  "VALUES(1,0,?,?,?,?,'outbound','answered','none','',?,?,1)",
                                  (start, start + 10 ** 9, "+49301%06d" % rnd.randrange(10 ** 6),
                                   "+4940%07d" % rnd.randrange(10 ** 7), rnd.randrange(500, 3000), 30.0))
                con.execute("INSERT INTO legs(call_ref,idx,call_id,src,dst,outcome,final_status) "
                            "VALUES(?,0,?,'10.1.0.10','10.1.0.1','answered',200)",
                            (cur.lastrowid, "w-%d" % cur.lastrowid))
                n += 1
        time.sleep(max(0.0, tick - (time.time() - t)))
    print("writer: %d calls inserted (%.0f/s)" % (n, n / a.seconds))


if __name__ == "__main__":
    main()
