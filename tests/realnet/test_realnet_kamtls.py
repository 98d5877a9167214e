#!/usr/bin/env python3
"""A SIP trunk over TLS made by Kamailio's tls module (issue 26, layer 2),
decrypted. Two network namespaces this test creates, one per trunk end;
in each, Kamailio (kamailio_tls.cfg) relays between SIPp over UDP on the
loopback and the other end over TLS:

  SIPp UAC -udp-> Kamailio A 10.78.0.1 =TLS=> Kamailio B 10.78.0.2:5061 -udp-> SIPp UAS

Calls with different outcomes (answered, busy, not found, unavailable,
cancelled while ringing) run once per TLS 1.2 suite with RSA key exchange,
decrypted with the server's RSA key (Kamailio cannot write a key log):
AES256-GCM-SHA384 and AES128-SHA256 (CBC). Then Kamailio A's TLS client
calls a Python ssl UAS (tlssip.py, answering or busy) in place of
Kamailio B, whose key log decrypts TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 and
TLS 1.3. dumpcap records the TLS link and, as the plaintext reference of
the same calls, the UDP leg between SIPp and Kamailio A. Checked per run:
- the SIP messages trunkscope decrypts with --tls-key or --tls-keylog
  (count, per method, per response class) and their Call-IDs equal what
  tshark decrypts with the same key (-o uat:rsa_keys) or key log
  (-o tls.keylog_file), every connection decrypted, nothing failing to
  authenticate, the legs' transport TLS, version and suite as tshark saw;
- calls and outcomes equal what trunkscope reads from the plaintext UDP leg,
  the final codes SIPp's UAC logged, and those Kamailio A logged;
- without the key the connection still shows its handshake: the server's
  certificate subject, issuer and notAfter equal `openssl x509` on it (it
  expires within 30 days: the trunk is warned), the suite equals tshark's,
  no SIP; with another server's key it is undecrypted as rsa_key_mismatch,
  with a key for another address as no_key, with the RSA key on an ECDHE
  connection as forward_secret: each connection so in `analyze --json`
  (tls_connections[]) and in the rows `analyze --db` stores, the counters
  the sum of them;
- the live sensor (`capture --json`) on the TLS link, given the same key or
  the key log as it grows, decrypts the same messages and calls, each
  connection decrypted;
- on the Kamailio runs, Kamailio A's siptrace sends every message of each
  transaction as HEPv3 to `trunkscope collect`: decrypted, the TLS hop's
  trunk has every call, and the finals equal SIPp's.
Needs root, kamailio with its tls module, sipp, dumpcap, tshark and
openssl; exit 77 otherwise."""
import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "corpus"))
import netns  # noqa: E402
from manifest import Checker  # noqa: E402
from sbc_lab import scenario, wait_log  # noqa: E402
from test_realnet_tls import iso_epoch, x509_truth  # noqa: E402
from test_realnet_tlsdec import outcomes, ts_report, ts_sip  # noqa: E402
from tlscap import tshark_sip  # noqa: E402

A, B = "10.78.0.1", "10.78.0.2"
UAC_PORT, UAS_PORT = 5070, 5080
TOOLS = [("kamailio", "kamailio"), ("sipp", "sip-tester"), ("dumpcap", "wireshark-common"),
         ("tshark", "tshark"), ("openssl", "openssl")]
# the called number (the SIPp UAS's digit, scenarios/carrier_uas.xml) and
# the final code the caller sees: a proxy passes no 503 on (RFC 3261 16.7
# step 6), Kamailio sends 500
CALLS = [("answered", "+49890{i}", 200), ("busy", "+49891{i}", 486),
         ("answered", "+49890{i}", 200), ("notfound", "+49892{i}", 404),
         ("unavailable", "+49893{i}", 500), ("cancelled", "+49895{i}", 487),
         ("answered", "+49890{i}", 200)]
# tlssip.py's UAS answers, or is busy for a callee "busy..."
PY_CALLS = [("answered", "+49890{i}", 200), ("busy", "busy{i}", 486),
            ("answered", "+49890{i}", 200), ("answered", "+49890{i}", 200)]
