/* daemon.c — `shoal daemon`: parses dockerd-like flags, takes the data-root lock, writes the
 * pidfile, starts the node (swarm membership + store) and the Engine API listeners on one
 * libuv loop, and shuts everything down cleanly on SIGTERM/SIGINT.
 * Thread: the main thread runs the loop. */
#include "daemon.h"
#include "daemon_int.h"

#include "agent/agent.h"
#include "api/api.h"
#include "base/base.h"
#include "exec/exec.h"
#include "image/image.h"
#include "net/net.h"
#include "node/node.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_LIST 32
#define NOFILE_MAX (1u << 20) /* a soft limit beyond this only costs memory in the kernel */
#define API_CONNS_MAX 4096
#define PEER_CONNS_MAX 16384

struct daemon_opts {
    const char *data_root, *pidfile, *log_level, *etcd_bin, *runtime, *cgroup_parent;
    const char *hosts[MAX_LIST];
    int nhosts;
    const char *labels[MAX_LIST + 1];
    int nlabels;
    bool tls, tlsverify, insecure_tcp, debug;
    const char *tlscacert, *tlscert, *tlskey;
    int etcd_client_port, etcd_peer_port;
};

struct daemon {
    uv_loop_t loop;
    struct daemon_opts o;
    struct node *node;
    struct api *api;
    /* this node's containers and images: every node has them (managers run tasks too). The
     * agent session drives tasks through agent_exec_real_ops with agent_exec as its ctx; exec
     * is NULL when the host cannot run containers (no conmon or runtime, not root). */
    struct exec *exec;
    struct image_store *images;
    struct volume_store *volumes; /* named local volumes (NULL: did not open) */
    struct agent_exec *agent_exec;
    struct net *net; /* task containers' networks (NULL: they get only lo) */
    uv_signal_t sigterm, sigint;
    struct daemon_stall stall;
    int lock_fd;
    int exit_code;
    bool stopping;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: shoal daemon [OPTIONS]\n\n"
               "A self-sufficient runtime for swarms of containers\n\n"
               "Options:\n"
               "      --cgroup-parent string    Set parent cgroup for all containers (default "
               "\"/shoal\")\n"
               "      --data-root string        Root directory of persistent state (default "
               "\"/var/lib/shoal\")\n"
               "  -D, --debug                   Enable debug mode\n"
               "      --etcd-bin string         etcd binary (default \"/usr/bin/etcd\")\n"
               "      --etcd-client-port int    Port of the supervised etcd's client listener on "
               "127.0.0.1 (default 2479)\n"
               "      --etcd-peer-port int      Port of the supervised etcd's peer listener "
               "(default 2480)\n"
               "  -H, --host list               Daemon socket(s) to connect to (default "
               "unix:///run/shoal/shoal.sock)\n"
               "      --insecure-tcp            Allow plain TCP on a non-loopback address\n"
               "      --label list              Set key=value labels to the daemon\n"
               "  -l, --log-level string        Set the logging level (\"debug\"|\"info\"|\"warn\"|"
               "\"error\"|\"fatal\") (default \"info\")\n"
               "  -p, --pidfile string          Path to use for daemon PID file\n"
               "      --runtime string          OCI runtime of task containers: auto, or the path "
               "of runc or crun (default \"auto\")\n"
               "      --tls                     Use TLS; implied by --tlsverify\n"
               "      --tlscacert string        Trust certs signed only by this CA\n"
               "      --tlscert string          Path to TLS certificate file\n"
               "      --tlskey string           Path to TLS key file\n"
               "      --tlsverify               Use TLS and verify the remote\n");
}

