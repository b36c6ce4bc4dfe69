#!/usr/bin/env bash
# networks_api.sh — the node's networks and plugins as dockerd shows them, through the docker
# CLI (both where both are installed) and curl: `docker network ls` lists host, none and
# shoal_gwbridge (the node network task containers are on) with IDs that hold across daemon
# restarts, before the first task as after; `docker network inspect` by name and ID prefix
# shows the subnet and the running task container (its address, MAC and endpoint as its own
# inspect shows them); filters and dockerd's words for an unknown network or filter; the
# writes still answer 501; GET /plugins is [] and a plugin is not found in dockerd's words; so
# the untyped `docker inspect TASK-ID` reaches the task (the CLI goes on only past 404s); and
# `docker inspect CONTAINER` names the container's /etc files (ResolvConfPath, HostnamePath,
# HostsPath), which exist and are the ones the container sees. Everything stays inside the
# test's own network namespace (it_init).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
it_init
exec_init
exec_net_need
note_docker20
start_daemon "${EXEC_ARGS[@]}"

# net_id NAME: the Id GET /networks/NAME answers
net_id()
{
    api GET "/v1.41/networks/$1"
    assert_status 200 "GET /networks/$1"
    jqr .Id
}

# --- before the swarm and before any task: the three networks, IDs kept across a restart ----
api GET /v1.41/networks
assert_status 200 "GET /networks"
assert_eq '["host","none","shoal_gwbridge"]' "$(jqc '[.[].Name] | sort')" "the node's networks"
assert_eq '[{"Name":"host","Driver":"host","Scope":"local"},{"Name":"none","Driver":"null","Scope":"local"},{"Name":"shoal_gwbridge","Driver":"bridge","Scope":"local"}]' \
    "$(jqc 'sort_by(.Name) | [.[] | {Name, Driver, Scope}]')" "drivers and scopes as dockerd's"
assert_eq '[true,true,true]' "$(jqc '[.[].Id | test("^[0-9a-f]{64}$")]')" "64-hex IDs"
assert_eq '[{},{},{}]' "$(jqc '[.[].Containers]')" "the list carries no containers (API >= 1.28)"
ids_before=$(jqc 'sort_by(.Name) | [.[].Id]')
gw_id=$(net_id shoal_gwbridge)
stop_daemon
start_daemon "${EXEC_ARGS[@]}"
api GET /v1.41/networks
assert_eq "$ids_before" "$(jqc 'sort_by(.Name) | [.[].Id]')" "the IDs after a daemon restart (no task yet)"

swarm_init
make_busybox_tar "$T/bb.tar" >/dev/null
dk_ok load -i "$T/bb.tar"
run dk service create -d --name web --stop-grace-period 1s busybox sleep 100000
assert_rc 0 "service create web"
wait_running web 1
api GET "/v1.41/tasks?filters=$(jq -rn '{service:{web:true},"desired-state":{running:true}}|@uri')"
task_id=$(jqr '[.[] | select(.Status.State == "running")][0].ID')
cid=$(jqr '[.[] | select(.Status.State == "running")][0].Status.ContainerStatus.ContainerID')
assert_match "$cid" '^[0-9a-f]{64}$' "the task's container"
assert_eq "$gw_id" "$(net_id shoal_gwbridge)" "the node network's ID once a task is attached"

# --- docker network ls, as with dockerd (the CLI sorts by name; its columns are at least 10 wide) --
api GET /v1.41/networks
id12() { jqr ".[] | select(.Name == \"$1\") | .Id[:12]"; }
want=$(printf '%-15s%-17s%-10s%s\n' "NETWORK ID" NAME DRIVER SCOPE \
    "$(id12 host)" host host local "$(id12 none)" none null local \
    "$(id12 shoal_gwbridge)" shoal_gwbridge bridge local)
