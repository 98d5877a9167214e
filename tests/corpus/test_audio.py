#!/usr/bin/env python3
"""Audio export against independent decoders: espeak-ng speaks a sentence,
sox or ffmpeg (bcg729's encoder for G.729, which neither has) encodes it
into each codec, audio_lab.py sends it as RTP in a SIP call's capture, and
`trunkscope analyze --db` + `export --audio` decode it back. Each codec's
WAV must hold the caller's speech on channel 1, sample-aligned with the
reference decode of the same payload by sox (G.711) or ffmpeg (G.722,
G.729, Opus) at the first RTP packet's time after the INVITE (cross-
correlation peak at lag 0), with the same length within 20 ms, and SNR at
least 30 dB for G.711, G.722 and L16 (G.729 and Opus: their decoders are
not bit-exact specifications, the SNR is printed). Channel 2 is silent
(one-way), except in the PCMU call where the callee sends a tone for 1 s:
then it holds exactly that second. With 5 % of the packets lost (PCMU and
G.722), the silent stretches fall exactly on the lost packets' places and
the rest of the PCMU audio is bit-exact. The WAV lasts from the INVITE to
the BYE. Refusals: audio off in the configuration, unknown call, bad
--leg. SRTP: the PCMU call again with both parties' RTP protected by
libsrtp2 (tests/helpers/srtp_protect) with the keys their SDP announces
decodes to the plain call's samples exactly; with other keys in the SDP
every packet fails to authenticate, is counted, and both channels are
silent. Exits 77 when espeak-ng, sox or ffmpeg is missing."""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import urllib.error
import urllib.request
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio_lab  # noqa: E402
from manifest import Checker  # noqa: E402

CHECKS = Checker()
check = CHECKS.check


def read_wav(path):
    with wave.open(path, "rb") as w:
        rate, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        data = w.readframes(n)
    pcm = audio_lab.s16(data)
    return rate, n, [pcm[0::ch], pcm[1::ch] if ch > 1 else []]


def snr_db(ref, got):
    sig = sum(x * x for x in ref)
    err = sum((x - y) ** 2 for x, y in zip(ref, got))
    return 99.0 if err == 0 else 10 * math.log10(sig / err)


def best_lag(ref, got, at, span=40):
    """The shift of ref in got (around at) with the highest correlation."""
    seg = ref[: min(len(ref), 8000)]
    best, arg = None, 0
    for lag in range(-span, span + 1):
        s = 0
        base = at + lag
        for i in range(0, len(seg), 2):
            j = base + i
            if 0 <= j < len(got):
                s += seg[i] * got[j]
        if best is None or s > best:
            best, arg = s, lag
    return arg


def last_loud(x, thr=200):
    for i in range(len(x) - 1, -1, -1):
        if abs(x[i]) > thr:
            return i
    return -1


