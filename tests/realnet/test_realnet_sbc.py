#!/usr/bin/env python3
"""trunkscope on a capture of a real SBC (issue 21): the testbed of
sbc_lab.py (Kamailio with topoh, rtpengine and failover between two
carriers, SIPp on both sides, private addresses on both sides of the SBC)
makes 200 outbound calls with more than 50 up at once, and 40 inbound ones
(carrier A calling in, the SBC relaying to the PBX, which answers, is busy,
does not know the number, or rings until the carrier cancels); `trunkscope
analyze --json` runs on the capture with NO configuration file.

What is checked, and against what:
- the testbed itself, from the components' own logs (truth.json): every call
  finished, each case got the final response the carriers' behaviour implies,
  failover calls have three legs, at least 50 calls were up at once;
- SIP as tshark reads the same capture: message count, per method and per
  response class, and the set of Call-IDs (= the truth's Call-IDs);
- RTP streams: tshark's and trunkscope's counts agree, four per answered call
  (two directions on each side of rtpengine);
- every Call-ID of the truth is a leg in trunkscope's report;
- grouping: each truth call is one analyser call holding exactly its
  Call-IDs, no analyser call mixes two truth calls, outcome and failure side
  as the truth says, and the direction (outbound / inbound) too. Asserted with one line of configuration (internal_net =
  the enterprise subnet), which also checks the truth and this comparison;
  with NO configuration (issue 21) the same, asserted.
Needs root and the packages of sbc_lab.py plus tshark; exit 77 otherwise."""
import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "corpus"))
import netns  # noqa: E402
import sbc_lab  # noqa: E402
from manifest import Checker  # noqa: E402

CALLS, RATE, MIN_PEAK, INBOUND = 200, 15, 50, 40

# final response the PBX must get, and number of legs, per case
EXPECT = {
    "answered": ({200}, 2), "busy": ({486}, 2), "notfound": ({404}, 2),
    "failover": ({200}, 3), "failover_silent": ({200}, 3),
    # RFC 3261 16.7 step 6: a proxy turns a 503 it relays into 500
    "failover_failed": ({500, 503}, 3), "failover_busy": ({486}, 3),
    "cancelled": ({487}, 2),
    # inbound: what the PBX answered reaches the carrier
    "in_answered": ({200}, 2), "in_busy": ({486}, 2), "in_notfound": ({404}, 2),
    "in_cancelled": ({487}, 2),
}


def tshark_sip(pcap):
    """(messages, {method: n}, {class: n}, {Call-ID}) as tshark reads them."""
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "sip", "-T", "fields",
                        "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "sip.Call-ID"],
                       capture_output=True, text=True, timeout=600)
    n, meth, cls, cids = 0, collections.Counter(), collections.Counter(), set()
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 3:
            continue
        n += 1
        if f[0]:
            meth[f[0]] += 1
        elif f[1]:
            cls[f[1][0] + "xx"] += 1
        cids.add(f[2])
    return n, meth, cls, cids


def tshark_rtp_streams(pcap):
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-q", "-z", "rtp,streams"],
                       capture_output=True, text=True, timeout=600)
    return sum(1 for line in p.stdout.splitlines() if " g711A " in line or " g711U " in line)


def check_testbed(c, truth):
    calls = truth["calls"]
    c.check(len(calls) >= CALLS + INBOUND, f"testbed: {len(calls)} calls < {CALLS} + {INBOUND}")
    c.check(sum(tc["direction"] == "inbound" for tc in calls) == INBOUND,
            f"testbed: {sum(tc['direction'] == 'inbound' for tc in calls)} inbound calls")
    c.check(truth["sipp_pbx_rc"] == 0, f"testbed: PBX SIPp exit code {truth['sipp_pbx_rc']}")
    c.check(truth["sipp_inbound_rc"] == 0,
            f"testbed: inbound carrier SIPp exit code {truth['sipp_inbound_rc']}")
    c.check(not truth["problems"], f"testbed: {truth['problems'][:5]}")
    c.check(truth["peak_concurrent"] >= MIN_PEAK,
            f"testbed: {truth['peak_concurrent']} calls up at once < {MIN_PEAK}")
    seen = collections.Counter(tc["scenario"] for tc in calls)
    c.check(set(seen) == set(EXPECT), f"testbed: cases {dict(seen)}")
    check_calls(c, calls, "testbed: ", masked=True)


def check_calls(c, calls, prefix, masked=False):
    """Each testbed call finished with the final response and the legs its
    case implies (EXPECT); masked: the Call-IDs beyond the SBC are topoh's."""
    for tc in calls:
        codes, nlegs = EXPECT[tc["scenario"]]
        tag = f"{prefix}call {tc['id']} ({tc['scenario']})"
        c.check(tc["complete"], f"{tag} incomplete")
        c.check(tc["final_status"] in codes, f"{tag}: PBX got {tc['final_status']}")
        c.check(len(tc["legs"]) == nlegs, f"{tag}: {len(tc['legs'])} legs != {nlegs}")
        if masked:
            ids = [leg["call_id"] for leg in tc["legs"][1:]]
            c.check(all(m and m.startswith("!!:") and m != tc["legs"][0]["call_id"] for m in ids),
                    f"{tag}: Call-IDs beyond the SBC not masked by topoh: {ids}")


def analyze_json(binary, pcap, *extra, timeout=600):
    """(exit code, document or {}, stderr) of analyze --json on pcap."""
    p = subprocess.run([binary, "analyze", "--json", *extra, pcap], capture_output=True,
                       text=True, timeout=timeout)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {}
    return p.returncode, doc, p.stderr


