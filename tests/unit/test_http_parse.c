/* test_http_parse.c — unit tests for the incremental HTTP request parser (no sockets):
 * fragmentation, pipelining, chunked bodies, limits, garbage, and a mutation loop that
 * checks the outcome never depends on how the input is split. */
#include "harness.h"
#include "http/http_int.h"

#define MAXREQ 16

struct outcome {
    struct http_ireq *reqs[MAXREQ];
    int n;
    int err; /* 0 or the error status */
    size_t consumed;
};

/* Feeds data in pieces of at most `step` bytes (0: all at once), collecting requests. */
static void run(struct http_parser *p, const char *data, size_t len, size_t step, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    size_t off = 0;
    while (off < len) {
        size_t n = step && len - off > step ? step : len - off;
        size_t used = 0;
        int rc = http_parser_feed(p, data + off, n, &used);
        if (used > n)
            FAIL_AT("parser used %zu of %zu bytes", used, n);
        off += used;
        if (rc == HTTP_PARSE_ERROR) {
            o->err = p->err_status;
            break;
        }
        if (rc == HTTP_PARSE_DONE) {
            struct http_ireq *r = http_parser_take(p);
            if (o->n < MAXREQ)
                o->reqs[o->n++] = r;
            else
                http_ireq_free(r);
            continue;
        }
        if (used != n)
            FAIL_AT("parser returned MORE without consuming all input");
    }
    o->consumed = off;
}

static void outcome_free(struct outcome *o)
{
    for (int i = 0; i < o->n; i++)
        http_ireq_free(o->reqs[i]);
    o->n = 0;
}

static void parse_str(const char *s, size_t step, size_t max_header, size_t max_body,
                      struct outcome *o)
{
    struct http_parser p;
    http_parser_init(&p, max_header, max_body);
    run(&p, s, strlen(s), step, o);
    http_parser_release(&p);
}

static int parse_err(const char *s)
{
    struct outcome o;
    parse_str(s, 0, 65536, 1 << 20, &o);
    int e = o.err;
    outcome_free(&o);
    return e;
}

TEST(http_parse_simple_get)
{
    struct outcome o;
    parse_str("GET /v1.41/nodes?filters=%7B%7D&x=1 HTTP/1.1\r\nHost: docker\r\n"
              "User-Agent: Docker-Client/20.10\r\nX-Empty:\r\n\r\n",
              0, 65536, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 1);
    struct http_req *r = &o.reqs[0]->pub;
    ASSERT_EQ_STR(r->method, "GET");
    ASSERT_EQ_STR(r->target, "/v1.41/nodes?filters=%7B%7D&x=1");
    ASSERT_EQ_STR(r->path, "/v1.41/nodes");
    ASSERT_EQ_STR(r->query, "filters=%7B%7D&x=1");
    ASSERT_EQ_INT(r->http_minor, 1);
    ASSERT_EQ_INT(r->nheaders, 3);
    ASSERT_EQ_STR(http_req_header(r, "host"), "docker");
    ASSERT_EQ_STR(http_req_header(r, "USER-AGENT"), "Docker-Client/20.10");
    ASSERT_EQ_STR(http_req_header(r, "x-empty"), "");
    ASSERT_NULL(http_req_header(r, "Content-Length"));
    ASSERT_EQ_INT(r->body_len, 0);
    ASSERT_EQ_STR(r->body, "");
    ASSERT_TRUE(o.reqs[0]->keep_alive);
    char *f = http_query_get(r, "filters");
    ASSERT_EQ_STR(f, "{}");
    free(f);
    outcome_free(&o);
}

