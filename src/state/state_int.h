/* state_int.h — internals shared by the state module's files; no other module includes it.
 *
 * Four files over the httpc module, one struct:
 *   state_etcd_proc.c  the etcd child: spawn, start-up and periodic health checks, restart
 *                      with backoff, SIGTERM/SIGKILL on stop;
 *   state_client.c     the public API: listing, watch, transactions, stop sequencing,
 *                      and the small "request" engine that member and lease calls use;
 *   state_member.c     cluster membership (member add/remove/list);
 *   state_elect.c      leases and leader election.
 * The proc layer reports to the client layer through the state_client_etcd_* functions;
 * the client layer passes etcd up/down on to the elections (state_elect_etcd_*).
 *
 * Invariants: every user callback runs outside the HTTP client's I/O callbacks (httpc
 * dispatches from the loop), so a callback may start or cancel calls, or stop the whole
 * state, at any time.
 * Thread: the loop thread only. */
#ifndef SHOAL_STATE_INT_H
#define SHOAL_STATE_INT_H

#include "httpc/httpc.h"
#include "state/state.h"

#include <jansson.h>

/* Finds the end of the first complete JSON object in p[0..n) (the watch stream is a
 * sequence of objects): returns its length including leading whitespace, 0 if it is not
 * complete yet, -1 if the next non-blank byte is not '{'. */
long state_json_span(const char *p, size_t n);
/* The same, resumable: a stream whose buffer grows read by read is scanned once in all, not
 * once per read from its start (a multi-MB watch event arrives in hundreds of reads: O(n²)
 * scanning held the loop long enough to cost the leader its lease). s remembers how far p
 * was scanned; it is reset (zeroed) by a complete span, and must be zeroed by the caller
 * whenever it drops or consumes the buffer otherwise. */
struct state_json_scan {
    size_t pos; /* bytes of the buffer scanned so far */
    int depth;
    bool started, in_str, esc;
};
long state_json_span_resume(struct state_json_scan *s, const char *p, size_t n);

/* ---- the etcd child (state_etcd_proc.c) ---- */

struct state_etcd_run;

/* Spawns etcd and starts health-polling it; state_client_etcd_up() when it answers. */
void state_proc_start(struct state *st);
/* Terminates etcd (SIGTERM, SIGKILL after 5 s); state_client_etcd_stopped() on exit. */
void state_proc_stop(struct state *st);
/* Health-checks every 50 ms (instead of once a second) for the next for_ms, so that a change
 * of etcd's Raft leader is seen at once; the first check comes within 50 ms. */
void state_proc_hurry(struct state *st, uint64_t for_ms);
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
/* A status answer came in (st->etcd_leader and st->etcd_term are up to date). */
void state_client_etcd_status(struct state *st);
/* The first start failed for good (never answered, could not spawn, exited early). */
void state_client_start_failed(struct state *st, struct err *e);
/* etcd has exited after state_proc_stop() (or was not running). */
void state_client_etcd_stopped(struct state *st);
/* A handle counted in st->pending_closes has closed. */
void state_client_handle_closed(struct state *st);

/* ---- shared helpers (state_client.c) ---- */

/* An int64 that the gateway sends as a string (or a number); 0 if absent. */
int64_t state_json_int64(json_t *v);
/* header.revision of a gateway answer. */
int64_t state_header_revision(json_t *obj);
/* Decodes the base64 string field `name` of obj into out (nothing if absent). */
int state_field_b64(json_t *obj, const char *name, struct buf *out, struct err *e);
/* A non-200 gateway answer as an error: ERR_UNAVAILABLE for gRPC Unavailable (14),
 * DeadlineExceeded (4), Canceled (1), HTTP 503 or a proposal that Raft dropped (no leader);
 * ERR_INTERNAL otherwise. The message is
 * "etcd: <etcd's message> (HTTP <status>)". */
int state_gateway_error(long status, struct buf *body, struct err *e);
/* POSTs body as compact JSON to st->client_url + path. */
struct httpc_call *state_post_json(struct state *st, const char *path, json_t *body,
                                   long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                                   void *data);
/* The same on st->ctl_curl, the connections kept for health checks and elections. */
struct httpc_call *state_post_ctl_json(struct state *st, const char *path, json_t *body,
                                       long timeout_ms, httpc_data_cb data_cb, httpc_done_cb done,
                                       void *data);
/* Runs the stop sequence on once nothing (requests, elections) holds it back. */
void state_client_maybe_finish(struct state *st);

/* ---- requests: one user call made of one or more gateway calls (state_client.c) ----
 * A kind embeds struct state_req first. Its callback always runs from r->timer (so never
 * inside the user's call), exactly once; state_stop() finishes every request still running
 * with -ERR_UNAVAILABLE "shutting down". r is freed after complete() returns. */
struct state_req;
typedef void (*state_req_answer_fn)(struct state_req *r, int rc, long status, struct buf *body,
                                    struct err *e);
