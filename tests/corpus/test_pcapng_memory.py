"""`analyze --json` on hostile pcapng files: memory stays bounded.
Each file is built here (pcapng blocks per the pcapng draft,
draft-ietf-opsawg-pcapng) and analysed; the peak resident size of the child
(wait4's ru_maxrss) is compared with that of a small valid pcapng analysed by
the same binary, so the sanitizer build's overhead cancels out:
- interfaces: 8 MiB of Interface Description Blocks (about 200,000), then
  packets on the last ones: all analysed; libpcap keeps a record per
  interface, so memory grows with them but by less than twice the blocks'
  size;
- options: a Section Header and Interface Description Block with 1 MiB of
  options (libpcap's limit for them) and packets each carrying 1 MiB of
  options: under 64 MiB more than the small file, every packet analysed;
- malformed: packets among unknown block types, packets claiming a 1 GiB
  wire length, a block header claiming 2 GiB: one line on stderr, exit 2,
  the packets before it analysed, under 64 MiB more.
The calls and streams a file can hold are bounded by the dialog table and
the streamed report (common/limits.h); README "Benchmark" has the figures."""
import json
import os
import struct
import subprocess
import sys

from manifest import Checker, parse_args

MIB = 1 << 20


def blk(t, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", t, n) + body + struct.pack("<I", n)


def shb(opts=b""):
    return blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opts)


def idb(opts=b""):
    return blk(1, struct.pack("<HHI", 1, 0, 65535) + opts)


def epb(iface, data, ts, opts=b"", wire=None):
    return blk(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data),
                              len(data) if wire is None else wire)
               + data + b"\0" * (-len(data) % 4) + opts)


def opt(code, val):
    return struct.pack("<HH", code, len(val)) + val + b"\0" * (-len(val) % 4)


def end_opts(opts):
    return opts + opt(0, b"")


def sip_frame(i):
    msg = (b"OPTIONS sip:gw@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK%d\r\n"
           b"From: <sip:mon@192.0.2.1>;tag=%d\r\nTo: <sip:gw@192.0.2.2>\r\nCall-ID: o%d\r\n"
           b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (i, i, i))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(msg), i & 0xFFFF, 0, 64, 17, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    return (b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip
            + struct.pack("!HHHH", 5060, 5060, 8 + len(msg), 0) + msg)


T0 = 1700000000 * 1000000


def f_small(path):
    with open(path, "wb") as f:
        f.write(shb() + idb())
        for k in range(100):
            f.write(epb(0, sip_frame(k), T0 + k * 1000))
    return 100


def f_interfaces(path, size):
    with open(path, "wb") as f:
        f.write(shb())
        n = i = 0
        while n < size:
            b = idb(end_opts(opt(2, b"eth%d" % i) + opt(9, b"\x09")))
            f.write(b)
            n += len(b)
            i += 1
        for k in range(1000):
            f.write(epb(i - 1 - k % 50, sip_frame(k), T0 + k * 1000))
    return 1000


def f_options(path):
    big = b"A" * 60000
    with open(path, "wb") as f:
        f.write(shb(end_opts(opt(4, big) * 16)))
        f.write(idb(end_opts(opt(2, big) * 16)))
        for k in range(24):
            f.write(epb(0, sip_frame(k), T0 + k * 1000, end_opts(opt(1, big) * 17)))
    return 24


def f_malformed(path):
    with open(path, "wb") as f:
        f.write(shb() + idb())
        for k in range(3000):
            f.write(epb(0, sip_frame(k), T0 + k * 1000))
            f.write(blk(0x0BAD0000 + k % 7, b"\xff" * (k % 500)))
            f.write(epb(0, b"\x00" * 40, T0 + k * 1000 + 1, wire=1 << 30))
        f.write(struct.pack("<II", 6, 0x7FFFFFF0) + b"\0" * 64)
    return 6000


