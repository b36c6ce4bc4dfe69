/* node_leader.c — leadership among managers: every manager campaigns for an etcd lease-bound
 * key; the holder runs the leader-only components (the dispatcher's liveness tracking) and
 * fences its writes with a compare on that key, so a deposed leader can never write. The
 * other managers heartbeat the leader like workers do, and probe it four times a second: a
 * leader that stops answering for NODE_SILENCE_WINDOW_MS (counted from when this follower
 * learned it leads) has its lease revoked (a minority cannot do that: the revoke needs
 * quorum), so failover does not wait for the lease to expire. Only that leader's lease
 * (revoke by its election revision), so a newer leader is never deposed by a late decision;
 * a leader that answers that its etcd has no leader is not silent (etcd is electing: the
 * lease outlives that), so one kill makes one leader change.
 * Live manager status for the API (Leader, Reachability) is derived here.
 * Thread: the loop thread. */
#include "node_int.h"

#include <stdlib.h>
#include <string.h>

#define PROBE_TIMEOUT_MS 400
#define PROBE_SUSPECT_WATCH_MS 1000 /* after a silent probe: follow etcd's leader closely */
#define PROBE_SUSPECT_PROBES 8      /* ... for the first 8 of them */

bool node_is_leader(const struct node *n)
{
    return n->election && n->is_leader && !n->leader_isolated;
}

/* ---- the leader checks that it still reaches a majority of managers ----
 * etcd keeps renewing leases at a Raft leader cut off from its peers until it notices
 * (about two election timeouts), while the majority may already have revoked the lease and
 * elected another leader. A leader that cannot reach a majority of the managers therefore
 * stops acting as leader at once; its writes were fenced anyway. node_reach_isolated decides
 * (pure); the probe timer reads the clock and sends the pings. */

void node_reach_heard(json_t *reach, const char *id, uint64_t now)
{
    json_object_set_new(reach, id, json_integer((json_int_t)now));
}

bool node_reach_isolated(json_t *reach, const char *self, const char *const *ids, size_t n,
                         uint64_t now, int *reachable)
{
    int managers = 0, ok = 0;
    for (size_t i = 0; i < n; i++) {
        managers++;
        if (!strcmp(ids[i], self)) {
            ok++;
            continue;
        }
        json_t *seen = json_object_get(reach, ids[i]);
        if (!seen) /* first sight: give it a window */
            node_reach_heard(reach, ids[i], now);
        uint64_t at = seen ? (uint64_t)json_integer_value(seen) : now;
        if (now - at <= NODE_REACH_WINDOW_MS)
            ok++;
    }
    if (reachable)
        *reachable = ok;
    return managers > 1 && ok * 2 <= managers;
}

/* One ping in flight; linked in n->reach_calls so closing the client (which drops calls
 * without callbacks) frees them too. */
struct reach_call {
    struct node *n;
    char id[ID_LEN + 1];
    struct reach_call *next;
};

static void reach_unlink(struct reach_call *c)
{
    for (struct reach_call **pp = &c->n->reach_calls; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    free(c);
}

static void reach_free_all(struct node *n)
{
    while (n->reach_calls)
        reach_unlink(n->reach_calls);
}

static void reach_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct reach_call *c = data;
    if (rc == 0 && c->n->reach)
        node_reach_heard(c->n->reach, c->id, uv_now(c->n->loop));
    reach_unlink(c);
}

/* The store's managers with an address: IDs and addresses borrowed from the store. */
struct managers_in {
    const char **ids, **addrs;
    size_t n, cap;
};

static int add_manager(json_t *obj, void *data)
{
    struct managers_in *in = data;
    const char *addr = store_json_str(obj, "ManagerStatus.Addr");
    if (!addr || strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager"))
        return 0;
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 8;
        in->ids = xrealloc(in->ids, in->cap * sizeof(*in->ids));
        in->addrs = xrealloc(in->addrs, in->cap * sizeof(*in->addrs));
    }
    in->ids[in->n] = store_json_str(obj, "ID");
    in->addrs[in->n++] = addr;
    return 0;
}

static void reach_ping(struct node *n, const char *id, const char *addr)
{
    struct reach_call *c = xcalloc(1, sizeof(*c));
    c->n = n;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->next = n->reach_calls;
    n->reach_calls = c;
    char *url = xasprintf("https://%s/swarm-rpc/ping", addr);
    httpc_post(n->peer_client, url, "{}", 2, PROBE_TIMEOUT_MS, NULL, reach_done, c);
    free(url);
}

