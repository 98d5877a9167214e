"""Network namespaces for tests that run real components (Kamailio, SIPp,
rtpengine, dumpcap, tcpreplay): namespaces, veth pairs, bridges and the
processes started in them, all removed again on exit, even on failure.
Only the private namespaces created here ever see traffic. Shared by
tests/corpus and tests/realnet (stdlib only)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77  # ctest SKIP_RETURN_CODE


def sh(*args, check=True, timeout=60):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          check=check, timeout=timeout)


def tool(name):
    """Path of an executable (PATH, then /usr/sbin and /sbin), or None."""
    for cand in (shutil.which(name), "/usr/sbin/" + name, "/sbin/" + name):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def missing(tools):
    """Why a real-component test cannot run here (not root, no 'ip netns',
    a tool missing), or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not tool("ip") or sh(tool("ip"), "netns", "list", check=False).returncode != 0:
        return "'ip netns' unavailable (install iproute2)"
    for name, pkg in tools:
        if not tool(name):
            return f"{name} missing (install {pkg})"
    return None


def skip(reason):
    """Report a skip the way ctest counts it (SKIP_RETURN_CODE 77)."""
    print(f"skipped: {reason}")
    sys.exit(SKIP)


class Lab:
    """A set of namespaces named <prefix><name><tag> (tag: the pid, so that
    two runs do not collide) with their links and processes. Use as a
    context manager: leaving it kills the processes and deletes the
    namespaces (deleting a namespace deletes its veth ends and bridges)."""

    def __init__(self, prefix="ts"):
        self.tag = str(os.getpid() % 100000)
        self.prefix = prefix
        self.ns = {}
        self.procs = []
        self._old_term = None

    def __enter__(self):
        # a ctest timeout sends SIGTERM: clean up on it as on any exit
        self._old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        return self

    def __exit__(self, *exc):
        self.stop_all()
        for name in list(self.ns.values()):
            sh("ip", "netns", "del", name, check=False)
        self.ns.clear()
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)

    def add(self, name):
        """A namespace with lo up and IPv6 off (no router solicitations or
        DAD in the capture)."""
        full = f"{self.prefix}{name}{self.tag}"
        sh("ip", "netns", "add", full)
        self.ns[name] = full
        self.exec_(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", check=False)
        self.exec_(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", check=False)
        sh("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def veth(self, ns1, dev1, ns2, dev2):
        """A veth pair created directly inside the two namespaces (the
        device names never appear in the root namespace)."""
        sh("ip", "link", "add", "name", dev1, "netns", self.ns[ns1], "type", "veth",
           "peer", "name", dev2, "netns", self.ns[ns2])
        for ns, dev in ((ns1, dev1), (ns2, dev2)):
            sh("ip", "-n", self.ns[ns], "link", "set", dev, "up")

    def bridge(self, ns, br, ports):
        sh("ip", "-n", self.ns[ns], "link", "add", br, "type", "bridge")
        for dev in ports:
            sh("ip", "-n", self.ns[ns], "link", "set", dev, "master", br)
        sh("ip", "-n", self.ns[ns], "link", "set", br, "up")

    def addr(self, ns, dev, cidr):
        sh("ip", "-n", self.ns[ns], "addr", "add", cidr, "dev", dev)

    def route(self, ns, *spec):
        sh("ip", "-n", self.ns[ns], "route", "add", *spec)

    def exec_(self, ns, *argv, check=True, timeout=60):
        return sh("ip", "netns", "exec", self.ns[ns], *argv, check=check, timeout=timeout)

    def start(self, ns, argv, log=None, cwd=None):
        """A process in namespace ns, stdout and stderr to file log (or
        discarded); stopped by stop_all at the latest."""
        out = open(log, "w") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(["ip", "netns", "exec", self.ns[ns], *map(str, argv)],
                                 stdout=out, stderr=subprocess.STDOUT if log else out,
                                 stdin=subprocess.DEVNULL, cwd=cwd)
        finally:
            if log:
                out.close()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """SIGTERM (or sig), then SIGKILL after timeout; returns the exit code."""
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()


def wait_for(pred, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class VethPair(Lab):
    """Two namespaces (.a, .b: <prefix>a<tag>, <prefix>b<tag>) joined by one
    veth pair (.va in .a, .vb in .b): a capture replayed out of .va arrives
    on .vb as on a SPAN port. IPv6 is off (no router solicitations in what
    is captured), lo is up (a sensor's API listens there)."""

    def __enter__(self):
        super().__enter__()
        try:
            self.a, self.b = self.add("a"), self.add("b")
            self.va, self.vb = f"{self.prefix}va{self.tag}", f"{self.prefix}vb{self.tag}"
            self.veth("a", self.va, "b", self.vb)
        except BaseException:
            self.__exit__()
            raise
        return self

    def replay(self, pcap, pps=None, multiplier=1, background=False, timeout=600):
        """tcpreplay of pcap out of .va: pps packets a second, or the
        capture's own timing sped up by multiplier. At a raised priority:
        on a loaded machine tcpreplay falls seconds behind the capture's
        timing, and a sensor reads timeouts from packet times. background:
        the Popen (output discarded); else the finished run."""
        rate = [f"--pps={pps}"] if pps else [f"--multiplier={multiplier}"]
        cmd = ["nice", "-n", "-10", "ip", "netns", "exec", self.a, "tcpreplay", "-q",
               "-i", self.va, *rate, str(pcap)]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# Run inside a namespace: GET each path of argv[2:] from argv[1]; prints
# {path: [status, body]} as JSON.
_API_CLIENT = r"""
import json, sys, urllib.error, urllib.request
out = {}
for path in sys.argv[2:]:
    try:
        with urllib.request.urlopen(sys.argv[1] + path, timeout=10) as r:
            out[path] = [r.status, json.loads(r.read().decode())]
    except urllib.error.HTTPError as e:
        out[path] = [e.code, None]
    except (OSError, ValueError) as e:
        out[path] = [0, str(e)]
print(json.dumps(out))
"""


def api_get(ns, base, paths):
    """{path: (status, JSON body)} fetched from base inside namespace ns
    (its loopback is not the root namespace's)."""
    r = sh("ip", "netns", "exec", ns, sys.executable, "-c", _API_CLIENT, base, *paths,
           check=False, timeout=120)
    try:
        return {k: tuple(v) for k, v in json.loads(r.stdout).items()}
    except ValueError:
        return {p: (0, r.stderr.strip()) for p in paths}
