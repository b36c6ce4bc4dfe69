/* test_spec.c — the spec decoder (src/spec/spec_decode.c, spec_json.c) behaves like Go's
 * encoding/json into a Go struct: every field kind, case-insensitive keys (exact match
 * first), unknown keys dropped, null, merge on duplicate keys, every type error in Go's
 * words with Go 1.19/1.20's Struct.Path format, integer overflow and unsigned negatives,
 * syntax errors, and the raw-bytes entry on hostile input. Pure: no I/O. */
#include "harness.h"
#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

/* A toy Go struct covering the kinds the service tables do not:
 *   type Inner struct { N int8; F float64 }
 *   type Toy struct { S string; I32 int32; U16 uint16; P *Inner; Raw json.RawMessage;
 *                     L []Inner `json:"list"`; Kelvin string `json:"kind"` } */
struct inner {
    int64_t n;
    double f;
};
struct toy {
    char *s;
    int64_t i32;
    uint64_t u16;
    bool has_p;
    struct inner p;
    char *raw;
    struct inner *l;
    size_t nl;
    char *kind;
};
static const struct spec_field inner_f[] = {
    {"N", SPEC_INT, offsetof(struct inner, n), NULL, 8, SPEC_OMITEMPTY, 0, NULL},
    {"F", SPEC_FLOAT, offsetof(struct inner, f), NULL, 64, 0, 0, NULL},
};
static const struct spec_type inner_t = {"Inner", "main.Inner", sizeof(struct inner), inner_f, 2};
static const struct spec_field toy_f[] = {
    {"S", SPEC_STR, offsetof(struct toy, s), NULL, 0, 0, 0, NULL},
    {"I32", SPEC_INT, offsetof(struct toy, i32), NULL, 32, 0, 0, NULL},
    {"U16", SPEC_UINT, offsetof(struct toy, u16), NULL, 16, 0, 0, NULL},
    {"P", SPEC_STRUCT, offsetof(struct toy, p), NULL, 0, SPEC_PTR, offsetof(struct toy, has_p),
     &inner_t},
    {"Raw", SPEC_RAW, offsetof(struct toy, raw), NULL, 0, SPEC_OMITEMPTY, 0, NULL},
    {"list", SPEC_LIST, offsetof(struct toy, l), "[]main.Inner", 0, SPEC_OMITEMPTY,
     offsetof(struct toy, nl), &inner_t},
    {"kind", SPEC_STR, offsetof(struct toy, kind), NULL, 0, SPEC_OMITEMPTY, 0, NULL},
};
static const struct spec_type toy_t = {"Toy", "main.Toy", sizeof(struct toy), toy_f, 7};

static int toy_decode(const char *js, struct toy *t, struct err *e)
{
    memset(t, 0, sizeof(*t));
    err_clear(e);
    return spec_decode(&toy_t, js, strlen(js), t, e);
}

/* Decodes js as a ServiceSpec and expects the error msg. */
static void svc_err(const char *js, const char *msg)
{
    struct spec_service *s = NULL;
    struct err e;
    err_clear(&e);
    int rc = spec_service_decode(js, strlen(js), &s, &e);
    if (rc != -ERR_INVALID)
        FAIL_AT("decode of %s: rc %d, want -ERR_INVALID", js, rc);
    ASSERT_TRUE(s == NULL);
    if (strcmp(e.msg, msg))
        FAIL_AT("decode of %s:\n#   got  %s\n#   want %s", js, e.msg, msg);
}

static struct spec_service *svc_ok(const char *js)
{
    struct spec_service *s = NULL;
    struct err e;
    err_clear(&e);
    if (spec_service_decode(js, strlen(js), &s, &e))
        FAIL_AT("decode of %s: %s", js, e.msg);
    return s;
}

