#!/usr/bin/env python3
"""trunkscope learns a real SBC from one or two calls (issue 21, the mirror
rule): the testbed of sbc_lab.py (Kamailio with topoh and rtpengine,
dual-homed with private addresses on both sides, SIPp as the PBX and the
carriers) relays 1 answered call, then 2 calls (answered, busy);
`trunkscope analyze --json` runs on each capture with NO configuration.

What is checked, and against what:
- the testbed, from the components' own logs (truth.json): every call
  finished with the final response the carrier's behaviour implies;
- every truth call is one analyser call holding exactly its Call-IDs (the
  PBX's and topoh's masked one), no analyser call mixes two, outcome,
  failure side and direction as the truth says;
- the topology: one B2BUA node whose addresses are exactly the SBC's two
  (as the testbed configured them), learned_from "mirror", from as many
  calls as were made, with a confidence below that of a relay learned from
  three calls (0.75); the SBC's role and side are "sbc".
Then the re-join of calls emitted before their relay was learned
(calls/relink.c) on a real capture: 3 answered calls 8 s apart; in the
first two the SBC's relay of the BYE is delayed by 300 ms in the capture
(its timestamps rewritten), so that no call before the third teaches the
relay (the mirror rule needs the hang-up relayed within 100 ms, the
relay rule three calls). `analyze` with `learn_hold_legs = 0` (calls
emitted as they end, as a live sensor past its first seconds) must:
- write each of the first two calls once, as one call of two legs that
  says which call it replaces (`--json-lines`: it was emitted apart and
  joined when the third call taught the relay; the parts are not written);
- end with 3 calls of 2 legs each, as the truth says, in `--json` and in
  the database (`--db`: 3 rows in calls, each truth call's legs on one row,
  legs = 2).
Needs root and the packages of sbc_lab.py; exit 77 otherwise."""
import argparse
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "corpus"))
import netns  # noqa: E402
import pcaploss  # noqa: E402
import sbc_lab  # noqa: E402
from manifest import Checker  # noqa: E402
from test_realnet_sbc import analyze_json, assert_grouping, check_calls  # noqa: E402

RUNS = ((1, ("answered",)), (2, ("answered", "busy")))


def check_run(c, binary, work, ncalls, mix):
    truth = sbc_lab.run(work, ncalls, rate=5, mix=mix)
    tag = f"{ncalls} call(s) {'+'.join(mix)}"
    calls = truth["calls"]
    c.check(len(calls) == ncalls, f"{tag}: testbed made {len(calls)} calls")
    c.check(not truth["problems"], f"{tag}: testbed: {truth['problems'][:5]}")
    c.check(sorted(tc["scenario"] for tc in calls) == sorted(mix),
            f"{tag}: cases {[tc['scenario'] for tc in calls]}")
    check_calls(c, calls, f"{tag}: testbed ")
    rc, doc, err = analyze_json(binary, os.path.join(work, "sbc.pcap"), timeout=300)
    c.check(rc == 0, f"{tag}: analyze rc {rc}: {err[-300:]}")
    assert_grouping(c, truth, doc, f"{tag}, no configuration", f"{tag}: ")
    c.check(len(doc.get("calls", [])) == ncalls,
            f"{tag}: {len(doc.get('calls', []))} analyser calls")
    nodes = doc.get("topology", {}).get("nodes", [])
    b2b = [n for n in nodes if n.get("b2bua")]
    c.check(len(b2b) == 1, f"{tag}: {len(b2b)} B2BUA nodes: {b2b}")
    if b2b:
        n = b2b[0]
        print(f"{tag}: node {n['role']} {n['addresses']} learned_from {n['learned_from']}, "
              f"{n['calls']} calls, confidence {n['confidence']:.2f}", flush=True)
        c.check(sorted(n["addresses"]) == sorted([sbc_lab.SBC_ENT, sbc_lab.SBC_CAR]),
                f"{tag}: node addresses {n['addresses']}")
        c.check(n["learned_from"] == "mirror", f"{tag}: learned_from {n['learned_from']}")
        c.check(n["calls"] == ncalls, f"{tag}: node from {n['calls']} calls")
        c.check(0.3 < n["confidence"] < 0.75, f"{tag}: confidence {n['confidence']}")
        c.check(n["role"] == "sbc" and n["side"] == "sbc", f"{tag}: {n['role']}/{n['side']}")


