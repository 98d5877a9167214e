#!/usr/bin/env python3
"""Make a large store database for the API load test (never committed).
The schema comes from trunkscope itself (analyze --db on a small generated
capture, so the migrations are the real ones); then N synthetic calls with
1-3 legs each are bulk-inserted, spread over --days days.
usage: make_db.py --bin TRUNKSCOPE --out DB [--calls 1000000] [--days 7]"""
import argparse
import os
import random
import sqlite3
import subprocess
import tempfile
import time

OUTCOMES = [("answered", 200, 0.55), ("busy", 486, 0.12), ("cancelled", 487, 0.12), ("rejected", 403, 0.07),
            ("failed", 503, 0.08), ("timeout", 408, 0.06)]
SIDES = ["none", "enterprise", "sbc", "itsp"]
DIRS = ["inbound", "outbound", "internal"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--calls", type=int, default=1000000)
    ap.add_argument("--days", type=float, default=7)
    a = ap.parse_args()
    if os.path.exists(a.out):
        os.remove(a.out)
    with tempfile.TemporaryDirectory() as td:
        pcap = os.path.join(td, "s.pcap")
        subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "20", "--seed", "1"], check=True, capture_output=True)
        subprocess.run([a.bin, "analyze", "--db", a.out, pcap], check=True, capture_output=True)
    con = sqlite3.connect(a.out)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    trunks = con.execute("SELECT local_addr, peer_addr FROM trunks").fetchall() or [("10.1.0.10", "10.1.0.1")]
    rnd = random.Random(7)
    t0 = 1700000000 * 10 ** 9
    span = int(a.days * 86400 * 10 ** 9)
    weights = [w for _, _, w in OUTCOMES]
    next_id = (con.execute("SELECT max(id) FROM calls").fetchone()[0] or 0) + 1
    t_start = time.time()
    batch = 50000
    for base in range(0, a.calls, batch):
        calls, legs = [], []
        for k in range(min(batch, a.calls - base)):
            cid = next_id + base + k
            start = t0 + (base + k) * span // a.calls + rnd.randrange(10 ** 9)
            o, code, _ = rnd.choices(OUTCOMES, weights)[0]
            dur = rnd.uniform(5, 300) if o == "answered" else 0.0
            pdd = rnd.randrange(300, 6000) if o in ("answered", "busy", "cancelled") else None
            end = start + int((dur + (pdd or 500) / 1000) * 10 ** 9)
            caller = "+4930%07d" % rnd.randrange(10 ** 7)
            callee = "+49%010d" % rnd.randrange(10 ** 10)
            side = "none" if o in ("answered", "busy", "cancelled") else rnd.choice(SIDES[1:])
            mos = round(rnd.uniform(2.5, 4.4), 2) if o == "answered" and rnd.random() < 0.8 else None
            nl = rnd.choice((1, 2, 2, 3))
            calls.append((cid, 1, cid, start, end, caller, callee, rnd.choice(DIRS), o, side,
                          "" if side == "none" else "%s answered %d" % (side, code), pdd, dur, mos, nl))
            for i in range(nl):
                src, dst = rnd.choice(trunks)
                legs.append((cid, i, "%x-%d@%s" % (cid, i, src), caller, callee, callee, caller[1:], callee[1:],
                             start + i * 5 * 10 ** 6, end, code, o, src, 5060, dst, 5060, "UDP",
                             "none" if i == 0 else "header", 0.0 if i == 0 else 0.9, None if i == 0 else i - 1,
                             "PCMA,PCMU", "PCMA"))
        con.executemany("INSERT INTO calls(id,capture_id,tracker_id,start,end,caller,callee,direction,outcome,"
                        "failure_side,failure_detail,pdd_ms,duration_s,mos,legs) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        calls)
        con.executemany("INSERT INTO legs(call_ref,idx,call_id,from_user,to_user,ruri,caller_digits,callee_digits,"
                        "invite_ts,end_ts,final_status,outcome,src,sport,dst,dport,transport,ev_type,ev_conf,"
                        "linked_to,caller_codecs,callee_codecs) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        legs)
        con.commit()
    # schema v3: a leg's MOS is its worst stream's; here the call's
    if any(r[1] == "mos" for r in con.execute("PRAGMA table_info(legs)")):
        con.execute("UPDATE legs SET mos=(SELECT mos FROM calls WHERE id=legs.call_ref) "
                    "WHERE call_ref IN (SELECT id FROM calls WHERE mos IS NOT NULL)")
        con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print("made %s: %d calls in %.0f s, %.0f MiB" % (a.out, a.calls, time.time() - t_start,
                                                     os.path.getsize(a.out) / 2 ** 20))


if __name__ == "__main__":
    main()
