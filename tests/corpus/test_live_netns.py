"""End-to-end test of the live sensor: two network namespaces joined by a veth
pair; `trunkscope capture` listens on one end, tcpreplay plays a generated
capture into the other. The sensor must report every call of the truth file
with its legs and outcome (in its report and, while still running, through its
HTTP API), lose nothing, apply a SIGHUP reload (a trunk renamed), and leave a
sound database even when killed with SIGKILL. Needs root, `ip netns` and tcpreplay; skipped otherwise.
Only the two private namespaces see any traffic."""
import json
import struct
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from manifest import Checker, analyze, parse_args

# Run 1 replays at the capture's own pace (~80 s, ~430 packets/s): the call
# tracker reads timeouts from packet timing (an SBC's 408 after Timer B), so a
# compressed timeline would change outcomes. Run 2 only needs traffic.
REPLAY_FAST_PPS = 1000
# Seconds into run 1's replay when the config is reloaded: every trunk exists.
RELOAD_AFTER_S = 20
# After the replay, the API must list every call within this many seconds
# (linger after the last BYE, store flush).
API_WAIT_S = 30
# Carrier trunk peers of `gen --seed 7`.
TRUNK_1, TRUNK_2 = "203.0.113.1", "203.0.113.2"
# Calls with a leg that never gets a final response end by this timeout (the
# default, 180 s, would outlast the test); the truth's outcomes are unchanged.
CONF_COMMON = "internal_net = 10.0.0.0/8\nno_final_timeout_s = 40\n"

# Run inside the sensor's namespace: GET each path of argv[2:] from argv[1];
# prints {path: [status, body]} as JSON.
API_CLIENT = r"""
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


def sh(*args, check=True, timeout=60):
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


def skip(reason):
    """A missing tool or privilege: ctest's skip code, never a pass."""
    print(f"skipped: {reason}")
    return 77


def wait_file(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.1)
    return False


def legs_by_callid(doc):
    out = {}
    for call in doc.get("calls", []) if doc else []:
        for leg in call.get("legs", []):
            out[leg["call_id"]] = call
    return out


def api_get(ns, base, paths):
    """{path: (status, body)} fetched from inside namespace ns."""
    r = sh("ip", "netns", "exec", ns, sys.executable, "-c", API_CLIENT, base, *paths,
           check=False, timeout=120)
    try:
        return {k: tuple(v) for k, v in json.loads(r.stdout).items()}
    except ValueError:
        return {p: (0, r.stderr.strip()) for p in paths}


def api_calls(ns, base):
    """Every call the API lists (one page of at most 500), or None."""
    st, body = api_get(ns, base, ["/api/v1/calls?limit=500"])["/api/v1/calls?limit=500"]
    return body.get("calls") if st == 200 and isinstance(body, dict) else None


def check_api(c, ns, base, truth, off_by_id):
    """Wait until the running sensor's API lists every truth call, then
    compare legs (Call-IDs) and outcomes; drops must be zero."""
    want_n = len(truth["calls"])
    end = time.time() + API_WAIT_S
    rows = None
    while time.time() < end:
        rows = api_calls(ns, base)
        if rows is not None and len(rows) >= want_n:
            break
        time.sleep(1)
    c.check(rows is not None, "API lists calls")
    rows = rows or []
    c.check(len(rows) == want_n, f"API lists {len(rows)} calls, truth has {want_n}")
    paths = [f"/api/v1/calls/{r['id']}" for r in rows if isinstance(r.get("id"), int)]
    got = api_get(ns, base, paths + ["/api/v1/stats"])
    by_leg = {}  # Call-ID -> (API call id, call outcome, number of legs)
    for r in rows:
        st, body = got.get(f"/api/v1/calls/{r.get('id')}", (0, None))
        c.check(st == 200 and isinstance(body, dict), f"GET /api/v1/calls/{r.get('id')}: {st}")
        if st != 200 or not isinstance(body, dict):
            continue
        legs = body.get("legs", [])
        for leg in legs:
            by_leg[leg.get("call_id")] = (r["id"], body["call"].get("outcome"), len(legs))
    for tc in truth["calls"]:
        ids = [leg["call_id"] for leg in tc["legs"]]
        found = [by_leg.get(i) for i in ids]
        c.check(all(found) and len({f[0] for f in found}) == 1,
                f"API: truth call {tc['id']}: legs {ids} not one call ({found})")
        if not found[0]:
            continue
        c.check(found[0][2] == len(ids),
                f"API: truth call {tc['id']}: {found[0][2]} legs != {len(ids)}")
        off = off_by_id.get(ids[0])
        want = {tc["outcome"]} | ({off["outcome"]} if off else set())
        c.check(found[0][1] in want,
                f"API: truth call {tc['id']}: outcome {found[0][1]} not in {want}")
    st, stats = got.get("/api/v1/stats", (0, None))
    stats = stats if st == 200 and isinstance(stats, dict) else {}
    c.check(stats.get("source") == "live", f"API stats from the live sensor: {stats!r:.200}")
    c.check(stats.get("drops_kernel") == 0, f"API: kernel drops {stats.get('drops_kernel')}")
    c.check(stats.get("drops_queue") == 0, f"API: queue drops {stats.get('drops_queue')}")


