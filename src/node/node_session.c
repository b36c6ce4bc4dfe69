/* node_session.c — the node's side of task assignments and logs: the agent session and the
 * log publisher (src/agent) run on every node of a swarm, managers included, and reach the
 * leader through calls made here (POST to the leader's peer listener, mutual TLS with this
 * node's certificate). A manager knows the leader from the election; a worker uses the
 * manager its heartbeat follows (which moves to the leader a 503 names). On the leader the
 * dispatcher's server (assignments and status intake) and the reconciliation loop run while
 * it leads. Thread: the loop thread. */
#include "node_int.h"

#include "agent/agent.h"
#include "manager/dispatcher/disp.h"
#include "manager/manager.h"

#include <stdlib.h>
#include <string.h>

#define CALL_TIMEOUT_MS 10000
#define POLL_TIMEOUT_MS (DISP_POLL_MS + 10000)

/* One call to the leader in flight. */
struct sess_call {
    struct node *n;
    agent_call_cb cb;
    void *arg;
    struct httpc_call *hc;
    struct sess_call *prev, *next;
};

static const char *leader_target(struct node *n)
{
    if (node_is_manager(n)) {
        const char *l = node_leader_addr(n);
        if (l)
            return l;
    }
    if (n->agent_idx >= json_array_size(n->managers))
        return json_string_value(json_array_get(n->managers, 0));
    return json_string_value(json_array_get(n->managers, n->agent_idx));
}

static void call_unlink(struct sess_call *c)
{
    struct node *n = c->n;
    if (c->prev)
        c->prev->next = c->next;
    else
        n->sess_calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void call_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    (void)e;
    struct sess_call *c = data;
    call_unlink(c);
    json_t *j = rc == 0 && body->len ? json_loadb(body->p, body->len, 0, NULL) : NULL;
    c->cb(c->arg, rc == 0 ? (int)status : 0, j);
    json_decref(j);
    free(c);
}

/* An agent_call_fn (ctx: the node). */
static void leader_call(void *ctx, const char *path, json_t *body, agent_call_cb cb, void *arg)
{
    struct node *n = ctx;
    struct sess_call *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->cb = cb;
    c->arg = arg;
    c->next = n->sess_calls;
    if (c->next)
        c->next->prev = c;
    n->sess_calls = c;
    const char *to = leader_target(n);
    if (!to || !n->sess_client) {
        /* answered later, as every call: a zero-length call that fails at once */
        to = "127.0.0.1:1";
    }
    char *url = xasprintf("https://%s%s", to, path);
    char *s = json_dumps(body, JSON_COMPACT);
    long timeout = strstr(path, "/assignments") || strstr(path, "/logs/listen") ? POLL_TIMEOUT_MS
                                                                                : CALL_TIMEOUT_MS;
    c->hc = httpc_post(n->sess_client, url, s, strlen(s), timeout, NULL, call_done, c);
    free(s);
    free(url);
}

/* Closing the client cancels its calls without their callbacks: answer them (0) first. */
static void calls_fail_all(struct node *n)
{
    while (n->sess_calls) {
        struct sess_call *c = n->sess_calls;
        call_unlink(c);
        httpc_cancel(c->hc);
        c->cb(c->arg, 0, NULL);
        free(c);
    }
}

void node_session_start(struct node *n)
{
    if (n->session || !n->cfg.exec_ops)
        return;
    n->sess_client = node_peer_client(n);
    n->session = agent_session_new(n->loop, leader_call, n, n->cfg.exec_ops, n->cfg.exec_ctx);
    agent_session_start(n->session);
    if (n->cfg.log_ops) {
        n->logs = agent_logs_new(n->loop, leader_call, n, n->cfg.log_ops, n->cfg.exec_ctx);
        agent_logs_start(n->logs);
    }
}

void node_session_stop(struct node *n)
{
    if (!n->session)
        return;
    agent_session_free(n->session);
    agent_logs_free(n->logs);
    n->session = NULL;
    n->logs = NULL;
    calls_fail_all(n);
    httpc_close(n->sess_client, NULL, NULL);
    n->sess_client = NULL;
}

void node_session_reload_tls(struct node *n)
{
    if (!n->sess_client)
        return;
    calls_fail_all(n); /* the session and the publisher ask again */
    httpc_close(n->sess_client, NULL, NULL);
    n->sess_client = node_peer_client(n);
}

/* ---- the leader's side ---- */

void node_tasks_lead(struct node *n)
{
    if (n->mgr)
        return;
    struct mgr_config mc = {n->store, node_commit_batch, n};
    n->mgr = mgr_new(&mc);
    mgr_start(n->mgr, n->loop);
    n->disp = disp_server_new(n->loop, n->store, node_commit_batch, n);
}

void node_tasks_unlead(struct node *n)
{
    mgr_free(n->mgr);
    n->mgr = NULL;
    disp_server_free(n->disp);
    n->disp = NULL;
}

static void reply(struct http_req *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    http_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

/* The polling peer went away: the parked poll is dropped, and the request still gets its
 * one answer (written nowhere) so that the server frees it. */
static void poll_closed(struct http_req *req, void *data)
{
    struct node *n = data;
    if (n->disp)
        disp_server_cancel(n->disp, req);
    reply(req, 503, json_pack("{s:s}", "message", "the node went away"));
}

static void poll_answered(void *arg, int status, json_t *body)
{
    struct http_req *req = arg;
    http_req_on_close(req, NULL, NULL);
    if (status == 200)
        reply(req, 200, body);
    else
        reply(req, 503, json_pack("{s:s}", "message", "this manager is no longer the leader"));
}

void node_tasks_rpc(struct node *n, struct http_req *req, const char *peer, json_t *body)
{
    if (!n->disp || !node_is_leader(n)) {
        const char *leader = node_leader_addr(n);
        reply(req, 503,
              json_pack("{s:s, s:s}", "message", "this manager is not the leader", "Leader",
                        leader ? leader : ""));
        return;
    }
    struct err e;
    if (!strcmp(req->path, "/swarm-rpc/assignments")) {
        struct msg_assign_req m;
        if (msg_assign_req_decode(body, &m, &e) < 0) {
            reply(req, 400, json_pack("{s:s}", "message", e.msg));
            return;
        }
        http_req_on_close(req, poll_closed, n);
        disp_server_assignments(n->disp, peer, &m, poll_answered, req);
        msg_assign_req_release(&m);
        return;
    }
    struct msg_status_batch b;
    if (msg_status_batch_decode(body, &b, &e) < 0) {
        reply(req, 400, json_pack("{s:s}", "message", e.msg));
        return;
    }
    disp_server_status(n->disp, peer, &b);
    msg_status_batch_release(&b);
    reply(req, 200, json_object());
}
