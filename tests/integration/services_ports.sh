#!/usr/bin/env bash
# services_ports.sh — host-mode published ports as Docker shows them, through the docker CLI:
# `--publish mode=host,target=8080` without a published port gets one from the node's
# ephemeral range (this test's namespace sets it to 30000-30999 before the daemon starts, as
# dockerd's port allocator reads /proc/sys/net/ipv4/ip_local_port_range; the node's own
# outgoing connections take ports of it too, so the picks are checked against the range and
# their order, not exact numbers), serially; curl
# answers on it; the task's Status.PortStatus lists {Protocol, TargetPort, PublishedPort,
# PublishMode host} (`docker inspect TASK`, `docker service ps --format {{.Ports}}`), `docker
# ps` shows "0.0.0.0:30xxx->8080/tcp"; a udp port carries datagrams; `docker inspect
# CONTAINER` has Docker's NetworkSettings for a task on the node's network; `docker swarm
# leave` removes the containers and then the node's networking (no shv* veth, no `ip shoal`
# table, no shoal_gwbridge, no state file); a later `swarm init` publishes again. Everything
# stays inside the test's own network namespace (it_init).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
# the ephemeral range is per network namespace: this one is the test's own
svc_test_init --net --sysctl net.ipv4.ip_local_port_range="30000 30999"

# task_of SERVICE: the JSON of its running task (BODY of GET /tasks)
task_of()
{
    api GET "/v1.41/tasks?filters=$(jq -rn --arg s "$1" '{service:{($s):true},"desired-state":{running:true}}|@uri')"
    jq -c '[.[] | select(.Status.State == "running")][0]' <<<"$BODY"
}

# ctr_of SERVICE: its running container's ID
ctr_of()
{
    dk ps -q --no-trunc --filter "label=com.docker.swarm.service.name=$1" | head -n 1
}

# fetch_ok PORT WANT: curl 127.0.0.1:PORT until it answers WANT (deadline 10 s)
fetch_ok()
{
    local out=""
    for _ in $(seq 1 200); do
        out=$(curl -s --max-time 2 "http://127.0.0.1:$1/" || true)
        [ "$out" = "$2" ] && return 0
        sleep 0.05
    done
    fail "127.0.0.1:$1 did not answer $2" "$out"
}

HTTPD=(sh -c 'mkdir -p /w && echo "$MSG" >/w/index.html && exec httpd -f -p 8080 -h /w')

# --- a random published port ------------------------------------------------------------------
run dk service create -d --name rnd --stop-grace-period 1s --env MSG=hello-rnd \
    --publish mode=host,target=8080 busybox "${HTTPD[@]}"
assert_rc 0 "service create rnd (host mode, no published port)"
wait_running rnd 1
task=$(task_of rnd)
p1=$(jq -r '.Status.PortStatus.Ports[0].PublishedPort' <<<"$task")
assert_match "$p1" '^30[0-9]{3}$' "PortStatus: a port of the ephemeral range"
assert_eq "[{\"Protocol\":\"tcp\",\"TargetPort\":8080,\"PublishedPort\":$p1,\"PublishMode\":\"host\"}]" \
    "$(jq -c .Status.PortStatus.Ports <<<"$task")" "PortStatus"
fetch_ok "$p1" hello-rnd
task_id=$(jq -r .ID <<<"$task")
run dk inspect --type task --format '{{json .Status.PortStatus}}' "$task_id"
assert_rc 0 "docker inspect --type task TASK"
assert_eq "{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":8080,\"PublishedPort\":$p1,\"PublishMode\":\"host\"}]}" \
    "$OUT" "docker inspect TASK: PortStatus"
run dk service ps rnd --filter desired-state=running --format '{{.Ports}}'
assert_eq "*:$p1->8080/tcp" "$OUT" "docker service ps --format {{.Ports}}"
run dk ps --filter "label=com.docker.swarm.service.name=rnd" --format '{{.Ports}}'
assert_eq "0.0.0.0:$p1->8080/tcp" "$OUT" "docker ps PORTS"

