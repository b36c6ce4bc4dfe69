#!/usr/bin/env bash
# containers_images.sh — the local image store through the docker CLI and the API, with no
# registry: docker load of a busybox-static image (lib_image.sh), docker images / image
# inspect / tag / rmi with both CLIs, docker import, a broken archive, the store kept across a
# daemon restart, /distribution answering as dockerd with no registry reachable (the CLI then
# prints Docker's warning on service create), the daemon never mapping libarchive (loads run
# in its helper process), and the /containers words with no container (the shapes of task
# containers are covered by the unit test api_containers_task_container, which runs one;
# running them from the CLI needs the services wiring, checked end to end by the lead's test).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_image.sh"
it_init
note_docker20
[ -x /bin/busybox ] || need_tool "busybox-static not installed (/bin/busybox)"
start_daemon

make_busybox_tar "$T/bb.tar" >"$T/bb.id"
image_id=$(cat "$T/bb.id")

# --- docker load -----------------------------------------------------------------------------
run dk load -i "$T/bb.tar"
assert_rc 0 "docker load"
assert_eq "Loaded image: busybox:latest" "$OUT" "docker load output"
# the daemon itself never maps libarchive: the archive was read by its helper child
assert_eq 0 "$(grep -c libarchive "/proc/$DAEMON_PID/maps" || true)" "libarchive mapped in the daemon"

# the raw answer: 200, a JSON message stream
status=$(curl -sS --max-time "$CMD_TIMEOUT" --unix-socket "$SOCK" -o "$T/load.body" \
    -D "$T/load.hdrs" -w '%{http_code}' -X POST -H 'Content-Type: application/x-tar' \
    --data-binary @"$T/bb.tar" "http://localhost/v1.41/images/load?quiet=1")
assert_eq 200 "$status" "POST /images/load status"
assert_contains "$(tr -d '\r' <"$T/load.hdrs")" "Content-Type: application/json" "load content type"
assert_eq '{"stream":"Loaded image: busybox:latest\n"}' "$(tr -d '\r' <"$T/load.body")" "load body"

# --- docker images / image inspect -----------------------------------------------------------
run dk images
assert_rc 0 "docker images"
assert_contains "$OUT" "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE" "images header"
assert_match "$OUT" "busybox +latest +${image_id:7:12} " "images row"
run dk20 images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
assert_rc 0 "docker images (20.10)"
assert_eq "busybox:latest ${image_id:7:12}" "$OUT" "images --format (20.10)"
run dk image inspect busybox --format '{{.Id}} {{json .RepoTags}} {{json .Config.Cmd}} {{.Os}}'
assert_rc 0 "image inspect"
assert_eq "$image_id [\"busybox:latest\"] [\"sh\"] linux" "$OUT" "image inspect fields"
api GET /v1.41/images/json
assert_status 200 "GET /images/json"
assert_eq "$image_id" "$(jqr '.[0].Id')" "images/json Id"
assert_eq '["busybox:latest"]' "$(jqc '.[0].RepoTags')" "images/json RepoTags"
api GET "/v1.41/images/json?filters=%7B%22reference%22%3A%5B%22nomatch%22%5D%7D"
assert_eq 0 "$(jqr length)" "reference filter that matches nothing"
api GET /v1.41/images/nosuch/json
assert_status 404 "inspect of a missing image"
assert_eq "no such image: nosuch: No such image: nosuch:latest" "$(jqr .message)" "missing image words"

# --- tag (names with slashes and a registry port) and rmi -----------------------------------
run dk tag busybox localhost:5000/team/bb:v1
assert_rc 0 "docker tag"
api GET /v1.41/images/localhost:5000/team/bb:v1/json
assert_status 200 "inspect by a name with slashes"
assert_eq "$image_id" "$(jqr .Id)" "tagged image ID"
run dk20 rmi localhost:5000/team/bb:v1
assert_rc 0 "docker rmi of a tag (20.10)"
assert_eq "Untagged: localhost:5000/team/bb:v1" "$OUT" "rmi of a tag"

