/* test_msg.c — the node-to-node messages (src/msg): every kind decodes what shoal sends
 * today and encodes it back byte for byte (mixed versions in one swarm keep talking), and
 * every refusal names the message and the field. */
#include "harness.h"
#include "msg/msg.h"

#define NID "abcdefghijklmnopqrstuvwxy" /* 25 base36 characters */
#define CID "0123456789abcdefghijklmno"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* decode(text) → encode → dump == text; and the refusals: the error of decode(text). */
#define CODEC(kind)                                                                                \
    static char *rt_##kind(const char *text)                                                       \
    {                                                                                              \
        struct err e;                                                                              \
        struct msg_##kind m;                                                                       \
        json_t *j = msg_load(text, strlen(text), #kind, &e);                                       \
        if (!j)                                                                                    \
            FAIL_AT("%s: %s", text, e.msg);                                                        \
        if (msg_##kind##_decode(j, &m, &e) < 0)                                                    \
            FAIL_AT("%s: %s", text, e.msg);                                                        \
        json_decref(j);                                                                            \
        json_t *o = msg_##kind##_encode(&m);                                                       \
        char *s = msg_dump(o);                                                                     \
        json_decref(o);                                                                            \
        msg_##kind##_release(&m);                                                                  \
        return s;                                                                                  \
    }                                                                                              \
    static const char *err_##kind(const char *text)                                                \
    {                                                                                              \
        static struct err e;                                                                       \
        struct msg_##kind m;                                                                       \
        json_t *j = msg_load(text, strlen(text), #kind, &e);                                       \
        if (!j)                                                                                    \
            return e.msg;                                                                          \
        int rc = msg_##kind##_decode(j, &m, &e);                                                   \
        json_decref(j);                                                                            \
        if (rc == 0) {                                                                             \
            msg_##kind##_release(&m);                                                              \
            return "(ok)";                                                                         \
        }                                                                                          \
        ASSERT_NULL(m.doc);                                                                        \
        return e.msg;                                                                              \
    }
CODEC(join_req)
CODEC(join_resp)
CODEC(heartbeat_req)
CODEC(heartbeat_resp)
CODEC(csr_req)
CODEC(cert_resp)
CODEC(ca_resp)
CODEC(assign_req)
CODEC(assign_resp)
CODEC(status_batch)
CODEC(logs_sub_req)

#define ROUND_TRIP(kind, text)                                                                     \
    do {                                                                                           \
        char *s_ = rt_##kind(text);                                                                \
        ASSERT_EQ_STR(s_, text);                                                                   \
        free(s_);                                                                                  \
    } while (0)

TEST(msg_round_trips_byte_for_byte)
{
    /* node_join.c */
    ROUND_TRIP(join_req,
               "{\"Token\":\"SWMTKN-1-x\",\"CSR\":\"csr\",\"Addr\":\"10.0.0.2\",\"Availability\":"
               "\"active\",\"Description\":{\"Hostname\":\"h\",\"Platform\":{\"Architecture\":"
               "\"x86_64\",\"OS\":\"linux\"},\"Resources\":{\"NanoCPUs\":4000000000,"
               "\"MemoryBytes\":8589934592},\"Engine\":{\"EngineVersion\":\"0.1.0\",\"Labels\":"
               "{\"zone\":\"a\"}}},\"AdvertisePort\":2377,\"EtcdPeerPort\":2380}");
    /* a bare client (tests/integration/peer_rpc.sh) */
    ROUND_TRIP(join_req, "{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\",\"Description\":{}}");
    /* the leader's answers: a worker, then a manager (after its etcd member is added) */
    ROUND_TRIP(join_resp, "{\"NodeID\":\"" NID "\",\"ClusterID\":\"" CID "\",\"Role\":\"worker\","
                          "\"Cert\":\"c\",\"Managers\":[\"10.0.0.1:2377\"],\"HeartbeatPeriod\":"
                          "5000,\"TrustBundle\":\"b\"}");
    ROUND_TRIP(join_resp,
               "{\"NodeID\":\"" NID "\",\"ClusterID\":\"" CID "\",\"Role\":\"manager\",\"Cert\":"
               "\"c\",\"Managers\":[\"10.0.0.1:2377\",\"[fd00::1]:2377\"],\"HeartbeatPeriod\":"
               "5000,\"TrustBundle\":\"b\",\"InitialCluster\":\"a=https://10.0.0.1:2380\","
               "\"UnlockKey\":\"\",\"DEK\":\"ZGVr\",\"EtcdCA\":{\"Cert\":\"c\",\"Key\":\"k\"}}");
    ROUND_TRIP(heartbeat_req, "{}");
    ROUND_TRIP(heartbeat_req, "{\"TLSInfo\":{\"TrustRoot\":\"r\",\"CertIssuerSubject\":\"s\","
                              "\"CertIssuerPublicKey\":\"p\"}}");
    ROUND_TRIP(heartbeat_resp, "{\"HeartbeatPeriod\":5000,\"Managers\":[\"10.0.0.1:2377\"],"
                               "\"Role\":\"worker\",\"TrustBundle\":\"b\",\"SigningRoot\":\"s\"}");
    ROUND_TRIP(heartbeat_resp,
               "{\"message\":\"this manager is not the leader\",\"Leader\":\"10.0.0.1:2377\"}");
    ROUND_TRIP(heartbeat_resp, "{\"message\":\"this manager is not the leader\",\"Leader\":\"\"}");
    ROUND_TRIP(csr_req, "{\"CSR\":\"c\"}");
    ROUND_TRIP(csr_req, "{\"CSR\":\"c\",\"AdvertisePort\":2377,\"EtcdPeerPort\":2380}");
    ROUND_TRIP(cert_resp, "{\"Cert\":\"c\"}");
    ROUND_TRIP(ca_resp, "{\"RootCA\":\"r\"}");
    /* agent_session.c and disp_server.c */
    ROUND_TRIP(assign_req, "{\"Session\":\"" NID "\",\"Ack\":3}");
    ROUND_TRIP(assign_resp, "{\"Seq\":0,\"Full\":false,\"Changes\":[]}");
    ROUND_TRIP(assign_resp,
               "{\"Seq\":4,\"Full\":true,\"Changes\":[{\"Task\":{\"ID\":\"" NID "\",\"NodeID\":"
               "\"n\",\"DesiredState\":\"running\",\"Spec\":{\"ContainerSpec\":{\"Image\":\"b\"}},"
               "\"Status\":{\"State\":\"assigned\"}},\"ServiceName\":\"web\"},{\"Removed\":\"" CID
               "\"}]}");
    ROUND_TRIP(status_batch,
               "{\"Updates\":[{\"TaskID\":\"" NID "\",\"Status\":{\"Timestamp\":"
               "\"2026-01-02T03:04:05.5Z\",\"State\":\"running\",\"Message\":\"started\","
               "\"ContainerStatus\":{\"ContainerID\":\"" HEX64 "\",\"PID\":42,\"ExitCode\":0},"
               "\"PortStatus\":{}}},{\"TaskID\":\"" CID "\",\"Status\":{\"Timestamp\":"
               "\"2026-01-02T03:04:05Z\",\"State\":\"failed\",\"Message\":\"started\",\"Err\":"
               "\"task: non-zero exit (1)\",\"PortStatus\":{\"Ports\":[{\"Protocol\":\"tcp\","
               "\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"host\"}]}}}]}");
}

TEST(msg_decoded_fields)
{
    struct err e;
    const char *text = "{\"Seq\":7,\"Full\":true,\"Changes\":[{\"Task\":{\"ID\":\"t1\","
                       "\"DesiredState\":\"shutdown\",\"Status\":{\"State\":\"running\"}}},"
                       "{\"Removed\":\"t2\"}]}";
    json_t *j = msg_load(text, strlen(text), "x", &e);
    struct msg_assign_resp a;
    ASSERT_EQ_INT(msg_assign_resp_decode(j, &a, &e), 0);
    json_decref(j); /* the structure holds its own reference */
    ASSERT_EQ_INT(a.seq, 7);
    ASSERT_TRUE(a.full);
    ASSERT_EQ_INT(a.n_changes, 2);
    ASSERT_EQ_STR(a.changes[0].task_id, "t1");
    ASSERT_EQ_STR(a.changes[0].service_name, "");
    ASSERT_EQ_INT(a.changes[0].desired, TASK_SHUTDOWN);
    ASSERT_EQ_INT(a.changes[0].observed, TASK_RUNNING);
    ASSERT_NULL(a.changes[0].removed);
    ASSERT_EQ_STR(a.changes[1].removed, "t2");
    ASSERT_NULL(a.changes[1].task);
    msg_assign_resp_release(&a);
    ASSERT_NULL(a.changes);

    text = "{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"10.0.0.2\",\"Availability\":\"\","
           "\"Description\":{\"Hostname\":\"h\",\"X\":1}}";
    j = msg_load(text, strlen(text), "x", &e);
    struct msg_join_req r;
    ASSERT_EQ_INT(msg_join_req_decode(j, &r, &e), 0);
    ASSERT_NULL(r.availability); /* "" is the default */
    ASSERT_EQ_INT(r.advertise_port, 0);
    json_t *d = msg_node_desc_encode(&r.desc);
    char *s = msg_dump(d);
    ASSERT_EQ_STR(s, "{\"Hostname\":\"h\"}"); /* what the leader stores: known fields only */
    free(s);
    json_decref(d);
    msg_join_req_release(&r);
    json_decref(j);

    text = "{\"Session\":\"s\"}";
    j = msg_load(text, strlen(text), "x", &e);
    struct msg_assign_req q;
    ASSERT_EQ_INT(msg_assign_req_decode(j, &q, &e), 0);
    ASSERT_FALSE(q.has_ack);
    msg_assign_req_release(&q);
    json_decref(j);

    ASSERT_TRUE(msg_addr_valid("10.0.0.1:2377"));
    ASSERT_TRUE(msg_addr_valid("[::1]:1"));
    ASSERT_FALSE(msg_addr_valid("10.0.0.1"));
    ASSERT_FALSE(msg_addr_valid("10.0.0.1:0"));
    ASSERT_FALSE(msg_addr_valid("10.0.0.1:65536"));
    ASSERT_FALSE(msg_addr_valid("10.0.0.1:+80"));
    ASSERT_FALSE(msg_addr_valid("::1:2377"));
    ASSERT_FALSE(msg_addr_valid("[::1]"));
    ASSERT_FALSE(msg_addr_valid("evil.example/x?:80"));
}

TEST(msg_refusals_node)
{
    ASSERT_EQ_STR(err_join_req("{"), "malformed join_req: string or '}' expected near end of file");
    ASSERT_EQ_STR(err_join_req("[]"), "malformed join_req: not a JSON object");
    ASSERT_EQ_STR(err_join_req("{\"CSR\":\"c\",\"CSR\":\"d\"}"),
                  "malformed join_req: duplicate object key near '\"CSR\"'");
    ASSERT_EQ_STR(err_join_req("{\"CSR\":\"c\"}"), "malformed join request: Token is missing");
    ASSERT_EQ_STR(err_join_req("{\"Token\":1,\"CSR\":\"c\",\"Addr\":\"::1\",\"Description\":{}}"),
                  "malformed join request: Token has the wrong type");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"x/y\","
                               "\"Description\":{}}"),
                  "malformed join request: Addr is not an IP address");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\"}"),
                  "malformed join request: Description is missing");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Description\":[]}"),
                  "malformed join request: Description has the wrong type");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Description\":{},\"AdvertisePort\":70000}"),
                  "malformed join request: AdvertisePort is out of range");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Description\":{},\"EtcdPeerPort\":\"2380\"}"),
                  "malformed join request: EtcdPeerPort has the wrong type");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Availability\":\"gone\",\"Description\":{}}"),
                  "malformed join request: invalid Availability gone");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Description\":{\"Resources\":{\"NanoCPUs\":-1}}}"),
                  "malformed join request Description: NanoCPUs is out of range");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Description\":{\"Engine\":{\"Labels\":{\"a\":1}}}}"),
                  "malformed join request Description: engine label a");
    ASSERT_EQ_STR(err_join_req("{\"Token\":\"t\",\"CSR\":\"c\",\"Addr\":\"::1\","
                               "\"Description\":{\"Platform\":{\"OS\":7}}}"),
                  "malformed join request Description: OS has the wrong type");
    /* a 300-byte token */
    char big[400];
    snprintf(big, sizeof(big),
             "{\"Token\":\"%0300d\",\"CSR\":\"c\",\"Addr\":\"::1\",\"Description\":{}}", 0);
    ASSERT_EQ_STR(err_join_req(big), "malformed join request: Token is longer than 256 bytes");

    ASSERT_EQ_STR(err_join_resp("{\"NodeID\":\"x\",\"ClusterID\":\"y\",\"Role\":\"worker\","
                                "\"Cert\":\"c\"}"),
                  "malformed join answer: bad identity");
    ASSERT_EQ_STR(err_join_resp("{\"NodeID\":\"" NID "\",\"ClusterID\":\"" CID "\",\"Role\":"
                                "\"admin\",\"Cert\":\"c\"}"),
                  "malformed join answer: Role must be manager or worker");
    ASSERT_EQ_STR(err_join_resp("{\"NodeID\":\"" NID "\",\"ClusterID\":\"" CID "\",\"Role\":"
                                "\"worker\"}"),
                  "malformed join answer: Cert is missing");
    ASSERT_EQ_STR(err_join_resp("{\"NodeID\":\"" NID "\",\"ClusterID\":\"" CID "\",\"Role\":"
                                "\"worker\",\"Cert\":\"c\",\"EtcdCA\":{\"Cert\":\"c\"}}"),
                  "malformed join answer EtcdCA: Key is missing");
    ASSERT_EQ_STR(err_join_resp("{\"NodeID\":\"" NID "\",\"ClusterID\":\"" CID "\",\"Role\":"
                                "\"worker\",\"Cert\":\"c\",\"HeartbeatPeriod\":-1}"),
                  "malformed join answer: HeartbeatPeriod is out of range");

    ASSERT_EQ_STR(err_heartbeat_req("{\"TLSInfo\":{\"TrustRoot\":\"r\",\"X\":[1]}}"),
                  "malformed heartbeat TLSInfo: unknown field X");
    ASSERT_EQ_STR(err_heartbeat_req("{\"TLSInfo\":{\"TrustRoot\":5}}"),
                  "malformed heartbeat TLSInfo: TrustRoot has the wrong type");
    ASSERT_EQ_STR(err_heartbeat_req("{\"TLSInfo\":\"r\"}"),
                  "malformed heartbeat: TLSInfo has the wrong type");
    ASSERT_EQ_STR(err_heartbeat_req("{\"TLSInfo\":null}"), "(ok)");

    /* a managers list with a number used to reach strcmp(NULL, ...) in follow_leader */
    ASSERT_EQ_STR(err_heartbeat_resp("{\"Managers\":[\"10.0.0.1:2377\",7]}"),
                  "malformed heartbeat answer: Managers has the wrong type");
    ASSERT_EQ_STR(err_heartbeat_resp("{\"Managers\":[\"10.0.0.1:2377/x\"]}"),
                  "malformed heartbeat answer: Managers[0] is not an IP:port address");
    ASSERT_EQ_STR(err_heartbeat_resp("{\"HeartbeatPeriod\":-5}"),
                  "malformed heartbeat answer: HeartbeatPeriod is out of range");
    ASSERT_EQ_STR(err_heartbeat_resp("{\"Leader\":\"evil.example:80\"}"),
                  "malformed heartbeat answer: Leader is not an IP:port address");
    ASSERT_EQ_STR(err_heartbeat_resp("{\"Role\":\"root\"}"),
                  "malformed heartbeat answer: Role must be manager or worker");
    ASSERT_EQ_STR(err_heartbeat_resp("{\"Role\":\"\"}"), "(ok)");
    char many[MSG_MAX_MANAGERS * 20 + 64];
    size_t off = (size_t)snprintf(many, sizeof(many), "{\"Managers\":[");
    for (int i = 0; i <= MSG_MAX_MANAGERS; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"10.0.0.1:%d\"", i ? "," : "",
                                i + 1);
    snprintf(many + off, sizeof(many) - off, "]}");
    ASSERT_EQ_STR(err_heartbeat_resp(many),
                  "malformed heartbeat answer: Managers has more than 128 addresses");

    ASSERT_EQ_STR(err_csr_req("{\"CSR\":\"c\",\"EtcdPeerPort\":0}"),
                  "malformed certificate request: EtcdPeerPort is out of range");
    ASSERT_EQ_STR(err_csr_req("{}"), "malformed certificate request: CSR is missing");
    ASSERT_EQ_STR(err_cert_resp("{\"Cert\":null}"),
                  "malformed certificate answer: Cert is missing");
    ASSERT_EQ_STR(err_ca_resp("{\"RootCA\":[]}"), "malformed CA answer: RootCA has the wrong type");
}

