#!/usr/bin/env python3
"""Writes a capture of SIP over TLS made by real TLS (Python's ssl module,
that is OpenSSL, over memory BIOs: no network, no root) with its NSS key log,
and the same SIP over plain TCP, for the TLS decryption benchmark and quick
checks: CONNS connections of CALLS calls each (INVITE, 100, 180, 200 with
SDP, ACK, BYE, 200: 7 messages a call), TCP segments of at most 1448 bytes
with a three-way handshake and FINs, timestamps 1 ms apart.

Usage: tls_capture.py OUT_PREFIX [--conns N] [--calls N] [--tls12 CIPHERS | --tls13]
                      [--cert-days N] [--start EPOCH_S]
(--cert-days: the server certificate's validity, 2 by default; --start: the
capture's first timestamp, 1700000000 by default.)
Writes OUT_PREFIX-tls.pcap, OUT_PREFIX-tls.keys, OUT_PREFIX-server.pem (the
server's RSA key), OUT_PREFIX-tcp.pcap and prints the number of SIP messages."""
import argparse
import os
import ssl
import struct
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import tlsmem  # noqa: E402  (tests/tlsmem.py)


class Pcap:
    def __init__(self, path, start=1700000000.0):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        self.t = start

    def frame(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                          5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                         bytes(src), bytes(dst)) + tcp
        eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip
        self.t += 0.001
        sec = int(self.t)
        self.f.write(struct.pack("<IIII", sec, int((self.t - sec) * 1e6), len(eth), len(eth)) + eth)

    def close(self):
        self.f.close()


class Conn:
    """A TCP connection in the capture: data of each side, segmented."""

    def __init__(self, pcap, k):
        self.p = pcap
        self.a = [(10, 0, 0, 1), (10, 0, 0, 2)]
        self.port = [40000 + k, 5061]
        self.seq = [1000 + k, 90000 + k]
        self.p.frame(self.a[0], self.a[1], self.port[0], self.port[1], self.seq[0], 0, 0x02)
        self.p.frame(self.a[1], self.a[0], self.port[1], self.port[0], self.seq[1], self.seq[0] + 1, 0x12)
        self.seq = [self.seq[0] + 1, self.seq[1] + 1]
        self.p.frame(self.a[0], self.a[1], self.port[0], self.port[1], self.seq[0], self.seq[1], 0x10)

    def send(self, d, data):
        for i in range(0, len(data), 1448):
            seg = data[i:i + 1448]
            self.p.frame(self.a[d], self.a[1 - d], self.port[d], self.port[1 - d], self.seq[d],
                         self.seq[1 - d], 0x18, seg)
            self.seq[d] += len(seg)

    def close(self):
        for d in (0, 1):
            self.p.frame(self.a[d], self.a[1 - d], self.port[d], self.port[1 - d], self.seq[d],
                         self.seq[1 - d], 0x11)
            self.seq[d] += 1


def call_msgs(n):
    cid = uuid.uuid4().hex + "@bench"
    via = "Via: SIP/2.0/TLS 10.0.0.1:%d;branch=z9hG4bK%s\r\n"
    fr = "From: <sip:caller@10.0.0.1>;tag=a%d\r\n" % n
    to = "To: <sip:callee%d@10.0.0.2>" % n
    sdp = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
           b"m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

    def req(m, cseq, br, body=b"", tag=""):
        h = (f"{m} sip:callee{n}@10.0.0.2 SIP/2.0\r\n" + via % (40000, br) + "Max-Forwards: 70\r\n" + fr +
             to + tag + f"\r\nCall-ID: {cid}\r\nCSeq: {cseq} {m}\r\nContact: <sip:caller@10.0.0.1;transport=tls>\r\n" +
             ("Content-Type: application/sdp\r\n" if body else "") + f"Content-Length: {len(body)}\r\n\r\n")
        return h.encode() + body

    def resp(code, reason, m, cseq, br, body=b"", tag=";tag=b1"):
        h = (f"SIP/2.0 {code} {reason}\r\n" + via % (40000, br) + fr + to + tag +
             f"\r\nCall-ID: {cid}\r\nCSeq: {cseq} {m}\r\n" +
             ("Contact: <sip:callee@10.0.0.2;transport=tls>\r\nContent-Type: application/sdp\r\n" if body else "") +
             f"Content-Length: {len(body)}\r\n\r\n")
        return h.encode() + body
    b1, b2, b3 = "a%d" % n, "b%d" % n, "c%d" % n
    return [(0, req("INVITE", 1, b1, sdp)), (1, resp(100, "Trying", "INVITE", 1, b1, tag="")),
            (1, resp(180, "Ringing", "INVITE", 1, b1)), (1, resp(200, "OK", "INVITE", 1, b1, sdp)),
            (0, req("ACK", 1, b2, tag=";tag=b1")), (0, req("BYE", 2, b3, tag=";tag=b1")),
            (1, resp(200, "OK", "BYE", 2, b3))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--calls", type=int, default=25)
    ap.add_argument("--tls12")
    ap.add_argument("--tls13", action="store_true")
    ap.add_argument("--cert-days", type=int, default=2)
    ap.add_argument("--start", type=float, default=1700000000.0)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    key, cert = a.out + "-server.pem", os.path.join(tmp, "c.pem")
    old = os.umask(0o077)
    tlsmem.self_signed(key, cert, "bench", a.cert_days).check_returncode()
    os.umask(old)
    keys = a.out + "-tls.keys"
    if os.path.exists(keys):
        os.unlink(keys)
    os.close(os.open(keys, os.O_CREAT | os.O_WRONLY, 0o600))
    tls, tcp = Pcap(a.out + "-tls.pcap", a.start), Pcap(a.out + "-tcp.pcap", a.start)
    cctx, sctx = tlsmem.contexts(cert, key, keys)
    if a.tls12:
        cctx.maximum_version = ssl.TLSVersion.TLSv1_2
        cctx.set_ciphers(a.tls12)
        sctx.set_ciphers(a.tls12)
    if a.tls13:
        cctx.minimum_version = ssl.TLSVersion.TLSv1_3
    nmsg, n = 0, 0
    for k in range(a.conns):
        ct, cp = Conn(tls, k), Conn(tcp, k)
        p = tlsmem.Pair(cctx, sctx, ct.send)
        p.handshake(6)
        for _ in range(a.calls):
            n += 1
            for d, msg in call_msgs(n):
                (p.c if d == 0 else p.s).write(msg)
                p.pump()
                (p.s if d == 0 else p.c).read(len(msg) + 100)
                p.pump()
                cp.send(d, msg)
                nmsg += 1
        ct.close()
        cp.close()
    tls.close()
    tcp.close()
    print(nmsg)


if __name__ == "__main__":
    main()
