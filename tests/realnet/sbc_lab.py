#!/usr/bin/env python3
"""Real-component SBC testbed: SIPp as the enterprise PBX, Kamailio (topoh,
rtpengine, failover by t_on_failure) as a dual-homed SBC, SIPp as carriers A
and B, each in its own network namespace with private addresses on both
sides of the SBC; dumpcap records the SBC's two interfaces as a SPAN port at
the edge would. The truth comes from the components' own logs (Kamailio's
xlog lines, the SIPp peers' <log> lines), never from trunkscope.

  python3 tests/realnet/sbc_lab.py --out DIR [--calls N] [--mix CASE,..] [--inbound N]
                                    [--loss PCT]

writes DIR/sbc.pcap (classic pcap, Ethernet) and DIR/truth.json; the logs
stay in DIR/work. --inbound adds N calls the other way: SIPp as carrier A
calling in (from port 5062), the SBC relaying them to a second SIPp on the
PBX (port 5070) that answers, is busy, does not know the number or rings
until the carrier cancels. --loss drops that share of every RTP stream's packets from
the written capture (seeded; truth.json lists the drops per stream). Needs root, kamailio (tm, topoh, rtpengine modules),
rtpengine-daemon, sipp, dumpcap and mergecap. Exit 77 when something is missing.

Addresses (inside the namespaces only):
  pbx      10.20.0.10  --ent0--  10.20.0.1   sbc   172.20.0.1 --car0 (bridge)--
  carrierA 172.20.0.20, carrierB 172.20.0.30
  inbound: carrierA 172.20.0.20:5062 -> sbc -> pbx 10.20.0.10:5070
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import netns  # noqa: E402  (tests/netns.py)
import pcaploss  # noqa: E402

PBX, SBC_ENT, SBC_CAR, CAR_A, CAR_B = "10.20.0.10", "10.20.0.1", "172.20.0.1", \
    "172.20.0.20", "172.20.0.30"
ENT_NET, CAR_NET = "10.20.0.0/24", "172.20.0.0/24"
# rtpengine's ports: one aligned block, so that a tc filter can match it
RTP_MIN, RTP_MAX = 32768, 49151

# Call mix: name -> (carrier A's digit, carrier B's digit, weight). Digits
# (see scenarios/carrier_uas.xml): 0 answer, 1 486, 2 404, 3 503, 4 silent,
# 5 ring until CANCEL. The SBC fails over to B on A's 503 or silence.
CASES = {
    "answered": (0, 9, 34),
    "busy": (1, 9, 12),
    "notfound": (2, 9, 8),
    "failover": (3, 0, 13),
    "failover_silent": (4, 0, 5),
    "failover_failed": (3, 3, 8),
    "failover_busy": (3, 1, 5),
    "cancelled": (5, 9, 15),
}

# Inbound: name -> (the PBX's digit, as above; weight). The carrier calls
# +49301<d>NNNN; digit 5 also makes the carrier cancel after ringing.
INBOUND = {
    "in_answered": (0, 20),
    "in_busy": (1, 8),
    "in_notfound": (2, 5),
    "in_cancelled": (5, 5),
}
PBX_IN_PORT, CAR_IN_PORT = 5070, 5062

TOOLS = [("kamailio", "kamailio"), ("rtpengine", "rtpengine-daemon"), ("sipp", "sip-tester"),
         ("dumpcap", "wireshark-common"), ("mergecap", "wireshark-common")]
KAM_MODULES = ("topoh.so", "rtpengine.so", "tm.so")


def kamailio_modules_missing():
    for d in ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules",
              "/usr/lib64/kamailio/modules"):
        if os.path.isdir(d):
            return [m for m in KAM_MODULES if not os.path.exists(os.path.join(d, m))]
    return list(KAM_MODULES)


def why_not():
    """None when the testbed can run here, else the reason."""
    r = netns.missing(TOOLS)
    if r:
        return r
    miss = kamailio_modules_missing()
    if miss:
        return f"Kamailio modules {miss} missing (install kamailio)"
    return None


# ---- G.711 A-law audio for rtp_stream (ITU-T G.711, A-law segments)

def alaw(sample):
    """16-bit linear PCM -> A-law byte."""
    sign = 0x80 if sample >= 0 else 0x00
    mag = min(abs(sample), 32767) >> 3  # 13-bit magnitude
    if mag < 32:
        code = mag >> 1
    else:
        seg = mag.bit_length() - 5  # 1..7
        code = (seg << 4) | ((mag >> seg) & 0x0F)
    return (sign | code) ^ 0x55


def write_audio(path, seconds=4.0):
    """A speech-like signal (two tones, syllable-rate envelope), raw A-law:
    rtp_stream sends it 160 bytes per 20 ms packet."""
    n = int(8000 * seconds)
    out = bytearray(n)
    for i in range(n):
        t = i / 8000.0
        env = 0.35 + 0.65 * abs(math.sin(2 * math.pi * 3.0 * t))
        v = env * (0.5 * math.sin(2 * math.pi * 310 * t) + 0.3 * math.sin(2 * math.pi * 1210 * t))
        out[i] = alaw(int(v * 12000))
    with open(path, "wb") as f:
        f.write(out)


def write_rtp_pcap(path, audio, seconds):
    """The audio as a pcap of RTP packets (RFC 3550: version 2, PT 8 PCMA,
    20 ms, marker on the first) for SIPp's play_pcap_audio, which replays
    the RTP headers as they are and only rewrites addresses and ports."""
    n = int(seconds * 50)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            k = (i * 160) % (len(audio) - 160)
            rtp = struct.pack("!BBHII", 0x80, 8 | (0x80 if i == 0 else 0), i & 0xFFFF,
                              (i * 160) & 0xFFFFFFFF, 0x5EED0001) + audio[k:k + 160]
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
            eth = b"\x00" * 12 + b"\x08\x00" + ip
            us = i * 20000
            f.write(struct.pack("<IIII", us // 1000000, us % 1000000, len(eth), len(eth)))
            f.write(eth)


# ---- the call plan

def spread(ncalls, names, weights, seed):
    """ncalls case names in the proportion of the weights, shuffled."""
    total = sum(weights)
    counts = [max(1, round(ncalls * w / total)) for w in weights]
    while sum(counts) > ncalls:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < ncalls:
        counts[0] += 1
    cases = [n for n, k in zip(names, counts) for _ in range(k)]
    random.Random(seed).shuffle(cases)
    return cases


def plan(ncalls, seed, mix=None):
    """[(n, case, caller, callee)] in call order; the called number carries
    the carriers' digits and a unique call number (the join key of the
    truth). mix: the case names to use (default all)."""
    names = [n for n in CASES if not mix or n in mix]
    out = []
    for i, case in enumerate(spread(ncalls, names, [CASES[n][2] for n in names], seed)):
        a, b, _ = CASES[case]
        out.append((i + 1, case, f"+4930555{i + 1:04d}", f"+4989{a}{b}{i + 1:04d}"))
    return out


def plan_inbound(ncalls, seed, first):
    """Inbound calls numbered from first: [(n, case, caller, callee)]."""
    if ncalls < 1:
        return []
    names = list(INBOUND)
    out = []
    for i, case in enumerate(spread(ncalls, names, [INBOUND[n][1] for n in names], seed + 1)):
        n = first + i
        out.append((n, case, f"+4989666{n:04d}", f"+49301{INBOUND[case][0]}{n:04d}"))
    return out


# ---- the testbed

def build_net(lab):
    for ns in ("pbx", "sbc", "ca", "cb"):
        lab.add(ns)
    lab.veth("pbx", "eth0", "sbc", "ent0")
    lab.veth("sbc", "pa", "ca", "eth0")
    lab.veth("sbc", "pb", "cb", "eth0")
    lab.bridge("sbc", "car0", ["pa", "pb"])
    lab.addr("pbx", "eth0", PBX + "/24")
    lab.addr("sbc", "ent0", SBC_ENT + "/24")
    lab.addr("sbc", "car0", SBC_CAR + "/24")
    lab.addr("ca", "eth0", CAR_A + "/24")
    lab.addr("cb", "eth0", CAR_B + "/24")


def scenario(work, name, out, subst):
    with open(os.path.join(HERE, "scenarios", name)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(f"@{k}@", str(v))
    path = os.path.join(work, out)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait_log(path, pattern, timeout):
    def seen():
        try:
            with open(path, errors="replace") as f:
                return re.search(pattern, f.read()) is not None
        except OSError:
            return False
    return netns.wait_for(seen, timeout)


def run(out, ncalls=200, rate=15, limit=120, loss=0.0, seed=1, hold=(6000, 12000),
        mix=None, media="pcap", inbound=0, in_rate=5):
    """Runs the testbed; returns the truth dictionary (also written to
    out/truth.json) or raises RuntimeError when a component failed. loss:
    percent of each RTP stream's packets dropped from the written capture
    (seeded; listed in the truth's "loss"). media: "pcap" plays a pcap from a
    port per call (play_pcap_audio, [auto_media_port]; one SSRC for all
    calls), "stream" uses rtp_stream (an SSRC per call, one port per SIPp)."""
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    for f in os.listdir(work):
        os.unlink(os.path.join(work, f))
    audio = os.path.join(work, "speech.alaw")
    write_audio(audio)
    if media == "pcap":
        play = os.path.join(work, "speech.pcap")
        with open(audio, "rb") as f:
            write_rtp_pcap(play, f.read(), hold[1] / 1000 + 3)
        msub = {"PLAY": f'<exec play_pcap_audio="{play}"/>', "STOPNOP": "",
                "MEDIA_PORT": "[auto_media_port]"}
    else:
        msub = {"PLAY": f'<exec rtp_stream="{audio},-1,8"/>',
                "STOPNOP": '<nop><action><exec rtp_stream="pause"/></action></nop>',
                "MEDIA_PORT": "[rtpstream_audio_port]"}
    calls = plan(ncalls, seed, mix)
    in_calls = plan_inbound(inbound, seed, len(calls) + 1)
    csv, in_csv = os.path.join(work, "calls.csv"), os.path.join(work, "inbound.csv")
    for path, plist in ((csv, calls), (in_csv, in_calls)):
        with open(path, "w") as f:
            f.write("SEQUENTIAL\n")
            for n, case, caller, callee in plist:
                f.write(f"{caller};{callee};{1 if case.endswith('cancelled') else 0};\n")
    pbx_xml = scenario(work, "pbx_uac.xml", "pbx.xml",
                       {"HOLDMIN": hold[0], "HOLDMAX": hold[1], "UA": "LabPBX/1.0", **msub})
    car_xml = {c: scenario(work, "carrier_uas.xml", f"carrier{c}.xml",
                           {**msub, "NAME": c, "SERVER": f"LabCarrier-{c}",
                            "NUMRE": r"\+4989([0-9])[0-9]+" if c == "A"
                            else r"\+4989[0-9]([0-9])[0-9]+"})
               for c in ("A", "B")}
    # inbound: the carrier's UAC and the PBX's UAS, the same scenarios
    in_uac_xml = scenario(work, "pbx_uac.xml", "carrier-in.xml",
                          {"HOLDMIN": hold[0], "HOLDMAX": hold[1], "UA": "LabCarrier-A/1.0",
                           **msub})
    pbx_uas_xml = scenario(work, "carrier_uas.xml", "pbx-in.xml",
                           {**msub, "NAME": "PBX", "SERVER": "LabPBX/1.0",
                            "NUMRE": r"\+49301([0-9])[0-9]+"})
    pcap = os.path.join(out, "sbc.pcap")
    kam = netns.tool("kamailio")
    t0 = time.time()
    with netns.Lab("tsl") as lab:
        build_net(lab)
        # one dumpcap per interface, merged in time order afterwards (one
        # dumpcap on both writes them in arrival order per ring buffer)
        caps = []
        for dev in ("ent0", "car0"):
            cap_log = os.path.join(work, f"dumpcap-{dev}.log")
            caps.append(lab.start("sbc", ["dumpcap", "-P", "-i", dev, "-w",
                                          os.path.join(work, dev + ".pcap")], log=cap_log))
            if not wait_log(cap_log, r"Capturing on", 15):
                raise RuntimeError("dumpcap did not start: " + open(cap_log).read()[-300:])
        rtpe = lab.start("sbc", ["rtpengine", "--foreground", "--log-stderr", "--table=-1",
                                 "--interface=internal/" + SBC_ENT,
                                 "--interface=external/" + SBC_CAR,
                                 "--listen-ng=127.0.0.1:22222",
                                 f"--port-min={RTP_MIN}", f"--port-max={RTP_MAX}",
                                 "--log-level=5",
                                 "--num-threads=2"],
                         log=os.path.join(work, "rtpengine.log"))
        kam_log = os.path.join(work, "kamailio.log")
        kp = lab.start("sbc", [kam, "-DD", "-E", "-f", os.path.join(HERE, "kamailio.cfg"),
                               "-w", work, "-m", "128", "-M", "16",
                               "-P", os.path.join(work, "kamailio.pid")], log=kam_log)
        if not wait_log(os.path.join(work, "rtpengine.log"), r"[Ss]tartup complete|"
                        r"listening|Startup", 10):
            time.sleep(1)
        time.sleep(1.5)
        if kp.poll() is not None or rtpe.poll() is not None:
            raise RuntimeError("kamailio/rtpengine did not start: " +
                               open(kam_log).read()[-600:] +
                               open(os.path.join(work, "rtpengine.log")).read()[-600:])
        if media == "pcap":  # the ports media arrive at, see udpsink.py
            sinks = [("pbx", PBX, 20000, ncalls), ("ca", CAR_A, 20000, ncalls),
                     ("cb", CAR_B, 20000, ncalls)]
            if in_calls:
                sinks += [("pbx", PBX, 26000, len(in_calls)), ("ca", CAR_A, 26000, len(in_calls))]
            for ns, ip, base, count in sinks:
                lab.start(ns, [sys.executable, os.path.join(HERE, "udpsink.py"), ip, base,
                               # below the inbound block at 26000
                               min(count, 1400 if in_calls else 2500)],
                          log=os.path.join(work, f"sink-{ns}-{base}.log"))
        uas = {}
        for c, ns, ip in (("A", "ca", CAR_A), ("B", "cb", CAR_B)):
            uas[c] = lab.start(ns, ["sipp", "-sf", car_xml[c], "-i", ip, "-p", "5060",
                                    "-mi", ip, "-mp", "20000", "-nostdin",
                                    "-trace_logs", "-log_file",
                                    os.path.join(work, f"carrier{c}.log"),
                                    "-trace_err", "-error_file",
                                    os.path.join(work, f"carrier{c}.err")],
                               log=os.path.join(work, f"carrier{c}.out"), cwd=work)
        if in_calls:
            uas["PBX"] = lab.start("pbx", ["sipp", "-sf", pbx_uas_xml, "-i", PBX,
                                           "-p", str(PBX_IN_PORT), "-mi", PBX, "-mp", "26000",
                                           "-nostdin", "-trace_logs", "-log_file",
                                           os.path.join(work, "pbx-in.log"), "-trace_err",
                                           "-error_file", os.path.join(work, "pbx-in.err")],
                                   log=os.path.join(work, "pbx-in.out"), cwd=work)
        time.sleep(1)
        in_uac = None
        if in_calls:
            in_uac = lab.start("ca", ["sipp", SBC_CAR + ":5060", "-sf", in_uac_xml, "-inf", in_csv,
                                      "-i", CAR_A, "-p", str(CAR_IN_PORT), "-mi", CAR_A,
                                      "-mp", "26000", "-m", len(in_calls), "-r", in_rate,
                                      "-l", limit, "-nostdin", "-timeout",
                                      f"{int(60 + len(in_calls) / in_rate + hold[1] / 1000)}s",
                                      "-trace_logs", "-log_file",
                                      os.path.join(work, "carrier-in.log"), "-trace_err",
                                      "-error_file", os.path.join(work, "carrier-in.err")],
                               log=os.path.join(work, "carrier-in.out"), cwd=work)
        pbx_out = os.path.join(work, "pbx.out")
        uac = lab.start("pbx", ["sipp", SBC_ENT + ":5060", "-sf", pbx_xml, "-inf", csv,
                                "-i", PBX, "-p", "5060", "-mi", PBX, "-mp", "20000",
                                "-m", ncalls, "-r", rate, "-l", limit, "-nostdin",
                                "-timeout", f"{int(60 + ncalls / rate + hold[1] / 1000)}s", "-trace_logs", "-log_file",
                                os.path.join(work, "pbx.log"), "-trace_err", "-error_file",
                                os.path.join(work, "pbx.err"), "-trace_stat", "-stf",
                                os.path.join(work, "pbx.stat.csv")],
                        log=pbx_out, cwd=work)
        try:
            uac.wait(timeout=400)
            if in_uac:
                in_uac.wait(timeout=400)
        except Exception:
            raise RuntimeError("a calling SIPp did not finish in time")
        time.sleep(2)  # the last BYEs, 200s and ACKs reach the capture
        for c in uas:
            lab.stop(uas[c], sig=netns.signal.SIGUSR1, timeout=5)
        lab.stop(kp)
        lab.stop(rtpe)
        time.sleep(0.5)
        for cap in caps:
            lab.stop(cap, sig=netns.signal.SIGINT)
        lab.stop_all()
    merged = os.path.join(work, "sbc-lossless.pcap") if loss > 0 else pcap
    netns.sh("mergecap", "-F", "pcap", "-w", merged, *[os.path.join(work, d + ".pcap")
                                                       for d in ("ent0", "car0")], timeout=300)
    dropped = pcaploss.drop(merged, pcap, pct=loss, seed=seed) if loss > 0 else {}
    truth = build_truth(work, calls, uac.returncode, loss, in_calls,
                        in_uac.returncode if in_uac else 0)
    truth["loss"] = {k: {"packets": v[0], "dropped": v[1]} for k, v in dropped.items()}
    truth["media"] = media
    truth["wall_s"] = round(time.time() - t0, 1)
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    return truth


# ---- the truth, from the components' own logs

def read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def kamailio_events(work):
    """{called number: [events]} from the TSLAB xlog lines; the Call-ID it
    received ties each line to the call."""
    num_of_ci, ev = {}, {}
    for line in read_lines(os.path.join(work, "kamailio.log")):
        i = line.find("TSLAB ")
        if i < 0:
            continue
        words = line[i + 6:].split()
        kind, kv = words[0], dict(w.split("=", 1) for w in words[1:] if "=" in w)
        ci = kv.get("ci")
        if kind == "in":
            num_of_ci[ci] = kv.get("ru")
        num = num_of_ci.get(ci)
        if num is not None:
            ev.setdefault(num, []).append((kind, kv))
    return ev, num_of_ci


OUTCOME = [(200, 299, "answered"), (486, 486, "busy"), (600, 600, "busy"),
           (487, 487, "cancelled"), (408, 408, "failed"), (480, 480, "failed"),
           (500, 599, "failed"), (300, 699, "rejected")]


def outcome_of(code):
    for lo, hi, name in OUTCOME:
        if code is not None and lo <= code <= hi:
            return name
    return "timeout"


def uac_log(path):
    """{called number: {call_id, start_ms, final, end_ms}} of a pbx_uac.xml
    log (the calling side)."""
    out = {}
    for line in read_lines(path):
        f = line.strip().split(";")
        if len(f) >= 5 and f[0] == "PBX":
            d = out.setdefault(f[2], {})
            d["call_id"] = f[3]
            if f[1] == "START":
                d["start_ms"] = int(f[4])
            elif f[1] == "END" and len(f) >= 6:
                d["final"] = int(f[4])
                d["end_ms"] = int(f[5])
    return out


def uas_log(path, out):
    """Adds {(name, called number): {call_id, final}} of a carrier_uas.xml
    log (the called side) to out."""
    for line in read_lines(path):
        f = line.strip().split(";")
        if len(f) >= 5 and f[0] == "CAR":
            out[(f[1], f[2])] = {"call_id": f[3], "final": None if f[4] == "-" else int(f[4])}
    return out


def peak_of(calls):
    """Most calls in progress at once (INVITE to the end of the last
    transaction, on one SIPp's clock)."""
    ev = sorted([(c["start_ms"], 1) for c in calls if c["start_ms"] is not None] +
                [(c["end_ms"], -1) for c in calls if c["end_ms"] is not None],
                key=lambda e: (e[0], e[1]))
    cur = peak = 0
    for _, d in ev:
        cur += d
        peak = max(peak, cur)
    return peak


def inbound_truth(work, in_calls, kev, problems):
    """Inbound calls: carrier A's UAC (carrier-in.log) -> SBC -> the PBX's
    UAS (pbx-in.log); the PBX's answer decides, an error is the
    enterprise's."""
    uac = uac_log(os.path.join(work, "carrier-in.log"))
    uas = uas_log(os.path.join(work, "pbx-in.log"), {})
    out = []
    for n, case, caller, callee in in_calls:
        p, pl, ev = uac.get(callee, {}), uas.get(("PBX", callee)), kev.get(callee, [])
        tag = f"call {n} ({case}, {callee})"
        replies = [int(kv["code"]) for kind, kv in ev
                   if kind == "reply" and kv.get("src") == PBX and int(kv.get("code", 0)) >= 200]
        legs = [{"call_id": p.get("call_id"), "src": CAR_A, "dst": SBC_CAR,
                 "final_status": p.get("final"), "side": "itsp"},
                {"call_id": pl and pl["call_id"], "src": SBC_ENT, "dst": PBX,
                 "final_status": pl and pl["final"], "side": "enterprise",
                 "sbc_saw": replies[0] if replies else None}]
        final = p.get("final")
        outcome = outcome_of(final)
        for leg in legs:
            leg["outcome"] = outcome_of(leg["final_status"])
        side = None if outcome in ("answered", "cancelled") else "enterprise"
        relayed = any(kind == "in" and kv.get("dir") == "in" for kind, kv in ev) and \
            any(kind == "branch" and kv.get("carrier") == "PBX" for kind, kv in ev)
        complete = bool(p.get("call_id")) and final is not None and "end_ms" in p and \
            all(leg["call_id"] for leg in legs) and relayed
        if not complete:
            problems.append(f"{tag}: incomplete (carrier {p}, pbx {pl}, SBC relayed {relayed})")
        if pl and pl["final"] is not None and pl["final"] != legs[1]["sbc_saw"]:
            problems.append(f"{tag}: PBX logged {pl['final']}, SBC saw {legs[1]['sbc_saw']}")
        if legs[1]["call_id"] and legs[1]["call_id"] == legs[0]["call_id"]:
            problems.append(f"{tag}: Call-ID not masked toward the PBX")
        out.append({
            "id": n, "scenario": case, "caller": caller, "callee": callee, "direction": "inbound",
            "legs": legs, "call_ids": [leg["call_id"] for leg in legs], "final_status": final,
            "outcome": outcome, "failure_side": side, "complete": complete,
            "start_ms": p.get("start_ms"), "end_ms": p.get("end_ms"),
        })
    return out


def build_truth(work, calls, uac_rc, loss, in_calls=(), in_uac_rc=0):
    pbx = uac_log(os.path.join(work, "pbx.log"))
    car = {}
    for c in ("A", "B"):
        uas_log(os.path.join(work, f"carrier{c}.log"), car)
    kev, _ = kamailio_events(work)
    out_calls, problems = [], []
    addr = {"A": CAR_A, "B": CAR_B}
    for n, case, caller, callee in calls:
        p = pbx.get(callee, {})
        ev = kev.get(callee, [])
        tag = f"call {n} ({case}, {callee})"
        legs = [{"call_id": p.get("call_id"), "src": PBX, "dst": SBC_ENT,
                 "final_status": p.get("final"), "side": "enterprise"}]
        branches = [kv.get("carrier") for kind, kv in ev if kind == "branch"]
        for c in branches:
            cl = car.get((c, callee))
            replies = [int(kv["code"]) for kind, kv in ev
                       if kind == "reply" and kv.get("src") == addr[c]
                       and int(kv.get("code", 0)) >= 200]
            legs.append({"call_id": cl and cl["call_id"], "src": SBC_CAR, "dst": addr[c],
                         "final_status": cl and cl["final"], "side": "itsp", "carrier": c,
                         "sbc_saw": replies[0] if replies else None})
        final = p.get("final")
        outcome = outcome_of(final)
        # the failure is the side that sent the earliest final error
        # (README: failure side); here always a carrier when not answered
        side = None
        if outcome not in ("answered", "cancelled"):
            errs = [leg for leg in legs[1:] if leg["final_status"] and leg["final_status"] >= 300]
            side = "itsp" if errs else "sbc"
        for leg in legs[1:]:
            leg["outcome"] = outcome_of(leg["final_status"])
        legs[0]["outcome"] = outcome
        complete = bool(p.get("call_id")) and final is not None and "end_ms" in p and \
            all(leg["call_id"] for leg in legs) and len(legs) >= 2
        if not complete:
            problems.append(f"{tag}: incomplete (pbx {p}, branches {branches})")
        for leg in legs[1:]:
            if leg["call_id"] and leg["call_id"] == legs[0]["call_id"]:
                problems.append(f"{tag}: Call-ID not masked toward carrier {leg['carrier']}")
            if leg["final_status"] != leg.get("sbc_saw") and leg["final_status"] is not None:
                problems.append(f"{tag}: carrier {leg['carrier']} logged "
                                f"{leg['final_status']}, SBC saw {leg.get('sbc_saw')}")
        call_ids = []
        for leg in legs:
            if leg["call_id"] not in call_ids:
                call_ids.append(leg["call_id"])
        out_calls.append({
            "id": n, "scenario": case, "caller": caller, "callee": callee,
            "direction": "outbound", "legs": legs, "call_ids": call_ids, "final_status": final,
            "outcome": outcome, "failure_side": side, "complete": complete,
            "start_ms": p.get("start_ms"), "end_ms": p.get("end_ms"),
        })
    peak = peak_of(out_calls)
    inbound = inbound_truth(work, in_calls, kev, problems)
    return {
        "description": "Kamailio 5.6 SBC (topoh Call-ID masking, rtpengine, failover "
                       "A->B on 503 or no answer) between a SIPp PBX and two SIPp "
                       "carriers; capture of both SBC interfaces",
        "addresses": {"pbx": PBX, "sbc": [SBC_ENT, SBC_CAR], "carrier_a": CAR_A,
                      "carrier_b": CAR_B, "enterprise_net": ENT_NET,
                      "carrier_net": CAR_NET},
        "loss_pct": loss,
        "sipp_pbx_rc": uac_rc,
        "sipp_inbound_rc": in_uac_rc,
        "peak_concurrent": peak,
        "peak_inbound": peak_of(inbound),
        "problems": problems,
        "calls": out_calls + inbound,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--inbound", type=int, default=0,
                    help="inbound calls from carrier A to the PBX as well, default 0")
    ap.add_argument("--rate", type=float, default=15, help="calls per second")
    ap.add_argument("--loss", type=float, default=0.0,
                    help="percent of each RTP stream's packets dropped from the written "
                         "capture (seeded), default 0")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mix", default="",
                    help="comma-separated outbound cases to use (default all): "
                         + ", ".join(CASES))
    ap.add_argument("--media", choices=("pcap", "stream"), default="pcap",
                    help="pcap: play_pcap_audio from a port per call (default); "
                         "stream: rtp_stream, an SSRC per call from one port")
    a = ap.parse_args()
    mix = tuple(m for m in a.mix.split(",") if m)
    if any(m not in CASES for m in mix):
        print("sbc_lab: expected --mix of " + ", ".join(CASES), file=sys.stderr)
        return 2
    if a.calls < 1 or a.inbound < 0 or not 0 <= a.loss < 100 or a.rate <= 0:
        print("sbc_lab: expected --calls >= 1, --inbound >= 0, 0 <= --loss < 100, --rate > 0",
              file=sys.stderr)
        return 2
    r = why_not()
    if r:
        netns.skip(r)
    os.makedirs(a.out, exist_ok=True)
    truth = run(a.out, a.calls, a.rate, loss=a.loss, seed=a.seed, media=a.media,
                inbound=a.inbound, mix=mix or None)
    n = len(truth["calls"])
    ok = sum(1 for c in truth["calls"] if c["complete"])
    print(f"sbc_lab: {n} calls ({ok} complete), peak {truth['peak_concurrent']} at once, "
          f"{len(truth['problems'])} problems, {truth['wall_s']} s; "
          f"{os.path.join(a.out, 'sbc.pcap')} {os.path.join(a.out, 'truth.json')}")
    for p in truth["problems"][:20]:
        print("  " + p)
    return 0 if ok == n and not truth["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
