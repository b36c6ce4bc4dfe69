#!/usr/bin/env bash
# ca_rotate.sh — `docker swarm ca --rotate` on a swarm of two managers and a worker (network
# namespace hosts): the command waits for convergence and prints the new root; afterwards
# every node trusts the new root alone and holds a certificate it issued, the join tokens
# carry the new digest (the old one no longer joins; the new one does), both managers still
# write, and a manager restarted after the rotation rejoins etcd with the new trust.
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
certs() { echo "${NH_DIR[$1]}/root/swarm/certs"; }

nh_setup 4
for i in 1 2 3 4; do nh_start "$i"; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 1s >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
WT=$(nh_docker 1 swarm join-token -q worker)
nh_docker 2 swarm join --token "$MT" --advertise-addr "${NH_IP[2]}" "${NH_IP[1]}:2377" >/dev/null
nh_docker 3 swarm join --token "$WT" --advertise-addr "${NH_IP[3]}" "${NH_IP[1]}:2377" >/dev/null
old_root=$(nh_docker 1 swarm ca)

t0=$SECONDS
out=$(timeout 60 env DOCKER_HOST="unix://${NH_SOCK[1]}" docker swarm ca --rotate)
# the progress display, then the new root in PEM
new_root=$(printf '%s\n' "$out" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p')
echo "# rotation converged in $((SECONDS - t0)) s"
case "$new_root" in "-----BEGIN CERTIFICATE-----"*) ;; *) fail "ca --rotate printed: $new_root" ;; esac
[ "$new_root" != "$old_root" ] || fail "the root did not change"
printf '%s\n' "$new_root" >"$NH_ROOT/new.pem"
printf '%s\n' "$old_root" >"$NH_ROOT/old.pem"
[ "$(nh_docker 1 info -f '{{.Swarm.Cluster.RootRotationInProgress}}')" = false ] || fail "still rotating"
for i in 1 2 3; do
    openssl verify -CAfile "$NH_ROOT/new.pem" "$(certs "$i")/node.crt" >/dev/null ||
        fail "node $i's certificate is not from the new root"
    if openssl verify -CAfile "$NH_ROOT/old.pem" -partial_chain "$(certs "$i")/node.crt" >/dev/null 2>&1 &&
        ! openssl verify -CAfile "$NH_ROOT/new.pem" "$(certs "$i")/node.crt" >/dev/null 2>&1; then
        fail "node $i still uses an old-root certificate"
    fi
    diff <(openssl x509 -in "$(certs "$i")/ca.crt" -noout -fingerprint) \
        <(openssl x509 -in "$NH_ROOT/new.pem" -noout -fingerprint) >/dev/null ||
        fail "node $i does not trust the new root"
    [ "$(grep -c 'BEGIN CERTIFICATE' "$(certs "$i")/ca.crt")" = 1 ] || fail "node $i still trusts two roots"
done
echo "ok: every node trusts the new root alone and holds a certificate from it"

WT2=$(nh_docker 1 swarm join-token -q worker)
[ "$(echo "$WT2" | cut -d- -f3)" != "$(echo "$WT" | cut -d- -f3)" ] || fail "token digest unchanged"
[ "$(echo "$WT2" | cut -d- -f4)" = "$(echo "$WT" | cut -d- -f4)" ] || fail "token secret changed"
out=$(nh_docker 4 swarm join --token "$WT" "${NH_IP[1]}:2377" 2>&1) && fail "old-digest token joined"
case "$out" in *"remote CA does not match fingerprint"*) ;; *) fail "old token: $out" ;; esac
nh_docker 4 swarm join --token "$WT2" --advertise-addr "${NH_IP[4]}" "${NH_IP[1]}:2377" >/dev/null
echo "ok: tokens carry the new digest"

W3=$(nh_docker 3 info -f '{{.Swarm.NodeID}}')
for i in 1 2; do nh_docker "$i" node update --label-add "m$i=ok" "$W3" >/dev/null; done
nh_stop 2
nh_start 2
for _ in $(seq 100); do
    nh_docker 2 node update --label-add after=restart "$W3" >/dev/null 2>&1 && break
    sleep 0.2
done
[ "$(nh_docker 1 node inspect "$W3" -f '{{.Spec.Labels.after}}')" = restart ] ||
    { tail -5 "${NH_DIR[2]}/root/swarm/etcd.log"; tail -5 "${NH_DIR[1]}/root/swarm/etcd.log"; fail "restarted manager cannot write after the rotation"; }
[ "$(nh_docker 1 node ls --format '{{.Status}}' | sort -u)" = Ready ] || fail "$(nh_docker 1 node ls)"
echo "ok: managers write, a restarted manager rejoins, every node Ready"