# --- docker import and a broken archive -------------------------------------------------------
tar -C / -cf "$T/rootfs.tar" bin/busybox
run dk import "$T/rootfs.tar" imported:1
assert_rc 0 "docker import"
assert_match "$OUT" "^sha256:[0-9a-f]{64}$" "docker import prints the ID"
printf 'not an archive' >"$T/bad.tar"
run dk load -i "$T/bad.tar"
assert_rc 1 "docker load of garbage"
assert_contains "$ERR" "invalid archive" "load error words"
run dk images --format '{{.Repository}}:{{.Tag}}'
assert_eq "$(printf 'imported:1\nbusybox:latest')" "$OUT" "images after import and a failed load"
# since= / before=: the import is newer than busybox (made in 2023)
run dk images --filter since=busybox --format '{{.Repository}}:{{.Tag}}'
assert_eq "imported:1" "$OUT" "images --filter since"
run dk images --filter before=imported:1 --format '{{.Repository}}:{{.Tag}}'
assert_eq "busybox:latest" "$OUT" "images --filter before"

# --- changes queue behind a running load: three loads and a tag at once, all answered -------
make_busybox_tar "$T/bb2.tar" second:v2 >/dev/null
make_busybox_tar "$T/bb3.tar" third:v3 >/dev/null
pids=()
for f in bb2 bb3 bb; do
    dk load -i "$T/$f.tar" >"$T/$f.out" 2>&1 &
    pids+=($!)
done
dk tag busybox queued:1 >"$T/tag.out" 2>&1 &
pids+=($!)
for p in "${pids[@]}"; do
    wait "$p" || fail "a concurrent load or tag failed" "$(cat "$T"/*.out)"
done
assert_eq "Loaded image: second:v2" "$(cat "$T/bb2.out")" "concurrent load 2"
assert_eq "Loaded image: third:v3" "$(cat "$T/bb3.out")" "concurrent load 3"
run dk images --format '{{.Repository}}:{{.Tag}}'
for ref in second:v2 third:v3 queued:1 busybox:latest imported:1; do
    assert_contains "$OUT" "$ref" "image $ref after concurrent changes"
done
for ref in second:v2 third:v3 queued:1; do
    dk rmi "$ref" >/dev/null
done

# --- the store survives a restart -------------------------------------------------------------
stop_daemon
start_daemon
run dk images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
assert_contains "$OUT" "busybox:latest ${image_id:7:12}" "images after a restart"

# --- /distribution: dockerd's answer when no registry is reachable ----------------------------
api GET /v1.41/distribution/busybox:latest/json
assert_status 500 "GET /distribution"
assert_contains "$(jqr .message)" 'Get "https://registry-1.docker.io/v2/"' "distribution words"
api GET /v1.41/distribution/localhost:5000/team/bb:v1/json
assert_contains "$(jqr .message)" 'Get "https://localhost:5000/v2/"' "distribution of another registry"
swarm_init
run dk service create --detach --name web busybox sleep 300
if [ "$RC" -eq 0 ]; then
    # the CLI prints Docker's warning once the service exists
    assert_contains "$ERR" "image busybox:latest could not be accessed on a registry to record
its digest. Each node will access busybox:latest independently,
possibly leading to different nodes running different
versions of the image." "service create warning"
    dk service rm web >/dev/null
else
    # without the services API on this build: the CLI went past /distribution to the create
    assert_contains "$ERR" "POST /services/create is not implemented by shoal yet" \
        "service create reached /services/create"
fi

# --- containers: the words with none ----------------------------------------------------------
run dk ps -a
assert_rc 0 "docker ps -a"
assert_eq "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES" "$OUT" "empty ps"
api GET /v1.41/containers/nosuch/json
assert_status 404 "inspect of a missing container"
assert_eq "No such container: nosuch" "$(jqr .message)" "missing container words"
api POST /v1.41/containers/create '{"Image":"busybox"}'
assert_status 501 "container create"

# --- rmi of the last tag deletes image and layer ------------------------------------------------
run dk rmi busybox
assert_rc 0 "docker rmi busybox"
assert_eq "$(printf 'Untagged: busybox:latest\nDeleted: %s' "$image_id")" "$(head -n 2 <<<"$OUT")" \
    "rmi records"
run dk rmi busybox
assert_rc 1 "rmi of a missing image"
assert_contains "$ERR" "No such image: busybox" "rmi missing words"

it_finish
