/* node_swarm.c — swarm init, leave, unlock and update: the membership transitions of this
 * host and the cluster object's life, with Docker's checks and messages.
 * Thread: the loop thread; each operation is a short chain of asynchronous steps. */
#include "agent/agent.h"
#include "node_int.h"

#include "ca/ca.h"
#include "spec/spec.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define MSG_ALREADY                                                                                \
    "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and "    \
    "join another one."
#define MSG_NO_SWARM "This node is not part of a swarm"

/* ---- typed request fields (Go's json decoder words on a wrong type) ---- */

static const char *json_type_word(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

/* Is v of the wanted JSON type as Go's decoder sees it (integers checked by the caller)? */
static bool type_ok(json_t *v, json_type want)
{
    return json_typeof(v) == want || (want == JSON_TRUE && json_is_boolean(v));
}

/* Returns the field if absent/null (NULL) or of the wanted type; else fills e with Go's
 * words. Integer fields go through store_json_go_int (gotype decides the range). */
static int field(json_t *obj, const char *strct, const char *key, json_type want,
                 const char *gotype, json_t **out, struct err *e)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    char where[128];
    snprintf(where, sizeof(where), "%s.%s", strct, key);
    int64_t ignored;
    if (want == JSON_INTEGER) {
        if (store_json_go_int(v, where, gotype, &ignored, e) < 0)
            return -ERR_INVALID;
    } else if (!type_ok(v, want)) {
        return err_set(e, ERR_INVALID,
                       "json: cannot unmarshal %s into Go struct field %s of type %s",
                       json_type_word(v), where, gotype);
    }
    *out = v;
    return 0;
}

json_t *node_default_spec(void)
{
    return json_pack("{s:s, s:{}, s:{s:i}, s:{s:i, s:i, s:i, s:i, s:i}, s:{s:I}, s:{s:I}, "
                     "s:{}, s:{s:b}}",
                     "Name", "default", "Labels", "Orchestration", "TaskHistoryRetentionLimit", 5,
                     "Raft", "SnapshotInterval", 10000, "KeepOldSnapshots", 0,
                     "LogEntriesForSlowFollowers", 500, "ElectionTick", 10, "HeartbeatTick", 1,
                     "Dispatcher", "HeartbeatPeriod", (json_int_t)5000000000LL, "CAConfig",
                     "NodeCertExpiry", (json_int_t)CA_NODE_EXPIRY_NS, "TaskDefaults",
                     "EncryptionConfig", "AutoLockManagers", 0);
}

/* Copies defaults into spec wherever a value is missing, null or zero (swarmkit does the
 * same for zero values of the cluster spec). */
static void merge_defaults(json_t *spec, json_t *def)
{
    const char *k;
    json_t *dv;
    json_object_foreach(def, k, dv)
    {
        json_t *v = json_object_get(spec, k);
        if (json_is_object(dv)) {
            if (!json_is_object(v)) {
                json_object_set(spec, k, dv);
                continue;
            }
            merge_defaults(v, dv);
        } else if (!v || json_is_null(v) ||
                   (json_is_integer(v) && json_integer_value(v) == 0 &&
                    strcmp(k, "KeepOldSnapshots") != 0) ||
                   (json_is_string(v) && !json_string_length(v))) {
            json_object_set(spec, k, dv);
        }
    }
}

void node_spec_defaults(json_t *spec)
{
    json_t *def = node_default_spec();
    merge_defaults(spec, def);
    json_decref(def);
}

#define MIN_HEARTBEAT_NS 1000000000LL /* shoal's dispatcher works in milliseconds */

/* Checks a cluster spec the way dockerd would: the value types as Go's decoder (integer
 * fields through store_json_go_int), then swarmkit's validateClusterSpec bounds, plus the
 * bounds shoal needs (heartbeat at least 1 s, no external CAs). prefix is "Spec." inside an
 * InitRequest, "" for a bare swarm.Spec: Go names fields by their path from the body. */
