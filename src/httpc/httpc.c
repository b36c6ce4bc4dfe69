/* httpc.c — libcurl's multi interface on the libuv loop: a small "HTTP call" API (POST a
 * JSON body, get the status and body, or stream the body), used by the etcd client and by
 * nodes talking to managers over mutual TLS.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION → one uv_poll_t each) and
 * when to wake it (CURLMOPT_TIMERFUNCTION → one uv_timer_t). Invariants: no user callback
 * runs inside a libcurl callback: the write callback only appends to the call's buffer and
 * flags it; after curl_multi_socket_action returns, dispatch() hands new data and finished
 * calls to their owners. A call cancelled while its own callback runs is freed when that
 * callback returns (in_cb). Connections are kept alive and reused across calls.
 * Thread: the loop thread only. */
#include "httpc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct httpc_sock {
    uv_poll_t poll;
    struct httpc *c;
    curl_socket_t fd;
    struct httpc_sock *prev, *next;
};

struct httpc_call {
    struct httpc *c;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    struct buf resp;
    httpc_data_cb data_cb;
    httpc_done_cb done;
    void *data;
    struct httpc_call *prev, *next;
    bool fresh_data; /* bytes appended since the last data_cb */
    bool finished;   /* curl reported completion; result in cres */
    bool in_cb, cancelled;
    CURLcode cres;
    char errbuf[CURL_ERROR_SIZE];
};

struct httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct httpc_tls tls; /* strings owned */
    struct httpc_call *calls;
    struct httpc_sock *socks;
    bool closing, dispatching;
    int pending_closes;
    void (*close_cb)(void *data);
    void *close_data;
};

static void check_done(struct httpc *c);
static void dispatch(struct httpc *c);

static void call_unlink(struct httpc_call *call)
{
    struct httpc *c = call->c;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

static void call_free(struct httpc_call *call)
{
    if (call->easy) {
        curl_multi_remove_handle(call->c->multi, call->easy);
        curl_easy_cleanup(call->easy);
        call->easy = NULL;
    }
    curl_slist_free_all(call->headers);
    free(call->body);
    buf_release(&call->resp);
    free(call);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct httpc_call *call = userdata;
    size_t n = size * nmemb;
    buf_add(&call->resp, ptr, n);
    call->fresh_data = true;
    return n;
}

/* ---- sockets and timer ---- */

static void sock_closed(uv_handle_t *h)
{
    struct httpc_sock *s = h->data;
    struct httpc *c = s->c;
    free(s);
    c->pending_closes--;
    check_done(c);
}

static void sock_release(struct httpc_sock *s)
{
    struct httpc *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    c->pending_closes++;
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct httpc_sock *s = h->data;
    struct httpc *c = s->c;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    dispatch(c);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct httpc *c = userp;
    struct httpc_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            sock_release(s);
        }
        return 0;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->c = c;
        s->fd = fd;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct httpc *c = t->data;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    dispatch(c);
}

static int on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    struct httpc *c = userp;
    if (c->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- dispatch: runs owners' callbacks outside of libcurl ---- */

static void collect_finished(struct httpc *c)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct httpc_call *call = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        if (!call)
            continue;
        call->finished = true;
        call->cres = msg->data.result;
    }
}

static void finish(struct httpc_call *call)
{
    long status = 0;
    struct err e = {0};
    int rc = 0;
    if (call->cres == CURLE_OK) {
        curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    } else {
        rc = err_set(&e, ERR_UNAVAILABLE, "etcd unreachable: %s",
                     call->errbuf[0] ? call->errbuf : curl_easy_strerror(call->cres));
    }
    /* The easy handle goes back now, so callbacks may start new calls freely. */
    curl_multi_remove_handle(call->c->multi, call->easy);
    curl_easy_cleanup(call->easy);
    call->easy = NULL;
    call_unlink(call);
    call->in_cb = true;
    if (call->data_cb && call->resp.len && !call->cancelled)
        call->data_cb(call->data, &call->resp);
    if (!call->cancelled)
        call->done(call->data, rc, status, &call->resp, rc ? &e : NULL);
    call_free(call);
}

