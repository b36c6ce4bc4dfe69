/* test_api_containers.c — the Engine API's /containers endpoints over a real task container:
 * the API server on a unix socket in a temp dir, exec + image store + the agent's adapter
 * behind it, requests made by a forked child with a blocking socket (the loop serves them
 * meanwhile). Checks Docker's shapes for ps, inspect (by name and ID prefix), logs framing,
 * kill + wait, rm -f reported to the task's agent, the 404 and 501 words. Also the pure
 * `docker ps` status texts. Needs what exec_guard.h needs for real containers. */
#include "agent/agent.h"
#include "api/api_int.h"
#include "harness.h"
#include "test_image_tar.h"

#include "exec_guard.h"

#include <sys/socket.h>
#include <sys/un.h>

TEST(api_container_status_texts)
{
    char b[96];
    int64_t s = 1000000000;
    api_human_duration(0, b, sizeof(b));
    ASSERT_EQ_STR(b, "Less than a second");
    api_human_duration(1 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "1 second");
    api_human_duration(14 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "14 seconds");
    api_human_duration(90 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "About a minute");
    api_human_duration(150 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "2 minutes");
    api_human_duration(3600 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "About an hour");
    api_human_duration(5 * 3600 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "5 hours");
    api_human_duration(3 * 86400 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "3 days");
    struct exec_state st = {.status = EXEC_RUNNING, .started_ns = 100 * s};
    api_container_status_text(&st, EXEC_HEALTH_NONE, 130 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "Up 30 seconds");
    st = (struct exec_state){
        .status = EXEC_EXITED, .exit_code = 3, .started_ns = 1, .finished_ns = 100 * s};
    api_container_status_text(&st, EXEC_HEALTH_NONE, 102 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "Exited (3) 2 seconds ago");
    st = (struct exec_state){.status = EXEC_CREATED};
    api_container_status_text(&st, EXEC_HEALTH_NONE, 102 * s, b, sizeof(b));
    ASSERT_EQ_STR(b, "Created");
}

/* ---- loop plumbing ---- */

static void wake(uv_timer_t *t)
{
    (void)t;
}

static void run_until(uv_loop_t *loop, bool *flag, int64_t ms, const char *what)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, wake, 50, 50);
    int64_t end = mono_ms() + ms;
    while (!*flag && mono_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!*flag)
        FAIL_AT("timed out after %lld ms waiting for %s", (long long)ms, what);
}

struct res {
    bool done;
    int rc;
    char msg[ERR_MSG_MAX];
};
static void done_cb(void *arg, int rc, const char *err)
{
    struct res *r = arg;
    r->done = true;
    r->rc = rc;
    snprintf(r->msg, sizeof(r->msg), "%s", err ? err : "");
}

struct exits {
    int n, code;
};
static void on_exit_cb(void *arg, const char *task_id, int code, const char *cause)
{
    struct exits *x = arg;
    x->n++;
    x->code = code;
}

/* ---- one HTTP exchange from a child process ---- */
static char sock_path[320];

struct reply {
    uv_pipe_t pipe;
    struct buf raw;
    bool eof, closed;
    int status;
    const char *body; /* into raw */
    size_t body_len;
};

static void r_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    b->base = xmalloc(65536);
    b->len = 65536;
}
static void r_closed(uv_handle_t *h)
{
    ((struct reply *)h->data)->closed = true;
}
static void r_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct reply *r = s->data;
    if (n > 0)
        buf_add(&r->raw, b->base, (size_t)n);
    else if (n < 0) {
        r->eof = true;
        uv_close((uv_handle_t *)s, r_closed);
    }
    free(b->base);
}

/* De-chunks a chunked body in place. */
static void dechunk(struct reply *r)
{
    struct buf out = BUF_INIT;
    const char *p = r->body, *end = r->body + r->body_len;
    while (p < end) {
        char *e;
        unsigned long n = strtoul(p, &e, 16);
        const char *data = strstr(e, "\r\n");
        if (!data || !n)
            break;
        data += 2;
        buf_add(&out, data, n);
        p = data + n + 2;
    }
    buf_add(&out, "", 0);
    size_t off = (size_t)(r->body - r->raw.p);
    r->raw.len = off;
    buf_add(&r->raw, out.p, out.len);
    r->body = r->raw.p + off;
    r->body_len = out.len;
    buf_release(&out);
}

