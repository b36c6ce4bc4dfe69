# tests/integration/lib_exec.sh — tests that run real task containers (sourced after lib.sh,
# after it_init).
#
# exec_init: picks this test's cgroup parent (/shoal-it-<pid>: pass "${EXEC_ARGS[@]}" to
# start_daemon so task containers land there) and registers a cleanup hook. Task containers
# outlive their daemon by design (live restore), so the hook, run by the trap once the daemons
# are gone, ends them: it kills only the conmon and container PIDs whose pid files lie under
# $T (checked by /proc comm or cgroup, so a recycled PID is never hit), unmounts every mount
# under $T, and removes this test's cgroups. It never kills by name.

# shellcheck shell=bash disable=SC2034
EXEC_CG=""
EXEC_ARGS=()

exec_init()
{
    command -v conmon >/dev/null || need_tool "conmon not installed"
    command -v crun >/dev/null || command -v runc >/dev/null || need_tool "no OCI runtime (crun or runc)"
    [ -x /bin/busybox ] || need_tool "busybox-static not installed (/bin/busybox)"
    EXEC_CG="/shoal-it-$$"
    EXEC_ARGS=(--cgroup-parent "$EXEC_CG")
    IT_CLEANUP_HOOKS+=(exec_cleanup)
}

# _exec_kill_pidfile FILE: SIGKILL the PID in FILE if it is still ours: a conmon (by comm) or a
# process in one of this test's cgroups.
_exec_kill_pidfile()
{
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || return 0
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = conmon ] ||
        grep -qF -- ":$EXEC_CG/" "/proc/$pid/cgroup" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

exec_cleanup()
{
    [ -n "$T" ] && [ -d "$T" ] || return 0
    local f
    while IFS= read -r f; do
        _exec_kill_pidfile "$f"
    done < <(find "$T" -name ctr.pid -o -name conmon.pid 2>/dev/null)
    # the container processes left in our cgroups (a container's children)
    local procs p
    for procs in /sys/fs/cgroup/*"$EXEC_CG"/*/cgroup.procs; do
        [ -r "$procs" ] || continue
        for p in $(cat "$procs"); do kill -KILL "$p" 2>/dev/null || true; done
    done
    local m
    for _ in 1 2 3; do
        while IFS= read -r m; do
            umount -l "$m" 2>/dev/null || true
        done < <(awk -v t="$T" 'index($2, t) == 1 {print $2}' /proc/self/mounts | sort -r)
    done
    local d
    for _ in $(seq 1 50); do
        local left=0
        for d in /sys/fs/cgroup/*"$EXEC_CG" /sys/fs/cgroup/*/"${EXEC_CG#/}"; do
            [ -d "$d" ] || continue
            find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
            rmdir "$d" 2>/dev/null || left=1
        done
        [ $left -eq 0 ] && break
        sleep 0.1
    done
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
