/* test_store.c — unit tests for the store: tables, lookups, versions, order, watch queue,
 * JSON path helpers, and a bulk check of the prefix index against brute force. */
#include "harness.h"
#include "store/store.h"

/* An object shaped like the Engine API's: ID, Version.Index, optional CreatedAt and Spec.Name. */
static json_t *mk(const char *id, uint64_t ver, const char *created, const char *name)
{
    json_t *o = json_pack("{s:s, s:{s:I}}", "ID", id, "Version", "Index", (json_int_t)ver);
    if (created)
        json_object_set_new(o, "CreatedAt", json_string(created));
    if (name)
        json_object_set_new(o, "Spec", json_pack("{s:s}", "Name", name));
    return o;
}

static json_t *mk_node(const char *id, uint64_t ver, const char *spec_name, const char *host)
{
    json_t *o = mk(id, ver, NULL, spec_name);
    if (!spec_name)
        json_object_set_new(o, "Spec", json_object());
    json_object_set_new(o, "Description", json_pack("{s:s}", "Hostname", host));
    return o;
}

static const char *find_id(struct store *s, enum store_kind k, const char *ref)
{
    struct err e = {0};
    json_t *o = store_find(s, k, ref, &e);
    if (!o)
        return NULL;
    ASSERT_EQ_INT(e.kind, ERR_NONE);
    return store_json_str(o, "ID");
}

TEST(store_kind_names)
{
    ASSERT_EQ_STR(store_kind_name(STORE_NODE), "node");
    ASSERT_EQ_STR(store_kind_name(STORE_CONFIG), "config");
    for (int k = 0; k < STORE_NKINDS; k++)
        ASSERT_EQ_INT(store_kind_parse(store_kind_name(k)), k);
    ASSERT_EQ_INT(store_kind_parse("nodes"), -1);
    ASSERT_EQ_INT(store_kind_parse(NULL), -1);
}

TEST(store_put_get)
{
    struct store *s = store_new();
    ASSERT_EQ_INT(store_revision(s), 0);
    ASSERT_NULL(store_get(s, STORE_SERVICE, "s1"));
    json_t *o = mk("s1", 7, NULL, "web");
    store_apply_put(s, STORE_SERVICE, o);
    ASSERT_TRUE(store_get(s, STORE_SERVICE, "s1") == o);
    ASSERT_NULL(store_get(s, STORE_NODE, "s1")); /* kinds are separate tables */
    ASSERT_NULL(store_get(s, STORE_SERVICE, "s"));
    ASSERT_NULL(store_get(s, STORE_SERVICE, NULL));
    ASSERT_EQ_INT(store_count(s, STORE_SERVICE), 1);
    ASSERT_EQ_INT(store_count(s, STORE_NODE), 0);
    ASSERT_EQ_INT(store_revision(s), 7);
    ASSERT_EQ_INT(store_obj_version(store_get(s, STORE_SERVICE, "s1")), 7);
    store_free(s);
    store_free(NULL);
}

TEST(store_replace_newer)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_SERVICE, mk("s1", 3, NULL, "web"));
    json_t *o2 = mk("s1", 4, NULL, "api");
    store_apply_put(s, STORE_SERVICE, o2);
    ASSERT_TRUE(store_get(s, STORE_SERVICE, "s1") == o2);
    ASSERT_EQ_INT(store_count(s, STORE_SERVICE), 1);
    ASSERT_EQ_INT(store_revision(s), 4);
    /* the name index follows the rename */
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "api"), "s1");
    struct err e = {0};
    ASSERT_NULL(store_find(s, STORE_SERVICE, "web", &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
    store_free(s);
}

TEST(store_older_version_ignored)
{
    struct store *s = store_new();
    json_t *o = mk("s1", 5, NULL, "web");
    store_apply_put(s, STORE_SERVICE, o);
    store_apply_put(s, STORE_SERVICE, mk("s1", 3, NULL, "old"));
    ASSERT_TRUE(store_get(s, STORE_SERVICE, "s1") == o);
    store_apply_put(s, STORE_SERVICE, mk("s1", 5, NULL, "same")); /* a replay */
    ASSERT_TRUE(store_get(s, STORE_SERVICE, "s1") == o);
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "web"), "s1");
    ASSERT_NULL(find_id(s, STORE_SERVICE, "old"));
    ASSERT_EQ_INT(store_revision(s), 5);
    ASSERT_EQ_INT(store_count(s, STORE_SERVICE), 1);
    store_free(s);
}

TEST(store_find_by_id_name_prefix)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_SERVICE, mk("abc", 1, NULL, "web"));
    store_apply_put(s, STORE_SERVICE, mk("abcd", 2, NULL, "abc1"));
    store_apply_put(s, STORE_SERVICE, mk("abc1zz", 3, NULL, "db"));
    store_apply_put(s, STORE_SERVICE, mk("xyz", 4, NULL, "abcd"));
    /* exact ID beats a prefix match ("abc" is a prefix of three IDs) */
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "abc"), "abc");
    /* exact ID beats a name ("abcd" is also xyz's name) */
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "abcd"), "abcd");
    /* name beats a prefix ("abc1" is a prefix of abc1zz and the name of abcd) */
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "abc1"), "abcd");
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "web"), "abc");
    /* unique prefixes */
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "x"), "xyz");
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "abc1z"), "abc1zz");
    /* ambiguous prefix: message and kind */
    struct err e = {0};
    ASSERT_NULL(store_find(s, STORE_SERVICE, "ab", &e));
    ASSERT_EQ_INT(e.kind, ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "service ab is ambiguous (3 matches found)");
    err_clear(&e);
    ASSERT_NULL(store_find(s, STORE_SERVICE, "a", &e));
    ASSERT_EQ_STR(e.msg, "service a is ambiguous (3 matches found)");
    /* a longer ref than any ID */
    err_clear(&e);
    ASSERT_NULL(store_find(s, STORE_SERVICE, "abcde", &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "service abcde not found");
    store_free(s);
}

