/* state_member.c — etcd cluster membership through the gateway: member add (with the
 * --initial-cluster string the new member needs), member remove by name or peer URL, the
 * member list with the Raft leader marked, and moving the Raft leadership elsewhere.
 *
 * Each call is a state_req (state_client.c): a short chain of gateway calls whose user
 * callback runs once, from the request's timer. Every chain starts with a member list, so
 * add is idempotent (a member added but not started is found and reported again) and
 * remove can resolve names. etcd's strict reconfiguration check refuses changes for ~5 s
 * after a member connects ("unhealthy cluster", gRPC Unavailable): such answers, and
 * transport failures, are retried every MEMBER_RETRY_MS until MEMBER_DEADLINE_MS.
 * Thread: the loop thread only. */
#include "state/state_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_CALL_TIMEOUT_MS 5000
#define MEMBER_DEADLINE_MS 15000
#define MEMBER_RETRY_MS 500

enum member_kind { MEMBER_ADD, MEMBER_REMOVE, MEMBER_LIST, MEMBER_MOVE };

struct member_req {
    struct state_req r; /* first: the request engine's part */
    enum member_kind kind;
    char *name;   /* add: the new member's name; remove: name or peer URL */
    char *peer;   /* add: its peer URL */
    uint64_t id;  /* remove: the member found */
    char *result; /* add: the initial cluster */
    json_t *members;
    uint64_t leader;
    state_member_cb cb;
    state_members_cb list_cb;
    state_done_cb done_cb;
    void *data;
};

static void list_call(struct state_req *r);

/* ---- parsing ---- */

static uint64_t member_id(json_t *m)
{
    const char *s = json_string_value(json_object_get(m, "ID"));
    if (s)
        return strtoull(s, NULL, 10);
    return json_is_integer(json_object_get(m, "ID"))
               ? (uint64_t)json_integer_value(json_object_get(m, "ID"))
               : 0;
}

static const char *member_str(json_t *m, const char *field)
{
    const char *s = json_string_value(json_object_get(m, field));
    return s ? s : "";
}

static const char *member_url(json_t *m, const char *field)
{
    const char *s = json_string_value(json_array_get(json_object_get(m, field), 0));
    return s ? s : "";
}

static bool member_has_peer(json_t *m, const char *url)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(m, "peerURLs"), i, u)
    {
        if (json_is_string(u) && !strcmp(json_string_value(u), url))
            return true;
    }
    return false;
}

/* "name=url,..." over every peer URL of every member; new_id is named new_name, other
 * members without a name yet (added, never started) "m<hex id>": etcd only compares the
 * URLs of the other members with the cluster's. */
static char *initial_cluster(json_t *members, uint64_t new_id, const char *new_name)
{
    struct buf b = BUF_INIT;
    size_t i, k;
    json_t *m, *u;
    json_array_foreach(members, i, m)
    {
        uint64_t id = member_id(m);
        char fallback[32];
        const char *name = member_str(m, "name");
        if (id == new_id)
            name = new_name;
        else if (!name[0]) {
            snprintf(fallback, sizeof(fallback), "m%" PRIx64, id);
            name = fallback;
        }
        json_array_foreach(json_object_get(m, "peerURLs"), k, u)
        {
            if (json_is_string(u))
                buf_printf(&b, "%s%s=%s", b.len ? "," : "", name, json_string_value(u));
        }
    }
    return b.p ? buf_detach(&b, NULL) : xstrdup("");
}

/* Parses a 200 answer (or turns anything else into e); returns the JSON or NULL. */
static json_t *answer_json(int rc, long status, struct buf *body, struct err *in, struct err *e,
                           const char *what)
{
    if (rc < 0) {
        *e = *in;
        err_wrap(e, "%s", what);
        return NULL;
    }
    if (status != 200) {
        state_gateway_error(status, body, e);
        err_wrap(e, "%s", what);
        return NULL;
    }
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(e, ERR_INTERNAL, "%s: etcd answered bad JSON", what);
        return NULL;
    }
    return j;
}

/* Retries a failure that may pass (Unavailable, transport) until the deadline; ends the
 * request otherwise. */
static void fail_or_retry(struct state_req *r, struct err *e, state_req_fn again)
{
    if (e->kind == ERR_UNAVAILABLE && uv_now(r->st->loop) + MEMBER_RETRY_MS < r->deadline &&
        !r->st->stopping) {
        log_debug("state: %s; retrying", e->msg);
        state_req_later(r, MEMBER_RETRY_MS, again);
        return;
    }
    state_req_finish(r, -e->kind, e);
}

/* ---- add ---- */

static void add_call(struct state_req *r);

static void on_add(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct member_req *m = (struct member_req *)r;
    struct err e = {0};
    json_t *j = answer_json(rc, status, body, ce, &e, "etcd member add");
    if (!j) {
        fail_or_retry(r, &e, add_call);
        return;
    }
    uint64_t id = member_id(json_object_get(j, "member"));
    m->result = initial_cluster(json_object_get(j, "members"), id, m->name);
    log_info("state: added etcd member %s (%" PRIx64 ") at %s", m->name, id, m->peer);
    json_decref(j);
    state_req_finish(r, 0, NULL);
}

