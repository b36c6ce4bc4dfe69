/* test_agent_session.c — the worker's session with the leader's dispatcher (src/agent,
 * agent_session.c) over a fake transport and a fake executor, both answered by the test as
 * a dispatcher and a container runtime would, later on the loop: a task assigned runs
 * through PREPARING, STARTING to RUNNING with each step reported (the RUNNING an executor
 * outcome moves a task to included); a refused prepare is REJECTED with Err; exits are
 * COMPLETE or FAILED with the code; desired SHUTDOWN stops the container; a task taken away
 * (Removed, or missing from a full set) has its container removed; a failed report is sent
 * again; containers found at restore are adopted (not restarted) or removed.
 * Across all reports of a test a task's observed state never goes backwards. */
#include "agent/agent.h"
#include "harness.h"

#include <string.h>

#define MAXREC 128

struct fcall {
    char path[64];
    json_t *body;
    agent_call_cb cb;
    void *arg;
    bool answered;
};

enum fop_kind { FOP_PREPARE = 1, FOP_START, FOP_STOP, FOP_REMOVE };

struct fop {
    enum fop_kind kind;
    char task[32];
    agent_done_cb done;
    void *arg;
    bool answered;
};

struct fctr {
    char task[32];
    struct agent_ctr c;
    agent_exit_cb on_exit;
    void *exit_arg;
};

struct fake {
    uv_loop_t loop;
    struct agent_session *s;
    struct fcall calls[MAXREC];
    int ncalls;
    struct fop ops[MAXREC];
    int nops;
    struct fctr ctrs[16];
    int nctrs;
    /* restore */
    bool restore_called;
    void (*found)(void *arg, const char *task_id, bool running, int exit_code);
    agent_exit_cb r_on_exit;
    void *r_exit_arg;
    agent_done_cb r_done;
    void *r_arg;
    /* every reported status, in order: for the never-backwards check */
    char rep_task[MAXREC][32];
    int rep_state[MAXREC];
    json_t *rep_status[MAXREC];
    int nrep;
    bool auto_status; /* answer status reports with 200 as they come */
    bool deadline_hit;
    uv_timer_t deadline;
};

/* ---- the fake transport ---- */

static void f_call(void *ctx, const char *path, json_t *body, agent_call_cb cb, void *arg)
{
    struct fake *f = ctx;
    if (f->ncalls == MAXREC)
        FAIL_AT("too many calls");
    struct fcall *c = &f->calls[f->ncalls++];
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->body = json_deep_copy(body);
    c->cb = cb;
    c->arg = arg;
    c->answered = false;
    uv_stop(&f->loop); /* the loop turn returns at once: the test answers */
}

/* ---- the fake executor ---- */

static struct fctr *ctr_of(struct fake *f, const char *task)
{
    for (int i = 0; i < f->nctrs; i++)
        if (!strcmp(f->ctrs[i].task, task))
            return &f->ctrs[i];
    return NULL;
}

static struct fctr *ctr_add(struct fake *f, const char *task)
{
    struct fctr *c = ctr_of(f, task);
    if (c)
        return c;
    c = &f->ctrs[f->nctrs++];
    memset(c, 0, sizeof(*c));
    snprintf(c->task, sizeof(c->task), "%s", task);
    for (int i = 0; i < 64; i++)
        c->c.id[i] = "0123456789abcdef"[(i + task[strlen(task) - 1]) % 16];
    c->c.exit_code = -1;
    return c;
}

static void op_add(struct fake *f, enum fop_kind k, const char *task, agent_done_cb done, void *arg)
{
    if (f->nops == MAXREC)
        FAIL_AT("too many operations");
    struct fop *o = &f->ops[f->nops++];
    o->kind = k;
    snprintf(o->task, sizeof(o->task), "%s", task);
    o->done = done;
    o->arg = arg;
    o->answered = false;
    uv_stop(&f->loop);
}

static void f_prepare(void *ctx, json_t *task, const char *service_name, agent_exit_cb on_exit,
                      void *exit_arg, agent_done_cb done, void *arg)
{
    struct fake *f = ctx;
    const char *id = json_string_value(json_object_get(task, "ID"));
    ASSERT_NOT_NULL(id);
    ASSERT_EQ_STR(service_name, "web");
    struct fctr *c = ctr_add(f, id);
    c->on_exit = on_exit;
    c->exit_arg = exit_arg;
    op_add(f, FOP_PREPARE, id, done, arg);
}

static void f_start(void *ctx, const char *task_id, agent_done_cb done, void *arg)
{
    op_add(ctx, FOP_START, task_id, done, arg);
}

