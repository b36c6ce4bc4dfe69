/* exec_guard.h — shared by the real-container tests (test_exec_real.c, test_image_real.c):
 * the temp dir and cgroup parent of one test binary run, and a guardian process that cleans
 * up however the test ends (a failed assertion, a sanitizer report, a crash, the harness's
 * timeout): it waits for EOF on a pipe whose only write end the test holds (close-on-exec, so
 * no conmon keeps it), then kills only the conmons and container PIDs whose pid files are in
 * this temp dir, unmounts what is mounted there, removes its cgroups and the dir.
 * Static functions: included by one file per test binary each. */
#ifndef SHOAL_EXEC_GUARD_H
#define SHOAL_EXEC_GUARD_H

#include "base/base.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static char tmp[256];
static char cg_parent[64];
static char root[300];

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void guard_wake(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until pid has a child: a shell has set its traps once it forked its sleep, so
 * a signal sent from then on meets the handler (a namespace's init ignores the signals it
 * has no handler for). */
static inline void wait_children(uv_loop_t *loop, int pid)
{
    char *cpath = xasprintf("/proc/%d/task/%d/children", pid, pid);
    int64_t end = mono_ms() + 20000;
    for (;;) {
        char *d = NULL;
        size_t n = 0;
        bool ready = file_read(cpath, &d, &n, NULL) == 0 && n > 0;
        free(d);
        if (ready)
            break;
        if (mono_ms() > end)
            FAIL_AT("the shell never started its sleep");
        uv_timer_t t;
        uv_timer_init(loop, &t);
        uv_timer_start(&t, guard_wake, 20, 0);
        uv_run(loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&t, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    free(cpath);
}

static bool have(const char *path)
{
    return access(path, X_OK) == 0;
}

static const char *cg_controllers[] = {"memory",     "cpu",     "cpuacct", "pids",    "devices",
                                       "freezer",    "blkio",   "cpuset",  "net_cls", "net_prio",
                                       "perf_event", "hugetlb", "rdma",    "misc",    "systemd",
                                       "unified",    ""};

static void kill_pidfile(const char *path, const char *want_comm)
{
    char *d = NULL;
    size_t n;
    if (file_read(path, &d, &n, NULL) < 0)
        return;
    int pid = atoi(d);
    free(d);
    if (pid <= 1)
        return;
    if (want_comm) {
        char *cp = xasprintf("/proc/%d/comm", pid);
        char *c = NULL;
        bool ok = file_read(cp, &c, &n, NULL) == 0 && str_has_prefix(c, want_comm);
        free(c);
        free(cp);
        if (!ok)
            return;
    }
    kill(pid, SIGKILL);
}

static void cleanup(void)
{
    if (!tmp[0] || getenv("EXEC_TEST_KEEP"))
        return;
    char *cr = xasprintf("%s/containers", root);
    DIR *d = opendir(cr);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *p = xasprintf("%s/%s/conmon.pid", cr, de->d_name);
            kill_pidfile(p, "conmon");
            free(p);
            p = xasprintf("%s/%s/ctr.pid", cr, de->d_name);
            kill_pidfile(p, NULL);
            free(p);
            p = xasprintf("%s/%s/rootfs", cr, de->d_name);
            umount2(p, MNT_DETACH);
            free(p);
        }
        closedir(d);
    }
    free(cr);
    /* cgroups empty out once the killed processes are gone */
    int64_t deadline = mono_ms() + 10000;
    for (;;) {
        bool left = false;
        for (size_t i = 0; i < ARRAY_SIZE(cg_controllers); i++) {
            char *p = xasprintf("/sys/fs/cgroup/%s%s%s", cg_controllers[i],
                                *cg_controllers[i] ? "/" : "", cg_parent + 1);
            DIR *cd = opendir(p);
            if (cd) {
                struct dirent *de;
                while ((de = readdir(cd)))
                    if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                        char *s = xasprintf("%s/%s", p, de->d_name);
                        rmdir(s);
                        free(s);
                    }
                closedir(cd);
                if (rmdir(p) < 0 && errno != ENOENT)
                    left = true;
            }
            free(p);
        }
        if (!left || mono_ms() > deadline)
            break;
        usleep(50000); /* cleanup only: waiting for killed processes to leave their cgroup */
    }
    struct err e = {0};
    dir_remove_all(tmp, &e);
}

/* Checks the tools (NEED_TOOL), makes the temp dir and the cgroup parent names, and starts
 * the guardian. tmp_pattern: mkdtemp's pattern; cg_prefix: the cgroup parent's prefix. */
static void guard_setup(const char *tmp_pattern, const char *cg_prefix)
{
    if (geteuid() != 0)
        NEED_TOOL("root (real containers)");
    if (!have("/usr/bin/conmon"))
        NEED_TOOL("conmon");
    if (!have("/usr/sbin/runc") && !have("/usr/bin/runc") && !have("/usr/bin/crun"))
        NEED_TOOL("runc or crun");
    if (!have("/bin/busybox"))
        NEED_TOOL("busybox-static");
    snprintf(tmp, sizeof(tmp), "%s", tmp_pattern);
    ASSERT_NOT_NULL(mkdtemp(tmp));
    snprintf(cg_parent, sizeof(cg_parent), "%s-%d", cg_prefix, (int)getpid());
    snprintf(root, sizeof(root), "%s/exec", tmp);
    int gp[2];
    ASSERT_EQ_INT(pipe2(gp, O_CLOEXEC), 0);
    pid_t g = fork();
    ASSERT_TRUE(g >= 0);
    if (g == 0) {
        char c;
        close(gp[1]);
        while (read(gp[0], &c, 1) < 0 && errno == EINTR)
            ;
        cleanup();
        _exit(0);
    }
    close(gp[0]);
}

#endif
