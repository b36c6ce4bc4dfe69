/* state_elect.c — leases and leader election on etcd: state_campaign() (grant a lease, keep
 * it alive, create the election key bound to it iff absent, watch it), state_resign(),
 * state_lease_revoke_holder().
 *
 * One election runs this cycle:
 *   no lease  → grant (retried with backoff) → need_sync
 *   need_sync → the acquire transaction: create key=value with our lease iff the key does
 *               not exist, else read it. Either answer says who holds the key at revision
 *               R; then watch the key from R+1. Any doubt (watch failed, key deleted, step
 *               down) sets need_sync again: the transaction is idempotent.
 *   keepalive every TTL/8 (counted from the last successful one) while a lease exists, one
 *   at a time, each given until TTL/2 to answer (a slow answer is still a renewal: etcd
 *   answers a keepalive only once it has applied what was committed before it, which under
 *   a burst of big transactions takes a while); an answer with TTL 0 means the lease is
 *   gone (expired or revoked): step down, grant anew.
 * Invariants:
 *  - leader is true only while the lease is fresh: the last successful keepalive (or the
 *    grant) was SENT less than TTL/2 ago. etcd set the lease's expiry to at least that
 *    send time + TTL, and a Raft leader change only extends leases, so a leader steps down
 *    (dl_timer) at least TTL/2 before anyone else could take the key. We campaign only
 *    with a lease renewed less than TTL/4 ago (renewing first if need be: after an etcd
 *    election the last renewal may be nearly TTL/2 old, and a leader elected on it would
 *    step down at once and take the lead back, two leader changes), and a sync answer that
 *    arrives stale does not make us leader.
 *  - One call of each kind at most (grant, keepalive, sync, watch); watch_gen changes
 *    whenever the watch is dropped, so a parse loop notices.
 *  - on_change runs only through report(), which dedupes, and never after state_resign();
 *    after every report() the code checks el->resigned before going on (the callback may
 *    resign el or stop the whole state). el is freed only from its timers' close
 *    callbacks, never inside its own call stack.
 * Thread: the loop thread only. */
#include "state/state_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ELECT_RETRY_MIN_MS 100
#define ELECT_RETRY_MAX_MS 1000
#define ELECT_CALL_TIMEOUT_MS 5000
#define ELECT_REVOKE_TIMEOUT_MS 2000
#define REVOKE_CALL_TIMEOUT_MS 1000
#define REVOKE_RETRY_MS 100
#define REVOKE_DEADLINE_MS 600 /* callers that still see a dead holder ask again */

struct state_election {
    struct state *st;
    char *key, *value;
    char *key64; /* base64 of key */
    int ttl_s;   /* as asked */
    state_elected_cb on_change;
    void *data;

    int64_t lease;      /* 0: none */
    int64_t ttl_ms;     /* as granted */
    uint64_t lease_ok;  /* loop ms when the last successful grant/keepalive was sent */
    uint64_t lease_ohr; /* the same in uv_hrtime() ns */
    struct httpc_call *grant_call, *ka_call, *sync_call, *watch_call, *revoke_call;
    uint64_t grant_sent, ka_sent; /* loop ms */
    uint64_t grant_shr, ka_shr;   /* uv_hrtime() ns */
    uv_timer_t ka_timer, dl_timer, retry_timer;
    /* dl_timer found the lease stale with a keepalive in flight: the decision waits for the
     * check phase after one zero-timeout poll (the idle handle makes the poll not block), so
     * an answer that arrived while the loop was held is read first (timers run before I/O) */
    uv_check_t dl_check;
    uv_idle_t dl_idle;
    bool dl_deferred;
    int64_t retry_ms;
    bool need_sync;
    bool campaign_ka; /* a keepalive was sent out of turn to campaign on (see el_kick) */
    int64_t watch_from;
    uint64_t watch_gen;
    struct state_json_scan watch_scan; /* how far the watch stream's next message is read */

    bool leader;
    int64_t leader_rev;

    bool reported, rep_leader; /* what on_change last said */
    int64_t rep_rev;
    char *rep_value;

    bool resigned;
    int open_handles;
    struct state_election *prev, *next;
};

static void el_kick(struct state_election *el);
static void dl_undefer(struct state_election *el);

/* ---- helpers ---- */

