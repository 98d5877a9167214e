#!/usr/bin/env python3
"""Media analysis against the generator's truth file: `trunkscope gen`
writes small captures where every stream carries one impairment (loss,
burst, jitter, reorder, dup, ssrc_change, one_way), one with SRTP on every
call and a clean one; `trunkscope analyze --json` must report each RTP
stream with the counts the generator put on the wire and tie it to the
right call.

Matching: an analyzer row is one (SSRC, src, dst); a truth stream is one
5-tuple with one `ssrcs[]` entry per SSRC (two after an SSRC change). A
relayed copy keeps its origin's SSRC on another 5-tuple, so the key is
(SSRC, src, dst). Every truth SSRC entry must be found once, and every
analyzer row must be a truth entry.

Field mapping (truth -> analyzer row), per SSRC entry:
- packets:    `ssrcs[].packets` counts every copy on the wire, network
              duplicates included (as tshark does)       -> `packets`
- duplicates: `ssrcs[].duplicates`                        -> `duplicates`
- lost:       `ssrcs[].lost` is the true loss, expected - (packets -
              duplicates); the analyzer reports tshark's expected - packets,
              where a duplicate offsets a loss, so
              `lost` == truth lost - truth duplicates
- reordered:  the stream's `reordered` (late-by-one-slot packets; a stream
              with reordering never changes SSRC, so it has one entry)
                                                          -> `out_of_order`
- one_way:    the truth marks the silent stream (`one_way: true`, nothing
              sent, so there is no analyzer row for it). The analyzer flags
              the stream that did flow on that leg: `flags.one_way` must be
              set exactly on rows whose truth stream shares a leg with a
              one-way truth stream of the other direction.
- ssrc_change: the analyzer flags the row of the SSRC that replaced another
              on the same 5-tuple: exactly on `ssrcs[1]` of truth streams
              with `ssrc_change: true`.
- srtp:       `flags.srtp` == the truth stream's `srtp`.
- call:       `call` is not null, the analyzer call with that id holds
              exactly the truth call's visible legs (by Call-ID; a call
              with an `indistinguishable` twin link may be split there, but
              never holds a foreign leg), and the row's `leg` is one of the
              legs whose SDP describes the stream.
"""
import json
import os
import subprocess
import sys

from manifest import Checker, analyze, parse_args

BASE = ["--duration-mean", "3", "--mix", "answered=8,hold=2"]

# name, generator options; 20-40 calls each keeps the test a few seconds
# under the sanitizers.
RUNS = [
    ("clean", ["--calls", "30", "--seed", "101", "--impair", "0", "--branch", "--gateway"]),
    ("loss", ["--calls", "30", "--seed", "102", "--impair", "1", "--impairments", "loss",
              "--loss", "0.05"]),
    ("burst", ["--calls", "30", "--seed", "103", "--impair", "1", "--impairments", "burst",
               "--branch"]),
    ("jitter", ["--calls", "30", "--seed", "104", "--impair", "1", "--impairments", "jitter",
                "--jitter-ms", "18"]),
    ("reorder", ["--calls", "30", "--seed", "105", "--impair", "1", "--impairments", "reorder",
                 "--gateway"]),
    ("dup", ["--calls", "30", "--seed", "106", "--impair", "1", "--impairments", "dup",
             "--branch"]),
    ("ssrc", ["--calls", "30", "--seed", "107", "--impair", "1", "--impairments", "ssrc_change",
              "--duration-mean", "5"]),
    ("oneway", ["--calls", "30", "--seed", "108", "--impair", "1", "--impairments", "one_way",
                "--branch", "--gateway"]),
    ("srtp", ["--calls", "20", "--seed", "109", "--impair", "0", "--srtp", "1"]),
    ("mixed", ["--calls", "40", "--seed", "110", "--impair", "1", "--srtp", "0.3",
               "--branch", "--gateway", "--bypass", "0.5"]),
]


# what each run must show somewhere (a truth value > 0)
EFFECT = {"loss": "lost", "burst": "lost", "reorder": "out_of_order", "dup": "duplicates",
          "ssrc": "ssrc_change", "oneway": "one_way", "srtp": "srtp"}


def generate(binary, work, name, extra):
    pcap = os.path.join(work, name + ".pcap")
    r = subprocess.run([binary, "gen", "-o", pcap] + BASE + extra, capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"gen {name} failed ({r.returncode}): {r.stderr.strip()}")
    with open(os.path.join(work, name + ".truth.json"), encoding="utf-8") as f:
        return pcap, json.load(f)


def ck(c, cond, what):
    """Checker.check that also answers the verdict."""
    c.check(cond, what)
    return bool(cond)


class Tally:
    def __init__(self):
        self.rows = self.agree = 0


