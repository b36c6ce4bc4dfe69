/* api_networks.c — GET /networks and GET /networks/{id}: this node's networks in dockerd's
 * shape (NetworkResource) and words: the node network task containers are on
 * (NET_NETWORK_NAME, driver "bridge": its subnet, gateway and bridge device, and in inspect the
 * running containers attached to it) and Docker's predefined "host" and "none" (drivers "host"
 * and "null"), all of scope "local", with the IDs src/net keeps. A network is found as dockerd's
 * getNetwork finds it: full ID, then full name, then unique ID prefix; the list takes dockerd's
 * filters (driver, id, name, label, scope, type, dangling). Writes (create, connect,
 * disconnect, prune, remove: service networks) are a later issue and answer 501 from the
 * router. Thread: the loop thread. */
#include "api_int.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pure parts ---- */

bool api_network_predefined(const char *name)
{
    /* runconfig.IsPreDefinedNetwork: the modes bridge, host, none and default */
    return !strcmp(name, "bridge") || !strcmp(name, "host") || !strcmp(name, "none") ||
           !strcmp(name, "default");
}

int api_network_filters_check(const struct api_filters *f, struct err *e)
{
    static const char *const allowed[] = {"dangling", "driver", "id",   "label",
                                          "name",     "scope",  "type", NULL};
    if (api_filters_validate(f, allowed, e) < 0)
        return -ERR_INVALID;
    json_t *d = api_filters_get(f, "dangling");
    if (json_array_size(d) > 1)
        return err_set(e, ERR_INVALID, "got more than one value for filter key \"dangling\"");
    const char *dv = json_string_value(json_array_get(d, 0));
    if (dv && strcmp(dv, "0") && strcmp(dv, "false") && strcmp(dv, "1") && strcmp(dv, "true"))
        return err_set(e, ERR_INVALID,
                       "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or "
                       "\"false\" (or \"0\")");
    size_t i;
    json_t *v;
    json_array_foreach(api_filters_get(f, "type"), i, v)
    {
        const char *t = json_string_value(v);
        /* dockerd 20.10 returns this one as a plain error: 500 */
        if (strcmp(t, "builtin") && strcmp(t, "custom"))
            return err_set(e, ERR_INTERNAL, "invalid filter: 'type'='%s'", t);
    }
    return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k)) ?: "";
}

/* filters.Args.ExactMatch: no filter, or one value equal to s. */
static bool exact_match(json_t *vals, const char *s)
{
    size_t i;
    json_t *v;
    if (!vals)
        return true;
    json_array_foreach(vals, i, v) if (!strcmp(json_string_value(v), s)) return true;
    return false;
}

/* Whether a filter's pattern is one to compile. A client sends it, and glibc's regcomp
 * expands repetitions into copies (x{3} as xxx, x+ as xx*), so some patterns cost seconds and
 * gigabytes: refused, as Go's regexp refuses most of them (the value then matches nothing,
 * as an invalid expression in dockerd): stacked repetition operators ("a**", "a++", "a{2}*";
 * one "?" after one is non-greedy), a repeat count above 1000, nested counted repeats whose
 * product exceeds 1000 (Go's repeatIsValid), backreferences (\1, which RE2 has not), nesting
 * deeper than RE_DEPTH, and, beyond Go, more than RE_MAX_SIZE items once expanded. */
