#!/usr/bin/env python3
"""Capacity planning end to end: two generated captures merged, a quiet
two hours (a call every 50 s) with a busy 20 minutes (a call a second) an
hour in. The busy hour must hold the busy 20 minutes; its Erlangs, BHCA and holding time must equal what this test
recomputes from the legs of the same report (answer -> end of the trunk's
answered legs by INVITE minute, every 60-minute window); the Erlang B
channels those Erlangs need are recomputed here with the textbook
recursion. The API (analyze --db, serve) gives the same numbers, and the
text report prints the table."""
import datetime
import json
import os
import shutil
import subprocess
import sys

from manifest import Checker, parse_args
from serving import Serve

T0 = 1700000000


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() if s else None


def erlang_b_channels(a, p):
    if a <= 0:
        return 0
    b, m = 1.0, 0
    while b > p:
        m += 1
        b = a * b / (m + a * b)
    return m


def main():
    a = parse_args()
    c = Checker()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    quiet = os.path.join(a.work, "quiet.pcap")
    busy = os.path.join(a.work, "busy.pcap")
    common = ["--duration-mean", "20", "--impair", "0", "--srtp", "0", "--twin-rate", "0",
              "--options-interval", "300", "--itsps", "1"]
    subprocess.run([a.bin, "gen", "-o", quiet, "--calls", "144", "--cps", "0.02", "--seed", "3",
                    "--start", str(T0), *common], check=True, capture_output=True)
    busy_start = T0 + 3600
    subprocess.run([a.bin, "gen", "-o", busy, "--calls", "1200", "--cps", "1", "--seed", "4",
                    "--start", str(busy_start), *common], check=True, capture_output=True)
    db = os.path.join(a.work, "cap.db")
    p = subprocess.run([a.bin, "analyze", "--json", "--db", db, quiet, busy], capture_output=True,
                       text=True, timeout=1200)
    c.check(p.returncode == 0, f"analyze exit 0 ({p.stderr[-300:]})")
    doc = json.loads(p.stdout)
    itsp = [t for t in doc["trunks"] if t["type"] == "itsp"]
    c.check(len(itsp) >= 1, "an ITSP trunk")
    for t in itsp:
        cap = t["capacity"]
        # per INVITE minute: attempts and answer -> end of answered legs
        mins = {}
        for call in doc["calls"]:
            for leg in call["legs"]:
                ends = {leg["src"].rsplit(":", 1)[0], leg["dst"].rsplit(":", 1)[0]}
                if ends != {t["local"], t["peer"]}:
                    continue
                m = int(ts(leg["invite_ts"]) // 60 * 60)
                e = mins.setdefault(m, [0, 0, 0.0])
                e[0] += 1
                if leg["outcome"] == "answered" and leg["answer_ts"] and leg["end_ts"]:
                    e[1] += 1
                    e[2] += ts(leg["end_ts"]) - ts(leg["answer_ts"])
        keys = sorted(mins)
        best = None
        for end in keys:
            w = [mins[k] for k in keys if end - 3540 <= k <= end]
            tot = (sum(x[2] for x in w), sum(x[0] for x in w), sum(x[1] for x in w))
            if best is None or tot[0] > best[0][0]:
                best = (tot, max(keys[0], end - 3540))
        (hold, att, ans), start = best
        window = min(3600, keys[-1] - keys[0] + 60)
        erl = hold / window
        got_start = ts(cap["busy_hour_start"])
        c.check(busy_start + 1200 + 60 - 3600 <= got_start <= busy_start + 60,
                f"trunk {t['id']}: the busy hour holds the busy 20 minutes "
                f"({cap['busy_hour_start']} vs {busy_start})")
        c.check(abs(got_start - start) <= 120, f"trunk {t['id']}: busy hour start as recomputed "
                f"({got_start} vs {start})")
        c.check(cap["window_s"] == 3600, f"trunk {t['id']}: an hour's window")
        c.check(abs(cap["erlangs"] - erl) <= 0.01 * erl + 0.01,
                f"trunk {t['id']}: Erlangs {cap['erlangs']:.3f} vs recomputed {erl:.3f}")
        c.check(abs(cap["busy_hour_attempts"] - att) <= 0.01 * att + 2,
                f"trunk {t['id']}: busy-hour attempts {cap['busy_hour_attempts']} vs {att}")
        c.check(abs(cap["bhca"] - cap["busy_hour_attempts"]) < 1e-6, "BHCA = attempts of a full hour")
        c.check(abs(cap["mean_holding_s"] - hold / max(ans, 1)) <= 0.5,
                f"trunk {t['id']}: mean holding {cap['mean_holding_s']:.2f} vs {hold / max(ans, 1):.2f}")
        c.check(cap["channels_1pct"] == erlang_b_channels(cap["erlangs"], 0.01),
                f"trunk {t['id']}: Erlang B channels at 1 % ({cap['channels_1pct']})")
        c.check(cap["channels_01pct"] == erlang_b_channels(cap["erlangs"], 0.001),
                f"trunk {t['id']}: Erlang B channels at 0.1 % ({cap['channels_01pct']})")
        c.check(cap["channels_01pct"] > cap["channels_1pct"] > 0, "0.1 % needs more channels than 1 %")
        c.check(cap["guide_kbps_peak"] == 80 * t["peak_concurrent"], "guide bandwidth at the peak")
        c.check(cap["guide_kbps_1pct"] == 80 * cap["channels_1pct"], "guide bandwidth for 1 %")
        print(f"trunk {t['id']} {t['name']}: busy hour {cap['busy_hour_start']}, "
              f"{cap['erlangs']:.2f} E, BHCA {cap['bhca']:.0f}, peak {t['peak_concurrent']}, "
              f"channels {cap['channels_1pct']} (1 %) / {cap['channels_01pct']} (0.1 %)")

    # the API over the database: the same numbers, and measured rates
    with Serve(a.bin, db) as srv:
        doc = srv.wait("/api/v1/trunks")
        trunks = doc["trunks"] if doc is not None else None
        c.check(trunks is not None, "serve answers")
        for t in itsp:
            tid = [x["id"] for x in trunks or [] if x["peer"] == t["peer"] and x["local"] == t["local"]]
            c.check(len(tid) == 1, f"trunk {t['name']} in the API")
            if len(tid) != 1:
                continue
            api = srv.get(f"/api/v1/trunks/{tid[0]}")["capacity"]
            for k in ("busy_hour_attempts", "busy_hour_answered", "channels_1pct", "channels_01pct"):
                c.check(api[k] == t["capacity"][k], f"API {k} {api[k]} = report {t['capacity'][k]}")
            c.check(api["busy_hour_start"] == t["capacity"]["busy_hour_start"], "API busy hour = report")
            c.check(abs(api["erlangs"] - t["capacity"]["erlangs"]) < 1e-6, "API Erlangs = report")
            g711 = [m for m in api["measured"] if m["codec"] in ("PCMA", "PCMU")]
            c.check(g711 and all(abs(m["l2_kbps"] - 87.2) < 3 for m in g711),
                    f"measured G.711 Layer-2 rate near 87.2 kbit/s ({g711})")

    txt = subprocess.run([a.bin, "analyze", quiet], capture_output=True, text=True, timeout=600).stdout
    c.check("Capacity (busy hour, Erlang B):" in txt, "the text report prints the capacity table")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
