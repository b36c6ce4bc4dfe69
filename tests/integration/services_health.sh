#!/usr/bin/env bash
# services_health.sh — healthchecks and the container security options of services on real
# containers, through the docker CLI: a task with --health-cmd stays Starting until its
# container is healthy, then Running (docker inspect State.Health, docker ps "(healthy)"); a
# service whose check fails has its tasks failed with moby's words and replaced; --cap-add,
# --cap-drop, --sysctl and --ulimit are seen inside the container (service logs of a task
# that prints them); a sysctl the runtime refuses rejects the task with runc's words.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
svc_test_init

# task_states SERVICE: "<state>" of each of its tasks desired running, sorted
task_states()
{
    dk service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | awk '{print $1}' | sort | tr '\n' ' '
}

# --- gating: Starting until healthy, then Running --------------------------------------------
run dk service create -d --name hc --health-cmd 'test -e /tmp/ok' --health-interval 200ms \
    --health-retries 100 --stop-grace-period 1s busybox sh -c 'mkdir -p /tmp; sleep 2; touch /tmp/ok; exec sleep 100000'
assert_rc 0 "service create with a healthcheck"
seen_starting="" state=""
for _ in $(seq 1 400); do
    state=$(task_states hc)
    [ "$state" = "Starting " ] && seen_starting=1
    [ "$state" = "Running " ] && break
    sleep 0.05
done
assert_eq 1 "$seen_starting" "the task is Starting while its container is not healthy"
assert_eq "Running " "$state" "the task runs once its container is healthy"
cname=$(dk ps --filter name=hc. --format '{{.Names}}' | head -1)
run dk inspect "$cname" --format '{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{.Config.Healthcheck.Test}}'
assert_eq "healthy 0 [CMD-SHELL test -e /tmp/ok]" "$OUT" "State.Health of the container"
run dk inspect "$cname" --format '{{(index .State.Health.Log 0).ExitCode}}'
assert_eq 1 "$OUT" "the first probe failed (no file yet)"
run dk ps --filter name=hc. --format '{{.Status}}'
assert_match "$OUT" '^Up .* \(healthy\)$' "docker ps shows the health"

# --- a check that fails: the task fails with moby's words and is replaced --------------------
run dk service create -d --name sick --health-cmd false --health-interval 100ms --health-retries 1 \
    --stop-grace-period 200ms --restart-delay 100ms busybox sleep 100000
assert_rc 0 "service create with a failing healthcheck"
err=""
for _ in $(seq 1 400); do
    err=$(dk service ps sick --no-trunc --format '{{.Error}}' | grep -m1 unhealthy || true)
    [ -n "$err" ] && break
    sleep 0.05
done
assert_contains "$err" "task: non-zero exit (137): dockerexec: unhealthy container" "the failed task's error"
for _ in $(seq 1 400); do
    [ "$(dk service ps sick --format '{{.ID}}' | wc -l)" -ge 3 ] && break
    sleep 0.05
done
assert_ne 1 "$(dk service ps sick --format '{{.ID}}' | wc -l)" "unhealthy tasks are replaced"
dk_ok service rm sick

# --- cap-add/cap-drop, sysctl, ulimit inside the container ----------------------------------
run dk service create -d --name sec --restart-condition none --cap-add NET_ADMIN --cap-drop MKNOD \
    --cap-drop CAP_NET_RAW --sysctl net.core.somaxconn=1234 --ulimit nofile=1024:2048 busybox \
    sh -c 'grep CapEff /proc/self/status; cat /proc/sys/net/core/somaxconn; echo nofile=$(ulimit -n) hard=$(ulimit -Hn); sleep 100000'
assert_rc 0 "service create with cap-add, sysctl and ulimit"
for _ in $(seq 1 400); do
    run dk service logs --raw sec
    [[ "$OUT" == *nofile=* ]] && break
    sleep 0.05
done
assert_eq "CapEff:	00000000a00415fb
1234
nofile=1024 hard=2048" "$OUT" "capabilities, sysctl and ulimit seen inside the container"

# a sysctl that is not namespaced: rejected with runc's words
run dk service create -d --name badsys --sysctl vm.swappiness=10 busybox sleep 100000
assert_rc 0 "service create with a host sysctl"
err=""
for _ in $(seq 1 400); do
    err=$(dk service ps badsys --no-trunc --format '{{.CurrentState}} {{.Error}}' | grep -m1 Rejected || true)
    [ -n "$err" ] && break
    sleep 0.05
done
assert_contains "$err" 'sysctl "vm.swappiness" is not in a separate kernel namespace' "the rejected task's error"

run dk service rm hc sec badsys
assert_rc 0 "service rm"
for _ in $(seq 1 400); do [ "$(exec_running_count)" = 0 ] && break; sleep 0.05; done
assert_eq 0 "$(exec_running_count)" "containers alive after service rm"

it_finish
