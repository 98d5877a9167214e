#!/usr/bin/env python3
"""The structure picture, checked: three graphs over the product's sources
must have no circles.

  folders   A -> B when a file in A/ includes a header of B/
  includes  file -> header for every #include "..." (header circles hide
            behind include guards)
  calls     a.c -> b.c when a.c uses a function or object defined non-static
            in b.c (two files that call each other want a third below both)

Prints each graph's circles (strongly connected components) and exits 1 if
any is found that scripts/depgraph-allow.txt does not list; a listed circle
that no longer exists fails too. --dot writes the file-level graph in
Graphviz form to stdout instead.

Usage: depgraph.py [--root DIR] [--dot]
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checksrc import FOLDERS, function_defs, strip  # noqa: E402

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
OBJECT_DEF = re.compile(r"^(?!static\b|extern\b|typedef\b|#)(?:const\s+)?[A-Za-z_][\w \t\*]*?\b"
                        r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*(?:=|;)", re.M)


def sources(root):
    out = []
    for d in FOLDERS:
        full = os.path.join(root, d)
        if os.path.isdir(full):
            out += sorted(d + "/" + f for f in os.listdir(full) if f.endswith((".c", ".h")))
    return out


def sccs(nodes, edges):
    """Tarjan's strongly connected components with more than one node."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out)


def graphs(root):
    files = sources(root)
    text = {}
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text[rel] = f.read()
    inc, fold = {}, {}
    for rel in files:
        here = os.path.dirname(rel)
        for m in INCLUDE.finditer(text[rel]):
            tgt = os.path.normpath(os.path.join(here, m.group(1)))
            if tgt not in text:
                continue  # generated or outside the product folders
            inc.setdefault(rel, set()).add(tgt)
            a, b = rel.split("/")[0], tgt.split("/")[0]
            if a != b:
                fold.setdefault(a, set()).add(b)
    # who defines which public name
    owner = {}
    code = {rel: strip(text[rel]) for rel in files if rel.endswith(".c")}
    for rel, c in code.items():
        for name, _ in function_defs(c):
            owner.setdefault(name, rel)
        depth = 0
        for line in c.splitlines():  # file-level objects only
            if depth == 0:
                m = OBJECT_DEF.match(line)
                if m and "(" not in line.split("=")[0]:
                    owner.setdefault(m.group(1), rel)
            depth += line.count("{") - line.count("}")
    calls = {}
    for rel, c in code.items():
        for name in set(IDENT.findall(c)):
            o = owner.get(name)
            if o and o != rel:
                calls.setdefault(rel, set()).add(o)
    return files, fold, inc, calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--dot", action="store_true")
    a = ap.parse_args()
    files, fold, inc, calls = graphs(a.root)
    if a.dot:
        print("digraph trunkscope {")
        for s in sorted(calls):
            for t in sorted(calls[s]):
                print(f'  "{s}" -> "{t}";')
        print("}")
        return 0
    allow = {}
    path = os.path.join(a.root, "scripts", "depgraph-allow.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                line = line.split("#", 1)[0].split()
                if line:
                    allow[(line[0], tuple(sorted(line[1:])))] = no
    bad, seen = 0, set()
    for kind, nodes, edges in (("folders", set(fold) | {t for v in fold.values() for t in v}, fold),
                               ("includes", set(files), inc),
                               ("calls", {f for f in files if f.endswith(".c")}, calls)):
        circles = sccs(nodes, edges)
        for comp in circles:
            key = (kind, tuple(comp))
            if key in allow:
                seen.add(key)
                print(f"{kind}: listed circle {' '.join(comp)}")
            else:
                print(f"{kind}: circle {' '.join(comp)}")
                bad += 1
        print(f"{kind}: {len(nodes)} nodes, {sum(len(v) for v in edges.values())} edges, "
              f"{len(circles)} circle(s)")
    for key, no in allow.items():
        if key not in seen:
            print(f"scripts/depgraph-allow.txt:{no}: stale: {key[0]} {' '.join(key[1])}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
