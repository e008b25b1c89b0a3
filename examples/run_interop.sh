#!/usr/bin/env bash
# examples/run_interop.sh - run the documentation's TCP or UDP echo server and client
# across implementations over loopback and check what both sides print.
#
#   run_interop.sh MODE [PYTHON [EXAMPLES_BIN_DIR]]
#
# MODE:
#   cpython-client-aiotp-server   python/echo_client.py  ->  tcp_echo_server (aiotp)
#   aiotp-client-cpython-server   tcp_echo_client (aiotp) ->  python/echo_server.py
#   aiotp-pair                    tcp_echo_client (aiotp) ->  tcp_echo_server (aiotp)
#   cpython-pair                  python/echo_client.py  ->  python/echo_server.py
#   udp-...                       the same four with the UDP echo server and client
#                                 (udp_echo_server, udp_echo_client, python/udp_echo_*.py)
# PYTHON defaults to `command -v python3`; EXAMPLES_BIN_DIR (where tcp_echo_server and
# tcp_echo_client are built) defaults to ../build/examples next to this script.
#
# The server is started on port 0 with --count 1; its "listening on PORT" line gives the
# port. Never a fixed port. Exit status 0 only if both sides printed exactly what the
# documentation's example prints and both exited with status 0.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=${1:-}
python=${2:-$(command -v python3 || true)}
bindir=${3:-$here/../build/examples}
message='Hello World!'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aiotp-interop.XXXXXX") || exit 1
server_pid=

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dump() {
    local f
    for f in server.out server.err client.out client.err; do
        if [ -s "$tmp/$f" ]; then
            echo "--- $f" >&2
            cat "$tmp/$f" >&2
        fi
    done
}

fail() {
    echo "FAIL [$mode]: $*" >&2
    dump
    exit 1
}

need_python() {
    [ -n "$python" ] && [ -x "$(command -v "$python")" ] || fail "no python3 interpreter ('$python')"
}

need_bin() {
    [ -x "$bindir/$1" ] || fail "$bindir/$1 is not built"
}

kind=tcp
prefix=
pyprefix=
case "$mode" in udp-*)
    kind=udp; prefix=udp_; pyprefix=udp_; mode=${mode#udp-} ;;
esac
[ $kind = tcp ] && prefix=tcp_

case "$mode" in
cpython-client-aiotp-server)
    need_python; need_bin ${prefix}echo_server
    server_cmd=("$bindir/${prefix}echo_server" 0 --count 1)
    client_cmd=("$python" "$here/python/${pyprefix}echo_client.py")
    ;;
aiotp-client-cpython-server)
    need_python; need_bin ${prefix}echo_client
    server_cmd=("$python" "$here/python/${pyprefix}echo_server.py" 0 --count 1)
    client_cmd=("$bindir/${prefix}echo_client")
    ;;
aiotp-pair)
    need_bin ${prefix}echo_server; need_bin ${prefix}echo_client
    server_cmd=("$bindir/${prefix}echo_server" 0 --count 1)
    client_cmd=("$bindir/${prefix}echo_client")
    ;;
cpython-pair)
    need_python
    server_cmd=("$python" "$here/python/${pyprefix}echo_server.py" 0 --count 1)
    client_cmd=("$python" "$here/python/${pyprefix}echo_client.py")
    ;;
*)
    echo "usage: $0 [udp-]cpython-client-aiotp-server|[udp-]aiotp-client-cpython-server|[udp-]aiotp-pair|[udp-]cpython-pair [PYTHON [BIN_DIR]]" >&2
    exit 2
    ;;
esac

# ---- the server, on a port of its choosing -------------------------------------------
"${server_cmd[@]}" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!

port=
for _ in $(seq 1 200); do # up to ~10 s for the ready line
    port=$(sed -n 's/^listening on \([0-9][0-9]*\)$/\1/p' "$tmp/server.out" | head -n 1)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid"
        fail "the server (${server_cmd[*]}) exited with status $? before printing 'listening on PORT'"
    fi
    sleep 0.05
done
[ -n "$port" ] || fail "the server (${server_cmd[*]}) printed no 'listening on PORT' line within 10 s"
[ "$port" -gt 0 ] || fail "the server reported port $port"

# ---- the client ---------------------------------------------------------------------------
timeout 20 "${client_cmd[@]}" "$port" >"$tmp/client.out" 2>"$tmp/client.err"
rc=$?
[ $rc -ne 124 ] || fail "the client (${client_cmd[*]} $port) did not finish within 20 s"
[ $rc -eq 0 ] || fail "the client (${client_cmd[*]} $port) exited with status $rc"

# ---- the server exits after its one connection ------------------------------------------
for _ in $(seq 1 200); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
if kill -0 "$server_pid" 2>/dev/null; then
    fail "the server did not exit within 10 s after serving its --count 1 connection"
fi
wait "$server_pid"
rc=$?
server_pid=
[ $rc -eq 0 ] || fail "the server exited with status $rc"

# ---- what both sides printed (the documentation's output) ----------------------------------
if [ $kind = udp ]; then
    expected_client="Send: $message
Received: $message
Close the socket
Connection closed"
    actual_client=$(cat "$tmp/client.out")
    [ "$actual_client" = "$expected_client" ] ||
        fail "client output differs; expected:
$expected_client"
    mapfile -t lines <"$tmp/server.out"
    [ "${#lines[@]}" -eq 4 ] || fail "the server printed ${#lines[@]} lines, expected 4"
    [ "${lines[0]}" = "Starting UDP server" ] || fail "server line 1: '${lines[0]}'"
    [ "${lines[1]}" = "listening on $port" ] || fail "server line 2: '${lines[1]}'"
    [[ "${lines[2]}" =~ ^Received\ \'$message\'\ from\ \(\'127\.0\.0\.1\',\ [0-9]+\)$ ]] ||
        fail "server line 3: '${lines[2]}'"
    [[ "${lines[3]}" =~ ^Send\ \'$message\'\ to\ \(\'127\.0\.0\.1\',\ [0-9]+\)$ ]] ||
        fail "server line 4: '${lines[3]}'"
    echo "ok [udp-$mode] port $port"
    echo "--- server (${server_cmd[*]})"
    cat "$tmp/server.out"
    echo "--- client (${client_cmd[*]} $port)"
    cat "$tmp/client.out"
    exit 0
fi

expected_client="Data sent: '$message'
Data received: '$message'
The server closed the connection"
actual_client=$(cat "$tmp/client.out")
[ "$actual_client" = "$expected_client" ] ||
    fail "client output differs; expected:
$expected_client"

mapfile -t lines <"$tmp/server.out"
[ "${#lines[@]}" -eq 5 ] || fail "the server printed ${#lines[@]} lines, expected 5"
[ "${lines[0]}" = "listening on $port" ] || fail "server line 1: '${lines[0]}'"
[[ "${lines[1]}" =~ ^Connection\ from\ \(\'127\.0\.0\.1\',\ [0-9]+\)$ ]] ||
    fail "server line 2: '${lines[1]}', expected \"Connection from ('127.0.0.1', PORT)\""
[ "${lines[2]}" = "Data received: '$message'" ] || fail "server line 3: '${lines[2]}'"
[ "${lines[3]}" = "Send: '$message'" ] || fail "server line 4: '${lines[3]}'"
[ "${lines[4]}" = "Close the client socket" ] || fail "server line 5: '${lines[4]}'"

echo "ok [$mode] port $port"
echo "--- server (${server_cmd[*]})"
cat "$tmp/server.out"
echo "--- client (${client_cmd[*]} $port)"
cat "$tmp/client.out"
