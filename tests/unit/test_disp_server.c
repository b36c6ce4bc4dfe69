/* test_disp_server.c — the leader's dispatcher endpoints (src/manager/dispatcher,
 * disp_server.c) over a plain store committed through store_local: a node gets only its own
 * tasks, first as a full set, then as changes (added, changed, removed) under new sequence
 * numbers; a parked long poll is answered when the node's tasks change (not for status
 * reports, not for other nodes); a restarted worker (new Session) starts over with a full
 * set; status reports are checked (the caller's task, never backwards), coalesced and
 * written in batches, retried after a failed or conflicting commit; a poll whose node went
 * away, or a server freed with polls parked or a status write in flight, leaks nothing
 * (the sanitized build checks). */
#include "harness.h"
#include "manager/dispatcher/disp.h"
#include "msg/msg.h"

#include <string.h>

struct reply {
    int n, status;
    json_t *body;
};

static void on_reply(void *arg, int status, json_t *body)
{
    struct reply *r = arg;
    r->n++;
    r->status = status;
    json_decref(r->body);
    r->body = body;
}

static void put_service(struct store *st, const char *id, const char *name)
{
    store_apply_put(st, STORE_SERVICE,
                    json_pack("{s:s, s:{s:I}, s:s, s:{s:s}}", "ID", id, "Version", "Index",
                              (json_int_t)(store_revision(st) + 1), "CreatedAt",
                              "2026-01-01T00:00:00Z", "Spec", "Name", name));
}

static void put_task(struct store *st, const char *id, const char *node, const char *desired,
                     const char *state)
{
    store_apply_put(
        st, STORE_TASK,
        json_pack("{s:s, s:{s:I}, s:s, s:s, s:s, s:I, s:{s:{s:s}}, s:s, s:{s:s, s:s, s:s}}", "ID",
                  id, "Version", "Index", (json_int_t)(store_revision(st) + 1), "CreatedAt",
                  "2026-01-01T00:00:00Z", "ServiceID", "svc1", "NodeID", node, "Slot",
                  (json_int_t)1, "Spec", "ContainerSpec", "Image", "busybox:latest", "DesiredState",
                  desired, "Status", "State", state, "Timestamp", "2026-01-01T00:00:00Z", "Message",
                  state));
}

/* Task id as stored with one field at a dotted-free key replaced by value (taken). */
static void edit_task(struct store *st, const char *id, const char *key, json_t *value)
{
    json_t *t = json_deep_copy(store_get(st, STORE_TASK, id));
    ASSERT_NOT_NULL(t);
    json_object_set_new(t, key, value);
    json_object_set_new(t, "Version",
                        json_pack("{s:I}", "Index", (json_int_t)(store_revision(st) + 1)));
    store_apply_put(st, STORE_TASK, t);
}

static const char *task_state_of(struct store *st, const char *id)
{
    return store_json_str(store_get(st, STORE_TASK, id), "Status.State");
}

static void poll(struct disp_server *d, const char *node, const char *session, uint64_t ack,
                 struct reply *r)
{
    json_t *req = json_pack("{s:s, s:I}", "Session", session, "Ack", (json_int_t)ack);
    struct msg_assign_req m;
    struct err e;
    if (msg_assign_req_decode(req, &m, &e) < 0)
        FAIL_AT("assignments request: %s", e.msg);
    disp_server_assignments(d, node, &m, on_reply, r);
    msg_assign_req_release(&m);
    json_decref(req);
}

/* A status request as node_session.c takes it: decoded (refused whole when malformed), then
 * handed to the dispatcher. */
static int status_json(struct disp_server *d, const char *node, json_t *body, struct err *e)
{
    struct msg_status_batch b;
    if (msg_status_batch_decode(body, &b, e) < 0)
        return -e->kind;
    disp_server_status(d, node, &b);
    msg_status_batch_release(&b);
    return 0;
}

static uint64_t seq_of(const struct reply *r)
{
    return (uint64_t)json_integer_value(json_object_get(r->body, "Seq"));
}

static bool full_of(const struct reply *r)
{
    return json_is_true(json_object_get(r->body, "Full"));
}