/* Starts the exchange in a child; request_finish runs the loop until the answer is in. */
static pid_t request_start(uv_loop_t *loop, const char *method, const char *target, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    int p[2];
    ASSERT_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(2);
        char req[1024];
        int n = snprintf(req, sizeof(req),
                         "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
                         "close\r\n\r\n",
                         method, target);
        if (write(fd, req, (size_t)n) != n)
            _exit(3);
        char b[65536];
        ssize_t k;
        while ((k = read(fd, b, sizeof(b))) > 0)
            if (write(p[1], b, (size_t)k) != k)
                _exit(4);
        _exit(0);
    }
    close(p[1]);
    uv_pipe_init(loop, &r->pipe, 0);
    r->pipe.data = r;
    uv_pipe_open(&r->pipe, p[0]);
    uv_read_start((uv_stream_t *)&r->pipe, r_alloc, r_read);
    return pid;
}

static void request_finish(uv_loop_t *loop, pid_t pid, const char *target, struct reply *r)
{
    run_until(loop, &r->closed, 30000, target);
    int st;
    waitpid(pid, &st, 0);
    buf_add(&r->raw, "", 0);
    ASSERT_TRUE(r->raw.len > 12);
    r->status = atoi(r->raw.p + 9);
    const char *hdr_end = strstr(r->raw.p, "\r\n\r\n");
    ASSERT_NOT_NULL(hdr_end);
    r->body = hdr_end + 4;
    r->body_len = r->raw.len - (size_t)(r->body - r->raw.p);
    if (strcasestr(r->raw.p, "Transfer-Encoding: chunked") &&
        strcasestr(r->raw.p, "Transfer-Encoding: chunked") < hdr_end)
        dechunk(r);
}

static void request(uv_loop_t *loop, const char *method, const char *target, struct reply *r)
{
    request_finish(loop, request_start(loop, method, target, r), target, r);
}

static json_t *reply_json(struct reply *r)
{
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    if (!j)
        FAIL_AT("not JSON: %.*s", (int)r->body_len, r->body);
    return j;
}

static void load_busybox(struct image_store *s)
{
    struct buf l0 = BUF_INIT, ar = BUF_INIT, out = BUF_INIT;
    ASSERT_TRUE(tt_busybox_layer(&l0));
    char d0[65], id[65];
    tt_sha256(l0.p, l0.len, d0);
    char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":"
                          "[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
                          "\"sha256:%s\"]}}",
                          d0);
    tt_sha256(cfg, strlen(cfg), id);
    char *cname = xasprintf("%s.json", id);
    tt_file(&ar, cname, cfg);
    tt_file_n(&ar, "a/layer.tar", l0.p, l0.len, 0644);
    char *man = xasprintf(
        "[{\"Config\":\"%s\",\"RepoTags\":[\"busybox:latest\"],\"Layers\":[\"a/layer.tar\"]}]",
        cname);
    tt_file(&ar, "manifest.json", man);
    tt_end(&ar);
    char *arp = xasprintf("%s/bb.tar", tmp);
    struct err e = {0};
    ASSERT_EQ_INT(file_write_atomic(arp, ar.p, ar.len, 0600, &e), 0);
    if (image_load_path(s, arp, &out, &e) < 0)
        FAIL_AT("load: %s", e.msg);
    free(arp);
    free(man);
    free(cname);
    free(cfg);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&l0);
}

static void api_closed_cb(void *data)
{
    *(bool *)data = true;
}

static json_t *net_extra(void)
{
    return json_loads(
        "{\"config\":{\"ExposedPorts\":{\"443/tcp\":{},\"8080/tcp\":{}}},\"network\":{"
        "\"IPAddress\":\"172.18.0.2\",\"IPPrefixLen\":16,\"Gateway\":\"172.18.0.1\","
        "\"MacAddress\":\"02:42:ac:12:00:02\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":"
        "8080,\"PublishedPort\":18080},{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":"
        "32768}],\"Name\":\"bridge\",\"NetworkID\":\"n1\",\"EndpointID\":\"e1\",\"SandboxID\":"
        "\"s1\",\"SandboxKey\":\"/x/netns/c1\"},\"port_bindings\":{\"8080/tcp\":[{\"HostIp\":"
        "\"\",\"HostPort\":\"18080\"}],\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}}",
        0, NULL);
}