TEST(store_find_node_names)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_NODE, mk_node("n1", 1, "alpha", "host1"));
    store_apply_put(s, STORE_NODE, mk_node("n2", 2, NULL, "host2"));
    store_apply_put(s, STORE_NODE, mk_node("n3", 3, "", "host3"));
    ASSERT_EQ_STR(find_id(s, STORE_NODE, "alpha"), "n1");
    ASSERT_EQ_STR(find_id(s, STORE_NODE, "host2"), "n2");
    ASSERT_EQ_STR(find_id(s, STORE_NODE, "host3"), "n3"); /* empty Spec.Name: hostname */
    /* Spec.Name takes precedence: n1's hostname is not one of its names */
    struct err e = {0};
    ASSERT_NULL(store_find(s, STORE_NODE, "host1", &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "node host1 not found");
    /* giving n2 a Spec.Name moves it off its hostname */
    store_apply_put(s, STORE_NODE, mk_node("n2", 4, "beta", "host2"));
    ASSERT_NULL(find_id(s, STORE_NODE, "host2"));
    ASSERT_EQ_STR(find_id(s, STORE_NODE, "beta"), "n2");
    store_free(s);
}

TEST(store_find_ambiguous_name)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_NODE, mk_node("n1", 1, NULL, "box"));
    store_apply_put(s, STORE_NODE, mk_node("n2", 2, NULL, "box"));
    struct err e = {0};
    ASSERT_NULL(store_find(s, STORE_NODE, "box", &e));
    ASSERT_EQ_INT(e.kind, ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "node box is ambiguous (2 matches found)");
    store_apply_delete(s, STORE_NODE, "n1", 3);
    ASSERT_EQ_STR(find_id(s, STORE_NODE, "box"), "n2");
    store_free(s);
}

TEST(store_find_not_found)
{
    struct store *s = store_new();
    struct err e = {0};
    ASSERT_NULL(store_find(s, STORE_NODE, "nosuchnode", &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "node nosuchnode not found");
    store_apply_put(s, STORE_NETWORK, mk("net1", 1, NULL, "ingress"));
    /* the empty ref is not a prefix of everything */
    err_clear(&e);
    ASSERT_NULL(store_find(s, STORE_NETWORK, "", &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
    /* tasks have no names, even if a Spec.Name is present */
    store_apply_put(s, STORE_TASK, mk("t1", 2, NULL, "mytask"));
    err_clear(&e);
    ASSERT_NULL(store_find(s, STORE_TASK, "mytask", &e));
    ASSERT_EQ_STR(e.msg, "task mytask not found");
    ASSERT_EQ_STR(find_id(s, STORE_TASK, "t"), "t1");
    ASSERT_EQ_STR(find_id(s, STORE_NETWORK, "ingress"), "net1");
    store_free(s);
}

TEST(store_prefix_keys_nested)
{
    /* IDs that are prefixes of each other exercise the crit-bit tree's NUL handling */
    struct store *s = store_new();
    store_apply_put(s, STORE_SECRET, mk("ab", 1, NULL, NULL));
    store_apply_put(s, STORE_SECRET, mk("abc", 2, NULL, NULL));
    store_apply_put(s, STORE_SECRET, mk("abd", 3, NULL, NULL));
    store_apply_put(s, STORE_SECRET, mk("b", 4, NULL, NULL));
    ASSERT_EQ_STR(find_id(s, STORE_SECRET, "ab"), "ab");
    ASSERT_EQ_STR(find_id(s, STORE_SECRET, "abc"), "abc");
    struct err e = {0};
    ASSERT_NULL(store_find(s, STORE_SECRET, "a", &e));
    ASSERT_EQ_STR(e.msg, "secret a is ambiguous (3 matches found)");
    store_apply_delete(s, STORE_SECRET, "ab", 5);
    err_clear(&e);
    ASSERT_NULL(store_find(s, STORE_SECRET, "ab", &e));
    ASSERT_EQ_STR(e.msg, "secret ab is ambiguous (2 matches found)");
    store_apply_delete(s, STORE_SECRET, "abc", 6);
    ASSERT_EQ_STR(find_id(s, STORE_SECRET, "a"), "abd");
    ASSERT_EQ_STR(find_id(s, STORE_SECRET, "b"), "b");
    store_apply_delete(s, STORE_SECRET, "abd", 7);
    store_apply_delete(s, STORE_SECRET, "b", 8);
    ASSERT_NULL(find_id(s, STORE_SECRET, "a"));
    ASSERT_EQ_INT(store_count(s, STORE_SECRET), 0);
    store_free(s);
}

TEST(store_delete_and_revision)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_CONFIG, mk("c1", 2, NULL, "cfg"));
    store_apply_put(s, STORE_CONFIG, mk("c2", 3, NULL, "cfg2"));
    ASSERT_EQ_INT(store_count(s, STORE_CONFIG), 2);
    store_apply_delete(s, STORE_CONFIG, "c1", 4);
    ASSERT_NULL(store_get(s, STORE_CONFIG, "c1"));
    ASSERT_NULL(find_id(s, STORE_CONFIG, "cfg"));
    ASSERT_EQ_STR(find_id(s, STORE_CONFIG, "c"), "c2"); /* prefix now unique */
    ASSERT_EQ_INT(store_count(s, STORE_CONFIG), 1);
    ASSERT_EQ_INT(store_revision(s), 4);
    /* unknown IDs: no-op, but the revision advances */
    store_apply_delete(s, STORE_CONFIG, "nope", 9);
    ASSERT_EQ_INT(store_count(s, STORE_CONFIG), 1);
    ASSERT_EQ_INT(store_revision(s), 9);
    /* an older put or delete never moves the revision back */
    store_apply_put(s, STORE_CONFIG, mk("c3", 6, NULL, NULL));
    store_apply_delete(s, STORE_CONFIG, "c3", 7);
    ASSERT_EQ_INT(store_revision(s), 9);
    ASSERT_EQ_INT(store_count(s, STORE_CONFIG), 1);
    /* the same ID may come back */
    store_apply_put(s, STORE_CONFIG, mk("c1", 10, NULL, "cfg"));
    ASSERT_EQ_STR(find_id(s, STORE_CONFIG, "cfg"), "c1");
    ASSERT_EQ_INT(store_revision(s), 10);
    store_free(s);
}

struct collect {
    char ids[64][16];
    int n, stop_after;
};

static int collect_cb(json_t *obj, void *data)
{
    struct collect *c = data;
    snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", store_json_str(obj, "ID"));
    c->n++;
    return c->stop_after && c->n == c->stop_after ? 42 : 0;
}

static char *joined(struct collect *c)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < c->n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", c->ids[i]);
    return b.p ? b.p : xstrdup("");
}