static void leader_check_reach(struct node *n)
{
    if (!n->reach)
        n->reach = json_object();
    struct managers_in in = {0};
    store_foreach(n->store, STORE_NODE, add_manager, &in);
    int reachable = 0;
    bool isolated = node_reach_isolated(n->reach, n->id, in.ids, in.n, uv_now(n->loop), &reachable);
    for (size_t i = 0; i < in.n; i++)
        if (strcmp(in.ids[i], n->id))
            reach_ping(n, in.ids[i], in.addrs[i]);
    if (isolated && !n->leader_isolated) {
        log_warn("this leader reaches %d of %zu managers: not acting as leader", reachable, in.n);
        n->leader_isolated = true;
        node_dispatch_stop(n);
    } else if (!isolated && n->leader_isolated) {
        log_info("this leader reaches a majority of managers again");
        n->leader_isolated = false;
        node_dispatch_start(n);
    }
    free(in.ids);
    free(in.addrs);
}

static const char *leader_addr(struct node *n)
{
    json_t *obj = n->leader_id[0] ? store_get(n->store, STORE_NODE, n->leader_id) : NULL;
    return obj ? store_json_str(obj, "ManagerStatus.Addr") : NULL;
}

const char *node_leader_addr(struct node *n)
{
    return leader_addr(n);
}

static void probe_schedule(struct node *n);

/* ---- the follower's silence window (pure) ---- */

void node_silence_reset(struct node_silence *s, int64_t rev, uint64_t now)
{
    *s = (struct node_silence){.rev = rev, .since = now};
}

void node_silence_probe(struct node_silence *s, enum node_probe p, uint64_t now,
                        bool etcd_has_leader)
{
    if (!etcd_has_leader) {
        if (!s->no_etcd_leader_since)
            s->no_etcd_leader_since = now;
    } else if (s->no_etcd_leader_since) {
        /* back with the majority: after a long spell without (an isolation, not an etcd
         * election), the leader's silence seen from there proves nothing */
        if (now - s->no_etcd_leader_since >= NODE_ISOLATION_MS) {
            s->since = now;
            s->silent = 0;
        }
        s->no_etcd_leader_since = 0;
    }
    if (p == NODE_PROBE_SILENT) {
        s->silent++;
        return;
    }
    s->silent = 0;
    s->since = now;
}

bool node_silence_may_revoke(const struct node_silence *s, uint64_t now, bool etcd_has_leader)
{
    return s->rev > 0 && etcd_has_leader && s->silent >= NODE_SILENT_PROBES &&
           now >= s->since + NODE_SILENCE_WINDOW_MS;
}

int node_leader_ping(struct node *n, json_t **reply)
{
    if (node_is_leader(n) && state_election_is_leader(n->election)) {
        *reply = json_object();
        return 200;
    }
    *reply = json_pack("{s:s, s:b}", "message", "this manager is not the leader", "EtcdHasLeader",
                       state_has_leader(n->st));
    return 503;
}

static enum node_probe probe_outcome(int rc, long status, struct buf *body)
{
    if (rc == 0 && status == 200)
        return NODE_PROBE_LEADS;
    if (rc < 0 || status != 503)
        return NODE_PROBE_SILENT;
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL);
    bool electing = json_is_false(json_object_get(j, "EtcdHasLeader"));
    json_decref(j);
    return electing ? NODE_PROBE_ELECTING : NODE_PROBE_SILENT;
}

static void revoked(void *data, int rc, struct err *e)
{
    struct node *n = data;
    n->revoking = false;
    if (rc < 0)
        log_warn("could not revoke the silent leader's lease: %s", e->msg);
}

static void probe_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct node *n = data;
    n->probe_call = NULL;
    uint64_t now = uv_now(n->loop);
    enum node_probe p = probe_outcome(rc, status, body);
    bool etcd_leader = state_has_leader(n->st);
    node_silence_probe(&n->silence, p, now, etcd_leader);
    /* state_has_leader() kept fresh while deciding (not forever in a minority) */
    if (p == NODE_PROBE_SILENT && n->silence.silent <= PROBE_SUSPECT_PROBES)
        state_watch_leader(n->st, PROBE_SUSPECT_WATCH_MS);
    /* retried while the leader stays silent: etcd may be electing its own leader */
    if (p == NODE_PROBE_SILENT && !n->revoking &&
        node_silence_may_revoke(&n->silence, now, etcd_leader)) {
        log_warn("leader %s has not answered for %llu ms (%s); revoking its lease", n->leader_id,
                 (unsigned long long)(now - n->silence.since),
                 rc < 0 ? e->msg : "it does not lead");
        n->revoking = true;
        state_lease_revoke_holder(n->st, NODE_LEADER_KEY, n->silence.rev, revoked, n);
    }
    probe_schedule(n);
}

