/* disp.h — the dispatcher: assignments (disp.c, pure), node liveness (disp_live.c, pure; its
 * section below) and the leader's server side of the node sessions (disp_server.c, libuv).
 *
 * Assignments: what each node must be told about its tasks, as incremental changes (tasks
 * added or changed, tasks removed) that survive lost messages.
 *
 * Per node session the dispatcher remembers the assignment state the node has acknowledged
 * and the one it sent last (with a sequence number). Each answer to the node carries the
 * changes from the acknowledged state to the current one and a new sequence number; the node
 * applies them and acknowledges that number in its next message, which makes the sent state
 * the acknowledged one. An answer that is lost is simply sent again, larger, next time. A new
 * session (a node that restarted, or a new leader) starts from nothing: its first changes
 * are marked `full`, and the node replaces everything it holds with them.
 *
 * Pure logic: the caller passes the node's current tasks (ID and version of each) and the
 * acknowledgement it received. No I/O; one thread. */
#ifndef SHOAL_DISP_H
#define SHOAL_DISP_H

#include "base/base.h"

struct disp_item {
    const char *id;
    uint64_t version; /* the task object's Version.Index */
};

struct disp_change {
    const char *id; /* borrowed: from the current items, or from the session for removals */
    uint64_t version;
    bool removed;
};

struct disp_changes {
    struct disp_change *v;
    size_t n, cap;
    uint64_t seq; /* to be acknowledged by the node */
    bool full;    /* the node replaces its whole set with these (no removals then) */
};
void disp_changes_release(struct disp_changes *c);

struct disp_session;
struct disp_session *disp_session_new(void);
void disp_session_free(struct disp_session *s); /* NULL is a no-op */

/* The node acknowledged sequence number `ack` (0: nothing yet). Acknowledging the last sent
 * number, or the one before it (the last answer was lost), makes that state the acknowledged
 * one; older numbers change nothing. */
void disp_session_ack(struct disp_session *s, uint64_t ack);

/* The changes that bring the node from its acknowledged state to `cur` (n items, unique
 * IDs); remembers `cur` as sent under out->seq. Borrowed IDs in out stay valid until the
 * next call on this session. */
void disp_session_changes(struct disp_session *s, const struct disp_item *cur, size_t n,
                          struct disp_changes *out);

/* ---- node liveness on the leader (disp_live.c) ----
 * Every node but the leader heartbeats the leader once per heartbeat period (the cluster's
 * Spec.Dispatcher.HeartbeatPeriod, 5 s by default). The leader marks a ready node down, with
 * the message DISP_LIVE_DOWN_MSG, once it has been silent for more than DISP_LIVE_PERIODS
 * periods, and ready again (no message) when it is heard from. Silence counts from the node's
 * last heartbeat; a node not heard from since the table was made (a new leader) or since the
 * period changed (nodes learn a new period with their next heartbeat) gets a whole window from
 * the first check that lists it: a grace window, so a new leader marks nobody down at once.
 * Checks come every period/4, clamped to [250 ms, 1 s]: a silent node is down within three
 * periods and a quarter, and a check of 10,000 nodes costs little. The leader never marks
 * itself.
 *
 * Pure logic: the time is the caller's monotonic clock in ms (uv_now), given to every call;
 * heartbeats, the store's nodes and the period come in as arguments and the marks to write go
 * out. The table keeps no record of what was written: a check asks again for every node the
 * store still shows ready, so a lost write is retried by the next check. One thread. */
#define DISP_HEARTBEAT_DEFAULT_MS 5000
#define DISP_LIVE_PERIODS 3
#define DISP_LIVE_DOWN_MSG "heartbeat failure"

/* A node as the store has it. */
struct disp_live_node {
    const char *id;
    bool ready; /* Status.State is "ready" */
};

/* A node to write down ("down" with DISP_LIVE_DOWN_MSG). */
struct disp_live_mark {
    char id[ID_LEN + 1];
    const char *state;   /* "down" */
    const char *message; /* static */
};

