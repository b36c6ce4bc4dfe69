#!/usr/bin/env bash
# services_run.sh — services on real containers on one node, through the docker CLI: create
# (replicated, containers named <service>.<slot>.<task id> with Docker's labels), a container
# removed by hand (docker rm -f) replaced, scale, update --env-add (a rolling replacement),
# rollback, service logs, a task that exits (restart policy), resources no node has (pending
# with Docker's reason, placed after the update that fits), daemon restart with running tasks
# (same containers, same PIDs), service rm (containers gone), swarm leave (containers gone).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
svc_test_init

# --- create -------------------------------------------------------------------------------
run dk service create -d --name web --replicas 3 --label team=a --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "service create"
svc_id=$OUT
wait_running web 3
assert_eq 3 "$(exec_running_count)" "containers alive after create"
run dk service ls --format '{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}'
assert_eq "web replicated 3/3 busybox:latest" "$OUT" "service ls"
run dk ps --format '{{.Names}}'
assert_eq 3 "$(grep -cE '^web\.[1-3]\.[0-9a-z]{25}$' <<<"$OUT")" "container names <service>.<slot>.<task id>"
cname=$(head -1 <<<"$OUT")
run dk inspect "$cname" --format '{{index .Config.Labels "com.docker.swarm.service.name"}} {{index .Config.Labels "com.docker.swarm.service.id"}} {{.State.Running}}'
assert_eq "web $svc_id true" "$OUT" "task container labels"
run dk service ps web --format '{{.Name}} {{.DesiredState}} {{.CurrentState}}'
assert_match "$OUT" "web\.1 Running Running" "service ps"

# --- a container removed by hand is replaced --------------------------------------------------
run dk rm -f "$cname"
assert_rc 0 "docker rm -f of a task container"
slot=$(cut -d. -f2 <<<"$cname")
for _ in $(seq 1 400); do
    n=$(dk service ps web --filter desired-state=running --format '{{.Name}} {{.CurrentState}}' | grep -c "^web\.$slot Running" || true)
    old=$(dk ps --format '{{.Names}}' | grep -cxF "$cname" || true)
    [ "$n" = 1 ] && [ "$old" = 0 ] && break
    sleep 0.05
done
wait_running web 3
run dk service ps web --format '{{.Name}} {{.DesiredState}}'
assert_eq 2 "$(grep -c "^web\.$slot " <<<"$OUT")" "slot $slot has the replaced task and its replacement"
assert_eq 3 "$(exec_running_count)" "containers alive after the replacement"

# --- scale ------------------------------------------------------------------------------------
run dk service scale -d web=5
assert_rc 0 "service scale up"
wait_running web 5
run dk service scale -d web=2
assert_rc 0 "service scale down"
wait_running web 2
for _ in $(seq 1 200); do [ "$(exec_running_count)" = 2 ] && break; sleep 0.05; done
assert_eq 2 "$(exec_running_count)" "containers alive after scale down"

# --- update and rollback ----------------------------------------------------------------------
run dk service update -d --env-add COLOR=blue web
assert_rc 0 "service update --env-add"
for _ in $(seq 1 400); do
    api GET "/v1.41/services/web"
    [ "$(jqr .UpdateStatus.State)" = completed ] && break
    sleep 0.05
done
assert_eq completed "$(jqr .UpdateStatus.State)" "UpdateStatus after the update"
wait_running web 2
run dk ps --format '{{.Names}}'
for c in $OUT; do
    run dk inspect "$c" --format '{{range .Config.Env}}{{println .}}{{end}}'
    assert_contains "$OUT" "COLOR=blue" "env of $c after update"
done
run dk service rollback -d web
assert_rc 0 "service rollback"
for _ in $(seq 1 400); do
    api GET "/v1.41/services/web"
    [ "$(jqr .UpdateStatus.State)" = rollback_completed ] && break
    sleep 0.05
done
assert_eq rollback_completed "$(jqr .UpdateStatus.State)" "UpdateStatus after rollback"
assert_eq null "$(jqc '.Spec.TaskTemplate.ContainerSpec.Env')" "env after rollback"
wait_running web 2
run dk ps --format '{{.Names}}'
for c in $OUT; do
    run dk inspect "$c" --format '{{range .Config.Env}}{{println .}}{{end}}'
    assert_not_contains "$OUT" "COLOR=blue" "env of $c after rollback"
done

# --- logs -------------------------------------------------------------------------------------
run dk service create -d --name talk --restart-condition none busybox sh -c 'echo hello-out; echo hello-err >&2'
assert_rc 0 "service create talk"
for _ in $(seq 1 400); do
    st=$(dk service ps talk --format '{{.CurrentState}}' | head -1)
    [[ "$st" == Complete* ]] && break
    sleep 0.05
