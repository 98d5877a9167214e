#!/usr/bin/env python3
"""The Lync Server 2013 trunk checklist from the wire (alert/checklist.c):
for each item a small capture that breaks it and one that passes, written
here byte by byte (Ethernet/IPv4/UDP or TCP with its handshake, SIP, SDP,
RTP and RTCP), so that each capture differs from its twin in the one thing
the item checks. The Mediation Server is 10.0.0.10 (10.0.0.11), the
gateways 10.0.0.20 and 10.0.0.21, named in the configuration. Checked: the
item's status and numbers in analyze --json, the calls it names (by their
Call-IDs), the text report's line, the table analyze --db writes, and GET
/api/v1/trunks/{id}/checklist of serve over that database."""
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import urllib.error
import zlib

from manifest import Checker, parse_args
from serving import Serve

T0 = 1700000000.0
MS, MS2 = "10.0.0.10", "10.0.0.11"
GW, GW2 = "10.0.0.20", "10.0.0.21"
FE = "10.0.1.5"        # the Front End pool (the Mediation Server's other side)
CLIENT = "10.0.5.50"   # a Lync client (media bypass)
STRANGER = "10.0.0.99"


def ip4(a):
    return socket.inet_aton(a)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Pcap:
    def __init__(self):
        self.frames = []      # (ts, bytes)
        self.tcp = {}         # (src, sport, dst, dport) -> next seq
        self.ipid = 1

    def _ip(self, ts, src, dst, proto, l4):
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.ipid & 0xFFFF, 0, 64, proto,
                        0, ip4(src), ip4(dst))
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        self.ipid += 1
        eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
        self.frames.append((ts, eth + h + l4))

    def udp(self, ts, src, sport, dst, dport, payload):
        self._ip(ts, src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)

    def _seg(self, ts, src, sport, dst, dport, flags, payload=b""):
        k = (src, sport, dst, dport)
        seq = self.tcp[k]
        ack = self.tcp.get((dst, dport, src, sport), 0)
        self._ip(ts, src, dst, 6, struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags,
                                              65535, 0, 0) + payload)
        self.tcp[k] = (seq + len(payload) + (1 if flags & 0x02 else 0)) & 0xFFFFFFFF

    def tcp_send(self, ts, src, sport, dst, dport, payload):
        k, r = (src, sport, dst, dport), (dst, dport, src, sport)
        if k not in self.tcp and r not in self.tcp:
            self.tcp[k], self.tcp[r] = 1000, 5000
            self._seg(ts - 0.003, src, sport, dst, dport, 0x02)
            self._seg(ts - 0.002, dst, dport, src, sport, 0x12)
            self._seg(ts - 0.001, src, sport, dst, dport, 0x10)
        self._seg(ts, src, sport, dst, dport, 0x18, payload)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for ts, fr in sorted(self.frames, key=lambda x: x[0]):
                sec = int(ts)
                f.write(struct.pack("<IIII", sec, int(round((ts - sec) * 1e6)), len(fr), len(fr)))
                f.write(fr)


def sdp(addr, port, codecs, srtp=False, direction="sendrecv"):
    pt = {"PCMU": 0, "PCMA": 8, "G729": 18, "telephone-event": 101, "CN": 13, "SILK": 103}
    fmts = " ".join(str(pt[c]) for c in codecs)
    lines = ["v=0", "o=- 1 1 IN IP4 %s" % addr, "s=-", "c=IN IP4 %s" % addr, "t=0 0",
             "m=audio %d RTP/%s %s" % (port, "SAVP" if srtp else "AVP", fmts)]
    for c in codecs:
        if c == "telephone-event":
            lines.append("a=rtpmap:101 telephone-event/8000")
        elif c == "SILK":
            lines.append("a=rtpmap:103 SILK/16000")
    if srtp:
        lines.append("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"
                     "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyBzcGxpdCB8")
    lines.append("a=" + direction)
    return ("\r\n".join(lines) + "\r\n").encode()


