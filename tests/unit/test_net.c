/* test_net.c — node networking (src/net): the pure parts (CIDR, subnet choice, allocator, MAC,
 * names, ruleset and /etc file text, the state file read at a restart), and the kernel parts
 * for real inside the test's own network and mount namespaces (unshared by the test's forked
 * child, so nothing of the host's network is seen or touched, and every mount vanishes with
 * the child): two containers' namespaces on the bridge ping each other and the gateway, a
 * published port answers on 127.0.0.1 and the gateway (also from a container, hairpin), a
 * port taken is refused, detach and teardown leave nothing, and another nftables table in the
 * same namespace is left as it was. The kernel tests need root, nft and busybox (NEED_TOOL). */
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

TEST(net_port_range_parse_as_docker)
{
    uint16_t b, e;
    ASSERT_TRUE(net_port_range_parse("32768\t60999\n", &b, &e));
    ASSERT_EQ_INT(b, 32768);
    ASSERT_EQ_INT(e, 60999);
    ASSERT_TRUE(net_port_range_parse("1024 1030", &b, &e));
    ASSERT_EQ_INT(b, 1024);
    ASSERT_EQ_INT(e, 1030);
    /* unreadable or nonsense: Docker's fallback */
    const char *bad[] = {NULL, "", "x y", "40000", "5000\t4000", "0\t10", "1\t70000"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        ASSERT_FALSE(net_port_range_parse(bad[i], &b, &e));
        ASSERT_EQ_INT(b, NET_PORT_RANGE_BEGIN);
        ASSERT_EQ_INT(e, NET_PORT_RANGE_END);
    }
}

struct used_ports {
    uint16_t p[16];
    size_t n;
    size_t asked;
};

static bool used_taken(void *arg, uint16_t port)
{
    struct used_ports *u = arg;
    u->asked++;
    for (size_t i = 0; i < u->n; i++)
        if (u->p[i] == port)
            return true;
    return false;
}

TEST(net_port_pick_serial_skips_used_wraps)
{
    struct used_ports u = {.p = {30001}, .n = 1};
    uint16_t last = 30004; /* the range's end: the first pick is its first port */
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 30000);
    ASSERT_EQ_INT(last, 30000);
    /* serial from the last pick, skipping what is in use */
    u.p[u.n++] = 30000;
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 30002);
    u.p[u.n++] = 30002;
    /* a port given back is not handed out again at once */
    u.n = 2; /* 30001 and 30000 in use; 30002 given back */
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 30003);
    u.p[u.n++] = 30003;
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 30004);
    u.p[u.n++] = 30004;
    /* wraps to the start: 30000 and 30001 are used, 30002 is free again */
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 30002);
    u.p[u.n++] = 30002;
    /* all taken: 0, every port asked once, last unchanged */
    u.asked = 0;
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 0);
    ASSERT_EQ_INT(u.asked, 5);
    ASSERT_EQ_INT(last, 30002);
    /* a last outside the range starts at its beginning; a one-port range */
    u.n = 0;
    last = 7;
    ASSERT_EQ_INT(net_port_pick(30000, 30004, &last, used_taken, &u), 30000);
    last = 0;
    ASSERT_EQ_INT(net_port_pick(65535, 65535, &last, used_taken, &u), 65535);
    ASSERT_EQ_INT(net_port_pick(65535, 65535, &last, used_taken, &u), 65535);
    u.p[u.n++] = 65535;
    ASSERT_EQ_INT(net_port_pick(65535, 65535, &last, used_taken, &u), 0);
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

static char tmpdir[64];

static void rm_tmp(void)
{
    if (!tmpdir[0])
        return;
    char *ns = xasprintf("%s/net/netns", tmpdir);
    DIR *d = opendir(ns);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char *p = xasprintf("%s/%s", ns, de->d_name);
        umount2(p, MNT_DETACH);
        free(p);
    }
    if (d)
        closedir(d);
    free(ns);
    dir_remove_all(tmpdir, NULL);
}

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/shoal-net-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(tmpdir));
    atexit(rm_tmp);
}