static void dispatch(struct httpc *c)
{
    if (c->dispatching || c->closing)
        return;
    c->dispatching = true;
    collect_finished(c);
    /* Rescan from the head after every callback: callbacks may add or cancel calls. */
    for (;;) {
        if (c->closing)
            break;
        struct httpc_call *call = c->calls;
        while (call && !call->finished && !(call->fresh_data && call->data_cb))
            call = call->next;
        if (!call)
            break;
        if (call->finished) {
            finish(call);
            continue;
        }
        call->fresh_data = false;
        call->in_cb = true;
        call->data_cb(call->data, &call->resp);
        call->in_cb = false;
        if (call->cancelled)
            call_free(call);
    }
    c->dispatching = false;
}

/* ---- public ---- */

struct httpc *httpc_new(uv_loop_t *loop, const struct httpc_tls *tls)
{
    static bool global_done;
    if (!global_done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        global_done = true;
    }
    struct httpc *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    if (tls) {
        c->tls = *tls;
        c->tls.ca_file = tls->ca_file ? xstrdup(tls->ca_file) : NULL;
        c->tls.cert_file = tls->cert_file ? xstrdup(tls->cert_file) : NULL;
        c->tls.key_file = tls->key_file ? xstrdup(tls->key_file) : NULL;
    }
    c->multi = curl_multi_init();
    BUG_ON(!c->multi);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* A watch holds one connection; a few more carry concurrent transactions. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 8L);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    return c;
}

struct httpc_call *httpc_post(struct httpc *c, const char *url, const char *body, size_t len,
                              long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                              void *data)
{
    BUG_ON(c->closing);
    struct httpc_call *call = xcalloc(1, sizeof(*call));
    call->c = c;
    call->body = xstrndup(body, len);
    call->data_cb = data_cb;
    call->done = done;
    call->data = data;
    call->easy = curl_easy_init();
    BUG_ON(!call->easy);
    CURL *h = call->easy;
    call->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip for larger bodies. */
    call->headers = curl_slist_append(call->headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, call->headers);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(h, CURLOPT_PRIVATE, call);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, call->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never through an http_proxy from the env */
    if (timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (c->tls.insecure) {
        /* Only for fetching a CA certificate that the caller then checks by digest. */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->tls.ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->tls.ca_file);
        if (c->tls.cert_file)
            curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls.cert_file);
        if (c->tls.key_file)
            curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls.key_file);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->tls.skip_host_check ? 0L : 2L);
    }
    if (c->tls.tls13)
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    CURLMcode mc = curl_multi_add_handle(c->multi, h);
    BUG_ON(mc != CURLM_OK);
    return call;
}

void httpc_cancel(struct httpc_call *call)
{
    if (!call || call->cancelled)
        return;
    call->cancelled = true;
    if (call->easy) {
        curl_multi_remove_handle(call->c->multi, call->easy);
        curl_easy_cleanup(call->easy);
        call->easy = NULL;
    }
    if (call->prev || call->next || call->c->calls == call)
        call_unlink(call);
    if (!call->in_cb)
        call_free(call);
}

static void timer_closed(uv_handle_t *h)
{
    struct httpc *c = h->data;
    c->pending_closes--;
    check_done(c);
}

static void check_done(struct httpc *c)
{
    if (!c->closing || c->pending_closes > 0)
        return;
    void (*cb)(void *) = c->close_cb;
    void *data = c->close_data;
    free((char *)c->tls.ca_file);
    free((char *)c->tls.cert_file);
    free((char *)c->tls.key_file);
    free(c);
    if (cb)
        cb(data);
}

void httpc_close(struct httpc *c, void (*cb)(void *data), void *data)
{
    BUG_ON(c->closing);
    while (c->calls)
        httpc_cancel(c->calls);
    c->close_cb = cb;
    c->close_data = data;
    /* Cleanup closes cached connections, which may report CURL_POLL_REMOVE. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    c->closing = true;
    while (c->socks) {
        uv_poll_stop(&c->socks->poll);
        sock_release(c->socks);
    }
    uv_timer_stop(&c->timer);
    c->pending_closes++;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}
