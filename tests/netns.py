"""Network namespaces for tests that run real components (Kamailio, SIPp,
rtpengine, dumpcap, tcpreplay): namespaces, veth pairs, bridges and the
processes started in them, all removed again on exit, even on failure.
Only the private namespaces created here ever see traffic. Shared by
tests/corpus and tests/realnet (stdlib only)."""
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
