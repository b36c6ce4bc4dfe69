/* node_batch.c — the leader's batched commits: many store objects in one fenced etcd
 * transaction (the store_commit_fn the leader's loops write through). Every value is
 * encoded with the store's codec and sealed with the data key; the transaction carries a
 * compare per object (its expected version) and one on the election key, so a deposed leader
 * writes nothing. The callback always runs later on the loop: refusals found before anything
 * is sent (not leading, store unavailable, a value that would not read back, too many or too
 * large objects) are delivered from a zero timer. On success every object is in the store,
 * with the transaction's revision as its Version.Index, before the callback runs.
 * Thread: the loop thread. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

struct batch_item {
    enum store_kind kind;
    json_t *obj; /* PUT: the object to apply on success; NULL: delete id */
    char *id;
};

struct batch_ctx {
    struct node *n;
    struct batch_item *items;
    size_t n_items;
    store_commit_cb cb;
    void *arg;
    uv_timer_t timer; /* deferred refusals */
    struct err e;
};

static void batch_free(struct batch_ctx *b)
{
    for (size_t i = 0; i < b->n_items; i++) {
        json_decref(b->items[i].obj);
        free(b->items[i].id);
    }
    free(b->items);
    free(b);
}

static void deferred_closed(uv_handle_t *h)
{
    batch_free(h->data);
}

static void deferred_fire(uv_timer_t *t)
{
    struct batch_ctx *b = t->data;
    b->cb(b->arg, -b->e.kind, &b->e);
    uv_close((uv_handle_t *)t, deferred_closed);
}

static void refuse_later(struct batch_ctx *b)
{
    uv_timer_init(b->n->loop, &b->timer);
    b->timer.data = b;
    uv_timer_start(&b->timer, deferred_fire, 0, 0);
}

static void batch_done(void *data, int rc, int64_t revision, struct err *e)
{
    struct batch_ctx *b = data;
    struct node *n = b->n;
    if (rc == -ERR_UNAVAILABLE && n->st && !state_has_leader(n->st)) /* Docker's words */
        err_set(e, ERR_UNAVAILABLE,
                "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible "
                "that too few managers are online. Make sure more than half of the managers are "
                "online.");
    if (rc == 0) {
        for (size_t i = 0; i < b->n_items; i++) {
            struct batch_item *it = &b->items[i];
            if (it->obj) {
                json_object_set_new(it->obj, "Version",
                                    json_pack("{s:I}", "Index", (json_int_t)revision));
                store_apply_put(n->store, it->kind, it->obj);
                it->obj = NULL;
            } else {
                store_apply_delete(n->store, it->kind, it->id, (uint64_t)revision);
            }
        }
    }
    b->cb(b->arg, rc, rc ? e : NULL);
    batch_free(b);
}

void node_commit_batch(void *ctx, const struct store_write *w, size_t nw, store_commit_cb cb,
                       void *arg)
{
    struct node *n = ctx;
    struct batch_ctx *b = xcalloc(1, sizeof(*b));
    b->n = n;
    b->cb = cb;
    b->arg = arg;
    b->items = xcalloc(nw ? nw : 1, sizeof(*b->items));
    if (!node_is_leader(n) || !n->leader_rev) {
        err_set(&b->e, ERR_UNAVAILABLE, "this manager is not the leader");
        refuse_later(b);
        return;
    }
    if (nw == 0 || nw > NODE_BATCH_MAX) {
        err_set(&b->e, ERR_INVALID, "a batch holds 1 to %d writes, not %zu", NODE_BATCH_MAX, nw);
        refuse_later(b);
        return;
    }
    if (!node_store_writable(n, &b->e)) {
        refuse_later(b);
        return;
    }
    struct state_op *ops = xcalloc(nw + 1, sizeof(*ops));
    struct buf *sealed = xcalloc(nw, sizeof(*sealed));
    char **keys = xcalloc(nw, sizeof(*keys));
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < nw && rc == 0; i++) {
        struct batch_item *it = &b->items[i];
        it->kind = w[i].kind;
        b->n_items = i + 1;
        if (!w[i].obj) {
            it->id = xstrdup(w[i].id ? w[i].id : "");
            keys[i] = node_object_key(it->kind, it->id);
            ops[i] = (struct state_op){STATE_OP_DELETE, keys[i], NULL, 0,
                                       w[i].expect_version ? (int64_t)w[i].expect_version
                                                           : STATE_ANY_REVISION};
            continue;
        }
        const char *id = store_json_str(w[i].obj, "ID");
        if (!id || !*id) {
            rc =
                err_set(&b->e, ERR_INVALID, "a %s object without an ID", store_kind_name(it->kind));
            break;
        }
        it->obj = json_deep_copy(w[i].obj);
        json_object_del(it->obj, "Version");
        char *plain = store_json_encode(it->obj, &b->e);
        if (!plain) {
            log_warn("refusing to write a %s object: %s", store_kind_name(it->kind), b->e.msg);
            rc = -b->e.kind;
            break;
        }
        size_t len = strlen(plain);
        total += len;
        if (len > NODE_MAX_OBJECT_BYTES || total > 2 * NODE_MAX_OBJECT_BYTES) {
            log_info("refused a batch with a %s object of %zu bytes (%zu in all)",
                     store_kind_name(it->kind), len, total);
            free(plain);
            rc = err_set(&b->e, ERR_INTERNAL, NODE_MSG_TOO_LARGE);
            break;
        }
        ca_seal(n->dek, plain, len, &sealed[i]);
        free(plain);
        keys[i] = node_object_key(it->kind, id);
        ops[i] = (struct state_op){STATE_OP_PUT, keys[i], sealed[i].p, sealed[i].len,
                                   (int64_t)w[i].expect_version};
    }
    if (rc == 0) {
        ops[nw] = (struct state_op){STATE_OP_CHECK, NODE_LEADER_KEY, NULL, 0, n->leader_rev};
        state_txn(n->st, ops, nw + 1, batch_done, b);
    }
    for (size_t i = 0; i < nw; i++) {
        buf_release(&sealed[i]);
        free(keys[i]);
    }
    free(sealed);
    free(keys);
    free(ops);
    if (rc != 0)
        refuse_later(b);
}
