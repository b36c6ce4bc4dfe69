/* test_spec_service.c — the service spec converter (src/spec/spec_service.c): the CLI's
 * recorded create bodies decode, validate, default and encode to exactly the Spec that
 * dockerd 20.10 showed for them; ?insertDefaults=true; each refusal of dockerd's converter
 * and of swarmkit's controlapi with their words and status; the scheduler and orchestrator
 * views. Pure: no I/O. */
#include "harness.h"
#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

#include "test_spec_transcripts.h"

static struct spec_service *decode_ok(const char *js)
{
    struct spec_service *s = NULL;
    struct err e;
    if (spec_service_decode(js, strlen(js), &s, &e))
        FAIL_AT("decode of %s: %s", js, e.msg);
    return s;
}

/* decode → validate → defaults → encode, compared with want (JSON text) */
static void assert_inspect(const char *name, const char *req, const char *want, bool insert)
{
    struct spec_service *s = decode_ok(req);
    struct err e;
    if (spec_service_validate(s, &e))
        FAIL_AT("%s: validate: %s", name, e.msg);
    spec_service_defaults(s);
    if (insert)
        spec_service_insert_defaults(s);
    json_t *got = spec_service_encode(s);
    json_t *exp = json_loads(want, 0, NULL);
    ASSERT_TRUE(exp != NULL);
    if (!json_equal(got, exp)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *w = json_dumps(exp, JSON_COMPACT | JSON_SORT_KEYS);
        FAIL_AT("%s:\n#   got  %s\n#   want %s", name, g, w);
    }
    /* and Go's field order */
    const char *k1, *k2;
    void *it1 = json_object_iter(got), *it2 = json_object_iter(exp);
    for (; it1 && it2;
         it1 = json_object_iter_next(got, it1), it2 = json_object_iter_next(exp, it2)) {
        k1 = json_object_iter_key(it1);
        k2 = json_object_iter_key(it2);
        if (strcmp(k1, k2))
            FAIL_AT("%s: key order %s vs %s", name, k1, k2);
    }
    json_decref(got);
    json_decref(exp);
    spec_service_free(s);
}

TEST(spec_service_roundtrip_transcripts)
{
    ASSERT_TRUE(ARRAY_SIZE(rt_cases) >= 7);
    for (size_t i = 0; i < ARRAY_SIZE(rt_cases); i++)
        assert_inspect(rt_cases[i].name, rt_cases[i].req, rt_cases[i].inspect, false);
}

TEST(spec_service_insert_defaults_as_recorded)
{
    /* raw/service-inspect-insert-defaults: rec-raw, created by CLI 20 with
     * --stop-grace-period 1s (its body as the CLI sends it for these flags) */
    const char *req =
        "{\"Name\":\"rec-raw\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
        "\"busybox:latest\",\"Args\":[\"sh\",\"-c\",\"x\"],\"Init\":false,\"StopGracePeriod\":"
        "1000000000,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},"
        "\"Placement\":{},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{}},\"EndpointSpec\":"
        "{\"Mode\":\"vip\"}}";
    const char *want =
        "{\"Name\":\"rec-raw\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
        "\"busybox:latest\",\"Args\":[\"sh\",\"-c\",\"x\"],\"Init\":false,\"StopGracePeriod\":"
        "1000000000,\"DNSConfig\":{},\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{},"
        "\"Reservations\":{}},\"RestartPolicy\":{\"Condition\":\"any\",\"Delay\":5000000000,"
        "\"MaxAttempts\":0},\"Placement\":{},\"ForceUpdate\":0,\"Runtime\":\"container\"},"
        "\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"UpdateConfig\":{\"Parallelism\":1,"
        "\"FailureAction\":\"pause\",\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":"
        "\"stop-first\"},\"RollbackConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\","
        "\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},"
        "\"EndpointSpec\":{\"Mode\":\"vip\"}}";
    assert_inspect("rec-raw insertDefaults", req, want, true);
    /* cli-28/service-inspect: rec-web's given parts stay, the rest is filled */
    assert_inspect(
        "rec-web insertDefaults", rt_cases[0].req,
        "{\"Name\":\"rec-web\",\"Labels\":{\"team\":\"core\"},\"TaskTemplate\":{"
        "\"ContainerSpec\":{\"Image\":\"busybox:latest\",\"Labels\":{\"clabel\":\"x\"},"
        "\"Args\":[\"httpd\",\"-f\",\"-p\",\"80\",\"-h\",\"/\"],\"Env\":[\"FOO=bar\","
        "\"MODE=test\"],\"Init\":false,\"StopGracePeriod\":10000000000,\"DNSConfig\":{},"
        "\"Isolation\":\"default\"},\"Resources\":{\"Limits\":{\"MemoryBytes\":67108864},"
        "\"Reservations\":{\"NanoCPUs\":100000000}},\"RestartPolicy\":{\"Condition\":"
        "\"on-failure\",\"Delay\":5000000000,\"MaxAttempts\":0},\"Placement\":{"
        "\"Constraints\":[\"node.role==manager\"]},\"Networks\":[{\"Target\":"
        "\"1cewvygqm2evizuo8ecst8qs0\"}],\"ForceUpdate\":0,\"Runtime\":\"container\"},"
        "\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"UpdateConfig\":{\"Parallelism\":1,"
        "\"Delay\":2000000000,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
        "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"RollbackConfig\":{"
        "\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
        "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"EndpointSpec\":{\"Mode\":"
        "\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":"
        "8080,\"PublishMode\":\"ingress\"}]}}",
        true);
}