static size_t nchanges(const struct reply *r)
{
    return json_array_size(json_object_get(r->body, "Changes"));
}

/* The change about task id in r: its task object (borrowed), or NULL; *removed set when the
 * change is a removal. Fails if there is none. */
static json_t *change_of_at(const struct reply *r, const char *id, bool *removed, int line)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r->body, "Changes"), i, c)
    {
        json_t *t = json_object_get(c, "Task");
        const char *rm = json_string_value(json_object_get(c, "Removed"));
        if (t && !strcmp(store_json_str(t, "ID") ?: "", id)) {
            *removed = false;
            return t;
        }
        if (rm && !strcmp(rm, id)) {
            *removed = true;
            return NULL;
        }
    }
    FAIL_AT("line %d: no change about task %s", line, id);
}
#define change_of(r, id, removed) change_of_at(r, id, removed, __LINE__)

static bool has_change(const struct reply *r, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r->body, "Changes"), i, c)
    {
        const char *tid = store_json_str(json_object_get(c, "Task"), "ID");
        const char *rm = json_string_value(json_object_get(c, "Removed"));
        if ((tid && !strcmp(tid, id)) || (rm && !strcmp(rm, id)))
            return true;
    }
    return false;
}

struct fixture {
    uv_loop_t loop;
    struct store *st;
    struct store_local *l;
    struct disp_server *d;
    uv_timer_t deadline;
};

/* store_local's committer, and the loop turn that called it returns at once (libuv runs
 * due timers before it polls: without uv_stop it would wait for the next timer). */
static void fx_commit(void *ctx, const struct store_write *w, size_t n, store_commit_cb cb,
                      void *arg)
{
    struct fixture *x = ctx;
    store_local_commit(x->l, w, n, cb, arg);
    uv_stop(&x->loop);
}

static void fx_init(struct fixture *x)
{
    ASSERT_EQ_INT(uv_loop_init(&x->loop), 0);
    uv_timer_init(&x->loop, &x->deadline);
    x->st = store_new();
    x->l = store_local_new(x->st);
    x->d = disp_server_new(&x->loop, x->st, fx_commit, x);
    put_service(x->st, "svc1", "web");
}

static void fx_end(struct fixture *x)
{
    disp_server_free(x->d);
    uv_close((uv_handle_t *)&x->deadline, NULL);
    while (uv_run(&x->loop, UV_RUN_DEFAULT)) /* a uv_stop made outside the loop ends one run */
        ;
    ASSERT_EQ_INT(uv_loop_close(&x->loop), 0);
    store_local_free(x->l);
    store_free(x->st);
}

/* One loop turn (the status flush timer is due at once), then the queued commits. */
static size_t flush(struct fixture *x)
{
    uv_run(&x->loop, UV_RUN_NOWAIT);
    return store_local_run(x->l);
}

static bool deadline_hit;
static void on_deadline(uv_timer_t *t)
{
    deadline_hit = true;
}

