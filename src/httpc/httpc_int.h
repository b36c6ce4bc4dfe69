/* httpc_int.h — internals of the httpc module shared by httpc.c and httpc_parse.c (and the
 * unit tests). No other module includes this header.
 *
 * The response parser and the URL splitter are pure logic: bytes in, results out; they never
 * touch sockets or the loop, so they are tested alone.
 *
 * Thread: whatever thread owns the parser (the client's loop thread). */
#ifndef SHOAL_HTTPC_INT_H
#define SHOAL_HTTPC_INT_H

#include "httpc/httpc.h"

#include <netinet/in.h>

/* Idle connections close after ms (default 30 s); for tests. */
void httpc_set_idle_timeout(struct httpc *c, uint64_t ms);

/* ---- URLs: "http[s]://host[:port][/path]" with host an IP literal ([v6]) or localhost ---- */
struct httpc_url {
    bool tls;
    char host[64]; /* as written, without brackets */
    int port;      /* default 80 / 443 */
    char *path;    /* "/..." (heap; "/" when the URL has none) */
    struct sockaddr_storage addr;
};

/* Splits and resolves url. Returns 0, or -ERR_INVALID with a curl-like message in e
 * ("Could not resolve host: x", "URL rejected: ..."). On success u->path must be freed. */
int httpc_url_parse(const char *url, struct httpc_url *u, struct err *e);

/* ---- incremental HTTP/1.x response parser ---- */
enum httpc_parse_rc {
    HTTPC_PARSE_ERROR = -1, /* see err; the parser stays in error */
    HTTPC_PARSE_MORE = 0,   /* all input consumed, response not complete yet */
    HTTPC_PARSE_DONE = 1,   /* the response is complete; *used tells how much was its */
};

#define HTTPC_MAX_HEADER (64 * 1024) /* status line + headers (each block, 1xx included) */

struct httpc_parser {
    int state;
    struct buf line;     /* current status/header/chunk-size line */
    size_t header_bytes; /* bytes of the current header block so far */
    int status;          /* 0 until the status line of the final response is read */
    int minor;           /* HTTP/1.<minor> */
    bool chunked, has_length, keep_alive;
    uint64_t remaining; /* Content-Length bytes or current chunk bytes still to read */
    const char *err;    /* static string when in error */
};

void httpc_parser_init(struct httpc_parser *p);
void httpc_parser_release(struct httpc_parser *p);
/* Feeds len bytes; body bytes are appended to body. *used tells how many bytes were consumed:
 * after HTTPC_PARSE_DONE the rest does not belong to this response. */
int httpc_parser_feed(struct httpc_parser *p, const char *data, size_t len, struct buf *body,
                      size_t *used);
/* The peer closed the connection: DONE for a body delimited by the close, else ERROR. */
int httpc_parser_eof(struct httpc_parser *p);
/* True once the response is complete and the connection may carry another request. */
bool httpc_parser_reusable(const struct httpc_parser *p);

#endif
