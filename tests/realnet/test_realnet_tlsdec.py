#!/usr/bin/env python3
"""SIP over TLS decrypted (issue 26, layer 2), on real TLS: two network
namespaces this test creates, a SIP UAS and UAC (tlssip.py) speaking
through Python's ssl module (OpenSSL's libssl), the server side captured by
dumpcap. Per scenario (TLS 1.2 ECDHE with AES-GCM, AES-CBC with and without
encrypt-then-MAC, ChaCha20-Poly1305; TLS 1.2 RSA key exchange decrypted
with the server's private key, with resumption by ticket (the resumed
connections' master secret comes from the first connection of the
capture), and with CBC and the extended master secret; TLS 1.3 with
resumed connections) it checks:
- the SIP messages trunkscope decrypts (count, per method, per response
  class) and their Call-IDs equal what tshark decrypts with the same key log
  (-o tls.keylog_file:) or RSA key (-o uat:rsa_keys:);
- every connection is decrypted (tls.decrypt.connections) and its calls and
  outcomes equal the plaintext (TCP) run of the same scenario and what the
  UAC saw (its final responses);
- a wrong RSA key leaves the connections undecrypted with the reason
  rsa_key_mismatch and no SIP; a connection picked up mid-stream is counted
  as no_handshake; a key log line that does not parse is counted, the rest
  used; a key file that cannot be read is a one-line error and exit 2, one
  readable by others a warning; no secret reaches the output.
Needs root, dumpcap, tshark and openssl; exit 77 otherwise."""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "corpus"))
import netns  # noqa: E402
from manifest import Checker  # noqa: E402
from sbc_lab import wait_log  # noqa: E402
from tlscap import tshark_sip  # noqa: E402

CLI, SRV = "10.77.0.1", "10.77.0.2"
AGENT = os.path.join(HERE, "tlssip.py")

# name: (uas options, uac options, key source, connections, resumed ones)
SCENARIOS = {
    "tcp_plain": ([], [], None, 3),
    "tls12_ecdhe_aes128gcm": (["--tls12"], ["--tls12", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"],
                              "keylog", 2),
    "tls12_ecdhe_aes256cbc_sha384_etm": (["--tls12"], ["--tls12", "--ciphers", "ECDHE-RSA-AES256-SHA384"],
                                         "keylog", 2),
    "tls12_ecdhe_aes128cbc_sha1_noetm": (["--tls12", "--ciphers", "ECDHE-RSA-AES128-SHA"],
                                         ["--tls12", "--no-etm", "--ciphers", "ECDHE-RSA-AES128-SHA"],
                                         "keylog", 2),
    "tls12_ecdhe_chacha20": (["--tls12"], ["--tls12", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305"],
                             "keylog", 2),
    "tls12_rsa_aes256gcm_ticket": (["--tls12", "--ciphers", "AES256-GCM-SHA384"],
                                   ["--tls12", "--resume", "--ciphers", "AES256-GCM-SHA384"], "rsa", 3),
    # Python's ssl server does not resume by session ID here (no tickets):
    # full handshakes, RSA key exchange with CBC and the extended master secret
    "tls12_rsa_aes128cbc_sha256_ems": (["--tls12", "--no-tickets", "--ciphers", "AES128-SHA256"],
                                             ["--tls12", "--resume", "--ciphers", "AES128-SHA256"],
                                             "rsa", 3),
    "tls13": ([], ["--tls13", "--resume"], "keylog", 3),
}


def ts_report(binary, pcap, args):
    p = subprocess.run([binary, "analyze", "--json", *args, pcap], capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"analyze exit {p.returncode}: {p.stderr[-500:]}")
    return json.loads(p.stdout), p.stderr


def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, prefix + k + "."))
        elif isinstance(v, (int, float)):
            out[prefix + k] = v
    return out


def ts_sip(rep):
    f = flat({k: v for k, v in rep.items() if k not in ("calls", "trunks", "streams",
                                                         "registrations")})
    meth = collections.Counter({k.split(".", 2)[2]: v for k, v in f.items()
                                if k.startswith("sip.methods.")})
    cls = collections.Counter({k.split(".", 2)[2]: v for k, v in f.items()
                               if k.startswith("sip.responses_by_class.")})
    cids = set()
    for c in rep.get("calls", []):
        for leg in c.get("legs", []):
            cids.add(leg.get("call_id"))
    return f.get("sip.messages", 0), meth, cls, cids, f


def outcomes(rep):
    """{Call-ID: (outcome, final status)} of the report's legs, and the
    (outcome, final status) of the calls in the order they began."""
    out, seq = {}, []
    for c in rep.get("calls", []):
        for leg in c.get("legs", []):
            out[leg.get("call_id")] = (c.get("outcome"), leg.get("final_status"))
            seq.append((leg.get("invite_ts"), c.get("outcome"), leg.get("final_status")))
    return out, [x[1:] for x in sorted(seq)]