#define ASSERT_ORDER(c, want)                                                                      \
    do {                                                                                           \
        char *got_ = joined(c);                                                                    \
        ASSERT_EQ_STR(got_, want);                                                                 \
        free(got_);                                                                                \
    } while (0)

TEST(store_foreach_order)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_TASK, mk("t3", 1, "2026-01-01T00:00:03.000000000Z", NULL));
    store_apply_put(s, STORE_TASK, mk("t1", 2, "2026-01-01T00:00:01.000000000Z", NULL));
    store_apply_put(s, STORE_TASK, mk("tb", 3, "2026-01-01T00:00:02.000000000Z", NULL));
    store_apply_put(s, STORE_TASK, mk("ta", 4, "2026-01-01T00:00:02.000000000Z", NULL));
    store_apply_put(s, STORE_TASK, mk("t0", 5, NULL, NULL)); /* no CreatedAt: last */
    /* a sub-second difference written with fewer digits still orders by time */
    store_apply_put(s, STORE_TASK, mk("tf", 6, "2026-01-01T00:00:01.5Z", NULL));
    struct collect c = {0};
    ASSERT_EQ_INT(store_foreach(s, STORE_TASK, collect_cb, &c), 0);
    ASSERT_ORDER(&c, "t1 tf ta tb t3 t0");

    /* in-order appends after a sort, then an out-of-order one */
    store_apply_put(s, STORE_TASK, mk("t9", 7, "2027-01-01T00:00:00.000000000Z", NULL));
    memset(&c, 0, sizeof(c));
    store_foreach(s, STORE_TASK, collect_cb, &c);
    ASSERT_ORDER(&c, "t1 tf ta tb t3 t9 t0");
    store_apply_put(s, STORE_TASK, mk("t00", 8, "2025-01-01T00:00:00.000000000Z", NULL));
    store_apply_delete(s, STORE_TASK, "tb", 9);
    /* an update keeps the object's place */
    store_apply_put(s, STORE_TASK, mk("t1", 10, "2026-01-01T00:00:01.000000000Z", NULL));
    memset(&c, 0, sizeof(c));
    store_foreach(s, STORE_TASK, collect_cb, &c);
    ASSERT_ORDER(&c, "t00 t1 tf ta t3 t9 t0");

    /* an update that changes CreatedAt moves the object */
    store_apply_put(s, STORE_TASK, mk("t9", 11, "2024-01-01T00:00:00.000000000Z", NULL));
    memset(&c, 0, sizeof(c));
    store_foreach(s, STORE_TASK, collect_cb, &c);
    ASSERT_ORDER(&c, "t9 t00 t1 tf ta t3 t0");

    /* early stop returns the callback's value */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    ASSERT_EQ_INT(store_foreach(s, STORE_TASK, collect_cb, &c), 42);
    ASSERT_ORDER(&c, "t9 t00");
    /* an empty kind */
    memset(&c, 0, sizeof(c));
    ASSERT_EQ_INT(store_foreach(s, STORE_SECRET, collect_cb, &c), 0);
    ASSERT_EQ_INT(c.n, 0);
    store_free(s);
}

struct mutate {
    struct store *s;
    struct collect c;
};

static int mutate_cb(json_t *obj, void *data)
{
    struct mutate *m = data;
    /* obj is borrowed: deleting it below frees it, so read what we need first */
    bool is_a = !strcmp(store_json_str(obj, "ID"), "a");
    bool is_b = !strcmp(store_json_str(obj, "ID"), "b");
    collect_cb(obj, &m->c);
    if (is_a) {
        store_apply_delete(m->s, STORE_TASK, "a", 10); /* itself */
        store_apply_delete(m->s, STORE_TASK, "c", 11); /* one not yet visited */
        store_apply_put(m->s, STORE_TASK, mk("z", 12, "2020-01-01T00:00:00Z", NULL));
        store_apply_put(m->s, STORE_TASK, mk("b", 13, "2026-01-01T00:00:02Z", NULL));
        /* a nested walk sees the current state, sorted */
        struct collect inner = {0};
        store_foreach(m->s, STORE_TASK, collect_cb, &inner);
        ASSERT_ORDER(&inner, "z b d");
    }
    if (is_b)
        ASSERT_EQ_INT(store_obj_version(obj), 13); /* the current version */
    return 0;
}

TEST(store_foreach_mutation)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_TASK, mk("a", 1, "2026-01-01T00:00:01Z", NULL));
    store_apply_put(s, STORE_TASK, mk("b", 2, "2026-01-01T00:00:02Z", NULL));
    store_apply_put(s, STORE_TASK, mk("c", 3, "2026-01-01T00:00:03Z", NULL));
    store_apply_put(s, STORE_TASK, mk("d", 4, "2026-01-01T00:00:04Z", NULL));
    struct mutate m = {.s = s};
    store_foreach(s, STORE_TASK, mutate_cb, &m);
    /* created during the walk: not visited; deleted: skipped */
    ASSERT_ORDER(&m.c, "a b d");
    memset(&m.c, 0, sizeof(m.c));
    store_foreach(s, STORE_TASK, collect_cb, &m.c);
    ASSERT_ORDER(&m.c, "z b d");
    ASSERT_EQ_INT(store_count(s, STORE_TASK), 3);
    store_free(s);
}

TEST(store_check_version)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_SERVICE, mk("s1", 12, NULL, "web"));
    struct err e = {0};
    ASSERT_EQ_INT(store_check_version(s, STORE_SERVICE, "s1", 12, &e), 0);
    ASSERT_EQ_INT(e.kind, ERR_NONE);
    ASSERT_EQ_INT(store_check_version(s, STORE_SERVICE, "s1", 11, &e), -ERR_INTERNAL);
    ASSERT_EQ_STR(e.msg, ERR_MSG_OUT_OF_SEQUENCE);
    err_clear(&e);
    ASSERT_EQ_INT(store_check_version(s, STORE_SERVICE, "s1", 13, &e), -ERR_INTERNAL);
    err_clear(&e);
    ASSERT_EQ_INT(store_check_version(s, STORE_SERVICE, "s2", 12, &e), -ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "service s2 not found");
    store_free(s);
}