def run(binary, path):
    """(exit code, stdout, stderr) of analyze --json."""
    p = subprocess.run([binary, "analyze", "--json", path], capture_output=True, timeout=900)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def peak(binary, path):
    """(peak RSS in KiB, exit code) of one analyze --json: wait4 in a fresh
    helper (RUSAGE_CHILDREN would give the maximum over all children)."""
    code = ("import os,sys,resource\n"
            "pid=os.fork()\n"
            "if pid==0:\n"
            "    fd=os.open(os.devnull,os.O_WRONLY); os.dup2(fd,1); os.dup2(fd,2)\n"
            "    os.execv(sys.argv[1],[sys.argv[1],'analyze','--json',sys.argv[2]])\n"
            "_,st,ru=os.wait4(pid,0)\n"
            "print(ru.ru_maxrss, os.waitstatus_to_exitcode(st))\n")
    # the sanitizer build's quarantine keeps freed blocks: not the program's memory
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""),
                                               "quarantine_size_mb=0") if x)
    r = subprocess.run([sys.executable, "-c", code, binary, path], capture_output=True,
                       text=True, timeout=900, env=env)
    kb, rc = r.stdout.split()
    return int(kb), int(rc)


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    w = lambda n: os.path.join(a.work, n)

    f_small(w("small.pcapng"))
    base, rc = peak(a.bin, w("small.pcapng"))
    c.check(rc == 0, f"small: exit {rc}")
    print(f"small valid pcapng: peak {base} KiB")

    for name, size in (("ifaces8", 8 * MIB), ("ifaces16", 16 * MIB)):
        npk = f_interfaces(w(name + ".pcapng"), size)
        fsize = os.path.getsize(w(name + ".pcapng"))
        kb, rc = peak(a.bin, w(name + ".pcapng"))
        rc2, out, err = run(a.bin, w(name + ".pcapng"))
        doc = json.loads(out) if rc2 == 0 else {}
        c.check(rc == 0 and doc.get("packets") == npk and doc["sip"]["messages"] == npk,
                f"{name}: exit {rc}, {doc.get('packets')} of {npk} packets: {err.strip()[:200]}")
        grow = kb - base
        c.check(grow * 1024 < 2 * fsize, f"{name}: {grow} KiB over the small file for "
                f"{fsize >> 10} KiB of interface blocks")
        print(f"{name}: {fsize >> 10} KiB file, peak {kb} KiB ({grow:+d} KiB)")

    npk = f_options(w("options.pcapng"))
    kb, rc = peak(a.bin, w("options.pcapng"))
    rc2, out, err = run(a.bin, w("options.pcapng"))
    doc = json.loads(out) if rc2 == 0 else {}
    c.check(rc == 0 and doc.get("packets") == npk,
            f"options: exit {rc}, {doc.get('packets')} of {npk} packets: {err.strip()[:200]}")
    c.check(kb - base < 64 * 1024, f"options: {kb - base} KiB over the small file")
    print(f"options: {os.path.getsize(w('options.pcapng')) >> 10} KiB file, peak {kb} KiB "
          f"({kb - base:+d} KiB)")

    npk = f_malformed(w("malformed.pcapng"))
    kb, rc = peak(a.bin, w("malformed.pcapng"))
    rc2, out, err = run(a.bin, w("malformed.pcapng"))
    lines = [x for x in err.splitlines() if x.strip()]
    c.check(rc == 2 and rc2 == 2 and len(lines) == 1 and "malformed.pcapng" in lines[0],
            f"malformed: exit {rc}/{rc2}, stderr {lines[:3]}")
    doc = json.loads(out) if out.strip() else {}
    c.check(doc.get("packets") == npk and doc.get("sip", {}).get("messages") == npk // 2,
            f"malformed: {doc.get('packets')} of {npk} packets before the bad block")
    c.check(kb - base < 64 * 1024, f"malformed: {kb - base} KiB over the small file")
    print(f"malformed: peak {kb} KiB ({kb - base:+d} KiB), {lines[:1]}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
