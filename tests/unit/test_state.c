/* test_state.c — the state module against a real etcd (Debian's /usr/bin/etcd; skipped
 * when it is missing): start-up listing, transactions and their compares, the watch, a
 * restart on the same data dir, etcd being killed under us, start-up failures, TLS.
 * Every etcd runs in a temp dir on random free high ports of 127.0.0.1, plain http
 * except in the TLS test. Thread: the test's own loop. */
#include "ca/ca.h"
#include "harness.h"
#include "state/state.h"
#include "state/state_int.h"
#include "test_etcd_side.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETCD_BIN "/usr/bin/etcd"
#define PREFIX "/t/"

struct ev_rec {
    enum state_event_type type;
    char *key;
    char *value;
    int64_t mod, create;
};

struct txn_res {
    bool done;
    int rc;
    int64_t rev;
    char msg[ERR_MSG_MAX];
};

struct ctx {
    uv_loop_t loop;
    struct state *st;
    char dir[64];
    char *data_dir, *log_file;
    int client_port, peer_port;
    bool ready_done;
    int ready_rc;
    char ready_msg[ERR_MSG_MAX];
    struct ev_rec *evs;
    size_t nevs;
    bool stopped;
};

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

static void ctx_init(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    ASSERT_EQ_INT(uv_loop_init(&c->loop), 0);
    snprintf(c->dir, sizeof(c->dir), "/tmp/shoal-state-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(c->dir));
    c->data_dir = xasprintf("%s/etcd", c->dir);
    c->log_file = xasprintf("%s/etcd.log", c->dir);
    c->client_port = free_port();
    do
        c->peer_port = free_port();
    while (c->peer_port == c->client_port);
}

static void ctx_config(struct ctx *c, struct state_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->etcd_bin = ETCD_BIN;
    cfg->data_dir = c->data_dir;
    cfg->name = "node1";
    cfg->peer_host = "127.0.0.1";
    cfg->peer_port = c->peer_port;
    cfg->client_port = c->client_port;
    cfg->log_file = c->log_file;
}

static void clear_events(struct ctx *c)
{
    for (size_t i = 0; i < c->nevs; i++) {
        free(c->evs[i].key);
        free(c->evs[i].value);
    }
    free(c->evs);
    c->evs = NULL;
    c->nevs = 0;
}

static void ctx_release(struct ctx *c)
{
    clear_events(c);
    dir_remove_all(c->dir, NULL);
    free(c->data_dir);
    free(c->log_file);
}

static void on_ready(void *data, int rc, struct err *e)
{
    struct ctx *c = data;
    if (c->ready_done)
        FAIL_AT("ready called twice");
    c->ready_done = true;
    c->ready_rc = rc;
    if (e)
        snprintf(c->ready_msg, sizeof(c->ready_msg), "%s", e->msg);
}

static void on_event(void *data, const struct state_event *ev)
{
    struct ctx *c = data;
    c->evs = xrealloc(c->evs, (c->nevs + 1) * sizeof(*c->evs));
    struct ev_rec *r = &c->evs[c->nevs++];
    r->type = ev->type;
    r->key = xstrdup(ev->key);
    r->value = ev->type == STATE_PUT ? xstrndup(ev->value, ev->value_len) : NULL;
    r->mod = ev->mod_revision;
    r->create = ev->create_revision;
    if (c->nevs > 1 && c->evs[c->nevs - 2].mod > r->mod)
        FAIL_AT("events out of revision order: %lld after %lld", (long long)r->mod,
                (long long)c->evs[c->nevs - 2].mod);
}

static void on_txn(void *data, int rc, int64_t rev, struct err *e)
{
    struct txn_res *t = data;
    t->done = true;
    t->rc = rc;
    t->rev = rev;
    if (e)
        snprintf(t->msg, sizeof(t->msg), "%s", e->msg);
}

static void on_stopped(void *data)
{
    ((struct ctx *)data)->stopped = true;
}

/* Runs the loop until *flag or ms elapse; returns *flag. */
static bool run_until_flag(struct ctx *c, const bool *flag, int ms)
{
    uint64_t end = uv_now(&c->loop) + (uint64_t)ms;
    while (!*flag) {
        uv_update_time(&c->loop);
        if (uv_now(&c->loop) >= end)
            return false;
        uv_run(&c->loop, UV_RUN_ONCE);
    }
    return true;
}

static void run_for(struct ctx *c, int ms)
{
    bool never = false;
    run_until_flag(c, &never, ms);
}

static bool run_until_events(struct ctx *c, size_t n, int ms)
{
    uint64_t end = uv_now(&c->loop) + (uint64_t)ms;
    while (c->nevs < n) {
        uv_update_time(&c->loop);
        if (uv_now(&c->loop) >= end)
            return false;
        uv_run(&c->loop, UV_RUN_ONCE);
    }
    return true;
}

static void start(struct ctx *c, const struct state_config *cfg)
{
    c->st = state_new(&c->loop, cfg);
    state_start(c->st, PREFIX, on_ready, on_event, c);
    ASSERT_TRUE(run_until_flag(c, &c->ready_done, 30000));
}

static void stop(struct ctx *c)
{
    state_stop(c->st, on_stopped, c);
    c->st = NULL;
    uv_run(&c->loop, UV_RUN_DEFAULT);
    ASSERT_TRUE(c->stopped);
    ASSERT_EQ_INT(uv_loop_close(&c->loop), 0);
}

/* One-op transaction, run to completion. */
static struct txn_res txn1(struct ctx *c, enum state_op_type type, const char *key,
                           const char *value, int64_t expect)
{
    struct state_op op = {type, key, value, value ? strlen(value) : 0, expect};
    struct txn_res t = {0};
    state_txn(c->st, &op, 1, on_txn, &t);
    ASSERT_FALSE(t.done); /* never inside state_txn */
    if (!run_until_flag(c, &t.done, 20000))
        FAIL_AT("txn on %s did not complete", key);
    return t;
}

TEST(state_json_span_splits_stream)
{
    const char *s = " {\"a\":\"}{\\\"\"}\n{\"b\":[{}]}{\"c\":";
    long n1 = state_json_span(s, strlen(s));
    ASSERT_EQ_INT(n1, 13);
    long n2 = state_json_span(s + n1, strlen(s) - (size_t)n1);
    ASSERT_EQ_INT(n2, 11);
    ASSERT_EQ_INT(state_json_span(s + n1 + n2, strlen(s) - (size_t)(n1 + n2)), 0);
    ASSERT_EQ_INT(state_json_span("  \n", 3), 0);
    ASSERT_EQ_INT(state_json_span(" x{}", 4), -1);
    /* Split inside an escape: still incomplete, not confused. */
    ASSERT_EQ_INT(state_json_span("{\"a\":\"\\", 7), 0);
}

/* Fed a growing buffer read by read (as the watch stream arrives), the resumable scan finds
 * the same spans as a scan of the whole, whatever the split, escapes included. */
TEST(state_json_span_resumes_across_reads)
{
    const char *s = " {\"a\":\"}{\\\"\"}\n{\"b\":[{}]}{\"c\":";
    size_t len = strlen(s);
    for (size_t step = 1; step <= len; step++) {
        struct state_json_scan sc = {0};
        size_t have = 0, base = 0;
        long spans[3];
        int found = 0;
        while (have < len) {
            have = have + step < len ? have + step : len;
            long sp;
            while ((sp = state_json_span_resume(&sc, s + base, have - base)) > 0) {
                ASSERT_TRUE(found < 3);
                spans[found++] = sp;
                base += (size_t)sp; /* consumed: the scan restarts at the new front */
            }
            ASSERT_EQ_INT(sp, 0);
        }
        ASSERT_EQ_INT(found, 2);
        ASSERT_EQ_INT(spans[0], 13);
        ASSERT_EQ_INT(spans[1], 11);
    }
    struct state_json_scan sc = {0};
    ASSERT_EQ_INT(state_json_span_resume(&sc, " x{}", 4), -1);
}

TEST(state_argv_flags)
{
    struct state_config cfg = {
        .data_dir = "/d",
        .name = "n1",
        .peer_host = "10.0.0.2",
        .peer_port = 4380,
        .client_port = 4379,
        .ca_file = "/ca.pem",
        .cert_file = "/c.pem",
        .key_file = "/k.pem",
        .initial_cluster = "n0=https://10.0.0.1:4380,n1=https://10.0.0.2:4380",
    };
    char **argv = state_proc_argv(&cfg);
    struct buf b = BUF_INIT;
    for (char **a = argv; *a; a++)
        buf_printf(&b, "%s ", *a);
    ASSERT_EQ_STR(argv[0], "/usr/bin/etcd");
    ASSERT_CONTAINS(b.p, "--listen-client-urls https://127.0.0.1:4379 ");
    ASSERT_CONTAINS(b.p, "--advertise-client-urls https://127.0.0.1:4379 ");
    ASSERT_CONTAINS(b.p, "--listen-peer-urls https://10.0.0.2:4380 ");
    ASSERT_CONTAINS(b.p, "--initial-advertise-peer-urls https://10.0.0.2:4380 ");
    ASSERT_CONTAINS(b.p, "--initial-cluster n0=https://10.0.0.1:4380,n1=https://10.0.0.2:4380 ");
    ASSERT_CONTAINS(b.p, "--initial-cluster-state existing ");
    ASSERT_CONTAINS(b.p, "--client-cert-auth ");
    ASSERT_CONTAINS(b.p, "--peer-client-cert-auth ");
    ASSERT_CONTAINS(b.p, "--peer-trusted-ca-file /ca.pem ");
    ASSERT_TRUE(strstr(b.p, "--force-new-cluster") == NULL);
    ASSERT_TRUE(strstr(b.p, "crl") == NULL);
    state_proc_argv_free(argv);
    buf_reset(&b);

    cfg.crl_file = "/crl.pem";
    argv = state_proc_argv(&cfg);
    for (char **a = argv; *a; a++)
        buf_printf(&b, "%s ", *a);
    ASSERT_CONTAINS(b.p, "--trusted-ca-file /ca.pem ");
    ASSERT_CONTAINS(b.p, "--client-crl-file /crl.pem ");
    ASSERT_CONTAINS(b.p, "--peer-crl-file /crl.pem ");
    state_proc_argv_free(argv);
    buf_reset(&b);
    cfg.crl_file = NULL;

    cfg.ca_file = NULL;
    cfg.initial_cluster = NULL;
    cfg.force_new_cluster = true;
    cfg.peer_host = "fd00::2";
    argv = state_proc_argv(&cfg);
    for (char **a = argv; *a; a++)
        buf_printf(&b, "%s ", *a);
    ASSERT_CONTAINS(b.p, "--listen-client-urls http://127.0.0.1:4379 ");
    ASSERT_CONTAINS(b.p, "--initial-cluster n1=http://[fd00::2]:4380 ");
    ASSERT_CONTAINS(b.p, "--initial-cluster-state new ");
    ASSERT_CONTAINS(b.p, "--force-new-cluster ");
    ASSERT_TRUE(strstr(b.p, "cert") == NULL);
    state_proc_argv_free(argv);
    buf_release(&b);
}

TEST_T(state_txn_and_watch, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, 0);
    ASSERT_EQ_INT(c.nevs, 0);
    ASSERT_TRUE(state_available(c.st));
    ASSERT_EQ_STR(state_unavailable_reason(c.st), "");
    ASSERT_TRUE(state_etcd_pid(c.st) > 0);

    struct txn_res t = txn1(&c, STATE_OP_PUT, PREFIX "a", "v1", 0);
    ASSERT_EQ_INT(t.rc, 0);
    int64_t r1 = t.rev;
    ASSERT_TRUE(r1 > 1);

    t = txn1(&c, STATE_OP_PUT, PREFIX "a", "again", 0);
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    ASSERT_EQ_STR(t.msg, ERR_MSG_OUT_OF_SEQUENCE);

    t = txn1(&c, STATE_OP_PUT, PREFIX "a", "v2", r1);
    ASSERT_EQ_INT(t.rc, 0);
    int64_t r2 = t.rev;
    ASSERT_EQ_INT(r2, r1 + 1);

    t = txn1(&c, STATE_OP_PUT, PREFIX "a", "stale", r1);
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    ASSERT_EQ_STR(t.msg, ERR_MSG_OUT_OF_SEQUENCE);

    /* Outside the prefix: written, never reported. */
    t = txn1(&c, STATE_OP_PUT, "/u/x", "elsewhere", STATE_ANY_REVISION);
    ASSERT_EQ_INT(t.rc, 0);

    /* Two ops in one transaction share one revision; both are reported. */
    struct state_op ops[2] = {
        {STATE_OP_PUT, PREFIX "b", "bb", 2, 0},
        {STATE_OP_DELETE, PREFIX "a", NULL, 0, r2},
    };
    t = (struct txn_res){0};
    state_txn(c.st, ops, 2, on_txn, &t);
    ASSERT_TRUE(run_until_flag(&c, &t.done, 20000));
    ASSERT_EQ_INT(t.rc, 0);
    int64_t r4 = t.rev;
    ASSERT_EQ_INT(r4, r2 + 2);

    /* A failed compare on one op applies none of them. */
    ops[0] = (struct state_op){STATE_OP_PUT, PREFIX "c", "cc", 2, STATE_ANY_REVISION};
    ops[1] = (struct state_op){STATE_OP_DELETE, PREFIX "b", NULL, 0, r2};
    t = (struct txn_res){0};
    state_txn(c.st, ops, 2, on_txn, &t);
    ASSERT_TRUE(run_until_flag(&c, &t.done, 20000));
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    t = txn1(&c, STATE_OP_DELETE, PREFIX "zz", NULL, 5); /* compare on a missing key */
    ASSERT_EQ_INT(t.rc, -ERR_INTERNAL);
    t = txn1(&c, STATE_OP_PUT, PREFIX "c", "cc", 0); /* c was not created above */
    ASSERT_EQ_INT(t.rc, 0);
    int64_t r5 = t.rev;
    ASSERT_EQ_INT(r5, r4 + 1);

    ASSERT_TRUE(run_until_events(&c, 5, 10000));
    run_for(&c, 300); /* nothing more may arrive */
    ASSERT_EQ_INT(c.nevs, 5);
    ASSERT_EQ_INT(c.evs[0].type, STATE_PUT);
    ASSERT_EQ_STR(c.evs[0].key, PREFIX "a");
    ASSERT_EQ_STR(c.evs[0].value, "v1");
    ASSERT_EQ_INT(c.evs[0].mod, r1);
    ASSERT_EQ_INT(c.evs[0].create, r1);
    ASSERT_EQ_INT(c.evs[1].type, STATE_PUT);
    ASSERT_EQ_STR(c.evs[1].value, "v2");
    ASSERT_EQ_INT(c.evs[1].mod, r2);
    ASSERT_EQ_INT(c.evs[1].create, r1);
    /* Same revision: b's put and a's delete, in op order. */
    ASSERT_EQ_INT(c.evs[2].type, STATE_PUT);
    ASSERT_EQ_STR(c.evs[2].key, PREFIX "b");
    ASSERT_EQ_INT(c.evs[2].mod, r4);
    ASSERT_EQ_INT(c.evs[3].type, STATE_DELETE);
    ASSERT_EQ_STR(c.evs[3].key, PREFIX "a");
    ASSERT_EQ_INT(c.evs[3].mod, r4);
    ASSERT_NULL(c.evs[3].value);
    ASSERT_EQ_STR(c.evs[4].key, PREFIX "c");
    ASSERT_EQ_INT(c.evs[4].mod, r5);

    /* Several concurrent transactions all complete. */
    struct txn_res many[8] = {{0}};
    char keys[8][32];
    for (int i = 0; i < 8; i++) {
        snprintf(keys[i], sizeof(keys[i]), PREFIX "m%d", i);
        struct state_op op = {STATE_OP_PUT, keys[i], "x", 1, 0};
        state_txn(c.st, &op, 1, on_txn, &many[i]);
    }
    for (int i = 0; i < 8; i++) {
        ASSERT_TRUE(run_until_flag(&c, &many[i].done, 20000));
        ASSERT_EQ_INT(many[i].rc, 0);
    }
    ASSERT_TRUE(run_until_events(&c, 13, 10000));
    run_for(&c, 200);
    ASSERT_EQ_INT(c.nevs, 13);
    stop(&c);
    ctx_release(&c);
}