TEST(msg_refusals_tasks)
{
    ASSERT_EQ_STR(err_assign_req("{\"Ack\":-1}"),
                  "malformed assignments request: Ack is out of range");
    ASSERT_EQ_STR(err_assign_req("{\"Session\":1}"),
                  "malformed assignments request: Session has the wrong type");
    ASSERT_EQ_STR(err_assign_req("{\"Session\":\"" NID NID NID "\"}"),
                  "malformed assignments request: Session is longer than 64 bytes");

    ASSERT_EQ_STR(err_assign_resp("{\"Seq\":1}"),
                  "malformed assignments answer: Changes is missing");
    ASSERT_EQ_STR(err_assign_resp("{\"Full\":1,\"Changes\":[]}"),
                  "malformed assignments answer: Full has the wrong type");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{}]}"),
                  "malformed assignments answer change 0: needs one of Task and Removed");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Removed\":\"t\",\"Task\":{}}]}"),
                  "malformed assignments answer change 0: needs one of Task and Removed");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Removed\":\"../x\"}]}"),
                  "malformed assignments answer change 0: Removed is not a task ID");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"DesiredState\":\"running\"}}]}"),
                  "malformed assignments answer task 0: ID is missing");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"ID\":\"A\","
                                  "\"DesiredState\":\"running\"}}]}"),
                  "malformed assignments answer task 0: ID is not a task ID");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"ID\":\"t\"}}]}"),
                  "malformed assignments answer task 0: DesiredState is missing");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"ID\":\"t\","
                                  "\"DesiredState\":\"flying\"}}]}"),
                  "malformed assignments answer task 0: DesiredState: unknown task state flying");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"ID\":\"t\",\"DesiredState\":"
                                  "\"running\",\"Spec\":[]}}]}"),
                  "malformed assignments answer task 0: Spec has the wrong type");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"ID\":\"t\",\"DesiredState\":"
                                  "\"running\",\"Status\":{\"State\":1}}}]}"),
                  "malformed assignments answer task 0: State has the wrong type");
    ASSERT_EQ_STR(err_assign_resp("{\"Changes\":[{\"Task\":{\"ID\":\"t\",\"DesiredState\":"
                                  "\"running\"},\"ServiceName\":false}]}"),
                  "malformed assignments answer change 0: ServiceName has the wrong type");

