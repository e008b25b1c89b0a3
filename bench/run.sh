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
#   --cases LIST    CASES       "pp10 pp100 stream idle udp10 udp100 udpflood" (also:
#                               idle10k, 10,000 idle connections: the memory case, not in
#                               the default list; "udp" stands for the three UDP cases)
#   --transports L  TRANSPORTS  "tcp unix" (the stream cases; the UDP cases run over UDP)
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
#                               appends --tcp PORT or --unix PATH (and --udp PORT for
#                               the UDP cases, unless UDP_SERVERS is given).
#                   UDP_SERVERS replaces the server list of the UDP cases, the same way
#                               (run.sh appends --udp PORT).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build-bench}
REPS=${REPS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
CASES=${CASES:-"pp10 pp100 stream idle udp10 udp100 udpflood"}
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
CASES=$(for c in $CASES; do if [ "$c" = udp ]; then echo udp10 udp100 udpflood; else echo "$c"; fi; done | xargs)
for c in $CASES; do case $c in pp10|pp100|stream|idle|idle10k|udp10|udp100|udpflood) ;; *) die "unknown case '$c' (pp10 pp100 stream idle idle10k udp10 udp100 udpflood, or udp)" ;; esac; done
is_udp_case() { case $1 in udp*) return 0 ;; *) return 1 ;; esac; }
STREAM_CASES=0; UDP_CASES=0
for c in $CASES; do if is_udp_case "$c"; then UDP_CASES=1; else STREAM_CASES=1; fi; done
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
# Every server has a command for the stream cases (CMD) and/or one for the UDP
# cases (UCMD); both take the address as their last arguments.
NAMES=()
declare -A CMD=() UCMD=()
add_name() { # name
    [[ " ${NAMES[*]:-} " == *" $1 "* ]] || NAMES+=("$1")
}
add_server() { # name command...
    local name=$1; shift
    if [ -n "${CMD[$name]+x}" ]; then die "server '$name' is listed twice"; fi
    add_name "$name"
    CMD[$name]="$*"
}
add_udp_server() { # name command...
    local name=$1; shift
    if [ -n "${UCMD[$name]+x}" ]; then die "UDP server '$name' is listed twice"; fi
    add_name "$name"
    UCMD[$name]="$*"
}
# add_list VAR_NAME ADD_FUNCTION: the "name=command;..." entries of $VAR_NAME
add_list() {
    local e entries
    IFS=';' read -r -a entries <<<"${!1}"
    for e in "${entries[@]}"; do
        e=$(echo "$e" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
        [ -z "$e" ] && continue
        [[ $e == *=* ]] || die "$1 entry '$e' is not name=command"
        "$2" "${e%%=*}" "${e#*=}"
    done
}
if [ -n "${AIOTP_ECHO:-}" ]; then
    if [ -x "$AIOTP_ECHO" ]; then
        add_server aiotp "$AIOTP_ECHO"
        add_server aiotp_epoll "env AIOTP_BENCH_BACKEND=epoll $AIOTP_ECHO"
        if [ -z "${UDP_SERVERS:-}" ]; then # echo_aiotp takes --udp too
            add_udp_server aiotp "$AIOTP_ECHO"
            add_udp_server aiotp_epoll "env AIOTP_BENCH_BACKEND=epoll $AIOTP_ECHO"
        fi
    else
        note "notice: AIOTP_ECHO=$AIOTP_ECHO is not an executable file; skipping aiotp"
    fi
else
    note "notice: AIOTP_ECHO is not set; skipping aiotp (e.g. AIOTP_ECHO=build/bench/echo_aiotp)"
fi
if [ -n "${SERVERS:-}" ]; then
    add_list SERVERS add_server
    if [ -z "${UDP_SERVERS:-}" ]; then
        UDP_SERVERS=$SERVERS # the same commands, with --udp PORT
    fi
else
    add_server poll "$BUILD_DIR/echo_poll"
    add_server epoll "$BUILD_DIR/echo_epoll"
    add_server libuv "$BUILD_DIR/echo_libuv"
    add_server libevent "$BUILD_DIR/echo_libevent"
    add_server asyncio "$PYTHON $BENCH_DIR/echo_asyncio.py"
    add_server uvloop "$PYTHON $BENCH_DIR/echo_uvloop.py"
fi
if [ -n "${UDP_SERVERS:-}" ]; then
    add_list UDP_SERVERS add_udp_server
else
    add_udp_server poll "$BUILD_DIR/udp_poll"
    add_udp_server epoll "$BUILD_DIR/udp_epoll"
    add_udp_server libuv "$BUILD_DIR/udp_libuv"
    add_udp_server asyncio "$PYTHON $BENCH_DIR/echo_asyncio.py"
    add_udp_server uvloop "$PYTHON $BENCH_DIR/echo_uvloop.py"
fi
# runnable COMMAND_STRING NAME KIND: the command exists (else a notice)
runnable() {
    local argv
    read -r -a argv <<<"$1"
    [ "${argv[0]}" = env ] && argv=("${argv[@]:2}")
    if ! command -v "${argv[0]}" >/dev/null 2>&1; then
        note "notice: ${argv[0]} not found; skipping $2 ($3)"
        return 1
    fi
    if [ "$2" = uvloop ] && ! "$PYTHON" -c 'import uvloop' 2>/dev/null; then
        note "notice: $PYTHON cannot import uvloop; skipping uvloop ($3)"
        return 1
    fi
}
SEL=() SEL_STREAM=() SEL_UDP=()
for n in "${NAMES[@]}"; do
    if [ -n "$ONLY" ] && [[ " $ONLY " != *" $n "* ]]; then continue; fi
    ok=0
    if [ "$STREAM_CASES" = 1 ] && [ -n "${CMD[$n]+x}" ] && runnable "${CMD[$n]}" "$n" stream; then
        SEL_STREAM+=("$n"); ok=1
    fi
    if [ "$UDP_CASES" = 1 ] && [ -n "${UCMD[$n]+x}" ] && runnable "${UCMD[$n]}" "$n" udp; then
        SEL_UDP+=("$n"); ok=1
    fi
    [ $ok = 1 ] && SEL+=("$n")
done
for n in $ONLY; do
    [[ " ${NAMES[*]} " == *" $n "* ]] || note "notice: --only names unknown server '$n' (known: ${NAMES[*]})"
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
# in_list NAME LIST...: NAME is one of LIST
in_list() { local n=$1; shift; [[ " $* " == *" $n "* ]]; }

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

free_port() { # tcp or udp
    local kind=SOCK_STREAM
    [ "${1:-tcp}" = udp ] && kind=SOCK_DGRAM
    "$PYTHON" -c "import socket; s = socket.socket(socket.AF_INET, socket.$kind); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

# start_server NAME TRANSPORT CPU: sets SPID and ADDR_ARGS, returns 1 on failure.
start_server() {
    local name=$1 transport=$2 cpu=$3 try addr i argv
    if [ "$transport" = udp ]; then
        read -r -a argv <<<"${UCMD[$name]}"
    else
        read -r -a argv <<<"${CMD[$name]}"
    fi
    for try in 1 2 3; do
        if [ "$transport" = unix ]; then addr=$TMP/$name.sock; else addr=$(free_port "$transport"); fi
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
        [ "$transport" != unix ] || break # a new port may help; a new path will not
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
        udp10) echo "--mode pingpong --conns 10 --size 64" ;;
        udp100) echo "--mode pingpong --conns 100 --size 64" ;;
        udpflood) echo "--mode flood --size 64" ;;
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
        printf '  %-11s %s\n' "$name" "$(grep '^# ' "$TMP/lg.out" | sed 's/^# //')"
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
    if [ "$STREAM_CASES" = 1 ] && [ "$UDP_CASES" = 1 ] && [ "${SEL_STREAM[*]:-}" != "${SEL_UDP[*]:-}" ]; then
        echo "          stream cases: ${SEL_STREAM[*]:-none}; UDP cases: ${SEL_UDP[*]:-none}"
    fi
} >"$OUT_DIR/header.txt"
cat "$OUT_DIR/header.txt"

