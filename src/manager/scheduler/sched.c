/* sched.c — the scheduler's node set, task accounting, filters and placement (see sched.h
 * for the rules). Nodes live in an array with an open-addressing index by ID.
 *
 * Placement of one group: every node is filtered once and its spread-preference values
 * read; nodes are sorted by those values, so each branch of the preference tree is a run
 * of the array and each leaf a run whose passing nodes form a min-heap ordered by (tasks of
 * the service, tasks overall, ID). Tasks are shared out over a level's branches so that the
 * branches' task counts of the service end as even as their room allows ("water filling"),
 * and a leaf places each task on its heap's top node, re-checks the filters a placement can
 * change (resources, host ports, max replicas) and sifts the node back down.
 * Pure logic; one thread. */
#include "sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sched {
    struct snode **nodes;
    size_t n, cap;
    size_t *index; /* node position + 1 per slot, 0 = empty; hcap a power of two */
    size_t hcap;
};

/* ---- the index by ID ---- */

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static void index_put(struct sched *s, size_t pos)
{
    size_t m = s->hcap - 1, i = hash_str(s->nodes[pos]->id) & m;
    while (s->index[i])
        i = (i + 1) & m;
    s->index[i] = pos + 1;
}

static void index_rebuild(struct sched *s)
{
    size_t want = 16;
    while (want < s->n * 2 + 2)
        want *= 2;
    free(s->index);
    s->hcap = want;
    s->index = xcalloc(want, sizeof(*s->index));
    for (size_t i = 0; i < s->n; i++)
        index_put(s, i);
}

static struct snode *node_find(const struct sched *s, const char *id, size_t *pos)
{
    if (!s->hcap)
        return NULL;
    size_t m = s->hcap - 1, i = hash_str(id) & m;
    for (; s->index[i]; i = (i + 1) & m) {
        struct snode *nd = s->nodes[s->index[i] - 1];
        if (!strcmp(nd->id, id)) {
            if (pos)
                *pos = s->index[i] - 1;
            return nd;
        }
    }
    return NULL;
}

/* ---- nodes ---- */

struct sched *sched_new(void)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    index_rebuild(s);
    return s;
}

static void kv_free(struct sched_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static struct sched_kv *kv_dup(const struct sched_label *l, size_t n)
{
    struct sched_kv *kv = n ? xcalloc(n, sizeof(*kv)) : NULL;
    for (size_t i = 0; i < n; i++) {
        kv[i].key = xstrdup(l[i].key ? l[i].key : "");
        kv[i].value = xstrdup(l[i].value ? l[i].value : "");
    }
    return kv;
}

static void node_desc_release(struct snode *nd)
{
    free(nd->hostname);
    free(nd->role);
    free(nd->os);
    free(nd->arch);
    free(nd->addr);
    kv_free(nd->labels, nd->nlabels);
    kv_free(nd->engine_labels, nd->nengine_labels);
}

static void node_free(struct snode *nd)
{
    node_desc_release(nd);
    for (size_t i = 0; i < nd->nsvcs; i++)
        free(nd->svcs[i].service_id);
    free(nd->svcs);
    free(nd->ports);
    free(nd->id);
    free(nd);
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        node_free(s->nodes[i]);
    free(s->nodes);
    free(s->index);
    free(s);
}

#define DUP(x) xstrdup((x) ? (x) : "")

void sched_node_set(struct sched *s, const struct sched_node_desc *d)
{
    struct snode *nd = node_find(s, d->id, NULL);
    if (nd) {
        node_desc_release(nd);
    } else {
        nd = xcalloc(1, sizeof(*nd));
        nd->id = DUP(d->id);
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->nodes = xrealloc(s->nodes, s->cap * sizeof(*s->nodes));
        }
        s->nodes[s->n++] = nd;
        if (s->n * 2 + 2 > s->hcap)
            index_rebuild(s);
        else
            index_put(s, s->n - 1);
    }
    nd->hostname = DUP(d->hostname);
    nd->role = DUP(d->role);
    nd->os = DUP(d->os);
    nd->arch = DUP(d->arch);
    nd->addr = DUP(d->addr);
    nd->ready = d->ready;
    nd->avail = d->avail;
    nd->labels = kv_dup(d->labels, d->nlabels);
    nd->nlabels = d->nlabels;
    nd->engine_labels = kv_dup(d->engine_labels, d->nengine_labels);
    nd->nengine_labels = d->nengine_labels;
    nd->nano_cpus = d->nano_cpus;
    nd->memory_bytes = d->memory_bytes;
}

