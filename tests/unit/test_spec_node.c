/* test_spec_node.c — the node spec and cluster spec converters (src/spec/spec_node.c): only
 * the known fields survive (a stray "version" or "ID" in the body is dropped, so the next
 * read-modify-write of a client library works), dockerd's Role/Availability words, the
 * cluster checks in swarmkit's order and words, the defaults, and what GET /swarm and
 * GET /nodes show, compared with the recorded dockerd 20.10 bodies. Pure: no I/O. */
#include "harness.h"
#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

static void assert_json(json_t *got, const char *want)
{
    json_t *exp = json_loads(want, 0, NULL);
    ASSERT_TRUE(exp != NULL);
    char *g = json_dumps(got, JSON_COMPACT);
    char *w = json_dumps(exp, JSON_COMPACT);
    if (!json_equal(got, exp) || strcmp(g, w)) /* equal, and in Go's key order */
        FAIL_AT("\n#   got  %s\n#   want %s", g, w);
    free(g);
    free(w);
    json_decref(exp);
    json_decref(got);
}

TEST(spec_node_drops_unknown_fields)
{
    /* the client library: it sends the object's version inside the spec body */
    const char *body = "{\"Version\":{\"Index\":42},\"version\":42,\"ID\":\"abc\",\"Name\":\"n1\","
                       "\"Labels\":{\"zone\":\"a\",\"env\":\"test\"},\"role\":\"Manager\","
                       "\"Availability\":\"DRAIN\",\"CreatedAt\":\"2026-01-01T00:00:00Z\"}";
    struct spec_node n;
    struct err e;
    ASSERT_EQ_INT(spec_node_decode(body, strlen(body), &n, &e), 0);
    ASSERT_EQ_INT(spec_node_validate(&n, &e), 0);
    assert_json(spec_node_encode(&n), "{\"Name\":\"n1\",\"Labels\":{\"env\":\"test\",\"zone\":"
                                      "\"a\"},\"Role\":\"manager\",\"Availability\":\"drain\"}");
    spec_node_release(&n);
    /* cli-20/node-update-label-add: the CLI's body, and the spec GET /nodes shows after */
    body = "{\"Labels\":{\"env\":\"test\",\"zone\":\"a\"},\"Role\":\"manager\",\"Availability\":"
           "\"active\"}";
    ASSERT_EQ_INT(spec_node_decode(body, strlen(body), &n, &e), 0);
    ASSERT_EQ_INT(spec_node_validate(&n, &e), 0);
    assert_json(spec_node_encode(&n), body);
    spec_node_release(&n);
    /* Labels is always an object */
    json_t *j = json_pack("{s:s, s:s}", "Role", "worker", "Availability", "pause");
    ASSERT_EQ_INT(spec_node_decode_json(j, &n, &e), 0);
    json_decref(j);
    ASSERT_EQ_INT(spec_node_validate(&n, &e), 0);
    assert_json(spec_node_encode(&n), "{\"Labels\":{},\"Role\":\"worker\",\"Availability\":"
                                      "\"pause\"}");
    spec_node_release(&n);
}

static void node_refused(const char *body, const char *msg)
{
    struct spec_node n;
    struct err e;
    err_clear(&e);
    int rc = spec_node_decode(body, strlen(body), &n, &e);
    if (!rc) {
        rc = spec_node_validate(&n, &e);
        spec_node_release(&n);
    }
    if (rc != -ERR_INVALID || strcmp(e.msg, msg))
        FAIL_AT("%s: rc %d\n#   got  %s\n#   want %s", body, rc, e.msg, msg);
}

TEST(spec_node_refusals)
{
    node_refused("{\"Role\":\"manager\",\"Availability\":\"bogus\"}",
                 "invalid Availability: \"bogus\"");
    node_refused("{\"Role\":\"boss\",\"Availability\":\"active\"}", "invalid Role: \"boss\"");
    node_refused("{\"Availability\":\"active\"}", "invalid Role: \"\"");
    node_refused(
        "{\"Labels\":{\"a\":1},\"Role\":7,\"Availability\":[]}",
        "json: cannot unmarshal number into Go struct field NodeSpec.Labels of type string");
    node_refused("{\"Role\":7}",
                 "json: cannot unmarshal number into Go struct field NodeSpec.Role of type "
                 "swarm.NodeRole");
    node_refused("{\"Name\":true}",
                 "json: cannot unmarshal bool into Go struct field NodeSpec.Name of type string");
    node_refused("[]", "json: cannot unmarshal array into Go value of type swarm.NodeSpec");
}

