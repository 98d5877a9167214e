"""Packet loss written into a capture: drops RTP packets (RFC 3550 version 2,
G.711 payload types 0 and 8, over UDP/IPv4 on Ethernet) from a classic pcap
file, every Nth packet of each stream or a seeded random share, and says
which. Used by the realnet tests to put a known loss in front of the
analyser (stdlib only)."""
import random
import struct

G711_PT = (0, 8)


def records(path):
    """(header bytes, [(record header, packet bytes)]) of a classic pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: not a pcap file")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file (pcapng?)")
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(order + "I", data[off + 8:off + 12])[0]
        rh = data[off:off + 16]
        out.append((rh, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return data[:24], out


def rtp_key(pkt):
    """(src, sport, dst, dport, ssrc, seq) of a G.711 RTP packet in an
    Ethernet/IPv4/UDP frame, else None."""
    if len(pkt) < 14 + 20 + 8 + 12:
        return None
    eth_type = struct.unpack("!H", pkt[12:14])[0]
    off = 14
    if eth_type == 0x8100:
        eth_type = struct.unpack("!H", pkt[16:18])[0]
        off = 18
    if eth_type != 0x0800 or pkt[off] >> 4 != 4:
        return None
    ihl = (pkt[off] & 0x0F) * 4
    if pkt[off + 9] != 17 or len(pkt) < off + ihl + 8 + 12:
        return None
    frag = struct.unpack("!H", pkt[off + 6:off + 8])[0]
    if frag & 0x3FFF:
        return None
    src = ".".join(str(b) for b in pkt[off + 12:off + 16])
    dst = ".".join(str(b) for b in pkt[off + 16:off + 20])
    u = off + ihl
    sport, dport = struct.unpack("!HH", pkt[u:u + 4])
    r = u + 8
    if 5060 in (sport, dport) or pkt[r] >> 6 != 2 or (pkt[r + 1] & 0x7F) not in G711_PT:
        return None
    seq = struct.unpack("!H", pkt[r + 2:r + 4])[0]
    ssrc = struct.unpack("!I", pkt[r + 8:r + 12])[0]
    return (src, sport, dst, dport, ssrc, seq)


def drop(src_path, dst_path, every=0, pct=0.0, seed=1):
    """Writes src_path to dst_path without some RTP packets: with every=N
    the packets N/2, N/2+N, ... of each stream (never its last one, so that
    the loss shows in the sequence numbers); with pct, each packet with that
    probability (seeded), again sparing the last. Returns {stream: [packets,
    dropped]} keyed by "src:sport>dst:dport/ssrc"."""
    hdr, recs = records(src_path)
    keys = [rtp_key(p) for _, p in recs]
    total = {}
    for k in keys:
        if k:
            s = k[:5]
            total[s] = total.get(s, 0) + 1
    rnd = random.Random(seed)
    seen, stats = {}, {}
    with open(dst_path, "wb") as f:
        f.write(hdr)
        for (rh, p), k in zip(recs, keys):
            if k:
                s = k[:5]
                i = seen.get(s, 0)
                seen[s] = i + 1
                name = f"{s[0]}:{s[1]}>{s[2]}:{s[3]}/{s[4]:#010x}"
                st = stats.setdefault(name, [total[s], 0])
                last = i == total[s] - 1
                if not last and ((every and i % every == every // 2) or
                                 (pct and rnd.random() * 100 < pct)):
                    st[1] += 1
                    continue
            f.write(rh)
            f.write(p)
    return stats