static void f_stop(void *ctx, const char *task_id, int64_t grace_ns, agent_done_cb done, void *arg)
{
    op_add(ctx, FOP_STOP, task_id, done, arg);
}

static void f_remove(void *ctx, const char *task_id, agent_done_cb done, void *arg)
{
    op_add(ctx, FOP_REMOVE, task_id, done, arg);
}

static int f_status(void *ctx, const char *task_id, struct agent_ctr *out)
{
    struct fctr *c = ctr_of(ctx, task_id);
    if (!c)
        return -ERR_NOT_FOUND;
    *out = c->c;
    return 0;
}

static void f_restore(void *ctx, void (*found)(void *, const char *, bool, int),
                      agent_exit_cb on_exit, void *exit_arg, agent_done_cb done, void *arg)
{
    struct fake *f = ctx;
    f->restore_called = true;
    f->found = found;
    f->r_on_exit = on_exit;
    f->r_exit_arg = exit_arg;
    f->r_done = done;
    f->r_arg = arg;
}

static const struct agent_exec_ops fake_ops = {.prepare = f_prepare,
                                               .start = f_start,
                                               .stop = f_stop,
                                               .remove = f_remove,
                                               .status = f_status,
                                               .restore = f_restore};

/* ---- driving the loop ---- */

static void on_deadline(uv_timer_t *t)
{
    ((struct fake *)t->data)->deadline_hit = true;
}

static void answer_status(struct fake *f, int i, int status);

/* Runs the loop until pred holds (answering status reports in auto mode); fails after 3 s. */
static void run_until_at(struct fake *f, bool (*pred)(struct fake *, const void *), const void *arg,
                         int line)
{
    f->deadline_hit = false;
    uv_timer_start(&f->deadline, on_deadline, 3000, 0);
    for (;;) {
        if (f->auto_status)
            for (int i = 0; i < f->ncalls; i++)
                if (!f->calls[i].answered && !strcmp(f->calls[i].path, "/swarm-rpc/status"))
                    answer_status(f, i, 200);
        if (pred(f, arg))
            break;
        if (f->deadline_hit)
            FAIL_AT("line %d: deadline passed waiting for the session", line);
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&f->deadline);
}
#define run_until(f, pred, arg) run_until_at(f, pred, arg, __LINE__)

static int call_find(struct fake *f, const char *path)
{
    for (int i = 0; i < f->ncalls; i++)
        if (!f->calls[i].answered && !strcmp(f->calls[i].path, path))
            return i;
    return -1;
}

static bool has_call(struct fake *f, const void *path)
{
    return call_find(f, path) >= 0;
}

static int wait_call_at(struct fake *f, const char *path, int line)
{
    run_until_at(f, has_call, path, line);
    return call_find(f, path);
}
#define wait_call(f, path) wait_call_at(f, path, __LINE__)

struct opq {
    enum fop_kind kind;
    const char *task;
};

static int op_find(struct fake *f, enum fop_kind k, const char *task)
{
    for (int i = 0; i < f->nops; i++)
        if (!f->ops[i].answered && f->ops[i].kind == k && !strcmp(f->ops[i].task, task))
            return i;
    return -1;
}

static bool has_op(struct fake *f, const void *arg)
{
    const struct opq *q = arg;
    return op_find(f, q->kind, q->task) >= 0;
}

static int wait_op_at(struct fake *f, enum fop_kind k, const char *task, int line)
{
    struct opq q = {k, task};
    run_until_at(f, has_op, &q, line);
    return op_find(f, k, task);
}
#define wait_op(f, k, task) wait_op_at(f, k, task, __LINE__)

static void op_answer(struct fake *f, int i, int rc, const char *err)
{
    struct fop *o = &f->ops[i];
    ASSERT_FALSE(o->answered);
    o->answered = true;
    struct fctr *c = ctr_of(f, o->task);
    if (rc == 0 && o->kind == FOP_START && c)
        c->c.pid = 4242;
    if (rc == 0 && o->kind == FOP_STOP && c) {
        c->c.pid = 0;
        c->c.exit_code = 137;
    }
    if (rc == 0 && o->kind == FOP_REMOVE && c) {
        *c = f->ctrs[--f->nctrs];
    }
    o->done(o->arg, rc, err);
}

/* The container of task exits with code, as the executor would tell. */
static void ctr_exit(struct fake *f, const char *task, int code)
{
    struct fctr *c = ctr_of(f, task);
    ASSERT_NOT_NULL(c);
    ASSERT_NOT_NULL(c->on_exit);
    c->c.pid = 0;
    c->c.exit_code = code;
    c->on_exit(c->exit_arg, task, code, NULL);
}

