#!/usr/bin/env bash
# leader_churn.sh — one leader change per leader death, on three network-namespace managers.
# CHURN_KILLS times (default 10), under a stream of numbered, acknowledged label writes (a
# python writer doing read-modify-write through the Engine API, rotating over the live
# managers): SIGKILL the leader (daemon and etcd, a host crash), wait until the survivors agree
# on a new leader and for 2.5 s more (longer than the lease TTL, so a new leader that would step
# down or be deposed has done it by then), then restart the killed manager and wait until all
# three agree again. Checks, per kill:
#  - exactly one leader change: the survivors' logs, since the kill, hold one "this manager is
#    now the leader" and no "no longer the leader" (the daemons log every change), and the
#    restart of the killed manager changes nothing;
#  - writes go on after the kill.
# At the end: every acknowledged label is on every manager. Prints the write outage per kill
# (kill → first acknowledged write) as "# ..." lines. On failure the daemon, etcd and writer logs
# are copied to build/test-logs/leader_churn.d. Exits 0 (pass), 1 (fail) or 77 (the machine
# cannot run it).
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

KILLS=${CHURN_KILLS:-10}
KEEP=$NH_TOP/build/test-logs/leader_churn.d
on_exit() {
    local rc=$?
    if [ -n "${WRITER:-}" ] && kill "$WRITER" 2>/dev/null; then # our own child, by PID
        wait "$WRITER" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        nh_keep_logs "$KEEP" "$NH_ROOT"/writer.log
    fi
    nh_cleanup
}
fail() { echo "FAIL: $*" >&2; exit 1; }
leaders_of() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2 == "Leader" {print $1}'; }
declare -A HOST_OF
# agree host...: every given manager shows exactly one Leader, the same one; prints its host
agree() {
    local i l first=""
    for i in "$@"; do
        l=$(leaders_of "$i") || return 1
        if [ -z "$l" ] || [ "$(echo "$l" | wc -l)" -ne 1 ]; then return 1; fi
        if [ -z "$first" ]; then first=$l; fi
        [ "$l" = "$first" ] || return 1
    done
    echo "${HOST_OF[$first]}"
}
# changes host offset: leader changes host logged after byte offset ("gained lost")
changes() {
    tail -c +"$(($2 + 1))" "${NH_LOG[$1]}" |
        awk '/this manager is now the leader/ {g++} /this manager is no longer the leader/ {l++}
             END {print g + 0, l + 0}'
}
log_size() { stat -c %s "${NH_LOG[$1]}"; }
sees_leader() { [ "$(leaders_of "$1")" = "$2" ]; }

command -v python3 >/dev/null 2>&1 || _nh_skip "needs python3"
nh_setup 3
trap on_exit EXIT
for i in 1 2 3; do nh_start "$i"; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
for i in 2 3; do
    nh_docker "$i" swarm join --token "$MT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377" \
        >/dev/null
done
declare -A ID
for i in 1 2 3; do
    ID[$i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}')
    HOST_OF[${ID[$i]}]=$i
done
nh_wait_for 15 "three managers agree on a leader" agree 1 2 3
TARGET=${ID[1]}

cat >"$NH_ROOT/writer.py" <<'EOF'
import http.client, json, os, socket, sys, time

node, alive_file, stop_file, log = sys.argv[1:5]

class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("x", timeout=5)
        self.upath = path
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.upath)
        self.sock = s

def call(sock, method, url, body=None):
    c = Unix(sock)
    try:
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, url, body=None if body is None else json.dumps(body), headers=hdrs)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()

out = open(log, "a", buffering=1)
n, turn, parent = 1, 0, os.getppid()
while not os.path.exists(stop_file) and os.getppid() == parent:
    hosts = [l.split() for l in open(alive_file) if l.strip()]
    host, sock = hosts[turn % len(hosts)]
    turn += 1
    try:
        st, data = call(sock, "GET", "/v1.41/nodes/" + node)
        if st == 200:
            obj = json.loads(data)
            spec = obj["Spec"]
            spec["Labels"] = dict(spec.get("Labels") or {})
            spec["Labels"]["w%d" % n] = str(n)
            st, data = call(sock, "POST", "/v1.41/nodes/%s/update?version=%d"
                            % (node, obj["Version"]["Index"]), spec)
        if st == 200:
            out.write("ACK %d %s %d\n" % (n, host, time.time_ns()))
            n += 1
            time.sleep(0.02)
            continue
        out.write("ERR %d %s %d\n" % (n, host, st))
    except Exception as e:
        out.write("ERR %d %s exc %r\n" % (n, host, e))
    time.sleep(0.02)