TEST(spec_service_defaults_as_dockerd_stores)
{
    /* raw/service-create-minimal's body: what dockerd's converter fills */
    assert_inspect("minimal",
                   "{\"Name\":\"rec-min\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
                   "\"busybox:latest\",\"Args\":[\"sleep\",\"600\"]}}}",
                   "{\"Name\":\"rec-min\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{"
                   "\"Image\":\"busybox:latest\",\"Args\":[\"sleep\",\"600\"],\"Isolation\":"
                   "\"default\"},\"ForceUpdate\":0,\"Runtime\":\"container\"},\"Mode\":{"
                   "\"Replicated\":{\"Replicas\":1}}}",
                   false);
    /* enums: protobuf lookups upper-case the input and fall back to the zero value;
     * mount Consistency is not kept, bind options only when they say something; a
     * preference without Spread is dropped; jobs get their counts; a stray version key is
     * dropped */
    assert_inspect(
        "enums",
        "{\"Name\":\"e\",\"version\":{\"Index\":4},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
        "\"a\",\"Isolation\":\"PROCESS\",\"Mounts\":[{\"Type\":\"VOLUME\",\"Target\":\"/v\","
        "\"Consistency\":\"cached\",\"BindOptions\":{}},{\"Target\":\"/b\",\"BindOptions\":{"
        "\"NonRecursive\":true}},{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"BindOptions\":{"
        "\"Propagation\":\"RSHARED\"},\"TmpfsOptions\":{\"SizeBytes\":1024,\"Mode\":448}}],"
        "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":1000000000}},"
        "\"RestartPolicy\":{},\"Placement\":{\"Preferences\":[{},{\"Spread\":{"
        "\"SpreadDescriptor\":\"node.labels.zone\"}}]}},\"Mode\":{\"ReplicatedJob\":{"
        "\"MaxConcurrent\":3}},\"RollbackConfig\":{\"Parallelism\":2},\"EndpointSpec\":{"
        "\"Ports\":[{\"Protocol\":\"UDP\",\"TargetPort\":53,\"PublishMode\":\"HOST\"},{"
        "\"Protocol\":\"bogus\",\"TargetPort\":80,\"PublishMode\":\"bogus\"}]}}",
        "{\"Name\":\"e\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\","
        "\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/v\"},{\"Type\":\"bind\",\"Target\":"
        "\"/b\",\"BindOptions\":{\"Propagation\":\"rprivate\",\"NonRecursive\":true}},{\"Type\":"
        "\"tmpfs\",\"Target\":\"/t\",\"BindOptions\":{\"Propagation\":\"rshared\"},"
        "\"TmpfsOptions\":{\"SizeBytes\":1024,\"Mode\":448}}],\"Healthcheck\":{\"Test\":[\"CMD\","
        "\"true\"],\"Interval\":1000000000},\"Isolation\":\"process\"},\"RestartPolicy\":{"
        "\"Condition\":\"any\",\"MaxAttempts\":0},\"Placement\":{\"Preferences\":[{\"Spread\":{"
        "\"SpreadDescriptor\":\"node.labels.zone\"}}]},\"ForceUpdate\":0,\"Runtime\":"
        "\"container\"},\"Mode\":{\"ReplicatedJob\":{\"MaxConcurrent\":3,\"TotalCompletions\":3}},"
        "\"RollbackConfig\":{\"Parallelism\":2,\"FailureAction\":\"pause\",\"MaxFailureRatio\":0,"
        "\"Order\":\"stop-first\"},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":"
        "\"udp\",\"TargetPort\":53,\"PublishMode\":\"host\"},{\"Protocol\":\"tcp\",\"TargetPort\":"
        "80,\"PublishMode\":\"ingress\"}]}}",
        false);
    /* a float32 ratio is shown as Go shows a float32 */
    struct spec_service *s = decode_ok("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},"
                                       "\"UpdateConfig\":{\"MaxFailureRatio\":0.1}}");
    json_t *j = spec_service_encode(s);
    char *txt =
        json_dumps(json_object_get(j, "UpdateConfig"), JSON_COMPACT | JSON_REAL_PRECISION(9));
    ASSERT_EQ_STR(txt, "{\"Parallelism\":0,\"MaxFailureRatio\":0.1,\"Order\":\"\"}");
    free(txt);
    json_decref(j);
    /* an unnamed service gets a generated adjective_surname name */
    spec_service_defaults(s);
    ASSERT_TRUE(s->name && strchr(s->name, '_') && strlen(s->name) > 3);
    spec_service_free(s);
}

