/* test_daemon.c — the daemon's pure helpers: connection caps sized from RLIMIT_NOFILE. */
#include "daemon/daemon.h"
#include "harness.h"

/* What the listeners may hold together never reaches into the reserve. */
static void check_caps(uint64_t nofile, int napi)
{
    struct daemon_caps c;
    daemon_size_caps(nofile, napi, &c);
    uint64_t reserve = nofile / 2 < DAEMON_FD_RESERVE ? nofile / 2 : DAEMON_FD_RESERVE;
    uint64_t all = c.peer_max_conns + (uint64_t)napi * c.api_max_conns;
    if (all + reserve > nofile)
        FAIL_AT("nofile %" PRIu64 ", %d API listeners: caps %zu + %d * %zu leave less than %" PRIu64
                " free",
                nofile, napi, c.peer_max_conns, napi, c.api_max_conns, reserve);
    ASSERT_TRUE(c.peer_max_conns >= 1);
    ASSERT_TRUE(c.api_max_conns >= 1);
}

TEST(daemon_caps_from_nofile)
{
    struct daemon_caps c;
    /* a default soft limit that could not be raised */
    daemon_size_caps(1024, 1, &c);
    ASSERT_EQ_INT(c.peer_max_conns, 384);
    ASSERT_EQ_INT(c.api_max_conns, 192);
    /* this machine's hard limit, two -H listeners */
    daemon_size_caps(20000, 2, &c);
    ASSERT_EQ_INT(c.peer_max_conns, 9872);
    ASSERT_EQ_INT(c.api_max_conns, 2468);
    /* systemd's hard limit: bounded, memory is the limit there */
    daemon_size_caps(1 << 20, 1, &c);
    ASSERT_EQ_INT(c.peer_max_conns, 16384);
    ASSERT_EQ_INT(c.api_max_conns, 4096);
    /* tiny limits still leave half free */
    daemon_size_caps(64, 1, &c);
    ASSERT_EQ_INT(c.peer_max_conns, 16);
    ASSERT_EQ_INT(c.api_max_conns, 8);
    /* (below 4 descriptors per listener a cap of 1 each is the floor) */
    static const uint64_t limits[] = {256, 511, 512, 513, 1000, 1024, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        for (int napi = 1; napi <= 32; napi++)
            check_caps(limits[i], napi);
}

/* --cgroup-parent: absolute cgroupfs paths below the root; anything runc or the executor's
 * "<parent>/<id>" paths would resolve elsewhere is refused with the reason. */
TEST(daemon_cgroup_parent_check)
{
    static const char *const good[] = {"/shoal", "/dsw/host1/ctr", "/a.b/c-d_e/f:g@h+i", "/x"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct err e = {0};
        if (daemon_cgroup_parent_check(good[i], &e) != 0)
            FAIL_AT("%s refused: %s", good[i], e.msg);
    }
    static const struct {
        const char *path, *why;
    } bad[] = {
        {"", "must be an absolute path (cgroupfs), such as /shoal"},
        {"shoal", "must be an absolute path (cgroupfs), such as /shoal"},
        {"/", "must name a cgroup below the root"},
        {"/a//b", "empty path component"},
        {"/a/", "empty path component"},
        {"/a/../b", "\".\" and \"..\" components are not allowed"},
        {"/..", "\".\" and \"..\" components are not allowed"},
        {"/a/.", "\".\" and \"..\" components are not allowed"},
        {"/a b", "character ' ' is not allowed"},
        {"/a%s", "character '%' is not allowed"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct err e = {0};
        if (daemon_cgroup_parent_check(bad[i].path, &e) != -ERR_INVALID)
            FAIL_AT("\"%s\" accepted", bad[i].path);
        ASSERT_EQ_STR(e.msg, bad[i].why);
    }
    /* dot-prefixed names are names, not "." or ".." */
    struct err e = {0};
    ASSERT_EQ_INT(daemon_cgroup_parent_check("/.a/..b/...", &e), 0);
    char longp[DAEMON_CGROUP_PARENT_MAX + 2];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = 0;
    ASSERT_EQ_INT(daemon_cgroup_parent_check(longp, &e), -ERR_INVALID);
    longp[sizeof(longp) - 2] = 0;
    ASSERT_EQ_INT(daemon_cgroup_parent_check(longp, &e), 0);
}