static void put_keys(struct ctx *c)
{
    ASSERT_EQ_INT(txn1(c, STATE_OP_PUT, PREFIX "k2", "two", 0).rc, 0);
    ASSERT_EQ_INT(txn1(c, STATE_OP_PUT, PREFIX "k1", "one", 0).rc, 0);
    ASSERT_EQ_INT(txn1(c, STATE_OP_PUT, PREFIX "k3", "three", 0).rc, 0);
    struct txn_res t = txn1(c, STATE_OP_PUT, PREFIX "k2", "two'", STATE_ANY_REVISION);
    ASSERT_EQ_INT(t.rc, 0);
    ASSERT_EQ_INT(txn1(c, STATE_OP_DELETE, PREFIX "k3", NULL, STATE_ANY_REVISION).rc, 0);
}

TEST_T(state_restart_lists_previous_keys, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, 0);
    put_keys(&c);
    ASSERT_TRUE(run_until_events(&c, 5, 10000));
    /* One big transaction (more keys than one listing page) under another prefix. */
    enum { NBIG = 1500 };
    struct state_op *big = xcalloc(NBIG, sizeof(*big));
    char(*names)[32] = xcalloc(NBIG, 32);
    for (int i = 0; i < NBIG; i++) {
        snprintf(names[i], 32, PREFIX "z/%04d", i);
        big[i] = (struct state_op){STATE_OP_PUT, names[i], "v", 1, 0};
    }
    struct txn_res bt = {0};
    state_txn(c.st, big, NBIG, on_txn, &bt);
    free(big);
    free(names);
    ASSERT_TRUE(run_until_flag(&c, &bt.done, 20000));
    if (bt.rc)
        FAIL_AT("big txn: %s", bt.msg);
    ASSERT_TRUE(run_until_events(&c, 5 + NBIG, 10000));
    stop(&c);
    clear_events(&c);

    /* A second instance on the same data dir lists k1 then k2 (revision order). */
    ASSERT_EQ_INT(uv_loop_init(&c.loop), 0);
    c.ready_done = c.stopped = false;
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, 0);
    ASSERT_EQ_INT(c.nevs, 2 + NBIG);
    for (int i = 0; i < NBIG; i++) {
        char want[32];
        snprintf(want, sizeof(want), PREFIX "z/%04d", i);
        ASSERT_EQ_STR(c.evs[2 + i].key, want);
        ASSERT_EQ_INT(c.evs[2 + i].mod, bt.rev);
    }
    ASSERT_EQ_STR(c.evs[0].key, PREFIX "k1");
    ASSERT_EQ_STR(c.evs[0].value, "one");
    ASSERT_EQ_STR(c.evs[1].key, PREFIX "k2");
    ASSERT_EQ_STR(c.evs[1].value, "two'");
    ASSERT_TRUE(c.evs[0].mod < c.evs[1].mod);
    ASSERT_TRUE(c.evs[1].create < c.evs[0].create); /* k2 was created first */
    /* The watch starts right after the listing. */
    struct txn_res t = txn1(&c, STATE_OP_PUT, PREFIX "k4", "four", 0);
    ASSERT_EQ_INT(t.rc, 0);
    ASSERT_TRUE(run_until_events(&c, 3 + NBIG, 10000));
    run_for(&c, 200);
    ASSERT_EQ_INT(c.nevs, 3 + NBIG);
    ASSERT_EQ_STR(c.evs[2 + NBIG].key, PREFIX "k4");
    ASSERT_EQ_INT(c.evs[2 + NBIG].mod, t.rev);
    stop(&c);
    ctx_release(&c);
}

