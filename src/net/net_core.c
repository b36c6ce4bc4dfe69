/* net_core.c — the networking module's object: the attachments (container → address, veth,
 * ports), their state file, the node's networks' identities (networks.json: ID and creation
 * time of the node network, host and none), and the order of kernel steps for attach, detach
 * and teardown.
 *
 * Invariants: every attachment in memory is in net.json once a call returns 0 (written
 * after each change, atomically by rename; not fsynced, as exec's files are not: it describes
 * namespaces and veths that a host crash takes away too, and four fsyncs per container were
 * 16% of the daemon's CPU when starting 100 tasks); the nftables table is rewritten whole from the
 * attachments after every change of ports, so it never holds a rule for a container that is gone;
 * an attach that fails undoes its own steps in reverse, so it leaves nothing. The bridge, sysctls
 * and table are made once per process, lazily (n->ready), so a node that never runs a task touches
 * nothing. Thread: the caller's (the loop's). */
#include "net_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct net_att {
    char *id;
    uint32_t ip;
    struct net_port *ports;
    size_t nports;
};

struct net {
    char *root, *bridge, *table, *state_path;
    bool have_subnet;
    uint32_t subnet;
    int prefix;
    bool cfg_subnet;   /* the subnet came from the config (not chosen against the routes) */
    bool stale_bridge; /* net.json named another subnet: the bridge is remade at ensure */
    bool ready;        /* bridge, sysctls and table made by this process */
    bool touched;      /* kernel state may exist: net.json was there, or ensure ran */
    struct net_ipam ipam;
    struct strmap *atts; /* container id → struct net_att */
    /* the node's networks' IDs and creation times (NET_KIND_*), kept in networks.json; the
     * bridge's is in net.json too (older data roots have it only there) */
    char ids[NET_KIND_COUNT][65];
    int64_t created_ns[NET_KIND_COUNT];
    char *ids_path;
    uint16_t port_begin, port_end; /* the ephemeral range random published ports come from */
    uint16_t last_tcp, last_udp;   /* the allocator's last pick per protocol (not kept) */
};

static const char *proto_word(enum net_proto p)
{
    return p == NET_UDP ? "udp" : "tcp";
}

static bool id_is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void att_free(struct net_att *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->ports);
    free(a);
}

static char *netns_path(const struct net *n, const char *id)
{
    return xasprintf("%s/netns/%s", n->root, id);
}

static char *files_dir(const struct net *n, const char *id)
{
    return xasprintf("%s/containers/%s", n->root, id);
}

/* ---- the state file ---- */

static int state_save(struct net *n, struct err *e)
{
    json_t *atts = json_array();
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(n->atts, &it, &k, &v)) {
        struct net_att *a = v;
        char ip[16];
        net_ip_format(a->ip, ip);
        json_t *ports = json_array();
        for (size_t i = 0; i < a->nports; i++)
            json_array_append_new(
                ports, json_pack("{s:s, s:i, s:i}", "proto", proto_word(a->ports[i].proto),
                                 "target", a->ports[i].target, "published", a->ports[i].published));
        json_array_append_new(atts,
                              json_pack("{s:s, s:s, s:o}", "id", a->id, "ip", ip, "ports", ports));
    }
    json_t *root = json_pack("{s:o, s:s}", "attachments", atts, "id", n->ids[NET_KIND_BRIDGE]);
    if (n->have_subnet) {
        char net[16];
        net_ip_format(n->subnet, net);
        char *cidr = xasprintf("%s/%d", net, n->prefix);
        json_object_set_new(root, "subnet", json_string(cidr));
        free(cidr);
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    int rc = file_write_replace(n->state_path, text, strlen(text), 0600, e);
    free(text);
    return rc < 0 ? err_wrap(e, "save network state") : 0;
}

