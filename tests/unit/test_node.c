/* test_node.c — pure parts of the node module: the swarm spec, init request and listen address
 * checks, as Docker words them. */
#include "harness.h"
#include "node/node_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
