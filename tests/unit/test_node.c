/* test_node.c — pure parts of the node module: when certificates renew. */
#include "harness.h"
#include "node/node_int.h"

TEST(node_cert_renew_window)
{
    int64_t nb = 1000, na = 1000 + 3600LL * 1000000000LL; /* one hour */
    int64_t life = na - nb;
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, 0.0), nb + life / 2);
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, 1.0), nb + life / 2 + life * 3 / 10);
    int64_t mid = node_cert_renew_at(nb, na, 0.5);
    ASSERT_TRUE(mid > nb + life / 2 && mid < nb + life * 8 / 10);
    /* out-of-range draws are clamped into the 50%..80% window */
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, -3.0), nb + life / 2);
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, 7.0), nb + life / 2 + life * 3 / 10);
}

static const char *spec_err(const char *s)
{
    static struct err e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    int rc = node_spec_check(j, &e);
    json_decref(j);
    return rc ? e.msg : "(ok)";
}

TEST(node_spec_check_as_docker)
{
    ASSERT_EQ_STR(spec_err("{\"CAConfig\":{\"ForceRotate\":-1}}"),
                  "json: cannot unmarshal number -1 into Go struct field "
                  "CAConfig.CAConfig.ForceRotate of type uint64");
    ASSERT_EQ_STR(spec_err("{\"Raft\":{\"SnapshotInterval\":-1}}"),
                  "json: cannot unmarshal number -1 into Go struct field "
                  "RaftConfig.Raft.SnapshotInterval of type uint64");
    ASSERT_EQ_STR(spec_err("{\"Orchestration\":{\"TaskHistoryRetentionLimit\":2.5}}"),
                  "json: cannot unmarshal number 2.5 into Go struct field "
                  "OrchestrationConfig.Orchestration.TaskHistoryRetentionLimit of type int64");
    ASSERT_EQ_STR(spec_err("{\"Raft\":\"x\"}"),
                  "json: cannot unmarshal string into Go struct field Spec.Raft of type "
                  "swarm.RaftConfig");
    ASSERT_EQ_STR(spec_err("{\"CAConfig\":[]}"),
                  "json: cannot unmarshal array into Go struct field Spec.CAConfig of type "
                  "swarm.CAConfig");
    ASSERT_EQ_STR(spec_err("{\"Dispatcher\":{\"HeartbeatPeriod\":1}}"),
                  "rpc error: code = InvalidArgument desc = heartbeat time period must be at "
                  "least 1s");
    ASSERT_EQ_STR(spec_err("{\"Dispatcher\":{\"HeartbeatPeriod\":-1}}"),
                  "rpc error: code = InvalidArgument desc = heartbeat time period cannot be a "
                  "negative duration");
    ASSERT_EQ_STR(spec_err("{\"CAConfig\":{\"NodeCertExpiry\":-5}}"),
                  "rpc error: code = InvalidArgument desc = minimum certificate expiry time is: "
                  "1h0m0s");
    ASSERT_TRUE(strstr(spec_err("{\"CAConfig\":{\"ExternalCAs\":[{\"Protocol\":\"cfssl\","
                                "\"URL\":\"https://ca\"}]}}"),
                       "does not support external CAs") != NULL);
    ASSERT_EQ_STR(spec_err("{\"CAConfig\":{\"ExternalCAs\":[]},\"Dispatcher\":"
                           "{\"HeartbeatPeriod\":1000000000},\"Orchestration\":"
                           "{\"TaskHistoryRetentionLimit\":-1}}"),
                  "(ok)");
    ASSERT_EQ_STR(spec_err("{\"Raft\":{\"ElectionTick\":1e3}}"),
                  "json: cannot unmarshal number 1e+03 into Go struct field "
                  "RaftConfig.Raft.ElectionTick of type int");
}

