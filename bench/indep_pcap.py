#!/usr/bin/env python3
"""An independent benchmark capture: SIP calls with G.711 RTP both ways,
written by this script alone (no code shared with trunkscope's generator,
gen/), so that the benchmark also measures traffic our generator did not
shape. UDP over IPv4 on Ethernet, classic pcap with microsecond stamps.

CALLS calls start evenly over the first RAMP seconds (from four PBXs,
10.20.0.2-5, to a carrier at 192.0.2.1, RFC 3261 INVITE / 100 / 180 / 200 /
ACK, SDP per RFC 4566 offering PCMU), ring 0.3-1.2 s, then send RTP (RFC
3550, 20 ms, 160 bytes) both ways until a BYE / 200 at their end; a call
lasts until the packet budget is reached, so with CALLS calls up the capture
is mostly the steady state with all of them up. Deterministic (seeded).
With --srtp HELPER, the SDP offers and answers SDES keys (RFC 4568,
AES_CM_128_HMAC_SHA1_80) and every RTP packet is protected by HELPER
(tests/helpers/srtp_protect: libsrtp2 itself, the reference sender).
usage: indep_pcap.py OUT.pcap [--calls 10000] [--packets 3000000] [--ramp 2]
                     [--srtp HELPER]"""
import argparse
import array
import base64
import heapq
import json
import os
import random
import struct
import subprocess

SRTP_KEY = bytes(range(7, 37))  # master key and salt, 30 bytes


