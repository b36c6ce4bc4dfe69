/* http_parse.c — incremental HTTP/1.1 request parser and the pure request helpers
 * (header lookup, query parameters, percent-decoding, reason phrases).
 *
 * Input may arrive in any fragmentation (down to one byte at a time); every request is
 * bounded: request line + headers by max_header (→ 431), the body by max_body (→ 413,
 * decided from Content-Length before any body byte is read). Anything malformed → 400,
 * unknown transfer codings → 501. After an error the parser stays in error.
 *
 * Invariants: hdr holds only the bytes of the current header block (leading blank lines are
 * dropped); a completed request owns its header block (raw) and its body; the parser owns
 * nothing of a request after http_parser_take().
 *
 * Thread: any; a parser belongs to one connection (the server's loop thread). */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

enum {
    ST_HEAD = 0,      /* collecting request line + headers */
    ST_BODY,          /* Content-Length body */
    ST_CHUNK_SIZE,    /* hex digits of a chunk-size line */
    ST_CHUNK_EXT,     /* chunk extensions up to the line end */
    ST_CHUNK_SIZE_LF, /* CR seen at the end of the chunk-size line */
    ST_CHUNK_DATA,
    ST_CHUNK_DATA_CR, /* CRLF after chunk data */
    ST_CHUNK_DATA_LF,
    ST_TRAILER, /* trailer lines after the last chunk, ignored */
    ST_DONE,
    ST_ERROR,
};

#define CHUNK_LINE_MAX 4096 /* chunk-size line including extensions */

void http_parser_init(struct http_parser *p, size_t max_header, size_t max_body)
{
    memset(p, 0, sizeof(*p));
    p->max_header = max_header;
    p->max_body = max_body;
    buf_init(&p->hdr);
    buf_init(&p->body);
    p->state = ST_HEAD;
}

void http_parser_release(struct http_parser *p)
{
    buf_release(&p->hdr);
    buf_release(&p->body);
    http_ireq_free(p->req);
    p->req = NULL;
}

void http_ireq_free(struct http_ireq *r)
{
    if (!r)
        return;
    free(r->raw);
    free(r->pathbuf);
    free(r->pub.headers);
    free(r->pub.query);
    free(r->pub.body);
    for (size_t i = 0; i < r->nresp; i++) {
        free(r->resp_hdrs[i].name);
        free(r->resp_hdrs[i].value);
    }
    free(r->resp_hdrs);
    free(r->peer_cn);
    free(r->peer_ou);
    free(r->peer_org);
    free(r);
}

static int fail(struct http_parser *p, int status, const char *msg)
{
    p->state = ST_ERROR;
    p->err_status = status;
    p->err_msg = msg;
    return HTTP_PARSE_ERROR;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int http_percent_decode(const char *s, size_t n, bool plus_space, struct buf *out)
{
    buf_reserve(out, n);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        out->p[out->len++] = c;
    }
    out->p[out->len] = 0;
    return 0;
}

/* Trims spaces and tabs in place; returns the start. */
static char *trim_ows(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

/* Parses a Content-Length value ("42" or "42, 42"); -1 if malformed or inconsistent. */
static int parse_content_length(const char *v, uint64_t *out)
{
    bool have = false;
    uint64_t val = 0;
    const char *s = v;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t x = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            if (++digits > 18)
                return -1;
            x = x * 10 + (uint64_t)(*s++ - '0');
        }
        if (have && x != val)
            return -1;
        val = x;
        have = true;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        if (*s++ != ',')
            return -1;
    }
    *out = val;
    return 0;
}

/* Does the comma-separated list v contain token tok (case-insensitive)? */
static bool list_has(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    const char *s = v;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && !strncasecmp(s, tok, tl))
            return true;
        s = e;
    }
    return false;
}

static void add_header(struct http_ireq *r, char *name, char *value)
{
    if (r->pub.nheaders == r->hcap) {
        r->hcap = r->hcap ? r->hcap * 2 : 8;
        r->pub.headers = xrealloc(r->pub.headers, r->hcap * sizeof(*r->pub.headers));
    }
    r->pub.headers[r->pub.nheaders++] = (struct http_header){name, value};
}

