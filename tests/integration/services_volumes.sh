#!/usr/bin/env bash
# services_volumes.sh — named local volumes for service mounts (--mount type=volume) on one
# node, through the docker CLI: a named volume created on first use keeps its data across
# service rm and create; `docker volume rm` of a volume in use is refused with Docker's 409
# words; copy-up of the image's content (modes, owners, symlinks, hard links), volume-nocopy,
# readonly; an anonymous volume goes with its task's container, not with a `docker rm` by
# hand (prune then takes it); a tmpfs volume of the local driver's options is mounted while in
# use; bad names and drivers REJECT the task as Docker does; the in-use state survives a
# daemon restart; docker volume ls (filters) / inspect / create / rm / prune.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
source "$(dirname "$0")/lib_exec.sh"
svc_test_init --seed-image
VOL="$DATA_ROOT/volumes"

# ctr_of SERVICE: the ID of the service's running container (waits for it)
ctr_of()
{
    local c=""
    for _ in $(seq 1 400); do
        c=$(dk ps -q --no-trunc --filter "label=com.docker.swarm.service.name=$1" | head -1)
        [ -n "$c" ] && break
        sleep 0.05
    done
    echo "$c"
}

# wait_log SERVICE TEXT: until the service's logs hold TEXT (20 s)
wait_log()
{
    local out=""
    for _ in $(seq 1 400); do
        out=$(dk service logs --raw "$1" 2>&1 || true)
        grep -qF -- "$2" <<<"$out" && return 0
        sleep 0.05
    done
    fail "$1: logs never showed '$2'" "$out"
}

# wait_rejected SERVICE: prints the Error of its first REJECTED task (20 s)
wait_rejected()
{
    local out=""
    for _ in $(seq 1 400); do
        out=$(dk service ps --no-trunc --format '{{.CurrentState}}|{{.Error}}' "$1" | grep '^Rejected' | head -1 || true)
        [ -n "$out" ] && break
        sleep 0.05
    done
    echo "${out#*|}"
}

# wait_gone SERVICE: after service rm, until its containers are removed
wait_gone()
{
    for _ in $(seq 1 400); do
        [ -z "$(dk ps -aq --filter "label=com.docker.swarm.service.name=$1")" ] && return 0
        sleep 0.05
    done
    fail "$1: containers still there after service rm"
}

# --- docker volume create / inspect / ls -----------------------------------------------------
run dk volume create --label team=a plain
assert_rc 0 "volume create"
assert_eq plain "$OUT" "volume create prints the name"
run dk volume inspect plain --format '{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Mountpoint}}|{{json .Labels}}'
assert_eq "plain|local|local|$VOL/plain/_data|{\"team\":\"a\"}" "$OUT" "volume inspect"
api GET /v1.41/volumes/plain
assert_status 200 "GET /volumes/plain"
assert_match "$(jqr .CreatedAt)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "CreatedAt as Docker's"
api POST /v1.41/volumes/create '{"Name":"plain","Labels":{"other":"x"}}'
assert_status 201 "create of an existing volume"
assert_eq '{"team":"a"}' "$(jqc .Labels)" "an existing volume is left as it is"
# Docker's shapes: maps given are kept ({}), maps not given are null
api POST /v1.41/volumes/create '{"Name":"shapes","DriverOpts":{}}'
assert_status 201 "create with DriverOpts {}"
assert_eq '{} null' "$(jqc .Options) $(jqc .Labels)" "Options {} given, Labels not given"
api DELETE /v1.41/volumes/shapes
assert_status 204 "DELETE /volumes/shapes"
api POST /v1.41/volumes/create '{"Name":"shapes","Labels":"x"}'
assert_status 400 "Labels of the wrong type"
assert_contains "$(jqr .message)" "json: cannot unmarshal string into Go struct field VolumeCreateBody.Labels" "Go's words"
run dk volume create 'a b'
assert_ne 0 "$RC" "volume create with a bad name"
assert_contains "$ERR" 'create a b: "a b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed' "bad name words"
run dk volume create --driver foo vfoo
assert_ne 0 "$RC" "volume create with an unknown driver"
assert_contains "$ERR" 'create vfoo: error looking up volume plugin foo: plugin "foo" not found' "unknown driver words"
run dk volume create --opt bogus=1 vbad
assert_contains "$ERR" 'create vbad: invalid option: "bogus"' "unknown option words"
run dk volume inspect nosuch
assert_ne 0 "$RC" "inspect of a missing volume"
assert_contains "${ERR,,}" "no such volume" "missing volume words (20.10 says No such volume)"
api DELETE /v1.41/volumes/nosuch
assert_status 404 "DELETE of a missing volume"
api DELETE "/v1.41/volumes/nosuch?force=1"
assert_status 204 "DELETE ?force=1 of a missing volume"