def trunk_names(doc, db_path):
    """{peer address: name} from the JSON report and from the database."""
    rep = {t.get("peer"): t.get("name") for t in (doc or {}).get("trunks", [])}
    try:
        db = sqlite3.connect(db_path)
        rows = db.execute("SELECT peer_addr, name FROM trunks").fetchall()
        db.close()
    except sqlite3.Error:
        rows = []
    return rep, dict(rows)


class Netns:
    """Namespaces tsa<pid>/tsb<pid> with veth tva<pid> <-> tvb<pid>."""

    def __init__(self):
        tag = str(os.getpid() % 1000000)
        self.a, self.b = "tsa" + tag, "tsb" + tag
        self.va, self.vb = "tva" + tag, "tvb" + tag
        self.made = []

    def __enter__(self):
        try:
            return self._make()
        except BaseException:
            self.__exit__()
            raise

    def _make(self):
        for ns in (self.a, self.b):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
        sh("ip", "link", "add", self.va, "type", "veth", "peer", "name", self.vb)
        sh("ip", "link", "set", self.va, "netns", self.a)
        sh("ip", "link", "set", self.vb, "netns", self.b)
        for ns, dev in ((self.a, self.va), (self.b, self.vb)):
            # no IPv6 on the veth: no router solicitations in the counts
            sh("ip", "netns", "exec", ns, "sysctl", "-qw",
               f"net.ipv6.conf.{dev}.disable_ipv6=1", check=False)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")  # the API listens there
        return self

    def __exit__(self, *exc):
        for ns in self.made:  # deleting a namespace deletes its veth end
            sh("ip", "netns", "del", ns, check=False)


def start_sensor(a, ns, dev, work, name, extra=()):
    stats = os.path.join(work, name + ".stats.json")
    for p in (stats,):
        if os.path.exists(p):
            os.unlink(p)
    out = open(os.path.join(work, name + ".out.json"), "w")
    err = open(os.path.join(work, name + ".err"), "w")
    cmd = ["ip", "netns", "exec", ns, a.bin, "capture", "-i", dev, "--stats-file", stats,
           *extra]
    p = subprocess.Popen(cmd, stdout=out, stderr=err)
    out.close()
    err.close()
    return p, stats


