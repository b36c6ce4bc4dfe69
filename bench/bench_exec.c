/* bench_exec.c — executor latency and shim cost: N containers (busybox `sleep`, overlay rootfs)
 * created and started one after the other; prints the median and spread of create+start
 * (exec_create called → exec_start's callback), and conmon's RSS and PSS per container while
 * all N run; then deletes them. Needs root, conmon, runc or crun, busybox-static.
 * Usage: build/bench-exec [N=20] [runtime: auto | /usr/sbin/runc | /usr/bin/crun]
 * Everything lives in a temp dir that is removed at the end. */
#include "exec/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench-exec: %s: %s\n", what, msg);
    exit(1);
}

static void build_rootfs(const char *lower)
{
    struct err e = {0};
    static const char *const dirs[] = {"bin", "proc", "sys", "dev", "tmp", "etc"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char *p = xasprintf("%s/%s", lower, dirs[i]);
        if (dir_make(p, 0755, &e) < 0)
            die("mkdir", e.msg);
        free(p);
    }
    char *d = NULL;
    size_t n;
    if (file_read("/bin/busybox", &d, &n, &e) < 0)
        die("busybox", e.msg);
    char *bb = xasprintf("%s/bin/busybox", lower);
    int fd = open(bb, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, d, n) != (ssize_t)n)
        die("write", bb);
    close(fd);
    free(d);
    static const char *const applets[] = {"sh", "sleep", "echo", "cat"};
    for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
        char *p = xasprintf("%s/bin/%s", lower, applets[i]);
        if (symlink("busybox", p) < 0)
            die("symlink", strerror(errno));
        free(p);
    }
    free(bb);
}

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
static void wait_done(uv_loop_t *loop, struct res *r, const char *what)
{
    while (!r->done)
        uv_run(loop, UV_RUN_ONCE);
    if (r->rc)
        die(what, r->msg);
}

static long kb_field(const char *path, const char *key)
{
    char *d = NULL;
    size_t n;
    if (file_read(path, &d, &n, NULL) < 0)
        return -1;
    char *p = strstr(d, key);
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    free(d);
    return v;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    const char *runtime = argc > 2 ? argv[2] : "auto";
    if (n < 1 || n > 500)
        die("usage", "bench-exec [N (1..500)] [runtime]");
    log_set_level(LOG_WARN);
    char tmp[] = "/tmp/shoal-bench-exec-XXXXXX";
    if (!mkdtemp(tmp))
        die("mkdtemp", strerror(errno));
    char *lower = xasprintf("%s/base", tmp), *root = xasprintf("%s/exec", tmp);
    char cg[64];
    snprintf(cg, sizeof(cg), "/shoal-bench-%d", (int)getpid());
    build_rootfs(lower);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct exec_config cfg = {.root = root, .runtime = runtime, .cgroup_parent = cg};
    struct err e = {0};
    struct exec *x = exec_new(&loop, &cfg, &e);
    if (!x)
        die("exec_new", e.msg);
    const char *lowers[] = {lower, NULL};
    const char *args[] = {"sleep", "1000", NULL};
    int64_t *lat = xcalloc((size_t)n, sizeof(int64_t)), *clat = xcalloc((size_t)n, sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "b%d", i);
        struct exec_spec s = {.id = id, .lower = lowers, .args = args, .memory = 64 << 20};
        struct res r = {0};
        int64_t t0 = mono_us();
        exec_create(x, &s, NULL, NULL, done_cb, &r);
        wait_done(&loop, &r, "create");
        clat[i] = mono_us() - t0;
        memset(&r, 0, sizeof(r));
        exec_start(x, id, done_cb, &r);
        wait_done(&loop, &r, "start");
        lat[i] = mono_us() - t0;
    }
    long rss = 0, pss = 0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "b%d", i);
        char *dir = exec_dir_path(x, id);
        char *pf = xasprintf("%s/conmon.pid", dir);
        char *d = NULL;
        size_t len;
        if (file_read(pf, &d, &len, NULL) == 0) {
            int pid = atoi(d);
            char *st = xasprintf("/proc/%d/status", pid),
                 *sm = xasprintf("/proc/%d/smaps_rollup", pid);
            long r1 = kb_field(st, "VmRSS:"), p1 = kb_field(sm, "Pss:");
            if (r1 > 0 && p1 > 0) {
                rss += r1;
                pss += p1;
                counted++;
            }
            free(st);
            free(sm);
        }
        free(d);
        free(pf);
        free(dir);
    }
    int64_t *sorted = xcalloc((size_t)n, sizeof(int64_t));
    memcpy(sorted, lat, (size_t)n * sizeof(int64_t));
    qsort(sorted, (size_t)n, sizeof(int64_t), cmp64);
    double load[3] = {0};
    getloadavg(load, 3);
    printf("bench-exec: runtime %s (%s), %d containers, load %.2f\n", exec_runtime_path(x),
           exec_runtime_kind_name(exec_runtime_kind(x)), n, load[0]);
    printf("  create+start: median %.1f ms, min %.1f ms, p90 %.1f ms, max %.1f ms\n",
           sorted[n / 2] / 1000.0, sorted[0] / 1000.0,
           sorted[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] / 1000.0, sorted[n - 1] / 1000.0);
    qsort(clat, (size_t)n, sizeof(int64_t), cmp64);
    printf("  of which create (bundle, overlay, conmon, runtime create): median %.1f ms\n",
           clat[n / 2] / 1000.0);
    if (counted)
        printf("  conmon per container: RSS %.2f MB, PSS %.2f MB (mean of %d)\n",
               rss / 1024.0 / counted, pss / 1024.0 / counted, counted);
    int64_t t0 = mono_us();
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "b%d", i);
        struct res r = {0};
        exec_delete(x, id, true, done_cb, &r);
        wait_done(&loop, &r, "delete");
    }
    printf("  delete --force: %.1f ms per container\n", (mono_us() - t0) / 1000.0 / n);
    exec_free(x);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    /* the runtime removed each container's cgroup; the parent is ours to remove */
    static const char *const ctl[] = {
        "memory",  "cpu",      "cpuacct",    "pids",    "devices", "freezer", "blkio",   "cpuset",
        "net_cls", "net_prio", "perf_event", "hugetlb", "rdma",    "misc",    "systemd", "unified"};
    for (size_t i = 0; i < ARRAY_SIZE(ctl); i++) {
        char *p = xasprintf("/sys/fs/cgroup/%s%s", ctl[i], cg);
        rmdir(p);
        free(p);
    }
    char *p = xasprintf("/sys/fs/cgroup%s", cg);
    rmdir(p);
    free(p);
    dir_remove_all(tmp, &e);
    free(lat);
    free(clat);
    free(sorted);
    free(lower);
    free(root);
    return 0;
}
