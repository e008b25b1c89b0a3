#!/usr/bin/env python3
"""Prepare the run-time contract checks of the pure core (the -DAIOTP_CHECK_CONTRACTS=ON
build, proofs/contracts.sh, spec/proofs.md "The shell's side").

usage: contracts.py ROOT OUT

Copies src/core/*.{c,h} and proofs/acsl/*.acsl to OUT/src/core and OUT/proofs/acsl and
rewrites the copies for E-ACSL (Frama-C's run-time assertion checker):
  * every function contract keeps its `requires` clauses only (what the callers owe; the
    rest is proven by WP and needs no run-time check);
  * \\valid, \\valid_read and \\separated become \\true: E-ACSL can only judge memory that
    instrumented code allocated, and the shell (not instrumented) passes pointers into its
    own stack (the write-buffer segments, the timer out-parameter). Pointer validity is
    what the ASan build checks instead;
  * loop annotations, assertions, ghost code and the contracts of static helpers in the
    .c files are dropped (proven; only core functions call the helpers).
Then writes OUT/checked_wrappers.c (aiotp__checked__F calling F, for every core function
with a contract, static inline ones included) and OUT/aiotp_checked.h, which the shell's
files are compiled with (-include): it includes every core header and redirects every
call F(...) to aiotp__checked__F(...), so that each call reaches the instrumented F, which
checks its requires on entry and aborts with the failing clause.
Prints what it kept and replaced; fails if a contract it cannot read is found."""
import pathlib
import re
import shutil
import sys

CLAUSE_KW = ("requires", "ensures", "assigns", "behavior", "assumes", "complete", "disjoint",
             "decreases", "terminates", "exits", "allocates", "frees")


def strip_builtin(text, name):
    """Replace name(...) (balanced parentheses) by \\true; -> (text, count)."""
    out, i, n = [], 0, 0
    pat = re.compile(re.escape(name) + r"\s*\(")
    while True:
        m = pat.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while depth:
            if text[j] == "(":
                depth += 1
            elif text[j] == ")":
                depth -= 1
            j += 1
        out.append("\\true")
        n += 1
        i = j
    return "".join(out), n


def strip_memory(text):
    total = 0
    for b in ("\\valid_read", "\\valid", "\\separated"):
        text, n = strip_builtin(text, b)
        total += n
    return text, total


def requires_only(block):
    """A contract's body -> its requires clauses (clauses start a line with a keyword)."""
    lines = block.split("\n")
    keep, cur, keeping = [], [], False
    for line in lines:
        first = line.strip().split(":")[0].split()[0] if line.strip() else ""
        if first in CLAUSE_KW:
            if keeping and cur:
                keep.append("\n".join(cur))
            cur, keeping = [line], first == "requires"
        elif keeping:
            cur.append(line)
    if keeping and cur:
        keep.append("\n".join(cur))
    return keep


ANNOT = re.compile(r"/\*@(.*?)\*/", re.S)
FUNC_AFTER = re.compile(r"\s*((?:static\s+inline\s+|static\s+)?[A-Za-z_][\w\s\*]*?\b(aiotp__\w+)\s*"
                        r"\(([^)]*)\))\s*([;{])", re.S)


DEF_RE = re.compile(r"\bpredicate\s+(\w+)\s*(\{\w+\})?\s*\(([^)]*)\)\s*=", re.S)


def read_predicates(texts):
    """Predicate definitions of the .acsl files whose parameters include a pointer (E-ACSL
    25 does not translate predicates that read memory: they are inlined) -> {name:
    (params, body)}"""
    preds = {}
    for text in texts:
        text = "\n".join(l for l in text.split("\n") if not l.strip().startswith("//"))
        for m in DEF_RE.finditer(text):
            params = [p.strip() for p in m.group(3).split(",") if p.strip()]
            if not any("*" in p for p in params):
                continue
            nxt = re.search(r"\b(predicate|logic|lemma|axiomatic)\b|\*/", text[m.end():])
            body = text[m.end(): m.end() + (nxt.start() if nxt else len(text))].strip()
            body = body.rstrip(";").strip()
            names = [re.search(r"(\w+)\s*$", p).group(1) for p in params]
            preds[m.group(1)] = (names, body)
    return preds


def split_args(text, start):
    """Arguments of a call whose '(' is at text[start-1] -> (args, end index after ')')"""
    depth, j, args, cur = 1, start, [], []
    while depth:
        c = text[j]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        if c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        j += 1
    args.append("".join(cur).strip())
    return args, j + 1


def inline_preds(text, preds, depth=0):
    if depth > 8:
        raise SystemExit("contracts.py: predicates nest too deep")
    changed = True
    while changed:
        changed = False
        for name, (params, body) in preds.items():
            m = re.search(rf"\b{name}\s*\(", text)
            if not m:
                continue
            args, end = split_args(text, m.end())
            if len(args) != len(params):
                raise SystemExit(f"contracts.py: {name} called with {len(args)} arguments")
            b = body
            for prm, arg in zip(params, args):
                b = re.sub(rf"(?<![\w.>]){prm}\b", lambda _m, a=arg: "(" + a + ")", b)
            text = text[:m.start()] + "(" + b + ")" + text[end:]
            changed = True
    return text


