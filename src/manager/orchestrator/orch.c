/* orch.c — replicated and global orchestration and the restart supervisor (see orch.h).
 *
 * A "key" is where a task lives: its slot for replicated services ("s:<n>"), its node for
 * global ones ("n:<id>"). Per service the orchestrator keeps, by key, the restart history
 * (timestamps of the replacements it made, for MaxAttempts within Window) and the pending
 * delay of a replacement it created with desired state READY. Everything else is read from
 * the tasks passed in, so a new leader's orchestrator (empty history) converges to the same
 * place, only forgetting how many restarts were spent, as Docker's does.
 * Pure logic; one thread. */
#include "orch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-service memory ---- */

struct orch *orch_new(void)
{
    struct orch *o = xcalloc(1, sizeof(*o));
    o->svcs = strmap_new();
    return o;
}

static void svc_mem_free(struct svc_mem *m)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(m->keys, &it, &k, &v)) {
        struct history *h = v;
        free(h->at);
        free(h);
    }
    strmap_free(m->keys);
    orch_update_free(m->upd);
    free(m);
}

void orch_free(struct orch *o)
{
    if (!o)
        return;
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(o->svcs, &it, &k, &v))
        svc_mem_free(v);
    strmap_free(o->svcs);
    free(o);
}

void orch_forget_service(struct orch *o, const char *service_id)
{
    struct svc_mem *m = strmap_del(o->svcs, service_id);
    if (m)
        svc_mem_free(m);
}

int64_t orch_next_deadline(const struct orch *o)
{
    int64_t best = INT64_MAX;
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(o->svcs, &it, &k, &v)) {
        const struct svc_mem *m = v;
        if (m->upd && m->upd_wake < best)
            best = m->upd_wake;
        size_t j = 0;
        const char *hk;
        void *hv;
        while (strmap_next(((struct svc_mem *)v)->keys, &j, &hk, &hv)) {
            const struct history *h = hv;
            if (h->wake_at && h->wake_at < best)
                best = h->wake_at;
        }
    }
    return best;
}

void orch_actions_release(struct orch_actions *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

void orch_emit(struct orch_actions *a, struct orch_action act)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = act;
}

/* ---- the restart supervisor ---- */

const struct orch_node *orch_node_get(const struct ctx *c, const char *id)
{
    if (!id || !id[0])
        return NULL;
    for (size_t i = 0; i < c->nnodes; i++)
        if (!strcmp(c->nodes[i].id, id))
            return &c->nodes[i];
    return NULL;
}

void orch_task_key(const struct ctx *c, const struct orch_task *t, char *key, size_t cap)
{
    if (c->svc->mode == ORCH_GLOBAL || c->svc->mode == ORCH_GLOBAL_JOB)
        snprintf(key, cap, "n:%s", t->node_id ? t->node_id : "");
    else
        snprintf(key, cap, "s:%llu", (unsigned long long)t->slot);
}

struct history *orch_history_get(struct ctx *c, const char *key, bool create)
{
    struct history *h = strmap_get(c->mem->keys, key);
    if (!h && create) {
        h = xcalloc(1, sizeof(*h));
        strmap_put(c->mem->keys, key, h);
    }
    return h;
}

/* Docker's rule: does the restart policy replace this task, ended as it is? */
bool orch_is_job(const struct orch_service *svc)
{
    return svc->mode == ORCH_REPLICATED_JOB || svc->mode == ORCH_GLOBAL_JOB;
}

/* The desired state of a task that should run: RUNNING, or COMPLETE for a job's. */
static enum task_state run_state(const struct ctx *c)
{
    return orch_is_job(c->svc) ? TASK_COMPLETE : TASK_RUNNING;
}

bool orch_should_restart(struct ctx *c, const struct orch_task *t)
{
    const struct orch_restart *r = &c->svc->restart;
    if (r->condition == ORCH_RESTART_NONE)
        return false;
    if (orch_is_job(c->svc) && t->observed == TASK_COMPLETE)
        return false; /* a job's task that completed is done */
    if (r->condition == ORCH_RESTART_ON_FAILURE && t->observed == TASK_COMPLETE)
        return false;
    if (r->max_attempts == 0)
        return true;
    char key[128];
    orch_task_key(c, t, key, sizeof(key));
    struct history *h = orch_history_get(c, key, false);
    if (!h || h->spec_version != c->svc->spec_version)
        return true;
    if (r->window_ns == 0)
        return h->total < r->max_attempts;
    /* replacements made within the window before this task ended (not after it) */
    uint64_t inside = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->at[i] > t->status_ns - r->window_ns && h->at[i] <= t->status_ns)
            inside++;
    return inside < r->max_attempts;
}