TEST_T(state_etcd_killed_restarts, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, 0);
    struct txn_res t1 = txn1(&c, STATE_OP_PUT, PREFIX "before", "1", 0);
    ASSERT_EQ_INT(t1.rc, 0);
    ASSERT_TRUE(run_until_events(&c, 1, 10000));

    int pid = state_etcd_pid(c.st);
    ASSERT_TRUE(pid > 0);
    ASSERT_EQ_INT(kill(pid, SIGKILL), 0);
    uint64_t end = uv_now(&c.loop) + 10000;
    while (state_available(c.st) && uv_now(&c.loop) < end)
        uv_run(&c.loop, UV_RUN_ONCE);
    ASSERT_FALSE(state_available(c.st));
    ASSERT_CONTAINS(state_unavailable_reason(c.st), "etcd was killed by signal 9; restarting");

    /* A write while it is down fails at once (later, on the loop). */
    struct txn_res down = txn1(&c, STATE_OP_PUT, PREFIX "during", "x", 0);
    ASSERT_EQ_INT(down.rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(down.msg, "restarting");

    end = uv_now(&c.loop) + 30000;
    while (!state_available(c.st) && uv_now(&c.loop) < end)
        uv_run(&c.loop, UV_RUN_ONCE);
    ASSERT_TRUE(state_available(c.st));
    ASSERT_NE_INT(state_etcd_pid(c.st), pid);
    ASSERT_TRUE(state_etcd_pid(c.st) > 0);

    struct txn_res t2 = txn1(&c, STATE_OP_PUT, PREFIX "after", "2", 0);
    ASSERT_EQ_INT(t2.rc, 0);
    ASSERT_TRUE(t2.rev > t1.rev);
    ASSERT_TRUE(run_until_events(&c, 2, 10000));
    run_for(&c, 500);
    ASSERT_EQ_INT(c.nevs, 2); /* exactly once each */
    ASSERT_EQ_STR(c.evs[0].key, PREFIX "before");
    ASSERT_EQ_STR(c.evs[1].key, PREFIX "after");
    ASSERT_EQ_INT(c.evs[1].mod, t2.rev);
    stop(&c);
    ctx_release(&c);
}

