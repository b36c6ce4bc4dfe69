/* net_pure.c — the decisions of the networking module, with no I/O: CIDR parsing, subnet
 * choice against the host's routes, the address bitmap, Docker's MAC derivation, host veth
 * names and the nftables script text. Any thread; no state beyond the caller's structs. */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_ip(const char *s, const char **end, uint32_t *ip)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned o = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            o = o * 10 + (unsigned)(*s++ - '0');
            if (++digits > 3 || o > 255)
                return -1;
        }
        v = v << 8 | o;
        if (i < 3 && *s++ != '.')
            return -1;
    }
    *end = s;
    *ip = v;
    return 0;
}

int net_cidr_parse(const char *s, uint32_t *addr, int *prefix, struct err *e)
{
    const char *p;
    uint32_t ip;
    if (!s || parse_ip(s, &p, &ip) < 0 || *p++ != '/' || *p < '0' || *p > '9')
        return err_set(e, ERR_INVALID, "invalid subnet %s: want a.b.c.d/n", s ? s : "(null)");
    int n = 0;
    while (*p >= '0' && *p <= '9' && n <= 32)
        n = n * 10 + (*p++ - '0');
    if (*p || n < 8 || n > 30)
        return err_set(e, ERR_INVALID, "invalid subnet %s: the prefix must be 8 to 30", s);
    uint32_t mask = ~0u << (32 - n);
    if (ip & ~mask)
        return err_set(e, ERR_INVALID, "invalid subnet %s: host bits are set", s);
    *addr = ip;
    *prefix = n;
    return 0;
}

void net_ip_format(uint32_t ip, char out[16])
{
    snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static uint32_t mask_of(int prefix)
{
    return prefix <= 0 ? 0 : ~0u << (32 - prefix);
}

bool net_cidr_overlap(uint32_t a, int pa, uint32_t b, int pb)
{
    uint32_t m = mask_of(pa < pb ? pa : pb);
    return (a & m) == (b & m);
}

int net_subnet_choose(const struct net_route *routes, size_t nroutes, uint32_t *subnet, int *prefix,
                      struct err *e)
{
    /* 172.18..172.31 as /16, then 192.168.0.0/16 as sixteen /20 */
    for (int i = 0; i < 14 + 16; i++) {
        uint32_t cand = i < 14 ? (172u << 24 | (uint32_t)(18 + i) << 16)
                               : (192u << 24 | 168u << 16 | (uint32_t)(i - 14) << 12);
        int plen = i < 14 ? 16 : 20;
        bool clash = false;
        for (size_t r = 0; r < nroutes && !clash; r++)
            clash = routes[r].prefix > 0 &&
                    net_cidr_overlap(cand, plen, routes[r].dst, routes[r].prefix);
        if (!clash) {
            *subnet = cand;
            *prefix = plen;
            return 0;
        }
    }
    return err_set(e, ERR_UNAVAILABLE,
                   "could not find an available, non-overlapping IPv4 address pool among the "
                   "defaults to assign to the network");
}

bool net_port_range_parse(const char *text, uint16_t *begin, uint16_t *end)
{
    unsigned long b = 0, en = 0;
    char *p = NULL;
    bool ok = text != NULL;
    if (ok) {
        b = strtoul(text, &p, 10);
        ok = p != text && (*p == ' ' || *p == '\t');
    }
    if (ok) {
        const char *q = p;
        en = strtoul(q, &p, 10);
        ok = p != q && b >= 1 && b <= en && en <= 65535;
    }
    *begin = ok ? (uint16_t)b : NET_PORT_RANGE_BEGIN;
    *end = ok ? (uint16_t)en : NET_PORT_RANGE_END;
    return ok;
}

uint16_t net_port_pick(uint16_t begin, uint16_t end, uint16_t *last,
                       bool (*taken)(void *arg, uint16_t port), void *arg)
{
    /* moby's portallocator: serial from the last allocation, so a port just given back is
     * not handed out again at once */
    uint32_t port = *last >= begin && *last <= end ? *last : end;
    for (uint32_t i = 0; i <= (uint32_t)(end - begin); i++) {
        port = port >= end ? begin : port + 1;
        if (!taken(arg, (uint16_t)port)) {
            *last = (uint16_t)port;
            return (uint16_t)port;
        }
    }
    return 0;
}

void net_mac_from_ip(uint32_t ip, uint8_t mac[6])
{
    mac[0] = 0x02;
    mac[1] = 0x42;
    mac[2] = (uint8_t)(ip >> 24);
    mac[3] = (uint8_t)(ip >> 16);
    mac[4] = (uint8_t)(ip >> 8);
    mac[5] = (uint8_t)ip;
}

void net_mac_format(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

/* ---- allocator ---- */

void net_ipam_init(struct net_ipam *a, uint32_t subnet, int prefix)
{
    BUG_ON(prefix < 8 || prefix > 30);
    a->subnet = subnet;
    a->prefix = prefix;
    a->size = 1u << (32 - prefix);
    a->bits = xcalloc((a->size + 63) / 64, sizeof(uint64_t));
    /* the subnet's own address, the gateway and the broadcast are never handed out */
    a->bits[0] |= 3;
    a->bits[(a->size - 1) / 64] |= 1ull << ((a->size - 1) % 64);
}

void net_ipam_release_all(struct net_ipam *a)
{
    free(a->bits);
    a->bits = NULL;
}

uint32_t net_ipam_gateway(const struct net_ipam *a)
{
    return a->subnet + 1;
}

uint32_t net_ipam_alloc(struct net_ipam *a)
{
    uint32_t words = (a->size + 63) / 64;
    for (uint32_t w = 0; w < words; w++) {
        if (a->bits[w] == ~0ull)
            continue;
        uint32_t bit = (uint32_t)__builtin_ctzll(~a->bits[w]);
        uint32_t off = w * 64 + bit;
        if (off >= a->size)
            return 0;
        a->bits[w] |= 1ull << bit;
        return a->subnet + off;
    }
    return 0;
}

static bool offset_of(const struct net_ipam *a, uint32_t ip, uint32_t *off)
{
    if ((ip & mask_of(a->prefix)) != a->subnet)
        return false;
    *off = ip - a->subnet;
    return true;
}

bool net_ipam_take(struct net_ipam *a, uint32_t ip)
{
    uint32_t off;
    if (!offset_of(a, ip, &off) || (a->bits[off / 64] >> (off % 64) & 1))
        return false;
    a->bits[off / 64] |= 1ull << (off % 64);
    return true;
}

void net_ipam_free(struct net_ipam *a, uint32_t ip)
{
    uint32_t off;
    if (!offset_of(a, ip, &off) || off <= 1 || off == a->size - 1)
        return;
    a->bits[off / 64] &= ~(1ull << (off % 64));
}

bool net_ipam_used(const struct net_ipam *a, uint32_t ip)
{
    uint32_t off;
    return offset_of(a, ip, &off) && (a->bits[off / 64] >> (off % 64) & 1);
}

/* ---- names and ruleset text ---- */

void net_veth_name(const char *container_id, char out[16])
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const char *p = container_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    snprintf(out, 16, "shv%012llx", (unsigned long long)(h & 0xffffffffffffull));
}

static const char *proto_name(enum net_proto p)
{
    return p == NET_UDP ? "udp" : "tcp";
}

static void dnat_rules(struct buf *b, const struct net_dnat *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ip[16];
        net_ip_format(d[i].ip, ip);
        buf_printf(b, "\t\tfib daddr type local %s dport %u dnat to %s:%u\n",
                   proto_name(d[i].proto), d[i].published, ip, d[i].target);
    }
}

