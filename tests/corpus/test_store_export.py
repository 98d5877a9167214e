"""Per-call export and idempotent re-analysis: a generated capture is analysed
into a database (twice: no call is duplicated), a few calls are exported, and
tshark must find in each exported file exactly the SIP messages of that
call's legs (compared with tshark on the original filtered by their
Call-IDs) and every RTP/RTCP frame of the legs' SDP endpoints in the call's
time range, in time order."""
import argparse
import os
import sqlite3
import subprocess
import sys
from manifest import Checker


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--shared", required=True)
    p.add_argument("--work", required=True)
    return p.parse_args()


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def tools(bin_path):
    """The analyze/export commands: trunkscope's own once it has --db and
    export, else the store test helper (same store code, UDP SIP only)."""
    a = run([bin_path, "analyze", "--help"])
    e = run([bin_path, "export", "--help"])
    if "--db" in a.stdout + a.stderr and e.returncode == 0:
        return ("trunkscope",
                lambda db, pcap: [bin_path, "analyze", "--db", db, pcap],
                lambda db, cid, out: [bin_path, "export", "--db", db, "--call", str(cid), "-o", out])
    helper = os.path.join(os.path.dirname(bin_path), "tests", "test_store")
    return ("test_store helper",
            lambda db, pcap: [helper, "--analyze", db, pcap],
            lambda db, cid, out: [helper, "--export", db, str(cid), out])


