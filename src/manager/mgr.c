/* mgr.c — one reconciliation pass of the leader (see manager.h).
 *
 * A pass builds its inputs from the store (typed task views, node objects, decoded service
 * specs cached per service version), asks the orchestrator and the scheduler, and gathers
 * every change as an edited copy of the object in `struct pass`; at the end the copies go
 * out as writes, each with the version it was read at, so a pass that raced another writer
 * (the status intake) fails as a whole and the next one starts over. The scheduler's view is
 * rebuilt each pass from the store (O(nodes + tasks)); placement itself is O(log nodes) per
 * task. Thread: the loop thread. */
#include "manager.h"

#include "manager/orchestrator/orch.h"
#include "manager/scheduler/sched.h"
#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

#define UPDATE_TICK_NS 250000000LL /* passes while an update or a rollback runs */

/* What a pass needs of a service, decoded once per service version. */
struct svc_cache {
    uint64_t version;
    struct spec_service *spec; /* NULL: the stored spec did not decode */
    uint64_t template_version, prev_template_version;
    struct spec_placement_view pv;
    bool pv_ok;
    /* failed or rejected tasks of this version seen lately: task ID → struct recent_failure
     * (kept after the reaper removed the task, as swarmkit's scheduler keeps its counts) */
    struct strmap *failures;
};

struct recent_failure {
    char node_id[ID_LEN + 1];
    int64_t at;
};

struct mgr {
    struct mgr_config cfg;
    struct orch *orch;
    struct strmap *svcs; /* service ID → struct svc_cache */
    int inflight;        /* commits of the last pass not answered yet */
    uint64_t passes, commits;
    /* driver */
    uv_loop_t *loop;
    uv_timer_t *timer;
    struct store_watch *watch;
    int64_t deadline;
    bool dead;
};

