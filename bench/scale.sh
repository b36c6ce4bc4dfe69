#!/usr/bin/env bash
# bench/scale.sh — one manager under COUNT (default 1000) hollow workers.
#
# Two network-namespace hosts (tests/integration/netns_lib.sh): host 1 runs the manager
# (`swarm init --dispatcher-heartbeat 5s`, the default period), host 2 runs ONE
# `shoal hollow --count COUNT` process: COUNT simulated workers that join over mutual TLS and
# heartbeat the manager every period with their own certificates (src/hollow/); each also runs
# the real agent session (an assignments long poll parked on the manager) with no task. Prints:
#   - time from starting hollow until `docker node ls` shows COUNT Ready workers;
#   - the manager's RSS (daemon and its etcd child apart) and CPU over WINDOW (30) seconds of
#     steady heartbeats, from /proc/PID/stat utime+stime;
#   - the heartbeat rate seen by hollow over the same window, and the manager CPU-seconds per
#     heartbeat: all of its CPU in the window, and that minus its CPU rate before any worker
#     joined (IDLE, 5 s: lease keep-alives, etcd watch, dispatcher tick) times the window;
#   - the hollow process's RSS (per node: added since it started, and total / COUNT) and CPU;
#   - the wall time of `docker node ls` with COUNT+1 nodes;
#   - failed heartbeats and how often the (only) manager lost its leader lease during the run.
# Then SIGTERM stops hollow, which must exit 0 within 10 s (it sends no leave).
#
# Needs root (network namespaces), build/shoal (or $SHOAL_BIN), etcd and the docker CLI. Bounded:
# about 1.5 min for 1000 nodes; every wait has a limit. Traffic stays inside the namespaces this
# script creates; only PIDs it started are signalled.
# Env: SHOAL_BIN, COUNT (1000), WINDOW (30), IDLE (5), NH_DOCKER.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=${COUNT:-1000}
WINDOW=${WINDOW:-30}
IDLE=${IDLE:-5}
export SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoal}
source "$ROOT/tests/integration/netns_lib.sh"
HZ=$(getconf CLK_TCK)

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
die() { echo "bench: $*" >&2; exit 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ready_workers() { nh_docker 1 node ls --format '{{.Status}} {{.ManagerStatus}}' | awk '$1=="Ready" && NF==1' | wc -l; }
# last progress line of hollow: "hollow: t=SECONDS joined J/N, ... heartbeats ok K, failed F, ..."
hollow_line() { grep '^hollow: t=' "$HLOG" | grep -v stopping | tail -n 1; }
field() { sed -E "s/.*$1 ([0-9.]+).*/\\1/"; }

HPID=""
stop_hollow() { nh_stop_child HPID; }

nh_setup 2
trap 'stop_hollow; nh_cleanup' EXIT
ulimit -n "$(ulimit -Hn)"
nh_start 1 --log-level warn
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 5s >/dev/null
WT=$(nh_docker 1 swarm join-token -q worker)
MPID=${NH_PID[1]}
EPID=$(nh_children 1 | head -n 1)
[ -n "$EPID" ] || die "the manager has no etcd child"
sleep 1
# The manager's own background (leader lease, etcd watch, dispatcher tick) before any worker.
i_c0=$(cpu_ticks "$MPID")
i_w0=$(now_us)
sleep "$IDLE"
i_c1=$(cpu_ticks "$MPID")
i_w1=$(now_us)
m_rss0=$(rss_kb "$MPID")
e_rss0=$(rss_kb "$EPID")
echo "# scale: 1 manager, $COUNT hollow workers, heartbeat 5 s; $("$SHOAL_BIN" version); $(nproc) CPUs"

HLOG=$NH_ROOT/hollow.log
t0=$(now_us)
nsenter --net="/run/netns/${NH_NS[2]}" -- "$SHOAL_BIN" hollow --count "$COUNT" --join-token "$WT" \
    --manager "${NH_IP[1]}:2377" --advertise-addr "${NH_IP[2]}" --progress-every 1 \
    --log-level warn >"$HLOG" 2>&1 &
HPID=$!
ready=0
until [ "$ready" -ge "$COUNT" ]; do
    kill -0 "$HPID" 2>/dev/null || { tail -n 5 "$HLOG" >&2; die "hollow exited"; }
    [ $((($(now_us) - t0) / 1000000)) -lt 180 ] || die "only $ready of $COUNT Ready after 180 s"
    sleep 0.25
    ready=$(ready_workers)
done
t_ready=$((($(now_us) - t0) / 1000))

# One more period, so that every identity beats at its slot, then measure.
sleep 6
joined_s=$(grep '^hollow: all ' "$HLOG" | sed -E 's/.* in ([0-9.]+) s/\1/' || true)
echo "all $COUNT workers Ready after $t_ready ms (hollow: all joined after ${joined_s:-?} s)"
line0=$(hollow_line)
m_c0=$(cpu_ticks "$MPID")
e_c0=$(cpu_ticks "$EPID")
h_c0=$(cpu_ticks "$HPID")
w0=$(now_us)
sleep "$WINDOW"
line1=$(hollow_line)
m_c1=$(cpu_ticks "$MPID")
e_c1=$(cpu_ticks "$EPID")
h_c1=$(cpu_ticks "$HPID")
w1=$(now_us)
m_rss=$(rss_kb "$MPID")
e_rss=$(rss_kb "$EPID")
h_rss=$(rss_kb "$HPID")
still=$(ready_workers)
ls_ms=()
for _ in 1 2 3; do
    t=$(now_us)
    nh_docker 1 node ls >/dev/null
    ls_ms+=($((($(now_us) - t) / 1000)))
done

hb0=$(field 'heartbeats ok' <<<"$line0")
hb1=$(field 'heartbeats ok' <<<"$line1")
ht0=$(field 't=' <<<"${line0/t=/t= }")
ht1=$(field 't=' <<<"${line1/t=/t= }")
hfail=$(field 'failed' <<<"$line1")
h_marg=$(sed -E 's/.*\(([0-9.]+) KB per node\).*/\1/' <<<"$line1")
wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN {print (b - a) / 1e6}')
read -r rate beats m_pct e_pct h_pct m_us i_pct n_us < <(awk -v h0="$hb0" -v h1="$hb1" \
    -v t0="$ht0" -v t1="$ht1" -v w="$wall" -v hz="$HZ" -v m0="$m_c0" -v m1="$m_c1" \
    -v e0="$e_c0" -v e1="$e_c1" -v c0="$h_c0" -v c1="$h_c1" -v i0="$i_c0" -v i1="$i_c1" \
    -v iw="$(awk -v a="$i_w0" -v b="$i_w1" 'BEGIN {print (b - a) / 1e6}')" 'BEGIN {
        rate = (h1 - h0) / (t1 - t0); beats = rate * w
        mcpu = (m1 - m0) / hz; idle = (i1 - i0) / hz / iw; net = mcpu - idle * w
        if (net < 0) net = 0
        printf "%.1f %d %.2f %.2f %.2f %.1f %.2f %.1f\n", rate, beats, 100 * mcpu / w,
            100 * (e1 - e0) / hz / w, 100 * (c1 - c0) / hz / w, beats ? 1e6 * mcpu / beats : 0,
            100 * idle, beats ? 1e6 * net / beats : 0 }')

flaps=$(grep -c 'no longer the leader' "${NH_LOG[1]}" || true)
if stop_hollow; then
    stop="exit 0 after SIGTERM"
else
    stop="did NOT exit cleanly"
fi

echo
printf '%-46s %-26s %-16s %s\n' "figure ($COUNT workers, ${WINDOW} s window)" "shoal" "target" "Docker 20.10"
printf '%-46s %-26s %-16s %s\n' "start hollow -> $COUNT Ready in docker node ls" "$t_ready ms" "<= 30000 ms" "not measured (no hollow mode)"
printf '%-46s %-26s %-16s %s\n' "manager daemon RSS" "$((m_rss / 1024)) MB (idle $((m_rss0 / 1024)) MB)" "<= 64 MB" "94 MB idle with 3 nodes"
printf '%-46s %-26s %-16s %s\n' "manager RSS per node" "$(((m_rss - m_rss0) / COUNT)) KB" "" ""
printf '%-46s %-26s %-16s %s\n' "etcd RSS" "$((e_rss / 1024)) MB (idle $((e_rss0 / 1024)) MB)" "" "(raft is inside dockerd)"
printf '%-46s %-26s %-16s %s\n' "manager CPU, steady heartbeats" "$m_pct % of one core" "<= 5 %" ""
printf '%-46s %-26s %-16s %s\n' "etcd CPU, same window" "$e_pct % of one core" "" ""
printf '%-46s %-26s %-16s %s\n' "heartbeats in the window" "$beats ($rate/s)" "$((COUNT * WINDOW / 5))" ""
printf '%-46s %-26s %-16s %s\n' "heartbeats failed (whole run)" "$hfail" "0" ""
printf '%-46s %-26s %-16s %s\n' "manager lost leadership (whole run)" "$flaps times" "0" ""
printf '%-46s %-26s %-16s %s\n' "manager CPU before any worker (${IDLE} s)" "$i_pct % of one core" "" ""
printf '%-46s %-26s %-16s %s\n' "manager CPU per heartbeat (all CPU / beats)" "$m_us us" "" ""
printf '%-46s %-26s %-16s %s\n' "manager CPU per heartbeat (minus idle)" "$n_us us" "<= 100 us" ""
printf '%-46s %-26s %-16s %s\n' "hollow RSS per node (added since start)" "$h_marg KB" "<= 128 KB" ""
printf '%-46s %-26s %-16s %s\n' "hollow RSS / nodes" "$((h_rss / COUNT)) KB (total $((h_rss / 1024)) MB)" "" ""
printf '%-46s %-26s %-16s %s\n' "hollow CPU" "$h_pct % of one core" "" ""
printf '%-46s %-26s %-16s %s\n' "docker node ls ($((COUNT + 1)) nodes), median of 3" "$(median "${ls_ms[@]}") ms" "" "41 ms with 3 nodes"
printf '%-46s %-26s %-16s %s\n' "Ready workers after the window" "$still" "$COUNT" ""
printf '%-46s %-26s %-16s %s\n' "hollow stop" "$stop" "exit 0" ""
missed=()
above() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }
above "$t_ready" 30000 && missed+=("time to Ready")
above "$((m_rss / 1024))" 64 && missed+=("manager RSS")
above "$m_pct" 5 && missed+=("manager CPU")
above "$n_us" 100 && missed+=("CPU per heartbeat")
above "$h_marg" 128 && missed+=("hollow RSS per node")
[ "$still" -eq "$COUNT" ] || missed+=("workers Ready at the end")
[ "$stop" = "exit 0 after SIGTERM" ] || missed+=("hollow stop")
if [ ${#missed[@]} -gt 0 ]; then
    echo "missed: $(IFS=,; echo "${missed[*]}")"
    exit 1
fi
