#!/usr/bin/env python3
"""A long-firing alert stays firing in a real Alertmanager (Debian's
prometheus-alertmanager) past its resolve_timeout: trunkscope posts a
firing alert once when it fires, and Alertmanager resolves an alert that
nobody posts again within resolve_timeout (5 s here), so the evaluator
posts firing alerts again every notify.resend_s (2 s here). In a network
namespace this test creates, `serve` evaluates a database whose sensor
went silent 10 minutes ago (sensor_silent fires at once and keeps firing)
and posts to Alertmanager, which delivers to this test's webhook receiver
(send_resolved). With resends the alert is still active in Alertmanager
(GET /api/v2/alerts) 20 s later and no resolution was delivered; with
notify.resend_s = 0 (the control) Alertmanager delivers the resolution.
Skipped (77) without root or the package."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from manifest import Checker, parse_args  # noqa: E402
import netns  # noqa: E402

RECEIVER = r'''
import http.server, sys, json
out = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        b = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out, "a") as f:
            f.write(json.dumps({"t": __import__("time").time(), "body": json.loads(b)}) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''

HOLD_S = 20  # four resolve_timeouts


def run(a, c, lab, name, db, resend_s):
    work = os.path.join(a.work, name)
    os.makedirs(work)
    posts = os.path.join(work, "posts.jsonl")
    conf = os.path.join(work, "ts.conf")
    with open(conf, "w") as f:
        f.write("notify.alertmanager = http://127.0.0.1:9093/api/v2/alerts\n"
                "alert_eval_s = 1\nnotify.resend_s = %d\nnotify.instance = resend-test\n" % resend_s)
    with open(os.path.join(work, "am.yml"), "w") as f:
        f.write("global:\n  resolve_timeout: 5s\n"
                "route:\n  receiver: test\n  group_by: [alertname, target]\n"
                "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
                "receivers:\n  - name: test\n    webhook_configs:\n"
                "      - url: http://127.0.0.1:9099/am\n        send_resolved: true\n")
    procs = [
        lab.start("p", [sys.executable, os.path.join(a.work, "receiver.py"), "9099", posts],
                  log=os.path.join(work, "receiver.log")),
        lab.start("p", [netns.tool("prometheus-alertmanager"), "--config.file",
                        os.path.join(work, "am.yml"), "--storage.path", os.path.join(work, "am"),
                        "--web.listen-address", "127.0.0.1:9093", "--cluster.listen-address", ""],
                  log=os.path.join(work, "alertmanager.log")),
    ]
    time.sleep(1.5)
    procs.append(lab.start("p", [a.bin, "serve", "--db", db, "--config", conf, "--http",
                                 "127.0.0.1:8080"], log=os.path.join(work, "serve.log")))

    def got(status):
        if not os.path.exists(posts):
            return []
        with open(posts) as f:
            bodies = [json.loads(x) for x in f if x.strip()]
        return [b for b in bodies for al in b["body"].get("alerts", [])
                if al["labels"].get("alertname") == "sensor_silent" and al.get("status") == status]

    def active():
        p = lab.exec_("p", sys.executable, "-c", "import urllib.request, sys; sys.stdout.write("
                      "urllib.request.urlopen('http://127.0.0.1:9093/api/v2/alerts', timeout=5)"
                      ".read().decode())", check=False)
        try:
            return [x for x in json.loads(p.stdout) if x["labels"].get("alertname") ==
                    "sensor_silent" and x["status"]["state"] == "active"]
        except (ValueError, KeyError, TypeError):
            return []

    fired = netns.wait_for(lambda: got("firing"), 60, 0.5)
    c.check(fired, "%s: Alertmanager delivered sensor_silent firing" % name)
    t_fired = time.time()
    time.sleep(HOLD_S)
    still = active()
    resolved = got("resolved")
    print("%s: %d s after firing: active in Alertmanager %s, resolutions delivered %d" % (
        name, HOLD_S, bool(still), len(resolved)))
    for p in reversed(procs):
        lab.stop(p)
    return fired, still, resolved, t_fired


def main():
    a = parse_args()
    why = netns.missing([("prometheus-alertmanager", "prometheus-alertmanager")])
    if why:
        netns.skip(why)
    c = Checker()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    with open(os.path.join(a.work, "receiver.py"), "w") as f:
        f.write(RECEIVER)
    pcap = os.path.join(a.work, "g.pcap")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "5", "--seed", "2"], check=True,
                   capture_output=True, timeout=300)
    dbs = {}
    for name in ("resend", "control"):
        db = os.path.join(a.work, name + ".db")
        subprocess.run([a.bin, "analyze", "--quiet", "--no-alerts", "--db", db, pcap], check=True,
                       capture_output=True, timeout=600)
        con = sqlite3.connect(db)
        stale = int((time.time() - 600) * 1e9)  # a running sensor, silent for 10 minutes
        con.execute("INSERT OR REPLACE INTO live_state(id, updated, capture_ts, calls_up, legs_up,"
                    " legs_ringing, legs_trying, running) VALUES(1, ?, ?, 0, 0, 0, 0, 1)",
                    (stale, stale))
        con.commit()
        con.close()
        dbs[name] = db
    with netns.Lab("tsres") as lab:
        lab.add("p")
        fired, still, resolved, _ = run(a, c, lab, "resend", dbs["resend"], 2)
        c.check(fired and still, "resend: sensor_silent still active in Alertmanager %d s after it "
                "fired (resolve_timeout 5 s)" % HOLD_S)
        c.check(fired and not resolved, "resend: no resolution delivered")
        fired, still, resolved, _ = run(a, c, lab, "control", dbs["control"], 0)
        c.check(fired and not still and resolved,
                "control (no resends): Alertmanager resolved it after resolve_timeout")
    con = sqlite3.connect(dbs["resend"])
    st = con.execute("SELECT state FROM alerts WHERE rule='sensor_silent'").fetchall()
    con.close()
    c.check(st == [("firing",)], "the stored alert is firing (%s)" % st)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
