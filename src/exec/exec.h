/* exec.h — the executor: real containers through conmon (one shim per container) and an OCI
 * runtime CLI (runc or crun), driven from one libuv loop.
 *
 * The daemon is never a container's parent. Each container has a directory under the state
 * root (<root>/containers/<id>/) holding its bundle (config.json, rootfs mount point, overlay
 * upper/work), meta.json (spec facts kept for inspect and restore), conmon's pid files, its
 * k8s-file log and conmon's persist dir (exit, oom). conmon writes the exit code into
 * <root>/exits/<id>; the executor watches that directory (uv_fs_event) and a pidfd of each
 * conmon (uv_poll) so an exit is seen even if one of the two is missed. Because everything
 * lives in files, a restarted daemon finds its containers again (exec_restore).
 *
 * The daemon must not be a child subreaper (PR_SET_CHILD_SUBREAPER): conmon daemonizes and
 * must be reparented to init, since only libuv's own children are reaped here. conmon is
 * left in the daemon's cgroup; under systemd the unit needs KillMode=process (as containerd's)
 * or a restart kills every shim. conmon inherits the daemon's fds that lack O_CLOEXEC (libuv
 * closes none), so the daemon must not keep any.
 *
 * Threading: every call runs on the loop thread given to exec_new; callbacks run there too.
 * No call blocks the loop for longer than a few syscalls (mount, small file writes); runtime
 * and conmon run as child processes through uv_spawn. */
#ifndef SHOAL_EXEC_H
#define SHOAL_EXEC_H

#include "base/base.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* ---- cgroup mode and runtime choice (pure; exec_cgroup.c) ---- */
enum exec_cgroup_mode {
    EXEC_CG_V1 = 1,          /* legacy: controllers only in v1 hierarchies */
    EXEC_CG_V2,              /* unified: /sys/fs/cgroup is cgroup2 */
    EXEC_CG_HYBRID_EMPTY,    /* v1 + /sys/fs/cgroup/unified with no controllers */
    EXEC_CG_HYBRID_CONTROLS, /* v1 + unified owning controllers (crun refuses this) */
};
enum exec_runtime_kind {
    EXEC_RT_RUNC = 1,
    EXEC_RT_CRUN,         /* crun called directly */
    EXEC_RT_CRUN_WRAPPED, /* crun through the private-mount-namespace wrapper */
};
/* Classifies the host from the statfs magic of /sys/fs/cgroup and /sys/fs/cgroup/unified
 * (0 when that path does not exist) and the text of unified/cgroup.controllers (NULL when it
 * cannot be read). */
enum exec_cgroup_mode exec_cgroup_mode_classify(long root_magic, long unified_magic,
                                                const char *unified_controllers);
/* The "auto" rule: crun where it works directly, else crun through the wrapper (hybrid hosts
 * whose v2 tree owns a controller), else runc.
 * Returns 0 when neither runtime is installed. */
enum exec_runtime_kind exec_runtime_choose(enum exec_cgroup_mode mode, bool have_crun,
                                           bool have_runc);
const char *exec_cgroup_mode_name(enum exec_cgroup_mode m);
const char *exec_runtime_kind_name(enum exec_runtime_kind k);

/* ---- configuration ---- */
struct exec_config {
    const char *root;          /* state root, e.g. DATA_ROOT/exec (created if missing) */
    const char *runtime;       /* "auto" (NULL too), or the path of runc or crun */
    const char *conmon;        /* NULL: "conmon" found in the usual bin dirs */
    const char *cgroup_parent; /* e.g. "/shoal"; containers go to <parent>/<id> (cgroupfs) */
    const char *init_path;     /* static init for spec.init; NULL: /usr/bin/tini-static */
    int64_t log_size_max;      /* bytes per container log; 0: 10 MiB */
    /* runtime calls (conmon's create, start, kill, delete) in flight at once, the rest
     * queued in order; 0: 4 per CPU (at least 4, at most 64) */
    int max_runtime_calls;
};