static int check_spec_at(json_t *spec, const char *prefix, struct err *e)
{
    static const struct {
        const char *obj, *gostruct; /* the sub-object and its Go type (NULL: Spec itself) */
        const char *key;
        json_type t;
        const char *gotype;
    } fields[] = {
        {NULL, "Spec", "Name", JSON_STRING, "string"},
        {NULL, "Spec", "Labels", JSON_OBJECT, "map[string]string"},
        {"Orchestration", "OrchestrationConfig", "TaskHistoryRetentionLimit", JSON_INTEGER,
         "int64"},
        {"Raft", "RaftConfig", "SnapshotInterval", JSON_INTEGER, "uint64"},
        {"Raft", "RaftConfig", "KeepOldSnapshots", JSON_INTEGER, "uint64"},
        {"Raft", "RaftConfig", "LogEntriesForSlowFollowers", JSON_INTEGER, "uint64"},
        {"Raft", "RaftConfig", "ElectionTick", JSON_INTEGER, "int"},
        {"Raft", "RaftConfig", "HeartbeatTick", JSON_INTEGER, "int"},
        {"Dispatcher", "DispatcherConfig", "HeartbeatPeriod", JSON_INTEGER, "time.Duration"},
        {"CAConfig", "CAConfig", "NodeCertExpiry", JSON_INTEGER, "time.Duration"},
        {"CAConfig", "CAConfig", "ForceRotate", JSON_INTEGER, "uint64"},
        {"CAConfig", "CAConfig", "SigningCACert", JSON_STRING, "string"},
        {"CAConfig", "CAConfig", "SigningCAKey", JSON_STRING, "string"},
        {"CAConfig", "CAConfig", "ExternalCAs", JSON_ARRAY, "[]*swarm.ExternalCA"},
        {"EncryptionConfig", "EncryptionConfig", "AutoLockManagers", JSON_TRUE, "bool"},
    };
    if (!json_is_object(spec))
        return err_set(e, ERR_INVALID, "json: cannot unmarshal %s into Go value of type swarm.Spec",
                       json_type_word(spec));
    int64_t val[ARRAY_SIZE(fields)] = {0};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        json_t *o = spec, *v;
        if (fields[i].obj) {
            o = json_object_get(spec, fields[i].obj);
            if (o && !json_is_null(o) && !json_is_object(o))
                return err_set(e, ERR_INVALID,
                               "json: cannot unmarshal %s into Go struct field Spec.%s%s of type "
                               "swarm.%s",
                               json_type_word(o), prefix, fields[i].obj, fields[i].gostruct);
            if (!o)
                continue;
        }
        char where[160];
        snprintf(where, sizeof(where), "%s.%s%s%s%s", fields[i].gostruct, prefix,
                 fields[i].obj ? fields[i].obj : "", fields[i].obj ? "." : "", fields[i].key);
        v = json_object_get(o, fields[i].key);
        if (!v || json_is_null(v))
            continue;
        if (fields[i].t == JSON_INTEGER) {
            if (store_json_go_int(v, where, fields[i].gotype, &val[i], e) < 0)
                return -ERR_INVALID;
            continue;
        }
        if (!type_ok(v, fields[i].t))
            return err_set(e, ERR_INVALID,
                           "json: cannot unmarshal %s into Go struct field %s of type %s",
                           json_type_word(v), where, fields[i].gotype);
    }
    json_t *labels = json_object_get(spec, "Labels");
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (!json_is_string(v))
            return err_set(e, ERR_INVALID,
                           "json: cannot unmarshal %s into Go struct field Spec.%sLabels of type "
                           "string",
                           json_type_word(v), prefix);
    }
    json_t *ca = json_object_get(spec, "CAConfig");
    int64_t hb = 0, expiry = 0;
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        if (!strcmp(fields[i].key, "HeartbeatPeriod"))
            hb = val[i];
        if (!strcmp(fields[i].key, "NodeCertExpiry"))
            expiry = val[i];
    }
    if (hb < 0)
        return err_set(e, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = heartbeat time period cannot be a "
                       "negative duration");
    if (hb > 0 && hb < MIN_HEARTBEAT_NS)
        return err_set(e, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = heartbeat time period must be at "
                       "least 1s");
    if (expiry != 0 && expiry < 3600LL * 1000000000LL)
        return err_set(e, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = minimum certificate expiry time "
                       "is: 1h0m0s");
    if (json_array_size(json_object_get(ca, "ExternalCAs")))
        return err_set(e, ERR_INVALID,
                       "rpc error: code = InvalidArgument desc = shoal does not support external "
                       "CAs: CAConfig.ExternalCAs must be empty");
    return 0;
}