# --------------------------------------------------------- correctness pass
if [ "$SKIP_CHECK" != 1 ]; then
    echo "correctness check (check_echo.py, check_udp.py):"
    checks=()
    if [ "$STREAM_CASES" = 1 ]; then
        for name in "${SEL_STREAM[@]}"; do
            for transport in $TRANSPORTS; do checks+=("$name $transport"); done
        done
    fi
    if [ "$UDP_CASES" = 1 ]; then
        for name in "${SEL_UDP[@]}"; do checks+=("$name udp"); done
    fi
    for c in "${checks[@]}"; do
        read -r name transport <<<"$c"
        checker=check_echo.py
        [ "$transport" = udp ] && checker=check_udp.py
        if ! start_server "$name" "$transport" "$CPU_B"; then
            die "$name does not start; see the warning above"
        fi
        if ! res=$("$PYTHON" "$BENCH_DIR/$checker" "${ADDR_ARGS[@]}" --server-pid "$SPID" 2>&1); then
            stop_server || true
            die "$name ($transport) failed the $checker check: $res"
        fi
        stop_server || note "warning: $name exited with status $? on SIGTERM"
        printf '  %-11s %-4s %s\n' "$name" "$transport" "$res"
    done
fi

# --------------------------------------------------------------------- runs
# case_transports CASE / case_servers CASE: what a case runs over, and who serves it
case_transports() { if is_udp_case "$1"; then echo udp; else echo "$TRANSPORTS"; fi; }
case_servers() { # the servers of ORDER that serve this case
    local n
    for n in "${ORDER[@]}"; do
        if is_udp_case "$1"; then in_list "$n" "${SEL_UDP[@]:-}" && echo "$n"
        else in_list "$n" "${SEL_STREAM[@]:-}" && echo "$n"; fi
    done
    return 0
}
npl=$(wc -w <<<"$PLACEMENTS"); nruns=0
for case in $CASES; do
    if is_udp_case "$case"; then k=${#SEL_UDP[@]}; else k=$((${#SEL_STREAM[@]} * $(wc -w <<<"$TRANSPORTS"))); fi
    nruns=$((nruns + REPS * npl * k))
done
est=$("$PYTHON" -c "print(round($nruns * ($DURATION + $WARMUP + 1.0) / 60, 1))")
echo "running $nruns runs (about $est min)"
for ((rep = 1; rep <= REPS; rep++)); do
    # Interleave: every server runs once per case before the next repetition,
    # and the order rotates between repetitions.
    k=$(((rep - 1) % ${#SEL[@]}))
    ORDER=("${SEL[@]:k}" "${SEL[@]:0:k}")
    for case in $CASES; do
        for transport in $(case_transports "$case"); do
            for placement in $PLACEMENTS; do
                echo "rep $rep/$REPS: $case $transport $placement-core"
                for name in $(case_servers "$case"); do
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
