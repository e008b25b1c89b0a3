#!/usr/bin/env python3
"""The ledger: for every rule of spec/rules.md, whether it is proven (both halves, or
which half), tested, or both. Writes spec/ledger.md.

usage: gen_ledger.py [--goals DIR [--by-hand MODULES]] (--update | --check) ROOT

  ROOT           the repository (spec/rules.md, proofs/ledger.map, tests/test_*.c)
  --goals DIR    a proof run's work directory: DIR/<module>/<module>.goals, as proofs/run.sh
                 writes them (one line per property: name, goals, proved). Every clause the
                 map cites must then have goals, all proved. Without it, every clause the
                 map cites must exist as a named clause in src/core/ or proofs/ (the proof
                 run itself is checked by CTest proof.ledger).
  --by-hand M,...  modules proven by running proofs/run.sh by hand, not by the gated run
                 (theap, spec/proofs.md): with --goals, their clauses are only required to
                 exist in src/core/ or proofs/ (the map's text for them says so)
  --update       rewrite spec/ledger.md
  --check        fail if spec/ledger.md differs from what would be written

Tolerant of what other branches add to rules.md: rule lines are "- **ID** ..." with
anything after the ID (profile tags like [doc] included), in any section, new prefixes
(DGRAM-...) included; a rule the map does not cite is "tested" (or "neither")."""
import pathlib
import re
import sys

RULE_RE = re.compile(r"^\s*-\s+\*\*([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-[0-9]+)\*\*", re.M)
SECTION_RE = re.compile(r"^##\s+(.*?)\s*$")
TEST_RE = re.compile(r'^\s*T\(([a-z0-9_]+),\s*"([^"]*)"\)', re.M)
# The stream transport's rules (the target counts these).
STREAM_PREFIXES = ("BASE-", "READ-", "WRITE-", "FLOW-", "PROTO-", "STREAM-")


class LedgerError(Exception):
    pass


def read_rules(path):
    """-> [(section, rule id)] in file order."""
    out, section = [], ""
    for line in path.read_text().splitlines():
        m = SECTION_RE.match(line)
        if m:
            section = re.sub(r"\s*[—-]+\s*§.*$", "", m.group(1)).strip()
            continue
        m = RULE_RE.match(line)
        if m:
            out.append((section, m.group(1)))
    return out


def read_tests(tests_dir):
    named = {}
    for src in sorted(tests_dir.glob("test_*.c")):
        section = src.stem[len("test_"):]
        for case, ids in TEST_RE.findall(src.read_text()):
            for rid in ids.split():
                named.setdefault(rid, []).append(f"{section}.{case}")
    return named


def read_map(path):
    """-> {rule: {half: (module, [clauses], text)}}"""
    out = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        body, _, text = line.partition("|")
        f = body.split()
        if len(f) < 4 or f[1] not in ("never", "does"):
            raise LedgerError(f"{path.name}:{n}: RULE never|does MODULE CLAUSE... | TEXT")
        rule, half, module, clauses = f[0], f[1], f[2], f[3:]
        if half in out.get(rule, {}):
            raise LedgerError(f"{path.name}:{n}: {rule} {half} given twice")
        if module == "-":
            clauses = []
        out.setdefault(rule, {})[half] = (module, clauses, text.strip())
    return out


def clause_regex(clause):
    """A clause token -> (function prefix or None, regex over goal names)."""
    fn = None
    if ":" in clause:
        fn, clause = clause.split(":", 1)
    name = re.escape(clause)
    rx = re.compile(rf"(?:(?:_ensures_|_assert_|_loop_invariant_|^){name}"
                    rf"(?:_part[0-9]+|_established|_preserved)?$|_{name}_ensures_)")
    return fn, rx


def goal_status(goals, module, clause):
    """'proved', 'unproved' or 'missing'"""
    fn, rx = clause_regex(clause)
    hits = [(g, t, v) for g, t, v in goals.get(module, [])
            if rx.search(g) and (fn is None or g.startswith(f"aiotp_{fn}_"))]
    if not hits:
        return "missing"
    return "proved" if all(t == v and t > 0 for _, t, v in hits) else "unproved"


def read_goals(goals_dir, modules):
    goals = {}
    for m in modules:
        f = goals_dir / m / f"{m}.goals"
        if not f.exists():
            raise LedgerError(f"no proof results for module {m}: {f} (run the proof tests first)")
        rows = []
        for line in f.read_text().splitlines():
            p = line.split()
            if len(p) == 3:
                rows.append((p[0], int(p[1]), int(p[2])))
        goals[m] = rows
    return goals


def clause_in_sources(root, clause):
    fn, name = (clause.split(":", 1) + [None])[:2] if ":" in clause else (None, clause)
    if name is None:
        name = clause
    if name.startswith("lemma_"):
        pat = re.compile(rf"\blemma\s+{re.escape(name[len('lemma_'):])}\s*:")
    else:
        pat = re.compile(rf"\b{re.escape(name)}\s*:")
    for d in ("src/core", "proofs/acsl", "proofs/drivers"):
        for f in (root / d).glob("*"):
            if f.suffix in (".h", ".c", ".acsl") and pat.search(f.read_text()):
                return True
    return False


