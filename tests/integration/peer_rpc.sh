#!/usr/bin/env bash
# peer_rpc.sh — the peer listener (2377) against a hostile joiner, spoken to with curl and
# openssl on 127.0.0.1: a CSR with a weak key is refused even with a valid token; wrong
# tokens are logged and limited per address (10, then one a second), and while an address
# is limited even a valid token from it is refused; the limit lifts with time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init
WT=$(dk swarm join-token -q worker)
digest=$(echo "$WT" | cut -d- -f3)
bad="SWMTKN-1-$digest-0000000000000000000000000"

# join_req TOKEN CSR_FILE: POST /swarm-rpc/join; sets STATUS and BODY.
join_req()
{
    local body
    body=$(jq -n --arg t "$1" --rawfile csr "$2" \
        '{Token: $t, CSR: $csr, Addr: "127.0.0.1", Availability: "active", Description: {}}')
    STATUS=$(curl -sS -k --max-time 10 -o "$T/join.body" -w '%{http_code}' \
        -H 'Content-Type: application/json' --data-binary "$body" \
        https://127.0.0.1:2377/swarm-rpc/join)
    BODY=$(cat "$T/join.body")
}

csr()
{ # csr NAME OPENSSL_NEWKEY_ARGS...
    local name=$1
    shift
    openssl req -new "$@" -nodes -subj /CN=x -keyout "$T/$name.key" -out "$T/$name.csr" 2>/dev/null
}
csr rsa512 -newkey rsa:512
csr rsa1024 -newkey rsa:1024
csr p256 -newkey ec -pkeyopt ec_paramgen_curve:P-256

# --- weak keys: refused with a valid token, nothing joins -------------------------------------
nodes_before=$(dk node ls -q | wc -l)
for k in rsa512 rsa1024; do
    join_req "$WT" "$T/$k.csr"
    assert_eq 400 "$STATUS" "join with a $k CSR"
    assert_contains "$(jqr .message)" "at least 2048" "join with a $k CSR"
done
assert_eq "$nodes_before" "$(dk node ls -q | wc -l)" "nodes after refused weak-key joins"

# --- wrong tokens: logged, then limited ---------------------------------------------------------
for i in $(seq 1 10); do
    join_req "$bad" "$T/p256.csr"
    assert_eq 400 "$STATUS" "wrong token #$i"
    assert_contains "$(jqr .message)" "A valid join token is necessary" "wrong token #$i"
done
join_req "$bad" "$T/p256.csr"
assert_eq 503 "$STATUS" "the 11th wrong token within a second"
assert_contains "$(jqr .message)" "too many failed join attempts" "the 11th wrong token"
join_req "$WT" "$T/p256.csr"
assert_eq 503 "$STATUS" "a valid token from a limited address"
assert_eq "$nodes_before" "$(dk node ls -q | wc -l)" "nodes while limited"
assert_contains "$(cat "$DAEMON_LOG")" "join from 127.0.0.1 refused: rpc error: code = InvalidArgument" \
    "refused joins are logged"
assert_contains "$(cat "$DAEMON_LOG")" "refusing further joins from it for a while" \
    "the limit is logged"
n=$(grep -c "join from 127.0.0.1 refused" "$DAEMON_LOG")
[ "$n" -le 11 ] || fail "refused joins logged $n times: the limiter must bound the log too"

# one try comes back per second: a valid token then joins
ok=""
for _ in $(seq 1 30); do
    join_req "$WT" "$T/p256.csr"
    if [ "$STATUS" = 200 ]; then ok=1; break; fi
    assert_eq 503 "$STATUS" "join while limited"
    sleep 0.2
done
[ -n "$ok" ] || fail "a valid join stayed refused 6 s after the last wrong token"
assert_eq $((nodes_before + 1)) "$(dk node ls -q | wc -l)" "nodes after the valid join"
it_finish