/* Splits and checks the request target; fills path and query. */
static int parse_target(struct http_parser *p, struct http_ireq *r)
{
    const char *t = r->pub.target;
    for (const unsigned char *c = (const unsigned char *)t; *c; c++)
        if (*c <= 0x20 || *c == 0x7f)
            return fail(p, 400, "invalid character in request target");
    const char *path = t;
    if (t[0] == '/') {
        /* origin-form */
    } else if (!strncasecmp(t, "http://", 7) || !strncasecmp(t, "https://", 8)) {
        /* absolute-form: drop scheme and authority */
        const char *a = strstr(t, "//") + 2;
        path = a + strcspn(a, "/?");
    } else if (!strcmp(t, "*") && !strcmp(r->pub.method, "OPTIONS")) {
        /* asterisk-form */
    } else {
        return fail(p, 400, "invalid request target");
    }
    size_t plen = strcspn(path, "?#");
    const char *q = path[plen] == '?' ? path + plen + 1 : "";
    r->pub.query = xstrndup(q, strcspn(q, "#"));
    struct buf b = BUF_INIT;
    if (plen == 0)
        buf_adds(&b, "/");
    else if (http_percent_decode(path, plen, false, &b) < 0) {
        buf_release(&b);
        return fail(p, 400, "invalid percent-encoding in request path");
    }
    if (strlen(b.p) != b.len) {
        buf_release(&b);
        return fail(p, 400, "NUL byte in request path");
    }
    r->pathbuf = buf_detach(&b, NULL);
    r->pub.path = r->pathbuf;
    return 0;
}

/* Parses the complete header block in p->hdr into a new request. */
static int parse_head(struct http_parser *p)
{
    size_t n = p->hdr.len;
    if (memchr(p->hdr.p, 0, n))
        return fail(p, 400, "NUL byte in request header");
    struct http_ireq *r = xcalloc(1, sizeof(*r));
    p->req = r;
    r->raw = buf_detach(&p->hdr, NULL);
    p->line_start = 0;

    /* cut into lines: each ends in LF, optionally preceded by CR */
    char *s = r->raw, *end = r->raw + n;
    char *line = s;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    bool first = true;
    bool have_cl = false, chunked = false, have_te = false;
    uint64_t cl = 0;
    bool conn_close = false, conn_keep = false;
    while (nl) {
        *nl = 0;
        if (nl > line && nl[-1] == '\r')
            nl[-1] = 0;
        if (strchr(line, '\r'))
            return fail(p, 400, "stray CR in request header");
        if (first) {
            first = false;
            char *sp1 = strchr(line, ' ');
            if (!sp1)
                return fail(p, 400, "malformed request line");
            *sp1 = 0;
            char *sp2 = strchr(sp1 + 1, ' ');
            if (!sp2)
                return fail(p, 400, "malformed request line");
            *sp2 = 0;
            r->pub.method = line;
            r->pub.target = sp1 + 1;
            const char *ver = sp2 + 1;
            if (!is_token(r->pub.method) || !r->pub.target[0])
                return fail(p, 400, "malformed request line");
            if (!strcmp(ver, "HTTP/1.1"))
                r->pub.http_minor = 1;
            else if (!strcmp(ver, "HTTP/1.0"))
                r->pub.http_minor = 0;
            else
                return fail(p, 400, "unsupported HTTP version");
        } else if (*line) {
            if (*line == ' ' || *line == '\t')
                return fail(p, 400, "obsolete header line folding");
            char *colon = strchr(line, ':');
            if (!colon)
                return fail(p, 400, "malformed header line");
            *colon = 0;
            if (!is_token(line))
                return fail(p, 400, "invalid header name");
            char *v = trim_ows(colon + 1);
            for (const unsigned char *c = (const unsigned char *)v; *c; c++)
                if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
                    return fail(p, 400, "invalid character in header value");
            add_header(r, line, v);
            if (!strcasecmp(line, "Content-Length")) {
                uint64_t x;
                if (parse_content_length(v, &x) < 0 || (have_cl && x != cl))
                    return fail(p, 400, "invalid Content-Length");
                have_cl = true;
                cl = x;
            } else if (!strcasecmp(line, "Transfer-Encoding")) {
                /* only "chunked", once, is understood */
                if (have_te || strcasecmp(v, "chunked")) {
                    if (list_has(v, "chunked") || have_te)
                        return fail(p, 400, "invalid Transfer-Encoding");
                    return fail(p, 501, "unsupported Transfer-Encoding");
                }
                have_te = chunked = true;
            } else if (!strcasecmp(line, "Connection")) {
                conn_close |= list_has(v, "close");
                conn_keep |= list_has(v, "keep-alive");
            } else if (!strcasecmp(line, "Expect")) {
                if (!strcasecmp(v, "100-continue"))
                    r->expect_continue = true;
            }
        }
        line = nl + 1;
        nl = line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;
    }
    if (first)
        return fail(p, 400, "malformed request line");
    if (have_cl && have_te)
        return fail(p, 400, "both Content-Length and Transfer-Encoding");
    int rc = parse_target(p, r);
    if (rc < 0)
        return rc;
    r->is_head = !strcmp(r->pub.method, "HEAD");
    if (r->pub.http_minor == 1)
        r->keep_alive = !conn_close;
    else
        r->keep_alive = conn_keep && !conn_close;
    if (r->pub.http_minor == 0)
        r->expect_continue = false;

    buf_reset(&p->body);
    if (chunked) {
        p->state = ST_CHUNK_SIZE;
        p->chunk_size = 0;
        p->saw_digit = false;
        p->aux = 0;
    } else if (have_cl && cl > 0) {
        if (cl > p->max_body)
            return fail(p, 413, "request body too large");
        buf_reserve(&p->body, cl < (1u << 20) ? (size_t)cl : (1u << 20));
        p->remaining = cl;
        p->state = ST_BODY;
    } else {
        r->expect_continue = false;
        p->state = ST_DONE;
    }
    return 0;
}