run dk network ls
assert_rc 0 "docker network ls"
expect_eq "$want" "$OUT" "docker network ls"
run dk20 network ls
expect_eq "$want" "$OUT" "docker network ls (20.10)"
run dk network ls -q --no-trunc --filter driver=bridge
assert_eq "$gw_id" "$OUT" "network ls --filter driver=bridge"
run dk network ls --format '{{.Name}}' --filter type=builtin
assert_eq "host
none" "$OUT" "network ls --filter type=builtin (the node network is custom, as docker_gwbridge)"
run dk network ls --format '{{.Name}}' --filter name=gwbr
assert_eq shoal_gwbridge "$OUT" "network ls --filter name= (part of the name)"
run dk network ls -q --filter label=com.docker.stack.namespace=x
assert_eq "" "$OUT" "network ls --filter label= (local networks have none)"
api GET "/v1.41/networks?filters=$(jq -rn '{nosuch:{x:true}}|@uri')"
assert_status 400 "an unknown filter"
expect_eq "Invalid filter 'nosuch'" "$(jqr .message)" "an unknown filter: dockerd 20.10's words"
api GET "/v1.41/networks?filters=$(jq -rn '{type:{other:true}}|@uri')"
assert_status 500 "type=other (dockerd 20.10 answers it with 500)"
expect_eq "invalid filter: 'type'='other'" "$(jqr .message)" "type=other: dockerd's words"

# --- docker network inspect: by name and by ID prefix; the running container on it -------------
run dk network inspect shoal_gwbridge
assert_rc 0 "docker network inspect shoal_gwbridge"
nw=$(jq -c '.[0]' <<<"$OUT")
assert_eq "$gw_id" "$(jq -r .Id <<<"$nw")" "Id: the same as in the list"
assert_eq '{"Driver":"bridge","Scope":"local","EnableIPv6":false,"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":{"Network":""},"Labels":{}}' \
    "$(jq -c '{Driver, Scope, EnableIPv6, Internal, Attachable, Ingress, ConfigOnly, ConfigFrom, Labels}' <<<"$nw")" \
    "the network's fields"
assert_eq '{"Driver":"default","Options":null,"Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]}' \
    "$(jq -c .IPAM <<<"$nw")" "IPAM: the node's subnet and gateway"
assert_eq shoal_gwbridge "$(jq -r '.Options["com.docker.network.bridge.name"]' <<<"$nw")" "the bridge device"
assert_eq "[\"$cid\"]" "$(jq -c '.Containers | keys' <<<"$nw")" "Containers: the running task container"
run dk inspect "$cid"
assert_rc 0 "docker inspect CONTAINER"
ctr=$(jq -c '.[0]' <<<"$OUT")
ep=$(jq -c '.NetworkSettings.Networks.shoal_gwbridge' <<<"$ctr")
assert_eq "$gw_id" "$(jq -r .NetworkID <<<"$ep")" "the container's NetworkID is the network's Id"
pid=$(jq -r .State.Pid <<<"$ctr")
addr=$(nsenter -t "$pid" -n ip -4 -o addr show dev eth0 | awk '{print $4}')
mac=$(nsenter -t "$pid" -n ip -o link show dev eth0 | grep -o "link/ether [0-9a-f:]*" | cut -d" " -f2)
assert_eq "{\"Name\":\"$(jq -r '.Name[1:]' <<<"$ctr")\",\"EndpointID\":\"$(jq -r .EndpointID <<<"$ep")\",\"MacAddress\":\"$mac\",\"IPv4Address\":\"$addr\",\"IPv6Address\":\"\"}" \
    "$(jq -c ".Containers[\"$cid\"]" <<<"$nw")" "the container's endpoint, as eth0 and its inspect have it"
assert_eq "${addr%/*}" "$(jq -r .IPAddress <<<"$ep")" "the container's IPAddress on shoal_gwbridge"
assert_eq "$mac" "$(jq -r .MacAddress <<<"$ep")" "its MacAddress"
assert_eq 172.18.0.1 "$(jq -r .Gateway <<<"$ep")" "its Gateway"
assert_eq '["shoal_gwbridge"]' "$(jq -c '.NetworkSettings.Networks | keys' <<<"$ctr")" \
    "the container is on shoal_gwbridge only (no Docker \"bridge\" network here)"
