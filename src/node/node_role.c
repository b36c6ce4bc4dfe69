/* node_role.c — role changes of this node: a worker whose spec says manager asks a manager
 * for a manager identity (certificate, the store's data key, an etcd membership) and starts
 * its etcd; a manager whose spec says worker takes itself out of etcd, drops the store and
 * its keys, and continues as a worker. Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

static int write_cert_key(struct node *n, const char *cert, const char *key, struct err *e)
{
    char *cp = xasprintf("%s/node.crt", n->certs_dir), *kp = xasprintf("%s/node.key", n->certs_dir);
    int rc = file_write_atomic(kp, key, strlen(key), 0600, e);
    if (!rc)
        rc = file_write_atomic(cp, cert, strlen(cert), 0644, e);
    free(cp);
    free(kp);
    return rc;
}

/* ---- promotion (worker side) ---- */

struct promote_ctx {
    struct node *n;
    char *key;
};

static void promoted_started(void *data, int rc, struct err *e)
{
    if (rc < 0)
        log_error("promoted, but the store did not start: %s", e->msg);
    else
        log_info("this node is now a manager");
}

static void promote_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct promote_ctx *c = data;
    struct node *n = c->n;
    struct err e2;
    n->promoting = false;
    json_t *j = rc == 0 && status == 200 ? msg_load(body->p, body->len, "join answer", &e2) : NULL;
    struct msg_join_resp m = {0};
    bool loaded = j != NULL, decoded = j && msg_join_resp_decode(j, &m, &e2) == 0;
    json_decref(j);
    const char *cert = m.cert, *dek = m.dek, *initial = m.initial_cluster;
    struct buf raw = BUF_INIT;
    if (!decoded || !dek || !initial) {
        log_warn("promotion failed: %s", rc < 0    ? e->msg
                                         : decoded ? "the manager's answer lacks the store's keys"
                                         : loaded  ? e2.msg
                                                   : "the manager refused");
        goto out;
    }
    rc = b64_decode(dek, strlen(dek), &raw, &e2);
    if (!rc && raw.len != sizeof(n->dek))
        rc = err_set(&e2, ERR_INTERNAL, "malformed data key");
    if (!rc)
        rc = write_cert_key(n, cert, c->key, &e2);
    if (rc) {
        log_error("promotion failed: %s", e2.msg);
        goto out;
    }
    memcpy(n->dek, raw.p, sizeof(n->dek));
    n->have_dek = true;
    if (etcdtrust_ca_from_answer(&n->etcd, n->dek, m.etcd_ca_cert, m.etcd_ca_key, &e2) < 0)
        log_error("promotion: %s", e2.msg);
    snprintf(n->role, sizeof(n->role), "manager");
    free(n->initial_cluster);
    n->initial_cluster = xstrdup(initial);
    const char *ukey = m.unlock_key;
    free(n->unlock_key);
    n->unlock_key = xstrdup(ukey ? ukey : "");
    if (node_keys_reseal(n, n->unlock_key[0] ? n->unlock_key : NULL, &e2) < 0 ||
        node_save_state(n, &e2) < 0)
        log_error("promotion: cannot save the new identity: %s", e2.msg);
    node_agent_stop(n);
    node_start_store(n, promoted_started, n);
out:
    if (raw.p)
        memset(raw.p, 0, raw.len);
    buf_release(&raw);
    msg_join_resp_release(&m);
    free(c->key);
    free(c);
}

void node_promote_self(struct node *n, struct httpc *client, const char *manager)
{
    if (n->promoting)
        return;
    struct err e;
    char *key = NULL, *csr = NULL;
    if (ca_key_csr_new(&key, &csr, &e) < 0) {
        log_error("promotion: %s", e.msg);
        return;
    }
    n->promoting = true;
    struct promote_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->key = key;
    struct msg_csr_req m = {csr, n->advertise_port, n->cfg.etcd_peer_port, NULL};
    json_t *req = msg_csr_req_encode(&m);
    free(csr);
    char *s = msg_dump(req);
    json_decref(req);
    char *url = xasprintf("https://%s/swarm-rpc/promote", manager);
    log_info("promoted to manager: asking %s for a manager identity", manager);
    httpc_post(client, url, s, strlen(s), 30000, NULL, promote_done, c);
    free(url);
    free(s);
}

