/* api.h — the Docker Engine API server: routing with /v1.NN prefixes, Docker's headers and
 * error shapes, and the handlers for system (_ping, version, info, events), swarm and nodes.
 * Endpoints that shoal knows but has not built yet answer 501; unknown ones 404.
 * Thread: the loop thread. */
#ifndef SHOAL_API_H
#define SHOAL_API_H

#include "agent/agent.h"
#include "exec/exec.h"
#include "http/http.h"
#include "image/image.h"
#include "net/net.h"
#include "node/node.h"

#define API_VERSION "1.41"
#define API_MIN_VERSION "1.24"

struct api_config {
    const char *data_root;
    const char *engine_version;
    const char *const *labels; /* --label values, NULL-terminated */
    bool debug;
    size_t max_conns; /* connection cap of each listener; 0: the http default */
    /* this node's engine (borrowed; each may be NULL: the endpoints then answer why) */
    struct exec *exec;
    struct image_store *images;
    struct volume_store *volumes;
    struct net *net; /* the node's networks (GET /networks, containers' /etc files) */
    struct agent_exec *agent_exec;
    /* the image helper's executable; NULL: /proc/self/exe (tests name the shoal binary) */
    const char *helper_exe;
};

struct api;

struct api *api_new(uv_loop_t *loop, struct node *node, const struct api_config *cfg);
/* Listens on a -H address (unix:///path or tcp://host:port, tls may be NULL). */
int api_listen(struct api *a, const char *addr, const struct http_tls_config *tls, struct err *e);
/* Closes listeners, connections and event streams, then frees a and calls cb. */
void api_close(struct api *a, void (*cb)(void *data), void *data);

#endif
