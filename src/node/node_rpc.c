/* node_rpc.c — a manager's peer listener on its advertised port (default 2377): HTTP/1.1
 * over TLS 1.3 with the swarm's certificates. Without a client certificate a peer may only
 * fetch the root CA and join with a token; everything else needs a certificate from this
 * swarm's CA, and the role in it (OU) decides what the peer may call.
 *
 *   POST /swarm-rpc/ca         → {"RootCA": PEM}                         (no certificate)
 *   POST /swarm-rpc/join       → token + CSR in, certificate + identity out (no certificate)
 *   POST /swarm-rpc/heartbeat  → session keep-alive; period and managers out (any node)
 *   POST /swarm-rpc/leave      → the node is leaving; marked down now        (any node)
 *   POST /swarm-rpc/renew      → a fresh certificate for the caller's identity (any node)
 *   POST /swarm-rpc/promote    → a worker whose spec says manager gets a manager identity
 *   POST /swarm-rpc/ping       → the leader answers probes of the other managers (managers)
 *   POST /swarm-rpc/assignments, /status → tasks to run, their states (any node; node_session.c)
 *   POST /swarm-rpc/logs/listen, /publish → nodes serve the log broker (any node; node_logs.c)
 *   POST /swarm-rpc/logs/subscribe → a manager relays service logs (managers; node_logs.c)
 * Heartbeats go to the leader; another manager answers 503 with the leader's address.
 *
 * Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

#define RPC_MAX_BODY (1 << 20)
#define RPC_MAX_UNAUTH 128          /* connections before their first request */
#define RPC_WRITE_HIGH (256 * 1024) /* peers do not pipeline: one answer is enough */

