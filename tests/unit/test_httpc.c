/* test_httpc.c — the HTTP client. First its pure parts alone (the response parser, fed in
 * every fragmentation, and the URL splitter); then real calls on a libuv loop against a
 * scripted raw TCP server written here (exact bytes, connection counts, misbehaving peers)
 * and against the http module's server (TLS, mutual TLS, chunked streams). Every loop test
 * ends with the client and servers closed and uv_loop_close() == 0; LSan checks leaks. */
#include "harness.h"

#include "ca/ca.h"
#include "http/http.h"
#include "httpc/httpc_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the response parser ---- */

struct pres {
    int rc;
    size_t used;
    struct buf body;
};

/* Feeds s in pieces of step bytes until the parser is done or fails. */
static struct pres feed(struct httpc_parser *p, const char *s, size_t step)
{
    struct pres r = {.rc = HTTPC_PARSE_MORE};
    buf_init(&r.body);
    size_t len = strlen(s);
    while (r.used < len && r.rc == HTTPC_PARSE_MORE) {
        size_t n = len - r.used < step ? len - r.used : step, used = 0;
        r.rc = httpc_parser_feed(p, s + r.used, n, &r.body, &used);
        ASSERT_TRUE(used <= n);
        r.used += used;
        if (r.rc == HTTPC_PARSE_MORE)
            ASSERT_EQ_INT(used, n);
    }
    return r;
}

static const size_t steps[] = {1, 2, 7, 100000};

TEST(httpc_parse_content_length)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "content-length:  5 \r\n\r\nhelloEXTRA";
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        struct httpc_parser p;
        httpc_parser_init(&p);
        struct pres r = feed(&p, s, steps[i]);
        ASSERT_EQ_INT(r.rc, HTTPC_PARSE_DONE);
        ASSERT_EQ_INT(r.used, strlen(s) - 5); /* EXTRA is not this response's */
        ASSERT_EQ_STR(r.body.p, "hello");
        ASSERT_EQ_INT(p.status, 200);
        ASSERT_TRUE(httpc_parser_reusable(&p));
        buf_release(&r.body);
        httpc_parser_release(&p);
    }
}

TEST(httpc_parse_chunked)
{
    const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n";
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        struct httpc_parser p;
        httpc_parser_init(&p);
        struct pres r = feed(&p, s, steps[i]);
        ASSERT_EQ_INT(r.rc, HTTPC_PARSE_DONE);
        ASSERT_EQ_INT(r.used, strlen(s));
        ASSERT_EQ_STR(r.body.p, "hello, world!!!");
        ASSERT_TRUE(httpc_parser_reusable(&p));
        buf_release(&r.body);
        httpc_parser_release(&p);
    }
}

