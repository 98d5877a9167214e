"""Capture times outside the range the store can hold: a pcapng (64-bit
timestamps, microsecond resolution) with the frames of a generated call and
one extra copy of its INVITE dated in the year 2300. The late frame is
counted as bad_timestamp and left out; the call is the same as without it."""
import json
import os
import struct
import subprocess
import sys

from manifest import Checker, parse_args
from test_hep_collect import iter_pcap


def block(btype, body):
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad
    return struct.pack("<II", btype, n) + body + b"\0" * pad + struct.pack("<I", n)


def pcapng(frames, linktype):
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", linktype, 0, 262144))  # default: microseconds
    out = shb + idb
    for ts_us, data in frames:
        out += block(6, struct.pack("<IIIII", 0, ts_us >> 32, ts_us & 0xFFFFFFFF, len(data),
                                     len(data)) + data)
    return out


def run(binary, path):
    p = subprocess.run([binary, "analyze", "--json", path], capture_output=True, timeout=120)
    return p.returncode, json.loads(p.stdout or b"{}")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap = os.path.join(a.work, "g.pcap")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "3", "--seed", "5"],
                   capture_output=True, check=True, timeout=120)
    frames = [(ts // 1000, data) for ts, lt, data, _ in iter_pcap(pcap)]
    lt = next(iter_pcap(pcap))[1]
    invite = next(d for _, d in frames if b"INVITE sip:" in d)
    y2300_us = (2300 - 1970) * 31556952 * 10**6
    good, bad = os.path.join(a.work, "good.pcapng"), os.path.join(a.work, "late.pcapng")
    with open(good, "wb") as f:
        f.write(pcapng(frames, lt))
    with open(bad, "wb") as f:
        f.write(pcapng(frames[:5] + [(y2300_us, invite)] + frames[5:], lt))
    rc1, d1 = run(a.bin, good)
    rc2, d2 = run(a.bin, bad)
    c.check(rc1 == 0 and rc2 == 0, f"analyze exit codes {rc1}, {rc2}")
    c.check(d2.get("packets") == len(frames) + 1, f"{d2.get('packets')} packets read")
    c.check(d2.get("bad_timestamp") == 1 and "bad_timestamp" not in d1,
            f"bad_timestamp {d2.get('bad_timestamp')} (and {d1.get('bad_timestamp')} without it)")
    def calls(d):
        return sorted((x["outcome"], x.get("duration_ms"), x.get("pdd_ms")) for x in d.get("calls", []))
    c.check(calls(d1) and calls(d1) == calls(d2), f"calls differ: {calls(d1)} vs {calls(d2)}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
