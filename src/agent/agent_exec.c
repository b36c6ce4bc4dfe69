/* agent_exec.c — the real executor behind struct agent_exec_ops: a task's Spec becomes a
 * container of src/exec on an overlay of the local image store's layers.
 *
 * A task's container gets a random 64-hex ID (the exec ID, ContainerStatus.ContainerID), the
 * name <service>.<slot>.<task id> (global: <service>.<node id>.<task id>), Docker's labels for
 * task containers, and the facts `docker ps` / inspect show (name, image, command, config)
 * kept in exec's meta.json as "extra"; the task ID is found again from the label
 * com.docker.swarm.task.id after a restart. The ContainerSpec is merged with the image config
 * as dockerd merges them: Command replaces the image's Entrypoint (and drops its Cmd), Args
 * replace its Cmd, the spec's Env comes first and the image's variables it does not set
 * follow, Dir and User default to the image's. Type volume mounts bind a volume of
 * src/volume, created on first use, with the image's content copied up into a new one on the
 * thread pool before prepare ends.
 *
 * Invariants: each task has at most one container here (tasks → containers and containers →
 * tasks maps, both kept in step); every done callback runs later on the loop, never inside
 * the call (exec's own immediate failures are deferred through a zero timer); an on_exit
 * callback runs once per container, also when the container is removed by hand; a container
 * is a user of its volumes from prepare until exec has removed it (or the prepare failed).
 * Lifetime: agent_exec_free drops pending calls without their callbacks; free the exec right
 * after it, in the same loop turn, so exec never calls back into a freed adapter.
 * Thread: the loop thread. */
#include "agent/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define LABEL_PREFIX "com.docker.swarm."

#define UNHEALTHY_CAUSE "dockerexec: unhealthy container" /* moby's ErrContainerUnhealthy */

struct ae_op;
struct ae_copy;

struct ae_task {
    char *task_id, *ctr_id, *image_id;
    agent_exit_cb on_exit;
    void *exit_arg;
    bool exited; /* on_exit ran (or the container was found exited) */
    int exit_code;
    bool health;            /* the container has a healthcheck: start waits for healthy */
    bool unhealthy;         /* stopped because it turned unhealthy */
    struct ae_op *start_op; /* a start waiting for healthy (or for the exit) */
    struct net_port *ports; /* published, as the network has them (picked ports included) */
    size_t nports;
};

enum ae_kind { AE_PREPARE = 1, AE_START, AE_STOP, AE_REMOVE, AE_RESTORE, AE_FAIL };

struct ae_op {
    struct agent_exec *ae;
    struct ae_op *next, *prev;
    enum ae_kind kind;
    uv_timer_t timer;
    bool timer_started;
    agent_done_cb done;
    void *arg;
    int rc;
    char err[ERR_MSG_MAX];
    struct ae_task *t; /* prepare: the task being created */
    char *ctr_id;      /* remove by container */
    bool was_running;  /* remove: the container ran when asked */
    void (*found)(void *arg, const char *task_id, bool running, int exit_code);
    agent_exit_cb on_exit; /* restore */
    void *exit_arg;
    agent_exit_cb exit_cb; /* remove: on_exit to run (later, from op_fire) */
    void *exit_cb_arg;
    char *exit_task; /* remove: the task on_exit is for; start: the task started */
    int exit_code;
    bool remove_volumes;  /* remove: the container's anonymous volumes go too */
    struct ae_copy *copy; /* prepare: the copy-up running on the thread pool */
};

/* Copy-up of a prepare, on the thread pool. It owns its strings; op is NULL once the adapter
 * is freed while it runs (the after callback then only frees it). */
struct ae_copy {
    uv_work_t work;
    struct ae_op *op;
    char *rootfs;
    char **targets, **dsts; /* pairs: the image path, the volume's _data */
    size_t n;
    int rc;
    struct err e;
};

struct agent_exec {
    uv_loop_t *loop;
    struct exec *x;
    struct image_store *images;
    struct net *net;              /* NULL: containers get no network but lo */
    struct volume_store *volumes; /* NULL: Type volume mounts are refused */
    char *node_id;
    struct strmap *by_task; /* task ID → struct ae_task */
    struct strmap *by_ctr;  /* container ID → the same struct ae_task */
    struct ae_op *ops;
    bool freeing; /* agent_exec_free is answering the pending ops */
};

/* ---- the pure part: task → exec spec ---- */

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = xrealloc(*v, (*n + 2) * sizeof(**v));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* Appends the strings of a JSON array; false if it is not an array of strings. */
static bool strv_add_json(char ***v, size_t *n, const json_t *a)
{
    size_t i;
    json_t *x;
    if (a && !json_is_array(a) && !json_is_null(a))
        return false;
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x))
            return false;
        strv_push(v, n, xstrdup(json_string_value(x)));
    }
    return true;
}

static bool nonempty(const json_t *j)
{
    return (json_is_array(j) && json_array_size(j)) || (json_is_object(j) && json_object_size(j)) ||
           json_is_true(j) || (json_is_string(j) && json_string_value(j)[0]);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && s[0] ? s : NULL;
}

/* Looks name up in the first <lower>/etc/<file> found (top layer first): the third field
 * (passwd: uid, group: gid), or -1. */
static long db_lookup(char *const *lower, const char *file, const char *name, long *gid)
{
    for (size_t i = 0; lower && lower[i]; i++) {
        char *path = xasprintf("%s/etc/%s", lower[i], file), *d = NULL;
        size_t n;
        int rc = file_read(path, &d, &n, NULL);
        free(path);
        if (rc == -ERR_NOT_FOUND)
            continue;
        long found = -1;
        for (char *save = NULL, *l = rc == 0 ? strtok_r(d, "\n", &save) : NULL; l && found < 0;
             l = strtok_r(NULL, "\n", &save)) {
            char *f[4] = {0};
            char *p = l;
            for (int k = 0; k < 4 && p; k++) {
                f[k] = p;
                p = strchr(p, ':');
                if (p)
                    *p++ = 0;
            }
            if (f[0] && f[2] && !strcmp(f[0], name)) {
                found = strtol(f[2], NULL, 10);
                if (gid)
                    *gid = f[3] ? strtol(f[3], NULL, 10) : 0;
            }
        }
        free(d);
        return found;
    }
    return -1;
}

static bool all_digits(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "name", "uid", "name:group", "uid:gid" → "uid:gid" (names from the image's files). */
static int user_resolve(const char *user, char *const *lower, char **out, struct err *e)
{
    const char *colon = strchr(user, ':');
    size_t ul = colon ? (size_t)(colon - user) : strlen(user);
    char *u = xstrndup(user, ul);
    long uid, gid = 0;
    if (all_digits(u, ul)) {
        uid = strtol(u, NULL, 10);
        if (!colon) /* Docker: the primary group of that uid, when the image knows it; else 0 */
            gid = 0;
    } else if ((uid = db_lookup(lower, "passwd", u, &gid)) < 0) {
        err_set(e, ERR_INVALID, "unable to find user %s: no matching entries in passwd file", u);
        free(u);
        return -ERR_INVALID;
    }
    if (colon) {
        const char *g = colon + 1;
        if (all_digits(g, strlen(g))) {
            gid = strtol(g, NULL, 10);
        } else if ((gid = db_lookup(lower, "group", g, NULL)) < 0) {
            err_set(e, ERR_INVALID, "unable to find group %s: no matching entries in group file",
                    g);
            free(u);
            return -ERR_INVALID;
        }
    }
    free(u);
    *out = xasprintf("%ld:%ld", uid, gid);
    return 0;
}

/* Docker's shell-ish display of a command for `docker ps`: args joined by spaces, an arg
 * with a space or quote in single quotes. */
static char *command_text(char *const *args)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; args && args[i]; i++) {
        if (i)
            buf_adds(&b, " ");
        if (strpbrk(args[i], " \t'\"") || !args[i][0]) {
            buf_adds(&b, "'");
            for (const char *p = args[i]; *p; p++)
                *p == '\'' ? buf_adds(&b, "'\\''") : buf_add(&b, p, 1);
            buf_adds(&b, "'");
        } else {
            buf_adds(&b, args[i]);
        }
    }
    if (!b.p)
        buf_adds(&b, "");
    return buf_detach(&b, NULL);
}

