/* api_containers.c — /containers endpoints for this node's task containers (src/exec through
 * the agent's adapter): list (`docker ps`), inspect, logs, stop, kill, wait, remove.
 * Standalone containers (create, start...) are a later issue and answer 501.
 *
 * A container is named by its full ID, its name (with or without the leading "/"), or a
 * unique prefix of its ID, as in Docker. What is shown comes from exec (state, times, labels)
 * and from the facts the adapter kept in meta.json ("extra": name, image, command, config).
 * A task container removed by hand is reported to its agent through the adapter, which
 * fails the task so the orchestrator replaces it. Thread: the loop thread. */
#include "api_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_TIME "0001-01-01T00:00:00Z"
#define WAIT_POLL_MS 100

static bool have_exec(struct api_req *r)
{
    if (r->api->cfg.exec && r->api->cfg.agent_exec)
        return true;
    api_reply_error(r, ERR_UNAVAILABLE,
                    "containers cannot run on this node (see the daemon's "
                    "log: no conmon, no OCI runtime, or not root)");
    return false;
}

static const char *extra_str(json_t *meta, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(meta, "extra"), key));
    return s ? s : "";
}

/* Docker's resolution: full ID, name, unique ID prefix. Fills id (64 hex + NUL). */
static int resolve(struct exec *x, const char *name, char id[72], struct err *e)
{
    const char *want = name[0] == '/' ? name + 1 : name;
    char **ids = exec_list(x);
    int rc = -ERR_NOT_FOUND;
    size_t nprefix = 0;
    for (size_t i = 0; ids[i] && rc; i++) {
        json_t *meta = NULL;
        if (!strcmp(ids[i], want)) {
            rc = 0;
        } else if (exec_meta_get(x, ids[i], &meta, NULL) == 0 &&
                   !strcmp(extra_str(meta, "name"), want)) {
            rc = 0;
        }
        json_decref(meta);
        if (rc == 0)
            snprintf(id, 72, "%s", ids[i]);
    }
    for (size_t i = 0; ids[i] && rc && want[0]; i++)
        if (str_has_prefix(ids[i], want) && nprefix++ == 0)
            snprintf(id, 72, "%s", ids[i]);
    if (rc && nprefix == 1)
        rc = 0;
    else if (rc && nprefix > 1)
        rc = err_set(e, ERR_NOT_FOUND, "multiple IDs found with provided prefix: %s", want);
    else if (rc)
        rc = err_set(e, ERR_NOT_FOUND, "No such container: %s", name);
    for (size_t i = 0; ids[i]; i++)
        free(ids[i]);
    free(ids);
    return rc;
}

/* go-units HumanDuration, as `docker ps` shows ages. */
void api_human_duration(int64_t ns, char *out, size_t cap)
{
    int64_t s = ns / 1000000000;
    int64_t m = s / 60;
    int64_t h = (ns + 1800LL * 1000000000) / (3600LL * 1000000000); /* rounded, as go-units */
    if (s < 1)
        snprintf(out, cap, "Less than a second");
    else if (s == 1)
        snprintf(out, cap, "1 second");
    else if (s < 60)
        snprintf(out, cap, "%lld seconds", (long long)s);
    else if (m == 1)
        snprintf(out, cap, "About a minute");
    else if (m < 60)
        snprintf(out, cap, "%lld minutes", (long long)m);
    else if (h == 1)
        snprintf(out, cap, "About an hour");
    else if (h < 48)
        snprintf(out, cap, "%lld hours", (long long)h);
    else if (h < 24 * 7 * 2)
        snprintf(out, cap, "%lld days", (long long)(h / 24));
    else if (h < 24 * 30 * 2)
        snprintf(out, cap, "%lld weeks", (long long)(h / 24 / 7));
    else if (h < 24 * 365 * 2)
        snprintf(out, cap, "%lld months", (long long)(h / 24 / 30));
    else
        snprintf(out, cap, "%lld years", (long long)(ns / 1000000000 / 3600 / 24 / 365));
}

