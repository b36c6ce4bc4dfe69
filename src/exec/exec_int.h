/* exec_int.h — private to src/exec: the executor's structures shared by its files.
 *
 * Ownership: struct exec owns its containers (a list); a container embeds libuv handles
 * (pidfd poll, stop timer) and is freed only after their close callbacks ran. All on the
 * loop thread. */
#ifndef SHOAL_EXEC_INT_H
#define SHOAL_EXEC_INT_H

#include "exec/exec.h"

struct exec_ctr;

#include <uv.h>

#define CTR_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct exec_logs_follower;

struct exec_proc;
typedef void (*proc_cb)(struct exec_proc *p);

struct exec_proc {
    struct exec *x;
    struct exec_proc *next;
    uv_poll_t exit_poll; /* on pidfd: readable once the child exited */
    int pidfd;           /* -1 until spawned */
    pid_t pid;
    uv_pipe_t out; /* stderr of a runtime call, or conmon's sync pipe */
    struct buf outb;
    int open_handles;
    bool exited, eof, done, abandoned, is_sync;
    bool called;   /* cb ran */
    bool owns_arg; /* arg is a plain heap op: freed here if cb never runs (exec_free) */
    int64_t status;
    int term_sig;
    proc_cb cb;
    void *arg;
    char *id;                    /* container id (copy) */
    bool gated;                  /* holds one of x's runtime slots while it runs */
    struct spawn_req *req;       /* while it waits for a slot (not yet spawned) */
    struct exec_proc *gate_next; /* in x's wait queue */
};

/* What a queued runtime call will spawn (owned copies; stdout_fd a dup, or -1). */
struct spawn_req {
    char **argv, **env;
    char *cwd;
    int out_fd_child, stdout_fd;
};

struct exec {
    uv_loop_t *loop;
    char *root, *ctr_root, *exit_dir, *rt_root;
    char *runtime, *crun_real, *conmon, *cgroup_parent, *init_path;
    char *runtime_bin; /* the runtime as installed (what exec_runtime_path reports) */
    int pin_fd;        /* its sealed memfd copy that runs are made from, or -1 */
    char *env_crun;    /* SHOAL_EXEC_CRUN=<crun> for the hybrid wrapper */
    enum exec_runtime_kind kind;
    int64_t log_size_max;
    bool swap_acct;
    int cap_last; /* /proc/sys/kernel/cap_last_cap, 0 when unknown */
    uv_fs_event_t exits_watch;
    struct exec_ctr *ctrs;
    struct exec_proc *procs;
    /* Runtime calls (conmon creating a container, start, kill, delete) in flight at most
     * gate_max at once, the rest queued in order: a burst (300 tasks removed at once) would
     * otherwise make hundreds of runtime processes runnable together, and the loop thread,
     * one runnable task among them, would be starved of CPU for seconds. */
    int gate_busy, gate_max;
    struct exec_proc *gate_head, *gate_tail;
    exec_health_cb health_cb;
    void *health_arg;
    struct exec_logs_follower **followers; /* live followers (exec_logs.c) */
    size_t n_followers;
    bool freeing;
    int open_handles;
};

/* ---- the runtime binary pinned in a sealed memfd (exec_pin.c) ---- */
/* Copies bin into a sealed close-on-exec memfd; returns its fd and sets *path to the
 * /proc/<pid>/fd/<n> to run it by (heap), or returns -1 with *path NULL and a warning logged
 * (then the runtime runs as installed). */
int exec_pin_runtime(const char *bin, char **path);

/* Frees x once it is being freed and nothing of it is open any more (exec_core.c). */
void exec_maybe_free(struct exec *x);

/* ---- processes (exec_proc.c) ---- */
/* Spawns argv with env; out_fd_child is the fd number the child sees our pipe as (1: its
 * stdout and stderr both, a probe's output; 2: its stderr; 3: conmon's sync pipe), stdout_fd
 * an fd it inherits as stdout (-1: none). A gated call (a runtime call) runs at once when a
 * slot is free and nothing waits, else it waits in order for a slot with copies of its
 * arguments (the caller may free or close its own). cb runs once the process exited and its
 * pipe reached EOF (never inside this call). Returns the proc, or NULL with e filled when it
 * could not be spawned at once. */
struct exec_proc *exec_proc_spawn(struct exec *x, char **argv, char **env, int out_fd_child,
                                  int stdout_fd, const char *cwd, bool gated, proc_cb cb, void *arg,
                                  struct err *e);
/* Sends sig to p's process while it has not exited. */
void exec_proc_kill(struct exec_proc *p, int sig);
/* Runs `<runtime> --root <rt_root> <sub> [a1] <id> [a2]` (NULL args skipped), gated. */
struct exec_proc *exec_runtime_call(struct exec *x, const char *sub, const char *a1, const char *a2,
                                    const char *id, proc_cb cb, void *arg, struct err *e);
/* runc's logfmt msg="..." unquoted, or a copy of the line (heap). */
char *exec_runtime_msg(const char *line);
/* The runtime's message from a failed call into e ("OCI runtime <what> failed: ..."). */
int exec_proc_err(struct exec_proc *p, const char *what, struct err *e);
bool exec_proc_ok(const struct exec_proc *p);
/* Runs the callback if the process exited and its pipe is done, then closes its handles
 * (a probe that timed out marks both and calls this). */
void exec_proc_finish(struct exec_proc *p);
/* exec_free's part: queued calls freed (their owned args too), running ones abandoned (their
 * callbacks never run) and their handles closed. */
void exec_procs_abandon(struct exec *x);

/* [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127} */
bool exec_id_valid(const char *id);

/* Parses one k8s-file line "<RFC3339Nano> <stdout|stderr> <P|F> <text>" (no newline in
 * line[0..n)); returns 0 and fills the fields, or -1. */
int exec_logs_parse_line(const char *line, size_t n, int64_t *ts, int *stream, bool *partial,
                         const char **text, size_t *text_len);

/* For exec_logs.c's follower: whether the container has exited (or is gone). */
bool exec_ctr_exited(struct exec *x, const char *id);
uv_loop_t *exec_loop(struct exec *x);
/* Followers are registered with their executor, which stops them in exec_free and is freed
 * only after their timers have closed (exec_follower_closed). */
void exec_follower_add(struct exec *x, struct exec_logs_follower *f);
void exec_follower_remove(struct exec *x, struct exec_logs_follower *f);
void exec_follower_closed(struct exec *x);

#endif
