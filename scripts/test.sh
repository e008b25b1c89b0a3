#!/usr/bin/env bash
# Build and pass every test: unit, examples (with CPython interop), spec coverage,
# proofs, the public headers alone in C99 and C++, install + consumer projects
# (find_package, pkg-config, static, shared, C++, sub-project; nm -D), the API reference
# (Doxygen, no warning), with gcc + ASan/UBSan, again with clang, the sweeps and the load
# test, the threaded tests under ThreadSanitizer, the benchmarks' build and correctness
# checks (bench/smoke.sh), the unit tests under valgrind, and the
# coverage gate (scripts/coverage.sh).
# Strict flags (-Wall -Wextra -Wpedantic -Werror) everywhere. Installs the verification
# toolchain first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)
start=$(date +%s)

step() { printf '\n==== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "gcc, ASan+UBSan, all tests including the Frama-C proofs"
cmake -S . -B build/gcc-asan -DCMAKE_C_COMPILER=gcc -DAIOTP_SANITIZE=ON -DAIOTP_PROOFS=ON \
      -DAIOTP_TLS=ON >/dev/null
cmake --build build/gcc-asan -j"$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/gcc-asan -j"$jobs" --output-on-failure

step "the unit tests again on the epoll backend (gcc, ASan+UBSan)"
AIOTP_TEST_BACKEND=epoll ctest --test-dir build/gcc-asan -j"$jobs" --output-on-failure -L unit

step "the stream-transport suite again on the simulated kernel (gcc, ASan+UBSan)"
AIOTP_TEST_BACKEND=sim ctest --test-dir build/gcc-asan -j"$jobs" --output-on-failure -L stream

step "the threaded tests under ThreadSanitizer (gcc; TSan excludes ASan: a build of its own)"
# the wake-up, call_soon_threadsafe from other threads, the resolver's workers (label
# "threads"); any report of a race fails the run (TSan's exit status)
cmake -S . -B build/gcc-tsan -DCMAKE_C_COMPILER=gcc -DAIOTP_SANITIZE_THREAD=ON \
      -DAIOTP_PACKAGE_TESTS=OFF -DAIOTP_DOCS=OFF -DAIOTP_FUZZ=OFF >/dev/null
cmake --build build/gcc-tsan -j"$jobs" --target test_resolver test_cancel test_close_all \
      >/dev/null
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/gcc-tsan -j"$jobs" --output-on-failure \
  -L threads

step "clang, all tests except proofs"
cmake -S . -B build/clang -DCMAKE_C_COMPILER=clang -DAIOTP_CXX_COMPILER=clang++ \
      -DAIOTP_TLS=ON >/dev/null
cmake --build build/clang -j"$jobs" >/dev/null
ctest --test-dir build/clang -j"$jobs" --output-on-failure -LE proof

step "the benchmarks build and pass their correctness checks (bench/smoke.sh; nothing timed)"
bench/smoke.sh build/bench

step "fuzzing: short AFL++ campaigns and libFuzzer runs, any finding fails (fuzz/README.md)"
# AFL++ (afl-clang-fast, ASan+UBSan, persistent): 20 s per target; the negative targets
# must find their planted bugs (FLOW-4, DGRAM-FLOW-1) and fd leak. Then libFuzzer, 5 s
# per target.
fuzz/run_campaign.sh 20 fuzz_stream fuzz_buffered fuzz_dgram fuzz_subproc fuzz_trace fuzz_tls
fuzz/run_campaign.sh 10 fuzz_negative fuzz_fdleak
# fuzz_dgram_negative's planted bug takes AFL++ 8-25 s from all-zeros (10 s missed it once)
fuzz/run_campaign.sh 45 fuzz_dgram_negative
fuzz/run_campaign.sh --libfuzzer 5 fuzz_stream fuzz_buffered fuzz_dgram fuzz_subproc fuzz_trace fuzz_tls \
  fuzz_negative

step "the sweeps' case counts (re-entrancy matrix, fault sweep) and the load test"
# (they ran above with everything else; their counts, from the ctest log)
ctest --test-dir build/gcc-asan -L 'sweep|load' -V 2>/dev/null |
  grep -E 're-entrancy matrix|fault sweep \(|load (clients|server):|emfile:' | sed 's/^[0-9]*: //'

step "valgrind memcheck, unit test binaries and the demo (gcc build)"
cmake -S . -B build/gcc -DCMAKE_C_COMPILER=gcc -DAIOTP_TLS=ON >/dev/null
cmake --build build/gcc -j"$jobs" >/dev/null
fail=0
for bin in build/gcc/tests/test_* build/gcc/examples/demo; do
  [ -x "$bin" ] || continue
  rc=0
  TH_TIMEOUT=300 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$bin" >/dev/null 2>build/gcc/valgrind.log || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "valgrind: $bin failed:"; cat build/gcc/valgrind.log; fail=1
  else
    echo "valgrind: $bin clean"
  fi
done
[ "$fail" -eq 0 ]

# last, so that every other check has run when a file under the floor fails it
step "coverage of src/ with its floors (scripts/coverage.sh: gcc --coverage, gcovr)"
scripts/coverage.sh

step "all test runs passed"
