#!/usr/bin/env bash
# multinode_chaos.sh — multi-manager safety under faults, on four network-namespace hosts
# (managers 1-3, worker 4, dispatcher heartbeat 1 s):
#  1. SIGKILL of the leader under a stream of numbered, acknowledged label writes (a python
#     writer doing read-modify-write through the Engine API, rotating over the live managers):
#     every acknowledged label is on every survivor, writes go on after the kill, and every
#     survivor's `node ls` shows exactly one Leader (the same one).
#  2. Partition of a follower manager: the majority keeps writing and shows it Unreachable, the
#     isolated manager acknowledges no write and does not claim to be Leader, and after the
#     heal it catches up and is Reachable. Partition of the leader: the majority elects
#     another, the old leader stops acting as one (never while the majority already shows the
#     new one), and after the heal there is one leader. Neither heal may depose the leader in
#     place (the returning manager's view from its isolation must not act after the heal).
#  3. SIGTERM of every node, then all started together: same node IDs, roles and labels, one
#     leader, every node Ready.
# Timings (failover, detection) are printed as "# ..." lines. On failure the daemon and etcd
# logs are copied to $CHAOS_KEEP (default build/test-logs/multinode_chaos.d) before cleanup
# (also on success with CHAOS_KEEP_ALWAYS=1).
# Checks after which the rest still means something fail "softly": reported at once, the test
# goes on and exits 1 at the end. Exits 0 (pass), 1 (fail) or 77 (the machine cannot run it).
# Runs in ~35-45 s (sanitized build).
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

KEEP=${CHAOS_KEEP:-$NH_TOP/build/test-logs/multinode_chaos.d}
on_exit() {
    local rc=$?
    if [ -n "${WRITER:-}" ] && kill "$WRITER" 2>/dev/null; then # our own child, by PID
        wait "$WRITER" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ -n "${CHAOS_KEEP_ALWAYS:-}" ]; then
        nh_keep_logs "$KEEP" "$NH_ROOT"/writer.*
    fi
    nh_cleanup
}

fail() { echo "FAIL: $*" >&2; exit 1; }
# soft_fail: a failed check after which the rest of the test still means something: reported at
# once, and the test fails at the end.
SOFT=()
soft_fail() { echo "FAIL: $*" >&2; SOFT+=("$*"); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# "ID MANAGERSTATUS" lines of node ls as host $1 sees it (fails if node ls fails)
mstatus() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}'; }
status_of() { mstatus "$1" | awk -v id="$2" '$1 == id {print $2}'; }
leaders_of() { mstatus "$1" | awk '$2 == "Leader" {print $1}'; }
# one_leader host [expected-id]: host's node ls shows exactly one Leader (that one if given)
one_leader() {
    local l
    l=$(leaders_of "$1") || return 1
    [ -n "$l" ] && [ "$(echo "$l" | wc -l)" -eq 1 ] && { [ -z "${2:-}" ] || [ "$l" = "$2" ]; }
}
is_state() { [ "$(nh_docker "$1" node inspect "$2" -f '{{.Status.State}}')" = "$3" ]; }
is_mstatus() { [ "$(status_of "$1" "$2")" = "$3" ]; }
# labels host node: the node's labels as "key=value" lines, sorted
labels() {
    nh_curl "$1" -f "http://x/v1.41/nodes/$2" |
        jq -r '.Spec.Labels // {} | to_entries[] | "\(.key)=\(.value)"' | sort
}
has_label() { labels "$1" "$2" | grep -qx "$3"; }
host_of_id() {
    local i
    for i in 1 2 3 4; do
        if [ "${ID[$i]}" = "$1" ]; then echo "$i" && return 0; fi
    done
    return 1
}
# the leader as the given live manager sees it, as a host number
leader_host() {
    local l
    l=$(leaders_of "$1") && [ "$(echo "$l" | wc -l)" -eq 1 ] && host_of_id "$l"
}
managers_but() { # host: the other two managers, "a b"
    local i rest=()
    for i in 1 2 3; do
        if [ "$i" != "$1" ]; then rest+=("$i"); fi
    done
    echo "${rest[*]}"
}
# agree host...: every given manager shows exactly one Leader, the same one; prints its host
agree() {
    local i l first=""
    for i in "$@"; do
        l=$(leaders_of "$i") || return 1
        if [ -z "$l" ] || [ "$(echo "$l" | wc -l)" -ne 1 ]; then return 1; fi
        if [ -z "$first" ]; then first=$l; fi
        [ "$l" = "$first" ] || return 1
    done
    host_of_id "$first"
}