uint64_t mgr_template_version(json_t *t)
{
    char *s = json_dumps(t ? t : json_null(), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    free(s);
    return h;
}

struct mgr *mgr_new(const struct mgr_config *c)
{
    struct mgr *m = xcalloc(1, sizeof(*m));
    m->cfg = *c;
    m->orch = orch_new();
    m->svcs = strmap_new();
    m->deadline = INT64_MAX;
    return m;
}

static void cache_free(struct svc_cache *c)
{
    if (!c)
        return;
    if (c->pv_ok)
        spec_placement_view_release(&c->pv);
    spec_service_free(c->spec);
    if (c->failures) {
        size_t it = 0;
        const char *k;
        void *v;
        while (strmap_next(c->failures, &it, &k, &v))
            free(v);
        strmap_free(c->failures);
    }
    free(c);
}

bool mgr_idle(const struct mgr *m)
{
    return m->inflight == 0;
}

uint64_t mgr_passes(const struct mgr *m)
{
    return m->passes;
}

uint64_t mgr_commits(const struct mgr *m)
{
    return m->commits;
}

/* ---- the inputs ---- */

static struct svc_cache *service_cache(struct mgr *m, json_t *svc)
{
    const char *id = store_json_str(svc, "ID");
    uint64_t v = store_obj_version(svc);
    struct svc_cache *c = strmap_get(m->svcs, id);
    if (c && c->version == v)
        return c;
    cache_free(strmap_del(m->svcs, id));
    c = xcalloc(1, sizeof(*c));
    c->version = v;
    struct err e;
    if (spec_service_decode_json(json_object_get(svc, "Spec"), &c->spec, &e) < 0) {
        log_error("service %s: its stored spec does not decode (%s); it is left alone", id, e.msg);
        c->spec = NULL;
    } else if (spec_placement_view(c->spec, &c->pv, &e) < 0) {
        log_error("service %s: its placement does not parse (%s); it is left alone", id, e.msg);
        spec_service_free(c->spec);
        c->spec = NULL;
    } else {
        c->pv_ok = true;
        c->pv.group.service_id = NULL; /* set per pass: the key below outlives nothing */
    }
    c->template_version = mgr_template_version(store_json_path(svc, "Spec.TaskTemplate"));
    json_t *prev = store_json_path(svc, "PreviousSpec.TaskTemplate");
    c->prev_template_version = prev ? mgr_template_version(prev) : 0;
    strmap_put(m->svcs, id, c);
    return c;
}

static enum orch_failure_action failure_action(const char *s)
{
    if (s && !strcmp(s, "continue"))
        return ORCH_FAIL_CONTINUE;
    if (s && !strcmp(s, "rollback"))
        return ORCH_FAIL_ROLLBACK;
    return ORCH_FAIL_PAUSE;
}

static void update_view(const struct spec_update *u, bool has, struct orch_update_config *out)
{
    *out = (struct orch_update_config){.parallelism = 1, .monitor_ns = 5000000000LL};
    if (!has)
        return;
    out->parallelism = u->parallelism;
    out->delay_ns = u->delay;
    out->failure_action = failure_action(u->failure_action);
    out->monitor_ns = u->monitor ? u->monitor : 5000000000LL;
    out->max_failure_ratio = u->max_failure_ratio;
    out->order = u->order && !strcmp(u->order, "start-first") ? ORCH_START_FIRST : ORCH_STOP_FIRST;
}

static enum orch_update_state update_state_parse(const char *s)
{
    static const char *const names[] = {"",
                                        "updating",
                                        "paused",
                                        "completed",
                                        "rollback_started",
                                        "rollback_paused",
                                        "rollback_completed"};
    for (size_t i = 1; s && i < ARRAY_SIZE(names); i++)
        if (!strcmp(names[i], s))
            return (enum orch_update_state)i;
    return ORCH_UPD_NONE;
}

static void service_view(json_t *svc, const struct svc_cache *c, struct orch_service *o)
{
    *o = (struct orch_service){.id = store_json_str(svc, "ID")};
    const struct spec_service *s = c->spec;
    if (s->mode.has_global)
        o->mode = ORCH_GLOBAL;
    else if (s->mode.has_replicated_job)
        o->mode = ORCH_REPLICATED_JOB;
    else if (s->mode.has_global_job)
        o->mode = ORCH_GLOBAL_JOB;
    else
        o->mode = ORCH_REPLICATED;
    o->replicas = s->mode.has_replicas ? s->mode.replicas : 1;
    o->max_concurrent = s->mode.has_max_concurrent ? s->mode.max_concurrent : 1;
    o->total_completions =
        s->mode.has_total_completions ? s->mode.total_completions : o->max_concurrent;
    json_t *it = store_json_path(svc, "JobStatus.JobIteration.Index");
    o->job_iteration = json_is_integer(it) ? (uint64_t)json_integer_value(it) : 0;
    o->spec_version = c->template_version;
    spec_restart_view(s, &o->restart);
    update_view(&s->update, s->has_update, &o->update);
    update_view(&s->rollback, s->has_rollback, &o->rollback);
    o->update_state = update_state_parse(store_json_str(svc, "UpdateStatus.State"));
}

/* ---- a pass ---- */

struct pass {
    struct mgr *m;
    struct store *st;
    int64_t now;
    char now_s[40];
    struct strmap *edits; /* task or service ID → edited copy (json_t *) */
    json_t *creates;      /* new task objects */
    json_t *svc_edits;    /* service ID → edited copy */
    json_t *deletes;      /* task ID → version */
    struct sched *sc;
    struct orch_node *nodes;
    size_t nnodes;
    int64_t history_limit;
};

static json_t *task_edit(struct pass *p, const char *id)
{
    json_t *e = strmap_get(p->edits, id);
    if (e)
        return e;
    json_t *cur = store_get(p->st, STORE_TASK, id);
    if (!cur)
        return NULL;
    e = json_deep_copy(cur);
    strmap_put(p->edits, id, e);
    return e;
}

static void set_status(struct pass *p, json_t *task, const char *state, const char *msg,
                       const char *err)
{
    json_t *st = json_object_get(task, "Status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(task, "Status", st);
    }
    json_object_set_new(st, "Timestamp", json_string(p->now_s));
    json_object_set_new(st, "State", json_string(state));
    json_object_set_new(st, "Message", json_string(msg));
    if (err && err[0])
        json_object_set_new(st, "Err", json_string(err));
    else
        json_object_del(st, "Err");
    if (!json_object_get(st, "PortStatus"))
        json_object_set_new(st, "PortStatus", json_object());
    json_object_set_new(task, "UpdatedAt", json_string(p->now_s));
}

/* The scheduler's and orchestrator's view of the nodes. */
struct node_ctx {
    struct pass *p;
    size_t cap;
};

static void labels_of(json_t *obj, struct sched_label **out, size_t *n)
{
    *n = json_object_size(obj);
    *out = xcalloc(*n ? *n : 1, sizeof(**out));
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(obj, k, v)
    {
        (*out)[i++] = (struct sched_label){k, json_is_string(v) ? json_string_value(v) : ""};
    }
}

static int add_node(json_t *obj, void *data)
{
    struct node_ctx *c = data;
    struct pass *p = c->p;
    const char *state = store_json_str(obj, "Status.State");
    const char *avail = store_json_str(obj, "Spec.Availability");
    struct sched_label *labels, *elabels;
    size_t nl, nel;
    labels_of(store_json_path(obj, "Spec.Labels"), &labels, &nl);
    labels_of(store_json_path(obj, "Description.Engine.Labels"), &elabels, &nel);
    bool ready = state && !strcmp(state, "ready");
    enum sched_avail a = avail && !strcmp(avail, "drain")   ? SCHED_DRAIN
                         : avail && !strcmp(avail, "pause") ? SCHED_PAUSE
                                                            : SCHED_ACTIVE;
    struct sched_node_desc d = {
        .id = store_json_str(obj, "ID"),
        .hostname = store_json_str(obj, "Description.Hostname") ?: "",
        .role = store_json_str(obj, "Spec.Role") ?: "worker",
        .os = store_json_str(obj, "Description.Platform.OS") ?: "",
        .arch = store_json_str(obj, "Description.Platform.Architecture") ?: "",
        .addr = store_json_str(obj, "Status.Addr") ?: "",
        .ready = ready,
        .avail = a,
        .labels = labels,
        .nlabels = nl,
        .engine_labels = elabels,
        .nengine_labels = nel,
        .nano_cpus = json_integer_value(store_json_path(obj, "Description.Resources.NanoCPUs")),
        .memory_bytes =
            json_integer_value(store_json_path(obj, "Description.Resources.MemoryBytes")),
    };
    sched_node_set(p->sc, &d);
    free(labels);
    free(elabels);
    if (p->nnodes == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        p->nodes = xrealloc(p->nodes, c->cap * sizeof(*p->nodes));
    }
    p->nodes[p->nnodes++] =
        (struct orch_node){.id = d.id, .down = !ready, .drained = a == SCHED_DRAIN};
    return 0;
}

/* The scheduler accounts every task that holds a node. */
static bool holds_node(const struct store_task *t)
{
    return t->node_id[0] && t->desired <= TASK_RUNNING && t->observed <= TASK_RUNNING;
}

static struct sched_group *group_of(struct pass *p, const char *service_id)
{
    json_t *svc = store_get(p->st, STORE_SERVICE, service_id);
    if (!svc)
        return NULL;
    struct svc_cache *c = service_cache(p->m, svc);
    if (!c->spec)
        return NULL;
    c->pv.group.service_id = store_json_str(svc, "ID");
    return &c->pv.group;
}

static int account_task(json_t *obj, void *data)
{
    struct pass *p = data;
    const struct store_task *t = store_task_view(p->st, store_json_str(obj, "ID"));
    if (!t || !holds_node(t))
        return 0;
    struct sched_group *g = group_of(p, t->service_id);
    struct sched_group plain = {.service_id = t->service_id};
    sched_task_add(p->sc, t->node_id, g ? g : &plain);
    return 0;
}

/* Tasks of one service, as the orchestrator reads them. */
struct task_list {
    struct orch_task *v;
    size_t n, cap;
};

static int collect_task(const struct store_task *t, void *data)
{
    struct task_list *l = data;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    int64_t ts = 0;
    const char *tss = store_json_str(t->obj, "Status.Timestamp");
    if (tss)
        time_parse_rfc3339(tss, &ts);
    json_t *it = store_json_path(t->obj, "JobIteration.Index");
    l->v[l->n++] = (struct orch_task){
        .id = t->id,
        .slot = t->slot,
        .node_id = t->node_id,
        .desired = t->desired,
        .observed = t->observed,
        .spec_version = mgr_template_version(json_object_get(t->obj, "Spec")),
        .status_ns = ts,
        .job_iteration = json_is_integer(it) ? (uint64_t)json_integer_value(it) : 0,
    };
    return 0;
}

static void new_task(struct pass *p, json_t *svc, const struct orch_service *o,
                     const struct orch_action *a)
{
    char id[ID_LEN + 1];
    id_new(id);
    json_t *t = json_pack("{s:s, s:s, s:s, s:{}, s:O, s:s}", "ID", id, "CreatedAt", p->now_s,
                          "UpdatedAt", p->now_s, "Labels", "Spec",
                          store_json_path(svc, "Spec.TaskTemplate"), "ServiceID", o->id);
    /* swarmkit's tasks carry the service's endpoint: the agent publishes host-mode ports */
    json_t *eps = store_json_path(svc, "Spec.EndpointSpec");
    if (json_is_object(eps))
        json_object_set_new(t, "Endpoint", json_pack("{s:O}", "Spec", eps));
    if (o->mode == ORCH_REPLICATED || o->mode == ORCH_REPLICATED_JOB)
        json_object_set_new(t, "Slot", json_integer((json_int_t)a->slot));
    if (a->node_id && a->node_id[0])
        json_object_set_new(t, "NodeID", json_string(a->node_id));
    set_status(p, t, "pending", "pending task scheduling", NULL);
    json_object_set_new(t, "DesiredState", json_string(task_state_name(a->desired)));
    if (o->mode == ORCH_REPLICATED_JOB || o->mode == ORCH_GLOBAL_JOB)
        json_object_set_new(t, "JobIteration",
                            json_pack("{s:I}", "Index", (json_int_t)o->job_iteration));
    json_array_append_new(p->creates, t);
}

static json_t *svc_edit(struct pass *p, json_t *svc)
{
    const char *id = store_json_str(svc, "ID");
    json_t *e = json_object_get(p->svc_edits, id);
    if (!e) {
        e = json_deep_copy(svc);
        json_object_set_new(p->svc_edits, id, e);
    }
    return e;
}

static void update_status(struct pass *p, json_t *svc, const struct orch_action *a)
{
    json_t *e = svc_edit(p, svc);
    json_t *us = json_object_get(e, "UpdateStatus");
    const char *old = json_string_value(json_object_get(us, "State"));
    json_t *nus = json_object();
    json_object_set_new(nus, "State", json_string(orch_update_state_name(a->update_state)));
    const char *started = json_string_value(json_object_get(us, "StartedAt"));
    bool restart =
        a->update_state == ORCH_UPD_UPDATING || a->update_state == ORCH_UPD_ROLLBACK_STARTED;
    json_object_set_new(
        nus, "StartedAt",
        json_string(
            started && !(restart && old && strcmp(old, orch_update_state_name(a->update_state)))
                ? started
                : p->now_s));
    if (a->update_state == ORCH_UPD_COMPLETED || a->update_state == ORCH_UPD_ROLLBACK_COMPLETED)
        json_object_set_new(nus, "CompletedAt", json_string(p->now_s));
    json_object_set_new(nus, "Message", json_string(a->message));
    json_object_set_new(e, "UpdateStatus", nus);
    if (a->update_state == ORCH_UPD_ROLLBACK_STARTED && json_object_get(e, "PreviousSpec")) {
        json_t *cur = json_incref(json_object_get(e, "Spec"));
        json_object_set(e, "Spec", json_object_get(e, "PreviousSpec"));
        json_object_set_new(e, "PreviousSpec", cur);
    }
    json_object_set_new(e, "UpdatedAt", json_string(p->now_s));
}

/* Places the service's tasks that wait for a node: the pending ones of the store and the
 * ones created in this pass. */
static void schedule_service(struct pass *p, const char *service_id, struct sched_group *g,
                             const struct task_list *tl, size_t first_create)
{
    /* existing tasks waiting for a node, and pre-assigned ones (global) still pending */
    const char **ids = NULL;
    json_t **objs = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const struct orch_task *t = &tl->v[i];
        if (t->desired > TASK_RUNNING || t->observed > TASK_PENDING)
            continue;
        json_t *e = task_edit(p, t->id);
        /* a desired state changed in this pass to shutdown: not placed */
        int d = task_state_parse(json_string_value(json_object_get(e, "DesiredState")));
        if (d > TASK_RUNNING)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, cap * sizeof(*ids));
            objs = xrealloc(objs, cap * sizeof(*objs));
        }
        objs[n++] = e;
    }
    for (size_t i = first_create; i < json_array_size(p->creates); i++) {
        json_t *t = json_array_get(p->creates, i);
        if (strcmp(store_json_str(t, "ServiceID") ?: "", service_id))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, cap * sizeof(*ids));
            objs = xrealloc(objs, cap * sizeof(*objs));
        }
        objs[n++] = t;
    }
    /* pre-assigned (global) tasks: checked on their node; the rest placed as a group */
    size_t nfree = 0;
    json_t **free_objs = xcalloc(n ? n : 1, sizeof(*free_objs));
    char why[512];
    for (size_t i = 0; i < n; i++) {
        const char *nid = store_json_str(objs[i], "NodeID");
        if (!nid || !*nid) {
            free_objs[nfree++] = objs[i];
            continue;
        }
        if (sched_place_on(p->sc, g, nid, why, sizeof(why)))
            set_status(p, objs[i], "assigned", "scheduler assigned task to node", NULL);
        else if (strcmp(store_json_str(objs[i], "Status.Err") ?: "", why))
            set_status(p, objs[i], "pending", "pending task scheduling", why);
    }
    const char **placed = xcalloc(nfree ? nfree : 1, sizeof(*placed));
    why[0] = 0;
    size_t k = nfree ? sched_place(p->sc, g, nfree, placed, why, sizeof(why)) : 0;
    for (size_t i = 0; i < nfree; i++) {
        if (i < k) {
            json_object_set_new(free_objs[i], "NodeID", json_string(placed[i]));
            set_status(p, free_objs[i], "assigned", "scheduler assigned task to node", NULL);
        } else if (strcmp(store_json_str(free_objs[i], "Status.Err") ?: "", why)) {
            set_status(p, free_objs[i], "pending", "pending task scheduling", why);
        }
    }
    free(placed);
    free(free_objs);
    free(ids);
    free(objs);
}