static int check_spec(json_t *spec, struct err *e)
{
    return check_spec_at(spec, "", e);
}

/* The spec as stored: only the fields swarm.Spec has (decoded and encoded by src/spec, as
 * dockerd's decoder drops the others), so a stray field in a body is never echoed back by
 * GET /swarm. Call after check_spec; NULL with e set if the body does not decode. */
static json_t *known_fields(json_t *spec, struct err *e)
{
    struct spec_swarm w;
    if (spec_swarm_decode_json(spec, &w, e) < 0)
        return NULL;
    json_t *out = spec_swarm_encode(&w);
    spec_swarm_release(&w);
    return out;
}

int node_spec_check(json_t *spec, struct err *e)
{
    return check_spec(spec, e);
}

static bool cidr_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return false;
    char ip[64];
    snprintf(ip, sizeof(ip), "%.*s", (int)(slash - s), s);
    unsigned char tmp[16];
    uint64_t bits;
    return inet_pton(AF_INET, ip, tmp) == 1 && num_parse_u64(slash + 1, &bits) == 0 && bits <= 32;
}

/* ---- init ---- */

struct init_ctx {
    struct node *n;
    json_t *cluster, *self, *rootca, *unlock;
    int step;
    node_done_cb cb;
    void *data;
};

static void init_abort_done(void *data)
{
    struct init_ctx *c = data;
    struct err e2;
    dir_remove_all(c->n->swarm_dir, &e2);
    node_forget(c->n);
    free(c);
}

static void init_fail(struct init_ctx *c, int rc, struct err *e)
{
    json_decref(c->cluster);
    json_decref(c->self);
    json_decref(c->rootca);
    json_decref(c->unlock);
    c->cluster = c->self = c->rootca = c->unlock = NULL;
    c->cb(c->data, rc, e);
    node_stop_store(c->n, init_abort_done, c);
}

static void init_step(void *data, int rc, struct err *e)
{
    struct init_ctx *c = data;
    if (rc < 0) {
        init_fail(c, rc, e);
        return;
    }
    switch (c->step++) {
    case 0: /* store is up */
        node_commit_private(c->n, "rootca", c->rootca, init_step, c);
        return;
    case 1:
        if (c->unlock) {
            node_commit_private(c->n, "unlockkey", c->unlock, init_step, c);
            return;
        }
        init_step(c, 0, NULL);
        return;
    case 2: {
        json_t *obj = c->cluster;
        c->cluster = NULL;
        node_commit(c->n, STORE_CLUSTER, obj, 0, init_step, c);
        return;
    }
    case 3: {
        json_t *obj = c->self;
        c->self = NULL;
        node_commit(c->n, STORE_NODE, obj, 0, init_step, c);
        return;
    }
    default:
        log_info("swarm initialized: node %s, cluster %s", c->n->id, c->n->cluster_id);
        json_decref(c->rootca);
        json_decref(c->unlock);
        c->cb(c->data, 0, NULL);
        free(c);
    }
}

static int write_identity(struct node *n, const char *root_cert, const char *cert, const char *key,
                          struct err *e)
{
    int rc = dir_make(n->certs_dir, 0700, e);
    char *p;
    if (!rc) {
        p = xasprintf("%s/ca.crt", n->certs_dir);
        rc = file_write_atomic(p, root_cert, strlen(root_cert), 0644, e);
        free(p);
    }
    if (!rc) {
        p = xasprintf("%s/node.crt", n->certs_dir);
        rc = file_write_atomic(p, cert, strlen(cert), 0644, e);
        free(p);
    }
    if (!rc) {
        p = xasprintf("%s/node.key", n->certs_dir);
        rc = file_write_atomic(p, key, strlen(key), 0600, e);
        free(p);
    }
    return rc;
}

