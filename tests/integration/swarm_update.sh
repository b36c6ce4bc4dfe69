#!/usr/bin/env bash
# swarm_update.sh — `docker swarm update` of the task history limit, dispatcher heartbeat, cert
# expiry, snapshot interval and old-snapshot count: reflected in GET /swarm and `docker info`,
# each update keeping the others; invalid values refused with Docker's words and no change.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
note_docker20
start_daemon
swarm_init

swarm_field() { api GET /v1.41/swarm; assert_status 200 "GET /swarm"; jqr "$1"; }
info_has()
{ # text what
    run dk info
    assert_rc 0 "docker info"
    assert_contains "$OUT" "$1" "$2"
}

api GET /v1.41/swarm
assert_eq 5 "$(jqr .Spec.Orchestration.TaskHistoryRetentionLimit)" "default task history"
assert_eq 5000000000 "$(jqr .Spec.Dispatcher.HeartbeatPeriod)" "default heartbeat"
assert_eq 7776000000000000 "$(jqr .Spec.CAConfig.NodeCertExpiry)" "default cert expiry"
assert_eq 10000 "$(jqr .Spec.Raft.SnapshotInterval)" "default snapshot interval"
v0=$(jqr .Version.Index)

run dk swarm update --task-history-limit 3
assert_rc 0 "swarm update --task-history-limit 3"
assert_eq "Swarm updated." "$OUT" "swarm update output"
assert_eq 3 "$(swarm_field .Spec.Orchestration.TaskHistoryRetentionLimit)" "task history in GET /swarm"
info_has $'\n  Orchestration:\n   Task History Retention Limit: 3\n' "docker info task history"

run dk swarm update --dispatcher-heartbeat 10s
assert_rc 0 "swarm update --dispatcher-heartbeat 10s"
assert_eq 10000000000 "$(swarm_field .Spec.Dispatcher.HeartbeatPeriod)" "heartbeat in GET /swarm"
info_has $'\n  Dispatcher:\n   Heartbeat Period: 10 seconds\n' "docker info heartbeat"

run dk20 swarm update --cert-expiry 720h
assert_rc 0 "swarm update --cert-expiry 720h (20.10)"
assert_eq "Swarm updated." "$OUT" "swarm update output (20.10)"
assert_eq 2592000000000000 "$(swarm_field .Spec.CAConfig.NodeCertExpiry)" "cert expiry in GET /swarm"
info_has $'\n  CA Configuration:\n   Expiry Duration: 4 weeks\n' "docker info cert expiry"

run dk swarm update --snapshot-interval 5000 --max-snapshots 2
assert_rc 0 "swarm update --snapshot-interval 5000 --max-snapshots 2"
api GET /v1.41/swarm
assert_eq 5000 "$(jqr .Spec.Raft.SnapshotInterval)" "snapshot interval in GET /swarm"
assert_eq 2 "$(jqr .Spec.Raft.KeepOldSnapshots)" "KeepOldSnapshots in GET /swarm"
info_has $'\n  Raft:\n   Snapshot Interval: 5000\n   Number of Old Snapshots to Retain: 2\n' \
    "docker info raft block"

# every update kept the earlier ones
api GET /v1.41/swarm
assert_eq 3 "$(jqr .Spec.Orchestration.TaskHistoryRetentionLimit)" "task history kept"
assert_eq 10000000000 "$(jqr .Spec.Dispatcher.HeartbeatPeriod)" "heartbeat kept"
assert_eq 2592000000000000 "$(jqr .Spec.CAConfig.NodeCertExpiry)" "cert expiry kept"
v1=$(jqr .Version.Index)
[ "$v1" -gt "$v0" ] || fail "Version.Index did not grow" "before $v0" "after $v1"
api GET /v1.41/info
assert_eq 3 "$(jqr .Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit)" \
    "Info.Swarm.Cluster.Spec follows the update"

# --- invalid values: refused, nothing changes -----------------------------------------------
api GET /v1.41/swarm
before=$BODY

