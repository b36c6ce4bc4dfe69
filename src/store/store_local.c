/* store_local.c — a committer straight into a plain store (no etcd), for unit tests and
 * simulations of the leader's loops. It keeps the contract of store_commit_fn: callbacks
 * never run inside the commit call; each commit applies all of its writes or none (compares
 * checked when it runs, against the store as it is then). Thread: one. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

struct local_commit {
    struct store_write *w;
    size_t n;
    store_commit_cb cb;
    void *arg;
    struct local_commit *next;
};

struct store_local {
    struct store *s;
    struct local_commit *head, **tail;
    int fail_next;
    size_t ran;
};

struct store_local *store_local_new(struct store *s)
{
    struct store_local *l = xcalloc(1, sizeof(*l));
    l->s = s;
    l->tail = &l->head;
    return l;
}

static void commit_free(struct local_commit *c)
{
    for (size_t i = 0; i < c->n; i++) {
        json_decref(c->w[i].obj);
        free((char *)c->w[i].id);
    }
    free(c->w);
    free(c);
}

void store_local_free(struct store_local *l)
{
    if (!l)
        return;
    while (l->head) {
        struct local_commit *c = l->head;
        l->head = c->next;
        commit_free(c);
    }
    free(l);
}

void store_local_commit(void *ctx, const struct store_write *w, size_t n, store_commit_cb cb,
                        void *arg)
{
    struct store_local *l = ctx;
    struct local_commit *c = xcalloc(1, sizeof(*c));
    c->w = xcalloc(n ? n : 1, sizeof(*c->w));
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        c->w[i] = w[i];
        c->w[i].obj = w[i].obj ? json_deep_copy(w[i].obj) : NULL;
        const char *id = w[i].obj ? store_json_str(w[i].obj, "ID") : w[i].id;
        c->w[i].id = xstrdup(id ? id : "");
    }
    c->cb = cb;
    c->arg = arg;
    *l->tail = c;
    l->tail = &c->next;
}

/* 0 if every compare of c holds now. */
static int check(struct store_local *l, struct local_commit *c, struct err *e)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct store_write *w = &c->w[i];
        json_t *cur = store_get(l->s, w->kind, w->id);
        if (w->obj && !w->expect_version && cur)
            return err_set(e, ERR_INTERNAL, ERR_MSG_OUT_OF_SEQUENCE);
        if (w->expect_version && (!cur || store_obj_version(cur) != w->expect_version))
            return err_set(e, ERR_INTERNAL, ERR_MSG_OUT_OF_SEQUENCE);
    }
    return 0;
}

size_t store_local_run(struct store_local *l)
{
    size_t ran = 0;
    while (l->head) {
        struct local_commit *c = l->head;
        l->head = c->next;
        if (!l->head)
            l->tail = &l->head;
        struct err e = {0};
        int rc = 0;
        if (l->fail_next > 0) {
            l->fail_next--;
            rc = err_set(&e, ERR_UNAVAILABLE, "the swarm's store is unavailable (test)");
        } else {
            rc = check(l, c, &e);
        }
        if (rc == 0) {
            uint64_t rev = store_revision(l->s) + 1;
            for (size_t i = 0; i < c->n; i++) {
                if (c->w[i].obj) {
                    json_t *o = c->w[i].obj;
                    c->w[i].obj = NULL;
                    json_object_set_new(o, "Version", json_pack("{s:I}", "Index", (json_int_t)rev));
                    store_apply_put(l->s, c->w[i].kind, o);
                } else {
                    store_apply_delete(l->s, c->w[i].kind, c->w[i].id, rev);
                }
            }
        }
        l->ran++;
        ran++;
        if (c->cb)
            c->cb(c->arg, rc, rc ? &e : NULL);
        commit_free(c);
    }
    return ran;
}

void store_local_fail_next(struct store_local *l, int n)
{
    l->fail_next = n;
}

size_t store_local_commits(const struct store_local *l)
{
    return l->ran;
}