static void history_record(struct ctx *c, const char *key, int64_t start_at)
{
    struct history *h = orch_history_get(c, key, true);
    if (h->spec_version != c->svc->spec_version) {
        h->spec_version = c->svc->spec_version;
        h->total = 0;
        h->n = 0;
    }
    h->total++;
    uint64_t keep = c->svc->restart.max_attempts ? c->svc->restart.max_attempts : 1;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 4;
        h->at = xrealloc(h->at, h->cap * sizeof(*h->at));
    }
    h->released = false;
    h->at[h->n++] = c->now;
    if (h->n > keep) { /* only the newest MaxAttempts can matter */
        memmove(h->at, h->at + (h->n - keep), keep * sizeof(*h->at));
        h->n = keep;
    }
    h->start_at = start_at;
    h->wake_at = start_at;
}

/* A task that must go: it ended, or its node is down or drained. Shut it down and, if the
 * policy says so, create its replacement (desired READY until the delay is over). */
void orch_restart_task(struct ctx *c, const struct orch_task *t, const struct orch_node *nd)
{
    orch_emit(c->out, (struct orch_action){
                          .kind = ORCH_SET_DESIRED, .task_id = t->id, .desired = TASK_SHUTDOWN});
    if (!orch_should_restart(c, t))
        return;
    /* Tasks moved off a drained, down or removed node start at once; the ones that ended
     * after the delay. The delay guards against crash loops; a lost node is not one, so
     * unlike swarmkit (which waits the delay here too) its tasks are not held back. */
    int64_t delay = !nd || nd->drained || nd->down ? 0 : c->svc->restart.delay_ns;
    bool old_stopped = t->observed > TASK_RUNNING || (nd && nd->down) || !nd;
    bool now = delay == 0 && old_stopped;
    char key[128];
    orch_task_key(c, t, key, sizeof(key));
    history_record(c, key, now ? 0 : c->now + delay);
    orch_emit(c->out, (struct orch_action){.kind = ORCH_CREATE,
                                           .slot = t->slot,
                                           .node_id = c->svc->mode == ORCH_GLOBAL ||
                                                              c->svc->mode == ORCH_GLOBAL_JOB
                                                          ? t->node_id
                                                          : NULL,
                                           .desired = now ? run_state(c) : TASK_READY,
                                           .replaces = t->id});
}

/* A replacement created with desired READY: RUNNING once its delay is over and the task it
 * replaces has stopped (or a minute later in any case). */
void orch_maybe_start(struct ctx *c, const struct orch_task *t, const struct orch_task *all,
                      size_t n)
{
    char key[128];
    orch_task_key(c, t, key, sizeof(key));
    struct history *h = orch_history_get(c, key, true);
    /* no pending delay known (a new leader): it counts from the task's own last report;
     * a wait already over (its start was not committed) is not waited again */
    if (!h->start_at && !h->released)
        h->start_at = t->status_ns + c->svc->restart.delay_ns;
    bool old_running = false;
    for (size_t i = 0; i < n; i++) {
        const struct orch_task *o = &all[i];
        char ok[128];
        orch_task_key(c, o, ok, sizeof(ok));
        const struct orch_node *nd = orch_node_get(c, o->node_id);
        if (o != t && !strcmp(ok, key) && o->desired > TASK_RUNNING &&
            o->observed <= TASK_RUNNING && o->observed >= TASK_ASSIGNED && nd && !nd->down)
            old_running = true;
    }
    if (c->now < h->start_at) {
        h->wake_at = h->start_at;
        return;
    }
    if (old_running && c->now < h->start_at + ORCH_WAIT_STOP_NS) {
        h->wake_at = h->start_at + ORCH_WAIT_STOP_NS; /* or the old task's next report */
        return;
    }
    h->start_at = h->wake_at = 0;
    h->released = true;
    orch_emit(c->out, (struct orch_action){
                          .kind = ORCH_SET_DESIRED, .task_id = t->id, .desired = run_state(c)});
}

/* A live task that may go on: not ended, and on a node that is up and not drained (or not
 * assigned yet). */
