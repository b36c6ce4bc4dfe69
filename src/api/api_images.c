/* api_images.c — /images endpoints on this node's local image store, and /distribution.
 *
 * `docker load` and `docker import` run in the image helper process (image.h: the daemon
 * never maps libarchive): the request body goes to its stdin, its JSON message lines are the
 * streamed answer, and the store is re-read when it exits. Changes to the store (load,
 * import, tag, remove) run one at a time: while a helper runs, the others wait in a queue and
 * run, in order, after the store was re-read; reads are served at once from the store as it
 * was. /distribution answers as dockerd does when it cannot reach a registry (shoal has no
 * registry client yet and tries no network access), so `docker service create` goes on with
 * Docker's warning. Thread: the loop thread. */
#include "api_int.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

struct api_image_wait {
    struct api_image_wait *next;
    struct api_req *r;
    api_handler fn;
};

static bool have_images(struct api_req *r)
{
    if (r->api->cfg.images)
        return true;
    api_reply_error(r, ERR_UNAVAILABLE,
                    "the image store of this node could not be opened (see "
                    "the daemon's log)");
    return false;
}

/* Runs fn now, or queues it behind the helper that runs. True if it was queued. */
static bool wait_turn(struct api_req *r, api_handler fn)
{
    struct api *a = r->api;
    /* run_waiting calls the oldest queued handler only when no helper runs: it goes now */
    if (a->image_draining || (!a->image_job && !a->image_waiting))
        return false;
    struct api_image_wait *w = xcalloc(1, sizeof(*w)), **pp = &a->image_waiting;
    w->r = r;
    w->fn = fn;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    return true;
}

/* Runs the queued handlers in order until one starts a helper (the rest keep waiting). */
static void run_waiting(struct api *a)
{
    if (a->image_draining)
        return;
    a->image_draining = true;
    while (!a->image_job && a->image_waiting) {
        struct api_image_wait *w = a->image_waiting;
        a->image_waiting = w->next;
        struct api_req *r = w->r;
        api_handler fn = w->fn;
        free(w);
        fn(r);
    }
    a->image_draining = false;
}

/* ---- load and import through the helper ---- */

struct helper_call {
    struct api_req *r;
    bool wrote_error; /* the helper's own error message was relayed */
};

static void helper_line(void *arg, const char *line, size_t n)
{
    struct helper_call *hc = arg;
    if (memmem(line, n, "\"errorDetail\"", 13))
        hc->wrote_error = true;
    http_stream_write(hc->r->http, line, n);
}

static void helper_done(void *arg, int rc, const struct err *e)
{
    struct helper_call *hc = arg;
    struct api_req *r = hc->r;
    struct api *a = r->api;
    a->image_job = NULL;
    struct err re = {0};
    if (image_store_reload(a->cfg.images, &re) < 0)
        log_error("images: re-reading the store after the helper: %s", re.msg);
    if (rc < 0 && !hc->wrote_error) {
        json_t *m = json_pack("{s:{s:s}, s:s}", "errorDetail", "message", e->msg, "error", e->msg);
        char *msg = json_dumps(m, JSON_COMPACT);
        json_decref(m);
        http_stream_write(r->http, msg, strlen(msg));
        http_stream_write(r->http, "\r\n", 2);
        free(msg);
    }
    http_stream_end(r->http);
    api_req_free(r);
    free(hc);
    if (a->closing) {
        if (a->images_closed)
            a->images_closed(a);
        return;
    }
    run_waiting(a);
}

/* Starts the helper with argv[] = exe image-helper --root ROOT extra... op. */
static void helper_run(struct api_req *r, const char *op, const char *const *extra)
{
    struct api *a = r->api;
    const char *argv[16];
    size_t n = 0;
    argv[n++] = a->cfg.helper_exe;
    argv[n++] = "image-helper";
    argv[n++] = "--root";
    argv[n++] = image_store_root(a->cfg.images);
    for (size_t i = 0; extra && extra[i] && n < ARRAY_SIZE(argv) - 2; i++)
        argv[n++] = extra[i];
    argv[n++] = op;
    argv[n] = NULL;
    struct helper_call *hc = xcalloc(1, sizeof(*hc));
    hc->r = r;
    struct err e;
    a->image_job = image_job_start(a->loop, (char *const *)argv, r->http->body, r->http->body_len,
                                   helper_line, helper_done, hc, &e);
    if (!a->image_job) {
        free(hc);
        api_reply_err(r, &e);
        run_waiting(a);
        return;
    }
    /* dockerd answers 200 and reports failures inside the stream */
    http_stream_begin(r->http, 200, "application/json");
}

