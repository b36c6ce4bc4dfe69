/* test_image_real.c — an image loaded into the store runs as a real container: the store's
 * lower dirs (short links, top first) handed to src/exec, whiteouts of an upper layer hiding
 * a lower file inside the container, and removal refused while the container exists.
 *
 * Needs root, conmon, an OCI runtime and Debian's busybox-static (NEED_TOOL otherwise). The
 * cleanup (run by a guardian process however the test ends) kills only the conmons and
 * container PIDs whose pid files are in this test's temp dir, unmounts what is mounted there,
 * removes its cgroups and the dir. Waits are event-driven with generous deadlines. */
#include "exec/exec.h"
#include "harness.h"
#include "image/image.h"
#include "test_image_tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec_guard.h"

static void setup(void)
{
    guard_setup("/tmp/shoal-image-real-XXXXXX", "/shoal-imgtest");
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

/* The image's user, as the API will wire it: the one container, while it exists. */
static struct exec *users_exec;
static bool users(void *arg, const char *image_id, char *ctr, size_t cap, bool *running)
{
    struct exec_state st;
    struct err e = {0};
    if (!users_exec || exec_state_get(users_exec, "imgctr", &st, &e) < 0)
        return false;
    snprintf(ctr, cap, "imgctr");
    *running = st.status == EXEC_RUNNING;
    return true;
}

TEST_T(image_real_container_from_loaded_image, 120)
{
    setup();
    /* a two-layer image: busybox, then a layer that adds /etc/msg and whites out /bin/vi */
    struct buf l0 = BUF_INIT, l1 = BUF_INIT;
    ASSERT_TRUE(tt_busybox_layer(&l0));
    tt_file(&l1, "etc/msg", "from-layer-2\n");
    tt_file(&l1, "bin/.wh.vi", "");
    tt_end(&l1);
    char d0[65], d1[65];
    tt_sha256(l0.p, l0.len, d0);
    tt_sha256(l1.p, l1.len, d1);
    char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":"
                          "[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\","
                          "\"sha256:%s\"]}}",
                          d0, d1);
    char id[65];
    tt_sha256(cfg, strlen(cfg), id);
    struct buf ar = BUF_INIT;
    char *cname = xasprintf("%s.json", id);
    tt_file(&ar, cname, cfg);
    tt_file_n(&ar, "a/layer.tar", l0.p, l0.len, 0644);
    tt_file_n(&ar, "b/layer.tar", l1.p, l1.len, 0644);
    char *man = xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"bb:real\"],\"Layers\":["
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
    image_store_set_user_cb(s, users, NULL);
    struct buf out = BUF_INIT;
    if (image_load_path(s, arp, &out, &e) < 0)
        FAIL_AT("load: %s", e.msg);
    ASSERT_EQ_STR(out.p, "Loaded image: bb:real\n");
    char **lower = NULL;
    ASSERT_EQ_INT(image_lower_dirs(s, "bb:real", &lower, &e), 0);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec_config xc = {
        .root = root, .runtime = getenv("EXEC_TEST_RUNTIME"), .cgroup_parent = cg_parent};
    struct exec *x = exec_new(&loop, &xc, &e);
    if (!x)
        FAIL_AT("exec_new: %s", e.msg);
    users_exec = x;
    const char *args[] = {"sh", "-c", "echo hi; cat /etc/msg; test -e /bin/vi || echo no-vi", NULL};
    struct exec_spec sp = {.id = "imgctr", .lower = (const char *const *)lower, .args = args};
    struct exitres er = {0};
    struct res r = {0};
    exec_create(x, &sp, exit_cb, &er, done_cb, &r);
    call_ok(&loop, &r, "create");
    memset(&r, 0, sizeof(r));
    exec_start(x, "imgctr", done_cb, &r);
    call_ok(&loop, &r, "start");
    run_until(&loop, &er.done, 30000, "exit");
    ASSERT_EQ_INT(er.st.exit_code, 0);

    char *lp = exec_log_path(x, "imgctr");
    char *raw = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(file_read(lp, &raw, &n, &e), 0);
    struct buf frames = BUF_INIT;
    struct exec_log_opts o = {.want_stdout = true, .tail = -1};
    size_t used;
    exec_logs_convert(raw, n, &o, true, &frames, &used);
    ASSERT_EQ_INT(frames.len, 3 * 8 + 3 + 13 + 6);
    ASSERT_EQ_INT(memcmp(frames.p + 8, "hi\n", 3), 0);
    ASSERT_EQ_INT(memcmp(frames.p + 8 + 3 + 8, "from-layer-2\n", 13), 0);
    ASSERT_EQ_INT(memcmp(frames.p + 8 + 3 + 8 + 13 + 8, "no-vi\n", 6), 0);

    /* the image cannot go while its (stopped) container exists */
    json_t *rec = NULL;
    ASSERT_EQ_INT(image_remove(s, "bb:real", false, &rec, &e), -ERR_CONFLICT);
    ASSERT_CONTAINS(e.msg, "container imgctr is using its referenced image");

    memset(&r, 0, sizeof(r));
    exec_delete(x, "imgctr", true, done_cb, &r);
    call_ok(&loop, &r, "delete");
    ASSERT_EQ_INT(image_remove(s, "bb:real", false, &rec, &e), 0);
    ASSERT_EQ_INT(json_array_size(rec), 4); /* Untagged, Deleted image, 2 layers */
    json_decref(rec);
    struct stat st;
    ASSERT_TRUE(lstat(lower[0], &st) < 0);

    users_exec = NULL;
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    image_lower_free(lower);
    image_store_free(s);
    buf_release(&frames);
    free(raw);
    free(lp);
    free(arp);
    free(sroot);
    free(man);
    free(cname);
    free(cfg);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&l0);
    buf_release(&l1);
}