static uint64_t ka_interval(const struct state_election *el)
{
    uint64_t ms = (uint64_t)el->ttl_ms / 8;
    return ms < 100 ? 100 : ms;
}

static bool lease_fresh(const struct state_election *el)
{
    return el->lease && uv_now(el->st->loop) < el->lease_ok + (uint64_t)el->ttl_ms / 2;
}

/* Renewed less than TTL/4 ago: what a campaign needs, so that a new leader starts with at
 * least TTL/4 before its step-down deadline even when the lease was last renewed before an
 * etcd election stalled the keepalives. */
static bool lease_recent(const struct state_election *el)
{
    return el->lease && uv_now(el->st->loop) < el->lease_ok + (uint64_t)el->ttl_ms / 4;
}

static bool gone(const struct state_election *el)
{
    return el->resigned || el->st->stopping;
}

/* Tells the user what changed, if anything. The caller checks el->resigned afterwards. */
static void report(struct state_election *el, bool leader, int64_t rev, const char *value)
{
    if (el->resigned)
        return;
    if (el->reported && el->rep_leader == leader && el->rep_rev == rev &&
        !strcmp(el->rep_value, value))
        return;
    el->reported = true;
    el->rep_leader = leader;
    el->rep_rev = rev;
    free(el->rep_value);
    el->rep_value = xstrdup(value);
    el->on_change(el->data, leader, rev, value);
}

static void on_retry_timer(uv_timer_t *t)
{
    el_kick(t->data);
}

static void retry_later(struct state_election *el)
{
    if (gone(el))
        return;
    if (el->retry_ms < ELECT_RETRY_MIN_MS)
        el->retry_ms = ELECT_RETRY_MIN_MS;
    uv_timer_start(&el->retry_timer, on_retry_timer, (uint64_t)el->retry_ms, 0);
    el->retry_ms = el->retry_ms * 2 > ELECT_RETRY_MAX_MS ? ELECT_RETRY_MAX_MS : el->retry_ms * 2;
}

static void watch_drop(struct state_election *el)
{
    el->watch_gen++;
    el->watch_scan = (struct state_json_scan){0};
    httpc_cancel(el->watch_call);
    el->watch_call = NULL;
}

static void step_down(struct state_election *el, const char *why)
{
    el->need_sync = true;
    if (!el->leader)
        return;
    el->leader = false;
    el->leader_rev = 0;
    uv_timer_stop(&el->dl_timer);
    dl_undefer(el);
    log_warn("state: no longer leader of %s: %s", el->key, why);
    report(el, false, 0, "");
}

static void on_dl_timer(uv_timer_t *t);

/* Re-arms the step-down deadline from the freshest lease renewal. */
static void arm_deadline(struct state_election *el)
{
    uint64_t now = uv_now(el->st->loop);
    uint64_t at = el->lease_ok + (uint64_t)el->ttl_ms / 2;
    uv_timer_start(&el->dl_timer, on_dl_timer, at > now ? at - now : 0, 0);
}

static void dl_decide(struct state_election *el)
{
    if (!el->leader || gone(el))
        return;
    if (lease_fresh(el)) {
        arm_deadline(el);
        return;
    }
    step_down(el, "no lease keepalive succeeded for TTL/2");
    if (!el->resigned)
        el_kick(el);
}

static void dl_undefer(struct state_election *el)
{
    if (!el->dl_deferred)
        return;
    el->dl_deferred = false;
    uv_check_stop(&el->dl_check);
    uv_idle_stop(&el->dl_idle);
}

static void on_dl_check(uv_check_t *h)
{
    struct state_election *el = h->data;
    dl_undefer(el);
    dl_decide(el);
}

static void on_dl_idle(uv_idle_t *h)
{
    (void)h;
}

static void on_dl_timer(uv_timer_t *t)
{
    struct state_election *el = t->data;
    if (!el->leader || gone(el))
        return;
    if (!lease_fresh(el) && el->ka_call && !el->dl_deferred) {
        el->dl_deferred = true;
        uv_idle_start(&el->dl_idle, on_dl_idle);
        uv_check_start(&el->dl_check, on_dl_check);
        return;
    }
    dl_decide(el);
}

