#!/usr/bin/env bash
# services_api.sh — the /services API on a one-node swarm, through the docker CLI (create -d,
# ls, inspect [--pretty], update -d, scale -d, rollback -d, rm) and raw curl: bad specs refused
# with nothing created, a stale version refused, extra fields dropped, 404s, service events.
# Tasks are not run here (the leader's loop is wired elsewhere): everything uses -d.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
it_init
start_daemon
swarm_init

urlq()
{
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"
}

count_services()
{
    api GET /v1.41/services
    jqr length
}

# --- create ---------------------------------------------------------------------------------
run dk service create -d --name web --label team=core busybox:latest sleep 3600
assert_rc 0 "service create -d"
sid=$OUT
sid=${sid##*$'\n'}
assert_match "$sid" '^[0-9a-z]{25}$' "create prints the ID"
api GET "/v1.41/services/web"
assert_status 200 "inspect by name"
assert_eq "$sid" "$(jqr .ID)" "ID"
assert_eq '{"Replicated":{"Replicas":1}}' "$(jqc .Spec.Mode)" "default mode"
assert_eq '{"Spec":{}}' "$(jqc .Endpoint)" "Endpoint as dockerd shows it"
assert_eq '{"Mode":"vip"}' "$(jqc .Spec.EndpointSpec)" "EndpointSpec"
assert_eq core "$(jqr .Spec.Labels.team)" "labels"
assert_eq '["sleep","3600"]' "$(jqc .Spec.TaskTemplate.ContainerSpec.Args)" "args"
assert_eq null "$(jqc .PreviousSpec)" "no PreviousSpec before an update"

api POST /v1.41/services/create '{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}}}'
assert_status 409 "duplicate name"
assert_eq "rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists" \
    "$(jqr .message)" "duplicate name words"

# --- bad specs create nothing -----------------------------------------------------------------
n0=$(count_services)
api POST /v1.41/services/create '{"Name":"x",'
assert_status 400 "malformed JSON"
api POST /v1.41/services/create '{"Name":"bad","Mode":{"Replicated":{"Replicas":-1}},"TaskTemplate":{"ContainerSpec":{"Image":"busybox"}}}'
assert_status 400 "negative replicas"
assert_contains "$(jqr .message)" "cannot unmarshal number -1" "negative replicas words"
api POST /v1.41/services/create '{"Name":"b@d","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}}}'
assert_status 400 "bad name"
api POST /v1.41/services/create '{"Name":"nc","TaskTemplate":{"ContainerSpec":{"Image":"busybox"},"Placement":{"Constraints":["node.id"]}}}'
assert_ne 201 "$STATUS" "bad constraint"
api POST /v1.41/services/create '{"Name":"ing","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},"EndpointSpec":{"Ports":[{"TargetPort":80,"PublishedPort":8080}]}}'
assert_status 501 "ingress ports refused clearly"
assert_contains "$(jqr .message)" "mode=host" "ingress refusal words"
run dk service create -d --name nomode --mode bogus busybox true
assert_ne 0 "$RC" "unknown mode refused"
assert_eq "$n0" "$(count_services)" "refused specs created nothing"

# --- extra fields are not echoed back -------------------------------------------------------
api POST /v1.41/services/create '{"Name":"extra","version":7,"Bogus":{"a":1},"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Nope":1}}}'
assert_status 201 "create with extra fields"
xid=$(jqr .ID)
assert_eq null "$(jqc .Warnings)" "create answer has no Warnings"
api GET "/v1.41/services/$xid"
assert_eq null "$(jqc .Spec.version)" "unknown top-level field dropped"
assert_eq null "$(jqc .Spec.Bogus)" "unknown object field dropped"
assert_eq null "$(jqc .Spec.TaskTemplate.ContainerSpec.Nope)" "unknown nested field dropped"

# --- list, filters, status -------------------------------------------------------------------
api GET '/v1.41/services?filters='"$(urlq '{"name":["we"]}')"
assert_eq '["web"]' "$(jqc '[.[].Spec.Name]')" "name filter (prefix)"
api GET '/v1.41/services?filters='"$(urlq '{"label":["team=core"]}')"
assert_eq '["web"]' "$(jqc '[.[].Spec.Name]')" "label filter"
api GET '/v1.41/services?filters='"$(urlq '{"mode":["global"]}')"
assert_eq 0 "$(jqr length)" "mode filter"
api GET '/v1.41/services?filters='"$(urlq '{"mode":["bogus"]}')"
assert_status 400 "bad mode filter"
api GET '/v1.41/services?filters='"$(urlq '{"nope":["x"]}')"
assert_status 400 "unknown filter"
api GET '/v1.41/services?status=true&filters='"$(urlq '{"name":["web"]}')"
assert_eq '{"RunningTasks":0,"DesiredTasks":1,"CompletedTasks":0}' "$(jqc '.[0].ServiceStatus')" \
    "ServiceStatus without tasks"
run dk service ls
assert_rc 0 "service ls"
assert_match "$OUT" 'web +replicated +0/1 +busybox:latest' "service ls row"

# --- tasks: the CLI's filters (no image is loaded here: web's tasks are rejected and replaced)
api GET '/v1.41/tasks?filters='"$(urlq '{"_up-to-date":["true"],"service":["web"],"name":["web"]}')"
assert_status 200 "tasks with _up-to-date, service and name filters"
web_id=$(dk service inspect web --format '{{.ID}}')
assert_eq '[]' "$(jqc "[.[] | select(.ServiceID != \"$web_id\")]")" "only web's tasks"
api GET '/v1.41/tasks?filters='"$(urlq '{"desired-state":["bogus"]}')"
assert_status 400 "bad desired-state"
run dk service ps web
assert_rc 0 "service ps"
assert_match "$(head -1 <<<"$OUT")" '^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$' "service ps header"

if has_docker20; then
    run dk20 service ls
    assert_rc 0 "service ls (CLI 20.10)"
    assert_match "$OUT" 'web +replicated +0/1 +busybox:latest' "service ls row (CLI 20.10)"
    run dk20 service inspect --pretty web
    assert_rc 0 "inspect --pretty (CLI 20.10)"
fi

api GET "/v1.41/services/web?insertDefaults=true"
assert_eq 10000000000 "$(jqr .Spec.TaskTemplate.ContainerSpec.StopGracePeriod)" "insertDefaults"
run dk service inspect --pretty web
assert_rc 0 "inspect --pretty"
assert_match "$OUT" 'Name:[[:space:]]+web' "pretty name"
assert_match "$OUT" 'Replicas:[[:space:]]+1' "pretty replicas"

# --- update, scale, rollback ------------------------------------------------------------------
api GET "/v1.41/services/$sid"
v0=$(jqr .Version.Index)
spec=$(jqc .Spec)
run dk service update -d --env-add NEW=1 web
assert_rc 0 "update -d --env-add"
api GET "/v1.41/services/$sid"
assert_eq '["NEW=1"]' "$(jqc .Spec.TaskTemplate.ContainerSpec.Env)" "env added"
assert_eq null "$(jqc .PreviousSpec.TaskTemplate.ContainerSpec.Env)" "PreviousSpec is the old spec"
api POST "/v1.41/services/$sid/update?version=$v0" "$spec"
assert_status 500 "stale version"
assert_eq "rpc error: code = Unknown desc = update out of sequence" "$(jqr .message)" "stale words"
run dk service update -d --publish-add 8080:80 web
assert_ne 0 "$RC" "update adding an ingress port refused"
assert_contains "$ERR" "mode=host" "update ingress refusal words"
run dk service scale -d web=3
assert_rc 0 "scale -d"
api GET "/v1.41/services/$sid"
assert_eq 3 "$(jqr .Spec.Mode.Replicated.Replicas)" "scaled"
run dk service rollback -d web
assert_rc 0 "rollback -d"
api GET "/v1.41/services/$sid"
assert_eq 1 "$(jqr .Spec.Mode.Replicated.Replicas)" "rolled back to the previous spec"
assert_eq 3 "$(jqr .PreviousSpec.Mode.Replicated.Replicas)" "PreviousSpec swapped"
assert_match "$(jqr .UpdateStatus.State)" "^rollback_(started|completed)$" "UpdateStatus.State (the orchestrator may have completed it already)"
assert_match "$(jqr .UpdateStatus.Message)" "^(manually requested rollback|rollback completed)$" "UpdateStatus.Message"
api GET "/v1.41/services/$xid"
ver=$(jqr .Version.Index)
api POST "/v1.41/services/$xid/update?version=$ver&rollback=previous" "$(jqc .Spec)"
assert_status 400 "rollback without a previous spec"
assert_contains "$(jqr .message)" "does not have a previous spec" "rollback words"

# --- events -----------------------------------------------------------------------------------
api GET "/v1.41/events?since=0&until=$(($(date +%s) + 1))&filters=%7B%22type%22%3A%5B%22service%22%5D%7D"
assert_contains "$(cat "$T/api.body")" '"Action":"create"' "service create event"
assert_contains "$(cat "$T/api.body")" '"replicas.new":"3"' "scale event attributes"
assert_contains "$(cat "$T/api.body")" '"updatestate.new":"rollback_started"' "rollback event"

# --- 404s and rm ------------------------------------------------------------------------------
api GET /v1.41/services/nosuchsvc
assert_status 404 "inspect missing"
assert_eq "service nosuchsvc not found" "$(jqr .message)" "missing words"
api DELETE /v1.41/services/nosuchsvc
assert_status 404 "delete missing"
run dk service rm web extra
assert_rc 0 "service rm"
assert_eq 0 "$(count_services)" "services removed"
api GET '/v1.41/events?since=0&until='"$(($(date +%s) + 1))"
assert_contains "$(cat "$T/api.body")" '"Action":"remove"' "service remove event"
it_finish