/* Records the updates of status call i (checking each task's state never goes back), then
 * answers it. */
static void answer_status(struct fake *f, int i, int status)
{
    struct fcall *c = &f->calls[i];
    json_t *ups = json_object_get(c->body, "Updates");
    ASSERT_TRUE(json_is_array(ups));
    ASSERT_TRUE(json_array_size(ups) > 0);
    size_t k;
    json_t *u;
    json_array_foreach(ups, k, u)
    {
        const char *id = json_string_value(json_object_get(u, "TaskID"));
        json_t *st = json_object_get(u, "Status");
        ASSERT_NOT_NULL(id);
        ASSERT_TRUE(json_is_string(json_object_get(st, "Timestamp")));
        int state = task_state_parse(json_string_value(json_object_get(st, "State")));
        ASSERT_TRUE(state >= 0);
        for (int j = f->nrep - 1; j >= 0; j--)
            if (!strcmp(f->rep_task[j], id)) {
                if (state < f->rep_state[j])
                    FAIL_AT("task %s reported %s after %s", id, task_state_name(state),
                            task_state_name(f->rep_state[j]));
                break;
            }
        if (f->nrep == MAXREC)
            FAIL_AT("too many reports");
        snprintf(f->rep_task[f->nrep], sizeof(f->rep_task[0]), "%s", id);
        f->rep_state[f->nrep] = state;
        f->rep_status[f->nrep] = json_incref(st);
        f->nrep++;
    }
    c->answered = true;
    json_t *a = status == 200 ? json_object() : NULL;
    c->cb(c->arg, status, a);
    json_decref(a);
}

/* The newest status reported for task (borrowed), or NULL. */
static json_t *last_report(struct fake *f, const char *task)
{
    for (int j = f->nrep - 1; j >= 0; j--)
        if (!strcmp(f->rep_task[j], task))
            return f->rep_status[j];
    return NULL;
}

static int last_state(struct fake *f, const char *task)
{
    json_t *st = last_report(f, task);
    return st ? task_state_parse(json_string_value(json_object_get(st, "State"))) : -1;
}

struct stq {
    const char *task;
    enum task_state state;
};

static bool reported(struct fake *f, const void *arg)
{
    const struct stq *q = arg;
    return last_state(f, q->task) == (int)q->state;
}

/* Runs (answering reports) until task's newest report is state. */
static void wait_state_at(struct fake *f, const char *task, enum task_state state, int line)
{
    struct stq q = {task, state};
    bool was = f->auto_status;
    f->auto_status = true;
    run_until_at(f, reported, &q, line);
    f->auto_status = was;
}
#define wait_state(f, task, state) wait_state_at(f, task, state, __LINE__)

/* A task object as the leader's store holds it (disp_server sends those). */
static json_t *task_obj(const char *id, const char *desired, const char *state)
{
    return json_pack("{s:s, s:{s:I}, s:s, s:s, s:s, s:I, s:{s:{s:s}}, s:s, s:{s:s, s:s, s:s}}",
                     "ID", id, "Version", "Index", (json_int_t)7, "CreatedAt",
                     "2026-01-01T00:00:00Z", "ServiceID", "svc1", "NodeID", "node1", "Slot",
                     (json_int_t)1, "Spec", "ContainerSpec", "Image", "busybox:latest",
                     "DesiredState", desired, "Status", "State", state, "Timestamp",
                     "2026-01-01T00:00:00Z", "Message", state);
}

/* {"Task": <task>, "ServiceName": "web"} (takes task). */
static json_t *ch_task(json_t *task)
{
    return json_pack("{s:o, s:s}", "Task", task, "ServiceName", "web");
}

/* Answers the pending assignments poll with changes (taken). */
static void assign(struct fake *f, bool full, json_int_t seq, json_t *changes)
{
    int i = wait_call(f, "/swarm-rpc/assignments");
    struct fcall *c = &f->calls[i];
    c->answered = true;
    json_t *a = json_pack("{s:I, s:b, s:o}", "Seq", seq, "Full", full, "Changes", changes);
    c->cb(c->arg, 200, a);
    json_decref(a);
}

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ_INT(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->deadline);
    f->deadline.data = f;
    f->s = agent_session_new(&f->loop, f_call, f, &fake_ops, f);
    agent_session_start(f->s);
    ASSERT_TRUE(f->restore_called);
}

/* The restore finds nothing (or what the test told found() already). */
static void restore_finish(struct fake *f)
{
    ASSERT_EQ_INT(f->ncalls, 0); /* no poll before the containers on disk are known */
    f->r_done(f->r_arg, 0, NULL);
}

