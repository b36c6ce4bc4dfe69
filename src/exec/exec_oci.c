/* exec_oci.c — the OCI runtime config (config.json) for a container spec, with Docker's
 * defaults: its 14 default capabilities, its default mounts (/proc, /dev, /dev/pts, /sys,
 * /sys/fs/cgroup, /dev/mqueue, /dev/shm of 64 MiB), its masked and read-only /proc and /sys
 * paths, its device cgroup rules, PATH and HOSTNAME added to the environment, --init as
 * /sbin/docker-init bind-mounted read-only and put in front of the args, and CPU limits as
 * quota/period 100 ms, cap-add/cap-drop as moby's TweakCapabilities, sysctls refused where
 * runc refuses them (not namespaced), ulimits as process.rlimits (-1: unlimited, written as
 * uint64 by exec_oci_dumps), additional gids, a terminal for a TTY (with TERM=xterm).
 * Pure: no I/O (exec_oci_dumps draws a random placeholder); every number is checked before
 * it is used.
 * Left out for now: seccomp and AppArmor profiles. */
#include "exec/exec_int.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define INIT_TARGET "/sbin/docker-init"

static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};
/* Every capability by number (linux/capability.h); "ALL" means those up to cap_last. */
static const char *const all_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const struct {
    const char *name;
    int num;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

int exec_signal_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    if (isdigit((unsigned char)*s)) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v < 1 || v > 64)
            return -1;
        return (int)v;
    }
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
        if (!strcasecmp(s, signals[i].name))
            return signals[i].num;
    return -1;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *mount_new(const char *dest, const char *type, const char *src,
                         const char *const *opts)
{
    json_t *m = json_object();
    json_object_set_new(m, "destination", json_string(dest));
    json_object_set_new(m, "type", json_string(type));
    json_object_set_new(m, "source", json_string(src));
    json_t *o = json_array();
    for (size_t i = 0; opts[i]; i++)
        json_array_append_new(o, json_string(opts[i]));
    json_object_set_new(m, "options", o);
    return m;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX - 1)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int user_parse(const char *user, uint32_t *uid, uint32_t *gid, struct err *e)
{
    *uid = *gid = 0;
    if (!user || !*user)
        return 0;
    const char *colon = strchr(user, ':');
    size_t ulen = colon ? (size_t)(colon - user) : strlen(user);
    if (parse_u32(user, ulen, uid) < 0 ||
        (colon && parse_u32(colon + 1, strlen(colon + 1), gid) < 0))
        return err_set(e, ERR_INVALID,
                       "unable to find user %s: only numeric uid[:gid] is supported", user);
    return 0;
}

static void device_rule(json_t *a, bool allow, const char *type, int64_t major, int64_t minor,
                        const char *access)
{
    json_t *d = json_object();
    json_object_set_new(d, "allow", json_boolean(allow));
    if (type)
        json_object_set_new(d, "type", json_string(type));
    if (major >= 0)
        json_object_set_new(d, "major", json_integer(major));
    if (minor >= 0)
        json_object_set_new(d, "minor", json_integer(minor));
    json_object_set_new(d, "access", json_string(access));
    json_array_append_new(a, d);
}

/* Docker's default device cgroup rules (moby oci/defaults.go, DefaultLinuxSpec). */
static json_t *devices_new(void)
{
    json_t *a = json_array();
    device_rule(a, false, NULL, -1, -1, "rwm");
    device_rule(a, true, "c", -1, -1, "m");
    device_rule(a, true, "b", -1, -1, "m");
    device_rule(a, true, "c", 1, 3, "rwm");    /* /dev/null */
    device_rule(a, true, "c", 1, 8, "rwm");    /* /dev/random */
    device_rule(a, true, "c", 1, 7, "rwm");    /* /dev/full */
    device_rule(a, true, "c", 5, 0, "rwm");    /* /dev/tty */
    device_rule(a, true, "c", 1, 5, "rwm");    /* /dev/zero */
    device_rule(a, true, "c", 1, 9, "rwm");    /* /dev/urandom */
    device_rule(a, true, "c", 136, -1, "rwm"); /* /dev/pts/N */
    device_rule(a, true, "c", 5, 2, "rwm");    /* /dev/ptmx */
    device_rule(a, true, "c", 10, 200, "rwm"); /* /dev/net/tun */
    return a;
}

static bool env_has(const char *const *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (!strncmp(env[i], key, kl) && env[i][kl] == '=')
            return true;
    return false;
}

