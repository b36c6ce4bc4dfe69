/* node_int.h — the node module's private structure and helpers; only src/node/ includes it. */
#ifndef SHOAL_NODE_INT_H
#define SHOAL_NODE_INT_H

#include "etcdtrust/etcdtrust.h"
#include "http/http.h"
#include "httpc/httpc.h"
#include "manager/rootca/rootca.h"
#include "msg/msg.h"
#include "node.h"
#include "repl/repl.h"
#include "state/state.h"

#define NODE_ETCD_PREFIX "/shoal/"
#define NODE_PRIVATE_PREFIX "/shoal/private/"
#define NODE_DEFAULT_PORT 2377
/* The election key: outside NODE_ETCD_PREFIX so the store feed never sees it. */
#define NODE_LEADER_KEY "/shoal-leader"

/* Failed joins (bad or rotated-away tokens) per remote IP: 10, then one per second; the
 * secret has ~129 bits, so this is defence in depth and a bound on log lines. */
#define NODE_JOIN_FAIL_SLOTS 1024
#define NODE_JOIN_FAIL_BURST 10
#define NODE_JOIN_FAIL_REFILL_NS 1000000000LL

/* A follower's view of the leader it probes (node_leader.c; pure, so tests drive it with a
 * fake clock). The leader is deposed (its lease revoked) only when it has been watched for a
 * whole window, measured from when this follower learned it leads or last heard from it,
 * without one answer, over at least NODE_SILENT_PROBES probes in a row. An answer that says
 * "alive, but my etcd has no leader" is not silence: etcd is electing, and the leader's lease
 * outlives that by design. */
#define NODE_SILENCE_WINDOW_MS 500
#define NODE_SILENT_PROBES 2
/* A follower whose etcd had no leader this long was cut off (an etcd election takes < 1 s):
 * what it saw meanwhile does not count once it is back; the window starts over then. */
#define NODE_ISOLATION_MS 1500
enum node_probe {
    NODE_PROBE_LEADS,    /* 200: it leads */
    NODE_PROBE_ELECTING, /* it answered, not leading now because its etcd has no leader */
    NODE_PROBE_SILENT,   /* no answer (refused, timed out), or alive but not leading */
};
struct node_silence {
    int64_t rev;                   /* the watched leader's election revision (0: none known) */
    uint64_t since;                /* ms: watched since, or heard from last (whichever is later) */
    int silent;                    /* probes in a row without an answer */
    uint64_t no_etcd_leader_since; /* ms: the local etcd has had no leader since (0: it has) */
};
/* Starts watching the leader elected at rev (0: none) at now. */
void node_silence_reset(struct node_silence *s, int64_t rev, uint64_t now);
/* Records one probe's outcome, answered at now; etcd_has_leader: the local etcd's view then. */
void node_silence_probe(struct node_silence *s, enum node_probe p, uint64_t now,
                        bool etcd_has_leader);
/* True if the watched leader's lease may be revoked now. etcd_has_leader: the local etcd is
 * with a majority (a minority never deposes anyone; its revoke would land after a heal). */
bool node_silence_may_revoke(const struct node_silence *s, uint64_t now, bool etcd_has_leader);

/* The leader's majority check (node_leader.c; pure, the time an argument, so tests drive it
 * with a fake clock). etcd keeps renewing leases at a Raft leader cut off from its peers until
 * it notices, while the majority may already have elected another leader: a leader that
 * reaches at most half of the managers stops acting as leader. It pings every other manager
 * each probe period; `reach` (a JSON object: manager ID → loop ms of its last answer) is what
 * it heard. A manager counts as reachable if it answered within NODE_REACH_WINDOW_MS, or was
 * first seen that recently (a window for a new leader or a new manager); the leader itself
 * always does. */
#define NODE_PROBE_MS 250
#define NODE_REACH_WINDOW_MS (3 * NODE_PROBE_MS)
/* Records an answer of manager id at now. */
void node_reach_heard(json_t *reach, const char *id, uint64_t now);
/* The check at now over the store's n managers (ids; self among them or not): first
 * sightings are recorded in reach; *reachable (if non-NULL) gets how many count as reachable.
 * True if this leader is isolated: more than one manager and at most half reachable. */
bool node_reach_isolated(json_t *reach, const char *self, const char *const *ids, size_t n,
                         uint64_t now, int *reachable);

