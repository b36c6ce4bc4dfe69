#!/usr/bin/env bash
# leave.sh — `docker swarm leave` on the last manager: refused without --force (Docker's words,
# 503), done with --force: inactive, cluster calls refused, etcd stopped and its data removed,
# still inactive after a restart, a second leave refused, and a new init with new identities.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init

api GET /v1.41/info
node_id=$(jqr .Swarm.NodeID)
cluster_id=$(jqr .Swarm.Cluster.ID)
api GET /v1.41/swarm
swarm_before=$BODY
etcd=$(etcd_child_pid)
[ -n "$etcd" ] || fail "no etcd child under the daemon after init"
[ -d "$DATA_ROOT/swarm" ] || fail "no $DATA_ROOT/swarm after init"

# --- without --force: refused, nothing changes ---------------------------------------------
run dk swarm leave
assert_rc 1 "swarm leave (last manager, no --force)"
# the CLI trims the message (client checkResponseErr: strings.TrimSpace)
assert_eq "Error response from daemon: ${MSG_LEAVE_LAST% }"$'\n' "$ERR_RAW" \
    "swarm leave (last manager, no --force): stderr, byte for byte"
assert_contains "$ERR" "Removing the last manager erases all current state of the swarm." \
    "swarm leave (last manager, no --force)"
api POST /v1.41/swarm/leave
assert_status 503 "POST /swarm/leave without force"
# the API message itself ends with a blank in Docker (moby Leave() builds it that way)
expect_eq "$MSG_LEAVE_LAST" "$(jqr .message)" "POST /swarm/leave without force (message)"
api POST "/v1.41/swarm/leave?force=0"
assert_status 503 "POST /swarm/leave?force=0"
api GET /v1.41/swarm
assert_eq "$swarm_before" "$BODY" "GET /swarm unchanged by the refused leave"
kill -0 "$etcd" 2>/dev/null || fail "etcd stopped by a refused leave"

# --- with --force ------------------------------------------------------------------------------
run dk swarm leave --force
assert_rc 0 "swarm leave --force"
assert_eq "Node left the swarm." "$OUT" "swarm leave --force output"
api GET /v1.41/info
assert_eq inactive "$(jqr .Swarm.LocalNodeState)" "LocalNodeState after leave"
assert_eq "" "$(jqr .Swarm.NodeID)" "NodeID after leave"
assert_eq false "$(jqr .Swarm.ControlAvailable)" "ControlAvailable after leave"
run dk info
assert_contains "$OUT" $'\n Swarm: inactive\n' "docker info after leave"
api HEAD /_ping
expect_eq inactive "$(header Swarm)" "Swarm header of /_ping after leave"

run dk node ls
assert_rc 1 "node ls after leave"
assert_eq "Error response from daemon: $MSG_NOT_MANAGER" "$ERR" "node ls after leave"
for path in /v1.41/nodes /v1.41/swarm /v1.41/swarm/unlockkey; do
    api GET "$path"
    assert_status 503 "GET $path after leave"
    assert_eq "$MSG_NOT_MANAGER" "$(jqr .message)" "GET $path after leave"
done
run dk swarm join-token worker
assert_rc 1 "join-token after leave"
assert_eq "Error response from daemon: $MSG_NOT_MANAGER" "$ERR" "join-token after leave"

# etcd is gone and its data removed
for _ in $(seq 1 50); do
    kill -0 "$etcd" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$etcd" 2>/dev/null && tr '\0' ' ' <"/proc/$etcd/cmdline" | grep -qF -- "$T"; then
    fail "etcd child $etcd still running 5 s after leave --force"
fi
[ -z "$(etcd_child_pid)" ] || fail "the daemon still has an etcd child after leave"
[ ! -e "$DATA_ROOT/swarm" ] || fail "$DATA_ROOT/swarm still exists after leave --force" \
    "$(find "$DATA_ROOT/swarm" | head -n 20)"

# --- leave again: not part of a swarm ----------------------------------------------------------
run dk swarm leave
assert_rc 1 "swarm leave when not in a swarm"
assert_eq "Error response from daemon: $MSG_NOT_IN_SWARM" "$ERR" "swarm leave when not in a swarm"
run dk swarm leave --force
assert_rc 1 "swarm leave --force when not in a swarm"
assert_eq "Error response from daemon: $MSG_NOT_IN_SWARM" "$ERR" "leave --force when not in a swarm"
api POST "/v1.41/swarm/leave?force=1"
assert_status 503 "POST /swarm/leave?force=1 when not in a swarm"
assert_eq "$MSG_NOT_IN_SWARM" "$(jqr .message)" "POST /swarm/leave when not in a swarm"

# --- a restart does not bring the old swarm back ---------------------------------------------------
stop_daemon
start_daemon
api GET /v1.41/info
assert_eq inactive "$(jqr .Swarm.LocalNodeState)" "LocalNodeState after leave and restart"
[ -z "$(etcd_child_pid)" ] || fail "an etcd child was started for a node that left"

# --- init again: everything new ---------------------------------------------------------------------
swarm_init
api GET /v1.41/info
assert_eq active "$(jqr .Swarm.LocalNodeState)" "LocalNodeState after a new init"
node_id2=$(jqr .Swarm.NodeID)
cluster_id2=$(jqr .Swarm.Cluster.ID)
assert_match "$node_id2" "^$RE_ID\$" "new node ID"
assert_ne "$node_id" "$node_id2" "node ID after a new init"
assert_ne "$cluster_id" "$cluster_id2" "cluster ID after a new init"
api GET /v1.41/swarm
assert_ne "$(jqr .JoinTokens.Worker "$swarm_before")" "$(jqr .JoinTokens.Worker)" "worker token"
assert_ne "$(jqr .TLSInfo.TrustRoot "$swarm_before")" "$(jqr .TLSInfo.TrustRoot)" "a new root CA"
assert_eq 5 "$(jqr .Spec.Orchestration.TaskHistoryRetentionLimit)" "defaults in the new swarm"
api GET /v1.41/nodes
assert_eq "[\"$node_id2\"]" "$(jqc '[.[].ID]')" "only the new node is listed"
run dk node ls -q
assert_eq "$node_id2" "$OUT" "docker node ls after a new init"

it_finish