class Leg:
    """One SIP dialog between a (caller) and b (callee) on one transport."""

    def __init__(self, cap, cid, a, ap, b, bp, tp="TCP", ruri="+493012345678",
                 frm="+494011122233", xcid=None):
        self.cap, self.cid, self.a, self.ap, self.b, self.bp = cap, cid, a, ap, b, bp
        self.tp, self.ruri, self.frm, self.xcid = tp, ruri, frm, xcid
        self.ftag, self.ttag, self.cseq = "f" + cid, "t" + cid, 1
        self.branch = 0

    def _send(self, ts, from_a, text):
        s, sp, d, dp = (self.a, self.ap, self.b, self.bp) if from_a else (self.b, self.bp, self.a,
                                                                            self.ap)
        if self.tp == "UDP":
            self.cap.udp(ts, s, sp, d, dp, text)
        else:
            self.cap.tcp_send(ts, s, sp, d, dp, text)

    def _hdrs(self, method, cseq, ttag, via_branch):
        h = ["Via: SIP/2.0/%s %s:%d;branch=z9hG4bK%s" % (self.tp, self.a, self.ap, via_branch),
             "From: <sip:%s@%s>;tag=%s" % (self.frm, self.a, self.ftag),
             "To: <sip:%s@%s>%s" % (self.ruri, self.b, ";tag=" + ttag if ttag else ""),
             "Call-ID: %s" % self.cid, "CSeq: %d %s" % (cseq, method)]
        if self.xcid:
            h.append("X-CID: %s" % self.xcid)
        return h

    def request(self, ts, method, body=b"", ttag=None, cseq=None, from_b=False):
        self.branch += 1
        cseq = cseq or self.cseq
        h = ["%s sip:%s@%s:%d;transport=%s SIP/2.0" % (method, self.ruri, self.b, self.bp,
                                                        self.tp.lower())]
        h += self._hdrs(method, cseq, ttag, "%s%d" % (self.cid, self.branch))
        h += ["Max-Forwards: 70", "Contact: <sip:%s:%d>" % (self.a, self.ap)]
        if body:
            h.append("Content-Type: application/sdp")
        h.append("Content-Length: %d" % len(body))
        self._send(ts, not from_b, ("\r\n".join(h) + "\r\n\r\n").encode() + body)

    def response(self, ts, status, reason, method="INVITE", body=b"", ttag=None, cseq=None):
        h = ["SIP/2.0 %d %s" % (status, reason)]
        h += self._hdrs(method, cseq or self.cseq, ttag, "%s%d" % (self.cid, self.branch))
        h.append("Contact: <sip:%s:%d>" % (self.b, self.bp))
        if body:
            h.append("Content-Type: application/sdp")
        h.append("Content-Length: %d" % len(body))
        self._send(ts, False, ("\r\n".join(h) + "\r\n\r\n").encode() + body)


def rtp_flow(cap, t0, t1, src, sport, dst, dport, ssrc, pt=0, rtcp=True, pause=None):
    """RTP every 20 ms from t0 to t1, a sender report every 5 s from t0 + 2.5
    (none from pause[0] to pause[1] s after t0)."""
    seq, n = 1, 0
    t = t0
    while t < t1:
        hdr = struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, (n * 160) & 0xFFFFFFFF, ssrc)
        cap.udp(t, src, sport, dst, dport, hdr + b"\xff" * 160)
        seq += 1
        n += 1
        t += 0.02
    if rtcp:
        t = t0 + 2.5
        while t < t1:
            sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, int(t) + 2208988800, 0, 0, n, n * 172)
            if not pause or not pause[0] <= t - t0 < pause[1]:
                cap.udp(t, src, sport + 1, dst, dport + 1, sr)
            t += 5.0