/* Runs the loop and the commits until nothing is pending; fails after 3 s. */
static void settle_status(struct fixture *x)
{
    deadline_hit = false;
    uv_timer_start(&x->deadline, on_deadline, 3000, 0);
    for (;;) {
        store_local_run(x->l);
        if (!disp_server_pending(x->d) && !store_local_run(x->l))
            break;
        if (deadline_hit)
            FAIL_AT("status updates still pending after 3 s: %zu, commits %zu",
                    disp_server_pending(x->d), store_local_commits(x->l));
        uv_run(&x->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&x->deadline);
}

static void release(struct reply *r)
{
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

TEST(disp_server_assigns_own_tasks_incrementally)
{
    struct fixture x;
    fx_init(&x);
    put_task(x.st, "t1", "n1", "running", "assigned");
    put_task(x.st, "t2", "n1", "running", "assigned");
    put_task(x.st, "t3", "n2", "running", "assigned");
    put_task(x.st, "t9", "", "running", "pending"); /* not placed yet */

    /* the first answer is the full set of n1's tasks, at once, with their service's name */
    struct reply r = {0};
    poll(x.d, "n1", "sessA", 0, &r);
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(full_of(&r));
    ASSERT_EQ_INT(nchanges(&r), 2);
    bool rm;
    json_t *t = change_of(&r, "t1", &rm);
    ASSERT_FALSE(rm);
    ASSERT_EQ_STR(store_json_str(t, "NodeID"), "n1");
    ASSERT_EQ_STR(store_json_str(t, "DesiredState"), "running");
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_array_get(json_object_get(r.body, "Changes"), 0), "ServiceName")),
                  "web");
    change_of(&r, "t2", &rm);
    ASSERT_FALSE(has_change(&r, "t3"));
    ASSERT_FALSE(has_change(&r, "t9"));
    uint64_t s1 = seq_of(&r);
    ASSERT_TRUE(s1 > 0);

    /* n2 sees only its own */
    struct reply r2 = {0};
    poll(x.d, "n2", "sessB", 0, &r2);
    ASSERT_EQ_INT(r2.n, 1);
    ASSERT_EQ_INT(nchanges(&r2), 1);
    change_of(&r2, "t3", &rm);

    /* the answer was lost: the same poll again gets the full set again */
    poll(x.d, "n1", "sessA", 0, &r);
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_TRUE(full_of(&r));
    ASSERT_EQ_INT(nchanges(&r), 2);
    s1 = seq_of(&r);

    /* acknowledged, nothing new: the poll is parked */
    poll(x.d, "n1", "sessA", s1, &r);
    ASSERT_EQ_INT(r.n, 2);

    /* changes meanwhile (a new task, one changed, one gone) come in one answer */
    struct reply late = {0};
    disp_server_cancel(x.d, &r); /* that request went away */
    put_task(x.st, "t4", "n1", "running", "assigned");
    edit_task(x.st, "t1", "DesiredState", json_string("shutdown"));
    store_apply_delete(x.st, STORE_TASK, "t2", store_revision(x.st) + 1);
    ASSERT_EQ_INT(r.n, 2); /* cancelled: never answered */
    poll(x.d, "n1", "sessA", s1, &late);
    ASSERT_EQ_INT(late.n, 1);
    ASSERT_FALSE(full_of(&late));
    ASSERT_TRUE(seq_of(&late) > s1);
    ASSERT_EQ_INT(nchanges(&late), 3);
    ASSERT_FALSE(change_of(&late, "t4", &rm) == NULL);
    ASSERT_EQ_STR(store_json_str(change_of(&late, "t1", &rm), "DesiredState"), "shutdown");
    change_of(&late, "t2", &rm);
    ASSERT_TRUE(rm);
    uint64_t s2 = seq_of(&late);

    /* acknowledged: nothing more to tell */
    poll(x.d, "n1", "sessA", s2, &late);
    ASSERT_EQ_INT(late.n, 1);

    /* a restarted worker (new session) starts over with the full set */
    struct reply r3 = {0};
    poll(x.d, "n1", "sessC", s2, &r3);
    ASSERT_EQ_INT(late.n, 2); /* the parked poll of the old session is answered, empty */
    ASSERT_EQ_INT(late.status, 200);
    ASSERT_EQ_INT(nchanges(&late), 0);
    ASSERT_EQ_INT(r3.n, 1);
    ASSERT_TRUE(full_of(&r3));
    ASSERT_EQ_INT(nchanges(&r3), 2); /* t1, t4 */
    ASSERT_FALSE(has_change(&r3, "t2"));

    /* a node with no tasks gets an empty full set at once */
    struct reply r4 = {0};
    poll(x.d, "n3", "sessD", 0, &r4);
    ASSERT_EQ_INT(r4.n, 1);
    ASSERT_TRUE(full_of(&r4));
    ASSERT_EQ_INT(nchanges(&r4), 0);

    release(&r);
    release(&r2);
    release(&r3);
    release(&r4);
    release(&late);
    fx_end(&x);
}