static int ip_parse(const char *s, uint32_t *ip)
{
    unsigned b[4];
    char tail;
    if (!s || sscanf(s, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 || b[0] > 255 ||
        b[1] > 255 || b[2] > 255 || b[3] > 255)
        return -1;
    *ip = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    return 0;
}

static int state_load(struct net *n, uint32_t *subnet, int *prefix, bool *have, struct err *e)
{
    char *d = NULL;
    size_t len;
    int rc = file_read(n->state_path, &d, &len, e);
    if (rc == -ERR_NOT_FOUND) {
        err_clear(e);
        return 0;
    }
    if (rc < 0)
        return err_wrap(e, "read %s", n->state_path);
    json_error_t je;
    json_t *root = json_loadb(d, len, 0, &je);
    free(d);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(e, ERR_INTERNAL, "%s: not a network state file: %s", n->state_path, je.text);
    }
    rc = 0;
    const char *nid = json_string_value(json_object_get(root, "id"));
    if (id_is_hex64(nid) && strcmp(nid, n->ids[NET_KIND_BRIDGE])) {
        /* the network its containers are on; networks.json is rewritten to match */
        snprintf(n->ids[NET_KIND_BRIDGE], sizeof(n->ids[0]), "%s", nid);
        n->created_ns[NET_KIND_BRIDGE] = 0;
    }
    const char *s = json_string_value(json_object_get(root, "subnet"));
    if (s) {
        rc = net_cidr_parse(s, subnet, prefix, e);
        *have = rc == 0;
    }
    size_t i;
    json_t *ja;
    json_array_foreach(json_object_get(root, "attachments"), i, ja)
    {
        const char *id = json_string_value(json_object_get(ja, "id"));
        struct net_att *a = xcalloc(1, sizeof(*a));
        if (rc < 0 || !id || ip_parse(json_string_value(json_object_get(ja, "ip")), &a->ip) < 0) {
            att_free(a);
            if (rc == 0)
                rc = err_set(e, ERR_INTERNAL, "%s: a bad attachment", n->state_path);
            break;
        }
        a->id = xstrdup(id);
        size_t k;
        json_t *jp;
        json_t *ports = json_object_get(ja, "ports");
        a->ports = xcalloc(json_array_size(ports) + 1, sizeof(*a->ports));
        json_array_foreach(ports, k, jp)
        {
            const char *pr = json_string_value(json_object_get(jp, "proto"));
            a->ports[a->nports++] = (struct net_port){
                .proto = pr && !strcmp(pr, "udp") ? NET_UDP : NET_TCP,
                .target = (uint16_t)json_integer_value(json_object_get(jp, "target")),
                .published = (uint16_t)json_integer_value(json_object_get(jp, "published")),
            };
        }
        att_free(strmap_put(n->atts, a->id, a));
    }
    json_decref(root);
    return rc;
}

/* ---- the networks' identities (networks.json) ---- */

static const char *const kind_key[NET_KIND_COUNT] = {"bridge", "host", "none"};

static int ids_save(struct net *n, struct err *e)
{
    json_t *root = json_object();
    for (int k = 0; k < NET_KIND_COUNT; k++)
        json_object_set_new(
            root, kind_key[k],
            json_pack("{s:s, s:I}", "id", n->ids[k], "created", (json_int_t)n->created_ns[k]));
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    int rc = file_write_replace(n->ids_path, text, strlen(text), 0600, e);
    free(text);
    return rc < 0 ? err_wrap(e, "save network IDs") : 0;
}

/* Reads networks.json; a network missing from it (or no file: a new data root) keeps the ID
 * net_new made and gets created 0, so that the caller saves. */
static int ids_load(struct net *n, struct err *e)
{
    char *d = NULL;
    size_t len;
    int rc = file_read(n->ids_path, &d, &len, e);
    if (rc == -ERR_NOT_FOUND) {
        err_clear(e);
        return 0;
    }
    if (rc < 0)
        return err_wrap(e, "read %s", n->ids_path);
    json_t *root = json_loadb(d, len, 0, NULL);
    free(d);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(e, ERR_INTERNAL, "%s: not a network IDs file", n->ids_path);
    }
    for (int k = 0; k < NET_KIND_COUNT; k++) {
        json_t *o = json_object_get(root, kind_key[k]);
        const char *id = json_string_value(json_object_get(o, "id"));
        json_int_t created = json_integer_value(json_object_get(o, "created"));
        if (id_is_hex64(id) && created > 0) {
            snprintf(n->ids[k], sizeof(n->ids[k]), "%s", id);
            n->created_ns[k] = created;
        }
    }
    json_decref(root);
    return 0;
}

