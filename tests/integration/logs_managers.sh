#!/usr/bin/env bash
# logs_managers.sh — `docker service logs` through any manager: three managers and a worker on
# four network-namespace hosts, services running real containers (the busybox test image).
#  - through a follower, `service logs` prints exactly what it prints through the leader: plain,
#    --tail, -t, --raw (per task, in each task's order), and the raw Engine API answers carry
#    the same stdcopy frames, details and timestamps included;
#  - a task's logs through a follower (GET /tasks/{id}/logs);
#  - -f through a follower sees new lines; a client that goes away ends the relay (its
#    connection to the leader closes);
#  - the leader is SIGKILLed during a -f stream through a follower: the stream ends with
#    dockerd's error frame (the CLI prints "error from daemon in stream: Error grabbing logs:
#    ..." and exits 1), and once a new leader is elected the follower serves logs again.
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"

fail() { nh_fail_logs "${LOGS_HOLD:-}" "$@"; }
leader_of() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2=="Leader"{print $1}'; }
# logs HOST ARGS...: `docker service logs ARGS` through HOST, stdout then stderr, each sorted
# stably by its first field (task@node), so that every task's lines keep their order
logs()
{
    local h=$1 out err
    shift
    out=$(nh_docker "$h" service logs "$@" 2>"$NH_ROOT/logs.err") || {
        cat "$NH_ROOT/logs.err" >&2
        return 1
    }
    err=$(cat "$NH_ROOT/logs.err")
    printf '%s\n' "$out" | sort -s -k1,1
    echo "-- stderr --"
    printf '%s\n' "$err" | sort -s -k1,1
}
# frames FILE: the stdcopy frames of a raw logs answer, one a line (stream, bytes), sorted by
# task (the details name it) with each task's frames in order
frames()
{
    python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
out, i = [], 0
while i + 8 <= len(b):
    n = int.from_bytes(b[i + 4:i + 8], "big")
    f = b[i + 8:i + 8 + n]
    task = f.split(b"com.docker.swarm.task.id=")[1].split(b" ")[0] if b"task.id=" in f else b""
    out.append((task, len(out), b[i], f))
    i += 8 + n
assert i == len(b), "trailing bytes"
for t, _, s, f in sorted(out):
    print(s, repr(f))' "$1"
}

nh_setup 4
exec_nh_init
for i in 1 2 3 4; do nh_start "$i" --cgroup-parent "${EXEC_NH_CG[$i]}"; done
make_busybox_tar "$NH_ROOT/busybox.tar" >/dev/null
for i in 1 2 3 4; do nh_docker "$i" load -i "$NH_ROOT/busybox.tar" >/dev/null; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 1s >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
WT=$(nh_docker 1 swarm join-token -q worker)
for i in 2 3; do
    nh_docker "$i" swarm join --token "$MT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377" >/dev/null
done
nh_docker 4 swarm join --token "$WT" --advertise-addr "${NH_IP[4]}" "${NH_IP[1]}:2377" >/dev/null
declare -A ID
for i in 1 2 3 4; do ID[$i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}'); done
[ "$(leader_of 2)" = "${ID[1]}" ] || fail "manager 2 does not see manager 1 lead"
echo "ok: three managers and a worker"

# --- a service on every node, fixed output ------------------------------------------------------
nh_docker 1 service create -d --name fixed --replicas 4 --stop-grace-period 1s busybox \
    sh -c 'for i in 1 2 3 4; do echo out-$i; echo err-$i >&2; done; exec sleep 100000' >/dev/null
all_lines() { [ "$(nh_docker 1 service logs --raw fixed 2>&1 | wc -l)" -eq 32 ]; }
nh_wait_for 40 "every task of fixed running and its 8 lines logged" all_lines
for args in "fixed" "--tail 2 fixed" "-t fixed" "--raw fixed" "--no-task-ids --no-trunc fixed"; do
    # shellcheck disable=SC2086 # the arguments split on purpose
    via_leader=$(logs 1 $args) || fail "service logs $args through the leader"
    for f in 2 3; do
        # shellcheck disable=SC2086
        via_follower=$(logs "$f" $args) || fail "service logs $args through follower $f"
        [ "$via_follower" = "$via_leader" ] ||
            fail "service logs $args: follower $f printed
$via_follower
--- the leader printed
$via_leader"
    done
done
[ "$(logs 2 --tail 2 fixed | grep -c -- '-[1-4]$')" -eq 8 ] || fail "--tail 2 through a follower: $(logs 2 --tail 2 fixed)"
echo "ok: service logs (plain, --tail, -t, --raw, --no-task-ids) through a follower print what the leader prints"

svc=$(nh_docker 1 service inspect -f '{{.ID}}' fixed)
q="stdout=1&stderr=1&details=1&timestamps=1"
nh_curl 1 -o "$NH_ROOT/leader.raw" "http://x/v1.41/services/$svc/logs?$q"
nh_curl 3 -o "$NH_ROOT/follower.raw" "http://x/v1.41/services/$svc/logs?$q"
[ "$(frames "$NH_ROOT/follower.raw")" = "$(frames "$NH_ROOT/leader.raw")" ] ||
    fail "the follower's frames differ from the leader's"
[ "$(frames "$NH_ROOT/follower.raw" | wc -l)" -eq 32 ] || fail "frames: $(frames "$NH_ROOT/follower.raw")"
echo "ok: the raw Engine API answers carry the same frames (details, timestamps)"

