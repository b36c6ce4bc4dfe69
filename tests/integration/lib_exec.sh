# tests/integration/lib_exec.sh — tests that run real task containers (sourced, not run).
#
# Single daemon (after lib.sh's it_init): exec_init picks this test's cgroup parent
# (/shoal-it-<pid>: pass "${EXEC_ARGS[@]}" to start_daemon so task containers land there) and
# registers exec_cleanup as a cleanup hook.
# Multi-host (after netns_lib.sh's nh_setup): exec_nh_init sets, for each host i, the cgroup
# parent EXEC_NH_CG[i] = /shoal-it-<pid>-h<i> (pass --cgroup-parent "${EXEC_NH_CG[i]}" to
# nh_start) and registers exec_nh_cleanup as an nh_cleanup hook.
#
# Task containers outlive their daemon by design (live restore), so the hooks, run once the
# daemons are gone, end them: exec_end_under ROOT CG... kills only the conmon and container
# PIDs whose pid files lie under ROOT (each checked right before the signal by /proc comm or by
# membership of one of the CG cgroups, so a recycled PID is never hit), then whatever is left in
# those cgroups, unmounts every mount under ROOT, and removes the cgroups. It never kills by name.

# running_tasks / wait_running: a service's running tasks, waited for with a deadline (needs lib.sh's api).
# svc_test_init: the common start of the one-node services tests (checks, daemon, swarm, image).

# shellcheck shell=bash disable=SC2034
EXEC_CG=""
EXEC_ARGS=()
EXEC_NH_CG=()

_exec_need()
{
    local why=""
    command -v conmon >/dev/null || why="conmon not installed"
    command -v crun >/dev/null || command -v runc >/dev/null || why="no OCI runtime (crun or runc)"
    [ -x /bin/busybox ] || why="busybox-static not installed (/bin/busybox)"
    [ -z "$why" ] || "$1" "$why"
}

exec_init()
{
    _exec_need need_tool
    EXEC_CG="/shoal-it-$$"
    EXEC_ARGS=(--cgroup-parent "$EXEC_CG")
    IT_CLEANUP_HOOKS+=(exec_cleanup)
}

# svc_test_init [--net] [--sysctl KEY=VALUE]... [--seed-image]: the start of a one-node test of
# services on real containers (lib.sh and lib_image.sh are sourced before this file):
#  - it_init (the test re-runs in its own network namespace; temp dir $T; the cleanup trap);
#  - exec_init (conmon, an OCI runtime and /bin/busybox are needed, see need_tool; this test's
#    cgroup parent in EXEC_ARGS; exec_cleanup as a cleanup hook);
#  - with --net, exec_net_need (nsenter, nft, the test's own network namespace);
#  - each --sysctl written to /proc/sys/KEY (dots as slashes) before the daemon starts: only in
#    the test's own network namespace (else the test fails), so only per-namespace keys, e.g.
#    net.ipv4.ip_local_port_range="30000 30999";
#  - start_daemon "${EXEC_ARGS[@]}" and swarm_init (a one-node swarm);
#  - docker load of the busybox test image, busybox:latest ($T/bb.tar), and with --seed-image
#    also of seedbox:latest, the image with the seed files ($T/seed.tar; see lib_image.sh).
svc_test_init()
{
    local net="" seed="" kv key sysctls=()
    while [ $# -gt 0 ]; do
        case $1 in
        --net) net=1 ;;
        --seed-image) seed=1 ;;
        --sysctl)
            [ $# -ge 2 ] || fail "svc_test_init: --sysctl wants KEY=VALUE"
            sysctls+=("$2")
            shift
            ;;
        *) fail "svc_test_init: unknown argument '$1'" ;;
        esac
        shift
    done
    it_init
    exec_init
    [ -z "$net" ] || exec_net_need
    for kv in "${sysctls[@]}"; do
        [ -n "${SHOAL_IT_NETNS:-}" ] ||
            fail "svc_test_init --sysctl $kv: the test has no network namespace of its own"
        key=${kv%%=*}
        echo "${kv#*=}" >"/proc/sys/${key//.//}" || fail "svc_test_init: cannot set $kv"
    done
    start_daemon "${EXEC_ARGS[@]}"
    swarm_init
    make_busybox_tar "$T/bb.tar" >/dev/null || fail "make_busybox_tar: no busybox test image"
    [ -z "$seed" ] || make_busybox_tar "$T/seed.tar" seedbox:latest seed >/dev/null ||
        fail "make_busybox_tar: no seedbox test image"
    dk_ok load -i "$T/bb.tar"
    [ -z "$seed" ] || dk_ok load -i "$T/seed.tar"
}