static bool healthy(const struct ctx *c, const struct orch_task *t, const struct orch_node *nd)
{
    (void)c;
    bool assigned = t->node_id && t->node_id[0];
    return t->desired <= TASK_RUNNING && t->observed <= TASK_RUNNING &&
           (!assigned || (nd && !nd->down && !nd->drained));
}

/* A slot (or node) whose newest task ended and will not be replaced stays taken, as in
 * Docker: a task with restart-condition none that failed is not recreated. Tasks being
 * removed (scale-down) do not hold their slot. */
static bool kept_by_policy(struct ctx *c, const struct orch_task *newest)
{
    return newest && newest->desired != TASK_REMOVE && newest->observed > TASK_RUNNING &&
           !orch_should_restart(c, newest);
}

/* ---- replicated ---- */

struct slot_info {
    uint64_t slot;
    const struct orch_task *newest; /* by status time */
    size_t live;                    /* tasks with desired <= RUNNING after this round */
    bool running;                   /* a live task is observed RUNNING */
    const char *node;               /* node of a live task */
    size_t node_rank;               /* this slot is the node_rank-th of its node */
};

static int cmp_task_slot(const void *a, const void *b)
{
    const struct orch_task *x = *(const struct orch_task *const *)a;
    const struct orch_task *y = *(const struct orch_task *const *)b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Scale-down order: slots not running first, then the slots whose node holds the most
 * tasks of the service, then the highest slot numbers. */
static int cmp_remove_order(const void *a, const void *b)
{
    const struct slot_info *x = *(const struct slot_info *const *)a;
    const struct slot_info *y = *(const struct slot_info *const *)b;
    if (x->running != y->running)
        return x->running ? 1 : -1;
    if (x->node_rank != y->node_rank)
        return x->node_rank > y->node_rank ? -1 : 1;
    return x->slot > y->slot ? -1 : x->slot < y->slot;
}

static void reconcile_replicated(struct ctx *c, const struct orch_task *tasks, size_t n)
{
    const struct orch_task **by = xmalloc((n + 1) * sizeof(*by));
    for (size_t i = 0; i < n; i++)
        by[i] = &tasks[i];
    qsort(by, n, sizeof(*by), cmp_task_slot);
    struct slot_info *slots = xcalloc(n + 1, sizeof(*slots));
    size_t ns = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        struct slot_info *s = &slots[ns++];
        s->slot = by[i]->slot;
        size_t end = i;
        while (end < n && by[end]->slot == s->slot)
            end++;
        for (; j < end; j++) {
            const struct orch_task *t = by[j];
            if (!s->newest || t->status_ns > s->newest->status_ns)
                s->newest = t;
            if (t->desired > TASK_RUNNING)
                continue;
            const struct orch_node *nd = orch_node_get(c, t->node_id);
            if (!healthy(c, t, nd)) {
                /* another healthy task holds the slot (a start-first update's new one),
                 * or this round replaced one already: this one just goes */
                bool other = s->live > 0; /* a replacement was made for the slot already */
                for (size_t x = i; x < end && !other; x++)
                    other = by[x] != t && healthy(c, by[x], orch_node_get(c, by[x]->node_id));
                if (other) {
                    orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                           .task_id = t->id,
                                                           .desired = TASK_SHUTDOWN});
                    continue;
                }
                size_t before = c->out->n;
                orch_restart_task(c, t, nd);
                if (c->out->n - before == 2) /* a replacement was created */
                    s->live++;
                continue;
            }
            if (t->desired == TASK_READY)
                orch_maybe_start(c, t, tasks, n);
            s->live++;
            if (t->observed == TASK_RUNNING)
                s->running = true;
            if (t->node_id && t->node_id[0])
                s->node = t->node_id;
        }
        i = j;
    }
    /* occupied: a live task, or a newest task the policy will not replace (Docker keeps
     * such a slot, so a failed task with restart-condition none is not recreated) */
    size_t occupied = 0;
    for (size_t i = 0; i < ns; i++)
        if (slots[i].live || kept_by_policy(c, slots[i].newest))
            occupied++;
    uint64_t want = c->svc->replicas;
    if (occupied < want) {
        /* the lowest slot numbers not occupied; a dead slot's number is reused */
        uint64_t next = 1;
        size_t k = 0;
        for (uint64_t made = 0; made < want - occupied; next++) {
            while (k < ns && slots[k].slot < next)
                k++;
            bool taken = k < ns && slots[k].slot == next &&
                         (slots[k].live || kept_by_policy(c, slots[k].newest));
            if (taken)
                continue;
            orch_emit(c->out, (struct orch_action){
                                  .kind = ORCH_CREATE, .slot = next, .desired = TASK_RUNNING});
            made++;
        }
    } else if (occupied > want) {
        /* rank each live slot within its node: the k-th slot of a node has rank k */
        struct slot_info **live = xmalloc((ns + 1) * sizeof(*live));
        size_t nl = 0;
        for (size_t i = 0; i < ns; i++)
            if (slots[i].live)
                live[nl++] = &slots[i];
        struct strmap *per_node = strmap_new();
        for (size_t i = 0; i < nl; i++) {
            if (!live[i]->node)
                continue;
            uintptr_t k = (uintptr_t)strmap_get(per_node, live[i]->node) + 1;
            strmap_put(per_node, live[i]->node, (void *)k);
            live[i]->node_rank = k;
        }
        strmap_free(per_node);
        qsort(live, nl, sizeof(*live), cmp_remove_order);
        size_t drop = occupied - want < nl ? occupied - want : nl;
        for (size_t i = 0; i < drop; i++) {
            for (size_t j = 0; j < n; j++)
                if (tasks[j].slot == live[i]->slot && tasks[j].desired <= TASK_RUNNING)
                    orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                           .task_id = tasks[j].id,
                                                           .desired = TASK_REMOVE});
            char key[64];
            snprintf(key, sizeof(key), "s:%llu", (unsigned long long)live[i]->slot);
            struct history *h = orch_history_get(c, key, false);
            if (h)
                h->start_at = h->wake_at = 0;
        }
        free(live);
    }
    free(slots);
    free(by);
    orch_update_step(c, tasks, n);
}