def check_run(c, tally, name, truth, doc):
    calls = {call["id"]: call for call in doc.get("calls", [])}
    leg_cid = {}   # analyzer leg_ref -> Call-ID
    for call in calls.values():
        for leg in call["legs"]:
            leg_cid[leg["leg_ref"]] = leg["call_id"]
    rows = {}
    for s in doc.get("streams", []):
        key = (s["ssrc_num"], s["src"], s["dst"])
        c.check(key not in rows, f"{name}: stream {key} reported twice")
        rows[key] = s

    seen = set()
    impairments = set()
    totals = {}
    for tc in truth["calls"]:
        cids = [leg["call_id"] for leg in tc["legs"]]
        vis = [leg["call_id"] for leg in tc["legs"] if leg.get("visible", True)]
        twin = any((leg["link_to_previous"] or {}).get("indistinguishable") for leg in tc["legs"])
        silent = [ts for ts in tc["streams"] if ts["one_way"]]
        for ts in tc["streams"]:
            impairments.add(ts["impairment"])
            if ts["one_way"]:
                c.check(not ts["ssrcs"], f"{name}: truth one-way stream {ts['src']} sent RTP")
                hits = [k for k in rows if k[1] == ts["src"] and k[2] == ts["dst"]]
                c.check(not hits, f"{name}: silent stream {ts['src']}->{ts['dst']} reported")
                continue
            want_one_way = any(o["direction"] != ts["direction"] and set(o["legs"]) & set(ts["legs"])
                               for o in silent)
            for k, seg in enumerate(ts["ssrcs"]):
                key = (seg["ssrc"], ts["src"], ts["dst"])
                tag = f"{name}: call {tc['id']} {ts['src']}->{ts['dst']} ssrc {seg['ssrc']:#x}"
                s = rows.get(key)
                if not ck(c, s is not None, f"{tag}: not reported"):
                    continue
                seen.add(key)
                tally.rows += 1
                got = {
                    "packets": s["packets"], "lost": s["lost"],
                    "duplicates": s["duplicates"], "out_of_order": s["out_of_order"],
                    "one_way": s["flags"]["one_way"], "ssrc_change": s["flags"]["ssrc_change"],
                    "srtp": s["flags"]["srtp"],
                }
                want = {
                    "packets": seg["packets"], "lost": seg["lost"] - seg["duplicates"],
                    "duplicates": seg["duplicates"],
                    "out_of_order": ts["reordered"] if k == 0 else 0,
                    "one_way": want_one_way, "ssrc_change": ts["ssrc_change"] and k > 0,
                    "srtp": ts["srtp"],
                }
                for f, v in want.items():
                    totals[f] = totals.get(f, 0) + int(v)
                ok = True
                for f, v in want.items():
                    ok &= ck(c, got[f] == v, f"{tag} ({ts['impairment']}): {f} {got[f]}, "
                                               f"truth {v}")
                call = calls.get(s["call"]) if s["call"] is not None else None
                ok &= ck(c, call is not None, f"{tag}: call {s['call']} not found")
                if call is not None:
                    got_cids = [leg["call_id"] for leg in call["legs"]]
                    if twin:
                        # an indistinguishable twin may leave the legs split
                        # (test_calls_truth.py accepts it): no foreign leg
                        good = got_cids and all(x in vis for x in got_cids)
                    else:
                        good = got_cids == vis
                    ok &= ck(c, good, f"{tag}: call legs {got_cids}, truth {vis}")
                    own = [cids[j] for j in ts["legs"]]
                    ok &= ck(c, leg_cid.get(s["leg"]) in own,
                                  f"{tag}: leg {leg_cid.get(s['leg'])}, truth one of {own}")
                tally.agree += ok
    for key in rows:
        c.check(key in seen, f"{name}: analyzer stream {key} not in the truth")
    return impairments, totals


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    tally = Tally()
    for name, extra in RUNS:
        pcap, truth = generate(a.bin, a.work, name, extra)
        rc, doc, err = analyze(a.bin, [pcap])
        if not ck(c, rc == 0 and doc is not None, f"{name}: analyze failed ({rc}): {err[-300:]}"):
            continue
        imps, totals = check_run(c, tally, name, truth, doc)
        if name not in ("clean", "srtp", "mixed"):
            want = {"ssrc": "ssrc_change", "oneway": "one_way"}.get(name, name)
            c.check(want in imps, f"{name}: no stream carries the '{want}' impairment")
        # the run must exercise what it is named after
        field = EFFECT.get(name)
        if field:
            c.check(totals.get(field, 0) > 0, f"{name}: no stream with {field} to compare")
    c.check(tally.rows > 0, "no stream checked")
    print(f"{tally.rows} streams checked, {tally.agree} agree in every field")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