TEST_T(state_start_fails_without_binary, 30)
{
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    cfg.etcd_bin = "/nonexistent/etcd";
    c.st = state_new(&c.loop, &cfg);
    state_start(c.st, PREFIX, on_ready, on_event, &c);
    ASSERT_FALSE(c.ready_done); /* reported on the loop, not inside state_start */
    ASSERT_TRUE(run_until_flag(&c, &c.ready_done, 10000));
    ASSERT_EQ_INT(c.ready_rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(c.ready_msg, "cannot start etcd (/nonexistent/etcd)");
    ASSERT_FALSE(state_available(c.st));
    struct txn_res t = txn1(&c, STATE_OP_PUT, PREFIX "x", "1", 0);
    ASSERT_EQ_INT(t.rc, -ERR_UNAVAILABLE);
    stop(&c);
    ctx_release(&c);
}

TEST_T(state_start_fails_port_in_use, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    /* Hold the client port so etcd cannot listen on it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)c.client_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ASSERT_EQ_INT(listen(fd, 1), 0);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(c.ready_msg, "etcd exited with status");
    ASSERT_CONTAINS(c.ready_msg, "address already in use");
    close(fd);
    stop(&c);
    ctx_release(&c);
}

TEST(state_stop_before_start)
{
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    c.st = state_new(&c.loop, &cfg);
    ASSERT_FALSE(state_available(c.st));
    ASSERT_EQ_INT(state_etcd_pid(c.st), 0);
    stop(&c);
    ctx_release(&c);
}

static struct txn_res stop_txn;
static void stop_in_ready(void *data, int rc, struct err *e)
{
    struct ctx *c = data;
    on_ready(data, rc, e);
    struct state_op op = {STATE_OP_PUT, PREFIX "late", "x", 1, 0};
    state_txn(c->st, &op, 1, on_txn, &stop_txn);
    state_stop(c->st, on_stopped, c);
}

TEST_T(state_stop_inside_callback_fails_pending, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    c.st = state_new(&c.loop, &cfg);
    state_start(c.st, PREFIX, stop_in_ready, on_event, &c);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    ASSERT_TRUE(c.ready_done);
    ASSERT_EQ_INT(c.ready_rc, 0);
    ASSERT_TRUE(stop_txn.done);
    ASSERT_EQ_INT(stop_txn.rc, -ERR_UNAVAILABLE);
    ASSERT_EQ_STR(stop_txn.msg, "shutting down");
    ASSERT_TRUE(c.stopped);
    ASSERT_EQ_INT(uv_loop_close(&c.loop), 0);
    ctx_release(&c);
}

struct raw_res {
    bool done;
    int rc;
    long status;
};

static void on_raw(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct raw_res *r = data;
    r->done = true;
    r->rc = rc;
    r->status = status;
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

static void write_file(const char *dir, const char *name, const char *data, char **path)
{
    *path = xasprintf("%s/%s", dir, name);
    struct err e = {0};
    if (file_write_atomic(*path, data, strlen(data), 0600, &e) < 0)
        FAIL_AT("write %s: %s", *path, e.msg);
}

TEST_T(state_tls, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct err e = {0};
    char *ca_cert = NULL, *ca_key = NULL, *key = NULL, *csr = NULL, *cert = NULL;
    ASSERT_EQ_INT(ca_root_new(&ca_cert, &ca_key, &e), 0);
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    struct ca_identity id = {0};
    snprintf(id.cn, sizeof(id.cn), "node1");
    snprintf(id.ou, sizeof(id.ou), "swarm-manager");
    snprintf(id.org, sizeof(id.org), "cluster1");
    const char *ips[] = {"127.0.0.1"};
    ASSERT_EQ_INT(ca_issue(ca_cert, ca_key, csr, &id, CA_NODE_EXPIRY_NS, ips, 1, &cert, &e), 0);
    char *ca_path, *cert_path, *key_path;
    write_file(c.dir, "ca.pem", ca_cert, &ca_path);
    write_file(c.dir, "cert.pem", cert, &cert_path);
    write_file(c.dir, "key.pem", key, &key_path);

    struct state_config cfg;
    ctx_config(&c, &cfg);
    cfg.ca_file = ca_path;
    cfg.cert_file = cert_path;
    cfg.key_file = key_path;
    start(&c, &cfg);
    if (c.ready_rc)
        FAIL_AT("TLS start: %s", c.ready_msg);
    struct txn_res t = txn1(&c, STATE_OP_PUT, PREFIX "tls", "secret", 0);
    ASSERT_EQ_INT(t.rc, 0);
    ASSERT_TRUE(run_until_events(&c, 1, 10000));
    ASSERT_EQ_STR(c.evs[0].value, "secret");

    /* TLS is really on: plain http is refused, and https without a client cert too. */
    char *url = xasprintf("http://127.0.0.1:%d/v3/maintenance/status", c.client_port);
    struct httpc *plain = httpc_new(&c.loop, NULL);
    struct raw_res r = {0};
    httpc_post(plain, url, "{}", 2, 5000, NULL, on_raw, &r);
    ASSERT_TRUE(run_until_flag(&c, &r.done, 10000));
    ASSERT_TRUE(r.rc < 0 || r.status != 200);
    free(url);
    url = xasprintf("https://127.0.0.1:%d/v3/maintenance/status", c.client_port);
    struct httpc_tls no_cert = {.ca_file = ca_path};
    struct httpc *anon = httpc_new(&c.loop, &no_cert);
    r = (struct raw_res){0};
    httpc_post(anon, url, "{}", 2, 5000, NULL, on_raw, &r);
    ASSERT_TRUE(run_until_flag(&c, &r.done, 10000));
    ASSERT_TRUE(r.rc < 0 || r.status != 200);
    free(url);
    bool closed1 = false, closed2 = false;
    httpc_close(plain, set_flag, &closed1);
    httpc_close(anon, set_flag, &closed2);
    ASSERT_TRUE(run_until_flag(&c, &closed2, 1000));
    ASSERT_TRUE(closed1);
    stop(&c);

    ctx_release(&c);
    free(ca_path);
    free(cert_path);
    free(key_path);
    free(ca_cert);
    free(ca_key);
    free(key);
    free(csr);
    free(cert);
}

TEST_T(state_watch_compacted_relists, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, 0);
    ASSERT_EQ_INT(txn1(&c, STATE_OP_PUT, PREFIX "k1", "one", 0).rc, 0);
    ASSERT_EQ_INT(txn1(&c, STATE_OP_PUT, PREFIX "k2", "two", 0).rc, 0);
    ASSERT_TRUE(run_until_events(&c, 2, 10000));

    /* Drop the watch behind the module's back, change things and compact them away. */
    httpc_cancel(c.st->watch_call);
    c.st->watch_call = NULL;
    c.st->watch_gen++;
    struct buf out = BUF_INIT;
    /* /t/k3 = L3QvazM=, /t/k2 = L3QvazI=, /t/k1 = L3QvazE=, "new" = bmV3 */
    blocking_post(c.client_port, "/v3/kv/put", "{\"key\":\"L3QvazM=\",\"value\":\"bmV3\"}", &out);
    blocking_post(c.client_port, "/v3/kv/deleterange", "{\"key\":\"L3QvazE=\"}", &out);
    buf_reset(&out);
    blocking_post(c.client_port, "/v3/kv/put", "{\"key\":\"L3QvazI=\",\"value\":\"bmV3\"}", &out);
    char *rev = strstr(out.p, "\"revision\":\"");
    ASSERT_NOT_NULL(rev);
    long long r = strtoll(rev + 12, NULL, 10);
    char *body = xasprintf("{\"revision\":\"%lld\"}", r);
    blocking_post(c.client_port, "/v3/kv/compaction", body, &out);
    free(body);
    buf_release(&out);

    /* Re-syncing finds the watch start compacted, re-lists what changed, watches on. */
    state_client_etcd_up(c.st);
    ASSERT_TRUE(run_until_events(&c, 4, 10000));
    ASSERT_EQ_STR(c.evs[2].key, PREFIX "k3");
    ASSERT_EQ_STR(c.evs[3].key, PREFIX "k2");
    ASSERT_EQ_STR(c.evs[3].value, "new");
    ASSERT_EQ_INT(c.evs[3].mod, r);
    struct txn_res t = txn1(&c, STATE_OP_PUT, PREFIX "k4", "four", 0);
    ASSERT_EQ_INT(t.rc, 0);
    ASSERT_TRUE(run_until_events(&c, 5, 10000));
    run_for(&c, 200);
    ASSERT_EQ_INT(c.nevs, 5);
    ASSERT_EQ_STR(c.evs[4].key, PREFIX "k4");
    stop(&c);
    ctx_release(&c);
}

