/* store.c — the store's tables: one per object kind, with an ID hash, a name hash, a
 * crit-bit tree of IDs for unique-prefix lookups, and a creation-order list.
 *
 * Invariants:
 * - Every object in a table is held by exactly one struct store_ent, which holds one
 *   reference to it. An entry's ID is copied into the entry, so the ID hash and the
 *   crit-bit tree keep pointing at the same bytes while the object is replaced by newer
 *   versions. The name key is borrowed from the object itself and is re-indexed whenever
 *   the object is replaced.
 * - The order array holds every live entry and possibly removed ones (obj == NULL,
 *   "tombstones"): a delete never has to search the array. Tombstones are freed when the
 *   array is compacted, which happens when they outnumber the live entries or before a
 *   re-sort, and never while a store_foreach over that table is running (that is what
 *   makes changes from inside a foreach callback safe).
 * - `sorted` says whether the order array is in (CreatedAt, ID) order. Objects normally
 *   arrive in creation order, so a create is an append; anything else clears the flag and
 *   the next store_foreach sorts (O(n log n)).
 * - A change is applied to every index before the watchers hear of it.
 * Pure logic, no I/O. Thread: the loop thread only. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

struct store_ent {
    json_t *obj;             /* one reference; NULL once removed (a tombstone) */
    const char *name;        /* borrowed from obj; NULL when the object has no name */
    struct store_task *task; /* tasks only: the typed view (strings borrowed from obj) */
    int64_t created_ns;      /* CreatedAt; INT64_MAX when absent or unparsable (sorts last) */
    char id[];
};

/* ---- open-addressing hash (linear probing, backward-shift deletion) ----
 * Keys are borrowed strings; several slots may carry the same key (the name index is a
 * multimap), told apart by their entry. */
struct store_slot {
    uint64_t hash;
    const char *key; /* NULL: empty slot */
    struct store_ent *ent;
};

struct store_map {
    struct store_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t len;
};

static uint64_t store_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final avalanche for the low bits */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static void store_map_release(struct store_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static void store_map_put_slot(struct store_map *m, struct store_slot sl)
{
    size_t mask = m->cap - 1;
    size_t i = sl.hash & mask;
    while (m->slots[i].key)
        i = (i + 1) & mask;
    m->slots[i] = sl;
    m->len++;
}

static void store_map_add(struct store_map *m, const char *key, struct store_ent *ent)
{
    if ((m->len + 1) * 10 > m->cap * 7) { /* keep the load under 0.7 */
        struct store_map old = *m;
        m->cap = old.cap ? old.cap * 2 : 16;
        m->slots = xcalloc(m->cap, sizeof(*m->slots));
        m->len = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].key)
                store_map_put_slot(m, old.slots[i]);
        free(old.slots);
    }
    store_map_put_slot(m, (struct store_slot){store_hash(key), key, ent});
}

/* Calls fn for every entry stored under key; returns how many there were. fn may be NULL
 * (just count). */
static size_t store_map_each(const struct store_map *m, const char *key,
                             void (*fn)(struct store_ent *, void *), void *data)
{
    if (!m->cap)
        return 0;
    uint64_t h = store_hash(key);
    size_t mask = m->cap - 1, n = 0;
    for (size_t i = h & mask; m->slots[i].key; i = (i + 1) & mask) {
        const struct store_slot *sl = &m->slots[i];
        if (sl->hash == h && !strcmp(sl->key, key)) {
            n++;
            if (fn)
                fn(sl->ent, data);
        }
    }
    return n;
}

static struct store_ent *store_map_get(const struct store_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    uint64_t h = store_hash(key);
    size_t mask = m->cap - 1;
    for (size_t i = h & mask; m->slots[i].key; i = (i + 1) & mask) {
        const struct store_slot *sl = &m->slots[i];
        if (sl->hash == h && !strcmp(sl->key, key))
            return sl->ent;
    }
    return NULL;
}

/* Removes the slot that maps key to ent; it must be there. */
static void store_map_del(struct store_map *m, const char *key, struct store_ent *ent)
{
    BUG_ON(!m->cap);
    uint64_t h = store_hash(key);
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].ent != ent) {
        BUG_ON(!m->slots[i].key);
        i = (i + 1) & mask;
    }
    /* Shift later members of the probe run back over the hole when the hole lies between
     * their home slot and where they sit. */
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].key)
            break;
        size_t home = m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (struct store_slot){0, NULL, NULL};
    m->len--;
}