static json_t *strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* ContainerSpec fields exec cannot honour yet: refused rather than silently ignored. */
static const struct {
    const char *field, *what;
} unsupported[] = {
    {"Secrets", "secrets"},
    {"Configs", "configs"},
};

void agent_exec_spec_release(struct agent_exec_spec *s)
{
    strv_free(s->args);
    strv_free(s->env);
    strv_free(s->labels);
    for (size_t i = 0; i < s->spec.n_mounts; i++) {
        free((char *)s->mounts[i].type);
        free((char *)s->mounts[i].source);
        free((char *)s->mounts[i].target);
    }
    free(s->mounts);
    free(s->name);
    free(s->user);
    free(s->workdir);
    free(s->hostname);
    free(s->stop_signal);
    strv_free(s->cap_add);
    strv_free(s->cap_drop);
    strv_free(s->sysctls);
    for (size_t i = 0; i < s->spec.n_rlimits; i++)
        free((char *)s->rlimits[i].name);
    free(s->rlimits);
    free(s->groups);
    strv_free(s->health_test);
    free(s->ports);
    for (size_t i = 0; i < s->nvols; i++) {
        free(s->vols[i].name);
        free(s->vols[i].driver);
        json_decref(s->vols[i].labels);
        json_decref(s->vols[i].options);
    }
    free(s->vols);
    json_decref(s->extra);
    memset(s, 0, sizeof(*s));
}

/* A Type volume mount: a bind of the volume's _data (the source is filled at prepare), and
 * what prepare needs to create the volume on first use. */
static void volume_mount_build(const json_t *m, const char *src, struct agent_exec_spec *s)
{
    const json_t *vo = json_object_get(m, "VolumeOptions");
    const json_t *dc = json_object_get(vo, "DriverConfig");
    const json_t *labels = json_object_get(vo, "Labels"), *opts = json_object_get(dc, "Options");
    s->vols = xrealloc(s->vols, (s->nvols + 1) * sizeof(*s->vols));
    s->vols[s->nvols++] = (struct agent_exec_vol){
        .mount = s->spec.n_mounts,
        .name = src ? xstrdup(src) : NULL,
        .driver = jstr(dc, "Name") ? xstrdup(jstr(dc, "Name")) : NULL,
        /* as dockerd's swarm executor: with VolumeOptions, labels and options are maps */
        .labels = json_is_object(labels) ? json_deep_copy(labels)
                  : vo                   ? json_object()
                                         : NULL,
        .options = json_is_object(opts) ? json_deep_copy(opts)
                   : vo                 ? json_object()
                                        : NULL,
        .nocopy = json_is_true(json_object_get(vo, "NoCopy")),
    };
}

static int mounts_build(const json_t *mounts, struct agent_exec_spec *s, struct err *e)
{
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *type = jstr(m, "Type") ?: "volume", *src = jstr(m, "Source"),
                   *dst = jstr(m, "Target");
        if (!dst)
            return err_set(e, ERR_INVALID, "invalid mount config: Target must not be empty");
        if (strcmp(type, "bind") && strcmp(type, "tmpfs") && strcmp(type, "volume"))
            return err_set(e, ERR_INVALID,
                           "invalid mount config: mount type \"%s\" is not "
                           "supported by shoal yet",
                           type);
        struct exec_mount em = {0};
        if (!strcmp(type, "bind")) {
            struct stat st;
            if (!src)
                return err_set(e, ERR_INVALID,
                               "invalid mount config for type \"bind\": field Source must not "
                               "be empty");
            if (stat(src, &st) < 0)
                return err_set(e, ERR_INVALID,
                               "invalid mount config for type \"bind\": bind source path does "
                               "not exist: %s",
                               src);
            em.source = xstrdup(src);
        } else if (!strcmp(type, "volume")) {
            volume_mount_build(m, src, s);
            type = "bind";
        } else {
            const json_t *to = json_object_get(m, "TmpfsOptions");
            em.tmpfs_size = json_integer_value(json_object_get(to, "SizeBytes"));
            em.tmpfs_mode = (int)json_integer_value(json_object_get(to, "Mode"));
        }
        em.type = xstrdup(type);
        em.target = xstrdup(dst);
        em.readonly = json_is_true(json_object_get(m, "ReadOnly"));
        s->mounts = xrealloc(s->mounts, (s->spec.n_mounts + 1) * sizeof(*s->mounts));
        s->mounts[s->spec.n_mounts++] = em;
    }
    return 0;
}

static const struct agent_exec_vol *mount_vol(const struct agent_exec_spec *s, size_t mount)
{
    for (size_t i = 0; i < s->nvols; i++)
        if (s->vols[i].mount == mount)
            return &s->vols[i];
    return NULL;
}

/* The task's mounts as `docker inspect` shows them (moby's MountPoint), from the first n
 * mounts of s (those of the ContainerSpec, in its order). */
static json_t *mounts_inspect(const struct agent_exec_spec *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct exec_mount *m = &s->mounts[i];
        const struct agent_exec_vol *v = mount_vol(s, i);
        json_t *mp;
        if (v)
            mp = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "volume", "Name",
                           v->name ? v->name : "", "Source", m->source ? m->source : "",
                           "Destination", m->target, "Driver", VOLUME_DRIVER, "Mode", "z", "RW",
                           !m->readonly, "Propagation", "");
        else
            mp = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", m->type, "Source",
                           m->source ? m->source : "", "Destination", m->target, "Mode", "", "RW",
                           !m->readonly, "Propagation", strcmp(m->type, "bind") ? "" : "rprivate");
        json_array_append_new(a, mp);
    }
    return a;
}

/* Additional groups (Docker's --group-add) as libcontainer resolves them: a name or gid
 * found in the image's /etc/group, else a number. */
static int groups_build(const json_t *groups, char *const *lower, struct agent_exec_spec *s,
                        struct err *e)
{
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        const char *name = json_string_value(g);
        if (!name)
            return err_set(e, ERR_INVALID, "invalid Groups in the task");
        long gid = db_lookup(lower, "group", name, NULL);
        if (gid < 0 && all_digits(name, strlen(name)) && strlen(name) <= 10)
            gid = strtol(name, NULL, 10);
        if (gid < 0 || gid > (long)INT32_MAX)
            return err_set(e, ERR_INVALID,
                           "Unable to find group %s: no matching entries in group file", name);
        bool dup = false;
        for (size_t k = 0; k < s->spec.n_groups && !dup; k++)
            dup = s->groups[k] == (uint32_t)gid;
        if (dup)
            continue;
        s->groups = xrealloc(s->groups, (s->spec.n_groups + 1) * sizeof(*s->groups));
        s->groups[s->spec.n_groups++] = (uint32_t)gid;
    }
    return 0;
}

/* The healthcheck as dockerd merges a container's with its image's: none in the spec, the
 * image's; else the spec's, each field it leaves empty taken from the image. Returns the
 * merged HealthConfig (new reference, for inspect's Config) or NULL; s->health is set when
 * it has a Test. */