/* A stand-in "etcd" that never answers and ignores SIGTERM. */
static char *fake_etcd(struct ctx *c)
{
    char *path = xasprintf("%s/fake-etcd", c->dir);
    const char *script = "#!/bin/sh\necho fake etcd is deaf >&2\ntrap '' TERM\nexec sleep 60\n";
    struct err e = {0};
    if (file_write_atomic(path, script, strlen(script), 0700, &e) < 0)
        FAIL_AT("%s", e.msg);
    return path;
}

TEST_T(state_start_times_out, 30)
{
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    char *bin = fake_etcd(&c);
    cfg.etcd_bin = bin;
    c.st = state_new(&c.loop, &cfg);
    c.st->start_timeout_ms = 500;
    state_start(c.st, PREFIX, on_ready, on_event, &c);
    ASSERT_TRUE(run_until_flag(&c, &c.ready_done, 10000));
    ASSERT_EQ_INT(c.ready_rc, -ERR_UNAVAILABLE);
    ASSERT_CONTAINS(c.ready_msg, "etcd did not answer within 0.5 s (etcd 127.0.0.1:");
    ASSERT_CONTAINS(c.ready_msg, " unreachable: ");
    ASSERT_CONTAINS(c.ready_msg, "etcd log: fake etcd is deaf");
    ASSERT_CONTAINS(state_unavailable_reason(c.st), "did not answer");
    /* It was killed: the pid goes away without any stop. */
    uint64_t end = uv_now(&c.loop) + 5000;
    while (state_etcd_pid(c.st) && uv_now(&c.loop) < end)
        uv_run(&c.loop, UV_RUN_ONCE);
    ASSERT_EQ_INT(state_etcd_pid(c.st), 0);
    ASSERT_CONTAINS(state_unavailable_reason(c.st), "did not answer");
    stop(&c);
    free(bin);
    ctx_release(&c);
}