# --- a named volume: created on first use, data kept across service rm/create ----------------
run dk service create -d --name w1 --stop-grace-period 1s \
    --mount type=volume,source=data,target=/data,volume-label=made=by-task \
    busybox sh -c 'echo persisted > /data/f; sleep 100000'
assert_rc 0 "service create w1"
wait_running w1 1
c1=$(ctr_of w1)
for _ in $(seq 1 200); do [ -s "$VOL/data/_data/f" ] && break; sleep 0.05; done
assert_eq persisted "$(cat "$VOL/data/_data/f")" "the task wrote into the volume's _data"
run dk volume inspect data --format '{{.Driver}}|{{json .Labels}}|{{json .Options}}'
assert_eq 'local|{"made":"by-task"}|{}' "$OUT" "labels from VolumeOptions.Labels"
run dk inspect "$c1" --format '{{json .Mounts}}'
assert_eq "[{\"Type\":\"volume\",\"Name\":\"data\",\"Source\":\"$VOL/data/_data\",\"Destination\":\"/data\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,\"Propagation\":\"\"}]" "$OUT" "container inspect Mounts"
run dk inspect "$c1" --format '{{json .HostConfig.Mounts}}'
assert_eq '[{"Type":"volume","Source":"data","Target":"/data","VolumeOptions":{"Labels":{"made":"by-task"},"DriverConfig":{}}}]' "$OUT" "HostConfig.Mounts as dockerd shows them"

run dk volume rm data
assert_ne 0 "$RC" "volume rm of a volume in use"
assert_contains "$ERR" "remove data: volume is in use - [$c1]" "in-use words"
api DELETE "/v1.41/volumes/data?force=1"
assert_status 409 "DELETE ?force=1 of a volume in use"
run dk volume ls -q --filter dangling=true
assert_eq "plain" "$OUT" "dangling=true: the unused volume only"
run dk volume ls -q --filter dangling=false
assert_eq "data" "$OUT" "dangling=false: the volume in use"
run dk volume ls -q --filter name=pla
assert_eq "plain" "$OUT" "name= filter"
run dk volume ls -q --filter label=made=by-task
assert_eq "data" "$OUT" "label= filter"
run dk volume ls -q --filter driver=local
assert_eq "data
plain" "$OUT" "driver= filter"
api GET "/v1.41/volumes?filters=$(jq -rn '{dangling:["maybe"]}|@uri')"
assert_status 400 "dangling=maybe"
assert_eq "Invalid filter 'dangling=[maybe]'" "$(jqr .message)" "bad dangling words"
run dk volume ls --filter bogus=1
assert_contains "$ERR" "Invalid filter 'bogus'" "unknown filter"

run dk service rm w1
assert_rc 0 "service rm w1"
wait_gone w1
run dk volume ls -q
assert_eq "data
plain" "$OUT" "named volumes stay after service rm"
run dk service create -d --name w2 --stop-grace-period 1s \
    --mount type=volume,source=data,target=/data busybox sh -c 'cat /data/f; sleep 100000'
assert_rc 0 "service create w2"
wait_running w2 1
wait_log w2 persisted

# --- readonly, shared with w2 ---------------------------------------------------------------
run dk service create -d --name w5 --stop-grace-period 1s \
    --mount type=volume,source=data,target=/data,readonly \
    busybox sh -c 'if echo x > /data/g; then echo was-writable; else echo is-readonly; fi; sleep 100000'