static int mounts_add(json_t *mounts, const struct exec_spec *s, const struct exec_oci_opts *o,
                      struct err *e)
{
    static const char *const proc_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *const pts_o[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                        "mode=0620", "gid=5",  NULL};
    static const char *const sys_o[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    static const char *const cg_o[] = {"ro", "nosuid", "noexec", "nodev", NULL};
    static const char *const mq_o[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const shm_o[] = {"nosuid",    "noexec",        "nodev",
                                        "mode=1777", "size=67108864", NULL};
    json_array_append_new(mounts, mount_new("/proc", "proc", "proc", proc_o));
    json_array_append_new(mounts, mount_new("/dev", "tmpfs", "tmpfs", dev_o));
    json_array_append_new(mounts, mount_new("/dev/pts", "devpts", "devpts", pts_o));
    json_array_append_new(mounts, mount_new("/sys", "sysfs", "sysfs", sys_o));
    json_array_append_new(mounts, mount_new("/sys/fs/cgroup", "cgroup", "cgroup", cg_o));
    json_array_append_new(mounts, mount_new("/dev/mqueue", "mqueue", "mqueue", mq_o));
    json_array_append_new(mounts, mount_new("/dev/shm", "tmpfs", "shm", shm_o));
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct exec_mount *m = &s->mounts[i];
        if (!m->target || m->target[0] != '/')
            return err_set(e, ERR_INVALID, "invalid mount config: target must be an absolute path");
        if (m->type && !strcmp(m->type, "tmpfs")) {
            const char *opts[8];
            size_t n = 0;
            char size[32], mode[32];
            opts[n++] = "nosuid";
            opts[n++] = "nodev";
            opts[n++] = "noexec";
            if (m->readonly)
                opts[n++] = "ro";
            if (m->tmpfs_size > 0) {
                snprintf(size, sizeof(size), "size=%lld", (long long)m->tmpfs_size);
                opts[n++] = size;
            }
            if (m->tmpfs_mode > 0) {
                snprintf(mode, sizeof(mode), "mode=%o", m->tmpfs_mode & 07777);
                opts[n++] = mode;
            }
            opts[n] = NULL;
            json_array_append_new(mounts, mount_new(m->target, "tmpfs", "tmpfs", opts));
        } else if (!m->type || !strcmp(m->type, "bind")) {
            if (!m->source || m->source[0] != '/')
                return err_set(e, ERR_INVALID,
                               "invalid mount config for type \"bind\": invalid mount path: '%s' "
                               "mount path must be absolute",
                               m->source ? m->source : "");
            const char *opts[] = {"rbind", m->readonly ? "ro" : "rw", "rprivate", NULL};
            json_array_append_new(mounts, mount_new(m->target, "bind", m->source, opts));
        } else {
            return err_set(e, ERR_INVALID, "invalid mount config: mount type unknown: \"%s\"",
                           m->type);
        }
    }
    if (s->init) {
        if (!o->init_path)
            return err_set(e, ERR_INVALID, "no init binary (tini-static) found on this node");
        const char *opts[] = {"bind", "ro", NULL};
        json_array_append_new(mounts, mount_new(INIT_TARGET, "bind", o->init_path, opts));
    }
    return 0;
}

static json_t *resources_new(const struct exec_spec *s, const struct exec_oci_opts *o)
{
    json_t *r = json_object();
    json_object_set_new(r, "devices", devices_new());
    if (s->memory > 0) {
        json_t *m = json_object();
        json_object_set_new(m, "limit", json_integer(s->memory));
        if (o->swap_accounting)
            json_object_set_new(m, "swap", json_integer(s->memory * 2));
        json_object_set_new(r, "memory", m);
    }
    if (s->nano_cpus > 0 || s->cpu_shares > 0) {
        json_t *c = json_object();
        if (s->cpu_shares > 0)
            json_object_set_new(c, "shares", json_integer(s->cpu_shares));
        if (s->nano_cpus > 0) {
            /* Docker: period 100 ms, quota = NanoCPUs * period / 1e9. */
            const int64_t period = 100000;
            json_object_set_new(c, "quota", json_integer(s->nano_cpus * period / 1000000000));
            json_object_set_new(c, "period", json_integer(period));
        }
        json_object_set_new(r, "cpu", c);
    }
    if (s->pids_limit > 0) {
        json_t *p = json_object();
        json_object_set_new(p, "limit", json_integer(s->pids_limit));
        json_object_set_new(r, "pids", p);
    }
    return r;
}

/* ---- capabilities: moby's TweakCapabilities over Docker's defaults ---- */

static bool strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

/* "net_admin" / "CAP_NET_ADMIN" / "all" → "CAP_NET_ADMIN" / "ALL" (heap, in out[*n]);
 * -ERR_INVALID with Docker's words for a name this kernel does not know. */
static int caps_normalize(const char *const *in, size_t ncaps, char ***out, size_t *n,
                          struct err *e)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; in && in[i]; i++) {
        const char *c = in[i];
        bool pfx = !strncasecmp(c, "CAP_", 4) || !strcasecmp(c, "ALL");
        char *u = pfx ? xstrdup(c) : xasprintf("CAP_%s", c);
        for (char *p = u; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = u;
        if (!strcmp(u, "ALL"))
            continue;
        bool known = false;
        for (size_t k = 0; k < ncaps && !known; k++)
            known = !strcmp(all_caps[k], u);
        if (!known)
            return err_set(e, ERR_INVALID, "unknown capability: \"%s\"", u);
    }
    return 0;
}

