"""Header-only captures (`tcpdump -s 96`, `editcap -s 96`): RTP statistics
from the headers of frames whose payload the snap length cut off.
- Every capture of ../shared/pcaps cut to 96 bytes: each RTP stream tshark
  finds in the whole capture is found in the cut one with the same packets,
  loss, deltas and jitter (tshark itself, reading the cut file, loses the
  SDP that named the ports and misreads some of them: it is compared on the
  whole file), and every stream is flagged truncated.
- A generated capture (loss, jitter, reordering impairments) cut to 96 bytes
  everywhere: the same streams and numbers as tshark's on the cut file.
- A capture whose SIP is whole and whose RTP is cut: the streams stay bound
  to their calls, flagged truncated in the report, the database (bit 11 of
  rtp_streams.flags) and the API (detections.truncated); the same capture
  uncut has no stream flagged; bytes count the datagrams' size on the wire.
Exit 77 without tshark/editcap/mergecap."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request

from manifest import Checker, parse_args
from test_rtp_tshark import KNOWN, TOL_MS, norm_ip, parse_ours, parse_tshark

SNAP = 96
TRUNCATED_BIT = 1 << 11


class Check(Checker):
    def check(self, cond, what):
        super().check(cond, what)
        return bool(cond)


def tshark_streams(path):
    r = subprocess.run(["tshark", "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z",
                        "rtp,streams"], capture_output=True, text=True, timeout=600)
    return parse_tshark(r.stdout)


def cut_keys(path, snap=SNAP):
    """Streams (as parse_tshark keys) with a frame longer than snap: those the
    cut capture must flag truncated (a G.729 stream's frames may all fit)."""
    r = subprocess.run(["tshark", "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-Y",
                        f"rtp && frame.len > {snap}", "-T", "fields", "-E", "occurrence=l",
                        "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport", "-e", "ip.dst",
                        "-e", "ipv6.dst", "-e", "udp.dstport", "-e", "rtp.ssrc"],
                       capture_output=True, text=True, timeout=600)
    keys = set()
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) != 7 or not f[6]:
            continue
        keys.add((norm_ip(f[0] or f[1]), int(f[2]), norm_ip(f[3] or f[4]), int(f[5]),
                  int(f[6], 16)))
    return keys


def ours_of(binary, path):
    r = subprocess.run([binary, "analyze", "--json", path], capture_output=True, text=True,
                       timeout=600)
    if r.returncode not in (0, 1):
        return None, None
    return parse_ours(r.stdout), json.loads(r.stdout)


def cut(src, dst, snap=SNAP):
    subprocess.run(["editcap", "-s", str(snap), src, dst], check=True, capture_output=True)


def compare(c, what, ours, theirs, was_cut, skip=lambda key, t: None):
    agree = 0
    for key, t in sorted(theirs.items()):
        why = skip(key, t)
        if why:
            print(f"known: {what} {key}: {why}")
            continue
        o = ours.get(key)
        if not c.check(o is not None, f"{what}: tshark stream {key} ({t['payload']}) missing"):
            continue
        ok = c.check(o["packets"] == t["packets"] and o["lost"] == t["lost"],
                     f"{what} {key}: packets/lost {o['packets']}/{o['lost']} != tshark "
                     f"{t['packets']}/{t['lost']}")
        fields = [("max_delta_ms", "max_delta"), ("mean_delta_ms", "mean_delta")]
        # jitter needs the clock rate: a dynamic payload type's came from the
        # SDP, which the snap length cut off when the stream is unsignalled
        if o["payload_type"] < 96 or o["signalled"]:
            fields += [("jitter_mean_ms", "mean_jitter"), ("jitter_max_ms", "max_jitter")]
        for f_ours, f_theirs in fields:
            v = o[f_ours] if o[f_ours] is not None else -1.0
            ok &= c.check(abs(v - t[f_theirs]) <= TOL_MS,
                          f"{what} {key}: {f_ours} {v:.3f} != tshark {t[f_theirs]:.3f}")
        ok &= c.check(o["flags"].get("truncated") is (key in was_cut),
                      f"{what} {key}: flagged truncated {o['flags'].get('truncated')}, "
                      f"frames cut {key in was_cut}")
        agree += ok
    return agree


def corpus(c, a):
    """Every shared capture cut to SNAP bytes against tshark on the whole one."""
    pdir = os.path.join(a.shared, "pcaps")
    total = agree = 0
    for name in sorted(n for n in os.listdir(pdir) if not n.endswith(".md")):
        whole = os.path.join(pdir, name)
        theirs = tshark_streams(whole)
        if not theirs:
            continue
        short = os.path.join(a.work, "cut-" + name)
        cut(whole, short)
        ours, _ = ours_of(a.bin, short)
        if not c.check(ours is not None, f"{name}: analyze of the cut capture failed"):
            continue

        def skip(key, t, name=name):
            if (name, key) in KNOWN:
                return KNOWN[(name, key)]
            # one packet and no SDP left: nothing says it is RTP (the
            # heuristic wants two packets that continue each other)
            if t["packets"] == 1:
                return "a one-packet stream known only from the SDP the snap length cut"
            return None

        total += len(theirs)
        agree += compare(c, "cut " + name, ours, theirs, cut_keys(whole), skip)
    print(f"corpus cut to {SNAP} bytes: {agree} of {total} tshark streams agree")
    c.check(agree >= 30, f"corpus: only {agree} streams compared")


