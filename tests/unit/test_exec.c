/* test_exec.c — the executor's pure parts: config.json from a spec (against expected JSON),
 * k8s-file → Docker stdcopy (byte for byte), the cgroup-mode probe and the runtime choice,
 * signal names. No processes, no files. */
#include "exec/exec.h"
#include "harness.h"

#include <signal.h>

static void assert_json_eq(json_t *got, const char *want_text, const char *what)
{
    json_error_t je;
    json_t *want = json_loads(want_text, 0, &je);
    if (!want)
        FAIL_AT("%s: bad expected JSON: %s (line %d)", what, je.text, je.line);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        FAIL_AT("%s differs:\n got  %s\n want %s", what, g, w);
    }
    json_decref(want);
}

#define CAPS                                                                                       \
    "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\","             \
    "\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","               \
    "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]"
#define DEFAULT_MOUNTS                                                                             \
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","                            \
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"                                              \
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","                           \
    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"                      \
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","                     \
    "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\","          \
    "\"gid=5\"]},"                                                                                 \
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","                           \
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"                                       \
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","               \
    "\"options\":[\"ro\",\"nosuid\",\"noexec\",\"nodev\"]},"                                       \
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","                  \
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"                                              \
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","                         \
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=67108864\"]}"
#define DEVICES                                                                                    \
    "[{\"allow\":false,\"access\":\"rwm\"},"                                                       \
    "{\"allow\":true,\"type\":\"c\",\"access\":\"m\"},"                                            \
    "{\"allow\":true,\"type\":\"b\",\"access\":\"m\"},"                                            \
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":8,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":7,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":0,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":9,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rwm\"},"                            \
    "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":2,\"access\":\"rwm\"},"                  \
    "{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rwm\"}]"
#define MASKED                                                                                     \
    "[\"/proc/asound\",\"/proc/acpi\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\","     \
    "\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/proc/scsi\","             \
    "\"/sys/firmware\",\"/sys/devices/virtual/powercap\"]"
#define READONLY "[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]"

TEST(exec_oci_full_spec)
{
    const char *args[] = {"sh", "-c", "echo hi", NULL};
    const char *env[] = {"A=1", NULL};
    struct exec_mount mounts[] = {
        {.type = "bind", .source = "/srv/data", .target = "/data", .readonly = true},
        {.type = "tmpfs", .target = "/scratch", .tmpfs_size = 1048576, .tmpfs_mode = 01777},
    };
    struct exec_spec s = {
        .id = "c0123456789abcdef",
        .lower = NULL,
        .args = args,
        .env = env,
        .workdir = "/work",
        .user = "1000:100",
        .memory = 64 << 20,
        .nano_cpus = 1500000000,
        .cpu_shares = 512,
        .pids_limit = 100,
        .readonly_rootfs = true,
        .init = true,
        .mounts = mounts,
        .n_mounts = 2,
        .netns_path = "/run/netns/x",
    };
    struct exec_oci_opts o = {.rootfs_path = "rootfs",
                              .cgroup_parent = "/shoal",
                              .init_path = "/usr/bin/tini-static",
                              .swap_accounting = true};
    json_t *got = NULL;
    struct err e = {0};
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), 0);
    assert_json_eq(
        got,
        "{\"ociVersion\":\"1.0.2\","
        "\"process\":{\"terminal\":false,\"user\":{\"uid\":1000,\"gid\":100},"
        "\"args\":[\"/sbin/docker-init\",\"--\",\"sh\",\"-c\",\"echo hi\"],"
        "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
        "\"HOSTNAME=c0123456789a\",\"A=1\"],\"cwd\":\"/work\","
        "\"capabilities\":{\"bounding\":" CAPS ",\"effective\":" CAPS ",\"permitted\":" CAPS "},"
        "\"noNewPrivileges\":false},"
        "\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"c0123456789a\","
        "\"mounts\":[" DEFAULT_MOUNTS ","
        "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/data\","
        "\"options\":[\"rbind\",\"ro\",\"rprivate\"]},"
        "{\"destination\":\"/scratch\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "\"options\":[\"nosuid\",\"nodev\",\"noexec\",\"size=1048576\",\"mode=1777\"]},"
        "{\"destination\":\"/sbin/docker-init\",\"type\":\"bind\","
        "\"source\":\"/usr/bin/tini-static\",\"options\":[\"bind\",\"ro\"]}],"
        "\"linux\":{\"cgroupsPath\":\"/shoal/c0123456789abcdef\","
        "\"resources\":{\"devices\":" DEVICES ","
        "\"memory\":{\"limit\":67108864,\"swap\":134217728},"
        "\"cpu\":{\"shares\":512,\"quota\":150000,\"period\":100000},\"pids\":{\"limit\":100}},"
        "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/run/netns/x\"},"
        "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],"
        "\"maskedPaths\":" MASKED ",\"readonlyPaths\":" READONLY "}}",
        "full spec");
    json_decref(got);
}