TEST(spec_decode_kinds)
{
    struct toy t;
    struct err e;
    ASSERT_EQ_INT(toy_decode("{\"S\":\"a\\u00e9\\ud83d\\ude00\",\"I32\":-2147483648,\"U16\":65535,"
                             "\"P\":{\"N\":-128,\"F\":1.5e3},\"Raw\":{\"x\": [1, 2]},"
                             "\"list\":[{\"N\":1},null,{\"F\":-0.25}]}",
                             &t, &e),
                  0);
    ASSERT_EQ_STR(t.s, "a\xc3\xa9\xf0\x9f\x98\x80");
    ASSERT_EQ_INT(t.i32, -2147483648LL);
    ASSERT_EQ_INT(t.u16, 65535);
    ASSERT_TRUE(t.has_p);
    ASSERT_EQ_INT(t.p.n, -128);
    ASSERT_TRUE(t.p.f == 1500.0);
    ASSERT_EQ_STR(t.raw, "{\"x\": [1, 2]}");
    ASSERT_EQ_INT(t.nl, 3);
    ASSERT_EQ_INT(t.l[0].n, 1);
    ASSERT_EQ_INT(t.l[1].n, 0);
    ASSERT_TRUE(t.l[2].f == -0.25);
    json_t *j = spec_encode(&toy_t, &t);
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_EQ_STR(out,
                  "{\"I32\":-2147483648,\"P\":{\"F\":1500,\"N\":-128},\"Raw\":{\"x\":[1,2]},"
                  "\"S\":\"a\xc3\xa9\xf0\x9f\x98\x80\",\"U16\":65535,\"list\":[{\"F\":0,\"N\":1},"
                  "{\"F\":0},{\"F\":-0.25}]}");
    free(out);
    json_decref(j);
    spec_release(&toy_t, &t);
    /* a nil pointer without omitempty encodes as null */
    ASSERT_EQ_INT(toy_decode("{}", &t, &e), 0);
    j = spec_encode(&toy_t, &t);
    ASSERT_TRUE(json_is_null(json_object_get(j, "P")));
    ASSERT_TRUE(json_object_get(j, "Raw") == NULL);
    json_decref(j);
    spec_release(&toy_t, &t);
}

TEST(spec_decode_keys_fold_exact_first_unknown_dropped)
{
    struct toy t;
    struct err e;
    /* case-insensitive; the Kelvin sign folds to k as in Go; unknown keys are skipped */
    ASSERT_EQ_INT(toy_decode("{\"s\":\"x\",\"i32\":7,\"LIST\":[],\"\xe2\x84\xaaind\":\"kelvin\","
                             "\"version\":{\"Index\":3},\"Nope\":[1,{\"a\":null}]}",
                             &t, &e),
                  0);
    ASSERT_EQ_STR(t.s, "x");
    ASSERT_EQ_INT(t.i32, 7);
    ASSERT_EQ_STR(t.kind, "kelvin");
    spec_release(&toy_t, &t);
    /* later keys win; "S" then "s" both land in S */
    ASSERT_EQ_INT(toy_decode("{\"S\":\"first\",\"s\":\"second\"}", &t, &e), 0);
    ASSERT_EQ_STR(t.s, "second");
    spec_release(&toy_t, &t);
    /* a pointer struct given twice merges, as Go decodes into the existing value */
    ASSERT_EQ_INT(toy_decode("{\"P\":{\"N\":1},\"P\":{\"F\":2}}", &t, &e), 0);
    ASSERT_EQ_INT(t.p.n, 1);
    ASSERT_TRUE(t.p.f == 2);
    spec_release(&toy_t, &t);
    /* null leaves scalars, clears pointers */
    ASSERT_EQ_INT(toy_decode("{\"S\":\"keep\",\"S\":null,\"P\":{\"N\":1},\"P\":null}", &t, &e), 0);
    ASSERT_EQ_STR(t.s, "keep");
    ASSERT_FALSE(t.has_p);
    ASSERT_EQ_INT(t.p.n, 0);
    spec_release(&toy_t, &t);
    /* a top-level null decodes nothing */
    ASSERT_EQ_INT(toy_decode(" null ", &t, &e), 0);
    spec_release(&toy_t, &t);
}

