/* disp_server.c — the leader's side of the node sessions (see disp.h): per node the
 * assignment session (disp_session) and at most one parked poll, woken by a store watch on
 * that node's tasks; the status intake, coalesced per task and written in batches.
 *
 * Invariants: a parked poll is in its dnode until it is answered, cancelled or the server
 * goes; answering takes it out first. At most one status transaction is in flight; the
 * updates it carries are kept until it answers (a failure puts back those not superseded).
 * Thread: the loop thread. */
#include "disp.h"

#include <stdlib.h>
#include <string.h>

struct dnode {
    char id[ID_LEN + 1];
    char session[80];
    struct disp_session *sess;
    disp_reply_cb cb; /* the parked poll, or NULL */
    void *arg;
    uv_timer_t *timer;
};

struct disp_server {
    uv_loop_t *loop;
    struct store *st;
    store_commit_fn commit;
    void *commit_ctx;
    struct strmap *nodes; /* node ID → struct dnode */
    struct store_watch *watch;
    json_t *pending;  /* task ID → {"Node", "Status"} not written yet */
    json_t *inflight; /* the same, in the transaction in flight (NULL: none) */
    uv_timer_t *flush_timer;
    bool dead; /* freed while a status transaction was in flight: its answer frees d */
};

/* What the node must be told about a task: its desired state and its spec (not its own
 * status reports). */
static uint64_t item_version(json_t *task)
{
    json_t *parts =
        json_pack("[O?, O?]", json_object_get(task, "DesiredState"), json_object_get(task, "Spec"));
    char *s = json_dumps(parts, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(parts);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    free(s);
    return h;
}

struct items {
    struct disp_item *v;
    size_t n, cap;
};

static int add_item(const struct store_task *t, void *data)
{
    struct items *it = data;
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = xrealloc(it->v, it->cap * sizeof(*it->v));
    }
    it->v[it->n++] = (struct disp_item){t->id, item_version(t->obj)};
    return 0;
}

/* The answer for node dn now, or NULL if there is nothing new (and no full set due). */
static json_t *answer_for(struct disp_server *d, struct dnode *dn, bool force)
{
    struct items it = {0};
    store_tasks_of_node(d->st, dn->id, add_item, &it);
    struct disp_changes ch = {0};
    disp_session_changes(dn->sess, it.v, it.n, &ch);
    json_t *out = NULL;
    if (ch.n || ch.full || force) {
        struct msg_assign_resp r = {.seq = ch.seq, .full = ch.full};
        r.changes = xcalloc(ch.n ? ch.n : 1, sizeof(*r.changes));
        for (size_t i = 0; i < ch.n; i++) {
            struct msg_assign_change *c = &r.changes[r.n_changes];
            if (ch.v[i].removed) {
                c->removed = ch.v[i].id;
                r.n_changes++;
                continue;
            }
            json_t *task = store_get(d->st, STORE_TASK, ch.v[i].id);
            json_t *svc =
                task ? store_get(d->st, STORE_SERVICE, store_json_str(task, "ServiceID") ?: "")
                     : NULL;
            const char *name = svc ? store_json_str(svc, "Spec.Name") : NULL;
            if (task) {
                c->task = task;
                c->service_name = name ? name : "";
                r.n_changes++;
            }
        }
        out = msg_assign_resp_encode(&r);
        free(r.changes);
    }
    disp_changes_release(&ch);
    free(it.v);
    return out;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

/* Answers dn's parked poll with body (NULL: 503) and forgets it. */
static void answer_parked(struct dnode *dn, int status, json_t *body)
{
    disp_reply_cb cb = dn->cb;
    void *arg = dn->arg;
    dn->cb = NULL;
    dn->arg = NULL;
    uv_timer_stop(dn->timer);
    cb(arg, status, body);
}

/* {"Seq": 0, "Full": false, "Changes": []}: nothing new. */
static json_t *nothing_new(void)
{
    return msg_assign_resp_encode(&(struct msg_assign_resp){0});
}

static void poll_timeout(uv_timer_t *t)
{
    struct dnode *dn = t->data;
    if (dn->cb)
        answer_parked(dn, 200, nothing_new());
}

static struct dnode *dnode_get(struct disp_server *d, const char *node_id)
{
    struct dnode *dn = strmap_get(d->nodes, node_id);
    if (dn)
        return dn;
    dn = xcalloc(1, sizeof(*dn));
    snprintf(dn->id, sizeof(dn->id), "%s", node_id);
    dn->sess = disp_session_new();
    dn->timer = xmalloc(sizeof(*dn->timer));
    uv_timer_init(d->loop, dn->timer);
    dn->timer->data = dn;
    strmap_put(d->nodes, node_id, dn);
    return dn;
}

void disp_server_assignments(struct disp_server *d, const char *node_id,
                             const struct msg_assign_req *req, disp_reply_cb cb, void *arg)
{
    struct dnode *dn = dnode_get(d, node_id);
    const char *session = req->session ? req->session : "";
    if (dn->cb) /* a newer poll replaces the parked one */
        answer_parked(dn, 200, nothing_new());
    if (strcmp(dn->session, session) != 0) { /* a restarted worker: start over */
        disp_session_free(dn->sess);
        dn->sess = disp_session_new();
        snprintf(dn->session, sizeof(dn->session), "%s", session);
    } else if (req->has_ack) {
        disp_session_ack(dn->sess, req->ack);
    }
    json_t *a = answer_for(d, dn, false);
    if (a) {
        cb(arg, 200, a);
        return;
    }
    dn->cb = cb;
    dn->arg = arg;
    uv_timer_start(dn->timer, poll_timeout, DISP_POLL_MS, 0);
}

void disp_server_cancel(struct disp_server *d, void *arg)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(d->nodes, &it, &k, &v)) {
        struct dnode *dn = v;
        if (dn->cb && dn->arg == arg) {
            dn->cb = NULL;
            dn->arg = NULL;
            uv_timer_stop(dn->timer);
        }
    }
}

