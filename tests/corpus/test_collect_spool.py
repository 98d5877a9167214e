"""`collect --spool`: the HEP collector keeps what HEP brought (SIP and
RTCP, as raw IP frames) in its spool, so that a call it collected exports
as a pcap like a live sensor's. On loopback: a sender wraps every SIP
message and every RTCP packet of a generated capture in HEPv3 (the
capture's addresses, ports and times) and sends it to `trunkscope collect
--db --spool`; then every call of the collector's database is exported
from its spool (CLI, and the API of `serve` on that database) and compared
by tshark with what was sent: the same packets (time to the microsecond
HEP carries, addresses, ports, the UDP payload byte for byte) as the
export of the same call (the same legs' Call-IDs) from the original
capture analysed offline, restricted to SIP and RTCP; and every SIP
message sent with the call's Call-IDs is in it."""
import collections
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

from manifest import Checker, parse_args
from test_hep_collect import (Collector, call_id, hep3, iter_pcap, is_sip, udp_of,
                              wait_accepted)

HEP_RTCP = 5


def skip(reason):
    print(f"skipped: {reason}")
    return 77


def hep_messages(pcap):
    """(ts_ns, proto type, family, src, dst, sport, dport, payload) of every
    UDP SIP message and RTCP packet (RFC 3550 types 200-204) of a capture."""
    out = []
    for ts, lt, data, _ in iter_pcap(pcap):
        u = udp_of(lt, data)
        if not u:
            continue
        pl = u[5]
        if is_sip(pl):
            out.append((ts, 1) + u)
        elif len(pl) >= 8 and pl[0] >> 6 == 2 and 200 <= pl[1] <= 204:
            out.append((ts, HEP_RTCP) + u)
    return out


def send(msgs, port):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    for i, (ts, pt, fam, src, dst, sp, dp, pl) in enumerate(msgs):
        s.send(hep3(fam, src, dst, sp, dp, ts, pl, node_id=3, node_name=b"site-c",
                    proto_type=pt, cid=call_id(pl) if pt == 1 else b""))
        if i % 200 == 199:
            time.sleep(0.005)
    s.close()


def tshark_packets(pcap):
    """Counter of (time in us, ip.src, ip.dst, sport, dport, UDP payload hex)
    of the SIP and RTCP packets tshark reads in pcap; None if it cannot."""
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "sip or rtcp", "-T", "fields",
                        "-E", "occurrence=f", "-e", "frame.time_epoch", "-e", "ip.src",
                        "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport",
                        "-e", "udp.payload"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None
    out = collections.Counter()
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) != 6:
            continue
        sec, _, frac = f[0].partition(".")
        us = int(sec) * 10**6 + int((frac + "000000")[:6])
        out[(us,) + tuple(f[1:5]) + (f[5].replace(":", ""),)] += 1
    return out


def calls_by_legs(db):
    h = sqlite3.connect(db)
    legs = collections.defaultdict(set)
    for ref, cid in h.execute("SELECT call_ref, call_id FROM legs"):
        legs[ref].add(cid)
    h.close()
    return {frozenset(v): k for k, v in legs.items()}


