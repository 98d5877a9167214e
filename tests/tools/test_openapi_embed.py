#!/usr/bin/env python3
"""The build step for api/openapi.json: the real file passes and yields a C
file holding the compact document; copies with a dangling $ref, an unused
shared response, a duplicate key or a syntax error each fail the step."""
import json
import os
import subprocess
import sys

tool, src, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
fails = []


def run(text, name):
    path = os.path.join(work, name + ".json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    out = os.path.join(work, name + ".c")
    if os.path.exists(out):
        os.unlink(out)
    p = subprocess.run([tool, path, out], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr, out


with open(src, encoding="utf-8") as f:
    good = f.read()
rc, err, out = run(good, "good")
if rc != 0:
    fails.append("the real file fails: " + err)
else:
    with open(out) as f:
        c = f.read()
    body = bytes(int(x, 16) for x in c.split("{", 1)[1].split("}")[0].replace(",", " ").split())
    if json.loads(body.rstrip(b"\0")) != json.loads(good):
        fails.append("embedded bytes differ from the file")

doc = json.loads(good)
mutants = {}
d = json.loads(good)
d["paths"]["/health"]["get"]["responses"]["404"] = {"$ref": "#/components/responses/NoSuchThing"}
mutants["dangling_ref"] = (json.dumps(d), "does not resolve")
d = json.loads(good)
d["components"]["responses"]["Spare"] = {"description": "never used"}
mutants["unused_response"] = (json.dumps(d), "never referred to")
d = json.loads(good)
d["components"]["schemas"]["Spare"] = {"type": "object"}
mutants["unused_schema"] = (json.dumps(d), "never referred to")
mutants["duplicate_key"] = (good.replace('"openapi": "3.1.0",', '"openapi": "3.1.0", "openapi": "3.1.0",', 1),
                            "duplicate")
mutants["syntax"] = (good.replace("{", "{,", 1), "")
for name, (text, want) in mutants.items():
    if text == good:
        fails.append(name + ": mutation did not apply")
        continue
    rc, err, out = run(text, name)
    if rc == 0 or os.path.exists(out) or want not in err:
        fails.append("%s: rc %d, output %s, stderr %r" % (name, rc, os.path.exists(out), err[:200]))

for f in fails:
    print("FAIL:", f)
print("%d mutants, %d failed" % (len(mutants), len(fails)))
sys.exit(1 if fails else 0)