out.write("STOP %d\n" % n)
EOF
WLOG=$NH_ROOT/writer.log
: >"$WLOG"
alive() {
    local i
    : >"$NH_ROOT/alive.tmp"
    for i in "$@"; do echo "$i ${NH_SOCK[i]}" >>"$NH_ROOT/alive.tmp"; done
    mv "$NH_ROOT/alive.tmp" "$NH_ROOT/writer.alive"
}
acks() { grep -c '^ACK' "$WLOG" || true; }
alive 1 2 3
python3 "$NH_ROOT/writer.py" "$TARGET" "$NH_ROOT/writer.alive" "$NH_ROOT/writer.stop" "$WLOG" &
WRITER=$!
nh_wait_for 10 "10 acknowledged writes" bash -c "[ \$(grep -c '^ACK' $WLOG) -ge 10 ]"
echo "ok: 3 managers, writer running"

outages=()
bad=0
for ((k = 1; k <= KILLS; k++)); do
    L=$(agree 1 2 3) || fail "kill $k: no single leader: $(leaders_of 1 | tr '\n' ' ')"
    others=()
    for i in 1 2 3; do [ "$i" = "$L" ] || others+=("$i"); done
    declare -A OFF=()
    for i in "${others[@]}"; do OFF[$i]=$(log_size "$i"); done
    t_kill=$(date +%s%N)
    nh_kill "$L"
    alive "${others[@]}"
    new=""
    while [ $((($(date +%s%N) - t_kill) / 1000000)) -lt 15000 ]; do
        new=$(agree "${others[@]}" 2>/dev/null) || new=""
        if [ -n "$new" ] && [ "$new" != "$L" ]; then break; fi
        new=""
        sleep 0.05
    done
    [ -n "$new" ] || fail "kill $k: the survivors agree on no new leader within 15 s"
    leader_ms=$((($(date +%s%N) - t_kill) / 1000000))
    sleep 2.5 # a new leader that steps down, or is deposed, does it within the lease TTL
    # shellcheck disable=SC2016 # awk's own $1 and $4
    nh_wait_for 10 "kill $k: a write acknowledged after the kill" \
        awk -v t="$t_kill" '$1 == "ACK" && $4 > t {f = 1} END {exit !f}' "$WLOG"
    first=$(awk -v t="$t_kill" '$1 == "ACK" && $4 > t {print $4; exit}' "$WLOG")
    out_ms=$(((first - t_kill) / 1000000))
    outages+=("$out_ms")
    gained=0 lost=0 detail=""
    for i in "${others[@]}"; do
        read -r g l < <(changes "$i" "${OFF[$i]}")
        gained=$((gained + g)) lost=$((lost + l))
        detail+=" host $i: +$g -$l;"
    done
    echo "# kill $k: leader host $L killed; host $new leads (agreed after $leader_ms ms);" \
        "first write acknowledged after $out_ms ms; leader changes:$detail"
    if [ "$gained" -ne 1 ] || [ "$lost" -ne 0 ]; then
        echo "FAIL: kill $k made $gained take-overs and $lost step-downs (one take-over expected)" >&2
        bad=$((bad + 1))
    fi
    [ "$(agree "${others[@]}")" = "$new" ] || fail "kill $k: the leader moved on from host $new"

    for i in 1 2 3; do OFF[$i]=$(log_size "$i"); done
    nh_start "$L"
    alive 1 2 3
    nh_wait_for 20 "kill $k: the restarted manager agrees on host $new" sees_leader "$L" "${ID[$new]}"
    for i in 1 2 3; do
        read -r g l < <(changes "$i" "${OFF[$i]}")
        if [ "$g" -ne 0 ] || [ "$l" -ne 0 ]; then
            echo "FAIL: kill $k: restarting host $L changed the leader (host $i: +$g -$l)" >&2
            bad=$((bad + 1))
        fi
    done
done

touch "$NH_ROOT/writer.stop"
wait "$WRITER" || fail "the writer crashed: $(tail -n 5 "$WLOG")"
WRITER=""
K=$(awk '$1 == "ACK" {k = $2} END {print k + 0}' "$WLOG")
for i in 1 2 3; do
    t0=$SECONDS
    while :; do
        have=$(nh_curl "$i" -f "http://x/v1.41/nodes/$TARGET" | python3 -c '
import json, sys
labels = json.load(sys.stdin)["Spec"].get("Labels") or {}
k = int(sys.argv[1])
print(sum(1 for n in range(1, k + 1) if labels.get("w%d" % n) == str(n)))' "$K")
        [ "$have" -eq "$K" ] && break
        [ $((SECONDS - t0)) -lt 10 ] || fail "manager $i has $have of the $K acknowledged writes"
        sleep 0.2
    done
done
sorted=$(printf '%s\n' "${outages[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo "# write outage after a leader kill: median $median ms, max $(echo "$sorted" | tail -n 1) ms" \
    "over $KILLS kills; $K writes acknowledged, none lost"
[ "$bad" -eq 0 ] || fail "$bad of $KILLS kills did not make exactly one leader change"
echo "ok: $KILLS leader kills, one leader change each, every acknowledged write kept"
