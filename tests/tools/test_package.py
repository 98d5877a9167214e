"""The install and the Debian package: CPack builds a .deb of this build;
it holds the binary, the dashboard's files, the systemd unit (naming the
installed binary) and the example configuration; unpacked into a throw-away
root, the binary reports its version and serves the dashboard from the
package's own web files (a marker planted in the unpacked copy comes back).
usage: test_package.py BUILD_DIR WORK_DIR"""
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

build, work = sys.argv[1], sys.argv[2]
for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
    if not shutil.which(tool):
        print(f"SKIP: {tool} is not installed")
        sys.exit(77)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print("FAIL: " + what, flush=True)


r = subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"),
                    "-B", work], capture_output=True, text=True, timeout=600)
debs = [f for f in os.listdir(work) if f.endswith(".deb")]
if r.returncode != 0 or len(debs) != 1:
    print("FAIL: cpack: rc %d, %s\n%s" % (r.returncode, debs, (r.stdout + r.stderr)[-2000:]))
    sys.exit(1)
deb = os.path.join(work, debs[0])
listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
paths = {line.split()[-1].lstrip(".") for line in listing.splitlines() if line.strip()}
for want in ("/usr/bin/trunkscope", "/usr/lib/systemd/system/trunkscope.service",
             "/usr/share/trunkscope/web-static/index.html",
             "/usr/share/trunkscope/web-static/app.js",
             "/usr/share/doc/trunkscope/examples/trunkscope.conf.example"):
    check(want in paths, f"package holds {want}")
info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"],
                      capture_output=True, text=True).stdout
check("Package: trunkscope" in info, f"control: {info}")
check(re.search(r"Depends:.*libsqlite3", info) is not None, f"dependencies computed: {info}")

root = os.path.join(work, "root")
subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
unit = open(os.path.join(root, "usr/lib/systemd/system/trunkscope.service")).read()
check(re.search(r"^ExecStart=/usr/bin/trunkscope capture ", unit, re.M) is not None,
      "unit starts the installed binary")
check("--http 127.0.0.1:8080" in unit, "unit serves the dashboard")
check("@" not in unit, "unit has no unfilled @VARIABLE@")
ctl = os.path.join(work, "ctl")
subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True)
check(subprocess.run(["sh", "-n", os.path.join(ctl, "postinst")]).returncode == 0,
      "postinst is valid shell")

binary = os.path.join(root, "usr/bin/trunkscope")
v = subprocess.run([binary, "--version"], capture_output=True, text=True)
check(v.returncode == 0 and re.match(r"trunkscope \d+\.\d+\.\d+", v.stdout), f"--version: {v.stdout!r}")

# the unpacked binary serves its own package's web files, not the source tree's
marker = "<!-- unpacked package copy -->"
with open(os.path.join(root, "usr/share/trunkscope/web-static/index.html"), "a") as f:
    f.write(marker + "\n")
db = os.path.join(work, "demo.db")
pcap = os.path.join(work, "demo.pcap")
for cmd in ([binary, "gen", "-o", pcap, "--calls", "3", "--seed", "1"],
            [binary, "analyze", "--db", db, pcap]):
    g = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(g.returncode == 0, f"{cmd[1]}: rc {g.returncode} {g.stderr[-500:]}")
p = subprocess.Popen([binary, "serve", "--db", db, "--http", "127.0.0.1:0"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    line = p.stdout.readline()
    m = re.search(r"port (\d+)", line)
    check(m is not None, f"serve started: {line!r}")
    if m:
        port = int(m.group(1))
        body = ""
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        check(marker in body, "dashboard served from /usr/share/trunkscope/web-static of the package")
        h = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).read().decode()
        check(v.stdout.split()[1] in h, f"health names the version: {h}")
        met = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        check(f'trunkscope_build_info{{version="{v.stdout.split()[1]}"}} 1' in met,
              "/metrics has trunkscope_build_info with the version")
finally:
    p.terminate()
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
print("package test: %s" % ("failed" if failed else "passed"))
sys.exit(1 if failed else 0)
