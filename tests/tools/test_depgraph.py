#!/usr/bin/env python3
"""scripts/depgraph.py on copies of the tree: as it is it passes; a planted
call circle (a lower file calling the one above it), an include circle and a
folder importing upward each make it fail and name the circle."""
import os
import shutil
import subprocess
import sys

root, work = sys.argv[1], sys.argv[2]
FOLDERS = ["common", "capture", "crypto", "dissect", "engine", "calls", "media", "store",
           "api", "net", "gen", "cli", "scripts"]
fails = []


def fresh(name):
    dst = os.path.join(work, name)
    shutil.rmtree(dst, ignore_errors=True)
    for d in FOLDERS:
        shutil.copytree(os.path.join(root, d), os.path.join(dst, d))
    return dst


def run(tree):
    p = subprocess.run([sys.executable, os.path.join(tree, "scripts", "depgraph.py"), "--root", tree],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def append(tree, rel, text):
    with open(os.path.join(tree, rel), "a", encoding="utf-8") as f:
        f.write(text)


rc, out = run(fresh("clean"))
if rc != 0:
    fails.append("the tree itself fails: " + out[-600:])

PLANTS = [
    # gen/emit.c is below gen/gen.c: calling gen_run from it closes a circle
    ("call", [("gen/emit.c", "\nvoid gen_planted(void) { gen_run(0, 0, 0, 0); }\n")],
     "calls: circle gen/emit.c gen/gen.c"),
    ("include", [("common/hash.h", '\n#include "htab.h"\n'), ("common/htab.h", '\n#include "hash.h"\n')],
     "includes: circle common/hash.h common/htab.h"),
    ("folder", [("common/log.c", '\n#include "../cli/cli.h"\n')], "folders: circle"),
]
for name, edits, want in PLANTS:
    t = fresh(name)
    for rel, text in edits:
        append(t, rel, text)
    rc, out = run(t)
    if rc == 0 or want not in out:
        fails.append("%s circle: rc %d, %r" % (name, rc, out[-400:]))

for f in fails:
    print("FAIL:", f)
print("%d planted circles, %d failed" % (len(PLANTS), len(fails)))
sys.exit(1 if fails else 0)