run dk swarm update --cert-expiry 30m
assert_rc 1 "swarm update --cert-expiry 30m"
expect_eq "Error response from daemon: rpc error: code = InvalidArgument desc = minimum certificate expiry time is: 1h0m0s" \
    "$ERR" "swarm update --cert-expiry 30m"
run dk swarm update --dispatcher-heartbeat=-5s
assert_rc 1 "swarm update --dispatcher-heartbeat=-5s"
expect_eq "Error response from daemon: rpc error: code = InvalidArgument desc = heartbeat time period cannot be a negative duration" \
    "$ERR" "swarm update --dispatcher-heartbeat=-5s"
run dk swarm update --task-history-limit abc
assert_rc 125 "swarm update --task-history-limit abc (refused by the CLI's flag parser)"

spec=$(jqc .Spec "$before")
ver=$(jqr .Version.Index "$before")
bad_expiry=$(jq -c '.CAConfig.NodeCertExpiry = 1000000000' <<<"$spec")
api POST "/v1.41/swarm/update?version=$ver" "$bad_expiry"
assert_status 400 "POST /swarm/update with a 1 s cert expiry"
expect_eq "rpc error: code = InvalidArgument desc = minimum certificate expiry time is: 1h0m0s" \
    "$(jqr .message)" "POST /swarm/update with a 1 s cert expiry"
bad_type=$(jq -c '.Orchestration.TaskHistoryRetentionLimit = "many"' <<<"$spec")
api POST "/v1.41/swarm/update?version=$ver" "$bad_type"
assert_status 400 "POST /swarm/update with a string task history limit"
assert_contains "$(jqr .message)" "json: cannot unmarshal string into Go struct field " \
    "POST /swarm/update with a string task history limit"
api POST "/v1.41/swarm/update?version=$ver" '{"Orchestration":'
assert_status 400 "POST /swarm/update with truncated JSON"
api POST "/v1.41/swarm/update" "$spec"
assert_status 400 "POST /swarm/update without version"
expect_eq "invalid swarm version '': strconv.ParseUint: parsing \"\": invalid syntax" \
    "$(jqr .message)" "POST /swarm/update without version"
api POST "/v1.41/swarm/update?version=$((ver - 1))" "$spec"
assert_status 500 "POST /swarm/update with a stale version"

api GET /v1.41/swarm
assert_eq "$before" "$BODY" "GET /swarm byte-identical after the refused updates"
info_has $'\n   Task History Retention Limit: 3\n' "docker info unchanged"

# --- back to the defaults ---------------------------------------------------------------------
run dk swarm update --task-history-limit 5 --cert-expiry 2160h --dispatcher-heartbeat 5s \
    --snapshot-interval 10000 --max-snapshots 0
assert_rc 0 "swarm update back to the defaults"
info_has $'\n  Orchestration:\n   Task History Retention Limit: 5\n  Raft:\n   Snapshot Interval: 10000\n   Number of Old Snapshots to Retain: 0\n   Heartbeat Tick: 1\n   Election Tick: 10\n  Dispatcher:\n   Heartbeat Period: 5 seconds\n  CA Configuration:\n   Expiry Duration: 3 months\n' \
    "docker info after restoring the defaults"

# --- fields swarm.Spec does not have are dropped, not stored and echoed back ------------------
api GET /v1.41/swarm
ver=$(jqr .Version.Index)
spec=$(jqc '.Spec + {"version": 7, "Bogus": {"x": 1}} | .Dispatcher += {"Extra": true}')
api POST "/v1.41/swarm/update?version=$ver" "$spec"
assert_status 200 "swarm update with unknown fields"
api GET /v1.41/swarm
assert_eq null "$(jqc '.Spec.version')" "a stray version is not echoed"
assert_eq null "$(jqc '.Spec.Bogus')" "an unknown field is not echoed"
assert_eq null "$(jqc '.Spec.Dispatcher.Extra')" "an unknown nested field is not echoed"
it_finish