/* ---- crit-bit tree of IDs ----
 * Leaves are entries (their id); internal nodes are tagged with the low pointer bit. Each
 * internal node splits on one bit (byte index + mask of all other bits) of the NUL-padded
 * keys; all keys below a node agree on every bit before it. */
struct store_cbnode {
    void *child[2];
    uint32_t byte;
    uint8_t otherbits; /* ~(the critical bit) */
};

#define CB_IS_NODE(p) (((uintptr_t)(p)) & 1)
#define CB_NODE(p) ((struct store_cbnode *)((uintptr_t)(p)-1))
#define CB_TAG(n) ((void *)((uintptr_t)(n) + 1))

static int cb_dir(const struct store_cbnode *q, const uint8_t *key, size_t len)
{
    uint8_t c = q->byte < len ? key[q->byte] : 0;
    return (1 + (q->otherbits | c)) >> 8;
}

/* Inserts ent (its id must not be in the tree). */
static void store_cb_add(void **root, struct store_ent *ent)
{
    const uint8_t *key = (const uint8_t *)ent->id;
    size_t len = strlen(ent->id);
    if (!*root) {
        *root = ent;
        return;
    }
    void *p = *root;
    while (CB_IS_NODE(p))
        p = CB_NODE(p)->child[cb_dir(CB_NODE(p), key, len)];
    const uint8_t *lk = (const uint8_t *)((struct store_ent *)p)->id;

    uint32_t nbyte;
    uint32_t nbits;
    for (nbyte = 0; nbyte < len; nbyte++)
        if (lk[nbyte] != key[nbyte])
            break;
    nbits = lk[nbyte] ^ key[nbyte]; /* both NUL-terminated: at nbyte == len, key[len] == 0 */
    BUG_ON(!nbits);                 /* duplicate key */
    while (nbits & (nbits - 1))
        nbits &= nbits - 1;
    uint8_t otherbits = (uint8_t)(nbits ^ 255);
    int ndir = (1 + (otherbits | lk[nbyte])) >> 8;

    struct store_cbnode *n = xmalloc(sizeof(*n));
    n->byte = nbyte;
    n->otherbits = otherbits;
    n->child[1 - ndir] = ent;

    void **where = root;
    for (;;) {
        p = *where;
        if (!CB_IS_NODE(p))
            break;
        struct store_cbnode *q = CB_NODE(p);
        if (q->byte > nbyte || (q->byte == nbyte && q->otherbits > otherbits))
            break;
        where = &q->child[cb_dir(q, key, len)];
    }
    n->child[ndir] = *where;
    *where = CB_TAG(n);
}

/* Removes the leaf with key id (which must be present). */
static void store_cb_del(void **root, const char *id)
{
    const uint8_t *key = (const uint8_t *)id;
    size_t len = strlen(id);
    void **where = root, **whereq = NULL;
    struct store_cbnode *q = NULL;
    int dir = 0;
    void *p = *root;
    BUG_ON(!p);
    while (CB_IS_NODE(p)) {
        whereq = where;
        q = CB_NODE(p);
        dir = cb_dir(q, key, len);
        where = &q->child[dir];
        p = *where;
    }
    BUG_ON(strcmp(((struct store_ent *)p)->id, id));
    if (!whereq) {
        *root = NULL;
        return;
    }
    *whereq = q->child[1 - dir];
    free(q);
}

static size_t store_cb_count(const void *p, struct store_ent **one)
{
    if (!CB_IS_NODE(p)) {
        *one = (struct store_ent *)p;
        return 1;
    }
    const struct store_cbnode *q = CB_NODE(p);
    return store_cb_count(q->child[0], one) + store_cb_count(q->child[1], one);
}

/* Number of keys that start with prefix; *one is set to one of them. */
static size_t store_cb_prefix(void *root, const char *prefix, struct store_ent **one)
{
    const uint8_t *key = (const uint8_t *)prefix;
    size_t len = strlen(prefix);
    void *p = root, *top = root;
    if (!p)
        return 0;
    while (CB_IS_NODE(p)) {
        struct store_cbnode *q = CB_NODE(p);
        p = q->child[cb_dir(q, key, len)];
        if (q->byte < len)
            top = p;
    }
    if (strncmp(((struct store_ent *)p)->id, prefix, len))
        return 0;
    return store_cb_count(top, one);
}

