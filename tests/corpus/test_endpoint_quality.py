#!/usr/bin/env python3
"""Endpoint-reported quality and one-way legs, end to end: the test writes a
capture with two calls and runs `trunkscope analyze --json --db`, then
`serve` on that database.

Call 1 is a clean two-way PCMU call; its BYE carries X-RTP-Stat (the
caller's receive statistics), the 200 to the BYE P-RTP-Stat (the callee's),
and after it a PUBLISH to a collector carries an RFC 6035 vq-rtcpxr body
(section 4 example layout) about call 1 with MOSLQ 2.1. Each report must be
stored on call 1's leg with the values written here, come back from the API
(/api/v1/calls/{id} legs[].endpoint_quality) and from analyze --json.
Call 2 sends audio one way only: its leg and call must carry MOS 1.0 with
reason one_way and the one_way flag, in the database, in the API call list
and in analyze --json; call 1 must not. Exit 77 when serve is missing."""
import argparse
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import urllib.request
from manifest import Checker

CHECKS = Checker()
check = CHECKS.check


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def frame(t, src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, ip4(src), ip4(dst))
    csum = 0
    for i in range(0, 20, 2):
        csum += (iph[i] << 8) | iph[i + 1]
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    iph = iph[:10] + struct.pack("!H", ~csum & 0xFFFF) + iph[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    data = eth + iph + udp
    sec = int(t)
    usec = int(round((t - sec) * 1e6))
    return struct.pack("<IIII", 1700000000 + sec, usec, len(data), len(data)) + data


def tcp_frame(t, src, sport, dst, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ip4(src), ip4(dst))
    csum = sum((iph[i] << 8) | iph[i + 1] for i in range(0, 20, 2))
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    iph = iph[:10] + struct.pack("!H", ~csum & 0xFFFF) + iph[12:]
    data = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + iph + tcp
    sec = int(t)
    return struct.pack("<IIII", 1700000000 + sec, int(round((t - sec) * 1e6)), len(data),
                       len(data)) + data


def http_on_sip_port(path):
    """An HTTP exchange on TCP 5060 whose header blocks and body hold CRLFs."""
    A, B = "10.0.0.5", "10.0.0.6"
    req = b"GET /status HTTP/1.1\r\nHost: 10.0.0.6:5060\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nok\r\n\r\nok\r\n\r\n\r\n"
    f = [tcp_frame(0.0, A, 40000, B, 5060, 100, 0, 0x02),
         tcp_frame(0.01, B, 5060, A, 40000, 500, 101, 0x12),
         tcp_frame(0.02, A, 40000, B, 5060, 101, 501, 0x10),
         tcp_frame(0.03, A, 40000, B, 5060, 101, 501, 0x18, req),
         tcp_frame(0.04, B, 5060, A, 40000, 501, 101 + len(req), 0x18, resp)]
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for x in f:
            out.write(x)


def sip(start, cid, cseq, method, fromtag, totag, extra=(), body=b"", ctype="application/sdp"):
    lines = [start,
             "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-%s-%s-%d" % (cid[:6], method, cseq),
             "From: <sip:alice@10.0.0.1>;tag=%s" % fromtag,
             "To: <sip:bob@10.0.0.2>" + (";tag=%s" % totag if totag else ""),
             "Call-ID: %s" % cid, "CSeq: %d %s" % (cseq, method), "Max-Forwards: 70",
             "Contact: <sip:alice@10.0.0.1:5060>"]
    lines += list(extra)
    if body:
        lines.append("Content-Type: %s" % ctype)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sdp(ip, port):
    return ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" % (ip, ip, port)).encode()


def rtp(seq, ts, ssrc, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0), seq & 0xFFFF, ts, ssrc) + b"\xff" * 160