# --- docker inspect CONTAINER: NetworkSettings --------------------------------------------------
cid=$(ctr_of rnd)
[ -n "$cid" ] || fail "no container for rnd"
run dk inspect "$cid"
assert_rc 0 "docker inspect CONTAINER"
ns=$(jq -c '.[0].NetworkSettings' <<<"$OUT")
hc=$(jq -c '.[0].HostConfig' <<<"$OUT")
pid=$(jq -r '.[0].State.Pid' <<<"$OUT")
addr=$(nsenter -t "$pid" -n ip -4 -o addr show dev eth0 | awk '{print $4}')
mac=$(nsenter -t "$pid" -n ip -o link show dev eth0 | grep -o "link/ether [0-9a-f:]*" | cut -d" " -f2)
assert_eq "${addr%/*}" "$(jq -r .Networks.shoal_gwbridge.IPAddress <<<"$ns")" "Networks.shoal_gwbridge.IPAddress: eth0's"
assert_eq "${addr%/*}" "$(jq -r .IPAddress <<<"$ns")" "top-level IPAddress (the node network's)"
assert_eq "${addr#*/}" "$(jq -r .Networks.shoal_gwbridge.IPPrefixLen <<<"$ns")" "IPPrefixLen"
assert_eq "$mac" "$(jq -r .Networks.shoal_gwbridge.MacAddress <<<"$ns")" "MacAddress: eth0's"
assert_eq "$mac" "$(jq -r .MacAddress <<<"$ns")" "top-level MacAddress"
assert_eq 172.18.0.1 "$(jq -r .Networks.shoal_gwbridge.Gateway <<<"$ns")" "Gateway: the bridge"
assert_eq 172.18.0.1 "$(jq -r .Gateway <<<"$ns")" "top-level Gateway"
assert_match "$(jq -r .Networks.shoal_gwbridge.NetworkID <<<"$ns")" '^[0-9a-f]{64}$' "NetworkID"
assert_match "$(jq -r .Networks.shoal_gwbridge.EndpointID <<<"$ns")" '^[0-9a-f]{64}$' "EndpointID"
assert_eq "$(jq -r .Networks.shoal_gwbridge.EndpointID <<<"$ns")" "$(jq -r .EndpointID <<<"$ns")" "top-level EndpointID"
assert_match "$(jq -r .SandboxID <<<"$ns")" '^[0-9a-f]{64}$' "SandboxID"
sbk=$(jq -r .SandboxKey <<<"$ns")
[ "$(stat -L -c %i "$sbk" 2>/dev/null)" = "$(stat -L -c %i /proc/"$pid"/ns/net)" ] ||
    fail "SandboxKey $sbk is not the container's network namespace"
assert_eq "{\"8080/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$p1\"}]}" "$(jq -c .Ports <<<"$ns")" "Ports"
assert_eq '{"IPAMConfig":null,"Links":null,"Aliases":null,"DriverOpts":null}' \
    "$(jq -c '.Networks.shoal_gwbridge | {IPAMConfig, Links, Aliases, DriverOpts}' <<<"$ns")" "the entry's null fields"
assert_eq '{"8080/tcp":[{"HostIp":"","HostPort":""}]}' "$(jq -c .PortBindings <<<"$hc")" "HostConfig.PortBindings"
assert_eq default "$(jq -r .NetworkMode <<<"$hc")" "HostConfig.NetworkMode"
run dk inspect --format '{{json .Config.ExposedPorts}}' "$cid"
assert_eq '{"8080/tcp":{}}' "$OUT" "Config.ExposedPorts"
run dk ps --format '{{.Networks}}' --filter "id=$cid"
assert_eq shoal_gwbridge "$OUT" "docker ps NETWORKS"

# --- the next random port is the next one; fixed tcp and udp next to it ----------------------------
run dk service create -d --name two --stop-grace-period 1s --env MSG=hello-two \
    --publish mode=host,target=8080 --publish mode=host,target=5353,published=15353,protocol=udp \
    busybox "${HTTPD[@]}"
assert_rc 0 "service create two"
wait_running two 1
p2=$(task_of two | jq -r '.Status.PortStatus.Ports[0].PublishedPort')
assert_match "$p2" '^30[0-9]{3}$' "the second random port: of the range"
[ "$p2" -gt "$p1" ] || fail "the second random port $p2 is not after the first $p1 (serial, as Docker's)"
assert_eq "[{\"Protocol\":\"tcp\",\"TargetPort\":8080,\"PublishedPort\":$p2,\"PublishMode\":\"host\"},{\"Protocol\":\"udp\",\"TargetPort\":5353,\"PublishedPort\":15353,\"PublishMode\":\"host\"}]" \
    "$(task_of two | jq -c .Status.PortStatus.Ports)" "PortStatus: the random port and the udp one"
