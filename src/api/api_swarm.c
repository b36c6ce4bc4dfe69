/* api_swarm.c — /swarm endpoints: inspect, init, join, leave, update, unlock key, unlock.
 * Thread: the loop thread; writes answer when the node module's callback fires. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static void h_swarm_inspect(struct api_req *r)
{
    struct err e;
    if (node_require_manager(r->api->node, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, json_deep_copy(node_cluster(r->api->node)));
}

static void init_done(void *data, int rc, struct err *e)
{
    struct api_req *r = data;
    if (rc < 0)
        api_reply_err(r, e);
    else
        api_reply_json(r, 200, json_string(node_self_id(r->api->node)));
}

static void h_swarm_init(struct api_req *r)
{
    struct err e;
    json_t *body = api_body_json(r, &e);
    if (!body) {
        api_reply_err(r, &e);
        return;
    }
    node_swarm_init(r->api->node, body, init_done, r);
    json_decref(body);
}

static void h_swarm_join(struct api_req *r)
{
    struct err e;
    json_t *body = api_body_json(r, &e);
    if (!body) {
        api_reply_err(r, &e);
        return;
    }
    node_swarm_join(r->api->node, body, api_done_empty, r);
    json_decref(body);
}

static void h_swarm_leave(struct api_req *r)
{
    node_swarm_leave(r->api->node, api_query_bool(r, "force"), api_done_empty, r);
}

static void h_swarm_update(struct api_req *r)
{
    struct err e;
    struct node_swarm_update u = {0};
    /* dockerd's order: decode the body, then parse the version, then ask the swarm */
    json_t *spec = api_body_json(r, &e);
    if (!spec || api_query_version(r, "swarm", &u.version, &e) < 0 ||
        api_query_parse_bool(r, "rotateWorkerToken", &u.rotate_worker_token, &e) < 0 ||
        api_query_parse_bool(r, "rotateManagerToken", &u.rotate_manager_token, &e) < 0 ||
        api_query_parse_bool(r, "rotateManagerUnlockKey", &u.rotate_unlock_key, &e) < 0 ||
        node_require_manager(r->api->node, &e) < 0) {
        json_decref(spec);
        api_reply_err(r, &e);
        return;
    }
    u.spec = spec;
    node_swarm_update(r->api->node, &u, api_done_empty, r);
    json_decref(spec);
}

static void h_swarm_unlockkey(struct api_req *r)
{
    struct err e;
    if (node_require_manager(r->api->node, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, json_pack("{s:s}", "UnlockKey", node_unlock_key(r->api->node)));
}

static void h_swarm_unlock(struct api_req *r)
{
    struct err e;
    json_t *body = api_body_json(r, &e);
    if (!body) {
        api_reply_err(r, &e);
        return;
    }
    json_t *key = json_object_get(body, "UnlockKey");
    if (!json_is_object(body) || (key && !json_is_string(key))) {
        json_decref(body);
        api_reply_error(r, ERR_INVALID,
                        "json: cannot unmarshal into Go value of type swarm.UnlockRequest");
        return;
    }
    char *k = xstrdup(json_string_value(key) ?: "");
    json_decref(body);
    node_swarm_unlock(r->api->node, k, api_done_empty, r);
    free(k);
}

const struct api_route api_swarm_routes[] = {
    {"GET", "/swarm", h_swarm_inspect},        {"POST", "/swarm/init", h_swarm_init},
    {"POST", "/swarm/join", h_swarm_join},     {"POST", "/swarm/leave", h_swarm_leave},
    {"POST", "/swarm/update", h_swarm_update}, {"GET", "/swarm/unlockkey", h_swarm_unlockkey},
    {"POST", "/swarm/unlock", h_swarm_unlock}, {NULL, NULL, NULL},
};
