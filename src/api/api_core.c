/* api_core.c — the Engine API server's core: listeners, version-prefix handling, routing,
 * Docker's response headers, and the helpers that handlers use to read requests and answer.
 * Thread: the loop thread. */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static const struct api_route *const route_tables[] = {
    api_system_routes, api_swarm_routes,   api_node_routes,      api_task_routes,
    api_log_routes,    api_image_routes,   api_container_routes, api_service_routes,
    api_volume_routes, api_network_routes, api_plugin_routes,    api_secret_routes};

/* Endpoints of the Engine API that shoal does not serve yet: 501, not 404, so a client
 * learns the truth. Matched by path prefix after the version, after the routes (so the
 * network and plugin reads that are built are served, and their writes answer 501). */
static const char *const unbuilt_prefixes[] = {
    "/services", "/secrets", "/configs", "/networks",  "/containers", "/images", "/exec",
    "/build",    "/plugins", "/session", "/system/df", "/auth",       "/commit", "/grpc",
};

/* ---- responses ---- */

void api_req_free(struct api_req *r)
{
    free(r->param_store);
    free(r);
}

void api_reply_json(struct api_req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!s) {
        BUG_ON(status == 500); /* the fallback below must always encode */
        api_reply_json(r, 500, json_pack("{s:s}", "message", "could not encode the answer"));
        return;
    }
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n++] = '\n';
    http_respond(r->http, status, "application/json", s, n);
    free(s);
    api_req_free(r);
}

void api_reply_err(struct api_req *r, const struct err *e)
{
    /* Messages may quote client input: never let a stray byte break the JSON. */
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", e->msg);
    json_t *m = json_string(msg);
    if (!m) {
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        m = json_string(msg);
    }
    api_reply_json(r, err_http_status(e->kind), json_pack("{s:o}", "message", m));
}

void api_reply_error(struct api_req *r, int kind, const char *fmt, ...)
{
    struct err e;
    va_list ap;
    va_start(ap, fmt);
    e.kind = kind;
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    api_reply_err(r, &e);
}

void api_done_empty(void *data, int rc, struct err *e)
{
    struct api_req *r = data;
    if (rc < 0)
        api_reply_err(r, e);
    else
        api_reply_empty(r, 200);
}

void api_reply_empty(struct api_req *r, int status)
{
    http_respond(r->http, status, NULL, "", 0);
    api_req_free(r);
}

/* ---- request helpers ---- */

json_t *api_body_json(struct api_req *r, struct err *e)
{
    return api_json_decode(r->http->body, r->http->body_len, e);
}

bool api_bool_value(const char *v)
{
    /* httputils.BoolValue: lower-cased and trimmed, anything but these is true */
    static const char *const falsy[] = {"", "0", "no", "false", "none"};
    if (!v)
        return false;
    while (*v == ' ' || (*v >= '\t' && *v <= '\r'))
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || (v[n - 1] >= '\t' && v[n - 1] <= '\r')))
        n--;
    for (size_t i = 0; i < ARRAY_SIZE(falsy); i++)
        if (strlen(falsy[i]) == n && !strncasecmp(v, falsy[i], n))
            return false;
    return true;
}

bool api_query_bool(struct api_req *r, const char *key)
{
    char *v = http_query_get(r->http, key);
    bool b = api_bool_value(v);
    free(v);
    return b;
}

int api_query_parse_bool(struct api_req *r, const char *key, bool *out, struct err *e)
{
    char *v = http_query_get(r->http, key);
    int rc = 0;
    *out = false;
    if (v && v[0] && num_parse_bool(v, out) < 0)
        rc = err_set(e, ERR_INVALID, "invalid value for %s: %s", key, v);
    free(v);
    return rc;
}

