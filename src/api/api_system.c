/* api_system.c — /_ping, /version and /info: what the CLIs ask first, with the host's real
 * facts (CPUs, memory, kernel, OS, hostname) and the swarm block /info must carry.
 * Thread: the loop thread. */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *go_arch(const char *machine)
{
    if (!strcmp(machine, "x86_64"))
        return "amd64";
    if (!strcmp(machine, "aarch64"))
        return "arm64";
    return machine;
}

/* PRETTY_NAME from /etc/os-release, or "Linux". */
static char *os_pretty_name(void)
{
    char *data = NULL;
    size_t len;
    if (file_read("/etc/os-release", &data, &len, NULL) < 0)
        return xstrdup("Linux");
    char *out = NULL;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n"))
        if (str_has_prefix(line, "PRETTY_NAME=")) {
            char *v = line + 12;
            size_t n = strlen(v);
            if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
                out = xstrndup(v + 1, n - 2);
            else
                out = xstrdup(v);
        }
    free(data);
    return out ? out : xstrdup("Linux");
}

static const char *swarm_header_value(struct node *n)
{
    switch (node_state(n)) {
    case NODE_ACTIVE:
        return node_is_manager(n) ? "active/manager" : "active/worker";
    case NODE_LOCKED:
        return "locked";
    case NODE_STARTING:
        return "pending";
    case NODE_ERROR:
        return "error";
    default:
        return "inactive";
    }
}

static void h_ping(struct api_req *r)
{
    http_add_header(r->http, "Cache-Control", "no-cache, no-store, must-revalidate");
    http_add_header(r->http, "Pragma", "no-cache");
    http_add_header(r->http, "Swarm", swarm_header_value(r->api->node));
    bool head = !strcmp(r->http->method, "HEAD");
    http_respond(r->http, 200, "text/plain; charset=utf-8", head ? "" : "OK", head ? 0 : 2);
    api_req_free(r);
}

static void h_version(struct api_req *r)
{
    struct utsname u;
    uname(&u);
    const char *ver = r->api->cfg.engine_version;
    api_reply_json(
        r, 200,
        json_pack("{s:{s:s}, s:[{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}], s:s, s:s, "
                  "s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                  "Platform", "Name", "shoal", "Components", "Name", "Engine", "Version", ver,
                  "Details", "ApiVersion", API_VERSION, "Arch", go_arch(u.machine), "Experimental",
                  "false", "GitCommit", "", "KernelVersion", u.release, "MinAPIVersion",
                  API_MIN_VERSION, "Os", "linux", "Version", ver, "ApiVersion", API_VERSION,
                  "MinAPIVersion", API_MIN_VERSION, "GitCommit", "", "GoVersion", "", "Os", "linux",
                  "Arch", go_arch(u.machine), "KernelVersion", u.release, "BuildTime",
                  __DATE__ " " __TIME__));
}

static int count_node(json_t *obj, void *data)
{
    int *c = data;
    c[0]++;
    if (!strcmp(store_json_str(obj, "Spec.Role") ?: "", "manager"))
        c[1]++;
    return 0;
}

static json_t *swarm_info(struct api *a)
{
    struct node *n = a->node;
    enum node_state s = node_state(n);
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:b, s:s}", "NodeID", node_self_id(n), "NodeAddr",
                  node_self_addr(n), "LocalNodeState", node_state_name(s), "ControlAvailable",
                  s == NODE_ACTIVE && node_is_manager(n), "Error", node_error(n));
    json_t *cluster = node_cluster(n);
    if (s == NODE_ACTIVE && !node_is_manager(n)) {
        json_object_set_new(j, "RemoteManagers", node_remote_managers(n));
        return j;
    }
    if (s != NODE_ACTIVE || !cluster) {
        json_object_set_new(j, "RemoteManagers", json_null());
        return j;
    }
    struct store *st = node_store(n);
    json_object_set_new(j, "RemoteManagers", node_remote_managers(n));
    int counts[2] = {0, 0};
    store_foreach(st, STORE_NODE, count_node, counts);
    json_object_set_new(j, "Nodes", json_integer(counts[0]));
    json_object_set_new(j, "Managers", json_integer(counts[1]));
    if (node_is_manager(n)) {
        json_t *c = json_deep_copy(cluster);
        json_object_del(c, "JoinTokens");
        json_object_set_new(j, "Cluster", c);
    }
    return j;
}

static void h_info(struct api_req *r)
{
    struct api *a = r->api;
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char now[40];
    time_format_rfc3339(time_now_ns(), now);
    char *os = os_pretty_name();
    json_t *labels = json_array();
    for (size_t i = 0; a->cfg.labels && a->cfg.labels[i]; i++)
        json_array_append_new(labels, json_string(a->cfg.labels[i]));
    json_t *info = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:[], s:{s:[], s:[], s:[]}, s:b, s:b, s:s, s:s, "
        "s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:o, s:b, s:s, s:o, s:s, s:[], "
        "s:[]}",
        "ID", node_self_id(a->node)[0] ? node_self_id(a->node) : "", "Containers", 0,
        "ContainersRunning", 0, "ContainersPaused", 0, "ContainersStopped", 0, "Images", 0,
        "Driver", "", "DriverStatus", "Plugins", "Volume", "Network", "Log", "Debug", a->cfg.debug,
        "ExperimentalBuild", 0, "SystemTime", now, "LoggingDriver", "", "NEventsListener", 0,
        "KernelVersion", u.release, "OperatingSystem", os, "OSVersion", "", "OSType", "linux",
        "Architecture", u.machine, "IndexServerAddress", "", "NCPU",
        (int)sysconf(_SC_NPROCESSORS_ONLN), "MemTotal",
        (json_int_t)si.totalram * (json_int_t)si.mem_unit, "DockerRootDir", a->cfg.data_root,
        "Name", host, "Labels", labels, "LiveRestoreEnabled", 0, "ServerVersion",
        a->cfg.engine_version, "Swarm", swarm_info(a), "CgroupDriver", "cgroupfs", "Warnings",
        "SecurityOptions");
    free(os);
    api_reply_json(r, 200, info);
}

const struct api_route api_system_routes[] = {
    {"GET", "/_ping", h_ping},
    {"HEAD", "/_ping", h_ping},
    {"GET", "/version", h_version},
    {"GET", "/info", h_info},
    {"GET", "/events", api_events_handle},
    {NULL, NULL, NULL},
};
