#!/usr/bin/env bash
# hostile_input.sh — what a hostile-input probe found against a sanitizer build, replayed with
# curl: filters that are neither sets nor lists (a use after free), since/until beyond int64
# nanoseconds (signed overflow), ?version= as strconv.ParseUint takes it, swarm spec values Go
# or swarmkit refuse (ForceRotate -1, a 1 ns heartbeat, ExternalCAs), and a NUL in a label,
# which used to be committed to etcd and leave the swarm unreadable after a restart. Every
# one is a 400 with Docker's words; the daemon stays up, its log holds no sanitizer report,
# and a restart afterwards still serves /swarm and /nodes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init

q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

# alive WHAT: the daemon still runs after WHAT (a sanitizer abort would have killed it) and
# its log holds no sanitizer report; STATUS and BODY of the request are kept.
alive()
{
    daemon_alive || fail "the daemon died after $1" "$(tail -n 30 "$DAEMON_LOG")"
    check_sanitizer_log
}

# --- filters (moby's filters.FromJSON: a map of sets or a map of lists) ------------------------
api GET "/v1.41/nodes?filters=$(q '{"name":"x"}')"
alive "GET /nodes?filters={\"name\":\"x\"}"
assert_status 400 "GET /nodes with a string filter value"
assert_eq "invalid filter" "$(jqr .message)" "message of a string filter value"
api GET "/v1.41/events?until=1&filters=$(q '{"type":7}')"
alive "GET /events?filters={\"type\":7}"
assert_status 400 "GET /events with a number filter value"
assert_eq "invalid filter" "$(jqr .message)" "message of GET /events with a number filter value"
api GET "/v1.41/nodes?filters=$(q '{"role":["manager"]}')"
assert_status 200 "legacy list filter"
assert_eq 1 "$(jqr length)" "legacy list filter role=manager"

# --- since/until beyond int64 nanoseconds --------------------------------------------------------
for t in "since=99999999999" "since=-99999999999" "since=0001-01-01T00:00:00Z&until=1" \
    "until=9223372037"; do
    api GET "/v1.41/events?$t"
    alive "GET /events?$t"
    assert_status 400 "GET /events?$t"
    assert_contains "$(jqr .message)" "time out of range" "message of GET /events?$t"
done
api GET "/v1.41/events?since=20&until=10"
assert_status 400 "since after until"
assert_eq '`since` time (20) cannot be after `until` time (10)' "$(jqr .message)" \
    "message of since after until"
api GET "/v1.41/events?since=1&until=2"
assert_status 200 "GET /events?since=1&until=2 (in range, in the past)"
# since=0 is 1970 for dockerd, not "no since": the stream replays the init's events at once
# (curl ends the open stream after 3 s; the replayed lines are already there by then)
curl -sS --max-time 3 --unix-socket "$SOCK" -o "$T/since0" "http://localhost/v1.41/events?since=0" || true
assert_contains "$(cat "$T/since0")" '"Type":"node"' "GET /events?since=0 replays past events"

# --- ?version= as strconv.ParseUint ------------------------------------------------------------
api GET /v1.41/swarm
before=$BODY
spec=$(jqc .Spec "$before")
ver=$(jqr .Version.Index "$before")
node=$(self_node_id)
api GET "/v1.41/nodes/$node"
nver=$(jqr .Version.Index)
nspec=$(jqc .Spec)
api POST "/v1.41/swarm/update?version=18446744073709551616" "$spec"
assert_status 400 "swarm update with version 2^64"
assert_eq 'invalid swarm version '"'"'18446744073709551616'"'"': strconv.ParseUint: parsing "18446744073709551616": value out of range' \
    "$(jqr .message)" "message of version 2^64"
api POST "/v1.41/swarm/update?version=%2B$ver" "$spec"
assert_status 400 "swarm update with version +N"
assert_eq "invalid swarm version '+$ver': strconv.ParseUint: parsing \"+$ver\": invalid syntax" \
    "$(jqr .message)" "message of version +N"
api POST "/v1.41/nodes/$node/update?version=%20-1" "$nspec"
assert_status 400 "node update with version ' -1'"
assert_eq "invalid node version ' -1': strconv.ParseUint: parsing \" -1\": invalid syntax" \
    "$(jqr .message)" "message of version ' -1'"

