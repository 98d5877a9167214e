"""The analyze report as it is streamed: `--json` written as calls and
streams finish is the same document as the one written at the end from the
records the engine kept (the --calls-csv path), with the documented shape, on
the generator's capture; `--json-lines` carries the same objects, one per
line with a type; both are valid UTF-8 JSON when the input names and SIP
messages hold invalid UTF-8 (RFC 4475 torture messages); the progress line
appears on a terminal's stderr only (a pty), never in a pipe or with --quiet."""
import glob
import json
import math
import os
import pty
import select
import struct
import subprocess
import sys
import time

from manifest import Checker, parse_args

CALL_KEYS = ["id", "site", "start", "caller", "callee", "direction", "outcome", "failure_side",
             "failure_detail", "no_ack", "pdd_ms", "duration_s", "legs", "mos", "mos_reason", "one_way",
             "no_audio"]
LEG_KEYS = ["call_id", "from", "to", "ruri", "pai", "caller_digits", "callee_digits", "outcome",
            "final_status", "reason", "reason_header", "q850_cause", "ms_diagnostics",
            "hangup_by", "invite_ts", "attempt_ts", "ring_ts", "answer_ts", "end_ts",
            "transport", "src", "dst", "caller_sdp", "callee_sdp", "first_error", "forks",
            "hops", "site", "capture_gap", "no_ack", "reinvites", "retransmissions", "hold", "holds",
            "on_hold_at_end", "transfer", "session_timer", "auth_challenged", "evidence",
            "leg_ref", "mos", "mos_reason", "one_way", "no_audio", "streams", "endpoint_quality"]
STREAM_KEYS = ["id", "src", "dst", "ssrc", "ssrc_num", "payload_type", "payload_types", "codec",
               "clock_rate", "packets", "bytes", "expected", "lost", "lost_pct", "duplicates",
               "out_of_order", "seq_resets", "seq_errors", "markers", "comfort_noise",
               "jb_discarded", "min_delta_ms", "mean_delta_ms", "max_delta_ms",
               "jitter_min_ms", "jitter_mean_ms", "jitter_max_ms", "problem", "first_ts",
               "last_ts", "duration_s", "mos", "mos_reason", "r_factor", "ppl_pct", "burst_r", "delay_ms",
               "flags", "signalled", "call", "leg", "rtcp", "events", "srtp_decrypted",
               "srtp_auth_fail", "srtp_not_tried", "series"]