TEST(disp_server_parked_poll_wakes_for_its_node)
{
    struct fixture x;
    fx_init(&x);
    put_task(x.st, "t1", "n1", "running", "assigned");
    struct reply r = {0};
    poll(x.d, "n1", "s", 0, &r);
    ASSERT_EQ_INT(r.n, 1);
    uint64_t seq = seq_of(&r);
    poll(x.d, "n1", "s", seq, &r);
    ASSERT_EQ_INT(r.n, 1); /* parked */

    /* its own status report, another node's task: not woken */
    edit_task(x.st, "t1", "Status",
              json_pack("{s:s, s:s, s:s}", "State", "running", "Timestamp", "2026-01-01T00:00:01Z",
                        "Message", "started"));
    put_task(x.st, "t2", "n2", "running", "assigned");
    uv_run(&x.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(r.n, 1);

    /* a task for n1 appears: answered at once */
    put_task(x.st, "t3", "n1", "running", "assigned");
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_FALSE(full_of(&r));
    ASSERT_EQ_INT(nchanges(&r), 1);
    bool rm;
    change_of(&r, "t3", &rm);
    seq = seq_of(&r);

    /* a task moved from n2 to n1 wakes n1 (with the task) and n2 (with its removal) */
    struct reply r2 = {0};
    poll(x.d, "n2", "s2", 0, &r2);
    ASSERT_EQ_INT(r2.n, 1);
    poll(x.d, "n2", "s2", seq_of(&r2), &r2);
    poll(x.d, "n1", "s", seq, &r);
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_EQ_INT(r2.n, 1);
    edit_task(x.st, "t2", "NodeID", json_string("n1"));
    ASSERT_EQ_INT(r.n, 3);
    ASSERT_EQ_STR(store_json_str(change_of(&r, "t2", &rm), "NodeID"), "n1");
    ASSERT_EQ_INT(r2.n, 2);
    change_of(&r2, "t2", &rm);
    ASSERT_TRUE(rm);

    /* a spec change wakes it too */
    poll(x.d, "n1", "s", seq_of(&r), &r);
    json_t *spec = json_pack("{s:{s:s}}", "ContainerSpec", "Image", "busybox:1.36");
    edit_task(x.st, "t1", "Spec", spec);
    ASSERT_EQ_INT(r.n, 4);
    change_of(&r, "t1", &rm);

    /* the server goes with a poll parked: answered 503 */
    poll(x.d, "n1", "s", seq_of(&r), &r);
    ASSERT_EQ_INT(r.n, 4);
    disp_server_free(x.d);
    ASSERT_EQ_INT(r.n, 5);
    ASSERT_EQ_INT(r.status, 503);
    ASSERT_NULL(r.body);
    x.d = NULL;
    release(&r);
    release(&r2);
    fx_end(&x);
}

TEST(disp_server_status_batched_never_backwards)
{
    struct fixture x;
    fx_init(&x);
    put_task(x.st, "t1", "n1", "running", "assigned");
    put_task(x.st, "t2", "n1", "running", "assigned");
    put_task(x.st, "t3", "n1", "running", "assigned");
    put_task(x.st, "t4", "n2", "running", "assigned");
    struct err e = {0};

    /* malformed: refused whole, nothing taken */
    json_t *bad =
        json_pack("{s:[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t1",
                  "Status", "State", "running", "Timestamp", "2026-01-01T00:00:01Z", "TaskID", "t2",
                  "Status", "State", "nosuchstate", "Timestamp", "2026-01-01T00:00:01Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", bad, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "malformed status report");
    ASSERT_EQ_INT(disp_server_pending(x.d), 0);
    json_decref(bad);
    json_t *none = json_object();
    ASSERT_EQ_INT(status_json(x.d, "n1", none, &e), -ERR_INVALID);
    json_decref(none);

    /* three reports, one of them twice (the newest wins), in two requests: one commit */
    json_t *req =
        json_pack("{s:[{s:s, s:{s:s, s:s, s:s}}, {s:s, s:{s:s, s:s, s:s}}]}", "Updates", "TaskID",
                  "t1", "Status", "State", "preparing", "Timestamp", "2026-01-01T00:00:01Z",
                  "Message", "preparing", "TaskID", "t2", "Status", "State", "preparing",
                  "Timestamp", "2026-01-01T00:00:01Z", "Message", "preparing");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    req = json_pack("{s:[{s:s, s:{s:s, s:s, s:s, s:{s:s, s:i, s:i}}}, {s:s, s:{s:s, s:s}}]}",
                    "Updates", "TaskID", "t1", "Status", "State", "running", "Timestamp",
                    "2026-01-01T00:00:02Z", "Message", "started", "ContainerStatus", "ContainerID",
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "PID", 42,
                    "ExitCode", 0, "TaskID", "t3", "Status", "State", "accepted", "Timestamp",
                    "2026-01-01T00:00:02Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    ASSERT_EQ_INT(disp_server_pending(x.d), 3);
    size_t before = store_local_commits(x.l);
    ASSERT_EQ_INT(flush(&x), 1);
    ASSERT_EQ_INT(store_local_commits(x.l), before + 1);
    ASSERT_EQ_INT(disp_server_pending(x.d), 0);
    ASSERT_EQ_STR(task_state_of(x.st, "t1"), "running");
    ASSERT_EQ_STR(store_json_str(store_get(x.st, STORE_TASK, "t1"), "Status.Message"), "started");
    ASSERT_EQ_INT(json_integer_value(store_json_path(store_get(x.st, STORE_TASK, "t1"),
                                                     "Status.ContainerStatus.PID")),
                  42);
    ASSERT_NOT_NULL(store_json_path(store_get(x.st, STORE_TASK, "t1"), "Status.PortStatus"));
    ASSERT_EQ_STR(task_state_of(x.st, "t2"), "preparing");
    ASSERT_EQ_STR(task_state_of(x.st, "t3"), "accepted");

    /* backwards, another node's task, an unknown task: dropped; no commit for nothing */
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}]}",
                    "Updates", "TaskID", "t1", "Status", "State", "starting", "Timestamp",
                    "2026-01-01T00:00:03Z", "TaskID", "t4", "Status", "State", "running",
                    "Timestamp", "2026-01-01T00:00:03Z", "TaskID", "nosuch", "Status", "State",
                    "running", "Timestamp", "2026-01-01T00:00:03Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    before = store_local_commits(x.l);
    ASSERT_EQ_INT(flush(&x), 0);
    ASSERT_EQ_INT(store_local_commits(x.l), before);
    ASSERT_EQ_STR(task_state_of(x.st, "t1"), "running");
    ASSERT_EQ_STR(task_state_of(x.st, "t4"), "assigned");

    /* a report taken while a commit is in flight goes in the next one */
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t2", "Status", "State",
                    "running", "Timestamp", "2026-01-01T00:00:04Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    uv_run(&x.loop, UV_RUN_NOWAIT); /* commit queued, not run */
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t3", "Status", "State",
                    "running", "Timestamp", "2026-01-01T00:00:04Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    uv_run(&x.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(disp_server_pending(x.d), 1);
    ASSERT_EQ_INT(store_local_run(x.l), 1);
    ASSERT_EQ_STR(task_state_of(x.st, "t2"), "running");
    ASSERT_EQ_STR(task_state_of(x.st, "t3"), "accepted");
    ASSERT_EQ_INT(flush(&x), 1);
    ASSERT_EQ_STR(task_state_of(x.st, "t3"), "running");
    fx_end(&x);
}

