#!/usr/bin/env python3
"""Alerts end to end, analysed: the generator's capture in which carrier
itsp-1 answers every call 503 and leaves its OPTIONS unanswered from 400 s
to 800 s of a 1,500-s capture (the truth file says so, and counts the
unanswered keep-alives). `analyze --db --config` evaluates the shipped rules
every 10 s of capture time. The 5xx and OPTIONS alerts of itsp-1's trunk
must go pending within two minutes of the fault, fire exactly their `for`
later, resolve once the fault ended (within the 5xx rule's window, within
one OPTIONS interval and Timer F), be stored with their evidence (numbers
and call ids of 503'd calls), and reach the two receivers this test runs:
an Alertmanager API v2 endpoint (firing without endsAt, resolved with it)
and the plain JSON webhook, whose first POST answers 500 so the retry is
seen. itsp-2's trunk fires neither. The same capture without the fault
fires nothing at all and every trunk is healthy. The API lists the alerts
and each trunk's health."""
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

from manifest import Checker, parse_args
from serving import Serve, free_port

T0 = 1700000000
FAULT_FROM, FAULT_TO, LENGTH = 400, 800, 1500
NS = 1e9


class Receiver(http.server.BaseHTTPRequestHandler):
    posts = []
    failed_once = [False]
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            if self.path == "/hook" and not self.failed_once[0]:
                self.failed_once[0] = True
                self.send_response(500)
                self.end_headers()
                return
            self.posts.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def gen(binary, out, fault):
    args = [binary, "gen", "-o", out, "--calls", str(LENGTH // 2), "--cps", "0.5",
            "--duration-mean", "20", "--impair", "0", "--seed", "7", "--itsps", "2",
            "--options-interval", "30", "--no-register"]
    if fault:
        args += ["--fault-itsp", "1", "--fault-from", str(FAULT_FROM), "--fault-to", str(FAULT_TO)]
    subprocess.run(args, check=True, capture_output=True, timeout=600)
    with open(out[:-5] + ".truth.json") as f:
        return json.load(f)


def rel(ns):
    return None if ns is None else ns / NS - T0


def main():
    a = parse_args()
    c = Checker()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    conf = os.path.join(a.work, "trunkscope.conf")
    with open(conf, "w") as f:
        f.write(f"notify.webhook = http://127.0.0.1:{port}/hook\n"
                f"notify.alertmanager = http://127.0.0.1:{port}/api/v2/alerts\n"
                "notify.instance = test-sensor\n")

    faulty = os.path.join(a.work, "fault.pcap")
    truth = gen(a.bin, faulty, True)
    c.check(truth["params"].get("fault_itsp") == "itsp-1", "the truth names the failing carrier")
    itsp1 = [n for n in truth["topology"]["nodes"] if n["name"] == "itsp-1"][0]["addresses"][0]["ip"]
    itsp2 = [n for n in truth["topology"]["nodes"] if n["name"] == "itsp-2"][0]["addresses"][0]["ip"]
    opt = {o["to"]: o for o in truth["options"]}
    c.check(opt["itsp-1"]["sent"] - opt["itsp-1"]["answered"] == (FAULT_TO - FAULT_FROM) // 30,
            f"truth: itsp-1 left {(FAULT_TO - FAULT_FROM) // 30} OPTIONS unanswered ({opt['itsp-1']})")
    db = os.path.join(a.work, "fault.db")
    t = time.time()
    p = subprocess.run([a.bin, "analyze", "--quiet", "--db", db, "--config", conf, faulty],
                       capture_output=True, text=True, timeout=1200)
    print(f"analyze + alert replay: {time.time() - t:.1f} s")
    c.check(p.returncode == 0, f"analyze exit 0 ({p.stderr[-400:]})")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    trunk1 = con.execute("SELECT id FROM trunks WHERE peer_addr=?", (itsp1,)).fetchone()
    trunk2 = con.execute("SELECT id FROM trunks WHERE peer_addr=?", (itsp2,)).fetchone()
    c.check(trunk1 is not None and trunk2 is not None, "both carrier trunks stored")
    rows = [dict(r) for r in con.execute("SELECT * FROM alerts ORDER BY id")]
    for r in rows:
        print(f"  {r['id']:3} {r['rule']:18} {r['target']:28} {r['state']:9} "
              f"started {rel(r['started']):7.0f} fired {rel(r['fired']) if r['fired'] else '-'} "
              f"resolved {rel(r['resolved']) if r['resolved'] else '-'}  {r['summary']}")

    def one(rule, **kw):
        m = [r for r in rows if r["rule"] == rule and all(r[k] == v for k, v in kw.items())]
        c.check(len(m) == 1, f"one {rule} alert for {kw} (got {len(m)})")
        return m[0] if m else None

    x5 = one("sip_5xx", trunk_id=trunk1["id"] if trunk1 else -1)
    if x5:
        c.check(FAULT_FROM <= rel(x5["started"]) <= FAULT_FROM + 180,
                f"sip_5xx pending within 3 min of the fault ({rel(x5['started'])})")
        c.check(abs((x5["fired"] - x5["started"]) / NS - 60) <= 10, "sip_5xx fired its 60-s `for` later")
        c.check(x5["state"] == "resolved", "sip_5xx resolved")
        c.check(x5["resolved"] and FAULT_TO <= rel(x5["resolved"]) <= FAULT_TO + 300 + 20,
                f"sip_5xx resolved within its 300-s window after the fault ({rel(x5['resolved'])})")
        ev = json.loads(x5["evidence"] or "{}")
        c.check(ev.get("5xx", 0) >= 5 and ev.get("attempts", 0) >= ev.get("5xx", 1),
                f"sip_5xx evidence has the numbers ({ev})")
        ids = ev.get("calls", [])
        c.check(1 <= len(ids) <= 5, "sip_5xx evidence names calls")
        bad = con.execute("SELECT count(*) FROM legs WHERE call_ref IN (%s) AND final_status BETWEEN 500 AND 599"
                          % ",".join("?" * len(ids)), ids).fetchone()[0] if ids else 0
        c.check(bad >= len(ids), "the evidence calls ended with a 5xx")
    xo = one("options_down", target=f"198.51.100.10>{itsp1}")
    if xo:
        c.check(xo["trunk_id"] == (trunk1["id"] if trunk1 else -1), "options_down names the trunk")
        fired = rel(xo["fired"])
        # 5 misses: the 5th request after the fault, unanswered for Timer F (32 s)
        c.check(FAULT_FROM + 4 * 30 + 32 <= fired <= FAULT_FROM + 6 * 30 + 32 + 10,
                f"options_down fired after 5 unanswered keep-alives ({fired})")
        c.check(xo["state"] == "resolved" and FAULT_TO <= rel(xo["resolved"]) <= FAULT_TO + 30 + 10,
                f"options_down resolved with the first answer after the fault ({rel(xo['resolved']) if xo['resolved'] else None})")
    others = [r for r in rows if trunk2 and r["trunk_id"] == trunk2["id"] and r["rule"] in ("sip_5xx", "options_down")]
    c.check(not others, f"itsp-2's trunk fires neither ({others})")
    c.check(not any(r["state"] == "pending" for r in rows), "no alert left pending at the end")

    # notifications: every firing and resolution reached both receivers
    time.sleep(0.5)
    with Receiver.lock:
        posts = list(Receiver.posts)
    hooks = [b for p_, b in posts if p_ == "/hook"]
    ams = [b for p_, b in posts if p_ == "/api/v2/alerts"]
    c.check(Receiver.failed_once[0], "the webhook's first POST was refused (500)")
    for r in rows:
        if not r["fired"]:
            continue
        states = ["firing"] + (["resolved"] if r["state"] == "resolved" else [])
        for st in states:
            got = [b for b in hooks if b["id"] == r["id"] and b["state"] == st]
            c.check(len(got) == 1, f"webhook got alert {r['id']} {r['rule']} {st} once ({len(got)})")
            if got:
                c.check(got[0]["instance"] == "test-sensor" and got[0]["target"] == r["target"],
                        "webhook body names instance and target")
        am = [b[0] for b in ams if b[0]["labels"]["alertname"] == r["rule"] and
              b[0]["labels"]["target"] == r["target"]]
        c.check(len(am) >= len(states), f"Alertmanager got {r['rule']} on {r['target']} ({len(am)})")
        if r["state"] == "resolved":
            c.check(any("endsAt" in x for x in am), f"Alertmanager got the resolution of {r['rule']}")
        c.check(any("endsAt" not in x for x in am), f"Alertmanager got {r['rule']} firing (no endsAt)")

    # the API: /alerts and trunk health
    with Serve(a.bin, db) as api:
        doc = api.wait("/api/v1/alerts?state=resolved")
        c.check(doc is not None and {x["id"] for x in doc["alerts"]} ==
                {r["id"] for r in rows if r["state"] == "resolved"}, "API lists the resolved alerts")
        trunks = api.get("/api/v1/trunks", timeout=5)["trunks"]
        c.check(all(t["health"] and t["health"]["state"] in ("healthy", "degraded", "critical", "down", "idle")
                    for t in trunks), "every trunk has a health")
        t2 = [t for t in trunks if t["peer"] == itsp2]
        c.check(t2 and t2[0]["health"]["metrics"]["options"]["misses_in_row"] == 0,
                "itsp-2's OPTIONS answered in its health")

    # the same traffic without the fault: nothing fires
    healthy = os.path.join(a.work, "healthy.pcap")
    gen(a.bin, healthy, False)
    hdb = os.path.join(a.work, "healthy.db")
    n_before = len(Receiver.posts)
    p = subprocess.run([a.bin, "analyze", "--quiet", "--db", hdb, "--config", conf, healthy],
                       capture_output=True, text=True, timeout=1200)
    c.check(p.returncode == 0, "analyze of the healthy capture")
    hc = sqlite3.connect(hdb)
    got = hc.execute("SELECT rule, target, state, summary FROM alerts").fetchall()
    c.check(not got, f"the healthy capture fires nothing ({got})")
    states = [r[0] for r in hc.execute("SELECT state FROM trunk_health")]
    c.check(states and all(s_ == "healthy" for s_ in states), f"every trunk healthy ({states})")
    c.check(len(Receiver.posts) == n_before, "no notification for the healthy capture")
    srv.shutdown()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