fetch_ok "$p2" hello-two
run dk ps --filter "label=com.docker.swarm.service.name=two" --format '{{.Ports}}'
assert_eq "0.0.0.0:15353->5353/udp, 0.0.0.0:$p2->8080/tcp" "$OUT" "docker ps PORTS with udp (the CLI sorts)"
# docker ps filters on ports and the network (dockerd's: publish= matches the bindings' container ports)
rnd_c=$(ctr_of rnd)
two_c=$(ctr_of two)
both=$(printf '%s\n' "$rnd_c" "$two_c" | sort)
assert_eq "$both" "$(dk ps -q --no-trunc --filter publish=8080 | sort)" "ps --filter publish=8080"
assert_eq "$two_c" "$(dk ps -q --no-trunc --filter publish=5353/udp)" "ps --filter publish=5353/udp"
assert_eq "$two_c" "$(dk ps -q --no-trunc --filter publish=5000-6000/udp)" "ps --filter publish=5000-6000/udp"
assert_eq "" "$(dk ps -q --no-trunc --filter publish=5353)" "ps --filter publish=5353 (tcp)"
assert_eq "$two_c" "$(dk ps -q --no-trunc --filter expose=5353/udp)" "ps --filter expose=5353/udp"
assert_eq "$both" "$(dk ps -q --no-trunc --filter network=shoal_gwbridge | sort)" "ps --filter network=shoal_gwbridge"
assert_eq "" "$(dk ps -q --no-trunc --filter network=bridge)" "ps --filter network=bridge (no such network here)"
netid=$(dk inspect --format '{{.NetworkSettings.Networks.shoal_gwbridge.NetworkID}}' "$rnd_c")
assert_eq "$both" "$(dk ps -q --no-trunc --filter "network=${netid:0:12}" | sort)" "ps --filter network=ID prefix"
assert_eq "" "$(dk ps -q --no-trunc --filter network=nosuchnet)" "ps --filter network=nosuchnet"
run dk ps --filter publish=1:2
assert_rc 1 "ps --filter publish=1:2"
assert_contains "$ERR" "filter for 'publish' should not contain ':': 1:2" "ps --filter publish=1:2"

# udp: an echo server in the container's namespace (busybox has none) answers through the DNAT
tpid=$(dk inspect --format '{{.State.Pid}}' "$(ctr_of two)")
nsenter -t "$tpid" -n python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
s.settimeout(20)
d, a = s.recvfrom(100)
s.sendto(b"echo:" + d, a)' &
echo_pid=$!
got=$(python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
for _ in range(100):
    s.sendto(b"ping", ("127.0.0.1", 15353))
    try:
        print(s.recv(100).decode()); sys.exit(0)
    except socket.timeout:
        time.sleep(0.05)
print("no answer")')
wait "$echo_pid" 2>/dev/null || true
assert_eq "echo:ping" "$got" "udp published port answers"

# --- swarm leave takes the node's networking away ---------------------------------------------
run nft list table ip shoal
assert_rc 0 "the table is there while tasks publish ports"
run dk swarm leave --force
assert_rc 0 "swarm leave --force"
left=""
for _ in $(seq 1 200); do
    left=""
    [ "$(exec_running_count)" = 0 ] || left+=" containers"
    ip -o link show | grep -q ' shv' && left+=" veths"
    ip link show shoal_gwbridge >/dev/null 2>&1 && left+=" bridge"
    nft list table ip shoal >/dev/null 2>&1 && left+=" table"
    [ -e "$DATA_ROOT/net/net.json" ] && left+=" net.json"
    [ -n "$(ls -A "$DATA_ROOT/net/netns" "$DATA_ROOT/net/containers" 2>/dev/null | grep -v ':$' | grep . || true)" ] &&
        left+=" netns-or-etc-files"
    [ -z "$left" ] && break
    sleep 0.05
done
[ -z "$left" ] || fail "left after swarm leave:$left" "$(ip -o link show; nft list tables)"

# --- a new swarm on the same data root publishes again ---------------------------------------
swarm_init
run dk service create -d --name again --stop-grace-period 1s --env MSG=hello-again \
    --publish mode=host,target=8080 busybox "${HTTPD[@]}"
assert_rc 0 "service create again (after leave and init)"
wait_running again 1
port=$(task_of again | jq -r '.Status.PortStatus.Ports[0].PublishedPort')
assert_match "$port" '^30[0-9]{3}$' "a port of the range after a new init"
fetch_ok "$port" hello-again
run ip link show shoal_gwbridge
assert_rc 0 "the bridge is made again"
dk_ok service rm again >/dev/null
for _ in $(seq 1 400); do [ "$(exec_running_count)" = 0 ] && break; sleep 0.05; done
assert_eq 0 "$(exec_running_count)" "containers gone after service rm"
it_finish
