/* node_logs.c — the node's part in service logs: on the leader, the log broker
 * (manager/logbroker) and the peer calls that reach it (POST /swarm-rpc/logs/listen, a long
 * poll, and /swarm-rpc/logs/publish); the broker lives while this manager leads. Other
 * managers answer 503 naming the leader, as heartbeats do. Thread: the loop thread. */
#include "node_int.h"

#include "manager/logbroker/logbroker.h"

#include <stdlib.h>
#include <string.h>

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
    logbroker_free(lb); /* parked listens are answered 503 through listen_answered */
}

struct logbroker *node_logbroker(struct node *n)
{
    return n->state == NODE_ACTIVE && node_is_leader(n) ? n->logbroker : NULL;
}

const char *node_leader_address(struct node *n)
{
    return node_leader_addr(n);
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

void node_logs_rpc(struct node *n, struct http_req *req, const char *peer, json_t *body)
{
    if (!node_logbroker(n)) {
        const char *leader = node_leader_addr(n);
        reply(req, 503,
              json_pack("{s:s, s:s}", "message", "this manager is not the leader", "Leader",
                        leader ? leader : ""));
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/logs/listen")) {
        http_req_on_close(req, listen_closed, n);
        logbroker_listen(n->logbroker, peer, body, listen_answered, req);
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/logs/publish")) {
        struct err e;
        if (logbroker_publish(n->logbroker, peer, body, &e) < 0)
            reply_err(req, &e);
        else
            reply(req, 200, json_object());
        return;
    }
    struct err e;
    err_set(&e, ERR_NOT_FOUND, "page not found");
    reply_err(req, &e);
}