/* The lease is gone on the server (or must be treated so): start over with a new one. */
static void lease_lost(struct state_election *el, const char *why)
{
    log_info("state: lease %" PRIx64 " for %s is gone: %s", (uint64_t)el->lease, el->key, why);
    el->lease = 0;
    el->campaign_ka = false;
    uv_timer_stop(&el->ka_timer);
    httpc_cancel(el->ka_call);
    el->ka_call = NULL;
    httpc_cancel(el->sync_call);
    el->sync_call = NULL;
    step_down(el, why);
    if (!el->resigned)
        el_kick(el);
}

/* Parses a 200 answer or turns the failure into e; returns the JSON or NULL. */
static json_t *answer(int rc, long status, struct buf *body, struct err *ce, struct err *e)
{
    if (rc < 0) {
        *e = *ce;
        return NULL;
    }
    if (status != 200) {
        state_gateway_error(status, body, e);
        return NULL;
    }
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(e, ERR_INTERNAL, "etcd answered bad JSON");
        return NULL;
    }
    return j;
}

/* ---- keepalive ---- */

static void on_ka_timer(uv_timer_t *t);

static void on_ka_done(void *data, int rc, long status, struct buf *body, struct err *ce)
{
    struct state_election *el = data;
    struct err e = {0};
    el->ka_call = NULL;
    uint64_t took = uv_now(el->st->loop) - el->ka_sent;
    if (took >= (uint64_t)el->ttl_ms / 4)
        log_info("state: a lease keepalive for %s took %" PRIu64 " ms (step-down after %" PRId64
                 " ms without one)",
                 el->key, took, el->ttl_ms / 2);
    json_t *j = answer(rc, status, body, ce, &e);
    if (!j) {
        /* The deadline decides; the next tick tries again. */
        log_debug("state: keepalive for %s failed: %s", el->key, e.msg);
        return;
    }
    json_t *res = json_object_get(j, "result");
    int64_t ttl = state_json_int64(json_object_get(res, "TTL"));
    bool answered = json_is_object(res);
    json_decref(j);
    if (!answered) {
        /* An error in the stream ({"error": ...}): etcd could not tell. */
        log_debug("state: keepalive for %s: no result", el->key);
        return;
    }
    if (ttl <= 0) {
        lease_lost(el, "keepalive found no lease");
        return;
    }
    if (el->ka_sent > el->lease_ok) {
        el->lease_ok = el->ka_sent;
        el->lease_ohr = el->ka_shr;
    }
    el->ttl_ms = ttl * 1000;
    /* The next one period after this one was sent (not after the last tick): a renewal that
     * was late, or sent out of turn before a campaign, moves the schedule with it. */
    uint64_t now = uv_now(el->st->loop), next = el->lease_ok + ka_interval(el);
    uv_timer_start(&el->ka_timer, on_ka_timer, next > now ? next - now : 0, ka_interval(el));
    if (el->leader)
        arm_deadline(el);
    else if (el->need_sync)
        el_kick(el);
}

/* Sends a keepalive unless one is still on its way (it has until TTL/2, its call's timeout:
 * cancelling it sooner would throw away an answer that may be waiting in the socket while
 * the loop was held); true if it sent one. */
static bool ka_send(struct state_election *el)
{
    if (!el->lease || gone(el))
        return false;
    uint64_t now = uv_now(el->st->loop);
    if (el->ka_call) {
        if (now - el->ka_sent < (uint64_t)el->ttl_ms / 2)
            return false;
        /* Stuck (a frozen etcd, a dead connection): try afresh. */
        httpc_cancel(el->ka_call);
        el->ka_call = NULL;
    }
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, el->lease);
    json_t *req = json_pack("{s:s}", "ID", id);
    el->ka_sent = now;
    el->ka_shr = uv_hrtime();
    el->ka_call = state_post_ctl_json(el->st, "/v3/lease/keepalive", req, (long)el->ttl_ms / 2,
                                      NULL, on_ka_done, el);
    json_decref(req);
    return true;
}

static void on_ka_timer(uv_timer_t *t)
{
    ka_send(t->data);
}

/* ---- grant ---- */