struct svc_pass {
    struct pass *p;
    bool busy; /* an update or rollback runs: pass again soon */
};

/* The nodes where tasks of this service version failed or were rejected SCHED_MAX_FAILURES
 * times within the window: the scheduler tries them last, as swarmkit does (a node without
 * the image rejects every task; the replacements move on). *out: borrowed IDs, heap array. */
static size_t avoid_nodes(struct svc_cache *c, const struct task_list *tl, int64_t now,
                          const char ***out)
{
    if (!c->failures)
        c->failures = strmap_new();
    for (size_t i = 0; i < tl->n; i++) {
        const struct orch_task *t = &tl->v[i];
        if (!t->node_id || !t->node_id[0] || strlen(t->node_id) > ID_LEN ||
            t->spec_version != c->template_version ||
            (t->observed != TASK_FAILED && t->observed != TASK_REJECTED) ||
            strmap_get(c->failures, t->id))
            continue;
        struct recent_failure *f = xcalloc(1, sizeof(*f));
        snprintf(f->node_id, sizeof(f->node_id), "%s", t->node_id);
        f->at = t->status_ns;
        strmap_put(c->failures, t->id, f);
    }
    /* forget what left the window; count the rest per node */
    struct strmap *per_node = strmap_new();
    size_t it = 0;
    const char *k;
    void *v;
    const char **old = NULL;
    size_t nold = 0;
    while (strmap_next(c->failures, &it, &k, &v)) {
        struct recent_failure *f = v;
        if (now - f->at > SCHED_FAILURE_WINDOW_NS) {
            old = xrealloc(old, (nold + 1) * sizeof(*old));
            old[nold++] = xstrdup(k);
            continue;
        }
        strmap_put(per_node, f->node_id, (void *)((uintptr_t)strmap_get(per_node, f->node_id) + 1));
    }
    for (size_t i = 0; i < nold; i++) {
        free(strmap_del(c->failures, old[i]));
        free((char *)old[i]);
    }
    free(old);
    size_t n = 0;
    it = 0;
    while (strmap_next(c->failures, &it, &k, &v)) {
        struct recent_failure *f = v;
        if ((uintptr_t)strmap_get(per_node, f->node_id) < SCHED_MAX_FAILURES)
            continue;
        bool listed = false;
        for (size_t j = 0; j < n && !listed; j++)
            listed = !strcmp((*out)[j], f->node_id);
        if (!listed) {
            *out = xrealloc(*out, (n + 1) * sizeof(**out));
            (*out)[n++] = f->node_id;
        }
    }
    strmap_free(per_node);
    return n;
}

