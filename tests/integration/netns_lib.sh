# tests/integration/netns_lib.sh — multi-host harness for integration tests (sourced, not run).
#
# Each "host" is a network namespace with one shoal daemon; the hosts are wired through a bridge
# that lives in a dedicated "switch" namespace, so nothing is created in the root namespace:
#
#     <prefix>sw:  br0 ── h1 ── h2 ── ... ── hN      (veth ends, bridge ports, no addresses)
#     <prefix>hI:  lo (up), eth0 = 10.A.B.I/24       (the other end of veth hI)
#
# A and B are random per run (A in 100..250), so NH_SUBNET is 10.A.B.0/24. Hosts have no default
# route: a packet for any address outside the subnet fails at once (ENETUNREACH) and nothing
# ever leaves the namespaces this run created. IPv6 is switched off on the veths and the bridge
# (lo keeps ::1), so the only traffic between hosts is IPv4 inside NH_SUBNET.
#
# API (every function returns non-zero with a message on stderr when it fails, so under
# `set -e` a failure ends the test; nh_setup/nh_start exit 77 when the machine cannot run it):
#   nh_setup N              create N hosts; sets NH_N, NH_PREFIX, NH_SUBNET, NH_ROOT and, for
#                           i in 1..N, NH_NS[i] NH_IP[i] NH_DIR[i] NH_SOCK[i] NH_LOG[i]; installs
#                           `trap nh_cleanup EXIT` (a test that needs its own EXIT trap must call
#                           nh_cleanup from it).
#   nh_start i [FLAGS...]   start `shoal daemon` in host i (nsenter --net) with data root
#                           NH_DIR[i]/root, socket NH_SOCK[i], pidfile NH_DIR[i]/pid, log appended
#                           to NH_LOG[i] = NH_DIR[i]/log, etcd on the default ports 2479/2480 (each
#                           netns has its own loopback); waits (NH_START_TIMEOUT, 10 s) for GET
#                           /_ping; sets NH_PID[i].
#   nh_stop i               SIGTERM, wait up to NH_STOP_TIMEOUT (10 s), then SIGKILL the daemon
#                           and its etcd children. Returns 1 if it needed SIGKILL, the daemon
#                           exited non-zero (NH_EXIT[i] holds the status) or a child outlived it.
#   nh_kill i [--daemon-only]
#                           SIGKILL: by default the daemon and its children (a host crash); with
#                           --daemon-only just the daemon (its etcd is orphaned, as after a real
#                           daemon crash; nh_cleanup still reaps it).
#   nh_alive i              0 if host i's daemon runs.
#   nh_children i           PIDs of the daemon's children (its etcd), one a line; also
#                           remembered for nh_cleanup.
#   nh_docker i ARGS...     the docker CLI (NH_DOCKER) against host i, bounded by NH_CMD_TIMEOUT.
#   nh_curl i ARGS...       curl -sS --unix-socket NH_SOCK[i] ARGS (give URLs as http://x/PATH).
#   nh_exec i CMD...        run CMD inside host i's network namespace (nsenter --net).
#   nh_ping i j             0 if host i gets an ICMP echo reply from host j's address (1 s).
#   nh_partition i [j...]   drop, in host i's namespace, all traffic to/from the bridge subnet
#                           (and everything on eth0) except loopback; with j... given, only the
#                           traffic to/from those hosts' addresses. Replaces an earlier partition
#                           of host i. One nftables table per host: inet NH_NFT_TABLE.
#   nh_heal i               remove host i's partition table (no-op if none).
#   nh_wait_for [-v] SECONDS WHAT CMD...
#                           poll CMD until it succeeds; past the deadline, fail the test with
#                           "WHAT: not within SECONDS s (CMD's last output)" (see below).
#   nh_fail_logs HOLD MSG...
#                           a test's fail() that shows every host's log tail (see below).
#   nh_keep_logs DIR [FILE...]
#                           for a test's EXIT trap after a failure: copy the hosts' logs (and
#                           FILEs) to DIR before nh_cleanup removes NH_ROOT (see below).
#   nh_cleanup              stop every daemon this run started, kill their children and any
#                           process left inside this run's namespaces (all by PID), delete this
#                           run's namespaces (the veths and bridge go with them) and NH_ROOT.
#                           Then it runs the functions in NH_CLEANUP_HOOKS (e.g. lib_exec.sh's,
#                           which ends the task containers that outlive their daemons), before
#                           NH_ROOT goes. Idempotent; keeps the caller's exit status and `set -e`.
#
# Invariants: only namespaces listed in NH_CREATED_NS (created by this run, names starting with
# NH_PREFIX) are deleted; only PIDs this run started, their children, and processes inside this
# run's namespaces are signalled, each checked to be in one of this run's namespaces right before
# it is signalled (so a recycled PID is never hit); nothing is ever killed by name.
# Runs in the test's bash process (single-threaded shell); call nh_* from the main shell, not
# from a subshell or $(...), since they record state in global arrays.

