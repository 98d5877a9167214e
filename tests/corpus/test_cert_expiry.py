#!/usr/bin/env python3
"""Certificate expiry in trunk health and the cert_expiring alert rule
(alert/eval.c over tls_peers): bench/tls_capture.py makes real TLS 1.2
sessions carrying SIP calls (Python's ssl, that is OpenSSL) with a server
certificate openssl makes for it, timestamped from now. Three captures:
a certificate valid 20 days (the rule fires at once, `for` 0; the trunk is
degraded with a cert_expiry reason naming the days left), the same 40 days
later (expired: the trunk is critical, reason cert_expired), and one valid a
year (nothing fires, the trunk is healthy). The days are checked against
openssl's own reading of the certificate that tshark pulls out of the
capture, and the API serves the health and the alert. Needs openssl and
tshark; exit 77 otherwise."""
import binascii
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone

from manifest import Checker, parse_args

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tlscap import make  # noqa: E402
DAY = 86400


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def openssl_not_after(pcap, keys, work):
    """The server certificate's notAfter (epoch s) by openssl, from the DER
    tshark finds in the capture."""
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-o", "tls.keylog_file:" + keys,
                        "-Y", "tls.handshake.certificate", "-T", "fields", "-e",
                        "tls.handshake.certificate"], capture_output=True, text=True, timeout=300)
    first = [x for x in p.stdout.split() if x]
    if not first:
        return None
    der = binascii.unhexlify(first[0].split(",")[0].replace(":", ""))
    path = os.path.join(work, "leaf.der")
    with open(path, "wb") as f:
        f.write(der)
    o = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", path, "-noout", "-enddate"],
                       capture_output=True, text=True, check=True)
    # notAfter=Dec 26 10:00:00 2026 GMT
    txt = o.stdout.strip().split("=", 1)[1]
    return int(datetime.strptime(txt, "%b %d %H:%M:%S %Y %Z")
               .replace(tzinfo=timezone.utc).timestamp())


def run_case(a, c, name, cert_days, start):
    out = os.path.join(a.work, name)
    r = make(out, ["--tls12", "ECDHE-RSA-AES128-GCM-SHA256", "--cert-days", str(cert_days),
                   "--start", str(start)], 2, 3)
    c.check(r.returncode == 0, f"{name}: generator failed: {r.stderr[-300:]}")
    if r.returncode:
        return None
    pcap, keys, db = out + "-tls.pcap", out + "-tls.keys", out + ".db"
    p = subprocess.run([a.bin, "analyze", "--quiet", "--tls-keylog", keys, "--db", db, pcap],
                       capture_output=True, text=True, timeout=300)
    c.check(p.returncode == 0, f"{name}: analyze exit {p.returncode} ({p.stderr[-300:]})")
    not_after = openssl_not_after(pcap, keys, a.work)
    c.check(not_after is not None, f"{name}: tshark found the certificate")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    stored = con.execute("SELECT cert_not_after FROM tls_peers").fetchall()
    c.check(len(stored) == 1 and stored[0][0] == not_after,
            f"{name}: tls_peers' notAfter {[tuple(x) for x in stored]} = openssl's {not_after}")
    alerts = [dict(x) for x in con.execute("SELECT * FROM alerts")]
    health = [dict(x) for x in con.execute("SELECT * FROM trunk_health")]
    for h in health:
        h["reasons"] = json.loads(h["reasons"])
        h["metrics"] = json.loads(h["metrics"])
    return {"db": db, "alerts": alerts, "health": health, "not_after": not_after, "start": start}