def tshark(pcap, flt, fields):
    cmd = ["tshark", "-r", pcap, "-o", "rtp.heuristic_rtp:TRUE", "-Y", flt, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError(f"tshark failed: {r.stderr.strip()[:300]}")
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def media_filter(legs, lo_s, hi_s):
    eps = set()
    for (_cid, a1, p1, a2, p2) in legs:
        for a, p in ((a1, p1), (a2, p2)):
            if a and p:
                eps.add((a, p))
                eps.add((a, p + 1))
    if not eps:
        return None
    parts = []
    for a, p in sorted(eps):
        fam = "ipv6" if ":" in a else "ip"
        parts.append(f"({fam}.src=={a} && udp.srcport=={p})")
        parts.append(f"({fam}.dst=={a} && udp.dstport=={p})")
    return (f"udp && !sip && frame.time_epoch >= {lo_s:.9f} && frame.time_epoch <= {hi_s:.9f}"
            f" && ({' || '.join(parts)})")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    if run(["which", "tshark"]).returncode != 0:
        print("tshark not installed")
        return 1
    name, analyze, export = tools(a.bin)
    print("using", name)
    pcap = os.path.join(a.work, "export.pcap")
    db = os.path.join(a.work, "export.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.unlink(f)
    r = run([a.bin, "gen", "-o", pcap, "--calls", "60", "--seed", "11", "--cps", "2",
             "--duration-mean", "8"])
    c.check(r.returncode == 0, f"gen failed: {r.stderr.strip()[:300]}")
    if r.returncode != 0:
        return 1

    r = run(analyze(db, pcap))
    c.check(r.returncode == 0, f"analyze --db failed: {r.stderr.strip()[:300]}")
    con = sqlite3.connect(db)
    n1 = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    m1 = con.execute("SELECT count(*) FROM sip_messages").fetchone()[0]
    con.close()
    c.check(n1 > 0 and m1 > 0, f"nothing stored: {n1} calls, {m1} messages")

    # Re-analysis replaces the capture's rows: same counts, one capture row.
    r = run(analyze(db, pcap))
    c.check(r.returncode == 0, f"second analyze failed: {r.stderr.strip()[:300]}")
    con = sqlite3.connect(db)
    n2 = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    m2 = con.execute("SELECT count(*) FROM sip_messages").fetchone()[0]
    caps = con.execute("SELECT count(*) FROM captures").fetchone()[0]
    c.check((n2, m2, caps) == (n1, m1, 1),
            f"re-analysis duplicated: calls {n1}->{n2}, messages {m1}->{m2}, captures {caps}")

    # A multi-leg answered call, a failed one and the first call.
    picks = []
    for sql in ("SELECT id FROM calls WHERE legs > 1 AND outcome='answered' ORDER BY id LIMIT 1",
                "SELECT id FROM calls WHERE outcome != 'answered' ORDER BY id LIMIT 1",
                "SELECT id FROM calls ORDER BY start LIMIT 1"):
        row = con.execute(sql).fetchone()
        if row and row[0] not in picks:
            picks.append(row[0])
    c.check(len(picks) >= 2, f"expected calls to export, got {picks}")

    for cid in picks:
        start, end = con.execute("SELECT start, end FROM calls WHERE id=?", (cid,)).fetchone()
        legs = con.execute("SELECT call_id, caller_media_addr, caller_media_port, "
                           "callee_media_addr, callee_media_port FROM legs WHERE call_ref=?",
                           (cid,)).fetchall()
        out = os.path.join(a.work, f"call{cid}.pcap")
        r = run(export(db, cid, out))
        c.check(r.returncode == 0, f"export {cid} failed: {r.stderr.strip()[:300]}")
        if r.returncode != 0:
            continue
        got = sorted(x[0] for x in tshark(out, "sip", ["sip.Call-ID"]))
        flt = " || ".join(f'sip.Call-ID == "{l[0]}"' for l in legs)
        want = sorted(x[0] for x in tshark(pcap, flt, ["sip.Call-ID"]))
        c.check(got == want and len(got) > 0,
                f"call {cid}: exported SIP {len(got)} messages != original {len(want)}"
                f" ({sorted(set(got))} vs {sorted(set(want))})")
        c.check(set(got) == {l[0] for l in legs},
                f"call {cid}: Call-IDs {sorted(set(got))} != legs {[l[0] for l in legs]}")
        times = [float(x[0]) for x in tshark(out, "frame", ["frame.time_epoch"])]
        c.check(times == sorted(times), f"call {cid}: frames not in time order")
        mf = media_filter(legs, start / 1e9 - 1.0,
                          (end / 1e9 + 5.0) if end is not None else 4e9)
        if mf:
            want_media = len(tshark(pcap, mf, ["frame.number"]))
            got_media = len(tshark(out, "udp && !sip", ["frame.number"]))
            answered = con.execute("SELECT outcome FROM calls WHERE id=?",
                                   (cid,)).fetchone()[0] == "answered"
            c.check(got_media == want_media,
                    f"call {cid}: media frames exported {got_media} != original {want_media}")
            c.check(want_media > 0 or not answered, f"call {cid}: answered but no media")
            rtp = tshark(out, "rtp", ["rtp.ssrc"])
            print(f"call {cid}: {len(legs)} legs, {len(got)} SIP, {got_media} media frames, "
                  f"{len(set(x[0] for x in rtp))} RTP streams")
        else:
            print(f"call {cid}: {len(legs)} legs, {len(got)} SIP, no media endpoints")

    # -o -: the same pcap on standard output, the summary on stderr.
    if picks and name == "trunkscope":
        out = os.path.join(a.work, f"call{picks[0]}.pcap")
        p = subprocess.run(export(db, picks[0], "-"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        same = os.path.exists(out) and open(out, "rb").read() == p.stdout
        c.check(p.returncode == 0 and same and b"standard output" in p.stderr,
                f"export -o -: rc={p.returncode}, same bytes as the file: {same}, "
                f"stderr {p.stderr[:200]!r}")

    # Unknown call: one line, exit 2.
    r = run(export(db, 999999999, os.path.join(a.work, "none.pcap")))
    c.check(r.returncode == 2 and r.stderr.strip().count("\n") == 0,
            f"unknown call: rc={r.returncode} err={r.stderr!r}")
    con.close()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
