#!/usr/bin/env bash
# bench/run.sh - install, build and run the echo-server benchmarks; print one
# table of medians.  See bench/README.md.
#
#   bench/run.sh                       # everything, 3 repetitions
#   bench/run.sh --quick               # 1 repetition, 2 s per case
#   AIOTP_ECHO=build/bench/echo_aiotp bench/run.sh
#
# Every setting can be given as an option or as an environment variable:
#   --reps N        REPS        repetitions (default 3)
#   --duration S    DURATION    measured seconds per run (default 5)
#   --warmup S      WARMUP      warm-up seconds per run (default 2)
#   --cases LIST    CASES       "pp10 pp100 stream idle" (also: idle10k, 10,000 idle
#                               connections: the memory case, not in the default list)
#   --transports L  TRANSPORTS  "tcp unix"
#   --placements L  PLACEMENTS  "same cross" (same core / different cores)
#   --only NAMES    ONLY        run only these servers (space separated)
#   --ref NAME      REF         reference server of the ratio columns
#                               (default: aiotp when present, else epoll)
#   --no-apt        SKIP_APT=1  do not apt-get install anything
#   --no-build      SKIP_BUILD=1  use the binaries already in BUILD_DIR
#   --no-check      SKIP_CHECK=1  skip the check_echo.py correctness pass
#                   BUILD_DIR   default: <repo>/build-bench
#                   OUT_DIR     raw results and table (default: BUILD_DIR/results-DATE)
#                   CPU_A, CPU_B  client CPU and cross-core server CPU (0, 1)
#                   PYTHON      interpreter of the Python peers (/usr/bin/python3)
#                   AIOTP_ECHO  path of the aiotp echo server binary
#                   SERVERS     replaces the server list: "name=command;name=command"
#                               (command words split on spaces, no quoting); run.sh
#                               appends --tcp PORT or --unix PATH.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build-bench}
REPS=${REPS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
CASES=${CASES:-"pp10 pp100 stream idle"}
TRANSPORTS=${TRANSPORTS:-"tcp unix"}
PLACEMENTS=${PLACEMENTS:-"same cross"}
ONLY=${ONLY:-}
REF=${REF:-}
SKIP_APT=${SKIP_APT:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
SKIP_CHECK=${SKIP_CHECK:-0}
CPU_A=${CPU_A:-0}
CPU_B=${CPU_B:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
IDLE_CONNS=1000
IDLE10K_CONNS=10000

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --reps) REPS=${2:?--reps needs a value}; shift ;;
        --duration) DURATION=${2:?--duration needs a value}; shift ;;
        --warmup) WARMUP=${2:?--warmup needs a value}; shift ;;
        --cases) CASES=${2:?--cases needs a value}; shift ;;
        --transports) TRANSPORTS=${2:?--transports needs a value}; shift ;;
        --placements) PLACEMENTS=${2:?--placements needs a value}; shift ;;
        --only) ONLY=${2:?--only needs a value}; shift ;;
        --ref) REF=${2:?--ref needs a value}; shift ;;
        --quick) REPS=1; DURATION=2; WARMUP=1 ;;
        --no-apt) SKIP_APT=1 ;;
        --no-build) SKIP_BUILD=1 ;;
        --no-check) SKIP_CHECK=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
    shift
done

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer, got '$REPS'"
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DURATION must be seconds, got '$DURATION'"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "WARMUP must be seconds, got '$WARMUP'"
for c in $CASES; do case $c in pp10|pp100|stream|idle|idle10k) ;; *) die "unknown case '$c' (pp10 pp100 stream idle idle10k)" ;; esac; done
for t in $TRANSPORTS; do case $t in tcp|unix) ;; *) die "unknown transport '$t' (tcp unix)" ;; esac; done
for p in $PLACEMENTS; do case $p in same|cross) ;; *) die "unknown placement '$p' (same cross)" ;; esac; done

# ------------------------------------------------------------------ install
PKGS="libuv1-dev libevent-dev python3-uvloop pkg-config cmake gcc util-linux"
if [ "$SKIP_APT" != 1 ]; then
    missing=""
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        [ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root, or install them: apt-get install -y$missing)"
        note "installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086 # $missing is a list of package names
        apt-get install -y $missing >/dev/null \
            || { apt-get update >/dev/null && apt-get install -y $missing >/dev/null; } \
            || die "apt-get install$missing failed"
    fi
