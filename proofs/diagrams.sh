#!/usr/bin/env bash
# proofs/diagrams.sh - the state diagrams of spec/diagrams/, generated from the code.
#
#   proofs/diagrams.sh check  [GEN] [WORKDIR]   regenerate the .dot files into WORKDIR and
#                                              fail if spec/diagrams/*.dot differ (CTest)
#   proofs/diagrams.sh update [GEN]            regenerate spec/diagrams/*.dot and render
#                                              them to *.svg with Graphviz `dot`
#
# GEN is the built proofs/gen_diagrams.c; without it the script compiles one with ${CC:-cc}.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIAG="$ROOT/spec/diagrams"
mode=${1:-}
gen=${2:-}
work=${3:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aiotp-diagrams.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
[ -n "$work" ] || work="$tmp/out"
mkdir -p "$work" || exit 2

if [ -z "$gen" ]; then
    gen="$tmp/gen_diagrams"
    ${CC:-cc} -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror \
        -I"$ROOT/src" "$ROOT/proofs/gen_diagrams.c" "$ROOT/src/core/stream_sm.c" \
        "$ROOT/src/core/flow.c" -o "$gen" || exit 2
fi
rm -f "$work"/*.dot
"$gen" "$work" || { echo "diagrams.sh: $gen failed" >&2; exit 1; }

case $mode in
check)
    status=0
    for f in "$work"/*.dot; do
        name=$(basename "$f")
        if ! diff -u "$DIAG/$name" "$f"; then
            echo "diagrams.sh: spec/diagrams/$name is out of date with the code" >&2
            status=1
        fi
    done
    for f in "$DIAG"/*.dot; do
        [ -e "$f" ] || continue
        case $(basename "$f") in dgram_*|tls_*) continue ;; esac # proofs/dgram_spec.sh, tls_spec.sh check those
        [ -e "$work/$(basename "$f")" ] ||
            { echo "diagrams.sh: spec/diagrams/$(basename "$f") is no longer generated" >&2; status=1; }
    done
    [ $status -eq 0 ] && echo "diagrams.sh: spec/diagrams/*.dot match the code"
    [ $status -eq 0 ] || echo "diagrams.sh: run proofs/diagrams.sh update, review, commit" >&2
    exit $status
    ;;
update)
    command -v dot >/dev/null 2>&1 || { echo "diagrams.sh: graphviz 'dot' not found" >&2; exit 2; }
    mkdir -p "$DIAG" || exit 2
    for f in "$work"/*.dot; do
        name=$(basename "$f" .dot)
        cp "$f" "$DIAG/$name.dot" || exit 2
        dot -Tsvg "$DIAG/$name.dot" -o "$DIAG/$name.svg" || exit 2
        echo "spec/diagrams/$name.dot, spec/diagrams/$name.svg"
    done
    ;;
*)
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
