#!/usr/bin/env python3
"""Cross-checks `trunkscope gen` against tshark: no malformed packets or
expert errors, SIP message and Call-ID counts, and every RTP stream
(SSRC + 5-tuple) with its packet and loss counts equal the truth file."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROW = re.compile(r'^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+.*?\s(\d+)\s+(-?\d+)\s+\(')


def tshark(args):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit("tshark failed: %s" % r.stderr.strip()[:500])
    return r.stdout


def addr(s):
    """'[2001:db8::1]:5060' or '10.0.0.1:5060' -> (ip, port)."""
    host, port = s.rsplit(":", 1)
    return host.strip("[]"), int(port)


def generate(bin_, work, name, extra):
    pcap = os.path.join(work, name + ".pcap")
    r = subprocess.run([bin_, "gen", "-o", pcap] + extra, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit("gen failed (%d): %s" % (r.returncode, r.stderr.strip()))
    with open(os.path.join(work, name + ".truth.json")) as f:
        return pcap, json.load(f)


def check(pcap, truth, exact, failures):
    tag = os.path.basename(pcap)
    tot = truth["totals"]

    def fail(msg):
        failures.append("%s: %s" % (tag, msg))

    nframes = len(tshark(["-r", pcap, "-T", "fields", "-e", "frame.number"]).split())
    if nframes != tot["frames"]:
        fail("frames %d != truth %d" % (nframes, tot["frames"]))
    verbose = tshark(["-r", pcap, "-V"])
    mal = sum(1 for line in verbose.splitlines() if "malformed" in line.lower())
    if mal:
        fail("%d malformed lines" % mal)
    experr = tshark(["-r", pcap, "-q", "-z", "expert,error"])
    if re.search(r"^\s*Errors\s*\(\d+\)", experr, re.M) or "Malformed" in experr:
        fail("expert errors:\n" + experr[:800])
    if not exact:
        return
    nsip = len(tshark(["-r", pcap, "-Y", "sip", "-T", "fields", "-e", "frame.number"]).split())
    if nsip != tot["sip_messages"]:
        fail("SIP frames %d != truth %d" % (nsip, tot["sip_messages"]))
    cids = set(tshark(["-r", pcap, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"]).split())
    if len(cids) != tot["call_ids"]:
        fail("Call-IDs %d != truth %d" % (len(cids), tot["call_ids"]))
    out = tshark(["-r", pcap, "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams"])
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            key = (m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5), 16))
            rows[key] = (int(m.group(6)), int(m.group(7)))
    if len(rows) != tot["rtp_streams"]:
        fail("rtp streams %d != truth %d" % (len(rows), tot["rtp_streams"]))
    seen = 0
    for call in truth["calls"]:
        for st in call["streams"]:
            sip, sport = addr(st["src"])
            dip, dport = addr(st["dst"])
            for seg in st["ssrcs"]:
                key = (sip, sport, dip, dport, seg["ssrc"])
                if key not in rows:
                    fail("call %d stream %s missing in tshark" % (call["id"], key))
                    continue
                seen += 1
                pk, lost = rows[key]
                # tshark counts duplicates as received: its loss is ours minus them
                if pk != seg["packets"] or lost != seg["lost"] - seg["duplicates"]:
                    fail("call %d ssrc %#x: tshark %d pkts %d lost, truth %d pkts %d lost %d dups (%s)"
                         % (call["id"], seg["ssrc"], pk, lost, seg["packets"], seg["lost"],
                            seg["duplicates"], st["impairment"]))
    if seen != len(rows):
        fail("%d tshark streams not in truth" % (len(rows) - seen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    if shutil.which("tshark") is None:
        print("skipped: tshark not installed")
        return 77
    os.makedirs(a.work, exist_ok=True)
    every = "answered=3,hold=2,early=2,refer=2,busy=2,rejected=2,cancelled=2,failed=2,timeout=2"
    runs = [
        ("mixed", ["--calls", "60", "--seed", "7", "--transport", "mix", "--ipv6", "--vlan", "100",
                   "--branch", "--gateway", "--itsps", "3", "--duration-mean", "8", "--mix", every,
                   "--impair", "0.8", "--retrans", "0.2", "--twin-rate", "0.1"], True),
        ("udp", ["--calls", "40", "--seed", "3", "--duration-mean", "10", "--mix", every,
                 "--impair", "0.8", "--srtp", "0.2", "--bypass", "0.3"], True),
        ("tcp", ["--calls", "30", "--seed", "5", "--transport", "tcp", "--branch",
                 "--duration-mean", "6", "--mix", every], True),
        # SPAN copies double frames on purpose: only validity and frame totals
        ("span", ["--calls", "20", "--seed", "9", "--dup-rate", "0.3", "--vlan", "10",
                  "--transport", "mix", "--duration-mean", "5"], False),
    ]
    failures = []
    for name, extra, exact in runs:
        pcap, truth = generate(a.bin, a.work, name, extra)
        outs = truth["totals"]["outcomes"]
        # in_progress and pending only come from a capture cut short
        planned = [k for k in outs if k not in ("in_progress", "pending")]
        if exact and name == "mixed" and not all(outs[k] > 0 for k in planned):
            failures.append("mixed: not every outcome produced: %s" % outs)
        check(pcap, truth, exact, failures)
        print("%s: %d frames checked" % (name, truth["totals"]["frames"]))
    # strict option parsing: unknown option and bad value exit 2
    for bad in (["--bogus"], ["--calls", "x"], ["--mix", "answered=1,nope=2"], ["--vlan", "5000"]):
        r = subprocess.run([a.bin, "gen", "-o", os.path.join(a.work, "x.pcap")] + bad,
                           capture_output=True, text=True)
        if r.returncode != 2 or len(r.stderr.strip().splitlines()) != 1:
            failures.append("option %s: rc %d stderr %r" % (bad, r.returncode, r.stderr))
    for f in failures:
        print("FAIL:", f)
    print("OK" if not failures else "%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