TEST(http_parse_fragmented_byte_by_byte)
{
    const char *req = "POST /v1.41/services/create HTTP/1.1\r\nHost: api.moby.localhost\r\n"
                      "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                      "{\"Name\":\"web\"}\r\n\r\n";
    /* the last 3 bytes (\r\n\r\n minus 1) are not body: 17 bytes = {"Name":"web"} + \r\n\r */
    struct outcome o;
    parse_str(req, 1, 65536, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 1);
    ASSERT_EQ_STR(o.reqs[0]->pub.method, "POST");
    ASSERT_EQ_STR(o.reqs[0]->pub.path, "/v1.41/services/create");
    ASSERT_EQ_INT(o.reqs[0]->pub.body_len, 17);
    ASSERT_EQ_STR(o.reqs[0]->pub.body, "{\"Name\":\"web\"}\r\n\r");
    ASSERT_EQ_STR(http_req_header(&o.reqs[0]->pub, "host"), "api.moby.localhost");
    /* the trailing "\n" starts the next request: a blank line, ignored */
    ASSERT_EQ_INT(o.consumed, strlen(req));
    outcome_free(&o);

    /* every split size gives the same request */
    for (size_t step = 1; step < strlen(req); step++) {
        parse_str(req, step, 65536, 1 << 20, &o);
        ASSERT_EQ_INT(o.err, 0);
        ASSERT_EQ_INT(o.n, 1);
        ASSERT_EQ_INT(o.reqs[0]->pub.body_len, 17);
        ASSERT_EQ_INT(o.reqs[0]->pub.nheaders, 3);
        outcome_free(&o);
    }
}

TEST(http_parse_pipelined)
{
    const char *in = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                     "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                     "DELETE /d?force=1 HTTP/1.1\r\n\r\n";
    for (size_t step = 0; step < 9; step++) {
        struct outcome o;
        parse_str(in, step, 65536, 1 << 20, &o);
        ASSERT_EQ_INT(o.err, 0);
        ASSERT_EQ_INT(o.n, 4);
        ASSERT_EQ_STR(o.reqs[0]->pub.path, "/a");
        ASSERT_EQ_STR(o.reqs[1]->pub.path, "/b");
        ASSERT_EQ_STR(o.reqs[1]->pub.body, "abc");
        ASSERT_EQ_STR(o.reqs[2]->pub.method, "PUT");
        ASSERT_EQ_STR(o.reqs[2]->pub.body, "hi");
        ASSERT_EQ_STR(o.reqs[3]->pub.method, "DELETE");
        ASSERT_EQ_STR(o.reqs[3]->pub.query, "force=1");
        outcome_free(&o);
    }
}

TEST(http_parse_chunked_ext_trailers)
{
    const char *in = "POST /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                     "4;name=value\r\nWiki\r\n"
                     "5 ; a=\"b\"\r\npedia\r\n"
                     "E\r\n in\r\n\r\nchunks.\r\n"
                     "0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n"
                     "GET /next HTTP/1.1\r\n\r\n";
    for (size_t step = 0; step < 4; step++) {
        struct outcome o;
        parse_str(in, step, 65536, 1 << 20, &o);
        ASSERT_EQ_INT(o.err, 0);
        ASSERT_EQ_INT(o.n, 2);
        ASSERT_EQ_INT(o.reqs[0]->pub.body_len, 23);
        ASSERT_EQ_STR(o.reqs[0]->pub.body, "Wikipedia in\r\n\r\nchunks.");
        ASSERT_EQ_STR(o.reqs[1]->pub.path, "/next");
        outcome_free(&o);
    }
    /* LF-only framing is tolerated too */
    struct outcome o;
    parse_str("POST /x HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", 1, 65536, 1 << 20,
              &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 1);
    ASSERT_EQ_STR(o.reqs[0]->pub.body, "abc");
    outcome_free(&o);
}

TEST(http_parse_tolerated)
{
    struct outcome o;
    /* empty POST with a Content-Type, leading blank lines, absolute-form target */
    parse_str("\r\n\r\nPOST /v1.41/containers/x/start HTTP/1.1\r\nHost: docker\r\n"
              "Content-Type: text/plain\r\n\r\n"
              "GET http://api.moby.localhost/v1.41/info?a=b HTTP/1.1\r\n\r\n",
              0, 65536, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 2);
    ASSERT_EQ_INT(o.reqs[0]->pub.body_len, 0);
    ASSERT_EQ_STR(o.reqs[1]->pub.path, "/v1.41/info");
    ASSERT_EQ_STR(o.reqs[1]->pub.query, "a=b");
    outcome_free(&o);

    /* same Content-Length twice is fine; percent-decoded path */
    parse_str("PUT /v1.41/containers/a%20b%2Fc/archive HTTP/1.1\r\nContent-Length: 2\r\n"
              "content-length: 2\r\n\r\nok",
              0, 65536, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 1);
    ASSERT_EQ_STR(o.reqs[0]->pub.path, "/v1.41/containers/a b/c/archive");
    ASSERT_EQ_STR(o.reqs[0]->pub.body, "ok");
    outcome_free(&o);
}

TEST(http_parse_connection_semantics)
{
    struct outcome o;
    parse_str("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
              "GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n"
              "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
              0, 65536, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 4);
    ASSERT_EQ_INT(o.reqs[0]->pub.http_minor, 0);
    ASSERT_FALSE(o.reqs[0]->keep_alive);
    ASSERT_TRUE(o.reqs[1]->keep_alive);
    ASSERT_FALSE(o.reqs[2]->keep_alive);
    ASSERT_TRUE(o.reqs[3]->keep_alive);
    outcome_free(&o);

    /* 100-continue is offered once the headers are in and the body is not */
    struct http_parser p;
    http_parser_init(&p, 65536, 1 << 20);
    const char *h = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    size_t used;
    ASSERT_EQ_INT(http_parser_feed(&p, h, strlen(h), &used), HTTP_PARSE_MORE);
    ASSERT_FALSE(http_parser_in_headers(&p));
    ASSERT_TRUE(http_parser_want_continue(&p));
    ASSERT_FALSE(http_parser_want_continue(&p));
    ASSERT_EQ_INT(http_parser_feed(&p, "x", 1, &used), HTTP_PARSE_DONE);
    struct http_ireq *r = http_parser_take(&p);
    ASSERT_EQ_STR(r->pub.body, "x");
    http_ireq_free(r);
    ASSERT_TRUE(http_parser_in_headers(&p));
    http_parser_release(&p);
}

TEST(http_parse_header_too_large)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "GET / HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 2000; i++)
        buf_adds(&b, "a");
    buf_adds(&b, "\r\n\r\n");
    struct outcome o;
    parse_str(b.p, 0, 1024, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 431);
    ASSERT_EQ_INT(o.n, 0);
    outcome_free(&o);
    parse_str(b.p, 1, 1024, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 431);
    outcome_free(&o);
    /* long request line alone */
    buf_reset(&b);
    buf_adds(&b, "GET /");
    for (int i = 0; i < 5000; i++)
        buf_adds(&b, "x");
    parse_str(b.p, 7, 1024, 1 << 20, &o); /* no line end yet: still 431 */
    ASSERT_EQ_INT(o.err, 431);
    outcome_free(&o);
    /* exactly at the limit is accepted */
    const char *ok = "GET / HTTP/1.1\r\n\r\n";
    parse_str(ok, 1, strlen(ok), 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 1);
    outcome_free(&o);
    parse_str(ok, 1, strlen(ok) - 1, 1 << 20, &o);
    ASSERT_EQ_INT(o.err, 431);
    outcome_free(&o);
    buf_release(&b);
}