/* ---- watch queue ---- */
struct wlog {
    struct store *s;
    struct buf b;
    struct store_watch *self, *added;
    struct wlog *child;
    int remove_self_at, add_at, put_at, calls;
};

static void wlog_cb(void *data, enum store_kind k, enum store_action a, json_t *old,
                    json_t *new_obj)
{
    struct wlog *l = data;
    static const char *acts[] = {"?", "create", "update", "remove"};
    l->calls++;
    buf_printf(&l->b, " %s %s %s:%llu>%llu;", acts[a], store_kind_name(k),
               store_json_str(old ? old : new_obj, "ID"),
               (unsigned long long)store_obj_version(old),
               (unsigned long long)store_obj_version(new_obj));
    if (old && new_obj)
        ASSERT_EQ_STR(store_json_str(old, "ID"), store_json_str(new_obj, "ID"));
    /* the change is already applied when watchers hear of it */
    if (new_obj)
        ASSERT_TRUE(store_get(l->s, k, store_json_str(new_obj, "ID")) == new_obj);
    else
        ASSERT_NULL(store_get(l->s, k, store_json_str(old, "ID")));
    if (l->calls == l->remove_self_at)
        store_watch_remove(l->s, l->self);
    if (l->calls == l->add_at)
        l->added = store_watch_add(l->s, 0, wlog_cb, l->child);
    if (l->calls == l->put_at)
        store_apply_put(l->s, STORE_SECRET, mk("nested", 100, NULL, NULL));
}

static char *wlog_take(struct wlog *l)
{
    char *p = l->b.p ? l->b.p : xstrdup("");
    buf_init(&l->b);
    return p;
}

#define ASSERT_LOG(l, want)                                                                        \
    do {                                                                                           \
        char *got_ = wlog_take(l);                                                                 \
        ASSERT_EQ_STR(got_, want);                                                                 \
        free(got_);                                                                                \
    } while (0)

TEST(store_watch_events)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_NODE, mk("before", 1, NULL, NULL)); /* not seen */
    struct wlog l = {.s = s};
    struct store_watch *w = store_watch_add(s, 0, wlog_cb, &l);
    store_apply_put(s, STORE_NODE, mk("n1", 2, NULL, NULL));
    store_apply_put(s, STORE_NODE, mk("n1", 3, NULL, NULL));
    store_apply_put(s, STORE_NODE, mk("n1", 3, NULL, NULL)); /* dropped: no event */
    store_apply_delete(s, STORE_NODE, "n1", 4);
    store_apply_delete(s, STORE_NODE, "n1", 5); /* unknown: no event */
    store_apply_put(s, STORE_TASK, mk("t1", 6, NULL, NULL));
    ASSERT_LOG(&l, " create node n1:0>2; update node n1:2>3; remove node n1:3>0; "
                   "create task t1:0>6;");
    store_clear(s); /* watchers are not called */
    ASSERT_EQ_INT(l.calls, 4);
    store_watch_remove(s, w);
    store_apply_put(s, STORE_NODE, mk("n2", 7, NULL, NULL));
    ASSERT_EQ_INT(l.calls, 4);
    store_free(s);
}

TEST(store_watch_mask)
{
    struct store *s = store_new();
    struct wlog tasks = {.s = s}, both = {.s = s};
    store_watch_add(s, 1u << STORE_TASK, wlog_cb, &tasks);
    store_watch_add(s, (1u << STORE_NODE) | (1u << STORE_SERVICE), wlog_cb, &both);
    store_apply_put(s, STORE_NODE, mk("n1", 1, NULL, NULL));
    store_apply_put(s, STORE_TASK, mk("t1", 2, NULL, NULL));
    store_apply_put(s, STORE_SERVICE, mk("s1", 3, NULL, NULL));
    store_apply_put(s, STORE_CONFIG, mk("c1", 4, NULL, NULL));
    ASSERT_LOG(&tasks, " create task t1:0>2;");
    ASSERT_LOG(&both, " create node n1:0>1; create service s1:0>3;");
    store_free(s); /* frees the remaining watchers */
}

TEST(store_watch_remove_inside_callback)
{
    struct store *s = store_new();
    struct wlog a = {.s = s, .remove_self_at = 1}, b = {.s = s}, c = {.s = s};
    a.self = store_watch_add(s, 0, wlog_cb, &a);
    b.self = store_watch_add(s, 0, wlog_cb, &b);
    c.self = store_watch_add(s, 0, wlog_cb, &c);
    /* b removes c (not yet called for this event) from inside its own callback */
    b.remove_self_at = 1;
    b.self = c.self;
    store_apply_put(s, STORE_NODE, mk("n1", 1, NULL, NULL));
    store_apply_put(s, STORE_NODE, mk("n2", 2, NULL, NULL));
    ASSERT_LOG(&a, " create node n1:0>1;");
    ASSERT_LOG(&b, " create node n1:0>1; create node n2:0>2;");
    ASSERT_EQ_INT(c.calls, 0);
    store_free(s);
}

TEST(store_watch_add_inside_callback)
{
    struct store *s = store_new();
    struct wlog child = {.s = s};
    struct wlog parent = {.s = s, .add_at = 1, .child = &child};
    store_watch_add(s, 0, wlog_cb, &parent);
    store_apply_put(s, STORE_NODE, mk("n1", 1, NULL, NULL));
    ASSERT_NOT_NULL(parent.added);
    ASSERT_EQ_INT(child.calls, 0); /* added during n1's delivery: does not see it */
    store_apply_put(s, STORE_NODE, mk("n2", 2, NULL, NULL));
    ASSERT_LOG(&parent, " create node n1:0>1; create node n2:0>2;");
    ASSERT_LOG(&child, " create node n2:0>2;");
    store_watch_remove(s, parent.added);
    store_apply_put(s, STORE_NODE, mk("n3", 3, NULL, NULL));
    ASSERT_EQ_INT(child.calls, 1);
    ASSERT_EQ_INT(parent.calls, 3);
    buf_release(&parent.b);
    store_free(s);
}