def export(a, db, cid, out):
    r = subprocess.run([a.bin, "export", "--db", db, "--call", str(cid), "-o", out],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def main():
    a = parse_args()
    for tool in ("tshark",):
        if not shutil.which(tool):
            return skip(f"{tool} unavailable (install it)")
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap = os.path.join(a.work, "g.pcap")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "20", "--seed", "7"],
                   capture_output=True, check=True, timeout=300)
    msgs = hep_messages(pcap)
    n_sip = sum(1 for m in msgs if m[1] == 1)
    n_rtcp = len(msgs) - n_sip
    c.check(n_sip > 100 and n_rtcp > 20, f"{n_sip} SIP messages, {n_rtcp} RTCP packets")

    db, spool = os.path.join(a.work, "col.db"), os.path.join(a.work, "spool")
    shutil.rmtree(spool, ignore_errors=True)
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(db + ext):
            os.unlink(db + ext)
    col = Collector(a.bin, a.work, "col", ["127.0.0.1:0/udp"],
                    ["--db", db, "--spool", spool, "--spool-rotate", "10",
                     "--retention-days", "3650"])
    try:
        ports = col.ports()
        c.check(bool(ports), f"collector came up: {col.err()!r}")
        if ports:
            send(msgs, ports[0])
            wait_accepted(col, len(msgs))
            time.sleep(0.5)
    finally:
        rc, doc, st = col.stop()
    c.check(rc == 0, f"collector exit code {rc}: {col.err()[-500:]!r}")
    c.check(st.get("sip") == n_sip and st.get("rtcp") == n_rtcp,
            f"collector took {st.get('sip')} SIP, {st.get('rtcp')} RTCP; sent {n_sip}, {n_rtcp}")
    sp = st.get("spool", {})
    c.check(sp.get("frames") == len(msgs) and sp.get("frames_dropped") == 0
            and sp.get("errors") == 0 and sp.get("files_opened", 0) >= 2,
            f"spool took every frame into several files: {sp}")

    db_off = os.path.join(a.work, "offline.db")
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(db_off + ext):
            os.unlink(db_off + ext)
    subprocess.run([a.bin, "analyze", "--quiet", "--db", db_off, pcap], check=True,
                   capture_output=True, timeout=300)
    live, off = calls_by_legs(db), calls_by_legs(db_off)
    same = sorted(set(live) & set(off), key=sorted)
    c.check(len(same) == len(off) and len(live) == len(off),
            f"calls grouped alike by the collector and offline: {len(same)} of {len(off)} "
            f"({len(live)} collected)")
    sent_sip = collections.Counter()
    for ts, pt, fam, src, dst, sp_, dp, pl in msgs:
        if pt == 1:
            sent_sip[call_id(pl).decode()] += 1

    # the API of a server on the collector's database serves the same pcaps
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--http", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"port (\d+)", srv.stdout.readline() or "")
    c.check(m is not None, "serve printed its port")
    n_pkts = n_rtcp_calls = n_api = 0
    try:
        for legs in same:
            lid, oid = live[legs], off[legs]
            lp = os.path.join(a.work, f"col-{lid}.pcap")
            op = os.path.join(a.work, f"off-{lid}.pcap")
            r1, out1 = export(a, db, lid, lp)
            r2, out2 = export(a, db_off, oid, op)
            c.check(r1 == 0 and "from the spool" in out1,
                    f"collector's export of call {lid}: {out1.strip()}")
            c.check(r2 == 0, f"offline export of call {oid}: {out2.strip()}")
            if r1 or r2:
                continue
            got, want = tshark_packets(lp), tshark_packets(op)
            c.check(got is not None and want and got == want,
                    f"call {sorted(legs)}: spool export differs from what was sent: "
                    f"extra {sorted((got or collections.Counter()) - want)[:3]} "
                    f"missing {sorted(want - (got or collections.Counter()))[:3]}")
            # every SIP message sent with the call's Call-IDs
            sip_in = sum(n for k, n in (got or {}).items() if is_sip(bytes.fromhex(k[5])))
            want_sip = sum(sent_sip[cid] for cid in legs)
            c.check(sip_in == want_sip, f"call {sorted(legs)}: {sip_in} SIP messages in the "
                                        f"export, {want_sip} sent")
            n_pkts += sum((got or {}).values())
            n_rtcp_calls += sip_in < sum((got or {}).values())
            if m:
                url = f"http://127.0.0.1:{m.group(1)}/api/v1/calls/{lid}/pcap"
                ap = os.path.join(a.work, f"api-{lid}.pcap")
                with urllib.request.urlopen(url, timeout=60) as resp, open(ap, "wb") as f:
                    f.write(resp.read())
                c.check(tshark_packets(ap) == want, f"call {lid}: the API's pcap differs")
                n_api += 1
                with urllib.request.urlopen(url[:-5], timeout=60) as resp:
                    d = json.loads(resp.read().decode())
                c.check(d.get("packets") == "spool" and d.get("pcap_available") is True,
                        f"call {lid}: packets {d.get('packets')}")
    finally:
        srv.send_signal(signal.SIGINT)
        srv.wait(timeout=30)
    c.check(n_rtcp_calls >= 5, f"calls whose export holds RTCP: {n_rtcp_calls}")
    print(f"collect --spool: {len(msgs)} HEP packets ({n_sip} SIP, {n_rtcp} RTCP) -> "
          f"{sp.get('bytes_written')} bytes in {sp.get('files_opened')} spool files; "
          f"{len(same)} calls exported from it ({n_pkts} packets, {n_rtcp_calls} with RTCP, "
          f"{n_api} through the API) equal, per tshark, what was sent")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
