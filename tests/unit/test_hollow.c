/* test_hollow.c — hollow workers against fake managers on the same loop: two mutual-TLS
 * HTTP servers (the real http module) with certificates from a test CA, answering the peer
 * protocol (/swarm-rpc/ca, /join, /heartbeat) and recording what arrives: how often the CA
 * is fetched, each join's description, and every heartbeat with the client certificate's
 * CN and its arrival time. In MODE_TASKS they also play the leader's dispatcher (server a
 * redirects the sessions' calls to b, which answers /assignments and /status): every
 * identity gets one task, then its desired SHUTDOWN, then its removal, each once the
 * previous step was reported. Every test ends with hollow_stop, both servers closed and
 * uv_loop_close() == 0. */
#include "harness.h"

#include "ca/ca.h"
#include "hollow/hollow.h"
#include "http/http.h"
#include "msg/msg.h"

#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_IDS 16
#define MAX_BEATS 4096

enum mode { MODE_NORMAL, MODE_REDIRECT, MODE_REFUSE_JOIN, MODE_TASKS };

/* MODE_TASKS: one identity's task as the fake dispatcher sees it. */
struct ftask {
    char id[ID_LEN + 1];
    int step;                /* 0: not sent; 1: sent running; 2: sent shutdown; 3: removed */
    struct http_req *parked; /* its poll, waiting for the next step */
    int states[16], nstates; /* every state reported, in order */
    char ctr[80];            /* the container ID reported with RUNNING */
    long long pid;           /* and its PID */
    int polls_on_a, reports_on_a, polls, reports;
};