/* Frees the session, answers everything still in flight into nothing (so that its memory
 * goes), and closes the loop. */
static void fake_end(struct fake *f)
{
    agent_session_free(f->s);
    for (int i = 0; i < f->ncalls; i++)
        if (!f->calls[i].answered) {
            f->calls[i].answered = true;
            f->calls[i].cb(f->calls[i].arg, 0, NULL);
        }
    for (int i = 0; i < f->nops; i++)
        if (!f->ops[i].answered) {
            f->ops[i].answered = true;
            f->ops[i].done(f->ops[i].arg, -ERR_UNAVAILABLE, "gone");
        }
    uv_close((uv_handle_t *)&f->deadline, NULL);
    while (uv_run(&f->loop, UV_RUN_DEFAULT)) /* a uv_stop made outside the loop ends one run */
        ;
    ASSERT_EQ_INT(uv_loop_close(&f->loop), 0);
    for (int i = 0; i < f->ncalls; i++)
        json_decref(f->calls[i].body);
    for (int i = 0; i < f->nrep; i++)
        json_decref(f->rep_status[i]);
}

/* Takes task t1 to RUNNING, checking each step on the way. */
static void to_running(struct fake *f, const char *id)
{
    wait_state(f, id, TASK_PREPARING);
    ASSERT_EQ_STR(json_string_value(json_object_get(last_report(f, id), "Message")), "preparing");
    op_answer(f, wait_op(f, FOP_PREPARE, id), 0, NULL);
    wait_state(f, id, TASK_STARTING);
    op_answer(f, wait_op(f, FOP_START, id), 0, NULL);
    wait_state(f, id, TASK_RUNNING);
    json_t *st = last_report(f, id);
    ASSERT_EQ_STR(json_string_value(json_object_get(st, "Message")), "started");
    json_t *cs = json_object_get(st, "ContainerStatus");
    ASSERT_EQ_INT(strlen(json_string_value(json_object_get(cs, "ContainerID"))), 64);
    ASSERT_EQ_INT(json_integer_value(json_object_get(cs, "PID")), 4242);
}

TEST(agent_session_runs_a_task_and_reports_each_step)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    int p = wait_call(&f, "/swarm-rpc/assignments");
    json_t *body = f.calls[p].body;
    ASSERT_EQ_INT(strlen(json_string_value(json_object_get(body, "Session"))), ID_LEN);
    ASSERT_EQ_INT(json_integer_value(json_object_get(body, "Ack")), 0);
    assign(&f, true, 5, json_pack("[o]", ch_task(task_obj("t1", "running", "assigned"))));
    ASSERT_EQ_INT(agent_session_tasks(f.s), 1);
    /* the next poll acknowledges what it got, with the same session */
    p = wait_call(&f, "/swarm-rpc/assignments");
    ASSERT_EQ_INT(json_integer_value(json_object_get(f.calls[p].body, "Ack")), 5);
    ASSERT_EQ_STR(json_string_value(json_object_get(f.calls[p].body, "Session")),
                  json_string_value(json_object_get(body, "Session")));
    /* the prepare is asked for at once; nothing starts before it is done */
    int o = wait_op(&f, FOP_PREPARE, "t1");
    /* the container publishes two host-mode ports (one picked by the node) */
    static const struct net_port ports[] = {{NET_TCP, 80, 32768}, {NET_UDP, 53, 5353}};
    ctr_of(&f, "t1")->c.ports = ports;
    ctr_of(&f, "t1")->c.nports = 2;
    wait_state(&f, "t1", TASK_PREPARING);
    ASSERT_EQ_INT(op_find(&f, FOP_START, "t1"), -1);
    op_answer(&f, o, 0, NULL);
    wait_state(&f, "t1", TASK_STARTING);
    /* no ports before the container runs, as Docker's (they are bound at start) */
    ASSERT_EQ_INT(json_object_size(json_object_get(last_report(&f, "t1"), "PortStatus")), 0);
    /* the start's outcome moves the task to RUNNING: that must be reported too */
    op_answer(&f, wait_op(&f, FOP_START, "t1"), 0, NULL);
    wait_state(&f, "t1", TASK_RUNNING);
    json_t *st = last_report(&f, "t1");
    char *ps = json_dumps(json_object_get(st, "PortStatus"), JSON_COMPACT);
    ASSERT_EQ_STR(ps, "{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":32768,"
                      "\"PublishMode\":\"host\"},{\"Protocol\":\"udp\",\"TargetPort\":53,"
                      "\"PublishedPort\":5353,\"PublishMode\":\"host\"}]}");
    free(ps);
    ASSERT_EQ_STR(json_string_value(json_object_get(st, "Message")), "started");
    ASSERT_NULL(json_object_get(st, "Err"));
    ASSERT_EQ_INT(
        json_integer_value(json_object_get(json_object_get(st, "ContainerStatus"), "PID")), 4242);
    /* the states seen upstream: ACCEPTED..RUNNING only, PREPARING, STARTING, RUNNING among
     * them (steps taken in one turn are coalesced: the newest wins) */
    bool seen[TASK_ORPHANED + 1] = {0};
    for (int i = 0; i < f.nrep; i++) {
        ASSERT_TRUE(f.rep_state[i] >= TASK_ACCEPTED && f.rep_state[i] <= TASK_RUNNING);
        seen[f.rep_state[i]] = true;
    }
    ASSERT_TRUE(seen[TASK_PREPARING] && seen[TASK_STARTING] && seen[TASK_RUNNING]);
    /* the same assignment again (desired unchanged): nothing more is run */
    int nops = f.nops;
    assign(&f, false, 6, json_pack("[o]", ch_task(task_obj("t1", "running", "running"))));
    ASSERT_EQ_INT(f.nops, nops);
    /* stopped: the container holds no ports any more, the report clears them */
    assign(&f, false, 7, json_pack("[o]", ch_task(task_obj("t1", "shutdown", "running"))));
    o = wait_op(&f, FOP_STOP, "t1");
    ctr_exit(&f, "t1", 137);
    op_answer(&f, o, 0, NULL);
    wait_state(&f, "t1", TASK_SHUTDOWN);
    ASSERT_EQ_INT(json_object_size(json_object_get(last_report(&f, "t1"), "PortStatus")), 0);
    fake_end(&f);
}