#define RE_MAX_REPEAT 1000
#define RE_MAX_SIZE 10000
#define RE_DEPTH 64
static bool regexp_bounded(const char *p)
{
    struct {
        long size;   /* items of the group so far, expanded */
        long copies; /* Go's count: the most copies of one item, nested counted repeats */
    } g[RE_DEPTH + 1] = {{0, 1}};
    int d = 0, after_rep = 0; /* 1: a repetition operator was just read; 2: and its "?" */
    long last_size = 0, last_copies = 1; /* of the item just read */
    for (; *p; p++) {
        long mult = 1; /* a repetition: the item is there mult times */
        if (*p == '*' || *p == '+' || *p == '?') {
            if (after_rep == 2 || (after_rep == 1 && *p != '?'))
                return false;
            mult = after_rep == 0 && *p == '+' ? 2 : 1;
            after_rep = after_rep == 1 ? 2 : 1;
        } else if (*p == '{' && ((p[1] >= '0' && p[1] <= '9') || p[1] == ',')) {
            /* {n}, {n,}, {n,m}, and glibc's {,m} (Go's literal text) */
            char *end = (char *)p + 1;
            long lo = *end == ',' ? 0 : strtol(p + 1, &end, 10), hi = lo;
            if (*end == ',')
                hi = end[1] >= '0' && end[1] <= '9' ? strtol(end + 1, &end, 10) : (end++, lo);
            if (*end == '}') {
                mult = hi ? hi : 1;
                if (after_rep || lo > RE_MAX_REPEAT || hi > RE_MAX_REPEAT ||
                    last_copies * mult > RE_MAX_REPEAT)
                    return false;
                last_copies *= mult;
                after_rep = 1;
                p = end;
            } else { /* not a repeat: a literal brace */
                last_size = last_copies = 1;
                g[d].size++;
                after_rep = 0;
            }
        } else if (*p == '(') {
            if (++d > RE_DEPTH)
                return false;
            g[d].size = 0;
            g[d].copies = 1;
            after_rep = 0;
            continue;
        } else if (*p == ')' && d > 0) {
            last_size = g[d].size;
            last_copies = g[d--].copies;
            g[d].size += last_size;
            after_rep = 0;
        } else {
            if (*p == '\\') {
                if (p[1] >= '0' && p[1] <= '9')
                    return false;
                p += p[1] != 0;
            } else if (*p == '[') { /* a bracket expression is one item; "]" first is a member */
                const char *q = p + 1 + (p[1] == '^');
                q += *q == ']';
                q += strcspn(q, "]");
                p = *q ? q : q - 1;
            }
            last_size = last_copies = 1;
            g[d].size++;
            after_rep = 0;
        }
        g[d].size += last_size * (mult - 1);
        last_size *= mult;
        if (last_copies > g[d].copies)
            g[d].copies = last_copies;
        if (g[d].size > RE_MAX_SIZE)
            return false;
    }
    return true;
}

/* filters.Args.Match: ExactMatch, else a value that is a regular expression found in s (an
 * invalid one is skipped, as Go's regexp.MatchString error is). POSIX extended syntax stands
 * in for Go's RE2; they agree on what network names and IDs are filtered with. */
static bool regexp_match(json_t *vals, const char *s)
{
    if (exact_match(vals, s))
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v)
    {
        regex_t re;
        if (!regexp_bounded(json_string_value(v)) ||
            regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB) != 0)
            continue;
        bool hit = regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit)
            return true;
    }
    return false;
}

static bool dangling(json_t *nw)
{
    return !api_network_predefined(jstr(nw, "Name")) &&
           json_object_size(json_object_get(nw, "Containers")) == 0;
}

json_t *api_networks_filter(json_t *nets, const struct api_filters *f)
{
    json_t *shown = json_array();
    size_t i;
    json_t *nw;
    json_array_foreach(nets, i, nw)
    {
        if (exact_match(api_filters_get(f, "driver"), jstr(nw, "Driver")) &&
            regexp_match(api_filters_get(f, "name"), jstr(nw, "Name")) &&
            regexp_match(api_filters_get(f, "id"), jstr(nw, "Id")) &&
            api_filters_match_labels(f, "label", json_object_get(nw, "Labels")) &&
            exact_match(api_filters_get(f, "scope"), jstr(nw, "Scope")))
            json_array_append(shown, nw);
    }
    /* dangling: one value, checked before; then type, one pass per value (builtin ones
     * first for "builtin,custom", as dockerd appends them) */
    const char *dv = json_string_value(json_array_get(api_filters_get(f, "dangling"), 0));
    if (dv) {
        bool only = !strcmp(dv, "1") || !strcmp(dv, "true");
        json_t *kept = json_array();
        json_array_foreach(shown, i, nw) if (dangling(nw) == only) json_array_append(kept, nw);
        json_decref(shown);
        shown = kept;
    }
    json_t *types = api_filters_get(f, "type");
    if (types) {
        json_t *typed = json_array();
        size_t k;
        json_t *t;
        bool done[2] = {false, false}; /* a legacy list may repeat a value; a set does not */
        json_array_foreach(types, k, t)
        {
            bool builtin = !strcmp(json_string_value(t), "builtin");
            if (done[builtin])
                continue;
            done[builtin] = true;
            json_array_foreach(shown, i, nw)
            {
                if (api_network_predefined(jstr(nw, "Name")) == builtin)
                    json_array_append(typed, nw);
            }
        }
        json_decref(shown);
        shown = typed;
    }
    return shown;
}

