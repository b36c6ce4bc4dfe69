/* test_sched.c — the scheduler (src/manager/scheduler): constraint parsing and matching with
 * Docker's words, each filter and its explanation, spread by tasks of the service then
 * tasks overall, placement preferences, accounting of placed and removed tasks, and a
 * randomised check of the spread invariant. Pure logic: no clock, no I/O. */
#include "harness.h"
#include "manager/scheduler/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GB (1024LL * 1024 * 1024)
#define CPU 1000000000LL

/* A ready, active worker with 4 CPUs and 8 GB and the given labels ("k=v,k2=v2"). */
static void t_node(struct sched *s, const char *id, const char *labels)
{
    struct sched_label l[8];
    char buf[256], *save = NULL;
    size_t n = 0;
    snprintf(buf, sizeof(buf), "%s", labels ? labels : "");
    for (char *kv = strtok_r(buf, ",", &save); kv && n < 8; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        l[n++] = (struct sched_label){kv, eq + 1};
    }
    struct sched_node_desc d = {.id = id,
                                .hostname = id,
                                .role = "worker",
                                .os = "linux",
                                .arch = "x86_64",
                                .addr = "10.0.0.1",
                                .ready = true,
                                .avail = SCHED_ACTIVE,
                                .labels = l,
                                .nlabels = n,
                                .nano_cpus = 4 * CPU,
                                .memory_bytes = 8 * GB};
    sched_node_set(s, &d);
}

static size_t t_place(struct sched *s, const struct sched_group *g, size_t n, char *why)
{
    const char **ids = calloc(n + 1, sizeof(*ids));
    char local[512];
    size_t got = sched_place(s, g, n, ids, why ? why : local, 512);
    free(ids);
    return got;
}

TEST(sched_constraints_parse)
{
    struct err e = {0};
    struct sched_constraint *c = NULL;
    const char *ok[] = {"node.labels.zone == east", "node.role!=manager",
                        "engine.labels.disk==ssd"};
    ASSERT_EQ_INT(sched_constraints_parse(ok, 3, &c, &e), 0);
    ASSERT_EQ_STR(c[0].key, "node.labels.zone");
    ASSERT_EQ_STR(c[0].value, "east");
    ASSERT_TRUE(c[0].equal);
    ASSERT_EQ_STR(c[1].key, "node.role");
    ASSERT_FALSE(c[1].equal);
    sched_constraints_free(c, 3);

    const char *no_op[] = {"node.role=manager"};
    ASSERT_EQ_INT(sched_constraints_parse(no_op, 1, &c, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "constraint expected one operator from ==, !=");
    const char *bad_key[] = {"node.role", "9zone==x"};
    ASSERT_EQ_INT(sched_constraints_parse(bad_key + 1, 1, &c, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "key '9zone' is invalid");
    const char *bad_value[] = {"node.labels.a==x", "node.labels.b==x,y"};
    ASSERT_EQ_INT(sched_constraints_parse(bad_value, 2, &c, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "value 'x,y' is invalid");
    const char *empty_value[] = {"node.labels.b=="};
    ASSERT_EQ_INT(sched_constraints_parse(empty_value, 1, &c, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "value '' is invalid");
}

/* Places one task with these constraints on a one-node set; 1 if it fits. */
static size_t t_fits(struct sched *s, const char *expr)
{
    struct err e = {0};
    struct sched_constraint *c = NULL;
    const char *x[] = {expr};
    if (sched_constraints_parse(x, 1, &c, &e))
        FAIL_AT("parse %s: %s", expr, e.msg);
    struct sched_group g = {.service_id = "probe", .constraints = c, .nconstraints = 1};
    const char *id = NULL;
    char why[256];
    size_t n = sched_place(s, &g, 1, &id, why, sizeof(why));
    if (n)
        sched_task_remove(s, id, &g);
    sched_constraints_free(c, 1);
    return n;
}

TEST(sched_constraints_match)
{
    struct sched *s = sched_new();
    struct sched_label el[] = {{"disk", "ssd"}};
    struct sched_label l[] = {{"zone", "East"}};
    struct sched_node_desc d = {.id = "n1",
                                .hostname = "Host-1",
                                .role = "manager",
                                .os = "linux",
                                .arch = "x86_64",
                                .addr = "10.1.2.3",
                                .ready = true,
                                .labels = l,
                                .nlabels = 1,
                                .engine_labels = el,
                                .nengine_labels = 1};
    sched_node_set(s, &d);
    ASSERT_EQ_INT(t_fits(s, "node.labels.zone==east"), 1); /* values: any case */
    ASSERT_EQ_INT(t_fits(s, "node.labels.zone!=east"), 0);
    ASSERT_EQ_INT(t_fits(s, "node.labels.Zone==east"), 0); /* keys: exact */
    ASSERT_EQ_INT(t_fits(s, "node.labels.other!=x"), 1);   /* missing label is "" */
    ASSERT_EQ_INT(t_fits(s, "node.hostname==host-1"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.id==n1"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.role==worker"), 0);
    ASSERT_EQ_INT(t_fits(s, "node.role!=worker"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.platform.os==linux"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.platform.arch==x86_64"), 1);
    ASSERT_EQ_INT(t_fits(s, "engine.labels.disk==ssd"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.ip==10.1.2.3"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.ip==10.1.0.0/16"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.ip==10.2.0.0/16"), 0);
    ASSERT_EQ_INT(t_fits(s, "node.ip!=10.2.0.0/16"), 1);
    ASSERT_EQ_INT(t_fits(s, "node.ip==bogus"), 0);
    ASSERT_EQ_INT(t_fits(s, "node.nosuch==x"), 0); /* unknown keys match nothing */
    sched_free(s);
}

TEST(sched_spread_even)
{
    struct sched *s = sched_new();
    char id[16];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "node%d", i);
        t_node(s, id, NULL);
    }
    struct sched_group g = {.service_id = "web"};
    const char *ids[8];
    char why[256];
    ASSERT_EQ_INT(sched_place(s, &g, 8, ids, why, sizeof(why)), 8);
    ASSERT_EQ_STR(why, "");
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "node%d", i);
        ASSERT_EQ_INT(sched_node_service_tasks(s, id, "web"), 2);
    }
    /* another service goes first to nodes with fewer tasks overall */
    sched_task_add(s, "node0", &(struct sched_group){.service_id = "db"});
    sched_task_add(s, "node1", &(struct sched_group){.service_id = "db"});
    struct sched_group g2 = {.service_id = "cache"};
    ASSERT_EQ_INT(sched_place(s, &g2, 2, ids, why, sizeof(why)), 2);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "node2", "cache"), 1);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "node3", "cache"), 1);
    /* tasks of the service count before tasks overall */
    sched_task_remove(s, "node3", &g);
    sched_task_remove(s, "node3", &g);
    ASSERT_EQ_INT(sched_place(s, &g, 1, ids, why, sizeof(why)), 1);
    ASSERT_EQ_STR(ids[0], "node3");
    ASSERT_EQ_INT(sched_node_tasks(s, "node3"), 2); /* cache + the new web */
    sched_free(s);
}

