/* state_client.c — the state module's public API: the etcd v3 client over the JSON
 * gateway (range, txn, watch) and the start/stop sequencing around the etcd child.
 *
 * Invariants:
 *  - Events reach on_event in revision order, each once: the initial listing is pinned to
 *    one revision R and sorted by mod_revision; the watch then starts at R+1 and every
 *    re-open (watch stream ended, etcd restarted) starts at last_rev+1, where last_rev is
 *    the newest revision already reported (or confirmed by a progress notification).
 *  - At most one listing or one watch call at a time; watch_gen changes whenever the
 *    watch is dropped, so a parse loop notices when a callback it ran stopped the watch.
 *  - Transaction callbacks never run inside state_txn(): early failures are queued and
 *    run from defer_timer. state_stop() fails in-flight ones the same way, waits for the
 *    queue to drain and etcd to exit, closes every handle, and only then calls its cb.
 *  - Stop order: fail transactions and requests, resign elections; once their lease
 *    revokes are answered (bounded by the revoke timeout) stop etcd; once etcd has exited
 *    and every request and election is gone, close the handles.
 * Thread: the loop thread only. */
#include "state/state_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_CALL_TIMEOUT_MS 15000
/* A write proposed to a member whose Raft leader just died is lost with that leader and etcd
 * answers only after its request timeout (~6 s). So a transaction still unanswered after
 * CLIENT_TXN_STUCK_MS makes the proc layer poll etcd's status every 50 ms; as soon as the
 * local member reports a leader of a newer term, the attempt is abandoned and the transaction
 * sent again (CLIENT_TXN_ATTEMPTS in all), with a failure branch that reads back the keys it
 * puts: if the first attempt made it after all (the dead leader had replicated it), the
 * resend's compare fails and the values read back are ours (sealed values are unique), which
 * is success. An attempt that sees no new leader gives up after CLIENT_TXN_TIMEOUT_MS: the
 * caller sees 503 (nothing was acknowledged). Healthy writes take milliseconds. */
#define CLIENT_TXN_TIMEOUT_MS 1500
#define CLIENT_TXN_STUCK_MS 100
#define CLIENT_TXN_POLL_MS 50
#define CLIENT_TXN_ATTEMPTS 3
#define CLIENT_LIST_PAGE 1000
#define CLIENT_RETRY_MIN_MS 100
#define CLIENT_RETRY_MAX_MS 5000

struct state_txn_req {
    struct state *st;
    state_txn_cb cb;
    void *data;
    struct httpc_call *call;
    int rc;
    int64_t revision;
    struct err e;
    struct state_txn_req *prev, *next;
    json_t *req;       /* {compare, success}, kept for a resend (NULL once done) */
    json_t *puts;      /* [[key64, value64], ...] of its PUT ops: recognised on a resend */
    bool has_delete;   /* a delete cannot be recognised afterwards */
    int attempts;      /* sent so far */
    uint64_t sent_at;  /* loop ms of the current attempt */
    int64_t sent_term; /* etcd's Raft term as known when it was sent */
};

struct state_kv {
    char *key;
    char *value;
    size_t value_len;
    int64_t mod_revision, create_revision;
};

struct state_list {
    int64_t rev;    /* pinned revision (0 until the first page answers) */
    bool relist;    /* after a compaction: report only what changed since last_rev */
    char *next_key; /* base64 of where the next page starts */
    struct state_kv *kvs;
    size_t n, cap;
};

static void sync_kick(struct state *st);
static void maybe_finish(struct state *st);
static void reqs_fail_all(struct state *st, const char *msg);
static void state_txn_done(void *data, int rc, long status, struct buf *body, struct err *e);

static void on_watch_timer(uv_timer_t *t)
{
    sync_kick(t->data);
}

/* Delay before retrying a failed listing or watch: 100 ms doubling to 5 s, back to the
 * minimum once a listing completes or the watch delivers. */
static uint64_t retry_delay(struct state *st)
{
    if (st->retry_ms < CLIENT_RETRY_MIN_MS)
        st->retry_ms = CLIENT_RETRY_MIN_MS;
    uint64_t d = (uint64_t)st->retry_ms;
    st->retry_ms = st->retry_ms * 2 > CLIENT_RETRY_MAX_MS ? CLIENT_RETRY_MAX_MS : st->retry_ms * 2;
    return d;
}

/* ---- small helpers ---- */

int64_t state_json_int64(json_t *v)
{
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    return 0;
}

int64_t state_header_revision(json_t *obj)
{
    return state_json_int64(json_object_get(json_object_get(obj, "header"), "revision"));
}

static char *b64_of(const void *p, size_t n)
{
    return b64_encode(p, n, true);
}

/* Decodes a base64 JSON string field into out (empty when absent: the gateway omits
 * zero values). */
int state_field_b64(json_t *obj, const char *name, struct buf *out, struct err *e)
{
    const char *s = json_string_value(json_object_get(obj, name));
    if (!s)
        return 0;
    return b64_decode(s, strlen(s), out, e);
}

