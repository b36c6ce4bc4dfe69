/* node_etcd.c — etcd's own trust: only managers reach etcd.
 *
 * etcd (client port 127.0.0.1:2479 and peer port 2480) trusts one CA, the etcd CA, and no
 * swarm root: a swarm certificate of any root (a worker's, a manager's, before or after a root
 * rotation) never opens etcd, so root rotation does not touch etcd's trust at all. The etcd
 * CA (ECDSA P-256, CN "shoal-etcd-ca") is made at `swarm init`; its key is a manager-only
 * secret handed to joining and promoted managers with the data key, never to workers.
 *
 * Files on a manager (all removed on demotion and leave):
 *   certs/etcd-ca.crt   the etcd CA certificate (etcd's --trusted-ca-file/--peer-...)
 *   keys/etcd-ca.key    its key, sealed with the data key (so autolock covers it: while the
 *                       node is locked the DEK, and with it this key, cannot be read)
 *   certs/etcd.crt/.key this manager's etcd certificate (server+client; CN node ID, OU
 *                       "shoal-etcd", SANs 127.0.0.1 and the advertise IP), issued by the
 *                       manager itself from the etcd CA when missing, invalid or old
 *   certs/etcd-crl.pem  the CRL etcd checks every new connection against
 *
 * Replicated private records (sealed like every value): "etcdca" {Cert, Key}; "etcdcert-<ID>"
 * {Serials} every etcd certificate serial a manager ever used (each manager records its own
 * once its store is up); "etcdcrl" {Serials, CRL}. Every manager writes the CRL of the record
 * to certs/etcd-crl.pem (atomically); etcd re-reads it per connection, so a revocation takes
 * effect without a restart. The leader revokes (every dispatcher tick) the serials of nodes
 * that are no longer managers in the store (demoted, or removed with `node rm --force`) once
 * they are no longer etcd members either, so a demoting manager still reaches its etcd to
 * take itself out. etcd itself also refuses a removed member ID at the raft layer.
 *
 * Data roots from before this file: a manager without the etcd CA runs etcd with the swarm
 * certificates as before; the leader creates the etcd CA record if the swarm has none, every
 * manager stores it on disk, and each manager switches its etcd to it on its next restart.
 * Thread: the loop thread; small blocking file I/O. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* etcd certificates are revoked through the CRL, not by expiring: a long life, renewed at a
 * manager's start once 80% of it has passed. */
#define ETCD_CERT_EXPIRY_NS (5LL * 365 * 24 * 3600 * 1000000000LL)

static char *cpath(struct node *n, const char *name)
{
    return xasprintf("%s/%s", n->certs_dir, name);
}

static char *ca_key_path(struct node *n)
{
    return xasprintf("%s/etcd-ca.key", n->keys_dir);
}

static void set_ca(struct node *n, const char *cert, const char *key)
{
    free(n->etcd_ca_cert);
    free(n->etcd_ca_key);
    n->etcd_ca_cert = cert ? xstrdup(cert) : NULL;
    n->etcd_ca_key = key ? xstrdup(key) : NULL;
}

int node_etcd_ca_install(struct node *n, const char *cert, const char *key, struct err *e)
{
    BUG_ON(!n->have_dek);
    int rc = ca_key_matches(cert, key, e);
    if (!rc)
        rc = dir_make(n->certs_dir, 0700, e);
    if (!rc)
        rc = dir_make(n->keys_dir, 0700, e);
    if (rc)
        return err_wrap(e, "the etcd CA");
    struct buf sealed = BUF_INIT;
    ca_seal(n->dek, key, strlen(key), &sealed);
    char *b64 = b64_encode(sealed.p, sealed.len, true);
    buf_release(&sealed);
    json_t *j = json_pack("{s:s, s:s}", "SealedBy", "dek", "Key", b64);
    free(b64);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *kp = ca_key_path(n), *cp = cpath(n, "etcd-ca.crt");
    rc = file_write_atomic(kp, s, strlen(s), 0600, e);
    if (!rc)
        rc = file_write_atomic(cp, cert, strlen(cert), 0644, e);
    free(kp);
    free(cp);
    free(s);
    if (!rc)
        set_ca(n, cert, key);
    return rc;
}

