#!/usr/bin/env bash
# bench/hollow_tasks.sh — one manager, COUNT (100) hollow workers, a service of REPLICAS (1000)
# tasks placed on them. The hollow identities run the real agent session (assignments long
# poll, status reports) with a fake executor (src/hollow/hollow_exec.c, start and other
# operations answered at once), so what is measured is the manager's side of tasks:
# orchestrator, scheduler, dispatcher, status intake and its batched etcd writes, plus the
# real agent code on the workers.
#
# Two network-namespace hosts (tests/integration/netns_lib.sh): host 1 runs the manager
# (`swarm init --dispatcher-heartbeat 5s`), host 2 one `shoal hollow --count COUNT`. Once every
# worker is Ready, prints:
#   - `service create --replicas REPLICAS --constraint node.role==worker` → all RUNNING (polled
#     every POLL s through GET /services?status=true, RunningTasks), and the manager's and
#     etcd's CPU over that time per task;
#   - `service scale REPLICAS → REPLICAS/10` → that many running and the others gone from
#     /tasks (Docker's scale-down removes them once their nodes report them shut down);
#   - `service rm` → no task left in /tasks;
#   - the manager's RSS with REPLICAS tasks, and hollow's RSS added per task.
# Then SIGTERM stops hollow, which must exit 0.
#
# Needs root (network namespaces), build/shoal (or $SHOAL_BIN; the optimised build), etcd, jq and
# the docker CLI. Bounded: ~30 s with the defaults; every wait has a limit. Traffic stays inside
# the namespaces this script creates; only PIDs it started are signalled.
# Env: SHOAL_BIN, COUNT (100), REPLICAS (1000), POLL (0.1), LIMIT (120 s per wait), NH_DOCKER,
#      BENCH_LOGS (a directory: hollow's log and the manager's are copied there at the end),
#      HOLLOW_LOG_LEVEL (warn).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=${COUNT:-100}
REPLICAS=${REPLICAS:-1000}
POLL=${POLL:-0.1}
LIMIT=${LIMIT:-120}
export SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoal}
source "$ROOT/tests/integration/netns_lib.sh"
HZ=$(getconf CLK_TCK)
DOWN=$((REPLICAS / 10))

