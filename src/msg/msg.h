/* msg.h — the node-to-node messages, defined once: the JSON bodies nodes exchange on the
 * mutual-TLS peer port (2377, POST /swarm-rpc/<call>) as typed structures, with one encoder
 * and one decoder per kind. The daemon (node/, manager/dispatcher/, agent/) and `shoal
 * hollow` both use these, so a benchmark with hollow workers exercises the real codec.
 *
 *   /swarm-rpc/ca           {} → msg_ca_resp
 *   /swarm-rpc/join         msg_join_req → msg_join_resp (also the answer to /promote)
 *   /swarm-rpc/heartbeat    msg_heartbeat_req → msg_heartbeat_resp (200, or 503 + Leader)
 *   /swarm-rpc/renew        msg_csr_req → msg_cert_resp
 *   /swarm-rpc/promote      msg_csr_req → msg_join_resp
 *   /swarm-rpc/assignments  msg_assign_req → msg_assign_resp (a long poll)
 *   /swarm-rpc/status       msg_status_batch → {}
 *   /swarm-rpc/logs/subscribe  msg_logs_sub_req → a stream of stdcopy frames (managers)
 *   /swarm-rpc/logs/listen     msg_logs_listen_req → msg_logs_listen_resp (a long poll)
 *   /swarm-rpc/logs/publish    msg_logs_publish → {}
 *
 * Decoders face other nodes (a worker with a valid certificate, or a manager answering a
 * worker): every field is type-checked, strings and counts are bounded, enumerations
 * (roles, availabilities, task states) and addresses are checked, and the error names the
 * message and the field ("malformed join request: Addr is not an IP address"). Unknown
 * top-level fields are ignored, as protobuf ignores them, so that a newer node can add one
 * without breaking an older peer; an object that the receiver stores (TLSInfo, a node's
 * Description, a task's Status) is re-encoded from the typed fields, so nothing but them is
 * ever stored.
 *
 * Ownership: a decoded structure borrows its strings (and its json_t members) from the
 * document it was decoded from, to which it holds a reference until msg_<kind>_release; on
 * failure nothing is held and the structure is zeroed. An encoder borrows everything in its
 * structure and returns a new JSON object (fields that are NULL / 0 / false as noted are
 * left out); msg_dump turns it into bytes. The wire format is the one shoal has spoken since
 * these calls were written, byte for byte.
 *
 * Pure functions; any thread. */
#ifndef SHOAL_MSG_H
#define SHOAL_MSG_H

#include "base/base.h"
#include "store/store.h" /* enum task_state */

#include <jansson.h>

/* Bounds on what a peer may send. */
#define MSG_MAX_PEM (64 * 1024)        /* a certificate chain, a CSR, a trust bundle, a key */
#define MSG_MAX_SHORT 256              /* tokens, keys, hostnames, versions, names */
#define MSG_MAX_TEXT 4096              /* status messages and errors, initial cluster lists */
#define MSG_MAX_ADDR 64                /* "IP:port", "[v6]:port" */
#define MSG_MAX_MANAGERS 128           /* addresses in a managers list */
#define MSG_MAX_LABELS 1024            /* engine labels of a node */
#define MSG_MAX_SESSION 64             /* an assignments session ID */
#define MSG_MAX_CHANGES (64 * 1024)    /* changes in one assignments answer */
#define MSG_MAX_UPDATES (64 * 1024)    /* updates in one status report */
#define MSG_MAX_PORTS 1024             /* published ports of a task */
#define MSG_MAX_LOG_SUBS (64 * 1024)   /* subscription IDs in a logs listen or its answer */
#define MSG_MAX_LOG_TASKS (64 * 1024)  /* tasks of one subscription on one node */
#define MSG_MAX_LOG_MSGS (64 * 1024)   /* messages in one log publication */
#define MSG_MAX_LOG_DATA (1024 * 1024) /* bytes of one log message (decoded) */

/* ---- bytes ---- */
/* Parses n bytes as one JSON object (duplicate keys refused). A new reference, or NULL with
 * ERR_INVALID: "malformed <what>: <parser's words>". */
