"""The HTTP API under attack, on loopback (and, with root, in a network
namespace for IPv6):
- slowloris: 300 connections trickling one header byte a second (and
  reconnecting when dropped) for 12 s, from the normal client's own address
  and five others; the normal client must be answered within 1 s every time;
- a stalled server (SIGSTOP past the 5-s header deadline) answers the
  requests that arrived meanwhile: the deadline is the client's, not ours;
- DNS rebinding: a foreign Host is refused (421), the bound address,
  localhost and --allowed-host names are served;
- framing: two Content-Length, any Transfer-Encoding: 400 (a raw NUL never
  reaches trunkscope whole: libmicrohttpd cuts the string there; see nginx);
- the number search needs 3 digits for a substring;
- TLS (openssl s_client): TLS 1.0/1.1 and RSA key exchange refused, TLS 1.2
  ECDHE-GCM and TLS 1.3 accepted;
- rate limits per IPv6 /64: a client rotating through its /64 is limited
  like one address, another /64 is not (root, ip netns);
- contrib/nginx/trunkscope.conf in front of serve (nginx-light): a raw NUL
  in the request line or a header, two Content-Length, a foreign Host and
  and TLS 1.1 are refused."""
import json
import os
import ssl
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from manifest import Checker, parse_args
from serving import free_port


def start(binary, args, port, host="127.0.0.1"):
    p = subprocess.Popen([binary, "serve"] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    end = time.time() + 20
    while time.time() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return p
        except OSError:
            if p.poll() is not None:
                return p
            time.sleep(0.1)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def raw(port, data, src="127.0.0.1", timeout=3.0):
    """Send raw bytes, return (status code or None, seconds)."""
    t0 = time.time()
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        line = buf.split(b"\r\n")[0].split()
        return (int(line[1]) if len(line) > 1 and line[1].isdigit() else None), time.time() - t0
    except OSError:
        return None, time.time() - t0
    finally:
        s.close()


def get(port, path, host=None, extra=b""):
    h = (host or f"127.0.0.1:{port}").encode()
    return raw(port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + h +
               b"\r\nConnection: close\r\n" + extra + b"\r\n")[0]


class Loris:
    """n connections, each sending one header byte a second; a dropped one
    is opened again at once. Counts drops."""

    def __init__(self, port, sources):
        self.port, self.sources = port, sources
        self.socks, self.drops, self.opened = [], 0, 0
        self.longest = 0.0  # seconds a connection kept trickling
        self.stop = threading.Event()

    def open(self, src):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((src, 0))
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return None
        self.opened += 1
        return [s, src, False, time.time()]

    def run(self, seconds):
        for src in self.sources:
            c = self.open(src)
            if c:
                self.socks.append(c)
        end = time.time() + seconds
        while time.time() < end and not self.stop.is_set():
            for i, c in enumerate(self.socks):
                s, src, started, t0 = c
                try:
                    s.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: " if not started else b"a")
                    c[2] = True
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    self.drops += 1
                    self.longest = max(self.longest, time.time() - t0)
                    n = self.open(src)
                    if n:
                        self.socks[i] = n
            time.sleep(1.0)
        for c in self.socks:
            self.longest = max(self.longest, time.time() - c[3])
            c[0].close()


def t_slowloris(c, binary, db, work):
    port = free_port()
    p = start(binary, ["--db", db, "--http", f"127.0.0.1:{port}"], port)
    try:
        sources = ["127.0.0.1"] * 150 + [f"127.0.0.{k}" for k in range(2, 7) for _ in range(30)]
        lo = Loris(port, sources)
        th = threading.Thread(target=lo.run, args=(14,))
        th.start()
        time.sleep(2.0)
        worst, fails = 0.0, 0
        for _ in range(16):
            code, dt = raw(port, f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                 "Connection: close\r\n\r\n".encode(), timeout=5)
            worst = max(worst, dt)
            fails += code != 200
            time.sleep(0.5)
        th.join()
        print(f"slowloris: slowest normal answer {worst * 1000:.0f} ms; {lo.opened} attack "
              f"connections opened, {lo.drops} cut, longest lived {lo.longest:.1f} s")
        c.check(fails == 0 and worst < 1.0,
                f"slowloris: normal client {16 - fails}/16 answered, slowest {worst:.2f} s")
        # the header deadline is 5 s: nobody trickles much past it (14 s without it)
        c.check(lo.drops >= 100 and lo.longest < 10.0,
                f"slowloris: the trickling connections were cut ({lo.drops} drops of "
                f"{lo.opened} opened; the longest lived {lo.longest:.1f} s)")
        c.check(p.poll() is None, "slowloris: server alive")
    finally:
        stop(p)


def t_stalled(c, binary, db):
    """Requests whose headers wait in the socket while the server is stopped
    past the header deadline are answered, not cut as slowloris."""
    port = free_port()
    p = start(binary, ["--db", db, "--http", f"127.0.0.1:{port}"], port)
    socks = []
    try:
        # one client address each: a client may have only
        # TS_API_INFLIGHT_PER_CLIENT (2) requests answered at once, and more
        # than that from one address after the stall get 503 busy, by design
        for k in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                         source_address=(f"127.0.0.{k + 2}", 0))
            socks.append(s)
        time.sleep(0.5)  # accepted: the deadline runs from here
        os.kill(p.pid, signal.SIGSTOP)
        for s in socks:
            s.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      "Connection: close\r\n\r\n".encode())
        time.sleep(6.5)
        os.kill(p.pid, signal.SIGCONT)
        got = []
        for s in socks:
            try:
                got.append(s.recv(64)[:12])
            except OSError as e:
                got.append(repr(e).encode())
        answered = sum(g.startswith(b"HTTP/1.1 200") for g in got)
        c.check(answered == len(socks),
                f"stalled server: {answered} of {len(socks)} waiting requests answered: {got}")
        c.check(p.poll() is None, "stalled server: alive")
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
        for s in socks:
            s.close()
        stop(p)