/* ---- the object ---- */

struct net *net_new(const struct net_config *cfg, struct err *e)
{
    uint32_t cfg_net = 0;
    int cfg_prefix = 0;
    if (!cfg->root || !cfg->root[0]) {
        err_set(e, ERR_INVALID, "network state dir not set");
        return NULL;
    }
    if (cfg->subnet && net_cidr_parse(cfg->subnet, &cfg_net, &cfg_prefix, e) < 0)
        return NULL;
    struct net *n = xcalloc(1, sizeof(*n));
    n->root = xstrdup(cfg->root);
    n->bridge = xstrdup(cfg->bridge ? cfg->bridge : NET_BRIDGE_DEFAULT);
    n->table = xstrdup(cfg->table ? cfg->table : NET_TABLE_DEFAULT);
    n->state_path = xasprintf("%s/net.json", n->root);
    n->ids_path = xasprintf("%s/networks.json", n->root);
    n->atts = strmap_new();
    for (int k = 0; k < NET_KIND_COUNT; k++)
        hex_id_new(n->ids[k]);
    char *range = NULL;
    size_t rlen;
    if (file_read("/proc/sys/net/ipv4/ip_local_port_range", &range, &rlen, NULL) < 0)
        range = NULL;
    if (!net_port_range_parse(range, &n->port_begin, &n->port_end))
        log_warn("network: cannot read the ephemeral port range, using %u-%u", n->port_begin,
                 n->port_end);
    free(range);
    n->last_tcp = n->last_udp = n->port_end; /* the first pick is the range's first port */
    if (strlen(n->bridge) >= 16) {
        err_set(e, ERR_INVALID, "bridge name %s is longer than 15 characters", n->bridge);
        goto fail;
    }
    if (dir_make(n->root, 0700, e) < 0)
        goto fail;
    uint32_t old_net = 0;
    int old_prefix = 0;
    bool have_old = false;
    if (ids_load(n, e) < 0 || state_load(n, &old_net, &old_prefix, &have_old, e) < 0)
        goto fail;
    /* new identities (a new data root, or one from before networks.json) are kept at once, so
     * that the API shows the same IDs across restarts even before the first attach */
    bool ids_new = false;
    for (int k = 0; k < NET_KIND_COUNT; k++)
        if (!n->created_ns[k]) {
            n->created_ns[k] = time_now_ns();
            ids_new = true;
        }
    if (ids_new && ids_save(n, e) < 0)
        goto fail;
    struct stat st;
    n->touched = stat(n->state_path, &st) == 0;
    if (have_old && (strmap_len(n->atts) || !cfg->subnet)) {
        /* containers hold addresses of the subnet they were given: it stays until they go */
        if (cfg->subnet && (old_net != cfg_net || old_prefix != cfg_prefix))
            log_warn("network: keeping subnet of %s while containers use it (asked for %s)",
                     n->state_path, cfg->subnet);
        n->subnet = old_net;
        n->prefix = old_prefix;
        n->have_subnet = true;
    } else if (cfg->subnet) {
        n->subnet = cfg_net;
        n->prefix = cfg_prefix;
        n->have_subnet = true;
        n->cfg_subnet = true;
        n->stale_bridge = have_old;
    } else if (strmap_len(n->atts)) {
        err_set(e, ERR_INTERNAL, "%s: attachments without a subnet", n->state_path);
        goto fail;
    }
    if (n->have_subnet) {
        net_ipam_init(&n->ipam, n->subnet, n->prefix);
        const char *k;
        void *v;
        size_t it = 0;
        while (strmap_next(n->atts, &it, &k, &v)) {
            struct net_att *a = v;
            if (!net_ipam_take(&n->ipam, a->ip)) {
                char ip[16];
                net_ip_format(a->ip, ip);
                err_set(e, ERR_INTERNAL, "%s: address %s of %s is outside the subnet or taken",
                        n->state_path, ip, a->id);
                goto fail;
            }
        }
    }
    return n;
fail:
    net_free(n);
    return NULL;
}