/* cli-20/swarm-update-cert-expiry: the CLI's body */
static const char *swarm_body =
    "{\"Name\":\"default\",\"Labels\":{},\"Orchestration\":{\"TaskHistoryRetentionLimit\":3},"
    "\"Raft\":{\"SnapshotInterval\":10000,\"KeepOldSnapshots\":0,\"LogEntriesForSlowFollowers\":"
    "500,\"ElectionTick\":10,\"HeartbeatTick\":1},\"Dispatcher\":{\"HeartbeatPeriod\":5000000000},"
    "\"CAConfig\":{\"NodeCertExpiry\":2592000000000000},\"TaskDefaults\":{},\"EncryptionConfig\":"
    "{\"AutoLockManagers\":false}}";

TEST(spec_swarm_roundtrip_and_defaults)
{
    struct spec_swarm s;
    struct err e;
    ASSERT_EQ_INT(spec_swarm_decode(swarm_body, strlen(swarm_body), &s, &e), 0);
    ASSERT_EQ_INT(spec_swarm_validate(&s, &e), 0);
    spec_swarm_defaults(&s);
    assert_json(spec_swarm_encode(&s), swarm_body);
    spec_swarm_release(&s);
    /* an empty spec gets swarmkit's values, as GET /swarm shows a new cluster (cli-20
     * swarm-update-autolock-on, before the update); unknown keys are dropped and the
     * write-only signing key is never shown */
    const char *b = "{\"version\":7,\"CAConfig\":{\"SigningCAKey\":\"secret\",\"ForceRotate\":2}}";
    ASSERT_EQ_INT(spec_swarm_decode(b, strlen(b), &s, &e), 0);
    ASSERT_EQ_INT(spec_swarm_validate(&s, &e), 0);
    spec_swarm_defaults(&s);
    ASSERT_EQ_STR(s.ca.signing_ca_key, "secret");
    assert_json(spec_swarm_encode(&s),
                "{\"Name\":\"default\",\"Labels\":{},\"Orchestration\":{"
                "\"TaskHistoryRetentionLimit\":5},\"Raft\":{\"SnapshotInterval\":10000,"
                "\"KeepOldSnapshots\":0,\"LogEntriesForSlowFollowers\":500,\"ElectionTick\":10,"
                "\"HeartbeatTick\":1},\"Dispatcher\":{\"HeartbeatPeriod\":5000000000},"
                "\"CAConfig\":{\"NodeCertExpiry\":7776000000000000,\"ForceRotate\":2},"
                "\"TaskDefaults\":{},\"EncryptionConfig\":{\"AutoLockManagers\":false}}");
    spec_swarm_release(&s);
}

static void swarm_refused(const char *body, const char *msg)
{
    struct spec_swarm s;
    struct err e;
    err_clear(&e);
    int rc = spec_swarm_decode(body, strlen(body), &s, &e);
    if (!rc) {
        rc = spec_swarm_validate(&s, &e);
        spec_swarm_release(&s);
    }
    if (rc != -ERR_INVALID || strcmp(e.msg, msg))
        FAIL_AT("%s: rc %d\n#   got  %s\n#   want %s", body, rc, e.msg, msg);
}

TEST(spec_swarm_refusals)
{
    swarm_refused("{\"CAConfig\":{\"NodeCertExpiry\":1000000000}}",
                  "rpc error: code = InvalidArgument desc = minimum certificate expiry time is: "
                  "1h0m0s");
    swarm_refused("{\"Dispatcher\":{\"HeartbeatPeriod\":-5000000000}}",
                  "rpc error: code = InvalidArgument desc = heartbeat time period cannot be a "
                  "negative duration");
    swarm_refused("{\"CAConfig\":{\"ExternalCAs\":[{\"Protocol\":\"acme\"}]}}",
                  "invalid protocol: \"acme\"");
    swarm_refused("{\"Raft\":{\"SnapshotInterval\":-1}}",
                  "json: cannot unmarshal number -1 into Go struct field "
                  "RaftConfig.Raft.SnapshotInterval of type uint64");
    swarm_refused("{\"Raft\":{\"ElectionTick\":\"10\"}}",
                  "json: cannot unmarshal string into Go struct field RaftConfig.Raft.ElectionTick "
                  "of type int");
    swarm_refused("{\"Orchestration\":{\"TaskHistoryRetentionLimit\":\"5\"}}",
                  "json: cannot unmarshal string into Go struct field "
                  "OrchestrationConfig.Orchestration.TaskHistoryRetentionLimit of type int64");
    swarm_refused("{\"Orchestration\":5}", "json: cannot unmarshal number into Go struct field "
                                           "Spec.Orchestration of type swarm.OrchestrationConfig");
    swarm_refused("{\"Labels\":{\"a\":true}}",
                  "json: cannot unmarshal bool into Go struct field Spec.Labels of type string");
    swarm_refused("{\"Dispatcher\":{\"HeartbeatPeriod\":\"5s\"}}",
                  "json: cannot unmarshal string into Go struct field "
                  "DispatcherConfig.Dispatcher.HeartbeatPeriod of type time.Duration");
    swarm_refused("{\"EncryptionConfig\":{\"AutoLockManagers\":\"yes\"}}",
                  "json: cannot unmarshal string into Go struct field "
                  "EncryptionConfig.EncryptionConfig.AutoLockManagers of type bool");
    swarm_refused("\"x\"", "json: cannot unmarshal string into Go value of type swarm.Spec");
}

