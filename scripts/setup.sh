#!/usr/bin/env bash
# Install what building and testing aiotp needs (Debian 12). Idempotent: installs only
# when a tool is missing. A tool that cannot be installed is an error, never a skip.
set -euo pipefail

need_pkgs=(cmake make gcc clang python3 valgrind frama-c-base why3 z3 cvc4 cvc5 jq graphviz
           afl++ clang-14 lld-14 llvm-14 llvm libclang-rt-14-dev python3-uvloop chromium
           fonts-dejavu-core)
need_cmds=(cmake make gcc clang python3 valgrind frama-c why3 z3 cvc4 cvc5 jq dot
           afl-fuzz afl-clang-fast afl-cmin afl-showmap clang-14 ld.lld-14 llvm-symbolizer timeout)

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
libfuzzer_rt || missing+=("libFuzzer/ASan runtime of clang-14")
# the conformance kit (docs/conformance-kit.md): uvloop for Debian's interpreter, and
# Chromium for the trace viewer's test
uvloop_ok() { /usr/bin/python3 -c 'import uvloop' >/dev/null 2>&1; }
uvloop_ok || missing+=("python3-uvloop")
command -v chromium >/dev/null 2>&1 || missing+=("chromium")
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: missing tools: ${missing[*]}; installing Debian packages" >&2
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
if ! uvloop_ok; then
  echo "setup: uvloop is still missing for /usr/bin/python3 (python3-uvloop)" >&2
  exit 1
fi
if ! libfuzzer_rt; then
  echo "setup: the libFuzzer/ASan runtime of clang-14 is still missing (libclang-rt-14-dev)" >&2
  exit 1
fi
