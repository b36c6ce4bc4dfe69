/* hollow_main.c — the `shoal hollow` command: parses flags, runs the hollow workers on a
 * fresh loop until SIGINT/SIGTERM (or a fatal error), and prints progress to stdout once a
 * second while something changes (every 10 s otherwise, or every --progress-every seconds):
 * seconds since start, joined count, join and heartbeat counts, the tasks the sessions hold
 * and the fake containers running, and the process RSS with the
 * RSS added per joined node since start.
 * Thread: the main thread, which runs the loop. */
#include "hollow.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define HOLLOW_PROGRESS_MS 1000
#define HOLLOW_QUIET_EVERY 10

struct hmain {
    uv_loop_t loop;
    struct hollow *h;
    uv_signal_t sigint, sigterm;
    uv_timer_t progress;
    struct hollow_stats last;
    long rss_base_kb;
    uint64_t t_start;
    int every; /* print every this many ticks even when nothing changed */
    int quiet_ticks;
    bool all_joined, stopping;
    int status;
};

/* VmRSS of this process in KiB, or -1. */
static long rss_kb(void)
{
    char *s = NULL;
    size_t len;
    struct err e;
    if (file_read("/proc/self/status", &s, &len, &e) < 0)
        return -1;
    const char *p = strstr(s, "VmRSS:");
    long kb = p ? strtol(p + 6, NULL, 10) : -1;
    free(s);
    return kb;
}

static void print_progress(struct hmain *m, const char *what)
{
    struct hollow_stats st;
    hollow_get_stats(m->h, &st);
    long rss = rss_kb();
    double per = st.joined ? (double)(rss - m->rss_base_kb) / st.joined : 0;
    printf("hollow: t=%.3f %sjoined %d/%d, join errors %llu, heartbeats ok %llu, failed %llu, "
           "redirects %llu, period %lld ms, tasks %zu, running %d, rss %.1f MB (%.1f KB per "
           "node)\n",
           (double)(uv_now(&m->loop) - m->t_start) / 1000.0, what, st.joined, st.count,
           (unsigned long long)st.join_errors, (unsigned long long)st.hb_ok,
           (unsigned long long)st.hb_errors, (unsigned long long)st.redirects,
           (long long)st.period_ms, st.tasks, st.running, rss / 1024.0, per);
    fflush(stdout);
    m->last = st;
}

static void on_progress(uv_timer_t *t)
{
    struct hmain *m = t->data;
    struct hollow_stats st;
    hollow_get_stats(m->h, &st);
    if (!m->all_joined && st.joined == st.count) {
        m->all_joined = true;
        printf("hollow: all %d joined in %.3f s\n", st.count, (double)st.all_joined_ms / 1000.0);
    }
    bool changed = st.joined != m->last.joined || st.join_errors != m->last.join_errors ||
                   st.hb_errors != m->last.hb_errors || st.tasks != m->last.tasks ||
                   st.running != m->last.running;
    if (changed || ++m->quiet_ticks >= m->every) {
        m->quiet_ticks = 0;
        print_progress(m, "");
    }
}

static void handle_closed(uv_handle_t *h)
{
}

static void stopped(void *data)
{
    struct hmain *m = data;
    m->h = NULL;
    uv_close((uv_handle_t *)&m->sigint, handle_closed);
    uv_close((uv_handle_t *)&m->sigterm, handle_closed);
    uv_close((uv_handle_t *)&m->progress, handle_closed);
}

static void stop(struct hmain *m)
{
    if (m->stopping)
        return;
    m->stopping = true;
    uv_timer_stop(&m->progress);
    print_progress(m, "stopping: ");
    hollow_stop(m->h, stopped, m);
}

static void on_signal(uv_signal_t *s, int signum)
{
    stop(s->data);
}

