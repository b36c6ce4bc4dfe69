/* test_etcd_side.c — the state tests' own side channel to etcd: a plain blocking POST on a
 * private loop, so a test can look at etcd without going through the code under test. */
#include "test_etcd_side.h"

#include "harness.h"
#include "httpc/httpc.h"

#include <string.h>
#include <uv.h>

struct side_res {
    struct buf *out;
    bool done;
    int rc;
    long status;
    char msg[ERR_MSG_MAX];
};

static void side_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct side_res *r = data;
    r->done = true;
    r->rc = rc;
    r->status = status;
    buf_add(r->out, body->p ? body->p : "", body->len);
    if (e)
        snprintf(r->msg, sizeof(r->msg), "%s", e->msg);
}

/* A plain blocking POST (the test's own side channel to etcd) on a private loop. */
void blocking_post(int port, const char *path, const char *body, struct buf *out)
{
    char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *c = httpc_new(&loop, NULL);
    struct side_res r = {.out = out};
    httpc_post(c, url, body, strlen(body), 5000, NULL, side_done, &r);
    while (!r.done)
        uv_run(&loop, UV_RUN_ONCE);
    httpc_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(url);
    if (r.rc < 0 || r.status != 200)
        FAIL_AT("POST %s: %s, HTTP %ld: %s", path, r.rc < 0 ? r.msg : "answered", r.status,
                out->p ? out->p : "");
}