def t_host_framing(c, binary, db):
    port = free_port()
    p = start(binary, ["--db", db, "--http", f"127.0.0.1:{port}",
                       "--allowed-host", "trunkscope.example,ts2.example"], port)
    try:
        for host, want in ((f"127.0.0.1:{port}", 200), ("127.0.0.1", 200),
                           (f"localhost:{port}", 200), (f"trunkscope.example:{port}", 200),
                           ("ts2.example", 200), (f"evil.example:{port}", 421),
                           ("127.0.0.1.evil.example", 421), (f"[::1]:{port}", 200),
                           ("10.0.0.1", 421), ("trunkscope.example:80x", 421)):
            got = get(port, "/api/v1/health", host=host)
            c.check(got == want, f"Host {host}: {got} != {want}")
        got = get(port, "/", host="rebind.attacker.example")
        c.check(got == 421, f"dashboard with a foreign Host: {got}")
        for extra, what in ((b"Content-Length: 0\r\nContent-Length: 5\r\n", "two Content-Length"),
                            (b"Transfer-Encoding: chunked\r\n", "Transfer-Encoding"),
                            (b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", "CL and TE")):
            got = get(port, "/api/v1/health", extra=extra)
            c.check(got == 400, f"{what}: {got} != 400")
        for q, want in (("caller=12", 400), ("callee=1", 400), ("caller=123", 200),
                        ("caller=12&match=suffix", 200)):
            got = get(port, "/api/v1/calls?" + q)
            c.check(got == want, f"calls?{q}: {got} != {want}")
    finally:
        stop(p)


def t_tls(c, binary, db, work):
    if not shutil.which("openssl"):
        print("skipped TLS part: no openssl")
        return
    key, crt = os.path.join(work, "k.pem"), os.path.join(work, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=127.0.0.1"], capture_output=True,
                   check=True, timeout=60)
    port = free_port()
    p = start(binary, ["--db", db, "--http", f"127.0.0.1:{port}", "--tls-cert", crt,
                       "--tls-key", key], port)
    try:
        def hs(*args):
            r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"] +
                               list(args), input="", capture_output=True, text=True, timeout=20)
            out = r.stdout + r.stderr
            return "Cipher is (NONE)" not in out and "New, " in out and r.returncode == 0

        c.check(hs("-tls1_3"), "TLS 1.3 accepted")
        c.check(hs("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
                "TLS 1.2 ECDHE-RSA-AES128-GCM accepted")
        c.check(not hs("-tls1_2", "-cipher", "AES128-GCM-SHA256"),
                "TLS 1.2 with RSA key exchange refused")
        c.check(not hs("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"), "TLS 1.2 CBC refused")
        for v in ("-tls1_1", "-tls1"):
            c.check(not hs(v, "-cipher", "DEFAULT:@SECLEVEL=0"), f"{v} refused")
    finally:
        stop(p)


NS_CLIENT = r"""
import json, socket, sys
port = int(sys.argv[1])
def get(src):
    s = socket.socket(socket.AF_INET6)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("fd00:1::1", port))
    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: [fd00:1::1]:" + str(port).encode() +
              b"\r\nAuthorization: Bearer " + open(sys.argv[2]).read().strip().encode() +
              b"\r\nConnection: close\r\n\r\n")
    d = s.recv(100)
    s.close()
    return int(d.split()[1])
rot = [get("fd00:1::%x" % (0x100 + i)) for i in range(40)]
other = [get("fd00:2::%x" % (0x100 + i)) for i in range(5)]
print(json.dumps({"rotating": rot, "other": other}))
"""


def t_ipv6_64(c, binary, db, work):
    ns = f"ts-apih-{os.getpid()}"
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("skipped IPv6 /64 part: needs root and ip")
        return
    tok = os.path.join(work, "token")
    with open(tok, "w") as f:
        f.write("t0ken-for-the-hostile-test\n")
    cli = os.path.join(work, "ns_client.py")
    with open(cli, "w") as f:
        f.write(NS_CLIENT)
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        ex = ["ip", "netns", "exec", ns]
        subprocess.run(ex + ["ip", "link", "set", "lo", "up"], check=True)
        # bind to any address of the two prefixes (AnyIP): one host, many sources
        subprocess.run(ex + ["sysctl", "-qw", "net.ipv6.ip_nonlocal_bind=1"], check=True)
        for pfx in ("fd00:1::/64", "fd00:2::/64"):
            subprocess.run(ex + ["ip", "-6", "route", "add", "local", pfx, "dev", "lo"], check=True)
        port = 18000 + os.getpid() % 1000
        p = subprocess.Popen(ex + [binary, "serve", "--db", db, "--http", f"[::]:{port}",
                                   "--token-file", tok, "--rate", "10"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            r = subprocess.run(ex + [sys.executable, cli, str(port), tok], capture_output=True,
                               text=True, timeout=60)
            try:
                got = json.loads(r.stdout)
            except ValueError:
                got = {}
                c.check(False, f"ipv6: client failed: {r.stderr[-300:]!r}")
            rot = got.get("rotating", [])
            c.check(rot.count(200) == 10 and rot.count(429) == 30,
                    f"ipv6: 40 requests from 40 addresses of one /64 (rate 10, burst 10): "
                    f"{rot.count(200)} answered, {rot.count(429)} limited")
            c.check(got.get("other") == [200] * 5, f"ipv6: another /64 unaffected: {got.get('other')}")
        finally:
            stop(p)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def tls_raw(port, data, timeout=10.0):
    """Status code (None: closed without one) and seconds, over TLS."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.time()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw_s:
            with ctx.wrap_socket(raw_s, server_hostname="trunkscope.example.org") as s:
                s.sendall(data)
                buf = b""
                while b"\r\n" not in buf:
                    d = s.recv(4096)
                    if not d:
                        break
                    buf += d
        line = buf.split(b"\r\n")[0].split()
        return (int(line[1]) if len(line) > 1 and line[1].isdigit() else None), time.time() - t0
    except OSError:
        return None, time.time() - t0


def t_nginx(c, binary, db, work):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx or not shutil.which("openssl"):
        print("skipped nginx part: no nginx or openssl")
        return
    key, crt = os.path.join(work, "ng.key"), os.path.join(work, "ng.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=trunkscope.example.org"],
                   capture_output=True, check=True, timeout=60)
    sp, np = free_port(), free_port()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "nginx",
                       "trunkscope.conf")
    site = open(src).read()
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{np} ssl;")
    site = site.replace("listen 443 ssl default_server;", f"listen 127.0.0.1:{np} ssl default_server;")
    site = "\n".join(ln for ln in site.splitlines() if "listen [::]:443" not in ln)
    site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{sp};")
    site = site.replace("/etc/ssl/certs/trunkscope.pem", crt).replace(
        "/etc/ssl/private/trunkscope.key", key)
    ngx = os.path.join(work, "nginx")
    os.makedirs(ngx, exist_ok=True)
    with open(os.path.join(ngx, "site.conf"), "w") as f:
        f.write(site)
    with open(os.path.join(ngx, "nginx.conf"), "w") as f:
        f.write(f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {ngx}/nginx.pid;\n"
                f"error_log {ngx}/error.log warn;\nevents {{ worker_connections 256; }}\n"
                f"http {{\n access_log off;\n client_body_temp_path {ngx}/body;\n"
                f" proxy_temp_path {ngx}/proxy;\n fastcgi_temp_path {ngx}/fcgi;\n"
                f" uwsgi_temp_path {ngx}/uwsgi;\n scgi_temp_path {ngx}/scgi;\n"
                f" include {ngx}/site.conf;\n}}\n")
    srv = start(binary, ["--db", db, "--http", f"127.0.0.1:{sp}", "--no-rate-limit"], sp)
    ng = subprocess.Popen([nginx, "-p", ngx, "-c", os.path.join(ngx, "nginx.conf")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", np), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        H = b"Host: trunkscope.example.org\r\nConnection: close\r\n"
        for req, want, what in (
                (b"GET /api/v1/health HTTP/1.1\r\n" + H + b"\r\n", 200, "health"),
                (b"GET /api/v1/health HTTP/1.1\r\nHost: evil.example\r\n\r\n", 421, "foreign Host"),
                (b"GET /api/v1/health\x00x HTTP/1.1\r\n" + H + b"\r\n", 400, "NUL in the URL"),
                (b"GET /api/v1/health HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400,
                 "NUL in a header"),
                (b"GET /api/v1/health HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n"
                 b"Content-Length: 5\r\n\r\n", 400, "two Content-Length"),
                (b"POST /api/v1/health HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n", 405,
                 "POST")):
            got, _ = tls_raw(np, req)
            c.check(got == want, f"nginx: {what}: {got} != {want}")

        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{np}", "-tls1_1",
                            "-cipher", "DEFAULT:@SECLEVEL=0"], input="", capture_output=True,
                           text=True, timeout=20)
        c.check(r.returncode != 0 or "Cipher is (NONE)" in r.stdout, "nginx: TLS 1.1 refused")
    finally:
        stop(ng)
        stop(srv)


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap = os.path.join(a.work, "g.pcap")
    db = os.path.join(a.work, "g.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.unlink(f)
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "20", "--seed", "7"],
                   capture_output=True, check=True, timeout=300)
    subprocess.run([a.bin, "analyze", "--db", db, pcap], capture_output=True, check=True,
                   timeout=300)
    only = os.environ.get("TS_API_HOSTILE_ONLY", "")
    if only in ("", "loris"):
        t_slowloris(c, a.bin, db, a.work)
    if only in ("", "stall"):
        t_stalled(c, a.bin, db)
    if only in ("", "host"):
        t_host_framing(c, a.bin, db)
    if only in ("", "tls"):
        t_tls(c, a.bin, db, a.work)
    if only in ("", "ipv6"):
        t_ipv6_64(c, a.bin, db, a.work)
    if only in ("", "nginx"):
        t_nginx(c, a.bin, db, a.work)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
