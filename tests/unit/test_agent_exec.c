/* test_agent_exec.c — the real executor adapter (src/agent/agent_exec.c): the pure
 * translation of a task into an exec spec (image config merge, name, labels, refusals), and,
 * where the machine allows real containers (root, conmon, runc/crun, busybox-static; see
 * exec_guard.h), prepare/start/stop/remove of a task from a loaded image, restore by a new
 * adapter over a new exec (same PID), a container removed by hand reported through on_exit,
 * and a missing image refused with Docker's words. */
#include "agent/agent.h"
#include "harness.h"
#include "test_image_tar.h"

#include "exec_guard.h"

static json_t *task_json(const char *extra_cs)
{
    char *txt = xasprintf("{\"ID\":\"task000000000000000000001\",\"ServiceID\":\"svc1\","
                          "\"NodeID\":\"node1\",\"Slot\":3,\"Labels\":{\"tl\":\"t\"},"
                          "\"Spec\":{\"ContainerSpec\":{\"Image\":\"bb:agent\","
                          "\"Labels\":{\"clabel\":\"x\"}%s}}}",
                          extra_cs);
    json_t *j = json_loads(txt, 0, NULL);
    free(txt);
    BUG_ON(!j);
    return j;
}

static json_t *image_cfg(void)
{
    return json_loads("{\"config\":{\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo img\"],"
                      "\"Env\":[\"PATH=/bin\",\"FROM_IMAGE=1\",\"OVERRIDE=image\"],"
                      "\"WorkingDir\":\"/tmp\",\"User\":\"7\"}}",
                      0, NULL);
}

static bool has(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

TEST(agent_exec_spec_merge_image_config)
{
    json_t *cfg = image_cfg();
    struct agent_exec_spec s;
    struct err e = {0};
    /* no Command, no Args: the image's Entrypoint + Cmd */
    json_t *t = task_json(",\"Env\":[\"OVERRIDE=spec\",\"ONLY_SPEC=2\"]");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", cfg, "sha256:abc", NULL, &s, &e),
                  0);
    ASSERT_EQ_STR(s.args[0], "/bin/sh");
    ASSERT_EQ_STR(s.args[1], "-c");
    ASSERT_EQ_STR(s.args[2], "echo img");
    ASSERT_TRUE(s.args[3] == NULL);
    /* the spec's env first, then what the image has and the spec does not */
    ASSERT_EQ_STR(s.env[0], "OVERRIDE=spec");
    ASSERT_EQ_STR(s.env[1], "ONLY_SPEC=2");
    ASSERT_EQ_STR(s.env[2], "PATH=/bin");
    ASSERT_EQ_STR(s.env[3], "FROM_IMAGE=1");
    ASSERT_TRUE(s.env[4] == NULL);
    ASSERT_EQ_STR(s.spec.workdir, "/tmp");
    ASSERT_EQ_STR(s.spec.user, "7:0");
    ASSERT_EQ_STR(s.name, "web.3.task000000000000000000001");
    ASSERT_TRUE(has(s.labels, "com.docker.swarm.task="));
    ASSERT_TRUE(has(s.labels, "com.docker.swarm.task.id=task000000000000000000001"));
    ASSERT_TRUE(has(s.labels, "com.docker.swarm.task.name=web.3.task000000000000000000001"));
    ASSERT_TRUE(has(s.labels, "com.docker.swarm.node.id=node1"));
    ASSERT_TRUE(has(s.labels, "com.docker.swarm.service.id=svc1"));
    ASSERT_TRUE(has(s.labels, "com.docker.swarm.service.name=web"));
    ASSERT_TRUE(has(s.labels, "clabel=x"));
    ASSERT_TRUE(has(s.labels, "tl=t"));
    ASSERT_EQ_STR(json_string_value(json_object_get(s.extra, "command")), "/bin/sh -c 'echo img'");
    ASSERT_EQ_STR(json_string_value(json_object_get(s.extra, "image")), "bb:agent");
    agent_exec_spec_release(&s);
    json_decref(t);

    /* Args only: the image's Entrypoint stays, its Cmd is replaced */
    t = task_json(",\"Args\":[\"echo args\"]");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_EQ_STR(s.args[0], "/bin/sh");
    ASSERT_EQ_STR(s.args[2], "echo args");
    agent_exec_spec_release(&s);
    json_decref(t);

    /* Command: replaces the Entrypoint and drops the image's Cmd; Dir and User win */
    t = task_json(",\"Command\":[\"sleep\"],\"Dir\":\"/w\",\"User\":\"5:6\"");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_EQ_STR(s.args[0], "sleep");
    ASSERT_TRUE(s.args[1] == NULL);
    ASSERT_EQ_STR(s.spec.workdir, "/w");
    ASSERT_EQ_STR(s.spec.user, "5:6");
    agent_exec_spec_release(&s);
    json_decref(t);

    /* global task (no Slot): <service>.<node id>.<task id> */
    t = task_json("");
    json_object_del(t, "Slot");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "g", NULL, "c0ffee", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_EQ_STR(s.name, "g.node1.task000000000000000000001");
    agent_exec_spec_release(&s);
    json_decref(t);

    /* nothing to run */
    json_t *empty = json_loads("{\"config\":{}}", 0, NULL);
    t = task_json("");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", empty, NULL, NULL, &s, &e),
                  -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "No command specified");
    json_decref(t);
    json_decref(empty);
    json_decref(cfg);
}