json_t *api_network_find(json_t *nets, const char *ref, const char *scope, struct err *e)
{
    json_t *by_name = NULL, *by_prefix = NULL;
    size_t n_name = 0, n_prefix = 0;
    size_t i;
    json_t *nw;
    json_array_foreach(nets, i, nw)
    {
        if (scope && scope[0] && strcmp(jstr(nw, "Scope"), scope))
            continue;
        const char *id = jstr(nw, "Id");
        if (!strcmp(id, ref))
            return nw;
        if (!strcmp(jstr(nw, "Name"), ref) && n_name++ == 0)
            by_name = nw;
        if (str_has_prefix(id, ref) && n_prefix++ == 0)
            by_prefix = nw;
    }
    if (n_name == 1)
        return by_name;
    if (n_name > 1) {
        err_set(e, ERR_INVALID, "%zu matches found based on name: network %s is ambiguous", n_name,
                ref);
        return NULL;
    }
    if (n_prefix == 1)
        return by_prefix;
    if (n_prefix > 1)
        err_set(e, ERR_INVALID, "%zu matches found based on ID prefix: network %s is ambiguous",
                n_prefix, ref);
    else
        err_set(e, ERR_NOT_FOUND, "network %s not found", ref);
    return NULL;
}

json_t *api_network_json(const char *name, const char *id, int64_t created_ns, const char *driver,
                         json_t *ipam_config, json_t *options, json_t *containers)
{
    char created[40];
    time_format_rfc3339(created_ns, created);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:o}, s:b, s:b, s:b, "
                     "s:{s:s}, s:b, s:o, s:o, s:{}}",
                     "Name", name, "Id", id, "Created", created, "Scope", "local", "Driver", driver,
                     "EnableIPv6", 0, "IPAM", "Driver", "default", "Options", "Config",
                     ipam_config ?: json_array(), "Internal", 0, "Attachable", 0, "Ingress", 0,
                     "ConfigFrom", "Network", "", "ConfigOnly", 0, "Containers",
                     containers ?: json_object(), "Options", options ?: json_object(), "Labels");
}

/* ---- the node's networks ---- */

