"""Reads ../shared/pcaps/MANIFEST.md (tshark's counts per capture) and runs
trunkscope on captures; shared by the corpus tests."""
import argparse
import json
import os
import re
import subprocess


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    return ap.parse_args()


def _num(cell):
    """'0 [6]' -> (0, 6); '12' -> (12, None)."""
    m = re.match(r"\s*(\d+)\s*(?:\[(\d+)\])?", cell)
    if not m:
        return None, None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)


def _calls(cell):
    """'4 (0)' or '0 (0) [1] ([0])' -> (calls, answered, bracket_calls, bracket_answered)."""
    m = re.match(r"\s*(\d+)\s*\((\d+)\)(?:\s*\[(\d+)\]\s*\(\[(\d+)\]\))?", cell)
    if not m:
        return None
    g = m.groups()
    return (int(g[0]), int(g[1]), int(g[2]) if g[2] else None, int(g[3]) if g[3] else None)


def load_manifest(shared):
    rows = {}
    path = os.path.join(shared, "pcaps", "MANIFEST.md")
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 12:
                continue
            name = cells[0].strip("`")
            sip, sip_b = _num(cells[5])
            cids, cids_b = _num(cells[6])
            streams, _ = _num(cells[7])
            rtp, _ = _num(cells[9])
            rtcp, _ = _num(cells[10])
            rows[name] = {
                "packets": _num(cells[4])[0],
                "sip": sip, "sip_bracket": sip_b,
                "call_ids": cids, "call_ids_bracket": cids_b,
                "rtp_streams": streams,
                "calls": _calls(cells[8]),
                "rtp_pkts": rtp, "rtcp_pkts": rtcp,
                "format": cells[3],
            }
    return rows


def analyze(binary, files, extra=()):
    """Runs trunkscope analyze --json; returns (exit code, parsed json or None, stderr)."""
    p = subprocess.run([binary, "analyze", "--json", *extra, *files],
                       capture_output=True, text=True, timeout=600)
    try:
        doc = json.loads(p.stdout) if p.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    return p.returncode, doc, p.stderr


def get(doc, path, default=0):
    cur = doc
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


class Checker:
    """Collects failures; prints 'N passed, N failed' and returns the exit code."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: " + what, flush=True)

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed or not self.passed else 0
