/* api_plugins.c — GET /plugins and GET /plugins/{name}/json. shoal has no plugin system, so the
 * true answers are dockerd's for a daemon without plugins: an empty list (after dockerd's
 * filter checks) and 404 `plugin "<name>" not found`, which lets the CLI's untyped `docker
 * inspect` go on to the next kind of object. The other plugin endpoints (install, enable,
 * remove, ...) answer 501 from the router. Thread: the loop thread. */
#include "api_int.h"

#include <string.h>

int api_plugin_filters_check(const struct api_filters *f, struct err *e)
{
    static const char *const allowed[] = {"capability", "enabled", NULL};
    if (api_filters_validate(f, allowed, e) < 0)
        return -ERR_INVALID;
    json_t *vals = api_filters_get(f, "enabled");
    if (!vals)
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v);
        if (!strcmp(s, "true") || !strcmp(s, "false"))
            return 0;
    }
    /* plugin.invalidFilter: the values as Go's %s prints a []string */
    struct buf b = BUF_INIT;
    json_array_foreach(vals, i, v) buf_printf(&b, "%s%s", i ? " " : "", json_string_value(v));
    err_set(e, ERR_INVALID, "Invalid filter 'enabled=[%s]'", b.p ? b.p : "");
    buf_release(&b);
    return -ERR_INVALID;
}

static void h_plugins_list(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    int rc = api_filters_parse(r, &f, &e);
    if (rc == 0)
        rc = api_plugin_filters_check(&f, &e);
    api_filters_release(&f);
    if (rc < 0) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, json_array());
}

static void h_plugin_inspect(struct api_req *r)
{
    struct buf q = BUF_INIT;
    api_go_quote(r->params[0], &q);
    api_reply_error(r, ERR_NOT_FOUND, "plugin %s not found", q.p); /* errNotFound's %q */
    buf_release(&q);
}

const struct api_route api_plugin_routes[] = {
    {"GET", "/plugins", h_plugins_list},
    {"GET", "/plugins/{name*}/json", h_plugin_inspect},
    {NULL, NULL, NULL},
};
