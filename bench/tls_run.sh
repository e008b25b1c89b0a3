#!/usr/bin/env bash
# bench/tls_run.sh - the TLS benchmarks, side by side in one run (bench/README.md, "TLS"):
# bulk throughput (server CPU per MB) and handshakes (server CPU per handshake) of
#   aiotp    bench/echo_aiotp.c built with -DBENCH_TLS: aiotp's TLS transports (aiotp_tls, OpenSSL memory BIOs)
#   memio    bench/tls_memio.c: a hand-written poll() loop over OpenSSL memory BIOs
#   asyncio  bench/tls_echo.py: CPython's asyncio TLS transport (sslproto)
#   uvloop   bench/tls_echo.py --uvloop: uvloop's TLS transport
# all driven by bench/tls_load.c (TLS 1.3, TLS_AES_128_GCM_SHA256, X25519, no resumption)
# with a throwaway P-256 certificate made by the openssl command line.
#
#   bench/tls_run.sh [--reps N] [--seconds S] [--only "aiotp memio"] [--no-build]
#
# Environment: BUILD_DIR (default <repo>/build-bench-tls), OUT_DIR (default
# BUILD_DIR/results-DATE), PYTHON (/usr/bin/python3), PORT (19443), CPU_SERVER and
# CPU_CLIENT (taskset CPUs, default 0 and 1; empty: no pinning).
# Prints a Markdown table of medians (ratios against memio) and keeps the raw lines.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build-bench-tls}
PYTHON=${PYTHON:-/usr/bin/python3}
PORT=${PORT:-19443}
CPU_SERVER=${CPU_SERVER-0}
CPU_CLIENT=${CPU_CLIENT-1}
REPS=3
SECONDS_PER=5
ONLY="aiotp memio asyncio uvloop"
BUILD=1

while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
                 exit 0 ;;
    *) echo "tls_run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT_DIR=${OUT_DIR:-$BUILD_DIR/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT_DIR"

for tool in cmake openssl "$PYTHON"; do
  command -v "$tool" >/dev/null || { echo "tls_run.sh: $tool is missing" >&2; exit 1; }
done
if [ "$BUILD" -eq 1 ]; then
  cmake -S "$REPO_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DAIOTP_BENCH=ON \
        -DAIOTP_TLS=ON >"$OUT_DIR/build.log" 2>&1
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target tls_load tls_memio tls_aiotp \
        >>"$OUT_DIR/build.log" 2>&1 || { echo "tls_run.sh: build failed: $OUT_DIR/build.log" >&2
                                         exit 1; }
fi
B=$BUILD_DIR/bench
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -keyout "$OUT_DIR/key.pem" -out "$OUT_DIR/cert.pem" 2>/dev/null
export BENCH_TLS_CERT=$OUT_DIR/cert.pem BENCH_TLS_KEY=$OUT_DIR/key.pem

pin() { # pin CPU CMD...: exec CMD, on CPU when taskset and CPU are there (only ever
         # called in a subshell: "&" or "$(...)", so the server's pid is $!)
  local cpu=$1; shift
  if [ -n "$cpu" ] && command -v taskset >/dev/null; then exec taskset -c "$cpu" "$@"; fi
  exec "$@"
}

server_cmd() {
  case $1 in
    aiotp) echo "$B/tls_aiotp" ;;
    memio) echo "$B/tls_memio" ;;
    asyncio) echo "$PYTHON $BENCH_DIR/tls_echo.py" ;;
    uvloop) echo "$PYTHON $BENCH_DIR/tls_echo.py --uvloop" ;;
    *) echo "tls_run.sh: unknown server $1" >&2; exit 2 ;;
  esac
}

RAW=$OUT_DIR/raw.txt
: >"$RAW"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT_DIR/load.txt"
for rep in $(seq "$REPS"); do
  for name in $ONLY; do
    # shellcheck disable=SC2046
    pin "$CPU_SERVER" $(server_cmd "$name") --tcp "$PORT" >"$OUT_DIR/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q '^ready' "$OUT_DIR/$name.log" && break; sleep 0.1; done
    grep -q '^ready' "$OUT_DIR/$name.log" || { echo "tls_run.sh: $name did not start" >&2
                                               cat "$OUT_DIR/$name.log" >&2; exit 1; }
    for mode in bulk handshake; do
      line=$(pin "$CPU_CLIENT" "$B/tls_load" "$mode" --port "$PORT" --pid "$pid" \
                 --seconds "$SECONDS_PER" --warmup 1)
      echo "$name rep=$rep $line" | tee -a "$RAW" >&2
    done
    kill "$pid"
    wait "$pid" || true
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT_DIR/load.txt"

"$PYTHON" - "$RAW" "$ONLY" <<'EOF' | tee "$OUT_DIR/table.md"
import statistics, sys
raw, names = sys.argv[1], sys.argv[2].split()
rows = {}
for line in open(raw):
    f = line.split()
    kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
    name, mode = f[0], f[2]
    secs, cpu = float(kv["seconds"]), float(kv["server_cpu"])
    if mode == "bulk":
        mb = int(kv["bytes"]) / 1e6
        rows.setdefault(name, {}).setdefault("mbs", []).append(mb / secs)
        rows[name].setdefault("cpumb", []).append(cpu * 1e3 / mb)
    else:
        n = int(kv["count"])
        rows.setdefault(name, {}).setdefault("hs", []).append(n / secs)
        rows[name].setdefault("cpuhs", []).append(cpu * 1e6 / n)
med = {n: {k: statistics.median(v) for k, v in rows[n].items()} for n in names if n in rows}
ref = med.get("memio")
print("| server | bulk MB/s | server CPU ms/MB | vs memio | handshakes/s "
      "| server CPU µs/handshake | vs memio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for n in names:
    if n not in med:
        continue
    m = med[n]
    r1 = "%.2f" % (m["cpumb"] / ref["cpumb"]) if ref else "-"
    r2 = "%.2f" % (m["cpuhs"] / ref["cpuhs"]) if ref else "-"
    print("| %s | %.0f | %.3f | %s | %.0f | %.0f | %s |"
          % (n, m["mbs"], m["cpumb"], r1, m["hs"], m["cpuhs"], r2))
EOF
echo "results: $OUT_DIR" >&2