TEST(sched_availability_and_explain)
{
    struct sched *s = sched_new();
    char why[256];
    struct sched_group g = {.service_id = "web"};
    ASSERT_EQ_INT(t_place(s, &g, 1, why), 0);
    ASSERT_EQ_STR(why, "no suitable node"); /* no nodes at all */
    t_node(s, "a", NULL);
    t_node(s, "b", NULL);
    t_node(s, "c", NULL);
    struct sched_node_desc d = {.id = "b", .role = "worker", .ready = true, .avail = SCHED_DRAIN};
    sched_node_set(s, &d);
    d.id = "c";
    d.avail = SCHED_PAUSE;
    sched_node_set(s, &d);
    const char *ids[4];
    ASSERT_EQ_INT(sched_place(s, &g, 3, ids, why, sizeof(why)), 3);
    ASSERT_EQ_STR(ids[0], "a");
    ASSERT_EQ_STR(ids[2], "a");
    d.id = "a";
    d.avail = SCHED_ACTIVE;
    d.ready = false; /* down */
    sched_node_set(s, &d);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "a", "web"), 3); /* tasks stay accounted */
    ASSERT_EQ_INT(t_place(s, &g, 1, why), 0);
    ASSERT_EQ_STR(why, "no suitable node (3 nodes not available for new tasks)");
    sched_node_remove(s, "b");
    sched_node_remove(s, "c");
    sched_node_remove(s, "nosuch");
    ASSERT_EQ_INT(t_place(s, &g, 1, why), 0);
    ASSERT_EQ_STR(why, "no suitable node (1 node not available for new tasks)");
    sched_free(s);
}

