#!/usr/bin/env python3
"""SRTP in the analysis itself: a call whose two streams libsrtp2 protected
(tests/helpers/srtp_protect) with the SDES keys each party's SDP announces
(a=crypto, RFC 4568) is analysed with every RTP packet decrypted and none
failing (srtp_decrypted, srtp_auth_fail per stream in --json, in the
database, in the API's call detail, rtp.srtp_* counters); with keys in the
SDP that are not the ones the packets were protected with, none is
decrypted: the first TS_SRTP_GIVE_UP packets and one in TS_SRTP_RETRY_EVERY
after (common/limits.h) fail to authenticate, the others are counted as not
tried (srtp_not_tried, rtp.srtp_not_tried; the database, the API and
/metrics say the same), /metrics sums the failures, and
the header statistics (packets, loss, jitter, MOS) equal the keyed run's;
the plain call counts nothing. That the opened payloads are exactly the
plaintext ones is tests/unit/test_media_srtp.c's (libsrtp2 in-process).
Needs sox (speech for the call); exit 77 otherwise."""
import json
import os
import random
import re
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import audio_lab  # noqa: E402
from tlscap import preamble  # noqa: E402

HDR = ("packets", "expected", "lost", "duplicates", "out_of_order", "jitter_max_ms",
       "max_delta_ms", "mos", "codec", "ssrc")


def limit(name):
    """A #define of common/limits.h (an unsigned number)."""
    with open(os.path.join(HERE, "..", "..", "common", "limits.h")) as f:
        return int(re.search(rf"^#define {name} (\d+)u?$", f.read(), re.M).group(1))


def tried(n):
    """Packets of an n-packet stream whose keys never match that are tried."""
    give_up, every = limit("TS_SRTP_GIVE_UP"), limit("TS_SRTP_RETRY_EVERY")
    return n if n <= give_up else give_up + (n - give_up) // every


def analyze(binary, pcap, db):
    if os.path.exists(db):
        os.unlink(db)
    p = subprocess.run([binary, "analyze", "--json", "--db", db, pcap], capture_output=True,
                       text=True, timeout=300)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"analyze exit {p.returncode}: {p.stderr[-300:]}")
    return json.loads(p.stdout)


def serve_get(binary, db, paths):
    p = subprocess.Popen([binary, "serve", "--db", db, "--http", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"port (\d+)", p.stdout.readline())
        if not m:
            return [None] * len(paths)
        out = []
        for path in paths:
            with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}{path}", timeout=60) as r:
                out.append(r.read().decode())
        return out
    finally:
        p.send_signal(2)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    a, work, c = preamble(clean=False)
    helper = os.path.join(os.path.dirname(a.bin), "tests", "srtp_protect")
    if not os.access(helper, os.X_OK):
        print(f"skipped: {helper} not built")
        return 77
    rnd = random.Random(3711)
    keys = {p: bytes(rnd.randrange(256) for _ in range(30)) for p in ("caller", "callee")}
    other = {p: bytes(rnd.randrange(256) for _ in range(30)) for p in ("caller", "callee")}
    try:
        enc = audio_lab.encode(work, "PCMU")
        runs = {}
        for tag, sr in (("plain", None), ("srtp", (helper, keys, keys)),
                        ("wrong", (helper, other, keys))):
            call = audio_lab.make_call(work, "PCMU", callee_tone=True, srtp=sr, tag="-" + tag,
                                       encoded=enc)
            db = os.path.join(work, tag + ".db")
            runs[tag] = (call, db, analyze(a.bin, call["pcap"], db))
    except audio_lab.Missing as e:
        print(f"skipped: {e} is not installed")
        return 77
    npk = {0x5EED0001: runs["srtp"][0]["packets"], 0x5EED0002: runs["srtp"][0]["tone_frames"]}
    streams = {}
    for tag, (call, db, rep) in runs.items():
        st = {s["ssrc_num"]: s for s in rep.get("streams", [])}
        streams[tag] = st
        ctr = rep.get("rtp", {})
        print(f"{tag}: " + ", ".join(f"{s['ssrc']} {s['packets']} packets, decrypted "
                                     f"{s['srtp_decrypted']}, auth failed {s['srtp_auth_fail']}, "
                                     f"not tried {s['srtp_not_tried']}"
                                     for s in st.values()) +
              f"; rtp.srtp_decrypted {ctr.get('srtp_decrypted', 0)}, "
              f"auth_failed {ctr.get('srtp_auth_failed', 0)}, "
              f"not_tried {ctr.get('srtp_not_tried', 0)}")
        c.check(set(st) == set(npk), f"{tag}: streams {sorted(st)}")
        for ssrc, n in npk.items():
            s = st.get(ssrc)
            if not s:
                continue
            c.check(s["packets"] == n, f"{tag} {ssrc:#x}: {s['packets']} packets, sent {n}")
            want = {"plain": (0, 0, 0), "srtp": (n, 0, 0),
                    "wrong": (0, tried(n), n - tried(n))}[tag]
            got = (s["srtp_decrypted"], s["srtp_auth_fail"], s["srtp_not_tried"])
            c.check(got == want, f"{tag} {ssrc:#x}: decrypted/failed/not tried {got}, want {want}")
            c.check(s["flags"]["srtp"] == (tag != "plain"), f"{tag} {ssrc:#x}: srtp flag")
        total = sum(npk.values())
        failed = sum(tried(n) for n in npk.values())
        want = {"plain": (0, 0, 0), "srtp": (total, 0, 0),
                "wrong": (0, failed, total - failed)}[tag]
        c.check((ctr.get("srtp_decrypted", 0), ctr.get("srtp_auth_failed", 0),
                 ctr.get("srtp_not_tried", 0)) == want, f"{tag}: rtp counters {ctr}")
        # the database and the API say the same
        detail, metrics = serve_get(a.bin, db, ["/api/v1/calls/1", "/metrics"])
        c.check(detail is not None, f"{tag}: serve answered")
        if detail is None:
            continue
        api = {s["ssrc"]: s for s in json.loads(detail).get("streams", [])}
        for ssrc, n in npk.items():
            s, r = api.get(ssrc), st.get(ssrc)
            k = ("srtp_decrypted", "srtp_auth_fail", "srtp_not_tried")
            c.check(s is not None and r is not None and
                    tuple(s[f] for f in k) == tuple(r[f] for f in k),
                    f"{tag} {ssrc:#x}: API {s and tuple(s[f] for f in k)}")
        for name, n in (("srtp_auth_failures", want[1]), ("srtp_not_tried", want[2])):
            m = re.search(rf"^trunkscope_{name} (\d+)$", metrics, re.M)
            c.check(m is not None and int(m.group(1)) == n,
                    f"{tag}: /metrics {name} {m and m.group(1)}, want {n}")
    # without working keys the header statistics are those of the keyed run
    for ssrc in npk:
        k, w = streams["srtp"].get(ssrc), streams["wrong"].get(ssrc)
        if k and w:
            diff = [f for f in HDR if k[f] != w[f]]
            c.check(not diff, f"{ssrc:#x}: header statistics differ without keys: {diff}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