def call(cap, cid, t, a=MS, b=GW, tp="TCP", codecs=("PCMU", "PCMA", "telephone-event", "CN"),
         srtp=False, ring=1.0, answer=2.0, dur=6.0, status=200, forks=1, media_addr=None,
         media=False, rtcp=True, hold=False, ruri="+493012345678", frm="+494011122233",
         cancel=None, xcid=None, ap=None, bp=5060, port_base=20000, rtcp_pause=None):
    """An INVITE from a to b and what follows; returns the time it ended."""
    ap = ap or (41000 + zlib.crc32(cid.encode()) % 20000 if tp != "UDP" else 5060)
    L = Leg(cap, cid, a, ap, b, bp, tp, ruri, frm, xcid)
    ma = media_addr or a
    mport, bport = port_base, port_base + 100
    L.request(t, "INVITE", sdp(ma, mport, list(codecs), srtp))
    L.response(t + 0.05, 100, "Trying")
    if cancel is not None:
        L.request(t + cancel, "CANCEL")
        L.response(t + cancel + 0.02, 200, "OK", method="CANCEL")
        L.response(t + cancel + 0.03, 487, "Request Terminated", ttag=L.ttag)
        L.request(t + cancel + 0.04, "ACK", ttag=L.ttag)
        return t + cancel
    for k in range(forks):
        tag = L.ttag if k == 0 else "%s-fork%d" % (L.ttag, k)
        L.response(t + ring + 0.01 * k, 183 if forks > 1 else 180,
                   "Session Progress" if forks > 1 else "Ringing", ttag=tag)
    if status != 200:
        L.response(t + answer, status, "Service Unavailable", ttag=L.ttag)
        L.request(t + answer + 0.01, "ACK", ttag=L.ttag)
        return t + answer
    ans = codecs if not [c for c in codecs if c not in ("PCMU", "PCMA", "telephone-event", "CN")] \
        else [c for c in codecs if c not in ("PCMU", "PCMA")][:1] + ["telephone-event"]
    L.response(t + answer, 200, "OK", body=sdp(b, bport, list(ans), srtp), ttag=L.ttag)
    L.request(t + answer + 0.02, "ACK", ttag=L.ttag)
    end = t + answer + dur
    if media:
        rtp_flow(cap, t + answer + 0.05, end, ma, mport, b, bport, 0x1000 + len(cap.frames), 0, rtcp)
        # the gateway's RTCP may pause (the Mediation Server's goes on)
        rtp_flow(cap, t + answer + 0.06, end, b, bport, ma, mport, 0x2000 + len(cap.frames), 0, rtcp,
                 rtcp_pause)
    if hold:
        L.cseq += 1
        L.request(t + answer + 1, "INVITE", sdp(ma, mport, list(codecs), srtp, "sendonly"),
                  ttag=L.ttag)
        L.response(t + answer + 1.05, 200, "OK", body=sdp(b, bport, list(codecs), srtp, "recvonly"),
                   ttag=L.ttag)
        L.request(t + answer + 1.07, "ACK", ttag=L.ttag)
    L.cseq += 1
    L.request(end, "BYE", ttag=L.ttag)
    L.response(end + 0.02, 200, "OK", method="BYE", ttag=L.ttag)
    return end


CONFIG = "trunk = %s gwpool\ntrunk = %s gwpool\n" % (GW, GW2)