void sched_node_remove(struct sched *s, const char *id)
{
    size_t pos;
    struct snode *nd = node_find(s, id, &pos);
    if (!nd)
        return;
    node_free(nd);
    s->nodes[pos] = s->nodes[--s->n];
    index_rebuild(s); /* rare: nodes leave far less often than tasks move */
}

/* ---- task accounting ---- */

static struct sched_svc *svc_find(const struct snode *nd, const char *service_id)
{
    for (size_t i = 0; i < nd->nsvcs; i++)
        if (!strcmp(nd->svcs[i].service_id, service_id))
            return &nd->svcs[i];
    return NULL;
}

static struct sched_port_use *port_find(const struct snode *nd, const struct sched_port *p)
{
    for (size_t i = 0; i < nd->nports; i++)
        if (nd->ports[i].port == p->port && nd->ports[i].proto == p->proto)
            return &nd->ports[i];
    return NULL;
}

static void account(struct snode *nd, const struct sched_group *g, int dir)
{
    const char *svc = g->service_id ? g->service_id : "";
    struct sched_svc *sv = svc_find(nd, svc);
    if (dir > 0) {
        if (!sv) {
            nd->svcs = xrealloc(nd->svcs, (nd->nsvcs + 1) * sizeof(*nd->svcs));
            sv = &nd->svcs[nd->nsvcs++];
            sv->service_id = xstrdup(svc);
            sv->count = 0;
        }
        sv->count++;
        nd->ntasks++;
        nd->used_nano_cpus += g->nano_cpus;
        nd->used_memory_bytes += g->memory_bytes;
        for (size_t i = 0; i < g->nhost_ports; i++) {
            struct sched_port_use *u = port_find(nd, &g->host_ports[i]);
            if (!u) {
                nd->ports = xrealloc(nd->ports, (nd->nports + 1) * sizeof(*nd->ports));
                u = &nd->ports[nd->nports++];
                *u = (struct sched_port_use){g->host_ports[i].port, g->host_ports[i].proto, 0};
            }
            u->count++;
        }
        return;
    }
    if (!sv || !sv->count)
        return; /* not accounted: nothing to undo */
    if (--sv->count == 0) {
        free(sv->service_id);
        *sv = nd->svcs[--nd->nsvcs];
    }
    nd->ntasks--;
    nd->used_nano_cpus -= g->nano_cpus;
    nd->used_memory_bytes -= g->memory_bytes;
    for (size_t i = 0; i < g->nhost_ports; i++) {
        struct sched_port_use *u = port_find(nd, &g->host_ports[i]);
        if (u && --u->count == 0)
            *u = nd->ports[--nd->nports];
    }
}

void sched_task_add(struct sched *s, const char *node_id, const struct sched_group *g)
{
    struct snode *nd = node_find(s, node_id, NULL);
    if (nd)
        account(nd, g, +1);
}

void sched_task_remove(struct sched *s, const char *node_id, const struct sched_group *g)
{
    struct snode *nd = node_find(s, node_id, NULL);
    if (nd)
        account(nd, g, -1);
}

size_t sched_node_tasks(const struct sched *s, const char *node_id)
{
    const struct snode *nd = node_find(s, node_id, NULL);
    return nd ? nd->ntasks : 0;
}

size_t sched_node_service_tasks(const struct sched *s, const char *node_id, const char *service_id)
{
    const struct snode *nd = node_find(s, node_id, NULL);
    const struct sched_svc *sv = nd ? svc_find(nd, service_id) : NULL;
    return sv ? sv->count : 0;
}

/* ---- filters ---- */

/* x86_64 and amd64 are one architecture, as are aarch64 and arm64 (Docker's rule). */
static const char *arch_norm(const char *a)
{
    if (!strcasecmp(a, "x86_64"))
        return "amd64";
    if (!strcasecmp(a, "aarch64"))
        return "arm64";
    return a;
}

static bool platform_ok(const struct sched_group *g, const struct snode *nd)
{
    for (size_t i = 0; i < g->nplatforms; i++) {
        const struct sched_platform *p = &g->platforms[i];
        bool os = !p->os || !p->os[0] || !strcasecmp(p->os, nd->os);
        bool arch = !p->arch || !p->arch[0] || !strcasecmp(arch_norm(p->arch), arch_norm(nd->arch));
        if (os && arch)
            return true;
    }
    return false;
}

