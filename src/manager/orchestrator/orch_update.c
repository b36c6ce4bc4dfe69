/* orch_update.c — rolling updates and rollbacks of replicated services (see orch.h).
 *
 * A slot is out of date when its live tasks all carry an older task template version. The
 * update works through those slots in slot order with `parallelism` lanes: a lane takes a
 * slot, replaces its task (stop-first: the old one is shut down and the new one, created
 * with desired READY, starts once the old has stopped — the restart supervisor's
 * mechanism with no delay; start-first: the new one starts at once and the old is shut
 * down when the new runs), and once the new task has reached RUNNING (or ended) the lane
 * rests for `delay` before its next slot. The first new task of each slot is watched: if
 * it ends within `monitor` of running, that is a failure; once failures exceed
 * max_failure_ratio of the slots the failure action applies. When every slot is done and
 * the last new task has been watched for `monitor` (or delay + 1 s if the delay is longer),
 * the update completes. Docker's states and messages throughout.
 * Pure logic; one thread. */
#include "orch_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NS 1000000000LL

struct upd_slot {
    char task_id[64]; /* the first new task the update made for the slot, once seen */
    int64_t running_at;
    bool done, counted;
};

struct upd_lane {
    uint64_t slot; /* 0: free */
    int64_t busy_until;
};

struct upd {
    uint64_t version;
    bool rollback;
    size_t total, failures;
    struct strmap *slots; /* "s:<n>" → struct upd_slot */
    struct upd_lane *lanes;
    size_t nlanes;
};

static const char *const upd_names[] = {
    "",
    "updating",
    "paused",
    "completed",
    "rollback_started",
    "rollback_paused",
    "rollback_completed",
};

const char *orch_update_state_name(enum orch_update_state s)
{
    return (unsigned)s < ARRAY_SIZE(upd_names) ? upd_names[s] : "";
}

void orch_update_free(struct upd *u)
{
    if (!u)
        return;
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(u->slots, &it, &k, &v))
        free(v);
    strmap_free(u->slots);
    free(u->lanes);
    free(u);
}

static void status(struct ctx *c, enum orch_update_state st, const char *fmt, const char *id)
{
    struct orch_action a = {.kind = ORCH_UPDATE_STATUS, .update_state = st};
    if (id)
        snprintf(a.message, sizeof(a.message), "%s %s", fmt, id);
    else
        snprintf(a.message, sizeof(a.message), "%s", fmt);
    orch_emit(c->out, a);
}

static void stop_update(struct ctx *c)
{
    orch_update_free(c->mem->upd);
    c->mem->upd = NULL;
    c->mem->upd_wake = INT64_MAX;
}

static bool live(const struct orch_task *t)
{
    return t->desired <= TASK_RUNNING;
}

/* Out of date: live tasks, none of the current template version. */
static bool slot_dirty(const struct ctx *c, const struct orch_task *tasks, size_t n, uint64_t slot)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i].slot != slot || !live(&tasks[i]))
            continue;
        if (tasks[i].spec_version == c->svc->spec_version)
            return false;
        any = true;
    }
    return any;
}

/* Did this reconcile already create a task for the slot (the restart supervisor)? */
static bool created_now(const struct ctx *c, uint64_t slot)
{
    for (size_t i = 0; i < c->out->n; i++)
        if (c->out->v[i].kind == ORCH_CREATE && c->out->v[i].slot == slot)
            return true;
    return false;
}

static struct upd_slot *slot_get(struct upd *u, uint64_t slot, bool create)
{
    char key[32];
    snprintf(key, sizeof(key), "s:%llu", (unsigned long long)slot);
    struct upd_slot *s = strmap_get(u->slots, key);
    if (!s && create) {
        s = xcalloc(1, sizeof(*s));
        strmap_put(u->slots, key, s);
    }
    return s;
}

/* The update's new task of the slot: the one it saw first, else the oldest of the
 * current version. */
static const struct orch_task *new_task(const struct ctx *c, struct upd_slot *us,
                                        const struct orch_task *tasks, size_t n, uint64_t slot)
{
    const struct orch_task *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct orch_task *t = &tasks[i];
        if (t->slot != slot || t->spec_version != c->svc->spec_version)
            continue;
        if (us->task_id[0] && !strcmp(us->task_id, t->id))
            return t;
        /* an older task of the same template (a rollback's target, retired by the update) is
         * history, not the slot's new task */
        if (!us->task_id[0] && t->desired <= TASK_RUNNING &&
            (!best || t->status_ns < best->status_ns))
            best = t;
    }
    if (best)
        snprintf(us->task_id, sizeof(us->task_id), "%s", best->id);
    return best;
}