TEST(store_watch_nested_apply_order)
{
    /* a change applied from inside a callback reaches every watcher after the current one */
    struct store *s = store_new();
    struct wlog a = {.s = s, .put_at = 1}, b = {.s = s};
    store_watch_add(s, 0, wlog_cb, &a);
    store_watch_add(s, 0, wlog_cb, &b);
    /* b checks on n1's delivery that n1 is still current; "nested" is already applied */
    store_apply_put(s, STORE_NODE, mk("n1", 1, NULL, NULL));
    ASSERT_LOG(&a, " create node n1:0>1; create secret nested:0>100;");
    ASSERT_LOG(&b, " create node n1:0>1; create secret nested:0>100;");
    ASSERT_NOT_NULL(store_get(s, STORE_SECRET, "nested"));
    store_free(s);
}

static void count_cb(void *data, enum store_kind k, enum store_action a, json_t *old,
                     json_t *new_obj)
{
    (*(int *)data)++;
}

TEST(store_clear)
{
    struct store *s = store_new();
    int calls = 0;
    store_watch_add(s, 0, count_cb, &calls);
    store_apply_put(s, STORE_NODE, mk_node("n1", 1, NULL, "h1"));
    store_apply_put(s, STORE_SERVICE, mk("s1", 2, NULL, "web"));
    store_apply_put(s, STORE_TASK, mk("t1", 3, NULL, NULL));
    ASSERT_EQ_INT(calls, 3);
    store_clear(s);
    ASSERT_EQ_INT(calls, 3);
    ASSERT_EQ_INT(store_revision(s), 0);
    for (int k = 0; k < STORE_NKINDS; k++)
        ASSERT_EQ_INT(store_count(s, k), 0);
    ASSERT_NULL(store_get(s, STORE_NODE, "n1"));
    ASSERT_NULL(find_id(s, STORE_NODE, "h1"));
    ASSERT_NULL(find_id(s, STORE_SERVICE, "s"));
    /* usable again, and the watcher survives */
    store_apply_put(s, STORE_SERVICE, mk("s1", 1, NULL, "web"));
    ASSERT_EQ_STR(find_id(s, STORE_SERVICE, "web"), "s1");
    ASSERT_EQ_INT(store_revision(s), 1);
    ASSERT_EQ_INT(calls, 4);
    store_free(s);
}

TEST(store_json_helpers)
{
    json_t *o = json_pack("{s:{s:s, s:{s:{s:i}}}, s:i, s:[i], s:s}", "Spec", "Name", "web", "Deep",
                          "Er", "Est", 5, "Top", 1, "Arr", 1, "Str", "x");
    ASSERT_EQ_STR(store_json_str(o, "Spec.Name"), "web");
    ASSERT_EQ_INT(json_integer_value(store_json_path(o, "Spec.Deep.Er.Est")), 5);
    ASSERT_TRUE(store_json_path(o, "Spec") == json_object_get(o, "Spec"));
    ASSERT_EQ_INT(json_integer_value(store_json_path(o, "Top")), 1);
    ASSERT_NULL(store_json_path(o, "Spec.Missing"));
    ASSERT_NULL(store_json_path(o, "Nope.Name"));
    ASSERT_NULL(store_json_path(o, "Top.Name")); /* integer in the middle */
    ASSERT_NULL(store_json_path(o, "Str.Name")); /* string in the middle */
    ASSERT_NULL(store_json_path(o, "Arr.0"));    /* arrays are not walked */
    json_object_set_new(o, "", json_pack("{s:s}", "Name", "e"));
    ASSERT_NULL(store_json_path(o, "Spec..Name")); /* empty segment */
    ASSERT_NULL(store_json_path(o, ".Name"));      /* even with a "" key */
    ASSERT_NULL(store_json_path(o, "Spec."));
    ASSERT_NULL(store_json_path(o, ".Spec"));
    ASSERT_NULL(store_json_path(o, ""));
    ASSERT_NULL(store_json_path(NULL, "Spec"));
    ASSERT_NULL(store_json_str(o, "Top")); /* not a string */
    ASSERT_NULL(store_json_str(o, "Spec.Deep"));
    ASSERT_EQ_INT(store_obj_version(o), 0);
    json_object_set_new(o, "Version", json_pack("{s:I}", "Index", (json_int_t)1234567890123LL));
    ASSERT_EQ_INT(store_obj_version(o), 1234567890123LL);
    json_object_set_new(o, "Version", json_pack("{s:s}", "Index", "7"));
    ASSERT_EQ_INT(store_obj_version(o), 0);
    ASSERT_EQ_INT(store_obj_version(NULL), 0);
    json_decref(o);
}

/* ---- bulk: the prefix index against brute force ---- */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Matches of prefix p among sorted ids[0..n) (brute force by binary search bounds). */
static size_t brute_prefix(char **ids, size_t n, const char *p)
{
    size_t len = strlen(p), c = 0;
    for (size_t i = 0; i < n; i++)
        if (!strncmp(ids[i], p, len))
            c++;
    return c;
}

static void check_prefixes(struct store *s, char **ids, size_t n, size_t step)
{
    for (size_t i = 0; i < n; i += step) {
        /* shortest unique prefix: one more than the longest common prefix with a neighbour */
        size_t lcp = 0;
        for (int d = -1; d <= 1; d += 2) {
            if ((d < 0 && i == 0) || (d > 0 && i + 1 == n))
                continue;
            const char *o = ids[i + d];
            size_t l = 0;
            while (ids[i][l] && ids[i][l] == o[l])
                l++;
            if (l > lcp)
                lcp = l;
        }
        char pfx[ID_LEN + 1];
        snprintf(pfx, sizeof(pfx), "%.*s", (int)(lcp + 1), ids[i]);
        ASSERT_EQ_INT(brute_prefix(ids, n, pfx), 1);
        ASSERT_EQ_STR(find_id(s, STORE_TASK, pfx), ids[i]);
        if (lcp > 0) {
            pfx[lcp] = '\0';
            struct err e = {0};
            ASSERT_NULL(store_find(s, STORE_TASK, pfx, &e));
            char want[128];
            snprintf(want, sizeof(want), "task %s is ambiguous (%zu matches found)", pfx,
                     brute_prefix(ids, n, pfx));
            ASSERT_EQ_STR(e.msg, want);
            ASSERT_EQ_INT(e.kind, ERR_INVALID);
        }
    }
}

