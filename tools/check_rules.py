#!/usr/bin/env python3
"""Fail when a rule of spec/rules.md is named by no test case, or a test names a rule
that does not exist.

usage: check_rules.py spec/rules.md tests/
Rules are the **ID** markers at the start of the bullets of rules.md and of sim.md beside
it (the simulated kernel's own rules, SIM-*); tests name rules in the second field of
their T(name, "ID ID ...") entries."""
import pathlib
import re
import sys


def main() -> int:
    rules_md = pathlib.Path(sys.argv[1])
    tests_dir = pathlib.Path(sys.argv[2])
    rules = []
    for md in (rules_md, rules_md.with_name("sim.md")):
        if md.exists():
            rules += re.findall(r"^- \*\*([A-Z][A-Z0-9-]*-[0-9]+)\*\*", md.read_text(), re.M)
    dup = {r for r in rules if rules.count(r) > 1}
    named = {}
    for src in sorted(tests_dir.glob("test_*.c")):
        for case, ids in re.findall(r'^\s*T\(([a-z0-9_]+),\s*"([^"]*)"\)', src.read_text(), re.M):
            for rid in ids.split():
                named.setdefault(rid, []).append(f"{src.stem}.{case}")
    missing = [r for r in rules if r not in named]
    unknown = sorted(set(named) - set(rules))
    for r in sorted(dup):
        print(f"duplicate rule ID in {rules_md} or sim.md: {r}")
    for r in missing:
        print(f"rule {r} has no test naming it")
    for r in unknown:
        print(f"tests name unknown rule {r}: {', '.join(named[r])}")
    print(f"{len(rules)} rules, {len(rules) - len(missing)} covered, "
          f"{len(missing)} uncovered, {len(unknown)} unknown names")
    return 1 if (missing or unknown or dup) else 0


if __name__ == "__main__":
    sys.exit(main())
