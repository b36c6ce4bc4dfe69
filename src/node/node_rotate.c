/* node_rotate.c — root CA rotation (`docker swarm ca --rotate`), Docker's way: a new root
 * (generated, or given with its key) is cross-signed by the old one; from then on every
 * certificate is issued by the new root with the cross-signed root appended, every node
 * trusts both roots (its ca.crt becomes the bundle) and renews its certificate at once; each
 * node reports its TLSInfo (trust root and certificate issuer) with its heartbeats, and when
 * every node's certificate comes from the new root the leader finishes: the old root is
 * dropped, the join tokens carry the new digest, and nodes trust the new root alone.
 * The cross-signed chain keeps every peer able to verify new certificates throughout. etcd
 * is not concerned: it trusts the separate etcd CA only (node_etcd.c), never a swarm root,
 * so a rotation needs no etcd restart and no swarm certificate ever opens etcd.
 * Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

json_t *node_tls_info(const char *root_pem)
{
    char *subj = NULL, *pub = NULL;
    struct err e;
    if (ca_tls_info(root_pem, &subj, &pub, &e) < 0)
        return json_object();
    json_t *j = json_pack("{s:s, s:s, s:s}", "TrustRoot", root_pem, "CertIssuerSubject", subj,
                          "CertIssuerPublicKey", pub);
    free(subj);
    free(pub);
    return j;
}

char *node_trust_bundle(struct node *n)
{
    if (!n->root_cert)
        return NULL;
    return n->new_root_cert ? xasprintf("%s%s", n->root_cert, n->new_root_cert)
                            : xstrdup(n->root_cert);
}

const char *node_signing_root(struct node *n)
{
    return n->new_root_cert ? n->new_root_cert : n->root_cert;
}

/* ---- the start, in swarm update ---- */

int node_rotation_prepare(struct node *n, json_t *cur_cluster, json_t *obj, json_t **rootca,
                          struct err *e)
{
    json_t *ca = json_object_get(json_object_get(obj, "Spec"), "CAConfig");
    json_int_t want = json_integer_value(json_object_get(ca, "ForceRotate"));
    json_int_t had = json_integer_value(store_json_path(cur_cluster, "Spec.CAConfig.ForceRotate"));
    const char *given = json_string_value(json_object_get(ca, "SigningCACert"));
    const char *given_key = json_string_value(json_object_get(ca, "SigningCAKey"));
    *rootca = NULL;
    if (want == had && (!given || !given[0]))
        return 0;
    char *cert = NULL, *key = NULL, *cross = NULL;
    int rc;
    if (given && given[0]) {
        if (!given_key || !given_key[0])
            return err_set(e, ERR_INVALID,
                           "rpc error: code = InvalidArgument desc = the signing CA key is "
                           "required: shoal does not support external CAs");
        if ((rc = ca_key_matches(given, given_key, e)) < 0)
            return rc;
        cert = xstrdup(given);
        key = xstrdup(given_key);
    } else if ((rc = ca_root_new(&cert, &key, e)) < 0) {
        return rc;
    }
    /* the old root vouches for the new one; during a rotation already under way the
     * current root is still the one everyone trusts */
    rc = ca_cross_sign(n->root_cert, n->root_key, cert, &cross, e);
    if (rc == 0) {
        *rootca = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Cert", n->root_cert, "Key", n->root_key,
                            "NewCert", cert, "NewKey", key, "Cross", cross);
        json_object_set_new(obj, "TLSInfo", node_tls_info(cert));
        json_object_set_new(obj, "RootRotationInProgress", json_true());
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
        out = node_tls_info(issuer);
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

static int node_on_old_root(json_t *obj, void *data)
{
    const char *want = data;
    const char *have = store_json_str(obj, "Description.TLSInfo.CertIssuerPublicKey");
    return !have || strcmp(have, want) != 0;
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

static void retoken(json_t *tokens, const char *role, const char *root)
{
    const char *t = json_string_value(json_object_get(tokens, role));
    char *digest = ca_digest(root);
    if (t && strlen(t) > 9 + CA_TOKEN_DIGEST_LEN + 1) {
        char *nt = xasprintf("SWMTKN-1-%s-%s", digest, t + 9 + CA_TOKEN_DIGEST_LEN + 1);
        json_object_set_new(tokens, role, json_string(nt));
        free(nt);
    }
    free(digest);
}

void node_rotation_tick(struct node *n)
{
    json_t *cluster = node_cluster(n);
    /* the leader reports for itself: it sends no heartbeats */
    json_t *mine = node_self_tls_info(n);
    if (mine)
        node_record_tls_info(n, n->id, mine);
    json_decref(mine);
    if (!cluster || !json_is_true(json_object_get(cluster, "RootRotationInProgress")) ||
        !n->new_root_cert || n->finishing_rotation)
        return;
    const char *want = store_json_str(cluster, "TLSInfo.CertIssuerPublicKey");
    if (!want || store_foreach(n->store, STORE_NODE, node_on_old_root, (void *)want))
        return;
    /* every node holds a certificate from the new root */
    n->finishing_rotation = true;
    json_t *rec = json_pack("{s:s, s:s, s:s}", "Cert", n->new_root_cert, "Key", n->new_root_key,
                            "Cross", n->cross_cert ? n->cross_cert : "");
    struct finish_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->cluster = json_deep_copy(cluster);
    json_object_set_new(c->cluster, "RootRotationInProgress", json_false());
    json_t *tokens = json_object_get(c->cluster, "JoinTokens");
    retoken(tokens, "Worker", n->new_root_cert);
    retoken(tokens, "Manager", n->new_root_cert);
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    json_object_set_new(c->cluster, "UpdatedAt", json_string(now));
    node_commit_private(n, "rootca", rec, finish_rootca_done, c);
    json_decref(rec);
}