TEST(httpc_parse_endless_stream_hands_out_partial_chunks)
{
    struct httpc_parser p;
    httpc_parser_init(&p);
    struct pres r =
        feed(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\nde", 3);
    ASSERT_EQ_INT(r.rc, HTTPC_PARSE_MORE);
    ASSERT_EQ_STR(r.body.p, "abcde");
    ASSERT_EQ_INT(httpc_parser_eof(&p), HTTPC_PARSE_ERROR); /* cut mid-chunk */
    ASSERT_CONTAINS(p.err, "closed before the response was complete");
    buf_release(&r.body);
    httpc_parser_release(&p);
}

TEST(httpc_parse_interim_close_and_no_body)
{
    struct httpc_parser p;
    httpc_parser_init(&p);
    struct pres r = feed(&p,
                         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                         "Connection: close\r\nContent-Length: 2\r\n\r\nok",
                         1);
    ASSERT_EQ_INT(r.rc, HTTPC_PARSE_DONE);
    ASSERT_EQ_INT(p.status, 201);
    ASSERT_EQ_STR(r.body.p, "ok");
    ASSERT_FALSE(httpc_parser_reusable(&p));
    buf_release(&r.body);
    httpc_parser_release(&p);

    httpc_parser_init(&p);
    r = feed(&p, "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 100);
    ASSERT_EQ_INT(r.rc, HTTPC_PARSE_DONE);
    ASSERT_EQ_INT(p.status, 204);
    ASSERT_EQ_INT(r.body.len, 0);
    ASSERT_TRUE(httpc_parser_reusable(&p));
    buf_release(&r.body);
    httpc_parser_release(&p);

    /* HTTP/1.0: closes unless it says keep-alive */
    httpc_parser_init(&p);
    r = feed(&p, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 100);
    ASSERT_EQ_INT(r.rc, HTTPC_PARSE_DONE);
    ASSERT_TRUE(httpc_parser_reusable(&p));
    buf_release(&r.body);
    httpc_parser_release(&p);
}

TEST(httpc_parse_body_until_close)
{
    struct httpc_parser p;
    httpc_parser_init(&p);
    struct pres r = feed(&p, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nabc", 2);
    ASSERT_EQ_INT(r.rc, HTTPC_PARSE_MORE);
    ASSERT_EQ_STR(r.body.p, "abc");
    ASSERT_EQ_INT(httpc_parser_eof(&p), HTTPC_PARSE_DONE);
    ASSERT_FALSE(httpc_parser_reusable(&p));
    buf_release(&r.body);
    httpc_parser_release(&p);
}

TEST(httpc_parse_errors)
{
    static const struct {
        const char *in, *err;
    } cases[] = {
        {"HTTP/2 200 OK\r\n\r\n", "Unsupported HTTP version"},
        {"HTTP/1.1 2x0 OK\r\n\r\n", "Invalid status line"},
        {"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "Malformed header"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "Invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Conflicting"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Unsupported transfer"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "Malformed chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY\r\n", "Missing line end"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
         "too large"},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "protocol switch"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct httpc_parser p;
        httpc_parser_init(&p);
        struct pres r = feed(&p, cases[i].in, 3);
        if (r.rc != HTTPC_PARSE_ERROR)
            FAIL_AT("case %zu: rc %d", i, r.rc);
        ASSERT_CONTAINS(p.err, cases[i].err);
        /* stays in error */
        size_t used;
        ASSERT_EQ_INT(httpc_parser_feed(&p, "x", 1, &r.body, &used), HTTPC_PARSE_ERROR);
        buf_release(&r.body);
        httpc_parser_release(&p);
    }
    /* an endless header block is cut at HTTPC_MAX_HEADER */
    struct httpc_parser p;
    httpc_parser_init(&p);
    struct buf big = BUF_INIT;
    buf_adds(&big, "HTTP/1.1 200 OK\r\n");
    while (big.len < HTTPC_MAX_HEADER + 100)
        buf_adds(&big, "X-Filler: 0123456789012345678901234567890123456789\r\n");
    struct pres r = feed(&p, big.p, 4096);
    ASSERT_EQ_INT(r.rc, HTTPC_PARSE_ERROR);
    ASSERT_CONTAINS(p.err, "too large");
    buf_release(&big);
    buf_release(&r.body);
    httpc_parser_release(&p);
    /* nothing at all before the close */
    httpc_parser_init(&p);
    ASSERT_EQ_INT(httpc_parser_eof(&p), HTTPC_PARSE_ERROR);
    ASSERT_CONTAINS(p.err, "Empty reply from server");
    httpc_parser_release(&p);
}

TEST(httpc_url_parse_cases)
{
    struct httpc_url u;
    struct err e = {0};
    ASSERT_EQ_INT(httpc_url_parse("http://127.0.0.1:2379/v3/kv/range", &u, &e), 0);
    ASSERT_FALSE(u.tls);
    ASSERT_EQ_STR(u.host, "127.0.0.1");
    ASSERT_EQ_INT(u.port, 2379);
    ASSERT_EQ_STR(u.path, "/v3/kv/range");
    ASSERT_EQ_INT(u.addr.ss_family, AF_INET);
    ASSERT_EQ_INT(ntohs(((struct sockaddr_in *)&u.addr)->sin_port), 2379);
    free(u.path);
    ASSERT_EQ_INT(httpc_url_parse("https://[::1]:2377/swarm-rpc/ca", &u, &e), 0);
    ASSERT_TRUE(u.tls);
    ASSERT_EQ_STR(u.host, "::1");
    ASSERT_EQ_INT(u.addr.ss_family, AF_INET6);
    free(u.path);
    ASSERT_EQ_INT(httpc_url_parse("https://localhost", &u, &e), 0);
    ASSERT_EQ_INT(u.port, 443);
    ASSERT_EQ_STR(u.path, "/");
    ASSERT_EQ_INT(u.addr.ss_family, AF_INET);
    free(u.path);
    ASSERT_EQ_INT(httpc_url_parse("http://10.0.0.1?x=1#frag", &u, &e), 0);
    ASSERT_EQ_INT(u.port, 80);
    ASSERT_EQ_STR(u.path, "/?x=1");
    free(u.path);
    ASSERT_EQ_INT(httpc_url_parse("http://example.org/", &u, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "Could not resolve host: example.org");
    ASSERT_EQ_INT(httpc_url_parse("ftp://1.2.3.4/", &u, &e), -ERR_INVALID);
    ASSERT_EQ_INT(httpc_url_parse("http://1.2.3.4:99999/", &u, &e), -ERR_INVALID);
    ASSERT_EQ_INT(httpc_url_parse("http://1.2.3.4:80x/", &u, &e), -ERR_INVALID);
    ASSERT_EQ_INT(httpc_url_parse("http://[::1/", &u, &e), -ERR_INVALID);
    ASSERT_EQ_INT(httpc_url_parse("http:///x", &u, &e), -ERR_INVALID);
}

/* ---- loop fixture ---- */

struct res {
    bool done;
    int rc;
    long status;
    char body[4096];
    char msg[ERR_MSG_MAX];
    int ndata;
};

static void on_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct res *r = data;
    ASSERT_FALSE(r->done); /* exactly once */
    r->done = true;
    r->rc = rc;
    r->status = status;
    snprintf(r->body, sizeof(r->body), "%s", body->p ? body->p : "");
    if (rc < 0) {
        ASSERT_NOT_NULL(e);
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
    }
}

static void on_tick(uv_timer_t *t)
{
}

/* Runs the loop until *flag or ms pass; returns *flag. */
static bool run_until(uv_loop_t *loop, bool *flag, uint64_t ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    while (!*flag && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
    bool never = false;
    run_until(loop, &never, ms);
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- a scripted raw HTTP server (plain TCP) ---- */

enum rmode {
    R_ECHO,        /* 200 with the request body, keep-alive */
    R_CLOSE,       /* 200 with "Connection: close", then closes */
    R_EOF_BODY,    /* HTTP/1.0 body delimited by the close */
    R_SILENT,      /* never answers */
    R_HOLD,        /* answers everything held every 150 ms */
    R_DROP_SECOND, /* answers the first request of a connection, drops it at the second */
};

struct rsrv;
struct rconn {
    uv_tcp_t tcp;
    struct rsrv *s;
    struct rconn *next;
    struct buf in;
    int served;
    bool closing, held;
};

struct rsrv {
    uv_loop_t *loop;
    uv_tcp_t lis;
    uv_timer_t hold;
    int port;
    int mode;
    int accepts, requests, open, max_open;
    struct buf last_req;
    struct rconn *conns;
    int handles;
};

static void rconn_closed(uv_handle_t *h)
{
    struct rconn *rc = h->data;
    struct rsrv *s = rc->s;
    for (struct rconn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == rc) {
            *pp = rc->next;
            break;
        }
    buf_release(&rc->in);
    free(rc);
    s->open--;
    s->handles--;
}

static void rconn_close(struct rconn *rc)
{
    if (rc->closing)
        return;
    rc->closing = true;
    uv_close((uv_handle_t *)&rc->tcp, rconn_closed);
}

struct rwrite {
    uv_write_t req;
    struct rconn *rc;
    bool close_after;
    char data[];
};

static void on_rwrite(uv_write_t *req, int status)
{
    struct rwrite *w = (struct rwrite *)req;
    if (w->close_after)
        rconn_close(w->rc);
    free(w);
}

static void rsend(struct rconn *rc, const char *s, bool close_after)
{
    size_t n = strlen(s);
    struct rwrite *w = xmalloc(sizeof(*w) + n);
    w->rc = rc;
    w->close_after = close_after;
    memcpy(w->data, s, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    ASSERT_EQ_INT(uv_write(&w->req, (uv_stream_t *)&rc->tcp, &b, 1, on_rwrite), 0);
}

static void answer_echo(struct rconn *rc, const char *body, size_t blen)
{
    char *resp =
        xasprintf("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%.*s", blen, (int)blen, body);
    rsend(rc, resp, false);
    free(resp);
}

/* One complete request (head + body) is at the front of rc->in: answer it per mode. */
static void rhandle(struct rconn *rc, size_t head_len, size_t body_len)
{
    struct rsrv *s = rc->s;
    s->requests++;
    buf_reset(&s->last_req);
    buf_add(&s->last_req, rc->in.p, head_len + body_len);
    const char *body = rc->in.p + head_len;
    switch (s->mode) {
    case R_ECHO:
        answer_echo(rc, body, body_len);
        break;
    case R_CLOSE:
        rsend(rc, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true);
        break;
    case R_EOF_BODY:
        rsend(rc, "HTTP/1.0 200 OK\r\n\r\nuntil the end", true);
        break;
    case R_SILENT:
        break;
    case R_HOLD:
        rc->held = true;
        break;
    case R_DROP_SECOND:
        if (rc->served)
            rconn_close(rc);
        else
            answer_echo(rc, body, body_len);
        break;
    }
    rc->served++;
}

static void on_ralloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char tmp[65536];
    *b = uv_buf_init(tmp, sizeof(tmp));
}

static void on_rread(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct rconn *rc = st->data;
    if (n < 0) {
        rconn_close(rc);
        return;
    }
    buf_add(&rc->in, b->base, (size_t)n);
    for (;;) {
        if (rc->closing || !rc->in.p)
            return;
        char *end = strstr(rc->in.p, "\r\n\r\n");
        if (!end)
            return;
        size_t head = (size_t)(end - rc->in.p) + 4;
        const char *cl = strcasestr(rc->in.p, "Content-Length:");
        size_t blen = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
        if (rc->in.len < head + blen)
            return;
        rhandle(rc, head, blen);
        if (rc->closing)
            return;
        buf_consume(&rc->in, head + blen);
    }
}

static void on_rconn(uv_stream_t *lis, int status)
{
    struct rsrv *s = lis->data;
    ASSERT_EQ_INT(status, 0);
    struct rconn *rc = xcalloc(1, sizeof(*rc));
    rc->s = s;
    uv_tcp_init(s->loop, &rc->tcp);
    rc->tcp.data = rc;
    s->handles++;
    ASSERT_EQ_INT(uv_accept(lis, (uv_stream_t *)&rc->tcp), 0);
    rc->next = s->conns;
    s->conns = rc;
    s->accepts++;
    if (++s->open > s->max_open)
        s->max_open = s->open;
    uv_read_start((uv_stream_t *)&rc->tcp, on_ralloc, on_rread);
}

static void on_hold(uv_timer_t *t)
{
    struct rsrv *s = t->data;
    for (struct rconn *rc = s->conns; rc; rc = rc->next)
        if (rc->held && !rc->closing) {
            rc->held = false;
            answer_echo(rc, "held", 4);
        }
}

static void rsrv_start(struct rsrv *s, uv_loop_t *loop, int mode)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->mode = mode;
    buf_init(&s->last_req);
    uv_tcp_init(loop, &s->lis);
    s->lis.data = s;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ_INT(uv_tcp_bind(&s->lis, (struct sockaddr *)&a, 0), 0);
    ASSERT_EQ_INT(uv_listen((uv_stream_t *)&s->lis, 64, on_rconn), 0);
    int len = sizeof(a);
    uv_tcp_getsockname(&s->lis, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    uv_timer_init(loop, &s->hold);
    s->hold.data = s;
    if (mode == R_HOLD)
        uv_timer_start(&s->hold, on_hold, 150, 150);
}

static void rsrv_close(struct rsrv *s)
{
    uv_close((uv_handle_t *)&s->lis, NULL);
    uv_close((uv_handle_t *)&s->hold, NULL);
    for (struct rconn *rc = s->conns; rc; rc = rc->next)
        rconn_close(rc);
}

static void rsrv_release(struct rsrv *s)
{
    ASSERT_EQ_INT(s->handles, 0);
    buf_release(&s->last_req);
}

/* Ends a loop test: closes the client (its callback must run) and the server. */
static void finish_loop(uv_loop_t *loop, struct httpc *c, struct rsrv *s)
{
    bool closed = false;
    if (c)
        httpc_close(c, set_flag, &closed);
    if (s)
        rsrv_close(s);
    uv_run(loop, UV_RUN_DEFAULT);
    if (c)
        ASSERT_TRUE(closed);
    if (s)
        rsrv_release(s);
    ASSERT_EQ_INT(uv_loop_close(loop), 0);
}

static char *url_of(struct rsrv *s, const char *path)
{
    return xasprintf("http://127.0.0.1:%d%s", s->port, path);
}

/* ---- plain calls ---- */

TEST(httpc_post_sends_json_and_reads_answer)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_ECHO);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = url_of(&s, "/v3/kv/range");
    struct res r = {0};
    httpc_post(c, url, "{\"key\":\"a\"}xyz", 11, 5000, NULL, on_done, &r);
    ASSERT_TRUE(run_until(&loop, &r.done, 5000));
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body, "{\"key\":\"a\"}");
    ASSERT_CONTAINS(s.last_req.p, "POST /v3/kv/range HTTP/1.1\r\n");
    char *host = xasprintf("\r\nHost: 127.0.0.1:%d\r\n", s.port);
    ASSERT_CONTAINS(s.last_req.p, host);
    ASSERT_CONTAINS(s.last_req.p, "\r\nContent-Type: application/json\r\n");
    ASSERT_CONTAINS(s.last_req.p, "\r\nContent-Length: 11\r\n\r\n{\"key\":\"a\"}");
    ASSERT_TRUE(strstr(s.last_req.p, "Expect") == NULL);
    free(host);
    free(url);
    finish_loop(&loop, c, &s);
}

TEST(httpc_keepalive_reuses_one_connection)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_ECHO);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = url_of(&s, "/x");
    for (int i = 0; i < 5; i++) {
        struct res r = {0};
        char body[32];
        snprintf(body, sizeof(body), "call %d", i);
        httpc_post(c, url, body, strlen(body), 5000, NULL, on_done, &r);
        ASSERT_TRUE(run_until(&loop, &r.done, 5000));
        ASSERT_EQ_INT(r.rc, 0);
        ASSERT_EQ_STR(r.body, body);
    }
    ASSERT_EQ_INT(s.requests, 5);
    ASSERT_EQ_INT(s.accepts, 1);
    free(url);
    finish_loop(&loop, c, &s);
}

