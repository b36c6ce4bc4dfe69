/* http.h — HTTP/1.1 server on libuv: unix and TCP listeners (TCP optionally TLS with
 * OpenSSL, mutual TLS when a client CA is given), keep-alive, pipelining (requests on one
 * connection are served strictly in order), Content-Length and chunked request bodies,
 * fixed-length and chunked (streaming) responses, and limits.
 *
 * Limits and their answers: request line + headers > max_header_bytes → 431; body >
 * max_body_bytes → 413; malformed request → 400; each answered with
 * {"message":"..."} and the connection closed. A connection that has not sent a full
 * header block within header_timeout_ms is closed. Garbage never crashes or leaks.
 *
 * Back-pressure: a connection whose peer does not read costs a bounded amount. Answer bytes
 * not yet taken by the kernel are counted per connection (for TLS: the ciphertext); above
 * write_high no further request is read or parsed until the count is back under write_low.
 * A streaming answer whose connection holds more than its cap (stream_max_queued, or
 * http_stream_limit()) is cut: the connection is closed and the request's on_close fires.
 * A connection whose queued answer makes no progress for header_timeout_ms is closed.
 *
 * Connection caps, per listener: at most max_conns connections, of which at most max_unauth
 * have not yet completed a request (TLS handshake included). Beyond a cap a new connection is
 * accepted and closed at once, and a warning is logged (at most one per 10 s and listener).
 *
 * Thread: everything runs on the loop thread that owns the server.
 *
 * Request lifetime: the handler is called once per complete request. It must answer
 * exactly once with http_respond() or http_stream_begin()...http_stream_end(), either
 * before returning or later (asynchronously). The struct http_req stays valid until the
 * answer is complete, even if the peer disconnects (then writes are dropped silently and
 * the on_close callback, if set, fires once). */
#ifndef SHOAL_HTTP_H
#define SHOAL_HTTP_H

#include "base/base.h"

#include <uv.h>

struct http_server;
struct http_req;

struct http_header {
    char *name;  /* as received */
    char *value; /* leading/trailing spaces trimmed */
};

struct http_req {
    char *method;   /* "GET", "HEAD", "POST", ... */
    char *target;   /* raw request target: "/v1.41/nodes?filters=..." */
    char *path;     /* percent-decoded path, no query: "/v1.41/nodes" */
    char *query;    /* raw query string after '?', "" if none */
    int http_minor; /* 0 or 1 (HTTP/1.0 closes after the response unless keep-alive) */
    struct http_header *headers;
    size_t nheaders;
    char *body; /* NUL-terminated for convenience; body_len excludes the NUL */
    size_t body_len;
    void *user; /* free for the handler's use */
    /* private fields follow in the implementation */
};

typedef void (*http_handler_cb)(struct http_req *req, void *data);
typedef void (*http_close_cb)(struct http_req *req, void *data);

struct http_tls_config {
    const char *cert_file;      /* PEM server certificate (chain) */
    const char *key_file;       /* PEM private key */
    const char *client_ca_file; /* if set: verify client certificates (and require them) */
    bool client_cert_optional;  /* with client_ca_file: verify a certificate if presented,
                                   accept connections without one (peer_cn is then NULL) */
    bool tls13_only;            /* refuse TLS 1.2 */
};

/* Zero fields take the default. */
struct http_limits {
    size_t max_header_bytes;    /* default 64 KiB */
    size_t max_body_bytes;      /* default 16 MiB */
    uint64_t header_timeout_ms; /* default 30000 */
    size_t write_high;          /* queued answer bytes that stop reading; default 1 MiB */
    size_t write_low;           /* ... and that resume it; default write_high / 4 */
    size_t stream_max_queued;   /* a stream's connection is closed above; default 4 MiB */
    size_t max_conns;           /* per listener; default 1024 */
    size_t max_unauth;          /* per listener, before a first complete request; default and
                                   at most max_conns */
};

/* Counters of a server, for tests and diagnostics. */
struct http_server_stats {
    size_t conns;         /* open connections, all listeners */
    size_t unauth;        /* ... of which have not completed a request yet */
    size_t queued;        /* answer bytes queued on all connections, not yet written */
    size_t queued_peak;   /* the most ever queued on one connection */
    size_t blocked;       /* connections not read because their queue is above write_high */
    uint64_t refused;     /* connections refused by a cap since the server started */
    uint64_t streams_cut; /* streaming answers closed for exceeding their cap */
};