static void refused(const char *js, int kind, const char *msg)
{
    struct spec_service *s = decode_ok(js);
    struct err e;
    err_clear(&e);
    int rc = spec_service_validate(s, &e);
    if (rc != -kind || e.kind != kind || strcmp(e.msg, msg))
        FAIL_AT("%s: rc %d kind %d\n#   got  %s\n#   want %s", js, rc, e.kind, e.msg, msg);
    spec_service_free(s);
}

#define SK "rpc error: code = InvalidArgument desc = "
#define C(x) "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"" x "}}}"
#define T(x) "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}" x "}}"
#define S(x) "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}" x "}"

TEST(spec_service_validate_dockerd_converter)
{
    refused("{\"Name\":\"rec-ct\"}", ERR_INVALID, "mismatched Runtime and *Spec fields");
    refused("{\"TaskTemplate\":{\"Runtime\":\"plugin\"}}", ERR_INVALID,
            "mismatched Runtime and *Spec fields");
    refused("{\"TaskTemplate\":{\"Runtime\":\"plugin\",\"PluginSpec\":{}},\"Mode\":{"
            "\"Replicated\":{}}}",
            ERR_INVALID, "plugins must not use replicated mode");
    refused(T(",\"Runtime\":\"attachment\""), ERR_INVALID, "unsupported runtime");
    refused(C(",\"Privileges\":{\"CredentialSpec\":{}}"), ERR_INVALID,
            "invalid CredentialSpec: must either provide \"file\", \"registry\", or \"config\" "
            "for credential spec");
    refused(
        C(",\"Privileges\":{\"CredentialSpec\":{\"File\":\"a\",\"Registry\":\"b\"}}"), ERR_INVALID,
        "invalid CredentialSpec: cannot specify both \"file\" and \"registry\" credential specs");
    refused(C(",\"Configs\":[{\"ConfigID\":\"a\",\"ConfigName\":\"b\"}]"), ERR_INVALID,
            "invalid Config: either File or Runtime should be set");
    refused(C(",\"Configs\":[{\"File\":{\"Name\":\"x\"},\"Runtime\":{}}]"), ERR_INVALID,
            "invalid Config: cannot specify both File and Runtime");
    refused(C(",\"Mounts\":[{\"Type\":\"nfs\",\"Target\":\"/a\"}]"), ERR_INVALID,
            "invalid MountType: \"nfs\"");
    refused(C(",\"Mounts\":[{\"Target\":\"/a\",\"BindOptions\":{\"Propagation\":\"up\"}}]"),
            ERR_INVALID, "invalid MountPropagation: \"up\"");
    refused(T(",\"RestartPolicy\":{\"Condition\":\"always\"}"), ERR_INVALID,
            "invalid RestartCondition: \"always\"");
    refused(S(",\"UpdateConfig\":{\"FailureAction\":\"explode\"}"), ERR_INVALID,
            "unrecognized update failure action explode");
    refused(S(",\"RollbackConfig\":{\"Order\":\"random\"}"), ERR_INVALID,
            "unrecognized update order random");
    refused(S(",\"EndpointSpec\":{\"Mode\":\"VIP\"}"), ERR_INVALID,
            "invalid resolution mode: \"VIP\"");
    refused(S(",\"Mode\":{\"Global\":{},\"Replicated\":{\"Replicas\":2}}"), ERR_INVALID,
            "must specify only one service mode");
}

