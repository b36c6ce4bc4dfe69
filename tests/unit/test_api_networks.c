/* test_api_networks.c — the pure parts of GET /networks and /plugins (src/api/api_networks.c,
 * api_plugins.c): dockerd's NetworkResource shape, its lookup order (full ID, full name,
 * unique ID prefix; scope), its filters and their words, the plugin filter checks, and Go's %q
 * quoting that dockerd's plugin error uses. */
#include "api/api_int.h"
#include "harness.h"

#define ID_BRIDGE "3f0a9c1e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a"
#define ID_HOST "3f0b000000000000000000000000000000000000000000000000000000000000"
#define ID_NONE "9e2d111111111111111111111111111111111111111111111111111111111111"

static json_t *node_nets(void)
{
    json_t *nets = json_array();
    json_array_append_new(
        nets, api_network_json(
                  "shoal_gwbridge", ID_BRIDGE, 1795295216123456789LL, "bridge",
                  json_pack("[{s:s, s:s}]", "Subnet", "172.18.0.0/16", "Gateway", "172.18.0.1"),
                  json_pack("{s:s}", "com.docker.network.bridge.name", "shoal_gwbridge"), NULL));
    json_array_append_new(
        nets, api_network_json("host", ID_HOST, 1795295216000000000LL, "host", NULL, NULL, NULL));
    json_array_append_new(
        nets, api_network_json("none", ID_NONE, 1795295216500000000LL, "null", NULL, NULL, NULL));
    return nets;
}

static const char *name_of(json_t *nw)
{
    return json_string_value(json_object_get(nw, "Name"));
}

TEST(api_network_shape_as_dockerd)
{
    json_t *nets = node_nets();
    char *got = json_dumps(json_array_get(nets, 0), JSON_COMPACT);
    /* the field order and values of dockerd's NetworkResource for a local bridge network */
    ASSERT_EQ_STR(got,
                  "{\"Name\":\"shoal_gwbridge\",\"Id\":\"" ID_BRIDGE "\",\"Created\":"
                  "\"2026-11-21T21:06:56.123456789Z\",\"Scope\":\"local\",\"Driver\":\"bridge\","
                  "\"EnableIPv6\":false,\"IPAM\":{\"Driver\":\"default\",\"Options\":null,"
                  "\"Config\":[{\"Subnet\":\"172.18.0.0/16\",\"Gateway\":\"172.18.0.1\"}]},"
                  "\"Internal\":false,\"Attachable\":false,\"Ingress\":false,\"ConfigFrom\":{"
                  "\"Network\":\"\"},\"ConfigOnly\":false,\"Containers\":{},\"Options\":{"
                  "\"com.docker.network.bridge.name\":\"shoal_gwbridge\"},\"Labels\":{}}");
    free(got);
    got = json_dumps(json_array_get(nets, 2), JSON_COMPACT);
    ASSERT_EQ_STR(got, "{\"Name\":\"none\",\"Id\":\"" ID_NONE "\",\"Created\":"
                       "\"2026-11-21T21:06:56.5Z\",\"Scope\":\"local\",\"Driver\":\"null\","
                       "\"EnableIPv6\":false,\"IPAM\":{\"Driver\":\"default\",\"Options\":null,"
                       "\"Config\":[]},\"Internal\":false,\"Attachable\":false,\"Ingress\":false,"
                       "\"ConfigFrom\":{\"Network\":\"\"},\"ConfigOnly\":false,\"Containers\":{},"
                       "\"Options\":{},\"Labels\":{}}");
    free(got);
    json_decref(nets);
}

