/* httpc_parse.c — the httpc module's pure logic: an incremental HTTP/1.x response parser and
 * the URL splitter.
 *
 * The parser takes input in any fragmentation (down to one byte at a time). It reads the
 * status line and headers (1xx interim answers are skipped), then a body delimited by
 * Content-Length, by chunked framing (which may be endless: every chunk's bytes are handed
 * out as they arrive), or by the connection closing. Header blocks are bounded by
 * HTTPC_MAX_HEADER and chunk-size lines by CHUNK_LINE_MAX; malformed input puts the parser
 * in error for good.
 *
 * Invariants: line holds only the bytes of the current, incomplete line; the body buffer
 * belongs to the caller and only ever grows here.
 *
 * Thread: any; a parser belongs to one connection (the client's loop thread). */
#include "httpc/httpc_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    ST_STATUS = 0, /* status line (blank lines before it are skipped) */
    ST_HEADERS,    /* header lines up to the empty line */
    ST_BODY_LEN,   /* Content-Length body */
    ST_BODY_EOF,   /* body up to the connection's end */
    ST_CHUNK_SIZE, /* chunk-size line */
    ST_CHUNK_DATA, /* chunk bytes */
    ST_CHUNK_CRLF, /* the line end after chunk bytes */
    ST_TRAILER,    /* trailer lines after the last chunk, ignored */
    ST_DONE,
    ST_ERROR,
};

#define CHUNK_LINE_MAX 4096

void httpc_parser_init(struct httpc_parser *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line);
    p->state = ST_STATUS;
}

void httpc_parser_release(struct httpc_parser *p)
{
    buf_release(&p->line);
}

static int fail(struct httpc_parser *p, const char *msg)
{
    p->state = ST_ERROR;
    p->err = msg;
    return HTTPC_PARSE_ERROR;
}

/* Does the comma-separated header value list contain token (case-insensitive)? */
static bool has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && !strncasecmp(s, token, tl))
            return true;
    }
    return false;
}