static int reconcile_service(json_t *svc, void *data)
{
    struct svc_pass *sp = data;
    struct pass *p = sp->p;
    struct mgr *m = p->m;
    struct svc_cache *c = service_cache(m, svc);
    if (!c->spec)
        return 0;
    struct orch_service o;
    service_view(svc, c, &o);
    struct sched_group *g = &c->pv.group;
    g->service_id = o.id;
    struct task_list tl = {0};
    store_tasks_of_service(p->st, o.id, collect_task, &tl);
    /* global modes: the nodes the service's constraints and platforms allow */
    for (size_t i = 0; i < p->nnodes; i++)
        p->nodes[i].eligible = sched_node_matches(p->sc, p->nodes[i].id, g);
    struct orch_actions acts = {0};
    orch_reconcile(m->orch, &o, tl.v, tl.n, p->nodes, p->nnodes, p->now, &acts);
    size_t first_create = json_array_size(p->creates);
    for (size_t i = 0; i < acts.n; i++) {
        const struct orch_action *a = &acts.v[i];
        if (a->kind == ORCH_CREATE) {
            new_task(p, svc, &o, a);
        } else if (a->kind == ORCH_SET_DESIRED) {
            json_t *e = task_edit(p, a->task_id);
            if (e) {
                json_object_set_new(e, "DesiredState", json_string(task_state_name(a->desired)));
                json_object_set_new(e, "UpdatedAt", json_string(p->now_s));
            }
        } else if (a->kind == ORCH_UPDATE_STATUS) {
            update_status(p, svc, a);
        }
    }
    orch_actions_release(&acts);
    if (o.update_state == ORCH_UPD_UPDATING || o.update_state == ORCH_UPD_ROLLBACK_STARTED)
        sp->busy = true;
    const char **avoid = NULL;
    g->navoid_nodes = avoid_nodes(c, &tl, p->now, &avoid);
    g->avoid_nodes = avoid;
    schedule_service(p, o.id, g, &tl, first_create);
    g->avoid_nodes = NULL;
    g->navoid_nodes = 0;
    free(avoid);
    /* the reaper */
    const char **dead = xcalloc(tl.n ? tl.n : 1, sizeof(*dead));
    size_t nd = orch_reap(&o, p->history_limit, tl.v, tl.n, dead);
    for (size_t i = 0; i < nd; i++) {
        json_t *cur = store_get(p->st, STORE_TASK, dead[i]);
        if (cur)
            json_object_set_new(p->deletes, dead[i],
                                json_integer((json_int_t)store_obj_version(cur)));
    }
    free(dead);
    free(tl.v);
    return 0;
}