static void store_cb_free(void *p)
{
    if (!p || !CB_IS_NODE(p))
        return;
    struct store_cbnode *q = CB_NODE(p);
    store_cb_free(q->child[0]);
    store_cb_free(q->child[1]);
    free(q);
}

/* ---- tables ---- */
struct store_table {
    struct store_map ids;                 /* id → entry */
    struct store_map names;               /* name → entries (several objects may share a name) */
    struct store_map by_service, by_node; /* tasks only: ServiceID / NodeID → entries */
    void *cbroot;                         /* crit-bit tree of ids */
    struct store_ent **order;
    size_t norder, order_cap, ndead;
    bool sorted;
    int iterating; /* store_foreach calls under way on this table */
    size_t count;
};

struct store {
    struct store_table t[STORE_NKINDS];
    uint64_t revision;
    uint64_t fed; /* the highest revision the ordered feed has delivered */
    struct store_watchq *wq;
};

static const char *const store_kind_names[STORE_NKINDS] = {
    [STORE_CLUSTER] = "cluster", [STORE_NODE] = "node",       [STORE_SERVICE] = "service",
    [STORE_TASK] = "task",       [STORE_NETWORK] = "network", [STORE_SECRET] = "secret",
    [STORE_CONFIG] = "config",
};

const char *store_kind_name(enum store_kind k)
{
    BUG_ON((unsigned)k >= STORE_NKINDS);
    return store_kind_names[k];
}

int store_kind_parse(const char *name)
{
    for (int k = 0; k < STORE_NKINDS; k++)
        if (name && !strcmp(name, store_kind_names[k]))
            return k;
    return -1;
}

struct store_watchq *store_watchq_of(struct store *s)
{
    return s->wq;
}

static struct store_table *store_table(const struct store *s, enum store_kind k)
{
    BUG_ON((unsigned)k >= STORE_NKINDS);
    /* Lookups are logically read-only; the lazily sorted order and the iteration counter
     * are caches the const functions may update (the store is always heap-allocated). */
    return (struct store_table *)&s->t[k];
}

static const char *store_obj_name(enum store_kind k, json_t *obj)
{
    const char *n;
    switch (k) {
    case STORE_NODE:
        n = store_json_str(obj, "Spec.Name");
        if (n && *n)
            return n;
        n = store_json_str(obj, "Description.Hostname");
        return n && *n ? n : NULL;
    case STORE_TASK:
        return NULL;
    default:
        n = store_json_str(obj, "Spec.Name");
        return n && *n ? n : NULL;
    }
}

static int64_t store_obj_created(json_t *obj)
{
    const char *c = store_json_str(obj, "CreatedAt");
    int64_t ns;
    if (!c || time_parse_rfc3339(c, &ns) < 0)
        return INT64_MAX;
    return ns;
}

static int store_ent_cmp(const struct store_ent *a, const struct store_ent *b)
{
    if (a->created_ns != b->created_ns)
        return a->created_ns < b->created_ns ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int store_ent_qcmp(const void *a, const void *b)
{
    return store_ent_cmp(*(struct store_ent *const *)a, *(struct store_ent *const *)b);
}

/* Drops the tombstones from the order array (keeps the order of the rest). */
static void store_table_compact(struct store_table *t)
{
    BUG_ON(t->iterating);
    size_t j = 0;
    for (size_t i = 0; i < t->norder; i++) {
        if (t->order[i]->obj)
            t->order[j++] = t->order[i];
        else
            free(t->order[i]);
    }
    t->norder = j;
    t->ndead = 0;
}

static void store_table_maybe_compact(struct store_table *t)
{
    if (!t->iterating && t->ndead > 32 && t->ndead > t->count)
        store_table_compact(t);
}

static const char *const task_state_names[] = {
    "new",     "pending",  "assigned", "accepted", "preparing", "ready",  "starting",
    "running", "complete", "shutdown", "failed",   "rejected",  "remove", "orphaned",
};

const char *task_state_name(enum task_state st)
{
    return (unsigned)st < ARRAY_SIZE(task_state_names) ? task_state_names[st] : NULL;
}

int task_state_parse(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(task_state_names); i++)
        if (!strcmp(task_state_names[i], name))
            return (int)i;
    return -1;
}