int api_query_version(struct api_req *r, const char *what, uint64_t *version, struct err *e)
{
    char *v = http_query_get(r->http, "version");
    const char *s = v ? v : "";
    int rc = num_parse_u64(s, version);
    if (rc < 0) /* dockerd: strconv.ParseUint(version, 10, 64) */
        rc = err_set(e, ERR_INVALID,
                     "invalid %s version '%s': strconv.ParseUint: parsing \"%s\": %s", what, s, s,
                     num_err_word(rc));
    free(v);
    return rc;
}

void api_go_quote(const char *s, struct buf *out)
{
    static const char named[] = "\a\b\f\n\r\t\v", letter[] = "abfnrtv";
    const unsigned char *p = (const unsigned char *)s;
    buf_add(out, "\"", 1);
    while (*p) {
        unsigned c = *p;
        const char *nm = c ? strchr(named, (int)c) : NULL;
        size_t n = (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2
                   : (c & 0xf0) == 0xe0            ? 3
                   : (c & 0xf8) == 0xf0            ? 4
                                                   : 1;
        size_t k = 1;
        while (c >= 0x80 && k < n && (p[k] & 0xc0) == 0x80)
            k++;
        if (c == '"' || c == '\\') {
            buf_printf(out, "\\%c", c);
        } else if (c >= 0x20 && c < 0x7f) {
            buf_add(out, (const char *)p, 1);
        } else if (nm) {
            buf_printf(out, "\\%c", letter[nm - named]);
        } else if (c < 0x80 || n == 1 || k < n) {
            buf_printf(out, "\\x%02x", c); /* a control byte, or a byte of no UTF-8 sequence */
        } else if (n == 2 && (((c & 0x1f) << 6) | (p[1] & 0x3f)) < 0xa0) {
            buf_printf(out, "\\u%04x", ((c & 0x1f) << 6) | (p[1] & 0x3f)); /* C1 controls */
            p++;
        } else {
            buf_add(out, (const char *)p, n); /* a character: kept, as printable */
            p += n;
            continue;
        }
        p++;
    }
    buf_add(out, "\"", 1);
}

/* ---- filters ---- */

/* Go's json.Unmarshal into map[string]map[string]bool: null, or an object whose values are
 * null or objects of booleans/nulls. Appends the keys of each inner object to out. */
static bool filters_as_sets(json_t *j, json_t *out)
{
    const char *k, *val;
    json_t *v, *b;
    json_object_foreach(j, k, v)
    {
        if (!json_is_object(v) && !json_is_null(v))
            return false;
        json_t *vals = json_array();
        json_object_foreach(v, val, b)
        {
            if (!json_is_boolean(b) && !json_is_null(b)) {
                json_decref(vals);
                return false;
            }
            json_array_append_new(vals, json_string(val)); /* Args.Get lists every key */
        }
        json_object_set_new(out, k, vals);
    }
    return true;
}

/* The legacy form, map[string][]string: values are null or arrays of strings. */
static bool filters_as_lists(json_t *j, json_t *out)
{
    const char *k;
    json_t *v, *x;
    size_t i;
    json_object_foreach(j, k, v)
    {
        if (!json_is_array(v) && !json_is_null(v))
            return false;
        json_t *vals = json_array();
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x)) {
                json_decref(vals);
                return false;
            }
            json_array_append(vals, x);
        }
        json_object_set_new(out, k, vals);
    }
    return true;
}

int api_filters_decode(const char *raw, size_t n, struct api_filters *f, struct err *e)
{
    f->map = json_object();
    if (!n)
        return 0;
    /* As moby's filters.FromJSON: the map-of-sets form, else the legacy map-of-lists form,
     * else 400 "invalid filter". json.Unmarshal refuses anything after the value. */
    json_t *j = json_loadb(raw, n, JSON_DECODE_ANY, NULL);
    bool ok = j && (json_is_object(j) || json_is_null(j));
    if (ok && !filters_as_sets(j, f->map)) {
        json_object_clear(f->map);
        ok = filters_as_lists(j, f->map);
    }
    json_decref(j);
    if (!ok) {
        json_object_clear(f->map);
        return err_set(e, ERR_INVALID, "invalid filter");
    }
    return 0;
}

