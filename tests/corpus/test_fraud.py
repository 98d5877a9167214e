#!/usr/bin/env python3
"""Fraud rules end to end (alert/defaults.conf): fraud_intl_burst counts the
calls a trunk's local end sends to other countries than country_code over
5 minutes, fraud_quiet_hours the calls out in the configured unusual hours.
Captures written byte by byte (the builder of test_checklist.py): 12 calls
to +1 numbers within 4 minutes fire fraud_intl_burst, the same calls to +49
numbers do not, nor do the +1 calls without country_code; 6 calls out at
22:13 UTC fire fraud_quiet_hours with alert_quiet_hours = 22-6 and do not
with 8-18, nor with 22-6 one hour east (alert_utc_offset_min = 120 makes it
00:13... inside: see the cases). Checked in the alerts table analyze --db
writes: the rule, its state, its value and the calls named."""
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

from manifest import Checker, parse_args
from test_checklist import GW, MS, T0, Pcap, call


def build(path, numbers, spacing=20.0):
    cap = Pcap()
    for i, n in enumerate(numbers):
        call(cap, "f%d" % i, T0 + spacing * i, ruri=n, dur=3.0)
    cap.write(path)


def alerts(a, work, name, pcap, conf):
    cfg = os.path.join(work, name + ".conf")
    with open(cfg, "w") as f:
        f.write("trunk = %s carrier\n" % GW + conf)
    db = os.path.join(work, name + ".db")
    r = subprocess.run([a.bin, "analyze", "--quiet", "--config", cfg, "--db", db, pcap],
                       capture_output=True, text=True, timeout=600)
    if r.returncode:
        print(r.stderr)
        return None
    con = sqlite3.connect(db)
    rows = con.execute("SELECT rule, state, value, evidence FROM alerts").fetchall()
    ids = {cid for (cid,) in con.execute("SELECT l.call_id FROM legs l")}
    con.close()
    return rows, ids


def main():
    a = parse_args()
    c = Checker()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    intl = os.path.join(a.work, "intl.pcap")
    build(intl, ["+1212555%04d" % i for i in range(12)])
    dom = os.path.join(a.work, "dom.pcap")
    build(dom, ["+4930555%04d" % i for i in range(12)])
    cases = [  # name, pcap, config, rule, fires
        ("intl", intl, "country_code = 49\n", "fraud_intl_burst", True),
        ("intl_00", intl, "country_code = 49\n", "fraud_intl_burst", True),
        ("domestic", dom, "country_code = 49\n", "fraud_intl_burst", False),
        ("no_country", intl, "", "fraud_intl_burst", False),
        ("quiet", dom, "alert_quiet_hours = 22-6\n", "fraud_quiet_hours", True),
        ("daytime", dom, "alert_quiet_hours = 8-18\n", "fraud_quiet_hours", False),
        ("quiet_east", dom, "alert_quiet_hours = 0-6\nalert_utc_offset_min = 120\n",
         "fraud_quiet_hours", True),   # 22:13 UTC is 00:13 two hours east
        ("quiet_west", dom, "alert_quiet_hours = 0-6\nalert_utc_offset_min = -120\n",
         "fraud_quiet_hours", False),  # ... and 20:13 two hours west
        ("no_hours", dom, "", "fraud_quiet_hours", False),
    ]
    zero = os.path.join(a.work, "intl00.pcap")
    build(zero, ["001212555%04d" % i for i in range(12)])
    cases[1] = ("intl_00", zero, "country_code = 49\n", "fraud_intl_burst", True)
    for name, pcap, conf, rule, fires in cases:
        got = alerts(a, a.work, name, pcap, conf)
        c.check(got is not None, "%s: analyze --db exits 0" % name)
        if not got:
            continue
        rows, _ = got
        mine = [r for r in rows if r[0] == rule]
        fired = [r for r in mine if r[1] in ("firing", "resolved")]
        print("%-11s %-18s %s" % (name, rule, [(r[1], r[2]) for r in mine]))
        c.check(bool(fired) == fires, "%s: %s %s (%s)" % (name, rule, "fires" if fires else
                                                          "stays quiet", mine))
        if fires and fired:
            c.check(fired[0][2] >= (10 if rule == "fraud_intl_burst" else 5),
                    "%s: value %s at the threshold" % (name, fired[0][2]))
            c.check('"calls"' in (fired[0][3] or ""), "%s: evidence names calls" % name)
        others = [r for r in rows if r[0].startswith("fraud_") and r[0] != rule]
        c.check(not others, "%s: no other fraud rule fires: %s" % (name, others))
    site_health(a, c, os.path.join(a.work, "intl.db"))
    return c.done()


def site_health(a, c, db):
    """A site's health is its trunks': the trunk of the international burst
    (critical: the alert still fires at the end) put at site hq, a healthy
    trunk at site branch; GET /api/v1/sites says so."""
    con = sqlite3.connect(db)
    tid, = con.execute("SELECT trunk_id FROM trunk_health WHERE state='critical'").fetchone()
    con.execute("UPDATE trunks SET site='hq' WHERE id=?", (tid,))
    con.execute("INSERT INTO trunks(name, local_addr, peer_addr, itsp, site) VALUES"
                "('quiet', '10.9.0.1', '10.9.0.2', 0, 'branch')")
    other = con.execute("SELECT max(id) FROM trunks").fetchone()[0]
    con.execute("INSERT INTO trunk_health(trunk_id, state, reasons, metrics) VALUES(?, 'healthy',"
                " '[]', '{}')", (other,))
    con.commit()
    con.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--http", "127.0.0.1:%d" % port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        doc = None
        for _ in range(100):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/sites" % port,
                                            timeout=5) as r:
                    doc = json.load(r)
                break
            except OSError:
                time.sleep(0.1)
        c.check(doc is not None, "API /sites answers")
        sites = {x["site"]: x for x in (doc or {}).get("sites", [])}
        hq, br = sites.get("hq", {}).get("health"), sites.get("branch", {}).get("health")
        print("sites:", json.dumps(sites))
        c.check(hq is not None and hq["state"] == "critical" and hq["trunks"] == {"critical": 1},
                "site hq critical with its one trunk")
        c.check(hq is not None and len(hq["reasons"]) == 1 and hq["reasons"][0]["trunk_id"] == tid
                and any(r.get("rule") == "fraud_intl_burst" for r in hq["reasons"][0]["reasons"]),
                "site hq's reason: its trunk and fraud_intl_burst")
        c.check(br is not None and br["state"] == "healthy" and not br["reasons"],
                "site branch healthy, no reasons")
    finally:
        srv.terminate()
        srv.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
