#!/usr/bin/env bash
# proofs/contracts.sh OUT - the pure core with every `requires` checked at run time
# (E-ACSL, Frama-C's run-time assertion checker), for the -DAIOTP_CHECK_CONTRACTS=ON build.
#
# Writes OUT/core_checked.c (src/core/*.c and the call wrappers, instrumented: each core
# function checks its preconditions on entry and aborts naming the failing clause) and
# OUT/aiotp_checked.h (included into the shell's files: their calls go through the
# wrappers). What is checked and what is left out: proofs/contracts.py, spec/proofs.md.
set -u -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:?usage: contracts.sh OUT}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
command -v frama-c >/dev/null || { echo "contracts.sh: frama-c not found" >&2; exit 2; }
python3 "$ROOT/proofs/contracts.py" "$ROOT" "$OUT" || exit 2
cd "$OUT" || exit 2
# shellcheck disable=SC2046
frama-c src/core/*.c checked_wrappers.c \
    -cpp-extra-args="-I$OUT/src -I$OUT/proofs -D_POSIX_C_SOURCE=200809L" \
    -e-acsl -then-last -print -ocode core_checked.c.tmp > e-acsl.log 2>&1 ||
    { echo "contracts.sh: E-ACSL failed:" >&2; grep -i "error" e-acsl.log | head >&2; exit 1; }
# A clause E-ACSL cannot translate is dropped with "Ignoring annotation": that would be a
# requires left unchecked, so it fails the build. (Its "skipping function ... when
# generating assigns" notes concern the C functions it makes of logic functions: harmless.)
if grep -q "Ignoring annotation" e-acsl.log; then
    echo "contracts.sh: E-ACSL cannot translate some clauses (they would go unchecked):" >&2
    grep -B3 "Ignoring annotation" e-acsl.log | head -40 >&2
    exit 1
fi
mv core_checked.c.tmp core_checked.c
echo "contracts.sh: wrote $OUT/core_checked.c and $OUT/aiotp_checked.h"