static void h_images_load(struct api_req *r)
{
    if (!have_images(r) || wait_turn(r, h_images_load))
        return;
    helper_run(r, "load", NULL); /* quiet=: no progress bars are drawn either way */
}

/* POST /images/create: fromSrc=- is `docker import` of the body; pulls need a registry. */
static void h_images_create(struct api_req *r)
{
    char *src = http_query_get(r->http, "fromSrc"), *from = http_query_get(r->http, "fromImage");
    if (!src || strcmp(src, "-")) {
        if (src)
            api_reply_error(r, ERR_NOT_IMPLEMENTED,
                            "importing from a URL is not supported by shoal yet");
        else
            api_reply_error(r, ERR_INTERNAL,
                            "Get \"https://registry-1.docker.io/v2/\": shoal cannot pull %s: no "
                            "registry client yet (load the image with docker load)",
                            from ? from : "images");
        free(src);
        free(from);
        return;
    }
    free(src);
    free(from);
    if (!have_images(r) || wait_turn(r, h_images_create))
        return;
    char *repo = http_query_get(r->http, "repo"), *tag = http_query_get(r->http, "tag"),
         *msg = http_query_get(r->http, "message"), *changes = http_query_get(r->http, "changes");
    char *ref = NULL;
    struct err e;
    if (changes && changes[0]) {
        api_reply_error(r, ERR_NOT_IMPLEMENTED,
                        "docker import --change is not supported by "
                        "shoal yet");
        goto out;
    }
    if (repo && repo[0]) {
        ref = tag && tag[0] ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        struct image_ref pr;
        if (image_ref_parse(ref, true, &pr, &e) < 0) {
            api_reply_err(r, &e);
            goto out;
        }
        image_ref_release(&pr);
    }
    const char *extra[5] = {0};
    size_t n = 0;
    if (ref) {
        extra[n++] = "--ref";
        extra[n++] = ref;
    }
    if (msg && msg[0]) {
        extra[n++] = "--comment";
        extra[n++] = msg;
    }
    helper_run(r, "import", extra);
out:
    free(repo);
    free(tag);
    free(msg);
    free(changes);
    free(ref);
}

/* ---- reads ---- */

static bool list_match(json_t *img, json_t *refs, json_t *dangling)
{
    json_t *tags = json_object_get(img, "RepoTags");
    size_t i, j;
    json_t *v, *t;
    json_array_foreach(dangling, i, v)
    {
        bool want = !strcmp(json_string_value(v), "true") || !strcmp(json_string_value(v), "1");
        if (want != (json_array_size(tags) == 0))
            return false;
    }
    if (!refs)
        return true;
    json_array_foreach(refs, i, v)
    {
        const char *pat = json_string_value(v);
        json_array_foreach(tags, j, t)
        {
            const char *tag = json_string_value(t);
            char *repo =
                xstrndup(tag, strrchr(tag, ':') ? (size_t)(strrchr(tag, ':') - tag) : strlen(tag));
            bool m = !fnmatch(pat, tag, 0) || !fnmatch(pat, repo, 0);
            free(repo);
            if (m)
                return true;
        }
    }
    return false;
}