void api_container_status_text(const struct exec_state *st, enum exec_health_status health,
                               int64_t now_ns, char *out, size_t cap)
{
    char d[64];
    if (st->status == EXEC_RUNNING) {
        api_human_duration(now_ns - st->started_ns, d, sizeof(d));
        /* Docker: "Up 3 seconds (health: starting)", "(healthy)", "(unhealthy)" */
        if (health == EXEC_HEALTH_STARTING)
            snprintf(out, cap, "Up %s (health: starting)", d);
        else if (health != EXEC_HEALTH_NONE)
            snprintf(out, cap, "Up %s (%s)", d, exec_health_status_name(health));
        else
            snprintf(out, cap, "Up %s", d);
    } else if (st->status == EXEC_EXITED && st->started_ns) {
        api_human_duration(now_ns - st->finished_ns, d, sizeof(d));
        snprintf(out, cap, "Exited (%d) %s ago", st->exit_code, d);
    } else {
        snprintf(out, cap, "Created");
    }
}

static void time_or_zero(int64_t ns, char out[40])
{
    if (ns)
        time_format_rfc3339(ns, out);
    else
        snprintf(out, 40, ZERO_TIME);
}

/* ---- list ---- */

static bool match_any(json_t *vals, const char *s, bool prefix, bool substring)
{
    if (!vals)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        const char *want = json_string_value(v);
        if ((prefix && str_has_prefix(s, want)) || (substring && strstr(s, want)) ||
            !strcmp(s, want))
            return true;
    }
    return false;
}

/* ancestor=: the image as the task names it, or its ID (a prefix, with or without sha256:) */
static bool ancestor_match(json_t *vals, json_t *meta)
{
    const char *img = extra_str(meta, "image"), *id = extra_str(meta, "image_id");
    return !vals || match_any(vals, img, false, false) || match_any(vals, id, true, false) ||
           (strlen(id) > 7 && match_any(vals, id + 7, true, false));
}

/* ---- networks and ports, from the adapter's facts ---- */

static const char *jstr_or(const json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of o with its keys in Go's order (encoding/json sorts map keys). */
static json_t *sorted_object(json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), key_cmp);
    json_t *out = json_object();
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(o, keys[i]));
    free(keys);
    json_decref(o);
    return out;
}

/* NetworkSettings.Ports: exposed ports null, published ones their bindings on 0.0.0.0. */
static json_t *ports_map(const json_t *extra, bool running)
{
    json_t *m = json_object();
    if (!running)
        return m;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(extra, "config"), "ExposedPorts"), k, v)
        json_object_set_new(m, k, json_null());
    size_t i;
    json_array_foreach(json_object_get(json_object_get(extra, "network"), "Ports"), i, v)
    {
        char key[24], host[8];
        snprintf(key, sizeof(key), "%lld/%s",
                 (long long)json_integer_value(json_object_get(v, "TargetPort")),
                 jstr_or(v, "Protocol", "tcp"));
        snprintf(host, sizeof(host), "%lld",
                 (long long)json_integer_value(json_object_get(v, "PublishedPort")));
        json_t *b = json_object_get(m, key);
        if (!json_is_array(b)) {
            b = json_array();
            json_object_set_new(m, key, b);
        }
        json_array_append_new(b, json_pack("{s:s, s:s}", "HostIp", "0.0.0.0", "HostPort", host));
    }
    return sorted_object(m);
}

/* Docker's EndpointSettings of the task's network; released (not running): NetworkID only. */
static json_t *endpoint_settings(const json_t *net, bool running)
{
    const char *on = running ? NULL : "";
    return json_pack("{s:n, s:n, s:n, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:i, s:s, s:n}",
                     "IPAMConfig", "Links", "Aliases", "NetworkID", jstr_or(net, "NetworkID", ""),
                     "EndpointID", on ?: jstr_or(net, "EndpointID", ""), "Gateway",
                     on ?: jstr_or(net, "Gateway", ""), "IPAddress",
                     on ?: jstr_or(net, "IPAddress", ""), "IPPrefixLen",
                     running ? json_integer_value(json_object_get(net, "IPPrefixLen")) : 0,
                     "IPv6Gateway", "", "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0,
                     "MacAddress", on ?: jstr_or(net, "MacAddress", ""), "DriverOpts");
}

