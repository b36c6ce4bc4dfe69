/* api_tasks.c — /tasks endpoints: list with Docker's filters and inspect, served from the
 * store's task table (tasks appear once services are scheduled; until then the list is
 * truthfully empty and `docker node ps` prints just its header). Thread: the loop thread. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const task_filters[] = {"_up-to-date", "desired-state", "id",      "label",
                                           "name",        "node",          "service", NULL};

struct list_ctx {
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

static int list_one(json_t *obj, void *data)
{
    struct list_ctx *c = data;
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
            api_filters_release(&f);
            api_reply_error(r, ERR_INVALID, "Invalid task desired state: %s", s);
            return;
        }
    }
    struct store *st = node_store(r->api->node);
    struct list_ctx c = {&f, resolve(st, STORE_NODE, api_filters_get(&f, "node")),
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
