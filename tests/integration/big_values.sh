#!/usr/bin/env bash
# big_values.sh — objects larger than Docker's bound are refused, and big values never cost the
# leader its lease; three managers on network-namespace hosts.
#  1. 200 node updates with a 4 MB label, sent back to back through the Engine API: each is
#     refused with Docker's status and words (500 "rpc error: code = Unknown desc = raft: raft
#     message is too large and can't be sent": swarmkit bounds a store write at 1.5 MiB) and
#     nothing of it reaches the store; the same for a 1.6 MB label and for a swarm (cluster)
#     spec update with a 4 MB label.
#  2. 20 updates with a 1.4 MB label (under the bound) are acknowledged and replicated.
#  3. Meanwhile the leader keeps its lease: no daemon logs a leader change, and every manager
#     still shows the same Leader; a small update works at the end.
# Exits 0 (pass), 1 (fail) or 77 (the machine cannot run it).
set -euo pipefail
source "$(dirname "$0")/netns_lib.sh"

KEEP=$NH_TOP/build/test-logs/big_values.d
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        nh_keep_logs "$KEEP"
    fi
    nh_cleanup
}
fail() { echo "FAIL: $*" >&2; exit 1; }
leaders_of() { nh_docker "$1" node ls --format '{{.ID}} {{.ManagerStatus}}' | awk '$2 == "Leader" {print $1}'; }
agree() {
    local i l first=""
    for i in 1 2 3; do
        l=$(leaders_of "$i") || return 1
        if [ -z "$l" ] || [ "$(echo "$l" | wc -l)" -ne 1 ]; then return 1; fi
        if [ -z "$first" ]; then first=$l; fi
        [ "$l" = "$first" ] || return 1
    done
    echo "$first"
}
changes() { # leader changes logged by host $1 after byte offset $2
    tail -c +"$(($2 + 1))" "${NH_LOG[$1]}" | grep -c 'now the leader\|no longer the leader\|no longer leader' || true
}

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
nh_wait_for 15 "three managers agree on a leader" agree
LEADER=$(agree)
NODE=$(nh_docker 2 info -f '{{.Swarm.NodeID}}')
LHOST=""
for i in 1 2 3; do
    [ "$(nh_docker "$i" info -f '{{.Swarm.NodeID}}')" = "$LEADER" ] && LHOST=$i
done
declare -A OFF
for i in 1 2 3; do OFF[$i]=$(stat -c %s "${NH_LOG[i]}"); done

cat >"$NH_ROOT/big.py" <<'EOF'
import http.client, json, socket, sys, time

sock, kind, ident, size, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("x", timeout=30)
        self.upath = path
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.upath)
        self.sock = s

def call(method, url, body=None):
    c = Unix(sock)
    try:
        c.request(method, url, body=None if body is None else json.dumps(body),
                  headers={"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()

t0 = time.time()
for n in range(count):
    get = "/v1.41/nodes/" + ident if kind == "node" else "/v1.41/swarm"
    st, data = call("GET", get)
    assert st == 200, (st, data)
    obj = json.loads(data)
    spec = obj["Spec"]
    spec["Labels"] = dict(spec.get("Labels") or {})
    spec["Labels"]["big"] = "%d:" % n + "x" * size
    if kind == "node":
        url = "/v1.41/nodes/%s/update?version=%d" % (ident, obj["Version"]["Index"])
    else:
        url = "/v1.41/swarm/update?version=%d" % obj["Version"]["Index"]
    st, data = call("POST", url, spec)
    try:
        msg = json.loads(data).get("message", "") if data else ""
    except ValueError:
        msg = data[:200].decode(errors="replace")
    print(st, msg)
print("# %d updates of %d bytes in %.2f s" % (count, size, time.time() - t0), file=sys.stderr)
EOF
TOO_LARGE="500 rpc error: code = Unknown desc = raft: raft message is too large and can't be sent"
big() { python3 "$NH_ROOT/big.py" "${NH_SOCK[$1]}" "$2" "$3" "$4" "$5"; }

out=$(big 1 node "$NODE" $((4 * 1024 * 1024)) 200)
[ "$(echo "$out" | sort -u)" = "$TOO_LARGE" ] ||
    fail "4 MB label updates: expected 200 x '$TOO_LARGE', got: $(echo "$out" | sort | uniq -c | head -c 600)"
echo "ok: 200 node updates with a 4 MB label refused with Docker's 500 and words"
out=$(big 3 node "$NODE" 1600000 1)
[ "$out" = "$TOO_LARGE" ] || fail "1.6 MB label update: $out"
out=$(big "$LHOST" swarm "" $((4 * 1024 * 1024)) 1)
[ "$out" = "$TOO_LARGE" ] || fail "4 MB swarm label update: $out"
for i in 1 2 3; do
    [ -z "$(nh_docker "$i" node inspect "$NODE" -f '{{index .Spec.Labels "big"}}')" ] ||
        fail "manager $i has a refused label"
done
echo "ok: a 1.6 MB node label and a 4 MB swarm label refused; nothing refused was stored"

out=$(big 1 node "$NODE" 1400000 20)
[ "$(echo "$out" | sort -u)" = "200 " ] || fail "1.4 MB label updates: $(echo "$out" | sort | uniq -c)"
for i in 1 2 3; do
    nh_wait_for 10 "manager $i has the last 1.4 MB label" bash -c "
        DOCKER_HOST=unix://${NH_SOCK[i]} $NH_DOCKER node inspect $NODE -f '{{index .Spec.Labels \"big\"}}' |
            grep -q '^19:xxx'"
done
echo "ok: 20 updates with a 1.4 MB label acknowledged and replicated"

nh_docker 3 node update --label-add small=yes "$NODE" >/dev/null
[ "$(nh_docker 1 node inspect "$NODE" -f '{{index .Spec.Labels "small"}}')" = yes ] ||
    nh_wait_for 5 "small label replicated" bash -c \
        "[ \"\$(DOCKER_HOST=unix://${NH_SOCK[1]} $NH_DOCKER node inspect $NODE -f '{{index .Spec.Labels \"small\"}}')\" = yes ]"
[ "$(agree)" = "$LEADER" ] || fail "the leader changed from $LEADER to $(agree)"
for i in 1 2 3; do
    c=$(changes "$i" "${OFF[$i]}")
    [ "$c" -eq 0 ] || fail "host $i logged $c leader changes: $(tail -c +"$((OFF[$i] + 1))" "${NH_LOG[i]}" |
        grep 'leader' | head -n 5)"
done
echo "ok: the leader kept its lease throughout; small updates work"
