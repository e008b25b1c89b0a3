#!/usr/bin/env bash
# tests/tls/make_certs.sh DIR - the TLS tests' certificates, made with the openssl command
# line at test time (no private key is committed). EC P-256 keys, so it takes well under
# a second. Idempotent: does nothing when DIR/done exists.
#   ca.pem                 the test CA (ca.key its key)
#   server.pem/.key        CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, by ca
#   client.pem/.key        CN=aiotp-client (clientAuth), by ca
#   wrongname.pem/.key     CN/SAN example.invalid, by ca (a hostname mismatch)
#   other-ca.pem           another CA; other.pem/.key: localhost, by other-ca (unknown CA)
#   expired.pem/.key       localhost, by ca, expired
#   server-chain.pem       server.pem followed by ca.pem
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
[ -e "$dir/done" ] && exit 0
command -v openssl >/dev/null || { echo "make_certs.sh: openssl not found" >&2; exit 2; }
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem" 2>/dev/null
}

leaf() { # name cn san ca usage [days]
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
        "$5" "$3" > "$1.ext"
    if [ "${6:-}" = expired ]; then
        # valid yesterday only: -not_before/-not_after need OpenSSL 3.4; use x509 -days 0
        # on a certificate signed with a start date in the past through the ca command
        openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial \
            -days 1 -sha256 -extfile "$1.ext" -out "$1.tmp.pem" 2>/dev/null
        # make it expired: re-sign with a validity that ended (openssl ca -enddate)
        mkdir -p ca-db && : > ca-db/index.txt && echo 01 > ca-db/serial
        cat > ca.cnf <<CNF
[ ca ]
default_ca = d
[ d ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = p
copy_extensions = none
[ p ]
commonName = supplied
CNF
        openssl ca -batch -config ca.cnf -cert "$4.pem" -keyfile "$4.key" -in "$1.csr" \
            -startdate 20200101000000Z -enddate 20200102000000Z -extfile "$1.ext" \
            -out "$1.pem" -notext 2>/dev/null
        rm -f "$1.tmp.pem"
    else
        openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial \
            -days 3650 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    fi
}

ca ca "aiotp test CA"
ca other-ca "aiotp other CA"
leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1" ca serverAuth
leaf client aiotp-client "DNS:aiotp-client" ca clientAuth
leaf wrongname example.invalid "DNS:example.invalid" ca serverAuth
leaf other localhost "DNS:localhost,IP:127.0.0.1" other-ca serverAuth
leaf expired localhost "DNS:localhost,IP:127.0.0.1" ca serverAuth expired
cat server.pem ca.pem > server-chain.pem
cp ca.pem ca.key other-ca.pem server.pem server.key client.pem client.key wrongname.pem \
   wrongname.key other.pem other.key expired.pem expired.key server-chain.pem "$dir/"
chmod 600 "$dir"/*.key
touch "$dir/done"
