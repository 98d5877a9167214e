"""Interoperability of `trunkscope collect` with other HEP agents on
loopback: sngrep replays a generated capture as HEPv3 (-I FILE -H udp:...),
and Kamailio with the siptrace module (HEPv3) relays SIPp calls inside a
network namespace. The calls that arrive must be those the senders saw.
Each part prints a 'skipped:' line when its tool or root is missing; the test
then exits 77 (ctest: skipped) unless a part failed."""
import json
import os
import shutil
import subprocess
import sys
import time

from manifest import Checker, analyze, parse_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import netns  # noqa: E402  (tests/netns.py)
from test_hep_collect import (Collector, iter_pcap, pcap_header, sip_messages, udp_of,
                              is_sip, wait_accepted)

KAMAILIO_CFG = r"""#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=1
listen=udp:127.0.0.1:5070
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:HEPPORT")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "hep_capture_id", 77)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_mode", 1)
request_route {
    if (is_method("INVITE") && !has_totag()) record_route();
    if (has_totag()) { loose_route(); t_relay(); exit; }
    $du = "sip:127.0.0.1:5080";
    t_relay();
}
"""


SKIPPED = []


def skip(reason):
    SKIPPED.append(reason)
    print(f"skipped: {reason}")


def sngrep_part(a, c):
    if not shutil.which("sngrep"):
        skip("sngrep interop (install sngrep)")
        return
    pcap = os.path.join(a.work, "s.pcap")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "12", "--seed", "3"],
                   capture_output=True, check=True, timeout=300)
    # sngrep forwards SIP only: the reference is the offline analysis of
    # the capture's SIP packets (no media evidence for correlation)
    sip_only = os.path.join(a.work, "s-sip.pcap")
    with open(sip_only, "wb") as f:
        f.write(pcap_header(pcap))
        for _, lt, data, raw in iter_pcap(pcap):
            u = udp_of(lt, data)
            if u and is_sip(u[5]):
                f.write(raw)
    _, offline, _ = analyze(a.bin, [sip_only])
    nmsg = len(sip_messages(pcap))
    col = Collector(a.bin, a.work, "sngrep-col", ["127.0.0.1:0/udp"])
    try:
        ports = col.ports()
        c.check(bool(ports), f"sngrep: collector came up {col.err()!r}")
        if not ports:
            return
        env = dict(os.environ, TERM="dumb")
        p = subprocess.run(["sngrep", "-N", "-q", "-F", "-I", pcap, "-H",
                            f"udp:127.0.0.1:{ports[0]}"], env=env, capture_output=True,
                           text=True, timeout=300, stdin=subprocess.DEVNULL)
        c.check(p.returncode == 0, f"sngrep rc={p.returncode} {p.stderr[-300:]!r}")
        wait_accepted(col, nmsg, timeout=20)
        time.sleep(0.5)
    finally:
        rc, doc, st = col.stop()
    c.check(rc == 0, f"sngrep: collector rc {rc}")
    c.check(st.get("accepted") == nmsg and st.get("sip") == nmsg,
            f"sngrep: {st.get('accepted')} accepted, {st.get('sip')} SIP != {nmsg} in the capture")
    def groups(d):
        return sorted((sorted(leg["call_id"] for leg in call.get("legs", [])),
                       call.get("outcome")) for call in (d or {}).get("calls", []))
    c.check(groups(doc) == groups(offline) and groups(doc),
            f"sngrep: calls differ from the offline analysis:\n{groups(doc)}\n{groups(offline)}")


def kamailio_part(a, c):
    why = netns.missing([("kamailio", "kamailio"), ("sipp", "sip-tester")])
    if why:
        skip(f"Kamailio interop ({why})")
        return
    kam = netns.tool("kamailio")
    col = None
    ncalls = 5
    with netns.Lab("tsk") as lab:
        try:
            ns = lab.add("k")
            col = Collector(a.bin, a.work, "kam-col", ["127.0.0.1:0/udp"], netns=ns)
            ports = col.ports()
            c.check(bool(ports), f"kamailio: collector came up {col.err()!r}")
            if not ports:
                return
            cfg = os.path.join(a.work, "kamailio.cfg")
            with open(cfg, "w") as f:
                f.write(KAMAILIO_CFG.replace("HEPPORT", str(ports[0])))
            klog = os.path.join(a.work, "kamailio.log")
            kp = lab.start("k", [kam, "-DD", "-E", "-f", cfg, "-w", a.work, "-m", "256",
                                 "-M", "16"], log=klog)
            time.sleep(2)
            c.check(kp.poll() is None, "kamailio running: " + open(klog).read()[-400:])
            if kp.poll() is not None:
                return
            time.sleep(1)
            lab.start("k", ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", "5080", "-nostdin"])
            time.sleep(1)
            uac = lab.exec_("k", "sipp", "-sn", "uac", "-i", "127.0.0.1", "-p", "5090",
                            "-m", ncalls, "-r", "5", "-d", "500", "-nostdin",
                            "127.0.0.1:5070", check=False, timeout=120)
            c.check(uac.returncode == 0, f"sipp uac rc={uac.returncode} {uac.stderr[-300:]!r}")
            time.sleep(2)
        finally:
            if col:  # before the namespace goes
                rc, doc, st = col.stop()
    if col is None or not ports:
        return
    c.check(rc == 0, f"kamailio: collector rc {rc}")
    calls = (doc or {}).get("calls", [])
    # each SIPp call crosses Kamailio: two legs (uac->kamailio, kamailio->uas)
    # with the same Call-ID; the collector must report the SIPp calls, answered
    c.check(len(calls) == ncalls, f"kamailio: {len(calls)} calls != {ncalls}")
    c.check(all(call.get("outcome") == "answered" for call in calls),
            f"kamailio: outcomes {[call.get('outcome') for call in calls]}")
    c.check(st.get("accepted", 0) > 0 and st.get("malformed", 1) == 0,
            f"kamailio: HEP counters {st}")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    p = subprocess.run([a.bin, "collect", "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL: this build has no collect command")
        return 1
    c = Checker()
    sngrep_part(a, c)
    kamailio_part(a, c)
    if SKIPPED and not c.failed:
        print(f"{c.passed} passed, 0 failed, {len(SKIPPED)} part(s) skipped")
        return 77
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
