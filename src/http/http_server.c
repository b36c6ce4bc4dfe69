/* http_server.c — the HTTP/1.1 server on libuv: listeners (unix, tcp, tcp+TLS),
 * connections, keep-alive, in-order pipelining, response framing and error answers.
 *
 * Model: a connection serves one request at a time. Input is fed to the parser only while
 * no request is outstanding, so answers leave strictly in request order; bytes of pipelined
 * requests wait in the input buffer (reading pauses once it holds CONN_IN_MAX bytes).
 * Reading otherwise goes on during a request so that a peer that goes away (EOF, error) is
 * noticed and the request's on_close fires.
 *
 * Lifetimes: a connection owns two handles (stream, timer) and is freed in the close
 * callback of the last one; a request outlives its connection if the handler has not
 * answered yet (its conn pointer is then NULL and answers are dropped). The server is freed
 * when its last listener and connection handle has closed after http_server_close().
 * Closing after an answer is graceful: writes drain, the write side is shut down, input is
 * discarded for a short linger time, then the socket closes.
 *
 * Memory: idle connections hold no input buffer; the read buffer is one per server
 * (read callbacks never overlap on one loop thread). Output: at most one uv_write is in
 * flight per connection; bytes produced meanwhile are appended to one buffer (out) and go
 * as the next write, so many small stream chunks cost their bytes, not a request each.
 * `queued` counts both; it gates reading (write_high/write_low) and cuts streams
 * (stream_max). A connection therefore holds at most CONN_IN_MAX input, write_high plus
 * one answer of output (or a stream's cap), and its TLS state.
 *
 * Caps: each listener counts its connections and those that have not completed a request
 * yet (`authed` false); over a cap, a new connection is accepted into a throw-away handle
 * and closed, so the kernel's backlog never fills with connections nobody serves.
 *
 * http_server_new() sets SIGPIPE to SIG_IGN for the process (writes to a vanished peer
 * must fail with EPIPE, not kill the daemon).
 *
 * Thread: the loop thread that owns the server. */
#include "http/http_int.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define CONN_IN_MAX 65536     /* buffered unparsed input before reading pauses */
#define LINGER_MS 2000        /* after shutting down our side, wait this long for EOF */
#define LINGER_MAX (1u << 20) /* ... discarding at most this many input bytes */
#define CAP_WARN_MS 10000     /* one cap warning per listener per this time */

enum { TM_HEADER = 0, TM_BODY, TM_KICK, TM_LINGER, TM_STALL };

union http_stream_handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

struct http_listener {
    union http_stream_handle h;
    struct http_server *srv;
    struct ssl_ctx_st *tls;
    char *unix_path;                /* socket file we created, unlinked on close */
    char *name;                     /* the listen address, for logs */
    size_t nconns;                  /* connections accepted and not yet freed */
    size_t nunauth;                 /* ... of which have not completed a request */
    uint64_t warned_at, unreported; /* rate limit of the cap warning */
    bool warned;
    struct http_listener *next;
};

struct http_server {
    uv_loop_t *loop;
    struct http_limits lim;
    http_handler_cb handler;
    void *data;
    struct http_header *defs;
    size_t ndefs;
    struct http_listener *listeners;
    struct http_conn *conns;
    size_t handles; /* listeners + connections not yet freed */
    bool closing;
    void (*close_cb)(void *data);
    void *close_data;
    char *rdbuf;
    char date[40];
    time_t date_sec;
    size_t queued_peak;
    uint64_t refused, streams_cut;
};

struct http_conn {
    union http_stream_handle h;
    uv_timer_t timer;
    uv_shutdown_t shut;
    struct http_server *srv;
    struct http_conn *prev, *next;
    struct http_tls *tls;
    struct http_parser parser;
    struct buf in; /* plaintext input; bytes before in_off are consumed */
    size_t in_off;
    struct http_listener *lis; /* NULL once the listener is closed */
    struct http_ireq *cur;     /* the request being answered */
    struct buf out;            /* output waiting for the write in flight to complete */
    size_t queued;             /* output bytes not yet written: in flight + out */
    uint64_t written;          /* output bytes written so far */
    uint64_t timer_written;    /* `written` when the timer was started */
    size_t discarded;
    int open_handles;
    int timer_mode;
    bool reading, closing, draining, eof, shut_done, processing;
    bool write_busy;  /* a uv_write is in flight */
    bool blocked;     /* queued went above write_high and not yet back under write_low */
    bool authed;      /* a complete request was read */
    bool shut_wanted; /* draining: shut down once `out` has been handed to the socket */
};

struct http_wreq {
    uv_write_t w;
    struct http_conn *conn;
    char *data;
    size_t len;
};