assert_rc 0 "service create w5"
wait_running w5 1
wait_log w5 is-readonly
assert_eq "" "$(ls "$VOL/data/_data/g" 2>/dev/null || true)" "nothing written through a readonly mount"
run dk inspect "$(ctr_of w5)" --format '{{range .Mounts}}{{.Name}} {{.RW}}{{end}}'
assert_eq "data false" "$OUT" "inspect RW false for a readonly mount"

# --- copy-up of the image's content; volume-nocopy -------------------------------------------
run dk service create -d --name w3 --stop-grace-period 1s \
    --mount type=volume,source=seeded,target=/srv/seed seedbox sh -c 'cat /srv/seed/hello.txt; sleep 100000'
assert_rc 0 "service create w3"
wait_running w3 1
wait_log w3 "hello from the image"
d="$VOL/seeded/_data"
assert_eq "hello from the image" "$(cat "$d/hello.txt")" "copy-up: a file"
assert_eq "640 1000:1001" "$(stat -c '%a %u:%g' "$d/hello.txt")" "copy-up: mode and owner"
assert_eq "hello.txt" "$(readlink "$d/link")" "copy-up: a symlink, copied as it is"
assert_eq "$(stat -c %i "$d/hello.txt")" "$(stat -c %i "$d/hard.txt")" "copy-up: a hard link stays one"
assert_eq "600 deep" "$(stat -c %a "$d/sub/deep.txt") $(cat "$d/sub/deep.txt")" "copy-up: a nested file"
assert_eq "750 1000:1000" "$(stat -c '%a %u:%g' "$d")" "copy-up: the volume takes the directory's mode and owner"
run dk service create -d --name w4 --stop-grace-period 1s \
    --mount type=volume,source=nc,target=/srv/seed,volume-nocopy seedbox sh -c 'ls -A /srv/seed; echo listed; sleep 100000'
assert_rc 0 "service create w4"
wait_running w4 1
wait_log w4 listed
assert_eq "" "$(ls -A "$VOL/nc/_data")" "volume-nocopy: the volume stays empty"

# --- anonymous volumes ----------------------------------------------------------------------
run dk service create -d --name w6 --stop-grace-period 1s --mount type=volume,target=/anon busybox sleep 100000
assert_rc 0 "service create w6"
wait_running w6 1
c6=$(ctr_of w6)
anon=$(dk inspect "$c6" --format '{{range .Mounts}}{{.Name}}{{end}}')
assert_match "$anon" '^[0-9a-f]{64}$' "an anonymous volume gets a random 64-hex name"
run dk volume inspect "$anon" --format '{{json .Labels}}'
assert_eq '{"com.docker.volume.anonymous":""}' "$OUT" "anonymous volumes carry Docker's label"
# docker rm by hand (no -v) keeps the anonymous volume; the replacement gets a new one
run dk rm -f "$c6"
assert_rc 0 "docker rm -f of w6's container"
wait_running w6 1
for _ in $(seq 1 400); do
    c6b=$(ctr_of w6)
    [ -n "$c6b" ] && [ "$c6b" != "$c6" ] && break
    sleep 0.05
done
anon2=$(dk inspect "$c6b" --format '{{range .Mounts}}{{.Name}}{{end}}')
assert_ne "$anon" "$anon2" "the replacement task has its own anonymous volume"
run dk volume ls -q
assert_contains "$OUT" "$anon" "docker rm without -v keeps the anonymous volume"
run dk service rm w6
assert_rc 0 "service rm w6"
wait_gone w6
for _ in $(seq 1 200); do dk volume ls -q | grep -qx "$anon2" || break; sleep 0.05; done
run dk volume ls -q
assert_not_contains "$OUT" "$anon2" "the task's anonymous volume is removed with its container"
assert_contains "$OUT" "$anon" "the orphaned anonymous volume is still there"