TEST_T(state_stop_kills_stubborn_etcd, 30)
{
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    char *bin = fake_etcd(&c);
    cfg.etcd_bin = bin;
    c.st = state_new(&c.loop, &cfg);
    state_start(c.st, PREFIX, on_ready, on_event, &c);
    run_for(&c, 300); /* the script has set its trap */
    int pid = state_etcd_pid(c.st);
    ASSERT_TRUE(pid > 0);
    uint64_t t0 = uv_hrtime();
    stop(&c);
    uint64_t waited_ms = (uv_hrtime() - t0) / 1000000;
    ASSERT_TRUE(waited_ms >= 4500); /* SIGTERM was ignored; SIGKILL came after 5 s */
    ASSERT_FALSE(c.ready_done);     /* stopping is not a start failure */
    ASSERT_TRUE(kill(pid, 0) != 0); /* gone (and reaped) */
    free(bin);
    ctx_release(&c);
}

TEST_T(state_frozen_etcd_is_unavailable, 60)
{
    need_etcd();
    struct ctx c;
    ctx_init(&c);
    struct state_config cfg;
    ctx_config(&c, &cfg);
    start(&c, &cfg);
    ASSERT_EQ_INT(c.ready_rc, 0);
    int pid = state_etcd_pid(c.st);
    ASSERT_EQ_INT(kill(pid, SIGSTOP), 0);
    uint64_t end = uv_now(&c.loop) + 10000;
    while (state_available(c.st) && uv_now(&c.loop) < end)
        uv_run(&c.loop, UV_RUN_ONCE);
    kill(pid, SIGCONT);
    ASSERT_FALSE(state_available(c.st));
    ASSERT_CONTAINS(state_unavailable_reason(c.st), "etcd 127.0.0.1:");
    end = uv_now(&c.loop) + 10000;
    while (!state_available(c.st) && uv_now(&c.loop) < end)
        uv_run(&c.loop, UV_RUN_ONCE);
    ASSERT_TRUE(state_available(c.st));
    ASSERT_EQ_INT(state_etcd_pid(c.st), pid); /* not restarted: it was only frozen */
    struct txn_res t = txn1(&c, STATE_OP_PUT, PREFIX "thawed", "1", 0);
    ASSERT_EQ_INT(t.rc, 0);
    ASSERT_TRUE(run_until_events(&c, 1, 10000));
    run_for(&c, 200);
    ASSERT_EQ_INT(c.nevs, 1);
    ASSERT_EQ_INT(c.evs[0].mod, t.rev);
    stop(&c);
    ctx_release(&c);
}