TEST(exec_oci_minimal_spec)
{
    const char *args[] = {"/bin/true", NULL};
    const char *env[] = {"PATH=/bin", "HOSTNAME=h", NULL};
    struct exec_spec s = {.id = "web.1", .args = args, .env = env, .hostname = "web"};
    struct exec_oci_opts o = {.rootfs_path = "/srv/rootfs", .cgroup_parent = "/p"};
    json_t *got = NULL;
    struct err e = {0};
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), 0);
    json_t *p = json_object_get(got, "process");
    assert_json_eq(json_object_get(p, "env"), "[\"PATH=/bin\",\"HOSTNAME=h\"]", "env kept");
    assert_json_eq(json_object_get(p, "args"), "[\"/bin/true\"]", "args without init");
    assert_json_eq(json_object_get(p, "user"), "{\"uid\":0,\"gid\":0}", "root user");
    ASSERT_EQ_STR(json_string_value(json_object_get(p, "cwd")), "/");
    assert_json_eq(json_object_get(got, "root"), "{\"path\":\"/srv/rootfs\",\"readonly\":false}",
                   "root");
    json_t *lx = json_object_get(got, "linux");
    ASSERT_EQ_STR(json_string_value(json_object_get(lx, "cgroupsPath")), "/p/web.1");
    assert_json_eq(json_object_get(lx, "resources"), "{\"devices\":" DEVICES "}", "no limits");
    assert_json_eq(json_array_get(json_object_get(lx, "namespaces"), 1), "{\"type\":\"network\"}",
                   "own netns");
    ASSERT_EQ_INT(json_array_size(json_object_get(got, "mounts")), 7);
    json_decref(got);
}

TEST(exec_oci_refuses_bad_specs)
{
    const char *args[] = {"x", NULL};
    struct exec_oci_opts o = {.rootfs_path = "rootfs"};
    json_t *got = NULL;
    struct err e = {0};
    struct exec_spec s = {.id = "ok", .args = args, .user = "www-data"};
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "unable to find user www-data");
    s.user = "1:x";
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    s.user = NULL;
    s.memory = 1024;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Minimum memory limit allowed is 6MB");
    s.memory = 0;
    s.init = true; /* no init binary on this node */
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    s.init = false;
    s.stop_signal = "SIGNOPE";
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Invalid signal: SIGNOPE");
    s.stop_signal = NULL;
    struct exec_mount m = {.type = "bind", .source = "rel", .target = "/x"};
    s.mounts = &m;
    s.n_mounts = 1;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    s.n_mounts = 0;
    s.id = "../etc";
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    s.id = "ok";
    s.args = NULL;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_NULL(got);
}

/* The capability set of a spec, compact, in the order config.json lists it. */
static char *caps_of(const struct exec_spec *s, int cap_last, struct err *e)
{
    struct exec_oci_opts o = {.rootfs_path = "rootfs", .cap_last = cap_last};
    json_t *got = NULL;
    if (exec_oci_config(s, &o, &got, e) < 0)
        return NULL;
    json_t *caps = json_object_get(json_object_get(got, "process"), "capabilities");
    /* the three sets are the same */
    ASSERT_TRUE(json_equal(json_object_get(caps, "bounding"), json_object_get(caps, "effective")));
    ASSERT_TRUE(json_equal(json_object_get(caps, "bounding"), json_object_get(caps, "permitted")));
    struct buf b = BUF_INIT;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(caps, "bounding"), i, c)
        buf_printf(&b, "%s%s", i ? " " : "", json_string_value(c) + 4);
    buf_adds(&b, "");
    json_decref(got);
    return buf_detach(&b, NULL);
}

