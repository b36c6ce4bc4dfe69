/* net.h — node-local container networking: one bridge for task containers (Docker's
 * docker_gwbridge role; ours is "shoal_gwbridge"), a network namespace, veth pair and IPv4
 * address per container, outbound NAT, and host-mode published ports.
 *
 * Kernel state is made in-process: rtnetlink through libmnl (bridge, veths, addresses,
 * routes), sysctls through /proc/sys, and ONE nftables table owned by shoal ("table ip
 * shoal") through libnftables, which is loaded with dlopen at the first use (net_nft.c).
 * Other tables are never touched. Every change to the table replaces it whole in one
 * nftables transaction generated from the attachments (net_ruleset_text), so the table is
 * always exactly what the attachments say.
 *
 * Invariants: an address is taken from the allocator at attach and given back only at detach
 * (or teardown); the gateway (.1), the subnet's own address and its broadcast are never
 * handed out; a (protocol, published port) pair belongs to at most one container. The
 * attachments are persisted in <root>/net.json after every change, so net_new after a daemon
 * restart re-learns the subnet, the addresses in use and the published ports; the networks'
 * IDs are in <root>/networks.json (written by net_new when new, and by a teardown).
 *
 * Everything acts on the network namespace of the calling thread (the daemon's; a test's own
 * unshared one). Threading: one thread (the loop's); each call is a handful of syscalls and
 * netlink round trips (about 1 ms), none blocks on the network. The pure parts (allocator,
 * MAC derivation, subnet choice, ruleset text) are exported for the unit tests. */
#ifndef SHOAL_NET_H
#define SHOAL_NET_H

#include "base/base.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_BRIDGE_DEFAULT "shoal_gwbridge"
#define NET_TABLE_DEFAULT "shoal"

struct net_config {
    const char *root;   /* state dir (created): <root>/net.json, <root>/networks.json,
                         * <root>/netns/<container id>, <root>/containers/<container id>/ */
    const char *bridge; /* NULL: NET_BRIDGE_DEFAULT */
    const char *table;  /* nftables table name in family ip; NULL: NET_TABLE_DEFAULT */
    const char *subnet; /* "a.b.c.d/n"; NULL: 172.18.0.0/16 unless a route overlaps it,
                         * then the next free pool as Docker picks (net_subnet_choose) */
};

enum net_proto { NET_TCP = 1, NET_UDP };

/* A host-mode published port: node port `published` → container port `target`. A published
 * port 0 asks net_attach to pick one from the node's ephemeral range. */
struct net_port {
    enum net_proto proto;
    uint16_t target;
    uint16_t published;
};

/* The node network's name in the API (GET /networks, a container's NetworkSettings.Networks):
 * the network task containers are on, whatever its bridge device is called. Docker's
 * docker_gwbridge plays the same part for swarm tasks; there is no Docker "bridge" network. */
#define NET_NETWORK_NAME "shoal_gwbridge"
/* Docker's fallback when the kernel's ephemeral range cannot be read. */
#define NET_PORT_RANGE_BEGIN 49153
#define NET_PORT_RANGE_END 65535

struct net_attachment {
    char netns_path[PATH_MAX]; /* give this to exec_spec.netns_path */
    char dir[PATH_MAX];        /* holds "hosts", "hostname" and "resolv.conf" for the
                                * container's /etc (bind-mount them, as Docker does) */
    char address[24];          /* "172.18.0.2/16" */
    char gateway[16];          /* "172.18.0.1" */
    char mac[18];              /* "02:42:ac:12:00:02" */
    char host_veth[16];        /* host end, on the bridge */
};

struct net;

/* Reads <root>/net.json if there is one (a restart: its subnet, addresses and ports are in
 * use again) and <root>/networks.json (written when an ID is new); touches no kernel state.
 * The bridge, sysctls and table are made (or checked and re-made) at the first net_attach.
 * Returns NULL and fills e on a bad config or an unreadable or unwritable state file. */
struct net *net_new(const struct net_config *cfg, struct err *e);
void net_free(struct net *n); /* forgets, removes nothing; NULL is a no-op */