/* Tasks whose service is gone: shut down, then removed once they no longer run. */
static int orphan_task(json_t *obj, void *data)
{
    struct pass *p = data;
    const struct store_task *t = store_task_view(p->st, store_json_str(obj, "ID"));
    if (!t || (t->service_id[0] && store_get(p->st, STORE_SERVICE, t->service_id)))
        return 0;
    bool stopped = t->observed > TASK_RUNNING || !t->node_id[0] || t->observed < TASK_ASSIGNED;
    if (stopped) {
        json_object_set_new(p->deletes, t->id, json_integer((json_int_t)store_obj_version(obj)));
    } else if (t->desired < TASK_REMOVE) {
        json_t *e = task_edit(p, t->id);
        json_object_set_new(e, "DesiredState", json_string("remove"));
        json_object_set_new(e, "UpdatedAt", json_string(p->now_s));
    }
    return 0;
}

/* ---- commits ---- */

struct commit_ctx {
    struct mgr *m;
};

static void mgr_wake(struct mgr *m, uint64_t ms);

static void commit_done(void *arg, int rc, struct err *e)
{
    struct commit_ctx *c = arg;
    struct mgr *m = c->m;
    free(c);
    m->inflight--;
    if (m->dead) {
        if (m->inflight == 0)
            free(m);
        return;
    }
    if (rc < 0)
        log_info("the leader's pass was not applied (%s); the next one starts over", e->msg);
    if (m->inflight == 0)
        mgr_wake(m, rc < 0 ? 50 : 0);
}

