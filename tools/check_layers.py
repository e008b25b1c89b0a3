#!/usr/bin/env python3
"""Check the layering of src/ against the table in spec/architecture.md.

Usage: check_layers.py SPEC_FILE SRC_DIR

Fails (exit 1) when a file under SRC_DIR matches no row of the table, when a file
includes a header of a higher layer, or when a layer-1 loop file names a transport kind,
a server or a request in its code (comments and strings excluded).
"""
import fnmatch
import os
import re
import sys

KIND_WORDS = re.compile(r"\b\w*(stream|server|req_|request|dgram|datagram|pipe|subproc|tls)\w*\b",
                        re.IGNORECASE)
LOOP_FILES = ("loop.c", "loop_int.h")


def read_table(spec):
    rows = []
    for line in open(spec, encoding="utf-8"):
        m = re.match(r"^\|\s*(\d+)\s*\|[^|]*\|(.*)\|\s*$", line)
        if not m:
            continue
        layer = int(m.group(1))
        for pat in re.findall(r"`([^`]+)`", m.group(2)):
            rows.append((pat, layer))
    if not rows:
        sys.exit(f"{spec}: no layer table found")
    return rows


def layer_of(rows, rel):
    for pat, layer in rows:
        if fnmatch.fnmatch(rel, pat):
            return layer
    return None


def strip_code(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    spec, src = sys.argv[1], sys.argv[2]
    rows = read_table(spec)
    errors = []
    files = {}
    for dirpath, _, names in os.walk(src):
        for n in names:
            if n.endswith((".c", ".h", ".acsl")):
                rel = os.path.relpath(os.path.join(dirpath, n), src)
                files[rel] = os.path.join(dirpath, n)
    for rel, path in sorted(files.items()):
        if rel.endswith(".acsl"):
            continue
        layer = layer_of(rows, rel)
        if layer is None:
            errors.append(f"{rel}: not listed in the layer table of {spec}")
            continue
        text = open(path, encoding="utf-8").read()
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', text, flags=re.M):
            if inc.startswith("aiotp/") or inc.startswith("acsl/"):
                continue  # public headers (include/) and ACSL predicate files
            cand = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
            target = cand if cand in files else (inc if inc in files else None)
            if target is None:
                errors.append(f"{rel}: includes \"{inc}\", not a file under src/")
                continue
            tl = layer_of(rows, target)
            if tl is not None and tl > layer:
                errors.append(f"{rel} (layer {layer}) includes {target} (layer {tl})")
        if os.path.basename(rel) in LOOP_FILES and layer == 1:
            for m in KIND_WORDS.finditer(strip_code(text)):
                errors.append(f"{rel}: the loop names a kind in its code: {m.group(0)}")
    for e in errors:
        print("layers:", e)
    print(f"layers: {len(files)} files checked, {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