/* Has the slot a live task of the current template? */
static bool live_new(const struct ctx *c, const struct orch_task *tasks, size_t n, uint64_t slot)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i].slot == slot && live(&tasks[i]) &&
            tasks[i].spec_version == c->svc->spec_version)
            return true;
    return false;
}

/* A lane replaces the slot's task: stop-first shuts the old ones down and creates the new
 * one READY (the supervisor's wait-for-stop starts it, with no delay); start-first creates
 * it RUNNING. first: the lane takes the slot now. Otherwise the lane took it earlier and the
 * pass that decided so may not have been applied (its writes raced another writer and failed;
 * the pass starts over from the store, but this memory already holds the lane), so what is
 * missing is decided again: the old tasks still live, the new task if none is live and this
 * reconcile made none. */
static void replace_slot(struct ctx *c, const struct orch_update_config *cfg,
                         const struct orch_task *tasks, size_t n, uint64_t slot, bool first)
{
    bool stop_first = cfg->order == ORCH_STOP_FIRST;
    bool create = first || (!created_now(c, slot) && !live_new(c, tasks, n, slot));
    if (stop_first) {
        for (size_t i = 0; i < n; i++)
            if (tasks[i].slot == slot && live(&tasks[i]) &&
                tasks[i].spec_version != c->svc->spec_version)
                orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                       .task_id = tasks[i].id,
                                                       .desired = TASK_SHUTDOWN});
        if (create) {
            char hk[32];
            snprintf(hk, sizeof(hk), "s:%llu", (unsigned long long)slot);
            struct history *h = orch_history_get(c, hk, true);
            h->start_at = h->wake_at = c->now;
            h->released = false;
        }
    }
    if (create)
        orch_emit(c->out, (struct orch_action){.kind = ORCH_CREATE,
                                               .slot = slot,
                                               .desired = stop_first ? TASK_READY : TASK_RUNNING});
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void orch_update_step(struct ctx *c, const struct orch_task *tasks, size_t n)
{
    const struct orch_service *svc = c->svc;
    enum orch_update_state st = svc->update_state;
    if (st == ORCH_UPD_PAUSED || st == ORCH_UPD_ROLLBACK_PAUSED) {
        stop_update(c);
        return;
    }
    bool rollback = st == ORCH_UPD_ROLLBACK_STARTED;
    /* the out-of-date slots, in slot order */
    uint64_t *dirty = xmalloc((n + 1) * sizeof(*dirty));
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < nd && !seen; j++)
            seen = dirty[j] == tasks[i].slot;
        if (!seen && slot_dirty(c, tasks, n, tasks[i].slot))
            dirty[nd++] = tasks[i].slot;
    }
    qsort(dirty, nd, sizeof(*dirty), cmp_u64);
    struct upd *u = c->mem->upd;
    if (u && (u->version != svc->spec_version || u->rollback != rollback)) {
        stop_update(c); /* a newer spec (or a rollback) replaces the running update */
        u = NULL;
    }
    const struct orch_update_config *cfg = rollback ? &svc->rollback : &svc->update;
    if (!u) {
        if (nd == 0) {
            if (st == ORCH_UPD_UPDATING)
                status(c, ORCH_UPD_COMPLETED, "update completed", NULL);
            else if (rollback)
                status(c, ORCH_UPD_ROLLBACK_COMPLETED, "rollback completed", NULL);
            free(dirty);
            return;
        }
        u = xcalloc(1, sizeof(*u));
        u->version = svc->spec_version;
        u->rollback = rollback;
        u->total = nd;
        u->slots = strmap_new();
        u->nlanes = cfg->parallelism && cfg->parallelism < nd ? cfg->parallelism : nd;
        u->lanes = xcalloc(u->nlanes, sizeof(*u->lanes));
        c->mem->upd = u;
    }
    if (!rollback && st != ORCH_UPD_UPDATING) /* again if that write was not applied */
        status(c, ORCH_UPD_UPDATING, "update in progress", NULL);
    int64_t monitor = cfg->monitor_ns;

    /* 1. failures of the new tasks while they are watched */
    size_t it = 0;
    const char *key;
    void *val;
    while (strmap_next(u->slots, &it, &key, &val)) {
        struct upd_slot *us = val;
        uint64_t slot = strtoull(key + 2, NULL, 10);
        const struct orch_task *t = new_task(c, us, tasks, n, slot);
        if (!t || us->counted || t->observed <= TASK_RUNNING)
            continue;
        if (us->running_at && c->now - us->running_at > monitor)
            continue;
        us->counted = true;
        u->failures++;
        if (cfg->failure_action == ORCH_FAIL_CONTINUE ||
            (double)u->failures / (double)u->total <= cfg->max_failure_ratio)
            continue;
        char id[64];
        snprintf(id, sizeof(id), "%s", t->id);
        if (cfg->failure_action == ORCH_FAIL_PAUSE || rollback)
            status(c, rollback ? ORCH_UPD_ROLLBACK_PAUSED : ORCH_UPD_PAUSED,
                   rollback ? "rollback paused due to failure or early termination of task"
                            : "update paused due to failure or early termination of task",
                   id);
        else
            status(c, ORCH_UPD_ROLLBACK_STARTED,
                   "update rolled back due to failure or early termination of task", id);
        stop_update(c);
        free(dirty);
        return;
    }

    /* 2. lanes whose slot's new task reached RUNNING (or ended) rest for the delay */
    for (size_t l = 0; l < u->nlanes; l++) {
        struct upd_lane *ln = &u->lanes[l];
        if (!ln->slot)
            continue;
        struct upd_slot *us = slot_get(u, ln->slot, true);
        const struct orch_task *t = new_task(c, us, tasks, n, ln->slot);
        if (!t || t->observed < TASK_RUNNING) {
            /* what the pass that took the slot decided may not have been applied */
            if (!us->task_id[0] || (t && cfg->order == ORCH_STOP_FIRST))
                replace_slot(c, cfg, tasks, n, ln->slot, false);
            continue;
        }
        if (t->observed == TASK_RUNNING)
            us->running_at = c->now;
        us->done = true;
        ln->slot = 0;
        ln->busy_until = c->now + cfg->delay_ns;
    }

    /* start-first: once a finished slot's new task runs, its old tasks are shut down (in every
     * pass while they live: the pass that decided it first may not have been applied) */
    for (size_t i = 0; cfg->order == ORCH_START_FIRST && i < n; i++) {
        if (!live(&tasks[i]) || tasks[i].spec_version == svc->spec_version)
            continue;
        struct upd_slot *us = slot_get(u, tasks[i].slot, false);
        const struct orch_task *t =
            us && us->done ? new_task(c, us, tasks, n, tasks[i].slot) : NULL;
        if (t && t->observed == TASK_RUNNING)
            orch_emit(c->out, (struct orch_action){.kind = ORCH_SET_DESIRED,
                                                   .task_id = tasks[i].id,
                                                   .desired = TASK_SHUTDOWN});
    }

    /* 3. free lanes take the next out-of-date slots */
    size_t next = 0, pending = 0;
    for (size_t l = 0; l < u->nlanes; l++) {
        struct upd_lane *ln = &u->lanes[l];
        if (ln->slot || ln->busy_until > c->now)
            continue;
        while (next < nd && (slot_get(u, dirty[next], false) || created_now(c, dirty[next])))
            next++;
        if (next == nd)
            break;
        uint64_t slot = dirty[next++];
        slot_get(u, slot, true);
        ln->slot = slot;
        replace_slot(c, cfg, tasks, n, slot, true);
    }
    for (size_t i = 0; i < nd; i++)
        if (!slot_get(u, dirty[i], false))
            pending++;

    /* 4. done when no slot is left or in flight and the last new task was watched long
     * enough; otherwise wake for the next lane or the end of the watch */
    bool busy = pending > 0;
    int64_t wake = INT64_MAX;
    for (size_t l = 0; l < u->nlanes; l++) {
        if (u->lanes[l].slot)
            busy = true;
        else if (u->lanes[l].busy_until > c->now && pending && u->lanes[l].busy_until < wake)
            wake = u->lanes[l].busy_until;
    }
    if (!busy) {
        int64_t watch = cfg->delay_ns >= monitor ? cfg->delay_ns + S_NS : monitor;
        int64_t end = 0;
        it = 0;
        while (strmap_next(u->slots, &it, &key, &val)) {
            const struct upd_slot *us = val;
            if (us->running_at + watch > end)
                end = us->running_at + watch;
        }
        if (c->now >= end) {
            status(c, rollback ? ORCH_UPD_ROLLBACK_COMPLETED : ORCH_UPD_COMPLETED,
                   rollback ? "rollback completed" : "update completed", NULL);
            stop_update(c);
            free(dirty);
            return;
        }
        wake = end;
    }
    c->mem->upd_wake = wake;
    free(dirty);
}