int node_etcd_ca_create(struct node *n, struct err *e)
{
    char *cert = NULL, *key = NULL;
    int rc = ca_etcd_root_new(&cert, &key, e);
    if (!rc)
        rc = node_etcd_ca_install(n, cert, key, e);
    free(cert);
    free(key);
    return rc;
}

/* Reads the etcd CA from disk into n; -ERR_NOT_FOUND when this data root has none. */
static int load_ca(struct node *n, struct err *e)
{
    char *kp = ca_key_path(n), *cp = cpath(n, "etcd-ca.crt"), *cert = NULL, *data = NULL;
    size_t len;
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    json_t *j = NULL;
    int rc = 0;
    if (access(kp, F_OK) != 0 || access(cp, F_OK) != 0) {
        rc = err_set(e, ERR_NOT_FOUND, "no etcd CA on this manager");
        goto out;
    }
    if ((rc = file_read(cp, &cert, &len, e)) < 0 || (rc = file_read(kp, &data, &len, e)) < 0)
        goto out;
    j = json_loadb(data, len, 0, NULL);
    const char *b64 = json_string_value(json_object_get(j, "Key"));
    if (!b64) {
        rc = err_set(e, ERR_INTERNAL, "keys/etcd-ca.key is corrupt");
        goto out;
    }
    if ((rc = b64_decode(b64, strlen(b64), &sealed, e)) < 0 ||
        (rc = ca_unseal(n->dek, sealed.p, sealed.len, &plain, e)) < 0)
        goto out;
    buf_add(&plain, "", 1); /* NUL-terminate the PEM */
    if ((rc = ca_key_matches(cert, plain.p, e)) < 0)
        goto out;
    set_ca(n, cert, plain.p);
out:
    if (rc < 0 && rc != -ERR_NOT_FOUND)
        err_wrap(e, "cannot load the etcd CA");
    if (plain.p)
        memset(plain.p, 0, plain.len);
    buf_release(&plain);
    buf_release(&sealed);
    json_decref(j);
    free(kp);
    free(cp);
    free(cert);
    free(data);
    return rc;
}

/* True if certs/etcd.crt and etcd.key are this manager's, from the etcd CA, name its current
 * advertise IP (etcd matches a peer's IP SANs against its address), and are young at now_ns
 * (not past 80% of their life). */
static bool cert_usable(struct node *n, int64_t now_ns)
{
    char *cp = cpath(n, "etcd.crt"), *kp = cpath(n, "etcd.key"), *cert = NULL, *key = NULL;
    size_t len;
    struct err e;
    struct ca_identity id;
    bool ok = file_read(cp, &cert, &len, &e) == 0 && file_read(kp, &key, &len, &e) == 0 &&
              ca_key_matches(cert, key, &e) == 0 &&
              ca_verify_at(n->etcd_ca_cert, cert, now_ns, &id, &e) == 0 && !strcmp(id.cn, n->id) &&
              !strcmp(id.ou, CA_ETCD_OU) &&
              (!n->advertise_ip[0] || ca_cert_has_ip(cert, n->advertise_ip)) &&
              now_ns < ca_renew_at(id.not_before_ns, id.not_after_ns, 1.0);
    if (key)
        memset(key, 0, strlen(key));
    free(cp);
    free(kp);
    free(cert);
    free(key);
    return ok;
}

static int issue_cert(struct node *n, struct err *e)
{
    char *key = NULL, *csr = NULL, *cert = NULL;
    struct ca_identity ident = {0};
    snprintf(ident.cn, sizeof(ident.cn), "%s", n->id);
    snprintf(ident.ou, sizeof(ident.ou), "%s", CA_ETCD_OU);
    snprintf(ident.org, sizeof(ident.org), "%s", n->cluster_id);
    const char *ips[] = {n->advertise_ip};
    int rc = ca_key_csr_new(&key, &csr, e);
    if (!rc)
        rc = ca_issue(n->etcd_ca_cert, n->etcd_ca_key, csr, &ident, ETCD_CERT_EXPIRY_NS, ips,
                      n->advertise_ip[0] ? 1 : 0, &cert, e);
    char *kp = cpath(n, "etcd.key"), *cp = cpath(n, "etcd.crt");
    if (!rc)
        rc = file_write_atomic(kp, key, strlen(key), 0600, e);
    if (!rc)
        rc = file_write_atomic(cp, cert, strlen(cert), 0644, e);
    if (!rc)
        log_info("issued this manager's etcd certificate");
    free(kp);
    free(cp);
    free(key);
    free(csr);
    free(cert);
    return rc;
}