/* A task changed: wake the polls of the nodes it was or is on. */
static void wake_node(struct disp_server *d, const char *node_id)
{
    struct dnode *dn = node_id && node_id[0] ? strmap_get(d->nodes, node_id) : NULL;
    if (!dn || !dn->cb)
        return;
    json_t *a = answer_for(d, dn, false);
    if (a)
        answer_parked(dn, 200, a);
}

static void on_task_change(void *data, enum store_kind k, enum store_action act, json_t *old,
                           json_t *cur)
{
    (void)k;
    (void)act;
    struct disp_server *d = data;
    const char *on = old ? store_json_str(old, "NodeID") : NULL;
    const char *cn = cur ? store_json_str(cur, "NodeID") : NULL;
    if (old && cur && on && cn && !strcmp(on, cn) && item_version(old) == item_version(cur))
        return; /* a status report: nothing for the node */
    wake_node(d, on);
    if (!on || !cn || strcmp(on, cn))
        wake_node(d, cn);
}

/* ---- status intake ---- */

static void flush_status(uv_timer_t *t);

static void status_done(void *arg, int rc, struct err *e)
{
    struct disp_server *d = arg;
    json_t *sent = d->inflight;
    d->inflight = NULL;
    if (d->dead) {
        json_decref(sent);
        json_decref(d->pending);
        free(d);
        return;
    }
    if (rc < 0) {
        log_debug("task status batch not applied (%s): retried", e ? e->msg : "");
        /* put back what no newer report replaced */
        const char *id;
        json_t *v;
        json_object_foreach(sent, id, v)
        {
            if (!json_object_get(d->pending, id))
                json_object_set(d->pending, id, v);
        }
    }
    json_decref(sent);
    if (json_object_size(d->pending))
        uv_timer_start(d->flush_timer, flush_status, rc < 0 ? 20 : 0, 0);
}

