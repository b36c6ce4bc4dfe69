/* agent_logs.c — the worker's side of the log broker (see agent.h and
 * manager/logbroker/logbroker.h for the wire).
 *
 * Invariants: one listen call in flight at a time (or a retry timer armed); per subscription
 * at most one publish call in flight, the messages gathered meanwhile go in the next ones, in
 * order, in batches of at most LOGS_BATCH_BYTES as encoded (plus one message), so that a body
 * stays within the peer port's bound however short the messages; Close goes in the last
 * one, once every task's log has ended and everything before it was accepted. A freed agent_logs
 * (dead) waits for its calls in flight to answer before its memory goes; nothing else happens after
 * agent_logs_free. Thread: the loop thread. */
#include "agent.h"

#include "msg/msg.h"

#include <stdlib.h>
#include <string.h>

#define LOGS_RETRY_MS 500       /* after a failed listen */
#define LOGS_FLUSH_MS 20        /* messages are gathered this long before a publish */
#define LOGS_BATCH_BYTES 262144 /* ... or until this much is waiting, as encoded */
/* What a message costs in a publication besides its base64 data: {"TaskID":"<25>",
 * "Stream":1,"Time":<20>,"Data":""} and a comma. */
#define LOGS_MSG_OVERHEAD 96

struct logs_task {
    char *task_id;
    void *handle; /* the open log, NULL once it ended */
    bool ended;
};

struct task_ref {
    struct logs_sub *s;
    size_t i;
};

struct logs_sub {
    struct agent_logs *l;
    char *id;
    struct logs_task *tasks;
    struct task_ref *refs; /* the callbacks' argument per task */
    size_t ntasks;
    json_t *ready;        /* full batches not sent yet, oldest first (arrays of messages) */
    json_t *pending;      /* the batch being gathered */
    size_t pending_bytes; /* its size in a publication body */
    bool publishing;      /* a publish call is in flight */
    bool close_sent;      /* the last publication (Close) went out */
    bool dropped;         /* closed by the broker or by free: waiting for its publish to answer */
    struct logs_sub *next;
};

struct agent_logs {
    uv_loop_t *loop;
    agent_call_fn call;
    void *call_ctx;
    const struct agent_log_ops *ops;
    void *ops_ctx;
    struct logs_sub *subs;
    uv_timer_t *timer; /* listen retry and flushes */
    bool listening;    /* a listen call is in flight */
    bool started, dead;
    int calls; /* calls in flight (listen and publishes) */
};

static void logs_schedule(struct agent_logs *l, uint64_t ms);

static struct logs_sub *sub_find(struct agent_logs *l, const char *id)
{
    for (struct logs_sub *s = l->subs; s; s = s->next)
        if (!strcmp(s->id, id))
            return s;
    return NULL;
}

/* Closes the logs still open (no callback afterwards). */
static void sub_close_logs(struct logs_sub *s)
{
    for (size_t i = 0; i < s->ntasks; i++)
        if (s->tasks[i].handle) {
            s->l->ops->close(s->l->ops_ctx, s->tasks[i].handle);
            s->tasks[i].handle = NULL;
        }
}

static void sub_free(struct logs_sub *s)
{
    for (size_t i = 0; i < s->ntasks; i++)
        free(s->tasks[i].task_id);
    free(s->tasks);
    free(s->refs);
    free(s->id);
    json_decref(s->ready);
    json_decref(s->pending);
    free(s);
}

