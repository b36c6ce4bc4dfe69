#!/usr/bin/env bash
# multinode_workers.sh — one manager and two workers on three network-namespace hosts: joining
# with tokens over mutual TLS (and every refused join: malformed, wrong secret, rotated-away,
# another CA's digest, unreachable manager — each leaving the node inactive with nothing
# saved), a forged certificate refused by the manager's TLS, workers refused manager calls,
# a SIGKILLed worker marked Down within three heartbeats and Ready again after a restart,
# leave and rm, a restart of every node keeping the swarm, and certificate renewal (a worker
# whose clock says its 1 h certificate is past 50-80% of its life renews it and stays Ready).
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_contains() { # what haystack needle
    case "$2" in *"$3"*) echo "ok: $1" ;; *) fail "$1: expected '$3' in: $2" ;; esac
}
state_of() { nh_docker "$1" info -f '{{.Swarm.LocalNodeState}}'; }
assert_inactive() {
    [ "$(state_of "$1")" = inactive ] || fail "host $1 is $(state_of "$1"), expected inactive"
    [ ! -e "${NH_DIR[$1]}/root/swarm" ] || fail "host $1 kept $(ls "${NH_DIR[$1]}/root/swarm")"
}
# wait_status host node-id status seconds
wait_status() {
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -le "$4" ]; do
        [ "$(nh_docker "$1" node inspect "$2" -f '{{.Status.State}}' 2>/dev/null)" = "$3" ] &&
            return 0
        sleep 0.2
    done
    fail "node $2 not $3 within $4 s (is $(nh_docker "$1" node inspect "$2" -f '{{.Status.State}}'))"
}

nh_setup 3
for i in 1 2 3; do nh_start "$i"; done
M=${NH_IP[1]}

out=$(nh_docker 1 swarm init --advertise-addr "$M" --dispatcher-heartbeat 1s --cert-expiry 1h)
expect_contains "init prints the join command" "$out" "$M:2377"
WT=$(nh_docker 1 swarm join-token -q worker)

# --- refused joins leave nothing behind ----------------------------------------------------
out=$(nh_docker 3 swarm join --token SWMTKN-1-abc "$M:2377" 2>&1) && fail "malformed token accepted"
expect_contains "malformed token refused" "$out" "invalid join token"
assert_inactive 3
digest=$(echo "$WT" | cut -d- -f3)
bad_secret="SWMTKN-1-$digest-0000000000000000000000000"
out=$(nh_docker 3 swarm join --token "$bad_secret" "$M:2377" 2>&1) && fail "wrong secret accepted"
expect_contains "wrong secret refused" "$out" "A valid join token is necessary to join this cluster"
assert_inactive 3
other="SWMTKN-1-$(printf 'a%.0s' $(seq 50))-$(echo "$WT" | cut -d- -f4)"
out=$(nh_docker 3 swarm join --token "$other" "$M:2377" 2>&1) && fail "another CA's digest accepted"
expect_contains "digest of another CA refused" "$out" "remote CA does not match fingerprint"
assert_inactive 3
out=$(nh_docker 3 swarm join --token "$WT" "${NH_IP[3]}:2399" 2>&1) && fail "joined nobody"
expect_contains "unreachable manager refused" "$out" "could not reach the manager"
assert_inactive 3
# a name: resolved off the loop (/etc/hosts first; no route leaves this namespace, so a DNS
# lookup fails at once); neither says "etcd"
out=$(nh_docker 3 swarm join --token "$WT" "localhost:2399" 2>&1) && fail "joined nobody on localhost"
expect_contains "unreachable manager by name refused" "$out" "could not reach the manager at "
expect_contains "unreachable manager by name: its address" "$out" ":2399"
assert_inactive 3
out=$(nh_docker 3 swarm join --token "$WT" "no-such-manager.invalid:2377" 2>&1) &&
    fail "joined a name that does not resolve"
expect_contains "unresolvable manager refused" "$out" \
    "could not resolve the manager's address no-such-manager.invalid"
case "$out" in *etcd*) fail "a join to an unresolvable name mentions etcd: $out" ;; esac
assert_inactive 3
nh_docker 1 swarm join-token --rotate worker >/dev/null
out=$(nh_docker 3 swarm join --token "$WT" "$M:2377" 2>&1) && fail "rotated-away token accepted"
expect_contains "rotated-away token refused" "$out" "A valid join token is necessary"
assert_inactive 3
WT=$(nh_docker 1 swarm join-token -q worker)

# --- joins ------------------------------------------------------------------------------------
for i in 2 3; do
    out=$(nh_docker "$i" swarm join --token "$WT" --advertise-addr "${NH_IP[i]}" "$M:2377")
    [ "$out" = "This node joined a swarm as a worker." ] || fail "join output: $out"
done
echo "ok: two workers joined"
W2=$(nh_docker 2 info -f '{{.Swarm.NodeID}}')
W3=$(nh_docker 3 info -f '{{.Swarm.NodeID}}')
[ "$(nh_docker 1 node ls -q | wc -l)" -eq 3 ] || fail "node ls: $(nh_docker 1 node ls)"
for w in "$W2" "$W3"; do
    line=$(nh_docker 1 node ls --format '{{.ID}} {{.Status}} {{.Availability}} {{.ManagerStatus}}' |
        grep "^$w")
    [ "$line" = "$w Ready Active " ] || fail "node ls line for $w: '$line'"