static json_t *health_build(const json_t *cs, const json_t *ic, struct agent_exec_spec *s,
                            struct err *e, int *rc)
{
    const json_t *uh = json_object_get(cs, "Healthcheck"), *ih = json_object_get(ic, "Healthcheck");
    if (!json_is_object(uh) && !json_is_object(ih))
        return NULL;
    json_t *m = json_is_object(uh) ? json_deep_copy(uh) : json_deep_copy(ih);
    if (json_is_object(uh) && json_is_object(ih)) {
        static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval",
                                           "Retries"};
        if (!json_array_size(json_object_get(m, "Test")) && json_object_get(ih, "Test"))
            json_object_set(m, "Test", json_object_get(ih, "Test"));
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (!json_integer_value(json_object_get(m, keys[i])) &&
                json_integer_value(json_object_get(ih, keys[i])))
                json_object_set(m, keys[i], json_object_get(ih, keys[i]));
    }
    size_t n = 0;
    if (!strv_add_json(&s->health_test, &n, json_object_get(m, "Test"))) {
        *rc = err_set(e, ERR_INVALID, "invalid Healthcheck Test in the task or the image config");
        return m;
    }
    s->health = (struct exec_healthcheck){
        .test = (const char *const *)s->health_test,
        .interval_ns = json_integer_value(json_object_get(m, "Interval")),
        .timeout_ns = json_integer_value(json_object_get(m, "Timeout")),
        .start_period_ns = json_integer_value(json_object_get(m, "StartPeriod")),
        .start_interval_ns = json_integer_value(json_object_get(m, "StartInterval")),
        .retries = (int)json_integer_value(json_object_get(m, "Retries")),
    };
    return m;
}

/* cap-add/drop, sysctls and ulimits, copied as they are: exec_oci_config checks them. */
static int security_build(const json_t *cs, struct agent_exec_spec *s, struct err *e)
{
    size_t n = 0;
    if (!strv_add_json(&s->cap_add, &n, json_object_get(cs, "CapabilityAdd")))
        return err_set(e, ERR_INVALID, "invalid CapabilityAdd in the task");
    n = 0;
    if (!strv_add_json(&s->cap_drop, &n, json_object_get(cs, "CapabilityDrop")))
        return err_set(e, ERR_INVALID, "invalid CapabilityDrop in the task");
    n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(cs, "Sysctls"), k, v)
    {
        if (!json_is_string(v))
            return err_set(e, ERR_INVALID, "invalid Sysctls in the task");
        strv_push(&s->sysctls, &n, xasprintf("%s=%s", k, json_string_value(v)));
    }
    size_t i;
    json_array_foreach(json_object_get(cs, "Ulimits"), i, v)
    {
        const char *name = jstr(v, "Name");
        if (!name)
            return err_set(e, ERR_INVALID, "invalid ulimit type: ");
        s->rlimits = xrealloc(s->rlimits, (s->spec.n_rlimits + 1) * sizeof(*s->rlimits));
        s->rlimits[s->spec.n_rlimits++] = (struct exec_rlimit){
            .name = xstrdup(name),
            .soft = json_integer_value(json_object_get(v, "Soft")),
            .hard = json_integer_value(json_object_get(v, "Hard")),
        };
    }
    return 0;
}

/* The task's published ports: Endpoint.Ports (what the manager allocated) or else
 * Endpoint.Spec.Ports. Host mode becomes s->ports; ingress mode (the routing mesh) is
 * refused until it is built. */
static int ports_build(json_t *task, struct agent_exec_spec *s, struct err *e)
{
    json_t *ep = json_object_get(task, "Endpoint");
    json_t *ports = json_object_get(ep, "Ports");
    if (!json_array_size(ports))
        ports = json_object_get(json_object_get(ep, "Spec"), "Ports");
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *mode = jstr(p, "PublishMode") ?: "ingress", *proto = jstr(p, "Protocol");
        json_int_t target = json_integer_value(json_object_get(p, "TargetPort"));
        json_int_t published = json_integer_value(json_object_get(p, "PublishedPort"));
        if (strcasecmp(mode, "host")) {
            err_set(e, ERR_INVALID,
                    "ingress-mode published ports (the routing mesh) are not supported by "
                    "shoal yet: publish with mode=host");
            goto fail;
        }
        if (proto && strcasecmp(proto, "tcp") && strcasecmp(proto, "udp")) {
            err_set(e, ERR_INVALID, "published port protocol %s is not supported by shoal yet",
                    proto);
            goto fail;
        }
        /* published 0: the node picks one from its ephemeral range (net_attach) */
        if (target < 1 || target > 65535 || published < 0 || published > 65535) {
            err_set(e, ERR_INVALID, "host-mode port %lld:%lld: invalid port", (long long)published,
                    (long long)target);
            goto fail;
        }
        s->ports = xrealloc(s->ports, (s->nports + 1) * sizeof(*s->ports));
        s->ports[s->nports++] = (struct net_port){
            .proto = proto && !strcasecmp(proto, "udp") ? NET_UDP : NET_TCP,
            .target = (uint16_t)target,
            .published = (uint16_t)published,
        };
    }
    return 0;
fail:
    free(s->ports);
    s->ports = NULL;
    s->nports = 0;
    return -ERR_INVALID;
}

static const char *port_proto(const struct net_port *p)
{
    return p->proto == NET_UDP ? "udp" : "tcp";
}

/* Config.ExposedPorts as dockerd has it for a task: the image's, and every host-mode target
 * port (swarmkit's executor exposes them). NULL when there are none. */