/* Makes container_id's network: a new netns bind-mounted at <root>/netns/<id>, a veth pair
 * (host end on the bridge, up; the other end "eth0" inside, with the MAC derived from the
 * address), the next free address, lo up, a default route via the gateway, a DNAT rule per
 * port, and the container's hosts (its address under hostname), hostname and resolv.conf
 * (the node's, as net_resolv_text filters it) in out->dir. A port with published 0 gets one
 * from the ephemeral range as Docker's port allocator picks it (net_port_pick: the next free
 * one after the last picked for that protocol, skipping ports of other containers and ports
 * a process of the node is bound to); on success the picked ports are written into ports[].
 * Errors: -ERR_INVALID for a target port 0; -ERR_CONFLICT if the id is already attached;
 * -ERR_CONFLICT with Docker's words ("Bind for 0.0.0.0:8080 failed: port is already
 * allocated") if a port is published by another container or a process of the node listens
 * on it (nothing is created then); -ERR_UNAVAILABLE "all ports are allocated" when no port
 * of the range is free, or when the subnet is full; else -ERR_INTERNAL with the failing
 * step. On error nothing of the attachment is left and ports[] is as it was. */
int net_attach(struct net *n, const char *container_id, const char *hostname,
               struct net_port *ports, size_t nports, struct net_attachment *out, struct err *e);
/* The attachment of a container (attached now or before a restart): 0 or -ERR_NOT_FOUND. */
int net_lookup(struct net *n, const char *container_id, struct net_attachment *out);
/* The published ports of an attached container, picked ports as picked: 0 and a heap array
 * in *out (NULL when there are none; the caller frees it), or -ERR_NOT_FOUND. */
int net_ports(struct net *n, const char *container_id, struct net_port **out, size_t *nout);
/* The networks every node has, as GET /networks lists them: the node network (driver
 * "bridge") and Docker's predefined "host" and "none" (drivers "host" and "null"). */
enum net_kind { NET_KIND_BRIDGE, NET_KIND_HOST, NET_KIND_NONE, NET_KIND_COUNT };
/* A network's ID (64 hex, Docker's NetworkID) and creation time (ns since the epoch): made at
 * the first net_new on a data root and kept in <root>/networks.json, so they hold across
 * restarts; the node network's is new after a teardown (a new network, as after Docker's swarm
 * leave), host's and none's never change. */
const char *net_network_id(const struct net *n, enum net_kind k);
int64_t net_network_created(const struct net *n, enum net_kind k);
/* net_network_id(n, NET_KIND_BRIDGE). */
const char *net_id(const struct net *n);
/* The node network's bridge device (cfg->bridge or NET_BRIDGE_DEFAULT). */
const char *net_bridge_name(const struct net *n);
/* The node network's subnet ("172.18.0.0/16") and gateway ("172.18.0.1") once known (the
 * configured one, or the one chosen at the first attach and kept): true; false before. */
bool net_subnet(const struct net *n, char cidr[24], char gateway[16]);
/* The ephemeral range random published ports come from (read at net_new). */
void net_port_range(const struct net *n, uint16_t *begin, uint16_t *end);
/* Ids of the attached containers, for reconciling with the executor after a restart:
 * calls fn once per id (no changes to n meanwhile). */
void net_each(struct net *n, void (*fn)(void *arg, const char *container_id), void *arg);
/* Removes the veth, the netns file and the ports, and frees the address. A container that is
 * not attached is fine (0); kernel objects already gone are fine. */
int net_detach(struct net *n, const char *container_id, struct err *e);
/* Detaches every container (veths, netns files, /etc files), deletes the nftables table and
 * the bridge, removes net.json (swarm leave); the node network gets a new ID (kept in
 * networks.json). n stays usable: the next attach makes them again (a later swarm init). */
int net_teardown(struct net *n, struct err *e);

/* ---- pure parts (net_pure.c) ---- */

/* "a.b.c.d/n" (n 8..30) → network address (host byte order, host bits must be zero) and
 * prefix. 0 or -ERR_INVALID. */
int net_cidr_parse(const char *s, uint32_t *addr, int *prefix, struct err *e);
/* "a.b.c.d" of a host-order address into out. */
void net_ip_format(uint32_t ip, char out[16]);
bool net_cidr_overlap(uint32_t a, int pa, uint32_t b, int pb);

