/* test_orch.c — the orchestrators (src/manager/orchestrator) driven step by step with a fake
 * clock: scale up and down, the restart policy (conditions, delay, attempts in a window),
 * down and drained nodes, global services following nodes, and a simulation in which the
 * orchestrator, the scheduler and a fake agent run together under random failures, checking
 * after every step that observed states never go backwards, no slot ever has two running
 * tasks, nothing is placed on a drained or down node, and the replicas converge. */
#include "harness.h"
#include "manager/orchestrator/orch.h"
#include "manager/scheduler/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S (1000000000LL)
#define T0 (1000 * S) /* the fake clock starts here */

/* ---- a tiny fake store of tasks ---- */

struct fake {
    struct orch_task t[512];
    char ids[512][16];
    char nodes[512][16];
    size_t n;
    int next_id;
};

static struct orch_task *f_add(struct fake *f, uint64_t slot, const char *node,
                               enum task_state desired, enum task_state observed, int64_t at)
{
    BUG_ON(f->n >= 512);
    struct orch_task *t = &f->t[f->n];
    snprintf(f->ids[f->n], sizeof(f->ids[0]), "t%d", ++f->next_id);
    snprintf(f->nodes[f->n], sizeof(f->nodes[0]), "%s", node ? node : "");
    *t = (struct orch_task){.id = f->ids[f->n],
                            .slot = slot,
                            .node_id = f->nodes[f->n],
                            .desired = desired,
                            .observed = observed,
                            .spec_version = 1,
                            .status_ns = at};
    f->n++;
    return t;
}

static struct orch_task *f_get(struct fake *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].id, id))
            return &f->t[i];
    FAIL_AT("no task %s", id);
}

/* Applies actions: creations get new IDs (unassigned, observed NEW). Returns how many. */
static size_t f_apply(struct fake *f, const struct orch_actions *a, int64_t now)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct orch_action *x = &a->v[i];
        if (x->kind == ORCH_CREATE)
            f_add(f, x->slot, x->node_id, x->desired, TASK_NEW, now);
        else if (x->kind == ORCH_SET_DESIRED)
            f_get(f, x->task_id)->desired = x->desired;
    }
    return a->n;
}

static size_t f_live(const struct fake *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += f->t[i].desired <= TASK_RUNNING;
    return n;
}

static void reconcile(struct orch *o, const struct orch_service *svc, struct fake *f,
                      const struct orch_node *nodes, size_t nn, int64_t now, struct orch_actions *a)
{
    a->n = 0;
    orch_reconcile(o, svc, f->t, f->n, nodes, nn, now, a);
}

static const struct orch_service t_svc = {.id = "web",
                                          .mode = ORCH_REPLICATED,
                                          .replicas = 3,
                                          .spec_version = 1,
                                          .restart = {ORCH_RESTART_ANY, 5 * S, 0, 0}};

TEST(orch_task_state_names)
{
    ASSERT_EQ_STR(task_state_name(TASK_RUNNING), "running");
    ASSERT_EQ_STR(task_state_name(TASK_ORPHANED), "orphaned");
    ASSERT_NULL(task_state_name((enum task_state)99));
    ASSERT_EQ_INT(task_state_parse("rejected"), TASK_REJECTED);
    ASSERT_EQ_INT(task_state_parse("bogus"), -1);
    ASSERT_TRUE(TASK_RUNNING < TASK_COMPLETE && TASK_COMPLETE < TASK_SHUTDOWN);
}

