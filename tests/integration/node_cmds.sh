#!/usr/bin/env bash
# node_cmds.sh — docker node ls / inspect / update / rm on a one-node swarm, plus the raw API:
# list filters, missing nodes, stale and missing versions. Expected words are Docker's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
note_docker20
start_daemon
swarm_init

api GET /v1.41/info
id=$(jqr .Swarm.NodeID)
api GET /v1.41/swarm
trust_root=$(jqr .TLSInfo.TrustRoot)

# --- GET /nodes and docker node ls ------------------------------------------------------------
api GET /v1.41/nodes
assert_status 200 "GET /nodes"
assert_eq 1 "$(jqr length)" "number of nodes"
assert_eq "$id" "$(jqr '.[0].ID')" "node ID"
host=$(jqr '.[0].Description.Hostname')
engine=$(jqr '.[0].Description.Engine.EngineVersion')
assert_eq "$(uname -n)" "$host" "Description.Hostname"
assert_ne "" "$engine" "Description.Engine.EngineVersion"
assert_eq "$(uname -m)" "$(jqr '.[0].Description.Platform.Architecture')" "Platform.Architecture"
assert_eq linux "$(jqr '.[0].Description.Platform.OS')" "Platform.OS"
assert_eq "$(($(nproc) * 1000000000))" "$(jqr '.[0].Description.Resources.NanoCPUs')" "NanoCPUs"
assert_eq ready "$(jqr '.[0].Status.State')" "Status.State"
assert_eq 127.0.0.1 "$(jqr '.[0].Status.Addr')" "Status.Addr"
assert_eq '{"Leader":true,"Reachability":"reachable","Addr":"127.0.0.1:2377"}' \
    "$(jqc '.[0].ManagerStatus')" "ManagerStatus"
assert_eq '{"Labels":{},"Role":"manager","Availability":"active"}' "$(jqc '.[0].Spec')" "Spec"
assert_eq "$trust_root" "$(jqr '.[0].Description.TLSInfo.TrustRoot')" "node TLSInfo.TrustRoot"