static void flush(struct mgr *m, struct store_write *w, size_t *n)
{
    if (!*n)
        return;
    struct commit_ctx *c = xcalloc(1, sizeof(*c));
    c->m = m;
    m->inflight++;
    m->commits++;
    m->cfg.commit(m->cfg.commit_ctx, w, *n, commit_done, c);
    *n = 0;
}

static void send_writes(struct pass *p)
{
    struct mgr *m = p->m;
    struct store_write w[MGR_BATCH];
    size_t n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(p->creates, i, t)
    {
        w[n++] = (struct store_write){STORE_TASK, t, NULL, 0};
        if (n == MGR_BATCH)
            flush(m, w, &n);
    }
    size_t it = 0;
    const char *id;
    void *v;
    while (strmap_next(p->edits, &it, &id, &v)) {
        json_t *e = v;
        if (json_object_get(p->deletes, id))
            continue;
        json_t *cur = store_get(p->st, STORE_TASK, id);
        if (!cur || json_equal(cur, e))
            continue;
        w[n++] = (struct store_write){STORE_TASK, e, NULL, store_obj_version(cur)};
        if (n == MGR_BATCH)
            flush(m, w, &n);
    }
    json_object_foreach(p->deletes, id, t)
    {
        w[n++] = (struct store_write){STORE_TASK, NULL, id, (uint64_t)json_integer_value(t)};
        if (n == MGR_BATCH)
            flush(m, w, &n);
    }
    json_object_foreach(p->svc_edits, id, t)
    {
        json_t *cur = store_get(p->st, STORE_SERVICE, id);
        if (!cur || json_equal(cur, t))
            continue;
        w[n++] = (struct store_write){STORE_SERVICE, t, NULL, store_obj_version(cur)};
        if (n == MGR_BATCH)
            flush(m, w, &n);
    }
    flush(m, w, &n);
}