static void assert_json(json_t *j, const char *want)
{
    char *got = json_dumps(j, JSON_COMPACT);
    ASSERT_EQ_STR(got, want);
    free(got);
    json_decref(j);
}

TEST(api_container_network_shapes)
{
    json_t *x = net_extra();
    /* running: Docker's shape for a container on a bridge network, the node network's entry
     * named as GET /networks names it (the facts of a container attached before kept the old
     * name "bridge") */
    assert_json(
        api_container_net_settings(x, true),
        "{\"Bridge\":\"\",\"SandboxID\":\"s1\",\"HairpinMode\":false,\"LinkLocalIPv6Address\":\"\","
        "\"LinkLocalIPv6PrefixLen\":0,\"Ports\":{\"443/tcp\":null,\"53/udp\":[{\"HostIp\":"
        "\"0.0.0.0\",\"HostPort\":\"32768\"}],\"8080/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":"
        "\"18080\"}]},\"SandboxKey\":\"/x/netns/c1\",\"SecondaryIPAddresses\":null,"
        "\"SecondaryIPv6Addresses\":null,\"EndpointID\":\"e1\",\"Gateway\":\"172.18.0.1\","
        "\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"IPAddress\":\"172.18.0.2\","
        "\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"MacAddress\":\"02:42:ac:12:00:02\","
        "\"Networks\":{\"shoal_gwbridge\":{\"IPAMConfig\":null,\"Links\":null,\"Aliases\":null,"
        "\"NetworkID\":\"n1\",\"EndpointID\":\"e1\",\"Gateway\":\"172.18.0.1\",\"IPAddress\":"
        "\"172.18.0.2\",\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\","
        "\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"02:42:ac:12:00:02\",\"DriverOpts\":null}}}");
    /* stopped: released, the network's ID kept */
    assert_json(
        api_container_net_settings(x, false),
        "{\"Bridge\":\"\",\"SandboxID\":\"\",\"HairpinMode\":false,\"LinkLocalIPv6Address\":\"\","
        "\"LinkLocalIPv6PrefixLen\":0,\"Ports\":{},\"SandboxKey\":\"\",\"SecondaryIPAddresses\":"
        "null,\"SecondaryIPv6Addresses\":null,\"EndpointID\":\"\",\"Gateway\":\"\","
        "\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"IPAddress\":\"\",\"IPPrefixLen\":"
        "0,\"IPv6Gateway\":\"\",\"MacAddress\":\"\",\"Networks\":{\"shoal_gwbridge\":{"
        "\"IPAMConfig\":"
        "null,\"Links\":null,\"Aliases\":null,\"NetworkID\":\"n1\",\"EndpointID\":\"\","
        "\"Gateway\":\"\",\"IPAddress\":\"\",\"IPPrefixLen\":0,\"IPv6Gateway\":\"\","
        "\"GlobalIPv6Address\":\"\",\"GlobalIPv6PrefixLen\":0,\"MacAddress\":\"\","
        "\"DriverOpts\":null}}}");
    /* docker ps: the PORTS column's source */
    assert_json(api_container_list_ports(x, true),
                "[{\"PrivatePort\":443,\"Type\":\"tcp\"},{\"IP\":\"0.0.0.0\",\"PrivatePort\":53,"
                "\"PublicPort\":32768,\"Type\":\"udp\"},{\"IP\":\"0.0.0.0\",\"PrivatePort\":8080,"
                "\"PublicPort\":18080,\"Type\":\"tcp\"}]");
    assert_json(api_container_list_ports(x, false), "[]");
    json_t *ln = api_container_list_net(x, true);
    ASSERT_EQ_STR(
        json_string_value(json_object_get(
            json_object_get(json_object_get(ln, "Networks"), NET_NETWORK_NAME), "IPAddress")),
        "172.18.0.2");
    json_decref(ln);
    assert_json(api_container_port_bindings(x),
                "{\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],\"8080/tcp\":[{\"HostIp\":\"\","
                "\"HostPort\":\"18080\"}]}");
    json_decref(x);
    /* a container without a network (the node has none): empty, no entry */
    x = json_object();
    json_t *ns = api_container_net_settings(x, true);
    ASSERT_EQ_INT(json_object_size(json_object_get(ns, "Networks")), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ns, "IPAddress")), "");
    json_decref(ns);
    assert_json(api_container_port_bindings(x), "{}");
    json_decref(x);
}

