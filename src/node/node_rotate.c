/* node_rotate.c — the wiring of root CA rotation (`docker swarm ca --rotate`); what to do is
 * decided in manager/rootca (rootca.h: the roots, the start, when the leader finishes). Here:
 * the new root is made or checked and cross-signed (src/ca) in swarm update; every node
 * reports its TLSInfo, rewrites its ca.crt to the bundle the managers hand out, reloads its
 * TLS users and renews its certificate when the signing root did not issue it; the leader
 * records the TLSInfo that nodes report in their objects and, each dispatcher tick, commits
 * the end of a rotation that rootca_reconcile finds complete (the private record "rootca"
 * first, then the cluster object: fenced, through the replication layer). It stays in node/
 * because it drives node's own identity (its certificate files, its TLS users) and the
 * leader's commits, both node's. etcd is not concerned: it trusts the separate etcd CA only
 * (src/etcdtrust), never a swarm root, so a rotation needs no etcd restart.
 * Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

/* ---- the start, in swarm update ---- */

int node_rotation_prepare(struct node *n, json_t *cur_cluster, json_t *obj, json_t **rootca,
                          struct err *e)
{
    const char *given = NULL, *given_key = NULL;
    *rootca = NULL;
    int want =
        rootca_start_wanted(cur_cluster, json_object_get(obj, "Spec"), &given, &given_key, e);
    if (want <= 0)
        return want;
    char *cert = NULL, *key = NULL, *cross = NULL;
    int rc;
    if (want == ROOTCA_START_GIVEN) {
        if ((rc = ca_key_matches(given, given_key, e)) < 0)
            return rc;
        cert = xstrdup(given);
        key = xstrdup(given_key);
    } else if ((rc = ca_root_new(&cert, &key, e)) < 0) {
        return rc;
    }
    /* the old root vouches for the new one; during a rotation already under way the
     * current root is still the one everyone trusts */
    rc = ca_cross_sign(n->roots.cert, n->roots.key, cert, &cross, e);
    if (rc == 0) {
        *rootca = rootca_start_record(&n->roots, cert, key, cross);
        rootca_start_cluster(obj, cert);
        log_info("root CA rotation started");
    }
    free(cert);
    free(key);
    free(cross);
    return rc < 0 ? rc : 1;
}

/* ---- every node: trust what the managers say, renew from the signing root ---- */

static char *certs_path(struct node *n, const char *name)
{
    return xasprintf("%s/%s", n->certs_dir, name);
}

/* This node's TLSInfo as it reports it: what it trusts and who issued its certificate. */
json_t *node_self_tls_info(struct node *n)
{
    char *ap = certs_path(n, "ca.crt"), *cp = certs_path(n, "node.crt");
    char *bundle = NULL, *cert = NULL, *issuer = NULL;
    size_t len;
    json_t *out = NULL;
    if (file_read(ap, &bundle, &len, NULL) == 0 && file_read(cp, &cert, &len, NULL) == 0 &&
        ca_cert_issuer(bundle, cert, &issuer, NULL) == 0) {
        out = rootca_tls_info(issuer);
        json_object_set_new(out, "TrustRoot", json_string(bundle));
    }
    free(ap);
    free(cp);
    free(bundle);
    free(cert);
    free(issuer);
    return out;
}

void node_trust_sync(struct node *n, const char *bundle, const char *signing_root)
{
    struct err e;
    if (!bundle || !bundle[0] || n->state != NODE_ACTIVE)
        return;
    char *ap = certs_path(n, "ca.crt"), *cp = certs_path(n, "node.crt");
    char *have = NULL, *cert = NULL, *issuer = NULL;
    size_t len;
    if (file_read(ap, &have, &len, NULL) < 0 || strcmp(have, bundle) != 0) {
        if (file_write_atomic(ap, bundle, strlen(bundle), 0644, &e) < 0) {
            log_error("cannot write the new trust bundle: %s", e.msg);
        } else {
            log_info("trusting the swarm's new root bundle");
            if (node_rpc_reload_tls(n, &e) < 0)
                log_error("peer listener: %s", e.msg);
            node_leader_reload_tls(n);
            node_agent_reload_tls(n);
        }
    }
    if (signing_root && signing_root[0] && file_read(cp, &cert, &len, NULL) == 0 &&
        (ca_cert_issuer(signing_root, cert, &issuer, NULL) < 0))
        node_cert_renew(n); /* our certificate is not from the root that signs now */
    free(ap);
    free(cp);
    free(have);
    free(cert);
    free(issuer);
}