command -v python3 >/dev/null 2>&1 || _nh_skip "needs python3"
command -v jq >/dev/null 2>&1 || _nh_skip "needs jq"
T_START=$SECONDS
nh_setup 4
trap on_exit EXIT
trap 'echo "ERR at line $LINENO: $BASH_COMMAND" >&2' ERR
for i in 1 2 3 4; do nh_start "$i"; done
nh_docker 1 swarm init --advertise-addr "${NH_IP[1]}" --dispatcher-heartbeat 1s >/dev/null
MT=$(nh_docker 1 swarm join-token -q manager)
WT=$(nh_docker 1 swarm join-token -q worker)
for i in 2 3; do
    nh_docker "$i" swarm join --token "$MT" --advertise-addr "${NH_IP[i]}" "${NH_IP[1]}:2377" \
        >/dev/null
done
nh_docker 4 swarm join --token "$WT" --advertise-addr "${NH_IP[4]}" "${NH_IP[1]}:2377" >/dev/null
declare -A ID
for i in 1 2 3 4; do ID[$i]=$(nh_docker "$i" info -f '{{.Swarm.NodeID}}'); done
W=${ID[4]}
for i in 1 2 3; do nh_wait_for 10 "manager $i sees one leader" one_leader "$i" "${ID[1]}"; done
nh_wait_for 10 "worker ready" is_state 1 "$W" ready
echo "ok: 3 managers + 1 worker ($((SECONDS - T_START)) s)"

# =============================================================================================
# 1. SIGKILL of the leader under a stream of writes
# =============================================================================================
# The writer: write N adds label wN=N to the worker's node (GET the node, POST its spec with the
# version read). Acknowledged (200) → "ACK N host t_start_ns t_end_ns", next N; anything else →
# "ERR N host status message", the same N again on the next manager. Managers are taken in turn
# from the "alive" file ("host socket" lines), re-read before every attempt.
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

def msg(data):
    try:
        return json.loads(data).get("message", "")
    except Exception:
        return data[:200].decode(errors="replace")

out = open(log, "a", buffering=1)
n, turn, parent = 1, 0, os.getppid()
while not os.path.exists(stop_file) and os.getppid() == parent:  # the test may die abruptly
    hosts = [l.split() for l in open(alive_file) if l.strip()]
    host, sock = hosts[turn % len(hosts)]
    turn += 1
    t0 = time.time_ns()
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
            out.write("ACK %d %s %d %d\n" % (n, host, t0, time.time_ns()))
            n += 1
            time.sleep(0.02)
            continue
        out.write("ERR %d %s %d %s\n" % (n, host, st, msg(data)))
    except Exception as e:
        out.write("ERR %d %s exc %r\n" % (n, host, e))
    time.sleep(0.05)
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
rm -f "$NH_ROOT/writer.stop"
python3 "$NH_ROOT/writer.py" "$W" "$NH_ROOT/writer.alive" "$NH_ROOT/writer.stop" "$WLOG" &
WRITER=$!
nh_wait_for 10 "20 acknowledged writes before the kill" bash -c "[ \$(grep -c '^ACK' $WLOG) -ge 20 ]"

L=$(agree 1 2 3) || fail "no single leader before the kill: $(mstatus 2)"
read -ra others <<<"$(managers_but "$L")"
acks_before=$(acks)
t_kill=$(date +%s%N)
nh_kill "$L"
alive "${others[@]}"
# The new leader, as the survivors see it (polled while the writer keeps going).
new=""
while [ $((($(date +%s%N) - t_kill) / 1000000)) -lt 15000 ]; do
    new=$(agree "${others[@]}" 2>/dev/null) || new=""
    if [ -n "$new" ] && [ "$new" != "$L" ]; then break; fi
    new=""
    sleep 0.05