TEST(api_network_find_as_dockerd)
{
    json_t *nets = node_nets();
    struct err e = {0};
    ASSERT_EQ_STR(name_of(api_network_find(nets, ID_BRIDGE, NULL, &e)), "shoal_gwbridge");
    ASSERT_EQ_STR(name_of(api_network_find(nets, "shoal_gwbridge", NULL, &e)), "shoal_gwbridge");
    ASSERT_EQ_STR(name_of(api_network_find(nets, "host", "", &e)), "host");
    ASSERT_EQ_STR(name_of(api_network_find(nets, "9e2d", NULL, &e)), "none");
    ASSERT_EQ_STR(name_of(api_network_find(nets, "3f0a", NULL, &e)), "shoal_gwbridge");
    /* a prefix two IDs share */
    ASSERT_NULL(api_network_find(nets, "3f0", NULL, &e));
    ASSERT_EQ_INT(e.kind, ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "2 matches found based on ID prefix: network 3f0 is ambiguous");
    /* names are not prefixes; unknown: dockerd's 404 */
    ASSERT_NULL(api_network_find(nets, "shoal", NULL, &e));
    ASSERT_EQ_INT(e.kind, ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "network shoal not found");
    ASSERT_NULL(api_network_find(nets, "oe8ch4rdbe5j3urs25a4mj5qe", NULL, &e));
    ASSERT_EQ_STR(e.msg, "network oe8ch4rdbe5j3urs25a4mj5qe not found");
    /* ?scope=swarm (service create --network asks so): local networks are not found */
    ASSERT_NULL(api_network_find(nets, "shoal_gwbridge", "swarm", &e));
    ASSERT_EQ_STR(e.msg, "network shoal_gwbridge not found");
    ASSERT_NULL(api_network_find(nets, ID_BRIDGE, "swarm", &e));
    ASSERT_NOT_NULL(api_network_find(nets, ID_BRIDGE, "local", &e));
    /* a name that is another network's ID prefix: the name wins; a full ID beats a name */
    json_array_append_new(nets,
                          api_network_json("9e2d", ID_BRIDGE "x", 1, "bridge", NULL, NULL, NULL));
    ASSERT_EQ_STR(name_of(api_network_find(nets, "9e2d", NULL, &e)), "9e2d");
    json_array_append_new(nets, api_network_json(ID_HOST, "0123", 1, "bridge", NULL, NULL, NULL));
    ASSERT_EQ_STR(name_of(api_network_find(nets, ID_HOST, NULL, &e)), "host");
    json_decref(nets);
}

static char *names_after(json_t *nets, const char *filters, struct err *e, int *rc)
{
    struct api_filters f = {0};
    *rc = api_filters_decode(filters, strlen(filters), &f, e);
    if (*rc == 0)
        *rc = api_network_filters_check(&f, e);
    if (*rc < 0) {
        api_filters_release(&f);
        return NULL;
    }
    json_t *shown = api_networks_filter(nets, &f);
    struct buf b = BUF_INIT;
    size_t i;
    json_t *nw;
    json_array_foreach(shown, i, nw) buf_printf(&b, "%s%s", i ? "," : "", name_of(nw));
    json_decref(shown);
    api_filters_release(&f);
    return buf_detach(&b, NULL) ?: xstrdup("");
}

#define ASSERT_SHOWN(filters, want)                                                                \
    do {                                                                                           \
        int rc_;                                                                                   \
        char *got_ = names_after(nets, filters, &e, &rc_);                                         \
        if (!got_)                                                                                 \
            FAIL_AT("filters %s: %s", filters, e.msg);                                             \
        ASSERT_EQ_STR(got_, want);                                                                 \
        free(got_);                                                                                \
    } while (0)

#define ASSERT_REFUSED(filters, kind, words)                                                       \
    do {                                                                                           \
        int rc_;                                                                                   \
        char *got_ = names_after(nets, filters, &e, &rc_);                                         \
        if (got_)                                                                                  \
            FAIL_AT("filters %s kept %s, expected an error", filters, got_);                       \
        ASSERT_EQ_INT(rc_, -(kind));                                                               \
        ASSERT_EQ_STR(e.msg, words);                                                               \
    } while (0)

