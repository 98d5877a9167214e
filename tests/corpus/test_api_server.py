#!/usr/bin/env python3
"""API tests: generate a capture, analyse it into a database, run
`trunkscope serve` on a free loopback port and check every endpoint, filter,
paging, error body, limit, token rule and hostile input; every JSON response
is validated against api/openapi.json, the file the server embeds at build
time (and serves unchanged at /api/v1/openapi.json)."""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAILS = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


# ---- a small JSON-schema subset: $ref, type, properties, required,
# additionalProperties: false, items, enum ----

class Validator:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, s):
        while isinstance(s, dict) and "$ref" in s:
            parts = s["$ref"].lstrip("#/").split("/")
            s = self.doc
            for p in parts:
                s = s[p]
        return s

    @staticmethod
    def type_ok(v, t):
        return {
            "null": v is None,
            "boolean": isinstance(v, bool),
            "integer": isinstance(v, int) and not isinstance(v, bool),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool),
            "string": isinstance(v, str),
            "array": isinstance(v, list),
            "object": isinstance(v, dict),
        }[t]

    def errors(self, v, s, path="$"):
        s = self.resolve(s)
        out = []
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(self.type_ok(v, t) for t in types):
                return ["%s: %r is not %s" % (path, v, "/".join(types))]
        if "enum" in s and v not in s["enum"]:
            out.append("%s: %r not in %r" % (path, v, s["enum"]))
        if isinstance(v, dict):
            props = s.get("properties", {})
            for r in s.get("required", []):
                if r not in v:
                    out.append("%s: missing %s" % (path, r))
            for k, x in v.items():
                if k in props:
                    out += self.errors(x, props[k], path + "." + k)
                elif s.get("additionalProperties") is False:
                    out.append("%s: unexpected %s" % (path, k))
        if isinstance(v, list) and "items" in s:
            for i, x in enumerate(v):
                out += self.errors(x, s["items"], "%s[%d]" % (path, i))
        return out


class Client:
    def __init__(self, port, token=None, tls_ctx=None):
        self.port, self.token, self.tls_ctx = port, token, tls_ctx
        self.validator = None
        self.templates = []
        self.validated = set()

    def set_openapi(self, doc):
        self.validator = Validator(doc)
        for p in doc["paths"]:
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(p).replace(r"\{", "{").replace(r"\}", "}")) + "$"
            self.templates.append((re.compile(rx), p))

    def req(self, method, path, body=None, headers=None, token=None):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if self.tls_ctx:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.tls_ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        if body is not None:
            c.send(body)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        self.validate(path, r.status, hdrs, data)
        return r.status, hdrs, data

    def validate(self, path, status, hdrs, data):
        """Every JSON answer of an /api/v1 path must match openapi.json."""
        if not self.validator or not path.startswith("/api/v1/"):
            return
        rel = urllib.parse.urlsplit(path).path[len("/api/v1"):]
        tmpl = next((p for rx, p in self.templates if rx.match(rel)), None)
        ctype = hdrs.get("content-type", "").split(";")[0]
        resp = None
        if tmpl is not None:
            resp = self.validator.doc["paths"][tmpl]["get"]["responses"].get(str(status))
            if resp is not None:  # shared responses are in components/responses
                resp = self.validator.resolve(resp)
            if not check(resp is not None, "%s: status %d not documented" % (path, status)):
                return
            if data or status != 200:
                check(ctype in resp.get("content", {}), "%s: content type %s not documented" % (path, ctype))
            self.validated.add((tmpl, status))
        if ctype != "application/json" or not data:
            return
        doc = json.loads(data)
        if resp is None:  # unknown paths answer with the Error schema
            schema = {"$ref": "#/components/schemas/Error"}
        else:
            schema = resp["content"]["application/json"]["schema"]
        errs = self.validator.errors(doc, schema)
        check(not errs, "%s (%d) does not match openapi: %s" % (path, status, errs[:5]))

    def json(self, path, want=200, **kw):
        st, h, d = self.req("GET", path, **kw)
        check(st == want, "GET %s: status %d, want %d (%s)" % (path, st, want, d[:200]))
        try:
            return json.loads(d) if d else None
        except ValueError:
            check(False, "GET %s: not JSON" % path)
            return None


def free_port_server(cmd, env=None):
    """Start serve with --http 127.0.0.1:0; return (proc, port) from its first line."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    m = re.search(r"port (\d+)", line)
    if not m:
        err = p.stderr.read() if p.poll() is not None else ""
        p.kill()
        raise SystemExit("serve did not start: %r %r" % (line, err))
    return p, int(m.group(1))


def stop(p):
    p.send_signal(2)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -9
    err = p.stderr.read()
    check(rc == 0, "serve exited with %d on SIGINT: %s" % (rc, err[-2000:]))
    check("ERROR: AddressSanitizer" not in err and "runtime error" not in err,
          "sanitizer report from serve: %s" % err[-3000:])


def q(path, **params):
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def walk(cl, base_params, limit):
    """All pages of a listing; returns the ids in order."""
    ids, cursor, pages = [], None, 0
    while True:
        params = dict(base_params, limit=limit)
        if cursor:
            params["cursor"] = cursor
        d = cl.json(q("/api/v1/calls", **params))
        if d is None:
            return ids
        check(len(d["calls"]) <= limit, "page larger than limit")
        ids += [c["id"] for c in d["calls"]]
        cursor = d["next_cursor"]
        pages += 1
        if not cursor or pages > 10000:
            return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    probe = subprocess.run([a.bin, "serve", "--help"], capture_output=True, text=True)
    if probe.returncode != 0 and "unknown command" in probe.stderr:
        print("FAIL: this trunkscope has no serve command")
        return 1

    pcap = os.path.join(a.work, "g.pcap")
    db = os.path.join(a.work, "g.db")
    subprocess.run([a.bin, "gen", "-o", pcap, "--calls", "120", "--seed", "3", "--transport", "mix",
                    "--branch", "--gateway"], check=True, capture_output=True)
    subprocess.run([a.bin, "analyze", "--db", db, pcap], check=True, capture_output=True)
    # the analysis report's view of the same streams, to compare field by field
    rep = subprocess.run([a.bin, "analyze", "--json", pcap], check=True, capture_output=True, text=True)
    try:
        report_doc = json.loads(rep.stdout)
    except ValueError:
        report_doc = {}
    report_streams = report_doc.get("streams", [])
    con = sqlite3.connect(db)
    sql = lambda s, *p: con.execute(s, p).fetchall()

    static = os.path.join(ROOT, "web-static")
    conf = os.path.join(a.work, "audio.conf")
    with open(conf, "w") as f:
        f.write("audio = on\n")
    srv, port = free_port_server([a.bin, "serve", "--db", db, "--http", "127.0.0.1:0", "--static", static,
                                  "--rate", "100000", "--config", conf])
    cl = Client(port)
    try:
        with open(os.path.join(ROOT, "api", "openapi.json"), encoding="utf-8") as f:
            spec = json.load(f)
        check(spec.get("openapi", "").startswith("3."), "api/openapi.json is OpenAPI 3")
        cl.set_openapi(spec)
        check(cl.json("/api/v1/openapi.json") == spec, "/api/v1/openapi.json serves api/openapi.json")
        st, h, body = cl.req("HEAD", "/api/v1/openapi.json")
        check(st == 200 and not body, "HEAD /api/v1/openapi.json: %d, %d bytes" % (st, len(body)))
        run_api(cl, sql, db, report_doc.get("trunks", []))
        run_search(cl, sql, json.load(open(os.path.join(a.work, "g.truth.json"))))
        run_topology(cl, json.loads(rep.stdout), os.path.join(a.work, "g.truth.json"))
        run_streams(cl, sql, report_streams)
        run_plans(sql)
        run_hostile(cl)
        run_static(cl, a.work, static, a.bin, db)
        check(cl.json("/api/v1/sites") == {"sites": []}, "a local capture has no sites")
        check(all(c["site"] is None for c in cl.json("/api/v1/calls")["calls"]), "local calls: site null")
        documented = {(p, 200) for p in spec["paths"]}
        check(documented <= cl.validated,
              "every documented path answered 200 and was validated: missing %s"
              % sorted(documented - cl.validated))
    finally:
        stop(srv)
    run_sites(a.bin, db, a.work, spec)
    run_token(a.bin, db, a.work)
    run_rate(a.bin, db)
    run_tls(a.bin, db, a.work)
    run_startup_errors(a.bin, db, a.work)
    print("%d passed, %d failed" % (CHECKS[0] - len(FAILS), len(FAILS)))
    return 1 if FAILS else 0


def run_topology(cl, report, truth_path):
    """/api/v1/topology: the nodes the analysis learned (as its report lists
    them) and every stored trunk tied to its nodes; the SBC node holds the
    generator's SBC addresses, the carriers are its ITSPs."""
    t = cl.json("/api/v1/topology")
    with open(truth_path, encoding="utf-8") as f:
        truth = json.load(f)
    nodes = t["nodes"]
    rep = report.get("topology", {}).get("nodes", [])
    check(len(nodes) == len(rep) and len(nodes) >= 4, "topology: %d nodes, report %d"
          % (len(nodes), len(rep)))
    by_addr = {ad: n for n in nodes for ad in n["addresses"]}
    check(sorted((n["role"], tuple(n["addresses"])) for n in nodes)
          == sorted((n["role"], tuple(n["addresses"])) for n in rep), "topology nodes = report's")
    for tn in truth["topology"]["nodes"]:
        ips = [a["ip"] for a in tn["addresses"]]
        got = [by_addr.get(ip) for ip in ips]
        if tn["role"] == "sbc" and tn["name"] == "sbc":
            check(all(g is not None and g["id"] == got[0]["id"] for g in got)
                  and got[0]["role"] == "sbc" and got[0]["b2bua"] and got[0]["learned_from"] == "relay",
                  "topology: the SBC is one learned node with both addresses %s: %s" % (ips, got))
        if tn["role"] == "itsp":
            check(all(g is None or g["role"] == "carrier" for g in got),
                  "topology: ITSP %s is a carrier: %s" % (ips, got))
    trunks = t["trunks"]
    check(len(trunks) == len(cl.json("/api/v1/trunks")["trunks"]), "topology: every trunk")
    ids = {n["id"] for n in nodes}
    check(all(tr["local_node"] in ids and tr["peer_node"] in ids for tr in trunks),
          "topology: every trunk end on a node")


