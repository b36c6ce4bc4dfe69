/* exec_core.c — the executor's lifecycle calls: create (bundle, overlay, conmon with its sync
 * pipe), start, stop, kill, delete, state, exit watching and live restore.
 *
 * Exit detection has two sources, both idempotent: inotify on <root>/exits (conmon writes
 * <id> there with the exit code) through one uv_fs_event, and a pidfd of each conmon in a
 * uv_poll (readable when conmon is gone, which also covers a conmon that died without
 * writing a code). The daemon is not a subreaper: conmon daemonizes and is reparented to
 * init, so nothing here must reap it, and a pidfd works the same for a conmon we started and
 * for one found after a restart (pidfd_open works on non-children).
 * Runtime calls (create through conmon, start, delete; kill when no pidfd of the container's
 * init is at hand) are child processes, queued and spawned by exec_proc.c. Per-container files
 * (meta.json, started) are written without fsync: a host crash kills the containers anyway, so
 * durability would only add latency to create. Everything runs on the loop thread. */
#include "exec/exec_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_GRACE_NS (10LL * 1000000000)
#define KILL_WAIT_MS 30000 /* after SIGKILL, give up waiting for the exit */
#define SHIM_WAIT_MS 5000  /* after delete, wait this long for conmon before killing it */

struct waiter {
    struct waiter *next;
    exec_done_cb cb;
    void *arg;
};

struct exec_ctr {
    struct exec *x;
    struct exec_ctr *next;
    char *id, *dir;
    struct exec_state st;
    exec_exit_cb on_exit;
    void *exit_arg;
    int stop_signal;
    int64_t stop_grace_ns;
    bool overlay; /* rootfs is our overlay mount */
    int pidfd;    /* conmon's, -1 when not watched */
    int init_fd;  /* pidfd of the container's init process, -1 when unknown: kill signals it
                   * directly, with no runtime process (as `crun kill` without --all would) */
    uv_poll_t poll;
    bool poll_init;
    uv_timer_t timer; /* stop grace, kill wait, shim wait */
    /* healthcheck: its config (meta.json "health"), the state once started, one timer for
     * the next probe or the running probe's timeout, the probe in flight */
    json_t *hc;
    struct exec_health health;
    bool health_on, probe_timed_out;
    uv_timer_t htimer;
    struct exec_proc *probe;
    int64_t probe_start_ns;
    int open_handles;
    bool closing, deleting, stopping, killed, shim_waiting;
    struct waiter *stop_waiters;
    /* delete in progress */
    exec_done_cb del_cb;
    void *del_arg;
    int del_rc;
    struct err del_err;
};