TEST(spec_service_validate_swarmkit)
{
    refused("{\"Name\":\"rec-noimg\",\"TaskTemplate\":{\"ContainerSpec\":{}}}", ERR_INVALID,
            SK "ContainerSpec: image reference must be provided");
    refused("{\"Name\":\"bad name\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}}}",
            ERR_INVALID, SK "name must be valid as a DNS name component");
    refused("{\"Name\":\"web-\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}}}",
            ERR_INVALID, SK "name must be valid as a DNS name component");
    refused("{\"Name\":\"a234567890123456789012345678901234567890123456789012345678901234\","
            "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}}}",
            ERR_INVALID, SK "name must be 63 characters or fewer");
    refused(T(",\"Resources\":{\"Limits\":{\"NanoCPUs\":100}}"), ERR_INVALID,
            SK "invalid cpu value 1e-07: Must be at least 0.001");
    refused(T(",\"Resources\":{\"Reservations\":{\"MemoryBytes\":1024}}"), ERR_INVALID,
            SK "invalid memory value 1024: Must be at least 4MiB");
    refused(T(",\"RestartPolicy\":{\"Delay\":-1}"), ERR_INVALID,
            SK "TaskSpec: restart-delay cannot be negative");
    refused(T(",\"RestartPolicy\":{\"Window\":-1}"), ERR_INVALID,
            SK "TaskSpec: restart-window cannot be negative");
    /* swarmkit returns the constraint parser's error bare: gRPC Unknown, dockerd 500 */
    refused(T(",\"Placement\":{\"Constraints\":[\"node.role=manager\"]}"), ERR_INTERNAL,
            "rpc error: code = Unknown desc = constraint expected one operator from ==, !=");
    refused(C(",\"Secrets\":[{\"SecretID\":\"x\"}]"), ERR_INVALID, SK "malformed secret reference");
    refused(C(",\"Secrets\":[{\"SecretID\":\"x\",\"SecretName\":\"y\"}]"), ERR_INVALID,
            SK "malformed secret reference, no target provided");
    refused(C(",\"Secrets\":[{\"SecretID\":\"x\",\"SecretName\":\"y\",\"File\":{\"Name\":\"\"}}]"),
            ERR_INVALID, SK "malformed file secret reference, invalid target file name provided");
    refused(C(",\"Secrets\":[{\"SecretID\":\"x\",\"SecretName\":\"a\",\"File\":{\"Name\":\"f\"}},"
              "{\"SecretID\":\"y\",\"SecretName\":\"b\",\"File\":{\"Name\":\"f\"}}]"),
            ERR_INVALID, SK "secret references 'a' and 'b' have a conflicting target: 'f'");
    refused(C(",\"Configs\":[{\"ConfigID\":\"x\",\"ConfigName\":\"a\",\"File\":{\"Name\":\"f\"}},"
              "{\"ConfigID\":\"y\",\"ConfigName\":\"b\",\"File\":{\"Name\":\"f\"}}]"),
            ERR_INVALID, SK "config references 'a' and 'b' have a conflicting target: 'f'");
    refused(C(",\"Privileges\":{\"CredentialSpec\":{\"Config\":\"cfg\"}}"), ERR_INVALID,
            SK "CredentialSpec references config 'cfg', but that config isn't in config "
               "references with RuntimeTarget");
    refused("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"Busybox\"}}}", ERR_INVALID,
            SK "ContainerSpec: \"Busybox\" is not a valid repository/tag");
    refused("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:\"}}}", ERR_INVALID,
            SK "ContainerSpec: \"busybox:\" is not a valid repository/tag");
    refused("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a@sha256:abc\"}}}", ERR_INVALID,
            SK "ContainerSpec: \"a@sha256:abc\" is not a valid repository/tag");
    refused(C(",\"Mounts\":[{\"Target\":\"/a\"},{\"Type\":\"volume\",\"Target\":\"/a\"}]"),
            ERR_INVALID, SK "ContainerSpec: duplicate mount point: /a");
    refused(C(",\"Healthcheck\":{\"Interval\":-5}"), ERR_INVALID,
            SK "ContainerSpec: Interval in HealthConfig cannot be less than 1ms");
    refused(C(",\"Healthcheck\":{\"Timeout\":999999}"), ERR_INVALID,
            SK "ContainerSpec: Timeout in HealthConfig cannot be less than 1ms");
    refused(C(",\"Healthcheck\":{\"StartPeriod\":1}"), ERR_INVALID,
            SK "ContainerSpec: StartPeriod in HealthConfig cannot be less than 1ms");
    refused(C(",\"Healthcheck\":{\"Retries\":-1}"), ERR_INVALID,
            SK "ContainerSpec: Retries in HealthConfig cannot be negative");
    refused(S(",\"Mode\":{\"Replicated\":{\"Replicas\":18446744073709551615}}"), ERR_INVALID,
            SK "Number of replicas must be non-negative");
    refused(S(",\"Mode\":{\"ReplicatedJob\":{\"MaxConcurrent\":9223372036854775808}}"), ERR_INVALID,
            SK "Maximum concurrent jobs must not be negative");
    refused(S(",\"Mode\":{\"ReplicatedJob\":{\"TotalCompletions\":9223372036854775808}}"),
            ERR_INVALID, SK "Total completed jobs must not be negative");
    refused(S(",\"Mode\":{\"GlobalJob\":{}},\"UpdateConfig\":{}"), ERR_INVALID,
            SK "Jobs may not have an update config");
    refused(S(",\"UpdateConfig\":{\"Delay\":-1}"), ERR_INVALID,
            SK "TaskSpec: update-delay cannot be negative");
    refused(S(",\"UpdateConfig\":{\"Monitor\":-1}"), ERR_INVALID,
            SK "TaskSpec: update-monitor cannot be negative");
    refused(S(",\"UpdateConfig\":{\"MaxFailureRatio\":1.5}"), ERR_INVALID,
            SK "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1");
    refused(S(",\"EndpointSpec\":{\"Mode\":\"dnsrr\",\"Ports\":[{\"TargetPort\":80}]}"),
            ERR_INVALID,
            SK "EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    refused(S(",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":8080},{"
              "\"Protocol\":\"TCP\",\"TargetPort\":81,\"PublishedPort\":8080}]}"),
            ERR_INVALID, SK "EndpointSpec: duplicate published ports provided");
}