TEST(httpc_caps_connections_per_host_and_queues)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_HOLD);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = url_of(&s, "/q");
    struct res r[12] = {0};
    for (int i = 0; i < 12; i++)
        httpc_post(c, url, "{}", 2, 10000, NULL, on_done, &r[i]);
    ASSERT_TRUE(run_until(&loop, &r[11].done, 5000));
    for (int i = 0; i < 12; i++) {
        ASSERT_TRUE(r[i].done);
        ASSERT_EQ_INT(r[i].rc, 0);
        ASSERT_EQ_STR(r[i].body, "held");
    }
    ASSERT_EQ_INT(s.max_open, 8);
    ASSERT_EQ_INT(s.accepts, 8); /* the last four went on reused connections */
    ASSERT_EQ_INT(s.requests, 12);
    free(url);
    finish_loop(&loop, c, &s);
}

TEST(httpc_connection_close_and_body_until_eof)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_CLOSE);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = url_of(&s, "/c");
    for (int i = 0; i < 2; i++) {
        struct res r = {0};
        httpc_post(c, url, "{}", 2, 5000, NULL, on_done, &r);
        ASSERT_TRUE(run_until(&loop, &r.done, 5000));
        ASSERT_EQ_INT(r.rc, 0);
        ASSERT_EQ_STR(r.body, "ok");
    }
    ASSERT_EQ_INT(s.accepts, 2);
    s.mode = R_EOF_BODY;
    struct res r = {0};
    httpc_post(c, url, "{}", 2, 5000, NULL, on_done, &r);
    ASSERT_TRUE(run_until(&loop, &r.done, 5000));
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_STR(r.body, "until the end");
    free(url);
    finish_loop(&loop, c, &s);
}