def scenarios():
    """name -> (item, builder, want status). Each builder fills a Pcap."""
    S = {}

    def calls_ok(cap, n=3, **kw):
        for i in range(n):
            call(cap, "ok%d" % i, T0 + 10 * i, **kw)

    # transport
    S["transport_pass"] = ("transport", lambda c: calls_ok(c), "pass")
    S["transport_fail"] = ("transport", lambda c: (calls_ok(c, 2),
                           call(c, "udp1", T0 + 40, tp="UDP")), "fail")
    # codecs
    S["codecs_pass"] = ("codecs", lambda c: calls_ok(c), "pass")
    S["codecs_fail"] = ("codecs", lambda c: (calls_ok(c, 2),
                        call(c, "g729", T0 + 40, codecs=("G729", "PCMU", "telephone-event"))),
                        "fail")
    # SRTP iff TLS: plain TCP with SRTP keys in the SDP breaks it
    S["srtp_pass"] = ("srtp", lambda c: calls_ok(c), "pass")
    S["srtp_fail"] = ("srtp", lambda c: (calls_ok(c, 2), call(c, "savp", T0 + 40, srtp=True)),
                      "fail")

    # M:N: two Mediation Servers x two gateways
    def mn(c, broken):
        k = 0
        for a in (MS, MS2):
            for b in (GW, GW2):
                for i in range(2):
                    bad = broken and a == MS2 and b == GW2
                    call(c, "mn%d" % k, T0 + 10 * k, a=a, b=b, status=503 if bad else 200)
                    k += 1
    S["pairs_pass"] = ("pairs", lambda c: mn(c, False), "pass")
    S["pairs_fail"] = ("pairs", lambda c: mn(c, True), "fail")

    # fast failover: unanswered 10 s, cancelled, the same call at the next gateway
    S["failover_pass"] = ("fast_failover", lambda c: calls_ok(c), "pass")

    def failover(c):
        calls_ok(c, 2)
        call(c, "fo-a", T0 + 40, cancel=10.0, xcid="fo")
        call(c, "fo-b", T0 + 50.05, b=GW2, xcid="fo")
    S["failover_warn"] = ("fast_failover", failover, "warn")
    S["failover_fail"] = ("fast_failover", lambda c: (calls_ok(c, 2),
                          call(c, "slow", T0 + 40, ring=15.0, answer=16.0)), "fail")
    # early dialogs
    S["early_pass"] = ("early_dialogs", lambda c: (calls_ok(c, 2),
                       call(c, "fork3", T0 + 40, forks=3)), "pass")
    S["early_fail"] = ("early_dialogs", lambda c: (calls_ok(c, 2),
                       call(c, "fork21", T0 + 40, forks=21)), "fail")
    # RTCP on active and held calls
    S["rtcp_pass"] = ("rtcp", lambda c: (call(c, "r1", T0, media=True, dur=15),
                      call(c, "r2", T0 + 30, media=True, dur=15, hold=True)), "pass")
    S["rtcp_fail"] = ("rtcp", lambda c: (call(c, "r1", T0, media=True, dur=15),
                      call(c, "norr", T0 + 30, media=True, dur=15, rtcp=False, port_base=30000)),
                      "fail")
    # ... and never 30 s without: 70-s calls whose gateway stops its RTCP for
    # 40 s (sender reports at 17.5 s and 62.5 s: a 45-s gap), one active, one
    # held; their twins send every 5 s
    S["rtcp_gap_pass"] = ("rtcp", lambda c: (call(c, "long", T0, media=True, dur=70),
                          call(c, "hlong", T0 + 80, media=True, dur=70, hold=True,
                               port_base=30000)), "pass")
    S["rtcp_gap_fail"] = ("rtcp", lambda c: (call(c, "long", T0, media=True, dur=70),
                          call(c, "gap", T0 + 80, media=True, dur=70, rtcp_pause=(20, 60),
                               port_base=30000),
                          call(c, "hgap", T0 + 160, media=True, dur=70, hold=True,
                               rtcp_pause=(20, 60), port_base=32000)), "fail")
    # media bypass: the Mediation Server's SDP carries a client's address
    S["bypass_pass"] = ("media_bypass", lambda c: calls_ok(c), "pass")
    S["bypass_info"] = ("media_bypass", lambda c: (calls_ok(c, 2),
                        call(c, "byp", T0 + 40, media_addr=CLIENT)), "info")
    # a leading +
    S["plus_pass"] = ("leading_plus", lambda c: calls_ok(c), "pass")
    S["plus_fail"] = ("leading_plus", lambda c: (calls_ok(c, 2),
                      call(c, "noplus", T0 + 40, ruri="03012345678")), "fail")

    # strangers at the Mediation Server's trunk port
    def inbound(c, stranger):
        calls_ok(c, 2)
        call(c, "in1", T0 + 40, a=GW, b=MS, bp=5068)
        if stranger:
            call(c, "evil", T0 + 60, a=STRANGER, b=MS, bp=5068, status=503)
    S["peers_pass"] = ("known_peers", lambda c: inbound(c, False), "pass")
    S["peers_fail"] = ("known_peers", lambda c: inbound(c, True), "fail")
    return S