/* The entry is named after the node network (GET /networks lists it by that name and the
 * NetworkID the adapter kept): containers attached before it had that name kept "bridge" in
 * their facts, and there is only the one network a task container can be on. */
static json_t *networks_of(const json_t *extra, bool running)
{
    json_t *net = json_object_get(extra, "network");
    json_t *out = json_object();
    if (json_is_object(net))
        json_object_set_new(out, NET_NETWORK_NAME, endpoint_settings(net, running));
    return out;
}

json_t *api_container_net_settings(const json_t *extra, bool running)
{
    json_t *net = json_object_get(extra, "network");
    /* the address is repeated at the top, as for the default bridge network in Docker
     * (DefaultNetworkSettings): the node network is the one a task container is on */
    json_t *ep = json_is_object(net) ? endpoint_settings(net, running) : NULL;
    const char *on = running && net ? NULL : "";
    json_t *out = json_pack(
        "{s:s, s:s, s:b, s:s, s:i, s:o, s:s, s:n, s:n, s:s, s:s, s:s, s:i, s:s, s:I, s:s, s:s,"
        " s:o}",
        "Bridge", "", "SandboxID", on ?: jstr_or(net, "SandboxID", ""), "HairpinMode", 0,
        "LinkLocalIPv6Address", "", "LinkLocalIPv6PrefixLen", 0, "Ports", ports_map(extra, running),
        "SandboxKey", on ?: jstr_or(net, "SandboxKey", ""), "SecondaryIPAddresses",
        "SecondaryIPv6Addresses", "EndpointID", jstr_or(ep, "EndpointID", ""), "Gateway",
        jstr_or(ep, "Gateway", ""), "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "IPAddress",
        jstr_or(ep, "IPAddress", ""), "IPPrefixLen",
        json_integer_value(json_object_get(ep, "IPPrefixLen")), "IPv6Gateway", "", "MacAddress",
        jstr_or(ep, "MacAddress", ""), "Networks", networks_of(extra, running));
    json_decref(ep);
    return out;
}

json_t *api_container_list_ports(const json_t *extra, bool running)
{
    json_t *m = ports_map(extra, running), *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        int priv = atoi(k);
        const char *slash = strchr(k, '/');
        const char *type = slash ? slash + 1 : "tcp";
        if (!json_array_size(v)) {
            json_array_append_new(out, json_pack("{s:i, s:s}", "PrivatePort", priv, "Type", type));
            continue;
        }
        size_t i;
        json_t *b;
        json_array_foreach(v, i, b) json_array_append_new(
            out, json_pack("{s:s, s:i, s:i, s:s}", "IP", jstr_or(b, "HostIp", ""), "PrivatePort",
                           priv, "PublicPort", atoi(jstr_or(b, "HostPort", "0")), "Type", type));
    }
    json_decref(m);
    return out;
}

json_t *api_container_list_net(const json_t *extra, bool running)
{
    return json_pack("{s:o}", "Networks", networks_of(extra, running));
}

json_t *api_container_port_bindings(const json_t *extra)
{
    json_t *pb = json_object_get(extra, "port_bindings");
    return json_is_object(pb) ? sorted_object(json_deep_copy(pb)) : json_object();
}

static json_t *list_item(const char *id, json_t *meta, const struct exec_state *st,
                         enum exec_health_status health, int64_t now)
{
    char status[96];
    api_container_status_text(st, health, now, status, sizeof(status));
    char *name = xasprintf("/%s", extra_str(meta, "name"));
    json_t *labels = json_incref(json_object_get(meta, "labels")) ?: json_object();
    json_t *mounts =
        json_incref(json_object_get(json_object_get(meta, "extra"), "mounts")) ?: json_array();
    json_t *extra = json_object_get(meta, "extra");
    bool running = st->status == EXEC_RUNNING;
    json_t *it = json_pack(
        "{s:s, s:[s], s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:s, s:{s:s}, s:o, s:o}", "Id", id,
        "Names", name, "Image", extra_str(meta, "image"), "ImageID", extra_str(meta, "image_id"),
        "Command", extra_str(meta, "command"), "Created", (json_int_t)(st->created_ns / 1000000000),
        "Ports", api_container_list_ports(extra, running), "Labels", labels, "State",
        exec_status_name(st->status), "Status", status, "HostConfig", "NetworkMode", "default",
        "NetworkSettings", api_container_list_net(extra, running), "Mounts", mounts);
    free(name);
    return it;
}

