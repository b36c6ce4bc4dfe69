#!/usr/bin/env bash
# events.sh — swarm node events: `docker events --since/--until` shows node updates as Docker
# does (Type node, Action update, scope swarm, name and availability.old/new attributes) and only
# inside the window; a past window returns at once; a live stream (curl -N) sends its headers at
# once and then receives the event.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init

api GET /v1.41/info
id=$(jqr .Swarm.NodeID)
api GET "/v1.41/nodes/$id"
host=$(jqr .Description.Hostname)

now() { date +%s.%N; }

t0=$(now)
sleep 0.05
run dk node update --availability drain "$id"
assert_rc 0 "node update --availability drain"
t1=$(now)
sleep 1.1
t2=$(now)
run dk node update --label-add color=blue "$id"
assert_rc 0 "node update --label-add"
t3=$(now)

# --- a window that holds both updates, as JSON ----------------------------------------------
run dk events --since "$t0" --until "$t3" --filter type=node --format '{{json .}}'
assert_rc 0 "docker events --since --until (json)"
n=$(printf '%s\n' "$OUT" | grep -c . || true)
assert_eq 2 "$n" "number of node events in [t0, t3]"
first=$(printf '%s\n' "$OUT" | sed -n 1p)
second=$(printf '%s\n' "$OUT" | sed -n 2p)
assert_eq node "$(jqr .Type "$first")" "event Type"
assert_eq update "$(jqr .Action "$first")" "event Action"
assert_eq swarm "$(jqr .scope "$first")" "event scope"
assert_eq "$id" "$(jqr .Actor.ID "$first")" "event Actor.ID"
assert_eq "{\"availability.new\":\"drain\",\"availability.old\":\"active\",\"name\":\"$host\"}" \
    "$(jq -S -c .Actor.Attributes <<<"$first")" "attributes of the availability update"
assert_eq "{\"name\":\"$host\"}" "$(jq -S -c .Actor.Attributes <<<"$second")" \
    "attributes of the label update"
tn=$(jqr .timeNano "$first")
ts=$(jqr .time "$first")
assert_eq "${tn:0:10}" "$ts" "time is timeNano in seconds"
t0ns=$(tr -d . <<<"$t0")
t1ns=$(tr -d . <<<"$t1")
[ "$tn" -ge "$t0ns" ] && [ "$tn" -le "$t1ns" ] ||
    fail "first event's timeNano is not within the update command" "t0 $t0ns" "event $tn" "t1 $t1ns"

# --- the default text format ------------------------------------------------------------------
run dk events --since "$t0" --until "$t1"
assert_rc 0 "docker events --since --until (text)"
assert_match "$OUT" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,9}Z node update $id \(availability\.new=drain, availability\.old=active, name=$host\)\$" \
    "docker events text line"

# --- windows select by time -------------------------------------------------------------------
run dk events --since "$t2" --until "$t3" --filter type=node --format '{{.Actor.Attributes}}'
assert_rc 0
assert_eq "map[name:$host]" "$OUT" "window [t2, t3] holds only the label update"
run dk events --since "$t0" --until "$t1" --filter type=node --format '{{.Action}}'
assert_eq update "$OUT" "window [t0, t1] holds only the availability update"
run dk events --since "$t0" --until "$t3" --filter type=service
assert_rc 0
assert_eq "" "$OUT" "type=service filter: no node events"
run dk events --since "$t0" --until "$t3" --filter scope=local
assert_eq "" "$OUT" "scope=local filter: no swarm events"
run dk events --since "$t0" --until "$t3" --filter scope=swarm --filter type=node \
    --filter "node=$id" --format '{{.Type}}'
assert_eq $'node\nnode' "$OUT" "node=<id> filter"

# a past window comes back at once
start=$(date +%s%N)
api GET "/v1.41/events?since=${t0%.*}&until=${t3%.*}"
elapsed=$((($(date +%s%N) - start) / 1000000))
assert_status 200 "GET /events (past window)"
assert_eq application/json "$(header Content-Type)" "events Content-Type"
[ "$elapsed" -lt 2000 ] || fail "a past window took $elapsed ms (Docker answers at once)"
printf '%s\n' "$BODY" | while IFS= read -r line; do
    [ -z "$line" ] || jq -e . >/dev/null <<<"$line" || fail "events body line is not JSON" "$line"
done
api GET "/v1.41/events?since=$t0&until=$t3&filters=%7B%22type%22%3A%7B%22node%22%3Atrue%7D%7D"
assert_eq 2 "$(printf '%s\n' "$BODY" | grep -c '"Type":"node"' || true)" "GET /events with a node filter"
api GET "/v1.41/events?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D&until=$t3"
assert_status 400 "GET /events with an unknown filter"

# --- a live stream ----------------------------------------------------------------------------------
curl -sS -N -i -v --max-time 15 --unix-socket "$SOCK" \
    'http://localhost/v1.41/events?filters=%7B%22type%22%3A%7B%22node%22%3Atrue%7D%7D' \
    >"$T/stream.out" 2>"$T/stream.err" &
curl_pid=$!
IT_PIDS+=("$curl_pid")
# the headers come at once, before any event (dockerd flushes them when the stream opens);
# curl -i prints them to stdout only with the first body bytes, -v traces them on arrival
early=no
for _ in $(seq 1 30); do
    if grep -q '^< Transfer-Encoding: chunked' "$T/stream.err" 2>/dev/null; then
        early=yes
        break
    fi
    sleep 0.1
done
expect_eq yes "$early" "live stream: headers sent within 3 s, before any event"

run dk node update --availability active "$id"
assert_rc 0 "node update during the stream"
got=""
for _ in $(seq 1 50); do
    got=$(grep -a '"Type":"node"' "$T/stream.out" || true)
    [ -n "$got" ] && break
    sleep 0.1
done
[ -n "$got" ] || fail "live stream: no node event within 5 s of the update" "$(cat "$T/stream.out")"
hdrs=$(tr -d '\r' <"$T/stream.out")
assert_match "$hdrs" $'^HTTP/1\\.1 200 OK\n' "live stream status"
assert_contains "$hdrs" $'\nContent-Type: application/json\n' "live stream Content-Type"
assert_contains "$hdrs" $'\nTransfer-Encoding: chunked\n' "live stream is chunked"
assert_eq 1 "$(grep -c . <<<"$got")" "one event in the live stream"
assert_eq "{\"availability.new\":\"active\",\"availability.old\":\"drain\",\"name\":\"$host\"}" \
    "$(jq -S -c .Actor.Attributes <<<"$got")" "live event attributes"
assert_eq update "$(jqr .Action "$got")" "live event Action"
kill -0 "$curl_pid" 2>/dev/null || fail "the live stream ended after one event"
kill "$curl_pid"
wait "$curl_pid" 2>/dev/null || true
daemon_alive || fail "daemon died when a stream client went away"
api GET /_ping
assert_status 200 "/_ping after the stream client left"

it_finish
