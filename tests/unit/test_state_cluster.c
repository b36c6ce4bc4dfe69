/* test_state_cluster.c — the state module's multi-manager parts against real etcds
 * (Debian's /usr/bin/etcd; skipped when missing): etcd dying with its parent (setpriv
 * pdeathsig), membership (two members over mutual TLS, three members and quorum), leases
 * and elections (one leader, resign and take-over, fencing with STATE_OP_CHECK,
 * revoke_holder, stepping down on a frozen etcd) and the failover time after a leader's
 * crash, printed as '#' lines. Every etcd runs in a temp dir on free high ports of
 * 127.0.0.1; every test removes its dirs and stops (or reaps) its etcds.
 * Thread: the test's own loop (plus one forked child in the pdeathsig test). */
#include "ca/ca.h"
#include "harness.h"
#include "state/state.h"
#include "state/state_int.h"
#include "test_etcd_side.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ETCD_BIN "/usr/bin/etcd"
#define PREFIX "/t/"
#define ELECT_KEY "/elect/leader"

/* ---- plumbing ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        FAIL_AT("bind");
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void need_etcd(void)
{
    if (access(ETCD_BIN, X_OK) != 0)
        NEED_TOOL("%s not installed", ETCD_BIN);
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

struct ev_rec {
    enum state_event_type type;
    char *key;
    char *value;
};

/* One manager: a state instance with its own dir and ports, sharing the test's loop. */
struct node {
    uv_loop_t *loop;
    struct state *st;
    char name[16];
    char dir[64];
    char *data_dir, *log_file;
    int client_port, peer_port;
    struct state_config cfg;
    bool ready_done;
    int ready_rc;
    char ready_msg[ERR_MSG_MAX];
    struct ev_rec *evs;
    size_t nevs;
    bool stopped;
};

static void node_init(struct node *n, uv_loop_t *loop, const char *name)
{
    memset(n, 0, sizeof(*n));
    n->loop = loop;
    snprintf(n->name, sizeof(n->name), "%s", name);
    snprintf(n->dir, sizeof(n->dir), "/tmp/shoal-statec-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(n->dir));
    n->data_dir = xasprintf("%s/etcd", n->dir);
    n->log_file = xasprintf("%s/etcd.log", n->dir);
    n->client_port = free_port();
    do
        n->peer_port = free_port();
    while (n->peer_port == n->client_port);
    n->cfg = (struct state_config){
        .etcd_bin = ETCD_BIN,
        .data_dir = n->data_dir,
        .name = n->name,
        .peer_host = "127.0.0.1",
        .peer_port = n->peer_port,
        .client_port = n->client_port,
        .log_file = n->log_file,
    };
}

static void node_clear_events(struct node *n)
{
    for (size_t i = 0; i < n->nevs; i++) {
        free(n->evs[i].key);
        free(n->evs[i].value);
    }
    free(n->evs);
    n->evs = NULL;
    n->nevs = 0;
}

static void node_release(struct node *n)
{
    node_clear_events(n);
    dir_remove_all(n->dir, NULL);
    free(n->data_dir);
    free(n->log_file);
    free((char *)n->cfg.initial_cluster);
}

static void on_ready(void *data, int rc, struct err *e)
{
    struct node *n = data;
    n->ready_done = true;
    n->ready_rc = rc;
    if (e)
        snprintf(n->ready_msg, sizeof(n->ready_msg), "%s", e->msg);
}

static void on_event(void *data, const struct state_event *ev)
{
    struct node *n = data;
    n->evs = xrealloc(n->evs, (n->nevs + 1) * sizeof(*n->evs));
    struct ev_rec *r = &n->evs[n->nevs++];
    r->type = ev->type;
    r->key = xstrdup(ev->key);
    r->value = ev->type == STATE_PUT ? xstrndup(ev->value, ev->value_len) : NULL;
}

static void on_stopped(void *data)
{
    ((struct node *)data)->stopped = true;
}

/* Runs the loop until *flag or ms elapse; returns *flag. */
static bool run_until(uv_loop_t *loop, const bool *flag, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!*flag && now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    return *flag;
}

static void run_for(uv_loop_t *loop, int ms)
{
    bool never = false;
    run_until(loop, &never, ms);
}

/* A timer keeps uv_run(ONCE) from blocking forever while we poll conditions. */
static void on_tick(uv_timer_t *t)
{
}

static void node_start(struct node *n)
{
    n->ready_done = n->stopped = false;
    n->st = state_new(n->loop, &n->cfg);
    state_start(n->st, PREFIX, on_ready, on_event, n);
}

static void node_wait_ready(struct node *n)
{
    if (!run_until(n->loop, &n->ready_done, 30000))
        FAIL_AT("%s: not ready in 30 s", n->name);
    if (n->ready_rc)
        FAIL_AT("%s: start failed: %s", n->name, n->ready_msg);
}

static void node_stop_async(struct node *n)
{
    if (!n->st)
        return;
    state_stop(n->st, on_stopped, n);
    n->st = NULL;
}

/* Stops every node and closes the loop. etcd's Raft followers go first: a leader told to
 * stop hands its leadership over, and waits ~6 s for that if the follower it picked is
 * stopping too. */
static void stop_all(uv_loop_t *loop, uv_timer_t *tick, struct node *nodes, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            struct state *st = nodes[i].st;
            if (st && (pass == 1 || !st->etcd_member || st->etcd_leader != st->etcd_member))
                node_stop_async(&nodes[i]);
        }
        for (size_t i = 0; i < n; i++)
            if (!nodes[i].st && !run_until(loop, &nodes[i].stopped, 20000))
                FAIL_AT("%s did not stop", nodes[i].name);
    }
    if (tick)
        uv_close((uv_handle_t *)tick, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    for (size_t i = 0; i < n; i++)
        ASSERT_TRUE(nodes[i].stopped);
    ASSERT_EQ_INT(uv_loop_close(loop), 0);
}

