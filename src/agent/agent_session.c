/* agent_session.c — this node's tasks from the leader's dispatcher (see agent.h).
 *
 * Invariants: one assignments poll in flight (or its retry timer armed); one status report
 * in flight, the transitions seen meanwhile wait in `reports` (the newest per task wins; a
 * failed report puts back what nothing newer replaced). Every task has at most one executor
 * operation running; a task taken away waits for that operation, then its container is
 * removed and the task forgotten. A freed session (dead) keeps its memory until every call
 * and operation in flight has answered; nothing happens after agent_session_free.
 * Thread: the loop thread. */
#include "agent.h"

#include "msg/msg.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define POLL_RETRY_MS 500

struct stask {
    struct agent_session *s;
    char id[ID_LEN + 1];
    json_t *task; /* the latest object from the dispatcher */
    char *service_name;
    struct agent_task sm;
    enum agent_op running_op; /* the executor operation in flight (AGENT_OP_NONE: none) */
    bool removing;            /* no longer assigned: remove its container, then forget it */
    bool removed_op;          /* the remove is in flight */
    bool adopted;             /* restored from disk: prepared and started already */
    struct stask *wait_next;  /* in the session's queue of prepares waiting for a slot */
    bool waiting;
};

struct agent_session {
    uv_loop_t *loop;
    agent_call_fn call;
    void *call_ctx;
    const struct agent_exec_ops *ops;
    void *ops_ctx;
    struct strmap *tasks; /* task ID → struct stask */
    json_t *found;        /* task ID → {"Running", "Exit"}: containers found at restore */
    bool restored, got_full, started, polling, dead;
    char session_id[ID_LEN + 1];
    uint64_t ack;
    json_t *reports; /* task ID → its update ({"TaskID", "Status"}) not sent yet */
    json_t *sent;    /* the report in flight */
    uv_timer_t *poll_timer, *report_timer;
    int pending; /* calls and operations in flight */
    /* Prepares (image, rootfs, the runtime's create: the costly part of a start) run at
     * most AGENT_MAX_PREPARES at once; the rest wait in order. 100 runtime processes at once
     * on 2 CPUs starve etcd and this loop and finish no sooner. Measured on 2 CPUs, scale
     * 10 -> 100 on one node, three runs each: 4 at once 1.07-1.29 s, 8 at once 0.88-0.93 s,
     * 16 at once 0.95-1.08 s (a runtime create waits ~9 ms on a cgroup attach, so more than
     * one per CPU keeps the CPUs busy). */
    int preparing;
    struct stask *wait_head, *wait_tail;
};

static void drive(struct stask *t);
static void poll_send(struct agent_session *s);

static void poll_tick(uv_timer_t *t)
{
    poll_send(t->data);
}

static void maybe_free(struct agent_session *s)
{
    if (!s->dead || s->pending)
        return;
    strmap_free(s->tasks);
    json_decref(s->found);
    json_decref(s->reports);
    json_decref(s->sent);
    free(s);
}

static void stask_free(struct stask *t)
{
    json_decref(t->task);
    free(t->service_name);
    free(t);
}

static enum task_state desired_of(const struct stask *t)
{
    int d = task_state_parse(json_string_value(json_object_get(t->task, "DesiredState")));
    return d < 0 ? TASK_RUNNING : (enum task_state)d;
}

/* ---- reports ---- */

static void report_flush(uv_timer_t *timer);

static void report(struct stask *t)
{
    struct agent_session *s = t->s;
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    struct msg_status_update u = {.task_id = t->id,
                                  .status = {.timestamp = now,
                                             .state = t->sm.state,
                                             .message = t->sm.message,
                                             .err = t->sm.err[0] ? t->sm.err : NULL}};
    struct agent_ctr c = {0};
    struct msg_port *ports = NULL;
    if (s->ops->status(s->ops_ctx, t->id, &c) == 0) {
        u.status.has_container = true;
        u.status.container_id = c.id;
        u.status.pid = c.pid;
        u.status.exit_code = t->sm.state >= TASK_COMPLETE ? t->sm.exit_code : c.exit_code;
        /* Docker's PortStatus comes from the started container's bindings: reported with
         * RUNNING; a stopped container holds none, so later reports clear it */
        if (c.nports && t->sm.state == TASK_RUNNING) {
            ports = xcalloc(c.nports, sizeof(*ports));
            for (size_t i = 0; i < c.nports; i++)
                ports[i] = (struct msg_port){
                    .protocol = c.ports[i].proto == NET_UDP ? "udp" : "tcp",
                    .publish_mode = "host",
                    .target_port = c.ports[i].target,
                    .published_port = c.ports[i].published,
                };
            u.status.ports = ports;
            u.status.n_ports = c.nports;
        }
    }
    json_object_set_new(s->reports, t->id, msg_status_update_encode(&u));
    free(ports);
    if (!s->sent && !uv_is_active((uv_handle_t *)s->report_timer))
        uv_timer_start(s->report_timer, report_flush, AGENT_REPORT_MS, 0);
}