TEST(exec_oci_capabilities_as_docker_tweaks_them)
{
    const char *args[] = {"x", NULL};
    struct exec_spec s = {.id = "ok", .args = args};
    struct err e = {0};
    char *got = caps_of(&s, 40, &e);
    ASSERT_EQ_STR(got, "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP "
                       "SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE");
    free(got);
    /* names with or without CAP_, any case; an added default is not listed twice */
    const char *add[] = {"net_admin", "CAP_SYS_TIME", "Chown", NULL};
    const char *drop[] = {"cap_net_raw", "MKNOD", "kill", NULL};
    s.cap_add = add;
    s.cap_drop = drop;
    got = caps_of(&s, 40, &e);
    ASSERT_EQ_STR(got, "CHOWN DAC_OVERRIDE FSETID FOWNER SETGID SETUID SETFCAP SETPCAP "
                       "NET_BIND_SERVICE SYS_CHROOT AUDIT_WRITE NET_ADMIN SYS_TIME");
    free(got);
    /* ALL added: every capability this kernel knows but the dropped ones */
    const char *all[] = {"all", NULL};
    s.cap_add = all;
    got = caps_of(&s, 40, &e);
    ASSERT_NOT_NULL(got);
    ASSERT_CONTAINS(got, "SYS_ADMIN");
    ASSERT_CONTAINS(got, "CHECKPOINT_RESTORE");
    ASSERT_TRUE(strstr(got, "NET_RAW") == NULL && strstr(got, "MKNOD") == NULL);
    free(got);
    s.cap_drop = NULL;
    got = caps_of(&s, 37, &e); /* a kernel whose last capability is AUDIT_READ */
    ASSERT_EQ_INT(strlen(got) > 0, 1);
    ASSERT_TRUE(strstr(got, "PERFMON") == NULL);
    ASSERT_TRUE(str_has_prefix(got, "CHOWN DAC_OVERRIDE DAC_READ_SEARCH"));
    free(got);
    /* ALL dropped: only the added */
    const char *two[] = {"NET_BIND_SERVICE", "cap_chown", NULL};
    s.cap_add = two;
    s.cap_drop = all;
    got = caps_of(&s, 40, &e);
    ASSERT_EQ_STR(got, "NET_BIND_SERVICE CHOWN");
    free(got);
    s.cap_add = NULL;
    got = caps_of(&s, 40, &e);
    ASSERT_EQ_STR(got, "");
    free(got);
    /* unknown names: Docker's words */
    const char *bad[] = {"NET_ADMIN", "foo", NULL};
    s.cap_drop = NULL;
    s.cap_add = bad;
    ASSERT_NULL(caps_of(&s, 40, &e));
    ASSERT_EQ_STR(e.msg, "unknown capability: \"CAP_FOO\"");
    const char *late[] = {"CAP_BPF", NULL};
    s.cap_add = NULL;
    s.cap_drop = late;
    ASSERT_NULL(caps_of(&s, 37, &e)); /* not known to that kernel */
    ASSERT_EQ_STR(e.msg, "unknown capability: \"CAP_BPF\"");
}