static int status_line(struct httpc_parser *p, char *s)
{
    /* "HTTP/1.1 200 OK" (the reason phrase may be empty or missing) */
    if (strncmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        return fail(p, "Unsupported HTTP version in response");
    p->minor = s[7] - '0';
    const char *c = s + 9;
    if (c[0] < '1' || c[0] > '5' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' ||
        (c[3] && c[3] != ' '))
        return fail(p, "Invalid status line in response");
    p->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
    p->chunked = p->has_length = false;
    p->keep_alive = p->minor >= 1;
    p->remaining = 0;
    p->state = ST_HEADERS;
    return HTTPC_PARSE_MORE;
}

static int header_line(struct httpc_parser *p, char *s)
{
    if (*s == ' ' || *s == '\t')
        return fail(p, "Folded header line in response");
    char *colon = strchr(s, ':');
    if (!colon || colon == s)
        return fail(p, "Malformed header line in response");
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        v[--vl] = 0;
    if (!strcasecmp(s, "Content-Length")) {
        if (!vl)
            return fail(p, "Invalid Content-Length in response");
        uint64_t n = 0;
        for (const char *d = v; *d; d++) {
            if (*d < '0' || *d > '9' || n > (UINT64_MAX >> 4))
                return fail(p, "Invalid Content-Length in response");
            n = n * 10 + (uint64_t)(*d - '0');
        }
        if (p->has_length && p->remaining != n)
            return fail(p, "Conflicting Content-Length in response");
        p->has_length = true;
        p->remaining = n;
    } else if (!strcasecmp(s, "Transfer-Encoding")) {
        /* we send no Accept-Encoding / TE, so chunked is the only coding we can meet */
        const char *last = strrchr(v, ',');
        last = last ? last + 1 : v;
        while (*last == ' ' || *last == '\t')
            last++;
        if (strcasecmp(last, "chunked") || has_token(v, "gzip") || has_token(v, "deflate") ||
            has_token(v, "compress"))
            return fail(p, "Unsupported transfer encoding in response");
        p->chunked = true;
    } else if (!strcasecmp(s, "Connection")) {
        if (has_token(v, "close"))
            p->keep_alive = false;
        else if (has_token(v, "keep-alive"))
            p->keep_alive = true;
    }
    return HTTPC_PARSE_MORE;
}

static int headers_end(struct httpc_parser *p)
{
    p->header_bytes = 0;
    if (p->status == 101)
        return fail(p, "Unexpected protocol switch in response");
    if (p->status < 200) { /* interim answer: the real one follows */
        p->status = 0;
        p->state = ST_STATUS;
        return HTTPC_PARSE_MORE;
    }
    if (p->status == 204 || p->status == 304) {
        p->state = ST_DONE;
        return HTTPC_PARSE_DONE;
    }
    if (p->chunked) {
        /* a response with both is suspect: never reuse its connection */
        if (p->has_length)
            p->keep_alive = false;
        p->state = ST_CHUNK_SIZE;
        return HTTPC_PARSE_MORE;
    }
    if (p->has_length) {
        p->state = p->remaining ? ST_BODY_LEN : ST_DONE;
        return p->remaining ? HTTPC_PARSE_MORE : HTTPC_PARSE_DONE;
    }
    p->keep_alive = false;
    p->state = ST_BODY_EOF;
    return HTTPC_PARSE_MORE;
}

static int chunk_size_line(struct httpc_parser *p, const char *s)
{
    uint64_t n = 0;
    const char *d = s;
    for (;; d++) {
        int v;
        if (*d >= '0' && *d <= '9')
            v = *d - '0';
        else if (*d >= 'a' && *d <= 'f')
            v = *d - 'a' + 10;
        else if (*d >= 'A' && *d <= 'F')
            v = *d - 'A' + 10;
        else
            break;
        if (n > (UINT64_MAX >> 5))
            return fail(p, "Chunk size too large in response");
        n = n * 16 + (uint64_t)v;
    }
    while (*d == ' ' || *d == '\t')
        d++;
    if (d == s || (*d && *d != ';'))
        return fail(p, "Malformed chunk size in response");
    if (!n) {
        p->state = ST_TRAILER;
        return HTTPC_PARSE_MORE;
    }
    p->remaining = n;
    p->state = ST_CHUNK_DATA;
    return HTTPC_PARSE_MORE;
}

/* One complete line (CR LF or LF stripped) in the current state. */
static int on_line(struct httpc_parser *p, char *s)
{
    switch (p->state) {
    case ST_STATUS:
        if (!*s)
            return HTTPC_PARSE_MORE;
        return status_line(p, s);
    case ST_HEADERS:
        return *s ? header_line(p, s) : headers_end(p);
    case ST_CHUNK_SIZE:
        return chunk_size_line(p, s);
    case ST_CHUNK_CRLF:
        if (*s)
            return fail(p, "Missing line end after chunk data in response");
        p->state = ST_CHUNK_SIZE;
        return HTTPC_PARSE_MORE;
    case ST_TRAILER:
        if (*s)
            return HTTPC_PARSE_MORE;
        p->state = ST_DONE;
        return HTTPC_PARSE_DONE;
    }
    BUG_ON(1);
    return HTTPC_PARSE_ERROR;
}

static bool line_state(int st)
{
    return st == ST_STATUS || st == ST_HEADERS || st == ST_CHUNK_SIZE || st == ST_CHUNK_CRLF ||
           st == ST_TRAILER;
}

int httpc_parser_feed(struct httpc_parser *p, const char *data, size_t len, struct buf *body,
                      size_t *used)
{
    size_t i = 0;
    int rc = HTTPC_PARSE_MORE;
    while (i < len && rc == HTTPC_PARSE_MORE) {
        if (p->state == ST_ERROR) {
            rc = HTTPC_PARSE_ERROR;
            break;
        }
        if (p->state == ST_DONE) {
            rc = HTTPC_PARSE_DONE;
            break;
        }
        if (p->state == ST_BODY_EOF) {
            buf_add(body, data + i, len - i);
            i = len;
            break;
        }
        if (p->state == ST_BODY_LEN || p->state == ST_CHUNK_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > p->remaining)
                n = (size_t)p->remaining;
            buf_add(body, data + i, n);
            i += n;
            p->remaining -= n;
            if (!p->remaining) {
                if (p->state == ST_CHUNK_DATA) {
                    p->state = ST_CHUNK_CRLF;
                } else {
                    p->state = ST_DONE;
                    rc = HTTPC_PARSE_DONE;
                }
            }
            continue;
        }
        BUG_ON(!line_state(p->state));
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
        bool in_header = p->state == ST_STATUS || p->state == ST_HEADERS;
        size_t limit = in_header ? HTTPC_MAX_HEADER : CHUNK_LINE_MAX;
        size_t have = in_header ? p->header_bytes : p->line.len;
        if (have + n > limit) {
            rc = fail(p, in_header ? "Response header block too large"
                                   : "Chunk size line too long in response");
            break;
        }
        if (in_header)
            p->header_bytes += n;
        buf_add(&p->line, data + i, n);
        i += n;
        if (!nl)
            break;
        size_t ll = p->line.len - 1; /* drop LF, then an optional CR */
        if (ll && p->line.p[ll - 1] == '\r')
            ll--;
        p->line.p[ll] = 0;
        if (memchr(p->line.p, 0, ll)) {
            rc = fail(p, "NUL byte in response header");
            break;
        }
        rc = on_line(p, p->line.p);
        buf_reset(&p->line);
    }
    if (p->state == ST_ERROR)
        rc = HTTPC_PARSE_ERROR;
    *used = i;
    return rc;
}