/* Turns a non-200 gateway answer into an error: gRPC Unavailable/DeadlineExceeded/
 * Canceled mean etcd cannot serve now; anything else is internal. */
int state_gateway_error(long status, struct buf *body, struct err *e)
{
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(j, "message"));
    int code = (int)json_integer_value(json_object_get(j, "code"));
    /* "raft proposal dropped": the member had no leader to forward the write to */
    bool dropped = msg && strstr(msg, "proposal dropped");
    int kind = (code == 14 || code == 4 || code == 1 || status == 503 || dropped) ? ERR_UNAVAILABLE
                                                                                  : ERR_INTERNAL;
    int rc = err_set(e, kind, "etcd: %s (HTTP %ld)", msg ? msg : "unexpected answer", status);
    json_decref(j);
    return rc;
}

static char *url_for(struct state *st, const char *path)
{
    return xasprintf("%s%s", st->client_url, path);
}

static struct httpc_call *post_on(struct state *st, struct httpc *c, const char *path, json_t *body,
                                  long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                                  void *data)
{
    char *s = json_dumps(body, JSON_COMPACT);
    char *url = url_for(st, path);
    struct httpc_call *call = httpc_post(c, url, s, strlen(s), timeout_ms, data_cb, done, data);
    free(url);
    free(s);
    return call;
}

struct httpc_call *state_post_json(struct state *st, const char *path, json_t *body,
                                   long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                                   void *data)
{
    return post_on(st, st->curl, path, body, timeout_ms, data_cb, done, data);
}

struct httpc_call *state_post_ctl_json(struct state *st, const char *path, json_t *body,
                                       long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                                       void *data)
{
    return post_on(st, st->ctl_curl, path, body, timeout_ms, data_cb, done, data);
}

/* ---- deferred callbacks ---- */

static void txn_free(struct state_txn_req *r)
{
    json_decref(r->req);
    json_decref(r->puts);
    free(r);
}

static void on_defer_timer(uv_timer_t *t)
{
    struct state *st = t->data;
    while (st->deferred) {
        struct state_txn_req *r = st->deferred;
        st->deferred = r->next;
        if (!st->deferred)
            st->deferred_tail = NULL;
        r->cb(r->data, r->rc, r->revision, r->rc ? &r->e : NULL);
        txn_free(r);
    }
    if (st->ready_fail_pending && !st->stopping) {
        st->ready_fail_pending = false;
        st->ready(st->data, st->ready_err.kind ? -st->ready_err.kind : -ERR_UNAVAILABLE,
                  &st->ready_err);
    }
    maybe_finish(st);
}

static void defer_kick(struct state *st)
{
    uv_timer_start(&st->defer_timer, on_defer_timer, 0, 0);
}

static void txn_unlink(struct state_txn_req *r)
{
    struct state *st = r->st;
    if (r->prev)
        r->prev->next = r->next;
    else
        st->txns = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* Queues r (not in the in-flight list) to complete with an error from the loop. */
static void txn_defer_fail(struct state_txn_req *r, int kind, const char *msg)
{
    struct state *st = r->st;
    r->rc = err_set(&r->e, kind, "%s", msg);
    r->next = NULL;
    if (st->deferred_tail)
        st->deferred_tail->next = r;
    else
        st->deferred = r;
    st->deferred_tail = r;
    defer_kick(st);
}

static void txns_fail_all(struct state *st, const char *msg)
{
    while (st->txns) {
        struct state_txn_req *r = st->txns;
        txn_unlink(r);
        httpc_cancel(r->call);
        r->call = NULL;
        txn_defer_fail(r, ERR_UNAVAILABLE, msg);
    }
}

/* ---- listing ---- */

static void list_free(struct state_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->kvs[i].key);
        free(l->kvs[i].value);
    }
    free(l->kvs);
    free(l->next_key);
    free(l);
}

static int kv_cmp(const void *a, const void *b)
{
    const struct state_kv *x = a, *y = b;
    if (x->mod_revision != y->mod_revision)
        return x->mod_revision < y->mod_revision ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void list_page(struct state *st);

/* Parses one range page into l; returns 1 if more pages follow, 0 if done, < 0 on error. */
static int list_parse(struct state_list *l, struct buf *body, struct err *e)
{
    json_error_t je;
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, &je);
    if (!j)
        return err_set(e, ERR_INTERNAL, "etcd range: bad JSON: %s", je.text);
    int rc = 0;
    if (!l->rev)
        l->rev = state_header_revision(j);
    json_t *kvs = json_object_get(j, "kvs");
    size_t i;
    json_t *kv;
    struct buf key = BUF_INIT;
    json_array_foreach(kvs, i, kv)
    {
        struct buf val = BUF_INIT;
        buf_reset(&key);
        if (state_field_b64(kv, "key", &key, e) < 0 || state_field_b64(kv, "value", &val, e) < 0) {
            buf_release(&val);
            rc = err_wrap(e, "etcd range");
            goto out;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->kvs = xrealloc(l->kvs, l->cap * sizeof(*l->kvs));
        }
        struct state_kv *k = &l->kvs[l->n++];
        k->key = xstrndup(key.p ? key.p : "", key.len);
        k->value_len = val.len;
        k->value = val.p ? buf_detach(&val, NULL) : xstrdup("");
        k->mod_revision = state_json_int64(json_object_get(kv, "mod_revision"));
        k->create_revision = state_json_int64(json_object_get(kv, "create_revision"));
    }
    free(l->next_key);
    l->next_key = NULL;
    if (json_is_true(json_object_get(j, "more")) && key.len) {
        /* The next page starts just after the last key: last key + "\0". */
        buf_add(&key, "", 1);
        l->next_key = b64_of(key.p, key.len);
        rc = 1;
    }
out:
    buf_release(&key);
    json_decref(j);
    return rc;
}

