#!/usr/bin/env python3
"""MOS and media flags on the public captures in ../shared/pcaps, checked
against tshark 4.0's view of the same packets:
- every G.711 stream of 50 packets or more that tshark reports without loss
  and with a mean jitter under 20 ms scores MOS >= 4.0 (a clean stream is
  not scored as a broken one by the de-jitter model). The FAX capture's
  PCMA stream from the media gateway (a timestamp jump, then marked
  talkspurts) scored 1.0 with a buffer that never re-synchronised and must
  be among the streams checked;
- a stream under MOS 3.5 says why (`mos_reason`), one at 3.5 or above
  carries no reason;
- `rtp_after_bye` only on a stream that tshark sees sending more than 1 s
  after a BYE of the capture (not on legs challenged 401/407 or answered
  legs whose BYE was not captured).
Exit 77 (skipped) without tshark."""
import argparse
import os
import shutil
import subprocess
import sys

from test_rtp_tshark import parse_ours, parse_tshark
from manifest import Checker

RESYNC_CASE = ("heplify_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
               ("10.23.1.52", 16756, "10.35.60.100", 15580, 0x17D90134))

CHECKS = Checker()
check = CHECKS.check


def tshark_times(tshark, path):
    """BYE times, and the last RTP time per SSRC, in seconds from the start."""
    r = subprocess.run([tshark, "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-Y",
                        'sip.Method == "BYE" || rtp', "-T", "fields", "-e", "frame.time_relative",
                        "-e", "sip.Method", "-e", "rtp.ssrc"], capture_output=True, text=True)
    byes, last = [], {}
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 3:
            continue
        t = float(f[0])
        if f[1] == "BYE":
            byes.append(t)
        for s in f[2].split(","):
            if s:
                last[int(s, 16)] = t
    return byes, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    tshark = shutil.which("tshark")
    if not tshark:
        print("SKIP: tshark not installed")
        return 77
    pdir = os.path.join(a.shared, "pcaps")
    checked = set()
    for name in sorted(n for n in os.listdir(pdir) if not n.endswith(".md")):
        path = os.path.join(pdir, name)
        r = subprocess.run([a.bin, "analyze", "--json", path], capture_output=True, text=True)
        if r.returncode not in (0, 1):
            continue
        ours = parse_ours(r.stdout) or {}
        if not ours:
            continue
        ts = subprocess.run([tshark, "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z",
                             "rtp,streams"], capture_output=True, text=True)
        theirs = parse_tshark(ts.stdout)
        for key, o in sorted(ours.items()):
            t = theirs.get(key)
            if (t and o["codec"] and o["codec"].upper() in ("PCMU", "PCMA")
                    and t["packets"] >= 50 and t["lost"] == 0 and t["mean_jitter"] < 20):
                checked.add((name, key))
                check(o["mos"] is not None and o["mos"] >= 4.0,
                      f"{name} {key}: loss-free G.711 (mean jitter {t['mean_jitter']:.1f} ms) "
                      f"scores MOS {o['mos']} (jb_discarded {o.get('jb_discarded')})")
        for key, o in sorted(ours.items()):
            if o["mos"] is None:
                continue
            poor = o["mos"] < 3.5
            check(poor == (o.get("mos_reason") is not None),
                  f"{name} {key}: MOS {o['mos']:.2f} with reason {o.get('mos_reason')}")
        byes, last = tshark_times(tshark, path)
        for key, o in sorted(ours.items()):
            if not o["flags"].get("rtp_after_bye"):
                continue
            end = last.get(key[4])
            check(end is not None and any(end > b + 1.0 for b in byes),
                  f"{name} {key}: rtp_after_bye, but tshark sees its last packet at {end} "
                  f"and BYEs at {byes}")
    check(RESYNC_CASE in checked, f"{RESYNC_CASE} not among the loss-free G.711 streams")
    print(f"{len(checked)} loss-free G.711 streams checked")
    return CHECKS.done()


if __name__ == "__main__":
    sys.exit(main())