/* Creates a server on loop; handler gets every request. limits may be NULL (defaults). */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_limits *limits,
                                    http_handler_cb handler, void *data);
/* Headers added to every response (e.g. "Api-Version", "1.41"); copied. A Date header is
 * always added by the server. */
void http_server_add_default_header(struct http_server *s, const char *name, const char *value);
/* Listens on "unix:///path" (an existing socket file is replaced; mode 0660) or
 * "tcp://host:port" (tls may be NULL for plain TCP). Returns 0 or fills e. */
int http_server_listen(struct http_server *s, const char *addr, const struct http_tls_config *tls,
                       struct err *e);
/* Re-reads the certificate, key and client CA for every TLS listener: new connections use
 * them, established ones keep theirs. Returns 0 or fills e (the old ones stay in use). */
int http_server_reload_tls(struct http_server *s, const struct http_tls_config *tls, struct err *e);
/* Fills st with the server's current counters. */
void http_server_get_stats(const struct http_server *s, struct http_server_stats *st);
/* Stops listening and closes all connections; cb (may be NULL) runs once every handle is
 * closed, after which the server is freed. Pending requests get their on_close callback. */
void http_server_close(struct http_server *s, void (*cb)(void *data), void *data);

/* ---- request accessors ---- */
/* Case-insensitive header lookup; borrowed, NULL if absent. */
const char *http_req_header(const struct http_req *req, const char *name);
/* Percent-decoded ('+' → space) value of the first query parameter `key`; heap string the
 * caller frees, NULL if absent. A present but empty parameter gives "". */
char *http_query_get(const struct http_req *req, const char *key);
/* For TLS connections with a verified client certificate: its subject fields (borrowed
 * until the request ends), else NULL. */
const char *http_req_peer_cn(const struct http_req *req);
const char *http_req_peer_ou(const struct http_req *req);
const char *http_req_peer_org(const struct http_req *req);
/* The peer's IP address as text ("" for unix sockets or once the connection is gone). */
void http_req_peer_ip(const struct http_req *req, char *buf, size_t cap);
/* Fires once if the peer goes away before the answer is complete. */
void http_req_on_close(struct http_req *req, http_close_cb cb, void *data);

/* ---- answering ---- */
/* Adds a header to this response (before respond/stream_begin); copied. */
void http_add_header(struct http_req *req, const char *name, const char *value);
/* Complete answer with Content-Length. content_type may be NULL (no Content-Type header).
 * For HEAD requests the body is not sent but Content-Length is. */
void http_respond(struct http_req *req, int status, const char *content_type, const void *body,
                  size_t len);
/* Starts a chunked streaming answer; headers are flushed immediately. */
void http_stream_begin(struct http_req *req, int status, const char *content_type);
/* Sends one chunk (len > 0). Returns 0, or -1 if the peer is gone or the stream was cut
 * because the peer does not take the bytes (then on_close fires from the loop, later). */
int http_stream_write(struct http_req *req, const void *data, size_t len);
/* Answer bytes queued on the request's connection, not yet taken by the peer (0 once the
 * connection is gone). */
size_t http_stream_queued(const struct http_req *req);
/* Back-pressure for a stream fed from elsewhere: when more than low bytes are queued, cb
 * (data) runs once from the loop, as soon as at most low are (never if the peer goes away
 * first: on_close fires then); returns true. With at most low queued now it returns false
 * and cb never runs. A later call replaces the earlier one; cb NULL cancels. */
bool http_stream_on_drain(struct http_req *req, size_t low, http_close_cb cb, void *data);
/* Sets this stream's cap of queued bytes (instead of the server's stream_max_queued). */
void http_stream_limit(struct http_req *req, size_t max_queued);
/* Ends the chunked answer (terminating 0-chunk); the request is then finished. */
void http_stream_end(struct http_req *req);

/* Standard reason phrase for a status code ("OK", "Not Found", ...). */
const char *http_status_text(int status);

#endif