struct node {
    uv_loop_t *loop;
    struct node_config cfg;
    char **labels; /* owned copy of cfg.labels */
    char *swarm_dir, *certs_dir, *keys_dir, *etcd_dir;

    enum node_state state;
    char error[ERR_MSG_MAX];

    /* identity (valid unless inactive) */
    char id[ID_LEN + 1];
    char cluster_id[ID_LEN + 1];
    char role[16];         /* "manager" | "worker" */
    char advertise_ip[64]; /* NodeAddr */
    int advertise_port;    /* 2377 by default */
    char listen_addr[96];
    char data_path_addr[64];

    uint8_t dek[32]; /* data key: seals every value in etcd */
    bool have_dek;

    struct store *store;
    struct state *st;
    struct repl *repl; /* commits and the etcd feed, while st runs */

    /* private records loaded from etcd */
    struct rootca_roots roots;        /* the swarm's roots ("rootca"; manager/rootca/rootca.h) */
    bool finishing_rotation;          /* leader: the end of a root rotation is being committed */
    json_t *manager_list;             /* cache of node_manager_list() ... */
    uint64_t manager_list_rev;        /* ... as of this store revision */
    struct rate_table *join_failures; /* per remote IP: joins refused for a bad token */
    char *unlock_key;                 /* "" or SWMKEY-1-... */

    /* etcd's own trust, managers only (etcdtrust/etcdtrust.h; wiring in node_etcd.c) */
    struct etcdtrust etcd;
    bool etcd_revoking;  /* leader: a revocation is in flight */
    bool etcd_recording; /* this manager's serial record is being written */

    /* manager side: the peer listener (mutual TLS) and the dispatcher's liveness table */
    struct http_server *peer_srv;
    struct disp_live *live; /* leader: who was heard from when (manager/dispatcher/disp.h) */
    json_t *marking;        /* node IDs with a status commit in flight */
    uv_timer_t *disp_timer;
    struct logbroker *logbroker;         /* leader: service and task logs (node_logs.c) */
    struct node_logs_stream *log_relays; /* other managers: log streams from the leader */
    struct mgr *mgr;                     /* leader: the reconciliation loop */
    struct disp_server *disp;            /* leader: assignments and status intake */
    /* every node: tasks and logs from the leader (node_session.c) */
    struct agent_session *session;
    struct agent_logs *logs;
    struct httpc *sess_client;
    struct sess_call *sess_calls;

    /* every node: the session with a manager */
    json_t *managers; /* array of "IP:port" to fail over between */
    struct httpc *agent_client;
    struct httpc_call *agent_call;
    uv_timer_t *agent_timer;
    size_t agent_idx;
    int64_t heartbeat_ms;

    /* leadership among managers (node_leader.c) */
    struct state_election *election;
    bool is_leader;
    int64_t leader_rev;
    char leader_id[ID_LEN + 1];
    struct httpc *peer_client; /* manager → manager calls */
    struct httpc_call *probe_call;
    uv_timer_t *probe_timer;
    struct node_silence silence; /* follower: what the probes found out about the leader */
    bool revoking;               /* a revoke of the silent leader's lease is in flight */
    bool leader_isolated;        /* leads in etcd but reaches no majority of managers */
    json_t *reach;               /* leader: manager ID → loop ms it last answered a ping */
    struct reach_call *reach_calls;
    bool promoting, demoting;
    struct store_watch *role_watch;
    bool force_new_cluster; /* set once: the next etcd start forces a one-member cluster */
    uv_timer_t *cert_timer; /* renewal checks (node_certs.c) */
    double renew_r;         /* where in [50%, 80%] of its life this certificate renews */
    bool renewing;
    char *initial_cluster; /* set once, for the first start of a joining manager's etcd */

    node_done_cb start_cb;
    void *start_data;
    void (*stop_cb)(void *data);
    void *stop_data;
};

/* node_core.c */
/* A client for calls to other nodes with this node's certificate (mutual TLS 1.3). */
struct httpc *node_peer_client(struct node *n);
char *node_path(const struct node *n, const char *rel); /* <swarm_dir>/<rel>, heap */
int node_save_state(struct node *n, struct err *e);
void node_start_store(struct node *n, node_done_cb cb, void *data);
void node_stop_store(struct node *n, void (*cb)(void *data), void *data);
void node_forget(struct node *n); /* back to inactive in memory */
/* True if a commit may be attempted now; else e says why (ERR_UNAVAILABLE). */
bool node_store_writable(struct node *n, struct err *e);
/* node_commit_batch: the leader's store_commit_fn (ctx: the node): one etcd transaction of
 * at most REPL_BATCH_MAX writes, fenced with the election key. */
