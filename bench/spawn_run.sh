#!/usr/bin/env bash
# bench/spawn_run.sh - spawn-and-reap and pipe throughput, side by side in one run
# (bench/README.md, "Spawn and reap"), for
#   aiotp    bench/spawn_aiotp.c: aiotp_loop_subprocess_exec, the loop's child watcher
#   posix    bench/spawn_posix.c: a hand-written posix_spawn + waitpid / poll() loop
#   libuv    bench/spawn_libuv.c: uv_spawn
#   asyncio  bench/spawn_py.py: loop.subprocess_exec (CPython's default loop)
#   uvloop   bench/spawn_py.py --uvloop
#   aiotp_epoll  spawn_aiotp on the loop's epoll backend (AIOTP_BENCH_BACKEND=epoll)
#   aiotp_high0  spawn_aiotp's pipe case with the stdin transport's high-water mark at 0
#            (pipe only: it stops writing as soon as anything is queued, as the hand-written
#            loop does)
#   aiotp_borrowed  spawn_aiotp's pipe case with aiotp_transport_write_borrowed() (the
#            zero-copy write, DEV-81: no copy of what the pipe does not take; pipe only)
# spawn: N children of /bin/true (default 1000), 16 at once: wall and parent CPU per child;
# spawncwd: the same, each child started in CWD (default /tmp: SPAWN_CWD);
# pipe: MB MiB (default 200) through `cat`'s stdin and stdout: parent CPU per MiB.
#
#   bench/spawn_run.sh [--reps N] [--children N] [--mb M] [--cwd DIR] [--only "aiotp posix"]
#                      [--no-build]
#
# Environment: BUILD_DIR (default <repo>/build-bench-spawn), OUT_DIR (default
# BUILD_DIR/results-DATE), PYTHON (/usr/bin/python3).
# Prints a Markdown table of medians and keeps the raw lines (raw.txt) and the load.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build-bench-spawn}
PYTHON=${PYTHON:-/usr/bin/python3}
REPS=3
CHILDREN=1000
MB=200
CWD_DIR=/tmp
ONLY="aiotp aiotp_epoll aiotp_high0 aiotp_borrowed posix libuv asyncio uvloop"
BUILD=1

while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=$2; shift 2 ;;
    --children) CHILDREN=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    --cwd) CWD_DIR=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
                 exit 0 ;;
    *) echo "spawn_run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT_DIR=${OUT_DIR:-$BUILD_DIR/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT_DIR"

if [ "$BUILD" -eq 1 ]; then
  cmake -S "$REPO_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAIOTP_BENCH=ON \
        >"$OUT_DIR/build.log" 2>&1
  targets="spawn_aiotp spawn_posix"
  case " $ONLY " in *" libuv "*) targets="$targets spawn_libuv" ;; esac
  # shellcheck disable=SC2086
  cmake --build "$BUILD_DIR" -j 2 --target $targets >>"$OUT_DIR/build.log" 2>&1 ||
    { echo "spawn_run.sh: build failed: $OUT_DIR/build.log" >&2; exit 1; }
fi
B=$BUILD_DIR/bench

cmd() { # cmd IMPL: the command line of one implementation
  case $1 in
    aiotp | aiotp_high0 | aiotp_borrowed) echo "$B/spawn_aiotp" ;;
    aiotp_epoll) echo "env AIOTP_BENCH_BACKEND=epoll $B/spawn_aiotp" ;;
    posix) echo "$B/spawn_posix" ;;
    libuv) echo "$B/spawn_libuv" ;;
    asyncio) echo "$PYTHON $BENCH_DIR/spawn_py.py" ;;
    uvloop) echo "$PYTHON $BENCH_DIR/spawn_py.py --uvloop" ;;
    *) echo "spawn_run.sh: unknown implementation $1" >&2; exit 2 ;;
  esac
}

