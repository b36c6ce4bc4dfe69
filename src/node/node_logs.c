/* node_logs.c — service and task logs through any manager.
 *
 * On the leader: the log broker (manager/logbroker) lives while this manager leads, with the
 * peer calls of the nodes that serve it (POST /swarm-rpc/logs/listen, a long poll, and
 * /swarm-rpc/logs/publish). A log stream there is a broker subscription whose messages are
 * framed as dockerd frames them (stdcopy) and written to the HTTP answer: the Engine API's
 * (GET /services/{id}/logs, /tasks/{id}/logs) or a follower's (POST /swarm-rpc/logs/subscribe,
 * manager certificates only; the same bytes).
 *
 * On a manager that does not lead, a log stream is a relay, as swarmkit's proxy to the leader:
 * a subscribe call to the leader over the peer channel (mutual TLS, its own httpc client, so
 * that a certificate reload or the leader module's client never touches it), whose whole
 * frames are copied to the API client as they arrive. Back-pressure: above RELAY_HIGH bytes
 * queued for the client the call stops reading (httpc_pause) until the client has taken all
 * but RELAY_LOW, so the leader's writes queue on its side, where its stream cap bounds them;
 * the relay holds at most one partial frame (LB_FRAME_MAX) and one read. The relay ends when
 * the client goes away (the call is cancelled: the leader's subscription goes with its
 * connection), when the leader ends its stream (a clean end is relayed as one), or when the
 * leader goes away or changes (node_logs_leader_changed): then, as dockerd relays a failed
 * subscription, a Systemerr frame "Error grabbing logs: rpc error: code = Unavailable desc =
 * ..." goes before the end (the CLI prints "error from daemon in stream: ..." and exits 1).
 *
 * The logs of a TTY service (its spec's ContainerSpec.TTY; for task logs the task's own spec)
 * reach the API client raw, as dockerd's: the same lines without the 8-byte stdcopy headers,
 * as application/vnd.docker.raw-stream (the CLI prints them as they come). Between managers the
 * stream stays framed; the manager that answers the API client strips the headers.
 *
 * Thread: the loop thread. */
#include "node_int.h"

#include "manager/logbroker/logbroker.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_HIGH (512 * 1024)    /* bytes queued for the API client that pause the relay */
#define RELAY_LOW (128 * 1024)     /* ... and that resume it */
#define RELAY_ERR_BODY (64 * 1024) /* an error answer of the leader is at most this long */

struct node_logs_stream {
    struct node *n;
    struct http_req *req;
    node_logs_done_cb done; /* NULL for a follower's call */
    void *arg;
    char service_id[ID_LEN + 1];
    bool timestamps, details;
    bool raw;           /* API client of a TTY service or task: no stdcopy headers */
    struct lb_sub *sub; /* leader: the broker's subscription */
    /* relay */
    struct httpc *hc;
    struct httpc_call *call;
    char leader_id[ID_LEN + 1];
    char leader[MSG_MAX_ADDR + 1];
    bool paused;
    struct node_logs_stream *prev, *next; /* n->log_relays */
};

