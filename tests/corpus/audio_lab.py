"""Speech calls for the audio tests: espeak-ng speaks a sentence, sox
resamples it, sox / ffmpeg / bcg729's encoder (through ctypes) encode it
into a codec's payload, and this module writes a capture of one SIP call
carrying that payload as RTP from the caller (and optionally a tone from the
callee), with the payload's reference decode by sox or ffmpeg beside it.

make_call(work, codec, ...) -> dict with the capture path, the reference
PCM (list of ints at the codec's rate), the offset of the first RTP packet
from the INVITE in samples, the lost packets and the frame length.
Raises Missing when a tool is absent (the tests then exit 77)."""
import base64
import ctypes
import ctypes.util
import os
import random
import shutil
import struct
import subprocess

T0 = 1700000000
CALLER, CALLEE = "10.1.0.1", "10.1.0.2"
CPORT, EPORT = 30000, 40000
RTP_START = 0.5     # s after the INVITE
TEXT = "Every call's audio, placed on its own timeline. One two three four five six."


class Missing(Exception):
    pass


# codec: (rtpmap, payload type, rate of the PCM, RTP clock, samples per 20 ms at the rate)
CODECS = {
    "PCMU": ("PCMU/8000", 0, 8000, 8000),
    "PCMA": ("PCMA/8000", 8, 8000, 8000),
    "G722": ("G722/8000", 9, 16000, 8000),
    "G729": ("G729/8000", 18, 8000, 8000),
    "opus": ("opus/48000/2", 111, 48000, 48000),
    "L16": ("L16/16000", 96, 16000, 16000),
}


def need(tool):
    if not shutil.which(tool):
        raise Missing(tool)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-400:]))
    return r.stdout


def s16(b, big=False):
    n = len(b) // 2
    return list(struct.unpack((">" if big else "<") + "%dh" % n, b[:2 * n]))


def speech(work, rate):
    """espeak-ng's sentence as 16-bit mono little-endian PCM at rate."""
    need("espeak-ng")
    need("sox")
    wav = os.path.join(work, "speech.wav")
    if not os.path.exists(wav):
        run(["espeak-ng", "-w", wav, TEXT])
    raw = os.path.join(work, "speech-%d.s16" % rate)
    run(["sox", wav, "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer",
         "-t", "raw", raw])
    return raw


def ogg_packets(data):
    """The packets of an Ogg stream (RFC 3533: pages of lacing segments)."""
    out, cur, i = [], b"", 0
    while i + 27 <= len(data) and data[i:i + 4] == b"OggS":
        nseg = data[i + 26]
        lace = data[i + 27:i + 27 + nseg]
        p = i + 27 + nseg
        for l in lace:
            cur += data[p:p + l]
            p += l
            if l < 255:
                out.append(cur)
                cur = b""
        i = p
    return out


def g729_encode(pcm8k):
    lib = ctypes.util.find_library("bcg729")
    if not lib:
        raise Missing("libbcg729")
    b = ctypes.CDLL(lib)
    b.initBcg729EncoderChannel.restype = ctypes.c_void_p
    b.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
    b.bcg729Encoder.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16),
                                ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_uint8)]
    b.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    ctx = b.initBcg729EncoderChannel(0)
    out = b""
    frame = (ctypes.c_int16 * 80)()
    bits = (ctypes.c_uint8 * 10)()
    n = ctypes.c_uint8(0)
    for k in range(0, len(pcm8k) - 79, 80):
        for j in range(80):
            frame[j] = pcm8k[k + j]
        b.bcg729Encoder(ctx, frame, bits, ctypes.byref(n))
        out += bytes(bits[:n.value])
    b.closeBcg729EncoderChannel(ctx)
    return out


