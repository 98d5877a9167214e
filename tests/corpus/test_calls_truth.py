#!/usr/bin/env python3
"""Call layer against the generator's truth file: `trunkscope gen` writes
captures that together hold every outcome, topology, correlation style,
transport and capture artefact; `trunkscope analyze --json` must find every
call, group its legs exactly as the truth says, and give the outcome,
failure side, duration and PDD of each call and the KPIs of each trunk.

What is expected, and why:
- A leg on a TLS link is invisible (its SIP is encrypted): the truth marks
  it `visible: false`. A call whose legs are all invisible is not expected;
  a call with one visible leg is expected with just that leg; in general the
  call is expected with its visible legs only, and every per-call value is
  computed from what those legs show (the first visible leg's INVITE, ring
  and answer; the first BYE on a visible leg). When the node that refused
  or failed the call sits behind an encrypted leg (an ITSP on a TLS trunk),
  the capture shows the SBC answering the error: the failure side expected
  is then the SBC's (the last visible node), not the ITSP's.
- Calls are matched by their legs' Call-IDs. A link is a pair of consecutive
  visible legs of one truth call. It must be found (same analyzer call)
  unless the truth marks the later leg `indistinguishable` (a twin call with
  the same numbers at the same time and no exact evidence): then either
  answer is accepted, as long as the leg is not put into another call.
  Any analyzer call holding legs of two truth calls is a wrong link.
- Duration and PDD: the generator's clock and the pcap are both in
  microseconds, so the analyzer sees exactly the times the truth records.
  Duration is compared within 2 us (double rounding of the 6-decimal JSON
  times); PDD is whole milliseconds truncated on both sides and must be
  equal. Trunk means (ACD, PDD) are compared within 1 us / 0.001 ms.
- Each capture is analysed twice: with the default address ranges, and with
  `internal_net = none`, no ranges at all, where the SBC, the carriers and
  the enterprise side can only be learned from the traffic (calls/topo.c).
  Every topology here is learned; the one where nothing can be is "tls"
  (every SIP link encrypted: no INVITE to learn from, no call expected).
  Beyond these captures, a B2BUA that relayed fewer than 3 calls is not
  learned without ranges (its calls stay split, counted as single legs).
- Trunk KPIs are recomputed here, per link (address pair), from the truth's
  per-leg times by the README definitions:
    attempts  = legs (INVITE dialogs) on the trunk
    answered  = legs with a 2xx;  ASR = answered / attempts
    NER       = (answered + legs ended by 486 480 487 600 603 404 484 or
                 a CANCEL) / attempts
    ACD       = mean(first BYE on the leg - its 2xx) over answered legs
    PDD (SRD) = mean(first 180/183, else the 2xx, - INVITE) over legs with one
    peak      = most answered legs in progress at once (2xx .. BYE)
  ITSP trunks (the truth's `trunk: true` links) must be oriented with the
  enterprise (SBC) end as `local`, typed "itsp", and split inbound/outbound
  by who sent the INVITE.
"""
import json
import os
import subprocess
import sys

from manifest import Checker, analyze, parse_args

EVERY = ("answered=4,hold=2,early=2,refer=2,busy=2,rejected=3,cancelled=2,"
         "failed=4,timeout=2")

