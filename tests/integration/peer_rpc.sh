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
# 10 are allowed at once, then one a second: under load each attempt can take a while, so the
# count of refusals before the limit is bounded by 10 + the seconds spent, not exactly 10.
t0=$(date +%s%N)
n400=0 limited=""
for i in $(seq 1 80); do
    join_req "$bad" "$T/p256.csr"
    if [ "$STATUS" = 400 ]; then
        assert_contains "$(jqr .message)" "A valid join token is necessary" "wrong token #$i"
        n400=$((n400 + 1))
    elif [ "$STATUS" = 503 ]; then
        assert_contains "$(jqr .message)" "too many failed join attempts" "limited wrong token"
        limited=1
        break
    else
        fail "wrong token #$i: status $STATUS" "$BODY"
    fi
done
t1=$(date +%s%N)
[ -n "$limited" ] || fail "80 wrong tokens and no limit"
secs=$(((t1 - t0) / 1000000000 + 1))
[ "$n400" -ge 10 ] && [ "$n400" -le $((10 + secs)) ] ||
    fail "$n400 wrong tokens answered before the limit in about $secs s (want 10..$((10 + secs)))"
# a valid token from the limited address is refused too (unless a second passed meanwhile)
join_req "$WT" "$T/p256.csr"
t2=$(date +%s%N)
ok=""
if [ "$STATUS" != 503 ]; then
    [ $(((t2 - t1) / 1000000)) -ge 1000 ] && [ "$STATUS" = 200 ] ||
        fail "a valid token from a limited address: $STATUS"
    ok=1
else
    assert_eq "$nodes_before" "$(dk node ls -q | wc -l)" "nodes while limited"
fi
assert_contains "$(cat "$DAEMON_LOG")" "join from 127.0.0.1 refused: rpc error: code = InvalidArgument" \
    "refused joins are logged"
assert_contains "$(cat "$DAEMON_LOG")" "refusing further joins from it for a while" \
    "the limit is logged"
n=$(grep -c "join from 127.0.0.1 refused" "$DAEMON_LOG")
[ "$n" -le $((n400 + 1)) ] || fail "refused joins logged $n times: the limiter must bound the log too"

# one try comes back per second: a valid token then joins
for _ in $(seq 1 30); do
    [ -z "$ok" ] || break
    join_req "$WT" "$T/p256.csr"
    if [ "$STATUS" = 200 ]; then ok=1; break; fi
    assert_eq 503 "$STATUS" "join while limited"
    sleep 0.2
done
[ -n "$ok" ] || fail "a valid join stayed refused 6 s after the last wrong token"
assert_eq $((nodes_before + 1)) "$(dk node ls -q | wc -l)" "nodes after the valid join"
it_finish
