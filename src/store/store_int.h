/* store_int.h — what the store's own files share; no other module includes it.
 *
 * store.c owns the tables and calls the watch queue (store_watch.c) after each change it
 * has fully applied. Thread: the loop thread only. */
#ifndef SHOAL_STORE_INT_H
#define SHOAL_STORE_INT_H

#include "store/store.h"

struct store_watchq;

struct store_watchq *store_watchq_new(void);
/* Frees the remaining watchers and drops queued changes. */
void store_watchq_free(struct store_watchq *q);
/* The queue that belongs to s (defined in store.c). */
struct store_watchq *store_watchq_of(struct store *s);
/* Reports one applied change: queues it (holding its own references to old/new) and, unless
 * a delivery is already under way further up the stack, delivers everything queued, in
 * order. A change applied from inside a watch callback is thus delivered after the current
 * one has reached every watcher. */
void store_watchq_emit(struct store_watchq *q, enum store_kind k, enum store_action a, json_t *old,
                       json_t *new_obj);

#endif