TEST(agent_session_reports_are_batched)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1,
           json_pack("[o, o, o]", ch_task(task_obj("t1", "running", "assigned")),
                     ch_task(task_obj("t2", "running", "assigned")),
                     ch_task(task_obj("t3", "running", "assigned"))));
    ASSERT_EQ_INT(agent_session_tasks(f.s), 3);
    /* one report carries the three tasks */
    int r = wait_call(&f, "/swarm-rpc/status");
    ASSERT_EQ_INT(json_array_size(json_object_get(f.calls[r].body, "Updates")), 3);
    /* while it is in flight, nothing else is sent: the new states wait, coalesced */
    op_answer(&f, wait_op(&f, FOP_PREPARE, "t1"), 0, NULL);
    op_answer(&f, wait_op(&f, FOP_PREPARE, "t2"), 0, NULL);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    int n = f.ncalls;
    answer_status(&f, r, 200);
    r = wait_call(&f, "/swarm-rpc/status");
    ASSERT_EQ_INT(f.ncalls, n + 1);
    json_t *ups = json_object_get(f.calls[r].body, "Updates");
    ASSERT_EQ_INT(json_array_size(ups), 2);
    answer_status(&f, r, 200);
    ASSERT_EQ_INT(last_state(&f, "t1"), TASK_STARTING);
    ASSERT_EQ_INT(last_state(&f, "t2"), TASK_STARTING);
    ASSERT_EQ_INT(last_state(&f, "t3"), TASK_PREPARING);
    fake_end(&f);
}

TEST(agent_session_prepare_refused_is_rejected)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1, json_pack("[o]", ch_task(task_obj("t1", "running", "assigned"))));
    wait_state(&f, "t1", TASK_PREPARING);
    op_answer(&f, wait_op(&f, FOP_PREPARE, "t1"), -ERR_NOT_FOUND, "No such image: busybox:latest");
    wait_state(&f, "t1", TASK_REJECTED);
    json_t *st = last_report(&f, "t1");
    ASSERT_EQ_STR(json_string_value(json_object_get(st, "Err")), "No such image: busybox:latest");
    ASSERT_EQ_STR(json_string_value(json_object_get(st, "Message")), "preparing");
    ASSERT_EQ_INT(op_find(&f, FOP_START, "t1"), -1);

    /* a start that fails: FAILED with the executor's words */
    assign(&f, false, 2, json_pack("[o]", ch_task(task_obj("t2", "running", "assigned"))));
    wait_state(&f, "t2", TASK_PREPARING);
    op_answer(&f, wait_op(&f, FOP_PREPARE, "t2"), 0, NULL);
    op_answer(&f, wait_op(&f, FOP_START, "t2"), -ERR_INTERNAL, "exec: \"nosuch\": not found");
    wait_state(&f, "t2", TASK_FAILED);
    ASSERT_EQ_STR(json_string_value(json_object_get(last_report(&f, "t2"), "Err")),
                  "exec: \"nosuch\": not found");
    fake_end(&f);
}