# the calls each breaking capture must name (by Call-ID)
BREAKERS = {"transport_fail": {"udp1"}, "codecs_fail": {"g729"}, "srtp_fail": {"savp"},
            "pairs_fail": {"mn6", "mn7"}, "failover_warn": {"fo-a"}, "failover_fail": {"slow"},
            "early_fail": {"fork21"}, "rtcp_fail": {"norr"}, "bypass_info": {"byp"},
            "rtcp_gap_fail": {"gap", "hgap"},
            "plus_fail": {"noplus"}, "peers_fail": {"evil"}}

# numbers each capture must show
NUMBERS = {
    "transport_fail": {"udp": 1, "legs": 3},
    "transport_pass": {"udp": 0, "tcp": 3},
    "codecs_fail": {"legs_other_codecs": 1},
    "srtp_fail": {"srtp_without_tls": 1, "tls_without_srtp": 0},
    "pairs_fail": {"pairs": 4, "pairs_answering": 3, "mediation_servers": 2, "gateways": 2},
    "pairs_pass": {"pairs": 4, "pairs_answering": 4},
    "failover_warn": {"failed_over": 1, "not_cancelled": 0, "unanswered_10s": 1},
    "failover_fail": {"not_cancelled": 1, "failed_over": 0},
    "early_pass": {"max_early_dialogs": 3, "legs_over_20": 0},
    "early_fail": {"max_early_dialogs": 21, "legs_over_20": 1},
    "rtcp_pass": {"active_calls": 1, "held_calls": 1, "active_without_rtcp": 0,
                  "held_without_rtcp": 0},
    "rtcp_fail": {"active_calls": 2, "active_without_rtcp": 1},
    "rtcp_gap_pass": {"active_calls": 1, "held_calls": 1, "active_gap_over_30s": 0,
                      "held_gap_over_30s": 0},
    "rtcp_gap_fail": {"active_calls": 2, "held_calls": 1, "active_without_rtcp": 0,
                      "held_without_rtcp": 0, "active_gap_over_30s": 1, "held_gap_over_30s": 1},
    "bypass_info": {"bypassed": 1},
    "plus_fail": {"ruri_plus": 2, "ruri_without_plus": 1},
    "peers_fail": {"unknown_sources": 1, "invites_from_unknown": 1},
    "peers_pass": {"unknown_sources": 0},
}


