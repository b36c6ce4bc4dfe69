/* node_dispatch.c — the wiring of the dispatcher's liveness (manager/dispatcher/disp.h,
 * disp_live.c decides): heartbeats and joins go into the leader's liveness table, a timer runs
 * its checks, and the marks it returns are written to the node objects through the leader's
 * fenced commit (one write in flight per node, shared with node_rotate.c's TLS records). The
 * table lives while this manager leads; the same timer drives the leader's root-rotation and
 * etcd-trust ticks. Thread: the loop thread. */
#include "node_int.h"

#include "manager/dispatcher/disp.h"

#include <stdlib.h>
#include <string.h>

int64_t node_heartbeat_period_ms(struct node *n)
{
    json_t *c = node_cluster(n);
    json_int_t ns =
        c ? json_integer_value(store_json_path(c, "Spec.Dispatcher.HeartbeatPeriod")) : 0;
    return disp_live_period_ms((int64_t)ns);
}

struct mark_ctx {
    struct node *n;
    char id[ID_LEN + 1];
};

static void mark_done(void *data, int rc, struct err *e)
{
    struct mark_ctx *c = data;
    if (c->n->marking)
        json_object_del(c->n->marking, c->id);
    if (rc < 0)
        log_warn("could not update the status of node %s: %s", c->id, e->msg);
    free(c);
}

void node_dispatch_mark(struct node *n, const char *id, const char *state, const char *msg)
{
    json_t *cur = store_get(n->store, STORE_NODE, id);
    if (!cur || (n->marking && json_object_get(n->marking, id)))
        return;
    if (!strcmp(store_json_str(cur, "Status.State") ?: "", state))
        return;
    json_t *obj = json_deep_copy(cur);
    json_t *st = json_object_get(obj, "Status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(obj, "Status", st);
    }
    json_object_set_new(st, "State", json_string(state));
    if (msg && msg[0])
        json_object_set_new(st, "Message", json_string(msg));
    else
        json_object_del(st, "Message");
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    json_object_set_new(obj, "UpdatedAt", json_string(now));
    log_info("node %s is %s%s%s", id, state, msg && msg[0] ? ": " : "", msg ? msg : "");
    struct mark_ctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    snprintf(c->id, sizeof(c->id), "%s", id);
    if (n->marking)
        json_object_set_new(n->marking, id, json_true());
    node_commit_leader(n, STORE_NODE, obj, store_obj_version(cur), mark_done, c);
}

void node_dispatch_seen(struct node *n, const char *id)
{
    if (!n->live)
        return;
    json_t *cur = store_get(n->store, STORE_NODE, id);
    bool ready = cur && !strcmp(store_json_str(cur, "Status.State") ?: "", "ready");
    if (disp_live_heard(n->live, id, ready, uv_now(n->loop)))
        node_dispatch_mark(n, id, "ready", NULL);
}

struct nodes_in {
    struct disp_live_node *v;
    size_t n, cap;
};

static int add_node(json_t *obj, void *data)
{
    struct nodes_in *in = data;
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 64;
        in->v = xrealloc(in->v, in->cap * sizeof(*in->v));
    }
    in->v[in->n++] = (struct disp_live_node){
        .id = store_json_str(obj, "ID"),
        .ready = !strcmp(store_json_str(obj, "Status.State") ?: "", "ready")};
    return 0;
}

/* The next tick is armed before anything below runs, so nothing after that touches the timer. */
static void on_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    int64_t period = node_heartbeat_period_ms(n);
    uint64_t now = uv_now(n->loop);
    bool leads = n->state == NODE_ACTIVE && n->st && state_available(n->st) && node_is_leader(n);
    struct disp_live_marks marks = {.next = now + disp_live_tick_ms(period)};
    if (leads) {
        struct nodes_in in = {0};
        store_foreach(n->store, STORE_NODE, add_node, &in);
        disp_live_check(n->live, in.v, in.n, period, now, &marks);
        free(in.v);
    }
    uv_timer_start(n->disp_timer, on_tick, marks.next - now, 0);
    if (leads) {
        for (size_t i = 0; i < marks.n; i++)
            node_dispatch_mark(n, marks.v[i].id, marks.v[i].state, marks.v[i].message);
        node_rotation_tick(n, time_now_ns());
        node_etcd_tick(n);
    }
    disp_live_marks_release(&marks);
}

void node_dispatch_start(struct node *n)
{
    if (n->disp_timer)
        return;
    n->live = disp_live_new(n->id);
    n->marking = json_object();
    n->disp_timer = xmalloc(sizeof(*n->disp_timer));
    uv_timer_init(n->loop, n->disp_timer);
    n->disp_timer->data = n;
    uv_timer_start(n->disp_timer, on_tick, disp_live_tick_ms(node_heartbeat_period_ms(n)), 0);
    node_logs_start(n);
    node_tasks_lead(n);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void node_dispatch_stop(struct node *n)
{
    if (!n->disp_timer)
        return;
    uv_timer_stop(n->disp_timer);
    uv_close((uv_handle_t *)n->disp_timer, timer_closed);
    n->disp_timer = NULL;
    node_logs_stop(n);
    node_tasks_unlead(n);
    disp_live_free(n->live);
    n->live = NULL;
    json_decref(n->marking);
    n->marking = NULL;
}
