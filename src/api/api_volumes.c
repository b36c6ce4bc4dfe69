/* api_volumes.c — /volumes: list (filters name, driver, label, dangling), inspect, create,
 * remove (409 "volume is in use - [ids]") and prune, over this node's volume store, in
 * Docker's shapes and words. Prune removes only unused anonymous volumes unless the all
 * filter is true (Docker's API 1.42 rule, whatever version the client asked for).
 * Thread: the loop thread. */
#include "api_int.h"
#include "spec/spec.h"

#include <stddef.h>
#include <string.h>

/* ---- the pure parts ---- */

/* Values of a boolean filter as moby's ExactMatch reads them: 1 true, 0 false, FILTER_UNSET;
 * -ERR_INVALID (Docker's "Invalid filter 'key=[v]'") for another value. */
#define FILTER_UNSET 2
static int filter_bool(const struct api_filters *f, const char *key, bool go_bools, struct err *e)
{
    json_t *vals = api_filters_get(f, key);
    if (!vals)
        return FILTER_UNSET;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        bool b;
        if (!strcmp(s, "true") || !strcmp(s, "1"))
            return 1;
        if (!strcmp(s, "false") || !strcmp(s, "0"))
            return 0;
        if (go_bools && num_parse_bool(s, &b) == 0)
            return b;
    }
    struct buf b = BUF_INIT;
    json_array_foreach(vals, i, v) buf_printf(&b, "%s%s", i ? " " : "", json_string_value(v));
    err_set(e, ERR_INVALID, "Invalid filter '%s=[%s]'", key, b.p ? b.p : "");
    buf_release(&b);
    return -ERR_INVALID;
}

int api_volume_filters_check(const struct api_filters *f, struct err *e)
{
    static const char *const allowed[] = {"name", "driver", "label", "dangling", NULL};
    if (api_filters_validate(f, allowed, e) < 0)
        return -ERR_INVALID;
    int d = filter_bool(f, "dangling", false, e);
    return d < 0 ? d : 0;
}

static bool any_substring(json_t *vals, const char *s)
{
    size_t i;
    json_t *v;
    if (!vals)
        return true;
    json_array_foreach(vals, i, v) if (strstr(s, json_string_value(v))) return true;
    return false;
}

static bool any_equal(json_t *vals, const char *s)
{
    size_t i;
    json_t *v;
    if (!vals)
        return true;
    json_array_foreach(vals, i, v) if (!strcmp(s, json_string_value(v))) return true;
    return false;
}

bool api_volume_filters_match(const struct api_filters *f, json_t *vol, size_t users)
{
    int dangling = filter_bool(f, "dangling", false, NULL);
    const char *name = json_string_value(json_object_get(vol, "Name")) ?: "";
    const char *driver = json_string_value(json_object_get(vol, "Driver")) ?: "";
    /* moby: name= is a substring match, driver= an exact one */
    return any_substring(api_filters_get(f, "name"), name) &&
           any_equal(api_filters_get(f, "driver"), driver) &&
           api_filters_match_labels(f, "label", json_object_get(vol, "Labels")) &&
           (dangling == FILTER_UNSET || dangling < 0 || (dangling == 1) == (users == 0));
}

int api_volume_prune_check(const struct api_filters *f, bool *all, struct err *e)
{
    static const char *const allowed[] = {"label", "label!", "all", NULL};
    if (api_filters_validate(f, allowed, e) < 0)
        return -ERR_INVALID;
    int a = filter_bool(f, "all", true, e);
    if (a < 0)
        return a;
    *all = a == 1;
    return 0;
}

bool api_volume_prune_match(const struct api_filters *f, bool all, json_t *vol, bool anonymous,
                            size_t users)
{
    json_t *labels = json_object_get(vol, "Labels");
    if (users || (!all && !anonymous))
        return false;
    if (!api_filters_match_labels(f, "label", labels))
        return false;
    /* moby's matchLabels: label! excludes the volumes that match all its values */
    return !api_filters_get(f, "label!") || !api_filters_match_labels(f, "label!", labels);
}

/* ---- handlers ---- */

static struct volume_store *have_volumes(struct api_req *r)
{
    if (!r->api->cfg.volumes)
        api_reply_error(r, ERR_UNAVAILABLE,
                        "volumes are not available on this node: its volume store did not open "
                        "(see the daemon's log)");
    return r->api->cfg.volumes;
}

struct list_ctx {
    const struct api_filters *f;
    json_t *out;
};

static void list_one(void *arg, json_t *vol, bool anonymous, size_t users)
{
    struct list_ctx *c = arg;
    if (api_volume_filters_match(c->f, vol, users))
        json_array_append(c->out, vol);
}

