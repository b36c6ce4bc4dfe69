/* agent.h — the worker side of a task: the state machine that drives a task assigned to
 * this node through Docker's states, as swarmkit's agent does. (The session with the
 * managers and the executor glue come on top of it.)
 *
 * ASSIGNED → ACCEPTED "accepted" → PREPARING "preparing" → (prepare) READY "prepared" →
 * STARTING "starting" → (start) RUNNING "started" → (exit 0) COMPLETE "finished" |
 * (exit n) FAILED "task: non-zero exit (n)"; a failed prepare is REJECTED, a failed start
 * FAILED, both with the executor's error in Err; desired SHUTDOWN (or beyond) stops the
 * task: (shutdown) SHUTDOWN "shutdown". A task never goes beyond its desired state (a task
 * desired READY waits there) and its observed state never goes backwards.
 *
 * Pure logic: agent_task_step says what to do next (a transition to report, or an executor
 * operation to run); the caller runs the operation asynchronously and hands its outcome to
 * agent_task_result. No I/O, no clock; one thread. */
#ifndef SHOAL_AGENT_H
#define SHOAL_AGENT_H

#include "base/base.h"
#include "manager/orchestrator/orch.h"
#include "net/net.h"

enum agent_op {
    AGENT_OP_NONE = 0,
    AGENT_OP_PREPARE,  /* image, rootfs, bundle, container created */
    AGENT_OP_START,    /* the container starts */
    AGENT_OP_WAIT,     /* nothing to run: the container's exit is awaited (agent_task_exited) */
    AGENT_OP_SHUTDOWN, /* stop within the grace period */
};

struct agent_task {
    enum task_state state;
    char message[64];
    char err[256];
    int exit_code;
    bool op_running; /* an operation handed out by agent_task_step has not finished */
    enum agent_op op;
    bool exit_early; /* the container exited before its start was confirmed: */
    int early_code;  /* applied once it is RUNNING */
};

/* Initialises a task the dispatcher just assigned. */
void agent_task_init(struct agent_task *t);

/* One step towards `desired`. Returns true if t->state / message / err changed (report it);
 * *op is the executor operation to start now (AGENT_OP_NONE if none). Call again after every
 * change until it returns false with no operation. */
bool agent_task_step(struct agent_task *t, enum task_state desired, enum agent_op *op);

/* The outcome of the operation agent_task_step handed out: rc 0, or < 0 with err (the
 * executor's words). */
void agent_task_result(struct agent_task *t, enum agent_op op, int rc, const char *err);

/* The container exited with this code: while RUNNING; while STARTING (a container that ends
 * before its start is confirmed) it is kept and applied at RUNNING; ignored otherwise. cause
 * (may be NULL) is why the executor ended it, e.g. "dockerexec: unhealthy container": a
 * failure reads "task: non-zero exit (137): dockerexec: unhealthy container", as moby's. */
void agent_task_exited(struct agent_task *t, int exit_code, const char *cause);

/* ---- the executor interface: what the agent's session asks of the node's containers ----
 * The session drives each assigned task with agent_task_step and hands the operations to
 * these calls; the real implementation runs containers with src/exec and the local image
 * store (agent_exec.c), tests use a fake. Every callback runs later on the loop, never
 * inside the call. Containers are keyed by task ID; err is Docker's words. */
#include <jansson.h>
#include <uv.h>

typedef void (*agent_done_cb)(void *arg, int rc, const char *err);
/* cause: NULL for a plain exit, or why the executor stopped the container (agent_task_exited) */
typedef void (*agent_exit_cb)(void *arg, const char *task_id, int exit_code, const char *cause);

/* What Status.ContainerStatus and Status.PortStatus report. */
struct agent_ctr {
    char id[65]; /* the container ID (64 hex) */
    int pid;     /* 0 unless running */
    int exit_code;
    const struct net_port *ports; /* host-mode published ports, a picked port as picked */
    size_t nports;                /* (borrowed until the next call into the executor) */
};

