#!/usr/bin/env bash
# hollow_tasks.sh — tasks on hollow workers: one real manager daemon in its own network
# namespace, and `shoal hollow --count 20` in another, whose identities run the real agent
# session with a fake executor (src/hollow/). A service of 40 replicas constrained to workers
# goes 40/40 RUNNING on the hollow nodes (each task with a 64-hex container ID and a PID,
# spread 2 per node), scales down to 10 (the other 30 stopped on their nodes and removed, as
# Docker's scale-down removes them), and `service rm` leaves hollow holding no task; with
# another service's 20 tasks running, hollow then exits 0 on SIGTERM.
# No image is needed: the manager runs none of the tasks and hollow's containers are fake.
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

COUNT=20
fail() { echo "FAIL: $*" >&2; [ -n "${HLOG:-}" ] && tail -n 5 "$HLOG" >&2; exit 1; }
ok() { echo "ok: $*"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
tasks_json() { nh_curl 1 "http://x/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D"; }
# count of the service's tasks in observed state $1 (and desired state $2, default any)
count_state() {
    tasks_json | jq --arg s "$1" --arg d "${2:-}" \
        '[.[] | select(.Status.State == $s and ($d == "" or .DesiredState == $d))] | length'
}
ready_workers() {
    nh_docker 1 node ls --format '{{.Status}} {{.ManagerStatus}}' | awk '$1=="Ready" && NF==1' | wc -l
}
hollow_line() { grep '^hollow: t=' "$HLOG" | tail -n 1; }
# hollow's last progress line says "tasks $1, running $2"
hollow_says() { hollow_line | grep -Eq "tasks $1, running $2,"; }

HPID=""
stop_hollow() { nh_stop_child HPID; }

nh_setup 2
trap 'stop_hollow || true; nh_cleanup' EXIT
nh_start 1
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 2s >/dev/null
WT=$(nh_docker 1 swarm join-token -q worker)
HLOG=$NH_ROOT/hollow.log
nsenter --net="/run/netns/${NH_NS[2]}" -- "$NH_SHOAL" hollow --count "$COUNT" --join-token "$WT" \
    --manager "${NH_IP[1]}:2377" --advertise-addr "${NH_IP[2]}" --progress-every 1 \
    --log-level warn >"$HLOG" 2>&1 &
HPID=$!
ready_all() { kill -0 "$HPID" 2>/dev/null || fail "hollow exited"; [ "$(ready_workers)" -eq "$COUNT" ]; }
nh_wait_for -v 60 "$COUNT hollow workers Ready" ready_all
ok "$COUNT hollow workers Ready"

# --- 40 replicas on the hollow workers -----------------------------------------------------
t0=$(now_ms)
nh_docker 1 service create -d --name web --replicas 40 --constraint node.role==worker \
    busybox sleep 3600 >/dev/null 2>&1 || fail "service create"
running40() { [ "$(count_state running running)" -eq 40 ]; }
nh_wait_for -v 60 "40 tasks RUNNING" running40
echo "# service create --replicas 40 -> 40 RUNNING on $COUNT hollow workers: $(($(now_ms) - t0)) ms"
ok "40 tasks RUNNING"
tj=$(tasks_json)
bad=$(jq '[.[] | select(.Status.State == "running") |
    select((.Status.ContainerStatus.ContainerID | test("^[0-9a-f]{64}$") | not) or
           (.Status.ContainerStatus.PID // 0) <= 0)] | length' <<<"$tj")
[ "$bad" -eq 0 ] || fail "$bad running tasks without a 64-hex container ID and a PID"
ok "every running task has a 64-hex container ID and a PID"
ids=$(jq -r '[.[] | select(.Status.State == "running") | .Status.ContainerStatus.ContainerID] |
    unique | length' <<<"$tj")
[ "$ids" -eq 40 ] || fail "container IDs are not unique ($ids of 40)"
mgr=$(nh_docker 1 node inspect self -f '{{.ID}}')
per_node=$(jq -r --arg m "$mgr" '[.[] | select(.Status.State == "running") | .NodeID] |
    group_by(.) | map(length) | "\(length) \(min) \(max) \(map(select(. == 0)) | length)"' <<<"$tj")
read -r nodes lo hi _ <<<"$per_node"
[ "$nodes" -eq "$COUNT" ] && [ "$lo" -eq 2 ] && [ "$hi" -eq 2 ] ||
    fail "tasks not spread 2 per hollow node: $per_node (nodes min max)"
jq -e --arg m "$mgr" '[.[] | select(.NodeID == $m)] | length == 0' <<<"$tj" >/dev/null ||
    fail "a task was placed on the manager"
ok "spread 2 per hollow node, none on the manager"
replicas=$(nh_docker 1 service ls --filter name=web --format '{{.Replicas}}')
[ "$replicas" = "40/40" ] || fail "service ls shows $replicas"
ok "service ls shows 40/40"
nh_wait_for -v 10 "hollow reports 40 tasks, 40 running" hollow_says 40 40
ok "hollow holds 40 tasks, 40 fake containers running"

# --- scale down to 10 ----------------------------------------------------------------------
t0=$(now_ms)
nh_docker 1 service scale -d web=10 >/dev/null 2>&1 || fail "service scale"
# as Docker's REMOVE: the 30 go once their nodes report them shut down, and the nodes drop them
scaled() { [ "$(count_state running running)" -eq 10 ] && [ "$(tasks_json | jq length)" -eq 10 ]; }
nh_wait_for -v 30 "10 running, the 30 others gone" scaled
echo "# scale 40 -> 10 on hollow workers: $(($(now_ms) - t0)) ms"
ok "scaled down: 10 running, the other 30 removed"
nh_wait_for -v 10 "hollow holds 10 tasks, 10 running" hollow_says 10 10
ok "hollow holds 10 tasks, 10 fake containers running"

# --- rm ------------------------------------------------------------------------------------
nh_docker 1 service rm web >/dev/null || fail "service rm"
nh_wait_for -v 30 "hollow holds no task" hollow_says 0 0
ok "service rm: hollow holds no task and runs nothing"
fails=$(hollow_line | sed -E 's/.*failed ([0-9]+),.*/\1/')
[ "$fails" -eq 0 ] || fail "$fails heartbeats failed"
# --- stop while holding tasks ----------------------------------------------------------------
nh_docker 1 service create -d --name web2 --replicas 20 --constraint node.role==worker \
    busybox sleep 3600 >/dev/null 2>&1 || fail "service create web2"
nh_wait_for -v 30 "hollow runs web2's 20 tasks" hollow_says 20 20
stop_hollow || fail "hollow did not exit 0 after SIGTERM"
ok "hollow exits 0 on SIGTERM while holding 20 running tasks"
echo "PASS"