static int history_limit_of(json_t *cluster, void *data)
{
    json_t *v = store_json_path(cluster, "Spec.Orchestration.TaskHistoryRetentionLimit");
    if (json_is_integer(v))
        *(int64_t *)data = json_integer_value(v);
    return 1;
}

int64_t mgr_tick(struct mgr *m, int64_t now)
{
    if (m->inflight)
        return INT64_MAX; /* the commits' answers run the next pass */
    m->passes++;
    struct pass p = {.m = m, .st = m->cfg.store, .now = now};
    time_format_rfc3339(now, p.now_s);
    p.edits = strmap_new();
    p.creates = json_array();
    p.svc_edits = json_object();
    p.deletes = json_object();
    p.sc = sched_new();
    p.history_limit = 5;
    store_foreach(p.st, STORE_CLUSTER, history_limit_of, &p.history_limit);
    struct node_ctx nc = {&p, 0};
    store_foreach(p.st, STORE_NODE, add_node, &nc);
    store_foreach(p.st, STORE_TASK, account_task, &p);
    struct svc_pass sp = {&p, false};
    store_foreach(p.st, STORE_SERVICE, reconcile_service, &sp);
    store_foreach(p.st, STORE_TASK, orphan_task, &p);
    send_writes(&p);
    /* forget the services that are gone */
    size_t it = 0;
    const char *id;
    void *v;
    json_t *gone = json_array();
    while (strmap_next(m->svcs, &it, &id, &v))
        if (!store_get(p.st, STORE_SERVICE, id))
            json_array_append_new(gone, json_string(id));
    size_t i;
    json_t *g;
    json_array_foreach(gone, i, g)
    {
        cache_free(strmap_del(m->svcs, json_string_value(g)));
        orch_forget_service(m->orch, json_string_value(g));
    }
    json_decref(gone);
    it = 0;
    while (strmap_next(p.edits, &it, &id, &v))
        json_decref(v);
    strmap_free(p.edits);
    json_decref(p.creates);
    json_decref(p.svc_edits);
    json_decref(p.deletes);
    sched_free(p.sc);
    free(p.nodes);
    int64_t next = orch_next_deadline(m->orch);
    if (sp.busy && now + UPDATE_TICK_NS < next)
        next = now + UPDATE_TICK_NS;
    return next;
}

