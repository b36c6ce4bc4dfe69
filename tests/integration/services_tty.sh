#!/usr/bin/env bash
# services_tty.sh — `docker service create -t` on one node through the docker CLI: the task's
# container has a terminal (test -t, tty, TERM=xterm), inspect shows Config.Tty, its logs are
# the terminal's output served raw (no stdcopy headers, "\r\n" line ends) by `docker service
# logs --raw`, `docker logs` and the two APIs (with the raw-stream type), a service without -t
# still gets frames; a daemon restart keeps the container (same PID) and its logs, and new
# output after it is logged; service rm removes it. Also unlimited ulimits (-1: core=-1,
# stack 4194304:-1) seen inside a container, nofile=-1:-1 rejected by the runtime as under
# dockerd, and a soft -1 over a finite hard limit refused with go-units' words.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
svc_test_init

# hexlog FILE: the bytes of FILE in hex (no spaces, no newlines)
hexlog() { od -An -v -tx1 "$1" | tr -d ' \n'; }
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# wait_log_lines SERVICE N: until `service logs --raw` shows at least N lines (20 s)
wait_log_lines()
{
    local got=0
    for _ in $(seq 1 400); do
        got=$(dk service logs --raw "$1" 2>/dev/null | wc -l)
        [ "$got" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$1: $2 log lines expected within 20 s, got $got" "$(dk service logs --raw "$1" 2>&1)"
}

# --- a TTY service: the container sees a terminal --------------------------------------------
# `line` (stdin at EOF at once: no stdin is attached) then one line per second so that new
# output after the daemon restart shows it is still logged
run dk service create -d --name tt -t --stop-grace-period 1s busybox sh -c \
    'if test -t 1 && test -t 0; then echo tty-yes; else echo tty-no; fi; tty; echo "term=$TERM"; i=0; while :; do i=$((i+1)); echo "tick-$i"; sleep 1; done'
assert_rc 0 "service create -t"
wait_running tt 1
run dk service inspect tt --format '{{.Spec.TaskTemplate.ContainerSpec.TTY}}'
assert_eq true "$OUT" "service spec TTY"
wait_log_lines tt 4
ctr=$(dk ps -q --no-trunc --filter label=com.docker.swarm.service.name=tt)
assert_match "$ctr" '^[0-9a-f]{64}$' "the TTY task's container"
run dk inspect "$ctr" --format '{{.Config.Tty}} {{.Config.OpenStdin}} {{.State.Running}}'
assert_eq "true false true" "$OUT" "inspect Config.Tty of the TTY container"
run dk inspect "$ctr" --format '{{range .Config.Env}}{{println .}}{{end}}'
assert_not_contains "$OUT" "TERM=" "Config.Env keeps the spec's and the image's variables only"

# --- logs: raw, as the terminal wrote them ------------------------------------------------------
run dk service logs --raw tt
assert_rc 0 "service logs --raw of a TTY service"
first3=$(head -3 <<<"$OUT")
assert_match "$first3" $'^tty-yes\r\n/dev/pts/0\r\nterm=xterm\r$' "the task sees a terminal (test -t, tty, TERM)"
assert_match "$(sed -n 4p <<<"$OUT")" $'^tick-1\r$' "the first tick"
run dk service logs tt
assert_ne 0 "$RC" "service logs of a TTY service without --raw"
assert_contains "$ERR" "tty service logs only supported with --raw" "the CLI's own refusal"
run dk logs "$ctr"
assert_rc 0 "docker logs of the TTY container"
assert_match "$(head -1 <<<"$OUT")" $'^tty-yes\r$' "docker logs: the terminal's bytes"
assert_eq "" "$ERR" "docker logs: nothing on stderr (a terminal has one stream)"
dk logs --tail 3 "$ctr" >"$T/dl.out" 2>/dev/null
assert_eq 3 "$(wc -l <"$T/dl.out")" "docker logs --tail 3"
if has_docker20; then
    run dk20 service logs --raw tt
    assert_match "$(head -1 <<<"$OUT")" $'^tty-yes\r$' "CLI 20.10: service logs --raw of a TTY service"
    run dk20 logs "$ctr"
    assert_match "$(head -1 <<<"$OUT")" $'^tty-yes\r$' "CLI 20.10: docker logs of the TTY container"
fi

# the bytes on the wire: no stdcopy headers, "\r\n" kept; raw-stream for the container API
svc_id=$(dk service inspect tt --format '{{.ID}}')
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -D "$T/svc.hdr" -o "$T/svc.raw" \
    "http://localhost/v1.41/services/$svc_id/logs?stdout=1&stderr=1&tail=all"
assert_match "$(hexlog "$T/svc.raw")" "^$(hex $'tty-yes\r\n/dev/pts/0\r\nterm=xterm\r\ntick-1\r\n')" \
    "service logs API: raw bytes"
assert_contains "$(tr -d '\r' <"$T/svc.hdr")" "Content-Type: application/vnd.docker.raw-stream" \
    "service logs API: raw-stream type"
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/det.raw" \
    "http://localhost/v1.41/services/$svc_id/logs?stdout=1&stderr=1&details=1&tail=all"
task_id=$(dk service ps -q --no-trunc tt | head -1)
assert_match "$(head -1 "$T/det.raw" | tr -d '\r')" \
    "^com\.docker\.swarm\.node\.id=[0-9a-z]{25},com\.docker\.swarm\.service\.id=$svc_id,com\.docker\.swarm\.task\.id=$task_id tty-yes$" \
    "service logs API with details: the attributes, raw"
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/task.raw" \
    "http://localhost/v1.41/tasks/$task_id/logs?stdout=1&stderr=1&tail=all"
assert_match "$(hexlog "$T/task.raw")" "^$(hex $'tty-yes\r\n')" "task logs API: raw bytes"
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -D "$T/ctr.hdr" -o "$T/ctr.raw" \
    "http://localhost/v1.41/containers/$ctr/logs?stdout=1&stderr=1&tail=all"
assert_match "$(hexlog "$T/ctr.raw")" "^$(hex $'tty-yes\r\n/dev/pts/0\r\n')" "container logs API: raw bytes"
assert_contains "$(tr -d '\r' <"$T/ctr.hdr")" "Content-Type: application/vnd.docker.raw-stream" \
    "container logs API: raw-stream type"
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/ctr.err" \
    "http://localhost/v1.41/containers/$ctr/logs?stderr=1&tail=all"
assert_eq 0 "$(stat -c %s "$T/ctr.err")" "container logs API, stderr only: nothing (the terminal is stdout)"

# a service without -t still gets stdcopy frames
run dk service create -d --name plain --restart-condition none busybox sh -c 'test -t 1 && echo tty-yes || echo tty-no'
assert_rc 0 "service create without -t"
for _ in $(seq 1 400); do
    st=$(dk service ps plain --format '{{.CurrentState}}' | head -1)
    [[ "$st" == Complete* ]] && break
    sleep 0.05
done
plain_id=$(dk service inspect plain --format '{{.ID}}')
curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/plain.raw" \
    "http://localhost/v1.41/services/$plain_id/logs?stdout=1&stderr=1"
assert_eq "0100000000000007$(hex $'tty-no\n')" "$(hexlog "$T/plain.raw")" "a service without -t: one stdcopy frame, no terminal"
run dk service rm plain
assert_rc 0 "service rm plain"

# --- a daemon restart keeps the TTY container and its logs ----------------------------------------
pid_before=$(dk inspect "$ctr" --format '{{.State.Pid}}')
lines_before=$(dk logs "$ctr" 2>/dev/null | wc -l)
stop_daemon
start_daemon "${EXEC_ARGS[@]}"
wait_swarm_state active
wait_running tt 1
run dk inspect "$ctr" --format '{{.State.Pid}} {{.Config.Tty}}'
assert_eq "$pid_before true" "$OUT" "the same TTY container after a daemon restart"
for _ in $(seq 1 100); do
    [ "$(dk logs "$ctr" 2>/dev/null | wc -l)" -gt $((lines_before + 1)) ] && break
    sleep 0.1
done
dk logs "$ctr" >"$T/after.out" 2>/dev/null
assert_match "$(head -1 "$T/after.out")" $'^tty-yes\r$' "logs from before the restart kept"
assert_ne "" "$(awk -v n="$lines_before" 'NR > n + 1' "$T/after.out")" "output after the restart is logged"
run dk service logs --raw tt
assert_match "$(head -1 <<<"$OUT")" $'^tty-yes\r$' "service logs --raw after the restart"

# --- service rm removes the TTY container ----------------------------------------------------------
run dk service rm tt
assert_rc 0 "service rm tt"
for _ in $(seq 1 400); do [ -z "$(dk ps -aq)" ] && break; sleep 0.05; done
run dk ps -aq
assert_eq "" "$OUT" "the TTY container removed after service rm"
for _ in $(seq 1 400); do [ "$(exec_running_count)" = 0 ] && break; sleep 0.05; done
assert_eq 0 "$(exec_running_count)" "no container process left"

# --- unlimited ulimits ------------------------------------------------------------------------------
# -1 is unlimited (dockerd hands the runtime uint64(-1), RLIM_INFINITY); the CLI sends -1 as it is
run dk service create -d --name lim --restart-condition none --ulimit core=-1 \
    busybox sh -c 'echo core=$(ulimit -c) hard=$(ulimit -Hc)'
assert_rc 0 "service create --ulimit core=-1"
api GET "/v1.41/services/lim"
assert_eq "-1 -1" "$(jqr '.Spec.TaskTemplate.ContainerSpec.Ulimits[] | select(.Name == "core") | "\(.Soft) \(.Hard)"')" \
    "core=-1 kept as Docker's -1"
# wait_task_end SERVICE: until its first task has ended (20 s); its state and error in $OUT
wait_task_end()
{
    for _ in $(seq 1 400); do
        run dk service ps "$1" --no-trunc --format '{{.CurrentState}} {{.Error}}'
        [[ "$OUT" == Complete* || "$OUT" == Failed* || "$OUT" == Rejected* ]] && return 0
        sleep 0.05
    done
}
wait_task_end lim
assert_match "$OUT" "^Complete" "the task with an unlimited core limit runs"
run dk service logs --raw lim
assert_eq "core=unlimited hard=unlimited" "$OUT" "unlimited core limit inside the container"
run dk service rm lim
assert_rc 0 "service rm lim"
# a finite soft limit under an unlimited hard one (CLI 20.10 refuses it, 28 sends it); stack,
# whose hard limit is unlimited for the daemon too (raising a hard limit needs
# CAP_SYS_RESOURCE, which a daemon in a container may lack)
if [ "$(ulimit -Hs)" = unlimited ]; then
    api POST /v1.41/services/create '{"Name":"lim2","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Command":["sh","-c","echo stack=$(ulimit -s) hard=$(ulimit -Hs)"],"Ulimits":[{"Name":"stack","Soft":4194304,"Hard":-1}]},"RestartPolicy":{"Condition":"none"}}}'
    assert_status 201 "service create with stack 4194304:-1 through the API"
    wait_task_end lim2
    assert_match "$OUT" "^Complete" "the task with soft 4 MiB, hard unlimited runs"
    run dk service logs --raw lim2
    assert_eq "stack=4096 hard=unlimited" "$OUT" "stack 4194304:-1 inside the container"
    run dk service rm lim2
    assert_rc 0 "service rm lim2"
else
    log "the hard stack limit here is not unlimited: soft 4 MiB, hard -1 not checked"
fi
# nofile cannot be unlimited on Linux (above fs.nr_open): the runtime refuses it, as under dockerd
run dk service create -d --name lim3 --restart-condition none --ulimit nofile=-1:-1 busybox true
assert_rc 0 "service create --ulimit nofile=-1:-1"
wait_task_end lim3
assert_match "$OUT" "^Rejected .*RLIMIT_NOFILE.*(not permitted|operation not permitted)" "nofile=-1:-1 rejected by the runtime"
run dk service rm lim3
assert_rc 0 "service rm lim3"

# a soft limit of -1 (unlimited) under a finite hard limit: refused at the task (the API takes it,
# as dockerd does; the CLI 28 refuses it first)
api POST /v1.41/services/create '{"Name":"badlim","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Command":["true"],"Ulimits":[{"Name":"core","Soft":-1,"Hard":1024}]},"RestartPolicy":{"Condition":"none"}}}'
assert_status 201 "service create with soft -1, hard 1024 through the API"
for _ in $(seq 1 400); do
    err=$(dk service ps badlim --no-trunc --format '{{.Error}}' | head -1)
    [ -n "$err" ] && break
    sleep 0.05
done
assert_contains "$err" "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024" \
    "the task's error for soft -1 over hard 1024"
run dk service rm badlim
assert_rc 0 "service rm badlim"

it_finish