static json_t *exposed_ports(const json_t *image_cfg, const struct agent_exec_spec *s)
{
    json_t *img = json_object_get(image_cfg, "ExposedPorts");
    json_t *out = json_is_object(img) ? json_deep_copy(img) : json_object();
    for (size_t i = 0; i < s->nports; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%u/%s", s->ports[i].target, port_proto(&s->ports[i]));
        json_object_set_new(out, key, json_object());
    }
    if (!json_object_size(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* HostConfig.PortBindings as the executor asks dockerd: per "target/proto" one binding, its
 * HostPort the published port, "" when the node picks one. */
static json_t *port_bindings(const struct agent_exec_spec *s)
{
    json_t *out = json_object();
    for (size_t i = 0; i < s->nports; i++) {
        char key[16], host[8] = "";
        snprintf(key, sizeof(key), "%u/%s", s->ports[i].target, port_proto(&s->ports[i]));
        if (s->ports[i].published)
            snprintf(host, sizeof(host), "%u", s->ports[i].published);
        json_object_set_new(out, key, json_pack("[{s:s, s:s}]", "HostIp", "", "HostPort", host));
    }
    return out;
}

int agent_exec_spec_build(json_t *task, const char *service_name, const char *node_id,
                          const char *ctr_id, const json_t *image_config, const char *image_id,
                          char *const *lower, struct agent_exec_spec *s, struct err *e)
{
    memset(s, 0, sizeof(*s));
    const char *task_id = jstr(task, "ID");
    json_t *tspec = json_object_get(task, "Spec");
    json_t *cs = json_object_get(tspec, "ContainerSpec");
    json_t *ic = json_object_get(image_config, "config"); /* the image's run config */
    size_t n;
    int rc = 0;
    if (!task_id || !json_is_object(cs))
        return err_set(e, ERR_INVALID, "task has no ID or no ContainerSpec");
    if (nonempty(json_object_get(tspec, "Networks")) || nonempty(json_object_get(task, "Networks")))
        return err_set(e, ERR_INVALID,
                       "networks are not supported by shoal yet: the task is "
                       "attached to a network (overlay networking comes later)");
    for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
        if (nonempty(json_object_get(cs, unsupported[i].field)))
            return err_set(e, ERR_INVALID, "%s (ContainerSpec.%s) not supported by shoal yet",
                           unsupported[i].what, unsupported[i].field);
    if ((rc = ports_build(task, s, e)) < 0)
        return rc;

    /* name and labels */
    json_t *slot = json_object_get(task, "Slot");
    const char *tnode = jstr(task, "NodeID") ?: node_id ?: "";
    if (json_integer_value(slot) > 0)
        s->name =
            xasprintf("%s.%lld.%s", service_name, (long long)json_integer_value(slot), task_id);
    else
        s->name = xasprintf("%s.%s.%s", service_name, tnode, task_id);
    json_t *labels = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(cs, "Labels"), k, v) json_object_set(labels, k, v);
    json_object_foreach(json_object_get(task, "Labels"), k, v) json_object_set(labels, k, v);
    json_object_set_new(labels, LABEL_PREFIX "task", json_string(""));
    json_object_set_new(labels, LABEL_PREFIX "task.id", json_string(task_id));
    json_object_set_new(labels, LABEL_PREFIX "task.name", json_string(s->name));
    json_object_set_new(labels, LABEL_PREFIX "node.id", json_string(tnode));
    json_object_set_new(labels, LABEL_PREFIX "service.id",
                        json_string(jstr(task, "ServiceID") ?: ""));
    json_object_set_new(labels, LABEL_PREFIX "service.name", json_string(service_name));
    n = 0;
    json_object_foreach(labels, k, v)
        strv_push(&s->labels, &n, xasprintf("%s=%s", k, json_string_value(v) ?: ""));

    /* entrypoint + cmd, as dockerd merges a container config with its image's */
    char **ep = NULL, **cmd = NULL;
    size_t nep = 0, ncmd = 0;
    const json_t *ucmd = json_object_get(cs, "Command"), *uargs = json_object_get(cs, "Args");
    bool ok = strv_add_json(&ep, &nep, ucmd) && strv_add_json(&cmd, &ncmd, uargs);
    if (ok && !nep) {
        if (!ncmd)
            ok = strv_add_json(&cmd, &ncmd, json_object_get(ic, "Cmd"));
        ok = ok && strv_add_json(&ep, &nep, json_object_get(ic, "Entrypoint"));
    }
    n = 0;
    for (size_t i = 0; ok && i < nep; i++)
        strv_push(&s->args, &n, xstrdup(ep[i]));
    for (size_t i = 0; ok && i < ncmd; i++)
        strv_push(&s->args, &n, xstrdup(cmd[i]));
    if (!ok)
        rc = err_set(e, ERR_INVALID, "invalid command in the task or the image config");
    else if (!n)
        rc = err_set(e, ERR_INVALID, "No command specified");

    /* env: the spec's, then the image's variables the spec does not set */
    n = 0;
    if (!rc && !strv_add_json(&s->env, &n, json_object_get(cs, "Env")))
        rc = err_set(e, ERR_INVALID, "invalid Env in the task");
    size_t nuser = n, i;
    json_array_foreach(json_object_get(ic, "Env"), i, v)
    {
        const char *ie = json_string_value(v);
        if (rc || !ie)
            continue;
        size_t kl = strcspn(ie, "=");
        bool set = false;
        for (size_t j = 0; j < nuser && !set; j++)
            set = strlen(s->env[j]) >= kl && !strncmp(s->env[j], ie, kl) &&
                  (s->env[j][kl] == '=' || s->env[j][kl] == 0);
        if (!set)
            strv_push(&s->env, &n, xstrdup(ie));
    }

    const char *dir = jstr(cs, "Dir") ?: jstr(ic, "WorkingDir");
    const char *user = jstr(cs, "User") ?: jstr(ic, "User");
    if (!rc && user)
        rc = user_resolve(user, lower, &s->user, e);
    s->workdir = dir ? xstrdup(dir) : NULL;
    s->hostname = jstr(cs, "Hostname") ? xstrdup(jstr(cs, "Hostname")) : NULL;
    const char *sig = jstr(cs, "StopSignal") ?: jstr(ic, "StopSignal");
    s->stop_signal = sig ? xstrdup(sig) : NULL;
    if (!rc && sig && exec_signal_parse(sig) < 0)
        rc = err_set(e, ERR_INVALID, "Invalid signal: %s", sig);
    if (!rc)
        rc = mounts_build(json_object_get(cs, "Mounts"), s, e);
    if (!rc)
        rc = security_build(cs, s, e);
    if (!rc)
        rc = groups_build(json_object_get(cs, "Groups"), lower, s, e);
    json_t *hc = health_build(cs, ic, s, e, &rc);
    bool probed = s->health_test && s->health_test[0] && strcmp(s->health_test[0], "NONE");

    json_t *lim = json_object_get(json_object_get(tspec, "Resources"), "Limits");
    s->spec = (struct exec_spec){
        .id = ctr_id,
        .lower = (const char *const *)lower,
        .args = (const char *const *)s->args,
        .env = (const char *const *)s->env,
        .workdir = s->workdir,
        .user = s->user,
        .hostname = s->hostname,
        .labels = (const char *const *)s->labels,
        .memory = json_integer_value(json_object_get(lim, "MemoryBytes")),
        .nano_cpus = json_integer_value(json_object_get(lim, "NanoCPUs")),
        .pids_limit = json_integer_value(json_object_get(lim, "Pids")),
        .readonly_rootfs = json_is_true(json_object_get(cs, "ReadOnly")),
        .init = json_is_true(json_object_get(cs, "Init")),
        .tty = json_is_true(json_object_get(cs, "TTY")),
        .mounts = s->mounts,
        .n_mounts = s->spec.n_mounts,
        .stop_signal = s->stop_signal,
        .stop_grace_ns = json_integer_value(json_object_get(cs, "StopGracePeriod")),
        .cap_add = (const char *const *)s->cap_add,
        .cap_drop = (const char *const *)s->cap_drop,
        .sysctls = (const char *const *)s->sysctls,
        .rlimits = s->rlimits,
        .n_rlimits = s->spec.n_rlimits,
        .groups = s->groups,
        .n_groups = s->spec.n_groups,
        .health = probed ? &s->health : NULL,
    };

    /* what ps / inspect show, kept by exec in meta.json */
    const char *image = jstr(cs, "Image") ?: "";
    json_t *config = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:o, s:O}", "Hostname",
                               s->hostname ?: "", "User", user ?: "", "Env", strv_json(s->env),
                               "Cmd", strv_json(cmd), "Image", image, "WorkingDir", dir ?: "",
                               "Entrypoint", nep ? strv_json(ep) : json_null(), "Labels", labels);
    json_object_set_new(config, "Tty", json_boolean(s->spec.tty));
    if (sig)
        json_object_set_new(config, "StopSignal", json_string(sig));
    if (hc)
        json_object_set_new(config, "Healthcheck", hc);
    json_t *exposed = exposed_ports(ic, s);
    if (exposed)
        json_object_set_new(config, "ExposedPorts", exposed);
    char *cmdtxt = command_text(s->args);
    s->extra = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "name", s->name,
                         "image", image, "image_id", image_id ?: "", "task_id", task_id,
                         "service_id", jstr(task, "ServiceID") ?: "", "command", cmdtxt, "path",
                         json_string(s->args ? s->args[0] : ""), "args",
                         strv_json(s->args ? s->args + (s->args[0] ? 1 : 0) : NULL), "config",
                         config, "mounts", mounts_inspect(s, s->spec.n_mounts));
    if (json_array_size(json_object_get(cs, "Mounts"))) /* HostConfig.Mounts: the spec's */
        json_object_set_new(s->extra, "host_mounts", json_deep_copy(json_object_get(cs, "Mounts")));
    json_object_set_new(s->extra, "port_bindings", port_bindings(s));
    s->spec.extra = s->extra;
    free(cmdtxt);
    json_decref(labels);
    strv_free(ep);
    strv_free(cmd);
    if (rc) {
        agent_exec_spec_release(s);
        return rc;
    }
    return 0;
}

/* ---- the adapter ---- */

static void op_closed(uv_handle_t *h)
{
    struct ae_op *op = h->data;
    free(op->ctr_id);
    free(op->exit_task);
    free(op);
}

static void op_unlink(struct ae_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        op->ae->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->next = op->prev = NULL;
}

static void task_free(struct ae_task *t)
{
    if (!t)
        return;
    free(t->task_id);
    free(t->ctr_id);
    free(t->image_id);
    free(t->ports);
    free(t);
}

static void task_forget(struct agent_exec *ae, struct ae_task *t)
{
    if (strmap_get(ae->by_task, t->task_id) == t)
        strmap_del(ae->by_task, t->task_id);
    if (strmap_get(ae->by_ctr, t->ctr_id) == t)
        strmap_del(ae->by_ctr, t->ctr_id);
    task_free(t);
}

static void restore_report(struct ae_op *op);
static void copy_free(struct ae_copy *c);