/* ---- container spec ---- */
struct exec_mount {
    const char *type;   /* "bind" or "tmpfs" */
    const char *source; /* host path (bind) */
    const char *target; /* path in the container */
    bool readonly;
    int64_t tmpfs_size; /* bytes, 0: the kernel's default */
    int tmpfs_mode;     /* 0: not set (the kernel's 1777) */
};

/* A process rlimit, Docker's --ulimit: name is go-units' ("nofile", "nproc", "core"...).
 * The values are Docker's int64s, which dockerd hands to the runtime as uint64: -1 is
 * unlimited (RLIM_INFINITY), and soft <= hard compares them as uint64. */
struct exec_rlimit {
    const char *name;
    int64_t soft, hard;
};

/* Docker's HealthConfig. Durations in ns; 0: Docker's defaults (interval 30 s, timeout 30 s,
 * start period 0, start interval 5 s, retries 3). */
struct exec_healthcheck {
    const char *const *test; /* {"CMD", argv...}, {"CMD-SHELL", "cmd"}, {"NONE"}; NULL: none */
    int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns;
    int retries;
};

/* Arrays of strings are NULL-terminated; every pointer is borrowed for the call only. */
struct exec_spec {
    const char *id;            /* [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127} */
    const char *const *lower;  /* overlay lower dirs, top first; or NULL and rootfs */
    const char *rootfs;        /* plain rootfs dir (used when lower is NULL) */
    const char *const *args;   /* process args (required) */
    const char *const *env;    /* "K=V"; PATH and HOSTNAME added as Docker does */
    const char *workdir;       /* NULL: "/" */
    const char *user;          /* "uid" or "uid:gid", numeric; NULL: 0:0 */
    const char *hostname;      /* NULL: the first 12 characters of the id */
    const char *const *labels; /* "K=V", kept in meta.json */
    int64_t memory;            /* bytes, 0: unlimited */
    int64_t nano_cpus;         /* 1e9 = one CPU, 0: unlimited */
    int64_t cpu_shares;        /* 0: not set */
    int64_t pids_limit;        /* 0: not set */
    bool readonly_rootfs;
    bool init; /* tini as PID 1 (Docker's --init) */
    /* a pseudo-terminal as stdin/stdout/stderr (Docker's -t): conmon's terminal mode,
     * process.terminal, TERM=xterm unless env sets TERM; its output is logged as stdout with
     * the terminal's line ends ("\r\n"); meta.json says "tty": true. No stdin is attached. */
    bool tty;
    const struct exec_mount *mounts;
    size_t n_mounts;
    const char *stop_signal; /* "SIGTERM", "TERM", "15"; NULL: SIGTERM */
    int64_t stop_grace_ns;   /* default for exec_stop with grace < 0; 0: 10 s */
    const char *netns_path;  /* NULL: a new netns with only lo */
    /* Docker's --cap-add / --cap-drop: names with or without CAP_, any case, or "ALL";
     * applied to Docker's 14 default capabilities as moby's TweakCapabilities does. */
    const char *const *cap_add, *const *cap_drop;
    const char *const *sysctls; /* "key=value", namespaced ones only (as runc checks them) */
    const struct exec_rlimit *rlimits;
    size_t n_rlimits;
    const uint32_t *groups; /* additional gids (process.user.additionalGids) */
    size_t n_groups;
    /* probed inside the container once it runs (`<runtime> exec`); NULL: no healthcheck */
    const struct exec_healthcheck *health;
    json_t *extra; /* caller's facts (name, image...) kept in meta.json; may be NULL */
};

/* ---- container state ---- */
enum exec_status { EXEC_CREATED = 1, EXEC_RUNNING, EXEC_EXITED };
struct exec_state {
    enum exec_status status;
    int pid;       /* the container's PID 1 on the host (0 once exited) */
    int exit_code; /* valid when EXITED; -1 when the shim vanished without one */
    bool oom_killed;
    int64_t created_ns, started_ns, finished_ns; /* 0 when not (yet) */
};
const char *exec_status_name(enum exec_status s); /* "created", "running", "exited" */

struct exec;

