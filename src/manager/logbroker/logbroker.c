/* logbroker.c — the leader's log broker (see logbroker.h).
 *
 * Invariants: a subscription is in lb->subs until it ends or is cancelled; after that no
 * callback of its subscriber runs, and it is freed once its timer handle has closed. Each
 * part (the tasks of one node) is picked (sent to its node by a listen answer), then closed
 * (the node said so) — or never picked. A parked listener is in lb->listeners until it is
 * answered or cancelled; answering removes it first, so an answer callback may listen again.
 * Timers: one per subscription (pickup deadline, then inactivity), one per parked listener. */
#include "logbroker.h"

#include <stdlib.h>
#include <string.h>

struct lb_part {
    char node_id[ID_LEN + 1];
    char **task_ids;
    size_t ntasks;
    bool picked, closed;
    bool lost; /* never picked before the pickup deadline */
};

struct lb_sub {
    struct logbroker *lb;
    char id[ID_LEN + 1];
    struct lb_opts o;
    struct lb_part *parts;
    size_t nparts;
    lb_msg_cb on_msg;
    lb_end_cb on_end;
    void *arg;
    uv_timer_t timer;
    bool dead;        /* ended or cancelled: waiting for the timer to close */
    bool ending;      /* the end callback is due on the next timer tick */
    bool pickup_done; /* the pickup deadline has passed (or every part was picked) */
    struct lb_sub *next;
};

struct lb_listener {
    struct logbroker *lb;
    char node_id[ID_LEN + 1];
    json_t *serving; /* set: subscription ID → true */
    lb_reply_cb cb;
    void *arg;
    uv_timer_t timer;
    struct lb_listener *next;
};

struct logbroker {
    uv_loop_t *loop;
    uint64_t pickup_ms, idle_ms, poll_ms;
    struct lb_sub *subs;
    struct lb_listener *listeners;
};

struct logbroker *logbroker_new(uv_loop_t *loop)
{
    struct logbroker *lb = xcalloc(1, sizeof(*lb));
    lb->loop = loop;
    logbroker_set_timing(lb, 0, 0, 0);
    return lb;
}

void logbroker_set_timing(struct logbroker *lb, uint64_t pickup_ms, uint64_t idle_ms,
                          uint64_t poll_ms)
{
    lb->pickup_ms = pickup_ms ? pickup_ms : LB_PICKUP_MS;
    lb->idle_ms = idle_ms ? idle_ms : LB_IDLE_MS;
    lb->poll_ms = poll_ms ? poll_ms : LB_POLL_MS;
}

size_t logbroker_count(const struct logbroker *lb)
{
    size_t n = 0;
    for (const struct lb_sub *s = lb->subs; s; s = s->next)
        n++;
    return n;
}

/* ---- subscriptions ---- */

static void sub_closed(uv_handle_t *h)
{
    struct lb_sub *s = h->data;
    for (size_t i = 0; i < s->nparts; i++) {
        for (size_t j = 0; j < s->parts[i].ntasks; j++)
            free(s->parts[i].task_ids[j]);
        free(s->parts[i].task_ids);
    }
    free(s->parts);
    free(s);
}

static void listener_answer(struct lb_listener *l);

/* Takes s out of the broker (no more callbacks) and frees it once its timer closed; the
 * nodes still serving it hear so from their parked listens. */