struct agent_exec_ops {
    /* Resolves the task's image in the local store (missing: rc < 0, "No such image:
     * busybox:latest") and creates its container, not started: name
     * <service>.<slot>.<task id> (global: <service>.<node id>.<task id>), the labels
     * com.docker.swarm.* that Docker sets. task is the task object (borrowed for the call).
     * on_exit is called once when the container's process exits. */
    void (*prepare)(void *ctx, json_t *task, const char *service_name, agent_exit_cb on_exit,
                    void *exit_arg, agent_done_cb done, void *arg);
    /* Starts the container. With a healthcheck, done comes once it is healthy (as moby's
     * controller: the task stays STARTING until then); if it exits first, done has rc < 0
     * and "task: non-zero exit (n)" (rc 0 for a clean exit). A container that turns
     * unhealthy is stopped and on_exit carries the cause "dockerexec: unhealthy container". */
    void (*start)(void *ctx, const char *task_id, agent_done_cb done, void *arg);
    /* Stops within grace_ns (< 0: the task's StopGracePeriod, else 10 s); no-op unless running. */
    void (*stop)(void *ctx, const char *task_id, int64_t grace_ns, agent_done_cb done, void *arg);
    /* Removes the container (killing it if it still runs). */
    void (*remove)(void *ctx, const char *task_id, agent_done_cb done, void *arg);
    /* 0 and *out, or -ERR_NOT_FOUND when the task has no container. */
    int (*status)(void *ctx, const char *task_id, struct agent_ctr *out);
    /* At the agent's start: found() for every task container on disk (running ones get
     * on_exit registered, so a daemon restart re-attaches to them), then done. */
    void (*restore)(void *ctx,
                    void (*found)(void *arg, const char *task_id, bool running, int exit_code),
                    agent_exit_cb on_exit, void *exit_arg, agent_done_cb done, void *arg);
    /* Drops every on_exit registration made with exit_arg: the session that made them is
     * going, its containers stay (swarm leave, a session restarted). NULL: not needed. */
    void (*unwatch)(void *ctx, void *exit_arg);
    /* Removes every task container of this node (swarm leave, as dockerd does), then the
     * node's networking (bridge, nftables table, state). NULL: not supported. done runs
     * later, with the first error if any. */
    void (*remove_all)(void *ctx, agent_done_cb done, void *arg);
};

/* ---- logs: the worker's side of the leader's log broker (agent_logs.c) ----
 * Keeps a long poll open on /swarm-rpc/logs/listen (see manager/logbroker/logbroker.h for
 * the bodies); for every subscription it is given, opens the logs of its tasks through
 * agent_log_ops and publishes them to /swarm-rpc/logs/publish in batches, one publication
 * in flight per subscription (so they arrive in order), Close once every task's log has
 * ended (without follow: after what was there; with follow: once the container exited and
 * everything was read). A subscription the broker says is closed is dropped at once. */
struct agent_log_opts {
    bool follow, want_stdout, want_stderr;
    long tail; /* < 0: all */
    int64_t since_ns, until_ns;
};
typedef void (*agent_log_data_cb)(void *arg, int stream, int64_t time_ns, const char *data,
                                  size_t len);
typedef void (*agent_log_end_cb)(void *arg);
struct agent_log_ops {
    /* Opens a task's container log: data per message, then end once. NULL with e when the
     * task has no container here. Callbacks never run inside the call. */
    void *(*open)(void *ctx, const char *task_id, const struct agent_log_opts *o,
                  agent_log_data_cb data, agent_log_end_cb end, void *arg, struct err *e);
    /* Stops a log opened above: no callback runs afterwards. */
    void (*close)(void *ctx, void *handle);
};
/* A call to the leader: POST path with body (borrowed); cb gets the HTTP status (0 when no
 * manager could be reached) and the answer (borrowed for the call, may be NULL). */
typedef void (*agent_call_cb)(void *arg, int status, json_t *answer);
typedef void (*agent_call_fn)(void *ctx, const char *path, json_t *body, agent_call_cb cb,
                              void *arg);

