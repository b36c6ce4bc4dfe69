#!/usr/bin/env bash
# persistence.sh — what a manager knows survives SIGTERM and a restart on the same data root:
# node ID, cluster ID, join tokens (rotated), the root CA, cluster settings, node labels and
# availability; writes after the restart still work and versions keep growing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init

api GET /v1.41/info
node_id=$(jqr .Swarm.NodeID)
cluster_id=$(jqr .Swarm.Cluster.ID)

run dk node update --label-add rack=r1 --label-add tier=gold --availability drain "$node_id"
assert_rc 0 "node update"
run dk swarm join-token --rotate -q worker
assert_rc 0 "rotate worker token"
run dk swarm join-token --rotate -q manager
assert_rc 0 "rotate manager token"
run dk swarm update --task-history-limit 9 --dispatcher-heartbeat 7s --cert-expiry 1000h \
    --snapshot-interval 777
assert_rc 0 "swarm update"

# the parts of an object that must not change across a restart (Version and UpdatedAt may)
stable() { jq -S -c 'del(.Version, .UpdatedAt)' <<<"$1"; }

api GET /v1.41/swarm
swarm_before=$BODY
ver_before=$(jqr .Version.Index)
api GET "/v1.41/nodes/$node_id"
node_before=$BODY
node_ver_before=$(jqr .Version.Index)
run dk node ls
node_ls_before=$OUT
run dk info
info_swarm_before=$(printf '%s\n' "$OUT" | sed -n '/^ Swarm: /,/^   [0-9.]*:2377$/p')
assert_contains "$info_swarm_before" "Task History Retention Limit: 9" "info before restart"

for round in 1 2; do
    stop_daemon
    start_daemon
    expect_active_after_start "restart $round"

    api GET /v1.41/info
    assert_eq "$node_id" "$(jqr .Swarm.NodeID)" "NodeID after restart $round"
    assert_eq "$cluster_id" "$(jqr .Swarm.Cluster.ID)" "ClusterID after restart $round"

    api GET /v1.41/swarm
    assert_status 200 "GET /swarm after restart $round"
    assert_eq "$(jqr .JoinTokens.Worker "$swarm_before")" "$(jqr .JoinTokens.Worker)" \
        "worker token after restart $round"
    assert_eq "$(jqr .JoinTokens.Manager "$swarm_before")" "$(jqr .JoinTokens.Manager)" \
        "manager token after restart $round"
    assert_eq "$(jqr .TLSInfo.TrustRoot "$swarm_before")" "$(jqr .TLSInfo.TrustRoot)" \
        "TrustRoot (CA) after restart $round"
    assert_eq "$(jqc .Spec "$swarm_before")" "$(jqc .Spec)" "cluster Spec after restart $round"
    assert_eq "$(stable "$swarm_before")" "$(stable "$BODY")" \
        "GET /swarm (without Version/UpdatedAt) after restart $round"
    v=$(jqr .Version.Index)
    [ "$v" -ge "$ver_before" ] ||
        fail "cluster Version.Index went backwards after restart $round" "before $ver_before" "now $v"

    api GET "/v1.41/nodes/$node_id"
    assert_status 200 "GET /nodes/{id} after restart $round"
    assert_eq '{"Labels":{"rack":"r1","tier":"gold"},"Role":"manager","Availability":"drain"}' \
        "$(jqc .Spec)" "node Spec after restart $round"
    assert_eq "$(jqr .CreatedAt "$node_before")" "$(jqr .CreatedAt)" "node CreatedAt after restart $round"
    assert_eq "$(jqc .Description.TLSInfo "$node_before")" "$(jqc .Description.TLSInfo)" \
        "node TLSInfo after restart $round"

    run dk node ls
    assert_eq "$node_ls_before" "$OUT" "docker node ls after restart $round"
    run dk info
    assert_eq "$info_swarm_before" "$(printf '%s\n' "$OUT" | sed -n '/^ Swarm: /,/^   [0-9.]*:2377$/p')" \
        "docker info Swarm block after restart $round"
done

# writes still work after the restarts, and versions keep growing
run dk node update --label-rm tier --availability active "$node_id"
assert_rc 0 "node update after restarts"
api GET "/v1.41/nodes/$node_id"
assert_eq '{"rack":"r1"}' "$(jqc .Spec.Labels)" "labels after an update after restarts"
v=$(jqr .Version.Index)
[ "$v" -gt "$node_ver_before" ] ||
    fail "node Version.Index did not grow past its pre-restart value" "before $node_ver_before" "now $v"
run dk swarm join-token --rotate -q worker
assert_rc 0 "rotate after restarts"
assert_ne "$(jqr .JoinTokens.Worker "$swarm_before")" "$OUT" "rotation after restarts"
api GET /v1.41/swarm
assert_eq "$OUT" "$(jqr .JoinTokens.Worker)" "rotated token stored"

stop_daemon
start_daemon
expect_active_after_start "restart 3"
api GET /v1.41/swarm
assert_eq "$OUT" "$(jqr .JoinTokens.Worker)" "token rotated after restarts survives another restart"
api GET "/v1.41/nodes/$node_id"
assert_eq '{"Labels":{"rack":"r1"},"Role":"manager","Availability":"active"}' "$(jqc .Spec)" \
    "node Spec after restart 3"

it_finish
