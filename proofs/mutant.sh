#!/usr/bin/env bash
# proofs/mutant.sh NAME WORKDIR - honesty check: the proof must FAIL on a broken copy.
#
# Copies src/core/ to WORKDIR/NAME/src/core/, applies proofs/mutants/NAME.sed to the file
# named in its "# file:" header (exactly one line must change), then runs proofs/run.sh on
# the copy with --expect-unproved: the exit status is 0 only if WP ran, left a goal
# unproved, and an unproved goal matches the "# expect:" header. The real sources are
# never touched. Headers of a .sed file: file, module, expect, and optionally fct / prop
# (restrict WP to the mutated function and the property that must catch it, for speed),
# passes (run.sh --passes, "bounded" when the module's first pass alone does not prove
# the property) and table (a sed expression applied to proofs/tables/stream.table, which
# must change exactly one line; the copy's proofs/acsl/stream_table.acsl is regenerated
# from it, so the mutant changes the specification and the code together).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 NAME WORKDIR" >&2; exit 2; }
name=$1
work=$2
spec="$ROOT/proofs/mutants/$name.sed"
[ -f "$spec" ] || { echo "mutant.sh: no $spec" >&2; exit 2; }

field() { sed -n "s/^# $1: *//p" "$spec" | head -n 1; }
file=$(field file)
module=$(field module)
expect=$(field expect)
fct=$(field fct)
prop=$(field prop)
passes=$(field passes)
table=$(field table)
[ -n "$file" ] && [ -n "$module" ] && [ -n "$expect" ] ||
    { echo "mutant.sh: $spec lacks a file/module/expect header" >&2; exit 2; }

dir="$work/$name"
rm -rf "$dir"
mkdir -p "$dir/src" || exit 2
cp -R "$ROOT/src/core" "$dir/src/core" || exit 2
sed -f "$spec" "$ROOT/$file" > "$dir/$file" || exit 2

changed=$(diff "$ROOT/$file" "$dir/$file" | grep -c '^>')
if [ "$changed" -ne 1 ]; then
    echo "mutant.sh: $name.sed changed $changed lines of $file instead of 1:" \
         "the source moved, update $spec" >&2
    exit 2
fi
echo "mutant $name: $file"
diff -u "$ROOT/$file" "$dir/$file" | sed -n '/^[-+][^-+]/p'

if [ -n "$table" ]; then
    mkdir -p "$dir/proofs/tables" "$dir/proofs/acsl" || exit 2
    tsrc="$ROOT/proofs/tables/stream.table"
    tdst="$dir/proofs/tables/stream.table"
    sed -e "$table" "$tsrc" > "$tdst" || exit 2
    changed=$(diff "$tsrc" "$tdst" | grep -c '^>')
    if [ "$changed" -ne 1 ]; then
        echo "mutant.sh: the table expression of $name.sed changed $changed lines instead of 1" >&2
        exit 2
    fi
    python3 "$ROOT/proofs/gen_tables.py" acsl "$tdst" "$dir/proofs/acsl/stream_table.acsl" || exit 2
    echo "mutant $name: proofs/tables/stream.table (ACSL regenerated)"
    diff -u "$tsrc" "$tdst" | sed -n '/^[-+][^-+]/p'
fi

# A goal that is false on the mutant fails by its prover's step limit: one pass, the
# module's first (run.sh --passes first: its prover, with the same step limit as in the
# module's own run; AIOTP_PROOF_MUTANT_PASSES to change it), so a false goal costs one
# solver, not three. Every property a mutant targets is proved in the module's own run
# within that pass, so the failure is the mutant's, not the prover's: the step limit is
# the same on every machine and under any load, where a timeout shrinks when two tests
# share the cores. A mutant whose property the module's first pass does not prove alone
# says "# passes: bounded" (the module's step-limited passes, its first prover then the
# other). AIOTP_PROOF_MUTANT_TIMEOUT sets a timeout for passes that have no step limit.
args=(--src "$dir" --out "$dir/out" --expect-unproved "$expect"
      --passes "${AIOTP_PROOF_MUTANT_PASSES:-${passes:-first}}")
[ -n "${AIOTP_PROOF_MUTANT_TIMEOUT:-}" ] && args+=(--timeout "$AIOTP_PROOF_MUTANT_TIMEOUT")
[ -n "$fct" ] && args+=(--fct "$fct")
[ -n "$prop" ] && args+=(--prop "$prop")
exec "$ROOT/proofs/run.sh" "${args[@]}" "$module"