static void caps_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void cap_push(json_t *a, const char *c)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) if (!strcmp(json_string_value(x), c)) return;
    json_array_append_new(a, json_string(c));
}

/* The capability set: defaults; ALL added: every known one but the dropped; ALL dropped:
 * only the added; else defaults minus dropped plus added. (moby appends an added default
 * twice; the set here holds each once.) */
static int caps_build(const struct exec_spec *s, const struct exec_oci_opts *o, json_t **out,
                      struct err *e)
{
    size_t ncaps = o->cap_last > 0 && (size_t)o->cap_last < ARRAY_SIZE(all_caps)
                       ? (size_t)o->cap_last + 1
                       : ARRAY_SIZE(all_caps);
    char **add = NULL, **drop = NULL;
    size_t nadd = 0, ndrop = 0;
    int rc = caps_normalize(s->cap_drop, ncaps, &drop, &ndrop, e);
    if (rc == 0)
        rc = caps_normalize(s->cap_add, ncaps, &add, &nadd, e);
    if (rc < 0) {
        caps_free(add, nadd);
        caps_free(drop, ndrop);
        return rc;
    }
    json_t *a = json_array();
    if (strv_has(add, nadd, "ALL")) {
        for (size_t i = 0; i < ncaps; i++)
            if (!strv_has(drop, ndrop, all_caps[i]))
                cap_push(a, all_caps[i]);
    } else if (strv_has(drop, ndrop, "ALL")) {
        for (size_t i = 0; i < nadd; i++)
            cap_push(a, add[i]);
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
            if (!strv_has(drop, ndrop, default_caps[i]))
                cap_push(a, default_caps[i]);
        for (size_t i = 0; i < nadd; i++)
            cap_push(a, add[i]);
    }
    caps_free(add, nadd);
    caps_free(drop, ndrop);
    *out = a;
    return 0;
}

/* ---- sysctls: only namespaced ones, as runc's validator allows them ---- */

static int sysctls_build(const struct exec_spec *s, json_t **out, struct err *e)
{
    static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                      "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                      "kernel.shmmni", "kernel.shm_rmid_forced"};
    json_t *m = json_object();
    for (size_t i = 0; s->sysctls && s->sysctls[i]; i++) {
        const char *kv = s->sysctls[i], *eq = strchr(kv, '=');
        char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
        bool ok = str_has_prefix(k, "net.") || str_has_prefix(k, "fs.mqueue.") ||
                  !strcmp(k, "kernel.domainname");
        for (size_t j = 0; j < ARRAY_SIZE(ipc) && !ok; j++)
            ok = !strcmp(k, ipc[j]);
        int rc = 0;
        if (!eq || !*k)
            rc = err_set(e, ERR_INVALID, "sysctl '%s' is not allowed", kv);
        else if (!strcmp(k, "kernel.hostname"))
            rc = err_set(e, ERR_INVALID,
                         "sysctl \"%s\" is not allowed as it conflicts with the OCI \"hostname\" "
                         "field",
                         k);
        else if (!ok)
            rc = err_set(e, ERR_INVALID, "sysctl \"%s\" is not in a separate kernel namespace", k);
        if (rc < 0) {
            free(k);
            json_decref(m);
            return rc;
        }
        json_object_set_new(m, k, json_string(eq + 1));
        free(k);
    }
    *out = m;
    return 0;
}

/* ---- ulimits: process.rlimits, Docker's names (go-units) ---- */

