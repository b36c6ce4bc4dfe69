#!/usr/bin/env bash
# swarm_init.sh — `docker swarm init` with both CLIs: Docker's output shape, the Swarm block of
# `docker info`, the "already part of a swarm" refusal, a bad --advertise-addr, and init bodies
# with wrong JSON types (400, nothing changed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
note_docker20
start_daemon

# --- before init: inactive ----------------------------------------------------------------
api GET /v1.41/info
assert_status 200 "GET /info before init"
assert_eq inactive "$(jqr .Swarm.LocalNodeState)" "LocalNodeState before init"
assert_eq "" "$(jqr .Swarm.NodeID)" "NodeID before init"
run dk info
assert_rc 0
assert_contains "$OUT" $'\n Swarm: inactive\n' "docker info before init"

api GET /v1.41/swarm
assert_status 503 "GET /swarm before init"
assert_eq "$MSG_NOT_MANAGER" "$(jqr .message)" "GET /swarm before init"

# --- bad advertise address: 400 with Docker's words, still inactive --------------------------
run dk swarm init --advertise-addr bogus-iface
assert_rc 1 "init --advertise-addr bogus-iface"
assert_eq "Error response from daemon: $MSG_BAD_ADVERTISE" "$ERR" "init --advertise-addr bogus-iface"
api POST /v1.41/swarm/init '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"bogus-iface"}'
assert_status 400 "POST /swarm/init AdvertiseAddr bogus-iface"
api GET /v1.41/info
assert_eq inactive "$(jqr .Swarm.LocalNodeState)" "state after a refused init"
[ ! -d "$DATA_ROOT/swarm/etcd" ] || fail "a refused init left $DATA_ROOT/swarm/etcd behind"

# --- wrong JSON types: 400 with Go's json message, still inactive -----------------------------
api POST /v1.41/swarm/init '{"ListenAddr":5,"AdvertiseAddr":"127.0.0.1"}'
assert_status 400 "init with ListenAddr a number"
assert_eq "json: cannot unmarshal number into Go struct field InitRequest.ListenAddr of type string" \
    "$(jqr .message)" "init with ListenAddr a number"
api POST /v1.41/swarm/init '{"AdvertiseAddr":"127.0.0.1","AutoLockManagers":"yes"}'
assert_status 400 "init with AutoLockManagers a string"
assert_eq "json: cannot unmarshal string into Go struct field InitRequest.AutoLockManagers of type bool" \
    "$(jqr .message)" "init with AutoLockManagers a string"
api POST /v1.41/swarm/init '{"AdvertiseAddr":"127.0.0.1","Spec":"x"}'
assert_status 400 "init with Spec a string"
api POST /v1.41/swarm/init '["127.0.0.1"]'
assert_status 400 "init with an array body"
api GET /v1.41/info
assert_eq inactive "$(jqr .Swarm.LocalNodeState)" "state after init bodies with wrong types"

# --- init with CLI 28 -------------------------------------------------------------------------
run dk swarm init --advertise-addr 127.0.0.1
assert_rc 0 "docker swarm init (28)"
re_init28="^Swarm initialized: current node \(($RE_ID)\) is now a manager\."$'\n\n'
re_init28+="To add a worker to this swarm, run the following command:"$'\n\n'
re_init28+="    docker swarm join --token ($RE_TOKEN) 127\.0\.0\.1:2377"$'\n\n'
re_init28+="To add a manager to this swarm, run 'docker swarm join-token manager' and follow the "
re_init28+="instructions\."$'\n$'
if has_docker28; then
    assert_match "$OUT_RAW" "$re_init28" "swarm init output (CLI 28)"
else # dk is 20.10, which ends with one more blank line than 28
    assert_match "$OUT_RAW" "${re_init28%\$}"$'\n$' "swarm init output (CLI 20.10 standing in for 28)"
fi
node_id=${BASH_REMATCH[1]}
worker_token=${BASH_REMATCH[2]}
assert_eq "" "$ERR" "swarm init stderr"
_note_etcd_children

api GET /v1.41/info
assert_status 200
assert_eq active "$(jqr .Swarm.LocalNodeState)" "LocalNodeState"
assert_eq "$node_id" "$(jqr .Swarm.NodeID)" "Info.Swarm.NodeID = the ID init printed"
assert_eq true "$(jqr .Swarm.ControlAvailable)" "ControlAvailable"
assert_eq 127.0.0.1 "$(jqr .Swarm.NodeAddr)" "NodeAddr"
assert_eq 1 "$(jqr .Swarm.Nodes)" "Info.Swarm.Nodes"
assert_eq 1 "$(jqr .Swarm.Managers)" "Info.Swarm.Managers"
assert_eq "127.0.0.1:2377" "$(jqr '.Swarm.RemoteManagers[0].Addr')" "RemoteManagers[0].Addr"
assert_eq "$node_id" "$(jqr '.Swarm.RemoteManagers[0].NodeID')" "RemoteManagers[0].NodeID"
cluster_id=$(jqr .Swarm.Cluster.ID)
assert_match "$cluster_id" "^$RE_ID\$" "Info.Swarm.Cluster.ID"
assert_ne "$node_id" "$cluster_id" "cluster ID and node ID"