TEST(disp_server_status_in_batches_of_disp_batch)
{
    struct fixture x;
    fx_init(&x);
    json_t *ups = json_array();
    char id[32];
    for (int i = 0; i < DISP_BATCH + 50; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        put_task(x.st, id, "n1", "running", "assigned");
        json_array_append_new(ups, json_pack("{s:s, s:{s:s, s:s}}", "TaskID", id, "Status", "State",
                                             "running", "Timestamp", "2026-01-01T00:00:01Z"));
    }
    json_t *req = json_pack("{s:o}", "Updates", ups);
    struct err e = {0};
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    size_t before = store_local_commits(x.l);
    settle_status(&x);
    ASSERT_EQ_INT(store_local_commits(x.l), before + 2);
    for (int i = 0; i < DISP_BATCH + 50; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        ASSERT_EQ_STR(task_state_of(x.st, id), "running");
    }
    fx_end(&x);
}

TEST(disp_server_status_retried_after_failure_and_conflict)
{
    struct fixture x;
    fx_init(&x);
    put_task(x.st, "t1", "n1", "running", "assigned");
    put_task(x.st, "t2", "n1", "running", "assigned");
    struct err e = {0};
    json_t *req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t1", "Status",
                            "State", "running", "Timestamp", "2026-01-01T00:00:01Z");
    /* the store cannot write: retried */
    store_local_fail_next(x.l, 1);
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    ASSERT_EQ_INT(flush(&x), 1);
    ASSERT_EQ_STR(task_state_of(x.st, "t1"), "assigned");
    ASSERT_EQ_INT(disp_server_pending(x.d), 1);
    settle_status(&x);
    ASSERT_EQ_STR(task_state_of(x.st, "t1"), "running");

    /* the task changes between the report's batch and its commit: the compare fails and
     * the report is applied again to the current object (its new desired state stays) */
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t2", "Status", "State",
                    "running", "Timestamp", "2026-01-01T00:00:01Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    uv_run(&x.loop, UV_RUN_NOWAIT); /* the commit is queued */
    edit_task(x.st, "t2", "DesiredState", json_string("shutdown"));
    settle_status(&x);
    json_t *t2 = store_get(x.st, STORE_TASK, "t2");
    ASSERT_EQ_STR(store_json_str(t2, "Status.State"), "running");
    ASSERT_EQ_STR(store_json_str(t2, "DesiredState"), "shutdown");

    /* a failed commit while a newer report came: the newer one wins */
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t2", "Status", "State",
                    "shutdown", "Timestamp", "2026-01-01T00:00:02Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    uv_run(&x.loop, UV_RUN_NOWAIT);
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t2", "Status", "State",
                    "failed", "Timestamp", "2026-01-01T00:00:03Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    store_local_fail_next(x.l, 1);
    settle_status(&x);
    ASSERT_EQ_STR(task_state_of(x.st, "t2"), "failed");
    fx_end(&x);
}

