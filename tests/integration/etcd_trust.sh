#!/usr/bin/env bash
# etcd_trust.sh — only managers reach etcd (issue 7): four managers and a worker on network
# namespace hosts, with real curl against etcd's client port (127.0.0.1:2479 inside a
# manager's namespace) and peer port (advertise address, 2480):
#   - the worker's swarm certificate and a manager's swarm certificate are refused on both;
#     a manager's etcd certificate (certs/etcd.crt) is accepted (so the check can fail);
#   - a demoted (then removed) manager's old etcd certificate is refused, and so is that of a
#     crashed manager removed with `node rm --force`, with the other managers' etcd processes
#     never restarted (etcd re-reads the CRL per connection);
#   - after `swarm ca --rotate` finished, certificates of the old and of the new swarm root are
#     both refused, and `node update --label-add` still works on every manager, again
#     without an etcd restart.
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
certs() { echo "${NH_DIR[$1]}/root/swarm/certs"; }

# etcd_gets from url cert key: 0 if, from inside host `from`, etcd answers url (client range
# or peer /members, over HTTP/1.1: etcd's peer port hands HTTP/2 to gRPC) with HTTP 200 to a
# caller presenting cert/key.
etcd_gets() {
    local from=$1 url=$2 cert=$3 key=$4 code
    case "$url" in
    */v3/kv/range)
        code=$(nh_exec "$from" curl -s -o /dev/null -w '%{http_code}' --max-time 5 -k --http1.1 \
            --cert "$cert" --key "$key" -X POST -d '{"key":"Lw==","range_end":"MA=="}' "$url") || true ;;
    *)
        code=$(nh_exec "$from" curl -s -o /dev/null -w '%{http_code}' --max-time 5 -k --http1.1 \
            --cert "$cert" --key "$key" "$url") || true ;;
    esac
    [ "$code" = 200 ]
}
client_url() { echo "https://127.0.0.1:2479/v3/kv/range"; }
peer_url() { echo "https://${NH_IP[$1]}:2480/members"; }

# refused what host cert key [from]: manager `host` refuses cert/key on its client port (from
# inside its namespace) and on its peer port (from host `from`, the certificate's owner, since
# etcd also matches a peer certificate's IP SANs against the caller's address; default: host)
refused() {
    local what=$1 h=$2 cert=$3 key=$4 from=${5:-$2}
    ! etcd_gets "$h" "$(client_url)" "$cert" "$key" || fail "$what: accepted by manager $h's client port"
    ! etcd_gets "$from" "$(peer_url "$h")" "$cert" "$key" || fail "$what: accepted by manager $h's peer port"
}
accepted() {
    local what=$1 h=$2 cert=$3 key=$4 from=${5:-$2}
    etcd_gets "$h" "$(client_url)" "$cert" "$key" || fail "$what: refused by manager $h's client port"
    etcd_gets "$from" "$(peer_url "$h")" "$cert" "$key" || fail "$what: refused by manager $h's peer port"
}
etcd_pid() { nh_children "$1" | head -n 1; }
save() { cp "$(certs "$1")/$2.crt" "$NH_ROOT/$3.crt"; cp "$(certs "$1")/$2.key" "$NH_ROOT/$3.key"; }

nh_setup 5
for i in 1 2 3 4 5; do nh_start "$i"; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 1s >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
WT=$(nh_docker 1 swarm join-token -q worker)
for i in 2 3 5; do
    nh_docker "$i" swarm join --token "$MT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377" >/dev/null
done
nh_docker 4 swarm join --token "$WT" --advertise-addr "${NH_IP[4]}" "${NH_IP[1]}:2377" >/dev/null
declare -A ID
for i in 1 2 3 4 5; do ID[$i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}'); done
echo "ok: four managers and a worker"

[ -e "$(certs 4)/node.key" ] || fail "the worker has no key file"
save 4 node worker-old
save 2 node mgr2-old
for i in 1 2 3 5; do
    refused "the worker's swarm certificate" "$i" "$NH_ROOT/worker-old.crt" "$NH_ROOT/worker-old.key" 4
done
refused "manager 2's swarm certificate" 1 "$NH_ROOT/mgr2-old.crt" "$NH_ROOT/mgr2-old.key" 2
refused "manager 1's own swarm certificate" 1 "$(certs 1)/node.crt" "$(certs 1)/node.key"
for i in 1 2 3 5; do
    [ ! -e "$(certs 4)/etcd.crt" ] || fail "the worker holds an etcd certificate"
    accepted "manager $i's etcd certificate" "$i" "$(certs "$i")/etcd.crt" "$(certs "$i")/etcd.key"
done
accepted "manager 3's etcd certificate on manager 1" 1 "$(certs 3)/etcd.crt" "$(certs 3)/etcd.key" 3
[ ! -e "${NH_DIR[4]}/root/swarm/keys/etcd-ca.key" ] || fail "the worker holds the etcd CA key"
echo "ok: swarm certificates (worker's and manager's) are refused by etcd; etcd certificates work"