static int pidfd_open_(int pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
static int pidfd_signal(int fd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

struct exec_ctr;
static void init_fd_close(struct exec_ctr *c);

bool exec_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '_' || c == '.' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

const char *exec_status_name(enum exec_status s)
{
    switch (s) {
    case EXEC_CREATED:
        return "created";
    case EXEC_RUNNING:
        return "running";
    case EXEC_EXITED:
        return "exited";
    }
    return "unknown";
}

/* ---- small file helpers (no fsync, see the header) ---- */
static int write_small(const char *path, const char *data, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "open %s: %s", path, strerror(errno));
    if (fd_write_all(fd, data, strlen(data)) < 0) {
        int err = errno;
        close(fd);
        return err_set(e, ERR_INTERNAL, "write %s: %s", path, strerror(err));
    }
    close(fd);
    return 0;
}

/* Reads a small file holding one integer; returns 0 or -1. */
static int read_int(const char *path, long long *v)
{
    char *d = NULL;
    size_t n;
    if (file_read(path, &d, &n, NULL) < 0)
        return -1;
    char *end;
    errno = 0;
    long long r = strtoll(d, &end, 10);
    int rc = (end == d || errno) ? -1 : 0;
    while (rc == 0 && *end) {
        if (*end != '\n' && *end != ' ')
            rc = -1;
        end++;
    }
    free(d);
    if (rc == 0)
        *v = r;
    return rc;
}

static bool path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- handles bookkeeping ---- */
void exec_maybe_free(struct exec *x)
{
    if (!x->freeing || x->open_handles > 0 || x->ctrs || x->procs || x->gate_head)
        return;
    free(x->root);
    free(x->ctr_root);
    free(x->exit_dir);
    free(x->rt_root);
    if (x->pin_fd >= 0)
        close(x->pin_fd);
    free(x->runtime_bin);
    free(x->env_crun);
    free(x->runtime);
    free(x->crun_real);
    free(x->conmon);
    free(x->cgroup_parent);
    free(x->init_path);
    free(x->followers);
    free(x);
}

void exec_follower_add(struct exec *x, struct exec_logs_follower *f)
{
    x->followers = xrealloc(x->followers, (x->n_followers + 1) * sizeof(*x->followers));
    x->followers[x->n_followers++] = f;
    x->open_handles++;
}

void exec_follower_remove(struct exec *x, struct exec_logs_follower *f)
{
    for (size_t i = 0; i < x->n_followers; i++)
        if (x->followers[i] == f) {
            x->followers[i] = x->followers[--x->n_followers];
            return;
        }
}

void exec_follower_closed(struct exec *x)
{
    x->open_handles--;
    exec_maybe_free(x);
}

static void ctr_unlink(struct exec_ctr *c)
{
    struct exec *x = c->x;
    for (struct exec_ctr **pp = &x->ctrs; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
}

static void ctr_free_now(struct exec_ctr *c)
{
    struct exec *x = c->x;
    exec_done_cb cb = c->del_cb;
    void *arg = c->del_arg;
    int rc = c->del_rc;
    struct err e = c->del_err;
    bool notify = c->deleting && !x->freeing;
    ctr_unlink(c);
    while (c->stop_waiters) {
        struct waiter *w = c->stop_waiters;
        c->stop_waiters = w->next;
        free(w);
    }
    exec_health_release(&c->health);
    json_decref(c->hc);
    free(c->id);
    free(c->dir);
    free(c);
    if (notify && cb)
        cb(arg, rc, rc < 0 ? &e : NULL);
    exec_maybe_free(x);
}

static void ctr_handle_closed(uv_handle_t *h)
{
    struct exec_ctr *c = h->data;
    if (--c->open_handles == 0)
        ctr_free_now(c);
}

static void health_stop(struct exec_ctr *c);

static void ctr_close(struct exec_ctr *c)
{
    if (c->closing)
        return;
    health_stop(c);
    c->closing = true;
    uv_close((uv_handle_t *)&c->htimer, ctr_handle_closed);
    if (c->poll_init) {
        c->open_handles++;
        uv_close((uv_handle_t *)&c->poll, ctr_handle_closed);
    }
    if (c->pidfd >= 0) {
        close(c->pidfd);
        c->pidfd = -1;
    }
    init_fd_close(c);
    uv_close((uv_handle_t *)&c->timer, ctr_handle_closed);
}

static struct exec_ctr *ctr_find(struct exec *x, const char *id)
{
    for (struct exec_ctr *c = x->ctrs; c; c = c->next)
        if (!strcmp(c->id, id) && !c->closing)
            return c;
    return NULL;
}

static struct exec_ctr *ctr_new(struct exec *x, const char *id)
{
    struct exec_ctr *c = xcalloc(1, sizeof(*c));
    c->x = x;
    c->id = xstrdup(id);
    c->dir = xasprintf("%s/%s", x->ctr_root, id);
    c->pidfd = -1;
    c->init_fd = -1;
    c->stop_signal = SIGTERM;
    c->stop_grace_ns = DEFAULT_GRACE_NS;
    uv_timer_init(x->loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(x->loop, &c->htimer);
    c->htimer.data = c;
    c->open_handles = 2; /* the two timers */
    c->next = x->ctrs;
    x->ctrs = c;
    return c;
}

/* ---- healthchecks: probes through `<runtime> exec`, the state in exec_health.c ---- */

/* The spec's healthcheck as kept in meta.json (Docker's HealthConfig field names). */
static json_t *health_cfg_json(const struct exec_healthcheck *h)
{
    json_t *t = json_array();
    for (size_t i = 0; h->test && h->test[i]; i++)
        json_array_append_new(t, json_string(h->test[i]));
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:i}", "Test", t, "Interval",
                     (json_int_t)h->interval_ns, "Timeout", (json_int_t)h->timeout_ns,
                     "StartPeriod", (json_int_t)h->start_period_ns, "StartInterval",
                     (json_int_t)h->start_interval_ns, "Retries", h->retries);
}

/* Back from meta.json: *test is a new array of borrowed strings (free the array only). */
static void health_cfg_parse(const json_t *j, struct exec_healthcheck *h, const char ***test)
{
    const json_t *t = json_object_get(j, "Test");
    size_t n = json_array_size(t);
    *test = xcalloc(n + 1, sizeof(**test));
    for (size_t i = 0; i < n; i++)
        (*test)[i] = json_string_value(json_array_get(t, i)) ?: "";
    *h = (struct exec_healthcheck){
        .test = *test,
        .interval_ns = json_integer_value(json_object_get(j, "Interval")),
        .timeout_ns = json_integer_value(json_object_get(j, "Timeout")),
        .start_period_ns = json_integer_value(json_object_get(j, "StartPeriod")),
        .start_interval_ns = json_integer_value(json_object_get(j, "StartInterval")),
        .retries = (int)json_integer_value(json_object_get(j, "Retries")),
    };
}

static uint64_t ns_to_ms(int64_t ns)
{
    return ns <= 0 ? 0 : (uint64_t)((ns + 999999) / 1000000);
}

static void probe_due(uv_timer_t *t);

static void health_schedule(struct exec_ctr *c)
{
    if (c->closing || c->deleting || c->st.status != EXEC_RUNNING || !c->health_on)
        return;
    uv_timer_start(&c->htimer, probe_due, ns_to_ms(exec_health_delay(&c->health, time_now_ns())),
                   0);
}

/* Starts the health monitor of a running container (status starting), as Docker's daemon
 * does at each start. */
static void health_begin(struct exec_ctr *c)
{
    if (!c->hc || c->health_on)
        return;
    struct exec_healthcheck h;
    const char **test = NULL;
    health_cfg_parse(c->hc, &h, &test);
    struct err e = {0};
    int rc = exec_health_init(&c->health, &h, c->st.started_ns, &e);
    free(test);
    if (rc < 0)
        log_warn("exec: container %s: healthcheck: %s", c->id, e.msg);
    c->health_on = rc == 0;
    health_schedule(c);
}

/* Stops probing (the container exited, is deleted or forgotten); the status and the log of
 * results stay for inspect. */
static void health_stop(struct exec_ctr *c)
{
    if (!c->closing)
        uv_timer_stop(&c->htimer);
    struct exec_proc *p = c->probe;
    c->probe = NULL;
    if (p) {
        p->abandoned = true;
        if (!p->exited)
            exec_proc_kill(p, SIGKILL);
    }
}

static void probe_done(struct exec_proc *p)
{
    struct exec_ctr *c = p->arg;
    struct exec *x = c->x;
    if (c->probe != p)
        return;
    c->probe = NULL;
    uv_timer_stop(&c->htimer);
    int64_t end = time_now_ns();
    int code = p->term_sig ? -1 : (int)p->status;
    const char *out = p->outb.p ? p->outb.p : "";
    size_t len = p->outb.len;
    char *msg = NULL;
    if (c->probe_timed_out) {
        char d[32];
        exec_duration_text(c->health.timeout_ns, d, sizeof(d));
        msg = len ? xasprintf("Health check exceeded timeout (%s): %.*s", d, (int)len, out)
                  : xasprintf("Health check exceeded timeout (%s)", d);
        out = msg;
        len = strlen(msg);
        code = -1;
    }
    bool changed = exec_health_record(&c->health, c->probe_start_ns, end, code, out, len);
    free(msg);
    if (changed) {
        log_info("exec: container %s is %s (failing streak %d)", c->id,
                 exec_health_status_name(c->health.status), c->health.failing_streak);
        if (x->health_cb)
            x->health_cb(x->health_arg, c->id, c->health.status);
    }
    health_schedule(c);
}

static void probe_timeout(uv_timer_t *t)
{
    struct exec_ctr *c = t->data;
    struct exec_proc *p = c->probe;
    if (!p)
        return;
    c->probe_timed_out = true;
    /* the probe's process in the container, then the runtime: no dying probes pile up */
    char *pf = xasprintf("%s/probe.pid", c->dir);
    long long pid;
    if (read_int(pf, &pid) == 0 && pid > 1 && pid < INT32_MAX)
        kill((pid_t)pid, SIGKILL);
    free(pf);
    if (!p->exited)
        exec_proc_kill(p, SIGKILL);
    if (!p->eof) { /* a child of the probe may hold the pipe: do not wait for it */
        uv_read_stop((uv_stream_t *)&p->out);
        p->eof = true;
    }
    exec_proc_finish(p);
}

static void probe_due(uv_timer_t *t)
{
    struct exec_ctr *c = t->data;
    struct exec *x = c->x;
    if (c->probe || !c->health_on || c->st.status != EXEC_RUNNING || c->deleting)
        return;
    char *pf = xasprintf("%s/probe.pid", c->dir);
    unlink(pf);
    size_t n = 0;
    while (c->health.argv[n])
        n++;
    char **argv = xcalloc(n + 9, sizeof(*argv));
    size_t k = 0;
    argv[k++] = x->runtime;
    argv[k++] = "--root";
    argv[k++] = x->rt_root;
    argv[k++] = "exec";
    argv[k++] = "--pid-file";
    argv[k++] = pf;
    argv[k++] = c->id;
    for (size_t i = 0; i < n; i++)
        argv[k++] = c->health.argv[i];
    argv[k] = NULL;
    char *env[] = {CTR_PATH_ENV, x->env_crun, NULL};
    struct err e = {0};
    c->probe_start_ns = time_now_ns();
    c->probe_timed_out = false;
    struct exec_proc *p = exec_proc_spawn(x, argv, env, 1, -1, x->root, false, probe_done, c, &e);
    free(argv);
    free(pf);
    if (!p) { /* recorded as Docker records a probe that cannot run */
        if (exec_health_record(&c->health, c->probe_start_ns, time_now_ns(), -1, e.msg,
                               strlen(e.msg)) &&
            x->health_cb)
            x->health_cb(x->health_arg, c->id, c->health.status);
        health_schedule(c);
        return;
    }
    p->id = xstrdup(c->id);
    c->probe = p;
    uv_timer_start(&c->htimer, probe_timeout, ns_to_ms(c->health.timeout_ns), 0);
}

void exec_set_health_cb(struct exec *x, exec_health_cb cb, void *arg)
{
    x->health_cb = cb;
    x->health_arg = arg;
}

/* ---- exit handling ---- */
static void waiters_fire(struct waiter **list, int rc, const struct err *e)
{
    struct waiter *w = *list;
    *list = NULL;
    while (w) {
        struct waiter *next = w->next;
        w->cb(w->arg, rc, e);
        free(w);
        w = next;
    }
}

static void ctr_delete_finish(struct exec_ctr *c);

/* Reclaims what the exited container's memory cgroup is still charged for (a page or two of
 * page cache: a file it was first to read or write) before the runtime removes the cgroup.
 * Without it every removed container leaves a dying memcg behind, pinned by those pages until
 * memory pressure; measured here, ~550 of them after a few hundred task starts made every
 * later container start and cgroup operation markedly slower (crun 19 -> 31 ms of CPU per
 * task). v1: memory.force_empty; v2: memory.reclaim. Best effort, nothing to report. */
static void cgroup_memory_drop(const struct exec_ctr *c)
{
    const struct exec *x = c->x;
    char *v1 = xasprintf("/sys/fs/cgroup/memory%s/%s/memory.force_empty", x->cgroup_parent, c->id);
    int fd = open(v1, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, "0", 1);
        (void)w;
        close(fd);
    } else {
        char *v2 = xasprintf("/sys/fs/cgroup%s/%s/memory.reclaim", x->cgroup_parent, c->id);
        fd = open(v2, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t w = write(fd, "64M", 3); /* EAGAIN when less was there: fine */
            (void)w;
            close(fd);
        }
        free(v2);
    }
    free(v1);
}