static void op_fire(uv_timer_t *h)
{
    struct ae_op *op = h->data;
    struct agent_exec *ae = op->ae;
    op_unlink(op);
    if (op->kind == AE_RESTORE && op->rc == 0)
        restore_report(op);
    if (op->exit_cb) /* a removal the agent had not seen as an exit */
        op->exit_cb(op->exit_cb_arg, op->exit_task, op->exit_code, NULL);
    if (op->done)
        op->done(op->arg, op->rc, op->rc < 0 ? op->err : NULL);
    (void)ae;
    uv_close((uv_handle_t *)&op->timer, op_closed);
}

/* Ends op: its callback runs from a zero timer, so never inside the call that started it. */
static void op_finish(struct ae_op *op, int rc, const char *err)
{
    op->rc = rc;
    if (rc < 0)
        snprintf(op->err, sizeof(op->err), "%s", err && err[0] ? err : "executor error");
    op->timer_started = true;
    uv_timer_start(&op->timer, op_fire, 0, 0);
}

static struct ae_op *op_new(struct agent_exec *ae, enum ae_kind kind, agent_done_cb done, void *arg)
{
    struct ae_op *op = xcalloc(1, sizeof(*op));
    op->ae = ae;
    op->kind = kind;
    op->done = done;
    op->arg = arg;
    uv_timer_init(ae->loop, &op->timer);
    op->timer.data = op;
    op->next = ae->ops;
    if (ae->ops)
        ae->ops->prev = op;
    ae->ops = op;
    return op;
}

static void fail_later(struct agent_exec *ae, agent_done_cb done, void *arg, const struct err *e)
{
    op_finish(op_new(ae, AE_FAIL, done, arg), -(e->kind ? e->kind : ERR_INTERNAL), e->msg);
}

/* Ends a start that waits for healthy: rc 0, or the words moby's controller returns. */
static void start_end(struct ae_task *t, int rc, const char *err)
{
    struct ae_op *op = t->start_op;
    if (!op)
        return;
    t->start_op = NULL;
    op_finish(op, rc, err);
}

/* The exit of a container whose start waits: moby's Start returns nil for a clean exit,
 * else the exit error (with the health cause when it was stopped as unhealthy). */
static void start_end_exit(struct ae_task *t, int code)
{
    char msg[160];
    if (t->unhealthy)
        snprintf(msg, sizeof(msg), "task: non-zero exit (%d): %s", code, UNHEALTHY_CAUSE);
    else
        snprintf(msg, sizeof(msg), "task: non-zero exit (%d)", code);
    start_end(t, code == 0 ? 0 : -ERR_INTERNAL, msg);
}

/* exec's exit callback for every container of this adapter. */
static void ctr_exited(void *arg, const char *ctr_id, const struct exec_state *st)
{
    struct agent_exec *ae = arg;
    struct ae_task *t = strmap_get(ae->by_ctr, ctr_id);
    if (!t || t->exited)
        return;
    t->exited = true;
    t->exit_code = st->exit_code;
    if (t->on_exit)
        t->on_exit(t->exit_arg, t->task_id, st->exit_code, t->unhealthy ? UNHEALTHY_CAUSE : NULL);
    start_end_exit(t, st->exit_code);
}

static void unhealthy_stopped(void *arg, int rc, const struct err *e)
{
    if (rc < 0)
        log_warn("agent: stopping an unhealthy container: %s", e ? e->msg : "error");
}

/* exec's health listener: healthy ends a waiting start; unhealthy stops the container (its
 * exit then fails the task with the health cause), as moby's controller does. */
static void ctr_health(void *arg, const char *ctr_id, enum exec_health_status st)
{
    struct agent_exec *ae = arg;
    struct ae_task *t = strmap_get(ae->by_ctr, ctr_id);
    if (!t || t->exited)
        return;
    if (st == EXEC_HEALTH_HEALTHY) {
        start_end(t, 0, NULL);
    } else if (st == EXEC_HEALTH_UNHEALTHY && !t->unhealthy) {
        t->unhealthy = true;
        log_info("agent: task %s: container %.12s is unhealthy, stopping it", t->task_id,
                 t->ctr_id);
        exec_stop(ae->x, t->ctr_id, -1, unhealthy_stopped, NULL);
    }
}

struct agent_exec *agent_exec_new(uv_loop_t *loop, struct exec *x, struct image_store *images,
                                  const char *node_id)
{
    struct agent_exec *ae = xcalloc(1, sizeof(*ae));
    ae->loop = loop;
    ae->x = x;
    ae->images = images;
    ae->node_id = node_id ? xstrdup(node_id) : NULL;
    ae->by_task = strmap_new();
    ae->by_ctr = strmap_new();
    exec_set_health_cb(x, ctr_health, ae);
    return ae;
}

void agent_exec_set_net(struct agent_exec *ae, struct net *n)
{
    ae->net = n;
}

void agent_exec_set_volumes(struct agent_exec *ae, struct volume_store *vs)
{
    ae->volumes = vs;
}

void agent_exec_set_node_id(struct agent_exec *ae, const char *node_id)
{
    free(ae->node_id);
    ae->node_id = node_id ? xstrdup(node_id) : NULL;
}

void agent_exec_free(struct agent_exec *ae)
{
    if (!ae)
        return;
    exec_set_health_cb(ae->x, NULL, NULL);
    ae->freeing = true;
    while (ae->ops) {
        struct ae_op *op = ae->ops;
        op_unlink(op);
        if (op->kind == AE_PREPARE && op->t)
            task_forget(ae, op->t);
        if (op->copy && op->copy->op == op) /* running: its after callback only frees it */
            op->copy->op = NULL;
        else
            copy_free(op->copy);
        agent_done_cb done = op->done;
        void *arg = op->arg;
        op->done = NULL;
        uv_close((uv_handle_t *)&op->timer, op_closed);
        /* answered, so that a (freed) session waiting for it lets go of its task: a start
         * waiting for a healthcheck may never end on its own */
        if (done)
            done(arg, -ERR_UNAVAILABLE, "the node is stopping");
    }
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(ae->by_task, &it, &k, &v))
        task_free(v);
    strmap_free(ae->by_task);
    strmap_free(ae->by_ctr);
    free(ae->node_id);
    free(ae);
}

/* ---- prepare ---- */

/* Detaches a container's network; a failure is logged (the container is gone either way,
 * and what is left is removed at the next teardown). */
static void net_detach_quiet(struct agent_exec *ae, const char *ctr_id)
{
    struct err e = {0};
    if (ae->net && net_detach(ae->net, ctr_id, &e) < 0)
        log_warn("container %.12s: %s", ctr_id, e.msg);
}

static bool mount_target_taken(const struct agent_exec_spec *s, const char *target)
{
    for (size_t i = 0; i < s->spec.n_mounts; i++)
        if (!strcmp(s->mounts[i].target, target))
            return true;
    return false;
}

/* The container's network: attached, its netns given to the spec, its /etc files
 * bind-mounted (unless the task mounts something there itself), the facts inspect shows
 * kept in extra. */
static int net_prepare(struct agent_exec *ae, const char *ctr_id, struct agent_exec_spec *s,
                       struct net_attachment *att, struct err *e)
{
    char host[13];
    snprintf(host, sizeof(host), "%s", ctr_id);
    int rc =
        net_attach(ae->net, ctr_id, s->hostname ? s->hostname : host, s->ports, s->nports, att, e);
    if (rc < 0)
        return rc;
    s->spec.netns_path = att->netns_path;
    static const char *const files[] = {"resolv.conf", "hostname", "hosts"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        char *target = xasprintf("/etc/%s", files[i]);
        if (mount_target_taken(s, target)) {
            free(target);
            continue;
        }
        s->mounts = xrealloc(s->mounts, (s->spec.n_mounts + 1) * sizeof(*s->mounts));
        s->mounts[s->spec.n_mounts++] = (struct exec_mount){
            .type = xstrdup("bind"),
            .source = xasprintf("%s/%s", att->dir, files[i]),
            .target = target,
        };
    }
    s->spec.mounts = s->mounts;
    /* s->ports has the picked ports now */
    json_t *ports = json_array();
    for (size_t i = 0; i < s->nports; i++)
        json_array_append_new(
            ports, json_pack("{s:s, s:i, s:i}", "Protocol", port_proto(&s->ports[i]), "TargetPort",
                             s->ports[i].target, "PublishedPort", s->ports[i].published));
    char ip[24];
    snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(att->address, "/"), att->address);
    const char *slash = strchr(att->address, '/');
    /* the sandbox (the netns) and the endpoint (the veth) get IDs of their own, as dockerd's */
    char sandbox[65], endpoint[65];
    hex_id_new(sandbox);
    hex_id_new(endpoint);
    json_object_set_new(s->extra, "network",
                        json_pack("{s:s, s:i, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s}", "IPAddress",
                                  ip, "IPPrefixLen", slash ? atoi(slash + 1) : 0, "Gateway",
                                  att->gateway, "MacAddress", att->mac, "Ports", ports, "Name",
                                  NET_NETWORK_NAME, "NetworkID", net_id(ae->net), "EndpointID",
                                  endpoint, "SandboxID", sandbox, "SandboxKey", att->netns_path));
    return 0;
}