# --- removed managers' etcd certificates ------------------------------------------------------
# revoked_on from cert key: waits until manager 1's client port refuses cert/key
revoked_on_1() {
    local t0=$SECONDS
    while etcd_gets 1 "$(client_url)" "$1" "$2"; do
        [ $((SECONDS - t0)) -lt 30 ] || fail "$3 still works on manager 1 after 30 s"
        sleep 0.2
    done
    echo "# $3 refused $((SECONDS - t0)) s later"
}
P1=$(etcd_pid 1) P2=$(etcd_pid 2)
[ -n "$P1" ] && [ -n "$P2" ] || fail "no etcd child on managers 1 and 2"
save 3 etcd mgr3-etcd
save 5 etcd mgr5-etcd

# demoted, then removed
nh_docker 1 node demote "${ID[3]}" >/dev/null
nh_wait_for 30 "manager 3 is a worker" \
    bash -c "[ \"\$(DOCKER_HOST=unix://${NH_SOCK[3]} docker info -f '{{.Swarm.ControlAvailable}}')\" = false ]"
[ ! -e "$(certs 3)/etcd.crt" ] && [ ! -e "$(certs 3)/etcd.key" ] &&
    [ ! -e "${NH_DIR[3]}/root/swarm/keys/etcd-ca.key" ] || fail "the demoted manager kept its etcd files"
revoked_on_1 "$NH_ROOT/mgr3-etcd.crt" "$NH_ROOT/mgr3-etcd.key" "the demoted manager's etcd certificate"
nh_docker 1 node rm --force "${ID[3]}" >/dev/null
nh_stop 3

# lost (host crash), then removed with --force
accepted "manager 5's etcd certificate before its removal" 1 "$NH_ROOT/mgr5-etcd.crt" "$NH_ROOT/mgr5-etcd.key" 5
nh_kill 5
nh_docker 1 node rm --force "${ID[5]}" >/dev/null
revoked_on_1 "$NH_ROOT/mgr5-etcd.crt" "$NH_ROOT/mgr5-etcd.key" "the force-removed manager's etcd certificate"

nh_wait_for 30 "manager 2 writes the same CRL" cmp -s "$(certs 1)/etcd-crl.pem" "$(certs 2)/etcd-crl.pem"
for i in 1 2; do
    refused "the removed manager 3's etcd certificate" "$i" "$NH_ROOT/mgr3-etcd.crt" "$NH_ROOT/mgr3-etcd.key" 3
    refused "the removed manager 5's etcd certificate" "$i" "$NH_ROOT/mgr5-etcd.crt" "$NH_ROOT/mgr5-etcd.key" 5
    accepted "manager $i's etcd certificate after the removals" "$i" "$(certs "$i")/etcd.crt" "$(certs "$i")/etcd.key"
done
[ "$(etcd_pid 1)" = "$P1" ] && [ "$(etcd_pid 2)" = "$P2" ] || fail "etcd was restarted for the revocations"
echo "ok: removed managers' etcd certificates are refused, without restarting etcd"

# --- swarm root rotation --------------------------------------------------------------------
out=$(timeout 60 env DOCKER_HOST="unix://${NH_SOCK[1]}" docker swarm ca --rotate) || fail "ca --rotate: $out"
[ "$(nh_docker 1 info -f '{{.Swarm.Cluster.RootRotationInProgress}}')" = false ] || fail "still rotating"
save 2 node mgr2-new
save 4 node worker-new
cmp -s "$NH_ROOT/mgr2-new.crt" "$NH_ROOT/mgr2-old.crt" && fail "manager 2's certificate did not change"
for i in 1 2; do
    refused "an old-root manager certificate" "$i" "$NH_ROOT/mgr2-old.crt" "$NH_ROOT/mgr2-old.key" 2
    refused "an old-root worker certificate" "$i" "$NH_ROOT/worker-old.crt" "$NH_ROOT/worker-old.key" 4
    refused "a new-root manager certificate" "$i" "$NH_ROOT/mgr2-new.crt" "$NH_ROOT/mgr2-new.key" 2
    refused "a new-root worker certificate" "$i" "$NH_ROOT/worker-new.crt" "$NH_ROOT/worker-new.key" 4
done
for i in 1 2; do
    nh_docker "$i" node update --label-add "after$i=rotate" "${ID[4]}" >/dev/null ||
        fail "manager $i cannot write after the rotation"
done
[ "$(nh_docker 2 node inspect "${ID[4]}" -f '{{.Spec.Labels.after1}} {{.Spec.Labels.after2}}')" = "rotate rotate" ] ||
    fail "labels after the rotation: $(nh_docker 2 node inspect "${ID[4]}" -f '{{json .Spec.Labels}}')"
[ "$(etcd_pid 1)" = "$P1" ] && [ "$(etcd_pid 2)" = "$P2" ] || fail "etcd was restarted by the rotation"
echo "ok: after the rotation both roots' certificates are refused; managers write without restart"
