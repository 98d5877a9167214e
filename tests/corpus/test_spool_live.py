"""The live sensor's capture spool under its caps, through network namespaces
(a veth pair; tcpreplay plays the generator's capture into one end, the
sensor captures the other). What test_live_netns already covers (export
of every call from the spool, kill -9 and restart) is not repeated here.

1. Size cap: ten minutes of generated traffic (120 calls) replayed ten times
   faster; the spool directory, sampled every 0.2 s, never holds more than
   --spool-max-mb; files are deleted oldest first (each file that vanishes
   between two samples is one of the oldest of the earlier sample) and
   counted (files opened - files deleted = files indexed); the running
   sensor's /api/v1/stats shows the deletions and the spool's oldest
   packet; the newest answered call still exports from the spool, the
   oldest one says (exit 2, HTTP 410 in the API, packets "aged_out" in its
   /api/v1/calls/{id}) that its packets aged out.
2. Free-space floor: the spool on a small tmpfs mounted in a private mount
   namespace of the sensor, with a floor that leaves it room for a fraction
   of what the replay writes; sampled through /proc/PID/root, free space
   never drops below --spool-min-free-mb, files go oldest first, counted
   as deleted_floor in the stats file and in the API.

Needs root, `ip netns`, unshare, tcpreplay; exits 77 (skipped) otherwise."""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from manifest import Checker, parse_args

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import netns  # noqa: E402  (tests/netns.py)
from netns import api_get  # noqa: E402

MB = 1024 * 1024
# ten minutes of capture time, played ten times faster
GEN = ["--calls", "120", "--cps", "0.2", "--duration-mean", "20", "--seed", "11"]
MULTIPLIER = 10
SIZE_CAP_MB = 3
# The replay writes about 7 MB of compressed spool: the floor leaves room
# for less than half of it.
TMPFS_MB = 8
FLOOR_MB = 5

def sh(*args, check=True, timeout=120):
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


def skip(reason):
    print(f"skipped: {reason}")
    return 77


SEQ = re.compile(r"^spool-\d{8}T\d{6}-\d+-(\d+)\.pcap\.zst$")


def listing(path):
    """{file name: size} of the spool files in path, or None."""
    try:
        return {e.name: e.stat().st_size for e in os.scandir(path)
                if e.is_file() and SEQ.match(e.name)}
    except OSError:
        return None


class Sampler(threading.Thread):
    """Calls fn every period seconds until stopped; keeps the results."""

    def __init__(self, fn, period=0.2):
        super().__init__(daemon=True)
        self.fn, self.period, self.values = fn, period, []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            v = self.fn()
            if v is not None:
                self.values.append(v)
            time.sleep(self.period)

    def stop(self):
        self.halt.set()
        self.join(timeout=10)


def oldest_first(c, what, listings):
    """Every file that vanished between two listings was among the oldest
    (lowest sequence number) of the earlier one; returns how many vanished."""
    gone_n, bad = 0, []
    for before, after in zip(listings, listings[1:]):
        old = sorted(before, key=lambda n: int(SEQ.match(n).group(1)))
        gone = [n for n in old if n not in after]
        if gone and old[:len(gone)] != gone:
            bad.append((gone, old[:len(gone) + 1]))
        gone_n += len(gone)
    c.check(not bad, f"{what}: files deleted out of age order: {bad[:3]}")
    return gone_n


def fresh(*paths):
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
        for ext in ("", "-wal", "-shm"):
            if os.path.isfile(p + ext):
                os.unlink(p + ext)


