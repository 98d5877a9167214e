#!/usr/bin/env python3
"""TLS trunks without keys, against real TLS: OpenSSL's s_server and s_client
carry SIP messages over TLS 1.2 and 1.3 between two network namespaces the
test creates, with and without client certificates, with certificates the
test generates (`openssl req`), one of which expires within 30 days; SIPp
places a plaintext call over UDP between the same addresses as that server,
so a trunk exists to be flagged. dumpcap records the link. The truth comes
from OpenSSL and tshark, never from trunkscope:

  - certificate subject, issuer and notAfter: `openssl x509 -noout -subject
    -issuer -enddate` on each generated certificate;
  - SNI, ALPN, versions offered and chosen, cipher suite: `tshark -T fields
    -e tls.handshake.*` on the capture;
  - the failing handshake's alert: tshark's tls.alert_message.desc.

Each server listens on its own address, so each handshake is its own peer
pair in trunkscope's `tls_peers`.

  python3 tests/realnet/test_realnet_tls.py --bin trunkscope --work DIR

Needs root, openssl, dumpcap, tshark and sipp; exits 77 when something is
missing.
"""
import argparse
import calendar
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import netns  # noqa: E402  (tests/netns.py)

CLI = "10.77.0.1"
# server address -> scenario
SRV = {
    "a": "10.77.0.2",  # TLS 1.3 and 1.2 offered, 1.2 chosen, ALPN sip, SNI, 365-day certificate
    "b": "10.77.0.3",  # TLS 1.2, certificate expiring in 10 days, plus a SIPp call (the trunk)
    "c": "10.77.0.4",  # TLS 1.2 MTLS: the server requires a client certificate
    "d": "10.77.0.5",  # TLS 1.3 only, the client offers TLS 1.2 only: protocol_version alert
    "e": "10.77.0.6",  # TLS 1.3 with a client certificate (encrypted: not visible)
}
PORT = 5061
TOOLS = [("openssl", "openssl"), ("dumpcap", "wireshark-common"), ("tshark", "tshark"),
         ("sipp", "sip-tester")]
VERSIONS = {"0x0301": "TLS1.0", "0x0302": "TLS1.1", "0x0303": "TLS1.2", "0x0304": "TLS1.3"}


class Checker:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failed += 1


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


def make_cert(work, name, subj, days, san):
    key, crt = os.path.join(work, name + ".key"), os.path.join(work, name + ".pem")
    r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-keyout", key, "-out", crt, "-days", days, "-subj", subj,
             "-addext", "subjectAltName=" + san])
    if r.returncode:
        raise SystemExit(f"openssl req: {r.stderr}")
    return key, crt


def x509_truth(crt):
    """subject, issuer (as openssl prints them) and notAfter (epoch s)."""
    r = run(["openssl", "x509", "-noout", "-subject", "-issuer", "-enddate", "-in", crt])
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        out[k.strip()] = v.strip()
    end = calendar.timegm(time.strptime(out["notAfter"].replace("  ", " "),
                                        "%b %d %H:%M:%S %Y GMT"))
    return out["subject"], out["issuer"], end


def iso_epoch(s):
    """Our ISO time ("2026-12-06T04:00:00.000Z") as epoch seconds."""
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def tls_session(lab, work, name, server_args, client_args, payload):
    """One s_server accepting one connection, one s_client sending payload."""
    addr = SRV[name]
    slog = os.path.join(work, f"server-{name}.log")
    srv = lab.start("srv", ["openssl", "s_server", "-accept", f"{addr}:{PORT}", "-naccept", "1",
                            "-quiet",
                            *server_args], log=slog)
    netns.wait_for(lambda: f"{addr}:{PORT}" in run(
        ["ip", "netns", "exec", lab.ns["srv"], "ss", "-ltn"]).stdout, 10)
    p = subprocess.Popen(["ip", "netns", "exec", lab.ns["cli"], "openssl", "s_client",
                          "-connect", f"{addr}:{PORT}", "-quiet", "-no_ign_eof", *client_args],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(work, f"client-{name}.log"), "w"))
    try:
        time.sleep(0.6)
        p.stdin.write(payload)
        p.stdin.flush()
        time.sleep(0.6)
        p.stdin.close()
    except BrokenPipeError:
        pass  # the failing handshake: the client is gone already
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
    lab.stop(srv, timeout=5)