/* ---- the driver: a store watch and one timer ---- */

static void on_timer(uv_timer_t *t)
{
    struct mgr *m = t->data;
    int64_t now = time_now_ns();
    m->deadline = mgr_tick(m, now);
    if (m->deadline != INT64_MAX && m->inflight == 0) {
        int64_t ms = (m->deadline - now) / 1000000 + 1;
        uv_timer_start(m->timer, on_timer, (uint64_t)(ms < 1 ? 1 : ms), 0);
    }
}

/* Runs a pass within ms (sooner if one is due sooner). */
static void mgr_wake(struct mgr *m, uint64_t ms)
{
    if (!m->timer || m->dead)
        return;
    if (uv_is_active((uv_handle_t *)m->timer) && uv_timer_get_due_in(m->timer) <= ms)
        return;
    uv_timer_start(m->timer, on_timer, ms, 0);
}

static void on_change(void *data, enum store_kind k, enum store_action a, json_t *old, json_t *cur)
{
    (void)k;
    (void)a;
    (void)old;
    (void)cur;
    struct mgr *m = data;
    if (m->inflight == 0)
        mgr_wake(m, 0);
}

void mgr_start(struct mgr *m, uv_loop_t *loop)
{
    if (m->timer)
        return;
    m->loop = loop;
    m->timer = xmalloc(sizeof(*m->timer));
    uv_timer_init(loop, m->timer);
    m->timer->data = m;
    unsigned kinds =
        1u << STORE_SERVICE | 1u << STORE_TASK | 1u << STORE_NODE | 1u << STORE_CLUSTER;
    m->watch = store_watch_add(m->cfg.store, kinds, on_change, m);
    mgr_wake(m, 0);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void mgr_free(struct mgr *m)
{
    if (!m)
        return;
    if (m->watch)
        store_watch_remove(m->cfg.store, m->watch);
    if (m->timer) {
        uv_timer_stop(m->timer);
        uv_close((uv_handle_t *)m->timer, timer_closed);
        m->timer = NULL;
    }
    size_t it = 0;
    const char *id;
    void *v;
    while (strmap_next(m->svcs, &it, &id, &v))
        cache_free(v);
    strmap_free(m->svcs);
    orch_free(m->orch);
    m->dead = true;
    if (m->inflight == 0)
        free(m);
}