static void conn_close(struct http_conn *c);
static void conn_drain(struct http_conn *c);
static void conn_shutdown(struct http_conn *c);
static void conn_process(struct http_conn *c);
static void conn_update_reading(struct http_conn *c);
static void timer_start(struct http_conn *c, int mode, uint64_t ms);

/* ---- server ---- */

struct http_server *http_server_new(uv_loop_t *loop, const struct http_limits *limits,
                                    http_handler_cb handler, void *data)
{
    /* libuv writes with write(2): a peer that went away must not kill the process */
    signal(SIGPIPE, SIG_IGN);
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->handler = handler;
    s->data = data;
    if (limits)
        s->lim = *limits;
    if (!s->lim.max_header_bytes)
        s->lim.max_header_bytes = 64 * 1024;
    if (!s->lim.max_body_bytes)
        s->lim.max_body_bytes = 16 * 1024 * 1024;
    if (!s->lim.header_timeout_ms)
        s->lim.header_timeout_ms = 30000;
    if (!s->lim.write_high)
        s->lim.write_high = 1024 * 1024;
    if (!s->lim.write_low || s->lim.write_low >= s->lim.write_high)
        s->lim.write_low = s->lim.write_high / 4;
    if (!s->lim.stream_max_queued)
        s->lim.stream_max_queued = 4 * 1024 * 1024;
    if (!s->lim.max_conns)
        s->lim.max_conns = 1024;
    if (!s->lim.max_unauth || s->lim.max_unauth > s->lim.max_conns)
        s->lim.max_unauth = s->lim.max_conns;
    return s;
}

/* Copies a header string with CR/LF replaced, so no value can split the response head. */
static char *header_dup(const char *s)
{
    char *d = xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    return d;
}

void http_server_add_default_header(struct http_server *s, const char *name, const char *value)
{
    s->defs = xrealloc(s->defs, (s->ndefs + 1) * sizeof(*s->defs));
    s->defs[s->ndefs++] = (struct http_header){header_dup(name), header_dup(value)};
}

