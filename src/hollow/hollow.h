/* hollow.h — hollow workers: many simulated swarm workers in one process, on one libuv loop,
 * that speak the real peer protocol over real mutual TLS 1.3 (Kubernetes' "hollow nodes"):
 * the root CA is fetched once and checked against the join token's digest once; then each
 * identity makes its own key and CSR, joins with its own description (hostname prefix +
 * index, fixed plausible resources), receives its own certificate and node ID, and
 * heartbeats the leader every HeartbeatPeriod with its own client certificate, following
 * the 503 {"Leader": addr} redirect as a real worker does. Beats are spread evenly over the
 * period (identity i beats at offset i/count of it), so a manager sees a steady rate, not
 * bursts.
 *
 * Each joined identity also runs the real agent session (src/agent/agent_session.c), as a
 * daemon's worker does: it long-polls the leader's dispatcher for its tasks
 * (/swarm-rpc/assignments) and reports every transition (/swarm-rpc/status) over the same
 * client and certificate, following the leader redirect as its heartbeats do (the identity
 * moves to the manager a 503 names). The session drives each task through Docker's states
 * with a fake executor (hollow_exec.c): prepare, start, stop and remove only change a map
 * entry and answer on the loop after a delay (start: task_start_ms; the others:
 * task_op_ms; 0 by default), a started task has a fake container (a random 64-hex ID, a
 * fake PID) that never exits by itself, and a restore finds nothing. So tasks the
 * scheduler places on hollow nodes go RUNNING on the leader as real ones do, and stop and
 * go away when scaled down, without any image or process.
 *
 * Memory: per identity a small struct, a libuv timer, one HTTP client (the client
 * certificate differs per identity) with its kept-alive TLS connections (two in steady
 * state: the parked assignments poll holds one, heartbeats and status reports share the
 * other), and an agent session (a few hundred bytes and two small timers, plus the task
 * object and ~100 bytes per task it holds; the executor's timers are shared by all
 * identities). Certificates and keys are written to a private temp dir (httpc takes files),
 * removed on stop.
 *
 * Stopping sends no leave: the manager marks the nodes down after three silent periods.
 * Thread: the loop thread only. */
#ifndef SHOAL_HOLLOW_H
#define SHOAL_HOLLOW_H

#include "base/base.h"

#include <uv.h>

/* What hollow nodes report as their engine version. */
#define HOLLOW_ENGINE_VERSION "0.1.0"

struct hollow;

/* Called once if the run cannot go on (CA does not match the token, the token is refused,
 * the manager wants something hollow workers cannot be); the caller should hollow_stop. */
typedef void (*hollow_fatal_cb)(void *data, const struct err *e);

struct hollow_opts {
    int count;                   /* identities, >= 1 */
    const char *join_token;      /* SWMTKN-1-...; a worker token */
    const char *manager;         /* "IP:PORT", "IP" (port 2377) or "[v6]:PORT" */
    const char *advertise_addr;  /* IP; NULL: the local address that routes to the manager */
    const char *hostname_prefix; /* NULL: "hollow-"; hostnames are prefix + index (0-based) */
    int join_parallel;           /* joins in flight at once; 0: 32 */
    const char *tmp_parent;      /* where the temp dir for certificates goes; NULL: /tmp */
    int64_t task_start_ms;       /* how long a fake container takes to start; 0: next turn */
    int64_t task_op_ms;          /* the same for prepare, stop and remove */
    hollow_fatal_cb fatal;       /* may be NULL */
    void *data;
};

struct hollow_stats {
    int count;
    int joined;            /* identities that hold a certificate and heartbeat */
    uint64_t join_errors;  /* failed join attempts (each is retried) */
    uint64_t hb_ok;        /* heartbeats answered 200 */
    uint64_t hb_errors;    /* heartbeats that failed (transport, non-200 other than redirect) */
    uint64_t redirects;    /* 503 answers that named the leader */
    int64_t period_ms;     /* the heartbeat period the managers last announced */
    int64_t all_joined_ms; /* from hollow_start until the last identity joined; 0 until then */
    size_t tasks;          /* tasks the identities' sessions hold */
    int running;           /* fake containers started and not stopped */
};

/* Checks the options (token format, manager address, count) and creates the run; nothing
 * happens on the network until hollow_start. Returns NULL and fills e when invalid. */
struct hollow *hollow_new(uv_loop_t *loop, const struct hollow_opts *o, struct err *e);
/* Fetches the CA, then joins every identity and starts its heartbeats and its session. */
void hollow_start(struct hollow *h);
void hollow_get_stats(const struct hollow *h, struct hollow_stats *out);
/* Node ID of identity i once it has joined, else NULL (borrowed). */
const char *hollow_node_id(const struct hollow *h, int i);
/* Drops every session (the fake containers go with them), cancels every call, closes every
 * handle, removes the temp dir, frees h, then runs cb (may be NULL) from the loop. No leave
 * is sent. */
void hollow_stop(struct hollow *h, void (*cb)(void *data), void *data);

/* `shoal hollow --count N --join-token TOKEN --manager IP:PORT [--advertise-addr IP]
 * [--hostname-prefix P] [--join-parallel K] [--task-start-ms N] [--task-op-ms N]
 * [--progress-every SECONDS] [--log-level L]`:
 * runs until SIGINT/SIGTERM, printing progress to stdout. Returns the process exit status
 * (0 after a signal, 1 after a fatal error, 2 for bad flags). */
int hollow_main(int argc, char **argv);

#endif