def sip_options(addr):
    return (f"OPTIONS sip:{addr}:{PORT};transport=tls SIP/2.0\r\n"
            f"Via: SIP/2.0/TLS {CLI}:40000;branch=z9hG4bK-{addr}\r\n"
            f"From: <sip:probe@{CLI}>;tag=1\r\nTo: <sip:{addr}>\r\n"
            f"Call-ID: tls-{addr}@{CLI}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def tshark_hellos(cap):
    """Per server address: ClientHello and ServerHello fields as tshark reads them."""
    fields = ["ip.src", "ip.dst", "tls.handshake.type", "tls.handshake.extensions_server_name",
              "tls.handshake.extensions_alpn_str", "tls.handshake.extensions.supported_version",
              "tls.handshake.version", "tls.handshake.ciphersuite", "tls.alert_message.desc",
              "tls.alert_message.level"]
    argv = ["tshark", "-r", cap, "-o", "tls.desegment_ssl_records:TRUE", "-Y", "tls",
            "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        argv += ["-e", f]
    r = run(argv)
    out = {}
    for line in r.stdout.splitlines():
        v = dict(zip(fields, line.split("|")))
        types = v["tls.handshake.type"].split(",") if v["tls.handshake.type"] else []
        server = v["ip.dst"] if v["ip.dst"] in SRV.values() else v["ip.src"]
        o = out.setdefault(server, {})
        if "1" in types:
            o["sni"] = v["tls.handshake.extensions_server_name"]
            o["alpn_offered"] = v["tls.handshake.extensions_alpn_str"]
            o["offered"] = v["tls.handshake.extensions.supported_version"]
            o["ch_version"] = v["tls.handshake.version"].split(",")[0]
        if "2" in types:
            i = types.index("2")
            o["alpn"] = v["tls.handshake.extensions_alpn_str"]
            sv = v["tls.handshake.extensions.supported_version"]
            o["version"] = sv if sv else v["tls.handshake.version"].split(",")[i]
            o["suite"] = v["tls.handshake.ciphersuite"].split(",")[0]
        if v["tls.alert_message.desc"] and "alert" not in o:
            o["alert"] = int(v["tls.alert_message.desc"].split(",")[0])
            o["alert_from_server"] = v["ip.src"] == server
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    why = netns.missing(TOOLS)
    if why:
        netns.skip(why)
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    certs = {
        "a": make_cert(a.work, "a", "/C=DE/O=Trunk Lab/CN=sbc-a.example.net", "365",
                       f"DNS:sbc-a.example.net,IP:{SRV['a']}"),
        "b": make_cert(a.work, "b", "/C=US/O=Carrier B/OU=Voice/CN=sip.carrier-b.example", "10",
                       "DNS:sip.carrier-b.example,URI:sip:sip.carrier-b.example"),
        "c": make_cert(a.work, "c", "/O=Mediation/CN=mediation.example.org", "200",
                       "DNS:mediation.example.org"),
        "d": make_cert(a.work, "d", "/CN=only13.example", "90", "DNS:only13.example"),
        "e": make_cert(a.work, "e", "/CN=teams-like.example", "60", "DNS:teams-like.example"),
        "client": make_cert(a.work, "client", "/O=Gateway/CN=gw.example.com", "120",
                            "DNS:gw.example.com"),
    }
    cap = os.path.join(a.work, "tls.pcapng")
    with netns.Lab("tt") as lab:
        lab.add("cli")
        lab.add("srv")
        lab.veth("cli", "vc", "srv", "vs")
        lab.addr("cli", "vc", CLI + "/24")
        for ip in SRV.values():
            lab.addr("srv", "vs", ip + "/24")
        dc = lab.start("srv", ["dumpcap", "-q", "-i", "vs", "-w", cap],
                       log=os.path.join(a.work, "dumpcap.log"))
        netns.wait_for(lambda: os.path.exists(cap) and os.path.getsize(cap) > 0, 10)
        time.sleep(0.5)
        ka, ca = certs["a"]
        tls_session(lab, a.work, "a", ["-cert", ca, "-key", ka, "-tls1_2", "-alpn", "sip"],
                    ["-servername", "sbc-a.example.net", "-alpn", "sip,h2",
                     "-no_tls1", "-no_tls1_1"],  # not left to the system's openssl.cnf
                    sip_options(SRV["a"]))
        kb, cb = certs["b"]
        tls_session(lab, a.work, "b", ["-cert", cb, "-key", kb, "-tls1_2"],
                    ["-tls1_2", "-servername", "sip.carrier-b.example"], sip_options(SRV["b"]))
        kc, cc = certs["c"]
        kcl, ccl = certs["client"]
        tls_session(lab, a.work, "c", ["-cert", cc, "-key", kc, "-tls1_2", "-Verify", "1",
                                       "-CAfile", ccl],
                    ["-tls1_2", "-cert", ccl, "-key", kcl, "-servername", "mediation.example.org"],
                    sip_options(SRV["c"]))
        kd, cd = certs["d"]
        tls_session(lab, a.work, "d", ["-cert", cd, "-key", kd, "-tls1_3"],
                    ["-tls1_2", "-servername", "only13.example"], sip_options(SRV["d"]))
        ke, ce = certs["e"]
        tls_session(lab, a.work, "e", ["-cert", ce, "-key", ke, "-tls1_3", "-Verify", "1",
                                       "-CAfile", ccl],
                    ["-tls1_3", "-cert", ccl, "-key", kcl], sip_options(SRV["e"]))
        # a plaintext call between the client and server b: the trunk to flag
        uas = lab.start("srv", ["sipp", "-sn", "uas", "-i", SRV["b"], "-p", "5060", "-m", "1",
                                "-bg", "-nostdin"], log=os.path.join(a.work, "uas.log"))
        time.sleep(0.5)
        lab.exec_("cli", "sipp", "-sn", "uac", f"{SRV['b']}:5060", "-i", CLI, "-p", "5060",
                  "-m", "1", "-d", "500", "-nostdin", "-timeout", "20", check=False, timeout=40)
        lab.stop(uas)
        time.sleep(0.5)
        lab.stop(dc)
    r = run([a.bin, "analyze", "--json", cap])
    c.check(r.returncode == 0, f"analyze --json: rc={r.returncode} {r.stderr[-300:]!r}")
    doc = json.loads(r.stdout or "{}")
    peers = {p["server"].rsplit(":", 1)[0]: p for p in doc.get("tls_peers", [])}
    truth = tshark_hellos(cap)
    c.check(len(peers) == 5, f"five TLS peer pairs: {sorted(peers)}")
    c.check(doc.get("tls", {}).get("connections") == 5, f"tls.connections: {doc.get('tls')}")
    now = time.time()
    for name, addr in SRV.items():
        p, t = peers.get(addr, {}), truth.get(addr, {})
        c.check(bool(p) and bool(t), f"{name}: trunkscope and tshark both saw {addr}")
        if not p or not t:
            continue
        c.check(p["sni"] == (t.get("sni") or None), f"{name}: SNI {p['sni']!r} = tshark {t.get('sni')!r}")
        offered = ",".join(VERSIONS.get(v, v) for v in (t.get("offered") or t["ch_version"]).split(","))
        c.check(p["offered_versions"] == offered and (name != "a" or offered.startswith("TLS1.3,TLS1.2")),
                f"{name}: versions offered {p['offered_versions']!r} = tshark {offered!r}")
        if name == "d":
            continue
        c.check(p["version"] == VERSIONS.get(t.get("version")),
                f"{name}: version {p['version']} = tshark {t.get('version')}")
        c.check(p["suite"] == t.get("suite"), f"{name}: suite {p['suite']} = tshark {t.get('suite')}")
        c.check(p["alpn"] == (t.get("alpn") or None), f"{name}: ALPN {p['alpn']!r} = tshark {t.get('alpn')!r}")
        c.check(p["status"] == "ok" and p["established"] == 1 and p["failed"] == 0,
                f"{name}: handshake ok ({p['status']}, {p['established']} established)")
    # certificates (TLS 1.2 only: TLS 1.3 encrypts them) against openssl x509
    for name in ("a", "c"):
        p = peers.get(SRV[name], {})
        subj, iss, end = x509_truth(certs[name][1])
        cert = p.get("certificate") or {}
        c.check(cert.get("subject") == subj, f"{name}: subject {cert.get('subject')!r} = openssl {subj!r}")
        c.check(cert.get("issuer") == iss, f"{name}: issuer {cert.get('issuer')!r} = openssl {iss!r}")
        c.check(cert.get("not_after") and iso_epoch(cert["not_after"]) == end,
                f"{name}: notAfter {cert.get('not_after')} = openssl {end}")
        c.check(cert.get("key_type") == "RSA" and cert.get("key_bits") == 2048 and
                cert.get("signature_algorithm") == "sha256WithRSAEncryption",
                f"{name}: RSA 2048, sha256WithRSAEncryption ({cert.get('key_type')} "
                f"{cert.get('key_bits')} {cert.get('signature_algorithm')})")
        days = (end - now) / 86400
        c.check(cert.get("days_left") == int(days) and not cert.get("expiring"),
                f"{name}: {cert.get('days_left')} days left, no warning")
    ca = (peers.get(SRV["a"], {}).get("certificate") or {})
    c.check(ca.get("sans") == f"DNS:sbc-a.example.net, IP:{SRV['a']}", f"a: SANs {ca.get('sans')!r}")
    # MTLS: asked and sent in c (TLS 1.2, the client certificate readable)
    pc = peers.get(SRV["c"], {})
    subj, iss, end = x509_truth(certs["client"][1])
    c.check(pc.get("mtls") is True and pc.get("client_cert_requested") is True, "c: MTLS yes")
    cc = pc.get("client_certificate") or {}
    c.check(cc.get("subject") == subj and iso_epoch(cc.get("not_after", "1970-01-01T00:00:00")) == end,
            f"c: client certificate {cc.get('subject')!r} = openssl {subj!r}")
    c.check(peers.get(SRV["a"], {}).get("mtls") is False, "a: MTLS no")
    # the failing handshake: the server's protocol_version alert, as tshark reads it
    pd, td = peers.get(SRV["d"], {}), truth.get(SRV["d"], {})
    alert = pd.get("last_alert") or {}
    c.check(pd.get("status") == "failing" and pd.get("failed") == 1,
            f"d: handshake failing ({pd.get('status')})")
    c.check(td.get("alert") == 70 and alert.get("description") == "protocol_version" and
            alert.get("level") == "fatal" and (alert.get("from") == "server") == td.get("alert_from_server"),
            f"d: alert {alert} = tshark desc {td.get('alert')}")
    # TLS 1.3: the certificates are encrypted, none is shown; MTLS unknown
    pe = peers.get(SRV["e"], {})
    c.check(pe.get("certificate") is None and pe.get("mtls") is False,
            "e: TLS 1.3 shows no certificate and no MTLS")
    # the expiring certificate (10 days) flags its peer and its trunk, the
    # one SIPp's call made between the client and server b
    pb = peers.get(SRV["b"], {})
    subj, iss, end = x509_truth(certs["b"][1])
    cb = pb.get("certificate") or {}
    c.check(cb.get("subject") == subj and cb.get("issuer") == iss and
            iso_epoch(cb.get("not_after", "1970-01-01T00:00:00")) == end,
            f"b: certificate {cb.get('subject')!r} = openssl {subj!r}")
    c.check(cb.get("days_left") == int((end - now) / 86400) and cb.get("expiring") is True and
            pb.get("expiry_warning") is True, f"b: {cb.get('days_left')} days left, warned")
    c.check(cb.get("sans") == "DNS:sip.carrier-b.example, URI:sip:sip.carrier-b.example",
            f"b: SANs {cb.get('sans')!r}")
    c.check(not any(p.get("expiry_warning") for k, p in peers.items() if k != SRV["b"]),
            "no other peer warned")
    trunks = [t for t in doc.get("trunks", []) if {t["local"], t["peer"]} == {CLI, SRV["b"]}]
    c.check(len(trunks) == 1, f"one trunk between {CLI} and {SRV['b']}: {len(trunks)}")
    tt = (trunks[0].get("tls") if trunks else None) or {}
    c.check(tt.get("server") == f"{SRV['b']}:{PORT}" and tt.get("expiry_warning") is True,
            f"trunk b carries its TLS status and the warning ({tt.get('server')}, "
            f"{tt.get('expiry_warning')})")
    # the same through the store: analyze --db, then the API and /metrics
    db = os.path.join(a.work, "tls.db")
    if os.path.exists(db):
        os.unlink(db)
    r = run([a.bin, "analyze", "--db", db, cap])
    c.check(r.returncode == 0, f"analyze --db: rc={r.returncode} {r.stderr[-300:]!r}")
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--http", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        m = re.search(r"port (\d+)", line)
        c.check(m is not None, f"serve started: {line!r}")
        base = f"http://127.0.0.1:{m.group(1)}" if m else ""

        def get(path):
            with urllib.request.urlopen(base + path, timeout=20) as resp:
                return resp.read().decode()

        api = {p["server"].rsplit(":", 1)[0]: p for p in json.loads(get("/api/v1/tls"))["peers"]}
        c.check(sorted(api) == sorted(peers), f"API: the same peer pairs {sorted(api)}")
        for addr, p in peers.items():
            q = api.get(addr, {})
            cert = p.get("certificate") or {}
            same = (q.get("status") == p["status"] and q.get("version") == p["version"] and
                    q.get("suite") == p["suite"] and q.get("sni") == p["sni"] and
                    q.get("alpn") == p["alpn"] and q.get("mtls") == p["mtls"] and
                    q.get("established") == p["established"] and q.get("failed") == p["failed"] and
                    q.get("cert_subject") == cert.get("subject") and
                    q.get("cert_issuer") == cert.get("issuer") and
                    q.get("cert_not_after") == cert.get("not_after") and
                    q.get("cert_days_left") == cert.get("days_left") and
                    q.get("expiry_warning") == p["expiry_warning"] and
                    q.get("alert_description") == (p["last_alert"] or {}).get("description"))
            c.check(same, f"API {addr}: as the report says ({q.get('status')}, {q.get('cert_subject')!r})")
        trunks = json.loads(get("/api/v1/trunks"))["trunks"]
        tb = [t for t in trunks if {t["local"], t["peer"]} == {CLI, SRV["b"]}]
        td = json.loads(get("/api/v1/trunks/%d" % tb[0]["id"])) if tb else {}
        c.check((td.get("tls") or {}).get("expiry_warning") is True and
                (td.get("tls") or {}).get("server") == f"{SRV['b']}:{PORT}",
                "API: trunk b's page carries the TLS status and the expiry warning")
        met = get("/metrics")
        days_b = (peers.get(SRV["b"], {}).get("certificate") or {}).get("days_left")
        c.check(re.search(r'^trunkscope_tls_cert_expiry_days\{client="%s",server="%s:%d"\} %s$'
                          % (re.escape(CLI), re.escape(SRV["b"]), PORT, days_b), met, re.M) is not None,
                f"/metrics: server b's certificate expires in {days_b} days")
        c.check(re.search(r'^trunkscope_tls_handshake_ok\{client="%s",server="%s:%d"\} 0$'
                          % (re.escape(CLI), re.escape(SRV["d"]), PORT), met, re.M) is not None,
                "/metrics: server d's handshake failing")
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    print(f"{c.failed} failure(s)")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
