/* manager.h — the leader's reconciliation loop: it reads services, tasks, nodes and the
 * cluster from the store and writes what the orchestrators and the scheduler decide, in
 * batched transactions, through a store_commit_fn (the leader's fenced committer, or
 * store_local in tests).
 *
 * One pass (mgr_tick) does, for every service: orch_reconcile (task creations, desired-state
 * changes, UpdateStatus, a rollback putting the previous spec back), then the scheduler
 * places the service's pending tasks (NodeID + "assigned", or Status.Err with Docker's
 * explanation while nothing fits), then the reaper deletes the task history beyond the
 * cluster's TaskHistoryRetentionLimit; tasks of deleted services are shut down and removed.
 * All writes of a pass go out in transactions of at most MGR_BATCH writes, and no pass starts
 * while another's commits are in flight: a failed commit changes nothing in memory, the next
 * pass recomputes from the store. A new leader converges from the store alone (the
 * orchestrator keeps only restart history and update progress).
 *
 * Task objects are Docker's Task JSON (ID, Version, CreatedAt, UpdatedAt, Labels, Spec = the
 * service's TaskTemplate, ServiceID, Slot, NodeID, Status, DesiredState, JobIteration). The
 * template version the orchestrator compares is derived, never stored: mgr_template_version.
 *
 * mgr_tick is pure (the store, the time given, the committer); mgr_start adds the driver: a
 * store watch and a timer on the loop that run a pass on the next loop turn after any change
 * (coalesced) and when the returned deadline comes. Thread: the loop thread. */
#ifndef SHOAL_MANAGER_H
#define SHOAL_MANAGER_H

#include "base/base.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

#define MGR_BATCH 100

struct mgr_config {
    struct store *store;
    store_commit_fn commit;
    void *commit_ctx;
};

struct mgr;
struct mgr *mgr_new(const struct mgr_config *c);
/* Stops the driver (if started) and frees m; commits in flight still call back into nothing
 * (their callbacks only count). NULL is a no-op. */
void mgr_free(struct mgr *m);

/* One pass at now_ns (see above). Returns when it must run again even if nothing changes
 * (a restart delay or an update step ending), INT64_MAX if never. */
int64_t mgr_tick(struct mgr *m, int64_t now_ns);
/* No commit of a pass is in flight. */
bool mgr_idle(const struct mgr *m);
/* Passes run and transactions sent (tests and benches). */
uint64_t mgr_passes(const struct mgr *m);
uint64_t mgr_commits(const struct mgr *m);

/* The version of a task template: 64-bit FNV-1a of its compact JSON with sorted keys. */
uint64_t mgr_template_version(json_t *task_template);

/* The driver on loop (time from base's clock). */
void mgr_start(struct mgr *m, uv_loop_t *loop);

#endif