def delay_bye(src, dst, call_ids, ms):
    """Copies the classic pcap src to dst with the BYE transactions of the
    given Call-IDs (the request and its response) ms later, in time order;
    returns how many packets moved."""
    hdr, recs = pcaploss.records(src)
    order = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    per_ms = 1000 if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4") else 1000000
    keys = [b"Call-ID: " + c.encode() + b"\r\n" for c in call_ids]
    out, moved = [], 0
    for i, (rh, pkt) in enumerate(recs):
        sec, frac = struct.unpack(order + "II", rh[:8])
        t = sec * 1000 * per_ms + frac
        if any(k in pkt for k in keys) and re.search(rb"\r\nCSeq: *\d+ +BYE\r\n", pkt):
            t += ms * per_ms
            moved += 1
        out.append((t, i, rh[8:], pkt))
    out.sort()
    with open(dst, "wb") as f:
        f.write(hdr)
        for t, _, rest, pkt in out:
            f.write(struct.pack(order + "II", t // (1000 * per_ms), t % (1000 * per_ms)) +
                    rest + pkt)
    return moved


def check_relink(c, binary, work):
    truth = sbc_lab.run(work, 3, rate=0.125, mix=("answered",), hold=(1000, 1500))
    calls = truth["calls"]
    c.check(len(calls) == 3 and not truth["problems"] and all(tc["complete"] for tc in calls),
            f"relink: testbed {len(calls)} calls, {truth['problems'][:3]}")
    if len(calls) != 3:
        return
    inner = [tc["call_ids"][1] for tc in calls[:2]]
    pcap = os.path.join(work, "late_bye.pcap")
    moved = delay_bye(os.path.join(work, "sbc.pcap"), pcap, inner, 300)
    c.check(moved == 4, f"relink: {moved} BYE packets delayed, expected 4")
    conf = os.path.join(work, "live.conf")
    with open(conf, "w") as f:
        f.write("learn_hold_legs = 0\n")
    # emitted apart first, then joined: the joined call keeps the first
    # part's id and says which call it replaces
    p = subprocess.run([binary, "analyze", "--json-lines", "--config", conf, pcap],
                       capture_output=True, text=True, timeout=300)
    c.check(p.returncode == 0, f"relink: analyze --json-lines rc {p.returncode}")
    lines = []
    for line in p.stdout.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("type") == "call":
            lines.append((j.get("id"), j.get("replaces"),
                          sorted(leg.get("call_id") for leg in j.get("legs", []))))
    for k, tc in enumerate(calls):
        mine = [ln for ln in lines if set(ln[2]) & set(tc["call_ids"])]
        ok = len(mine) == 1 and mine[0][2] == sorted(tc["call_ids"])
        if k < 2:
            ok = ok and mine[0][1] is not None and mine[0][1] != mine[0][0]
        else:
            ok = ok and mine[0][1] is None
        c.check(ok, f"relink: call {tc['id']} in --json-lines: {mine}")
    _, doc, _ = analyze_json(binary, pcap, "--config", conf, timeout=300)
    assert_grouping(c, truth, doc, "relink, calls emitted as they end", "relink --json: ")
    c.check(len(doc.get("calls", [])) == 3, f"relink: {len(doc.get('calls', []))} calls in --json")
    db = os.path.join(work, "late_bye.db")
    if os.path.exists(db):
        os.unlink(db)
    p = subprocess.run([binary, "analyze", "--quiet", "--db", db, "--config", conf, pcap],
                       capture_output=True, text=True, timeout=300)
    c.check(p.returncode == 0, f"relink: analyze --db rc {p.returncode}: {p.stderr[-300:]}")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, legs FROM calls").fetchall()
    c.check(len(rows) == 3 and all(n == 2 for _, n in rows), f"relink: calls rows {rows}")
    for tc in calls:
        refs = {r for (r,) in con.execute(
            "SELECT call_ref FROM legs WHERE call_id IN (?, ?)", tuple(tc["call_ids"]))}
        n = con.execute("SELECT count(*) FROM legs WHERE call_id IN (?, ?)",
                        tuple(tc["call_ids"])).fetchone()[0]
        c.check(len(refs) == 1 and n == 2, f"relink: call {tc['id']} legs in the database on "
                                           f"rows {sorted(refs)} ({n} legs)")
    con.close()
    print(f"relink: database {len(rows)} calls, legs per call {[n for _, n in rows]}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    why = sbc_lab.why_not()
    if why:
        netns.skip(why)
    c = Checker()
    for ncalls, mix in RUNS:
        work = os.path.join(a.work, f"calls{ncalls}")
        os.makedirs(work, exist_ok=True)
        check_run(c, a.bin, work, ncalls, mix)
    work = os.path.join(a.work, "relink")
    os.makedirs(work, exist_ok=True)
    check_relink(c, a.bin, work)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
