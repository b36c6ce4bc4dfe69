/* test_net.c — node networking (src/net): the pure parts (CIDR, subnet choice, allocator, MAC,
 * names, ruleset and /etc file text). */
#include "harness.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return a << 24 | b << 16 | c << 8 | d;
}

TEST(net_cidr_parse)
{
    uint32_t a;
    int p;
    struct err e = {0};
    ASSERT_EQ_INT(net_cidr_parse("172.18.0.0/16", &a, &p, &e), 0);
    ASSERT_EQ_INT(a, ip4(172, 18, 0, 0));
    ASSERT_EQ_INT(p, 16);
    ASSERT_EQ_INT(net_cidr_parse("10.1.2.0/24", &a, &p, &e), 0);
    ASSERT_EQ_INT(a, ip4(10, 1, 2, 0));
    const char *bad[] = {"172.18.0.1/16", "172.18.0.0", "172.18.0.0/31", "172.18.0.0/7",
                         "256.0.0.0/8",   "1.2.3/24",   "1.2.3.4/24x",   "",
                         "a.b.c.d/8"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        ASSERT_EQ_INT(net_cidr_parse(bad[i], &a, &p, &e), -ERR_INVALID);
    char out[16];
    net_ip_format(ip4(192, 168, 10, 254), out);
    ASSERT_EQ_STR(out, "192.168.10.254");
    ASSERT_TRUE(net_cidr_overlap(ip4(172, 18, 0, 0), 16, ip4(172, 18, 5, 0), 24));
    ASSERT_TRUE(net_cidr_overlap(ip4(172, 16, 0, 0), 12, ip4(172, 20, 0, 0), 16));
    ASSERT_FALSE(net_cidr_overlap(ip4(172, 18, 0, 0), 16, ip4(172, 19, 0, 0), 16));
}

TEST(net_subnet_choose_skips_routes)
{
    uint32_t s;
    int p;
    struct err e = {0};
    ASSERT_EQ_INT(net_subnet_choose(NULL, 0, &s, &p, &e), 0);
    ASSERT_EQ_INT(s, ip4(172, 18, 0, 0));
    ASSERT_EQ_INT(p, 16);
    /* a /24 inside 172.18 and the whole of 172.19 are taken; 10/8 does not matter */
    struct net_route r1[] = {
        {ip4(10, 0, 0, 0), 8}, {ip4(172, 18, 7, 0), 24}, {ip4(172, 19, 0, 0), 16}};
    ASSERT_EQ_INT(net_subnet_choose(r1, ARRAY_SIZE(r1), &s, &p, &e), 0);
    ASSERT_EQ_INT(s, ip4(172, 20, 0, 0));
    ASSERT_EQ_INT(p, 16);
    /* 172.16/12 covers every /16 pool: the 192.168 /20s come next */
    struct net_route r2[] = {{ip4(172, 16, 0, 0), 12}, {ip4(192, 168, 0, 0), 24}};
    ASSERT_EQ_INT(net_subnet_choose(r2, ARRAY_SIZE(r2), &s, &p, &e), 0);
    ASSERT_EQ_INT(s, ip4(192, 168, 16, 0));
    ASSERT_EQ_INT(p, 20);
    struct net_route r3[] = {{ip4(172, 16, 0, 0), 12}, {ip4(192, 168, 0, 0), 16}};
    ASSERT_EQ_INT(net_subnet_choose(r3, ARRAY_SIZE(r3), &s, &p, &e), -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(e.msg, "non-overlapping IPv4 address pool");
}

TEST(net_ipam_never_reserved_and_frees)
{
    struct net_ipam a;
    uint32_t net = ip4(10, 9, 8, 0);
    net_ipam_init(&a, net, 29); /* 8 addresses: .0 network, .1 gateway, .7 broadcast */
    ASSERT_EQ_INT(net_ipam_gateway(&a), net + 1);
    ASSERT_TRUE(net_ipam_used(&a, net));
    ASSERT_TRUE(net_ipam_used(&a, net + 1));
    ASSERT_TRUE(net_ipam_used(&a, net + 7));
    for (uint32_t i = 2; i <= 6; i++)
        ASSERT_EQ_INT(net_ipam_alloc(&a), net + i);
    ASSERT_EQ_INT(net_ipam_alloc(&a), 0); /* full: never .0, .1 or .7 */
    net_ipam_free(&a, net + 4);
    net_ipam_free(&a, net + 3);
    ASSERT_EQ_INT(net_ipam_alloc(&a), net + 3); /* the lowest free comes first */
    ASSERT_EQ_INT(net_ipam_alloc(&a), net + 4);
    /* freeing a reserved address does not hand it out */
    net_ipam_free(&a, net);
    net_ipam_free(&a, net + 1);
    net_ipam_free(&a, net + 7);
    ASSERT_EQ_INT(net_ipam_alloc(&a), 0);
    net_ipam_release_all(&a);

    /* re-learning after a restart: take marks, refuses reserved, outside and taken ones */
    net_ipam_init(&a, ip4(172, 18, 0, 0), 16);
    ASSERT_TRUE(net_ipam_take(&a, ip4(172, 18, 0, 2)));
    ASSERT_TRUE(net_ipam_take(&a, ip4(172, 18, 1, 0))); /* .1.0 is a host in a /16 */
    ASSERT_FALSE(net_ipam_take(&a, ip4(172, 18, 0, 2)));
    ASSERT_FALSE(net_ipam_take(&a, ip4(172, 18, 0, 1)));
    ASSERT_FALSE(net_ipam_take(&a, ip4(172, 18, 255, 255)));
    ASSERT_FALSE(net_ipam_take(&a, ip4(172, 19, 0, 5)));
    ASSERT_EQ_INT(net_ipam_alloc(&a), ip4(172, 18, 0, 3));
    /* the allocator crosses 64-bit words */
    for (uint32_t i = 4; i < 300; i++)
        if (i != 256)
            ASSERT_EQ_INT(net_ipam_alloc(&a), ip4(172, 18, 0, 0) + i);
    net_ipam_release_all(&a);
}

TEST(net_mac_and_veth_names)
{
    uint8_t mac[6];
    char s[18];
    net_mac_from_ip(ip4(172, 18, 0, 2), mac);
    net_mac_format(mac, s);
    ASSERT_EQ_STR(s, "02:42:ac:12:00:02");
    char a[16], b[16], c[16];
    net_veth_name("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", a);
    net_veth_name("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee", b);
    net_veth_name("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", c);
    ASSERT_EQ_INT(strlen(a), 15);
    ASSERT_TRUE(str_has_prefix(a, "shv"));
    ASSERT_EQ_STR(a, c);
    ASSERT_TRUE(strcmp(a, b) != 0);
}

TEST(net_ruleset_text)
{
    struct net_dnat d[] = {{NET_TCP, 8080, ip4(172, 18, 0, 2), 80},
                           {NET_UDP, 5353, ip4(172, 18, 0, 3), 53}};
    char *t = net_ruleset_text("shoal", "shoal_gwbridge", ip4(172, 18, 0, 0), 16, d, 2);
    /* replaced whole in one transaction: made if missing, deleted, declared anew */
    ASSERT_TRUE(str_has_prefix(t, "table ip shoal {}\ndelete table ip shoal\ntable ip shoal {\n"));
    ASSERT_CONTAINS(t, "type nat hook postrouting priority srcnat; policy accept;");
    ASSERT_CONTAINS(t, "ip saddr 172.18.0.0/16 oifname != \"shoal_gwbridge\" masquerade");
    ASSERT_CONTAINS(t, "oifname \"shoal_gwbridge\" ip saddr 172.18.0.0/16 ct status dnat "
                       "masquerade");
    ASSERT_CONTAINS(t, "oifname \"shoal_gwbridge\" ip saddr 127.0.0.0/8 masquerade");
    const char *r1 = "fib daddr type local tcp dport 8080 dnat to 172.18.0.2:80\n";
    const char *r2 = "fib daddr type local udp dport 5353 dnat to 172.18.0.3:53\n";
    /* each DNAT twice: prerouting (from outside and from containers) and output (the node) */
    char *pre = strstr(t, "chain prerouting"), *outc = strstr(t, "chain output");
    ASSERT_NOT_NULL(pre);
    ASSERT_NOT_NULL(outc);
    ASSERT_TRUE(strstr(pre, r1) && strstr(pre, r1) < outc && strstr(pre, r2) < outc);
    ASSERT_CONTAINS(outc, r1);
    ASSERT_CONTAINS(outc, r2);
    ASSERT_CONTAINS(outc, "type nat hook output priority -100; policy accept;");
    /* no other table is named */
    size_t tables = 0;
    for (const char *p = t; (p = strstr(p, "table ")); p++)
        tables++;
    ASSERT_EQ_INT(tables, 3);
    free(t);
    t = net_ruleset_text("shoal", "br", ip4(10, 0, 0, 0), 24, NULL, 0);
    ASSERT_FALSE(strstr(t, "dnat to"));
    free(t);
    t = net_ruleset_delete_text("shoal");
    ASSERT_EQ_STR(t, "table ip shoal {}\ndelete table ip shoal\n");
    free(t);
}

TEST(net_etc_files_text)
{
    char *h = net_hosts_text(ip4(172, 18, 0, 5), "abcdef012345");
    ASSERT_TRUE(str_has_prefix(h, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost"));
    ASSERT_CONTAINS(h, "\n172.18.0.5\tabcdef012345\n");
    free(h);
    char *r = net_resolv_text("# generated\nsearch example.test\nnameserver 127.0.0.53\n"
                              "nameserver 10.0.0.2\nnameserver fd00::1\noptions edns0\n");
    ASSERT_EQ_STR(r, "# generated\nsearch example.test\nnameserver 10.0.0.2\noptions edns0\n");
    free(r);
    /* only loopback servers (systemd-resolved): Docker's defaults */
    r = net_resolv_text("nameserver 127.0.0.53\noptions edns0 trust-ad");
    ASSERT_EQ_STR(r, "options edns0 trust-ad\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    free(r);
    r = net_resolv_text(NULL);
    ASSERT_EQ_STR(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    free(r);
}
