#!/usr/bin/env python3
"""Source check: the rules of STYLE.md that a script can see, run by ctest.

  banned     atoi/atol/sscanf/strcpy/strcat/sprintf/vsprintf/gets/strtok/
             strncpy anywhere; strtol/strtoul/strtoll/strtoull/strtod only in
             common/num.c, the one number parser
  wire       in the wire-facing folders (capture/ dissect/ engine/ net/) no
             byte-order conversion (ntohs, be16toh...), no multi-byte pointer
             casts and no hand-made big-endian reads (p[i] << 8): wire bytes
             are read through common/bv.h
  limit      a #define named *MAX*/*LIMIT* with a value lives in
             common/limits.h (with its reason); gen/ is exempt (the
             generator's sizes are its own configuration, not traffic)
  prefix     every non-static function defined in dir/name.c starts with the
             file's prefix: name_, its first word before '_', the folder
             library's prefix (FOLDER_PREFIX) or the file's declared one
             (FILE_PREFIX)

Exceptions are listed, each with its reason, in scripts/checksrc-allow.txt
as "path rule word reason"; an exception that matches nothing is an error
too, so the list cannot rot.

Usage: checksrc.py [--root DIR]; exit 1 and one line per finding.
"""
import argparse
import os
import re
import sys

FOLDERS = ["common", "capture", "crypto", "dissect", "engine", "calls", "media", "store",
           "alert", "api", "net", "gen", "cli"]
WIRE = {"capture", "dissect", "engine", "net"}
NUMBER_PARSER = "common/num.c"
NO_LIMIT_RULE = {"gen"}
# The public prefix of each folder's library, besides each file's own.
FOLDER_PREFIX = {"common": "ts_", "calls": "calls_", "store": "st_", "api": "api_",
                 "alert": "alert_", "cli": ("cmd_", "cli_"), "capture": "ts_", "gen": "gen_"}
# Files whose declared prefix is not their name.
FILE_PREFIX = {
    "capture/decode.c": "decoder_",
    "dissect/rtp.c": "rtcp_",
    "dissect/sipframe.c": ("sip_", "sipf_"),
    "calls/correlate.c": "corr_",
    "calls/dialog.c": "dlg_",
    "calls/register.c": "reg_",
    "store/query.c": "stq_",
    "gen/scenario.c": "scn_",
}
LIMITS = "common/limits.h"

BANNED = re.compile(r"\b(atoi|atol|atoll|atof|sscanf|strcpy|strcat|sprintf|vsprintf|gets|strtok|"
                    r"strncpy|strncat)\s*\(")
STRTO = re.compile(r"\b(strtol|strtoul|strtoll|strtoull|strtod|strtof|strtold|strtoimax|strtoumax)\s*\(")
BYTEORDER = re.compile(r"\b(ntohs|ntohl|htons|htonl|be16toh|be32toh|be64toh|le16toh|le32toh|"
                       r"le64toh|bswap_16|bswap_32|bswap_64|__builtin_bswap\d+)\s*\(")
WIDE_CAST = re.compile(r"\(\s*(const\s+)?u?int(16|32|64)_t\s*\*\s*\)")
BE_READ = re.compile(r"\w+\s*\[[^\]\n]+\]\s*<<\s*(8|16|24|32|40|48|56)\b")
LIMIT_DEF = re.compile(r"^[ \t]*#[ \t]*define\s+(\w*(?:MAX|LIMIT)\w*)\s+\S", re.M)
FUNC_DEF = re.compile(r"^(?!static\b|typedef\b|extern\b|(?:struct|enum|union)\b[^(]*[;{]|#)"
                      r"[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\(", re.M)


def strip(text):
    """Comments and string/char literals blanked out, line breaks kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + (c if j - 1 > i else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def prefixes(rel):
    stem = os.path.splitext(os.path.basename(rel))[0]
    out = {stem + "_", stem.split("_")[0] + "_"}
    fp = FOLDER_PREFIX.get(rel.split("/")[0], ())
    out.update((fp,) if isinstance(fp, str) else fp)
    fp = FILE_PREFIX.get(rel, ())
    out.update((fp,) if isinstance(fp, str) else fp)
    return out


def function_defs(code):
    """(name, line) of every non-static function defined at file level."""
    for m in FUNC_DEF.finditer(code):
        rest = code[m.end():]
        # the parameter list, then a body: a definition, not a declaration
        depth, k = 1, 0
        while k < len(rest) and depth:
            depth += {"(": 1, ")": -1}.get(rest[k], 0)
            k += 1
        after = rest[k:k + 200].lstrip()
        if after.startswith("{") or re.match(r"__attribute__\s*\(\(.*?\)\)\s*\{", after, re.S):
            yield m.group(1), line_of(code, m.start())


def check_file(root, rel, findings):
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        code = strip(f.read())
    folder = rel.split("/")[0]

    def hit(rule, pos, word):
        findings.append((rel, rule, word, line_of(code, pos)))

    for m in BANNED.finditer(code):
        hit("banned", m.start(), m.group(1))
    if rel != NUMBER_PARSER:
        for m in STRTO.finditer(code):
            hit("banned", m.start(), m.group(1))
    if folder in WIRE and not rel.startswith("common/bv."):
        for m in BYTEORDER.finditer(code):
            hit("wire", m.start(), m.group(1))
        for m in WIDE_CAST.finditer(code):
            hit("wire", m.start(), "cast")
        for m in BE_READ.finditer(code):
            hit("wire", m.start(), "shift")
    if rel != LIMITS and folder not in NO_LIMIT_RULE:
        for m in LIMIT_DEF.finditer(code):
            hit("limit", m.start(), m.group(1))
    if rel.endswith(".c"):
        pre = prefixes(rel)
        for name, ln in function_defs(code):
            if name != "main" and not any(name.startswith(p) for p in pre):
                findings.append((rel, "prefix", name, ln))


def load_allow(path):
    allow = {}
    if not os.path.exists(path):
        return allow
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 3)
            if len(parts) < 4:
                raise SystemExit(f"{path}:{no}: want 'path rule word reason'")
            allow[(parts[0], parts[1], parts[2])] = no
    return allow


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    a = ap.parse_args()
    files = []
    for d in FOLDERS:
        full = os.path.join(a.root, d)
        if os.path.isdir(full):
            files += sorted(d + "/" + f for f in os.listdir(full) if f.endswith((".c", ".h")))
    if not files:
        print(f"checksrc: no sources under {a.root}", file=sys.stderr)
        return 1
    findings = []
    for rel in files:
        check_file(a.root, rel, findings)
    allow_path = os.path.join(a.root, "scripts", "checksrc-allow.txt")
    allow = load_allow(allow_path)
    used = set()
    bad = 0
    for rel, rule, word, ln in findings:
        key = (rel, rule, word)
        if key in allow:
            used.add(key)
            continue
        print(f"{rel}:{ln}: {rule}: {word}")
        bad += 1
    for key, no in sorted(allow.items(), key=lambda kv: kv[1]):
        if key not in used:
            print(f"scripts/checksrc-allow.txt:{no}: stale exception {' '.join(key)}")
            bad += 1
    print(f"checksrc: {len(files)} files, {bad} finding(s), {len(used)} listed exception(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