/* The filters a placement on this node can change: resources, host ports, max replicas. */
static enum sched_filter dynamic_check(const struct sched_group *g, const struct snode *nd)
{
    if ((g->nano_cpus && g->nano_cpus > nd->nano_cpus - nd->used_nano_cpus) ||
        (g->memory_bytes && g->memory_bytes > nd->memory_bytes - nd->used_memory_bytes))
        return SCHED_F_RESOURCES;
    return SCHED_F_PASS;
}

static enum sched_filter late_check(const struct sched_group *g, const struct snode *nd)
{
    for (size_t i = 0; i < g->nhost_ports; i++)
        if (port_find(nd, &g->host_ports[i]))
            return SCHED_F_HOST_PORT;
    if (g->max_replicas && nd->svc_count >= g->max_replicas)
        return SCHED_F_MAX_REPLICAS;
    return SCHED_F_PASS;
}

/* The first filter (in Docker's order) the node fails, or SCHED_F_PASS. nd->svc_count must
 * hold the node's tasks of g's service. */
static enum sched_filter check(const struct sched_group *g, const struct snode *nd)
{
    if (!nd->ready || nd->avail != SCHED_ACTIVE)
        return SCHED_F_READY;
    if (dynamic_check(g, nd) != SCHED_F_PASS)
        return SCHED_F_RESOURCES;
    for (size_t i = 0; i < g->nconstraints; i++)
        if (!sched_constraint_matches(&g->constraints[i], nd))
            return SCHED_F_CONSTRAINTS;
    if (g->nplatforms && !platform_ok(g, nd))
        return SCHED_F_PLATFORM;
    return late_check(g, nd);
}

static bool still_fits(const struct sched_group *g, const struct snode *nd)
{
    return dynamic_check(g, nd) == SCHED_F_PASS && late_check(g, nd) == SCHED_F_PASS;
}

/* Docker's words for n nodes failing filter f. */
static void explain_part(struct buf *b, enum sched_filter f, size_t n)
{
    const char *s = n == 1 ? "" : "s";
    switch (f) {
    case SCHED_F_READY:
        buf_printf(b, "%zu node%s not available for new tasks", n, s);
        break;
    case SCHED_F_RESOURCES:
        buf_printf(b, "insufficient resources on %zu node%s", n, s);
        break;
    case SCHED_F_CONSTRAINTS:
        buf_printf(b, "scheduling constraints not satisfied on %zu node%s", n, s);
        break;
    case SCHED_F_PLATFORM:
        buf_printf(b, "unsupported platform on %zu node%s", n, s);
        break;
    case SCHED_F_HOST_PORT:
        buf_printf(b, "host-mode port already in use on %zu node%s", n, s);
        break;
    default: /* Docker's own words, without a count */
        buf_adds(b, "max replicas per node limit exceed");
        break;
    }
}

static void explain_failures(const struct sched *s, const struct sched_group *g, char *out,
                             size_t cap)
{
    size_t fails[SCHED_F_COUNT] = {0};
    for (size_t i = 0; i < s->n; i++) {
        struct snode *nd = s->nodes[i];
        const struct sched_svc *sv = svc_find(nd, g->service_id ? g->service_id : "");
        nd->svc_count = sv ? sv->count : 0;
        enum sched_filter f = check(g, nd);
        if (f != SCHED_F_PASS)
            fails[f]++;
    }
    struct buf b = BUF_INIT;
    buf_adds(&b, "no suitable node");
    bool any = false;
    /* most failures first; equal counts in filter order */
    for (;;) {
        int best = -1;
        for (int f = 0; f < SCHED_F_COUNT; f++)
            if (fails[f] && (best < 0 || fails[f] > fails[best]))
                best = f;
        if (best < 0)
            break;
        buf_adds(&b, any ? "; " : " (");
        explain_part(&b, (enum sched_filter)best, fails[best]);
        fails[best] = 0;
        any = true;
    }
    if (any)
        buf_adds(&b, ")");
    snprintf(out, cap, "%.*s", (int)b.len, b.p);
    buf_release(&b);
}

/* ---- placement ---- */

