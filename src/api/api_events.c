/* api_events.c — GET /events: a chunked stream of newline-separated JSON events, with
 * since/until/filters as Docker. Swarm-scope events come from the store's watch queue
 * (node and cluster changes); recent events are kept in a ring so `since` can replay them.
 * A subscriber that does not read is cut once EVENTS_MAX_QUEUED bytes wait for it (the
 * http server closes the connection; on_close then frees the subscriber).
 * Thread: the loop thread. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_RING 1024
/* Bytes of events a subscriber may be behind (about 3,000 node events, beyond what the
 * kernel's socket buffer holds) before it is cut. dockerd buffers 1,024 events per
 * subscriber and then drops events for it silently; a cut at least tells the client that
 * it missed some. */
#define EVENTS_MAX_QUEUED (512 * 1024)

struct event_sub {
    struct api_events *ev;
    struct api_req *r;
    struct api_filters f;
    int64_t until_ns; /* 0: none */
    uv_timer_t *timer;
    bool gone; /* the stream was cut: nothing more is written, on_close frees it */
    struct event_sub *next;
};

struct api_events {
    struct api *api;
    struct store_watch *watch;
    json_t *ring[EVENTS_RING];
    size_t head, count;
    struct event_sub *subs;
};

static const char *const event_filters[] = {"config", "container", "daemon", "event",  "image",
                                            "label",  "network",   "node",   "plugin", "scope",
                                            "secret", "service",   "type",   "volume", NULL};

static bool filter_has(const struct api_filters *f, const char *key, const char *v1, const char *v2)
{
    json_t *vals = api_filters_get(f, key);
    if (!vals)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        if ((v1 && !strcmp(s, v1)) || (v2 && !strcmp(s, v2)))
            return true;
    }
    return false;
}

static bool event_matches(const struct api_filters *f, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "Type"));
    const char *id = store_json_str(ev, "Actor.ID");
    const char *name = store_json_str(ev, "Actor.Attributes.name");
    if (!filter_has(f, "type", type, NULL) ||
        !filter_has(f, "event", json_string_value(json_object_get(ev, "Action")), NULL) ||
        !filter_has(f, "scope", json_string_value(json_object_get(ev, "scope")), NULL))
        return false;
    static const char *const per_type[] = {"node",      "service", "secret", "config", "network",
                                           "container", "image",   "volume", "plugin", "daemon"};
    for (size_t i = 0; i < ARRAY_SIZE(per_type); i++) {
        if (!api_filters_get(f, per_type[i]))
            continue;
        if (strcmp(type, per_type[i]) || !filter_has(f, per_type[i], id, name))
            return false;
    }
    return !api_filters_get(f, "label"); /* swarm events carry no labels */
}