static void h_volumes_list(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    struct volume_store *vs = have_volumes(r);
    if (!vs)
        return;
    if (api_filters_parse(r, &f, &e) < 0 || api_volume_filters_check(&f, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    struct list_ctx c = {.f = &f, .out = json_array()};
    volume_each(vs, list_one, &c);
    api_filters_release(&f);
    api_reply_json(r, 200, json_pack("{s:o, s:n}", "Volumes", c.out, "Warnings"));
}

static void h_volume_inspect(struct api_req *r)
{
    struct err e;
    struct volume_store *vs = have_volumes(r);
    if (!vs)
        return;
    json_t *v = volume_inspect(vs, r->params[0], &e);
    if (!v) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, v);
}

/* moby's VolumeCreateBody, decoded with Go's rules and words (spec_decode). */
struct volume_create_body {
    char *name, *driver;
    struct spec_map opts, labels;
};
static const struct spec_field volume_create_f[] = {
    {"Driver", SPEC_STR, offsetof(struct volume_create_body, driver), NULL, 0, 0, 0, NULL},
    {"DriverOpts", SPEC_MAP, offsetof(struct volume_create_body, opts), NULL, 0, 0, 0, NULL},
    {"Labels", SPEC_MAP, offsetof(struct volume_create_body, labels), NULL, 0, 0, 0, NULL},
    {"Name", SPEC_STR, offsetof(struct volume_create_body, name), NULL, 0, 0, 0, NULL},
};
static const struct spec_type volume_create_t = {"VolumeCreateBody", "volume.VolumeCreateBody",
                                                 sizeof(struct volume_create_body), volume_create_f,
                                                 ARRAY_SIZE(volume_create_f)};

/* A map of the body as an object; NULL when the body has none (Docker then shows null). */
static json_t *map_json(json_t *body, const char *key, const struct spec_map *m)
{
    if (!json_is_object(json_object_get(body, key)))
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < m->n; i++)
        json_object_set_new(o, m->v[i].key, json_string(m->v[i].value));
    return o;
}

static void volume_event(struct api_req *r, const char *action, const char *name)
{
    api_events_publish(r->api->events, "volume", action, name,
                       json_pack("{s:s}", "driver", VOLUME_DRIVER), "local");
}

static void h_volume_create(struct api_req *r)
{
    struct err e = {0};
    struct volume_store *vs = have_volumes(r);
    if (!vs)
        return;
    if (!r->http->body_len) {
        api_reply_error(r, ERR_INVALID, "got EOF while reading request body");
        return;
    }
    struct volume_create_body b = {0};
    json_t *body = NULL;
    char *name = NULL;
    bool created = false;
    int rc = spec_decode(&volume_create_t, r->http->body, r->http->body_len, &b, &e);
    if (rc == 0) {
        body = api_body_json(r, &e);
        struct volume_req rq = {.name = b.name,
                                .driver = b.driver,
                                .labels = map_json(body, "Labels", &b.labels),
                                .options = map_json(body, "DriverOpts", &b.opts)};
        rc = body ? volume_create(vs, &rq, &name, &created, &e) : -ERR_INVALID;
        json_decref(rq.labels);
        json_decref(rq.options);
    }
    json_decref(body);
    spec_release(&volume_create_t, &b);
    json_t *v = rc == 0 ? volume_inspect(vs, name, &e) : NULL;
    if (v && created)
        volume_event(r, "create", name);
    free(name);
    if (!v) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 201, v);
}

static void h_volume_delete(struct api_req *r)
{
    struct err e;
    struct volume_store *vs = have_volumes(r);
    if (!vs)
        return;
    char *p = volume_data_path(vs, r->params[0]);
    bool known = p != NULL;
    free(p);
    if (volume_remove(vs, r->params[0], api_query_bool(r, "force"), NULL, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    if (known)
        volume_event(r, "destroy", r->params[0]);
    api_reply_empty(r, 204);
}

struct prune_ctx {
    const struct api_filters *f;
    bool all;
    char **names;
    size_t n;
};

static void prune_pick(void *arg, json_t *vol, bool anonymous, size_t users)
{
    struct prune_ctx *c = arg;
    if (!api_volume_prune_match(c->f, c->all, vol, anonymous, users))
        return;
    c->names = xrealloc(c->names, (c->n + 1) * sizeof(*c->names));
    c->names[c->n++] = xstrdup(json_string_value(json_object_get(vol, "Name")));
}

static void h_volumes_prune(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    struct volume_store *vs = have_volumes(r);
    if (!vs)
        return;
    struct prune_ctx c = {.f = &f};
    if (api_filters_parse(r, &f, &e) < 0 || api_volume_prune_check(&f, &c.all, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    volume_each(vs, prune_pick, &c);
    api_filters_release(&f);
    json_t *deleted = c.n ? json_array() : json_null();
    int64_t total = 0;
    for (size_t i = 0; i < c.n; i++) {
        int64_t bytes = 0;
        struct err re = {0};
        if (volume_remove(vs, c.names[i], false, &bytes, &re) == 0) {
            json_array_append_new(deleted, json_string(c.names[i]));
            total += bytes;
            volume_event(r, "destroy", c.names[i]);
        } else {
            log_warn("volumes: prune: %s", re.msg);
        }
        free(c.names[i]);
    }
    free(c.names);
    api_reply_json(
        r, 200,
        json_pack("{s:o, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)total));
}

const struct api_route api_volume_routes[] = {
    {"GET", "/volumes", h_volumes_list},
    {"POST", "/volumes/create", h_volume_create},
    {"POST", "/volumes/prune", h_volumes_prune},
    {"GET", "/volumes/{name}", h_volume_inspect},
    {"DELETE", "/volumes/{name}", h_volume_delete},
    {NULL, NULL, NULL},
};
