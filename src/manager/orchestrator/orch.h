/* orch.h — the orchestrators: reconcile what a service asks for with the tasks that exist,
 * as Docker Swarm does, and decide what to change. Replicated services keep one live task
 * per slot 1..Replicas; global services one per eligible node. A task that ends, fails, is
 * rejected or sits on a node that went down or was drained is replaced according to the
 * restart policy (condition, delay, max attempts within a window); scale-down removes the
 * slots that are not running first, then those on the nodes that hold the most tasks of the
 * service.
 *
 * Jobs (replicated-job, global-job) run tasks to completion: at most MaxConcurrent at a time
 * until TotalCompletions have completed (replicated), or one per eligible node (global);
 * failed ones are restarted by the same supervisor; slots of a job count from 0.
 *
 * Rolling updates (replicated services): slots whose tasks run an older task template are
 * replaced `parallelism` at a time, stop-first or start-first, waiting `delay` between slots;
 * a new task that fails within `monitor` of starting counts as a failure, and more failures
 * than `max_failure_ratio` of the slots pause the update, roll it back, or are ignored, as
 * the failure action says. Rollbacks run the same way with the rollback config. The update's
 * progress is reported as UpdateStatus actions (Docker's states and messages).
 *
 * Pure logic: the caller passes the service, its tasks, the nodes and the time, and gets a
 * list of actions (create a task, change a task's desired state); it applies them (in one
 * batched store transaction) and calls again when anything changes or when the deadline
 * orch_next_deadline() gives has passed. The only state kept between calls is the restart
 * history and the pending restart delays, per service. No I/O, no clock; one thread. */
#ifndef SHOAL_ORCH_H
#define SHOAL_ORCH_H

#include "base/base.h"
#include "store/store.h"

/* Task states (enum task_state, task_state_name, task_state_parse) are the store's. */

enum orch_mode { ORCH_REPLICATED = 0, ORCH_GLOBAL, ORCH_REPLICATED_JOB, ORCH_GLOBAL_JOB };
enum orch_restart_cond { ORCH_RESTART_ANY = 0, ORCH_RESTART_ON_FAILURE, ORCH_RESTART_NONE };

struct orch_restart {
    enum orch_restart_cond condition;
    int64_t delay_ns;      /* Docker's default: 5 s */
    uint64_t max_attempts; /* 0 = unlimited */
    int64_t window_ns;     /* 0 = attempts count forever */
};

enum orch_failure_action { ORCH_FAIL_PAUSE = 0, ORCH_FAIL_CONTINUE, ORCH_FAIL_ROLLBACK };
enum orch_order { ORCH_STOP_FIRST = 0, ORCH_START_FIRST };

struct orch_update_config {
    uint64_t parallelism; /* 0: every slot at once */
    int64_t delay_ns;
    enum orch_failure_action failure_action;
    int64_t monitor_ns; /* Docker's default: 5 s */
    double max_failure_ratio;
    enum orch_order order;
};

/* UpdateStatus.State as Docker has it; NONE: no UpdateStatus (a new spec was just given). */
enum orch_update_state {
    ORCH_UPD_NONE = 0,
    ORCH_UPD_UPDATING,
    ORCH_UPD_PAUSED,
    ORCH_UPD_COMPLETED,
    ORCH_UPD_ROLLBACK_STARTED,
    ORCH_UPD_ROLLBACK_PAUSED,
    ORCH_UPD_ROLLBACK_COMPLETED,
};
/* "updating", "paused", "completed", "rollback_started", ...; "" for NONE. */
const char *orch_update_state_name(enum orch_update_state s);

struct orch_service {
    const char *id;
    enum orch_mode mode;
    uint64_t replicas; /* replicated */
    /* The version of the task template: tasks with another one are out of date. The caller
     * bumps it when TaskTemplate (or ForceUpdate) changes, not for a change of replicas. */
    uint64_t spec_version;
    struct orch_restart restart;
    struct orch_update_config update, rollback;
    enum orch_update_state update_state;
    /* jobs: tasks run to completion (desired COMPLETE); a new iteration (`--force`, a new
     * spec) replaces the old iteration's tasks that still run */
    uint64_t max_concurrent, total_completions; /* replicated job */
    uint64_t job_iteration;
};

/* What the orchestrator reads of a task of the service. */
struct orch_task {
    const char *id;
    uint64_t slot;       /* replicated: 1..; global: 0 */
    const char *node_id; /* "" or NULL while unassigned */
    enum task_state desired, observed;
    uint64_t spec_version;
    int64_t status_ns;      /* when the observed state was last reported */
    uint64_t job_iteration; /* jobs: the iteration the task belongs to */
};

/* What it reads of a node. For global services `eligible` says whether the service's
 * constraints and platforms let it run there (the caller evaluates them). */
struct orch_node {
    const char *id;
    bool down;     /* Status.State down (or unknown) */
    bool drained;  /* Spec.Availability drain */
    bool eligible; /* global only */
};

enum orch_action_kind {
    ORCH_CREATE,        /* a new task: slot (replicated) or node_id (global), with `desired` */
    ORCH_SET_DESIRED,   /* task_id's desired state becomes `desired` */
    ORCH_UPDATE_STATUS, /* the service's UpdateStatus becomes update_state + message; for
                         * ROLLBACK_STARTED the caller also puts the previous spec back, as
                         * Docker does, with the previous template's spec_version (so the
                         * tasks that still run it are not replaced again) */
};

struct orch_action {
    enum orch_action_kind kind;
    const char *task_id; /* ORCH_SET_DESIRED: borrowed from the input */
    uint64_t slot;
    const char *node_id;                 /* ORCH_CREATE of a global task: borrowed from the input */
    enum task_state desired;             /* READY while a restart delay runs, else RUNNING */
    const char *replaces;                /* ORCH_CREATE after a failure: the task it replaces */
    enum orch_update_state update_state; /* ORCH_UPDATE_STATUS */
    char message[128];                   /* ORCH_UPDATE_STATUS: Docker's words */
};

struct orch_actions {
    struct orch_action *v;
    size_t n, cap;
};
void orch_actions_release(struct orch_actions *a);

struct orch;
struct orch *orch_new(void);
void orch_free(struct orch *o); /* NULL is a no-op */

/* Reconciles one service at time now. Appends actions to out. Tasks the orchestrator
 * created with desired READY (a restart delay) are named by their ID once they exist:
 * when a call sees such a task whose delay is over, it sets it RUNNING.
 * A service being removed is passed with replicas 0 (replicated) or no eligible node. */
void orch_reconcile(struct orch *o, const struct orch_service *svc, const struct orch_task *tasks,
                    size_t ntasks, const struct orch_node *nodes, size_t nnodes, int64_t now_ns,
                    struct orch_actions *out);

/* The earliest time a pending restart delay of any service ends; INT64_MAX if none. */
int64_t orch_next_deadline(const struct orch *o);

/* The task reaper: fills out (room for ntasks) with the IDs of the service's tasks to
 * delete; returns how many. history_limit is the swarm's TaskHistoryRetentionLimit (< 0:
 * keep all history; tasks being removed still go). */
size_t orch_reap(const struct orch_service *svc, int64_t history_limit,
                 const struct orch_task *tasks, size_t ntasks, const char **out);

/* Forgets a removed service's restart history and delays. */
void orch_forget_service(struct orch *o, const char *service_id);

#endif
