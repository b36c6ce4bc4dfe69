/* node_core.c — the node's lifecycle (load from the data root, start/stop the replicated
 * store), persistence of the local identity, and the etcd ↔ store glue: values are sealed
 * with the data key on the way to etcd and unsealed into the store on the way back.
 * Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"inactive", "pending", "active", "locked", "error"};

const char *node_state_name(enum node_state s)
{
    return state_names[s];
}

char *node_path(const struct node *n, const char *rel)
{
    return xasprintf("%s/%s", n->swarm_dir, rel);
}

struct node *node_new(uv_loop_t *loop, const struct node_config *cfg)
{
    struct node *n = xcalloc(1, sizeof(*n));
    n->loop = loop;
    n->cfg = *cfg;
    size_t nl = 0;
    while (cfg->labels && cfg->labels[nl])
        nl++;
    n->labels = xcalloc(nl + 1, sizeof(char *));
    for (size_t i = 0; i < nl; i++)
        n->labels[i] = xstrdup(cfg->labels[i]);
    n->cfg.labels = (const char *const *)n->labels;
    n->cfg.data_root = xstrdup(cfg->data_root);
    n->cfg.engine_version = xstrdup(cfg->engine_version ? cfg->engine_version : "0.1.0");
    n->cfg.etcd_bin = cfg->etcd_bin ? xstrdup(cfg->etcd_bin) : NULL;
    if (!n->cfg.etcd_client_port)
        n->cfg.etcd_client_port = 2479;
    if (!n->cfg.etcd_peer_port)
        n->cfg.etcd_peer_port = 2480;
    n->swarm_dir = xasprintf("%s/swarm", cfg->data_root);
    n->certs_dir = xasprintf("%s/certs", n->swarm_dir);
    n->keys_dir = xasprintf("%s/keys", n->swarm_dir);
    n->etcd_dir = xasprintf("%s/etcd", n->swarm_dir);
    etcdtrust_init(&n->etcd, n->certs_dir, n->keys_dir);
    n->store = store_new();
    n->role_watch = store_watch_add(n->store, 1u << STORE_NODE, node_role_watch, n);
    n->unlock_key = xstrdup("");
    n->join_failures =
        rate_table_new(NODE_JOIN_FAIL_SLOTS, NODE_JOIN_FAIL_BURST, NODE_JOIN_FAIL_REFILL_NS);
    return n;
}

/* ---- accessors ---- */

enum node_state node_state(const struct node *n)
{
    return n->state;
}

const char *node_error(const struct node *n)
{
    return n->error;
}

const char *node_self_id(const struct node *n)
{
    return n->state == NODE_INACTIVE || n->state == NODE_LOCKED ? "" : n->id;
}

const char *node_self_addr(const struct node *n)
{
    return n->state == NODE_INACTIVE ? "" : n->advertise_ip;
}

const char *node_manager_addr(const struct node *n)
{
    static char buf[96];
    snprintf(buf, sizeof(buf), "%s:%d", n->advertise_ip, n->advertise_port);
    return buf;
}

bool node_is_manager(const struct node *n)
{
    return !strcmp(n->role, "manager");
}

struct httpc *node_peer_client(struct node *n)
{
    /* the peer's certificate must chain to the swarm's roots; its role is checked by the
     * calls themselves, so the address it is reached at need not be in its SANs */
    char *ca = xasprintf("%s/ca.crt", n->certs_dir);
    char *cert = xasprintf("%s/node.crt", n->certs_dir);
    char *key = xasprintf("%s/node.key", n->certs_dir);
    struct httpc_tls tls = {.ca_file = ca,
                            .cert_file = cert,
                            .key_file = key,
                            .skip_host_check = true,
                            .tls13 = true,
                            .server = "manager"};
    struct httpc *c = httpc_new(n->loop, &tls);
    free(ca);
    free(cert);
    free(key);
    return c;
}

struct store *node_store(struct node *n)
{
    return n->store;
}

json_t *node_cluster(const struct node *n)
{
    if (n->state != NODE_ACTIVE)
        return NULL;
    return store_get(n->store, STORE_CLUSTER, n->cluster_id);
}