# rotate flags as strconv.ParseBool: "t" rotates, "yes" is refused
api POST "/v1.41/swarm/update?version=$ver&rotateWorkerToken=yes" "$spec"
assert_status 400 "rotateWorkerToken=yes"
assert_eq "invalid value for rotateWorkerToken: yes" "$(jqr .message)" "message of rotateWorkerToken=yes"

# --- swarm spec values Go or swarmkit refuse -------------------------------------------------------
api POST "/v1.41/swarm/update?version=$ver" "$(jq -c '.CAConfig.ForceRotate = -1' <<<"$spec")"
assert_status 400 "ForceRotate -1"
assert_eq "json: cannot unmarshal number -1 into Go struct field CAConfig.CAConfig.ForceRotate of type uint64" \
    "$(jqr .message)" "message of ForceRotate -1"
api POST "/v1.41/swarm/update?version=$ver" "$(jq -c '.Dispatcher.HeartbeatPeriod = 1' <<<"$spec")"
assert_status 400 "a 1 ns heartbeat"
assert_contains "$(jqr .message)" "heartbeat time period must be at least 1s" "message of a 1 ns heartbeat"
api POST "/v1.41/swarm/update?version=$ver" \
    "$(jq -c '.CAConfig.ExternalCAs = [{"Protocol":"cfssl","URL":"https://ca.example:8443"}]' <<<"$spec")"
assert_status 400 "ExternalCAs"
assert_contains "$(jqr .message)" "does not support external CAs" "message of ExternalCAs"
api POST "/v1.41/swarm/update?version=$ver" \
    "$(jq -c '.Orchestration.TaskHistoryRetentionLimit = 1.5' <<<"$spec")"
assert_status 400 "a fractional task history limit"

# --- a NUL in a label: refused at the edge, nothing committed ------------------------------------
nul_spec=$(jq -c '.Labels = {"k":"x\u0000y"}' <<<"$spec")
api POST "/v1.41/swarm/update?version=$ver" "$nul_spec"
assert_status 400 "swarm label with a NUL"
assert_eq 'invalid value for Labels.k: strings may not contain the NUL character (\u0000)' \
    "$(jqr .message)" "message of a swarm label with a NUL"
api POST "/v1.41/nodes/$node/update?version=$nver" "$(jq -c '.Labels = {"k":"x\u0000y"}' <<<"$nspec")"
assert_status 400 "node label with a NUL"
assert_contains "$(jqr .message)" "NUL character" "message of a node label with a NUL"

api GET /v1.41/swarm
assert_eq "$before" "$BODY" "GET /swarm byte-identical after the refused updates"

# --- a restart still serves everything ---------------------------------------------------------
stop_daemon
start_daemon
expect_active_after_start
api GET /v1.41/swarm
assert_status 200 "GET /swarm after the restart"
assert_eq "$(jqc .Spec "$before")" "$(jqc .Spec)" "cluster Spec after the restart"
api GET /v1.41/nodes
assert_status 200 "GET /nodes after the restart"
assert_eq "[\"$node\"]" "$(jqc '[.[].ID]')" "GET /nodes after the restart"
run dk swarm join-token -q worker
assert_rc 0 "join-token after the restart"
assert_match "$OUT" "^$RE_TOKEN\$" "join-token after the restart"

# rotateWorkerToken=t is true for strconv.ParseBool
api GET /v1.41/swarm
api POST "/v1.41/swarm/update?version=$(jqr .Version.Index)&rotateWorkerToken=t" "$spec"
assert_status 200 "swarm update with rotateWorkerToken=t"
api GET /v1.41/swarm
assert_ne "$(jqr .JoinTokens.Worker "$before")" "$(jqr .JoinTokens.Worker)" "rotateWorkerToken=t rotated the token"
# force as httputils.BoolValue: "YES" is true
api POST "/v1.41/swarm/leave?force=YES"
assert_status 200 "swarm leave with force=YES"
api GET /v1.41/info
assert_eq inactive "$(jqr .Swarm.LocalNodeState)" "state after swarm leave with force=YES"
check_sanitizer_log

it_finish