TEST(spec_service_validate_accepts)
{
    static const char *const ok[] = {
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}}",
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"localhost:5000/a/b_c__d-e.f:v1.2\"}}}",
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"Registry.Example.com/x/y\"}}}",
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:latest@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}}}",
        S(",\"EndpointSpec\":{\"Mode\":\"dnsrr\",\"Ports\":[{\"TargetPort\":80,\"PublishMode\":"
          "\"host\",\"PublishedPort\":80}]}"),
        S(",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":53},{\"Protocol\":"
          "\"udp\",\"TargetPort\":53,\"PublishedPort\":53},{\"TargetPort\":1},{\"TargetPort\":2}]"
          "}"),
        C(",\"Configs\":[{\"ConfigID\":\"c1\",\"ConfigName\":\"n\",\"Runtime\":{}}],\"Privileges\":"
          "{\"CredentialSpec\":{\"Config\":\"c1\"}}"),
        S(",\"Mode\":{\"Replicated\":{\"Replicas\":0}}"),
        "{\"Name\":\"my_svc-1\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"},"
        "\"Placement\":{\"Constraints\":[\"node.labels.zone == east\"]}}}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        struct spec_service *s = decode_ok(ok[i]);
        struct err e;
        if (spec_service_validate(s, &e))
            FAIL_AT("%s refused: %s", ok[i], e.msg);
        spec_service_free(s);
    }
}

