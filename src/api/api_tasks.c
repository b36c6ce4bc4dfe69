/* api_tasks.c — /tasks endpoints: list with Docker's filters and inspect, served from the
 * store's task table (tasks appear once services are scheduled; until then the list is
 * truthfully empty and `docker node ps` prints just its header). Thread: the loop thread. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const task_filters[] = {"_up-to-date", "desired-state", "id",      "label",
                                           "name",        "node",          "service", NULL};

struct list_ctx {
    struct store *st;
    struct api_filters *f;
    json_t *nodes;    /* node IDs the node filter resolved to, or NULL */
    json_t *services; /* service IDs the service filter resolved to, or NULL */
    json_t *out;
};

static bool in_set(json_t *set, const char *v)
{
    return !set || (v && json_object_get(set, v));
}

static bool matches_any(json_t *vals, const char *v, bool prefix)
{
    if (!vals)
        return true;
    size_t i;
    json_t *x;
    json_array_foreach(vals, i, x)
    {
        const char *s = json_string_value(x);
        if (v && (prefix ? str_has_prefix(v, s) : !strcmp(v, s)))
            return true;
    }
    return false;
}

/* swarmkit's naming.Task: <service name>.<slot or node ID>.<task ID>. */
char *api_task_name(struct store *st, json_t *t)
{
    json_t *svc = store_get(st, STORE_SERVICE, store_json_str(t, "ServiceID") ?: "");
    const char *sname = svc ? store_json_str(svc, "Spec.Name") : NULL;
    json_t *slot = json_object_get(t, "Slot");
    const char *id = store_json_str(t, "ID") ?: "";
    if (json_is_integer(slot) && json_integer_value(slot) > 0)
        return xasprintf("%s.%lld.%s", sname ? sname : "", (long long)json_integer_value(slot), id);
    return xasprintf("%s.%s.%s", sname ? sname : "", store_json_str(t, "NodeID") ?: "", id);
}

/* `_up-to-date`: the task runs its service's current template (swarmkit compares spec
 * versions; the template itself is what they version). A task of a removed service is not. */
bool api_task_up_to_date(struct store *st, json_t *t)
{
    json_t *svc = store_get(st, STORE_SERVICE, store_json_str(t, "ServiceID") ?: "");
    return svc && json_equal(json_object_get(t, "Spec"), store_json_path(svc, "Spec.TaskTemplate"));
}

static int list_one(json_t *obj, void *data)
{
    struct list_ctx *c = data;
    json_t *names = api_filters_get(c->f, "name");
    if (names) {
        char *n = api_task_name(c->st, obj);
        bool ok = matches_any(names, n, true);
        free(n);
        if (!ok)
            return 0;
    }
    json_t *utd = api_filters_get(c->f, "_up-to-date");
    if (utd && json_array_size(utd) && !api_task_up_to_date(c->st, obj))
        return 0;
    if (matches_any(api_filters_get(c->f, "id"), store_json_str(obj, "ID"), true) &&
        matches_any(api_filters_get(c->f, "desired-state"), store_json_str(obj, "DesiredState"),
                    false) &&
        in_set(c->nodes, store_json_str(obj, "NodeID")) &&
        in_set(c->services, store_json_str(obj, "ServiceID")) &&
        api_filters_match_labels(c->f, "label", store_json_path(obj, "Spec.ContainerSpec.Labels")))
        json_array_append(c->out, obj);
    return 0;
}

/* Resolves each value of filter `key` (ID, name or ID prefix) to object IDs; unknown values
 * match nothing, as in Docker. NULL when the filter is absent. */
static json_t *resolve(struct store *st, enum store_kind k, json_t *vals)
{
    if (!vals)
        return NULL;
    json_t *set = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        json_t *obj = store_find(st, k, json_string_value(v), NULL);
        if (obj)
            json_object_set_new(set, store_json_str(obj, "ID"), json_true());
    }
    return set;
}

static void h_tasks_list(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    if (node_require_manager(r->api->node, &e) < 0 || api_filters_parse(r, &f, &e) < 0 ||
        api_filters_validate(&f, task_filters, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    json_t *states = api_filters_get(&f, "desired-state");
    size_t i;
    json_t *v;
    json_array_foreach(states, i, v)
    {
        const char *s = json_string_value(v);
        if (strcmp(s, "running") && strcmp(s, "shutdown") && strcmp(s, "accepted")) {
            /* s belongs to f: answer before releasing it */
            api_reply_error(r, ERR_INVALID, "Invalid task desired state: %s", s);
            api_filters_release(&f);
            return;
        }
    }
    struct store *st = node_store(r->api->node);
    struct list_ctx c = {st, &f, resolve(st, STORE_NODE, api_filters_get(&f, "node")),
                         resolve(st, STORE_SERVICE, api_filters_get(&f, "service")), json_array()};
    store_foreach(st, STORE_TASK, list_one, &c);
    json_decref(c.nodes);
    json_decref(c.services);
    api_filters_release(&f);
    api_reply_json(r, 200, c.out);
}

static void h_task_inspect(struct api_req *r)
{
    struct err e;
    json_t *obj = NULL;
    if (node_require_manager(r->api->node, &e) < 0 ||
        !(obj = store_find(node_store(r->api->node), STORE_TASK, r->params[0], &e))) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, json_incref(obj));
}

const struct api_route api_task_routes[] = {
    {"GET", "/tasks", h_tasks_list},
    {"GET", "/tasks/{id}", h_task_inspect},
    {NULL, NULL, NULL},
};