static void rpc_reply(struct http_req *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    http_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

static void rpc_error(struct http_req *req, const struct err *e)
{
    rpc_reply(req, err_http_status(e->kind), json_pack("{s:s}", "message", e->msg));
}

static void rpc_fail(struct http_req *req, int kind, const char *msg)
{
    struct err e;
    err_set(&e, kind, "%s", msg);
    rpc_error(req, &e);
}

static int add_manager_addr(json_t *obj, void *data)
{
    const char *addr = store_json_str(obj, "ManagerStatus.Addr");
    if (addr && strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager") == 0)
        json_array_append_new(data, json_string(addr));
    return 0;
}

json_t *node_manager_list(struct node *n)
{
    /* every heartbeat answers with it: rebuilt only when a node object changed */
    if (!n->manager_list || n->manager_list_rev != store_revision(n->store)) {
        json_decref(n->manager_list);
        n->manager_list = json_array();
        store_foreach(n->store, STORE_NODE, add_manager_addr, n->manager_list);
        n->manager_list_rev = store_revision(n->store);
    }
    return json_deep_copy(n->manager_list);
}

/* The peer's node ID if it presented a valid certificate of this cluster, else NULL. */
static const char *peer_node(struct node *n, struct http_req *req)
{
    const char *cn = http_req_peer_cn(req), *org = http_req_peer_org(req);
    if (!cn || !org || strcmp(org, n->cluster_id) != 0)
        return NULL;
    return cn;
}

/* ---- join ---- */

/* A join or a promotion waiting for its node object (and a manager's etcd member): what
 * its answer (struct msg_join_resp) will say. */
struct join_ctx {
    struct node *n;
    struct http_req *req;
    char id[ID_LEN + 1];
    const char *role; /* "worker" | "manager" */
    char *cert;
    char *bundle;     /* joins: the trust bundle ("" if unknown); promotions: NULL */
    json_t *managers; /* the manager list when the call came */
    char *peer_url;   /* managers: the new etcd member's peer URL */
};

static struct join_ctx *join_ctx_new(struct node *n, struct http_req *req, const char *id,
                                     const char *role, char *cert)
{
    struct join_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->req = req;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->role = role;
    c->cert = cert;
    c->managers = node_manager_list(n);
    return c;
}

static void join_ctx_free(struct join_ctx *c)
{
    free(c->cert);
    free(c->bundle);
    json_decref(c->managers);
    free(c->peer_url);
    free(c);
}

/* Answers the join or promotion; initial_cluster (managers) adds the store's keys. */
static void join_answer(struct join_ctx *c, const char *initial_cluster)
{
    struct msg_join_resp r = {.node_id = c->id,
                              .cluster_id = c->n->cluster_id,
                              .role = c->role,
                              .cert = c->cert,
                              .managers = c->managers,
                              .heartbeat_ms = node_heartbeat_period_ms(c->n),
                              .trust_bundle = c->bundle};
    char *dek = NULL;
    json_t *etcd_ca = NULL;
    if (initial_cluster) {
        r.initial_cluster = initial_cluster;
        r.unlock_key = c->n->unlock_key ? c->n->unlock_key : "";
        dek = b64_encode(c->n->dek, sizeof(c->n->dek), true);
        r.dek = dek;
        /* manager-only, like the DEK: the CA that etcd trusts */
        etcd_ca = etcdtrust_ca_record(&c->n->etcd);
        r.etcd_ca_cert = json_string_value(json_object_get(etcd_ca, "Cert"));
        r.etcd_ca_key = json_string_value(json_object_get(etcd_ca, "Key"));
    }
    rpc_reply(c->req, 200, msg_join_resp_encode(&r));
    if (dek)
        explicit_bzero(dek, strlen(dek));
    free(dek);
    json_decref(etcd_ca);
}

static void member_added(void *data, int rc, const char *initial_cluster, struct err *e)
{
    struct join_ctx *c = data;
    if (rc < 0) {
        log_warn("etcd member add for %s failed: %s", c->id, e->msg);
        rpc_error(c->req, e);
        join_ctx_free(c);
        return;
    }
    log_info("node %s joins as a manager (etcd peer %s)", c->id, c->peer_url);
    join_answer(c, initial_cluster);
    join_ctx_free(c);
}

static void join_committed(void *data, int rc, struct err *e)
{
    struct join_ctx *c = data;
    if (rc < 0) {
        rpc_error(c->req, e);
        join_ctx_free(c);
    } else if (c->peer_url) {
        /* The node object is written before etcd grows: until the new member starts, a
         * two-member cluster has no quorum. */
        state_member_add(c->n->st, c->id, c->peer_url, member_added, c);
    } else {
        log_info("node %s joined as %s", c->id, c->role);
        join_answer(c, NULL);
        join_ctx_free(c);
    }
}

/* https://IP:port, brackets for IPv6. */
static char *peer_url(const char *ip, json_int_t port)
{
    return xasprintf(strchr(ip, ':') ? "https://[%s]:%lld" : "https://%s:%lld", ip,
                     (long long)port);
}

static char *manager_addr(const char *ip, json_int_t port)
{
    return xasprintf(strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, (long long)port);
}

/* Which role does the token's secret grant? NULL if none (rotated away or forged). */
static const char *token_role(json_t *cluster, const char *token)
{
    const char *w = store_json_str(cluster, "JoinTokens.Worker");
    const char *m = store_json_str(cluster, "JoinTokens.Manager");
    if (w && ca_token_equal(w, token))
        return "worker";
    if (m && ca_token_equal(m, token))
        return "manager";
    return NULL;
}

/* A join refused for its token: logged, and counted against the caller's address (the
 * limiter bounds both the attempts and the log lines). */
static void join_refused(struct node *n, const char *ip, int64_t now, const char *why)
{
    if (rate_failed(n->join_failures, ip, now))
        log_warn("join from %s refused: %s; refusing further joins from it for a while", ip, why);
    else
        log_warn("join from %s refused: %s", ip, why);
}

static void handle_join(struct node *n, struct http_req *req, json_t *body)
{
    struct err e;
    struct msg_join_req m;
    if (msg_join_req_decode(body, &m, &e) < 0) {
        rpc_error(req, &e);
        return;
    }
    json_t *cluster = node_cluster(n);
    char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1];
    if (!cluster || !n->roots.cert || !n->roots.key) {
        rpc_fail(req, ERR_UNAVAILABLE, "the swarm's state is not loaded yet");
        goto out;
    }
    char ip[64];
    http_req_peer_ip(req, ip, sizeof(ip));
    int64_t now = time_now_ns();
    if (rate_blocked(n->join_failures, ip, now)) {
        rpc_fail(req, ERR_UNAVAILABLE,
                 "too many failed join attempts from this address; try again later");
        goto out;
    }
    const char *role = NULL;
    if (ca_token_parse(m.token, digest, secret, &e) == 0 && !(role = token_role(cluster, m.token)))
        err_set(&e, ERR_INVALID,
                "rpc error: code = InvalidArgument desc = A valid join token is necessary to "
                "join this cluster");
    explicit_bzero(secret, sizeof(secret));
    if (!role) {
        join_refused(n, ip, now, e.msg);
        rpc_error(req, &e);
        goto out;
    }
    bool manager = !strcmp(role, "manager");
    if (manager && (!m.advertise_port || !m.etcd_peer_port)) {
        rpc_fail(req, ERR_INVALID, "a manager join needs AdvertisePort and EtcdPeerPort");
        goto out;
    }
    const char *avail = m.availability ? m.availability : "active";
    char id[ID_LEN + 1];
    id_new(id);
    char ou[32];
    snprintf(ou, sizeof(ou), "swarm-%s", role);
    char *cert = NULL;
    if (node_issue(n, m.csr, id, ou, m.addr, &cert, &e) < 0) {
        rpc_error(req, &e);
        goto out;
    }
    char created[40];
    time_format_rfc3339(now, created);
    /* what the node object holds of the description: the fields msg knows, re-encoded */
    json_t *d = msg_node_desc_encode(&m.desc);
    json_object_set(d, "TLSInfo", store_json_path(cluster, "TLSInfo"));
    json_t *obj =
        json_pack("{s:s, s:s, s:s, s:{s:{}, s:s, s:s}, s:o, s:{s:s, s:s}}", "ID", id, "CreatedAt",
                  created, "UpdatedAt", created, "Spec", "Labels", "Role", role, "Availability",
                  avail, "Description", d, "Status", "State", "ready", "Addr", m.addr);
    struct join_ctx *c = join_ctx_new(n, req, id, manager ? "manager" : "worker", cert);
    if (manager) {
        char *maddr = manager_addr(m.addr, m.advertise_port);
        json_object_set_new(obj, "ManagerStatus",
                            json_pack("{s:s, s:s}", "Reachability", "reachable", "Addr", maddr));
        free(maddr);
        c->peer_url = peer_url(m.addr, m.etcd_peer_port);
    }
    c->bundle = rootca_trust_bundle(&n->roots);
    if (!c->bundle)
        c->bundle = xstrdup("");
    node_dispatch_seen(n, id);
    node_commit(n, STORE_NODE, obj, 0, join_committed, c);
out:
    msg_join_req_release(&m);
}

/* ---- sessions ---- */

static void handle_heartbeat(struct node *n, struct http_req *req, const char *id, json_t *body)
{
    struct err e;
    struct msg_heartbeat_req m;
    if (msg_heartbeat_req_decode(body, &m, &e) < 0) {
        rpc_error(req, &e);
        return;
    }
    json_t *obj = store_get(n->store, STORE_NODE, id);
    if (!obj) {
        rpc_fail(req, ERR_NOT_FOUND, "node not found: it was removed from the swarm");
        goto out;
    }
    if (!node_is_leader(n)) {
        const char *leader = node_leader_addr(n);
        struct msg_heartbeat_resp r = {.message = "this manager is not the leader",
                                       .leader = leader ? leader : ""};
        rpc_reply(req, 503, msg_heartbeat_resp_encode(&r));
        goto out;
    }
    node_dispatch_seen(n, id);
    if (m.has_tls) {
        json_t *tls = msg_tls_info_encode(&m.tls);
        node_record_tls_info(n, id, tls);
        json_decref(tls);
    }
    struct msg_heartbeat_resp r = {.heartbeat_ms = node_heartbeat_period_ms(n),
                                   .managers = node_manager_list(n),
                                   .role = store_json_str(obj, "Spec.Role") ?: ""};
    /* the roots only when the node's report shows it needs them */
    char *bundle = rootca_trust_bundle(&n->roots);
    const char *want = store_json_str(node_cluster(n), "TLSInfo.CertIssuerPublicKey");
    if (rootca_send_roots(bundle, want, m.tls.trust_root, m.tls.issuer_public_key)) {
        r.trust_bundle = bundle;
        r.signing_root = rootca_signing_cert(&n->roots);
    }
    rpc_reply(req, 200, msg_heartbeat_resp_encode(&r));
    json_decref(r.managers);
    free(bundle);
out:
    msg_heartbeat_req_release(&m);
}

static void handle_leave(struct node *n, struct http_req *req, const char *id)
{
    if (store_get(n->store, STORE_NODE, id))
        node_dispatch_mark(n, id, "down", "node left the swarm");
    rpc_reply(req, 200, json_object());
}

/* ---- renewal: the same identity, a fresh certificate ---- */

static void handle_renew(struct node *n, struct http_req *req, const char *id, json_t *body)
{
    struct err e;
    struct msg_csr_req m;
    char *cert = NULL;
    if (msg_csr_req_decode(body, &m, &e) < 0) {
        rpc_error(req, &e);
        return;
    }
    json_t *obj = store_get(n->store, STORE_NODE, id);
    if (!obj) {
        rpc_fail(req, ERR_NOT_FOUND, "node not found: it was removed from the swarm");
        goto out;
    }
    /* The role is the one the swarm gives the node now, never more than the certificate it
     * presents: a demoted manager renews as a worker, and a worker waiting to be promoted
     * goes through /promote. */
    bool manager = !strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager") &&
                   json_object_get(obj, "ManagerStatus") &&
                   !strcmp(http_req_peer_ou(req) ?: "", "swarm-manager");
    if (node_issue(n, m.csr, id, manager ? "swarm-manager" : "swarm-worker",
                   store_json_str(obj, "Status.Addr"), &cert, &e) < 0) {
        rpc_error(req, &e);
        goto out;
    }
    struct msg_cert_resp r = {.cert = cert};
    rpc_reply(req, 200, msg_cert_resp_encode(&r));
    free(cert);
out:
    msg_csr_req_release(&m);
}

/* ---- promotion: a worker whose spec now says manager ---- */

static void handle_promote(struct node *n, struct http_req *req, const char *id, json_t *body)
{
    struct err e;
    struct msg_csr_req m;
    if (msg_csr_req_decode(body, &m, &e) < 0) {
        rpc_error(req, &e);
        return;
    }
    json_t *cur = store_get(n->store, STORE_NODE, id);
    json_t *cluster = node_cluster(n);
    const char *addr = cur ? store_json_str(cur, "Status.Addr") : NULL;
    if (!cur || !cluster || strcmp(store_json_str(cur, "Spec.Role") ?: "", "manager") || !addr ||
        !m.advertise_port || !m.etcd_peer_port) {
        rpc_fail(req, ERR_FORBIDDEN, "this node is not to be promoted");
        goto out;
    }
    char *cert = NULL;
    if (node_issue(n, m.csr, id, "swarm-manager", addr, &cert, &e) < 0) {
        rpc_error(req, &e);
        goto out;
    }
    json_t *obj = json_deep_copy(cur);
    char *maddr = manager_addr(addr, m.advertise_port);
    json_object_set_new(obj, "ManagerStatus",
                        json_pack("{s:s, s:s}", "Reachability", "reachable", "Addr", maddr));
    free(maddr);
    struct join_ctx *c = join_ctx_new(n, req, id, "manager", cert);
    c->peer_url = peer_url(addr, m.etcd_peer_port);
    node_commit(n, STORE_NODE, obj, store_obj_version(cur), join_committed, c);
out:
    msg_csr_req_release(&m);
}

static void rpc_dispatch(struct http_req *req, void *data)
{
    struct node *n = data;
    struct err e;
    if (strcmp(req->method, "POST") != 0) {
        rpc_fail(req, ERR_NOT_FOUND, "page not found");
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/ca")) {
        if (!n->roots.cert)
            rpc_fail(req, ERR_UNAVAILABLE, "the swarm's state is not loaded yet");
        else
            rpc_reply(req, 200,
                      msg_ca_resp_encode(&(struct msg_ca_resp){.root_ca = n->roots.cert}));
        return;
    }
    /* a ping asks "do you lead?": answered also while the local etcd is electing, so that
     * the caller does not take that for the leader's silence */
    bool ping = !strcmp(req->path, "/swarm-rpc/ping");
    if (!(ping && n->state == NODE_ACTIVE && node_is_manager(n)) &&
        node_require_manager(n, &e) < 0) {
        rpc_error(req, &e);
        return;
    }
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        rpc_fail(req, ERR_INVALID, "malformed request body");
        return;
    }
    const char *peer = peer_node(n, req);
    /* each handler decodes its body first (src/msg) and reads only the typed fields */
    if (!strcmp(req->path, "/swarm-rpc/join"))
        handle_join(n, req, body);
    else if (!peer)
        rpc_fail(req, ERR_UNAUTHORIZED, "a certificate of this swarm is required");
    else if (ping && strcmp(http_req_peer_ou(req) ?: "", "swarm-manager") != 0)
        rpc_fail(req, ERR_FORBIDDEN, "only managers may call this");
    else if (ping) {
        json_t *reply;
        int status = node_leader_ping(n, &reply);
        rpc_reply(req, status, reply);
    } else if (!strcmp(req->path, "/swarm-rpc/renew"))
        handle_renew(n, req, peer, body);
    else if (!strcmp(req->path, "/swarm-rpc/promote"))
        handle_promote(n, req, peer, body);
    else if (!strcmp(req->path, "/swarm-rpc/heartbeat"))
        handle_heartbeat(n, req, peer, body);
    else if (!strcmp(req->path, "/swarm-rpc/leave"))
        handle_leave(n, req, peer);
    else if (!strcmp(req->path, "/swarm-rpc/assignments") ||
             !strcmp(req->path, "/swarm-rpc/status"))
        node_tasks_rpc(n, req, peer, body);
    else if (str_has_prefix(req->path, "/swarm-rpc/logs/"))
        node_logs_rpc(n, req, peer, body);
    else
        rpc_fail(req, ERR_NOT_FOUND, "page not found");
    json_decref(body);
}

