/* node.h — this host's swarm membership: init, leave, unlock, cluster and node updates,
 * the local identity and keys in the data root, and the glue between the in-memory store
 * and etcd (values sealed with the data key on the way out, unsealed on the way in).
 *
 * Data root layout (all under <data-root>/swarm/, mode 0700):
 *   state.json        node ID, cluster ID, role, addresses, etcd ports
 *   certs/            ca.crt, node.crt, node.key (this node's identity)
 *   keys/kek          key-encryption key (absent while autolock is on)
 *   keys/dek          the data key, sealed by the KEK or by the unlock key
 *   etcd/             the supervised etcd's data directory
 * etcd keys: /shoal/<kind>/<id> for store objects, /shoal/private/<name> for records that
 * never leave the managers (root CA key, unlock key).
 *
 * Thread: the loop thread only. Every operation that writes answers through a callback. */
#ifndef SHOAL_NODE_H
#define SHOAL_NODE_H

#include "base/base.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

enum node_state {
    NODE_INACTIVE = 0, /* not part of a swarm */
    NODE_STARTING,     /* in a swarm, etcd starting / store loading */
    NODE_ACTIVE,
    NODE_LOCKED, /* autolock: waiting for swarm unlock */
    NODE_ERROR,  /* in a swarm but etcd could not be started */
};
/* "inactive", "pending", "active", "locked", "error" — as /info's LocalNodeState. */
const char *node_state_name(enum node_state s);

struct node_config {
    const char *data_root;
    const char *etcd_bin;      /* NULL: /usr/bin/etcd */
    int etcd_client_port;      /* default 2479 */
    int etcd_peer_port;        /* default 2480 */
    const char *const *labels; /* engine labels "k=v" from --label; NULL-terminated */
    const char *engine_version;
    size_t peer_max_conns; /* connection cap of the peer listener; 0: the http default */
    /* This node's containers (NULL: it runs no tasks): the agent session's executor and the
     * task logs source, both with exec_ctx. */
    const struct agent_exec_ops *exec_ops;
    const struct agent_log_ops *log_ops;
    void *exec_ctx;
};

struct node;
struct agent_exec_ops;
struct agent_log_ops;

/* Result callback of asynchronous operations: rc 0 or negative with e filled. */
typedef void (*node_done_cb)(void *data, int rc, struct err *e);

struct node *node_new(uv_loop_t *loop, const struct node_config *cfg);
/* Loads the persisted membership; when in a swarm and not locked, starts etcd and loads
 * the store. cb fires when the node has settled (active, locked, inactive or error). */
void node_start(struct node *n, node_done_cb cb, void *data);
/* Stops etcd and frees n; cb runs when everything is closed. */
void node_stop(struct node *n, void (*cb)(void *data), void *data);

/* ---- what /info and the API need to know ---- */
enum node_state node_state(const struct node *n);
const char *node_error(const struct node *n);        /* "" unless locked or error */
const char *node_self_id(const struct node *n);      /* "" when inactive */
const char *node_self_addr(const struct node *n);    /* advertise IP, "" when inactive */
const char *node_manager_addr(const struct node *n); /* "IP:port" */
bool node_is_manager(const struct node *n);
struct store *node_store(struct node *n);
/* The cluster object (borrowed) or NULL. */
json_t *node_cluster(const struct node *n);
/* 0 if manager endpoints may be served; else fills e with Docker's 503 message for the
 * current state (not in a swarm / locked / not a manager / store unavailable). */
int node_require_manager(const struct node *n, struct err *e);
/* [{NodeID, Addr}] of the managers this node knows (/info's RemoteManagers); new ref. */
json_t *node_remote_managers(struct node *n);
/* The unlock key, or "" when autolock is off. */
const char *node_unlock_key(const struct node *n);
/* The object as the API shows it: ManagerStatus.Leader and Reachability from live state
 * (the election and the dispatcher's view). New reference. */
json_t *node_decorate(struct node *n, json_t *obj);
/* A fresh description of this host (Hostname, Platform, Resources, Engine). New ref. */
json_t *node_host_description(const struct node *n);

/* ---- swarm operations (Engine API semantics; errors carry Docker's messages) ---- */
/* POST /swarm/init body. On success *node_id (static until leave) is set. */
void node_swarm_init(struct node *n, json_t *req, node_done_cb cb, void *data);
/* POST /swarm/join body: joins through the first of RemoteAddrs. */
void node_swarm_join(struct node *n, json_t *req, node_done_cb cb, void *data);
void node_swarm_leave(struct node *n, bool force, node_done_cb cb, void *data);
void node_swarm_unlock(struct node *n, const char *key, node_done_cb cb, void *data);
/* POST /swarm/update?version=&rotateWorkerToken=&rotateManagerToken=&rotateManagerUnlockKey= */
struct node_swarm_update {
    uint64_t version;
    json_t *spec; /* borrowed */
    bool rotate_worker_token, rotate_manager_token, rotate_unlock_key;
};
void node_swarm_update(struct node *n, const struct node_swarm_update *u, node_done_cb cb,
                       void *data);
/* POST /nodes/{id}/update?version= with a NodeSpec. */
void node_node_update(struct node *n, const char *ref, uint64_t version, json_t *spec,
                      node_done_cb cb, void *data);
/* DELETE /nodes/{id}?force= */
void node_node_remove(struct node *n, const char *ref, bool force, node_done_cb cb, void *data);

/* ---- replication: commit one object through etcd ----
 * Takes ownership of obj (its ID set; Version.Index ignored). expect_version 0 means
 * "create" (must not exist). On success the store holds the object with its new
 * Version.Index before cb runs. */
void node_commit(struct node *n, enum store_kind k, json_t *obj, uint64_t expect_version,
                 node_done_cb cb, void *data);
/* Deletes the object at expect_version (STATE_ANY_REVISION-like: 0 = no check). */
void node_commit_delete(struct node *n, enum store_kind k, const char *id, uint64_t expect_version,
                        node_done_cb cb, void *data);

/* ---- service and task logs (node_logs.c) ----
 * Streams the logs sel asks for (a service or task ID of this node's store, and the Engine
 * API's options) onto req as GET /services/{id}/logs answers them: 200, chunked stdcopy
 * frames, the end. The leader serves them from its log broker; another manager relays them
 * from the leader (an error midway, such as the leader going away, ends the stream with
 * dockerd's Systemerr frame). Returns 0: the answer is this module's, and done(arg) runs once
 * it is complete (the client may have gone); or < 0 with e (not a manager, no leader, an
 * object the leader does not know), req unanswered. sel is borrowed for the call. */
struct msg_logs_sub_req;
struct http_req;
typedef void (*node_logs_done_cb)(void *arg);
int node_logs_stream(struct node *n, const struct msg_logs_sub_req *sel, struct http_req *req,
                     node_logs_done_cb done, void *arg, struct err *e);

/* ---- cluster-level events for /events (node and swarm changes come from the store) ---- */
/* PID of the supervised etcd (0 if none), for benchmarks. */
int node_etcd_pid(const struct node *n);

#endif