/* done callback of every asynchronous call: rc 0, or negative with e filled. */
typedef void (*exec_done_cb)(void *arg, int rc, const struct err *e);
/* Called once when a container's process has exited (st->status == EXEC_EXITED). */
typedef void (*exec_exit_cb)(void *arg, const char *id, const struct exec_state *st);

/* Probes the host (cgroup mode, runtime, conmon), creates the state root and starts watching
 * its exit dir. Logs the runtime it chose and why. Returns NULL with e filled on error. */
struct exec *exec_new(uv_loop_t *loop, const struct exec_config *cfg, struct err *e);
/* Drops the executor WITHOUT touching the containers (they keep running under conmon, as in
 * a daemon restart). Pending calls are abandoned without their callbacks. Handles close
 * asynchronously: run the loop afterwards until it has no more active handles. NULL: no-op. */
void exec_free(struct exec *x);
/* The runtime in use (path) and its kind. */
const char *exec_runtime_path(const struct exec *x);
enum exec_runtime_kind exec_runtime_kind(const struct exec *x);

/* Builds the bundle (dirs, overlay mount, config.json), starts conmon and waits for the
 * runtime's create through conmon's sync pipe. On success the container is CREATED and
 * on_exit will be called when it exits. ERR_CONFLICT if the id exists. */
void exec_create(struct exec *x, const struct exec_spec *spec, exec_exit_cb on_exit, void *exit_arg,
                 exec_done_cb done, void *arg);
/* `runtime start`; the container becomes RUNNING. */
void exec_start(struct exec *x, const char *id, exec_done_cb done, void *arg);
/* Sends the stop signal, waits up to grace_ns (< 0: the spec's grace) for the exit, then
 * SIGKILL; done once the container has exited (ERR_INTERNAL if it survives SIGKILL for 30 s).
 * Stopping a container that is not running (created or exited) is a no-op, as in Docker. */
void exec_stop(struct exec *x, const char *id, int64_t grace_ns, exec_done_cb done, void *arg);
/* `runtime kill <sig>`; done when the runtime has delivered it. ERR_CONFLICT ("Container %s
 * is not running") unless RUNNING. */
void exec_kill(struct exec *x, const char *id, int sig, exec_done_cb done, void *arg);
/* Removes the container: `runtime delete --force` (force kills a running one; without force
 * a running container is ERR_CONFLICT), waits for conmon, unmounts the rootfs, removes the
 * state dir. The runtime removes the container's cgroups. */
void exec_delete(struct exec *x, const char *id, bool force, exec_done_cb done, void *arg);
/* Current state (from memory, kept in step with the files). ERR_NOT_FOUND if unknown. */
int exec_state_get(struct exec *x, const char *id, struct exec_state *st, struct err *e);
/* What was kept of the spec in meta.json, for inspect and after a restore: {"id", "created"
 * (ns), "labels": {k: v}, "stop_signal", "stop_grace_ns", "overlay", "tty", "extra" (spec.extra,
 * when it was set)}. New reference in *out;
 * ERR_NOT_FOUND if the container is unknown. */
int exec_meta_get(struct exec *x, const char *id, json_t **out, struct err *e);
/* The IDs of the containers this exec knows (created or restored, not being deleted), oldest
 * first: a new NULL-terminated array (free each and the array). */
char **exec_list(struct exec *x);
/* Paths inside the container's state dir (heap strings). */
char *exec_log_path(const struct exec *x, const char *id);
char *exec_dir_path(const struct exec *x, const char *id);
/* The container's root file system as the host sees it (the overlay of its image, mounted
 * from create to delete): the image's content, without the container's own mounts. */
char *exec_rootfs_path(const struct exec *x, const char *id);

/* ---- healthchecks ---- */
enum exec_health_status {
    EXEC_HEALTH_NONE = 0, /* no healthcheck */
    EXEC_HEALTH_STARTING,
    EXEC_HEALTH_HEALTHY,
    EXEC_HEALTH_UNHEALTHY,
};
const char *exec_health_status_name(enum exec_health_status s); /* "starting", ... "none" */
/* Called on every change of a container's health status (starting → healthy, healthy →
 * unhealthy, ...), on the loop. One listener per exec; NULL removes it. */