static int parse_port(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct daemon_opts *o)
{
    enum {
        O_DATA_ROOT = 256,
        O_TLS,
        O_TLSVERIFY,
        O_CACERT,
        O_CERT,
        O_KEY,
        O_LABEL,
        O_ETCD_BIN,
        O_ETCD_CPORT,
        O_ETCD_PPORT,
        O_INSECURE,
        O_RUNTIME,
        O_CGROUP_PARENT
    };
    static const struct option longopts[] = {
        {"data-root", required_argument, NULL, O_DATA_ROOT},
        {"host", required_argument, NULL, 'H'},
        {"tls", no_argument, NULL, O_TLS},
        {"tlsverify", no_argument, NULL, O_TLSVERIFY},
        {"tlscacert", required_argument, NULL, O_CACERT},
        {"tlscert", required_argument, NULL, O_CERT},
        {"tlskey", required_argument, NULL, O_KEY},
        {"log-level", required_argument, NULL, 'l'},
        {"pidfile", required_argument, NULL, 'p'},
        {"label", required_argument, NULL, O_LABEL},
        {"debug", no_argument, NULL, 'D'},
        {"etcd-bin", required_argument, NULL, O_ETCD_BIN},
        {"etcd-client-port", required_argument, NULL, O_ETCD_CPORT},
        {"etcd-peer-port", required_argument, NULL, O_ETCD_PPORT},
        {"insecure-tcp", no_argument, NULL, O_INSECURE},
        {"runtime", required_argument, NULL, O_RUNTIME},
        {"cgroup-parent", required_argument, NULL, O_CGROUP_PARENT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->data_root = "/var/lib/shoal";
    o->log_level = "info";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "H:l:p:Dh", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA_ROOT:
            o->data_root = optarg;
            break;
        case 'H':
            if (o->nhosts == MAX_LIST)
                return -1;
            o->hosts[o->nhosts++] = optarg;
            break;
        case O_TLS:
            o->tls = true;
            break;
        case O_TLSVERIFY:
            o->tls = o->tlsverify = true;
            break;
        case O_CACERT:
            o->tlscacert = optarg;
            break;
        case O_CERT:
            o->tlscert = optarg;
            break;
        case O_KEY:
            o->tlskey = optarg;
            break;
        case 'l':
            o->log_level = optarg;
            break;
        case 'p':
            o->pidfile = optarg;
            break;
        case O_LABEL:
            if (o->nlabels == MAX_LIST || !strchr(optarg, '=')) {
                fprintf(stderr, "shoal: bad label %s: labels are key=value\n", optarg);
                return -1;
            }
            o->labels[o->nlabels++] = optarg;
            break;
        case 'D':
            o->debug = true;
            o->log_level = "debug";
            break;
        case O_ETCD_BIN:
            o->etcd_bin = optarg;
            break;
        case O_ETCD_CPORT:
        case O_ETCD_PPORT:
            if (parse_port(optarg, c == O_ETCD_CPORT ? &o->etcd_client_port : &o->etcd_peer_port) <
                0) {
                fprintf(stderr, "shoal: invalid port %s\n", optarg);
                return -1;
            }
            break;
        case O_INSECURE:
            o->insecure_tcp = true;
            break;
        case O_RUNTIME:
            o->runtime = optarg;
            break;
        case O_CGROUP_PARENT: {
            struct err e = {0};
            if (daemon_cgroup_parent_check(optarg, &e) < 0) {
                fprintf(stderr, "shoal: invalid --cgroup-parent %s: %s\n", optarg, e.msg);
                return -1;
            }
            o->cgroup_parent = optarg;
            break;
        }
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shoal: daemon takes no arguments, got \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!o->nhosts)
        o->hosts[o->nhosts++] = "unix:///run/shoal/shoal.sock";
    if (o->tls && (!o->tlscert || !o->tlskey)) {
        fprintf(stderr, "shoal: --tls/--tlsverify need --tlscert and --tlskey\n");
        return -1;
    }
    if (o->tlsverify && !o->tlscacert) {
        fprintf(stderr, "shoal: --tlsverify needs --tlscacert\n");
        return -1;
    }
    return 0;
}

/* True for tcp:// addresses whose host is a loopback address. */
static bool tcp_is_loopback(const char *addr)
{
    const char *h = addr + strlen("tcp://");
    return str_has_prefix(h, "127.") || str_has_prefix(h, "localhost:") ||
           str_has_prefix(h, "[::1]:");
}

static int lock_data_root(struct daemon *d, struct err *e)
{
    int rc = dir_make(d->o.data_root, 0711, e);
    if (rc)
        return rc;
    char *path = xasprintf("%s/shoal.lock", d->o.data_root);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0) {
        rc = err_set(e, ERR_INTERNAL, "cannot open %s: %s", path, strerror(errno));
    } else if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread(d->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        rc = err_set(e, ERR_CONFLICT,
                     "another shoal daemon (pid %s) is already using the data root %s",
                     pid[0] ? pid : "?", d->o.data_root);
        close(d->lock_fd);
        d->lock_fd = -1;
    } else {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, pid, (size_t)n, 0) < 0)
            log_warn("cannot record pid in %s", path);
    }
    free(path);
    return rc;
}

