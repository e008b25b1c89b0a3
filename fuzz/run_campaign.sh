#!/bin/sh
# fuzz/run_campaign.sh - time-boxed fuzzing campaigns, one target after the other.
#
#   fuzz/run_campaign.sh [--libfuzzer] [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); targets default to "fuzz_stream fuzz_buffered fuzz_dgram
# fuzz_trace". fuzz_tls (the TLS transport) needs OpenSSL 3: naming it configures the
# build with -DAIOTP_TLS=ON. AFL++ (default): builds the persistent binaries with afl-clang-fast
# (+ASan/UBSan) into $AIOTP_AFL_BUILD (default build-afl/), seeds each campaign with
# fuzz/corpus/<target>/ and writes to $AIOTP_AFL_OUT/<target>/ (default
# $AIOTP_AFL_BUILD/campaign/). --libfuzzer: builds the libFuzzer binaries with clang-14
# (+ASan/UBSan, leak detection per input) into $AIOTP_LF_BUILD (default
# build-afl/libfuzzer/) and runs each for SECONDS, new inputs in
# $AIOTP_LF_BUILD/campaign/<target>/corpus/. Prints per target executions, speed,
# coverage, crashes and hangs.
#
# Exit status: 0 nothing found; 1 something was found (afl-fuzz -V exits 0 even then, so
# crashes/id:* and hangs/id:* are counted, a hang only if its replay also times out or
# fails; libFuzzer artifacts likewise), or a committed seed crashes or hangs; 2 the tools are missing, the build failed, or the fuzzer did not
# start or did not run. The negative targets are the exception: fuzz_negative (planted
# FLOW-4 bug) fails when the campaign finds NOTHING, or finds something that is not a
# FLOW-* violation; fuzz_dgram_negative (planted DGRAM-FLOW-1 bug: resume_writing above
# low) likewise with a DGRAM-FLOW-1 violation; fuzz_fdleak (AFL++ only: a real fd leaked
# on inputs starting with 'L') likewise with the drivers' FD-LEAK report.
#
# Needs no TTY and no core_pattern change (AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES, no UI).
# AFL++ binds itself and the target to a core no other process is bound to (afl-fuzz's
# default: with AFL_NO_AFFINITY, persistent mode's round trips crossed between cores and
# capped every target near 4,000 execs/s on an idle 2-vCPU machine; fuzz/README.md,
# "Throughput"). When afl-fuzz refuses to start because no core is free (every core bound
# to another process, or none it may bind to), the campaign is retried once with
# AFL_NO_AFFINITY=1 and says so; each target's output names its core. A caller's
# AFL_NO_AFFINITY is honoured.
# AIOTP_FUZZ_JOBS: build parallelism (default nproc). AIOTP_AFL_TIMEOUT: afl-fuzz -t in ms
# (default 1000).
set -eu

ENGINE=afl
if [ "${1:-}" = --libfuzzer ]; then
    ENGINE=libfuzzer
    shift
fi
SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-"fuzz_stream fuzz_buffered fuzz_dgram fuzz_trace"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${AIOTP_FUZZ_JOBS:-$(nproc)}
case $SECS in
    '' | *[!0-9]*) echo "run_campaign: SECONDS must be a number, not '$SECS'"; exit 2 ;;
esac

for t in $TARGETS; do
    case "$ENGINE:$t" in
        *:fuzz_stream | *:fuzz_buffered | *:fuzz_dgram | *:fuzz_subproc | *:fuzz_trace | \
        *:fuzz_tls | \
        *:fuzz_negative | \
        *:fuzz_dgram_negative | afl:fuzz_fdleak) ;;
        *) echo "run_campaign: unknown target '$t' for $ENGINE"; exit 2 ;;
    esac
done

# expected_pattern TARGET: what a finding of a negative target must report ("" if none)
expected_pattern() {
    case $1 in
        fuzz_negative) echo 'FUZZ VIOLATION \[FLOW-' ;;
        fuzz_dgram_negative) echo 'FUZZ VIOLATION \[DGRAM-FLOW-1\]' ;;
        fuzz_fdleak) echo 'FUZZ VIOLATION \[FD-LEAK\]' ;;
        *) echo '' ;;
    esac
}

# fuzz_tls is built only with the TLS library (otherwise the build's default or cache)
TLS_OPT=""
case " $TARGETS " in *" fuzz_tls "*) TLS_OPT=-DAIOTP_TLS=ON ;; esac

# configure_build BUILD LOG TARGETS... (cmake arguments come from the caller's env)
fail_build() {
    echo "run_campaign: $1 failed; the last lines of $2:"
    tail -n 30 "$2"
    exit 2
}