static void list_finish(struct state *st)
{
    struct state_list *l = st->list;
    st->list = NULL;
    st->retry_ms = 0;
    if (l->n)
        qsort(l->kvs, l->n, sizeof(*l->kvs), kv_cmp);
    int64_t since = l->relist ? st->last_rev : 0;
    size_t reported = 0;
    for (size_t i = 0; i < l->n && !st->stopping; i++) {
        struct state_kv *k = &l->kvs[i];
        if (k->mod_revision <= since)
            continue;
        struct state_event ev = {
            .type = STATE_PUT,
            .key = k->key,
            .value = k->value,
            .value_len = k->value_len,
            .mod_revision = k->mod_revision,
            .create_revision = k->create_revision,
        };
        st->on_event(st->data, &ev);
        reported++;
    }
    if (l->relist)
        log_warn("state: re-listed %s at revision %lld after compaction: %zu keys changed; "
                 "keys deleted during the gap were not reported",
                 st->prefix, (long long)l->rev, reported);
    if (l->rev > st->last_rev)
        st->last_rev = l->rev;
    bool first = !l->relist;
    list_free(l);
    if (st->stopping)
        return;
    if (first) {
        st->ready_called = true;
        st->ready(st->data, 0, NULL);
    }
    sync_kick(st);
}

static void on_list_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state *st = data;
    struct err le = {0};
    st->list_call = NULL;
    if (rc == 0 && status != 200)
        rc = state_gateway_error(status, body, &le);
    else if (rc < 0)
        le = *e;
    if (rc == 0)
        rc = list_parse(st->list, body, &le);
    if (rc == 1) {
        list_page(st);
        return;
    }
    if (rc == 0) {
        list_finish(st);
        return;
    }
    list_free(st->list);
    st->list = NULL;
    if (!st->ready_called && le.kind != ERR_UNAVAILABLE) {
        err_wrap(&le, "listing %s", st->prefix);
        state_client_start_failed(st, &le);
        return;
    }
    log_warn("state: listing %s failed (%s); retrying", st->prefix, le.msg);
    uv_timer_start(&st->watch_timer, on_watch_timer, retry_delay(st), 0);
}

static void list_page(struct state *st)
{
    struct state_list *l = st->list;
    json_t *req = json_object();
    if (l->next_key) {
        json_object_set_new(req, "key", json_string(l->next_key));
    } else {
        char *k = b64_of(st->prefix_len ? st->prefix : "", st->prefix_len ? st->prefix_len : 1);
        json_object_set_new(req, "key", json_string(k));
        free(k);
    }
    char *end = b64_of(st->prefix_end, st->prefix_end_len);
    json_object_set_new(req, "range_end", json_string(end));
    free(end);
    char num[32];
    snprintf(num, sizeof(num), "%d", CLIENT_LIST_PAGE);
    json_object_set_new(req, "limit", json_string(num));
    if (l->rev) {
        snprintf(num, sizeof(num), "%lld", (long long)l->rev);
        json_object_set_new(req, "revision", json_string(num));
    }
    st->list_call =
        state_post_json(st, "/v3/kv/range", req, CLIENT_CALL_TIMEOUT_MS, NULL, on_list_done, st);
    json_decref(req);
}

static void list_start(struct state *st, bool relist)
{
    BUG_ON(st->list || st->list_call);
    st->list = xcalloc(1, sizeof(*st->list));
    st->list->relist = relist;
    list_page(st);
}

/* ---- watch ---- */

static void watch_drop(struct state *st)
{
    st->watch_gen++;
    st->watch_scan = (struct state_json_scan){0};
    httpc_cancel(st->watch_call);
    st->watch_call = NULL;
}