TEST(orch_scale_up_and_down)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}, {"n2", false, false, true}};
    reconcile(o, &t_svc, &f, nodes, 2, T0, &a);
    ASSERT_EQ_INT(a.n, 3);
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ_INT(a.v[i].kind, ORCH_CREATE);
        ASSERT_EQ_INT(a.v[i].slot, i + 1);
        ASSERT_EQ_INT(a.v[i].desired, TASK_RUNNING);
    }
    f_apply(&f, &a, T0);
    reconcile(o, &t_svc, &f, nodes, 2, T0, &a);
    ASSERT_EQ_INT(a.n, 0); /* converged: nothing more to do */

    /* slots 1, 2 run on n1; slot 3 is still pending */
    f.t[0].node_id = "n1", f.t[0].observed = TASK_RUNNING;
    f.t[1].node_id = "n1", f.t[1].observed = TASK_RUNNING;
    struct orch_service one = t_svc;
    one.replicas = 1;
    reconcile(o, &one, &f, nodes, 2, T0, &a);
    /* the pending slot goes first, then the busiest node's later slot */
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_STR(a.v[0].task_id, f.t[2].id);
    ASSERT_EQ_INT(a.v[0].desired, TASK_REMOVE);
    ASSERT_EQ_STR(a.v[1].task_id, f.t[1].id);
    f_apply(&f, &a, T0);
    ASSERT_EQ_INT(f_live(&f), 1);
    /* scaling up again reuses the freed slot numbers */
    reconcile(o, &t_svc, &f, nodes, 2, T0, &a);
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_INT(a.v[0].slot, 2);
    ASSERT_EQ_INT(a.v[1].slot, 3);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_restart_delay_and_wait)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service one = t_svc;
    one.replicas = 1;
    struct orch_task *t = f_add(&f, 1, "n1", TASK_RUNNING, TASK_FAILED, T0);
    reconcile(o, &one, &f, nodes, 1, T0, &a);
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_INT(a.v[0].kind, ORCH_SET_DESIRED);
    ASSERT_EQ_STR(a.v[0].task_id, t->id);
    ASSERT_EQ_INT(a.v[0].desired, TASK_SHUTDOWN);
    ASSERT_EQ_INT(a.v[1].kind, ORCH_CREATE);
    ASSERT_EQ_INT(a.v[1].slot, 1);
    ASSERT_EQ_INT(a.v[1].desired, TASK_READY); /* waits out the 5 s delay */
    ASSERT_EQ_STR(a.v[1].replaces, t->id);
    f_apply(&f, &a, T0);
    ASSERT_EQ_INT(orch_next_deadline(o), T0 + 5 * S);
    reconcile(o, &one, &f, nodes, 1, T0 + 4 * S, &a);
    ASSERT_EQ_INT(a.n, 0);
    reconcile(o, &one, &f, nodes, 1, T0 + 5 * S, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_STR(a.v[0].task_id, f.t[1].id);
    ASSERT_EQ_INT(a.v[0].desired, TASK_RUNNING);
    f_apply(&f, &a, T0 + 5 * S);
    ASSERT_EQ_INT(orch_next_deadline(o), INT64_MAX);

    /* a drained node: the replacement has no delay but waits for the old task to stop */
    f.t[1].node_id = "n1";
    f.t[1].observed = TASK_RUNNING;
    struct orch_node two[] = {{"n1", false, true, true}, {"n2", false, false, true}};
    reconcile(o, &one, &f, two, 2, T0 + 10 * S, &a);
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_INT(a.v[1].desired, TASK_READY);
    f_apply(&f, &a, T0 + 10 * S);
    reconcile(o, &one, &f, two, 2, T0 + 11 * S, &a);
    ASSERT_EQ_INT(a.n, 0); /* the old one still runs */
    f.t[1].observed = TASK_SHUTDOWN;
    reconcile(o, &one, &f, two, 2, T0 + 12 * S, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_INT(a.v[0].desired, TASK_RUNNING);
    orch_actions_release(&a);
    orch_free(o);
}

/* The start of a replacement whose wait is over was not committed (the pass's transaction
 * failed): the next reconcile starts it again at once, not after another restart delay
 * counted from the task's last report (that stalled rolling updates by 5 s a slot). */
TEST(orch_start_not_committed_is_retried_at_once)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service one = t_svc;
    one.replicas = 1;
    f_add(&f, 1, "n1", TASK_RUNNING, TASK_FAILED, T0);
    reconcile(o, &one, &f, nodes, 1, T0, &a);
    f_apply(&f, &a, T0);
    reconcile(o, &one, &f, nodes, 1, T0 + 5 * S, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_INT(a.v[0].desired, TASK_RUNNING);
    /* not applied: the commit failed */
    f.t[1].status_ns = T0 + 5 * S; /* a report came meanwhile */
    reconcile(o, &one, &f, nodes, 1, T0 + 5 * S + S / 10, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_STR(a.v[0].task_id, f.t[1].id);
    ASSERT_EQ_INT(a.v[0].desired, TASK_RUNNING);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_restart_conditions)
{
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_actions a = {0};
    /* on-failure: a task that completed is not replaced, nor is its slot refilled */
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_service svc = t_svc;
    svc.replicas = 1;
    svc.restart.condition = ORCH_RESTART_ON_FAILURE;
    f_add(&f, 1, "n1", TASK_RUNNING, TASK_COMPLETE, T0);
    reconcile(o, &svc, &f, nodes, 1, T0, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_INT(a.v[0].desired, TASK_SHUTDOWN);
    f_apply(&f, &a, T0);
    reconcile(o, &svc, &f, nodes, 1, T0 + S, &a);
    ASSERT_EQ_INT(a.n, 0);
    /* ... but a failure is */
    f.t[0].observed = TASK_FAILED;
    f.t[0].desired = TASK_RUNNING;
    reconcile(o, &svc, &f, nodes, 1, T0 + 2 * S, &a);
    ASSERT_EQ_INT(a.n, 2);
    orch_free(o);

    /* none: never replaced */
    o = orch_new();
    f = (struct fake){0};
    svc.restart.condition = ORCH_RESTART_NONE;
    f_add(&f, 1, "n1", TASK_RUNNING, TASK_FAILED, T0);
    reconcile(o, &svc, &f, nodes, 1, T0, &a);
    ASSERT_EQ_INT(a.n, 1);
    f_apply(&f, &a, T0);
    reconcile(o, &svc, &f, nodes, 1, T0 + S, &a);
    ASSERT_EQ_INT(a.n, 0);
    orch_free(o);

    /* max 2 attempts within a 60 s window, no delay */
    o = orch_new();
    f = (struct fake){0};
    svc.restart = (struct orch_restart){ORCH_RESTART_ANY, 0, 2, 60 * S};
    f_add(&f, 1, "n1", TASK_RUNNING, TASK_FAILED, T0);
    int64_t now = T0;
    for (int attempt = 0; attempt < 2; attempt++) {
        reconcile(o, &svc, &f, nodes, 1, now, &a);
        ASSERT_EQ_INT(a.n, 2);
        ASSERT_EQ_INT(a.v[1].desired, TASK_RUNNING);
        f_apply(&f, &a, now);
        now += S;
        f.t[f.n - 1].observed = TASK_FAILED; /* the replacement fails a second later */
        f.t[f.n - 1].status_ns = now;
    }
    reconcile(o, &svc, &f, nodes, 1, now, &a);
    ASSERT_EQ_INT(a.n, 1); /* attempts spent: shut down, not replaced */
    f_apply(&f, &a, now);
    reconcile(o, &svc, &f, nodes, 1, now + S, &a);
    ASSERT_EQ_INT(a.n, 0);
    /* outside the window the attempts come back: a failure 2 minutes later is replaced */
    f.t[f.n - 1].desired = TASK_RUNNING;
    f.t[f.n - 1].status_ns = now + 120 * S;
    reconcile(o, &svc, &f, nodes, 1, now + 120 * S, &a);
    ASSERT_EQ_INT(a.n, 2);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_node_down)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_service svc = t_svc;
    svc.replicas = 2;
    f_add(&f, 1, "n1", TASK_RUNNING, TASK_RUNNING, T0);
    f_add(&f, 2, "n2", TASK_RUNNING, TASK_RUNNING, T0);
    struct orch_node nodes[] = {{"n1", true, false, true}, {"n2", false, false, true}};
    reconcile(o, &svc, &f, nodes, 2, T0 + S, &a);
    /* the down node's task: shut down and replaced at once (a lost node is no crash loop:
     * the restart delay is not waited, unlike swarmkit) */
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_STR(a.v[0].task_id, f.t[0].id);
    ASSERT_EQ_INT(a.v[1].slot, 1);
    ASSERT_EQ_INT(a.v[1].desired, TASK_RUNNING);
    f_apply(&f, &a, T0 + S);
    reconcile(o, &svc, &f, nodes, 2, T0 + 2 * S, &a);
    ASSERT_EQ_INT(a.n, 0);
    /* a removed node's tasks too */
    struct fake g = {0};
    f_add(&g, 1, "gone", TASK_RUNNING, TASK_RUNNING, T0);
    reconcile(o, &svc, &g, nodes, 2, T0, &a);
    ASSERT_EQ_INT(a.v[0].kind, ORCH_SET_DESIRED);
    ASSERT_EQ_INT(a.v[0].desired, TASK_SHUTDOWN);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_global)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_service svc = {.id = "agent",
                               .mode = ORCH_GLOBAL,
                               .spec_version = 1,
                               .restart = {ORCH_RESTART_ANY, 0, 0, 0}};
    struct orch_node nodes[] = {{"n1", false, false, true},
                                {"n2", false, false, false}, /* constraints exclude it */
                                {"n3", true, false, true},   /* down: nothing new there */
                                {"n4", false, true, true}};  /* drained */
    reconcile(o, &svc, &f, nodes, 4, T0, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_INT(a.v[0].kind, ORCH_CREATE);
    ASSERT_EQ_STR(a.v[0].node_id, "n1");
    ASSERT_EQ_INT(a.v[0].slot, 0);
    f_apply(&f, &a, T0);
    reconcile(o, &svc, &f, nodes, 4, T0, &a);
    ASSERT_EQ_INT(a.n, 0);
    /* n4 undrained: it gets one; n1 drained: its task is shut down, not replaced */
    nodes[3].drained = false;
    nodes[0].drained = true;
    reconcile(o, &svc, &f, nodes, 4, T0 + S, &a);
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_INT(a.v[0].kind, ORCH_SET_DESIRED);
    ASSERT_EQ_INT(a.v[0].desired, TASK_SHUTDOWN);
    ASSERT_EQ_INT(a.v[1].kind, ORCH_CREATE);
    ASSERT_EQ_STR(a.v[1].node_id, "n4");
    f_apply(&f, &a, T0 + S);
    /* a failure on n4 is restarted on n4 */
    f.t[1].observed = TASK_FAILED;
    reconcile(o, &svc, &f, nodes, 4, T0 + 2 * S, &a);
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_STR(a.v[1].node_id, "n4");
    /* a node that left: its tasks are removed */
    f_apply(&f, &a, T0 + 2 * S);
    reconcile(o, &svc, &f, nodes, 3, T0 + 3 * S, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_INT(a.v[0].desired, TASK_REMOVE);
    orch_actions_release(&a);
    orch_free(o);
}

/* ---- simulation: orchestrator + scheduler + a fake agent ---- */

static uint64_t t_rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#define SIM_NODES 5

TEST_T(orch_simulation_invariants, 60)
{
    uint64_t seed = 0x243f6a8885a308d3ULL;
    for (int run = 0; run < 20; run++) {
        struct orch *o = orch_new();
        struct sched *sc = sched_new();
        struct fake *f = calloc(1, sizeof(*f));
        struct orch_actions a = {0};
        struct orch_node nodes[SIM_NODES];
        char names[SIM_NODES][8];
        for (int i = 0; i < SIM_NODES; i++) {
            snprintf(names[i], sizeof(names[i]), "n%d", i);
            nodes[i] = (struct orch_node){names[i], false, false, true};
        }
        struct orch_service svc = t_svc;
        svc.replicas = 1 + t_rng(&seed) % 8;
        svc.restart.delay_ns = (int64_t)(t_rng(&seed) % 3) * S;
        svc.update =
            (struct orch_update_config){1 + t_rng(&seed) % 3,
                                        0,
                                        ORCH_FAIL_CONTINUE,
                                        S,
                                        0,
                                        t_rng(&seed) % 2 ? ORCH_START_FIRST : ORCH_STOP_FIRST};
        struct sched_group g = {.service_id = "web"};
        enum task_state seen[512] = {0};
        int64_t now = T0;
        int quiet = 0;
        for (int step = 0; step < 300; step++, now += S / 2) {
            /* the world changes now and then, then settles for the last 60 steps */
            if (step < 240 && t_rng(&seed) % 6 == 0) {
                int ev = (int)(t_rng(&seed) % 5);
                int k = (int)(t_rng(&seed) % SIM_NODES);
                if (ev == 0)
                    nodes[k].down = !nodes[k].down;
                else if (ev == 1)
                    nodes[k].drained = !nodes[k].drained;
                else if (ev == 2)
                    svc.replicas = 1 + t_rng(&seed) % 8;
                else if (ev == 3) { /* a new template: a rolling update */
                    svc.spec_version++;
                    svc.update_state = ORCH_UPD_NONE;
                } else if (f->n) { /* a running task fails */
                    struct orch_task *t = &f->t[t_rng(&seed) % f->n];
                    if (t->observed == TASK_RUNNING) {
                        t->observed = TASK_FAILED;
                        t->status_ns = now;
                        sched_task_remove(sc, t->node_id, &g);
                    }
                }
            }
            if (step >= 240)
                for (int i = 0; i < SIM_NODES; i++)
                    nodes[i].down = nodes[i].drained = false;
            /* the scheduler's view of the nodes */
            for (int i = 0; i < SIM_NODES; i++) {
                struct sched_node_desc d = {.id = names[i],
                                            .role = "worker",
                                            .ready = !nodes[i].down,
                                            .avail = nodes[i].drained ? SCHED_DRAIN : SCHED_ACTIVE};
                sched_node_set(sc, &d);
            }
            reconcile(o, &svc, f, nodes, SIM_NODES, now, &a);
            size_t first_new = f->n;
            f_apply(f, &a, now);
            for (size_t i = first_new; i < f->n; i++)
                f->t[i].spec_version = svc.spec_version;
            for (size_t i = 0; i < a.n; i++)
                if (a.v[i].kind == ORCH_UPDATE_STATUS)
                    svc.update_state = a.v[i].update_state;
            /* after the orchestrator ran, no live task stays on a down or drained node */
            for (size_t i = 0; i < f->n; i++) {
                const struct orch_task *t = &f->t[i];
                if (t->desired <= TASK_RUNNING && t->node_id[0]) {
                    ASSERT_FALSE(nodes[t->node_id[1] - '0'].down);
                    ASSERT_FALSE(nodes[t->node_id[1] - '0'].drained);
                }
            }
            /* schedule what is pending (desired RUNNING or READY, no node yet) */
            for (size_t i = 0; i < f->n; i++) {
                struct orch_task *t = &f->t[i];
                if (t->node_id[0] || t->desired > TASK_RUNNING)
                    continue;
                const char *nid = NULL;
                char why[256];
                if (sched_place(sc, &g, 1, &nid, why, sizeof(why)) == 1) {
                    snprintf(f->nodes[i], sizeof(f->nodes[0]), "%s", nid);
                    t->observed = TASK_ASSIGNED;
                    t->status_ns = now;
                } else {
                    t->observed = TASK_PENDING;
                }
            }
            /* the fake agent on every node that is up: one step per tick */
            for (size_t i = 0; i < f->n; i++) {
                struct orch_task *t = &f->t[i];
                int k = t->node_id[0] ? t->node_id[1] - '0' : -1;
                if (k < 0 || nodes[k].down)
                    continue;
                enum task_state before = t->observed;
                if (t->desired > TASK_RUNNING && t->observed <= TASK_RUNNING) {
                    t->observed = TASK_SHUTDOWN;
                    sched_task_remove(sc, t->node_id, &g);
                } else if (t->observed >= TASK_ASSIGNED && t->observed < TASK_READY) {
                    t->observed = TASK_READY;
                } else if (t->observed == TASK_READY && t->desired == TASK_RUNNING) {
                    t->observed = TASK_RUNNING;
                }
                if (t->observed != before)
                    t->status_ns = now;
            }
            /* invariants */
            /* one running task per slot; start-first updates briefly run the new one beside
             * the old ones (each of another template), as Docker does */
            uint64_t running_per_slot[64] = {0}, slot_vers[64][8];
            size_t running = 0;
            bool start_first = svc.update.order == ORCH_START_FIRST;
            for (size_t i = 0; i < f->n; i++) {
                struct orch_task *t = &f->t[i];
                ASSERT_TRUE(t->observed >= seen[i]); /* never backwards */
                seen[i] = t->observed;
                if (t->observed == TASK_RUNNING && t->desired <= TASK_RUNNING) {
                    int k = t->node_id[1] - '0';
                    if (!nodes[k].down) {
                        ASSERT_TRUE(t->slot < 64);
                        uint64_t k2 = running_per_slot[t->slot]++;
                        ASSERT_TRUE(k2 == 0 || start_first);
                        ASSERT_TRUE(k2 < 8);
                        for (uint64_t q = 0; q < k2; q++)
                            ASSERT_TRUE(slot_vers[t->slot][q] != t->spec_version);
                        slot_vers[t->slot][k2] = t->spec_version;
                        running++;
                    }
                }
                if (t->observed == TASK_ASSIGNED && t->status_ns == now) {
                    int k = t->node_id[1] - '0';
                    ASSERT_FALSE(nodes[k].down);
                    ASSERT_FALSE(nodes[k].drained);
                }
            }
            quiet = running == svc.replicas ? quiet + 1 : 0;
            ASSERT_TRUE(f->n < 500);
        }
        /* after the world settled, the replicas run, all of the newest template */
        ASSERT_TRUE(quiet > 10);
        for (size_t i = 0; i < f->n; i++)
            if (f->t[i].observed == TASK_RUNNING && f->t[i].desired == TASK_RUNNING)
                ASSERT_EQ_INT(f->t[i].spec_version, svc.spec_version);
        ASSERT_TRUE(svc.update_state == ORCH_UPD_NONE || svc.update_state == ORCH_UPD_COMPLETED);
        orch_actions_release(&a);
        free(f);
        sched_free(sc);
        orch_free(o);
    }
}

/* ---- rolling updates ---- */

/* The fake agent: shut down what should stop, run what should run (all on n1). */
static void agent_step(struct fake *f, int64_t now)
{
    for (size_t i = 0; i < f->n; i++) {
        struct orch_task *t = &f->t[i];
        enum task_state before = t->observed;
        if (t->desired > TASK_RUNNING && t->observed <= TASK_RUNNING)
            t->observed = TASK_SHUTDOWN;
        else if (t->desired == TASK_RUNNING && t->observed < TASK_RUNNING)
            t->observed = TASK_RUNNING;
        if (!t->node_id[0])
            t->node_id = "n1";
        if (t->observed != before)
            t->status_ns = now;
    }
}

static size_t count_version(const struct fake *f, uint64_t v, enum task_state observed)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += f->t[i].spec_version == v && f->t[i].observed == observed &&
             f->t[i].desired <= TASK_RUNNING;
    return n;
}

/* Applies the actions; new tasks get the service's version; status actions set state. */
static void apply_upd(struct fake *f, struct orch_service *svc, const struct orch_actions *a,
                      int64_t now)
{
    size_t before = f->n;
    f_apply(f, a, now);
    for (size_t i = before; i < f->n; i++)
        f->t[i].spec_version = svc->spec_version;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].kind != ORCH_UPDATE_STATUS)
            continue;
        svc->update_state = a->v[i].update_state;
        /* a rollback puts the previous template back, with its version */
        if (a->v[i].update_state == ORCH_UPD_ROLLBACK_STARTED)
            svc->spec_version = 1;
    }
}