/* The kernel's count of OOM kills in the container's memory cgroup (v1 memory.oom_control or
 * v2 memory.events, line "oom_kill N"); 0 when unknown. conmon's oom marker comes from an
 * event that may be handled after the exit file is written, so the counter is read too. */
static long cgroup_oom_kills(const struct exec_ctr *c)
{
    const struct exec *x = c->x;
    char *paths[2] = {
        xasprintf("/sys/fs/cgroup/memory%s/%s/memory.oom_control", x->cgroup_parent, c->id),
        xasprintf("/sys/fs/cgroup%s/%s/memory.events", x->cgroup_parent, c->id)};
    long kills = 0;
    for (int i = 0; i < 2 && kills == 0; i++) {
        char *d = NULL;
        size_t n;
        if (file_read(paths[i], &d, &n, NULL) == 0) {
            const char *k = strstr(d, "oom_kill ");
            if (k)
                kills = strtol(k + 9, NULL, 10);
        }
        free(d);
    }
    free(paths[0]);
    free(paths[1]);
    return kills;
}

/* Records the exit if the exit file says so, or (shim_gone) as -1 when it never came. */
static void ctr_check_exit(struct exec_ctr *c, bool shim_gone)
{
    struct exec *x = c->x;
    if (c->st.status == EXEC_EXITED || c->closing)
        return;
    char *path = xasprintf("%s/%s", x->exit_dir, c->id);
    long long code;
    int have = read_int(path, &code);
    if (have < 0) {
        char *pp = xasprintf("%s/persist/exit", c->dir);
        have = read_int(pp, &code);
        free(pp);
    }
    if (have < 0 && !shim_gone) {
        free(path);
        return;
    }
    struct stat st;
    c->st.finished_ns = stat(path, &st) == 0
                            ? (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec
                            : time_now_ns();
    /* file times are coarse (a clock tick behind the precise clock): a container that ends
     * within a few ms of its start must not seem to finish before it started */
    if (c->st.started_ns && c->st.finished_ns < c->st.started_ns)
        c->st.finished_ns = c->st.started_ns;
    free(path);
    char *oom = xasprintf("%s/persist/oom", c->dir);
    c->st.oom_killed = path_exists(oom) || cgroup_oom_kills(c) > 0;
    free(oom);
    c->st.status = EXEC_EXITED;
    c->st.exit_code = have < 0 ? -1 : (int)code;
    c->st.pid = 0;
    init_fd_close(c);
    health_stop(c);
    if (c->stopping) {
        uv_timer_stop(&c->timer);
        c->stopping = false;
    }
    log_debug("exec: container %s exited with %d%s", c->id, c->st.exit_code,
              c->st.oom_killed ? " (OOM killed)" : "");
    waiters_fire(&c->stop_waiters, 0, NULL);
    struct exec_state s = c->st;
    if (c->on_exit)
        c->on_exit(c->exit_arg, c->id, &s);
}

static void ctr_poll_cb(uv_poll_t *h, int status, int events)
{
    struct exec_ctr *c = h->data;
    uv_poll_stop(h);
    ctr_check_exit(c, true);
    if (c->shim_waiting) {
        uv_timer_stop(&c->timer);
        ctr_delete_finish(c);
    }
}

/* Opens a pidfd on conmon and polls it. Returns 0, or -1 if conmon is not alive. */
static int ctr_watch(struct exec_ctr *c, int conmon_pid)
{
    int fd = pidfd_open_(conmon_pid);
    if (fd < 0)
        return -1;
    c->pidfd = fd;
    uv_poll_init(c->x->loop, &c->poll, fd);
    c->poll.data = c;
    c->poll_init = true;
    uv_poll_start(&c->poll, UV_READABLE, ctr_poll_cb);
    return 0;
}

static void init_fd_close(struct exec_ctr *c)
{
    if (c->init_fd >= 0)
        close(c->init_fd);
    c->init_fd = -1;
}

/* The parent PID field of /proc/<pid>/stat (after the last ')': comm may hold anything). */
static int proc_ppid(int pid)
{
    char *path = xasprintf("/proc/%d/stat", pid);
    char *d = NULL;
    size_t n;
    int ppid = -1;
    if (file_read(path, &d, &n, NULL) == 0) {
        char *close = strrchr(d, ')');
        char st;
        if (close && sscanf(close + 1, " %c %d", &st, &ppid) != 2)
            ppid = -1;
    }
    free(d);
    free(path);
    return ppid;
}

/* Opens init_fd on the container's init process (c->st.pid) if it is still conmon's child,
 * the check that tells it from a recycled PID; without one, kill goes through the runtime. */
static void init_fd_open(struct exec_ctr *c, int conmon_pid)
{
    init_fd_close(c);
    if (c->st.pid <= 0)
        return;
    int fd = pidfd_open_(c->st.pid);
    if (fd < 0)
        return;
    if (proc_ppid(c->st.pid) != conmon_pid) {
        close(fd);
        return;
    }
    c->init_fd = fd;
}

static bool shim_alive(const struct exec_ctr *c)
{
    return c->pidfd >= 0 && uv_is_active((const uv_handle_t *)&c->poll);
}

static void exits_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct exec *x = h->data;
    if (status < 0 || !name)
        return;
    struct exec_ctr *c = ctr_find(x, name);
    if (c)
        ctr_check_exit(c, false);
}