NH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NH_SHOAL=${SHOAL_BIN:-$NH_TOP/build/shoal}
# The newest docker CLI installed: 28.x at /usr/local/bin (development machines), else Debian's.
if [ -z "${NH_DOCKER:-}" ]; then
    NH_DOCKER=${DOCKER28:-/usr/local/bin/docker}
    [ -x "$NH_DOCKER" ] || NH_DOCKER=${DOCKER20:-/usr/bin/docker}
fi
NH_ETCD=${ETCD_BIN:-/usr/bin/etcd}
NH_START_TIMEOUT=${NH_START_TIMEOUT:-10}
NH_STOP_TIMEOUT=${NH_STOP_TIMEOUT:-10}
NH_CMD_TIMEOUT=${NH_CMD_TIMEOUT:-20}

NH_N=0
NH_PREFIX=""
NH_SUBNET=""
NH_ROOT=""
NH_SWITCH=""
NH_NFT_TABLE=""
NH_NS=()
NH_IP=()
NH_DIR=()
NH_SOCK=()
NH_LOG=()
NH_PID=()
NH_EXIT=()
NH_CREATED_NS=() # namespaces this run created, in creation order
NH_NS_IDS=()     # "net:[inode]" of each, to recognise processes inside them
NH_ALL_PIDS=()   # every daemon PID this run started
NH_CHILD_PIDS=() # every child of those daemons seen so far
NH_WRAPPERS=()   # the subshells that wait for the daemons and record their exit status
NH_KIDS=()
NH_CLEANUP_HOOKS=() # functions nh_cleanup runs once the daemons are gone, before NH_ROOT goes

_nh_err()
{
    echo "nh: $*" >&2
}

# A test that cannot run here skips (exit 77), or fails when CI is set: a green CI run must
# mean the multi-host tests ran.
_nh_skip()
{
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI is set: a test that cannot run fails the run)"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