static const struct orch_actions *find_status(const struct orch_actions *a, const char **msg)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].kind == ORCH_UPDATE_STATUS) {
            *msg = a->v[i].message;
            return a;
        }
    return NULL;
}

TEST(orch_update_stop_first)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service svc = t_svc; /* 3 replicas */
    svc.update = (struct orch_update_config){1, 0, ORCH_FAIL_PAUSE, 5 * S, 0, ORCH_STOP_FIRST};
    for (uint64_t s = 1; s <= 3; s++)
        f_add(&f, s, "n1", TASK_RUNNING, TASK_RUNNING, T0);
    svc.spec_version = 2;
    int64_t now = T0;
    reconcile(o, &svc, &f, nodes, 1, now, &a);
    const char *msg = NULL;
    ASSERT_NOT_NULL(find_status(&a, &msg));
    ASSERT_EQ_STR(msg, "update in progress");
    /* slot 1 first: old shut down, new waits READY */
    ASSERT_EQ_INT(a.n, 3);
    ASSERT_EQ_INT(a.v[1].kind, ORCH_SET_DESIRED);
    ASSERT_EQ_STR(a.v[1].task_id, f.t[0].id);
    ASSERT_EQ_INT(a.v[2].kind, ORCH_CREATE);
    ASSERT_EQ_INT(a.v[2].slot, 1);
    ASSERT_EQ_INT(a.v[2].desired, TASK_READY);
    apply_upd(&f, &svc, &a, now);
    ASSERT_EQ_INT(svc.update_state, ORCH_UPD_UPDATING);
    /* never more than one slot (parallelism 1) without a running new task; the new one
     * starts only after the old one stopped */
    bool completed = false;
    for (int step = 0; step < 40 && !completed; step++) {
        now += S;
        agent_step(&f, now);
        ASSERT_TRUE(count_version(&f, 1, TASK_RUNNING) + count_version(&f, 2, TASK_RUNNING) >= 2);
        reconcile(o, &svc, &f, nodes, 1, now, &a);
        if (find_status(&a, &msg)) {
            ASSERT_EQ_STR(msg, "update completed");
            completed = true;
        }
        apply_upd(&f, &svc, &a, now);
    }
    ASSERT_TRUE(completed);
    ASSERT_EQ_INT(count_version(&f, 2, TASK_RUNNING), 3);
    ASSERT_EQ_INT(count_version(&f, 1, TASK_RUNNING), 0);
    ASSERT_EQ_INT(svc.update_state, ORCH_UPD_COMPLETED);
    reconcile(o, &svc, &f, nodes, 1, now + S, &a);
    ASSERT_EQ_INT(a.n, 0);
    orch_actions_release(&a);
    orch_free(o);
}