struct fake {
    uv_loop_t loop;
    char dir[64];
    char *root_cert, *root_key, *token;
    struct http_server *a, *b;
    int port_a, port_b;
    char addr_a[64], addr_b[64];
    enum mode mode;
    int64_t period_ms;
    /* what arrived */
    int ca_calls, join_calls, join_503;
    char ids[MAX_IDS][ID_LEN + 1];
    char hosts[MAX_IDS][64];
    int nids;
    int beats_a[MAX_IDS], beats_b[MAX_IDS], redirected[MAX_IDS];
    int beats_without_cert;
    struct ftask tasks[MAX_IDS];
    uv_timer_t tick;                /* MODE_TASKS: moves each task on once its step was reported */
    int removed_all;                /* tasks removed and forgotten by the node */
    struct hollow_stats at_running; /* hollow's stats once every task ran */
    struct {
        int id;
        uint64_t t;
    } log[MAX_BEATS];
    int nlog;
    /* the run */
    struct hollow *h;
    uv_timer_t stop_timer;
    int fatal_calls;
    char fatal_msg[ERR_MSG_MAX];
    bool stopped;
    struct hollow_stats final;
    uint64_t deadline; /* MODE_TASKS */
    char final_ids[MAX_IDS][ID_LEN + 1];
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    ASSERT_TRUE(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ASSERT_TRUE(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void reply(struct http_req *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    http_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

static int id_index(struct fake *f, const char *cn)
{
    for (int i = 0; i < f->nids; i++)
        if (cn && !strcmp(f->ids[i], cn))
            return i;
    return -1;
}

static void handle_join(struct fake *f, struct http_req *req)
{
    f->join_calls++;
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    const char *token = json_string_value(json_object_get(body, "Token"));
    const char *csr = json_string_value(json_object_get(body, "CSR"));
    const char *host =
        json_string_value(json_object_get(json_object_get(body, "Description"), "Hostname"));
    const char *addr = json_string_value(json_object_get(body, "Addr"));
    if (f->mode == MODE_REFUSE_JOIN || !token || strcmp(token, f->token) || !csr || !host ||
        !addr || f->nids == MAX_IDS) {
        json_decref(body);
        reply(req, 400, json_pack("{s:s}", "message", "A valid join token is necessary"));
        return;
    }
    /* the first join of every identity is answered 503 once: hollow must retry it */
    if (f->join_503 < 1) {
        f->join_503++;
        json_decref(body);
        reply(req, 503, json_pack("{s:s}", "message", "the swarm's state is not loaded yet"));
        return;
    }
    struct ca_identity id = {0};
    char nid[ID_LEN + 1];
    id_new(nid);
    snprintf(id.cn, sizeof(id.cn), "%s", nid);
    snprintf(id.ou, sizeof(id.ou), "swarm-worker");
    snprintf(id.org, sizeof(id.org), "clusterid0000000000000000");
    char *cert = NULL;
    struct err e;
    const char *ips[] = {addr};
    ASSERT_EQ_INT(
        ca_issue(f->root_cert, f->root_key, csr, &id, CA_NODE_EXPIRY_NS, ips, 1, &cert, &e), 0);
    snprintf(f->ids[f->nids], sizeof(f->ids[0]), "%s", nid);
    snprintf(f->hosts[f->nids], sizeof(f->hosts[0]), "%s", host);
    f->nids++;
    json_decref(body);
    reply(req, 200,
          json_pack("{s:s, s:s, s:s, s:s, s:[s], s:I}", "NodeID", nid, "ClusterID",
                    "clusterid0000000000000000", "Role", "worker", "Cert", cert, "Managers",
                    f->addr_a, "HeartbeatPeriod", (json_int_t)f->period_ms));
    free(cert);
}

static void handle_beat(struct fake *f, struct http_req *req, bool is_a)
{
    int i = id_index(f, http_req_peer_cn(req));
    if (i < 0) {
        f->beats_without_cert++;
        reply(req, 401, json_pack("{s:s}", "message", "a certificate of this swarm is required"));
        return;
    }
    if (is_a && f->mode == MODE_REDIRECT) {
        f->redirected[i]++;
        reply(req, 503, json_pack("{s:s, s:s}", "message", "not the leader", "Leader", f->addr_b));
        return;
    }
    (is_a ? f->beats_a : f->beats_b)[i]++;
    if (f->nlog < MAX_BEATS) {
        f->log[f->nlog].id = i;
        f->log[f->nlog].t = uv_now(&f->loop);
        f->nlog++;
    }
    reply(req, 200,
          json_pack("{s:I, s:[s], s:s}", "HeartbeatPeriod", (json_int_t)f->period_ms, "Managers",
                    f->addr_a, "Role", "worker"));
}

/* ---- MODE_TASKS: the dispatcher ---- */

static void poll_gone(struct http_req *req, void *data)
{
    struct ftask *t = data;
    if (t->parked == req)
        t->parked = NULL;
    reply(req, 503, json_pack("{s:s}", "message", "the node went away"));
}

static json_t *task_obj(struct fake *f, int i, const char *desired)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:s}, s:{s:{s:s}}}", "ID", f->tasks[i].id,
                     "NodeID", f->ids[i], "ServiceID", "svc0000000000000000000000", "Slot", i + 1,
                     "DesiredState", desired, "Status", "State", "assigned", "Spec",
                     "ContainerSpec", "Image", "busybox");
}

/* Answers identity i's poll with its next step. */
static void poll_answer(struct fake *f, int i, struct http_req *req)
{
    struct ftask *t = &f->tasks[i];
    struct msg_assign_change ch = {.service_name = "web"};
    struct msg_assign_resp m = {
        .seq = (uint64_t)t->step + 1, .full = t->step == 0, .changes = &ch, .n_changes = 1};
    json_t *task = NULL;
    if (t->step < 2)
        ch.task = task = task_obj(f, i, t->step == 0 ? "running" : "shutdown");
    else
        ch.removed = t->id;
    t->step++;
    http_req_on_close(req, NULL, NULL);
    reply(req, 200, msg_assign_resp_encode(&m));
    json_decref(task);
}

static int last_state(const struct ftask *t)
{
    return t->nstates ? t->states[t->nstates - 1] : -1;
}

