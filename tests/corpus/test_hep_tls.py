#!/usr/bin/env python3
"""HEP's TLS hop (issue 26): a HEP agent that traced SIP over TLS sends the
message as its stack handled it, in plaintext, and Kamailio's siptrace
puts 22 in the HEP IP-protocol chunk for it (its placeholder for tls:, ws:
and wss:). The SIP of a real TLS session (bench/tls_capture.py: Python's
ssl, that is OpenSSL; its plaintext twin OUT-tcp.pcap) is wrapped segment
by segment in HEPv3 with IP protocol 22, and as the control with 6, into
UDP datagrams to port 9060 of a capture: `analyze` reads as many SIP
messages as tshark decrypts from the TLS capture with its key log, and
every leg has transport TLS (from its Via) both ways. Needs openssl (for
the generator) and tshark; exit 77 otherwise."""
import json
import os
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from test_hep_collect import chunk  # noqa: E402
from tlscap import made, preamble, tshark_sip  # noqa: E402


def hep3(proto, src, dst, sport, dport, ts_ns, payload):
    """One HEPv3 SIP packet (IPv4) with IP protocol proto."""
    b = chunk(1, bytes([2])) + chunk(2, bytes([proto]))
    b += chunk(3, src) + chunk(4, dst) + chunk(7, struct.pack("!H", sport))
    b += chunk(8, struct.pack("!H", dport)) + chunk(9, struct.pack("!I", ts_ns // 10**9))
    b += chunk(10, struct.pack("!I", ts_ns % 10**9 // 1000)) + chunk(11, bytes([1]))
    b += chunk(12, struct.pack("!I", 1)) + chunk(15, payload)
    return b"HEP3" + struct.pack("!H", 6 + len(b)) + b


def hep_capture(plain, out, proto):
    """Each TCP payload of the plaintext capture as HEP to 192.0.2.2:9060."""
    p = subprocess.run(["tshark", "-n", "-r", plain, "-Y", "tcp.len>0", "-T", "fields",
                        "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ip.dst", "-e", "tcp.srcport",
                        "-e", "tcp.dstport", "-e", "tcp.payload"],
                       capture_output=True, text=True, timeout=120, check=True)
    n = 0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for line in p.stdout.splitlines():
            t, s, d, sp, dp, pl = line.split("\t")
            ts = int(round(float(t) * 1e9))
            h = hep3(proto, socket.inet_aton(s), socket.inet_aton(d), int(sp), int(dp), ts,
                     bytes.fromhex(pl.replace(":", "")))
            udp = struct.pack("!HHHH", 9999, 9060, 8 + len(h), 0) + h
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2")) + udp
            eth = b"\x00" * 12 + b"\x08\x00" + ip
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9 // 1000, len(eth), len(eth)) + eth)
            n += 1
    return n


def main():
    a, work, c = preamble(("openssl", "tshark"))
    base = os.path.join(work, "s")
    made(base, ["--tls12", "ECDHE-RSA-AES128-GCM-SHA256"])
    want, _, _, cids = tshark_sip(base + "-tls.pcap", ["-o", f"tls.keylog_file:{base}-tls.keys"])
    print(f"tshark decrypts {want} SIP messages, {len(cids)} Call-IDs")
    c.check(want > 0, "tshark decrypts SIP from the TLS capture")
    for proto in (22, 6):
        hp = os.path.join(work, f"hep{proto}.pcap")
        segs = hep_capture(base + "-tcp.pcap", hp, proto)
        p = subprocess.run([a.bin, "analyze", "--json", hp], capture_output=True, text=True,
                           timeout=120)
        c.check(p.returncode == 0, f"proto {proto}: analyze exit {p.returncode}: {p.stderr[-300:]}")
        d = json.loads(p.stdout or "{}")
        legs = [leg for call in d.get("calls", []) for leg in call["legs"]]
        got = d.get("sip", {}).get("messages")
        print(f"HEP IP protocol {proto}: {segs} HEP packets, {d.get('hep')}, {got} SIP messages, "
              f"legs {[(leg['call_id'][:8], leg['transport']) for leg in legs]}")
        c.check(d.get("hep", {}).get("packets") == segs, f"proto {proto}: every HEP packet read")
        c.check(got == want, f"proto {proto}: {got} SIP messages, tshark {want}")
        c.check({leg["call_id"] for leg in legs} == cids and legs and
                all(leg["transport"] == "TLS" for leg in legs),
                f"proto {proto}: every Call-ID a leg of transport TLS: "
                f"{[(leg['call_id'], leg['transport']) for leg in legs]}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