static void on_fatal(void *data, const struct err *e)
{
    struct hmain *m = data;
    fprintf(stderr, "hollow: %s\n", e->msg);
    m->status = 1;
    stop(m);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: shoal hollow --count N --join-token TOKEN --manager IP:PORT\n"
               "                    [--advertise-addr IP] [--hostname-prefix PREFIX]\n"
               "                    [--join-parallel K] [--task-start-ms MS] [--task-op-ms MS]\n"
               "                    [--progress-every SECONDS] [--log-level LEVEL]\n\n"
               "Runs N simulated workers that join the swarm and heartbeat its leader over\n"
               "mutual TLS, in this one process, until interrupted (no leave is sent). Each\n"
               "runs the real agent session with a fake executor: tasks placed on them go\n"
               "RUNNING without images or processes.\n\n"
               "  --task-start-ms MS  a fake container takes MS to start (default 0)\n"
               "  --task-op-ms MS     prepare, stop and remove take MS (default 0)\n");
}

/* As many open files as the hard limit allows: one connection per node. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int hollow_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"join-token", required_argument, NULL, 't'},
        {"manager", required_argument, NULL, 'm'},
        {"advertise-addr", required_argument, NULL, 'a'},
        {"hostname-prefix", required_argument, NULL, 'p'},
        {"join-parallel", required_argument, NULL, 'j'},
        {"log-level", required_argument, NULL, 'l'},
        {"progress-every", required_argument, NULL, 'e'},
        {"task-start-ms", required_argument, NULL, 's'},
        {"task-op-ms", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct hollow_opts o = {0};
    int opt, lvl, every = HOLLOW_QUIET_EVERY;
    char *end;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o.count = (int)strtol(optarg, &end, 10);
            if (*end || !optarg[0]) {
                fprintf(stderr, "hollow: --count wants a number\n");
                return 2;
            }
            break;
        case 't':
            o.join_token = optarg;
            break;
        case 'm':
            o.manager = optarg;
            break;
        case 'a':
            o.advertise_addr = optarg;
            break;
        case 'p':
            o.hostname_prefix = optarg;
            break;
        case 'j':
            o.join_parallel = (int)strtol(optarg, &end, 10);
            if (*end || o.join_parallel < 1) {
                fprintf(stderr, "hollow: --join-parallel wants a positive number\n");
                return 2;
            }
            break;
        case 's':
        case 'o': {
            long v = strtol(optarg, &end, 10);
            if (*end || !optarg[0] || v < 0 || v > 3600000) {
                fprintf(stderr, "hollow: --%s wants milliseconds (0 to 3600000)\n",
                        opt == 's' ? "task-start-ms" : "task-op-ms");
                return 2;
            }
            *(opt == 's' ? &o.task_start_ms : &o.task_op_ms) = v;
            break;
        }
        case 'e':
            every = (int)strtol(optarg, &end, 10);
            if (*end || every < 1) {
                fprintf(stderr, "hollow: --progress-every wants a positive number of seconds\n");
                return 2;
            }
            break;
        case 'l':
            if ((lvl = log_parse_level(optarg)) < 0) {
                fprintf(stderr, "hollow: unknown log level %s\n", optarg);
                return 2;
            }
            log_set_level((enum log_level)lvl);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hollow: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    struct hmain *m = xcalloc(1, sizeof(*m));
    uv_loop_init(&m->loop);
    struct err e;
    o.fatal = on_fatal;
    o.data = m;
    m->h = hollow_new(&m->loop, &o, &e);
    if (!m->h) {
        fprintf(stderr, "hollow: %s\n", e.msg);
        uv_loop_close(&m->loop);
        free(m);
        return 2;
    }
    uv_signal_init(&m->loop, &m->sigint);
    uv_signal_init(&m->loop, &m->sigterm);
    m->sigint.data = m->sigterm.data = m;
    uv_signal_start(&m->sigint, on_signal, SIGINT);
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
    uv_timer_init(&m->loop, &m->progress);
    m->progress.data = m;
    m->rss_base_kb = rss_kb();
    m->every = every;
    uv_update_time(&m->loop);
    m->t_start = uv_now(&m->loop);
    uv_timer_start(&m->progress, on_progress, HOLLOW_PROGRESS_MS, HOLLOW_PROGRESS_MS);
    hollow_start(m->h);
    uv_run(&m->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&m->loop);
    BUG_ON(rc != 0);
    int status = m->status;
    free(m);
    return status;
}