/* A publish/expose filter value as dockerd reads it: "port[/proto]" or "start-end[/proto]",
 * tcp by default. 0 or 400 with dockerd's words. */
static int port_filter_parse(const char *key, const char *v, unsigned *lo, unsigned *hi,
                             char proto[8], struct err *e)
{
    if (strchr(v, ':'))
        return err_set(e, ERR_INVALID, "filter for '%s' should not contain ':': %s", key, v);
    const char *slash = strchr(v, '/');
    snprintf(proto, 8, "%s", slash ? slash + 1 : "tcp");
    char num[24];
    snprintf(num, sizeof(num), "%.*s", (int)(slash ? (size_t)(slash - v) : strlen(v)), v);
    char *dash = strchr(num, '-'), *end;
    if (dash)
        *dash = 0;
    unsigned long a = strtoul(num, &end, 10), b = a;
    bool ok = num[0] && !*end && a <= 65535;
    if (ok && dash) {
        b = strtoul(dash + 1, &end, 10);
        ok = dash[1] && !*end && b <= 65535 && b >= a;
    }
    if (!ok || !proto[0])
        return err_set(e, ERR_INVALID, "error while looking up for %s %s: invalid port", key, v);
    *lo = (unsigned)a;
    *hi = (unsigned)b;
    return 0;
}

/* publish= / expose=: one value names a "port/proto" key of ports (PortBindings or
 * ExposedPorts); no filter matches everything. Values were checked before. */
static bool port_filter_match(json_t *vals, const json_t *ports)
{
    if (!vals)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        unsigned lo, hi;
        char proto[8];
        if (port_filter_parse("", json_string_value(v), &lo, &hi, proto, NULL) < 0)
            continue;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)ports, k, x)
        {
            const char *slash = strchr(k, '/');
            unsigned port = (unsigned)atoi(k);
            if (port >= lo && port <= hi && !strcmp(slash ? slash + 1 : "tcp", proto))
                return true;
        }
    }
    return false;
}

/* network=: the network's name, or a prefix of its ID (dockerd's). */
static bool network_filter_match(json_t *vals, const json_t *extra)
{
    if (!vals)
        return true;
    json_t *net = json_object_get(extra, "network");
    if (!json_is_object(net))
        return false;
    return match_any(vals, NET_NETWORK_NAME, false, false) ||
           match_any(vals, jstr_or(net, "NetworkID", ""), true, false);
}

