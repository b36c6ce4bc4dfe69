/* test_http_server.c — the HTTP server on a real libuv loop. The server runs on the test's
 * loop thread; clients are plain blocking sockets in a second thread (or, for TLS, an
 * OpenSSL client in a forked child) that check the bytes on the wire. Every test ends with
 * the server closed and uv_loop_close() == 0; LSan checks that nothing leaks. */
#include "harness.h"
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture: server on a unix socket in a temp dir, client in a thread ---- */

struct fixture {
    uv_loop_t loop;
    struct http_server *srv;
    char dir[64];
    char sock[100];
    char addr[120];
    uv_async_t done;
    pthread_t th;
    void (*client)(struct fixture *f);
    bool srv_closed, srv_freed;
    /* tests that watch the server's counters: copied into g_stats each loop iteration */
    bool watch;
    uv_prepare_t stats_h; /* before the loop blocks: sees every change, closes included */
    /* TLS tests: forked client */
    uv_timer_t reap;
    pid_t child;
    int child_status;
    int port, port4;
};

static struct fixture *g_fx;
static int g_close_count;
static int g_handled;
static struct http_server_stats g_stats; /* written by the loop thread, read with atomics */

static int atomic_get(int *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void on_server_freed(void *data)
{
    struct fixture *f = data;
    f->srv_freed = true;
}

static void fixture_close_server(struct fixture *f)
{
    if (f->srv_closed)
        return;
    f->srv_closed = true;
    http_server_close(f->srv, on_server_freed, f);
}

static void publish_stats(uv_prepare_t *h)
{
    struct fixture *f = h->data;
    struct http_server_stats st;
    if (f->srv_closed)
        return;
    http_server_get_stats(f->srv, &st);
    __atomic_store(&g_stats.conns, &st.conns, __ATOMIC_SEQ_CST);
    __atomic_store(&g_stats.unauth, &st.unauth, __ATOMIC_SEQ_CST);
    __atomic_store(&g_stats.queued, &st.queued, __ATOMIC_SEQ_CST);
    __atomic_store(&g_stats.queued_peak, &st.queued_peak, __ATOMIC_SEQ_CST);
    __atomic_store(&g_stats.blocked, &st.blocked, __ATOMIC_SEQ_CST);
    __atomic_store(&g_stats.refused, &st.refused, __ATOMIC_SEQ_CST);
    __atomic_store(&g_stats.streams_cut, &st.streams_cut, __ATOMIC_SEQ_CST);
}

static void on_client_done(uv_async_t *a)
{
    struct fixture *f = a->data;
    if (f->watch)
        uv_close((uv_handle_t *)&f->stats_h, NULL);
    fixture_close_server(f);
    uv_close((uv_handle_t *)a, NULL);
}

static void handler(struct http_req *req, void *data);

static void fixture_start(struct fixture *f, const struct http_limits *lim)
{
    memset(f, 0, sizeof(*f));
    g_fx = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-http-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/run/sub/api.sock", f->dir);
    snprintf(f->addr, sizeof(f->addr), "unix://%s", f->sock);
    ASSERT_EQ_INT(uv_loop_init(&f->loop), 0);
    f->srv = http_server_new(&f->loop, lim, handler, f);
    http_server_add_default_header(f->srv, "Api-Version", "1.41");
    struct err e = {0};
    if (http_server_listen(f->srv, f->addr, NULL, &e) < 0)
        FAIL_AT("listen: %s", e.msg);
}

static void *client_main(void *arg)
{
    struct fixture *f = arg;
    f->client(f);
    uv_async_send(&f->done);
    return NULL;
}

/* Runs the loop until the client thread is done and the server has closed. */
static void fixture_run(struct fixture *f, void (*client)(struct fixture *f))
{
    f->client = client;
    uv_async_init(&f->loop, &f->done, on_client_done);
    f->done.data = f;
    if (f->watch) {
        uv_prepare_init(&f->loop, &f->stats_h);
        f->stats_h.data = f;
        uv_prepare_start(&f->stats_h, publish_stats);
    }
    ASSERT_EQ_INT(pthread_create(&f->th, NULL, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(f->th, NULL);
}

static void fixture_end(struct fixture *f)
{
    ASSERT_TRUE(f->srv_freed);
    ASSERT_EQ_INT(uv_loop_close(&f->loop), 0);
    struct err e;
    dir_remove_all(f->dir, &e);
}

/* ---- handler ---- */

enum { K_ASYNC, K_STREAM, K_FOREVER, K_HOLD, K_FLOOD, K_PACED };

struct pending {
    uv_timer_t t;
    struct http_req *req;
    int kind;
    int step;
};

static void pending_closed(uv_handle_t *h)
{
    free(h->data);
}

static void pending_done(struct pending *p)
{
    uv_timer_stop(&p->t);
    uv_close((uv_handle_t *)&p->t, pending_closed);
}

/* K_PACED: a producer that waits for the client (as a relay does): it writes while at most
 * PACED_HIGH is queued, then waits for the queue to drain to PACED_LOW. */
#define PACED_CHUNK 32768
#define PACED_HIGH (128 * 1024)
#define PACED_LOW (32 * 1024)
#define PACED_TOTAL 200
static int g_paced_waits;

static void paced_fill(struct http_req *req, void *data)
{
    struct pending *p = data;
    static char chunk[PACED_CHUNK];
    memset(chunk, 'p', sizeof(chunk));
    while (p->step < PACED_TOTAL) {
        if (http_stream_queued(req) > PACED_HIGH) {
            ASSERT_TRUE(http_stream_on_drain(req, PACED_LOW, paced_fill, p));
            __atomic_add_fetch(&g_paced_waits, 1, __ATOMIC_SEQ_CST);
            return;
        }
        ASSERT_EQ_INT(http_stream_write(req, chunk, sizeof(chunk)), 0);
        p->step++;
    }
    http_stream_end(req);
    pending_done(p);
}

static void on_req_close(struct http_req *req, void *data)
{
    struct pending *p = data;
    __atomic_add_fetch(&g_close_count, 1, __ATOMIC_SEQ_CST);
    if (p->kind == K_HOLD)
        http_respond(req, 200, "text/plain", "late", 4); /* dropped */
    else
        http_stream_end(req);
    pending_done(p);
}

static void on_pending_timer(uv_timer_t *t)
{
    struct pending *p = t->data;
    struct http_req *req = p->req;
    switch (p->kind) {
    case K_ASYNC: {
        char *s = xasprintf("async %s", req->query);
        http_respond(req, 200, "text/plain", s, strlen(s));
        free(s);
        pending_done(p);
        break;
    }
    case K_STREAM:
        if (p->step == 0) {
            ASSERT_EQ_INT(http_stream_write(req, "hello", 5), 0);
        } else if (p->step == 1) {
            ASSERT_EQ_INT(http_stream_write(req, "world!", 6), 0);
        } else {
            http_stream_end(req);
            pending_done(p);
        }
        p->step++;
        break;
    case K_FOREVER:
        http_stream_write(req, "tick\n", 5);
        break;
    case K_FLOOD: {
        /* a producer that cannot wait (like events): writes whatever the client takes */
        static char chunk[32768];
        memset(chunk, 'f', sizeof(chunk));
        http_stream_write(req, chunk, sizeof(chunk));
        break;
    }
    case K_PACED:
        uv_timer_stop(&p->t);
        paced_fill(req, p);
        break;
    case K_HOLD:
        /* the server goes away while this request is outstanding */
        fixture_close_server(g_fx);
        break;
    }
}

static void start_pending(struct http_req *req, int kind, uint64_t ms, uint64_t repeat)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->req = req;
    p->kind = kind;
    uv_timer_init(&g_fx->loop, &p->t);
    p->t.data = p;
    if (kind != K_ASYNC)
        http_req_on_close(req, on_req_close, p);
    uv_timer_start(&p->t, on_pending_timer, ms, repeat);
}

static void handler(struct http_req *req, void *data)
{
    ASSERT_TRUE(data == g_fx);
    __atomic_add_fetch(&g_handled, 1, __ATOMIC_SEQ_CST);
    if (!strcmp(req->path, "/echo")) {
        char *s = xasprintf("%s %s %s %s", req->method, req->path, req->query, req->body);
        http_add_header(req, "X-Echo", "yes");
        http_respond(req, 200, "text/plain", s, strlen(s));
        free(s);
    } else if (!strcmp(req->path, "/async")) {
        char *ms = http_query_get(req, "ms");
        start_pending(req, K_ASYNC, ms ? strtoull(ms, NULL, 10) : 10, 0);
        free(ms);
    } else if (!strcmp(req->path, "/stream")) {
        http_stream_begin(req, 200, "application/json");
        start_pending(req, K_STREAM, 5, 5);
    } else if (!strcmp(req->path, "/forever")) {
        http_stream_begin(req, 200, "text/plain");
        http_stream_write(req, "first\n", 6);
        start_pending(req, K_FOREVER, 20, 20);
    } else if (!strcmp(req->path, "/paced")) {
        http_stream_begin(req, 200, "application/octet-stream");
        start_pending(req, K_PACED, 1, 0);
    } else if (!strcmp(req->path, "/flood")) {
        http_stream_begin(req, 200, "application/octet-stream");
        start_pending(req, K_FLOOD, 1, 1);
    } else if (!strcmp(req->path, "/big")) {
        char *n = http_query_get(req, "n");
        size_t len = strtoul(n, NULL, 10);
        char *body = xmalloc(len);
        memset(body, 'b', len);
        http_add_header(req, "X-Query", req->query);
        http_respond(req, 200, "application/octet-stream", body, len);
        free(body);
        free(n);
    } else if (!strcmp(req->path, "/hold")) {
        start_pending(req, K_HOLD, 30, 0);
    } else if (!strcmp(req->path, "/status")) {
        char *code = http_query_get(req, "code");
        http_respond(req, atoi(code), NULL, "", 0);
        free(code);
    } else if (!strcmp(req->path, "/peer")) {
        const char *cn = http_req_peer_cn(req), *ou = http_req_peer_ou(req),
                   *o = http_req_peer_org(req);
        char *s = xasprintf("cn=%s ou=%s o=%s", cn ? cn : "-", ou ? ou : "-", o ? o : "-");
        http_respond(req, 200, "text/plain", s, strlen(s));
        free(s);
    } else {
        const char *m = "{\"message\":\"page not found\"}\n";
        http_respond(req, 404, "application/json", m, strlen(m));
    }
}

/* ---- blocking client ---- */

struct cli {
    int fd;
    struct buf in;
};

struct resp {
    int status;
    char *head;
    struct buf body; /* decoded */
    struct buf raw;  /* body bytes as on the wire */
};

static void set_timeout(int fd)
{
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void cli_open_path(struct cli *c, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        FAIL_AT("connect %s: %s", path, strerror(errno));
    set_timeout(c->fd);
}

static void cli_open(struct cli *c, struct fixture *f)
{
    cli_open_path(c, f->sock);
}

static void cli_close(struct cli *c)
{
    close(c->fd);
    buf_release(&c->in);
}

static void cli_send(struct cli *c, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            FAIL_AT("send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static void cli_sends(struct cli *c, const char *s)
{
    cli_send(c, s, strlen(s));
}

static int cli_fill(struct cli *c)
{
    char tmp[8192];
    ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
    if (n > 0)
        buf_add(&c->in, tmp, (size_t)n);
    return (int)n;
}

static int cli_need(struct cli *c, size_t n)
{
    while (c->in.len < n)
        if (cli_fill(c) <= 0)
            return -1;
    return 0;
}

static long cli_find(struct cli *c, const char *pat)
{
    for (;;) {
        if (c->in.len) {
            char *p = memmem(c->in.p, c->in.len, pat, strlen(pat));
            if (p)
                return p - c->in.p;
        }
        if (cli_fill(c) <= 0)
            return -1;
    }
}

/* True when the server closed the connection (no more bytes, then EOF). */
static bool cli_eof(struct cli *c)
{
    if (c->in.len)
        return false;
    return cli_fill(c) == 0;
}

static void resp_free(struct resp *r)
{
    free(r->head);
    buf_release(&r->body);
    buf_release(&r->raw);
    memset(r, 0, sizeof(*r));
}

static void cli_response(struct cli *c, bool head_req, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    long e = cli_find(c, "\r\n\r\n");
    if (e < 0)
        FAIL_AT("no response head (got %zu bytes: %.*s)", c->in.len, (int)c->in.len,
                c->in.p ? c->in.p : "");
    size_t hl = (size_t)e + 4;
    r->head = xstrndup(c->in.p, hl);
    ASSERT_TRUE(str_has_prefix(r->head, "HTTP/1.1 "));
    r->status = atoi(r->head + 9);
    buf_consume(&c->in, hl);
    const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
    bool chunked = strcasestr(r->head, "\r\nTransfer-Encoding: chunked\r\n") != NULL;
    if (head_req || r->status == 204 || r->status == 304 || r->status < 200)
        return;
    if (cl) {
        size_t n = strtoul(cl + 18, NULL, 10);
        if (cli_need(c, n) < 0)
            FAIL_AT("short body");
        buf_add(&r->body, c->in.p, n);
        buf_add(&r->raw, c->in.p, n);
        buf_consume(&c->in, n);
    } else if (chunked) {
        for (;;) {
            long le = cli_find(c, "\r\n");
            if (le < 0)
                FAIL_AT("short chunk line");
            size_t size = strtoul(c->in.p, NULL, 16);
            size_t total = (size_t)le + 2 + size + 2;
            if (cli_need(c, total) < 0)
                FAIL_AT("short chunk");
            buf_add(&r->raw, c->in.p, total);
            buf_add(&r->body, c->in.p + le + 2, size);
            buf_consume(&c->in, total);
            if (size == 0)
                break;
        }
    } else {
        while (cli_fill(c) > 0)
            ;
        buf_add(&r->body, c->in.p, c->in.len);
        buf_reset(&c->in);
    }
}

/* ---- tests ---- */

static void client_keepalive(struct fixture *f)
{
    struct cli c;
    struct resp r;
    cli_open(&c, f);
    cli_sends(&c, "GET /echo?x=1 HTTP/1.1\r\nHost: docker\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(str_has_prefix(r.head, "HTTP/1.1 200 OK\r\n"));
    ASSERT_CONTAINS(r.head, "\r\nApi-Version: 1.41\r\n");
    ASSERT_CONTAINS(r.head, "\r\nDate: ");
    ASSERT_CONTAINS(r.head, " GMT\r\n");
    ASSERT_CONTAINS(r.head, "\r\nX-Echo: yes\r\n");
    ASSERT_CONTAINS(r.head, "\r\nContent-Type: text/plain\r\n");
    ASSERT_CONTAINS(r.head, "\r\nContent-Length: 14\r\n");
    ASSERT_NULL(strstr(r.head, "Connection: close"));
    ASSERT_EQ_STR(r.body.p, "GET /echo x=1 ");
    resp_free(&r);
    /* second request on the same connection, with a body and an empty-POST content type */
    cli_sends(&c, "POST /echo HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Length: 3\r\n"
                  "Content-Type: text/plain\r\n\r\nabc");
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body.p, "POST /echo  abc");
    resp_free(&r);
    cli_sends(&c, "POST /nope HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_TRUE(str_has_prefix(r.head, "HTTP/1.1 404 Not Found\r\n"));
    resp_free(&r);
    cli_close(&c);
}

TEST(http_server_keepalive)
{
    struct fixture f;
    fixture_start(&f, NULL);
    fixture_run(&f, client_keepalive);
    ASSERT_EQ_INT(g_handled, 3);
    fixture_end(&f);
}

static void client_pipelined(struct fixture *f)
{
    struct cli c;
    struct resp r;
    cli_open(&c, f);
    /* the first answer comes late from a timer, the second at once, the third from a
     * shorter timer: answers must still come back in request order */
    cli_sends(&c, "GET /async?ms=80&n=1 HTTP/1.1\r\n\r\n"
                  "GET /echo?n=2 HTTP/1.1\r\n\r\n"
                  "GET /async?ms=1&n=3 HTTP/1.1\r\n\r\n"
                  "HEAD /echo?n=4 HTTP/1.1\r\n\r\n"
                  "GET /echo?n=5 HTTP/1.1\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "async ms=80&n=1");
    resp_free(&r);
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "GET /echo n=2 ");
    resp_free(&r);
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "async ms=1&n=3");
    resp_free(&r);
    cli_response(&c, true, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.head, "\r\nContent-Length: 15\r\n"); /* "HEAD /echo n=4 " */
    resp_free(&r);
    cli_response(&c, false, &r); /* would fail to parse if HEAD had sent a body */
    ASSERT_EQ_STR(r.body.p, "GET /echo n=5 ");
    resp_free(&r);
    cli_close(&c);
}

TEST(http_server_pipelined_async_head)
{
    struct fixture f;
    fixture_start(&f, NULL);
    fixture_run(&f, client_pipelined);
    ASSERT_EQ_INT(g_handled, 5);
    fixture_end(&f);
}

static void client_stream(struct fixture *f)
{
    struct cli c;
    struct resp r;
    cli_open(&c, f);
    cli_sends(&c, "GET /stream HTTP/1.1\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.head, "\r\nTransfer-Encoding: chunked\r\n");
    ASSERT_CONTAINS(r.head, "\r\nContent-Type: application/json\r\n");
    ASSERT_NULL(strcasestr(r.head, "Content-Length"));
    ASSERT_EQ_STR(r.raw.p, "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n");
    ASSERT_EQ_STR(r.body.p, "helloworld!");
    ASSERT_EQ_INT(c.in.len, 0);
    resp_free(&r);
    /* the connection carries on after a stream; 204 has no length and no body */
    cli_sends(&c, "GET /status?code=204 HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 204);
    ASSERT_NULL(strcasestr(r.head, "Content-Length"));
    resp_free(&r);
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "GET /echo  ");
    resp_free(&r);
    /* HEAD of a stream: head only */
    cli_sends(&c, "HEAD /stream HTTP/1.1\r\n\r\nGET /echo?z HTTP/1.1\r\n\r\n");
    cli_response(&c, true, &r);
    ASSERT_EQ_INT(r.status, 200);
    resp_free(&r);
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "GET /echo z ");
    resp_free(&r);
    cli_close(&c);
}

TEST(http_server_stream)
{
    struct fixture f;
    fixture_start(&f, NULL);
    fixture_run(&f, client_stream);
    ASSERT_EQ_INT(g_close_count, 0);
    fixture_end(&f);
}

static void client_http10(struct fixture *f)
{
    struct cli c;
    struct resp r;
    /* HTTP/1.0: closed after the answer */
    cli_open(&c, f);
    cli_sends(&c, "GET /echo HTTP/1.0\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(r.head, "\r\nConnection: close\r\n");
    resp_free(&r);
    ASSERT_TRUE(cli_eof(&c));
    cli_close(&c);
    /* HTTP/1.0 with keep-alive stays open */
    cli_open(&c, f);
    cli_sends(&c, "GET /echo?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_CONTAINS(r.head, "\r\nConnection: keep-alive\r\n");
    resp_free(&r);
    cli_sends(&c, "GET /echo?b HTTP/1.0\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "GET /echo b ");
    resp_free(&r);
    ASSERT_TRUE(cli_eof(&c));
    cli_close(&c);
    /* Connection: close from an HTTP/1.1 client; later pipelined requests are not served */
    cli_open(&c, f);
    cli_sends(&c, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\nGET /echo?x HTTP/1.1\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_CONTAINS(r.head, "\r\nConnection: close\r\n");
    resp_free(&r);
    ASSERT_TRUE(cli_eof(&c));
    cli_close(&c);
    /* streaming to HTTP/1.0: raw bytes, end marked by the close */
    cli_open(&c, f);
    cli_sends(&c, "GET /stream HTTP/1.0\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_NULL(strcasestr(r.head, "Transfer-Encoding"));
    ASSERT_EQ_STR(r.body.p, "helloworld!");
    resp_free(&r);
    cli_close(&c);
}

TEST(http_server_http10_and_close)
{
    struct fixture f;
    fixture_start(&f, NULL);
    fixture_run(&f, client_http10);
    ASSERT_EQ_INT(g_handled, 5);
    fixture_end(&f);
}

static void expect_error(struct cli *c, int status, const char *msg)
{
    struct resp r;
    cli_response(c, false, &r);
    ASSERT_EQ_INT(r.status, status);
    ASSERT_CONTAINS(r.head, "\r\nContent-Type: application/json\r\n");
    ASSERT_CONTAINS(r.head, "\r\nConnection: close\r\n");
    ASSERT_CONTAINS(r.head, "\r\nApi-Version: 1.41\r\n");
    char *want = xasprintf("{\"message\":\"%s\"}\n", msg);
    ASSERT_EQ_STR(r.body.p, want);
    free(want);
    resp_free(&r);
    ASSERT_TRUE(cli_eof(c));
}

static void client_errors(struct fixture *f)
{
    struct cli c;
    /* 431: a header block over the limit (2 KiB here) */
    cli_open(&c, f);
    struct buf b = BUF_INIT;
    buf_adds(&b, "GET /echo HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 8000; i++)
        buf_adds(&b, "y");
    buf_adds(&b, "\r\n\r\n");
    cli_send(&c, b.p, b.len);
    buf_release(&b);
    expect_error(&c, 431, "request header too large");
    cli_close(&c);
    /* 413 from Content-Length, before the body is sent */
    cli_open(&c, f);
    cli_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    expect_error(&c, 413, "request body too large");
    cli_close(&c);
    /* 413 from a chunked body that grows too big */
    cli_open(&c, f);
    cli_sends(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 12; i++)
        cli_sends(&c, "64\r\n0123456789012345678901234567890123456789012345678901234567890123"
                      "456789012345678901234567890123456789\r\n");
    expect_error(&c, 413, "request body too large");
    cli_close(&c);
    /* 400: garbage; a NUL in the path; a good request first, then a bad one */
    cli_open(&c, f);
    cli_send(&c, "\x16\x03\x01\x02\x05\x01\r\n\r\n", 10);
    expect_error(&c, 400, "malformed request line");
    cli_close(&c);
    cli_open(&c, f);
    cli_sends(&c, "GET /a%00b HTTP/1.1\r\n\r\n");
    expect_error(&c, 400, "NUL byte in request path");
    cli_close(&c);
    cli_open(&c, f);
    cli_sends(&c, "GET /echo HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nNoColon\r\n\r\n");
    struct resp r;
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    resp_free(&r);
    expect_error(&c, 400, "malformed header line");
    cli_close(&c);
}

TEST(http_server_error_answers)
{
    struct fixture f;
    struct http_limits lim = {.max_header_bytes = 2048, .max_body_bytes = 1000};
    fixture_start(&f, &lim);
    fixture_run(&f, client_errors);
    ASSERT_EQ_INT(g_handled, 1);
    fixture_end(&f);
}

static void client_continue(struct fixture *f)
{
    struct cli c;
    cli_open(&c, f);
    cli_sends(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
    ASSERT_EQ_INT(cli_need(&c, 25), 0);
    ASSERT_EQ_INT(memcmp(c.in.p, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0);
    buf_consume(&c.in, 25);
    cli_sends(&c, "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n");
    struct resp r;
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "POST /echo  abcde");
    resp_free(&r);
    cli_close(&c);
}

TEST(http_server_chunked_request_continue)
{
    struct fixture f;
    fixture_start(&f, NULL);
    fixture_run(&f, client_continue);
    fixture_end(&f);
}

static void client_disconnect(struct fixture *f)
{
    struct cli c;
    cli_open(&c, f);
    cli_sends(&c, "GET /forever HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(cli_find(&c, "first\n") > 0);
    ASSERT_TRUE(cli_find(&c, "tick\n") > 0);
    cli_close(&c);
    for (int i = 0; i < 500 && atomic_get(&g_close_count) == 0; i++)
        usleep(10000);
}

TEST(http_server_peer_disconnect_mid_stream)
{
    struct fixture f;
    fixture_start(&f, NULL);
    fixture_run(&f, client_disconnect);
    ASSERT_EQ_INT(g_close_count, 1);
    fixture_end(&f);
}

static void client_server_close(struct fixture *f)
{
    struct cli idle, busy;
    cli_open(&idle, f);
    cli_open(&busy, f);
    cli_sends(&busy, "GET /hold HTTP/1.1\r\n\r\n");
    /* the handler's timer closes the server: both connections end without an answer */
    ASSERT_TRUE(cli_eof(&busy));
    ASSERT_TRUE(cli_eof(&idle));
    cli_close(&idle);
    cli_close(&busy);
}

TEST(http_server_close_with_live_connections)
{
    struct fixture f;
    fixture_start(&f, NULL);
    struct stat st;
    ASSERT_EQ_INT(stat(f.sock, &st), 0);
    fixture_run(&f, client_server_close);
    ASSERT_EQ_INT(g_close_count, 1);
    ASSERT_EQ_INT(g_handled, 1);
    /* the socket file went with the listener */
    ASSERT_EQ_INT(stat(f.sock, &st), -1);
    fixture_end(&f);
}

static void client_timeout(struct fixture *f)
{
    struct cli c;
    cli_open(&c, f);
    cli_sends(&c, "GET /echo HTTP/1.1\r\nHost: slow");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    ASSERT_TRUE(cli_eof(&c));
    clock_gettime(CLOCK_MONOTONIC, &b);
    ASSERT_TRUE(b.tv_sec - a.tv_sec < 3);
    cli_close(&c);
    /* a body that stalls is cut off by the same limit between reads */
    cli_open(&c, f);
    cli_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
    clock_gettime(CLOCK_MONOTONIC, &a);
    ASSERT_TRUE(cli_eof(&c));
    clock_gettime(CLOCK_MONOTONIC, &b);
    ASSERT_TRUE(b.tv_sec - a.tv_sec < 3);
    cli_close(&c);
    /* an idle keep-alive connection is closed by the same timer */
    cli_open(&c, f);
    cli_sends(&c, "GET /echo HTTP/1.1\r\n\r\n");
    struct resp r;
    cli_response(&c, false, &r);
    resp_free(&r);
    ASSERT_TRUE(cli_eof(&c));
    cli_close(&c);
}

TEST(http_server_header_timeout)
{
    struct fixture f;
    struct http_limits lim = {.header_timeout_ms = 100};
    fixture_start(&f, &lim);
    fixture_run(&f, client_timeout);
    ASSERT_EQ_INT(g_handled, 1);
    fixture_end(&f);
}

TEST(http_server_unix_socket_file)
{
    struct fixture f;
    fixture_start(&f, NULL);
    struct stat st;
    ASSERT_EQ_INT(stat(f.sock, &st), 0);
    ASSERT_TRUE(S_ISSOCK(st.st_mode));
    ASSERT_EQ_INT(st.st_mode & 0777, 0660);
    /* a stale socket file is replaced */
    char *stale = xasprintf("%s/stale.sock", f.dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", stale);
    ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    char *addr = xasprintf("unix://%s", stale);
    struct err e = {0};
    ASSERT_EQ_INT(http_server_listen(f.srv, addr, NULL, &e), 0);
    free(addr);
    /* a regular file is not replaced; bad addresses are refused */
    char *reg = xasprintf("%s/regular", f.dir);
    ASSERT_EQ_INT(file_write_atomic(reg, "x", 1, 0600, &e), 0);
    addr = xasprintf("unix://%s", reg);
    ASSERT_TRUE(http_server_listen(f.srv, addr, NULL, &e) < 0);
    ASSERT_CONTAINS(e.msg, "not a socket");
    free(addr);
    ASSERT_TRUE(http_server_listen(f.srv, "ftp://x", NULL, &e) < 0);
    ASSERT_TRUE(http_server_listen(f.srv, "tcp://127.0.0.1", NULL, &e) < 0);
    ASSERT_TRUE(http_server_listen(f.srv, "tcp://127.0.0.1:99999", NULL, &e) < 0);
    ASSERT_TRUE(http_server_listen(f.srv, "tcp://[::1:80", NULL, &e) < 0);
    struct http_tls_config bad = {.cert_file = "/nonexistent.pem", .key_file = "/nope.pem"};
    ASSERT_TRUE(http_server_listen(f.srv, "tcp://127.0.0.1:0", &bad, &e) < 0);
    ASSERT_CONTAINS(e.msg, "tls");
    fixture_close_server(&f);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(stat(stale, &st), -1);
    ASSERT_EQ_INT(stat(reg, &st), 0);
    free(stale);
    free(reg);
    fixture_end(&f);
}

/* ---- back-pressure and connection caps ---- */

#define STAT(field) __atomic_load_n(&g_stats.field, __ATOMIC_SEQ_CST)
/* Polls a condition on what the loop thread publishes; true once it holds, false after 5 s. */
#define WAIT_UNTIL(cond)                                                                           \
    ({                                                                                             \
        bool ok_ = false;                                                                          \
        for (int i_ = 0; i_ < 500 && !(ok_ = (cond)); i_++)                                        \
            usleep(10000);                                                                         \
        ok_;                                                                                       \
    })

#define BP_HIGH (256 * 1024)
#define BP_BIG 102400
#define BP_REQS 200

static void client_backpressure(struct fixture *f)
{
    struct cli c;
    cli_open(&c, f);
    struct buf reqs = BUF_INIT;
    for (int i = 0; i < BP_REQS; i++)
        buf_printf(&reqs, "GET /big?n=%d&i=%d HTTP/1.1\r\n\r\n", BP_BIG, i);
    cli_send(&c, reqs.p, reqs.len);
    buf_release(&reqs);
    /* nothing is read: the server answers until its queue passes write_high, then parses
     * none of the pipelined requests that wait behind */
    ASSERT_TRUE(WAIT_UNTIL(STAT(blocked) == 1));
    int handled = atomic_get(&g_handled);
    if (handled >= BP_REQS / 4)
        FAIL_AT("%d of %d answers queued for a client that reads nothing", handled, BP_REQS);
    size_t peak = STAT(queued_peak);
    ASSERT_TRUE(peak >= BP_HIGH);
    ASSERT_TRUE(peak < BP_HIGH + BP_BIG + 1024); /* over the mark by one answer at most */
    /* reading lets it go on: every answer arrives, in request order */
    for (int i = 0; i < BP_REQS; i++) {
        struct resp r;
        cli_response(&c, false, &r);
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_INT(r.body.len, BP_BIG);
        char *want = xasprintf("\r\nX-Query: n=%d&i=%d\r\n", BP_BIG, i);
        ASSERT_CONTAINS(r.head, want);
        free(want);
        resp_free(&r);
    }
    ASSERT_EQ_INT(atomic_get(&g_handled), BP_REQS);
    ASSERT_TRUE(WAIT_UNTIL(STAT(blocked) == 0 && STAT(queued) == 0));
    ASSERT_TRUE(STAT(queued_peak) < BP_HIGH + BP_BIG + 1024);
    cli_close(&c);
}

TEST(http_server_backpressure_pipelined)
{
    struct fixture f;
    struct http_limits lim = {.write_high = BP_HIGH, .write_low = BP_HIGH / 4};
    fixture_start(&f, &lim);
    f.watch = true;
    fixture_run(&f, client_backpressure);
    fixture_end(&f);
}

#define CUT_CAP (256 * 1024)

static void client_stream_cut(struct fixture *f)
{
    struct cli c;
    cli_open(&c, f);
    cli_sends(&c, "GET /flood HTTP/1.1\r\n\r\n");
    /* the client never reads: past the stream cap the server closes the connection and the
     * handler learns it through on_close */
    ASSERT_TRUE(WAIT_UNTIL(atomic_get(&g_close_count) == 1));
    ASSERT_EQ_INT(STAT(streams_cut), 1);
    ASSERT_TRUE(STAT(queued_peak) <= CUT_CAP + 32768 + 64);
    ASSERT_TRUE(WAIT_UNTIL(STAT(conns) == 0));
    /* what the kernel had taken is still readable, then EOF, without the closing chunk */
    while (cli_fill(&c) > 0)
        ;
    ASSERT_TRUE(c.in.len > 0);
    ASSERT_TRUE(str_has_prefix(c.in.p, "HTTP/1.1 200 OK\r\n"));
    ASSERT_NULL(memmem(c.in.p, c.in.len, "\r\n0\r\n\r\n", 7));
    cli_close(&c);
}

TEST(http_server_stream_cut_when_not_read)
{
    struct fixture f;
    struct http_limits lim = {.stream_max_queued = CUT_CAP};
    fixture_start(&f, &lim);
    f.watch = true;
    fixture_run(&f, client_stream_cut);
    ASSERT_EQ_INT(g_close_count, 1);
    fixture_end(&f);
}

static void client_paced(struct fixture *f)
{
    struct cli c;
    cli_open(&c, f);
    cli_sends(&c, "GET /paced HTTP/1.1\r\n\r\n");
    /* nothing read for a while: the producer stops at its mark, nothing is cut */
    ASSERT_TRUE(WAIT_UNTIL(STAT(queued_peak) > PACED_HIGH && atomic_get(&g_paced_waits) > 0));
    usleep(200000);
    ASSERT_TRUE(STAT(queued) > PACED_LOW); /* the producer waits on a full queue */
    size_t peak = STAT(queued_peak);
    if (peak > PACED_HIGH + PACED_CHUNK + 64)
        FAIL_AT("%zu bytes queued for a paced stream", peak);
    ASSERT_EQ_INT(STAT(streams_cut), 0);
    /* reading: every chunk arrives, then the end */
    struct resp r;
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(r.body.len, (size_t)PACED_TOTAL * PACED_CHUNK);
    resp_free(&r);
    ASSERT_TRUE(STAT(queued_peak) <= PACED_HIGH + PACED_CHUNK + 64);
    cli_close(&c);
}

TEST(http_server_stream_drain_callback_paces_a_producer)
{
    struct fixture f;
    struct http_limits lim = {.stream_max_queued = 4 * PACED_HIGH};
    fixture_start(&f, &lim);
    f.watch = true;
    g_paced_waits = 0;
    fixture_run(&f, client_paced);
    ASSERT_TRUE(g_paced_waits > 1);
    ASSERT_EQ_INT(g_close_count, 0);
    fixture_end(&f);
}

static char g_sock2[128];

static void cli_get_echo(struct cli *c, const char *q)
{
    char *req = xasprintf("GET /echo?%s HTTP/1.1\r\n\r\n", q);
    cli_sends(c, req);
    free(req);
    struct resp r;
    cli_response(c, false, &r);
    ASSERT_EQ_INT(r.status, 200);
    resp_free(&r);
}

static void client_caps(struct fixture *f)
{
    struct cli a, b, c, c3, x1, x2, x3, x4, x5;
    /* listener 1: two connections that send nothing fill the unauthenticated cap (2) */
    cli_open(&a, f);
    cli_open(&b, f);
    ASSERT_TRUE(WAIT_UNTIL(STAT(conns) == 2));
    cli_open(&c, f);
    ASSERT_TRUE(cli_eof(&c)); /* accepted and closed at once */
    cli_close(&c);
    cli_open(&c, f);
    ASSERT_TRUE(cli_eof(&c));
    cli_close(&c);
    ASSERT_TRUE(WAIT_UNTIL(STAT(refused) == 2));
    /* a completed request frees a slot of the unauthenticated cap */
    cli_get_echo(&a, "a");
    cli_open(&c3, f);
    cli_get_echo(&c3, "c3");
    ASSERT_TRUE(WAIT_UNTIL(STAT(conns) == 3));
    /* listener 2 has its own counts: three connections fill its total cap (3) */
    cli_open_path(&x1, g_sock2);
    cli_get_echo(&x1, "x1");
    cli_open_path(&x2, g_sock2);
    cli_get_echo(&x2, "x2");
    cli_open_path(&x3, g_sock2);
    ASSERT_TRUE(WAIT_UNTIL(STAT(conns) == 6));
    cli_open_path(&x4, g_sock2);
    ASSERT_TRUE(cli_eof(&x4));
    cli_close(&x4);
    ASSERT_TRUE(WAIT_UNTIL(STAT(refused) == 3));
    ASSERT_EQ_INT(STAT(unauth), 2); /* b and x3 */
    /* a connection that goes frees its slot */
    cli_close(&x1);
    if (!WAIT_UNTIL(STAT(conns) == 5))
        FAIL_AT("conns %zu unauth %zu", STAT(conns), STAT(unauth));
    cli_open_path(&x5, g_sock2);
    cli_get_echo(&x5, "x5");
    cli_get_echo(&b, "b"); /* the connections that waited are served */
    cli_get_echo(&x3, "x3");
    ASSERT_EQ_INT(STAT(refused), 3);
    cli_close(&a);
    cli_close(&b);
    cli_close(&c3);
    cli_close(&x2);
    cli_close(&x3);
    cli_close(&x5);
}

static int count_lines_with(const char *text, const char *pat)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, pat)); p += strlen(pat))
        n++;
    return n;
}

TEST(http_server_connection_caps)
{
    struct fixture f;
    struct http_limits lim = {.max_conns = 3, .max_unauth = 2};
    fixture_start(&f, &lim);
    f.watch = true;
    snprintf(g_sock2, sizeof(g_sock2), "%s/two.sock", f.dir);
    char *addr2 = xasprintf("unix://%s", g_sock2);
    struct err e = {0};
    ASSERT_EQ_INT(http_server_listen(f.srv, addr2, NULL, &e), 0);
    free(addr2);
    /* the server's log goes to a file while the client runs */
    char *logpath = xasprintf("%s/log", f.dir);
    fprintf(stderr, "# server log of this test: %s\n", logpath);
    fflush(stderr);
    int saved = dup(2);
    int lfd = open(logpath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ASSERT_TRUE(lfd >= 0);
    dup2(lfd, 2);
    close(lfd);
    fixture_run(&f, client_caps);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *log = NULL;
    size_t loglen = 0;
    ASSERT_EQ_INT(file_read(logpath, &log, &loglen, &e), 0);
    char *want1 = xasprintf(
        "http: listener unix://%s: unauthenticated connection cap 2 reached, refusing", f.sock);
    char *want2 =
        xasprintf("http: listener unix://%s: connection cap 3 reached, refusing", g_sock2);
    ASSERT_EQ_INT(count_lines_with(log, want1), 1);
    ASSERT_EQ_INT(count_lines_with(log, want2), 1);
    /* three refusals, two warnings: the second on listener 1 came within 10 s of the first */
    ASSERT_EQ_INT(count_lines_with(log, "reached, refusing"), 2);
    free(want1);
    free(want2);
    free(log);
    free(logpath);
    fixture_end(&f);
}

/* ---- TCP and TLS ---- */

static int free_port(int family)
{
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        len = sizeof(*s6);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    close(fd);
    return ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                   : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int tcp_connect(int family, int port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s4->sin_port = htons((uint16_t)port);
        len = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons((uint16_t)port);
        len = sizeof(*s6);
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0)
        FAIL_AT("connect: %s", strerror(errno));
    set_timeout(fd);
    return fd;
}

static void client_ipv6(struct fixture *f)
{
    struct cli c = {.fd = tcp_connect(AF_INET6, f->port)};
    cli_sends(&c, "GET /echo?v6 HTTP/1.1\r\n\r\n");
    struct resp r;
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "GET /echo v6 ");
    resp_free(&r);
    cli_close(&c);
    c = (struct cli){.fd = tcp_connect(AF_INET, f->port4)};
    cli_sends(&c, "GET /echo?v4 HTTP/1.1\r\n\r\n");
    cli_response(&c, false, &r);
    ASSERT_EQ_STR(r.body.p, "GET /echo v4 ");
    resp_free(&r);
    /* an error answer survives unread input over TCP: the server shuts down its side and
     * drains instead of resetting the connection under the client */
    struct buf big = BUF_INIT;
    buf_adds(&big, "GET /echo HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 200000; i++)
        buf_adds(&big, "z");
    buf_adds(&big, "\r\n\r\n");
    cli_send(&c, big.p, big.len);
    buf_release(&big);
    usleep(100000);
    cli_response(&c, false, &r);
    ASSERT_EQ_INT(r.status, 431);
    resp_free(&r);
    ASSERT_TRUE(cli_eof(&c));
    cli_close(&c);
}

TEST(http_server_tcp_ipv4_ipv6)
{
    struct fixture f;
    fixture_start(&f, NULL);
    int port4 = free_port(AF_INET), port6 = free_port(AF_INET6);
    if (port6 < 0) {
        fixture_close_server(&f);
        uv_run(&f.loop, UV_RUN_DEFAULT);
        fixture_end(&f);
        SKIP("no IPv6 loopback");
    }
    struct err e = {0};
    char *a4 = xasprintf("tcp://127.0.0.1:%d", port4), *a6 = xasprintf("tcp://[::1]:%d", port6);
    if (http_server_listen(f.srv, a4, NULL, &e) < 0 || http_server_listen(f.srv, a6, NULL, &e) < 0)
        FAIL_AT("listen: %s", e.msg);
    free(a4);
    free(a6);
    f.port = port6;
    f.port4 = port4;
    fixture_run(&f, client_ipv6);
    ASSERT_EQ_INT(g_handled, 2);
    fixture_end(&f);
}

/* Test-only PKI: a CA, a server certificate and a client certificate, as PEM files. */
static EVP_PKEY *gen_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ASSERT_NOT_NULL(k);
    return k;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *ou, const char *o, X509 *issuer,
                       EVP_PKEY *issuer_key, bool ca, long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    if (ou)
        X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0);
    if (o)
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)o, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                              ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ca) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ASSERT_TRUE(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    if (cert)
        ASSERT_TRUE(PEM_write_X509(fp, cert));
    else
        ASSERT_TRUE(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL));
    fclose(fp);
    free(path);
}

static void make_pki(const char *dir)
{
    EVP_PKEY *cak = gen_key(), *sk = gen_key(), *ck = gen_key();
    X509 *ca = make_cert(cak, "test CA", NULL, NULL, NULL, NULL, true, 1);
    X509 *sc = make_cert(sk, "localhost", NULL, NULL, ca, cak, false, 2);
    X509 *cc = make_cert(ck, "node1", "swarm-manager", "cluster1", ca, cak, false, 3);
    write_pem(dir, "ca.pem", ca, NULL);
    write_pem(dir, "server.pem", sc, NULL);
    write_pem(dir, "server-key.pem", NULL, sk);
    write_pem(dir, "client.pem", cc, NULL);
    write_pem(dir, "client-key.pem", NULL, ck);
    X509_free(ca);
    X509_free(sc);
    X509_free(cc);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ck);
}

/* The forked TLS client. Exit codes: 0 as expected, others name the failed step. */
static int tls_client(const char *dir, int port, bool with_cert, bool expect_refused)
{
    char *ca = xasprintf("%s/ca.pem", dir), *cert = xasprintf("%s/client.pem", dir),
         *key = xasprintf("%s/client-key.pem", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return 2;
    if (with_cert && (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
                      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1))
        return 3;
    int fd = tcp_connect(AF_INET, port);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    struct buf got = BUF_INIT;
    if (SSL_connect(ssl) == 1) {
        if (SSL_version(ssl) < TLS1_2_VERSION)
            return 4;
        const char *req = "GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        if (SSL_write(ssl, req, (int)strlen(req)) > 0) {
            char tmp[4096];
            int n;
            while ((n = SSL_read(ssl, tmp, sizeof(tmp))) > 0)
                buf_add(&got, tmp, (size_t)n);
        }
    } else if (!expect_refused) {
        ERR_print_errors_fp(stderr);
        return 5;
    }
    if (expect_refused)
        return got.len && strstr(got.p, "HTTP/1.1") ? 6 : 0;
    if (!got.p || !str_has_prefix(got.p, "HTTP/1.1 200 OK\r\n"))
        return 7;
    const char *want =
        with_cert ? "\r\n\r\ncn=node1 ou=swarm-manager o=cluster1" : "\r\n\r\ncn=- ou=- o=-";
    if (!strstr(got.p, want)) {
        fprintf(stderr, "# got: %s\n", got.p);
        return 8;
    }
    return 0;
}

static void on_reap(uv_timer_t *t)
{
    struct fixture *f = t->data;
    int st;
    if (waitpid(f->child, &st, WNOHANG) != f->child)
        return;
    f->child_status = st;
    uv_close((uv_handle_t *)t, NULL);
    fixture_close_server(f);
}

static void run_tls(bool client_ca, bool with_cert, bool expect_refused)
{
    struct fixture f;
    fixture_start(&f, NULL);
    make_pki(f.dir);
    char *cert = xasprintf("%s/server.pem", f.dir), *key = xasprintf("%s/server-key.pem", f.dir),
         *ca = xasprintf("%s/ca.pem", f.dir);
    struct http_tls_config tls = {
        .cert_file = cert, .key_file = key, .client_ca_file = client_ca ? ca : NULL};
    int port = free_port(AF_INET);
    char *addr = xasprintf("tcp://127.0.0.1:%d", port);
    struct err e = {0};
    if (http_server_listen(f.srv, addr, &tls, &e) < 0)
        FAIL_AT("listen: %s", e.msg);
    fflush(NULL);
    f.child = fork();
    if (f.child == 0)
        _exit(tls_client(f.dir, port, with_cert, expect_refused));
    uv_timer_init(&f.loop, &f.reap);
    f.reap.data = &f;
    uv_timer_start(&f.reap, on_reap, 10, 10);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ASSERT_TRUE(WIFEXITED(f.child_status));
    ASSERT_EQ_INT(WEXITSTATUS(f.child_status), 0);
    ASSERT_EQ_INT(g_handled, expect_refused ? 0 : 1);
    free(cert);
    free(key);
    free(ca);
    free(addr);
    fixture_end(&f);
}

TEST(http_server_tls)
{
    run_tls(false, false, false);
}

TEST(http_server_tls_client_cert_fields)
{
    run_tls(true, true, false);
}

TEST(http_server_tls_client_without_cert_refused)
{
    run_tls(true, false, true);
}

/* ---- back-pressure over TLS: the queue counts ciphertext ---- */

struct tls_bp {
    uv_prepare_t watch;
    int go_fd; /* the parent writes one byte here once the server is blocked */
    bool signalled;
    int handled_at_block;
    size_t peak_at_block;
};

static int tls_bp_client(const char *dir, int port, int go_fd)
{
    alarm(20);
    char *ca = xasprintf("%s/ca.pem", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return 2;
    int fd = tcp_connect(AF_INET, port);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) != 1)
        return 3;
    struct buf reqs = BUF_INIT;
    for (int i = 0; i < BP_REQS; i++)
        buf_printf(&reqs, "GET /big?n=%d&i=%d HTTP/1.1\r\n\r\n", BP_BIG, i);
    if (SSL_write(ssl, reqs.p, (int)reqs.len) != (int)reqs.len)
        return 4;
    /* read nothing until the server says it has stopped */
    char go;
    if (read(go_fd, &go, 1) != 1)
        return 5;
    size_t want = (size_t)BP_REQS * BP_BIG, body = 0;
    int heads = 0;
    char tmp[65536];
    while (body < want) {
        int n = SSL_read(ssl, tmp, sizeof(tmp));
        if (n <= 0)
            return 6;
        for (int i = 0; i < n; i++)
            body += tmp[i] == 'b';
        for (char *p = tmp; (p = memmem(p, (size_t)(tmp + n - p), "HTTP/1.1 200 OK", 15)); p++)
            heads++;
    }
    return heads == BP_REQS && body == want ? 0 : 7;
}

static void tls_bp_check(uv_prepare_t *h)
{
    struct tls_bp *t = h->data;
    struct http_server_stats st;
    if (t->signalled || g_fx->srv_closed)
        return;
    http_server_get_stats(g_fx->srv, &st);
    if (!st.blocked)
        return;
    t->signalled = true;
    t->handled_at_block = g_handled;
    t->peak_at_block = st.queued_peak;
    ASSERT_EQ_INT(write(t->go_fd, "g", 1), 1);
}

TEST(http_server_backpressure_tls)
{
    struct fixture f;
    struct http_limits lim = {.write_high = BP_HIGH, .write_low = BP_HIGH / 4};
    fixture_start(&f, &lim);
    make_pki(f.dir);
    char *cert = xasprintf("%s/server.pem", f.dir), *key = xasprintf("%s/server-key.pem", f.dir);
    struct http_tls_config tls = {.cert_file = cert, .key_file = key};
    int port = free_port(AF_INET);
    char *addr = xasprintf("tcp://127.0.0.1:%d", port);
    struct err e = {0};
    if (http_server_listen(f.srv, addr, &tls, &e) < 0)
        FAIL_AT("listen: %s", e.msg);
    int go[2];
    ASSERT_EQ_INT(pipe(go), 0);
    fflush(NULL);
    f.child = fork();
    if (f.child == 0) {
        close(go[1]);
        _exit(tls_bp_client(f.dir, port, go[0]));
    }
    close(go[0]);
    struct tls_bp t = {.go_fd = go[1]};
    uv_prepare_init(&f.loop, &t.watch);
    t.watch.data = &t;
    uv_prepare_start(&t.watch, tls_bp_check);
    uv_timer_init(&f.loop, &f.reap);
    f.reap.data = &f;
    uv_timer_start(&f.reap, on_reap, 10, 10);
    while (!f.srv_closed) /* on_reap closes the server once the child has exited */
        uv_run(&f.loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t.watch, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    close(go[1]);
    ASSERT_TRUE(WIFEXITED(f.child_status));
    ASSERT_EQ_INT(WEXITSTATUS(f.child_status), 0);
    ASSERT_TRUE(t.signalled);
    if (t.handled_at_block >= BP_REQS / 4)
        FAIL_AT("%d of %d answers queued for a TLS client that reads nothing", t.handled_at_block,
                BP_REQS);
    /* ciphertext: one answer plus its records' framing over the mark at most */
    ASSERT_TRUE(t.peak_at_block >= BP_HIGH);
    ASSERT_TRUE(t.peak_at_block < BP_HIGH + BP_BIG + 4096);
    ASSERT_EQ_INT(g_handled, BP_REQS);
    free(cert);
    free(key);
    free(addr);
    fixture_end(&f);
}