TEST(node_init_request_check_as_docker)
{
    struct err e;
    json_t *j = json_loads("{\"DataPathPort\":-1}", 0, NULL);
    ASSERT_EQ_INT(node_init_request_check(j, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "json: cannot unmarshal number -1 into Go struct field "
                         "InitRequest.DataPathPort of type uint32");
    json_decref(j);
    j = json_loads("{\"Spec\":{\"Raft\":{\"KeepOldSnapshots\":-2}}}", 0, NULL);
    ASSERT_EQ_INT(node_init_request_check(j, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "json: cannot unmarshal number -2 into Go struct field "
                         "RaftConfig.Spec.Raft.KeepOldSnapshots of type uint64");
    json_decref(j);
}

static const char *msg_err(enum node_msg_kind k, const char *s)
{
    static struct err e;
    json_t *j = node_msg_decode(k, s, strlen(s), &e);
    json_decref(j);
    return j ? "(ok)" : e.msg;
}

TEST(node_msg_shapes)
{
    ASSERT_EQ_STR(msg_err(NODE_MSG_JOIN_REQ, "{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"10.0.0.2\","
                                             "\"Description\":{},\"AdvertisePort\":2377}"),
                  "(ok)");
    ASSERT_EQ_STR(msg_err(NODE_MSG_JOIN_REQ, "{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"x/y\","
                                             "\"Description\":{}}"),
                  "malformed join request: Addr is not an IP address");
    ASSERT_EQ_STR(msg_err(NODE_MSG_JOIN_REQ, "{\"Token\":1,\"CSR\":\"c\",\"Addr\":\"::1\","
                                             "\"Description\":{}}"),
                  "malformed join request: Token has the wrong type");
    ASSERT_EQ_STR(msg_err(NODE_MSG_JOIN_REQ, "{\"CSR\":\"c\"}"),
                  "malformed join request: Token is missing");
    ASSERT_EQ_STR(msg_err(NODE_MSG_PROMOTE_REQ, "{\"CSR\":\"c\",\"EtcdPeerPort\":70000}"),
                  "malformed promotion request: port out of range");
    /* a managers list with a number used to reach strcmp(NULL, ...) in follow_leader */
    ASSERT_EQ_STR(msg_err(NODE_MSG_BEAT_ANSWER, "{\"Managers\":[\"10.0.0.1:2377\",7]}"),
                  "malformed heartbeat answer: Managers has the wrong type");
    ASSERT_EQ_STR(msg_err(NODE_MSG_BEAT_ANSWER, "{\"HeartbeatPeriod\":-5}"),
                  "malformed heartbeat answer: negative HeartbeatPeriod");
    /* the leader stores a worker's TLSInfo as sent: only its three strings */
    ASSERT_EQ_STR(msg_err(NODE_MSG_BEAT_REQ, "{\"TLSInfo\":{\"TrustRoot\":\"r\",\"X\":[1]}}"),
                  "malformed heartbeat TLSInfo: unknown field X");
    ASSERT_EQ_STR(msg_err(NODE_MSG_BEAT_REQ, "{\"TLSInfo\":{\"TrustRoot\":\"r\","
                                             "\"CertIssuerSubject\":\"s\","
                                             "\"CertIssuerPublicKey\":\"p\"}}"),
                  "(ok)");
    ASSERT_EQ_STR(msg_err(NODE_MSG_BEAT_REQ, "{}"), "(ok)");
    ASSERT_EQ_STR(msg_err(NODE_MSG_JOIN_ANSWER, "{\"NodeID\":\"x\",\"ClusterID\":\"y\","
                                                "\"Role\":\"worker\",\"Cert\":\"c\"}"),
                  "malformed join answer: bad identity");
    ASSERT_EQ_STR(msg_err(NODE_MSG_CERT_ANSWER, "[]"), "malformed certificate answer: not a JSON "
                                                       "object");
    ASSERT_TRUE(strncmp(msg_err(NODE_MSG_CA_ANSWER, "{"), "malformed CA answer: ", 21) == 0);
}

TEST(node_listen_addr_ports_as_go)
{
    char out[96];
    struct err e;
    ASSERT_EQ_INT(node_listen_addr("127.0.0.1:2377", out, sizeof(out), &e), 0);
    ASSERT_EQ_STR(out, "127.0.0.1:2377");
    /* strtol took a sign and leading blanks; Go's port parsing does not */
    ASSERT_EQ_INT(node_listen_addr("127.0.0.1: 2377", out, sizeof(out), &e), -ERR_INVALID);
    ASSERT_EQ_INT(node_listen_addr("127.0.0.1:+2377", out, sizeof(out), &e), -ERR_INVALID);
    ASSERT_EQ_INT(node_listen_addr("127.0.0.1:18446744073709551617", out, sizeof(out), &e),
                  -ERR_INVALID);
    ASSERT_EQ_INT(node_listen_addr("127.0.0.1:0", out, sizeof(out), &e), -ERR_INVALID);
}
