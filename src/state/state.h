/* state.h — the replicated store's backend: a supervised etcd child and an etcd v3 client.
 *
 * Each manager runs its own `etcd` (Debian etcd-server 3.4) as a child process that this
 * module starts, health-checks, restarts when it dies, and stops. The client speaks the
 * v3 JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch, ...) over HTTPS with the httpc
 * module on the libuv loop: no threads, no blocking calls. Client traffic
 * uses mutual TLS and stays on 127.0.0.1; peer traffic uses mutual TLS on the advertised
 * address. Both trust cfg.ca_file alone (the node module passes its etcd CA, which only
 * managers hold, not the swarm root) and, with cfg.crl_file, refuse the certificates that
 * file revokes: etcd reads the CRL file again for every new connection, so rewriting it
 * (atomically) takes effect without a restart.
 *
 * Data flow: state_start() lists every key under the prefix (reported as PUT events in
 * revision order), calls ready, then watches from the next revision and reports every
 * change as it happens. After an etcd restart the watch resumes from the last revision
 * seen, so no change is missed or reported twice. Writes go through state_txn().
 *
 * Clusters: state_member_add/remove/list change and show etcd's membership; a new member
 * starts with cfg.initial_cluster set to the string state_member_add() returned.
 * Leadership: state_campaign() holds an etcd lease and a key bound to it; exactly one
 * campaigner holds the key at a time, and its writes carry a STATE_OP_CHECK on the key
 * so a deposed leader can never write (see "Fencing" below).
 *
 * etcd runs under `setpriv --pdeathsig KILL` when /usr/bin/setpriv exists, so it dies with
 * the process (strictly: the thread running the loop) that spawned it, even on SIGKILL.
 *
 * Encryption is not this module's business: values are opaque bytes.
 * Thread: the loop thread only. */
#ifndef SHOAL_STATE_H
#define SHOAL_STATE_H

#include "base/base.h"

#include <uv.h>

struct state;

struct state_config {
    const char *etcd_bin;  /* NULL: "/usr/bin/etcd" */
    const char *data_dir;  /* etcd's --data-dir (created if missing) */
    const char *name;      /* member name (the node ID) */
    const char *peer_host; /* advertised peer address, e.g. "10.0.0.2" or "127.0.0.1" */
    int peer_port;         /* e.g. 2380-ish; never Debian's 2379/2380 defaults */
    int client_port;       /* listens on 127.0.0.1:client_port only */
    const char *ca_file;   /* PEM CA that client and peer certificates must chain to (the etcd
                              CA); NULL → plain http (tests only) */
    const char *cert_file; /* PEM cert for both client and peer (SANs include IPs) */
    const char *key_file;
    /* PEM CRL (--client-crl-file and --peer-crl-file), or NULL for none. While set, the file
     * must always exist and parse: etcd refuses every connection otherwise. */
    const char *crl_file;
    const char *initial_cluster; /* NULL: a new one-member cluster; else etcd's
                                    --initial-cluster and --initial-cluster-state=existing */
    bool force_new_cluster;
    const char *log_file; /* etcd's stdout/stderr go here (NULL: /dev/null) */
    /* Raft timing (etcd --heartbeat-interval / --election-timeout), the same on every
     * member. 0: 50 / 500 ms, for a LAN: a dead etcd leader is replaced within 0.5-1 s, and
     * etcd's shortest lease TTL, ceil(1.5 x election) s, is 1 s. A spurious etcd election
     * (slow disk, CPU starvation) only stalls writes briefly: leases survive it. Use etcd's
     * own defaults 100 / 1000 (shortest TTL 2 s) for slow disks or a WAN. */
    int heartbeat_ms;
    int election_ms;
};

enum state_event_type { STATE_PUT = 1, STATE_DELETE = 2 };

struct state_event {
    enum state_event_type type;
    const char *key;   /* full key, including the prefix */
    const void *value; /* PUT only */
    size_t value_len;
    int64_t mod_revision;    /* revision of this change */
    int64_t create_revision; /* PUT only */
};

/* Called for every key at start (as PUTs) and then for every change, in revision order. */
typedef void (*state_event_cb)(void *data, const struct state_event *ev);
/* Called once when the initial listing is done (rc 0), or when etcd could not be started
 * or reached at all (rc < 0, e filled). */
typedef void (*state_ready_cb)(void *data, int rc, struct err *e);
/* Result of a transaction: rc 0 and the new revision, or rc < 0 and e:
 *   a failed compare → -ERR_INTERNAL "update out of sequence" (Docker's words);
 *   etcd unreachable/unhealthy → -ERR_UNAVAILABLE with the reason. */