void node_commit_batch(void *ctx, const struct store_write *w, size_t nw, store_commit_cb cb,
                       void *arg);
/* node_commit for leader-only writes: fenced with a compare on the election key. */
void node_commit_leader(struct node *n, enum store_kind k, json_t *obj, uint64_t expect_version,
                        node_done_cb cb, void *data);
/* Writes a private record (JSON) at /shoal/private/<name>. */
void node_commit_private(struct node *n, const char *name, json_t *rec, node_done_cb cb,
                         void *data);

/* node_keys.c: KEK/DEK handling in keys/ */
int node_keys_create(struct node *n, const char *unlock_key, struct err *e);
/* Loads the DEK; returns 1 if it is sealed by an unlock key (the node is locked), 0 if
 * loaded with the KEK, <0 on error. */
int node_keys_load(struct node *n, struct err *e);
int node_keys_unlock(struct node *n, const char *unlock_key, struct err *e);
/* Re-seals the DEK with the unlock key (autolock on) or a new KEK (unlock_key NULL). */
int node_keys_reseal(struct node *n, const char *unlock_key, struct err *e);

/* node_etcd.c: the records of etcd's trust (the files and decisions are etcdtrust's) */
/* Store up (and every certificate check): records this manager's etcd certificate serial if
 * the swarm's records lack it. */
void node_etcd_ready(struct node *n);
/* Leader, every dispatcher tick: creates the etcd CA record of an older swarm, and revokes
 * the etcd certificates of nodes that are neither managers nor etcd members any more. */
void node_etcd_tick(struct node *n);
/* Drops etcd's trust from memory (etcdtrust_forget; with remove_files its files too:
 * demotion) and any revocation this leader had in flight. */
void node_etcd_forget(struct node *n, bool remove_files);

/* node_rpc.c: the manager's peer listener (join, CA, heartbeats) */
int node_rpc_listen(struct node *n, struct err *e);
void node_rpc_close(struct node *n);
/* The peer listener takes this node's current certificate and trust bundle. */
int node_rpc_reload_tls(struct node *n, struct err *e);
/* Manager addresses ("IP:port") known from the store; new reference. */
json_t *node_manager_list(struct node *n);

/* node_dispatch.c: liveness of nodes from their heartbeats (on the leader; the decisions are
 * disp_live's) */
void node_dispatch_start(struct node *n);
void node_dispatch_stop(struct node *n);
/* Records a heartbeat (or a join); marks the node ready again if it was down. */
void node_dispatch_seen(struct node *n, const char *id);
/* Marks a node down at once (it left). */
void node_dispatch_mark(struct node *n, const char *id, const char *state, const char *msg);
int64_t node_heartbeat_period_ms(struct node *n);

/* node_session.c: the agent session and log publisher (every node), the dispatcher's server
 * and the reconciliation loop (the leader) */
void node_session_start(struct node *n);
void node_session_stop(struct node *n);
void node_session_reload_tls(struct node *n);
void node_tasks_lead(struct node *n);
void node_tasks_unlead(struct node *n);
void node_tasks_rpc(struct node *n, struct http_req *req, const char *peer, json_t *body);

/* node_logs.c: the log broker while this manager leads, and the peer calls to it */
void node_logs_start(struct node *n);
void node_logs_stop(struct node *n);
void node_logs_rpc(struct node *n, struct http_req *req, const char *peer, json_t *body);
/* The leader changed (or this manager stopped following one): relays from another leader
 * end with an error. */
void node_logs_leader_changed(struct node *n);

/* node_leader.c */
void node_leader_start(struct node *n);
void node_leader_stop(struct node *n);
bool node_is_leader(const struct node *n);
/* Reconnects manager-to-manager calls with this node's current certificate. */
void node_leader_reload_tls(struct node *n);
/* The answer to a manager's POST /swarm-rpc/ping: 200 {} if this manager leads; else 503
 * {"message", "EtcdHasLeader": whether the local etcd knows a Raft leader}. */