json_t *msg_load(const char *p, size_t n, const char *what, struct err *e);
/* Compact JSON of j (heap string, NUL-terminated); j stays the caller's. */
char *msg_dump(const json_t *j);

/* ---- shared parts ---- */

/* A node's TLS state as it reports it: what it trusts and who issued its certificate. NULL
 * fields are absent. */
struct msg_tls_info {
    const char *trust_root, *issuer_subject, *issuer_public_key;
};
json_t *msg_tls_info_encode(const struct msg_tls_info *t);

/* A node's description as it joins (Docker's NodeDescription, the parts shoal reads). Every
 * field is optional (NULL, or has_resources false). engine_labels: an object of strings. */
struct msg_node_desc {
    const char *hostname, *arch, *os;
    bool has_resources;
    int64_t nano_cpus, memory_bytes;
    const char *engine_version;
    json_t *engine_labels;
};
json_t *msg_node_desc_encode(const struct msg_node_desc *d);
/* Borrows from o (a node's own description, or a join request's). */
int msg_node_desc_decode(json_t *o, struct msg_node_desc *d, struct err *e);

/* A "IP:port" or "[v6]:port" address, as managers advertise them. */
bool msg_addr_valid(const char *s);

/* ---- join ---- */

/* POST /swarm-rpc/join (no client certificate: anyone who reaches the port). */
struct msg_join_req {
    const char *token, *csr;
    const char *addr;         /* the joiner's advertised IP */
    const char *availability; /* "active" | "pause" | "drain"; NULL: absent (active) */
    struct msg_node_desc desc;
    int advertise_port, etcd_peer_port; /* 0: absent (a manager join needs both) */
    json_t *doc;
};
json_t *msg_join_req_encode(const struct msg_join_req *m);
int msg_join_req_decode(json_t *j, struct msg_join_req *m, struct err *e);
void msg_join_req_release(struct msg_join_req *m);

/* The answer to a join or a promotion: the identity, its certificate and how to reach the
 * managers; a manager also gets the store's keys and etcd's cluster. */
struct msg_join_resp {
    const char *node_id, *cluster_id; /* valid object IDs */
    const char *role;                 /* "manager" | "worker" */
    const char *cert;
    json_t *managers;     /* array of addresses; NULL: absent (encoded as []) */
    int64_t heartbeat_ms; /* 0: absent */
    const char *trust_bundle, *initial_cluster, *unlock_key, *dek; /* NULL: absent */
    const char *etcd_ca_cert, *etcd_ca_key; /* EtcdCA {Cert, Key}; NULL: absent */
    json_t *doc;
};
json_t *msg_join_resp_encode(const struct msg_join_resp *m);
int msg_join_resp_decode(json_t *j, struct msg_join_resp *m, struct err *e);
void msg_join_resp_release(struct msg_join_resp *m);

/* ---- heartbeat ---- */

struct msg_heartbeat_req {
    bool has_tls;
    struct msg_tls_info tls;
    json_t *doc;
};
json_t *msg_heartbeat_req_encode(const struct msg_heartbeat_req *m);
int msg_heartbeat_req_decode(json_t *j, struct msg_heartbeat_req *m, struct err *e);
void msg_heartbeat_req_release(struct msg_heartbeat_req *m);

/* 200: heartbeat_ms, managers, role (the node's role in the swarm now), and the roots when
 * the node needs them; 503 from a manager that does not lead: message and leader ("" when
 * it knows none). Error answers of any call carry message. NULL / 0: absent. */
struct msg_heartbeat_resp {
    const char *message;
    int64_t heartbeat_ms;
    json_t *managers; /* array of addresses */
    const char *role; /* "manager" | "worker" | "" */
    const char *trust_bundle, *signing_root;
    const char *leader; /* an address, or "" */
    json_t *doc;
};
json_t *msg_heartbeat_resp_encode(const struct msg_heartbeat_resp *m);
int msg_heartbeat_resp_decode(json_t *j, struct msg_heartbeat_resp *m, struct err *e);
void msg_heartbeat_resp_release(struct msg_heartbeat_resp *m);