static void on_tick(uv_timer_t *timer)
{
    struct fake *f = timer->data;
    if (!f->h)
        return;
    /* the shutdowns wait until every identity runs its task, seen in hollow's stats too */
    struct hollow_stats st;
    hollow_get_stats(f->h, &st);
    int ran = 0;
    for (int i = 0; i < f->nids; i++)
        ran += last_state(&f->tasks[i]) >= TASK_RUNNING;
    if (!f->at_running.count && f->nids == st.count && ran == st.count && st.running == st.count)
        f->at_running = st;
    for (int i = 0; i < f->nids; i++) {
        struct ftask *t = &f->tasks[i];
        bool ready = (t->step == 1 && last_state(t) == TASK_RUNNING && f->at_running.count) ||
                     (t->step == 2 && last_state(t) == TASK_SHUTDOWN);
        if (ready && t->parked) {
            struct http_req *req = t->parked;
            t->parked = NULL;
            poll_answer(f, i, req);
        }
    }
}

static void handle_tasks(struct fake *f, struct http_req *req, bool is_a)
{
    int i = id_index(f, http_req_peer_cn(req));
    if (i < 0) {
        reply(req, 401, json_pack("{s:s}", "message", "a certificate of this swarm is required"));
        return;
    }
    struct ftask *t = &f->tasks[i];
    bool poll = !strcmp(req->path, "/swarm-rpc/assignments");
    if (is_a) {
        /* a manager that is not the leader: the session must follow to b */
        (*(poll ? &t->polls_on_a : &t->reports_on_a))++;
        reply(req, 503, json_pack("{s:s, s:s}", "message", "not the leader", "Leader", f->addr_b));
        return;
    }
    struct err e;
    json_t *body = msg_load(req->body, req->body_len, "request", &e);
    if (!body)
        FAIL_AT("%s: %s", req->path, e.msg);
    if (poll) {
        struct msg_assign_req m;
        ASSERT_EQ_INT(msg_assign_req_decode(body, &m, &e), 0);
        json_decref(body);
        t->polls++;
        ASSERT_EQ_INT((long long)m.ack, t->step); /* every answer was applied */
        msg_assign_req_release(&m);
        if (t->step == 0) {
            id_new(t->id);
            poll_answer(f, i, req);
            return;
        }
        ASSERT_NULL(t->parked);
        t->parked = req;
        http_req_on_close(req, poll_gone, t);
        return;
    }
    struct msg_status_batch b;
    if (msg_status_batch_decode(body, &b, &e) < 0)
        FAIL_AT("status: %s", e.msg);
    json_decref(body);
    t->reports++;
    for (size_t k = 0; k < b.n_updates; k++) {
        const struct msg_status_update *u = &b.updates[k];
        ASSERT_EQ_STR(u->task_id, t->id); /* a node reports its own tasks only */
        if (t->nstates < (int)ARRAY_SIZE(t->states))
            t->states[t->nstates++] = u->status.state;
        if (u->status.state == TASK_RUNNING) {
            ASSERT_TRUE(u->status.has_container);
            snprintf(t->ctr, sizeof(t->ctr), "%s", u->status.container_id);
            t->pid = u->status.pid;
        }
    }
    msg_status_batch_release(&b);
    reply(req, 200, json_object());
}

static void serve(struct http_req *req, void *data, bool is_a)
{
    struct fake *f = data;
    if (f->mode == MODE_TASKS &&
        (!strcmp(req->path, "/swarm-rpc/assignments") || !strcmp(req->path, "/swarm-rpc/status"))) {
        handle_tasks(f, req, is_a);
        return;
    }
    if (!strcmp(req->path, "/swarm-rpc/ca")) {
        f->ca_calls++;
        reply(req, 200, json_pack("{s:s}", "RootCA", f->root_cert));
    } else if (!strcmp(req->path, "/swarm-rpc/join") && is_a) {
        handle_join(f, req);
    } else if (!strcmp(req->path, "/swarm-rpc/heartbeat")) {
        handle_beat(f, req, is_a);
    } else {
        reply(req, 404, json_pack("{s:s}", "message", "page not found"));
    }
}

static void serve_a(struct http_req *req, void *data)
{
    serve(req, data, true);
}

static void serve_b(struct http_req *req, void *data)
{
    serve(req, data, false);
}