static void h_images_list(struct api_req *r)
{
    static const char *const allowed[] = {"before",    "dangling", "label",
                                          "reference", "since",    NULL};
    struct err e;
    struct api_filters f = {0};
    if (!have_images(r))
        return;
    if (api_filters_parse(r, &f, &e) < 0 || api_filters_validate(&f, allowed, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    json_t *all = image_list(r->api->cfg.images), *out = json_array();
    size_t i;
    json_t *img;
    /* before= / since=: images created before / after the named one */
    json_int_t bound[2] = {0, 0};
    const char *const keys[] = {"before", "since"};
    for (int b = 0; b < 2; b++) {
        json_t *vals = api_filters_get(&f, keys[b]);
        char id[72];
        if (!vals)
            continue;
        if (image_resolve(r->api->cfg.images, json_string_value(json_array_get(vals, 0)) ?: "", id,
                          &e) < 0) {
            json_decref(all);
            json_decref(out);
            api_filters_release(&f);
            api_reply_err(r, &e);
            return;
        }
        json_array_foreach(all, i, img)
        {
            if (!strcmp(json_string_value(json_object_get(img, "Id")) ?: "", id))
                bound[b] = json_integer_value(json_object_get(img, "Created"));
        }
    }
    json_array_foreach(all, i, img)
    {
        json_int_t created = json_integer_value(json_object_get(img, "Created"));
        if (list_match(img, api_filters_get(&f, "reference"), api_filters_get(&f, "dangling")) &&
            api_filters_match_labels(&f, "label", json_object_get(img, "Labels")) &&
            (!api_filters_get(&f, "before") || created < bound[0]) &&
            (!api_filters_get(&f, "since") || created > bound[1]))
            json_array_append(out, img);
    }
    json_decref(all);
    api_filters_release(&f);
    api_reply_json(r, 200, out);
}

static void h_image_inspect(struct api_req *r)
{
    struct err e;
    json_t *out = NULL;
    if (!have_images(r))
        return;
    if (image_inspect(r->api->cfg.images, r->params[0], &out, &e) < 0) {
        if (e.kind == ERR_NOT_FOUND) /* dockerd 20.10's words */
            api_reply_error(r, ERR_NOT_FOUND, "no such image: %s: %s", r->params[0], e.msg);
        else
            api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, out);
}

/* ---- changes ---- */

static void h_image_delete(struct api_req *r)
{
    if (!have_images(r) || wait_turn(r, h_image_delete))
        return;
    struct err e;
    json_t *rec = NULL;
    /* noprune=: layers are shared by chain ID and go with their last image either way */
    if (image_remove(r->api->cfg.images, r->params[0], api_query_bool(r, "force"), &rec, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, rec);
}

static void h_image_tag(struct api_req *r)
{
    if (!have_images(r) || wait_turn(r, h_image_tag))
        return;
    char *repo = http_query_get(r->http, "repo"), *tag = http_query_get(r->http, "tag");
    struct err e;
    if (!repo || !repo[0]) {
        api_reply_error(r, ERR_INVALID, "repository name must have at least one component");
    } else {
        char *target = tag && tag[0] ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        if (image_tag(r->api->cfg.images, r->params[0], target, &e) < 0)
            api_reply_err(r, &e);
        else
            api_reply_empty(r, 201);
        free(target);
    }
    free(repo);
    free(tag);
}

/* dockerd with no registry reachable answers 500 with the dial error; shoal never dials. */
static void h_distribution(struct api_req *r)
{
    struct image_ref ref;
    struct err e;
    if (image_ref_parse(r->params[0], true, &ref, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    const char *slash = strchr(ref.name, '/');
    char *domain = xstrndup(ref.name, slash ? (size_t)(slash - ref.name) : strlen(ref.name));
    const char *host = !strcmp(domain, "docker.io") ? "registry-1.docker.io" : domain;
    api_reply_error(r, ERR_INTERNAL,
                    "Get \"https://%s/v2/\": shoal has no registry client yet, no registry was "
                    "contacted",
                    host);
    free(domain);
    image_ref_release(&ref);
}

void api_images_close(struct api *a, void (*cb)(struct api *a))
{
    while (a->image_waiting) {
        struct api_image_wait *w = a->image_waiting;
        a->image_waiting = w->next;
        api_reply_error(w->r, ERR_UNAVAILABLE, "the daemon is shutting down");
        free(w);
    }
    if (!a->image_job) {
        cb(a);
        return;
    }
    a->images_closed = cb;
    image_job_kill(a->image_job);
}

const struct api_route api_image_routes[] = {
    {"POST", "/images/load", h_images_load},
    {"POST", "/images/create", h_images_create},
    {"GET", "/images/json", h_images_list},
    {"GET", "/images/{name*}/json", h_image_inspect},
    {"POST", "/images/{name*}/tag", h_image_tag},
    {"DELETE", "/images/{name*}", h_image_delete},
    {"GET", "/distribution/{name*}/json", h_distribution},
    {NULL, NULL, NULL},
};