TEST(httpc_resends_once_when_a_reused_connection_died)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_DROP_SECOND);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = url_of(&s, "/d");
    struct res r1 = {0}, r2 = {0};
    httpc_post(c, url, "one", 3, 5000, NULL, on_done, &r1);
    ASSERT_TRUE(run_until(&loop, &r1.done, 5000));
    httpc_post(c, url, "two", 3, 5000, NULL, on_done, &r2);
    ASSERT_TRUE(run_until(&loop, &r2.done, 5000));
    ASSERT_EQ_INT(r2.rc, 0);
    ASSERT_EQ_STR(r2.body, "two");
    ASSERT_EQ_INT(s.accepts, 2);
    ASSERT_EQ_INT(s.requests, 3);
    free(url);
    finish_loop(&loop, c, &s);
}

TEST(httpc_timeout)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_SILENT);
    /* the error names what did not answer, as the client was told */
    struct httpc_tls tls = {.server = "manager"};
    struct httpc *c = httpc_new(&loop, &tls);
    char *url = url_of(&s, "/slow");
    struct res r = {0}, r2 = {0};
    uint64_t t0 = uv_hrtime();
    httpc_post(c, url, "{}", 2, 300, NULL, on_done, &r);
    ASSERT_TRUE(run_until(&loop, &r.done, 5000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    char want[64];
    snprintf(want, sizeof(want), "manager 127.0.0.1:%d unreachable: ", s.port);
    ASSERT_CONTAINS(r.msg, want);
    ASSERT_CONTAINS(r.msg, "unreachable: Operation timed out after ");
    ASSERT_TRUE(ms >= 290 && ms < 2000);
    /* the timed-out connection is not reused: a new one is opened */
    s.mode = R_ECHO;
    httpc_post(c, url, "ok", 2, 300, NULL, on_done, &r2);
    ASSERT_TRUE(run_until(&loop, &r2.done, 5000));
    ASSERT_EQ_INT(r2.rc, 0);
    ASSERT_EQ_INT(s.accepts, 2);
    free(url);
    finish_loop(&loop, c, &s);
}

TEST(httpc_connection_refused_and_bad_url)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop, NULL);
    int port = free_port();
    char *url = xasprintf("http://127.0.0.1:%d/x", port);
    struct res r = {0}, r2 = {0};
    httpc_post(c, url, "{}", 2, 5000, NULL, on_done, &r);
    httpc_post(c, "http://no.such.host/", "{}", 2, 0, NULL, on_done, &r2);
    ASSERT_FALSE(r2.done); /* never called back from inside httpc_post */
    ASSERT_TRUE(run_until(&loop, &r.done, 5000));
    ASSERT_TRUE(run_until(&loop, &r2.done, 5000));
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    char *want = xasprintf("Failed to connect to 127.0.0.1 port %d: Connection refused", port);
    ASSERT_CONTAINS(r.msg, want);
    ASSERT_EQ_INT(r2.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(r2.msg, "Could not resolve host: no.such.host");
    free(want);
    free(url);
    finish_loop(&loop, c, NULL);
}