static int add_remote(json_t *obj, void *data)
{
    const char *addr = store_json_str(obj, "ManagerStatus.Addr");
    if (addr && !strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager"))
        json_array_append_new(
            data, json_pack("{s:s, s:s}", "NodeID", store_json_str(obj, "ID"), "Addr", addr));
    return 0;
}

json_t *node_remote_managers(struct node *n)
{
    json_t *arr = json_array();
    if (node_is_manager(n)) {
        store_foreach(n->store, STORE_NODE, add_remote, arr);
        return arr;
    }
    size_t i;
    json_t *v;
    json_array_foreach(n->managers, i, v)
    {
        json_array_append_new(arr, json_pack("{s:s, s:O}", "NodeID", "", "Addr", v));
    }
    return arr;
}

const char *node_unlock_key(const struct node *n)
{
    return n->unlock_key;
}

int node_etcd_pid(const struct node *n)
{
    return n->st ? state_etcd_pid(n->st) : 0;
}

#define MSG_LOCKED                                                                                 \
    "Swarm is encrypted and needs to be unlocked before it can be used. Please use \"docker "      \
    "swarm unlock\" to unlock it."

int node_require_manager(const struct node *n, struct err *e)
{
    switch (n->state) {
    case NODE_INACTIVE:
        return err_set(e, ERR_UNAVAILABLE,
                       "This node is not a swarm manager. Use \"docker swarm init\" or \"docker "
                       "swarm join\" to connect this node to swarm and try again.");
    case NODE_LOCKED:
        return err_set(e, ERR_UNAVAILABLE, MSG_LOCKED);
    case NODE_STARTING:
        return err_set(e, ERR_UNAVAILABLE, "The swarm is starting; its state is not loaded yet.");
    case NODE_ERROR:
        return err_set(e, ERR_UNAVAILABLE, "%s", n->error);
    case NODE_ACTIVE:
        break;
    }
    if (!node_is_manager(n))
        return err_set(e, ERR_UNAVAILABLE,
                       "This node is not a swarm manager. Worker nodes can't be used to view or "
                       "modify cluster state. Please run this command on a manager node or "
                       "promote the current node to a manager.");
    if (!state_available(n->st))
        return err_set(e, ERR_UNAVAILABLE, "the swarm's store is unavailable: %s",
                       state_unavailable_reason(n->st));
    return 0;
}

/* ---- local identity ---- */

int node_save_state(struct node *n, struct err *e)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:I}", "NodeID", n->id,
                          "ClusterID", n->cluster_id, "Role", n->role, "AdvertiseAddr",
                          n->advertise_ip, "AdvertisePort", n->advertise_port, "ListenAddr",
                          n->listen_addr, "DataPathAddr", n->data_path_addr, "Managers",
                          n->managers ? json_incref(n->managers) : json_array(),
                          "HeartbeatPeriodMs", (json_int_t)n->heartbeat_ms);
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    char *path = node_path(n, "state.json");
    int rc = file_write_atomic(path, s, strlen(s), 0600, e);
    free(path);
    free(s);
    return rc;
}

