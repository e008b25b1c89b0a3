#!/usr/bin/env bash
# examples/run_tls_interop.sh - the documentation's TCP echo server and client over TLS,
# across implementations (aiotp, CPython's asyncio + ssl, the openssl command line) over
# loopback; checks what both sides print.
#
#   run_tls_interop.sh MODE VERSION PYTHON BIN_DIR CERT_DIR
#
# MODE (the server, then the client):
#   aiotp-pair                 tls_echo_server            <- tls_echo_client
#   cpython-client             tls_echo_server            <- python/tls_echo_client.py
#   cpython-server             python/tls_echo_server.py  <- tls_echo_client
#   openssl-server             openssl s_server -rev      <- tls_echo_client
#   openssl-client             tls_echo_server            <- openssl s_client
#   bad-cert-openssl-server    s_server, a certificate of an unknown CA <- tls_echo_client:
#                              the handshake fails with ETLSCERT, nothing echoed
#   bad-cert-openssl-client    tls_echo_server, the same  <- openssl s_client: refused
#   alpn-openssl-server        s_server -alpn http/1.1    <- tls_echo_client --alpn h2,http/1.1
#   alpn-cpython-client        tls_echo_server --alpn h2  <- python client --alpn http/1.1,h2
# VERSION: tls12, tls13 or any (both sides bounded to it).
# CERT_DIR holds the certificates of tests/tls/make_certs.sh (made when missing). The
# server picks its port (0) and prints it. Exit status 0 only if both sides printed what
# they must and exited as they must.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=${1:-}
version=${2:-any}
python=${3:-$(command -v python3 || true)}
bindir=${4:-$here/../build/examples}
certs=${5:-$here/../build/examples/tls-certs}
message='Hello World!'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aiotp-tls-interop.XXXXXX") || exit 1
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
    echo "FAIL [$mode $version]: $*" >&2
    dump
    exit 1
}

"$here/../tests/tls/make_certs.sh" "$certs" || fail "cannot make the certificates"
command -v openssl >/dev/null || fail "the openssl command line is missing"

vflag=()      # aiotp and the python scripts
oflag=()      # openssl
case "$version" in
tls12) vflag=(--tls12); oflag=(-tls1_2) ;;
tls13) vflag=(--tls13); oflag=(-tls1_3) ;;
any) ;;
*) fail "unknown version $version" ;;
esac

server_cert=(--cert "$certs/server-chain.pem" --key "$certs/server.key")
ca=(--ca "$certs/ca.pem")
port_re='s/^listening on \([0-9][0-9]*\)$/\1/p'
expect_client_ok=1
client_lines=3
server_kind=aiotp

case "$mode" in
aiotp-pair)
    server_cmd=("$bindir/tls_echo_server" 0 --count 1 --info "${server_cert[@]}" "${vflag[@]}")
    client_cmd=("$bindir/tls_echo_client" "${ca[@]}" --info "${vflag[@]}")
    ;;
cpython-client)
    server_cmd=("$bindir/tls_echo_server" 0 --count 1 --info "${server_cert[@]}" "${vflag[@]}")
    client_cmd=("$python" "$here/python/tls_echo_client.py" "${ca[@]}" --info "${vflag[@]}")
    ;;
cpython-server)
    server_kind=cpython
    server_cmd=("$python" "$here/python/tls_echo_server.py" 0 --count 1 --info
                "${server_cert[@]}" "${vflag[@]}")
    client_cmd=("$bindir/tls_echo_client" "${ca[@]}" --info "${vflag[@]}")
    ;;
openssl-server|alpn-openssl-server|bad-cert-openssl-server)
    server_kind=openssl
    cert=server-chain
    key=server
    extra=()
    [ "$mode" = bad-cert-openssl-server ] && { cert=other; key=other; }
    [ "$mode" = alpn-openssl-server ] && extra=(-alpn http/1.1)
    port_re='s/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p'
    server_cmd=(openssl s_server -accept 0 -naccept 1 -rev -cert "$certs/$cert.pem"
                -key "$certs/$key.key" "${oflag[@]}" "${extra[@]}")
    client_cmd=("$bindir/tls_echo_client" "${ca[@]}" --info --line --close-on-reply
                "${vflag[@]}")
    [ "$mode" = alpn-openssl-server ] && client_cmd+=(--alpn h2,http/1.1)
    [ "$mode" = bad-cert-openssl-server ] && expect_client_ok=0
    ;;
openssl-client|bad-cert-openssl-client)
    cert=(--cert "$certs/server-chain.pem" --key "$certs/server.key")
    [ "$mode" = bad-cert-openssl-client ] && cert=(--cert "$certs/other.pem" --key "$certs/other.key")
    server_cmd=("$bindir/tls_echo_server" 0 --count 1 --info "${cert[@]}" "${vflag[@]}")
    client_cmd=(openssl s_client -CAfile "$certs/ca.pem" -servername localhost
                -verify_return_error -quiet -ign_eof "${oflag[@]}")
    [ "$mode" = bad-cert-openssl-client ] && expect_client_ok=0
    ;;
alpn-cpython-client)
    server_cmd=("$bindir/tls_echo_server" 0 --count 1 --info --alpn h2 "${server_cert[@]}"
                "${vflag[@]}")
    client_cmd=("$python" "$here/python/tls_echo_client.py" "${ca[@]}" --info
                --alpn http/1.1,h2 "${vflag[@]}")
    ;;