now_us() { echo "${EPOCHREALTIME/./}"; }
die() { echo "bench: $*" >&2; exit 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ready_workers() { nh_docker 1 node ls --format '{{.Status}} {{.ManagerStatus}}' | awk '$1=="Ready" && NF==1' | wc -l; }
running_tasks() {
    nh_curl 1 "http://x/services?status=true" |
        jq '[.[] | select(.Spec.Name == "web") | .ServiceStatus.RunningTasks] | add // 0'
}
service_tasks() { nh_curl 1 "http://x/tasks?filters=%7B%22service%22%3A%5B%22web%22%5D%7D" | jq length; }
# wait_until WHAT CMD...: polls CMD every POLL s, at most LIMIT s
wait_until() {
    local what=$1 t0
    shift
    t0=$(now_us)
    until "$@"; do
        kill -0 "$HPID" 2>/dev/null || die "hollow exited ($(tail -n 2 "$HLOG"))"
        [ $((($(now_us) - t0) / 1000000)) -lt "$LIMIT" ] || die "$what: not within $LIMIT s"
        sleep "$POLL"
    done
}

HPID=""
stop_hollow() { nh_stop_child HPID; }

nh_setup 2
HLOG=$NH_ROOT/hollow.log
keep_logs() { [ -z "${BENCH_LOGS:-}" ] || { mkdir -p "$BENCH_LOGS" && cp "$HLOG" "${NH_LOG[1]}" "$BENCH_LOGS/" 2>/dev/null; } || true; }
trap 'stop_hollow || true; keep_logs; nh_cleanup' EXIT
ulimit -n "$(ulimit -Hn)"
nh_start 1 --log-level warn
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 5s >/dev/null
WT=$(nh_docker 1 swarm join-token -q worker)
MPID=${NH_PID[1]}
EPID=$(nh_children 1 | head -n 1)
[ -n "$EPID" ] || die "the manager has no etcd child"
echo "# hollow tasks: 1 manager, $COUNT hollow workers, $REPLICAS replicas; $("$SHOAL_BIN" version); $(nproc) CPUs"

nsenter --net="/run/netns/${NH_NS[2]}" -- "$SHOAL_BIN" hollow --count "$COUNT" --join-token "$WT" \
    --manager "${NH_IP[1]}:2377" --advertise-addr "${NH_IP[2]}" --progress-every 1 \
    --log-level "${HOLLOW_LOG_LEVEL:-warn}" >"$HLOG" 2>&1 &
HPID=$!
all_ready() { [ "$(ready_workers)" -ge "$COUNT" ]; }
wait_until "$COUNT workers Ready" all_ready
sleep 2
h_rss0=$(rss_kb "$HPID")
m_rss0=$(rss_kb "$MPID")

# --- create -------------------------------------------------------------------------------
m_c0=$(cpu_ticks "$MPID")
e_c0=$(cpu_ticks "$EPID")
t0=$(now_us)
nh_docker 1 service create -d --name web --replicas "$REPLICAS" --constraint node.role==worker \
    busybox sleep 3600 >/dev/null 2>&1 || die "service create"
all_running() { [ "$(running_tasks)" -ge "$REPLICAS" ]; }
wait_until "$REPLICAS RUNNING" all_running
t_create=$((($(now_us) - t0) / 1000))
m_c1=$(cpu_ticks "$MPID")
e_c1=$(cpu_ticks "$EPID")
echo "create --replicas $REPLICAS -> all RUNNING: $t_create ms"
sleep 2
m_rss=$(rss_kb "$MPID")
h_rss=$(rss_kb "$HPID")
h_line=$(grep '^hollow: t=' "$HLOG" | tail -n 1)
h_tasks=$(sed -E 's/.*tasks ([0-9]+), running ([0-9]+),.*/\1 \2/' <<<"$h_line")

# --- scale down ---------------------------------------------------------------------------
t0=$(now_us)
nh_docker 1 service scale -d "web=$DOWN" >/dev/null 2>&1 || die "service scale"
scaled() { [ "$(running_tasks)" -eq "$DOWN" ] && [ "$(service_tasks)" -eq "$DOWN" ]; }
wait_until "scale to $DOWN" scaled
t_scale=$((($(now_us) - t0) / 1000))
echo "scale $REPLICAS -> $DOWN: $t_scale ms"

# --- rm -------------------------------------------------------------------------------------
t0=$(now_us)
nh_docker 1 service rm web >/dev/null || die "service rm"
gone() { [ "$(service_tasks)" -eq 0 ]; }
wait_until "rm" gone
t_rm=$((($(now_us) - t0) / 1000))
echo "service rm -> no task left: $t_rm ms"
hfail=$(grep '^hollow: t=' "$HLOG" | tail -n 1 | sed -E 's/.*failed ([0-9]+),.*/\1/')
if stop_hollow; then stop="exit 0 after SIGTERM"; else stop="did NOT exit cleanly"; fi

read -r m_ms e_ms < <(awk -v hz="$HZ" -v m0="$m_c0" -v m1="$m_c1" -v e0="$e_c0" -v e1="$e_c1" \
    -v r="$REPLICAS" 'BEGIN { printf "%.2f %.2f\n", 1000 * (m1 - m0) / hz / r, 1000 * (e1 - e0) / hz / r }')
echo
printf '%-50s %-28s %s\n' "figure ($COUNT hollow workers)" "shoal" "target"
printf '%-50s %-28s %s\n' "create --replicas $REPLICAS -> all RUNNING" "$t_create ms" "(issue 8: R=100 <= 1.5 s)"
printf '%-50s %-28s %s\n' "manager CPU per task during create" "$m_ms ms" ""
printf '%-50s %-28s %s\n' "etcd CPU per task during create" "$e_ms ms" ""
printf '%-50s %-28s %s\n' "scale $REPLICAS -> $DOWN (others removed)" "$t_scale ms" ""
printf '%-50s %-28s %s\n' "service rm -> no task in /tasks" "$t_rm ms" ""
printf '%-50s %-28s %s\n' "manager RSS with $REPLICAS tasks" "$((m_rss / 1024)) MB (+$(((m_rss - m_rss0) * 1024 / REPLICAS)) B/task)" ""
printf '%-50s %-28s %s\n' "hollow: tasks held, fake containers running" "${h_tasks/ /, }" "$REPLICAS, $REPLICAS"
printf '%-50s %-28s %s\n' "hollow RSS added per task" "$(((h_rss - h_rss0) * 1024 / REPLICAS)) B" ""
printf '%-50s %-28s %s\n' "heartbeats failed (whole run)" "$hfail" "0"
printf '%-50s %-28s %s\n' "hollow stop" "$stop" "exit 0"
[ "$stop" = "exit 0 after SIGTERM" ] && [ "$hfail" -eq 0 ] && [ "${h_tasks% *}" -eq "$REPLICAS" ]