long state_json_span_resume(struct state_json_scan *s, const char *p, size_t n)
{
    size_t i = s->pos;
    if (!s->started) {
        while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
            i++;
        s->pos = i;
        if (i == n)
            return 0;
        if (p[i] != '{')
            return -1;
        s->started = true;
    }
    for (; i < n; i++) {
        char ch = p[i];
        if (s->in_str) {
            if (s->esc)
                s->esc = false;
            else if (ch == '\\')
                s->esc = true;
            else if (ch == '"')
                s->in_str = false;
            continue;
        }
        if (ch == '"')
            s->in_str = true;
        else if (ch == '{' || ch == '[')
            s->depth++;
        else if ((ch == '}' || ch == ']') && --s->depth == 0) {
            *s = (struct state_json_scan){0};
            return (long)(i + 1);
        }
    }
    s->pos = n;
    return 0;
}

long state_json_span(const char *p, size_t n)
{
    struct state_json_scan s = {0};
    return state_json_span_resume(&s, p, n);
}

static void watch_reopen_later(struct state *st, uint64_t ms)
{
    watch_drop(st);
    if (!st->stopping)
        uv_timer_start(&st->watch_timer, on_watch_timer, ms, 0);
}

/* Handles one watch response; returns false if the watch was dropped meanwhile. */
static bool watch_message(struct state *st, json_t *msg, uint64_t gen)
{
    json_t *res = json_object_get(msg, "result");
    if (!json_is_object(res)) {
        json_t *err = json_object_get(msg, "error");
        const char *m = json_string_value(json_object_get(err, "message"));
        if (!m)
            m = json_string_value(err);
        log_warn("state: watch error: %s; re-opening", m ? m : "unexpected message");
        watch_reopen_later(st, retry_delay(st));
        return false;
    }
    if (json_is_true(json_object_get(res, "canceled"))) {
        int64_t compact = state_json_int64(json_object_get(res, "compact_revision"));
        if (compact) {
            log_warn("state: watch from revision %lld refused: compacted up to %lld; "
                     "re-listing %s",
                     (long long)st->last_rev + 1, (long long)compact, st->prefix);
            st->relist_needed = true;
            watch_reopen_later(st, 0);
        } else {
            const char *why = json_string_value(json_object_get(res, "cancel_reason"));
            log_warn("state: watch cancelled by etcd (%s); re-opening", why ? why : "?");
            watch_reopen_later(st, retry_delay(st));
        }
        return false;
    }
    st->retry_ms = 0;
    json_t *events = json_object_get(res, "events");
    if (!json_array_size(events)) {
        /* A progress notification: every change up to its revision has been sent. */
        if (!json_is_true(json_object_get(res, "created"))) {
            int64_t rev = state_header_revision(res);
            if (rev > st->last_rev)
                st->last_rev = rev;
        }
        return true;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *kv = json_object_get(ev, "kv");
        const char *type = json_string_value(json_object_get(ev, "type"));
        struct buf key = BUF_INIT, val = BUF_INIT;
        struct err e = {0};
        if (state_field_b64(kv, "key", &key, &e) < 0 ||
            state_field_b64(kv, "value", &val, &e) < 0) {
            log_error("state: bad watch event (%s); re-opening", e.msg);
            buf_release(&key);
            buf_release(&val);
            watch_reopen_later(st, retry_delay(st));
            return false;
        }
        struct state_event sev = {
            .type = type && !strcmp(type, "DELETE") ? STATE_DELETE : STATE_PUT,
            .key = key.p ? key.p : "",
            .value = val.p ? val.p : "",
            .value_len = val.len,
            .mod_revision = state_json_int64(json_object_get(kv, "mod_revision")),
            .create_revision = state_json_int64(json_object_get(kv, "create_revision")),
        };
        if (sev.type == STATE_DELETE) {
            sev.value = NULL;
            sev.value_len = 0;
            sev.create_revision = 0;
        }
        if (sev.mod_revision > st->last_rev)
            st->last_rev = sev.mod_revision;
        st->on_event(st->data, &sev);
        buf_release(&key);
        buf_release(&val);
        if (st->watch_gen != gen || st->stopping)
            return false;
    }
    return true;
}

static void on_watch_data(void *data, struct buf *body)
{
    struct state *st = data;
    uint64_t gen = st->watch_gen;
    for (;;) {
        long span = state_json_span_resume(&st->watch_scan, body->p, body->len);
        if (span == 0)
            return;
        if (span < 0) {
            log_error("state: watch stream out of sync; re-opening");
            watch_reopen_later(st, retry_delay(st));
            return;
        }
        json_error_t je;
        json_t *msg = json_loadb(body->p, (size_t)span, 0, &je);
        buf_consume(body, (size_t)span);
        if (!msg) {
            log_error("state: bad watch message (%s); re-opening", je.text);
            watch_reopen_later(st, retry_delay(st));
            return;
        }
        bool go_on = watch_message(st, msg, gen);
        json_decref(msg);
        if (!go_on || st->watch_gen != gen)
            return;
    }
}

