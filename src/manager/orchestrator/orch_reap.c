/* orch_reap.c — the task reaper: which ended tasks to delete (see orch.h). Docker's rules:
 * a task being removed (scale-down, service removal) goes once it has stopped or will never
 * run; otherwise each slot (replicated) or node (global) keeps its newest tasks, up to the
 * swarm's TaskHistoryRetentionLimit (MaxAttempts + 1 when the restart policy limits
 * attempts, so the count of attempts survives), deleting the oldest ended ones first.
 * Pure; one thread. */
#include "orch_int.h"

#include <stdlib.h>
#include <string.h>

static bool ended(const struct orch_task *t)
{
    /* terminal, or never got to a node and will not run now */
    return t->observed > TASK_RUNNING || (t->observed < TASK_ASSIGNED && t->desired > TASK_RUNNING);
}

static int cmp_group_then_time(const void *a, const void *b, void *mode)
{
    const struct orch_task *x = *(const struct orch_task *const *)a;
    const struct orch_task *y = *(const struct orch_task *const *)b;
    if (*(enum orch_mode *)mode == ORCH_GLOBAL) {
        int c = strcmp(x->node_id ? x->node_id : "", y->node_id ? y->node_id : "");
        if (c)
            return c;
    } else if (x->slot != y->slot) {
        return x->slot < y->slot ? -1 : 1;
    }
    if (x->status_ns != y->status_ns)
        return x->status_ns < y->status_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

static bool same_group(enum orch_mode mode, const struct orch_task *x, const struct orch_task *y)
{
    if (mode == ORCH_GLOBAL)
        return !strcmp(x->node_id ? x->node_id : "", y->node_id ? y->node_id : "");
    return x->slot == y->slot;
}

size_t orch_reap(const struct orch_service *svc, int64_t history_limit,
                 const struct orch_task *tasks, size_t n, const char **out)
{
    size_t nout = 0;
    int64_t limit = history_limit;
    if (svc->restart.max_attempts > 0)
        limit = (int64_t)svc->restart.max_attempts + 1;
    const struct orch_task **by = xmalloc((n + 1) * sizeof(*by));
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i].desired == TASK_REMOVE && ended(&tasks[i]))
            out[nout++] = tasks[i].id;
        else
            by[nb++] = &tasks[i];
    }
    if (limit >= 0) {
        enum orch_mode mode = svc->mode;
        qsort_r(by, nb, sizeof(*by), cmp_group_then_time, &mode);
        for (size_t i = 0; i < nb;) {
            size_t end = i;
            while (end < nb && same_group(mode, by[i], by[end]))
                end++;
            int64_t keep = (int64_t)(end - i);
            for (size_t j = i; j < end && keep > limit; j++) /* oldest first */
                if (ended(by[j])) {
                    out[nout++] = by[j]->id;
                    keep--;
                }
            i = end;
        }
    }
    free(by);
    return nout;
}