static int write_crl(struct node *n, const char *crl, struct err *e)
{
    char *p = cpath(n, "etcd-crl.pem");
    int rc = file_write_atomic(p, crl, strlen(crl), 0644, e);
    free(p);
    return rc;
}

int node_etcd_prepare(struct node *n, struct err *e)
{
    n->etcd_trust = false;
    int rc = load_ca(n, e);
    if (rc == -ERR_NOT_FOUND) {
        log_warn("this manager has no etcd CA yet (a data root from an older version): etcd "
                 "trusts the swarm's certificates until the next restart after the leader "
                 "distributed one");
        return 0;
    }
    if (rc < 0)
        return rc;
    if (!cert_usable(n, time_now_ns()) && (rc = issue_cert(n, e)) < 0)
        return err_wrap(e, "cannot issue this manager's etcd certificate");
    char *p = cpath(n, "etcd-crl.pem");
    bool have_crl = access(p, F_OK) == 0;
    free(p);
    if (!have_crl) {
        /* etcd refuses every connection without a readable CRL: start with an empty one;
         * the swarm's record replaces it as soon as the store feed delivers it */
        char *crl = NULL;
        rc = ca_crl_new(n->etcd_ca_cert, n->etcd_ca_key, NULL, 0, &crl, e);
        if (!rc)
            rc = write_crl(n, crl, e);
        free(crl);
        if (rc < 0)
            return err_wrap(e, "cannot write etcd's CRL");
    }
    n->etcd_trust = true;
    return 0;
}

void node_etcd_forget(struct node *n, bool remove_files)
{
    set_ca(n, NULL, NULL);
    n->etcd_trust = false;
    n->etcd_ca_recorded = false;
    n->etcd_revoking = false;
    json_decref(n->etcd_serials);
    json_decref(n->etcd_revoked);
    n->etcd_serials = n->etcd_revoked = NULL;
    if (!remove_files)
        return;
    const char *names[] = {"etcd.crt", "etcd.key", "etcd-ca.crt", "etcd-crl.pem"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char *p = cpath(n, names[i]);
        unlink(p);
        free(p);
    }
    char *kp = ca_key_path(n);
    unlink(kp);
    free(kp);
}

json_t *node_etcd_ca_record(struct node *n)
{
    /* only a manager whose own etcd runs on the etcd CA hands it on: a joiner starts its
     * etcd the way this one runs */
    if (!n->etcd_trust || !n->etcd_ca_cert || !n->etcd_ca_key)
        return NULL;
    return json_pack("{s:s, s:s}", "Cert", n->etcd_ca_cert, "Key", n->etcd_ca_key);
}

int node_etcd_ca_from_answer(struct node *n, const char *cert, const char *key, struct err *e)
{
    if (!cert && !key)
        return 0; /* an older manager: this one runs etcd on the swarm's certificates */
    if (!cert || !key)
        return err_set(e, ERR_INTERNAL, "the manager sent a malformed etcd CA");
    return node_etcd_ca_install(n, cert, key, e);
}

static bool in_array(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!strcmp(json_string_value(v) ?: "", s))
            return true;
    }
    return false;
}

