/* orch_job.c — jobs (see orch.h): tasks that run to completion, desired COMPLETE.
 *
 * Replicated job: of the current iteration, count the completed tasks and the ones still
 * going; start min(MaxConcurrent - going, TotalCompletions - completed - going) more in the
 * lowest free slots (counting from 0). Global job: one task of the iteration per eligible
 * node that is up and not drained. Either way a task of the iteration that failed (or sits
 * on a down or drained node) goes to the restart supervisor, and tasks of an older iteration
 * that still run are removed. Pure; one thread. */
#include "orch_int.h"

#include <stdlib.h>
#include <string.h>

/* A task of this iteration that has not completed and is still wanted. */
static bool going(const struct orch_task *t)
{
    return t->observed != TASK_COMPLETE && t->desired <= TASK_COMPLETE;
}

/* Restart what failed, remove the older iteration; returns the tasks still going. */
static size_t tend(struct ctx *c, const struct orch_task *tasks, size_t n, bool *slot_used,
                   uint64_t nslots, size_t *complete)
{
    size_t run = 0;
    *complete = 0;
    for (size_t i = 0; i < n; i++) {
        const struct orch_task *t = &tasks[i];
        if (t->job_iteration != c->svc->job_iteration) {
            if (t->observed <= TASK_RUNNING && t->desired != TASK_REMOVE)
                orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                       .task_id = t->id,
                                                       .desired = TASK_REMOVE});
            continue;
        }
        bool counts = t->observed == TASK_COMPLETE || going(t);
        if (slot_used && counts && t->slot < nslots)
            slot_used[t->slot] = true;
        if (t->observed == TASK_COMPLETE) {
            (*complete)++;
            continue;
        }
        if (!going(t))
            continue;
        run++;
        const struct orch_node *nd = orch_node_get(c, t->node_id);
        bool assigned = t->node_id && t->node_id[0];
        if (t->observed > TASK_COMPLETE || (assigned && (!nd || nd->down || nd->drained)))
            orch_restart_task(c, t, nd);
        else if (t->desired == TASK_READY)
            orch_maybe_start(c, t, tasks, n);
    }
    return run;
}

static void replicated_job(struct ctx *c, const struct orch_task *tasks, size_t n)
{
    uint64_t total = c->svc->total_completions;
    bool *used = xcalloc(total + 1, sizeof(*used));
    size_t complete;
    size_t run = tend(c, tasks, n, used, total, &complete);
    uint64_t room = c->svc->max_concurrent > run ? c->svc->max_concurrent - run : 0;
    uint64_t left = total > complete + run ? total - complete - run : 0;
    uint64_t make = room < left ? room : left;
    for (uint64_t s = 0; s < total && make > 0; s++) {
        if (used[s])
            continue;
        orch_emit(c->out,
                  (struct orch_action){.kind = ORCH_CREATE, .slot = s, .desired = TASK_COMPLETE});
        make--;
    }
    free(used);
}

static void global_job(struct ctx *c, const struct orch_task *tasks, size_t n)
{
    size_t complete;
    tend(c, tasks, n, NULL, 0, &complete);
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct orch_node *nd = &c->nodes[i];
        if (!nd->eligible || nd->drained || nd->down)
            continue;
        bool has = false;
        for (size_t j = 0; j < n && !has; j++)
            has = tasks[j].job_iteration == c->svc->job_iteration && tasks[j].node_id &&
                  !strcmp(tasks[j].node_id, nd->id) &&
                  (tasks[j].observed == TASK_COMPLETE || going(&tasks[j]) ||
                   !orch_should_restart(c, &tasks[j]));
        if (!has)
            orch_emit(c->out, (struct orch_action){.kind = ORCH_CREATE,
                                                   .node_id = nd->id,
                                                   .desired = TASK_COMPLETE});
    }
}

void orch_reconcile_job(struct ctx *c, const struct orch_task *tasks, size_t n)
{
    if (c->svc->mode == ORCH_GLOBAL_JOB)
        global_job(c, tasks, n);
    else
        replicated_job(c, tasks, n);
}