TEST(spec_service_views)
{
    struct spec_service *s = decode_ok(
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"},\"Resources\":{\"Reservations\":"
        "{\"NanoCPUs\":500000000,\"MemoryBytes\":1073741824}},\"RestartPolicy\":{\"Condition\":"
        "\"on-failure\",\"MaxAttempts\":3,\"Window\":60000000000},\"Placement\":{\"Constraints\":["
        "\"node.role==worker\",\"node.labels.zone!=west\"],\"Preferences\":[{\"Spread\":{"
        "\"SpreadDescriptor\":\"node.labels.rack\"}}],\"MaxReplicas\":2,\"Platforms\":[{"
        "\"Architecture\":\"x86_64\",\"OS\":\"linux\"}]}},\"Mode\":{\"Replicated\":{\"Replicas\":"
        "5}},\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":8080,"
        "\"PublishMode\":\"host\"},{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":53,"
        "\"PublishMode\":\"host\"},{\"TargetPort\":443,\"PublishedPort\":443}]}}");
    struct spec_placement_view v;
    struct err e;
    ASSERT_EQ_INT(spec_placement_view(s, &v, &e), 0);
    ASSERT_EQ_INT(v.group.nano_cpus, 500000000);
    ASSERT_EQ_INT(v.group.memory_bytes, 1073741824);
    ASSERT_EQ_INT(v.group.nconstraints, 2);
    ASSERT_EQ_STR(v.group.constraints[1].key, "node.labels.zone");
    ASSERT_FALSE(v.group.constraints[1].equal);
    ASSERT_EQ_INT(v.group.nplatforms, 1);
    ASSERT_EQ_STR(v.group.platforms[0].arch, "x86_64");
    ASSERT_EQ_INT(v.group.nhost_ports, 2); /* the ingress port holds no host port */
    ASSERT_EQ_INT(v.group.host_ports[0].port, 8080);
    ASSERT_EQ_INT(v.group.host_ports[1].proto, SCHED_UDP);
    ASSERT_EQ_INT(v.group.max_replicas, 2);
    ASSERT_EQ_INT(v.group.nspread_prefs, 1);
    ASSERT_EQ_STR(v.group.spread_prefs[0], "node.labels.rack");
    spec_placement_view_release(&v);
    struct orch_restart r;
    spec_restart_view(s, &r);
    ASSERT_EQ_INT(r.condition, ORCH_RESTART_ON_FAILURE);
    ASSERT_EQ_INT(r.delay_ns, 5000000000LL);
    ASSERT_EQ_INT(r.max_attempts, 3);
    ASSERT_EQ_INT(r.window_ns, 60000000000LL);
    enum orch_mode m;
    uint64_t reps;
    spec_mode_view(s, &m, &reps);
    ASSERT_EQ_INT(m, ORCH_REPLICATED);
    ASSERT_EQ_INT(reps, 5);
    spec_service_free(s);
    s = decode_ok(
        "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Mode\":{\"Global\":{}}}");
    spec_restart_view(s, &r);
    ASSERT_EQ_INT(r.condition, ORCH_RESTART_ANY);
    spec_mode_view(s, &m, &reps);
    ASSERT_EQ_INT(m, ORCH_GLOBAL);
    ASSERT_EQ_INT(spec_placement_view(s, &v, &e), 0);
    ASSERT_EQ_INT(v.group.nconstraints + v.group.nhost_ports + v.group.nplatforms, 0);
    spec_placement_view_release(&v);
    spec_service_free(s);
}