bool node_etcd_apply(struct node *n, const char *name, json_t *rec)
{
    struct err e;
    if (!strcmp(name, "etcdca")) {
        const char *cert = json_string_value(json_object_get(rec, "Cert"));
        const char *key = json_string_value(json_object_get(rec, "Key"));
        n->etcd_ca_recorded = true;
        if (!cert || !key || !node_is_manager(n) || !n->have_dek)
            return true;
        if (!n->etcd_ca_cert) {
            /* an older data root: keep it for the next start of etcd */
            if (node_etcd_ca_install(n, cert, key, &e) < 0)
                log_error("cannot store the swarm's etcd CA: %s", e.msg);
            else
                log_info("stored the swarm's etcd CA: etcd uses it from its next restart");
        } else if (strcmp(cert, n->etcd_ca_cert) != 0) {
            log_warn("the swarm's etcd CA differs from this manager's; keeping this one");
        }
        return true;
    }
    if (!strcmp(name, "etcdcrl")) {
        json_decref(n->etcd_revoked);
        json_t *serials = json_object_get(rec, "Serials");
        n->etcd_revoked = json_is_array(serials) ? json_deep_copy(serials) : json_array();
        const char *crl = json_string_value(json_object_get(rec, "CRL"));
        if (crl && n->etcd_trust && write_crl(n, crl, &e) < 0)
            log_error("cannot write etcd's CRL: %s", e.msg);
        return true;
    }
    if (str_has_prefix(name, "etcdcert-")) {
        json_t *serials = json_object_get(rec, "Serials");
        if (!n->etcd_serials)
            n->etcd_serials = json_object();
        if (json_is_array(serials))
            json_object_set(n->etcd_serials, name + strlen("etcdcert-"), serials);
        return true;
    }
    return false;
}

struct record_ctx {
    struct node *n;
    json_t *prev; /* this manager's serial list before (NULL: none) */
};

static void recorded(void *data, int rc, struct err *e)
{
    struct record_ctx *c = data;
    struct node *n = c->n;
    n->etcd_recording = false;
    if (rc < 0) {
        /* node_commit_private() applied it here already: undo, so the next check (node_certs.c,
         * every minute) tries again */
        log_warn("could not record this manager's etcd certificate: %s", e->msg);
        if (n->etcd_serials && c->prev)
            json_object_set(n->etcd_serials, n->id, c->prev);
        else if (n->etcd_serials)
            json_object_del(n->etcd_serials, n->id);
    }
    json_decref(c->prev);
    free(c);
}

void node_etcd_ready(struct node *n)
{
    if (!n->etcd_trust || n->etcd_recording || !n->st || n->state != NODE_ACTIVE)
        return;
    char *cp = cpath(n, "etcd.crt"), *cert = NULL, *serial = NULL;
    size_t len;
    struct err e;
    if (file_read(cp, &cert, &len, &e) == 0 && ca_cert_serial(cert, &serial, &e) == 0) {
        json_t *mine = n->etcd_serials ? json_object_get(n->etcd_serials, n->id) : NULL;
        if (!in_array(mine, serial)) {
            struct record_ctx *c = xcalloc(1, sizeof(*c));
            c->n = n;
            c->prev = mine ? json_deep_copy(mine) : NULL;
            json_t *list = mine ? json_deep_copy(mine) : json_array();
            json_array_append_new(list, json_string(serial));
            char *name = xasprintf("etcdcert-%s", n->id);
            json_t *rec = json_pack("{s:o}", "Serials", list);
            n->etcd_recording = true;
            node_commit_private(n, name, rec, recorded, c);
            json_decref(rec);
            free(name);
        }
    }
    free(cp);
    free(cert);
    free(serial);
}

/* ---- leader: the swarm's etcd CA and revocations ---- */

static void ca_committed(void *data, int rc, struct err *e)
{
    struct node *n = data;
    if (rc < 0) {
        log_warn("could not record the swarm's etcd CA: %s", e->msg);
        n->etcd_ca_recorded = false; /* the next tick tries again, with the same CA */
    } else
        log_info("created the swarm's etcd CA: each manager uses it from its next restart");
}

struct revoke_ctx {
    struct node *n;
    json_t *candidates; /* node ID → serials not revoked yet; then, while the CRL commits,
                           the revoked list as it was before */
};

