/* api_services.c — /services endpoints: create, list (filters, ?status=true), inspect
 * (?insertDefaults=true), update (?version=, ?rollback=previous), delete. Bodies go through
 * the spec module (decode, version adjust, validate, defaults), so what is stored and shown
 * is exactly what was understood. Objects are Docker's Service JSON (contract, issue 8).
 * Invariants: a handler that refuses creates or changes nothing; every write goes through
 * node_commit with the version compare (create: must not exist).
 * X-Registry-Auth and ?registryAuthFrom= are accepted and ignored (no registry client yet).
 * Thread: the loop thread. */
#include "api_int.h"
#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

/* ---- pure helpers (unit-tested) ---- */

static uint64_t json_u64(json_t *obj, const char *path)
{
    json_t *v = store_json_path(obj, path);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static bool str_is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

void api_service_status_count(json_t *svc, json_t *tasks, struct api_service_status *out)
{
    *out = (struct api_service_status){0};
    const char *id = store_json_str(svc, "ID");
    bool global =
        store_json_path(svc, "Spec.Mode.Global") || store_json_path(svc, "Spec.Mode.GlobalJob");
    if (store_json_path(svc, "Spec.Mode.Replicated"))
        out->desired = json_u64(svc, "Spec.Mode.Replicated.Replicas");
    else if (store_json_path(svc, "Spec.Mode.ReplicatedJob"))
        out->desired = json_u64(svc, "Spec.Mode.ReplicatedJob.MaxConcurrent");
    json_t *job_it = store_json_path(svc, "JobStatus.JobIteration.Index"); /* NULL: 0 */
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        if (!id || !str_is(store_json_str(t, "ServiceID"), id))
            continue;
        const char *desired = store_json_str(t, "DesiredState");
        const char *state = store_json_str(t, "Status.State");
        /* dockerd lists the tasks desired running or completed (jobs), no others */
        if (!str_is(desired, "running") && !str_is(desired, "complete") &&
            !str_is(desired, "completed"))
            continue;
        if (str_is(state, "running"))
            out->running++;
        /* a job's completions count in its current iteration only (dockerd's rule) */
        json_t *it = store_json_path(t, "JobIteration.Index");
        bool this_iteration = json_integer_value(it) == json_integer_value(job_it);
        if ((str_is(state, "complete") || str_is(state, "completed")) && this_iteration)
            out->completed++;
        if (global && str_is(desired, "running"))
            out->desired++;
    }
}

static const char *service_mode_name(json_t *svc)
{
    if (store_json_path(svc, "Spec.Mode.Global"))
        return "global";
    if (store_json_path(svc, "Spec.Mode.ReplicatedJob"))
        return "replicated-job";
    if (store_json_path(svc, "Spec.Mode.GlobalJob"))
        return "global-job";
    return "replicated";
}

static const char *const service_filters[] = {"id", "label", "mode", "name", NULL};

int api_service_filters_check(const struct api_filters *f, struct err *e)
{
    if (api_filters_validate(f, service_filters, e) < 0)
        return -e->kind;
    json_t *modes = api_filters_get(f, "mode");
    size_t i;
    json_t *v;
    json_array_foreach(modes, i, v)
    {
        const char *s = json_string_value(v);
        if (strcmp(s, "replicated") && strcmp(s, "global") && strcmp(s, "replicated-job") &&
            strcmp(s, "global-job"))
            return err_set(e, ERR_INVALID, "Invalid filter: 'mode'='%s'", s);
    }
    return 0;
}

bool api_service_filters_match(const struct api_filters *f, json_t *svc)
{
    json_t *modes = api_filters_get(f, "mode");
    bool mode_ok = !modes;
    size_t i;
    json_t *v;
    json_array_foreach(modes, i, v)
    {
        if (!strcmp(json_string_value(v), service_mode_name(svc)))
            mode_ok = true;
    }
    return mode_ok && api_filter_any_prefix(api_filters_get(f, "id"), store_json_str(svc, "ID")) &&
           api_filter_any_prefix(api_filters_get(f, "name"), store_json_str(svc, "Spec.Name")) &&
           api_filters_match_labels(f, "label", store_json_path(svc, "Spec.Labels"));
}

/* ---- request plumbing ---- */

/* The API version of the request path ("/v1.41/..." → 1.41; unversioned: 0.0). */
static void path_version(struct api_req *r, int *major, int *minor)
{
    const char *p = r->http->path;
    *major = *minor = 0;
    if (p[0] != '/' || p[1] != 'v')
        return;
    char *end;
    *major = (int)strtol(p + 2, &end, 10);
    if (*end == '.')
        *minor = (int)strtol(end + 1, &end, 10);
}

static int prepare_body(struct api_req *r, struct spec_service **out, struct err *e)
{
    int major, minor;
    path_version(r, &major, &minor);
    /* dockerd reads the body as JSON first: a syntax error gets the decoder's words */
    json_t *body = api_body_json(r, e);
    if (!body)
        return -e->kind;
    json_decref(body);
    return spec_service_prepare(r->http->body, r->http->body_len, major, minor, out, e);
}

