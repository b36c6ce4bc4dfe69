/* node_agent.c — a worker's session with the managers: a heartbeat to one manager every
 * period (the period and the list of managers to fail over to come back with each answer),
 * moving on to the next manager when one cannot be reached. Mutual TLS 1.3 with this node's
 * certificate. Thread: the loop thread. */
#include "node_int.h"

#include <stdlib.h>
#include <string.h>

#define AGENT_RETRY_MS 500

static void agent_schedule(struct node *n, int64_t ms);

static void save_managers(struct node *n, json_t *list)
{
    if (!json_is_array(list) || !json_array_size(list) || json_equal(list, n->managers))
        return;
    /* keep talking to the manager that answered: find it in the new list */
    char *cur = xstrdup(json_string_value(json_array_get(n->managers, n->agent_idx)) ?: "");
    json_decref(n->managers);
    n->managers = json_deep_copy(list);
    n->agent_idx = 0;
    for (size_t i = 0; i < json_array_size(n->managers); i++)
        if (!strcmp(json_string_value(json_array_get(n->managers, i)) ?: "", cur))
            n->agent_idx = i;
    free(cur);
    struct err e;
    if (node_save_state(n, &e) < 0)
        log_warn("could not save the manager list: %s", e.msg);
}

/* A manager that does not lead names the leader: go there. */
static bool follow_leader(struct node *n, const char *leader)
{
    if (!leader || !leader[0])
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(n->managers, i, v)
    {
        if (!strcmp(json_string_value(v), leader)) {
            n->agent_idx = i;
            return true;
        }
    }
    if (!n->managers)
        n->managers = json_array();
    json_array_append_new(n->managers, json_string(leader));
    n->agent_idx = json_array_size(n->managers) - 1;
    return true;
}

/* The answer's body decoded (src/msg), or -ERR_INVALID with e. */
static int decode_answer(struct buf *body, struct msg_heartbeat_resp *m, struct err *e)
{
    json_t *j = msg_load(body->p, body->len, "heartbeat answer", e);
    int rc = j ? msg_heartbeat_resp_decode(j, m, e) : -ERR_INVALID;
    json_decref(j);
    return rc;
}

static void heartbeat_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct node *n = data;
    struct err e2;
    struct msg_heartbeat_resp m;
    n->agent_call = NULL;
    bool decoded = rc == 0 && decode_answer(body, &m, &e2) == 0;
    if (rc == 0 && status == 503 && decoded && follow_leader(n, m.leader)) {
        msg_heartbeat_resp_release(&m);
        agent_schedule(n, 20);
        return;
    }
    if (rc < 0 || status != 200) {
        const char *msg = rc < 0 ? e->msg : decoded ? m.message : NULL;
        log_warn("heartbeat to %s failed: %s",
                 json_string_value(json_array_get(n->managers, n->agent_idx)) ?: "?",
                 msg ? msg : "unexpected answer");
        if (decoded)
            msg_heartbeat_resp_release(&m);
        if (json_array_size(n->managers))
            n->agent_idx = (n->agent_idx + 1) % json_array_size(n->managers);
        agent_schedule(n, AGENT_RETRY_MS);
        return;
    }
    if (!decoded) {
        log_warn("heartbeat to %s: %s",
                 json_string_value(json_array_get(n->managers, n->agent_idx)) ?: "?", e2.msg);
        agent_schedule(n, AGENT_RETRY_MS);
        return;
    }
    if (m.heartbeat_ms > 0)
        n->heartbeat_ms = m.heartbeat_ms;
    save_managers(n, m.managers);
    bool promote = !node_is_manager(n) && m.role && !strcmp(m.role, "manager");
    agent_schedule(n, n->heartbeat_ms);
    node_trust_sync(n, m.trust_bundle, m.signing_root);
    msg_heartbeat_resp_release(&m);
    if (promote)
        node_promote_self(n, n->agent_client,
                          json_string_value(json_array_get(n->managers, n->agent_idx)));
}