def main():
    a = parse_args()
    c = Checker()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    cfg = os.path.join(a.work, "ts.conf")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    S = scenarios()
    for name, (item, build, want) in S.items():
        cap = Pcap()
        build(cap)
        pcap = os.path.join(a.work, name + ".pcap")
        cap.write(pcap)
        r = subprocess.run([a.bin, "analyze", "--json", "--config", cfg, pcap],
                           capture_output=True, text=True, timeout=300)
        c.check(r.returncode == 0, "%s: analyze exits 0 (%s)" % (name, r.stderr.strip()))
        if r.returncode:
            continue
        doc = json.loads(r.stdout)
        ids = {}
        for call_ in doc["calls"]:
            for leg in call_["legs"]:
                ids.setdefault(call_["id"], set()).add(leg["call_id"])
        # the trunk the item is about: the first trunk of the Mediation Server
        trunks = [t for t in doc["trunks"] if t["local"] in (MS, MS2)
                  and t["peer"] in (GW, GW2)]
        c.check(bool(trunks), "%s: a trunk between the Mediation Server and a gateway" % name)
        if not trunks:
            continue
        t = trunks[0]
        if name.startswith("pairs_fail"):
            t = [x for x in trunks if x["local"] == MS2 and x["peer"] == GW2][0]
        items = {x["id"]: x for x in t["checklist"]["items"]}
        c.check(len(items) == 10, "%s: ten items" % name)
        got = items[item]
        print("%-15s %-14s %-5s %s %s" % (name, item, got["status"], got["detail"],
                                         json.dumps(got["evidence"])))
        c.check(got["status"] == want, "%s: %s is %s, want %s (%s)" % (name, item, got["status"],
                                                                        want, got["detail"]))
        for k, v in NUMBERS.get(name, {}).items():
            c.check(got["evidence"].get(k) == v, "%s: %s.%s = %s, want %s" % (
                name, item, k, got["evidence"].get(k), v))
        # the longest silence: sender reports 5 s apart, or 45 s across the pause
        gap_want = {"rtcp_gap_pass": 5.0, "rtcp_gap_fail": 45.0}.get(name)
        if gap_want is not None:
            c.check(abs(got["evidence"].get("max_gap_s", -1) - gap_want) <= 0.02,
                    "%s: max_gap_s %s, want %s" % (name, got["evidence"].get("max_gap_s"), gap_want))
        named = set()
        for cid in got["calls"]:
            named |= ids.get(cid, set())
        if name in BREAKERS:
            c.check(BREAKERS[name] <= named, "%s: calls named %s include %s" % (
                name, sorted(named), sorted(BREAKERS[name])))
            c.check(not (named - BREAKERS[name] - {"fo-b"}), "%s: no healthy call named: %s" % (
                name, sorted(named - BREAKERS[name])))
        else:
            c.check(not got["calls"], "%s: a passing item names no call" % name)
        # a passing capture passes everything but what it is about (and n/a)
        if want == "pass" and name not in ("rtcp_pass", "rtcp_gap_pass"):
            bad = [k for k, x in items.items() if x["status"] in ("fail", "warn") and k != item]
            c.check(not bad or name.startswith("peers") or name.startswith("pairs"),
                    "%s: other items fail: %s" % (name, bad))

    # the text report, the stored table and the API on one breaking capture
    pcap = os.path.join(a.work, "transport_fail.pcap")
    r = subprocess.run([a.bin, "analyze", "--summary", "--config", cfg, pcap], capture_output=True,
                       text=True, timeout=300)
    c.check("Lync Server 2013 trunk checklist" in r.stdout, "text report has the checklist")
    c.check(any(l.split()[:2] == ["fail", "transport"] and "1 of 3 legs signalled over UDP" in l
                for l in r.stdout.splitlines()), "text report: the transport line")
    db = os.path.join(a.work, "t.db")
    r = subprocess.run([a.bin, "analyze", "--quiet", "--no-alerts", "--config", cfg, "--db", db,
                        pcap], capture_output=True, text=True, timeout=300)
    c.check(r.returncode == 0, "analyze --db exits 0 (%s)" % r.stderr.strip())
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t.id, t.local_addr, t.peer_addr, k.status, k.items FROM trunks t"
                       " JOIN trunk_checklist k ON k.trunk_id=t.id").fetchall()
    row = [x for x in rows if x[1] == MS and x[2] == GW]
    c.check(len(row) == 1 and row[0][3] == "fail", "stored: the trunk's checklist, failing")
    udp_call = con.execute("SELECT c.id FROM calls c JOIN legs l ON l.call_ref=c.id"
                           " WHERE l.call_id='udp1'").fetchone()
    con.close()
    if len(row) == 1:
        tid = row[0][0]
        with Serve(a.bin, db, stop_timeout=30) as srv:
            body = srv.wait("/api/v1/trunks/%d/checklist" % tid)
            c.check(body is not None, "API answers")
            if body:
                it = {x["id"]: x for x in body["items"]}
                c.check(body["status"] == "fail" and body["trunk_id"] == tid, "API: status fail")
                c.check(it["transport"]["status"] == "fail" and it["transport"]["evidence"]["udp"] == 1,
                        "API: transport fails with udp = 1")
                c.check(udp_call is not None and it["transport"]["calls"] == [udp_call[0]],
                        "API: the UDP call by its stored id (%s, %s)" % (
                            it["transport"]["calls"], udp_call))
            d = srv.get("/api/v1/trunks/%d" % tid, timeout=5)
            c.check(d["checklist"]["status"] == "fail", "API: the trunk carries its checklist")
            try:
                srv.get("/api/v1/trunks/999/checklist", timeout=5)
                c.check(False, "API: unknown trunk is 404")
            except urllib.error.HTTPError as e:
                c.check(e.code == 404, "API: unknown trunk is 404")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
