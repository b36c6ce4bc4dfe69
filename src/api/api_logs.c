/* api_logs.c — GET /services/{id}/logs and GET /tasks/{id}/logs: a subscription to the
 * leader's log broker (manager/logbroker), streamed to the client as dockerd streams it:
 * chunked stdcopy frames (stream 1 stdout, 2 stderr), each message prefixed with its time
 * (RFC 3339 with 9 fixed digits, with timestamps=1) and its attributes
 * ("com.docker.swarm.node.id=...,com.docker.swarm.service.id=...,com.docker.swarm.task.id=..."
 * then a space, with details=1, which the CLI always asks for to print "name@node | line").
 * The logs of a TTY service (its spec's ContainerSpec.TTY; a task's own spec for task logs)
 * are raw, the same prefixes without the 8-byte headers, as dockerd's (the CLI prints them
 * as they come, and only with --raw). The tasks are those that ran on a node (scheduled and at least starting): their containers
 * hold the logs. A client that goes away cancels the subscription. Served by the leader, which
 * holds the broker; another manager answers 503 naming it (not proxied yet).
 * Thread: the loop thread. */
#include "api_int.h"

#include "manager/logbroker/logbroker.h"

#include <stdlib.h>
#include <string.h>

struct log_stream {
    struct api_req *r;
    struct lb_sub *sub;
    bool timestamps, details;
    bool raw; /* a TTY service or task: no stdcopy headers, as dockerd */
    char service_id[ID_LEN + 1];
};

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void on_msg(void *arg, const struct lb_msg *m)
{
    struct log_stream *ls = arg;
    struct buf line = BUF_INIT;
    unsigned char hdr[8] = {(unsigned char)m->stream, 0, 0, 0, 0, 0, 0, 0};
    if (!ls->raw)
        buf_add(&line, hdr, sizeof(hdr));
    if (ls->timestamps) {
        char ts[40];
        time_format_rfc3339_fixed(m->time_ns, ts);
        buf_printf(&line, "%s ", ts);
    }
    if (ls->details)
        buf_printf(&line,
                   "com.docker.swarm.node.id=%s,com.docker.swarm.service.id=%s,"
                   "com.docker.swarm.task.id=%s ",
                   m->node_id, ls->service_id, m->task_id);
    buf_add(&line, m->data, m->len);
    if (!ls->raw)
        put_be32((unsigned char *)line.p + 4, (uint32_t)(line.len - 8));
    if (http_stream_write(ls->r->http, line.p, line.len) < 0 && ls->sub) {
        /* the client is gone: on_close cancels */
    }
    buf_release(&line);
}

static void on_end(void *arg, const char *incomplete)
{
    struct log_stream *ls = arg;
    if (incomplete[0])
        log_info("logs of service %s are incomplete: no answer from node(s) %s", ls->service_id,
                 incomplete);
    ls->sub = NULL;
    http_req_on_close(ls->r->http, NULL, NULL);
    http_stream_end(ls->r->http);
    api_req_free(ls->r);
    free(ls);
}

static void peer_closed(struct http_req *req, void *data)
{
    (void)req;
    struct log_stream *ls = data;
    logbroker_cancel(ls->sub);
    api_req_free(ls->r);
    free(ls);
}

struct targets {
    struct lb_target *v;
    size_t n, cap;
};

static int add_target(const struct store_task *t, void *data)
{
    struct targets *tg = data;
    if (!t->node_id[0] || t->observed < TASK_STARTING || t->observed == TASK_REJECTED)
        return 0;
    if (tg->n == tg->cap) {
        tg->cap = tg->cap ? tg->cap * 2 : 16;
        tg->v = xrealloc(tg->v, tg->cap * sizeof(*tg->v));
    }
    tg->v[tg->n++] = (struct lb_target){t->id, t->node_id};
    return 0;
}

/* ?since= / ?until= as dockerd reads them for logs (seconds[.fraction] or RFC 3339). */
static int query_time(struct api_req *r, const char *key, int64_t *ns, struct err *e)
{
    char *v = http_query_get(r->http, key);
    int rc = 0;
    *ns = 0;
    if (v && v[0])
        rc = api_events_parse_time(key, v, ns, e);
    free(v);
    return rc;
}