static void on_watch_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state *st = data;
    st->watch_call = NULL;
    st->watch_gen++;
    if (st->stopping)
        return;
    if (rc < 0)
        log_debug("state: watch ended: %s", e->msg);
    else if (status != 200)
        log_warn("state: watch answered HTTP %ld; re-opening", status);
    else
        log_debug("state: watch stream ended; re-opening");
    uv_timer_start(&st->watch_timer, on_watch_timer, retry_delay(st), 0);
}

static void watch_open(struct state *st)
{
    BUG_ON(st->watch_call);
    json_t *cr = json_object();
    char *k = b64_of(st->prefix_len ? st->prefix : "", st->prefix_len ? st->prefix_len : 1);
    char *end = b64_of(st->prefix_end, st->prefix_end_len);
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)st->last_rev + 1);
    json_object_set_new(cr, "key", json_string(k));
    json_object_set_new(cr, "range_end", json_string(end));
    json_object_set_new(cr, "start_revision", json_string(num));
    json_object_set_new(cr, "progress_notify", json_true());
    free(k);
    free(end);
    json_t *req = json_object();
    json_object_set_new(req, "create_request", cr);
    st->watch_gen++;
    st->watch_scan = (struct state_json_scan){0};
    st->watch_call = state_post_json(st, "/v3/watch", req, 0, on_watch_data, on_watch_done, st);
    json_decref(req);
}

/* Brings listing/watching up to date: list first (or again after a compaction), then
 * watch. Does nothing while etcd is down or a call is already under way. */
static void sync_kick(struct state *st)
{
    if (st->stopping || !st->available || st->list_call || st->watch_call)
        return;
    if (!st->ready_called) {
        list_start(st, false);
    } else if (st->relist_needed) {
        st->relist_needed = false;
        list_start(st, true);
    } else {
        watch_open(st);
    }
}

/* ---- reports from the proc layer ---- */

void state_client_etcd_up(struct state *st)
{
    if (st->stopping)
        return;
    if (!st->available)
        log_info("state: etcd at %s is available", st->client_url);
    st->available = true;
    st->reason[0] = 0;
    sync_kick(st);
    if (!st->stopping)
        state_elect_etcd_up(st);
}

void state_client_etcd_down(struct state *st, const char *reason, bool exited)
{
    if (st->stopping)
        return;
    if (st->available)
        log_warn("state: etcd unavailable: %s", reason);
    st->available = false;
    snprintf(st->reason, sizeof(st->reason), "%s", reason);
    if (!exited)
        return;
    state_elect_etcd_down(st);
    txns_fail_all(st, reason);
    watch_drop(st);
    httpc_cancel(st->list_call);
    st->list_call = NULL;
    list_free(st->list);
    st->list = NULL;
    uv_timer_stop(&st->watch_timer);
}

void state_client_start_failed(struct state *st, struct err *e)
{
    /* The first failure is the one to keep (a timeout is followed by the kill's exit). */
    if (st->stopping || st->ready_called)
        return;
    st->available = false;
    snprintf(st->reason, sizeof(st->reason), "%s", e->msg);
    st->ready_called = true;
    st->ready_fail_pending = true;
    st->ready_err = *e;
    defer_kick(st);
}

void state_client_etcd_stopped(struct state *st)
{
    st->etcd_stopped = true;
    maybe_finish(st);
}

/* ---- lifecycle ---- */

struct state *state_new(uv_loop_t *loop, const struct state_config *cfg)
{
    struct state *st = xcalloc(1, sizeof(*st));
    st->loop = loop;
    st->cfg = *cfg;
#define DUP(f) st->cfg.f = cfg->f ? xstrdup(cfg->f) : NULL
    DUP(etcd_bin);
    DUP(data_dir);
    DUP(name);
    DUP(peer_host);
    DUP(ca_file);
    DUP(cert_file);
    DUP(key_file);
    DUP(crl_file);
    DUP(initial_cluster);
    DUP(log_file);
#undef DUP
    st->client_url =
        xasprintf("%s://127.0.0.1:%d", cfg->ca_file ? "https" : "http", cfg->client_port);
    struct httpc_tls tls = {.ca_file = cfg->ca_file,
                            .cert_file = cfg->cert_file,
                            .key_file = cfg->key_file,
                            .server = "etcd"};
    st->curl = httpc_new(loop, &tls);
    st->ctl_curl = httpc_new(loop, &tls);
    uv_timer_t *timers[] = {&st->proc_timer, &st->kill_timer, &st->watch_timer, &st->defer_timer,
                            &st->txn_timer};
    for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = st;
    }
    snprintf(st->reason, sizeof(st->reason), "etcd is not started");
    return st;
}