/* ---- certificates ---- */

/* POST /swarm-rpc/renew (csr only) and /swarm-rpc/promote (csr and both ports). */
struct msg_csr_req {
    const char *csr;
    int advertise_port, etcd_peer_port; /* 0: absent */
    json_t *doc;
};
json_t *msg_csr_req_encode(const struct msg_csr_req *m);
int msg_csr_req_decode(json_t *j, struct msg_csr_req *m, struct err *e);
void msg_csr_req_release(struct msg_csr_req *m);

struct msg_cert_resp {
    const char *cert;
    json_t *doc;
};
json_t *msg_cert_resp_encode(const struct msg_cert_resp *m);
int msg_cert_resp_decode(json_t *j, struct msg_cert_resp *m, struct err *e);
void msg_cert_resp_release(struct msg_cert_resp *m);

struct msg_ca_resp {
    const char *root_ca;
    json_t *doc;
};
json_t *msg_ca_resp_encode(const struct msg_ca_resp *m);
int msg_ca_resp_decode(json_t *j, struct msg_ca_resp *m, struct err *e);
void msg_ca_resp_release(struct msg_ca_resp *m);

/* ---- assignments (manager/dispatcher/disp.h has the protocol) ---- */

/* The node's poll: its session (a new value starts over with a full set) and the sequence
 * number of the last answer it applied. */
struct msg_assign_req {
    const char *session; /* "" when absent */
    bool has_ack;
    uint64_t ack;
    json_t *doc;
};
json_t *msg_assign_req_encode(const struct msg_assign_req *m);
int msg_assign_req_decode(json_t *j, struct msg_assign_req *m, struct err *e);
void msg_assign_req_release(struct msg_assign_req *m);

/* One change: a task added or changed (task: the task object as the store holds it, with
 * its desired state and spec), or a task removed (removed: its ID). Decoded tasks have an
 * ID (task_id), a known DesiredState (desired), and, when present, an object Spec and a
 * Status whose State is known (observed; TASK_NEW when absent). */
struct msg_assign_change {
    const char *removed;
    json_t *task;
    const char *service_name; /* "" when unknown */
    const char *task_id;      /* decoded only */
    enum task_state desired;  /* decoded only */
    enum task_state observed; /* decoded only */
};
struct msg_assign_resp {
    uint64_t seq; /* to be acknowledged; 0: nothing new */
    bool full;    /* the node replaces its whole set with these */
    struct msg_assign_change *changes;
    size_t n_changes;
    json_t *doc;
};
json_t *msg_assign_resp_encode(const struct msg_assign_resp *m);
int msg_assign_resp_decode(json_t *j, struct msg_assign_resp *m, struct err *e);
void msg_assign_resp_release(struct msg_assign_resp *m);

/* ---- task status reports ---- */

struct msg_port {
    const char *name, *protocol, *publish_mode; /* NULL: absent */
    int64_t target_port, published_port;        /* 0..65535 */
};

/* A task's Status as the node reports it (Docker's TaskStatus). */
struct msg_task_status {
    const char *timestamp; /* RFC 3339 */
    enum task_state state;
    const char *message;      /* NULL: absent */
    const char *err;          /* NULL: none */
    bool has_container;       /* ContainerStatus: */
    const char *container_id; /* "" or 64 hex */
    int64_t pid, exit_code;
    struct msg_port *ports; /* PortStatus.Ports; PortStatus is always encoded */
    size_t n_ports;
};
json_t *msg_task_status_encode(const struct msg_task_status *s);

struct msg_status_update {
    const char *task_id;
    struct msg_task_status status;
};
/* {"TaskID", "Status"}: one element of a batch's Updates. */
json_t *msg_status_update_encode(const struct msg_status_update *u);

struct msg_status_batch {
    struct msg_status_update *updates;
    size_t n_updates;
    json_t *doc;
};
json_t *msg_status_batch_encode(const struct msg_status_batch *m);
/* {"Updates": updates}, for a sender that keeps encoded updates (takes ownership). */
json_t *msg_status_batch_wrap(json_t *updates);
int msg_status_batch_decode(json_t *j, struct msg_status_batch *m, struct err *e);
void msg_status_batch_release(struct msg_status_batch *m);

