/* node_dispatch.c — the dispatcher's liveness half: every node heartbeats its manager; a node
 * silent for three heartbeat periods is marked down (with the reason in Status.Message) and
 * becomes ready again when it is heard from. Runs on the manager that leads (with one
 * manager: that one). Nodes get a full grace window when the dispatcher starts, so a new
 * leader does not mark everyone down. Thread: the loop thread. */
#include "node_int.h"

#include <stdlib.h>
#include <string.h>

/* Checks run four times per heartbeat period (between 250 ms and 1 s): a silent node is
 * down within three periods and a quarter, and 10,000 nodes cost little. */
static uint64_t tick_ms(struct node *n)
{
    int64_t t = node_heartbeat_period_ms(n) / 4;
    return (uint64_t)(t < 250 ? 250 : t > 1000 ? 1000 : t);
}

int64_t node_heartbeat_period_ms(struct node *n)
{
    json_t *c = node_cluster(n);
    json_int_t ns =
        c ? json_integer_value(store_json_path(c, "Spec.Dispatcher.HeartbeatPeriod")) : 0;
    return ns > 0 ? ns / 1000000 : 5000;
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
    if (!n->last_seen)
        return;
    json_object_set_new(n->last_seen, id, json_integer((json_int_t)uv_now(n->loop)));
    json_t *cur = store_get(n->store, STORE_NODE, id);
    if (cur && strcmp(store_json_str(cur, "Status.State") ?: "", "ready") != 0)
        node_dispatch_mark(n, id, "ready", NULL);
}

static int check_node(json_t *obj, void *data)
{
    struct node *n = data;
    const char *id = store_json_str(obj, "ID");
    if (!strcmp(id, n->id) || strcmp(store_json_str(obj, "Status.State") ?: "", "ready") != 0)
        return 0;
    uint64_t now = uv_now(n->loop);
    json_t *seen = json_object_get(n->last_seen, id);
    if (!seen) { /* first sight since this dispatcher started: grace window */
        json_object_set_new(n->last_seen, id, json_integer((json_int_t)now));
        return 0;
    }
    if ((int64_t)(now - (uint64_t)json_integer_value(seen)) > 3 * node_heartbeat_period_ms(n))
        node_dispatch_mark(n, id, "down", "heartbeat failure");
    return 0;
}

static void on_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    uv_timer_start(n->disp_timer, on_tick, tick_ms(n), 0);
    if (n->state != NODE_ACTIVE || !n->st || !state_available(n->st) || !node_is_leader(n))
        return;
    int64_t period = node_heartbeat_period_ms(n);
    if (period != n->disp_period) {
        /* Nodes learn a new period with their next heartbeat: restart every window. */
        json_object_clear(n->last_seen);
        n->disp_period = period;
    }
    store_foreach(n->store, STORE_NODE, check_node, n);
    node_rotation_tick(n);
    node_etcd_tick(n);
}

void node_dispatch_start(struct node *n)
{
    if (n->disp_timer)
        return;
    n->last_seen = json_object();
    n->marking = json_object();
    n->disp_timer = xmalloc(sizeof(*n->disp_timer));
    uv_timer_init(n->loop, n->disp_timer);
    n->disp_timer->data = n;
    uv_timer_start(n->disp_timer, on_tick, tick_ms(n), 0);
    node_logs_start(n);
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
    json_decref(n->last_seen);
    json_decref(n->marking);
    n->last_seen = n->marking = NULL;
}