/* The stored task with the reported status, or NULL if the report no longer applies. */
static json_t *apply_report(struct disp_server *d, const char *id, json_t *rep)
{
    json_t *cur = store_get(d->st, STORE_TASK, id);
    if (!cur)
        return NULL;
    const char *node = json_string_value(json_object_get(rep, "Node"));
    if (strcmp(store_json_str(cur, "NodeID") ?: "", node ? node : ""))
        return NULL;
    json_t *st = json_object_get(rep, "Status");
    int ns = task_state_parse(json_string_value(json_object_get(st, "State")));
    int os = task_state_parse(store_json_str(cur, "Status.State"));
    if (ns < 0 || ns < os)
        return NULL; /* observed state never goes backwards */
    json_t *old = json_object_get(cur, "Status");
    if (json_equal(old, st))
        return NULL;
    json_t *t = json_deep_copy(cur);
    json_t *nst = json_deep_copy(st);
    if (!json_object_get(nst, "PortStatus"))
        json_object_set_new(nst, "PortStatus", json_object());
    json_object_set_new(t, "Status", nst);
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    json_object_set_new(t, "UpdatedAt", json_string(now));
    return t;
}

static void flush_status(uv_timer_t *t)
{
    struct disp_server *d = t->data;
    if (d->inflight || !json_object_size(d->pending))
        return;
    struct store_write w[DISP_BATCH];
    json_t *objs[DISP_BATCH];
    size_t n = 0;
    json_t *batch = json_object();
    const char *id;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(d->pending, tmp, id, v)
    {
        if (n == DISP_BATCH)
            break;
        json_t *obj = apply_report(d, id, v);
        if (obj) {
            objs[n] = obj;
            w[n] = (struct store_write){STORE_TASK, obj, NULL,
                                        store_obj_version(store_get(d->st, STORE_TASK, id))};
            n++;
            json_object_set(batch, id, v);
        }
        json_object_del(d->pending, id);
    }
    if (!n) {
        json_decref(batch);
        return;
    }
    d->inflight = batch;
    d->commit(d->commit_ctx, w, n, status_done, d);
    for (size_t i = 0; i < n; i++)
        json_decref(objs[i]);
}

void disp_server_status(struct disp_server *d, const char *node_id,
                        const struct msg_status_batch *b)
{
    for (size_t i = 0; i < b->n_updates; i++) {
        /* stored as msg re-encodes it: only the fields of a TaskStatus */
        json_object_set_new(d->pending, b->updates[i].task_id,
                            json_pack("{s:s, s:o}", "Node", node_id, "Status",
                                      msg_task_status_encode(&b->updates[i].status)));
    }
    if (!d->inflight)
        uv_timer_start(d->flush_timer, flush_status, 0, 0);
}

size_t disp_server_pending(const struct disp_server *d)
{
    return json_object_size(d->pending);
}

struct disp_server *disp_server_new(uv_loop_t *loop, struct store *s, store_commit_fn commit,
                                    void *commit_ctx)
{
    struct disp_server *d = xcalloc(1, sizeof(*d));
    d->loop = loop;
    d->st = s;
    d->commit = commit;
    d->commit_ctx = commit_ctx;
    d->nodes = strmap_new();
    d->pending = json_object();
    d->flush_timer = xmalloc(sizeof(*d->flush_timer));
    uv_timer_init(loop, d->flush_timer);
    d->flush_timer->data = d;
    d->watch = store_watch_add(s, 1u << STORE_TASK, on_task_change, d);
    return d;
}

void disp_server_free(struct disp_server *d)
{
    if (!d)
        return;
    store_watch_remove(d->st, d->watch);
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(d->nodes, &it, &k, &v)) {
        struct dnode *dn = v;
        if (dn->cb)
            answer_parked(dn, 503, NULL);
        uv_close((uv_handle_t *)dn->timer, timer_closed);
        disp_session_free(dn->sess);
        free(dn);
    }
    strmap_free(d->nodes);
    uv_timer_stop(d->flush_timer);
    uv_close((uv_handle_t *)d->flush_timer, timer_closed);
    d->flush_timer = NULL;
    if (d->inflight) { /* its answer frees d */
        d->dead = true;
        return;
    }
    json_decref(d->pending);
    free(d);
}