static void agent_beat(uv_timer_t *t)
{
    struct node *n = t->data;
    /* the list may have been replaced by a shorter one (a demotion, a new answer) */
    if (n->agent_idx >= json_array_size(n->managers))
        n->agent_idx = 0;
    /* a manager knows the leader from the election; a worker follows redirects */
    const char *mgr = node_is_manager(n) && node_leader_addr(n)
                          ? node_leader_addr(n)
                          : json_string_value(json_array_get(n->managers, n->agent_idx));
    if (!mgr) {
        log_warn("no manager known to report to");
        agent_schedule(n, AGENT_RETRY_MS * 4);
        return;
    }
    /* each heartbeat carries this node's TLS state (what it trusts, who issued its
     * certificate): the leader tracks root rotations with it */
    json_t *tls = node_self_tls_info(n);
    struct msg_heartbeat_req m = {
        .has_tls = tls != NULL,
        .tls = {json_string_value(json_object_get(tls, "TrustRoot")),
                json_string_value(json_object_get(tls, "CertIssuerSubject")),
                json_string_value(json_object_get(tls, "CertIssuerPublicKey"))}};
    json_t *body = msg_heartbeat_req_encode(&m);
    char *s = msg_dump(body);
    json_decref(body);
    json_decref(tls);
    char *url = xasprintf("https://%s/swarm-rpc/heartbeat", mgr);
    n->agent_call =
        httpc_post(n->agent_client, url, s, strlen(s), n->heartbeat_ms, NULL, heartbeat_done, n);
    free(url);
    free(s);
}

static void agent_schedule(struct node *n, int64_t ms)
{
    if (n->agent_timer)
        uv_timer_start(n->agent_timer, agent_beat, (uint64_t)ms, 0);
}

void node_agent_start(struct node *n)
{
    if (n->agent_timer)
        return;
    n->agent_client = node_peer_client(n);
    if (!n->heartbeat_ms)
        n->heartbeat_ms = 5000;
    n->agent_timer = xmalloc(sizeof(*n->agent_timer));
    uv_timer_init(n->loop, n->agent_timer);
    n->agent_timer->data = n;
    agent_schedule(n, 0);
}

void node_agent_reload_tls(struct node *n)
{
    node_session_reload_tls(n);
    if (!n->agent_timer)
        return;
    node_agent_stop(n);
    node_agent_start(n);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void node_agent_stop(struct node *n)
{
    if (!n->agent_timer)
        return;
    uv_timer_stop(n->agent_timer);
    uv_close((uv_handle_t *)n->agent_timer, timer_closed);
    n->agent_timer = NULL;
    n->agent_call = NULL; /* cancelled by httpc_close */
    httpc_close(n->agent_client, NULL, NULL);
    n->agent_client = NULL;
}

struct leave_ctx {
    struct node *n;
    void (*cb)(void *data);
    void *data;
};

static void leave_sent(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct leave_ctx *c = data;
    if (rc < 0)
        log_warn("could not tell a manager that this node leaves: %s", e->msg);
    node_agent_stop(c->n);
    c->cb(c->data);
    free(c);
}

void node_agent_leave(struct node *n, void (*cb)(void *data), void *data)
{
    const char *mgr = json_string_value(json_array_get(n->managers, n->agent_idx));
    if (!n->agent_client || !mgr) {
        node_agent_stop(n);
        cb(data);
        return;
    }
    if (n->agent_call)
        httpc_cancel(n->agent_call);
    n->agent_call = NULL;
    uv_timer_stop(n->agent_timer);
    struct leave_ctx *c = xmalloc(sizeof(*c));
    *c = (struct leave_ctx){n, cb, data};
    char *url = xasprintf("https://%s/swarm-rpc/leave", mgr);
    httpc_post(n->agent_client, url, "{}", 2, 2000, NULL, leave_sent, c);
    free(url);
}