def run_api(cl, sql, db, report_trunks):
    h = cl.json("/api/v1/health")
    check(h and h["status"] == "ok" and h["live"] is False, "health ok, not live")
    st = cl.json("/api/v1/stats")
    ncalls = sql("SELECT count(*) FROM calls")[0][0]
    check(ncalls > 50, "the capture gave calls (%d)" % ncalls)
    check(st["source"] == "database" and st["totals"]["calls"] == ncalls, "stats totals.calls")
    check(st["totals"]["sip_messages"] == sql("SELECT count(*) FROM sip_messages")[0][0], "stats sip_messages")
    check(len(st["captures"]) == 1 and st["captures"][0]["kind"] == "file", "stats captures")

    # paging: every sort and order, all pages, nothing missing or twice, right order
    keys = {"start": "start", "duration": "coalesce(duration_s,-1.0)", "pdd": "coalesce(pdd_ms,-1)",
            "mos": "coalesce(mos,-1.0)"}
    for sort, expr in keys.items():
        for order in ("asc", "desc"):
            ref = [r[0] for r in sql("SELECT id FROM calls ORDER BY %s %s, id %s" % (expr, order, order))]
            got = walk(cl, {"sort": sort, "order": order}, 7)
            check(len(got) == len(set(got)), "sort=%s %s: duplicates across pages" % (sort, order))
            check(got == ref, "sort=%s %s: pages give every call in order (%d vs %d)"
                  % (sort, order, len(got), len(ref)))
    d = cl.json("/api/v1/calls")
    check(len(d["calls"]) == min(100, ncalls) and d["limit"] == 100, "default page size 100")
    d = cl.json("/api/v1/calls?limit=500")
    check(len(d["calls"]) == min(500, ncalls), "limit=500 accepted")
    first = d["calls"]
    check(all(first[i]["start"] >= first[i + 1]["start"] for i in range(len(first) - 1)),
          "default order is newest first")

    # filters against SQL
    for col, vals in (("outcome", ["answered", "busy", "rejected", "cancelled", "failed", "timeout"]),
                      ("direction", ["inbound", "outbound", "internal", "transit"]),
                      ("failure_side", ["none", "enterprise", "sbc", "itsp"])):
        for v in vals:
            ref = sorted(r[0] for r in sql("SELECT id FROM calls WHERE %s=?" % col, v))
            got = sorted(walk(cl, {col: v}, 500))
            check(got == ref, "%s=%s: %d calls, want %d" % (col, v, len(got), len(ref)))
    pdd = sorted(r[0] for r in sql("SELECT id FROM calls WHERE pdd_ms >= 2000"))
    check(sorted(walk(cl, {"min_pdd": 2000}, 500)) == pdd, "min_pdd=2000")
    check(sorted(walk(cl, {"min_mos": "3.5"}, 500)) == sorted(r[0] for r in sql(
        "SELECT id FROM calls WHERE mos>=3.5")), "min_mos=3.5")
    check(sorted(walk(cl, {"max_mos": "4"}, 500)) == sorted(r[0] for r in sql(
        "SELECT id FROM calls WHERE mos<=4")), "max_mos=4")
    # number search: digits substring of caller / callee
    row = sql("SELECT caller_digits, callee_digits FROM legs WHERE caller_digits<>'' LIMIT 1")[0]
    for par, digits, col, legcol in (("caller", row[0][-6:], "caller", "caller_digits"),
                                     ("callee", row[1][-6:], "callee", "callee_digits")):
        ref = sorted(r[0] for r in sql(
            "SELECT id FROM calls c WHERE instr(c.%s, ?)>0 OR EXISTS(SELECT 1 FROM legs l WHERE "
            "l.call_ref=c.id AND instr(l.%s, ?)>0)" % (col, legcol), digits, digits))
        got = sorted(walk(cl, {par: digits}, 500))
        check(got == ref and len(ref) >= 1, "%s=%s: %d calls, want %d" % (par, digits, len(got), len(ref)))
    # time range: ISO and epoch ms give the same answer; from inclusive, to exclusive
    starts = sorted(r[0] for r in sql("SELECT start FROM calls"))
    lo, hi = starts[len(starts) // 4], starts[3 * len(starts) // 4]
    lo_ms, hi_ms = (lo + 999999) // 1000000, (hi + 999999) // 1000000
    ref = sorted(r[0] for r in sql("SELECT id FROM calls WHERE start >= ? AND start < ?",
                                   lo_ms * 1000000, hi_ms * 1000000))
    got_ms = sorted(walk(cl, {"from": lo_ms, "to": hi_ms}, 500))
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
    got_iso = sorted(walk(cl, {"from": iso(lo_ms), "to": iso(hi_ms)}, 500))
    check(got_ms == ref and got_iso == ref and ref, "from/to epoch ms and ISO-8601 (%d calls)" % len(ref))
    off = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(lo_ms // 1000 + 3600)) + ".%03d+01:00" % (lo_ms % 1000)
    check(sorted(walk(cl, {"from": off, "to": hi_ms}, 500)) == ref, "ISO-8601 with a +01:00 offset")
    # trunk filter: every call has a leg between the trunk's addresses
    tr = sql("SELECT id, local_addr, peer_addr FROM trunks ORDER BY attempts DESC LIMIT 1")[0]
    ref = sorted(r[0] for r in sql(
        "SELECT id FROM calls c WHERE EXISTS(SELECT 1 FROM legs l WHERE l.call_ref=c.id AND "
        "((l.src=? AND l.dst=?) OR (l.src=? AND l.dst=?)))", tr[1], tr[2], tr[2], tr[1]))
    check(sorted(walk(cl, {"trunk": tr[0]}, 500)) == ref and ref, "trunk=%d filter" % tr[0])
    # combined filters and sorting
    ref = [r[0] for r in sql("SELECT id FROM calls WHERE outcome='answered' AND direction='outbound' "
                             "ORDER BY coalesce(duration_s,-1.0) DESC, id DESC")]
    check(walk(cl, {"outcome": "answered", "direction": "outbound", "sort": "duration"}, 9) == ref,
          "combined filters sorted by duration")
    cl.json("/api/v1/calls?trunk=999999", want=400)

    # call detail with every leg and message; a failed multi-leg call
    cid = sql("SELECT id FROM calls WHERE outcome IN ('failed','rejected') ORDER BY legs DESC, id LIMIT 1")[0][0]
    d = cl.json("/api/v1/calls/%d" % cid)
    nlegs = sql("SELECT count(*) FROM legs WHERE call_ref=?", cid)[0][0]
    msgs = sql("SELECT m.id, m.raw FROM sip_messages m JOIN sip_links k ON k.msg_id=m.id "
               "JOIN legs l ON l.id=k.leg_id WHERE l.call_ref=? ORDER BY m.ts, m.id", cid)
    check(len(d["legs"]) == nlegs and len(d["evidence"]) == nlegs, "call %d: %d legs" % (cid, nlegs))
    check([m["id"] for m in d["messages"]] == [m[0] for m in msgs], "call %d: every message of every leg" % cid)
    check([m["n"] for m in d["messages"]] == list(range(len(msgs))), "messages numbered from 0")
    check(all(m["src"] in d["nodes"] and m["dst"] in d["nodes"] for m in d["messages"]), "nodes cover messages")
    check(d["streams"] == [] or isinstance(d["streams"], list), "streams listed")
    check(d["call"]["outcome"] in ("failed", "rejected"), "call outcome")
    check(d.get("packets") == "capture" and d.get("pcap_available") is True,
          "an analysed call's packets are in its capture: %r %r" % (d.get("packets"), d.get("pcap_available")))
    for n in (0, len(msgs) - 1):
        m = cl.json("/api/v1/calls/%d/messages/%d" % (cid, n))
        check(m["text"] == msgs[n][1].decode("utf-8", "replace") and m["utf8_valid"], "message %d raw text" % n)
        st, hd, body = cl.req("GET", "/api/v1/calls/%d/messages/%d?format=text" % (cid, n))
        check(st == 200 and hd["content-type"].startswith("text/plain") and body == bytes(msgs[n][1]),
              "message %d as text/plain" % n)
    cl.json("/api/v1/calls/%d/messages/%d" % (cid, len(msgs)), want=404)
    cl.json("/api/v1/calls/%d/messages/0?format=xml" % cid, want=400)
    st, hd, body = cl.req("GET", "/api/v1/calls/%d/pcap" % cid)
    check(st == 200 and hd.get("content-type") == "application/vnd.tcpdump.pcap", "pcap download")
    check(body[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"),
          "pcap magic")
    check('filename="call-%d.pcap"' % cid in hd.get("content-disposition", ""), "pcap attachment name")
    cl.json("/api/v1/calls/99999999/pcap", want=404)
    # audio (tests/corpus/test_audio.py checks what it holds)
    st, hd, body = cl.req("GET", "/api/v1/calls/%d/audio" % cid)
    check(st == 200 and hd.get("content-type") == "audio/wav" and body[:4] == b"RIFF"
          and body[8:12] == b"WAVE", "audio download: %d %s" % (st, hd.get("content-type")))
    cl.json("/api/v1/calls/99999999/audio", want=404)
    cl.json("/api/v1/calls/%d/audio?leg=abc" % cid, want=400)
    cl.json("/api/v1/calls/99999999", want=404)

    # trunks and their KPI series
    t = cl.json("/api/v1/trunks")
    ref = sql("SELECT id, attempts, answered FROM trunks ORDER BY id")
    check([(x["id"], x["attempts"], x["answered"]) for x in t["trunks"]] == [tuple(r) for r in ref], "trunks")
    for tid, att, _ in ref:
        k = cl.json("/api/v1/trunks/%d/kpis" % tid)
        check(sum(p["attempts"] for p in k["points"]) == att, "trunk %d: KPI series sums to attempts" % tid)
        k = cl.json("/api/v1/trunks/%d/kpis?bucket=120" % tid)
        check(sum(p["attempts"] for p in k["points"]) == att and k["bucket_s"] == 120, "bucket=120")
    td = cl.json("/api/v1/trunks/%d" % ref[0][0])
    check(sum(x["attempts"] for x in td["directions"]) == sql(
        "SELECT count(*) FROM legs l, trunks t WHERE t.id=? AND ((l.src=t.local_addr AND l.dst=t.peer_addr) OR "
        "(l.src=t.peer_addr AND l.dst=t.local_addr))", ref[0][0])[0][0], "trunk directions count its legs")
    check(td["peak_kbps"] >= 0 and td["codes"], "trunk codes and bandwidth")
    # one bandwidth figure: the trunk page, the trunk list and the report agree
    rep_kbps = {(x.get("local"), x.get("peer")): x.get("peak_bandwidth_kbps")
                for x in report_trunks}
    for x in t["trunks"]:
        dt = cl.json("/api/v1/trunks/%d" % x["id"])
        want = rep_kbps.get((x["local"], x["peer"]))
        check(want is not None and x["peak_kbps"] is not None and abs(x["peak_kbps"] - want) < 0.05
              and abs(dt["peak_kbps"] - want) < 0.05,
              "trunk %d: peak bandwidth %s (list) / %s (page) != report's %s"
              % (x["id"], x["peak_kbps"], dt["peak_kbps"], want))
    # the Lync trunk checklist analyze --db stored: the report's, item by item
    rep_cl = {(x.get("local"), x.get("peer")): x.get("checklist") for x in report_trunks}
    for x in t["trunks"]:
        ck = cl.json("/api/v1/trunks/%d/checklist" % x["id"])
        want = rep_cl.get((x["local"], x["peer"])) or {"status": None, "items": []}
        check(ck["trunk_id"] == x["id"] and ck["status"] == want["status"] and
              [(i["id"], i["status"], i["evidence"], len(i["calls"])) for i in ck["items"]] ==
              [(i["id"], i["status"], i["evidence"], len(i["calls"])) for i in want["items"]],
              "trunk %d: stored checklist %s != report's %s" % (x["id"], ck["status"], want["status"]))
    cl.json("/api/v1/trunks/424242", want=404)
    cl.json("/api/v1/trunks/424242/kpis", want=404)
    cl.json("/api/v1/trunks/424242/checklist", want=404)
    ov = cl.json("/api/v1/kpis?bucket=60")
    check(sum(p["attempts"] for p in ov["points"]) == ncalls, "overview series counts every call once")
    check(max(p["concurrent"] for p in ov["points"]) >= 1, "overview concurrency")
    # no bucket: a round step giving at most 180 points, seconds for this
    # few-minute capture (not a handful of minutes), every call counted
    auto = cl.json("/api/v1/kpis")
    span = (auto["to_ms"] - auto["from_ms"]) / 1000
    steps = [10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600]
    smaller = [s for s in steps if s < auto["bucket_s"]]
    check(auto["bucket_s"] in steps and span / auto["bucket_s"] < 180
          and all(span / s >= 180 for s in smaller), "automatic bucket %d s for %d s" % (auto["bucket_s"], span))
    check(span < 1800 and auto["bucket_s"] < 60 and len(auto["points"]) > 10,
          "a short capture gets second buckets (%d points)" % len(auto["points"]))
    check(sum(p["attempts"] for p in auto["points"]) == ncalls, "automatic buckets count every call once")
    check(cl.json("/api/v1/kpis?bucket=30")["bucket_s"] == 30, "bucket=30 for the overview")
    # a trunk's series under a minute counts its legs: per minute, the same
    # sums as the stored minutes; this short capture gets seconds
    for tid, att, _ in ref:
        k30, k60 = (cl.json("/api/v1/trunks/%d/kpis?bucket=%d" % (tid, b)) for b in (30, 60))
        per_min = {}
        for p in k30["points"]:
            m = p["t_ms"] - (p["t_ms"] - k60["from_ms"]) % 60000
            per_min[m] = [x + y for x, y in zip(per_min.get(m, [0, 0, 0]), (p["attempts"], p["answered"], p["failed"]))]
        check(k30["bucket_s"] == 30 and all(per_min.get(p["t_ms"], [0, 0, 0]) == [p["attempts"], p["answered"], p["failed"]]
                                            for p in k60["points"]),
              "trunk %d: 30 s buckets from its legs sum to its stored minutes" % tid)
    # a trunk's MOS per bucket: the mean over its legs (both ways) whose
    # INVITE falls in the bucket, from the rollup for whole minutes and from
    # the legs under a minute: plain SQL over the legs for both
    nmos = 0
    for tid, _, _ in ref:
        for b in (30, 60, 120, 3600, 86400):
            k = cl.json("/api/v1/trunks/%d/kpis?bucket=%d" % (tid, b))
            # a range left open starts on a multiple of its bucket (UTC)
            check(k["from_ms"] % (b * 1000) == 0
                  and all(p["t_ms"] >= k["from_ms"] for p in k["points"])
                  and sum(p["attempts"] for p in k["points"]) == sum(r[1] for r in ref if r[0] == tid),
                  "trunk %d bucket %d s: from %d on the bucket, every attempt"
                  % (tid, b, k["from_ms"]))
            want = dict((r[0], r[1]) for r in sql(
                "SELECT ? + (l.invite_ts - ?) / ? * ?, avg(l.mos) FROM legs l, trunks t WHERE t.id=?"
                " AND ((l.src=t.local_addr AND l.dst=t.peer_addr) OR (l.src=t.peer_addr AND"
                " l.dst=t.local_addr)) AND l.mos IS NOT NULL AND l.invite_ts >= ? AND l.invite_ts < ?"
                " GROUP BY 1", k["from_ms"] * 10 ** 6, k["from_ms"] * 10 ** 6, b * 10 ** 9, b * 10 ** 9,
                tid, k["from_ms"] * 10 ** 6, k["to_ms"] * 10 ** 6))
            for p in k["points"]:
                w = want.get(p["t_ms"] * 10 ** 6)
                check((w is None and p["mos"] is None) or (w is not None and p["mos"] is not None
                                                          and abs(w - p["mos"]) < 1e-9),
                      "trunk %d bucket %d s at %d: MOS %s, legs say %s" % (tid, b, p["t_ms"], p["mos"], w))
                nmos += p["mos"] is not None
    check(nmos > 0, "trunk series carry MOS")
    auto_t = cl.json("/api/v1/trunks/%d/kpis" % ref[0][0])
    check(auto_t["bucket_s"] < 60 and len(auto_t["points"]) > 3, "trunk series of a short capture: %d s buckets"
          % auto_t["bucket_s"])
    cl.json("/api/v1/trunks/%d/kpis?bucket=15" % ref[0][0], want=400)  # a multiple of 10
    cl.json("/api/v1/kpis?bucket=61", want=400)
    cl.json("/api/v1/kpis?bucket=60&from=0&to=%d" % (10 ** 12), want=400)  # too many points
    r = cl.json("/api/v1/registrations")
    check(len(r["registrations"]) == sql("SELECT count(*) FROM registrations")[0][0]
          and len(r["keepalives"]) == sql("SELECT count(*) FROM keepalives")[0][0], "registrations")
    # TLS peers and other flows (the generated capture has neither TLS nor
    # other flows; tests/realnet/test_realnet_tls.py fills them)
    r = cl.json("/api/v1/tls")
    check(len(r["peers"]) == sql("SELECT count(*) FROM tls_peers")[0][0], "TLS peers")
    r = cl.json("/api/v1/tls/connections")
    check(len(r["connections"]) == sql("SELECT count(*) FROM tls_conns")[0][0], "TLS connections")
    r = cl.json("/api/v1/other-flows")
    check(len(r["flows"]) == sql("SELECT count(*) FROM other_flows")[0][0], "other flows")
    td = cl.json("/api/v1/trunks/%d" % ref[0][0])
    check(td["tls"] is None and td["tls_peers"] == [] and isinstance(td["other_flows"], list),
          "a plaintext trunk: tls null")

    st, hd, body = cl.req("GET", "/metrics")
    text = body.decode()
    check(st == 200 and hd["content-type"].startswith("text/plain; version=0.0.4"), "metrics content type")
    m = re.search(r'trunkscope_trunk_attempts_total\{trunk="%d",[^}]*\} (\d+)' % ref[0][0], text)
    check(m and int(m.group(1)) == ref[0][1], "metrics attempts of trunk %d" % ref[0][0])
    check('trunkscope_trunk_mos_bucket{' in text and "le=\"+Inf\"" in text, "metrics MOS histogram")
    check(re.search(r"^trunkscope_stored_calls %d$" % ncalls, text, re.M), "metrics stored calls")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            check(re.match(r'^[a-z_]+(\{[^}]*\})? -?[0-9.e+Inf-]+$', line), "metrics line format: %r" % line)
    st, hd, body = cl.req("HEAD", "/api/v1/trunks")
    check(st == 200 and body == b"", "HEAD: headers only")


def call_of(cl, call_id):
    """API id of the call holding the leg call_id (from the database)."""
    return cl.json("/api/v1/calls?" + urllib.parse.urlencode({"call_id": call_id}))["calls"]


def run_search(cl, sql, truth):
    """Search as a ticket reads, against the generator's truth file: a
    number in each of its written forms, any leg's Call-ID, lists of
    outcomes, sides and codes, an address, a User-Agent; in-progress view
    of a database no sensor writes."""
    act = cl.json("/api/v1/active")
    check(act["running"] is False and act["calls"] == [], "active: no sensor, no calls")
    # alerts (validated against the OpenAPI description like every answer):
    # the lists by state add up, a trunk filter keeps that trunk's
    al = cl.json("/api/v1/alerts")
    parts = [cl.json("/api/v1/alerts?state=" + s_)["alerts"] for s_ in ("pending", "firing", "resolved")]
    check(sorted(x["id"] for p_ in parts for x in p_) == sorted(x["id"] for x in al["alerts"]),
          "alerts: the states partition the list")
    check(al["active"]["firing"] == len(parts[1]) and al["active"]["pending"] == len(parts[0]),
          "alerts: active counts the firing and pending")
    for x in al["alerts"][:3]:
        if x["trunk_id"]:
            got = cl.json("/api/v1/alerts?trunk=%d" % x["trunk_id"])["alerts"]
            check(got and all(y["trunk_id"] == x["trunk_id"] for y in got), "alerts?trunk filters")
    check_err(cl, "/api/v1/alerts?state=open", 400)
    check_err(cl, "/api/v1/alerts?limit=0", 400)
    check_err(cl, "/api/v1/alerts?trunk=x", 400)
    tr = cl.json("/api/v1/trunks")["trunks"]
    check(all("health" in t for t in tr), "every trunk carries its health")
    tried = 0
    for tc in truth["calls"]:
        num = tc["caller"]
        legs = [leg for leg in tc["legs"] if leg["visible"]]
        if not num.startswith("+49") or len(legs) < 2 or tried >= 6:
            continue
        found = call_of(cl, legs[0]["call_id"])
        check(len(found) == 1, "call_id %s: one call (%d)" % (legs[0]["call_id"], len(found)))
        if len(found) != 1:
            continue
        tried += 1
        want = found[0]["id"]
        # the Call-ID of the second leg finds the same call
        second = call_of(cl, legs[1]["call_id"])
        check([c["id"] for c in second] == [want], "second leg's Call-ID %s finds call %d: %s"
              % (legs[1]["call_id"], want, [c["id"] for c in second]))
        nsn = num[3:]
        # +E.164, national, international prefix, with separators, as a URI
        forms = [num, "0" + nsn, "0049" + nsn, "+49 " + nsn[:2] + " " + nsn[2:-4] + "-" + nsn[-4:],
                 "sip:%s@example.net;user=phone" % num]
        for form in forms:
            got = walk(cl, {"number": form}, 500)
            check(want in got, "number=%r finds call %d (%d calls)" % (form, want, len(got)))
            # and only calls where the number is a caller or callee of some leg
            bad = [i for i in got if not sql(
                "SELECT 1 FROM legs WHERE call_ref=? AND (substr(caller_digits,-9)=? OR "
                "substr(callee_digits,-9)=?)", i, nsn[-9:], nsn[-9:])]
            check(not bad, "number=%r: calls without that number %s" % (form, bad[:5]))
    check(tried >= 3, "number search tried on %d truth calls" % tried)
    # lists: the union of the single values
    for col, vals in (("outcome", ["busy", "failed", "timeout"]), ("failure_side", ["itsp", "sbc"]),
                      ("direction", ["inbound", "internal"])):
        ref = sorted(r[0] for r in sql("SELECT id FROM calls WHERE %s IN (%s)"
                                       % (col, ",".join("?" * len(vals))), *vals))
        got = sorted(walk(cl, {col: ",".join(vals)}, 500))
        check(got == ref and ref, "%s=%s: %d calls, want %d" % (col, ",".join(vals), len(got), len(ref)))
    ref = sorted(r[0] for r in sql("SELECT DISTINCT call_ref FROM legs WHERE final_status IN (486,503)"))
    got = sorted(walk(cl, {"final_status": "486,503"}, 500))
    check(got == ref and ref, "final_status=486,503: %d calls, want %d" % (len(got), len(ref)))
    trunk, local, peer = sql("SELECT id, local_addr, peer_addr FROM trunks ORDER BY attempts DESC")[0]
    ref = sorted(r[0] for r in sql(
        "SELECT DISTINCT c.id FROM calls c JOIN legs l ON l.call_ref=c.id WHERE c.outcome IN "
        "('busy','rejected','cancelled','failed','timeout') AND ((l.src=? AND l.dst=?) OR "
        "(l.src=? AND l.dst=?))", local, peer, peer, local))
    got = sorted(walk(cl, {"trunk": trunk, "outcome": "busy,rejected,cancelled,failed,timeout"}, 500))
    check(got == ref and ref, "trunk %d: every unsuccessful call (%d, want %d)" % (trunk, len(got), len(ref)))
    # the trunk page's failure rows: each one's link gives calls of that outcome with that code
    fails = cl.json("/api/v1/trunks/%d" % trunk)["failures"]
    check(fails and sum(f["calls"] for f in fails) >= len(ref) > 0, "trunk %d failures listed" % trunk)
    for f in fails[:6]:
        params = {"trunk": trunk, "outcome": f["outcome"], "failure_side": f["failure_side"],
                  "final_status": f["final_status"] or "none"}
        got = [c for c in cl.json("/api/v1/calls?limit=500&" + urllib.parse.urlencode(params))["calls"]]
        check(len(got) >= f["calls"] and all(c["outcome"] == f["outcome"] for c in got),
              "failure row %s: %d calls behind %d" % (params, len(got), f["calls"]))
    # schema v15: the trunk page reads leg_sums and failure_sums, which the
    # writer's triggers keep; every figure equals the sums over the legs
    for (tid,) in sql("SELECT id FROM trunks"):
        check_trunk_sums(cl, sql, tid)
    addr = sql("SELECT src, sport FROM legs ORDER BY id LIMIT 1")[0]
    ref = sorted(r[0] for r in sql("SELECT DISTINCT call_ref FROM legs WHERE (src=? AND sport=?) OR "
                                   "(dst=? AND dport=?)", addr[0], addr[1], addr[0], addr[1]))
    got = sorted(walk(cl, {"addr": "%s:%d" % addr}, 500))
    check(got == ref and ref, "addr=%s:%d: %d calls, want %d" % (addr[0], addr[1], len(got), len(ref)))
    ua = sql("SELECT server FROM legs WHERE server<>'' GROUP BY 1 ORDER BY count(*) LIMIT 1")
    check(ua, "legs keep the callee's Server header")
    if ua:
        word = ua[0][0].split("/")[0].lower()
        ref = sorted(r[0] for r in sql("SELECT DISTINCT call_ref FROM legs WHERE "
                                       "instr(lower(user_agent),?) OR instr(lower(server),?)", word, word))
        got = sorted(walk(cl, {"user_agent": word}, 500))
        check(got == ref and ref, "user_agent=%s: %d calls, want %d" % (word, len(got), len(ref)))
    for bad in ("outcome=busy,nosuch", "final_status=99", "number=abc%01", "addr=10.0.0.300",
                "port=0", "final_status=486,486,486,486,486,486,486,486,486"):
        st, _, _ = cl.req("GET", "/api/v1/calls?" + bad)
        check(st == 400, "%s: 400, got %d" % (bad, st))


def check_trunk_sums(cl, sql, tid):
    """A trunk page's directions, codes, codecs, failures and MOS against the
    same figures computed from every leg (the queries before schema v15)."""
    ended = "(l.outcome NOT IN ('in_progress','pending'))"
    on = ("FROM trunks t JOIN legs l ON (l.src=t.local_addr AND l.dst=t.peer_addr) OR "
          "(l.src=t.peer_addr AND l.dst=t.local_addr) WHERE t.id=?")
    dsum = ("sum({e}), sum(NOT {e}), sum(l.outcome='answered'), sum(l.outcome='busy'), "
            "sum(l.outcome='rejected'), sum(l.outcome='cancelled'), sum(l.outcome='failed'), "
            "sum(l.outcome='timeout'), 1.0*sum(l.outcome='answered')/nullif(sum({e}),0), "
            "1.0*sum({e} AND (l.outcome IN ('answered','cancelled') OR l.final_status IN "
            "(486,480,487,600,603,404,484)))/nullif(sum({e}),0), avg(CASE WHEN l.outcome='answered' "
            "AND l.end_ts>=l.answer_ts THEN (l.end_ts-l.answer_ts)/1e9 END), avg(CASE WHEN "
            "coalesce(l.ring_ts,l.answer_ts)>=l.invite_ts THEN (coalesce(l.ring_ts,l.answer_ts)-"
            "l.invite_ts)/1e6 END) FROM trunks t JOIN legs l ON ").format(e=ended)
    ref = [r for r in sql("SELECT 'inbound', " + dsum + "l.src=t.peer_addr AND l.dst=t.local_addr WHERE "
                          "t.id=?1 UNION ALL SELECT 'outbound', " + dsum + "l.src=t.local_addr AND "
                          "l.dst=t.peer_addr AND l.src<>t.peer_addr WHERE t.id=?1", tid)
           if (r[1] or 0) + (r[2] or 0) > 0]
    td = cl.json("/api/v1/trunks/%d" % tid)
    keys = ("direction", "attempts", "in_progress", "answered", "busy", "rejected", "cancelled", "failed",
            "timeouts", "asr", "ner", "acd_s", "pdd_mean_ms")

    def same(a, b):
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))
        return a == b
    got = [tuple(d[k] for k in keys) for d in td["directions"]]
    check(len(got) == len(ref) and all(same(x, y) for g, r in zip(got, ref) for x, y in zip(g, r)),
          "trunk %d directions from leg_sums %s = from legs %s" % (tid, got, ref))
    ref = [list(r) for r in sql("SELECT l.final_status, count(*) " + on + " AND l.final_status IS NOT NULL "
                                "GROUP BY 1 ORDER BY 2 DESC, 1", tid)]
    check([[c["status"], c["count"]] for c in td["codes"]] == ref, "trunk %d codes" % tid)
    ref = sorted(tuple(r) for r in sql(
        "SELECT CASE WHEN instr(l.callee_codecs,',')>0 THEN substr(l.callee_codecs,1,instr(l.callee_codecs,"
        "',')-1) ELSE coalesce(l.callee_codecs,'') END, count(*) " + on + " AND l.outcome='answered' "
        "GROUP BY 1", tid))
    check(sorted((c["codec"], c["count"]) for c in td["codecs"]) == ref, "trunk %d codecs" % tid)
    ref = sorted(tuple(r) for r in sql(
        "SELECT c.outcome, coalesce(c.failure_side,'none'), l.final_status, l.reason, CASE WHEN "
        "l.final_status IS NOT NULL THEN l.dst END, l.q850, l.reason_hdr, count(DISTINCT c.id) FROM trunks t "
        "JOIN legs l ON ((l.src=t.local_addr AND l.dst=t.peer_addr) OR (l.src=t.peer_addr AND "
        "l.dst=t.local_addr)) AND l.outcome NOT IN ('answered','in_progress','pending') JOIN calls c ON "
        "c.id=l.call_ref WHERE t.id=? GROUP BY 1, 2, 3, 4, 5, 6, 7", tid))
    keys = ("outcome", "failure_side", "final_status", "reason", "sender", "q850_cause", "reason_header", "calls")
    check(sorted(tuple(f[k] for k in keys) for f in td["failures"]) == ref[:200] or len(ref) > 200,
          "trunk %d failures from failure_sums = distinct calls over the legs" % tid)
    mos = sql("SELECT avg(l.mos) " + on, tid)[0][0]
    got = td["trunk"]["mos"]
    check((got is None and mos is None) or same(got, mos), "trunk %d MOS %r = %r" % (tid, got, mos))


def run_streams(cl, sql, report_streams):
    """RTP streams stored by analyze: the call detail's streams, series, leg and
    call MOS, trunk MOS, against the database and the analysis report."""
    nstreams = sql("SELECT count(*) FROM rtp_streams")[0][0]
    if nstreams == 0:
        # analyze --db stores streams once it hands them to the store
        # (engine_set_stream_sink(e, st_media_sink, w))
        print("SKIP stream checks: this trunkscope stores no RTP streams yet")
        return
    check(sql("SELECT count(*) FROM rtp_streams WHERE leg_id IS NULL AND leg_ref IS NOT NULL")[0][0] == 0,
          "every signalled stream joined its leg")
    check(sql("SELECT count(*) FROM rtp_streams s JOIN legs l ON l.id=s.leg_id WHERE l.call_ref<>s.call_ref "
              "OR l.leg_ref<>s.leg_ref")[0][0] == 0, "stream, leg and call agree")
    # a one-way stream (flags bit 0) gives its leg MOS 1.0 (README, Media)
    check(sql("SELECT count(*) FROM legs l WHERE l.mos IS NOT (SELECT min(CASE WHEN s.flags & 1 "
              "THEN 1.0 ELSE s.mos END) FROM rtp_streams s WHERE s.leg_id=l.id)")[0][0] == 0,
          "leg MOS = worst stream of the leg (1.0 when one-way)")
    check(sql("SELECT count(*) FROM legs WHERE (mos < 3.5) <> (mos_reason IS NOT NULL)")[0][0] == 0,
          "a leg MOS under 3.5 and only such carries a reason")
    check(sql("SELECT count(*) FROM legs WHERE (coalesce(media_flags, 0) & 1) <> "
              "(mos_reason IS 'one_way')")[0][0] == 0, "one-way legs say so as their MOS reason")
    check(sql("SELECT count(*) FROM calls c WHERE c.mos IS NOT (SELECT min(mos) FROM legs l "
              "WHERE l.call_ref=c.id)")[0][0] == 0, "call MOS = worst leg of the call")
    check(sql("SELECT count(*) FROM calls WHERE mos IS NOT NULL")[0][0] > 0, "calls have a MOS")
    cid, n = sql("SELECT call_ref, count(*) FROM rtp_streams WHERE call_ref IS NOT NULL "
                 "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")[0]
    d = cl.json("/api/v1/calls/%d" % cid)
    check(len(d["streams"]) == n and n >= 2, "call %d: %d streams" % (cid, n))
    cols = ["id", "ssrc", "payload_type", "codec", "clock_rate", "packets", "bytes", "expected", "lost",
            "duplicates", "out_of_order", "seq_resets", "sport", "dport", "src", "dst", "flags", "dtmf",
            "dtmf_events", "rtcp_sr", "rtcp_rr", "rtcp_cname"]
    rows = {r[0]: dict(zip(cols, r)) for r in sql("SELECT %s FROM rtp_streams WHERE call_ref=?"
                                                  % ",".join(cols), cid)}
    legs = {l["idx"]: l for l in d["legs"]}
    for st in d["streams"]:
        r = rows.get(st["id"])
        if not check(r is not None, "stream %d of the call in the database" % st["id"]):
            continue
        for k in cols:
            want = r[k]
            got = st["rtcp"][k[5:]] if k.startswith("rtcp_") else st[k]
            check(got == want, "stream %d: %s = %r, database %r" % (st["id"], k, got, want))
        check(all(st["detections"][k] == bool(st["flags"] & (1 << i)) for i, k in enumerate(
            ("one_way", "no_audio", "late_media", "rtp_after_bye", "codec_mismatch", "capture_gap", "srtp",
             "unsignalled", "ssrc_change", "evicted", "series_full", "truncated"))), "stream %d: detections = flags" % st["id"])
        npts = sql("SELECT count(*) FROM rtp_intervals WHERE stream_id=?", st["id"])[0][0]
        check(len(st["series"]) == npts and npts > 0, "stream %d: %d series points" % (st["id"], npts))
        check(all(p["packets"] is not None and p["t_ms"] >= 0 for p in st["series"]), "series points")
        check(st["leg"] in legs and legs[st["leg"]]["leg_ref"] == st["leg_ref"], "stream %d: its leg" % st["id"])
        # the same stream in the analysis report: every shared field
        rs = [x for x in report_streams if x.get("ssrc_num") == st["ssrc"] and x.get("leg") == st["leg_ref"]
              and x.get("src", "").endswith(":%d" % st["sport"])]
        if check(len(rs) == 1, "stream %d in the analysis report" % st["id"]):
            x = rs[0]
            for k in ("packets", "bytes", "expected", "lost", "duplicates", "out_of_order", "seq_resets",
                      "seq_errors", "markers", "comfort_noise", "jb_discarded", "codec", "clock_rate",
                      "payload_type", "payload_types", "signalled", "problem", "first_ts", "last_ts"):
                check(st[k] == x[k], "stream %d: %s = %r, report %r" % (st["id"], k, st[k], x[k]))
            for k in ("mos", "r_factor", "lost_pct", "jitter_mean_ms", "jitter_max_ms", "max_delta_ms",
                      "mean_delta_ms", "delay_ms", "ppl_pct", "burst_r", "duration_s"):
                a, b = st[k], x[k]
                check((a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6),
                      "stream %d: %s = %r, report %r" % (st["id"], k, a, b))
            check(st["detections"] == x["flags"], "stream %d: detections = report flags" % st["id"])
            check(st["dtmf"] == x["events"]["digits"] and st["dtmf_events"] == x["events"]["count"], "DTMF")
            for k, v in x["rtcp"].items():
                check(st["rtcp"][k] == v or (isinstance(v, float) and abs(st["rtcp"][k] - v) < 1e-4),
                      "stream %d: rtcp.%s = %r, report %r" % (st["id"], k, st["rtcp"][k], v))
            check([p["packets"] for p in st["series"]] == [p["packets"] for p in x["series"]],
                  "stream %d: series = report series" % st["id"])
    for l in d["legs"]:
        ms = [s["mos"] for s in d["streams"] if s["leg"] == l["idx"] and s["mos"] is not None]
        check(l["mos"] == (min(ms) if ms else None), "leg %d MOS = its worst stream" % l["idx"])
    lm = [l["mos"] for l in d["legs"] if l["mos"] is not None]
    check(d["call"]["mos"] == (min(lm) if lm else None), "call MOS = worst leg")
    # trunk MOS: mean of the MOS of its legs
    for t in cl.json("/api/v1/trunks")["trunks"]:
        ref = sql("SELECT avg(l.mos) FROM legs l, trunks t WHERE t.id=? AND l.mos IS NOT NULL AND "
                  "((l.src=t.local_addr AND l.dst=t.peer_addr) OR (l.src=t.peer_addr AND l.dst=t.local_addr))",
                  t["id"])[0][0]
        check((t["mos"] is None and ref is None) or (t["mos"] is not None and ref is not None
                                                      and abs(t["mos"] - ref) < 1e-9),
              "trunk %d MOS %r = mean leg MOS %r" % (t["id"], t["mos"], ref))
    check(any(t["mos"] is not None for t in cl.json("/api/v1/trunks")["trunks"]), "a trunk has a MOS")
    ov = cl.json("/api/v1/kpis?bucket=60")
    check(any(p["mos"] is not None for p in ov["points"]), "overview MOS series")
    # MOS filters and sort on real values
    ref = sorted(r[0] for r in sql("SELECT id FROM calls WHERE mos>=3.5"))
    check(ref and sorted(walk(cl, {"min_mos": "3.5"}, 500)) == ref, "min_mos=3.5 with stored MOS")
    ref = [r[0] for r in sql("SELECT id FROM calls ORDER BY coalesce(mos,-1.0) ASC, id ASC")]
    check(walk(cl, {"sort": "mos", "order": "asc"}, 13) == ref, "sort=mos asc with stored MOS")
    # number search by the last digits (indexed) and as a substring
    row = sql("SELECT callee_digits, caller_digits FROM legs WHERE length(callee_digits)>=6 "
              "AND length(caller_digits)>=6 LIMIT 1")[0]
    for par, digits, col in (("callee", row[0][-4:], "callee_digits"), ("caller", row[1][-5:], "caller_digits"),
                             ("callee", row[0], "callee_digits")):
        ref = sorted(r[0] for r in sql("SELECT DISTINCT call_ref FROM legs WHERE substr(%s, -?) = ?" % col,
                                       len(digits), digits))
        got = sorted(walk(cl, {par: digits, "match": "suffix"}, 500))
        check(got == ref and ref, "%s ends with %s: %d calls, want %d" % (par, digits, len(got), len(ref)))
    mid = row[0][1:-1]
    check(sorted(walk(cl, {"callee": mid, "match": "suffix"}, 500)) == sorted(r[0] for r in sql(
        "SELECT DISTINCT call_ref FROM legs WHERE substr(callee_digits, -?) = ?", len(mid), mid)),
        "suffix match is not a substring match")
    check(walk(cl, {"callee": mid, "match": "contains"}, 500) == walk(cl, {"callee": mid}, 500),
          "match=contains is the default")


def run_plans(sql):
    """The indexes of schema v3 serve the queries they were made for."""
    plan = lambda q, *p: " | ".join(r[3] for r in sql("EXPLAIN QUERY PLAN " + q, *p))
    for key, idx in (("coalesce(c.pdd_ms,-1)", "calls_sort_pdd"), ("coalesce(c.duration_s,-1.0)",
                                                                    "calls_sort_duration"),
                     ("coalesce(c.mos,-1.0)", "calls_sort_mos")):
        for order in ("DESC", "ASC"):
            p = plan("SELECT c.id FROM calls c WHERE 1 ORDER BY %s %s, c.id %s LIMIT 101" % (key, order, order))
            check(idx in p and "TEMP B-TREE" not in p, "ORDER BY %s %s uses %s: %s" % (key, order, idx, p))
    p = plan("SELECT c.id FROM calls c WHERE c.id IN (SELECT l.call_ref FROM legs l WHERE "
             "l.callee_rev >= ? AND l.callee_rev < ?) ORDER BY c.start DESC, c.id DESC LIMIT 51", "4321", "4321:")
    check("legs_callee_rev" in p, "suffix search uses legs_callee_rev: " + p)
    p = plan("SELECT count(*) FROM trunks t JOIN legs l ON (l.src=t.local_addr AND l.dst=t.peer_addr) OR "
             "(l.src=t.peer_addr AND l.dst=t.local_addr) WHERE t.id=1")
    check("legs_src_dst" in p, "trunk legs use legs_src_dst: " + p)
    p = plan("SELECT t.id, l.mos, count(*) FROM trunks t JOIN legs l ON l.src=t.local_addr AND "
             "l.dst=t.peer_addr WHERE l.mos IS NOT NULL GROUP BY 1, 2")
    check("COVERING INDEX legs_src_dst" in p, "trunk MOS is index-only: " + p)
    # schema v5: a trunk page's sums read the index only, directions unsorted
    for cond, what in (("l.src=t.peer_addr AND l.dst=t.local_addr", "directions"),
                       ("((l.src=t.local_addr AND l.dst=t.peer_addr) OR (l.src=t.peer_addr AND "
                        "l.dst=t.local_addr)) AND l.outcome='answered'", "codecs")):
        p = plan("SELECT count(*), sum(l.final_status IN (486,480)), avg(l.end_ts-l.answer_ts),"
                 " avg(coalesce(l.ring_ts,l.answer_ts)-l.invite_ts), max(l.callee_codecs)"
                 " FROM trunks t JOIN legs l ON %s WHERE t.id=1" % cond)
        check("COVERING INDEX legs_src_dst" in p and "TEMP B-TREE" not in p,
              "trunk %s from the index only: %s" % (what, p))


def run_sites(binary, db, work, spec):
    """Sites (schema v4): a copy of the database whose calls, legs and trunks
    were given sites; the site filters, /sites and the index against SQL."""
    sdb = os.path.join(work, "sites.db")
    src = sqlite3.connect(db)
    dst = sqlite3.connect(sdb)
    src.backup(dst)
    src.close()
    dst.executescript(
        "UPDATE calls SET site=CASE id%3 WHEN 0 THEN 'branch' WHEN 1 THEN 'hq' END;"
        "UPDATE legs SET site=(SELECT c.site FROM calls c WHERE c.id=legs.call_ref);"
        "UPDATE legs SET site='hq' WHERE idx=1 AND site='branch';"  # a call crossing the sites
        "UPDATE trunks SET site=CASE id%2 WHEN 0 THEN 'branch' ELSE 'hq' END;"
        "INSERT INTO trunks(name,local_addr,peer_addr,site) VALUES('odd','192.0.2.7','192.0.2.8',"
        "'x''); DROP TABLE calls;--');")
    # alerts whose stored text and numbers the list must render by the API's
    # rules: control bytes '?', invalid UTF-8 U+FFFD, reals to 12 digits,
    # the evidence as parsed JSON (null when it is not an object or array)
    odd_alerts = [
        ("rule\x01a", "trunk", "t\x7f", None, "warning", "firing", 0.1 + 0.2, 1e-7, b"s\xff\xc3(\x00\tok\xe2\x82\xac",
         '{"calls":[1,2],"ratio":0.30000000000000004,"n":"\\u00e9"}'),
        ("r2", "peer", "hq", 1, "critical", "pending", None, 12345678901234.5, b"plain", "{\"x\": [1, 2.5e-300 ]}"),
        ("r3", "trunk", "t", 1, "warning", "resolved", 3.0, -0.0, None, "not json"),
        ("r4", "trunk", "t", 1, "warning", "resolved", 1e21, 2.0, b"", "42"),
    ]
    for i, (rule, scope, target, trunk, sev, state, val, thr, summ, ev) in enumerate(odd_alerts):
        dst.execute("INSERT INTO alerts(id,rule,scope,target,trunk_id,severity,state,value,threshold,"
                    "started,updated,summary,evidence) VALUES(?,?,?,?,?,?,?,?,?,?,?,CAST(? AS TEXT),?)",
                    (900001 + i, rule, scope, target, trunk, sev, state, val, thr, 4102444800000000000 + i,
                     4102444800000000000 + i, summ, ev))
    dst.commit()
    sql = lambda s, *p: dst.execute(s, p).fetchall()
    srv, port = free_port_server([binary, "serve", "--db", sdb, "--http", "127.0.0.1:0", "--rate", "100000"])
    cl = Client(port)
    cl.set_openapi(spec)
    try:
        s = cl.json("/api/v1/sites")["sites"]
        ref = sql("SELECT site, count(*) FROM calls WHERE site IS NOT NULL GROUP BY 1 ORDER BY 1")
        check([(x["site"], x["calls"]) for x in s if x["calls"]] == [tuple(r) for r in ref] and len(ref) == 2,
              "sites with their call counts: %r" % s)
        check({x["site"]: x["trunks"] for x in s} == dict(sql(
            "SELECT site, count(*) FROM trunks WHERE site IS NOT NULL GROUP BY 1")), "sites' trunk counts")
        for site in ("branch", "hq"):
            ref = sorted(r[0] for r in sql("SELECT id FROM calls WHERE site=?", site))
            got = sorted(walk(cl, {"site": site}, 500))
            check(got == ref and ref, "site=%s: %d calls, want %d" % (site, len(got), len(ref)))
            ref = [r[0] for r in sql("SELECT id FROM calls WHERE site=? AND outcome='answered' "
                                     "ORDER BY coalesce(pdd_ms,-1) ASC, id ASC", site)]
            check(walk(cl, {"site": site, "outcome": "answered", "sort": "pdd", "order": "asc"}, 7) == ref,
                  "site=%s with outcome, sorted by pdd" % site)
            t = cl.json(q("/api/v1/trunks", site=site))["trunks"]
            check([x["id"] for x in t] == [r[0] for r in sql("SELECT id FROM trunks WHERE site=? ORDER BY id",
                                                               site)] and t and all(x["site"] == site for x in t),
                  "trunks?site=%s" % site)
            k = cl.json(q("/api/v1/kpis", site=site, bucket=60))
            check(sum(p["attempts"] for p in k["points"]) == len(ref and sql(
                "SELECT id FROM calls WHERE site=?", site)), "kpis?site=%s counts the site's calls" % site)
        check(sorted(walk(cl, {"site": "nowhere"}, 500)) == [], "an unknown site has no calls")
        shown = {x["id"]: x for x in cl.json("/api/v1/alerts?limit=500")["alerts"]}
        fix = lambda b: None if b is None else re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "?",
                                                     b.decode("utf-8", "replace"))
        g12 = lambda v: None if v is None else float("%.12g" % v)
        for i, (rule, scope, target, trunk, sev, state, val, thr, summ, ev) in enumerate(odd_alerts):
            a = shown.get(900001 + i)
            if not check(a, "odd alert %d listed" % i):
                continue
            try:
                want_ev = json.loads(ev)
            except ValueError:
                want_ev = None
            if not isinstance(want_ev, (dict, list)):
                want_ev = None
            want_ev = json.loads(json.dumps(want_ev), parse_float=lambda x: g12(float(x)))
            got = (a["rule"], a["target"], a["summary"], a["value"], a["threshold"], a["evidence"],
                   a["trunk_id"], a["state"])
            want = (fix(rule.encode()), fix(target.encode()), fix(summ), g12(val), g12(thr), want_ev,
                    trunk, state)
            check(got == want, "odd alert %d as stored: %r, want %r" % (i, got, want))
        st, hd, body = cl.req("GET", "/api/v1/alerts?limit=500")
        check(st == 200 and hd["content-type"] == "application/json; charset=utf-8"
              and b"\\u0000" not in body and b"0.30000000000000004" not in body
              and b'"value":0.3,' in body and b'"threshold":1e-7,' in body and b'"value":1e21,' in body,
              "alert numbers as jansson dumps them at 12 digits")
        odd = "x'); DROP TABLE calls;--"
        t = cl.json(q("/api/v1/trunks", site=odd))["trunks"]
        check(len(t) == 1 and t[0]["site"] == odd, "a site with quotes is a value, not SQL")
        check(len(cl.json("/api/v1/trunks")["trunks"]) == sql("SELECT count(*) FROM trunks")[0][0], "all trunks")
        # call objects and legs carry their site
        cid = sql("SELECT c.id FROM calls c WHERE c.site='branch' AND EXISTS(SELECT 1 FROM legs l WHERE "
                  "l.call_ref=c.id AND l.site='hq') LIMIT 1")
        if check(cid, "a call crossing the sites"):
            d = cl.json("/api/v1/calls/%d" % cid[0][0])
            check(d["call"]["site"] == "branch", "call detail site")
            check([l["site"] for l in d["legs"]] == [r[0] for r in sql(
                "SELECT site FROM legs WHERE call_ref=? ORDER BY idx, id", cid[0][0])]
                and {l["site"] for l in d["legs"]} == {"branch", "hq"}, "legs keep their own site")
        c = cl.json(q("/api/v1/calls", site="hq", limit=5))["calls"]
        check(c and all(x["site"] == "hq" for x in c), "listed calls carry the site")
        for bad in ("site=", "site=" + "s" * 32, "site=a%01b", "site=a%7Fb", "site=a&site=b"):
            check_err(cl, "/api/v1/calls?" + bad, 400)
            check_err(cl, "/api/v1/trunks?" + bad, 400)
        check_err(cl, "/api/v1/sites?site=hq", 400)
        check_err(cl, "/api/v1/trunks/1/kpis?site=hq", 400)
        check(len(walk(cl, {"site": "s" * 31}, 500)) == 0, "a 31-character site is accepted")
        # the site filter is served by calls(site, start)
        p = " | ".join(r[3] for r in sql("EXPLAIN QUERY PLAN SELECT c.id FROM calls c WHERE 1 AND "
                                          "c.site=? ORDER BY c.start DESC, c.id DESC LIMIT 101", "hq"))
        check("calls_site" in p and "TEMP B-TREE" not in p, "site filter uses calls_site: " + p)
    finally:
        stop(srv)
        dst.close()


