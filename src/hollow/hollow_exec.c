/* hollow_exec.c — the fake executor of hollow workers (see hollow_int.h): containers that
 * are only a map entry, operations answered from two delay queues on the loop.
 *
 * Invariants: a queue's operations are due in the order they were queued (one delay per
 * queue), so its timer is armed for its head only. A timer callback answers only what was
 * queued before it ran (answers start more operations; those wait for the next turn). x
 * counts the started containers of every identity.
 * Thread: the loop thread. */
#include "hollow_int.h"

#include <stdlib.h>
#include <string.h>

#define HX_FIRST_PID 1000
#define HX_MAX_PID 4194303

struct hx_op {
    struct hx_op *next;
    uint64_t due;
    agent_done_cb done;
    void *arg;
    int rc;
    const char *err; /* static */
};

struct hx_queue {
    uv_timer_t timer;
    struct hollow_exec *x;
    uint64_t delay;
    struct hx_op *head, *tail;
};

struct hollow_exec {
    uv_loop_t *loop;
    struct hx_queue q[2]; /* 0: starts, 1: every other operation */
    int running;
    int next_pid;
    bool closing;
    int closing_handles;
    void (*free_cb)(void *data);
    void *free_data;
};

struct hctr {
    char id[65];
    int pid; /* 0 unless running */
    int exit_code;
    agent_exit_cb on_exit; /* never called: a fake container does not exit by itself */
    void *exit_arg;
};

struct hollow_ctrs {
    struct hollow_exec *x;
    struct strmap *ctrs; /* task ID → struct hctr */
};

/* ---- the queues ---- */

static void queue_fire(uv_timer_t *t);

static void queue_arm(struct hx_queue *q)
{
    if (!q->head || q->x->closing)
        return;
    uint64_t now = uv_now(q->x->loop);
    uv_timer_start(&q->timer, queue_fire, q->head->due > now ? q->head->due - now : 0, 0);
}

static void answer(struct hollow_exec *x, int which, agent_done_cb done, void *arg, int rc,
                   const char *err)
{
    struct hx_queue *q = &x->q[which];
    struct hx_op *op = xcalloc(1, sizeof(*op));
    op->due = uv_now(x->loop) + q->delay;
    op->done = done;
    op->arg = arg;
    op->rc = rc;
    op->err = err;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    if (!uv_is_active((uv_handle_t *)&q->timer))
        queue_arm(q);
}

static struct hx_op *queue_pop(struct hx_queue *q)
{
    struct hx_op *op = q->head;
    q->head = op->next;
    if (!q->head)
        q->tail = NULL;
    return op;
}

static void queue_fire(uv_timer_t *t)
{
    struct hx_queue *q = t->data;
    uint64_t now = uv_now(q->x->loop);
    struct hx_op *last = q->tail;
    while (q->head && q->head->due <= now) {
        struct hx_op *op = queue_pop(q);
        op->done(op->arg, op->rc, op->err);
        bool was_last = op == last;
        free(op);
        if (was_last)
            break;
    }
    queue_arm(q);
}

/* ---- containers ---- */

static struct hctr *ctr_get(struct hollow_ctrs *c, const char *task_id)
{
    return task_id ? strmap_get(c->ctrs, task_id) : NULL;
}

static void ctr_drop(struct hollow_ctrs *c, const char *task_id)
{
    struct hctr *k = strmap_del(c->ctrs, task_id);
    if (k && k->pid)
        c->x->running--;
    free(k);
}

static void hx_prepare(void *ctx, json_t *task, const char *service_name, agent_exit_cb on_exit,
                       void *exit_arg, agent_done_cb done, void *arg)
{
    (void)service_name;
    struct hollow_ctrs *c = ctx;
    const char *id = json_string_value(json_object_get(task, "ID"));
    if (!id) {
        answer(c->x, 1, done, arg, -ERR_INVALID, "hollow: the task has no ID");
        return;
    }
    struct hctr *k = ctr_get(c, id);
    if (!k) {
        /* a prepare again (its container never started) reuses the container, as dockerd */
        k = xcalloc(1, sizeof(*k));
        hex_id_new(k->id);
        strmap_put(c->ctrs, id, k);
    }
    k->on_exit = on_exit;
    k->exit_arg = exit_arg;
    answer(c->x, 1, done, arg, 0, NULL);
}

static void hx_start(void *ctx, const char *task_id, agent_done_cb done, void *arg)
{
    struct hollow_ctrs *c = ctx;
    struct hctr *k = ctr_get(c, task_id);
    if (!k) {
        answer(c->x, 0, done, arg, -ERR_NOT_FOUND, "No such container");
        return;
    }
    if (!k->pid) {
        struct hollow_exec *x = c->x;
        k->pid = x->next_pid++;
        if (x->next_pid > HX_MAX_PID)
            x->next_pid = HX_FIRST_PID;
        x->running++;
    }
    answer(c->x, 0, done, arg, 0, NULL);
}