def run(binary, args, timeout=600):
    p = subprocess.run([binary, *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def strict_json(raw):
    """Parses bytes as JSON after a strict UTF-8 decode; None when either fails."""
    try:
        return json.loads(raw.decode("utf-8", "strict"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def without_elapsed(raw):
    return b"\n".join(l for l in raw.split(b"\n") if not l.lstrip().startswith(b'"elapsed_s"'))


def torture_pcap(shared, path):
    """Every RFC 4475 message as one UDP datagram 10.0.0.1:5060 -> 10.0.0.2:5060."""
    msgs = [open(f, "rb").read() for f in sorted(glob.glob(os.path.join(shared, "sip-torture", "*.dat")))]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, m in enumerate(msgs):
            udp = struct.pack("!HHHH", 5060, 5060, 8 + len(m), 0) + m
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
            frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    return len(msgs)


def pty_stderr(binary, args, timeout=300):
    """Runs with stderr on a pty (stdout to /dev/null); returns (rc, stderr bytes)."""
    master, slave = pty.openpty()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen([binary, *args], stdout=null, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(timeout=60), out


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    cap = os.path.join(a.work, "gen.pcap")
    rc, _, err = run(a.bin, ["gen", "-o", cap, "--concurrency", "60", "--max-packets", "400000",
                             "--duration-mean", "8", "--seed", "11", "--impair", "0.2",
                             "--options-interval", "5"])
    c.check(rc == 0, f"gen: rc={rc} {err[-300:]!r}")

    # streamed --json against the report written from the kept records
    rc, streamed, err = run(a.bin, ["analyze", "--json", cap])
    c.check(rc == 0, f"--json: rc={rc} {err[-300:]!r}")
    csv = os.path.join(a.work, "calls.csv")
    rc, kept, err = run(a.bin, ["analyze", "--json", "--calls-csv", csv, cap])
    c.check(rc == 0, f"--json --calls-csv: rc={rc}")
    c.check(without_elapsed(streamed) == without_elapsed(kept),
            "streamed --json is byte for byte the report of the kept records")
    doc = strict_json(streamed)
    c.check(doc is not None, "streamed --json parses")
    doc = doc or {}
    keys = list(doc.keys())
    c.check(keys[:2] == ["packets", "sip"], f"document starts with packets, sip: {keys[:4]}")
    c.check(keys[-4:] == ["trunks", "registrations", "topology", "streams"] and
            keys.index("calls") < keys.index("trunks") and
            keys.index("link_types") < keys.index("input_errors") < keys.index("elapsed_s"),
            f"document key order: {keys}")
    calls, streams = doc.get("calls", []), doc.get("streams", [])
    c.check(len(calls) > 50 and len(streams) > 50, f"{len(calls)} calls, {len(streams)} streams")
    c.check(all(list(k.keys()) == CALL_KEYS for k in calls), "every call has the documented keys")
    c.check(all(list(l.keys()) == LEG_KEYS for k in calls for l in k["legs"]),
            "every leg has the documented keys")
    c.check(all(list(s.keys()) == STREAM_KEYS for s in streams),
            "every stream has the documented keys")
    ids = [k["id"] for k in calls]
    c.check(len(set(ids)) == len(ids), "call ids unique")
    legs = {l["leg_ref"]: k["id"] for k in calls for l in k["legs"]}
    c.check(all(s["call"] == legs.get(s["leg"]) for s in streams if s["leg"] is not None),
            "each stream names the call holding its leg")
    c.check(sum(1 for s in streams if s["call"] is not None) > len(streams) // 2,
            "most streams belong to a call")
    c.check(all(l["streams"] == sum(1 for s in streams if s["leg"] == l["leg_ref"])
                for k in calls for l in k["legs"]), "each leg counts its streams")
    c.check(len(doc.get("registrations", [])) > 0, "registrations present")
    with open(csv) as f:
        c.check(sum(1 for _ in f) - 1 == len(calls), "CSV and report list the same calls")

    # --json-lines: the same objects, one per line, each as it is final
    rc, lines_out, err = run(a.bin, ["analyze", "--json-lines", cap])
    c.check(rc == 0, f"--json-lines: rc={rc}")
    objs = [strict_json(l) for l in lines_out.splitlines()]
    c.check(objs and all(o is not None for o in objs), "every line is a JSON object")
    objs = [o for o in objs if o]
    types = [o.get("type") for o in objs]
    c.check(types and types[-1] == "summary" and types.count("summary") == 1, "summary last, once")
    c.check(set(types) <= {"call", "stream", "trunk", "registration", "summary"}, f"types {set(types)}")
    first_tail = min((i for i, t in enumerate(types) if t in ("trunk", "registration")), default=-1)
    c.check(first_tail > 0 and all(t in ("trunk", "registration", "summary") for t in types[first_tail:]),
            "trunks and registrations after every call and stream")

    def strip(o):
        o = dict(o)
        o.pop("type")
        return o

    c.check([strip(o) for o in objs if o["type"] == "call"] == calls, "lines: the same calls, same order")
    c.check([strip(o) for o in objs if o["type"] == "stream"] == streams, "lines: the same streams")
    def trunk(o):  # a line's own "type" is the record's; the trunk's kind is "trunk_type"
        o = strip(o)
        return {("type" if k == "trunk_type" else k): v for k, v in o.items()}

    c.check([trunk(o) for o in objs if o["type"] == "trunk"] == doc.get("trunks"),
            "lines: the same trunks (kind as trunk_type)")
    c.check([strip(o) for o in objs if o["type"] == "registration"] == doc.get("registrations"),
            "lines: the same registrations")
    summ = strip(objs[-1]) if objs else {}
    c.check(summ.get("packets") == doc.get("packets") and summ.get("sip") == doc.get("sip") and
            summ.get("link_types") == doc.get("link_types"), "summary holds the counters")
    c.check(isinstance(summ.get("calls"), dict) and summ["calls"].get("calls") == len(calls),
            "summary keeps the calls.* counters (calls.calls = calls written)")
    c.check(all(k not in summ for k in ("trunks", "registrations", "streams")), "summary has no records")
    c.check(run(a.bin, ["analyze", "--json", "--json-lines", cap])[0] == 2,
            "--json with --json-lines: exit 2")

    # invalid UTF-8: torture messages on the wire, a file name with a stray byte
    tort = os.path.join(a.work, "torture.pcap")
    n = torture_pcap(a.shared, tort)
    bad_name = os.path.join(a.work.encode(), b"missing-\xff\xfe-caf\xc3\xa9.pcap")
    for form in ("--json", "--json-lines"):
        p = subprocess.run([a.bin.encode(), b"analyze", form.encode(), tort.encode(), bad_name],
                           capture_output=True, timeout=300)
        c.check(p.returncode == 2, f"{form} torture + missing file: exit {p.returncode}")
        if form == "--json":
            d = strict_json(p.stdout)
            c.check(d is not None, "--json valid UTF-8 JSON with invalid UTF-8 input")
            d = d or {}
            got = d.get("sip", {}).get("messages", 0)
            c.check(n - 2 <= got <= n, f"torture: {got} of {n} messages counted as SIP")
            errs = d.get("input_errors", [])
            c.check(len(errs) == 1 and "missing-\ufffd\ufffd-caf\u00e9.pcap" in errs[0],
                    f"invalid bytes as U+FFFD, valid UTF-8 kept: {errs}")
        else:
            ls = [strict_json(l) for l in p.stdout.splitlines()]
            c.check(ls and all(x is not None for x in ls), "--json-lines valid with invalid UTF-8 input")

    # progress: on a terminal only, redrawn every 0.5 s; the capture is given
    # as often as it takes a run of 2 s, so a fast build draws it too
    t0 = time.monotonic()
    rc, _, err = run(a.bin, ["analyze", cap])
    once = time.monotonic() - t0
    c.check(rc == 0 and err == b"", f"stderr a pipe: no progress: {err[-200:]!r}")
    reps = [cap] * max(1, min(50, math.ceil(2.0 / max(once, 0.01))))
    rc, tty = pty_stderr(a.bin, ["analyze", *reps])
    c.check(rc == 0 and b"\r" in tty and b"packets/s" in tty and b"%" in tty and b"left" in tty,
            f"progress on a pty ({len(reps)} times the capture, {once:.2f} s once): "
            f"rc={rc} {tty[-200:]!r}")
    rc, tty = pty_stderr(a.bin, ["analyze", "--quiet", *reps])
    c.check(rc == 0 and tty.strip() == b"", f"--quiet: nothing on the pty: {tty[-200:]!r}")
    with open(cap, "rb") as f:
        p = subprocess.Popen([a.bin, "analyze", "-"], stdin=f, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        c.check(p.wait(timeout=600) == 0, "standard input still fine")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
