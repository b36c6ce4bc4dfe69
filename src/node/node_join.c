/* node_join.c — `swarm join`: fetch the swarm's root CA from a manager and check it against
 * the token's digest (a man in the middle cannot pass), create a key and a CSR, present the
 * token, receive a certificate whose role is the one the token grants, then persist the
 * identity and start the session. Any failure leaves nothing behind.
 * Thread: the loop thread; a chain of asynchronous calls. */
#include "node_int.h"

#include "ca/ca.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

struct join_ctx {
    struct node *n;
    char *remote;
    char *token;
    char *availability;
    char digest[CA_TOKEN_DIGEST_LEN + 1];
    char *key_pem, *csr_pem, *root_pem;
    struct httpc *client;
    uv_getaddrinfo_t resolve; /* when the remote address is a host name */
    int remote_port;
    node_done_cb cb;
    void *data;
};

static void ctx_free(void *data)
{
    struct join_ctx *c = data;
    free(c->remote);
    free(c->token);
    free(c->availability);
    free(c->key_pem);
    free(c->csr_pem);
    free(c->root_pem);
    free(c);
}

static void join_finish(struct join_ctx *c, int rc, struct err *e)
{
    if (rc < 0) {
        struct err e2;
        dir_remove_all(c->n->swarm_dir, &e2);
        node_forget(c->n);
    }
    c->cb(c->data, rc, e);
    if (c->client)
        httpc_close(c->client, ctx_free, c);
    else
        ctx_free(c);
}

/* The manager's answer as JSON (to be decoded by kind), or an error carrying its message. */
static json_t *answer(long status, struct buf *body, const char *what, struct err *e)
{
    json_t *j = json_loadb(body->p, body->len, 0, NULL);
    if (status == 200 && json_is_object(j))
        return j;
    const char *msg = json_string_value(json_object_get(j, "message"));
    int kind = status == 400 ? ERR_INVALID : status == 501 ? ERR_NOT_IMPLEMENTED : ERR_UNAVAILABLE;
    err_set(e, kind, "%.*s", MSG_MAX_TEXT, msg ? msg : what);
    json_decref(j);
    return NULL;
}

static int write_file(struct node *n, const char *name, const char *data, int mode, struct err *e)
{
    char *p = xasprintf("%s/%s", n->certs_dir, name);
    int rc = file_write_atomic(p, data, strlen(data), mode, e);
    free(p);
    return rc;
}

struct stop_then_fail {
    struct join_ctx *c;
    int rc;
    struct err e;
};

static void stopped_after_failure(void *data)
{
    struct stop_then_fail *f = data;
    join_finish(f->c, f->rc, &f->e);
    free(f);
}

/* A joining manager's etcd has synced with the cluster (or could not). */
static void manager_started(void *data, int rc, struct err *e)
{
    struct join_ctx *c = data;
    if (rc == 0) {
        join_finish(c, 0, NULL);
        return;
    }
    struct stop_then_fail *f = xmalloc(sizeof(*f));
    f->c = c;
    f->rc = rc;
    f->e = *e;
    node_stop_store(c->n, stopped_after_failure, f);
}