void net_free(struct net *n)
{
    if (!n)
        return;
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(n->atts, &it, &k, &v))
        att_free(v);
    strmap_free(n->atts);
    net_ipam_release_all(&n->ipam);
    free(n->root);
    free(n->bridge);
    free(n->table);
    free(n->state_path);
    free(n->ids_path);
    free(n);
}

/* The table from the attachments, applied in one transaction. */
static int table_apply(struct net *n, struct err *e)
{
    struct net_dnat *d = NULL;
    size_t nd = 0;
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(n->atts, &it, &k, &v)) {
        struct net_att *a = v;
        d = xrealloc(d, (nd + a->nports + 1) * sizeof(*d));
        for (size_t i = 0; i < a->nports; i++)
            d[nd++] = (struct net_dnat){a->ports[i].proto, a->ports[i].published, a->ip,
                                        a->ports[i].target};
    }
    char *script = net_ruleset_text(n->table, n->bridge, n->subnet, n->prefix, d, nd);
    int rc = netf_run(script, e);
    free(script);
    free(d);
    return rc < 0 ? err_wrap(e, "table ip %s", n->table) : 0;
}

/* Bridge, sysctls and table, once per process (and again after a teardown). */
static int ensure(struct net *n, struct err *e)
{
    if (n->ready)
        return 0;
    n->touched = true;
    int rc;
    if (!n->have_subnet) {
        struct net_route *routes = NULL;
        size_t nr = 0;
        if ((rc = netl_routes(&routes, &nr, e)) < 0)
            return rc;
        rc = net_subnet_choose(routes, nr, &n->subnet, &n->prefix, e);
        free(routes);
        if (rc < 0)
            return rc;
        n->have_subnet = true;
        net_ipam_init(&n->ipam, n->subnet, n->prefix);
        if ((rc = state_save(n, e)) < 0)
            return rc;
    }
    if (n->stale_bridge) {
        if ((rc = netl_link_delete(n->bridge, e)) < 0)
            return rc;
        n->stale_bridge = false;
    }
    if ((rc = netl_bridge_ensure(n->bridge, net_ipam_gateway(&n->ipam), n->prefix, e)) < 0)
        return rc;
    char *rl = xasprintf("net/ipv4/conf/%s/route_localnet", n->bridge);
    rc = netl_sysctl("net/ipv4/ip_forward", "1", e);
    if (rc == 0)
        rc = netl_sysctl(rl, "1", e);
    free(rl);
    if (rc == 0)
        rc = table_apply(n, e);
    if (rc == 0)
        n->ready = true;
    return rc;
}

/* A (protocol, published port) is held by an attachment, or by another entry of ports[]. */
static bool port_held(struct net *n, const struct net_port *ports, size_t nports, size_t self,
                      enum net_proto proto, uint16_t published)
{
    for (size_t j = 0; j < nports; j++)
        if (j != self && ports[j].proto == proto && ports[j].published == published)
            return true;
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(n->atts, &it, &k, &v)) {
        struct net_att *a = v;
        for (size_t j = 0; j < a->nports; j++)
            if (a->ports[j].proto == proto && a->ports[j].published == published)
                return true;
    }
    return false;
}

struct pick_ctx {
    struct net *n;
    const struct net_port *ports;
    size_t nports, self;
    enum net_proto proto;
};

/* net_port_pick's taken(): held here, or bound by a process of the node. */
static bool pick_taken(void *arg, uint16_t port)
{
    struct pick_ctx *c = arg;
    return port_held(c->n, c->ports, c->nports, c->self, c->proto, port) ||
           netl_port_probe(c->proto, port, NULL) < 0;
}