def run_hostile(cl):
    err = lambda path, want, **kw: check_err(cl, path, want, **kw)
    for bad in ("limit=0", "limit=501", "limit=abc", "limit=-1", "limit=1e2", "limit=%2B5", "limit=",
                "from=yesterday", "from=2023-02-31T00:00:00Z", "from=2023-13-01", "to=99999999999999999999",
                "from=1700000000000&to=1600000000000", "caller=12a", "caller=" + "1" * 33, "callee=%2B49",
                "outcome=nope", "direction=INBOUND", "failure_side=", "sort=callee", "order=up",
                "match=prefix", "match=", "cursor=garbage", "cursor=djEuc3RhcnQuZC4x", "min_mos=abc", "min_mos=9", "min_mos=nan",
                "max_mos=inf", "min_pdd=-5", "min_pdd=0x10", "trunk=0", "trunk=1.5", "bogus=1",
                "caller=1%27%20OR%20%271%27=%271", "outcome=answered%27%3B%20DROP%20TABLE%20calls%3B--",
                "direction=inbound%20OR%201=1", "caller=1%00", "limit=1&limit=2"):
        err("/api/v1/calls?" + bad, 400)
    # a cursor of another sort order is refused
    d = cl.json("/api/v1/calls?limit=1&sort=pdd")
    err("/api/v1/calls?limit=1&sort=start&cursor=" + d["next_cursor"], 400)
    err("/api/v1/calls?" + "&".join("p%d=1" % i for i in range(30)), 400)
    err("/api/v1/calls?" + "x" * 3000, 414)
    err("/api/v1/" + "a" * 5000, 414)
    err("/api/v1/nothing", 404)
    err("/api/v1/calls/abc", 404)
    err("/api/v1/calls/0", 404)
    err("/api/v1/calls/-1", 404)
    err("/api/v1/calls/1%27", 404)
    err("/api/v1/calls/99999999999999999999999", 404)
    err("/api/v1/calls/1/messages/-1", 404)
    err("/api/v1/calls/1/messages/x", 404)
    err("/api/v1/calls/1/", 404)
    err("/api/v1/../../etc/passwd", 404)
    err("/api/v1/%2e%2e/%2e%2e/etc/passwd", 404)
    err("/api/v1/calls%00", 400)
    err("/api/v1/health?x=1", 400)
    for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        st, hd, body = cl.req(m, "/api/v1/calls", body=b"{}")
        check(st == 405 and "GET" in hd.get("allow", ""), "%s -> 405 with Allow" % m)
        check_body(body, "%s error body" % m)
    st, hd, body = cl.req("GET", "/api/v1/health", body=b"x" * 4096)
    check(st == 413, "GET with a 4 KiB body -> 413 (got %d)" % st)
    check_body(body, "413 body")
    # the server is still fine
    cl.json("/api/v1/health")