static void add_call(struct state_req *r)
{
    struct member_req *m = (struct member_req *)r;
    json_t *req = json_pack("{s:[s]}", "peerURLs", m->peer);
    state_req_post(r, "/v3/cluster/member/add", req, MEMBER_CALL_TIMEOUT_MS, on_add);
    json_decref(req);
}

/* Before adding: is the peer URL a member already? */
static void add_after_list(struct member_req *m)
{
    size_t i;
    json_t *mem;
    json_array_foreach(m->members, i, mem)
    {
        if (!member_has_peer(mem, m->peer))
            continue;
        const char *name = member_str(mem, "name");
        if (name[0] && strcmp(name, m->name)) {
            struct err e = {0};
            err_set(&e, ERR_CONFLICT, "peer URL %s already belongs to etcd member %s", m->peer,
                    name);
            state_req_finish(&m->r, -ERR_CONFLICT, &e);
            return;
        }
        if (name[0]) {
            struct err e = {0};
            err_set(&e, ERR_CONFLICT, "etcd member %s (%s) has already started", name, m->peer);
            state_req_finish(&m->r, -ERR_CONFLICT, &e);
            return;
        }
        /* Added before (a join that did not get to start etcd): the same answer again. */
        m->result = initial_cluster(m->members, member_id(mem), m->name);
        state_req_finish(&m->r, 0, NULL);
        return;
    }
    add_call(&m->r);
}

/* ---- remove ---- */

static void remove_call(struct state_req *r);

static void on_remove(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct member_req *m = (struct member_req *)r;
    struct err e = {0};
    json_t *j = answer_json(rc, status, body, ce, &e, "etcd member remove");
    if (!j) {
        /* Gone already (an earlier attempt whose answer was lost): done. */
        if (strstr(e.msg, "member not found")) {
            state_req_finish(r, 0, NULL);
            return;
        }
        fail_or_retry(r, &e, remove_call);
        return;
    }
    json_decref(j);
    log_info("state: removed etcd member %s (%" PRIx64 ")", m->name, m->id);
    state_req_finish(r, 0, NULL);
}

static void remove_call(struct state_req *r)
{
    struct member_req *m = (struct member_req *)r;
    char id[32];
    snprintf(id, sizeof(id), "%" PRIu64, m->id);
    json_t *req = json_pack("{s:s}", "ID", id);
    state_req_post(r, "/v3/cluster/member/remove", req, MEMBER_CALL_TIMEOUT_MS, on_remove);
    json_decref(req);
}

static void remove_after_list(struct member_req *m)
{
    size_t i;
    json_t *mem;
    json_array_foreach(m->members, i, mem)
    {
        if (!strcmp(member_str(mem, "name"), m->name) || member_has_peer(mem, m->name)) {
            m->id = member_id(mem);
            remove_call(&m->r);
            return;
        }
    }
    struct err e = {0};
    err_set(&e, ERR_NOT_FOUND, "no etcd member named %s", m->name);
    state_req_finish(&m->r, -ERR_NOT_FOUND, &e);
}

/* ---- list ---- */

static void status_call(struct state_req *r);

static void move_after_status(struct member_req *m, uint64_t self);

static void on_status(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct member_req *m = (struct member_req *)r;
    struct err e = {0};
    json_t *j = answer_json(rc, status, body, ce, &e, "etcd status");
    if (!j) {
        fail_or_retry(r, &e, status_call);
        return;
    }
    const char *leader = json_string_value(json_object_get(j, "leader"));
    const char *self =
        json_string_value(json_object_get(json_object_get(j, "header"), "member_id"));
    m->leader = leader ? strtoull(leader, NULL, 10) : 0;
    uint64_t self_id = self ? strtoull(self, NULL, 10) : 0;
    json_decref(j);
    if (m->kind == MEMBER_MOVE) {
        move_after_status(m, self_id);
        return;
    }
    state_req_finish(r, 0, NULL);
}

/* ---- move the Raft leadership ---- */

static void move_call(struct state_req *r);

static void on_moved(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct member_req *m = (struct member_req *)r;
    struct err e = {0};
    json_t *j = answer_json(rc, status, body, ce, &e, "etcd leadership transfer");
    if (!j) {
        fail_or_retry(r, &e, move_call);
        return;
    }
    json_decref(j);
    log_info("state: moved etcd leadership to %" PRIx64, m->id);
    state_req_finish(r, 0, NULL);
}

static void move_call(struct state_req *r)
{
    struct member_req *m = (struct member_req *)r;
    char id[32];
    snprintf(id, sizeof(id), "%" PRIu64, m->id);
    json_t *req = json_pack("{s:s}", "targetID", id);
    state_req_post(r, "/v3/maintenance/transfer-leadership", req, MEMBER_CALL_TIMEOUT_MS, on_moved);
    json_decref(req);
}