fi

# -------------------------------------------------------------------- build
if [ "$SKIP_BUILD" != 1 ]; then
    mkdir -p "$BUILD_DIR"
    if ! { cmake -S "$BENCH_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
           && cmake --build "$BUILD_DIR" -j "$(nproc)"; } >"$BUILD_DIR/build.log" 2>&1; then
        tail -n 30 "$BUILD_DIR/build.log" >&2
        die "build failed (full log: $BUILD_DIR/build.log)"
    fi
fi
# the aiotp echo server, from the project itself (Release build, tests off)
if [ "$SKIP_BUILD" != 1 ] && [ -z "${AIOTP_ECHO:-}" ]; then
    if ! { cmake -S "$REPO_DIR" -B "$BUILD_DIR/aiotp" -DCMAKE_BUILD_TYPE=Release \
             -DAIOTP_BENCH=ON -DAIOTP_TESTS=OFF -DAIOTP_FUZZ=OFF \
           && cmake --build "$BUILD_DIR/aiotp" --target echo_aiotp -j "$(nproc)"; } \
           >"$BUILD_DIR/build-aiotp.log" 2>&1; then
        tail -n 30 "$BUILD_DIR/build-aiotp.log" >&2
        die "aiotp build failed (full log: $BUILD_DIR/build-aiotp.log)"
    fi
fi
if [ -z "${AIOTP_ECHO:-}" ] && [ -x "$BUILD_DIR/aiotp/bench/echo_aiotp" ]; then
    AIOTP_ECHO=$BUILD_DIR/aiotp/bench/echo_aiotp
fi
LOADGEN=$BUILD_DIR/loadgen
[ -x "$LOADGEN" ] || die "no loadgen in $BUILD_DIR (build first, or drop --no-build)"

# ------------------------------------------------------------------ servers
NAMES=()
declare -A CMD=()
add_server() { # name command...
    local name=$1; shift
    if [ -n "${CMD[$name]+x}" ]; then die "server '$name' is listed twice"; fi
    NAMES+=("$name")
    CMD[$name]="$*"
}
if [ -n "${AIOTP_ECHO:-}" ]; then
    if [ -x "$AIOTP_ECHO" ]; then
        add_server aiotp "$AIOTP_ECHO"
        add_server aiotp_epoll "env AIOTP_BENCH_BACKEND=epoll $AIOTP_ECHO"
    else
        note "notice: AIOTP_ECHO=$AIOTP_ECHO is not an executable file; skipping aiotp"
    fi
else
    note "notice: AIOTP_ECHO is not set; skipping aiotp (e.g. AIOTP_ECHO=build/bench/echo_aiotp)"
