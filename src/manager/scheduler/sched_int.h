/* sched_int.h — the scheduler's private parts: its copy of each node and the helpers the
 * scheduler's files share. Only src/manager/scheduler/ includes it. */
#ifndef SHOAL_SCHED_INT_H
#define SHOAL_SCHED_INT_H

#include "manager/scheduler/sched.h"

struct sched_kv {
    char *key, *value;
};

/* Tasks of one service accounted on a node. */
struct sched_svc {
    char *service_id;
    size_t count;
};

/* A host port in use on a node, with how many tasks hold it. */
struct sched_port_use {
    uint16_t port;
    uint8_t proto;
    uint32_t count;
};

struct snode {
    char *id, *hostname, *role, *os, *arch, *addr;
    bool ready;
    enum sched_avail avail;
    struct sched_kv *labels, *engine_labels;
    size_t nlabels, nengine_labels;
    int64_t nano_cpus, memory_bytes;           /* capacity */
    int64_t used_nano_cpus, used_memory_bytes; /* reserved by accounted tasks */
    size_t ntasks;
    struct sched_svc *svcs;
    size_t nsvcs;
    struct sched_port_use *ports;
    size_t nports;
    /* scratch of one sched_place call */
    size_t svc_count;   /* tasks of the group's service */
    bool avoid;         /* in the group's avoid_nodes */
    const char **prefs; /* the node's value for each spread preference */
};

/* Filters in Docker's order; the index is the explanation's. */
enum sched_filter {
    SCHED_F_READY = 0,
    SCHED_F_RESOURCES,
    SCHED_F_CONSTRAINTS,
    SCHED_F_PLATFORM,
    SCHED_F_HOST_PORT,
    SCHED_F_MAX_REPLICAS,
    SCHED_F_COUNT,
    SCHED_F_PASS = -1,
};

bool sched_constraint_matches(const struct sched_constraint *c, const struct snode *nd);
/* A node's value for a spread descriptor ("node.labels.zone"); "" if it has none. */
const char *sched_pref_value(const struct snode *nd, const char *descriptor);

#endif