static void server_maybe_done(struct http_server *s)
{
    if (!s->closing || s->handles)
        return;
    void (*cb)(void *) = s->close_cb;
    void *data = s->close_data;
    for (size_t i = 0; i < s->ndefs; i++) {
        free(s->defs[i].name);
        free(s->defs[i].value);
    }
    free(s->defs);
    free(s->rdbuf);
    free(s);
    if (cb)
        cb(data);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct http_listener *l = h->data;
    struct http_server *s = l->srv;
    for (struct http_listener **pp = &s->listeners; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (l->unix_path) {
        unlink(l->unix_path);
        free(l->unix_path);
    }
    if (l->tls)
        http_tls_ctx_free(l->tls);
    for (struct http_conn *c = s->conns; c; c = c->next)
        if (c->lis == l)
            c->lis = NULL;
    free(l->name);
    free(l);
    s->handles--;
    server_maybe_done(s);
}

void http_server_close(struct http_server *s, void (*cb)(void *data), void *data)
{
    BUG_ON(s->closing);
    s->closing = true;
    s->close_cb = cb;
    s->close_data = data;
    for (struct http_listener *l = s->listeners; l; l = l->next)
        if (!uv_is_closing(&l->h.handle))
            uv_close(&l->h.handle, on_listener_closed);
    for (struct http_conn *c = s->conns; c; c = c->next)
        conn_close(c);
    server_maybe_done(s);
}

/* ---- writing ---- */

/* Back-pressure: at write_high the connection stops reading and parsing requests; under
 * write_low it resumes (and goes on with pipelined input already buffered). */
static void conn_check_queue(struct http_conn *c)
{
    struct http_server *s = c->srv;
    if (c->queued > s->queued_peak)
        s->queued_peak = c->queued;
    if (!c->blocked && c->queued >= s->lim.write_high) {
        c->blocked = true;
        conn_update_reading(c);
    } else if (c->blocked && c->queued <= s->lim.write_low) {
        c->blocked = false;
        conn_update_reading(c);
        if (!c->closing && !c->draining && !c->cur && !c->processing && c->in.len > c->in_off)
            timer_start(c, TM_KICK, 0);
    }
}

static void on_write(uv_write_t *w, int status);

/* Hands the bytes of b (taken; b is left empty) to libuv as the one write in flight. */
static void start_write(struct http_conn *c, struct buf *b)
{
    struct http_wreq *wr = xmalloc(sizeof(*wr));
    wr->conn = c;
    wr->data = buf_detach(b, &wr->len);
    uv_buf_t ub = uv_buf_init(wr->data, (unsigned)wr->len);
    c->write_busy = true;
    int rc = uv_write(&wr->w, &c->h.stream, &ub, 1, on_write);
    if (rc < 0) {
        c->write_busy = false;
        c->queued -= wr->len;
        free(wr->data);
        free(wr);
        log_debug("http: write failed: %s", uv_strerror(rc));
        conn_close(c);
    }
}

static void on_write(uv_write_t *w, int status)
{
    struct http_wreq *wr = (struct http_wreq *)w;
    struct http_conn *c = wr->conn;
    c->queued -= wr->len;
    c->write_busy = false;
    if (status == 0)
        c->written += wr->len;
    free(wr->data);
    free(wr);
    if (c->closing)
        return;
    if (status < 0) {
        log_debug("http: write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    if (c->out.len) {
        start_write(c, &c->out);
        if (c->closing)
            return;
    }
    if (c->shut_wanted) {
        c->shut_wanted = false;
        conn_shutdown(c);
        if (c->closing)
            return;
    }
    conn_check_queue(c);
    struct http_ireq *r = c->cur;
    if (!c->closing && r && r->drain_cb && c->queued <= r->drain_low) {
        /* last: the callback may write, end the answer or close the connection */
        http_close_cb cb = r->drain_cb;
        r->drain_cb = NULL;
        cb(&r->pub, r->drain_data);
    }
}

/* Queues the bytes of b on the socket (takes them; b is left empty). */
static void raw_write(struct http_conn *c, struct buf *b)
{
    if (c->closing || !b->len) {
        buf_release(b);
        return;
    }
    c->queued += b->len;
    if (!c->write_busy) {
        start_write(c, b);
        if (c->closing)
            return;
    } else if (!c->out.len) {
        buf_release(&c->out);
        c->out = *b;
        *b = (struct buf)BUF_INIT;
    } else {
        buf_add(&c->out, b->p, b->len);
        buf_release(b);
    }
    conn_check_queue(c);
}

/* Sends plaintext b (taken) through TLS when the connection has it. */
static void conn_send(struct http_conn *c, struct buf *b)
{
    if (c->closing) {
        buf_release(b);
        return;
    }
    if (!c->tls) {
        raw_write(c, b);
        return;
    }
    struct buf out = BUF_INIT;
    int rc = http_tls_write(c->tls, b->p, b->len, &out);
    buf_release(b);
    raw_write(c, &out);
    if (rc < 0)
        conn_close(c);
}

static const char *server_date(struct http_server *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now != s->date_sec || !s->date[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(s->date, sizeof(s->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_sec = now;
    }
    return s->date;
}

enum { FRAME_LENGTH, FRAME_CHUNKED, FRAME_NONE };

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Response head: status line, default headers, Date, the request's headers, framing. */
static void build_head(struct http_conn *c, const struct http_ireq *r, int status,
                       const char *ctype, int framing, size_t len, bool close, struct buf *b)
{
    struct http_server *s = c->srv;
    buf_printf(b, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
    for (size_t i = 0; i < s->ndefs; i++)
        buf_printf(b, "%s: %s\r\n", s->defs[i].name, s->defs[i].value);
    buf_printf(b, "Date: %s\r\n", server_date(s));
    if (r)
        for (size_t i = 0; i < r->nresp; i++)
            buf_printf(b, "%s: %s\r\n", r->resp_hdrs[i].name, r->resp_hdrs[i].value);
    if (ctype)
        buf_printf(b, "Content-Type: %s\r\n", ctype);
    if (status_has_body(status)) {
        if (framing == FRAME_CHUNKED)
            buf_adds(b, "Transfer-Encoding: chunked\r\n");
        else if (framing == FRAME_LENGTH)
            buf_printf(b, "Content-Length: %zu\r\n", len);
    }
    if (close)
        buf_adds(b, "Connection: close\r\n");
    else if (r && r->pub.http_minor == 0)
        buf_adds(b, "Connection: keep-alive\r\n");
    buf_adds(b, "\r\n");
}

static void json_escape(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            buf_printf(b, "\\u%04x", *p);
        else
            buf_add(b, p, 1);
    }
}

/* Answers a request that could not be parsed and closes the connection. */
static void send_error(struct http_conn *c, int status, const char *msg)
{
    struct buf body = BUF_INIT, b = BUF_INIT;
    buf_adds(&body, "{\"message\":\"");
    json_escape(&body, msg);
    buf_adds(&body, "\"}\n");
    build_head(c, NULL, status, "application/json", FRAME_LENGTH, body.len, true, &b);
    buf_add(&b, body.p, body.len);
    buf_release(&body);
    conn_send(c, &b);
    conn_drain(c);
}

/* ---- connection lifetime ---- */

static void conn_free(struct http_conn *c)
{
    struct http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->lis) {
        c->lis->nconns--;
        if (!c->authed)
            c->lis->nunauth--;
    }
    struct http_ireq *r = c->cur;
    if (r) {
        r->conn = NULL;
        r->gone = true;
    }
    http_parser_release(&c->parser);
    buf_release(&c->in);
    buf_release(&c->out);
    http_tls_free(c->tls);
    free(c);
    s->handles--;
    if (r && r->close_cb && !r->close_fired) {
        r->close_fired = true;
        r->close_cb(&r->pub, r->close_data);
    }
    server_maybe_done(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->open_handles == 0)
        conn_free(c);
}

/* Closes now: pending writes are cancelled, input is dropped. Idempotent. */
static void conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close(&c->h.handle, on_conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    c->shut_done = true;
    timer_start(c, TM_LINGER, LINGER_MS);
}

/* Shuts down our side once every queued byte is in libuv's hands (libuv sends them first). */
static void conn_shutdown(struct http_conn *c)
{
    if (c->out.len) {
        c->shut_wanted = true; /* on_write comes back here */
        return;
    }
    c->shut.data = c;
    if (uv_shutdown(&c->shut, &c->h.stream, on_shutdown) < 0)
        conn_close(c);
}

/* Graceful close: no more requests; queued writes drain, then our side is shut down and the
 * socket closes when the peer's EOF arrives (or after the linger time). A peer that takes
 * none of the queued bytes for header_timeout_ms is closed without waiting further. */
static void conn_drain(struct http_conn *c)
{
    if (c->closing || c->draining)
        return;
    c->draining = true;
    if (c->tls) {
        struct buf out = BUF_INIT;
        http_tls_shutdown(c->tls, &out);
        raw_write(c, &out);
        if (c->closing)
            return;
    }
    timer_start(c, TM_STALL, c->srv->lim.header_timeout_ms);
    conn_shutdown(c);
}

/* True when queued output was being taken by the peer since the timer started. */
static bool conn_write_progress(const struct http_conn *c)
{
    return c->queued && c->written != c->timer_written;
}

static void on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->closing)
        return;
    switch (c->timer_mode) {
    case TM_HEADER:
        if (c->cur || !http_parser_in_headers(&c->parser))
            break;
        if (conn_write_progress(c)) {
            /* the previous answer is still being read: no request is expected yet */
            timer_start(c, TM_HEADER, c->srv->lim.header_timeout_ms);
            break;
        }
        log_debug("http: %s, closing connection",
                  c->queued ? "peer does not read its answers" : "header timeout");
        conn_close(c);
        break;
    case TM_STALL:
        if (c->shut_done)
            break; /* TM_LINGER has taken over */
        if (conn_write_progress(c)) {
            timer_start(c, TM_STALL, c->srv->lim.header_timeout_ms);
            break;
        }
        if (c->queued) {
            log_debug("http: peer does not read its answer, closing connection");
            conn_close(c);
        }
        break;
    case TM_BODY:
        log_debug("http: request body timeout, closing connection");
        conn_close(c);
        break;
    case TM_KICK:
        timer_start(c, TM_HEADER, c->srv->lim.header_timeout_ms);
        conn_process(c);
        break;
    case TM_LINGER:
        conn_close(c);
        break;
    }
}

static void timer_start(struct http_conn *c, int mode, uint64_t ms)
{
    if (c->closing)
        return;
    c->timer_mode = mode;
    c->timer_written = c->written;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = h->data;
    struct http_server *s = c->srv;
    (void)suggested;
    if (!s->rdbuf)
        s->rdbuf = xmalloc(READ_CHUNK);
    *buf = uv_buf_init(s->rdbuf, READ_CHUNK);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Reads while there is room for input and the peer takes its answers; pauses when pipelined
 * input piles up or output is blocked. */
static void conn_update_reading(struct http_conn *c)
{
    if (c->closing || c->eof)
        return;
    bool want = c->draining || (!c->blocked && c->in.len - c->in_off < CONN_IN_MAX);
    if (want && !c->reading) {
        if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
            c->reading = true;
        else
            conn_close(c);
    } else if (!want && c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

/* Feeds buffered input to the parser and dispatches complete requests, one at a time. */
static void conn_process(struct http_conn *c)
{
    if (c->processing)
        return;
    c->processing = true;
    struct http_server *s = c->srv;
    while (!c->closing && !c->draining && !c->cur && !c->blocked && c->in.len > c->in_off) {
        size_t used = 0;
        int rc = http_parser_feed(&c->parser, c->in.p + c->in_off, c->in.len - c->in_off, &used);
        c->in_off += used;
        if (rc == HTTP_PARSE_ERROR) {
            log_debug("http: bad request (%d): %s", c->parser.err_status, c->parser.err_msg);
            send_error(c, c->parser.err_status, c->parser.err_msg);
            break;
        }
        if (rc == HTTP_PARSE_MORE) {
            /* reading a body: the same time limit applies between two reads */
            if (!http_parser_in_headers(&c->parser))
                timer_start(c, TM_BODY, s->lim.header_timeout_ms);
            if (http_parser_want_continue(&c->parser)) {
                struct buf b = BUF_INIT;
                buf_adds(&b, "HTTP/1.1 100 Continue\r\n\r\n");
                conn_send(c, &b);
            }
            break;
        }
        struct http_ireq *r = http_parser_take(&c->parser);
        uv_timer_stop(&c->timer);
        if (!c->authed) {
            c->authed = true;
            if (c->lis)
                c->lis->nunauth--;
        }
        r->conn = c;
        r->stream_max = s->lim.stream_max_queued;
        if (c->tls) {
            const char *v;
            if ((v = http_tls_peer_cn(c->tls)))
                r->peer_cn = xstrdup(v);
            if ((v = http_tls_peer_ou(c->tls)))
                r->peer_ou = xstrdup(v);
            if ((v = http_tls_peer_org(c->tls)))
                r->peer_org = xstrdup(v);
        }
        c->cur = r;
        s->handler(&r->pub, s->data);
    }
    /* input bookkeeping: free the buffer when empty, compact when mostly consumed */
    if (c->in_off == c->in.len) {
        buf_release(&c->in);
        c->in_off = 0;
    } else if (c->in_off > 0) {
        buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    c->processing = false;
    /* waiting for the next request: the header timer runs (it is not restarted by partial
     * input, so a slow sender cannot stretch it) */
    if (!c->cur && !c->closing && !c->draining && http_parser_in_headers(&c->parser) &&
        !uv_is_active((uv_handle_t *)&c->timer))
        timer_start(c, TM_HEADER, s->lim.header_timeout_ms);
    if (c->eof && !c->closing && !c->draining && !(c->blocked && c->in.len > c->in_off)) {
        /* the peer is gone (or half-closed: then once its buffered requests are answered,
         * which a blocked queue only postpones): an outstanding request learns it through
         * on_close */
        if (c->cur)
            conn_close(c);
        else
            conn_drain(c);
    }
    conn_update_reading(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = st->data;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        uv_read_stop(st);
        c->reading = false;
        c->eof = true;
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        if (c->draining) {
            if (c->shut_done)
                conn_close(c);
            return;
        }
        conn_process(c);
        return;
    }
    if (c->draining) {
        /* lingering: discard input until EOF */
        c->discarded += (size_t)nread;
        if (c->discarded > LINGER_MAX)
            conn_close(c);
        return;
    }
    if (c->tls) {
        struct buf out = BUF_INIT;
        int rc = http_tls_feed(c->tls, buf->base, (size_t)nread, &c->in, &out);
        raw_write(c, &out);
        if (rc < 0) {
            conn_drain(c); /* lets the alert go out */
            return;
        }
        if (rc == 1)
            c->eof = true;
    } else {
        buf_add(&c->in, buf->base, (size_t)nread);
    }
    conn_process(c);
}

/* ---- accepting ---- */

/* Logs a warning about listener l, at most one per CAP_WARN_MS; the next one tells how many
 * were held back. */
static void listener_warn(struct http_listener *l, const char *what)
{
    uint64_t now = uv_now(l->srv->loop);
    if (l->warned && now - l->warned_at < CAP_WARN_MS) {
        l->unreported++;
        return;
    }
    if (l->unreported)
        log_warn("http: listener %s: %s (%" PRIu64 " more since the last warning)", l->name, what,
                 l->unreported);
    else
        log_warn("http: listener %s: %s", l->name, what);
    l->warned = true;
    l->warned_at = now;
    l->unreported = 0;
}

static void on_refused_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    free(h);
    s->handles--;
    server_maybe_done(s);
}

/* Accepts the pending connection and closes it at once (libuv stops accepting on a listener
 * whose pending connection is left alone, which would stall every later one too). */
static void listener_refuse(struct http_listener *l, const char *what)
{
    struct http_server *s = l->srv;
    union http_stream_handle *h = xmalloc(sizeof(*h));
    if (l->h.handle.type == UV_TCP)
        uv_tcp_init(s->loop, &h->tcp);
    else
        uv_pipe_init(s->loop, &h->pipe, 0);
    h->handle.data = s;
    s->handles++;
    s->refused++;
    uv_accept(&l->h.stream, &h->stream); /* on failure there is nothing to close but h */
    uv_close(&h->handle, on_refused_closed);
    listener_warn(l, what);
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct http_listener *l = ls->data;
    struct http_server *s = l->srv;
    char what[128];
    if (status < 0) {
        snprintf(what, sizeof(what), "accept: %s", uv_strerror(status));
        listener_warn(l, what);
        return;
    }
    if (s->closing)
        return;
    if (l->nconns >= s->lim.max_conns) {
        snprintf(what, sizeof(what), "connection cap %zu reached, refusing", s->lim.max_conns);
        listener_refuse(l, what);
        return;
    }
    if (l->nunauth >= s->lim.max_unauth) {
        snprintf(what, sizeof(what), "unauthenticated connection cap %zu reached, refusing",
                 s->lim.max_unauth);
        listener_refuse(l, what);
        return;
    }
    struct http_conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->lis = l;
    l->nconns++;
    l->nunauth++;
    if (l->h.handle.type == UV_TCP)
        uv_tcp_init(s->loop, &c->h.tcp);
    else
        uv_pipe_init(s->loop, &c->h.pipe, 0);
    uv_timer_init(s->loop, &c->timer);
    c->h.handle.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    http_parser_init(&c->parser, s->lim.max_header_bytes, s->lim.max_body_bytes);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->handles++;
    int rc = uv_accept(ls, &c->h.stream);
    if (rc < 0) {
        snprintf(what, sizeof(what), "accept: %s", uv_strerror(rc));
        listener_warn(l, what);
        conn_close(c);
        return;
    }
    if (l->h.handle.type == UV_TCP) {
        uv_tcp_nodelay(&c->h.tcp, 1);
        uv_tcp_keepalive(&c->h.tcp, 1, 60);
    }
    if (l->tls)
        c->tls = http_tls_new(l->tls);
    timer_start(c, TM_HEADER, s->lim.header_timeout_ms);
    conn_update_reading(c);
}

/* ---- listening ---- */

static struct http_listener *listener_new(struct http_server *s, const char *scheme,
                                          const char *where)
{
    struct http_listener *l = xcalloc(1, sizeof(*l));
    l->srv = s;
    l->name = xasprintf("%s%s", scheme, where);
    s->handles++;
    return l;
}

/* Closes a listener that failed to start (its handle is initialised). */
static void listener_abort(struct http_listener *l)
{
    free(l->unix_path);
    l->unix_path = NULL;
    uv_close(&l->h.handle, on_listener_closed);
}

static int listen_unix(struct http_server *s, const char *path, struct err *e)
{
    if (path[0] != '/')
        return err_set(e, ERR_INVALID, "unix socket path must be absolute: %s", path);
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return err_set(e, ERR_INVALID, "unix socket path too long: %s", path);
    const char *slash = strrchr(path, '/');
    if (slash > path) {
        char *dir = xstrndup(path, (size_t)(slash - path));
        int rc = dir_make(dir, 0755, e);
        free(dir);
        if (rc < 0)
            return err_wrap(e, "listen %s", path);
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return err_set(e, ERR_INVALID, "listen %s: exists and is not a socket", path);
        if (unlink(path) < 0)
            return err_set(e, ERR_INTERNAL, "listen %s: unlink: %s", path, strerror(errno));
    }
    struct http_listener *l = listener_new(s, "unix://", path);
    uv_pipe_init(s->loop, &l->h.pipe, 0);
    l->h.handle.data = l;
    int rc = uv_pipe_bind(&l->h.pipe, path);
    if (rc < 0) {
        listener_abort(l);
        return err_set(e, ERR_INTERNAL, "listen %s: %s", path, uv_strerror(rc));
    }
    l->unix_path = xstrdup(path);
    if (chmod(path, 0660) < 0) {
        rc = -errno;
        listener_abort(l);
        unlink(path);
        return err_set(e, ERR_INTERNAL, "listen %s: chmod: %s", path, strerror(-rc));
    }
    rc = uv_listen(&l->h.stream, 511, on_connection);
    if (rc < 0) {
        unlink(path);
        listener_abort(l);
        return err_set(e, ERR_INTERNAL, "listen %s: %s", path, uv_strerror(rc));
    }
    l->next = s->listeners;
    s->listeners = l;
    return 0;
}

static int resolve_host(uv_loop_t *loop, const char *host, int port, struct sockaddr_storage *ss,
                        struct err *e)
{
    memset(ss, 0, sizeof(*ss));
    if (!host[0])
        host = "0.0.0.0";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    /* a name: resolve synchronously (listening happens at start-up) */
    uv_getaddrinfo_t gai;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &gai, NULL, host, NULL, &hints);
    if (rc < 0)
        return err_set(e, ERR_INVALID, "resolve %s: %s", host, uv_strerror(rc));
    struct addrinfo *ai = gai.addrinfo;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    uv_freeaddrinfo(ai);
    return 0;
}

static int listen_tcp(struct http_server *s, const char *hostport,
                      const struct http_tls_config *tls, struct err *e)
{
    char *host;
    const char *portstr;
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (!close || close[1] != ':')
            return err_set(e, ERR_INVALID, "invalid address tcp://%s", hostport);
        host = xstrndup(hostport + 1, (size_t)(close - hostport - 1));
        portstr = close + 2;
    } else {
        const char *colon = strrchr(hostport, ':');
        if (!colon || strchr(hostport, ':') != colon)
            return err_set(e, ERR_INVALID, "invalid address tcp://%s", hostport);
        host = xstrndup(hostport, (size_t)(colon - hostport));
        portstr = colon + 1;
    }
    char *end = NULL;
    long port = strtol(portstr, &end, 10);
    if (!portstr[0] || *end || port < 0 || port > 65535) {
        free(host);
        return err_set(e, ERR_INVALID, "invalid port in tcp://%s", hostport);
    }
    struct sockaddr_storage ss;
    int rc = resolve_host(s->loop, host, (int)port, &ss, e);
    free(host);
    if (rc < 0)
        return rc;
    struct ssl_ctx_st *ctx = NULL;
    if (tls && (rc = http_tls_ctx_new(tls, &ctx, e)) < 0)
        return rc;
    struct http_listener *l = listener_new(s, "tcp://", hostport);
    l->tls = ctx;
    uv_tcp_init(s->loop, &l->h.tcp);
    l->h.handle.data = l;
    rc = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen(&l->h.stream, 511, on_connection);
    if (rc < 0) {
        listener_abort(l);
        return err_set(e, ERR_INTERNAL, "listen tcp://%s: %s", hostport, uv_strerror(rc));
    }
    l->next = s->listeners;
    s->listeners = l;
    return 0;
}

int http_server_reload_tls(struct http_server *s, const struct http_tls_config *tls, struct err *e)
{
    for (struct http_listener *l = s->listeners; l; l = l->next) {
        if (!l->tls)
            continue;
        struct ssl_ctx_st *ctx = NULL;
        int rc = http_tls_ctx_new(tls, &ctx, e);
        if (rc < 0)
            return rc;
        http_tls_ctx_free(l->tls); /* live connections hold their own reference */
        l->tls = ctx;
    }
    return 0;
}

void http_server_get_stats(const struct http_server *s, struct http_server_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (const struct http_conn *c = s->conns; c; c = c->next) {
        st->conns++;
        st->unauth += !c->authed;
        st->queued += c->queued;
        st->blocked += c->blocked;
    }
    st->queued_peak = s->queued_peak;
    st->refused = s->refused;
    st->streams_cut = s->streams_cut;
}

int http_server_listen(struct http_server *s, const char *addr, const struct http_tls_config *tls,
                       struct err *e)
{
    BUG_ON(s->closing);
    if (str_has_prefix(addr, "unix://")) {
        if (tls)
            return err_set(e, ERR_INVALID, "TLS is not supported on unix sockets: %s", addr);
        return listen_unix(s, addr + 7, e);
    }
    if (str_has_prefix(addr, "tcp://"))
        return listen_tcp(s, addr + 6, tls, e);
    return err_set(e, ERR_INVALID, "unsupported listen address %s", addr);
}

/* ---- request accessors and answers ---- */

static struct http_ireq *ireq(struct http_req *req)
{
    return (struct http_ireq *)req;
}

const char *http_req_peer_cn(const struct http_req *req)
{
    return ((const struct http_ireq *)req)->peer_cn;
}

const char *http_req_peer_ou(const struct http_req *req)
{
    return ((const struct http_ireq *)req)->peer_ou;
}

const char *http_req_peer_org(const struct http_req *req)
{
    return ((const struct http_ireq *)req)->peer_org;
}

void http_req_peer_ip(const struct http_req *req, char *buf, size_t cap)
{
    const struct http_conn *c = ((const struct http_ireq *)req)->conn;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    buf[0] = '\0';
    if (!c || c->h.handle.type != UV_TCP ||
        uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    uv_ip_name((const struct sockaddr *)&ss, buf, cap);
}

void http_req_on_close(struct http_req *req, http_close_cb cb, void *data)
{
    struct http_ireq *r = ireq(req);
    r->close_cb = cb;
    r->close_data = data;
    if (r->gone && cb && !r->close_fired) {
        r->close_fired = true;
        cb(req, data);
    }
}

void http_add_header(struct http_req *req, const char *name, const char *value)
{
    struct http_ireq *r = ireq(req);
    BUG_ON(r->rstate != HTTP_RS_NONE);
    if (r->nresp == r->resp_cap) {
        r->resp_cap = r->resp_cap ? r->resp_cap * 2 : 4;
        r->resp_hdrs = xrealloc(r->resp_hdrs, r->resp_cap * sizeof(*r->resp_hdrs));
    }
    r->resp_hdrs[r->nresp++] = (struct http_header){header_dup(name), header_dup(value)};
}

/* The answer is complete: the request goes, the connection moves on. */
static void req_finish(struct http_ireq *r)
{
    struct http_conn *c = r->conn;
    bool keep = r->keep_alive;
    if (c) {
        BUG_ON(c->cur != r);
        c->cur = NULL;
    }
    http_ireq_free(r);
    if (!c || c->closing)
        return;
    if (!keep || c->srv->closing) {
        conn_drain(c);
        return;
    }
    if (c->processing)
        return; /* conn_process() goes on with the next request */
    if (c->in.len > c->in_off)
        timer_start(c, TM_KICK, 0); /* pipelined input: continue from the loop, not here */
    else
        timer_start(c, TM_HEADER, c->srv->lim.header_timeout_ms);
}

void http_respond(struct http_req *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    struct http_ireq *r = ireq(req);
    BUG_ON(r->rstate != HTTP_RS_NONE);
    r->rstate = HTTP_RS_DONE;
    struct http_conn *c = r->conn;
    if (c && !c->closing) {
        struct buf b = BUF_INIT;
        bool close = !r->keep_alive || c->srv->closing;
        build_head(c, r, status, content_type, FRAME_LENGTH, len, close, &b);
        if (!r->is_head && status_has_body(status) && len)
            buf_add(&b, body, len);
        conn_send(c, &b);
    }
    req_finish(r);
}

void http_stream_begin(struct http_req *req, int status, const char *content_type)
{
    struct http_ireq *r = ireq(req);
    BUG_ON(r->rstate != HTTP_RS_NONE);
    r->rstate = HTTP_RS_STREAMING;
    if (r->pub.http_minor == 0) {
        /* no chunked coding for HTTP/1.0: raw bytes, the close marks the end */
        r->stream_raw = true;
        r->keep_alive = false;
    }
    struct http_conn *c = r->conn;
    if (!c || c->closing)
        return;
    struct buf b = BUF_INIT;
    build_head(c, r, status, content_type, r->stream_raw ? FRAME_NONE : FRAME_CHUNKED, 0,
               !r->keep_alive || c->srv->closing, &b);
    conn_send(c, &b);
}

int http_stream_write(struct http_req *req, const void *data, size_t len)
{
    struct http_ireq *r = ireq(req);
    BUG_ON(r->rstate != HTTP_RS_STREAMING);
    struct http_conn *c = r->conn;
    if (!c || c->closing)
        return -1;
    if (!len || r->is_head)
        return 0;
    struct buf b = BUF_INIT;
    buf_reserve(&b, len + 24);
    if (r->stream_raw) {
        buf_add(&b, data, len);
    } else {
        buf_printf(&b, "%zx\r\n", len);
        buf_add(&b, data, len);
        buf_adds(&b, "\r\n");
    }
    conn_send(c, &b);
    if (!c->closing && c->queued > r->stream_max) {
        /* the peer does not keep up: cut it rather than buffer without end (dockerd drops
         * events for a subscriber that is 1,024 behind; a cut at least tells the client) */
        log_info("http: %s %s: client does not read, %zu bytes queued (cap %zu): closing",
                 r->pub.method, r->pub.path, c->queued, r->stream_max);
        c->srv->streams_cut++;
        conn_close(c);
    }
    return c->closing ? -1 : 0;
}

size_t http_stream_queued(const struct http_req *req)
{
    const struct http_conn *c = ((const struct http_ireq *)req)->conn;
    return c && !c->closing ? c->queued : 0;
}

bool http_stream_on_drain(struct http_req *req, size_t low, http_close_cb cb, void *data)
{
    struct http_ireq *r = ireq(req);
    r->drain_cb = NULL;
    if (!cb || http_stream_queued(req) <= low)
        return false;
    r->drain_cb = cb;
    r->drain_data = data;
    r->drain_low = low;
    return true;
}

void http_stream_limit(struct http_req *req, size_t max_queued)
{
    ireq(req)->stream_max = max_queued;
}

void http_stream_end(struct http_req *req)
{
    struct http_ireq *r = ireq(req);
    BUG_ON(r->rstate != HTTP_RS_STREAMING);
    r->rstate = HTTP_RS_DONE;
    struct http_conn *c = r->conn;
    if (c && !c->closing && !r->is_head && !r->stream_raw) {
        struct buf b = BUF_INIT;
        buf_adds(&b, "0\r\n\r\n");
        conn_send(c, &b);
    }
    req_finish(r);
}