def wait_file(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait(timeout=30)


def db_rows(db, sql):
    h = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return h.execute(sql).fetchall()
    finally:
        h.close()


def iso(ns):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + \
        f".{ns // 10**6 % 1000:03d}Z"


def check_api_spool(c, what, n, base, db, deleted_key):
    """The running sensor's /api/v1/stats: the spool's files and oldest
    packet as indexed, the deletions counted; returns its spool object."""
    st, body = api_get(n.b, base, ["/api/v1/stats"])["/api/v1/stats"]
    sp = (body or {}).get("spool") if st == 200 and isinstance(body, dict) else None
    c.check(isinstance(sp, dict), f"{what}: /api/v1/stats has a spool object: {st} {body!r:.300}")
    if not isinstance(sp, dict):
        return {}
    (files, oldest), = db_rows(db, "SELECT count(*), min(first_ts) FROM spool_files")
    c.check(sp.get("files") == files and sp.get("oldest_packet") == iso(oldest),
            f"{what}: API spool {sp.get('files')} files, oldest {sp.get('oldest_packet')}; "
            f"index {files}, {iso(oldest) if oldest else None}")
    c.check((sp.get(deleted_key) or 0) > 0 and sp.get("files_deleted", 0) >= sp[deleted_key],
            f"{what}: API counts the deletions: {sp}")
    return sp


def size_cap(c, a, n, pcap, raw_bytes, port):
    work = os.path.join(a.work, "cap")
    os.makedirs(work, exist_ok=True)
    db, spool, stats = (os.path.join(work, x) for x in ("s.db", "spool", "stats.json"))
    fresh(db, spool)
    if os.path.exists(stats):
        os.unlink(stats)
    base = f"http://127.0.0.1:{port}"
    err = open(os.path.join(work, "sensor.err"), "w")
    p = subprocess.Popen(["ip", "netns", "exec", n.b, a.bin, "capture", "-i", n.vb, "--db", db,
                          "--spool", spool, "--spool-max-mb", str(SIZE_CAP_MB),
                          "--spool-rotate", "10", "--spool-min-free-mb", "0",
                          "--retention-days", "3650", "--http", f"127.0.0.1:{port}",
                          "--stats-file", stats], stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    api_sp = {}
    try:
        c.check(wait_file(stats, 30), "sensor came up")
        smp = Sampler(lambda: listing(spool))
        smp.start()
        t0 = time.time()
        r = n.replay(pcap, multiplier=MULTIPLIER, timeout=900)
        took = time.time() - t0
        time.sleep(3)
        smp.stop()
        c.check(r.returncode == 0, f"tcpreplay: {r.stderr[-300:]}")
        api_sp = check_api_spool(c, "size cap", n, base, db, "deleted_size")
    finally:
        rc = stop(p)
    c.check(rc == 0, f"sensor exit {rc}")
    st = json.load(open(stats)).get("spool", {}) if os.path.exists(stats) else {}
    sizes = [sum(v.values()) for v in smp.values]
    peak = max(sizes or [0])
    cap = SIZE_CAP_MB * MB
    c.check(len(smp.values) > 100, f"{len(smp.values)} samples of the spool's size")
    c.check(peak <= cap, f"spool peaked at {peak} bytes, cap {cap}")
    c.check(st.get("deleted_size", 0) > 0, f"files deleted for the size cap: {st}")
    c.check(st.get("bytes_written", 0) > 2 * cap, f"wrote {st.get('bytes_written')} bytes, "
                                                  f"more than twice the cap")
    c.check(st.get("frames_dropped", 1) == 0 and st.get("errors", 1) == 0,
            f"no frame dropped, no error: {st}")
    gone = oldest_first(c, "size cap", smp.values)
    (rows,), = db_rows(db, "SELECT count(*) FROM spool_files")
    c.check(st.get("files_opened", 0) - st.get("files_deleted", 0) == rows,
            f"files opened {st.get('files_opened')} - deleted {st.get('files_deleted')} = "
            f"{rows} indexed")
    c.check(gone <= st.get("files_deleted", 0), f"{gone} files seen to vanish, "
                                                f"{st.get('files_deleted')} counted")
    c.check(api_sp.get("files_deleted", -1) <= st.get("files_deleted", 0),
            "the API's count is the sensor's so far")
    final = listing(spool)
    c.check(final is not None and sum(final.values()) <= cap,
            f"spool holds {final and sum(final.values())} bytes at the end")
    print(f"size cap: {took:.0f} s replay of {raw_bytes} pcap bytes x{MULTIPLIER}; spool wrote "
          f"{st.get('bytes_written')} bytes ({st.get('bytes_raw', 0) / max(1, st.get('bytes_written', 1)):.2f}x), "
          f"peak {peak} <= cap {cap}, {st.get('files_deleted')} files deleted "
          f"({st.get('deleted_size')} for size, oldest first), {len(smp.values)} samples")
    # the oldest calls aged out (exit 2, one line), the newest answered one exports
    oldest = db_rows(db, "SELECT id FROM calls ORDER BY start LIMIT 1")
    newest = db_rows(db, "SELECT id FROM calls WHERE outcome='answered' ORDER BY start DESC "
                         "LIMIT 1")
    c.check(oldest and newest, "calls stored")
    if not (oldest and newest):
        return
    oldest, newest = oldest[0][0], newest[0][0]
    r = sh(a.bin, "export", "--db", db, "--call", str(oldest), "-o",
           os.path.join(work, "old.pcap"), check=False)
    c.check(r.returncode == 2 and "aged out" in r.stderr
            and len(r.stderr.strip().splitlines()) == 1,
            f"oldest call's export: rc={r.returncode} {r.stderr!r}")
    r = sh(a.bin, "export", "--db", db, "--call", str(newest), "-o",
           os.path.join(work, "new.pcap"), check=False)
    c.check(r.returncode == 0 and "from the spool" in r.stdout,
            f"newest answered call's export: {r.stdout}{r.stderr}")
    if shutil.which("tshark") and r.returncode == 0:
        t = sh("tshark", "-n", "-r", os.path.join(work, "new.pcap"), "-o",
               "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields", "-e", "rtp.ssrc",
               check=False)
        c.check(len(t.stdout.splitlines()) > 100,
                f"newest call's export holds {len(t.stdout.splitlines())} RTP packets")
    # the API: 410 for the aged-out call's pcap, and its call says so
    srv = subprocess.Popen([a.bin, "serve", "--db", db, "--http", "127.0.0.1:0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        m = re.search(r"port (\d+)", srv.stdout.readline())
        c.check(m is not None, "serve printed its port")
        if not m:
            return
        url = f"http://127.0.0.1:{m.group(1)}/api/v1/calls/"

        def get(path):
            try:
                with urllib.request.urlopen(url + path, timeout=30) as r:
                    return r.status, (json.loads(r.read().decode())
                                      if "json" in r.headers.get("Content-Type", "") else None)
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read().decode() or "{}")
        code, body = get(f"{oldest}/pcap")
        c.check(code == 410 and body.get("error", {}).get("code") == "packets_gone",
                f"API pcap of an aged-out call: {code} {body}")
        code, body = get(str(oldest))
        c.check(code == 200 and body.get("packets") == "aged_out"
                and body.get("pcap_available") is False,
                f"API call {oldest} (aged out): {code} packets={body.get('packets')} "
                f"pcap_available={body.get('pcap_available')}")
        code, body = get(str(newest))
        c.check(code == 200 and body.get("packets") == "spool"
                and body.get("pcap_available") is True,
                f"API call {newest} (in the spool): {code} packets={body.get('packets')} "
                f"pcap_available={body.get('pcap_available')}")
        code, _ = get(f"{newest}/pcap")
        c.check(code == 200, f"API pcap of the newest call: {code}")
    finally:
        srv.send_signal(signal.SIGINT)
        srv.wait(timeout=30)


def floor(c, a, n, pcap, port):
    work = os.path.join(a.work, "floor")
    os.makedirs(work, exist_ok=True)
    db, mnt, stats = (os.path.join(work, x) for x in ("s.db", "tmpfs", "stats.json"))
    fresh(db)
    os.makedirs(mnt, exist_ok=True)
    if os.path.exists(stats):
        os.unlink(stats)
    base = f"http://127.0.0.1:{port}"
    # unshare execs sh, sh execs ip, ip execs the sensor: p.pid is the sensor,
    # in a mount namespace that has the tmpfs and nobody else sees
    script = (f"mount -t tmpfs -o size={TMPFS_MB}m trunkscope-spool-test '{mnt}' && "
              f"exec ip netns exec {n.b} '{a.bin}' capture -i {n.vb} --db '{db}' "
              f"--spool '{mnt}/spool' --spool-min-free-mb {FLOOR_MB} --spool-rotate 5 "
              f"--retention-days 3650 --http 127.0.0.1:{port} --stats-file '{stats}'")
    err = open(os.path.join(work, "sensor.err"), "w")
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    view = f"/proc/{p.pid}/root{mnt}"

    def sample():
        try:
            v = os.statvfs(view)
        except OSError:
            return None
        if v.f_blocks * v.f_frsize > (TMPFS_MB + 1) * MB:
            return None  # not (yet) the tmpfs
        return v.f_bavail * v.f_frsize, listing(view + "/spool") or {}
    api_sp = {}
    try:
        c.check(wait_file(stats, 30), "sensor came up on the tmpfs")
        smp = Sampler(sample)
        smp.start()
        r = n.replay(pcap, multiplier=MULTIPLIER, timeout=900)
        time.sleep(3)
        smp.stop()
        c.check(r.returncode == 0, f"tcpreplay: {r.stderr[-300:]}")
        api_sp = check_api_spool(c, "floor", n, base, db, "deleted_floor")
    finally:
        rc = stop(p)
    c.check(rc == 0, f"sensor exit {rc}")
    st = json.load(open(stats)).get("spool", {}) if os.path.exists(stats) else {}
    free = [v[0] for v in smp.values]
    low = min(free) if free else None
    c.check(len(smp.values) > 100, f"{len(smp.values)} samples of the tmpfs")
    c.check(low is not None and low >= FLOOR_MB * MB,
            f"free space fell to {low}, floor {FLOOR_MB * MB}")
    c.check(st.get("deleted_floor", 0) > 0, f"the floor deleted files: {st}")
    c.check(st.get("bytes_written", 0) > 2 * (TMPFS_MB - FLOOR_MB) * MB,
            f"wrote {st.get('bytes_written')} bytes, more than twice the room above the floor")
    c.check(st.get("errors", 1) == 0, f"no disk or index error: {st}")
    gone = oldest_first(c, "floor", [v[1] for v in smp.values])
    c.check(0 < gone <= st.get("files_deleted", 0),
            f"{gone} files seen to vanish, {st.get('files_deleted')} counted")
    (rows,), = db_rows(db, "SELECT count(*) FROM spool_files")
    c.check(st.get("files_opened", 0) - st.get("files_deleted", 0) == rows,
            f"files opened {st.get('files_opened')} - deleted {st.get('files_deleted')} = "
            f"{rows} indexed")
    print(f"floor: {TMPFS_MB} MB tmpfs, floor {FLOOR_MB} MB: lowest free {low} "
          f"({(low or 0) - FLOOR_MB * MB} above the floor), {st.get('deleted_floor')} files "
          f"deleted for it (API: {api_sp.get('deleted_floor')} while running, oldest first), "
          f"{st.get('blocks_floor')} blocks held back, {st.get('bytes_written')} bytes written, "
          f"{len(smp.values)} samples")


def main():
    a = parse_args()
    if os.geteuid() != 0:
        return skip("needs root (network and mount namespaces, packet capture)")
    for tool in ("ip", "tcpreplay", "unshare", "mount"):
        if not shutil.which(tool):
            return skip(f"{tool} unavailable")
    if sh("ip", "netns", "list", check=False).returncode != 0:
        return skip("'ip netns' unavailable")
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap = os.path.join(a.work, "g10.pcap")
    if not os.path.exists(pcap):
        sh(a.bin, "gen", "-o", pcap, *GEN, timeout=600)
    raw = os.path.getsize(pcap)
    port = 20000 + os.getpid() % 20000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with netns.VethPair("sp") as n:
        size_cap(c, a, n, pcap, raw, port)
        floor(c, a, n, pcap, port)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