/* ST_HEAD: consumes bytes up to the end of the header block. Returns bytes used or <0. */
static ssize_t feed_head(struct http_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
        if (p->hdr.len + n > p->max_header)
            return fail(p, 431, "request header too large");
        buf_add(&p->hdr, data + i, n);
        i += n;
        if (!nl)
            break;
        size_t ll = p->hdr.len - p->line_start - 1; /* without LF */
        if (ll && p->hdr.p[p->line_start + ll - 1] == '\r')
            ll--;
        if (ll == 0) {
            if (p->line_start == 0) { /* blank line(s) before a request: ignore */
                buf_reset(&p->hdr);
                continue;
            }
            if (parse_head(p) < 0)
                return -1;
            return (ssize_t)i;
        }
        p->line_start = p->hdr.len;
    }
    return (ssize_t)i;
}

int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    int rc = HTTP_PARSE_MORE;
    for (;;) {
        if (p->state == ST_ERROR) {
            rc = HTTP_PARSE_ERROR;
            break;
        }
        if (p->state == ST_DONE) {
            rc = HTTP_PARSE_DONE;
            break;
        }
        if (i == len)
            break;
        unsigned char c = (unsigned char)data[i];
        switch (p->state) {
        case ST_HEAD: {
            ssize_t n = feed_head(p, data + i, len - i);
            if (n < 0)
                continue; /* now in ST_ERROR */
            i += (size_t)n;
            break;
        }
        case ST_BODY: {
            size_t n = len - i;
            if (n > p->remaining)
                n = (size_t)p->remaining;
            buf_add(&p->body, data + i, n);
            i += n;
            p->remaining -= n;
            if (!p->remaining)
                p->state = ST_DONE;
            break;
        }
        case ST_CHUNK_SIZE: {
            i++;
            if (++p->aux > CHUNK_LINE_MAX)
                return *used = i, fail(p, 400, "chunk size line too long");
            int h = hexval(c);
            if (h >= 0) {
                if (p->chunk_size >> 56)
                    return *used = i, fail(p, 400, "chunk size too large");
                p->chunk_size = p->chunk_size << 4 | (uint64_t)h;
                p->saw_digit = true;
                break;
            }
            if (!p->saw_digit)
                return *used = i, fail(p, 400, "invalid chunk size");
            if (c == ';' || c == ' ' || c == '\t')
                p->state = ST_CHUNK_EXT;
            else if (c == '\r')
                p->state = ST_CHUNK_SIZE_LF;
            else if (c == '\n')
                goto size_line_done;
            else
                return *used = i, fail(p, 400, "invalid chunk size");
            break;
        }
        case ST_CHUNK_EXT:
            i++;
            if (++p->aux > CHUNK_LINE_MAX)
                return *used = i, fail(p, 400, "chunk size line too long");
            if (c == '\r')
                p->state = ST_CHUNK_SIZE_LF;
            else if (c == '\n')
                goto size_line_done;
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                return *used = i, fail(p, 400, "invalid chunk extension");
            break;
        case ST_CHUNK_SIZE_LF:
            i++;
            if (c != '\n')
                return *used = i, fail(p, 400, "invalid chunk size line");
        size_line_done:
            if (p->chunk_size > p->max_body || p->body.len + p->chunk_size > p->max_body)
                return *used = i, fail(p, 413, "request body too large");
            if (p->chunk_size == 0) {
                p->state = ST_TRAILER;
                p->aux = 0;
                p->line_empty = true;
            } else {
                p->remaining = p->chunk_size;
                p->state = ST_CHUNK_DATA;
            }
            break;
        case ST_CHUNK_DATA: {
            size_t n = len - i;
            if (n > p->remaining)
                n = (size_t)p->remaining;
            buf_add(&p->body, data + i, n);
            i += n;
            p->remaining -= n;
            if (!p->remaining)
                p->state = ST_CHUNK_DATA_CR;
            break;
        }
        case ST_CHUNK_DATA_CR:
            i++;
            if (c == '\r')
                p->state = ST_CHUNK_DATA_LF;
            else if (c == '\n')
                goto chunk_done;
            else
                return *used = i, fail(p, 400, "missing CRLF after chunk data");
            break;
        case ST_CHUNK_DATA_LF:
            i++;
            if (c != '\n')
                return *used = i, fail(p, 400, "missing CRLF after chunk data");
        chunk_done:
            p->state = ST_CHUNK_SIZE;
            p->chunk_size = 0;
            p->saw_digit = false;
            p->aux = 0;
            break;
        case ST_TRAILER:
            /* trailer fields are read and dropped; their size counts like headers */
            i++;
            if (++p->aux > p->max_header)
                return *used = i, fail(p, 431, "request trailer too large");
            if (c == '\n') {
                if (p->line_empty)
                    p->state = ST_DONE;
                p->line_empty = true;
            } else if (c != '\r') {
                if (c == 0)
                    return *used = i, fail(p, 400, "NUL byte in trailer");
                p->line_empty = false;
            }
            break;
        default:
            BUG_ON(1);
        }
    }
    *used = i;
    return rc;
}

