#!/usr/bin/env python3
"""Keys from pcapng Decryption Secrets Blocks: bench/tls_capture.py makes
real TLS sessions (Python's ssl, that is OpenSSL) carrying SIP with their
NSS key log; `editcap --inject-secrets tls,KEYLOG` writes the key log into
a pcapng copy. `trunkscope analyze` of that copy, without --tls-keylog,
must decrypt exactly the SIP messages, methods, response classes and
Call-IDs that it decrypts from the plain capture with --tls-keylog and that
tshark decrypts from the copy (tshark reads the blocks itself), for TLS 1.2
and 1.3. A copy with a WireGuard secret and a block whose secrets length
runs past it is still decrypted, the two counted. With --db, no secret of
the key log is in the database, the report or stderr. Needs tshark,
editcap and openssl; exit 77 otherwise."""
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from test_tls_decrypt import report  # noqa: E402
from tlscap import make, preamble, tshark_sip  # noqa: E402

CASES = [("tls12_ecdhe_aes128gcm", ["--tls12", "ECDHE-RSA-AES128-GCM-SHA256"]),
         ("tls13", ["--tls13"])]


def counters(binary, pcap, extra=()):
    p = subprocess.run([binary, "analyze", "--json", *extra, pcap], capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"analyze exit {p.returncode}: {p.stderr[-400:]}")
    return json.loads(p.stdout), p.stdout + p.stderr


def with_bad_blocks(src, dst):
    """src with two more Decryption Secrets Blocks after its Section Header
    Block: a WireGuard secret and a TLS one whose length runs past it."""
    data = open(src, "rb").read()
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    shb = struct.unpack(e + "I", data[4:8])[0]

    def dsb(stype, secrets, slen):
        body = struct.pack(e + "II", stype, slen) + secrets + b"\0" * (-len(secrets) % 4)
        return struct.pack(e + "II", 0x0A, 12 + len(body)) + body + struct.pack(e + "I", 12 + len(body))
    extra = dsb(0x57474B4C, b"w" * 44, 44) + dsb(0x544C534B, b"CLIENT_RANDOM", 200)
    with open(dst, "wb") as f:
        f.write(data[:shb] + extra + data[shb:])


def main():
    a, work, c = preamble(("tshark", "editcap", "openssl"))
    for name, gen in CASES:
        out = os.path.join(work, name)
        r = make(out, gen, 3, 4)
        c.check(r.returncode == 0, f"{name}: generator failed: {r.stderr[-300:]}")
        if r.returncode:
            continue
        want = int(r.stdout.strip())
        keys, pcap, ng = out + "-tls.keys", out + "-tls.pcap", out + "-dsb.pcapng"
        r = subprocess.run(["editcap", "-F", "pcapng", "--inject-secrets", "tls," + keys, pcap, ng],
                           capture_output=True, text=True, timeout=120)
        c.check(r.returncode == 0, f"{name}: editcap failed: {r.stderr[-300:]}")
        if r.returncode:
            continue
        n, meth, cls, cids, calls, tls, err = report(a.bin, ng, [])
        kn, kmeth, kcls, kcids, kcalls, _, _ = report(a.bin, pcap, ["--tls-keylog", keys])
        tn, tmeth, tcls, tcids = tshark_sip(ng, [])
        print(f"{name}: from the blocks {n} SIP messages, with --tls-keylog {kn}, tshark {tn}, "
              f"sent {want}; decrypt {tls.get('decrypt')}")
        c.check(n == kn == tn == want, f"{name}: {n} SIP messages, --tls-keylog {kn}, tshark {tn}, "
                f"sent {want}")
        c.check(meth == kmeth == tmeth and cls == kcls == tcls,
                f"{name}: {dict(meth)} {dict(cls)} != {dict(kmeth)} {dict(kcls)} / tshark "
                f"{dict(tmeth)} {dict(tcls)}")
        c.check(cids == kcids == tcids and len(cids) == 12, f"{name}: Call-IDs differ")
        c.check(calls == kcalls, f"{name}: calls differ from --tls-keylog's")
        c.check(not err.strip(), f"{name}: stderr {err!r}")
        ct, _ = counters(a.bin, ng)
        c.check(ct.get("pcapng", {}).get("secrets_blocks") == 1, f"{name}: counters {ct.get('pcapng')}")
        # the plain pcap holds no blocks: nothing decrypted without the key log
        pn, *_ = report(a.bin, pcap, [])
        c.check(pn == 0, f"{name}: {pn} SIP messages from the plain capture without keys")

        bad = out + "-bad.pcapng"
        with_bad_blocks(ng, bad)
        bn, _, _, bcids, _, _, berr = report(a.bin, bad, [])
        ct, _ = counters(a.bin, bad)
        pc = ct.get("pcapng", {})
        c.check(bn == n and bcids == cids, f"{name}: with bad blocks {bn} SIP messages")
        c.check(pc.get("secrets_blocks") == 1 and pc.get("secrets_unsupported") == 1 and
                pc.get("blocks_malformed") == 1, f"{name}: counters with bad blocks {pc}")

        # secrets never written out
        db = out + ".db"
        p = subprocess.run([a.bin, "analyze", "--json", "--db", db, ng], capture_output=True,
                           timeout=300)
        c.check(p.returncode == 0, f"{name}: analyze --db exit {p.returncode}")
        blobs = [p.stdout, p.stderr]
        for fn in os.listdir(work):
            if fn.startswith(name + ".db"):
                blobs.append(open(os.path.join(work, fn), "rb").read())
        secrets = []
        for line in open(keys):
            f = line.split()
            if len(f) == 3:
                secrets += [f[2].encode(), f[2].upper().encode(), bytes.fromhex(f[2])]
        c.check(len(secrets) >= 9, f"{name}: {len(secrets) // 3} secrets in the key log")
        leaks = sum(1 for s in secrets for b in blobs if s in b)
        c.check(leaks == 0, f"{name}: {leaks} secrets found in the database or the output")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
