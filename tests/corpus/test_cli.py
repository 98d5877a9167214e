"""Command-line behaviour of `trunkscope analyze` (and `gen`'s errors): several inputs merged,
standard input, and clear one-line errors with exit code 2 for bad inputs and
options, after the good inputs were analysed."""
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from manifest import Checker, analyze, get, load_manifest, parse_args


def run(binary, args, stdin=None):
    p = subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=300)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def main():
    a = parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = load_manifest(a.shared)
    c = Checker()
    p1 = os.path.join(a.shared, "pcaps", "sipnab_sip-rtp-g711.pcap")
    p2 = os.path.join(a.shared, "pcaps", "heplify_sip_ipv6_udp.pcap")
    r1, r2 = rows["sipnab_sip-rtp-g711.pcap"], rows["heplify_sip_ipv6_udp.pcap"]

    # two files in one run: counts add up (distinct Call-IDs too: none shared)
    rc, doc, err = analyze(a.bin, [p1, p2])
    c.check(rc == 0 and doc is not None, f"two files: rc={rc} err={err}")
    if doc:
        c.check(get(doc, "packets") == r1["packets"] + r2["packets"], "two files: packets add up")
        c.check(get(doc, "sip.messages") == r1["sip"] + r2["sip"], "two files: sip.messages add up")
        c.check(get(doc, "sip.call_ids") == r1["call_ids"] + r2["call_ids"], "two files: call_ids add up")

    # a missing file and a non-capture among good ones: exit 2, one line each,
    # the good file still analysed and reported
    notcap = os.path.join(a.work, "notes.txt")
    with open(notcap, "w") as f:
        f.write("this is not a capture\n")
    missing = os.path.join(a.work, "missing.pcap")
    rc, doc, err = analyze(a.bin, [missing, p1, notcap])
    lines = [l for l in err.splitlines() if l.strip()]
    c.check(rc == 2, f"bad inputs: exit code {rc} != 2")
    c.check(len(lines) == 2, f"bad inputs: want 2 error lines, got {lines}")
    c.check(any("missing.pcap" in l for l in lines), "missing file named in its error")
    c.check(any("notes.txt" in l for l in lines), "non-capture named in its error")
    c.check(doc is not None and get(doc, "packets") == r1["packets"],
            "good file analysed despite bad ones")
    c.check(doc is not None and len(doc.get("input_errors", [])) == 2, "input_errors lists both")

    # standard input
    with open(p2, "rb") as f:
        data = f.read()
    rc, out, err = run(a.bin, ["analyze", "--json", "-"], stdin=data)
    c.check(rc == 0 and b'"messages": %d' % r2["sip"] in out, f"stdin: rc={rc} err={err}")

    # bad usage
    for args, what in ((["analyze"], "no file"), (["analyze", "--bogus", p1], "unknown option"),
                       (["analyze", "--config"], "option without value"),
                       (["frobnicate"], "unknown command")):
        rc, out, err = run(a.bin, args)
        c.check(rc == 2 and err.strip() != "", f"{what}: rc={rc} err={err!r}")
        c.check(len([l for l in err.splitlines() if l.strip()]) <= 3, f"{what}: short error")

    # option tables: names spelt out, values after '=' too, one line each
    rc, out, err = run(a.bin, ["analyze", "--jso", p1])
    c.check(rc == 2 and err.strip() == "trunkscope analyze: unknown option '--jso'",
            f"abbreviated option refused: rc={rc} err={err!r}")
    rc, out, err = run(a.bin, ["analyze", "--json=yes", p1])
    c.check(rc == 2 and "unknown option '--json=yes'" in err, f"flag with a value: rc={rc} err={err!r}")
    rc, out, err = run(a.bin, ["export", "--db=x.db", "--call=abc", "-o", "y.pcap"])
    c.check(rc == 2 and "--call needs a positive call id, not 'abc'" in err,
            f"--opt=value form: rc={rc} err={err!r}")
    rc, out, err = run(a.bin, ["serve", "--threads", "0", "--db", "x.db"])
    c.check(rc == 2 and err.strip() == "trunkscope serve: bad value for --threads",
            f"number out of range: rc={rc} err={err!r}")
    rc, out, err = run(a.bin, ["analyze", "--json", "--calls-csv"])
    c.check(rc == 2 and err.strip() == "trunkscope analyze: --calls-csv needs a value",
            f"missing value: rc={rc} err={err!r}")

    # --version, on its own and after any command
    for args in (["--version"], ["analyze", "--version"], ["capture", "--version"]):
        rc, out, err = run(a.bin, args)
        c.check(rc == 0 and re.fullmatch(rb"trunkscope \d+\.\d+\.\d+\n", out) is not None,
                f"{args}: rc={rc} out={out!r}")

    # read-only commands never create a database
    missing_db = os.path.join(a.work, "mistyped.db")
    if os.path.exists(missing_db):
        os.unlink(missing_db)
    rc, out, err = run(a.bin, ["export", "--db", missing_db, "--call", "1", "-o",
                               os.path.join(a.work, "x.pcap")])
    c.check(rc == 2 and "no such database" in err and not os.path.exists(missing_db),
            f"export with a mistyped --db: rc={rc} err={err!r} created={os.path.exists(missing_db)}")

    # outputs and the listen address are checked before the analysis starts
    rc, out, err = run(a.bin, ["analyze", "--calls-csv", "/nonexistent-dir/c.csv", p1])
    c.check(rc == 2 and out == b"" and "cannot write /nonexistent-dir/c.csv" in err,
            f"unwritable --calls-csv refused before analysis: rc={rc} out={len(out)} bytes err={err!r}")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    rc, out, err = run(a.bin, ["analyze", "--db", os.path.join(a.work, "serve.db"),
                               "--serve", f"127.0.0.1:{busy}", p1])
    blocker.close()
    c.check(rc == 2 and out == b"" and "cannot listen on 127.0.0.1:%d" % busy in err,
            f"busy --serve port refused before analysis: rc={rc} out={len(out)} bytes err={err!r}")

    # -o - writes the capture to standard output
    rc, out, err = run(a.bin, ["gen", "-o", "-", "--calls", "2", "--seed", "3"])
    c.check(rc == 0 and out[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4") and len(out) > 1000,
            f"gen -o -: rc={rc} {len(out)} bytes, err={err!r}")
    if rc == 0:
        rc2, out2, err2 = run(a.bin, ["analyze", "--json", "-"], stdin=out)
        c.check(rc2 == 0 and b'"answered"' in out2, f"gen -o - | analyze -: rc={rc2} {err2!r}")

    # --top N caps the call and stream tables (the worst streams first),
    # --summary drops them
    gen_pcap = os.path.join(a.work, "top.pcap")
    run(a.bin, ["gen", "-o", gen_pcap, "--calls", "12", "--seed", "5"])
    rc, out, err = run(a.bin, ["analyze", "--top", "2", gen_pcap])
    text = out.decode()
    call_rows = re.findall(r"^\d+ +\d{4}-\d\d-\d\dT", text, re.M)
    c.check(rc == 0 and len(call_rows) == 2 and "... 10 more calls" in text,
            f"--top 2: {len(call_rows)} call rows")
    mos = [float(x) for x in re.findall(r"0x[0-9A-F]{8} \S+ +\d+ +\d+ \([\d.]+%\) +[\d.]+ +[\d.]+ +[\d.]+ +([\d.]+)", text)]
    rc2, full, _ = run(a.bin, ["analyze", "--top", "1000", gen_pcap])
    all_mos = sorted(float(x) for x in re.findall(r"0x[0-9A-F]{8} \S+ +\d+ +\d+ \([\d.]+%\) +[\d.]+ +[\d.]+ +[\d.]+ +([\d.]+)", full.decode()))
    c.check(len(mos) == 2 and len(all_mos) > 2 and mos == all_mos[:2],
            f"--top 2 shows the two worst streams: {mos} of {all_mos[:4]}")
    rc, out, err = run(a.bin, ["analyze", "--summary", gen_pcap])
    text = out.decode()
    c.check(rc == 0 and "Calls: 12 finished" in text and "pdd_ms" not in text and "Source" not in text
            and "Trunks:" in text, "--summary: counts and trunks, no call or stream rows")
    rc, out, err = run(a.bin, ["analyze", "--top", "0", gen_pcap])
    c.check(rc == 2 and "--top needs a number of rows from 1, not '0'" in err, f"--top 0: {err!r}")
    # --timing: one line on stderr naming each phase, whose times add up to
    # the total; with --db the text report is printed while the writer ends
    # its last transaction, and the store's line waits for it (every record
    # queued is written, the 12 calls are in the file)
    phase = re.compile(r"(?:(?P<name>[a-z ]+?) (?P<s>\d+\.\d{3}) s, )")
    def timing(err):
        lines = [l for l in err.splitlines() if l.startswith("trunkscope analyze: timing: ")]
        if len(lines) != 1:
            return None, None
        body = lines[0][len("trunkscope analyze: timing: "):]
        m = re.fullmatch(r"((?:[a-z ]+? \d+\.\d{3} s, )+)total (\d+\.\d{3}) s", body)
        if not m:
            return None, None
        return [(x.group("name"), float(x.group("s"))) for x in phase.finditer(m.group(1))], \
            float(m.group(2))
    tdb = os.path.join(a.work, "timing.db")
    for f in (tdb, tdb + "-wal", tdb + "-shm"):
        if os.path.exists(f):
            os.unlink(f)
    rc, out, err = run(a.bin, ["analyze", "--timing", "--db", tdb, gen_pcap])
    ph, total = timing(err)
    names = [n for n, _ in ph] if ph else []
    c.check(rc == 0 and names == ["read and analysis", "end of input", "report", "free",
                                  "store", "store close", "checklist", "alerts"],
            f"--timing --db: rc={rc} phases {names} err={err!r}")
    c.check(ph is not None and abs(sum(s for _, s in ph) - total) <= 0.001 * len(ph) + 0.001,
            f"--timing: the phases add up to the total: {ph} {total}")
    m = re.search(r"^store: (\d+) queued, (\d+) written, 0 dropped", out.decode(), re.M)
    c.check(m is not None and int(m.group(1)) > 0 and m.group(1) == m.group(2),
            f"--db text report: every queued record written before the store line: "
            f"{m.group(0) if m else out[-400:]!r}")
    try:
        import sqlite3
        con = sqlite3.connect(tdb)
        n = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        ended = con.execute("SELECT count(*) FROM captures WHERE finished IS NOT NULL AND last_ts IS NOT NULL").fetchone()[0]
        con.close()
    except Exception as ex:  # noqa: BLE001 - reported as the check's failure
        n, ended = repr(ex), None
    c.check(n == 12 and ended == 1, f"--timing --db: 12 calls and the capture ended in the file: {n}, {ended}")
    rc, out, err = run(a.bin, ["analyze", "--timing", "--json", gen_pcap])
    ph, _ = timing(err)
    c.check(rc == 0 and ph is not None and [n for n, _ in ph] ==
            ["read and analysis", "end of input", "report", "free"],
            f"--timing --json: {ph} err={err!r}")
    rc, out, err = run(a.bin, ["analyze", "--json", gen_pcap])
    c.check(rc == 0 and "timing" not in err, f"no timing line without --timing: {err!r}")

    # gen: bad values and outputs that cannot be written are usage errors like
    # everywhere else: exit 2 and one line naming the cause
    outdir = os.path.join(a.work, "no-such-dir", "g.pcap")
    for args, want in ((["gen", "-o", os.path.join(a.work, "g.pcap"), "--calls", "x"],
                        "trunkscope gen: bad value 'x' for --calls"),
                       (["gen", "--calls", "2"], "trunkscope gen: -o FILE is required"),
                       # the option table of every command (common/opts.c)
                       (["gen", "-o", os.path.join(a.work, "g.pcap"), "--calls"],
                        "trunkscope gen: --calls needs a value"),
                       (["gen", "-o", os.path.join(a.work, "g.pcap"), "--cal", "2"],
                        "trunkscope gen: unknown option '--cal'"),
                       (["gen", "-o", os.path.join(a.work, "g.pcap"), "--ipv6=yes"],
                        "trunkscope gen: unknown option '--ipv6=yes'"),
                       (["gen", "-o", os.path.join(a.work, "g.pcap"), "extra"],
                        "trunkscope gen: unexpected argument 'extra'"),
                       (["gen", "-o", outdir, "--calls", "2"],
                        f"trunkscope gen: cannot open {outdir}: No such file or directory"),
                       (["gen", "-o", "/dev/full", "--truth", os.path.join(a.work, "t.json"),
                         "--calls", "2"],
                        "trunkscope gen: cannot write /dev/full: No space left on device")):
        rc, out, err = run(a.bin, args)
        c.check(rc == 2 and err.strip() == want, f"gen {args[1:]}: rc={rc} err={err!r}")

    # text report shows the headline numbers
    rc, out, err = run(a.bin, ["analyze", p1])
    text = out.decode()
    c.check(rc == 0 and "sip messages          %d" % r1["sip"] in text, "text report: sip messages")
    c.check("distinct call-ids     %d" % r1["call_ids"] in text, "text report: call-ids")
    huge_pages(a.bin, c, p1)
    return c.done()


def running_env(binary, env):
    """analyze - started with env and held at its input once it runs (its
    read-ahead thread started): (the process behind the pid started is this
    binary, after any exec; its GLIBC_TUNABLES or None; exit code once the
    input ends)."""
    p = subprocess.Popen([binary, "analyze", "--quiet", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    tun, same = None, False
    try:
        p.stdin.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        p.stdin.flush()
        end = time.time() + 20
        while time.time() < end and len(os.listdir(f"/proc/{p.pid}/task")) < 2:
            time.sleep(0.02)
        with open(f"/proc/{p.pid}/environ", "rb") as f:
            items = f.read().split(b"\0")
        # glibc cuts the value at each ':' in place as it parses it
        for i, kv in enumerate(items):
            if kv.startswith(b"GLIBC_TUNABLES="):
                parts = [kv.split(b"=", 1)[1]]
                parts += itertools.takewhile(lambda x: x.startswith(b"glibc."), items[i + 1:])
                tun = b":".join(parts).decode()
        same = os.path.realpath(f"/proc/{p.pid}/exe") == os.path.realpath(binary)
    finally:
        p.stdin.close()
    return same, tun, p.wait(timeout=60)


def huge_pages(binary, c, pcap):
    """The packet paths run with glibc's heap on huge pages when the kernel
    gives them only on request: the tunable is added once, by exec (the
    same pid), and a user's own setting of it is left alone."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            policy = f.read()
    except OSError:
        policy = ""
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    same, tun, rc = running_env(binary, env)
    want = "glibc.malloc.hugetlb=1" if "[madvise]" in policy else None
    c.check(same and rc == 0 and tun == want,
            f"huge pages ({policy.strip()!r}): GLIBC_TUNABLES={tun!r}, want {want!r}, rc={rc}")
    same, tun, rc = running_env(binary, {**env, "GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"})
    c.check(same and rc == 0 and tun == "glibc.malloc.hugetlb=0",
            f"huge pages turned off by the user stay off: {tun!r}, rc={rc}")
    same, tun, rc = running_env(binary, {**env, "GLIBC_TUNABLES": "glibc.malloc.perturb=0"})
    want = "glibc.malloc.perturb=0" + (":glibc.malloc.hugetlb=1" if "[madvise]" in policy else "")
    c.check(same and rc == 0 and tun == want, f"another tunable kept: {tun!r}, want {want!r}")
    # a binary with file capabilities, run by a user, starts in secure mode,
    # where glibc erases the tunable: no exec then (it would repeat for ever)
    setcap, setpriv = shutil.which("setcap"), shutil.which("setpriv")
    if os.geteuid() != 0 or not setcap or not setpriv:
        print("huge pages with file capabilities: skipped (needs root, setcap and setpriv)")
        return
    d = tempfile.mkdtemp()
    try:
        os.chmod(d, 0o755)
        capbin, cap = os.path.join(d, "trunkscope"), os.path.join(d, "in.pcap")
        shutil.copy(binary, capbin)
        shutil.copy(pcap, cap)
        os.chmod(cap, 0o644)
        ok = subprocess.run([setcap, "cap_net_raw+ep", capbin], capture_output=True).returncode == 0
        if not ok:
            print("huge pages with file capabilities: skipped (setcap refused)")
            return
        try:
            p = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                capbin, "analyze", "--quiet", "--json", cap],
                               capture_output=True, timeout=120, env=env)
            rc, out = p.returncode, p.stdout
        except subprocess.TimeoutExpired:
            rc, out = "timeout", b""
        c.check(rc == 0 and b'"calls"' in out,
                f"file capabilities, run by a user: one start, rc={rc}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