static int count_order_cb(json_t *obj, void *data)
{
    int64_t *prev = data, ns;
    ASSERT_EQ_INT(time_parse_rfc3339(store_json_str(obj, "CreatedAt"), &ns), 0);
    ASSERT_TRUE(ns >= prev[0]);
    prev[0] = ns;
    prev[1]++;
    return 0;
}

TEST_T(store_bulk_10000, 120)
{
    enum { N = 10000 };
    struct store *s = store_new();
    char **ids = xcalloc(N, sizeof(*ids));
    for (size_t i = 0; i < N; i++) {
        char id[ID_LEN + 1], created[40];
        id_new(id);
        ids[i] = xstrdup(id);
        /* creation times in a shuffled order */
        time_format_rfc3339(1700000000000000000LL + (int64_t)((i * 7919) % N) * 1000, created);
        store_apply_put(s, STORE_TASK, mk(id, i + 1, created, NULL));
    }
    ASSERT_EQ_INT(store_count(s, STORE_TASK), N);
    ASSERT_EQ_INT(store_revision(s), N);
    for (size_t i = 0; i < N; i++)
        ASSERT_EQ_STR(store_json_str(store_get(s, STORE_TASK, ids[i]), "ID"), ids[i]);
    qsort(ids, N, sizeof(*ids), cmp_str);
    check_prefixes(s, ids, N, 7);

    int64_t st[2] = {0, 0};
    store_foreach(s, STORE_TASK, count_order_cb, st);
    ASSERT_EQ_INT(st[1], N);

    /* delete two of every three (tombstones outnumber live entries: compaction runs); the
     * indexes must stay exact */
    size_t m = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 3) {
            store_apply_delete(s, STORE_TASK, ids[i], N + 1 + i);
            free(ids[i]);
        } else {
            ids[m++] = ids[i];
        }
    }
    ASSERT_EQ_INT(store_count(s, STORE_TASK), m);
    check_prefixes(s, ids, m, 3);
    st[0] = st[1] = 0;
    store_foreach(s, STORE_TASK, count_order_cb, st);
    ASSERT_EQ_INT(st[1], m);
    for (size_t i = 0; i < m; i++)
        free(ids[i]);
    free(ids);
    store_free(s);
}

TEST_T(store_bulk_names, 60)
{
    /* the name hash under growth and deletions */
    enum { N = 3000 };
    struct store *s = store_new();
    char id[32], name[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "id%05d", i);
        snprintf(name, sizeof(name), "svc-%d", i);
        store_apply_put(s, STORE_SERVICE, mk(id, (uint64_t)i + 1, NULL, name));
    }
    for (int i = 0; i < N; i += 2) {
        snprintf(id, sizeof(id), "id%05d", i);
        store_apply_delete(s, STORE_SERVICE, id, (uint64_t)(N + i));
    }
    for (int i = 1; i < N; i += 4) { /* renames */
        snprintf(id, sizeof(id), "id%05d", i);
        snprintf(name, sizeof(name), "new-%d", i);
        store_apply_put(s, STORE_SERVICE, mk(id, (uint64_t)(3 * N + i), NULL, name));
    }
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "id%05d", i);
        snprintf(name, sizeof(name), "svc-%d", i);
        const char *want = (i % 2 && i % 4 != 1) ? id : NULL;
        const char *got = find_id(s, STORE_SERVICE, name);
        if (want)
            ASSERT_EQ_STR(got, want);
        else
            ASSERT_NULL(got);
        snprintf(name, sizeof(name), "new-%d", i);
        got = find_id(s, STORE_SERVICE, name);
        if (i % 4 == 1)
            ASSERT_EQ_STR(got, id);
        else
            ASSERT_NULL(got);
    }
    ASSERT_EQ_INT(store_count(s, STORE_SERVICE), N / 2);
    store_free(s);
}

/* A tiny deterministic generator, so a failure is reproducible. */
static uint32_t lcg(uint32_t *st)
{
    *st = *st * 1664525u + 1013904223u;
    return *st >> 8;
}

TEST(store_prefix_random_small_alphabet)
{
    /* Short IDs over a few letters that differ in different bits of the same byte: every
     * crit-bit insertion and removal case, checked against brute force after each step. */
    static const char alpha[] = "abdh0";
    enum { POOL = 60 };
    char pool[POOL][6];
    bool in[POOL] = {false};
    uint32_t st = 12345;
    for (int i = 0; i < POOL; i++) {
        int len, dup;
        do {
            len = 1 + (int)(lcg(&st) % 4);
            for (int j = 0; j < len; j++)
                pool[i][j] = alpha[lcg(&st) % (sizeof(alpha) - 1)];
            pool[i][len] = '\0';
            dup = 0;
            for (int j = 0; j < i; j++)
                dup |= !strcmp(pool[j], pool[i]);
        } while (dup);
    }
    struct store *s = store_new();
    uint64_t ver = 1;
    for (int step = 0; step < 400; step++) {
        int i = (int)(lcg(&st) % POOL);
        if (in[i])
            store_apply_delete(s, STORE_NETWORK, pool[i], ver++);
        else
            store_apply_put(s, STORE_NETWORK, mk(pool[i], ver++, NULL, NULL));
        in[i] = !in[i];
        /* every prefix up to length 2, plus the pool's strings themselves */
        char ref[6];
        for (int a = 0; a < (int)sizeof(alpha) - 1; a++) {
            for (int b = -1; b < (int)sizeof(alpha) - 1; b++) {
                ref[0] = alpha[a];
                ref[1] = b < 0 ? '\0' : alpha[b];
                ref[2] = '\0';
                int exact = -1, n = 0, one = -1;
                for (int j = 0; j < POOL; j++) {
                    if (!in[j])
                        continue;
                    if (!strcmp(pool[j], ref))
                        exact = j;
                    if (!strncmp(pool[j], ref, strlen(ref)))
                        n++, one = j;
                }
                struct err e = {0};
                json_t *o = store_find(s, STORE_NETWORK, ref, &e);
                if (exact >= 0)
                    ASSERT_EQ_STR(store_json_str(o, "ID"), pool[exact]);
                else if (n == 1)
                    ASSERT_EQ_STR(store_json_str(o, "ID"), pool[one]);
                else if (n == 0)
                    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
                else
                    ASSERT_EQ_INT(e.kind, ERR_INVALID);
                if (n > 1 && exact < 0) {
                    char want[64];
                    snprintf(want, sizeof(want), "network %s is ambiguous (%d matches found)", ref,
                             n);
                    ASSERT_EQ_STR(e.msg, want);
                }
            }
        }
        for (int j = 0; j < POOL; j++) {
            json_t *o = store_get(s, STORE_NETWORK, pool[j]);
            ASSERT_TRUE((o != NULL) == in[j]);
        }
    }
    store_free(s);
}