int api_filters_parse(struct api_req *r, struct api_filters *f, struct err *e)
{
    char *raw = http_query_get(r->http, "filters");
    int rc = api_filters_decode(raw ? raw : "", raw ? strlen(raw) : 0, f, e);
    free(raw);
    return rc;
}

void api_filters_release(struct api_filters *f)
{
    json_decref(f->map);
    f->map = NULL;
}

int api_filters_validate(const struct api_filters *f, const char *const *allowed, struct err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(f->map, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || !strcmp(k, allowed[i]);
        if (!ok)
            return err_set(e, ERR_INVALID, "Invalid filter '%s'", k);
    }
    return 0;
}

json_t *api_filters_get(const struct api_filters *f, const char *key)
{
    return json_object_get(f->map, key);
}

bool api_filter_any_prefix(json_t *vals, const char *s)
{
    size_t i;
    json_t *v;
    if (!vals)
        return true;
    json_array_foreach(vals, i, v)
    {
        if (s && str_has_prefix(s, json_string_value(v)))
            return true;
    }
    return false;
}

bool api_filters_match_labels(const struct api_filters *f, const char *key, json_t *labels)
{
    json_t *vals = api_filters_get(f, key);
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *s = json_string_value(v), *eq = strchr(s, '=');
        char *k = eq ? xstrndup(s, (size_t)(eq - s)) : xstrdup(s);
        json_t *have = json_object_get(labels, k);
        free(k);
        if (!have || (eq && strcmp(json_string_value(have) ?: "", eq + 1) != 0))
            return false;
    }
    return true;
}

/* ---- routing ---- */

/* Matches path against pattern, capturing {x} segments into r->params. */
static bool route_match(const char *pattern, const char *path, struct api_req *r)
{
    const char *p = pattern, *s = path;
    int np = 0;
    struct buf store = BUF_INIT;
    size_t offs[API_MAX_PARAMS];
    while (*p && *s) {
        if (*p == '{' && strchr(p, '}')[-1] == '*') {
            /* {name*}: as much as leaves the rest of the pattern (literal) as the path's end */
            const char *rest = strchr(p, '}') + 1;
            size_t sl = strlen(s), rl = strlen(rest);
            if (sl <= rl || strcmp(s + sl - rl, rest) || np == API_MAX_PARAMS)
                goto no;
            offs[np++] = store.len;
            buf_add(&store, s, sl - rl);
            buf_add(&store, "", 1);
            p = rest + rl;
            s += sl;
        } else if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            if (!se)
                se = s + strlen(s);
            if (se == s || np == API_MAX_PARAMS)
                goto no;
            offs[np++] = store.len;
            buf_add(&store, s, (size_t)(se - s));
            buf_add(&store, "", 1);
            p = pe + 1;
            s = se;
        } else if (*p++ != *s++) {
            goto no;
        }
    }
    if (*p || *s)
        goto no;
    r->param_store = buf_detach(&store, NULL);
    for (int i = 0; i < np; i++)
        r->params[i] = r->param_store + offs[i];
    return true;
no:
    buf_release(&store);
    return false;
}

/* Strips "/vX.Y"; returns 0, or answers the client (too new/too old) and returns -1. */
static int strip_version(struct api_req *r, const char **path)
{
    const char *p = *path;
    if (p[0] != '/' || p[1] != 'v' || p[2] < '0' || p[2] > '9')
        return 0;
    char *end;
    long major = strtol(p + 2, &end, 10), minor = 0;
    if (*end == '.')
        minor = strtol(end + 1, &end, 10);
    if (*end != '/' && *end != 0)
        return 0;
    *path = *end ? end : "/";
    r->vmajor = (int)major;
    r->vminor = (int)minor;
    if (major > 1 || (major == 1 && minor > 41)) {
        api_reply_error(
            r, ERR_INVALID,
            "client version %ld.%ld is too new. Maximum supported API version is " API_VERSION,
            major, minor);
        return -1;
    }
    if (major < 1 || (major == 1 && minor < 24)) {
        char *msg = xasprintf("client version %ld.%ld is too old. Minimum supported API version "
                              "is " API_MIN_VERSION ", please upgrade your client to a newer "
                              "version\n",
                              major, minor);
        http_respond(r->http, 400, "text/plain; charset=utf-8", msg, strlen(msg));
        free(msg);
        api_req_free(r);
        return -1;
    }
    return 0;
}