TEST(spec_decode_type_errors_in_go_words)
{
    struct toy t;
    struct err e;
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"{\"S\":1}", "json: cannot unmarshal number into Go struct field Toy.S of type string"},
        {"{\"S\":true}", "json: cannot unmarshal bool into Go struct field Toy.S of type string"},
        {"{\"S\":[]}", "json: cannot unmarshal array into Go struct field Toy.S of type string"},
        {"{\"S\":{}}", "json: cannot unmarshal object into Go struct field Toy.S of type string"},
        {"{\"I32\":\"1\"}",
         "json: cannot unmarshal string into Go struct field Toy.I32 of type int32"},
        {"{\"I32\":2147483648}",
         "json: cannot unmarshal number 2147483648 into Go struct field Toy.I32 of type int32"},
        {"{\"I32\":1.5}",
         "json: cannot unmarshal number 1.5 into Go struct field Toy.I32 of type int32"},
        {"{\"I32\":1e2}",
         "json: cannot unmarshal number 1e2 into Go struct field Toy.I32 of type int32"},
        {"{\"U16\":-1}",
         "json: cannot unmarshal number -1 into Go struct field Toy.U16 of type uint16"},
        {"{\"U16\":65536}",
         "json: cannot unmarshal number 65536 into Go struct field Toy.U16 of type uint16"},
        {"{\"P\":{\"N\":128}}",
         "json: cannot unmarshal number 128 into Go struct field Inner.P.N of type int8"},
        {"{\"P\":{\"F\":1e400}}",
         "json: cannot unmarshal number 1e400 into Go struct field Inner.P.F of type float64"},
        {"{\"P\":[]}",
         "json: cannot unmarshal array into Go struct field Toy.P of type main.Inner"},
        {"{\"list\":{}}",
         "json: cannot unmarshal object into Go struct field Toy.list of type []main.Inner"},
        {"{\"list\":[{},\"x\"]}",
         "json: cannot unmarshal string into Go struct field Toy.list of type main.Inner"},
        {"{\"list\":[{\"N\":\"x\"}]}",
         "json: cannot unmarshal string into Go struct field Inner.list.N of type int8"},
        {"[1]", "json: cannot unmarshal array into Go value of type main.Toy"},
        {"\"x\"", "json: cannot unmarshal string into Go value of type main.Toy"},
        /* the first error in document order wins */
        {"{\"I32\":\"a\",\"S\":1}",
         "json: cannot unmarshal string into Go struct field Toy.I32 of type int32"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int rc = toy_decode(cases[i].in, &t, &e);
        spec_release(&toy_t, &t);
        if (rc != -ERR_INVALID || e.kind != ERR_INVALID || strcmp(e.msg, cases[i].msg))
            FAIL_AT("%s: rc %d kind %d\n#   got  %s\n#   want %s", cases[i].in, rc, e.kind, e.msg,
                    cases[i].msg);
    }
}

