/* net_link.c — rtnetlink through libmnl, network namespace files and sysctls: the kernel
 * side of the bridge and of each container's plumbing. One netlink socket per call, opened
 * in the namespace it acts on (a socket stays bound to the namespace it was created in).
 * A call that enters a container's namespace (setns) always returns the thread to the one
 * it started in before it returns. Runs on the caller's thread. */
#include "net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct nl {
    struct mnl_socket *sock;
    unsigned portid;
    unsigned seq;
};

static int nl_open(struct nl *nl, struct err *e)
{
    nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl->sock)
        return err_set(e, ERR_INTERNAL, "netlink socket: %s", strerror(errno));
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int er = errno;
        mnl_socket_close(nl->sock);
        return err_set(e, ERR_INTERNAL, "netlink bind: %s", strerror(er));
    }
    nl->portid = mnl_socket_get_portid(nl->sock);
    nl->seq = (unsigned)time(NULL);
    return 0;
}

static void nl_close(struct nl *nl)
{
    if (nl->sock)
        mnl_socket_close(nl->sock);
    nl->sock = NULL;
}

/* Sends one request and reads answers until its ack, error or the end of a dump. A request
 * with a callback is a dump (cb sees each answer); one without asks for an ack (NLM_F_DUMP
 * cannot tell: its bits are NLM_F_REPLACE|NLM_F_EXCL of a new-object request).
 * Returns 0 or -errno. */
static int nl_talk(struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
    h->nlmsg_seq = ++nl->seq;
    if (!cb)
        h->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
        return -errno;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
        if (n < 0)
            return -errno;
        int rc = mnl_cb_run(buf, (size_t)n, nl->seq, nl->portid, cb, data);
        if (rc < 0)
            return -errno;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static struct nlmsghdr *msg_link(char *buf, int type, int flags, int index)
{
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = (uint16_t)type;
    h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    return h;
}

static int link_up(struct nl *nl, int index)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = msg_link(buf, RTM_NEWLINK, 0, index);
    struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    return nl_talk(nl, h, NULL, NULL);
}

static int addr_add(struct nl *nl, int index, uint32_t ip, int prefix)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = RTM_NEWADDR;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (uint8_t)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    uint32_t a = htonl(ip), bc = htonl(ip | ~(~0u << (32 - prefix)));
    mnl_attr_put_u32(h, IFA_LOCAL, a);
    mnl_attr_put_u32(h, IFA_ADDRESS, a);
    mnl_attr_put_u32(h, IFA_BROADCAST, bc);
    return nl_talk(nl, h, NULL, NULL);
}

static int route_default(struct nl *nl, uint32_t gw, int oif)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = RTM_NEWROUTE;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(h, RTA_GATEWAY, htonl(gw));
    mnl_attr_put_u32(h, RTA_OIF, (uint32_t)oif);
    return nl_talk(nl, h, NULL, NULL);
}

int netl_bridge_ensure(const char *name, uint32_t gw, int prefix, struct err *e)
{
    struct nl nl;
    int rc = nl_open(&nl, e);
    if (rc < 0)
        return rc;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = msg_link(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    mnl_attr_put_strz(h, IFLA_IFNAME, name);
    struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO);
    mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(h, li);
    rc = nl_talk(&nl, h, NULL, NULL);
    if (rc < 0 && rc != -EEXIST) {
        rc = err_set(e, ERR_INTERNAL, "create bridge %s: %s", name, strerror(-rc));
        goto out;
    }
    int index = (int)if_nametoindex(name);
    if (!index) {
        rc = err_set(e, ERR_INTERNAL, "bridge %s: %s", name, strerror(errno));
        goto out;
    }
    rc = addr_add(&nl, index, gw, prefix);
    if (rc < 0 && rc != -EEXIST) {
        rc = err_set(e, ERR_INTERNAL, "address of bridge %s: %s", name, strerror(-rc));
        goto out;
    }
    rc = link_up(&nl, index);
    if (rc < 0)
        rc = err_set(e, ERR_INTERNAL, "set bridge %s up: %s", name, strerror(-rc));
out:
    nl_close(&nl);
    return rc < 0 ? rc : 0;
}

