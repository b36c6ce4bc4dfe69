#!/usr/bin/env bash
# cli20.sh — the key flows with the Debian docker CLI 20.10 (/usr/bin/docker) only: version, init,
# info, node ls, node inspect, join-token (with rotation), node update, leave --force.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
need_docker20
start_daemon

run dk20 version --format '{{.Server.APIVersion}}|{{.Client.APIVersion}}|{{.Server.Os}}/{{.Server.Arch}}'
assert_rc 0 "docker version (20.10)"
assert_eq "1.41|1.41|linux/amd64" "$OUT" "docker version (20.10)"

run dk20 swarm init --advertise-addr 127.0.0.1
assert_rc 0 "swarm init (20.10)"
_note_etcd_children
re="^Swarm initialized: current node \(($RE_ID)\) is now a manager\."$'\n\n'
re+="To add a worker to this swarm, run the following command:"$'\n\n'
re+="    docker swarm join --token ($RE_TOKEN) 127\.0\.0\.1:2377"$'\n\n'
re+="To add a manager to this swarm, run 'docker swarm join-token manager' and follow the "
re+="instructions\."$'\n\n$'
assert_match "$OUT_RAW" "$re" "swarm init output (20.10)"
id=${BASH_REMATCH[1]}
wtoken=${BASH_REMATCH[2]}

run dk20 info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}} {{.Swarm.Managers}} {{.Swarm.Nodes}}'
assert_rc 0 "info --format (20.10)"
assert_eq "active $id true 1 1" "$OUT" "docker info swarm fields (20.10)"
run dk20 info
assert_contains "$OUT" $'\n Swarm: active\n  NodeID: '"$id"$'\n  Is Manager: true\n' "docker info (20.10)"

run dk20 node ls
assert_rc 0 "node ls (20.10)"
assert_match "$OUT" "^ID +HOSTNAME +STATUS +AVAILABILITY +MANAGER STATUS +ENGINE VERSION"$'\n'"$id \* +[^ ]+ +Ready +Active +Leader +[^ ]+\$" \
    "node ls (20.10)"
run dk20 node inspect --format '{{.ID}} {{.Spec.Role}} {{.Status.State}} {{.ManagerStatus.Leader}}' self
assert_rc 0 "node inspect self (20.10)"
assert_eq "$id manager ready true" "$OUT" "node inspect self (20.10)"

run dk20 swarm join-token -q worker
assert_rc 0 "join-token -q worker (20.10)"
assert_eq "$wtoken" "$OUT" "join-token -q worker (20.10)"
run dk20 swarm join-token manager
assert_rc 0 "join-token manager (20.10)"
assert_match "$OUT_RAW" $'^To add a manager to this swarm, run the following command:\n\n    docker swarm join --token '"$RE_TOKEN"$' 127\\.0\\.0\\.1:2377\n\n$' \
    "join-token manager (20.10)"
run dk20 swarm join-token --rotate worker
assert_rc 0 "join-token --rotate worker (20.10)"
assert_contains "$OUT" "Successfully rotated worker join token." "join-token --rotate (20.10)"
run dk20 swarm join-token -q worker
assert_ne "$wtoken" "$OUT" "worker token after rotation (20.10)"

run dk20 node update --label-add env=test --availability drain "$id"
assert_rc 0 "node update (20.10)"
assert_eq "$id" "$OUT" "node update output (20.10)"
run dk20 node inspect --format '{{json .Spec}}' "$id"
assert_eq '{"Labels":{"env":"test"},"Role":"manager","Availability":"drain"}' "$OUT" \
    "node spec after update (20.10)"
run dk20 node ls --format '{{.Availability}}'
assert_eq Drain "$OUT" "node ls availability (20.10)"

run dk20 swarm leave
assert_rc 1 "swarm leave without --force (20.10)"
assert_contains "$ERR" "Removing the last manager erases all current state of the swarm." \
    "swarm leave without --force (20.10)"
run dk20 swarm leave --force
assert_rc 0 "swarm leave --force (20.10)"
assert_eq "Node left the swarm." "$OUT" "swarm leave --force (20.10)"
run dk20 info --format '{{.Swarm.LocalNodeState}}'
assert_eq inactive "$OUT" "state after leave (20.10)"
run dk20 node ls
assert_rc 1 "node ls after leave (20.10)"
assert_eq "Error response from daemon: $MSG_NOT_MANAGER" "$ERR" "node ls after leave (20.10)"
run dk20 swarm leave
assert_rc 1 "second leave (20.10)"
assert_eq "Error response from daemon: $MSG_NOT_IN_SWARM" "$ERR" "second leave (20.10)"

it_finish
