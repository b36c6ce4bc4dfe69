/* repl.h — replication: the store's objects made durable through etcd, and etcd's feed
 * applied back to the store.
 *
 * Writes: every value is encoded with the store's codec (store_json_encode: an object that
 * would not read back is refused before anything is written), bounded as Docker bounds a
 * store write (1.5 MiB per object, 500 with swarmkit's "raft message is too large"), sealed
 * with the data key, and put at <prefix><kind>/<id>. One call is one etcd transaction: a
 * compare per object (its expected version, or absence for a create) and, for the leader's
 * writes, one on the election key at the revision it was elected with (fencing: a deposed
 * leader writes nothing). On success every object is in the store, with the transaction's
 * revision as its Version.Index, before the callback runs. The callback ALWAYS runs later on
 * the loop, never inside the call, also when the write is refused up front.
 *
 * The feed: every etcd event under the prefix is unsealed, decoded and applied to the store
 * (objects) or handed to on_private (records under the private prefix: keys, CA material).
 *
 * Thread: the loop thread only. */
#ifndef SHOAL_REPL_H
#define SHOAL_REPL_H

#include "base/base.h"
#include "state/state.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

/* etcd allows 128 operations per transaction (--max-txn-ops); one goes to the fence. */
#define REPL_BATCH_MAX 127
/* swarmkit's MaxTransactionBytes (1.5 MiB), for one object. */
#define REPL_MAX_OBJECT_BYTES (1536 * 1024)
#define REPL_MSG_TOO_LARGE                                                                         \
    "rpc error: code = Unknown desc = raft: raft message is too large and can't be sent"

struct repl_config {
    struct state *st;           /* a started etcd client */
    struct store *store;        /* where committed and fed objects go */
    const uint8_t *dek;         /* 32-byte data key; borrowed, outlives the repl */
    const char *prefix;         /* "/shoal/": objects at <prefix><kind>/<id> */
    const char *private_prefix; /* "/shoal/private/": records that are not store objects */
    const char *fence_key;      /* the election key the leader's writes compare */
    /* A private record seen in the feed (name without the prefix; rec borrowed). */
    void (*on_private)(void *ctx, const char *name, json_t *rec);
    void *ctx;
};

struct repl;
struct repl *repl_new(uv_loop_t *loop, const struct repl_config *cfg);
/* Frees r. Commits in flight still call back (state_stop fails them with "shutting down"). */
void repl_free(struct repl *r);

/* The etcd feed: hand every state_event here (the on_event of state_start). */
void repl_feed(struct repl *r, const struct state_event *ev);

/* The etcd key of a store object. Heap string. */
char *repl_object_key(const struct repl *r, enum store_kind k, const char *id);

/* A store_commit_fn (ctx: the repl) for writes any manager may make (the API's). */
void repl_commit(void *ctx, const struct store_write *w, size_t n, store_commit_cb cb, void *arg);
/* The leader's writes, fenced with the election key at fence_rev (0: not leading, refused
 * with ERR_UNAVAILABLE "this manager is not the leader"). */
void repl_commit_fenced(struct repl *r, int64_t fence_rev, const struct store_write *w, size_t n,
                        store_commit_cb cb, void *arg);
/* Writes a private record (JSON) at <private_prefix><name>, unfenced. */
void repl_put_private(struct repl *r, const char *name, json_t *rec, store_commit_cb cb, void *arg);

#endif