TEST(exec_oci_sysctls_ulimits_groups)
{
    const char *args[] = {"x", NULL};
    const char *sysctls[] = {"net.ipv4.ip_forward=1", "kernel.shmmax=65536", "fs.mqueue.msg_max=20",
                             "kernel.msgmax=9000", NULL};
    struct exec_rlimit rl[] = {{.name = "nofile", .soft = 1024, .hard = 2048},
                               {.name = "nproc", .soft = 50, .hard = 50}};
    const uint32_t groups[] = {10, 2345};
    struct exec_spec s = {.id = "ok",
                          .args = args,
                          .sysctls = sysctls,
                          .rlimits = rl,
                          .n_rlimits = 2,
                          .groups = groups,
                          .n_groups = 2};
    struct exec_oci_opts o = {.rootfs_path = "rootfs"};
    json_t *got = NULL;
    struct err e = {0};
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), 0);
    json_t *p = json_object_get(got, "process");
    assert_json_eq(json_object_get(p, "rlimits"),
                   "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2048,\"soft\":1024},"
                   "{\"type\":\"RLIMIT_NPROC\",\"hard\":50,\"soft\":50}]",
                   "rlimits");
    assert_json_eq(json_object_get(p, "user"), "{\"uid\":0,\"gid\":0,\"additionalGids\":[10,2345]}",
                   "additional gids");
    assert_json_eq(json_object_get(json_object_get(got, "linux"), "sysctl"),
                   "{\"net.ipv4.ip_forward\":\"1\",\"kernel.shmmax\":\"65536\","
                   "\"fs.mqueue.msg_max\":\"20\",\"kernel.msgmax\":\"9000\"}",
                   "sysctls");
    json_decref(got);
    got = NULL;

    /* none set: no keys at all */
    struct exec_spec bare = {.id = "ok", .args = args};
    ASSERT_EQ_INT(exec_oci_config(&bare, &o, &got, &e), 0);
    ASSERT_NULL(json_object_get(json_object_get(got, "process"), "rlimits"));
    ASSERT_NULL(json_object_get(json_object_get(got, "linux"), "sysctl"));
    ASSERT_NULL(json_object_get(json_object_get(json_object_get(got, "process"), "user"),
                                "additionalGids"));
    json_decref(got);
    got = NULL;

    /* refused as runc refuses them, and bad ulimits as Docker's parser does */
    const char *host[] = {"vm.max_map_count=262144", NULL};
    s.sysctls = host;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "sysctl \"vm.max_map_count\" is not in a separate kernel namespace");
    const char *hn[] = {"kernel.hostname=x", NULL};
    s.sysctls = hn;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI "
                         "\"hostname\" field");
    const char *kern[] = {"kernel.pid_max=100", NULL};
    s.sysctls = kern;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "sysctl \"kernel.pid_max\" is not in a separate kernel namespace");
    s.sysctls = NULL;
    rl[1].name = "nofiles";
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "invalid ulimit type: nofiles");
    rl[1].name = "nproc";
    rl[1].soft = 60;
    ASSERT_EQ_INT(exec_oci_config(&s, &o, &got, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "ulimit soft limit must be less than or equal to hard limit: 60 > 50");
    ASSERT_NULL(got);
}

TEST(exec_signal_names)
{
    ASSERT_EQ_INT(exec_signal_parse("SIGTERM"), SIGTERM);
    ASSERT_EQ_INT(exec_signal_parse("term"), SIGTERM);
    ASSERT_EQ_INT(exec_signal_parse("9"), 9);
    ASSERT_EQ_INT(exec_signal_parse("SIGUSR1"), SIGUSR1);
    ASSERT_EQ_INT(exec_signal_parse("0"), -1);
    ASSERT_EQ_INT(exec_signal_parse("65"), -1);
    ASSERT_EQ_INT(exec_signal_parse(""), -1);
    ASSERT_EQ_INT(exec_signal_parse("FOO"), -1);
}

#define CG2 0x63677270L
#define TMPFS 0x01021994L

TEST(exec_cgroup_probe_and_runtime_choice)
{
    ASSERT_EQ_INT(exec_cgroup_mode_classify(CG2, 0, NULL), EXEC_CG_V2);
    ASSERT_EQ_INT(exec_cgroup_mode_classify(TMPFS, 0, NULL), EXEC_CG_V1);
    ASSERT_EQ_INT(exec_cgroup_mode_classify(TMPFS, TMPFS, NULL), EXEC_CG_V1);
    ASSERT_EQ_INT(exec_cgroup_mode_classify(TMPFS, CG2, ""), EXEC_CG_HYBRID_EMPTY);
    ASSERT_EQ_INT(exec_cgroup_mode_classify(TMPFS, CG2, "\n"), EXEC_CG_HYBRID_EMPTY);
    ASSERT_EQ_INT(exec_cgroup_mode_classify(TMPFS, CG2, NULL), EXEC_CG_HYBRID_EMPTY);
    ASSERT_EQ_INT(exec_cgroup_mode_classify(TMPFS, CG2, "hugetlb\n"), EXEC_CG_HYBRID_CONTROLS);

    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_V2, true, true), EXEC_RT_CRUN);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_V1, true, false), EXEC_RT_CRUN);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_HYBRID_EMPTY, true, true), EXEC_RT_CRUN);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_V2, false, true), EXEC_RT_RUNC);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_HYBRID_CONTROLS, true, true), EXEC_RT_CRUN_WRAPPED);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_HYBRID_CONTROLS, false, true), EXEC_RT_RUNC);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_HYBRID_CONTROLS, true, false), EXEC_RT_CRUN_WRAPPED);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_HYBRID_CONTROLS, false, false), 0);
    ASSERT_EQ_INT(exec_runtime_choose(EXEC_CG_V2, false, false), 0);
}

