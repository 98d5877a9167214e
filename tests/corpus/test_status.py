"""The long-running commands log one status line per period (a minute by
default; --status-interval here, so that the test is short): `collect` with
the HEP messages it took (SIP messages of a shared capture sent over
127.0.0.1) and `capture` on the loopback interface (root only: that part
says it was skipped without it)."""
import os
import re
import subprocess
import sys
import time

from manifest import Checker, parse_args
from test_hep_collect import Collector, send_hep, sip_messages


def status_lines(path):
    try:
        return [l for l in open(path, errors="replace") if " status: " in l]
    except OSError:
        return []


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()

    # collect: SIP of a shared capture as HEP, then two periods
    log = os.path.join(a.work, "collect.log")
    if os.path.exists(log):
        os.unlink(log)
    col = Collector(a.bin, a.work, "status", ["127.0.0.1:0/udp"],
                    extra=["--status-interval", "1", "--log", log])
    try:
        ports = col.ports()
        c.check(bool(ports), f"collector ports: {ports} {col.err()[-300:]}")
        msgs = sip_messages(os.path.join(a.shared, "pcaps", "sipnab_sip-rtp-g711.pcap"))
        if ports:
            send_hep(msgs, ports[0]["port"] if isinstance(ports[0], dict) else ports[0])
        time.sleep(2.6)
    finally:
        rc, _, _ = col.stop()
    c.check(rc == 0, f"collect stopped: rc={rc}")
    lines = status_lines(log)
    c.check(len(lines) >= 2, f"collect: a status line each period: {len(lines)}")
    want = "HEP %d SIP" % len(msgs)
    c.check(any(want in l for l in lines), f"collect: '{want}' in the last lines: {lines[-1:]}")
    c.check(all(re.search(r"\(\d+/s\)", l) for l in lines), "collect: each line has a rate")

    # capture on lo (CAP_NET_RAW): packets counted, rates and drops shown
    if os.geteuid() != 0:
        print("capture part skipped: needs root")
    else:
        log = os.path.join(a.work, "capture.log")
        if os.path.exists(log):
            os.unlink(log)
        p = subprocess.run([a.bin, "capture", "-i", "lo", "--duration", "3",
                            "--status-interval", "1", "--log", log],
                           capture_output=True, timeout=60)
        c.check(p.returncode == 0, f"capture on lo: rc={p.returncode} {p.stderr[-300:]!r}")
        lines = status_lines(log)
        c.check(len(lines) >= 2, f"capture: a status line each second: {len(lines)}")
        c.check(all(re.search(r"status: \d+ packets \(\d+/s\), [\d.]+ MB .* drops: kernel \d+", l)
                    for l in lines), f"capture: status line fields: {lines[:1]}")
    rc = subprocess.run([a.bin, "collect", "--hep-listen", "127.0.0.1:0", "--status-interval", "0"],
                        capture_output=True, timeout=30)
    c.check(rc.returncode == 2 and b"--status-interval" in rc.stderr, "bad --status-interval: exit 2")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