static int rlimits_build(const struct exec_spec *s, json_t **out, struct err *e)
{
    static const char *const names[] = {"core",    "cpu",      "data",   "fsize",      "locks",
                                        "memlock", "msgqueue", "nice",   "nofile",     "nproc",
                                        "rss",     "rtprio",   "rttime", "sigpending", "stack"};
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_rlimits; i++) {
        const struct exec_rlimit *r = &s->rlimits[i];
        bool known = false;
        for (size_t j = 0; j < ARRAY_SIZE(names) && r->name && !known; j++)
            known = !strcmp(r->name, names[j]);
        int rc = 0;
        /* go-units' rule (ParseUlimit): a hard limit of -1 takes any soft limit; otherwise
         * a soft -1 (unlimited) is above it, and the rest compare as the uint64s dockerd
         * hands to the runtime. */
        if (!known)
            rc = err_set(e, ERR_INVALID, "invalid ulimit type: %s", r->name ? r->name : "");
        else if (r->hard != -1 && r->soft == -1)
            rc = err_set(e, ERR_INVALID,
                         "ulimit soft limit must be less than or equal to hard limit: soft: -1 "
                         "(unlimited), hard: %lld",
                         (long long)r->hard);
        else if (r->hard != -1 && (uint64_t)r->soft > (uint64_t)r->hard)
            rc = err_set(e, ERR_INVALID,
                         "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
                         (long long)r->soft, (long long)r->hard);
        if (rc < 0) {
            json_decref(a);
            return rc;
        }
        char type[32];
        size_t k = (size_t)snprintf(type, sizeof(type), "RLIMIT_");
        for (const char *p = r->name; *p && k + 1 < sizeof(type); p++)
            type[k++] = (char)toupper((unsigned char)*p);
        type[k] = 0;
        json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "type", type, "hard",
                                           (json_int_t)r->hard, "soft", (json_int_t)r->soft));
    }
    *out = a;
    return 0;
}

char *exec_oci_dumps(const json_t *cfg)
{
    const json_t *rl = json_object_get(json_object_get(cfg, "process"), "rlimits");
    if (!json_array_size(rl))
        return json_dumps(cfg, JSON_INDENT(1));
    /* Dump a copy whose rlimits are a placeholder no string of the spec can spell (a random
     * ID), then write the array in its place by hand. */
    char id[ID_LEN + 1];
    id_new(id);
    char *mark = xasprintf("\"%s\"", id);
    json_t *c = json_deep_copy(cfg);
    json_object_set_new(json_object_get(c, "process"), "rlimits", json_string(id));
    char *txt = json_dumps(c, JSON_INDENT(1));
    json_decref(c);
    char *at = strstr(txt, mark);
    BUG_ON(!at);
    struct buf b = BUF_INIT;
    buf_add(&b, txt, (size_t)(at - txt));
    buf_adds(&b, "[");
    size_t i;
    json_t *r;
    json_array_foreach(rl, i, r)
    {
        char *type = json_dumps(json_object_get(r, "type"), JSON_ENCODE_ANY);
        buf_printf(&b, "%s{\"type\": %s, \"hard\": %llu, \"soft\": %llu}", i ? ", " : "", type,
                   (unsigned long long)(uint64_t)json_integer_value(json_object_get(r, "hard")),
                   (unsigned long long)(uint64_t)json_integer_value(json_object_get(r, "soft")));
        free(type);
    }
    buf_adds(&b, "]");
    buf_adds(&b, at + strlen(mark));
    free(txt);
    free(mark);
    return buf_detach(&b, NULL);
}

int exec_oci_config(const struct exec_spec *s, const struct exec_oci_opts *o, json_t **out,
                    struct err *e)
{
    uint32_t uid, gid;
    if (!s->id || !exec_id_valid(s->id))
        return err_set(e, ERR_INVALID, "invalid container id \"%s\"", s->id ? s->id : "");
    if (!s->args || !s->args[0])
        return err_set(e, ERR_INVALID, "no command specified");
    if (user_parse(s->user, &uid, &gid, e) < 0)
        return -ERR_INVALID;
    if (s->nano_cpus < 0 || (s->nano_cpus > 0 && s->nano_cpus < 1000000))
        return err_set(e, ERR_INVALID, "Range of CPUs is from 0.01 to the number of CPUs");
    if (s->memory < 0 || (s->memory > 0 && s->memory < 6 * 1024 * 1024))
        return err_set(e, ERR_INVALID, "Minimum memory limit allowed is 6MB");
    if (s->cpu_shares < 0 || s->pids_limit < 0)
        return err_set(e, ERR_INVALID, "invalid resources: negative value");
    if (s->stop_signal && exec_signal_parse(s->stop_signal) < 0)
        return err_set(e, ERR_INVALID, "Invalid signal: %s", s->stop_signal);
    json_t *capset = NULL, *sysctl = NULL, *rlimits = NULL;
    if (caps_build(s, o, &capset, e) < 0)
        return -ERR_INVALID;
    if (sysctls_build(s, &sysctl, e) < 0 || rlimits_build(s, &rlimits, e) < 0) {
        json_decref(capset);
        json_decref(sysctl);
        return -ERR_INVALID;
    }