def rewrite(path, stats, funcs, preds):
    text = path.read_text()
    is_header = path.suffix == ".h"
    out, i = [], 0
    for m in ANNOT.finditer(text):
        out.append(text[i:m.start()])
        body = m.group(1)
        after = FUNC_AFTER.match(text, m.end())
        words = body.split()
        if words and words[0] == "ghost":
            stats["ghost"] += 1
        elif any(re.search(rf"^\s*{k}\b", body, re.M) for k in ("requires", "ensures", "assigns")) \
                and after and not re.search(r"^\s*loop\b", body, re.M):
            if not is_header:
                # a static helper of a .c file: its callers are core functions, proven to
                # meet its requires; only what the shell owes is checked at run time
                stats["internal"] += 1
                i = m.end()
                continue
            reqs = requires_only(body)
            kept = []
            for r in reqs:
                r2, n = strip_memory(inline_preds(r, preds))
                stats["memory"] += n
                kept.append(r2.rstrip())
            stats["requires"] += len(kept)
            if kept:
                out.append("/*@" + "\n".join(kept) + "\n*/")
            if is_header and after.group(2) not in funcs:
                funcs[after.group(2)] = (after.group(1), after.group(3))
        else:
            stats["dropped"] += 1  # loop annotations, assertions
        i = m.end()
    out.append(text[i:])
    path.write_text("".join(out))


def params_of(params):
    """'aiotp__ring *r, size_t extra' -> ['r', 'extra']; 'void' -> []"""
    p = params.strip()
    if p == "void" or not p:
        return []
    names = []
    for part in p.split(","):
        m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", part.strip())
        if not m:
            raise SystemExit(f"contracts.py: cannot read parameter '{part}'")
        names.append(m.group(1))
    return names


# src/core/ files of other libraries (AIOTP_TLS_SOURCES: tls_sm belongs to aiotp_tls, which
# is not built with the checks).
NOT_CORE = ("tls_sm",)


def core_files(root, pattern):
    return sorted(f for f in (root / "src/core").glob(pattern) if f.stem not in NOT_CORE)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, out = pathlib.Path(argv[1]).resolve(), pathlib.Path(argv[2]).resolve()
    shutil.rmtree(out / "src", ignore_errors=True)
    shutil.rmtree(out / "proofs", ignore_errors=True)
    (out / "src/core").mkdir(parents=True)
    (out / "proofs/acsl").mkdir(parents=True)
    for f in core_files(root, "*.[ch]"):
        shutil.copy(f, out / "src/core" / f.name)
    texts = []
    for f in sorted((root / "proofs/acsl").glob("*.acsl")):
        t, n = strip_memory(f.read_text())
        texts.append(t)
        (out / "proofs/acsl" / f.name).write_text(t)
    preds = read_predicates(texts)
    stats = {"requires": 0, "memory": 0, "dropped": 0, "ghost": 0, "internal": 0}
    funcs = {}
    for f in sorted((out / "src/core").glob("*.[ch]")):
        rewrite(f, stats, funcs, preds)
    if not funcs:
        raise SystemExit("contracts.py: no core function found")
    headers = [f.name for f in core_files(root, "*.h")]
    W = ["/* GENERATED by proofs/contracts.py: every core function with a contract, reached",
         "   through an external wrapper so that the shell's calls (even to static inline",
         "   functions) go to the instrumented definition. */"]
    W += [f'#include "core/{h}"' for h in headers]
    W.append("")
    H = ["/* GENERATED by proofs/contracts.py: included (-include) into the shell's files in",
         "   the contract-checking build: calls to core functions go to the checked wrappers. */",
         "#ifndef AIOTP_CHECKED_H", "#define AIOTP_CHECKED_H"]
    H += [f'#include "core/{h}"' for h in headers]
    for name, (decl, params) in sorted(funcs.items()):
        decl = re.sub(r"^\s*static\s+inline\s+|^\s*static\s+", "", decl)
        decl = " ".join(decl.split())
        wname = name.replace("aiotp__", "aiotp__checked__", 1)
        wdecl = decl.replace(name + "(", wname + "(", 1)
        args = ", ".join(params_of(params))
        ret = "" if re.match(r"void\s+aiotp__", decl) else "return "
        W.append(f"{wdecl}\n{{\n    {ret}{name}({args});\n}}\n")
        H.append(f"{wdecl};")
        H.append(f"#define {name}(...) {wname}(__VA_ARGS__)")
    H.append("#endif")
    (out / "checked_wrappers.c").write_text("\n".join(W) + "\n")
    (out / "aiotp_checked.h").write_text("\n".join(H) + "\n")
    print(f"contracts.py: {len(funcs)} core functions wrapped; {stats['requires']} requires clauses "
          f"kept; {stats['memory']} \\valid/\\separated terms left to ASan; {stats['dropped']} "
          f"loop annotations/assertions, {stats['ghost']} ghost blocks and the contracts of "
          f"{stats['internal']} static helpers dropped (proven)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