/* An IPv4 route of the host (destination and prefix length; default routes are ignored). */
struct net_route {
    uint32_t dst;
    int prefix;
};
/* Docker's local address pools in order, from 172.18.0.0/16 (172.17 is docker0's): the
 * /16s up to 172.31, then 192.168.0.0/16 cut in /20s. Picks the first that overlaps no
 * route. 0, or -ERR_UNAVAILABLE with Docker's words when every pool overlaps. */
int net_subnet_choose(const struct net_route *routes, size_t nroutes, uint32_t *subnet, int *prefix,
                      struct err *e);

/* The ephemeral port range from the text of /proc/sys/net/ipv4/ip_local_port_range
 * ("32768\t60999\n"; NULL: unreadable) as Docker's port allocator reads it: two numbers,
 * else Docker's fallback NET_PORT_RANGE_BEGIN..END. Returns false when it fell back. */
bool net_port_range_parse(const char *text, uint16_t *begin, uint16_t *end);
/* Docker's port allocator's choice in [begin, end]: the first port after *last, wrapping to
 * begin, for which taken(arg, port) is false; *last becomes it. A *last outside the range
 * starts at begin. 0 (and *last unchanged) when every port is taken. */
uint16_t net_port_pick(uint16_t begin, uint16_t end, uint16_t *last,
                       bool (*taken)(void *arg, uint16_t port), void *arg);

/* Docker's MAC for an address: 02:42 then the four address bytes. */
void net_mac_from_ip(uint32_t ip, uint8_t mac[6]);
void net_mac_format(const uint8_t mac[6], char out[18]);

/* The address allocator: a bitmap over the subnet. */
struct net_ipam {
    uint32_t subnet;
    int prefix;
    uint32_t size; /* addresses in the subnet */
    uint64_t *bits;
};
void net_ipam_init(struct net_ipam *a, uint32_t subnet, int prefix);
void net_ipam_release_all(struct net_ipam *a); /* frees the bitmap */
uint32_t net_ipam_gateway(const struct net_ipam *a);
/* Lowest free address above the gateway (Docker's non-serial choice); 0 when full. */
uint32_t net_ipam_alloc(struct net_ipam *a);
/* Marks ip used (a restart re-learning); false if outside the subnet, reserved or taken. */
bool net_ipam_take(struct net_ipam *a, uint32_t ip);
void net_ipam_free(struct net_ipam *a, uint32_t ip);
bool net_ipam_used(const struct net_ipam *a, uint32_t ip);

/* One published port's DNAT: node port → container address and port. */
struct net_dnat {
    enum net_proto proto;
    uint16_t published;
    uint32_t ip;
    uint16_t target;
};
/* The whole table as one nft script: created if missing, deleted, and declared anew, so one
 * nft_run_cmd_from_buffer replaces it atomically. Masquerade of the subnet leaving by other
 * interfaces, hairpin masquerade of DNATed traffic back onto the bridge, masquerade of 127/8
 * sources onto the bridge (localhost publishing, with route_localnet on the bridge), and per
 * port a DNAT in prerouting and output for destinations local to the node. Heap string. */
char *net_ruleset_text(const char *table, const char *bridge, uint32_t subnet, int prefix,
                       const struct net_dnat *dnats, size_t ndnats);
/* The script that deletes the table if it exists. Heap string. */
char *net_ruleset_delete_text(const char *table);
/* Host veth name for a container: "shv" + 12 hex digits of a hash of the id. */
void net_veth_name(const char *container_id, char out[16]);
/* The container's /etc/hosts as Docker writes it: localhost lines, then "<ip>\t<hostname>".
 * Heap string. */
char *net_hosts_text(uint32_t ip, const char *hostname);
/* The container's /etc/resolv.conf from the node's (NULL: none): as Docker, nameservers on
 * loopback (127/8, ::1) and IPv6 nameservers are dropped, and with none left Google's
 * 8.8.8.8 and 8.8.4.4 are used; search, options and other lines are kept. Heap string. */
char *net_resolv_text(const char *host_resolv);

#endif
