#!/usr/bin/env python3
"""A capture of two three-leg calls across six addresses, for the browser
test of the call page: an enterprise PBX, the enterprise SBC (inside and
outside), the carrier's border SBC (outside and inside) and the carrier's
softswitch. Each B2BUA names the first leg's Call-ID in X-CID (RFC 3261
messages over UDP, RTP per RFC 3550 anchored on every hop).

Call 1 has audio both ways on every leg. Call 2 is one-way audio: the
softswitch answers but no RTP comes back, so no hop relays any towards
the PBX (the classic firewall / NAT fault).

usage: three_legs.py OUT.pcap
"""
import struct
import sys

PBX, SBCA_IN, SBCA_OUT = "10.1.0.10", "10.1.0.1", "198.51.100.10"
SBCB_OUT, SBCB_IN, CORE = "203.0.113.1", "203.0.113.129", "192.0.2.50"
UA = {PBX: "AcmePBX/8.1", SBCA_IN: "EdgeSBC/9.2", SBCA_OUT: "EdgeSBC/9.2",
      SBCB_OUT: "BorderSBC/4.4", SBCB_IN: "BorderSBC/4.4", CORE: "CarrierCore/3.1"}
# (caller side, callee side, caller number, callee number) per leg
LEGS = ((PBX, SBCA_IN, "3012345", "+4940987654"),
        (SBCA_OUT, SBCB_OUT, "+49301234500", "+4940987654"),
        (SBCB_IN, CORE, "+49301234500", "+4940987654"))


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def frame(t, src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, ip4(src), ip4(dst))
    csum = sum((iph[i] << 8) | iph[i + 1] for i in range(0, 20, 2))
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    iph = iph[:10] + struct.pack("!H", ~csum & 0xFFFF) + iph[12:]
    data = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + iph + udp
    sec = int(t)
    return (struct.pack("<IIII", 1700000000 + sec, int(round((t - sec) * 1e6)), len(data), len(data))
            + data)


def sdp(ip, port, sess):
    return ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
            % (sess, ip, ip, port)).encode()


def rtp(seq, ts, ssrc):
    return struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, ts, ssrc) + b"\xd5" * 160


def call(f, k, t0, two_way):
    """Frames of call k (1, 2) from t0: 21 SIP messages and its RTP."""
    cids = ["c%d-leg%d-%08x@%s" % (k, j, 0x5a17 * (k + 3) * (j + 7), LEGS[j][0]) for j in range(3)]
    tags = ["ft%d%d" % (k, j) for j in range(3)], ["tt%d%d" % (k, j) for j in range(3)]
    media = [(LEGS[j][0], 20000 + 100 * k + 10 * j, LEGS[j][1], 30000 + 100 * k + 10 * j) for j in range(3)]

    def msg(t, j, start, method, cseq, from_caller, totag, body=b""):
        a, b, num_a, num_b = LEGS[j]
        src, dst = (a, b) if from_caller else (b, a)
        req = not start.startswith("SIP/")
        lines = [start,
                 "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-%d%d-%s-%d;rport" % (a, k, j, method.lower(), cseq),
                 "Max-Forwards: 69" if req else None,
                 "From: <sip:%s@%s>;tag=%s" % (num_a, a, tags[0][j]),
                 "To: <sip:%s@%s>%s" % (num_b, b, ";tag=" + tags[1][j] if totag else ""),
                 "Call-ID: %s" % cids[j], "CSeq: %d %s" % (cseq, method),
                 "Contact: <sip:%s@%s:5060>" % (num_a if from_caller else num_b, src)
                 if method == "INVITE" and start[:7] in ("INVITE ", "SIP/2.0") and not start.startswith("SIP/2.0 1") else None,
                 "X-CID: %s" % cids[0] if j > 0 and method == "INVITE" and req else None,
                 ("User-Agent: %s" if req else "Server: %s") % UA[src],
                 "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REFER, NOTIFY" if method == "INVITE" else None,
                 "Supported: timer, replaces" if method == "INVITE" and req else None,
                 "Content-Type: application/sdp" if body else None,
                 "Content-Length: %d" % len(body)]
        text = ("\r\n".join(x for x in lines if x) + "\r\n\r\n").encode() + body
        f.append(frame(t, src, 5060, dst, 5060, text))

    t = t0
    for j in range(3):  # INVITE hop by hop, each answered by 100 Trying
        a, b, _, num_b = LEGS[j]
        msg(t, j, "INVITE sip:%s@%s SIP/2.0" % (num_b, b), "INVITE", 1, True, False,
            sdp(media[j][0], media[j][1], 1000 * k + j))
        msg(t + 0.004, j, "SIP/2.0 100 Trying", "INVITE", 1, False, False)
        t += 0.03
    t += 0.6
    for j in (2, 1, 0):  # ringing, then the answer, back towards the PBX
        msg(t, j, "SIP/2.0 180 Ringing", "INVITE", 1, False, True)
        t += 0.01
    t += 2.0
    for j in (2, 1, 0):
        msg(t, j, "SIP/2.0 200 OK", "INVITE", 1, False, True, sdp(media[j][2], media[j][3], 2000 * k + j))
        t += 0.01
    for j in range(3):
        a, b, _, num_b = LEGS[j]
        msg(t, j, "ACK sip:%s@%s:5060 SIP/2.0" % (num_b, b), "ACK", 1, True, True)
        t += 0.005
    t_media = t + 0.02
    for i in range(150):
        tt = t_media + 0.02 * i
        for j in range(3):
            sa, pa, sb, pb = media[j]
            f.append(frame(tt + 0.001 * j, sa, pa, sb, pb, rtp(100 + i, 160 * i, 0x1000 * k + j)))
            if two_way:
                f.append(frame(tt + 0.007 - 0.001 * j, sb, pb, sa, pa, rtp(700 + i, 160 * i, 0x2000 * k + j)))
    t = t_media + 3.1
    for j in range(3):  # the PBX hangs up
        a, b, _, num_b = LEGS[j]
        msg(t, j, "BYE sip:%s@%s:5060 SIP/2.0" % (num_b, b), "BYE", 2, True, True)
        t += 0.01
    for j in (2, 1, 0):
        msg(t, j, "SIP/2.0 200 OK", "BYE", 2, False, True)
        t += 0.01


def main():
    f = []
    call(f, 1, 0.0, True)
    call(f, 2, 20.0, False)
    f.sort(key=lambda x: struct.unpack("<II", x[:8]))
    with open(sys.argv[1], "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for x in f:
            out.write(x)


if __name__ == "__main__":
    main()
