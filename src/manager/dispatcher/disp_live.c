/* disp_live.c — node liveness on the leader (see disp.h): a table from node ID to the time it
 * was last heard from (or first listed by a check: its grace window), measured with one
 * heartbeat period.
 *
 * Invariants: every entry was listed by the last check or heard from since the one before (a
 * check forgets the others); a ready node gets its entry at the first check that lists it, a
 * node in another state only from a heartbeat; l->period is the period the entries' times
 * were measured with (0 before the first check).
 * Pure: the time is an argument, no I/O; one thread. */
#include "manager/dispatcher/disp.h"

#include <stdlib.h>
#include <string.h>

struct live_entry {
    uint64_t seen; /* ms: last heard from, or the start of its grace window */
    uint64_t gen;  /* the check that last listed it (heard: the next one) */
};

struct disp_live {
    char self[ID_LEN + 1];
    struct strmap *nodes; /* node ID → struct live_entry */
    int64_t period;       /* ms; 0: no check yet */
    uint64_t gen;         /* checks so far */
};

struct disp_live *disp_live_new(const char *self_id)
{
    struct disp_live *l = xcalloc(1, sizeof(*l));
    snprintf(l->self, sizeof(l->self), "%s", self_id ? self_id : "");
    l->nodes = strmap_new();
    return l;
}

static void live_clear(struct disp_live *l)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(l->nodes, &it, &k, &v))
        free(v);
    strmap_free(l->nodes);
    l->nodes = strmap_new();
}

void disp_live_free(struct disp_live *l)
{
    if (!l)
        return;
    live_clear(l);
    strmap_free(l->nodes);
    free(l);
}

void disp_live_marks_release(struct disp_live_marks *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}

int64_t disp_live_period_ms(int64_t spec_ns)
{
    return spec_ns > 0 ? spec_ns / 1000000 : DISP_HEARTBEAT_DEFAULT_MS;
}

uint64_t disp_live_tick_ms(int64_t period_ms)
{
    int64_t t = period_ms / 4;
    return (uint64_t)(t < 250 ? 250 : t > 1000 ? 1000 : t);
}

size_t disp_live_size(const struct disp_live *l)
{
    return strmap_len(l->nodes);
}

static struct live_entry *entry_get(struct disp_live *l, const char *id)
{
    struct live_entry *e = strmap_get(l->nodes, id);
    if (!e) {
        e = xcalloc(1, sizeof(*e));
        strmap_put(l->nodes, id, e);
    }
    return e;
}

bool disp_live_heard(struct disp_live *l, const char *id, bool stored_ready, uint64_t now)
{
    struct live_entry *e = entry_get(l, id);
    e->seen = now;
    e->gen = l->gen + 1; /* kept by the next check even if the store does not list it yet */
    return !stored_ready;
}

static void mark_add(struct disp_live_marks *out, const char *id)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 8;
        out->v = xrealloc(out->v, out->cap * sizeof(*out->v));
    }
    struct disp_live_mark *m = &out->v[out->n++];
    snprintf(m->id, sizeof(m->id), "%s", id);
    m->state = "down";
    m->message = DISP_LIVE_DOWN_MSG;
}

/* Forgets the entries that neither this check listed nor a heartbeat refreshed since the
 * previous one. */
static void live_prune(struct disp_live *l)
{
    size_t it = 0, n = 0, cap = 0;
    const char *k;
    void *v;
    char **gone = NULL;
    while (strmap_next(l->nodes, &it, &k, &v)) {
        if (((struct live_entry *)v)->gen >= l->gen)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            gone = xrealloc(gone, cap * sizeof(*gone));
        }
        gone[n++] = xstrdup(k);
    }
    for (size_t i = 0; i < n; i++) {
        free(strmap_del(l->nodes, gone[i]));
        free(gone[i]);
    }
    free(gone);
}

void disp_live_check(struct disp_live *l, const struct disp_live_node *nodes, size_t n,
                     int64_t period_ms, uint64_t now, struct disp_live_marks *out)
{
    out->n = 0;
    out->next = now + disp_live_tick_ms(period_ms);
    if (l->period && period_ms != l->period)
        live_clear(l); /* nodes learn the new period with their next heartbeat */
    l->period = period_ms;
    l->gen++;
    for (size_t i = 0; i < n; i++) {
        const char *id = nodes[i].id;
        if (!strcmp(id, l->self))
            continue;
        struct live_entry *e = strmap_get(l->nodes, id);
        if (e)
            e->gen = l->gen;
        if (!nodes[i].ready) /* down, or not ready yet: only a heartbeat changes that */
            continue;
        if (!e) { /* not heard from since the table or the period began: grace window */
            e = entry_get(l, id);
            e->seen = now;
            e->gen = l->gen;
            continue;
        }
        if ((int64_t)(now - e->seen) > DISP_LIVE_PERIODS * period_ms)
            mark_add(out, id);
    }
    live_prune(l);
}