def render(root, rules, tests, lmap, goals):
    errors = []
    known = {r for _, r in rules}
    for r in lmap:
        if r not in known:
            errors.append(f"proofs/ledger.map cites {r}, which is not a rule of spec/rules.md")
    modules = sorted({mod for halves in lmap.values() for mod, _, _ in halves.values() if mod != "-"})

    def half_state(rule, half):
        """-> (state, text, clauses) ; state: proven, n/a, none"""
        h = lmap.get(rule, {}).get(half)
        if h is None:
            return "none", "", []
        module, clauses, text = h
        if module == "-":
            return "n/a", text, []
        for c in clauses:
            if goals is None or module not in goals:
                if not clause_in_sources(root, c):
                    errors.append(f"{rule} {half}: clause {c} not found in src/core or proofs/")
            else:
                st = goal_status(goals, module, c)
                if st != "proved":
                    errors.append(f"{rule} {half}: clause {c} of module {module} is {st}")
        return "proven", text, clauses

    rows = []
    counts = {}
    for section, rule in rules:
        safe = half_state(rule, "never")
        prog = half_state(rule, "does")
        ntest = len(tests.get(rule, []))
        states = {safe[0], prog[0]}
        if "none" not in states and "proven" in states:
            status = "both halves"
        elif safe[0] == "proven":
            status = "safety half"
        elif prog[0] == "proven":
            status = "progress half"
        else:
            status = "—"
        kind = "proven: " + status if status != "—" else ""
        label = (kind + (" + tested" if ntest and kind else "tested" if ntest else "")) or "neither"
        rows.append((section, rule, status, ntest, safe, prog, label))
        key = "stream" if rule.startswith(STREAM_PREFIXES) else "other"
        counts.setdefault((key, status), 0)
        counts[(key, status)] += 1

    def cell(h):
        state, text, clauses = h
        if state == "none":
            return "not proven"
        if state == "n/a":
            return "— " + text
        return "**proven**: " + text + " (" + ", ".join(f"`{c}`" for c in clauses) + ")"

    def total(key):
        return sum(v for (k, _), v in counts.items() if k == key)

    def n(key, status):
        return counts.get((key, status), 0)

    L = []
    L.append("# Ledger: what is proven and what is tested, rule by rule")
    L.append("")
    L.append("GENERATED by `tools/gen_ledger.py` from [rules.md](rules.md), `proofs/ledger.map`,")
    L.append("the test names (`tests/*.c`) and the proof run (`proofs/run.sh`): do not edit; run")
    L.append("`tools/gen_ledger.py --update .` after changing one of them. CTest `ledger.current`")
    L.append("(label unit) fails when this file is not current; `proof.ledger` (label proof) fails")
    L.append("when a clause cited here is not proved by the proof run.")
    L.append("")
    L.append("A rule has two halves: the **safety** half (what the transport never does: at most")
    L.append("once, only when, nothing after) and the **progress** half (what it does: exactly")
    L.append("once, when asked). \"Proven\" means proven by Frama-C WP of the pure core (`src/core`:")
    L.append("the decisions of the state machines, flow control, buffer accounting, the loop's")
    L.append("tables), with the clauses named; the I/O shell that feeds the core its events and")
    L.append("carries out its actions (`src/stream.c`, `src/loop.c`) is tested, not proven")
    L.append("([proofs.md](proofs.md)). A half marked — does not exist for that rule.")
    L.append("")
    L.append("| | stream rules (BASE, READ, WRITE, FLOW, PROTO, STREAM) | other rules | all |")
    L.append("|---|---:|---:|---:|")
    for status, label in (("both halves", "proven, both halves"), ("safety half", "proven, safety half only"),
                          ("progress half", "proven, progress half only"), ("—", "not proven (tested)")):
        L.append(f"| {label} | {n('stream', status)} | {n('other', status)} | "
                 f"{n('stream', status) + n('other', status)} |")
    L.append(f"| rules | {total('stream')} | {total('other')} | {total('stream') + total('other')} |")
    tested = sum(1 for r in rows if r[3] > 0)
    L.append("")
    L.append(f"{tested} of {len(rows)} rules are named by at least one test.")
    section = None
    for sec, rule, status, ntest, safe, prog, label in rows:
        if sec != section:
            section = sec
            L.append("")
            L.append(f"## {sec or 'Rules'}")
            L.append("")
            L.append("| Rule | Status | Safety half | Progress half | Tests |")
            L.append("|------|--------|-------------|---------------|------:|")
        L.append(f"| {rule} | {label} | {cell(safe)} | {cell(prog)} | {ntest} |")
    return "\n".join(L) + "\n", errors


def main(argv):
    args = argv[1:]
    goals_dir = None
    by_hand = set()
    mode = None
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a == "--goals":
            goals_dir = pathlib.Path(args.pop(0))
        elif a == "--by-hand":
            by_hand = {m for m in args.pop(0).split(",") if m}
        elif a in ("--update", "--check"):
            mode = a
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if mode is None or len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(args[0]).resolve()
    try:
        rules = read_rules(root / "spec/rules.md")
        tests = read_tests(root / "tests")
        lmap = read_map(root / "proofs/ledger.map")
        goals = None
        if goals_dir is not None:
            mods = sorted({m for h in lmap.values() for m, _, _ in h.values()
                           if m != "-" and m not in by_hand})
            goals = read_goals(goals_dir, mods)
        text, errors = render(root, rules, tests, lmap, goals)
    except LedgerError as e:
        print(f"gen_ledger.py: {e}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"gen_ledger.py: {e}", file=sys.stderr)
    out = root / "spec/ledger.md"
    if mode == "--update":
        out.write_text(text)
        print(f"gen_ledger.py: wrote {out.relative_to(root)}")
    else:
        if not out.exists() or out.read_text() != text:
            print("gen_ledger.py: spec/ledger.md is not current: run tools/gen_ledger.py --update .",
                  file=sys.stderr)
            return 1
        print("gen_ledger.py: spec/ledger.md is current" +
              (" and every clause it cites is proved" if goals is not None else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
