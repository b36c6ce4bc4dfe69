/* exec_proc.c — the executor's child processes: runtime calls (conmon creating a
 * container, start, kill, delete) and healthcheck probes through posix_spawn, their stderr (or
 * conmon's sync pipe) collected for the answer, and the runtime-call queue: at most gate_max
 * in flight, the rest waiting in order with copies of their arguments (a burst of hundreds
 * would otherwise leave the loop thread one runnable task among hundreds). Probes are not
 * queued (their timeouts are their own). Thread: the loop thread. */
#include "exec/exec_int.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#define PROC_P_PIDFD 3 /* waitid's P_PIDFD (Linux 5.4), absent from older headers */

static void gate_pump(struct exec *x);

static void proc_maybe_done(struct exec_proc *p)
{
    if (p->done || !p->exited || !p->eof)
        return;
    p->done = true;
    struct exec *x = p->x;
    bool was_gated = p->gated;
    if (p->gated) {
        p->gated = false;
        x->gate_busy--;
    }
    if (!p->abandoned && !x->freeing) {
        p->called = true;
        p->cb(p);
    }
    /* after the callback: what it queued waits behind what was queued before */
    if (was_gated)
        gate_pump(x);
}

static void proc_closed(uv_handle_t *h)
{
    struct exec_proc *p = h->data;
    if (--p->open_handles > 0)
        return;
    struct exec *x = p->x;
    for (struct exec_proc **pp = &x->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (p->pidfd >= 0) {
        if (!p->exited) { /* abandoned: reap it if it is already gone */
            siginfo_t si = {0};
            waitid((idtype_t)PROC_P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG);
        }
        close(p->pidfd);
    }
    if (p->owns_arg && !p->called)
        free(p->arg);
    buf_release(&p->outb);
    free(p->id);
    free(p);
    exec_maybe_free(x);
}

static void proc_close_handles(struct exec_proc *p)
{
    if (p->pidfd >= 0 && !uv_is_closing((uv_handle_t *)&p->exit_poll))
        uv_close((uv_handle_t *)&p->exit_poll, proc_closed);
    if (!uv_is_closing((uv_handle_t *)&p->out))
        uv_close((uv_handle_t *)&p->out, proc_closed);
}

void exec_proc_finish(struct exec_proc *p)
{
    proc_maybe_done(p);
    if (p->done)
        proc_close_handles(p);
}

void exec_proc_kill(struct exec_proc *p, int sig)
{
    if (!p->exited && p->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
}

/* The pidfd is readable once the child has exited: reap it (waitid on the pidfd, so no other
 * child of the daemon is touched) and record how it ended. */
static void proc_exit_poll(uv_poll_t *h, int status, int events)
{
    struct exec_proc *p = h->data;
    (void)events;
    siginfo_t si = {0};
    if (status == 0 &&
        (waitid((idtype_t)PROC_P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0 ||
         si.si_pid == 0))
        return; /* not yet (a spurious wake-up) */
    uv_poll_stop(h);
    p->exited = true;
    if (status < 0) {
        p->status = -1;
    } else if (si.si_code == CLD_EXITED) {
        p->status = si.si_status;
    } else {
        p->status = 0;
        p->term_sig = si.si_status;
    }
    exec_proc_finish(p);
}

static void proc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char slab[65536];
    (void)h;
    (void)hint;
    b->base = slab;
    b->len = sizeof(slab);
}

static void proc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct exec_proc *p = s->data;
    if (n > 0) {
        if (p->outb.len < 65536)
            buf_add(&p->outb, b->base, (size_t)n);
        if (!p->is_sync)
            return;
        /* conmon may keep its end of the sync pipe open: one whole JSON object is enough. */
        json_t *j = json_loadb(p->outb.p, p->outb.len, JSON_DISABLE_EOF_CHECK, NULL);
        if (!j)
            return;
        json_decref(j);
        n = UV_EOF;
    }
    if (n < 0) {
        uv_read_stop(s);
        p->eof = true;
        exec_proc_finish(p);
    }
}

/* fd moved to 10 or above (close-on-exec) when it is one of the child's target numbers
 * 0..ntarget-1, so one dup2 cannot clobber the source of another; *moved gets the copy. */
static int fd_above(int fd, int ntarget, int *moved)
{
    if (fd < 0 || fd >= ntarget)
        return fd;
    *moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    return *moved;
}

/* Spawns argv with env for p (already allocated: x, cb, arg, is_sync set); out_fd_child is the
 * fd number the child sees our pipe as (1: its stdout and stderr both, a probe's output; 2:
 * its stderr; 3: conmon's sync pipe), stdout_fd an fd it gets as stdout (and as stderr when
 * out_fd_child is 3), the other low fds /dev/null. Returns 0, or -1 with e filled and p's
 * handles closing (p->done set: its callback will not run by itself).
 *
 * Through posix_spawn, not uv_spawn: libuv 1.44 (Debian 12) forks, copying the daemon's page
 * tables for every runtime call only for the child to drop them at exec; glibc's posix_spawn
 * shares the parent's memory until the exec (CLONE_VM | CLONE_VFORK). The exit is watched
 * through a pidfd, and the child reaped by waitid on it (libuv only ever waits for its own
 * children's PIDs, so the two never take each other's). Signals are reset to their defaults
 * and unblocked in the child, as uv_spawn does. */
static int proc_launch(struct exec_proc *p, char **argv, char **env, int out_fd_child,
                       int stdout_fd, const char *cwd, struct err *e)
{
    struct exec *x = p->x;
    uv_pipe_init(x->loop, &p->out, 0);
    p->out.data = p;
    p->exit_poll.data = p;
    p->pidfd = -1;
    p->next = x->procs;
    x->procs = p;
    p->open_handles = 1;
    int ntarget = out_fd_child + 1 > 3 ? out_fd_child + 1 : 3;
    int pfd[2] = {-1, -1}, moved_out = -1, moved_pipe = -1, pidfd = -1;
    int r = uv_pipe(pfd, 0, 0); /* close-on-exec: only the child's dup2 copy survives */
    if (r < 0) {
        err_set(e, ERR_INTERNAL, "pipe: %s", uv_strerror(r));
        goto fail;
    }
    int src_out = fd_above(stdout_fd, ntarget, &moved_out);
    int src_pipe = fd_above(pfd[1], ntarget, &moved_pipe);
    int target[4] = {-1, src_out, -1, -1};
    if (out_fd_child == 1)
        target[1] = target[2] = src_pipe;
    else if (out_fd_child == 2)
        target[2] = src_pipe;
    else {
        target[2] = src_out;
        target[3] = src_pipe;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    for (int i = 0; i < ntarget; i++) {
        if (target[i] >= 0)
            posix_spawn_file_actions_adddup2(&fa, target[i], i);
        else
            posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
    }
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    sigset_t def, none;
    sigfillset(&def);
    sigdelset(&def, SIGKILL);
    sigdelset(&def, SIGSTOP);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    r = posix_spawnp(&pid, argv[0], &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (moved_out >= 0)
        close(moved_out);
    if (moved_pipe >= 0)
        close(moved_pipe);
    close(pfd[1]);
    pfd[1] = -1;
    if (r != 0) {
        err_set(e, ERR_INTERNAL, "spawn %s: %s", argv[0], strerror(r));
        goto fail;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int err = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        err_set(e, ERR_INTERNAL, "pidfd_open %s: %s", argv[0], strerror(err));
        goto fail;
    }
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    p->pid = pid;
    p->pidfd = pidfd;
    uv_pipe_open(&p->out, pfd[0]);
    uv_poll_init(x->loop, &p->exit_poll, pidfd);
    uv_poll_start(&p->exit_poll, UV_READABLE, proc_exit_poll);
    p->open_handles = 2;
    uv_read_start((uv_stream_t *)&p->out, proc_alloc, proc_read);
    return 0;
fail:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    p->done = true;
    uv_close((uv_handle_t *)&p->out, proc_closed);
    return -1;
}

static void spawn_req_free(struct spawn_req *q)
{
    if (!q)
        return;
    strv_free(q->argv);
    strv_free(q->env);
    free(q->cwd);
    if (q->stdout_fd >= 0)
        close(q->stdout_fd);
    free(q);
}

/* A queued call that could not be spawned: its callback sees a failed process whose output
 * is the reason (a JSON message for conmon's sync pipe, as conmon itself would write). */
static void proc_launch_failed(struct exec_proc *p, const struct err *e)
{
    buf_release(&p->outb);
    buf_init(&p->outb);
    if (p->is_sync) {
        json_t *j = json_pack("{s:i, s:s}", "data", -1, "message", e->msg);
        char *txt = json_dumps(j, JSON_COMPACT);
        buf_add(&p->outb, txt, strlen(txt));
        free(txt);
        json_decref(j);
    } else {
        buf_add(&p->outb, e->msg, strlen(e->msg));
    }
    p->status = -1;
    if (!p->abandoned && !p->x->freeing) {
        p->called = true;
        p->cb(p);
    }
}

static void gate_pump(struct exec *x)
{
    while (!x->freeing && x->gate_head && x->gate_busy < x->gate_max) {
        struct exec_proc *p = x->gate_head;
        x->gate_head = p->gate_next;
        if (!x->gate_head)
            x->gate_tail = NULL;
        p->gate_next = NULL;
        struct spawn_req *q = p->req;
        p->req = NULL;
        struct err e = {0};
        if (proc_launch(p, q->argv, q->env, q->out_fd_child, q->stdout_fd, q->cwd, &e) < 0) {
            proc_launch_failed(p, &e);
        } else {
            p->gated = true;
            x->gate_busy++;
        }
        spawn_req_free(q);
    }
}

/* Spawns argv with env (see proc_launch for out_fd_child and stdout_fd). A gated call (a
 * runtime call) runs at once when a slot is free and nothing waits, else it waits in order
 * for a slot with copies of its arguments (the caller may free or close its own). Returns
 * the proc, or NULL with e filled when it could not be spawned at once. */
struct exec_proc *exec_proc_spawn(struct exec *x, char **argv, char **env, int out_fd_child,
                                  int stdout_fd, const char *cwd, bool gated, proc_cb cb, void *arg,
                                  struct err *e)
{
    struct exec_proc *p = xcalloc(1, sizeof(*p));
    p->x = x;
    p->pidfd = -1;
    p->cb = cb;
    p->arg = arg;
    p->is_sync = out_fd_child == 3;
    buf_init(&p->outb);
    if (gated && (x->gate_head || x->gate_busy >= x->gate_max)) {
        struct spawn_req *q = xcalloc(1, sizeof(*q));
        q->argv = strv_dup(argv);
        q->env = strv_dup(env);
        q->cwd = cwd ? xstrdup(cwd) : NULL;
        q->out_fd_child = out_fd_child;
        q->stdout_fd = stdout_fd >= 0 ? fcntl(stdout_fd, F_DUPFD_CLOEXEC, 3) : -1;
        p->req = q;
        if (x->gate_tail)
            x->gate_tail->gate_next = p;
        else
            x->gate_head = p;
        x->gate_tail = p;
        return p;
    }
    if (proc_launch(p, argv, env, out_fd_child, stdout_fd, cwd, e) < 0)
        return NULL;
    if (gated) {
        p->gated = true;
        x->gate_busy++;
    }
    return p;
}

/* Runs `<runtime> --root <rt_root> <sub> [a1] [a2] <id>` (NULL args skipped).
 * With the hybrid wrapper, only the calls that touch cgroups (create, through conmon, and
 * delete) need crun's legacy view; start (a write to the container's exec fifo) and kill of
 * its process (no --all) never look at cgroups, so they run crun itself: measured here,
 * 2.4 ms of CPU per call instead of 4.4 ms through the wrapper (an exec of this binary with
 * its libraries plus a mount namespace copy). */
struct exec_proc *exec_runtime_call(struct exec *x, const char *sub, const char *a1, const char *a2,
                                    const char *id, proc_cb cb, void *arg, struct err *e)
{
    char *argv[8];
    int n = 0;
    bool direct = x->kind == EXEC_RT_CRUN_WRAPPED && x->crun_real &&
                  (!strcmp(sub, "start") || !strcmp(sub, "kill"));
    argv[n++] = direct ? x->crun_real : x->runtime;
    argv[n++] = "--root";
    argv[n++] = x->rt_root;
    argv[n++] = (char *)sub;
    if (a1)
        argv[n++] = (char *)a1;
    if (id)
        argv[n++] = (char *)id;
    if (a2)
        argv[n++] = (char *)a2;
    argv[n] = NULL;
    char *env[] = {CTR_PATH_ENV, x->env_crun, NULL};
    struct exec_proc *p = exec_proc_spawn(x, argv, env, 2, -1, x->root, true, cb, arg, e);
    if (p)
        p->id = xstrdup(id);
    return p;
}

/* runc logs in logfmt (time="..." level=error msg="..."): returns the msg value unquoted
 * (heap), or a copy of the line when it is not logfmt. */
char *exec_runtime_msg(const char *line)
{
    const char *m = strstr(line, "msg=\"");
    if (!m)
        return xstrdup(line);
    struct buf b = BUF_INIT;
    for (const char *p = m + 5; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            buf_add(&b, *p == 'n' ? "\n" : p, 1);
            continue;
        }
        buf_add(&b, p, 1);
    }
    buf_add(&b, "", 0);
    return buf_detach(&b, NULL);
}

/* The runtime's message from a failed call (its last stderr line, JSON log lines of runc
 * decoded), into e. */
int exec_proc_err(struct exec_proc *p, const char *what, struct err *e)
{
    char *s = p->outb.p ? p->outb.p : "";
    size_t n = p->outb.len;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = 0;
    char *last = strrchr(s, '\n');
    last = last ? last + 1 : s;
    json_t *j = json_loads(last, 0, NULL);
    const char *jmsg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
    char *msg = exec_runtime_msg(jmsg ? jmsg : last);
    if (p->term_sig)
        err_set(e, ERR_INTERNAL, "OCI runtime %s failed: runtime killed by signal %d", what,
                p->term_sig);
    else
        err_set(e, ERR_INTERNAL, "OCI runtime %s failed: %s", what, *msg ? msg : "unknown");
    free(msg);
    json_decref(j);
    return -ERR_INTERNAL;
}

bool exec_proc_ok(const struct exec_proc *p)
{
    return p->status == 0 && p->term_sig == 0;
}

void exec_procs_abandon(struct exec *x)
{
    while (x->gate_head) {
        struct exec_proc *p = x->gate_head;
        x->gate_head = p->gate_next;
        spawn_req_free(p->req);
        if (p->owns_arg)
            free(p->arg);
        buf_release(&p->outb);
        free(p->id);
        free(p);
    }
    x->gate_tail = NULL;
    for (struct exec_proc *p = x->procs; p; p = p->next) {
        p->abandoned = true;
        proc_close_handles(p);
    }
}
