#!/usr/bin/env bash
# api_errors.sh — the Engine API's edges, spoken to with curl over the unix socket: /_ping (HEAD
# and GET, headers and body), /version with and without a prefix, too new / too old versions,
# unknown paths and methods, a not-yet-built endpoint (501), malformed JSON, a 20 MB body
# (413), and a second daemon on the same data root (refused, the first one unharmed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon

check_ping_headers()
{ # what swarm_header
    assert_eq 200 "$STATUS" "$1 status"
    assert_eq 1.41 "$(header Api-Version)" "$1 Api-Version"
    assert_eq linux "$(header Ostype)" "$1 Ostype"
    assert_eq false "$(header Docker-Experimental)" "$1 Docker-Experimental"
    assert_eq "no-cache, no-store, must-revalidate" "$(header Cache-Control)" "$1 Cache-Control"
    assert_eq no-cache "$(header Pragma)" "$1 Pragma"
    assert_eq "text/plain; charset=utf-8" "$(header Content-Type)" "$1 Content-Type"
    assert_match "$(header Date)" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$' "$1 Date"
    assert_ne "" "$(header Server)" "$1 Server"
    assert_eq "$2" "$(header Swarm)" "$1 Swarm header"
}

# --- /_ping -----------------------------------------------------------------------------------
api HEAD /_ping
check_ping_headers "HEAD /_ping (inactive)" inactive
assert_eq 0 "$(header Content-Length)" "HEAD /_ping Content-Length"
# nothing follows a HEAD reply: HEAD then GET on one connection give exactly two responses
raw_http 'HEAD /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
assert_match "$RAW" $'^HTTP/1\\.1 200 OK\r\n([^\r]+\r\n)+\r\nHTTP/1\\.1 200 OK\r\n([^\r]+\r\n)+\r\nOK$' \
    "HEAD then GET /_ping on one connection"
api GET /_ping
check_ping_headers "GET /_ping (inactive)" inactive
assert_eq OK "$BODY" "GET /_ping body"
assert_eq 2 "$(header Content-Length)" "GET /_ping Content-Length"
api GET /v1.41/_ping
assert_status 200 "GET /v1.41/_ping"
assert_eq OK "$BODY" "GET /v1.41/_ping body"
api GET /v1.24/_ping
assert_status 200 "GET /v1.24/_ping"

swarm_init
api HEAD /_ping
check_ping_headers "HEAD /_ping (manager)" active/manager
api GET /_ping
check_ping_headers "GET /_ping (manager)" active/manager
assert_eq OK "$BODY" "GET /_ping body (manager)"

# --- /version ---------------------------------------------------------------------------------
api GET /v1.41/version
assert_status 200 "GET /v1.41/version"
assert_eq application/json "$(header Content-Type)" "GET /v1.41/version Content-Type"
assert_eq 1.41 "$(jqr .ApiVersion)" "ApiVersion"
min=$(jqr .MinAPIVersion)
assert_match "$min" '^1\.[0-9]+$' "MinAPIVersion"
assert_eq linux "$(jqr .Os)" "Os"
assert_eq amd64 "$(jqr .Arch)" "Arch (Go's name)"
assert_ne "" "$(jqr .Version)" "Version"
assert_eq "$(uname -r)" "$(jqr .KernelVersion)" "KernelVersion"
assert_eq Engine "$(jqr '.Components[0].Name')" "Components[0].Name"
assert_eq 1.41 "$(jqr '.Components[0].Details.ApiVersion')" "Components[0].Details.ApiVersion"
versioned=$BODY
api GET /version
assert_status 200 "GET /version (unversioned)"
assert_eq "$versioned" "$BODY" "GET /version = GET /v1.41/version"
api GET /v1.24/version
assert_status 200 "GET /v1.24/version"
run dk version --format '{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Client.APIVersion}}'
assert_rc 0 "docker version"
assert_eq "1.41 $min 1.41" "$OUT" "docker version negotiates 1.41"

api GET /v1.99/version
assert_status 400 "GET /v1.99/version"
assert_eq application/json "$(header Content-Type)" "too new: Content-Type"
assert_eq '{"message":"client version 1.99 is too new. Maximum supported API version is 1.41"}' \
    "$(jqc .)" "too new: body"
api GET /v1.42/version
assert_status 400 "GET /v1.42/version"
assert_eq "client version 1.42 is too new. Maximum supported API version is 1.41" "$(jqr .message)" \
    "GET /v1.42/version"
api GET /v1.12/version
assert_status 400 "GET /v1.12/version"
assert_eq "text/plain; charset=utf-8" "$(header Content-Type)" "too old: Content-Type"
assert_eq "client version 1.12 is too old. Minimum supported API version is $min, please upgrade your client to a newer version"$'\n' \
    "$BODY" "too old: body"
api GET /v1.11/version
assert_status 400 "GET /v1.11/version"

