#!/usr/bin/env bash
# bench/failover.sh — leader failover of a three-manager swarm.
#
# Three network-namespace hosts (tests/integration/netns_lib.sh), each a manager. ROUNDS times
# (default 5): find the leader, SIGKILL its daemon together with its etcd child (a host crash:
# nh_kill), and measure the milliseconds until a write (`docker node update --label-add`) through
# one of the two surviving managers succeeds again, and until they show a new Leader. Then
# restart the killed host's daemon on the same state and measure until it is healthy again
# (`node ls` on it shows one Leader, two other managers Reachable, every node Ready). Prints
# each round (and whether the killed host's etcd member was also etcd's Raft leader: then the
# write waits for an etcd election) and the medians, next to the target and Docker's figures
# on this VM.
#
# Needs root (network namespaces), build/shoal (or $SHOAL_BIN), etcd and the docker CLI.
# Traffic stays inside the namespaces this script creates; only PIDs it started are signalled.
# Env: SHOAL_BIN, ROUNDS (5), LIMIT (seconds to wait for each step, 30), NH_DOCKER.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
LIMIT=${LIMIT:-30}
export SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoal}
source "$ROOT/tests/integration/netns_lib.sh"

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
die() { echo "bench: $*" >&2; exit 1; }
leader_of() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null | awk '$2=="Leader"{print $1}'; }
# healthy i: host i serves node ls showing 1 Leader, 2 Reachable, 3 Ready nodes
# etcd_leads i: host i's etcd member is the Raft leader (its own status, over its client TLS)
etcd_leads()
{
    local c=${NH_DIR[$1]}/root/swarm/certs st
    st=$(nh_exec "$1" curl -s --max-time 2 --cacert "$c/ca.crt" --cert "$c/node.crt" --key "$c/node.key" \
        -X POST -d '{}' https://127.0.0.1:2479/v3/maintenance/status 2>/dev/null) || return 1
    python3 -c 'import json, sys; s = json.loads(sys.argv[1]); sys.exit(s.get("leader") != s["header"]["member_id"])' "$st"
}
healthy()
{
    local out
    out=$(nh_docker "$1" node ls --format '{{.Status}} {{.ManagerStatus}}' 2>/dev/null) || return 1
    [ "$(grep -c ' Leader$' <<<"$out")" = 1 ] && [ "$(grep -c ' Reachable$' <<<"$out")" = 2 ] &&
        [ "$(grep -c '^Ready ' <<<"$out")" = 3 ]
}

nh_setup 3
for i in 1 2 3; do nh_start "$i" --log-level warn; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
for i in 2 3; do
    nh_docker "$i" swarm join --token "$MT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377" >/dev/null
done
declare -A HOST_OF
ID=()
for i in 1 2 3; do
    ID[i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}')
    HOST_OF[${ID[i]}]=$i
done
t0=$SECONDS
until healthy 1; do
    [ $((SECONDS - t0)) -lt "$LIMIT" ] || die "the three managers are not healthy"
    sleep 0.1
done
echo "# failover: 3 managers, $ROUNDS rounds; $("$SHOAL_BIN" version); SIGKILL = daemon + its etcd"

write_ms=()
co_ms=() # rounds where the killed host's etcd was the Raft leader too
leader_ms=()
back_ms=()
for ((r = 1; r <= ROUNDS; r++)); do
    L=""
    for i in 1 2 3; do
        id=$(leader_of "$i") && [ -n "$id" ] && L=${HOST_OF[$id]:-} && [ -n "$L" ] && break
    done
    [ -n "$L" ] || die "round $r: no leader"
    others=()
    for i in 1 2 3; do [ "$i" = "$L" ] || others+=("$i"); done
    target=${ID[${others[0]}]}
    co="also"
    etcd_leads "$L" || co="not"

    t0=$(now_us)
    nh_kill "$L"
    w="" n=0 new=""
    while [ $((($(now_us) - t0) / 1000)) -lt $((LIMIT * 1000)) ]; do
        h=${others[n % 2]}
        n=$((n + 1))
        if [ -z "$w" ] && nh_docker "$h" node update --label-add "failover=$r" "$target" >/dev/null 2>&1; then
            w=$((($(now_us) - t0) / 1000))
        fi
        if [ -z "$new" ]; then
            id=$(leader_of "$h")
            if [ -n "$id" ] && [ "$id" != "${ID[L]}" ]; then
                new=$((($(now_us) - t0) / 1000))
            fi
        fi
        [ -n "$w" ] && [ -n "$new" ] && break
        sleep 0.02
    done
    [ -n "$w" ] || die "round $r: no write succeeded within $LIMIT s of killing host $L"
    [ -n "$new" ] || die "round $r: no new leader shown within $LIMIT s"
    label=$(nh_docker "${others[1]}" node inspect "$target" -f '{{index .Spec.Labels "failover"}}')
    [ "$label" = "$r" ] || die "round $r: the write is not seen on the other manager ($label)"

    t1=$(now_us)
    nh_start "$L" --log-level warn
    until healthy "$L"; do
        [ $((($(now_us) - t1) / 1000000)) -lt "$LIMIT" ] || die "round $r: host $L not healthy again"
        sleep 0.05
    done
    b=$((($(now_us) - t1) / 1000))
    write_ms+=("$w")
    [ "$co" = not ] || co_ms+=("$w")
    leader_ms+=("$new")
    back_ms+=("$b")
    printf 'round %d: killed leader on host %d (%4s the etcd leader); write ok after %5d ms, new leader shown after %5d ms; restarted and healthy after %5d ms\n' \
        "$r" "$L" "$co" "$w" "$new" "$b"
done

mw=$(median "${write_ms[@]}")
ml=$(median "${leader_ms[@]}")
mb=$(median "${back_ms[@]}")
range() { printf '%s\n' "$@" | sort -n | awk 'NR==1{a=$1} {b=$1} END {printf "%d-%d", a, b}'; }
echo
printf '%-44s %8s  %-12s %-10s %s\n' "figure (median of $ROUNDS)" "shoal" "range ms" "target" "Docker 20.10 on this VM"
printf '%-44s %5d ms  %-12s %-10s %s\n' "SIGKILL leader -> write succeeds" "$mw" "$(range "${write_ms[@]}")" "< 1000 ms" \
    "15.9 s (9.5-22.9 s) until GET /nodes answers"
if [ "${#co_ms[@]}" -gt 0 ]; then
    printf '%-44s %5d ms  %-12s %-10s %s\n' "  ... when it was etcd's leader too (${#co_ms[@]} rounds)" \
        "$(median "${co_ms[@]}")" "$(range "${co_ms[@]}")" "< 1000 ms" ""
fi
printf '%-44s %5d ms  %-12s %-10s %s\n' "SIGKILL leader -> new Leader in node ls" "$ml" "$(range "${leader_ms[@]}")" "" ""
printf '%-44s %5d ms  %-12s %-10s %s\n' "restart killed manager -> healthy" "$mb" "$(range "${back_ms[@]}")" "" \
    "7.1 s (4.9-11.2 s) until all 3 reachable"
[ "$mw" -lt 1000 ] || { echo "failover above target"; exit 1; }
