#!/usr/bin/env bash
# join_token.sh — `docker swarm join-token worker|manager`, -q, --rotate: Docker's output word
# for word, tokens that match GET /swarm, rotation that changes only the secret part of the
# rotated token, and the CLI's refusal of an unknown role.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
note_docker20
start_daemon
swarm_init

api GET /v1.41/swarm
assert_status 200
w0=$(jqr .JoinTokens.Worker)
m0=$(jqr .JoinTokens.Manager)
assert_match "$w0" "^$RE_TOKEN\$" "worker token shape"
assert_match "$m0" "^$RE_TOKEN\$" "manager token shape"
digest=${w0:9:50}

expect_join()
{ # role token: prints Docker's text without its two final newlines (which $(...) would eat)
    printf 'To add a %s to this swarm, run the following command:\n\n    docker swarm join --token %s 127.0.0.1:2377' "$1" "$2"
}

run dk swarm join-token worker
assert_rc 0 "join-token worker"
assert_eq "$(expect_join worker "$w0")"$'\n\n' "$OUT_RAW" "join-token worker output"
run dk20 swarm join-token worker
assert_rc 0 "join-token worker (20.10)"
assert_eq "$(expect_join worker "$w0")"$'\n\n' "$OUT_RAW" "join-token worker output (20.10)"
run dk swarm join-token manager
assert_rc 0 "join-token manager"
assert_eq "$(expect_join manager "$m0")"$'\n\n' "$OUT_RAW" "join-token manager output"

run dk swarm join-token -q worker
assert_rc 0
assert_eq "$w0"$'\n' "$OUT_RAW" "join-token -q worker"
run dk swarm join-token --quiet manager
assert_rc 0
assert_eq "$m0"$'\n' "$OUT_RAW" "join-token --quiet manager"

# --- rotate the worker token --------------------------------------------------------------
api GET /v1.41/swarm
v0=$(jqr .Version.Index)
run dk swarm join-token --rotate worker
assert_rc 0 "join-token --rotate worker"
assert_match "$OUT_RAW" $'^Successfully rotated worker join token\.\n\nTo add a worker to this swarm, run the following command:\n\n    docker swarm join --token ('"$RE_TOKEN"$') 127\\.0\\.0\\.1:2377\n\n$' \
    "join-token --rotate worker output"
w1=${BASH_REMATCH[1]}
assert_ne "$w0" "$w1" "worker token after --rotate"
assert_eq "$digest" "${w1:9:50}" "CA digest part of the rotated worker token"
assert_ne "${w0:60}" "${w1:60}" "secret part of the rotated worker token"
api GET /v1.41/swarm
assert_eq "$w1" "$(jqr .JoinTokens.Worker)" "GET /swarm worker token after rotation"
assert_eq "$m0" "$(jqr .JoinTokens.Manager)" "manager token untouched by a worker rotation"
v1=$(jqr .Version.Index)
[ "$v1" -gt "$v0" ] || fail "Version.Index did not grow with the rotation" "before: $v0" "after: $v1"
run dk swarm join-token -q worker
assert_eq "$w1" "$OUT" "join-token -q worker after rotation"

# --- rotate the manager token, quietly, with CLI 20.10 ------------------------------------
run dk20 swarm join-token --rotate -q manager
assert_rc 0 "join-token --rotate -q manager (20.10)"
assert_match "$OUT_RAW" "^($RE_TOKEN)"$'\n$' "join-token --rotate -q manager output"
m1=${BASH_REMATCH[1]}
assert_ne "$m0" "$m1" "manager token after --rotate"
assert_eq "$digest" "${m1:9:50}" "CA digest part of the rotated manager token"
api GET /v1.41/swarm
assert_eq "$m1" "$(jqr .JoinTokens.Manager)" "GET /swarm manager token after rotation"
assert_eq "$w1" "$(jqr .JoinTokens.Worker)" "worker token untouched by a manager rotation"

# --- rotate both through the API (what --rotate sends), with a stale version -> refused -----
api GET /v1.41/swarm
spec=$(jqc .Spec)
cur=$(jqr .Version.Index)
api POST "/v1.41/swarm/update?version=$v0&rotateWorkerToken=true" "$spec"
assert_status 500 "swarm update with a stale version"
expect_eq "rpc error: code = Unknown desc = update out of sequence" "$(jqr .message)" \
    "message of a swarm update with a stale version"
api GET /v1.41/swarm
assert_eq "$w1" "$(jqr .JoinTokens.Worker)" "a refused rotation leaves the worker token"
api POST "/v1.41/swarm/update?version=$cur&rotateWorkerToken=true&rotateManagerToken=true" "$spec"
assert_status 200 "swarm update rotating both tokens"
api GET /v1.41/swarm
w2=$(jqr .JoinTokens.Worker)
m2=$(jqr .JoinTokens.Manager)
assert_ne "$w1" "$w2" "worker token after the API rotation"
assert_ne "$m1" "$m2" "manager token after the API rotation"
assert_eq "$digest" "${w2:9:50}" "digest after the API rotation"

# --- unknown role: refused by the CLI ----------------------------------------------------------
run dk swarm join-token badrole
assert_rc 1 "join-token badrole"
assert_eq "unknown role badrole" "$ERR" "join-token badrole"
run dk20 swarm join-token badrole
assert_rc 1 "join-token badrole (20.10)"
assert_eq "unknown role badrole" "$ERR" "join-token badrole (20.10)"
run dk swarm join-token --rotate badrole
assert_rc 1 "join-token --rotate badrole"
api GET /v1.41/swarm
assert_eq "$w2" "$(jqr .JoinTokens.Worker)" "worker token untouched by a bad role"

it_finish