/* ---- exec_new / exec_free ---- */
static char *find_bin(const char *name)
{
    static const char *const dirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                       "/usr/bin",        "/sbin",          "/bin"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char *p = xasprintf("%s/%s", dirs[i], name);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

static long statfs_magic(const char *path)
{
    struct statfs s;
    return statfs(path, &s) == 0 ? (long)s.f_type : 0;
}

static enum exec_cgroup_mode probe_cgroups(void)
{
    char *ctl = NULL;
    size_t n;
    if (file_read("/sys/fs/cgroup/unified/cgroup.controllers", &ctl, &n, NULL) < 0)
        ctl = NULL;
    enum exec_cgroup_mode m = exec_cgroup_mode_classify(
        statfs_magic("/sys/fs/cgroup"), statfs_magic("/sys/fs/cgroup/unified"), ctl);
    free(ctl);
    return m;
}

/* The freestanding wrapper (exec_crun_hybrid.c), linked in as bytes where it could be built. */
extern const unsigned char _binary_crun_hybrid_start[] __attribute__((weak));
extern const unsigned char _binary_crun_hybrid_end[] __attribute__((weak));

/* Puts the crun wrapper at path: the embedded program (written to a temporary file, made
 * executable and renamed over the old one, so a conmon running the old one is not
 * disturbed), or else a symlink to this binary, which turns into the wrapper by its name
 * (exec_cgroup.c). Returns 0 or -1 with e set. */
static int wrapper_install(const char *path, struct err *e)
{
    char *tmp = xasprintf("%s.new", path);
    int rc = 0;
    unlink(tmp);
    uintptr_t start = (uintptr_t)_binary_crun_hybrid_start,
              end = (uintptr_t)_binary_crun_hybrid_end;
    if (start && end > start) {
        size_t n = (size_t)(end - start);
        rc = file_write_replace(tmp, _binary_crun_hybrid_start, n, 0755, e);
        if (rc == 0 && chmod(tmp, 0755) < 0)
            rc = err_set(e, ERR_INTERNAL, "chmod %s: %s", tmp, strerror(errno));
    } else {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
            rc = err_set(e, ERR_INTERNAL, "readlink /proc/self/exe: %s", strerror(errno));
        else {
            self[n] = 0;
            if (symlink(self, tmp) < 0)
                rc = err_set(e, ERR_INTERNAL, "symlink %s: %s", tmp, strerror(errno));
        }
    }
    if (rc == 0 && rename(tmp, path) < 0)
        rc = err_set(e, ERR_INTERNAL, "rename %s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int setup_runtime(struct exec *x, const char *want, struct err *e)
{
    enum exec_cgroup_mode mode = probe_cgroups();
    char *crun = find_bin("crun"), *runc = find_bin("runc");
    char *path = NULL;
    const char *why = "configured";
    if (!want || !*want || !strcmp(want, "auto")) {
        x->kind = exec_runtime_choose(mode, crun != NULL, runc != NULL);
        why = "auto";
        if (x->kind == EXEC_RT_RUNC)
            path = xstrdup(runc);
        else if (x->kind)
            path = xstrdup(crun);
    } else {
        if (access(want, X_OK) < 0) {
            free(crun);
            free(runc);
            return err_set(e, ERR_INVALID, "OCI runtime %s: %s", want, strerror(errno));
        }
        path = xstrdup(want);
        const char *base = strrchr(want, '/');
        base = base ? base + 1 : want;
        if (strstr(base, "crun"))
            x->kind = mode == EXEC_CG_HYBRID_CONTROLS ? EXEC_RT_CRUN_WRAPPED : EXEC_RT_CRUN;
        else
            x->kind = EXEC_RT_RUNC;
    }
    free(crun);
    free(runc);
    if (!x->kind || !path) {
        free(path);
        return err_set(e, ERR_UNAVAILABLE, "no OCI runtime found (install runc or crun)");
    }
    x->runtime_bin = xstrdup(path);
    char *pinned = NULL;
    x->pin_fd = exec_pin_runtime(path, &pinned);
    if (pinned) {
        free(path);
        path = pinned;
    }
    if (x->kind == EXEC_RT_CRUN_WRAPPED) {
        x->crun_real = path;
        x->runtime = xasprintf("%s/%s", x->root, EXEC_CRUN_WRAPPER_NAME);
        if (wrapper_install(x->runtime, e) < 0)
            return -1;
    } else {
        x->runtime = path;
    }
    x->env_crun = xasprintf("SHOAL_EXEC_CRUN=%s", x->crun_real ? x->crun_real : "/usr/bin/crun");
    log_info("exec: OCI runtime %s: %s%s (%s; host has %s)", exec_runtime_kind_name(x->kind),
             x->runtime_bin, x->pin_fd >= 0 ? ", run from a sealed copy" : "", why,
             exec_cgroup_mode_name(mode));
    return 0;
}

struct exec *exec_new(uv_loop_t *loop, const struct exec_config *cfg, struct err *e)
{
    if (!cfg->root || cfg->root[0] != '/') {
        err_set(e, ERR_INVALID, "exec: state root must be an absolute path");
        return NULL;
    }
    struct exec *x = xcalloc(1, sizeof(*x));
    x->pin_fd = -1;
    x->loop = loop;
    x->root = xstrdup(cfg->root);
    x->ctr_root = xasprintf("%s/containers", cfg->root);
    x->exit_dir = xasprintf("%s/exits", cfg->root);
    x->rt_root = xasprintf("%s/runtime", cfg->root);
    x->cgroup_parent =
        xstrdup(cfg->cgroup_parent && *cfg->cgroup_parent ? cfg->cgroup_parent : "/shoal");
    x->log_size_max = cfg->log_size_max > 0 ? cfg->log_size_max : 10 * 1024 * 1024;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    x->gate_max = ncpu > 0 ? (int)(ncpu * 4 > 64 ? 64 : ncpu * 4) : 4;
    if (x->gate_max < 4)
        x->gate_max = 4;
    if (cfg->max_runtime_calls > 0)
        x->gate_max = cfg->max_runtime_calls;
    x->swap_acct = path_exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    long long cap_last;
    if (read_int("/proc/sys/kernel/cap_last_cap", &cap_last) == 0 && cap_last > 0 && cap_last < 64)
        x->cap_last = (int)cap_last;
    const char *init = cfg->init_path ? cfg->init_path : "/usr/bin/tini-static";
    if (access(init, X_OK) == 0)
        x->init_path = xstrdup(init);
    if (dir_make(x->ctr_root, 0700, e) < 0 || dir_make(x->exit_dir, 0700, e) < 0 ||
        dir_make(x->rt_root, 0700, e) < 0)
        goto fail;
    if (setup_runtime(x, cfg->runtime, e) < 0)
        goto fail;
    if (cfg->conmon && *cfg->conmon) {
        x->conmon = xstrdup(cfg->conmon);
    } else if (!(x->conmon = find_bin("conmon"))) {
        err_set(e, ERR_UNAVAILABLE, "conmon not found (install Debian's conmon)");
        goto fail;
    }
    if (access(x->conmon, X_OK) < 0) {
        err_set(e, ERR_UNAVAILABLE, "conmon %s: %s", x->conmon, strerror(errno));
        goto fail;
    }
    uv_fs_event_init(loop, &x->exits_watch);
    x->exits_watch.data = x;
    x->open_handles++;
    int r = uv_fs_event_start(&x->exits_watch, exits_event, x->exit_dir, 0);
    if (r < 0) {
        err_set(e, ERR_INTERNAL, "watch %s: %s", x->exit_dir, uv_strerror(r));
        exec_free(x);
        return NULL;
    }
    return x;
fail:
    x->freeing = true;
    exec_maybe_free(x);
    return NULL;
}

static void exits_closed(uv_handle_t *h)
{
    struct exec *x = h->data;
    x->open_handles--;
    exec_maybe_free(x);
}

void exec_free(struct exec *x)
{
    if (!x || x->freeing)
        return;
    x->freeing = true;
    exec_procs_abandon(x);
    for (struct exec_ctr *c = x->ctrs; c; c = c->next)
        ctr_close(c);
    while (x->n_followers > 0)
        exec_logs_follow_stop(x->followers[x->n_followers - 1]); /* removes itself */
    uv_close((uv_handle_t *)&x->exits_watch, exits_closed);
}

const char *exec_runtime_path(const struct exec *x)
{
    return x->runtime_bin;
}
enum exec_runtime_kind exec_runtime_kind(const struct exec *x)
{
    return x->kind;
}
uv_loop_t *exec_loop(struct exec *x)
{
    return x->loop;
}
char *exec_log_path(const struct exec *x, const char *id)
{
    return xasprintf("%s/%s/ctr.log", x->ctr_root, id);
}
char *exec_dir_path(const struct exec *x, const char *id)
{
    return xasprintf("%s/%s", x->ctr_root, id);
}
char *exec_rootfs_path(const struct exec *x, const char *id)
{
    return xasprintf("%s/%s/rootfs", x->ctr_root, id);
}
bool exec_ctr_exited(struct exec *x, const char *id)
{
    struct exec_ctr *c = ctr_find(x, id);
    return !c || c->st.status == EXEC_EXITED;
}

int exec_state_get(struct exec *x, const char *id, struct exec_state *st, struct err *e)
{
    struct exec_ctr *c = ctr_find(x, id);
    if (!c || c->deleting)
        return err_set(e, ERR_NOT_FOUND, "No such container: %s", id);
    *st = c->st;
    return 0;
}

enum exec_health_status exec_health_status(struct exec *x, const char *id)
{
    struct exec_ctr *c = ctr_find(x, id);
    return c && c->health_on ? c->health.status : EXEC_HEALTH_NONE;
}

json_t *exec_health_get(struct exec *x, const char *id)
{
    struct exec_ctr *c = ctr_find(x, id);
    return c && c->health_on ? exec_health_json(&c->health) : NULL;
}

int exec_meta_get(struct exec *x, const char *id, json_t **out, struct err *e)
{
    struct exec_ctr *c = ctr_find(x, id);
    if (!c || c->deleting)
        return err_set(e, ERR_NOT_FOUND, "No such container: %s", id);
    char *path = xasprintf("%s/meta.json", c->dir);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    free(path);
    if (!m)
        return err_set(e, ERR_INTERNAL, "container %s: meta.json: %s", id, je.text);
    *out = m;
    return 0;
}

char **exec_list(struct exec *x)
{
    size_t n = 0;
    for (struct exec_ctr *c = x->ctrs; c; c = c->next)
        n++;
    char **ids = xcalloc(n + 1, sizeof(*ids));
    size_t i = n;
    /* the list is newest first */
    for (struct exec_ctr *c = x->ctrs; c; c = c->next)
        if (!c->closing && !c->deleting)
            ids[--i] = xstrdup(c->id);
    if (i) { /* skipped ones: close the gap */
        memmove(ids, ids + i, (n - i) * sizeof(*ids));
        ids[n - i] = NULL;
    }
    return ids;
}

static void fail_now(exec_done_cb done, void *arg, struct err *e)
{
    if (done)
        done(arg, -e->kind, e);
}

/* ---- create ---- */
struct create_op {
    struct exec_ctr *c;
    exec_done_cb done;
    void *arg;
};

static void meta_write(struct exec_ctr *c, const struct exec_spec *s)
{
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(c->id));
    json_object_set_new(m, "created", json_integer(c->st.created_ns));
    json_object_set_new(m, "stop_signal", json_integer(c->stop_signal));
    json_object_set_new(m, "stop_grace_ns", json_integer(c->stop_grace_ns));
    json_object_set_new(m, "overlay", json_boolean(c->overlay));
    json_object_set_new(m, "tty", json_boolean(s->tty));
    json_t *l = json_object();
    for (size_t i = 0; s->labels && s->labels[i]; i++) {
        const char *eq = strchr(s->labels[i], '=');
        char *k = eq ? xstrndup(s->labels[i], (size_t)(eq - s->labels[i])) : xstrdup(s->labels[i]);
        json_object_set_new(l, k, json_string(eq ? eq + 1 : ""));
        free(k);
    }
    json_object_set_new(m, "labels", l);
    if (s->extra)
        json_object_set(m, "extra", s->extra);
    if (c->hc)
        json_object_set(m, "health", c->hc);
    char *txt = json_dumps(m, JSON_COMPACT);
    char *path = xasprintf("%s/meta.json", c->dir);
    struct err e = {0};
    if (write_small(path, txt, &e) < 0)
        log_warn("exec: %s", e.msg);
    free(path);
    free(txt);
    json_decref(m);
}

static void meta_read(struct exec_ctr *c)
{
    char *path = xasprintf("%s/meta.json", c->dir);
    json_t *m = json_load_file(path, 0, NULL);
    free(path);
    if (!m)
        return;
    c->st.created_ns = json_integer_value(json_object_get(m, "created"));
    if (json_integer_value(json_object_get(m, "stop_signal")) > 0)
        c->stop_signal = (int)json_integer_value(json_object_get(m, "stop_signal"));
    if (json_integer_value(json_object_get(m, "stop_grace_ns")) > 0)
        c->stop_grace_ns = json_integer_value(json_object_get(m, "stop_grace_ns"));
    c->overlay = json_is_true(json_object_get(m, "overlay"));
    if (json_is_object(json_object_get(m, "health")))
        c->hc = json_incref(json_object_get(m, "health"));
    json_decref(m);
}

/* Undoes a half-made bundle: unmount, remove the dir. */
static void bundle_remove(struct exec *x, const char *id, bool overlay)
{
    char *rootfs = xasprintf("%s/%s/rootfs", x->ctr_root, id);
    if (overlay && umount2(rootfs, 0) < 0 && errno != EINVAL && errno != ENOENT) {
        log_warn("exec: umount %s: %s (detaching)", rootfs, strerror(errno));
        umount2(rootfs, MNT_DETACH);
    }
    free(rootfs);
    char *dir = xasprintf("%s/%s", x->ctr_root, id);
    struct err e = {0};
    if (dir_remove_all(dir, &e) < 0)
        log_warn("exec: %s", e.msg);
    free(dir);
    char *ex = xasprintf("%s/%s", x->exit_dir, id);
    unlink(ex);
    free(ex);
}

static void create_synced(struct exec_proc *p)
{
    struct create_op *op = p->arg;
    struct exec_ctr *c = op->c;
    struct exec *x = c->x;
    struct err e = {0};
    json_error_t je;
    json_t *j =
        p->outb.len ? json_loadb(p->outb.p, p->outb.len, JSON_DISABLE_EOF_CHECK, &je) : NULL;
    long long pid = j ? json_integer_value(json_object_get(j, "data")) : 0;
    if (pid <= 0) {
        const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
        char *logp = xasprintf("%s/conmon.log", c->dir);
        char *log = NULL;
        size_t n;
        if (!msg && file_read(logp, &log, &n, NULL) == 0 && n > 0) {
            while (n > 0 && log[n - 1] == '\n')
                log[--n] = 0;
            msg = log;
        }
        char *m = msg ? exec_runtime_msg(msg) : NULL;
        /* Docker's words: "OCI runtime create failed: <runtime's message>" */
        err_set(&e, ERR_INTERNAL, "OCI runtime create failed: %s",
                m ? m : "conmon exited without reporting the container's pid");
        free(m);
        free(log);
        free(logp);
        json_decref(j);
        bundle_remove(x, c->id, c->overlay);
        c->deleting = false;
        ctr_close(c);
        exec_done_cb done = op->done;
        void *arg = op->arg;
        free(op);
        fail_now(done, arg, &e);
        return;
    }
    json_decref(j);
    c->st.pid = (int)pid;
    c->st.status = EXEC_CREATED;
    char *cp = xasprintf("%s/conmon.pid", c->dir);
    long long cpid = 0;
    if (read_int(cp, &cpid) < 0 || ctr_watch(c, (int)cpid) < 0)
        log_warn("exec: container %s: cannot watch conmon (pid file %s)", c->id, cp);
    else
        init_fd_open(c, (int)cpid);
    free(cp);
    exec_done_cb done = op->done;
    void *arg = op->arg;
    free(op);
    if (done)
        done(arg, 0, NULL);
    ctr_check_exit(c, false); /* an exit that raced ahead of us */
}

static char *join_lower(const char *const *lower)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; lower[i]; i++) {
        if (i)
            buf_add(&b, ":", 1);
        buf_adds(&b, lower[i]);
    }
    return buf_detach(&b, NULL);
}