def encode(work, codec):
    """(payload frames of 20 ms, reference PCM, reference offset in samples)."""
    _, _, rate, _ = CODECS[codec]
    raw = speech(work, 8000 if codec in ("PCMU", "PCMA", "G729") else rate)
    enc = os.path.join(work, "enc-" + codec)
    if codec in ("PCMU", "PCMA"):
        t = "ul" if codec == "PCMU" else "al"
        run(["sox", "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1", raw,
             "-t", t, enc])
        data = open(enc, "rb").read()
        data = data[:len(data) - len(data) % 160]
        open(enc, "wb").write(data)
        ref = s16(run(["sox", "-t", t, "-r", "8000", "-c", "1", enc, "-t", "raw", "-e",
                       "signed-integer", "-b", "16", "-L", "-"]))
        return [data[i:i + 160] for i in range(0, len(data), 160)], ref, 0
    if codec == "L16":
        data = open(raw, "rb").read()
        data = data[:len(data) - len(data) % 640]
        ref = s16(data)
        be = struct.pack(">%dh" % len(ref), *ref)
        return [be[i:i + 640] for i in range(0, len(be), 640)], ref, 0
    need("ffmpeg")
    if codec == "G722":
        run(["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", raw,
             "-c:a", "g722", "-f", "g722", enc])
        data = open(enc, "rb").read()
        data = data[:len(data) - len(data) % 160]
        open(enc, "wb").write(data)
        ref = s16(run(["ffmpeg", "-v", "error", "-f", "g722", "-i", enc, "-f", "s16le", "-ac", "1",
                       "-ar", "16000", "-"]))
        return [data[i:i + 160] for i in range(0, len(data), 160)], ref, 0
    if codec == "G729":
        data = g729_encode(s16(open(raw, "rb").read()))
        data = data[:len(data) - len(data) % 20]
        open(enc, "wb").write(data)
        ref = s16(run(["ffmpeg", "-v", "error", "-f", "g729", "-i", enc, "-f", "s16le", "-ac", "1",
                       "-ar", "8000", "-"]))
        return [data[i:i + 20] for i in range(0, len(data), 20)], ref, 0
    if codec == "opus":
        ogg = enc + ".ogg"
        run(["ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", "48000", "-ac", "1", "-i", raw,
             "-c:a", "libopus", "-b:a", "64k", "-frame_duration", "20", "-application", "voip",
             ogg])
        pk = ogg_packets(open(ogg, "rb").read())
        head = pk[0]
        pre_skip = struct.unpack("<H", head[10:12])[0]
        ref = s16(run(["ffmpeg", "-v", "error", "-c:a", "opus", "-i", ogg, "-f", "s16le", "-ac",
                       "1", "-ar", "48000", "-"]))
        return pk[2:], ref, pre_skip
    raise ValueError(codec)


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def frame(t, src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, ip4(src), ip4(dst))
    csum = sum((iph[i] << 8) | iph[i + 1] for i in range(0, 20, 2))
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    iph = iph[:10] + struct.pack("!H", ~csum & 0xFFFF) + iph[12:]
    data = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + iph + udp
    us = int(round(t * 1e6))
    return struct.pack("<IIII", T0 + us // 1000000, us % 1000000, len(data), len(data)) + data


def sip(start, cid, cseq, method, totag, body=b""):
    lines = [start, "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-%s-%d" % (CALLER, method, cseq),
             "From: <sip:alice@%s>;tag=f1" % CALLER,
             "To: <sip:bob@%s>" % CALLEE + (";tag=%s" % totag if totag else ""),
             "Call-ID: %s" % cid, "CSeq: %d %s" % (cseq, method), "Max-Forwards: 70",
             "Contact: <sip:alice@%s:5060>" % CALLER]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sdp(ip, port, codec, key=None):
    """key: the 30-byte SDES master key and salt this party sends with
    (RFC 4568 a=crypto, RTP/SAVP), or None for plain RTP."""
    rtpmap, pt, _, _ = CODECS[codec]
    crypto = ""
    if key:
        crypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n" % \
            base64.b64encode(key).decode()
    return ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d %s %d 101\r\na=rtpmap:%d %s\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n%sa=sendrecv\r\n"
            % (ip, ip, port, "RTP/SAVP" if key else "RTP/AVP", pt, pt, rtpmap,
               crypto)).encode()