/* ---- callbacks that cancel, start and close ---- */

struct chain {
    struct httpc *c;
    char *url;
    struct httpc_call *victim;
    struct res *victim_res;
    struct res next;
    int done_calls;
    bool closed;
    bool close_in_cb;
};

static void chain_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct chain *ch = data;
    ch->done_calls++;
    ASSERT_EQ_INT(rc, 0);
    httpc_cancel(ch->victim); /* another call, still pending */
    ch->victim = NULL;
    if (ch->close_in_cb) {
        httpc_close(ch->c, set_flag, &ch->closed);
        ch->c = NULL;
        return;
    }
    httpc_post(ch->c, ch->url, "next", 4, 5000, NULL, on_done, &ch->next);
}

TEST(httpc_callback_cancels_and_starts_calls)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_ECHO);
    struct httpc *c = httpc_new(&loop, NULL);
    struct chain ch = {.c = c, .url = url_of(&s, "/chain")};
    struct rsrv q; /* the victim waits on a server that never answers */
    rsrv_start(&q, &loop, R_SILENT);
    struct res victim = {0};
    char *slow = url_of(&q, "/never");
    ch.victim = httpc_post(c, slow, "{}", 2, 0, NULL, on_done, &victim);
    httpc_post(c, ch.url, "first", 5, 5000, NULL, chain_done, &ch);
    ASSERT_TRUE(run_until(&loop, &ch.next.done, 5000));
    ASSERT_EQ_INT(ch.done_calls, 1);
    ASSERT_EQ_STR(ch.next.body, "next");
    run_for(&loop, 100);
    ASSERT_FALSE(victim.done); /* cancelled: never called back */
    ASSERT_EQ_INT(q.requests, 1);
    ASSERT_EQ_INT(q.open, 0); /* its connection was closed */
    free(slow);
    free(ch.url);
    rsrv_close(&q);
    finish_loop(&loop, c, &s);
    rsrv_release(&q);
}

TEST(httpc_close_inside_callback)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_ECHO);
    struct httpc *c = httpc_new(&loop, NULL);
    struct chain ch = {.c = c, .url = url_of(&s, "/chain"), .close_in_cb = true};
    struct rsrv q;
    rsrv_start(&q, &loop, R_SILENT);
    struct res victim = {0}, other = {0};
    char *silent = url_of(&q, "/never");
    ch.victim = httpc_post(c, silent, "{}", 2, 0, NULL, on_done, &victim);
    httpc_post(c, silent, "{}", 2, 0, NULL, on_done, &other);
    httpc_post(c, ch.url, "first", 5, 5000, NULL, chain_done, &ch);
    ASSERT_TRUE(run_until(&loop, &ch.closed, 5000));
    ASSERT_EQ_INT(ch.done_calls, 1);
    run_for(&loop, 50);
    ASSERT_FALSE(victim.done);
    ASSERT_FALSE(other.done);
    ASSERT_EQ_INT(q.open, 0);
    free(silent);
    free(ch.url);
    rsrv_close(&q);
    finish_loop(&loop, NULL, &s);
    rsrv_release(&q);
}

TEST(httpc_close_with_calls_pending)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_SILENT);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = url_of(&s, "/p");
    struct res r[10] = {0};
    for (int i = 0; i < 10; i++) /* eight on the wire, two queued */
        httpc_post(c, url, "{}", 2, i % 2 ? 0 : 5000, NULL, on_done, &r[i]);
    run_for(&loop, 100);
    ASSERT_EQ_INT(s.requests, 8);
    bool closed = false;
    httpc_close(c, set_flag, &closed);
    ASSERT_FALSE(closed); /* later, from the loop */
    ASSERT_TRUE(run_until(&loop, &closed, 5000));
    for (int i = 0; i < 10; i++)
        ASSERT_FALSE(r[i].done);
    run_for(&loop, 100);
    ASSERT_EQ_INT(s.open, 0); /* every connection was closed */
    free(url);
    finish_loop(&loop, NULL, &s);
}