fi
if [ -n "${SERVERS:-}" ]; then
    IFS=';' read -r -a entries <<<"$SERVERS"
    for e in "${entries[@]}"; do
        e=$(echo "$e" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
        [ -z "$e" ] && continue
        [[ $e == *=* ]] || die "SERVERS entry '$e' is not name=command"
        add_server "${e%%=*}" "${e#*=}"
    done
else
    add_server poll "$BUILD_DIR/echo_poll"
    add_server epoll "$BUILD_DIR/echo_epoll"
    add_server libuv "$BUILD_DIR/echo_libuv"
    add_server libevent "$BUILD_DIR/echo_libevent"
    add_server asyncio "$PYTHON $BENCH_DIR/echo_asyncio.py"
    add_server uvloop "$PYTHON $BENCH_DIR/echo_uvloop.py"
fi
SEL=()
for n in "${NAMES[@]}"; do
    if [ -n "$ONLY" ] && [[ " $ONLY " != *" $n "* ]]; then continue; fi
    read -r -a argv <<<"${CMD[$n]}"
    if ! command -v "${argv[0]}" >/dev/null 2>&1; then
        note "notice: ${argv[0]} not found; skipping $n"
        continue
    fi
    if [ "$n" = uvloop ] && ! "$PYTHON" -c 'import uvloop' 2>/dev/null; then
        note "notice: $PYTHON cannot import uvloop; skipping uvloop"
        continue
    fi
    SEL+=("$n")
done
for n in $ONLY; do
    [ -n "${CMD[$n]+x}" ] || note "notice: --only names unknown server '$n' (known: ${NAMES[*]})"
done
[ ${#SEL[@]} -gt 0 ] || die "no server to run"
if [ -z "$REF" ]; then
    if [[ " ${SEL[*]} " == *" aiotp "* ]]; then REF=aiotp
    elif [[ " ${SEL[*]} " == *" epoll "* ]]; then REF=epoll
    else REF=${SEL[0]}; fi
elif [[ " ${SEL[*]} " != *" $REF "* ]]; then
    note "notice: reference server '$REF' is not being run; no ratios"
    REF=""
fi

NCPU=$(nproc)
if [[ " $PLACEMENTS " == *" cross "* ]] && [ "$NCPU" -lt 2 ]; then
    note "notice: only $NCPU CPU; skipping the cross-core placement"
    PLACEMENTS=${PLACEMENTS//cross/}
fi

# For the idle cases: 1000 (or 10,000) idle + 100 active connections, in both processes.
want_fds=4096
[[ " $CASES " == *" idle10k "* ]] && want_fds=$((IDLE10K_CONNS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $want_fds ]; then
    ulimit -n $want_fds 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((want_fds - 800)) ] \
        || die "fd limit $(ulimit -n) is too low for the idle cases (need about $want_fds)"
fi

# -------------------------------------------------------------- run helpers
TMP=$(mktemp -d "${TMPDIR:-/tmp}/aiotp-bench.XXXXXX")
SPID=""
cleanup() {
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME TRANSPORT CPU: sets SPID and ADDR_ARGS, returns 1 on failure.
start_server() {
    local name=$1 transport=$2 cpu=$3 try addr i argv
    read -r -a argv <<<"${CMD[$name]}"
    for try in 1 2 3; do
        if [ "$transport" = tcp ]; then addr=$(free_port); else addr=$TMP/$name.sock; fi
        ADDR_ARGS=(--"$transport" "$addr")
        : >"$TMP/server.out"
        : >"$TMP/server.err"
        taskset -c "$cpu" "${argv[@]}" "${ADDR_ARGS[@]}" >"$TMP/server.out" 2>"$TMP/server.err" &
        SPID=$!
        for ((i = 0; i < 400; i++)); do # up to 20 s (Python start-up on a busy machine)
            if grep -qx ready "$TMP/server.out"; then return 0; fi
            kill -0 "$SPID" 2>/dev/null || break
            sleep 0.05
        done
        stop_server >/dev/null 2>&1 || true
        note "warning: $name did not start on ${ADDR_ARGS[*]} (try $try): $(head -c 300 "$TMP/server.err")"
        [ "$transport" = tcp ] || break # a new port may help; a new path will not
    done
    return 1
}

# stop_server: SIGTERM, 5 s grace, then SIGKILL; returns the exit status.
stop_server() {
    local i status=0
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null || status=$?
    SPID=""
    return $status
}

case_args() {
    case $1 in
        pp10) echo "--mode pingpong --conns 10 --size 64" ;;
        pp100) echo "--mode pingpong --conns 100 --size 64" ;;
        stream) echo "--mode stream --chunk 65536" ;;
        idle) echo "--mode pingpong --conns 10 --size 64 --idle $IDLE_CONNS" ;;
        idle10k) echo "--mode pingpong --conns 10 --size 64 --idle $IDLE10K_CONNS" ;;
    esac
}