/* ---- logs through any manager ---- */

/* POST /swarm-rpc/logs/subscribe, from a manager that does not lead to the leader (a
 * manager's certificate): the logs of one service or one task, with the options of the
 * Engine API's query. The leader answers 200 and streams, chunked, exactly the stdcopy
 * frames it would send its own API client (manager/logbroker/logbroker.h); an error before
 * the stream is a JSON {"message"} with its status. */
struct msg_logs_sub_req {
    const char *service_id, *task_id; /* exactly one of them (an object ID), the other NULL */
    bool follow, want_stdout, want_stderr, timestamps, details;
    int64_t tail;               /* -1: all */
    int64_t since_ns, until_ns; /* 0: none */
    json_t *doc;
};
json_t *msg_logs_sub_req_encode(const struct msg_logs_sub_req *m);
int msg_logs_sub_req_decode(json_t *j, struct msg_logs_sub_req *m, struct err *e);
void msg_logs_sub_req_release(struct msg_logs_sub_req *m);

/* ---- logs: the nodes that serve the leader's log broker (manager/logbroker/logbroker.h) ----
 * IDs (subscriptions, tasks) are object IDs; times are nanoseconds since the epoch, any
 * int64 (a time before 1970 is still a time: a listen answer or a publication is not refused
 * for one). */

/* POST /swarm-rpc/logs/listen: the IDs of the subscriptions the node serves now. */
struct msg_logs_listen_req {
    const char **serving;
    size_t n_serving;
    json_t *doc;
};
json_t *msg_logs_listen_req_encode(const struct msg_logs_listen_req *m);
int msg_logs_listen_req_decode(json_t *j, struct msg_logs_listen_req *m, struct err *e);
void msg_logs_listen_req_release(struct msg_logs_listen_req *m);

/* One subscription a node is to serve: its tasks there, and what to read of their logs. */
struct msg_log_sub {
    const char *id;
    const char **task_ids;
    size_t n_tasks;
    bool follow, want_stdout, want_stderr;
    int64_t tail;               /* -1: all (absent: -1) */
    int64_t since_ns, until_ns; /* 0: none */
};
/* The answer: the subscriptions new to the node, and those it must stop serving. */
struct msg_logs_listen_resp {
    struct msg_log_sub *subs;
    size_t n_subs;
    const char **closed;
    size_t n_closed;
    json_t *doc;
};
json_t *msg_logs_listen_resp_encode(const struct msg_logs_listen_resp *m);
int msg_logs_listen_resp_decode(json_t *j, struct msg_logs_listen_resp *m, struct err *e);
void msg_logs_listen_resp_release(struct msg_logs_listen_resp *m);

/* One log message: on the wire its data is base64 ("Data"). */
struct msg_log_msg {
    const char *task_id;
    int stream; /* 1 stdout, 2 stderr */
    int64_t time_ns;
    const char *data; /* len bytes, not NUL-terminated */
    size_t len;
};
/* {"TaskID", "Stream", "Time", "Data"}: one element of a publication's Messages. */
json_t *msg_log_msg_encode(const struct msg_log_msg *lm);

/* POST /swarm-rpc/logs/publish: a batch of one subscription's messages; close: the node's
 * part of the subscription is over (its last publication). */
struct msg_logs_publish {
    const char *sub_id;
    struct msg_log_msg *msgs;
    size_t n_msgs;
    bool close;
    char *bytes; /* decoded only: every message's data, which msgs[i].data point into */
    json_t *doc;
};
json_t *msg_logs_publish_encode(const struct msg_logs_publish *m);
/* The same, for a sender that keeps encoded messages (takes ownership of msgs, an array). */
json_t *msg_logs_publish_wrap(const char *sub_id, json_t *msgs, bool close);
int msg_logs_publish_decode(json_t *j, struct msg_logs_publish *m, struct err *e);
void msg_logs_publish_release(struct msg_logs_publish *m);

#endif