typedef void (*exec_health_cb)(void *arg, const char *id, enum exec_health_status st);
void exec_set_health_cb(struct exec *x, exec_health_cb cb, void *arg);
/* The container's health status (EXEC_HEALTH_NONE without a healthcheck or unknown id). */
enum exec_health_status exec_health_status(struct exec *x, const char *id);
/* Docker's State.Health ({"Status", "FailingStreak", "Log": the last 5 results}): a new
 * reference, or NULL when the container has no healthcheck. */
json_t *exec_health_get(struct exec *x, const char *id);

/* The pure part (exec_health.c): the probe's command and Docker's status rules, time
 * always an argument. */
#define EXEC_HEALTH_DEFAULT_INTERVAL_NS (30LL * 1000000000)
#define EXEC_HEALTH_DEFAULT_TIMEOUT_NS (30LL * 1000000000)
#define EXEC_HEALTH_DEFAULT_START_INTERVAL_NS (5LL * 1000000000)
#define EXEC_HEALTH_DEFAULT_RETRIES 3
#define EXEC_HEALTH_LOG_MAX 5       /* results kept, oldest first */
#define EXEC_HEALTH_OUTPUT_MAX 4096 /* bytes of output kept per result, then "..." */
struct exec_health_result {
    int64_t start_ns, end_ns;
    int exit_code; /* -1: timed out or could not run */
    char *output;  /* stdout and stderr together, valid UTF-8 */
};
struct exec_health {
    char **argv; /* the probe: CMD's args, or /bin/sh -c <CMD-SHELL> */
    int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns; /* defaults applied */
    int retries;
    int64_t started_ns; /* the container's start */
    enum exec_health_status status;
    int failing_streak;
    struct exec_health_result log[EXEC_HEALTH_LOG_MAX];
    size_t n_log;
};
/* Sets h up for a container started at started_ns (status starting). Returns 0; 1 when c
 * has no healthcheck (NULL, no Test, "NONE": h is empty); -ERR_INVALID with Docker's words
 * for a duration under 1 ms, negative retries or an unknown Test type. */
int exec_health_init(struct exec_health *h, const struct exec_healthcheck *c, int64_t started_ns,
                     struct err *e);
void exec_health_release(struct exec_health *h);
/* How long from now_ns to wait before the next probe (called at the start and when a probe
 * has ended): the interval; the start interval while starting within the start period. */
int64_t exec_health_delay(const struct exec_health *h, int64_t now_ns);
/* Records one probe's result (output: len bytes, cut to EXEC_HEALTH_OUTPUT_MAX + "..."). Returns
 * true when the status changed. */
bool exec_health_record(struct exec_health *h, int64_t start_ns, int64_t end_ns, int exit_code,
                        const char *out, size_t len);
json_t *exec_health_json(const struct exec_health *h);
/* Go's time.Duration.String ("200ms", "1.5s", "1m30s") for Docker's messages. */
void exec_duration_text(int64_t ns, char *out, size_t cap);

/* ---- live restore ---- */
enum exec_found {
    EXEC_FOUND_RUNNING = 1, /* conmon alive: watched again, on_exit will follow */
    EXEC_FOUND_CREATED,     /* conmon alive, never started: watched again */
    EXEC_FOUND_EXITED,      /* the exit file tells the code; still on disk until delete */
    EXEC_FOUND_REMOVED,     /* no shim and no exit code: killed and deleted */
};
typedef void (*exec_found_cb)(void *arg, const char *id, enum exec_found what,
                              const struct exec_state *st);
/* Scans <root>/containers once: found is called per container, then done. Containers already
 * known to this exec are skipped. on_exit/exit_arg are registered for the watched ones. */
void exec_restore(struct exec *x, exec_found_cb found, exec_exit_cb on_exit, void *exit_arg,
                  exec_done_cb done, void *arg);