static void write_file(const char *dir, const char *name, const char *data)
{
    char *p = xasprintf("%s/%s", dir, name);
    struct err e;
    ASSERT_EQ_INT(file_write_atomic(p, data, strlen(data), 0600, &e), 0);
    free(p);
}

static struct http_server *listen_on(struct fake *f, int port, http_handler_cb cb)
{
    char *crt = xasprintf("%s/srv.crt", f->dir), *key = xasprintf("%s/srv.key", f->dir);
    char *ca = xasprintf("%s/ca.crt", f->dir), *addr = xasprintf("tcp://127.0.0.1:%d", port);
    struct http_tls_config tls = {.cert_file = crt,
                                  .key_file = key,
                                  .client_ca_file = ca,
                                  .client_cert_optional = true,
                                  .tls13_only = true};
    struct http_server *s = http_server_new(&f->loop, NULL, cb, f);
    struct err e;
    if (http_server_listen(s, addr, &tls, &e) < 0)
        FAIL_AT("listen %s: %s", addr, e.msg);
    free(crt);
    free(key);
    free(ca);
    free(addr);
    return s;
}

static void fake_init(struct fake *f, enum mode mode, int64_t period_ms)
{
    memset(f, 0, sizeof(*f));
    struct err e;
    ASSERT_EQ_INT(uv_loop_init(&f->loop), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/shoal-hollow-test-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(f->dir));
    f->mode = mode;
    f->period_ms = period_ms;
    ASSERT_EQ_INT(ca_root_new(&f->root_cert, &f->root_key, &e), 0);
    f->token = ca_token_new(f->root_cert);
    char *key = NULL, *csr = NULL, *cert = NULL;
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    struct ca_identity id = {
        .cn = "manager", .ou = "swarm-manager", .org = "clusterid0000000000000000"};
    const char *ips[] = {"127.0.0.1"};
    ASSERT_EQ_INT(
        ca_issue(f->root_cert, f->root_key, csr, &id, CA_NODE_EXPIRY_NS, ips, 1, &cert, &e), 0);
    write_file(f->dir, "ca.crt", f->root_cert);
    write_file(f->dir, "srv.crt", cert);
    write_file(f->dir, "srv.key", key);
    free(key);
    free(csr);
    free(cert);
    f->port_a = free_port();
    f->port_b = free_port();
    snprintf(f->addr_a, sizeof(f->addr_a), "127.0.0.1:%d", f->port_a);
    snprintf(f->addr_b, sizeof(f->addr_b), "127.0.0.1:%d", f->port_b);
    f->a = listen_on(f, f->port_a, serve_a);
    f->b = listen_on(f, f->port_b, serve_b);
    uv_timer_init(&f->loop, &f->tick);
    f->tick.data = f;
    if (mode == MODE_TASKS)
        uv_timer_start(&f->tick, on_tick, 20, 20);
}

static void on_stopped(void *data)
{
    struct fake *f = data;
    f->stopped = true;
    f->h = NULL;
    http_server_close(f->a, NULL, NULL);
    http_server_close(f->b, NULL, NULL);
    uv_close((uv_handle_t *)&f->stop_timer, NULL);
    uv_close((uv_handle_t *)&f->tick, NULL);
}

static void stop_now(struct fake *f)
{
    if (!f->h || f->stopped)
        return;
    hollow_get_stats(f->h, &f->final);
    for (int i = 0; i < f->final.count && i < MAX_IDS; i++) {
        const char *id = hollow_node_id(f->h, i);
        snprintf(f->final_ids[i], sizeof(f->final_ids[i]), "%s", id ? id : "");
    }
    uv_timer_stop(&f->stop_timer);
    hollow_stop(f->h, on_stopped, f);
}

static void on_stop_timer(uv_timer_t *t)
{
    struct fake *f = t->data;
    if (f->mode != MODE_TASKS || (f->nids && f->removed_all == f->nids)) {
        stop_now(f);
        return;
    }
    /* MODE_TASKS: stop once every task was removed from its node (or at the deadline) */
    struct hollow_stats st;
    hollow_get_stats(f->h, &st);
    int done = 0;
    for (int i = 0; i < f->nids; i++)
        done += f->tasks[i].step == 3;
    if (f->nids == st.count && done == st.count && st.tasks == 0) {
        f->removed_all = f->nids;
        hollow_get_stats(f->h, &f->final);
    }
    if (uv_now(&f->loop) >= f->deadline) {
        stop_now(f);
        return;
    }
    uv_timer_start(&f->stop_timer, on_stop_timer, f->removed_all ? 0 : 20, 0);
}