char *net_ruleset_text(const char *table, const char *bridge, uint32_t subnet, int prefix,
                       const struct net_dnat *dnats, size_t ndnats)
{
    char net[16];
    net_ip_format(subnet, net);
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "table ip %s {}\ndelete table ip %s\ntable ip %s {\n", table, table, table);
    buf_printf(&b,
               "\tchain postrouting {\n"
               "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
               "\t\tip saddr %s/%d oifname != \"%s\" masquerade\n"
               "\t\toifname \"%s\" ip saddr %s/%d ct status dnat masquerade\n"
               "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
               "\t}\n",
               net, prefix, bridge, bridge, net, prefix, bridge);
    buf_printf(&b, "\tchain prerouting {\n"
                   "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
    dnat_rules(&b, dnats, ndnats);
    buf_printf(&b, "\t}\n\tchain output {\n"
                   "\t\ttype nat hook output priority -100; policy accept;\n");
    dnat_rules(&b, dnats, ndnats);
    buf_printf(&b, "\t}\n}\n");
    return buf_detach(&b, NULL);
}

char *net_ruleset_delete_text(const char *table)
{
    return xasprintf("table ip %s {}\ndelete table ip %s\n", table, table);
}

char *net_hosts_text(uint32_t ip, const char *hostname)
{
    char a[16];
    net_ip_format(ip, a);
    return xasprintf("127.0.0.1\tlocalhost\n"
                     "::1\tlocalhost ip6-localhost ip6-loopback\n"
                     "fe00::0\tip6-localnet\n"
                     "ff00::0\tip6-mcastprefix\n"
                     "ff02::1\tip6-allnodes\n"
                     "ff02::2\tip6-allrouters\n"
                     "%s\t%s\n",
                     a, hostname);
}

/* A nameserver line's address is loopback (127/8, ::1) or IPv6: such a server cannot be
 * reached from the container's namespace (no IPv6 on the bridge). */
static bool nameserver_dropped(const char *addr, size_t len)
{
    if (memchr(addr, ':', len))
        return true;
    return len >= 4 && !strncmp(addr, "127.", 4);
}

char *net_resolv_text(const char *host_resolv)
{
    struct buf b;
    buf_init(&b);
    int kept = 0;
    for (const char *l = host_resolv; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        const char *p = l;
        while (p < l + len && (*p == ' ' || *p == '\t'))
            p++;
        bool ns = (size_t)(l + len - p) > 10 && !strncmp(p, "nameserver", 10) &&
                  (p[10] == ' ' || p[10] == '\t');
        bool keep = true;
        if (ns) {
            const char *a = p + 10;
            while (a < l + len && (*a == ' ' || *a == '\t'))
                a++;
            size_t alen = strcspn(a, " \t\n#");
            if (alen > (size_t)(l + len - a))
                alen = (size_t)(l + len - a);
            keep = alen && !nameserver_dropped(a, alen);
            kept += keep;
        }
        if (keep) {
            buf_add(&b, l, len);
            buf_adds(&b, "\n");
        }
        l = nl ? nl + 1 : l + len;
    }
    if (!kept)
        buf_adds(&b, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    return buf_detach(&b, NULL);
}
