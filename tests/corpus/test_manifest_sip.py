"""Every capture in ../shared/pcaps that libpcap opens: trunkscope's SIP
message count and distinct Call-ID count equal tshark's in MANIFEST.md.
SIP on odd ports (6060, 5090, 52380, 5062...) must be found by content, as
tshark's decode-as / heuristics did: there is no per-file switch here."""
import os
import sys

from manifest import Checker, analyze, get, load_manifest, parse_args

# Captures that hold mirror copies (same IP ID, same bytes, within 2 ms):
# tshark counts them, trunkscope's SPAN de-duplication drops them. Without
# --no-dedup we expect exactly these SIP messages and duplicates dropped.
DEDUP = {
    # 7 messages seen 3 times: once to broadcast, twice (identical, 20 us apart) to the collector
    "hep-wireshark_hep3_compressed.pcap.pcapng": {"sip": 14, "duplicates": 7},
    # 23 frames mirrored twice ~1.4 ms apart (e.g. frames 24/26, the same INVITE)
    "heplify_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap": {"sip": 69, "duplicates": 23},
}

# Files whose manifest numbers we do not compare, with the reason.
EXCEPTIONS = {
    # Microsoft NetMon 2.x, not pcap: libpcap cannot open it; we must say so and exit 2.
    "sipnab_c07-sip-r2.cap": "netmon",
}


def main():
    a = parse_args()
    rows = load_manifest(a.shared)
    c = Checker()
    c.check(len(rows) >= 50, f"manifest has {len(rows)} rows")
    for name, row in sorted(rows.items()):
        path = os.path.join(a.shared, "pcaps", name)
        # tshark does not de-duplicate: compare like with like first.
        rc, doc, err = analyze(a.bin, [path], ["--no-dedup"])
        if EXCEPTIONS.get(name) == "netmon":
            c.check(rc == 2 and err.strip().count("\n") == 0 and "trunkscope analyze:" in err,
                    f"{name}: expected one-line error and exit 2, got rc={rc} err={err!r}")
            continue
        if rc != 0 or doc is None:
            c.check(False, f"{name}: rc={rc} stderr={err.strip()[:200]}")
            continue
        c.check(get(doc, "packets") == row["packets"],
                f"{name}: packets {get(doc, 'packets')} != {row['packets']}")
        # HEP captures: the bracketed numbers count the SIP carried inside HEP.
        want_sip = row["sip_bracket"] if row["sip_bracket"] is not None else row["sip"]
        want_cid = row["call_ids_bracket"] if row["call_ids_bracket"] is not None else row["call_ids"]
        got_sip = get(doc, "sip.messages")
        got_cid = get(doc, "sip.call_ids")
        c.check(got_sip == want_sip, f"{name}: sip.messages {got_sip} != {want_sip}")
        c.check(got_cid == want_cid, f"{name}: sip.call_ids {got_cid} != {want_cid}")
        c.check(get(doc, "sip.malformed") == 0, f"{name}: sip.malformed {get(doc, 'sip.malformed')}")
        # De-duplication on (the default): only the known mirror copies go.
        rc2, doc2, err2 = analyze(a.bin, [path])
        if rc2 != 0 or doc2 is None:
            c.check(False, f"{name} (dedup): rc={rc2} stderr={err2.strip()[:200]}")
            continue
        d = DEDUP.get(name, {"sip": want_sip, "duplicates": 0})
        c.check(get(doc2, "sip.messages") == d["sip"],
                f"{name} (dedup): sip.messages {get(doc2, 'sip.messages')} != {d['sip']}")
        c.check(get(doc2, "duplicates") == d["duplicates"],
                f"{name} (dedup): duplicates {get(doc2, 'duplicates')} != {d['duplicates']}")
        c.check(get(doc2, "sip.call_ids") == want_cid,
                f"{name} (dedup): sip.call_ids {get(doc2, 'sip.call_ids')} != {want_cid}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