# --- the local driver's options: a tmpfs volume, mounted while used ----------------------------
run dk volume create --opt type=tmpfs --opt device=tmpfs --opt o=size=2m,mode=0770 tv
assert_rc 0 "volume create tmpfs"
run dk service create -d --name w7 --stop-grace-period 1s --mount type=volume,source=tv,target=/t \
    busybox sh -c 'echo in-tmpfs > /t/x; sleep 100000'
assert_rc 0 "service create w7"
wait_running w7 1
for _ in $(seq 1 200); do [ -s "$VOL/tv/_data/x" ] && break; sleep 0.05; done
assert_eq "tmpfs in-tmpfs" "$(stat -f -c %T "$VOL/tv/_data") $(cat "$VOL/tv/_data/x")" "a type=tmpfs volume is a tmpfs while in use"
assert_eq 770 "$(stat -c %a "$VOL/tv/_data")" "o= reaches the mount (mode=0770)"
run dk service rm w7
wait_gone w7
for _ in $(seq 1 200); do [ "$(stat -f -c %T "$VOL/tv/_data")" != tmpfs ] && break; sleep 0.05; done
assert_ne tmpfs "$(stat -f -c %T "$VOL/tv/_data")" "unmounted once unused"

# --- bad volume names and drivers REJECT the task (Docker: at the node, not at create) --------
run dk service create -d --name bad1 --mount 'type=volume,source=a b,target=/x' busybox sleep 100000
assert_rc 0 "service create with a bad volume name is accepted (as Docker)"
err=$(wait_rejected bad1)
assert_contains "$err" 'create a b: "a b" includes invalid characters for a local volume name' "bad name: the task is rejected with Docker's words"
run dk service create -d --name bad2 --mount 'type=volume,source=vx,target=/x,volume-driver=foo' busybox sleep 100000
assert_rc 0 "service create with an unknown volume driver"
err=$(wait_rejected bad2)
assert_contains "$err" 'create vx: error looking up volume plugin foo: plugin "foo" not found' "unknown driver: rejected naming the driver"
run dk service rm bad1 bad2
run dk volume ls -q
assert_not_contains "$OUT" "vx" "nothing created for a refused driver"

# --- daemon restart: the in-use state comes back from the containers ---------------------------
stop_daemon
start_daemon "${EXEC_ARGS[@]}"
wait_swarm_state active
wait_running w2 1
c2=$(ctr_of w2)
c5=$(ctr_of w5)
run dk volume rm data
assert_ne 0 "$RC" "volume rm after a restart, still in use"
assert_match "$ERR" "remove data: volume is in use - \[($c2 $c5|$c5 $c2)\]" "users rebuilt after the restart"

# --- prune: unused anonymous volumes only, unless all=true ------------------------------------
run dk volume prune -f
assert_rc 0 "volume prune"
assert_contains "$OUT" "$anon" "prune removes the unused anonymous volume"
run dk volume ls -q
assert_not_contains "$OUT" "$anon" "anonymous volume pruned"
assert_contains "$OUT" "plain" "named volumes are not pruned by default"
api POST "/v1.41/volumes/prune?filters=$(jq -rn '{all:["true"], "label!":["team=a"]}|@uri')"
assert_status 200 "prune all=true label!=team=a"
assert_eq '["tv"]' "$(jqc '.VolumesDeleted')" "all=true prunes unused named volumes, label! spares plain"
api POST "/v1.41/volumes/prune?filters=$(jq -rn '{all:["true"]}|@uri')"
assert_eq '["plain"]' "$(jqc '.VolumesDeleted')" "all=true prunes the rest of the unused ones"
run dk volume ls -q
assert_eq "data
nc
seeded" "$OUT" "volumes in use are never pruned"
run dk service rm w2 w3 w4 w5
for s in w2 w3 w4 w5; do wait_gone "$s"; done
run dk volume rm data seeded nc
assert_rc 0 "volume rm once unused"
assert_eq "" "$(ls -A "$VOL")" "nothing left under the volumes root"
run dk volume ls -q
assert_eq "" "$OUT" "no volumes left"

it_finish