done
assert_match "$st" "^Complete" "a task that exits 0 completes"
run dk service logs --raw talk
assert_rc 0 "service logs"
assert_eq "hello-out" "$OUT" "service logs stdout"
assert_eq "hello-err" "$ERR" "service logs stderr"
# the raw stream, byte for byte: stdcopy frames (stream 1 or 2, three zero bytes, a big-endian
# length), the line as the container wrote it; with details, the attributes before it
talk_id=$(dk service inspect talk --format '{{.ID}}')
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/logs.raw" \
    "http://localhost/v1.41/services/$talk_id/logs?stdout=1&stderr=1"
assert_eq "010000000000000a:hello-out|020000000000000a:hello-err|" \
    "$(python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
frames = []
while b:
    n = int.from_bytes(b[4:8], "big")
    frames.append(b[:8].hex() + ":" + b[8:8 + n].decode().replace("\n", "|"))
    b = b[8 + n:]
print("".join(sorted(frames)))' "$T/logs.raw")" "service logs frames"
run dk service rm talk
assert_rc 0 "service rm talk"

# --- restart policy: a failing task is replaced, up to max attempts -----------------------------
run dk service create -d --name fail --restart-condition on-failure --restart-delay 0s --restart-max-attempts 2 busybox sh -c 'exit 3'
assert_rc 0 "service create fail"
for _ in $(seq 1 400); do
    n=$(dk service ps fail --format '{{.CurrentState}}' | grep -c '^Failed' || true)
    [ "$n" = 3 ] && break
    sleep 0.05
done
run dk service ps fail --format '{{.CurrentState}}|{{.Error}}'
assert_eq 3 "$(grep -c '^Failed' <<<"$OUT")" "on-failure with 2 attempts: the first task and 2 restarts, all failed"
assert_contains "$OUT" "task: non-zero exit (3)" "the error of a failed task"
run dk service rm fail
assert_rc 0 "service rm fail"

# --- resources no node has: pending with Docker's reason, placed after a fitting update ----------
run dk service create -d --name big --reserve-memory 100T --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "service create big"
for _ in $(seq 1 200); do
    err=$(dk service ps big --no-trunc --format '{{.Error}}' | head -1)
    [ -n "$err" ] && break
    sleep 0.05
done
assert_contains "$err" "no suitable node (insufficient resources on 1 node)" "pending reason"
run dk service ps big --format '{{.CurrentState}}'
assert_match "$OUT" "^Pending" "a task that fits nowhere is pending"
run dk service update -d --reserve-memory 8M big
assert_rc 0 "service update big"
wait_running big 1

# --- daemon restart with running tasks: the same containers, the same PIDs ----------------------
pids_before=$(dk ps -q --no-trunc | sort | while read -r c; do dk inspect "$c" --format '{{.Id}} {{.State.Pid}}'; done)
stop_daemon
start_daemon "${EXEC_ARGS[@]}"
wait_swarm_state active
wait_running web 2
wait_running big 1
pids_after=$(dk ps -q --no-trunc | sort | while read -r c; do dk inspect "$c" --format '{{.Id}} {{.State.Pid}}'; done)
assert_eq "$pids_before" "$pids_after" "containers and PIDs across a daemon restart"
assert_eq 3 "$(exec_running_count)" "containers alive after the restart"

# --- bad specs create nothing -------------------------------------------------------------------
run dk service create -d --name bad --replicas 1 --mode global busybox true
assert_ne 0 "$RC" "replicas with global mode"
api POST /v1.41/services/create '{"Name":"bad2","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},"Mode":{"Replicated":{"Replicas":-1}}}'
assert_status 400 "negative replicas"
run dk service ls --format '{{.Name}}'
assert_eq "big
web" "$(sort <<<"$OUT")" "nothing created by bad specs"

# --- rm: the containers go ----------------------------------------------------------------------
run dk service rm web big
assert_rc 0 "service rm"
for _ in $(seq 1 400); do [ "$(exec_running_count)" = 0 ] && break; sleep 0.05; done
assert_eq 0 "$(exec_running_count)" "containers alive after service rm"
for _ in $(seq 1 400); do [ -z "$(dk ps -aq)" ] && break; sleep 0.05; done
run dk ps -aq
assert_eq "" "$OUT" "task containers removed after service rm"

# --- swarm leave removes the node's task containers, as dockerd does ----------------------------
run dk service create -d --name last --replicas 2 --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "service create last"
wait_running last 2
run dk swarm leave --force
assert_rc 0 "swarm leave --force"
assert_eq 0 "$(exec_running_count)" "containers alive after leave"
run dk ps -aq
assert_eq "" "$OUT" "no container left after leave"

it_finish