def http_get(base, path, token=None):
    """(status, content type, body) of a GET."""
    rq = urllib.request.Request(base + path)
    if token:
        rq.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(rq, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def api_checks(a, db, conf, wav):
    """The API serves the same bytes as the CLI when audio is on; 403 when
    the configuration does not turn it on; the token rules apply."""
    tok = os.path.join(a.work, "token")
    with open(tok, "w") as f:
        f.write("s3cret-audio-token\n")
    for cfg in (conf, None):
        cmd = [a.bin, "serve", "--db", db, "--http", "127.0.0.1:0", "--token-file", tok]
        if cfg:
            cmd += ["--config", cfg]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            m = re.search(r"port (\d+)", p.stdout.readline())
            check(m is not None, "serve printed its port")
            if not m:
                return
            base = "http://127.0.0.1:%s" % m.group(1)
            st, ct, body = http_get(base, "/api/v1/calls/1/audio", "s3cret-audio-token")
            if cfg:
                check(st == 200 and ct.startswith("audio/wav") and body == open(wav, "rb").read(),
                      f"API audio: {st} {ct} {len(body)} bytes, the CLI's {os.path.getsize(wav)}")
                st, ct, body = http_get(base, "/api/v1/calls/1/audio")
                check(st == 401, f"API audio without the token: {st}")
                st, ct, body = http_get(base, "/api/v1/calls/1/audio?leg=4", "s3cret-audio-token")
                check(st == 404 and json.loads(body)["error"]["code"] == "not_found",
                      f"API audio leg 4: {st} {body[:100]}")
                st, ct, body = http_get(base, "/api/v1/calls/1/audio?leg=x", "s3cret-audio-token")
                check(st == 400, f"API audio leg=x: {st}")
                st, ct, body = http_get(base, "/api/v1/calls/77/audio", "s3cret-audio-token")
                check(st == 404, f"API audio of no call: {st}")
            else:
                check(st == 403 and json.loads(body)["error"]["code"] == "audio_off",
                      f"API audio while off: {st} {body[:100]}")
        finally:
            p.send_signal(2)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def export(a, db, conf, out, *extra):
    return subprocess.run([a.bin, "export", "--db", db, "--call", "1", "--audio", "--config",
                           conf, "-o", out, *extra], capture_output=True, text=True)


def one(a, conf, codec, loss=0.0, tone=False, tag=""):
    work = os.path.join(a.work, codec + tag)
    os.makedirs(work, exist_ok=True)
    c = audio_lab.make_call(work, codec, loss=loss, callee_tone=tone)
    db = os.path.join(work, "a.db")
    if os.path.exists(db):
        os.unlink(db)
    r = subprocess.run([a.bin, "analyze", "--quiet", "--db", db, c["pcap"]], capture_output=True,
                       text=True)
    check(r.returncode in (0, 1), f"{codec}: analyze exit {r.returncode}: {r.stderr[-300:]}")
    out = os.path.join(work, "call.wav")
    r = export(a, db, conf, out)
    check(r.returncode == 0, f"{codec}: export exit {r.returncode}: {r.stderr.strip()}")
    if r.returncode != 0:
        return
    print(f"{codec}{tag}: {r.stdout.strip()}")
    rate, n, (left, right) = read_wav(out)
    check(rate == c["rate"], f"{codec}: rate {rate}, want {c['rate']}")
    dur = n / rate
    check(abs(dur - c["duration"]) <= 0.02, f"{codec}: WAV lasts {dur:.3f} s, the call "
          f"{c['duration']:.3f} s")
    ref, at = c["ref"], c["offset"] + c["pre_skip"]
    lag = best_lag(ref, left, at)
    check(lag == 0, f"{codec}: reference found at lag {lag} samples from the first packet's time")
    got = left[at:at + len(ref)]
    end_ref, end_got = last_loud(ref), last_loud(left) - at
    check(abs(end_ref - end_got) <= rate // 50,
          f"{codec}: audio ends {(end_got - end_ref) / rate * 1000:.1f} ms from the reference's end")
    if loss:
        fr = c["frame"]
        zero = [k for k in c["lost"]
                if all(v == 0 for v in left[c["offset"] + k * fr:c["offset"] + (k + 1) * fr])]
        check(len(zero) == len(c["lost"]),
              f"{codec}: {len(zero)} of {len(c['lost'])} lost packets' places are silent")
        # the packets around each gap are there: the gap is exactly one packet
        lset = set(c["lost"])
        edges = [k for k in c["lost"] if k + 1 not in lset and any(
            v != 0 for v in left[c["offset"] + (k + 1) * fr:c["offset"] + (k + 2) * fr])]
        loud_next = [k for k in c["lost"] if k + 1 not in lset and any(
            abs(v) > 50 for v in ref[(k + 1) * fr:(k + 2) * fr])]
        check(set(loud_next) <= set(edges), f"{codec}: audio resumes right after each gap")
        if codec == "PCMU":
            kept = [i for i in range(len(ref)) if (i // fr) not in lset]
            diff = sum(1 for i in kept if got[i] != ref[i])
            check(diff == 0, f"{codec}: {diff} samples of received packets differ from sox's decode")
        print(f"{codec}{tag}: {len(c['lost'])} packets lost of {c['packets']}, "
              f"{len(zero)} gaps exactly at their places")
        return
    s = snr_db(ref, got)
    print(f"{codec}{tag}: SNR {s:.1f} dB against the reference decode, lag {lag}, "
          f"end {(end_got - end_ref) / rate * 1000:+.1f} ms")
    if codec == "opus" and c.get("ref_libopus"):
        s2 = snr_db(c["ref_libopus"], got)
        print(f"{codec}{tag}: SNR {s2:.1f} dB against ffmpeg with libopus")
        check(s2 >= 30, f"{codec}: SNR {s2:.1f} dB against the same library through ffmpeg")
    if codec in ("PCMU", "PCMA", "G722", "L16"):
        check(s >= 30, f"{codec}: SNR {s:.1f} dB < 30")
    else:
        check(s >= 5, f"{codec}: SNR {s:.1f} dB: not the same speech")
    if tone:
        t0 = c["offset"] + rate
        seg = right[t0:t0 + c["tone_frames"] * c["frame"]]
        rms = math.sqrt(sum(v * v for v in seg) / max(1, len(seg)))
        silent = all(v == 0 for v in right[:t0]) and all(
            v == 0 for v in right[t0 + len(seg):])
        check(rms > 3000 and silent, f"{codec}: callee channel: tone rms {rms:.0f}, "
              f"silent elsewhere {silent}")
    else:
        check(all(v == 0 for v in right), f"{codec}: one-way call, callee channel not silent")
    if codec == "PCMU":
        # refusals: audio off, unknown call, a leg that is not there
        off = os.path.join(a.work, "off.conf")
        with open(off, "w") as f:
            f.write("audio = off\n")
        r = export(a, db, off, os.path.join(work, "x.wav"))
        check(r.returncode == 2 and "audio is off" in r.stderr
              and not os.path.exists(os.path.join(work, "x.wav")),
              f"audio off: exit {r.returncode} {r.stderr.strip()}")
        r = subprocess.run([a.bin, "export", "--db", db, "--call", "99", "--audio", "--config",
                            conf, "-o", os.path.join(work, "x.wav")], capture_output=True,
                           text=True)
        check(r.returncode == 2 and "no call" in r.stderr, f"unknown call: {r.stderr.strip()}")
        r = export(a, db, conf, os.path.join(work, "x.wav"), "--leg", "5")
        check(r.returncode == 2 and "no leg 5" in r.stderr, f"leg 5: {r.stderr.strip()}")
        r = export(a, db, conf, os.path.join(work, "leg0.wav"), "--leg", "0")
        check(r.returncode == 0 and open(os.path.join(work, "leg0.wav"), "rb").read() ==
              open(out, "rb").read(), f"--leg 0 is the default leg: {r.stderr.strip()}")
        # -o -: the same WAV on standard output, the summary on stderr
        r = subprocess.run([a.bin, "export", "--db", db, "--call", "1", "--audio", "--config",
                            conf, "-o", "-"], capture_output=True)
        check(r.returncode == 0 and r.stdout == open(out, "rb").read()
              and b"standard output" in r.stderr, f"export --audio -o -: {r.stderr[-200:]!r}")
        api_checks(a, db, conf, out)


def srtp(a, conf):
    """SRTP (RFC 3711) protected by libsrtp2 with the keys each party's SDP
    announces (RFC 4568 a=crypto): the export opens it with those keys and
    gives the same samples as the plain call (same speech, jitter and
    callee tone); with keys in the SDP that are not the ones the packets
    were protected with, every packet fails to authenticate, is counted and
    both channels are silent, never noise."""
    helper = os.path.join(os.path.dirname(a.bin), "tests", "srtp_protect")
    check(os.access(helper, os.X_OK), f"SRTP sender built: {helper}")
    if not os.access(helper, os.X_OK):
        return
    rnd = random.Random(3711)
    keys = {p: bytes(rnd.randrange(256) for _ in range(30)) for p in ("caller", "callee")}
    other = {p: bytes(rnd.randrange(256) for _ in range(30)) for p in ("caller", "callee")}
    work = os.path.join(a.work, "srtp")
    os.makedirs(work, exist_ok=True)
    enc = audio_lab.encode(work, "PCMU")
    wavs, outs = {}, {}
    for tag, sr in (("plain", None), ("srtp", (helper, keys, keys)),
                    ("wrong", (helper, other, keys))):
        c = audio_lab.make_call(work, "PCMU", callee_tone=True, srtp=sr, tag="-" + tag,
                                encoded=enc)
        db = os.path.join(work, tag + ".db")
        if os.path.exists(db):
            os.unlink(db)
        r = subprocess.run([a.bin, "analyze", "--quiet", "--db", db, c["pcap"]],
                           capture_output=True, text=True)
        check(r.returncode in (0, 1), f"srtp {tag}: analyze exit {r.returncode}")
        wavs[tag] = os.path.join(work, tag + ".wav")
        r = export(a, db, conf, wavs[tag])
        outs[tag] = r.stdout
        check(r.returncode == 0, f"srtp {tag}: export exit {r.returncode}: {r.stderr.strip()}")
        print(f"srtp {tag}: {r.stdout.strip()}")
    if not all(os.path.exists(w) for w in wavs.values()):
        return
    rate, n, (l0, r0) = read_wav(wavs["plain"])
    _, n1, (l1, r1) = read_wav(wavs["srtp"])
    _, n2, (l2, r2) = read_wav(wavs["wrong"])
    npk = c["packets"] + c["tone_frames"]
    check(any(l0) and any(r0), "plain call: both channels carry audio")
    check(n1 == n and l1 == l0 and r1 == r0,
          f"SRTP call decodes to the plain call's samples ({n1} / {n} frames)")
    m = re.search(r"SRTP: (\d+) packets decrypted with the SDP's keys, (\d+) failed", outs["srtp"])
    check(m is not None and int(m.group(1)) == npk and int(m.group(2)) == 0,
          f"SRTP: {npk} packets decrypted, none failed: {outs['srtp']!r}")
    check(n2 == n and not any(l2) and not any(r2), "wrong key: both channels silent")
    m = re.search(r"SRTP: (\d+) packets decrypted with the SDP's keys, (\d+) failed", outs["wrong"])
    check(m is not None and int(m.group(1)) == 0 and int(m.group(2)) == npk,
          f"wrong key: {npk} packets fail to authenticate: {outs['wrong']!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--codec", action="append")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    conf = os.path.join(a.work, "audio.conf")
    with open(conf, "w") as f:
        f.write("audio = on\n")
    try:
        for codec in a.codec or ["PCMU", "PCMA", "G722", "G729", "opus", "L16"]:
            one(a, conf, codec, tone=(codec == "PCMU"))
        if not a.codec:
            one(a, conf, "PCMU", loss=0.05, tag="-loss")
            one(a, conf, "G722", loss=0.05, tag="-loss")
            srtp(a, conf)
    except audio_lab.Missing as e:
        print(f"SKIP: {e} is not installed")
        return 77
    return CHECKS.done()


if __name__ == "__main__":
    sys.exit(main())