TEST(agent_exec_spec_security_fields)
{
    json_t *cfg = image_cfg();
    struct agent_exec_spec s;
    struct err e = {0};
    char dir[] = "/tmp/shoal-ae-groups-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char *etc = xasprintf("%s/etc", dir), *grp = xasprintf("%s/etc/group", dir);
    ASSERT_EQ_INT(dir_make(etc, 0755, &e), 0);
    const char *gtxt = "root:x:0:\nstaff:x:50:app\nvideo:x:44:\n";
    ASSERT_EQ_INT(file_write_atomic(grp, gtxt, strlen(gtxt), 0644, &e), 0);
    char *lower[] = {dir, NULL};
    json_t *t = task_json(",\"CapabilityAdd\":[\"CAP_NET_ADMIN\"],\"CapabilityDrop\":[\"MKNOD\"],"
                          "\"Sysctls\":{\"net.core.somaxconn\":\"1024\"},"
                          "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":2048}],"
                          "\"Groups\":[\"staff\",\"44\",\"1000\",\"video\"]");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", cfg, NULL, lower, &s, &e), 0);
    ASSERT_EQ_STR(s.spec.cap_add[0], "CAP_NET_ADMIN");
    ASSERT_NULL(s.spec.cap_add[1]);
    ASSERT_EQ_STR(s.spec.cap_drop[0], "MKNOD");
    ASSERT_EQ_STR(s.spec.sysctls[0], "net.core.somaxconn=1024");
    ASSERT_NULL(s.spec.sysctls[1]);
    ASSERT_EQ_INT(s.spec.n_rlimits, 1);
    ASSERT_EQ_STR(s.spec.rlimits[0].name, "nofile");
    ASSERT_EQ_INT(s.spec.rlimits[0].soft, 1024);
    ASSERT_EQ_INT(s.spec.rlimits[0].hard, 2048);
    /* by name or gid from the image's group file, else a number; each gid once */
    ASSERT_EQ_INT(s.spec.n_groups, 3);
    ASSERT_EQ_INT(s.spec.groups[0], 50);
    ASSERT_EQ_INT(s.spec.groups[1], 44);
    ASSERT_EQ_INT(s.spec.groups[2], 1000);
    agent_exec_spec_release(&s);
    json_decref(t);
    json_decref(cfg);
    dir_remove_all(dir, &e);
    free(etc);
    free(grp);
}

/* TTY: the spec asks the executor for a terminal and inspect's Config.Tty says so; without
 * it, no terminal and Tty false. */
TEST(agent_exec_spec_tty)
{
    json_t *cfg = image_cfg();
    struct agent_exec_spec s;
    struct err e = {0};
    json_t *t = task_json(",\"TTY\":true");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_TRUE(s.spec.tty);
    ASSERT_TRUE(json_is_true(json_object_get(json_object_get(s.extra, "config"), "Tty")));
    agent_exec_spec_release(&s);
    json_decref(t);
    t = task_json("");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c0ffee", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_FALSE(s.spec.tty);
    ASSERT_TRUE(json_is_false(json_object_get(json_object_get(s.extra, "config"), "Tty")));
    agent_exec_spec_release(&s);
    json_decref(t);
    json_decref(cfg);
}

