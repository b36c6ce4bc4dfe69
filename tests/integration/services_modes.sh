#!/usr/bin/env bash
# services_modes.sh — service modes and placement on real containers, one node: a replicated
# job (MaxConcurrent, TotalCompletions, re-run on update --force as a new iteration, the
# completions of the current iteration counted), a global job, a global service following
# the node's availability (drain → no task, active → one), a constraint no node meets
# (pending with Docker's reason, placed once the spec fits), and drain/active of a
# replicated service.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
svc_test_init
NODE=$(self_node_id)

# wait_ls NAME WANT: until `service ls` shows WANT in the REPLICAS column of NAME (20 s)
wait_ls()
{
    local got=""
    for _ in $(seq 1 400); do
        got=$(dk service ls --filter "name=$1" --format '{{.Name}} {{.Replicas}}' | awk -v n="$1" '$1 == n {sub(/^[^ ]+ /, ""); print}')
        [ "$got" = "$2" ] && return 0
        sleep 0.05
    done
    fail "$1: service ls REPLICAS '$2' expected within 20 s, got '$got'" "$(dk service ps "$1" 2>&1)"
}

# --- jobs --------------------------------------------------------------------------------------
run dk service create -d --name job --mode replicated-job --replicas 4 --max-concurrent 2 busybox sh -c 'sleep 0.2'
assert_rc 0 "replicated job create"
wait_ls job "0/2 (4/4 completed)"
run dk service ps job --format '{{.DesiredState}} {{.CurrentState}}'
assert_eq 4 "$(grep -c '^Complete Complete' <<<"$OUT")" "4 tasks completed"
run dk service inspect job --format '{{json .JobStatus.JobIteration}}'
assert_eq '{}' "$OUT" "first iteration (Index 0 is omitted, as dockerd does)"
run dk service update -d --force job
assert_rc 0 "job update --force"
run dk service inspect job --format '{{json .JobStatus.JobIteration}}'
assert_eq '{"Index":1}' "$OUT" "an update starts a new iteration"
for _ in $(seq 1 400); do
    [ "$(dk service ps job --format '{{.CurrentState}}' | grep -c '^Complete')" = 8 ] && break
    sleep 0.05
done
wait_ls job "0/2 (4/4 completed)"
run dk service ps job --format '{{.CurrentState}}'
assert_eq 8 "$(grep -c '^Complete' <<<"$OUT")" "the job ran again: 8 completed tasks in all"
run dk service create -d --name gjob --mode global-job busybox true
assert_rc 0 "global job create"
wait_ls gjob "0/0 (1/1 completed)"

# --- a constraint nothing meets: pending with the reason, placed once it fits ------------------
run dk service create -d --name cons --constraint node.role==worker busybox sleep 100000
assert_rc 0 "constrained create"
for _ in $(seq 1 200); do
    err=$(dk service ps cons --no-trunc --format '{{.Error}}' | head -1)
    [ -n "$err" ] && break
    sleep 0.05
done
assert_eq '"no suitable node (scheduling constraints not satisfied on 1 node)"' "$err" "constraint reason"
run dk service update -d --constraint-rm node.role==worker --constraint-add node.role==manager --stop-grace-period 1s cons
assert_rc 0 "constraint update"
wait_ls cons "1/1"

# --- global: follows the node's availability ----------------------------------------------------
run dk service create -d --name glob --mode global --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "global create"
wait_ls glob "1/1"
run dk service ps glob --format '{{.Name}}'
assert_eq "glob.$NODE" "$OUT" "a global task is named after its node"
run dk service create -d --name rep --replicas 2 --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "replicated create"
wait_ls rep "2/2"

run dk node update --availability drain "$NODE"
assert_rc 0 "drain"
wait_ls glob "0/0"
wait_ls rep "0/2"
for _ in $(seq 1 200); do
    err=$(dk service ps rep --no-trunc --filter desired-state=running --format '{{.Error}}' | head -1)
    [ -n "$err" ] && break
    sleep 0.05
done
assert_eq '"no suitable node (1 node not available for new tasks)"' "$err" "drained: the reason"
for _ in $(seq 1 400); do [ "$(exec_running_count)" = 0 ] && break; sleep 0.05; done
assert_eq 0 "$(exec_running_count)" "no container runs on a drained node"

run dk node update --availability active "$NODE"
assert_rc 0 "active"
wait_ls glob "1/1"
wait_ls rep "2/2"
wait_ls cons "1/1"
assert_eq 4 "$(exec_running_count)" "containers after reactivation (glob, rep x2, cons)"

run dk service rm job gjob cons glob rep
assert_rc 0 "rm all"
for _ in $(seq 1 400); do [ -z "$(dk ps -aq)" ] && break; sleep 0.05; done
assert_eq "" "$(dk ps -aq)" "no container left"
it_finish
