#!/usr/bin/env bash
# multinode_managers.sh — three managers and two workers on five network-namespace hosts:
# manager joins grow etcd, `node ls` on every manager shows one Leader and the others
# Reachable, a SIGKILLed leader is replaced (writes work again; the time is printed) and
# shows Unreachable/Down, demote and promote move a node between roles, a manager leaves
# with quorum intact, and a removed (down) manager is taken out with `node rm --force`.
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_contains() {
    case "$2" in *"$3"*) echo "ok: $1" ;; *) fail "$1: expected '$3' in: $2" ;; esac
}
mgr_status() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' | grep "^$2" | cut -d' ' -f2; }
is_status() { [ "$(nh_docker "$1" node inspect "$2" -f '{{.Status.State}}')" = "$3" ]; }
leader_of() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2=="Leader"{print $1}'; }
has_leader() { [ -n "$(leader_of "$1")" ]; }

nh_setup 5
for i in 1 2 3 4 5; do nh_start "$i"; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 1s >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
WT=$(nh_docker 1 swarm join-token -q worker)
for i in 2 3; do
    out=$(nh_docker "$i" swarm join --token "$MT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377")
    [ "$out" = "This node joined a swarm as a manager." ] || fail "manager join $i: $out"
done
out=$(nh_docker 4 swarm join --token "$WT" --advertise-addr "${NH_IP[4]}" "${NH_IP[2]}:2377")
[ "$out" = "This node joined a swarm as a worker." ] || fail "worker join through manager 2: $out"
out=$(nh_docker 5 swarm join --token "$WT" --advertise-addr "${NH_IP[5]}" "${NH_IP[3]}:2377")
[ "$out" = "This node joined a swarm as a worker." ] || fail "worker join through manager 3: $out"
declare -A ID
for i in 1 2 3 4 5; do ID[$i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}'); done
echo "ok: three managers and two workers joined"

for i in 1 2 3; do
    [ "$(nh_docker "$i" info -f '{{.Swarm.Managers}} {{.Swarm.Nodes}} {{.Swarm.ControlAvailable}}')" = "3 5 true" ] ||
        fail "info on manager $i: $(nh_docker "$i" info -f '{{json .Swarm}}')"
    [ "$(mgr_status "$i" "${ID[1]}")" = Leader ] || fail "manager $i does not see 1 as leader"
    [ "$(mgr_status "$i" "${ID[2]}")" = Reachable ] || fail "manager $i: 2 is $(mgr_status "$i" "${ID[2]}")"
done
echo "ok: every manager shows one Leader and Reachable managers"

# writes through any manager are seen by all
nh_docker 3 node update --label-add from=three "${ID[4]}" >/dev/null
nh_wait_for 5 "label replicated to manager 1" \
    bash -c "[ \"\$(DOCKER_HOST=unix://${NH_SOCK[1]} docker node inspect ${ID[4]} -f '{{.Spec.Labels.from}}')\" = three ]"
echo "ok: a write on manager 3 is seen on manager 1"

# --- leader failover ------------------------------------------------------------------------
t0=$(date +%s%N)
nh_kill 1
new=""
while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 15000 ]; do
    if nh_docker 2 node update --label-add after=failover "${ID[4]}" >/dev/null 2>&1; then
        new=$(leader_of 2)
        [ -n "$new" ] && break
    fi
    sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -n "$new" ] || fail "no new leader within 15 s"
[ "$new" = "${ID[2]}" ] || [ "$new" = "${ID[3]}" ] || fail "leader is $new"
echo "# failover: writes succeed again ${ms} ms after SIGKILL of the leader"
nh_wait_for 8 "old leader down" is_status 2 "${ID[1]}" down
[ "$(mgr_status 3 "${ID[1]}")" = Unreachable ] || fail "old leader shows $(mgr_status 3 "${ID[1]}")"
echo "ok: old leader Unreachable and Down"
nh_wait_for 8 "worker still ready after failover" is_status 3 "${ID[4]}" ready
nh_wait_for 8 "second worker still ready after failover" is_status 3 "${ID[5]}" ready

# --- the old leader comes back as a follower -------------------------------------------------
nh_start 1
nh_wait_for 10 "old leader ready again" is_status 2 "${ID[1]}" ready
[ "$(nh_docker 1 node inspect "${ID[4]}" -f '{{.Spec.Labels.after}}')" = failover ] ||
    fail "restarted manager did not catch up"
echo "ok: the old leader rejoined and caught up"

# --- demote / promote ----------------------------------------------------------------------
# keep manager 3's certificate: after the demotion it must not renew as a manager any more
old_certs=$NH_ROOT/m3-old-certs
mkdir -p "$old_certs"
cp "${NH_DIR[3]}/root/swarm/certs/"{node.crt,node.key,ca.crt} "$old_certs/"
nh_docker 2 node demote "${ID[3]}" >/dev/null
nh_wait_for 15 "manager 3 became a worker" \
    bash -c "[ \"\$(DOCKER_HOST=unix://${NH_SOCK[3]} docker info -f '{{.Swarm.ControlAvailable}}')\" = false ]"
