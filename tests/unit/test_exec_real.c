/* test_exec_real.c — the executor with real containers: conmon + runc/crun on a busybox
 * rootfs (overlay of a shared lower dir and a per-container upper).
 *
 * Needs root, conmon, an OCI runtime and Debian's busybox-static (NEED_TOOL otherwise: skipped
 * outside CI, failing with CI set). Everything lives in a fresh temp dir and a cgroup parent
 * named after this process; a cleanup kills only the conmons and container PIDs whose
 * pid files are in that dir, unmounts what is mounted under it, removes the cgroups and the
 * dir; a guardian process does it however the test ends. Waits are event-driven, each with a
 * generous deadline. Set EXEC_TEST_RUNTIME=/usr/bin/crun to run them through crun. */
#include "exec/exec.h"
#include "exec_guard.h"
#include "harness.h"

static char lower[300];

/* Runs argv, returns its stdout (heap) or NULL. Only for building the rootfs. */
static char *capture(char *const argv[])
{
    int p[2];
    if (pipe(p) < 0)
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
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
    waitpid(pid, &st, 0);
    return buf_detach(&b, NULL);
}

static void copy_file(const char *from, const char *to, int mode)
{
    char *d = NULL;
    size_t n;
    struct err e = {0};
    if (file_read(from, &d, &n, &e) < 0)
        FAIL_AT("%s", e.msg);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, d, n), (long long)n);
    close(fd);
    free(d);
}

static bool cgroup_dirs_exist(const char *sub)
{
    for (size_t i = 0; i < ARRAY_SIZE(cg_controllers); i++) {
        char *p = xasprintf("/sys/fs/cgroup/%s%s%s%s", cg_controllers[i],
                            *cg_controllers[i] ? "/" : "", cg_parent + 1, sub);
        struct stat st;
        bool ex = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        free(p);
        if (ex)
            return true;
    }
    return false;
}

static bool mounted_under(const char *prefix)
{
    char *d = NULL;
    size_t n;
    if (file_read("/proc/self/mountinfo", &d, &n, NULL) < 0)
        return false;
    bool r = strstr(d, prefix) != NULL;
    free(d);
    return r;
}

static void setup(void)
{
    guard_setup("/tmp/shoal-exec-test-XXXXXX", "/shoal-test");
    snprintf(lower, sizeof(lower), "%s/base", tmp);
    struct err e = {0};
    static const char *const dirs[] = {"bin", "proc", "sys", "dev", "tmp", "etc", "sbin"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char *p = xasprintf("%s/%s", lower, dirs[i]);
        ASSERT_EQ_INT(dir_make(p, 0755, &e), 0);
        free(p);
    }
    char *bb = xasprintf("%s/bin/busybox", lower);
    copy_file("/bin/busybox", bb, 0755);
    free(bb);
    char *const argv[] = {"/bin/busybox", "--list", NULL};
    char *list = capture(argv);
    ASSERT_NOT_NULL(list);
    for (char *save = NULL, *a = strtok_r(list, "\n", &save); a; a = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(a, "busybox"))
            continue; /* it would replace the binary with a link to itself */
        char *p = xasprintf("%s/bin/%s", lower, a);
        ASSERT_EQ_INT(symlink("busybox", p), 0); /* relative: valid inside the container */
        free(p);
    }
    free(list);
}