# RFC 6035 section 4 example layout: report type, identities, addresses,
# then the LocalMetrics block of "Name: KEY=value ..." lines.
VQ_BODY = (
    "VQSessionReport: CallTerm\r\n"
    "CallID: call1@test\r\n"
    "LocalID: Alice <sip:alice@10.0.0.1>\r\n"
    "RemoteID: Bob <sip:bob@10.0.0.2>\r\n"
    "OrigID: Alice <sip:alice@10.0.0.1>\r\n"
    "LocalGroup: example-phone-55671\r\n"
    "RemoteGroup: example-gateway-09871\r\n"
    "LocalAddr: IP=10.0.0.1 PORT=4000 SSRC=0x00001111\r\n"
    "LocalMAC: 02:00:00:00:00:01\r\n"
    "RemoteAddr: IP=10.0.0.2 PORT=5000 SSRC=0x00002222\r\n"
    "RemoteMAC: 02:00:00:00:00:02\r\n"
    "LocalMetrics:\r\n"
    "Timestamps: START=2023-11-14T22:13:20Z STOP=2023-11-14T22:13:24Z\r\n"
    "SessionDesc: PT=0 PD=PCMU SR=8000 FD=20 FO=20 FPP=1 PPS=50 PLC=3 SSUP=off\r\n"
    "JitterBuffer: JBA=3 JBR=2 JBN=40 JBM=80 JBX=120\r\n"
    "PacketLoss: NLR=5.0 JDR=2.0\r\n"
    "BurstGapLoss: BLD=0 BD=0 GLD=2.0 GD=500 GMIN=16\r\n"
    "Delay: RTD=200 ESD=140 SOWD=200 IAJ=2 MAJ=10\r\n"
    "Signal: SL=-21 NL=-50 RERL=55\r\n"
    "QualityEst: RLQ=60 RCQ=58 EXTRI=90 MOSLQ=2.1 MOSCQ=2.3\r\n"
    "DialogID: call1@test;to-tag=t1;from-tag=f1\r\n").encode()

X_RTP_STAT = "X-RTP-Stat: PS=150,OS=24000,PR=148,OR=23680,PL=2,JI=3,LA=40,DU=3,EN=PCMU,DE=PCMU"
P_RTP_STAT = "P-RTP-Stat: PS=148,OS=23680,PR=150,OR=24000,PL=0,JI=1,LA=20,DU=3,EN=PCMU"


def make_capture(path):
    f = []
    A, B = "10.0.0.1", "10.0.0.2"
    for n, (cid, pa, pb, two_way, t0) in enumerate((("call1@test", 4000, 5000, True, 0.0),
                                                    ("call2@test", 4010, 5010, False, 10.0))):
        ft, tt = "f%d" % (n + 1), "t%d" % (n + 1)
        f.append(frame(t0, A, 5060, B, 5060, sip("INVITE sip:bob@10.0.0.2 SIP/2.0", cid, 1, "INVITE",
                                                 ft, None, body=sdp(A, pa))))
        f.append(frame(t0 + 0.1, B, 5060, A, 5060, sip("SIP/2.0 200 OK", cid, 1, "INVITE", ft, tt,
                                                       body=sdp(B, pb))))
        f.append(frame(t0 + 0.15, A, 5060, B, 5060, sip("ACK sip:bob@10.0.0.2 SIP/2.0", cid, 1, "ACK",
                                                        ft, tt)))
        for i in range(150):
            t = t0 + 0.2 + 0.02 * i
            f.append(frame(t, A, pa, B, pb, rtp(100 + i, 160 * i, 0x1111 + n, i == 0)))
            if two_way:
                f.append(frame(t + 0.003, B, pb, A, pa, rtp(900 + i, 160 * i, 0x2222 + n, i == 0)))
        bye_extra = [X_RTP_STAT] if two_way else []
        ok_extra = [P_RTP_STAT] if two_way else []
        f.append(frame(t0 + 3.5, A, 5060, B, 5060, sip("BYE sip:bob@10.0.0.2 SIP/2.0", cid, 2, "BYE",
                                                       ft, tt, extra=bye_extra)))
        f.append(frame(t0 + 3.55, B, 5060, A, 5060, sip("SIP/2.0 200 OK", cid, 2, "BYE", ft, tt,
                                                        extra=ok_extra)))
        if two_way:
            f.append(frame(t0 + 4.0, A, 5060, "10.0.0.9", 5060,
                           sip("PUBLISH sip:collector@10.0.0.9 SIP/2.0", "pub1@test", 1, "PUBLISH",
                               "p1", None, extra=["Event: vq-rtcpxr"], body=VQ_BODY,
                               ctype="application/vq-rtcpxr")))
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for x in f:
            out.write(x)


