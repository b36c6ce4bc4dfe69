/* httpc.c — a small HTTP/1.1 client on the libuv loop: POST a JSON body, get the status and
 * the body, or consume a streamed (chunked, possibly endless) body as it arrives; plain TCP or
 * TLS through OpenSSL memory BIOs. Used by the etcd client and by nodes talking to managers
 * over mutual TLS.
 *
 * Connections: a pool per client, keyed by scheme, host and port. A finished keep-alive
 * response leaves its connection idle for the next call to the same place (at most
 * MAX_IDLE_CONNS idle ones are kept, each for at most IDLE_TIMEOUT_MS: an idle TLS connection
 * costs ~25 KB); at most MAX_HOST_CONNS connections per key exist at once
 * and further calls wait in order. A call holds its connection until its response is complete
 * (a streamed watch holds it for as long as it lasts). A call that dies on a reused
 * connection before any byte of its answer arrived (the server closed the idle connection
 * meanwhile) is sent again once on another connection, as curl does.
 *
 * Timeouts: connecting (TCP and TLS handshake) CONNECT_TIMEOUT_MS; the whole call timeout_ms
 * when > 0, counted from httpc_post. One timer per client, armed at the earliest deadline.
 *
 * Invariants: no user callback runs inside our own processing of I/O: socket, connect,
 * write and timer callbacks only record results in the calls (finished, fresh_data); then
 * dispatch() hands them out, rescanning after every callback, so a callback may start or
 * cancel calls or close the client. httpc_post never calls back: early failures are handed
 * out from the timer. A call cancelled inside its own callback is freed when that callback
 * returns (in_cb); the client is freed only once every handle it closed has reported back.
 * Thread: the loop thread only (one loop thread per process: the read buffers are static). */
#include "httpc/httpc_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000
#define MAX_HOST_CONNS 8 /* a watch holds one; a few more carry concurrent transactions */
#define MAX_IDLE_CONNS 8
#define IDLE_TIMEOUT_MS 30000
#define IO_BUF 16384 /* one TLS record */

enum call_state { CALL_QUEUED, CALL_ACTIVE, CALL_FINISHED };
enum conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_BUSY, CONN_IDLE, CONN_CLOSED };

struct httpc_conn;

struct httpc_call {
    struct httpc *c;
    struct httpc_call *prev, *next; /* c->calls while linked */
    int state;
    struct httpc_url url;
    char key[96];    /* pool key: scheme, host, port */
    struct buf req;  /* request head + body, kept for a resend */
    struct buf resp; /* body received (streams: what the owner has not consumed) */
    httpc_data_cb data_cb;
    httpc_done_cb done;
    void *data;
    uint64_t start, deadline; /* loop ms; deadline 0: none */
    struct httpc_conn *conn;  /* while active */
    bool linked, fresh_data, in_cb, cancelled, retried;
    bool paused; /* httpc_pause: its connection is not read while busy with it */
    int rc;
    long status;
    struct err e;
};

struct httpc_conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct httpc *c;
    struct httpc_conn *prev, *next; /* c->conns until closed */
    int state;
    char key[96];
    char host[64];
    int port;
    bool tls;
    SSL *ssl; /* owns rbio and wbio */
    BIO *rbio, *wbio;
    struct httpc_call *call;
    struct httpc_parser parser;
    uint64_t connect_deadline, idle_since;
    unsigned served; /* complete responses read on this connection */
    bool got_bytes;  /* bytes of the current response have arrived */
};

struct httpc {
    uv_loop_t *loop;
    struct httpc_tls tls; /* strings owned */
    SSL_CTX *ssl_ctx;     /* made at the first TLS connection */
    uv_timer_t timer;
    struct httpc_call *calls, *calls_tail;
    struct httpc_conn *conns;
    bool closing, dispatching, requeued;
    uint64_t idle_timeout_ms;
    int pending_closes;
    void (*close_cb)(void *data);
    void *close_data;
};

struct wreq {
    uv_write_t req;
    size_t len;
    char data[];
};

/* Only the loop thread runs this module, and nothing re-enters a read callback. */
static char read_buf[IO_BUF];  /* ciphertext or plaintext from the socket */
static char plain_buf[IO_BUF]; /* plaintext out of SSL_read */
static char out_buf[IO_BUF];   /* ciphertext out of the write BIO */