TEST(agent_session_container_exits)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1,
           json_pack("[o, o]", ch_task(task_obj("t1", "running", "assigned")),
                     ch_task(task_obj("t2", "running", "assigned"))));
    to_running(&f, "t1");
    to_running(&f, "t2");
    ctr_exit(&f, "t1", 0);
    wait_state(&f, "t1", TASK_COMPLETE);
    json_t *st = last_report(&f, "t1");
    ASSERT_EQ_STR(json_string_value(json_object_get(st, "Message")), "finished");
    ASSERT_NULL(json_object_get(st, "Err"));
    json_t *cs = json_object_get(st, "ContainerStatus");
    ASSERT_EQ_INT(json_integer_value(json_object_get(cs, "ExitCode")), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(cs, "PID")), 0);

    ctr_exit(&f, "t2", 3);
    wait_state(&f, "t2", TASK_FAILED);
    st = last_report(&f, "t2");
    ASSERT_EQ_STR(json_string_value(json_object_get(st, "Err")), "task: non-zero exit (3)");
    cs = json_object_get(st, "ContainerStatus");
    ASSERT_EQ_INT(json_integer_value(json_object_get(cs, "ExitCode")), 3);
    /* a finished task is not stopped when its desired state becomes shutdown */
    assign(&f, false, 2, json_pack("[o]", ch_task(task_obj("t2", "shutdown", "failed"))));
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(op_find(&f, FOP_STOP, "t2"), -1);
    fake_end(&f);
}

TEST(agent_session_desired_shutdown_stops)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1, json_pack("[o]", ch_task(task_obj("t1", "running", "assigned"))));
    to_running(&f, "t1");
    assign(&f, false, 2, json_pack("[o]", ch_task(task_obj("t1", "shutdown", "running"))));
    int o = wait_op(&f, FOP_STOP, "t1");
    /* the stop makes the container exit: that is our own stop, not a failure */
    ctr_exit(&f, "t1", 137);
    op_answer(&f, o, 0, NULL);
    wait_state(&f, "t1", TASK_SHUTDOWN);
    ASSERT_EQ_STR(json_string_value(json_object_get(last_report(&f, "t1"), "Message")), "shutdown");
    for (int i = 0; i < f.nrep; i++)
        ASSERT_NE_INT(f.rep_state[i], TASK_FAILED);
    /* the container stays until the task is taken away */
    ASSERT_EQ_INT(op_find(&f, FOP_REMOVE, "t1"), -1);

    /* shutdown asked while the prepare runs: the prepare finishes, then the stop */
    assign(&f, false, 3, json_pack("[o]", ch_task(task_obj("t2", "running", "assigned"))));
    o = wait_op(&f, FOP_PREPARE, "t2");
    assign(&f, false, 4, json_pack("[o]", ch_task(task_obj("t2", "shutdown", "preparing"))));
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(op_find(&f, FOP_STOP, "t2"), -1);
    op_answer(&f, o, 0, NULL);
    op_answer(&f, wait_op(&f, FOP_STOP, "t2"), 0, NULL);
    wait_state(&f, "t2", TASK_SHUTDOWN);
    ASSERT_EQ_INT(op_find(&f, FOP_START, "t2"), -1);
    fake_end(&f);
}

static bool no_tasks(struct fake *f, const void *arg)
{
    return agent_session_tasks(f->s) == (size_t)(uintptr_t)arg;
}

TEST(agent_session_task_taken_away_is_removed)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1,
           json_pack("[o, o, o]", ch_task(task_obj("t1", "running", "assigned")),
                     ch_task(task_obj("t2", "running", "assigned")),
                     ch_task(task_obj("t3", "running", "assigned"))));
    to_running(&f, "t1");
    to_running(&f, "t2");
    /* t1 removed: its container goes, then the task */
    assign(&f, false, 2, json_pack("[{s:s}]", "Removed", "t1"));
    op_answer(&f, wait_op(&f, FOP_REMOVE, "t1"), 0, NULL);
    run_until(&f, no_tasks, (void *)(uintptr_t)2);
    ASSERT_NULL(ctr_of(&f, "t1"));
    /* t3's prepare is in flight when a full set no longer names t3 (nor t2): t2 goes at
     * once, t3 once its prepare has answered; neither is started */
    int o = wait_op(&f, FOP_PREPARE, "t3");
    assign(&f, true, 3, json_array());
    op_answer(&f, wait_op(&f, FOP_REMOVE, "t2"), 0, NULL);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(op_find(&f, FOP_REMOVE, "t3"), -1);
    op_answer(&f, o, 0, NULL);
    op_answer(&f, wait_op(&f, FOP_REMOVE, "t3"), 0, NULL);
    run_until(&f, no_tasks, (void *)(uintptr_t)0);
    ASSERT_EQ_INT(op_find(&f, FOP_START, "t3"), -1);
    ASSERT_EQ_INT(f.nctrs, 0);
    fake_end(&f);
}