static void sub_unlink(struct lb_sub *s)
{
    struct logbroker *lb = s->lb;
    for (struct lb_sub **pp = &lb->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    s->dead = true;
    uv_close((uv_handle_t *)&s->timer, sub_closed);
    for (struct lb_listener *l = lb->listeners, *next; l; l = next) {
        next = l->next;
        if (json_object_get(l->serving, s->id))
            listener_answer(l);
    }
}

/* Ends s now: the end callback, then unlink. */
static void sub_end(struct lb_sub *s)
{
    if (s->dead)
        return;
    struct buf missing = BUF_INIT;
    for (size_t i = 0; i < s->nparts; i++)
        if (!s->parts[i].closed) {
            if (missing.len)
                buf_adds(&missing, ", ");
            buf_adds(&missing, s->parts[i].node_id);
        }
    lb_end_cb cb = s->on_end;
    void *arg = s->arg;
    sub_unlink(s);
    cb(arg, missing.len ? missing.p : "");
    buf_release(&missing);
}

static bool sub_complete(const struct lb_sub *s)
{
    if (s->o.follow)
        return false;
    for (size_t i = 0; i < s->nparts; i++)
        if (!s->parts[i].closed && !s->parts[i].lost)
            return false;
    return true;
}

static void sub_timer(uv_timer_t *t)
{
    struct lb_sub *s = t->data;
    if (s->ending || s->o.follow) {
        if (s->ending)
            sub_end(s);
        return;
    }
    if (!s->pickup_done) { /* the parts nobody picked up are lost */
        s->pickup_done = true;
        for (size_t i = 0; i < s->nparts; i++)
            if (!s->parts[i].picked)
                s->parts[i].lost = true;
        if (!sub_complete(s)) {
            uv_timer_start(&s->timer, sub_timer, s->lb->idle_ms, 0);
            return;
        }
    }
    /* complete, or the nodes serving it fell silent */
    sub_end(s);
}

/* Activity: once every part was picked up, the inactivity deadline starts over. */
static void sub_touch(struct lb_sub *s)
{
    if (s->o.follow || s->ending)
        return;
    if (!s->pickup_done) {
        for (size_t i = 0; i < s->nparts; i++)
            if (!s->parts[i].picked)
                return; /* the pickup deadline still runs */
        s->pickup_done = true;
    }
    uv_timer_start(&s->timer, sub_timer, s->lb->idle_ms, 0);
}

static void sub_end_later(struct lb_sub *s)
{
    s->ending = true;
    uv_timer_start(&s->timer, sub_timer, 0, 0);
}

struct lb_sub *logbroker_subscribe(struct logbroker *lb, const struct lb_target *t, size_t n,
                                   const struct lb_opts *o, lb_msg_cb on_msg, lb_end_cb on_end,
                                   void *arg)
{
    struct lb_sub *s = xcalloc(1, sizeof(*s));
    s->lb = lb;
    id_new(s->id);
    s->o = *o;
    s->on_msg = on_msg;
    s->on_end = on_end;
    s->arg = arg;
    s->parts = xcalloc(n ? n : 1, sizeof(*s->parts));
    for (size_t i = 0; i < n; i++) {
        struct lb_part *p = NULL;
        for (size_t j = 0; j < s->nparts; j++)
            if (!strcmp(s->parts[j].node_id, t[i].node_id))
                p = &s->parts[j];
        if (!p) {
            p = &s->parts[s->nparts++];
            snprintf(p->node_id, sizeof(p->node_id), "%s", t[i].node_id);
            p->task_ids = xcalloc(n, sizeof(*p->task_ids));
        }
        p->task_ids[p->ntasks++] = xstrdup(t[i].task_id);
    }
    uv_timer_init(lb->loop, &s->timer);
    s->timer.data = s;
    s->next = lb->subs;
    lb->subs = s;
    if (s->nparts == 0) {
        sub_end_later(s);
        return s;
    }
    if (!s->o.follow)
        uv_timer_start(&s->timer, sub_timer, lb->pickup_ms, 0);
    for (struct lb_listener *l = lb->listeners, *next; l; l = next) {
        next = l->next;
        for (size_t i = 0; i < s->nparts; i++)
            if (!strcmp(s->parts[i].node_id, l->node_id)) {
                listener_answer(l);
                break;
            }
    }
    return s;
}

void logbroker_cancel(struct lb_sub *s)
{
    if (s && !s->dead)
        sub_unlink(s);
}

static struct lb_sub *sub_find(struct logbroker *lb, const char *id)
{
    for (struct lb_sub *s = lb->subs; s; s = s->next)
        if (!strcmp(s->id, id))
            return s;
    return NULL;
}

static struct lb_part *part_of(struct lb_sub *s, const char *node_id)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (!strcmp(s->parts[i].node_id, node_id))
            return &s->parts[i];
    return NULL;
}

