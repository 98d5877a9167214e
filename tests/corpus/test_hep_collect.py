"""The HEP collector end to end on loopback: `trunkscope collect` listens on
127.0.0.1 (UDP, then TCP); a sender in this test reads a generated capture,
wraps every SIP message in HEPv3 (the capture's addresses, ports and times,
node name as the site) and sends it. The calls the collector reports must be
the truth file's (legs grouped the same, same outcomes), the same as offline
analysis of the capture; a wrong auth key is counted and ignored. Also holds
the helpers the other HEP tests import (pcap reading, HEP encoding, a
collector process)."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

from manifest import Checker, analyze, parse_args



# ---- capture reading ----

def iter_pcap(path):
    """(ts_ns, linktype, bytes, raw record header+data) of a classic pcap file."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = hdr[:4]
        order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack(order + "I", hdr[20:24])[0]
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, _ = struct.unpack(order + "IIII", rh)
            data = f.read(incl)
            ts = sec * 10**9 + (frac if nano else frac * 1000)
            yield ts, linktype, data, rh + data


def pcap_header(path):
    with open(path, "rb") as f:
        return f.read(24)


def parse_ip(linktype, data):
    """(family, src bytes, dst bytes, l4 proto, l4 bytes) or None. Ethernet
    with VLAN tags, or raw IP."""
    off = 0
    if linktype == 1:
        if len(data) < 14:
            return None
        et = struct.unpack("!H", data[12:14])[0]
        off = 14
        while et in (0x8100, 0x88A8) and len(data) >= off + 4:
            et = struct.unpack("!H", data[off + 2:off + 4])[0]
            off += 4
        if et not in (0x0800, 0x86DD):
            return None
    elif linktype not in (101, 12):
        return None
    ip = data[off:]
    if len(ip) < 20:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
            return None  # fragments: not in generated captures
        return 4, ip[12:16], ip[16:20], ip[9], ip[ihl:total]
    if ip[0] >> 4 == 6 and len(ip) >= 40:
        plen = struct.unpack("!H", ip[4:6])[0]
        return 6, ip[8:24], ip[24:40], ip[6], ip[40:40 + plen]
    return None


def udp_of(linktype, data):
    """(family, src, dst, sport, dport, payload) of a UDP packet, else None."""
    p = parse_ip(linktype, data)
    if not p or p[3] != 17 or len(p[4]) < 8:
        return None
    sport, dport, ulen = struct.unpack("!HHH", p[4][:6])
    return p[0], p[1], p[2], sport, dport, p[4][8:ulen]


SIP_STARTS = (b"INVITE ", b"ACK ", b"BYE ", b"CANCEL ", b"OPTIONS ", b"REGISTER ", b"PRACK ",
              b"UPDATE ", b"INFO ", b"REFER ", b"NOTIFY ", b"SUBSCRIBE ", b"MESSAGE ",
              b"PUBLISH ", b"SIP/2.0 ")


def is_sip(payload):
    return payload.startswith(SIP_STARTS)


def call_id(payload):
    for line in payload.split(b"\r\n"):
        low = line.lower()
        if low.startswith(b"call-id:") or low.startswith(b"i:"):
            return line.split(b":", 1)[1].strip()
        if not line:
            break
    return b""


def sip_messages(pcap):
    """Every UDP SIP message of a capture: (ts_ns, family, src, dst, sport, dport, payload)."""
    out = []
    for ts, lt, data, _ in iter_pcap(pcap):
        u = udp_of(lt, data)
        if u and is_sip(u[5]):
            out.append((ts,) + u)
    return out


# ---- HEPv3 ----

def chunk(t, v):
    return struct.pack("!HHH", 0, t, 6 + len(v)) + v


