"""The SDP summary of the call detail (GET /api/v1/calls/{id}: messages[].sdp,
drawn on the call page's ladder arrows) on a crafted call whose offers and
answers cover the cases an arrow must tell apart: audio and video with a
session-level c=, an answer under the compact Content-Type header with a
media-level c= and a rejected stream (port 0), an RFC 2543 hold
(c=0.0.0.0), a sendonly re-INVITE answered recvonly, an inactive SRTP
(a=crypto) re-offer, an INFO whose body is not SDP. Ports, addresses and
directions are checked against tshark's SDP dissector; the codecs against
what the test wrote (rtpmap names, or the RFC 3551 static table)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import urllib.request

from manifest import Checker, parse_args
from test_endpoint_quality import frame

A, B = "10.0.0.1", "10.0.0.2"
CID = "sdp-ladder@test"


def sip(start, cseq, method, totag, body=b"", ctype_hdr="Content-Type", ctype="application/sdp", to_b=False):
    lines = [start,
             "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-sdp-%s-%d" % (B if to_b else A, method, cseq),
             "From: <sip:alice@%s>;tag=fa" % A,
             "To: <sip:bob@%s>" % B + (";tag=%s" % totag if totag else ""),
             "Call-ID: " + CID, "CSeq: %d %s" % (cseq, method), "Max-Forwards: 70",
             "Contact: <sip:alice@%s:5060>" % A]
    if body:
        lines.append("%s: %s" % (ctype_hdr, ctype))
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sdp(ver, *lines):
    return ("v=0\r\no=- 7 %d IN IP4 10.0.0.1\r\ns=-\r\n" % ver + "".join(x + "\r\n" for x in lines)).encode()


# (frame time, direction A->B?, message, the summary the API must give)
def messages():
    m = []
    offer = sdp(1, "c=IN IP4 10.0.0.1", "t=0 0", "a=sendrecv",
                "m=audio 4000 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000",
                "m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000")
    m.append((0.0, True, sip("INVITE sip:bob@10.0.0.2 SIP/2.0", 1, "INVITE", None, offer),
              [("audio", A, 4000, ["PCMA", "PCMU", "telephone-event"], "sendrecv", False, False),
               ("video", A, 4002, ["H264"], "sendrecv", False, False)]))
    m.append((0.05, False, sip("SIP/2.0 180 Ringing", 1, "INVITE", "tb", to_b=True), None))
    answer = sdp(1, "t=0 0", "m=audio 5000 RTP/AVP 8", "c=IN IP4 10.0.0.2", "a=ptime:20",
                 "m=video 0 RTP/AVP 96", "c=IN IP4 10.0.0.2")
    m.append((0.5, False, sip("SIP/2.0 200 OK", 1, "INVITE", "tb", answer, ctype_hdr="c", to_b=True),
              [("audio", B, 5000, ["PCMA"], "sendrecv", False, False),
               ("video", B, 0, ["PT 96"], "sendrecv", False, False)]))
    m.append((0.55, True, sip("ACK sip:bob@10.0.0.2 SIP/2.0", 1, "ACK", "tb"), None))
    hold2543 = sdp(2, "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 8")
    m.append((2.0, True, sip("INVITE sip:bob@10.0.0.2 SIP/2.0", 2, "INVITE", "tb", hold2543),
              [("audio", "0.0.0.0", 4000, ["PCMA"], "sendrecv", True, False)]))
    m.append((2.05, False, sip("SIP/2.0 200 OK", 2, "INVITE", "tb", answer, to_b=True),
              [("audio", B, 5000, ["PCMA"], "sendrecv", False, False),
               ("video", B, 0, ["PT 96"], "sendrecv", False, False)]))
    m.append((2.1, True, sip("ACK sip:bob@10.0.0.2 SIP/2.0", 2, "ACK", "tb"), None))
    sendonly = sdp(3, "c=IN IP4 10.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 8", "a=sendonly")
    m.append((4.0, True, sip("INVITE sip:bob@10.0.0.2 SIP/2.0", 3, "INVITE", "tb", sendonly),
              [("audio", A, 4000, ["PCMA"], "sendonly", True, False)]))
    recvonly = sdp(2, "c=IN IP4 10.0.0.2", "t=0 0", "m=audio 5000 RTP/AVP 8", "a=recvonly")
    m.append((4.05, False, sip("SIP/2.0 200 OK", 3, "INVITE", "tb", recvonly, to_b=True),
              [("audio", B, 5000, ["PCMA"], "recvonly", False, False)]))
    m.append((4.1, True, sip("ACK sip:bob@10.0.0.2 SIP/2.0", 3, "ACK", "tb"), None))
    inactive = sdp(4, "c=IN IP4 10.0.0.1", "t=0 0", "m=audio 4000 RTP/SAVP 0", "a=inactive",
                   "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
    m.append((6.0, True, sip("INVITE sip:bob@10.0.0.2 SIP/2.0", 4, "INVITE", "tb", inactive),
              [("audio", A, 4000, ["PCMU"], "inactive", True, True)]))
    m.append((6.05, False, sip("SIP/2.0 200 OK", 4, "INVITE", "tb", recvonly, to_b=True),
              [("audio", B, 5000, ["PCMA"], "recvonly", False, False)]))
    m.append((6.1, True, sip("ACK sip:bob@10.0.0.2 SIP/2.0", 4, "ACK", "tb"), None))
    m.append((7.0, True, sip("INFO sip:bob@10.0.0.2 SIP/2.0", 5, "INFO", "tb", b"Signal=5\r\nDuration=160\r\n",
                             ctype="application/dtmf-relay"), None))
    m.append((7.05, False, sip("SIP/2.0 200 OK", 5, "INFO", "tb", to_b=True), None))
    m.append((9.0, True, sip("BYE sip:bob@10.0.0.2 SIP/2.0", 6, "BYE", "tb"), None))
    m.append((9.05, False, sip("SIP/2.0 200 OK", 6, "BYE", "tb", to_b=True), None))
    return m


def tshark_sdp(pcap):
    """Per frame with SDP: (media ports, connection addresses, direction attributes)."""
    p = subprocess.run(["tshark", "-r", pcap, "-Y", "sdp", "-T", "fields", "-E", "separator=|",
                        "-e", "frame.number", "-e", "sdp.media.port", "-e", "sdp.connection_info.address",
                        "-e", "sdp.media_attr"], capture_output=True, text=True, timeout=120)
    out = {}
    for line in p.stdout.splitlines():
        fno, ports, addrs, attrs = (line.split("|") + ["", "", "", ""])[:4]
        out[int(fno)] = ([int(x) for x in ports.split(",") if x], [x for x in addrs.split(",") if x],
                         [x for x in attrs.split(",") if x in ("sendrecv", "sendonly", "recvonly", "inactive")])
    return out


def main():
    a = parse_args()
    if not shutil.which("tshark"):
        print("skipped: tshark is not installed")
        return 77
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap, db = os.path.join(a.work, "sdp.pcap"), os.path.join(a.work, "sdp.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    msgs = messages()
    with open(pcap, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, a_to_b, payload, _ in msgs:
            out.write(frame(t, A, 5060, B, 5060, payload) if a_to_b else frame(t, B, 5060, A, 5060, payload))
    r = subprocess.run([a.bin, "analyze", "--quiet", "--db", db, pcap], capture_output=True, text=True, timeout=120)
    c.check(r.returncode == 0, f"analyze: {r.stderr[-300:]!r}")
    ref = tshark_sdp(pcap)
    c.check(len(ref) == sum(1 for x in msgs if x[3]), f"tshark sees SDP in {len(ref)} frames")
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--http", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        end = time.time() + 30
        while time.time() < end and port is None:
            line = srv.stdout.readline()
            if "port" in line:
                port = int(line.rsplit("port", 1)[1].split()[0].strip(" ):"))
        c.check(port is not None, "serve came up")
        if port is None:
            return c.done()
        calls = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/calls"))["calls"]
        c.check(len(calls) == 1, f"one call ({len(calls)})")
        d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/calls/{calls[0]['id']}"))
        got = d["messages"]
        c.check(len(got) == len(msgs), f"{len(got)} messages for {len(msgs)} sent")
        for i, (m, (_, _, payload, want)) in enumerate(zip(got, msgs)):
            tag = f"#{m['n']} {m['first_line'][:24]}"
            c.check(m["first_line"] == payload.split(b"\r\n")[0].decode(), f"{tag}: in capture order")
            if want is None:
                c.check(m["sdp"] is None, f"{tag}: no SDP summary ({m['sdp']})")
                continue
            s = m["sdp"] or {"media": []}
            have = [(x["type"], x["addr"], x["port"], x["codecs"], x["dir"], x["hold"], x["srtp"]) for x in s["media"]]
            c.check(have == want, f"{tag}: {have} != {want}")
            ports, addrs, dirs = ref.get(i + 1, ([], [], []))
            c.check([x["port"] for x in s["media"]] == ports, f"{tag}: ports {ports} (tshark)")
            # tshark lists each c= line once; the API resolves the one in effect per section
            c.check(all(x["addr"] in addrs for x in s["media"]), f"{tag}: addresses in tshark's {addrs}")
            c.check(all(x["dir"] == (dirs[0] if dirs else "sendrecv") for x in s["media"]),
                    f"{tag}: direction as tshark's attributes {dirs}")
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    err = srv.stderr.read()
    c.check("AddressSanitizer" not in err and "runtime error" not in err, "no sanitizer report from serve")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