void state_start(struct state *st, const char *prefix, state_ready_cb ready,
                 state_event_cb on_event, void *data)
{
    BUG_ON(st->started || st->stopping);
    st->started = true;
    st->ready = ready;
    st->on_event = on_event;
    st->data = data;
    st->prefix = xstrdup(prefix);
    st->prefix_len = strlen(prefix);
    /* range_end = the prefix with its last byte incremented (dropping trailing 0xff);
     * the empty prefix means every key: key "\0", range_end "\0". */
    st->prefix_end = xstrdup(prefix);
    size_t n = st->prefix_len;
    while (n > 0 && (unsigned char)st->prefix_end[n - 1] == 0xff)
        n--;
    if (n > 0) {
        st->prefix_end[n - 1] = (char)((unsigned char)st->prefix_end[n - 1] + 1);
        st->prefix_end_len = n;
    } else {
        st->prefix_end[0] = 0;
        st->prefix_end_len = 1;
    }
    snprintf(st->reason, sizeof(st->reason), "etcd is starting");
    state_proc_start(st);
}

void state_watch_leader(struct state *st, uint64_t for_ms)
{
    if (st->started && !st->stopping)
        state_proc_hurry(st, for_ms);
}

bool state_available(const struct state *st)
{
    return st->available && !st->stopping;
}

const char *state_unavailable_reason(const struct state *st)
{
    if (st->stopping)
        return "shutting down";
    return st->available ? "" : st->reason;
}

static void txn_send(struct state_txn_req *r);

void state_txn(struct state *st, const struct state_op *ops, size_t nops, state_txn_cb cb,
               void *data)
{
    struct state_txn_req *r = xcalloc(1, sizeof(*r));
    r->st = st;
    r->cb = cb;
    r->data = data;
    if (st->stopping) {
        txn_defer_fail(r, ERR_UNAVAILABLE, "shutting down");
        return;
    }
    if (!st->available) {
        txn_defer_fail(r, ERR_UNAVAILABLE, st->reason);
        return;
    }
    json_t *cmp = json_array(), *succ = json_array();
    r->puts = json_array();
    char num[32];
    for (size_t i = 0; i < nops; i++) {
        const struct state_op *op = &ops[i];
        char *k = b64_of(op->key, strlen(op->key));
        if (op->expect_mod_revision != STATE_ANY_REVISION) {
            bool absent = op->expect_mod_revision == 0;
            snprintf(num, sizeof(num), "%lld", (long long)op->expect_mod_revision);
            json_array_append_new(cmp,
                                  json_pack("{s:s, s:s, s:s, s:s}", "target",
                                            absent ? "CREATE" : "MOD", "key", k, "result", "EQUAL",
                                            absent ? "create_revision" : "mod_revision", num));
        }
        if (op->type == STATE_OP_PUT) {
            char *v = b64_of(op->value ? op->value : "", op->value_len);
            json_array_append_new(succ,
                                  json_pack("{s:{s:s, s:s}}", "request_put", "key", k, "value", v));
            json_array_append_new(r->puts, json_pack("[s, s]", k, v));
            free(v);
        } else if (op->type == STATE_OP_DELETE) {
            json_array_append_new(succ, json_pack("{s:{s:s}}", "request_delete_range", "key", k));
            r->has_delete = true;
        } else {
            /* A check is its compare alone; without one it would check nothing. */
            BUG_ON(op->type != STATE_OP_CHECK || op->expect_mod_revision == STATE_ANY_REVISION);
        }
        free(k);
    }
    r->req = json_pack("{s:o, s:o}", "compare", cmp, "success", succ);
    r->next = st->txns;
    if (st->txns)
        st->txns->prev = r;
    st->txns = r;
    txn_send(r);
}

static void on_txn_timer(uv_timer_t *t);

static void txn_send(struct state_txn_req *r)
{
    struct state *st = r->st;
    json_t *req = r->req;
    if (r->attempts > 0) {
        /* A resend: read back what we put, in case the first attempt made it. */
        req = json_copy(r->req);
        json_t *fail = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(r->puts, i, p)
        {
            json_array_append_new(
                fail, json_pack("{s:{s:O}}", "request_range", "key", json_array_get(p, 0)));
        }
        json_object_set_new(req, "failure", fail);
    } else {
        json_incref(req);
    }
    r->attempts++;
    r->sent_at = uv_now(st->loop);
    r->sent_term = st->etcd_term;
    r->call =
        state_post_json(st, "/v3/kv/txn", req, CLIENT_TXN_TIMEOUT_MS, NULL, state_txn_done, r);
    json_decref(req);
    if (!uv_is_active((uv_handle_t *)&st->txn_timer))
        uv_timer_start(&st->txn_timer, on_txn_timer, CLIENT_TXN_STUCK_MS, 0);
}

static bool txn_stuck(const struct state_txn_req *r, uint64_t now)
{
    return now - r->sent_at >= CLIENT_TXN_STUCK_MS;
}

/* While a transaction is stuck, etcd's status is polled fast (state_client_etcd_status). */
static void on_txn_timer(uv_timer_t *t)
{
    struct state *st = t->data;
    uint64_t now = uv_now(st->loop);
    bool stuck = false;
    for (struct state_txn_req *r = st->txns; r && !stuck; r = r->next)
        stuck = txn_stuck(r, now);
    if (stuck)
        state_proc_hurry(st, 2 * CLIENT_TXN_POLL_MS);
    if (st->txns)
        uv_timer_start(&st->txn_timer, on_txn_timer, CLIENT_TXN_POLL_MS, 0);
}

