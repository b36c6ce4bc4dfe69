/* httpc.h — HTTP/1.1 client calls on the libuv loop (our own client: plain TCP, or TLS with
 * OpenSSL memory BIOs): POST a body, get the status and the body, or consume a streamed
 * body as it arrives. Optional TLS with a CA, a client certificate, and TLS 1.3 only. Used
 * by the etcd client and by nodes talking to managers. Hosts are IP literals or localhost.
 *
 * Invariants: no callback runs inside the client's own I/O processing, so a callback may
 * start or cancel calls, or close the client. Connections are kept alive and reused (at
 * most 8 per host and port; further calls wait); a streamed call holds its connection.
 * Transport failures and timeouts (connect 5 s; the call's timeout_ms) fail the call with
 * -ERR_UNAVAILABLE and "<server> <host>:<port> unreachable: <what>", server as the client was
 * made with (e.g. "manager 10.1.2.3:2377 unreachable: Failed to connect to 10.1.2.3 port
 * 2377: Connection refused"; without a server name it starts at the address).
 * Thread: the loop thread only. */
#ifndef SHOAL_HTTPC_H
#define SHOAL_HTTPC_H

#include "base/base.h"

#include <uv.h>

struct httpc;
struct httpc_call;

struct httpc_tls {
    const char *ca_file; /* NULL: plain http (unless insecure) */
    const char *cert_file;
    const char *key_file;
    bool insecure;        /* https without verifying the server (CA bootstrap only) */
    bool skip_host_check; /* verify the chain but not that the name matches the URL */
    bool tls13;           /* refuse anything older than TLS 1.3 */
    const char *server;   /* what the server is, for errors ("etcd", "manager"); may be NULL */
};

/* Final result of a call: rc 0 with the HTTP status and the (unconsumed) body, or rc < 0
 * with e (transport failure, timeout → -ERR_UNAVAILABLE). The call is freed after this
 * returns; body belongs to the call. */
typedef void (*httpc_done_cb)(void *data, int rc, long status, struct buf *body, struct err *e);
/* Streaming: new bytes were appended to body; consume what is complete (buf_consume). */
typedef void (*httpc_data_cb)(void *data, struct buf *body);

struct httpc *httpc_new(uv_loop_t *loop, const struct httpc_tls *tls);
/* POSTs body (copied) as JSON to url. timeout_ms 0: none (streams). data_cb may be NULL.
 * done runs later, on the loop, exactly once unless the call is cancelled. */
struct httpc_call *httpc_post(struct httpc *c, const char *url, const char *body, size_t len,
                              long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                              void *data);
/* Back-pressure for a streamed call: while paused, no more bytes are read from its
 * connection (what was read already may still reach data_cb once), so the server's writes
 * queue up on its side; resume reads again. Either is a no-op on a call that already has
 * its answer. Safe inside the call's own callbacks. */
void httpc_pause(struct httpc_call *call);
void httpc_resume(struct httpc_call *call);
/* The status of the call's answer once its header block has arrived (so inside data_cb),
 * else 0. */
long httpc_call_status(const struct httpc_call *call);
/* Aborts a call; its done callback does not run. Safe inside the call's own callbacks. */
void httpc_cancel(struct httpc_call *call);
/* Cancels every call (no callbacks), closes all handles, then runs cb. */
void httpc_close(struct httpc *c, void (*cb)(void *data), void *data);

#endif