struct agent_logs;
struct agent_logs *agent_logs_new(uv_loop_t *loop, agent_call_fn call, void *call_ctx,
                                  const struct agent_log_ops *ops, void *ops_ctx);
/* Starts polling. */
void agent_logs_start(struct agent_logs *l);
/* Closes every log and frees l once its calls have answered (their answers are ignored). */
void agent_logs_free(struct agent_logs *l);
/* Subscriptions being served (tests). */
size_t agent_logs_serving(const struct agent_logs *l);

/* ---- the real executor (agent_exec.c): src/exec containers from the local image store ----
 * Task containers get a random 64-hex ID, Docker's name and com.docker.swarm.* labels; the
 * ContainerSpec is merged with the image config as dockerd does (Command replaces the
 * image's Entrypoint and drops its Cmd; Args replace its Cmd; the spec's Env first, then the
 * image's variables it does not set; Dir and User default to the image's; user and group
 * names are looked up in the image's /etc/passwd and /etc/group). Refused at prepare with a
 * clear error, until they are built: networks, ingress-mode published ports (host mode
 * works with agent_exec_set_net), secrets, configs, TTY. Groups are resolved
 * in the image's /etc/group (a name or gid there, else a number); cap-add/drop, sysctls and
 * ulimits go to exec as they are, which checks them with Docker's words.
 * restore's found() gives running, or the exit code; a container created but never started
 * gives running false and -1 (a prepare of its task reuses it), never a clean 0.
 * Use: agent_exec_real_ops with the struct agent_exec as ctx. Free the adapter before its
 * exec, in the same loop turn. */
#include "exec/exec.h"
#include "image/image.h"
#include "volume/volume.h"

#include <uv.h>

struct agent_exec;
/* node_id (may be NULL: the task's NodeID is used) names global tasks' containers. */
struct agent_exec *agent_exec_new(uv_loop_t *loop, struct exec *x, struct image_store *images,
                                  const char *node_id);
/* NULL is a no-op; containers keep running. Operations still pending are answered with an
 * error inside the call: free every session using ae first (their freed state only lets go
 * of the tasks then). */
void agent_exec_free(struct agent_exec *ae);
void agent_exec_set_node_id(struct agent_exec *ae, const char *node_id);
/* Gives task containers a network (borrowed; NULL: none, each container then has only lo):
 * attached at prepare before the container is created (its netns, /etc/hosts, /etc/hostname
 * and /etc/resolv.conf bind-mounted as Docker does, the task's host-mode ports published, a
 * port without a published port given one from the node's ephemeral range; a port already
 * taken REJECTS the task with Docker's words), detached once the container is removed; after
 * a restore, attachments of containers that are gone are detached. status() reports the
 * published ports; remove_all (swarm leave) ends with net_teardown. */
void agent_exec_set_net(struct agent_exec *ae, struct net *n);
/* Named and anonymous volumes for `Type: volume` mounts (borrowed; NULL: such tasks are
 * REJECTED). At prepare each volume is created on first use (VolumeOptions' labels, driver
 * and options; an empty Source gets an anonymous volume), recorded as used by the container,
 * and bound on the target; a volume that is empty gets the image's content at the target
 * (copy-up, on the thread pool, after the container is created and before prepare ends)
 * unless NoCopy. When the agent removes a task's container its anonymous volumes go too
 * (Docker's RemoveVolumes); named ones stay. After a restore the containers found are
 * recorded as users again. */
void agent_exec_set_volumes(struct agent_exec *ae, struct volume_store *vs);
extern const struct agent_exec_ops agent_exec_real_ops;

/* Finds the task containers already on disk (exec_restore) without an agent attached yet, so
 * the API sees them at once; the agent's restore later reports them too. */
void agent_exec_restore(struct agent_exec *ae, agent_done_cb done, void *arg);
/* `docker rm [-f] [-v]` of a container by its ID: removed through exec; a task container's
 * agent learns of it through on_exit (its exit code, or 137 / -1 if no exit had been seen).
 * remove_volumes: its anonymous volumes go too (-v). */
void agent_exec_remove_container(struct agent_exec *ae, const char *ctr_id, bool force,
                                 bool remove_volumes, agent_done_cb done, void *arg);