# run_one NAME CASE TRANSPORT PLACEMENT REP: appends one line to $RAW.
run_one() {
    local name=$1 case=$2 transport=$3 placement=$4 rep=$5 scpu line status
    local label="server=$name case=$case transport=$transport placement=$placement rep=$rep"
    if [ "$placement" = same ]; then scpu=$CPU_A; else scpu=$CPU_B; fi
    if ! start_server "$name" "$transport" "$scpu"; then
        echo "$label status=fail reason=server_did_not_start" >>"$RAW"
        printf '  %-9s FAIL (server did not start)\n' "$name"
        return
    fi
    # shellcheck disable=SC2046
    if "$LOADGEN" "${ADDR_ARGS[@]}" $(case_args "$case") --duration "$DURATION" \
        --warmup "$WARMUP" --server-pid "$SPID" --cpu "$CPU_A" >"$TMP/lg.out" 2>"$TMP/lg.err"; then
        line=$(grep '^mode=' "$TMP/lg.out")
        echo "$label status=ok $line" >>"$RAW"
        printf '  %-9s %s\n' "$name" "$(grep '^# ' "$TMP/lg.out" | sed 's/^# //')"
    else
        echo "$label status=fail reason=loadgen: $(tr '\n' ' ' <"$TMP/lg.err")" >>"$RAW"
        printf '  %-9s FAIL: %s\n' "$name" "$(head -c 300 "$TMP/lg.err")"
    fi
    status=0
    stop_server || status=$?
    if [ "$status" != 0 ]; then
        note "warning: $name exited with status $status on SIGTERM: $(head -c 300 "$TMP/server.err")"
    fi
}

# ------------------------------------------------------------------- header
OUT_DIR=${OUT_DIR:-$BUILD_DIR/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT_DIR"
RAW=$OUT_DIR/raw.txt
: >"$RAW"
ver() { "$@" 2>/dev/null || echo "?"; }
{
    echo "aiotp echo benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine:  nproc=$NCPU, kernel $(uname -r), CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "versions: gcc $(ver gcc -dumpfullversion), libuv $(ver pkg-config --modversion libuv), libevent $(ver pkg-config --modversion libevent_core), python $(ver "$PYTHON" -c 'import platform; print(platform.python_version())'), uvloop $(ver "$PYTHON" -c 'import uvloop; print(uvloop.__version__)')"
    echo "settings: reps=$REPS duration=${DURATION}s warmup=${WARMUP}s; same-core: server+client on CPU $CPU_A; cross-core: server CPU $CPU_B, client CPU $CPU_A"
    echo "servers:  ${SEL[*]}${REF:+ (reference: $REF)}"
} >"$OUT_DIR/header.txt"
cat "$OUT_DIR/header.txt"

# --------------------------------------------------------- correctness pass
if [ "$SKIP_CHECK" != 1 ]; then
    echo "correctness check (check_echo.py):"
    for name in "${SEL[@]}"; do
        for transport in $TRANSPORTS; do
            if ! start_server "$name" "$transport" "$CPU_B"; then
                die "$name does not start; see the warning above"
            fi
            if ! res=$("$PYTHON" "$BENCH_DIR/check_echo.py" "${ADDR_ARGS[@]}" --server-pid "$SPID" 2>&1); then
                stop_server || true
                die "$name ($transport) failed the echo check: $res"
            fi
            stop_server || note "warning: $name exited with status $? on SIGTERM"
            printf '  %-9s %-4s %s\n' "$name" "$transport" "$res"
        done
    done
fi

# --------------------------------------------------------------------- runs
ntr=$(wc -w <<<"$TRANSPORTS"); npl=$(wc -w <<<"$PLACEMENTS"); nca=$(wc -w <<<"$CASES")
nruns=$((REPS * nca * ntr * npl * ${#SEL[@]}))
est=$("$PYTHON" -c "print(round($nruns * ($DURATION + $WARMUP + 1.0) / 60, 1))")
echo "running $nruns runs (about $est min)"
for ((rep = 1; rep <= REPS; rep++)); do
    # Interleave: every server runs once per case before the next repetition,
    # and the order rotates between repetitions.
    k=$(((rep - 1) % ${#SEL[@]}))
    ORDER=("${SEL[@]:k}" "${SEL[@]:0:k}")
    for case in $CASES; do
        for transport in $TRANSPORTS; do
            for placement in $PLACEMENTS; do
                echo "rep $rep/$REPS: $case $transport $placement-core"
                for name in "${ORDER[@]}"; do
                    run_one "$name" "$case" "$transport" "$placement" "$rep"
                done
            done
        done
    done
done

# -------------------------------------------------------------------- table
echo
IFS=,; order="${SEL[*]}"; unset IFS
{
    cat "$OUT_DIR/header.txt"
    echo
    "$PYTHON" "$BENCH_DIR/report.py" "$RAW" --order "$order" ${REF:+--ref "$REF"}
} | tee "$OUT_DIR/table.txt"
echo
echo "raw results: $RAW"
echo "table:       $OUT_DIR/table.txt"
