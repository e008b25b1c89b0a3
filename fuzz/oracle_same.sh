#!/bin/sh
# fuzz/oracle_same.sh - two builds of aiotp-trace-check give the same verdicts.
#
#   fuzz/oracle_same.sh OLD_CHECKER NEW_CHECKER [DIR...]
#
# For a change to src/oracle/ that must keep the oracle's behaviour (a speed-up): runs
# both checkers, with four option sets (--all --json; --all --profile doc; --all --profile
# cpython --require-lost; --max-transports 2 --all --json --profile aiotp), on every trace
# of tests/traces/, every input of fuzz/corpus/fuzz_trace/ (its first two bytes, fuzz_trace's
# options and run choice, dropped) and every file of the DIRs given (traces as they are, e.g. the lines a
# harness printed with FZ_TRACE=1), and compares everything each prints and its exit
# status. Exit 0: all the same; 1: a difference (listed); 2: usage.
# Used for the oracle parse speed-ups of issue 9 (fuzz/README.md, "Throughput").
set -eu

if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: $0 OLD_CHECKER NEW_CHECKER [DIR...]"
    exit 2
fi
OLD=$1
NEW=$2
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

i=0
for f in "$ROOT"/fuzz/corpus/fuzz_trace/*; do
    i=$((i + 1))
    tail -c +3 "$f" >"$TMP/corpus-$i.trace"
done
for f in "$ROOT"/tests/traces/*.trace; do
    i=$((i + 1))
    cp "$f" "$TMP/tests-$i.trace"
done
for d in "$@"; do
    for f in "$d"/*; do
        [ -f "$f" ] || continue
        i=$((i + 1))
        cp "$f" "$TMP/extra-$i.trace"
    done
done

runs=0
diffs=0
for f in "$TMP"/*.trace; do
    for opts in "--all --json" "--all --profile doc" "--all --profile cpython --require-lost" \
                "--max-transports 2 --all --json --profile aiotp"; do
        runs=$((runs + 1))
        # shellcheck disable=SC2086
        a=$(set +e; "$OLD" $opts "$f" 2>&1; echo "exit $?")
        # shellcheck disable=SC2086
        b=$(set +e; "$NEW" $opts "$f" 2>&1; echo "exit $?")
        if [ "$a" != "$b" ]; then
            diffs=$((diffs + 1))
            echo "DIFFERENT: $opts $(basename "$f")"
        fi
    done
done
echo "oracle_same: $i traces, $runs runs, $diffs differences"
[ "$diffs" -eq 0 ]