/* Parses and validates the init request into n's identity fields and the new objects. */
/* The init request's fields, type-checked as Go's decoder would (borrowed from req). */
struct init_fields {
    json_t *listen, *adv, *dpa, *dpp, *pool, *subnet, *spec, *autolock, *avail, *fnc;
};

static int init_decode(json_t *req, struct init_fields *f, struct err *e)
{
    if (!json_is_object(req))
        return err_set(e, ERR_INVALID,
                       "json: cannot unmarshal %s into Go value of type swarm.InitRequest",
                       json_type_word(req));
    if (field(req, "InitRequest", "ListenAddr", JSON_STRING, "string", &f->listen, e) ||
        field(req, "InitRequest", "AdvertiseAddr", JSON_STRING, "string", &f->adv, e) ||
        field(req, "InitRequest", "DataPathAddr", JSON_STRING, "string", &f->dpa, e) ||
        field(req, "InitRequest", "DataPathPort", JSON_INTEGER, "uint32", &f->dpp, e) ||
        field(req, "InitRequest", "DefaultAddrPool", JSON_ARRAY, "[]string", &f->pool, e) ||
        field(req, "InitRequest", "SubnetSize", JSON_INTEGER, "uint32", &f->subnet, e) ||
        field(req, "InitRequest", "Spec", JSON_OBJECT, "swarm.Spec", &f->spec, e) ||
        field(req, "InitRequest", "AutoLockManagers", JSON_TRUE, "bool", &f->autolock, e) ||
        field(req, "InitRequest", "Availability", JSON_STRING, "swarm.NodeAvailability", &f->avail,
              e) ||
        field(req, "InitRequest", "ForceNewCluster", JSON_TRUE, "bool", &f->fnc, e))
        return -ERR_INVALID;
    if (f->spec && check_spec_at(f->spec, "Spec.", e))
        return -ERR_INVALID;
    return 0;
}

int node_init_request_check(json_t *req, struct err *e)
{
    struct init_fields f = {0};
    return init_decode(req, &f, e);
}

/* Validates the init request into n's identity fields and the new objects. */
static int init_prepare(struct node *n, const struct init_fields *f, struct init_ctx *c,
                        struct err *e)
{
    json_t *listen = f->listen, *adv = f->adv, *dpa = f->dpa, *dpp = f->dpp, *pool = f->pool,
           *subnet = f->subnet, *spec = f->spec, *autolock = f->autolock, *avail = f->avail;
    const char *listen_s =
        listen && json_string_length(listen) ? json_string_value(listen) : "0.0.0.0:2377";
    const char *adv_s = adv ? json_string_value(adv) : "";
    const char *avail_s = avail && json_string_length(avail) ? json_string_value(avail) : "active";
    if (strcmp(avail_s, "active") && strcmp(avail_s, "pause") && strcmp(avail_s, "drain"))
        return err_set(e, ERR_INVALID, "invalid Availability: %s", avail_s);
    json_int_t port = dpp ? json_integer_value(dpp) : 0;
    if (port == 0)
        port = 4789;
    if (port < 1024 || port > 49151)
        return err_set(e, ERR_INVALID, "data path port must be within range (1024, 49151): %lld",
                       (long long)port);
    json_int_t sub = subnet ? json_integer_value(subnet) : 0;
    if (sub == 0)
        sub = 24;
    if (sub < 1 || sub > 29)
        return err_set(e, ERR_INVALID, "invalid subnet size %lld", (long long)sub);
    json_t *pools = json_array();
    for (size_t i = 0; pool && i < json_array_size(pool); i++) {
        const char *p = json_string_value(json_array_get(pool, i));
        if (!p || !cidr_valid(p)) {
            json_decref(pools);
            return err_set(e, ERR_INVALID, "invalid default address pool %s",
                           p ? p : "(non-string)");
        }
        json_array_append_new(pools, json_string(p));
    }
    if (!json_array_size(pools))
        json_array_append_new(pools, json_string("10.0.0.0/8"));