def check_body(body, what):
    try:
        e = json.loads(body)["error"]
        check(isinstance(e["code"], str) and isinstance(e["message"], str), what)
    except (ValueError, KeyError, TypeError):
        check(False, "%s: not an error object: %r" % (what, body[:200]))


def check_err(cl, path, want, **kw):
    st, hd, body = cl.req("GET", path, **kw)
    check(st == want, "GET %s: %d, want %d" % (path[:120], st, want))
    check(hd.get("content-type", "").startswith("application/json"), "%s: JSON error" % path[:80])
    check_body(body, "error body of %s" % path[:80])


def run_static(cl, work, static, binary, db):
    st, hd, body = cl.req("GET", "/")
    check(st == 200 and hd["content-type"].startswith("text/html"), "dashboard index")
    check("default-src 'self'" in hd.get("content-security-policy", ""), "CSP header")
    check(hd.get("x-content-type-options") == "nosniff", "nosniff header")
    for f, mime in (("app.js", "text/javascript"), ("app.css", "text/css")):
        st, hd, _ = cl.req("GET", "/" + f)
        check(st == 200 and hd["content-type"].startswith(mime), "%s served as %s" % (f, mime))
    for bad in ("/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd", "/.%2e/x",
                "/.hidden", "/a/../../etc/passwd", "/nothing.html", "/index.html%00.js", "//etc/passwd",
                "/" + "b" * 3000):
        st, hd, body = cl.req("GET", bad)
        check(st in (400, 404, 414), "static %s refused (%d)" % (bad[:60], st))
        check(b"root:" not in body, "static %s leaks nothing" % bad[:60])
    # a symlink out of the static directory and a directory: both 404
    sdir = os.path.join(work, "static")
    os.makedirs(os.path.join(sdir, "sub"), exist_ok=True)
    with open(os.path.join(sdir, "index.html"), "w") as f:
        f.write("<!doctype html><title>t</title>")
    os.symlink("/etc/passwd", os.path.join(sdir, "passwd.txt"))
    srv, port = free_port_server([binary, "serve", "--db", db, "--http", "127.0.0.1:0", "--static", sdir])
    try:
        c2 = Client(port)
        check(c2.req("GET", "/index.html")[0] == 200, "temp static index")
        st, _, body = c2.req("GET", "/passwd.txt")
        check(st == 404 and b"root:" not in body, "symlink out of the static dir refused")
        check(c2.req("GET", "/sub")[0] == 404 and c2.req("GET", "/sub/")[0] == 404, "no directory listing")
    finally:
        stop(srv)