TEST(http_parse_body_too_large)
{
    /* decided from Content-Length, before any body byte */
    struct http_parser p;
    http_parser_init(&p, 65536, 100);
    const char *h = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
    size_t used;
    ASSERT_EQ_INT(http_parser_feed(&p, h, strlen(h), &used), HTTP_PARSE_ERROR);
    ASSERT_EQ_INT(p.err_status, 413);
    ASSERT_EQ_INT(http_parser_feed(&p, "x", 1, &used), HTTP_PARSE_ERROR);
    http_parser_release(&p);

    struct outcome o;
    parse_str("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 0, 65536, 100, &o);
    ASSERT_EQ_INT(o.err, 0); /* waiting for the body, allowed */
    ASSERT_EQ_INT(o.n, 0);
    outcome_free(&o);
    parse_str("POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", 0, 65536, 100, &o);
    ASSERT_EQ_INT(o.err, 413);
    outcome_free(&o);

    /* chunked growing past the limit */
    struct buf b = BUF_INIT;
    buf_adds(&b, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 20; i++)
        buf_adds(&b, "a\r\n0123456789\r\n");
    buf_adds(&b, "0\r\n\r\n");
    parse_str(b.p, 0, 65536, 150, &o);
    ASSERT_EQ_INT(o.err, 413);
    outcome_free(&o);
    parse_str(b.p, 3, 65536, 200, &o);
    ASSERT_EQ_INT(o.err, 0);
    ASSERT_EQ_INT(o.n, 1);
    ASSERT_EQ_INT(o.reqs[0]->pub.body_len, 200);
    outcome_free(&o);
    /* one huge chunk announced */
    parse_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\n", 0, 65536, 150, &o);
    ASSERT_EQ_INT(o.err, 413);
    outcome_free(&o);
    buf_release(&b);
}

TEST(http_parse_garbage)
{
    static const char *bad[] = {
        "\x01\x02\x03\r\n\r\n",
        "GET\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET noslash HTTP/1.1\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\n\r\n",
        "GET /a%zz HTTP/1.1\r\n\r\n",
        "GET /a% HTTP/1.1\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\n: novalue\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nName : x\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
        "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nabcdef",
        "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\rX",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int e = parse_err(bad[i]);
        if (e != 400)
            FAIL_AT("case %zu (%s): got %d, want 400", i, bad[i], e);
    }
    ASSERT_EQ_INT(parse_err("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
    /* NUL byte in a header */
    struct http_parser p;
    http_parser_init(&p, 65536, 100);
    static const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
    size_t used;
    ASSERT_EQ_INT(http_parser_feed(&p, nul, sizeof(nul) - 1, &used), HTTP_PARSE_ERROR);
    ASSERT_EQ_INT(p.err_status, 400);
    http_parser_release(&p);
}

TEST(http_parse_query_and_helpers)
{
    struct outcome o;
    parse_str("GET /x?a=1&b=x+y%21&c=&d&e=%zz&a=2 HTTP/1.1\r\n\r\n", 0, 65536, 100, &o);
    ASSERT_EQ_INT(o.n, 1);
    struct http_req *r = &o.reqs[0]->pub;
    char *v;
    ASSERT_EQ_STR(v = http_query_get(r, "a"), "1");
    free(v);
    ASSERT_EQ_STR(v = http_query_get(r, "b"), "x y!");
    free(v);
    ASSERT_EQ_STR(v = http_query_get(r, "c"), "");
    free(v);
    ASSERT_EQ_STR(v = http_query_get(r, "d"), "");
    free(v);
    ASSERT_EQ_STR(v = http_query_get(r, "e"), "%zz");
    free(v);
    ASSERT_NULL(http_query_get(r, "zz"));
    ASSERT_NULL(http_query_get(r, ""));
    outcome_free(&o);
    ASSERT_EQ_STR(http_status_text(404), "Not Found");
    ASSERT_EQ_STR(http_status_text(431), "Request Header Fields Too Large");
    ASSERT_EQ_STR(http_status_text(299), "Unknown");
    struct buf b = BUF_INIT;
    ASSERT_EQ_INT(http_percent_decode("a%2", 3, false, &b), -1);
    buf_reset(&b);
    ASSERT_EQ_INT(http_percent_decode("a%2fb+", 6, false, &b), 0);
    ASSERT_EQ_STR(b.p, "a/b+");
    buf_release(&b);
}

/* xorshift64*: deterministic randomness for the mutation loop */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

TEST_T(http_parse_fuzz_loop, 120)
{
    static const char *seeds[] = {
        "GET /v1.41/nodes?filters=%7B%7D HTTP/1.1\r\nHost: docker\r\n\r\n",
        "POST /v1.41/services/create HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nHEAD /x HTTP/1.1\r\n\r\n",
    };
    const char alphabet[] = "\r\n:; 0123456789abcdefABCDEF%/?&=\t\x00\x7f\xff-,";
    int stats[4] = {0};
    for (int iter = 0; iter < 10000; iter++) {
        struct buf in = BUF_INIT;
        if (iter % 5 == 0) {
            size_t n = rnd() % 300;
            for (size_t i = 0; i < n; i++) {
                char c = (char)(rnd() & 0xff);
                buf_add(&in, &c, 1);
            }
        } else {
            int ns = 1 + (int)(rnd() % 3);
            for (int k = 0; k < ns; k++)
                buf_adds(&in, seeds[rnd() % ARRAY_SIZE(seeds)]);
            int muts = 1 + (int)(rnd() % 4);
            for (int m = 0; m < muts && in.len; m++) {
                size_t pos = rnd() % in.len;
                char c =
                    rnd() % 2 ? (char)(rnd() & 0xff) : alphabet[rnd() % (sizeof(alphabet) - 1)];
                switch (rnd() % 4) {
                case 0:
                    in.p[pos] = c;
                    break;
                case 1: { /* insert */
                    buf_add(&in, "", 1);
                    memmove(in.p + pos + 1, in.p + pos, in.len - pos - 1);
                    in.p[pos] = c;
                    break;
                }
                case 2: /* delete */
                    memmove(in.p + pos, in.p + pos + 1, in.len - pos - 1);
                    in.len--;
                    break;
                case 3: /* truncate */
                    in.len = pos;
                    break;
                }
            }
        }
        size_t max_body = 1 + rnd() % 64;
        size_t max_hdr = 16 + rnd() % 200;
        struct outcome whole, frag;
        struct http_parser p;
        http_parser_init(&p, max_hdr, max_body);
        run(&p, in.p ? in.p : "", in.len, 0, &whole);
        http_parser_release(&p);
        http_parser_init(&p, max_hdr, max_body);
        run(&p, in.p ? in.p : "", in.len, 1 + rnd() % 7, &frag);
        http_parser_release(&p);
        /* splitting the input never changes the outcome */
        if (whole.n != frag.n || whole.err != frag.err)
            FAIL_AT("iter %d: whole n=%d err=%d, fragmented n=%d err=%d", iter, whole.n, whole.err,
                    frag.n, frag.err);
        ASSERT_TRUE(whole.err == 0 || whole.err == 400 || whole.err == 413 || whole.err == 431 ||
                    whole.err == 501);
        for (int i = 0; i < whole.n; i++) {
            struct http_req *r = &whole.reqs[i]->pub;
            ASSERT_EQ_INT(r->body_len, frag.reqs[i]->pub.body_len);
            ASSERT_TRUE(r->body_len <= max_body);
            ASSERT_TRUE(memcmp(r->body, frag.reqs[i]->pub.body, r->body_len) == 0);
            ASSERT_EQ_STR(r->path, frag.reqs[i]->pub.path);
            ASSERT_EQ_INT(strlen(r->path), strlen(r->path)); /* NUL-terminated */
            ASSERT_EQ_INT(r->body[r->body_len], 0);
        }
        stats[whole.err ? (whole.err == 400 ? 1 : 2) : (whole.n ? 3 : 0)]++;
        outcome_free(&whole);
        outcome_free(&frag);
        buf_release(&in);
    }
    /* the loop exercised every kind of outcome */
    ASSERT_TRUE(stats[0] > 0 && stats[1] > 0 && stats[2] > 0 && stats[3] > 0);
}