static void conn_close(struct httpc_conn *conn);
static void check_done(struct httpc *c);
static void timer_update(struct httpc *c);
static int conn_update_reading(struct httpc_conn *conn);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void settle(struct httpc *c);

/* ---- calls ---- */

static void call_link(struct httpc *c, struct httpc_call *call)
{
    call->prev = c->calls_tail;
    call->next = NULL;
    if (c->calls_tail)
        c->calls_tail->next = call;
    else
        c->calls = call;
    c->calls_tail = call;
    call->linked = true;
}

static void call_unlink(struct httpc_call *call)
{
    struct httpc *c = call->c;
    if (call->prev)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        c->calls_tail = call->prev;
    call->prev = call->next = NULL;
    call->linked = false;
}

static void call_free(struct httpc_call *call)
{
    BUG_ON(call->conn || call->linked);
    free(call->url.path);
    buf_release(&call->req);
    buf_release(&call->resp);
    free(call);
}

/* The call failed: it is handed to its owner with rc < 0 at the next dispatch. */
static void call_fail(struct httpc_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void call_fail(struct httpc_call *call, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* say what was unreachable: "etcd 127.0.0.1:2479", "manager 10.1.2.3:2377" */
    const char *server = call->c->tls.server;
    bool v6 = strchr(call->url.host, ':') != NULL;
    call->rc = err_set(&call->e, ERR_UNAVAILABLE, "%s%s%s%s%s:%d unreachable: %s",
                       server ? server : "", server ? " " : "", v6 ? "[" : "", call->url.host,
                       v6 ? "]" : "", call->url.port, msg);
    call->state = CALL_FINISHED;
}

/* ---- TLS context ---- */

/* The reason of the pending OpenSSL error: an errno's words if a system call failed. */
static const char *ssl_reason(void)
{
    unsigned long first = ERR_peek_error();
    if (first && ERR_SYSTEM_ERROR(first))
        return strerror(ERR_GET_REASON(first));
    unsigned long code = ERR_peek_last_error();
    const char *r = code ? ERR_reason_error_string(code) : NULL;
    return r ? r : "unknown error";
}

static SSL_CTX *tls_ctx(struct httpc *c, char *msg, size_t msglen)
{
    if (c->ssl_ctx)
        return c->ssl_ctx;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(msg, msglen, "TLS setup failed: %s", ssl_reason());
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, c->tls.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (c->tls.insecure) {
        /* Only for fetching a CA certificate that the caller then checks by digest. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        if (c->tls.ca_file) {
            if (SSL_CTX_load_verify_locations(ctx, c->tls.ca_file, NULL) != 1) {
                snprintf(msg, msglen, "error setting certificate verify locations: CAfile: %s: %s",
                         c->tls.ca_file, ssl_reason());
                goto fail;
            }
            if (c->tls.cert_file &&
                SSL_CTX_use_certificate_chain_file(ctx, c->tls.cert_file) != 1) {
                snprintf(msg, msglen, "could not load client certificate %s: %s", c->tls.cert_file,
                         ssl_reason());
                goto fail;
            }
            const char *key = c->tls.key_file ? c->tls.key_file : c->tls.cert_file;
            if (key && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
                snprintf(msg, msglen, "could not load client key %s: %s", key, ssl_reason());
                goto fail;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            snprintf(msg, msglen, "error setting default certificate locations: %s", ssl_reason());
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    ERR_clear_error();
    c->ssl_ctx = ctx;
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

static bool is_ip_literal(const char *host)
{
    struct in6_addr a;
    return inet_pton(AF_INET, host, &a) == 1 || inet_pton(AF_INET6, host, &a) == 1;
}

/* ---- connections: low-level I/O ---- */

static void on_conn_closed(uv_handle_t *h)
{
    struct httpc_conn *conn = h->data;
    struct httpc *c = conn->c;
    httpc_parser_release(&conn->parser);
    free(conn);
    c->pending_closes--;
    check_done(c);
}

/* Closes a connection that carries no call (the caller has dealt with it). */
static void conn_close(struct httpc_conn *conn)
{
    struct httpc *c = conn->c;
    if (conn->state == CONN_CLOSED)
        return;
    BUG_ON(conn->call);
    conn->state = CONN_CLOSED;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
    if (conn->ssl) {
        SSL_free(conn->ssl);
        conn->ssl = NULL;
    }
    c->pending_closes++;
    uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
}

/* The connection is broken: its call is sent again (once, if it was reused and nothing of
 * the answer came back) or fails with msg; the connection closes. */
static void conn_fail(struct httpc_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conn_fail(struct httpc_conn *conn, const char *fmt, ...)
{
    struct httpc_call *call = conn->call;
    if (call) {
        conn->call = NULL;
        call->conn = NULL;
        if (conn->served && !conn->got_bytes && !call->retried) {
            call->retried = true;
            call->state = CALL_QUEUED;
            conn->c->requeued = true;
        } else {
            char msg[ERR_MSG_MAX];
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg, sizeof(msg), fmt, ap);
            va_end(ap);
            call_fail(call, "%s", msg);
        }
    }
    conn_close(conn);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct httpc_conn *conn = req->handle->data;
    free(w);
    if (status >= 0 || status == UV_ECANCELED || conn->state == CONN_CLOSED)
        return;
    struct httpc *c = conn->c;
    conn_fail(conn, "Send failure: %s", strerror(-status));
    settle(c);
}

/* Writes bytes to the socket: what the kernel takes at once, the rest queued. Returns 0 or
 * a negative errno. */
static int conn_write_raw(struct httpc_conn *conn, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0)
        return n;
    if ((size_t)n == len)
        return 0;
    struct wreq *w = xmalloc(sizeof(*w) + len - (size_t)n);
    w->len = len - (size_t)n;
    memcpy(w->data, data + n, w->len);
    b = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, on_write);
    if (rc < 0)
        free(w);
    return rc;
}

/* Sends what OpenSSL has produced. Returns 0 or a negative errno. */
static int conn_flush_tls(struct httpc_conn *conn)
{
    while (BIO_ctrl_pending(conn->wbio) > 0) {
        int n = BIO_read(conn->wbio, out_buf, sizeof(out_buf));
        if (n <= 0)
            break;
        int rc = conn_write_raw(conn, out_buf, (size_t)n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void conn_send_request(struct httpc_conn *conn)
{
    struct httpc_call *call = conn->call;
    int rc;
    if (conn->ssl) {
        ERR_clear_error();
        if (SSL_write(conn->ssl, call->req.p, (int)call->req.len) != (int)call->req.len) {
            conn_fail(conn, "TLS write failed: %s", ssl_reason());
            ERR_clear_error();
            return;
        }
        rc = conn_flush_tls(conn);
    } else {
        rc = conn_write_raw(conn, call->req.p, call->req.len);
    }
    if (rc < 0)
        conn_fail(conn, "Send failure: %s", strerror(-rc));
}

/* ---- connections: responses ---- */

static void conn_idle(struct httpc_conn *conn)
{
    struct httpc *c = conn->c;
    conn->state = CONN_IDLE;
    conn->idle_since = uv_now(c->loop);
    conn_update_reading(conn); /* an idle connection is read: its close must be noticed */
    int idle = 0;
    struct httpc_conn *oldest = NULL;
    for (struct httpc_conn *o = c->conns; o; o = o->next) {
        if (o->state != CONN_IDLE)
            continue;
        idle++;
        if (!oldest || o->idle_since < oldest->idle_since)
            oldest = o;
    }
    if (idle > MAX_IDLE_CONNS)
        conn_close(oldest);
}

/* Plaintext of the current response arrived. */
static void conn_plain(struct httpc_conn *conn, const char *data, size_t len)
{
    struct httpc_call *call = conn->call;
    if (!call) { /* nothing is due on an idle connection */
        conn_close(conn);
        return;
    }
    conn->got_bytes = true;
    size_t before = call->resp.len, used = 0;
    int rc = httpc_parser_feed(&conn->parser, data, len, &call->resp, &used);
    if (call->resp.len != before && call->data_cb)
        call->fresh_data = true;
    if (rc == HTTPC_PARSE_ERROR) {
        conn_fail(conn, "%s", conn->parser.err);
        return;
    }
    if (rc == HTTPC_PARSE_MORE)
        return;
    bool reuse = httpc_parser_reusable(&conn->parser) && used == len;
    call->status = conn->parser.status;
    call->state = CALL_FINISHED;
    call->conn = NULL;
    conn->call = NULL;
    conn->served++;
    if (reuse)
        conn_idle(conn);
    else
        conn_close(conn);
}

/* The peer closed (status UV_EOF) or the connection broke. */
static void conn_end(struct httpc_conn *conn, int status)
{
    struct httpc_call *call = conn->call;
    if (!call || conn->state == CONN_HANDSHAKE || conn->state == CONN_CONNECTING) {
        if (call)
            conn_fail(conn, "TLS handshake with %s port %d failed: %s", conn->host, conn->port,
                      status == UV_EOF ? "connection closed" : strerror(-status));
        else
            conn_close(conn);
        return;
    }
    if (status != UV_EOF) {
        conn_fail(conn, "Recv failure: %s", strerror(-status));
        return;
    }
    if (httpc_parser_eof(&conn->parser) != HTTPC_PARSE_DONE) {
        conn_fail(conn, "%s", conn->parser.err);
        return;
    }
    call->status = conn->parser.status;
    call->state = CALL_FINISHED;
    call->conn = NULL;
    conn->call = NULL;
    conn_close(conn);
}

/* Reads the connection unless it carries a paused call (a connection that is still
 * connecting or in its handshake is always read). */
static int conn_update_reading(struct httpc_conn *conn)
{
    if (conn->state == CONN_CLOSED || conn->state == CONN_CONNECTING)
        return 0;
    uv_stream_t *s = (uv_stream_t *)&conn->tcp;
    bool want = !(conn->call && conn->call->paused && conn->state == CONN_BUSY);
    if (!want)
        return uv_read_stop(s);
    if (uv_is_active((uv_handle_t *)s))
        return 0;
    return uv_read_start(s, on_alloc, on_read);
}

static void conn_verify_failed(struct httpc_conn *conn)
{
    long v = SSL_get_verify_result(conn->ssl);
    if (v != X509_V_OK)
        conn_fail(conn, "SSL certificate problem: %s", X509_verify_cert_error_string(v));
    else
        conn_fail(conn, "TLS handshake with %s port %d failed: %s", conn->host, conn->port,
                  ssl_reason());
}

static void conn_handshake(struct httpc_conn *conn)
{
    ERR_clear_error();
    int r = SSL_do_handshake(conn->ssl);
    int wrc = conn_flush_tls(conn);
    if (r == 1) {
        conn->state = CONN_BUSY;
        if (conn->call)
            conn_send_request(conn);
        else
            conn_idle(conn);
        if (conn->state != CONN_CLOSED)
            conn_update_reading(conn);
    } else {
        int err = SSL_get_error(conn->ssl, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            conn_verify_failed(conn);
        else if (wrc < 0)
            conn_fail(conn, "Send failure: %s", strerror(-wrc));
    }
    ERR_clear_error();
}

static void conn_input(struct httpc_conn *conn, const char *data, size_t len)
{
    if (!conn->ssl) {
        conn_plain(conn, data, len);
        return;
    }
    ERR_clear_error();
    if (BIO_write(conn->rbio, data, (int)len) != (int)len) {
        conn_fail(conn, "TLS read failed: out of memory");
        return;
    }
    if (conn->state == CONN_HANDSHAKE) {
        conn_handshake(conn);
        if (conn->state != CONN_BUSY && conn->state != CONN_IDLE)
            return;
    }
    /* Only while input is pending: an SSL_read on an empty BIO would allocate a record
     * buffer and keep it while the connection idles (SSL_MODE_RELEASE_BUFFERS frees it only
     * once a record is used up). */
    while (conn->state != CONN_CLOSED &&
           (BIO_ctrl_pending(conn->rbio) > 0 || SSL_pending(conn->ssl) > 0)) {
        int n = SSL_read(conn->ssl, plain_buf, sizeof(plain_buf));
        if (n > 0) {
            conn_plain(conn, plain_buf, (size_t)n);
            continue;
        }
        int err = SSL_get_error(conn->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN)
            conn_end(conn, UV_EOF);
        else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            conn_fail(conn, "TLS read failed: %s", ssl_reason());
        break;
    }
    /* reading may have produced records to send (e.g. an answer to a key update) */
    int wrc = conn->state != CONN_CLOSED ? conn_flush_tls(conn) : 0;
    if (wrc < 0)
        conn_fail(conn, "Send failure: %s", strerror(-wrc));
    ERR_clear_error();
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct httpc_conn *conn = s->data;
    struct httpc *c = conn->c;
    if (conn->state == CONN_CLOSED)
        return;
    if (nread > 0)
        conn_input(conn, b->base, (size_t)nread);
    else if (nread < 0)
        conn_end(conn, (int)nread);
    settle(c);
}

static void conn_start_tls(struct httpc_conn *conn)
{
    struct httpc *c = conn->c;
    char msg[ERR_MSG_MAX];
    SSL_CTX *ctx = tls_ctx(c, msg, sizeof(msg));
    if (!ctx) {
        conn_fail(conn, "%s", msg);
        return;
    }
    conn->ssl = SSL_new(ctx);
    conn->rbio = BIO_new(BIO_s_mem());
    conn->wbio = BIO_new(BIO_s_mem());
    BUG_ON(!conn->ssl || !conn->rbio || !conn->wbio);
    BIO_set_mem_eof_return(conn->rbio, -1); /* empty means "want more", not EOF */
    SSL_set_bio(conn->ssl, conn->rbio, conn->wbio);
    SSL_set_connect_state(conn->ssl);
    bool ip = is_ip_literal(conn->host);
    if (!ip)
        SSL_set_tlsext_host_name(conn->ssl, conn->host);
    if (!c->tls.insecure && !c->tls.skip_host_check) {
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), conn->host)
                    : SSL_set1_host(conn->ssl, conn->host);
        BUG_ON(ok != 1);
    }
    conn->state = CONN_HANDSHAKE;
    conn_handshake(conn);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct httpc_conn *conn = req->data;
    struct httpc *c = conn->c;
    if (conn->state == CONN_CLOSED)
        return;
    if (status < 0) {
        conn_fail(conn, "Failed to connect to %s port %d: %s", conn->host, conn->port,
                  strerror(-status));
        settle(c);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    uv_tcp_keepalive(&conn->tcp, 1, 60);
    int rc = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
    if (rc < 0) {
        conn_fail(conn, "Recv failure: %s", strerror(-rc));
    } else if (conn->tls) {
        conn_start_tls(conn);
    } else {
        conn->state = CONN_BUSY;
        if (conn->call)
            conn_send_request(conn);
        else
            conn_idle(conn);
        if (conn->state != CONN_CLOSED)
            conn_update_reading(conn);
    }
    settle(c);
}

/* Opens a new connection for call. */
static void conn_open(struct httpc *c, struct httpc_call *call)
{
    struct httpc_conn *conn = xcalloc(1, sizeof(*conn));
    conn->c = c;
    conn->state = CONN_CONNECTING;
    memcpy(conn->key, call->key, sizeof(conn->key));
    memcpy(conn->host, call->url.host, sizeof(conn->host));
    conn->port = call->url.port;
    conn->tls = call->url.tls;
    conn->connect_deadline = uv_now(c->loop) + CONNECT_TIMEOUT_MS;
    httpc_parser_init(&conn->parser);
    uv_tcp_init(c->loop, &conn->tcp);
    conn->tcp.data = conn;
    conn->creq.data = conn;
    conn->next = c->conns;
    if (c->conns)
        c->conns->prev = conn;
    c->conns = conn;
    conn->call = call;
    call->conn = conn;
    call->state = CALL_ACTIVE;
    int rc = uv_tcp_connect(&conn->creq, &conn->tcp, (const struct sockaddr *)&call->url.addr,
                            on_connect);
    if (rc < 0)
        conn_fail(conn, "Failed to connect to %s port %d: %s", conn->host, conn->port,
                  strerror(-rc));
}

/* Puts call on the idle connection conn and sends it. */
static void conn_assign(struct httpc_conn *conn, struct httpc_call *call)
{
    conn->call = call;
    call->conn = conn;
    call->state = CALL_ACTIVE;
    conn->state = CONN_BUSY;
    conn->got_bytes = false;
    httpc_parser_release(&conn->parser);
    httpc_parser_init(&conn->parser);
    conn_send_request(conn);
    if (conn->state != CONN_CLOSED)
        conn_update_reading(conn);
}

/* ---- scheduling, timer and dispatch ---- */

/* Gives queued calls connections: an idle one to the same place, or a new one while the
 * place has fewer than MAX_HOST_CONNS. */
static void schedule(struct httpc *c)
{
    do {
        c->requeued = false;
        for (struct httpc_call *call = c->calls; call && !c->closing; call = call->next) {
            if (call->state != CALL_QUEUED)
                continue;
            struct httpc_conn *idle = NULL;
            int n = 0;
            for (struct httpc_conn *o = c->conns; o; o = o->next) {
                if (strcmp(o->key, call->key))
                    continue;
                n++;
                if (o->state == CONN_IDLE && !idle)
                    idle = o;
            }
            if (idle)
                conn_assign(idle, call);
            else if (n < MAX_HOST_CONNS)
                conn_open(c, call);
        }
    } while (c->requeued && !c->closing);
}

static void on_timer(uv_timer_t *t);

static void timer_update(struct httpc *c)
{
    if (c->closing)
        return;
    uint64_t now = uv_now(c->loop), best = UINT64_MAX;
    for (struct httpc_call *call = c->calls; call; call = call->next) {
        if (call->state == CALL_FINISHED || (call->fresh_data && call->data_cb))
            best = now;
        else if (call->deadline && call->deadline < best)
            best = call->deadline;
    }
    for (struct httpc_conn *o = c->conns; o; o = o->next) {
        if ((o->state == CONN_CONNECTING || o->state == CONN_HANDSHAKE) &&
            o->connect_deadline < best)
            best = o->connect_deadline;
        if (o->state == CONN_IDLE && o->idle_since + c->idle_timeout_ms < best)
            best = o->idle_since + c->idle_timeout_ms;
    }
    if (best == UINT64_MAX)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, best > now ? best - now : 0, 0);
}

static void finish(struct httpc_call *call)
{
    call_unlink(call);
    call->in_cb = true;
    if (call->data_cb && call->resp.len && !call->cancelled)
        call->data_cb(call->data, &call->resp);
    if (!call->cancelled)
        call->done(call->data, call->rc, call->status, &call->resp, call->rc ? &call->e : NULL);
    call_free(call);
}

static void dispatch(struct httpc *c)
{
    if (c->dispatching || c->closing)
        return;
    c->dispatching = true;
    /* Rescan from the head after every callback: callbacks may add or cancel calls. */
    while (!c->closing) {
        struct httpc_call *call = c->calls;
        while (call && call->state != CALL_FINISHED && !(call->fresh_data && call->data_cb))
            call = call->next;
        if (!call)
            break;
        if (call->state == CALL_FINISHED) {
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

/* After any I/O or timer event: queued calls get connections, results go out, the timer
 * follows the deadlines. */
static void settle(struct httpc *c)
{
    if (c->closing)
        return;
    schedule(c);
    dispatch(c);
    if (c->closing)
        return;
    schedule(c);
    timer_update(c);
}

static void on_timer(uv_timer_t *t)
{
    struct httpc *c = t->data;
    uint64_t now = uv_now(c->loop);
    struct httpc_conn *next;
    for (struct httpc_conn *o = c->conns; o; o = next) {
        next = o->next;
        if ((o->state == CONN_CONNECTING || o->state == CONN_HANDSHAKE) &&
            o->connect_deadline <= now)
            conn_fail(o, "Failed to connect to %s port %d after %d ms: Connection timed out",
                      o->host, o->port, CONNECT_TIMEOUT_MS);
        else if (o->state == CONN_IDLE && o->idle_since + c->idle_timeout_ms <= now)
            conn_close(o);
    }
    for (struct httpc_call *call = c->calls; call; call = call->next) {
        if (call->state == CALL_FINISHED || !call->deadline || call->deadline > now)
            continue;
        struct httpc_conn *conn = call->conn;
        if (conn) {
            conn->call = NULL;
            call->conn = NULL;
            conn_close(conn);
        }
        call_fail(call, "Operation timed out after %llu milliseconds with %zu bytes received",
                  (unsigned long long)(now - call->start), call->resp.len);
    }
    settle(c);
}

/* ---- public ---- */

struct httpc *httpc_new(uv_loop_t *loop, const struct httpc_tls *tls)
{
    /* A peer that vanishes must not kill the process through a write. */
    signal(SIGPIPE, SIG_IGN);
    struct httpc *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    if (tls) {
        c->tls = *tls;
        c->tls.ca_file = tls->ca_file ? xstrdup(tls->ca_file) : NULL;
        c->tls.cert_file = tls->cert_file ? xstrdup(tls->cert_file) : NULL;
        c->tls.key_file = tls->key_file ? xstrdup(tls->key_file) : NULL;
        c->tls.server = tls->server ? xstrdup(tls->server) : NULL;
    }
    c->idle_timeout_ms = IDLE_TIMEOUT_MS;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    return c;
}

void httpc_set_idle_timeout(struct httpc *c, uint64_t ms)
{
    c->idle_timeout_ms = ms;
}

struct httpc_call *httpc_post(struct httpc *c, const char *url, const char *body, size_t len,
                              long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                              void *data)
{
    BUG_ON(c->closing);
    struct httpc_call *call = xcalloc(1, sizeof(*call));
    call->c = c;
    call->data_cb = data_cb;
    call->done = done;
    call->data = data;
    uv_update_time(c->loop); /* the loop's clock may lag behind a long callback */
    call->start = uv_now(c->loop);
    if (timeout_ms > 0)
        call->deadline = call->start + (uint64_t)timeout_ms;
    call_link(c, call);
    struct err e = {0};
    if (httpc_url_parse(url, &call->url, &e) < 0) {
        call_fail(call, "%s", e.msg);
    } else {
        struct httpc_url *u = &call->url;
        snprintf(call->key, sizeof(call->key), "%d %s %d", u->tls, u->host, u->port);
        bool v6 = strchr(u->host, ':') != NULL;
        bool dflt = u->port == (u->tls ? 443 : 80);
        buf_printf(&call->req, "POST %s HTTP/1.1\r\nHost: %s%s%s", u->path, v6 ? "[" : "", u->host,
                   v6 ? "]" : "");
        if (!dflt)
            buf_printf(&call->req, ":%d", u->port);
        buf_printf(&call->req,
                   "\r\nAccept: */*\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n",
                   len);
        buf_add(&call->req, body, len);
        call->state = CALL_QUEUED;
        schedule(c);
    }
    timer_update(c);
    return call;
}

static void call_set_paused(struct httpc_call *call, bool paused)
{
    if (!call || call->cancelled || call->state == CALL_FINISHED || call->paused == paused)
        return;
    call->paused = paused;
    struct httpc_conn *conn = call->conn;
    if (conn && conn_update_reading(conn) < 0)
        conn_fail(conn, "Recv failure: could not read");
    if (!call->c->closing)
        timer_update(call->c); /* a failure is handed out from the timer, never from here */
}

void httpc_pause(struct httpc_call *call)
{
    call_set_paused(call, true);
}

void httpc_resume(struct httpc_call *call)
{
    call_set_paused(call, false);
}

long httpc_call_status(const struct httpc_call *call)
{
    if (call->state == CALL_FINISHED)
        return call->status;
    return call->conn ? call->conn->parser.status : 0;
}

void httpc_cancel(struct httpc_call *call)
{
    if (!call || call->cancelled)
        return;
    struct httpc *c = call->c;
    call->cancelled = true;
    struct httpc_conn *conn = call->conn;
    if (conn) {
        /* half a response: the connection cannot carry another one */
        conn->call = NULL;
        call->conn = NULL;
        conn_close(conn);
    }
    if (call->linked)
        call_unlink(call);
    if (!call->in_cb)
        call_free(call);
    if (!c->closing) {
        schedule(c);
        timer_update(c);
    }
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
    SSL_CTX_free(c->ssl_ctx);
    free((char *)c->tls.ca_file);
    free((char *)c->tls.cert_file);
    free((char *)c->tls.key_file);
    free((char *)c->tls.server);
    free(c);
    if (cb)
        cb(data);
}

void httpc_close(struct httpc *c, void (*cb)(void *data), void *data)
{
    BUG_ON(c->closing);
    c->closing = true;
    c->close_cb = cb;
    c->close_data = data;
    while (c->calls)
        httpc_cancel(c->calls);
    while (c->conns)
        conn_close(c->conns);
    uv_timer_stop(&c->timer);
    c->pending_closes++;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}