static enum task_state task_state_of(json_t *obj, const char *path)
{
    int v = task_state_parse(store_json_str(obj, path));
    return v < 0 ? TASK_NEW : (enum task_state)v;
}

/* Fills the typed view of a task object and adds it to the task indexes. */
static void store_task_index(struct store_table *t, struct store_ent *ent)
{
    json_t *obj = ent->obj;
    if (!ent->task)
        ent->task = xcalloc(1, sizeof(*ent->task));
    struct store_task *v = ent->task;
    const char *svc = store_json_str(obj, "ServiceID");
    const char *node = store_json_str(obj, "NodeID");
    json_t *slot = json_object_get(obj, "Slot");
    *v = (struct store_task){
        .id = ent->id,
        .service_id = svc ? svc : "",
        .node_id = node ? node : "",
        .slot = json_is_integer(slot) && json_integer_value(slot) > 0
                    ? (uint64_t)json_integer_value(slot)
                    : 0,
        .desired = task_state_of(obj, "DesiredState"),
        .observed = task_state_of(obj, "Status.State"),
        .obj = obj,
    };
    if (*v->service_id)
        store_map_add(&t->by_service, v->service_id, ent);
    if (*v->node_id)
        store_map_add(&t->by_node, v->node_id, ent);
}

/* Takes a task out of the task indexes (its view stays allocated). */
static void store_task_unindex(struct store_table *t, struct store_ent *ent)
{
    if (!ent->task)
        return;
    if (*ent->task->service_id)
        store_map_del(&t->by_service, ent->task->service_id, ent);
    if (*ent->task->node_id)
        store_map_del(&t->by_node, ent->task->node_id, ent);
}

/* Takes the entry out of every index; its object reference moves to the caller. */
static json_t *store_table_unlink(struct store_table *t, struct store_ent *ent)
{
    json_t *obj = ent->obj;
    store_map_del(&t->ids, ent->id, ent);
    if (ent->name)
        store_map_del(&t->names, ent->name, ent);
    store_cb_del(&t->cbroot, ent->id);
    store_task_unindex(t, ent);
    free(ent->task);
    ent->task = NULL;
    ent->obj = NULL;
    ent->name = NULL;
    t->count--;
    t->ndead++;
    return obj;
}

static void store_table_release(struct store_table *t)
{
    BUG_ON(t->iterating);
    for (size_t i = 0; i < t->norder; i++) {
        json_decref(t->order[i]->obj);
        free(t->order[i]->task);
        free(t->order[i]);
    }
    free(t->order);
    store_map_release(&t->ids);
    store_map_release(&t->names);
    store_map_release(&t->by_service);
    store_map_release(&t->by_node);
    store_cb_free(t->cbroot);
    memset(t, 0, sizeof(*t));
    t->sorted = true;
}

struct store *store_new(void)
{
    struct store *s = xcalloc(1, sizeof(*s));
    for (int k = 0; k < STORE_NKINDS; k++)
        s->t[k].sorted = true;
    s->wq = store_watchq_new();
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    for (int k = 0; k < STORE_NKINDS; k++)
        store_table_release(&s->t[k]);
    store_watchq_free(s->wq);
    free(s);
}

void store_clear(struct store *s)
{
    for (int k = 0; k < STORE_NKINDS; k++) {
        struct store_table *t = &s->t[k];
        if (!t->iterating) {
            store_table_release(t);
            continue;
        }
        /* A foreach is walking this table: leave tombstones for it. */
        for (size_t i = 0; i < t->norder; i++)
            if (t->order[i]->obj)
                json_decref(store_table_unlink(t, t->order[i]));
    }
    s->revision = 0;
    s->fed = 0;
}

uint64_t store_revision(const struct store *s)
{
    return s->revision;
}

void store_note_fed(struct store *s, uint64_t rev)
{
    if (rev > s->fed)
        s->fed = rev;
}

uint64_t store_fed_revision(const struct store *s)
{
    return s->fed;
}

