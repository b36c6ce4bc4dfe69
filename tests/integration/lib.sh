# tests/integration/lib.sh — helpers for the black-box integration tests (sourced, not run).
#
# What it gives a test script:
#   - it_init: checks the tools (etcd, a docker CLI, curl, jq, python3, the shoal binary; a
#     missing one skips the test with exit 77, or fails it when CI is set: see need_tool;
#     need_docker20 for CLI 20.10), makes one temp dir ($T), picks two free 127.0.0.1 ports for
#     etcd and installs the cleanup trap;
#   - start_daemon / stop_daemon: one shoal daemon at a time ($SHOAL_BIN, default build/shoal)
#     on $T/sock and $T/root, started in the background and awaited by PID;
#   - dk / dk20 (the newest docker CLI installed / CLI 20.10, against that socket, bounded in
#     time; has_docker28 guards checks of CLI 28's own wording), run / run_in (capture
#     RC, OUT, ERR), api (curl --unix-socket: STATUS, HDRS, BODY), header, jqr / jqc, raw_http;
#   - assert_* (print expected vs actual, exit 1 at once) and expect_eq (deferred: recorded, the
#     test goes on, it_finish fails it), used for wording where later steps do not depend on it;
#   - it_finish: stops the daemon (exit status 0 and no sanitizer report required) and reports.
#
# Invariants: the test runs in a network namespace of its own (as root; see it_init); the
# cleanup trap only ever signals PIDs this test started (the daemons, and the
# etcd children it saw under them, checked by /proc cmdline to contain $T so a recycled PID is
# never hit); it never kills by name. Everything the test writes lives under $T, which the trap
# removes. Traffic goes only to the daemon's unix socket or 127.0.0.1.
# Runs in the test's bash process (single-threaded shell).

# shellcheck shell=bash disable=SC2034  # the MSG_*/RE_* constants below are for the tests
IT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHOAL_BIN=${SHOAL_BIN:-$IT_ROOT/build/shoal}
DOCKER28=${DOCKER28:-/usr/local/bin/docker}
DOCKER20=${DOCKER20:-/usr/bin/docker}
# dk's CLI: 28.x where it is installed (these development machines), else Debian's 20.10
# (a fresh Debian 12 after scripts/install-deps.sh).
if [ -x "$DOCKER28" ]; then DOCKER_CLI=$DOCKER28; else DOCKER_CLI=$DOCKER20; fi
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
# Every CLI call is bounded so a hung daemon fails the test instead of the runner's timeout.
CMD_TIMEOUT=${CMD_TIMEOUT:-20}

T=""
DAEMON_PID=""
DAEMON_N=0
DAEMON_LOG=""
SOCK=""
DATA_ROOT=""
ETCD_CPORT=""
ETCD_PPORT=""
IT_PIDS=()      # every PID this test started (daemons, helper processes)
IT_ETCD_PIDS=() # etcd children seen under our daemons (for cleanup after a SIGKILL)
IT_CLEANUP_HOOKS=() # functions run by the cleanup trap after the daemons are gone, before $T goes

skip()
{
    echo "SKIP: $*"
    exit 77
}

# need_tool WHAT: a tool the test needs is missing. Outside CI the test is skipped (exit 77);
# with CI set it fails, so that a green CI run means every test ran.
need_tool()
{
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI is set: a missing tool fails the run; run scripts/install-deps.sh)"
        exit 1
    fi
    skip "$*"
}

log()
{
    echo "# $*"
}

# --- failure reporting ---------------------------------------------------------------------