static void on_fatal(void *data, const struct err *e)
{
    struct fake *f = data;
    f->fatal_calls++;
    snprintf(f->fatal_msg, sizeof(f->fatal_msg), "%s", e->msg);
    stop_now(f);
}

/* Runs `count` hollow workers with token for run_ms, then stops them. */
static void fake_run(struct fake *f, int count, const char *token, uint64_t run_ms)
{
    struct err e;
    struct hollow_opts o = {.count = count,
                            .join_token = token,
                            .manager = f->addr_a,
                            .advertise_addr = "127.0.0.1",
                            .join_parallel = 2,
                            .tmp_parent = f->dir,
                            .fatal = on_fatal,
                            .data = f};
    f->h = hollow_new(&f->loop, &o, &e);
    if (!f->h)
        FAIL_AT("hollow_new: %s", e.msg);
    uv_timer_init(&f->loop, &f->stop_timer);
    f->stop_timer.data = f;
    f->deadline = uv_now(&f->loop) + run_ms;
    uv_timer_start(&f->stop_timer, on_stop_timer, f->mode == MODE_TASKS ? 20 : run_ms, 0);
    hollow_start(f->h);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_TRUE(f->stopped);
}

static void fake_end(struct fake *f)
{
    ASSERT_EQ_INT(uv_loop_close(&f->loop), 0);
    /* hollow's own temp dir (inside f->dir) is gone: only the fixture's three files remain */
    char *hd = xasprintf("%s/ca.crt", f->dir);
    ASSERT_EQ_INT(access(hd, F_OK), 0);
    free(hd);
    char *cmd_dir = xasprintf("%s", f->dir);
    int n = 0;
    DIR *d = opendir(cmd_dir);
    ASSERT_NOT_NULL(d);
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    ASSERT_EQ_INT(n, 3);
    struct err e;
    ASSERT_EQ_INT(dir_remove_all(f->dir, &e), 0);
    free(cmd_dir);
    free(f->root_cert);
    free(f->root_key);
    free(f->token);
}

TEST_T(hollow_joins_and_beats_with_own_certificates, 60)
{
    struct fake f;
    fake_init(&f, MODE_NORMAL, 100);
    fake_run(&f, 5, f.token, 2500);
    ASSERT_EQ_INT(f.fatal_calls, 0);
    ASSERT_EQ_INT(f.ca_calls, 1);   /* the CA is fetched once for all identities */
    ASSERT_EQ_INT(f.nids, 5);       /* five certificates issued */
    ASSERT_EQ_INT(f.join_calls, 6); /* + the one answered 503 and retried */
    ASSERT_EQ_INT(f.final.joined, 5);
    ASSERT_EQ_INT(f.final.join_errors, 1);
    ASSERT_EQ_INT(f.final.period_ms, 100);
    ASSERT_EQ_INT(f.beats_without_cert, 0);
    for (int i = 0; i < 5; i++) {
        /* each identity hostname is unique, and each beat carried that identity's cert */
        bool seen = false;
        for (int j = 0; j < 5; j++) {
            char want[32];
            snprintf(want, sizeof(want), "hollow-%d", j);
            seen |= !strcmp(f.hosts[i], want);
            if (j != i)
                ASSERT_TRUE(strcmp(f.hosts[i], f.hosts[j]) != 0);
        }
        ASSERT_TRUE(seen);
        ASSERT_TRUE(f.beats_a[i] >= 5);
        ASSERT_TRUE(f.beats_a[i] <= 30);
        ASSERT_EQ_INT(f.beats_b[i], 0);
        ASSERT_TRUE(id_index(&f, f.final_ids[i]) >= 0);
    }
    int total = 0;
    for (int i = 0; i < 5; i++)
        total += f.beats_a[i];
    ASSERT_EQ_INT((long long)f.final.hb_ok, total);
    ASSERT_EQ_INT(f.final.hb_errors, 0);
    fake_end(&f);
}