/* A task's Spec is, nearly always, its service's TaskTemplate: share that object instead of
 * holding one decoded copy per task (3 KB of jansson nodes each). Stored objects are never
 * changed in place (writers copy them), so sharing is safe. */
static void task_share_spec(struct store *s, json_t *task)
{
    json_t *spec = json_object_get(task, "Spec");
    json_t *svc = store_get(s, STORE_SERVICE, store_json_str(task, "ServiceID"));
    json_t *tt = svc ? json_object_get(json_object_get(svc, "Spec"), "TaskTemplate") : NULL;
    if (spec && tt && spec != tt && json_equal(spec, tt))
        json_object_set(task, "Spec", tt);
}

void store_apply_put(struct store *s, enum store_kind k, json_t *obj)
{
    struct store_table *t = store_table(s, k);
    if (k == STORE_TASK)
        task_share_spec(s, obj);
    const char *id = store_json_str(obj, "ID");
    json_t *ver = store_json_path(obj, "Version.Index");
    BUG_ON(!id || !*id);
    BUG_ON(!json_is_integer(ver) || json_integer_value(ver) < 0);
    uint64_t v = (uint64_t)json_integer_value(ver);
    if (v > s->revision)
        s->revision = v;

    struct store_ent *ent = store_map_get(&t->ids, id);
    if (ent) {
        if (store_obj_version(ent->obj) >= v) {
            json_decref(obj); /* a replay of something we already hold */
            return;
        }
        json_t *old = ent->obj;
        if (ent->name)
            store_map_del(&t->names, ent->name, ent);
        store_task_unindex(t, ent);
        ent->obj = obj;
        ent->name = store_obj_name(k, obj);
        if (ent->name)
            store_map_add(&t->names, ent->name, ent);
        if (k == STORE_TASK)
            store_task_index(t, ent);
        int64_t created = store_obj_created(obj);
        if (created != ent->created_ns) {
            ent->created_ns = created;
            t->sorted = false;
        }
        store_watchq_emit(s->wq, k, STORE_UPDATE, old, obj);
        json_decref(old);
        return;
    }

    size_t idlen = strlen(id);
    ent = xmalloc(sizeof(*ent) + idlen + 1);
    memcpy(ent->id, id, idlen + 1);
    ent->obj = obj;
    ent->name = store_obj_name(k, obj);
    ent->task = NULL;
    ent->created_ns = store_obj_created(obj);
    store_map_add(&t->ids, ent->id, ent);
    if (k == STORE_TASK)
        store_task_index(t, ent);
    if (ent->name)
        store_map_add(&t->names, ent->name, ent);
    store_cb_add(&t->cbroot, ent);
    if (t->norder == t->order_cap) {
        t->order_cap = t->order_cap ? t->order_cap * 2 : 16;
        t->order = xrealloc(t->order, t->order_cap * sizeof(*t->order));
    }
    if (t->sorted && t->norder && store_ent_cmp(t->order[t->norder - 1], ent) > 0)
        t->sorted = false;
    t->order[t->norder++] = ent;
    t->count++;
    store_watchq_emit(s->wq, k, STORE_CREATE, NULL, obj);
}

void store_apply_delete(struct store *s, enum store_kind k, const char *id, uint64_t rev)
{
    struct store_table *t = store_table(s, k);
    BUG_ON(!id);
    if (rev > s->revision)
        s->revision = rev;
    struct store_ent *ent = store_map_get(&t->ids, id);
    if (!ent)
        return;
    json_t *old = store_table_unlink(t, ent);
    store_table_maybe_compact(t);
    store_watchq_emit(s->wq, k, STORE_REMOVE, old, NULL);
    json_decref(old);
}

json_t *store_get(const struct store *s, enum store_kind k, const char *id)
{
    struct store_ent *ent = id ? store_map_get(&store_table(s, k)->ids, id) : NULL;
    return ent ? ent->obj : NULL;
}

static void store_find_name_cb(struct store_ent *ent, void *data)
{
    *(struct store_ent **)data = ent;
}