if [ "$ENGINE" = afl ]; then
    BUILD=${AIOTP_AFL_BUILD:-$ROOT/build-afl}
    OUT=${AIOTP_AFL_OUT:-$BUILD/campaign}
    for tool in afl-clang-fast afl-fuzz; do
        command -v $tool >/dev/null || { echo "run_campaign: $tool not found (apt: afl++; scripts/setup.sh)"; exit 2; }
    done
    # no AFL_NO_AFFINITY here: afl-fuzz binds to a free core (the header)
    export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
           AFL_QUIET=1 AFL_NO_CRASH_README=1
    mkdir -p "$BUILD"
    # the sanitizers are added by afl-clang-fast itself when these are set at compile time
    # shellcheck disable=SC2086
    AFL_USE_ASAN=1 AFL_USE_UBSAN=1 CC=afl-clang-fast \
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIOTP_FUZZ_AFL=ON \
              -DAIOTP_INTEROP=OFF $TLS_OPT >"$BUILD/configure.log" 2>&1 \
        || fail_build "configuring $BUILD" "$BUILD/configure.log"
    bins=""
    for t in $TARGETS; do bins="$bins ${t}_afl"; done
    # fuzz/afl_denylist.txt: helpers whose loops only count digits and bytes stay
    # uninstrumented (a change of the list needs a clean $BUILD)
    # shellcheck disable=SC2086
    AFL_USE_ASAN=1 AFL_USE_UBSAN=1 AFL_LLVM_DENYLIST="$ROOT/fuzz/afl_denylist.txt" \
        cmake --build "$BUILD" -j "$JOBS" --target $bins \
        >"$BUILD/build.log" 2>&1 || fail_build "building$bins" "$BUILD/build.log"
else
    BUILD=${AIOTP_LF_BUILD:-$ROOT/build-afl/libfuzzer}
    OUT=$BUILD/campaign
    command -v clang-14 >/dev/null || { echo "run_campaign: clang-14 not found (scripts/setup.sh)"; exit 2; }
    mkdir -p "$BUILD"
    # shellcheck disable=SC2086
    CC=clang-14 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DAIOTP_FUZZ_LIBFUZZER=ON -DAIOTP_SANITIZE=ON -DAIOTP_INTEROP=OFF $TLS_OPT \
          -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >"$BUILD/configure.log" 2>&1 \
        || fail_build "configuring $BUILD" "$BUILD/configure.log"
    bins=""
    for t in $TARGETS; do bins="$bins ${t}_libfuzzer"; done
    # shellcheck disable=SC2086
    cmake --build "$BUILD" -j "$JOBS" --target $bins >"$BUILD/build.log" 2>&1 \
        || fail_build "building$bins" "$BUILD/build.log"
fi

stat_of() { sed -n "s/^$1 *: *//p" "$2"; }

