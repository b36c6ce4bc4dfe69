/* store.h — the in-memory swarm state: one table per object kind, lookups by full ID,
 * name and unique ID prefix, optimistic-concurrency checks, and a watch queue.
 *
 * Objects are jansson values shaped exactly as the Engine API shows them (ID,
 * Version.Index, CreatedAt, UpdatedAt, Spec, ...). A committed object is immutable: the
 * store holds one reference; readers borrow it (json_incref to keep it); writers
 * json_deep_copy, edit, and commit through the replication layer, which feeds the result
 * back with store_apply_put(). Version.Index is the etcd revision of the object's last
 * write, so one counter orders all objects (like swarmkit's raft index).
 *
 * Pure logic: no I/O, no clock. Thread: the loop thread only. */
#ifndef SHOAL_STORE_H
#define SHOAL_STORE_H

#include "base/base.h"

#include <jansson.h>

enum store_kind {
    STORE_CLUSTER = 0,
    STORE_NODE,
    STORE_SERVICE,
    STORE_TASK,
    STORE_NETWORK,
    STORE_SECRET,
    STORE_CONFIG,
    STORE_NKINDS
};

/* "cluster", "node", "service", "task", "network", "secret", "config". */
const char *store_kind_name(enum store_kind k);
/* Inverse of store_kind_name; -1 if unknown. */
int store_kind_parse(const char *name);

struct store;

struct store *store_new(void);
void store_free(struct store *s); /* NULL is a no-op */

/* Inserts or replaces the object with obj's "ID"; takes ownership of one reference to
 * obj. Its "Version"."Index" must be set. An object whose version is not newer than the
 * one held is dropped (idempotent replays from the etcd watch). Watchers are called. */
void store_apply_put(struct store *s, enum store_kind k, json_t *obj);
/* Removes the object (if present) as of revision rev; watchers are called. */
void store_apply_delete(struct store *s, enum store_kind k, const char *id, uint64_t rev);
/* Drops everything (e.g. after swarm leave). Watchers are not called. */
void store_clear(struct store *s);

/* Highest revision applied so far (0 when empty). */
uint64_t store_revision(const struct store *s);
/* The ordered feed (etcd's watch, in revision order) has delivered everything up to rev.
 * A writer that applies its own committed transaction before the feed brings it (to read
 * its writes at once) must not do so once the feed is at or past that revision: the feed
 * may already have applied later changes (a delete), which the stale apply would undo. */
void store_note_fed(struct store *s, uint64_t rev);
uint64_t store_fed_revision(const struct store *s);

/* Borrowed object by exact ID, or NULL. */
json_t *store_get(const struct store *s, enum store_kind k, const char *id);

/* Docker's resolution of a user reference: exact ID, then exact name, then unique ID
 * prefix. Names: nodes match Spec.Name or else Description.Hostname; services,
 * networks, secrets, configs and the cluster match Spec.Name; tasks have none.
 * Not found → NULL + ERR_NOT_FOUND "<kind> <ref> not found"; several matches for the
 * name or the prefix → NULL + ERR_INVALID "<kind> <ref> is ambiguous (N matches found)". */
json_t *store_find(const struct store *s, enum store_kind k, const char *ref, struct err *e);

/* Number of objects of kind k. */
size_t store_count(const struct store *s, enum store_kind k);
/* Calls fn for every object of kind k in order of creation (CreatedAt, then ID); stop
 * early by returning non-zero (which store_foreach returns). */
typedef int (*store_foreach_cb)(json_t *obj, void *data);
int store_foreach(const struct store *s, enum store_kind k, store_foreach_cb fn, void *data);

/* Checks that `version` is the current Version.Index of object id: 0 if so; stale →
 * ERR_INTERNAL "update out of sequence" (Docker's words, status 500); missing → ERR_NOT_FOUND. */
int store_check_version(const struct store *s, enum store_kind k, const char *id, uint64_t version,
                        struct err *e);

/* ---- watch queue ----
 * A watcher sees every change applied after it was added, in order. old/new are borrowed
 * for the call: old NULL on create, new NULL on delete. */
enum store_action { STORE_CREATE = 1, STORE_UPDATE, STORE_REMOVE };
typedef void (*store_watch_cb)(void *data, enum store_kind k, enum store_action a, json_t *old,
                               json_t *new_obj);
struct store_watch;
/* kinds_mask: bit (1u << kind) per kind to see; 0 means all. */
struct store_watch *store_watch_add(struct store *s, unsigned kinds_mask, store_watch_cb cb,
                                    void *data);
/* Safe to call from inside a watch callback. */
void store_watch_remove(struct store *s, struct store_watch *w);

/* ---- typed views and indexes of tasks ----
 * Every task object gets a typed view of the fields the leader's loops read, kept in step
 * as the object changes, and the tasks are indexed by service and by node. */