TEST(store_json_codec_refuses_unreadable)
{
    struct err e;
    json_t *ok = json_pack("{s:s, s:{s:i, s:f}}", "ID", "x", "Spec", "n", 5, "r", 0.1);
    char *s = store_json_encode(ok, &e);
    ASSERT_TRUE(s != NULL);
    json_t *back = store_json_decode(s, strlen(s), &e);
    ASSERT_TRUE(json_equal(back, ok));
    json_decref(back);
    free(s);
    json_decref(ok);
    /* a label with a NUL encodes, but the reader of etcd values refuses it: never written */
    json_t *bad = json_pack("{s:s, s:{s:{s:s%}}}", "ID", "x", "Spec", "Labels", "k", "x\0y", 3);
    ASSERT_TRUE(bad != NULL);
    ASSERT_TRUE(store_json_encode(bad, &e) == NULL);
    ASSERT_EQ_INT(e.kind, ERR_INVALID);
    ASSERT_TRUE(strstr(e.msg, "would not read back") != NULL);
    json_decref(bad);
    ASSERT_TRUE(store_json_decode("[1]", 3, &e) == NULL);
    ASSERT_TRUE(store_json_decode("{\"a\":\"\\u0000\"}", 14, &e) == NULL);
}

TEST(store_json_go_int_words)
{
    struct err e;
    int64_t v = 0;
    json_t *j = json_loads("[-1, 1.5, 4294967296, \"x\", 7, 1e3, true]", 0, NULL);
    ASSERT_EQ_INT(
        store_json_go_int(json_array_get(j, 0), "CAConfig.CAConfig.ForceRotate", "uint64", &v, &e),
        -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "json: cannot unmarshal number -1 into Go struct field "
                         "CAConfig.CAConfig.ForceRotate of type uint64");
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 1), "S.F", "int64", &v, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg,
                  "json: cannot unmarshal number 1.5 into Go struct field S.F of type int64");
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 2), "S.F", "uint32", &v, &e), -ERR_INVALID);
    ASSERT_EQ_STR(
        e.msg, "json: cannot unmarshal number 4294967296 into Go struct field S.F of type uint32");
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 3), "S.F", "int", &v, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "json: cannot unmarshal string into Go struct field S.F of type int");
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 5), "S.F", "int", &v, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg,
                  "json: cannot unmarshal number 1e+03 into Go struct field S.F of type int");
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 6), "S.F", "int", &v, &e), -ERR_INVALID);
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 4), "S.F", "uint32", &v, &e), 0);
    ASSERT_EQ_INT(v, 7);
    ASSERT_EQ_INT(store_json_go_int(json_array_get(j, 0), "S.F", "time.Duration", &v, &e), 0);
    ASSERT_EQ_INT(v, -1);
    json_decref(j);
}

static void test_store_local_cb(void *arg, int rc, struct err *e)
{
    (void)e;
    int **p = arg;
    (*p[0])++;
    *p[1] = rc;
}

TEST(store_local_commit_applies_later_and_checks_compares)
{
    struct store *s = store_new();
    struct store_local *l = store_local_new(s);
    json_t *a = json_pack("{s:s, s:{s:s}}", "ID", "t1", "Spec", "Name", "x");
    int calls = 0, last_rc = 1;
    struct cbx {
        int *calls, *rc;
    } cx = {&calls, &last_rc};
    struct store_write w = {STORE_TASK, a, NULL, 0};
    store_local_commit(l, &w, 1, test_store_local_cb, &cx);
    json_decref(a);
    ASSERT_EQ_INT(calls, 0);                      /* never inside the call */
    ASSERT_TRUE(!store_get(s, STORE_TASK, "t1")); /* applied when it runs */
    ASSERT_EQ_INT((int)store_local_run(l), 1);
    ASSERT_EQ_INT(calls, 1);
    ASSERT_EQ_INT(last_rc, 0);
    json_t *got = store_get(s, STORE_TASK, "t1");
    ASSERT_TRUE(got != NULL);
    uint64_t v = store_obj_version(got);
    /* a second create of the same ID and a stale update both fail, all-or-nothing */
    json_t *b = json_pack("{s:s}", "ID", "t2");
    json_t *a2 = json_pack("{s:s}", "ID", "t1");
    struct store_write two[2] = {{STORE_TASK, b, NULL, 0}, {STORE_TASK, a2, NULL, v + 7}};
    store_local_commit(l, two, 2, test_store_local_cb, &cx);
    store_local_run(l);
    ASSERT_TRUE(last_rc < 0);
    ASSERT_TRUE(!store_get(s, STORE_TASK, "t2"));
    struct store_write del = {STORE_TASK, NULL, "t1", v};
    store_local_commit(l, &del, 1, test_store_local_cb, &cx);
    store_local_run(l);
    ASSERT_EQ_INT(last_rc, 0);
    ASSERT_TRUE(!store_get(s, STORE_TASK, "t1"));
    json_decref(b);
    json_decref(a2);
    store_local_free(l);
    store_free(s);
}