done
[ "$(nh_docker 1 node inspect "$W2" -f '{{.Status.Addr}} {{.Spec.Role}}')" = "${NH_IP[2]} worker" ] ||
    fail "worker 2 address/role"
[ "$(nh_docker 2 info -f '{{.Swarm.ControlAvailable}} {{(index .Swarm.RemoteManagers 0).Addr}}')" \
    = "false $M:2377" ] || fail "worker info: $(nh_docker 2 info -f '{{json .Swarm}}')"
echo "ok: node ls and info show the workers"

# --- workers cannot act as managers ------------------------------------------------------------
out=$(nh_docker 2 node ls 2>&1) && fail "node ls worked on a worker"
expect_contains "worker refused node ls" "$out" "This node is not a swarm manager. Worker nodes can't be used"
out=$(nh_docker 2 swarm init 2>&1) && fail "init on a worker"
expect_contains "worker refused init" "$out" "already part of a swarm"

# --- certificates ----------------------------------------------------------------------------
certs=${NH_DIR[2]}/root/swarm/certs
rpc() { # host cert key path
    nh_exec "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$certs/ca.crt" \
        ${2:+--cert "$2" --key "$3"} -X POST -d '{}' "https://$M:2377$4" || true
}
[ "$(rpc 2 "$certs/node.crt" "$certs/node.key" /swarm-rpc/heartbeat)" = 200 ] ||
    fail "a worker's own certificate was refused"
[ "$(rpc 2 "" "" /swarm-rpc/heartbeat)" = 401 ] || fail "heartbeat without a certificate"
forge=$NH_ROOT/forge
mkdir -p "$forge"
cluster=$(nh_docker 1 info -f '{{.Swarm.Cluster.ID}}')
openssl ecparam -name prime256v1 -genkey -noout -out "$forge/ca.key" 2>/dev/null
openssl req -x509 -new -key "$forge/ca.key" -subj /CN=swarm-ca -days 2 -out "$forge/ca.crt" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$forge/n.key" 2>/dev/null
openssl req -new -key "$forge/n.key" -subj "/O=$cluster/OU=swarm-manager/CN=$W2" -out "$forge/n.csr" 2>/dev/null
openssl x509 -req -in "$forge/n.csr" -CA "$forge/ca.crt" -CAkey "$forge/ca.key" -CAcreateserial \
    -days 1 -out "$forge/n.crt" 2>/dev/null
code=$(rpc 2 "$forge/n.crt" "$forge/n.key" /swarm-rpc/heartbeat)
[ "$code" = 000 ] || fail "a certificate from another CA got HTTP $code (expected a TLS refusal)"
echo "ok: forged certificate refused by TLS"

# --- liveness ------------------------------------------------------------------------------------
nh_kill 3
t0=$(date +%s.%N)
wait_status 1 "$W3" down 6
echo "# worker marked down $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || true) s after SIGKILL"
expect_contains "down reason" "$(nh_docker 1 node inspect "$W3" -f '{{.Status.Message}}')" "heartbeat failure"
nh_start 3
wait_status 1 "$W3" ready 6
echo "ok: killed worker down, restarted worker ready"

# --- rm and leave ----------------------------------------------------------------------------
out=$(nh_docker 1 node rm "$W3" 2>&1) && fail "removed a ready node"
expect_contains "rm of a ready node refused" "$out" "is not down and can't be removed"
[ "$(nh_docker 2 swarm leave)" = "Node left the swarm." ] || fail "worker leave"
assert_inactive 2
wait_status 1 "$W2" down 3
nh_docker 1 node rm "$W2" >/dev/null
[ "$(nh_docker 1 node ls -q | wc -l)" -eq 2 ] || fail "node rm left $(nh_docker 1 node ls)"
echo "ok: leave and rm"

# --- restart everything ------------------------------------------------------------------------
before=$(nh_docker 1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | sort)
for i in 1 2 3; do nh_stop "$i"; done
for i in 1 2 3; do nh_start "$i"; done
wait_status 1 "$W3" ready 8
after=$(nh_docker 1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | sort)
[ "$before" = "$after" ] || fail "after restart: '$after' != '$before'"
[ "$(nh_docker 3 info -f '{{.Swarm.NodeID}}')" = "$W3" ] || fail "worker lost its identity"
echo "ok: restart of every node keeps the swarm"

# --- certificate renewal ----------------------------------------------------------------------
if command -v faketime >/dev/null 2>&1; then
    serial() { openssl x509 -noout -serial -in "${NH_DIR[3]}/root/swarm/certs/node.crt"; }
    before=$(serial)
    nh_stop 3
    real=$NH_SHOAL
    cat >"$NH_ROOT/shoal-later" <<SH
#!/bin/sh
ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0 exec faketime -f +55m "$real" "\$@"
SH
    chmod +x "$NH_ROOT/shoal-later"
    NH_SHOAL=$NH_ROOT/shoal-later nh_start 3
    t0=$SECONDS
    while [ "$(serial)" = "$before" ]; do
        [ $((SECONDS - t0)) -lt 10 ] || fail "worker did not renew its certificate"
        sleep 0.2
    done
    openssl verify -CAfile "${NH_DIR[3]}/root/swarm/certs/ca.crt" \
        "${NH_DIR[3]}/root/swarm/certs/node.crt" >/dev/null || fail "renewed certificate does not verify"
    sleep 2.5
    wait_status 1 "$W3" ready 3
    echo "ok: certificate renewed at 55 min of 1 h; the worker stays ready with it"
else
    echo "# faketime not installed: renewal not exercised"
fi