def near(a, b, tol=0.011):
    return a is not None and abs(a - b) <= tol


def check_reports(where, reps):
    by = {r["source"]: r for r in reps}
    check(sorted(by) == ["p-rtp-stat", "vq-rtcpxr", "x-rtp-stat"],
          f"{where}: report sources {sorted(by)}")
    v = by.get("vq-rtcpxr", {})
    check(near(v.get("mos_lq"), 2.1) and near(v.get("mos_cq"), 2.3) and near(v.get("r_factor"), 60)
          and near(v.get("loss_pct"), 5.0) and near(v.get("discard_pct"), 2.0)
          and near(v.get("jitter_ms"), 2) and near(v.get("rtt_ms"), 200)
          and near(v.get("delay_ms"), 140) and v.get("codec") == "PCMU"
          and v.get("interval") is False, f"{where}: vq-rtcpxr fields {v}")
    x = by.get("x-rtp-stat", {})
    check(x.get("reporter") == "caller" and x.get("packets") == 148 and x.get("lost") == 2
          and near(x.get("loss_pct"), 100 * 2 / 150) and near(x.get("jitter_ms"), 3)
          and near(x.get("delay_ms"), 40) and x.get("codec") == "PCMU"
          and x.get("mos_lq") is None, f"{where}: X-RTP-Stat fields {x}")
    p = by.get("p-rtp-stat", {})
    check(p.get("reporter") == "callee" and p.get("packets") == 150 and p.get("lost") == 0
          and near(p.get("loss_pct"), 0) and near(p.get("jitter_ms"), 1),
          f"{where}: P-RTP-Stat fields {p}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    cap = os.path.join(a.work, "epq.pcap")
    db = os.path.join(a.work, "epq.db")
    if os.path.exists(db):
        os.unlink(db)
    make_capture(cap)
    r = subprocess.run([a.bin, "analyze", "--json", "--db", db, cap], capture_output=True, text=True)
    check(r.returncode in (0, 1), f"analyze exit {r.returncode}: {r.stderr[-500:]}")
    rep = json.loads(r.stdout)
    calls = {c["legs"][0]["call_id"]: c for c in rep["calls"]}
    check(sorted(calls) == ["call1@test", "call2@test"], f"calls {sorted(calls)}")
    c1, c2 = calls.get("call1@test"), calls.get("call2@test")
    check_reports("analyze --json", c1["legs"][0]["endpoint_quality"])
    check(c1["one_way"] is False and c1["mos"] > 4.0 and c1["mos_reason"] is None,
          f"analyze: call 1 clean two-way: {c1['mos']} {c1['mos_reason']} {c1['one_way']}")
    check(c2["one_way"] is True and near(c2["mos"], 1.0) and c2["mos_reason"] == "one_way"
          and c2["legs"][0]["mos_reason"] == "one_way",
          f"analyze: call 2 one-way: {c2['mos']} {c2['mos_reason']} {c2['one_way']}")
    check(rep.get("vq", {}).get("reports") == 3, f"vq.reports counter {rep.get('vq')}")

    con = sqlite3.connect(db)
    row = con.execute("SELECT l.endpoint_quality, l.mos, l.media_flags FROM legs l "
                      "WHERE l.call_id='call1@test'").fetchone()
    check(row is not None and row[0], "leg 1 has endpoint_quality stored")
    if row and row[0]:
        check_reports("database", json.loads(row[0]))
        check(row[1] > 4.0 and not (row[2] or 0) & 1, f"database: leg 1 MOS {row[1]}, flags {row[2]}")
    row = con.execute("SELECT c.id, c.mos, c.mos_reason, c.media_flags, l.mos, l.mos_reason "
                      "FROM calls c JOIN legs l ON l.call_ref=c.id "
                      "WHERE l.call_id='call2@test'").fetchone()
    check(row is not None and near(row[1], 1.0) and row[2] == "one_way" and row[3] & 1
          and near(row[4], 1.0) and row[5] == "one_way", f"database: call 2 one-way {row}")
    id1 = con.execute("SELECT call_ref FROM legs WHERE call_id='call1@test'").fetchone()[0]
    con.close()

    # HTTP on the SIP port: no keep-alives, no SIP, one HTTP flow
    http = os.path.join(a.work, "http5060.pcap")
    http_on_sip_port(http)
    r = subprocess.run([a.bin, "analyze", "--json", http], capture_output=True, text=True)
    hd = json.loads(r.stdout).get("sip", {})
    check(hd.get("keepalives", 0) == 0 and hd.get("http_flows") == 1 and hd.get("messages") == 0,
          f"HTTP on TCP 5060: keep-alives {hd.get('keepalives')}, http_flows {hd.get('http_flows')}")

    # A public capture: HEP-carried PUBLISH with a vq-rtcpxr interval report.
    # Its metrics, read from the capture's bytes here, must reach its leg.
    hep = os.path.join(a.shared, "pcaps", "hep-wireshark_hep.pcap")
    if os.path.exists(hep):
        raw = open(hep, "rb").read()
        body = raw[raw.find(b"VQIntervalReport"):]
        nlr = float(re.search(rb"NLR=([0-9.]+)", body).group(1))
        iaj = float(re.search(rb"IAJ=([0-9.]+)", body).group(1))
        pd = re.search(rb"PD=([A-Za-z0-9]+)", body).group(1).decode()
        r = subprocess.run([a.bin, "analyze", "--json", hep], capture_output=True, text=True)
        reps = [e for c in json.loads(r.stdout)["calls"] for l in c["legs"]
                for e in l["endpoint_quality"]]
        check(len(reps) == 1 and reps[0]["source"] == "vq-rtcpxr" and reps[0]["interval"]
              and near(reps[0]["loss_pct"], nlr) and near(reps[0]["jitter_ms"], iaj)
              and reps[0]["codec"] == pd, f"{hep}: interval report {reps} (NLR {nlr} IAJ {iaj})")

    probe = subprocess.run([a.bin, "serve", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("SKIP: no serve command")
        print(f"{CHECKS.passed} passed, {CHECKS.failed} failed")
        return 1 if CHECKS.failed else 77
    p = subprocess.Popen([a.bin, "serve", "--db", db, "--http", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"port (\d+)", p.stdout.readline())
        check(m is not None, "serve printed its port")
        base = "http://127.0.0.1:%s" % (m.group(1) if m else "0")

        def get(path):
            with urllib.request.urlopen(base + path, timeout=20) as resp:
                return json.loads(resp.read())

        lst = get("/api/v1/calls")["calls"]
        ow = {c["id"]: c["one_way"] for c in lst}
        check(sorted(ow.values()) == [False, True], f"API call list one_way flags {ow}")
        check(any(c["mos_reason"] == "one_way" and near(c["mos"], 1.0) for c in lst),
              "API call list: the one-way call has MOS 1.0 and reason one_way")
        d = get("/api/v1/calls/%d" % id1)
        check_reports("API", d["legs"][0]["endpoint_quality"])
        check(all("mos_reason" in s for s in d["streams"]), "API streams carry mos_reason")
    finally:
        p.send_signal(2)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    return CHECKS.done()


if __name__ == "__main__":
    sys.exit(main())