struct txn_res {
    bool done;
    int rc;
    int64_t rev;
    char msg[ERR_MSG_MAX];
};

static void on_txn(void *data, int rc, int64_t rev, struct err *e)
{
    struct txn_res *t = data;
    t->done = true;
    t->rc = rc;
    t->rev = rev;
    if (e)
        snprintf(t->msg, sizeof(t->msg), "%s", e->msg);
}

static struct txn_res run_txn(struct node *n, const struct state_op *ops, size_t nops)
{
    struct txn_res t = {0};
    state_txn(n->st, ops, nops, on_txn, &t);
    if (!run_until(n->loop, &t.done, 20000))
        FAIL_AT("%s: txn did not complete", n->name);
    return t;
}

static struct txn_res put(struct node *n, const char *key, const char *value)
{
    struct state_op op = {STATE_OP_PUT, key, value, strlen(value), STATE_ANY_REVISION};
    return run_txn(n, &op, 1);
}

static bool has_event(struct node *n, const char *key, const char *value)
{
    for (size_t i = 0; i < n->nevs; i++)
        if (!strcmp(n->evs[i].key, key) && n->evs[i].value && !strcmp(n->evs[i].value, value))
            return true;
    return false;
}

static bool wait_event(struct node *n, const char *key, const char *value, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!has_event(n, key, value) && now_ms() < end)
        uv_run(n->loop, UV_RUN_ONCE);
    return has_event(n, key, value);
}

/* ---- membership calls, run to completion ---- */

struct member_res {
    bool done;
    int rc;
    char msg[ERR_MSG_MAX];
    char *ic;
};

static void on_member(void *data, int rc, const char *ic, struct err *e)
{
    struct member_res *r = data;
    r->done = true;
    r->rc = rc;
    r->ic = ic ? xstrdup(ic) : NULL;
    if (e)
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
}

struct list_res {
    bool done;
    int rc;
    char msg[ERR_MSG_MAX];
    size_t n;
    struct {
        char name[32];
        uint64_t id;
        char peer[128], client[128];
        bool leader;
    } m[8];
};

static void on_list(void *data, int rc, const struct state_member *m, size_t n, struct err *e)
{
    struct list_res *r = data;
    r->done = true;
    r->rc = rc;
    if (e)
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
    r->n = n;
    for (size_t i = 0; i < n && i < ARRAY_SIZE(r->m); i++) {
        snprintf(r->m[i].name, sizeof(r->m[i].name), "%s", m[i].name);
        snprintf(r->m[i].peer, sizeof(r->m[i].peer), "%s", m[i].peer_url);
        snprintf(r->m[i].client, sizeof(r->m[i].client), "%s", m[i].client_url);
        r->m[i].id = m[i].id;
        r->m[i].leader = m[i].is_leader;
    }
}

static struct member_res member_add(struct node *via, struct node *nw)
{
    struct member_res r = {0};
    char *url = state_peer_url(&nw->cfg);
    state_member_add(via->st, nw->name, url, on_member, &r);
    free(url);
    ASSERT_FALSE(r.done); /* never inside the call */
    if (!run_until(via->loop, &r.done, 30000))
        FAIL_AT("member add of %s did not complete", nw->name);
    return r;
}

static struct member_res member_remove(struct node *via, const char *what)
{
    struct member_res r = {0};
    state_member_remove(via->st, what, on_member, &r);
    ASSERT_FALSE(r.done);
    if (!run_until(via->loop, &r.done, 30000))
        FAIL_AT("member remove of %s did not complete", what);
    return r;
}

static struct list_res member_list(struct node *via)
{
    struct list_res r = {0};
    state_member_list(via->st, on_list, &r);
    ASSERT_FALSE(r.done);
    if (!run_until(via->loop, &r.done, 20000))
        FAIL_AT("member list did not complete");
    return r;
}

static int leaders_in(const struct list_res *l)
{
    int k = 0;
    for (size_t i = 0; i < l->n; i++)
        k += l->m[i].leader;
    return k;
}

/* Adds nw through `via` and starts it with the initial cluster that came back. */
static void join(struct node *via, struct node *nw)
{
    struct member_res r = member_add(via, nw);
    if (r.rc)
        FAIL_AT("member add %s: %s", nw->name, r.msg);
    ASSERT_NOT_NULL(r.ic);
    char *self =
        xasprintf("%s=http%s://127.0.0.1:%d", nw->name, nw->cfg.ca_file ? "s" : "", nw->peer_port);
    ASSERT_CONTAINS(r.ic, self);
    free(self);
    nw->cfg.initial_cluster = r.ic; /* owned by the node now */
    node_start(nw);
    node_wait_ready(nw);
}

/* ---- elections ---- */

struct camp {
    struct node *node;
    struct state_election *el;
    int changes;
    bool leader;
    int64_t rev;
    char value[64];
    uint64_t at_ms; /* when the last change came */
    bool resign_when_leader;
};

static void on_change(void *data, bool leader, int64_t rev, const char *value)
{
    struct camp *c = data;
    if (!c->el)
        FAIL_AT("on_change after resign");
    c->changes++;
    c->leader = leader;
    c->rev = rev;
    snprintf(c->value, sizeof(c->value), "%s", value);
    c->at_ms = now_ms();
    if (leader && c->rev <= 0)
        FAIL_AT("leader without a revision");
    if (leader && c->resign_when_leader) {
        state_resign(c->el);
        c->el = NULL;
    }
}

static void campaign(struct camp *c, struct node *n, const char *value, int ttl)
{
    memset(c, 0, sizeof(*c));
    c->node = n;
    c->el = state_campaign(n->st, ELECT_KEY, value, ttl, on_change, c);
    ASSERT_EQ_INT(c->changes, 0); /* never inside the call */
}

static void resign(struct camp *c)
{
    state_resign(c->el);
    c->el = NULL;
}

static bool camp_leads(void *arg)
{
    struct camp *c = arg;
    return c->el && c->leader;
}