/* Only the leader can hand over; pick a started member (by name if one was asked for). */
static void move_after_status(struct member_req *m, uint64_t self)
{
    struct err e = {0};
    if (!m->leader || m->leader != self) {
        state_req_finish(&m->r, 0, NULL); /* not ours to move */
        return;
    }
    size_t i;
    json_t *mem;
    json_array_foreach(m->members, i, mem)
    {
        const char *name = member_str(mem, "name");
        uint64_t id = member_id(mem);
        if (id == self || !name[0] || !member_url(mem, "clientURLs")[0])
            continue;
        if (m->name && strcmp(name, m->name))
            continue;
        m->id = id;
        move_call(&m->r);
        return;
    }
    err_set(&e, ERR_NOT_FOUND, "no other started etcd member%s%s", m->name ? " named " : "",
            m->name ? m->name : "");
    state_req_finish(&m->r, -ERR_NOT_FOUND, &e);
}

static void status_call(struct state_req *r)
{
    json_t *req = json_object();
    state_req_post(r, "/v3/maintenance/status", req, MEMBER_CALL_TIMEOUT_MS, on_status);
    json_decref(req);
}

/* ---- common ---- */

static void on_list(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct member_req *m = (struct member_req *)r;
    struct err e = {0};
    json_t *j = answer_json(rc, status, body, ce, &e, "etcd member list");
    if (!j) {
        fail_or_retry(r, &e, list_call);
        return;
    }
    json_decref(m->members);
    m->members = json_incref(json_object_get(j, "members"));
    json_decref(j);
    if (!json_is_array(m->members)) {
        err_set(&e, ERR_INTERNAL, "etcd member list: no members in the answer");
        state_req_finish(r, -ERR_INTERNAL, &e);
        return;
    }
    switch (m->kind) {
    case MEMBER_ADD:
        add_after_list(m);
        break;
    case MEMBER_REMOVE:
        remove_after_list(m);
        break;
    case MEMBER_LIST:
    case MEMBER_MOVE:
        status_call(r);
        break;
    }
}

static void list_call(struct state_req *r)
{
    json_t *req = json_object();
    state_req_post(r, "/v3/cluster/member/list", req, MEMBER_CALL_TIMEOUT_MS, on_list);
    json_decref(req);
}

static void member_complete(struct state_req *r)
{
    struct member_req *m = (struct member_req *)r;
    struct err *e = r->rc < 0 ? &r->e : NULL;
    if (m->kind == MEMBER_MOVE) {
        m->done_cb(m->data, r->rc, e);
        return;
    }
    if (m->kind != MEMBER_LIST) {
        m->cb(m->data, r->rc, r->rc == 0 ? m->result : NULL, e);
        return;
    }
    if (r->rc < 0) {
        m->list_cb(m->data, r->rc, NULL, 0, e);
        return;
    }
    size_t n = json_array_size(m->members);
    struct state_member *arr = xcalloc(n ? n : 1, sizeof(*arr));
    for (size_t i = 0; i < n; i++) {
        json_t *mem = json_array_get(m->members, i);
        arr[i] = (struct state_member){
            .name = member_str(mem, "name"),
            .id = member_id(mem),
            .peer_url = member_url(mem, "peerURLs"),
            .client_url = member_url(mem, "clientURLs"),
        };
        arr[i].is_leader = m->leader && arr[i].id == m->leader;
    }
    m->list_cb(m->data, 0, arr, n, NULL);
    free(arr);
}

static void member_release(struct state_req *r)
{
    struct member_req *m = (struct member_req *)r;
    free(m->name);
    free(m->peer);
    free(m->result);
    json_decref(m->members);
}

static void member_start(struct state *st, struct member_req *proto)
{
    struct member_req *m =
        (struct member_req *)state_req_new(st, sizeof(*m), member_complete, member_release);
    m->kind = proto->kind;
    m->name = proto->name;
    m->peer = proto->peer;
    m->cb = proto->cb;
    m->list_cb = proto->list_cb;
    m->done_cb = proto->done_cb;
    m->data = proto->data;
    if (m->r.finished)
        return;
    m->r.deadline = uv_now(st->loop) + MEMBER_DEADLINE_MS;
    list_call(&m->r);
}

void state_member_add(struct state *st, const char *name, const char *peer_url, state_member_cb cb,
                      void *data)
{
    struct member_req p = {.kind = MEMBER_ADD,
                           .name = xstrdup(name),
                           .peer = xstrdup(peer_url),
                           .cb = cb,
                           .data = data};
    member_start(st, &p);
}

void state_member_remove(struct state *st, const char *name_or_peer_url, state_member_cb cb,
                         void *data)
{
    struct member_req p = {
        .kind = MEMBER_REMOVE, .name = xstrdup(name_or_peer_url), .cb = cb, .data = data};
    member_start(st, &p);
}

void state_member_list(struct state *st, state_members_cb cb, void *data)
{
    struct member_req p = {.kind = MEMBER_LIST, .list_cb = cb, .data = data};
    member_start(st, &p);
}

void state_move_etcd_leader(struct state *st, const char *to_name, state_done_cb cb, void *data)
{
    struct member_req p = {.kind = MEMBER_MOVE,
                           .name = to_name ? xstrdup(to_name) : NULL,
                           .done_cb = cb,
                           .data = data};
    member_start(st, &p);
}
