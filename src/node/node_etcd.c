/* node_etcd.c — the wiring of etcd's own trust (src/etcdtrust/etcdtrust.h keeps the files and
 * decides): each manager records the serial of its etcd certificate in the replicated record
 * "etcdcert-<ID>" once its store is up (retried by the minute's certificate check); the leader,
 * every dispatcher tick, creates the "etcdca" record of a swarm from before the etcd CA, and
 * revokes the etcd certificates that etcdtrust_to_revoke names: it asks etcd for its members
 * only when the store alone shows a node to revoke, decides again with them, signs the CRL and
 * commits "etcdcrl" (every manager then writes it to etcd's CRL file, etcdtrust_apply). The
 * records go through node's commit of private records, which applies them here at once; a
 * failed commit is undone so the next tick tries again. Thread: the loop thread. */
#include "node_int.h"

#include <stdlib.h>
#include <string.h>

void node_etcd_forget(struct node *n, bool remove_files)
{
    etcdtrust_forget(&n->etcd, remove_files);
    n->etcd_revoking = false;
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
        if (n->etcd.serials && c->prev)
            json_object_set(n->etcd.serials, n->id, c->prev);
        else if (n->etcd.serials)
            json_object_del(n->etcd.serials, n->id);
    }
    json_decref(c->prev);
    free(c);
}

void node_etcd_ready(struct node *n)
{
    if (!n->etcd.on || n->etcd_recording || !n->st || n->state != NODE_ACTIVE)
        return;
    char *serial = NULL;
    struct err e;
    if (etcdtrust_cert_serial(&n->etcd, &serial, &e) == 0) {
        json_t *mine = n->etcd.serials ? json_object_get(n->etcd.serials, n->id) : NULL;
        if (!etcdtrust_has(mine, serial)) {
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
    free(serial);
}

/* ---- leader: the swarm's etcd CA and revocations ---- */

static void ca_committed(void *data, int rc, struct err *e)
{
    struct node *n = data;
    if (rc < 0) {
        log_warn("could not record the swarm's etcd CA: %s", e->msg);
        n->etcd.ca_recorded = false; /* the next tick tries again, with the same CA */
    } else
        log_info("created the swarm's etcd CA: each manager uses it from its next restart");
}

/* The nodes with recorded etcd serials as the store has them now, and whether each is among
 * the nm etcd members (none while etcd has not been asked). Heap; *nh of them. */
static struct etcdtrust_holder *holders(struct node *n, const struct state_member *m, size_t nm,
                                        size_t *nh)
{
    struct etcdtrust_holder *h = xcalloc(
        json_object_size(n->etcd.serials) ? json_object_size(n->etcd.serials) : 1, sizeof(*h));
    size_t k = 0;
    const char *id;
    json_t *serials;
    json_object_foreach(n->etcd.serials, id, serials)
    {
        json_t *obj = store_get(n->store, STORE_NODE, id);
        bool member = false;
        for (size_t i = 0; i < nm; i++)
            member |= !strcmp(m[i].name, id);
        h[k++] = (struct etcdtrust_holder){
            .id = id,
            .serials = serials,
            .manager = obj && (!strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager") ||
                               store_json_path(obj, "ManagerStatus")),
            .member = member};
    }
    *nh = k;
    return h;
}

struct revoke_ctx {
    struct node *n;
    json_t *prev; /* while the CRL commits: the revoked list as it was before */
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
        json_decref(n->etcd.revoked);
        n->etcd.revoked = c->prev;
        c->prev = NULL;
    }
    json_decref(c->prev);
    free(c);
}

static void got_members(void *data, int rc, const struct state_member *m, size_t nm, struct err *e)
{
    struct node *n = data;
    json_t *add = NULL, *who = NULL, *revoked = NULL;
    char *crl = NULL;
    struct err e2;
    if (rc < 0 || !n->etcd.ca_key || !node_is_leader(n))
        goto out;
    size_t nh;
    struct etcdtrust_holder *h = holders(n, m, nm, &nh);
    who = json_array();
    add = etcdtrust_to_revoke(h, nh, n->etcd.revoked, who);
    free(h);
    if (!json_array_size(add))
        goto out;
    size_t i;
    json_t *v;
    json_array_foreach(who, i, v) log_info(
        "revoking the etcd certificates of node %s (no longer a manager)", json_string_value(v));
    revoked = n->etcd.revoked ? json_deep_copy(n->etcd.revoked) : json_array();
    json_array_extend(revoked, add);
    if (etcdtrust_crl_sign(&n->etcd, revoked, &crl, &e2) < 0) {
        log_error("cannot sign etcd's CRL: %s", e2.msg);
        goto out;
    }
    json_t *rec = json_pack("{s:O, s:s}", "Serials", revoked, "CRL", crl);
    struct revoke_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->prev = n->etcd.revoked ? json_deep_copy(n->etcd.revoked) : json_array();
    node_commit_private(n, "etcdcrl", rec, crl_committed, c);
    json_decref(rec);
    json_decref(revoked);
    json_decref(add);
    json_decref(who);
    free(crl);
    return;
out:
    n->etcd_revoking = false;
    json_decref(revoked);
    json_decref(add);
    json_decref(who);
    free(crl);
}

void node_etcd_tick(struct node *n)
{
    struct err e;
    if (!n->have_dek)
        return;
    if (!n->etcd.ca_recorded) {
        /* a swarm from before the etcd CA (or the record of init not seen yet) */
        n->etcd.ca_recorded = true;
        if (!n->etcd.ca_cert && etcdtrust_ca_create(&n->etcd, n->dek, &e) < 0) {
            log_error("cannot create the swarm's etcd CA: %s", e.msg);
            return;
        }
        json_t *rec = json_pack("{s:s, s:s}", "Cert", n->etcd.ca_cert, "Key", n->etcd.ca_key);
        node_commit_private(n, "etcdca", rec, ca_committed, n);
        json_decref(rec);
        return;
    }
    if (n->etcd_revoking || !n->etcd.serials || !n->etcd.ca_key)
        return;
    /* the store alone first: etcd is asked for its members only when someone may go */
    size_t nh;
    struct etcdtrust_holder *h = holders(n, NULL, 0, &nh);
    json_t *add = etcdtrust_to_revoke(h, nh, n->etcd.revoked, NULL);
    free(h);
    bool any = json_array_size(add) > 0;
    json_decref(add);
    if (!any)
        return;
    n->etcd_revoking = true;
    state_member_list(n->st, got_members, n);
}