run dk ps --format '{{.Networks}}' --filter "id=$cid"
assert_eq shoal_gwbridge "$OUT" "docker ps NETWORKS"
run dk ps -q --no-trunc --filter network=shoal_gwbridge
assert_eq "$cid" "$OUT" "ps --filter network=shoal_gwbridge"
run dk network inspect --format '{{.Name}}' "${gw_id:0:12}"
assert_eq shoal_gwbridge "$OUT" "network inspect by ID prefix"
run dk network inspect --format '{{.Driver}} {{.Scope}} {{json .IPAM.Config}} {{json .Containers}}' host none
assert_eq 'host local [] {}
null local [] {}' "$OUT" "network inspect host none"
api GET "/v1.41/networks/shoal_gwbridge?verbose=true"
assert_status 200 "verbose=true (nothing more for a local network)"
assert_eq null "$(jqr .Services)" "verbose: no Services map (dockerd omits the empty one)"
api GET "/v1.41/networks/shoal_gwbridge?verbose=x"
assert_status 400 "verbose=x"
expect_eq 'invalid value for verbose: x: strconv.ParseBool: parsing "x": invalid syntax' \
    "$(jqr .message)" "verbose=x: dockerd's words"
api GET "/v1.41/networks/shoal_gwbridge?scope=swarm"
assert_status 404 "a local network asked for with scope=swarm (service create --network)"
api GET /networks/host
assert_status 200 "GET /networks/host unversioned"

# --- unknown: 404 in dockerd's words -----------------------------------------------------------
api GET /v1.41/networks/nosuchnet
assert_status 404 "GET /networks/nosuchnet"
assert_eq '{"message":"network nosuchnet not found"}' "$(jqc .)" "dockerd's words for an unknown network"
# CLI 28 prints the daemon's words; 20.10 its own on a 404
if has_docker28; then
    run dk network inspect nosuchnet
    assert_rc 1 "docker network inspect nosuchnet"
    assert_eq "Error response from daemon: network nosuchnet not found" "$ERR" "docker network inspect nosuchnet"
fi
if has_docker20; then
    run dk20 network inspect nosuchnet
    assert_rc 1 "docker network inspect nosuchnet (20.10)"
    assert_eq "Error: No such network: nosuchnet" "$ERR" "docker network inspect nosuchnet (20.10)"
fi

# --- writes: still 501 ---------------------------------------------------------------------
api POST /v1.41/networks/create '{"Name":"n1","Driver":"overlay","CheckDuplicate":true}'
assert_status 501 "POST /networks/create"
assert_eq "POST /networks/create is not implemented by shoal yet" "$(jqr .message)" "create: 501's words"
api DELETE /v1.41/networks/shoal_gwbridge
assert_status 501 "DELETE /networks/shoal_gwbridge"
api POST /v1.41/networks/prune
assert_status 501 "POST /networks/prune"
api POST /v1.41/networks/shoal_gwbridge/connect '{"Container":"x"}'
assert_status 501 "POST /networks/ID/connect"
run dk network create --driver overlay n1
assert_rc 1 "docker network create"
assert_contains "$ERR" "is not implemented by shoal yet" "docker network create"

# --- plugins: none ---------------------------------------------------------------------------
api GET /v1.41/plugins
assert_status 200 "GET /plugins"
assert_eq '[]' "$(jqc .)" "no plugins"
run dk plugin ls --format '{{.Name}}'
assert_rc 0 "docker plugin ls"
assert_eq "" "$OUT" "docker plugin ls: none"
api GET "/v1.41/plugins?filters=$(jq -rn '{enabled:{maybe:true}}|@uri')"
assert_status 400 "plugins enabled=maybe"
expect_eq "Invalid filter 'enabled=[maybe]'" "$(jqr .message)" "enabled=maybe: dockerd's words"
api GET /v1.41/plugins/vieux/sshfs:latest/json
assert_status 404 "GET /plugins/NAME/json"
assert_eq '{"message":"plugin \"vieux/sshfs:latest\" not found"}' "$(jqc .)" "dockerd's words for a plugin"
if has_docker28; then
    run dk plugin inspect nosuchplugin
    assert_rc 1 "docker plugin inspect nosuchplugin"
    assert_eq 'Error response from daemon: plugin "nosuchplugin" not found' "$ERR" "docker plugin inspect"
fi
if has_docker20; then
    run dk20 plugin inspect nosuchplugin
    assert_rc 1 "docker plugin inspect nosuchplugin (20.10)"
    assert_eq "Error: No such plugin: nosuchplugin" "$ERR" "docker plugin inspect (20.10)"
fi
api POST /v1.41/plugins/pull '{}'
assert_status 501 "POST /plugins/pull"

