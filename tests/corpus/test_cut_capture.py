"""A generated capture cut in the middle (gen --max-packets): calls still up
or ringing at the cut are in progress, not failures. Every call the truth
file marks in_progress or pending (what the cut shows of a call still open
there, written by the generator, not by the analyser) must be analysed as
such, none of them as a timeout; and the ASR of the last minute in the API's
series (stored with analyze --db, served by serve) must equal the truth's:
answered calls over calls that ended, those still open left out."""
import json
import os
import re
import subprocess
import sys
import urllib.request

from manifest import Checker, analyze, parse_args

# (seed, packets): cuts with calls answered, ringing and a fresh INVITE open
CUTS = [(5, 3000), (11, 9000)]
OPEN = ("in_progress", "pending")


def serve(binary, db):
    p = subprocess.Popen([binary, "serve", "--db", db, "--http", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r"port (\d+)", p.stdout.readline())
    if not m:
        p.kill()
        raise SystemExit("serve did not start: " + p.stderr.read())
    return p, int(m.group(1))


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1{path}", timeout=30) as r:
        return json.loads(r.read().decode())


def run_cut(c, a, seed, packets):
    name = f"cut{seed}"
    pcap = os.path.join(a.work, name + ".pcap")
    db = os.path.join(a.work, name + ".db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "300", "--cps", "4", "--seed", str(seed),
                    "--max-packets", str(packets)], check=True, capture_output=True, timeout=300)
    truth = json.load(open(os.path.join(a.work, name + ".truth.json")))
    rc, doc, err = analyze(a.bin, [pcap], ["--db", db])
    c.check(rc == 0 and doc, f"{name}: analyze rc={rc} {err[-300:]}")
    if not doc:
        return
    by_leg = {leg["call_id"]: call for call in doc["calls"] for leg in call["legs"]}
    opened = 0
    for tc in truth["calls"]:
        seen = [by_leg[leg["call_id"]] for leg in tc["legs"]
                if leg["visible"] and leg["call_id"] in by_leg]
        if not seen:
            continue
        got = seen[0]["outcome"]
        if tc["outcome"] in OPEN:
            opened += 1
            c.check(got == tc["outcome"],
                    f"{name}: call {tc['id']} open at the cut ({tc['outcome']}): analysed {got}")
            c.check(seen[0]["failure_side"] in (None, "none"),
                    f"{name}: call {tc['id']} open at the cut blames {seen[0]['failure_side']}")
        elif tc["truncated"]:
            c.check(got == tc["outcome"], f"{name}: call {tc['id']} ended before the cut "
                                          f"({tc['outcome']}): analysed {got}")
    ringing = [tc for tc in truth["calls"] if tc["outcome"] in OPEN and tc["answer_time"] is None]
    c.check(opened > 0 and ringing, f"{name}: calls open at the cut ({opened}, "
                                    f"{len(ringing)} not answered)")
    # the last minute of the overview series against the truth
    starts = [tc["setup_time"] for tc in truth["calls"] if tc["setup_time"]]
    first, last = int(min(starts)) // 60 * 60, max(starts)
    b0 = int(last) // 60 * 60
    srv, port = serve(a.bin, db)
    try:
        series = get(port, f"/kpis?from={first * 1000}&to={(b0 + 60) * 1000}&bucket=60")
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    pts = [p for p in series["points"] if p["t_ms"] == b0 * 1000]
    c.check(len(pts) == 1, f"{name}: a point for the last minute ({b0})")
    calls = [tc for tc in truth["calls"] if tc["setup_time"] and b0 <= tc["setup_time"] < b0 + 60]
    ended = [tc for tc in calls if tc["outcome"] not in OPEN]
    answered = sum(tc["outcome"] == "answered" for tc in ended)
    want = answered / len(ended) if ended else None
    c.check(any(tc["outcome"] in OPEN for tc in calls),
            f"{name}: calls of the last minute still open at the cut")
    if pts:
        p = pts[0]
        c.check(p["attempts"] == len(ended), f"{name}: last minute attempts {p['attempts']}, "
                                             f"truth {len(ended)} ended calls")
        c.check(p["asr"] is not None and want is not None and abs(p["asr"] - want) < 1e-9,
                f"{name}: last minute ASR {p['asr']}, truth {want}")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    for seed, packets in CUTS:
        run_cut(c, a, seed, packets)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