/* Takes s out of the list; freed now, or when its publish answers. */
static void sub_drop(struct logs_sub *s)
{
    struct agent_logs *l = s->l;
    for (struct logs_sub **pp = &l->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    sub_close_logs(s);
    s->dropped = true;
    if (!s->publishing)
        sub_free(s);
}

static void logs_maybe_free(struct agent_logs *l)
{
    if (!l->dead || l->calls)
        return;
    if (l->timer)
        uv_close((uv_handle_t *)l->timer, (uv_close_cb)free);
    free(l);
}

static bool sub_all_ended(const struct logs_sub *s)
{
    for (size_t i = 0; i < s->ntasks; i++)
        if (!s->tasks[i].ended)
            return false;
    return true;
}

static void sub_flush(struct logs_sub *s);

static void publish_done(void *arg, int status, json_t *answer)
{
    (void)answer;
    struct logs_sub *s = arg;
    struct agent_logs *l = s->l;
    l->calls--;
    s->publishing = false;
    if (s->dropped || l->dead) {
        if (s->dropped)
            sub_free(s);
        logs_maybe_free(l);
        return;
    }
    if (status != 200)
        log_debug("log publication for %s answered %d", s->id, status);
    if (s->close_sent) {
        sub_drop(s);
        return;
    }
    sub_flush(s);
}

/* Sends the oldest batch not sent (with Close when it is the last and everything ended),
 * unless a publish is in flight. */
static void sub_flush(struct logs_sub *s)
{
    struct agent_logs *l = s->l;
    if (s->publishing || s->close_sent || l->dead)
        return;
    json_t *msgs;
    if (json_array_size(s->ready)) {
        msgs = json_incref(json_array_get(s->ready, 0));
        json_array_remove(s->ready, 0);
    } else if (json_array_size(s->pending) || sub_all_ended(s)) {
        msgs = s->pending;
        s->pending = json_array();
        s->pending_bytes = 0;
    } else {
        return;
    }
    bool last = sub_all_ended(s) && !json_array_size(s->ready) && !json_array_size(s->pending);
    json_t *body = msg_logs_publish_wrap(s->id, msgs, last);
    s->publishing = true;
    s->close_sent = last;
    l->calls++;
    l->call(l->call_ctx, "/swarm-rpc/logs/publish", body, publish_done, s);
    json_decref(body);
}

static void on_log_data(void *arg, int stream, int64_t time_ns, const char *data, size_t len)
{
    struct task_ref *r = arg;
    struct logs_sub *s = r->s;
    json_array_append_new(s->pending, msg_log_msg_encode(&(struct msg_log_msg){
                                          .task_id = s->tasks[r->i].task_id,
                                          .stream = stream,
                                          .time_ns = time_ns,
                                          .data = data,
                                          .len = len,
                                      }));
    s->pending_bytes += (len + 2) / 3 * 4 + LOGS_MSG_OVERHEAD;
    if (s->pending_bytes >= LOGS_BATCH_BYTES) {
        json_array_append_new(s->ready, s->pending);
        s->pending = json_array();
        s->pending_bytes = 0;
        sub_flush(s);
    } else
        logs_schedule(s->l, LOGS_FLUSH_MS);
}

static void on_log_end(void *arg)
{
    struct task_ref *r = arg;
    struct logs_sub *s = r->s;
    s->tasks[r->i].handle = NULL;
    s->tasks[r->i].ended = true;
    if (sub_all_ended(s))
        logs_schedule(s->l, 0);
}

/* Starts serving one subscription of the listen answer. */
static void sub_start(struct agent_logs *l, const struct msg_log_sub *m)
{
    if (sub_find(l, m->id))
        return;
    struct logs_sub *s = xcalloc(1, sizeof(*s));
    s->l = l;
    s->id = xstrdup(m->id);
    s->ready = json_array();
    s->pending = json_array();
    s->ntasks = m->n_tasks;
    s->tasks = xcalloc(s->ntasks ? s->ntasks : 1, sizeof(*s->tasks));
    s->refs = xcalloc(s->ntasks ? s->ntasks : 1, sizeof(*s->refs));
    s->next = l->subs;
    l->subs = s;
    struct agent_log_opts o = {
        .follow = m->follow,
        .want_stdout = m->want_stdout,
        .want_stderr = m->want_stderr,
        .tail = (long)m->tail,
        .since_ns = m->since_ns,
        .until_ns = m->until_ns,
    };
    for (size_t i = 0; i < s->ntasks; i++) {
        s->tasks[i].task_id = xstrdup(m->task_ids[i]);
        struct task_ref *r = &s->refs[i];
        *r = (struct task_ref){s, i};
        struct err e;
        s->tasks[i].handle =
            l->ops->open(l->ops_ctx, s->tasks[i].task_id, &o, on_log_data, on_log_end, r, &e);
        if (!s->tasks[i].handle) {
            log_debug("no log for task %s: %s", s->tasks[i].task_id, e.msg);
            s->tasks[i].ended = true;
        }
    }
    if (sub_all_ended(s))
        logs_schedule(l, 0);
}

static void listen_send(struct agent_logs *l);

static void listen_done(void *arg, int status, json_t *answer)
{
    struct agent_logs *l = arg;
    l->calls--;
    l->listening = false;
    if (l->dead) {
        logs_maybe_free(l);
        return;
    }
    struct msg_logs_listen_resp a;
    struct err e;
    if (status != 200 || msg_logs_listen_resp_decode(answer, &a, &e) < 0) {
        if (status == 200)
            log_warn("log broker: %s", e.msg);
        logs_schedule(l, LOGS_RETRY_MS);
        return;
    }
    for (size_t i = 0; i < a.n_closed; i++) {
        struct logs_sub *s = sub_find(l, a.closed[i]);
        if (s)
            sub_drop(s);
    }
    for (size_t i = 0; i < a.n_subs; i++)
        sub_start(l, &a.subs[i]);
    msg_logs_listen_resp_release(&a);
    listen_send(l);
}

static void listen_send(struct agent_logs *l)
{
    if (l->listening || l->dead)
        return;
    struct msg_logs_listen_req m = {.serving = xcalloc(agent_logs_serving(l) + 1, sizeof(char *))};
    for (struct logs_sub *s = l->subs; s; s = s->next)
        m.serving[m.n_serving++] = s->id;
    json_t *body = msg_logs_listen_req_encode(&m);
    free(m.serving);
    l->listening = true;
    l->calls++;
    l->call(l->call_ctx, "/swarm-rpc/logs/listen", body, listen_done, l);
    json_decref(body);
}

static void logs_tick(uv_timer_t *t)
{
    struct agent_logs *l = t->data;
    for (struct logs_sub *s = l->subs, *next; s; s = next) {
        next = s->next;
        sub_flush(s);
    }
    if (l->started)
        listen_send(l);
}

static void logs_schedule(struct agent_logs *l, uint64_t ms)
{
    if (l->dead)
        return;
    if (uv_is_active((uv_handle_t *)l->timer) && uv_timer_get_due_in(l->timer) <= ms)
        return;
    uv_timer_start(l->timer, logs_tick, ms, 0);
}

struct agent_logs *agent_logs_new(uv_loop_t *loop, agent_call_fn call, void *call_ctx,
                                  const struct agent_log_ops *ops, void *ops_ctx)
{
    struct agent_logs *l = xcalloc(1, sizeof(*l));
    l->loop = loop;
    l->call = call;
    l->call_ctx = call_ctx;
    l->ops = ops;
    l->ops_ctx = ops_ctx;
    l->timer = xmalloc(sizeof(*l->timer));
    uv_timer_init(loop, l->timer);
    l->timer->data = l;
    return l;
}

void agent_logs_start(struct agent_logs *l)
{
    l->started = true;
    listen_send(l);
}

void agent_logs_free(struct agent_logs *l)
{
    if (!l)
        return;
    while (l->subs)
        sub_drop(l->subs);
    uv_timer_stop(l->timer);
    l->dead = true;
    logs_maybe_free(l);
}

size_t agent_logs_serving(const struct agent_logs *l)
{
    size_t n = 0;
    for (const struct logs_sub *s = l->subs; s; s = s->next)
        n++;
    return n;
}
