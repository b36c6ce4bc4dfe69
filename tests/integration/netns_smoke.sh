#!/usr/bin/env bash
# netns_smoke.sh — smoke test of the multi-host harness (netns_lib.sh) with 3 hosts: the
# bridge connects them, a partition isolates one host both ways (loopback and its own address
# still work) and healing undoes it; a daemon starts on each host and `docker info` answers
# there; nh_stop stops each cleanly (with its etcd children); nh_cleanup leaves no namespace,
# no process and no temp dir behind, and may run twice.
# Traffic goes only between the addresses of the namespaces this test creates, and to the
# daemons' unix sockets.
set -euo pipefail
# shellcheck source=tests/integration/netns_lib.sh
source "$(dirname "$0")/netns_lib.sh"

fail()
{
    echo "FAIL: $*" >&2
    exit 1
}

ok()
{
    echo "ok: $*"
}

start=$SECONDS
nh_setup 3
echo "# prefix $NH_PREFIX subnet $NH_SUBNET root $NH_ROOT"

# --- the layout ------------------------------------------------------------------------------
[ ${#NH_NS[@]} -eq 3 ] || fail "expected 3 namespaces, got ${#NH_NS[@]}"
for i in 1 2 3; do
    [ "${NH_NS[i]}" = "${NH_PREFIX}h$i" ] || fail "NH_NS[$i] is '${NH_NS[i]}'"
    [ -e "/run/netns/${NH_NS[i]}" ] || fail "namespace ${NH_NS[i]} missing"
    [[ "${NH_IP[i]}" =~ ^10\.([0-9]+)\.[0-9]+\.$i$ ]] || fail "NH_IP[$i] is '${NH_IP[i]}'"
    a=${BASH_REMATCH[1]}
    if [ "$a" -lt 100 ] || [ "$a" -gt 250 ]; then
        fail "second octet $a not in 100..250"
    fi
    [ -d "${NH_DIR[i]}" ] || fail "NH_DIR[$i] missing"
    [ "${NH_SOCK[i]}" = "${NH_DIR[i]}/sock" ] || fail "NH_SOCK[$i] is '${NH_SOCK[i]}'"
    addrs=$(nh_exec "$i" ip -4 -o addr show dev eth0)
    [[ "$addrs" == *" ${NH_IP[i]}/24 "* ]] || fail "host $i eth0: $addrs"
    nh_exec "$i" ip -o link show lo | grep -q ',UP' || fail "lo down in host $i"
done
[ -e "/run/netns/${NH_PREFIX}sw" ] || fail "switch namespace missing"
nh_exec 1 ip route show | grep -q default && fail "host 1 has a default route"
# Nothing in the root namespace: no bridge, no veth of ours, no subnet address.
for i in 1 2 3; do
    ip -o addr show | grep -qF " ${NH_IP[i]}/24 " && fail "${NH_IP[i]} in the root namespace"
done
ip -o link show | grep -qF "link-netns $NH_PREFIX" && fail "a veth of ours in the root namespace"
ok "layout"

# --- connectivity and partitions --------------------------------------------------------------
nh_ping 1 2 || fail "ping h1 -> h2"
nh_ping 1 3 || fail "ping h1 -> h3"
nh_ping 3 2 || fail "ping h3 -> h2"
NH_PING=python nh_ping 2 1 || fail "python ping h2 -> h1"
ok "all hosts reach each other"

nh_partition 3
nh_ping 1 3 && fail "ping h1 -> h3 works while h3 is partitioned"
nh_ping 3 1 && fail "ping h3 -> h1 works while h3 is partitioned"
NH_PING=python nh_ping 2 3 && fail "python ping h2 -> h3 works while h3 is partitioned"
nh_ping 1 2 || fail "ping h1 -> h2 fails while only h3 is partitioned"
nh_ping 3 3 || fail "h3 cannot reach its own address (loopback) while partitioned"
nh_exec 3 ping -n -q -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 ||
    ! command -v ping >/dev/null || fail "h3 cannot ping 127.0.0.1 while partitioned"
nh_partition 3 # re-partitioning replaces the table
[ "$(nh_exec 3 nft list tables)" = "table inet $NH_NFT_TABLE" ] ||
    fail "tables in h3: $(nh_exec 3 nft list tables)"
nh_heal 3
nh_ping 1 3 || fail "ping h1 -> h3 after heal"
nh_ping 3 1 || fail "ping h3 -> h1 after heal"
[ -z "$(nh_exec 3 nft list tables)" ] || fail "table left in h3 after heal"
nh_heal 3 # healing twice is harmless
ok "partition h3, heal"

# Partial partition: h1 cut from h2 only.
nh_partition 1 2
nh_ping 1 2 && fail "ping h1 -> h2 works while h1 is cut from h2"
nh_ping 2 1 && fail "ping h2 -> h1 works while h1 is cut from h2"
nh_ping 1 3 || fail "ping h1 -> h3 fails while h1 is cut only from h2"
nh_heal 1
nh_ping 1 2 || fail "ping h1 -> h2 after heal"
ok "partial partition h1 | h2"

# --- daemons ---------------------------------------------------------------------------------
for i in 1 2 3; do
    nh_start "$i"
done
for i in 1 2 3; do
    nh_alive "$i" || fail "daemon $i not alive"
    [ "$(cat "${NH_DIR[i]}/pid")" = "${NH_PID[i]}" ] ||
        fail "pidfile of host $i says $(cat "${NH_DIR[i]}/pid"), NH_PID is ${NH_PID[i]}"
    [ "$(readlink "/proc/${NH_PID[i]}/ns/net")" = "$(nh_exec "$i" readlink /proc/self/ns/net)" ] ||
        fail "daemon $i is not in namespace ${NH_NS[i]}"
    out=$(nh_docker "$i" info 2>&1) || fail "docker info on host $i: $out"
    [[ "$out" == *$'\n'" Swarm: inactive"$'\n'* ]] || fail "docker info on host $i: $out"
    [ "$(nh_curl "$i" http://x/_ping)" = OK ] || fail "GET /_ping on host $i"
done
ok "3 daemons answer docker info (Swarm: inactive)"

seen=("${NH_ALL_PIDS[@]}" "${NH_CHILD_PIDS[@]}")
for i in 1 2 3; do
    nh_stop "$i"
    nh_alive "$i" && fail "daemon $i alive after nh_stop"
    [ "${NH_EXIT[i]}" = 0 ] || fail "daemon $i exit status ${NH_EXIT[i]}"
done
ok "daemons stopped"

# A daemon killed with SIGKILL (with its children), and one left running for nh_cleanup.
nh_start 1
nh_start 2
seen+=("${NH_ALL_PIDS[@]}")
nh_kill 1
nh_alive 1 && fail "daemon 1 alive after nh_kill"
[ "${NH_EXIT[1]}" = 137 ] || fail "daemon 1 exit status after SIGKILL: ${NH_EXIT[1]}"
seen+=("${NH_CHILD_PIDS[@]}")

# --- cleanup ---------------------------------------------------------------------------------
prefix=$NH_PREFIX
root=$NH_ROOT
nh_cleanup
nh_cleanup # idempotent
left=$(ip netns list | grep -F "$prefix" || true)
[ -z "$left" ] || fail "namespaces left: $left"
[ ! -e "$root" ] || fail "temp dir $root left"
for p in "${seen[@]}"; do
    if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "$root"; then
        fail "process $p left: $(tr '\0' ' ' <"/proc/$p/cmdline")"
    fi
done
ok "cleanup (namespaces, processes, temp dir)"

[ $((SECONDS - start)) -lt 60 ] || fail "took $((SECONDS - start)) s (limit 60)"
echo "PASS ($((SECONDS - start)) s)"
