/* orch_int.h — the orchestrator's private parts, shared by orch.c (reconciliation and the
 * restart supervisor) and orch_update.c (rolling updates). Only this folder includes it. */
#ifndef SHOAL_ORCH_INT_H
#define SHOAL_ORCH_INT_H

#include "manager/orchestrator/orch.h"

/* How long a delayed replacement waits for the task it replaces to stop (Docker: 1 min). */
#define ORCH_WAIT_STOP_NS (60LL * 1000000000LL)

struct history {
    uint64_t spec_version;
    uint64_t total;
    int64_t *at; /* replacement times, oldest first */
    size_t n, cap;
    int64_t start_at; /* a replacement waits until then (0: none pending) */
    int64_t wake_at;  /* when a reconcile should look at it again (0: no need) */
    bool released;    /* its wait is over: a READY replacement still found READY (the
                       * commit that started it failed) is started again at once */
};

struct upd;

struct svc_mem {
    struct strmap *keys; /* key → struct history */
    struct upd *upd;     /* the rolling update in progress, if any */
    int64_t upd_wake;    /* when the update wants to be looked at again (INT64_MAX: never) */
};

struct orch {
    struct strmap *svcs; /* service ID → struct svc_mem */
};

struct ctx {
    struct orch *o;
    const struct orch_service *svc;
    struct svc_mem *mem;
    const struct orch_node *nodes;
    size_t nnodes;
    int64_t now;
    struct orch_actions *out;
};

void orch_emit(struct orch_actions *a, struct orch_action act);
const struct orch_node *orch_node_get(const struct ctx *c, const char *id);
/* "s:<slot>" (replicated) or "n:<node>" (global): where a task lives. */
void orch_task_key(const struct ctx *c, const struct orch_task *t, char *key, size_t cap);
struct history *orch_history_get(struct ctx *c, const char *key, bool create);

bool orch_is_job(const struct orch_service *svc);
/* Docker's rule: does the restart policy replace this task, ended as it is? */
bool orch_should_restart(struct ctx *c, const struct orch_task *t);
/* A task that must go: shut it down and, if the policy says so, create its replacement. */
void orch_restart_task(struct ctx *c, const struct orch_task *t, const struct orch_node *nd);
/* A replacement waiting (desired READY): started once its delay is over and the task it
 * replaces has stopped. */
void orch_maybe_start(struct ctx *c, const struct orch_task *t, const struct orch_task *all,
                      size_t n);

/* Jobs (orch_job.c). */
void orch_reconcile_job(struct ctx *c, const struct orch_task *tasks, size_t n);

/* The rolling update of a replicated service: one step (orch_update.c). */
void orch_update_step(struct ctx *c, const struct orch_task *tasks, size_t n);
void orch_update_free(struct upd *u); /* NULL is a no-op */

#endif