static void crl_committed(void *data, int rc, struct err *e)
{
    struct revoke_ctx *c = data;
    struct node *n = c->n;
    n->etcd_revoking = false;
    if (rc < 0) {
        /* node_commit_private() applied it here already: forget it so the next tick tries
         * again (the other managers never saw it) */
        log_warn("could not record etcd's CRL: %s", e->msg);
        json_decref(n->etcd_revoked);
        n->etcd_revoked = c->candidates; /* the list as it was before */
        c->candidates = NULL;
    }
    json_decref(c->candidates);
    free(c);
}

static void got_members(void *data, int rc, const struct state_member *m, size_t nm, struct err *e)
{
    struct revoke_ctx *c = data;
    struct node *n = c->n;
    json_t *revoked = NULL;
    char *crl = NULL;
    struct err e2;
    if (rc < 0 || !n->etcd_ca_key || !node_is_leader(n))
        goto out;
    revoked = n->etcd_revoked ? json_deep_copy(n->etcd_revoked) : json_array();
    size_t before = json_array_size(revoked);
    const char *id;
    json_t *serials;
    json_object_foreach(c->candidates, id, serials)
    {
        bool member = false;
        for (size_t i = 0; i < nm; i++)
            member |= !strcmp(m[i].name, id);
        if (member)
            continue; /* still demoting: it takes itself out of etcd first */
        size_t i;
        json_t *s;
        json_array_foreach(serials, i, s)
        {
            if (!in_array(revoked, json_string_value(s)))
                json_array_append(revoked, s);
        }
        log_info("revoking the etcd certificates of node %s (no longer a manager)", id);
    }
    if (json_array_size(revoked) == before)
        goto out;
    size_t ns = json_array_size(revoked);
    const char **list = xcalloc(ns ? ns : 1, sizeof(char *));
    for (size_t i = 0; i < ns; i++)
        list[i] = json_string_value(json_array_get(revoked, i));
    rc = ca_crl_new(n->etcd_ca_cert, n->etcd_ca_key, list, ns, &crl, &e2);
    free(list);
    if (rc < 0) {
        log_error("cannot sign etcd's CRL: %s", e2.msg);
        goto out;
    }
    json_t *rec = json_pack("{s:O, s:s}", "Serials", revoked, "CRL", crl);
    json_decref(c->candidates);
    c->candidates = n->etcd_revoked ? json_deep_copy(n->etcd_revoked) : json_array();
    node_commit_private(n, "etcdcrl", rec, crl_committed, c);
    json_decref(rec);
    json_decref(revoked);
    free(crl);
    return;
out:
    n->etcd_revoking = false;
    json_decref(revoked);
    free(crl);
    json_decref(c->candidates);
    free(c);
}

void node_etcd_tick(struct node *n)
{
    struct err e;
    if (!n->have_dek)
        return;
    if (!n->etcd_ca_recorded) {
        /* a swarm from before the etcd CA (or the record of init not seen yet) */
        n->etcd_ca_recorded = true;
        if (!n->etcd_ca_cert && node_etcd_ca_create(n, &e) < 0) {
            log_error("cannot create the swarm's etcd CA: %s", e.msg);
            return;
        }
        json_t *rec = json_pack("{s:s, s:s}", "Cert", n->etcd_ca_cert, "Key", n->etcd_ca_key);
        node_commit_private(n, "etcdca", rec, ca_committed, n);
        json_decref(rec);
        return;
    }
    if (n->etcd_revoking || !n->etcd_serials || !n->etcd_ca_key)
        return;
    json_t *candidates = json_object();
    const char *id;
    json_t *serials;
    json_object_foreach(n->etcd_serials, id, serials)
    {
        json_t *obj = store_get(n->store, STORE_NODE, id);
        if (obj && (!strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager") ||
                    store_json_path(obj, "ManagerStatus")))
            continue;
        json_t *left = json_array();
        size_t i;
        json_t *s;
        json_array_foreach(serials, i, s)
        {
            if (!in_array(n->etcd_revoked, json_string_value(s)))
                json_array_append(left, s);
        }
        if (json_array_size(left))
            json_object_set_new(candidates, id, left);
        else
            json_decref(left);
    }
    if (!json_object_size(candidates)) {
        json_decref(candidates);
        return;
    }
    n->etcd_revoking = true;
    struct revoke_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->candidates = candidates;
    state_member_list(n->st, got_members, c);
}
