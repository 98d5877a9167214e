#!/usr/bin/env python3
"""SIP over TLS decrypted, without root: bench/tls_capture.py makes real
TLS sessions (Python's ssl, that is OpenSSL, over memory BIOs) carrying SIP
calls and writes them as a capture with its NSS key log and the server's RSA
key. For TLS 1.2 (ECDHE with AES-GCM, AES-CBC+SHA384 with encrypt-then-MAC,
ChaCha20-Poly1305; RSA key exchange with AES-GCM, AES-CBC+SHA1 and +SHA256
decrypted by the RSA key, extended master secret as OpenSSL negotiates it)
and TLS 1.3, `trunkscope analyze` must decrypt exactly the SIP messages,
methods, response classes and Call-IDs tshark decrypts with the same key
log or key, and find the calls of the plaintext capture of the same
traffic. The RSA key of another server decrypts nothing (rsa_key_mismatch).
Needs tshark and openssl; exit 77 otherwise."""
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from tlscap import make, preamble, tshark_sip  # noqa: E402

CASES = [("tls12_ecdhe_aes128gcm", ["--tls12", "ECDHE-RSA-AES128-GCM-SHA256"], "keylog"),
         ("tls12_ecdhe_aes256cbc_sha384", ["--tls12", "ECDHE-RSA-AES256-SHA384"], "keylog"),
         ("tls12_ecdhe_chacha20", ["--tls12", "ECDHE-RSA-CHACHA20-POLY1305"], "keylog"),
         ("tls12_rsa_aes256gcm", ["--tls12", "AES256-GCM-SHA384"], "rsa"),
         ("tls12_rsa_aes128cbc_sha1", ["--tls12", "AES128-SHA"], "rsa"),
         ("tls12_rsa_aes128cbc_sha256", ["--tls12", "AES128-SHA256"], "rsa"),
         ("tls13", ["--tls13"], "keylog")]


def report(binary, pcap, args):
    p = subprocess.run([binary, "analyze", "--json", *args, pcap], capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"analyze exit {p.returncode}: {p.stderr[-400:]}")
    d = json.loads(p.stdout)
    sip = d.get("sip", {})
    meth = collections.Counter(sip.get("methods", {}))
    cls = collections.Counter({k: v for k, v in sip.get("responses_by_class", {}).items() if v})
    cids = {leg["call_id"] for c in d.get("calls", []) for leg in c.get("legs", [])}
    calls = sorted((c["outcome"], leg["final_status"], leg["transport"])
                   for c in d.get("calls", []) for leg in c.get("legs", []))
    return sip.get("messages", 0), meth, cls, cids, calls, d.get("tls", {}), p.stderr


def main():
    a, work, c = preamble(("tshark", "openssl"))
    for name, gen, key in CASES:
        out = os.path.join(work, name)
        r = make(out, gen, 3, 4)
        c.check(r.returncode == 0, f"{name}: generator failed: {r.stderr[-300:]}")
        if r.returncode:
            continue
        want = int(r.stdout.strip())
        pcap = out + "-tls.pcap"
        if key == "keylog":
            args, topt = ["--tls-keylog", out + "-tls.keys"], ["-o", "tls.keylog_file:" + out + "-tls.keys"]
        else:
            args = ["--tls-key", "10.0.0.2:5061=" + out + "-server.pem"]
            topt = ["-o", f'uat:rsa_keys:"{out}-server.pem",""']
        n, meth, cls, cids, calls, tls, err = report(a.bin, pcap, args)
        tn, tmeth, tcls, tcids = tshark_sip(pcap, topt)
        print(f"{name}: trunkscope {n} SIP messages, tshark {tn}, sent {want}; "
              f"decrypt {tls.get('decrypt')}")
        c.check(n == tn == want, f"{name}: {n} SIP messages, tshark {tn}, sent {want}")
        c.check(meth == tmeth and cls == tcls, f"{name}: {dict(meth)} {dict(cls)} != tshark "
                f"{dict(tmeth)} {dict(tcls)}")
        c.check(cids == tcids and len(cids) == 12, f"{name}: Call-IDs differ from tshark's")
        c.check(tls.get("decrypt", {}).get("connections") == 3, f"{name}: {tls.get('decrypt')}")
        c.check(not err.strip(), f"{name}: stderr {err!r}")
        pn, _, _, pcids, pcalls, _, _ = report(a.bin, out + "-tcp.pcap", [])
        c.check(pn == n and [x[:2] for x in pcalls] == [x[:2] for x in calls],
                f"{name}: calls differ from the plaintext capture's")
        c.check({x[2] for x in calls} == {"TLS"}, f"{name}: transports { {x[2] for x in calls} }")
        if key == "rsa":  # the first case's server had another key
            other = os.path.join(work, CASES[0][0] + "-server.pem")
            n2, _, _, _, _, tls2, _ = report(a.bin, pcap, ["--tls-key", "10.0.0.2:5061=" + other])
            c.check(n2 == 0 and tls2.get("decrypt", {}).get("rsa_key_mismatch") == 3,
                    f"{name}: another server's key: {n2} messages, {tls2.get('decrypt')}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