/* ---- logs: k8s-file → Docker's stdcopy stream (exec_logs.c) ---- */
struct exec_log_opts {
    bool want_stdout, want_stderr;
    int64_t since_ns; /* keep messages at or after it; 0: from the start */
    int64_t until_ns; /* keep messages at or before it; 0: no end */
    long tail;        /* last N messages (counted before the filters, as Docker); < 0: all */
    bool timestamps;  /* prefix "2006-01-02T15:04:05.000000000Z " as docker logs -t */
    bool once;        /* exec_logs_follow: end after what is there now (no following) */
    bool raw;         /* payloads without the 8-byte stdcopy headers (a TTY's stream) */
};
/* Converts the k8s-file text data[0..len) to stdcopy frames appended to out: one frame per
 * message ([stream 1|2, 0, 0, 0, big-endian u32 length] + payload; the payload alone with
 * o->raw); a run of partial (P)
 * lines is joined with the full (F) line that ends it into one message with the first
 * chunk's time. Stops before an incomplete trailing line and, unless final, before a
 * trailing run of P lines; *consumed says how far it read (continue from there). Lines that
 * do not parse are skipped. Returns the number of frames written. */
size_t exec_logs_convert(const char *data, size_t len, const struct exec_log_opts *o, bool final,
                         struct buf *out, size_t *consumed);
/* Formats ns as "2006-01-02T15:04:05.000000000Z" (UTC, always 9 digits). */
void exec_logs_time_fixed(int64_t ns, char out[40]);

/* Follows a container's log for `logs -f`: the existing content (with o->tail) first, then
 * new lines as they are written (a 100 ms timer; conmon's in-place truncation restarts from
 * the start); ends after the container has exited and the rest is read. data is called with
 * a chunk of frames; end with 0 or an error. The follower is freed after end; _stop ends it
 * early (no end callback). */
struct exec_logs_follower;
typedef void (*exec_logs_data_cb)(void *arg, const char *frames, size_t len);
struct exec_logs_follower *exec_logs_follow(struct exec *x, const char *id,
                                            const struct exec_log_opts *o, exec_logs_data_cb data,
                                            exec_done_cb end, void *arg, struct err *e);
void exec_logs_follow_stop(struct exec_logs_follower *f);

/* ---- config.json (pure; exec_oci.c) ---- */
struct exec_oci_opts {
    const char *rootfs_path;   /* bundle-relative or absolute path of the rootfs */
    const char *cgroup_parent; /* "/shoal" */
    const char *init_path;     /* host path of the static init (for spec->init) */
    bool swap_accounting;      /* memory.memsw exists: set swap = 2 x memory, as Docker */
    int cap_last;              /* /proc/sys/kernel/cap_last_cap ("ALL" stops there); 0: 40 */
};
/* Builds the OCI runtime config for spec. Returns 0 and a new JSON object in *out, or
 * -ERR_INVALID (bad user, signal, mount...) with e filled. process.rlimits hold the int64
 * values as they are (-1: unlimited); exec_oci_dumps writes them as the uint64s the
 * runtimes read. */
int exec_oci_config(const struct exec_spec *spec, const struct exec_oci_opts *o, json_t **out,
                    struct err *e);
/* config.json's text for cfg (from exec_oci_config): jansson's indented dump, with the
 * numbers of process.rlimits written as uint64 (-1 → 18446744073709551615), since jansson
 * holds only int64 and runc reads them as uint64. A new heap string. */
char *exec_oci_dumps(const json_t *cfg);
/* Parses "SIGTERM" / "TERM" / "15"; returns the number or -1. */
int exec_signal_parse(const char *s);

/* The crun wrapper's entry: when a process linked with this module is started under the name
 * EXEC_CRUN_WRAPPER_NAME (a symlink to itself in the state root), it enters a private mount
 * namespace, detaches /sys/fs/cgroup/unified and execs crun ($SHOAL_EXEC_CRUN or
 * /usr/bin/crun) with the same arguments. */
#define EXEC_CRUN_WRAPPER_NAME "shoal-crun-hybrid"

#endif
