#!/usr/bin/env python3
"""Why each TLS connection was or was not decrypted, per connection (issue
26): bench/tls_capture.py makes real TLS sessions (Python's ssl, that is
OpenSSL) carrying SIP, and each is analysed with keys that fit or do not:

  decrypted         the key log, or the server's RSA key (TLS_RSA_*)
  forward_secret    the server's RSA key on ECDHE (TLS 1.2) and on TLS 1.3
  rsa_key_mismatch  another server's RSA key
  no_key            an RSA key for another address
  auth_failed       a key log whose master secrets are wrong
  unsupported       a suite this tool does not decrypt (Camellia)
  no_handshake      the capture cut after the first connection's handshake
  lost              a segment of one connection missing (editcap)
  incomplete        the capture ends in the middle of a handshake (its
                    ClientHello and ServerHello, then nothing), alone and
                    followed by connections that decrypt (editcap)

For each, the verdict of every connection in `analyze --json`
(tls_connections[]) and in `--json-lines` (tls_connection lines) is the
expected one, each verdict's count equals its tls.decrypt.* counter, and
`analyze --db` stores the same verdict and record counts per connection
(tls_conns, read with sqlite3), the same counts per pair (tls_peers), which
`serve` gives at /api/v1/tls/connections, /api/v1/tls and /metrics
(trunkscope_tls_decrypt_connections_total). Needs openssl (for the
generator), editcap and tshark; exit 77 otherwise."""
import collections
import json
import os
import sqlite3
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from serving import Serve  # noqa: E402
from tlscap import made, preamble  # noqa: E402

SERVER = "10.0.0.2:5061"
# the counter of each verdict (tls.decrypt.*)
COUNTER = {"decrypted": "connections", "auth_failed": "auth_failed_connections"}


def gen(work, name, args):
    out = os.path.join(work, name)
    made(out, args)
    return out


def analyze(binary, pcap, args, form="--json"):
    p = subprocess.run([binary, "analyze", form, *args, pcap], capture_output=True, text=True,
                       timeout=300)
    if p.returncode:
        raise RuntimeError(f"analyze exit {p.returncode}: {p.stderr[-400:]}")
    return p.stdout


def bad_keylog(src, dst):
    """src with every CLIENT_RANDOM's master secret changed."""
    with open(src) as f, open(dst, "w") as o:
        for line in f:
            x = line.split()
            if len(x) == 3 and x[0] == "CLIENT_RANDOM":
                line = f"{x[0]} {x[1]} {'00' if x[2][:2] != '00' else '11'}{x[2][2:]}\n"
            o.write(line)
    os.chmod(dst, 0o600)


def hello_frames(pcap):
    """The first TCP connection's ServerHello frame and its last frame, as
    tshark reads them (the cut points of the incomplete cases)."""
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "frame.number",
                        "-e", "tcp.stream", "-e", "tls.handshake.type"],
                       capture_output=True, text=True, timeout=120, check=True)
    sh = end = 0
    for line in p.stdout.splitlines():
        f = (line.split("\t") + ["", "", ""])[:3]
        if f[1] != "0":
            continue
        end = int(f[0])
        if not sh and "2" in f[2].split(","):
            sh = int(f[0])
    if not sh or end <= sh + 1:
        raise RuntimeError(f"{pcap}: no ServerHello in the first connection")
    return {"server_hello": sh, "end": end}