def protect(helper, key, packets):
    """The RTP packets protected by libsrtp2 (tests/helpers/srtp_protect)
    with key, in order."""
    data = b"".join(struct.pack("!H", len(p)) + p for p in packets)
    r = subprocess.run([helper, key.hex()], input=data, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("srtp_protect failed: %r" % r.stderr)
    out, off = [], 0
    while off + 2 <= len(r.stdout):
        n = struct.unpack("!H", r.stdout[off:off + 2])[0]
        out.append(r.stdout[off + 2:off + 2 + n])
        off += 2 + n
    if len(out) != len(packets):
        raise RuntimeError("srtp_protect: %d packets of %d" % (len(out), len(packets)))
    return out


def make_call(work, codec, loss=0.0, callee_tone=False, seed=7, jitter_ms=3.0, srtp=None,
              tag="", encoded=None):
    """Writes work/call-CODEC[tag].pcap; returns what the test compares
    against. srtp: (helper, {"caller": key, "callee": key} the SDPs
    announce, the same for the keys the packets are protected with).
    encoded: encode()'s result to send again (sox dithers: two encodings of
    the same speech differ)."""
    os.makedirs(work, exist_ok=True)
    _, pt, rate, clock = CODECS[codec]
    frames, ref, pre_skip = encoded or encode(work, codec)
    ref_libopus = None
    if codec == "opus":  # the same payload through libopus inside ffmpeg, for comparison
        ref_libopus = s16(run(["ffmpeg", "-v", "error", "-c:a", "libopus", "-i",
                               os.path.join(work, "enc-opus.ogg"), "-f", "s16le", "-ac", "1",
                               "-ar", "48000", "-"]))
    rnd = random.Random(seed)
    cid = "audio-%s@test" % codec
    f = [frame(0.0, CALLER, 5060, CALLEE, 5060,
               sip("INVITE sip:bob@%s SIP/2.0" % CALLEE, cid, 1, "INVITE", None,
                   sdp(CALLER, CPORT, codec, srtp and srtp[1]["caller"]))),
         frame(0.2, CALLEE, 5060, CALLER, 5060,
               sip("SIP/2.0 200 OK", cid, 1, "INVITE", "t1",
                   sdp(CALLEE, EPORT, codec, srtp and srtp[1]["callee"]))),
         frame(0.25, CALLER, 5060, CALLEE, 5060,
               sip("ACK sip:bob@%s SIP/2.0" % CALLEE, cid, 1, "ACK", "t1"))]
    per = clock // 50
    lost = []
    n = len(frames)
    if loss:
        k = max(1, int(round(n * loss)))
        lost = sorted(rnd.sample(range(1, n - 1), k))
    lset = set(lost)
    sent = []
    for i, p in enumerate(frames):
        if i in lset:
            continue
        t = RTP_START + 0.02 * i + (rnd.uniform(0, jitter_ms) / 1000 if i else 0)
        hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | pt, (1000 + i) & 0xFFFF,
                          (0xFFFFF000 + per * i) & 0xFFFFFFFF, 0x5EED0001)
        sent.append((t, hdr + p))
    if srtp:
        sent = list(zip([t for t, _ in sent],
                        protect(srtp[0], srtp[2]["caller"], [p for _, p in sent])))
    for t, p in sent:
        f.append(frame(t, CALLER, CPORT, CALLEE, EPORT, p))
    tone_frames = 0
    if callee_tone and codec == "PCMU":
        tone = os.path.join(work, "tone.ul")
        run(["sox", "-D", "-n", "-r", "8000", "-c", "1", "-t", "ul", tone, "synth", "1", "sine", "440",
             "vol", "0.3"])
        td = open(tone, "rb").read()
        pk = [struct.pack("!BBHII", 0x80, pt, i, 160 * i, 0x5EED0002) + td[160 * i:160 * i + 160]
              for i in range(len(td) // 160)]
        if srtp:
            pk = protect(srtp[0], srtp[2]["callee"], pk)
        for i, p in enumerate(pk):
            f.append(frame(RTP_START + 1.0 + 0.02 * i, CALLEE, EPORT, CALLER, CPORT, p))
            tone_frames += 1
    end = RTP_START + 0.02 * n + 0.5
    f.append(frame(end, CALLER, 5060, CALLEE, 5060,
                   sip("BYE sip:bob@%s SIP/2.0" % CALLEE, cid, 2, "BYE", "t1")))
    f.append(frame(end + 0.05, CALLEE, 5060, CALLER, 5060,
                   sip("SIP/2.0 200 OK", cid, 2, "BYE", "t1")))
    f.sort(key=lambda x: struct.unpack("<II", x[:8]))
    path = os.path.join(work, "call-%s%s.pcap" % (codec, tag))
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for x in f:
            out.write(x)
    return {"pcap": path, "ref": ref, "rate": rate, "offset": int(round(RTP_START * rate)),
            "pre_skip": pre_skip, "lost": lost, "frame": rate // 50, "packets": n,
            "ref_libopus": ref_libopus, "duration": end + 0.05, "tone_frames": tone_frames}  # to the 200 to BYE