def run_token(binary, db, work):
    tf = os.path.join(work, "token")
    token = "s3cret-token-0123456789abcdef"
    with open(tf, "w") as f:
        f.write(token + "\n")
    os.chmod(tf, 0o600)
    srv, port = free_port_server([binary, "serve", "--db", db, "--http", "127.0.0.1:0", "--token-file", tf,
                                  "--static", os.path.join(ROOT, "web-static")])
    try:
        cl = Client(port)
        for tok, want in ((None, 401), ("wrong", 401), (token + "x", 401), (token[:-1], 401),
                          (token, 200)):
            st, hd, body = cl.req("GET", "/api/v1/calls?limit=1", token=tok or "")
            check(st == want, "token %r: %d, want %d" % (tok, st, want))
            if want == 401:
                check("bearer" in hd.get("www-authenticate", "").lower(), "401 names the scheme")
                check_body(body, "401 body")
        st, _, _ = cl.req("GET", "/metrics", token="")
        check(st == 401, "metrics need the token too")
        st, _, _ = cl.req("GET", "/metrics", token=token)
        check(st == 200, "metrics with the token")
        st, _, _ = cl.req("GET", "/", token="")
        check(st == 200, "dashboard files need no token (they hold no data)")
    finally:
        stop(srv)


def run_rate(binary, db):
    srv, port = free_port_server([binary, "serve", "--db", db, "--http", "127.0.0.1:0", "--rate", "5"])
    try:
        cl = Client(port)
        codes = [cl.req("GET", "/api/v1/health")[0] for _ in range(30)]
        check(codes.count(200) >= 5 and 429 in codes, "token bucket: 429 after the burst (%s)" % codes)
        st, hd, body = cl.req("GET", "/api/v1/health")
        if st == 429:
            check(hd.get("retry-after") == "1", "429 carries Retry-After")
            check_body(body, "429 body")
        time.sleep(1.2)
        check(cl.req("GET", "/api/v1/health")[0] == 200, "bucket refills")
    finally:
        stop(srv)