static void dispatch(struct http_req *hreq, void *data)
{
    struct api *a = data;
    struct api_req *r = xcalloc(1, sizeof(*r));
    r->api = a;
    r->http = hreq;
    const char *path = hreq->path;
    if (strip_version(r, &path) < 0)
        return;
    const char *method = !strcmp(hreq->method, "HEAD") ? "GET" : hreq->method;
    for (size_t t = 0; t < ARRAY_SIZE(route_tables); t++)
        for (const struct api_route *rt = route_tables[t]; rt->method; rt++) {
            if (strcmp(rt->method, method) && strcmp(rt->method, hreq->method))
                continue;
            if (route_match(rt->pattern, path, r)) {
                log_debug("%s %s", hreq->method, hreq->target);
                rt->fn(r);
                return;
            }
        }
    /* The Engine API has no PUT besides a container's archive: others are unknown pages. */
    bool method_known =
        strcmp(hreq->method, "PUT")
            ? !strcmp(method, "GET") || !strcmp(method, "POST") || !strcmp(method, "DELETE")
            : strstr(path, "/archive") != NULL;
    for (size_t i = 0; method_known && i < ARRAY_SIZE(unbuilt_prefixes); i++) {
        size_t n = strlen(unbuilt_prefixes[i]);
        if (!strncmp(path, unbuilt_prefixes[i], n) && (path[n] == 0 || path[n] == '/')) {
            api_reply_error(r, ERR_NOT_IMPLEMENTED, "%s %s is not implemented by shoal yet",
                            hreq->method, path);
            return;
        }
    }
    api_reply_error(r, ERR_NOT_FOUND, "page not found");
}

/* ---- lifecycle ---- */

struct api *api_new(uv_loop_t *loop, struct node *node, const struct api_config *cfg)
{
    struct api *a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->node = node;
    a->cfg = *cfg;
    a->cfg.data_root = xstrdup(cfg->data_root);
    a->cfg.engine_version = xstrdup(cfg->engine_version);
    a->cfg.helper_exe = xstrdup(cfg->helper_exe ? cfg->helper_exe : "/proc/self/exe");
    a->started_ns = time_now_ns();
    struct http_limits lim = {.max_conns = cfg->max_conns};
    a->http = http_server_new(loop, &lim, dispatch, a);
    http_server_add_default_header(a->http, "Api-Version", API_VERSION);
    http_server_add_default_header(a->http, "Docker-Experimental", "false");
    http_server_add_default_header(a->http, "Ostype", "linux");
    char *server = xasprintf("shoal/%s (linux)", cfg->engine_version);
    http_server_add_default_header(a->http, "Server", server);
    free(server);
    a->events = api_events_new(a);
    return a;
}

int api_listen(struct api *a, const char *addr, const struct http_tls_config *tls, struct err *e)
{
    return http_server_listen(a->http, addr, tls, e);
}

static void http_closed(void *data)
{
    struct api *a = data;
    void (*cb)(void *) = a->close_cb;
    void *cbdata = a->close_data;
    api_events_free(a->events);
    free((char *)a->cfg.data_root);
    free((char *)a->cfg.engine_version);
    free((char *)a->cfg.helper_exe);
    free(a);
    if (cb)
        cb(cbdata);
}

static void images_closed(struct api *a)
{
    http_server_close(a->http, http_closed, a);
}

void api_close(struct api *a, void (*cb)(void *data), void *data)
{
    a->close_cb = cb;
    a->close_data = data;
    a->closing = true;
    api_events_close_streams(a->events);
    api_images_close(a, images_closed);
}