static struct net *have_net(struct api_req *r)
{
    if (!r->api->cfg.net)
        api_reply_error(r, ERR_UNAVAILABLE,
                        "networks are not available on this node: its network state did not "
                        "open (see the daemon's log)");
    return r->api->cfg.net;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Containers of the node network (inspect only, as dockerd's Detailed): the running task
 * containers attached to it, by container ID (sorted, as Go's encoding/json writes a map),
 * each {Name, EndpointID, MacAddress, IPv4Address, IPv6Address}. A stopped container holds its
 * address until it is removed, but dockerd shows no endpoint for it, nor does its inspect. */
struct ids {
    char **v;
    size_t n;
};
static void collect(void *arg, const char *id)
{
    struct ids *c = arg;
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = xstrdup(id);
}

static json_t *bridge_containers(struct api *a)
{
    json_t *out = json_object();
    struct exec *x = a->cfg.exec;
    struct ids c = {0};
    if (!x)
        return out;
    net_each(a->cfg.net, collect, &c);
    if (c.n)
        qsort(c.v, c.n, sizeof(*c.v), key_cmp);
    for (size_t i = 0; i < c.n; i++) {
        struct exec_state st;
        struct net_attachment att;
        json_t *meta = NULL;
        if (exec_state_get(x, c.v[i], &st, NULL) == 0 && st.status == EXEC_RUNNING &&
            net_lookup(a->cfg.net, c.v[i], &att) == 0 &&
            exec_meta_get(x, c.v[i], &meta, NULL) == 0) {
            json_t *extra = json_object_get(meta, "extra");
            json_object_set_new(
                out, c.v[i],
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name", jstr(extra, "name"), "EndpointID",
                          jstr(json_object_get(extra, "network"), "EndpointID"), "MacAddress",
                          att.mac, "IPv4Address", att.address, "IPv6Address", ""));
        }
        json_decref(meta);
        free(c.v[i]);
    }
    free(c.v);
    return out;
}

/* Every network of the node; detailed: with the node network's containers. */
static json_t *node_networks(struct api *a, bool detailed)
{
    struct net *n = a->cfg.net;
    char cidr[24], gw[16];
    json_t *ipam = json_array();
    if (net_subnet(n, cidr, gw))
        json_array_append_new(ipam, json_pack("{s:s, s:s}", "Subnet", cidr, "Gateway", gw));
    /* the options dockerd shows on docker_gwbridge, as they are here: containers on the
     * bridge reach each other, and leave the node masqueraded */
    json_t *opts = json_pack("{s:s, s:s, s:s}", "com.docker.network.bridge.enable_icc", "true",
                             "com.docker.network.bridge.enable_ip_masquerade", "true",
                             "com.docker.network.bridge.name", net_bridge_name(n));
    json_t *out = json_array();
    json_array_append_new(out,
                          api_network_json(NET_NETWORK_NAME, net_network_id(n, NET_KIND_BRIDGE),
                                           net_network_created(n, NET_KIND_BRIDGE), "bridge", ipam,
                                           opts, detailed ? bridge_containers(a) : NULL));
    json_array_append_new(out, api_network_json("host", net_network_id(n, NET_KIND_HOST),
                                                net_network_created(n, NET_KIND_HOST), "host", NULL,
                                                NULL, NULL));
    json_array_append_new(out, api_network_json("none", net_network_id(n, NET_KIND_NONE),
                                                net_network_created(n, NET_KIND_NONE), "null", NULL,
                                                NULL, NULL));
    return out;
}

/* ---- handlers ---- */

static void h_networks_list(struct api_req *r)
{
    struct err e;
    struct api_filters f = {0};
    if (!have_net(r))
        return;
    if (api_filters_parse(r, &f, &e) < 0 || api_network_filters_check(&f, &e) < 0) {
        api_filters_release(&f);
        api_reply_err(r, &e);
        return;
    }
    json_t *all = node_networks(r->api, false);
    json_t *shown = api_networks_filter(all, &f);
    json_decref(all);
    api_filters_release(&f);
    /* before API 1.28 the list carried the containers too (dockerd's Detailed, filled after
     * filtering, so dangling= never sees them) */
    size_t i;
    json_t *nw;
    json_array_foreach(shown, i, nw)
    {
        if (r->vmajor == 1 && r->vminor < 28 && !strcmp(jstr(nw, "Name"), NET_NETWORK_NAME)) {
            json_t *copy = json_deep_copy(nw);
            json_object_set_new(copy, "Containers", bridge_containers(r->api));
            json_array_set_new(shown, i, copy);
        }
    }
    api_reply_json(r, 200, shown);
}

static void h_network_inspect(struct api_req *r)
{
    struct err e;
    if (!have_net(r))
        return;
    /* verbose adds swarm services' load-balancer state, which local networks do not have
     * (dockerd omits the empty Services map): it is only checked */
    char *v = http_query_get(r->http, "verbose");
    bool verbose;
    int rc = v && v[0] ? num_parse_bool(v, &verbose) : 0;
    if (rc < 0) {
        struct buf q = BUF_INIT;
        api_go_quote(v, &q);
        api_reply_error(r, ERR_INVALID,
                        "invalid value for verbose: %s: strconv.ParseBool: parsing %s: %s", v, q.p,
                        num_err_word(rc));
        buf_release(&q);
        free(v);
        return;
    }
    free(v);
    char *scope = http_query_get(r->http, "scope");
    json_t *all = node_networks(r->api, true);
    json_t *nw = api_network_find(all, r->params[0], scope, &e);
    free(scope);
    if (!nw) {
        json_decref(all);
        api_reply_err(r, &e);
        return;
    }
    json_incref(nw);
    json_decref(all);
    api_reply_json(r, 200, nw);
}

/* Writes stay 501 (the router's unbuilt prefix answers them), reads are served here. */
const struct api_route api_network_routes[] = {
    {"GET", "/networks", h_networks_list},
    {"GET", "/networks/", h_networks_list},
    {"GET", "/networks/{id*}", h_network_inspect},
    {NULL, NULL, NULL},
};
