#!/usr/bin/env python3
"""Prometheus and Alertmanager with trunkscope, for real (Debian's
prometheus and prometheus-alertmanager): contrib/prometheus/alerts.yml
passes `promtool check rules` and its unit tests (`promtool test rules
alerts_test.yml`); then, in a network namespace this test creates, `serve`
offers /metrics over a database in which the generator's carrier itsp-1
stopped answering (calls 503, OPTIONS unanswered) and never recovered,
Prometheus scrapes it every second and evaluates alerts.yml, Alertmanager
(group_wait 1 s) delivers to a webhook receiver this test runs: the
receiver must get TrunkscopeTrunkDown for itsp-1's trunk and
TrunkscopeAlertFiring for trunkscope's own options_down, and nothing about
itsp-2. Skipped (77) without root or a package."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from manifest import Checker, parse_args  # noqa: E402
import netns  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRIB = os.path.join(ROOT, "contrib", "prometheus")

RECEIVER = r'''
import http.server, sys, json
out = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        b = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "body": json.loads(b)}) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def main():
    a = parse_args()
    why = netns.missing([("prometheus", "prometheus"), ("promtool", "prometheus"),
                         ("prometheus-alertmanager", "prometheus-alertmanager")])
    if why:
        netns.skip(why)
    c = Checker()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    p = subprocess.run(["promtool", "check", "rules", os.path.join(CONTRIB, "alerts.yml")],
                       capture_output=True, text=True)
    c.check(p.returncode == 0 and "SUCCESS" in p.stdout, f"promtool check rules ({p.stdout}{p.stderr})")
    p = subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], capture_output=True,
                       text=True, cwd=CONTRIB)
    c.check(p.returncode == 0 and "SUCCESS" in p.stdout, f"promtool test rules ({p.stdout}{p.stderr})")

    pcap = os.path.join(a.work, "down.pcap")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "300", "--cps", "0.5", "--duration-mean", "20",
                    "--impair", "0", "--seed", "11", "--itsps", "2", "--no-register",
                    "--fault-itsp", "1", "--fault-from", "200"], check=True, capture_output=True,
                   timeout=600)
    db = os.path.join(a.work, "down.db")
    p = subprocess.run([a.bin, "analyze", "--quiet", "--db", db, pcap], capture_output=True,
                       text=True, timeout=1200)
    c.check(p.returncode == 0, f"analyze ({p.stderr[-300:]})")

    posts = os.path.join(a.work, "posts.jsonl")
    with open(os.path.join(a.work, "receiver.py"), "w") as f:
        f.write(RECEIVER)
    with open(os.path.join(a.work, "am.yml"), "w") as f:
        f.write("route:\n  receiver: test\n  group_by: [alertname, trunk, target]\n"
                "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
                "receivers:\n  - name: test\n    webhook_configs:\n"
                "      - url: http://127.0.0.1:9099/am\n        send_resolved: true\n")
    with open(os.path.join(a.work, "prom.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                f"rule_files:\n  - {os.path.join(CONTRIB, 'alerts.yml')}\n"
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:9093']\n"
                "scrape_configs:\n  - job_name: trunkscope\n    static_configs:\n"
                "      - targets: ['127.0.0.1:8080']\n")
    with netns.Lab("tsprom") as lab:
        lab.add("p")
        lab.start("p", [sys.executable, os.path.join(a.work, "receiver.py"), "9099", posts],
                  log=os.path.join(a.work, "receiver.log"))
        lab.start("p", [a.bin, "serve", "--db", db, "--http", "127.0.0.1:8080"],
                  log=os.path.join(a.work, "serve.log"))
        lab.start("p", [netns.tool("prometheus-alertmanager"), "--config.file",
                        os.path.join(a.work, "am.yml"), "--storage.path", os.path.join(a.work, "am"),
                        "--web.listen-address", "127.0.0.1:9093", "--cluster.listen-address", ""],
                  log=os.path.join(a.work, "alertmanager.log"))
        lab.start("p", [netns.tool("prometheus"), "--config.file", os.path.join(a.work, "prom.yml"),
                        "--storage.tsdb.path", os.path.join(a.work, "tsdb"),
                        "--web.listen-address", "127.0.0.1:9090"],
                  log=os.path.join(a.work, "prometheus.log"))

        def got():
            if not os.path.exists(posts):
                return []
            with open(posts) as f:
                return [json.loads(x) for x in f if x.strip()]

        def names():
            out = set()
            for p_ in got():
                for al in p_["body"].get("alerts", []):
                    if al.get("status") == "firing":
                        out.add((al["labels"].get("alertname"), al["labels"].get("peer") or
                                 al["labels"].get("target")))
            return out

        t0 = time.time()
        ok = netns.wait_for(lambda: ("TrunkscopeTrunkDown", "203.0.113.1") in names() and
                            any(n == "TrunkscopeAlertFiring" and t and "203.0.113.1" in t
                                for n, t in names()), 120, 0.5)
        print(f"Alertmanager delivered after {time.time() - t0:.1f} s: {sorted(names())}")
        c.check(ok, "Alertmanager delivered TrunkscopeTrunkDown and trunkscope's own alert for itsp-1")
        c.check(not any(t and "203.0.113.2" in t for n, t in names() if n in
                        ("TrunkscopeTrunkDown", "TrunkscopeAlertFiring")),
                "nothing about itsp-2")
        bodies = got()
        c.check(bodies and all(b["path"] == "/am" and b["body"].get("receiver") == "test" for b in bodies),
                "Alertmanager's webhook format (receiver, alerts[])")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