static void hx_stop(void *ctx, const char *task_id, int64_t grace_ns, agent_done_cb done, void *arg)
{
    (void)grace_ns;
    struct hollow_ctrs *c = ctx;
    struct hctr *k = ctr_get(c, task_id);
    if (k && k->pid) {
        k->pid = 0;
        k->exit_code = 0; /* as a process that ends on SIGTERM by itself */
        c->x->running--;
    }
    answer(c->x, 1, done, arg, 0, NULL);
}

static void hx_remove(void *ctx, const char *task_id, agent_done_cb done, void *arg)
{
    struct hollow_ctrs *c = ctx;
    if (task_id)
        ctr_drop(c, task_id);
    answer(c->x, 1, done, arg, 0, NULL);
}

static int hx_status(void *ctx, const char *task_id, struct agent_ctr *out)
{
    struct hctr *k = ctr_get(ctx, task_id);
    if (!k)
        return -ERR_NOT_FOUND;
    memcpy(out->id, k->id, sizeof(out->id));
    out->pid = k->pid;
    out->exit_code = k->exit_code;
    return 0;
}

static void hx_restore(void *ctx,
                       void (*found)(void *arg, const char *task_id, bool running, int exit_code),
                       agent_exit_cb on_exit, void *exit_arg, agent_done_cb done, void *arg)
{
    (void)found; /* nothing outlives the process: there is never anything to find */
    (void)on_exit;
    (void)exit_arg;
    struct hollow_ctrs *c = ctx;
    answer(c->x, 1, done, arg, 0, NULL);
}

static void hx_unwatch(void *ctx, void *exit_arg)
{
    struct hollow_ctrs *c = ctx;
    size_t it = 0;
    const char *id;
    void *v;
    while (strmap_next(c->ctrs, &it, &id, &v)) {
        struct hctr *k = v;
        if (k->exit_arg == exit_arg)
            k->on_exit = NULL, k->exit_arg = NULL;
    }
}

static void drop_all(struct hollow_ctrs *c)
{
    size_t it = 0;
    const char *id;
    void *v;
    while (strmap_next(c->ctrs, &it, &id, &v)) {
        struct hctr *k = v;
        if (k->pid)
            c->x->running--;
        free(k);
    }
    strmap_free(c->ctrs);
}

static void hx_remove_all(void *ctx, agent_done_cb done, void *arg)
{
    struct hollow_ctrs *c = ctx;
    drop_all(c);
    c->ctrs = strmap_new();
    answer(c->x, 1, done, arg, 0, NULL);
}

const struct agent_exec_ops hollow_exec_ops = {
    .prepare = hx_prepare,
    .start = hx_start,
    .stop = hx_stop,
    .remove = hx_remove,
    .status = hx_status,
    .restore = hx_restore,
    .unwatch = hx_unwatch,
    .remove_all = hx_remove_all,
};

/* ---- lifecycle ---- */

struct hollow_exec *hollow_exec_new(uv_loop_t *loop, int64_t start_ms, int64_t op_ms)
{
    struct hollow_exec *x = xcalloc(1, sizeof(*x));
    x->loop = loop;
    x->next_pid = HX_FIRST_PID;
    int64_t delays[2] = {start_ms, op_ms};
    for (int i = 0; i < 2; i++) {
        struct hx_queue *q = &x->q[i];
        q->x = x;
        q->delay = delays[i] > 0 ? (uint64_t)delays[i] : 0;
        uv_timer_init(loop, &q->timer);
        q->timer.data = q;
    }
    return x;
}

static void timer_closed(uv_handle_t *h)
{
    struct hollow_exec *x = ((struct hx_queue *)h->data)->x;
    if (--x->closing_handles)
        return;
    void (*cb)(void *) = x->free_cb;
    void *data = x->free_data;
    free(x);
    if (cb)
        cb(data);
}

void hollow_exec_free(struct hollow_exec *x, void (*cb)(void *data), void *data)
{
    BUG_ON(x->closing);
    x->closing = true;
    x->free_cb = cb;
    x->free_data = data;
    /* an answer may queue another operation (a session not freed yet): until both are empty */
    for (int i = 0; x->q[0].head || x->q[1].head; i = (i + 1) % 2) {
        struct hx_queue *q = &x->q[i];
        while (q->head) {
            struct hx_op *op = queue_pop(q);
            op->done(op->arg, -ERR_UNAVAILABLE, "hollow: stopping");
            free(op);
        }
    }
    x->closing_handles = 2;
    for (int i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&x->q[i].timer, timer_closed);
}

int hollow_exec_running(const struct hollow_exec *x)
{
    return x->running;
}

struct hollow_ctrs *hollow_ctrs_new(struct hollow_exec *x)
{
    struct hollow_ctrs *c = xcalloc(1, sizeof(*c));
    c->x = x;
    c->ctrs = strmap_new();
    return c;
}

void hollow_ctrs_free(struct hollow_ctrs *c)
{
    if (!c)
        return;
    drop_all(c);
    free(c);
}
