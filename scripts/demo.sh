#!/usr/bin/env bash
# The main job: build aiotp and run the demo (the documentation's TCP echo server and
# client over loopback, with the library's callback trace printed and checked).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo --target demo -j"$(nproc)" >/dev/null
exec build/demo/examples/demo