fail()
{
    {
        echo "FAIL: $1"
        shift
        local line
        for line in "$@"; do
            echo "  $line"
        done
        echo "  at: ${BASH_SOURCE[2]:-?}:${BASH_LINENO[1]:-?}"
        if [ ${#IT_DEFERRED[@]} -gt 0 ]; then
            echo "  and ${#IT_DEFERRED[@]} deferred failure(s) before it:"
            local d
            for d in "${IT_DEFERRED[@]}"; do
                echo "  - $d"
            done
        fi
        if [ -n "$DAEMON_LOG" ] && [ -f "$DAEMON_LOG" ]; then
            echo "  --- last lines of $(basename "$DAEMON_LOG") ---"
            tail -n 15 "$DAEMON_LOG" | sed 's/^/  | /'
        fi
    } >&2
    exit 1
}

# Show a value on one line, making control characters and trailing blanks visible.
_show()
{
    printf '%s' "$1" | python3 -c 'import sys; print(repr(sys.stdin.read()))'
}

assert_eq()
{ # expected actual what
    if [ "$1" != "$2" ]; then
        fail "${3:-values differ}" "expected: $(_show "$1")" "actual:   $(_show "$2")"
    fi
}

# Deferred assertions: a mismatch is recorded and the test goes on, so one run reports every
# difference in wording; it_finish then fails the test (exit 1) if any was recorded. Use these
# only where later steps do not depend on the value (messages, output text).
IT_DEFERRED=()
_defer()
{
    IT_DEFERRED+=("$1")
    echo "# deferred failure: ${1%%$'\n'*}" >&2
}

expect_eq()
{ # expected actual what
    if [ "$1" != "$2" ]; then
        _defer "${3:-values differ} (${BASH_SOURCE[1]}:${BASH_LINENO[0]})
    expected: $(_show "$1")
    actual:   $(_show "$2")"
    fi
}

# it_finish: stop the daemon (if running) and fail if a deferred assertion failed.
it_finish()
{
    # stopping checks the exit status and the sanitizer report (deferred failures)
    if daemon_alive; then
        stop_daemon
    fi
    if [ ${#IT_DEFERRED[@]} -gt 0 ]; then
        {
            echo "FAIL: ${#IT_DEFERRED[@]} deferred assertion(s) failed:"
            local d
            for d in "${IT_DEFERRED[@]}"; do
                echo "  - $d"
            done
        } >&2
        exit 1
    fi
    echo "PASS"
}

assert_ne()
{ # unexpected actual what
    if [ "$1" == "$2" ]; then
        fail "${3:-values should differ}" "both are: $(_show "$2")"
    fi
}

assert_contains()
{ # haystack needle what
    if [[ "$1" != *"$2"* ]]; then
        fail "${3:-missing text}" "expected to contain: $(_show "$2")" "actual: $(_show "$1")"
    fi
}

assert_not_contains()
{ # haystack needle what
    if [[ "$1" == *"$2"* ]]; then
        fail "${3:-unexpected text}" "expected NOT to contain: $(_show "$2")" \
            "actual: $(_show "$1")"
    fi
}

assert_match()
{ # string regex what   (bash ERE, whole-string match: anchor yourself if needed)
    if ! [[ "$1" =~ $2 ]]; then
        fail "${3:-no match}" "expected to match: $2" "actual: $(_show "$1")"
    fi
}

# After `run`: check the exit code.
assert_rc()
{ # expected_rc what
    if [ "$RC" != "$1" ]; then
        fail "${2:-exit code} (command: ${RUN_CMD})" "expected exit code: $1" \
            "actual exit code:   $RC" "stdout: $(_show "$OUT")" "stderr: $(_show "$ERR")"
    fi
}

# After `api`: check the HTTP status.
assert_status()
{ # expected_status what
    if [ "$STATUS" != "$1" ]; then
        fail "${2:-HTTP status} (request: ${API_REQ})" "expected status: $1" \
            "actual status:   $STATUS" "body: $(_show "$BODY")"
    fi
}

# --- running commands ----------------------------------------------------------------------

# run CMD...: runs it (a command or a function; dk/dk20 bound their own run time); sets RC, OUT (stdout), ERR (stderr), OUT_RAW/ERR_RAW
# (exact bytes, trailing newlines kept, as files $T/run.out and $T/run.err).
run()
{
    RUN_CMD="$*"
    set +e
    "$@" >"$T/run.out" 2>"$T/run.err" </dev/null
    RC=$?
    set -e
    OUT=$(cat "$T/run.out")
    ERR=$(cat "$T/run.err")
    OUT_RAW=$(cat "$T/run.out"; printf x)
    OUT_RAW=${OUT_RAW%x}
    ERR_RAW=$(cat "$T/run.err"; printf x)
    ERR_RAW=${ERR_RAW%x}
}

# run_in STDIN_TEXT CMD...: like run, with STDIN_TEXT on stdin.
run_in()
{
    local input=$1
    shift
    RUN_CMD="$* (stdin given)"
    set +e
    printf '%s\n' "$input" | "$@" >"$T/run.out" 2>"$T/run.err"
    RC=$?
    set -e
    OUT=$(cat "$T/run.out")
    ERR=$(cat "$T/run.err")
}

# The docker CLIs, pointed at the current daemon, with a private config dir, bounded in time.
# dk: CLI 28 where installed, else 20.10 (checks of 28's own wording are guarded by has_docker28).
dk()
{
    DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$T/docker-config" DOCKER_CLI_HINTS=false \
        timeout -k 5 "$CMD_TIMEOUT" "$DOCKER_CLI" "$@"
}

has_docker28()
{
    [ -x "$DOCKER28" ]
}

# dk20: CLI 20.10 when installed; otherwise the steps that need a CLI run with 28.x, and the
# checks whose expected text is 20.10's own are guarded with has_docker20.
dk20()
{
    if ! has_docker20; then
        dk "$@"
        return
    fi
    DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$T/docker-config" \
        timeout -k 5 "$CMD_TIMEOUT" "$DOCKER20" "$@"
}

has_docker20()
{
    [ -x "$DOCKER20" ]
}

# Run a docker command and require exit 0; prints its stdout.
dk_ok()
{
    run dk "$@"
    assert_rc 0 "docker $*"
    printf '%s\n' "$OUT"
}

# api METHOD PATH [BODY [CONTENT_TYPE]]: one request over the unix socket.
# Sets STATUS, BODY, HDRS (raw header block, CRs removed), API_REQ.
api()
{
    local method=$1 path=$2
    local args=(-sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/api.body"
        -D "$T/api.hdrs" -w '%{http_code}')
    if [ "$method" = HEAD ]; then
        args+=(-I)
    else
        args+=(-X "$method")
    fi
    if [ $# -ge 3 ]; then
        args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
    fi
    API_REQ="$method $path"
    set +e
    STATUS=$(curl "${args[@]}" "http://localhost$path")
    local rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        fail "curl failed (rc $rc) for $API_REQ" "$(cat "$T/api.hdrs" 2>/dev/null)"
    fi
    BODY=$(cat "$T/api.body"; printf x)
    BODY=${BODY%x}
    # curl -I writes the header block to -o too; use raw_http to see what follows a HEAD reply
    [ "$method" != HEAD ] || BODY=""
    HDRS=$(tr -d '\r' <"$T/api.hdrs")
}

# raw_http REQUEST_TEXT: send these exact bytes (escapes such as \r\n are expanded by python's
# unicode_escape) to the socket, read until the daemon closes (5 s max), set RAW to the reply.
raw_http()
{
    RAW=$(python3 - "$SOCK" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    data += b"<timeout>"
sys.stdout.write(data.decode("latin-1"))
sys.stdout.write("x")
PYEOF
    )
    RAW=${RAW%x}
}

# header NAME: value of a response header of the last `api` call (case-insensitive name).
header()
{
    printf '%s\n' "$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
        { i = index($0, ":"); if (i == 0) next
          k = tolower(substr($0, 1, i - 1))
          if (k == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# jqr FILTER [JSON]: jq -r on JSON (default: $BODY). Fails the test on invalid JSON.
jqr()
{
    local json=${2-$BODY}
    local v
    if ! v=$(printf '%s' "$json" | jq -r "$1" 2>&1); then
        fail "invalid JSON or jq filter '$1'" "json: $(_show "$json")" "jq: $v"
    fi
    printf '%s\n' "$v"
}

# jqc FILTER [JSON]: jq -c (compact JSON output).
jqc()
{
    local json=${2-$BODY}
    local v
    if ! v=$(printf '%s' "$json" | jq -c "$1" 2>&1); then
        fail "invalid JSON or jq filter '$1'" "json: $(_show "$json")" "jq: $v"
    fi
    printf '%s\n' "$v"
}

# --- ports, daemon lifecycle ---------------------------------------------------------------

# free_ports N: prints N distinct free TCP ports on 127.0.0.1 (kept bound until all are chosen).
free_ports()
{
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

_it_cleanup()
{
    local rc=$?
    set +e
    # any failure is exit 1 (set -e may leave a command's own status); 77 stays a skip
    [ $rc -eq 0 ] || [ $rc -eq 77 ] || rc=1
    local p
    [ -n "$DAEMON_PID" ] && _note_etcd_children
    for p in "${IT_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
        fi
    done
    local i
    for i in $(seq 1 50); do
        local alive=0
        for p in "${IT_PIDS[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${IT_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    # etcd children left behind by a daemon that died or was SIGKILLed: only if the PID is
    # still an etcd whose command line points into our temp dir.
    for p in "${IT_ETCD_PIDS[@]}"; do
        if [ -n "$T" ] && [ -r "/proc/$p/cmdline" ] &&
            tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$T"; then
            kill -KILL "$p" 2>/dev/null
        fi
    done
    for p in "${IT_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    local h
    for h in "${IT_CLEANUP_HOOKS[@]}"; do
        "$h"
    done
    if [ -n "$T" ] && [ -d "$T" ]; then
        rm -rf -- "$T"
    fi
    exit $rc
}

# it_init: tool checks, temp dir, trap. Call once at the top of every test.
# As root, the test first re-runs itself in a network namespace of its own (loopback only),
# so that its daemon's peer port 2377 and everything else it binds never meet another test's
# or a service of the machine, and tests may run side by side.
it_init()
{
    if [ -z "${SHOAL_IT_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
        export SHOAL_IT_NETNS=1
        exec unshare --net -- bash -c 'ip link set lo up && exec bash "$@"' bash "$0" "$@"
    fi
    local tool
    for tool in curl jq python3 timeout; do
        command -v "$tool" >/dev/null 2>&1 || need_tool "$tool not installed"
    done
    [ -x "$ETCD_BIN" ] || need_tool "etcd not installed at $ETCD_BIN"
    [ -x "$DOCKER_CLI" ] || need_tool "no docker CLI at $DOCKER28 or $DOCKER20"
    [ -x "$SHOAL_BIN" ] || need_tool "shoal binary not built: $SHOAL_BIN"
    has_docker28 || log "docker CLI 28 not installed at $DOCKER28: steps run with 20.10, checks of 28's wording skipped"
    T=$(mktemp -d /tmp/shoal-it.XXXXXX)
    mkdir -p "$T/docker-config"
    trap _it_cleanup EXIT
    trap 'echo "FAIL: command failed (status $?) at ${BASH_SOURCE[0]}:${LINENO}: ${BASH_COMMAND}" >&2' ERR
    trap 'exit 1' INT TERM
    read -r ETCD_CPORT ETCD_PPORT < <(free_ports 2)
    DATA_ROOT="$T/root"
    SOCK="$T/sock"
}

need_docker20()
{
    has_docker20 || need_tool "docker CLI 20.10 not installed at $DOCKER20"
}

# For scripts that check 20.10 on the way: say so when its steps run with CLI 28 instead.
note_docker20()
{
    has_docker20 || log "docker CLI 20.10 not installed at $DOCKER20: its steps run with CLI 28"
}

# Record etcd children of the daemon (so cleanup can reap them even after a SIGKILL).
_note_etcd_children()
{
    local c
    for c in $(cat /proc/"$DAEMON_PID"/task/*/children 2>/dev/null); do
        IT_ETCD_PIDS+=("$c")
    done
}

# etcd_child_pid: the PID of the daemon's etcd child (empty if none).
etcd_child_pid()
{
    local c
    for c in $(cat /proc/"$DAEMON_PID"/task/*/children 2>/dev/null); do
        if tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q etcd; then
            echo "$c"
            return 0
        fi
    done
}

# start_daemon [EXTRA_ARGS...]: start shoal on $DATA_ROOT/$SOCK and wait until /_ping answers.
# Sets DAEMON_PID and DAEMON_LOG.
start_daemon()
{
    DAEMON_N=$((DAEMON_N + 1))
    DAEMON_LOG="$T/daemon.$DAEMON_N.log"
    rm -f "$SOCK"
    "$SHOAL_BIN" daemon --data-root "$DATA_ROOT" -H "unix://$SOCK" \
        --etcd-client-port "$ETCD_CPORT" --etcd-peer-port "$ETCD_PPORT" \
        --pidfile "$T/shoal.pid" "$@" >"$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    IT_PIDS+=("$DAEMON_PID")
    local i
    for i in $(seq 1 300); do
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            fail "daemon exited during start-up" "log: $(cat "$DAEMON_LOG")"
        fi
        if [ -S "$SOCK" ] && curl -s --max-time 2 --unix-socket "$SOCK" \
            -o /dev/null http://localhost/_ping 2>/dev/null; then
            _note_etcd_children
            return 0
        fi
        sleep 0.1
    done
    fail "daemon did not answer /_ping within 30 s"
}

# _sanitizer_summary FILE: empty if FILE holds no sanitizer report, else its first lines.
_sanitizer_summary()
{
    local f=$1
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" 2>/dev/null; then
        {
            grep -m 3 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|^SUMMARY' "$f"
            # the first stack (leak or error), up to 8 frames
            grep -m 1 -A 8 -E '^(Direct|Indirect) leak|^READ|^WRITE|runtime error:' "$f"
        } | sed 's/^/      /'
    fi
}

# Fails the test at once if FILE (default: the daemon log) holds a sanitizer report.
check_sanitizer_log()
{
    local f=${1:-$DAEMON_LOG} sum
    sum=$(_sanitizer_summary "$f")
    [ -z "$sum" ] || fail "sanitizer report in $f" "$sum"
}

# stop_daemon: SIGTERM the daemon and wait for it (max 20 s; a hang fails at once). A non-zero
# exit status or a sanitizer report in its log is a deferred failure (the test goes on, e.g.
# through a restart, and it_finish fails it), as is an etcd child left running.
stop_daemon()
{
    [ -n "$DAEMON_PID" ] || return 0
    _note_etcd_children
    local etcd
    etcd=$(etcd_child_pid)
    kill -TERM "$DAEMON_PID"
    local i
    for i in $(seq 1 200); do
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$DAEMON_PID" 2>/dev/null; then
        fail "daemon $DAEMON_PID did not exit within 20 s of SIGTERM"
    fi
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    local pid=$DAEMON_PID
    DAEMON_PID=""
    local sum
    sum=$(_sanitizer_summary "$DAEMON_LOG")
    if [ -n "$sum" ]; then
        _defer "sanitizer report from daemon $pid ($(basename "$DAEMON_LOG"))
$sum"
    fi
    if [ "$rc" != 0 ]; then
        _defer "daemon $pid exited with status $rc after SIGTERM (expected 0)"
    fi
    for i in $(seq 1 50); do
        [ -n "$etcd" ] && kill -0 "$etcd" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$etcd" ] && kill -0 "$etcd" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$etcd/cmdline" 2>/dev/null | grep -qF -- "$T"; then
        _defer "etcd child $etcd still running 5 s after daemon $pid exited"
    fi
}

# daemon_alive: 0 if the current daemon PID still runs.
daemon_alive()
{
    [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null
}

# Docker's messages, word for word (from the transcripts or moby's source where none was recorded).
MSG_ALREADY='This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.'
MSG_NOT_MANAGER='This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'
MSG_LOCKED='Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.'
MSG_NOT_IN_SWARM='This node is not part of a swarm'
# moby daemon/cluster/swarm.go Leave(): note the trailing blank, which Docker sends.
MSG_LEAVE_LAST='You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. '
MSG_BAD_ADVERTISE='advertise address must be a non-zero IP address or network interface (with optional port number)'
MSG_BAD_UNLOCK_KEY='swarm could not be unlocked: invalid key provided'
RE_ID='[0-9a-z]{25}'
RE_TOKEN='SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}'
RE_UNLOCK_KEY='SWMKEY-1-[A-Za-z0-9+/]{43}'

# --- swarm helpers -------------------------------------------------------------------------

# swarm_init [ARGS...]: docker swarm init --advertise-addr 127.0.0.1 ARGS; requires success.
swarm_init()
{
    run dk swarm init --advertise-addr 127.0.0.1 "$@"
    assert_rc 0 "docker swarm init"
    _note_etcd_children
}

# expect_active_after_start: dockerd starts its swarm component (waiting for it to be ready)
# before it serves the API, so a restarted manager is "active" as soon as /_ping answers.
# Records a deferred failure if not, then waits (max 15 s) so that the test can go on.
expect_active_after_start()
{
    api GET /v1.41/info
    expect_eq active "$(jqr .Swarm.LocalNodeState)" \
        "LocalNodeState as soon as the restarted daemon answers (${1:-restart})"
    wait_swarm_state active
}

# wait_swarm_state STATE [SECONDS]: poll GET /info until Swarm.LocalNodeState is STATE.
# Fails after SECONDS (default 15).
wait_swarm_state()
{
    local want=$1 secs=${2:-15} st=""
    for _ in $(seq 1 $((secs * 10))); do
        api GET /v1.41/info
        st=$(jqr .Swarm.LocalNodeState)
        [ "$st" = "$want" ] && return 0
        sleep 0.1
    done
    fail "LocalNodeState did not become $want within $secs s" "last: $st"
}

# The node ID of this daemon (from GET /info).
self_node_id()
{
    api GET /v1.41/info
    assert_status 200 "GET /info"
    jqr .Swarm.NodeID
}