/* ---- logs ---- */
static const struct exec_log_opts all = {.want_stdout = true, .want_stderr = true, .tail = -1};

static void assert_bytes(const struct buf *b, const char *want, size_t n, const char *what)
{
    if (b->len != n || memcmp(b->p, want, n) != 0) {
        fprintf(stderr, "# got %zu bytes:", b->len);
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, " %02x", (unsigned char)b->p[i]);
        fprintf(stderr, "\n");
        FAIL_AT("%s: bytes differ (want %zu)", what, n);
    }
}

#define L1 "2026-11-21T21:05:54.007888341+00:00 stdout F hello\n"
#define L2 "2026-11-21T21:05:55.5+00:00 stderr F oops\n"
#define L3 "2026-11-21T21:05:56.000000001+00:00 stdout F \n"

TEST(exec_logs_frames_byte_for_byte)
{
    const char *in = L1 L2 L3;
    struct buf out = BUF_INIT;
    size_t used = 0;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &all, false, &out, &used), 3);
    ASSERT_EQ_INT(used, strlen(in));
    static const char want[] = "\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
                               "\x02\x00\x00\x00\x00\x00\x00\x05oops\n"
                               "\x01\x00\x00\x00\x00\x00\x00\x01\n";
    assert_bytes(&out, want, sizeof(want) - 1, "plain");

    buf_reset(&out);
    struct exec_log_opts o = all;
    o.timestamps = true;
    o.want_stderr = false;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 2);
    static const char want_ts[] = "\x01\x00\x00\x00\x00\x00\x00\x25"
                                  "2026-11-21T21:05:54.007888341Z hello\n"
                                  "\x01\x00\x00\x00\x00\x00\x00\x20"
                                  "2026-11-21T21:05:56.000000001Z \n";
    assert_bytes(&out, want_ts, sizeof(want_ts) - 1, "timestamps, stdout only");
    buf_release(&out);
}

/* A TTY's log (one stream, the terminal's "\r\n"): payloads as written, no headers. */
TEST(exec_logs_raw_for_tty)
{
    const char *in = "2026-11-21T21:05:54.1+00:00 stdout F tty-yes\r\n"
                     "2026-11-21T21:05:55.2+00:00 stdout P ti\n"
                     "2026-11-21T21:05:55.3+00:00 stdout F ck\r\n";
    struct buf out = BUF_INIT;
    size_t used = 0;
    struct exec_log_opts o = all;
    o.raw = true;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 2);
    ASSERT_EQ_INT(used, strlen(in));
    static const char want[] = "tty-yes\r\ntick\r\n";
    assert_bytes(&out, want, sizeof(want) - 1, "raw");
    buf_reset(&out);
    o.timestamps = true;
    exec_logs_convert(in, strlen(in), &o, false, &out, &used);
    static const char want_ts[] = "2026-11-21T21:05:54.100000000Z tty-yes\r\n"
                                  "2026-11-21T21:05:55.200000000Z tick\r\n";
    assert_bytes(&out, want_ts, sizeof(want_ts) - 1, "raw with timestamps");
    buf_release(&out);
}

TEST(exec_logs_partial_lines_joined)
{
    const char *in = "2026-11-21T21:00:00.1+00:00 stdout P abc\n"
                     "2026-11-21T21:00:00.3+00:00 stderr F e1\n"
                     "2026-11-21T21:00:00.2+00:00 stdout P def\n"
                     "2026-11-21T21:00:00.4+00:00 stdout F gh\n"
                     "2026-11-21T21:00:00.5+00:00 stdout P tail-no-newline\n";
    struct buf out = BUF_INIT;
    size_t used = 0;
    struct exec_log_opts o = all;
    o.timestamps = true;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 2);
    static const char want[] = "\x02\x00\x00\x00\x00\x00\x00\x22"
                               "2026-11-21T21:00:00.300000000Z e1\n"
                               "\x01\x00\x00\x00\x00\x00\x00\x28"
                               "2026-11-21T21:00:00.100000000Z abcdefgh\n";
    assert_bytes(&out, want, sizeof(want) - 1, "joined");
    /* the trailing P run is left for the next read */
    ASSERT_EQ_STR(in + used, "2026-11-21T21:00:00.5+00:00 stdout P tail-no-newline\n");
    buf_reset(&out);
    ASSERT_EQ_INT(exec_logs_convert(in + used, strlen(in + used), &all, true, &out, &used), 1);
    static const char want_final[] = "\x01\x00\x00\x00\x00\x00\x00\x0ftail-no-newline";
    assert_bytes(&out, want_final, sizeof(want_final) - 1, "final partial");
    buf_release(&out);
}

