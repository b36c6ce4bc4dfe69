/* bench_sched.c — the scheduler alone, in-process: places 100,000 tasks onto 10,000 nodes
 * (one service of 100,000 replicas, then 100 services of 1,000 with CPU reservations and a
 * constraint, then the same with a spread preference over 10 zones) and prints tasks per
 * second for each. Docker has no way to run its scheduler alone here; the figure printed
 * beside ours is swarmkit's own published benchmark (see bench/README.md).
 * Then the manager's memory per task in the store: TASKS task objects shaped as the leader
 * writes them (a busybox service's template, status, slot, node), each decoded from its own
 * JSON text as the etcd feed does (their services stored first: a task shares its Spec with
 * its service when they are equal), with the views and indexes; bytes/task is the
 * growth of the heap (mallinfo2) divided by the count.
 * Usage: build/bench-sched [NODES [TASKS]] */
#include "manager/scheduler/sched.h"
#include "store/store.h"

#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sched *nodes(size_t n)
{
    struct sched *s = sched_new();
    for (size_t i = 0; i < n; i++) {
        char id[32], zone[8];
        snprintf(id, sizeof(id), "node%06zu", i);
        snprintf(zone, sizeof(zone), "z%zu", i % 10);
        struct sched_label l[] = {{"zone", zone}, {"tier", i % 4 ? "app" : "db"}};
        struct sched_node_desc d = {.id = id,
                                    .hostname = id,
                                    .role = "worker",
                                    .os = "linux",
                                    .arch = "x86_64",
                                    .ready = true,
                                    .labels = l,
                                    .nlabels = 2,
                                    .nano_cpus = 64000000000LL,
                                    .memory_bytes = 256LL << 30};
        sched_node_set(s, &d);
    }
    return s;
}

static void run(const char *what, size_t nn, size_t tasks, size_t services, bool prefs)
{
    struct sched *s = nodes(nn);
    struct err e = {0};
    struct sched_constraint *c = NULL;
    const char *expr[] = {"node.labels.tier==app"};
    if (sched_constraints_parse(expr, 1, &c, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    const char *pref[] = {"node.labels.zone"};
    const char **ids = malloc(tasks * sizeof(*ids));
    char why[256];
    size_t per = tasks / services, placed = 0;
    double t0 = now_s();
    for (size_t k = 0; k < services; k++) {
        char svc[32];
        snprintf(svc, sizeof(svc), "svc%zu", k);
        struct sched_group g = {.service_id = svc};
        if (services > 1) {
            g.nano_cpus = 10000000; /* 0.01 CPU */
            g.memory_bytes = 16 << 20;
            g.constraints = c;
            g.nconstraints = 1;
        }
        if (prefs) {
            g.spread_prefs = pref;
            g.nspread_prefs = 1;
        }
        placed += sched_place(s, &g, per, ids, why, sizeof(why));
    }
    double dt = now_s() - t0;
    printf("%-58s %8zu tasks in %6.3f s: %10.0f tasks/s   (swarmkit's benchmark: ~3,400/s)\n", what,
           placed, dt, (double)placed / dt);
    if (placed != per * services)
        printf("  only %zu placed: %s\n", placed, why);
    free(ids);
    sched_constraints_free(c, 1);
    sched_free(s);
}

static void store_memory(size_t tasks)
{
    struct store *st = store_new();
    for (size_t i = 0; i < 100; i++) { /* the services, as the leader stores them */
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"ID\":\"s%024zu\",\"Version\":{\"Index\":%zu},\"Spec\":{\"Name\":"
                 "\"web%zu\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
                 "\"busybox:latest\",\"Args\":[\"sleep\",\"3600\"],\"Init\":false,"
                 "\"DNSConfig\":{},\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{},"
                 "\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0,\"Runtime\":"
                 "\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":1000}}}}",
                 i, i + 1, i);
        store_apply_put(st, STORE_SERVICE, json_loads(text, 0, NULL));
    }
    malloc_trim(0);
    size_t before = mallinfo2().uordblks;
    for (size_t i = 0; i < tasks; i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"ID\":\"t%024zu\",\"Version\":{\"Index\":%zu},"
                 "\"CreatedAt\":\"2026-12-03T17:25:23.665031239Z\","
                 "\"UpdatedAt\":\"2026-12-03T17:25:23.680835189Z\",\"Labels\":{},"
                 "\"Spec\":{\"ContainerSpec\":{\"Image\":\"busybox:latest\","
                 "\"Args\":[\"sleep\",\"3600\"],\"Init\":false,\"DNSConfig\":{},"
                 "\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{},"
                 "\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0,"
                 "\"Runtime\":\"container\"},\"ServiceID\":\"s%024zu\",\"Slot\":%zu,"
                 "\"Status\":{\"Timestamp\":\"2026-12-03T17:25:23.668005614Z\","
                 "\"State\":\"running\",\"Message\":\"started\",\"ContainerStatus\":"
                 "{\"ContainerID\":\"%064zx\",\"PID\":%zu,\"ExitCode\":0},"
                 "\"PortStatus\":{}},\"DesiredState\":\"running\","
                 "\"NodeID\":\"node%021zu\"}",
                 i, i + 1000, i % 100, i / 100 + 1, i, 1000 + i, i % 10000);
        json_t *o = json_loads(text, 0, NULL);
        if (!o) {
            fprintf(stderr, "bad task text\n");
            exit(1);
        }
        store_apply_put(st, STORE_TASK, o);
    }
    size_t after = mallinfo2().uordblks;
    printf("manager memory per task in the store, %zu tasks: %.0f bytes/task (%.1f MB in all; "
           "Docker's store cannot be measured alone here)\n",
           tasks, (double)(after - before) / (double)tasks, (double)(after - before) / 1e6);
    store_free(st);
}

int main(int argc, char **argv)
{
    size_t nn = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    size_t tasks = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    printf("scheduler alone, %zu nodes, %zu tasks (target >= 50,000 tasks/s)\n", nn, tasks);
    run("1 service, no reservations", nn, tasks, 1, false);
    run("100 services, reservations + constraint", nn, tasks, 100, false);
    run("100 services, reservations + constraint + spread over zones", nn, tasks, 100, true);
    store_memory(tasks);
    return 0;
}