def capture(lab, work, name, uas_opts, uac_opts, key, conns, cert):
    """Runs one scenario; returns (pcap, keylog or None, uac lines)."""
    tls = key is not None
    port = 5061 if tls else 5060
    pcap = os.path.join(work, name + ".pcapng")
    cap_log = os.path.join(work, name + "-dumpcap.log")
    cap = lab.start("s", ["dumpcap", "-P", "-i", "v1", "-f", "tcp", "-w", pcap], log=cap_log)
    if not wait_log(cap_log, r"Capturing on", 15):
        raise RuntimeError("dumpcap did not start: " + open(cap_log).read()[-300:])
    uas_log = os.path.join(work, name + "-uas.log")
    uas = lab.start("s", [sys.executable, AGENT, "uas", "--listen", f"{SRV}:{port}",
                          *(["--tls", cert[0], cert[1]] if tls else []), *uas_opts], log=uas_log)
    if not wait_log(uas_log, "listening", 10):
        raise RuntimeError("uas did not start: " + open(uas_log).read()[-300:])
    keylog = os.path.join(work, name + ".keys") if tls else None
    r = lab.exec_("c", sys.executable, AGENT, "uac", "--connect", f"{SRV}:{port}",
                  *(["--tls", "--keylog", keylog] if tls else []), "--conns", str(conns),
                  "--calls", "4", *uac_opts, timeout=120)
    time.sleep(0.5)
    lab.stop(uas)
    lab.stop(cap, sig=2)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    return pcap, keylog, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    why = netns.missing([("dumpcap", "wireshark-common"), ("tshark", "tshark"),
                         ("openssl", "openssl")])
    if why:
        netns.skip(why)
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    c = Checker()
    cert = (os.path.join(work, "cert.pem"), os.path.join(work, "key.pem"))
    wrong = os.path.join(work, "wrong.pem")
    for keyfile, crt in ((cert[1], cert[0]), (wrong, None)):
        netns.sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyfile,
                 "-out", crt or os.path.join(work, "wrong-cert.pem"), "-days", "2",
                 "-subj", "/CN=sip.tlstest.example")
        os.chmod(keyfile, 0o600)
    runs = {}
    with netns.Lab("tsd") as lab:
        lab.add("c")
        lab.add("s")
        lab.veth("c", "v0", "s", "v1")
        lab.addr("c", "v0", CLI + "/24")
        lab.addr("s", "v1", SRV + "/24")
        for name, (uo, co, key, conns) in SCENARIOS.items():
            runs[name] = capture(lab, work, name, uo, co, key, conns, cert)

    plain = None
    for name, (uo, co, key, conns) in SCENARIOS.items():
        pcap, keylog, lines = runs[name]
        truth = {x["call_id"]: x["final"] for x in lines if "call_id" in x}
        hs = [x for x in lines if "conn" in x]
        c.check(len(truth) == 4 * conns, f"{name}: UAC made {len(truth)} calls, not {4 * conns}")
        if key == "keylog":
            args, topt = ["--tls-keylog", keylog], ["-o", "tls.keylog_file:" + keylog]
        elif key == "rsa":
            args = ["--tls-key", f"{SRV}:5061={cert[1]}"]
            topt = ["-o", f'uat:rsa_keys:"{cert[1]}",""']
        else:
            args, topt = [], []
        rep, err = ts_report(a.bin, pcap, args)
        n, meth, cls, cids, f = ts_sip(rep)
        tn, tmeth, tcls, tcids = tshark_sip(pcap, topt)
        print(f"{name}: {[(h['version'], h['cipher'], h['resumed']) for h in hs][:3]} "
              f"trunkscope {n} SIP messages, tshark {tn}; calls {len(rep.get('calls', []))}")
        c.check(n == tn and n > 0, f"{name}: SIP messages {n} != tshark {tn}")
        c.check(meth == tmeth, f"{name}: methods {dict(meth)} != tshark {dict(tmeth)}")
        c.check(cls == tcls, f"{name}: response classes {dict(cls)} != tshark {dict(tcls)}")
        c.check(cids == tcids == set(truth), f"{name}: Call-IDs differ from tshark/truth "
                f"({len(cids)}, {len(tcids)}, {len(truth)})")
        if key:
            c.check(f.get("tls.decrypt.connections", 0) == conns,
                    f"{name}: {f.get('tls.decrypt.connections', 0)} of {conns} connections decrypted "
                    f"({ {k: v for k, v in f.items() if k.startswith('tls.')} })")
            c.check(not f.get("tls.decrypt.auth_failed_records"), f"{name}: records failed to authenticate")
            if "--resume" in co and "--no-tickets" not in uo:
                c.check(sum(1 for h in hs if h["resumed"]) == conns - 1,
                        f"{name}: the UAC resumed {sum(1 for h in hs if h['resumed'])} connections")
            if key == "rsa" and "--no-tickets" not in uo:
                c.check(f.get("tls.decrypt.resumed", 0) == conns - 1,
                        f"{name}: {f.get('tls.decrypt.resumed', 0)} resumed sessions decrypted "
                        f"from the capture's earlier session")
        if key:
            tps = {leg.get("transport") for cl in rep.get("calls", []) for leg in cl.get("legs", [])}
            c.check(tps == {"TLS"}, f"{name}: legs' transport {tps}, not TLS")
        oc, shape = outcomes(rep)
        c.check({k: v[1] for k, v in oc.items()} == truth,
                f"{name}: final responses differ from the UAC's")
        if plain is None:
            plain = shape
        c.check(shape == plain[:len(shape)] and len(shape) == 4 * conns,
                f"{name}: outcomes {shape} != the plaintext run's {plain}")
        # secrets never in the output
        if keylog:
            secrets = [ln.split()[-1] for ln in open(keylog) if ln.strip() and not ln.startswith("#")]
            out = json.dumps(rep) + err
            c.check(not any(s in out or s.upper() in out for s in secrets),
                    f"{name}: a secret of the key log appears in the output")

    # the RSA scenario with another server's key: the reason, no SIP
    pcap = runs["tls12_rsa_aes256gcm_ticket"][0]
    rep, _ = ts_report(a.bin, pcap, ["--tls-key", f"{SRV}:5061={wrong}"])
    n, _, _, _, f = ts_sip(rep)
    c.check(n == 0 and f.get("tls.decrypt.rsa_key_mismatch", 0) >= 1,
            f"wrong RSA key: {n} SIP messages, mismatch {f.get('tls.decrypt.rsa_key_mismatch', 0)}")
    # a key for another address is no key for this server
    rep, _ = ts_report(a.bin, pcap, ["--tls-key", f"10.99.0.9:5061={cert[1]}"])
    n, _, _, _, f = ts_sip(rep)
    c.check(n == 0 and f.get("tls.decrypt.no_key", 0) == 3,
            f"RSA key of another address: {n} SIP messages, no_key {f.get('tls.decrypt.no_key', 0)}")

    # a key log with broken lines: counted, the rest used
    pcap, keylog, lines = runs["tls12_ecdhe_aes128gcm"]
    broken = os.path.join(work, "broken.keys")
    with open(broken, "w") as out:
        out.write("CLIENT_RANDOM nothex 00\ngarbage\n")
        out.write(open(keylog).read())
    os.chmod(broken, 0o600)
    rep, err = ts_report(a.bin, pcap, ["--tls-keylog", broken])
    n, _, _, _, f = ts_sip(rep)
    c.check(f.get("tls.keylog.bad_lines") == 2 and n == tshark_sip(pcap, ["-o", "tls.keylog_file:" + keylog])[0],
            f"broken key log: bad lines {f.get('tls.keylog.bad_lines')}, {n} SIP messages")
    c.check("warning" not in err, f"a key log readable by its owner only earns no warning: {err!r}")
    os.chmod(broken, 0o644)
    rep, err = ts_report(a.bin, pcap, ["--tls-keylog", broken])
    c.check("readable by others" in err, f"a world-readable key log earns a warning: {err!r}")

    # mid-stream: the capture cut after the handshakes
    cut = os.path.join(work, "midstream.pcapng")
    r = subprocess.run(["editcap", "-r", pcap, cut, "14-1000000"], capture_output=True, text=True)
    if r.returncode == 0:
        rep, _ = ts_report(a.bin, cut, ["--tls-keylog", keylog])
        f = ts_sip(rep)[4]
        c.check(f.get("tls.decrypt.no_handshake", 0) >= 1,
                f"a connection picked up mid-stream is counted: {f.get('tls.decrypt.no_handshake', 0)}")

    # unreadable key files: one line, exit 2, before analysis
    for opt, val in (("--tls-keylog", "/nonexistent/keys"), ("--tls-key", f"{SRV}:5061=/nonexistent.pem"),
                     ("--tls-key", "nonsense"), ("--tls-key", f"{SRV}:5061={keylog}")):
        p = subprocess.run([a.bin, "analyze", opt, val, pcap], capture_output=True, text=True)
        c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and not p.stdout,
                f"{opt} {val}: exit {p.returncode}, stderr {p.stderr!r}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