static void probe_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    const char *addr = leader_addr(n);
    if (n->is_leader && n->peer_client)
        leader_check_reach(n);
    if (n->is_leader || !addr || !n->peer_client) {
        probe_schedule(n);
        return;
    }
    char *url = xasprintf("https://%s/swarm-rpc/ping", addr);
    n->probe_call = httpc_post(n->peer_client, url, "{}", 2, PROBE_TIMEOUT_MS, NULL, probe_done, n);
    free(url);
}

static void probe_schedule(struct node *n)
{
    if (n->probe_timer)
        uv_timer_start(n->probe_timer, probe_tick, NODE_PROBE_MS, 0);
}

static int other_managers(json_t *obj, void *data)
{
    struct node *n = ((void **)data)[0];
    if (strcmp(store_json_str(obj, "ID"), n->id) &&
        !strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager"))
        (*(int *)((void **)data)[1])++;
    return 0;
}

static void on_leader_change(void *data, bool leader, int64_t rev, const char *value)
{
    struct node *n = data;
    bool was = n->is_leader;
    n->is_leader = leader;
    n->leader_rev = rev;
    snprintf(n->leader_id, sizeof(n->leader_id), "%s", value ? value : "");
    /* a probe in flight asked the previous leader: its answer says nothing of this one */
    if (n->probe_call) {
        httpc_cancel(n->probe_call);
        n->probe_call = NULL;
        probe_schedule(n);
    }
    node_silence_reset(&n->silence, leader ? 0 : rev, uv_now(n->loop));
    node_logs_leader_changed(n);
    n->leader_isolated = false;
    json_decref(n->reach);
    n->reach = NULL;
    if (leader && !was) {
        log_info("this manager is now the leader");
        node_agent_stop(n);
        node_dispatch_start(n);
    } else if (!leader && was) {
        log_warn("this manager is no longer the leader");
        node_dispatch_stop(n);
    }
    if (!leader) {
        int others = 0;
        void *ctx[2] = {n, &others};
        store_foreach(n->store, STORE_NODE, other_managers, ctx);
        if (others || n->leader_id[0])
            node_agent_start(n);
    }
}

static void peer_client_new(struct node *n)
{
    n->peer_client = node_peer_client(n);
}

void node_leader_reload_tls(struct node *n)
{
    if (!n->peer_client)
        return;
    httpc_close(n->peer_client, NULL, NULL);
    reach_free_all(n);
    n->probe_call = NULL;
    peer_client_new(n);
}

void node_leader_start(struct node *n)
{
    if (n->election)
        return;
    peer_client_new(n);
    n->probe_timer = xmalloc(sizeof(*n->probe_timer));
    uv_timer_init(n->loop, n->probe_timer);
    n->probe_timer->data = n;
    probe_schedule(n);
    /* TTL 4 s (step-down after 2 s without a keepalive) rides out a busy loop or a busy
     * etcd without a step-down: a join storm signing certificates, a burst of hundreds of
     * tasks, megabyte values (etcd answers a keepalive only once it has applied what was
     * committed before it: measured here up to ~0.9 s late on 2 loaded cores, where TTL 2
     * stepped down). Failover does not wait for it: followers revoke a silent leader's lease. */
    n->election = state_campaign(n->st, NODE_LEADER_KEY, n->id, 4, on_leader_change, n);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void node_leader_stop(struct node *n)
{
    if (!n->election)
        return;
    state_resign(n->election);
    n->election = NULL;
    if (n->is_leader)
        node_dispatch_stop(n);
    n->is_leader = false;
    n->leader_isolated = false;
    json_decref(n->reach);
    n->reach = NULL;
    n->leader_id[0] = 0;
    n->leader_rev = 0;
    node_logs_leader_changed(n);
    uv_timer_stop(n->probe_timer);
    uv_close((uv_handle_t *)n->probe_timer, timer_closed);
    n->probe_timer = NULL;
    n->probe_call = NULL;
    httpc_close(n->peer_client, NULL, NULL);
    reach_free_all(n);
    n->peer_client = NULL;
}

json_t *node_decorate(struct node *n, json_t *obj)
{
    if (!store_json_path(obj, "ManagerStatus"))
        return json_incref(obj);
    json_t *out = json_deep_copy(obj);
    json_t *ms = json_object_get(out, "ManagerStatus");
    const char *id = store_json_str(obj, "ID");
    bool self = !strcmp(id, n->id);
    bool up =
        self ? state_available(n->st) : !strcmp(store_json_str(obj, "Status.State") ?: "", "ready");
    bool leader = n->leader_id[0] && !strcmp(id, n->leader_id) && !(self && n->leader_isolated);
    if (leader)
        json_object_set_new(ms, "Leader", json_true());
    else
        json_object_del(ms, "Leader");
    json_object_set_new(ms, "Reachability",
                        json_string(up || leader ? "reachable" : "unreachable"));
    return out;
}