static void on_grant_done(void *data, int rc, long status, struct buf *body, struct err *ce)
{
    struct state_election *el = data;
    struct err e = {0};
    el->grant_call = NULL;
    json_t *j = answer(rc, status, body, ce, &e);
    int64_t id = j ? state_json_int64(json_object_get(j, "ID")) : 0;
    int64_t ttl = j ? state_json_int64(json_object_get(j, "TTL")) : 0;
    json_decref(j);
    if (!id || ttl <= 0) {
        log_debug("state: lease grant for %s failed: %s", el->key,
                  j ? "no lease in answer" : e.msg);
        retry_later(el);
        return;
    }
    el->retry_ms = 0;
    el->lease = id;
    el->ttl_ms = ttl * 1000;
    el->lease_ok = el->grant_sent;
    el->lease_ohr = el->grant_shr;
    el->need_sync = true;
    uv_timer_start(&el->ka_timer, on_ka_timer, ka_interval(el), ka_interval(el));
    log_debug("state: lease %" PRIx64 " (TTL %" PRId64 " s) for %s", (uint64_t)id, ttl, el->key);
    el_kick(el);
}

static void grant(struct state_election *el)
{
    json_t *req = json_pack("{s:I}", "TTL", (json_int_t)el->ttl_s);
    el->grant_sent = uv_now(el->st->loop);
    el->grant_shr = uv_hrtime();
    el->grant_call = state_post_ctl_json(el->st, "/v3/lease/grant", req, ELECT_CALL_TIMEOUT_MS,
                                         NULL, on_grant_done, el);
    json_decref(req);
}

/* ---- acquire / read (sync) ---- */

static void on_sync_done(void *data, int rc, long status, struct buf *body, struct err *ce)
{
    struct state_election *el = data;
    struct err e = {0};
    el->sync_call = NULL;
    json_t *j = answer(rc, status, body, ce, &e);
    if (!j) {
        if (strstr(e.msg, "lease not found")) {
            lease_lost(el, "etcd refused the lease");
            return;
        }
        log_debug("state: campaign on %s failed: %s", el->key, e.msg);
        retry_later(el);
        return;
    }
    int64_t rev = state_header_revision(j);
    bool won = json_is_true(json_object_get(j, "succeeded"));
    json_t *resp =
        json_object_get(json_array_get(json_object_get(j, "responses"), 0), "response_range");
    json_t *kv = json_array_get(json_object_get(resp, "kvs"), 0);
    int64_t holder_rev = won ? rev : state_json_int64(json_object_get(kv, "create_revision"));
    int64_t holder_lease = won ? el->lease : state_json_int64(json_object_get(kv, "lease"));
    struct buf val = BUF_INIT;
    if (!won && (!kv || state_field_b64(kv, "value", &val, &e) < 0)) {
        /* Cannot happen (the compare failed, so the key exists); re-read. */
        json_decref(j);
        buf_release(&val);
        retry_later(el);
        return;
    }
    json_decref(j);
    el->retry_ms = 0;
    el->need_sync = false;
    watch_drop(el);
    el->watch_from = rev + 1;
    if (holder_lease == el->lease) {
        if (!lease_fresh(el)) {
            /* Ours, but we cannot vouch for the lease now: the next keepalive decides. */
            buf_release(&val);
            el->need_sync = true;
            el_kick(el);
            return;
        }
        if (!el->leader || el->leader_rev != holder_rev)
            log_info("state: leader of %s at revision %" PRId64, el->key, holder_rev);
        el->leader = true;
        el->leader_rev = holder_rev;
        arm_deadline(el);
        buf_release(&val);
        report(el, true, holder_rev, el->value);
    } else {
        step_down(el, "another campaigner holds the key");
        if (!el->resigned)
            report(el, false, holder_rev, val.p ? val.p : "");
        buf_release(&val);
        el->need_sync = false;
    }
    if (!el->resigned)
        el_kick(el);
}

static void sync_send(struct state_election *el)
{
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, el->lease);
    char *v = b64_encode(el->value, strlen(el->value), true);
    json_t *req = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:{s:s, s:s, s:s}}], s:[{s:{s:s}}]}",
                            "compare", "target", "CREATE", "key", el->key64, "result", "EQUAL",
                            "create_revision", "0", "success", "request_put", "key", el->key64,
                            "value", v, "lease", id, "failure", "request_range", "key", el->key64);
    free(v);
    el->sync_call = state_post_ctl_json(el->st, "/v3/kv/txn", req, ELECT_CALL_TIMEOUT_MS, NULL,
                                        on_sync_done, el);
    json_decref(req);
}

/* ---- watch ---- */