json_t *store_find(const struct store *s, enum store_kind k, const char *ref, struct err *e)
{
    struct store_table *t = store_table(s, k);
    const char *kn = store_kind_name(k);
    if (!ref)
        ref = "";
    struct store_ent *ent = store_map_get(&t->ids, ref);
    if (ent)
        return ent->obj;
    size_t n = store_map_each(&t->names, ref, store_find_name_cb, &ent);
    if (n == 1)
        return ent->obj;
    if (n == 0 && *ref)
        n = store_cb_prefix(t->cbroot, ref, &ent);
    if (n == 1)
        return ent->obj;
    if (n > 1)
        err_set(e, ERR_INVALID, "%s %s is ambiguous (%zu matches found)", kn, ref, n);
    else
        err_set(e, ERR_NOT_FOUND, "%s %s not found", kn, ref);
    return NULL;
}

size_t store_count(const struct store *s, enum store_kind k)
{
    return store_table(s, k)->count;
}

/* Objects created during the walk are not visited; objects removed during it are skipped. */
int store_foreach(const struct store *s, enum store_kind k, store_foreach_cb fn, void *data)
{
    struct store_table *t = store_table(s, k);
    struct store_ent **tmp = NULL;
    size_t n;
    if (!t->sorted && !t->iterating) {
        store_table_compact(t);
        qsort(t->order, t->norder, sizeof(*t->order), store_ent_qcmp);
        t->sorted = true;
    }
    if (!t->sorted) {
        /* A nested walk after an out-of-order create: the outer walk owns the array, so
         * sort a copy of the live entries instead (tombstones are not freed meanwhile). */
        tmp = xmalloc((t->count + 1) * sizeof(*tmp));
        n = 0;
        for (size_t i = 0; i < t->norder; i++)
            if (t->order[i]->obj)
                tmp[n++] = t->order[i];
        qsort(tmp, n, sizeof(*tmp), store_ent_qcmp);
    } else {
        n = t->norder;
    }

    int rc = 0;
    t->iterating++;
    for (size_t i = 0; i < n && !rc; i++) {
        /* Re-read the array each time: a create in fn may have moved it. */
        struct store_ent *ent = tmp ? tmp[i] : t->order[i];
        if (ent->obj)
            rc = fn(ent->obj, data);
    }
    t->iterating--;
    free(tmp);
    store_table_maybe_compact(t);
    return rc;
}

int store_check_version(const struct store *s, enum store_kind k, const char *id, uint64_t version,
                        struct err *e)
{
    json_t *obj = store_get(s, k, id);
    if (!obj)
        return err_set(e, ERR_NOT_FOUND, "%s %s not found", store_kind_name(k), id);
    if (store_obj_version(obj) != version)
        return err_set(e, ERR_INTERNAL, ERR_MSG_OUT_OF_SEQUENCE);
    return 0;
}

/* ---- task views ---- */

const struct store_task *store_task_view(const struct store *s, const char *id)
{
    struct store_ent *ent = store_map_get(&store_table(s, STORE_TASK)->ids, id);
    return ent ? ent->task : NULL;
}

struct task_each {
    store_task_cb fn;
    void *data;
    int rc;
};

static void task_each_cb(struct store_ent *ent, void *data)
{
    struct task_each *c = data;
    if (!c->rc)
        c->rc = c->fn(ent->task, c->data);
}

static int tasks_each(const struct store_map *m, const char *key, store_task_cb fn, void *data)
{
    struct task_each c = {fn, data, 0};
    if (key && *key)
        store_map_each(m, key, task_each_cb, &c);
    return c.rc;
}

int store_tasks_of_service(const struct store *s, const char *service_id, store_task_cb fn,
                           void *data)
{
    return tasks_each(&store_table(s, STORE_TASK)->by_service, service_id, fn, data);
}

int store_tasks_of_node(const struct store *s, const char *node_id, store_task_cb fn, void *data)
{
    return tasks_each(&store_table(s, STORE_TASK)->by_node, node_id, fn, data);
}

size_t store_count_tasks_of_service(const struct store *s, const char *service_id)
{
    if (!service_id || !*service_id)
        return 0;
    return store_map_each(&store_table(s, STORE_TASK)->by_service, service_id, NULL, NULL);
}

size_t store_count_tasks_of_node(const struct store *s, const char *node_id)
{
    if (!node_id || !*node_id)
        return 0;
    return store_map_each(&store_table(s, STORE_TASK)->by_node, node_id, NULL, NULL);
}