def assert_grouping(c, truth, doc, heading, prefix=""):
    """check_grouping() of doc: its summary printed under heading, each
    failure a failed check."""
    fails, summary = check_grouping(truth, doc)
    print(f"{heading}: {summary}", flush=True)
    for f in fails:
        c.check(False, f"{prefix}{f}")


def check_grouping(truth, doc):
    """(failures, summary) of the grouping, outcome and failure side."""
    where = {}
    for i, call in enumerate(doc.get("calls", [])):
        for leg in call.get("legs", []):
            where.setdefault(leg.get("call_id"), set()).add(i)
    fails, grouped, wrong, outcome_ok, side_ok, dir_ok = [], 0, 0, 0, 0, 0
    owners = collections.defaultdict(set)
    for tc in truth["calls"]:
        for cid in tc["call_ids"]:
            for i in where.get(cid, ()):
                owners[i].add(tc["id"])
    wrong = sum(1 for o in owners.values() if len(o) > 1)
    for i, o in owners.items():
        if len(o) > 1:
            fails.append(f"analyser call {i} mixes truth calls {sorted(o)}")
    for tc in truth["calls"]:
        tag = f"call {tc['id']} ({tc['scenario']})"
        homes = set().union(*(where.get(cid, set()) for cid in tc["call_ids"]))
        if len(homes) != 1:
            fails.append(f"{tag}: Call-IDs {tc['call_ids']} in {len(homes)} analyser calls")
            continue
        call = doc["calls"][homes.pop()]
        got = sorted({leg.get("call_id") for leg in call.get("legs", [])})
        if got != sorted(cid for cid in tc["call_ids"] if cid):
            fails.append(f"{tag}: analyser call holds {got}, truth {tc['call_ids']}")
            continue
        grouped += 1
        if call.get("outcome") == tc["outcome"]:
            outcome_ok += 1
        else:
            fails.append(f"{tag}: outcome {call.get('outcome')} != {tc['outcome']}")
        if call.get("failure_side") == tc["failure_side"]:
            side_ok += 1
        else:
            fails.append(f"{tag}: failure side {call.get('failure_side')} != "
                         f"{tc['failure_side']} ({call.get('failure_detail')})")
        if call.get("direction") == tc["direction"]:
            dir_ok += 1
        else:
            fails.append(f"{tag}: direction {call.get('direction')} != {tc['direction']}")
    n = len(truth["calls"])
    n_in = sum(tc["direction"] == "inbound" for tc in truth["calls"])
    return fails, (f"grouped {grouped}/{n} ({n_in} inbound), wrong links {wrong}, "
                   f"outcomes {outcome_ok}/{n}, failure sides {side_ok}/{n}, "
                   f"directions {dir_ok}/{n}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    why = sbc_lab.why_not() or netns.missing([("tshark", "tshark")])
    if why:
        netns.skip(why)
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    truth = sbc_lab.run(a.work, CALLS, RATE, inbound=INBOUND)
    pcap = os.path.join(a.work, "sbc.pcap")
    print(f"testbed: {len(truth['calls'])} calls, {truth['peak_concurrent']} up at once, "
          f"{truth['wall_s']} s", flush=True)
    check_testbed(c, truth)

    rc, doc, err = analyze_json(a.bin, pcap)
    c.check(rc == 0, f"analyze rc {rc}: {err[-300:]}")
    sip = doc.get("sip", {})

    n, meth, cls, cids = tshark_sip(pcap)
    c.check(sip.get("messages") == n, f"SIP messages {sip.get('messages')} != tshark {n}")
    c.check(sip.get("methods") == dict(meth), f"methods {sip.get('methods')} != tshark {dict(meth)}")
    got_cls = {k: v for k, v in sip.get("responses_by_class", {}).items() if v}
    c.check(got_cls == dict(cls), f"responses {got_cls} != tshark {dict(cls)}")
    want_cids = {cid for tc in truth["calls"] for cid in tc["call_ids"]}
    c.check(cids == want_cids, f"tshark Call-IDs: {len(cids)}, truth {len(want_cids)}, "
                               f"differ by {sorted(cids ^ want_cids)[:4]}")
    c.check(sip.get("call_ids") == len(want_cids),
            f"sip.call_ids {sip.get('call_ids')} != {len(want_cids)}")
    legs = {leg.get("call_id") for call in doc.get("calls", []) for leg in call.get("legs", [])}
    missing = sorted(want_cids - legs)
    c.check(not missing, f"{len(missing)} truth Call-IDs are no leg: {missing[:4]}")

    answered = sum(1 for tc in truth["calls"] if tc["outcome"] == "answered")
    ts_streams = tshark_rtp_streams(pcap)
    got_streams = doc.get("rtp", {}).get("streams")
    c.check(ts_streams == 4 * answered, f"tshark: {ts_streams} RTP streams, "
                                        f"{answered} answered calls")
    c.check(got_streams == ts_streams, f"RTP streams {got_streams} != tshark {ts_streams}")

    conf = os.path.join(a.work, "internal.conf")
    with open(conf, "w") as f:
        f.write(f"internal_net = {sbc_lab.ENT_NET}\n")
    rc, doc_conf, _ = analyze_json(a.bin, pcap, "--config", conf)
    c.check(rc == 0 and doc_conf, f"analyze --config rc {rc}")
    assert_grouping(c, truth, doc_conf, f"grouping with internal_net = {sbc_lab.ENT_NET}",
                    "with internal_net: ")
    assert_grouping(c, truth, doc, "grouping with no configuration")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