/* Type volume mounts become binds whose source prepare fills from the volume store, with what
 * prepare needs to create the volume; inspect's Mounts are moby's MountPoints. */
TEST(agent_exec_spec_volume_mounts)
{
    json_t *cfg = image_cfg();
    struct agent_exec_spec s;
    struct err e = {0};
    json_t *t =
        task_json(",\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"data\",\"Target\":\"/data\","
                  "\"ReadOnly\":true,\"VolumeOptions\":{\"NoCopy\":true,\"Labels\":{\"k\":\"v\"},"
                  "\"DriverConfig\":{\"Name\":\"local\",\"Options\":{\"type\":\"tmpfs\"}}}},"
                  "{\"Type\":\"volume\",\"Target\":\"/anon\"},"
                  "{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_EQ_INT(s.spec.n_mounts, 3);
    ASSERT_EQ_INT(s.nvols, 2);
    ASSERT_EQ_STR(s.mounts[0].type, "bind");
    ASSERT_NULL(s.mounts[0].source);
    ASSERT_TRUE(s.mounts[0].readonly);
    ASSERT_EQ_INT(s.vols[0].mount, 0);
    ASSERT_EQ_STR(s.vols[0].name, "data");
    ASSERT_EQ_STR(s.vols[0].driver, "local");
    ASSERT_TRUE(s.vols[0].nocopy);
    ASSERT_EQ_STR(json_string_value(json_object_get(s.vols[0].labels, "k")), "v");
    ASSERT_EQ_STR(json_string_value(json_object_get(s.vols[0].options, "type")), "tmpfs");
    ASSERT_EQ_INT(s.vols[1].mount, 1);
    ASSERT_NULL(s.vols[1].name); /* anonymous */
    ASSERT_NULL(s.vols[1].labels);
    ASSERT_FALSE(s.vols[1].nocopy);
    char *m = json_dumps(json_object_get(s.extra, "mounts"), JSON_COMPACT);
    ASSERT_EQ_STR(m, "[{\"Type\":\"volume\",\"Name\":\"data\",\"Source\":\"\",\"Destination\":"
                     "\"/data\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":false,"
                     "\"Propagation\":\"\"},{\"Type\":\"volume\",\"Name\":\"\",\"Source\":\"\","
                     "\"Destination\":\"/anon\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,"
                     "\"Propagation\":\"\"},{\"Type\":\"tmpfs\",\"Source\":\"\",\"Destination\":"
                     "\"/t\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"\"}]");
    free(m);
    agent_exec_spec_release(&s);
    json_decref(t);
    json_decref(cfg);
}

TEST(agent_exec_spec_refusals)
{
    json_t *cfg = image_cfg();
    struct agent_exec_spec s;
    struct err e = {0};
    json_t *t = task_json(
        ",\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/no/such/dir\",\"Target\":\"/v\"}]");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e),
                  -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "invalid mount config for type \"bind\": bind source path does not exist: "
                         "/no/such/dir");
    json_decref(t);
    t = task_json("");
    json_object_set_new(json_object_get(t, "Spec"), "Networks",
                        json_loads("[{\"Target\":\"net1\"}]", 0, NULL));
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e),
                  -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "networks are not supported by shoal yet");
    json_decref(t);
    /* a group that is neither in the image's /etc/group nor a number */
    t = task_json(",\"Groups\":[\"wheel\"]");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e),
                  -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Unable to find group wheel: no matching entries in group file");
    json_decref(t);
    /* a user name needs the image's passwd file */
    t = task_json(",\"User\":\"nobody\"");
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e),
                  -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "unable to find user nobody: no matching entries in passwd file");
    json_decref(t);
    json_decref(cfg);
}

/* A task whose one endpoint port is port_json is refused with want. */
static void port_refused(const json_t *cfg, const char *port_json, const char *want)
{
    struct agent_exec_spec s;
    struct err e = {0};
    json_t *t = task_json("");
    char *ep = xasprintf("{\"Spec\":{\"Ports\":[%s]}}", port_json);
    json_object_set_new(t, "Endpoint", json_loads(ep, 0, NULL));
    free(ep);
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e),
                  -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, want);
    json_decref(t);
}

