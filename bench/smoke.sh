#!/usr/bin/env bash
# bench/smoke.sh - the benchmarks still build and still do what they measure (the test
# command runs it; bench/README.md). Not a measurement: nothing here is timed.
#
#   1. builds bench/ from the top-level project (-DAIOTP_BENCH=ON -DAIOTP_TLS=ON) and
#      fails unless every program exists: the aiotp servers, the hand-written peers and
#      the libuv, libevent and OpenSSL peers (their packages are in scripts/setup.sh; a
#      peer that CMake skipped is a failure here, never a skip);
#   2. runs the correctness checks the benchmark runs use on each aiotp server: check_echo.py
#      (TCP and Unix: ping, 50 concurrent connections, 32 MiB bulk, half-close,
#      backpressure, fd cleanup) and check_udp.py (UDP), then the hand-written poll peers
#      the same way, so a broken peer cannot make a comparison look good;
#   3. runs spawn_aiotp and spawn_posix small (50 children, also in a working directory;
#      8 MiB through `cat`, aiotp also with a high-water mark of 0 and on epoll): each
#      exits non-zero when a child is lost or a byte does not come back;
#   4. tls_load (bulk: echoed bytes compared; handshake) for one second against tls_aiotp
#      and tls_memio (a throwaway certificate from the openssl command line).
#
#   bench/smoke.sh [BUILD_DIR]     (default build/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/bench}
jobs=$(nproc)
[ "$jobs" -gt 2 ] && jobs=2
py=${PYTHON:-/usr/bin/python3}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DAIOTP_BENCH=ON -DAIOTP_TLS=ON \
      -DAIOTP_PACKAGE_TESTS=OFF -DAIOTP_DOCS=OFF -DAIOTP_FUZZ=OFF >"$build.log" 2>&1 ||
  { tail -20 "$build.log"; echo "bench smoke: configure failed"; exit 1; }
progs="echo_aiotp spawn_aiotp tls_aiotp echo_poll echo_epoll udp_poll udp_epoll spawn_posix
       loadgen echo_libuv udp_libuv spawn_libuv echo_libevent tls_load tls_memio"
# only the benchmark programs (and the libraries they link), not the tests
# shellcheck disable=SC2086
cmake --build "$build" -j"$jobs" --target $progs >>"$build.log" 2>&1 ||
  { grep -E 'error|Error' "$build.log" | head -20; echo "bench smoke: build failed"; exit 1; }

B=$build/bench
missing=0
for p in $progs; do
  if [ ! -x "$B/$p" ]; then
    echo "bench smoke: $B/$p was not built (see $build.log)"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1
echo "bench smoke: every benchmark program built"

tmp=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# a free TCP/UDP port (the kernel picks it; a race with another program is possible but
# only makes the server fail to start, which is reported)
free_port() {
  "$py" -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

# start SERVER ARGS...: run it, wait for its "ready" line (10 s at most)
start() {
  : >"$tmp/out"
  "$@" >"$tmp/out" 2>"$tmp/err" &
  srv=$!
  for _ in $(seq 100); do
    grep -q ready "$tmp/out" && return 0
    kill -0 "$srv" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench smoke: $* did not become ready:"; cat "$tmp/err"
  exit 1
}

stop() {
  kill "$srv" && wait "$srv" 2>/dev/null || true
  srv=
}

check() { # check SERVER KIND: KIND tcp, unix or udp
  local server=$1 kind=$2 port out
  case $kind in
    tcp) port=$(free_port SOCK_STREAM); start "$B/$server" --tcp "$port"
         out=$("$py" bench/check_echo.py --tcp "$port" --server-pid "$srv") ;;
    unix) start "$B/$server" --unix "$tmp/s.sock"
          out=$("$py" bench/check_echo.py --unix "$tmp/s.sock" --server-pid "$srv") ;;
    udp) port=$(free_port SOCK_DGRAM); start "$B/$server" --udp "$port"
         out=$("$py" bench/check_udp.py --udp "$port" --server-pid "$srv") ;;
  esac
  stop
  echo "bench smoke: $server $kind: $out"
}

check echo_aiotp tcp
check echo_aiotp unix
check echo_aiotp udp
check echo_poll tcp
check echo_poll unix
check udp_poll udp

"$B/spawn_aiotp" 50 8
"$B/spawn_posix" 50 8
"$B/spawn_aiotp" --pipe 8
"$B/spawn_posix" --pipe 8
SPAWN_CWD=/tmp "$B/spawn_aiotp" 50 8
SPAWN_CWD=/tmp "$B/spawn_posix" 50 8
"$B/spawn_aiotp" --pipe 8 0
AIOTP_BENCH_BACKEND=epoll "$B/spawn_aiotp" --pipe 8

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
export BENCH_TLS_CERT=$tmp/cert.pem BENCH_TLS_KEY=$tmp/key.pem
for server in tls_aiotp tls_memio; do
  for mode in bulk handshake; do
    port=$(free_port SOCK_STREAM)
    start "$B/$server" --tcp "$port"
    out=$("$B/tls_load" "$mode" --port "$port" --pid "$srv" --seconds 1 --warmup 0)
    stop
    echo "bench smoke: $server $mode: $out"
  done
done
echo "bench smoke: ok"