/* A pass whose writes raced another writer fails as a whole (or in part: one transaction per
 * batch) and the next starts over from the store, while the update's memory already holds
 * the lanes it took: what was lost is decided again, never twice, and the update completes.
 * (It used to wait forever on a lane whose new task was never created.) */
static void lossy_apply(struct fake *f, struct orch_service *svc, const struct orch_actions *a,
                        int64_t now, int mode)
{
    struct orch_actions kept = {.v = xcalloc(a->n + 1, sizeof(*a->v))};
    for (size_t i = 0; i < a->n; i++) {
        bool create = a->v[i].kind == ORCH_CREATE;
        if (mode == 0 || (mode == 1 && !create) || (mode == 2 && create))
            continue; /* 0: nothing applied; 1: only creates; 2: all but creates */
        kept.v[kept.n++] = a->v[i];
    }
    apply_upd(f, svc, &kept, now);
    free(kept.v);
}

static void lossy_update(enum orch_order order)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service svc = t_svc;
    svc.replicas = 6;
    svc.update = (struct orch_update_config){2, 0, ORCH_FAIL_PAUSE, 1 * S, 0, order};
    for (uint64_t s = 1; s <= 6; s++)
        f_add(&f, s, "n1", TASK_RUNNING, TASK_RUNNING, T0);
    svc.spec_version = 2;
    int64_t now = T0;
    bool completed = false;
    const char *msg = NULL;
    for (int step = 0; step < 200 && !completed; step++) {
        reconcile(o, &svc, &f, nodes, 1, now, &a);
        if (find_status(&a, &msg) && !strcmp(msg, "update completed"))
            completed = true;
        /* passes 0, 3, 6, ... lost; every 4th only partly applied */
        lossy_apply(&f, &svc, &a, now, step % 3 == 0 ? 0 : step % 4 == 1 ? 1 + step % 2 : 3);
        agent_step(&f, now);
        now += S / 4;
        /* never two live new tasks in a slot, never more than two live tasks */
        for (uint64_t s = 1; s <= 6; s++) {
            size_t fresh = 0, all = 0;
            for (size_t i = 0; i < f.n; i++) {
                if (f.t[i].slot != s || f.t[i].desired > TASK_RUNNING)
                    continue;
                all++;
                fresh += f.t[i].spec_version == 2;
            }
            ASSERT_TRUE(fresh <= 1);
            ASSERT_TRUE(all <= 2);
        }
    }
    ASSERT_TRUE(completed);
    ASSERT_EQ_INT(count_version(&f, 2, TASK_RUNNING), 6);
    ASSERT_EQ_INT(count_version(&f, 1, TASK_RUNNING), 0);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_update_survives_lost_passes)
{
    lossy_update(ORCH_STOP_FIRST);
    lossy_update(ORCH_START_FIRST);
}

