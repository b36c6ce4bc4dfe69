/* node_certs.c — node certificate renewal: every node renews its certificate at a random
 * point between 50% and 80% of its lifetime (as swarmkit; the minute's check reads the clock
 * and ca_cert_due decides), so a swarm never has a wave of renewals and no certificate
 * expires in service. Managers sign their own renewal with the
 * swarm's root; workers ask a manager (POST /swarm-rpc/renew, mutual TLS with the current
 * certificate). The new key and certificate replace the old ones atomically, and the TLS
 * users (peer listener, session, probes) pick them up at once.
 * Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

#define CERT_CHECK_MS (60 * 1000)

static char *certs_file(struct node *n, const char *name)
{
    return xasprintf("%s/%s", n->certs_dir, name);
}

/* Replaces node.key and node.crt (each atomically) and reloads every TLS user. */
static int install(struct node *n, const char *cert, const char *key, struct err *e)
{
    char *kp = certs_file(n, "node.key"), *cp = certs_file(n, "node.crt");
    int rc = file_write_atomic(kp, key, strlen(key), 0600, e);
    if (!rc)
        rc = file_write_atomic(cp, cert, strlen(cert), 0644, e);
    free(kp);
    free(cp);
    if (rc)
        return rc;
    n->renew_r = (double)(rand() % 1000) / 1000.0;
    if (node_rpc_reload_tls(n, e) < 0)
        log_error("peer listener after renewal: %s", e->msg);
    node_leader_reload_tls(n);
    if (n->agent_timer) {
        node_agent_stop(n);
        node_agent_start(n);
    }
    log_info("renewed this node's certificate");
    return 0;
}

struct renew_ctx {
    struct node *n;
    char *key;
};

static void renewed(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct renew_ctx *c = data;
    struct err e2;
    c->n->renewing = false;
    json_t *j =
        rc == 0 && status == 200 ? msg_load(body->p, body->len, "certificate answer", &e2) : NULL;
    struct msg_cert_resp m = {0};
    bool decoded = j && msg_cert_resp_decode(j, &m, &e2) == 0;
    json_decref(j);
    if (!decoded)
        log_warn("certificate renewal failed: %s", rc < 0          ? e->msg
                                                   : status == 200 ? e2.msg
                                                                   : "the manager refused");
    else if (install(c->n, m.cert, c->key, &e2) < 0)
        log_error("certificate renewal: %s", e2.msg);
    msg_cert_resp_release(&m);
    free(c->key);
    free(c);
}

int node_issue(struct node *n, const char *csr, const char *id, const char *ou, const char *ip,
               char **chain, struct err *e)
{
    json_t *cluster = node_cluster(n);
    const char *root = rootca_signing_cert(&n->roots), *key = rootca_signing_key(&n->roots);
    if (!cluster || !root || !key || !root[0])
        return err_set(e, ERR_UNAVAILABLE, "the swarm's CA is not loaded");
    struct ca_identity ident = {0};
    snprintf(ident.cn, sizeof(ident.cn), "%s", id);
    snprintf(ident.ou, sizeof(ident.ou), "%s", ou);
    snprintf(ident.org, sizeof(ident.org), "%s", n->cluster_id);
    json_int_t expiry =
        json_integer_value(store_json_path(cluster, "Spec.CAConfig.NodeCertExpiry"));
    const char *ips[] = {ip};
    char *cert = NULL;
    int rc = ca_issue(root, key, csr, &ident, expiry, ips, ip && ip[0] ? 1 : 0, &cert, e);
    if (rc)
        return rc;
    /* After a root rotation began, peers that trust only the old root follow the chain. */
    *chain = rootca_chain(&n->roots, cert);
    free(cert);
    return 0;
}

void node_cert_renew(struct node *n)
{
    struct err e;
    char *key = NULL, *csr = NULL, *cert = NULL;
    if (n->renewing || n->state != NODE_ACTIVE || ca_key_csr_new(&key, &csr, &e) < 0)
        goto out;
    if (node_is_manager(n)) {
        if (node_issue(n, csr, n->id, "swarm-manager", n->advertise_ip, &cert, &e) < 0 ||
            install(n, cert, key, &e) < 0)
            log_error("certificate renewal: %s", e.msg);
        goto out;
    }
    const char *mgr = json_string_value(json_array_get(n->managers, n->agent_idx));
    if (!mgr || !n->agent_client)
        goto out;
    n->renewing = true;
    struct renew_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->key = key;
    key = NULL;
    json_t *req = msg_csr_req_encode(&(struct msg_csr_req){.csr = csr});
    char *s = msg_dump(req);
    json_decref(req);
    char *url = xasprintf("https://%s/swarm-rpc/renew", mgr);
    httpc_post(n->agent_client, url, s, strlen(s), 10000, NULL, renewed, c);
    free(url);
    free(s);
out:
    free(key);
    free(csr);
    free(cert);
}

static void check_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    if (n->state != NODE_ACTIVE)
        return;
    if (node_is_manager(n))
        node_etcd_ready(n); /* a serial record that failed to commit is tried again */
    char *cp = certs_file(n, "node.crt"), *ap = certs_file(n, "ca.crt");
    char *cert = NULL, *ca = NULL;
    size_t len;
    struct err e;
    if (file_read(cp, &cert, &len, &e) == 0 && file_read(ap, &ca, &len, &e) == 0) {
        int rc = ca_cert_due(ca, cert, n->renew_r, time_now_ns(), &e);
        /* an expired certificate cannot be renewed over mutual TLS: say so */
        if (rc < 0)
            log_error("this node's certificate is not valid: %s", e.msg);
        else if (rc > 0)
            node_cert_renew(n);
    }
    free(cp);
    free(ap);
    free(cert);
    free(ca);
}

void node_certs_start(struct node *n)
{
    if (n->cert_timer)
        return;
    n->renew_r = (double)(rand() % 1000) / 1000.0;
    n->cert_timer = xmalloc(sizeof(*n->cert_timer));
    uv_timer_init(n->loop, n->cert_timer);
    n->cert_timer->data = n;
    uv_timer_start(n->cert_timer, check_tick, 1000, CERT_CHECK_MS);
    uv_unref((uv_handle_t *)n->cert_timer);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void node_certs_stop(struct node *n)
{
    if (!n->cert_timer)
        return;
    uv_timer_stop(n->cert_timer);
    uv_close((uv_handle_t *)n->cert_timer, timer_closed);
    n->cert_timer = NULL;
}