TEST(spec_service_adjust_for_old_api_versions)
{
    const char *body = "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\",\"Sysctls\":{"
                       "\"net.core.somaxconn\":\"1024\"},\"CapabilityAdd\":[\"NET_ADMIN\"],"
                       "\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1,\"Hard\":2}]},\"Resources\":"
                       "{\"Limits\":{\"Pids\":10}},\"Placement\":{\"MaxReplicas\":2}},\"Mode\":{"
                       "\"ReplicatedJob\":{}}}";
    struct spec_service *s = decode_ok(body);
    spec_service_adjust_for_version(s, 1, 41);
    ASSERT_EQ_INT(s->task.container.sysctls.n, 1);
    ASSERT_EQ_INT(s->task.container.nulimits, 1);
    ASSERT_TRUE(s->mode.has_replicated_job);
    spec_service_adjust_for_version(s, 1, 40);
    ASSERT_EQ_INT(s->task.container.sysctls.n, 1);
    ASSERT_EQ_INT(s->task.container.cap_add.n + s->task.container.nulimits, 0);
    ASSERT_EQ_INT(s->task.resources.limits.pids, 0);
    ASSERT_FALSE(s->mode.has_replicated_job);
    ASSERT_EQ_INT(s->task.placement.max_replicas, 2);
    spec_service_adjust_for_version(s, 1, 39);
    ASSERT_EQ_INT(s->task.container.sysctls.n, 0);
    ASSERT_EQ_INT(s->task.placement.max_replicas, 0);
    /* with the job mode gone the service is replicated with 1 replica, as in dockerd */
    spec_service_defaults(s);
    ASSERT_TRUE(s->mode.has_replicated && s->mode.replicas == 1);
    spec_service_free(s);
}

static struct spec_service *stored(const char *js)
{
    struct spec_service *s = decode_ok(js);
    struct err e;
    if (spec_service_validate(s, &e))
        FAIL_AT("%s: %s", js, e.msg);
    spec_service_defaults(s);
    return s;
}

TEST(spec_service_update_checks)
{
    struct spec_service *cur = stored(
        "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Networks\":"
        "[{\"Target\":\"n1\"}]}");
    static const struct {
        const char *next;
        const char *msg;
    } cases[] = {
        {"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}},\"Networks\":"
         "[{\"Target\":\"n1\"}]}",
         NULL},
        {"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Networks\":"
         "[{\"Target\":\"n2\"}]}",
         "rpc error: code = Unimplemented desc = networks must be migrated to TaskSpec before "
         "being changed"},
        {"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"},\"Networks\":["
         "{\"Target\":\"n2\"}]}}",
         NULL},
        {"{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Networks\":"
         "[{\"Target\":\"n1\"}],\"Mode\":{\"Global\":{}}}",
         "rpc error: code = Unimplemented desc = service mode change is not allowed"},
        {"{\"Name\":\"web2\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Networks\":"
         "[{\"Target\":\"n1\"}]}",
         "rpc error: code = Unimplemented desc = renaming services is not supported"},
        {"{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Networks\":[{\"Target\":"
         "\"n1\"}]}",
         "rpc error: code = Unimplemented desc = renaming services is not supported"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct spec_service *next = stored(cases[i].next);
        struct err e;
        err_clear(&e);
        int rc = spec_service_check_update(cur, next, &e);
        if (!cases[i].msg && rc)
            FAIL_AT("%s refused: %s", cases[i].next, e.msg);
        if (cases[i].msg && (rc != -ERR_NOT_IMPLEMENTED || strcmp(e.msg, cases[i].msg)))
            FAIL_AT("%s: rc %d\n#   got  %s\n#   want %s", cases[i].next, rc, e.msg, cases[i].msg);
        spec_service_free(next);
    }
    spec_service_free(cur);
}

