/* net_int.h — inside the networking module: the kernel-facing steps that net_core.c strings
 * together. Each acts on the calling thread's network namespace unless it says otherwise,
 * returns 0 or a negative ERR_* and fills e. */
#ifndef SHOAL_NET_INT_H
#define SHOAL_NET_INT_H

#include "net.h"

/* ---- rtnetlink through libmnl (net_link.c) ---- */
/* Creates the bridge if missing, gives it gw/prefix (kept if present) and sets it up. */
int netl_bridge_ensure(const char *name, uint32_t gw, int prefix, struct err *e);
/* Deletes a link by name; a missing link is fine. */
int netl_link_delete(const char *name, struct err *e);
/* IPv4 routes of the main table (default routes left out); *out is heap, caller frees. */
int netl_routes(struct net_route **out, size_t *n, struct err *e);
/* A new network namespace bind-mounted on path (a new file), the caller's left as it was. */
int netl_netns_create(const char *path, struct err *e);
/* Unmounts and removes a netns file; a missing one is fine. */
int netl_netns_remove(const char *path, struct err *e);
/* A veth pair: host end `host` on bridge `master`, up; the peer "eth0" inside the netns at
 * ns_path with address ip/prefix and MAC mac, lo and eth0 up, default route via gw. */
int netl_veth_plumb(const char *host, const char *master, const char *ns_path, const uint8_t mac[6],
                    uint32_t ip, int prefix, uint32_t gw, struct err *e);
/* 0 if no socket of the node is bound to port (TCP: listening; UDP: bound) on any
 * address, -ERR_CONFLICT if one is; found by trying to bind it, then closing at once. */
int netl_port_probe(enum net_proto proto, uint16_t port, struct err *e);
/* Writes a sysctl under /proc/sys (path relative to it, e.g. "net/ipv4/ip_forward"). */
int netl_sysctl(const char *path, const char *value, struct err *e);

/* ---- nftables (net_nft.c): libnftables, loaded with dlopen at the first call ---- */
/* Runs an nft script in one transaction. */
int netf_run(const char *script, struct err *e);

#endif
