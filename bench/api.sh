#!/usr/bin/env bash
# bench/api.sh — Engine API benchmark of a one-node shoal swarm.
#
# Starts build/shoal (or $SHOAL_BIN; it builds nothing of shoal) in a temp dir with its etcd child
# on free 127.0.0.1 ports, inits a swarm (--advertise-addr 127.0.0.1), waits 2 s idle, prints the
# idle RSS of shoal and of its etcd child separately (VmRSS from /proc), then times GET /nodes and
# GET /info: 1,000 sequential calls each on ONE keep-alive connection, with bench/bench_client.c
# (built here with cc; a python client would measure python). If a real dockerd answers on
# /var/run/docker.sock it is measured the same way, side by side; none is ever started.
#
# Only PIDs this script started are signalled; the temp dir is removed on exit.
# Env: SHOAL_BIN, COUNT (default 1000), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHOAL_BIN=${SHOAL_BIN:-$ROOT/build/shoal}
COUNT=${COUNT:-1000}
DOCKERD_SOCK=/var/run/docker.sock

[ -x "$SHOAL_BIN" ] || { echo "bench: $SHOAL_BIN not built (run make)" >&2; exit 1; }
[ -x /usr/bin/etcd ] || { echo "bench: /usr/bin/etcd not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench: curl not installed" >&2; exit 1; }

T=$(mktemp -d /tmp/shoal-bench.XXXXXX)
PID=""
ETCD_PID=""
cleanup()
{
    local rc=$?
    set +e
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        for _ in $(seq 1 100); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
        wait "$PID" 2>/dev/null
    fi
    # an etcd child orphaned by a failed stop: only if it still runs from our temp dir
    if [ -n "$ETCD_PID" ] && [ -r "/proc/$ETCD_PID/cmdline" ] &&
        tr '\0' ' ' <"/proc/$ETCD_PID/cmdline" | grep -qF -- "$T"; then
        kill -KILL "$ETCD_PID"
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $T"
    else
        rm -rf -- "$T"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cc -std=gnu11 -O2 -Wall -Wextra -Wshadow -Wformat=2 -D_GNU_SOURCE \
    "$ROOT/bench/bench_client.c" -o "$T/bench_client"

read -r P1 P2 < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
SOCK=$T/sock
"$SHOAL_BIN" daemon --data-root "$T/root" -H "unix://$SOCK" --etcd-client-port "$P1" \
    --etcd-peer-port "$P2" --log-level warn >"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
    kill -0 "$PID" 2>/dev/null || { cat "$T/daemon.log" >&2; exit 1; }
    curl -sf --max-time 2 --unix-socket "$SOCK" -o /dev/null http://x/_ping 2>/dev/null && break
    sleep 0.1
done

code=$(curl -sS --max-time 30 --unix-socket "$SOCK" -o "$T/init.out" -w '%{http_code}' \
    -H 'Content-Type: application/json' \
    -d '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"127.0.0.1","Spec":{}}' \
    http://x/v1.41/swarm/init)
[ "$code" = 200 ] || { echo "bench: swarm init answered $code: $(cat "$T/init.out")" >&2; exit 1; }
for _ in $(seq 1 150); do
    curl -sS --unix-socket "$SOCK" http://x/v1.41/info | grep -q '"LocalNodeState":"active"' && break
    sleep 0.1
done
for c in $(cat /proc/"$PID"/task/*/children 2>/dev/null); do
    if tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q etcd; then
        ETCD_PID=$c
    fi
done

sleep 2
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
shoal_rss=$(rss_kb "$PID")
etcd_rss=${ETCD_PID:+$(rss_kb "$ETCD_PID")}

echo "shoal API benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $COUNT calls per endpoint)"
echo "binary: $SHOAL_BIN"
echo
rss_detail() { awk '/^Rss(Anon|File|Shmem):/ {printf "%s %.1f MB  ", $1, $2/1024}' "/proc/$1/status"; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN{print (v <= t) ? "ok" : "OVER TARGET"}'; }
printf '%-34s %10s   %s\n' "idle RSS" "value" "target"
printf '%-34s %7.1f MB   %s  %s\n' "shoal (VmRSS, pid $PID)" "$(awk -v k="$shoal_rss" 'BEGIN{print k/1024}')" \
    "<= 8 MB" "$(verdict "$shoal_rss" 8192)"
printf '%-34s %s\n' "  of which" "$(rss_detail "$PID")"
if [ -n "$etcd_rss" ]; then
    printf '%-34s %7.1f MB   %s\n' "etcd child (VmRSS, pid $ETCD_PID)" \
        "$(awk -v k="$etcd_rss" 'BEGIN{print k/1024}')" "(separate, no target)"
else
    printf '%-34s %10s\n' "etcd child" "not found"
fi
echo

measure()
{ # label socket path
    local out
    out=$("$T/bench_client" "$2" "$3" "$COUNT" 50) || { echo "$1 $3: failed" >&2; return 1; }
    local p50 p99 mean bytes
    p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
    p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
    mean=$(sed -E 's/.*mean_ms=([0-9.]+).*/\1/' <<<"$out")
    bytes=$(sed -E 's/.*bytes=([0-9]+).*/\1/' <<<"$out")
    local target=""
    [ "$1" = shoal ] && [ "$3" = /v1.41/nodes ] &&
        target="p50 target <= 0.2 ms: $(verdict "$p50" 0.2)"
    printf '%-8s GET %-14s p50 %8.3f ms   p99 %8.3f ms   mean %8.3f ms   body %6s B   %s\n' \
        "$1" "$3" "$p50" "$p99" "$mean" "$bytes" "$target"
}

echo "latency, $COUNT sequential calls on one keep-alive connection (after 50 warm-up calls)"
measure shoal "$SOCK" /v1.41/nodes
measure shoal "$SOCK" /v1.41/info
if [ -S "$DOCKERD_SOCK" ] && curl -sf --max-time 2 --unix-socket "$DOCKERD_SOCK" -o /dev/null \
    http://x/_ping 2>/dev/null; then
    measure dockerd "$DOCKERD_SOCK" /v1.41/nodes || true
    measure dockerd "$DOCKERD_SOCK" /v1.41/info || true
else
    echo "dockerd: not reachable here; Docker's figures recorded on these machines instead:"
    baseline=$(dirname "$0")/../../shared/notes/docker-baseline-20.10.txt
    if [ -f "$baseline" ]; then
        # the summary lines of the Docker 20.10 swarm harness (3 hosts, one manager measured)
        grep -E "what=GET_nodes host=host1 +t_ms|state=idle host=host1 +(dockerd|containerd)_rss_MB" \
            "$baseline" | awk '{m = $(NF-4); sub(/^t_ms$/, $3 " ms", m)
                   printf "  dockerd 20.10  %-26s median %s (min %s, max %s, n %s)\n", m, $(NF-3), $(NF-2), $(NF-1), $NF}'
    else
        echo "  (../shared/notes/docker-baseline-20.10.txt not found)"
    fi
fi
echo
echo "shoal RSS after the runs: $(awk -v k="$(rss_kb "$PID")" 'BEGIN{printf "%.1f MB", k/1024}')"
