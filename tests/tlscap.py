"""What the TLS decryption tests share: real TLS sessions carrying SIP
written as captures by bench/tls_capture.py (Python's ssl over memory BIOs,
see tlsmem.py), and the SIP tshark reads from a capture with the same keys
as the reference. Used by the corpus tests test_tls_decrypt, test_tls_dsb,
test_tls_verdicts and test_cert_expiry and the realnet TLS tests; stdlib
only."""
import collections
import os
import subprocess
import sys

GEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                   "tls_capture.py")


def make(out, args, conns, calls, timeout=120):
    """bench/tls_capture.py OUT --conns N --calls M ARGS: OUT-tls.pcap,
    OUT-tls.keys, OUT-tcp.pcap (the same traffic in plaintext) and
    OUT-server.pem; the CompletedProcess (stdout: the SIP messages sent)."""
    return subprocess.run([sys.executable, GEN, out, "--conns", str(conns), "--calls", str(calls),
                           *args], capture_output=True, text=True, timeout=timeout)


def tshark_sip(pcap, opts):
    """(messages, {method: n}, {class: n}, {Call-ID}) as tshark decrypts them
    with opts (-o tls.keylog_file:..., -o uat:rsa_keys:...)."""
    p = subprocess.run(["tshark", "-n", "-r", pcap, *opts, "-Y", "sip", "-T", "fields",
                        "-E", "occurrence=a", "-e", "sip.Call-ID", "-e", "sip.Method",
                        "-e", "sip.Status-Code"],
                       capture_output=True, text=True, timeout=300)
    n, meth, cls, cids = 0, collections.Counter(), collections.Counter(), set()
    for line in p.stdout.splitlines():
        f = line.split("\t") + ["", "", ""]
        ids = [x for x in f[0].split(",") if x]
        n += len(ids)
        cids.update(ids)
        meth.update(x for x in f[1].split(",") if x)
        cls.update(x[0] + "xx" for x in f[2].split(",") if x)
    return n, meth, cls, cids