/* Checks the fixed published ports, then picks one for each port 0 (in ports[], the
 * caller's copy). */
static int ports_resolve(struct net *n, struct net_port *ports, size_t nports, struct err *e)
{
    for (size_t i = 0; i < nports; i++) {
        const struct net_port *p = &ports[i];
        if (!p->target)
            return err_set(e, ERR_INVALID, "host-mode port %u:%u/%s: the target port must be set",
                           p->published, p->target, proto_word(p->proto));
        if (!p->published)
            continue;
        /* held by another container, or by an earlier entry (a duplicate) */
        bool taken = port_held(n, ports, i, i, p->proto, p->published);
        int rc = taken ? -ERR_CONFLICT : netl_port_probe(p->proto, p->published, e);
        if (rc == -ERR_CONFLICT)
            return err_set(e, ERR_CONFLICT, "Bind for 0.0.0.0:%u failed: port is already allocated",
                           p->published);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < nports; i++) {
        struct net_port *p = &ports[i];
        if (p->published)
            continue;
        struct pick_ctx c = {n, ports, nports, i, p->proto};
        uint16_t *last = p->proto == NET_UDP ? &n->last_udp : &n->last_tcp;
        p->published = net_port_pick(n->port_begin, n->port_end, last, pick_taken, &c);
        if (!p->published)
            return err_set(e, ERR_UNAVAILABLE, "all ports are allocated");
    }
    return 0;
}

static int files_write(const char *dir, uint32_t ip, const char *hostname, struct err *e)
{
    char *host_resolv = NULL;
    size_t len;
    if (file_read("/etc/resolv.conf", &host_resolv, &len, NULL) < 0)
        host_resolv = NULL;
    char *resolv = net_resolv_text(host_resolv);
    char *hosts = net_hosts_text(ip, hostname);
    char *hn = xasprintf("%s\n", hostname);
    char *p1 = xasprintf("%s/hosts", dir), *p2 = xasprintf("%s/hostname", dir),
         *p3 = xasprintf("%s/resolv.conf", dir);
    int rc = dir_make(dir, 0700, e);
    if (rc == 0)
        rc = file_write_replace(p1, hosts, strlen(hosts), 0644, e);
    if (rc == 0)
        rc = file_write_replace(p2, hn, strlen(hn), 0644, e);
    if (rc == 0)
        rc = file_write_replace(p3, resolv, strlen(resolv), 0644, e);
    free(p1);
    free(p2);
    free(p3);
    free(hn);
    free(hosts);
    free(resolv);
    free(host_resolv);
    return rc;
}

static void fill_out(const struct net *n, const struct net_att *a, struct net_attachment *out)
{
    memset(out, 0, sizeof(*out));
    char ip[16], gw[16];
    uint8_t mac[6];
    net_ip_format(a->ip, ip);
    net_ip_format(n->subnet + 1, gw);
    net_mac_from_ip(a->ip, mac);
    char *ns = netns_path(n, a->id), *dir = files_dir(n, a->id);
    snprintf(out->netns_path, sizeof(out->netns_path), "%s", ns);
    snprintf(out->dir, sizeof(out->dir), "%s", dir);
    snprintf(out->address, sizeof(out->address), "%s/%d", ip, n->prefix);
    snprintf(out->gateway, sizeof(out->gateway), "%s", gw);
    net_mac_format(mac, out->mac);
    net_veth_name(a->id, out->host_veth);
    free(ns);
    free(dir);
}

/* Removes what an attachment made in the kernel and on disk (each step tolerates what is
 * already gone); the first error is kept in e, the other steps still run.
 * The veth pair goes with the namespace that holds its peer: once the container's processes
 * are gone and the namespace file is unmounted, the kernel's namespace cleanup removes the
 * pair, asynchronously and in batches. Deleting the veth here (RTM_DELLINK) instead waited
 * 30-100 ms per veth for an RCU grace period on the loop thread: removing 100 tasks blocked
 * the loop for seconds, long enough for the leader's 2 s lease to lapse (seen in strace).
 * Only when the namespace cannot be removed is the veth deleted by name. */