# name: (the peer of Kamailio A, Kamailio's tls.cfg method and cipher_list,
# version and IANA suite expected, the key)
RUNS = {
    "rsa_aes256gcm": ("kamailio", "TLSv1.2", "AES256-GCM-SHA384", "TLS1.2",
                      "TLS_RSA_WITH_AES_256_GCM_SHA384", "rsa"),
    "rsa_aes128cbc_sha256": ("kamailio", "TLSv1.2", "AES128-SHA256", "TLS1.2",
                             "TLS_RSA_WITH_AES_128_CBC_SHA256", "rsa"),
    "ecdhe_aes128gcm_python": ("python", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "TLS1.2",
                               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "keylog"),
    "tls13_python": ("python", "TLSv1.2+", "HIGH", "TLS1.3", "TLS_AES_256_GCM_SHA384", "keylog"),
}
AGENT = os.path.join(HERE, "tlssip.py")
HEP_PORT = 9060
# Kamailio A's siptrace: the messages of each transaction it receives and
# sends (sip_trace_mode("t"), Kamailio 5.6), as HEPv3 to the collector
# beside it
TRACE = f"""loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:{HEP_PORT}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)"""


def tls_module_missing():
    for d in ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules",
              "/usr/lib64/kamailio/modules"):
        if os.path.exists(os.path.join(d, "tls.so")):
            return None
    return "Kamailio's tls module missing (install kamailio-tls-modules)"


def make_certs(work):
    """A CA and two leaf certificates it signed: (key, cert) per end. B's,
    the server's, expires in 20 days."""
    def run(*argv):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"{argv[0]} {argv[1]}: {r.stderr[-300:]}")
    ca_key, ca = os.path.join(work, "ca.key"), os.path.join(work, "ca.pem")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", ca_key,
        "-out", ca, "-days", "400", "-subj", "/O=Trunk Test/CN=Trunk Test CA")
    out = {}
    for name, cn, days in (("a", "sbc-a.kamtls.example", "365"),
                           ("b", "carrier-b.kamtls.example", "20")):
        key, csr, crt = (os.path.join(work, f"{name}.{x}") for x in ("key", "csr", "pem"))
        run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", csr, "-subj", f"/O=Trunk Test/CN={cn}")
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
            "-CAcreateserial", "-days", days, "-sha256", "-out", crt)
        os.chmod(key, 0o600)
        out[name] = (key, crt)
    return out