/* The peer listener's TLS: this node's certificate; clients verified against the trust
 * bundle if they present a certificate (join and CA fetch need none); TLS 1.3 only. */
struct rpc_tls {
    char *ca, *cert, *key;
    struct http_tls_config cfg;
};

static void rpc_tls_init(struct node *n, struct rpc_tls *t)
{
    t->ca = xasprintf("%s/ca.crt", n->certs_dir);
    t->cert = xasprintf("%s/node.crt", n->certs_dir);
    t->key = xasprintf("%s/node.key", n->certs_dir);
    t->cfg = (struct http_tls_config){.cert_file = t->cert,
                                      .key_file = t->key,
                                      .client_ca_file = t->ca,
                                      .client_cert_optional = true,
                                      .tls13_only = true};
}

static void rpc_tls_release(struct rpc_tls *t)
{
    free(t->ca);
    free(t->cert);
    free(t->key);
}

int node_rpc_listen(struct node *n, struct err *e)
{
    if (n->peer_srv)
        return 0;
    struct rpc_tls t;
    rpc_tls_init(n, &t);
    /* Anyone who reaches the port can open connections (join and CA fetch need no
     * certificate): at most RPC_MAX_UNAUTH of them may be in their TLS handshake or before
     * their first request, and a peer that does not read holds at most RPC_WRITE_HIGH. */
    struct http_limits lim = {.max_header_bytes = 16384,
                              .max_body_bytes = RPC_MAX_BODY,
                              .header_timeout_ms = 10000,
                              .write_high = RPC_WRITE_HIGH,
                              .max_conns = n->cfg.peer_max_conns,
                              .max_unauth = RPC_MAX_UNAUTH};
    n->peer_srv = http_server_new(n->loop, &lim, rpc_dispatch, n);
    char *addr = xasprintf("tcp://%s", n->listen_addr);
    int rc = http_server_listen(n->peer_srv, addr, &t.cfg, e);
    if (rc) {
        e->kind = ERR_INVALID;
        err_wrap(e, "failed to listen on remote API address");
        node_rpc_close(n);
    } else {
        log_info("swarm peer listener on %s", n->listen_addr);
    }
    free(addr);
    rpc_tls_release(&t);
    return rc;
}

int node_rpc_reload_tls(struct node *n, struct err *e)
{
    if (!n->peer_srv)
        return 0;
    struct rpc_tls t;
    rpc_tls_init(n, &t);
    int rc = http_server_reload_tls(n->peer_srv, &t.cfg, e);
    rpc_tls_release(&t);
    return rc;
}

void node_rpc_close(struct node *n)
{
    if (!n->peer_srv)
        return;
    http_server_close(n->peer_srv, NULL, NULL);
    n->peer_srv = NULL;
}