/* ---- global ---- */

static void reconcile_global(struct ctx *c, const struct orch_task *tasks, size_t n)
{
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct orch_node *nd = &c->nodes[i];
        size_t live = 0;
        const struct orch_task *newest = NULL;
        for (size_t j = 0; j < n; j++) {
            const struct orch_task *t = &tasks[j];
            if (!t->node_id || strcmp(t->node_id, nd->id))
                continue;
            if (!newest || t->status_ns > newest->status_ns)
                newest = t;
            if (t->desired > TASK_RUNNING)
                continue;
            if (!nd->eligible || nd->drained) {
                /* the node no longer takes the service: shut it down, no replacement */
                orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                       .task_id = t->id,
                                                       .desired = TASK_SHUTDOWN});
                continue;
            }
            if (t->observed > TASK_RUNNING) {
                size_t before = c->out->n;
                orch_restart_task(c, t, nd);
                live += c->out->n - before == 2;
                continue;
            }
            if (t->desired == TASK_READY)
                orch_maybe_start(c, t, tasks, n);
            live++;
        }
        /* a down node keeps its task (it comes back with it); an eligible one gets one */
        if (!live && !kept_by_policy(c, newest) && nd->eligible && !nd->drained && !nd->down)
            orch_emit(c->out, (struct orch_action){
                                  .kind = ORCH_CREATE, .node_id = nd->id, .desired = TASK_RUNNING});
    }
    /* tasks of nodes that are gone */
    for (size_t j = 0; j < n; j++) {
        const struct orch_task *t = &tasks[j];
        if (t->desired <= TASK_RUNNING && !orch_node_get(c, t->node_id))
            orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                   .task_id = t->id,
                                                   .desired = TASK_REMOVE});
    }
}

void orch_reconcile(struct orch *o, const struct orch_service *svc, const struct orch_task *tasks,
                    size_t ntasks, const struct orch_node *nodes, size_t nnodes, int64_t now_ns,
                    struct orch_actions *out)
{
    struct svc_mem *mem = strmap_get(o->svcs, svc->id);
    if (!mem) {
        mem = xcalloc(1, sizeof(*mem));
        mem->keys = strmap_new();
        mem->upd_wake = INT64_MAX;
        strmap_put(o->svcs, svc->id, mem);
    }
    struct ctx c = {o, svc, mem, nodes, nnodes, now_ns, out};
    if (svc->mode == ORCH_GLOBAL)
        reconcile_global(&c, tasks, ntasks);
    else if (orch_is_job(svc))
        orch_reconcile_job(&c, tasks, ntasks);
    else
        reconcile_replicated(&c, tasks, ntasks);
}