void exec_create(struct exec *x, const struct exec_spec *s, exec_exit_cb on_exit, void *exit_arg,
                 exec_done_cb done, void *arg)
{
    struct err e = {0};
    json_t *cfg = NULL;
    if (!s->id || !exec_id_valid(s->id)) {
        err_set(&e, ERR_INVALID, "invalid container id \"%s\"", s->id ? s->id : "");
        return fail_now(done, arg, &e);
    }
    if (ctr_find(x, s->id)) {
        err_set(&e, ERR_CONFLICT, "container %s already exists", s->id);
        return fail_now(done, arg, &e);
    }
    bool overlay = s->lower && s->lower[0];
    if (!overlay && (!s->rootfs || s->rootfs[0] != '/')) {
        err_set(&e, ERR_INVALID, "container %s: no rootfs (lower dirs or an absolute rootfs)",
                s->id);
        return fail_now(done, arg, &e);
    }
    char *dir = xasprintf("%s/%s", x->ctr_root, s->id);
    struct exec_oci_opts oo = {
        .rootfs_path = overlay ? "rootfs" : s->rootfs,
        .cgroup_parent = x->cgroup_parent,
        .init_path = x->init_path,
        .swap_accounting = x->swap_acct,
        .cap_last = x->cap_last,
    };
    if (exec_oci_config(s, &oo, &cfg, &e) < 0) {
        free(dir);
        return fail_now(done, arg, &e);
    }
    struct exec_health probe_check;
    int hrc = exec_health_init(&probe_check, s->health, 0, &e);
    exec_health_release(&probe_check);
    if (hrc < 0) {
        free(dir);
        json_decref(cfg);
        return fail_now(done, arg, &e);
    }
    if (mkdir(dir, 0700) < 0) {
        err_set(&e, errno == EEXIST ? ERR_CONFLICT : ERR_INTERNAL, "container %s: mkdir %s: %s",
                s->id, dir, strerror(errno));
        free(dir);
        json_decref(cfg);
        return fail_now(done, arg, &e);
    }
    struct exec_ctr *c = ctr_new(x, s->id);
    c->on_exit = on_exit;
    c->exit_arg = exit_arg;
    c->overlay = overlay;
    if (hrc == 0)
        c->hc = health_cfg_json(s->health);
    c->st.created_ns = time_now_ns();
    if (s->stop_signal)
        c->stop_signal = exec_signal_parse(s->stop_signal);
    if (s->stop_grace_ns > 0)
        c->stop_grace_ns = s->stop_grace_ns;
    char *upper = xasprintf("%s/upper", dir), *work = xasprintf("%s/work", dir);
    char *rootfs = xasprintf("%s/rootfs", dir), *persist = xasprintf("%s/persist", dir);
    char *cfgp = xasprintf("%s/config.json", dir);
    char *txt = NULL;
    int logfd = -1;
    if (mkdir(persist, 0700) < 0) {
        err_set(&e, ERR_INTERNAL, "mkdir %s: %s", persist, strerror(errno));
        goto fail;
    }
    if (overlay) {
        if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(rootfs, 0755) < 0) {
            err_set(&e, ERR_INTERNAL, "mkdir in %s: %s", dir, strerror(errno));
            goto fail;
        }
        char *lower = join_lower(s->lower);
        char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        int r = mount("overlay", rootfs, "overlay", 0, opts);
        int err = errno;
        free(lower);
        free(opts);
        if (r < 0) {
            c->overlay = false;
            err_set(&e, ERR_INTERNAL, "mount overlay on %s: %s", rootfs, strerror(err));
            goto fail;
        }
    }
    txt = exec_oci_dumps(cfg);
    if (write_small(cfgp, txt, &e) < 0)
        goto fail;
    meta_write(c, s);

    char *logp = xasprintf("%s/conmon.log", dir);
    logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    free(logp);
    char *pidp = xasprintf("%s/ctr.pid", dir), *cpidp = xasprintf("%s/conmon.pid", dir);
    char *logarg = xasprintf("k8s-file:%s/ctr.log", dir);
    char *size = xasprintf("%lld", (long long)x->log_size_max);
    char *sock = xasprintf("%s/sock", dir);
    char *rtroot = xasprintf("--root=%s", x->rt_root);
    char *argv[] = {x->conmon, "--api-version", "1", "-c", c->id, "-u", c->id, "-n", c->id, "-r",
                    x->runtime, "-b", dir, "-p", pidp, "-P", cpidp, "-l", logarg, "--log-size-max",
                    size, "--exit-dir", x->exit_dir, "-0", persist, "--socket-dir-path", sock,
                    "--full-attach", "--runtime-arg", rtroot,
                    /* conmon makes the console socket, gets the pty's master from the
                     * runtime and logs what it reads from it as stdout */
                    s->tty ? "--terminal" : NULL, NULL};
    char *env[] = {CTR_PATH_ENV, "_OCI_SYNCPIPE=3", x->env_crun, NULL};
    struct create_op *op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->done = done;
    op->arg = arg;
    /* conmon writes some files (an "oom" marker) relative to its cwd: keep them in the dir */
    struct exec_proc *p = exec_proc_spawn(x, argv, env, 3, logfd, dir, true, create_synced, op, &e);
    free(pidp);
    free(cpidp);
    free(logarg);
    free(size);
    free(sock);
    free(rtroot);
    if (!p) {
        free(op);
        goto fail;
    }
    p->owns_arg = true;
    if (logfd >= 0)
        close(logfd);
    free(upper);
    free(work);
    free(rootfs);
    free(persist);
    free(cfgp);
    free(txt);
    free(dir);
    json_decref(cfg);
    return;
