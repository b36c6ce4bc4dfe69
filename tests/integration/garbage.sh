#!/usr/bin/env bash
# garbage.sh — 1,000 hostile requests over the unix socket (random bytes, truncated request
# lines, bad chunked bodies, oversized headers, slowloris-style partial headers, invalid JSON on
# every POST route), from a small python3 client bounded in time. Afterwards the daemon is the
# same process, /_ping works, GET /swarm and GET /nodes are byte-identical to before, no
# descriptor leaked, and (sanitized build) no sanitizer report.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init

pid_before=$DAEMON_PID
api GET /v1.41/swarm
assert_status 200
swarm_before=$BODY
swarm_version=$(jqr .Version.Index)
api GET /v1.41/nodes
assert_status 200
nodes_before=$BODY
node_id=$(jqr '.[0].ID')
node_version=$(jqr '.[0].Version.Index')
# the baseline once the node's own session to its dispatcher (connections to 2377 and etcd,
# made shortly after init) is up: the count unchanged for 1 s, within 15 s
fds_before=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
stable=0
for _ in $(seq 1 300); do
    sleep 0.05
    n=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
    if [ "$n" = "$fds_before" ]; then stable=$((stable + 1)); else stable=0; fds_before=$n; fi
    [ $stable -ge 20 ] && break
done

cat >"$T/garbage.py" <<'PYEOF'
# Sends N hostile requests to a unix socket; prints a summary; exits 1 on a 2xx/500 answer to
# a request that had to be refused, or if the deadline passes.
import json, os, random, socket, sys, time

sock_path, node_id, swarm_ver, node_ver, n_total = sys.argv[1:6]
n_total = int(n_total)
rnd = random.Random(4242)
deadline = time.monotonic() + 40
stats = {}
bad = []

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(sock_path)
    return s

def send_close(data, pause=0.0):
    """Send and close without waiting for an answer."""
    s = connect()
    try:
        s.sendall(data)
        if pause:
            time.sleep(pause)
    except OSError:
        pass
    s.close()

def send_read(data):
    """Send a complete request; return the status code of the first answer (0 if none)."""
    s = connect()
    resp = b""
    try:
        s.sendall(data)
        while b"\r\n" not in resp:
            b = s.recv(4096)
            if not b:
                break
            resp += b
    except OSError:
        pass
    s.close()
    if resp.startswith(b"HTTP/1.1 ") and len(resp) >= 12:
        try:
            return int(resp[9:12])
        except ValueError:
            return -1
    return 0

def req(method, path, body=b"", extra=b""):
    return (b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%sConnection: close\r\n\r\n" % (
                method.encode(), path.encode(), len(body), extra)) + body

def invalid_json():
    """A body that no JSON parser may accept, or JSON of the wrong top-level type."""
    kind = rnd.randrange(12)
    if kind == 0:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
    if kind == 1:
        return b"{" * rnd.randrange(1, 5000)
    if kind == 2:
        return b"[" * 100000  # deep nesting
    if kind == 3:
        return b'{"Spec": {"Name": "default"'  # truncated
    if kind == 4:
        return b'{"a":1,}'
    if kind == 5:
        return b"{'single': 'quotes'}"
    if kind == 6:
        return b'{"ListenAddr": "\xff\xfe\x00bad utf8"}'
    if kind == 7:
        return b'{"x": 1e999999999999}x'
    if kind == 8:
        return rnd.choice([b"[1,2,3]", b'"a string"', b"12345", b"true"])
    if kind == 9:
        return b'{"Labels": {"a": 1}, "Role": 7, "Availability": []}'
    if kind == 10:
        return b'{"UnlockKey": ' + b"9" * 5000 + b"}"
    return b"\x00" * rnd.randrange(1, 100)

post_routes = [
    "/v1.41/swarm/init",
    "/v1.41/swarm/join",
    "/v1.41/swarm/update?version=%s" % swarm_ver,
    "/v1.41/swarm/update?version=%s&rotateWorkerToken=true" % swarm_ver,
    "/v1.41/swarm/unlock",
    "/v1.41/nodes/%s/update?version=%s" % (node_id, node_ver),
    "/swarm/init",
    "/v1.24/nodes/%s/update?version=%s" % (node_id, node_ver),
    "/v1.41/services/create",
]