def hep3(fam, src, dst, sport, dport, ts_ns, payload, node_id=0, node_name=b"",
         key=b"", proto_type=1, cid=b""):
    b = chunk(1, bytes([2 if fam == 4 else 10])) + chunk(2, bytes([17]))
    b += chunk(3 if fam == 4 else 5, src) + chunk(4 if fam == 4 else 6, dst)
    b += chunk(7, struct.pack("!H", sport)) + chunk(8, struct.pack("!H", dport))
    b += chunk(9, struct.pack("!I", ts_ns // 10**9))
    b += chunk(10, struct.pack("!I", ts_ns % 10**9 // 1000))
    b += chunk(11, bytes([proto_type])) + chunk(12, struct.pack("!I", node_id))
    if key:
        b += chunk(14, key)
    if cid:
        b += chunk(17, cid)
    if node_name:
        b += chunk(19, node_name)
    b += chunk(15, payload)
    return b"HEP3" + struct.pack("!H", 6 + len(b)) + b


def send_hep(msgs, port, tcp=False, node_name=b"site-a", node_id=7, key=b"", pace=0):
    """Send the messages as HEP3 to 127.0.0.1:port; pace: pause every 200."""
    if tcp:
        s = socket.create_connection(("127.0.0.1", port))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", port))
    for i, m in enumerate(msgs):
        ts, fam, src, dst, sp, dp, pl = m
        pkt = hep3(fam, src, dst, sp, dp, ts, pl, node_id=node_id, node_name=node_name,
                   key=key, cid=call_id(pl))
        if tcp:
            s.sendall(pkt)
        else:
            s.send(pkt)
        if pace and i % 200 == 199:
            time.sleep(pace)
    s.close()


# ---- the collector process ----

class Collector:
    """`trunkscope collect` with a stats file; ports() reads the bound ports."""

    def __init__(self, binary, work, name, listen, extra=(), netns=None):
        self.stats = os.path.join(work, name + ".stats.json")
        self.out_path = os.path.join(work, name + ".out.json")
        self.err_path = os.path.join(work, name + ".err")
        for p in (self.stats,):
            if os.path.exists(p):
                os.unlink(p)
        cmd = [binary, "collect", "--stats-file", self.stats, "--json", "--duration", "600"]
        for spec in listen:
            cmd += ["--hep-listen", spec]
        cmd += list(extra)
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.p = subprocess.Popen(cmd, stdout=out, stderr=err)

    def ports(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.p.poll() is not None:
                return None
            try:
                return json.load(open(self.stats))["ports"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        return None

    def stop(self):
        """SIGTERM, wait; returns (exit code, report or None, stats or {})."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        try:
            doc = json.load(open(self.out_path))
        except (OSError, ValueError):
            doc = None
        try:
            st = json.load(open(self.stats))
        except (OSError, ValueError):
            st = {}
        return rc, doc, st

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def err(self):
        try:
            return open(self.err_path).read()
        except OSError:
            return ""


def legs_by_callid(doc):
    out = {}
    for call in doc.get("calls", []) if doc else []:
        for leg in call.get("legs", []):
            out[leg["call_id"]] = call
    return out


def check_calls(c, tag, truth, doc, offline):
    """Every truth call is one reported call with its legs and outcome."""
    got_by_id = legs_by_callid(doc)
    off_by_id = legs_by_callid(offline)
    for tc in truth["calls"]:
        ids = [leg["call_id"] for leg in tc["legs"]]
        got = {id(got_by_id.get(i)) for i in ids}
        call = got_by_id.get(ids[0])
        c.check(call is not None and len(got) == 1,
                f"{tag}: truth call {tc['id']}: legs {ids} not one call")
        if call is None:
            continue
        c.check(len(call["legs"]) == len(ids),
                f"{tag}: truth call {tc['id']}: {len(call['legs'])} legs != {len(ids)}")
        off = off_by_id.get(ids[0])
        want = {tc["outcome"]} | ({off["outcome"]} if off else set())
        c.check(call["outcome"] in want,
                f"{tag}: truth call {tc['id']}: outcome {call['outcome']} not in {want}")
    n = len(doc.get("calls", [])) if doc else -1
    c.check(n == len(truth["calls"]), f"{tag}: {n} calls != {len(truth['calls'])}")


def wait_accepted(col, n, timeout=60):
    end = time.time() + timeout
    st = {}
    while time.time() < end:
        try:
            st = json.load(open(col.stats))
        except (OSError, ValueError):
            st = {}
        if st.get("accepted", 0) + st.get("unauthenticated", 0) >= n:
            return st
        time.sleep(0.2)
    return st


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    p = subprocess.run([a.bin, "collect", "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL: this build has no collect command")
        return 1
    c = Checker()
    pcap = os.path.join(a.work, "g.pcap")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "20", "--seed", "7"],
                   capture_output=True, check=True, timeout=300)
    truth = json.load(open(os.path.join(a.work, "g.truth.json")))
    _, offline, _ = analyze(a.bin, [pcap])
    msgs = sip_messages(pcap)
    c.check(len(msgs) > 100, f"{len(msgs)} SIP messages in the capture")
    keyf = os.path.join(a.work, "key")
    with open(keyf, "w") as f:
        f.write("s3cret-key\n")

    for tcp in (False, True):
        tp = "tcp" if tcp else "udp"
        col = Collector(a.bin, a.work, "col-" + tp, [f"127.0.0.1:0/{tp}"],
                        ["--hep-auth-key-file", keyf])
        try:
            ports = col.ports()
            c.check(bool(ports), f"{tp}: collector came up: {col.err()!r}")
            if not ports:
                continue
            # a sender with the wrong key first: counted, nothing analysed
            send_hep(msgs[:10], ports[0], tcp=tcp, key=b"wrong")
            send_hep(msgs, ports[0], tcp=tcp, key=b"s3cret-key", pace=0.005)
            st = wait_accepted(col, len(msgs) + 10)
            time.sleep(0.5)
        finally:
            rc, doc, st = col.stop()
        c.check(rc == 0, f"{tp}: collector exit code {rc}: {col.err()[-500:]!r}")
        c.check(st.get("final") is True, f"{tp}: final stats written")
        c.check(st.get("packets") == len(msgs) + 10,
                f"{tp}: {st.get('packets')} HEP packets != {len(msgs) + 10} sent")
        c.check(st.get("unauthenticated") == 10, f"{tp}: unauthenticated {st.get('unauthenticated')}")
        c.check(st.get("sip") == len(msgs), f"{tp}: {st.get('sip')} SIP != {len(msgs)}")
        c.check(st.get("rate_limited") == 0 and st.get("malformed") == 0,
                f"{tp}: nothing rate-limited or malformed: {st}")
        senders = st.get("senders", [])
        c.check(len(senders) == 1 and senders[0].get("node_name") == "site-a",
                f"{tp}: one sender named site-a: {senders}")
        c.check(doc is not None and doc.get("sip", {}).get("messages") == len(msgs),
                f"{tp}: report sip.messages")
        check_calls(c, tp, truth, doc, offline)
        sites = {leg.get("site") for call in (doc or {}).get("calls", [])
                 for leg in call.get("legs", [])}
        if sites != {None}:  # the report shows sites once the lead wires them
            c.check(sites == {"site-a"}, f"{tp}: leg sites {sites}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
