"""The collector's live state, written while `trunkscope collect` runs (the
counterpart of the sensor's mid-run checks in test_live_netns): a sender
replays the first part of a generated capture as HEPv3 up to a moment when
the truth file has calls up and none answering or ending near it, then
stops sending. Before the collector stops, its database (read directly,
read-only) and its API must hold the trunks with attempts, a running live
state whose calls up are the truth's at that moment, and the answered legs
listed are those of calls the truth has up. The Lync trunk checklist is
computed while it runs: each time a 10-s bucket closes its rows appear in
trunk_checklist and GET /api/v1/trunks/{id}/checklist, with the calls
finished so far (the generator signals over UDP: the transport item fails,
naming stored calls). Then the rest is sent; at the stop the live state
says the collector no longer runs, every call is stored, and the final
checklist agrees with analyze --db over the same capture (every item but
RTCP, which needs the RTP the sender does not forward)."""
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request

from manifest import Checker, parse_args
from serving import free_port
from test_hep_collect import Collector, send_hep, sip_messages, wait_accepted

# The generated traffic: 40 calls at 1 per second, 20 s of talk on average.
GEN = ["--calls", "40", "--seed", "11", "--cps", "1", "--no-register"]
# Legs of one call answer and end within this of the truth's call times.
SLACK_S = 1.0
# How long the live state may take to show what was sent (a snapshot every
# 5 s of capture time; the collector's clock runs on from the last message).
LIVE_WAIT_S = 30
# The sensor holds calls until its topology converged (30 s by default):
# shortened so that finished calls reach the trunks while the test waits.
# 10-s buckets: the live checklist is computed as each one closes.
CONF = "internal_net = 10.0.0.0/8\nlearn_hold_s = 5\nbucket_s = 10\n"


def up_at(truth, t):
    """Truth calls answered at or before t and not ended by then."""
    return [c for c in truth["calls"] if c.get("answer_time") is not None
            and c["answer_time"] <= t and (c.get("end_time") is None or c["end_time"] > t)]


def quiet_moment(truth, t_first, t_last):
    """A capture time in the middle third with the most calls up and no
    answer or end within SLACK_S of it (so every leg agrees)."""
    events = sorted(x for c in truth["calls"] for x in (c.get("answer_time"), c.get("end_time"))
                    if x is not None)
    best = None
    t = t_first + (t_last - t_first) / 3
    while t < t_first + 2 * (t_last - t_first) / 3:
        if all(abs(e - t) > SLACK_S for e in events):
            n = len(up_at(truth, t))
            if best is None or n > best[1]:
                best = (t, n)
        t += 0.25
    return best


def db_rows(path, sql):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None


def cl_items(text):
    """A stored checklist (its `items` column: {status, items: [...]}) by item id."""
    d = json.loads(text)
    return {i["id"]: i for i in (d["items"] if isinstance(d, dict) else d)}