TEST(api_network_filters_as_dockerd)
{
    json_t *nets = node_nets();
    struct err e = {0};
    ASSERT_SHOWN("", "shoal_gwbridge,host,none");
    ASSERT_SHOWN("{\"driver\":{\"bridge\":true}}", "shoal_gwbridge");
    ASSERT_SHOWN("{\"driver\":{\"brid\":true}}", "");
    ASSERT_SHOWN("{\"driver\":{\"null\":true,\"host\":true}}", "host,none");
    /* name and id: exact, or a regular expression found in them */
    ASSERT_SHOWN("{\"name\":{\"host\":true}}", "host");
    ASSERT_SHOWN("{\"name\":{\"o\":true}}", "shoal_gwbridge,host,none");
    ASSERT_SHOWN("{\"name\":{\"^no\":true}}", "none");
    ASSERT_SHOWN("{\"name\":{\"gw.*e$\":true}}", "shoal_gwbridge");
    ASSERT_SHOWN("{\"name\":{\"(\":true}}", ""); /* an invalid expression matches nothing */
    ASSERT_SHOWN("{\"name\":{\"^(ho){1}st$\":true}}", "host");
    ASSERT_SHOWN("{\"name\":{\"^s{1,2}h[a-z]{2,}_\":true}}", "shoal_gwbridge");
    /* what Go's regexp refuses (and glibc would spend seconds compiling): invalid here too */
    int64_t t0 = time_now_ns();
    ASSERT_SHOWN("{\"name\":{\"((o{1000}){1000}){1000}\":true}}", "");
    ASSERT_SHOWN("{\"name\":{\"(o{100}){11}\":true}}", "");
    ASSERT_SHOWN("{\"name\":{\"o{1001}\":true}}", "");
    ASSERT_SHOWN("{\"name\":{\"(o{2,}){501}\":true}}", "");
    ASSERT_SHOWN("{\"name\":{\"(h)\\\\1\":true}}", ""); /* a backreference */
    ASSERT_SHOWN("{\"name\":{\"(h++)\":true}}", "");    /* stacked operators */
    ASSERT_SHOWN("{\"name\":{\"h{1}*\":true}}", "");
    ASSERT_SHOWN("{\"name\":{\"'{,27777}e\":true}}", ""); /* glibc's {,m} */
    /* glibc expands x+ as xx*: 40 nested "(...)+" would be 2^40 copies */
    struct buf nest = BUF_INIT;
    buf_adds(&nest, "{\"name\":{\"");
    for (int i = 0; i < 40; i++)
        buf_adds(&nest, "(");
    buf_adds(&nest, "h");
    for (int i = 0; i < 40; i++)
        buf_adds(&nest, ")+");
    buf_adds(&nest, "\":true}}");
    ASSERT_SHOWN(nest.p, "");
    buf_release(&nest);
    /* none of them was compiled */
    ASSERT_TRUE(time_now_ns() - t0 < 1000000000);
    ASSERT_SHOWN("{\"name\":{\"ho*?st\":true}}", "host");     /* one "?" after one: non-greedy */
    ASSERT_SHOWN("{\"name\":{\"h\\\\*|^no\":true}}", "none"); /* an escaped "*" */
    ASSERT_SHOWN("{\"name\":{\"(o{10}){100}|host\":true}}", "host"); /* 1000 copies: valid */
    ASSERT_SHOWN("{\"name\":{\"[{]|^no\":true}}", "none");
    ASSERT_SHOWN("{\"id\":{\"3f0\":true}}", "shoal_gwbridge,host");
    ASSERT_SHOWN("{\"id\":{\"" ID_NONE "\":true}}", "none");
    ASSERT_SHOWN("{\"scope\":{\"local\":true}}", "shoal_gwbridge,host,none");
    ASSERT_SHOWN("{\"scope\":{\"swarm\":true}}", "");
    /* label: local networks have none (the stack commands ask by label) */
    ASSERT_SHOWN("{\"label\":{\"com.docker.stack.namespace=x\":true}}", "");
    /* type: builtin is dockerd's predefined names; the node network is custom, as
     * docker_gwbridge is */
    ASSERT_SHOWN("{\"type\":{\"builtin\":true}}", "host,none");
    ASSERT_SHOWN("{\"type\":{\"custom\":true}}", "shoal_gwbridge");
    ASSERT_SHOWN("{\"type\":[\"builtin\",\"custom\"]}", "host,none,shoal_gwbridge");
    ASSERT_SHOWN("{\"type\":[\"custom\",\"custom\"]}", "shoal_gwbridge");
    /* dangling: not predefined and no containers (the list never carries them) */
    ASSERT_SHOWN("{\"dangling\":{\"true\":true}}", "shoal_gwbridge");
    ASSERT_SHOWN("{\"dangling\":{\"0\":true}}", "host,none");
    /* several filters: all of them */
    ASSERT_SHOWN("{\"driver\":{\"host\":true},\"name\":{\"none\":true}}", "");
    /* dockerd's words */
    ASSERT_REFUSED("{\"nosuch\":{\"x\":true}}", ERR_INVALID, "Invalid filter 'nosuch'");
    ASSERT_REFUSED("{\"idOrName\":{\"x\":true}}", ERR_INVALID, "Invalid filter 'idOrName'");
    ASSERT_REFUSED("{\"type\":{\"other\":true}}", ERR_INTERNAL, "invalid filter: 'type'='other'");
    ASSERT_REFUSED("{\"dangling\":{\"yes\":true}}", ERR_INVALID,
                   "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or "
                   "\"false\" (or \"0\")");
    ASSERT_REFUSED("{\"dangling\":[\"true\",\"false\"]}", ERR_INVALID,
                   "got more than one value for filter key \"dangling\"");
    ASSERT_REFUSED("{\"name\":\"x\"}", ERR_INVALID, "invalid filter");
    json_decref(nets);
    /* predefined names */
    ASSERT_TRUE(api_network_predefined("bridge"));
    ASSERT_TRUE(api_network_predefined("default"));
    ASSERT_FALSE(api_network_predefined("shoal_gwbridge"));
    ASSERT_FALSE(api_network_predefined("ingress"));
}