/* ---- against the http module's server: streams and TLS ---- */

struct hsrv {
    uv_loop_t *loop;
    struct http_server *srv;
    uv_timer_t tick;
    struct http_req *stream;
    int sent, stream_limit; /* limit 0: endless */
    bool stream_gone, closed;
    int handled;
    char dir[64];
    char *ca, *cert, *key, *ca2;
};

static void stream_gone(struct http_req *req, void *data)
{
    struct hsrv *h = data;
    h->stream_gone = true;
    if (h->stream == req) {
        http_stream_end(req);
        h->stream = NULL;
    }
}

static void on_stream_tick(uv_timer_t *t)
{
    struct hsrv *h = t->data;
    if (!h->stream)
        return;
    char msg[64];
    snprintf(msg, sizeof(msg), "{\"n\":%d}\n", h->sent++);
    http_stream_write(h->stream, msg, strlen(msg));
    if (h->stream_limit && h->sent == h->stream_limit) {
        http_stream_end(h->stream);
        h->stream = NULL;
    }
}

static void hhandler(struct http_req *req, void *data)
{
    struct hsrv *h = data;
    h->handled++;
    if (!strcmp(req->path, "/stream")) {
        http_stream_begin(req, 200, "application/json");
        h->stream = req;
        http_req_on_close(req, stream_gone, h);
        uv_timer_start(&h->tick, on_stream_tick, 5, 5);
        return;
    }
    const char *cn = http_req_peer_cn(req);
    char *body = xasprintf("cn=%s body=%s", cn ? cn : "-", req->body ? req->body : "");
    http_respond(req, 200, "text/plain", body, strlen(body));
    free(body);
}

static void write_pem(const char *dir, const char *name, const char *pem, char **path)
{
    *path = xasprintf("%s/%s", dir, name);
    struct err e = {0};
    if (file_write_atomic(*path, pem, strlen(pem), 0600, &e) < 0)
        FAIL_AT("%s", e.msg);
}