static void api_closed(void *data);
static void node_stopped(void *data);

static void shutdown_begin(struct daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("shutting down");
    uv_signal_stop(&d->sigterm);
    uv_signal_stop(&d->sigint);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    daemon_stall_stop(&d->stall);
    if (d->api)
        api_close(d->api, api_closed, d);
    else
        api_closed(d);
}

static void api_closed(void *data)
{
    struct daemon *d = data;
    d->api = NULL;
    node_stop(d->node, node_stopped, d);
}

/* Live restore: the containers keep running under their conmon; a new daemon finds them. */
static void engine_free(struct daemon *d)
{
    agent_exec_free(d->agent_exec); /* before its exec, in the same loop turn */
    exec_free(d->exec);
    net_free(d->net); /* forgets; the containers' networks stay, as the containers do */
    d->net = NULL;
    image_store_free(d->images);
    volume_store_free(d->volumes); /* forgets; mounted volumes stay, as the containers do */
    d->volumes = NULL;
    d->agent_exec = NULL;
    d->exec = NULL;
    d->images = NULL;
}

static void node_stopped(void *data)
{
    struct daemon *d = data;
    d->node = NULL;
    engine_free(d);
}

static void engine_restored(void *arg, int rc, const char *err)
{
    if (rc < 0)
        log_warn("containers: restore: %s", err);
}

/* Opens the image store and the executor under the data root. Failing to run containers is
 * not fatal: the node still serves the swarm (and refuses tasks with the reason). */
static void engine_start(struct daemon *d)
{
    struct err e = {0};
    char *iroot = xasprintf("%s/image", d->o.data_root);
    char *xroot = xasprintf("%s/exec", d->o.data_root);
    char *vroot = xasprintf("%s/volumes", d->o.data_root);
    d->images = image_store_open(iroot, &e);
    if (!d->images)
        log_warn("images: %s: %s", iroot, e.msg);
    d->volumes = volume_store_open(vroot, &e);
    if (!d->volumes)
        log_warn("volumes: %s: %s", vroot, e.msg);
    free(vroot);
    struct exec_config xc = {.root = xroot,
                             .runtime = d->o.runtime,
                             .cgroup_parent = d->o.cgroup_parent ? d->o.cgroup_parent : "/shoal"};
    d->exec = d->images ? exec_new(&d->loop, &xc, &e) : NULL;
    if (d->images && !d->exec)
        log_warn("containers cannot run on this node: %s", e.msg);
    /* SHOAL_NET_SUBNET chooses the task containers' subnet (default: Docker's first free
     * local pool); SHOAL_NET_BRIDGE its bridge (tests running several daemons in one
     * namespace give each its own). Opened on every node (it touches no kernel state until a
     * container attaches): GET /networks shows the node's networks either way. */
    char *nroot = xasprintf("%s/net", d->o.data_root);
    struct net_config nc = {
        .root = nroot, .subnet = getenv("SHOAL_NET_SUBNET"), .bridge = getenv("SHOAL_NET_BRIDGE")};
    d->net = net_new(&nc, &e);
    if (!d->net)
        log_warn("task containers get no network (only lo): %s", e.msg);
    free(nroot);
    if (d->exec) {
        d->agent_exec = agent_exec_new(&d->loop, d->exec, d->images, NULL);
        agent_exec_set_net(d->agent_exec, d->net);
        agent_exec_set_volumes(d->agent_exec, d->volumes);
        image_store_set_user_cb(d->images, agent_exec_image_user, d->agent_exec);
        agent_exec_restore(d->agent_exec, engine_restored, d);
    }
    free(iroot);
    free(xroot);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct daemon *d = h->data;
    log_info("received signal %d", sig);
    shutdown_begin(d);
}

