#!/usr/bin/env python3
"""Extracts fuzz seed corpora from ../shared (never copied into the repo):
  sip:    every RFC 4475 torture message, and every SIP message found in the
          frames of ../shared/pcaps (from its start line to the frame's end);
  packet: the frames of each capture as [u8 linktype selector][u16 len][bytes]
          records, at most 64 frames per seed;
  sipframe: [u32 chunking seed] + up to 8 of a capture's SIP messages in a row;
  sdp:    the SDP bodies of those SIP messages;
  pcap:   each capture file cut after its last whole record before 16 KB;
  media:  [u8 ctl][u8 dt][u16 len][payload] records (see fuzz_media.c): runs of
          up to 48 UDP payloads of Ethernet/IPv4/UDP frames that look like RTP
          or RTCP, by flow, with their time steps; and a signalled call (SDP
          offer on the fuzz target's port, answer, packets both ways, RTCP, end),
          also as SRTP with a=crypto keys;
  hep:    [u8 mode] + each HEP packet found in the captures (from "HEP3" to
          the frame's end, at most 24 per capture), and packets built
          here: HEPv3 plain and zlib-compressed, IPv6, auth key, vendor chunk,
          HEPv2 (version 1 and 2), a TCP stream of several packets, and field
          records for the encoder (mode bit 5);
  query:  API requests as lines (path, then key=value), one per route and
          parameter with valid and boundary values;
  tlsdec: [u8 mode] + a key log (mode 0: lines of every label, a bad one),
          an a=crypto value (mode 1: every a=crypto of the captures' SDP and
          one per suite with lifetime and MKI), a TLS connection with its key
          log (mode 2: real sessions made here by Python's ssl over memory
          BIOs, TLS 1.2 GCM, CBC, ChaCha20, RSA key exchange and TLS 1.3),
          or one TLS record with its suite, version and keys (mode 3);
  audio:  [u8 codec][u8 rate] + [u8 ctl][u8 dt][u16 len][payload] records
          (see fuzz_audio.c): the RTP payloads of the captures' G.711,
          G.722 and G.729 streams (48 packets each, with comfort noise and
          events), and payloads built here per codec (Opus CELT and SILK
          TOCs, G.729 SID, L16, a timestamp jump, duplicates);
  vq:     [u8 parser] + a report: every application/vq-rtcpxr body of a SIP
          message in the captures (inside HEP too), every X-RTP-Stat /
          P-RTP-Stat value, and reports built here (RFC 6035 section 4
          layout, stat headers of several vendors' shapes);
  srtp:   [u8 suite] + [u8 op][u16 len][packet] records (see fuzz_srtp.c):
          the RTP and RTCP payloads of the captures' first flows, to be
          protected by libsrtp2, for each suite, with a sequence number
          wrap, CSRCs, a header extension, flipped bytes and replays;
  spool:  spool files as a sensor writes them (store/spool.c): each capture's
          first frames as nanosecond pcap records in zstd frames of about
          4 KB (the first with the file header), whole, and cut in the middle
          of the last frame as a killed sensor leaves them (needs the zstd
          program; none without it).
  tls:    [u8 flags] + [u8 ctl][u16 len][bytes] segments (see fuzz_tls.c):
          the TCP payloads of every connection in the captures that opens
          with a TLS record, and conversations built here (TLS 1.2 with
          certificates and a certificate request, TLS 1.3 with a
          HelloRetryRequest, an alert), whole and cut into small pieces.
  pcapng: each pcapng capture's head (as for pcap) with Decryption Secrets
          Blocks put after its first blocks, and files built here: TLS key
          logs in little- and big-endian sections, a WireGuard secret, a
          secrets length past its block, a bad trailer, a cut last block.
With --replay BIN, runs BIN over the seeds and any extra directories."""
import argparse
import os
import re
import struct
import subprocess
import sys
import zlib

LINKTYPES = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108]  # same order as fuzz_packet.c


