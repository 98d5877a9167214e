"""The store when the disk or the database fails, and capture identity.
- The same capture given as g.pcap, ./g.pcap and through a symlink is
  stored once.
- `analyze --db` exits 2 with one line on stderr when anything was not
  written: another writer holds the lock; the file is corrupt; the disk is
  full (a 1 MiB tmpfs mounted in a private mount namespace).
- A live `collect --db` on a filling tmpfs logs the loss (with the reason),
  counts it in the stats file, /api/v1/stats and /metrics, and stores the
  calls that come after space returns.
- A database on a read-only mount is served read-only.
The disk parts need root (unshare -m, mount); without it they are skipped
(exit 77) after the parts that need nothing."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

from manifest import Checker, parse_args
from serving import free_port
from test_hep_collect import Collector, call_id, hep3, sip_messages

INNER = "TS_STORE_HOSTILE_INNER"


def gen(binary, work, name, calls, seed):
    pcap = os.path.join(work, name + ".pcap")
    subprocess.run([binary, "gen", "-o", pcap, "--calls", str(calls), "--seed", str(seed)],
                   capture_output=True, check=True, timeout=300)
    truth = json.load(open(os.path.join(work, name + ".truth.json")))
    return pcap, truth


def analyze_db(binary, db, paths, cwd=None, timeout=300):
    p = subprocess.run([binary, "analyze", "--db", db] + paths, capture_output=True, text=True,
                       cwd=cwd, timeout=timeout)
    return p.returncode, p.stderr


def one_line(err):
    return len([x for x in err.splitlines() if x.strip()]) == 1


def count(db, sql):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql).fetchone()[0]
    finally:
        c.close()


def t_three_paths(c, a, pcap, truth):
    db = os.path.join(a.work, "paths.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    link = os.path.join(a.work, "link.pcap")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.path.basename(pcap), link)
    for paths, cwd in (([pcap], None), (["./" + os.path.basename(pcap)], a.work), ([link], None)):
        rc, err = analyze_db(a.bin, db, paths, cwd=cwd)
        c.check(rc == 0, f"paths: analyze {paths} exit {rc}: {err[-300:]!r}")
    n_caps = count(db, "SELECT count(*) FROM captures")
    n_calls = count(db, "SELECT count(*) FROM calls")
    c.check(n_caps == 1, f"paths: {n_caps} captures stored for one file by three paths")
    c.check(n_calls == len(truth["calls"]), f"paths: {n_calls} calls != {len(truth['calls'])}")


def t_lock(c, a, pcap):
    db = os.path.join(a.work, "lock.db")
    for p in (db, db + "-wal", db + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    rc, err = analyze_db(a.bin, db, [pcap])
    c.check(rc == 0, f"lock: first analyze exit {rc}: {err!r}")
    h = sqlite3.connect(db, isolation_level=None)
    h.execute("BEGIN EXCLUSIVE")
    try:
        rc, err = analyze_db(a.bin, db, [pcap])
    finally:
        h.execute("ROLLBACK")
        h.close()
    c.check(rc == 2 and one_line(err) and "not written" in err and "lock" in err,
            f"lock held: exit {rc}, stderr {err!r}")


def t_corrupt(c, a, pcap):
    db = os.path.join(a.work, "corrupt.db")
    with open(db, "wb") as f:
        f.write(b"SQLite format 3\0" + os.urandom(8192))
    rc, err = analyze_db(a.bin, db, [pcap])
    c.check(rc == 2 and one_line(err), f"corrupt: exit {rc}, stderr {err!r}")


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True)


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def fill(path, leave):
    """Write zeros into path until the file system has `leave` bytes free."""
    st = os.statvfs(os.path.dirname(path))
    n = max(0, st.f_bavail * st.f_frsize - leave)
    with open(path, "wb") as f:
        try:
            f.write(b"\0" * n)
        except OSError:
            pass


def send(port, msgs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i, (ts, fam, src, dst, sp, dp, pl) in enumerate(msgs):
        s.sendto(hep3(fam, src, dst, sp, dp, ts, pl, node_id=1, node_name=b"site-a",
                      cid=call_id(pl)), ("127.0.0.1", port))
        if i % 100 == 99:
            time.sleep(0.01)
    s.close()


def stats_of(col):
    try:
        return json.load(open(col.stats))
    except (OSError, ValueError):
        return {}


def wait(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    return pred()


def t_full_analyze(c, a, pcap):
    # 1200k holds the schema (with its WAL while the migrations run, about
    # 900k at schema 18) but not the 200 calls (2.7 MB): the records fail
    mnt = os.path.join(a.work, "full-a")
    mount_tmpfs(mnt, "1200k")
    try:
        rc, err = analyze_db(a.bin, os.path.join(mnt, "x.db"), [pcap])
        c.check(rc == 2 and one_line(err) and "not written" in err and "full" in err,
                f"full tmpfs: analyze exit {rc}, stderr {err!r}")
    finally:
        subprocess.run(["umount", "-l", mnt])
    # too small even for the schema: still one line and exit 2
    mnt = os.path.join(a.work, "full-s")
    mount_tmpfs(mnt, "300k")
    try:
        rc, err = analyze_db(a.bin, os.path.join(mnt, "x.db"), [pcap])
        c.check(rc == 2 and one_line(err) and "full" in err,
                f"tmpfs too small for the schema: analyze exit {rc}, stderr {err!r}")
    finally:
        subprocess.run(["umount", "-l", mnt])


def t_full_collect(c, a, pcap_a, pcap_b, truth_b):
    mnt = os.path.join(a.work, "full-c")
    mount_tmpfs(mnt, "2m")
    db = os.path.join(mnt, "c.db")
    log = os.path.join(a.work, "full-c.log")
    if os.path.exists(log):
        os.unlink(log)
    http = free_port()
    col = Collector(a.bin, a.work, "full-c", ["127.0.0.1:0/udp"],
                    ["--db", db, "--http", f"127.0.0.1:{http}", "--log", log])
    base = f"http://127.0.0.1:{http}"
    try:
        ports = col.ports()
        if not ports:
            c.check(False, f"full collect: collector came up: {col.err()!r}")
            return
        wait(lambda: os.path.exists(db), 10)
        filler = os.path.join(mnt, "filler")
        fill(filler, 64 * 1024)
        send(ports[0], sip_messages(pcap_a))
        st = wait(lambda: (stats_of(col).get("store") or {}).get("errors", 0) > 0 and stats_of(col),
                  40) or {}
        store = st.get("store") or {}
        c.check(store.get("errors", 0) > 0 and "full" in (store.get("last_error") or ""),
                f"full collect: stats file store {store}")
        # what SQLite holds (page caches: the writer's 64 MiB, 2 MB per reader)
        c.check(0 < store.get("sqlite_kb", 0) < 64 * 1024 + 32 * 2048,
                f"full collect: stats file store.sqlite_kb {store.get('sqlite_kb')}")
        api = json.loads(get(base + "/api/v1/stats"))
        c.check(isinstance(api.get("store_errors"), int) and api["store_errors"] > 0 and
                api.get("store_dropped", 0) >= api["store_errors"] and
                "full" in (api.get("store_last_error") or ""),
                f"full collect: /api/v1/stats {dict((k, api.get(k)) for k in api if k.startswith('store'))}")
        metrics = get(base + "/metrics")
        refused = [ln for ln in metrics.splitlines()
                   if ln.startswith('trunkscope_store_records_total{result="refused"}')]
        c.check(refused and int(refused[0].split()[-1]) > 0, f"full collect: /metrics {refused}")
        logged = open(log).read() if os.path.exists(log) else ""
        lines = [ln for ln in logged.splitlines() if "not written" in ln]
        c.check(len(lines) == 1 and "full" in lines[0],
                f"full collect: one log line with the reason within the minute: {lines}")
        # space returns: the next calls are stored
        os.unlink(filler)
        written0 = (stats_of(col).get("store") or {}).get("calls_written", 0)
        send(ports[0], sip_messages(pcap_b))
        time.sleep(3)
        api2 = json.loads(get(base + "/api/v1/stats"))
        c.check(api2.get("store_written", 0) > api.get("store_written", 0),
                f"full collect: writes resumed ({api.get('store_written')} -> "
                f"{api2.get('store_written')})")
    finally:
        rc, doc, st = col.stop()
    c.check(rc == 0, f"full collect: exit {rc}: {col.err()[-300:]!r}")
    store = st.get("store") or {}
    ids_b = {leg["call_id"] for tc in truth_b["calls"] for leg in tc["legs"]}
    try:
        got = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
            "SELECT DISTINCT call_id FROM legs").fetchall()
        got_b = {r[0] for r in got} & ids_b
    except sqlite3.Error as e:
        got_b = set()
        c.check(False, f"full collect: read the database: {e}")
    c.check(got_b == ids_b, f"full collect: {len(got_b)} of {len(ids_b)} legs stored after "
                            f"space returned")
    c.check(store.get("calls_written", 0) > written0 and store.get("not_written", 0) > 0,
            f"full collect: final store figures {store}")
    final = open(log).read() if os.path.exists(log) else ""
    stop = [ln for ln in final.splitlines() if "collector stopped" in ln]
    c.check(stop and f"{store.get('calls_written')} calls and" in stop[0] and
            f"{store.get('not_written')} not written" in stop[0],
            f"full collect: the exit line tells what was stored: {stop}")
    subprocess.run(["umount", "-l", mnt])


def t_readonly(c, a, pcap):
    mnt = os.path.join(a.work, "ro")
    mount_tmpfs(mnt, "8m")
    try:
        db = os.path.join(mnt, "r.db")
        rc, err = analyze_db(a.bin, db, [pcap])
        c.check(rc == 0, f"read-only: analyze exit {rc} {err!r}")
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        port = free_port()
        p = subprocess.Popen([a.bin, "serve", "--db", db, "--http", f"127.0.0.1:{port}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            body = wait(lambda: _try_get(f"http://127.0.0.1:{port}/api/v1/calls?limit=5"), 15)
            c.check(body and len(json.loads(body).get("calls", [])) > 0,
                    f"read-only: serve answers calls: {body and body[:200]!r}")
        finally:
            p.terminate()
            try:
                _, err = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                _, err = p.communicate()
        c.check(body is not None, f"read-only: serve stderr {err[-300:]!r}")
    finally:
        subprocess.run(["umount", "-l", mnt])


def _try_get(url):
    try:
        return get(url)
    except OSError:
        return None


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    pcap, truth = gen(a.bin, a.work, "g", 20, 7)
    if os.environ.get(INNER) != "1":
        t_three_paths(c, a, pcap, truth)
        t_lock(c, a, pcap)
        t_corrupt(c, a, pcap)
        if os.geteuid() != 0 or subprocess.run(["which", "unshare"],
                                               capture_output=True).returncode != 0:
            c.done()
            print("skipped: the disk-full and read-only parts need root and unshare")
            return 77 if c.failed == 0 else 1
        # the rest in a private mount namespace: its tmpfs mounts vanish with it
        env = dict(os.environ, **{INNER: "1"})
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable]
                           + sys.argv, env=env, timeout=900)
        c.done()
        return r.returncode if c.failed == 0 else 1
    big, _ = gen(a.bin, a.work, "big", 200, 8)
    pcap_b, truth_b = gen(a.bin, a.work, "b", 10, 9)
    t_full_analyze(c, a, big)
    t_full_collect(c, a, big, pcap_b, truth_b)
    t_readonly(c, a, pcap)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
