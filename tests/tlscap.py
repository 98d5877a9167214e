"""What the TLS decryption tests share: their preamble (arguments, the
tools they need, a work folder), real TLS sessions carrying SIP written as
captures by bench/tls_capture.py (Python's ssl over memory BIOs, see
tlsmem.py), and the SIP tshark reads from a capture with the same keys as
the reference. Used by the corpus tests test_tls_decrypt, test_tls_dsb,
test_tls_verdicts, test_tls_conn_filters, test_hep_tls, test_cert_expiry
and test_srtp_media and the realnet TLS tests; stdlib only."""
import argparse
import collections
import os
import shutil
import subprocess
import sys

GEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                   "tls_capture.py")


def preamble(tools=(), clean=True):
    """A corpus test's preamble: --bin, --shared and --work parsed; exit 77
    (skipped) naming the first of tools that is not installed; the work
    folder made (emptied first when clean). Returns (args, work folder as
    an absolute path, a manifest.Checker)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    for t in tools:
        if not shutil.which(t):
            print(f"skipped: {t} missing")
            sys.exit(77)
    work = os.path.abspath(a.work)
    if clean:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    from manifest import Checker  # tests/corpus: on the path of the tests calling this
    return a, work, Checker()


def make(out, args, conns, calls, timeout=120):
    """bench/tls_capture.py OUT --conns N --calls M ARGS: OUT-tls.pcap,
    OUT-tls.keys, OUT-tcp.pcap (the same traffic in plaintext) and
    OUT-server.pem; the CompletedProcess (stdout: the SIP messages sent)."""
    return subprocess.run([sys.executable, GEN, out, "--conns", str(conns), "--calls", str(calls),
                           *args], capture_output=True, text=True, timeout=timeout)


def made(out, args, conns=3, calls=2):
    """make(), raising RuntimeError naming out when the generator fails."""
    r = make(out, args, conns, calls)
    if r.returncode:
        raise RuntimeError(f"{os.path.basename(out)}: generator failed: {r.stderr[-300:]}")
    return r


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