def generated(c, a):
    """A generated capture with impairments, all of it cut: tshark on the cut file."""
    g = os.path.join(a.work, "imp.pcap")
    subprocess.run([a.bin, "gen", "-o", g, "--calls", "24", "--seed", "5", "--impair", "0.8",
                    "--impairments", "loss,burst,jitter,reorder", "--srtp", "0"],
                   check=True, capture_output=True, timeout=300)
    short = os.path.join(a.work, "imp96.pcap")
    cut(g, short)
    theirs = tshark_streams(short)
    ours, doc = ours_of(a.bin, short)
    if not c.check(ours is not None and len(theirs) >= 30, f"generated: {len(theirs)} tshark streams"):
        return
    was_cut = cut_keys(g)
    agree = compare(c, "generated cut", ours, theirs, was_cut)
    c.check(len(was_cut) >= len(theirs) // 2, f"generated: {len(was_cut)} streams cut")
    lossy = sum(1 for t in theirs.values() if t["lost"] > 0)
    c.check(lossy >= 5, f"generated: {lossy} streams with loss (the impairments must show)")
    c.check(set(ours) == set(theirs), f"generated: streams not in tshark's list "
            f"{sorted(set(ours) - set(theirs))[:3]}")
    c.check(doc["udp"].get("header_only", 0) > 0, "generated: udp.header_only counted")
    c.check(doc["sip"].get("truncated", 0) > 0 and doc["sip"]["messages"] == 0,
            "generated: cut SIP counted truncated, not parsed")
    print(f"generated cut to {SNAP} bytes: {agree} of {len(theirs)} tshark streams agree "
          f"({lossy} with loss)")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def api_streams(binary, db, work):
    """Every stream of every call as the API serves it."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen([binary, "serve", "--db", db, "--http", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(100):
            try:
                calls = get(base + "/calls?limit=500")["calls"]
                break
            except OSError:
                time.sleep(0.1)
        else:
            return None
        out = []
        for call in calls:
            out += get(base + f"/calls/{call['id']}").get("streams", [])
        return out
    finally:
        p.terminate()
        p.wait(timeout=10)


def signalled(c, a):
    """SIP whole, RTP cut: streams bound to their calls, flagged everywhere."""
    g = os.path.join(a.work, "sig.pcap")
    subprocess.run([a.bin, "gen", "-o", g, "--calls", "20", "--seed", "9", "--srtp", "0"],
                   check=True, capture_output=True, timeout=300)
    sip = os.path.join(a.work, "sig-sip.pcap")
    media = os.path.join(a.work, "sig-media.pcap")
    media96 = os.path.join(a.work, "sig-media96.pcap")
    mixed = os.path.join(a.work, "sig-mixed.pcap")
    subprocess.run(["tshark", "-r", g, "-Y", "sip", "-w", sip], check=True, capture_output=True)
    subprocess.run(["tshark", "-r", g, "-Y", "not sip", "-w", media], check=True,
                   capture_output=True)
    cut(media, media96)
    subprocess.run(["mergecap", "-w", mixed, sip, media96], check=True, capture_output=True)

    full, fdoc = ours_of(a.bin, g)
    was_cut = cut_keys(g)
    ours, doc = ours_of(a.bin, mixed)
    if not c.check(ours is not None and full, "signalled: analyze failed"):
        return
    c.check(not any(s["flags"].get("truncated") for s in fdoc["streams"]),
            "signalled: the whole capture has no stream flagged truncated")
    c.check(set(ours) == set(full), f"signalled: {len(ours)} streams cut, {len(full)} whole")
    for key, f in full.items():
        o = ours.get(key)
        if o is None:
            continue
        same = all(o[k] == f[k] for k in ("packets", "lost", "expected", "bytes", "call", "leg",
                                          "signalled", "codec", "jitter_max_ms", "mos"))
        c.check(same, f"signalled {key}: cut {[o[k] for k in ('packets', 'lost', 'bytes', 'call')]}"
                f" != whole {[f[k] for k in ('packets', 'lost', 'bytes', 'call')]}")
        c.check(o["flags"].get("truncated") is (key in was_cut) and o["call"] is not None,
                f"signalled {key}: flagged truncated {o['flags'].get('truncated')} (frames cut "
                f"{key in was_cut}), call {o['call']}")
    c.check(doc["calls"] == fdoc["calls"] if isinstance(doc["calls"], int)
            else len(doc["calls"]) == len(fdoc["calls"]), "signalled: the same calls")

    db = os.path.join(a.work, "sig.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    r = subprocess.run([a.bin, "analyze", "--db", db, mixed], capture_output=True, text=True,
                       timeout=300)
    c.check(r.returncode == 0, f"signalled: analyze --db exit {r.returncode} {r.stderr!r}")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n, flagged = con.execute("SELECT count(*), sum((flags & ?) <> 0) FROM rtp_streams",
                             (TRUNCATED_BIT,)).fetchone()
    con.close()
    want = len(set(full) & was_cut)
    c.check(want >= len(full) // 2, f"signalled: {want} of {len(full)} streams cut")
    c.check(n == len(full) and flagged == want,
            f"signalled: database {flagged} of {n} flagged, {want} cut")
    streams = api_streams(a.bin, db, a.work)
    c.check(streams is not None and len(streams) == len(full),
            f"signalled: API streams {streams and len(streams)}")
    if streams:
        c.check(sum(1 for s in streams if s["detections"].get("truncated")
                    and s["flags"] & TRUNCATED_BIT) == want,
                f"signalled: API detections.truncated on the {want} cut streams")


def main():
    a = parse_args()
    for tool in ("tshark", "editcap", "mergecap"):
        if not shutil.which(tool):
            print(f"skipped: {tool} not installed")
            return 77
    os.makedirs(a.work, exist_ok=True)
    c = Check()
    corpus(c, a)
    generated(c, a)
    signalled(c, a)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