TEST(spec_decode_service_paths_and_types)
{
    /* Go 1.19/1.20: innermost struct, then the whole path of JSON names from the top */
    svc_err("{\"Name\":5}",
            "json: cannot unmarshal number into Go struct field ServiceSpec.Name of type string");
    svc_err("{\"Labels\":{\"a\":1}}",
            "json: cannot unmarshal number into Go struct field ServiceSpec.Labels of type string");
    svc_err("{\"Labels\":[]}", "json: cannot unmarshal array into Go struct field "
                               "ServiceSpec.Labels of type map[string]string");
    svc_err("{\"TaskTemplate\":\"x\"}", "json: cannot unmarshal string into Go struct field "
                                        "ServiceSpec.TaskTemplate of type swarm.TaskSpec");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":7}}}",
            "json: cannot unmarshal number into Go struct field "
            "ContainerSpec.TaskTemplate.ContainerSpec.Image of type string");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Env\":[\"A=1\",2]}}}",
            "json: cannot unmarshal number into Go struct field "
            "ContainerSpec.TaskTemplate.ContainerSpec.Env of type string");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[{\"ReadOnly\":\"yes\"}]}}}",
            "json: cannot unmarshal string into Go struct field "
            "Mount.TaskTemplate.ContainerSpec.Mounts.ReadOnly of type bool");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[\"/a:/b\"]}}}",
            "json: cannot unmarshal string into Go struct field "
            "ContainerSpec.TaskTemplate.ContainerSpec.Mounts of type mount.Mount");
    svc_err(
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Mounts\":[{\"TmpfsOptions\":{\"Mode\":-1}}]}}}",
        "json: cannot unmarshal number -1 into Go struct field "
        "TmpfsOptions.TaskTemplate.ContainerSpec.Mounts.TmpfsOptions.Mode of type fs.FileMode");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"StopGracePeriod\":\"10s\"}}}",
            "json: cannot unmarshal string into Go struct field "
            "ContainerSpec.TaskTemplate.ContainerSpec.StopGracePeriod of type time.Duration");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Init\":1}}}",
            "json: cannot unmarshal number into Go struct field "
            "ContainerSpec.TaskTemplate.ContainerSpec.Init of type bool");
    svc_err("{\"TaskTemplate\":{\"RestartPolicy\":{\"MaxAttempts\":-3}}}",
            "json: cannot unmarshal number -3 into Go struct field "
            "RestartPolicy.TaskTemplate.RestartPolicy.MaxAttempts of type uint64");
    svc_err("{\"TaskTemplate\":{\"RestartPolicy\":{\"Condition\":1}}}",
            "json: cannot unmarshal number into Go struct field "
            "RestartPolicy.TaskTemplate.RestartPolicy.Condition of type "
            "swarm.RestartPolicyCondition");
    svc_err("{\"TaskTemplate\":{\"ForceUpdate\":18446744073709551616}}",
            "json: cannot unmarshal number 18446744073709551616 into Go struct field "
            "TaskSpec.TaskTemplate.ForceUpdate of type uint64");
    svc_err("{\"TaskTemplate\":{\"PluginSpec\":3}}",
            "json: cannot unmarshal number into Go struct field TaskSpec.TaskTemplate.PluginSpec "
            "of type runtime.PluginSpec");
    svc_err("{\"Mode\":{\"Replicated\":{\"Replicas\":-1}}}",
            "json: cannot unmarshal number -1 into Go struct field "
            "ReplicatedService.Mode.Replicated.Replicas of type uint64");
    svc_err("{\"Mode\":{\"Replicated\":{\"Replicas\":1.5}}}",
            "json: cannot unmarshal number 1.5 into Go struct field "
            "ReplicatedService.Mode.Replicated.Replicas of type uint64");
    svc_err("{\"Mode\":{\"Global\":true}}", "json: cannot unmarshal bool into Go struct field "
                                            "ServiceMode.Mode.Global of type swarm.GlobalService");
    svc_err("{\"UpdateConfig\":{\"MaxFailureRatio\":\"0.1\"}}",
            "json: cannot unmarshal string into Go struct field "
            "UpdateConfig.UpdateConfig.MaxFailureRatio of type float32");
    svc_err("{\"UpdateConfig\":{\"MaxFailureRatio\":1e39}}",
            "json: cannot unmarshal number 1e39 into Go struct field "
            "UpdateConfig.UpdateConfig.MaxFailureRatio of type float32");
    svc_err("{\"UpdateConfig\":{\"MaxFailureRatio\":3.4028235677973366e38}}",
            "json: cannot unmarshal number 3.4028235677973366e38 into Go struct field "
            "UpdateConfig.UpdateConfig.MaxFailureRatio of type float32");
    struct spec_service *f = svc_ok("{\"UpdateConfig\":{\"MaxFailureRatio\":3.4028235e38}}");
    ASSERT_TRUE(f->update.max_failure_ratio > 3.4e38);
    spec_service_free(f);
    svc_err("{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":4294967296}]}}",
            "json: cannot unmarshal number 4294967296 into Go struct field "
            "PortConfig.EndpointSpec.Ports.TargetPort of type uint32");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Secrets\":[{\"File\":{\"UID\":0}}]}}}",
            "json: cannot unmarshal number into Go struct field "
            "SecretReferenceFileTarget.TaskTemplate.ContainerSpec.Secrets.File.UID of type string");
    svc_err("{\"TaskTemplate\":{\"Placement\":{\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":"
            "1}}]}}}",
            "json: cannot unmarshal number into Go struct field "
            "SpreadOver.TaskTemplate.Placement.Preferences.Spread.SpreadDescriptor of type string");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Healthcheck\":{\"Retries\":1.0}}}}",
            "json: cannot unmarshal number 1.0 into Go struct field "
            "HealthConfig.TaskTemplate.ContainerSpec.Healthcheck.Retries of type int");
    svc_err("{\"TaskTemplate\":{\"ContainerSpec\":{\"Ulimits\":[{\"Soft\":\"1\"}]}}}",
            "json: cannot unmarshal string into Go struct field "
            "Ulimit.TaskTemplate.ContainerSpec.Ulimits.Soft of type int64");
    svc_err("7", "json: cannot unmarshal number into Go value of type swarm.ServiceSpec");
}

