"""A two-site database for the dashboard test: a generated branch capture's
SIP goes as HEP to one `trunkscope collect --db`, the messages of the
branch's addresses from a sender named "branch", the rest from "hq" (the
site of a leg is its sender's node name). Prints the database path.
usage: python3 sites_db.py TRUNKSCOPE WORKDIR"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "corpus"))

import subprocess  # noqa: E402

from test_hep_collect import Collector, send_hep, sip_messages, wait_accepted  # noqa: E402
from test_hep_sites import BRANCH_IPS, ipstr  # noqa: E402


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    pcap = os.path.join(work, "sites.pcap")
    db = os.path.join(work, "sites.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    subprocess.run([binary, "gen", "-o", pcap, "--branch", "--calls", "40", "--seed", "5"],
                   capture_output=True, check=True, timeout=300)
    msgs = sip_messages(pcap)
    at_branch = [ipstr(m[1], m[2]) in BRANCH_IPS or ipstr(m[1], m[3]) in BRANCH_IPS for m in msgs]
    branch = [m for m, b in zip(msgs, at_branch) if b]
    hq = [m for m, b in zip(msgs, at_branch) if not b]
    if not branch or not hq:
        sys.exit(f"sites_db: {len(branch)} branch and {len(hq)} hq messages")
    col = Collector(binary, work, "sites", ["127.0.0.1:0/udp"], ["--db", db])
    try:
        ports = col.ports()
        if not ports:
            sys.exit("sites_db: collector did not start: " + col.err())
        send_hep(hq, ports[0], node_name=b"hq", node_id=1, pace=0.005)
        send_hep(branch, ports[0], node_name=b"branch", node_id=2, pace=0.005)
        st = wait_accepted(col, len(msgs))
        if st.get("sip") != len(msgs):
            sys.exit(f"sites_db: collector took {st.get('sip')} of {len(msgs)} messages")
    finally:
        rc, _, _ = col.stop()
    if rc != 0:
        sys.exit(f"sites_db: collector exit {rc}: {col.err()[-300:]}")
    print(db)


if __name__ == "__main__":
    main()