TEST_T(api_containers_task_container, 180)
{
    guard_setup("/tmp/shoal-api-ctr-XXXXXX", "/shoal-apitest");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e = {0};
    char *iroot = xasprintf("%s/image", tmp), *nroot = xasprintf("%s/node", tmp);
    struct image_store *images = image_store_open(iroot, &e);
    ASSERT_NOT_NULL(images);
    load_busybox(images);
    struct exec_config xc = {
        .root = root, .runtime = getenv("EXEC_TEST_RUNTIME"), .cgroup_parent = cg_parent};
    struct exec *x = exec_new(&loop, &xc, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    struct agent_exec *ae = agent_exec_new(&loop, x, images, "node1");
    image_store_set_user_cb(images, agent_exec_image_user, ae);
    struct node_config nc = {.data_root = nroot};
    struct node *node = node_new(&loop, &nc);
    struct api_config ac = {.data_root = nroot,
                            .engine_version = "test",
                            .exec = x,
                            .images = images,
                            .agent_exec = ae};
    struct api *a = api_new(&loop, node, &ac);
    snprintf(sock_path, sizeof(sock_path), "%s/api.sock", tmp);
    char *addr = xasprintf("unix://%s", sock_path);
    ASSERT_EQ_INT(api_listen(a, addr, NULL, &e), 0);

    /* a task container that sets its TERM trap, prints a line, then waits for TERM (trap
     * first: once its output shows, a TERM meets the handler; as a namespace's init the shell
     * would ignore one that came before) */
    json_t *task = json_loads(
        "{\"ID\":\"t0000000000000000000000001\",\"ServiceID\":\"s1\",\"NodeID\":\"node1\","
        "\"Slot\":1,\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Labels\":{\"clabel\":"
        "\"x\"},\"Command\":[\"sh\",\"-c\",\"trap 'exit 143' TERM; echo hello; echo oops >&2; "
        "sleep 300 & wait\"]}}}",
        0, NULL);
    ASSERT_NOT_NULL(task);
    struct res r = {0};
    struct exits ex = {0};
    agent_exec_real_ops.prepare(ae, task, "web", on_exit_cb, &ex, done_cb, &r);
    run_until(&loop, &r.done, 60000, "prepare");
    ASSERT_EQ_INT(r.rc, 0);
    memset(&r, 0, sizeof(r));
    agent_exec_real_ops.start(ae, "t0000000000000000000000001", done_cb, &r);
    run_until(&loop, &r.done, 60000, "start");
    ASSERT_EQ_INT(r.rc, 0);
    const char *cid = agent_exec_container(ae, "t0000000000000000000000001");
    ASSERT_NOT_NULL(cid);
    char id[72];
    snprintf(id, sizeof(id), "%s", cid);
    const char *name = "web.1.t0000000000000000000000001";

    struct reply rep;
    request(&loop, "GET", "/v1.41/containers/json", &rep);
    ASSERT_EQ_INT(rep.status, 200);
    json_t *j = reply_json(&rep);
    ASSERT_EQ_INT(json_array_size(j), 1);
    json_t *it = json_array_get(j, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(it, "Id")), id);
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(it, "Names"), 0)),
                  "/web.1.t0000000000000000000000001");
    ASSERT_EQ_STR(json_string_value(json_object_get(it, "Image")), "busybox");
    ASSERT_TRUE(str_has_prefix(json_string_value(json_object_get(it, "ImageID")), "sha256:"));
    ASSERT_EQ_STR(json_string_value(json_object_get(it, "Command")),
                  "sh -c 'trap '\\''exit 143'\\'' TERM; echo hello; echo oops >&2; sleep 300 & "
                  "wait'");
    ASSERT_EQ_STR(json_string_value(json_object_get(it, "State")), "running");
    ASSERT_TRUE(str_has_prefix(json_string_value(json_object_get(it, "Status")), "Up "));
    json_t *labels = json_object_get(it, "Labels");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "com.docker.swarm.task.name")), name);
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "com.docker.swarm.service.name")),
                  "web");
    ASSERT_EQ_STR(json_string_value(json_object_get(labels, "clabel")), "x");
    ASSERT_EQ_STR(
        json_string_value(json_object_get(json_object_get(it, "HostConfig"), "NetworkMode")),
        "default");
    ASSERT_TRUE(json_is_array(json_object_get(it, "Ports")));
    json_decref(j);
    buf_release(&rep.raw);

    /* filters: a label that matches, one that does not */
    request(&loop, "GET",
            "/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22clabel%3Dx%22%5D%7D", &rep);
    j = reply_json(&rep);
    ASSERT_EQ_INT(json_array_size(j), 1);
    json_decref(j);
    buf_release(&rep.raw);
    /* ancestor: by the image's name; no networks, so a network filter matches nothing; a
     * container is not created before itself */
    request(&loop, "GET",
            "/v1.41/containers/json?filters=%7B%22ancestor%22%3A%5B%22busybox%22%5D%7D", &rep);
    j = reply_json(&rep);
    ASSERT_EQ_INT(json_array_size(j), 1);
    json_decref(j);
    buf_release(&rep.raw);
    request(&loop, "GET", "/v1.41/containers/json?filters=%7B%22network%22%3A%5B%22bridge%22%5D%7D",
            &rep);
    j = reply_json(&rep);
    ASSERT_EQ_INT(json_array_size(j), 0);
    json_decref(j);
    buf_release(&rep.raw);
    char *bt = xasprintf(
        "/v1.41/containers/json?filters=%%7B%%22before%%22%%3A%%5B%%22%s%%22%%5D%%7D", name);
    request(&loop, "GET", bt, &rep);
    free(bt);
    ASSERT_EQ_INT(rep.status, 200);
    j = reply_json(&rep);
    ASSERT_EQ_INT(json_array_size(j), 0);
    json_decref(j);
    buf_release(&rep.raw);
    request(&loop, "GET", "/v1.41/containers/json?filters=%7B%22name%22%3A%5B%22nope%22%5D%7D",
            &rep);
    j = reply_json(&rep);
    ASSERT_EQ_INT(json_array_size(j), 0);
    json_decref(j);
    buf_release(&rep.raw);

    /* inspect by name and by a 12-character prefix */
    char *target = xasprintf("/v1.41/containers/%s/json", name);
    request(&loop, "GET", target, &rep);
    free(target);
    ASSERT_EQ_INT(rep.status, 200);
    j = reply_json(&rep);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "Id")), id);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "Name")),
                  "/web.1.t0000000000000000000000001");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "Path")), "sh");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(j, "State"), "Status")),
                  "running");
    struct agent_ctr ac1;
    ASSERT_EQ_INT(agent_exec_real_ops.status(ae, "t0000000000000000000000001", &ac1), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "State"), "Pid")), ac1.pid);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(j, "Config"), "Image")),
                  "busybox");
    json_decref(j);
    buf_release(&rep.raw);
    char prefix[13];
    snprintf(prefix, sizeof(prefix), "%.12s", id);
    target = xasprintf("/v1.41/containers/%s/json", prefix);
    request(&loop, "GET", target, &rep);
    free(target);
    ASSERT_EQ_INT(rep.status, 200);
    buf_release(&rep.raw);
    request(&loop, "GET", "/v1.41/containers/nosuch/json", &rep);
    ASSERT_EQ_INT(rep.status, 404);
    ASSERT_CONTAINS(rep.body, "{\"message\":\"No such container: nosuch\"}");
    buf_release(&rep.raw);

    /* logs: stdcopy frames, stdout then stderr as written */
    target = xasprintf("/v1.41/containers/%s/logs?stdout=1&stderr=1", prefix);
    for (int64_t end = mono_ms() + 30000;;) {
        request(&loop, "GET", target, &rep);
        if (rep.body_len >= 8 + 6 + 8 + 5 || mono_ms() > end)
            break;
        buf_release(&rep.raw);
    }
    free(target);
    ASSERT_EQ_INT(rep.status, 200);
    ASSERT_EQ_INT(rep.body_len, 8 + 6 + 8 + 5);
    ASSERT_EQ_INT(memcmp(rep.body, "\1\0\0\0\0\0\0\6hello\n", 14), 0);
    ASSERT_EQ_INT(memcmp(rep.body + 14, "\2\0\0\0\0\0\0\5oops\n", 13), 0);
    buf_release(&rep.raw);
    request(&loop, "GET", "/v1.41/containers/nosuch/logs", &rep);
    ASSERT_EQ_INT(rep.status, 400);
    buf_release(&rep.raw);

    /* logs -f with timestamps and tail: the last line, then the stream ends with the
     * container; kill with TERM meanwhile, then wait gives its code */
    struct reply frep;
    char *ftarget =
        xasprintf("/v1.41/containers/%s/logs?stderr=1&follow=1&timestamps=1&tail=1", id);
    pid_t fpid = request_start(&loop, "GET", ftarget, &frep);
    target = xasprintf("/v1.41/containers/%s/kill?signal=TERM", id);
    request(&loop, "POST", target, &rep);
    free(target);
    ASSERT_EQ_INT(rep.status, 204);
    buf_release(&rep.raw);
    request_finish(&loop, fpid, ftarget, &frep);
    free(ftarget);
    ASSERT_EQ_INT(frep.status, 200);
    ASSERT_CONTAINS(frep.raw.p, "Content-Type: application/vnd.docker.raw-stream");
    /* one stderr frame: "2026-...Z oops\n" (30-character timestamp, a space) */
    ASSERT_EQ_INT(frep.body_len, 8 + 31 + 5);
    ASSERT_EQ_INT(memcmp(frep.body, "\2\0\0\0\0\0\0\x24", 8), 0);
    ASSERT_EQ_INT(frep.body[8 + 30], ' ');
    ASSERT_EQ_INT(memcmp(frep.body + 8 + 31, "oops\n", 5), 0);
    buf_release(&frep.raw);
    target = xasprintf("/v1.41/containers/%s/wait", id);
    request(&loop, "POST", target, &rep);
    free(target);
    ASSERT_EQ_INT(rep.status, 200);
    ASSERT_CONTAINS(rep.body, "\"StatusCode\":143");
    buf_release(&rep.raw);
    ASSERT_EQ_INT(ex.n, 1);
    ASSERT_EQ_INT(ex.code, 143);
    request(&loop, "GET", "/v1.41/containers/json", &rep);
    ASSERT_CONTAINS(rep.body, "[]");
    buf_release(&rep.raw);
    request(&loop, "GET", "/v1.41/containers/json?all=1", &rep);
    ASSERT_CONTAINS(rep.body, "\"Status\":\"Exited (143) ");
    buf_release(&rep.raw);

    /* rm (exited, no force needed), create is not built */
    target = xasprintf("/v1.41/containers/%s", name);
    request(&loop, "DELETE", target, &rep);
    free(target);
    ASSERT_EQ_INT(rep.status, 204);
    buf_release(&rep.raw);
    ASSERT_EQ_INT(agent_exec_real_ops.status(ae, "t0000000000000000000000001", &ac1),
                  -ERR_NOT_FOUND);
    ASSERT_EQ_INT(ex.n, 1);
    request(&loop, "POST", "/v1.41/containers/create", &rep);
    ASSERT_EQ_INT(rep.status, 501);
    buf_release(&rep.raw);

    /* a running task container removed by hand with force: its agent hears of it */
    json_object_set_new(task, "ID", json_string("t0000000000000000000000002"));
    memset(&r, 0, sizeof(r));
    memset(&ex, 0, sizeof(ex));
    agent_exec_real_ops.prepare(ae, task, "web", on_exit_cb, &ex, done_cb, &r);
    run_until(&loop, &r.done, 60000, "prepare 2");
    memset(&r, 0, sizeof(r));
    agent_exec_real_ops.start(ae, "t0000000000000000000000002", done_cb, &r);
    run_until(&loop, &r.done, 60000, "start 2");
    ASSERT_EQ_INT(r.rc, 0);
    snprintf(id, sizeof(id), "%s", agent_exec_container(ae, "t0000000000000000000000002"));
    target = xasprintf("/v1.41/containers/%s", id);
    request(&loop, "DELETE", target, &rep);
    ASSERT_EQ_INT(rep.status, 409);
    buf_release(&rep.raw);
    free(target);
    target = xasprintf("/v1.41/containers/%s?force=1", id);
    request(&loop, "DELETE", target, &rep);
    free(target);
    ASSERT_EQ_INT(rep.status, 204);
    buf_release(&rep.raw);
    ASSERT_EQ_INT(ex.n, 1);
    ASSERT_NE_INT(ex.code, 0);

    bool closed = false;
    api_close(a, api_closed_cb, &closed);
    run_until(&loop, &closed, 10000, "api close");
    node_stop(node, NULL, NULL);
    agent_exec_free(ae);
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    image_store_free(images);
    json_decref(task);
    free(addr);
    free(iroot);
    free(nroot);
}