/* docker service rollback after a completed update: the previous template comes back with
 * its version, so the slots' retired tasks of that version (shut down by the update) are
 * history and must not count as failures of the rollback. */
TEST(orch_rollback_after_update_ignores_retired_tasks)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service svc = t_svc; /* 3 replicas */
    svc.update = svc.rollback =
        (struct orch_update_config){1, 0, ORCH_FAIL_PAUSE, 5 * S, 0, ORCH_STOP_FIRST};
    for (uint64_t s = 1; s <= 3; s++)
        f_add(&f, s, "n1", TASK_RUNNING, TASK_RUNNING, T0);
    svc.spec_version = 2;
    int64_t now = T0;
    const char *msg = NULL;
    bool completed = false;
    for (int step = 0; step < 40 && !completed; step++) {
        reconcile(o, &svc, &f, nodes, 1, now, &a);
        completed = find_status(&a, &msg) && !strcmp(msg, "update completed");
        apply_upd(&f, &svc, &a, now);
        now += S;
        agent_step(&f, now);
    }
    ASSERT_TRUE(completed);
    /* the user's rollback */
    svc.update_state = ORCH_UPD_ROLLBACK_STARTED;
    svc.spec_version = 1;
    bool done = false;
    for (int step = 0; step < 40 && !done; step++) {
        now += S;
        reconcile(o, &svc, &f, nodes, 1, now, &a);
        if (find_status(&a, &msg)) {
            ASSERT_EQ_STR(msg, "rollback completed");
            done = true;
        }
        apply_upd(&f, &svc, &a, now);
        agent_step(&f, now);
    }
    ASSERT_TRUE(done);
    ASSERT_EQ_INT(svc.update_state, ORCH_UPD_ROLLBACK_COMPLETED);
    ASSERT_EQ_INT(count_version(&f, 1, TASK_RUNNING), 3);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_update_start_first_parallel_delay)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service svc = t_svc;
    svc.replicas = 4;
    svc.update =
        (struct orch_update_config){2, 10 * S, ORCH_FAIL_PAUSE, 5 * S, 0, ORCH_START_FIRST};
    for (uint64_t s = 1; s <= 4; s++)
        f_add(&f, s, "n1", TASK_RUNNING, TASK_RUNNING, T0);
    svc.spec_version = 2;
    int64_t now = T0;
    reconcile(o, &svc, &f, nodes, 1, now, &a);
    /* status + two new tasks at once, desired RUNNING; the old ones keep running */
    ASSERT_EQ_INT(a.n, 3);
    ASSERT_EQ_INT(a.v[1].desired, TASK_RUNNING);
    ASSERT_EQ_INT(a.v[2].slot, 2);
    apply_upd(&f, &svc, &a, now);
    now += S;
    agent_step(&f, now);
    ASSERT_EQ_INT(count_version(&f, 1, TASK_RUNNING) + count_version(&f, 2, TASK_RUNNING), 6);
    reconcile(o, &svc, &f, nodes, 1, now, &a);
    /* the new ones run: the old ones of slots 1 and 2 are shut down, lanes rest 10 s */
    ASSERT_EQ_INT(a.n, 2);
    ASSERT_EQ_INT(a.v[0].desired, TASK_SHUTDOWN);
    apply_upd(&f, &svc, &a, now);
    ASSERT_EQ_INT(orch_next_deadline(o), now + 10 * S);
    reconcile(o, &svc, &f, nodes, 1, now + 9 * S, &a);
    ASSERT_EQ_INT(a.n, 0);
    now += 10 * S;
    reconcile(o, &svc, &f, nodes, 1, now, &a);
    ASSERT_EQ_INT(a.n, 2); /* slots 3 and 4 */
    ASSERT_EQ_INT(a.v[0].slot, 3);
    apply_upd(&f, &svc, &a, now);
    now += S;
    agent_step(&f, now);
    reconcile(o, &svc, &f, nodes, 1, now, &a);
    apply_upd(&f, &svc, &a, now);
    /* watched for delay + 1 s (the delay is longer than the monitor) before completing */
    reconcile(o, &svc, &f, nodes, 1, now + 10 * S, &a);
    ASSERT_EQ_INT(a.n, 0);
    reconcile(o, &svc, &f, nodes, 1, now + 11 * S, &a);
    const char *msg = NULL;
    ASSERT_NOT_NULL(find_status(&a, &msg));
    ASSERT_EQ_STR(msg, "update completed");
    orch_actions_release(&a);
    orch_free(o);
}