static void copy_free(struct ae_copy *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->targets[i]);
        free(c->dsts[i]);
    }
    free(c->targets);
    free(c->dsts);
    free(c->rootfs);
    free(c);
}

/* The task's volumes: each created on first use, recorded as used by ctr_id, its _data the
 * source of the mount's bind; an empty one without NoCopy is added to *copy for copy-up. On
 * failure the uses recorded are dropped, and anonymous volumes made for it removed. */
static int volumes_prepare(struct agent_exec *ae, const char *ctr_id, struct agent_exec_spec *s,
                           struct ae_copy **copy, struct err *e)
{
    size_t nspec = s->spec.n_mounts; /* before net_prepare: every mount is the spec's */
    int rc = 0;
    *copy = NULL;
    for (size_t i = 0; i < s->nvols && !rc; i++) {
        struct agent_exec_vol *v = &s->vols[i];
        struct exec_mount *m = &s->mounts[v->mount];
        struct volume_req rq = {.name = v->name,
                                .driver = v->driver,
                                .labels = v->labels,
                                .options = v->options,
                                .anonymous = !v->name};
        char *name = NULL;
        bool created = false;
        if (!ae->volumes) {
            rc = err_set(e, ERR_INVALID,
                         "invalid mount config for type \"volume\": this node's volume store "
                         "did not open (see the daemon's log)");
            break;
        }
        if ((rc = volume_create(ae->volumes, &rq, &name, &created, e)) < 0)
            break;
        free(v->name);
        v->name = name;
        if ((rc = volume_use(ae->volumes, name, ctr_id, e)) < 0) {
            if (created && rq.anonymous)
                volume_remove(ae->volumes, name, false, NULL, NULL);
            break;
        }
        m->source = volume_data_path(ae->volumes, name);
        int empty = v->nocopy ? 0 : volume_dir_empty(m->source, e);
        if (empty < 0) {
            rc = empty;
        } else if (empty) {
            if (!*copy)
                *copy = xcalloc(1, sizeof(**copy));
            struct ae_copy *c = *copy;
            c->targets = xrealloc(c->targets, (c->n + 1) * sizeof(*c->targets));
            c->dsts = xrealloc(c->dsts, (c->n + 1) * sizeof(*c->dsts));
            c->targets[c->n] = xstrdup(m->target);
            c->dsts[c->n++] = xstrdup(m->source);
        }
    }
    if (rc < 0) {
        if (ae->volumes)
            volume_unuse(ae->volumes, ctr_id, true);
        copy_free(*copy);
        *copy = NULL;
        return rc;
    }
    json_object_set_new(s->extra, "mounts", mounts_inspect(s, nspec));
    return 0;
}

/* A prepare that failed after exec made the container (copy-up): the container is deleted,
 * its network and volumes let go, and the prepare fails with the copy's error (op->err). */
static void prepare_undone(void *arg, int rc, const struct err *e)
{
    struct ae_op *op = arg;
    struct agent_exec *ae = op->ae;
    if (rc < 0 && rc != -ERR_NOT_FOUND)
        log_warn("container %.12s: removing it after a failed prepare: %s", op->t->ctr_id,
                 e ? e->msg : "error");
    net_detach_quiet(ae, op->t->ctr_id);
    if (ae->volumes)
        volume_unuse(ae->volumes, op->t->ctr_id, true);
    task_forget(ae, op->t);
    op->t = NULL;
    op_finish(op, -ERR_INTERNAL, op->err);
}

static void copy_work(uv_work_t *w)
{
    struct ae_copy *c = w->data;
    for (size_t i = 0; i < c->n && !c->rc; i++)
        c->rc = volume_copy_up(c->rootfs, c->targets[i], c->dsts[i], &c->e);
}

static void copy_done(uv_work_t *w, int status)
{
    struct ae_copy *c = w->data;
    struct ae_op *op = c->op;
    if (!op) { /* the adapter was freed meanwhile */
        copy_free(c);
        return;
    }
    op->copy = NULL;
    if (status < 0 && !c->rc)
        c->rc = err_set(&c->e, ERR_INTERNAL, "copy-up: %s", uv_strerror(status));
    if (c->rc < 0) {
        snprintf(op->err, sizeof(op->err), "%s", c->e.msg);
        op->t->on_exit = NULL; /* the agent never saw this container */
        exec_delete(op->ae->x, op->t->ctr_id, true, prepare_undone, op);
    } else {
        op->t = NULL; /* the maps own it now */
        op_finish(op, 0, NULL);
    }
    copy_free(c);
}

static void prepare_created(void *arg, int rc, const struct err *e)
{
    struct ae_op *op = arg;
    struct agent_exec *ae = op->ae;
    if (rc < 0) {
        net_detach_quiet(ae, op->t->ctr_id);
        if (ae->volumes)
            volume_unuse(ae->volumes, op->t->ctr_id, true);
        copy_free(op->copy);
        op->copy = NULL;
        task_forget(ae, op->t);
        op->t = NULL;
        return op_finish(op, rc, e ? e->msg : NULL);
    }
    if (op->copy) { /* the image's content into new volumes, before the task may start */
        struct ae_copy *c = op->copy;
        c->op = op;
        c->rootfs = exec_rootfs_path(ae->x, op->t->ctr_id);
        c->work.data = c;
        uv_queue_work(ae->loop, &c->work, copy_work, copy_done);
        return;
    }
    op->t = NULL; /* the maps own it now */
    op_finish(op, 0, NULL);
}