fail:
    if (logfd >= 0)
        close(logfd);
    bundle_remove(x, s->id, c->overlay);
    ctr_close(c);
    free(upper);
    free(work);
    free(rootfs);
    free(persist);
    free(cfgp);
    free(txt);
    free(dir);
    json_decref(cfg);
    fail_now(done, arg, &e);
}

/* ---- start ---- */
struct simple_op {
    struct exec_ctr *c;
    exec_done_cb done;
    void *arg;
};

static struct simple_op *simple_op_new(struct exec_ctr *c, exec_done_cb done, void *arg)
{
    struct simple_op *op = xcalloc(1, sizeof(*op));
    op->c = c;
    op->done = done;
    op->arg = arg;
    return op;
}

static void start_done(struct exec_proc *p)
{
    struct simple_op *op = p->arg;
    struct exec_ctr *c = op->c;
    struct err e = {0};
    int rc = 0;
    if (!exec_proc_ok(p)) {
        rc = exec_proc_err(p, "start", &e);
        if (c->st.status != EXEC_EXITED)
            c->st.started_ns = 0;
    } else {
        if (c->st.status == EXEC_CREATED) {
            c->st.status = EXEC_RUNNING;
            health_begin(c);
        }
        char *sp = xasprintf("%s/started", c->dir);
        char val[32];
        snprintf(val, sizeof(val), "%lld\n", (long long)c->st.started_ns);
        write_small(sp, val, NULL);
        free(sp);
    }
    if (op->done)
        op->done(op->arg, rc, rc < 0 ? &e : NULL);
    free(op);
}