TEST(sched_resources)
{
    struct sched *s = sched_new();
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "n%d", i);
        t_node(s, id, NULL); /* 4 CPUs, 8 GB each */
    }
    struct sched_group g = {.service_id = "big", .nano_cpus = 3 * CPU, .memory_bytes = GB};
    const char *ids[8];
    char why[256];
    ASSERT_EQ_INT(sched_place(s, &g, 5, ids, why, sizeof(why)), 3); /* one per node */
    ASSERT_EQ_STR(why, "no suitable node (insufficient resources on 3 nodes)");
    /* memory counts too; a removed task frees its reservation */
    struct sched_group m = {.service_id = "mem", .memory_bytes = 7 * GB + 1};
    ASSERT_EQ_INT(sched_place(s, &m, 1, ids, why, sizeof(why)), 0);
    sched_task_remove(s, "n1", &g);
    ASSERT_EQ_INT(sched_place(s, &m, 1, ids, why, sizeof(why)), 1);
    ASSERT_EQ_STR(ids[0], "n1");
    ASSERT_EQ_INT(sched_place(s, &g, 1, ids, why, sizeof(why)), 0);
    sched_free(s);
}

TEST(sched_host_ports_max_replicas_platform)
{
    struct sched *s = sched_new();
    t_node(s, "a", NULL);
    t_node(s, "b", NULL);
    const char *ids[4];
    char why[256];
    struct sched_port p80 = {80, SCHED_TCP};
    struct sched_group g = {.service_id = "web", .host_ports = &p80, .nhost_ports = 1};
    ASSERT_EQ_INT(sched_place(s, &g, 3, ids, why, sizeof(why)), 2);
    ASSERT_EQ_STR(why, "no suitable node (host-mode port already in use on 2 nodes)");
    struct sched_port u80 = {80, SCHED_UDP}; /* another protocol is another port */
    struct sched_group gu = {.service_id = "dns", .host_ports = &u80, .nhost_ports = 1};
    ASSERT_EQ_INT(sched_place(s, &gu, 2, ids, why, sizeof(why)), 2);

    struct sched_group mr = {.service_id = "mr", .max_replicas = 2};
    ASSERT_EQ_INT(sched_place(s, &mr, 5, ids, why, sizeof(why)), 4);
    ASSERT_EQ_STR(why, "no suitable node (max replicas per node limit exceed)");

    struct sched_platform arm = {"linux", "arm64"}, amd = {"", "amd64"};
    struct sched_group pa = {.service_id = "arm", .platforms = &arm, .nplatforms = 1};
    ASSERT_EQ_INT(sched_place(s, &pa, 1, ids, why, sizeof(why)), 0);
    ASSERT_EQ_STR(why, "no suitable node (unsupported platform on 2 nodes)");
    struct sched_group pd = {.service_id = "amd", .platforms = &amd, .nplatforms = 1};
    ASSERT_EQ_INT(sched_place(s, &pd, 1, ids, why, sizeof(why)), 1); /* x86_64 is amd64 */
    sched_free(s);
}

TEST(sched_explain_order)
{
    struct sched *s = sched_new();
    t_node(s, "a", "zone=x");
    t_node(s, "b", "zone=y");
    t_node(s, "c", "zone=y");
    struct sched_node_desc d = {.id = "d", .role = "worker", .ready = false};
    sched_node_set(s, &d);
    struct err e = {0};
    struct sched_constraint *c = NULL;
    const char *x[] = {"node.labels.zone==x"};
    ASSERT_EQ_INT(sched_constraints_parse(x, 1, &c, &e), 0);
    struct sched_group g = {
        .service_id = "s", .nano_cpus = 5 * CPU, .constraints = c, .nconstraints = 1};
    char why[256];
    ASSERT_EQ_INT(t_place(s, &g, 1, why), 0);
    /* most failures first: b and c fail resources before constraints are looked at */
    ASSERT_EQ_STR(why, "no suitable node (insufficient resources on 3 nodes; 1 node not "
                       "available for new tasks)");
    g.nano_cpus = 0;
    g.max_replicas = 1;
    ASSERT_EQ_INT(t_place(s, &g, 2, why), 1);
    /* equal counts: in filter order */
    ASSERT_EQ_STR(why, "no suitable node (scheduling constraints not satisfied on 2 nodes; "
                       "1 node not available for new tasks; max replicas per node limit "
                       "exceed)");
    sched_constraints_free(c, 1);
    sched_free(s);
}

