"""Durability: SIGKILL a process writing to the store at random moments; the
database must open, pass PRAGMA integrity_check and hold every record the
writer had reported committed before the kill (WAL, synchronous=NORMAL).
Two writers: the store test helper writing continuously (several kills on
the same file, each restart recovering it) and, when trunkscope has --db,
`trunkscope analyze --db` on a large generated capture."""
import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from manifest import Checker


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--shared", required=True)
    p.add_argument("--work", required=True)
    return p.parse_args()


def fresh(db):
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.unlink(f)


def inspect(db):
    """integrity_check result and row counts, through Python's own SQLite."""
    con = sqlite3.connect(db)
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    calls = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    msgs = con.execute("SELECT count(*) FROM sip_messages").fetchone()[0]
    legs = con.execute("SELECT count(*) FROM legs").fetchone()[0]
    con.close()
    return ok, calls, msgs, legs


def helper_kills(a, c, rounds=4):
    helper = os.path.join(os.path.dirname(a.bin), "tests", "test_store")
    db = os.path.join(a.work, "crash-helper.db")
    fresh(db)
    rng = random.Random(4)
    prev = 0
    for i in range(rounds):
        p = subprocess.Popen([helper, "--write-forever", db], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # Let it commit something, then kill at a random moment mid-batch.
        committed = 0
        deadline = time.time() + 60
        target = rng.randint(3000, 9000)
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            if line.startswith("written "):
                committed = int(line.split()[1])
                if committed >= target:
                    break
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        c.check(p.returncode == -signal.SIGKILL, f"round {i}: helper ended on its own "
                f"(rc={p.returncode}, stderr={p.stderr.read()[:300]!r})")
        ok, calls, msgs, legs = inspect(db)
        c.check(ok == "ok", f"round {i}: integrity_check: {ok}")
        # Records reported written (6 messages + 1 call each) must be there.
        c.check(calls + msgs >= committed and committed > 0,
                f"round {i}: {calls} calls + {msgs} messages < {committed} reported committed")
        c.check(legs == calls, f"round {i}: {legs} legs for {calls} calls (torn call)")
        c.check(calls + msgs >= prev, f"round {i}: rows went backwards ({prev} -> {calls + msgs})")
        prev = calls + msgs
        print(f"round {i}: killed after {committed} committed; db holds {calls} calls, "
              f"{msgs} messages; integrity {ok}")


def analyze_kill(a, c):
    r = subprocess.run([a.bin, "analyze", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if "--db" not in r.stdout:
        print("trunkscope analyze has no --db yet: analyze kill skipped")
        return
    pcap = os.path.join(a.work, "crash.pcap")
    if not os.path.exists(pcap):
        g = subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "3000", "--seed", "5",
                            "--concurrency", "60", "--duration-mean", "10"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        c.check(g.returncode == 0, f"gen failed: {g.stderr[:300]}")
        if g.returncode != 0:
            return
    db = os.path.join(a.work, "crash-analyze.db")
    fresh(db)
    p = subprocess.Popen([a.bin, "analyze", "--db", db, pcap], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    # Kill once rows are committed (readers see only committed rows).
    deadline = time.time() + 120
    seen = 0
    while time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
        try:
            con = sqlite3.connect(db, timeout=1)
            seen = con.execute("SELECT count(*) FROM sip_messages").fetchone()[0]
            con.close()
        except sqlite3.Error:
            continue
        if seen > 0:
            break
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    ok, calls, msgs, legs = inspect(db)
    c.check(ok == "ok", f"analyze: integrity_check: {ok}")
    c.check(msgs >= seen and msgs > 0, f"analyze: {msgs} messages < {seen} seen before the kill")
    print(f"analyze: {'killed' if killed else 'finished before the kill'} with {seen} messages "
          f"seen; db holds {calls} calls, {msgs} messages; integrity {ok}")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    c = Checker()
    helper_kills(a, c)
    analyze_kill(a, c)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