typedef void (*state_req_fn)(struct state_req *r);
struct state_req {
    struct state *st;
    struct httpc_call *call;
    uv_timer_t timer;
    state_req_answer_fn on_answer;
    state_req_fn complete; /* runs the user's callback from rc/e */
    state_req_fn release;  /* frees the kind's own fields; may be NULL */
    state_req_fn retry_fn; /* what the timer runs while not finished */
    int rc;
    struct err e;
    uint64_t deadline; /* loop ms: the kind stops retrying here */
    bool ctl;          /* post on st->ctl_curl (lease calls: never behind big writes) */
    /* Idempotent calls: one stuck behind a dead etcd leader is sent again as soon as the local
     * member reports a new one (see state_client_etcd_status). */
    bool resend_on_new_leader;
    char *path, *body; /* the current call, kept for that */
    long timeout_ms;
    uint64_t sent_at;  /* loop ms */
    int64_t sent_term; /* etcd's Raft term as known then */
    bool finished;
    struct state_req *prev, *next;
};
/* Allocates size bytes (>= sizeof(struct state_req)), zeroed, linked into st->reqs. If st
 * cannot take calls (not started, stopping), r comes back finished already with
 * -ERR_UNAVAILABLE: fill in the kind's fields all the same (complete() runs later) but post
 * nothing. */
struct state_req *state_req_new(struct state *st, size_t size, state_req_fn complete,
                                state_req_fn release);
/* POSTs body; on_answer runs with the answer (the call is over by then). */
void state_req_post(struct state_req *r, const char *path, json_t *body, long timeout_ms,
                    state_req_answer_fn on_answer);
/* Runs fn after ms. */
void state_req_later(struct state_req *r, uint64_t ms, state_req_fn fn);
/* Ends r with rc (0, or < 0 and e); complete() runs from the loop. */
void state_req_finish(struct state_req *r, int rc, const struct err *e);

/* ---- elections (state_elect.c) ---- */

/* The local etcd exited (leaders step down at once) / answers again (campaigns resume). */
void state_elect_etcd_down(struct state *st);
void state_elect_etcd_up(struct state *st);
/* state_stop(): resigns every election; true while a revoke is still on its way. */
bool state_elect_stop(struct state *st);
/* True while some election still holds st back from stopping. */
bool state_elect_busy(const struct state *st);

/* ---- the shared struct ---- */

struct state_txn_req;

struct state {
    uv_loop_t *loop;
    struct state_config cfg; /* strings owned (copied in state_new) */
    char *client_url;        /* "http(s)://127.0.0.1:<client_port>" */
    struct httpc *curl;      /* listing, watch, transactions, member calls */
    /* Health checks and election traffic on their own connections, so that a lease
     * keepalive never queues behind big transactions (curl caps connections per host). */
    struct httpc *ctl_curl;

    /* proc layer */
    struct state_etcd_run *run; /* the live child, or NULL */
    uv_timer_t proc_timer;      /* start-up polling, periodic health, restart backoff */
    int proc_mode;              /* which of those proc_timer is doing */
    uint64_t up_since;          /* loop ms when etcd last answered after a spawn */
    uv_timer_t kill_timer;      /* SIGKILL 5 s after SIGTERM */
    struct httpc_call *health_call;
    uint64_t health_deadline;  /* loop ms: start-up must answer before this */
    uint64_t start_timeout_ms; /* 0 until state_start: 20 s (tests may set it) */
    int64_t backoff_ms;
    bool ever_up; /* etcd answered at least once since state_start */
    bool proc_stopping;
    uint64_t etcd_leader; /* Raft leader's member ID at the last status answer (0: none) */
    uint64_t etcd_member; /* the local member's ID (0 until etcd answered) */
    int64_t etcd_term;    /* highest Raft term a status answer reported */
    uint64_t hurry_until; /* loop ms: health checks every 50 ms until then */

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

    struct httpc_call *list_call;
    struct state_list *list; /* listing in progress */

    bool relist_needed; /* the watch's start revision was compacted */
    struct httpc_call *watch_call;
    uint64_t watch_gen;                /* bumped whenever the watch is (re)opened or dropped */
    struct state_json_scan watch_scan; /* how far the watch stream's next message is read */
    uv_timer_t watch_timer;            /* delayed listing retry / watch re-open */
    int64_t retry_ms;                  /* their backoff */

    struct state_txn_req *txns;     /* in flight (doubly linked) */
    struct state_txn_req *deferred; /* completed, callback pending (FIFO) */
    struct state_txn_req *deferred_tail;
    uv_timer_t defer_timer; /* runs deferred callbacks (and a deferred ready failure) */
    uv_timer_t txn_timer;   /* looks for transactions stuck behind a dead etcd leader */
    bool ready_fail_pending;
    struct err ready_err;

    struct state_req *reqs;           /* member and lease requests in flight */
    struct state_election *elections; /* campaigning or resigning (doubly linked) */
    bool proc_stop_called;            /* state_proc_stop() has run (or was not needed) */

    void (*stop_cb)(void *data);
    void *stop_data;
    bool etcd_stopped, closing;
    int pending_closes;
};

#endif
