/* test_mgr.c — the leader's reconciliation pass over a plain store (store_local) with a fake
 * clock: tasks created and placed in one transaction, spread over the nodes; failures
 * replaced after the restart delay; a drained node emptied; constraints that fit nowhere
 * leave the task pending with Docker's words until a node fits; a removed service's tasks
 * shut down and go; a new leader (a new mgr) converges without duplicates. */
#include "harness.h"
#include "manager/manager.h"
#include "manager/scheduler/sched.h"

#include <string.h>

#define S 1000000000LL
#define T0 (1800000000LL * S)

static void put_node(struct store *st, const char *id, const char *avail, const char *state,
                     const char *zone)
{
    json_t *cur = store_get(st, STORE_NODE, id);
    uint64_t v = cur ? store_obj_version(cur) + 1000 : store_revision(st) + 1;
    json_t *n =
        json_pack("{s:s, s:{s:I}, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:{s:s, s:s}, "
                  "s:{s:I, s:I}}, s:{s:s, s:s}}",
                  "ID", id, "Version", "Index", (json_int_t)v, "CreatedAt", "2026-01-01T00:00:00Z",
                  "Spec", "Role", "worker", "Availability", avail, "Labels", "zone", zone,
                  "Description", "Hostname", id, "Platform", "OS", "linux", "Architecture",
                  "x86_64", "Resources", "NanoCPUs", (json_int_t)2000000000, "MemoryBytes",
                  (json_int_t)(1LL << 32), "Status", "State", state, "Addr", "10.0.0.1");
    store_apply_put(st, STORE_NODE, n);
}

static void put_service(struct store *st, const char *id, const char *spec_json)
{
    json_error_t je;
    json_t *spec = json_loads(spec_json, 0, &je);
    if (!spec)
        FAIL_AT("bad spec json: %s", je.text);
    json_t *cur = store_get(st, STORE_SERVICE, id);
    json_t *s = json_pack("{s:s, s:{s:I}, s:s, s:o}", "ID", id, "Version", "Index",
                          (json_int_t)(store_revision(st) + 1), "CreatedAt", "2026-01-01T00:00:00Z",
                          "Spec", spec);
    if (cur && json_object_get(cur, "Spec"))
        json_object_set(s, "PreviousSpec", json_object_get(cur, "Spec"));
    store_apply_put(st, STORE_SERVICE, s);
}

struct count {
    const char *node;
    int running_desired, total, on_node, pending;
    char err[256];
};

static int count_cb(const struct store_task *t, void *data)
{
    struct count *c = data;
    c->total++;
    if (t->desired <= TASK_RUNNING) {
        c->running_desired++;
        if (c->node && !strcmp(t->node_id, c->node))
            c->on_node++;
        if (!t->node_id[0]) {
            c->pending++;
            snprintf(c->err, sizeof(c->err), "%s", store_json_str(t->obj, "Status.Err") ?: "");
        }
    }
    return 0;
}

static struct count count_of(struct store *st, const char *svc, const char *node)
{
    struct count c = {.node = node};
    store_tasks_of_service(st, svc, count_cb, &c);
    return c;
}

/* The fake agents: every assigned task desired running becomes running; every task desired
 * beyond running becomes shutdown. Writes straight into the store. */
static int agent_cb(json_t *obj, void *data)
{
    struct store *st = data;
    const struct store_task *t = store_task_view(st, store_json_str(obj, "ID"));
    const char *to = NULL;
    if (t->desired > TASK_RUNNING && t->observed <= TASK_RUNNING && t->node_id[0])
        to = "shutdown";
    else if (t->desired == TASK_RUNNING && t->observed >= TASK_ASSIGNED &&
             t->observed < TASK_RUNNING)
        to = "running";
    if (!to)
        return 0;
    json_t *n = json_deep_copy(obj);
    json_object_set_new(json_object_get(n, "Status"), "State", json_string(to));
    json_object_set_new(n, "Version",
                        json_pack("{s:I}", "Index", (json_int_t)(store_revision(st) + 1)));
    store_apply_put(st, STORE_TASK, n);
    return 0;
}

static void agents_run(struct store *st)
{
    json_t *all = json_array();
    /* collect first: applying while iterating is allowed, but keep it simple */
    store_foreach(st, STORE_TASK, agent_cb, st);
    json_decref(all);
}

static void settle(struct mgr *m, struct store_local *l, struct store *st, int64_t *now)
{
    for (int i = 0; i < 20; i++) {
        mgr_tick(m, *now);
        store_local_run(l);
        agents_run(st);
        *now += S / 10;
    }
}