def render(work, name, subst, src):
    with open(os.path.join(HERE, src)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(f"@{k}@", v)
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def uas_scenario(work):
    """The carrier UAS; its 487 copies three Vias here (two proxies)."""
    path = scenario(work, "carrier_uas.xml", "uas.xml",
                    {"PLAY": "", "STOPNOP": "", "MEDIA_PORT": "6000", "NAME": "B",
                     "SERVER": "KamTLS-UAS", "NUMRE": r"\+4989([0-9])[0-9]+"})
    with open(path) as f:
        text = f.read()
    v2 = re.search(r'<ereg [^>]*occurrence="2"[^>]*/>', text).group(0)
    text = text.replace(v2, v2 + "\n      " + v2.replace('"2"', '"3"').replace("via2", "via3"))
    text = text.replace("Via: [$via2]", "Via: [$via2]\n      Via: [$via3]")
    with open(path, "w") as f:
        f.write(text)
    return path


def run_suite(lab, work, name, spec, certs, binary):
    """One run of the calls over TLS; returns (TLS pcap, plaintext pcap,
    SIPp's {Call-ID: final}, Kamailio A's {Call-ID: final}, the key log,
    the live sensor's output, the HEP collector's output or None)."""
    peer, method, cipher, version, _, key = spec
    calls = CALLS if peer == "kamailio" else PY_CALLS
    d = os.path.join(work, name)
    os.makedirs(d)
    kam = netns.tool("kamailio")
    procs = []
    pcap, plain = os.path.join(d, "tls.pcapng"), os.path.join(d, "udp.pcapng")
    for ns, dev, filt, out in (("b", "v1", "tcp", pcap), ("a", "lo", "udp port 5060", plain)):
        log = os.path.join(d, f"dumpcap-{ns}.log")
        procs.append(lab.start(ns, ["dumpcap", "-P", "-i", dev, "-f", filt, "-w", out], log=log))
        if not wait_log(log, r"Capturing on", 15):
            raise RuntimeError("dumpcap did not start: " + open(log).read()[-300:])
    # the live sensor beside dumpcap, with the same key; the key log exists
    # (empty) before it starts and grows as the UAS writes it
    keylog = None
    if key == "rsa":
        keyarg = ["--tls-key", f"{B}:5061={certs['b'][0]}"]
    else:
        keylog = os.path.join(d, "uas.keys")
        os.close(os.open(keylog, os.O_CREAT | os.O_WRONLY, 0o600))
        keyarg = ["--tls-keylog", keylog]
    stats, live_out = os.path.join(d, "live.stats"), os.path.join(d, "live.out")
    live = lab.start("b", [binary, "capture", "-i", "v1", "--json", "--stats-file", stats,
                           "--log", os.path.join(d, "live.log"), *keyarg], log=live_out)
    if not netns.wait_for(lambda: os.path.exists(stats), 20):
        raise RuntimeError("capture did not start: " + open(live_out).read()[-300:])
    # Kamailio A's siptrace (HEP) into a collector, on the Kamailio runs
    hep_out = None
    if peer == "kamailio":
        hep_out = os.path.join(d, "collect.out")
        hstats = os.path.join(d, "collect.stats")
        procs.append(lab.start("a", [binary, "collect", "--hep-listen", f"127.0.0.1:{HEP_PORT}",
                                     "--json", "--stats-file", hstats, "--duration", "300"],
                               log=hep_out))
        if not netns.wait_for(lambda: os.path.exists(hstats), 20):
            raise RuntimeError("collect did not start: " + open(hep_out).read()[-300:])
    kams = {}
    ends = [("a", A, f"sip:{B}:5061;transport=tls")]
    if peer == "kamailio":
        ends.append(("b", B, f"sip:127.0.0.1:{UAS_PORT}"))
    for ns, addr, nxt in ends:
        key, crt = certs[ns]
        tcfg = os.path.join(d, f"tls-{ns}.cfg")
        with open(tcfg, "w") as f:
            for sec in ("server:default", "client:default"):
                f.write(f"[{sec}]\nmethod = {method}\nverify_certificate = no\n"
                        f"require_certificate = no\nprivate_key = {key}\ncertificate = {crt}\n"
                        f"cipher_list = {cipher}\n\n")
        cfg = render(d, f"kamailio-{ns}.cfg", {"ADDR": addr, "NEXT": nxt, "TLSCFG": tcfg,
                                               "TRACE": TRACE if hep_out and ns == "a" else "",
                                               "TRACECALL": 'sip_trace_mode("t");'
                                               if hep_out and ns == "a" else ""},
                     "kamailio_tls.cfg")
        log = os.path.join(d, f"kamailio-{ns}.log")
        kams[ns] = (lab.start(ns, [kam, "-DD", "-E", "-f", cfg, "-w", d, "-m", "64", "-M", "8",
                                   "-P", os.path.join(d, f"kamailio-{ns}.pid")], log=log), log)
    uas_log = os.path.join(d, "uas.out")
    if peer == "kamailio":
        uas = lab.start("b", ["sipp", "-sf", uas_scenario(d), "-i", "127.0.0.1", "-p", UAS_PORT,
                              "-nostdin", "-trace_logs", "-log_file", os.path.join(d, "uas.log")],
                        log=uas_log, cwd=d)
    else:
        uas = lab.start("b", [sys.executable, AGENT, "uas", "--listen", f"{B}:5061", "--tls",
                              certs["b"][1], certs["b"][0], "--keylog", keylog,
                              "--ring-ms", "300",  # SIPp's UAC wants time to see the 180
                              *(["--tls12", "--ciphers", cipher] if version == "TLS1.2"
                                else ["--tls13"])], log=uas_log)
        if not wait_log(uas_log, "listening", 10):
            raise RuntimeError("tlssip uas did not start: " + open(uas_log).read()[-300:])
    for ns, (p, log) in kams.items():
        wait_log(log, r"Listening on", 10)
    time.sleep(1.0)  # the children open their sockets after the banner
    for ns, (p, log) in kams.items():
        if p.poll() is not None:
            raise RuntimeError(f"kamailio {ns} did not start: " + open(log).read()[-800:])
    csv = os.path.join(d, "calls.csv")
    with open(csv, "w") as f:
        f.write("SEQUENTIAL\n")
        for i, (case, callee, _) in enumerate(calls):
            f.write(f"+4930555{i:04d};{callee.format(i=f'{i:04d}')};"
                    f"{1 if case == 'cancelled' else 0};\n")
    uac_xml = scenario(d, "pbx_uac.xml", "uac.xml",
                       {"HOLDMIN": 300, "HOLDMAX": 800, "UA": "KamTLS-UAC", "PLAY": "",
                        "STOPNOP": "", "MEDIA_PORT": "6000"})
    uac_log = os.path.join(d, "uac.log")
    r = lab.exec_("a", "sipp", "127.0.0.1:5060", "-sf", uac_xml, "-inf", csv, "-i", "127.0.0.1",
                  "-p", UAC_PORT, "-m", len(calls), "-r", 4, "-l", 10, "-nostdin",
                  "-timeout", "40s", "-trace_logs", "-log_file", uac_log, check=False,
                  timeout=60)
    time.sleep(0.5)
    for p in (uas, *(k[0] for k in kams.values()), live, *procs):
        lab.stop(p, sig=2)
    sipp = {}
    for line in open(uac_log, errors="replace"):
        f = line.strip().split(";")
        if len(f) >= 5 and f[0] == "PBX" and f[1] == "END":
            sipp[f[3]] = int(f[4])
    kama = {}
    for m in re.finditer(r"TSKAM final ci=(\S+) code=(\d+) proto=(\w+)",
                         open(kams["a"][1], errors="replace").read()):
        kama[m.group(1)] = int(m.group(2))
    if r.returncode not in (0, 1):
        raise RuntimeError(f"sipp uac exit {r.returncode}: {r.stderr[-400:]}")
    return pcap, plain, sipp, kama, keylog, live_out, hep_out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    why = netns.missing(TOOLS) or tls_module_missing()
    if why:
        netns.skip(why)
    work = os.path.abspath(a.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    c = Checker()
    certs = make_certs(work)
    runs = {}
    t0 = time.time()
    with netns.Lab("tsk") as lab:
        lab.add("a")
        lab.add("b")
        lab.veth("a", "v0", "b", "v1")
        lab.addr("a", "v0", A + "/24")
        lab.addr("b", "v1", B + "/24")
        for name, spec in RUNS.items():
            runs[name] = run_suite(lab, work, name, spec, certs, a.bin)
    print(f"captures made in {time.time() - t0:.1f} s")

    bkey, bcrt = certs["b"]
    subj, iss, end = x509_truth(bcrt)
    for name, (peer, _, _, version, iana, key) in RUNS.items():
        pcap, plain, sipp, kama, keylog, live_out, hep_out = runs[name]
        calls = CALLS if peer == "kamailio" else PY_CALLS
        want = sorted(code for _, _, code in calls)
        c.check(sorted(sipp.values()) == want,
                f"{name}: SIPp's finals {sorted(sipp.values())} != the plan's {want}")
        if key == "rsa":
            args, topt = ["--tls-key", f"{B}:5061={bkey}"], ["-o", f'uat:rsa_keys:"{bkey}",""']
        else:
            args, topt = ["--tls-keylog", keylog], ["-o", "tls.keylog_file:" + keylog]
        rep, err = ts_report(a.bin, pcap, args)
        n, meth, cls, cids, f = ts_sip(rep)
        tn, tmeth, tcls, tcids = tshark_sip(pcap, topt)
        print(f"{name}: {f.get('tls.connections', 0)} TLS connections, "
              f"trunkscope {n} SIP messages decrypted, tshark {tn}; "
              f"{len(rep.get('calls', []))} calls; {dict(meth)} {dict(cls)}")
        c.check(n == tn and n > 0, f"{name}: SIP messages {n} != tshark {tn}")
        c.check(meth == tmeth, f"{name}: methods {dict(meth)} != tshark {dict(tmeth)}")
        c.check(cls == tcls, f"{name}: response classes {dict(cls)} != tshark {dict(tcls)}")
        c.check(cids == tcids == set(sipp), f"{name}: Call-IDs differ from tshark/SIPp "
                f"({len(cids)}, {len(tcids)}, {len(sipp)})")
        conns = f.get("tls.connections", 0)
        c.check(conns >= 1 and f.get("tls.decrypt.connections", 0) == conns,
                f"{name}: {f.get('tls.decrypt.connections', 0)} of {conns} TLS connections decrypted "
                f"({ {k: v for k, v in f.items() if k.startswith('tls.')} })")
        c.check(not f.get("tls.decrypt.auth_failed_records"), f"{name}: records failed to authenticate")
        verdicts = [x.get("decrypt") for x in rep.get("tls_connections", [])]
        c.check(verdicts == ["decrypted"] * conns, f"{name}: per connection {verdicts}")
        tps = {leg.get("transport") for cl in rep.get("calls", []) for leg in cl.get("legs", [])}
        c.check(tps == {"TLS"}, f"{name}: legs' transport {tps}, not TLS")
        peers = rep.get("tls_peers", [])
        c.check([(p.get("version"), p.get("suite_name")) for p in peers] == [(version, iana)],
                f"{name}: TLS peer {[(p.get('version'), p.get('suite_name')) for p in peers]}")
        # the same calls read in plaintext from the UDP leg, SIPp and Kamailio
        oc, shape = outcomes(rep)
        poc, pshape = outcomes(ts_report(a.bin, plain, [])[0])
        c.check(oc == poc, f"{name}: calls over TLS {sorted(oc.values())} != the plaintext leg's "
                f"{sorted(poc.values())}")
        c.check(shape == pshape, f"{name}: outcomes in order {shape} != plaintext {pshape}")
        c.check({k: v[1] for k, v in oc.items()} == sipp,
                f"{name}: final codes {sorted(v[1] for v in oc.values())} != SIPp's")
        c.check(kama == sipp, f"{name}: Kamailio A logged {sorted(kama.values())}, SIPp "
                f"{sorted(sipp.values())}")
        c.check(len(oc) == len(calls), f"{name}: {len(oc)} calls, not {len(calls)}")
        # the live sensor (capture --json) decrypted the same
        text = open(live_out, errors="replace").read()
        try:
            live = json.JSONDecoder().raw_decode(text[text.index("{"):])[0]
        except ValueError:
            live = {}
        ln, lmeth, lcls, lcids, lf = ts_sip(live)
        lconns = live.get("tls_connections", [])
        print(f"{name}: live sensor per connection {[x.get('decrypt') for x in lconns]}, "
              f"{sum(x.get('decrypt_late', 0) for x in lconns)} records decrypted after waiting "
              f"for their keys")
        c.check([x.get("decrypt") for x in lconns] == ["decrypted"] * conns,
                f"{name}: live sensor per connection {[x.get('decrypt') for x in lconns]}")
        c.check((ln, lmeth, lcls, lcids) == (n, meth, cls, cids) and outcomes(live)[0] == oc,
                f"{name}: capture decrypted {ln} SIP messages, {len(lcids)} Call-IDs, analyze "
                f"{n}, {len(cids)} ({text[-300:] if not live else ''})")
        if hep_out:
            # Kamailio's siptrace sends each message decrypted, as its SIP
            # stack handled it
            text = open(hep_out, errors="replace").read()
            try:
                hep = json.JSONDecoder().raw_decode(text[text.index("{"):])[0]
            except ValueError:
                hep = {}
            # a proxy's two hops share the Call-ID: one leg each call, its
            # transport the first hop's (UDP from SIPp); the TLS hop shows
            # as the trunk between A and B
            ht = [t for t in hep.get("trunks", []) if {t.get("local"), t.get("peer")} == {A, B}]
            print(f"{name}: HEP from Kamailio's siptrace: {hep.get('sip', {}).get('messages')} "
                  f"SIP messages, {len(hep.get('calls', []))} calls, the TLS hop's trunk "
                  f"{[t.get('attempts') for t in ht]} attempts")
            c.check(len(ht) == 1 and ht[0].get("attempts") == len(calls),
                    f"{name}: HEP: the TLS hop's trunk {ht} ({text[-300:] if not hep else ''})")
            hoc = {k: v[1] for k, v in outcomes(hep)[0].items()}
            c.check(hoc == sipp, f"{name}: HEP final codes {sorted(hoc.values())} != SIPp's "
                    f"{sorted(sipp.values())}")
        if keylog:
            secrets = [ln.split()[-1] for ln in open(keylog) if ln.strip() and not ln.startswith("#")]
            out = json.dumps(rep) + err
            c.check(secrets and not any(s in out or s.upper() in out for s in secrets),
                    f"{name}: a secret of the key log appears in the output")
        if version == "TLS1.3":
            # no key: nothing to read but the hellos (TLS 1.3 encrypts the certificate)
            rep, _ = ts_report(a.bin, pcap, [])
            c.check(ts_sip(rep)[0] == 0, f"{name}, no key: SIP read")
            continue

        # without the key: the handshake and the certificate, no SIP
        rep, _ = ts_report(a.bin, pcap, [])
        n, _, _, _, f = ts_sip(rep)
        peers = rep.get("tls_peers", [])
        cert = (peers[0].get("certificate") or {}) if peers else {}
        c.check(n == 0 and f.get("tls.established", 0) == conns,
                f"{name}, no key: {n} SIP messages, {f.get('tls.established', 0)} handshakes")
        c.check(cert.get("subject") == subj and cert.get("issuer") == iss and
                cert.get("not_after") and iso_epoch(cert["not_after"]) == end,
                f"{name}, no key: certificate {cert.get('subject')!r} / {cert.get('issuer')!r} / "
                f"{cert.get('not_after')} != openssl x509 {subj!r} / {iss!r} / {end}")
        c.check(bool(peers and peers[0].get("expiry_warning")),
                f"{name}, no key: a certificate expiring in 20 days is not warned")
        tsuite = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "tls.handshake.type == 2",
                                 "-T", "fields", "-e", "tls.handshake.ciphersuite"],
                                capture_output=True, text=True).stdout.split()
        c.check(bool(peers) and tsuite and int(tsuite[0], 16) == int(str(peers[0].get("suite")), 16),
                f"{name}, no key: suite {peers[0].get('suite') if peers else None} != tshark {tsuite}")
        # another server's key, a key for another address; the server's RSA
        # key for an ECDHE connection
        tries = [(f"{B}:5061={certs['a'][0]}", "rsa_key_mismatch"),
                 (f"10.78.9.9:5061={bkey}", "no_key")]
        if key != "rsa":
            tries = [(f"{B}:5061={bkey}", "forward_secret")]
        for keyarg, reason in tries:
            rep, _ = ts_report(a.bin, pcap, ["--tls-key", keyarg])
            n, _, _, _, f = ts_sip(rep)
            c.check(n == 0 and f.get(f"tls.decrypt.{reason}", 0) == conns,
                    f"{name}, {keyarg}: {n} SIP messages, {reason} "
                    f"{f.get(f'tls.decrypt.{reason}', 0)} of {conns}")
            # per connection: in the report and in the stored rows
            verdicts = [x.get("decrypt") for x in rep.get("tls_connections", [])]
            db = os.path.join(work, f"{name}-{reason}.db")
            subprocess.run([a.bin, "analyze", "--quiet", "--db", db, "--tls-key", keyarg, pcap],
                           capture_output=True, check=True, timeout=300)
            h = sqlite3.connect(db)
            stored = [r[0] for r in h.execute("SELECT decrypt FROM tls_conns ORDER BY ts")]
            pair = [json.loads(r[0] or "{}") for r in h.execute("SELECT decrypt FROM tls_peers")]
            h.close()
            c.check(verdicts == stored == [reason] * conns and pair == [{reason: conns}],
                    f"{name}, {keyarg}: per connection {verdicts}, stored {stored} {pair}")
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
