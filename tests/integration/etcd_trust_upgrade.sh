#!/usr/bin/env bash
# etcd_trust_upgrade.sh — a manager whose data root predates etcd's own CA (issue 7): with
# the etcd CA files removed and the swarm's "etcdca" record deleted, the manager still starts
# and works, its etcd trusting the swarm's certificates as before; its leader creates the
# etcd CA and stores it; after the next restart etcd trusts the etcd CA alone (the swarm
# certificate is refused, the etcd certificate works) and the swarm's objects are intact.
# One network-namespace host (its own loopback, so etcd's ports are this test's alone).
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
C() { echo "${NH_DIR[1]}/root/swarm/certs"; }
K() { echo "${NH_DIR[1]}/root/swarm/keys"; }
# etcd_post cert key path body: HTTP code of a POST to the local etcd's JSON gateway
etcd_post() {
    nh_exec 1 curl -s -o "$NH_ROOT/out" -w '%{http_code}' --max-time 5 -k --http1.1 \
        --cert "$1" --key "$2" -X POST -d "$4" "https://127.0.0.1:2479$3" || true
}
RANGE_PRIVATE='{"key":"L3Nob2FsL3ByaXZhdGUvZXRjZGNh"}' # /shoal/private/etcdca
drop_etcd_files() { rm -f "$(C)"/etcd.crt "$(C)"/etcd.key "$(C)"/etcd-ca.crt "$(C)"/etcd-crl.pem "$(K)"/etcd-ca.key; }
# wait_ready LABEL AFTER: until a write (adding the node label LABEL) goes through, 30 s at most
wait_ready() { nh_wait_for 30 "a write after $2" nh_docker 1 node update --label-add "$1" "$ID"; }

nh_setup 1
nh_start 1
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" >/dev/null
ID=$(nh_docker 1 info -f '{{.Swarm.NodeID}}')
nh_docker 1 node update --label-add before=upgrade "$ID" >/dev/null
[ -e "$(C)/etcd.crt" ] || fail "a new swarm's manager has no etcd certificate"

# an older data root: no etcd CA on disk, and (below) none in the swarm's records
nh_stop 1
drop_etcd_files
nh_start 1
wait_ready step=legacy "the restart without an etcd CA"
[ "$(etcd_post "$(C)/node.crt" "$(C)/node.key" /v3/kv/range '{"key":"Lw=="}')" = 200 ] ||
    fail "without an etcd CA, etcd does not run on the swarm's certificates"
[ "$(etcd_post "$(C)/node.crt" "$(C)/node.key" /v3/kv/deleterange "$RANGE_PRIVATE")" = 200 ] ||
    fail "could not delete the etcdca record"
nh_stop 1
drop_etcd_files
nh_start 1
wait_ready step=legacy2 "the restart of an older swarm"
echo "ok: a manager without an etcd CA starts and writes"

t0=$SECONDS
until [ -e "$(C)/etcd-ca.crt" ] && [ -e "$(K)/etcd-ca.key" ]; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "the leader did not create the etcd CA"
    sleep 0.2
done
until [ "$(etcd_post "$(C)/node.crt" "$(C)/node.key" /v3/kv/range "$RANGE_PRIVATE")" = 200 ] &&
    grep -q '"kvs"' "$NH_ROOT/out"; do
    [ $((SECONDS - t0)) -lt 30 ] || fail "the etcd CA record was not written"
    sleep 0.2
done
[ ! -e "$(C)/etcd.crt" ] || fail "the running etcd switched trust before a restart"
echo "ok: the leader created the etcd CA and recorded it"

nh_stop 1
nh_start 1
wait_ready step=switched "the restart onto the etcd CA"
[ "$(etcd_post "$(C)/node.crt" "$(C)/node.key" /v3/kv/range '{"key":"Lw=="}')" != 200 ] ||
    fail "after the switch etcd still accepts the swarm certificate"
[ "$(etcd_post "$(C)/etcd.crt" "$(C)/etcd.key" /v3/kv/range '{"key":"Lw=="}')" = 200 ] ||
    fail "after the switch etcd refuses the manager's etcd certificate"
[ "$(nh_docker 1 node inspect "$ID" -f '{{.Spec.Labels.before}} {{.Spec.Labels.step}}')" = "upgrade switched" ] ||
    fail "labels: $(nh_docker 1 node inspect "$ID" -f '{{json .Spec.Labels}}')"
echo "ok: after the next restart etcd trusts the etcd CA alone; the swarm's objects are intact"