static void report_done(void *arg, int status, json_t *answer)
{
    (void)answer;
    struct agent_session *s = arg;
    s->pending--;
    json_t *sent = s->sent;
    s->sent = NULL;
    if (s->dead) {
        json_decref(sent);
        maybe_free(s);
        return;
    }
    if (status != 200) {
        const char *id;
        json_t *v;
        json_object_foreach(sent, id, v)
        {
            if (!json_object_get(s->reports, id))
                json_object_set(s->reports, id, v);
        }
    }
    json_decref(sent);
    if (json_object_size(s->reports))
        uv_timer_start(s->report_timer, report_flush, status == 200 ? AGENT_REPORT_MS : 500, 0);
}

static void report_flush(uv_timer_t *timer)
{
    struct agent_session *s = timer->data;
    if (s->sent || !json_object_size(s->reports))
        return;
    json_t *ups = json_array();
    const char *id;
    json_t *v;
    json_object_foreach(s->reports, id, v)
    {
        json_array_append(ups, v);
    }
    s->sent = s->reports;
    s->reports = json_object();
    json_t *body = msg_status_batch_wrap(ups);
    s->pending++;
    s->call(s->call_ctx, "/swarm-rpc/status", body, report_done, s);
    json_decref(body);
}

/* ---- executor operations ---- */

static void forget(struct stask *t)
{
    strmap_del(t->s->tasks, t->id);
    stask_free(t);
}

static void remove_done(void *arg, int rc, const char *err)
{
    struct stask *t = arg;
    struct agent_session *s = t->s;
    s->pending--;
    if (rc < 0)
        log_warn("could not remove the container of task %s: %s", t->id, err ? err : "");
    if (s->dead) {
        stask_free(t);
        maybe_free(s);
        return;
    }
    forget(t);
}

static void start_remove(struct stask *t)
{
    if (t->removed_op || t->running_op != AGENT_OP_NONE)
        return; /* after the operation in flight */
    t->removed_op = true;
    t->s->pending++;
    t->s->ops->remove(t->s->ops_ctx, t->id, remove_done, t);
}

static void on_exit_cb(void *arg, const char *task_id, int code, const char *cause)
{
    struct agent_session *s = arg;
    if (s->dead)
        return;
    struct stask *t = strmap_get(s->tasks, task_id);
    if (!t)
        return;
    enum task_state before = t->sm.state;
    agent_task_exited(&t->sm, code, cause);
    if (t->sm.state != before)
        report(t);
    drive(t);
}

static void op_done(void *arg, int rc, const char *err);

static void prepare_launch(struct stask *t)
{
    struct agent_session *s = t->s;
    s->preparing++;
    s->ops->prepare(s->ops_ctx, t->task, t->service_name, on_exit_cb, s, op_done, t);
}

/* Starts the prepares that wait, while slots are free. */
static void prepares_resume(struct agent_session *s)
{
    while (!s->dead && s->wait_head && s->preparing < AGENT_MAX_PREPARES) {
        struct stask *t = s->wait_head;
        s->wait_head = t->wait_next;
        if (!s->wait_head)
            s->wait_tail = NULL;
        t->wait_next = NULL;
        t->waiting = false;
        prepare_launch(t);
    }
}

static void op_done(void *arg, int rc, const char *err)
{
    struct stask *t = arg;
    struct agent_session *s = t->s;
    s->pending--;
    enum agent_op op = t->running_op;
    t->running_op = AGENT_OP_NONE;
    if (op == AGENT_OP_PREPARE) {
        s->preparing--;
        prepares_resume(s);
    }
    if (s->dead) {
        if (!strmap_get(s->tasks, t->id))
            stask_free(t);
        maybe_free(s);
        return;
    }
    enum task_state before = t->sm.state;
    agent_task_result(&t->sm, op, rc, err);
    if (t->removing) {
        report(t);
        start_remove(t);
        return;
    }
    if (t->sm.state != before)
        report(t); /* the outcome moved it (STARTING -> RUNNING): drive sees no change */
    drive(t);
}