def replay(ns, dev, pcap, pps, background=False):
    """pps None: the original timing."""
    rate = [f"--pps={pps}"] if pps else ["--multiplier=1"]
    cmd = ["ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", dev, *rate, pcap]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def main():
    a = parse_args()
    if os.geteuid() != 0:
        return skip("needs root (network namespaces, packet capture)")
    if not shutil.which("ip") or sh("ip", "netns", "list", check=False).returncode != 0:
        return skip("'ip netns' unavailable (install iproute2)")
    if not shutil.which("tcpreplay"):
        return skip("tcpreplay unavailable (install tcpreplay)")
    if sh(a.bin, "capture", "--help", check=False).returncode != 0:
        print("FAIL: this build has no capture command")
        return 1
    os.makedirs(a.work, exist_ok=True)
    c = Checker()

    pcap = os.path.join(a.work, "g.pcap")
    g = sh(a.bin, "gen", "-o", pcap, "--calls", "20", "--seed", "7", timeout=300)
    truth = json.load(open(os.path.join(a.work, "g.truth.json")))
    npkts = sum(1 for _ in iter_pcap(pcap))
    # Calls whose outcome the offline analysis already reads differently from
    # the truth are a call-tracker matter: the sensor must then equal offline.
    _, offline, _ = analyze(a.bin, [pcap])
    off_by_id = legs_by_callid(offline)

    conf = os.path.join(a.work, "sensor.conf")
    with open(conf, "w") as f:
        f.write(f"# test\n{CONF_COMMON}trunk = {TRUNK_1} Carrier-A\n")
    port = 20000 + os.getpid() % 20000
    base = f"http://127.0.0.1:{port}"

    # cleanup (below) also on SIGTERM, e.g. from a ctest timeout
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    procs = []
    with Netns() as n:
        try:
            # bad interface or retention value: one line, exit 2
            for bad in (["-i", "nosuchdev0"],
                        ["-i", n.vb, "--db", os.path.join(a.work, "x.db"),
                         "--retention-days", "-1"],
                        ["-i", n.vb, "--retention-mb", "10"]):
                p = sh("ip", "netns", "exec", n.b, a.bin, "capture", *bad, check=False)
                c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1,
                        f"{bad}: rc={p.returncode} err={p.stderr!r}")

            # run 1: full replay; SIGHUP renames a trunk; the API is read while
            # running; SIGTERM at the end
            db1 = os.path.join(a.work, "live1.db")
            for ext in ("", "-wal", "-shm"):
                if os.path.exists(db1 + ext):
                    os.unlink(db1 + ext)
            sensor, stats = start_sensor(a, n.b, n.vb, a.work, "run1",
                                         ["--db", db1, "--json", "--config", conf,
                                          "--http", f"127.0.0.1:{port}",
                                          "--retention-days", "3650", "--retention-mb", "1024"])
            procs.append(sensor)
            c.check(wait_file(stats, 20), "sensor came up (stats file written)")
            rp = replay(n.a, n.va, pcap, None, background=True)
            procs.append(rp)
            time.sleep(RELOAD_AFTER_S)
            with open(conf, "w") as f:
                f.write(f"{CONF_COMMON}trunk = {TRUNK_1} Carrier-X\n"
                        f"trunk = {TRUNK_2} Carrier-B\n")
            sensor.send_signal(signal.SIGHUP)
            rp.wait(timeout=600)
            c.check(rp.returncode == 0, f"tcpreplay rc={rp.returncode}")
            c.check(sensor.poll() is None, "sensor still running after the replay")
            check_api(c, n.b, base, truth, off_by_id)
            sensor.send_signal(signal.SIGTERM)
            rc = sensor.wait(timeout=120)
            c.check(rc == 0, f"sensor exit code {rc} after SIGTERM")
            err = open(os.path.join(a.work, "run1.err")).read()
            c.check("config reloaded" in err, "SIGHUP reloaded the config")
            c.check("capture stopped" in err, "stop line logged")
            try:
                doc = json.load(open(os.path.join(a.work, "run1.out.json")))
            except (OSError, json.JSONDecodeError):
                doc = None
            c.check(doc is not None, "sensor printed its JSON report")
            st = json.load(open(stats)) if os.path.exists(stats) else {}
            c.check(st.get("final") is True, "final stats written")
            c.check(st.get("kernel_drops", -1) == 0, f"kernel drops {st.get('kernel_drops')}")
            c.check(st.get("queue_drops", -1) == 0, f"queue drops {st.get('queue_drops')}")
            c.check(st.get("received", 0) >= npkts,
                    f"received {st.get('received')} < {npkts} replayed")
            c.check(st.get("analysed") == st.get("received"), "every frame analysed")
            live_by_id = legs_by_callid(doc)
            for tc in truth["calls"]:
                ids = [leg["call_id"] for leg in tc["legs"]]
                got = {id(live_by_id.get(i)) for i in ids}
                call = live_by_id.get(ids[0])
                c.check(call is not None and len(got) == 1,
                        f"truth call {tc['id']}: legs {ids} not one call")
                if call is None:
                    continue
                c.check(len(call["legs"]) == len(ids),
                        f"truth call {tc['id']}: {len(call['legs'])} legs != {len(ids)}")
                off = off_by_id.get(ids[0])
                want = {tc["outcome"]} | ({off["outcome"]} if off else set())
                c.check(call["outcome"] in want,
                        f"truth call {tc['id']}: outcome {call['outcome']} not in {want}")
            c.check(doc is not None and len(doc.get("calls", [])) == len(truth["calls"]),
                    "no extra calls")
            # the trunk existed before the reload: renamed; the other named
            rep, dbn = trunk_names(doc, db1)
            for names, where in ((rep, "report"), (dbn, "database")):
                c.check(names.get(TRUNK_1) == "Carrier-X" and names.get(TRUNK_2) == "Carrier-B"
                        and "Carrier-A" not in names.values(),
                        f"trunk names after SIGHUP in the {where}: {names}")
            try:
                db = sqlite3.connect(db1)
                ncalls = db.execute("SELECT count(*) FROM calls").fetchone()[0]
                ok = db.execute("PRAGMA integrity_check").fetchone()[0]
                db.close()
            except sqlite3.Error as e:
                ncalls, ok = -1, str(e)
            c.check(ncalls == len(truth["calls"]), f"database holds {ncalls} calls")
            c.check(ok == "ok", f"database integrity: {ok}")

            # run 2: SIGKILL mid-traffic leaves a database that opens and checks
            db2 = os.path.join(a.work, "live2.db")
            for ext in ("", "-wal", "-shm"):
                if os.path.exists(db2 + ext):
                    os.unlink(db2 + ext)
            sensor, stats = start_sensor(a, n.b, n.vb, a.work, "run2", ["--db", db2])
            procs.append(sensor)
            c.check(wait_file(stats, 20), "second sensor came up")
            rp = replay(n.a, n.va, pcap, REPLAY_FAST_PPS, background=True)
            procs.append(rp)
            time.sleep(8)
            sensor.kill()
            sensor.wait(timeout=30)
            rp.kill()
            rp.wait(timeout=30)
            try:
                db = sqlite3.connect(db2)
                ok = db.execute("PRAGMA integrity_check").fetchone()[0]
                db.execute("SELECT count(*) FROM calls").fetchone()
                db.close()
            except sqlite3.Error as e:
                ok = str(e)
            c.check(ok == "ok", f"database after SIGKILL: {ok}")
        finally:
            # before the namespaces go
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=30)
    return c.done()


def iter_pcap(path):
    """Record headers of a classic pcap file (the generator writes those)."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = hdr[:4]
        order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            _, _, incl, _ = struct.unpack(order + "IIII", rh)
            f.seek(incl, 1)
            yield incl


if __name__ == "__main__":
    sys.exit(main())