def api(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap = os.path.join(a.work, "g.pcap")
    db = os.path.join(a.work, "live.db")
    conf = os.path.join(a.work, "collect.conf")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    with open(conf, "w") as f:
        f.write(CONF)
    subprocess.run([a.bin, "gen", "-o", pcap, *GEN], capture_output=True, check=True, timeout=300)
    truth = json.load(open(os.path.join(a.work, "g.truth.json")))
    msgs = sorted(sip_messages(pcap), key=lambda m: m[0])
    t_first, t_last = msgs[0][0] / 1e9, msgs[-1][0] / 1e9
    moment = quiet_moment(truth, t_first, t_last)
    c.check(moment is not None and moment[1] >= 2, f"a quiet moment with calls up: {moment}")
    if not moment:
        return c.done()
    t_mid, n_up = moment
    first = [m for m in msgs if m[0] / 1e9 <= t_mid]
    rest = [m for m in msgs if m[0] / 1e9 > t_mid]
    want_ids = {leg["call_id"] for tc in up_at(truth, t_mid) for leg in tc["legs"]}
    by_cid = {leg["call_id"]: tc["id"] for tc in truth["calls"] for leg in tc["legs"]}

    http = free_port()
    col = Collector(a.bin, a.work, "live", ["127.0.0.1:0/udp"],
                    ["--db", db, "--http", f"127.0.0.1:{http}", "--config", conf])
    try:
        ports = col.ports()
        c.check(bool(ports), f"collector came up: {col.err()[-400:]!r}")
        if not ports:
            return c.done()
        send_hep(first, ports[0], pace=0.005)
        wait_accepted(col, len(first))
        # ---- while it runs: the database and the API
        end = time.time() + LIVE_WAIT_S
        live = trunks = None
        while time.time() < end:
            live = db_rows(db, "SELECT running, calls_up, legs_up, capture_ts FROM live_state")
            trunks = db_rows(db, "SELECT peer_addr, attempts FROM trunks")
            if (live and live[0][0] == 1 and live[0][3] and live[0][3] / 1e9 >= t_mid
                    and trunks and any((t[1] or 0) > 0 for t in trunks)):
                break
            time.sleep(0.5)
        c.check(col.p.poll() is None, "the collector still runs during the mid-run checks")
        c.check(bool(trunks) and any((t[1] or 0) > 0 for t in trunks),
                f"mid-run: trunks with attempts in the database: {trunks}")
        c.check(bool(live) and live[0][0] == 1, f"mid-run: live_state says running: {live}")
        if live:
            c.check(live[0][1] == n_up,
                    f"mid-run: database calls_up {live[0][1]}, truth {n_up} at {t_mid:.2f}")
        at = api(http, "/api/v1/trunks")
        at = (at or {}).get("trunks", [])
        c.check(any((t.get("attempts") or 0) > 0 for t in at),
                f"mid-run: /api/v1/trunks lists trunks with attempts: "
                f"{[(t.get('peer'), t.get('attempts')) for t in at]}")
        st = api(http, "/api/v1/stats") or {}
        c.check(st.get("active_calls") == n_up,
                f"mid-run: /api/v1/stats active_calls {st.get('active_calls')}, truth {n_up}")
        act = api(http, "/api/v1/active") or {}
        c.check(act.get("running") is True and act.get("calls_up") == n_up,
                f"mid-run: /api/v1/active running {act.get('running')}, calls_up "
                f"{act.get('calls_up')}, truth {n_up}")
        up_legs = [leg for call in act.get("calls", []) for leg in call.get("legs", [])
                   if leg.get("state") == "up"]
        c.check(len(up_legs) == act.get("legs_up") and len(up_legs) >= n_up,
                f"mid-run: {len(up_legs)} legs up listed, {act.get('legs_up')} counted")
        stray = [leg.get("call_id") for leg in up_legs if leg.get("call_id") not in want_ids]
        c.check(not stray, f"mid-run: legs up that the truth has not up: "
                           f"{[(s, by_cid.get(s)) for s in stray]}")
        calls_up = {by_cid.get(leg.get("call_id")) for leg in up_legs}
        c.check(len(calls_up) == n_up, f"mid-run: the legs up belong to {len(calls_up)} calls, truth {n_up}")
        # the trunk checklist, computed while it runs
        end = time.time() + LIVE_WAIT_S
        cl = None
        while time.time() < end:
            cl = db_rows(db, "SELECT k.trunk_id, k.status, k.items, t.attempts FROM trunk_checklist k"
                             " JOIN trunks t ON t.id=k.trunk_id")
            if cl and any(cl_items(r[2])["transport"]["evidence"].get("legs", 0) > 0 for r in cl):
                break
            time.sleep(0.5)
        c.check(col.p.poll() is None, "the collector still runs during the checklist checks")
        c.check(bool(cl), f"mid-run: trunk_checklist rows while it runs: {cl}")
        live_cl = {}
        for tid, status, items, _ in cl or []:
            live_cl[tid] = (status, cl_items(items))
        busy = [(tid, v) for tid, v in live_cl.items() if v[1]["transport"]["evidence"].get("legs", 0)]
        c.check(bool(busy) and all(v[1]["transport"]["status"] == "fail" and v[0] == "fail" and
                                   v[1]["transport"]["evidence"]["udp"] ==
                                   v[1]["transport"]["evidence"]["legs"] for _, v in busy),
                f"mid-run: the transport item fails on UDP legs: "
                f"{[(t, v[0], v[1]['transport']['evidence']) for t, v in busy]}")
        stored_ids = {r[0] for r in db_rows(db, "SELECT id FROM calls") or []}
        named = [x for _, v in busy for x in v[1]["transport"]["calls"]]
        c.check(bool(named) and all(x in stored_ids for x in named),
                f"mid-run: the calls it names are stored calls: {named}")
        if busy:
            tid = busy[0][0]
            got = api(http, f"/api/v1/trunks/{tid}/checklist") or {}
            c.check(got.get("trunk_id") == tid and got.get("status") == "fail" and
                    len(got.get("items", [])) == 10,
                    f"mid-run: /api/v1/trunks/{tid}/checklist serves it: {str(got)[:300]}")
        # ---- the rest, then the stop
        send_hep(rest, ports[0], pace=0.005)
        wait_accepted(col, len(msgs))
        time.sleep(0.5)
    finally:
        rc, _, _ = col.stop()
    c.check(rc == 0, f"collector exit code {rc}: {col.err()[-500:]!r}")
    live = db_rows(db, "SELECT running FROM live_state")
    c.check(live == [(0,)], f"after the stop the live state says not running: {live}")
    n = db_rows(db, "SELECT count(*) FROM calls")
    c.check(n == [(len(truth["calls"]),)], f"calls stored {n}, truth {len(truth['calls'])}")
    # the final checklist: analyze's over the same capture, item by item
    final = {r[0]: (r[1], cl_items(r[2]))
             for r in db_rows(db, "SELECT t.peer_addr, k.status, k.items FROM trunk_checklist k"
                                  " JOIN trunks t ON t.id=k.trunk_id") or []}
    adb = os.path.join(a.work, "analyze.db")
    for p in (adb, adb + "-wal", adb + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    subprocess.run([a.bin, "analyze", "--quiet", "--no-alerts", "--config", conf, "--db", adb, pcap],
                   capture_output=True, check=True, timeout=300)
    ref = {r[0]: (r[1], cl_items(r[2]))
           for r in db_rows(adb, "SELECT t.peer_addr, k.status, k.items FROM trunk_checklist k"
                                 " JOIN trunks t ON t.id=k.trunk_id") or []}
    c.check(bool(final) and set(final) == set(ref),
            f"final checklist for the trunks analyze finds: {sorted(final)} vs {sorted(ref)}")
    for peer in set(final) & set(ref):
        for item, want in ref[peer][1].items():
            if item == "rtcp":
                continue
            got = final[peer][1].get(item, {})
            c.check(got.get("status") == want["status"] and got.get("evidence") == want["evidence"],
                    f"final checklist {peer} {item}: collect {got.get('status')} "
                    f"{got.get('evidence')}, analyze {want['status']} {want['evidence']}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