# name, generator options. Small captures (short talk times) keep the whole
# test within about a minute under the sanitizers.
RUNS = [
    # everything at once: mixed transports (the itsp-2 trunk is TLS), IPv6
    # outside, VLAN, branch site (3 legs via the Mediation Server, or the
    # branch SBC), the PSTN gateway (direct connection), twins, retransmissions
    ("mixed", ["--calls", "60", "--seed", "11", "--transport", "mix", "--ipv6", "--vlan", "100",
               "--branch", "--gateway", "--itsps", "3", "--duration-mean", "3", "--mix", EVERY,
               "--retrans", "0.3", "--twin-rate", "0.15", "--impair", "0"]),
    # Session-ID at the SBC, X-CID-style header at the MS, none at the branch SBC
    ("corr1", ["--calls", "50", "--seed", "21", "--branch", "--gateway", "--duration-mean", "3",
               "--mix", EVERY, "--corr", "sbc=session-id,ms=header,branch-sbc=none",
               "--corr-header", "X-Orig-Call-ID", "--map-503", "500", "--impair", "0",
               "--inbound", "0.5", "--dup-rate", "0.2"]),
    # the other way round, over TCP, and the SBC passing a 503 through
    ("corr2", ["--calls", "50", "--seed", "33", "--branch", "--transport", "tcp",
               "--duration-mean", "3", "--mix", EVERY,
               "--corr", "sbc=header,ms=none,branch-sbc=session-id", "--map-503", "503",
               "--impair", "0", "--twin-rate", "0.1"]),
    # no correlation evidence at all: timing + numbers, and media bypass
    ("timing", ["--calls", "50", "--seed", "45", "--branch", "--gateway", "--ipv6",
                "--duration-mean", "3", "--mix", EVERY, "--impair", "0", "--bypass", "0.6",
                "--corr", "sbc=none,ms=none,branch-sbc=none", "--twin-rate", "0.1",
                "--retrans", "0.3", "--vlan", "7", "--dup-rate", "0.1"]),
    # dense: 20 call attempts a second, many twins, no REGISTER to learn the
    # SBC from, and evidence seeded per B2BUA
    ("dense", ["--calls", "150", "--seed", "57", "--cps", "20", "--twin-rate", "0.3",
               "--branch", "--gateway", "--transport", "mix", "--duration-mean", "2",
               "--mix", EVERY, "--impair", "0", "--no-register", "--retrans", "0.2"]),
    # every SIP link encrypted: no call may appear
    ("tls", ["--calls", "6", "--seed", "5", "--transport", "tls", "--duration-mean", "2",
             "--impair", "0"]),
]

US = 1e-6


def generate(binary, work, name, extra):
    pcap = os.path.join(work, name + ".pcap")
    r = subprocess.run([binary, "gen", "-o", pcap] + extra, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"gen {name} failed ({r.returncode}): {r.stderr.strip()}")
    with open(os.path.join(work, name + ".truth.json"), encoding="utf-8") as f:
        return pcap, json.load(f)


def ip_of(s):
    """'[2001:db8::1]:5060' or '10.0.0.1:5060' -> address text."""
    return s.rsplit(":", 1)[0].strip("[]")


def visible(leg):
    return leg.get("visible", leg["transport"] != "tls")


def srd_end(leg):
    return leg["ring_time"] or leg["answer_time"]


class Stats:
    def __init__(self):
        self.calls = self.links = self.wrong = self.missed = 0
        self.indist_ok = self.indist_split = self.legs = 0


SIDE_OF_ROLE = {"sbc": "sbc", "itsp": "itsp", "pbx": "enterprise", "gateway": "enterprise"}


