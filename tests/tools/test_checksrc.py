#!/usr/bin/env python3
"""scripts/checksrc.py on copies of the tree: clean it passes; each planted
violation (banned call, bare strtoul, wire read outside the byte view, a
limit outside limits.h, a public name without the file's prefix, a stale
exception) makes it fail and name the rule; the same words inside comments
and strings do not."""
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
    p = subprocess.run([sys.executable, os.path.join(tree, "scripts", "checksrc.py"), "--root", tree],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def append(tree, rel, text):
    with open(os.path.join(tree, rel), "a", encoding="utf-8") as f:
        f.write(text)


t = fresh("clean")
rc, out = run(t)
if rc != 0:
    fails.append("the tree itself fails: " + out[-500:])

PLANTS = [
    ("atoi", "dissect/sip.c", "\nint sip_planted(const char *s) { return atoi(s); }\n", "banned: atoi"),
    ("sprintf", "api/routes.c", "\nvoid api_planted(char *b) { sprintf(b, \"x\"); }\n", "banned: sprintf"),
    ("strtoul", "cli/serve.c",
     "\nunsigned long cli_planted(const char *s) { return strtoul(s, 0, 10); }\n", "banned: strtoul"),
    ("ntohs", "dissect/rtp.c",
     "\nunsigned rtp_planted(const unsigned short *p) { return ntohs(*p); }\n", "wire: ntohs"),
    ("cast", "capture/decode.c",
     "\nuint32_t decoder_planted(const uint8_t *p) { return *(const uint32_t *)p; }\n", "wire: cast"),
    ("shift", "dissect/sdp.c",
     "\nunsigned sdp_planted(const unsigned char *p) { return p[0] << 8 | p[1]; }\n", "wire: shift"),
    ("limit", "calls/trunk.c", "\n#define TRUNK_MAX_PLANTED 12\n", "limit: TRUNK_MAX_PLANTED"),
    ("prefix", "media/media.c", "\nint planted_public(void)\n{\n    return 0;\n}\n", "prefix: planted_public"),
    ("stale", "scripts/checksrc-allow.txt", "\ndissect/sip.c limit SIP_MAX_PLANTED no such define\n",
     "stale exception"),
]
for name, rel, text, want in PLANTS:
    t = fresh(name)
    append(t, rel, text)
    rc, out = run(t)
    if rc == 0 or want not in out:
        fails.append("%s planted in %s: rc %d, %r" % (name, rel, rc, out[-300:]))

# the words in comments and strings are not calls
t = fresh("quoted")
append(t, "dissect/sip.c", "\n/* atoi(x), sprintf(b) and ntohs(p) in a comment */\n"
       "static const char *const sip_quoted = \"strcpy(a, b) p[0] << 8\";\n")
rc, out = run(t)
if rc != 0:
    fails.append("words in a comment or string flagged: " + out[-300:])

for f in fails:
    print("FAIL:", f)
print("%d planted violations, %d failed" % (len(PLANTS), len(fails)))
sys.exit(1 if fails else 0)