/* ---- the leader: record what nodes report, finish when all have moved ---- */

struct tls_ctx {
    struct node *n;
    char id[ID_LEN + 1];
};

static void tls_recorded(void *data, int rc, struct err *e)
{
    struct tls_ctx *c = data;
    if (c->n->marking)
        json_object_del(c->n->marking, c->id);
    if (rc < 0)
        log_warn("could not record the TLS state of node %s: %s", c->id, e->msg);
    free(c);
}

void node_record_tls_info(struct node *n, const char *id, json_t *tls)
{
    json_t *cur = store_get(n->store, STORE_NODE, id);
    if (!cur || !json_is_object(tls) || !node_is_leader(n) ||
        json_equal(tls, store_json_path(cur, "Description.TLSInfo")) ||
        (n->marking && json_object_get(n->marking, id)))
        return;
    json_t *obj = json_deep_copy(cur);
    json_t *desc = json_object_get(obj, "Description");
    if (!json_is_object(desc))
        json_object_set_new(obj, "Description", desc = json_object());
    json_object_set(desc, "TLSInfo", tls);
    struct tls_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    snprintf(c->id, sizeof(c->id), "%s", id);
    if (n->marking)
        json_object_set_new(n->marking, id, json_true());
    node_commit_leader(n, STORE_NODE, obj, store_obj_version(cur), tls_recorded, c);
}

struct finish_ctx {
    struct node *n;
    json_t *cluster;
};

static void finish_done(void *data, int rc, struct err *e)
{
    if (rc < 0)
        log_warn("root rotation: could not finish: %s", e->msg);
    else
        log_info("root CA rotation finished: the old root is no longer trusted");
}

static void finish_rootca_done(void *data, int rc, struct err *e)
{
    struct finish_ctx *c = data;
    if (rc < 0) {
        json_decref(c->cluster);
        finish_done(NULL, rc, e);
    } else {
        json_t *cur = node_cluster(c->n);
        node_commit_leader(c->n, STORE_CLUSTER, c->cluster, cur ? store_obj_version(cur) : 0,
                           finish_done, NULL);
    }
    free(c);
}

/* The store's nodes as the decision reads them, into room for store_count() of them. */
struct nodes_in {
    struct rootca_node *v;
    size_t n, cap;
};

static int add_node(json_t *obj, void *data)
{
    struct nodes_in *in = data;
    if (in->n == in->cap)
        return 1; /* cannot happen: the store does not change during the walk */
    in->v[in->n++] = (struct rootca_node){
        .id = store_json_str(obj, "ID"),
        .issuer_key = store_json_str(obj, "Description.TLSInfo.CertIssuerPublicKey")};
    return 0;
}

void node_rotation_tick(struct node *n, int64_t now_ns)
{
    json_t *cluster = node_cluster(n);
    /* the leader reports for itself: it sends no heartbeats */
    json_t *mine = node_self_tls_info(n);
    if (mine)
        node_record_tls_info(n, n->id, mine);
    json_decref(mine);
    struct rootca_view v = {
        .in_progress = cluster && json_is_true(json_object_get(cluster, "RootRotationInProgress")),
        .want = store_json_str(cluster, "TLSInfo.CertIssuerPublicKey"),
        .have_new_root = n->roots.new_cert != NULL,
        .finishing = n->finishing_rotation};
    if (!rootca_rotating(&v))
        return;
    struct nodes_in in = {.cap = store_count(n->store, STORE_NODE)};
    in.v = xcalloc(in.cap ? in.cap : 1, sizeof(*in.v));
    store_foreach(n->store, STORE_NODE, add_node, &in);
    enum rootca_next next = rootca_reconcile(&v, in.v, in.n, NULL, NULL);
    free(in.v);
    if (next != ROOTCA_FINISH)
        return;
    /* every node holds a certificate from the new root */
    n->finishing_rotation = true;
    json_t *rec = rootca_finish_record(&n->roots);
    struct finish_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->cluster = rootca_finish_cluster(cluster, n->roots.new_cert, now_ns);
    node_commit_private(n, "rootca", rec, finish_rootca_done, c);
    json_decref(rec);
}