def run_tls(binary, db, work):
    if not shutil.which("openssl"):
        print("note: openssl missing, TLS not tested")
        return
    crt, key = os.path.join(work, "c.pem"), os.path.join(work, "k.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       capture_output=True)
    if r.returncode != 0:
        print("note: openssl could not make a certificate, TLS not tested")
        return
    srv, port = free_port_server([binary, "serve", "--db", db, "--http", "127.0.0.1:0", "--tls-cert", crt,
                                  "--tls-key", key])
    try:
        ctx = ssl.create_default_context(cafile=crt)
        cl = Client(port, tls_ctx=ctx)
        check(cl.json("/api/v1/health")["status"] == "ok", "health over TLS")
    finally:
        stop(srv)


def run_startup_errors(binary, db, work):
    def start(args, what):
        r = subprocess.run([binary, "serve", "--db", db] + args, capture_output=True, text=True, timeout=30)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == 2 and len(lines) == 1, "%s: exit 2 with one line (%d, %r)"
              % (what, r.returncode, r.stderr[-300:]))
        return r.stderr
    e = start(["--http", "0.0.0.0:0"], "non-loopback without a token")
    check("token" in e, "the refusal names the token")
    start(["--http", "[::]:0"], "IPv6 any without a token")
    start(["--http", "192.0.2.1:8080"], "an outside address without a token")
    short = os.path.join(work, "short")
    with open(short, "w") as f:
        f.write("abc")
    start(["--http", "127.0.0.1:0", "--token-file", short], "a too short token")
    start(["--http", "127.0.0.1:0", "--token-file", os.path.join(work, "missing")], "a missing token file")
    start(["--http", "127.0.0.1:99999"], "a bad port")
    start(["--http", "nonsense"], "a bad address")
    start(["--http", "127.0.0.1:0", "--tls-cert", "x.pem"], "a certificate without a key")
    r = subprocess.run([binary, "serve", "--db", os.path.join(work, "none.db"), "--http", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2, "a missing database: exit 2")
    # something already listening on the port
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    start(["--http", "127.0.0.1:%d" % s.getsockname()[1]], "a port in use")
    s.close()


if __name__ == "__main__":
    sys.exit(main())