TEST(agent_exec_spec_host_ports)
{
    json_t *cfg =
        json_loads("{\"config\":{\"Cmd\":[\"httpd\"],\"ExposedPorts\":{\"443/tcp\":{}}}}", 0, NULL);
    struct agent_exec_spec s;
    struct err e = {0};
    json_t *t = task_json("");
    /* a random published port (0) is the node's to pick; udp too */
    json_object_set_new(t, "Endpoint",
                        json_loads("{\"Spec\":{\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,"
                                   "\"PublishMode\":\"host\"},{\"Protocol\":\"udp\",\"TargetPort\":"
                                   "53,\"PublishedPort\":5353,\"PublishMode\":\"host\"}]}}",
                                   0, NULL));
    ASSERT_EQ_INT(agent_exec_spec_build(t, "web", NULL, "c", cfg, NULL, NULL, &s, &e), 0);
    ASSERT_EQ_INT(s.nports, 2);
    ASSERT_EQ_INT(s.ports[0].proto, NET_TCP);
    ASSERT_EQ_INT(s.ports[0].target, 80);
    ASSERT_EQ_INT(s.ports[0].published, 0);
    ASSERT_EQ_INT(s.ports[1].proto, NET_UDP);
    ASSERT_EQ_INT(s.ports[1].published, 5353);
    /* what inspect shows: the bindings asked for ("" = picked), the image's and the
     * published target ports exposed */
    char *pb = json_dumps(json_object_get(s.extra, "port_bindings"), JSON_COMPACT);
    ASSERT_EQ_STR(pb, "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],\"53/udp\":[{\"HostIp\":"
                      "\"\",\"HostPort\":\"5353\"}]}");
    free(pb);
    char *ex = json_dumps(json_object_get(json_object_get(s.extra, "config"), "ExposedPorts"),
                          JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_EQ_STR(ex, "{\"443/tcp\":{},\"53/udp\":{},\"80/tcp\":{}}");
    free(ex);
    agent_exec_spec_release(&s);
    json_decref(t);
    /* the target port is required; sctp is not published by the node */
    port_refused(cfg, "{\"Protocol\":\"tcp\",\"PublishedPort\":80,\"PublishMode\":\"host\"}",
                 "host-mode port 80:0: invalid port");
    port_refused(cfg, "{\"Protocol\":\"sctp\",\"TargetPort\":80,\"PublishMode\":\"host\"}",
                 "published port protocol sctp is not supported by shoal yet");
    json_decref(cfg);
}

/* ---- real containers ---- */

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
    int n;
    char task[64];
    int code;
    char cause[64];
};
static void on_exit_cb(void *arg, const char *task_id, int code, const char *cause)
{
    struct exits *x = arg;
    x->n++;
    snprintf(x->cause, sizeof(x->cause), "%s", cause ? cause : "");
    snprintf(x->task, sizeof(x->task), "%s", task_id);
    x->code = code;
}

struct founds {
    struct res r; /* first: done_cb fills it (found and done share their arg) */
    int n;
    bool running;
    int code;
};
static void found_cb(void *arg, const char *task_id, bool running, int exit_code)
{
    struct founds *f = arg;
    f->n++;
    f->running = running;
    f->code = exit_code;
}

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

static void set_flag(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool exit_seen(struct exits *x)
{
    return x->n > 0;
}

static void run_until_exit(uv_loop_t *loop, struct exits *x, const char *what)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, wake, 50, 50);
    int64_t end = mono_ms() + 30000;
    while (!exit_seen(x) && mono_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!exit_seen(x))
        FAIL_AT("timed out waiting for %s", what);
}

static void call_ok(uv_loop_t *loop, struct res *r, const char *what)
{
    run_until(loop, &r->done, 60000, what);
    if (r->rc != 0)
        FAIL_AT("%s: rc %d: %s", what, r->rc, r->msg);
    memset(r, 0, sizeof(*r));
}

