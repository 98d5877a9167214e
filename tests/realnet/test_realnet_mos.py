#!/usr/bin/env python3
"""MOS on media made by real components (issue 20): SIPp plays G.711 A-law
(play_pcap_audio, a port per call) on both sides of the sbc_lab.py testbed,
rtpengine relays it through Kamailio, dumpcap records both sides of the SBC.
(SIPp's rtp_stream is not used here: on a loaded host its sender stalls for
up to 360 ms, real late packets that a 60 ms jitter buffer discards, so
those streams are not loss-free for the listener.)

- Loss-free: tshark finds no lost packet in any stream, and trunkscope scores
  every stream MOS >= 4.0 (four streams per answered call).
- Loss written into the capture by this test (every Nth packet of each
  stream dropped, pcaploss.py): trunkscope counts exactly the dropped packets
  as lost, and each stream's MOS follows the ITU-T G.107 E-model for G.711
  with packet-loss concealment (Ie = 0, Bpl = 25.1, random loss BurstR = 1):
      Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)
  from the same stream's loss-free R (its delay and any jitter-buffer
  discards stay as they were), within MOS_TOL; the mean MOS falls as the
  loss grows.
Needs root and the packages of sbc_lab.py plus tshark; exit 77 otherwise."""
import argparse
import json
import os
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

MOS_CLEAN_MIN = 4.0
MOS_TOL = 0.15
EVERY = (50, 20, 10)  # 2 %, 5 %, 10 % loss
IE, BPL = 0.0, 25.1


def ie_eff(ppl_pct, burst_r=1.0):
    return IE + (95.0 - IE) * ppl_pct / (ppl_pct / burst_r + BPL)


def mos_of_r(r):
    """G.107 annex B: MOS from R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def stream_key(s):
    return f"{s.get('src')}>{s.get('dst')}/{str(s.get('ssrc')).lower()}"


def analyze(binary, pcap):
    p = subprocess.run([binary, "analyze", "--json", pcap], capture_output=True, text=True,
                       timeout=600)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {}


def tshark_lost(pcap):
    """{src:port>dst:port/ssrc: lost} from tshark's RTP stream analysis."""
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-q", "-z", "rtp,streams"],
                       capture_output=True, text=True, timeout=600)
    out = {}
    for line in p.stdout.splitlines():
        f = line.split()
        # start end src sport dst dport ssrc payload packets lost (pct) ...
        if len(f) > 9 and f[7].startswith("g711"):
            out[f"{f[2]}:{f[3]}>{f[4]}:{f[5]}/{f[6].lower()}"] = int(f[9])
    return out


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
    truth = sbc_lab.run(a.work, ncalls=40, rate=8, hold=(8000, 10000),
                        mix=("answered", "failover"), media="pcap")
    pcap = os.path.join(a.work, "sbc.pcap")
    answered = sum(1 for tc in truth["calls"] if tc["outcome"] == "answered")
    c.check(answered == len(truth["calls"]) and not truth["problems"],
            f"testbed: {answered} of {len(truth['calls'])} answered, {truth['problems'][:3]}")

    lost = tshark_lost(pcap)
    c.check(len(lost) == 4 * answered, f"tshark: {len(lost)} streams, {answered} answered")
    # a duplicate (lost -1) is no loss
    c.check(all(v <= 0 for v in lost.values()),
            f"tshark: loss in a stream {[(k, v) for k, v in lost.items() if v > 0]}")
    rc, doc = analyze(a.bin, pcap)
    c.check(rc == 0, f"analyze rc {rc}")
    clean = {stream_key(s): s for s in doc.get("streams", []) if s.get("codec") == "PCMA"}
    c.check(set(clean) == set(lost), f"streams differ from tshark's: "
                                     f"{sorted(set(clean) ^ set(lost))[:4]}")
    low = {k: s.get("mos") for k, s in clean.items()
           if not (s.get("mos") or 0) >= MOS_CLEAN_MIN}
    c.check(not low, f"{len(low)} loss-free streams under MOS {MOS_CLEAN_MIN}: "
                     f"{list(low.items())[:4]}")
    print(f"loss-free: {len(clean)} streams, MOS {min(s['mos'] for s in clean.values()):.2f}"
          f"..{max(s['mos'] for s in clean.values()):.2f}" if clean else "no streams", flush=True)

    prev_mean = None
    for every in EVERY:
        lossy = os.path.join(a.work, f"loss{every}.pcap")
        dropped = pcaploss.drop(pcap, lossy, every=every)
        rc, d2 = analyze(a.bin, lossy)
        c.check(rc == 0, f"analyze rc {rc} (every {every})")
        got = {stream_key(s): s for s in d2.get("streams", []) if s.get("codec") == "PCMA"}
        devs, moses = [], []
        for key, (npk, ndrop) in dropped.items():
            s, s0 = got.get(key), clean.get(key)
            tag = f"1/{every} loss, stream {key}"
            if s is None or s0 is None:
                c.check(False, f"{tag}: not reported")
                continue
            # the loss-free count is 0, or -1 after a duplicate the relay sent
            lost0 = s0.get("lost") or 0
            c.check((s.get("lost") or 0) - lost0 == ndrop,
                    f"{tag}: lost {s.get('lost')} (loss-free {lost0}) != {ndrop} dropped")
            p_inj = 100.0 * ndrop / npk
            ppl0 = s0.get("ppl_pct") or 0.0
            b0 = s0.get("burst_r") or 1.0
            r_want = s0["r_factor"] + ie_eff(ppl0, b0) - ie_eff(ppl0 + p_inj)
            want = mos_of_r(r_want)
            devs.append(s["mos"] - want)
            moses.append(s["mos"])
            c.check(abs(s["mos"] - want) <= MOS_TOL,
                    f"{tag}: MOS {s['mos']:.3f}, E-model {want:.3f} "
                    f"(Ppl {p_inj:.2f}% + {ppl0:.2f}%, R0 {s0['r_factor']:.1f})")
        if moses:
            mean = sum(moses) / len(moses)
            print(f"1/{every} loss: {len(moses)} streams, mean MOS {mean:.3f}, "
                  f"E-model deviation {min(devs):+.3f}..{max(devs):+.3f}", flush=True)
            c.check(prev_mean is None or mean < prev_mean,
                    f"mean MOS {mean:.3f} did not fall below {prev_mean} as loss grew")
            prev_mean = mean
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