static void req_send(struct state_req *r);

void state_client_etcd_status(struct state *st)
{
    if (st->stopping || !st->etcd_leader)
        return;
    uint64_t now = uv_now(st->loop);
    for (struct state_req *q = st->reqs; q; q = q->next) {
        if (!q->resend_on_new_leader || !q->call || q->finished || q->sent_term >= st->etcd_term ||
            now - q->sent_at < CLIENT_TXN_STUCK_MS)
            continue;
        httpc_cancel(q->call);
        q->call = NULL;
        req_send(q);
    }
    for (struct state_txn_req *r = st->txns; r; r = r->next) {
        if (r->sent_term >= st->etcd_term || !txn_stuck(r, now) ||
            r->attempts >= CLIENT_TXN_ATTEMPTS)
            continue;
        /* Sent before etcd's leader changed and still unanswered: lost with the old leader,
         * or applied by the new one (the resend recognises that). */
        log_info("state: etcd has a new leader (term %lld); sending a transaction again",
                 (long long)st->etcd_term);
        httpc_cancel(r->call);
        r->call = NULL;
        txn_send(r);
    }
}

/* After a resend whose compare failed: true (and *rev) if every key it puts holds our value,
 * i.e. an earlier attempt was applied. */
static bool txn_recognised(struct state_txn_req *r, json_t *answer, int64_t *rev)
{
    if (r->has_delete || !json_array_size(r->puts))
        return false;
    json_t *resps = json_object_get(answer, "responses");
    size_t i;
    json_t *p;
    json_array_foreach(r->puts, i, p)
    {
        json_t *kv = json_array_get(
            json_object_get(json_object_get(json_array_get(resps, i), "response_range"), "kvs"), 0);
        const char *v = json_string_value(json_object_get(kv, "value"));
        const char *want = json_string_value(json_array_get(p, 1));
        /* the gateway omits empty values */
        if (!kv || strcmp(v ? v : "", want))
            return false;
        *rev = state_json_int64(json_object_get(kv, "mod_revision"));
    }
    return true;
}

static void state_txn_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state_txn_req *r = data;
    struct err te = {0};
    int64_t rev = 0;
    r->call = NULL;
    txn_unlink(r);
    if (rc < 0) {
        te = *e;
    } else if (status != 200) {
        rc = state_gateway_error(status, body, &te);
    } else {
        json_error_t je;
        json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, &je);
        if (!j)
            rc = err_set(&te, ERR_INTERNAL, "etcd txn: bad JSON: %s", je.text);
        else if (json_is_true(json_object_get(j, "succeeded")))
            rev = state_header_revision(j);
        else if (r->attempts > 1 && txn_recognised(r, j, &rev))
            log_info("state: an earlier attempt of the transaction was applied");
        else if (r->attempts > 1 && r->has_delete)
            rc = err_set(&te, ERR_UNAVAILABLE,
                         "etcd changed its leader while the write was pending; it may or may "
                         "not have been applied");
        else
            rc = err_set(&te, ERR_INTERNAL, ERR_MSG_OUT_OF_SEQUENCE);
        json_decref(j);
    }
    r->cb(r->data, rc, rev, rc < 0 ? &te : NULL);
    txn_free(r);
}

static void on_handle_closed(uv_handle_t *h)
{
    state_client_handle_closed(h->data);
}

static void on_curl_closed(void *data)
{
    state_client_handle_closed(data);
}

void state_client_handle_closed(struct state *st)
{
    st->pending_closes--;
    if (!st->closing || st->pending_closes > 0)
        return;
    void (*cb)(void *) = st->stop_cb;
    void *data = st->stop_data;
    free(st->client_url);
    free(st->prefix);
    free(st->prefix_end);
    free((char *)st->cfg.etcd_bin);
    free((char *)st->cfg.data_dir);
    free((char *)st->cfg.name);
    free((char *)st->cfg.peer_host);
    free((char *)st->cfg.ca_file);
    free((char *)st->cfg.cert_file);
    free((char *)st->cfg.key_file);
    free((char *)st->cfg.crl_file);
    free((char *)st->cfg.initial_cluster);
    free((char *)st->cfg.log_file);
    free(st);
    if (cb)
        cb(data);
}

/* Stops etcd once no election revoke is pending; closes everything once etcd has exited
 * and every queued callback, request and election is done. */