/* Docker's task states, in their order (observed state only moves forward). */
enum task_state {
    TASK_NEW = 0,
    TASK_PENDING,
    TASK_ASSIGNED,
    TASK_ACCEPTED,
    TASK_PREPARING,
    TASK_READY,
    TASK_STARTING,
    TASK_RUNNING,
    TASK_COMPLETE,
    TASK_SHUTDOWN,
    TASK_FAILED,
    TASK_REJECTED,
    TASK_REMOVE,
    TASK_ORPHANED,
};
/* "new", "pending", ... as Docker spells them; NULL for out-of-range values. */
const char *task_state_name(enum task_state s);
/* The state for a name; -1 if unknown. */
int task_state_parse(const char *name);

struct store_task {
    const char *id;
    const char *service_id;            /* "" when absent; borrowed from obj */
    const char *node_id;               /* "" until scheduled */
    uint64_t slot;                     /* 0 for global tasks */
    enum task_state desired, observed; /* TASK_NEW when absent or unknown */
    json_t *obj;                       /* the task object (borrowed) */
};
/* The view of task id, or NULL. Valid until the task changes. */
const struct store_task *store_task_view(const struct store *s, const char *id);
/* Calls fn for every task of the service / on the node (in no particular order) until it
 * returns non-zero, which is returned. Changing the store from fn is not allowed. */
typedef int (*store_task_cb)(const struct store_task *t, void *data);
int store_tasks_of_service(const struct store *s, const char *service_id, store_task_cb fn,
                           void *data);
int store_tasks_of_node(const struct store *s, const char *node_id, store_task_cb fn, void *data);
size_t store_count_tasks_of_service(const struct store *s, const char *service_id);
size_t store_count_tasks_of_node(const struct store *s, const char *node_id);

/* ---- writes: the contract between the logic that decides writes (the leader's loops, the
 * API) and the replication layer that makes them durable (node_commit_batch). ----
 * One call is one transaction: every write applies, or none does. */
struct store_write {
    enum store_kind kind;
    json_t *obj;    /* PUT: the new object with its "ID" (borrowed: encoded during the call;
                       its "Version" is ignored); NULL: delete `id` */
    const char *id; /* DELETE: the object's ID (ignored for PUT) */
    /* Compare before applying: 0 = the object must not exist (create; for a delete: no
     * compare), else its Version.Index must still be this ("update out of sequence"). */
    uint64_t expect_version;
};
/* rc 0: applied, and the store already holds the result; rc < 0 with e (ERR_INTERNAL
 * "update out of sequence" when a compare failed, ERR_UNAVAILABLE when the store cannot
 * write or this manager stopped leading). Always runs later on the loop, never inside the
 * commit call. */
typedef void (*store_commit_cb)(void *arg, int rc, struct err *e);
/* A committer: the replication layer's entry point, passed to the logic as ctx + function so
 * that tests can commit into a plain store (store_commit_local). */
typedef void (*store_commit_fn)(void *ctx, const struct store_write *w, size_t n,
                                store_commit_cb cb, void *arg);

/* A committer into a plain store, for unit tests and simulations: commits queue up and apply
 * (compares checked then, each commit at the next revision) when store_local_run() runs them,
 * as etcd answers later; then their callbacks run. */
struct store_local;
struct store_local *store_local_new(struct store *s);
void store_local_free(struct store_local *l); /* pending commits are dropped; NULL: no-op */
/* A store_commit_fn; ctx is the struct store_local. */
void store_local_commit(void *ctx, const struct store_write *w, size_t n, store_commit_cb cb,
                        void *arg);
/* Applies the queued commits in order and runs their callbacks (commits made by those
 * callbacks run too); returns how many ran. */
size_t store_local_run(struct store_local *l);
/* The next n commits fail with ERR_UNAVAILABLE and change nothing. */
void store_local_fail_next(struct store_local *l, int n);
/* Commits that have run (for tests that count transactions). */
size_t store_local_commits(const struct store_local *l);

/* ---- small JSON helpers shared by store users ---- */
/* Borrowed value at a dotted path ("Spec.Name", "Version.Index"), or NULL. */
json_t *store_json_path(json_t *obj, const char *dotted);
/* String at a dotted path, or NULL. */
const char *store_json_str(json_t *obj, const char *dotted);
/* Version.Index of obj (0 if absent). */
uint64_t store_obj_version(json_t *obj);

/* The codec of values kept in etcd. decode: the only reader of them (an object, or
 * ERR_INTERNAL with jansson's words); new reference or NULL. encode: compact JSON that
 * decode reads back equal to obj (heap string), else NULL and ERR_INVALID — an object
 * that could not be loaded again (a NUL in a string, say) must never be written. */
json_t *store_json_decode(const char *p, size_t n, struct err *e);
char *store_json_encode(json_t *obj, struct err *e);

/* A JSON number for a Go integer field as encoding/json decodes it: gotype is "int",
 * "int64", "int32", "uint64", "uint32" or "time.Duration"; field names it in Go's error
 * ("RaftConfig.Raft.SnapshotInterval"). A non-number, a fraction, or a value outside the
 * type → ERR_INVALID with Go's words ("json: cannot unmarshal number -1 into Go struct field
 * ... of type uint64"). */
int store_json_go_int(json_t *v, const char *field, const char *gotype, int64_t *out,
                      struct err *e);

#endif
