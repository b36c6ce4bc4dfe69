#!/usr/bin/env bash
# services_net.sh — task containers' networks on one node, through the docker CLI: each
# container in its own network namespace on the node's bridge with its own address, Docker's
# /etc/hosts, /etc/hostname and /etc/resolv.conf; containers reach each other and the
# gateway; a `--publish mode=host` httpd answers curl on 127.0.0.1 and on the node's bridge
# address; a second service wanting the same host port stays pending (the scheduler's
# host-port filter, Docker's words); a port a process of the node listens on REJECTS the task
# on the agent (Docker's words); the networks survive a daemon restart; removing the services
# removes veths and rules. Everything stays inside the test's own network namespace (it_init):
# only private addresses of the bridge there, no traffic anywhere else.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
svc_test_init --net

# pids_of SERVICE: the host PIDs of its running containers, one a line
pids_of()
{
    local c
    for c in $(dk ps -q --no-trunc --filter "label=com.docker.swarm.service.name=$1"); do
        dk inspect "$c" --format '{{.State.Pid}}'
    done
}

# addr_of PID: the IPv4 address of eth0 in that process's network namespace
addr_of()
{
    nsenter -t "$1" -n ip -4 -o addr show dev eth0 | awk '{print $4}'
}

# --- two containers: their own namespaces, distinct addresses, they reach each other ----------
run dk service create -d --name pair --replicas 2 --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "service create pair"
wait_running pair 2
mapfile -t pids < <(pids_of pair)
assert_eq 2 "${#pids[@]}" "two containers of pair"
a0=$(addr_of "${pids[0]}")
a1=$(addr_of "${pids[1]}")
assert_match "$a0" '^172\.18\.0\.[0-9]+/16$' "first container's address on the bridge"
assert_match "$a1" '^172\.18\.0\.[0-9]+/16$' "second container's address on the bridge"
assert_ne "$a0" "$a1" "distinct addresses"
[ "$(readlink /proc/"${pids[0]}"/ns/net)" != "$(readlink /proc/$$/ns/net)" ] ||
    fail "the container shares the node's network namespace"
nsenter -t "${pids[0]}" -n ping -c 1 -W 2 "${a1%/*}" >/dev/null || fail "container 1 cannot ping container 2"
nsenter -t "${pids[1]}" -n ping -c 1 -W 2 "${a0%/*}" >/dev/null || fail "container 2 cannot ping container 1"
nsenter -t "${pids[0]}" -n ping -c 1 -W 2 172.18.0.1 >/dev/null || fail "container 1 cannot ping the gateway"
run nsenter -t "${pids[0]}" -n ip route
assert_match "$OUT" "default via 172.18.0.1 dev eth0" "default route via the bridge"
host0=$(cat /proc/"${pids[0]}"/root/etc/hostname)
assert_match "$host0" '^[0-9a-f]{12}$' "hostname: the container ID's first 12 characters"
assert_match "$(cat /proc/"${pids[0]}"/root/etc/hosts)" "${a0%/*}	$host0" "/etc/hosts names the container"
assert_match "$(cat /proc/"${pids[0]}"/root/etc/resolv.conf)" "nameserver" "/etc/resolv.conf"

# --- host-mode publishing --------------------------------------------------------------------
run dk service create -d --name web --stop-grace-period 1s --publish mode=host,target=8080,published=18080 busybox \
    sh -c 'mkdir -p /w && echo hello-net >/w/index.html && exec httpd -f -p 8080 -h /w'
