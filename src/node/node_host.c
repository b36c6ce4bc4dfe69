/* node_host.c — facts about this host: its description as a swarm node (hostname,
 * platform, CPUs, memory, engine) and the resolution of advertise/listen addresses
 * (IP, interface name, optional port; autodetection with Docker's rules and messages).
 * Thread: the loop thread. */
#include "node_int.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

json_t *node_host_description(const struct node *n)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    json_t *labels = json_object();
    for (size_t i = 0; n->cfg.labels && n->cfg.labels[i]; i++) {
        const char *l = n->cfg.labels[i], *eq = strchr(l, '=');
        char *k = eq ? xstrndup(l, (size_t)(eq - l)) : xstrdup(l);
        json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
        free(k);
    }
    json_t *engine = json_pack("{s:s}", "EngineVersion", n->cfg.engine_version);
    if (json_object_size(labels))
        json_object_set_new(engine, "Labels", labels);
    else
        json_decref(labels);
    return json_pack("{s:s, s:{s:s, s:s}, s:{s:I, s:I}, s:o}", "Hostname", host, "Platform",
                     "Architecture", u.machine, "OS", "linux", "Resources", "NanoCPUs",
                     (json_int_t)ncpu * 1000000000LL, "MemoryBytes",
                     (json_int_t)si.totalram * (json_int_t)si.mem_unit, "Engine", engine);
}

static bool is_ip(const char *s)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static bool usable(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return (a >> 24) != 127 && (a >> 16) != 0xa9fe; /* not loopback, not link-local */
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_UNSPECIFIED(a);
    }
    return false;
}

static void sa_text(const struct sockaddr *sa, char *out, size_t cap)
{
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* The address of interface `ifname` (IPv4 preferred), or autodetection when NULL. */
static int pick_addr(const char *ifname, char *ip, size_t iplen, struct err *e)
{
    struct ifaddrs *ifa0;
    if (getifaddrs(&ifa0) < 0)
        return err_set(e, ERR_INTERNAL, "cannot list network interfaces");
    int rc = 0;
    for (int fam = 0; fam < 2; fam++) {
        int want = fam == 0 ? AF_INET : AF_INET6, found = 0;
        char first[64] = "", first_if[IF_NAMESIZE + 1] = "";
        for (struct ifaddrs *i = ifa0; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != want)
                continue;
            if (ifname ? strcmp(i->ifa_name, ifname) != 0 : !usable(i->ifa_addr))
                continue;
            if (ifname && !usable(i->ifa_addr) && strcmp(ifname, "lo") != 0)
                continue;
            char cur[64];
            sa_text(i->ifa_addr, cur, sizeof(cur));
            if (found == 0) {
                snprintf(first, sizeof(first), "%s", cur);
                snprintf(first_if, sizeof(first_if), "%s", i->ifa_name);
            } else if (!ifname || strcmp(first_if, i->ifa_name) == 0) {
                if (ifname)
                    rc = err_set(e, ERR_INVALID,
                                 "interface %s has more than one %s address (%s and %s)", ifname,
                                 want == AF_INET ? "IPv4" : "IPv6", first, cur);
                else if (strcmp(first_if, i->ifa_name))
                    rc = err_set(e, ERR_INVALID,
                                 "could not choose an IP address to advertise since this system "
                                 "has multiple addresses on different interfaces (%s on %s and "
                                 "%s on %s)",
                                 first, first_if, cur, i->ifa_name);
                else
                    rc = err_set(e, ERR_INVALID,
                                 "could not choose an IP address to advertise since this system "
                                 "has multiple addresses on interface %s (%s and %s)",
                                 first_if, first, cur);
                goto out;
            }
            found++;
        }
        if (found) {
            snprintf(ip, iplen, "%s", first);
            goto out;
        }
    }
    if (ifname)
        rc = err_set(e, ERR_INVALID, "interface %s has no usable IPv4 or IPv6 address", ifname);
    else
        rc = err_set(e, ERR_INVALID,
                     "could not find the system's IP address - specify one with --advertise-addr");
out:
    freeifaddrs(ifa0);
    return rc;
}

int node_resolve_addr(const char *addr, int default_port, char *ip, size_t iplen, int *port,
                      struct err *e)
{
    char host[128] = "";
    *port = default_port;
    const char *colon;
    if (addr[0] == '[') { /* [v6]:port */
        const char *end = strchr(addr, ']');
        if (!end)
            return err_set(e, ERR_INVALID, "invalid address %s", addr);
        snprintf(host, sizeof(host), "%.*s", (int)(end - addr - 1), addr + 1);
        colon = end[1] == ':' ? end + 1 : NULL;
    } else if ((colon = strchr(addr, ':')) && strchr(colon + 1, ':')) {
        snprintf(host, sizeof(host), "%s", addr); /* bare IPv6 */
        colon = NULL;
    } else {
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - addr) : (int)strlen(addr), addr);
    }
    if (colon) {
        uint64_t p;
        if (num_parse_u64(colon + 1, &p) < 0 || p < 1 || p > 65535)
            return err_set(e, ERR_INVALID, "invalid port in address %s", addr);
        *port = (int)p;
    }
    if (!host[0])
        return pick_addr(NULL, ip, iplen, e);
    if (is_ip(host)) {
        if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
            return pick_addr(NULL, ip, iplen, e);
        snprintf(ip, iplen, "%s", host);
        return 0;
    }
    if (!if_nametoindex(host))
        return err_set(e, ERR_INVALID,
                       "advertise address must be a non-zero IP address or network interface "
                       "(with optional port number)");
    return pick_addr(host, ip, iplen, e);
}

int node_listen_addr(const char *addr, char *out, size_t cap, struct err *e)
{
    char host[128];
    const char *colon = strrchr(addr, ':');
    uint64_t port = NODE_DEFAULT_PORT;
    bool v6 = addr[0] == '[';
    if (colon && (!v6 || colon > strchr(addr, ']'))) {
        /* digits only, as strconv takes them: no sign, no blanks */
        if (num_parse_u64(colon + 1, &port) < 0 || port < 1 || port > 65535)
            return err_set(e, ERR_INVALID, "invalid listen address %s", addr);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    } else {
        snprintf(host, sizeof(host), "%s", addr);
    }
    if (!host[0])
        snprintf(host, sizeof(host), "0.0.0.0");
    if (v6 || is_ip(host)) {
        snprintf(out, cap, "%s:%ld", host, (long)port);
        return 0;
    }
    char ip[64];
    if (!if_nametoindex(host))
        return err_set(e, ERR_INVALID,
                       "listen address must be an IP address or network interface (with "
                       "optional port number)");
    int rc = pick_addr(host, ip, sizeof(ip), e);
    if (rc)
        return rc;
    snprintf(out, cap, strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, (long)port);
    return 0;
}