def one(i):
    kind = i % 10
    if kind == 0:  # random bytes
        send_close(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4096))))
        return "random-bytes"
    if kind == 1:  # truncated request lines
        line = b"GET /v1.41/nodes HTTP/1.1\r\n"
        send_close(line[:rnd.randrange(1, len(line))])
        return "truncated-line"
    if kind == 2:  # nonsense request lines, answered
        if rnd.random() < 0.1:  # blank lines only: a server may wait for the request line
            send_close(b"\r\n" * rnd.randrange(1, 100))
            return "bad-request-line"
        send_read(rnd.choice([b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                              b"G\x00T /_ping HTTP/1.1\r\n\r\n", b"GET /_ping HTTP/1.1\r\nNoColon\r\n\r\n",
                              b"GET " + b"/a" * 50000 + b" HTTP/1.1\r\n\r\n",
                              b"POST /v1.41/swarm/init HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                              b"POST /v1.41/swarm/init HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                              b"POST /v1.41/swarm/init HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"]))
        return "bad-request-line"
    if kind == 3:  # bad chunked bodies
        # malformed (answerable at once) or merely incomplete (only sent, then closed)
        complete = rnd.random() < 0.6
        if complete:
            body = rnd.choice([b"ZZ\r\nabc\r\n0\r\n\r\n", b"ffffffffffffffffff\r\nx\r\n",
                               b"5\r\nabc\r\n0\r\n\r\n", b"-1\r\n\r\n", b"3\r\nabcXX0\r\n\r\n",
                               b"3;ext=" + b"e" * 10000 + b"\r\nabc\r\n0\r\n\r\n"])
        else:
            body = rnd.choice([b"2\r\n{}", b"10\r\n{\"a\":", b"", b"1"])
        path = rnd.choice(post_routes)
        data = (b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/json\r\n\r\n" % path.encode()) + body
        if not complete:
            send_close(data)
        else:
            st = send_read(data)
            if 200 <= st < 300:
                bad.append(("chunked", path, body[:40], st))
        return "bad-chunked"
    if kind == 4:  # oversized headers
        if rnd.random() < 0.5:
            data = b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * rnd.choice([70000, 1 << 20]) + b"\r\n\r\n"
        else:
            data = b"GET /_ping HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % k for k in range(20000)) + b"\r\n"
        send_read(data)
        return "oversized-headers"
    if kind == 5:  # slowloris-style: partial header, a pause, then close
        send_close(b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Slow: ", pause=rnd.choice([0, 0.01, 0.05]))
        return "slowloris"
    # 6..9: invalid JSON on every POST route
    path = post_routes[i % len(post_routes)]
    body = invalid_json()
    st = send_read(req("POST", path, body))
    stats.setdefault("status", {}).setdefault(st, 0)
    stats["status"][st] += 1
    if 200 <= st < 300 or st == 500 or st == 0:
        bad.append((path, body[:60], st))
    return "invalid-json"

# Hold 50 slowloris connections open during the run: the daemon must keep serving others.
held = []
for _ in range(50):
    s = connect()
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Held: ")
    held.append(s)

for i in range(n_total):
    if time.monotonic() > deadline:
        print("deadline passed after %d requests" % i)
        sys.exit(1)
    k = one(i)
    stats[k] = stats.get(k, 0) + 1

# a normal request while the 50 are still held
st = send_read(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
for s in held:
    s.close()
print(json.dumps({k: v for k, v in stats.items()}, default=str, sort_keys=True))
if st != 200:
    print("GET /_ping with 50 half-open connections held: status %d" % st)
    sys.exit(1)
if bad:
    print("requests that had to be refused got a 2xx, a 500 or no answer:")
    for b in bad[:20]:
        print("  %r" % (b,))
    sys.exit(1)
PYEOF

set +e
timeout -k 5 50 python3 "$T/garbage.py" "$SOCK" "$node_id" "$swarm_version" "$node_version" 1000 \
    >"$T/garbage.out" 2>&1
rc=$?
set -e
cat "$T/garbage.out"
[ $rc -eq 0 ] || fail "garbage client failed (exit $rc)" "$(tail -n 25 "$T/garbage.out")"

# --- the daemon is unharmed -------------------------------------------------------------------
daemon_alive || fail "daemon $pid_before died under garbage"
assert_eq "$pid_before" "$(cat "$T/shoal.pid")" "daemon PID (pidfile)"
api GET /_ping
assert_status 200 "/_ping after garbage"
assert_eq OK "$BODY" "/_ping body after garbage"
api GET /v1.41/swarm
assert_status 200 "GET /swarm after garbage"
assert_eq "$swarm_before" "$BODY" "GET /swarm byte-identical after garbage"
api GET /v1.41/nodes
assert_status 200 "GET /nodes after garbage"
assert_eq "$nodes_before" "$BODY" "GET /nodes byte-identical after garbage"
run dk node ls -q
assert_eq "$node_id" "$OUT" "docker node ls after garbage"

# no descriptor leaked: back to the baseline once the connections are gone
fds_after=0
for _ in $(seq 1 50); do
    fds_after=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
    [ "$fds_after" -le $((fds_before + 2)) ] && break
    sleep 0.1
done
[ "$fds_after" -le $((fds_before + 2)) ] ||
    fail "descriptors leaked" "before: $fds_before" "after: $fds_after"

check_sanitizer_log
it_finish