# docker's table: columns padded to the widest cell + 3 (the tabwriter the CLI uses)
hw=$((${#host} > 8 ? ${#host} + 3 : 11))
node_ls_expected()
{ # availability
    printf '%-30s%-*s%-10s%-15s%-17s%s\n' "ID" "$hw" HOSTNAME STATUS AVAILABILITY "MANAGER STATUS" \
        "ENGINE VERSION"
    printf '%-30s%-*s%-10s%-15s%-17s%s\n' "$id *" "$hw" "$host" Ready "$1" Leader "$engine"
}
run dk node ls
assert_rc 0 "node ls"
assert_eq "$(node_ls_expected Active)" "$OUT" "docker node ls"
run dk20 node ls
assert_rc 0 "node ls (20.10)"
assert_eq "$(node_ls_expected Active)" "$OUT" "docker node ls (20.10)"
run dk node ls -q
assert_eq "$id" "$OUT" "node ls -q"

# --- node inspect ---------------------------------------------------------------------------
run dk node inspect self
assert_rc 0 "node inspect self"
assert_eq 1 "$(jqr length "$OUT")" "node inspect self: one object"
assert_eq "$id" "$(jqr '.[0].ID' "$OUT")" "node inspect self: ID"
api GET "/v1.41/nodes/$id"
# the CLI decodes and re-encodes: compare with key order and the timestamps' trailing
# fractional zeros aside (those are checked just below)
norm='walk(if type == "string" and test("^[0-9-]+T[0-9:]+\\.[0-9]+Z$") then sub("0+Z$"; "Z") else . end)'
assert_eq "$(jq -S -c "$norm" <<<"$BODY")" "$(jq -S -c ".[0] | $norm" <<<"$OUT")" \
    "node inspect self = GET /nodes/{id}"

for ref in "$id" "${id:0:6}" "$host"; do
    api GET "/v1.41/nodes/$ref"
    assert_status 200 "GET /nodes/$ref (ID, unique prefix, hostname)"
    assert_eq "$id" "$(jqr .ID)" "GET /nodes/$ref"
done
created=$(jqr .CreatedAt)
assert_match "$created" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$' \
    "CreatedAt format"
issuer_subject=$(jqr .Description.TLSInfo.CertIssuerSubject)
issuer_key=$(jqr .Description.TLSInfo.CertIssuerPublicKey)
if command -v openssl >/dev/null; then
    want_key=$(printf '%s\n' "$trust_root" | openssl x509 -pubkey -noout |
        openssl pkey -pubin -outform DER | base64 -w0)
    assert_eq "$want_key" "$issuer_key" "CertIssuerPublicKey = DER SPKI of the root CA, base64"
fi

run dk node inspect --pretty self
assert_rc 0 "node inspect --pretty self"
head_expected="ID:			$id
Hostname:              	$host
Joined at:             	JOINED
Status:
 State:			Ready
 Availability:         	Active
 Address:		127.0.0.1
Manager Status:
 Address:		127.0.0.1:2377
 Raft Status:		Reachable
 Leader:		Yes
Platform:
 Operating System:	linux
 Architecture:		$(uname -m)
Resources:
 CPUs:			$(nproc)"
head_actual=$(printf '%s\n' "$OUT" | head -n 16 |
    sed -E '3s/^(Joined at: +\t)[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ \+0000 utc$/\1JOINED/')
assert_eq "$head_expected" "$head_actual" "node inspect --pretty (head)"
tls_expected="TLS Info:
 TrustRoot:
${trust_root}

 Issuer Subject:	$issuer_subject
 Issuer Public Key:	$issuer_key"
assert_contains "$OUT" "$tls_expected" "node inspect --pretty (TLS Info)"
assert_contains "$OUT" $'\nEngine Version:\t\t'"$engine"$'\n' "node inspect --pretty (Engine Version)"

# --- node update: labels and availability ---------------------------------------------------
api GET "/v1.41/nodes/$id"
v0=$(jqr .Version.Index)
run dk node update --label-add env=test --label-add zone=a "$id"
assert_rc 0 "node update --label-add"
assert_eq "$id" "$OUT" "node update prints the node reference"
api GET "/v1.41/nodes/$id"
assert_eq '{"env":"test","zone":"a"}' "$(jqc .Spec.Labels)" "labels after --label-add"
v1=$(jqr .Version.Index)
[ "$v1" -gt "$v0" ] || fail "Version.Index did not grow with node update" "before $v0, after $v1"

run dk20 node update --label-rm zone "$host"
assert_rc 0 "node update --label-rm by hostname (20.10)"
assert_eq "$host" "$OUT" "node update prints the node reference (20.10)"
api GET "/v1.41/nodes/$id"
assert_eq '{"env":"test"}' "$(jqc .Spec.Labels)" "labels after --label-rm"

run dk node update --label-add 'k2=v=2' --label-add flag "$id"
assert_rc 0 "node update --label-add k2=v=2 --label-add flag"
api GET "/v1.41/nodes/$id"
assert_eq '{"env":"test","flag":"","k2":"v=2"}' "$(jqc '.Spec.Labels')" "labels with '=' and no value"

for avail in drain pause active; do
    run dk node update --availability "$avail" "$id"
    assert_rc 0 "node update --availability $avail"
    api GET "/v1.41/nodes/$id"
    assert_eq "$avail" "$(jqr .Spec.Availability)" "Spec.Availability after --availability $avail"
    run dk node ls
    cap="$(tr '[:lower:]' '[:upper:]' <<<"${avail:0:1}")${avail:1}"
    assert_eq "$(node_ls_expected "$cap")" "$OUT" "docker node ls after --availability $avail"
done
run dk node update --availability bogus "$id"
assert_rc 1 "node update --availability bogus"
api POST "/v1.41/nodes/$id/update?version=$(jqr .Version.Index)" \
    '{"Labels":{},"Role":"manager","Availability":"bogus"}'
assert_status 400 "node update with Availability bogus"
api GET "/v1.41/nodes/$id"
assert_eq active "$(jqr .Spec.Availability)" "a refused update changes nothing"

# --- list filters through the API -------------------------------------------------------------
q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
api GET "/v1.41/nodes?filters=$(q '{"role":{"manager":true}}')"
assert_status 200 "filter role=manager"
assert_eq "[\"$id\"]" "$(jqc '[.[].ID]')" "filter role=manager"
api GET "/v1.41/nodes?filters=$(q '{"role":{"worker":true}}')"
assert_status 200 "filter role=worker"
assert_eq "[]" "$(jqc .)" "filter role=worker"
api GET "/v1.41/nodes?filters=$(q "{\"id\":{\"${id:0:5}\":true}}")"
assert_eq "[\"$id\"]" "$(jqc '[.[].ID]')" "filter id=<prefix>"
api GET "/v1.41/nodes?filters=$(q '{"node.label":{"env=test":true}}')"
assert_eq "[\"$id\"]" "$(jqc '[.[].ID]')" "filter node.label=env=test"
api GET "/v1.41/nodes?filters=$(q '{"node.label":{"env=prod":true}}')"
assert_eq "[]" "$(jqc .)" "filter node.label=env=prod"
run dk node ls -q --filter role=worker
assert_rc 0 "node ls --filter role=worker"
assert_eq "" "$OUT" "node ls --filter role=worker"
api GET "/v1.41/nodes?filters=$(q '{"bogus":{"x":true}}')"
assert_status 400 "filter bogus"
expect_eq "Invalid filter 'bogus'" "$(jqr .message)" "message of GET /nodes with filter bogus"
api GET "/v1.41/nodes?filters=$(q '{"role":')"
assert_status 400 "malformed filters JSON"

# --- missing node ------------------------------------------------------------------------------
run dk node inspect nosuchnode
assert_rc 1 "node inspect nosuchnode"
assert_eq "[]" "$OUT" "node inspect nosuchnode stdout"
if has_docker28; then # 20.10's wording is checked below
    assert_eq "Error response from daemon: node nosuchnode not found" "$ERR" "node inspect nosuchnode"
fi
if has_docker20; then
    run dk20 node inspect nosuchnode
    assert_rc 1 "node inspect nosuchnode (20.10)"
    assert_eq "Status: Error: No such node: nosuchnode, Code: 1" "$ERR" "node inspect nosuchnode (20.10)"
fi
api GET /v1.41/nodes/nosuchnode
assert_status 404 "GET /nodes/nosuchnode"
assert_eq "node nosuchnode not found" "$(jqr .message)" "GET /nodes/nosuchnode"

# --- node rm self -----------------------------------------------------------------------------
msg_rm_self="rpc error: code = FailedPrecondition desc = node $id is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal"
run dk node rm "$id"
assert_rc 1 "node rm self"
assert_eq "Error response from daemon: $msg_rm_self" "$ERR" "node rm self"
api DELETE "/v1.41/nodes/$id"
assert_status 400 "DELETE /nodes/self"
assert_eq "$msg_rm_self" "$(jqr .message)" "DELETE /nodes/self"
api GET /v1.41/nodes
assert_eq 1 "$(jqr length)" "the node is still there"

# --- versions ---------------------------------------------------------------------------------
api GET "/v1.41/nodes/$id"
cur=$(jqr .Version.Index)
before=$BODY
spec='{"Labels":{"stale":"yes"},"Role":"manager","Availability":"active"}'
api POST "/v1.41/nodes/$id/update" "$spec"
assert_status 400 "node update without version"
assert_eq "invalid node version '': strconv.ParseUint: parsing \"\": invalid syntax" \
    "$(jqr .message)" "node update without version"
api POST "/v1.41/nodes/$id/update?version=abc" "$spec"
assert_status 400 "node update with version=abc"
assert_eq "invalid node version 'abc': strconv.ParseUint: parsing \"abc\": invalid syntax" \
    "$(jqr .message)" "node update with version=abc"
api POST "/v1.41/nodes/$id/update?version=$v0" "$spec"
assert_status 500 "node update with a stale version"
expect_eq "rpc error: code = Unknown desc = update out of sequence" "$(jqr .message)" \
    "message of a node update with a stale version"
api GET "/v1.41/nodes/$id"
assert_eq "$before" "$BODY" "refused updates leave the node byte-identical"
api POST "/v1.41/nodes/$id/update?version=$cur" "$spec"
assert_status 200 "node update with the current version"
api GET "/v1.41/nodes/$id"
assert_eq '{"stale":"yes"}' "$(jqc .Spec.Labels)" "update with the current version applies"

# --- timestamps as Go writes them ---------------------------------------------------------------
# dockerd formats times with RFC3339Nano, which drops trailing zeros of the fraction (.7759411Z,
# never .775941100Z). One timestamp in ten ends in a zero, so look at 60 fresh UpdatedAt values.
bad_ts=""
for i in $(seq 1 60); do
    api GET "/v1.41/nodes/$id"
    for f in CreatedAt UpdatedAt; do
        v=$(jqr ".$f")
        [[ "$v" =~ (\.[0-9]*0Z|\.Z)$ ]] && bad_ts="$v"
    done
    api POST "/v1.41/nodes/$id/update?version=$(jqr .Version.Index)" \
        "{\"Labels\":{\"n\":\"$i\"},\"Role\":\"manager\",\"Availability\":\"active\"}"
    assert_status 200 "node update $i of 60"
done
expect_eq "" "$bad_ts" "a node timestamp with trailing fractional zeros (Go's RFC3339Nano has none)"

# --- node ps: no services yet, so Docker's header and nothing else ---------------------------------
out=$(dk_ok node ps "$id")
assert_eq "ID        NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE   ERROR     PORTS" \
    "$out" "node ps with no tasks"
api GET '/v1.41/tasks?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D'
assert_status 400 "a task filter Docker does not know"
api GET /v1.41/tasks/nosuchtask
assert_status 404 "inspect of a missing task"

# --- a body with fields NodeSpec does not have: dropped, as dockerd's decoder drops them -------
# (a client library that sends `version` in the body must not get it echoed in Spec, or its next
# read-modify-write would carry it again)
api GET "/v1.41/nodes/$id"
ver=$(jqr .Version.Index)
api POST "/v1.41/nodes/$id/update?version=$ver" \
    '{"Labels":{"k":"v"},"Role":"manager","Availability":"active","version":5,"Bogus":{"x":1}}'
assert_status 200 "node update with unknown fields"
api GET "/v1.41/nodes/$id"
assert_eq '["Availability","Labels","Role"]' "$(jqc '.Spec | keys')" "Spec keeps only NodeSpec's fields"
assert_eq v "$(jqr .Spec.Labels.k)" "the known fields are kept"
# keys match as Go's decoder matches them: case-insensitively
ver=$(jqr .Version.Index)
api POST "/v1.41/nodes/$id/update?version=$ver" '{"labels":{"k":"w"},"role":"manager","AVAILABILITY":"active"}'
assert_status 200 "node update with lower-case keys"
api GET "/v1.41/nodes/$id"
assert_eq w "$(jqr .Spec.Labels.k)" "lower-case keys are NodeSpec's fields"
it_finish