    char hostname[13];
    const char *host = s->hostname;
    if (!host || !*host) {
        snprintf(hostname, sizeof(hostname), "%s", s->id);
        host = hostname;
    }

    json_t *c = json_object();
    json_object_set_new(c, "ociVersion", json_string("1.0.2"));

    json_t *p = json_object();
    json_object_set_new(p, "terminal", json_boolean(s->tty));
    json_t *u = json_object();
    json_object_set_new(u, "uid", json_integer(uid));
    json_object_set_new(u, "gid", json_integer(gid));
    if (s->n_groups) {
        json_t *g = json_array();
        for (size_t i = 0; i < s->n_groups; i++)
            json_array_append_new(g, json_integer(s->groups[i]));
        json_object_set_new(u, "additionalGids", g);
    }
    json_object_set_new(p, "user", u);
    json_t *args = json_array();
    if (s->init) {
        json_array_append_new(args, json_string(INIT_TARGET));
        json_array_append_new(args, json_string("--"));
    }
    for (size_t i = 0; s->args[i]; i++)
        json_array_append_new(args, json_string(s->args[i]));
    json_object_set_new(p, "args", args);
    json_t *env = json_array();
    if (!env_has(s->env, "PATH"))
        json_array_append_new(env, json_string(DEFAULT_PATH));
    if (!env_has(s->env, "HOSTNAME")) {
        char *h = xasprintf("HOSTNAME=%s", host);
        json_array_append_new(env, json_string(h));
        free(h);
    }
    if (s->tty && !env_has(s->env, "TERM")) /* dockerd's CreateDaemonEnvironment */
        json_array_append_new(env, json_string("TERM=xterm"));
    for (size_t i = 0; s->env && s->env[i]; i++)
        json_array_append_new(env, json_string(s->env[i]));
    json_object_set_new(p, "env", env);
    json_object_set_new(p, "cwd", json_string(s->workdir && *s->workdir ? s->workdir : "/"));
    json_t *caps = json_object();
    json_object_set(caps, "bounding", capset);
    json_object_set(caps, "effective", capset);
    json_object_set_new(caps, "permitted", capset);
    json_object_set_new(p, "capabilities", caps);
    if (json_array_size(rlimits))
        json_object_set(p, "rlimits", rlimits);
    json_decref(rlimits);
    json_object_set_new(p, "noNewPrivileges", json_false());
    json_object_set_new(c, "process", p);

    json_t *root = json_object();
    json_object_set_new(root, "path", json_string(o->rootfs_path));
    json_object_set_new(root, "readonly", json_boolean(s->readonly_rootfs));
    json_object_set_new(c, "root", root);
    json_object_set_new(c, "hostname", json_string(host));

    json_t *mounts = json_array();
    json_object_set_new(c, "mounts", mounts);
    if (mounts_add(mounts, s, o, e) < 0) {
        json_decref(c);
        json_decref(sysctl);
        return -ERR_INVALID;
    }

    json_t *lx = json_object();
    char *cg = xasprintf("%s/%s", o->cgroup_parent ? o->cgroup_parent : "/shoal", s->id);
    json_object_set_new(lx, "cgroupsPath", json_string(cg));
    free(cg);
    json_object_set_new(lx, "resources", resources_new(s, o));
    if (json_object_size(sysctl))
        json_object_set(lx, "sysctl", sysctl);
    json_decref(sysctl);
    json_t *ns = json_array();
    static const char *const ns_types[] = {"pid", "network", "ipc", "uts", "mount"};
    for (size_t i = 0; i < ARRAY_SIZE(ns_types); i++) {
        json_t *n = json_object();
        json_object_set_new(n, "type", json_string(ns_types[i]));
        if (!strcmp(ns_types[i], "network") && s->netns_path && *s->netns_path)
            json_object_set_new(n, "path", json_string(s->netns_path));
        json_array_append_new(ns, n);
    }
    json_object_set_new(lx, "namespaces", ns);
    json_object_set_new(lx, "maskedPaths", str_array(masked_paths, ARRAY_SIZE(masked_paths)));
    json_object_set_new(lx, "readonlyPaths", str_array(readonly_paths, ARRAY_SIZE(readonly_paths)));
    json_object_set_new(c, "linux", lx);
    *out = c;
    return 0;
}