RAW=$OUT_DIR/raw.txt
: >"$RAW"
{ echo "start: $(date -u +%FT%TZ)"; echo "uptime before: $(uptime)"; } >"$OUT_DIR/load.txt"
fail=0
for rep in $(seq "$REPS"); do
  for impl in $ONLY; do
    c=$(cmd "$impl")
    case $impl in
      asyncio | uvloop) s_args="spawn $CHILDREN 16"; p_args="pipe $MB" ;;
      aiotp_high0) s_args=""; p_args="--pipe $MB 0" ;;
      aiotp_borrowed) s_args=""; p_args="--pipe $MB --borrowed" ;;
      *) s_args="$CHILDREN 16"; p_args="--pipe $MB" ;;
    esac
    if [ -n "$s_args" ]; then
      # shellcheck disable=SC2086
      if line=$($c $s_args); then echo "rep=$rep $line" >>"$RAW"; else
        echo "spawn_run.sh: $impl spawn failed" >&2; fail=1; fi
      # shellcheck disable=SC2086
      if line=$(SPAWN_CWD=$CWD_DIR $c $s_args); then echo "rep=$rep $line" >>"$RAW"; else
        echo "spawn_run.sh: $impl spawn with a cwd failed" >&2; fail=1; fi
    fi
    # shellcheck disable=SC2086
    if line=$($c $p_args); then echo "rep=$rep $line" >>"$RAW"; else
      echo "spawn_run.sh: $impl pipe failed" >&2; fail=1; fi
  done
done
{ echo "uptime after: $(uptime)"; echo "end: $(date -u +%FT%TZ)"; } >>"$OUT_DIR/load.txt"

"$PYTHON" - "$RAW" <<'PY' | tee "$OUT_DIR/table.md"
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    kind = line.split()[1]
    rows.setdefault((kv["impl"], kind), []).append((float(kv["wall_us"]), float(kv["cpu_us"])))
names = {"aiotp": "aiotp", "posix_spawn": "posix_spawn + waitpid / poll (hand-written)",
         "aiotp_high0": "aiotp, stdin high-water 0 (pipe only)",
         "aiotp_epoll": "aiotp, epoll backend",
         "aiotp_borrowed": "aiotp, borrowed (zero-copy) writes (pipe only)",
         "libuv": "libuv uv_spawn", "asyncio": "asyncio", "uvloop": "uvloop"}
order = ["posix_spawn", "aiotp", "aiotp_epoll", "aiotp_high0", "aiotp_borrowed", "libuv",
         "asyncio", "uvloop"]
def med(k, i):
    v = rows.get(k)
    return statistics.median(x[i] for x in v) if v else None
base_s = med(("posix_spawn", "spawn"), 1)
base_c = med(("posix_spawn", "spawncwd"), 1)
base_p = med(("posix_spawn", "pipe"), 1)
print("| impl | spawn wall µs/child | spawn parent CPU µs/child | vs hand-written "
      "| with cwd: wall µs/child | with cwd: parent CPU µs/child | vs hand-written "
      "| pipe wall µs/MiB | pipe parent CPU µs/MiB | vs hand-written |")
print("|------|------:|------:|------:|------:|------:|------:|------:|------:|------:|")
fmt = lambda x: "-" if x is None else "%.0f" % x
ratio = lambda x, b: "-" if x is None or not b else "%.2f" % (x / b)
for impl in order:
    if not any(k[0] == impl for k in rows):
        continue
    sw, sc = med((impl, "spawn"), 0), med((impl, "spawn"), 1)
    cw, cc = med((impl, "spawncwd"), 0), med((impl, "spawncwd"), 1)
    pw, pc = med((impl, "pipe"), 0), med((impl, "pipe"), 1)
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (names[impl], fmt(sw),
          fmt(sc), ratio(sc, base_s), fmt(cw), fmt(cc), ratio(cc, base_c), fmt(pw), fmt(pc),
          ratio(pc, base_p)))
PY
echo "raw lines: $RAW; load: $OUT_DIR/load.txt"
exit $fail
