/* node_nodes.c — changes to node objects through the API: update (availability, role,
 * labels, name; the spec decoded by src/spec as dockerd decodes it) and removal, with
 * swarmkit's preconditions and Docker's messages.
 * Thread: the loop thread. */
#include "node_int.h"

#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

static int count_managers(json_t *obj, void *data)
{
    if (!strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager"))
        (*(int *)data)++;
    return 0;
}

int node_node_spec_check(json_t *spec, json_t **out, struct err *e)
{
    /* decoded as dockerd decodes a swarm.NodeSpec: known fields only (a stray field such as
     * `version` is dropped, not echoed back in Spec), Go's words for wrong types, then
     * dockerd's Role/Availability checks */
    struct spec_node sn;
    int rc = spec_node_decode_json(spec, &sn, e);
    if (rc)
        return rc;
    rc = spec_node_validate(&sn, e);
    if (!rc)
        *out = spec_node_encode(&sn);
    spec_node_release(&sn);
    return rc;
}

void node_node_update(struct node *n, const char *ref, uint64_t version, json_t *spec,
                      node_done_cb cb, void *data)
{
    struct err e;
    json_t *cur = NULL, *sp = NULL;
    int rc = node_require_manager(n, &e);
    if (!rc)
        rc = node_node_spec_check(spec, &sp, &e);
    if (!rc && !(cur = store_find(n->store, STORE_NODE, ref, &e)))
        rc = -e.kind;
    if (!rc)
        rc = store_check_version(n->store, STORE_NODE, store_json_str(cur, "ID"), version, &e);
    if (rc) {
        json_decref(sp);
        cb(data, rc, &e);
        return;
    }
    const char *old_role = store_json_str(cur, "Spec.Role") ?: "";
    const char *role = json_string_value(json_object_get(sp, "Role")) ?: "";
    if (!strcmp(old_role, "manager") && !strcmp(role, "worker")) {
        int managers = 0;
        store_foreach(n->store, STORE_NODE, count_managers, &managers);
        if (managers <= 1) {
            json_decref(sp);
            err_set(&e, ERR_INVALID,
                    "rpc error: code = FailedPrecondition desc = attempting to demote the last "
                    "manager of the swarm");
            cb(data, -e.kind, &e);
            return;
        }
    }
    json_t *obj = json_deep_copy(cur);
    json_object_set_new(obj, "Spec", sp);
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    json_object_set_new(obj, "UpdatedAt", json_string(now));
    node_commit(n, STORE_NODE, obj, version, cb, data);
}

struct rm_ctx {
    struct node *n;
    char id[ID_LEN + 1];
    uint64_t version;
    node_done_cb cb;
    void *data;
};

static void rm_member_removed(void *data, int rc, const char *initial_cluster, struct err *e)
{
    struct rm_ctx *c = data;
    if (rc < 0 && rc != -ERR_NOT_FOUND)
        c->cb(c->data, rc, e);
    else
        node_commit_delete(c->n, STORE_NODE, c->id, c->version, c->cb, c->data);
    free(c);
}

void node_node_remove(struct node *n, const char *ref, bool force, node_done_cb cb, void *data)
{
    struct err e;
    json_t *cur = NULL;
    int rc = node_require_manager(n, &e);
    if (!rc && !(cur = store_find(n->store, STORE_NODE, ref, &e)))
        rc = -e.kind;
    if (rc) {
        cb(data, rc, &e);
        return;
    }
    const char *id = store_json_str(cur, "ID");
    bool manager = !strcmp(store_json_str(cur, "Spec.Role") ?: "", "manager") ||
                   store_json_path(cur, "ManagerStatus");
    if (manager && force && strcmp(id, n->id) != 0) {
        /* A lost manager: take its member out of etcd, then forget the node. */
        struct rm_ctx *c = xcalloc(1, sizeof(*c));
        c->n = n;
        snprintf(c->id, sizeof(c->id), "%s", id);
        c->version = store_obj_version(cur);
        c->cb = cb;
        c->data = data;
        state_member_remove(n->st, id, rm_member_removed, c);
        return;
    }
    if (manager) {
        err_set(&e, ERR_INVALID,
                "rpc error: code = FailedPrecondition desc = node %s is a cluster manager and is "
                "a member of the raft cluster. It must be demoted to worker before removal",
                id);
        cb(data, -e.kind, &e);
        return;
    }
    if (!force && strcmp(store_json_str(cur, "Status.State") ?: "", "down") != 0) {
        err_set(&e, ERR_INVALID,
                "rpc error: code = FailedPrecondition desc = node %s is not down and can't be "
                "removed",
                id);
        cb(data, -e.kind, &e);
        return;
    }
    node_commit_delete(n, STORE_NODE, id, store_obj_version(cur), cb, data);
}