assert_rc 0 "service create web"
wait_running web 1
out=""
for _ in $(seq 1 100); do
    out=$(curl -s --max-time 2 http://127.0.0.1:18080/ || true)
    [ "$out" = hello-net ] && break
    sleep 0.05
done
assert_eq hello-net "$out" "published port on 127.0.0.1"
run curl -s --max-time 5 http://172.18.0.1:18080/
assert_eq hello-net "$OUT" "published port on the node's bridge address"
run nsenter -t "${pids[0]}" -n timeout 5 wget -qO- http://172.18.0.1:18080/
[ "$RC" = 0 ] || run timeout 5 nsenter -t "${pids[0]}" -n curl -s --max-time 3 http://172.18.0.1:18080/
assert_eq hello-net "$OUT" "published port from another container (hairpin)"
run dk service ps web --format '{{.Ports}}'
log "service ps ports: $OUT"

# the same host port again on the only node: the scheduler keeps it pending, as Docker
run dk service create -d --name web2 --publish mode=host,target=8080,published=18080 busybox sleep 100000
assert_rc 0 "service create web2"
err=""
for _ in $(seq 1 100); do
    api GET "/v1.41/tasks?filters=$(jq -rn '{service:{web2:true}}|@uri')"
    err=$(jq -r '.[0].Status.Err // ""' <<<"$BODY")
    [ -n "$err" ] && break
    sleep 0.05
done
assert_match "$err" "host-mode port already in use on 1 node" "second service on the same host port: pending"
assert_eq pending "$(jq -r '.[0].Status.State' <<<"$BODY")" "its task state"
dk_ok service rm web2

# a port that a process of the node listens on: the agent rejects the task with Docker's words
python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 18081)); s.listen(1); time.sleep(300)' &
listener=$!
for _ in $(seq 1 100); do nc_ok=$(ss -ltnH 'sport = :18081' 2>/dev/null | wc -l); [ "$nc_ok" -ge 1 ] && break; sleep 0.05; done
run dk service create -d --name taken --restart-condition none --publish mode=host,target=80,published=18081 busybox sleep 100000
assert_rc 0 "service create taken"
state=""
for _ in $(seq 1 200); do
    api GET "/v1.41/tasks?filters=$(jq -rn '{service:{taken:true}}|@uri')"
    state=$(jq -r '.[0].Status.State // ""' <<<"$BODY")
    [ "$state" = rejected ] && break
    sleep 0.05
done
assert_eq rejected "$state" "a host port in use on the node: the task is rejected"
assert_match "$(jq -r '.[0].Status.Err' <<<"$BODY")" "Bind for 0.0.0.0:18081 failed: port is already allocated" "its error"
kill "$listener"
wait "$listener" 2>/dev/null || true
dk_ok service rm taken

# --- a daemon restart keeps the networks ------------------------------------------------------
stop_daemon
start_daemon "${EXEC_ARGS[@]}"
wait_swarm_state active
wait_running web 1
wait_running pair 2
run curl -s --max-time 5 http://127.0.0.1:18080/
assert_eq hello-net "$OUT" "published port after a daemon restart"
nsenter -t "${pids[0]}" -n ping -c 1 -W 2 "${a1%/*}" >/dev/null || fail "containers lost their network across a restart"

# --- removal takes veths and rules away -------------------------------------------------------
dk_ok service rm web pair
for _ in $(seq 1 400); do [ "$(exec_running_count)" = 0 ] && break; sleep 0.05; done
assert_eq 0 "$(exec_running_count)" "containers gone after service rm"
veths=""
for _ in $(seq 1 100); do
    veths=$(ip -o link show | grep -c ' shv' || true)
    [ "$veths" = 0 ] && break
    sleep 0.05
done
assert_eq 0 "$veths" "no veth left"
# the DNAT rule goes when the container's network is detached, after exec removed it
for _ in $(seq 1 100); do
    run nft list table ip shoal
    [ "$RC" = 0 ] && [[ "$OUT" != *"dnat to"* ]] && break
    sleep 0.05
done
assert_rc 0 "shoal's table stays while the node is in the swarm"
[[ "$OUT" != *"dnat to"* ]] || fail "a DNAT rule is left" "$OUT"
left=""
for _ in $(seq 1 100); do
    left=$(ls "$DATA_ROOT/net/netns" "$DATA_ROOT/net/containers")
    [ -z "$(ls "$DATA_ROOT/net/netns")" ] && [ -z "$(ls "$DATA_ROOT/net/containers")" ] && break
    sleep 0.05
done
assert_eq "" "$(ls "$DATA_ROOT/net/netns" "$DATA_ROOT/net/containers" | grep -v ':$' | grep . || true)" "no netns file or /etc files left" "$left"
it_finish