*)
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

# ---- the server, on a port of its choosing -------------------------------------------
"${server_cmd[@]}" </dev/null >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
port=
for _ in $(seq 1 200); do
    port=$(sed -n "$port_re" "$tmp/server.out" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the server (${server_cmd[*]}) exited before printing its port"
    sleep 0.05
done
[ -n "$port" ] || fail "the server (${server_cmd[*]}) printed no port within 10 s"

# ---- the client ---------------------------------------------------------------------------
case "$mode" in
openssl-client|bad-cert-openssl-client)
    printf '%s' "$message" | timeout 20 "${client_cmd[@]}" -connect "127.0.0.1:$port" \
        >"$tmp/client.out" 2>"$tmp/client.err"
    rc=$?
    ;;
*)
    timeout 20 "${client_cmd[@]}" "$port" >"$tmp/client.out" 2>"$tmp/client.err"
    rc=$?
    ;;
esac
[ $rc -ne 124 ] || fail "the client (${client_cmd[*]} $port) did not finish within 20 s"
if [ $expect_client_ok = 1 ]; then
    [ $rc -eq 0 ] || fail "the client exited with status $rc"
else
    [ $rc -ne 0 ] || fail "the client succeeded with a certificate of an unknown CA"
fi

# ---- the server exits after its one connection ------------------------------------------
for _ in $(seq 1 200); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
done
if [ "$server_kind" = openssl ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
else
    kill -0 "$server_pid" 2>/dev/null && fail "the server did not exit after its connection"
    wait "$server_pid"
    src=$?
    [ $src -eq 0 ] || fail "the server exited with status $src"
fi
server_pid=

# ---- what both sides printed ------------------------------------------------------------
want_version=
case "$version" in tls12) want_version=TLSv1.2 ;; tls13) want_version=TLSv1.3 ;; esac
check_tls_line() { # FILE [ALPN]
    local line
    line=$(grep '^TLS: ' "$1" | head -n 1)
    [ -n "$line" ] || fail "no 'TLS:' line in $(basename "$1")"
    [ -z "$want_version" ] || [[ "$line" == "TLS: $want_version "* ]] ||
        fail "$(basename "$1"): '$line', $want_version expected"
    [ -z "${2:-}" ] || [[ "$line" == *" ALPN: $2" ]] || fail "$(basename "$1"): '$line', ALPN $2 expected"
}

case "$mode" in
bad-cert-openssl-server)
    grep -q 'TLS handshake failed: ETLSCERT' "$tmp/client.err" ||
        fail "the client did not report ETLSCERT"
    grep -q "Data" "$tmp/client.out" && fail "the client printed data"
    ;;
bad-cert-openssl-client)
    grep -qi 'verify' "$tmp/client.err" "$tmp/client.out" ||
        fail "s_client did not report the verification failure"
    grep -q "Hello" "$tmp/client.out" && fail "s_client got data"
    grep -q 'TLS handshake failed: ETLS' "$tmp/server.err" ||
        fail "the server did not report the failed handshake"
    grep -q '^Connection from' "$tmp/server.out" && fail "the server's protocol was called"
    ;;
openssl-client)
    grep -qF "$message" "$tmp/client.out" || fail "s_client did not get the echo"
    check_tls_line "$tmp/server.out"
    ;;
openssl-server|alpn-openssl-server)
    expected="Data sent: '$message'
Data received: '!dlroW olleH'
The server closed the connection"
    [ "$(grep -v '^TLS: ' "$tmp/client.out")" = "$expected" ] ||
        fail "client output differs; expected:
$expected"
    if [ "$mode" = alpn-openssl-server ]; then
        check_tls_line "$tmp/client.out" http/1.1
    else
        check_tls_line "$tmp/client.out" none
    fi
    ;;
*)
    expected="Data sent: '$message'
Data received: '$message'
The server closed the connection"
    [ "$(grep -v '^TLS: ' "$tmp/client.out")" = "$expected" ] ||
        fail "client output differs; expected:
$expected"
    mapfile -t lines < <(grep -v '^TLS: ' "$tmp/server.out")
    [ "${#lines[@]}" -eq 5 ] || fail "the server printed ${#lines[@]} lines, expected 5 (and TLS:)"
    [ "${lines[0]}" = "listening on $port" ] || fail "server line 1: '${lines[0]}'"
    [[ "${lines[1]}" =~ ^Connection\ from\ \(\'127\.0\.0\.1\',\ [0-9]+\)$ ]] ||
        fail "server line 2: '${lines[1]}'"
    [ "${lines[2]}" = "Data received: '$message'" ] || fail "server line 3: '${lines[2]}'"
    [ "${lines[3]}" = "Send: '$message'" ] || fail "server line 4: '${lines[3]}'"
    [ "${lines[4]}" = "Close the client socket" ] || fail "server line 5: '${lines[4]}'"
    if [ "$mode" = alpn-cpython-client ]; then
        check_tls_line "$tmp/server.out" h2
        check_tls_line "$tmp/client.out" h2
    else
        check_tls_line "$tmp/server.out" none
        check_tls_line "$tmp/client.out" none
    fi
    ;;
esac
echo "ok [$mode $version] port $port"
dump 2>&1
exit 0