TEST(mgr_places_spreads_and_replaces)
{
    struct store *st = store_new();
    struct store_local *l = store_local_new(st);
    struct mgr_config cfg = {st, store_local_commit, l};
    struct mgr *m = mgr_new(&cfg);
    put_node(st, "n1", "active", "ready", "a");
    put_node(st, "n2", "active", "ready", "b");
    put_service(st, "svc1",
                "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},"
                "\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":1000000000}},"
                "\"Mode\":{\"Replicated\":{\"Replicas\":4}}}");
    int64_t now = T0;
    mgr_tick(m, now);
    ASSERT_FALSE(mgr_idle(m));
    ASSERT_EQ_INT((int)store_local_run(l), 1); /* one transaction for the whole pass */
    struct count c = count_of(st, "svc1", "n1");
    ASSERT_EQ_INT(c.total, 4);
    ASSERT_EQ_INT(c.pending, 0);
    ASSERT_EQ_INT(c.on_node, 2); /* spread: 2 per node */
    settle(m, l, st, &now);
    /* drain n1: its tasks move to n2 */
    put_node(st, "n1", "drain", "ready", "a");
    settle(m, l, st, &now);
    c = count_of(st, "svc1", "n1");
    ASSERT_EQ_INT(c.running_desired, 4);
    ASSERT_EQ_INT(c.on_node, 0);
    ASSERT_EQ_INT(count_of(st, "svc1", "n2").on_node, 4);
    /* a new leader over the same store: nothing is duplicated */
    struct mgr *m2 = mgr_new(&cfg);
    settle(m2, l, st, &now);
    ASSERT_EQ_INT(count_of(st, "svc1", NULL).running_desired, 4);
    mgr_free(m2);
    /* scale to a constraint no node fits: pending with Docker's words, then placed */
    put_service(st, "svc2",
                "{\"Name\":\"db\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},"
                "\"Placement\":{\"Constraints\":[\"node.labels.zone==c\"]}},"
                "\"Mode\":{\"Replicated\":{\"Replicas\":1}}}");
    settle(m, l, st, &now);
    c = count_of(st, "svc2", NULL);
    ASSERT_EQ_INT(c.pending, 1);
    ASSERT_EQ_STR(c.err, "no suitable node (1 node not available for new tasks; scheduling "
                         "constraints not satisfied on 1 node)");
    put_node(st, "n3", "active", "ready", "c");
    settle(m, l, st, &now);
    c = count_of(st, "svc2", "n3");
    ASSERT_EQ_INT(c.pending, 0);
    ASSERT_EQ_INT(c.on_node, 1);
    /* the service goes: its tasks shut down, then are removed */
    store_apply_delete(st, STORE_SERVICE, "svc2", store_revision(st) + 1);
    settle(m, l, st, &now);
    ASSERT_EQ_INT(count_of(st, "svc2", NULL).total, 0);
    mgr_free(m);
    store_local_free(l);
    store_free(st);
}

/* The fake agents of a cluster where node `bad` rejects every task (no image there). */
static int rejecting_agent_cb(json_t *obj, void *data)
{
    struct store *st = data;
    const struct store_task *t = store_task_view(st, store_json_str(obj, "ID"));
    if (!strcmp(t->node_id, "bad") && t->observed >= TASK_ASSIGNED && t->observed < TASK_RUNNING &&
        t->desired <= TASK_RUNNING) {
        json_t *n = json_deep_copy(obj);
        json_object_set_new(json_object_get(n, "Status"), "State", json_string("rejected"));
        json_object_set_new(json_object_get(n, "Status"), "Err",
                            json_string("No such image: busybox:latest"));
        json_object_set_new(n, "Version",
                            json_pack("{s:I}", "Index", (json_int_t)(store_revision(st) + 1)));
        store_apply_put(st, STORE_TASK, n);
        return 0;
    }
    return agent_cb(obj, data);
}

static int count_rejected_cb(const struct store_task *t, void *data)
{
    *(int *)data += t->observed == TASK_REJECTED;
    return 0;
}

/* A node that rejects every task of a service is tried last once it has done so
 * SCHED_MAX_FAILURES times (swarmkit's rule), so the task ends up running elsewhere even
 * though spread (fewest tasks, then ID) keeps choosing the failing node. */
TEST(mgr_moves_away_from_a_node_that_keeps_rejecting)
{
    struct store *st = store_new();
    struct store_local *l = store_local_new(st);
    struct mgr_config cfg = {st, store_local_commit, l};
    struct mgr *m = mgr_new(&cfg);
    put_node(st, "bad", "active", "ready", "a");
    put_node(st, "good", "active", "ready", "b");
    /* history kept long enough to count the rejections (the mgr counts them in memory) */
    put_service(st, "svc1",
                "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"},"
                "\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":0}},"
                "\"Mode\":{\"Replicated\":{\"Replicas\":1}}}");
    int64_t now = T0;
    for (int i = 0; i < 60; i++) {
        mgr_tick(m, now);
        store_local_run(l);
        store_foreach(st, STORE_TASK, rejecting_agent_cb, st);
        now += S / 10;
    }
    struct count c = count_of(st, "svc1", "good");
    ASSERT_EQ_INT(c.running_desired, 1);
    ASSERT_EQ_INT(c.on_node, 1);
    int rejected = 0;
    store_tasks_of_service(st, "svc1", count_rejected_cb, &rejected);
    ASSERT_TRUE(rejected >= 1 && rejected <= SCHED_MAX_FAILURES);
    mgr_free(m);
    store_local_free(l);
    store_free(st);
}