TEST(sched_placement_preferences)
{
    struct sched *s = sched_new();
    t_node(s, "a1", "zone=a");
    t_node(s, "a2", "zone=a");
    t_node(s, "b1", "zone=b");
    t_node(s, "c1", "zone=c");
    const char *pref[] = {"node.labels.zone"};
    struct sched_group g = {.service_id = "web", .spread_prefs = pref, .nspread_prefs = 1};
    const char *ids[16];
    char why[256];
    ASSERT_EQ_INT(sched_place(s, &g, 6, ids, why, sizeof(why)), 6);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "a1", "web"), 1);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "a2", "web"), 1);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "b1", "web"), 2);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "c1", "web"), 2);
    /* existing tasks count: with a at 2 and b, c at 4, zone a takes the next 2, then the
     * zones take turns (a first on a tie: the order of their values) */
    sched_task_add(s, "b1", &g);
    sched_task_add(s, "b1", &g);
    sched_task_add(s, "c1", &g);
    sched_task_add(s, "c1", &g);
    ASSERT_EQ_INT(sched_place(s, &g, 2, ids, why, sizeof(why)), 2);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "a1", "web"), 2);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "a2", "web"), 2);
    ASSERT_EQ_INT(
        sched_node_service_tasks(s, "b1", "web") + sched_node_service_tasks(s, "c1", "web"), 8);
    ASSERT_EQ_INT(sched_place(s, &g, 2, ids, why, sizeof(why)), 2);
    ASSERT_EQ_INT(
        sched_node_service_tasks(s, "a1", "web") + sched_node_service_tasks(s, "a2", "web"), 5);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "b1", "web"), 5);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "c1", "web"), 4);
    /* a zone with no room takes nothing; its share goes elsewhere; nodes without the label
     * form their own branch */
    struct sched_node_desc d = {.id = "c1", .role = "worker", .ready = true, .avail = SCHED_DRAIN};
    sched_node_set(s, &d); /* also drops c1's zone label */
    t_node(s, "n1", NULL);
    struct sched_group h = {.service_id = "new", .spread_prefs = pref, .nspread_prefs = 1};
    ASSERT_EQ_INT(sched_place(s, &h, 6, ids, why, sizeof(why)), 6);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "c1", "new"), 0);
    ASSERT_EQ_INT(sched_node_service_tasks(s, "b1", "new"), 2);
    ASSERT_EQ_INT(
        sched_node_service_tasks(s, "a1", "new") + sched_node_service_tasks(s, "a2", "new"), 2);
    /* branch "" holds c1 (drained) and n1 */
    ASSERT_EQ_INT(sched_node_service_tasks(s, "n1", "new"), 2);
    sched_free(s);
}

static uint64_t t_rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Random node sets, random existing load, random requests: every placement lands on a node
 * that passes the filters, nothing exceeds a node's resources, and a new service on nodes
 * that all fit ends with at most one task of difference between nodes. */
TEST(sched_random_invariants)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 200; round++) {
        struct sched *s = sched_new();
        size_t nn = 1 + t_rng(&seed) % 12;
        char ids[16][8];
        for (size_t i = 0; i < nn; i++) {
            snprintf(ids[i], sizeof(ids[i]), "n%zu", i);
            t_node(s, ids[i], t_rng(&seed) % 2 ? "zone=a" : "zone=b");
        }
        struct sched_group load = {.service_id = "load", .nano_cpus = CPU / 2};
        for (int k = (int)(t_rng(&seed) % 20); k > 0; k--)
            sched_task_add(s, ids[t_rng(&seed) % nn], &load);
        size_t want = t_rng(&seed) % 40;
        struct sched_group g = {.service_id = "svc", .nano_cpus = CPU / 4};
        const char *out[64];
        char why[256];
        size_t got = sched_place(s, &g, want, out, why, sizeof(why));
        ASSERT_TRUE(got <= want);
        size_t total = 0, lo = SIZE_MAX, hi = 0;
        bool any_room = false;
        for (size_t i = 0; i < nn; i++) {
            size_t c = sched_node_service_tasks(s, ids[i], "svc");
            size_t l = sched_node_service_tasks(s, ids[i], "load");
            /* 4 CPUs: load/2 + svc/4 never above it */
            ASSERT_TRUE(l * 2 + c <= 16 || c == 0);
            if ((16 - (l * 2 > 16 ? 16 : l * 2)) - c > 0)
                any_room = true;
            total += c;
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
        }
        ASSERT_EQ_INT(total, got);
        if (got < want) {
            ASSERT_FALSE(any_room);
            ASSERT_TRUE(strstr(why, "insufficient resources") != NULL);
        }
        /* no node was full before: the spread is even */
        struct sched *t = sched_new();
        for (size_t i = 0; i < nn; i++)
            t_node(t, ids[i], NULL);
        size_t w = t_rng(&seed) % 50;
        ASSERT_EQ_INT(
            sched_place(t, &(struct sched_group){.service_id = "e"}, w, out, why, sizeof(why)), w);
        lo = SIZE_MAX;
        hi = 0;
        for (size_t i = 0; i < nn; i++) {
            size_t c = sched_node_service_tasks(t, ids[i], "e");
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
        }
        ASSERT_TRUE(hi - lo <= 1);
        sched_free(t);
        sched_free(s);
    }
}