static int plugin_check(const char *filters, struct err *e)
{
    struct api_filters f = {0};
    int rc = api_filters_decode(filters, strlen(filters), &f, e);
    if (rc == 0)
        rc = api_plugin_filters_check(&f, e);
    api_filters_release(&f);
    return rc;
}

TEST(api_plugin_filters_and_quote)
{
    struct err e = {0};
    ASSERT_EQ_INT(plugin_check("", &e), 0);
    ASSERT_EQ_INT(plugin_check("{\"enabled\":{\"true\":true}}", &e), 0);
    ASSERT_EQ_INT(plugin_check("{\"enabled\":[\"x\",\"false\"]}", &e), 0);
    ASSERT_EQ_INT(plugin_check("{\"capability\":{\"volumedriver\":true}}", &e), 0);
    ASSERT_EQ_INT(plugin_check("{\"name\":{\"x\":true}}", &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Invalid filter 'name'");
    ASSERT_EQ_INT(plugin_check("{\"enabled\":[\"yes\",\"1\"]}", &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Invalid filter 'enabled=[yes 1]'");

    /* Go's strconv.Quote, which dockerd's `plugin %q not found` uses */
    static const struct {
        const char *in, *out;
    } q[] = {
        {"vieux/sshfs:latest", "\"vieux/sshfs:latest\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"tab\there\n", "\"tab\\there\\n\""},
        {"\x01\x7f", "\"\\x01\\x7f\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
        {"bad\xff\xc3", "\"bad\\xff\\xc3\""},
        {"\xc2\x85", "\"\\u0085\""},
        {"", "\"\""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(q); i++) {
        struct buf b = BUF_INIT;
        api_go_quote(q[i].in, &b);
        ASSERT_EQ_STR(b.p, q[i].out);
        buf_release(&b);
    }
}