static int count_task_cb(const struct store_task *t, void *data)
{
    (void)t;
    (*(int *)data)++;
    return 0;
}

static json_t *mk_task(const char *id, uint64_t ver, const char *svc, const char *node, int slot,
                       const char *desired, const char *state)
{
    json_t *o = json_pack("{s:s, s:{s:I}, s:s, s:s, s:{s:s}}", "ID", id, "Version", "Index",
                          (json_int_t)ver, "ServiceID", svc, "DesiredState", desired, "Status",
                          "State", state);
    if (node)
        json_object_set_new(o, "NodeID", json_string(node));
    if (slot)
        json_object_set_new(o, "Slot", json_integer(slot));
    return o;
}

TEST(store_task_views_and_indexes_follow_changes)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_TASK, mk_task("t1", 1, "svcA", NULL, 1, "running", "pending"));
    store_apply_put(s, STORE_TASK, mk_task("t2", 2, "svcA", "n1", 2, "running", "running"));
    store_apply_put(s, STORE_TASK, mk_task("t3", 3, "svcB", "n1", 0, "shutdown", "bogus"));
    ASSERT_EQ_INT((int)store_count_tasks_of_service(s, "svcA"), 2);
    ASSERT_EQ_INT((int)store_count_tasks_of_service(s, "svcB"), 1);
    ASSERT_EQ_INT((int)store_count_tasks_of_node(s, "n1"), 2);
    const struct store_task *v = store_task_view(s, "t1");
    ASSERT_TRUE(v != NULL);
    ASSERT_EQ_STR(v->node_id, "");
    ASSERT_EQ_INT((int)v->slot, 1);
    ASSERT_EQ_INT(v->observed, TASK_PENDING);
    ASSERT_EQ_INT(store_task_view(s, "t3")->observed, TASK_NEW); /* unknown name */
    ASSERT_EQ_INT(store_task_view(s, "t3")->desired, TASK_SHUTDOWN);
    /* scheduling moves t1 onto n2; an older replay changes nothing */
    store_apply_put(s, STORE_TASK, mk_task("t1", 4, "svcA", "n2", 1, "running", "assigned"));
    store_apply_put(s, STORE_TASK, mk_task("t1", 2, "svcA", "n9", 1, "running", "failed"));
    ASSERT_EQ_STR(store_task_view(s, "t1")->node_id, "n2");
    ASSERT_EQ_INT(store_task_view(s, "t1")->observed, TASK_ASSIGNED);
    ASSERT_EQ_INT((int)store_count_tasks_of_node(s, "n2"), 1);
    ASSERT_EQ_INT((int)store_count_tasks_of_node(s, "n9"), 0);
    int n = 0;
    store_tasks_of_node(s, "n1", count_task_cb, &n);
    ASSERT_EQ_INT(n, 2);
    store_apply_delete(s, STORE_TASK, "t2", 5);
    ASSERT_TRUE(store_task_view(s, "t2") == NULL);
    ASSERT_EQ_INT((int)store_count_tasks_of_service(s, "svcA"), 1);
    n = 0;
    store_tasks_of_service(s, "svcA", count_task_cb, &n);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT((int)store_count_tasks_of_node(s, "n1"), 1);
    ASSERT_EQ_STR(task_state_name(TASK_ORPHANED), "orphaned");
    ASSERT_EQ_INT(task_state_parse("complete"), TASK_COMPLETE);
    store_free(s);
}

/* A task whose Spec equals its service's TaskTemplate shares that object (memory per task);
 * one that differs (an older template) keeps its own. */
TEST(store_task_spec_shared_with_its_service)
{
    struct store *s = store_new();
    store_apply_put(s, STORE_SERVICE,
                    json_loads("{\"ID\":\"svc\",\"Version\":{\"Index\":1},\"Spec\":{\"Name\":"
                               "\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}}}}",
                               0, NULL));
    store_apply_put(s, STORE_TASK,
                    json_loads("{\"ID\":\"t1\",\"Version\":{\"Index\":2},\"ServiceID\":\"svc\","
                               "\"Spec\":{\"ContainerSpec\":{\"Image\":\"a\"}}}",
                               0, NULL));
    store_apply_put(s, STORE_TASK,
                    json_loads("{\"ID\":\"t2\",\"Version\":{\"Index\":3},\"ServiceID\":\"svc\","
                               "\"Spec\":{\"ContainerSpec\":{\"Image\":\"b\"}}}",
                               0, NULL));
    json_t *tt = store_json_path(store_get(s, STORE_SERVICE, "svc"), "Spec.TaskTemplate");
    ASSERT_TRUE(json_object_get(store_get(s, STORE_TASK, "t1"), "Spec") == tt);
    json_t *own = json_object_get(store_get(s, STORE_TASK, "t2"), "Spec");
    ASSERT_TRUE(own != tt);
    ASSERT_EQ_STR(store_json_str(own, "ContainerSpec.Image"), "b");
    /* the service goes: the task keeps its (shared) spec */
    store_apply_delete(s, STORE_SERVICE, "svc", 4);
    ASSERT_EQ_STR(store_json_str(store_get(s, STORE_TASK, "t1"), "Spec.ContainerSpec.Image"), "a");
    store_free(s);
}

/* The feed's progress is kept apart from the store's revision (which a writer's own apply
 * also moves): a commit answer that arrives after the feed passed its revision is not
 * applied again (repl.c), so a later delete the feed applied is not undone. */
TEST(store_fed_revision_follows_the_feed_only)
{
    struct store *s = store_new();
    ASSERT_EQ_INT(store_fed_revision(s), 0);
    store_apply_put(s, STORE_SERVICE, mk("s1", 7, NULL, "web"));
    ASSERT_EQ_INT(store_revision(s), 7);
    ASSERT_EQ_INT(store_fed_revision(s), 0);
    store_note_fed(s, 9);
    store_note_fed(s, 8); /* never backwards */
    ASSERT_EQ_INT(store_fed_revision(s), 9);
    store_clear(s);
    ASSERT_EQ_INT(store_fed_revision(s), 0);
    store_free(s);
}