def main():
    a = parse_args()
    for t in ("tshark", "openssl"):
        if not shutil.which(t):
            print(f"skipped: {t} missing")
            return 77
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    c = Checker()
    now = int(time.time())

    # 20 days left: the rule fires, the trunk is degraded and says how long
    soon = run_case(a, c, "soon", 20, now)
    if soon:
        want = (soon["not_after"] - soon["start"]) / DAY
        al = [x for x in soon["alerts"] if x["rule"] == "cert_expiring"]
        c.check(len(al) == 1 and al[0]["state"] == "firing" and al[0]["severity"] == "warning",
                f"soon: cert_expiring fires once ({[(x['rule'], x['state']) for x in soon['alerts']]})")
        c.check(len(soon["alerts"]) == len(al), "soon: no other alert")
        if al:
            ev = json.loads(al[0]["evidence"])
            print(f"soon: {al[0]['summary']}; openssl says {want:.2f} days")
            c.check(abs(ev["days_left"] - want) < 0.01 and abs(al[0]["value"] - want) < 0.01,
                    f"soon: days left {ev['days_left']} = openssl's {want:.2f}")
            c.check(ev["not_after"] == soon["not_after"] and ev["subject"] == "CN = bench" and
                    ev["server"] == "10.0.0.2" and ev["server_port"] == 5061,
                    f"soon: evidence names the certificate ({ev})")
            c.check(al[0]["target"] == "10.0.0.1>10.0.0.2:5061" and al[0]["trunk_id"],
                    f"soon: target {al[0]['target']} on trunk {al[0]['trunk_id']}")
            c.check("expires in 19 days" in al[0]["summary"] or "expires in 20 days" in al[0]["summary"],
                    f"soon: summary {al[0]['summary']!r}")
        h = soon["health"]
        c.check(len(h) == 1 and h[0]["state"] == "degraded", f"soon: trunk degraded ({h})")
        if h:
            # whole days left at the evaluation's data time
            want = (soon["not_after"] - h[0]["data_ts"] / 1e9) // DAY
            rs = {x["rule"]: x for x in h[0]["reasons"]}
            c.check("cert_expiring" in rs and rs["cert_expiring"]["state"] == "firing",
                    f"soon: the health names the alert ({list(rs)})")
            c.check("cert_expiry" in rs and rs["cert_expiry"]["days_left"] == int(want),
                    f"soon: a cert_expiry reason with {int(want)} days left ({rs.get('cert_expiry')})")
            c.check(h[0]["metrics"]["cert_days_left"] == int(want),
                    f"soon: metrics cert_days_left {h[0]['metrics'].get('cert_days_left')}")
        # the API serves the health and the alert, /metrics the days (wall clock)
        port = free_port()
        s = subprocess.Popen([a.bin, "serve", "--db", soon["db"], "--http", f"127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            trunks = None
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/trunks", timeout=5) as r:
                        trunks = json.load(r)["trunks"]
                    break
                except OSError:
                    time.sleep(0.1)
            c.check(trunks and trunks[0]["health"]["state"] == "degraded" and
                    any(x["rule"] == "cert_expiry" for x in trunks[0]["health"]["reasons"]),
                    "API: the trunk's health is degraded by the certificate")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
                doc = json.load(r)
            c.check(any(x["rule"] == "cert_expiring" and x["state"] == "firing" for x in doc["alerts"]),
                    "API: /alerts lists cert_expiring firing")
            # whole days from the server's clock (whole seconds) at the request
            t0 = int(time.time())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                met = r.read().decode()
            t1 = int(time.time())
            na = soon["not_after"]
            line = [x for x in met.splitlines() if x.startswith("trunkscope_tls_cert_expiry_days{")]
            c.check(line and (na - t1) // DAY <= int(line[0].split()[-1]) <= (na - t0) // DAY,
                    f"/metrics: {line}, {(na - t1) // DAY}..{(na - t0) // DAY} by the clock")
        finally:
            s.terminate()
            s.wait(timeout=10)

    # the same certificate 40 days on: expired, the trunk fails
    late = run_case(a, c, "expired", 20, now + 40 * DAY)
    if late:
        want = (late["not_after"] - late["start"]) / DAY
        al = [x for x in late["alerts"] if x["rule"] == "cert_expiring"]
        c.check(len(al) == 1 and al[0]["state"] == "firing" and al[0]["value"] < 0,
                f"expired: cert_expiring fires with {[x['value'] for x in al]} days")
        h = late["health"]
        c.check(len(h) == 1 and h[0]["state"] == "critical", f"expired: trunk critical ({h})")
        if h:
            rs = {x["rule"]: x for x in h[0]["reasons"]}
            c.check("cert_expired" in rs and rs["cert_expired"]["severity"] == "critical" and
                    rs["cert_expired"]["days_left"] < 0 and "expired" in rs["cert_expired"]["text"],
                    f"expired: a cert_expired reason ({rs.get('cert_expired')}), openssl {want:.1f} days")

    # a one-year certificate: nothing fires, the trunk is healthy
    year = run_case(a, c, "year", 365, now)
    if year:
        c.check(not year["alerts"], f"year: nothing fires ({year['alerts']})")
        h = year["health"]
        c.check(len(h) == 1 and h[0]["state"] == "healthy" and
                not any(x["rule"].startswith("cert") for x in h[0]["reasons"]),
                f"year: trunk healthy, no certificate reason ({h})")
        if h:
            d = h[0]["metrics"]["cert_days_left"]
            c.check(d in (364, 365), f"year: cert_days_left {d}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
