/* hollow.h — hollow workers: many simulated swarm workers in one process, on one libuv loop,
 * that speak the real peer protocol over real mutual TLS 1.3 (Kubernetes' "hollow nodes"):
 * the root CA is fetched once and checked against the join token's digest once; then each
 * identity makes its own key and CSR, joins with its own description (hostname prefix +
 * index, fixed plausible resources), receives its own certificate and node ID, and
 * heartbeats the leader every HeartbeatPeriod with its own client certificate, following
 * the 503 {"Leader": addr} redirect as a real worker does. Beats are spread evenly over the
 * period (identity i beats at offset i/count of it), so a manager sees a steady rate, not
 * bursts. Containers are not simulated: a hollow worker holds no tasks.
 *
 * Memory: per identity a small struct, a libuv timer and one HTTP client (the client
 * certificate differs per identity) with one kept-alive TLS connection; certificates and
 * keys are written to a private temp dir (httpc takes files), removed on stop.
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
};

/* Checks the options (token format, manager address, count) and creates the run; nothing
 * happens on the network until hollow_start. Returns NULL and fills e when invalid. */
struct hollow *hollow_new(uv_loop_t *loop, const struct hollow_opts *o, struct err *e);
/* Fetches the CA, then joins every identity and starts their heartbeats. */
void hollow_start(struct hollow *h);
void hollow_get_stats(const struct hollow *h, struct hollow_stats *out);
/* Node ID of identity i once it has joined, else NULL (borrowed). */
const char *hollow_node_id(const struct hollow *h, int i);
/* Cancels every call, closes every handle, removes the temp dir, frees h, then runs cb (may
 * be NULL) from the loop. No leave is sent. */
void hollow_stop(struct hollow *h, void (*cb)(void *data), void *data);

/* `shoal hollow --count N --join-token TOKEN --manager IP:PORT [--advertise-addr IP]
 * [--hostname-prefix P] [--join-parallel K] [--progress-every SECONDS] [--log-level L]`:
 * runs until SIGINT/SIGTERM, printing progress to stdout. Returns the process exit status
 * (0 after a signal, 1 after a fatal error, 2 for bad flags). */
int hollow_main(int argc, char **argv);

#endif