static void maybe_finish(struct state *st)
{
    if (!st->stopping || st->closing)
        return;
    if (!st->proc_stop_called) {
        if (state_elect_busy(st))
            return;
        st->proc_stop_called = true;
        if (st->started)
            state_proc_stop(st); /* may report etcd_stopped (and come back here) at once */
        else
            state_client_etcd_stopped(st);
        return;
    }
    if (!st->etcd_stopped || st->deferred || st->reqs || state_elect_busy(st))
        return;
    st->closing = true;
    uv_timer_t *timers[] = {&st->proc_timer, &st->kill_timer, &st->watch_timer, &st->defer_timer,
                            &st->txn_timer};
    for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
        st->pending_closes++;
        uv_close((uv_handle_t *)timers[i], on_handle_closed);
    }
    st->pending_closes++;
    httpc_close(st->curl, on_curl_closed, st);
    st->curl = NULL;
    st->pending_closes++;
    httpc_close(st->ctl_curl, on_curl_closed, st);
    st->ctl_curl = NULL;
}

void state_stop(struct state *st, void (*cb)(void *data), void *data)
{
    BUG_ON(st->stopping);
    st->stopping = true;
    st->stop_cb = cb;
    st->stop_data = data;
    st->ready_fail_pending = false;
    watch_drop(st);
    uv_timer_stop(&st->watch_timer);
    httpc_cancel(st->list_call);
    st->list_call = NULL;
    list_free(st->list);
    st->list = NULL;
    txns_fail_all(st, "shutting down");
    reqs_fail_all(st, "shutting down");
    state_elect_stop(st);
    maybe_finish(st);
}

void state_client_maybe_finish(struct state *st)
{
    maybe_finish(st);
}

/* ---- requests ---- */

static void req_closed(uv_handle_t *h)
{
    struct state_req *r = h->data;
    struct state *st = r->st;
    if (r->prev)
        r->prev->next = r->next;
    else
        st->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    free(r->path);
    free(r->body);
    free(r);
    maybe_finish(st);
}

static void on_req_timer(uv_timer_t *t)
{
    struct state_req *r = t->data;
    if (!r->finished) {
        state_req_fn fn = r->retry_fn;
        r->retry_fn = NULL;
        if (fn)
            fn(r);
        return;
    }
    r->complete(r);
    if (r->release)
        r->release(r);
    uv_close((uv_handle_t *)&r->timer, req_closed);
}

static void on_req_answer(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state_req *r = data;
    r->call = NULL;
    r->on_answer(r, rc, status, body, e);
}

struct state_req *state_req_new(struct state *st, size_t size, state_req_fn complete,
                                state_req_fn release)
{
    BUG_ON(size < sizeof(struct state_req) || st->closing);
    struct state_req *r = xcalloc(1, size);
    r->st = st;
    r->complete = complete;
    r->release = release;
    uv_timer_init(st->loop, &r->timer);
    r->timer.data = r;
    r->next = st->reqs;
    if (st->reqs)
        st->reqs->prev = r;
    st->reqs = r;
    struct err e = {0};
    if (st->stopping || !st->started) {
        err_set(&e, ERR_UNAVAILABLE, "%s", state_unavailable_reason(st));
        state_req_finish(r, -ERR_UNAVAILABLE, &e);
    }
    return r;
}

static void req_send(struct state_req *r)
{
    struct state *st = r->st;
    char *url = url_for(st, r->path);
    r->sent_at = uv_now(st->loop);
    r->sent_term = st->etcd_term;
    r->call = httpc_post(r->ctl ? st->ctl_curl : st->curl, url, r->body, strlen(r->body),
                         r->timeout_ms, NULL, on_req_answer, r);
    free(url);
    if (r->resend_on_new_leader)
        state_proc_hurry(st, 2 * CLIENT_TXN_POLL_MS + (uint64_t)r->timeout_ms);
}

void state_req_post(struct state_req *r, const char *path, json_t *body, long timeout_ms,
                    state_req_answer_fn on_answer)
{
    BUG_ON(r->call || r->finished);
    r->on_answer = on_answer;
    free(r->path);
    free(r->body);
    r->path = xstrdup(path);
    r->body = json_dumps(body, JSON_COMPACT);
    r->timeout_ms = timeout_ms;
    req_send(r);
}

void state_req_later(struct state_req *r, uint64_t ms, state_req_fn fn)
{
    BUG_ON(r->finished);
    r->retry_fn = fn;
    uv_timer_start(&r->timer, on_req_timer, ms, 0);
}

void state_req_finish(struct state_req *r, int rc, const struct err *e)
{
    if (r->finished)
        return;
    r->finished = true;
    r->rc = rc;
    if (rc < 0 && e)
        r->e = *e;
    else if (rc < 0)
        err_set(&r->e, -rc, "failed");
    httpc_cancel(r->call);
    r->call = NULL;
    r->retry_fn = NULL;
    uv_timer_start(&r->timer, on_req_timer, 0, 0);
}

static void reqs_fail_all(struct state *st, const char *msg)
{
    struct err e = {0};
    err_set(&e, ERR_UNAVAILABLE, "%s", msg);
    for (struct state_req *r = st->reqs; r; r = r->next)
        state_req_finish(r, -ERR_UNAVAILABLE, &e);
}