api GET /v1.41/swarm
assert_status 200 "GET /swarm"
assert_eq "$cluster_id" "$(jqr .ID)" "GET /swarm ID"
assert_eq "$worker_token" "$(jqr .JoinTokens.Worker)" "worker token in init output vs GET /swarm"
manager_token=$(jqr .JoinTokens.Manager)
assert_match "$manager_token" "^$RE_TOKEN\$" "manager token"
assert_ne "$worker_token" "$manager_token" "worker and manager tokens"
assert_eq "${worker_token:0:59}" "${manager_token:0:59}" "both tokens carry the same CA digest"
assert_eq default "$(jqr .Spec.Name)" "Spec.Name"
assert_contains "$(jqr .TLSInfo.TrustRoot)" "-----BEGIN CERTIFICATE-----" "TLSInfo.TrustRoot"

api GET "/v1.41/nodes/$node_id"
assert_status 200 "GET /nodes/{id}"
assert_eq manager "$(jqr .Spec.Role)" "node role"
assert_eq true "$(jqr .ManagerStatus.Leader)" "ManagerStatus.Leader"
assert_eq "127.0.0.1:2377" "$(jqr .ManagerStatus.Addr)" "ManagerStatus.Addr"

# --- docker info's Swarm block, as Docker prints it -------------------------------------------
run dk info
assert_rc 0 "docker info"
block=$(printf '%s\n' "$OUT" | sed -n '/^ Swarm: /,/^  Nodes: /p')
expected=" Swarm: active
  NodeID: $node_id
  Is Manager: true
  ClusterID: $cluster_id
  Managers: 1
  Nodes: 1"
assert_eq "$expected" "$block" "docker info Swarm block (CLI 28)"
assert_contains "$OUT" $'\n  Node Address: 127.0.0.1\n  Manager Addresses:\n   127.0.0.1:2377\n' \
    "docker info manager addresses"
assert_contains "$OUT" $'\n  Orchestration:\n   Task History Retention Limit: 5\n' "info defaults"
assert_contains "$OUT" $'\n  Dispatcher:\n   Heartbeat Period: 5 seconds\n' "info defaults"
assert_contains "$OUT" $'\n  CA Configuration:\n   Expiry Duration: 3 months\n' "info defaults"
assert_contains "$OUT" $'\n  Autolock Managers: false\n' "info defaults"

run dk20 info
assert_rc 0 "docker info (20.10)"
block=$(printf '%s\n' "$OUT" | sed -n '/^ Swarm: /,/^  Nodes: /p')
assert_eq "$expected" "$block" "docker info Swarm block (CLI 20.10)"

# --- a second init: 503, Docker's words, nothing changed --------------------------------------
api GET /v1.41/swarm
before=$BODY
run dk swarm init --advertise-addr 127.0.0.1
assert_rc 1 "second swarm init"
assert_eq "Error response from daemon: $MSG_ALREADY" "$ERR" "second swarm init"
api POST /v1.41/swarm/init '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"127.0.0.1"}'
assert_status 503 "second POST /swarm/init"
assert_eq "$MSG_ALREADY" "$(jqr .message)" "second POST /swarm/init"
api GET /v1.41/swarm
assert_eq "$before" "$BODY" "GET /swarm unchanged by the refused inits"

# --- init with CLI 20.10 after leaving ----------------------------------------------------------
run dk swarm leave --force
assert_rc 0 "swarm leave --force"
run dk20 swarm init --advertise-addr 127.0.0.1
assert_rc 0 "docker swarm init (20.10)"
if has_docker20; then
    # CLI 20.10 ends with one more blank line than 28.
    assert_match "$OUT_RAW" "${re_init28%\$}"$'\n$' "swarm init output (CLI 20.10)"
else
    assert_match "$OUT_RAW" "$re_init28" "swarm init output (CLI 28 standing in for 20.10)"
fi
node_id2=${BASH_REMATCH[1]}
assert_ne "$node_id" "$node_id2" "a new init makes a new node ID"
api GET /v1.41/info
assert_eq "$node_id2" "$(jqr .Swarm.NodeID)" "NodeID after the second init"
assert_ne "$cluster_id" "$(jqr .Swarm.Cluster.ID)" "a new init makes a new cluster ID"
run dk20 swarm init --advertise-addr 127.0.0.1
assert_rc 1 "second swarm init (20.10)"
assert_eq "Error response from daemon: $MSG_ALREADY" "$ERR" "second swarm init (20.10)"

# --- wrong types on an active node --------------------------------------------------------------
# Docker decodes the body before it looks at the state (moby initCluster), so a body with wrong
# types is a 400 even on a node that is already in a swarm; and nothing changes.
api GET /v1.41/swarm
before=$BODY
api POST /v1.41/swarm/init '{"ListenAddr":5}'
expect_eq 400 "$STATUS" "status of init with wrong types on an active node"
expect_eq "json: cannot unmarshal number into Go struct field InitRequest.ListenAddr of type string" \
    "$(jqr .message)" "message of init with wrong types on an active node"
api POST /v1.41/swarm/init '{"ForceNewCluster":"no"}'
expect_eq 400 "$STATUS" "status of init with ForceNewCluster a string on an active node"
api GET /v1.41/swarm
assert_eq "$before" "$BODY" "GET /swarm unchanged by the refused inits"

it_finish
