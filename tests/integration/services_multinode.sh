#!/usr/bin/env bash
# services_multinode.sh — services running real containers on a swarm of one manager and three
# workers, later five nodes (network-namespace hosts, each daemon in its own UTS namespace so
# hostnames differ and with its own cgroup parent; the busybox test image loaded on each host):
#  - 8 replicas spread 2 per node: the NODE column of `service ps`, each host's own `docker ps`
#    and its cgroups agree, and a node runs only its own tasks (task IDs compared);
#  - scale 8 -> 4 -> 8; drain empties a node and its tasks run elsewhere, active lets later
#    placements use it again;
#  - a worker's daemon restart keeps its containers (same PIDs) and its tasks;
#  - a SIGKILLed worker (daemon and containers): its replicas run elsewhere once it is Down (the
#    times are printed); a worker whose daemon alone died: Down, replaced, and once back it
#    stops its replaced tasks' containers;
#  - service rm ends every container on every host;
#  - a global service follows nodes that join, restart, drain and return, and node labels;
#  - a hostname constraint, a zone placement preference, max replicas per node and a too-big
#    reservation (pending with Docker's reasons, placed once something fits);
#  - an image only two nodes have: rejected elsewhere with the reason, running on those two.
# SVC_HOLD=N keeps the hosts N seconds after a failure, for a look.
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"

