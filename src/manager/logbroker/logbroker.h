/* logbroker.h — service and task logs across the swarm, as swarmkit's log broker does them.
 *
 * A client's request (`docker service logs`, `docker task logs`) becomes a subscription to
 * a set of tasks, each on its node. Every node learns of the subscriptions that concern it
 * through its own long poll (logbroker_listen: the leader never calls a worker, workers have
 * no listener), reads those tasks' container logs and publishes them back in batches
 * (logbroker_publish), then closes its part. The broker hands every message to the
 * subscriber in the order its node sent it. A subscription without follow ends once every
 * node has closed its part, or has not picked it up within LB_PICKUP_MS (a node that is down:
 * the end callback names it, as dockerd warns "incomplete log stream"); one with follow runs
 * until the subscriber cancels it, and a node's part ends when its tasks' containers have
 * exited and everything was read.
 *
 * The wire (JSON bodies of /swarm-rpc/ calls, the caller's node ID from its certificate; the
 * codec is msg/msg.h's, the callers decode the requests):
 *   listen   msg_logs_listen_req {"Serving": [subscription IDs the node is serving]}
 *         →  msg_logs_listen_resp {"Subscriptions": [{"ID", "TaskIDs": [...], "Follow", "Tail",
 *              "Since", "Until", "Stdout", "Stderr"}], "Closed": [IDs the node must stop
 *              serving]}
 *            (answered at once when there is news for the node, else after LB_POLL_MS)
 *   publish  msg_logs_publish {"SubscriptionID", "Messages": [{"TaskID", "Stream": 1|2,
 *              "Time": ns, "Data": base64}], "Close": bool}  →  {}
 * Messages for a subscription that is gone are dropped (the node learns it is closed from
 * its next listen). Thread: the loop thread. */
#ifndef SHOAL_LOGBROKER_H
#define SHOAL_LOGBROKER_H

#include "base/base.h"
#include "msg/msg.h"

#include <jansson.h>
#include <uv.h>

#define LB_PICKUP_MS 3000 /* a node must listen this soon to serve a subscription */
#define LB_POLL_MS 20000  /* a parked listen is answered empty after this long */
#define LB_IDLE_MS 10000  /* a subscription without follow whose nodes fell silent ends */

struct lb_opts {
    bool follow, want_stdout, want_stderr;
    long tail;        /* per task, < 0: all */
    int64_t since_ns; /* 0: from the start */
    int64_t until_ns; /* 0: no end */
};

struct lb_target {
    const char *task_id, *node_id;
};

struct lb_msg {
    const char *task_id, *node_id;
    int stream; /* 1 stdout, 2 stderr */
    int64_t time_ns;
    const char *data; /* one message, its trailing newline included when it had one */
    size_t len;
};

typedef void (*lb_msg_cb)(void *arg, const struct lb_msg *m);
/* The subscription is over; incomplete: "" or the nodes that never served it. */
typedef void (*lb_end_cb)(void *arg, const char *incomplete);
/* A listen's answer: status 200 and body (owned by the callee), or 503 on shutdown. */
typedef void (*lb_reply_cb)(void *arg, int status, json_t *body);

struct logbroker;
struct lb_sub;

struct logbroker *logbroker_new(uv_loop_t *loop);
/* Ends every subscription (end callbacks run) and answers parked listens 503. */
void logbroker_free(struct logbroker *lb);

/* Subscribes to the logs of n tasks. Callbacks run later on the loop; end runs once, after
 * which s is freed. With n == 0 it ends at once (on the next loop turn). */
struct lb_sub *logbroker_subscribe(struct logbroker *lb, const struct lb_target *t, size_t n,
                                   const struct lb_opts *o, lb_msg_cb on_msg, lb_end_cb on_end,
                                   void *arg);
/* The subscriber went away: no callback runs any more; s is freed. */
void logbroker_cancel(struct lb_sub *s);

/* A node's long poll (see above). A node has at most one parked listen: a new one answers
 * the old one empty first. cancel: the HTTP request went away (matched by arg). */
void logbroker_listen(struct logbroker *lb, const char *node_id,
                      const struct msg_logs_listen_req *req, lb_reply_cb cb, void *arg);
void logbroker_listen_cancel(struct logbroker *lb, void *arg);
/* A node's batch of messages; 0, or ERR_INVALID for a task that is not the node's in that
 * subscription (then none of them is delivered). */
int logbroker_publish(struct logbroker *lb, const char *node_id, const struct msg_logs_publish *req,
                      struct err *e);

/* ---- the Engine API's framing (what GET /services/{id}/logs streams) ---- */

#define LB_STREAM_SYSERR 3 /* dockerd's stdcopy.Systemerr: an error; the CLI prints it, exits 1 */
/* No frame the broker's messages make is larger: a message comes in one publication, whose
 * body the peer listener bounds at 1 MiB. */
#define LB_FRAME_MAX (2 * 1024 * 1024)

/* Appends m as dockerd frames a log message (stdcopy): an 8-byte header (stream, three zero
 * bytes, the big-endian length), then with timestamps the time (RFC 3339, 9 fixed digits) and
 * a space, with details "com.docker.swarm.node.id=...,com.docker.swarm.service.id=...,
 * com.docker.swarm.task.id=..." and a space, then the data. */
void logbroker_frame(const struct lb_msg *m, const char *service_id, bool timestamps, bool details,
                     struct buf *out);
/* Appends a LB_STREAM_SYSERR frame of text (dockerd's "Error grabbing logs: ...\n"). */
void logbroker_frame_error(const char *text, struct buf *out);
/* How many bytes at the start of p[0..len) are whole frames; -ERR_INVALID (and e) if a header is
 * no frame of ours (stream not 1..3, nonzero padding, or longer than LB_FRAME_MAX). */
long logbroker_frames_whole(const char *p, size_t len, struct err *e);

/* Other timings than the defaults above (0 keeps a default): for tests. */
void logbroker_set_timing(struct logbroker *lb, uint64_t pickup_ms, uint64_t idle_ms,
                          uint64_t poll_ms);
/* Live subscriptions (tests). */
size_t logbroker_count(const struct logbroker *lb);

#endif