TEST_T(hollow_follows_the_leader_redirect, 60)
{
    struct fake f;
    fake_init(&f, MODE_REDIRECT, 100);
    fake_run(&f, 4, f.token, 2200);
    ASSERT_EQ_INT(f.fatal_calls, 0);
    ASSERT_EQ_INT(f.nids, 4);
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ_INT(f.redirected[i], 1); /* told once, it stays with the leader */
        ASSERT_EQ_INT(f.beats_a[i], 0);
        ASSERT_TRUE(f.beats_b[i] >= 5);
    }
    ASSERT_EQ_INT(f.final.redirects, 4);
    ASSERT_EQ_INT(f.final.hb_errors, 0);
    fake_end(&f);
}

/* The real agent session on every identity: its task goes through Docker's states to
 * RUNNING with a fake container (64-hex ID, a PID), then SHUTDOWN, then away; the calls follow
 * the leader redirect once and stay there. */
TEST_T(hollow_runs_tasks_through_the_agent_session, 60)
{
    struct fake f;
    fake_init(&f, MODE_TASKS, 100);
    fake_run(&f, 3, f.token, 20000);
    ASSERT_EQ_INT(f.fatal_calls, 0);
    ASSERT_EQ_INT(f.nids, 3);
    ASSERT_EQ_INT(f.removed_all, 3);
    ASSERT_EQ_INT(f.at_running.running, 3);
    ASSERT_EQ_INT((long long)f.at_running.tasks, 3);
    ASSERT_EQ_INT(f.final.running, 0);
    ASSERT_EQ_INT((long long)f.final.tasks, 0);
    const int want[] = {TASK_ACCEPTED, TASK_PREPARING, TASK_READY,
                        TASK_STARTING, TASK_RUNNING,   TASK_SHUTDOWN};
    for (int i = 0; i < 3; i++) {
        struct ftask *t = &f.tasks[i];
        ASSERT_EQ_INT(t->step, 3);
        /* coalescing may skip states, never reorder them: the last of each is as wanted */
        int w = 0;
        for (int k = 0; k < t->nstates; k++) {
            if (k)
                ASSERT_TRUE(t->states[k] >= t->states[k - 1]);
            while (w < (int)ARRAY_SIZE(want) && want[w] < t->states[k])
                w++;
            ASSERT_TRUE(w < (int)ARRAY_SIZE(want) && want[w] == t->states[k]);
        }
        ASSERT_EQ_INT(last_state(t), TASK_SHUTDOWN);
        ASSERT_EQ_INT((int)strlen(t->ctr), 64);
        ASSERT_TRUE(t->pid > 0);
        for (int j = 0; j < i; j++) {
            ASSERT_TRUE(strcmp(t->ctr, f.tasks[j].ctr) != 0);
            ASSERT_TRUE(t->pid != f.tasks[j].pid);
        }
        /* at most the first call of each kind went to a before the identity moved to b */
        ASSERT_TRUE(t->polls_on_a + t->reports_on_a <= 2);
        ASSERT_TRUE(t->polls >= 3);
    }
    fake_end(&f);
}