#define UPD(status) "{\"Updates\":[{\"TaskID\":\"t\",\"Status\":{" status "}}]}"
#define TS "\"Timestamp\":\"2026-01-02T03:04:05Z\","
    ASSERT_EQ_STR(err_status_batch("{}"), "malformed status report: Updates is missing");
    ASSERT_EQ_STR(err_status_batch("{\"Updates\":[1]}"),
                  "malformed status report update 0: not a JSON object");
    ASSERT_EQ_STR(err_status_batch("{\"Updates\":[{\"Status\":{}}]}"),
                  "malformed status report update 0: TaskID is missing");
    ASSERT_EQ_STR(err_status_batch("{\"Updates\":[{\"TaskID\":\"t\"}]}"),
                  "malformed status report update 0: Status is missing");
    ASSERT_EQ_STR(err_status_batch("{\"Updates\":[{\"TaskID\":\"T!\",\"Status\":{" TS
                                   "\"State\":\"running\"}}]}"),
                  "malformed status report update 0: TaskID is not a task ID");
    ASSERT_EQ_STR(err_status_batch(UPD("\"State\":\"running\"")),
                  "malformed status report update 0: Timestamp is missing");
    ASSERT_EQ_STR(err_status_batch(UPD("\"Timestamp\":\"yesterday\",\"State\":\"running\"")),
                  "malformed status report update 0: Timestamp is not an RFC 3339 time");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"bored\"")),
                  "malformed status report update 0: State: unknown task state bored");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"Err\":7")),
                  "malformed status report update 0: Err has the wrong type");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"ContainerStatus\":"
                                          "{\"ContainerID\":\"xyz\"}")),
                  "malformed status report update 0: ContainerID is not a container ID");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"ContainerStatus\":"
                                          "{\"PID\":-4}")),
                  "malformed status report update 0: PID is out of range");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"ContainerStatus\":"
                                          "{\"ExitCode\":4294967296}")),
                  "malformed status report update 0: ExitCode is out of range");
    ASSERT_EQ_STR(
        err_status_batch(UPD(TS "\"State\":\"running\",\"PortStatus\":"
                                "{\"Ports\":[{\"TargetPort\":80,\"Protocol\":\"icmp\"}]}")),
        "malformed status report update 0: unknown Protocol icmp");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"PortStatus\":"
                                          "{\"Ports\":[{\"PublishMode\":\"all\"}]}")),
                  "malformed status report update 0: unknown PublishMode all");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"PortStatus\":"
                                          "{\"Ports\":[{\"PublishedPort\":65536}]}")),
                  "malformed status report update 0: PublishedPort is out of range");
    ASSERT_EQ_STR(err_status_batch(UPD(TS "\"State\":\"running\",\"PortStatus\":[]")),
                  "malformed status report update 0: PortStatus has the wrong type");
    /* a field the node has no business setting is not stored: re-encoded from the known */
    struct err e;
    const char *text = UPD(TS "\"State\":\"running\",\"Secret\":\"x\"");
    json_t *j = msg_load(text, strlen(text), "x", &e);
    struct msg_status_batch b;
    ASSERT_EQ_INT(msg_status_batch_decode(j, &b, &e), 0);
    json_t *st = msg_task_status_encode(&b.updates[0].status);
    char *s = msg_dump(st);
    ASSERT_EQ_STR(s, "{" TS "\"State\":\"running\",\"PortStatus\":{}}");
    free(s);
    json_decref(st);
    msg_status_batch_release(&b);
    json_decref(j);
}