done
leader_ms=$((($(date +%s%N) - t_kill) / 1000000))
[ -n "$new" ] ||
    fail "no new leader agreed by managers ${others[*]} within 15 s: $(mstatus "${others[0]}")"
sleep 3 # let the writer go on under the new leader
touch "$NH_ROOT/writer.stop"
wait "$WRITER" || fail "the writer crashed: $(tail -n 5 "$WLOG")"
WRITER=""

K=$(awk '$1 == "ACK" {k = $2} END {print k + 0}' "$WLOG")
last=$(awk '$1 == "STOP" {print $2}' "$WLOG")
[ "$K" -ge 20 ] || fail "only $K acknowledged writes"
[ "$(awk '$1 == "ACK"' "$WLOG" | wc -l)" -eq "$K" ] || fail "writer log has duplicate ACKs"
after=$(awk -v t="$t_kill" '$1 == "ACK" && $4 > t' "$WLOG" | wc -l)
[ "$after" -ge 5 ] ||
    fail "only $after writes acknowledged after the kill (writer log tail: $(tail -n 5 "$WLOG"))"
first_after=$(awk -v t="$t_kill" '$1 == "ACK" && $4 > t {print $5; exit}' "$WLOG")
write_ms=$(((first_after - t_kill) / 1000000))
# The longest time without an acknowledgement around the kill.
gap_ms=$(awk -v t="$t_kill" '$1 == "ACK" {if (p && $5 > t && $5 - p > g) g = $5 - p; p = $5}
    END {print int(g / 1000000)}' "$WLOG")
errs=$(awk '$1 == "ERR" {$1 = ""; $2 = ""; $3 = ""; print}' "$WLOG" | sed 's/^ *//' |
    sed -E 's/after [0-9]+ milliseconds/after N milliseconds/; s/[0-9a-z]{25}/ID/g' |
    sort | uniq -c | sort -rn)
echo "# failover under load: leader host $L killed after $acks_before acks;" \
    "new leader host $new agreed by the survivors after ${leader_ms} ms;" \
    "first write acknowledged after the kill ${write_ms} ms, longest gap ${gap_ms} ms"
echo "# writer: $K acknowledged writes ($after after the kill), errors by kind:"
echo "$errs" | sed 's/^/#   /'
if echo "$errs" | grep -E '^ *[0-9]+ 4[0-9][0-9] ' >/dev/null; then
    fail "the writer got a 4xx answer (a well-formed update refused)"
fi

# Every acknowledged label on every survivor; nothing beyond the write in flight.
check_labels() { # host: w1..wK present with their value; no wM for M > last
    local got
    got=$(labels "$1" "$W") || return 1
    [ "$(echo "$got" | awk -F= -v k="$K" \
        '$1 ~ /^w[0-9]+$/ && substr($1, 2) + 0 <= k && $2 == substr($1, 2)' | wc -l)" -eq "$K" ]
}
for i in "${others[@]}"; do
    t0=$SECONDS # replication is watch-fed: give it a moment
    while ! check_labels "$i" && [ $((SECONDS - t0)) -lt 5 ]; do sleep 0.2; done
    if ! check_labels "$i"; then
        labels "$i" "$W" | awk -F= '{print $1 "=" $2}' | sort >"$NH_ROOT/have.$i"
        missing=$(for ((n = 1; n <= K; n++)); do echo "w$n=$n"; done | sort |
            comm -23 - "$NH_ROOT/have.$i" | head -n 20 | tr '\n' ' ')
        fail "manager $i lost acknowledged writes: missing or wrong: $missing"
    fi
    extra=$(labels "$i" "$W" | awk -F= -v l="$last" '$1 ~ /^w[0-9]+$/ && substr($1, 2) + 0 > l')
    [ -z "$extra" ] || fail "manager $i has labels never written: $extra"
    one_leader "$i" "${ID[$new]}" || fail "manager $i node ls: $(mstatus "$i")"
done
inflight=""
if has_label "${others[0]}" "$W" "w$last=$last"; then
    inflight=" (write $last, never acknowledged, also applied)"
fi
echo "ok: all $K acknowledged writes on managers ${others[*]}$inflight;" \
    "one leader (host $new) on each"

# The killed manager comes back as a follower and catches up.
nh_start "$L"
nh_wait_for 15 "killed manager ready again" is_state "$new" "${ID[$L]}" ready
nh_wait_for 10 "restarted manager has every acknowledged write" check_labels "$L"
nh_wait_for 5 "all three managers agree on the leader" agree 1 2 3
echo "ok: the killed leader restarted as a follower with every acknowledged write" \
    "($((SECONDS - T_START)) s)"

# =============================================================================================
# 2. Partitions
# =============================================================================================
# api_write host src key value: POST /nodes/W/update on host with the node's version and spec as
# host src serves them (so a host that refuses reads still gets a well-formed write) plus the
# label; prints "STATUS MESSAGE" (200 = acknowledged).
api_write() {
    local v spec
    if ! nh_curl "$2" -o "$NH_ROOT/w.get" -f "http://x/v1.41/nodes/$W"; then
        echo "GET-failed"
        return 0
    fi
    v=$(jq -r .Version.Index "$NH_ROOT/w.get")
    spec=$(jq -c --arg k "$3" --arg v "$4" '.Spec | .Labels = ((.Labels // {}) + {($k): $v})' \
        "$NH_ROOT/w.get")
    nh_curl "$1" -o "$NH_ROOT/w.out" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "$spec" "http://x/v1.41/nodes/$W/update?version=$v" || true
    echo " $(jq -r '.message // empty' "$NH_ROOT/w.out" 2>/dev/null || cat "$NH_ROOT/w.out")"
}

# steady host expected t0 ms: watches host's node ls until t0 + ms; prints nothing if host
# `expected` was the one Leader at every look, else what was seen first and who leads at the end.
steady() {
    local l seen=""
    while [ $(($(now_ms) - $3)) -lt "$4" ]; do
        l=$(leader_host "$1" 2>/dev/null) || l=none
        if [ "$l" != "$2" ] && [ -z "$seen" ]; then
            seen="first seen: $([ "$l" = none ] && echo "no leader" || echo "host $l leading")"
            seen+=" at $(($(now_ms) - $3)) ms after the heal"
        fi
        sleep 0.05
    done
    [ -z "$seen" ] && return 0
    echo "$seen; at the end: host $(leader_host "$1" 2>/dev/null || echo none) leads"
}
heal_logs() { # host...: their last leadership log lines, on stderr
    local i
    for i in "$@"; do
        echo "  --- host $i log around the heal ---" >&2
        grep -E 'revok|leader|lease' "${NH_LOG[i]}" | tail -n 6 | cut -c 1-300 | sed 's/^/  | /' >&2
    done
}

# --- a follower -------------------------------------------------------------------------------
L=$(agree 1 2 3) || fail "no agreed leader before the partition: $(mstatus 1)"
read -r F O <<<"$(managers_but "$L")"
t0=$(now_ms)
nh_partition "$F"
# A write sent to the isolated manager at once, before anything noticed the partition.
early=$(api_write "$F" "$L" iso early)
early_ms=$(($(now_ms) - t0))
[ "${early%% *}" != 200 ] ||
    fail "isolated manager acknowledged a write right after the partition: $early"
echo "# isolated manager, write right after the partition: $early (answered after ${early_ms} ms)"
# The majority keeps writing while the isolation is being detected.
nh_docker "$L" node update --label-add part1=leader "$W" >/dev/null || fail "leader could not write"
nh_docker "$O" node update --label-add part1b=follower "$W" >/dev/null ||
    fail "majority follower could not write"
nh_wait_for 8 "isolated manager shown Unreachable on the leader" \
    is_mstatus "$L" "${ID[$F]}" Unreachable
detect_ms=$(($(now_ms) - t0))
nh_wait_for 5 "isolated manager shown Unreachable on the other follower" \
    is_mstatus "$O" "${ID[$F]}" Unreachable
echo "# follower partition: shown Unreachable by the leader ${detect_ms} ms after the partition"
# The isolated manager: no acknowledged write, and never Leader itself.
t0=$(now_ms)
out=$(nh_docker "$F" node update --label-add iso=cli "$W" 2>&1) &&
    fail "isolated manager acknowledged a write (docker node update: $out)"
cli_ms=$(($(now_ms) - t0))
res=$(api_write "$F" "$L" iso api)
[ "${res%% *}" != 200 ] || fail "isolated manager acknowledged an API write: $res"
echo "# isolated manager refuses writes: docker node update → '$out' (${cli_ms} ms);" \
    "POST update → $res"
ls_out=$(nh_docker "$F" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>&1) && ls_rc=0 || ls_rc=$?
if [ $ls_rc -eq 0 ]; then
    if echo "$ls_out" | grep -q "^${ID[$F]} Leader"; then
        fail "isolated follower claims to be Leader: $ls_out"
    fi
fi
echo "# isolated manager's node ls (exit $ls_rc): $(echo "$ls_out" | tr '\n' ';')"
nh_docker "$L" node update --label-add part2=after-detect "$W" >/dev/null ||
    fail "leader could not write"
one_leader "$L" "${ID[$L]}" ||
    fail "the leader lost leadership during a follower partition: $(mstatus "$L")"
echo "ok: follower partition: the majority writes and shows it Unreachable; it refuses writes"
t0=$(now_ms)
nh_heal "$F"
# Healing a follower must not depose the healthy leader (nothing was wrong with it; a decision
# the isolated follower took while it reached no one must not act after the heal): for 3 s the
# other majority manager must show L as the one Leader at every look.
seen=$(steady "$O" "$L" "$t0" 3000)
if [ -n "$seen" ]; then
    heal_logs "$L" "$F"
    soft_fail "healing the partitioned follower (host $F) deposed the healthy leader (host $L):" \
        "manager $O's node ls ($seen)"
    nh_wait_for 10 "one leader after the heal" agree 1 2 3
    L=$(agree 1 2 3) # go on with the other checks
fi
nh_wait_for 15 "healed manager sees the writes made during the partition" \
    has_label "$F" "$W" part2=after-detect
has_label "$F" "$W" part1=leader && has_label "$F" "$W" part1b=follower ||
    fail "healed manager misses part1"
if [ "$L" != "$F" ]; then
    nh_wait_for 10 "healed manager Reachable again" is_mstatus "$L" "${ID[$F]}" Reachable
fi
heal_ms=$(($(now_ms) - t0))
nh_wait_for 10 "one leader after the heal" agree 1 2 3
echo "# follower heal: caught up and Reachable ${heal_ms} ms after the heal"
for k in iso=early iso=cli iso=api; do
    if has_label "$L" "$W" "$k"; then
        echo "# NOTE: the refused write $k was applied after the heal (indeterminate refusal)"
    fi
done
echo "ok: the healed follower caught up and is Reachable ($((SECONDS - T_START)) s)"

# --- the leader -------------------------------------------------------------------------------
L=$(agree 1 2 3) || fail "no agreed leader before the leader partition: $(mstatus 1)"
read -ra M <<<"$(managers_but "$L")"
# The old leader acts as one while its node ls shows itself as Leader (a refusal or another
# Leader means it stepped down). It is polled in turn with the majority, so a claim seen after
# the majority showed a new leader is a real-time overlap of two leaders.
still_leader() {
    local out
    out=$(nh_docker "$L" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null) || return 1
    CLAIM_LS=$(echo "$out" | tr '\n' ';')
    echo "$out" | grep -q "^${ID[$L]} Leader"
}
t0=$(now_ms)
nh_partition "$L"
new="" claim_ms="" claim_ls=""
while [ $(($(now_ms) - t0)) -lt 15000 ]; do
    if still_leader; then claim_ms=$(($(now_ms) - t0)); fi
    new=$(agree "${M[@]}" 2>/dev/null) || new=""
    if [ -n "$new" ] && [ "$new" != "$L" ]; then break; fi
    new=""
    sleep 0.05
done
elect_ms=$(($(now_ms) - t0))
[ -n "$new" ] || fail "the majority ${M[*]} elected no new leader within 15 s: $(mstatus "${M[0]}")"
# Then until the old leader stops claiming (5 s at most).
while still_leader; do
    claim_ms=$(($(now_ms) - t0))
    [ -n "$claim_ls" ] || claim_ls=$CLAIM_LS
    [ $((claim_ms - elect_ms)) -lt 5000 ] ||
        fail "the partitioned old leader still shows itself as Leader 5 s after the majority" \
            "elected host $new: $CLAIM_LS"
    sleep 0.05
done
stepdown_ms=$(($(now_ms) - t0))
if [ -n "$claim_ms" ] && [ "$claim_ms" -gt "$elect_ms" ]; then
    soft_fail "two leaders: the majority showed host $new as Leader ${elect_ms} ms after the" \
        "partition, while the partitioned old leader (host $L) still showed itself as Leader" \
        "until ${claim_ms} ms (node ls there: $claim_ls)"
fi
still_leader && fail "the partitioned old leader claims leadership again: $CLAIM_LS"
nh_docker "$new" node update --label-add part3=new-leader "$W" >/dev/null ||
    fail "new leader could not write"
nh_docker "${M[0]}" node update --label-add part3b=majority "$W" >/dev/null ||
    fail "majority could not write"
ok_ms=$(($(now_ms) - t0))
out=$(nh_docker "$L" node update --label-add old=leader "$W" 2>&1) &&
    fail "partitioned old leader acknowledged a write: $out"
res=$(api_write "$L" "$new" old api)
[ "${res%% *}" != 200 ] || fail "partitioned old leader acknowledged an API write: $res"
echo "# partitioned old leader: POST update → $res"
ls_out=$(nh_docker "$L" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>&1) && ls_rc=0 || ls_rc=$?
nh_wait_for 15 "partitioned leader shown Unreachable by the new leader" \
    is_mstatus "$new" "${ID[$L]}" Unreachable
unreach_ms=$(($(now_ms) - t0))
echo "# leader partition: new leader (host $new) agreed by the majority after ${elect_ms} ms," \
    "majority writes done by ${ok_ms} ms; the old leader last seen claiming at" \
    "${claim_ms:-never} ms, seen stepped down at ${stepdown_ms} ms; shown Unreachable by" \
    "${unreach_ms} ms"
echo "# partitioned old leader: write → '$out';" \
    "node ls (exit $ls_rc): $(echo "$ls_out" | tr '\n' ';')"
t0=$(now_ms)
nh_heal "$L"
# The old leader coming back must not depose the new one either.
seen=$(steady "${M[0]}" "$new" "$t0" 3000)
if [ -n "$seen" ]; then
    heal_logs "$new" "$L"
    soft_fail "healing the partitioned old leader (host $L) deposed the new leader (host $new):" \
        "manager ${M[0]}'s node ls ($seen)"
fi
nh_wait_for 15 "exactly one leader on every manager after the heal" agree 1 2 3
final=$(agree 1 2 3)
nh_wait_for 15 "healed old leader has the majority's writes" has_label "$L" "$W" part3b=majority
if [ "$final" != "$L" ]; then
    nh_wait_for 15 "healed old leader Reachable" is_mstatus "$final" "${ID[$L]}" Reachable
fi
heal_ms=$(($(now_ms) - t0))
echo "# leader heal: one leader, caught up and Reachable ${heal_ms} ms after the heal"
for k in old=leader old=api; do
    if has_label "$final" "$W" "$k"; then
        echo "# NOTE: the old leader's refused write $k was applied after the heal"
    fi
done
echo "ok: leader partition: host $new took over, host $L stepped down, one leader" \
    "(host $final) after the heal ($((SECONDS - T_START)) s)"

# =============================================================================================
# 3. Restart of every node
# =============================================================================================
snapshot() { # host: "ID role labels-json" per node, sorted
    local id
    for id in $(nh_docker "$1" node ls -q); do
        nh_docker "$1" node inspect "$id" -f '{{.ID}} {{.Spec.Role}} {{json .Spec.Labels}}'
    done | sort
}
nh_wait_for 15 "worker ready before the restart" is_state 1 "$W" ready
before=$(snapshot 1)
[ "$(echo "$before" | wc -l)" -eq 4 ] || fail "node ls before the restart: $before"
for i in 4 1 2 3; do
    nh_stop "$i" || fail "host $i did not stop cleanly on SIGTERM (exit ${NH_EXIT[i]})"
done
# Started together: a manager settles (and opens its API) only once its etcd has quorum, so
# each start returns at once (NH_START_TIMEOUT=0 makes nh_start not wait for /_ping; it leaves the
# daemon running and recorded) and the pings are awaited afterwards.
t0=$(now_ms)
for i in 1 2 3 4; do NH_START_TIMEOUT=0 nh_start "$i" 2>/dev/null || true; done
for i in 1 2 3 4; do
    nh_alive "$i" || fail "host $i died at start: $(tail -n 5 "${NH_LOG[i]}")"
    nh_wait_for 20 "host $i answers /_ping" nh_curl "$i" -f -o /dev/null http://x/_ping
done
for i in 1 2 3; do nh_wait_for 15 "manager $i shows one leader after the restart" one_leader "$i"; done
nh_wait_for 5 "managers agree on the leader" agree 1 2 3
for i in 1 2 3 4; do
    nh_wait_for 15 "node $i Ready after the restart" is_state 1 "${ID[$i]}" ready
done
restart_ms=$(($(now_ms) - t0))
for i in 1 2 3 4; do
    [ "$(nh_docker "$i" info -f '{{.Swarm.NodeID}}')" = "${ID[$i]}" ] ||
        fail "host $i changed identity"
done
for i in 1 2 3; do
    after=$(snapshot "$i")
    [ "$after" = "$before" ] || fail "manager $i after the restart:\n$after\nbefore:\n$before"
    for j in 1 2 3; do
        [ "$(status_of "$i" "${ID[$j]}")" != Unreachable ] ||
            fail "manager $i: $j Unreachable: $(mstatus "$i")"
    done
done
# The first write goes to the leader the managers agree on; right after a full restart the
# agreement can lapse for a moment (a manager's node ls still settling), so the write is retried
# until it lands, with a deadline, and each miss is recorded.
write_on_leader() {
    local l
    l=$(agree 1 2 3) || {
        echo "no agreed leader: $(for i in 1 2 3; do printf '%s:%s ' "$i" "$(leaders_of "$i" 2>&1 | tr '\n' ,)"; done)" \
            >>"$NH_ROOT/restart-write.log"
        return 1
    }
    nh_docker "$l" node update --label-add restarted=yes "$W" >>"$NH_ROOT/restart-write.log" 2>&1
}
: >"$NH_ROOT/restart-write.log"
t_w=$(now_ms)
until write_on_leader; do
    [ $(($(now_ms) - t_w)) -lt 10000 ] || fail "no write after the restart: $(cat "$NH_ROOT/restart-write.log")"
    sleep 0.1
done
misses=$(grep -vc "^$W\$" "$NH_ROOT/restart-write.log" || true)
echo "# first write after the restart acknowledged after $(($(now_ms) - t_w)) ms ($misses misses)"
echo "# full restart: one leader and every node Ready ${restart_ms} ms after the start"
echo "ok: restart of every node keeps IDs, roles, labels; one leader; all Ready" \
    "($((SECONDS - T_START)) s)"
if [ ${#SOFT[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${SOFT[@]}" >&2
    exit 1
fi