TEST(net_state_file_relearned)
{
    make_tmp();
    char *root = xasprintf("%s/net", tmpdir);
    struct err e = {0};
    ASSERT_EQ_INT(dir_make(root, 0700, &e), 0);
    char *path = xasprintf("%s/net.json", root);
    const char *js = "{\"subnet\":\"10.77.0.0/24\",\"attachments\":[{\"id\":\"c1\",\"ip\":"
                     "\"10.77.0.2\",\"ports\":[{\"proto\":\"tcp\",\"target\":80,\"published\":"
                     "8080}]},{\"id\":\"c2\",\"ip\":\"10.77.0.3\",\"ports\":[]}]}";
    ASSERT_EQ_INT(file_write_atomic(path, js, strlen(js), 0600, &e), 0);
    /* a configured subnet gives way to the one the containers hold */
    struct net *n = net_new(&(struct net_config){.root = root, .subnet = "10.88.0.0/16"}, &e);
    ASSERT_NOT_NULL(n);
    struct net_attachment a;
    ASSERT_EQ_INT(net_lookup(n, "c1", &a), 0);
    ASSERT_EQ_STR(a.address, "10.77.0.2/24");
    ASSERT_EQ_STR(a.gateway, "10.77.0.1");
    ASSERT_EQ_STR(a.mac, "02:42:0a:4d:00:02");
    char *want = xasprintf("%s/netns/c1", root);
    ASSERT_EQ_STR(a.netns_path, want);
    free(want);
    ASSERT_EQ_INT(net_lookup(n, "c2", &a), 0);
    ASSERT_EQ_STR(a.address, "10.77.0.3/24");
    ASSERT_EQ_INT(net_lookup(n, "c3", &a), -ERR_NOT_FOUND);
    net_free(n);

    /* a taken address twice, or one outside the subnet: refused, not silently reused */
    js = "{\"subnet\":\"10.77.0.0/24\",\"attachments\":[{\"id\":\"c1\",\"ip\":\"10.77.0.2\"},"
         "{\"id\":\"c2\",\"ip\":\"10.77.0.2\"}]}";
    ASSERT_EQ_INT(file_write_atomic(path, js, strlen(js), 0600, &e), 0);
    ASSERT_NULL(net_new(&(struct net_config){.root = root}, &e));
    ASSERT_CONTAINS(e.msg, "outside the subnet or taken");
    js = "{not json";
    ASSERT_EQ_INT(file_write_atomic(path, js, strlen(js), 0600, &e), 0);
    ASSERT_NULL(net_new(&(struct net_config){.root = root}, &e));
    ASSERT_NULL(net_new(&(struct net_config){.root = root, .subnet = "10.0.0.1/8"}, &e));
    free(path);
    free(root);
}

/* The networks' IDs hold across restarts from the first net_new on, before any attach (the
 * API shows them); an ID only in an older net.json is taken; a teardown renews the node
 * network's alone. No kernel state: nothing was attached, so the teardown is files only. */
