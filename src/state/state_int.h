/* state_int.h — internals shared by the state module's files; no other module includes it.
 *
 * Three layers, one struct:
 *   state_curl.c       a tiny HTTP-call API over libcurl's multi interface, driven by the
 *                      loop (uv_poll_t per socket, one uv_timer_t);
 *   state_etcd_proc.c  the etcd child: spawn, start-up and periodic health checks, restart
 *                      with backoff, SIGTERM/SIGKILL on stop;
 *   state_client.c     the public API: listing, watch, transactions, stop sequencing.
 * The proc layer reports to the client layer through the state_client_etcd_* functions.
 *
 * Invariants: every user callback runs outside libcurl callbacks (the curl layer buffers
 * and dispatches after curl_multi_socket_action returns), so a callback may start or
 * cancel calls, or stop the whole state, at any time.
 * Thread: the loop thread only. */
#ifndef SHOAL_STATE_INT_H
#define SHOAL_STATE_INT_H

#include "state/state.h"

/* ---- HTTP calls (state_curl.c) ---- */

struct state_curl;
struct state_call;

struct state_curl_tls {
    const char *ca_file; /* NULL: plain http */
    const char *cert_file;
    const char *key_file;
};

/* Final result of a call: rc 0 with the HTTP status and the (unconsumed) body, or rc < 0
 * with e (transport failure, timeout → -ERR_UNAVAILABLE). The call is freed after this
 * returns; body belongs to the call. */
typedef void (*state_call_done_cb)(void *data, int rc, long status, struct buf *body,
                                   struct err *e);
/* Streaming: new bytes were appended to body; consume what is complete (buf_consume). */
typedef void (*state_call_data_cb)(void *data, struct buf *body);

struct state_curl *state_curl_new(uv_loop_t *loop, const struct state_curl_tls *tls);
/* POSTs body (copied) as JSON to url. timeout_ms 0: none (streams). data_cb may be NULL.
 * done runs later, on the loop, exactly once unless the call is cancelled. */
struct state_call *state_call_post(struct state_curl *c, const char *url, const char *body,
                                   size_t len, long timeout_ms, state_call_data_cb data_cb,
                                   state_call_done_cb done, void *data);
/* Aborts a call; its done callback does not run. Safe inside the call's own callbacks. */
void state_call_cancel(struct state_call *call);
/* Cancels every call (no callbacks), closes all handles, then runs cb. */
void state_curl_close(struct state_curl *c, void (*cb)(void *data), void *data);

/* Finds the end of the first complete JSON object in p[0..n) (the watch stream is a
 * sequence of objects): returns its length including leading whitespace, 0 if it is not
 * complete yet, -1 if the next non-blank byte is not '{'. */
long state_json_span(const char *p, size_t n);

/* ---- the etcd child (state_etcd_proc.c) ---- */

struct state_etcd_run;

/* Spawns etcd and starts health-polling it; state_client_etcd_up() when it answers. */
void state_proc_start(struct state *st);
/* Terminates etcd (SIGTERM, SIGKILL after 5 s); state_client_etcd_stopped() on exit. */
void state_proc_stop(struct state *st);
/* Last bytes of etcd's log file (for error messages); "" if none. Caller frees. */
char *state_proc_log_tail(const struct state *st, size_t max);
/* Builds the etcd argv (NULL-terminated, heap strings); exposed for tests. */
char **state_proc_argv(const struct state_config *cfg);
void state_proc_argv_free(char **argv);

/* ---- reports from the proc layer to the client layer (state_client.c) ---- */

/* etcd answers (after a spawn, or again after failing health checks). */
void state_client_etcd_up(struct state *st);
/* etcd stopped answering (exited false: calls may still complete) or exited (in-flight
 * calls are failed now); reason is for state_unavailable_reason(). */
void state_client_etcd_down(struct state *st, const char *reason, bool exited);
/* The first start failed for good (never answered, could not spawn, exited early). */
void state_client_start_failed(struct state *st, struct err *e);
/* etcd has exited after state_proc_stop() (or was not running). */
void state_client_etcd_stopped(struct state *st);
/* A handle counted in st->pending_closes has closed. */
void state_client_handle_closed(struct state *st);

/* ---- the shared struct ---- */

struct state_txn_req;

struct state {
    uv_loop_t *loop;
    struct state_config cfg; /* strings owned (copied in state_new) */
    char *client_url;        /* "http(s)://127.0.0.1:<client_port>" */
    struct state_curl *curl;

    /* proc layer */
    struct state_etcd_run *run; /* the live child, or NULL */
    uv_timer_t proc_timer;      /* start-up polling, periodic health, restart backoff */
    int proc_mode;              /* which of those proc_timer is doing */
    uint64_t up_since;          /* loop ms when etcd last answered after a spawn */
    uv_timer_t kill_timer;      /* SIGKILL 5 s after SIGTERM */
    struct state_call *health_call;
    uint64_t health_deadline;  /* loop ms: start-up must answer before this */
    uint64_t start_timeout_ms; /* 0 until state_start: 20 s (tests may set it) */
    int64_t backoff_ms;
    bool ever_up; /* etcd answered at least once since state_start */
    bool proc_stopping;

    /* availability */
    bool available;
    char reason[ERR_MSG_MAX];

    /* client layer */
    bool started, ready_called, stopping;
    char *prefix, *prefix_end;
    size_t prefix_len, prefix_end_len;
    state_ready_cb ready;
    state_event_cb on_event;
    void *data;
    int64_t last_rev; /* every change up to here has been reported */

    struct state_call *list_call;
    struct state_list *list; /* listing in progress */

    bool relist_needed; /* the watch's start revision was compacted */
    struct state_call *watch_call;
    uint64_t watch_gen;     /* bumped whenever the watch is (re)opened or dropped */
    uv_timer_t watch_timer; /* delayed listing retry / watch re-open */
    int64_t retry_ms;       /* their backoff */

    struct state_txn_req *txns;     /* in flight (doubly linked) */
    struct state_txn_req *deferred; /* completed, callback pending (FIFO) */
    struct state_txn_req *deferred_tail;
    uv_timer_t defer_timer; /* runs deferred callbacks (and a deferred ready failure) */
    bool ready_fail_pending;
    struct err ready_err;

    void (*stop_cb)(void *data);
    void *stop_data;
    bool etcd_stopped, closing;
    int pending_closes;
};

#endif