static void sub_write(struct event_sub *s, json_t *ev)
{
    if (s->gone)
        return;
    char *line = json_dumps(ev, JSON_COMPACT);
    size_t n = strlen(line);
    line = xrealloc(line, n + 2);
    line[n++] = '\n';
    if (http_stream_write(s->r->http, line, n) < 0)
        s->gone = true;
    free(line);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

/* Ends the stream and frees the subscriber (unlinked from the list). */
static void sub_end(struct event_sub *s, bool peer_gone)
{
    struct api_events *ev = s->ev;
    for (struct event_sub **pp = &ev->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (s->timer) {
        uv_timer_stop(s->timer);
        uv_close((uv_handle_t *)s->timer, timer_closed);
    }
    http_stream_end(s->r->http);
    (void)peer_gone;
    api_req_free(s->r);
    api_filters_release(&s->f);
    free(s);
}

static void until_reached(uv_timer_t *t)
{
    sub_end(t->data, false);
}

static void peer_closed(struct http_req *req, void *data)
{
    sub_end(data, true);
}

void api_events_publish(struct api_events *ev, const char *type, const char *action,
                        const char *actor_id, json_t *attrs, const char *scope)
{
    int64_t now = time_now_ns();
    json_t *e = json_pack("{s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "Type", type, "Action", action,
                          "Actor", "ID", actor_id, "Attributes", attrs, "scope", scope, "time",
                          (json_int_t)(now / 1000000000LL), "timeNano", (json_int_t)now);
    size_t slot = (ev->head + ev->count) % EVENTS_RING;
    if (ev->count == EVENTS_RING) {
        json_decref(ev->ring[ev->head]);
        ev->head = (ev->head + 1) % EVENTS_RING;
        slot = (ev->head + ev->count - 1) % EVENTS_RING;
    } else {
        ev->count++;
    }
    ev->ring[slot] = e;
    for (struct event_sub *s = ev->subs; s; s = s->next)
        if (event_matches(&s->f, e))
            sub_write(s, e);
}

static void attr_change(json_t *attrs, json_t *old, json_t *cur, const char *path, const char *name)
{
    const char *a = store_json_str(old, path), *b = store_json_str(cur, path);
    if (a && b && strcmp(a, b)) {
        char *k1 = xasprintf("%s.old", name), *k2 = xasprintf("%s.new", name);
        json_object_set_new(attrs, k1, json_string(a));
        json_object_set_new(attrs, k2, json_string(b));
        free(k1);
        free(k2);
    }
}

/* What dockerd adds to a service update event: image.old/new, replicas.old/new (both
 * replicated), updatestate.new (and .old when there was one) when the update state moved. */
static void service_update_attrs(json_t *attrs, json_t *old, json_t *cur)
{
    attr_change(attrs, old, cur, "Spec.TaskTemplate.ContainerSpec.Image", "image");
    json_t *a = store_json_path(old, "Spec.Mode.Replicated.Replicas");
    json_t *b = store_json_path(cur, "Spec.Mode.Replicated.Replicas");
    if (store_json_path(old, "Spec.Mode.Replicated") &&
        store_json_path(cur, "Spec.Mode.Replicated")) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        if (x != y) {
            json_object_set_new(attrs, "replicas.old", json_sprintf("%lld", (long long)x));
            json_object_set_new(attrs, "replicas.new", json_sprintf("%lld", (long long)y));
        }
    }
    const char *us_old = store_json_str(old, "UpdateStatus.State");
    const char *us_new = store_json_str(cur, "UpdateStatus.State");
    if (us_new && !us_old)
        json_object_set_new(attrs, "updatestate.new", json_string(us_new));
    else if (us_new && strcmp(us_old, us_new)) {
        json_object_set_new(attrs, "updatestate.old", json_string(us_old));
        json_object_set_new(attrs, "updatestate.new", json_string(us_new));
    }
}

static void on_store_change(void *data, enum store_kind k, enum store_action act, json_t *old,
                            json_t *cur)
{
    struct api_events *ev = data;
    static const char *const actions[] = {"", "create", "update", "remove"};
    json_t *obj = cur ? cur : old;
    json_t *attrs = json_object();
    if (k == STORE_NODE) {
        const char *host = store_json_str(obj, "Description.Hostname");
        json_object_set_new(attrs, "name", json_string(host ? host : ""));
        if (act == STORE_UPDATE) {
            attr_change(attrs, old, cur, "Spec.Availability", "availability");
            attr_change(attrs, old, cur, "Spec.Role", "role");
            attr_change(attrs, old, cur, "Status.State", "state");
        }
    } else if (k == STORE_SERVICE) {
        const char *name = store_json_str(obj, "Spec.Name");
        json_object_set_new(attrs, "name", json_string(name ? name : ""));
        if (act == STORE_UPDATE)
            service_update_attrs(attrs, old, cur);
    } else {
        const char *name = store_json_str(obj, "Spec.Name");
        json_object_set_new(attrs, "name", json_string(name ? name : ""));
    }
    api_events_publish(ev, store_kind_name(k), actions[act], store_json_str(obj, "ID") ?: "", attrs,
                       "swarm");
}

struct api_events *api_events_new(struct api *a)
{
    struct api_events *ev = xcalloc(1, sizeof(*ev));
    ev->api = a;
    ev->watch = store_watch_add(node_store(a->node),
                                (1u << STORE_NODE) | (1u << STORE_CLUSTER) | (1u << STORE_SERVICE),
                                on_store_change, ev);
    return ev;
}

void api_events_close_streams(struct api_events *ev)
{
    while (ev->subs)
        sub_end(ev->subs, false);
}

void api_events_free(struct api_events *ev)
{
    api_events_close_streams(ev);
    store_watch_remove(node_store(ev->api->node), ev->watch);
    for (size_t i = 0; i < ev->count; i++)
        json_decref(ev->ring[(ev->head + i) % EVENTS_RING]);
    free(ev);
}

int api_events_parse_time(const char *key, const char *s, int64_t *ns, struct err *e)
{
    int rc = time_parse_unix(s, ns);
    if (rc == NUM_SYNTAX)
        rc = time_parse_rfc3339(s, ns);
    if (rc == NUM_RANGE)
        return err_set(e, ERR_INVALID, "invalid value for %s: %s: time out of range", key, s);
    if (rc < 0)
        return err_set(e, ERR_INVALID, "invalid value for %s: %s", key, s);
    return 0;
}

static int query_time(struct api_req *r, const char *key, int64_t *ns, bool *set, struct err *e)
{
    char *v = http_query_get(r->http, key);
    int rc = 0;
    *ns = 0;
    *set = v && v[0];
    if (*set)
        rc = api_events_parse_time(key, v, ns, e);
    free(v);
    return rc;
}

void api_events_handle(struct api_req *r)
{
    struct api_events *ev = r->api->events;
    struct err e;
    int64_t since = 0, until = 0;
    bool since_set, until_set;
    struct event_sub *s = xcalloc(1, sizeof(*s));
    int rc = query_time(r, "since", &since, &since_set, &e);
    if (!rc)
        rc = query_time(r, "until", &until, &until_set, &e);
    if (!rc && since_set && until_set && until < since) {
        char *a = http_query_get(r->http, "since"), *b = http_query_get(r->http, "until");
        rc = err_set(&e, ERR_INVALID, "`since` time (%s) cannot be after `until` time (%s)", a, b);
        free(a);
        free(b);
    }
    if (rc < 0 || api_filters_parse(r, &s->f, &e) < 0 ||
        api_filters_validate(&s->f, event_filters, &e) < 0) {
        api_filters_release(&s->f);
        free(s);
        api_reply_err(r, &e);
        return;
    }
    s->ev = ev;
    s->r = r;
    s->until_ns = until;
    http_stream_begin(r->http, 200, "application/json");
    http_stream_limit(r->http, EVENTS_MAX_QUEUED);
    int64_t now = time_now_ns();
    if (since_set || until_set) { /* dockerd: since=0 is 1970, not "no since" */
        for (size_t i = 0; i < ev->count; i++) {
            json_t *x = ev->ring[(ev->head + i) % EVENTS_RING];
            int64_t t = json_integer_value(json_object_get(x, "timeNano"));
            if (t >= since && (!until || t <= until) && event_matches(&s->f, x))
                sub_write(s, x);
        }
    }
    s->next = ev->subs;
    ev->subs = s;
    if (until && until <= now) {
        sub_end(s, false);
        return;
    }
    http_req_on_close(r->http, peer_closed, s);
    if (until) {
        s->timer = xmalloc(sizeof(*s->timer));
        uv_timer_init(r->api->loop, s->timer);
        s->timer->data = s;
        uv_timer_start(s->timer, until_reached, (uint64_t)((until - now) / 1000000) + 1, 0);
    }
}