static bool wait_for(uv_loop_t *loop, bool (*pred)(void *), void *arg, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!pred(arg) && now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    return pred(arg);
}

struct camps {
    struct camp *c;
    size_t n;
};

/* Exactly one leader, and every other campaigner names it. */
static bool settled(void *arg)
{
    struct camps *cs = arg;
    struct camp *lead = NULL;
    for (size_t i = 0; i < cs->n; i++) {
        if (!cs->c[i].el)
            continue;
        if (cs->c[i].leader) {
            if (lead)
                return false;
            lead = &cs->c[i];
        }
    }
    if (!lead)
        return false;
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].el && &cs->c[i] != lead &&
            (cs->c[i].rev != lead->rev || strcmp(cs->c[i].value, lead->value)))
            return false;
    return true;
}

static struct camp *leader_of(struct camps *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].el && cs->c[i].leader)
            return &cs->c[i];
    return NULL;
}

static struct txn_res fenced_put(struct node *n, int64_t leader_rev, const char *key,
                                 const char *value)
{
    struct state_op ops[2] = {
        {STATE_OP_CHECK, ELECT_KEY, NULL, 0, leader_rev},
        {STATE_OP_PUT, key, value, strlen(value), STATE_ANY_REVISION},
    };
    return run_txn(n, ops, 2);
}

/* ---- tests ---- */

TEST(state_argv_raft_timing_and_peer_url)
{
    struct state_config cfg = {
        .data_dir = "/d", .name = "n1", .peer_host = "10.0.0.2", .peer_port = 4380};
    char **argv = state_proc_argv(&cfg);
    struct buf b = BUF_INIT;
    for (char **a = argv; *a; a++)
        buf_printf(&b, "%s ", *a);
    ASSERT_CONTAINS(b.p, "--heartbeat-interval 50 ");
    ASSERT_CONTAINS(b.p, "--election-timeout 500 ");
    ASSERT_CONTAINS(b.p, "--pre-vote ");
    ASSERT_EQ_STR(argv[0], "/usr/bin/etcd"); /* setpriv is added at spawn, not here */
    state_proc_argv_free(argv);
    buf_reset(&b);
    cfg.heartbeat_ms = 100;
    cfg.election_ms = 1000;
    argv = state_proc_argv(&cfg);
    for (char **a = argv; *a; a++)
        buf_printf(&b, "%s ", *a);
    ASSERT_CONTAINS(b.p, "--heartbeat-interval 100 --election-timeout 1000 ");
    state_proc_argv_free(argv);
    buf_release(&b);

    char *u = state_peer_url(&cfg);
    ASSERT_EQ_STR(u, "http://10.0.0.2:4380");
    free(u);
    cfg.ca_file = "/ca.pem";
    cfg.peer_host = "fd00::2";
    u = state_peer_url(&cfg);
    ASSERT_EQ_STR(u, "https://[fd00::2]:4380");
    free(u);
}

/* The "daemon": starts state, reports etcd's PID on fd, then serves until killed. */
static void daemon_child(int fd, struct node *n)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    uv_loop_t loop;
    uv_loop_init(&loop);
    n->loop = &loop;
    node_start(n);
    run_until(&loop, &n->ready_done, 30000);
    int pid = n->ready_done && n->ready_rc == 0 ? state_etcd_pid(n->st) : 0;
    if (write(fd, &pid, sizeof(pid)) != sizeof(pid))
        _exit(1);
    for (;;)
        uv_run(&loop, UV_RUN_DEFAULT);
}