# --- the untyped docker inspect reaches the task -----------------------------------------------
run dk inspect "$task_id"
assert_rc 0 "docker inspect TASK-ID"
assert_eq "$task_id" "$(jq -r '.[0].ID' <<<"$OUT")" "docker inspect TASK-ID prints the task"
assert_eq "$cid" "$(jq -r '.[0].Status.ContainerStatus.ContainerID' <<<"$OUT")" "the task's container"
run dk20 inspect --format '{{.ID}} {{.DesiredState}}' "$task_id"
assert_rc 0 "docker inspect TASK-ID (20.10)"
assert_eq "$task_id running" "$OUT" "docker inspect TASK-ID (20.10)"

# --- ... and past secrets and configs to "No such object" for a name nothing has ------------------
# (shoal cannot make secrets or configs yet: inspecting one is dockerd's 404, the rest 501)
api GET /v1.41/secrets/nosuchthing
assert_status 404 "GET /secrets/nosuchthing"
assert_eq '{"message":"secret nosuchthing not found"}' "$(jqc .)" "dockerd's words (transcript)"
api GET /v1.41/configs/nosuchthing
assert_status 404 "GET /configs/nosuchthing"
assert_eq '{"message":"config nosuchthing not found"}' "$(jqc .)" "dockerd's words (transcript)"
api POST /v1.41/secrets/create '{"Name":"s","Data":""}'
assert_status 501 "POST /secrets/create (not built yet)"
api GET /v1.41/configs
assert_status 501 "GET /configs (not built yet)"
run dk inspect nosuchthing
assert_rc 1 "docker inspect nosuchthing"
assert_contains "$ERR" "No such object: nosuchthing" "docker inspect of nothing: the CLI's words"
run dk20 inspect nosuchthing
assert_rc 1 "docker inspect nosuchthing (20.10)"
assert_contains "$ERR" "No such object: nosuchthing" "docker inspect of nothing (20.10)"

# --- docker inspect CONTAINER: its /etc files ----------------------------------------------------
run dk inspect --format '{{.ResolvConfPath}}|{{.HostnamePath}}|{{.HostsPath}}' "$cid"
IFS='|' read -r resolv hostname hosts <<<"$OUT"
for f in "$resolv" "$hostname" "$hosts"; do
    [ -n "$f" ] && [ -f "$f" ] || fail "an /etc file of the container is not on disk: '$f'" "$OUT"
done
assert_eq "$DATA_ROOT/net/containers/$cid/resolv.conf" "$resolv" "ResolvConfPath"
assert_eq "$(cat "/proc/$pid/root/etc/hostname")" "$(cat "$hostname")" "HostnamePath: the container's /etc/hostname"
assert_eq "$(cat "/proc/$pid/root/etc/hosts")" "$(cat "$hosts")" "HostsPath: the container's /etc/hosts"
assert_eq "$(cat "/proc/$pid/root/etc/resolv.conf")" "$(cat "$resolv")" "ResolvConfPath: the container's"

# --- a restart with a task attached keeps every ID ---------------------------------------------
stop_daemon
start_daemon "${EXEC_ARGS[@]}"
wait_swarm_state active
api GET /v1.41/networks
assert_eq "$ids_before" "$(jqc 'sort_by(.Name) | [.[].Id]')" "the IDs after a restart with a task"
wait_running web 1
run dk inspect --format '{{.NetworkSettings.Networks.shoal_gwbridge.NetworkID}}' "$cid"
assert_eq "$gw_id" "$OUT" "the container's NetworkID after the restart"

# --- swarm leave: a new node network; host and none stay ---------------------------------------
run dk swarm leave --force
assert_rc 0 "swarm leave --force"
api GET /v1.41/networks
assert_ne "$gw_id" "$(jqr '.[] | select(.Name == "shoal_gwbridge") | .Id')" "a new node network after leave"
assert_eq "$(jq -c '[.[0], .[1]]' <<<"$ids_before")" "$(jqc 'sort_by(.Name) | [.[0].Id, .[1].Id]')" \
    "host and none keep their IDs"
assert_eq '[]' "$(jqc '.[] | select(.Name == "shoal_gwbridge") | .IPAM.Config')" \
    "no subnet until the next attach chooses one"
it_finish
