/* repl.c — commits: store objects (and private records) sealed into etcd in one transaction
 * per call; see repl.h for the contract. */
#include "repl_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

struct repl *repl_new(uv_loop_t *loop, const struct repl_config *cfg)
{
    struct repl *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->cfg = *cfg;
    r->prefix = xstrdup(cfg->prefix);
    r->private_prefix = xstrdup(cfg->private_prefix);
    r->fence_key = xstrdup(cfg->fence_key);
    r->cfg.prefix = r->prefix;
    r->cfg.private_prefix = r->private_prefix;
    r->cfg.fence_key = r->fence_key;
    return r;
}

void repl_free(struct repl *r)
{
    if (!r)
        return;
    free(r->prefix);
    free(r->private_prefix);
    free(r->fence_key);
    free(r);
}

char *repl_object_key(const struct repl *r, enum store_kind k, const char *id)
{
    return xasprintf("%s%s/%s", r->prefix, store_kind_name(k), id);
}

struct commit_item {
    enum store_kind kind;
    json_t *obj; /* PUT: the object to apply on success; NULL: delete id */
    char *id;
};

/* One call in flight. It never points back at the repl: a repl freed meanwhile (the store
 * stopping) is never touched by a late callback. */
struct commit_ctx {
    struct store *store; /* NULL: a private record (nothing to apply) */
    struct state *st;
    struct commit_item *items;
    size_t n_items;
    store_commit_cb cb;
    void *arg;
    uv_timer_t timer; /* refusals found before anything was sent */
    struct err e;
};

static void commit_free(struct commit_ctx *c)
{
    for (size_t i = 0; i < c->n_items; i++) {
        json_decref(c->items[i].obj);
        free(c->items[i].id);
    }
    free(c->items);
    free(c);
}

static void refused_closed(uv_handle_t *h)
{
    commit_free(h->data);
}

static void refused_fire(uv_timer_t *t)
{
    struct commit_ctx *c = t->data;
    c->cb(c->arg, -c->e.kind, &c->e);
    uv_close((uv_handle_t *)t, refused_closed);
}

/* Delivers c->e later, from a zero timer. */
static void refuse_later(uv_loop_t *loop, struct commit_ctx *c)
{
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, refused_fire, 0, 0);
}

static void commit_done(void *data, int rc, int64_t revision, struct err *e)
{
    struct commit_ctx *c = data;
    if (rc == -ERR_UNAVAILABLE && !state_has_leader(c->st)) /* Docker's words */
        err_set(e, ERR_UNAVAILABLE,
                "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible "
                "that too few managers are online. Make sure more than half of the managers are "
                "online.");
    /* Our own writes are applied at once (a reader sees them before the feed brings
     * them), unless the feed already went past this revision: then it applied them, and
     * perhaps later changes too (a task deleted since), which a late apply would undo
     * (a deleted task came back as a ghost no commit could remove). */
    if (rc == 0 && c->store && store_fed_revision(c->store) < (uint64_t)revision) {
        for (size_t i = 0; i < c->n_items; i++) {
            struct commit_item *it = &c->items[i];
            if (it->obj) {
                json_object_set_new(it->obj, "Version",
                                    json_pack("{s:I}", "Index", (json_int_t)revision));
                store_apply_put(c->store, it->kind, it->obj);
                it->obj = NULL;
            } else {
                store_apply_delete(c->store, it->kind, it->id, (uint64_t)revision);
            }
        }
    }
    if (c->cb)
        c->cb(c->arg, rc, rc ? e : NULL);
    commit_free(c);
}

static bool writable(struct repl *r, struct err *e)
{
    if (!state_available(r->cfg.st)) {
        err_set(e, ERR_UNAVAILABLE, "the swarm's store is unavailable: %s",
                state_unavailable_reason(r->cfg.st));
        return false;
    }
    return true;
}

/* Encodes and seals one value into *sealed; 0 or < 0 with e. */
static int seal_value(struct repl *r, json_t *obj, const char *what, size_t *total,
                      struct buf *sealed, struct err *e)
{
    char *plain = store_json_encode(obj, e);
    if (!plain) {
        log_warn("refusing to write %s: %s", what, e->msg);
        return -e->kind;
    }
    size_t len = strlen(plain);
    *total += len;
    if (len > REPL_MAX_OBJECT_BYTES || *total > 2 * REPL_MAX_OBJECT_BYTES) {
        log_info("refused to write %s of %zu bytes (%zu in the transaction)", what, len, *total);
        free(plain);
        return err_set(e, ERR_INTERNAL, REPL_MSG_TOO_LARGE);
    }
    ca_seal(r->cfg.dek, plain, len, sealed);
    free(plain);
    return 0;
}