# _nh_host i: checks that i names a host of this run.
_nh_host()
{
    if ! [[ "${1:-}" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt "$NH_N" ]; then
        _nh_err "no host '${1:-}' (hosts are 1..$NH_N)"
        return 1
    fi
}

# _nh_ours PID: 0 if the process runs inside one of this run's namespaces.
_nh_ours()
{
    local ns id
    ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
    for id in "${NH_NS_IDS[@]}"; do
        [ "$ns" = "$id" ] && return 0
    done
    return 1
}

# _nh_running PID: 0 if the process exists and is not a zombie.
_nh_running()
{
    local st
    st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# _nh_signal SIG PID...: signal each PID that is still ours.
_nh_signal()
{
    local sig=$1 p
    shift
    for p in "$@"; do
        if _nh_ours "$p"; then
            kill "-$sig" "$p" 2>/dev/null || true
        fi
    done
}

# _nh_wait_gone SECONDS PID...: wait until none of the PIDs runs; 1 on time-out.
_nh_wait_gone()
{
    local secs=$1 n p alive
    shift
    for ((n = 0; n < secs * 20; n++)); do
        alive=0
        for p in "$@"; do
            if _nh_running "$p" && _nh_ours "$p"; then
                alive=1
                break
            fi
        done
        [ $alive -eq 0 ] && return 0
        sleep 0.05
    done
    return 1
}

_nh_remember_child()
{
    local c
    for c in "${NH_CHILD_PIDS[@]}"; do
        [ "$c" = "$1" ] && return 0
    done
    NH_CHILD_PIDS+=("$1")
}

# _nh_kids i: sets NH_KIDS to the PIDs of host i's daemon's children and remembers them for
# nh_cleanup (no subshell, so the memory sticks).
_nh_kids()
{
    NH_KIDS=()
    local pid=${NH_PID[$1]:-} c
    [ -n "$pid" ] || return 0
    for c in $(pgrep -P "$pid" 2>/dev/null); do
        if _nh_ours "$c"; then
            _nh_remember_child "$c"
            NH_KIDS+=("$c")
        fi
    done
}

nh_children()
{
    _nh_host "${1:-}" || return 1
    _nh_kids "$1"
    [ ${#NH_KIDS[@]} -eq 0 ] || printf '%s\n' "${NH_KIDS[@]}"
}

_nh_log_tail()
{
    local f=${NH_LOG[$1]:-}
    if [ -n "$f" ] && [ -f "$f" ]; then
        echo "  --- last lines of host $1's log ($f) ---" >&2
        tail -n ${NH_LOG_LINES:-20} "$f" | sed 's/^/  | /' >&2
    fi
}

# --- setup ---------------------------------------------------------------------------------

# _nh_ns_add NAME: create a namespace and record it (for cleanup and process recognition).
_nh_ns_add()
{
    ip netns add "$1" || return 1
    NH_CREATED_NS+=("$1")
    local id
    id=$(stat -L -c %i "/run/netns/$1") || return 1
    NH_NS_IDS+=("net:[$id]")
}

# _nh_no_ipv6 NS IFACE: switch IPv6 off on one interface (best effort: IPv6 may be absent).
_nh_no_ipv6()
{
    nsenter --net="/run/netns/$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" \
        >/dev/null 2>&1 || true
}

nh_setup()
{
    local n=${1:-}
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 200 ]; then
        _nh_err "nh_setup: want a host count in 1..200, got '$n'"
        return 1
    fi
    if [ -n "$NH_PREFIX" ]; then
        _nh_err "nh_setup: already set up (prefix $NH_PREFIX)"
        return 1
    fi
    [ "$(id -u)" -eq 0 ] || _nh_skip "netns harness needs root"
    local tool
    for tool in ip nsenter nft curl pgrep timeout sysctl stat awk; do
        command -v "$tool" >/dev/null 2>&1 || _nh_skip "netns harness needs $tool"
    done
    ip netns list >/dev/null 2>&1 || _nh_skip "'ip netns' is not available"
    [ -x "$NH_SHOAL" ] || _nh_skip "shoal binary not built: $NH_SHOAL"
    [ -x "$NH_ETCD" ] || _nh_skip "etcd not installed at $NH_ETCD"
    [ -x "$NH_DOCKER" ] || _nh_skip "docker CLI not installed at $NH_DOCKER"

    NH_PREFIX="sh-$$-$(printf '%04x' $((RANDOM)))-"
    NH_NFT_TABLE="${NH_PREFIX//-/_}part"
    local a=$((100 + RANDOM % 151)) b=$((RANDOM % 256))
    NH_SUBNET="10.$a.$b.0/24"
    # From here on everything created is undone by nh_cleanup, even if setup fails midway.
    trap nh_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    NH_ROOT=$(mktemp -d /tmp/shoal-nh.XXXXXX) || return 1
    mkdir -p "$NH_ROOT/docker-config"

    NH_SWITCH="${NH_PREFIX}sw"
    if ! _nh_ns_add "$NH_SWITCH" 2>"$NH_ROOT/err"; then
        _nh_skip "cannot create a network namespace: $(cat "$NH_ROOT/err")"
    fi
    if ! ip -n "$NH_SWITCH" link add br0 type bridge 2>"$NH_ROOT/err"; then
        _nh_skip "cannot create a bridge: $(cat "$NH_ROOT/err")"
    fi
    _nh_no_ipv6 "$NH_SWITCH" br0
    ip -n "$NH_SWITCH" link set br0 up || return 1
    ip -n "$NH_SWITCH" link set lo up || return 1

    local i ns
    for ((i = 1; i <= n; i++)); do
        ns="${NH_PREFIX}h$i"
        _nh_ns_add "$ns" || return 1
        NH_NS[i]=$ns
        NH_IP[i]="10.$a.$b.$i"
        NH_DIR[i]="$NH_ROOT/h$i"
        NH_SOCK[i]="$NH_ROOT/h$i/sock"
        NH_LOG[i]="$NH_ROOT/h$i/log"
        NH_PID[i]=""
        NH_EXIT[i]=""
        mkdir -p "${NH_DIR[i]}"
        NH_N=$i
        # Both ends are created inside our namespaces: no interface ever exists in the root one.
        ip -n "$NH_SWITCH" link add "h$i" type veth peer name eth0 netns "$ns" || return 1
        _nh_no_ipv6 "$NH_SWITCH" "h$i"
        _nh_no_ipv6 "$ns" eth0
        ip -n "$NH_SWITCH" link set "h$i" master br0 up || return 1
        ip -n "$ns" link set lo up || return 1
        ip -n "$ns" addr add "${NH_IP[i]}/24" dev eth0 || return 1
        ip -n "$ns" link set eth0 up || return 1
    done
}

# --- daemons -------------------------------------------------------------------------------

nh_alive()
{
    _nh_host "$1" || return 1
    local pid=${NH_PID[$1]:-}
    [ -n "$pid" ] && _nh_running "$pid"
}

nh_start()
{
    _nh_host "${1:-}" || return 1
    local i=$1
    shift
    if nh_alive "$i"; then
        _nh_err "nh_start $i: daemon ${NH_PID[i]} is already running"
        return 1
    fi
    local d=${NH_DIR[i]} n
    rm -f "${NH_SOCK[i]}" "$d/nh.pid" "$d/nh.exit"
    echo "=== nh_start $i at $(date '+%H:%M:%S.%N'): $* ===" >>"${NH_LOG[i]}"
    # A wrapper subshell starts the daemon, waits for it and writes its exit status to
    # nh.exit: the daemon is not a job of the test's shell, so a daemon killed by a signal
    # gives no "Killed" job notice in the test's output, and the status is known however the
    # daemon ended. nsenter with only --net does setns() and execs: $! in the wrapper is the
    # daemon itself. (Subshells do not inherit the EXIT trap.)
    (
        set +e
        nsenter --net="/run/netns/${NH_NS[i]}" -- "$NH_SHOAL" daemon \
            --data-root "$d/root" -H "unix://${NH_SOCK[i]}" \
            --etcd-client-port 2479 --etcd-peer-port 2480 --pidfile "$d/pid" \
            "$@" >>"${NH_LOG[i]}" 2>&1 </dev/null &
        echo $! >"$d/nh.pid.tmp" && mv "$d/nh.pid.tmp" "$d/nh.pid"
        wait $!
        echo $? >"$d/nh.exit.tmp" && mv "$d/nh.exit.tmp" "$d/nh.exit"
    ) >>"${NH_LOG[i]}" 2>&1 </dev/null &
    NH_WRAPPERS+=("$!")
    NH_EXIT[i]=""
    NH_PID[i]=""
    n=0
    while [ ! -s "$d/nh.pid" ] && [ $((n += 1)) -le 200 ]; do
        sleep 0.01
    done
    if [ ! -s "$d/nh.pid" ]; then
        _nh_err "nh_start $i: the daemon was not spawned"
        return 1
    fi
    NH_PID[i]=$(cat "$d/nh.pid")
    NH_ALL_PIDS+=("${NH_PID[i]}")
    for ((n = 0; n < NH_START_TIMEOUT * 10; n++)); do
        if ! _nh_running "${NH_PID[i]}"; then
            _nh_reap "$i"
            _nh_err "nh_start $i: daemon exited during start-up (status ${NH_EXIT[i]})"
            _nh_log_tail "$i"
            return 1
        fi
        if [ -S "${NH_SOCK[i]}" ] && curl -s --max-time 2 --unix-socket "${NH_SOCK[i]}" \
            -o /dev/null http://x/_ping 2>/dev/null; then
            _nh_kids "$i"
            return 0
        fi
        sleep 0.1
    done
    _nh_err "nh_start $i: daemon ${NH_PID[i]} did not answer /_ping within $NH_START_TIMEOUT s"
    _nh_log_tail "$i"
    return 1
}

# _nh_reap i: host i's daemon has ended: NH_EXIT[i] = its exit status as its wrapper saw it
# (128+N for signal N; "?" if the wrapper did not report within 2 s); NH_PID[i] = "".
_nh_reap()
{
    local f="${NH_DIR[$1]}/nh.exit" n
    n=0
    while [ ! -s "$f" ] && [ $((n += 1)) -le 200 ]; do
        sleep 0.01
    done
    NH_EXIT[$1]=$(cat "$f" 2>/dev/null || echo "?")
    NH_PID[$1]=""
}

nh_stop()
{
    _nh_host "${1:-}" || return 1
    local i=$1 pid=${NH_PID[$1]:-} kids ok=0 how="after SIGTERM"
    [ -n "$pid" ] || return 0
    # Children first (they are reparented once the daemon is gone).
    _nh_kids "$i"
    kids=("${NH_KIDS[@]}")
    if _nh_running "$pid"; then
        _nh_signal TERM "$pid"
    else
        how="before nh_stop (it died on its own)"
    fi
    if ! _nh_wait_gone "$NH_STOP_TIMEOUT" "$pid"; then
        _nh_err "nh_stop $i: daemon $pid still running $NH_STOP_TIMEOUT s after SIGTERM; SIGKILL"
        _nh_log_tail "$i"
        _nh_signal KILL "$pid"
        _nh_wait_gone 5 "$pid" || true
        ok=1
    fi
    _nh_reap "$i"
    if [ "${NH_EXIT[i]}" != 0 ] && [ $ok -eq 0 ]; then
        _nh_err "nh_stop $i: daemon $pid exited with status ${NH_EXIT[i]} $how"
        _nh_log_tail "$i"
        ok=1
    fi
    if [ ${#kids[@]} -gt 0 ]; then
        # The daemon stops its etcd before it exits; give a straggler a moment, then kill it.
        if ! _nh_wait_gone 2 "${kids[@]}"; then
            _nh_err "nh_stop $i: child(ren) ${kids[*]} outlived daemon $pid; SIGKILL"
            _nh_signal KILL "${kids[@]}"
            _nh_wait_gone 5 "${kids[@]}" || true
            ok=1
        fi
    fi
    return $ok
}

# nh_stop_child VAR: stops the background child whose PID is in the variable named VAR (a
# process this shell started with &, e.g. `shoal hollow`): SIGTERM, up to 10 s, then SIGKILL.
# Returns the child's exit status (1 after a SIGKILL; 0 when VAR is empty or the child is gone
# already) and empties VAR.
nh_stop_child()
{
    local -n _nh_cpid=$1
    local n rc=0
    if [ -z "$_nh_cpid" ] || ! kill -0 "$_nh_cpid" 2>/dev/null; then
        _nh_cpid=""
        return 0
    fi
    kill -TERM "$_nh_cpid"
    for ((n = 0; n < 100; n++)); do
        kill -0 "$_nh_cpid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$_nh_cpid" 2>/dev/null; then
        kill -KILL "$_nh_cpid"
        wait "$_nh_cpid" 2>/dev/null || true
        _nh_cpid=""
        return 1
    fi
    wait "$_nh_cpid" || rc=$?
    _nh_cpid=""
    return $rc
}

nh_kill()
{
    _nh_host "${1:-}" || return 1
    local i=$1 pid=${NH_PID[$1]:-} kids=()
    [ -n "$pid" ] || return 0
    _nh_kids "$i" # remembered for nh_cleanup in any case
    [ "${2:-}" = --daemon-only ] || kids=("${NH_KIDS[@]}")
    _nh_signal KILL "$pid" "${kids[@]}"
    if ! _nh_wait_gone 5 "$pid" "${kids[@]}"; then
        _nh_err "nh_kill $i: $pid ${kids[*]} still running 5 s after SIGKILL"
        return 1
    fi
    _nh_reap "$i"
    return 0
}

# --- waiting and failing ------------------------------------------------------------------

# nh_wait_for [-v] SECONDS WHAT CMD...: runs CMD (a command or a function, in this shell, so
# that it may set variables or end the test) every 0.1 s until it succeeds, and returns 0 then.
# CMD runs with WHY=1 in its environment (a condition may then print why it does not hold yet)
# and its output goes to NH_ROOT/wait_for.out (with -v: to the test's own stdout and stderr, for
# a condition that calls fail() itself). Once SECONDS have passed (counted in whole seconds by
# $SECONDS, as every test's own copy did) with CMD still failing, fails the test: "WHAT: not
# within SECONDS s", followed by "(...)" with the last lines CMD printed, if any, through the
# test's fail() (or, where the test has none, FAIL: on stderr and exit 1).
nh_wait_for()
{
    local show=0
    if [ "${1:-}" = -v ]; then
        show=1
        shift
    fi
    local limit=$1 what=$2 t0=$SECONDS out=/dev/null why=""
    shift 2
    [ -z "$NH_ROOT" ] || out=$NH_ROOT/wait_for.out
    while :; do
        if [ $show -eq 1 ]; then
            WHY=1 "$@" && return 0
        else
            WHY=1 "$@" >"$out" 2>&1 && return 0
        fi
        [ $((SECONDS - t0)) -lt "$limit" ] || break
        sleep 0.1
    done
    [ $show -eq 1 ] || [ ! -s "$out" ] || why=" ($(tail -n 10 "$out"))"
    if declare -F fail >/dev/null; then
        fail "$what: not within $limit s$why"
    fi
    echo "FAIL: $what: not within $limit s$why" >&2
    exit 1
}

# nh_fail_logs HOLD MSG...: for a test's fail(): "FAIL: MSG" on stderr, then the last lines of
# every host's log; then, when HOLD is not empty, a pause of HOLD seconds (the hosts still up,
# for a look), and exit 1.
nh_fail_logs()
{
    local hold=$1 i
    shift
    echo "FAIL: $*" >&2
    for ((i = 1; i <= NH_N; i++)); do
        _nh_log_tail "$i"
    done
    [ -z "$hold" ] || sleep "$hold"
    exit 1
}

# nh_keep_logs DIR [FILE...]: empties DIR, copies into it each host's daemon log (hI.log) and
# etcd log (hI.etcd.log, where there is one) and the FILEs, and says so on stderr. For a test's
# own EXIT trap, before nh_cleanup (which removes NH_ROOT); does nothing once NH_ROOT is gone.
# A file that cannot be copied is passed over.
nh_keep_logs()
{
    local keep=$1 i f
    shift
    [ -n "$NH_ROOT" ] && [ -d "$NH_ROOT" ] || return 0
    rm -rf "$keep" && mkdir -p "$keep" || return 0
    for ((i = 1; i <= NH_N; i++)); do
        cp "${NH_LOG[i]}" "$keep/h$i.log" 2>/dev/null || true
        f=${NH_DIR[i]}/root/swarm/etcd.log
        [ ! -e "$f" ] || cp "$f" "$keep/h$i.etcd.log" 2>/dev/null || true
    done
    for f in "$@"; do
        cp "$f" "$keep/" 2>/dev/null || true
    done
    echo "# logs kept in $keep" >&2
}

# --- clients -------------------------------------------------------------------------------

nh_docker()
{
    _nh_host "${1:-}" || return 1
    local i=$1
    shift
    DOCKER_HOST="unix://${NH_SOCK[i]}" DOCKER_CONFIG="$NH_ROOT/docker-config" \
        DOCKER_CLI_HINTS=false timeout -k 5 "$NH_CMD_TIMEOUT" "$NH_DOCKER" "$@"
}

nh_curl()
{
    _nh_host "${1:-}" || return 1
    local i=$1
    shift
    curl -sS --max-time "$NH_CMD_TIMEOUT" --unix-socket "${NH_SOCK[i]}" "$@"
}

nh_exec()
{
    _nh_host "${1:-}" || return 1
    local i=$1
    shift
    nsenter --net="/run/netns/${NH_NS[i]}" -- "$@"
}

# nh_ping i j: one ICMP echo from host i to host j's address, 1 s to answer. Uses ping(8)
# (iputils-ping) if installed, else a raw ICMP socket from python3 (NH_PING=python forces it).
nh_ping()
{
    _nh_host "${1:-}" || return 1
    _nh_host "${2:-}" || return 1
    local dst=${NH_IP[$2]}
    if [ "${NH_PING:-}" != python ] && command -v ping >/dev/null 2>&1; then
        nh_exec "$1" ping -n -q -c 1 -W 1 "$dst" >/dev/null 2>&1
        return
    fi
    nh_exec "$1" python3 - "$dst" <<'EOF'
import os, select, socket, struct, sys, time
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF
dst = sys.argv[1]
ident = os.getpid() & 0xFFFF
payload = b"shoal-nh-ping"
hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, 1) + payload
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(pkt, (dst, 0))
end = time.monotonic() + 1.0
while True:
    left = end - time.monotonic()
    if left <= 0 or not select.select([s], [], [], left)[0]:
        sys.exit(1)
    data, addr = s.recvfrom(2048)
    ihl = (data[0] & 0x0F) * 4
    typ, _, _, rid, seq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
    if addr[0] == dst and typ == 0 and rid == ident and seq == 1:
        sys.exit(0)
EOF
}

# --- partitions ----------------------------------------------------------------------------

nh_partition()
{
    _nh_host "${1:-}" || return 1
    local i=$1 j set="" sep=""
    shift
    for j in "$@"; do
        _nh_host "$j" || return 1
        set+="$sep${NH_IP[j]}"
        sep=", "
    done
    local t=$NH_NFT_TABLE rin rout
    if [ -n "$set" ]; then
        rin="ip saddr { $set } drop"
        rout="ip daddr { $set } drop"
    else
        rin="ip saddr $NH_SUBNET drop; iifname \"eth0\" drop"
        rout="ip daddr $NH_SUBNET drop; oifname \"eth0\" drop"
    fi
    # One nft transaction: replace any earlier partition of this host atomically.
    nh_exec "$i" nft -f - <<EOF
table inet $t
delete table inet $t
table inet $t {
    chain input {
        type filter hook input priority filter - 10; policy accept;
        iifname "lo" accept
        $rin
    }
    chain output {
        type filter hook output priority filter - 10; policy accept;
        oifname "lo" accept
        $rout
    }
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        $rin
        $rout
    }
}
EOF
}

nh_heal()
{
    _nh_host "${1:-}" || return 1
    if nh_exec "$1" nft list table inet "$NH_NFT_TABLE" >/dev/null 2>&1; then
        nh_exec "$1" nft delete table inet "$NH_NFT_TABLE"
    fi
}

# --- cleanup -------------------------------------------------------------------------------

nh_cleanup()
{
    local rc=$? flags=$-
    set +e
    local i p procs=() ns
    # Note every daemon's children before any daemon goes (afterwards they are reparented).
    for ((i = 1; i <= NH_N; i++)); do
        _nh_kids "$i"
    done
    local daemons=()
    for p in "${NH_ALL_PIDS[@]}"; do
        _nh_running "$p" && _nh_ours "$p" && daemons+=("$p")
    done
    if [ ${#daemons[@]} -gt 0 ]; then
        _nh_signal TERM "${daemons[@]}"
        _nh_wait_gone 5 "${daemons[@]}" || _nh_signal KILL "${daemons[@]}"
    fi
    # Children (etcd), then whatever else still runs inside our namespaces (e.g. an etcd
    # orphaned by a daemon that died before we saw its child): all ours by construction.
    procs=("${NH_CHILD_PIDS[@]}")
    for ns in "${NH_CREATED_NS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            procs+=("$p")
        done
    done
    if [ ${#procs[@]} -gt 0 ]; then
        _nh_signal KILL "${procs[@]}"
        _nh_wait_gone 5 "${procs[@]}"
    fi
    for p in "${NH_WRAPPERS[@]}"; do
        wait "$p" 2>/dev/null
    done
    local h
    for h in "${NH_CLEANUP_HOOKS[@]}"; do
        "$h"
    done
    # Hosts first (their veth ends go with them, and with them the bridge ports), then the switch.
    for ((i = ${#NH_CREATED_NS[@]} - 1; i >= 0; i--)); do
        ns=${NH_CREATED_NS[i]}
        if [ -e "/run/netns/$ns" ]; then
            ip netns del "$ns" 2>/dev/null || _nh_err "nh_cleanup: could not delete netns $ns"
        fi
    done
    if [ -n "$NH_ROOT" ] && [[ "$NH_ROOT" == /tmp/shoal-nh.* ]] && [ -d "$NH_ROOT" ]; then
        rm -rf -- "$NH_ROOT"
    fi
    NH_CREATED_NS=()
    NH_ALL_PIDS=()
    NH_CHILD_PIDS=()
    NH_WRAPPERS=()
    NH_NS_IDS=()
    NH_PID=()
    NH_ROOT=""
    NH_CLEANUP_HOOKS=()
    # NH_PREFIX, NH_N and the per-host arrays stay, so a test can still check that nothing
    # with NH_PREFIX is left.
    [[ "$flags" == *e* ]] && set -e
    return $rc
}