/* The container ID of a task (borrowed), or NULL. */
const char *agent_exec_container(struct agent_exec *ae, const char *task_id);
/* The executor the adapter drives. */
struct exec *agent_exec_exec(struct agent_exec *ae);
/* Task logs from the adapter's containers (agent_exec_logs.c; ctx: the struct agent_exec),
 * for agent_logs_new. */
extern const struct agent_log_ops agent_exec_log_ops;
/* An image_user_cb (arg: the adapter) for image_store_set_user_cb: a container of this
 * adapter uses image_id; a running one is preferred. */
bool agent_exec_image_user(void *arg, const char *image_id, char *container, size_t cap,
                           bool *running);

/* The pure translation (for tests): task + image config → exec spec. ctr_id and lower are
 * borrowed by s->spec; everything else s owns (release with agent_exec_spec_release). */
struct agent_exec_spec {
    struct exec_spec spec;
    char *name;    /* <service>.<slot>.<task id> or <service>.<node id>.<task id> */
    json_t *extra; /* {"name","image","image_id","task_id","service_id","command","path",
                      "args","config" (Docker's Config shape),"mounts" (inspect's MountPoints),
                      "host_mounts" (the spec's Mounts, for HostConfig.Mounts; only when any)} */
    char **args, **env, **labels;
    struct exec_mount *mounts;
    char *user, *workdir, *hostname, *stop_signal;
    char **cap_add, **cap_drop, **sysctls; /* sysctls: "key=value" */
    struct exec_rlimit *rlimits;
    uint32_t *groups;
    struct exec_healthcheck health; /* spec.health points here when it has a Test */
    char **health_test;
    struct net_port *ports; /* Endpoint ports published with mode host */
    size_t nports;
    /* Type volume mounts: mounts[mount] is a bind whose source (NULL here) prepare fills
     * with the volume's _data */
    struct agent_exec_vol {
        size_t mount;
        char *name;      /* NULL: anonymous (prepare sets the name it made) */
        char *driver;    /* VolumeOptions.DriverConfig.Name, or NULL */
        json_t *labels;  /* VolumeOptions.Labels (NULL: none) */
        json_t *options; /* VolumeOptions.DriverConfig.Options (NULL: none) */
        bool nocopy;
    } * vols;
    size_t nvols;
};
int agent_exec_spec_build(json_t *task, const char *service_name, const char *node_id,
                          const char *ctr_id, const json_t *image_config, const char *image_id,
                          char *const *lower, struct agent_exec_spec *s, struct err *e);
void agent_exec_spec_release(struct agent_exec_spec *s);

/* ---- the session: this node's tasks from the leader's dispatcher (agent_session.c) ----
 * Keeps a long poll open on /swarm-rpc/assignments (manager/dispatcher/disp.h has the
 * bodies), applies the changes (Full replaces the set), drives every task with the state
 * machine above over an agent_exec_ops, and reports every transition through
 * /swarm-rpc/status, coalesced per task and batched (at most every AGENT_REPORT_MS, one
 * report in flight, resent until accepted). A task no longer assigned is stopped and its
 * container removed. At start it restores the containers on disk: those of tasks still
 * assigned are adopted as they are (a running one is not restarted), the others removed
 * once the first full set has arrived. Every node runs one, managers included. */
#define AGENT_REPORT_MS 10
struct agent_session;
/* How many prepares (image, rootfs, the runtime's create) a session runs at once; the rest
 * wait in order (agent_session.c says why 8). */
#define AGENT_MAX_PREPARES 8
struct agent_session *agent_session_new(uv_loop_t *loop, agent_call_fn call, void *call_ctx,
                                        const struct agent_exec_ops *ops, void *ops_ctx);
void agent_session_start(struct agent_session *s);
/* Drops the session: containers keep running (a restart re-adopts them); calls in flight
 * answer into nothing. */
void agent_session_free(struct agent_session *s);
/* Tasks held (tests). */
size_t agent_session_tasks(const struct agent_session *s);

#endif