static void run_op(struct stask *t, enum agent_op op)
{
    struct agent_session *s = t->s;
    if (op == AGENT_OP_WAIT)
        return; /* the container's exit comes through on_exit */
    t->running_op = op;
    s->pending++;
    switch (op) {
    case AGENT_OP_PREPARE:
        if (s->preparing < AGENT_MAX_PREPARES) {
            prepare_launch(t);
        } else { /* in flight as far as the task knows; the executor gets it later */
            t->waiting = true;
            if (s->wait_tail)
                s->wait_tail->wait_next = t;
            else
                s->wait_head = t;
            s->wait_tail = t;
        }
        break;
    case AGENT_OP_START:
        s->ops->start(s->ops_ctx, t->id, op_done, t);
        break;
    case AGENT_OP_SHUTDOWN:
        s->ops->stop(s->ops_ctx, t->id, -1, op_done, t);
        break;
    default:
        t->running_op = AGENT_OP_NONE;
        s->pending--;
        break;
    }
}

static void drive(struct stask *t)
{
    if (t->removing) {
        start_remove(t);
        return;
    }
    for (int guard = 0; guard < 32; guard++) {
        enum agent_op op;
        bool changed = agent_task_step(&t->sm, desired_of(t), &op);
        if (changed)
            report(t);
        if (op != AGENT_OP_NONE) {
            run_op(t, op);
            return;
        }
        if (!changed)
            return;
    }
}

/* ---- assignments ---- */

/* A task seen for the first time: its state machine starts where the node left it. */
static void adopt(struct agent_session *s, struct stask *t)
{
    agent_task_init(&t->sm);
    int stored = task_state_parse(store_json_str(t->task, "Status.State"));
    json_t *f = json_object_get(s->found, t->id);
    if (f) {
        bool running = json_is_true(json_object_get(f, "Running"));
        int code = (int)json_integer_value(json_object_get(f, "Exit"));
        json_object_del(s->found, t->id);
        if (running || stored >= TASK_RUNNING) {
            /* prepared and started before: adopted as it is, not restarted */
            t->sm.state = TASK_RUNNING;
            snprintf(t->sm.message, sizeof(t->sm.message), "started");
            t->adopted = true;
            if (!running)
                agent_task_exited(&t->sm, code, NULL);
            if ((int)t->sm.state > stored)
                report(t); /* it moved while the node was down (or its report was lost) */
            return;
        }
        /* created but never started: prepared again from the start */
    }
    if (stored > TASK_ASSIGNED && stored <= TASK_RUNNING) {
        /* the node had it further along, and its container is gone */
        t->sm.state = desired_of(t) > TASK_RUNNING ? TASK_SHUTDOWN : TASK_FAILED;
        snprintf(t->sm.message, sizeof(t->sm.message), "%s",
                 t->sm.state == TASK_SHUTDOWN ? "shutdown" : "started");
        if (t->sm.state == TASK_FAILED)
            snprintf(t->sm.err, sizeof(t->sm.err), "task: the container was lost on this node");
        report(t);
    } else if (stored > TASK_RUNNING) {
        t->sm.state = (enum task_state)stored; /* finished: nothing to do */
    }
}

static void upsert(struct agent_session *s, json_t *task, const char *service_name)
{
    const char *id = json_string_value(json_object_get(task, "ID"));
    if (!id || strlen(id) > ID_LEN)
        return;
    struct stask *t = strmap_get(s->tasks, id);
    if (!t) {
        t = xcalloc(1, sizeof(*t));
        t->s = s;
        snprintf(t->id, sizeof(t->id), "%s", id);
        t->task = json_incref(task);
        t->service_name = xstrdup(service_name ? service_name : "");
        strmap_put(s->tasks, id, t);
        adopt(s, t);
    } else {
        json_decref(t->task);
        t->task = json_incref(task);
        if (t->removing)
            return;
        /* the leader holds an older state than ours: a report was lost (a leader that
         * stepped down with it unwritten); say it again */
        json_t *st = json_object_get(json_object_get(task, "Status"), "State");
        int held = task_state_parse(json_string_value(st));
        if (held >= 0 && (int)t->sm.state > held && t->sm.state >= TASK_ACCEPTED)
            report(t);
    }
    drive(t);
}

static void take_away(struct stask *t)
{
    t->removing = true;
    if (t->sm.state < TASK_COMPLETE && t->running_op == AGENT_OP_NONE &&
        t->sm.state >= TASK_ACCEPTED)
        report(t);
    start_remove(t);
}

static void remove_strays(struct agent_session *s)
{
    const char *id;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(s->found, tmp, id, v)
    {
        /* a container of a task this node no longer has */
        struct stask *t = xcalloc(1, sizeof(*t));
        t->s = s;
        snprintf(t->id, sizeof(t->id), "%s", id);
        t->service_name = xstrdup("");
        t->removing = true;
        strmap_put(s->tasks, t->id, t);
        start_remove(t);
        json_object_del(s->found, id);
    }
}

