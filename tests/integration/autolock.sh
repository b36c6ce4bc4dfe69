#!/usr/bin/env bash
# autolock.sh — swarm init --autolock, unlock-key (-q, --rotate), a restart that leaves the
# manager locked (info says locked, cluster calls get 503), a wrong key (exit 1, HTTP 401), the
# right key (unlocked, same node), then autolock off and a restart that is not locked.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
note_docker20
start_daemon

# The word dk's CLI starts its reminder with: 20.10 says "Please remember", 28 "Remember"
# (dk is 20.10 where 28 is not installed).
# 20.10 also puts a blank line between "Successfully rotated..." and the unlock text.
if has_docker28; then REMEMBER=Remember SEP=$'\n'; else REMEMBER="Please remember" SEP=$'\n\n'; fi

unlock_text()
{ # key -> dk's text, minus the final newline
    printf 'To unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the following key:\n\n    %s\n\n'"$REMEMBER"' to store this key in a password manager, since without it you\nwill not be able to restart the manager.' "$1"
}

# --- init --autolock prints the key ---------------------------------------------------------
run dk swarm init --autolock --advertise-addr 127.0.0.1
assert_rc 0 "swarm init --autolock"
_note_etcd_children
re="^Swarm initialized: current node \(($RE_ID)\) is now a manager\..*"
re+="To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions\."$'\n'
has_docker28 || re+=$'\n' # 20.10 puts a blank line before the unlock text
re+="To unlock a swarm manager after it restarts, run the \`docker swarm unlock\`"$'\n'
re+="command and provide the following key:"$'\n\n'"    ($RE_UNLOCK_KEY)"$'\n\n'
re+="$REMEMBER to store this key in a password manager, since without it you"$'\n'
re+="will not be able to restart the manager\."$'\n$'
assert_match "$OUT_RAW" "$re" "swarm init --autolock output"
node_id=${BASH_REMATCH[1]}
key0=${BASH_REMATCH[2]}

api GET /v1.41/swarm/unlockkey
assert_status 200 "GET /swarm/unlockkey"
assert_eq "{\"UnlockKey\":\"$key0\"}" "$(jqc .)" "GET /swarm/unlockkey"
api GET /v1.41/swarm
assert_eq true "$(jqr .Spec.EncryptionConfig.AutoLockManagers)" "AutoLockManagers"
run dk info
assert_contains "$OUT" $'\n  Autolock Managers: true\n' "docker info autolock"

run dk swarm unlock-key -q
assert_rc 0 "unlock-key -q"
assert_eq "$key0"$'\n' "$OUT_RAW" "unlock-key -q"
run dk swarm unlock-key
assert_rc 0 "unlock-key"
assert_eq "$(unlock_text "$key0")"$'\n' "$OUT_RAW" "unlock-key output"

# --- rotate ---------------------------------------------------------------------------------
run dk swarm unlock-key --rotate
assert_rc 0 "unlock-key --rotate"
assert_match "$OUT_RAW" $'^Successfully rotated manager unlock key\.'"$SEP"$'To unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the following key:\n\n    ('"$RE_UNLOCK_KEY"$')\n\n' \
    "unlock-key --rotate output"
key=${BASH_REMATCH[1]}
assert_ne "$key0" "$key" "key after --rotate"
run dk20 swarm unlock-key -q
assert_rc 0 "unlock-key -q (20.10)"
assert_eq "$key" "$OUT" "unlock-key -q after rotation (20.10)"

# --- restart: locked --------------------------------------------------------------------------
stop_daemon
start_daemon
api GET /v1.41/info
assert_status 200 "GET /info on a locked node"
assert_eq locked "$(jqr .Swarm.LocalNodeState)" "LocalNodeState after restart"
assert_eq "" "$(jqr .Swarm.NodeID)" "Info.Swarm.NodeID while locked (Docker shows none)"
run dk info
assert_rc 0 "docker info while locked"
assert_contains "$OUT" $'\n Swarm: locked\n' "docker info while locked"
assert_not_contains "$OUT" "NodeID:" "docker info while locked"
api HEAD /_ping
expect_eq locked "$(header Swarm)" "Swarm header of /_ping while locked"

run dk node ls
assert_rc 1 "node ls while locked"
assert_eq "Error response from daemon: $MSG_LOCKED" "$ERR" "node ls while locked"
for path in /v1.41/nodes /v1.41/swarm "/v1.41/nodes/$node_id"; do
    api GET "$path"
    assert_status 503 "GET $path while locked"
    assert_eq "$MSG_LOCKED" "$(jqr .message)" "GET $path while locked"