TEST(agent_session_failed_report_is_resent)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1, json_pack("[o]", ch_task(task_obj("t1", "running", "assigned"))));
    int r = wait_call(&f, "/swarm-rpc/status");
    answer_status(&f, r, 0); /* no manager reached */
    r = wait_call(&f, "/swarm-rpc/status");
    json_t *ups = json_object_get(f.calls[r].body, "Updates");
    ASSERT_EQ_INT(json_array_size(ups), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ups, 0), "TaskID")), "t1");
    ASSERT_EQ_STR(json_string_value(
                      json_object_get(json_object_get(json_array_get(ups, 0), "Status"), "State")),
                  "preparing");
    /* fails again, and meanwhile the task moved: the newer state replaces the older */
    op_answer(&f, wait_op(&f, FOP_PREPARE, "t1"), 0, NULL);
    answer_status(&f, r, 503);
    r = wait_call(&f, "/swarm-rpc/status");
    ups = json_object_get(f.calls[r].body, "Updates");
    ASSERT_EQ_INT(json_array_size(ups), 1);
    answer_status(&f, r, 200);
    ASSERT_EQ_INT(last_state(&f, "t1"), TASK_STARTING);
    /* accepted: nothing is resent */
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(call_find(&f, "/swarm-rpc/status"), -1);
    fake_end(&f);
}

TEST(agent_session_adopts_restored_containers)
{
    struct fake f;
    fake_init(&f);
    /* on disk: t1 running, t2 exited with 2 while the daemon was down, t3 started just
     * before the daemon went (the leader holds STARTING: the report was lost), t9 a stray */
    struct fctr *c = ctr_add(&f, "t1");
    c->c.pid = 777;
    c->on_exit = f.r_on_exit;
    c->exit_arg = f.r_exit_arg;
    c = ctr_add(&f, "t2");
    c->c.exit_code = 2;
    c = ctr_add(&f, "t3");
    c->c.pid = 778;
    ctr_add(&f, "t9");
    f.found(f.r_arg, "t1", true, 0);
    f.found(f.r_arg, "t3", true, 0);
    f.found(f.r_arg, "t2", false, 2);
    f.found(f.r_arg, "t9", true, 0);
    restore_finish(&f);
    assign(&f, true, 4,
           json_pack("[o, o, o]", ch_task(task_obj("t1", "running", "running")),
                     ch_task(task_obj("t2", "running", "running")),
                     ch_task(task_obj("t3", "running", "starting"))));
    /* the stray is removed once the full set has arrived */
    op_answer(&f, wait_op(&f, FOP_REMOVE, "t9"), 0, NULL);
    /* the one that exited meanwhile is reported FAILED with its code */
    wait_state(&f, "t2", TASK_FAILED);
    ASSERT_EQ_STR(json_string_value(json_object_get(last_report(&f, "t2"), "Err")),
                  "task: non-zero exit (2)");
    ASSERT_EQ_INT(json_integer_value(json_object_get(
                      json_object_get(last_report(&f, "t2"), "ContainerStatus"), "ExitCode")),
                  2);
    /* the running one is adopted as it is: not prepared nor started again */
    ASSERT_EQ_INT(op_find(&f, FOP_PREPARE, "t1"), -1);
    ASSERT_EQ_INT(op_find(&f, FOP_START, "t1"), -1);
    ASSERT_EQ_INT(agent_session_tasks(f.s), 3);
    /* t3 is adopted running too, and that is reported */
    wait_state(&f, "t3", TASK_RUNNING);
    ASSERT_EQ_INT(json_integer_value(json_object_get(
                      json_object_get(last_report(&f, "t3"), "ContainerStatus"), "PID")),
                  778);
    ASSERT_EQ_INT(op_find(&f, FOP_START, "t3"), -1);
    /* its exit arrives through the on_exit given at restore */
    ctr_exit(&f, "t1", 0);
    wait_state(&f, "t1", TASK_COMPLETE);
    json_t *cs = json_object_get(last_report(&f, "t1"), "ContainerStatus");
    ASSERT_EQ_INT(json_integer_value(json_object_get(cs, "ExitCode")), 0);
    for (int i = 0; i < f.nops; i++)
        ASSERT_TRUE(f.ops[i].kind == FOP_REMOVE);
    fake_end(&f);
}