TEST_T(state_etcd_dies_with_killed_parent, 60)
{
    need_etcd();
    if (access("/usr/bin/setpriv", X_OK) != 0)
        NEED_TOOL("/usr/bin/setpriv not installed");
    /* Orphans are re-parented to us, so we can reap (and so check) the etcd. */
    ASSERT_EQ_INT(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    uv_loop_t loop;
    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    struct node n;
    node_init(&n, &loop, "orphan");
    int fds[2];
    ASSERT_EQ_INT(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_TRUE(child >= 0);
    if (child == 0) {
        close(fds[0]);
        daemon_child(fds[1], &n);
    }
    close(fds[1]);
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    ASSERT_EQ_INT(poll(&pfd, 1, 40000), 1);
    int etcd = 0;
    ASSERT_EQ_INT(read(fds[0], &etcd, sizeof(etcd)), sizeof(etcd));
    close(fds[0]);
    if (etcd <= 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        FAIL_AT("the child's state did not start");
    }
    /* state_etcd_pid is etcd itself (setpriv exec'd it), a child of the daemon. */
    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", etcd);
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(comm, sizeof(comm), f));
    fclose(f);
    ASSERT_EQ_STR(comm, "etcd\n");
    snprintf(path, sizeof(path), "/proc/%d/status", etcd);
    char *status = NULL;
    size_t len = 0;
    ASSERT_EQ_INT(file_read(path, &status, &len, NULL), 0);
    char want[32];
    snprintf(want, sizeof(want), "\nPPid:\t%d\n", child);
    ASSERT_CONTAINS(status, want);
    free(status);

    ASSERT_EQ_INT(kill(child, SIGKILL), 0);
    ASSERT_EQ_INT(waitpid(child, NULL, 0), child);
    uint64_t t0 = now_ms();
    int ws = 0;
    pid_t got = 0;
    while (got == 0 && now_ms() - t0 < 2000) {
        got = waitpid(etcd, &ws, WNOHANG);
        if (got == 0)
            usleep(10000);
    }
    if (got != etcd) {
        kill(etcd, SIGKILL);
        waitpid(etcd, NULL, 0);
        FAIL_AT("etcd %d outlived its killed parent by 2 s", etcd);
    }
    ASSERT_TRUE(WIFSIGNALED(ws));
    ASSERT_EQ_INT(WTERMSIG(ws), SIGKILL);
    printf("# orphaned etcd died %llu ms after its parent\n", (unsigned long long)(now_ms() - t0));
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    node_release(&n);
}

static void write_file(const char *dir, const char *name, const char *data, char **path)
{
    *path = xasprintf("%s/%s", dir, name);
    struct err e = {0};
    if (file_write_atomic(*path, data, strlen(data), 0600, &e) < 0)
        FAIL_AT("write %s: %s", *path, e.msg);
}

TEST_T(state_members_two_over_tls, 120)
{
    need_etcd();
    uv_loop_t loop;
    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50);
    struct node nodes[2];
    struct node *a = &nodes[0], *b = &nodes[1];
    node_init(a, &loop, "nodeA");
    node_init(b, &loop, "nodeB");

    /* One certificate for both (SAN 127.0.0.1), from a fresh swarm CA. */
    struct err e = {0};
    char *ca_cert = NULL, *ca_key = NULL, *key = NULL, *csr = NULL, *cert = NULL;
    ASSERT_EQ_INT(ca_root_new(&ca_cert, &ca_key, &e), 0);
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    struct ca_identity id = {0};
    snprintf(id.cn, sizeof(id.cn), "nodeA");
    snprintf(id.ou, sizeof(id.ou), "swarm-manager");
    snprintf(id.org, sizeof(id.org), "cluster1");
    const char *ips[] = {"127.0.0.1"};
    ASSERT_EQ_INT(ca_issue(ca_cert, ca_key, csr, &id, CA_NODE_EXPIRY_NS, ips, 1, &cert, &e), 0);
    char *ca_path, *cert_path, *key_path;
    write_file(a->dir, "ca.pem", ca_cert, &ca_path);
    write_file(a->dir, "cert.pem", cert, &cert_path);
    write_file(a->dir, "key.pem", key, &key_path);
    for (int i = 0; i < 2; i++) {
        nodes[i].cfg.ca_file = ca_path;
        nodes[i].cfg.cert_file = cert_path;
        nodes[i].cfg.key_file = key_path;
    }

    /* Not started: membership calls fail (later, not inside the call). */
    a->st = state_new(&loop, &a->cfg);
    struct member_res r = member_add(a, b);
    ASSERT_EQ_INT(r.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(r.msg, "not started");
    ASSERT_FALSE(state_has_leader(a->st));
    state_stop(a->st, on_stopped, a);
    a->st = NULL;
    ASSERT_TRUE(run_until(&loop, &a->stopped, 5000));

    node_start(a);
    node_wait_ready(a);
    ASSERT_TRUE(state_has_leader(a->st));
    struct list_res l = member_list(a);
    ASSERT_EQ_INT(l.rc, 0);
    ASSERT_EQ_INT(l.n, 1);
    ASSERT_EQ_STR(l.m[0].name, "nodeA");
    ASSERT_TRUE(l.m[0].leader);
    ASSERT_TRUE(l.m[0].id != 0);
    char *a_peer = state_peer_url(&a->cfg);
    ASSERT_EQ_STR(l.m[0].peer, a_peer);
    char want[64];
    snprintf(want, sizeof(want), "https://127.0.0.1:%d", a->client_port);
    ASSERT_EQ_STR(l.m[0].client, want);

    ASSERT_EQ_INT(put(a, PREFIX "before", "1").rc, 0);
    join(a, b);
    char *ic = xasprintf("nodeA=%s", a_peer);
    ASSERT_CONTAINS(b->cfg.initial_cluster, ic);
    free(ic);
    free(a_peer);
    /* B lists what A wrote before it joined, then both see each other's writes. */
    ASSERT_TRUE(has_event(b, PREFIX "before", "1"));
    ASSERT_EQ_INT(put(a, PREFIX "from-a", "A").rc, 0);
    ASSERT_TRUE(wait_event(b, PREFIX "from-a", "A", 10000));
    ASSERT_EQ_INT(put(b, PREFIX "from-b", "B").rc, 0);
    ASSERT_TRUE(wait_event(a, PREFIX "from-b", "B", 10000));
    ASSERT_TRUE(state_has_leader(b->st));

    l = member_list(b);
    ASSERT_EQ_INT(l.rc, 0);
    ASSERT_EQ_INT(l.n, 2);
    ASSERT_EQ_INT(leaders_in(&l), 1);
    bool saw_a = false, saw_b = false;
    for (size_t i = 0; i < l.n; i++) {
        saw_a |= !strcmp(l.m[i].name, "nodeA");
        saw_b |= !strcmp(l.m[i].name, "nodeB");
    }
    ASSERT_TRUE(saw_a && saw_b);

    /* B has started: adding its peer URL again is a conflict. */
    r = member_add(a, b);
    ASSERT_EQ_INT(r.rc, -ERR_CONFLICT);
    ASSERT_CONTAINS(r.msg, "already started");
    r = member_remove(a, "nobody");
    ASSERT_EQ_INT(r.rc, -ERR_NOT_FOUND);

    /* Removing B (etcd refuses for ~5 s after B connected: retried inside). */
    uint64_t t0 = now_ms();
    r = member_remove(a, "nodeB");
    if (r.rc)
        FAIL_AT("member remove: %s", r.msg);
    ASSERT_NULL(r.ic);
    printf("# member remove took %llu ms (etcd's 5 s reconfiguration guard)\n",
           (unsigned long long)(now_ms() - t0));
    l = member_list(a);
    ASSERT_EQ_INT(l.n, 1);
    ASSERT_EQ_STR(l.m[0].name, "nodeA");
    ASSERT_EQ_INT(put(a, PREFIX "alone", "again").rc, 0); /* quorum of one again */
    /* B's etcd exits for good; it is not restarted in a loop. */
    uint64_t end = now_ms() + 10000;
    while (state_etcd_pid(b->st) && now_ms() < end)
        uv_run(&loop, UV_RUN_ONCE);
    run_for(&loop, 500);
    ASSERT_EQ_INT(state_etcd_pid(b->st), 0);
    ASSERT_FALSE(state_available(b->st));
    ASSERT_FALSE(state_has_leader(b->st));
    ASSERT_EQ_STR(state_unavailable_reason(b->st), "this member was removed from the etcd cluster");

    stop_all(&loop, &tick, nodes, 2);
    node_release(a);
    node_release(b);
    free(ca_path);
    free(cert_path);
    free(key_path);
    free(ca_cert);
    free(ca_key);
    free(key);
    free(csr);
    free(cert);
}

/* Starts three members: A, then B and C joined through A; Raft timing hb/el ms (0: the
 * defaults). */
static void cluster3(uv_loop_t *loop, struct node *nodes, int hb, int el)
{
    node_init(&nodes[0], loop, "nodeA");
    node_init(&nodes[1], loop, "nodeB");
    node_init(&nodes[2], loop, "nodeC");
    for (int i = 0; i < 3; i++) {
        nodes[i].cfg.heartbeat_ms = hb;
        nodes[i].cfg.election_ms = el;
    }
    node_start(&nodes[0]);
    node_wait_ready(&nodes[0]);
    join(&nodes[0], &nodes[1]);
    join(&nodes[0], &nodes[2]);
}

TEST_T(state_members_three_keep_quorum, 120)
{
    need_etcd();
    uv_loop_t loop;
    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50);
    struct node nodes[3];
    cluster3(&loop, nodes, 0, 0);
    struct list_res l = member_list(&nodes[2]);
    ASSERT_EQ_INT(l.n, 3);
    ASSERT_EQ_INT(leaders_in(&l), 1);

    /* One member stops: the other two are a quorum and keep accepting writes. */
    node_stop_async(&nodes[1]);
    ASSERT_TRUE(run_until(&loop, &nodes[1].stopped, 10000));
    struct txn_res t = put(&nodes[0], PREFIX "q1", "from A");
    if (t.rc)
        FAIL_AT("write on A with B down: %s", t.msg);
    t = put(&nodes[2], PREFIX "q2", "from C");
    if (t.rc)
        FAIL_AT("write on C with B down: %s", t.msg);
    ASSERT_TRUE(wait_event(&nodes[0], PREFIX "q2", "from C", 10000));
    ASSERT_TRUE(wait_event(&nodes[2], PREFIX "q1", "from A", 10000));
    l = member_list(&nodes[0]);
    ASSERT_EQ_INT(l.n, 3); /* B is down, still a member */

    /* B comes back on its data dir and catches up. */
    node_clear_events(&nodes[1]);
    node_start(&nodes[1]);
    node_wait_ready(&nodes[1]);
    ASSERT_TRUE(has_event(&nodes[1], PREFIX "q1", "from A"));
    ASSERT_TRUE(has_event(&nodes[1], PREFIX "q2", "from C"));

    stop_all(&loop, &tick, nodes, 3);
    for (int i = 0; i < 3; i++)
        node_release(&nodes[i]);
}

