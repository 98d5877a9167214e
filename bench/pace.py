#!/usr/bin/env python3
"""Write a pcap file to standard output at the rate it was captured (its
records' time stamps, times --speed), for a reader that should see live
traffic (bench/api_load.sh: analyze --db as a sensor's writer). Classic pcap
only (microsecond or nanosecond stamps, either byte order).
usage: pace.py FILE [--speed 1.0]"""
import argparse
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--speed", type=float, default=1.0)
    a = ap.parse_args()
    out = sys.stdout.buffer
    with open(a.file, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            sys.exit("pace: %s: not a pcap file" % a.file)
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            end = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            end = ">"
        else:
            sys.exit("pace: %s: not a classic pcap file" % a.file)
        frac = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
        rec = struct.Struct(end + "IIII")
        out.write(head)
        t_first = None
        wall0 = time.monotonic()
        chunk = []
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            sec, sub, incl, _ = rec.unpack(h)
            body = f.read(incl)
            if len(body) < incl:
                break
            t = sec + sub * frac
            if t_first is None:
                t_first = t
            due = (t - t_first) / a.speed
            lag = due - (time.monotonic() - wall0)
            if lag > 0.02:  # write what is due, then wait for this record's time
                out.write(b"".join(chunk))
                out.flush()
                chunk = []
                time.sleep(lag)
            chunk.append(h)
            chunk.append(body)
        out.write(b"".join(chunk))
        out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        pass
