#!/usr/bin/env bash
# Install what building and testing aiotp needs (Debian 12). Idempotent: installs only
# when a tool is missing. A tool that cannot be installed is an error, never a skip.
set -euo pipefail

need_pkgs=(cmake make gcc clang python3 valgrind frama-c-base why3 z3 cvc4 cvc5 jq graphviz)
need_cmds=(cmake make gcc clang python3 valgrind frama-c why3 z3 cvc4 cvc5 jq dot)

missing=()
for c in "${need_cmds[@]}"; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
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