static void ae_prepare(void *ctx, json_t *task, const char *service_name, agent_exit_cb on_exit,
                       void *exit_arg, agent_done_cb done, void *arg)
{
    struct agent_exec *ae = ctx;
    struct err e = {0};
    const char *task_id = jstr(task, "ID");
    const char *image =
        jstr(json_object_get(json_object_get(task, "Spec"), "ContainerSpec"), "Image");
    if (!task_id) {
        err_set(&e, ERR_INVALID, "task has no ID");
        return fail_later(ae, done, arg, &e);
    }
    struct ae_task *old = strmap_get(ae->by_task, task_id);
    if (old) { /* prepared before (or found at restore): the same container */
        struct exec_state st;
        if (exec_state_get(ae->x, old->ctr_id, &st, NULL) == 0) {
            old->on_exit = on_exit;
            old->exit_arg = exit_arg;
            return op_finish(op_new(ae, AE_PREPARE, done, arg), 0, NULL);
        }
        task_forget(ae, old);
    }
    if (!image) {
        err_set(&e, ERR_INVALID, "task %s has no image", task_id);
        return fail_later(ae, done, arg, &e);
    }
    char image_id[72];
    const json_t *config = NULL;
    char **lower = NULL;
    if (image_resolve(ae->images, image, image_id, &e) < 0 ||
        image_config_get(ae->images, image_id, &config, &e) < 0 ||
        image_lower_dirs(ae->images, image_id, &lower, &e) < 0)
        return fail_later(ae, done, arg, &e);
    char ctr_id[65];
    hex_id_new(ctr_id);
    struct agent_exec_spec s;
    if (agent_exec_spec_build(task, service_name ? service_name : "", ae->node_id, ctr_id, config,
                              image_id, lower, &s, &e) < 0) {
        image_lower_free(lower);
        return fail_later(ae, done, arg, &e);
    }
    struct ae_copy *copy = NULL;
    if (volumes_prepare(ae, ctr_id, &s, &copy, &e) < 0) {
        agent_exec_spec_release(&s);
        image_lower_free(lower);
        return fail_later(ae, done, arg, &e);
    }
    struct net_attachment att;
    if (ae->net && net_prepare(ae, ctr_id, &s, &att, &e) < 0) {
        if (ae->volumes)
            volume_unuse(ae->volumes, ctr_id, true);
        copy_free(copy);
        agent_exec_spec_release(&s);
        image_lower_free(lower);
        return fail_later(ae, done, arg, &e);
    }
    struct ae_task *t = xcalloc(1, sizeof(*t));
    t->task_id = xstrdup(task_id);
    t->ctr_id = xstrdup(ctr_id);
    t->image_id = xstrdup(image_id);
    t->health = s.spec.health != NULL;
    t->on_exit = on_exit;
    t->exit_arg = exit_arg;
    if (ae->net && s.nports) {
        t->ports = xcalloc(s.nports, sizeof(*t->ports));
        memcpy(t->ports, s.ports, s.nports * sizeof(*t->ports));
        t->nports = s.nports;
    }
    strmap_put(ae->by_task, t->task_id, t);
    strmap_put(ae->by_ctr, t->ctr_id, t);
    struct ae_op *op = op_new(ae, AE_PREPARE, done, arg);
    op->t = t;
    op->copy = copy;
    exec_create(ae->x, &s.spec, ctr_exited, ae, prepare_created, op);
    agent_exec_spec_release(&s);
    image_lower_free(lower);
}

/* ---- start, stop, remove, status ---- */

static void op_exec_done(void *arg, int rc, const struct err *e)
{
    op_finish(arg, rc, e ? e->msg : NULL);
}

/* exec's start is done: with a healthcheck the op waits (t->start_op) for healthy or the
 * exit, whichever comes first. */
static void start_done(void *arg, int rc, const struct err *e)
{
    struct ae_op *op = arg;
    struct ae_task *t = strmap_get(op->ae->by_task, op->exit_task);
    if (rc < 0 || !t || !t->health || t->start_op)
        return op_finish(op, rc, e ? e->msg : NULL);
    t->start_op = op;
    if (t->exited)
        start_end_exit(t, t->exit_code);
    else if (exec_health_status(op->ae->x, t->ctr_id) == EXEC_HEALTH_HEALTHY)
        start_end(t, 0, NULL);
}

static void ae_start(void *ctx, const char *task_id, agent_done_cb done, void *arg)
{
    struct agent_exec *ae = ctx;
    struct ae_task *t = strmap_get(ae->by_task, task_id);
    if (!t) {
        struct err e;
        err_set(&e, ERR_NOT_FOUND, "no container for task %s", task_id);
        return fail_later(ae, done, arg, &e);
    }
    struct ae_op *op = op_new(ae, AE_START, done, arg);
    op->exit_task = xstrdup(task_id);
    exec_start(ae->x, t->ctr_id, start_done, op);
}

static void stop_done(void *arg, int rc, const struct err *e)
{
    /* a container that is gone is stopped */
    op_finish(arg, rc == -ERR_NOT_FOUND ? 0 : rc, e ? e->msg : NULL);
}

static void ae_stop(void *ctx, const char *task_id, int64_t grace_ns, agent_done_cb done, void *arg)
{
    struct agent_exec *ae = ctx;
    struct ae_task *t = strmap_get(ae->by_task, task_id);
    struct ae_op *op = op_new(ae, AE_STOP, done, arg);
    if (!t)
        return op_finish(op, 0, NULL);
    exec_stop(ae->x, t->ctr_id, grace_ns, stop_done, op);
}

static void remove_done(void *arg, int rc, const struct err *e)
{
    struct ae_op *op = arg;
    struct agent_exec *ae = op->ae;
    struct ae_task *t = strmap_get(ae->by_ctr, op->ctr_id);
    if (rc == -ERR_NOT_FOUND)
        rc = 0;
    if (rc == 0)
        net_detach_quiet(ae, op->ctr_id);
    if (rc == 0 && ae->volumes)
        volume_unuse(ae->volumes, op->ctr_id, op->remove_volumes);
    if (rc == 0 && t) {
        /* removed by hand before its exit was seen (a created container, or an exit that
         * raced the delete): the agent must still learn that it is gone */
        if (!t->exited && t->on_exit) {
            op->exit_cb = t->on_exit;
            op->exit_cb_arg = t->exit_arg;
            op->exit_task = xstrdup(t->task_id);
            op->exit_code = op->was_running ? 137 : -1;
        }
        t->exited = true;
        start_end(t, -ERR_INTERNAL, "dockerexec: container destroyed");
        task_forget(ae, t);
    }
    op_finish(op, rc, e ? e->msg : NULL);
}

static void remove_ctr(struct agent_exec *ae, const char *ctr_id, bool force, bool remove_volumes,
                       agent_done_cb done, void *arg)
{
    struct ae_op *op = op_new(ae, AE_REMOVE, done, arg);
    op->ctr_id = xstrdup(ctr_id);
    op->remove_volumes = remove_volumes;
    struct exec_state st;
    op->was_running = exec_state_get(ae->x, ctr_id, &st, NULL) == 0 && st.status == EXEC_RUNNING;
    exec_delete(ae->x, ctr_id, force, remove_done, op);
}

static void ae_remove(void *ctx, const char *task_id, agent_done_cb done, void *arg)
{
    struct agent_exec *ae = ctx;
    struct ae_task *t = strmap_get(ae->by_task, task_id);
    if (!t)
        return op_finish(op_new(ae, AE_REMOVE, done, arg), 0, NULL);
    remove_ctr(ae, t->ctr_id, true, true, done, arg); /* moby's executor: RemoveVolumes */
}

void agent_exec_remove_container(struct agent_exec *ae, const char *ctr_id, bool force,
                                 bool remove_volumes, agent_done_cb done, void *arg)
{
    struct exec_state st;
    struct err e = {0};
    if (exec_state_get(ae->x, ctr_id, &st, &e) < 0)
        return fail_later(ae, done, arg, &e);
    remove_ctr(ae, ctr_id, force, remove_volumes, done, arg);
}

static int ae_status(void *ctx, const char *task_id, struct agent_ctr *out)
{
    struct agent_exec *ae = ctx;
    struct ae_task *t = strmap_get(ae->by_task, task_id);
    struct exec_state st;
    if (!t || exec_state_get(ae->x, t->ctr_id, &st, NULL) < 0)
        return -ERR_NOT_FOUND;
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", t->ctr_id);
    out->pid = st.status == EXEC_RUNNING ? st.pid : 0;
    out->exit_code = st.status == EXEC_EXITED ? st.exit_code : 0;
    out->ports = t->ports;
    out->nports = t->nports;
    return 0;
}

struct exec *agent_exec_exec(struct agent_exec *ae)
{
    return ae->x;
}

const char *agent_exec_container(struct agent_exec *ae, const char *task_id)
{
    struct ae_task *t = strmap_get(ae->by_task, task_id);
    return t ? t->ctr_id : NULL;
}

bool agent_exec_image_user(void *arg, const char *image_id, char *container, size_t cap,
                           bool *running)
{
    struct agent_exec *ae = arg;
    const char *k;
    void *v;
    size_t it = 0;
    bool found = false;
    while (strmap_next(ae->by_ctr, &it, &k, &v)) {
        struct ae_task *t = v;
        struct exec_state st;
        if (!t->image_id || strcmp(t->image_id, image_id) ||
            exec_state_get(ae->x, t->ctr_id, &st, NULL) < 0)
            continue;
        bool run = st.status == EXEC_RUNNING;
        if (!found || run) {
            snprintf(container, cap, "%.12s", t->ctr_id);
            *running = run;
        }
        found = true;
        if (run)
            break;
    }
    return found;
}