int netl_link_delete(const char *name, struct err *e)
{
    int index = (int)if_nametoindex(name);
    if (!index)
        return 0;
    struct nl nl;
    int rc = nl_open(&nl, e);
    if (rc < 0)
        return rc;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    rc = nl_talk(&nl, msg_link(buf, RTM_DELLINK, 0, index), NULL, NULL);
    nl_close(&nl);
    if (rc < 0 && rc != -ENODEV)
        return err_set(e, ERR_INTERNAL, "delete link %s: %s", name, strerror(-rc));
    return 0;
}

struct route_acc {
    struct net_route *v;
    size_t n, cap;
};

static int route_attr(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(a);
    if (type <= RTA_MAX)
        tb[type] = a;
    return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *h, void *data)
{
    struct route_acc *acc = data;
    const struct rtmsg *rt = mnl_nlmsg_get_payload(h);
    const struct nlattr *tb[RTA_MAX + 1] = {0};
    mnl_attr_parse(h, sizeof(*rt), route_attr, tb);
    uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rt->rtm_table;
    if (rt->rtm_family != AF_INET || table != RT_TABLE_MAIN || rt->rtm_dst_len == 0 || !tb[RTA_DST])
        return MNL_CB_OK;
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 16;
        acc->v = xrealloc(acc->v, acc->cap * sizeof(*acc->v));
    }
    acc->v[acc->n].dst = ntohl(mnl_attr_get_u32(tb[RTA_DST]));
    acc->v[acc->n].prefix = rt->rtm_dst_len;
    acc->n++;
    return MNL_CB_OK;
}

int netl_routes(struct net_route **out, size_t *n, struct err *e)
{
    struct nl nl;
    int rc = nl_open(&nl, e);
    if (rc < 0)
        return rc;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = RTM_GETROUTE;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
    rt->rtm_family = AF_INET;
    struct route_acc acc = {0};
    rc = nl_talk(&nl, h, route_cb, &acc);
    nl_close(&nl);
    if (rc < 0) {
        free(acc.v);
        return err_set(e, ERR_INTERNAL, "list routes: %s", strerror(-rc));
    }
    *out = acc.v;
    *n = acc.n;
    return 0;
}

static int ns_self(struct err *e)
{
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "open own netns: %s", strerror(errno));
    return fd;
}

/* Back to the namespace the call started in; failing that, the thread would act on a
 * container's namespace from now on, which must never happen. */
static void ns_return(int self)
{
    BUG_ON(setns(self, CLONE_NEWNET) < 0);
    close(self);
}

int netl_netns_create(const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return err_set(e, errno == EEXIST ? ERR_CONFLICT : ERR_INTERNAL, "netns file %s: %s", path,
                       strerror(errno));
    close(fd);
    int self = ns_self(e);
    if (self < 0) {
        unlink(path);
        return self;
    }
    int rc = 0;
    if (unshare(CLONE_NEWNET) < 0) {
        rc = err_set(e, ERR_INTERNAL, "new netns: %s", strerror(errno));
        close(self);
        unlink(path);
        return rc;
    }
    if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
        rc = err_set(e, ERR_INTERNAL, "bind netns on %s: %s", path, strerror(errno));
    ns_return(self);
    if (rc < 0)
        unlink(path);
    return rc;
}

int netl_netns_remove(const char *path, struct err *e)
{
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return err_set(e, ERR_INTERNAL, "unmount %s: %s", path, strerror(errno));
    if (unlink(path) < 0 && errno != ENOENT)
        return err_set(e, ERR_INTERNAL, "remove %s: %s", path, strerror(errno));
    return 0;
}

