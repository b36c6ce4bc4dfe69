/* node_int.h — the node module's private structure and helpers; only src/node/ includes it. */
#ifndef SHOAL_NODE_INT_H
#define SHOAL_NODE_INT_H

#include "node.h"
#include "state/state.h"

#define NODE_ETCD_PREFIX "/shoal/"
#define NODE_PRIVATE_PREFIX "/shoal/private/"
#define NODE_DEFAULT_PORT 2377

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
    int64_t etcd_rev; /* etcd mod_revision per private record is not needed; objects carry theirs */

    /* private records loaded from etcd */
    char *root_cert, *root_key; /* PEM */
    char *unlock_key;           /* "" or SWMKEY-1-... */
    int64_t root_rev, unlock_rev;

    node_done_cb start_cb;
    void *start_data;
    void (*stop_cb)(void *data);
    void *stop_data;
};

/* node_core.c */
char *node_path(const struct node *n, const char *rel); /* <swarm_dir>/<rel>, heap */
int node_save_state(struct node *n, struct err *e);
void node_start_store(struct node *n, node_done_cb cb, void *data);
void node_stop_store(struct node *n, void (*cb)(void *data), void *data);
void node_forget(struct node *n); /* back to inactive in memory */
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

/* node_host.c */
/* Resolves an advertise address (IP, interface name, optional :port; "" → autodetect)
 * into ip and port (default_port when absent). Docker's messages on failure. */
int node_resolve_addr(const char *addr, int default_port, char *ip, size_t iplen, int *port,
                      struct err *e);

/* node_swarm.c */
json_t *node_default_spec(void);
/* Fills in defaults for zero/missing fields of a cluster spec (in place). */
void node_spec_defaults(json_t *spec);

#endif