    json_t *sp = NULL;
    if (spec && check_spec(spec, e)) {
        json_decref(pools);
        return -ERR_INVALID;
    }
    if (!(sp = spec ? known_fields(spec, e) : json_object())) {
        json_decref(pools);
        return -ERR_INVALID;
    }
    bool lock =
        (autolock && json_is_true(autolock)) ||
        json_is_true(json_object_get(json_object_get(sp, "EncryptionConfig"), "AutoLockManagers"));
    json_object_set_new(sp, "Name", json_string("default"));
    node_spec_defaults(sp);
    json_object_set_new(json_object_get(sp, "EncryptionConfig"), "AutoLockManagers",
                        json_boolean(lock));

    /* addresses */
    int aport, rc;
    if ((rc = node_listen_addr(listen_s, n->listen_addr, sizeof(n->listen_addr), e)))
        goto fail;
    bool listen_specific = !str_has_prefix(n->listen_addr, "0.0.0.0:") && listen_s[0] != ':';
    if (!adv_s[0] && listen_specific)
        adv_s = listen_s;
    if ((rc = node_resolve_addr(adv_s, atoi(strrchr(n->listen_addr, ':') + 1), n->advertise_ip,
                                sizeof(n->advertise_ip), &aport, e)))
        goto fail;
    n->advertise_port = aport;
    if (dpa && json_string_length(dpa)) {
        int dport;
        if ((rc = node_resolve_addr(json_string_value(dpa), 0, n->data_path_addr,
                                    sizeof(n->data_path_addr), &dport, e)))
            goto fail;
    }

    /* identity and CA */
    id_new(n->id);
    id_new(n->cluster_id);
    snprintf(n->role, sizeof(n->role), "manager");
    char *root_cert = NULL, *root_key = NULL, *key = NULL, *csr = NULL, *cert = NULL;
    struct ca_identity ident = {0};
    snprintf(ident.cn, sizeof(ident.cn), "%s", n->id);
    snprintf(ident.ou, sizeof(ident.ou), "swarm-manager");
    snprintf(ident.org, sizeof(ident.org), "%s", n->cluster_id);
    const char *ips[] = {n->advertise_ip};
    json_int_t expiry =
        json_integer_value(json_object_get(json_object_get(sp, "CAConfig"), "NodeCertExpiry"));
    rc = ca_root_new(&root_cert, &root_key, e);
    if (!rc)
        rc = ca_key_csr_new(&key, &csr, e);
    if (!rc)
        rc = ca_issue(root_cert, root_key, csr, &ident, expiry, ips, 1, &cert, e);
    if (!rc)
        rc = dir_make(n->swarm_dir, 0700, e);
    if (!rc)
        rc = write_identity(n, root_cert, cert, key, e);
    char *unlock = lock ? ca_unlock_key_new() : NULL;
    if (!rc)
        rc = node_keys_create(n, unlock, e);
    if (!rc) /* etcd's own CA; the leader's first tick records it in the store */
        rc = etcdtrust_ca_create(&n->etcd, n->dek, e);
    if (!rc)
        rc = node_save_state(n, e);
    if (!rc) {
        char now[40];
        time_format_rfc3339(time_now_ns(), now);
        char *wt = ca_token_new(root_cert), *mt = ca_token_new(root_cert);
        c->cluster = json_pack("{s:s, s:s, s:s, s:O, s:o, s:b, s:O, s:I, s:I, s:{s:s, s:s}}", "ID",
                               n->cluster_id, "CreatedAt", now, "UpdatedAt", now, "Spec", sp,
                               "TLSInfo", rootca_tls_info(root_cert), "RootRotationInProgress", 0,
                               "DefaultAddrPool", pools, "SubnetSize", sub, "DataPathPort", port,
                               "JoinTokens", "Worker", wt, "Manager", mt);
        free(wt);
        free(mt);
        json_t *desc = node_host_description(n);
        json_object_set_new(desc, "TLSInfo", rootca_tls_info(root_cert));
        char maddr[96];
        snprintf(maddr, sizeof(maddr), "%s", node_manager_addr(n));
        c->self = json_pack("{s:s, s:s, s:s, s:{s:{}, s:s, s:s}, s:o, s:{s:s, s:s}, "
                            "s:{s:b, s:s, s:s}}",
                            "ID", n->id, "CreatedAt", now, "UpdatedAt", now, "Spec", "Labels",
                            "Role", "manager", "Availability", avail_s, "Description", desc,
                            "Status", "State", "ready", "Addr", n->advertise_ip, "ManagerStatus",
                            "Leader", 1, "Reachability", "reachable", "Addr", maddr);
        c->rootca = json_pack("{s:s, s:s}", "Cert", root_cert, "Key", root_key);
        if (unlock)
            c->unlock = json_pack("{s:s}", "UnlockKey", unlock);
        free(n->unlock_key);
        n->unlock_key = xstrdup(unlock ? unlock : "");
    }
    free(unlock);
    free(root_cert);
    free(root_key);
    free(key);
    free(csr);
    free(cert);
fail:
    json_decref(sp);
    json_decref(pools);
    if (rc) {
        struct err e2;
        dir_remove_all(n->swarm_dir, &e2);
        node_forget(n);
    }
    return rc;
}