done

# wrong keys: a well-formed random key, the pre-rotation key, then a malformed one
wrong="SWMKEY-1-$(head -c 32 /dev/urandom | base64 -w0 | tr -d '=')"
run_in "$wrong" dk swarm unlock
assert_rc 1 "swarm unlock with a wrong key"
assert_eq "Error response from daemon: $MSG_BAD_UNLOCK_KEY" "$ERR" "swarm unlock with a wrong key"
run_in "$key0" dk20 swarm unlock
assert_rc 1 "swarm unlock with the pre-rotation key (20.10)"
assert_eq "Error response from daemon: $MSG_BAD_UNLOCK_KEY" "$ERR" "swarm unlock, old key (20.10)"
api POST /v1.41/swarm/unlock "{\"UnlockKey\":\"$wrong\"}"
assert_status 401 "POST /swarm/unlock with a wrong key"
assert_eq "$MSG_BAD_UNLOCK_KEY" "$(jqr .message)" "POST /swarm/unlock with a wrong key"
api POST /v1.41/swarm/unlock '{"UnlockKey":"not-a-key"}'
# moby UnlockSwarm: ParseHumanReadableKey fails -> errdefs.InvalidParameter -> 400
expect_eq 400 "$STATUS" "status of POST /swarm/unlock with a malformed key"
expect_eq "invalid key string" "$(jqr .message)" "POST /swarm/unlock with a malformed key"
api POST /v1.41/swarm/unlock '{"UnlockKey":'
assert_status 400 "POST /swarm/unlock with truncated JSON"
api GET /v1.41/info
assert_eq locked "$(jqr .Swarm.LocalNodeState)" "still locked after wrong keys"

# --- the right key -----------------------------------------------------------------------------
run_in "$key" dk swarm unlock
assert_rc 0 "swarm unlock with the right key"
assert_eq "" "$OUT" "swarm unlock prints nothing"
# Docker's unlock returns once the node is ready: active at once.
api GET /v1.41/info
assert_eq active "$(jqr .Swarm.LocalNodeState)" "LocalNodeState right after unlock"
assert_eq "$node_id" "$(jqr .Swarm.NodeID)" "same node after unlock"
run dk node ls -q
assert_rc 0 "node ls after unlock"
assert_eq "$node_id" "$OUT" "node ls after unlock"
api GET /v1.41/swarm/unlockkey
assert_eq "$key" "$(jqr .UnlockKey)" "unlock key after unlock"
run_in "$key" dk swarm unlock
assert_rc 1 "swarm unlock on an unlocked node"
assert_eq "Error: swarm is not locked" "$ERR" "swarm unlock on an unlocked node"

# --- autolock off, restart: not locked -----------------------------------------------------------
run dk swarm update --autolock=false
assert_rc 0 "swarm update --autolock=false"
assert_eq "Swarm updated." "$OUT" "swarm update --autolock=false output"
run dk swarm unlock-key
assert_rc 1 "unlock-key with autolock off"
assert_eq "no unlock key is set" "$ERR" "unlock-key with autolock off"
api GET /v1.41/swarm/unlockkey
assert_status 200 "GET /swarm/unlockkey with autolock off"
assert_eq '{"UnlockKey":""}' "$(jqc .)" "GET /swarm/unlockkey with autolock off"

stop_daemon
start_daemon
expect_active_after_start "restart with autolock off"
api GET /v1.41/info
assert_eq "$node_id" "$(jqr .Swarm.NodeID)" "same node after the restart"
run dk node ls -q
assert_rc 0 "node ls after the restart"
assert_eq "$node_id" "$OUT" "node ls after the restart"
run dk info
assert_contains "$OUT" $'\n  Autolock Managers: false\n' "docker info autolock off"

# --- autolock back on through swarm update: the CLI prints a new key ------------------------------
run dk swarm update --autolock=true
assert_rc 0 "swarm update --autolock=true"
assert_match "$OUT_RAW" $'^Swarm updated\.\nTo unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the following key:\n\n    ('"$RE_UNLOCK_KEY"$')\n\n'"$REMEMBER"' to store' \
    "swarm update --autolock=true output"
key2=${BASH_REMATCH[1]}
assert_ne "$key" "$key2" "a new key when autolock is turned on again"

it_finish
