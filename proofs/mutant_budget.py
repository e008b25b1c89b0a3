#!/usr/bin/env python3
"""proofs/mutant_budget.py - a killed mutant must be killed by its bug, not by its budget.

A mutant test (proofs/mutant.sh) passes when WP leaves a goal matching the mutant's
"# expect:" header unproved, with the provers and limits of its "# passes:" header
("first" when there is none). That only shows something if the same goals are proved on
the real code within the same budget. This check reads the logs of the modules' own runs
(proofs/run.sh, one <module>/<module>.log per module under WORK) and, for every mutant
in proofs/mutants/, finds the goals of the mutated functions ("# fct:") whose names match
"# expect:", then requires each of them to be proved:

  first    in the module's first pass (its first prover and step limit, or Qed);
  bounded  in the module's passes that have a step limit (its first two);
  P@N      (one prover P with a step limit N) by Qed, or by P in the module's run with at
           most N steps.

It fails when a mutant names no goal of the log at all (a renamed clause or function).

Usage: proofs/mutant_budget.py [--modules M1,M2,...] WORK ROOT
       (exit 0: every mutant's budget suffices; --modules: only the mutants of these
       modules, the ones the run covered; default all)
"""
import glob
import os
import re
import sys

HEADER = re.compile(r'^# (file|module|fct|prop|expect|passes|table): *(.*?)\s*$')
GOAL = re.compile(r'\[([^\]]+)\] Goal typed_([A-Za-z0-9_]+) : (\w[\w ]*?)(?: \(|$)(.*)$')
PROVER_NAMES = {'z3': 'Z3', 'cvc4': 'CVC4', 'cvc5': 'CVC5'}


def headers(path):
    h = {}
    with open(path) as f:
        for line in f:
            m = HEADER.match(line)
            if m and m.group(1) not in h:
                h[m.group(1)] = m.group(2)
    return h


def passes_of_log(path):
    """The goal lines of each prover pass, in order (a pass ends at "Proved goals")."""
    passes, cur = [], []
    with open(path) as f:
        for line in f:
            if 'Proved goals' in line:
                passes.append(cur)
                cur = []
            else:
                cur.append(line.rstrip('\n'))
    return passes


def check(work, root, modules):
    failures = 0
    for sed in sorted(glob.glob(os.path.join(root, 'proofs', 'mutants', '*.sed'))):
        name = os.path.basename(sed)[:-len('.sed')]
        h = headers(sed)
        module, expect = h.get('module'), h.get('expect')
        if modules is not None and module not in modules:
            continue
        if not module or not expect:
            print(f'{name}: no module/expect header')
            failures += 1
            continue
        log = os.path.join(work, module, module + '.log')
        if not os.path.exists(log):
            print(f'{name}: no log of module {module} ({log})')
            failures += 1
            continue
        budget = h.get('passes', 'first')
        runs = passes_of_log(log)
        if budget == 'first':
            lines = runs[:1]
        elif budget == 'bounded':
            lines = runs[:2]
        else:
            lines = runs
        prover, limit = None, None
        m = re.fullmatch(r'(z3|cvc4|cvc5)(?::[0-9.]+)?@([0-9]+)', budget)
        if budget not in ('first', 'bounded'):
            if not m:
                print(f'{name}: passes "{budget}" is not first, bounded or one prover with '
                      'a step limit: cannot check its budget')
                failures += 1
                continue
            prover, limit = PROVER_NAMES[m.group(1)], int(m.group(2))
        # WP names a goal after the function with "__" folded to "_"
        fcts = [f.replace('__', '_') for f in h['fct'].split(',')] if h.get('fct') else ['']
        wanted = re.compile(expect)
        proved, seen = set(), {}
        for line in (l for run in lines for l in run):
            g = GOAL.search(line)
            if not g:
                continue
            who, goal, verdict, rest = g.groups()
            base = re.sub(r'_part[0-9]+$', '', goal)
            if not any(base.startswith(f) for f in fcts) or not wanted.search(base):
                continue
            seen.setdefault(goal, line.strip())
            ok = verdict == 'Valid'
            if ok and prover and who != 'Qed':
                steps = re.findall(r'\(([0-9]+)\)\s*$', rest)
                ok = who.startswith(prover) and bool(steps) and int(steps[-1]) <= limit
            if ok:
                proved.add(goal)
            else:
                seen[goal] = line.strip()
        missing = [g for g in seen if g not in proved]
        if not seen:
            print(f'{name}: no goal of {module} matches fct {h.get("fct", "(any)")} and '
                  f'expect /{expect}/')
            failures += 1
        elif missing:
            print(f'{name}: {len(missing)} of {len(seen)} goals it targets are not proved '
                  f'within its budget ({budget}) on the real code:')
            for g in missing[:5]:
                print(f'  {seen[g]}')
            failures += 1
        else:
            print(f'{name}: {len(seen)} goals, each proved within {budget} on the real code')
    return failures


def main():
    args, modules = sys.argv[1:], None
    if len(args) >= 2 and args[0] == '--modules':
        modules = set(args[1].split(','))
        args = args[2:]
    if len(args) != 2:
        print(__doc__[__doc__.index('Usage:'):].strip(), file=sys.stderr)
        return 2
    failures = check(args[0], args[1], modules)
    if failures:
        print(f'mutant_budget: {failures} mutant(s) without a sufficient budget')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