/* Handles one watch message; returns false if the watch is no longer ours to read. */
static bool watch_message(struct state_election *el, json_t *msg, uint64_t gen)
{
    json_t *res = json_object_get(msg, "result");
    if (!json_is_object(res) || json_is_true(json_object_get(res, "canceled"))) {
        log_debug("state: watch on %s ended by etcd; re-reading", el->key);
        watch_drop(el);
        el->need_sync = true;
        retry_later(el);
        return false;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(res, "events"), i, ev)
    {
        json_t *kv = json_object_get(ev, "kv");
        const char *type = json_string_value(json_object_get(ev, "type"));
        int64_t mod = state_json_int64(json_object_get(kv, "mod_revision"));
        if (mod >= el->watch_from)
            el->watch_from = mod + 1;
        if (type && !strcmp(type, "DELETE")) {
            /* Nobody holds it now: say so, then campaign (sync). */
            watch_drop(el);
            if (el->leader)
                step_down(el, "the election key was deleted");
            else
                el->need_sync = true;
            if (!el->resigned)
                report(el, false, 0, "");
            if (!el->resigned)
                el_kick(el);
            return false;
        }
        int64_t lease = state_json_int64(json_object_get(kv, "lease"));
        if (lease == el->lease)
            continue; /* our own key: the sync answer said so already */
        struct buf val = BUF_INIT;
        struct err e = {0};
        if (state_field_b64(kv, "value", &val, &e) < 0) {
            buf_release(&val);
            continue;
        }
        int64_t create = state_json_int64(json_object_get(kv, "create_revision"));
        if (el->leader)
            step_down(el, "another campaigner holds the key");
        el->need_sync = false;
        if (!el->resigned)
            report(el, false, create, val.p ? val.p : "");
        buf_release(&val);
        if (el->resigned || el->watch_gen != gen)
            return false;
    }
    return true;
}

static void on_watch_data(void *data, struct buf *body)
{
    struct state_election *el = data;
    uint64_t gen = el->watch_gen;
    for (;;) {
        long span = state_json_span_resume(&el->watch_scan, body->p, body->len);
        if (span == 0)
            return;
        json_t *msg = span > 0 ? json_loadb(body->p, (size_t)span, 0, NULL) : NULL;
        if (span > 0)
            buf_consume(body, (size_t)span);
        if (!msg) {
            log_warn("state: bad watch stream on %s; re-reading", el->key);
            watch_drop(el);
            el->need_sync = true;
            retry_later(el);
            return;
        }
        bool go_on = watch_message(el, msg, gen);
        json_decref(msg);
        if (!go_on || el->watch_gen != gen || el->resigned)
            return;
    }
}

static void on_watch_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state_election *el = data;
    el->watch_call = NULL;
    el->watch_gen++;
    el->need_sync = true;
    retry_later(el);
}

static void watch_open(struct state_election *el)
{
    char rev[32];
    snprintf(rev, sizeof(rev), "%" PRId64, el->watch_from);
    json_t *req =
        json_pack("{s:{s:s, s:s}}", "create_request", "key", el->key64, "start_revision", rev);
    el->watch_gen++;
    el->watch_scan = (struct state_json_scan){0};
    el->watch_call =
        state_post_ctl_json(el->st, "/v3/watch", req, 0, on_watch_data, on_watch_done, el);
    json_decref(req);
}

/* Takes the next step of the cycle, if one is due and none is under way. */
static void el_kick(struct state_election *el)
{
    if (gone(el) || uv_is_active((uv_handle_t *)&el->retry_timer))
        return;
    if (!el->lease) {
        if (!el->grant_call)
            grant(el);
        return;
    }
    if (el->need_sync) {
        /* Campaign only on a lease renewed just now; else renew first (its answer kicks).
         * If even a renewal sent for the campaign comes back late (a slow etcd), a fresh
         * lease has to do. */
        if (el->sync_call)
            return;
        if (lease_recent(el) || (el->campaign_ka && !el->ka_call && lease_fresh(el))) {
            el->campaign_ka = false;
            sync_send(el);
        } else if (ka_send(el)) {
            el->campaign_ka = true;
        }
        return;
    }
    if (!el->watch_call)
        watch_open(el);
}

/* ---- public ---- */