class Protector:
    """RTP packets are written with room for their tag and kept aside; at
    the end the helper protects them all in one run (in capture order, as a
    sender would) and they are written over their places in the capture."""

    TAG = 10

    def __init__(self, helper, out):
        self.helper = helper
        self.plain = out + ".rtp"
        self.f = open(self.plain, "wb")
        self.offsets = array.array("Q")

    def room(self, pkt):
        return pkt + bytes(self.TAG)

    def keep(self, offset, pkt):
        self.offsets.append(offset)
        self.f.write(struct.pack("!H", len(pkt)) + pkt)

    def finish(self, pcap):
        self.f.close()
        with open(self.plain, "rb") as src, open(self.plain + ".srtp", "wb") as dst:
            if subprocess.run([self.helper, SRTP_KEY.hex()], stdin=src, stdout=dst).returncode != 0:
                raise SystemExit("indep_pcap: the SRTP helper failed")
        with open(self.plain + ".srtp", "rb") as src, open(pcap, "r+b") as dst:
            for off in self.offsets:
                n = struct.unpack("!H", src.read(2))[0]
                pkt = src.read(n)
                dst.seek(off)
                dst.write(pkt)
        os.remove(self.plain)
        os.remove(self.plain + ".srtp")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.n = 0
        self.pos = 24
        self.ident = 0
        self.last = 0

    def udp(self, t, src, sport, dst, dport, payload):
        self.ident = (self.ident + 1) & 0xFFFF
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), self.ident, 0, 64, 17, 0,
                          ip4(src), ip4(dst))
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + hdr + udp
        us = max(self.last, int(round(t * 1e6)))  # time never goes back in a file
        self.last = us
        self.f.write(struct.pack("<IIII", us // 1000000, us % 1000000, len(frame), len(frame)) + frame)
        self.n += 1
        at = self.pos + 16 + 14 + 20 + 8  # where the UDP payload landed
        self.pos += 16 + len(frame)
        return at

    def close(self):
        self.f.close()


CARRIER = "192.0.2.1"


def sip(first, call, cseq, method, body=b"", to_tag=True):
    c = call
    lines = [first,
             "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK%x%s" % (c["ip"], c["id"], method.lower()),
             "From: <sip:%s@%s>;tag=f%x" % (c["from"], c["ip"], c["id"]),
             "To: <sip:%s@%s>%s" % (c["to"], CARRIER, (";tag=t%x" % c["id"]) if to_tag else ""),
             "Call-ID: %x-%d@indep.example" % (c["id"] * 2654435761 % 2 ** 32, c["id"]),
             "CSeq: %d %s" % (cseq, method),
             "Contact: <sip:%s@%s:5060>" % (c["from"], c["ip"]),
             "Max-Forwards: 70",
             "User-Agent: indep-bench/1",
             "Content-Type: application/sdp" if body else None,
             "Content-Length: %d" % len(body)]
    return ("\r\n".join(x for x in lines if x) + "\r\n\r\n").encode() + body


def sdp(ip, port, sid, srtp=False):
    crypto = ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % base64.b64encode(SRTP_KEY).decode()
              if srtp else "")
    return ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/%s 0 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n%s"
            % (sid, ip, ip, port, "SAVP" if srtp else "AVP", crypto)).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--packets", type=int, default=3000000)
    ap.add_argument("--ramp", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=25)
    ap.add_argument("--srtp", metavar="HELPER")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    prot = Protector(a.srtp, a.out) if a.srtp else None
    srtp = prot is not None

    def rtp(t, src, sport, dst, dport, pkt):
        at = w.udp(t, src, sport, dst, dport, prot.room(pkt) if prot else pkt)
        if prot:
            prot.keep(at, pkt)
    w = Writer(a.out)
    t0 = 1750000000.0
    # events: (time, seq, kind, call); RTP is emitted per 20-ms tick for
    # every answered call, both ways
    ev = []
    seq = 0
    calls = []
    for i in range(a.calls):
        c = {"id": i + 1, "ip": "10.20.0.%d" % (2 + i % 4), "from": "+4930%07d" % (1000000 + i),
             "to": "+4989%07d" % rnd.randrange(10 ** 7), "port": 20000 + 2 * (i // 4 % 20000),
             "cport": 30000 + 2 * (i % 15000), "ssrc": rnd.getrandbits(32), "cssrc": rnd.getrandbits(32),
             "seq": rnd.randrange(65536), "cseq": rnd.randrange(65536), "ts": rnd.getrandbits(32),
             "cts": rnd.getrandbits(32), "up": False, "done": False}
        start = t0 + a.ramp * i / a.calls
        ring = rnd.uniform(0.3, 1.2)
        calls.append(c)
        heapq.heappush(ev, (start, seq, "invite", i))
        seq += 1
        heapq.heappush(ev, (start + 0.002, seq, "trying", i))
        seq += 1
        heapq.heappush(ev, (start + 0.05, seq, "ringing", i))
        seq += 1
        heapq.heappush(ev, (start + ring, seq, "answer", i))
        seq += 1
    signalling = a.calls * 9
    rtp_budget = max(0, a.packets - signalling)
    # every answered call sends 100 packets a second: the end time that spends the budget
    tick = 0.02
    t = t0
    up = []
    spent = 0
    ending = False
    while ev or up:
        nxt = ev[0][0] if ev else None
        if up and not ending and (nxt is None or t < nxt):
            for i in up:
                c = calls[i]
                c["seq"] = (c["seq"] + 1) & 0xFFFF
                c["ts"] = (c["ts"] + 160) & 0xFFFFFFFF
                rtp(t + (i % 97) * 1e-4, c["ip"], c["port"], CARRIER, c["cport"],
                    struct.pack("!BBHII", 0x80, 0, c["seq"], c["ts"], c["ssrc"]) + bytes([0xFF]) * 160)
                c["cseq"] = (c["cseq"] + 1) & 0xFFFF
                c["cts"] = (c["cts"] + 160) & 0xFFFFFFFF
                rtp(t + (i % 89) * 1e-4 + 5e-5, CARRIER, c["cport"], c["ip"], c["port"],
                    struct.pack("!BBHII", 0x80, 0, c["cseq"], c["cts"], c["cssrc"]) + bytes([0x7F]) * 160)
                spent += 2
            t += tick
            if spent >= rtp_budget and not ending:
                ending = True
                for k, i in enumerate(up):  # hang up over 0.5 s
                    heapq.heappush(ev, (t + 0.5 * k / max(1, len(up)), seq, "bye", i))
                    seq += 1
                up = []
            continue
        if not ev:
            break
        te, _, kind, i = heapq.heappop(ev)
        t = max(t, te)
        c = calls[i]
        if kind == "invite":
            w.udp(te, c["ip"], 5060, CARRIER, 5060,
                  sip("INVITE sip:%s@%s SIP/2.0" % (c["to"], CARRIER), c, 1, "INVITE",
                      sdp(c["ip"], c["port"], c["id"], srtp), to_tag=False))
        elif kind == "trying":
            w.udp(te, CARRIER, 5060, c["ip"], 5060, sip("SIP/2.0 100 Trying", c, 1, "INVITE", to_tag=False))
        elif kind == "ringing":
            w.udp(te, CARRIER, 5060, c["ip"], 5060, sip("SIP/2.0 180 Ringing", c, 1, "INVITE"))
        elif kind == "answer":
            w.udp(te, CARRIER, 5060, c["ip"], 5060,
                  sip("SIP/2.0 200 OK", c, 1, "INVITE", sdp(CARRIER, c["cport"], c["id"] + 7, srtp)))
            w.udp(te + 0.001, c["ip"], 5060, CARRIER, 5060,
                  sip("ACK sip:%s@%s SIP/2.0" % (c["to"], CARRIER), c, 1, "ACK"))
            if ending:
                heapq.heappush(ev, (te + 0.5, seq, "bye", i))
                seq += 1
            else:
                up.append(i)
        elif kind == "bye":
            w.udp(te, c["ip"], 5060, CARRIER, 5060, sip("BYE sip:%s@%s SIP/2.0" % (c["to"], CARRIER), c, 2, "BYE"))
            w.udp(te + 0.003, CARRIER, 5060, c["ip"], 5060, sip("SIP/2.0 200 OK", c, 2, "BYE"))
    w.close()
    if prot:
        prot.finish(a.out)
    with open(a.out.rsplit(".", 1)[0] + ".truth.json", "w") as f:  # what bench/run.sh reads
        json.dump({"totals": {"total_packets": w.n}, "peak": a.calls, "generator": "bench/indep_pcap.py",
                   "srtp": srtp}, f)
    print("indep_pcap: %s: %d packets, %d calls" % (a.out, w.n, a.calls))


if __name__ == "__main__":
    main()