/* A write sent through a follower right as etcd's Raft leader dies is forwarded to the dead
 * leader and lost with it; etcd would answer it only after its 6 s request timeout. The client
 * sends it again as soon as the follower reports the new leader, so it is acknowledged within
 * about one etcd election (not failed after the 1.5 s attempt timeout), exactly once. */
TEST_T(state_txn_survives_etcd_leader_death, 120)
{
    need_etcd();
    uv_loop_t loop;
    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    struct node nodes[3];
    cluster3(&loop, nodes, 0, 0);
    for (int round = 0; round < 2; round++) {
        struct list_res l = member_list(&nodes[0]);
        ASSERT_EQ_INT(leaders_in(&l), 1);
        int dead = -1;
        for (int i = 0; i < 3; i++)
            for (size_t j = 0; j < l.n; j++)
                if (l.m[j].leader && !strcmp(l.m[j].name, nodes[i].name))
                    dead = i;
        ASSERT_TRUE(dead >= 0);
        struct node *via = &nodes[(dead + 1) % 3];
        char key[64];
        snprintf(key, sizeof(key), PREFIX "through-death-%d", round);
        struct txn_res warm = put(via, key, "before");
        ASSERT_EQ_INT(warm.rc, 0);
        struct state_op op = {STATE_OP_PUT, key, "after", 5, warm.rev};
        ASSERT_EQ_INT(kill(state_etcd_pid(nodes[dead].st), SIGKILL), 0);
        uint64_t t0 = now_ms();
        struct txn_res t = run_txn(via, &op, 1);
        uint64_t took = now_ms() - t0;
        printf("# write sent as the etcd leader died: rc %d after %llu ms (%s)\n", t.rc,
               (unsigned long long)took, t.msg);
        if (t.rc)
            FAIL_AT("the write failed: %s", t.msg);
        ASSERT_TRUE(t.rev > warm.rev);
        /* applied once, at the revision it reported */
        uint64_t end = now_ms() + 5000;
        while (now_ms() < end && !has_event(via, key, "after"))
            uv_run(&loop, UV_RUN_ONCE);
        ASSERT_TRUE(has_event(via, key, "after"));
        /* the dead member comes back (its state restarts etcd by itself) */
        end = now_ms() + 20000;
        while (now_ms() < end && !state_has_leader(nodes[dead].st))
            uv_run(&loop, UV_RUN_ONCE);
        ASSERT_TRUE(state_has_leader(nodes[dead].st));
    }
    stop_all(&loop, &tick, nodes, 3);
    for (int i = 0; i < 3; i++)
        node_release(&nodes[i]);
}

/* One etcd, several campaigners. */
struct solo {
    uv_loop_t loop;
    uv_timer_t tick;
    struct node n;
};

static void solo_start(struct solo *s)
{
    need_etcd();
    ASSERT_EQ_INT(uv_loop_init(&s->loop), 0);
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_start(&s->tick, on_tick, 20, 20);
    node_init(&s->n, &s->loop, "solo");
    node_start(&s->n);
}

static void solo_stop(struct solo *s)
{
    stop_all(&s->loop, &s->tick, &s->n, 1);
    node_release(&s->n);
}

