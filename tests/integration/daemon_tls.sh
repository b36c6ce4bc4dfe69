#!/usr/bin/env bash
# daemon_tls.sh — the Engine API over TCP as dockerd does it: with --tlsverify the docker CLI
# connects with a client certificate from the given CA (and is refused without one, or with
# one from another CA); plain TCP on a non-loopback address is refused unless forced.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init

pki=$T/pki
mkdir -p "$pki"
mkca() { # name
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$1-ca.key" 2>/dev/null
    openssl req -x509 -new -key "$pki/$1-ca.key" -subj "/CN=$1-ca" -days 2 -out "$pki/$1-ca.pem" 2>/dev/null
}
mkcert() { # ca name ext
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$2-key.pem" 2>/dev/null
    openssl req -new -key "$pki/$2-key.pem" -subj "/CN=$2" -out "$pki/$2.csr" 2>/dev/null
    printf '%s\n' "$3" >"$pki/$2.ext"
    openssl x509 -req -in "$pki/$2.csr" -CA "$pki/$1-ca.pem" -CAkey "$pki/$1-ca.key" \
        -CAcreateserial -days 1 -extfile "$pki/$2.ext" -out "$pki/$2-cert.pem" 2>/dev/null
}
mkca good
mkca evil
mkcert good server "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
mkcert good client "extendedKeyUsage=clientAuth"
mkcert evil intruder "extendedKeyUsage=clientAuth"

port=$(free_ports 1)
start_daemon -H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$pki/good-ca.pem" \
    --tlscert "$pki/server-cert.pem" --tlskey "$pki/server-key.pem"
tls_docker() { # client-name args...
    local who=$1
    shift
    timeout 20 docker -H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$pki/good-ca.pem" \
        --tlscert "$pki/$who-cert.pem" --tlskey "$pki/$who-key.pem" "$@"
}
out=$(tls_docker client version --format '{{.Server.APIVersion}}')
assert_eq 1.41 "$out" "docker version over mutual TLS"
tls_docker client info --format '{{.Swarm.LocalNodeState}}' >/dev/null
if tls_docker intruder version >/dev/null 2>&1; then
    fail "a client certificate from another CA was accepted"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$pki/good-ca.pem" \
    "https://127.0.0.1:$port/_ping" || true)
assert_eq 000 "$code" "a client without a certificate is refused in the handshake"
stop_daemon

# plain TCP beyond loopback: refused unless forced (dockerd's stance since 27.x)
port2=$(free_ports 1)
rc=0
timeout 10 "$SHOAL_BIN" daemon --data-root "$T/root2" -H "unix://$T/sock2" \
    -H "tcp://0.0.0.0:$port2" --etcd-client-port "$ETCD_CPORT" --etcd-peer-port "$ETCD_PPORT" \
    >"$T/plain.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "plain TCP on 0.0.0.0 without TLS exits 1"
assert_match "$(cat "$T/plain.out")" "refusing plain TCP on tcp://0.0.0.0:$port2" "its message"
it_finish
