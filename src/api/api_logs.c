/* api_logs.c — GET /services/{id}/logs and GET /tasks/{id}/logs, as dockerd answers them:
 * chunked stdcopy frames (stream 1 stdout, 2 stderr), each message prefixed with its time
 * (RFC 3339 with 9 fixed digits, with timestamps=1) and its attributes
 * ("com.docker.swarm.node.id=...,com.docker.swarm.service.id=...,com.docker.swarm.task.id=..."
 * then a space, with details=1, which the CLI always asks for to print "name@node | line").
 * Any manager answers: the leader from its log broker, another manager by relaying the
 * leader's stream (src/node/node_logs.c); the tasks are those that ran on a node. This file
 * resolves the name or ID in this manager's store (404 as dockerd) and reads the query. A
 * client that goes away cancels the subscription. Thread: the loop thread. */
#include "api_int.h"

#include "msg/msg.h"

#include <stdlib.h>
#include <string.h>

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

static int parse_opts(struct api_req *r, struct msg_logs_sub_req *o, struct err *e)
{
    *o = (struct msg_logs_sub_req){.tail = -1};
    o->follow = api_query_bool(r, "follow");
    o->want_stdout = api_query_bool(r, "stdout");
    o->want_stderr = api_query_bool(r, "stderr");
    o->timestamps = api_query_bool(r, "timestamps");
    o->details = api_query_bool(r, "details");
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

static void logs_done(void *arg)
{
    api_req_free(arg);
}

static void serve_logs(struct api_req *r, enum store_kind kind)
{
    struct err e;
    if (node_require_manager(r->api->node, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    json_t *obj = store_find(node_store(r->api->node), kind, r->params[0], &e);
    struct msg_logs_sub_req sel;
    if (!obj || parse_opts(r, &sel, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    if (kind == STORE_SERVICE)
        sel.service_id = store_json_str(obj, "ID");
    else
        sel.task_id = store_json_str(obj, "ID");
    if (node_logs_stream(r->api->node, &sel, r->http, logs_done, r, &e) < 0)
        api_reply_err(r, &e);
}

static void service_logs(struct api_req *r)
{
    serve_logs(r, STORE_SERVICE);
}

static void task_logs(struct api_req *r)
{
    serve_logs(r, STORE_TASK);
}

const struct api_route api_log_routes[] = {
    {"GET", "/services/{id}/logs", service_logs},
    {"GET", "/tasks/{id}/logs", task_logs},
    {NULL, NULL, NULL},
};