struct place {
    struct sched *s;
    const struct sched_group *g;
    struct snode **all; /* every node, sorted by preference values */
    size_t n;
    struct snode **heap; /* heap[lo..lo+heap_len[lo]) is the heap of leaf [lo, hi) */
    size_t *heap_len;
    bool *heap_built;
    bool *passes; /* per position in all: passed the filters at the start */
    const char **ids;
    size_t placed, want;
};

static int cmp_prefs(const void *a, const void *b, void *np)
{
    const struct snode *x = *(struct snode *const *)a, *y = *(struct snode *const *)b;
    for (size_t i = 0; i < *(size_t *)np; i++) {
        int c = strcmp(x->prefs[i], y->prefs[i]);
        if (c)
            return c;
    }
    return strcmp(x->id, y->id);
}

static bool node_less(const struct snode *a, const struct snode *b)
{
    if (a->avoid != b->avoid)
        return !a->avoid;
    if (a->svc_count != b->svc_count)
        return a->svc_count < b->svc_count;
    if (a->ntasks != b->ntasks)
        return a->ntasks < b->ntasks;
    return strcmp(a->id, b->id) < 0;
}

static void sift_down(struct snode **h, size_t len, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && node_less(h[l], h[m]))
            m = l;
        if (r < len && node_less(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        struct snode *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Places up to k tasks on the leaf [lo, hi); returns how many. */
static size_t place_leaf(struct place *p, size_t lo, size_t hi, size_t k)
{
    struct snode **h = p->heap + lo;
    if (!p->heap_built[lo]) {
        size_t len = 0;
        for (size_t i = lo; i < hi; i++)
            if (p->passes[i])
                h[len++] = p->all[i];
        for (size_t i = len / 2; i-- > 0;)
            sift_down(h, len, i);
        p->heap_len[lo] = len;
        p->heap_built[lo] = true;
    }
    size_t done = 0;
    while (done < k && p->heap_len[lo] > 0) {
        struct snode *nd = h[0];
        account(nd, p->g, +1);
        nd->svc_count++;
        p->ids[p->placed++] = nd->id;
        done++;
        if (!still_fits(p->g, nd))
            h[0] = h[--p->heap_len[lo]];
        sift_down(h, p->heap_len[lo], 0);
    }
    return done;
}

struct branch {
    size_t lo, hi;
    size_t tasks; /* of the service, on all its nodes */
    bool full;
};

static int cmp_branch_tasks(const void *a, const void *b)
{
    const struct branch *x = *(struct branch *const *)a, *y = *(struct branch *const *)b;
    if (x->tasks != y->tasks)
        return x->tasks < y->tasks ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static size_t place_range(struct place *p, size_t lo, size_t hi, int level, size_t k);

/* Shares k tasks out over the branches [lo, hi) splits into at this level: each round
 * raises the branches with the fewest tasks towards one level (the lowest whose filling
 * takes all that is left), the extra ones going to the emptiest first; a branch that takes
 * less than its share is full and the rest is shared again among the others. */
static size_t place_branches(struct place *p, size_t lo, size_t hi, int level, size_t k)
{
    size_t nb = 0, cap = 8;
    struct branch *br = xmalloc(cap * sizeof(*br));
    for (size_t i = lo; i < hi;) {
        size_t j = i + 1;
        while (j < hi && !strcmp(p->all[j]->prefs[level], p->all[i]->prefs[level]))
            j++;
        if (nb == cap)
            br = xrealloc(br, (cap *= 2) * sizeof(*br));
        br[nb] = (struct branch){i, j, 0, false};
        for (size_t x = i; x < j; x++)
            br[nb].tasks += p->all[x]->svc_count;
        nb++;
        i = j;
    }
    struct branch **act = xmalloc(nb * sizeof(*act));
    size_t done = 0;
    for (;;) {
        size_t na = 0;
        for (size_t i = 0; i < nb; i++)
            if (!br[i].full)
                act[na++] = &br[i];
        if (done == k || na == 0)
            break;
        qsort(act, na, sizeof(*act), cmp_branch_tasks);
        /* the level L: the branches below it are raised to it, using at most what is left */
        size_t left = k - done, level_to = act[0]->tasks, used = 0, below = 1;
        for (;;) {
            while (below < na && act[below]->tasks <= level_to)
                below++;
            size_t next = below < na ? act[below]->tasks : SIZE_MAX;
            size_t step = next - level_to;
            if (next == SIZE_MAX || used + step * below > left) {
                size_t up = (left - used) / below;
                level_to += up;
                used += up * below;
                break;
            }
            level_to = next;
            used += step * below;
        }
        size_t extra = left - used;
        bool progress = false;
        for (size_t i = 0; i < na && done < k; i++) {
            struct branch *b = act[i];
            if (b->tasks > level_to)
                break;
            size_t share = level_to - b->tasks + (extra ? 1 : 0);
            if (extra)
                extra--;
            if (!share)
                continue;
            size_t got = place_range(p, b->lo, b->hi, level + 1, share);
            b->tasks += got;
            done += got;
            progress |= got > 0;
            if (got < share)
                b->full = true;
        }
        if (!progress)
            break;
    }
    free(act);
    free(br);
    return done;
}

static size_t place_range(struct place *p, size_t lo, size_t hi, int level, size_t k)
{
    if (level == (int)p->g->nspread_prefs)
        return place_leaf(p, lo, hi, k);
    return place_branches(p, lo, hi, level, k);
}

size_t sched_place(struct sched *s, const struct sched_group *g, size_t n, const char **node_ids,
                   char *explain, size_t cap)
{
    if (cap)
        explain[0] = '\0';
    if (n == 0)
        return 0;
    struct place p = {.s = s, .g = g, .ids = node_ids, .want = n, .n = s->n};
    size_t np = g->nspread_prefs;
    p.all = xmalloc((s->n + 1) * sizeof(*p.all));
    p.heap = xmalloc((s->n + 1) * sizeof(*p.heap));
    p.heap_len = xcalloc(s->n + 1, sizeof(*p.heap_len));
    p.heap_built = xcalloc(s->n + 1, sizeof(*p.heap_built));
    p.passes = xcalloc(s->n + 1, sizeof(*p.passes));
    const char **prefs = np ? xmalloc(s->n * np * sizeof(*prefs)) : NULL;
    for (size_t i = 0; i < s->n; i++) {
        struct snode *nd = s->nodes[i];
        const struct sched_svc *sv = svc_find(nd, g->service_id ? g->service_id : "");
        nd->svc_count = sv ? sv->count : 0;
        nd->avoid = false;
        for (size_t j = 0; j < g->navoid_nodes && !nd->avoid; j++)
            nd->avoid = !strcmp(g->avoid_nodes[j], nd->id);
        nd->prefs = prefs ? prefs + i * np : NULL;
        for (size_t j = 0; j < np; j++)
            nd->prefs[j] = sched_pref_value(nd, g->spread_prefs[j]);
        p.all[i] = nd;
    }
    if (np)
        qsort_r(p.all, s->n, sizeof(*p.all), cmp_prefs, &np);
    for (size_t i = 0; i < s->n; i++)
        p.passes[i] = check(g, p.all[i]) == SCHED_F_PASS;
    place_range(&p, 0, s->n, 0, n);
    for (size_t i = 0; i < s->n; i++)
        s->nodes[i]->prefs = NULL;
    if (p.placed < n && cap)
        explain_failures(s, g, explain, cap);
    free(prefs);
    free(p.passes);
    free(p.heap_built);
    free(p.heap_len);
    free(p.heap);
    free(p.all);
    return p.placed;
}

bool sched_node_matches(const struct sched *s, const char *node_id, const struct sched_group *g)
{
    const struct snode *nd = node_find(s, node_id, NULL);
    if (!nd)
        return false;
    for (size_t i = 0; i < g->nconstraints; i++)
        if (!sched_constraint_matches(&g->constraints[i], nd))
            return false;
    return !g->nplatforms || platform_ok(g, nd);
}

bool sched_place_on(struct sched *s, const struct sched_group *g, const char *node_id,
                    char *explain, size_t cap)
{
    struct snode *nd = node_find(s, node_id, NULL);
    if (!nd) {
        snprintf(explain, cap, "no suitable node");
        return false;
    }
    struct sched_svc *sv = svc_find(nd, g->service_id);
    nd->svc_count = sv ? sv->count : 0;
    enum sched_filter f = check(g, nd);
    if (f != SCHED_F_PASS) {
        struct buf b = BUF_INIT;
        buf_adds(&b, "no suitable node (");
        explain_part(&b, f, 1);
        buf_adds(&b, ")");
        snprintf(explain, cap, "%s", b.p);
        buf_release(&b);
        return false;
    }
    account(nd, g, 1);
    return true;
}