void node_swarm_init(struct node *n, json_t *req, node_done_cb cb, void *data)
{
    struct err e;
    struct init_fields f = {0};
    if (init_decode(req, &f, &e) < 0) {
        cb(data, -e.kind, &e);
        return;
    }
    if (n->state != NODE_INACTIVE && f.fnc && json_is_true(f.fnc) && node_is_manager(n) &&
        n->state != NODE_LOCKED) {
        node_force_new_cluster(n, cb, data);
        return;
    }
    if (n->state != NODE_INACTIVE) {
        err_set(&e, ERR_UNAVAILABLE, MSG_ALREADY);
        cb(data, -e.kind, &e);
        return;
    }
    struct init_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->cb = cb;
    c->data = data;
    int rc = init_prepare(n, &f, c, &e);
    if (rc) {
        free(c);
        cb(data, rc, &e);
        return;
    }
    node_start_store(n, init_step, c);
}

/* ---- force-new-cluster: a manager that lost quorum carries on alone ---- */

struct fnc_ctx {
    struct node *n;
    node_done_cb cb;
    void *data;
};

static void fnc_revoked(void *data, int rc, struct err *e)
{
    if (rc < 0)
        log_warn("could not revoke the former leader's lease: %s", e->msg);
}

static void fnc_started(void *data, int rc, struct err *e)
{
    struct fnc_ctx *c = data;
    if (rc == 0) {
        log_warn("forced a new cluster: this manager is now the only etcd member; the swarm's "
                 "state and its workers are kept");
        /* whoever held the leadership is not a member any more: do not wait for its lease */
        if (!node_is_leader(c->n))
            state_lease_revoke_holder(c->n->st, NODE_LEADER_KEY, 0, fnc_revoked, NULL);
    }
    c->cb(c->data, rc, e);
    free(c);
}

static void fnc_stopped(void *data)
{
    struct fnc_ctx *c = data;
    c->n->force_new_cluster = true;
    node_start_store(c->n, fnc_started, c);
}

void node_force_new_cluster(struct node *n, node_done_cb cb, void *data)
{
    struct fnc_ctx *c = xmalloc(sizeof(*c));
    *c = (struct fnc_ctx){n, cb, data};
    log_warn("forcing a new cluster from this manager's copy of the swarm state");
    node_stop_store(n, fnc_stopped, c);
}

/* ---- leave ---- */

struct leave_ctx {
    struct node *n;
    node_done_cb cb;
    void *data;
    int rc;
    struct err e;
};