/* ---- loop plumbing ---- */
struct res {
    bool done;
    int rc;
    char msg[ERR_MSG_MAX];
};
static void done_cb(void *arg, int rc, const struct err *e)
{
    struct res *r = arg;
    r->done = true;
    r->rc = rc;
    if (e)
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
}
struct exitres {
    bool done;
    struct exec_state st;
};
static void exit_cb(void *arg, const char *id, const struct exec_state *st)
{
    struct exitres *r = arg;
    r->done = true;
    r->st = *st;
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

static void call_ok(uv_loop_t *loop, struct res *r, const char *what)
{
    run_until(loop, &r->done, 60000, what);
    if (r->rc != 0)
        FAIL_AT("%s: rc %d: %s", what, r->rc, r->msg);
}

static struct exec *exec_open(uv_loop_t *loop)
{
    struct exec_config cfg = {
        .root = root, .runtime = getenv("EXEC_TEST_RUNTIME"), .cgroup_parent = cg_parent};
    struct err e = {0};
    struct exec *x = exec_new(loop, &cfg, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    return x;
}

static void exec_close(uv_loop_t *loop, struct exec *x)
{
    exec_free(x);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void spec_init(struct exec_spec *s, const char *id, const char *const *args)
{
    static const char *lowers[2];
    lowers[0] = lower;
    lowers[1] = NULL;
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->lower = lowers;
    s->args = args;
}

static void create_start(uv_loop_t *loop, struct exec *x, const struct exec_spec *s,
                         struct exitres *er)
{
    struct res r = {0};
    exec_create(x, s, exit_cb, er, done_cb, &r);
    call_ok(loop, &r, "create");
    struct exec_state st;
    struct err e = {0};
    ASSERT_EQ_INT(exec_state_get(x, s->id, &st, &e), 0);
    ASSERT_TRUE(st.pid > 0);
    memset(&r, 0, sizeof(r));
    exec_start(x, s->id, done_cb, &r);
    call_ok(loop, &r, "start");
}

static void delete_ok(uv_loop_t *loop, struct exec *x, const char *id)
{
    struct res r = {0};
    exec_delete(x, id, true, done_cb, &r);
    call_ok(loop, &r, "delete");
    char *dir = exec_dir_path(x, id);
    struct stat st;
    ASSERT_TRUE(stat(dir, &st) < 0);
    char *rootfs = xasprintf("%s/rootfs ", dir); /* mountinfo separates fields by spaces */
    ASSERT_FALSE(mounted_under(rootfs));
    free(rootfs);
    free(dir);
    char *sub = xasprintf("/%s", id);
    ASSERT_FALSE(cgroup_dirs_exist(sub));
    free(sub);
}

static char *read_logs(struct exec *x, const char *id, const struct exec_log_opts *o)
{
    char *path = exec_log_path(x, id);
    char *d = NULL;
    size_t n = 0;
    struct err e = {0};
    if (file_read(path, &d, &n, &e) < 0)
        FAIL_AT("%s", e.msg);
    free(path);
    struct buf out = BUF_INIT;
    size_t used;
    exec_logs_convert(d, n, o, true, &out, &used);
    free(d);
    buf_add(&out, "", 0);
    return buf_detach(&out, NULL);
}

struct follow {
    struct buf got;
    const char *needle;
    bool found, ended;
};
static void follow_data(void *arg, const char *frames, size_t len)
{
    struct follow *f = arg;
    buf_add(&f->got, frames, len);
    if (memmem(f->got.p, f->got.len, f->needle, strlen(f->needle)))
        f->found = true;
}
static void follow_end(void *arg, int rc, const struct err *e)
{
    ((struct follow *)arg)->ended = true;
}

/* Follows the log until needle shows up in a stdout frame's payload. */
static void wait_log(uv_loop_t *loop, struct exec *x, const char *id, const char *needle)
{
    struct follow f = {.needle = needle};
    buf_init(&f.got);
    struct exec_log_opts o = {.want_stdout = true, .tail = -1};
    struct err e = {0};
    struct exec_logs_follower *fl = exec_logs_follow(x, id, &o, follow_data, follow_end, &f, &e);
    if (!fl)
        FAIL_AT("follow: %s", e.msg);
    run_until(loop, &f.found, 30000, needle);
    ASSERT_EQ_INT(f.got.p[0], 1); /* a stdout frame */
    exec_logs_follow_stop(fl);
    uv_run(loop, UV_RUN_NOWAIT);
    ASSERT_FALSE(f.ended);
    buf_release(&f.got);
}

TEST_T(exec_real_exit_code_and_logs, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sh", "-c", "echo hello; echo oops >&2; exit 3", NULL};
    struct exec_spec s;
    spec_init(&s, "echo3", args);
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    run_until(&loop, &er.done, 30000, "exit");
    ASSERT_EQ_INT(er.st.exit_code, 3);
    ASSERT_FALSE(er.st.oom_killed);
    ASSERT_TRUE(er.st.finished_ns >= er.st.started_ns && er.st.started_ns > 0);
    struct exec_state st;
    struct err e = {0};
    ASSERT_EQ_INT(exec_state_get(x, "echo3", &st, &e), 0);
    ASSERT_EQ_INT(st.status, EXEC_EXITED);

    struct exec_log_opts o = {.want_stdout = true, .tail = -1};
    char *frames = read_logs(x, "echo3", &o);
    ASSERT_EQ_INT(memcmp(frames, "\x01\0\0\0\0\0\0\x06hello\n", 14), 0);
    free(frames);
    o.want_stdout = false;
    o.want_stderr = true;
    frames = read_logs(x, "echo3", &o);
    ASSERT_EQ_INT(memcmp(frames, "\x02\0\0\0\0\0\0\x05oops\n", 13), 0);
    free(frames);

    /* following an exited container's log: everything, then the end */
    struct follow f = {.needle = "\x02"};
    buf_init(&f.got);
    o.want_stdout = true;
    struct exec_logs_follower *fl =
        exec_logs_follow(x, "echo3", &o, follow_data, follow_end, &f, &e);
    ASSERT_NOT_NULL(fl);
    run_until(&loop, &f.ended, 30000, "end of the log");
    ASSERT_EQ_INT(f.got.len, 27);
    ASSERT_EQ_INT(memcmp(f.got.p, "\x01\0\0\0\0\0\0\x06hello\n\x02\0\0\0\0\0\0\x05oops\n", 27), 0);
    buf_release(&f.got);

    delete_ok(&loop, x, "echo3");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST_T(exec_real_stop_term_and_kill, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);

    /* PID 1 without a handler ignores TERM: SIGKILL after the grace period, 137 */
    const char *args1[] = {"sleep", "1000", NULL};
    struct exec_spec s;
    spec_init(&s, "sleeper", args1);
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    struct res r = {0};
    int64_t t0 = mono_ms();
    exec_stop(x, "sleeper", 1000000000LL, done_cb, &r);
    call_ok(&loop, &r, "stop sleeper");
    int64_t took = mono_ms() - t0;
    ASSERT_TRUE(er.done);
    ASSERT_EQ_INT(er.st.exit_code, 137);
    ASSERT_TRUE(took >= 1000);
    delete_ok(&loop, x, "sleeper");

    /* a TERM trap: exits at once with 143 */
    const char *args2[] = {"sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait", NULL};
    spec_init(&s, "trapper", args2);
    memset(&er, 0, sizeof(er));
    create_start(&loop, x, &s, &er);
    /* the trap is set once the shell has forked its sleep: wait for that child in /proc */
    struct exec_state st;
    struct err e = {0};
    ASSERT_EQ_INT(exec_state_get(x, "trapper", &st, &e), 0);
    wait_children(&loop, st.pid);
    memset(&r, 0, sizeof(r));
    t0 = mono_ms();
    exec_stop(x, "trapper", 30000000000LL, done_cb, &r);
    call_ok(&loop, &r, "stop trapper");
    ASSERT_EQ_INT(er.st.exit_code, 143);
    ASSERT_TRUE(mono_ms() - t0 < 30000);
    delete_ok(&loop, x, "trapper");

    /* the spec's StopSignal is what stop sends */
    const char *args3[] = {"sh", "-c", "trap 'exit 10' USR1; sleep 1000 & wait", NULL};
    spec_init(&s, "usr1", args3);
    s.stop_signal = "SIGUSR1";
    s.stop_grace_ns = 30000000000LL;
    memset(&er, 0, sizeof(er));
    create_start(&loop, x, &s, &er);
    ASSERT_EQ_INT(exec_state_get(x, "usr1", &st, &e), 0);
    wait_children(&loop, st.pid);
    memset(&r, 0, sizeof(r));
    exec_stop(x, "usr1", -1, done_cb, &r); /* -1: the spec's grace */
    call_ok(&loop, &r, "stop usr1");
    ASSERT_EQ_INT(er.st.exit_code, 10);
    delete_ok(&loop, x, "usr1");

    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

struct found {
    int n;
    enum exec_found what;
    struct exec_state st;
};
static struct found restore_seen;
static void found_cb(void *arg, const char *id, enum exec_found what, const struct exec_state *st)
{
    restore_seen.n++;
    restore_seen.what = what;
    restore_seen.st = *st;
}

static int64_t cgroup_read(const char *id, const char *v1file, const char *v2file)
{
    char *p = xasprintf("/sys/fs/cgroup/memory%s/%s/%s", cg_parent, id, v1file);
    char *d = NULL;
    size_t n;
    if (file_read(p, &d, &n, NULL) < 0) {
        free(p);
        p = xasprintf("/sys/fs/cgroup%s/%s/%s", cg_parent, id, v2file);
        if (file_read(p, &d, &n, NULL) < 0)
            FAIL_AT("no memory cgroup file for %s", id);
    }
    free(p);
    int64_t v = strtoll(d, NULL, 10);
    free(d);
    return v;
}

TEST_T(exec_real_limits_init_and_restore, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sh", "-c", "cat /proc/1/cmdline; echo; exec sleep 1000", NULL};
    struct exec_spec s;
    spec_init(&s, "limited", args);
    s.memory = 64 << 20;
    s.init = access("/usr/bin/tini-static", X_OK) == 0;
    const char *labels[] = {"com.example=1", NULL};
    s.labels = labels;
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    ASSERT_EQ_INT(cgroup_read("limited", "memory.limit_in_bytes", "memory.max"), 64 << 20);
    struct exec_state before;
    struct err e = {0};
    ASSERT_EQ_INT(exec_state_get(x, "limited", &before, &e), 0);
    ASSERT_EQ_INT(before.status, EXEC_RUNNING);

    /* PID 1 is the init, seen through the log follower (stdcopy frames) */
    wait_log(&loop, x, "limited", s.init ? "/sbin/docker-init" : "sh");

    /* a daemon restart: drop the executor without touching the container; a log follower
     * still running is stopped with it (no end callback, no timer left on the loop) */
    struct follow lf = {.needle = "never-printed"};
    buf_init(&lf.got);
    struct exec_log_opts lo = {.want_stdout = true, .tail = -1};
    ASSERT_NOT_NULL(exec_logs_follow(x, "limited", &lo, follow_data, follow_end, &lf, &e));
    exec_close(&loop, x);
    ASSERT_FALSE(lf.ended);
    buf_release(&lf.got);
    ASSERT_TRUE(kill(before.pid, 0) == 0);
    x = exec_open(&loop);
    struct res r = {0};
    struct exitres er2 = {0};
    exec_restore(x, found_cb, exit_cb, &er2, done_cb, &r);
    call_ok(&loop, &r, "restore");
    ASSERT_EQ_INT(restore_seen.n, 1);
    ASSERT_EQ_INT(restore_seen.what, EXEC_FOUND_RUNNING);
    ASSERT_EQ_INT(restore_seen.st.pid, before.pid);
    ASSERT_EQ_INT(restore_seen.st.started_ns, before.started_ns);
    ASSERT_EQ_INT(restore_seen.st.created_ns, before.created_ns);
    json_t *meta = NULL;
    ASSERT_EQ_INT(exec_meta_get(x, "limited", &meta, &e), 0);
    ASSERT_EQ_STR(
        json_string_value(json_object_get(json_object_get(meta, "labels"), "com.example")), "1");
    json_decref(meta);

    /* the restored container is driven as before: stop reports through the new exec */
    memset(&r, 0, sizeof(r));
    exec_stop(x, "limited", 1000000000LL, done_cb, &r);
    call_ok(&loop, &r, "stop restored");
    ASSERT_TRUE(er2.done);
    ASSERT_FALSE(er.done); /* the old executor's callback is gone with it */
    ASSERT_TRUE(er2.st.exit_code == 143 || er2.st.exit_code == 137);
    delete_ok(&loop, x, "limited");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST_T(exec_real_restore_without_shim_removes, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sleep", "1000", NULL};
    struct exec_spec s;
    spec_init(&s, "orphan", args);
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    exec_close(&loop, x);
    /* the shim dies and takes no exit code with it: SIGKILL conmon (we started it) */
    char *cp = xasprintf("%s/containers/orphan/conmon.pid", root);
    kill_pidfile(cp, "conmon");
    char *ex = xasprintf("%s/exits/orphan", root);
    /* until it is gone or a zombie (init here may reap late; restore must see it dead) */
    int64_t end = mono_ms() + 10000;
    char *d = NULL;
    size_t n;
    for (;;) {
        if (file_read(cp, &d, &n, NULL) < 0)
            break;
        char *statp = xasprintf("/proc/%d/stat", atoi(d));
        free(d);
        d = NULL;
        char *stat_txt = NULL;
        bool gone = file_read(statp, &stat_txt, &n, NULL) < 0 ||
                    (strrchr(stat_txt, ')') && strrchr(stat_txt, ')')[2] == 'Z');
        free(stat_txt);
        free(statp);
        if (gone || mono_ms() > end)
            break;
        usleep(20000); /* waiting for a SIGKILLed process to vanish; no loop to run here */
    }
    unlink(ex);
    free(ex);
    free(cp);
    x = exec_open(&loop);
    struct res r = {0};
    memset(&restore_seen, 0, sizeof(restore_seen));
    exec_restore(x, found_cb, exit_cb, &er, done_cb, &r);
    call_ok(&loop, &r, "restore");
    ASSERT_EQ_INT(restore_seen.n, 1);
    ASSERT_EQ_INT(restore_seen.what, EXEC_FOUND_REMOVED);
    char *dir = exec_dir_path(x, "orphan");
    struct stat st;
    ASSERT_TRUE(stat(dir, &st) < 0);
    free(dir);
    ASSERT_FALSE(mounted_under(tmp));
    ASSERT_FALSE(cgroup_dirs_exist("/orphan"));
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST_T(exec_real_oom_killed, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    /* dd's 64 MiB buffer in a 16 MiB cgroup (swap at most as much again, as Docker) */
    const char *args[] = {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", NULL};
    struct exec_spec s;
    spec_init(&s, "hog", args);
    s.memory = 16 << 20;
    /* conmon writes an "oom" marker relative to its cwd: it must not land in ours */
    char *cwd = xasprintf("%s/cwd", tmp);
    ASSERT_EQ_INT(mkdir(cwd, 0755), 0);
    ASSERT_EQ_INT(chdir(cwd), 0);
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    run_until(&loop, &er.done, 30000, "OOM kill");
    ASSERT_EQ_INT(er.st.exit_code, 137);
    ASSERT_TRUE(er.st.oom_killed);
    ASSERT_EQ_INT(access("oom", F_OK), -1);
    ASSERT_EQ_INT(chdir("/"), 0);
    free(cwd);
    delete_ok(&loop, x, "hog");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

static int64_t cgroup_file(const char *ctl, const char *id, const char *file)
{
    char *p = xasprintf("/sys/fs/cgroup/%s%s/%s/%s", ctl, cg_parent, id, file);
    char *d = NULL;
    size_t n;
    int64_t v = -1;
    if (file_read(p, &d, &n, NULL) == 0)
        v = strtoll(d, NULL, 10);
    free(d);
    free(p);
    return v;
}

TEST_T(exec_real_mounts_user_and_cpu, 120)
{
    setup();
    char *data = xasprintf("%s/data", tmp), *f = xasprintf("%s/data/f", tmp);
    struct err e = {0};
    ASSERT_EQ_INT(dir_make(data, 0755, &e), 0);
    ASSERT_EQ_INT(file_write_atomic(f, "from-the-host\n", 14, 0644, &e), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sh", "-c",
                          "cat /data/f; touch /x 2>/dev/null && echo root-rw || echo root-ro;"
                          "echo t > /scratch/t && echo tmpfs-ok; touch /data/y 2>/dev/null ||"
                          " echo data-ro; echo uid=$(id -u):$(id -g) cwd=$(pwd) $GREETING;"
                          "exec sleep 1000",
                          NULL};
    const char *env[] = {"GREETING=hi", NULL};
    struct exec_mount mounts[] = {
        {.type = "bind", .source = data, .target = "/data", .readonly = true},
        {.type = "tmpfs", .target = "/scratch", .tmpfs_size = 1 << 20, .tmpfs_mode = 01777},
    };
    struct exec_spec s;
    spec_init(&s, "mounts", args);
    s.env = env;
    s.user = "1000:1000";
    s.workdir = "/tmp";
    s.readonly_rootfs = true;
    s.mounts = mounts;
    s.n_mounts = 2;
    s.nano_cpus = 500000000;
    s.cpu_shares = 256;
    s.pids_limit = 50;
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    wait_log(&loop, x, "mounts", "cwd=");
    struct exec_log_opts o = {.want_stdout = true, .tail = -1};
    char *frames = read_logs(x, "mounts", &o);
    static const char want[] = "\x01\0\0\0\0\0\0\x0e"
                               "from-the-host\n"
                               "\x01\0\0\0\0\0\0\x08"
                               "root-ro\n"
                               "\x01\0\0\0\0\0\0\x09"
                               "tmpfs-ok\n"
                               "\x01\0\0\0\0\0\0\x08"
                               "data-ro\n"
                               "\x01\0\0\0\0\0\0\x1a"
                               "uid=1000:1000 cwd=/tmp hi\n";
    if (memcmp(frames, want, sizeof(want) - 1) != 0)
        FAIL_AT("log frames differ; payloads: %s|%s", frames + 8, frames + 30);
    free(frames);
    if (access("/sys/fs/cgroup/cpu", F_OK) == 0) {
        ASSERT_EQ_INT(cgroup_file("cpu", "mounts", "cpu.cfs_quota_us"), 50000);
        ASSERT_EQ_INT(cgroup_file("cpu", "mounts", "cpu.cfs_period_us"), 100000);
        ASSERT_EQ_INT(cgroup_file("cpu", "mounts", "cpu.shares"), 256);
        ASSERT_EQ_INT(cgroup_file("pids", "mounts", "pids.max"), 50);
    }
    char *meta = xasprintf("%s/containers/mounts/meta.json", root);
    ASSERT_EQ_INT(access(meta, R_OK), 0);
    free(meta);
    /* a running container cannot be removed without force */
    struct res r = {0};
    exec_delete(x, "mounts", false, done_cb, &r);
    ASSERT_TRUE(r.done);
    ASSERT_EQ_INT(r.rc, -ERR_CONFLICT);
    ASSERT_CONTAINS(r.msg, "You cannot remove a running container mounts");
    memset(&r, 0, sizeof(r));
    exec_kill(x, "mounts", SIGKILL, done_cb, &r);
    call_ok(&loop, &r, "kill");
    run_until(&loop, &er.done, 30000, "exit after SIGKILL");
    ASSERT_EQ_INT(er.st.exit_code, 137);
    ASSERT_FALSE(er.st.oom_killed);
    delete_ok(&loop, x, "mounts");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    free(data);
    free(f);
}

TEST_T(exec_real_create_failure_leaves_nothing, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"/no/such/binary", NULL};
    struct exec_spec s;
    spec_init(&s, "broken", args);
    struct exitres er = {0};
    struct res r = {0};
    exec_create(x, &s, exit_cb, &er, done_cb, &r);
    run_until(&loop, &r.done, 60000, "create");
    ASSERT_TRUE(r.rc < 0);
    fprintf(stderr, "# create failed as it should: %s\n", r.msg);
    ASSERT_CONTAINS(r.msg, "/no/such/binary");
    struct exec_state st;
    struct err e = {0};
    ASSERT_EQ_INT(exec_state_get(x, "broken", &st, &e), -ERR_NOT_FOUND);
    char *dir = exec_dir_path(x, "broken");
    struct stat sb;
    ASSERT_TRUE(stat(dir, &sb) < 0);
    free(dir);
    ASSERT_FALSE(mounted_under(tmp));
    /* the same id can be used again */
    const char *ok_args[] = {"true", NULL};
    spec_init(&s, "broken", ok_args);
    memset(&er, 0, sizeof(er));
    create_start(&loop, x, &s, &er);
    run_until(&loop, &er.done, 30000, "exit");
    ASSERT_EQ_INT(er.st.exit_code, 0);
    delete_ok(&loop, x, "broken");
    ASSERT_FALSE(cgroup_dirs_exist("/broken"));

    /* created, never started: delete --force kills the waiting init and cleans up */
    const char *sleep_args[] = {"sleep", "1000", NULL};
    spec_init(&s, "unstarted", sleep_args);
    memset(&er, 0, sizeof(er));
    memset(&r, 0, sizeof(r));
    exec_create(x, &s, exit_cb, &er, done_cb, &r);
    call_ok(&loop, &r, "create unstarted");
    ASSERT_EQ_INT(exec_state_get(x, "unstarted", &st, &e), 0);
    ASSERT_EQ_INT(st.status, EXEC_CREATED);
    memset(&r, 0, sizeof(r));
    exec_kill(x, "unstarted", SIGTERM, done_cb, &r);
    ASSERT_EQ_INT(r.rc, -ERR_CONFLICT); /* not running */
    delete_ok(&loop, x, "unstarted");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

/* crun through the private-mount-namespace wrapper (this binary re-executed under
 * EXEC_CRUN_WRAPPER_NAME) on a hybrid host, crun itself elsewhere. */
TEST_T(exec_real_crun, 120)
{
    setup();
    if (!have("/usr/bin/crun"))
        NEED_TOOL("crun");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec_config cfg = {.root = root, .runtime = "/usr/bin/crun", .cgroup_parent = cg_parent};
    struct err e = {0};
    struct exec *x = exec_new(&loop, &cfg, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    char *ctl = NULL;
    size_t n;
    bool hybrid =
        file_read("/sys/fs/cgroup/unified/cgroup.controllers", &ctl, &n, NULL) == 0 && n > 1;
    free(ctl);
    ASSERT_EQ_INT(exec_runtime_kind(x), hybrid ? EXEC_RT_CRUN_WRAPPED : EXEC_RT_CRUN);
    ASSERT_EQ_STR(exec_runtime_path(x), "/usr/bin/crun");
    if (hybrid) {
        /* the wrapper in the state root: the freestanding program, which passes its arguments
         * to $SHOAL_EXEC_CRUN inside a mount namespace without cgroup2 */
        char *w = xasprintf("%s/%s", root, EXEC_CRUN_WRAPPER_NAME);
        struct stat st;
        ASSERT_EQ_INT(lstat(w, &st), 0);
        ASSERT_TRUE(S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0111);
        setenv("SHOAL_EXEC_CRUN", "/bin/sh", 1);
        char *argv[] = {w,
                        "-c",
                        "echo \"$0 $1\"; grep -c ' /sys/fs/cgroup/unified ' "
                        "/proc/self/mountinfo",
                        "one",
                        "two",
                        NULL};
        char *out = capture(argv);
        unsetenv("SHOAL_EXEC_CRUN");
        ASSERT_EQ_STR(out, "one two\n0\n");
        free(out);
        free(w);
    }
    const char *args[] = {"sh", "-c", "echo via-crun; exit 7", NULL};
    struct exec_spec s;
    spec_init(&s, "crun1", args);
    s.memory = 32 << 20;
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    run_until(&loop, &er.done, 30000, "exit");
    ASSERT_EQ_INT(er.st.exit_code, 7);
    struct exec_log_opts o = {.want_stdout = true, .tail = -1};
    char *frames = read_logs(x, "crun1", &o);
    ASSERT_EQ_INT(memcmp(frames, "\x01\0\0\0\0\0\0\x09via-crun\n", 17), 0);
    free(frames);
    delete_ok(&loop, x, "crun1");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

/* exec_free while a create is in flight: nothing leaks, the loop closes, and the next
 * executor finds the container (created by the runtime meanwhile) and removes it cleanly. */
/* A burst of creates, starts, stops and deletes through a gate of 2 runtime calls: every
 * call waits its turn and completes (none lost, none failed), kill goes to the container's
 * init directly, and freeing the executor with calls still queued leaks nothing (ASan). */
struct burst {
    struct res r[12];
    struct exitres er[12];
};

static bool all_done(struct res *r, int n)
{
    for (int i = 0; i < n; i++)
        if (!r[i].done)
            return false;
    return true;
}

static void run_all(uv_loop_t *loop, struct res *r, int n, const char *what)
{
    int64_t end = mono_ms() + 60000;
    while (!all_done(r, n) && mono_ms() < end)
        uv_run(loop, UV_RUN_ONCE);
    for (int i = 0; i < n; i++) {
        if (!r[i].done)
            FAIL_AT("%s %d: no answer in 60 s", what, i);
        if (r[i].rc != 0)
            FAIL_AT("%s %d: rc %d: %s", what, i, r[i].rc, r[i].msg);
    }
}

TEST_T(exec_real_runtime_calls_queue_in_order, 180)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec_config cfg = {.root = root,
                              .runtime = getenv("EXEC_TEST_RUNTIME"),
                              .cgroup_parent = cg_parent,
                              .max_runtime_calls = 2};
    struct err e = {0};
    struct exec *x = exec_new(&loop, &cfg, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    enum { N = 12 };
    static struct burst b;
    memset(&b, 0, sizeof(b));
    char ids[N][16];
    const char *args[] = {"sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait", NULL};
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "burst%d", i);
        struct exec_spec s;
        spec_init(&s, ids[i], args);
        exec_create(x, &s, exit_cb, &b.er[i], done_cb, &b.r[i]);
    }
    run_all(&loop, b.r, N, "create");
    memset(b.r, 0, sizeof(b.r));
    for (int i = 0; i < N; i++)
        exec_start(x, ids[i], done_cb, &b.r[i]);
    run_all(&loop, b.r, N, "start");
    for (int i = 0; i < N; i++) {
        struct exec_state st;
        ASSERT_EQ_INT(exec_state_get(x, ids[i], &st, &e), 0);
        wait_children(&loop, st.pid);
    }
    memset(b.r, 0, sizeof(b.r));
    for (int i = 0; i < N; i++)
        exec_stop(x, ids[i], 20000000000LL, done_cb, &b.r[i]);
    run_all(&loop, b.r, N, "stop");
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(b.er[i].done);
        ASSERT_EQ_INT(b.er[i].st.exit_code, 143); /* the TERM trap's: no SIGKILL was needed */
    }
    memset(b.r, 0, sizeof(b.r));
    for (int i = 0; i < N; i++)
        exec_delete(x, ids[i], true, done_cb, &b.r[i]);
    run_all(&loop, b.r, N, "delete");
    for (int i = 0; i < N; i++) {
        struct exec_state st;
        ASSERT_TRUE(exec_state_get(x, ids[i], &st, &e) < 0);
    }
    /* queued calls at free: abandoned, freed, and the loop closes */
    memset(b.r, 0, sizeof(b.r));
    for (int i = 0; i < 4; i++) {
        struct exec_spec s;
        spec_init(&s, ids[i], args);
        exec_create(x, &s, exit_cb, &b.er[i], done_cb, &b.r[i]);
    }
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    /* the two that had started finish without us; a new executor removes what they left */
    uv_loop_init(&loop);
    x = exec_open(&loop);
    struct res r = {0};
    int64_t end = mono_ms() + 30000;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < 2; i++) {
            char *cpidf = xasprintf("%s/containers/%s/conmon.pid", root, ids[i]);
            char *pidf = xasprintf("%s/containers/%s/ctr.pid", root, ids[i]);
            char *d = NULL;
            size_t n;
            if (access(pidf, F_OK) < 0 && file_read(cpidf, &d, &n, NULL) == 0) {
                char *comm = xasprintf("/proc/%d/comm", atoi(d));
                busy = busy || access(comm, F_OK) == 0;
                free(comm);
                free(d);
            }
            free(pidf);
            free(cpidf);
        }
        if (!busy || mono_ms() > end)
            break;
        usleep(20000); /* no loop runs here: the executor is gone on purpose */
    }
    exec_restore(x, NULL, NULL, NULL, done_cb, &r);
    call_ok(&loop, &r, "restore");
    for (int i = 0; i < 4; i++) {
        struct exec_state st;
        if (exec_state_get(x, ids[i], &st, &e) == 0)
            delete_ok(&loop, x, ids[i]);
    }
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    ASSERT_FALSE(mounted_under(tmp));
}

TEST_T(exec_real_free_during_create, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sleep", "1000", NULL};
    struct exec_spec s;
    spec_init(&s, "inflight", args);
    struct exitres er = {0};
    struct res r = {0};
    exec_create(x, &s, exit_cb, &er, done_cb, &r);
    exec_close(&loop, x);
    ASSERT_FALSE(r.done); /* abandoned, as documented */
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);

    /* the runtime finishes the create without us: wait for its pid file (or conmon's end) */
    char *pidf = xasprintf("%s/containers/inflight/ctr.pid", root);
    char *cpidf = xasprintf("%s/containers/inflight/conmon.pid", root);
    int64_t end = mono_ms() + 30000;
    while (access(pidf, F_OK) < 0 && mono_ms() < end) {
        char *d = NULL;
        size_t n;
        if (file_read(cpidf, &d, &n, NULL) == 0) {
            char *comm = xasprintf("/proc/%d/comm", atoi(d));
            bool gone = access(comm, F_OK) < 0;
            free(comm);
            free(d);
            if (gone)
                break;
        }
        usleep(20000); /* no loop runs here: the executor is gone on purpose */
    }
    free(pidf);
    free(cpidf);

    uv_loop_init(&loop);
    x = exec_open(&loop);
    memset(&r, 0, sizeof(r));
    memset(&restore_seen, 0, sizeof(restore_seen));
    exec_restore(x, found_cb, exit_cb, &er, done_cb, &r);
    call_ok(&loop, &r, "restore");
    ASSERT_EQ_INT(restore_seen.n, 1);
    fprintf(stderr, "# restore found the in-flight container as %d\n", restore_seen.what);
    ASSERT_TRUE(restore_seen.what == EXEC_FOUND_CREATED || restore_seen.what == EXEC_FOUND_REMOVED);
    struct exec_state st;
    struct err e = {0};
    if (exec_state_get(x, "inflight", &st, &e) == 0)
        delete_ok(&loop, x, "inflight");
    ASSERT_FALSE(mounted_under(tmp));
    ASSERT_FALSE(cgroup_dirs_exist("/inflight"));
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

static char *ns_of(int pid)
{
    char *p = xasprintf("/proc/%d/ns/net", pid);
    char link[128];
    ssize_t n = readlink(p, link, sizeof(link) - 1);
    free(p);
    if (n < 0)
        FAIL_AT("readlink ns of %d: %s", pid, strerror(errno));
    link[n] = 0;
    return xstrdup(link);
}

/* Without a netns path the container gets its own netns with only lo; with one it joins it. */
TEST_T(exec_real_netns, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sleep", "1000", NULL};
    struct exec_spec s;
    spec_init(&s, "neta", args);
    struct exitres era = {0}, erb = {0};
    create_start(&loop, x, &s, &era);
    struct exec_state a, b;
    struct err e = {0};
    ASSERT_EQ_INT(exec_state_get(x, "neta", &a, &e), 0);
    char *host = ns_of(getpid()), *na = ns_of(a.pid);
    ASSERT_TRUE(strcmp(host, na) != 0);
    char *devp = xasprintf("/proc/%d/net/dev", a.pid), *dev = NULL;
    size_t n;
    ASSERT_EQ_INT(file_read(devp, &dev, &n, &e), 0);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += dev[i] == '\n';
    ASSERT_EQ_INT(lines, 3); /* two header lines and lo */
    ASSERT_CONTAINS(dev, "lo:");
    free(dev);
    free(devp);

    char *path = xasprintf("/proc/%d/ns/net", a.pid);
    spec_init(&s, "netb", args);
    s.netns_path = path;
    create_start(&loop, x, &s, &erb);
    ASSERT_EQ_INT(exec_state_get(x, "netb", &b, &e), 0);
    char *nb = ns_of(b.pid);
    ASSERT_EQ_STR(nb, na);
    free(path);
    free(host);
    free(na);
    free(nb);
    delete_ok(&loop, x, "netb");
    delete_ok(&loop, x, "neta");
    ASSERT_FALSE(mounted_under(tmp));
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

/* cap-add/cap-drop, a namespaced sysctl, a ulimit and additional groups, seen from inside
 * the container. CapEff of Docker's defaults + NET_ADMIN - MKNOD - NET_RAW: bits 0 1 3 4 5 6
 * 7 8 10 12 18 29 31 (0xa00415fb). */
TEST_T(exec_real_caps_sysctls_ulimits_groups, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    const char *args[] = {"sh", "-c",
                          "grep CapEff /proc/self/status; cat /proc/sys/net/core/somaxconn;"
                          " echo nofile=$(ulimit -n) hard=$(ulimit -Hn); echo groups=$(id -G)",
                          NULL};
    const char *add[] = {"net_admin", NULL}, *drop[] = {"CAP_MKNOD", "net_raw", NULL};
    const char *sysctls[] = {"net.core.somaxconn=1234", NULL};
    struct exec_rlimit rl[] = {{.name = "nofile", .soft = 1024, .hard = 2048}};
    const uint32_t groups[] = {44, 2345};
    struct exec_spec s;
    spec_init(&s, "caps", args);
    s.cap_add = add;
    s.cap_drop = drop;
    s.sysctls = sysctls;
    s.rlimits = rl;
    s.n_rlimits = 1;
    s.groups = groups;
    s.n_groups = 2;
    struct exitres er = {0};
    create_start(&loop, x, &s, &er);
    run_until(&loop, &er.done, 30000, "exit");
    ASSERT_EQ_INT(er.st.exit_code, 0);
    struct exec_log_opts o = {.want_stdout = true, .tail = -1};
    char *frames = read_logs(x, "caps", &o);
    struct buf text = BUF_INIT;
    for (size_t off = 0; frames[off];) { /* payloads only */
        uint32_t n = ((uint32_t)(unsigned char)frames[off + 4] << 24) |
                     ((uint32_t)(unsigned char)frames[off + 5] << 16) |
                     ((uint32_t)(unsigned char)frames[off + 6] << 8) |
                     (uint32_t)(unsigned char)frames[off + 7];
        buf_add(&text, frames + off + 8, n);
        off += 8 + n;
    }
    buf_adds(&text, "");
    ASSERT_EQ_STR(text.p, "CapEff:\t00000000a00415fb\n1234\nnofile=1024 hard=2048\n"
                          "groups=0 44 2345\n");
    buf_release(&text);
    free(frames);
    delete_ok(&loop, x, "caps");

    /* a sysctl the runtime would refuse never reaches it */
    const char *bad[] = {"vm.swappiness=10", NULL};
    s.sysctls = bad;
    s.id = "caps2";
    struct res r = {0};
    exec_create(x, &s, exit_cb, &er, done_cb, &r);
    ASSERT_TRUE(r.done);
    ASSERT_EQ_INT(r.rc, -ERR_INVALID);
    ASSERT_EQ_STR(r.msg, "sysctl \"vm.swappiness\" is not in a separate kernel namespace");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

struct health_seen {
    int n;
    enum exec_health_status last;
    bool healthy, unhealthy;
};
static void health_cb(void *arg, const char *id, enum exec_health_status st)
{
    struct health_seen *h = arg;
    h->n++;
    h->last = st;
    h->healthy |= st == EXEC_HEALTH_HEALTHY;
    h->unhealthy |= st == EXEC_HEALTH_UNHEALTHY;
}

/* Healthchecks probed inside real containers: not healthy until the file the probe tests
 * exists; a probe that outlives its timeout is killed and counts as a failure (-1, Docker's
 * words); probing stops when the container exits. */
TEST_T(exec_real_healthcheck, 120)
{
    setup();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec *x = exec_open(&loop);
    struct health_seen hs = {0};
    exec_set_health_cb(x, health_cb, &hs);
    const char *args[] = {"sh", "-c", "sleep 1; touch /tmp/ok; exec sleep 1000", NULL};
    const char *test[] = {"CMD-SHELL", "test -e /tmp/ok || { echo not yet; exit 1; }", NULL};
    struct exec_healthcheck hc = {.test = test, .interval_ns = 200000000, .retries = 100};
    struct exec_spec s;
    spec_init(&s, "hc1", args);
    s.health = &hc;
    struct exitres er = {0};
    ASSERT_EQ_INT(exec_health_status(x, "hc1"), EXEC_HEALTH_NONE);
    int64_t t0 = mono_ms();
    create_start(&loop, x, &s, &er);
    ASSERT_EQ_INT(exec_health_status(x, "hc1"), EXEC_HEALTH_STARTING);
    run_until(&loop, &hs.healthy, 30000, "healthy");
    ASSERT_TRUE(mono_ms() - t0 >= 1000); /* not before the file exists */
    ASSERT_EQ_INT(hs.n, 1);
    json_t *h = exec_health_get(x, "hc1");
    ASSERT_NOT_NULL(h);
    ASSERT_EQ_STR(json_string_value(json_object_get(h, "Status")), "healthy");
    json_t *log = json_object_get(h, "Log");
    ASSERT_TRUE(json_array_size(log) >= 2);
    json_t *first = json_array_get(log, 0), *last = json_array_get(log, json_array_size(log) - 1);
    ASSERT_EQ_INT(json_integer_value(json_object_get(first, "ExitCode")), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(first, "Output")), "not yet\n");
    ASSERT_EQ_INT(json_integer_value(json_object_get(last, "ExitCode")), 0);
    json_decref(h);

    /* a probe that hangs: killed at its timeout, -1, unhealthy after retries 1 */
    const char *args2[] = {"sleep", "1000", NULL};
    const char *slow[] = {"CMD", "sleep", "100", NULL};
    struct exec_healthcheck hc2 = {
        .test = slow, .interval_ns = 100000000, .timeout_ns = 300000000, .retries = 1};
    spec_init(&s, "hc2", args2);
    s.health = &hc2;
    struct exitres er2 = {0};
    memset(&hs, 0, sizeof(hs));
    create_start(&loop, x, &s, &er2);
    run_until(&loop, &hs.unhealthy, 30000, "unhealthy");
    h = exec_health_get(x, "hc2");
    first = json_array_get(json_object_get(h, "Log"), 0);
    ASSERT_EQ_INT(json_integer_value(json_object_get(first, "ExitCode")), -1);
    ASSERT_EQ_STR(json_string_value(json_object_get(first, "Output")),
                  "Health check exceeded timeout (300ms)");
    ASSERT_EQ_INT(json_integer_value(json_object_get(h, "FailingStreak")), 1);
    json_decref(h);
    /* no probe process left behind in the container: its init and at most the probe that
     * runs now (probing goes on after unhealthy, as Docker's, every interval), never the one
     * killed at its timeout as well */
    char *procs = NULL;
    size_t n;
    char *cp = xasprintf("/sys/fs/cgroup/pids%s/hc2/cgroup.procs", cg_parent);
    if (file_read(cp, &procs, &n, NULL) == 0) {
        size_t lines = 0;
        for (size_t i = 0; i < n; i++)
            lines += procs[i] == '\n';
        if (lines < 1 || lines > 2)
            FAIL_AT("%zu processes in the container (its init and at most one probe)", lines);
    }
    free(procs);
    free(cp);

    /* a bad healthcheck is refused at create */
    const char *bad[] = {"CMD-SHELL", "true", NULL};
    struct exec_healthcheck hc3 = {.test = bad, .interval_ns = 10};
    spec_init(&s, "hc3", args2);
    s.health = &hc3;
    struct res r = {0};
    exec_create(x, &s, exit_cb, &er2, done_cb, &r);
    ASSERT_EQ_INT(r.rc, -ERR_INVALID);
    ASSERT_EQ_STR(r.msg, "Interval in Healthcheck cannot be less than 1ms");

    delete_ok(&loop, x, "hc1");
    delete_ok(&loop, x, "hc2");
    exec_close(&loop, x);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}