static void poll_done(void *arg, int status, json_t *answer)
{
    struct agent_session *s = arg;
    s->pending--;
    s->polling = false;
    if (s->dead) {
        maybe_free(s);
        return;
    }
    struct msg_assign_resp a;
    struct err e;
    if (status != 200 || msg_assign_resp_decode(answer, &a, &e) < 0) {
        if (status == 200)
            log_warn("assignments: %s", e.msg);
        uv_timer_start(s->poll_timer, poll_tick, POLL_RETRY_MS, 0);
        return;
    }
    bool full = a.full;
    json_t *seen = json_object();
    size_t i;
    json_t *c;
    for (i = 0; i < a.n_changes; i++) {
        const struct msg_assign_change *ch = &a.changes[i];
        if (ch->task) {
            json_object_set_new(seen, ch->task_id, json_true());
            upsert(s, ch->task, ch->service_name);
        } else {
            struct stask *t = strmap_get(s->tasks, ch->removed);
            if (t && !t->removing)
                take_away(t);
        }
    }
    if (full) {
        /* what the full set does not name is no longer this node's */
        size_t it = 0;
        const char *id;
        void *v;
        json_t *gone = json_array();
        while (strmap_next(s->tasks, &it, &id, &v))
            if (!json_object_get(seen, id) && !((struct stask *)v)->removing)
                json_array_append_new(gone, json_string(id));
        json_array_foreach(gone, i, c)
        {
            take_away(strmap_get(s->tasks, json_string_value(c)));
        }
        json_decref(gone);
        if (!s->got_full) {
            s->got_full = true;
            remove_strays(s);
        }
    }
    json_decref(seen);
    if (a.seq > 0)
        s->ack = a.seq;
    msg_assign_resp_release(&a);
    poll_send(s);
}

static void poll_send(struct agent_session *s)
{
    if (s->polling || s->dead || !s->restored)
        return;
    s->polling = true;
    s->pending++;
    json_t *body =
        msg_assign_req_encode(&(struct msg_assign_req){s->session_id, true, s->ack, NULL});
    s->call(s->call_ctx, "/swarm-rpc/assignments", body, poll_done, s);
    json_decref(body);
}

static void found_cb(void *arg, const char *task_id, bool running, int exit_code)
{
    struct agent_session *s = arg;
    json_object_set_new(s->found, task_id,
                        json_pack("{s:b, s:i}", "Running", running, "Exit", exit_code));
}

static void restore_done(void *arg, int rc, const char *err)
{
    struct agent_session *s = arg;
    s->pending--;
    if (s->dead) {
        maybe_free(s);
        return;
    }
    if (rc < 0)
        log_warn("could not look for the containers of a previous run: %s", err ? err : "");
    s->restored = true;
    poll_send(s);
}

struct agent_session *agent_session_new(uv_loop_t *loop, agent_call_fn call, void *call_ctx,
                                        const struct agent_exec_ops *ops, void *ops_ctx)
{
    struct agent_session *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->call = call;
    s->call_ctx = call_ctx;
    s->ops = ops;
    s->ops_ctx = ops_ctx;
    s->tasks = strmap_new();
    s->found = json_object();
    s->reports = json_object();
    id_new(s->session_id);
    s->poll_timer = xmalloc(sizeof(*s->poll_timer));
    uv_timer_init(loop, s->poll_timer);
    s->poll_timer->data = s;
    s->report_timer = xmalloc(sizeof(*s->report_timer));
    uv_timer_init(loop, s->report_timer);
    s->report_timer->data = s;
    return s;
}

void agent_session_start(struct agent_session *s)
{
    if (s->started)
        return;
    s->started = true;
    s->pending++;
    s->ops->restore(s->ops_ctx, found_cb, on_exit_cb, s, restore_done, s);
}

static void handle_closed(uv_handle_t *h)
{
    free(h);
}

void agent_session_free(struct agent_session *s)
{
    if (!s)
        return;
    size_t it = 0;
    const char *id;
    void *v;
    while (strmap_next(s->tasks, &it, &id, &v)) {
        struct stask *t = v;
        if (t->waiting) { /* its prepare never reached the executor: no answer will come */
            s->pending--;
            stask_free(t);
        } else if (t->running_op == AGENT_OP_NONE && !t->removed_op) {
            stask_free(t); /* else its operation's answer frees it */
        }
    }
    s->wait_head = s->wait_tail = NULL;
    strmap_free(s->tasks);
    s->tasks = strmap_new(); /* empty: late answers find nothing */
    if (s->ops->unwatch)
        s->ops->unwatch(s->ops_ctx, s); /* the containers stay; their exits no longer come here */
    uv_close((uv_handle_t *)s->poll_timer, handle_closed);
    uv_close((uv_handle_t *)s->report_timer, handle_closed);
    s->dead = true;
    maybe_free(s);
}

size_t agent_session_tasks(const struct agent_session *s)
{
    return strmap_len(s->tasks);
}