TEST(spec_decode_service_fields_case_insensitive)
{
    struct spec_service *s =
        svc_ok("{\"name\":\"web\",\"taskTemplate\":{\"containerspec\":{\"IMAGE\":\"nginx\","
               "\"env\":[\"A=1\",null],\"tty\":true,\"init\":false,\"stopgraceperiod\":5},"
               "\"placement\":{\"maxreplicas\":3}},\"mode\":{\"replicated\":{\"replicas\":4}},"
               "\"Version\":{\"Index\":9},\"ID\":\"x\"}");
    ASSERT_EQ_STR(s->name, "web");
    ASSERT_TRUE(s->task.has_container);
    ASSERT_EQ_STR(s->task.container.image, "nginx");
    ASSERT_EQ_INT(s->task.container.env.n, 2);
    ASSERT_EQ_STR(s->task.container.env.v[1], "");
    ASSERT_TRUE(s->task.container.tty);
    ASSERT_TRUE(s->task.container.has_init);
    ASSERT_FALSE(s->task.container.init);
    ASSERT_EQ_INT(s->task.container.stop_grace_period, 5);
    ASSERT_EQ_INT(s->task.placement.max_replicas, 3);
    ASSERT_TRUE(s->mode.has_replicated && s->mode.has_replicas);
    ASSERT_EQ_INT(s->mode.replicas, 4);
    /* unknown keys (Version, ID) are gone from what encodes */
    json_t *j = spec_service_encode(s);
    ASSERT_TRUE(json_object_get(j, "Version") == NULL && json_object_get(j, "ID") == NULL);
    ASSERT_TRUE(json_object_get(j, "version") == NULL);
    json_decref(j);
    spec_service_free(s);
    /* labels: duplicate keys keep the last value, and come out sorted */
    s = svc_ok("{\"Labels\":{\"b\":\"1\",\"a\":\"2\",\"b\":\"3\"},\"labels\":{\"c\":\"4\"}}");
    ASSERT_EQ_INT(s->labels.n, 3);
    ASSERT_EQ_STR(s->labels.v[0].key, "a");
    ASSERT_EQ_STR(spec_map_get(&s->labels, "b"), "3");
    ASSERT_EQ_STR(spec_map_get(&s->labels, "c"), "4");
    ASSERT_TRUE(spec_map_get(&s->labels, "z") == NULL);
    spec_service_free(s);
}

TEST(spec_decode_syntax_errors)
{
    svc_err("", "got EOF while reading request body");
    svc_err("{bad", "invalid character 'b' looking for beginning of object key string");
    svc_err("{\"Name\":\"x\"", "unexpected EOF");
    svc_err("{\"Name\" 1}", "invalid character '1' after object key");
    svc_err("{\"Name\":\"x\" \"y\"}", "invalid character '\"' after object key:value pair");
    svc_err("[1 2]", "invalid character '2' after array element");
    svc_err("{\"Name\":tru}", "invalid character '}' in literal true (expecting 'e')");
    svc_err("{\"Name\":-}", "invalid character '}' in numeric literal");
    svc_err("{\"Name\":\"\\x\"}", "invalid character 'x' in string escape code");
    svc_err("{\"Name\":\"\x01\"}", "invalid character '\\x01' in string literal");
    /* trailing bytes after the first value are ignored, as json.Decoder ignores them */
    struct spec_service *s = svc_ok("{\"Name\":\"a\"} trailing");
    ASSERT_EQ_STR(s->name, "a");
    spec_service_free(s);
    /* invalid UTF-8 and lone surrogates become U+FFFD */
    s = svc_ok("{\"Name\":\"\xff\\ud800x\"}");
    ASSERT_EQ_STR(s->name, "\xef\xbf\xbd\xef\xbf\xbdx");
    spec_service_free(s);
}

TEST(spec_decode_hostile_bytes)
{
    /* deep nesting is refused, not recursed into without end */
    size_t n = 100000;
    char *deep = malloc(n + 1);
    memset(deep, '[', n);
    deep[n] = '\0';
    svc_err(deep, "exceeded max depth");
    free(deep);
    /* random bytes and truncations of a real body never crash (ASan checks the rest) */
    const char *body = "{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\","
                       "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/x\"}]},\"Placement\":"
                       "{\"Constraints\":[\"node.role==manager\"]}},\"Mode\":{\"Global\":{}}}";
    size_t bl = strlen(body);
    for (size_t cut = 0; cut <= bl; cut++) {
        struct spec_service *s = NULL;
        struct err e;
        if (spec_service_decode(body, cut, &s, &e) == 0) {
            struct err ve;
            if (!spec_service_validate(s, &ve))
                spec_service_defaults(s);
            json_decref(spec_service_encode(s));
            spec_service_free(s);
        }
    }
    uint64_t x = 88172645463325252ULL;
    char buf[256];
    for (int round = 0; round < 3000; round++) {
        size_t len = 0;
        memcpy(buf, body, bl < sizeof(buf) ? bl : sizeof(buf));
        len = bl < sizeof(buf) ? bl : sizeof(buf);
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % len] = (char)(x >> 40);
        }
        struct spec_service *s = NULL;
        struct err e;
        if (spec_service_decode(buf, len, &s, &e) == 0) {
            struct err ve;
            struct spec_service *d = spec_service_dup(s);
            if (!spec_service_validate(d, &ve))
                spec_service_defaults(d);
            json_decref(spec_service_encode(d));
            spec_service_free(d);
            spec_service_free(s);
        }
    }
}