struct state_election *state_campaign(struct state *st, const char *key, const char *value,
                                      int ttl_s, state_elected_cb on_change, void *data)
{
    BUG_ON(st->stopping || ttl_s <= 0);
    struct state_election *el = xcalloc(1, sizeof(*el));
    el->st = st;
    el->key = xstrdup(key);
    el->key64 = b64_encode(key, strlen(key), true);
    el->value = xstrdup(value);
    el->ttl_s = ttl_s;
    el->ttl_ms = (int64_t)ttl_s * 1000;
    el->on_change = on_change;
    el->data = data;
    el->rep_value = xstrdup("");
    uv_timer_t *timers[] = {&el->ka_timer, &el->dl_timer, &el->retry_timer};
    for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
        uv_timer_init(st->loop, timers[i]);
        timers[i]->data = el;
    }
    uv_check_init(st->loop, &el->dl_check);
    el->dl_check.data = el;
    uv_idle_init(st->loop, &el->dl_idle);
    el->dl_idle.data = el;
    el->next = st->elections;
    if (st->elections)
        st->elections->prev = el;
    st->elections = el;
    /* Starts from the loop, so on_change never runs inside this call (and before
     * state_start it simply waits for etcd). */
    if (st->available)
        uv_timer_start(&el->retry_timer, on_retry_timer, 0, 0);
    return el;
}

bool state_election_is_leader(const struct state_election *el)
{
    if (!el || !el->leader || gone(el))
        return false;
    return uv_hrtime() - el->lease_ohr < (uint64_t)el->ttl_ms / 2 * 1000000;
}

bool state_election_keepalive_pending(const struct state_election *el)
{
    return el && el->ka_call;
}

static void el_closed(uv_handle_t *h)
{
    struct state_election *el = h->data;
    if (--el->open_handles > 0)
        return;
    struct state *st = el->st;
    if (el->prev)
        el->prev->next = el->next;
    else
        st->elections = el->next;
    if (el->next)
        el->next->prev = el->prev;
    free(el->key);
    free(el->key64);
    free(el->value);
    free(el->rep_value);
    free(el);
    state_client_maybe_finish(st);
}

static void el_close(struct state_election *el)
{
    uv_timer_t *timers[] = {&el->ka_timer, &el->dl_timer, &el->retry_timer};
    for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
        el->open_handles++;
        uv_close((uv_handle_t *)timers[i], el_closed);
    }
    el->open_handles += 2;
    uv_close((uv_handle_t *)&el->dl_check, el_closed);
    uv_close((uv_handle_t *)&el->dl_idle, el_closed);
}

static void on_revoke_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state_election *el = data;
    el->revoke_call = NULL;
    if (rc < 0 || status != 200)
        log_warn("state: revoking the lease for %s failed (%s); it expires by its TTL", el->key,
                 rc < 0 ? e->msg : "etcd refused");
    el_close(el);
}

void state_resign(struct state_election *el)
{
    if (!el || el->resigned)
        return;
    el->resigned = true;
    struct httpc_call **calls[] = {&el->grant_call, &el->ka_call, &el->sync_call, &el->watch_call};
    for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
        httpc_cancel(*calls[i]);
        *calls[i] = NULL;
    }
    el->watch_gen++;
    uv_timer_stop(&el->ka_timer);
    uv_timer_stop(&el->dl_timer);
    uv_timer_stop(&el->retry_timer);
    dl_undefer(el);
    if (el->leader)
        log_info("state: resigning leadership of %s", el->key);
    el->leader = false;
    if (!el->lease || !el->st->run) {
        el_close(el);
        return;
    }
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, el->lease);
    json_t *req = json_pack("{s:s}", "ID", id);
    el->revoke_call = state_post_ctl_json(el->st, "/v3/lease/revoke", req, ELECT_REVOKE_TIMEOUT_MS,
                                          NULL, on_revoke_done, el);
    json_decref(req);
}

/* ---- hooks from the client layer ---- */

void state_elect_etcd_down(struct state *st)
{
    for (struct state_election *el = st->elections, *next; el; el = next) {
        next = el->next;
        if (el->resigned)
            continue;
        httpc_cancel(el->sync_call);
        el->sync_call = NULL;
        watch_drop(el);
        step_down(el, "the local etcd exited");
    }
}

void state_elect_etcd_up(struct state *st)
{
    for (struct state_election *el = st->elections; el; el = el->next) {
        if (el->resigned)
            continue;
        uv_timer_stop(&el->retry_timer);
        el->retry_ms = 0;
        if (el->lease && !lease_fresh(el))
            ka_send(el);
        el_kick(el);
    }
}