typedef void (*state_txn_cb)(void *data, int rc, int64_t revision, struct err *e);

struct state *state_new(uv_loop_t *loop, const struct state_config *cfg);
/* Spawns etcd, waits until it answers, lists `prefix`, reports, then watches. */
void state_start(struct state *st, const char *prefix, state_ready_cb ready,
                 state_event_cb on_event, void *data);
/* True while etcd answers health checks (a txn would be attempted). */
bool state_available(const struct state *st);
/* Why it is unavailable (for 503 answers), or "" when available. */
const char *state_unavailable_reason(const struct state *st);

/* STATE_OP_CHECK writes nothing: it only adds its compare to the transaction (fencing). */
enum state_op_type { STATE_OP_PUT = 1, STATE_OP_DELETE = 2, STATE_OP_CHECK = 3 };
#define STATE_ANY_REVISION (-1) /* no compare (not allowed with STATE_OP_CHECK) */
struct state_op {
    enum state_op_type type;
    const char *key;
    const void *value; /* PUT */
    size_t value_len;
    /* Compare on this key before applying: STATE_ANY_REVISION (none), 0 (must not exist),
     * or >0 (its mod_revision must equal this). */
    int64_t expect_mod_revision;
};
/* Applies all ops atomically iff every compare holds. Keys and values are copied before
 * returning. cb runs later on the loop (never inside this call). An attempt stuck behind a
 * dead etcd leader is sent again once the local member reports a new one (3 attempts at
 * most, 1.5 s each); a resent transaction whose compare fails but whose every put is found
 * holding its value counts as applied (values are recognised by their bytes: write unique
 * ones, as sealed values are); one with a delete then fails with -ERR_UNAVAILABLE. */
void state_txn(struct state *st, const struct state_op *ops, size_t nops, state_txn_cb cb,
               void *data);

/* Stops watching, cancels pending calls (their callbacks run with -ERR_UNAVAILABLE
 * "shutting down"), resigns every election still campaigning (as state_resign(): their
 * pointers are invalid afterwards), stops etcd (SIGTERM, then SIGKILL after 5 s) and frees
 * st; cb runs once everything is closed. */
void state_stop(struct state *st, void (*cb)(void *data), void *data);

/* PIDs for benchmarks and tests (0 if not running). etcd's own PID, also when it runs under
 * setpriv (which execs it). */
int state_etcd_pid(const struct state *st);

/* ---- cluster membership ----
 * These calls work while etcd runs (state_start() done, state_stop() not called); each
 * callback runs exactly once, later on the loop (never inside the call), with
 * -ERR_UNAVAILABLE "shutting down" if state_stop() comes first. etcd refuses a change that
 * would risk quorum ("unhealthy cluster": a member joined less than 5 s ago); those are
 * retried for up to 15 s before failing with -ERR_UNAVAILABLE. */

/* rc 0, or rc < 0 and e. */
typedef void (*state_done_cb)(void *data, int rc, struct err *e);

/* The peer URL a member with this config advertises ("https://10.0.0.2:4380"). Caller frees. */
char *state_peer_url(const struct state_config *cfg);

/* rc 0: initial_cluster is what the new member must start with as cfg.initial_cluster
 * ("n1=https://a:p,n2=https://b:p", every member, the new one under the name given to
 * state_member_add; members added but never started appear as "m<hex id>"). NULL for
 * state_member_remove. Borrowed for the duration of the call. */
typedef void (*state_member_cb)(void *data, int rc, const char *initial_cluster, struct err *e);

/* Adds a member (etcd member add) that will start as `name` on peer_url. Idempotent: if a
 * member with that peer URL was added and never started, it succeeds again with the
 * current initial cluster; if it has started, it fails with -ERR_CONFLICT. */
void state_member_add(struct state *st, const char *name, const char *peer_url, state_member_cb cb,
                      void *data);
/* Removes the member whose name or one of whose peer URLs is name_or_peer_url
 * (-ERR_NOT_FOUND if none). The removed member's etcd exits; its state does not restart it
 * and stays unavailable ("this member was removed from the etcd cluster") until its owner
 * state_stop()s it (and wipes its data dir before it may join again). */
void state_member_remove(struct state *st, const char *name_or_peer_url, state_member_cb cb,
                         void *data);

struct state_member {
    const char *name; /* "" for a member added but not started yet */
    uint64_t id;      /* etcd's member ID */
    const char *peer_url;
    const char *client_url; /* "" until started */
    bool is_leader;         /* etcd's Raft leader, as the local member sees it */
};
/* rc 0: n members (borrowed for the duration of the call), in etcd's order. */
typedef void (*state_members_cb)(void *data, int rc, const struct state_member *members, size_t n,
                                 struct err *e);