fail() { nh_fail_logs "${SVC_HOLD:-}" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
T_OK=$(now)
ok() # prints the time since the previous ok
{
    echo "ok: $* ($(since "$T_OK") s)"
    T_OK=$(now)
}

nh_setup 5
exec_nh_init
command -v unshare >/dev/null || _nh_skip "unshare (util-linux) not installed"
for i in 1 2 3 4 5; do
    # Each host its own hostname: the NODE column of `service ps` shows it. unshare and sh exec,
    # so the daemon keeps the PID nh_start knows.
    cat >"$NH_ROOT/shoal-h$i" <<SH
#!/bin/sh
exec unshare --uts -- sh -c 'hostname node$i && exec "\$@"' sh "$NH_SHOAL" "\$@"
SH
    chmod +x "$NH_ROOT/shoal-h$i"
done
start() { NH_SHOAL=$NH_ROOT/shoal-h$1 nh_start "$1" --cgroup-parent "${EXEC_NH_CG[$1]}"; }
for i in 1 2 3 4; do start "$i"; done

make_busybox_tar "$NH_ROOT/busybox.tar" >/dev/null
for i in 1 2 3 4; do # host 5 joins (and loads the image) later
    nh_docker "$i" load -i "$NH_ROOT/busybox.tar" >/dev/null
done

nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 1s >/dev/null
WT=$(nh_docker 1 swarm join-token -q worker)
for i in 2 3 4; do
    nh_docker "$i" swarm join --token "$WT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377" >/dev/null
done
declare -A ID
for i in 1 2 3 4; do ID[$i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}'); done
[ "$(nh_docker 1 node ls --format '{{.Hostname}} {{.Status}}' | sort | tr '\n' ' ')" = \
    "node1 Ready node2 Ready node3 Ready node4 Ready " ] || fail "node ls: $(nh_docker 1 node ls)"
ok "one manager and three workers, the image loaded on each"

# --- what runs where --------------------------------------------------------------------------
# placed SERVICE: "nodeI:N ..." for the tasks whose desired and current state are Running, by
# the NODE column of `service ps` (sorted by node)
placed()
{
    nh_docker 1 service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' |
        awk '$2 == "Running" {n[$1]++} END {for (k in n) print k ":" n[k]}' | sort | tr '\n' ' '
}
# ctrs HOST SERVICE: the running containers of SERVICE that host's own `docker ps` lists
ctrs()
{
    nh_docker "$1" ps -q --filter "label=com.docker.swarm.service.name=$2" | wc -l
}
# cg_live HOST: the container cgroups under that host's cgroup parent that hold a process (the
# v1 pids hierarchy, or the v2 tree on a host without it)
cg_live()
{
    local n=0 d root=/sys/fs/cgroup/pids
    [ -d "$root" ] || root=/sys/fs/cgroup
    for d in "$root${EXEC_NH_CG[$1]}"/*/; do
        [ -n "$(cat "$d/cgroup.procs" 2>/dev/null)" ] && n=$((n + 1)) # cgroupfs files show size 0
    done
    echo $n
}
# spread_is SERVICE "nodeI:N ..." N1 N2 N3 N4 N5: the service ps placement is as given, and
# each running host i (1..5) has Ni running containers of SERVICE by its own docker ps.
spread_is()
{
    local svc=$1 want=$2 i n got
    shift 2
    got=$(placed "$svc")
    if [ "$got" != "$want" ]; then
        [ -n "${WHY:-}" ] && echo "service ps: '$got', want '$want'"
        return 1
    fi
    for i in 1 2 3 4 5; do
        n=${1:-0}
        shift || true
        nh_alive "$i" || continue
        got=$(ctrs "$i" "$svc")
        if [ "$got" -ne "$n" ]; then
            [ -n "${WHY:-}" ] && echo "host $i runs $got containers of $svc, want $n"
            return 1
        fi
    done
}
cg_is() # N1..N5: live container cgroups per host
{
    local i got
    for i in 1 2 3 4 5; do
        got=$(cg_live "$i")
        if [ "$got" -ne "${!i}" ]; then
            [ -n "${WHY:-}" ] && echo "host $i has $got live container cgroups, want ${!i}"
            return 1
        fi
    done
}

# --- create: 8 replicas, 2 per node -----------------------------------------------------------
t0=$(now)
# (busybox sleep as PID 1 ignores SIGTERM: a short grace period keeps each stop to 2 s)
nh_docker 1 service create -d --replicas 8 --stop-grace-period 2s --name web busybox sleep 100000 >/dev/null
nh_wait_for 30 "8 tasks running 2 per node" \
    spread_is web "node1:2 node2:2 node3:2 node4:2 " 2 2 2 2
echo "# 8 replicas running on 4 nodes $(since "$t0") s after create"
nh_wait_for 5 "container cgroups" cg_is 2 2 2 2 0
ls_is() { [ "$(nh_docker 1 service ls --format '{{.Name}} {{.Mode}} {{.Replicas}}' | tr '\n' ' ')" = "$1" ]; }
nh_wait_for 5 "service ls" ls_is "web replicated 8/8 "
# a node runs only its own tasks: the task IDs on each host's containers are the ones service ps
# places there
for i in 1 2 3 4; do
    mine=$(nh_docker "$i" ps --format '{{.Label "com.docker.swarm.node.id"}} {{.Label "com.docker.swarm.task.id"}}' | sort)
    want=$(nh_docker 1 service ps web -q --no-trunc --filter desired-state=running --filter "node=${ID[$i]}" |
        sed "s/^/${ID[$i]} /" | sort)
    [ "$mine" = "$want" ] || fail "host $i runs tasks '$mine', service ps places '$want' there"
done
ok "8 replicas spread 2 per node (service ps, each host's docker ps and cgroups)"

# --- scale ------------------------------------------------------------------------------------
nh_docker 1 service scale -d web=4 >/dev/null
nh_wait_for 20 "scaled to 4, 1 per node" spread_is web "node1:1 node2:1 node3:1 node4:1 " 1 1 1 1
nh_wait_for 5 "scaled-down containers gone" cg_is 1 1 1 1 0
nh_docker 1 service scale -d web=8 >/dev/null
nh_wait_for 20 "scaled back to 8" spread_is web "node1:2 node2:2 node3:2 node4:2 " 2 2 2 2
ok "scale 8 -> 4 -> 8 keeps the spread"

# --- drain and active ---------------------------------------------------------------------------
t0=$(now)
nh_docker 1 node update --availability drain "${ID[2]}" >/dev/null
node2_empty() { [ "$(nh_docker 2 ps -q | wc -l)" -eq 0 ]; }
nh_wait_for 20 "drained node 2's containers stopped" node2_empty
t_empty=$(since "$t0")
drained() {
    local p
    p=$(placed web)
    case "$p" in *node2*) return 1 ;; esac
    [ "$(echo "$p" | tr ' ' '\n' | awk -F: '{s += $2} END {print s}')" -eq 8 ]
}
nh_wait_for 20 "8 running without node 2" drained
echo "# drain: node 2 empty after $t_empty s, 8 running elsewhere after $(since "$t0") s ($(placed web))"
no_cg2() { [ "$(cg_live 2)" -eq 0 ]; }
nh_wait_for 5 "node 2's containers gone" no_cg2
nh_docker 1 node update --availability active "${ID[2]}" >/dev/null
nh_docker 1 service scale -d web=12 >/dev/null
nh_wait_for 20 "scale to 12 uses node 2 again" \
    spread_is web "node1:3 node2:3 node3:3 node4:3 " 3 3 3 3
nh_docker 1 service scale -d web=8 >/dev/null
nh_wait_for 20 "back to 8" spread_is web "node1:2 node2:2 node3:2 node4:2 " 2 2 2 2
ok "drain empties a node, active lets later placements use it"

# --- a worker's daemon restarts: live restore, nothing replaced --------------------------------
live3() { exec_cg_pids "${EXEC_NH_CG[3]}" | tr '\n' ' '; }
pids3=$(live3)
tasks=$(nh_docker 1 service ps web -q --no-trunc | sort)
t0=$(now)
nh_stop 3
start 3
back3() { [ "$(ctrs 3 web)" -eq 2 ]; }
nh_wait_for 10 "host 3 lists its containers after the restart" back3
echo "# worker 3's daemon restarted in $(since "$t0") s"
[ "$(live3)" = "$pids3" ] || fail "host 3's container processes changed: '$(live3)', were '$pids3'"
[ "$(nh_docker 1 node inspect "${ID[3]}" -f '{{.Status.State}}')" = ready ] || fail "node 3 not ready"
[ "$(nh_docker 1 service ps web -q --no-trunc | sort)" = "$tasks" ] || fail "tasks changed: $(nh_docker 1 service ps web)"
spread_is web "node1:2 node2:2 node3:2 node4:2 " 2 2 2 2 || fail "spread after the restart: $(WHY=1 spread_is web "node1:2 node2:2 node3:2 node4:2 " 2 2 2 2)"
ok "a worker's daemon restart keeps its containers (same PIDs) and its tasks"

# --- a worker dies ------------------------------------------------------------------------------
t0=$(now)
nh_kill 4
exec_end_under "${NH_DIR[4]}" "${EXEC_NH_CG[4]}" # its containers die with it
is_down() { [ "$(nh_docker 1 node inspect "${ID[$1]}" -f '{{.Status.State}}')" = down ]; }
nh_wait_for 10 "node 4 down" is_down 4
t_down=$(since "$t0")
replaced() {
    local p
    p=$(placed web)
    case "$p" in *node4*) return 1 ;; esac
    [ "$(echo "$p" | tr ' ' '\n' | awk -F: '{s += $2} END {print s}')" -eq 8 ]
}
nh_wait_for 20 "node 4's replicas replaced" replaced
t_repl=$(since "$t0")
echo "# SIGKILL of worker 4 (heartbeat 1 s): Down after $t_down s, its replicas running elsewhere after $t_repl s ($(placed web))"
ctr_total() { echo $(($(ctrs 1 web) + $(ctrs 2 web) + $(ctrs 3 web))); }
[ "$(ctr_total)" -eq 8 ] || fail "hosts 1-3 run $(ctr_total) containers of web"
nh_wait_for 5 "service ls after the kill" ls_is "web replicated 8/8 "
ok "a killed worker's replicas are replaced on the other nodes"

# --- a worker's daemon dies alone: its containers run on until it is back -----------------------
# (a daemon crash, not a host crash) Node 3 goes Down, its replicas are replaced on nodes 1 and
# 2, and the restarted daemon stops the containers of its replaced tasks (desired Shutdown).
n3=$(ctrs 3 web)
nh_kill 3 --daemon-only
nh_wait_for 10 "node 3 down" is_down 3
only12() { [ "$(placed web)" = "node1:4 node2:4 " ]; }
nh_wait_for 20 "node 3's replicas replaced on nodes 1 and 2" only12
[ "$(exec_cg_pids "${EXEC_NH_CG[3]}" | wc -l)" -eq "$n3" ] ||
    fail "host 3's containers did not outlive its daemon ($(exec_cg_pids "${EXEC_NH_CG[3]}" | wc -l) of $n3 left)"
t0=$(now)
start 3
nh_wait_for 20 "the back node stops its replaced tasks' containers" \
    spread_is web "node1:4 node2:4 " 4 4 0
no_cg3() { [ "$(cg_live 3)" -eq 0 ]; }
nh_wait_for 5 "no container process left on host 3" no_cg3
echo "# node 3 back: its $n3 replaced containers stopped $(since "$t0") s after its restart"
ok "a node back from Down stops the containers of its replaced tasks"

# --- rm -----------------------------------------------------------------------------------------
nh_docker 1 service rm web >/dev/null
gone() {
    local i
    for i in 1 2 3; do
        [ "$(nh_docker "$i" ps -aq | wc -l)" -eq 0 ] || return 1
    done
    cg_is 0 0 0 0 0
}
nh_wait_for 20 "every container gone after service rm" gone
ok "service rm ends every container on every host"

# --- global -------------------------------------------------------------------------------------
nh_docker 1 service create -d --mode global --stop-grace-period 2s --name g busybox sleep 100000 >/dev/null
nh_wait_for 20 "global: one task per ready node" spread_is g "node1:1 node2:1 node3:1 " 1 1 1
nh_wait_for 5 "service ls: global on 3 nodes" ls_is "g global 3/3 "
start 5
nh_docker 5 load -i "$NH_ROOT/busybox.tar" >/dev/null
nh_docker 5 swarm join --token "$WT" --advertise-addr "${NH_IP[5]}" "${NH_IP[1]}:2377" >/dev/null
nh_wait_for 20 "global: the joined node gets one" spread_is g "node1:1 node2:1 node3:1 node5:1 " 1 1 1 0 1
nh_wait_for 5 "service ls: global on 4 nodes" ls_is "g global 4/4 "
start 4
nh_wait_for 20 "global: the restarted node gets one" \
    spread_is g "node1:1 node2:1 node3:1 node4:1 node5:1 " 1 1 1 1 1
nh_wait_for 5 "service ls: global on 5 nodes" ls_is "g global 5/5 "
# the restarted node's web containers (their tasks went with the service) are gone
left=$(nh_docker 4 ps -a --format '{{.Label "com.docker.swarm.service.name"}}' | sort | tr '\n' ' ')
[ "$left" = "g " ] || fail "host 4 keeps containers of '$left' after its restart"
ID[5]=$(nh_docker 5 info -f '{{.Swarm.NodeID}}')
nh_docker 1 node update --availability drain "${ID[5]}" >/dev/null
nh_wait_for 20 "global: the drained node's task stops" \
    spread_is g "node1:1 node2:1 node3:1 node4:1 " 1 1 1 1 0
nh_wait_for 5 "service ls: global on 4 nodes after the drain" ls_is "g global 4/4 "
nh_docker 1 node update --availability active "${ID[5]}" >/dev/null
nh_wait_for 20 "global: the node active again gets one" \
    spread_is g "node1:1 node2:1 node3:1 node4:1 node5:1 " 1 1 1 1 1
ok "a global service runs one task per node and follows nodes that join, drain and return"

# global with a label constraint follows label changes
nh_docker 1 service create -d --mode global --stop-grace-period 2s --name gl \
    --constraint node.labels.gl==yes busybox sleep 100000 >/dev/null
nh_docker 1 node update --label-add gl=yes "${ID[2]}" >/dev/null
nh_docker 1 node update --label-add gl=yes "${ID[4]}" >/dev/null
nh_wait_for 20 "global on the labelled nodes" spread_is gl "node2:1 node4:1 " 0 1 0 1 0
nh_docker 1 node update --label-rm gl "${ID[2]}" >/dev/null
nh_wait_for 20 "global leaves a node whose label went" spread_is gl "node4:1 " 0 0 0 1 0
nh_docker 1 service rm gl >/dev/null
ok "a global service with a constraint follows node labels"

# --- placement: constraints, preferences, max replicas per node, resources ------------------------
nh_docker 1 service create -d --replicas 3 --stop-grace-period 2s --name pin \
    --constraint node.hostname==node3 busybox sleep 100000 >/dev/null
nh_wait_for 20 "constraint node.hostname==node3" spread_is pin "node3:3 " 0 0 3 0 0
nh_docker 1 service rm pin >/dev/null
for i in 1 2; do nh_docker 1 node update --label-add zone=a "${ID[$i]}" >/dev/null; done
for i in 3 4 5; do nh_docker 1 node update --label-add zone=b "${ID[$i]}" >/dev/null; done
nh_docker 1 service create -d --replicas 6 --stop-grace-period 2s --name pref \
    --placement-pref spread=node.labels.zone busybox sleep 100000 >/dev/null
# 3 per zone: zone a's 3 on two nodes, zone b's 3 on three
zones() {
    local p a=0 b=0 k
    p=$(placed pref)
    for k in $p; do
        case "${k%%:*}" in node1 | node2) a=$((a + ${k#*:})) ;; *) b=$((b + ${k#*:})) ;; esac
    done
    [ "$a $b" = "3 3" ] || { [ -n "${WHY:-}" ] && echo "zone a $a, zone b $b ($p)"; return 1; }
}
nh_wait_for 20 "placement preference spread=node.labels.zone" zones
nh_docker 1 service rm pref >/dev/null
ok "constraints and placement preferences"

nh_docker 1 node update --availability drain "${ID[5]}" >/dev/null
nh_docker 1 service create -d --replicas 6 --replicas-max-per-node 1 --stop-grace-period 2s \
    --name mx busybox sleep 100000 >/dev/null
nh_wait_for 20 "max replicas per node: 4 running" \
    spread_is mx "node1:1 node2:1 node3:1 node4:1 " 1 1 1 1 0
# pending_is N ERR: N tasks of mx pending, all with the error ERR (quoted, as the CLI prints it)
pending_is() {
    local e
    e=$(nh_docker 1 service ps mx --filter desired-state=running --no-trunc \
        --format '{{.CurrentState}}|{{.Error}}' | grep '^Pending' | cut -d'|' -f2)
    [ "$(echo "$e" | grep -c .)" -eq "$1" ] && [ "$(echo "$e" | sort -u)" = "$2" ] || {
        [ -n "${WHY:-}" ] && echo "pending: '$e'"
        return 1
    }
}
nh_wait_for 10 "2 pending with Docker's reason" \
    pending_is 2 '"no suitable node (max replicas per node limit exceed; 1 node not available for new tasks)"'
nh_docker 1 node update --availability active "${ID[5]}" >/dev/null
nh_wait_for 20 "a node active again takes one" \
    spread_is mx "node1:1 node2:1 node3:1 node4:1 node5:1 " 1 1 1 1 1
nh_wait_for 10 "1 still pending" pending_is 1 '"no suitable node (max replicas per node limit exceed)"'
nh_docker 1 service rm mx >/dev/null
ok "max replicas per node: the rest pending with the reason, placed when a node is active again"

nh_docker 1 service create -d --replicas 2 --reserve-memory 100T --stop-grace-period 2s \
    --name big busybox sleep 100000 >/dev/null
pending_big() {
    local e
    e=$(nh_docker 1 service ps big --no-trunc --format '{{.CurrentState}}|{{.Error}}' | sort -u)
    case "$e" in "Pending "*'|"no suitable node (insufficient resources on 5 nodes)"') return 0 ;; esac
    [ -n "${WHY:-}" ] && echo "tasks: '$e'"
    return 1
}
nh_wait_for 10 "too big: pending with the reason" pending_big
nh_docker 1 service update -d --reserve-memory 16M big >/dev/null
big_running() { [ "$(placed big | tr ' ' '\n' | awk -F: '{s += $2} END {print s}')" -eq 2 ]; }
nh_wait_for 20 "placed once it fits" big_running
nh_docker 1 service rm big >/dev/null
ok "resources: pending with the reason, placed once the reservation fits"

nh_docker 1 service rm g >/dev/null
nh_wait_for 20 "global containers gone" cg_is 0 0 0 0 0
# --- an image only some nodes have --------------------------------------------------------------
# Tasks placed where the image is missing are REJECTED there with the reason, and their
# replacements end up on the nodes that have it (Docker's scheduler avoids a node after 5
# recent failures of the service there).
make_busybox_tar "$NH_ROOT/only.tar" only12:latest >/dev/null
for i in 1 2; do nh_docker "$i" load -i "$NH_ROOT/only.tar" >/dev/null; done
t0=$(now)
nh_docker 1 service create -d --replicas 4 --restart-delay 0s --stop-grace-period 2s \
    --name only only12:latest sleep 100000 >/dev/null
nh_wait_for 60 "a service whose image only nodes 1 and 2 have runs there" \
    spread_is only "node1:2 node2:2 " 2 2 0 0 0
echo "# image on 2 of 5 nodes: 4 replicas running on them $(since "$t0") s after create"
err=$(nh_docker 1 service ps only --no-trunc --filter desired-state=shutdown --format '{{.Node}} {{.CurrentState}} {{.Error}}' |
    grep -v '^node[12] ' | head -1)
case "$err" in node[345]" Rejected "*"No such image: only12:latest"*) ;; *) fail "rejected task: '$err'" ;; esac
nh_docker 1 service rm only >/dev/null
# (the daemons stop only once nothing runs: a daemon stopped while its agent waits for a container
# stop leaks that operation's state, which ASan builds report as a failed exit)
nh_wait_for 20 "every container gone" cg_is 0 0 0 0 0
ok "tasks where the image is missing are rejected with the reason and placed where it is"

for i in 5 4 3 2 1; do nh_stop "$i"; done
ok "every daemon stopped cleanly"
