/* http_int.h — internals of the http module shared by http_parse.c, http_server.c and
 * http_tls.c. No other module includes this header.
 *
 * The request parser (http_parser_*) is pure logic: bytes in, complete requests or an error
 * status out; it never touches sockets or the loop, so it is tested and fuzzed alone.
 * The TLS layer (http_tls_*) is pure memory-BIO logic too: ciphertext in, plaintext and
 * ciphertext-to-send out; http_server.c moves the bytes.
 *
 * Thread: whatever thread owns the parser / connection (the server's loop thread). */
#ifndef SHOAL_HTTP_INT_H
#define SHOAL_HTTP_INT_H

#include "http/http.h"

struct http_conn;
struct ssl_ctx_st;
struct http_tls;

/* The full request: the public part first, so a struct http_req * converts to this. */
struct http_ireq {
    struct http_req pub;
    char *raw;            /* request line + header block; pub's strings point into it */
    char *pathbuf;        /* pub.path storage */
    size_t hcap;          /* capacity of pub.headers */
    bool keep_alive;      /* the connection may carry another request after this one */
    bool expect_continue; /* client waits for "100 Continue" before sending the body */
    bool is_head;

    /* server side (http_server.c) */
    struct http_conn *conn; /* NULL once the connection is gone */
    struct http_header *resp_hdrs;
    size_t nresp, resp_cap;
    int rstate; /* enum http_rstate */
    bool gone;  /* the peer went away before the answer was complete */
    bool close_fired;
    bool stream_raw;   /* streaming to an HTTP/1.0 client: no chunk framing, close at end */
    size_t stream_max; /* streaming: the connection is closed when more is queued */
    http_close_cb close_cb;
    void *close_data;
    http_close_cb drain_cb; /* http_stream_on_drain */
    void *drain_data;
    size_t drain_low;
    char *peer_cn, *peer_ou, *peer_org;
};

enum http_rstate { HTTP_RS_NONE = 0, HTTP_RS_STREAMING, HTTP_RS_DONE };

/* Frees a request and everything it owns (parser and server parts). NULL is a no-op. */
void http_ireq_free(struct http_ireq *r);

/* ---- incremental request parser ---- */
enum http_parse_rc {
    HTTP_PARSE_ERROR = -1, /* see err_status / err_msg; the parser stays in error */
    HTTP_PARSE_MORE = 0,   /* all input consumed, request not complete yet */
    HTTP_PARSE_DONE = 1,   /* a request is complete: take it with http_parser_take() */
};

struct http_parser {
    size_t max_header, max_body;
    int state;
    struct buf hdr;        /* request line + headers being collected */
    size_t line_start;     /* offset in hdr of the current (incomplete) line */
    struct http_ireq *req; /* the request whose body is being read, or complete */
    struct buf body;
    uint64_t remaining;  /* Content-Length bytes or current chunk bytes still to read */
    uint64_t chunk_size; /* chunk-size being parsed */
    size_t aux;          /* length of the chunk-size line / trailer section so far */
    bool saw_digit, line_empty;
    int err_status;      /* 400, 413, 431, 501 when in error */
    const char *err_msg; /* static string */
};

void http_parser_init(struct http_parser *p, size_t max_header, size_t max_body);
void http_parser_release(struct http_parser *p);
/* Feeds len bytes. *used tells how many were consumed: after HTTP_PARSE_DONE the rest
 * belongs to the next request and must be fed again after http_parser_take(). */
int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *used);
/* Takes the completed request (caller owns it) and resets for the next one. */
struct http_ireq *http_parser_take(struct http_parser *p);
/* True while the request line / headers of a request are being read (or nothing yet). */
bool http_parser_in_headers(const struct http_parser *p);
/* True when headers of the current request are complete and it asked for 100-continue;
 * cleared by the call. */
bool http_parser_want_continue(struct http_parser *p);

/* Percent-decodes s[0..n) into out (appended). plus_space: '+' → ' '. Returns 0, or -1
 * on a malformed escape. */
int http_percent_decode(const char *s, size_t n, bool plus_space, struct buf *out);

/* ---- TLS over memory BIOs (http_tls.c) ---- */
/* Builds a server SSL_CTX from cfg (min TLS 1.2; client certs required and verified when
 * client_ca_file is set). Returns 0 or fills e. */
int http_tls_ctx_new(const struct http_tls_config *cfg, struct ssl_ctx_st **out, struct err *e);
void http_tls_ctx_free(struct ssl_ctx_st *ctx);
struct http_tls *http_tls_new(struct ssl_ctx_st *ctx);
void http_tls_free(struct http_tls *t);
/* Feeds ciphertext; decrypted bytes are appended to plain, bytes to send to cipher_out.
 * Returns 0, 1 when the peer closed the TLS session, -1 on a fatal error (cipher_out may
 * hold an alert to send before closing). */
int http_tls_feed(struct http_tls *t, const void *data, size_t len, struct buf *plain,
                  struct buf *cipher_out);
/* Encrypts data into cipher_out. Returns 0 or -1. */
int http_tls_write(struct http_tls *t, const void *data, size_t len, struct buf *cipher_out);
/* Appends a close_notify alert to cipher_out. */
void http_tls_shutdown(struct http_tls *t, struct buf *cipher_out);
/* Subject fields of the verified client certificate, NULL if none (borrowed). */
const char *http_tls_peer_cn(const struct http_tls *t);
const char *http_tls_peer_ou(const struct http_tls *t);
const char *http_tls_peer_org(const struct http_tls *t);

#endif