static void joined(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct join_ctx *c = data;
    struct node *n = c->n;
    struct err e2;
    if (rc < 0) {
        err_wrap(e, "could not join through %s", c->remote);
        join_finish(c, rc, e);
        return;
    }
    json_t *j = answer(status, body, "the manager refused to join this node", &e2);
    struct msg_join_resp m;
    rc = j ? msg_join_resp_decode(j, &m, &e2) : -e2.kind;
    json_decref(j);
    if (rc < 0) {
        join_finish(c, rc, &e2);
        return;
    }
    const char *cert = m.cert, *id = m.node_id, *cluster = m.cluster_id, *role = m.role;
    /* During a root rotation the manager trusts (and signs with) a newer root too; accept
     * its bundle only if it holds the root the token vouched for. */
    const char *bundle = m.trust_bundle;
    const char *trust = bundle && strstr(bundle, c->root_pem) ? bundle : c->root_pem;
    struct ca_identity ident;
    rc = ca_verify(trust, cert, &ident, &e2);
    if (!rc && trust != c->root_pem)
        rc = write_file(n, "ca.crt", trust, 0644, &e2);
    if (!rc && (strcmp(ident.cn, id) || strcmp(ident.org, cluster) ||
                strncmp(ident.ou, "swarm-", 6) || strcmp(ident.ou + 6, role)))
        rc = err_set(&e2, ERR_INTERNAL, "the manager issued a certificate for another identity");
    const char *dek = m.dek;
    const char *initial = m.initial_cluster;
    bool manager = !strcmp(role, "manager");
    if (!rc && manager && (!dek || !initial))
        rc = err_set(&e2, ERR_INTERNAL, "the manager's answer lacks the store's keys");
    if (!rc && manager) {
        struct buf raw = BUF_INIT;
        rc = b64_decode(dek, strlen(dek), &raw, &e2);
        if (!rc && raw.len != sizeof(n->dek))
            rc = err_set(&e2, ERR_INTERNAL, "the manager sent a malformed data key");
        if (!rc) {
            memcpy(n->dek, raw.p, sizeof(n->dek));
            n->have_dek = true;
            /* an autolocked swarm's managers all start locked: seal with its unlock key */
            const char *ukey = m.unlock_key;
            rc = node_keys_reseal(n, ukey && ukey[0] ? ukey : NULL, &e2);
            if (!rc)
                rc = etcdtrust_ca_from_answer(&n->etcd, n->dek, m.etcd_ca_cert, m.etcd_ca_key, &e2);
            free(n->unlock_key);
            n->unlock_key = xstrdup(ukey ? ukey : "");
        }
        memset(raw.p, 0, raw.len);
        buf_release(&raw);
        free(n->initial_cluster);
        n->initial_cluster = xstrdup(initial);
    }
    if (!rc)
        rc = write_file(n, "node.crt", cert, 0644, &e2);
    if (!rc) {
        snprintf(n->id, sizeof(n->id), "%s", id);
        snprintf(n->cluster_id, sizeof(n->cluster_id), "%s", cluster);
        snprintf(n->role, sizeof(n->role), "%s", role);
        json_decref(n->managers);
        n->managers = json_deep_copy(m.managers);
        if (!json_array_size(n->managers)) {
            json_decref(n->managers);
            n->managers = json_pack("[s]", c->remote);
        }
        n->heartbeat_ms = m.heartbeat_ms > 0 ? m.heartbeat_ms : 5000;
        rc = node_save_state(n, &e2);
    }
    msg_join_resp_release(&m);
    if (rc) {
        join_finish(c, rc, &e2);
        return;
    }
    log_info("joined the swarm %s as %s %s", n->cluster_id, n->role, n->id);
    if (manager) {
        node_start_store(n, manager_started, c);
        return;
    }
    n->state = NODE_ACTIVE;
    node_agent_start(n);
    node_session_start(n);
    join_finish(c, 0, NULL);
}

static void got_ca(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct join_ctx *c = data;
    struct node *n = c->n;
    struct err e2;
    if (rc < 0) {
        err_set(&e2, ERR_UNAVAILABLE, "could not reach the manager at %s: %s", c->remote, e->msg);
        join_finish(c, -e2.kind, &e2);
        return;
    }
    json_t *j = answer(status, body, "the manager did not give its CA certificate", &e2);
    struct msg_ca_resp m;
    rc = j ? msg_ca_resp_decode(j, &m, &e2) : -e2.kind;
    json_decref(j);
    if (rc < 0) {
        join_finish(c, rc, &e2);
        return;
    }
    const char *root = m.root_ca;
    char *digest = ca_digest(root);
    bool match = !strcmp(digest, c->digest);
    free(digest);
    if (!match) {
        msg_ca_resp_release(&m);
        err_set(&e2, ERR_INVALID, "remote CA does not match fingerprint. Expected: %s", c->digest);
        join_finish(c, -e2.kind, &e2);
        return;
    }
    c->root_pem = xstrdup(root);
    msg_ca_resp_release(&m);
    rc = dir_make(n->certs_dir, 0700, &e2);
    if (!rc)
        rc = write_file(n, "ca.crt", c->root_pem, 0644, &e2);
    if (!rc)
        rc = ca_key_csr_new(&c->key_pem, &c->csr_pem, &e2);
    if (!rc)
        rc = write_file(n, "node.key", c->key_pem, 0600, &e2);
    if (rc) {
        join_finish(c, rc, &e2);
        return;
    }
    /* From here on the manager is checked against the CA we now trust. */
    struct httpc *old = c->client;
    char *ca = xasprintf("%s/ca.crt", n->certs_dir);
    struct httpc_tls tls = {.ca_file = ca, .skip_host_check = true, .tls13 = true};
    c->client = httpc_new(n->loop, &tls);
    free(ca);
    httpc_close(old, NULL, NULL);
    json_t *desc = node_host_description(n);
    struct msg_join_req m2 = {.token = c->token,
                              .csr = c->csr_pem,
                              .addr = n->advertise_ip,
                              .availability = c->availability,
                              .advertise_port = n->advertise_port,
                              .etcd_peer_port = n->cfg.etcd_peer_port};
    if (msg_node_desc_decode(desc, &m2.desc, &e2) < 0)
        log_warn("this node's description: %s", e2.msg); /* sent without it */
    json_t *req = msg_join_req_encode(&m2);
    json_decref(desc);
    char *s = msg_dump(req);
    json_decref(req);
    char *url = xasprintf("https://%s/swarm-rpc/join", c->remote);
    httpc_post(c->client, url, s, strlen(s), 10000, NULL, joined, c);
    free(url);
    free(s);
}