/* A CA, a certificate for 127.0.0.1 (server and client use), and a second unrelated CA. */
static void hsrv_pki(struct hsrv *h)
{
    snprintf(h->dir, sizeof(h->dir), "/tmp/shoal-httpc-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(h->dir));
    struct err e = {0};
    char *ca = NULL, *cakey = NULL, *key = NULL, *csr = NULL, *cert = NULL, *ca2 = NULL,
         *ca2key = NULL;
    ASSERT_EQ_INT(ca_root_new(&ca, &cakey, &e), 0);
    ASSERT_EQ_INT(ca_root_new(&ca2, &ca2key, &e), 0);
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    struct ca_identity id = {0};
    snprintf(id.cn, sizeof(id.cn), "node1");
    snprintf(id.ou, sizeof(id.ou), "swarm-manager");
    snprintf(id.org, sizeof(id.org), "cluster1");
    const char *ips[] = {"127.0.0.1"};
    ASSERT_EQ_INT(ca_issue(ca, cakey, csr, &id, CA_NODE_EXPIRY_NS, ips, 1, &cert, &e), 0);
    write_pem(h->dir, "ca.pem", ca, &h->ca);
    write_pem(h->dir, "ca2.pem", ca2, &h->ca2);
    write_pem(h->dir, "cert.pem", cert, &h->cert);
    write_pem(h->dir, "key.pem", key, &h->key);
    free(ca);
    free(cakey);
    free(key);
    free(csr);
    free(cert);
    free(ca2);
    free(ca2key);
}

/* Starts the server on 127.0.0.1 and 127.0.0.2 (same port); tls may be NULL. */
static int hsrv_start(struct hsrv *h, uv_loop_t *loop, const struct http_tls_config *tls)
{
    h->loop = loop;
    h->srv = http_server_new(loop, NULL, hhandler, h);
    uv_timer_init(loop, &h->tick);
    h->tick.data = h;
    int port = free_port();
    struct err e = {0};
    char *a1 = xasprintf("tcp://127.0.0.1:%d", port), *a2 = xasprintf("tcp://127.0.0.2:%d", port);
    if (http_server_listen(h->srv, a1, tls, &e) < 0 || http_server_listen(h->srv, a2, tls, &e) < 0)
        FAIL_AT("listen: %s", e.msg);
    free(a1);
    free(a2);
    return port;
}

static void hsrv_finish(struct hsrv *h, uv_loop_t *loop, struct httpc *c)
{
    bool closed = false;
    if (c)
        httpc_close(c, set_flag, &closed);
    uv_close((uv_handle_t *)&h->tick, NULL);
    http_server_close(h->srv, set_flag, &h->closed);
    uv_run(loop, UV_RUN_DEFAULT);
    ASSERT_TRUE(h->closed);
    if (c)
        ASSERT_TRUE(closed);
    ASSERT_EQ_INT(uv_loop_close(loop), 0);
    if (h->dir[0]) {
        struct err e = {0};
        dir_remove_all(h->dir, &e);
    }
    free(h->ca);
    free(h->ca2);
    free(h->cert);
    free(h->key);
}

struct streamer {
    struct res r; /* first: on_done takes the streamer as its struct res */
    struct httpc_call *call;
    int msgs, cancel_after, pause_after;
    bool cancelled, paused;
    long status_seen;
    size_t pending_max; /* complete lines left in body while paused */
};

static size_t lines_in(const struct buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->p[i] == '\n';
    return n;
}

static void on_stream_data(void *data, struct buf *body)
{
    struct streamer *st = data;
    ASSERT_FALSE(st->cancelled);
    st->status_seen = httpc_call_status(st->call);
    if (st->paused) { /* what was read before the pause: left in body */
        if (lines_in(body) > st->pending_max)
            st->pending_max = lines_in(body);
        return;
    }
    char *nl;
    while (body->p && (nl = memchr(body->p, '\n', body->len))) {
        char want[32];
        snprintf(want, sizeof(want), "{\"n\":%d}", st->msgs);
        ASSERT_TRUE(!strncmp(body->p, want, strlen(want)));
        st->msgs++;
        buf_consume(body, (size_t)(nl - body->p) + 1);
        if (st->cancel_after && st->msgs == st->cancel_after) {
            httpc_cancel(st->call); /* inside its own callback */
            st->cancelled = true;
            return;
        }
        if (st->pause_after && st->msgs == st->pause_after) {
            httpc_pause(st->call); /* inside its own callback */
            st->paused = true;
            return;
        }
    }
}

static void run_stream(uv_loop_t *loop, struct hsrv *h, struct httpc *c, const char *scheme,
                       int port)
{
    char *url = xasprintf("%s://127.0.0.1:%d/stream", scheme, port);
    /* a finite stream: every message, then done with nothing left over */
    struct streamer a = {0};
    h->stream_limit = 20;
    a.call = httpc_post(c, url, "{}", 2, 0, on_stream_data, on_done, &a);
    ASSERT_TRUE(run_until(loop, &a.r.done, 5000));
    ASSERT_EQ_INT(a.r.rc, 0);
    ASSERT_EQ_INT(a.r.status, 200);
    ASSERT_EQ_INT(a.msgs, 20);
    ASSERT_EQ_STR(a.r.body, "");
    /* an endless one, cancelled from its data callback; the server sees the peer go */
    struct streamer b = {.cancel_after = 7};
    h->stream_limit = 0;
    h->sent = 0;
    b.call = httpc_post(c, url, "{}", 2, 0, on_stream_data, on_done, &b);
    ASSERT_TRUE(run_until(loop, &h->stream_gone, 5000));
    ASSERT_TRUE(b.cancelled);
    ASSERT_EQ_INT(b.msgs, 7);
    run_for(loop, 50);
    ASSERT_FALSE(b.r.done);
    /* paused from its data callback: nothing more is read while the server goes on writing
     * (a message every 5 ms); resumed, what queued meanwhile arrives */
    struct streamer p = {.pause_after = 3};
    h->stream_gone = false;
    h->sent = 0;
    p.call = httpc_post(c, url, "{}", 2, 0, on_stream_data, on_done, &p);
    ASSERT_TRUE(run_until(loop, &p.paused, 5000));
    ASSERT_EQ_INT(p.status_seen, 200);
    run_for(loop, 150);
    ASSERT_TRUE(h->sent >= 3 + 10);
    ASSERT_EQ_INT(p.msgs, 3);
    /* at most what the read in progress at the pause had brought */
    ASSERT_TRUE(p.pending_max <= 3);
    p.paused = false;
    httpc_resume(p.call);
    int sent_at_resume = h->sent;
    run_for(loop, 150);
    ASSERT_TRUE(p.msgs >= sent_at_resume);
    ASSERT_FALSE(p.r.done);
    httpc_cancel(p.call);
    ASSERT_TRUE(run_until(loop, &h->stream_gone, 5000));
    free(url);
}

TEST(httpc_chunked_stream_plain)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct hsrv h = {0};
    int port = hsrv_start(&h, &loop, NULL);
    struct httpc *c = httpc_new(&loop, NULL);
    run_stream(&loop, &h, c, "http", port);
    hsrv_finish(&h, &loop, c);
}

static void post_and_wait(uv_loop_t *loop, struct httpc *c, const char *url, struct res *r)
{
    *r = (struct res){0};
    httpc_post(c, url, "{\"x\":1}", 7, 5000, NULL, on_done, r);
    ASSERT_TRUE(run_until(loop, &r->done, 8000));
}

