"""Calls on the public captures: per capture, the Call-IDs that carry an
INVITE dialog, and of those the answered ones, equal MANIFEST.md's "VoIP
calls (answered)" column (tshark: Call-IDs with an INVITE; answered = got a
2xx to an INVITE). Also the B2BUA and proxy cases the calls work item names."""
import os
import sys

from manifest import Checker, analyze, get, load_manifest, parse_args


def legs_of(doc):
    for call in doc.get("calls", []):
        for leg in call.get("legs", []):
            yield call, leg


def main():
    a = parse_args()
    rows = load_manifest(a.shared)
    c = Checker()
    for name, row in sorted(rows.items()):
        if row["calls"] is None or name == "sipnab_c07-sip-r2.cap":
            continue
        want_calls, want_ans, b_calls, b_ans = row["calls"]
        if b_calls is not None:  # HEP files: the bracketed numbers
            want_calls, want_ans = b_calls, b_ans
        rc, doc, err = analyze(a.bin, [os.path.join(a.shared, "pcaps", name)], ["--no-dedup"])
        if rc != 0 or doc is None:
            c.check(False, f"{name}: rc={rc} {err.strip()[:200]}")
            continue
        ids = {leg["call_id"] for _, leg in legs_of(doc)}
        answered = {leg["call_id"] for _, leg in legs_of(doc)
                    if leg.get("answered") or 200 <= (leg.get("final_status") or 0) < 300}
        c.check(len(ids) == want_calls, f"{name}: INVITE Call-IDs {len(ids)} != {want_calls}")
        c.check(len(answered) == want_ans, f"{name}: answered {len(answered)} != {want_ans}")

    # The Asterisk B2BUA: one call with two legs; the called number changes.
    rc, doc, _ = analyze(a.bin, [os.path.join(a.shared, "pcaps", "sipnab_b2bua-asterisk.pcapng")])
    calls = doc.get("calls", []) if doc else []
    two = [k for k in calls if len(k.get("legs", [])) == 2]
    c.check(len(calls) == 1 and len(two) == 1, f"b2bua: {len(calls)} calls, want 1 with 2 legs")
    if two:
        l0, l1 = two[0]["legs"]
        c.check(l0["call_id"] != l1["call_id"], "b2bua: legs have different Call-IDs")
        c.check(l0.get("to") != l1.get("to"), "b2bua: called number differs between legs")
        c.check(l1.get("evidence") is not None, "b2bua: second leg carries its link evidence")

    # A dialog relayed by a proxy under one Call-ID: one leg seen on two hops,
    # its messages not counted twice.
    rc, doc, _ = analyze(a.bin, [os.path.join(a.shared, "pcaps", "sngrep_ipv6frag.pcap")])
    legs = list(legs_of(doc)) if doc else []
    c.check(len(legs) == 1, f"ipv6frag: {len(legs)} legs, want 1")
    if legs:
        c.check(legs[0][1].get("hops", 1) == 2, f"ipv6frag: hops {legs[0][1].get('hops')} != 2")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