static int start_listeners(struct daemon *d, struct err *e);

int daemon_cgroup_parent_check(const char *path, struct err *e)
{
    if (path[0] != '/')
        return err_set(e, ERR_INVALID, "must be an absolute path (cgroupfs), such as /shoal");
    if (!path[1])
        return err_set(e, ERR_INVALID, "must name a cgroup below the root");
    size_t n = strlen(path);
    if (n > DAEMON_CGROUP_PARENT_MAX)
        return err_set(e, ERR_INVALID, "longer than %d characters", DAEMON_CGROUP_PARENT_MAX);
    for (const char *c = path + 1, *seg = c;; c++) {
        if (*c == '/' || !*c) {
            if (c == seg)
                return err_set(e, ERR_INVALID, "empty path component");
            if ((c - seg == 1 && seg[0] == '.') || (c - seg == 2 && !strncmp(seg, "..", 2)))
                return err_set(e, ERR_INVALID, "\".\" and \"..\" components are not allowed");
            if (!*c)
                break;
            seg = c + 1;
        } else if (!isalnum((unsigned char)*c) && !strchr("._-:@+", *c)) {
            return err_set(e, ERR_INVALID, "character '%c' is not allowed", *c);
        }
    }
    return 0;
}

void daemon_size_caps(uint64_t nofile, int napi, struct daemon_caps *out)
{
    uint64_t reserve = nofile / 2 < DAEMON_FD_RESERVE ? nofile / 2 : DAEMON_FD_RESERVE;
    uint64_t budget = nofile - reserve;
    uint64_t peer = budget / 2, api = budget / 4 / (uint64_t)(napi > 0 ? napi : 1);
    out->peer_max_conns = (size_t)(peer < PEER_CONNS_MAX ? peer : PEER_CONNS_MAX);
    out->api_max_conns = (size_t)(api < API_CONNS_MAX ? api : API_CONNS_MAX);
    if (!out->peer_max_conns)
        out->peer_max_conns = 1;
    if (!out->api_max_conns)
        out->api_max_conns = 1;
}

/* Raises the soft descriptor limit to the hard one (as Go programs, dockerd included, do at
 * start since Go 1.19) and returns the soft limit in force. */
static uint64_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_debug("RLIMIT_NOFILE: %s, assuming 1024", strerror(errno));
        return 1024;
    }
    rlim_t want =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_MAX ? NOFILE_MAX : rl.rlim_max;
    if (rl.rlim_cur < want) {
        struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = want;
        else
            log_debug("RLIMIT_NOFILE: cannot raise %llu to %llu: %s",
                      (unsigned long long)rl.rlim_cur, (unsigned long long)want, strerror(errno));
    }
    log_debug("RLIMIT_NOFILE: %llu (hard %llu)", (unsigned long long)rl.rlim_cur,
              (unsigned long long)rl.rlim_max);
    return rl.rlim_cur;
}

/* Like dockerd, the API opens only once the swarm part has settled, so the first answer a
 * client gets already tells the node's real state. */
static void node_started(void *data, int rc, struct err *e)
{
    struct daemon *d = data;
    if (rc < 0)
        log_error("swarm state could not be started: %s", e->msg);
    else
        log_info("node ready: swarm %s", node_state_name(node_state(d->node)));
    if (d->stopping)
        return;
    struct err le;
    if (start_listeners(d, &le) < 0) {
        fprintf(stderr, "shoal: %s\n", le.msg);
        d->exit_code = 1;
        shutdown_begin(d);
    }
}

