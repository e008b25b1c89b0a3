#!/usr/bin/env bash
# The main job: build aiotp and run the demo (the documentation's TCP echo server and
# client over loopback, with the library's callback trace printed and checked by the
# conformance oracle).
#
# Needs a C compiler, CMake (3.16 or later) and make, nothing else: no Python, no
# verification tools. When one of those three is missing on a Debian machine it installs
# just that (scripts/setup.sh --build); otherwise it installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

have_cc() {
  command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 ||
    command -v clang >/dev/null 2>&1
}
if ! have_cc || ! command -v cmake >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
  scripts/setup.sh --build
fi

# only the library, its oracle and the demo: no tests, tools, docs or fuzzing; warnings
# stay warnings (the test command builds everything with -Werror)
cmake -S . -B build/demo -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DAIOTP_TESTS=OFF -DAIOTP_FUZZ=OFF -DAIOTP_DOCS=OFF -DAIOTP_TOOLS=OFF \
      -DAIOTP_INSTALL=OFF -DAIOTP_PACKAGE_TESTS=OFF -DAIOTP_EXAMPLES=ON \
      -DAIOTP_WERROR=OFF >/dev/null
cmake --build build/demo --target demo -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
exec build/demo/examples/demo