def main():
    a, work, c = preamble(("openssl", "editcap", "tshark"))
    ecdhe = gen(work, "ecdhe", ["--tls12", "ECDHE-RSA-AES128-GCM-SHA256"])
    rsa = gen(work, "rsa", ["--tls12", "AES128-SHA256"])
    tls13 = gen(work, "tls13", ["--tls13"])
    cam = gen(work, "camellia", ["--tls12", "CAMELLIA128-SHA"])
    bad_keylog(ecdhe + "-tls.keys", os.path.join(work, "bad.keys"))
    # the first connection's handshake cut off (its ClientHello is frame 1,
    # the second's comes later); a segment of the first connection lost
    mid, gap = os.path.join(work, "mid.pcap"), os.path.join(work, "gap.pcap")
    subprocess.run(["editcap", "-r", rsa + "-tls.pcap", mid, "12-100000"], check=True)
    subprocess.run(["editcap", rsa + "-tls.pcap", gap, "20"], check=True)
    # the capture stops after the first connection's ServerHello (frame 5;
    # its ClientKeyExchange is frame 6): alone, and with the rest of that
    # connection cut while the two after it stay whole
    hs = hello_frames(rsa + "-tls.pcap")
    cut, cut_mixed = os.path.join(work, "cut.pcap"), os.path.join(work, "cut_mixed.pcap")
    subprocess.run(["editcap", "-r", rsa + "-tls.pcap", cut, f"1-{hs['server_hello']}"],
                   check=True)
    subprocess.run(["editcap", rsa + "-tls.pcap", cut_mixed,
                    f"{hs['server_hello'] + 1}-{hs['end']}"], check=True)
    key = lambda base: ["--tls-key", f"{SERVER}={base}-server.pem"]  # noqa: E731
    # name: (capture, arguments, the verdict of each connection in order)
    cases = {
        "keylog": (ecdhe + "-tls.pcap", ["--tls-keylog", ecdhe + "-tls.keys"], ["decrypted"] * 3),
        "rsa": (rsa + "-tls.pcap", key(rsa), ["decrypted"] * 3),
        "tls13": (tls13 + "-tls.pcap", ["--tls-keylog", tls13 + "-tls.keys"], ["decrypted"] * 3),
        "ecdhe_rsa_key": (ecdhe + "-tls.pcap", key(ecdhe), ["forward_secret"] * 3),
        "tls13_rsa_key": (tls13 + "-tls.pcap", key(tls13), ["forward_secret"] * 3),
        "other_server_key": (rsa + "-tls.pcap", key(ecdhe), ["rsa_key_mismatch"] * 3),
        "other_address": (rsa + "-tls.pcap", ["--tls-key", f"10.9.9.9:5061={rsa}-server.pem"],
                          ["no_key"] * 3),
        "bad_keylog": (ecdhe + "-tls.pcap", ["--tls-keylog", os.path.join(work, "bad.keys")],
                       ["auth_failed"] * 3),
        "unsupported": (cam + "-tls.pcap", key(cam), ["unsupported"] * 3),
        "mid_stream": (mid, key(rsa), ["no_handshake", "decrypted", "decrypted"]),
        "lost": (gap, key(rsa), ["lost", "decrypted", "decrypted"]),
        "incomplete": (cut, key(rsa), ["incomplete"]),
        "incomplete_mixed": (cut_mixed, key(rsa), ["incomplete", "decrypted", "decrypted"]),
    }
    for name, (pcap, args, want) in cases.items():
        d = json.loads(analyze(a.bin, pcap, args))
        dec = d.get("tls", {}).get("decrypt", {})
        conns = sorted(d.get("tls_connections", []), key=lambda x: x["first"])
        got = [x["decrypt"] for x in conns]
        print(f"{name}: {got}; counters {dec}")
        c.check(got == want, f"{name}: verdicts {got} != {want}")
        counts = collections.Counter(got)
        c.check(all(dec.get(COUNTER.get(v, v), 0) == n for v, n in counts.items()) and
                sum(dec.get(COUNTER.get(v, v), 0) for v in
                    ("decrypted", "incomplete", "no_handshake", "no_key", "forward_secret",
                     "rsa_key_mismatch", "unsupported", "auth_failed", "lost")) == len(got),
                f"{name}: verdicts {dict(counts)} != counters {dec}")
        c.check(all((x["decrypt_records"] > 0) == (x["decrypt"] in ("decrypted", "lost"))
                    for x in conns), f"{name}: records decrypted {[x['decrypt_records'] for x in conns]}")
        c.check(all((x["decrypt_auth_failed"] > 0) == (x["decrypt"] == "auth_failed")
                    for x in conns), f"{name}: auth failures {[x['decrypt_auth_failed'] for x in conns]}")
        c.check(dec.get("auth_failed_records", 0) == sum(x["decrypt_auth_failed"] for x in conns),
                f"{name}: auth failures per connection != tls.decrypt.auth_failed_records")
        peers = d.get("tls_peers", [])
        c.check([p.get("decrypt") for p in peers] == [dict(counts)],
                f"{name}: pair's counts {[p.get('decrypt') for p in peers]} != {dict(counts)}")
        lines = [json.loads(x) for x in analyze(a.bin, pcap, args, "--json-lines").splitlines()]
        lconns = sorted((x for x in lines if x.get("type") == "tls_connection"),
                        key=lambda x: x["first"])
        c.check([x["decrypt"] for x in lconns] == want, f"{name}: --json-lines verdicts "
                f"{[x['decrypt'] for x in lconns]}")
        # stored: per connection and per pair, and served
        db = os.path.join(work, name + ".db")
        analyze(a.bin, pcap, [*args, "--db", db], "--quiet")
        h = sqlite3.connect(db)
        rows = h.execute("SELECT client_port, decrypt, decrypt_records, decrypt_auth_failed"
                         " FROM tls_conns ORDER BY ts").fetchall()
        pair = [json.loads(r[0] or "{}") for r in h.execute("SELECT decrypt FROM tls_peers")]
        h.close()
        c.check([(r[1], r[2], r[3]) for r in rows] ==
                [(x["decrypt"], x["decrypt_records"], x["decrypt_auth_failed"]) for x in conns],
                f"{name}: stored {rows} != --json's")
        c.check(pair == [dict(counts)], f"{name}: stored pair counts {pair}")
        if name not in ("rsa", "lost", "incomplete_mixed"):
            continue  # the API once for a clean and a mixed case
        with Serve(a.bin, db) as srv:
            api = srv.wait("/api/v1/tls/connections")
            tls = srv.get("/api/v1/tls")
            with urllib.request.urlopen(srv.base + "/metrics", timeout=10) as r:
                metrics = r.read().decode()
        ac = sorted((api or {}).get("connections", []), key=lambda x: x["first"])
        c.check([(x["decrypt"], x["decrypt_records"]) for x in ac] ==
                [(x["decrypt"], x["decrypt_records"]) for x in conns],
                f"{name}: /api/v1/tls/connections {ac}")
        c.check([p.get("decrypt") for p in tls.get("peers", [])] == [dict(counts)],
                f"{name}: /api/v1/tls decrypt {[p.get('decrypt') for p in tls.get('peers', [])]}")
        for v, n in counts.items():
            line = (f'trunkscope_tls_decrypt_connections_total{{client="10.0.0.1",'
                    f'server="{SERVER}",result="{v}"}} {n}')
            c.check(line in metrics, f"{name}: /metrics lacks {line}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
