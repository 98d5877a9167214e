#!/usr/bin/env python3
"""/api/v1/tls/connections' filters (issue 26): trunk, addr (with or
without a port), verdict (a list), from/to and limit, and their 400s and
404. One real TLS capture (bench/tls_capture.py: Python's ssl, that is
OpenSSL, TLS_RSA_* so the server's key decrypts it) is analysed together
with a copy moved to other addresses (tcprewrite) and an hour later
(editcap -t) with one segment cut (editcap: that copy's first connection
is `lost`). The expected rows of every filter are picked in Python from the
connections `analyze --json` lists (tls_connections[]), not from the
database. Needs openssl (for the generator), editcap and tcprewrite; exit
77 otherwise."""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from serving import Serve  # noqa: E402
from tlscap import made, preamble  # noqa: E402

HOUR_NS = 3600 * 10**9


def iso_ns(t):
    """'2023-11-14T22:13:20.003Z' -> ns since the epoch (UTC)."""
    import datetime
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 10**9 + d.microsecond * 1000


def main():
    a, work, c = preamble(("openssl", "editcap", "tcprewrite"))
    base = os.path.join(work, "rsa")
    made(base, ["--tls12", "AES128-SHA256"])
    # the copy: frame 20 (in the first connection's records) cut, an hour
    # later, between 10.5.0.1 and 10.5.0.2
    gap, later, moved = (os.path.join(work, x) for x in ("gap.pcap", "later.pcap", "moved.pcap"))
    subprocess.run(["editcap", base + "-tls.pcap", gap, "20"], check=True)
    subprocess.run(["editcap", "-t", "3600", gap, later], check=True)
    subprocess.run(["tcprewrite", "--pnat=10.0.0.1/32:10.5.0.1/32,10.0.0.2/32:10.5.0.2/32",
                    "--fixcsum", f"--infile={later}", f"--outfile={moved}"], check=True)
    pem = base + "-server.pem"
    args = ["--tls-key", f"10.0.0.2:5061={pem}", "--tls-key", f"10.5.0.2:5061={pem}",
            base + "-tls.pcap", moved]
    p = subprocess.run([a.bin, "analyze", "--json", *args], capture_output=True, text=True,
                       timeout=300)
    c.check(p.returncode == 0, f"analyze --json exit {p.returncode}: {p.stderr[-300:]}")
    conns = json.loads(p.stdout).get("tls_connections", [])
    for x in conns:
        x["ns"] = iso_ns(x["first"])
    print("connections:", [(x["client"], x["server"], x["decrypt"], x["first"]) for x in conns])
    c.check(len(conns) == 6 and sum(x["decrypt"] == "lost" for x in conns) == 1,
            f"want 6 connections, one lost: {[x['decrypt'] for x in conns]}")
    db = os.path.join(work, "t.db")
    p = subprocess.run([a.bin, "analyze", "--quiet", "--db", db, *args], capture_output=True,
                       text=True, timeout=300)
    c.check(p.returncode == 0, f"analyze --db exit {p.returncode}: {p.stderr[-300:]}")

    def key(x):
        return (x["client"], x["server"], x["decrypt"], x["first"])

    start = min(x["ns"] for x in conns)
    mid_ms = (start + HOUR_NS // 2) // 10**6
    with Serve(a.bin, db) as srv:
        srv.wait("/api/v1/health")
        trunks = {(t["local"], t["peer"]): t["id"]
                  for t in srv.get("/api/v1/trunks").get("trunks", [])}
        print("trunks:", trunks)
        t5 = trunks.get(("10.5.0.1", "10.5.0.2")) or trunks.get(("10.5.0.2", "10.5.0.1"))
        t0 = trunks.get(("10.0.0.1", "10.0.0.2")) or trunks.get(("10.0.0.2", "10.0.0.1"))
        c.check(t5 and t0, f"two trunks expected: {trunks}")
        on = lambda ip: lambda x: x["client"].rsplit(":", 1)[0] == ip or \
            x["server"].rsplit(":", 1)[0] == ip  # noqa: E731
        cases = {
            "": lambda x: True,
            f"trunk={t5}": on("10.5.0.2"),
            f"trunk={t0}": on("10.0.0.2"),
            "addr=10.5.0.1": on("10.5.0.1"),
            "addr=10.0.0.2:5061": lambda x: x["server"] == "10.0.0.2:5061",
            "addr=10.0.0.1:40001": lambda x: x["client"] == "10.0.0.1:40001",
            "addr=10.0.0.2:5062": lambda x: False,
            "verdict=lost": lambda x: x["decrypt"] == "lost",
            "verdict=decrypted": lambda x: x["decrypt"] == "decrypted",
            "verdict=lost,decrypted": lambda x: x["decrypt"] in ("lost", "decrypted"),
            "verdict=no_key": lambda x: False,
            f"from={mid_ms}": lambda x: x["ns"] >= mid_ms * 10**6,
            f"to={mid_ms}": lambda x: x["ns"] < mid_ms * 10**6,
            f"trunk={t5}&verdict=decrypted": lambda x: on("10.5.0.2")(x) and
            x["decrypt"] == "decrypted",
            f"addr=10.0.0.1&from={mid_ms}": lambda x: False,
        }
        for q, pick in cases.items():
            got = srv.get("/api/v1/tls/connections" + ("?" + q if q else "")).get("connections")
            got = sorted(map(key, got or []), key=lambda k: k[3])
            want = sorted((key(x) for x in conns if pick(x)), key=lambda k: k[3])
            print(f"{q or '(none)'}: {len(got)} rows")
            c.check(got == want, f"?{q}: {got} != {want}")
        # limit: the newest first
        got = srv.get("/api/v1/tls/connections?limit=2").get("connections", [])
        want = sorted(conns, key=lambda x: x["ns"], reverse=True)[:2]
        c.check([key(x) for x in got] == [key(x) for x in want],
                f"limit=2: {[key(x) for x in got]} != {[key(x) for x in want]}")
        # bad input: 400 with one line saying what was expected; unknown trunk 404
        for q, code, word in (("verdict=bogus", 400, "verdict"), ("addr=10.0.0", 400, "addr"),
                              ("limit=0", 400, "limit"), ("limit=4097", 400, "limit"),
                              ("from=yesterday", 400, "from"), (f"from={mid_ms}&to={mid_ms}", 400, "to"),
                              ("trunk=x", 400, "trunk"), ("trunk=999", 404, None),
                              ("site=a", 400, "site")):
            try:
                srv.get("/api/v1/tls/connections?" + q)
                c.check(False, f"?{q}: answered 200, want {code}")
            except urllib.error.HTTPError as e:
                body = json.load(e)
                msg = body.get("error", {}).get("message", "") if isinstance(
                    body.get("error"), dict) else str(body)
                c.check(e.code == code and (word is None or word in json.dumps(body)),
                        f"?{q}: {e.code} {body}, want {code} naming {word}")
                if word:
                    print(f"?{urllib.parse.unquote(q)}: {e.code} {msg or body}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