out=$(nh_docker 3 node ls 2>&1) && fail "demoted node still serves node ls"
# /swarm-rpc/renew with the manager certificate it held before: the role comes from the swarm
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
    -keyout "$old_certs/new.key" -out "$old_certs/new.csr" 2>/dev/null
body=$(jq -n --rawfile csr "$old_certs/new.csr" '{CSR: $csr}')
# Manager 1 restarted a moment ago; until it answers with a certificate (its peer listener and
# CA settle), the renewal is retried with a deadline and every answer is kept for the failure.
renew_old() {
    local r
    r=$(nh_exec 3 curl -sS --max-time 10 --cacert "$old_certs/ca.crt" --cert "$old_certs/node.crt" \
        --key "$old_certs/node.key" -H 'Content-Type: application/json' --data-binary "$body" \
        "https://${NH_IP[1]}:2377/swarm-rpc/renew" 2>&1) || true
    printf '%s\n' "$r" >>"$old_certs/answers"
    resp=$r
    printf '%s' "$r" | jq -e '.Cert | strings' >/dev/null 2>&1
}
resp=""
t_r=$SECONDS
until renew_old; do
    [ $((SECONDS - t_r)) -lt 10 ] || fail "renewal with a demoted manager's old certificate: $(cat "$old_certs/answers")"
    sleep 0.2
done
[ "$(wc -l <"$old_certs/answers")" -le 1 ] || echo "# renewal answered after retries: $(head -c 400 "$old_certs/answers")"
subject=$(printf '%s' "$resp" | jq -r .Cert | openssl x509 -noout -subject -nameopt sep_multiline) || subject=""
case "$subject" in
*"OU=swarm-worker"*) echo "ok: a demoted manager's old certificate renews as a worker" ;;
*) fail "renewal with a demoted manager's old certificate: $resp / $subject" ;;
esac
nh_docker 2 node promote "${ID[4]}" >/dev/null
nh_wait_for 20 "worker 4 became a manager" \
    bash -c "DOCKER_HOST=unix://${NH_SOCK[4]} docker node ls >/dev/null 2>&1"
[ "$(nh_docker 4 info -f '{{.Swarm.Managers}}')" = 3 ] || fail "managers after promote: $(nh_docker 4 info -f '{{.Swarm.Managers}}')"
echo "ok: demote and promote"

# --- leave with quorum, rm --force of a lost manager -----------------------------------------
[ "$(nh_docker 4 swarm leave 2>&1)" = "Node left the swarm." ] || fail "manager 4 could not leave"
nh_wait_for 8 "left manager down" is_status 2 "${ID[4]}" down
nh_docker 2 node rm --force "${ID[4]}" >/dev/null
[ "$(nh_docker 2 info -f '{{.Swarm.Managers}}')" = 2 ] || fail "managers after rm"
nh_docker 1 node update --label-add still=writable "${ID[3]}" >/dev/null
echo "ok: leave and rm --force; the two remaining managers still write"

# --- autolock is the swarm's: every manager starts locked ----------------------------------------
nh_docker 1 swarm update --autolock=true >/dev/null
KEY=$(nh_docker 1 swarm unlock-key -q)
sleep 1
nh_stop 2
NH_START_TIMEOUT=0 nh_start 2 || true # its API opens once etcd has quorum again
nh_wait_for 15 "manager 2 answers after restart" nh_docker 2 info
[ "$(nh_docker 2 info -f '{{.Swarm.LocalNodeState}}')" = locked ] ||
    fail "manager 2 is $(nh_docker 2 info -f '{{.Swarm.LocalNodeState}}') after restart, not locked"
echo "$KEY" | nh_docker 2 swarm unlock >/dev/null
nh_wait_for 15 "manager 2 serves again after unlock" nh_docker 2 node ls
# both etcd members are back, but the store may need a moment to regain its leader
nh_wait_for 10 "autolock turned off again" nh_docker 1 swarm update --autolock=false
echo "ok: a manager of an autolocked swarm restarts locked and unlocks with the swarm's key"

# --- quorum lost, then recovered with --force-new-cluster ---------------------------------------
nh_kill 1
sleep 1
out=$(timeout 20 env DOCKER_HOST="unix://${NH_SOCK[2]}" docker node update --label-add lost=quorum "${ID[3]}" 2>&1) &&
    fail "a write was acknowledged without quorum"
echo "ok: no quorum, no acknowledged write ($out)"
out=$(nh_docker 2 swarm init --force-new-cluster --advertise-addr "${NH_IP[2]}")
expect_contains "force-new-cluster prints the init message" "$out" "Swarm initialized: current node (${ID[2]})"
leads_itself() { [ "$(leader_of 2)" = "${ID[2]}" ]; }
nh_wait_for 10 "manager 2 leads after force-new-cluster" leads_itself
nh_docker 2 node update --label-add recovered=yes "${ID[3]}" >/dev/null
nh_wait_for 10 "worker 3 ready after recovery" is_status 2 "${ID[3]}" ready
[ "$(nh_docker 2 node inspect "${ID[3]}" -f '{{.Spec.Labels.still}}')" = writable ] ||
    fail "state lost by force-new-cluster"
echo "ok: --force-new-cluster recovered the swarm with its state and workers"