static void copy_str(char *dst, size_t cap, json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

static int load_state(struct node *n, struct err *e)
{
    char *path = node_path(n, "state.json"), *data = NULL;
    size_t len;
    int rc = file_read(path, &data, &len, e);
    free(path);
    if (rc)
        return rc;
    json_error_t je;
    json_t *j = json_loadb(data, len, 0, &je);
    free(data);
    if (!j)
        return err_set(e, ERR_INTERNAL, "swarm/state.json is corrupt: %s", je.text);
    copy_str(n->id, sizeof(n->id), j, "NodeID");
    copy_str(n->cluster_id, sizeof(n->cluster_id), j, "ClusterID");
    copy_str(n->role, sizeof(n->role), j, "Role");
    copy_str(n->advertise_ip, sizeof(n->advertise_ip), j, "AdvertiseAddr");
    copy_str(n->listen_addr, sizeof(n->listen_addr), j, "ListenAddr");
    copy_str(n->data_path_addr, sizeof(n->data_path_addr), j, "DataPathAddr");
    n->advertise_port = (int)json_integer_value(json_object_get(j, "AdvertisePort"));
    json_decref(n->managers);
    n->managers = json_deep_copy(json_object_get(j, "Managers"));
    n->heartbeat_ms = json_integer_value(json_object_get(j, "HeartbeatPeriodMs"));
    json_decref(j);
    if (!id_valid(n->id) || !id_valid(n->cluster_id))
        return err_set(e, ERR_INTERNAL, "swarm/state.json is corrupt: bad IDs");
    return 0;
}

void node_forget(struct node *n)
{
    node_session_stop(n);
    n->state = NODE_INACTIVE;
    n->error[0] = 0;
    n->id[0] = n->cluster_id[0] = n->role[0] = n->advertise_ip[0] = 0;
    n->listen_addr[0] = n->data_path_addr[0] = 0;
    json_decref(n->managers);
    n->managers = NULL;
    n->heartbeat_ms = 0;
    memset(n->dek, 0, sizeof(n->dek));
    n->have_dek = false;
    rootca_roots_release(&n->roots);
    free(n->unlock_key);
    n->unlock_key = xstrdup("");
    node_etcd_forget(n, false);
    store_clear(n->store);
    json_decref(n->manager_list);
    n->manager_list = NULL;
}

/* ---- private records from the feed ---- */

static void apply_private(struct node *n, const char *name, json_t *rec)
{
    if (etcdtrust_apply(&n->etcd, node_is_manager(n) && n->have_dek ? n->dek : NULL, name, rec))
        return;
    if (!strcmp(name, "rootca")) {
        rootca_roots_load(&n->roots, rec);
        n->finishing_rotation = false;
        /* managers follow the swarm's roots as soon as they change */
        char *bundle = rootca_trust_bundle(&n->roots);
        node_trust_sync(n, bundle, rootca_signing_cert(&n->roots));
        free(bundle);
    } else if (!strcmp(name, "unlockkey")) {
        const char *key = json_string_value(json_object_get(rec, "UnlockKey")) ?: "";
        /* autolock is the swarm's: every manager seals its data key with the current unlock
         * key (or a key-encryption key on disk when autolock is off) */
        if (n->have_dek && strcmp(key, n->unlock_key) != 0) {
            struct err e;
            if (node_keys_reseal(n, key[0] ? key : NULL, &e) < 0)
                log_error("cannot reseal the data key for the new unlock key: %s", e.msg);
        }
        free(n->unlock_key);
        n->unlock_key = xstrdup(key);
    }
}

static void on_private(void *ctx, const char *name, json_t *rec)
{
    apply_private(ctx, name, rec);
}

static void on_state_event(void *data, const struct state_event *ev)
{
    struct node *n = data;
    repl_feed(n->repl, ev);
}

static void refresh_done(void *data, int rc, struct err *e)
{
    if (rc < 0)
        log_warn("could not refresh this node's description: %s", e->msg);
}

/* After a restart the host may have changed (CPUs, memory, hostname, engine labels or
 * version): bring this node's object up to date. */
static void refresh_self(struct node *n)
{
    json_t *cur = store_get(n->store, STORE_NODE, n->id);
    if (!cur)
        return;
    json_t *desc = node_host_description(n);
    json_t *tls = store_json_path(cur, "Description.TLSInfo");
    if (tls)
        json_object_set(desc, "TLSInfo", tls);
    if (json_equal(desc, json_object_get(cur, "Description")) &&
        !strcmp(store_json_str(cur, "Status.State") ?: "", "ready")) {
        json_decref(desc);
        return;
    }
    json_t *obj = json_deep_copy(cur);
    json_object_set_new(obj, "Description", desc);
    json_object_set_new(json_object_get(obj, "Status"), "State", json_string("ready"));
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    json_object_set_new(obj, "UpdatedAt", json_string(now));
    node_commit(n, STORE_NODE, obj, store_obj_version(cur), refresh_done, n);
}

static void on_state_ready(void *data, int rc, struct err *e)
{
    struct node *n = data;
    node_done_cb cb = n->start_cb;
    void *cbdata = n->start_data;
    n->start_cb = NULL;
    if (rc < 0) {
        n->state = NODE_ERROR;
        snprintf(n->error, sizeof(n->error), "the swarm's store could not be started: %s", e->msg);
        log_error("%s", n->error);
    } else {
        n->state = NODE_ACTIVE;
        n->error[0] = 0;
        refresh_self(n);
        node_etcd_ready(n);
        node_leader_start(n);
        node_session_start(n);
    }
    if (cb)
        cb(cbdata, rc, e);
}

void node_start_store(struct node *n, node_done_cb cb, void *data)
{
    struct err e;
    struct etcdtrust_self self = {n->id, n->cluster_id, n->advertise_ip};
    if (etcdtrust_prepare(&n->etcd, n->dek, &self, time_now_ns(), &e) < 0) {
        n->state = NODE_ERROR;
        snprintf(n->error, sizeof(n->error), "%s", e.msg);
        cb(data, -e.kind, &e);
        return;
    }
    /* etcd trusts the etcd CA alone (etcdtrust.h); an older data root keeps the swarm's */
    bool own = n->etcd.on;
    char *ca = xasprintf("%s/%s", n->certs_dir, own ? "etcd-ca.crt" : "ca.crt");
    char *cert = xasprintf("%s/%s", n->certs_dir, own ? "etcd.crt" : "node.crt");
    char *key = xasprintf("%s/%s", n->certs_dir, own ? "etcd.key" : "node.key");
    char *crl = own ? xasprintf("%s/etcd-crl.pem", n->certs_dir) : NULL;
    char *log = node_path(n, "etcd.log");
    struct state_config sc = {
        .etcd_bin = n->cfg.etcd_bin,
        .data_dir = n->etcd_dir,
        .name = n->id,
        .peer_host = n->advertise_ip,
        .peer_port = n->cfg.etcd_peer_port,
        .client_port = n->cfg.etcd_client_port,
        .ca_file = ca,
        .cert_file = cert,
        .key_file = key,
        .crl_file = crl,
        .log_file = log,
        .initial_cluster = n->initial_cluster,
        .force_new_cluster = n->force_new_cluster,
    };
    n->force_new_cluster = false;
    n->state = NODE_STARTING;
    if (node_rpc_listen(n, &e) < 0) {
        n->state = NODE_ERROR;
        snprintf(n->error, sizeof(n->error), "%s", e.msg);
        free(ca);
        free(cert);
        free(key);
        free(crl);
        free(log);
        cb(data, -e.kind, &e);
        return;
    }
    n->start_cb = cb;
    n->start_data = data;
    n->st = state_new(n->loop, &sc);
    struct repl_config rc = {.st = n->st,
                             .store = n->store,
                             .dek = n->dek,
                             .prefix = NODE_ETCD_PREFIX,
                             .private_prefix = NODE_PRIVATE_PREFIX,
                             .fence_key = NODE_LEADER_KEY,
                             .on_private = on_private,
                             .ctx = n};
    n->repl = repl_new(n->loop, &rc);
    free(n->initial_cluster);
    n->initial_cluster = NULL;
    free(ca);
    free(cert);
    free(key);
    free(crl);
    free(log);
    state_start(n->st, NODE_ETCD_PREFIX, on_state_ready, on_state_event, n);
}

struct stop_ctx {
    struct node *n;
    void (*cb)(void *data);
    void *data;
};

static void store_stopped(void *data)
{
    struct stop_ctx *c = data;
    c->n->st = NULL;
    repl_free(c->n->repl);
    c->n->repl = NULL;
    if (c->cb)
        c->cb(c->data);
    free(c);
}

void node_stop_store(struct node *n, void (*cb)(void *data), void *data)
{
    node_rpc_close(n);
    node_leader_stop(n);
    node_dispatch_stop(n);
    if (!n->st) {
        if (cb)
            cb(data);
        return;
    }
    struct stop_ctx *c = xmalloc(sizeof(*c));
    *c = (struct stop_ctx){n, cb, data};
    state_stop(n->st, store_stopped, c);
}

void node_start(struct node *n, node_done_cb cb, void *data)
{
    struct err e;
    node_certs_start(n);
    int rc = load_state(n, &e);
    if (rc == -ERR_NOT_FOUND) {
        n->state = NODE_INACTIVE;
        cb(data, 0, NULL);
        return;
    }
    if (rc < 0) {
        n->state = NODE_ERROR;
        snprintf(n->error, sizeof(n->error), "%s", e.msg);
        cb(data, rc, &e);
        return;
    }
    if (!node_is_manager(n)) {
        n->state = NODE_ACTIVE;
        node_agent_start(n);
        node_session_start(n);
        cb(data, 0, NULL);
        return;
    }
    rc = node_keys_load(n, &e);
    if (rc < 0) {
        n->state = NODE_ERROR;
        snprintf(n->error, sizeof(n->error), "%s", e.msg);
        cb(data, rc, &e);
        return;
    }
    if (rc == 1) {
        n->state = NODE_LOCKED;
        snprintf(n->error, sizeof(n->error), MSG_LOCKED);
        cb(data, 0, NULL);
        return;
    }
    node_start_store(n, cb, data);
}

static void node_free(void *data)
{
    struct node *n = data;
    void (*cb)(void *) = n->stop_cb;
    void *cbdata = n->stop_data;
    store_watch_remove(n->store, n->role_watch);
    store_free(n->store);
    for (size_t i = 0; n->labels[i]; i++)
        free(n->labels[i]);
    free(n->labels);
    free((char *)n->cfg.data_root);
    free((char *)n->cfg.engine_version);
    free((char *)n->cfg.etcd_bin);
    free(n->swarm_dir);
    free(n->certs_dir);
    free(n->keys_dir);
    free(n->etcd_dir);
    rootca_roots_release(&n->roots);
    free(n->unlock_key);
    etcdtrust_release(&n->etcd);
    free(n->initial_cluster);
    json_decref(n->managers);
    json_decref(n->manager_list);
    rate_table_free(n->join_failures);
    free(n);
    if (cb)
        cb(cbdata);
}

void node_stop(struct node *n, void (*cb)(void *data), void *data)
{
    node_session_stop(n);
    node_certs_stop(n);
    node_agent_stop(n);
    n->stop_cb = cb;
    n->stop_data = data;
    node_stop_store(n, node_free, n);
}

/* ---- commits: through the replication module (src/repl) ---- */

bool node_store_writable(struct node *n, struct err *e)
{
    if (!n->st || !n->repl || !n->have_dek) {
        err_set(e, ERR_UNAVAILABLE, "the swarm's store is not running");
        return false;
    }
    if (!state_available(n->st)) {
        err_set(e, ERR_UNAVAILABLE, "the swarm's store is unavailable: %s",
                state_unavailable_reason(n->st));
        return false;
    }
    return true;
}

/* A refusal before the replication module exists (not in a swarm, locked): delivered later
 * from a zero timer, as every commit callback is. */
struct refusal {
    uv_timer_t timer;
    store_commit_cb cb;
    void *arg;
    struct err e;
};

static void refusal_closed(uv_handle_t *h)
{
    free(h->data);
}

static void refusal_fire(uv_timer_t *t)
{
    struct refusal *f = t->data;
    f->cb(f->arg, -f->e.kind, &f->e);
    uv_close((uv_handle_t *)t, refusal_closed);
}

static void refuse_later(struct node *n, const struct err *e, store_commit_cb cb, void *arg)
{
    struct refusal *f = xcalloc(1, sizeof(*f));
    f->cb = cb;
    f->arg = arg;
    f->e = *e;
    uv_timer_init(n->loop, &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, refusal_fire, 0, 0);
}

static void commit_writes(struct node *n, bool fenced, const struct store_write *w, size_t nw,
                          store_commit_cb cb, void *arg)
{
    struct err e;
    if (!node_store_writable(n, &e)) {
        refuse_later(n, &e, cb, arg);
        return;
    }
    if (!fenced) {
        repl_commit(n->repl, w, nw, cb, arg);
        return;
    }
    /* the election is checked against the clock here; the fence makes etcd check it too */
    int64_t rev = node_is_leader(n) ? n->leader_rev : 0;
    repl_commit_fenced(n->repl, rev, w, nw, cb, arg);
}

void node_commit_batch(void *ctx, const struct store_write *w, size_t nw, store_commit_cb cb,
                       void *arg)
{
    commit_writes(ctx, true, w, nw, cb, arg);
}

void node_commit_leader(struct node *n, enum store_kind k, json_t *obj, uint64_t expect_version,
                        node_done_cb cb, void *data)
{
    struct store_write w = {k, obj, NULL, expect_version};
    commit_writes(n, true, &w, 1, cb, data);
    json_decref(obj);
}

void node_commit(struct node *n, enum store_kind k, json_t *obj, uint64_t expect_version,
                 node_done_cb cb, void *data)
{
    struct store_write w = {k, obj, NULL, expect_version};
    commit_writes(n, false, &w, 1, cb, data);
    json_decref(obj);
}

void node_commit_delete(struct node *n, enum store_kind k, const char *id, uint64_t expect_version,
                        node_done_cb cb, void *data)
{
    struct store_write w = {k, NULL, id, expect_version};
    commit_writes(n, false, &w, 1, cb, data);
}

void node_commit_private(struct node *n, const char *name, json_t *rec, node_done_cb cb, void *data)
{
    struct err e;
    if (!node_store_writable(n, &e)) {
        refuse_later(n, &e, cb, data);
        return;
    }
    apply_private(n, name, rec);
    repl_put_private(n->repl, name, rec, cb, data);
}