static int count_manager(json_t *obj, void *data)
{
    if (!strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager"))
        (*(int *)data)++;
    return 0;
}

static void leave_containers_removed(void *data, int rc, const char *err)
{
    struct leave_ctx *c = data;
    if (rc < 0)
        log_warn("leaving: not every task container could be removed: %s", err ? err : "");
    log_info("left the swarm");
    c->cb(c->data, c->rc, c->rc ? &c->e : NULL);
    free(c);
}

static void leave_stopped(void *data)
{
    struct leave_ctx *c = data;
    c->rc = dir_remove_all(c->n->swarm_dir, &c->e);
    node_forget(c->n);
    /* dockerd removes the node's task containers when it leaves */
    const struct agent_exec_ops *ops = c->n->cfg.exec_ops;
    if (ops && ops->remove_all) {
        ops->remove_all(c->n->cfg.exec_ctx, leave_containers_removed, c);
        return;
    }
    log_info("left the swarm");
    c->cb(c->data, c->rc, c->rc ? &c->e : NULL);
    free(c);
}

static void leave_member_removed(void *data, int rc, const char *initial_cluster, struct err *e)
{
    struct leave_ctx *c = data;
    if (rc < 0)
        log_warn("leaving: etcd member remove failed: %s", e->msg);
    node_leader_stop(c->n);
    node_stop_store(c->n, leave_stopped, c);
}

void node_swarm_leave(struct node *n, bool force, node_done_cb cb, void *data)
{
    struct err e;
    if (n->state == NODE_INACTIVE) {
        err_set(&e, ERR_UNAVAILABLE, MSG_NO_SWARM);
        cb(data, -e.kind, &e);
        return;
    }
    if (!force && node_is_manager(n)) {
        int managers = 0;
        store_foreach(n->store, STORE_NODE, count_manager, &managers);
        if (managers <= 1)
            err_set(&e, ERR_UNAVAILABLE,
                    "You are attempting to leave the swarm on a node that is participating as a "
                    "manager. Removing the last manager erases all current state of the swarm. "
                    "Use `--force` to ignore this message. ");
        else
            err_set(&e, ERR_UNAVAILABLE,
                    "You are attempting to leave the swarm on a node that is participating as a "
                    "manager. Removing this node leaves %d managers out of %d. Without a Raft "
                    "quorum your swarm will be inaccessible. The only way to restore a swarm that "
                    "has lost consensus is to reinitialize it with `--force-new-cluster`. Use "
                    "`--force` to suppress this message.",
                    managers - 1, managers);
        if (managers <= 1 || managers - 1 <= managers / 2) {
            cb(data, -e.kind, &e);
            return;
        }
    }
    struct leave_ctx *c = xmalloc(sizeof(*c));
    *c = (struct leave_ctx){.n = n, .cb = cb, .data = data};
    int managers = 0;
    if (node_is_manager(n) && n->state == NODE_ACTIVE)
        store_foreach(n->store, STORE_NODE, count_manager, &managers);
    if (managers > 1) /* the others keep the swarm: take this member out of etcd first */
        state_member_remove(n->st, n->id, leave_member_removed, c);
    else if (node_is_manager(n))
        node_stop_store(n, leave_stopped, c);
    else
        node_agent_leave(n, leave_stopped, c);
}

/* ---- unlock ---- */

void node_swarm_unlock(struct node *n, const char *key, node_done_cb cb, void *data)
{
    struct err e;
    if (n->state == NODE_INACTIVE) {
        err_set(&e, ERR_UNAVAILABLE, MSG_NO_SWARM);
        cb(data, -e.kind, &e);
        return;
    }
    if (n->state != NODE_LOCKED) {
        err_set(&e, ERR_INVALID, "swarm is not locked");
        cb(data, -e.kind, &e);
        return;
    }
    int rc = node_keys_unlock(n, key, &e);
    if (rc) {
        cb(data, rc, &e);
        return;
    }
    log_info("swarm unlocked");
    node_start_store(n, cb, data);
}

/* ---- update ---- */

struct update_ctx {
    struct node *n;
    char *new_unlock; /* NULL: unchanged; "" : autolock turned off */
    json_t *cluster;  /* the new cluster object, committed after a new root record */
    uint64_t version;
    node_done_cb cb;
    void *data;
    int step;
};

static void update_step(void *data, int rc, struct err *e)
{
    struct update_ctx *c = data;
    if (rc == 0 && c->step++ == 0 && c->new_unlock) {
        /* every manager (this one included) reseals its data key when the record arrives */
        json_t *rec = json_pack("{s:s}", "UnlockKey", c->new_unlock);
        node_commit_private(c->n, "unlockkey", rec, update_step, c);
        json_decref(rec);
        return;
    }
    c->cb(c->data, rc, e);
    free(c->new_unlock);
    free(c);
}

static void rotation_recorded(void *data, int rc, struct err *e)
{
    struct update_ctx *c = data;
    json_t *obj = c->cluster;
    c->cluster = NULL;
    if (rc < 0) {
        json_decref(obj);
        update_step(c, rc, e);
        return;
    }
    node_commit(c->n, STORE_CLUSTER, obj, c->version, update_step, c);
}

static void set_new_token(json_t *tokens, const char *role, const char *root_cert)
{
    char *t = ca_token_new(root_cert);
    json_object_set_new(tokens, role, json_string(t));
    free(t);
}

void node_swarm_update(struct node *n, const struct node_swarm_update *u, node_done_cb cb,
                       void *data)
{
    struct err e;
    int rc = node_require_manager(n, &e);
    json_t *cur = rc ? NULL : node_cluster(n);
    if (!rc && !cur)
        rc = err_set(&e, ERR_UNAVAILABLE, "the cluster object is not loaded");
    if (!rc)
        rc = store_check_version(n->store, STORE_CLUSTER, n->cluster_id, u->version, &e);
    if (!rc)
        rc = check_spec(u->spec, &e);
    json_t *sp = rc ? NULL : known_fields(u->spec, &e);
    if (!rc && !sp)
        rc = -e.kind;
    if (rc) {
        cb(data, rc, &e);
        return;
    }
    json_t *obj = json_deep_copy(cur);
    json_object_set_new(sp, "Name", json_string("default"));
    node_spec_defaults(sp);
    json_object_set_new(obj, "Spec", sp);
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    json_object_set_new(obj, "UpdatedAt", json_string(now));
    json_t *tokens = json_object_get(obj, "JoinTokens");
    if (u->rotate_worker_token)
        set_new_token(tokens, "Worker", n->roots.cert);
    if (u->rotate_manager_token)
        set_new_token(tokens, "Manager", n->roots.cert);
    bool was = n->unlock_key[0] != 0;
    bool now_lock =
        json_is_true(json_object_get(json_object_get(sp, "EncryptionConfig"), "AutoLockManagers"));
    json_t *rootca = NULL;
    rc = node_rotation_prepare(n, cur, obj, &rootca, &e);
    /* a signing key is never stored in the cluster object (nor shown by GET /swarm) */
    json_object_del(json_object_get(sp, "CAConfig"), "SigningCACert");
    json_object_del(json_object_get(sp, "CAConfig"), "SigningCAKey");
    if (rc < 0) {
        json_decref(obj);
        cb(data, rc, &e);
        return;
    }
    struct update_ctx *c = xcalloc(1, sizeof(*c));
    *c = (struct update_ctx){.n = n, .cb = cb, .data = data};
    if (now_lock && (!was || u->rotate_unlock_key))
        c->new_unlock = ca_unlock_key_new();
    else if (!now_lock && was)
        c->new_unlock = xstrdup("");
    if (rootca) { /* the new root first: nodes may only hear of it once it can sign */
        c->cluster = obj;
        c->version = u->version;
        node_commit_private(n, "rootca", rootca, rotation_recorded, c);
        json_decref(rootca);
        return;
    }
    node_commit(n, STORE_CLUSTER, obj, u->version, update_step, c);
}