static void commit(struct repl *r, bool fenced, int64_t fence_rev, const struct store_write *w,
                   size_t nw, store_commit_cb cb, void *arg)
{
    struct commit_ctx *c = xcalloc(1, sizeof(*c));
    c->store = r->cfg.store;
    c->st = r->cfg.st;
    c->cb = cb;
    c->arg = arg;
    c->items = xcalloc(nw ? nw : 1, sizeof(*c->items));
    if (fenced && fence_rev <= 0) {
        err_set(&c->e, ERR_UNAVAILABLE, "this manager is not the leader");
        refuse_later(r->loop, c);
        return;
    }
    if (nw == 0 || nw > REPL_BATCH_MAX) {
        err_set(&c->e, ERR_INVALID, "a transaction holds 1 to %d writes, not %zu", REPL_BATCH_MAX,
                nw);
        refuse_later(r->loop, c);
        return;
    }
    if (!writable(r, &c->e)) {
        refuse_later(r->loop, c);
        return;
    }
    struct state_op *ops = xcalloc(nw + 1, sizeof(*ops));
    struct buf *sealed = xcalloc(nw, sizeof(*sealed));
    char **keys = xcalloc(nw, sizeof(*keys));
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < nw && rc == 0; i++) {
        struct commit_item *it = &c->items[i];
        it->kind = w[i].kind;
        c->n_items = i + 1;
        if (!w[i].obj) {
            it->id = xstrdup(w[i].id ? w[i].id : "");
            keys[i] = repl_object_key(r, it->kind, it->id);
            ops[i] = (struct state_op){STATE_OP_DELETE, keys[i], NULL, 0,
                                       w[i].expect_version ? (int64_t)w[i].expect_version
                                                           : STATE_ANY_REVISION};
            continue;
        }
        const char *id = store_json_str(w[i].obj, "ID");
        if (!id || !*id) {
            rc =
                err_set(&c->e, ERR_INVALID, "a %s object without an ID", store_kind_name(it->kind));
            break;
        }
        it->obj = json_deep_copy(w[i].obj);
        json_object_del(it->obj, "Version");
        char what[64];
        snprintf(what, sizeof(what), "a %s object", store_kind_name(it->kind));
        if ((rc = seal_value(r, it->obj, what, &total, &sealed[i], &c->e)) < 0)
            break;
        keys[i] = repl_object_key(r, it->kind, id);
        ops[i] = (struct state_op){STATE_OP_PUT, keys[i], sealed[i].p, sealed[i].len,
                                   (int64_t)w[i].expect_version};
    }
    if (rc == 0) {
        size_t nops = nw;
        if (fenced)
            ops[nops++] = (struct state_op){STATE_OP_CHECK, r->fence_key, NULL, 0, fence_rev};
        state_txn(r->cfg.st, ops, nops, commit_done, c);
    }
    for (size_t i = 0; i < nw; i++) {
        buf_release(&sealed[i]);
        free(keys[i]);
    }
    free(sealed);
    free(keys);
    free(ops);
    if (rc != 0)
        refuse_later(r->loop, c);
}

void repl_commit(void *ctx, const struct store_write *w, size_t n, store_commit_cb cb, void *arg)
{
    commit(ctx, false, 0, w, n, cb, arg);
}

void repl_commit_fenced(struct repl *r, int64_t fence_rev, const struct store_write *w, size_t n,
                        store_commit_cb cb, void *arg)
{
    commit(r, true, fence_rev, w, n, cb, arg);
}

void repl_put_private(struct repl *r, const char *name, json_t *rec, store_commit_cb cb, void *arg)
{
    struct commit_ctx *c = xcalloc(1, sizeof(*c));
    c->st = r->cfg.st;
    c->cb = cb;
    c->arg = arg;
    struct buf sealed = BUF_INIT;
    size_t total = 0;
    char *what = xasprintf("the record %s", name);
    int rc = writable(r, &c->e) ? seal_value(r, rec, what, &total, &sealed, &c->e) : -1;
    free(what);
    if (rc < 0) {
        buf_release(&sealed);
        refuse_later(r->loop, c);
        return;
    }
    char *key = xasprintf("%s%s", r->private_prefix, name);
    struct state_op op = {STATE_OP_PUT, key, sealed.p, sealed.len, STATE_ANY_REVISION};
    state_txn(r->cfg.st, &op, 1, commit_done, c);
    free(key);
    buf_release(&sealed);
}