/* Loads a two-layer image "bb:agent": busybox, then /etc/passwd with user app (1234:2345). */
static struct image_store *load_image(void)
{
    struct buf l0 = BUF_INIT, l1 = BUF_INIT, ar = BUF_INIT, out = BUF_INIT;
    ASSERT_TRUE(tt_busybox_layer(&l0));
    tt_file(&l1, "etc/passwd", "root:x:0:0::/:/bin/sh\napp:x:1234:2345::/:/bin/sh\n");
    tt_end(&l1);
    char d0[65], d1[65], id[65];
    tt_sha256(l0.p, l0.len, d0);
    tt_sha256(l1.p, l1.len, d1);
    char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{"
                          "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo image-cmd\"],"
                          "\"Env\":[\"FROM_IMAGE=1\"]},\"rootfs\":{\"type\":\"layers\","
                          "\"diff_ids\":[\"sha256:%s\",\"sha256:%s\"]}}",
                          d0, d1);
    tt_sha256(cfg, strlen(cfg), id);
    char *cname = xasprintf("%s.json", id);
    tt_file(&ar, cname, cfg);
    tt_file_n(&ar, "a/layer.tar", l0.p, l0.len, 0644);
    tt_file_n(&ar, "b/layer.tar", l1.p, l1.len, 0644);
    char *man = xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"bb:agent\"],\"Layers\":["
                          "\"a/layer.tar\",\"b/layer.tar\"]}]",
                          cname);
    tt_file(&ar, "manifest.json", man);
    tt_end(&ar);
    char *arp = xasprintf("%s/bb.tar", tmp), *sroot = xasprintf("%s/image", tmp);
    struct err e = {0};
    ASSERT_EQ_INT(file_write_atomic(arp, ar.p, ar.len, 0600, &e), 0);
    struct image_store *s = image_store_open(sroot, &e);
    if (!s)
        FAIL_AT("open: %s", e.msg);
    if (image_load_path(s, arp, &out, &e) < 0)
        FAIL_AT("load: %s", e.msg);
    free(arp);
    free(sroot);
    free(man);
    free(cname);
    free(cfg);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&l0);
    buf_release(&l1);
    return s;
}

static char *log_text(struct exec *x, const char *ctr)
{
    char *lp = exec_log_path(x, ctr), *raw = NULL;
    size_t n = 0;
    if (file_read(lp, &raw, &n, NULL) < 0)
        raw = xstrdup("");
    free(lp);
    return raw;
}

struct logs_got {
    struct buf text; /* "stream:message" per message */
    int64_t first_ns;
    bool ended;
};
static void log_data(void *arg, int stream, int64_t t, const char *data, size_t len)
{
    struct logs_got *g = arg;
    if (!g->first_ns)
        g->first_ns = t;
    buf_printf(&g->text, "%d:%.*s", stream, (int)len, data);
}
static void log_end(void *arg)
{
    ((struct logs_got *)arg)->ended = true;
}