# exec_net_need: what the single-node networking tests need (nsenter, nft, the test's own
# network namespace from it_init).
exec_net_need()
{
    command -v nsenter >/dev/null || need_tool "nsenter (util-linux)"
    command -v nft >/dev/null || need_tool "nft (nftables)"
    [ -n "${SHOAL_IT_NETNS:-}" ] || need_tool "root and unshare: the test needs its own network namespace"
}

exec_nh_init()
{
    _exec_need _nh_skip
    local i
    for ((i = 1; i <= NH_N; i++)); do
        EXEC_NH_CG[i]="/shoal-it-$$-h$i"
    done
    NH_CLEANUP_HOOKS+=(exec_nh_cleanup)
}

# _exec_ours PID CG...: 0 if PID is a conmon or runs in one of the cgroups CG (or below).
_exec_ours()
{
    local pid=$1 cg
    shift
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = conmon ] && return 0
    for cg in "$@"; do
        grep -qF -- ":$cg/" "/proc/$pid/cgroup" 2>/dev/null && return 0
    done
    return 1
}

# _exec_kill_pidfile FILE CG...: SIGKILL the PID in FILE if it is still ours.
_exec_kill_pidfile()
{
    local f=$1 pid
    shift
    pid=$(cat "$f" 2>/dev/null) || return 0
    [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || return 0
    if _exec_ours "$pid" "$@"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# exec_cg_pids CG: the PIDs in cgroup CG and below (from every hierarchy), one a line.
exec_cg_pids()
{
    local procs
    for procs in /sys/fs/cgroup/*"$1"/*/cgroup.procs /sys/fs/cgroup/*/"${1#/}"/*/cgroup.procs; do
        [ -r "$procs" ] && cat "$procs"
    done | sort -un
}

exec_end_under()
{
    local root=$1 f cg p
    shift
    [ -n "$root" ] && [ -d "$root" ] || return 0
    while IFS= read -r f; do
        _exec_kill_pidfile "$f" "$@"
    done < <(find "$root" \( -name ctr.pid -o -name conmon.pid \) 2>/dev/null)
    # the container processes left in our cgroups (a container's children)
    for cg in "$@"; do
        for p in $(exec_cg_pids "$cg"); do kill -KILL "$p" 2>/dev/null || true; done
    done
    local m
    for _ in 1 2 3; do
        while IFS= read -r m; do
            umount -l "$m" 2>/dev/null || true
        done < <(awk -v t="$root" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r)
    done
    local d left
    for _ in $(seq 1 50); do
        left=0
        for cg in "$@"; do
            for d in /sys/fs/cgroup/*"$cg" /sys/fs/cgroup/*/"${cg#/}"; do
                [ -d "$d" ] || continue
                find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
                rmdir "$d" 2>/dev/null || left=1
            done
        done
        [ $left -eq 0 ] && break
        sleep 0.1
    done
}

exec_cleanup()
{
    exec_end_under "$T" "$EXEC_CG"
}

exec_nh_cleanup()
{
    [ ${#EXEC_NH_CG[@]} -gt 0 ] || return 0
    exec_end_under "$NH_ROOT" "${EXEC_NH_CG[@]}"
}

# exec_running_count: how many task containers of this test have a live process.
exec_running_count()
{
    local n=0 f pid
    while IFS= read -r f; do
        pid=$(cat "$f" 2>/dev/null) || continue
        kill -0 "$pid" 2>/dev/null && n=$((n + 1))
    done < <(find "$DATA_ROOT/exec/containers" -maxdepth 2 -name ctr.pid 2>/dev/null)
    echo $n
}

# running_tasks SERVICE: how many of its tasks run and are desired running (GET /tasks)
running_tasks()
{
    api GET "/v1.41/tasks?filters=$(jq -rn --arg s "$1" '{service:{($s):true}}|@uri')"
    jq '[.[] | select(.Status.State == "running" and .DesiredState == "running")] | length' <<<"$BODY"
}

# wait_running SERVICE N [SECONDS]: until exactly N of its tasks run (default 20 s), else fail
wait_running()
{
    local svc=$1 want=$2 secs=${3:-20} got=""
    for _ in $(seq 1 $((secs * 20))); do
        got=$(running_tasks "$svc")
        [ "$got" = "$want" ] && return 0
        sleep 0.05
    done
    fail "$svc: $want running tasks expected within $secs s, got $got" "$(dk service ps --no-trunc "$svc" 2>&1)"
}