TEST(exec_logs_open_run_holds_later_messages)
{
    /* stdout opens a run; a stderr line completes after it: both wait for the run's end. */
    const char *a = "2026-11-21T21:00:00.1+00:00 stdout F one\n"
                    "2026-11-21T21:00:00.2+00:00 stdout P lo\n"
                    "2026-11-21T21:00:00.3+00:00 stderr F err\n";
    struct buf out = BUF_INIT;
    size_t used = 0;
    ASSERT_EQ_INT(exec_logs_convert(a, strlen(a), &all, false, &out, &used), 1);
    ASSERT_EQ_INT(used, strlen("2026-11-21T21:00:00.1+00:00 stdout F one\n"));
    char *rest = xasprintf("%s%s", a + used, "2026-11-21T21:00:00.4+00:00 stdout F ng\n");
    buf_reset(&out);
    ASSERT_EQ_INT(exec_logs_convert(rest, strlen(rest), &all, false, &out, &used), 2);
    ASSERT_EQ_INT(used, strlen(rest));
    static const char want[] = "\x02\x00\x00\x00\x00\x00\x00\x04"
                               "err\n"
                               "\x01\x00\x00\x00\x00\x00\x00\x05"
                               "long\n";
    assert_bytes(&out, want, sizeof(want) - 1, "after the run ends");
    free(rest);
    buf_release(&out);
}

TEST(exec_logs_tail_since_until)
{
    const char *in = "2026-11-21T21:00:01+00:00 stdout F a\n"
                     "2026-11-21T21:00:02+00:00 stderr F b\n"
                     "garbage line\n"
                     "2026-11-21T21:00:03+00:00 stdout F c\n"
                     "2026-11-21T21:00:04+00:00 stdout F d\n"
                     "2026-11-21T21:00:05+00:00 stdout F incomplete";
    struct buf out = BUF_INIT;
    size_t used = 0;
    struct exec_log_opts o = all;
    o.tail = 2;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 2);
    ASSERT_EQ_STR(in + used, "2026-11-21T21:00:05+00:00 stdout F incomplete");
    static const char want_tail[] = "\x01\x00\x00\x00\x00\x00\x00\x02"
                                    "c\n"
                                    "\x01\x00\x00\x00\x00\x00\x00\x02"
                                    "d\n";
    assert_bytes(&out, want_tail, sizeof(want_tail) - 1, "tail 2");

    int64_t t2, t3;
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:00:02Z", &t2), 0);
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:00:03Z", &t3), 0);
    buf_reset(&out);
    o = all;
    o.since_ns = t2; /* inclusive */
    o.until_ns = t3; /* inclusive */
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 2);
    static const char want_range[] = "\x02\x00\x00\x00\x00\x00\x00\x02"
                                     "b\n"
                                     "\x01\x00\x00\x00\x00\x00\x00\x02"
                                     "c\n";
    assert_bytes(&out, want_range, sizeof(want_range) - 1, "since/until");

    /* tail counts before the stream filter, as Docker's reader does */
    buf_reset(&out);
    o = all;
    o.tail = 3;
    o.want_stdout = false;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 1);
    o.tail = 2;
    buf_reset(&out);
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 0);
    o.tail = 0;
    o.want_stdout = true;
    ASSERT_EQ_INT(exec_logs_convert(in, strlen(in), &o, false, &out, &used), 0);
    buf_release(&out);

    char ts[40];
    exec_logs_time_fixed(t3 + 5, ts);
    ASSERT_EQ_STR(ts, "2026-11-21T21:00:03.000000005Z");
}