TEST_T(agent_exec_real_task_lifecycle_and_restore, 180)
{
    guard_setup("/tmp/shoal-agent-exec-XXXXXX", "/shoal-aetest");
    struct image_store *images = load_image();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec_config xc = {
        .root = root, .runtime = getenv("EXEC_TEST_RUNTIME"), .cgroup_parent = cg_parent};
    struct err e = {0};
    struct exec *x = exec_new(&loop, &xc, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    struct agent_exec *ae = agent_exec_new(&loop, x, images, "node1");
    image_store_set_user_cb(images, agent_exec_image_user, ae);
    const struct agent_exec_ops *ops = &agent_exec_real_ops;
    struct res r = {0};
    struct exits ex = {0};

    /* a missing image: Docker's words, and later */
    json_t *t = task_json(",\"Args\":[\"true\"]");
    json_object_set_new(json_object_get(json_object_get(t, "Spec"), "ContainerSpec"), "Image",
                        json_string("busybox"));
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    ASSERT_FALSE(r.done); /* never inside the call */
    run_until(&loop, &r.done, 10000, "prepare of a missing image");
    ASSERT_EQ_INT(r.rc, -ERR_NOT_FOUND);
    ASSERT_EQ_STR(r.msg, "No such image: busybox:latest");
    json_decref(t);
    memset(&r, 0, sizeof(r));

    /* a long-running task: the image's entrypoint, the spec's args, a user by name */
    t = task_json(",\"Args\":[\"echo started as $(id -u):$(id -g) env=$FROM_IMAGE; exec sleep "
                  "300\"],\"User\":\"app\"");
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare");
    const char *tid = "task000000000000000000001";
    struct agent_ctr c1;
    ASSERT_EQ_INT(ops->status(ae, tid, &c1), 0);
    ASSERT_EQ_INT(strlen(c1.id), 64);
    ASSERT_EQ_INT(c1.pid, 0);
    json_t *meta = NULL;
    ASSERT_EQ_INT(exec_meta_get(x, c1.id, &meta, &e), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(meta, "extra"), "name")),
                  "web.3.task000000000000000000001");
    ASSERT_EQ_STR(json_string_value(
                      json_object_get(json_object_get(meta, "labels"), "com.docker.swarm.task.id")),
                  tid);
    json_decref(meta);
    ops->start(ae, tid, done_cb, &r);
    call_ok(&loop, &r, "start");
    ASSERT_EQ_INT(ops->status(ae, tid, &c1), 0);
    ASSERT_TRUE(c1.pid > 0);
    /* the image cannot go while its container runs */
    json_t *rec = NULL;
    ASSERT_EQ_INT(image_remove(images, "bb:agent", false, &rec, &e), -ERR_CONFLICT);
    char want[128];
    snprintf(want, sizeof(want), "container %.12s is using its referenced image", c1.id);
    ASSERT_CONTAINS(e.msg, want);

    /* the daemon restarts: adapter and exec dropped, the container keeps running */
    agent_exec_free(ae);
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(kill(c1.pid, 0), 0);
    x = exec_new(&loop, &xc, &e);
    if (!x)
        FAIL_AT("exec_new again: %s", e.msg);
    ae = agent_exec_new(&loop, x, images, "node1");
    image_store_set_user_cb(images, agent_exec_image_user, ae);
    struct founds f = {0};
    ops->restore(ae, found_cb, on_exit_cb, &ex, done_cb, &f);
    ASSERT_FALSE(f.r.done);
    run_until(&loop, &f.r.done, 30000, "restore");
    ASSERT_EQ_INT(f.r.rc, 0);
    ASSERT_EQ_INT(f.n, 1);
    ASSERT_TRUE(f.running);
    struct agent_ctr c2;
    ASSERT_EQ_INT(ops->status(ae, tid, &c2), 0);
    ASSERT_EQ_STR(c2.id, c1.id);
    ASSERT_EQ_INT(c2.pid, c1.pid);
    /* the container's first output line: the image's entrypoint, a user looked up by name */
    char *lt = NULL;
    for (int64_t end = mono_ms() + 30000; mono_ms() < end;) {
        free(lt);
        lt = log_text(x, c1.id);
        if (strstr(lt, "started as"))
            break;
        uv_timer_t tw;
        bool fired = false;
        uv_timer_init(&loop, &tw);
        tw.data = &fired;
        uv_timer_start(&tw, set_flag, 50, 0);
        while (!fired)
            uv_run(&loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&tw, NULL);
        uv_run(&loop, UV_RUN_NOWAIT); /* the close completes before tw's storage goes away */
    }
    ASSERT_CONTAINS(lt, "started as 1234:2345 env=1");
    free(lt);

    /* the task's log as the log broker gets it: messages with their times, then the end */
    struct logs_got lg = {0};
    struct agent_log_opts lo = {.want_stdout = true, .want_stderr = true, .tail = -1};
    void *lh = agent_exec_log_ops.open(ae, tid, &lo, log_data, log_end, &lg, &e);
    ASSERT_NOT_NULL(lh);
    ASSERT_FALSE(lg.ended); /* never inside the call */
    run_until(&loop, &lg.ended, 10000, "the end of a task log without follow");
    ASSERT_EQ_STR(lg.text.p, "1:started as 1234:2345 env=1\n");
    ASSERT_TRUE(lg.first_ns > 1600000000000000000LL);
    buf_release(&lg.text);
    ASSERT_NULL(agent_exec_log_ops.open(ae, "nosuchtask", &lo, log_data, log_end, &lg, &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);

    /* removed by hand (docker rm -f): the agent learns it through on_exit */
    ASSERT_EQ_INT(ex.n, 0);
    memset(&r, 0, sizeof(r));
    agent_exec_remove_container(ae, c1.id, true, false, done_cb, &r);
    call_ok(&loop, &r, "rm -f");
    run_until_exit(&loop, &ex, "on_exit after rm -f");
    ASSERT_EQ_INT(ex.n, 1);
    ASSERT_EQ_STR(ex.task, tid);
    ASSERT_NE_INT(ex.code, 0);
    ASSERT_EQ_INT(ops->status(ae, tid, &c2), -ERR_NOT_FOUND);
    /* the agent's own remove of a container already gone is fine */
    ops->remove(ae, tid, done_cb, &r);
    call_ok(&loop, &r, "remove after rm -f");
    json_decref(t);

    /* a task that stops within its grace period, then is removed */
    memset(&ex, 0, sizeof(ex));
    t = task_json(",\"Command\":[\"sh\",\"-c\",\"trap 'exit 143' TERM; sleep 300 & wait\"],"
                  "\"StopGracePeriod\":20000000000");
    json_object_set_new(t, "ID", json_string("task000000000000000000002"));
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare 2");
    ops->start(ae, "task000000000000000000002", done_cb, &r);
    call_ok(&loop, &r, "start 2");
    ASSERT_EQ_INT(ops->status(ae, "task000000000000000000002", &c2), 0);
    wait_children(&loop, c2.pid); /* its TERM trap is set: a stop now is answered by it */
    ops->stop(ae, "task000000000000000000002", -1, done_cb, &r);
    call_ok(&loop, &r, "stop 2");
    ASSERT_EQ_INT(ex.n, 1);
    ASSERT_EQ_INT(ex.code, 143);
    ops->remove(ae, "task000000000000000000002", done_cb, &r);
    call_ok(&loop, &r, "remove 2");
    ASSERT_EQ_INT(ex.n, 1); /* once per container */
    json_decref(t);

    /* unwatch: a session that goes drops its registrations; the container stays and its
     * exit no longer reaches the old session (which would be freed memory) */
    memset(&ex, 0, sizeof(ex));
    t = task_json(",\"Command\":[\"sh\",\"-c\",\"trap 'exit 143' TERM; sleep 300 & wait\"]");
    json_object_set_new(t, "ID", json_string("task000000000000000000004"));
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare 4");
    ops->start(ae, "task000000000000000000004", done_cb, &r);
    call_ok(&loop, &r, "start 4");
    ASSERT_EQ_INT(ops->status(ae, "task000000000000000000004", &c2), 0);
    wait_children(&loop, c2.pid);
    ops->unwatch(ae, &ex);
    ops->stop(ae, "task000000000000000000004", -1, done_cb, &r);
    call_ok(&loop, &r, "stop 4");
    ops->remove(ae, "task000000000000000000004", done_cb, &r);
    call_ok(&loop, &r, "remove 4");
    ASSERT_EQ_INT(ex.n, 0);
    json_decref(t);

    /* created, never started, then a restart: reported not running with -1, not a clean 0 */
    t = task_json(",\"Command\":[\"true\"]");
    json_object_set_new(t, "ID", json_string("task000000000000000000003"));
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare 3");
    json_decref(t);
    agent_exec_free(ae);
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    x = exec_new(&loop, &xc, &e);
    if (!x)
        FAIL_AT("exec_new a third time: %s", e.msg);
    ae = agent_exec_new(&loop, x, images, "node1");
    image_store_set_user_cb(images, agent_exec_image_user, ae);
    memset(&f, 0, sizeof(f));
    ops->restore(ae, found_cb, on_exit_cb, &ex, done_cb, &f);
    run_until(&loop, &f.r.done, 30000, "restore 3");
    ASSERT_EQ_INT(f.n, 1);
    ASSERT_FALSE(f.running);
    ASSERT_EQ_INT(f.code, -1);
    ops->remove(ae, "task000000000000000000003", done_cb, &r);
    call_ok(&loop, &r, "remove 3");

    ASSERT_EQ_INT(image_remove(images, "bb:agent", false, &rec, &e), 0);
    json_decref(rec);

    agent_exec_free(ae);
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    image_store_free(images);
}

