#!/usr/bin/env python3
"""Extracts fuzz seed corpora from ../shared (never copied into the repo):
  sip:    every RFC 4475 torture message, and every SIP message found in the
          frames of ../shared/pcaps (from its start line to the frame's end);
  packet: the frames of each capture as [u8 linktype selector][u16 len][bytes]
          records, at most 64 frames per seed;
  sipframe: [u32 chunking seed] + up to 8 of a capture's SIP messages in a row;
  sdp:    the SDP bodies of those SIP messages;
  pcap:   each capture file cut after its last whole record before 16 KB;
  media:  UDP payloads (from offset 42 of Ethernet/IPv4/UDP frames) that look
          like RTP or RTCP, at most 40 per capture.
With --replay BIN, runs BIN over the seeds and any extra directories."""
import argparse
import os
import re
import struct
import subprocess
import sys

LINKTYPES = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108]  # same order as fuzz_packet.c


def read_frames(path):
    """Yields (linktype, frame bytes) from a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xffff
        off = 24
        while off + 16 <= len(data):
            _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            yield lt, data[off:off + incl]
            off += incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        off = 0
        e = "<"
        ifaces = []
        while off + 12 <= len(data):
            btype = struct.unpack(e + "I", data[off:off + 4])[0]
            if btype == 0x0A0D0D0A:
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            if blen < 12:
                return
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                ifaces.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
                lt = ifaces[iface] if iface < len(ifaces) else 1
                yield lt, body[20:20 + cap]
            elif btype == 3 and len(body) >= 4:
                lt = ifaces[0] if ifaces else 1
                yield lt, body[4:]
            off += blen


def file_head(path, limit=16384):
    """The capture file up to its last whole record/block within limit bytes."""
    with open(path, "rb") as f:
        data = f.read()
    magic, end = data[:4], min(len(data), 24)
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        off = 24
        while off + 16 <= len(data):
            nxt = off + 16 + struct.unpack(e + "I", data[off + 8:off + 12])[0]
            if nxt > min(len(data), limit):
                break
            off = end = nxt
    elif magic == b"\x0a\x0d\x0d\x0a" and len(data) >= 12:
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off = end = 0
        while off + 12 <= len(data):
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            if blen < 12 or off + blen > min(len(data), limit):
                break
            off = end = off + blen
    return data[:max(end, min(len(data), 64))]


def sip_frames(pcaps, names, per_file):
    """Yields (capture name, index, SIP bytes from a start line to the frame's end)."""
    for name in names:
        k = 0
        for _, frame in read_frames(os.path.join(pcaps, name)):
            m = START.search(frame)
            if not m or k >= per_file:
                continue
            yield name, k, frame[m.start(1):]
            k += 1


# unanchored: a start line follows the UDP/TCP header, not a newline
START = re.compile(rb"([A-Z]{3,12} [^ \r\n]+ SIP/2\.0\r?\n|SIP/2\.0 \d{3} )")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", required=True, choices=["sip", "packet", "sipframe", "sdp", "pcap", "media"])
    ap.add_argument("--replay")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    out = os.path.join(a.out, a.target)
    os.makedirs(out, exist_ok=True)
    n = 0
    pcaps = os.path.join(a.shared, "pcaps")
    names = sorted(x for x in os.listdir(pcaps) if not x.endswith(".md")) if os.path.isdir(pcaps) else []
    if a.target == "sip":
        tdir = os.path.join(a.shared, "sip-torture")
        for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
            if name.endswith(".dat"):
                with open(os.path.join(tdir, name), "rb") as f, \
                        open(os.path.join(out, "torture-" + name), "wb") as g:
                    g.write(f.read())
                n += 1
        for name in names:
            k = 0
            for _, frame in read_frames(os.path.join(pcaps, name)):
                m = START.search(frame)
                if not m or k >= 40:
                    continue
                with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                    g.write(frame[m.start(1):])
                k += 1
                n += 1
    elif a.target == "sipframe":
        stream, k, prev = [], 0, None
        for name, i, msg in sip_frames(pcaps, names, 40):
            if prev is not None and (name != prev or len(stream) == 8):
                with open(os.path.join(out, f"{prev}-{k}"), "wb") as g:
                    g.write(struct.pack(">I", (k * 0x9E3779B1 + 1) & 0xFFFFFFFF) + b"".join(stream))
                stream, k, n = [], k + 1, n + 1
            stream.append(msg)
            prev = name
        if stream:
            with open(os.path.join(out, f"{prev}-{k}"), "wb") as g:
                g.write(struct.pack(">I", 1) + b"".join(stream))
            n += 1
    elif a.target == "sdp":
        seen = set()
        for name, i, msg in sip_frames(pcaps, names, 200):
            body = re.split(rb"\r?\n\r?\n", msg, maxsplit=1)
            if len(body) == 2 and body[1].startswith(b"v=") and body[1] not in seen:
                seen.add(body[1])
                with open(os.path.join(out, f"{name}-{i}"), "wb") as g:
                    g.write(body[1])
                n += 1
    elif a.target == "media":
        for name in names:
            k = 0
            for lt, frame in read_frames(os.path.join(pcaps, name)):
                if k >= 40:
                    break
                if (lt != 1 or len(frame) < 43 or frame[12:14] != b"\x08\x00"
                        or frame[14] != 0x45 or frame[23] != 17 or frame[42] >> 6 != 2):
                    continue
                with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                    g.write(frame[42:])
                k += 1
                n += 1
    elif a.target == "pcap":
        for name in names:
            with open(os.path.join(out, name), "wb") as g:
                g.write(file_head(os.path.join(pcaps, name)))
            n += 1
    else:
        for name in names:
            recs, k = [], 0
            for lt, frame in read_frames(os.path.join(pcaps, name)):
                sel = LINKTYPES.index(lt) if lt in LINKTYPES else 0
                recs.append(struct.pack(">BH", sel, min(len(frame), 65535)) + frame[:65535])
                if len(recs) == 64:
                    with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                        g.write(b"".join(recs))
                    recs, k, n = [], k + 1, n + 1
                if k >= 20:
                    break
            if recs:
                with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                    g.write(b"".join(recs))
                n += 1
    print(f"{n} seeds for {a.target} in {out}")
    if a.replay:
        dirs = [out] + [d for d in a.extra if os.path.isdir(d) and os.listdir(d)]
        return subprocess.run([a.replay, *dirs]).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