/* ---- restore ---- */

/* A container found on disk uses its volumes again (the in-use state lives in memory). */
static void volumes_restore(struct agent_exec *ae, const char *ctr_id, json_t *meta)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(meta, "extra"), "mounts"), i, m)
    {
        const char *name = jstr(m, "Name");
        struct err e = {0};
        if (!name || !ae->volumes || strcmp(jstr(m, "Type") ?: "", "volume"))
            continue;
        if (volume_use(ae->volumes, name, ctr_id, &e) < 0)
            log_warn("container %.12s: volume %s: %s", ctr_id, name, e.msg);
    }
}

static void restore_found(void *arg, const char *ctr_id, enum exec_found what,
                          const struct exec_state *st)
{
    struct ae_op *op = arg;
    struct agent_exec *ae = op->ae;
    if (what == EXEC_FOUND_REMOVED || strmap_get(ae->by_ctr, ctr_id))
        return;
    json_t *meta = NULL;
    if (exec_meta_get(ae->x, ctr_id, &meta, NULL) < 0)
        return;
    volumes_restore(ae, ctr_id, meta);
    const char *task_id =
        json_string_value(json_object_get(json_object_get(meta, "labels"), LABEL_PREFIX "task.id"));
    if (task_id && task_id[0] && !strmap_get(ae->by_task, task_id)) {
        struct ae_task *t = xcalloc(1, sizeof(*t));
        t->task_id = xstrdup(task_id);
        t->ctr_id = xstrdup(ctr_id);
        const char *img =
            json_string_value(json_object_get(json_object_get(meta, "extra"), "image_id"));
        t->image_id = img && img[0] ? xstrdup(img) : NULL;
        t->exited = what == EXEC_FOUND_EXITED;
        t->exit_code = st->exit_code;
        t->health = json_is_object(json_object_get(meta, "health"));
        if (ae->net)
            net_ports(ae->net, ctr_id, &t->ports, &t->nports);
        strmap_put(ae->by_task, t->task_id, t);
        strmap_put(ae->by_ctr, t->ctr_id, t);
    }
    json_decref(meta);
}

static void net_collect(void *arg, const char *ctr_id)
{
    struct buf *b = arg;
    buf_add(b, ctr_id, strlen(ctr_id) + 1);
}

/* Attachments whose container exec no longer knows (removed while the daemon was down, or a
 * crash between attach and create) are detached. */
static void net_reconcile(struct agent_exec *ae)
{
    if (!ae->net)
        return;
    struct buf b = BUF_INIT;
    net_each(ae->net, net_collect, &b);
    for (size_t off = 0; off < b.len; off += strlen(b.p + off) + 1) {
        struct exec_state st;
        if (!strmap_get(ae->by_ctr, b.p + off) && exec_state_get(ae->x, b.p + off, &st, NULL) < 0)
            net_detach_quiet(ae, b.p + off);
    }
    buf_release(&b);
}

/* Runs from op_fire: every task container known, to the caller's found. */
static void restore_report(struct ae_op *op)
{
    struct agent_exec *ae = op->ae;
    net_reconcile(ae);
    const char *k;
    void *v;
    size_t it = 0;
    char **ids = NULL;
    size_t n = 0;
    while (strmap_next(ae->by_task, &it, &k, &v)) {
        struct ae_task *t = v;
        if (op->on_exit) {
            t->on_exit = op->on_exit;
            t->exit_arg = op->exit_arg;
        }
        strv_push(&ids, &n, xstrdup(k));
    }
    /* found() may call back into the adapter: walk a copy of the IDs */
    for (size_t i = 0; i < n; i++) {
        struct ae_task *t = strmap_get(ae->by_task, ids[i]);
        struct exec_state st;
        if (!t || !op->found)
            continue;
        bool known = exec_state_get(ae->x, t->ctr_id, &st, NULL) == 0;
        bool running = known && st.status == EXEC_RUNNING && !t->exited;
        /* exited: its code; created but never started (or gone): -1, never a clean 0 */
        int code = t->exited ? t->exit_code : running ? 0 : -1;
        op->found(op->arg, t->task_id, running, code);
    }
    strv_free(ids);
}

static void ae_restore(void *ctx,
                       void (*found)(void *arg, const char *task_id, bool running, int exit_code),
                       agent_exit_cb on_exit, void *exit_arg, agent_done_cb done, void *arg)
{
    struct agent_exec *ae = ctx;
    struct ae_op *op = op_new(ae, AE_RESTORE, done, arg);
    op->found = found;
    op->on_exit = on_exit;
    op->exit_arg = exit_arg;
    exec_restore(ae->x, restore_found, ctr_exited, ae, op_exec_done, op);
}

void agent_exec_restore(struct agent_exec *ae, agent_done_cb done, void *arg)
{
    ae_restore(ae, NULL, NULL, NULL, done, arg);
}

static void ae_unwatch(void *ctx, void *exit_arg)
{
    struct agent_exec *ae = ctx;
    size_t it = 0;
    const char *k;
    void *v;
    while (strmap_next(ae->by_task, &it, &k, &v)) {
        struct ae_task *t = v;
        if (t->exit_arg == exit_arg) {
            t->on_exit = NULL;
            t->exit_arg = NULL;
        }
    }
    for (struct ae_op *op = ae->ops; op; op = op->next) {
        if (op->exit_arg == exit_arg) {
            op->on_exit = NULL;
            op->exit_arg = NULL;
        }
        if (op->exit_cb_arg == exit_arg) {
            op->exit_cb = NULL;
            op->exit_cb_arg = NULL;
        }
        if (op->t && op->t->exit_arg == exit_arg) { /* a container being created */
            op->t->on_exit = NULL;
            op->t->exit_arg = NULL;
        }
    }
}

struct ae_all {
    struct agent_exec *ae;
    agent_done_cb done;
    void *arg;
    size_t left;
    int rc;
    char err[ERR_MSG_MAX];
};

static void all_one(void *arg, int rc, const char *err)
{
    struct ae_all *a = arg;
    if (rc < 0 && !a->rc) {
        a->rc = rc;
        snprintf(a->err, sizeof(a->err), "%s", err ? err : "");
    }
    if (--a->left)
        return;
    /* swarm leave: with the containers gone, the node's networking goes (dockerd removes
     * docker_gwbridge's endpoints and its rules); not when the daemon is only stopping */
    struct err e = {0};
    if (a->ae->net && !a->ae->freeing && net_teardown(a->ae->net, &e) < 0 && !a->rc) {
        a->rc = -e.kind;
        snprintf(a->err, sizeof(a->err), "%s", e.msg);
    }
    a->done(a->arg, a->rc, a->rc ? a->err : NULL);
    free(a);
}

static void ae_remove_all(void *ctx, agent_done_cb done, void *arg)
{
    struct agent_exec *ae = ctx;
    struct ae_all *a = xcalloc(1, sizeof(*a));
    a->ae = ae;
    a->done = done;
    a->arg = arg;
    char **ids = NULL;
    size_t n = 0, it = 0;
    const char *k;
    void *v;
    while (strmap_next(ae->by_task, &it, &k, &v))
        strv_push(&ids, &n, xstrdup(k));
    a->left = n + 1; /* + the deferred one below: done always runs later */
    for (size_t i = 0; i < n; i++) {
        ae_remove(ae, ids[i], all_one, a);
        free(ids[i]);
    }
    free(ids);
    op_finish(op_new(ae, AE_REMOVE, all_one, a), 0, NULL);
}

const struct agent_exec_ops agent_exec_real_ops = {
    .prepare = ae_prepare,
    .start = ae_start,
    .stop = ae_stop,
    .remove = ae_remove,
    .status = ae_status,
    .restore = ae_restore,
    .unwatch = ae_unwatch,
    .remove_all = ae_remove_all,
};
