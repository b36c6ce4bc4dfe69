/* disp.c — incremental assignments per node session (see disp.h). The acknowledged and the
 * sent states are maps from task ID to version. Pure; one thread. */
#include "manager/dispatcher/disp.h"

#include <stdlib.h>
#include <string.h>

struct disp_session {
    /* task ID → version (stored as the pointer's value + 1): what the node acknowledged,
     * what was sent last (sent_seq) and the one before (sent_seq - 1): a node whose newest
     * answer was lost acknowledges the one before, and its state is exactly that one */
    struct strmap *acked, *sent, *prev;
    uint64_t sent_seq;
    bool synced; /* the node acknowledged a state since the session began */
};

struct disp_session *disp_session_new(void)
{
    struct disp_session *s = xcalloc(1, sizeof(*s));
    s->acked = strmap_new();
    s->sent = strmap_new();
    s->prev = strmap_new();
    return s;
}

void disp_session_free(struct disp_session *s)
{
    if (!s)
        return;
    strmap_free(s->acked);
    strmap_free(s->sent);
    strmap_free(s->prev);
    free(s);
}

void disp_changes_release(struct disp_changes *c)
{
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static void add(struct disp_changes *c, const char *id, uint64_t version, bool removed)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = (struct disp_change){id, version, removed};
}

static uint64_t ver_of(const struct strmap *m, const char *id, bool *found)
{
    uintptr_t v = (uintptr_t)strmap_get(m, id);
    *found = v != 0;
    return v ? (uint64_t)(v - 1) : 0;
}

static struct strmap *map_copy(const struct strmap *m)
{
    struct strmap *c = strmap_new();
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(m, &it, &k, &v))
        strmap_put(c, k, v);
    return c;
}

void disp_session_ack(struct disp_session *s, uint64_t ack)
{
    if (!ack || (ack != s->sent_seq && ack + 1 != s->sent_seq))
        return;
    strmap_free(s->acked);
    s->acked = map_copy(ack == s->sent_seq ? s->sent : s->prev);
    s->synced = true;
}

void disp_session_changes(struct disp_session *s, const struct disp_item *cur, size_t n,
                          struct disp_changes *out)
{
    out->n = 0;
    out->full = !s->synced;
    struct strmap *now = strmap_new();
    for (size_t i = 0; i < n; i++) {
        strmap_put(now, cur[i].id, (void *)(uintptr_t)(cur[i].version + 1));
        bool found;
        uint64_t had = ver_of(s->acked, cur[i].id, &found);
        if (out->full || !found || had != cur[i].version)
            add(out, cur[i].id, cur[i].version, false);
    }
    if (!out->full) {
        size_t it = 0;
        const char *k;
        void *v;
        while (strmap_next(s->acked, &it, &k, &v))
            if (!strmap_get(now, k))
                add(out, k, (uint64_t)((uintptr_t)v - 1), true);
    }
    strmap_free(s->prev);
    s->prev = s->sent;
    s->sent = now;
    out->seq = ++s->sent_seq;
}