TEST(disp_server_node_goes_away)
{
    struct fixture x;
    fx_init(&x);
    put_task(x.st, "t1", "n1", "running", "assigned");
    struct reply r = {0}, other = {0};
    poll(x.d, "n1", "s", 0, &r);
    uint64_t seq = seq_of(&r);
    poll(x.d, "n1", "s", seq, &r);
    poll(x.d, "n2", "s2", 0, &other);
    poll(x.d, "n2", "s2", seq_of(&other), &other);
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_EQ_INT(other.n, 1);
    /* n1's request goes (the HTTP connection closed): forgotten; n2's stays parked */
    disp_server_cancel(x.d, &r);
    disp_server_cancel(x.d, &r); /* twice: nothing */
    put_task(x.st, "t2", "n1", "running", "assigned");
    uv_run(&x.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(r.n, 1);
    /* n1 comes back with the same session: the change it missed is there */
    poll(x.d, "n1", "s", seq, &r);
    ASSERT_EQ_INT(r.n, 2);
    bool rm;
    change_of(&r, "t2", &rm);
    ASSERT_FALSE(rm);
    /* a status write in flight when the server goes: finishes into nothing */
    struct err e = {0};
    json_t *req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t1", "Status",
                            "State", "running", "Timestamp", "2026-01-01T00:00:01Z");
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0);
    json_decref(req);
    req = json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "Updates", "TaskID", "t2", "Status", "State",
                    "running", "Timestamp", "2026-01-01T00:00:01Z");
    uv_run(&x.loop, UV_RUN_NOWAIT);                    /* t1's commit queued */
    ASSERT_EQ_INT(status_json(x.d, "n1", req, &e), 0); /* t2's waits */
    json_decref(req);
    disp_server_free(x.d);
    ASSERT_EQ_INT(other.n, 2);
    ASSERT_EQ_INT(other.status, 503);
    ASSERT_EQ_INT(r.n, 2); /* not parked: not answered again */
    x.d = NULL;
    ASSERT_EQ_INT(store_local_run(x.l), 1); /* its answer frees what is left */
    ASSERT_EQ_STR(task_state_of(x.st, "t1"), "running");
    release(&r);
    release(&other);
    fx_end(&x);
}