void exec_start(struct exec *x, const char *id, exec_done_cb done, void *arg)
{
    struct err e = {0};
    struct exec_ctr *c = ctr_find(x, id);
    if (!c || c->deleting) {
        err_set(&e, ERR_NOT_FOUND, "No such container: %s", id);
        return fail_now(done, arg, &e);
    }
    if (c->st.status != EXEC_CREATED) {
        err_set(&e, ERR_CONFLICT, "container %s is %s, not created", id,
                exec_status_name(c->st.status));
        return fail_now(done, arg, &e);
    }
    c->st.started_ns = time_now_ns();
    struct simple_op *op = simple_op_new(c, done, arg);
    struct exec_proc *p = exec_runtime_call(x, "start", NULL, NULL, id, start_done, op, &e);
    if (!p) {
        c->st.started_ns = 0;
        free(op);
        return fail_now(done, arg, &e);
    }
    p->owns_arg = true;
}

/* ---- kill ---- */
static void kill_done(struct exec_proc *p)
{
    struct simple_op *op = p->arg;
    struct err e = {0};
    int rc = 0;
    /* A container that exited meanwhile is not an error (Docker: the signal was moot). */
    if (!exec_proc_ok(p) && op->c->st.status != EXEC_EXITED)
        rc = exec_proc_err(p, "kill", &e);
    if (op->done)
        op->done(op->arg, rc, rc < 0 ? &e : NULL);
    free(op);
}

static void kill_send(struct exec_ctr *c, int sig, exec_done_cb done, void *arg)
{
    /* ESRCH: the process is gone (its exit is on its way to us): the signal was moot */
    if (c->init_fd >= 0 && (pidfd_signal(c->init_fd, sig) == 0 || errno == ESRCH)) {
        if (done)
            done(arg, 0, NULL);
        return;
    }
    char s[16];
    snprintf(s, sizeof(s), "%d", sig);
    struct err e = {0};
    struct simple_op *op = simple_op_new(c, done, arg);
    struct exec_proc *p = exec_runtime_call(c->x, "kill", NULL, s, c->id, kill_done, op, &e);
    if (!p) {
        free(op);
        return fail_now(done, arg, &e);
    }
    p->owns_arg = true;
}

void exec_kill(struct exec *x, const char *id, int sig, exec_done_cb done, void *arg)
{
    struct err e = {0};
    struct exec_ctr *c = ctr_find(x, id);
    if (!c || c->deleting) {
        err_set(&e, ERR_NOT_FOUND, "No such container: %s", id);
        return fail_now(done, arg, &e);
    }
    if (c->st.status != EXEC_RUNNING) {
        err_set(&e, ERR_CONFLICT, "Container %s is not running", id);
        return fail_now(done, arg, &e);
    }
    kill_send(c, sig, done, arg);
}

/* ---- stop ---- */
static void stop_kill_sent(void *arg, int rc, const struct err *e)
{
    struct exec_ctr *c = arg;
    if (rc < 0 && c->st.status != EXEC_EXITED)
        log_warn("exec: stop %s: %s", c->id, e->msg);
}

static void stop_timeout(uv_timer_t *t)
{
    struct exec_ctr *c = t->data;
    if (c->st.status == EXEC_EXITED)
        return;
    if (!c->killed) {
        c->killed = true;
        log_info("exec: container %s did not exit within its grace period, sending SIGKILL", c->id);
        kill_send(c, SIGKILL, stop_kill_sent, c);
        uv_timer_start(&c->timer, stop_timeout, KILL_WAIT_MS, 0);
        return;
    }
    struct err e = {0};
    err_set(&e, ERR_INTERNAL, "container %s did not exit after SIGKILL", c->id);
    c->stopping = false;
    waiters_fire(&c->stop_waiters, -e.kind, &e);
}

void exec_stop(struct exec *x, const char *id, int64_t grace_ns, exec_done_cb done, void *arg)
{
    struct err e = {0};
    struct exec_ctr *c = ctr_find(x, id);
    if (!c || c->deleting) {
        err_set(&e, ERR_NOT_FOUND, "No such container: %s", id);
        return fail_now(done, arg, &e);
    }
    if (c->st.status != EXEC_RUNNING) {
        if (done)
            done(arg, 0, NULL);
        return;
    }
    struct waiter *w = xcalloc(1, sizeof(*w));
    w->cb = done ? done : stop_kill_sent;
    w->arg = done ? arg : c;
    w->next = c->stop_waiters;
    c->stop_waiters = w;
    if (c->stopping)
        return;
    c->stopping = true;
    c->killed = false;
    if (grace_ns < 0)
        grace_ns = c->stop_grace_ns;
    kill_send(c, c->stop_signal, stop_kill_sent, c);
    uv_timer_start(&c->timer, stop_timeout, (uint64_t)(grace_ns / 1000000), 0);
}