def check_calls(name, truth, doc, c, st):
    roles = {n["name"]: n["role"] for n in truth["topology"]["nodes"]}
    by_cid = {}
    for tc in truth["calls"]:
        c.check(not tc["truncated"], f"{name}: call {tc['id']} truncated (capture cut short)")
        for leg in tc["legs"]:
            by_cid[leg["call_id"]] = (tc, leg)
    where = {}   # Call-ID -> analyzer call index
    for k, call in enumerate(doc.get("calls", [])):
        owners = set()
        for leg in call["legs"]:
            hit = by_cid.get(leg["call_id"])
            if hit is None:
                c.check(False, f"{name}: analyzer leg {leg['call_id']} not in the truth")
                continue
            c.check(visible(hit[1]), f"{name}: TLS leg {leg['call_id']} reported")
            c.check(leg["call_id"] not in where, f"{name}: leg {leg['call_id']} reported twice")
            where[leg["call_id"]] = k
            owners.add(hit[0]["id"])
        for j, leg in enumerate(call["legs"]):
            ev = leg.get("evidence")
            if ev is None:
                continue
            a = by_cid.get(leg["call_id"])
            b = by_cid.get(call["legs"][ev["linked_to"]]["call_id"])
            if a and b and a[0]["id"] != b[0]["id"]:
                st.wrong += 1
                c.check(False, f"{name}: wrong link {leg['call_id']} (truth call {a[0]['id']}) -> "
                               f"{b[1]['call_id']} "
                               f"(truth call {b[0]['id']}) by {ev['type']}")
        c.check(len(owners) <= 1, f"{name}: analyzer call {call['id']} mixes truth calls "
                                  f"{sorted(owners)}")

    calls = doc.get("calls", [])
    for tc in truth["calls"]:
        vis = [leg for leg in tc["legs"] if visible(leg)]
        if not vis:
            for leg in tc["legs"]:
                c.check(leg["call_id"] not in where, f"{name}: invisible call {tc['id']} reported")
            continue
        st.calls += 1
        st.legs += len(vis)
        tag = f"{name}: call {tc['id']} ({tc['scenario']}, {'-'.join(tc['path'])})"
        missing = [leg["call_id"] for leg in vis if leg["call_id"] not in where]
        c.check(not missing, f"{tag}: legs not found {missing}")
        if missing:
            continue
        complete = True
        for prev, leg in zip(tc["legs"], tc["legs"][1:]):
            if not (visible(prev) and visible(leg)):
                continue
            st.links += 1
            same = where[prev["call_id"]] == where[leg["call_id"]]
            if leg["link_to_previous"]["indistinguishable"]:
                if same:
                    st.indist_ok += 1
                else:
                    st.indist_split += 1
                    complete = False
                continue
            if not same:
                st.missed += 1
                complete = False
                c.check(False, f"{tag}: missed link leg {leg['index']} "
                               f"(evidence {leg['link_to_previous']['evidence']})")
        if not complete:
            continue
        got = calls[where[vis[0]["call_id"]]]
        c.check(len(got["legs"]) == len(vis),
                f"{tag}: {len(got['legs'])} legs, truth {len(vis)} visible")
        c.check([leg["call_id"] for leg in got["legs"]] == [leg["call_id"] for leg in vis],
                f"{tag}: legs out of order")
        c.check(got["outcome"] == tc["outcome"],
                f"{tag}: outcome {got['outcome']} != {tc['outcome']} "
                f"(finals {tc['final_status']})")
        want_side = tc["failure_side"]
        if want_side and not visible(tc["legs"][-1]):
            # the INVITE stopped behind an encrypted leg: the capture shows
            # the last visible node answering the error (the SBC)
            want_side = SIDE_OF_ROLE[roles[vis[-1]["callee_node"]]]
        c.check(got["failure_side"] == want_side,
                f"{tag}: failure side {got['failure_side']} != {want_side} "
                f"({got['failure_detail']})")
        first = vis[0]
        pdd = None
        if first["ring_time"]:
            pdd = int(round((first["ring_time"] - first["invite_time"]) * 1e6)) // 1000
        if len(vis) == len(tc["legs"]):
            c.check(pdd == tc["pdd_ms"], f"{tag}: truth pdd {tc['pdd_ms']} != leg times {pdd}")
        c.check(got["pdd_ms"] == pdd, f"{tag}: pdd {got['pdd_ms']} != {pdd}")
        dur = 0.0
        if tc["outcome"] == "answered":
            byes = [leg["bye_time"] for leg in vis if leg["bye_time"]]
            dur = min(byes) - first["answer_time"]
            if len(vis) == len(tc["legs"]):
                c.check(abs(dur - (tc["end_time"] - tc["answer_time"])) < 2 * US,
                        f"{tag}: truth duration disagrees with leg times")
        c.check(abs(got["duration_s"] - dur) <= 2 * US,
                f"{tag}: duration {got['duration_s']:.6f} != {dur:.6f}")


NER_CODES = {486, 480, 487, 600, 603, 404, 484}


def kpis(legs):
    n = len(legs)
    ans = [leg for leg in legs if leg["answer_time"]]
    ner = sum(1 for leg in legs if leg["answer_time"] or leg["final_status"] in NER_CODES)
    durs = [leg["bye_time"] - leg["answer_time"] for leg in ans]
    srd = [(srd_end(leg) - leg["invite_time"]) * 1e3 for leg in legs if srd_end(leg)]
    ev = sorted([(leg["answer_time"], 1) for leg in ans] + [(leg["bye_time"], -1) for leg in ans],
                key=lambda e: (e[0], e[1]))
    cur = peak = 0
    for _, d in ev:
        cur += d
        peak = max(peak, cur)
    return {
        "attempts": n, "answered": len(ans),
        "asr": len(ans) / n if n else None, "ner": ner / n if n else None,
        "acd_s": sum(durs) / len(durs) if durs else None,
        "pdd_ms": sum(srd) / len(srd) if srd else None,
        "peak_concurrent": peak,
    }


def near(a, b, tol):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def cmp_kpis(c, tag, got, want, peak=True):
    for k in ("attempts", "answered"):
        c.check(got.get(k) == want[k], f"{tag}: {k} {got.get(k)} != {want[k]}")
    for k, tol in (("asr", 1e-9), ("ner", 1e-9), ("acd_s", 1 * US), ("pdd_ms", 1e-3)):
        c.check(near(got.get(k), want[k], tol), f"{tag}: {k} {got.get(k)} != {want[k]}")
    if peak:
        c.check(got.get("peak_concurrent") == want["peak_concurrent"],
                f"{tag}: peak {got.get('peak_concurrent')} != {want['peak_concurrent']}")