/* Inside the container's namespace: lo and eth0 up, the address, the default route. */
static int plumb_inside(const uint8_t mac[6], uint32_t ip, int prefix, uint32_t gw, struct err *e)
{
    (void)mac;
    struct nl nl;
    int rc = nl_open(&nl, e);
    if (rc < 0)
        return rc;
    int lo = (int)if_nametoindex("lo"), eth = (int)if_nametoindex("eth0");
    const char *step = "find eth0";
    if (!lo || !eth) {
        rc = -errno;
        goto out;
    }
    step = "set lo up";
    if ((rc = link_up(&nl, lo)) < 0)
        goto out;
    step = "address eth0";
    if ((rc = addr_add(&nl, eth, ip, prefix)) < 0)
        goto out;
    step = "set eth0 up";
    if ((rc = link_up(&nl, eth)) < 0)
        goto out;
    step = "default route";
    rc = route_default(&nl, gw, eth);
out:
    nl_close(&nl);
    if (rc < 0)
        return err_set(e, ERR_INTERNAL, "container netns: %s: %s", step, strerror(-rc));
    return 0;
}

int netl_veth_plumb(const char *host, const char *master, const char *ns_path, const uint8_t mac[6],
                    uint32_t ip, int prefix, uint32_t gw, struct err *e)
{
    int master_idx = (int)if_nametoindex(master);
    if (!master_idx)
        return err_set(e, ERR_INTERNAL, "bridge %s: %s", master, strerror(errno));
    int nsfd = open(ns_path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
        return err_set(e, ERR_INTERNAL, "open %s: %s", ns_path, strerror(errno));
    struct nl nl;
    int rc = nl_open(&nl, e);
    if (rc < 0) {
        close(nsfd);
        return rc;
    }
    /* the peer is made directly inside the container's namespace, already named eth0, so no
     * container-side interface ever appears in the node's namespace */
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = msg_link(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    mnl_attr_put_strz(h, IFLA_IFNAME, host);
    mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)master_idx);
    struct nlattr *li = mnl_attr_nest_start(h, IFLA_LINKINFO);
    mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
    struct ifinfomsg *pi = mnl_nlmsg_put_extra_header(h, sizeof(*pi));
    pi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(h, IFLA_IFNAME, "eth0");
    mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)nsfd);
    mnl_attr_put(h, IFLA_ADDRESS, 6, mac);
    mnl_attr_nest_end(h, peer);
    mnl_attr_nest_end(h, data);
    mnl_attr_nest_end(h, li);
    rc = nl_talk(&nl, h, NULL, NULL);
    if (rc < 0) {
        rc = err_set(e, ERR_INTERNAL, "create veth %s: %s", host, strerror(-rc));
        goto out;
    }
    int idx = (int)if_nametoindex(host);
    if (!idx || (rc = link_up(&nl, idx)) < 0) {
        rc = err_set(e, ERR_INTERNAL, "set %s up: %s", host, strerror(idx ? -rc : errno));
        goto out;
    }
    int self = ns_self(e);
    if (self < 0) {
        rc = self;
        goto out;
    }
    if (setns(nsfd, CLONE_NEWNET) < 0) {
        rc = err_set(e, ERR_INTERNAL, "enter %s: %s", ns_path, strerror(errno));
        close(self);
        goto out;
    }
    rc = plumb_inside(mac, ip, prefix, gw, e);
    ns_return(self);
out:
    nl_close(&nl);
    close(nsfd);
    return rc < 0 ? rc : 0;
}

int netl_port_probe(enum net_proto proto, uint16_t port, struct err *e)
{
    int fd = socket(AF_INET, (proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "socket: %s", strerror(errno));
    /* TCP: SO_REUSEADDR so that only a listener (not a connection in TIME_WAIT) is a clash */
    int one = 1;
    if (proto != NET_UDP)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        rc = errno == EADDRINUSE
                 ? -ERR_CONFLICT
                 : err_set(e, ERR_INTERNAL, "probe port %u: %s", port, strerror(errno));
    close(fd);
    return rc;
}

int netl_sysctl(const char *path, const char *value, struct err *e)
{
    char *p = xasprintf("/proc/sys/%s", path);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
        rc = err_set(e, ERR_INTERNAL, "sysctl %s=%s: %s", path, value, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(p);
    return rc;
}
