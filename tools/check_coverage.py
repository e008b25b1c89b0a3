#!/usr/bin/env python3
"""Check a gcovr JSON summary of src/ against the floors (scripts/coverage.sh sets them):
lines and branches over src/, branches over src/core/. Prints one line per file."""
import json
import sys


def pct(covered: int, total: int) -> float:
    return 100.0 * covered / total if total else 100.0


def main() -> int:
    path, floor_lines, floor_branches, floor_core = sys.argv[1], *map(float, sys.argv[2:5])
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    files = sorted(data["files"], key=lambda f: f["filename"])
    tl = tc = bl = bc = cbl = cbc = 0
    print(f"{'file':28} {'lines':>16} {'branches':>16}")
    for f in files:
        name = f["filename"]
        lc, lt = f["line_covered"], f["line_total"]
        bcv, btt = f["branch_covered"], f["branch_total"]
        tl, tc, bl, bc = tl + lt, tc + lc, bl + btt, bc + bcv
        if name.startswith("src/core/"):
            cbl, cbc = cbl + btt, cbc + bcv
        print(f"{name:28} {pct(lc, lt):6.1f}% {lc:4}/{lt:<5} {pct(bcv, btt):6.1f}% {bcv:4}/{btt:<5}")
    lines, branches, core = pct(tc, tl), pct(bc, bl), pct(cbc, cbl)
    print(f"{'src/ (all)':28} {lines:6.1f}% {tc:4}/{tl:<5} {branches:6.1f}% {bc:4}/{bl:<5}")
    print(f"{'src/core/ branches':28} {'':16} {core:6.1f}% {cbc:4}/{cbl:<5}")
    fails = []
    if lines < floor_lines:
        fails.append(f"lines {lines:.1f}% < {floor_lines:g}%")
    if branches < floor_branches:
        fails.append(f"branches {branches:.1f}% < {floor_branches:g}%")
    if core < floor_core:
        fails.append(f"src/core/ branches {core:.1f}% < {floor_core:g}%")
    if fails:
        print("coverage: below the floor: " + "; ".join(fails))
        return 1
    print(f"coverage: OK (floors: lines {floor_lines:g}%, branches {floor_branches:g}%, "
          f"src/core/ branches {floor_core:g}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