int node_leader_ping(struct node *n, json_t **reply);
/* "IP:port" of the current leader, or NULL. */
const char *node_leader_addr(struct node *n);

/* node_certs.c */
void node_certs_start(struct node *n);
void node_certs_stop(struct node *n);
void node_cert_renew(struct node *n);
/* Signs csr for node `id` with role `ou` ("swarm-worker" | "swarm-manager") and the IP in its
 * SANs: with the new root during a root rotation, the cluster's certificate expiry, and the
 * cross-signed root appended when there is one. *chain is the PEM to install. */
int node_issue(struct node *n, const char *csr, const char *id, const char *ou, const char *ip,
               char **chain, struct err *e);

/* node_rotate.c: root CA rotation's wiring (the decisions are manager/rootca's) */
/* In swarm update: starts a rotation if the spec asks for one (rootca_start_wanted): makes or
 * checks the new root, cross-signs it, fills *rootca with the private record to write and
 * updates obj's TLSInfo and RootRotationInProgress. Returns 1 if rotating, 0 if not, <0 on
 * error. */
int node_rotation_prepare(struct node *n, json_t *cur_cluster, json_t *obj, json_t **rootca,
                          struct err *e);
/* This node's TLSInfo as it reports it (trust bundle and certificate issuer); new or NULL. */
json_t *node_self_tls_info(struct node *n);
/* Trusts `bundle` (rewriting ca.crt and reloading TLS when it changed) and renews this node's
 * certificate if `signing_root` did not issue it. */
void node_trust_sync(struct node *n, const char *bundle, const char *signing_root);
/* Leader: records a node's reported TLSInfo in its object. */
void node_record_tls_info(struct node *n, const char *id, json_t *tls);
/* Leader, every dispatcher tick at now_ns (wall clock): its own TLSInfo, and the end of a
 * rotation once rootca_reconcile says every node is on the new root. */
void node_rotation_tick(struct node *n, int64_t now_ns);

/* node_role.c */
/* Asks `manager` (through client) for a manager identity and becomes a manager. */
void node_promote_self(struct node *n, struct httpc *client, const char *manager);
void node_demote_self(struct node *n);
void node_role_watch(void *data, enum store_kind k, enum store_action a, json_t *old, json_t *cur);

/* node_agent.c: this node's session with a manager (workers) */
void node_agent_start(struct node *n);
void node_agent_stop(struct node *n);
/* Reconnects the session with this node's current certificate and trust bundle. */
void node_agent_reload_tls(struct node *n);
/* Tells a manager this node leaves (best effort), then cb. */
void node_agent_leave(struct node *n, void (*cb)(void *data), void *data);

/* node_host.c */
/* Resolves an advertise address (IP, interface name, optional :port; "" → autodetect)
 * into ip and port (default_port when absent). Docker's messages on failure. */
int node_resolve_addr(const char *addr, int default_port, char *ip, size_t iplen, int *port,
                      struct err *e);

/* Normalises a listen address ("", IP, interface, each with an optional port) into
 * "host:port" (IP "0.0.0.0" kept; default port 2377). */
int node_listen_addr(const char *addr, char *out, size_t cap, struct err *e);

/* node_swarm.c */
/* `swarm init --force-new-cluster` on a manager: restart etcd as a one-member cluster from
 * this member's data (etcd's own --force-new-cluster), keeping every object. */
void node_force_new_cluster(struct node *n, node_done_cb cb, void *data);
json_t *node_default_spec(void);
/* Fills in defaults for zero/missing fields of a cluster spec (in place). */
void node_spec_defaults(json_t *spec);
/* The request decoders of swarm update (a swarm.Spec), swarm init (an InitRequest) and
 * node update (a swarm.NodeSpec) as pure checks: Go's decoder words on a wrong type, then
 * Docker's bounds; 0 or ERR_INVALID. The handlers run exactly these. */
int node_spec_check(json_t *spec, struct err *e);
int node_init_request_check(json_t *req, struct err *e);
/* A NodeSpec from an update body: decoded as dockerd decodes it (known fields only) and
 * checked; *out gets the spec to store (the caller owns it). */
int node_node_spec_check(json_t *spec, json_t **out, struct err *e);
/* The same for swarm join's JoinRequest (node_join.c): types, RemoteAddrs, token shape. */
int node_join_request_check(json_t *req, struct err *e);

#endif
