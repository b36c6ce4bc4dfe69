#!/usr/bin/env bash
# bench/shoal-swarm-cluster.sh — N shoal "hosts" on one Linux box, each in its own network
# and UTS namespace, joined into one swarm: the sibling of the Docker harness's
# docker-swarm-cluster.sh (/work/shared/bench-docker/), with the same commands, so that the same
# measuring code (docker-swarm-bench.sh) drives both.
#
# Usage:
#   shoal-swarm-cluster.sh up [N] [MANAGERS]   create N hosts (default 3); host1..hostMANAGERS
#                                              are managers (default 1), the rest workers
#   shoal-swarm-cluster.sh down                tear down everything this script created
#   shoal-swarm-cluster.sh start K             (re)start hostK's shoal daemon on its data root
#   shoal-swarm-cluster.sh kill K [SIG]        send SIG (default KILL) to hostK's daemon only
#   shoal-swarm-cluster.sh sock K              print hostK's Engine API socket path
#   shoal-swarm-cluster.sh status              show hosts, pids and `docker node ls`
#
# Topology (nothing is added to the root network namespace):
#   netns ssw-sw      : bridge sswbr0 (no address), a private "switch"
#   netns ssw-hostK   : eth0 = 10.78.0.K/24, its veth peer "vhK" a port of sswbr0 in ssw-sw;
#                       no default route, so nothing leaves the namespaces
#   shoal of hostK    : nsenter --net=/run/netns/ssw-hostK + unshare --uts (hostname hostK,
#                       which services' `node.hostname==hostK` constraints name), data root
#                       $DSW/hostK/root (etcd, exec, image under it), Engine API socket
#                       $DSW/hostK.sock, pidfile $DSW/hostK/shoal.pid, log $DSW/hostK/shoal.log;
#                       etcd on its default ports inside the namespace (each has its own lo).
#   cgroups (v1 + unified): the daemon and its children (etcd, conmon) in
#                       <ctl>/dsw/hostK/daemon for pids, cpuacct and unified; task containers
#                       in <ctl>/dsw/hostK/ctr/<id> (`shoal daemon --cgroup-parent`). The cgroup
#                       name is dsw, as the Docker harness's: docker-swarm-bench.sh reads
#                       cpuacct:/dsw/cpuacct.usage (CPU of daemons, shims, runtime and
#                       containers) and pids:/dsw/hostK/daemon/cgroup.procs (daemon RSS) by
#                       those paths. So this cluster and the Docker one cannot be up at the
#                       same time: `up` refuses while anything runs in pids:/dsw, and `down`
#                       refuses to touch the dsw cgroups while a dockerd or containerd runs in
#                       them (run the Docker harness's own `down` for those).
#   image busybox:dsw : a `docker save` archive of Debian's busybox-static built by
#                       tests/integration/lib_image.sh (make_busybox_tar), `docker load`-ed into
#                       every host (the same image ID everywhere, as the Docker harness's).
#   The daemons' overlay mounts live in the root mount namespace (no private one: a restarted
#   daemon must see the mounts of the containers that outlived it); `down` unmounts whatever is
#   left under $DSW.
#
# `down` SIGKILLs exactly the processes in the pids:/dsw cgroups and in the ssw-* namespaces,
# removes those cgroups and namespaces and deletes $DSW. Needs root, ip, nsenter, unshare,
# curl, python3, /bin/busybox (busybox-static), the docker CLI and build/shoal.
#
# Env: DSW (default /tmp/ssw), SSW_SUBNET (default 10.78.0), DOCKER (/usr/bin/docker),
#      SHOAL_BIN (build/shoal of this tree), SSW_DAEMON_FLAGS (extra `shoal daemon` flags).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd) # also when run through a symlink
DSW=${DSW:-/tmp/ssw}
SUBNET=${SSW_SUBNET:-10.78.0}
SWNS=ssw-sw
BR=sswbr0
DOCKER=${DOCKER:-/usr/bin/docker}
SHOAL=${SHOAL_BIN:-$ROOT/build/shoal}
IMAGE=busybox:dsw
CGROOT=/sys/fs/cgroup
CG=dsw

