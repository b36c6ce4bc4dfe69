/* api_nodes.c — /nodes endpoints: list with Docker's filters, inspect, update, remove.
 * Thread: the loop thread. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const node_filters[] = {"id",         "label", "membership", "name",
                                           "node.label", "role",  NULL};

static bool any_equal(json_t *vals, const char *s)
{
    size_t i;
    json_t *v;
    if (!vals)
        return true;
    json_array_foreach(vals, i, v)
    {
        if (s && !strcmp(s, json_string_value(v)))
            return true;
    }
    return false;
}

struct list_ctx {
    struct node *node;
    struct api_filters *f;
    json_t *out;
};

static int list_one(json_t *obj, void *data)
{
    struct list_ctx *c = data;
    const char *name = store_json_str(obj, "Spec.Name");
    if (!name || !name[0])
        name = store_json_str(obj, "Description.Hostname");
    if (!api_filter_any_prefix(api_filters_get(c->f, "id"), store_json_str(obj, "ID")) ||
        !api_filter_any_prefix(api_filters_get(c->f, "name"), name) ||
        !any_equal(api_filters_get(c->f, "role"), store_json_str(obj, "Spec.Role")) ||
        !any_equal(api_filters_get(c->f, "membership"), "accepted") ||
        !api_filters_match_labels(c->f, "label",
                                  store_json_path(obj, "Description.Engine.Labels")) ||
        !api_filters_match_labels(c->f, "node.label", store_json_path(obj, "Spec.Labels")))
        return 0;
    json_array_append_new(c->out, node_decorate(c->node, obj));
    return 0;
}

static int check_enum(const struct api_filters *f, const char *key, const char *a, const char *b,
                      struct err *e)
{
    json_t *vals = api_filters_get(f, key);
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        if (strcmp(s, a) && strcmp(s, b))
            return err_set(e, ERR_INVALID, "Invalid %s filter: '%s'", key, s);
    }
    return 0;
}

static void h_nodes_list(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    if (node_require_manager(r->api->node, &e) < 0 || api_filters_parse(r, &f, &e) < 0 ||
        api_filters_validate(&f, node_filters, &e) < 0 ||
        check_enum(&f, "role", "manager", "worker", &e) < 0 ||
        check_enum(&f, "membership", "accepted", "pending", &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    struct list_ctx c = {r->api->node, &f, json_array()};
    store_foreach(node_store(r->api->node), STORE_NODE, list_one, &c);
    api_filters_release(&f);
    api_reply_json(r, 200, c.out);
}

static void h_node_inspect(struct api_req *r)
{
    struct err e;
    json_t *obj = NULL;
    if (node_require_manager(r->api->node, &e) < 0 ||
        !(obj = store_find(node_store(r->api->node), STORE_NODE, r->params[0], &e))) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, node_decorate(r->api->node, obj));
}

static void h_node_update(struct api_req *r)
{
    struct err e;
    uint64_t version = 0;
    json_t *spec = NULL;
    /* dockerd's order: decode the body, then parse the version, then ask the swarm */
    if (!(spec = api_body_json(r, &e)) || api_query_version(r, "node", &version, &e) < 0 ||
        node_require_manager(r->api->node, &e) < 0) {
        json_decref(spec);
        api_reply_err(r, &e);
        return;
    }
    node_node_update(r->api->node, r->params[0], version, spec, api_done_empty, r);
    json_decref(spec);
}

static void h_node_delete(struct api_req *r)
{
    node_node_remove(r->api->node, r->params[0], api_query_bool(r, "force"), api_done_empty, r);
}

const struct api_route api_node_routes[] = {
    {"GET", "/nodes", h_nodes_list},
    {"GET", "/nodes/{id}", h_node_inspect},
    {"POST", "/nodes/{id}/update", h_node_update},
    {"DELETE", "/nodes/{id}", h_node_delete},
    {NULL, NULL, NULL},
};