/* ---- listens ---- */

static void listener_closed(uv_handle_t *h)
{
    struct lb_listener *l = h->data;
    json_decref(l->serving);
    free(l);
}

static void listener_unlink(struct lb_listener *l)
{
    for (struct lb_listener **pp = &l->lb->listeners; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    uv_close((uv_handle_t *)&l->timer, listener_closed);
}

/* What node_id must learn, given what it serves: new parts (marked picked; at most
 * MSG_MAX_LOG_SUBS, the rest in the next answer) and closed IDs. NULL if nothing. */
static json_t *news_for(struct logbroker *lb, const char *node_id, json_t *serving)
{
    struct msg_logs_listen_resp r = {0};
    size_t nsubs = logbroker_count(lb);
    r.subs = xcalloc(nsubs ? nsubs : 1, sizeof(*r.subs));
    r.closed = xcalloc(json_object_size(serving) + 1, sizeof(*r.closed));
    for (struct lb_sub *s = lb->subs; s && r.n_subs < MSG_MAX_LOG_SUBS; s = s->next) {
        struct lb_part *p = part_of(s, node_id);
        if (!p || p->closed || json_object_get(serving, s->id))
            continue;
        r.subs[r.n_subs++] = (struct msg_log_sub){
            .id = s->id,
            .task_ids = (const char **)p->task_ids, /* only read */
            .n_tasks = p->ntasks,
            .follow = s->o.follow,
            .want_stdout = s->o.want_stdout,
            .want_stderr = s->o.want_stderr,
            .tail = s->o.tail < 0 ? -1 : s->o.tail,
            .since_ns = s->o.since_ns,
            .until_ns = s->o.until_ns,
        };
        p->picked = true;
        sub_touch(s);
    }
    const char *id;
    json_t *v;
    json_object_foreach(serving, id, v)
    {
        struct lb_sub *s = sub_find(lb, id);
        struct lb_part *p = s ? part_of(s, node_id) : NULL;
        if (!p || p->closed)
            r.closed[r.n_closed++] = id;
    }
    json_t *body = r.n_subs || r.n_closed ? msg_logs_listen_resp_encode(&r) : NULL;
    free(r.subs);
    free(r.closed);
    return body;
}

/* Answers a parked listener with its news (or empty) and drops it. */
static void listener_answer(struct lb_listener *l)
{
    json_t *body = news_for(l->lb, l->node_id, l->serving);
    if (!body)
        body = msg_logs_listen_resp_encode(&(struct msg_logs_listen_resp){0});
    lb_reply_cb cb = l->cb;
    void *arg = l->arg;
    listener_unlink(l);
    cb(arg, 200, body);
}

static void listener_timeout(uv_timer_t *t)
{
    listener_answer(t->data);
}

void logbroker_listen(struct logbroker *lb, const char *node_id,
                      const struct msg_logs_listen_req *req, lb_reply_cb cb, void *arg)
{
    for (struct lb_listener *l = lb->listeners; l; l = l->next)
        if (!strcmp(l->node_id, node_id)) {
            listener_answer(l);
            break;
        }
    json_t *serving = json_object();
    for (size_t i = 0; i < req->n_serving; i++)
        json_object_set_new(serving, req->serving[i], json_true());
    json_t *news = news_for(lb, node_id, serving);
    if (news) {
        json_decref(serving);
        cb(arg, 200, news);
        return;
    }
    struct lb_listener *l = xcalloc(1, sizeof(*l));
    l->lb = lb;
    snprintf(l->node_id, sizeof(l->node_id), "%s", node_id);
    l->serving = serving;
    l->cb = cb;
    l->arg = arg;
    uv_timer_init(lb->loop, &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, listener_timeout, lb->poll_ms, 0);
    l->next = lb->listeners;
    lb->listeners = l;
}

void logbroker_listen_cancel(struct logbroker *lb, void *arg)
{
    for (struct lb_listener *l = lb->listeners; l; l = l->next)
        if (l->arg == arg) {
            listener_unlink(l);
            return;
        }
}

/* ---- publish ---- */

static bool part_has_task(const struct lb_part *p, const char *task_id)
{
    for (size_t i = 0; i < p->ntasks; i++)
        if (!strcmp(p->task_ids[i], task_id))
            return true;
    return false;
}

int logbroker_publish(struct logbroker *lb, const char *node_id, const struct msg_logs_publish *req,
                      struct err *e)
{
    struct lb_sub *s = sub_find(lb, req->sub_id);
    struct lb_part *p = s ? part_of(s, node_id) : NULL;
    if (!p || p->closed)
        return 0; /* gone: the node hears so from its next listen */
    for (size_t i = 0; i < req->n_msgs; i++)
        if (!part_has_task(p, req->msgs[i].task_id))
            return err_set(e, ERR_INVALID, "task %s is not this node's in subscription %s",
                           req->msgs[i].task_id, req->sub_id);
    sub_touch(s);
    for (size_t i = 0; i < req->n_msgs; i++) {
        const struct msg_log_msg *m = &req->msgs[i];
        struct lb_msg lm = {
            .task_id = m->task_id,
            .node_id = p->node_id,
            .stream = m->stream,
            .time_ns = m->time_ns,
            .data = m->data,
            .len = m->len,
        };
        s->on_msg(s->arg, &lm);
        if (s->dead) /* the subscriber cancelled from its callback */
            return 0;
    }
    if (req->close) {
        p->closed = true;
        if (sub_complete(s))
            sub_end_later(s);
    }
    return 0;
}

void logbroker_free(struct logbroker *lb)
{
    if (!lb)
        return;
    while (lb->subs)
        sub_end(lb->subs);
    while (lb->listeners) {
        struct lb_listener *l = lb->listeners;
        lb_reply_cb cb = l->cb;
        void *arg = l->arg;
        listener_unlink(l);
        cb(arg, 503, NULL);
    }
    free(lb);
}

/* ---- framing ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Starts a frame of stream at the end of out; frame_done fills in its length. */
static size_t frame_begin(struct buf *out, int stream)
{
    size_t at = out->len;
    unsigned char hdr[8] = {(unsigned char)stream, 0, 0, 0, 0, 0, 0, 0};
    buf_add(out, hdr, sizeof(hdr));
    return at;
}

static void frame_done(struct buf *out, size_t at)
{
    put_be32((unsigned char *)out->p + at + 4, (uint32_t)(out->len - at - 8));
}

void logbroker_frame(const struct lb_msg *m, const char *service_id, bool timestamps, bool details,
                     struct buf *out)
{
    size_t at = frame_begin(out, m->stream);
    if (timestamps) {
        char ts[40];
        time_format_rfc3339_fixed(m->time_ns, ts);
        buf_printf(out, "%s ", ts);
    }
    if (details)
        buf_printf(out,
                   "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,"
                   "com.docker.swarm.task.id=%s ",
                   m->node_id, service_id, m->task_id);
    buf_add(out, m->data, m->len);
    frame_done(out, at);
}

void logbroker_frame_error(const char *text, struct buf *out)
{
    size_t at = frame_begin(out, LB_STREAM_SYSERR);
    buf_adds(out, text);
    frame_done(out, at);
}

long logbroker_frames_whole(const char *p, size_t len, struct err *e)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t off = 0;
    while (len - off >= 8) {
        const unsigned char *h = u + off;
        uint32_t n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        if (h[0] < 1 || h[0] > LB_STREAM_SYSERR || h[1] || h[2] || h[3])
            return err_set(e, ERR_INVALID, "not a log frame (header %02x %02x %02x %02x)", h[0],
                           h[1], h[2], h[3]);
        if (n > LB_FRAME_MAX)
            return err_set(e, ERR_INVALID, "a log frame of %u bytes (at most %d)", n, LB_FRAME_MAX);
        if (len - off - 8 < n)
            break;
        off += 8 + n;
    }
    return (long)off;
}