struct http_ireq *http_parser_take(struct http_parser *p)
{
    BUG_ON(p->state != ST_DONE || !p->req);
    struct http_ireq *r = p->req;
    p->req = NULL;
    /* growth by doubling may leave up to half the body's buffer unused: give it back */
    if (p->body.cap > 65536 && p->body.cap - p->body.len > 4096) {
        p->body.p = xrealloc(p->body.p, p->body.len + 1);
        p->body.cap = p->body.len + 1;
    }
    r->pub.body = buf_detach(&p->body, &r->pub.body_len);
    p->state = ST_HEAD;
    p->line_start = 0;
    return r;
}

bool http_parser_in_headers(const struct http_parser *p)
{
    return p->state == ST_HEAD;
}

bool http_parser_want_continue(struct http_parser *p)
{
    if (!p->req || p->state == ST_DONE || p->state == ST_ERROR || !p->req->expect_continue)
        return false;
    p->req->expect_continue = false;
    return true;
}

/* ---- request helpers ---- */

const char *http_req_header(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

char *http_query_get(const struct http_req *req, const char *key)
{
    const char *s = req->query;
    size_t klen = strlen(key);
    struct buf b = BUF_INIT;
    while (s && *s) {
        const char *e = s + strcspn(s, "&");
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *kend = eq ? eq : e;
        buf_reset(&b);
        if (http_percent_decode(s, (size_t)(kend - s), true, &b) == 0 && b.len == klen &&
            !memcmp(b.p, key, klen)) {
            buf_reset(&b);
            if (eq && http_percent_decode(eq + 1, (size_t)(e - eq - 1), true, &b) < 0) {
                /* malformed escapes: hand back the raw value */
                buf_reset(&b);
                buf_add(&b, eq + 1, (size_t)(e - eq - 1));
            }
            return buf_detach(&b, NULL);
        }
        s = *e ? e + 1 : e;
    }
    buf_release(&b);
    return NULL;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "Request-URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Requested Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
