/* store_watch.c — the store's watch queue: callbacks that hear of every applied change.
 *
 * Invariants:
 * - Every change gets a sequence number when it is applied; a watcher sees exactly the
 *   changes numbered from the moment it was added, in order, so a watcher added inside a
 *   callback does not see the change being delivered.
 * - Changes are queued (each holding its own references to old/new) and delivered by the
 *   outermost emit only: a change applied from inside a callback reaches watchers after
 *   the current one has reached them all, so every watcher sees one order.
 * - A watcher removed while a delivery is under way is only marked; the outermost emit
 *   unlinks and frees marked watchers when the queue is empty.
 * - With no watchers at all, nothing is queued (nobody could ever see it).
 * Thread: the loop thread only. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

struct store_watch {
    store_watch_cb cb;
    void *data;
    unsigned mask;      /* 0: every kind */
    uint64_t first_seq; /* first change this watcher sees */
    bool removed;
    struct store_watch *next;
};

struct store_watch_ev {
    uint64_t seq;
    enum store_kind kind;
    enum store_action action;
    json_t *old, *new_obj; /* references held by the queue */
};

struct store_watchq {
    struct store_watch *head, *tail;
    size_t nlive; /* watchers not marked removed */
    struct store_watch_ev *evs;
    size_t ev_head, ev_len, ev_cap; /* queued events are evs[ev_head .. ev_len) */
    uint64_t next_seq;
    bool delivering;
    bool need_sweep;
};

struct store_watchq *store_watchq_new(void)
{
    struct store_watchq *q = xcalloc(1, sizeof(*q));
    q->next_seq = 1;
    return q;
}

static void store_watch_ev_release(struct store_watch_ev *ev)
{
    json_decref(ev->old);
    json_decref(ev->new_obj);
}

void store_watchq_free(struct store_watchq *q)
{
    if (!q)
        return;
    BUG_ON(q->delivering);
    for (struct store_watch *w = q->head, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    for (size_t i = q->ev_head; i < q->ev_len; i++)
        store_watch_ev_release(&q->evs[i]);
    free(q->evs);
    free(q);
}

static void store_watchq_sweep(struct store_watchq *q)
{
    struct store_watch **pp = &q->head;
    q->tail = NULL;
    while (*pp) {
        struct store_watch *w = *pp;
        if (w->removed) {
            *pp = w->next;
            free(w);
        } else {
            q->tail = w;
            pp = &w->next;
        }
    }
    q->need_sweep = false;
}

static void store_watchq_deliver(struct store_watchq *q)
{
    q->delivering = true;
    while (q->ev_head < q->ev_len) {
        /* Copy out: a callback may queue more changes and move the array. */
        struct store_watch_ev ev = q->evs[q->ev_head++];
        /* Watchers added by a callback are appended and skipped by their first_seq. */
        for (struct store_watch *w = q->head; w; w = w->next) {
            if (w->removed || w->first_seq > ev.seq)
                continue;
            if (w->mask && !(w->mask & (1u << ev.kind)))
                continue;
            w->cb(w->data, ev.kind, ev.action, ev.old, ev.new_obj);
        }
        store_watch_ev_release(&ev);
    }
    q->ev_head = q->ev_len = 0;
    q->delivering = false;
    if (q->need_sweep)
        store_watchq_sweep(q);
}

void store_watchq_emit(struct store_watchq *q, enum store_kind k, enum store_action a, json_t *old,
                       json_t *new_obj)
{
    uint64_t seq = q->next_seq++;
    if (!q->nlive)
        return;
    if (q->ev_len == q->ev_cap) {
        q->ev_cap = q->ev_cap ? q->ev_cap * 2 : 8;
        q->evs = xrealloc(q->evs, q->ev_cap * sizeof(*q->evs));
    }
    q->evs[q->ev_len++] =
        (struct store_watch_ev){seq, k, a, json_incref(old), json_incref(new_obj)};
    if (!q->delivering)
        store_watchq_deliver(q);
}

struct store_watch *store_watch_add(struct store *s, unsigned kinds_mask, store_watch_cb cb,
                                    void *data)
{
    struct store_watchq *q = store_watchq_of(s);
    BUG_ON(!cb);
    struct store_watch *w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->data = data;
    w->mask = kinds_mask;
    w->first_seq = q->next_seq;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->nlive++;
    return w;
}

void store_watch_remove(struct store *s, struct store_watch *w)
{
    struct store_watchq *q = store_watchq_of(s);
    if (!w)
        return;
    BUG_ON(w->removed);
    w->removed = true;
    q->nlive--;
    if (q->delivering)
        q->need_sweep = true;
    else
        store_watchq_sweep(q);
}