struct name_ctx {
    const char *name, *skip_id;
    bool taken;
};

static int name_taken(json_t *obj, void *data)
{
    struct name_ctx *c = data;
    if (str_is(store_json_str(obj, "Spec.Name"), c->name) &&
        !str_is(store_json_str(obj, "ID"), c->skip_id ? c->skip_id : "")) {
        c->taken = true;
        return 1;
    }
    return 0;
}

static void now_str(char out[40])
{
    time_format_rfc3339(time_now_ns(), out);
}

/* Networking is a later issue: say so instead of storing a service that would never be
 * reachable as asked (create and update alike). */
static int refuse_networking(const struct spec_service *sp, struct err *e)
{
    if (sp->task.nnetworks || sp->nnetworks)
        return err_set(e, ERR_NOT_IMPLEMENTED,
                       "service networks are not supported by shoal yet (overlay networking "
                       "comes in a later release)");
    for (size_t i = 0; i < sp->endpoint.nports; i++)
        if (!str_is(sp->endpoint.ports[i].publish_mode, "host"))
            return err_set(e, ERR_NOT_IMPLEMENTED,
                           "ingress published ports (routing mesh) are not supported by shoal "
                           "yet: publish with mode=host");
    return 0;
}

struct create_ctx {
    struct api_req *r;
    char id[ID_LEN + 1];
};

static void create_done(void *data, int rc, struct err *e)
{
    struct create_ctx *c = data;
    if (rc < 0)
        api_reply_err(c->r, e);
    else
        api_reply_json(c->r, 201, json_pack("{s:s}", "ID", c->id));
    free(c);
}

static void h_service_create(struct api_req *r)
{
    struct err e;
    struct spec_service *sp = NULL;
    if (prepare_body(r, &sp, &e) < 0 || node_require_manager(r->api->node, &e) < 0) {
        spec_service_free(sp);
        api_reply_err(r, &e);
        return;
    }
    if (refuse_networking(sp, &e) < 0) {
        spec_service_free(sp);
        api_reply_err(r, &e);
        return;
    }
    struct store *st = node_store(r->api->node);
    struct name_ctx nc = {sp->name, NULL, false};
    store_foreach(st, STORE_SERVICE, name_taken, &nc);
    if (nc.taken) {
        api_reply_error(r, ERR_CONFLICT,
                        "rpc error: code = AlreadyExists desc = name conflicts with an existing "
                        "object: service %s already exists",
                        sp->name);
        spec_service_free(sp);
        return;
    }
    struct create_ctx *c = xcalloc(1, sizeof(*c));
    c->r = r;
    id_new(c->id);
    char now[40];
    now_str(now);
    json_t *obj = json_pack("{s:s, s:{s:i}, s:s, s:s, s:o, s:{s:{}}}", "ID", c->id, "Version",
                            "Index", 0, "CreatedAt", now, "UpdatedAt", now, "Spec",
                            spec_service_encode(sp), "Endpoint", "Spec");
    if (sp->mode.has_replicated_job || sp->mode.has_global_job)
        json_object_set_new(obj, "JobStatus",
                            json_pack("{s:{}, s:s}", "JobIteration", "LastExecution", now));
    spec_service_free(sp);
    node_commit(r->api->node, STORE_SERVICE, obj, 0, create_done, c);
}

struct list_ctx {
    struct api_filters *f;
    json_t *out;
};

static int list_one(json_t *obj, void *data)
{
    struct list_ctx *c = data;
    if (api_service_filters_match(c->f, obj))
        json_array_append(c->out, obj);
    return 0;
}

static int collect(json_t *obj, void *data)
{
    json_array_append(data, obj);
    return 0;
}