/* ---- demotion (manager side, on itself) ---- */

struct demote_ctx {
    struct node *n;
    char *cert, *key;
};

static void demote_stopped(void *data)
{
    struct demote_ctx *c = data;
    struct node *n = c->n;
    struct err e;
    dir_remove_all(n->etcd_dir, &e);
    /* the etcd CA key (sealed in keys/) and this node's etcd certificate go too */
    node_etcd_forget(n, true);
    dir_remove_all(n->keys_dir, &e);
    memset(n->dek, 0, sizeof(n->dek));
    n->have_dek = false;
    snprintf(n->role, sizeof(n->role), "worker");
    if (write_cert_key(n, c->cert, c->key, &e) < 0 || node_save_state(n, &e) < 0)
        log_error("demotion: cannot save the new identity: %s", e.msg);
    free(n->roots.key);
    n->roots.key = NULL;
    store_clear(n->store);
    json_decref(n->manager_list);
    n->manager_list = NULL;
    n->state = NODE_ACTIVE;
    n->demoting = false;
    node_agent_start(n);
    node_session_reload_tls(n);
    log_info("this node is now a worker");
    free(c->cert);
    free(c->key);
    free(c);
}

static void member_removed(void *data, int rc, const char *initial_cluster, struct err *e)
{
    struct demote_ctx *c = data;
    if (rc < 0 && rc != -ERR_NOT_FOUND)
        log_warn("demotion: etcd member remove failed: %s", e->msg);
    node_stop_store(c->n, demote_stopped, c);
}

static void status_cleared(void *data, int rc, struct err *e)
{
    struct demote_ctx *c = data;
    if (rc < 0)
        log_warn("demotion: could not clear the manager status: %s", e->msg);
    state_member_remove(c->n->st, c->n->id, member_removed, c);
}

void node_demote_self(struct node *n)
{
    struct err e;
    json_t *cur = store_get(n->store, STORE_NODE, n->id);
    json_t *cluster = node_cluster(n);
    if (n->demoting || !cur || !cluster || !n->roots.cert || !n->roots.key)
        return;
    struct demote_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    char *csr = NULL;
    if (ca_key_csr_new(&c->key, &csr, &e) < 0 ||
        node_issue(n, csr, n->id, "swarm-worker", n->advertise_ip, &c->cert, &e) < 0) {
        log_error("demotion: %s", e.msg);
        free(csr);
        free(c->key);
        free(c);
        return;
    }
    free(csr);
    n->demoting = true;
    log_info("demoted to worker: leaving the managers");
    json_decref(n->managers);
    n->managers = node_manager_list(n);
    n->agent_idx = 0; /* an index into the old list means nothing in this one */
    for (size_t i = 0; i < json_array_size(n->managers); i++)
        if (!strcmp(json_string_value(json_array_get(n->managers, i)), node_manager_addr(n)))
            json_array_remove(n->managers, i--);
    node_leader_stop(n);
    json_t *obj = json_deep_copy(cur);
    json_object_del(obj, "ManagerStatus");
    node_commit(n, STORE_NODE, obj, store_obj_version(cur), status_cleared, c);
}

/* Watches this node's own object for a role change decided elsewhere. */
void node_role_watch(void *data, enum store_kind k, enum store_action a, json_t *old, json_t *cur)
{
    struct node *n = data;
    if (!cur || n->state != NODE_ACTIVE || strcmp(store_json_str(cur, "ID") ?: "", n->id))
        return;
    if (node_is_manager(n) && !strcmp(store_json_str(cur, "Spec.Role") ?: "", "worker"))
        node_demote_self(n);
}
