#!/usr/bin/env bash
# Install what building and testing aiotp needs (Debian 12). Idempotent: installs only
# when a tool is missing. A tool that cannot be installed is an error, never a skip.
#   scripts/setup.sh            everything scripts/test.sh needs: compilers, CMake,
#                               Python, valgrind, Frama-C and provers, AFL++/libFuzzer,
#                               Doxygen, pkg-config, OpenSSL 3 (libssl-dev, openssl:
#                               the TLS library and its tests), libuv and libevent
#                               (the benchmarks' peers, bench/smoke.sh) (about 540 MB)
#   scripts/setup.sh --build    only what building the library and the demo needs:
#                               a C compiler, CMake and make (scripts/demo.sh)
set -euo pipefail

if [ "${1:-}" = "--build" ]; then
  need_pkgs=(gcc libc6-dev cmake make)
  need_cmds=(cmake make)
  build_only=1
else
  need_pkgs=(cmake make gcc g++ clang python3 valgrind frama-c-base why3 z3 cvc4 cvc5 jq
             graphviz afl++ clang-14 lld-14 llvm-14 llvm libclang-rt-14-dev doxygen pkgconf
             gcovr python3-uvloop chromium fonts-dejavu-core libssl-dev openssl
             libuv1-dev libevent-dev)
  need_cmds=(cmake make gcc g++ clang clang++ python3 valgrind frama-c why3 z3 cvc4 cvc5 jq
             dot afl-fuzz afl-clang-fast afl-cmin afl-showmap clang-14 ld.lld-14
             llvm-symbolizer timeout doxygen pkg-config nm objdump gcovr openssl)
  build_only=0
fi

# a C compiler: cc, gcc or clang will do for building
have_cc() {
  command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 ||
    command -v clang >/dev/null 2>&1
}

# fuzzing (fuzz/README.md): afl++ does not pull lld-14 and, without recommends, clang-14
# comes without the sanitizer and libFuzzer runtimes (libclang-rt-14-dev): check those too
libfuzzer_rt() {
  local f
  command -v clang-14 >/dev/null 2>&1 || return 1
  f=$(clang-14 -print-file-name="libclang_rt.fuzzer-$(uname -m).a")
  [ -f "$f" ] || return 1
  f=$(clang-14 -print-file-name="libclang_rt.asan-$(uname -m).a")
  [ -f "$f" ]
}

missing=()
for c in "${need_cmds[@]}"; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
# TLS (libaiotp_tls): OpenSSL 3's headers and libraries (Debian: libssl-dev)
libssl_ok() { [ -f /usr/include/openssl/ssl.h ] && pkg-config --atleast-version=3.0 libssl 2>/dev/null; }
have_cc || missing+=("a C compiler")
# the conformance kit (docs/conformance-kit.md): uvloop for Debian's interpreter, and
# Chromium for the trace viewer's test
uvloop_ok() { /usr/bin/python3 -c 'import uvloop' >/dev/null 2>&1; }
# the benchmarks' peers (bench/smoke.sh builds them all): libuv and libevent
peers_ok() { pkg-config --exists libuv libevent_core 2>/dev/null; }
if [ "$build_only" -eq 0 ]; then
  libssl_ok || missing+=("libssl-dev (OpenSSL 3)")
  libfuzzer_rt || missing+=("libFuzzer/ASan runtime of clang-14")
  uvloop_ok || missing+=("python3-uvloop")
  command -v chromium >/dev/null 2>&1 || missing+=("chromium")
  peers_ok || missing+=("libuv1-dev, libevent-dev")
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing: ${missing[*]}; install them (this script knows Debian's apt-get only)" >&2
  exit 1
fi
echo "setup: missing tools: ${missing[*]}; installing Debian packages: ${need_pkgs[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" libc6-dev >/dev/null
for c in "${need_cmds[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1; then
    echo "setup: $c is still missing after installing packages" >&2
    exit 1
  fi
done
if [ "$build_only" -eq 0 ] && ! uvloop_ok; then
  echo "setup: uvloop is still missing for /usr/bin/python3 (python3-uvloop)" >&2
  exit 1
fi
if [ "$build_only" -eq 0 ] && ! peers_ok; then
  echo "setup: libuv's or libevent's development files are still missing (libuv1-dev, libevent-dev)" >&2
  exit 1
fi
if [ "$build_only" -eq 0 ] && ! libssl_ok; then
  echo "setup: OpenSSL 3's development files are still missing (libssl-dev)" >&2
  exit 1
fi
if [ "$build_only" -eq 0 ] && ! libfuzzer_rt; then
  echo "setup: the libFuzzer/ASan runtime of clang-14 is still missing (libclang-rt-14-dev)" >&2
  exit 1
fi