def check_trunks(name, truth, doc, c):
    links = {}
    for tc in truth["calls"]:
        for leg in tc["legs"]:
            if visible(leg):
                key = frozenset((ip_of(leg["src"]), ip_of(leg["dst"])))
                links.setdefault(key, []).append(leg)
    trunks = {frozenset((t["local"], t["peer"])): t for t in doc.get("trunks", [])}
    itsp_links = {}
    for lk in truth["topology"]["links"]:
        if lk["trunk"]:
            itsp_links[frozenset((ip_of(lk["a_addr"]), ip_of(lk["b_addr"])))] = lk
    names = {a["name"]: a["ip"] for n in truth["topology"]["nodes"] for a in n["addresses"]}
    for key, legs in sorted(links.items(), key=lambda kv: sorted(kv[0])):
        tag = f"{name}: trunk {'/'.join(sorted(key))}"
        t = trunks.get(key)
        c.check(t is not None, f"{tag}: not found")
        if t is None:
            continue
        cmp_kpis(c, tag, t, kpis(legs))
        lk = itsp_links.get(key)
        c.check(t["type"] == ("itsp" if lk else "direct"), f"{tag}: type {t['type']}")
        if lk:
            local = names[lk["a"]]
            c.check(t["local"] == local, f"{tag}: local {t['local']} != SBC {local}")
            peer_node = lk["b"]
            inb = [leg for leg in legs if leg["caller_node"] == peer_node]
            outb = [leg for leg in legs if leg["caller_node"] != peer_node]
            cmp_kpis(c, tag + " inbound", t["inbound"], kpis(inb), peak=False)
            cmp_kpis(c, tag + " outbound", t["outbound"], kpis(outb), peak=False)
    for key in trunks:
        c.check(key in links, f"{name}: trunk {sorted(key)} has no truth leg")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    st = Stats()
    seen_out, seen_paths, seen_corr = set(), set(), set()
    noranges = os.path.join(a.work, "no-ranges.conf")
    with open(noranges, "w", encoding="utf-8") as f:
        f.write("internal_net = none\n")
    # each capture twice: with the default address ranges, and with none at
    # all ("internal_net = none"), where the SBC, the carriers and the
    # enterprise side are only learned from the traffic
    for (name, extra), ranges in [(r, m) for r in RUNS for m in (True, False)]:
        if ranges:
            pcap, truth = generate(a.bin, a.work, name, extra)
        else:
            name += "/no-ranges"
        rc, doc, err = analyze(a.bin, [pcap], [] if ranges else ["--config", noranges])
        c.check(rc == 0 and doc is not None, f"{name}: analyze rc={rc} {err.strip()[:200]}")
        if doc is None:
            continue
        before = (st.calls, st.links)
        check_calls(name, truth, doc, c, st)
        check_trunks(name, truth, doc, c)
        for tc in truth["calls"]:
            if any(visible(leg) for leg in tc["legs"]):
                seen_out.add(tc["outcome"] if tc["scenario"] in ("answered", "busy", "rejected",
                                                                  "cancelled", "failed",
                                                                  "timeout") else tc["scenario"])
                seen_out.update(f"{s}" for s in tc["final_status"] if s)
                seen_paths.add(len(tc["legs"]))
                for leg in tc["legs"][1:]:
                    seen_corr.update(leg["link_to_previous"]["evidence"])
        if name.startswith("tls"):
            c.check(not doc.get("calls") and doc["sip"].get("tls_flows", 0) > 0,
                    f"tls: {len(doc.get('calls', []))} calls, want none")
        print(f"{name}: {st.calls - before[0]} calls, {st.links - before[1]} links checked")
    # the captures together must cover what they claim to cover
    for want in ("answered", "hold", "early", "refer", "busy", "rejected", "cancelled", "failed",
                 "timeout", "403", "404", "484", "500", "503", "408", "487", "486"):
        c.check(want in seen_out, f"coverage: no visible call with {want}")
    c.check({1, 2, 3} <= seen_paths, f"coverage: leg counts {sorted(seen_paths)}")
    c.check({"session_id", "header", "media", "timing_numbers"} <= seen_corr,
            f"coverage: evidence {sorted(seen_corr)}")
    print(f"agreement: {st.calls} calls ({st.legs} legs), {st.links} links checked, "
          f"{st.wrong} wrong, {st.missed} missed, indistinguishable: {st.indist_ok} linked, "
          f"{st.indist_split} left apart")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
