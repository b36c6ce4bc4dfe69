/* test_image_helper.c — the loop side of the image helper (image_job: the input on the
 * child's stdin, its stdout split into lines, its exit status) with /bin/sh standing in for
 * `shoal image-helper`, and image_store_reload seeing what another process (here: a second
 * store on the same root) wrote. */
#include "harness.h"

#include "image/image.h"
#include "test_image_tar.h"
#include <signal.h>

#include <uv.h>

struct job_res {
    struct buf lines;
    int nlines;
    bool done;
    int rc;
    char msg[ERR_MSG_MAX];
};

static void on_line(void *arg, const char *line, size_t n)
{
    struct job_res *r = arg;
    buf_add(&r->lines, line, n);
    buf_adds(&r->lines, "|");
    r->nlines++;
}

static void on_done(void *arg, int rc, const struct err *e)
{
    struct job_res *r = arg;
    r->done = true;
    r->rc = rc;
    if (e)
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
}

static void run_job(char *const *argv, const char *input, struct job_res *r)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e = {0};
    memset(r, 0, sizeof(*r));
    struct image_job *j =
        image_job_start(&loop, argv, input, strlen(input), on_line, on_done, r, &e);
    if (!j)
        FAIL_AT("start: %s", e.msg);
    ASSERT_FALSE(r->done);
    uv_run(&loop, UV_RUN_DEFAULT); /* runs until the child exited and its pipes closed */
    ASSERT_TRUE(r->done);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(image_job_stdin_lines_and_status)
{
    /* as in the daemon (http_server_new ignores SIGPIPE): a helper that exits without reading
     * its input makes the write fail with EPIPE instead of killing the process */
    signal(SIGPIPE, SIG_IGN);
    struct job_res r;
    /* the child reads all of stdin, then answers in two writes and a last line without \n */
    char *const ok[] = {"/bin/sh", "-c",
                        "n=$(wc -c); printf 'got %s\\r\\nsec' $n; printf 'ond\\n'; "
                        "printf last",
                        NULL};
    run_job(ok, "twelve bytes", &r);
    ASSERT_EQ_INT(r.rc, 0);
    ASSERT_EQ_INT(r.nlines, 3);
    ASSERT_EQ_STR(r.lines.p, "got 12\r\n|second\n|last|");
    buf_release(&r.lines);

    /* a child that fails early, without reading its input */
    char *const bad[] = {"/bin/sh", "-c", "echo '{\"error\":\"x\"}'; exit 1", NULL};
    run_job(bad, "ignored input", &r);
    ASSERT_EQ_INT(r.rc, -ERR_INVALID);
    ASSERT_EQ_STR(r.msg, "image helper failed (exit 1)");
    ASSERT_EQ_STR(r.lines.p, "{\"error\":\"x\"}\n|");
    buf_release(&r.lines);

    /* a helper that cannot start: an error now, no callback */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct err e = {0};
    char *const none[] = {"/nonexistent/shoal", "image-helper", NULL};
    memset(&r, 0, sizeof(r));
    ASSERT_NULL(image_job_start(&loop, none, "", 0, on_line, on_done, &r, &e));
    ASSERT_CONTAINS(e.msg, "cannot start the image helper /nonexistent/shoal");
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_FALSE(r.done);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(image_store_reload_sees_other_writers)
{
    char dir[] = "/tmp/shoal-image-reload-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    struct err e = {0};
    struct image_store *daemon_view = image_store_open(dir, &e);
    ASSERT_NOT_NULL(daemon_view);
    /* "the helper": another store on the same root imports an image */
    struct image_store *helper = image_store_open(dir, &e);
    ASSERT_NOT_NULL(helper);
    struct buf layer = BUF_INIT;
    tt_file(&layer, "hello.txt", "hi\n");
    tt_end(&layer);
    char *path = xasprintf("%s/rootfs.tar", dir);
    ASSERT_EQ_INT(file_write_atomic(path, layer.p, layer.len, 0600, &e), 0);
    int fd = open(path, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    char id[72];
    ASSERT_EQ_INT(image_import(helper, fd, "imp:1", NULL, NULL, id, &e), 0);
    close(fd);
    image_store_free(helper);

    char got[72];
    ASSERT_EQ_INT(image_resolve(daemon_view, "imp:1", got, &e), -ERR_NOT_FOUND);
    ASSERT_EQ_INT(image_store_reload(daemon_view, &e), 0);
    ASSERT_EQ_INT(image_resolve(daemon_view, "imp:1", got, &e), 0);
    ASSERT_EQ_STR(got, id);
    ASSERT_EQ_STR(image_store_root(daemon_view), dir);
    image_store_free(daemon_view);
    free(path);
    buf_release(&layer);
    dir_remove_all(dir, &e);
}