static void h_services_list(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    bool status = false;
    if (node_require_manager(r->api->node, &e) < 0 || api_filters_parse(r, &f, &e) < 0 ||
        api_service_filters_check(&f, &e) < 0 ||
        api_query_parse_bool(r, "status", &status, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    struct store *st = node_store(r->api->node);
    struct list_ctx c = {&f, json_array()};
    store_foreach(st, STORE_SERVICE, list_one, &c);
    api_filters_release(&f);
    if (status) {
        json_t *tasks = json_array(), *out = json_array();
        store_foreach(st, STORE_TASK, collect, tasks);
        size_t i;
        json_t *svc;
        json_array_foreach(c.out, i, svc)
        {
            struct api_service_status ss;
            api_service_status_count(svc, tasks, &ss);
            json_t *copy = json_copy(svc);
            json_object_set_new(copy, "ServiceStatus",
                                json_pack("{s:I, s:I, s:I}", "RunningTasks", (json_int_t)ss.running,
                                          "DesiredTasks", (json_int_t)ss.desired, "CompletedTasks",
                                          (json_int_t)ss.completed));
            json_array_append_new(out, copy);
        }
        json_decref(tasks);
        json_decref(c.out);
        c.out = out;
    }
    api_reply_json(r, 200, c.out);
}

static void h_service_inspect(struct api_req *r)
{
    struct err e;
    json_t *obj = NULL;
    bool defaults = false;
    if (node_require_manager(r->api->node, &e) < 0 ||
        api_query_parse_bool(r, "insertDefaults", &defaults, &e) < 0 ||
        !(obj = store_find(node_store(r->api->node), STORE_SERVICE, r->params[0], &e))) {
        api_reply_err(r, &e);
        return;
    }
    json_t *out = json_copy(obj);
    struct spec_service *sp = NULL;
    if (defaults && !spec_service_decode_json(json_object_get(obj, "Spec"), &sp, &e)) {
        spec_service_insert_defaults(sp);
        json_object_set_new(out, "Spec", spec_service_encode(sp));
        spec_service_free(sp);
        sp = NULL;
        json_t *prev = json_object_get(obj, "PreviousSpec");
        if (prev && !spec_service_decode_json(prev, &sp, &e)) {
            spec_service_insert_defaults(sp);
            json_object_set_new(out, "PreviousSpec", spec_service_encode(sp));
        }
    }
    spec_service_free(sp);
    api_reply_json(r, 200, out);
}

static void update_done(void *data, int rc, struct err *e)
{
    struct api_req *r = data;
    if (rc < 0)
        api_reply_err(r, e);
    else
        api_reply_json(r, 200, json_pack("{s:n}", "Warnings"));
}

static void h_service_update(struct api_req *r)
{
    struct err e;
    uint64_t version = 0;
    struct spec_service *sp = NULL, *cur_sp = NULL;
    json_t *cur = NULL;
    char *rollback = http_query_get(r->http, "rollback");
    int rc = prepare_body(r, &sp, &e);
    if (!rc)
        rc = refuse_networking(sp, &e);
    if (!rc)
        rc = api_query_version(r, "service", &version, &e);
    if (!rc)
        rc = node_require_manager(r->api->node, &e);
    if (!rc && !(cur = store_find(node_store(r->api->node), STORE_SERVICE, r->params[0], &e)))
        rc = -e.kind;
    const char *id = cur ? store_json_str(cur, "ID") : NULL;
    if (!rc)
        rc = store_check_version(node_store(r->api->node), STORE_SERVICE, id, version, &e);
    if (!rc && (rc = spec_service_decode_json(json_object_get(cur, "Spec"), &cur_sp, &e)) < 0)
        err_set(&e, ERR_INTERNAL, "stored service %s is unreadable: %s", id, e.msg);
    if (!rc)
        rc = spec_service_check_update(cur_sp, sp, &e);
    bool roll = rollback && !strcmp(rollback, "previous");
    if (!rc && roll && !json_object_get(cur, "PreviousSpec"))
        rc = err_set(&e, ERR_INVALID,
                     "rpc error: code = FailedPrecondition desc = service %s does not have a "
                     "previous spec",
                     id);
    free(rollback);
    spec_service_free(cur_sp);
    if (rc < 0) {
        spec_service_free(sp);
        api_reply_err(r, &e);
        return;
    }
    json_t *obj = json_deep_copy(cur);
    char now[40];
    now_str(now);
    if (roll) {
        json_t *prev = json_incref(json_object_get(cur, "PreviousSpec"));
        json_object_set(obj, "PreviousSpec", json_object_get(cur, "Spec"));
        json_object_set_new(obj, "Spec", prev);
        json_object_set_new(obj, "UpdateStatus",
                            json_pack("{s:s, s:s, s:s}", "State", "rollback_started", "StartedAt",
                                      now, "Message", "manually requested rollback"));
    } else {
        json_object_set(obj, "PreviousSpec", json_object_get(cur, "Spec"));
        json_object_set_new(obj, "Spec", spec_service_encode(sp));
        json_object_del(obj, "UpdateStatus");
    }
    spec_service_free(sp);
    /* a job runs again after every update of it (swarmkit's controlapi): a new iteration */
    json_t *js = json_object_get(obj, "JobStatus");
    if (json_is_object(js)) {
        json_t *idx = store_json_path(obj, "JobStatus.JobIteration.Index");
        json_int_t next = (json_is_integer(idx) ? json_integer_value(idx) : 0) + 1;
        json_object_set_new(js, "JobIteration", json_pack("{s:I}", "Index", next));
        json_object_set_new(js, "LastExecution", json_string(now));
    }
    json_object_set_new(obj, "UpdatedAt", json_string(now));
    node_commit(r->api->node, STORE_SERVICE, obj, version, update_done, r);
}

static void h_service_delete(struct api_req *r)
{
    struct err e;
    json_t *cur = NULL;
    if (node_require_manager(r->api->node, &e) < 0 ||
        !(cur = store_find(node_store(r->api->node), STORE_SERVICE, r->params[0], &e))) {
        api_reply_err(r, &e);
        return;
    }
    node_commit_delete(r->api->node, STORE_SERVICE, store_json_str(cur, "ID"), 0, api_done_empty,
                       r);
}

const struct api_route api_service_routes[] = {
    {"POST", "/services/create", h_service_create},
    {"GET", "/services", h_services_list},
    {"GET", "/services/{id}", h_service_inspect},
    {"POST", "/services/{id}/update", h_service_update},
    {"DELETE", "/services/{id}", h_service_delete},
    {NULL, NULL, NULL},
};