static int undo_kernel(struct net *n, const char *id, struct err *e)
{
    char veth[16];
    net_veth_name(id, veth);
    char *ns = netns_path(n, id), *dir = files_dir(n, id);
    struct err e2 = {0};
    int rc = netl_netns_remove(ns, e);
    if (rc < 0)
        netl_link_delete(veth, &e2);
    if (dir_remove_all(dir, rc < 0 ? &e2 : e) < 0 && rc == 0)
        rc = -e->kind;
    free(ns);
    free(dir);
    return rc;
}

static bool id_ok(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (!len || len > 128 || id[0] == '.')
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

int net_attach(struct net *n, const char *container_id, const char *hostname,
               struct net_port *ports, size_t nports, struct net_attachment *out, struct err *e)
{
    if (!id_ok(container_id))
        return err_set(e, ERR_INVALID, "invalid container id for a network attachment");
    if (strmap_get(n->atts, container_id))
        return err_set(e, ERR_CONFLICT, "container %s is attached already", container_id);
    struct net_att *a = xcalloc(1, sizeof(*a));
    a->ports = xcalloc(nports + 1, sizeof(*a->ports));
    if (nports)
        memcpy(a->ports, ports, nports * sizeof(*ports));
    a->nports = nports;
    int rc = ports_resolve(n, a->ports, nports, e);
    if (rc == 0 && (rc = ensure(n, e)) < 0)
        err_wrap(e, "node network");
    uint32_t ip = rc == 0 ? net_ipam_alloc(&n->ipam) : 0;
    if (rc == 0 && !ip)
        rc = err_set(e, ERR_UNAVAILABLE, "no address left in the node's container subnet");
    if (rc < 0) {
        att_free(a);
        return rc;
    }
    a->id = xstrdup(container_id);
    a->ip = ip;
    char *ns = netns_path(n, container_id), *nsdir = xasprintf("%s/netns", n->root);
    char veth[16];
    uint8_t mac[6];
    net_veth_name(container_id, veth);
    net_mac_from_ip(ip, mac);
    bool made = false;
    rc = dir_make(nsdir, 0700, e);
    /* a file left by a crash between create and save belongs to nobody */
    if (rc == 0)
        rc = netl_netns_remove(ns, e);
    if (rc == 0 && (rc = netl_netns_create(ns, e)) == 0) {
        made = true;
        rc =
            netl_veth_plumb(veth, n->bridge, ns, mac, ip, n->prefix, net_ipam_gateway(&n->ipam), e);
    }
    if (rc == 0) {
        char *dir = files_dir(n, container_id);
        rc = files_write(dir, ip, hostname && hostname[0] ? hostname : container_id, e);
        free(dir);
    }
    if (rc == 0) {
        strmap_put(n->atts, a->id, a);
        if (nports && (rc = table_apply(n, e)) < 0)
            strmap_del(n->atts, a->id);
    }
    if (rc == 0 && (rc = state_save(n, e)) < 0) {
        strmap_del(n->atts, a->id);
        if (nports)
            table_apply(n, NULL);
    }
    if (rc < 0) {
        if (made)
            undo_kernel(n, container_id, NULL);
        net_ipam_free(&n->ipam, ip);
        att_free(a);
    } else {
        fill_out(n, a, out);
        if (nports)
            memcpy(ports, a->ports, nports * sizeof(*ports));
    }
    free(ns);
    free(nsdir);
    return rc < 0 ? rc : 0;
}

int net_lookup(struct net *n, const char *container_id, struct net_attachment *out)
{
    struct net_att *a = strmap_get(n->atts, container_id);
    if (!a)
        return -ERR_NOT_FOUND;
    fill_out(n, a, out);
    return 0;
}

int net_ports(struct net *n, const char *container_id, struct net_port **out, size_t *nout)
{
    struct net_att *a = strmap_get(n->atts, container_id);
    if (!a)
        return -ERR_NOT_FOUND;
    *out = NULL;
    *nout = a->nports;
    if (a->nports) {
        *out = xcalloc(a->nports, sizeof(**out));
        memcpy(*out, a->ports, a->nports * sizeof(**out));
    }
    return 0;
}

const char *net_id(const struct net *n)
{
    return n->ids[NET_KIND_BRIDGE];
}

const char *net_network_id(const struct net *n, enum net_kind k)
{
    return n->ids[k];
}

int64_t net_network_created(const struct net *n, enum net_kind k)
{
    return n->created_ns[k];
}

const char *net_bridge_name(const struct net *n)
{
    return n->bridge;
}

bool net_subnet(const struct net *n, char cidr[24], char gateway[16])
{
    if (!n->have_subnet)
        return false;
    char ip[16];
    net_ip_format(n->subnet, ip);
    snprintf(cidr, 24, "%s/%d", ip, n->prefix);
    net_ip_format(n->subnet + 1, gateway);
    return true;
}

void net_port_range(const struct net *n, uint16_t *begin, uint16_t *end)
{
    *begin = n->port_begin;
    *end = n->port_end;
}

void net_each(struct net *n, void (*fn)(void *arg, const char *container_id), void *arg)
{
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(n->atts, &it, &k, &v))
        fn(arg, k);
}