TEST_T(state_election_single_leader, 60)
{
    struct solo s;
    solo_start(&s);
    /* Campaigning before etcd is ready: it starts once etcd answers. */
    struct camp c;
    campaign(&c, &s.n, "me", 2);
    ASSERT_FALSE(state_election_is_leader(c.el));
    node_wait_ready(&s.n);
    ASSERT_TRUE(wait_for(&s.loop, camp_leads, &c, 10000));
    ASSERT_EQ_INT(c.changes, 1);
    ASSERT_EQ_STR(c.value, "me");
    ASSERT_TRUE(state_election_is_leader(c.el));
    int64_t rev = c.rev;

    /* CHECK: compare only. On the leader key's revision it passes; expect 0 means absent. */
    struct txn_res t = fenced_put(&s.n, rev, PREFIX "w1", "x");
    if (t.rc)
        FAIL_AT("fenced write: %s", t.msg);
    struct state_op absent = {STATE_OP_CHECK, ELECT_KEY, NULL, 0, 0};
    t = run_txn(&s.n, &absent, 1);
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    ASSERT_EQ_STR(t.msg, ERR_MSG_OUT_OF_SEQUENCE);
    absent.key = "/elect/none";
    t = run_txn(&s.n, &absent, 1);
    ASSERT_EQ_INT(t.rc, 0);

    /* It keeps leading across several keepalives (TTL 2 s). */
    run_for(&s.loop, 3000);
    ASSERT_EQ_INT(c.changes, 1);
    ASSERT_TRUE(state_election_is_leader(c.el));

    /* Resigning deletes the key (the absent check passes soon) and stays silent. */
    resign(&c);
    absent.key = ELECT_KEY;
    uint64_t end = now_ms() + 3000;
    do
        t = run_txn(&s.n, &absent, 1);
    while (t.rc && now_ms() < end);
    ASSERT_EQ_INT(t.rc, 0);
    t = fenced_put(&s.n, rev, PREFIX "w2", "x");
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    ASSERT_EQ_INT(c.changes, 1);
    state_resign(NULL);
    solo_stop(&s);
}

TEST_T(state_election_two_campaigners_and_fencing, 60)
{
    struct solo s;
    solo_start(&s);
    node_wait_ready(&s.n);
    struct camp c[2];
    campaign(&c[0], &s.n, "one", 2);
    campaign(&c[1], &s.n, "two", 2);
    struct camps cs = {c, 2};
    ASSERT_TRUE(wait_for(&s.loop, settled, &cs, 10000));
    run_for(&s.loop, 1000);
    ASSERT_TRUE(settled(&cs)); /* still exactly one */
    struct camp *lead = leader_of(&cs), *other = lead == &c[0] ? &c[1] : &c[0];
    ASSERT_FALSE(other->leader);
    ASSERT_FALSE(state_election_is_leader(other->el));
    ASSERT_EQ_STR(other->value, lead->value);
    int64_t rev1 = lead->rev;
    ASSERT_EQ_INT(fenced_put(&s.n, rev1, PREFIX "a", "1").rc, 0);

    /* The leader resigns: the other takes over at once (no TTL wait). */
    uint64_t t0 = now_ms();
    resign(lead);
    ASSERT_TRUE(wait_for(&s.loop, camp_leads, other, 1500));
    printf("# take-over after resign: %llu ms\n", (unsigned long long)(now_ms() - t0));
    int64_t rev2 = other->rev;
    ASSERT_TRUE(rev2 > rev1);
    ASSERT_TRUE(state_election_is_leader(other->el));

    /* Fencing: the deposed leader's revision no longer passes; the new one does. */
    struct txn_res t = fenced_put(&s.n, rev1, PREFIX "a", "stale");
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    ASSERT_EQ_STR(t.msg, ERR_MSG_OUT_OF_SEQUENCE);
    t = fenced_put(&s.n, rev2, PREFIX "a", "2");
    ASSERT_EQ_INT(t.rc, 0);
    ASSERT_TRUE(wait_event(&s.n, PREFIX "a", "2", 5000));
    ASSERT_FALSE(has_event(&s.n, PREFIX "a", "stale"));

    /* A newcomer learns who leads; resigning inside on_change is fine. */
    struct camp late;
    campaign(&late, &s.n, "late", 2);
    late.resign_when_leader = true;
    run_for(&s.loop, 1000);
    ASSERT_EQ_INT(late.rev, rev2);
    ASSERT_EQ_STR(late.value, other->value);
    resign(other); /* late becomes leader and resigns inside its callback */
    uint64_t end = now_ms() + 3000;
    while (late.el && now_ms() < end)
        uv_run(&s.loop, UV_RUN_ONCE);
    ASSERT_NULL(late.el);
    ASSERT_TRUE(late.leader);
    solo_stop(&s);
}