TEST(httpc_tls_mutual)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct hsrv h = {0};
    hsrv_pki(&h);
    struct http_tls_config tls = {
        .cert_file = h.cert, .key_file = h.key, .client_ca_file = h.ca, .tls13_only = true};
    int port = hsrv_start(&h, &loop, &tls);
    char *url = xasprintf("https://127.0.0.1:%d/rpc", port);
    char *url2 = xasprintf("https://127.0.0.2:%d/rpc", port);
    struct res r;

    /* with a client certificate: the server sees who we are */
    struct httpc_tls full = {
        .ca_file = h.ca, .cert_file = h.cert, .key_file = h.key, .tls13 = true};
    struct httpc *c = httpc_new(&loop, &full);
    post_and_wait(&loop, c, url, &r);
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(r.body, "cn=node1 body={\"x\":1}");
    post_and_wait(&loop, c, url, &r); /* again, on the kept connection */
    ASSERT_EQ_INT(r.rc, 0);
    /* 127.0.0.2 is not in the certificate */
    post_and_wait(&loop, c, url2, &r);
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(r.msg, "SSL certificate problem: IP address mismatch");
    run_stream(&loop, &h, c, "https", port);

    /* ... unless the host check is off (the chain is still checked) */
    struct httpc_tls skip = full;
    skip.skip_host_check = true;
    struct httpc *c2 = httpc_new(&loop, &skip);
    post_and_wait(&loop, c2, url2, &r);
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_STR(r.body, "cn=node1 body={\"x\":1}");
    bool closed2 = false;
    httpc_close(c2, set_flag, &closed2);

    /* without a client certificate the server refuses */
    struct httpc_tls anon = {.ca_file = h.ca};
    struct httpc *c3 = httpc_new(&loop, &anon);
    post_and_wait(&loop, c3, url, &r);
    ASSERT_TRUE(r.rc < 0);
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    bool closed3 = false;
    httpc_close(c3, set_flag, &closed3);

    /* another CA does not vouch for the server */
    struct httpc_tls other = {.ca_file = h.ca2, .cert_file = h.cert, .key_file = h.key};
    struct httpc *c4 = httpc_new(&loop, &other);
    post_and_wait(&loop, c4, url, &r);
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(r.msg, "SSL certificate problem");
    bool closed4 = false;
    httpc_close(c4, set_flag, &closed4);

    /* a missing CA file is an error of the call, not a crash */
    struct httpc_tls missing = {.ca_file = "/nonexistent/ca.pem"};
    struct httpc *c5 = httpc_new(&loop, &missing);
    post_and_wait(&loop, c5, url, &r);
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(r.msg, "/nonexistent/ca.pem");
    bool closed5 = false;
    httpc_close(c5, set_flag, &closed5);

    /* plain http to a TLS port gets no answer that passes for one */
    struct httpc *c6 = httpc_new(&loop, NULL);
    char *plain = xasprintf("http://127.0.0.1:%d/rpc", port);
    post_and_wait(&loop, c6, plain, &r);
    ASSERT_TRUE(r.rc < 0 || r.status != 200);
    bool closed6 = false;
    httpc_close(c6, set_flag, &closed6);

    free(plain);
    free(url);
    free(url2);
    hsrv_finish(&h, &loop, c);
    ASSERT_TRUE(closed2 && closed3 && closed4 && closed5 && closed6);
}

TEST(httpc_tls_insecure_fetches_from_unknown_server)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct hsrv h = {0};
    hsrv_pki(&h);
    struct http_tls_config tls = {.cert_file = h.cert, .key_file = h.key};
    int port = hsrv_start(&h, &loop, &tls);
    char *url = xasprintf("https://127.0.0.2:%d/ca", port);
    struct httpc_tls insecure = {.insecure = true, .tls13 = true};
    struct httpc *c = httpc_new(&loop, &insecure);
    struct res r;
    post_and_wait(&loop, c, url, &r);
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_STR(r.body, "cn=- body={\"x\":1}");
    /* the same server with verification on and no CA known: refused */
    struct httpc_tls strict = {.ca_file = h.ca2};
    struct httpc *c2 = httpc_new(&loop, &strict);
    post_and_wait(&loop, c2, url, &r);
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    bool closed2 = false;
    httpc_close(c2, set_flag, &closed2);
    free(url);
    hsrv_finish(&h, &loop, c);
    ASSERT_TRUE(closed2);
}

/* A listener whose accept queue is full drops further SYNs: connecting hangs. */
static int full_listener(int *port, int fill[2])
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ASSERT_EQ_INT(listen(fd, 0), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    usleep(100000);
    return fd;
}

TEST_T(httpc_connect_timeout, 30)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port, fill[2];
    int lfd = full_listener(&port, fill);
    struct httpc *c = httpc_new(&loop, NULL);
    char *url = xasprintf("http://127.0.0.1:%d/x", port);
    struct res r = {0}, r2 = {0};
    uint64_t t0 = uv_hrtime();
    httpc_post(c, url, "{}", 2, 1000, NULL, on_done, &r); /* the call's own limit first */
    httpc_post(c, url, "{}", 2, 0, NULL, on_done, &r2);   /* then the connect timeout */
    ASSERT_TRUE(run_until(&loop, &r.done, 10000));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(r.msg, "Operation timed out after ");
    ASSERT_TRUE(ms >= 990 && ms < 3000);
    ASSERT_TRUE(run_until(&loop, &r2.done, 10000));
    ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_EQ_INT(r2.rc, -ERR_UNAVAILABLE);
    char *want = xasprintf("Failed to connect to 127.0.0.1 port %d after 5000 ms", port);
    ASSERT_CONTAINS(r2.msg, want);
    ASSERT_TRUE(ms >= 4990 && ms < 8000);
    free(want);
    free(url);
    finish_loop(&loop, c, NULL);
    close(fill[0]);
    close(fill[1]);
    close(lfd);
}

TEST(httpc_idle_connections_time_out)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rsrv s;
    rsrv_start(&s, &loop, R_ECHO);
    struct httpc *c = httpc_new(&loop, NULL);
    httpc_set_idle_timeout(c, 300);
    char *url = url_of(&s, "/i");
    for (int i = 0; i < 3; i++) { /* reused while younger than the timeout */
        struct res r = {0};
        httpc_post(c, url, "{}", 2, 5000, NULL, on_done, &r);
        ASSERT_TRUE(run_until(&loop, &r.done, 5000));
        ASSERT_EQ_INT(r.rc, 0);
        run_for(&loop, 100);
    }
    ASSERT_EQ_INT(s.accepts, 1);
    ASSERT_EQ_INT(s.open, 1);
    run_for(&loop, 500);
    ASSERT_EQ_INT(s.open, 0); /* closed by the client */
    struct res r = {0};
    httpc_post(c, url, "{}", 2, 5000, NULL, on_done, &r);
    ASSERT_TRUE(run_until(&loop, &r.done, 5000));
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_INT(s.accepts, 2);
    free(url);
    finish_loop(&loop, c, &s);
}