static int start_listeners(struct daemon *d, struct err *e)
{
    struct http_tls_config tls = {.cert_file = d->o.tlscert,
                                  .key_file = d->o.tlskey,
                                  .client_ca_file = d->o.tlsverify ? d->o.tlscacert : NULL};
    for (int i = 0; i < d->o.nhosts; i++) {
        const char *h = d->o.hosts[i];
        bool tcp = str_has_prefix(h, "tcp://");
        if (!tcp && !str_has_prefix(h, "unix://"))
            return err_set(e, ERR_INVALID, "invalid host %s: use unix:///path or tcp://ADDR:PORT",
                           h);
        if (tcp && !d->o.tls && !tcp_is_loopback(h) && !d->o.insecure_tcp)
            return err_set(e, ERR_INVALID,
                           "refusing plain TCP on %s: anyone who reaches it controls the swarm; "
                           "use --tlsverify (or --insecure-tcp to force)",
                           h);
        int rc = api_listen(d->api, h, tcp && d->o.tls ? &tls : NULL, e);
        if (rc)
            return err_wrap(e, "listen on %s", h);
        log_info("API listening on %s", h);
    }
    return 0;
}

int daemon_main(int argc, char **argv)
{
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.lock_fd = -1;
    if (parse_opts(argc, argv, &d.o) < 0)
        return 2;
    int lvl = log_parse_level(d.o.log_level);
    if (lvl < 0) {
        fprintf(stderr, "shoal: unknown log level %s\n", d.o.log_level);
        return 2;
    }
    log_set_level(lvl);
    struct err e;
    if (lock_data_root(&d, &e) < 0) {
        fprintf(stderr, "shoal: %s\n", e.msg);
        return 1;
    }
    if (d.o.pidfile) {
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (file_write_atomic(d.o.pidfile, pid, (size_t)n, 0644, &e) < 0) {
            fprintf(stderr, "shoal: pidfile: %s\n", e.msg);
            return 1;
        }
    }
    struct daemon_caps caps;
    daemon_size_caps(raise_nofile(), d.o.nhosts, &caps);
    log_debug("connection caps: %zu per API listener, %zu on the swarm peer listener",
              caps.api_max_conns, caps.peer_max_conns);
    uv_loop_init(&d.loop);
    struct node_config nc = {
        .data_root = d.o.data_root,
        .etcd_bin = d.o.etcd_bin,
        .etcd_client_port = d.o.etcd_client_port,
        .etcd_peer_port = d.o.etcd_peer_port,
        .labels = d.o.labels,
        .engine_version = SHOAL_VERSION,
        .peer_max_conns = caps.peer_max_conns,
    };
    engine_start(&d);
    if (d.agent_exec) {
        nc.exec_ops = &agent_exec_real_ops;
        nc.log_ops = &agent_exec_log_ops;
        nc.exec_ctx = d.agent_exec;
    }
    d.node = node_new(&d.loop, &nc);
    struct api_config ac = {.data_root = d.o.data_root,
                            .engine_version = SHOAL_VERSION,
                            .labels = d.o.labels,
                            .debug = d.o.debug,
                            .max_conns = caps.api_max_conns,
                            .exec = d.exec,
                            .images = d.images,
                            .volumes = d.volumes,
                            .net = d.net,
                            .agent_exec = d.agent_exec};
    d.api = api_new(&d.loop, d.node, &ac);
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    daemon_stall_start(&d.stall, &d.loop);
    log_info("shoal %s starting (data root %s)", SHOAL_VERSION, d.o.data_root);
    node_start(d.node, node_started, &d);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&d.loop);
    if (rc)
        log_warn("loop closed with handles open: %s", uv_strerror(rc));
    if (d.o.pidfile)
        unlink(d.o.pidfile);
    if (d.lock_fd >= 0)
        close(d.lock_fd);
    log_info("shoal stopped");
    return d.exit_code;
}
