#!/bin/sh
# fuzz/run_campaign.sh - a time-boxed AFL++ campaign per fuzz target.
#
#   fuzz/run_campaign.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); targets default to "fuzz_stream fuzz_buffered".
# Builds the AFL++ persistent binaries with afl-clang-fast (+ASan/UBSan) into
# $AIOTP_AFL_BUILD (default build-afl/), seeds each campaign with fuzz/corpus/<target>/,
# writes to $AIOTP_AFL_OUT/<target>/ (default build-afl/campaign/) and prints, per target,
# executions, speed, bitmap coverage, crashes and hangs. Exit status 1 if anything was
# found (afl-fuzz -V exits 0 even then, so crashes/id:* are counted). fuzz_negative is
# the exception: it has a planted bug, and it fails when the campaign finds NOTHING.
set -eu

SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-"fuzz_stream fuzz_buffered"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${AIOTP_AFL_BUILD:-$ROOT/build-afl}
OUT=${AIOTP_AFL_OUT:-$BUILD/campaign}

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
       AFL_NO_AFFINITY=1 AFL_QUIET=1 AFL_NO_CRASH_README=1

command -v afl-clang-fast >/dev/null || { echo "afl-clang-fast not found (apt: afl++)"; exit 2; }

# the sanitizers are added by afl-clang-fast itself when these are set at compile time
AFL_USE_ASAN=1 AFL_USE_UBSAN=1 CC=afl-clang-fast \
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIOTP_FUZZ_AFL=ON \
          -DAIOTP_INTEROP=OFF -DAIOTP_WERROR=OFF >/dev/null
for t in $TARGETS; do
    AFL_USE_ASAN=1 AFL_USE_UBSAN=1 cmake --build "$BUILD" --target "${t}_afl" -- -j2 >"$BUILD/build-$t.log" 2>&1 \
        || { echo "build of ${t}_afl failed: $BUILD/build-$t.log"; exit 2; }
done

status=0
for t in $TARGETS; do
    rm -rf "$OUT/$t"
    mkdir -p "$OUT/$t"
    echo "== $t: $SECS s"
    afl-fuzz -i "$ROOT/fuzz/corpus/$t" -o "$OUT/$t" -V "$SECS" -- "$BUILD/fuzz/${t}_afl" \
        >"$OUT/$t.log" 2>&1 || { echo "afl-fuzz failed, see $OUT/$t.log"; status=1; continue; }
    stats="$OUT/$t/default/fuzzer_stats"
    crashes=$(find "$OUT/$t/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
    hangs=$(find "$OUT/$t/default/hangs" -name 'id:*' 2>/dev/null | wc -l)
    for k in execs_done execs_per_sec bitmap_cvg corpus_count stability; do
        printf '   %-14s %s\n' "$k" "$(sed -n "s/^$k *: *//p" "$stats")"
    done
    printf '   %-14s %s\n' crashes "$crashes" hangs "$hangs"
    if [ "$t" = fuzz_negative ]; then
        if [ "$crashes" -eq 0 ]; then
            echo "   FAIL: the planted bug was not found"
            status=1
        else
            echo "   ok: the planted bug was found"
        fi
    elif [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
        echo "   FAIL: findings in $OUT/$t/default/{crashes,hangs}/ (replay them with"
        echo "   build/fuzz/${t}_replay FILE)"
        status=1
    fi
done
exit $status