log() { echo "[ssw $(date +%H:%M:%S)] $*" >&2; }
sock() { echo "$DSW/host$1.sock"; }
dk() {
    local k=$1
    shift
    DOCKER_CONFIG="$DSW/docker-config" "$DOCKER" -H "unix://$(sock "$k")" "$@"
}
ping_ok() { curl -sf --max-time 2 --unix-socket "$(sock "$1")" http://d/_ping >/dev/null 2>&1; }
daemon_pid() { cat "$DSW/host$1/shoal.pid" 2>/dev/null; }
# in_cg PID K: 0 if PID is in hostK's daemon cgroup (so it is ours to signal)
in_cg() { grep -qx "$1" "$CGROOT/pids/$CG/host$2/daemon/cgroup.procs" 2>/dev/null; }

wait_ping() {
    local k=$1 t=${2:-60} i
    for ((i = 0; i < t * 10; i++)); do
        ping_ok "$k" && return 0
        sleep 0.1
    done
    log "host$k: shoal did not answer /_ping within ${t}s; tail of its log:"
    tail -20 "$DSW/host$k/shoal.log" >&2 || true
    return 1
}

net_setup() {
    local n=$1 k ns
    [ -e /run/netns/$SWNS ] || ip netns add $SWNS
    ip -n $SWNS link show $BR >/dev/null 2>&1 || ip -n $SWNS link add $BR type bridge
    ip -n $SWNS link set lo up
    ip -n $SWNS link set $BR up
    for ((k = 1; k <= n; k++)); do
        ns=ssw-host$k
        [ -e /run/netns/$ns ] || ip netns add $ns
        if ! ip -n $SWNS link show vh$k >/dev/null 2>&1; then
            ip -n $SWNS link add vh$k type veth peer name eth0 netns $ns
            ip -n $SWNS link set vh$k master $BR up
            ip -n $ns addr add "$SUBNET.$k/24" dev eth0
            ip -n $ns link set eth0 up
            ip -n $ns link set lo up
        fi
    done
}

start_host() {
    local k=$1 c p i
    local d=$DSW/host$k
    [[ "$k" =~ ^[0-9]+$ ]] && [ -e "/run/netns/ssw-host$k" ] || {
        log "no host$k (run up first)"
        return 1
    }
    # a killed daemon must be gone before another opens its data root (an exited process
    # leaves cgroup.procs at once, zombie or not)
    p=$(daemon_pid "$k" || true)
    for ((i = 0; i < 100; i++)); do
        [ -n "$p" ] && in_cg "$p" "$k" || break
        sleep 0.1
    done
    if [ -n "$p" ] && in_cg "$p" "$k"; then
        log "host$k: shoal $p still runs; not starting another"
        return 1
    fi
    mkdir -p "$d/root"
    for c in pids unified cpuacct; do mkdir -p "$CGROOT/$c/$CG/host$k/daemon" 2>/dev/null || true; done
    local flags
    flags="--data-root $d/root -H unix://$DSW/host$k.sock --pidfile $d/shoal.pid"
    flags+=" --cgroup-parent /$CG/host$k/ctr ${SSW_DAEMON_FLAGS:-}"
    (
        echo "$BASHPID" >"$CGROOT/pids/$CG/host$k/daemon/cgroup.procs"
        echo "$BASHPID" >"$CGROOT/unified/$CG/host$k/daemon/cgroup.procs" 2>/dev/null || true
        # cpuacct: the bench charges all daemon + conmon + runtime + container CPU to <cpuacct>/dsw
        echo "$BASHPID" >"$CGROOT/cpuacct/$CG/host$k/daemon/cgroup.procs" 2>/dev/null || true
        echo "=== start host$k at $(date '+%H:%M:%S.%N') ==="
        # nsenter and unshare (no --fork) exec in place: the daemon keeps this PID
        exec nsenter --net="/run/netns/ssw-host$k" -- unshare --uts -- \
            sh -c "hostname host$k && exec $SHOAL daemon $flags"
    ) >>"$d/shoal.log" 2>&1 </dev/null &
    echo $! >"$d/launcher.pid"
    wait_ping "$k" 60
}

kill_host() {
    local k=$1 sig=${2:-KILL} p
    p=$(daemon_pid "$k") || {
        log "host$k: no pidfile"
        return 1
    }
    if in_cg "$p" "$k"; then
        kill -s "$sig" "$p"
    else
        log "host$k: pid $p not in our cgroup; not signalling"
        return 1
    fi
}

# PIDs in every cgroup under pids:/dsw, one a line
cg_procs() {
    local base="$CGROOT/pids/$CG"
    [ -d "$base" ] || return 0
    find "$base" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

# 0 if a Docker harness's daemons hold the dsw cgroups
docker_in_cg() {
    local p comm
    for p in $(cg_procs); do
        comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
        case "$comm" in dockerd | containerd | containerd-shim*) return 0 ;; esac
    done
    return 1
}

cmd_up() {
    local n=${1:-3} m=${2:-1} k t0
    t0=$EPOCHREALTIME
    [ "$(id -u)" -eq 0 ] || {
        log "needs root"
        return 1
    }
    [ -x "$SHOAL" ] || {
        log "no shoal binary at $SHOAL (make build/shoal)"
        return 1
    }
    if [ -d "$DSW" ] && ls "$DSW"/host*.sock >/dev/null 2>&1; then
        log "$DSW already has hosts; run '$0 down' first"
        return 1
    fi
    if [ -n "$(cg_procs)" ]; then
        log "processes run in $CGROOT/pids/$CG (a Docker harness cluster?); take it down first"
        return 1
    fi
    mkdir -p "$DSW/docker-config"
    echo "$n" >"$DSW/nhosts"
    log "network: $n namespaces on bridge $BR (netns $SWNS), $SUBNET.0/24"
    net_setup "$n"
    # shellcheck source=../tests/integration/lib_image.sh
    source "$ROOT/tests/integration/lib_image.sh"
    make_busybox_tar "$DSW/image.tar" "$IMAGE" >/dev/null
    for ((k = 1; k <= n; k++)); do
        log "starting shoal host$k"
        start_host "$k"
    done
    log "docker load of $IMAGE on every host (same image ID)"
    for ((k = 1; k <= n; k++)); do dk "$k" load -q -i "$DSW/image.tar" >/dev/null; done
    log "swarm init on host1"
    dk 1 swarm init --advertise-addr "$SUBNET.1" --listen-addr "$SUBNET.1:2377" >/dev/null
    local wt mt
    wt=$(dk 1 swarm join-token -q worker)
    mt=$(dk 1 swarm join-token -q manager)
    for ((k = 2; k <= n; k++)); do
        local tok=$wt role=worker
        if ((k <= m)); then tok=$mt role=manager; fi
        log "host$k joins as $role"
        dk "$k" swarm join --token "$tok" --advertise-addr "$SUBNET.$k" \
            --listen-addr "$SUBNET.$k:2377" "$SUBNET.1:2377" >/dev/null
    done
    local i ready=0
    for ((i = 0; i < 300; i++)); do
        ready=$(dk 1 node ls --format '{{.Status}}' | grep -c '^Ready$' || true)
        ((ready == n)) && break
        sleep 0.2
    done
    dk 1 node ls >&2
    if ((ready != n)); then
        log "only $ready of $n nodes Ready after 60 s"
        return 1
    fi
    log "cluster up in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')s"
}

# SIGKILL every process in pids:/dsw and in our namespaces, until none is left
kill_all() {
    local i p left ns
    for ((i = 0; i < 50; i++)); do
        left=0
        for p in $(cg_procs); do
            kill -9 "$p" 2>/dev/null && left=1
        done
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^ssw-(sw|host[0-9]+)$' || true); do
            for p in $(ip netns pids "$ns" 2>/dev/null); do
                kill -9 "$p" 2>/dev/null && left=1
            done
        done
        ((left == 0)) && return 0
        sleep 0.1
    done
    log "warning: processes still alive in $CGROOT/pids/$CG or the ssw namespaces"
}

cmd_down() {
    if docker_in_cg; then
        log "a dockerd/containerd runs in $CGROOT/pids/$CG (the Docker harness's cluster): not touching it"
        return 1
    fi
    log "killing every process in cgroups */$CG and namespaces ssw-* (our daemons, etcd, conmon, containers)"
    kill_all
    local c ns
    for c in "$CGROOT"/*/$CG; do
        [ -d "$c" ] || continue
        find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^ssw-host[0-9]+$' || true); do
        ip netns del "$ns" || true
    done
    [ -e /run/netns/$SWNS ] && { ip netns del $SWNS || true; }
    if [ -d "$DSW" ]; then
        # the containers' overlay mounts (root mount namespace), deepest first
        if grep -q " $DSW/" /proc/self/mountinfo; then
            grep " $DSW/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l || true
        fi
        rm -rf "$DSW"
    fi
    log "down done"
}

cmd_status() {
    local n k
    n=$(cat "$DSW/nhosts" 2>/dev/null || echo 0)
    for ((k = 1; k <= n; k++)); do
        printf 'host%s pid=%s ping=%s\n' "$k" "$(daemon_pid "$k" || echo -)" "$(ping_ok "$k" && echo ok || echo down)"
    done
    for ((k = 1; k <= n; k++)); do
        dk "$k" node ls 2>/dev/null && break
    done
}

case "${1:-}" in
up)
    shift
    cmd_up "$@"
    ;;
down) cmd_down ;;
start) start_host "$2" ;;
kill) kill_host "$2" "${3:-KILL}" ;;
sock) sock "$2" ;;
status) cmd_status ;;
*)
    sed -n '7,14p' "$0"
    exit 1
    ;;
esac
