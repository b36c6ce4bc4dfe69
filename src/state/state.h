/* state.h — the replicated store's backend: a supervised etcd child and an etcd v3 client.
 *
 * Each manager runs its own `etcd` (Debian etcd-server 3.4) as a child process that this
 * module starts, health-checks, restarts when it dies, and stops. The client speaks the
 * v3 JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch, ...) over HTTPS with libcurl's
 * multi interface driven by the libuv loop: no threads, no blocking calls. Client traffic
 * uses mutual TLS with the swarm CA's certificates and stays on 127.0.0.1; peer traffic
 * uses mutual TLS on the advertised address.
 *
 * Data flow: state_start() lists every key under the prefix (reported as PUT events in
 * revision order), calls ready, then watches from the next revision and reports every
 * change as it happens. After an etcd restart the watch resumes from the last revision
 * seen, so no change is missed or reported twice. Writes go through state_txn().
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
    const char *ca_file;   /* PEM swarm root CA; NULL → plain http (tests only) */
    const char *cert_file; /* PEM cert for both client and peer (SANs include IPs) */
    const char *key_file;
    const char *initial_cluster; /* NULL: a new one-member cluster; else etcd's
                                    --initial-cluster and --initial-cluster-state=existing */
    bool force_new_cluster;
    const char *log_file; /* etcd's stdout/stderr go here (NULL: /dev/null) */
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

enum state_op_type { STATE_OP_PUT = 1, STATE_OP_DELETE = 2 };
#define STATE_ANY_REVISION (-1) /* no compare */
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
 * returning. cb runs later on the loop (never inside this call). */
void state_txn(struct state *st, const struct state_op *ops, size_t nops, state_txn_cb cb,
               void *data);

/* Stops watching, cancels pending calls (their callbacks run with -ERR_UNAVAILABLE
 * "shutting down"), stops etcd (SIGTERM, then SIGKILL after 5 s) and frees st; cb runs
 * once everything is closed. */
void state_stop(struct state *st, void (*cb)(void *data), void *data);

/* PIDs for benchmarks and tests (0 if not running). */
int state_etcd_pid(const struct state *st);

#endif
