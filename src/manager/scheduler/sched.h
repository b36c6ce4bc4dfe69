/* sched.h — the scheduler: decides which node each pending task of a service runs on.
 *
 * Pure logic, Docker Swarm's rules: a node must pass every filter (ready and active;
 * resources left for the task's reservations; the service's constraints; its platforms;
 * its host-mode published ports free; fewer than MaxReplicas tasks of the service), then
 * tasks spread over the placement preferences' branches evenly, and within a branch go to
 * the node with the fewest tasks of the service, then the fewest tasks overall. When some
 * tasks cannot be placed the caller gets Docker's explanation ("no suitable node (...)").
 *
 * The scheduler keeps its own view: the nodes (sched_node_set/remove) and the tasks that
 * hold a node's resources (sched_task_add/remove, called for every task assigned to a node
 * and not yet terminal, including the ones sched_place just placed: sched_place accounts
 * for them itself). Nothing here does I/O or reads a clock; one thread.
 *
 * Cost: sched_place is O(nodes) to filter and group, then O(log nodes) per task placed. */
#ifndef SHOAL_SCHED_H
#define SHOAL_SCHED_H

#include "base/base.h"

enum sched_avail { SCHED_ACTIVE = 0, SCHED_PAUSE, SCHED_DRAIN };

struct sched_label {
    const char *key, *value;
};

/* What the scheduler needs of a node. Strings are copied by sched_node_set. */
struct sched_node_desc {
    const char *id, *hostname, *role; /* role: "manager" | "worker" */
    const char *os, *arch;            /* Description.Platform */
    const char *addr;                 /* Status.Addr, for node.ip constraints */
    bool ready;                       /* Status.State == ready */
    enum sched_avail avail;
    const struct sched_label *labels; /* Spec.Labels */
    size_t nlabels;
    const struct sched_label *engine_labels; /* Description.Engine.Labels */
    size_t nengine_labels;
    int64_t nano_cpus, memory_bytes; /* Description.Resources */
};

/* A host-mode published port a task holds on its node. */
struct sched_port {
    uint16_t port;
    uint8_t proto; /* SCHED_TCP, SCHED_UDP, SCHED_SCTP */
};
enum { SCHED_TCP = 0, SCHED_UDP, SCHED_SCTP };

/* One parsed placement constraint ("node.labels.zone==east"). */
struct sched_constraint {
    char *key;
    char *value;
    bool equal; /* == (true) or != */
};

/* Parses constraint expressions as Docker does (the first of "==", "!=" found splits
 * key and value, both trimmed; key `[A-Za-z_][A-Za-z0-9._-]+`; value of letters, digits,
 * spaces and `:-_.*()?+[]\^$|/`). On error: ERR_INVALID with Docker's words ("key 'x' is
 * invalid", "value 'y' is invalid", "constraint expected one operator from ==, !="),
 * nothing allocated. *out gets n entries (caller frees with sched_constraints_free). */
int sched_constraints_parse(const char *const *exprs, size_t n, struct sched_constraint **out,
                            struct err *e);
void sched_constraints_free(struct sched_constraint *c, size_t n);

struct sched_platform {
    const char *os, *arch; /* either may be "" (anything) */
};

/* What the filters look at: the parts of a task's spec that every task of one placement
 * call shares (the tasks of one service at one spec version). Borrowed for the call. */
struct sched_group {
    const char *service_id;
    int64_t nano_cpus, memory_bytes; /* Resources.Reservations; 0 = none */
    const struct sched_constraint *constraints;
    size_t nconstraints;
    const struct sched_platform *platforms;
    size_t nplatforms;
    const struct sched_port *host_ports; /* published with mode=host, PublishedPort != 0 */
    size_t nhost_ports;
    uint64_t max_replicas;           /* per node; 0 = no limit */
    const char *const *spread_prefs; /* "node.labels.zone", "engine.labels.x" */
    size_t nspread_prefs;
    /* Nodes where tasks of this service (at this spec version) failed SCHED_MAX_FAILURES
     * times within SCHED_FAILURE_WINDOW_NS, as the caller counted them: tried after every
     * other passing node (swarmkit's rule: a preference, not a filter). */
    const char *const *avoid_nodes;
    size_t navoid_nodes;
};
#define SCHED_MAX_FAILURES 5
#define SCHED_FAILURE_WINDOW_NS (300 * 1000000000LL)

struct sched;

struct sched *sched_new(void);
void sched_free(struct sched *s); /* NULL is a no-op */

/* Adds a node or replaces what is known of it (its tasks stay accounted). */
void sched_node_set(struct sched *s, const struct sched_node_desc *d);
/* Forgets a node and the tasks accounted on it. Unknown ids are ignored. */
void sched_node_remove(struct sched *s, const char *id);

/* A task that holds resources on node_id: counted for spread, reservations and ports.
 * Unknown nodes are ignored (their tasks are not placeable anyway). */
void sched_task_add(struct sched *s, const char *node_id, const struct sched_group *g);
/* The reverse of sched_task_add with the same group values. */
void sched_task_remove(struct sched *s, const char *node_id, const struct sched_group *g);

/* Places up to n tasks of group g. node_ids[i] gets the chosen node's ID (borrowed from the
 * scheduler until the node is removed or replaced) for the first `placed` entries, where
 * `placed` is the return value; the placed tasks are accounted (as sched_task_add). If
 * placed < n, explain (cap bytes) gets Docker's Status.Err for the rest: "no suitable node
 * (insufficient resources on 2 nodes; ...)", or "no suitable node" alone when there are
 * no nodes at all. */
size_t sched_place(struct sched *s, const struct sched_group *g, size_t n, const char **node_ids,
                   char *explain, size_t cap);

/* The filters that do not depend on what runs where: constraints and platforms (the global
 * orchestrator's eligibility). False for an unknown node. */
bool sched_node_matches(const struct sched *s, const char *node_id, const struct sched_group *g);
/* Whether a task of g pre-assigned to node_id (a global task) fits there now: every filter.
 * False with explain (cap bytes) set to Docker's words when not. Accounts it when it fits. */
bool sched_place_on(struct sched *s, const struct sched_group *g, const char *node_id,
                    char *explain, size_t cap);

/* Counts, for tests and the API: tasks accounted on a node (all / of one service). */
size_t sched_node_tasks(const struct sched *s, const char *node_id);
size_t sched_node_service_tasks(const struct sched *s, const char *node_id, const char *service_id);

#endif