/* Runs an update of 4 slots where every new task fails right after starting. */
static void failing_update(enum orch_failure_action action, double ratio, bool in_rollback,
                           const char *want_prefix, enum orch_update_state want,
                           size_t want_failures_before)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service svc = t_svc;
    svc.replicas = 4;
    svc.restart.condition = ORCH_RESTART_NONE; /* keep the failed new tasks as they are */
    struct orch_update_config cfg = {1, 0, action, 5 * S, ratio, ORCH_START_FIRST};
    svc.update = svc.rollback = cfg;
    if (in_rollback)
        svc.update_state = ORCH_UPD_ROLLBACK_STARTED;
    for (uint64_t s = 1; s <= 4; s++)
        f_add(&f, s, "n1", TASK_RUNNING, TASK_RUNNING, T0);
    svc.spec_version = 2;
    int64_t now = T0;
    size_t failures = 0;
    const char *msg = NULL;
    bool stopped = false;
    for (int step = 0; step < 30 && !stopped; step++) {
        reconcile(o, &svc, &f, nodes, 1, now, &a);
        if (find_status(&a, &msg) && svc.update_state != ORCH_UPD_NONE &&
            strcmp(msg, "update in progress")) {
            ASSERT_TRUE(strncmp(msg, want_prefix, strlen(want_prefix)) == 0);
            stopped = true;
        }
        apply_upd(&f, &svc, &a, now);
        now += S;
        /* new tasks fail as they start */
        for (size_t i = 0; i < f.n; i++)
            if (f.t[i].spec_version == 2 && f.t[i].observed == TASK_NEW) {
                f.t[i].observed = TASK_FAILED;
                f.t[i].status_ns = now;
                failures++;
            }
    }
    ASSERT_TRUE(stopped);
    ASSERT_EQ_INT(svc.update_state, want);
    ASSERT_EQ_INT(failures, want_failures_before);
    /* a paused or rolled-back update makes no more new tasks */
    size_t n = f.n;
    for (int step = 0; step < 5; step++) {
        reconcile(o, &svc, &f, nodes, 1, now + step * S, &a);
        for (size_t i = 0; i < a.n; i++)
            ASSERT_TRUE(a.v[i].kind != ORCH_CREATE);
    }
    ASSERT_EQ_INT(f.n, n);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_update_failure_actions)
{
    failing_update(ORCH_FAIL_PAUSE, 0, false,
                   "update paused due to failure or early termination of task ", ORCH_UPD_PAUSED,
                   1);
    failing_update(ORCH_FAIL_ROLLBACK, 0, false,
                   "update rolled back due to failure or early termination of task ",
                   ORCH_UPD_ROLLBACK_STARTED, 1);
    failing_update(ORCH_FAIL_ROLLBACK, 0, true,
                   "rollback paused due to failure or early termination of task ",
                   ORCH_UPD_ROLLBACK_PAUSED, 1);
    /* a ratio of 0.5 of 4 slots tolerates two failures: the third pauses */
    failing_update(ORCH_FAIL_PAUSE, 0.5, false, "update paused", ORCH_UPD_PAUSED, 3);
}