# --- unknown paths and methods: 404 page not found -------------------------------------------------
for req in "GET /v1.41/nonexistent" "GET /nonexistent" "PUT /v1.41/services" "DELETE /v1.41/swarm" \
    "POST /v1.41/nodes" "PATCH /v1.41/info" "GET /v1.41/swarm/init" "POST /_ping"; do
    api $req
    expect_eq 404 "$STATUS" "$req: status"
    expect_eq application/json "$(header Content-Type)" "$req: Content-Type"
    expect_eq '{"message":"page not found"}' "$(jqc .)" "$req: body"
done

# --- an endpoint that is not built yet: 501 with a JSON message ------------------------------------
api GET /v1.41/secrets
assert_status 501 "GET /secrets (not built yet)"
assert_eq application/json "$(header Content-Type)" "501 Content-Type"
assert_ne "" "$(jqr .message)" "501 message"
api GET /secrets
assert_status 501 "GET /secrets unversioned (not built yet)"

# --- malformed JSON ---------------------------------------------------------------------------------
api GET /v1.41/swarm
swarm_before=$BODY
api POST /v1.41/swarm/init '{bad'
assert_status 400 "POST /swarm/init {bad"
assert_eq application/json "$(header Content-Type)" "bad JSON Content-Type"
expect_eq "invalid character 'b' looking for beginning of object key string" "$(jqr .message)" \
    "POST /swarm/init {bad: message (Go's encoding/json words, as recorded)"
api POST /v1.41/swarm/init ''
assert_status 400 "POST /swarm/init with an empty body"
expect_eq "got EOF while reading request body" "$(jqr .message)" "POST /swarm/init with an empty body"
api POST /v1.41/swarm/init '{"ListenAddr":"0.0.0.0:2377"'
assert_status 400 "POST /swarm/init with truncated JSON"
# Go's json.Decoder reads the first value and ignores what follows, so dockerd goes on to the
# version check: version 1 is stale.
api POST "/v1.41/swarm/update?version=1" '{} x'
assert_status 500 "POST /swarm/update with trailing garbage after a value"
expect_eq "rpc error: code = Unknown desc = update out of sequence" "$(jqr .message)" \
    "trailing garbage is ignored like dockerd's decoder does"
api GET /v1.41/swarm
assert_eq "$swarm_before" "$BODY" "GET /swarm unchanged by malformed requests"

# --- a 20 MB body: 413 -----------------------------------------------------------------------------
head -c 20000000 /dev/zero | tr '\0' ' ' >"$T/big.json"
set +e
STATUS=$(curl -sS --max-time 20 --unix-socket "$SOCK" -H 'Content-Type: application/json' \
    -H 'Expect:' --data-binary @"$T/big.json" -o "$T/api.body" -w '%{http_code}' \
    http://localhost/v1.41/swarm/init 2>"$T/curl.err")
rc=$?
set -e
BODY=$(cat "$T/api.body" 2>/dev/null || true)
[ $rc -eq 0 ] || [ "$STATUS" = 413 ] ||
    fail "curl with a 20 MB body failed (rc $rc) without a 413" "$(cat "$T/curl.err")"
API_REQ="POST /v1.41/swarm/init (20 MB)"
assert_status 413 "POST /swarm/init with a 20 MB body"
assert_ne "" "$(jqr .message)" "413 message"
rm -f "$T/big.json"
daemon_alive || fail "daemon died on a 20 MB body"
api GET /_ping
assert_status 200 "/_ping after the 20 MB body"

# --- a second daemon on the same data root ------------------------------------------------------------
read -r p1 p2 < <(free_ports 2)
set +e
timeout -k 5 20 "$SHOAL_BIN" daemon --data-root "$DATA_ROOT" -H "unix://$T/sock2" \
    --etcd-client-port "$p1" --etcd-peer-port "$p2" >"$T/second.out" 2>"$T/second.err"
rc=$?
set -e
check_sanitizer_log "$T/second.err"
assert_eq 1 "$rc" "exit code of a second daemon on the same data root"
second_err=$(cat "$T/second.err")
assert_contains "$second_err" "$DATA_ROOT" "the second daemon names the data root"
expect_eq "shoal: another shoal daemon (pid $DAEMON_PID) is already using the data root $DATA_ROOT" \
    "$second_err" "the second daemon's error: one line naming the PID and the data root"
[ ! -S "$T/sock2" ] || fail "the refused second daemon left its socket behind"
daemon_alive || fail "the first daemon died when a second one was started"
api GET /_ping
assert_status 200 "/_ping of the first daemon after the refused second one"
api GET /v1.41/swarm
assert_eq "$swarm_before" "$BODY" "the first daemon's swarm is untouched"
[ "$(cat "$T/shoal.pid")" = "$DAEMON_PID" ] || fail "pidfile changed" "$(cat "$T/shoal.pid")"

it_finish
