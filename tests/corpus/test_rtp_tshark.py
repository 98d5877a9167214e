#!/usr/bin/env python3
"""RTP stream statistics against tshark 4.0 (`-o rtp.heuristic_rtp:TRUE -q -z
rtp,streams`) for every capture in ../shared/pcaps: the same streams (src,
sport, dst, dport, SSRC), the same packet and lost counts, and max delta,
mean delta, mean and max jitter within 0.01 ms. Disagreements that cannot be
removed are listed in KNOWN with their reason. Exit 77 (ctest: skipped) without tshark."""
import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from manifest import Checker

TOL_MS = 0.01

# (capture, (src, sport, dst, dport, ssrc) or None for the whole capture): reason
KNOWN = {
    ("heplify_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
     ("10.35.60.100", 15580, "10.23.1.52", 16756, 0x0EAF0EAF)):
        "tshark stops at frame 3141: an H.248/MEGACO SDP (frames 3146-3147) lists "
        "image/udptl on port 16756 last, so tshark decodes the RTP that follows as T.38",
}

CHECKS = Checker()
check = CHECKS.check


def norm_ip(s):
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return s


def parse_tshark(text):
    """Streams from the rtp,streams table: key -> dict."""
    out = {}
    for line in text.splitlines():
        tok = line.split()
        if len(tok) < 17 or not tok[6].startswith("0x"):
            continue
        problem = tok[-1] == "X"
        if problem:
            tok = tok[:-1]
        try:
            nums = [float(x) for x in tok[-6:]]
            pkts, lost = int(tok[-9]), int(tok[-8])
            key = (norm_ip(tok[2]), int(tok[3]), norm_ip(tok[4]), int(tok[5]), int(tok[6], 16))
        except ValueError:
            continue
        out[key] = {"packets": pkts, "lost": lost, "min_delta": nums[0], "mean_delta": nums[1],
                    "max_delta": nums[2], "min_jitter": nums[3], "mean_jitter": nums[4],
                    "max_jitter": nums[5], "problem": problem,
                    "payload": " ".join(tok[7:-9])}
    return out


def split_ep(s):
    if s.startswith("["):
        a, p = s[1:].split("]:")
    else:
        a, p = s.rsplit(":", 1)
    return norm_ip(a), int(p)


def parse_ours(text):
    rep = json.loads(text)
    if "streams" not in rep:
        return None
    out = {}
    for s in rep["streams"]:
        sa, sp = split_ep(s["src"])
        da, dp = split_ep(s["dst"])
        out[(sa, sp, da, dp, int(s["ssrc"], 16))] = s
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cmd", help="alternative command printing the JSON report ({} = capture)")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    tshark = shutil.which("tshark")
    if not tshark:
        print("skipped: tshark not installed")
        return 77
    os.makedirs(a.work, exist_ok=True)
    pdir = os.path.join(a.shared, "pcaps")
    names = sorted(n for n in os.listdir(pdir) if not n.endswith(".md"))
    total = exact = 0
    wired = False
    for name in names:
        path = os.path.join(pdir, name)
        ts = subprocess.run([tshark, "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z",
                             "rtp,streams"], capture_output=True, text=True)
        theirs = parse_tshark(ts.stdout)
        cmd = a.cmd.replace("{}", path).split() if a.cmd else [a.bin, "analyze", "--json", path]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode not in (0, 1) and not theirs:
            print(f"note: {name}: not readable by us (exit {r.returncode}), no tshark streams")
            continue
        if r.returncode not in (0, 1):
            check(False, f"{name}: exit {r.returncode}: {r.stderr.strip()[:200]}")
            continue
        try:
            ours = parse_ours(r.stdout)
        except (ValueError, KeyError) as e:
            check(False, f"{name}: bad JSON ({e})")
            continue
        if ours is None:
            continue
        wired = True
        if (name, None) in KNOWN:
            print(f"known: {name}: {KNOWN[(name, None)]}")
            continue
        for key, t in sorted(theirs.items()):
            total += 1
            why = KNOWN.get((name, key))
            if why:
                print(f"known: {name} {key}: {why}")
                continue
            o = ours.get(key)
            check(o is not None, f"{name}: tshark stream {key} ({t['payload']}) missing")
            if o is None:
                continue
            ok = True
            for f_ours, f_theirs in (("packets", "packets"), ("lost", "lost")):
                good = o[f_ours] == t[f_theirs]
                check(good, f"{name} {key}: {f_ours} {o[f_ours]} != tshark {t[f_theirs]}")
                ok &= good
            for f_ours, f_theirs in (("max_delta_ms", "max_delta"), ("mean_delta_ms", "mean_delta"),
                                     ("jitter_mean_ms", "mean_jitter"),
                                     ("jitter_max_ms", "max_jitter")):
                v = o[f_ours] if o[f_ours] is not None else -1.0
                good = abs(v - t[f_theirs]) <= TOL_MS
                check(good, f"{name} {key}: {f_ours} {v:.3f} != tshark {t[f_theirs]:.3f}")
                ok &= good
            exact += ok
            if a.v and ok:
                print(f"ok: {name} {key}")
        for key in sorted(set(ours) - set(theirs)):
            if KNOWN.get((name, key)):
                print(f"known: {name} {key}: {KNOWN[(name, key)]}")
                continue
            check(False, f"{name}: stream {key} not in tshark's list")
    if not wired:
        print("SKIP: the report has no streams[] (media analysis not wired in)")
    print(f"streams: {exact} of {total} tshark streams agree exactly")
    return CHECKS.done()


if __name__ == "__main__":
    sys.exit(main())