static bool t_in(const char **ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id))
            return true;
    return false;
}

TEST(orch_reaper)
{
    struct fake f = {0};
    struct orch_service svc = t_svc;
    const char *out[64];
    /* slot 1: 7 tasks, the newest running: history 5 deletes the 2 oldest ended ones */
    for (int i = 0; i < 6; i++)
        f_add(&f, 1, "n1", TASK_SHUTDOWN, TASK_FAILED, T0 + i * S);
    f_add(&f, 1, "n1", TASK_RUNNING, TASK_RUNNING, T0 + 10 * S);
    /* slot 2: a task being removed that stopped, and one that never ran */
    f_add(&f, 2, "n1", TASK_REMOVE, TASK_SHUTDOWN, T0);
    f_add(&f, 2, "", TASK_REMOVE, TASK_PENDING, T0);
    /* slot 3: being removed but still running: kept until it stops */
    f_add(&f, 3, "n1", TASK_REMOVE, TASK_RUNNING, T0);
    size_t n = orch_reap(&svc, 5, f.t, f.n, out);
    ASSERT_EQ_INT(n, 4);
    ASSERT_TRUE(t_in(out, n, f.t[0].id));
    ASSERT_TRUE(t_in(out, n, f.t[1].id));
    ASSERT_FALSE(t_in(out, n, f.t[2].id));
    ASSERT_FALSE(t_in(out, n, f.t[6].id)); /* the running one */
    ASSERT_TRUE(t_in(out, n, f.t[7].id));
    ASSERT_TRUE(t_in(out, n, f.t[8].id));
    ASSERT_FALSE(t_in(out, n, f.t[9].id));
    /* MaxAttempts 2 keeps 3; a negative limit keeps all history */
    svc.restart.max_attempts = 2;
    n = orch_reap(&svc, 5, f.t, f.n, out);
    ASSERT_EQ_INT(n, 2 + 4);
    svc.restart.max_attempts = 0;
    ASSERT_EQ_INT(orch_reap(&svc, -1, f.t, f.n, out), 2);
    /* global: grouped by node */
    struct fake g = {0};
    struct orch_service gs = {.id = "g", .mode = ORCH_GLOBAL, .spec_version = 1};
    f_add(&g, 0, "a", TASK_SHUTDOWN, TASK_FAILED, T0);
    f_add(&g, 0, "a", TASK_RUNNING, TASK_RUNNING, T0 + S);
    f_add(&g, 0, "b", TASK_SHUTDOWN, TASK_FAILED, T0);
    ASSERT_EQ_INT(orch_reap(&gs, 1, g.t, g.n, out), 1);
    ASSERT_EQ_STR(out[0], g.t[0].id);
}