static void h_containers_list(struct api_req *r)
{
    static const char *const allowed[] = {
        "ancestor", "before", "expose",  "exited",  "health", "id",     "isolation", "is-task",
        "label",    "name",   "network", "publish", "since",  "status", "volume",    NULL};
    static const char *const states[] = {"created", "restarting", "running", "removing",
                                         "paused",  "exited",     "dead"};
    struct err e;
    struct api_filters f = {0};
    if (!have_exec(r))
        return;
    if (api_filters_parse(r, &f, &e) < 0 || api_filters_validate(&f, allowed, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(api_filters_get(&f, "status"), i, v)
    {
        bool ok = false;
        for (size_t k = 0; k < ARRAY_SIZE(states); k++)
            ok = ok || !strcmp(states[k], json_string_value(v));
        if (!ok) {
            api_reply_error(r, ERR_INVALID, "Invalid filter 'status=%s'", json_string_value(v));
            api_filters_release(&f);
            return;
        }
    }
    const char *const pkeys[] = {"publish", "expose"};
    for (size_t p = 0; p < ARRAY_SIZE(pkeys); p++) {
        json_array_foreach(api_filters_get(&f, pkeys[p]), i, v)
        {
            unsigned lo, hi;
            char proto[8];
            if (port_filter_parse(pkeys[p], json_string_value(v), &lo, &hi, proto, &e) < 0) {
                api_filters_release(&f);
                api_reply_err(r, &e);
                return;
            }
        }
    }
    char *lim = http_query_get(r->http, "limit");
    long limit = lim && lim[0] ? strtol(lim, NULL, 10) : -1;
    free(lim);
    bool all = api_query_bool(r, "all") || limit > 0 || api_filters_get(&f, "status") ||
               api_filters_get(&f, "exited");
    struct exec *x = r->api->cfg.exec;
    int64_t before_ns = 0, since_ns = 0;
    const char *const bs[] = {"before", "since"};
    for (size_t b = 0; b < 2; b++) {
        json_t *vals = api_filters_get(&f, bs[b]);
        char ref[72];
        struct exec_state rs;
        if (!vals)
            continue;
        if (resolve(x, json_string_value(json_array_get(vals, 0)) ?: "", ref, &e) < 0 ||
            exec_state_get(x, ref, &rs, &e) < 0) {
            api_filters_release(&f);
            api_reply_err(r, &e);
            return;
        }
        *(b ? &since_ns : &before_ns) = rs.created_ns;
    }
    char **ids = exec_list(x);
    json_t *out = json_array();
    int64_t now = time_now_ns();
    /* newest first, as Docker */
    size_t n = 0;
    while (ids[n])
        n++;
    for (size_t k = n; k-- > 0;) {
        struct exec_state st;
        json_t *meta = NULL;
        if (exec_state_get(x, ids[k], &st, NULL) < 0 || exec_meta_get(x, ids[k], &meta, NULL) < 0)
            continue;
        const char *cname = extra_str(meta, "name");
        json_t *extra = json_object_get(meta, "extra");
        bool is_task = json_object_get(json_object_get(meta, "labels"), "com.docker.swarm.task");
        char code[16];
        snprintf(code, sizeof(code), "%d", st.exit_code);
        json_t *tasks = api_filters_get(&f, "is-task");
        enum exec_health_status health = exec_health_status(x, ids[k]);
        bool keep =
            (all || st.status == EXEC_RUNNING) &&
            match_any(api_filters_get(&f, "id"), ids[k], true, false) &&
            match_any(api_filters_get(&f, "name"), cname, false, true) &&
            match_any(api_filters_get(&f, "status"), exec_status_name(st.status), false, false) &&
            (!api_filters_get(&f, "exited") ||
             (st.status == EXEC_EXITED &&
              match_any(api_filters_get(&f, "exited"), code, false, false))) &&
            (!tasks || match_any(tasks, is_task ? "true" : "false", false, false)) &&
            api_filters_match_labels(&f, "label", json_object_get(meta, "labels")) &&
            ancestor_match(api_filters_get(&f, "ancestor"), meta) &&
            match_any(api_filters_get(&f, "health"), exec_health_status_name(health), false,
                      false) &&
            match_any(api_filters_get(&f, "isolation"), "default", false, false) &&
            network_filter_match(api_filters_get(&f, "network"), extra) &&
            port_filter_match(api_filters_get(&f, "publish"),
                              json_object_get(extra, "port_bindings")) &&
            port_filter_match(api_filters_get(&f, "expose"),
                              json_object_get(json_object_get(extra, "config"), "ExposedPorts")) &&
            /* task containers have no volumes yet */
            !api_filters_get(&f, "volume") && (!before_ns || st.created_ns < before_ns) &&
            (!since_ns || st.created_ns > since_ns);
        if (keep && (limit <= 0 || (long)json_array_size(out) < limit))
            json_array_append_new(out, list_item(ids[k], meta, &st, health, now));
        json_decref(meta);
    }
    for (size_t k = 0; k < n; k++)
        free(ids[k]);
    free(ids);
    api_filters_release(&f);
    api_reply_json(r, 200, out);
}

/* ---- inspect ---- */

static void h_container_inspect(struct api_req *r)
{
    char id[72];
    struct err e;
    struct exec_state st;
    json_t *meta = NULL;
    if (!have_exec(r))
        return;
    struct exec *x = r->api->cfg.exec;
    if (resolve(x, r->params[0], id, &e) < 0 || exec_state_get(x, id, &st, &e) < 0 ||
        exec_meta_get(x, id, &meta, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    json_t *extra = json_object_get(meta, "extra");
    /* the container's /etc files, while it is attached to the node network (from prepare
     * until it is removed): the files bind-mounted on /etc/resolv.conf, hostname and hosts */
    struct net_attachment att;
    bool attached = r->api->cfg.net && net_lookup(r->api->cfg.net, id, &att) == 0;
    char *resolv = attached ? xasprintf("%s/resolv.conf", att.dir) : xstrdup("");
    char *hostname = attached ? xasprintf("%s/hostname", att.dir) : xstrdup("");
    char *hosts = attached ? xasprintf("%s/hosts", att.dir) : xstrdup("");
    char created[40], started[40], finished[40];
    time_or_zero(st.created_ns, created);
    time_or_zero(st.started_ns, started);
    time_or_zero(st.finished_ns, finished);
    char *name = xasprintf("/%s", extra_str(meta, "name"));
    char *logp = exec_log_path(x, id);
    json_t *config = json_deep_copy(json_object_get(extra, "config"));
    if (!config)
        config = json_object();
    json_object_set_new(config, "AttachStdin", json_false());
    json_object_set_new(config, "AttachStdout", json_false());
    json_object_set_new(config, "AttachStderr", json_false());
    if (!json_is_boolean(json_object_get(config, "Tty")))
        json_object_set_new(config, "Tty", json_false());
    json_object_set_new(config, "OpenStdin", json_false());
    json_object_set_new(config, "StdinOnce", json_false());
    json_object_set(config, "Labels", json_object_get(meta, "labels"));
    json_t *path = json_incref(json_object_get(extra, "path")) ?: json_string("");
    json_t *args = json_incref(json_object_get(extra, "args")) ?: json_array();
    json_t *mounts = json_incref(json_object_get(extra, "mounts")) ?: json_array();
    json_t *state =
        json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status",
                  exec_status_name(st.status), "Running", st.status == EXEC_RUNNING, "Paused", 0,
                  "Restarting", 0, "OOMKilled", st.oom_killed, "Dead", 0, "Removing", 0, "Pid",
                  st.status == EXEC_RUNNING ? st.pid : 0, "ExitCode",
                  st.status == EXEC_EXITED ? st.exit_code : 0, "Error", "", "StartedAt", started,
                  "FinishedAt", finished);
    json_t *health = exec_health_get(x, id);
    if (health)
        json_object_set_new(state, "Health", health);
    json_t *out = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s,"
        " s:n, s:{s:s, s:o}, s:o, s:{s:s, s:{}}, s:o, s:o, s:o}",
        "Id", id, "Created", created, "Path", path, "Args", args, "State", state, "Image",
        extra_str(meta, "image_id"), "ResolvConfPath", resolv, "HostnamePath", hostname,
        "HostsPath", hosts, "LogPath", logp, "Name", name, "RestartCount", 0, "Driver", "overlay2",
        "Platform", "linux", "MountLabel", "", "ProcessLabel", "", "AppArmorProfile", "", "ExecIDs",
        "HostConfig", "NetworkMode", "default", "PortBindings", api_container_port_bindings(extra),
        "Config", config, "GraphDriver", "Name", "overlay2", "Data", "Mounts", mounts,
        "ContainerStatus", json_null(), "NetworkSettings",
        api_container_net_settings(extra, st.status == EXEC_RUNNING));
    json_object_del(out, "ContainerStatus");
    if (json_array_size(json_object_get(extra, "host_mounts"))) /* omitempty, as Docker's */
        json_object_set(json_object_get(out, "HostConfig"), "Mounts",
                        json_object_get(extra, "host_mounts"));
    free(name);
    free(logp);
    free(resolv);
    free(hostname);
    free(hosts);
    json_decref(meta);
    api_reply_json(r, 200, out);
}

/* ---- logs ---- */

static void logs_data(void *arg, const char *frames, size_t len)
{
    struct api_req *r = arg;
    if (len)
        http_stream_write(r->http, frames, len);
}

static void logs_end(void *arg, int rc, const struct err *e)
{
    struct api_req *r = arg;
    http_stream_end(r->http);
    api_req_free(r);
}

static void logs_gone(struct http_req *h, void *data)
{
    struct api_req *r = data;
    struct exec_logs_follower *f = h->user;
    h->user = NULL;
    exec_logs_follow_stop(f); /* no end callback: finish the request here */
    http_stream_end(r->http);
    api_req_free(r);
}

static void h_container_logs(struct api_req *r)
{
    char id[72];
    struct err e;
    if (!have_exec(r))
        return;
    struct exec *x = r->api->cfg.exec;
    struct exec_log_opts o = {.want_stdout = api_query_bool(r, "stdout"),
                              .want_stderr = api_query_bool(r, "stderr"),
                              .timestamps = api_query_bool(r, "timestamps"),
                              .tail = -1};
    bool follow = api_query_bool(r, "follow");
    if (!o.want_stdout && !o.want_stderr) {
        api_reply_error(r, ERR_INVALID, "Bad parameters: you must choose at least one stream");
        return;
    }
    char *since = http_query_get(r->http, "since"), *until = http_query_get(r->http, "until"),
         *tail = http_query_get(r->http, "tail");
    int rc = resolve(x, r->params[0], id, &e);
    if (rc == 0 && since && since[0] && strcmp(since, "0"))
        rc = api_events_parse_time("since", since, &o.since_ns, &e);
    if (rc == 0 && until && until[0] && strcmp(until, "0"))
        rc = api_events_parse_time("until", until, &o.until_ns, &e);
    if (rc == 0 && tail && tail[0] && strcmp(tail, "all")) {
        char *end;
        long t = strtol(tail, &end, 10);
        o.tail = *end || t < 0 ? -1 : t; /* dockerd: anything not a number is "all" */
    }
    free(since);
    free(until);
    free(tail);
    json_t *meta = NULL;
    if (rc == 0)
        rc = exec_meta_get(x, id, &meta, &e);
    if (rc < 0) {
        api_reply_err(r, &e);
        return;
    }
    /* a TTY container's stream is served raw, as dockerd's (the CLI reads Config.Tty) */
    o.raw = json_is_true(json_object_get(meta, "tty"));
    json_decref(meta);
    if (!follow) {
        char *lp = exec_log_path(x, id), *raw = NULL;
        size_t n = 0, used = 0;
        struct buf frames = BUF_INIT;
        if (file_read(lp, &raw, &n, NULL) == 0)
            exec_logs_convert(raw, n, &o, true, &frames, &used);
        free(lp);
        free(raw);
        http_stream_begin(r->http, 200, "application/vnd.docker.raw-stream");
        if (frames.len)
            http_stream_write(r->http, frames.p, frames.len);
        buf_release(&frames);
        http_stream_end(r->http);
        api_req_free(r);
        return;
    }
    http_stream_begin(r->http, 200, "application/vnd.docker.raw-stream");
    struct exec_logs_follower *f = exec_logs_follow(x, id, &o, logs_data, logs_end, r, &e);
    if (!f) {
        http_stream_end(r->http);
        api_req_free(r);
        return;
    }
    r->http->user = f;
    http_req_on_close(r->http, logs_gone, r);
}

/* ---- stop, kill, wait, remove ---- */

static void done_204(void *arg, int rc, const struct err *e)
{
    struct api_req *r = arg;
    if (rc < 0)
        api_reply_err(r, e);
    else
        api_reply_empty(r, 204);
}

static void h_container_stop(struct api_req *r)
{
    char id[72];
    struct err e;
    struct exec_state st;
    if (!have_exec(r))
        return;
    struct exec *x = r->api->cfg.exec;
    char *t = http_query_get(r->http, "t");
    int64_t grace = -1;
    if (t && t[0]) {
        int64_t secs;
        if (num_parse_i64(t, &secs) < 0) {
            api_reply_error(r, ERR_INVALID, "invalid value for t: %s", t);
            free(t);
            return;
        }
        grace = secs < 0 ? 0 : secs * 1000000000;
    }
    free(t);
    if (resolve(x, r->params[0], id, &e) < 0 || exec_state_get(x, id, &st, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    if (st.status != EXEC_RUNNING) { /* dockerd: 304 Not Modified */
        api_reply_empty(r, 304);
        return;
    }
    exec_stop(x, id, grace, done_204, r);
}

static void h_container_kill(struct api_req *r)
{
    char id[72];
    struct err e;
    if (!have_exec(r))
        return;
    struct exec *x = r->api->cfg.exec;
    char *s = http_query_get(r->http, "signal");
    int sig = s && s[0] ? exec_signal_parse(s) : SIGKILL;
    if (sig < 0) {
        api_reply_error(r, ERR_INVALID, "Invalid signal: %s", s);
        free(s);
        return;
    }
    free(s);
    if (resolve(x, r->params[0], id, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    exec_kill(x, id, sig, done_204, r);
}

struct waiter {
    struct api_req *r;
    uv_timer_t timer;
    char id[72];
    bool gone;
};

static void waiter_closed(uv_handle_t *h);

static void waiter_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The client left (or the server closes): answer (dropped) and stop polling now, since the
 * api may be freed before the next tick. */
static void waiter_gone(struct http_req *h, void *data)
{
    struct waiter *w = data;
    w->gone = true;
    uv_timer_stop(&w->timer);
    api_reply_json(w->r, 200, json_pack("{s:i, s:n}", "StatusCode", -1, "Error"));
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

/* Polls the container's state: exits are rare and a wait is a long-lived request, so a timer
 * of WAIT_POLL_MS costs less than a hook into every exit. */
static void waiter_tick(uv_timer_t *t)
{
    struct waiter *w = t->data;
    struct exec_state st;
    struct api *a = w->r->api;
    int rc = exec_state_get(a->cfg.exec, w->id, &st, NULL);
    if (rc == 0 && st.status != EXEC_EXITED)
        return;
    uv_timer_stop(t);
    /* removed meanwhile (rm -f): its exit code was not kept; a killed container's */
    api_reply_json(w->r, 200,
                   json_pack("{s:i, s:n}", "StatusCode", rc == 0 ? st.exit_code : 137, "Error"));
    uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void h_container_wait(struct api_req *r)
{
    char id[72];
    struct err e;
    if (!have_exec(r))
        return;
    char *cond = http_query_get(r->http, "condition");
    if (cond && cond[0] && strcmp(cond, "not-running") && strcmp(cond, "next-exit") &&
        strcmp(cond, "removed")) {
        api_reply_error(r, ERR_INVALID, "invalid condition: \"%s\"", cond);
        free(cond);
        return;
    }
    free(cond);
    if (resolve(r->api->cfg.exec, r->params[0], id, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    struct waiter *w = xcalloc(1, sizeof(*w));
    w->r = r;
    snprintf(w->id, sizeof(w->id), "%s", id);
    uv_timer_init(r->api->loop, &w->timer);
    w->timer.data = w;
    http_req_on_close(r->http, waiter_gone, w);
    uv_timer_start(&w->timer, waiter_tick, 0, WAIT_POLL_MS);
}

static void delete_done(void *arg, int rc, const char *err)
{
    struct api_req *r = arg;
    if (rc < 0)
        api_reply_error(r, -rc, "%s", err);
    else
        api_reply_empty(r, 204);
}

static void h_container_delete(struct api_req *r)
{
    char id[72];
    struct err e;
    if (!have_exec(r))
        return;
    if (api_query_bool(r, "link")) {
        api_reply_error(r, ERR_NOT_FOUND, "Could not find link");
        return;
    }
    if (resolve(r->api->cfg.exec, r->params[0], id, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    agent_exec_remove_container(r->api->cfg.agent_exec, id, api_query_bool(r, "force"),
                                api_query_bool(r, "v"), delete_done, r);
}

static void h_container_create(struct api_req *r)
{
    api_reply_error(r, ERR_NOT_IMPLEMENTED,
                    "creating standalone containers is not supported by shoal yet: run them as "
                    "services (docker service create)");
}

const struct api_route api_container_routes[] = {
    {"GET", "/containers/json", h_containers_list},
    {"POST", "/containers/create", h_container_create},
    {"GET", "/containers/{id}/json", h_container_inspect},
    {"GET", "/containers/{id}/logs", h_container_logs},
    {"POST", "/containers/{id}/stop", h_container_stop},
    {"POST", "/containers/{id}/kill", h_container_kill},
    {"POST", "/containers/{id}/wait", h_container_wait},
    {"DELETE", "/containers/{id}", h_container_delete},
    {NULL, NULL, NULL},
};