# run_afl TARGET BIN LOG [unbound]: one afl-fuzz campaign into $OUT/TARGET, with
# AFL_NO_AFFINITY=1 if a 4th argument is given (status: afl-fuzz's)
run_afl() {
    if [ $# -gt 3 ]; then
        AFL_NO_AFFINITY=1 afl-fuzz -i "$ROOT/fuzz/corpus/$1" -o "$OUT/$1" -V "$SECS" \
            -t "${AIOTP_AFL_TIMEOUT:-1000}" -- "$2" </dev/null >"$3" 2>&1
    else
        afl-fuzz -i "$ROOT/fuzz/corpus/$1" -o "$OUT/$1" -V "$SECS" \
            -t "${AIOTP_AFL_TIMEOUT:-1000}" -- "$2" </dev/null >"$3" 2>&1
    fi
}

# no_free_core LOG: afl-fuzz stopped because it found no core to bind to (AFL++ 4.x:
# every core bound to another process, or sched_setaffinity refused on every core)
no_free_core() {
    grep -q -E 'No more free CPU cores|sched_setaffinity failed for CPU' "$1"
}

status=0
for t in $TARGETS; do
    pattern=$(expected_pattern "$t")
    rm -rf "${OUT:?}/$t"
    mkdir -p "$OUT/$t"
    log="$OUT/$t.log"
    rm -f "$log.no-free-core"
    echo "== $t: $ENGINE, $SECS s"
    if [ "$ENGINE" = afl ]; then
        bin="$BUILD/fuzz/${t}_afl"
        if ! run_afl "$t" "$bin" "$log"; then
            if [ -n "${AFL_NO_AFFINITY:-}" ] || ! no_free_core "$log"; then
                echo "   FAIL: afl-fuzz did not run; the last lines of $log:"
                tail -n 20 "$log"
                exit 2
            fi
            echo "   note: afl-fuzz found no free core to bind to (every core is bound to"
            echo "   another process); retrying once unbound, with AFL_NO_AFFINITY=1"
            mv "$log" "$log.no-free-core"
            rm -rf "${OUT:?}/$t"
            mkdir -p "$OUT/$t"
            if ! run_afl "$t" "$bin" "$log" unbound; then
                echo "   FAIL: afl-fuzz did not run unbound either; the last lines of $log:"
                tail -n 20 "$log"
                exit 2
            fi
        fi
        core=$(sed -n 's/.*binding to #\([0-9][0-9]*\)\..*/\1/p' "$log" | tail -n 1)
        if grep -q 'Not binding to a CPU core' "$log"; then
            cpu="not bound (AFL_NO_AFFINITY)"
        elif [ -n "$core" ]; then
            cpu="bound to core $core"
        else
            cpu="not bound (afl-fuzz did not say why; see $log)"
        fi
        stats="$OUT/$t/default/fuzzer_stats"
        execs=$(stat_of execs_done "$stats" 2>/dev/null || true)
        if [ ! -f "$stats" ] || [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
            echo "   FAIL: afl-fuzz left no statistics or ran nothing; see $log"
            exit 2
        fi
        printf '   %-14s %s\n' cpu "$cpu"
        for k in execs_done execs_per_sec bitmap_cvg corpus_count stability; do
            printf '   %-14s %s\n' "$k" "$(stat_of $k "$stats")"
        done
        findings=$(find "$OUT/$t/default/crashes" "$OUT/$t/default/hangs" -name 'id:*' \
                   2>/dev/null | sort)
        crashes=$(find "$OUT/$t/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
        # a hang is an input that took longer than -t once; on a loaded machine that can be
        # the machine: it counts only if its replay (one process) also takes 20 s or fails
        hangs=0
        for h in $(find "$OUT/$t/default/hangs" -name 'id:*' 2>/dev/null); do
            if timeout 20 "$bin" <"$h" >/dev/null 2>&1; then
                echo "   (a hang that replays in time, not counted: $h)"
                findings=$(echo "$findings" | grep -v -F "$h" || true)
            else
                hangs=$((hangs + 1))
            fi
        done
        # a committed seed that crashes or hangs is skipped by afl-fuzz with a warning only
        bad_seeds=$(grep -c -E 'results in a (crash|timeout)|skipping .*(crash|timeout)' "$log" || true)
        replay="$bin < FILE"
    else
        bin="$BUILD/fuzz/${t}_libfuzzer"
        maxlen=512
        [ "$t" = fuzz_trace ] && maxlen=8192
        case $t in fuzz_dgram* | fuzz_tls | fuzz_subproc) maxlen=1025 ;; esac # a header byte and 256 records
        mkdir -p "$OUT/$t/corpus"
        seeds="$ROOT/fuzz/corpus/$t"
        if [ -n "$pattern" ]; then
            # a negative target starts from all-zeros only: it must find the bug itself
            cp "$ROOT/fuzz/corpus/$t/all-zeros" "$OUT/$t/corpus/"
            seeds=""
        fi
        set +e
        # shellcheck disable=SC2086
        "$bin" -max_total_time="$SECS" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$OUT/$t/" \
            "$OUT/$t/corpus" $seeds </dev/null >"$log" 2>&1
        rc=$?
        set -e
        findings=$(find "$OUT/$t" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'timeout-*' \
                   -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'oom-*' | sort)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        if [ -z "$findings" ] && { [ "$rc" -ne 0 ] || [ -z "$execs" ] || [ "$execs" -eq 0 ]; }; then
            echo "   FAIL: libFuzzer exited $rc without an artifact, or ran nothing; the last lines of $log:"
            tail -n 20 "$log"
            exit 2
        fi
        printf '   %-14s %s\n' execs_done "$execs" \
            execs_per_sec "$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")" \
            coverage "$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*\(cov: .*\) lim:.*/\1/p')"
        crashes=$(echo "$findings" | grep -c -v -E '(^$|/timeout-)' || true)
        hangs=$(echo "$findings" | grep -c '/timeout-' || true)
        bad_seeds=0 # libFuzzer stops with an artifact on a crashing seed
        replay="$bin FILE"
    fi
    printf '   %-14s %s\n' crashes "$crashes" hangs "$hangs"
    if [ -n "$pattern" ]; then
        # negative target: it must find the planted problem, and only that
        if [ "$crashes" -eq 0 ]; then
            echo "   FAIL: the planted bug was not found"
            status=1
            continue
        fi
        first=$(echo "$findings" | head -n 1)
        if [ "$ENGINE" = afl ]; then
            report=$("$bin" <"$first" 2>&1 >/dev/null || true)
        else
            report=$("$bin" "$first" 2>&1 >/dev/null || true)
        fi
        if echo "$report" | grep -q -E "$pattern"; then
            echo "   ok: the planted bug was found: $(echo "$report" | grep -m 1 -E "$pattern")"
        else
            echo "   FAIL: a finding, but not the planted bug ($pattern); $first replays as:"
            echo "$report" | head -n 20
            status=1
        fi
    elif [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ] || [ "$bad_seeds" -gt 0 ]; then
        echo "   FAIL: findings ($crashes crashes, $hangs hangs, $bad_seeds bad seeds, see $log);"
        echo "   replay with $replay, or build/*/fuzz/${t}_replay FILE. The first one:"
        first=$(echo "$findings" | head -n 1)
        if [ -n "$first" ]; then
            if [ "$ENGINE" = afl ]; then
                "$bin" <"$first" 2>&1 | grep -m 3 -E 'VIOLATION|ERROR|SUMMARY' || true
            else
                "$bin" "$first" 2>&1 | grep -m 3 -E 'VIOLATION|ERROR|SUMMARY' || true
            fi
        fi
        status=1
    fi
done
exit $status