static void fetch_ca(struct join_ctx *c)
{
    struct httpc_tls tls = {.insecure = true, .tls13 = true};
    c->client = httpc_new(c->n->loop, &tls);
    char *url = xasprintf("https://%s/swarm-rpc/ca", c->remote);
    httpc_post(c->client, url, "{}", 2, 5000, NULL, got_ca, c);
    free(url);
}

/* "host:port", "[v6]:port" or a bare IPv6 literal → host and port (default 2377). */
static int split_remote(const char *remote, char *host, size_t cap, int *port)
{
    const char *colon;
    *port = NODE_DEFAULT_PORT;
    if (remote[0] == '[') {
        const char *end = strchr(remote, ']');
        if (!end || (end[1] && end[1] != ':'))
            return -1;
        snprintf(host, cap, "%.*s", (int)(end - remote - 1), remote + 1);
        colon = end[1] ? end + 1 : NULL;
    } else if ((colon = strrchr(remote, ':')) && strchr(remote, ':') != colon) {
        snprintf(host, cap, "%s", remote); /* bare IPv6 */
        colon = NULL;
    } else {
        snprintf(host, cap, "%.*s", colon ? (int)(colon - remote) : (int)strlen(remote), remote);
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (colon[1] < '0' || colon[1] > '9' || *end || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return host[0] ? 0 : -1;
}

static bool is_ip_literal(const char *host)
{
    struct in6_addr a;
    return inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
}

/* The manager's host name resolved: join through its first address. */
static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct join_ctx *c = req->data;
    char ip[INET6_ADDRSTRLEN] = "";
    if (status == 0 && res)
        uv_ip_name(res->ai_addr, ip, sizeof(ip));
    uv_freeaddrinfo(res);
    if (!ip[0]) {
        struct err e;
        char host[256];
        split_remote(c->remote, host, sizeof(host), &c->remote_port);
        err_set(&e, ERR_UNAVAILABLE, "could not resolve the manager's address %s: %s", host,
                status ? uv_strerror(status) : "no address");
        join_finish(c, -ERR_UNAVAILABLE, &e);
        return;
    }
    free(c->remote);
    c->remote = xasprintf(strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, c->remote_port);
    fetch_ca(c);
}

static const char *str_field(json_t *req, const char *key, struct err *e, int *rc)
{
    json_t *v = json_object_get(req, key);
    if (!v || json_is_null(v))
        return "";
    if (!json_is_string(v)) {
        *rc = err_set(e, ERR_INVALID,
                      "json: cannot unmarshal into Go struct field JoinRequest.%s of type string",
                      key);
        return "";
    }
    return json_string_value(v);
}

/* The JoinRequest's fields, type-checked as Go's decoder would (borrowed from the body). */
struct join_fields {
    const char *token, *listen, *adv, *dpa, *avail, *remote;
    char digest[CA_TOKEN_DIGEST_LEN + 1];
};

static int join_decode(json_t *req, struct join_fields *f, struct err *e)
{
    int rc = 0;
    if (!json_is_object(req))
        return err_set(e, ERR_INVALID,
                       "json: cannot unmarshal into Go value of type swarm.JoinRequest");
    f->token = str_field(req, "JoinToken", e, &rc);
    f->listen = str_field(req, "ListenAddr", e, &rc);
    f->adv = str_field(req, "AdvertiseAddr", e, &rc);
    f->dpa = str_field(req, "DataPathAddr", e, &rc);
    f->avail = str_field(req, "Availability", e, &rc);
    json_t *remotes = json_object_get(req, "RemoteAddrs");
    f->remote = json_string_value(json_array_get(remotes, 0));
    char secret[CA_TOKEN_SECRET_LEN + 1];
    if (!rc && (!f->remote || !f->remote[0]))
        rc = err_set(e, ERR_INVALID, "at least 1 RemoteAddr is required to join");
    if (!rc)
        rc = ca_token_parse(f->token, f->digest, secret, e);
    explicit_bzero(secret, sizeof(secret));
    if (!rc && f->avail[0] && strcmp(f->avail, "active") && strcmp(f->avail, "pause") &&
        strcmp(f->avail, "drain"))
        rc = err_set(e, ERR_INVALID, "invalid Availability: %s", f->avail);
    return rc;
}

int node_join_request_check(json_t *req, struct err *e)
{
    struct join_fields f = {0};
    return join_decode(req, &f, e);
}

void node_swarm_join(struct node *n, json_t *req, node_done_cb cb, void *data)
{
    struct err e;
    if (n->state != NODE_INACTIVE) {
        err_set(&e, ERR_UNAVAILABLE,
                "This node is already part of a swarm. Use \"docker swarm leave\" to leave this "
                "swarm and join another one.");
        cb(data, -e.kind, &e);
        return;
    }
    struct join_fields f = {0};
    int rc = join_decode(req, &f, &e);
    if (rc) {
        cb(data, rc, &e);
        return;
    }
    const char *listen = f.listen, *adv = f.adv, *dpa = f.dpa, *avail = f.avail;
    const char *remote = f.remote, *token = f.token, *digest = f.digest;
    rc = node_listen_addr(listen[0] ? listen : "0.0.0.0:2377", n->listen_addr,
                          sizeof(n->listen_addr), &e);
    if (!rc) {
        bool specific = listen[0] && !str_has_prefix(listen, "0.0.0.0") && listen[0] != ':';
        int port;
        rc = node_resolve_addr(adv[0]     ? adv
                               : specific ? listen
                                          : "",
                               NODE_DEFAULT_PORT, n->advertise_ip, sizeof(n->advertise_ip), &port,
                               &e);
        n->advertise_port = port;
    }
    if (!rc && dpa[0]) {
        int port;
        rc = node_resolve_addr(dpa, 0, n->data_path_addr, sizeof(n->data_path_addr), &port, &e);
    }
    if (rc) {
        node_forget(n);
        cb(data, rc, &e);
        return;
    }
    struct join_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->remote = strchr(remote, ':') ? xstrdup(remote) : xasprintf("%s:2377", remote);
    c->token = xstrdup(token);
    c->availability = xstrdup(avail[0] ? avail : "active");
    snprintf(c->digest, sizeof(c->digest), "%s", digest);
    c->cb = cb;
    c->data = data;
    n->state = NODE_STARTING;
    char host[256];
    if (split_remote(c->remote, host, sizeof(host), &c->remote_port) < 0) {
        err_set(&e, ERR_INVALID, "invalid remote address %s", c->remote);
        join_finish(c, -ERR_INVALID, &e);
        return;
    }
    if (is_ip_literal(host)) {
        fetch_ca(c);
        return;
    }
    /* a host name: resolved on the thread pool, never on the loop */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->resolve.data = c;
    int r = uv_getaddrinfo(n->loop, &c->resolve, resolved, host, NULL, &hints);
    if (r < 0) {
        err_set(&e, ERR_UNAVAILABLE, "could not resolve the manager's address %s: %s", host,
                uv_strerror(r));
        join_finish(c, -ERR_UNAVAILABLE, &e);
    }
}