TEST(net_network_ids_kept)
{
    make_tmp();
    char *root = xasprintf("%s/ids", tmpdir);
    struct err e = {0};
    struct net *n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    char ids[NET_KIND_COUNT][65];
    for (int k = 0; k < NET_KIND_COUNT; k++) {
        snprintf(ids[k], sizeof(ids[k]), "%s", net_network_id(n, k));
        ASSERT_EQ_INT(strlen(ids[k]), 64);
        ASSERT_TRUE(net_network_created(n, k) > 0);
    }
    ASSERT_TRUE(strcmp(ids[NET_KIND_HOST], ids[NET_KIND_NONE]) != 0);
    ASSERT_EQ_STR(net_id(n), ids[NET_KIND_BRIDGE]);
    ASSERT_EQ_STR(net_bridge_name(n), NET_BRIDGE_DEFAULT);
    char cidr[24], gw[16];
    ASSERT_FALSE(net_subnet(n, cidr, gw)); /* chosen at the first attach */
    int64_t created = net_network_created(n, NET_KIND_HOST);
    net_free(n);

    n = net_new(&(struct net_config){.root = root, .subnet = "10.9.8.0/24", .bridge = "shbr9"}, &e);
    ASSERT_NOT_NULL(n);
    for (int k = 0; k < NET_KIND_COUNT; k++)
        ASSERT_EQ_STR(net_network_id(n, k), ids[k]);
    ASSERT_EQ_INT(net_network_created(n, NET_KIND_HOST), created);
    ASSERT_TRUE(net_subnet(n, cidr, gw)); /* a configured one is known at once */
    ASSERT_EQ_STR(cidr, "10.9.8.0/24");
    ASSERT_EQ_STR(gw, "10.9.8.1");
    ASSERT_EQ_STR(net_bridge_name(n), "shbr9");

    /* swarm leave: a new node network; host and none stay, also after a restart */
    ASSERT_EQ_INT(net_teardown(n, &e), 0);
    ASSERT_TRUE(strcmp(net_id(n), ids[NET_KIND_BRIDGE]) != 0);
    char renewed[65];
    snprintf(renewed, sizeof(renewed), "%s", net_id(n));
    net_free(n);
    n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    ASSERT_EQ_STR(net_id(n), renewed);
    ASSERT_EQ_STR(net_network_id(n, NET_KIND_HOST), ids[NET_KIND_HOST]);
    ASSERT_EQ_STR(net_network_id(n, NET_KIND_NONE), ids[NET_KIND_NONE]);
    net_free(n);

    /* a data root from before networks.json: net.json's ID is the node network's */
    char *ids_path = xasprintf("%s/networks.json", root), *state = xasprintf("%s/net.json", root);
    const char *old = "{\"attachments\":[],\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaa\",\"subnet\":\"10.7.0.0/16\"}";
    ASSERT_EQ_INT(unlink(ids_path), 0);
    ASSERT_EQ_INT(file_write_atomic(state, old, strlen(old), 0600, &e), 0);
    n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    ASSERT_EQ_STR(net_id(n), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(ids[NET_KIND_HOST], sizeof(ids[0]), "%s", net_network_id(n, NET_KIND_HOST));
    net_free(n);
    n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    ASSERT_EQ_STR(net_network_id(n, NET_KIND_HOST), ids[NET_KIND_HOST]);
    net_free(n);
    /* an unreadable IDs file is an error, not new IDs */
    ASSERT_EQ_INT(file_write_atomic(ids_path, "{x", 2, 0600, &e), 0);
    ASSERT_NULL(net_new(&(struct net_config){.root = root}, &e));
    ASSERT_CONTAINS(e.msg, "not a network IDs file");
    free(ids_path);
    free(state);
    free(root);
}

/* ---- the kernel parts, in the test's own namespaces ---- */

static int run(const char *ns_path, char *const argv[], char **out);

static void kernel_setup(void)
{
    if (geteuid() != 0)
        NEED_TOOL("root (network namespaces)");
    if (access("/usr/sbin/nft", X_OK) < 0)
        NEED_TOOL("nft (nftables)");
    if (access("/bin/busybox", X_OK) < 0)
        NEED_TOOL("busybox-static");
    ASSERT_EQ_INT(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
    ASSERT_EQ_INT(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    make_tmp();
    char *argv_lo[] = {"/bin/busybox", "ip", "link", "set", "lo", "up", NULL};
    ASSERT_EQ_INT(run(NULL, argv_lo, NULL), 0); /* a node's lo is up */
}

/* Runs argv (in the netns at ns_path, or the test's own when NULL); returns its exit status,
 * its stdout in *out when out is set. */
static int run(const char *ns_path, char *const argv[], char **out)
{
    int p[2];
    ASSERT_EQ_INT(pipe(p), 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        if (ns_path) {
            int fd = open(ns_path, O_RDONLY);
            if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                _exit(126);
        }
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    struct buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
        buf_add(&b, chunk, (size_t)n);
    close(p[0]);
    int st;
    ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
    if (out)
        *out = b.p ? buf_detach(&b, NULL) : xstrdup("");
    else
        buf_release(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *nft_list(const char *what)
{
    char *out = NULL;
    char *w = xstrdup(what);
    /* -s: stateless, so the other table's counter values (which its rule counts as traffic
     * passes) do not count as a change */
    char *argv[7] = {"/usr/sbin/nft", "-s", "list", NULL, NULL, NULL, NULL};
    int i = 3;
    for (char *save = NULL, *t = strtok_r(w, " ", &save); t && i < 6;
         t = strtok_r(NULL, " ", &save))
        argv[i++] = t;
    run(NULL, argv, &out);
    free(w);
    return out;
}

static int ping(const char *ns, const char *ip)
{
    char *argv[] = {"/bin/busybox", "ping", "-c", "1", "-W", "2", (char *)ip, NULL};
    return run(ns, argv, NULL);
}

/* A TCP server in the netns at ns_path on port: answers "hello from <tag>" to each of
 * `count` connections, then exits. Returns its pid once it listens. */
static pid_t serve(const char *ns_path, uint16_t port, const char *tag, int count)
{
    int ready[2];
    ASSERT_EQ_INT(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        alarm(20); /* never outlives a failed test */
        int fd = open(ns_path, O_RDONLY);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(126);
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 8) < 0)
            _exit(125);
        if (write(ready[1], "x", 1) != 1)
            _exit(124);
        for (int i = 0; i < count; i++) {
            int c = accept(s, NULL, NULL);
            if (c < 0)
                _exit(123);
            char msg[64];
            int len = snprintf(msg, sizeof(msg), "hello from %s", tag);
            if (write(c, msg, (size_t)len) != len)
                _exit(122);
            close(c);
        }
        _exit(0);
    }
    close(ready[1]);
    char c;
    ASSERT_EQ_INT(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

/* Connects (from the netns at ns_path, or the test's own) to ip:port and returns what the
 * server said (heap), or NULL. */
static char *fetch(const char *ns_path, const char *ip, uint16_t port)
{
    int p[2];
    ASSERT_EQ_INT(pipe(p), 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (ns_path) {
            int fd = open(ns_path, O_RDONLY);
            if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                _exit(126);
        }
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct timeval tv = {.tv_sec = 3};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        inet_pton(AF_INET, ip, &sa.sin_addr);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(1);
        char buf[64];
        ssize_t n = read(s, buf, sizeof(buf));
        if (n > 0 && write(p[1], buf, (size_t)n) != n)
            _exit(2);
        _exit(n > 0 ? 0 : 3);
    }
    close(p[1]);
    char buf[65];
    ssize_t n = read(p[0], buf, 64);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st))
        return NULL;
    buf[n] = 0;
    return xstrdup(buf);
}

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* A container's veth goes with its namespace, in the kernel's asynchronous namespace cleanup:
 * true once the link is gone, within a deadline (no event to wait for short of a netlink
 * monitor). */
static bool link_gone(const char *name)
{
    int64_t end = time_now_ns() + 5000000000LL;
    while (if_nametoindex(name) != 0) {
        if (time_now_ns() > end)
            return false;
        usleep(5000);
    }
    return true;
}

#define C1 "c1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define C2 "c2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C3 "c3cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

TEST_T(net_kernel_attach_ping_publish_detach, 60)
{
    kernel_setup();
    char *root = xasprintf("%s/net", tmpdir);
    struct err e = {0};
    /* someone else's table, which must be left exactly as it is */
    char *argv_other[] = {"/usr/sbin/nft",
                          "add table inet other; add chain inet other c { type filter hook "
                          "input priority 0; policy accept; }; add rule inet other c counter",
                          NULL};
    ASSERT_EQ_INT(run(NULL, argv_other, NULL), 0);
    char *other_before = nft_list("table inet other");
    ASSERT_CONTAINS(other_before, "chain c");

    struct net *n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    struct net_attachment a1, a2;
    struct net_port p2[] = {{NET_TCP, 80, 8080}};
    if (net_attach(n, C1, "host-one", NULL, 0, &a1, &e) < 0)
        FAIL_AT("attach c1: %s", e.msg);
    if (net_attach(n, C2, NULL, p2, 1, &a2, &e) < 0)
        FAIL_AT("attach c2: %s", e.msg);
    /* a fresh namespace has no routes: the first of Docker's pools */
    ASSERT_EQ_STR(a1.address, "172.18.0.2/16");
    ASSERT_EQ_STR(a2.address, "172.18.0.3/16");
    ASSERT_EQ_STR(a1.gateway, "172.18.0.1");
    ASSERT_EQ_STR(a1.mac, "02:42:ac:12:00:02");
    ASSERT_TRUE(if_nametoindex(NET_BRIDGE_DEFAULT) > 0);
    ASSERT_TRUE(if_nametoindex(a1.host_veth) > 0);
    ASSERT_TRUE(if_nametoindex(a2.host_veth) > 0);
    ASSERT_EQ_INT(net_attach(n, C1, NULL, NULL, 0, &a1, &e), -ERR_CONFLICT);

    /* the container's /etc files */
    char *p = xasprintf("%s/hosts", a1.dir), *d = NULL;
    size_t len;
    ASSERT_EQ_INT(file_read(p, &d, &len, &e), 0);
    ASSERT_CONTAINS(d, "172.18.0.2\thost-one\n");
    free(d);
    free(p);
    p = xasprintf("%s/hostname", a1.dir);
    ASSERT_EQ_INT(file_read(p, &d, &len, &e), 0);
    ASSERT_EQ_STR(d, "host-one\n");
    free(d);
    free(p);
    p = xasprintf("%s/resolv.conf", a1.dir);
    ASSERT_TRUE(exists(p));
    free(p);

    /* inside: eth0 with the address and MAC, the default route */
    char *out = NULL;
    char *argv_addr[] = {"/bin/busybox", "ip", "addr", "show", "eth0", NULL};
    ASSERT_EQ_INT(run(a1.netns_path, argv_addr, &out), 0);
    ASSERT_CONTAINS(out, "inet 172.18.0.2/16");
    ASSERT_CONTAINS(out, "02:42:ac:12:00:02");
    free(out);
    char *argv_route[] = {"/bin/busybox", "ip", "route", NULL};
    ASSERT_EQ_INT(run(a1.netns_path, argv_route, &out), 0);
    ASSERT_CONTAINS(out, "default via 172.18.0.1 dev eth0");
    free(out);

    /* they reach each other and the gateway */
    ASSERT_EQ_INT(ping(a1.netns_path, "172.18.0.3"), 0);
    ASSERT_EQ_INT(ping(a2.netns_path, "172.18.0.2"), 0);
    ASSERT_EQ_INT(ping(a1.netns_path, "172.18.0.1"), 0);

    /* the published port: from the node on 127.0.0.1 and the gateway address, and from the
     * other container through the node (hairpin) */
    pid_t srv = serve(a2.netns_path, 80, "c2", 3);
    out = fetch(NULL, "127.0.0.1", 8080);
    ASSERT_EQ_STR(out, "hello from c2");
    free(out);
    out = fetch(NULL, "172.18.0.1", 8080);
    ASSERT_EQ_STR(out, "hello from c2");
    free(out);
    out = fetch(a1.netns_path, "172.18.0.1", 8080);
    ASSERT_EQ_STR(out, "hello from c2");
    free(out);
    int st;
    ASSERT_EQ_INT(waitpid(srv, &st, 0), srv);
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);

    /* a port taken by another container, or by a process listening on the node: refused,
     * and nothing of the refused attachment exists */
    struct net_attachment a3;
    ASSERT_EQ_INT(net_attach(n, C3, NULL, p2, 1, &a3, &e), -ERR_CONFLICT);
    ASSERT_EQ_STR(e.msg, "Bind for 0.0.0.0:8080 failed: port is already allocated");
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9090)};
    ASSERT_EQ_INT(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ASSERT_EQ_INT(listen(ls, 1), 0);
    struct net_port p3[] = {{NET_TCP, 80, 9090}};
    ASSERT_EQ_INT(net_attach(n, C3, NULL, p3, 1, &a3, &e), -ERR_CONFLICT);
    ASSERT_CONTAINS(e.msg, "0.0.0.0:9090");
    close(ls);
    char *ns3 = xasprintf("%s/netns/%s", root, C3);
    ASSERT_FALSE(exists(ns3));
    char veth3[16];
    net_veth_name(C3, veth3);
    ASSERT_TRUE(link_gone(veth3));

    /* a restart: the attachments are learned again, the next address is a new one */
    net_free(n);
    n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    struct net_attachment l;
    ASSERT_EQ_INT(net_lookup(n, C2, &l), 0);
    ASSERT_EQ_STR(l.address, "172.18.0.3/16");
    int64_t t0 = time_now_ns();
    if (net_attach(n, C3, NULL, NULL, 0, &a3, &e) < 0)
        FAIL_AT("attach c3: %s", e.msg);
    int64_t t1 = time_now_ns();
    ASSERT_EQ_STR(a3.address, "172.18.0.4/16");
    ASSERT_EQ_INT(net_attach(n, C1, NULL, p2, 1, &l, &e), -ERR_CONFLICT); /* port still c2's */
    ASSERT_TRUE(ping(a3.netns_path, "172.18.0.3") == 0);

    /* detach: veth, netns file, /etc files and the port's rules go; the address is free */
    char *table = nft_list("table ip shoal");
    ASSERT_CONTAINS(table, "dnat to 172.18.0.3:80");
    free(table);
    int64_t t2 = time_now_ns();
    ASSERT_EQ_INT(net_detach(n, C2, &e), 0);
    fprintf(stderr,
            "# attach (no port, after a restart: bridge and table made again) %.2f ms, "
            "detach (one port: table rewritten) %.2f ms\n",
            (double)(t1 - t0) / 1e6, (double)(time_now_ns() - t2) / 1e6);
    ASSERT_TRUE(link_gone(a2.host_veth));
    ASSERT_FALSE(exists(a2.netns_path));
    ASSERT_FALSE(exists(a2.dir));
    table = nft_list("table ip shoal");
    ASSERT_FALSE(strstr(table, "dnat to"));
    ASSERT_CONTAINS(table, "masquerade");
    free(table);
    ASSERT_EQ_INT(net_detach(n, C2, &e), 0); /* twice is fine */
    ASSERT_EQ_INT(net_lookup(n, C2, &l), -ERR_NOT_FOUND);
    if (net_attach(n, C2, NULL, p2, 1, &a2, &e) < 0) /* the port and .3 are free again */
        FAIL_AT("attach c2 again: %s", e.msg);
    ASSERT_EQ_STR(a2.address, "172.18.0.3/16");

    /* teardown: every attachment, the table and the bridge go; the other table stays */
    ASSERT_EQ_INT(net_teardown(n, &e), 0);
    ASSERT_EQ_INT(if_nametoindex(NET_BRIDGE_DEFAULT), 0);
    ASSERT_TRUE(link_gone(a1.host_veth));
    ASSERT_TRUE(link_gone(a3.host_veth));
    ASSERT_FALSE(exists(a1.netns_path));
    ASSERT_FALSE(exists(a3.netns_path));
    char *state = xasprintf("%s/net.json", root);
    ASSERT_FALSE(exists(state));
    free(state);
    char *tables = nft_list("tables");
    ASSERT_FALSE(strstr(tables, "ip shoal"));
    ASSERT_CONTAINS(tables, "table inet other");
    free(tables);
    char *other_after = nft_list("table inet other");
    ASSERT_EQ_STR(other_after, other_before);
    free(other_after);
    free(other_before);
    net_free(n);
    free(ns3);
    free(root);
}

TEST_T(net_kernel_random_published_ports, 60)
{
    kernel_setup();
    char *root = xasprintf("%s/net", tmpdir);
    struct err e = {0};
    /* the range is the namespace's own: three ports */
    int rf = open("/proc/sys/net/ipv4/ip_local_port_range", O_WRONLY);
    ASSERT_TRUE(rf >= 0);
    ASSERT_EQ_INT(write(rf, "40000 40002", 11), 11);
    close(rf);
    struct net *n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    uint16_t b, en;
    net_port_range(n, &b, &en);
    ASSERT_EQ_INT(b, 40000);
    ASSERT_EQ_INT(en, 40002);
    ASSERT_EQ_INT(strlen(net_id(n)), 64);
    char nid[65];
    snprintf(nid, sizeof(nid), "%s", net_id(n));
    struct net_attachment a1, a2;
    /* tcp and udp are counted apart; a fixed port of the same request is skipped */
    struct net_port p1[] = {
        {NET_TCP, 80, 0}, {NET_UDP, 53, 0}, {NET_TCP, 81, 40001}, {NET_TCP, 82, 0}};
    if (net_attach(n, C1, NULL, p1, 4, &a1, &e) < 0)
        FAIL_AT("attach c1: %s", e.msg);
    ASSERT_EQ_INT(p1[0].published, 40000);
    ASSERT_EQ_INT(p1[1].published, 40000);
    ASSERT_EQ_INT(p1[2].published, 40001);
    ASSERT_EQ_INT(p1[3].published, 40002);
    struct net_port *got = NULL;
    size_t ngot = 0;
    ASSERT_EQ_INT(net_ports(n, C1, &got, &ngot), 0);
    ASSERT_EQ_INT(ngot, 4);
    ASSERT_EQ_INT(got[3].published, 40002);
    ASSERT_EQ_INT(got[1].proto, NET_UDP);
    free(got);
    char *table = nft_list("table ip shoal");
    ASSERT_CONTAINS(table, "tcp dport 40000 dnat to 172.18.0.2:80");
    ASSERT_CONTAINS(table, "udp dport 40000 dnat to 172.18.0.2:53");
    ASSERT_CONTAINS(table, "tcp dport 40002 dnat to 172.18.0.2:82");
    free(table);
    /* the picked port answers */
    pid_t srv = serve(a1.netns_path, 80, "c1", 1);
    char *out = fetch(NULL, "127.0.0.1", 40000);
    ASSERT_EQ_STR(out, "hello from c1");
    free(out);
    int st;
    ASSERT_EQ_INT(waitpid(srv, &st, 0), srv);

    /* every tcp port of the range is held: refused, the caller's ports untouched */
    struct net_port p2[] = {{NET_TCP, 80, 0}};
    ASSERT_EQ_INT(net_attach(n, C2, NULL, p2, 1, &a2, &e), -ERR_UNAVAILABLE);
    ASSERT_EQ_STR(e.msg, "all ports are allocated");
    ASSERT_EQ_INT(p2[0].published, 0);
    /* a port of the range a process of the node is bound to is skipped */
    ASSERT_EQ_INT(net_detach(n, C1, &e), 0);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    /* the fetch above took its local port from the narrowed range too: its TIME_WAIT may
     * hold 40000, which SO_REUSEADDR lets a listener take (as any server restarting does) */
    int one = 1;
    ASSERT_EQ_INT(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(40000)};
    ASSERT_EQ_INT(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ASSERT_EQ_INT(listen(ls, 1), 0);
    if (net_attach(n, C2, NULL, p2, 1, &a2, &e) < 0)
        FAIL_AT("attach c2: %s", e.msg);
    ASSERT_EQ_INT(p2[0].published, 40001); /* serial: after the last pick (40002), 40000 bound */
    close(ls);

    /* a restart: the picked port is the container's still, and the network keeps its ID */
    net_free(n);
    n = net_new(&(struct net_config){.root = root}, &e);
    ASSERT_NOT_NULL(n);
    ASSERT_EQ_STR(net_id(n), nid);
    ASSERT_EQ_INT(net_ports(n, C2, &got, &ngot), 0);
    ASSERT_EQ_INT(ngot, 1);
    ASSERT_EQ_INT(got[0].published, 40001);
    free(got);
    ASSERT_EQ_INT(net_ports(n, C1, &got, &ngot), -ERR_NOT_FOUND);
    /* a teardown makes the next network a new one */
    ASSERT_EQ_INT(net_teardown(n, &e), 0);
    ASSERT_TRUE(strcmp(net_id(n), nid) != 0);
    net_free(n);
    free(root);
}

TEST_T(net_kernel_configured_subnet_and_outbound_nat, 60)
{
    kernel_setup();
    char *root = xasprintf("%s/net", tmpdir);
    struct err e = {0};
    if (access("/usr/sbin/ip", X_OK) < 0 && access("/sbin/ip", X_OK) < 0)
        NEED_TOOL("ip (iproute2)");
    struct net *n = net_new(
        &(struct net_config){
            .root = root, .subnet = "10.123.4.0/24", .bridge = "shbr0", .table = "shoaltest"},
        &e);
    ASSERT_NOT_NULL(n);
    struct net_attachment a;
    if (net_attach(n, C1, NULL, NULL, 0, &a, &e) < 0)
        FAIL_AT("attach: %s", e.msg);
    ASSERT_EQ_STR(a.address, "10.123.4.2/24");
    ASSERT_EQ_STR(a.gateway, "10.123.4.1");
    ASSERT_TRUE(if_nametoindex("shbr0") > 0);

    /* an "outside" peer: a namespace with 10.250.0.2 on a veth to the node's 10.250.0.1, and
     * no route back to the container subnet: only masquerade to 10.250.0.1 lets it answer */
    char *peer = xasprintf("%s/peer", tmpdir);
    int fd = open(peer, O_RDONLY | O_CREAT, 0444);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0 ||
            mount("/proc/self/ns/net", peer, "none", MS_BIND, NULL) < 0)
            _exit(1);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    /* made from inside the peer, the other end sent to the test's namespace by our pid */
    char *cmd = xasprintf("ip link add eth0 type veth peer name shx0 netns %d && "
                          "ip addr add 10.250.0.2/24 dev eth0 && ip link set eth0 up && "
                          "ip link set lo up",
                          (int)getpid());
    char *argv_sh[] = {"/bin/sh", "-c", cmd, NULL};
    ASSERT_EQ_INT(run(peer, argv_sh, NULL), 0);
    free(cmd);
    char *argv_up[] = {"/bin/sh", "-c", "ip addr add 10.250.0.1/24 dev shx0 && ip link set shx0 up",
                       NULL};
    ASSERT_EQ_INT(run(NULL, argv_up, NULL), 0);
    pid_t srv = serve(peer, 7000, "outside", 1);
    char *out = fetch(a.netns_path, "10.250.0.2", 7000);
    ASSERT_EQ_STR(out, "hello from outside");
    free(out);
    waitpid(srv, &st, 0);
    ASSERT_EQ_INT(net_teardown(n, &e), 0);
    char *tables = nft_list("tables");
    ASSERT_FALSE(strstr(tables, "shoaltest"));
    free(tables);
    ASSERT_EQ_INT(if_nametoindex("shbr0"), 0);
    umount2(peer, MNT_DETACH);
    free(peer);
    net_free(n);
    free(root);
}