TEST(msg_logs_subscription)
{
    /* what a follower sends, byte for byte */
    ROUND_TRIP(logs_sub_req,
               "{\"Follow\":true,\"Stdout\":true,\"Stderr\":false,\"Timestamps\":true,"
               "\"Details\":true,\"Tail\":3,\"Since\":0,\"Until\":0,\"ServiceID\":\"" NID "\"}");
    /* absent fields: no tail means all */
    char *s = rt_logs_sub_req("{\"TaskID\":\"" NID "\",\"Stdout\":true}");
    ASSERT_EQ_STR(s,
                  "{\"Follow\":false,\"Stdout\":true,\"Stderr\":false,\"Timestamps\":false,"
                  "\"Details\":false,\"Tail\":-1,\"Since\":0,\"Until\":0,\"TaskID\":\"" NID "\"}");
    free(s);
    ASSERT_EQ_STR(err_logs_sub_req("{\"Stdout\":true}"),
                  "malformed logs subscription: exactly one of ServiceID and TaskID is needed");
    ASSERT_EQ_STR(
        err_logs_sub_req("{\"Stdout\":true,\"ServiceID\":\"" NID "\",\"TaskID\":\"" NID "\"}"),
        "malformed logs subscription: exactly one of ServiceID and TaskID is needed");
    ASSERT_EQ_STR(err_logs_sub_req("{\"Stdout\":true,\"ServiceID\":\"../etc\"}"),
                  "malformed logs subscription: ServiceID is not an object ID");
    ASSERT_EQ_STR(err_logs_sub_req("{\"Stdout\":true,\"TaskID\":\"" NID "x\"}"),
                  "malformed logs subscription: TaskID is longer than 25 bytes");
    ASSERT_EQ_STR(err_logs_sub_req("{\"TaskID\":\"" NID "\"}"),
                  "malformed logs subscription: neither Stdout nor Stderr");
    ASSERT_EQ_STR(err_logs_sub_req("{\"Stdout\":true,\"TaskID\":\"t\",\"Tail\":-2}"),
                  "malformed logs subscription: Tail is out of range");
    ASSERT_EQ_STR(err_logs_sub_req("{\"Stdout\":true,\"TaskID\":\"t\",\"Since\":-1}"),
                  "malformed logs subscription: Since is out of range");
    ASSERT_EQ_STR(err_logs_sub_req("{\"Stdout\":1,\"TaskID\":\"t\"}"),
                  "malformed logs subscription: Stdout has the wrong type");
}