static void reply(struct http_req *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    http_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

static void reply_err(struct http_req *req, const struct err *e)
{
    reply(req, err_http_status(e->kind), json_pack("{s:s}", "message", e->msg));
}

void node_logs_start(struct node *n)
{
    if (!n->logbroker)
        n->logbroker = logbroker_new(n->loop);
}

void node_logs_stop(struct node *n)
{
    struct logbroker *lb = n->logbroker;
    n->logbroker = NULL;
    logbroker_free(lb); /* parked listens are answered 503 through listen_answered; log
                         * streams end through stream_broker_end */
}

static struct logbroker *leader_broker(struct node *n)
{
    return n->state == NODE_ACTIVE && node_is_leader(n) ? n->logbroker : NULL;
}

/* Writes whole frames (len bytes at p, as logbroker_frames_whole counted them) to the client:
 * as they are, or only their payloads for a raw stream. */
static void client_write(struct node_logs_stream *ls, const char *p, size_t len)
{
    if (!ls->raw) {
        http_stream_write(ls->req, p, len);
        return;
    }
    const unsigned char *u = (const unsigned char *)p;
    for (size_t off = 0; off + 8 <= len;) {
        size_t n = (size_t)u[off + 4] << 24 | (size_t)u[off + 5] << 16 | (size_t)u[off + 6] << 8 |
                   u[off + 7];
        if (n)
            http_stream_write(ls->req, p + off + 8, n);
        off += 8 + n;
    }
}

/* ---- a stream's end ---- */

static void relay_unlink(struct node_logs_stream *ls)
{
    struct node *n = ls->n;
    if (ls->prev)
        ls->prev->next = ls->next;
    else if (n->log_relays == ls)
        n->log_relays = ls->next;
    if (ls->next)
        ls->next->prev = ls->prev;
    ls->prev = ls->next = NULL;
}

/* Ends the answer (after a Systemerr frame when err is set) and frees ls. Nothing else may
 * refer to ls any more: the subscription and the upstream call are gone. */
static void stream_finish(struct node_logs_stream *ls, const char *err)
{
    if (err) {
        struct buf b = BUF_INIT;
        char *text = xasprintf("Error grabbing logs: %s\n", err);
        logbroker_frame_error(text, &b);
        client_write(ls, b.p, b.len);
        free(text);
        buf_release(&b);
    }
    http_req_on_close(ls->req, NULL, NULL);
    http_stream_on_drain(ls->req, 0, NULL, NULL);
    http_stream_end(ls->req);
    relay_unlink(ls);
    if (ls->hc)
        httpc_close(ls->hc, NULL, NULL); /* safe inside its own callbacks */
    if (ls->done)
        ls->done(ls->arg);
    free(ls);
}

/* The client (an API client, or the follower that relays) went away. */
static void stream_client_gone(struct http_req *req, void *data)
{
    (void)req;
    struct node_logs_stream *ls = data;
    logbroker_cancel(ls->sub);
    ls->sub = NULL;
    httpc_cancel(ls->call);
    ls->call = NULL;
    stream_finish(ls, NULL);
}

/* raw: the API client of a TTY service or task (never a follower's call). */
static struct node_logs_stream *stream_new(struct node *n, struct http_req *req,
                                           node_logs_done_cb done, void *arg, bool timestamps,
                                           bool details, bool raw)
{
    struct node_logs_stream *ls = xcalloc(1, sizeof(*ls));
    ls->n = n;
    ls->req = req;
    ls->done = done;
    ls->arg = arg;
    ls->timestamps = timestamps;
    ls->details = details;
    ls->raw = raw;
    /* dockerd 20.10 names no type; newer ones say raw-stream for a TTY's */
    http_stream_begin(req, 200, raw ? "application/vnd.docker.raw-stream" : NULL);
    http_req_on_close(req, stream_client_gone, ls);
    return ls;
}

/* ---- on the leader: a broker subscription ---- */

static void stream_broker_msg(void *arg, const struct lb_msg *m)
{
    struct node_logs_stream *ls = arg;
    struct buf b = BUF_INIT;
    logbroker_frame(m, ls->service_id, ls->timestamps, ls->details, &b);
    /* a client that does not keep up is cut by the server's stream cap: on_close ends it */
    client_write(ls, b.p, b.len);
    buf_release(&b);
}

static void stream_broker_end(void *arg, const char *incomplete)
{
    struct node_logs_stream *ls = arg;
    if (incomplete[0])
        log_info("logs of service %s are incomplete: no answer from node(s) %s", ls->service_id,
                 incomplete);
    ls->sub = NULL;
    stream_finish(ls, NULL);
}

struct targets {
    struct lb_target *v;
    size_t n, cap;
};

/* The tasks whose containers hold logs: those that ran on a node (scheduled, at least
 * starting). */
static int add_target(const struct store_task *t, void *data)
{
    struct targets *tg = data;
    if (!t || !t->node_id[0] || t->observed < TASK_STARTING || t->observed == TASK_REJECTED)
        return 0;
    if (tg->n == tg->cap) {
        tg->cap = tg->cap ? tg->cap * 2 : 16;
        tg->v = xrealloc(tg->v, tg->cap * sizeof(*tg->v));
    }
    tg->v[tg->n++] = (struct lb_target){t->id, t->node_id};
    return 0;
}

/* Subscribes to the broker for sel (its service or task in this store) and streams onto req;
 * fills e (req untouched) if the object is not in the store. */
static int stream_local(struct node *n, struct logbroker *lb, const struct msg_logs_sub_req *sel,
                        struct http_req *req, node_logs_done_cb done, void *arg, bool raw,
                        struct err *e)
{
    struct targets tg = {0};
    const char *service_id;
    if (sel->service_id) {
        if (!store_get(n->store, STORE_SERVICE, sel->service_id))
            return err_set(e, ERR_NOT_FOUND, "service %s not found", sel->service_id);
        service_id = sel->service_id;
        store_tasks_of_service(n->store, service_id, add_target, &tg);
    } else {
        const struct store_task *t = store_task_view(n->store, sel->task_id);
        if (!t)
            return err_set(e, ERR_NOT_FOUND, "task %s not found", sel->task_id);
        service_id = t->service_id;
        add_target(t, &tg);
    }
    struct node_logs_stream *ls = stream_new(n, req, done, arg, sel->timestamps, sel->details, raw);
    snprintf(ls->service_id, sizeof(ls->service_id), "%s", service_id);
    struct lb_opts o = {.follow = sel->follow,
                        .want_stdout = sel->want_stdout,
                        .want_stderr = sel->want_stderr,
                        .tail = sel->tail,
                        .since_ns = sel->since_ns,
                        .until_ns = sel->until_ns};
    ls->sub = logbroker_subscribe(lb, tg.v, tg.n, &o, stream_broker_msg, stream_broker_end, ls);
    free(tg.v);
    return 0;
}

/* ---- on a follower: the relay ---- */

static void relay_drained(struct http_req *req, void *data)
{
    (void)req;
    struct node_logs_stream *ls = data;
    ls->paused = false;
    httpc_resume(ls->call);
}

/* Ends the relay from one of its own callbacks (or from the leader's change). */
static void relay_fail(struct node_logs_stream *ls, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void relay_fail(struct node_logs_stream *ls, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    httpc_cancel(ls->call);
    ls->call = NULL;
    log_info("log stream relayed from the leader %s ends: %s", ls->leader, msg);
    char *err = xasprintf("rpc error: code = Unavailable desc = %s", msg);
    stream_finish(ls, err);
    free(err);
}

static void relay_data(void *data, struct buf *body)
{
    struct node_logs_stream *ls = data;
    if (httpc_call_status(ls->call) != 200) {
        if (body->len > RELAY_ERR_BODY)
            relay_fail(ls, "the leader %s answered %ld with %zu bytes", ls->leader,
                       httpc_call_status(ls->call), body->len);
        return; /* relay_done reads it */
    }
    struct err e;
    long whole = logbroker_frames_whole(body->p, body->len, &e);
    if (whole < 0) {
        relay_fail(ls, "the leader %s sent a bad log stream: %s", ls->leader, e.msg);
        return;
    }
    if (!whole)
        return;
    client_write(ls, body->p, (size_t)whole);
    buf_consume(body, (size_t)whole);
    if (!ls->paused && http_stream_queued(ls->req) > RELAY_HIGH &&
        http_stream_on_drain(ls->req, RELAY_LOW, relay_drained, ls)) {
        ls->paused = true;
        httpc_pause(ls->call);
    }
}

static void relay_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct node_logs_stream *ls = data;
    ls->call = NULL; /* freed by httpc once this returns */
    if (rc < 0) {
        relay_fail(ls, "the leader went away (%s)", e->msg);
        return;
    }
    if (status != 200) {
        json_t *j = body->len ? json_loadb(body->p, body->len, 0, NULL) : NULL;
        const char *m = json_string_value(json_object_get(j, "message"));
        relay_fail(ls, "the leader %s answered %ld: %s", ls->leader, status,
                   m ? m : "(no message)");
        json_decref(j);
        return;
    }
    if (body->len) {
        relay_fail(ls, "the leader %s ended its log stream inside a frame", ls->leader);
        return;
    }
    stream_finish(ls, NULL);
}

static int stream_relay(struct node *n, const struct msg_logs_sub_req *sel, struct http_req *req,
                        node_logs_done_cb done, void *arg, bool raw, struct err *e)
{
    const char *leader = node_leader_addr(n);
    /* (a leader that reaches no majority has stopped its broker: it does not relay to itself) */
    if (!leader || !n->leader_id[0] || !strcmp(n->leader_id, n->id) ||
        strlen(leader) > MSG_MAX_ADDR)
        return err_set(e, ERR_UNAVAILABLE,
                       "rpc error: code = Unknown desc = The swarm does not have a leader. It's "
                       "possible that too few managers are online. Make sure more than half of "
                       "the managers are online.");
    struct node_logs_stream *ls = stream_new(n, req, done, arg, sel->timestamps, sel->details, raw);
    snprintf(ls->leader_id, sizeof(ls->leader_id), "%s", n->leader_id);
    snprintf(ls->leader, sizeof(ls->leader), "%s", leader);
    ls->next = n->log_relays;
    if (ls->next)
        ls->next->prev = ls;
    n->log_relays = ls;
    ls->hc = node_peer_client(n);
    char *url = xasprintf("https://%s/swarm-rpc/logs/subscribe", leader);
    json_t *j = msg_logs_sub_req_encode(sel);
    char *body = msg_dump(j);
    json_decref(j);
    ls->call = httpc_post(ls->hc, url, body, strlen(body), 0, relay_data, relay_done, ls);
    free(body);
    free(url);
    return 0;
}

void node_logs_leader_changed(struct node *n)
{
    for (struct node_logs_stream *ls = n->log_relays, *next; ls; ls = next) {
        next = ls->next;
        if (!n->is_leader && n->leader_id[0] && !strcmp(ls->leader_id, n->leader_id))
            continue;
        relay_fail(ls, "the leader %s is no longer the leader", ls->leader);
    }
}

/* ---- the entry points ---- */

int node_logs_stream(struct node *n, const struct msg_logs_sub_req *sel, struct http_req *req,
                     node_logs_done_cb done, void *arg, struct err *e)
{
    if (node_require_manager(n, e) < 0)
        return -e->kind;
    /* TTY: the service's spec, or for task logs the task's own */
    json_t *obj = sel->service_id ? store_get(n->store, STORE_SERVICE, sel->service_id)
                                  : store_get(n->store, STORE_TASK, sel->task_id);
    json_t *cs = obj ? store_json_path(obj, sel->service_id ? "Spec.TaskTemplate.ContainerSpec"
                                                            : "Spec.ContainerSpec")
                     : NULL;
    bool raw = json_is_true(json_object_get(cs, "TTY"));
    struct logbroker *lb = leader_broker(n);
    if (lb)
        return stream_local(n, lb, sel, req, done, arg, raw, e);
    return stream_relay(n, sel, req, done, arg, raw, e);
}

/* The listening node went away: its parked listen is dropped, and the request still gets
 * its one answer (written nowhere) so that the server frees it. */
static void listen_closed(struct http_req *req, void *data)
{
    struct node *n = data;
    if (n->logbroker)
        logbroker_listen_cancel(n->logbroker, req);
    reply(req, 503, json_pack("{s:s}", "message", "the node went away"));
}

static void listen_answered(void *arg, int status, json_t *body)
{
    struct http_req *req = arg;
    http_req_on_close(req, NULL, NULL);
    if (status == 200)
        reply(req, 200, body);
    else
        reply(req, status, json_pack("{s:s}", "message", "this manager is no longer the leader"));
}

/* POST /swarm-rpc/logs/subscribe: a manager relays logs to its API client. */
static void handle_subscribe(struct node *n, struct http_req *req, const char *peer, json_t *body)
{
    struct err e;
    json_t *obj = store_get(n->store, STORE_NODE, peer);
    if (strcmp(http_req_peer_ou(req) ?: "", "swarm-manager") != 0 || !obj ||
        strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager") != 0) {
        err_set(&e, ERR_FORBIDDEN, "only managers may call this");
        reply_err(req, &e);
        return;
    }
    struct msg_logs_sub_req m;
    if (msg_logs_sub_req_decode(body, &m, &e) < 0) {
        reply_err(req, &e);
        return;
    }
    if (stream_local(n, n->logbroker, &m, req, NULL, NULL, false, &e) < 0)
        reply_err(req, &e);
    msg_logs_sub_req_release(&m);
}

void node_logs_rpc(struct node *n, struct http_req *req, const char *peer, json_t *body)
{
    if (!leader_broker(n)) {
        const char *leader = node_leader_addr(n);
        reply(req, 503,
              json_pack("{s:s, s:s}", "message", "this manager is not the leader", "Leader",
                        leader ? leader : ""));
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/logs/listen")) {
        struct err e;
        struct msg_logs_listen_req m;
        if (msg_logs_listen_req_decode(body, &m, &e) < 0) {
            reply_err(req, &e);
            return;
        }
        http_req_on_close(req, listen_closed, n);
        logbroker_listen(n->logbroker, peer, &m, listen_answered, req);
        msg_logs_listen_req_release(&m);
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/logs/publish")) {
        struct err e;
        struct msg_logs_publish m;
        if (msg_logs_publish_decode(body, &m, &e) < 0 ||
            logbroker_publish(n->logbroker, peer, &m, &e) < 0)
            reply_err(req, &e);
        else
            reply(req, 200, json_object());
        msg_logs_publish_release(&m);
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/logs/subscribe")) {
        handle_subscribe(n, req, peer, body);
        return;
    }
    struct err e;
    err_set(&e, ERR_NOT_FOUND, "page not found");
    reply_err(req, &e);
}