TEST(agent_session_lost_container_fails_the_task)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    /* the leader had t1 running here, but no container was found */
    assign(&f, true, 1,
           json_pack("[o, o]", ch_task(task_obj("t1", "running", "running")),
                     ch_task(task_obj("t2", "shutdown", "running"))));
    wait_state(&f, "t1", TASK_FAILED);
    ASSERT_EQ_STR(json_string_value(json_object_get(last_report(&f, "t1"), "Err")),
                  "task: the container was lost on this node");
    wait_state(&f, "t2", TASK_SHUTDOWN);
    ASSERT_EQ_INT(f.nops, 0);
    fake_end(&f);
}

TEST(agent_session_freed_with_work_in_flight)
{
    struct fake f;
    fake_init(&f);
    restore_finish(&f);
    assign(&f, true, 1,
           json_pack("[o, o]", ch_task(task_obj("t1", "running", "assigned")),
                     ch_task(task_obj("t2", "running", "assigned"))));
    to_running(&f, "t1");
    wait_op(&f, FOP_PREPARE, "t2");
    assign(&f, false, 2, json_pack("[{s:s}]", "Removed", "t1"));
    wait_op(&f, FOP_REMOVE, "t1");
    wait_call(&f, "/swarm-rpc/status");
    /* poll, report, prepare and remove in flight: fake_end answers them after the free */
    fake_end(&f);
}

static int count_ops(struct fake *f, enum fop_kind k)
{
    int n = 0;
    for (int i = 0; i < f->nops; i++)
        n += f->ops[i].kind == k;
    return n;
}

/* At most AGENT_MAX_PREPARES prepares reach the executor at once; the others wait in
 * order and go as slots free up; a session freed with prepares waiting leaks nothing. */
TEST(agent_session_prepares_are_bounded)
{
    enum { MAX = AGENT_MAX_PREPARES };
    struct fake f;
    fake_init(&f);
    f.auto_status = true;
    restore_finish(&f);
    json_t *ch = json_array();
    char id[16];
    for (int i = 1; i <= MAX + 2; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        json_array_append_new(ch, ch_task(task_obj(id, "running", "assigned")));
    }
    assign(&f, true, 1, ch);
    snprintf(id, sizeof(id), "t%d", MAX);
    wait_op(&f, FOP_PREPARE, id);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(count_ops(&f, FOP_PREPARE), MAX);
    snprintf(id, sizeof(id), "t%d", MAX + 1);
    ASSERT_EQ_INT(op_find(&f, FOP_PREPARE, id), -1);
    /* every task says PREPARING: for the leader the prepare is under way */
    snprintf(id, sizeof(id), "t%d", MAX + 2);
    wait_state(&f, id, TASK_PREPARING);
    op_answer(&f, op_find(&f, FOP_PREPARE, "t2"), 0, NULL);
    snprintf(id, sizeof(id), "t%d", MAX + 1);
    wait_op(&f, FOP_PREPARE, id);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(count_ops(&f, FOP_PREPARE), MAX + 1);
    snprintf(id, sizeof(id), "t%d", MAX + 2);
    ASSERT_EQ_INT(op_find(&f, FOP_PREPARE, id), -1);
    fake_end(&f); /* the last one still waits */
}

static bool more_reports(struct fake *f, const void *arg)
{
    return f->nrep > *(const int *)arg;
}

/* A report the leader lost (it stepped down with the status write unwritten): the next
 * assignment shows the leader an older state than the node's, and the node says it again. */
TEST(agent_session_resends_a_state_the_leader_lost)
{
    struct fake f;
    fake_init(&f);
    f.auto_status = true;
    restore_finish(&f);
    assign(&f, true, 1, json_pack("[o]", ch_task(task_obj("t1", "running", "assigned"))));
    to_running(&f, "t1");
    uv_run(&f.loop, UV_RUN_NOWAIT);
    int before = f.nrep;
    /* the same state held upstream: nothing is re-sent */
    assign(&f, true, 2, json_pack("[o]", ch_task(task_obj("t1", "running", "running"))));
    uv_run(&f.loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(f.nrep, before);
    /* a new leader holds STARTING: RUNNING goes up again */
    assign(&f, true, 1, json_pack("[o]", ch_task(task_obj("t1", "running", "starting"))));
    run_until(&f, more_reports, &before);
    ASSERT_EQ_INT(f.rep_state[f.nrep - 1], TASK_RUNNING);
    fake_end(&f);
}