/* Swarm's health gating with real containers: a start completes only once the container is
 * healthy (CMD-SHELL test -e /tmp/ok every 200 ms: not before the file exists); a container
 * that turns unhealthy later is stopped and its exit carries moby's cause; one never healthy
 * fails its start with moby's words. Docker's State.Health is kept for inspect. */
TEST_T(agent_exec_real_health_gating, 180)
{
    guard_setup("/tmp/shoal-agent-health-XXXXXX", "/shoal-aehealth");
    struct image_store *images = load_image();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec_config xc = {
        .root = root, .runtime = getenv("EXEC_TEST_RUNTIME"), .cgroup_parent = cg_parent};
    struct err e = {0};
    struct exec *x = exec_new(&loop, &xc, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    struct agent_exec *ae = agent_exec_new(&loop, x, images, "node1");
    const struct agent_exec_ops *ops = &agent_exec_real_ops;
    struct res r = {0};
    struct exits ex = {0};

    json_t *t =
        task_json(",\"Command\":[\"sh\",\"-c\",\"mkdir -p /tmp; sleep 1; touch /tmp/ok; sleep 1; "
                  "rm /tmp/ok; exec sleep "
                  "300\"],\"StopGracePeriod\":300000000,\"Healthcheck\":{\"Test\":[\"CMD-SHELL\","
                  "\"test -e /tmp/ok\"],\"Interval\":200000000,\"Retries\":2,"
                  "\"StartPeriod\":5000000000,\"StartInterval\":100000000}");
    const char *tid = "task000000000000000000001";
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare");
    int64_t t0 = mono_ms();
    ops->start(ae, tid, done_cb, &r);
    call_ok(&loop, &r, "start (healthy)");
    int64_t took = mono_ms() - t0;
    if (took < 1000)
        FAIL_AT("the start completed after %lld ms, before the container could be healthy",
                (long long)took);
    const char *ctr = agent_exec_container(ae, tid);
    ASSERT_NOT_NULL(ctr);
    ASSERT_EQ_INT(exec_health_status(x, ctr), EXEC_HEALTH_HEALTHY);
    json_t *meta = NULL;
    ASSERT_EQ_INT(exec_meta_get(x, ctr, &meta, &e), 0);
    json_t *hc =
        json_object_get(json_object_get(json_object_get(meta, "extra"), "config"), "Healthcheck");
    ASSERT_EQ_INT(json_integer_value(json_object_get(hc, "Interval")), 200000000);
    json_decref(meta);
    /* the file goes: unhealthy after 2 failures, stopped, the exit says why */
    run_until_exit(&loop, &ex, "the exit of the unhealthy container");
    ASSERT_EQ_STR(ex.task, tid);
    ASSERT_EQ_INT(ex.code, 137);
    ASSERT_EQ_STR(ex.cause, "dockerexec: unhealthy container");
    json_t *h = exec_health_get(x, ctr);
    ASSERT_EQ_STR(json_string_value(json_object_get(h, "Status")), "unhealthy");
    /* probes go on while the container stops, as Docker's */
    ASSERT_TRUE(json_integer_value(json_object_get(h, "FailingStreak")) >= 2);
    json_decref(h);
    ops->remove(ae, tid, done_cb, &r);
    call_ok(&loop, &r, "remove");
    json_decref(t);

    /* never healthy: the start fails as moby's */
    memset(&ex, 0, sizeof(ex));
    t = task_json(",\"Command\":[\"sleep\",\"300\"],\"StopGracePeriod\":300000000,"
                  "\"Healthcheck\":{\"Test\":[\"CMD\",\"false\"],\"Interval\":100000000,"
                  "\"Retries\":1}");
    json_object_set_new(t, "ID", json_string("task000000000000000000002"));
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare 2");
    ops->start(ae, "task000000000000000000002", done_cb, &r);
    run_until(&loop, &r.done, 30000, "start 2");
    ASSERT_EQ_INT(r.rc, -ERR_INTERNAL);
    ASSERT_EQ_STR(r.msg, "task: non-zero exit (137): dockerexec: unhealthy container");
    ASSERT_EQ_INT(ex.n, 1);
    memset(&r, 0, sizeof(r));
    ops->remove(ae, "task000000000000000000002", done_cb, &r);
    call_ok(&loop, &r, "remove 2");
    json_decref(t);

    /* Test NONE: no probe, the start completes at once */
    t = task_json(",\"Command\":[\"sleep\",\"300\"],\"Healthcheck\":{\"Test\":[\"NONE\"]}");
    json_object_set_new(t, "ID", json_string("task000000000000000000003"));
    ops->prepare(ae, t, "web", on_exit_cb, &ex, done_cb, &r);
    call_ok(&loop, &r, "prepare 3");
    ops->start(ae, "task000000000000000000003", done_cb, &r);
    call_ok(&loop, &r, "start 3");
    ASSERT_EQ_INT(exec_health_status(x, agent_exec_container(ae, "task000000000000000000003")),
                  EXEC_HEALTH_NONE);
    ops->remove(ae, "task000000000000000000003", done_cb, &r);
    call_ok(&loop, &r, "remove 3");
    json_decref(t);

    agent_exec_free(ae);
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    image_store_free(images);
}