int httpc_parser_eof(struct httpc_parser *p)
{
    if (p->state == ST_DONE)
        return HTTPC_PARSE_DONE;
    if (p->state == ST_BODY_EOF) {
        p->state = ST_DONE;
        return HTTPC_PARSE_DONE;
    }
    if (p->state == ST_ERROR)
        return HTTPC_PARSE_ERROR;
    if (p->state == ST_STATUS && !p->header_bytes)
        return fail(p, "Empty reply from server");
    return fail(p, "Connection closed before the response was complete");
}

bool httpc_parser_reusable(const struct httpc_parser *p)
{
    return p->state == ST_DONE && p->keep_alive;
}

/* ---- URLs ---- */

int httpc_url_parse(const char *url, struct httpc_url *u, struct err *e)
{
    memset(u, 0, sizeof(*u));
    const char *s;
    if (!strncasecmp(url, "http://", 7)) {
        s = url + 7;
    } else if (!strncasecmp(url, "https://", 8)) {
        s = url + 8;
        u->tls = true;
    } else {
        return err_set(e, ERR_INVALID, "Unsupported protocol in URL: %s", url);
    }
    const char *hs, *he, *rest;
    if (*s == '[') {
        hs = s + 1;
        he = strchr(hs, ']');
        if (!he)
            return err_set(e, ERR_INVALID, "URL rejected: Bad IPv6 address: %s", url);
        rest = he + 1;
    } else {
        hs = s;
        he = hs + strcspn(hs, ":/?#");
        rest = he;
    }
    size_t hl = (size_t)(he - hs);
    if (!hl || hl >= sizeof(u->host))
        return err_set(e, ERR_INVALID, "URL rejected: No host part in the URL: %s", url);
    memcpy(u->host, hs, hl);
    u->host[hl] = 0;
    u->port = u->tls ? 443 : 80;
    if (*rest == ':') {
        rest++;
        long port = 0;
        const char *d = rest;
        while (*d >= '0' && *d <= '9' && port <= 65535)
            port = port * 10 + (*d++ - '0');
        if (d == rest || port < 1 || port > 65535 || (*d && *d != '/' && *d != '?'))
            return err_set(e, ERR_INVALID,
                           "URL rejected: Port number was not a decimal "
                           "number between 0 and 65535: %s",
                           url);
        u->port = (int)port;
        rest = d;
    } else if (*rest && *rest != '/' && *rest != '?') {
        return err_set(e, ERR_INVALID, "URL rejected: Malformed input to a URL function: %s", url);
    }
    const char *name = !strcasecmp(u->host, "localhost") ? "127.0.0.1" : u->host;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&u->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&u->addr;
    if (inet_pton(AF_INET, name, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)u->port);
    } else if (inet_pton(AF_INET6, name, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)u->port);
    } else {
        /* Only IP literals and localhost are used: no resolver, no thread pool. */
        return err_set(e, ERR_INVALID, "Could not resolve host: %s", u->host);
    }
    if (*rest == '/')
        u->path = xstrdup(rest);
    else
        u->path = xasprintf("/%s", rest); /* "?q" → "/?q", "" → "/" */
    char *frag = strchr(u->path, '#');
    if (frag)
        *frag = 0;
    return 0;
}