TEST_T(hollow_spreads_beats_over_the_period, 60)
{
    struct fake f;
    fake_init(&f, MODE_NORMAL, 400);
    fake_run(&f, 4, f.token, 3000);
    ASSERT_EQ_INT(f.nids, 4);
    /* Steady state (after 1.6 s; one join is retried after 1 s): the phase of each identity's beats
     * within the period. With 4 identities evenly spread they sit ~100 ms apart; bursts would put
     * them together. */
    int phase[MAX_IDS];
    for (int i = 0; i < 4; i++)
        phase[i] = -1;
    uint64_t t0 = f.log[0].t;
    for (int k = 0; k < f.nlog; k++)
        if (f.log[k].t - t0 >= 1600)
            phase[f.log[k].id] = (int)((f.log[k].t - t0) % 400);
    int sorted[4];
    for (int i = 0; i < 4; i++) {
        ASSERT_TRUE(phase[i] >= 0);
        sorted[i] = phase[i];
    }
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (sorted[j] < sorted[i]) {
                int t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (int i = 0; i < 4; i++) {
        int gap = (i < 3 ? sorted[i + 1] : sorted[0] + 400) - sorted[i];
        if (gap < 50)
            FAIL_AT("beats bunch up: phases %d %d %d %d", sorted[0], sorted[1], sorted[2],
                    sorted[3]);
    }
    fake_end(&f);
}

TEST_T(hollow_refuses_a_ca_that_does_not_match_the_token, 30)
{
    struct fake f;
    fake_init(&f, MODE_NORMAL, 100);
    char *other_cert = NULL, *other_key = NULL;
    struct err e;
    ASSERT_EQ_INT(ca_root_new(&other_cert, &other_key, &e), 0);
    char *other = ca_token_new(other_cert);
    fake_run(&f, 3, other, 5000);
    ASSERT_EQ_INT(f.fatal_calls, 1);
    ASSERT_CONTAINS(f.fatal_msg, "remote CA does not match fingerprint");
    ASSERT_EQ_INT(f.ca_calls, 1);
    ASSERT_EQ_INT(f.join_calls, 0); /* nothing is sent to an unverified manager */
    ASSERT_EQ_INT(f.final.joined, 0);
    free(other);
    free(other_cert);
    free(other_key);
    fake_end(&f);
}

TEST_T(hollow_stops_when_the_token_is_refused, 30)
{
    struct fake f;
    fake_init(&f, MODE_REFUSE_JOIN, 100);
    fake_run(&f, 10, f.token, 5000);
    ASSERT_EQ_INT(f.fatal_calls, 1);
    ASSERT_CONTAINS(f.fatal_msg, "A valid join token is necessary");
    ASSERT_TRUE(f.join_calls >= 1 && f.join_calls <= 2); /* join_parallel 2 */
    ASSERT_EQ_INT(f.final.joined, 0);
    fake_end(&f);
}

TEST(hollow_new_checks_its_options)
{
    uv_loop_t loop;
    ASSERT_EQ_INT(uv_loop_init(&loop), 0);
    char *cert = NULL, *key = NULL;
    struct err e;
    ASSERT_EQ_INT(ca_root_new(&cert, &key, &e), 0);
    char *tok = ca_token_new(cert);
    struct hollow_opts o = {.count = 2, .join_token = tok, .manager = "127.0.0.1:2377"};
    struct {
        const char *field, *value, *msg;
    } bad[] = {
        {"token", "SWMTKN-1-abc", "invalid join token"},
        {"manager", "example.com:2377", "must be IP:PORT"},
        {"manager", "127.0.0.1:0", "invalid port"},
        {"manager", "[::1", "invalid manager address"},
        {"advertise", "eth0", "--advertise-addr must be an IP address"},
        {"count", NULL, "--count must be"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct hollow_opts b = o;
        if (!strcmp(bad[i].field, "token"))
            b.join_token = bad[i].value;
        else if (!strcmp(bad[i].field, "manager"))
            b.manager = bad[i].value;
        else if (!strcmp(bad[i].field, "advertise"))
            b.advertise_addr = bad[i].value;
        else
            b.count = 0;
        err_clear(&e);
        ASSERT_NULL(hollow_new(&loop, &b, &e));
        ASSERT_CONTAINS(e.msg, bad[i].msg);
    }
    /* good options, never started: stop frees everything */
    struct hollow *h = hollow_new(&loop, &o, &e);
    ASSERT_NOT_NULL(h);
    ASSERT_NULL(hollow_node_id(h, 0));
    struct hollow_stats st;
    hollow_get_stats(h, &st);
    ASSERT_EQ_INT(st.count, 2);
    ASSERT_EQ_INT(st.joined, 0);
    hollow_stop(h, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    free(tok);
    free(cert);
    free(key);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}