int net_detach(struct net *n, const char *container_id, struct err *e)
{
    struct net_att *a = strmap_get(n->atts, container_id);
    if (!a)
        return 0;
    int rc = undo_kernel(n, container_id, e);
    strmap_del(n->atts, container_id);
    net_ipam_free(&n->ipam, a->ip);
    bool had_ports = a->nports > 0;
    att_free(a);
    /* the rules go even if a kernel step failed: they must not point at a freed address */
    struct err e2 = {0};
    if (had_ports && table_apply(n, rc < 0 ? &e2 : e) < 0 && rc == 0)
        rc = -e->kind;
    if (state_save(n, rc < 0 ? &e2 : e) < 0 && rc == 0)
        rc = -e->kind;
    return rc < 0 ? err_wrap(e, "detach %.12s", container_id) : 0;
}

int net_teardown(struct net *n, struct err *e)
{
    int rc = 0;
    struct err e2 = {0};
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(n->atts, &it, &k, &v)) {
        struct net_att *a = v;
        if (undo_kernel(n, a->id, rc < 0 ? &e2 : e) < 0 && rc == 0)
            rc = -e->kind;
        att_free(a);
    }
    strmap_free(n->atts);
    n->atts = strmap_new();
    if (n->touched) { /* a node that never networked loads no libnftables to say so */
        char *del = net_ruleset_delete_text(n->table);
        if (netf_run(del, rc < 0 ? &e2 : e) < 0 && rc == 0)
            rc = -e->kind;
        free(del);
        if (netl_link_delete(n->bridge, rc < 0 ? &e2 : e) < 0 && rc == 0)
            rc = -e->kind;
    }
    n->touched = false;
    if (unlink(n->state_path) < 0 && errno != ENOENT && rc == 0)
        rc = err_set(e, ERR_INTERNAL, "remove %s: %s", n->state_path, strerror(errno));
    net_ipam_release_all(&n->ipam);
    n->ready = false;
    n->stale_bridge = false;
    /* a configured subnet stays; a chosen one is chosen again at the next attach */
    n->have_subnet = n->cfg_subnet;
    if (n->have_subnet)
        net_ipam_init(&n->ipam, n->subnet, n->prefix);
    /* the next network is a new one */
    hex_id_new(n->ids[NET_KIND_BRIDGE]);
    n->created_ns[NET_KIND_BRIDGE] = time_now_ns();
    if (ids_save(n, rc < 0 ? &e2 : e) < 0 && rc == 0)
        rc = -e->kind;
    return rc < 0 ? err_wrap(e, "network teardown") : 0;
}