void state_member_list(struct state *st, state_members_cb cb, void *data);

/* If the local etcd member is the Raft leader, hands the leadership to another started
 * member (to_name, or NULL: any); rc 0 also when the local member is not the leader
 * (nothing to do), -ERR_NOT_FOUND when there is no other started member. Why: a new etcd
 * leader restarts every lease (expiry = now + TTL + election timeout, etcd's Promote), so
 * when the election holder's host also runs the etcd leader, its crash costs an etcd
 * election + TTL + election timeout before another campaigner can take over; with the two
 * on different hosts it costs the TTL alone. A leader may call this once after winning
 * (see the failover test for the numbers). */
void state_move_etcd_leader(struct state *st, const char *to_name, state_done_cb cb, void *data);

/* The local etcd member knew a Raft leader at its last health check (once a second);
 * false while etcd is down, starting, or in a minority. */
bool state_has_leader(const struct state *st);

/* Checks the local etcd's status every 50 ms (instead of once a second) for the next for_ms,
 * so that state_has_leader() follows an etcd election closely: for a caller that suspects
 * one (a silent leader). Transactions stuck behind a dead etcd leader do this by themselves. */
void state_watch_leader(struct state *st, uint64_t for_ms);

/* ---- leader election ----
 * state_campaign() grants a lease of ttl_s seconds (etcd raises it to its minimum, see
 * state_config; TTL 1 fails over fastest, TTL N tolerates an N/2 s stall of etcd or of
 * this loop without a step-down), keeps it alive every TTL/8, and creates `key` = value bound
 * to the lease iff the key does not exist. Whoever created it leads until its lease ends (revoke,
 * expiry) and etcd deletes the key; every other campaigner watches the key and tries again
 * when it goes.
 *
 * A leader steps down by itself (on_change(false)) as soon as no keepalive has succeeded
 * for TTL/2 (measured from when the last successful one was sent, so well before the
 * server could expire the lease), when its local etcd dies, or when the key is deleted.
 * It keeps its lease and campaigns again once a keepalive succeeds; if the key is still
 * its own it leads again with the same leader_rev.
 *
 * on_change(data, leader, leader_rev, leader_value) runs, on the loop and never inside a
 * state_* call, whenever what this campaigner knows changes:
 *   leader true:  this campaigner leads; leader_rev is the key's create revision;
 *   leader false: someone else leads (leader_rev, leader_value: the holder's key), or
 *                 nobody (0, "") or unknown after a step-down (0, "").
 *
 * Fencing: every write a leader makes must include
 *   {STATE_OP_CHECK, key, NULL, 0, leader_rev}
 * The key's mod_revision equals its create revision as long as nobody rewrites the key,
 * and nobody does (only the holder could, and this module never does), so the compare
 * fails with "update out of sequence" once the leader's key is gone, whatever the deposed
 * leader believes. Never put the election key yourself. */
struct state_election;
typedef void (*state_elected_cb)(void *data, bool leader, int64_t leader_rev,
                                 const char *leader_value);
/* Starts campaigning (also before state_start(): it begins once etcd answers). */
struct state_election *state_campaign(struct state *st, const char *key, const char *value,
                                      int ttl_s, state_elected_cb on_change, void *data);
/* True if el leads now, checked against the clock (the lease was renewed less than TTL/2
 * ago), not just the last on_change. Use it right before leader-only work. */
bool state_election_is_leader(const struct state_election *el);
/* True while a lease keepalive is on its way to etcd (for tests that time a stall). */
bool state_election_keepalive_pending(const struct state_election *el);
/* Stops campaigning: revokes the lease (which deletes the key if held, so another
 * campaigner takes over at once) and frees el. on_change does not run afterwards. A
 * state_stop() right after waits (up to 2 s) for the revoke to reach etcd. NULL: no-op. */
void state_resign(struct state_election *el);

/* Revokes the lease of whoever holds `key` now, deleting the key, so another campaigner can
 * take over without waiting for the TTL (a follower that knows the leader is dead).
 * holder_rev > 0: only if the key's create revision is still holder_rev (the leader that
 * was found dead), so a newer leader is never deposed by a late call; 0: whoever holds it.
 * Runs on the election's own connections; a call stuck behind a dead etcd leader is sent
 * again as soon as the local member reports a new one.
 * rc 0 also when nobody (or another holder) has the key by then. Retries only briefly
 * (0.6 s): a caller that still finds the holder dead asks again, so a revoke decided during a
 * partition cannot land long after it healed. */
void state_lease_revoke_holder(struct state *st, const char *key, int64_t holder_rev,
                               state_done_cb cb, void *data);

#endif