static void init_refused(const char *body, const char *msg)
{
    struct spec_swarm_init r = {0};
    struct err e;
    err_clear(&e);
    int rc = spec_decode(&spec_type_swarm_init, body, strlen(body), &r, &e);
    spec_release(&spec_type_swarm_init, &r);
    if (rc != -ERR_INVALID || strcmp(e.msg, msg))
        FAIL_AT("%s: rc %d\n#   got  %s\n#   want %s", body, rc, e.msg, msg);
}

TEST(spec_swarm_requests)
{
    /* the words tests/integration/swarm_init.sh expects today */
    init_refused("{\"ListenAddr\":5}", "json: cannot unmarshal number into Go struct field "
                                       "InitRequest.ListenAddr of type string");
    init_refused("{\"AutoLockManagers\":\"yes\"}",
                 "json: cannot unmarshal string into Go struct "
                 "field InitRequest.AutoLockManagers of type bool");
    init_refused("{\"DataPathPort\":-1}", "json: cannot unmarshal number -1 into Go struct field "
                                          "InitRequest.DataPathPort of type uint32");
    init_refused("{\"Spec\":{\"Raft\":{\"SnapshotInterval\":-1}}}",
                 "json: cannot unmarshal number -1 into Go struct field "
                 "RaftConfig.Spec.Raft.SnapshotInterval of type uint64");
    init_refused("{\"DefaultAddrPool\":\"10.0.0.0/8\"}",
                 "json: cannot unmarshal string into Go struct field InitRequest.DefaultAddrPool "
                 "of type []string");
    init_refused("[]", "json: cannot unmarshal array into Go value of type swarm.InitRequest");
    const char *body =
        "{\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":\"127.0.0.1\","
        "\"ForceNewCluster\":false,\"Spec\":{\"Orchestration\":{},\"Raft\":{"
        "\"ElectionTick\":10},\"Dispatcher\":{},\"CAConfig\":{},\"EncryptionConfig\":"
        "{\"AutoLockManagers\":true}},\"AutoLockManagers\":true,\"Availability\":"
        "\"active\",\"DefaultAddrPool\":[\"10.10.0.0/16\"],\"SubnetSize\":26}";
    struct spec_swarm_init r = {0};
    struct err e;
    ASSERT_EQ_INT(spec_decode(&spec_type_swarm_init, body, strlen(body), &r, &e), 0);
    ASSERT_EQ_STR(r.advertise_addr, "127.0.0.1");
    ASSERT_TRUE(r.autolock && r.spec.autolock);
    ASSERT_EQ_INT(r.spec.raft.election_tick, 10);
    ASSERT_EQ_INT(r.default_addr_pool.n, 1);
    ASSERT_EQ_INT(r.subnet_size, 26);
    spec_release(&spec_type_swarm_init, &r);
    struct spec_swarm_join j = {0};
    body = "{\"RemoteAddrs\":[\"10.0.0.1:2377\"],\"JoinToken\":\"SWMTKN-1-x\",\"Extra\":1}";
    ASSERT_EQ_INT(spec_decode(&spec_type_swarm_join, body, strlen(body), &j, &e), 0);
    ASSERT_EQ_STR(j.remote_addrs.v[0], "10.0.0.1:2377");
    ASSERT_EQ_STR(j.join_token, "SWMTKN-1-x");
    spec_release(&spec_type_swarm_join, &j);
    struct spec_swarm_unlock u = {0};
    body = "{\"UnlockKey\":9}";
    ASSERT_EQ_INT(spec_decode(&spec_type_swarm_unlock, body, strlen(body), &u, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "json: cannot unmarshal number into Go struct field "
                         "UnlockRequest.UnlockKey of type string");
    spec_release(&spec_type_swarm_unlock, &u);
}
