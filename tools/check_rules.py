#!/usr/bin/env python3
"""Check the rules: every rule of spec/rules.md has an origin tag and is named by a test
case, tests name no unknown rule, and the oracle's rule tables (src/oracle/*.c) agree
with the spec (same IDs, same tags).

usage: check_rules.py spec/rules.md tests/

Rules are the **ID** markers at the start of the bullets of rules.md (and of
spec/oracle.md, for the trace format rules TRACE-n); each bullet ends with its origin,
`[doc]`, `[cpython]` or `[aiotp]` (spec/oracle.md, "Profiles"). The simulated kernel's
own rules (SIM-*, sim.md beside rules.md, when it exists) must be named by tests too but
have no origin: they are not asyncio's. Tests name rules in the
second field of their T(name, "ID ID ...") entries. The oracle's tables are the
R("ID", DOC|CPYTHON|AIOTP, ...) lines of src/oracle/*.c. The repository is found from the
path of rules.md. The checks run on built-in bad inputs first, so that a checker that
cannot fail fails."""
import pathlib
import re
import sys

TAGS = ("doc", "cpython", "aiotp")
BULLET = re.compile(r"^- \*\*([A-Z][A-Z0-9-]*-[0-9]+)\*\*")
TABLE = re.compile(r'\bR\("([A-Z][A-Z0-9-]*-[0-9]+)",\s*(DOC|CPYTHON|AIOTP)\b')
CASE = re.compile(r'^\s*T\(([a-z0-9_]+),\s*"([^"]*)"\)', re.M)


def spec_rules(text, where):
    """[(id, tag or None)] of the rule bullets of a spec page; a bullet runs until a line
    that is not indented."""
    rules = []
    cur = None
    last = ""
    for line in text.split("\n") + [""]:
        m = BULLET.match(line)
        if cur is not None and (m or not line.startswith("  ") or not line.strip()):
            tag = re.search(r"\[([a-z]+)\]\s*$", last)
            rules.append((cur, tag.group(1) if tag else None, where))
            cur = None
        if m:
            cur = m.group(1)
        if cur is not None:
            last = line
    return rules


def table_rules(sources):
    """{id: [(tag, file)]} of the oracle's rule tables."""
    found = {}
    for name, text in sources:
        for rid, prof in TABLE.findall(text):
            found.setdefault(rid, []).append((prof.lower(), name))
    return found


def problems(spec, tests, tables, behaviour_ids):
    """Everything wrong, one line each."""
    out = []
    ids = [r for r, _, _ in spec]
    for r in sorted({r for r in ids if ids.count(r) > 1}):
        out.append(f"duplicate rule ID in the spec: {r}")
    tags = {}
    for rid, tag, where in spec:
        if where == "sim.md":
            tags[rid] = "untagged"
            continue
        if tag is None:
            out.append(f"rule {rid} ({where}) has no origin tag ([doc], [cpython] or [aiotp])")
        elif tag not in TAGS:
            out.append(f"rule {rid} ({where}) has an unknown tag [{tag}]")
        tags[rid] = tag
    named = {}
    for src, text in tests:
        for case, rids in CASE.findall(text):
            for rid in rids.split():
                named.setdefault(rid, []).append(f"{src}.{case}")
    for rid in behaviour_ids:
        if rid not in named:
            out.append(f"rule {rid} has no test naming it")
    for rid in sorted(set(named) - set(tags)):
        out.append(f"tests name unknown rule {rid}: {', '.join(named[rid])}")
    for rid, where in sorted(tables.items()):
        if len(where) > 1:
            out.append(f"rule {rid} is in more than one oracle table: "
                       f"{', '.join(f for _, f in where)}")
        if rid not in tags:
            out.append(f"the oracle checks {rid} ({where[0][1]}), which the spec does not define")
        elif tags[rid] is not None and where[0][0] != tags[rid]:  # ("untagged": sim.md)
            out.append(f"rule {rid}: the oracle's table ({where[0][1]}) says {where[0][0]}, "
                       f"the spec says {tags[rid]}")
    for rid, _, where in spec:
        if where.endswith("oracle.md") and rid not in tables:
            out.append(f"format rule {rid} of {where} is not in the oracle's tables")
    return out


def selftest():
    """The checks find what they must on inputs made wrong on purpose."""
    spec = spec_rules("- **A-1** one\n  two [doc]\n- **A-2** none\n- **A-3** odd [x]\n\n"
                      "- **A-1** again [aiotp]\n", "s.md")
    spec += spec_rules("- **TRACE-9** t [doc]\n", "oracle.md")
    spec += spec_rules("- **SIM-1** no tag needed\n", "sim.md")
    tables = table_rules([("t.c", 'R("A-1", CPYTHON, "x"), R("B-1", DOC, "y")')])
    got = problems(spec, [("test_x", 'T(a, "A-2 C-1 SIM-1")\n')], tables, ["A-1", "A-2", "SIM-1"])
    want = ["duplicate rule ID in the spec: A-1", "rule A-2 (s.md) has no origin tag",
            "rule A-3 (s.md) has an unknown tag [x]", "rule A-1 has no test naming it",
            "tests name unknown rule C-1", "the oracle checks B-1",
            "rule A-1: the oracle's table (t.c) says cpython",
            "format rule TRACE-9 of oracle.md is not in the oracle's tables"]
    missed = [w for w in want if not any(g.startswith(w) for g in got)]
    if missed or len(got) != len(want):
        print("check_rules.py self-test failed; missed:", missed, "got:", got)
        return False
    return True


def main() -> int:
    if not selftest():
        return 2
    rules_md = pathlib.Path(sys.argv[1])
    tests_dir = pathlib.Path(sys.argv[2])
    root = rules_md.resolve().parent.parent
    oracle_md = root / "spec" / "oracle.md"
    behaviour = spec_rules(rules_md.read_text(), rules_md.name)
    sim_md = rules_md.with_name("sim.md")
    sim = spec_rules(sim_md.read_text(), "sim.md") if sim_md.exists() else []
    spec = behaviour + spec_rules(oracle_md.read_text(), oracle_md.name) + sim
    tests = [(p.stem, p.read_text()) for p in sorted(tests_dir.glob("test_*.c"))]
    tables = table_rules([(str(p.relative_to(root)), p.read_text())
                          for p in sorted((root / "src" / "oracle").glob("*.c"))])
    out = problems(spec, tests, tables, [r for r, _, _ in behaviour + sim])
    for line in out:
        print(line)
    counts = {t: sum(1 for _, tag, _ in behaviour if tag == t) for t in TAGS}
    print(f"{len(behaviour)} rules ({counts['doc']} doc, {counts['cpython']} cpython, "
          f"{counts['aiotp']} aiotp), {len(spec) - len(behaviour) - len(sim)} format rules, "
          f"{len(sim)} sim rules; {len(tables)} checked by the oracle; {len(out)} problems")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