static int parse_opts(struct api_req *r, struct lb_opts *o, bool *timestamps, bool *details,
                      struct err *e)
{
    *o = (struct lb_opts){.tail = -1};
    o->follow = api_query_bool(r, "follow");
    o->want_stdout = api_query_bool(r, "stdout");
    o->want_stderr = api_query_bool(r, "stderr");
    *timestamps = api_query_bool(r, "timestamps");
    *details = api_query_bool(r, "details");
    if (!o->want_stdout && !o->want_stderr)
        return err_set(e, ERR_INVALID, "Bad parameters: you must choose at least one stream");
    char *tail = http_query_get(r->http, "tail");
    if (tail && tail[0] && strcmp(tail, "all") != 0) {
        char *end;
        long v = strtol(tail, &end, 10);
        /* dockerd: a tail that does not parse means all */
        if (*end == 0 && end != tail && v >= 0)
            o->tail = v;
    }
    free(tail);
    if (query_time(r, "since", &o->since_ns, e) < 0 || query_time(r, "until", &o->until_ns, e) < 0)
        return -e->kind;
    return 0;
}

static void stream_logs(struct api_req *r, const char *service_id, struct lb_target *t, size_t n,
                        const struct lb_opts *o, bool timestamps, bool details, bool tty)
{
    struct logbroker *lb = node_logbroker(r->api->node);
    if (!lb) {
        struct err e;
        const char *leader = node_leader_address(r->api->node);
        err_set(&e, ERR_UNAVAILABLE,
                "service logs are served by the swarm's leader%s%s; this manager does not lead",
                leader && leader[0] ? " at " : "", leader ? leader : "");
        api_reply_err(r, &e);
        return;
    }
    struct log_stream *ls = xcalloc(1, sizeof(*ls));
    ls->r = r;
    ls->timestamps = timestamps;
    ls->details = details;
    ls->raw = tty;
    snprintf(ls->service_id, sizeof(ls->service_id), "%s", service_id);
    /* dockerd 20.10 names no type; newer ones say raw-stream for a TTY's (and, from API
     * 1.42, multiplexed-stream for the others) */
    http_stream_begin(r->http, 200, tty ? "application/vnd.docker.raw-stream" : NULL);
    http_req_on_close(r->http, peer_closed, ls);
    ls->sub = logbroker_subscribe(lb, t, n, o, on_msg, on_end, ls);
}

static void service_logs(struct api_req *r)
{
    struct err e;
    if (node_require_manager(r->api->node, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    struct store *st = node_store(r->api->node);
    json_t *svc = store_find(st, STORE_SERVICE, r->params[0], &e);
    if (!svc) {
        api_reply_err(r, &e);
        return;
    }
    struct lb_opts o;
    bool timestamps, details;
    if (parse_opts(r, &o, &timestamps, &details, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    const char *id = store_json_str(svc, "ID");
    struct targets tg = {0};
    store_tasks_of_service(st, id, add_target, &tg);
    json_t *tt = json_object_get(json_object_get(svc, "Spec"), "TaskTemplate");
    bool tty = json_is_true(json_object_get(json_object_get(tt, "ContainerSpec"), "TTY"));
    stream_logs(r, id, tg.v, tg.n, &o, timestamps, details, tty);
    free(tg.v);
}

static void task_logs(struct api_req *r)
{
    struct err e;
    if (node_require_manager(r->api->node, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    struct store *st = node_store(r->api->node);
    json_t *task = store_find(st, STORE_TASK, r->params[0], &e);
    if (!task) {
        api_reply_err(r, &e);
        return;
    }
    struct lb_opts o;
    bool timestamps, details;
    if (parse_opts(r, &o, &timestamps, &details, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    struct targets tg = {0};
    add_target(store_task_view(st, store_json_str(task, "ID")), &tg);
    bool tty = json_is_true(json_object_get(
        json_object_get(json_object_get(task, "Spec"), "ContainerSpec"), "TTY"));
    stream_logs(r, store_json_str(task, "ServiceID") ?: "", tg.v, tg.n, &o, timestamps, details,
                tty);
    free(tg.v);
}

const struct api_route api_log_routes[] = {
    {"GET", "/services/{id}/logs", service_logs},
    {"GET", "/tasks/{id}/logs", task_logs},
    {NULL, NULL, NULL},
};