TEST(spec_service_insert_defaults_parts)
{
    /* swarmkit's InterpolateService fills per part: an empty Resources (no limits), no
     * EndpointSpec; a restart policy without Delay and an update config without Monitor
     * get theirs */
    assert_inspect("minimal insertDefaults",
                   "{\"Name\":\"m\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}}}",
                   "{\"Name\":\"m\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
                   "\"a\",\"StopGracePeriod\":10000000000,\"DNSConfig\":{},\"Isolation\":"
                   "\"default\"},\"Resources\":{},\"RestartPolicy\":{\"Condition\":\"any\","
                   "\"Delay\":5000000000,\"MaxAttempts\":0},\"Placement\":{},\"ForceUpdate\":0,"
                   "\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
                   "\"UpdateConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":"
                   "5000000000,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"RollbackConfig\":{"
                   "\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
                   "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"}}",
                   true);
    assert_inspect("partial insertDefaults",
                   "{\"Name\":\"p\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"},"
                   "\"RestartPolicy\":{\"Condition\":\"none\"}},\"UpdateConfig\":{\"Parallelism\":"
                   "0,\"Delay\":1}}",
                   "{\"Name\":\"p\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":"
                   "\"a\",\"StopGracePeriod\":10000000000,\"DNSConfig\":{},\"Isolation\":"
                   "\"default\"},\"Resources\":{},\"RestartPolicy\":{\"Condition\":\"none\","
                   "\"Delay\":5000000000,\"MaxAttempts\":0},\"Placement\":{},\"ForceUpdate\":0,"
                   "\"Runtime\":\"container\"},\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
                   "\"UpdateConfig\":{\"Parallelism\":0,\"Delay\":1,\"FailureAction\":\"pause\","
                   "\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},"
                   "\"RollbackConfig\":{\"Parallelism\":1,\"FailureAction\":\"pause\",\"Monitor\":"
                   "5000000000,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"}}",
                   true);
}

TEST(spec_container_task_checks)
{
    static const struct {
        const char *mounts, *msg;
    } cases[] = {
        {"[{\"Type\":\"bind\",\"Source\":\"/data\",\"Target\":\"/d\"},{\"Type\":\"volume\","
         "\"Source\":\"vol\",\"Target\":\"/v\"},{\"Type\":\"tmpfs\",\"Target\":\"/t\"}]",
         NULL},
        {"[{\"Source\":\"/data\",\"Target\":\"d\"}]",
         "invalid mount target, must be an absolute path: d"},
        {"[{\"Source\":\"data\",\"Target\":\"/d\"}]",
         "invalid bind mount source, must be an absolute path: data"},
        {"[{\"Type\":\"volume\",\"Source\":\"/data\",\"Target\":\"/d\"}]",
         "invalid volume mount source, must not be an absolute path: /data"},
        {"[{\"Type\":\"tmpfs\",\"Source\":\"x\",\"Target\":\"/d\"}]",
         "invalid tmpfs source, source must be empty"},
        {"[{\"Type\":\"npipe\",\"Target\":\"x\"}]",
         "invalid npipe source, source must not be empty"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *js =
            xasprintf("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\",\"Mounts\":%s}}}",
                      cases[i].mounts);
        struct spec_service *s = decode_ok(js);
        struct err e;
        err_clear(&e);
        ASSERT_EQ_INT(spec_service_validate(s, &e), 0);
        spec_service_defaults(s);
        int rc = spec_container_check_task(&s->task.container, &e);
        if (cases[i].msg ? (rc != -ERR_INVALID || strcmp(e.msg, cases[i].msg)) : rc != 0)
            FAIL_AT("%s: rc %d got %s", js, rc, e.msg);
        spec_service_free(s);
        free(js);
    }
}

TEST(spec_service_prepare_whole_way)
{
    struct spec_service *s = NULL;
    struct err e;
    const char *bad = "{\"Name\":\"rec-noimg\",\"TaskTemplate\":{\"ContainerSpec\":{}}}";
    ASSERT_EQ_INT(spec_service_prepare(bad, strlen(bad), 1, 41, &s, &e), -ERR_INVALID);
    ASSERT_TRUE(s == NULL);
    ASSERT_EQ_STR(e.msg, SK "ContainerSpec: image reference must be provided");
    /* a job mode from a 1.40 client is stripped, and the service becomes replicated */
    const char *job = "{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a\"}},\"Mode\":{"
                      "\"GlobalJob\":{}},\"UpdateConfig\":{}}";
    ASSERT_EQ_INT(spec_service_prepare(job, strlen(job), 1, 40, &s, &e), 0);
    ASSERT_TRUE(s->mode.has_replicated && !s->mode.has_global_job);
    spec_service_free(s);
    ASSERT_EQ_INT(spec_service_prepare(job, strlen(job), 1, 41, &s, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, SK "Jobs may not have an update config");
    ASSERT_EQ_INT(spec_service_prepare("{x", 2, 1, 41, &s, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "invalid character 'x' looking for beginning of object key string");
}