bool state_elect_stop(struct state *st)
{
    for (struct state_election *el = st->elections; el; el = el->next)
        state_resign(el);
    return st->elections != NULL;
}

bool state_elect_busy(const struct state *st)
{
    return st->elections != NULL;
}

/* ---- revoke the holder's lease ---- */

struct revoke_req {
    struct state_req r; /* first */
    char *key64;
    int64_t holder_rev;
    int64_t lease;
    state_done_cb cb;
    void *data;
};

static void revoke_range(struct state_req *r);
static void revoke_send(struct state_req *r);

static void revoke_fail_or_retry(struct state_req *r, struct err *e, state_req_fn again)
{
    if (e->kind == ERR_UNAVAILABLE && uv_now(r->st->loop) + REVOKE_RETRY_MS < r->deadline) {
        state_req_later(r, REVOKE_RETRY_MS, again);
        return;
    }
    err_wrap(e, "revoking the election lease");
    state_req_finish(r, -e->kind, e);
}

static void on_revoked(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct err e = {0};
    json_t *j = answer(rc, status, body, ce, &e);
    if (!j && !strstr(e.msg, "lease not found")) {
        revoke_fail_or_retry(r, &e, revoke_send);
        return;
    }
    json_decref(j);
    state_req_finish(r, 0, NULL);
}

static void revoke_send(struct state_req *r)
{
    struct revoke_req *v = (struct revoke_req *)r;
    char id[32];
    snprintf(id, sizeof(id), "%" PRId64, v->lease);
    json_t *req = json_pack("{s:s}", "ID", id);
    state_req_post(r, "/v3/lease/revoke", req, REVOKE_CALL_TIMEOUT_MS, on_revoked);
    json_decref(req);
}

static void on_holder(struct state_req *r, int rc, long status, struct buf *body, struct err *ce)
{
    struct revoke_req *v = (struct revoke_req *)r;
    struct err e = {0};
    json_t *j = answer(rc, status, body, ce, &e);
    if (!j) {
        revoke_fail_or_retry(r, &e, revoke_range);
        return;
    }
    json_t *kv = json_array_get(json_object_get(j, "kvs"), 0);
    int64_t create = state_json_int64(json_object_get(kv, "create_revision"));
    v->lease = state_json_int64(json_object_get(kv, "lease"));
    json_decref(j);
    if (!kv || (v->holder_rev > 0 && create != v->holder_rev)) {
        state_req_finish(r, 0, NULL); /* that holder is gone already */
        return;
    }
    if (!v->lease) {
        err_set(&e, ERR_INVALID, "the key is not bound to a lease");
        state_req_finish(r, -ERR_INVALID, &e);
        return;
    }
    revoke_send(r);
}

static void revoke_range(struct state_req *r)
{
    struct revoke_req *v = (struct revoke_req *)r;
    /* Serializable: answered by the local member even while etcd elects. A stale answer can
     * only name an older holder, whose lease it is right to revoke anyway. */
    json_t *req = json_pack("{s:s, s:b}", "key", v->key64, "serializable", 1);
    state_req_post(r, "/v3/kv/range", req, REVOKE_CALL_TIMEOUT_MS, on_holder);
    json_decref(req);
}

static void revoke_complete(struct state_req *r)
{
    struct revoke_req *v = (struct revoke_req *)r;
    v->cb(v->data, r->rc, r->rc < 0 ? &r->e : NULL);
}

static void revoke_release(struct state_req *r)
{
    free(((struct revoke_req *)r)->key64);
}

void state_lease_revoke_holder(struct state *st, const char *key, int64_t holder_rev,
                               state_done_cb cb, void *data)
{
    struct revoke_req *v =
        (struct revoke_req *)state_req_new(st, sizeof(*v), revoke_complete, revoke_release);
    v->r.ctl = true;
    v->r.resend_on_new_leader = true; /* a range and a revoke: both idempotent */
    v->key64 = b64_encode(key, strlen(key), true);
    v->holder_rev = holder_rev;
    v->cb = cb;
    v->data = data;
    if (v->r.finished)
        return;
    v->r.deadline = uv_now(st->loop) + REVOKE_DEADLINE_MS;
    revoke_range(&v->r);
}