struct done_res {
    bool done;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void on_done(void *data, int rc, struct err *e)
{
    struct done_res *r = data;
    r->done = true;
    r->rc = rc;
    if (e)
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
}

TEST_T(state_election_revoke_holder, 60)
{
    struct solo s;
    solo_start(&s);
    node_wait_ready(&s.n);
    /* A "dead" leader: a key on a 60 s lease that nobody keeps alive. */
    struct buf out = BUF_INIT;
    blocking_post(s.n.client_port, "/v3/lease/grant", "{\"TTL\":60}", &out);
    json_t *j = json_loads(out.p, 0, NULL);
    char *lease = xstrdup(json_string_value(json_object_get(j, "ID")));
    json_decref(j);
    char *k64 = b64_encode(ELECT_KEY, strlen(ELECT_KEY), true);
    char *body = xasprintf("{\"key\":\"%s\",\"value\":\"ZGVhZA==\",\"lease\":\"%s\"}", k64, lease);
    buf_reset(&out);
    blocking_post(s.n.client_port, "/v3/kv/put", body, &out);
    free(body);
    free(k64);
    free(lease);
    buf_release(&out);

    struct camp c;
    campaign(&c, &s.n, "alive", 2);
    uint64_t end = now_ms() + 5000;
    while (strcmp(c.value, "dead") && now_ms() < end)
        uv_run(&s.loop, UV_RUN_ONCE);
    ASSERT_EQ_STR(c.value, "dead"); /* "dead" (base64 ZGVhZA==) leads */
    ASSERT_FALSE(c.leader);
    int64_t dead_rev = c.rev;
    ASSERT_TRUE(dead_rev > 0);

    /* Naming another holder revokes nothing. */
    struct done_res r = {0};
    state_lease_revoke_holder(s.n.st, ELECT_KEY, dead_rev + 100, on_done, &r);
    ASSERT_FALSE(r.done);
    ASSERT_TRUE(run_until(&s.loop, &r.done, 10000));
    ASSERT_EQ_INT(r.rc, 0);
    run_for(&s.loop, 500);
    ASSERT_FALSE(c.leader);
    ASSERT_EQ_STR(c.value, "dead");

    uint64_t t0 = now_ms();
    r = (struct done_res){0};
    state_lease_revoke_holder(s.n.st, ELECT_KEY, dead_rev, on_done, &r);
    ASSERT_TRUE(wait_for(&s.loop, camp_leads, &c, 2000));
    ASSERT_TRUE(r.done);
    ASSERT_EQ_INT(r.rc, 0);
    printf("# leader after revoke_holder: %llu ms\n", (unsigned long long)(now_ms() - t0));
    ASSERT_TRUE(c.rev > dead_rev);
    ASSERT_EQ_STR(c.value, "alive");
    solo_stop(&s);
}

/* One etcd, one campaigner "me" on a TTL 2 s lease that leads and has renewed it a time or
 * two. */
static void solo_leading(struct solo *s, struct camp *c)
{
    solo_start(s);
    node_wait_ready(&s->n);
    campaign(c, &s->n, "me", 2);
    ASSERT_TRUE(wait_for(&s->loop, camp_leads, c, 10000));
    run_for(&s->loop, 700); /* a keepalive or two */
}

TEST_T(state_election_steps_down_when_etcd_frozen, 60)
{
    struct solo s;
    struct camp c;
    solo_leading(&s, &c);
    int64_t rev = c.rev;
    int pid = state_etcd_pid(s.n.st);
    ASSERT_EQ_INT(kill(pid, SIGSTOP), 0);
    uint64_t t0 = now_ms();
    uint64_t end = t0 + 5000;
    while (c.leader && now_ms() < end)
        uv_run(&s.loop, UV_RUN_ONCE);
    uint64_t took = now_ms() - t0;
    bool was_leader = state_election_is_leader(c.el);
    kill(pid, SIGCONT);
    ASSERT_FALSE(c.leader);
    ASSERT_FALSE(was_leader);
    ASSERT_EQ_INT(c.rev, 0);
    ASSERT_EQ_STR(c.value, "");
    printf("# stepped down %llu ms after etcd froze (TTL 2 s)\n", (unsigned long long)took);
    /* Within TTL/2 of the last successful keepalive (sent <= 500 ms before the freeze). */
    ASSERT_TRUE(took <= 1000 + 200);

    /* Thawed: it leads again (same key if its lease survived, else a new one). */
    ASSERT_TRUE(wait_for(&s.loop, camp_leads, &c, 10000));
    ASSERT_TRUE(c.rev >= rev);
    ASSERT_TRUE(state_election_is_leader(c.el));
    solo_stop(&s); /* stops with the election still running: resigned by state_stop */
}

/* The loop is held (a long callback) while a keepalive is on its way and past the step-down
 * deadline of the renewal before it; etcd answers meanwhile. The answer waiting in the
 * socket is read before the deadline is judged (timers run before I/O), so the leader
 * keeps leading: no step-down, no leader change. */
TEST_T(state_election_rides_out_a_loop_stall, 60)
{
    struct solo s;
    struct camp c;
    solo_leading(&s, &c);
    int changes = c.changes;
    /* a keepalive just sent: the previous one (TTL/8 = 250 ms before) set the deadline */
    uint64_t end = now_ms() + 5000;
    while (state_election_keepalive_pending(c.el) && now_ms() < end)
        uv_run(&s.loop, UV_RUN_ONCE);
    while (!state_election_keepalive_pending(c.el) && now_ms() < end)
        uv_run(&s.loop, UV_RUN_ONCE);
    ASSERT_TRUE(state_election_keepalive_pending(c.el));
    /* the stall itself: this thread busy for 800 ms (TTL/2 is 1000 ms after a renewal sent
     * 250 ms before the pending one), not a wait for anything */
    uint64_t stall_end = now_ms() + 800;
    while (now_ms() < stall_end)
        ;
    run_for(&s.loop, 300);
    ASSERT_TRUE(c.leader);
    ASSERT_EQ_INT(c.changes, changes);
    ASSERT_TRUE(state_election_is_leader(c.el));
    solo_stop(&s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool any_leads(void *arg)
{
    struct camps *cs = arg;
    return leader_of(cs) != NULL;
}

struct revoke_ctx {
    int calls, done;
};

static void on_revoke_holder(void *data, int rc, struct err *e)
{
    struct revoke_ctx *r = data;
    r->done++;
    if (rc)
        printf("# revoke_holder: %s\n", e->msg);
}

enum { FO_EXPIRY, FO_REVOKE, FO_MOVED };

/* Kills the leading manager (its etcd by SIGKILL, its state without a word) and measures
 * how long until another campaigner leads; restarts the dead one after. FO_REVOKE: the
 * survivors revoke the dead leader's lease right away, as a follower that detected the
 * death would; FO_MOVED: the leader moved etcd's Raft leadership to another member first.
 * Returns the failover time in ms. */
static uint64_t failover_round(uv_loop_t *loop, struct node *nodes, struct camp *camps, int ttl,
                               int mode, bool *was_etcd_leader)
{
    struct camps cs = {camps, 3};
    if (!wait_for(loop, settled, &cs, 15000))
        FAIL_AT("no settled leader before the round");
    struct camp *lead = leader_of(&cs);
    size_t k = (size_t)(lead - camps);
    struct node *dead = &nodes[k];
    int64_t dead_rev = lead->rev;
    if (mode == FO_MOVED) {
        struct done_res d = {0};
        state_move_etcd_leader(dead->st, NULL, on_done, &d);
        ASSERT_FALSE(d.done);
        ASSERT_TRUE(run_until(loop, &d.done, 10000));
        if (d.rc)
            FAIL_AT("moving the etcd leadership: %s", d.msg);
        /* The new etcd leader extended every lease (TTL + election timeout) when it took
         * over; a leader moves it once after winning, long before any crash: wait that out. */
        run_for(loop, ttl * 1000 + 1000);
    }
    /* Was its etcd member the Raft leader as well? */
    struct list_res l = member_list(dead);
    *was_etcd_leader = false;
    for (size_t i = 0; i < l.n; i++)
        if (l.m[i].leader && !strcmp(l.m[i].name, dead->name))
            *was_etcd_leader = true;

    int pid = state_etcd_pid(dead->st);
    ASSERT_EQ_INT(kill(pid, SIGKILL), 0);
    uint64_t t0 = now_ms();
    lead->el = NULL; /* state_stop drops it (its revoke cannot reach the dead etcd) */
    node_stop_async(dead);
    struct revoke_ctx rv = {0};
    if (mode == FO_REVOKE)
        for (size_t i = 0; i < 3; i++)
            if (i != k) {
                state_lease_revoke_holder(nodes[i].st, ELECT_KEY, dead_rev, on_revoke_holder, &rv);
                rv.calls++;
            }
    if (!wait_for(loop, any_leads, &cs, 20000))
        FAIL_AT("no new leader within 20 s");
    uint64_t took = leader_of(&cs)->at_ms - t0;
    ASSERT_TRUE(leader_of(&cs)->rev > dead_rev);
    /* One leader change: the new leader does not step down (and take the lead back) in the
     * next TTL, as one that won on a lease renewed before etcd's election would. */
    struct camp *won = leader_of(&cs);
    int changes = won->changes;
    run_for(loop, ttl * 1000 + 500);
    if (!won->leader || won->changes != changes)
        FAIL_AT("the new leader changed its mind %d times within %d ms of winning",
                won->changes - changes, ttl * 1000 + 500);
    ASSERT_TRUE(run_until(loop, &dead->stopped, 10000));
    uint64_t end = now_ms() + 10000;
    while (rv.done < rv.calls && now_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    ASSERT_EQ_INT(rv.done, rv.calls);

    /* The dead manager comes back on its data dir and campaigns again. */
    node_clear_events(dead);
    node_start(dead);
    node_wait_ready(dead);
    campaign(&camps[k], dead, dead->name, ttl);
    return took;
}

/* Three managers campaign; each round kills the leader and measures the take-over, first
 * waiting for the lease to expire, then with the survivors revoking it at once. */
static void failover_suite(int hb, int el, int ttl)
{
    need_etcd();
    uv_loop_t loop;
    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    struct node nodes[3];
    cluster3(&loop, nodes, hb, el);
    struct camp camps[3];
    for (int i = 0; i < 3; i++)
        campaign(&camps[i], &nodes[i], nodes[i].name, ttl);

    const char *how[] = {"lease expiry", "revoke_holder at once",
                         "lease expiry, etcd leader moved off first"};
    char label[3][128];
    for (int i = 0; i < 3; i++)
        snprintf(label[i], sizeof(label[i]), "etcd %d/%d ms, TTL %d s, %s", hb ? hb : 50,
                 el ? el : 500, ttl, how[i]);
    enum { ROUNDS = 4 };
    for (int mode = 0; mode < 3; mode++) {
        uint64_t ms[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            bool etcd_leader = false;
            ms[r] = failover_round(&loop, nodes, camps, ttl, mode, &etcd_leader);
            if (mode == FO_MOVED)
                ASSERT_FALSE(etcd_leader);
            printf("# failover (%s) round %d: %llu ms; the dead manager was %sthe etcd leader\n",
                   label[mode], r + 1, (unsigned long long)ms[r], etcd_leader ? "" : "not ");
            fflush(stdout);
        }
        qsort(ms, ROUNDS, sizeof(ms[0]), cmp_u64);
        printf("# failover (%s): median %llu ms, max %llu ms over %d rounds\n", label[mode],
               (unsigned long long)(ms[ROUNDS / 2 - 1] + ms[ROUNDS / 2]) / 2,
               (unsigned long long)ms[ROUNDS - 1], ROUNDS);
        /* Bounded by TTL + an etcd election + the lease extension a new etcd leader gives. */
        ASSERT_TRUE(ms[ROUNDS - 1] < (uint64_t)ttl * 1000 + 4 * (uint64_t)(el ? el : 500) + 2000);
    }
    struct camps cs = {camps, 3};
    ASSERT_TRUE(wait_for(&loop, settled, &cs, 15000));
    stop_all(&loop, &tick, nodes, 3);
    for (int i = 0; i < 3; i++)
        node_release(&nodes[i]);
}

/* The defaults (50/500 ms) with the shortest TTL they allow. */
TEST_T(state_election_failover_lan_timing, 240)
{
    failover_suite(0, 0, 1);
}

/* etcd's own defaults (100/1000 ms), whose shortest TTL is 2 s: ~45 s, so only on demand
 * (SHOAL_TEST_SLOW=1), for comparison. */
TEST_T(state_election_failover_etcd_default_timing, 240)
{
    if (!getenv("SHOAL_TEST_SLOW"))
        SKIP("set SHOAL_TEST_SLOW=1 to measure failover with etcd's default timing");
    failover_suite(100, 1000, 2);
}
