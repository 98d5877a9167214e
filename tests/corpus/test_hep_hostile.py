"""The HEP collector on a hostile network (loopback only): a generated
capture is replayed as HEP3 by a sensor while an attacker (1) sends a SIP
packet dated in the future, (2) holds 300 idle TCP connections, (3) floods
with a wrong auth key from the sensor's own address; and the operator sends
SIGHUP (config reload, log rotation) in the middle. Each time every truth
call must come out with its outcome, every sensor message accepted."""
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

from manifest import Checker, analyze, parse_args
from test_hep_collect import (Collector, call_id, check_calls, hep3, sip_messages,
                              wait_accepted)

KEY = b"s3cret-key"


def connect_from(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def packets(msgs, key=KEY, node=b"site-a"):
    out = []
    for ts, fam, src, dst, sp, dp, pl in msgs:
        out.append(hep3(fam, src, dst, sp, dp, ts, pl, node_id=7, node_name=node, key=key,
                        cid=call_id(pl)))
    return out


def send_tcp(sock, pkts, per_burst=100, pause=0.0):
    """True when every packet went out (the collector may close on us)."""
    try:
        for i in range(0, len(pkts), per_burst):
            sock.sendall(b"".join(pkts[i:i + per_burst]))
            if pause:
                time.sleep(pause)
    except OSError as e:
        print(f"send: {e}")
        return False
    return True


def future_packet(key=b""):
    """A SIP OPTIONS dated an hour ahead of this host's clock."""
    pl = (b"OPTIONS sip:probe@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKf\r\n"
          b"From: <sip:a@192.0.2.8>;tag=1\r\nTo: <sip:probe@192.0.2.9>\r\nCall-ID: future-1\r\n"
          b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    ts = time.time_ns() + 3600 * 10**9
    return hep3(4, bytes([192, 0, 2, 8]), bytes([192, 0, 2, 9]), 5060, 5060, ts, pl,
                node_id=9, node_name=b"evil", key=key)


def sender(st, addr):
    for s in st.get("senders", []):
        if s.get("addr") == addr:
            return s
    return {}


def finish(c, tag, col, truth, offline, n_sensor, extra_ok=()):
    rc, doc, st = col.stop()
    c.check(rc == 0, f"{tag}: collector exit code {rc}: {col.err()[-400:]!r}")
    c.check(st.get("sip", 0) >= n_sensor, f"{tag}: {st.get('sip')} SIP < {n_sensor} sent")
    check_calls(c, tag, truth, doc, offline)
    return st


def t_future(c, a, msgs, truth, offline):
    """A datagram dated an hour ahead, mid-replay, from another address."""
    col = Collector(a.bin, a.work, "future", ["127.0.0.1:0/udp"])
    try:
        ports = col.ports()
        if not (bool(ports)):
            c.check(False, f"future: collector came up: {col.err()!r}")
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", ports[0]))
        pk = packets(msgs, key=b"")
        half = len(pk) // 2
        for i, p in enumerate(pk[:half]):
            s.send(p)
            if i % 200 == 199:
                time.sleep(0.005)
        evil = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        evil.bind(("127.0.0.2", 0))
        evil.sendto(future_packet(), ("127.0.0.1", ports[0]))
        time.sleep(0.5)  # idle ticks run in between: the old clock would age every call
        for i, p in enumerate(pk[half:]):
            s.send(p)
            if i % 200 == 199:
                time.sleep(0.005)
        wait_accepted(col, len(pk) + 1)
        time.sleep(0.5)
    finally:
        st = finish(c, "future", col, truth, offline, len(msgs))
    ev = sender(st, "127.0.0.2")
    c.check(ev.get("clock_ahead") == 1 and st.get("clock_ahead") == 1,
            f"future: the future time counted on its sender: {ev}")


def t_idle_tcp(c, a, msgs, truth, offline):
    """300 idle TCP connections (15 from each of 20 addresses), then the
    sensor connects and sends everything."""
    keyf = os.path.join(a.work, "key")
    col = Collector(a.bin, a.work, "idle", ["127.0.0.1:0/tcp"], ["--hep-auth-key-file", keyf])
    idle = []
    try:
        ports = col.ports()
        if not (bool(ports)):
            c.check(False, f"idle: collector came up: {col.err()!r}")
            return
        for k in range(300):
            try:
                idle.append(connect_from(ports[0], f"127.0.0.{2 + k // 15}"))
            except OSError as e:
                c.check(False, f"idle: connection {k}: {e}")
                break
        time.sleep(1.0)
        sock = connect_from(ports[0], "127.0.0.1")
        c.check(send_tcp(sock, packets(msgs), pause=0.01), "idle: the sensor could send")
        st = wait_accepted(col, len(msgs), timeout=30)
        sock.close()
        time.sleep(0.3)
    finally:
        st = finish(c, "idle", col, truth, offline, len(msgs))
        for s in idle:
            s.close()
    c.check(st.get("accepted") == len(msgs), f"idle: {st.get('accepted')} accepted != {len(msgs)}")
    c.check(st.get("tcp_accepted", 0) >= 301 and st.get("tcp_evicted", 0) >= 45,
            f"idle: connections accepted {st.get('tcp_accepted')}, evicted {st.get('tcp_evicted')}")
    c.check(st.get("tcp_refused") == 0, f"idle: refused {st.get('tcp_refused')}")


def t_flood(c, a, msgs, truth, offline):
    """The sensor (TCP, 127.0.0.1) sends at its own rate while a flood with a
    wrong key comes from the same address over UDP."""
    keyf = os.path.join(a.work, "key")
    col = Collector(a.bin, a.work, "flood", ["127.0.0.1:0/tcp", "127.0.0.1:0/udp"],
                    ["--hep-auth-key-file", keyf, "--hep-rate", "1000", "--hep-burst", "1000"])
    stop = threading.Event()
    sent = [0]

    def flood(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        bad = packets(msgs[:50], key=b"wrong-key")
        while not stop.is_set():
            for p in bad:
                try:
                    s.sendto(p, ("127.0.0.1", port))
                    sent[0] += 1
                except OSError:
                    pass
    try:
        ports = col.ports()
        if not (bool(ports) and len(ports) == 2):
            c.check(False, f"flood: collector came up: {col.err()!r}")
            return
        th = threading.Thread(target=flood, args=(ports[1],))
        th.start()
        time.sleep(0.3)
        sock = connect_from(ports[0], "127.0.0.1")
        # 100 messages every 0.15 s: about 670/s, under the 1000/s of the sensor
        send_tcp(sock, packets(msgs), per_burst=100, pause=0.15)
        time.sleep(0.5)
        stop.set()
        th.join()
        sock.close()
        time.sleep(0.5)
    finally:
        stop.set()
        st = finish(c, "flood", col, truth, offline, len(msgs))
    me = sender(st, "127.0.0.1")
    c.check(me.get("accepted") == len(msgs) and me.get("rate_limited") == 0,
            f"flood: the sensor got {me.get('accepted')} of {len(msgs)} through, "
            f"{me.get('rate_limited')} rate-limited")
    c.check(st.get("unauthenticated", 0) + st.get("unauth_limited", 0) >= 3 * len(msgs),
            f"flood: the flood arrived ({sent[0]} sent, {st.get('unauthenticated')} "
            f"unauthenticated, {st.get('kernel_drops')} dropped by the kernel)")


def t_sighup(c, a, msgs, truth, offline):
    """SIGHUP three times while the sensor sends, the log rotated in between."""
    keyf = os.path.join(a.work, "key")
    cfg = os.path.join(a.work, "hup.conf")
    log = os.path.join(a.work, "hup.log")
    for p in (log, log + ".1"):
        if os.path.exists(p):
            os.unlink(p)
    with open(cfg, "w") as f:
        f.write("corr_window_ms = 2000\n")
    col = Collector(a.bin, a.work, "hup", ["127.0.0.1:0/tcp"],
                    ["--hep-auth-key-file", keyf, "--config", cfg, "--log", log])
    try:
        ports = col.ports()
        if not (bool(ports)):
            c.check(False, f"hup: collector came up: {col.err()!r}")
            return
        sock = connect_from(ports[0], "127.0.0.1")
        pk = packets(msgs)
        third = len(pk) // 3
        send_tcp(sock, pk[:third], pause=0.01)
        col.p.send_signal(signal.SIGHUP)
        os.rename(log, log + ".1")
        col.p.send_signal(signal.SIGHUP)
        send_tcp(sock, pk[third:2 * third], pause=0.01)
        col.p.send_signal(signal.SIGHUP)
        send_tcp(sock, pk[2 * third:], pause=0.01)
        wait_accepted(col, len(pk))
        sock.close()
        time.sleep(0.3)
        c.check(col.p.poll() is None, f"hup: collector alive after SIGHUP (rc {col.p.poll()})")
    finally:
        st = finish(c, "hup", col, truth, offline, len(msgs))
    c.check(st.get("accepted") == len(msgs), f"hup: {st.get('accepted')} accepted != {len(msgs)}")
    new_log = open(log).read() if os.path.exists(log) else ""
    c.check("reloaded" in new_log and "collector stopped" in new_log,
            f"hup: the reopened log has the reload and the exit lines: {new_log[-300:]!r}")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap = os.path.join(a.work, "g.pcap")
    import subprocess
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "20", "--seed", "7"],
                   capture_output=True, check=True, timeout=300)
    truth = json.load(open(os.path.join(a.work, "g.truth.json")))
    _, offline, _ = analyze(a.bin, [pcap])
    msgs = sip_messages(pcap)
    c.check(len(msgs) > 100, f"{len(msgs)} SIP messages in the capture")
    with open(os.path.join(a.work, "key"), "wb") as f:
        f.write(KEY + b"\n")
    only = os.environ.get("TS_HOSTILE_ONLY", "")
    for name, fn in (("future", t_future), ("idle", t_idle_tcp), ("flood", t_flood),
                     ("hup", t_sighup)):
        if not only or only == name:
            fn(c, a, msgs, truth, offline)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