/* ---- delete ---- */
static void ctr_delete_finish(struct exec_ctr *c)
{
    if (c->closing)
        return;
    if (shim_alive(c)) {
        pidfd_signal(c->pidfd, SIGKILL);
        log_warn("exec: container %s: conmon still alive after delete, killed it", c->id);
    }
    bundle_remove(c->x, c->id, c->overlay);
    ctr_close(c); /* ctr_free_now calls del_cb */
}

static void shim_wait_timeout(uv_timer_t *t)
{
    ctr_delete_finish(t->data);
}

static void delete_done(struct exec_proc *p)
{
    struct exec_ctr *c = p->arg;
    if (!exec_proc_ok(p)) {
        struct err e = {0};
        exec_proc_err(p, "delete", &e);
        /* "does not exist" is what we want; anything else is logged, cleanup goes on. */
        if (!strstr(e.msg, "not exist") && !strstr(e.msg, "not found"))
            log_warn("exec: %s: %s", c->id, e.msg);
    }
    if (shim_alive(c)) {
        c->shim_waiting = true;
        uv_timer_start(&c->timer, shim_wait_timeout, SHIM_WAIT_MS, 0);
        return;
    }
    ctr_delete_finish(c);
}

void exec_delete(struct exec *x, const char *id, bool force, exec_done_cb done, void *arg)
{
    struct err e = {0};
    struct exec_ctr *c = ctr_find(x, id);
    if (!c || c->deleting) {
        err_set(&e, ERR_NOT_FOUND, "No such container: %s", id);
        return fail_now(done, arg, &e);
    }
    if (c->st.status == EXEC_RUNNING && !force) {
        err_set(&e, ERR_CONFLICT,
                "You cannot remove a running container %s. Stop the container before attempting "
                "removal or force remove",
                id);
        return fail_now(done, arg, &e);
    }
    c->deleting = true;
    health_stop(c);
    c->del_cb = done;
    c->del_arg = arg;
    uv_timer_stop(&c->timer);
    c->stopping = false;
    if (c->st.status != EXEC_RUNNING)
        cgroup_memory_drop(c);
    if (!exec_runtime_call(x, "delete", "--force", NULL, id, delete_done, c, &e))
        ctr_delete_finish(c);
}

/* ---- restore ---- */
struct restore_op {
    struct exec *x;
    char **names;
    size_t n, i;
    exec_found_cb found;
    exec_exit_cb on_exit;
    void *exit_arg;
    exec_done_cb done;
    void *arg;
};

static void restore_next(struct restore_op *op);

static void restore_report(struct restore_op *op, struct exec_ctr *c, enum exec_found what)
{
    struct exec_state s = c->st;
    if (op->found)
        op->found(op->arg, c->id, what, &s);
}

/* The shim-less container was reported before its removal; go on with the next one. */
static void restore_removed(void *arg, int rc, const struct err *e)
{
    struct restore_op *op = arg;
    if (rc < 0)
        log_warn("exec: restore: %s", e->msg);
    restore_next(op);
}

/* Whether pid is a live conmon: the pid may have been reused by another program, and a
 * conmon killed while we were away may linger as a zombie until init reaps it. */
static bool conmon_alive(int pid)
{
    char *path = xasprintf("/proc/%d/stat", pid);
    char *d = NULL;
    size_t n;
    bool alive = false;
    if (file_read(path, &d, &n, NULL) == 0) {
        /* "pid (comm) S ...": comm may hold spaces and parens; the state follows the last ')' */
        const char *open = strchr(d, '('), *close = strrchr(d, ')');
        if (open && close && close > open && close[1] == ' ' && !strncmp(open + 1, "conmon", 6) &&
            close - open - 1 == 6)
            alive = close[2] != 'Z' && close[2] != 'X' && close[2] != 'x';
    }
    free(d);
    free(path);
    return alive;
}

static void restore_one(struct restore_op *op, const char *name)
{
    struct exec *x = op->x;
    if (ctr_find(x, name) || !exec_id_valid(name))
        return restore_next(op);
    struct exec_ctr *c = ctr_new(x, name);
    c->on_exit = op->on_exit;
    c->exit_arg = op->exit_arg;
    meta_read(c);
    long long v;
    char *p = xasprintf("%s/started", c->dir);
    if (read_int(p, &v) == 0)
        c->st.started_ns = v;
    free(p);
    p = xasprintf("%s/ctr.pid", c->dir);
    if (read_int(p, &v) == 0)
        c->st.pid = (int)v;
    free(p);
    c->st.status = c->st.started_ns ? EXEC_RUNNING : EXEC_CREATED;

    /* conmon alive? */
    bool alive = false;
    p = xasprintf("%s/conmon.pid", c->dir);
    if (read_int(p, &v) == 0 && v > 0 && v < INT32_MAX && conmon_alive((int)v))
        alive = ctr_watch(c, (int)v) == 0;
    if (alive)
        init_fd_open(c, (int)v);
    free(p);
    ctr_check_exit(c, !alive);
    if (c->st.status == EXEC_EXITED && c->st.exit_code >= 0) {
        restore_report(op, c, EXEC_FOUND_EXITED);
        return restore_next(op);
    }
    if (alive && c->st.status != EXEC_EXITED) {
        if (c->st.status == EXEC_RUNNING)
            health_begin(c); /* as Docker's daemon at restore: starting again */
        restore_report(op, c,
                       c->st.status == EXEC_RUNNING ? EXEC_FOUND_RUNNING : EXEC_FOUND_CREATED);
        return restore_next(op);
    }
    /* No shim and no exit code: kill whatever is left and remove it. */
    log_warn("exec: container %s has no shim and no exit code; removing it", c->id);
    c->st.status = EXEC_EXITED;
    c->st.exit_code = -1;
    restore_report(op, c, EXEC_FOUND_REMOVED);
    c->on_exit = NULL;
    exec_delete(x, c->id, true, restore_removed, op);
}

static void restore_next(struct restore_op *op)
{
    if (op->x->freeing) {
        for (size_t i = 0; i < op->n; i++)
            free(op->names[i]);
        free(op->names);
        free(op);
        return;
    }
    if (op->i < op->n) {
        const char *name = op->names[op->i++];
        restore_one(op, name);
        return;
    }
    for (size_t i = 0; i < op->n; i++)
        free(op->names[i]);
    free(op->names);
    exec_done_cb done = op->done;
    void *arg = op->arg;
    free(op);
    if (done)
        done(arg, 0, NULL);
}

void exec_restore(struct exec *x, exec_found_cb found, exec_exit_cb on_exit, void *exit_arg,
                  exec_done_cb done, void *arg)
{
    struct restore_op *op = xcalloc(1, sizeof(*op));
    op->x = x;
    op->found = found;
    op->on_exit = on_exit;
    op->exit_arg = exit_arg;
    op->done = done;
    op->arg = arg;
    DIR *d = opendir(x->ctr_root);
    if (d) {
        struct dirent *de;
        size_t cap = 0;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            if (op->n == cap) {
                cap = cap ? cap * 2 : 16;
                op->names = xrealloc(op->names, cap * sizeof(char *));
            }
            op->names[op->n++] = xstrdup(de->d_name);
        }
        closedir(d);
    }
    restore_next(op);
}