struct disp_live_marks {
    struct disp_live_mark *v;
    size_t n, cap;
    uint64_t next; /* ms: when the next check is due */
};
void disp_live_marks_release(struct disp_live_marks *m);

struct disp_live;
/* self_id: the leader's own node ID, never marked. */
struct disp_live *disp_live_new(const char *self_id);
void disp_live_free(struct disp_live *l); /* NULL is a no-op */

/* The period in ms of a cluster spec's Dispatcher.HeartbeatPeriod (ns; 0 or less: unset). */
int64_t disp_live_period_ms(int64_t spec_ns);
/* The interval between checks for a period. */
uint64_t disp_live_tick_ms(int64_t period_ms);

/* Node id was heard from (a heartbeat, a join) at now. stored_ready: the store shows the node
 * ready (false also when it has no such node yet). Returns true if the caller must mark it
 * ready (with no message). */
bool disp_live_heard(struct disp_live *l, const char *id, bool stored_ready, uint64_t now);

/* One check at now over every node of the store (nodes: n entries, unique IDs), with the
 * current period: out gets the nodes to mark down and when to check next (out's previous
 * marks are dropped). Nodes neither listed nor heard from since the previous check are
 * forgotten (removed from the swarm). */
void disp_live_check(struct disp_live *l, const struct disp_live_node *nodes, size_t n,
                     int64_t period_ms, uint64_t now, struct disp_live_marks *out);

/* Nodes the table remembers (tests). */
size_t disp_live_size(const struct disp_live *l);

/* ---- the dispatcher's server side on the leader (disp_server.c) ----
 * POST /swarm-rpc/assignments (struct msg_assign_req: {"Session": s, "Ack": seq}; a long poll;
 * the caller's node ID from its certificate) → struct msg_assign_resp ({"Seq", "Full",
 * "Changes": [{"Task": <task>, "ServiceName"} | {"Removed": id}]}): the node's tasks (every task
 * object with its NodeID, until it is deleted), as changes from what the node acknowledged;
 * answered at once when there are changes, else when the node's tasks change or after DISP_POLL_MS
 * with none. A task counts as changed for the node when its desired state or its spec changes (not
 * for its own status reports). A new Session value (a restarted worker) or a new leader starts with
 * Full. POST /swarm-rpc/status (struct msg_status_batch: {"Updates": [{"TaskID", "Status"}]},
 * decoded by the caller): checked (the task is the caller's, its state not going backwards), the
 * Status stored as src/msg re-encodes it, and written in batches (at most
 * DISP_BATCH tasks per transaction, one transaction in flight, conflicts retried against the
 * store's current objects). Thread: the loop thread. */
#include "msg/msg.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

#define DISP_POLL_MS 20000
#define DISP_BATCH 100

struct disp_server;
/* A poll's answer: status 200 and body (owned by the callee), or 503 (body NULL) when the
 * server goes away. */
typedef void (*disp_reply_cb)(void *arg, int status, json_t *body);
struct disp_server *disp_server_new(uv_loop_t *loop, struct store *s, store_commit_fn commit,
                                    void *commit_ctx);
/* Answers parked polls with 503 and frees d (status writes in flight finish into nothing). */
void disp_server_free(struct disp_server *d);
void disp_server_assignments(struct disp_server *d, const char *node_id,
                             const struct msg_assign_req *req, disp_reply_cb cb, void *arg);
/* The HTTP request of a parked poll went away (matched by arg): forget it. */
void disp_server_cancel(struct disp_server *d, void *arg);
/* Takes the updates; those that do not apply (another node's task, an older state) are
 * dropped one by one when they are written. */
void disp_server_status(struct disp_server *d, const char *node_id,
                        const struct msg_status_batch *b);
/* Status updates taken and not written yet (tests). */
size_t disp_server_pending(const struct disp_server *d);

#endif