def read_frames(path):
    """Yields (linktype, frame bytes) from a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xffff
        off = 24
        while off + 16 <= len(data):
            _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            yield lt, data[off:off + incl]
            off += incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        off = 0
        e = "<"
        ifaces = []
        while off + 12 <= len(data):
            btype = struct.unpack(e + "I", data[off:off + 4])[0]
            if btype == 0x0A0D0D0A:
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            if blen < 12:
                return
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                ifaces.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
                lt = ifaces[iface] if iface < len(ifaces) else 1
                yield lt, body[20:20 + cap]
            elif btype == 3 and len(body) >= 4:
                lt = ifaces[0] if ifaces else 1
                yield lt, body[4:]
            off += blen


def file_head(path, limit=16384):
    """The capture file up to its last whole record/block within limit bytes."""
    with open(path, "rb") as f:
        data = f.read()
    magic, end = data[:4], min(len(data), 24)
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        off = 24
        while off + 16 <= len(data):
            nxt = off + 16 + struct.unpack(e + "I", data[off + 8:off + 12])[0]
            if nxt > min(len(data), limit):
                break
            off = end = nxt
    elif magic == b"\x0a\x0d\x0d\x0a" and len(data) >= 12:
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off = end = 0
        while off + 12 <= len(data):
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            if blen < 12 or off + blen > min(len(data), limit):
                break
            off = end = off + blen
    return data[:max(end, min(len(data), 64))]


def sip_frames(pcaps, names, per_file):
    """Yields (capture name, index, SIP bytes from a start line to the frame's end)."""
    for name in names:
        k = 0
        for _, frame in read_frames(os.path.join(pcaps, name)):
            m = START.search(frame)
            if not m or k >= per_file:
                continue
            yield name, k, frame[m.start(1):]
            k += 1


# unanchored: a start line follows the UDP/TCP header, not a newline
START = re.compile(rb"([A-Z]{3,12} [^ \r\n]+ SIP/2\.0\r?\n|SIP/2\.0 \d{3} )")


def rec(ctl, dt, payload):
    """One fuzz_media record."""
    return struct.pack(">BBH", ctl, min(dt, 254), len(payload)) + payload


def media_seeds(pcaps, names, out):
    """Runs of RTP/RTCP payloads per capture as fuzz_media records, and a
    signalled call built from the first capture with RTP."""
    n, first = 0, None
    for name in names:
        k, recs, flows = 0, [], {}
        for lt, frame in read_frames(os.path.join(pcaps, name)):
            if k >= 4:
                break
            if (lt != 1 or len(frame) < 43 or frame[12:14] != b"\x08\x00"
                    or frame[14] != 0x45 or frame[23] != 17 or frame[42] >> 6 != 2):
                continue
            src, dst = frame[26:30], frame[30:34]
            sport, dport = struct.unpack(">HH", frame[34:38])
            key = (src, sport, dst, dport)
            rkey = (dst, dport, src, sport)
            if key not in flows and rkey not in flows:
                flows[key] = len(flows) % 4
            host = flows.get(key, flows.get(rkey))
            ctl = host | (4 if key not in flows else 0) | (8 if dport % 2 else 0)
            recs.append(rec(ctl, 20, frame[42:]))
            if len(recs) == 48:
                with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                    g.write(b"".join(recs))
                if first is None:
                    first = [r[4:] for r in recs]
                recs, k, n = [], k + 1, n + 1
        if recs and k < 4:
            with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                g.write(b"".join(recs))
            n += 1
    sdp = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.100\r\ns=-\r\nc=IN IP4 10.0.0.100\r\nt=0 0\r\n"
           b"m=audio 5000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n"
           b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n")
    call = [rec(0x40, 0, sdp), rec(0x50, 100, b"")]
    rtp = [p for p in (first or []) if len(p) > 12 and not 200 <= p[1] <= 207]
    rtcp = [p for p in (first or []) if len(p) > 8 and 200 <= p[1] <= 207]
    for i, p in enumerate(rtp[:32]):
        call.append(rec(0 if i % 2 == 0 else 4, 20, p))
    for p in rtcp[:2]:
        call.append(rec(8, 5, p))
    # an RFC 4733 event for digit 5, then the end of the leg and a capture gap
    call.append(rec(0, 20, bytes([0x80, 101, 0, 99, 0, 0, 1, 0, 1, 2, 3, 4, 5, 0x8a, 0, 160])))
    call += [rec(0x60, 50, b""), rec(0x70, 255, b"")]
    with open(os.path.join(out, "signalled-call"), "wb") as g:
        g.write(b"".join(call))
    # the same call as SRTP with SDES keys (the packets do not authenticate:
    # the stream table's SRTP state and failure path)
    ssdp = sdp.replace(b"RTP/AVP", b"RTP/SAVP") + (
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1\r\n"
        b"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4NjE0ZTBjNzQxYjA1YTNmMWU4ZjFkMmQ4Yjk0\r\n")
    with open(os.path.join(out, "signalled-srtp-call"), "wb") as g:
        g.write(rec(0x40, 0, ssdp) + b"".join(call[1:]))
    return n + 2


def srtp_seeds(pcaps, names, out):
    """fuzz_srtp inputs: payloads of the captures and RTP built here, each
    to be protected (op bit 1), some flipped (bit 2), SRTCP (bit 0)."""
    def r(op, pkt):
        return struct.pack(">BH", op, len(pkt)) + pkt

    def rtp(seq, cc=0, ext=b"", payload=b"\xd5" * 160):
        h = struct.pack(">BBHII", 0x80 | (0x10 if ext else 0) | cc, 8, seq & 0xFFFF, seq * 160, 0x5EED5EED)
        h += bytes(4 * cc)
        if ext:
            h += struct.pack(">HH", 0xBEDE, len(ext) // 4) + ext
        return h + payload

    built = [rtp(65530 + i) for i in range(12)]                      # a wrap
    built += [rtp(7, cc=2), rtp(8, ext=b"\x10\xff\x00\x00"), rtp(9, cc=15, payload=b"")]
    rtcp = bytes([0x80, 201, 0, 1]) + struct.pack(">I", 0x5EED5EED)
    n = 0
    for suite in range(6):
        for twice in (0, 8):
            recs = [r(2, p) for p in built] + [r(6 | (i << 3), built[i]) for i in range(3)]
            recs += [r(3, rtcp), r(3, rtcp), r(7, rtcp), r(0, built[0])]
            with open(os.path.join(out, f"built-{suite}-{twice}"), "wb") as g:
                g.write(bytes([suite | twice]) + b"".join(recs))
            n += 1
    for name in names:  # the RTP of each capture's first frames, as they were
        recs = []
        for lt, frame in read_frames(os.path.join(pcaps, name)):
            if (lt == 1 and len(frame) > 54 and frame[12:14] == b"\x08\x00" and frame[14] == 0x45
                    and frame[23] == 17 and frame[42] >> 6 == 2):
                recs.append(r(2 | (1 if 200 <= frame[43] <= 207 else 0), frame[42:]))
            if len(recs) == 24:
                break
        if recs:
            with open(os.path.join(out, name), "wb") as g:
                g.write(bytes([len(recs) % 6]) + b"".join(recs))
            n += 1
    return n


AUDIO_CODECS = {0: 0, 8: 1, 9: 2, 18: 3}  # RTP PT -> fuzz_audio.c codec index


def audio_seeds(pcaps, names, out):
    """Real codec payloads per RTP stream, and synthetic ones per codec."""
    n = 0
    for name in names:
        streams = {}
        for lt, frame in read_frames(os.path.join(pcaps, name)):
            if (lt != 1 or len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[14] != 0x45
                    or frame[23] != 17 or frame[42] >> 6 != 2 or frame[42] & 0x30):
                continue
            pt = frame[43] & 0x7F
            key = (frame[26:38], frame[50:54])
            if key not in streams:
                if pt not in AUDIO_CODECS or len(streams) >= 4:
                    continue
                streams[key] = [AUDIO_CODECS[pt], pt, []]
            st = streams[key]
            if len(st[2]) < 48:
                kind = 0 if pt == st[1] else 1 if pt == 13 else 2
                st[2].append(rec(kind, 20, frame[54:]))
        for k, (codec, pt, recs) in enumerate(streams.values()):
            with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                g.write(bytes([codec, 0]) + b"".join(recs))
            n += 1
    built = {
        "pcmu-loss-cn": bytes([0, 0]) + b"".join(rec(0, 20 if i % 7 else 60, bytes([(i * 37) & 0xFF]) * 160)
                                                  for i in range(30)) + rec(1, 20, b"\x28") + rec(0, 200, b"\x80" * 160),
        "pcma-dup-late": bytes([1, 1]) + b"".join(rec(4 if i == 5 else 0, 20 if i != 9 else 250, b"\xd5" * 160)
                                                   for i in range(20)),
        "g722": bytes([2, 1]) + b"".join(rec(0, 20, bytes((i * j) & 0xFF for j in range(160))) for i in range(20)),
        "g729-sid": bytes([3, 0]) + b"".join(rec(0, 20, bytes(range(i, i + 20))) for i in range(10))
        + rec(0, 20, bytes(range(22))) + rec(0, 20, b"\x12\x34") + rec(0, 20, b"\x00" * 7),
        "opus-celt-silk": bytes([4, 2]) + b"".join(rec(0, 20, bytes([0xF8]) + bytes((i * 11 + j) & 0xFF for j in range(80)))
                                                   for i in range(10))
        + b"".join(rec(0, 20, bytes([0x08]) + bytes((i * 5 + j) & 0xFF for j in range(40))) for i in range(10))
        + rec(0, 40, bytes([0x0B, 0x83]) + bytes(60)) + rec(2, 20, b"\x05\x0a\x00\xa0"),
        "l16-jump": bytes([5, 0x12]) + b"".join(rec(0xC0 if i == 8 else 0, 20, bytes(640)) for i in range(16)),
    }
    for nm, data in built.items():
        with open(os.path.join(out, nm), "wb") as g:
            g.write(data)
        n += 1
    return n


def hep3(chunks):
    """A HEPv3 packet from (type, value) chunks (vendor 0), or (vendor, type, value)."""
    body = b""
    for c in chunks:
        vendor, typ, val = (0,) + c if len(c) == 2 else c
        body += struct.pack(">HHH", vendor, typ, len(val) + 6) + val
    return b"HEP3" + struct.pack(">H", len(body) + 6) + body


def hep_fields(payload, v6=False, key=None, comp=False, ptype=1):
    ch = [(1, bytes([10 if v6 else 2])), (2, b"\x11"),
          (5 if v6 else 3, bytes(range(1, 17)) if v6 else b"\x0a\x00\x00\x01"),
          (6 if v6 else 4, bytes(range(17, 33)) if v6 else b"\x0a\x00\x00\x02"),
          (7, struct.pack(">H", 5060)), (8, struct.pack(">H", 5080)),
          (9, struct.pack(">I", 1700000000)), (10, struct.pack(">I", 123456)),
          (11, bytes([ptype])), (12, struct.pack(">I", 2001))]
    if key is not None:
        ch.append((14, key))
    ch += [(17, b"call-1@host"), (18, struct.pack(">H", 42)), (19, b"site-a")]
    ch.append((16, zlib.compress(payload)) if comp else (15, payload))
    return hep3(ch)


def hep_seeds(pcaps, names, out):
    """HEP packets of the captures and built ones, each behind a mode byte."""
    n, sip = 0, []
    for name in names:
        k = 0
        for _, frame in read_frames(os.path.join(pcaps, name)):
            m = START.search(frame)
            if m and len(sip) < 6:
                sip.append(frame[m.start(1):])
            i = frame.find(b"HEP3")
            if i < 0 or k >= 24:
                continue
            with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                g.write(bytes([(k * 5) & 0x0f]) + frame[i:])
            k += 1
            n += 1
    sip = sip or [b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"]
    built = {
        "v3-plain": (0, hep_fields(sip[0])),
        "v3-zlib": (0, hep_fields(sip[1 % len(sip)], comp=True)),
        "v3-zlib-small-buffer": (1, hep_fields(sip[0] * 8, comp=True)),
        "v3-ipv6": (0, hep_fields(sip[2 % len(sip)], v6=True)),
        "v3-auth": (16, hep_fields(sip[0], key=b"fuzz-key")),
        "v3-auth-wrong": (16, hep_fields(sip[0], key=b"fuzz-kez")),
        "v3-rtcp-json": (0, hep_fields(b'{"type":200,"ssrc":1}', ptype=5)),
        "v3-vendor-chunk": (0, hep3([(0x0b, 0x99, b"vendor"), (15, sip[0]), (11, b"\x01")])),
        "v3-short-chunk": (0, hep3([(15, sip[0])])[:-3]),
        "v2-ipv4": (0, struct.pack(">BBBBHH", 2, 28, 2, 17, 5060, 5080) + b"\x0a\x00\x00\x01"
                    b"\x0a\x00\x00\x02" + struct.pack("<IIHH", 1700000000, 5, 7, 0) + sip[0]),
        "v1-ipv6": (0, struct.pack(">BBBBHH", 1, 40, 10, 17, 5060, 5080) + bytes(range(32))
                    + sip[0]),
        "tcp-stream": (4, hep_fields(sip[0]) + hep_fields(sip[1 % len(sip)], comp=True)
                       + hep_fields(sip[2 % len(sip)], v6=True)),
        "tcp-stream-1500": (12, hep_fields(sip[0]) * 3 + b"HEP3\x00"),
    }
    # the encoder's field record (fuzz_hep.c check_encode): families, proto,
    # addresses, ports, seconds, microseconds, type, node, vlan, key/corr/name
    # lengths, buffer size flag (odd: that many bytes), then those and the payload
    def enc(fam, vlan, small, key, corr, name, payload):
        return (bytes([fam, fam, 17]) + bytes(range(1, 17)) + bytes(range(17, 33))
                + struct.pack(">HHIIBIHBBBB", 5060, 5061, 1700000000, 999999, 1, 7, vlan,
                              len(key), len(corr), len(name), small) + key + corr + name + payload)
    built["encode-v4"] = (32, enc(0, 0, 0, b"key", b"corr", b"nm", sip[0]))
    built["encode-v6-vlan"] = (32, enc(1, 300, 0, b"", b"c", b"", sip[1 % len(sip)]))
    built["encode-small-buffer"] = (32, enc(1, 0, 101, b"k", b"", b"n", sip[0]))
    for name, (mode, pkt) in built.items():
        with open(os.path.join(out, "built-" + name), "wb") as g:
            g.write(bytes([mode]) + pkt)
        n += 1
    return n


# API requests (fuzz_query.c): the path, then one parameter per line.
QUERIES = [
    "/api/v1/health", "/api/v1/stats", "/api/v1/sites", "/api/v1/trunks",
    "/api/v1/trunks\nsite=east", "/api/v1/registrations", "/api/v1/openapi.json", "/metrics",
    "/api/v1/calls", "/api/v1/calls\nlimit=1", "/api/v1/calls\nlimit=500",
    "/api/v1/calls\nlimit=501", "/api/v1/calls\nlimit=0",
    "/api/v1/calls\nfrom=1700000000000\nto=1700003600000",
    "/api/v1/calls\nfrom=2023-11-14T22:13:20Z\nto=2023-11-14T23:13:20.5+01:00",
    "/api/v1/calls\nfrom=2024-02-30", "/api/v1/calls\nfrom=9999-12-31T23:59:59.999Z",
    "/api/v1/calls\nfrom=2262-04-11T23:47:16.854Z",
    "/api/v1/calls\ncaller=4930\nmatch=suffix", "/api/v1/calls\ncallee=1005\nmatch=contains",
    "/api/v1/calls\ntrunk=1\ndirection=inbound\noutcome=answered",
    "/api/v1/calls\nfailure_side=itsp\nsite=west",
    "/api/v1/calls\nmin_mos=1.0\nmax_mos=4.5\nmin_pdd=100",
    "/api/v1/calls\nsort=duration\norder=asc\nlimit=3",
    "/api/v1/calls\nsort=mos\norder=desc\nlimit=2",
    "/api/v1/calls\nsort=pdd\nlimit=5", "/api/v1/calls\nsort=start\norder=asc\nlimit=7",
    "/api/v1/calls\ncursor=djEuc3RhcnQuZC4xNzAwMDAwMDAwMDAwMDAwMDAwLjQw",
    "/api/v1/calls\nbogus=1", "/api/v1/calls/1", "/api/v1/calls/40", "/api/v1/calls/41",
    "/api/v1/calls/0", "/api/v1/calls/1/messages/0", "/api/v1/calls/1/messages/1\nformat=text",
    "/api/v1/calls/1/messages/1\nformat=json", "/api/v1/calls/1/pcap",
    "/api/v1/trunks/1", "/api/v1/trunks/2/kpis", "/api/v1/trunks/1/kpis\nbucket=300",
    "/api/v1/kpis", "/api/v1/kpis\nsite=east\nbucket=60",
    "/api/v1/kpis\nfrom=1700000000000\nto=1700086400000\nbucket=86400",
    "/api/v1/kpis\nfrom=0\nto=253402300799999", "/api/v1/kpis\nfrom=9223372036853\nto=9223372036854", "/api/v1/calls/", "/api/v1//calls",
    "/api/v1/calls\noutcome=busy,rejected,cancelled,failed,timeout\nfailure_side=itsp,sbc",
    "/api/v1/calls\ntrunk=1\nfinal_status=486,503,none\ndirection=inbound,outbound",
    "/api/v1/calls\nnumber=+49 30 1234-567", "/api/v1/calls\nnumber=sip:alice@example.net",
    "/api/v1/calls\nnumber=0049301234567", "/api/v1/calls\ncall_id=abc@10.0.0.1",
    "/api/v1/calls\naddr=10.0.0.2:5060", "/api/v1/calls\naddr=[2001:db8::1]:5060\nport=5060",
    "/api/v1/calls\nport=5060\nuser_agent=Asterisk", "/api/v1/active", "/api/v1/active\nlimit=5",
    "/api/v1/kpis\nbucket=10", "/api/v1/trunks/1/kpis\nbucket=30",
    "/api/v2/calls", "listen 127.0.0.1:8080", "listen [::1]:0", "listen 0.0.0.0:65536",
    "listen host-without-port",
]


VQ_BUILT = [
    b"\x00VQSessionReport: CallTerm\r\nCallID: 6dg37f1890463\r\n"
    b"LocalID: Alice <sip:alice@atlanta.example.org>\r\n"
    b"RemoteID: Bill <sip:bill@biloxi.example.org>\r\n"
    b"LocalAddr: IP=10.10.1.100 PORT=5000 SSRC=1a2b3c4d\r\nLocalMetrics:\r\n"
    b"SessionDesc: PT=18 PD=G729 SR=8000 FD=20 FO=20 FPP=2 PPS=50 FMTP=\"annexb=no\" PLC=3\r\n"
    b"JitterBuffer: JBA=3 JBR=2 JBN=40 JBM=80 JBX=120\r\nPacketLoss: NLR=5.0 JDR=2.0\r\n"
    b"Delay: RTD=200 ESD=140 SOWD=200 IAJ=2 MAJ=10\r\n"
    b"QualityEst: RLQ=88 RCQ=85 EXTRI=90 MOSLQ=4.2 MOSCQ=4.3 QoEEstAlg=P.564\r\n"
    b"RemoteMetrics:\r\nPacketLoss: NLR=1.0 JDR=0.5\r\nQualityEst: MOSLQ=3.9\r\n"
    b"DialogID: 1890463548@alice.example.org;to-tag=8472761;from-tag=9123dh311\r\n",
    b"\x00VQIntervalReport\nLocalMetrics:\nPacketLoss:NLR=8.0\nDelay:IAJ=93\n",
    b"\x00VQAlertReport: CallTerm\r\nLocalMetrics:\r\nQualityEst: MOSLQ=2.1\r\n",
    b"\x01PS=1240,OS=198400,PR=1238,OR=198080,PL=12,JI=4,LA=35,DU=24,EN=PCMA,DE=PCMA",
    b"\x01PR=10; PL=0 ;XX=7;EN=G729",
    b"\x01RTP-RxStat: Dur=12,Pkt=600,Oct=96000,Underrun=0",
]


def zstd_frame(data):
    """data as one zstd frame (the zstd program), or None without it."""
    try:
        r = subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True,
                           timeout=60)
    except OSError:
        return None
    return r.stdout if r.returncode == 0 else None


def spool_seeds(pcaps, names, out):
    """Spool files built from each capture's first 64 frames (see the
    module doc); 0 when the zstd program is missing."""
    n = 0
    for name in names:
        frames = [(lt, fr) for _, (lt, fr) in zip(range(64), read_frames(os.path.join(pcaps, name)))]
        if not frames:
            continue
        lt = frames[0][0]
        head = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, lt)
        blocks, cur = [], head
        for i, (_, fr) in enumerate(frames):
            cur += struct.pack("<IIII", 1700000000 + i, i * 1000, len(fr), len(fr)) + fr
            if len(cur) > 4096:
                blocks.append(cur)
                cur = b""
        if cur:
            blocks.append(cur)
        comp = [zstd_frame(b) for b in blocks]
        if any(c is None for c in comp):
            return n
        whole = b"".join(comp)
        for tag, data in (("whole", whole), ("torn", whole[:len(whole) - len(comp[-1]) // 2])):
            with open(os.path.join(out, f"{name}-{tag}"), "wb") as g:
                g.write(data)
            n += 1
    return n


def vq_seeds(pcaps, names, out):
    """Reports found in the captures' SIP messages (also inside HEP), and
    VQ_BUILT; the first byte selects the parser as fuzz_vq.c does."""
    n = 0
    for i, s in enumerate(VQ_BUILT):
        with open(os.path.join(out, f"built-{i}"), "wb") as g:
            g.write(s)
        n += 1
    for name in names:
        data = open(os.path.join(pcaps, name), "rb").read()
        k = 0
        for m in re.finditer(rb"(?im)^content-type:\s*application/vq-rtcpxr[^\n]*\n", data):
            end = data.find(b"\r\n\r\n", m.end())
            end2 = data.find(b"\n\n", m.end())
            cut = min(x for x in (end + 4 if end >= 0 else 1 << 40, end2 + 2 if end2 >= 0 else 1 << 40))
            if cut >= 1 << 40:
                continue
            with open(os.path.join(out, f"{name}-body{k}"), "wb") as g:
                g.write(b"\x00" + data[cut:cut + 2048])
            k += 1
            n += 1
        for m in re.finditer(rb"(?im)^[xp]-rtp-stat:\s*([^\r\n]*)", data):
            with open(os.path.join(out, f"{name}-stat{k}"), "wb") as g:
                g.write(b"\x01" + m.group(1))
            k += 1
            n += 1
    return n


def tcp_payloads(frame, lt):
    """(src, dst, payload) of an IPv4/IPv6 TCP frame (Ethernet, SLL, raw IP)."""
    off = {1: 14, 113: 16, 101: 0, 12: 0, 228: 0, 229: 0}.get(lt)
    if off is None or len(frame) < off + 20:
        return None
    if lt == 1:
        et = struct.unpack(">H", frame[12:14])[0]
        while et == 0x8100 and len(frame) >= off + 4:
            et = struct.unpack(">H", frame[off + 2:off + 4])[0]
            off += 4
    ip = frame[off:]
    if ip[0] >> 4 == 4:
        hl = (ip[0] & 15) * 4
        if ip[9] != 6 or len(ip) < hl + 20:
            return None
        src, dst, tcp = ip[12:16], ip[16:20], ip[hl:]
    elif ip[0] >> 4 == 6 and len(ip) >= 60 and ip[6] == 6:
        src, dst, tcp = ip[8:24], ip[24:40], ip[40:]
    else:
        return None
    sp, dp = struct.unpack(">HH", tcp[:4])
    doff = (tcp[12] >> 4) * 4
    return (src, sp), (dst, dp), tcp[doff:]


def tls_seg(direction, data, chunk=0):
    out = b""
    for i in range(0, len(data), 65535):
        out += struct.pack(">BH", (chunk << 1) | direction, len(data[i:i + 65535])) + data[i:i + 65535]
    return out


def tls_records(ctype, data, maxrec=16384):
    out = b""
    for i in range(0, len(data), maxrec):
        part = data[i:i + maxrec]
        out += struct.pack(">BHH", ctype, 0x0303, len(part)) + part
    return out


def tls_vec(n, data):
    return len(data).to_bytes(n, "big") + data


def tls_hs(t, body):
    return bytes([t]) + tls_vec(3, body)


def tls_ext(t, data):
    return struct.pack(">H", t) + tls_vec(2, data)


def tls_client_hello(sni=b"sip.example.net", versions=(0x0304, 0x0303), alpn=(b"sip", b"h2")):
    exts = tls_ext(0, tls_vec(2, b"\x00" + tls_vec(2, sni)))
    exts += tls_ext(16, tls_vec(2, b"".join(tls_vec(1, a) for a in alpn)))
    exts += tls_ext(43, tls_vec(1, b"".join(struct.pack(">H", v) for v in versions)))
    exts += tls_ext(23, b"") + tls_ext(35, b"ticket") + tls_ext(41, b"\x00")
    body = struct.pack(">H", 0x0303) + bytes(range(32)) + tls_vec(1, bytes(32))
    body += tls_vec(2, b"\x13\x01\x13\x02\xc0\x2f\x00\xff") + b"\x01\x00" + tls_vec(2, exts)
    return tls_hs(1, body)


def tls_server_hello(version=0x0303, suite=0xc02f, hrr=False):
    rnd = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c") \
        if hrr else bytes(range(32, 64))
    exts = tls_ext(23, b"") + tls_ext(16, tls_vec(2, tls_vec(1, b"sip")))
    if version == 0x0304:
        exts += tls_ext(43, struct.pack(">H", 0x0304))
    body = struct.pack(">H", 0x0303) + rnd + tls_vec(1, bytes(32)) + struct.pack(">HB", suite, 0)
    return tls_hs(2, body + tls_vec(2, exts))


def tls_seeds(pcaps, names, out):
    n = 0
    # connections in the captures that open with a TLS record
    for name in names:
        conns = {}
        for lt, frame in read_frames(os.path.join(pcaps, name)):
            t = tcp_payloads(frame, lt)
            if not t or not t[2]:
                continue
            a, b, pl = t
            key = (min(a, b), max(a, b))
            c = conns.setdefault(key, {"first": a, "segs": []})
            if len(c["segs"]) < 48:
                c["segs"].append((0 if a == c["first"] else 1, pl))
        k = 0
        for c in conns.values():
            first = c["segs"][0][1]
            if len(first) < 5 or not (20 <= first[0] <= 23 and first[1] == 3) or k >= 8:
                continue
            with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                g.write(b"\x00" + b"".join(tls_seg(d, p) for d, p in c["segs"]))
            k += 1
            n += 1
    cert = tls_hs(11, tls_vec(3, tls_vec(3, b"\x30\x82" + bytes(300)) + tls_vec(3, bytes(40))))
    ccs = tls_records(20, b"\x01")
    fin = tls_records(22, bytes(40))
    tls12 = [(0, tls_records(22, tls_client_hello(versions=(0x0303,)))),
             (1, tls_records(22, tls_server_hello() + cert + tls_hs(13, b"\x01\x01\x00\x00\x00\x00")
                             + tls_hs(14, b""), 100)),
             (0, tls_records(22, cert + tls_hs(16, bytes(66))) + ccs + fin),
             (1, ccs + fin), (0, tls_records(23, bytes(300)))]
    tls13 = [(0, tls_records(22, tls_client_hello())),
             (1, tls_records(22, tls_server_hello(0x0304, 0x1301, hrr=True))),
             (0, tls_records(22, tls_client_hello(sni=b"again.example"))),
             (1, tls_records(22, tls_server_hello(0x0304, 0x1301)) + ccs + tls_records(23, bytes(900))),
             (0, ccs + tls_records(23, bytes(53)) + tls_records(23, bytes(400))),
             (1, tls_records(23, bytes(19)))]
    alert = [(0, tls_records(22, tls_client_hello())), (1, tls_records(21, b"\x02\x28"))]
    for label, conv in (("tls12", tls12), ("tls13", tls13), ("alert", alert)):
        for flags, chunk in ((0, 0), (1, 0), (0, 3), (1, 7), (2, 0)):
            with open(os.path.join(out, f"built-{label}-{flags}-{chunk}"), "wb") as g:
                g.write(bytes([flags]) + b"".join(tls_seg(d, p, chunk) for d, p in conv))
            n += 1
    return n


def tls_session_seeds():
    """Real TLS sessions for fuzz_tlsdec (mode 2): Python's ssl (OpenSSL)
    client and server over memory BIOs with a key log, carrying a SIP
    message each way; the seed is [2][u16 key log length][key log]
    [u8 dir][u16 len][bytes]... Also mode 3 seeds: one record each."""
    import ssl
    import tempfile
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import tlsmem  # tests/tlsmem.py
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        key, cert, kl = (os.path.join(tmp, n) for n in ("k.pem", "c.pem", "keys"))
        if tlsmem.self_signed(key, cert, "fuzz").returncode != 0:
            return out
        cases = [("ECDHE-RSA-AES128-GCM-SHA256", ssl.TLSVersion.TLSv1_2),
                 ("ECDHE-RSA-AES256-SHA384", ssl.TLSVersion.TLSv1_2),
                 ("ECDHE-RSA-CHACHA20-POLY1305", ssl.TLSVersion.TLSv1_2),
                 ("AES128-SHA", ssl.TLSVersion.TLSv1_2),
                 (None, ssl.TLSVersion.TLSv1_3)]
        sip = (b"OPTIONS sip:fuzz@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1;branch=z9hG4bK1\r\n"
               b"Call-ID: fuzz@tls\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        for ciphers, ver in cases:
            if os.path.exists(kl):
                os.unlink(kl)
            cctx, sctx = tlsmem.contexts(cert, key, kl)
            cctx.maximum_version = ver
            cctx.minimum_version = ver
            if ciphers:
                cctx.set_ciphers(ciphers)
                sctx.set_ciphers(ciphers)
            chunks = []
            p = tlsmem.Pair(cctx, sctx, lambda d, data: chunks.append((d, data)))
            p.handshake(10)
            try:
                p.c.write(sip)
                p.pump()
                p.s.read(4096)
                p.s.write(sip.replace(b"OPTIONS sip", b"SIP/2.0 200 OK\r\nX: sip"))
                p.pump()
                p.c.read(4096)
            except ssl.SSLError:
                continue
            log = open(kl, "rb").read()
            seed = bytes([2]) + struct.pack(">H", len(log)) + log
            for d, data in chunks:
                for i in range(0, len(data), 60000):
                    part = data[i:i + 60000]
                    seed += bytes([d]) + struct.pack(">H", len(part)) + part
            out.append(seed)
    return out


def tlsdec_seeds(pcaps, names, out):
    n = 0
    r32 = "0123456789abcdef" * 4
    log = ("# comment\nCLIENT_RANDOM %s %s\nCLIENT_HANDSHAKE_TRAFFIC_SECRET %s %s\n"
           "SERVER_TRAFFIC_SECRET_0 %s %s\nEXPORTER_SECRET %s %s\nCLIENT_RANDOM bad\n"
           % (r32, "ab" * 48, r32, "cd" * 32, r32, "ef" * 48, r32, "01" * 32))
    seeds = [b"\x00" + bytes.fromhex(r32) + log.encode()]
    cryptos = set()
    for name, i, msg in sip_frames(pcaps, names, 200):
        for m in re.finditer(rb"a=crypto:([^\r\n]*)", msg):
            cryptos.add(m.group(1))
    for suite, klen in (("AES_CM_128_HMAC_SHA1_80", 30), ("AES_CM_128_HMAC_SHA1_32", 30),
                        ("AES_256_CM_HMAC_SHA1_80", 46), ("AEAD_AES_256_GCM", 44)):
        import base64
        key = base64.b64encode(bytes(range(klen))).decode()
        cryptos.add(("1 %s inline:%s|2^31|1:1" % (suite, key)).encode())
        cryptos.add(("2 %s inline:%s" % (suite, key)).encode())
    seeds += [b"\x01" + c for c in sorted(cryptos)]
    for suite, ver in ((0xc02f, 3), (0x002f, 0), (0xc014, 3), (0xcca8, 3), (0x1301, 3), (0xc0ac, 3)):
        body = bytes(range(64))
        seeds.append(b"\x03" + struct.pack(">HHB", suite, ver, ver & 1) + bytes(range(96)) +
                     bytes([23, 3, 3, 0, len(body)]) + body)
    seeds += tls_session_seeds()
    for k, seed in enumerate(seeds):
        with open(os.path.join(out, "tlsdec-%d" % k), "wb") as g:
            g.write(seed)
        n += 1
    return n


def pcapng_block(e, btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def pcapng_dsb(e, stype, secrets, slen=None):
    return pcapng_block(e, 0x0A, struct.pack(e + "II", stype, len(secrets) if slen is None else slen)
                        + secrets)


def pcapng_seeds(pcaps, names, out):
    """Seeds for fuzz_pcapng (see the module comment)."""
    keys = (b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
            b"CLIENT_TRAFFIC_SECRET_0 " + b"01" * 32 + b" " + b"ef" * 32 + b"\n"
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET " + b"01" * 32 + b" " + b"ef" * 48)
    tlsk, wgkl = 0x544C534B, 0x57474B4C
    files = []
    for e in "<>":
        shb = pcapng_block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
        idb = pcapng_block(e, 1, struct.pack(e + "HHI", 1, 0, 65535))
        good = pcapng_dsb(e, tlsk, keys)
        files.append(shb + idb + good)
        files.append(shb + good + pcapng_dsb(e, wgkl, b"x" * 44) + idb)
        files.append(shb + pcapng_dsb(e, tlsk, keys, len(keys) + 9) + good)
        bad = bytearray(good)
        bad[-1] ^= 0x40
        files.append(shb + bytes(bad) + good)
        files.append(shb + idb + good[:-6])
        files.append(shb + good + (pcapng_block(">" if e == "<" else "<", 0x0A0D0D0A,
                                                struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))))
    n = 0
    for k, data in enumerate(files):
        with open(os.path.join(out, "built-%d" % k), "wb") as g:
            g.write(data)
        n += 1
    for name in names:
        head = file_head(os.path.join(pcaps, name))
        if head[:4] != b"\x0a\x0d\x0d\x0a" or len(head) < 12:
            continue
        e = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        shb_len = struct.unpack(e + "I", head[4:8])[0]
        with open(os.path.join(out, name), "wb") as g:
            g.write(head[:shb_len] + pcapng_dsb(e, tlsk, keys) + head[shb_len:])
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", required=True,
                    choices=["sip", "packet", "sipframe", "sdp", "pcap", "media", "hep", "query", "vq",
                             "tlsdec", "spool", "tls", "audio", "pcapng", "srtp"])
    ap.add_argument("--replay")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    out = os.path.join(a.out, a.target)
    os.makedirs(out, exist_ok=True)
    n = 0
    pcaps = os.path.join(a.shared, "pcaps")
    names = sorted(x for x in os.listdir(pcaps) if not x.endswith(".md")) if os.path.isdir(pcaps) else []
    if a.target == "sip":
        tdir = os.path.join(a.shared, "sip-torture")
        for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
            if name.endswith(".dat"):
                with open(os.path.join(tdir, name), "rb") as f, \
                        open(os.path.join(out, "torture-" + name), "wb") as g:
                    g.write(f.read())
                n += 1
        for name in names:
            k = 0
            for _, frame in read_frames(os.path.join(pcaps, name)):
                m = START.search(frame)
                if not m or k >= 40:
                    continue
                with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                    g.write(frame[m.start(1):])
                k += 1
                n += 1
    elif a.target == "sipframe":
        stream, k, prev = [], 0, None
        for name, i, msg in sip_frames(pcaps, names, 40):
            if prev is not None and (name != prev or len(stream) == 8):
                with open(os.path.join(out, f"{prev}-{k}"), "wb") as g:
                    g.write(struct.pack(">I", (k * 0x9E3779B1 + 1) & 0xFFFFFFFF) + b"".join(stream))
                stream, k, n = [], k + 1, n + 1
            stream.append(msg)
            prev = name
        if stream:
            with open(os.path.join(out, f"{prev}-{k}"), "wb") as g:
                g.write(struct.pack(">I", 1) + b"".join(stream))
            n += 1
    elif a.target == "sdp":
        seen = set()
        for name, i, msg in sip_frames(pcaps, names, 200):
            body = re.split(rb"\r?\n\r?\n", msg, maxsplit=1)
            if len(body) == 2 and body[1].startswith(b"v=") and body[1] not in seen:
                seen.add(body[1])
                with open(os.path.join(out, f"{name}-{i}"), "wb") as g:
                    g.write(body[1])
                n += 1
    elif a.target == "media":
        n += media_seeds(pcaps, names, out)
    elif a.target == "hep":
        n += hep_seeds(pcaps, names, out)
    elif a.target == "vq":
        n += vq_seeds(pcaps, names, out)
    elif a.target == "tlsdec":
        n += tlsdec_seeds(pcaps, names, out)
    elif a.target == "spool":
        n += spool_seeds(pcaps, names, out)
    elif a.target == "tls":
        n += tls_seeds(pcaps, names, out)
    elif a.target == "audio":
        n += audio_seeds(pcaps, names, out)
    elif a.target == "pcapng":
        n += pcapng_seeds(pcaps, names, out)
    elif a.target == "srtp":
        n += srtp_seeds(pcaps, names, out)
    elif a.target == "query":
        for i, q in enumerate(QUERIES):
            with open(os.path.join(out, f"q{i:03d}"), "wb") as g:
                g.write(q.encode())
            n += 1
    elif a.target == "pcap":
        for name in names:
            with open(os.path.join(out, name), "wb") as g:
                g.write(file_head(os.path.join(pcaps, name)))
            n += 1
    else:
        for name in names:
            recs, k = [], 0
            for lt, frame in read_frames(os.path.join(pcaps, name)):
                sel = LINKTYPES.index(lt) if lt in LINKTYPES else 0
                recs.append(struct.pack(">BH", sel, min(len(frame), 65535)) + frame[:65535])
                if len(recs) == 64:
                    with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                        g.write(b"".join(recs))
                    recs, k, n = [], k + 1, n + 1
                if k >= 20:
                    break
            if recs:
                with open(os.path.join(out, f"{name}-{k}"), "wb") as g:
                    g.write(b"".join(recs))
                n += 1
    print(f"{n} seeds for {a.target} in {out}")
    if a.replay:
        dirs = [out] + [d for d in a.extra if os.path.isdir(d) and os.listdir(d)]
        return subprocess.run([a.replay, *dirs]).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