TEST(orch_replicated_job)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true}};
    struct orch_service svc = {.id = "job",
                               .mode = ORCH_REPLICATED_JOB,
                               .spec_version = 1,
                               .restart = {ORCH_RESTART_ON_FAILURE, 0, 0, 0},
                               .max_concurrent = 2,
                               .total_completions = 5,
                               .job_iteration = 1};
    reconcile(o, &svc, &f, nodes, 1, T0, &a);
    ASSERT_EQ_INT(a.n, 2); /* MaxConcurrent at a time, slots from 0 */
    ASSERT_EQ_INT(a.v[0].slot, 0);
    ASSERT_EQ_INT(a.v[1].slot, 1);
    ASSERT_EQ_INT(a.v[0].desired, TASK_COMPLETE);
    f_apply(&f, &a, T0);
    for (size_t i = 0; i < f.n; i++)
        f.t[i].job_iteration = 1;
    /* one completes, one fails: one new slot, and the failed one is replaced */
    f.t[0].observed = TASK_COMPLETE;
    f.t[1].observed = TASK_FAILED;
    reconcile(o, &svc, &f, nodes, 1, T0 + S, &a);
    size_t creates = 0, shutdowns = 0;
    for (size_t i = 0; i < a.n; i++) {
        creates += a.v[i].kind == ORCH_CREATE;
        shutdowns += a.v[i].kind == ORCH_SET_DESIRED && a.v[i].desired == TASK_SHUTDOWN;
        if (a.v[i].kind == ORCH_CREATE)
            ASSERT_EQ_INT(a.v[i].desired, TASK_COMPLETE);
    }
    ASSERT_EQ_INT(shutdowns, 1);
    ASSERT_EQ_INT(creates, 2); /* slot 1's replacement and slot 2 */
    f_apply(&f, &a, T0 + S);
    for (size_t i = 0; i < f.n; i++) {
        f.t[i].job_iteration = 1;
        if (f.t[i].observed == TASK_NEW)
            f.t[i].observed = TASK_COMPLETE; /* everything running completes */
    }
    for (int round = 0; round < 5; round++) {
        reconcile(o, &svc, &f, nodes, 1, T0 + (2 + round) * S, &a);
        f_apply(&f, &a, T0);
        for (size_t i = 0; i < f.n; i++) {
            f.t[i].job_iteration = 1;
            if (f.t[i].observed == TASK_NEW)
                f.t[i].observed = TASK_COMPLETE;
        }
    }
    size_t done = 0;
    for (size_t i = 0; i < f.n; i++)
        done += f.t[i].observed == TASK_COMPLETE;
    ASSERT_EQ_INT(done, 5); /* TotalCompletions, no more */
    reconcile(o, &svc, &f, nodes, 1, T0 + 10 * S, &a);
    ASSERT_EQ_INT(a.n, 0);
    /* a new iteration (--force): runs again; the old iteration's running tasks go */
    f_add(&f, 9, "n1", TASK_COMPLETE, TASK_RUNNING, T0)->job_iteration = 1;
    svc.job_iteration = 2;
    reconcile(o, &svc, &f, nodes, 1, T0 + 11 * S, &a);
    ASSERT_EQ_INT(a.v[0].kind, ORCH_SET_DESIRED);
    ASSERT_EQ_INT(a.v[0].desired, TASK_REMOVE);
    ASSERT_EQ_INT(a.n, 3);
    orch_actions_release(&a);
    orch_free(o);
}

TEST(orch_global_job)
{
    struct orch *o = orch_new();
    struct fake f = {0};
    struct orch_actions a = {0};
    struct orch_node nodes[] = {{"n1", false, false, true},
                                {"n2", false, true, true}, /* drained */
                                {"n3", false, false, false}};
    struct orch_service svc = {.id = "gj",
                               .mode = ORCH_GLOBAL_JOB,
                               .spec_version = 1,
                               .restart = {ORCH_RESTART_ON_FAILURE, 0, 0, 0},
                               .job_iteration = 1};
    reconcile(o, &svc, &f, nodes, 3, T0, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_STR(a.v[0].node_id, "n1");
    ASSERT_EQ_INT(a.v[0].desired, TASK_COMPLETE);
    f_apply(&f, &a, T0);
    f.t[0].job_iteration = 1;
    f.t[0].observed = TASK_COMPLETE;
    reconcile(o, &svc, &f, nodes, 3, T0 + S, &a);
    ASSERT_EQ_INT(a.n, 0); /* done on n1; n2 drained, n3 not eligible */
    nodes[1].drained = false;
    reconcile(o, &svc, &f, nodes, 3, T0 + 2 * S, &a);
    ASSERT_EQ_INT(a.n, 1);
    ASSERT_EQ_STR(a.v[0].node_id, "n2");
    f_apply(&f, &a, T0);
    f.t[1].job_iteration = 1;
    f.t[1].observed = TASK_FAILED;
    reconcile(o, &svc, &f, nodes, 3, T0 + 3 * S, &a);
    ASSERT_EQ_INT(a.n, 2); /* shut down and replaced on n2 */
    ASSERT_EQ_STR(a.v[1].node_id, "n2");
    orch_actions_release(&a);
    orch_free(o);
}