task=$(nh_docker 1 service ps -q --no-trunc --filter "node=${ID[4]}" fixed | head -1)
via_leader=$(logs 1 "$task")
via_follower=$(logs 2 "$task")
[ "$via_follower" = "$via_leader" ] || fail "task logs: follower '$via_follower', leader '$via_leader'"
[ "$(printf '%s\n' "$via_follower" | grep -c -- '-[1-4]$')" -eq 8 ] || fail "task logs: $via_follower"
nh_curl 2 -o "$NH_ROOT/task.raw" "http://x/v1.41/tasks/$task/logs?stdout=1&details=1"
[ "$(frames "$NH_ROOT/task.raw" | wc -l)" -eq 4 ] || fail "task logs frames: $(frames "$NH_ROOT/task.raw")"
out=$(nh_curl 2 "http://x/v1.41/tasks/nosuchtask/logs?stdout=1")
case "$out" in *"task nosuchtask not found"* | *"No such task"*) ;; *) fail "unknown task: $out" ;; esac
echo "ok: a task's logs through a follower"

# --- follow ---------------------------------------------------------------------------------------
nh_docker 1 service create -d --name ticker --constraint node.role==worker --stop-grace-period 1s \
    busybox sh -c 'i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.3; done' >/dev/null 2>&1
ticking() { nh_docker 1 service logs --raw ticker 2>/dev/null | grep -q tick-3; }
nh_wait_for 30 "ticker logs" ticking
# follow_bg HOST FILE: `docker service logs -f --raw ticker` through HOST in the background (its
# own process: FOLLOW_PID), stdout to FILE, stderr to FILE.err
follow_bg()
{
    DOCKER_HOST="unix://${NH_SOCK[$1]}" DOCKER_CONFIG="$NH_ROOT/docker-config" \
        "$NH_DOCKER" service logs -f --raw --tail 1 ticker >"$2" 2>"$2.err" &
    FOLLOW_PID=$!
}
last_tick() { sed -n 's/^tick-\([0-9]*\)$/\1/p' "$1" | tail -1; }
ticks_past() { local n; n=$(last_tick "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
follow_bg 2 "$NH_ROOT/f2"
nh_wait_for 10 "a first line through the follower's -f" ticks_past "$NH_ROOT/f2" 0
first=$(last_tick "$NH_ROOT/f2")
nh_wait_for 10 "new lines through the follower's -f" ticks_past "$NH_ROOT/f2" $((first + 5))
echo "ok: -f through a follower sees new lines (tick-$first, then tick-$(last_tick "$NH_ROOT/f2"))"

# the client goes away: the relay's connection from manager 2 to the leader closes
conns() { nh_exec 1 ss -Htn state established "( sport = :2377 )" dst "${NH_IP[2]}" | wc -l; }
during=$(conns)
kill "$FOLLOW_PID"
wait "$FOLLOW_PID" || true
fewer() { [ "$(conns)" -lt "$during" ]; }
nh_wait_for 10 "the relay's connection to the leader closed ($during before)" fewer
echo "ok: a client that goes away ends the relay"

# --- the leader goes away during a follow through a follower ------------------------------------
follow_bg 3 "$NH_ROOT/f3"
nh_wait_for 10 "-f through follower 3" ticks_past "$NH_ROOT/f3" 0
f3=$FOLLOW_PID
t0=$SECONDS
nh_kill 1
ended() { ! kill -0 "$f3" 2>/dev/null; }
nh_wait_for 20 "the follow stream through follower 3 ended after the leader's SIGKILL" ended
rc=0
wait "$f3" || rc=$?
[ "$rc" -eq 1 ] || fail "docker service logs -f exited $rc after the leader went away ($(cat "$NH_ROOT/f3.err"))"
grep -q "^error from daemon in stream: Error grabbing logs: rpc error: code = Unavailable desc = " \
    "$NH_ROOT/f3.err" || fail "after the leader went away the CLI printed: $(cat "$NH_ROOT/f3.err")"
echo "ok: the stream ended $((SECONDS - t0)) s after the leader's SIGKILL: $(head -1 "$NH_ROOT/f3.err")"
new_leader() { local l; l=$(leader_of 3) && [ -n "$l" ] && [ "$l" != "${ID[1]}" ]; }
nh_wait_for 20 "a new leader" new_leader
[ -n "$(last_tick "$NH_ROOT/f3")" ] || fail "no line through follower 3 before the failover"
ticks_after() { local n; n=$(nh_docker 3 service logs --raw --tail 1 ticker 2>/dev/null | sed -n 's/^tick-//p'); [ -n "$n" ] && [ "$n" -gt "$1" ]; }
nh_wait_for 20 "service logs through manager 3 after the failover" ticks_after "$(last_tick "$NH_ROOT/f3")"
new=$(leader_of 3)
other=2
[ "$new" = "${ID[2]}" ] && other=3
sees_new() { [ "$(leader_of "$other")" = "$new" ]; }
nh_wait_for 10 "manager $other sees the new leader" sees_new
follow_bg "$other" "$NH_ROOT/f4"
f4_ticks_or_end() { ticks_past "$NH_ROOT/f4" 0 || ! kill -0 "$FOLLOW_PID" 2>/dev/null; }
nh_wait_for 10 "-f through the new follower $other" f4_ticks_or_end
ticks_past "$NH_ROOT/f4" 0 || fail "-f through manager $other ended: $(cat "$NH_ROOT/f4.err")"
kill "$FOLLOW_PID"
wait "$FOLLOW_PID" || true
echo "ok: after the failover the managers serve logs again (-f through follower $other)"

# the survivors stop cleanly, without a sanitizer report (a sanitized build's leaks show here)
for i in 4 2 3; do nh_stop "$i" || fail "host $i did not stop cleanly"; done
for i in 1 2 3 4; do
    ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "${NH_LOG[i]}" ||
        fail "sanitizer report in host $i's log: $(grep -m 3 -E 'Sanitizer|runtime error:' "${NH_LOG[i]}")"
done
echo "ok: the survivors stopped cleanly"
