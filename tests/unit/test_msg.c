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
        static const struct msg_##kind zero_;                                                      \
        ASSERT_TRUE(memcmp(&m, &zero_, sizeof(m)) == 0); /* a refusal changes nothing */           \
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
CODEC(logs_listen_req)
CODEC(logs_listen_resp)
CODEC(logs_publish)

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

/* "{<head>[<item>,<item>,...]<tail>}" with n items. */
static char *list_of(const char *head, const char *item, size_t n, const char *tail)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, head);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_adds(&b, ",");
        buf_adds(&b, item);
    }
    buf_adds(&b, tail);
    return buf_detach(&b, NULL);
}

TEST(msg_logs_broker_round_trips)
{
    /* agent_logs.c's listen, and logbroker.c's answers */
    ROUND_TRIP(logs_listen_req, "{\"Serving\":[]}");
    ROUND_TRIP(logs_listen_req, "{\"Serving\":[\"" NID "\",\"s2\"]}");
    ROUND_TRIP(logs_listen_resp, "{\"Subscriptions\":[],\"Closed\":[]}");
    ROUND_TRIP(logs_listen_resp,
               "{\"Subscriptions\":[{\"ID\":\"" NID "\",\"TaskIDs\":[\"" CID "\",\"t2\"],"
               "\"Follow\":true,\"Tail\":-1,\"Since\":1700000000000000000,\"Until\":0,"
               "\"Stdout\":true,\"Stderr\":false},{\"ID\":\"s2\",\"TaskIDs\":[],\"Follow\":false,"
               "\"Tail\":10,\"Since\":-5,\"Until\":1800000000000000000,\"Stdout\":false,"
               "\"Stderr\":true}],\"Closed\":[\"" CID "\"]}");
    /* absent options: no tail means all, no times mean none */
    char *s = rt_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"s2\",\"TaskIDs\":[\"t9\"],"
                                  "\"Follow\":true,\"Stdout\":true}],\"Closed\":[]}");
    ASSERT_EQ_STR(s, "{\"Subscriptions\":[{\"ID\":\"s2\",\"TaskIDs\":[\"t9\"],\"Follow\":true,"
                     "\"Tail\":-1,\"Since\":0,\"Until\":0,\"Stdout\":true,\"Stderr\":false}],"
                     "\"Closed\":[]}");
    free(s);
    /* agent_logs.c's publications */
    ROUND_TRIP(logs_publish,
               "{\"SubscriptionID\":\"" NID "\",\"Messages\":[{\"TaskID\":\"" CID "\",\"Stream\":1,"
               "\"Time\":1700000000000000001,\"Data\":\"YQo=\"},{\"TaskID\":\"t2\",\"Stream\":2,"
               "\"Time\":0,\"Data\":\"\"}],\"Close\":false}");
    ROUND_TRIP(logs_publish, "{\"SubscriptionID\":\"" NID "\",\"Messages\":[],\"Close\":true}");
    s = rt_logs_publish("{\"SubscriptionID\":\"" NID "\"}");
    ASSERT_EQ_STR(s, "{\"SubscriptionID\":\"" NID "\",\"Messages\":[],\"Close\":false}");
    free(s);
    /* unpadded base64 comes back padded */
    s = rt_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\",\"Stream\":1,"
                        "\"Time\":1,\"Data\":\"YQ\"}]}");
    ASSERT_EQ_STR(s, "{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\",\"Stream\":1,"
                     "\"Time\":1,\"Data\":\"YQ==\"}],\"Close\":false}");
    free(s);
}

TEST(msg_logs_broker_decoded_fields)
{
    struct err e;
    const char *text =
        "{\"SubscriptionID\":\"s1\",\"Messages\":[{\"TaskID\":\"t1\",\"Stream\":1,"
        "\"Time\":5,\"Data\":\"YQo=\"},{\"TaskID\":\"t2\",\"Stream\":2,\"Time\":-7,"
        "\"Data\":\"AGI=\"},{\"TaskID\":\"t1\",\"Stream\":1,\"Time\":6,\"Data\":\"\"}],"
        "\"Close\":true}";
    json_t *j = msg_load(text, strlen(text), "x", &e);
    struct msg_logs_publish p;
    ASSERT_EQ_INT(msg_logs_publish_decode(j, &p, &e), 0);
    json_decref(j); /* the structure holds its own reference */
    ASSERT_EQ_STR(p.sub_id, "s1");
    ASSERT_TRUE(p.close);
    ASSERT_EQ_INT(p.n_msgs, 3);
    ASSERT_EQ_STR(p.msgs[0].task_id, "t1");
    ASSERT_EQ_INT(p.msgs[0].stream, 1);
    ASSERT_EQ_INT(p.msgs[0].time_ns, 5);
    ASSERT_EQ_INT(p.msgs[0].len, 2);
    ASSERT_TRUE(memcmp(p.msgs[0].data, "a\n", 2) == 0);
    ASSERT_EQ_INT(p.msgs[1].stream, 2);
    ASSERT_EQ_INT(p.msgs[1].time_ns, -7);
    ASSERT_EQ_INT(p.msgs[1].len, 2);
    ASSERT_TRUE(memcmp(p.msgs[1].data, "\0b", 2) == 0); /* bytes, not a string */
    ASSERT_EQ_INT(p.msgs[2].len, 0);
    msg_logs_publish_release(&p);
    ASSERT_NULL(p.msgs);
    ASSERT_NULL(p.bytes);

    text = "{\"Subscriptions\":[{\"ID\":\"s1\",\"TaskIDs\":[\"t1\",\"t2\"],\"Tail\":3,"
           "\"Since\":9,\"Stderr\":true}],\"Closed\":[\"s0\",\"s9\"],\"Extra\":1}";
    j = msg_load(text, strlen(text), "x", &e);
    struct msg_logs_listen_resp a;
    ASSERT_EQ_INT(msg_logs_listen_resp_decode(j, &a, &e), 0);
    json_decref(j);
    ASSERT_EQ_INT(a.n_subs, 1);
    ASSERT_EQ_STR(a.subs[0].id, "s1");
    ASSERT_EQ_INT(a.subs[0].n_tasks, 2);
    ASSERT_EQ_STR(a.subs[0].task_ids[1], "t2");
    ASSERT_FALSE(a.subs[0].follow);
    ASSERT_FALSE(a.subs[0].want_stdout);
    ASSERT_TRUE(a.subs[0].want_stderr);
    ASSERT_EQ_INT(a.subs[0].tail, 3);
    ASSERT_EQ_INT(a.subs[0].since_ns, 9);
    ASSERT_EQ_INT(a.subs[0].until_ns, 0);
    ASSERT_EQ_INT(a.n_closed, 2);
    ASSERT_EQ_STR(a.closed[1], "s9");
    msg_logs_listen_resp_release(&a);
    ASSERT_NULL(a.subs);

    text = "{\"Serving\":[\"s1\",\"s1\"]}";
    j = msg_load(text, strlen(text), "x", &e);
    struct msg_logs_listen_req q;
    ASSERT_EQ_INT(msg_logs_listen_req_decode(j, &q, &e), 0);
    json_decref(j);
    ASSERT_EQ_INT(q.n_serving, 2);
    ASSERT_EQ_STR(q.serving[0], "s1");
    msg_logs_listen_req_release(&q);
    /* a NUL inside a string (a document not read by msg_load) does not shorten an ID */
    j = json_pack("{s:[o]}", "Serving", json_stringn("s1\0x", 4));
    ASSERT_EQ_INT(msg_logs_listen_req_decode(j, &q, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "malformed logs listen: Serving[0] is not an object ID");
    json_decref(j);
}

TEST(msg_logs_broker_refusals)
{
    ASSERT_EQ_STR(err_logs_listen_req("{}"), "malformed logs listen: Serving is missing");
    ASSERT_EQ_STR(err_logs_listen_req("{\"Serving\":\"s1\"}"),
                  "malformed logs listen: Serving has the wrong type");
    ASSERT_EQ_STR(err_logs_listen_req("{\"Serving\":[\"s1\",1]}"),
                  "malformed logs listen: Serving[1] is not an object ID");
    ASSERT_EQ_STR(err_logs_listen_req("{\"Serving\":[\"../x\"]}"),
                  "malformed logs listen: Serving[0] is not an object ID");
    ASSERT_EQ_STR(err_logs_listen_req("{\"Serving\":[\"" NID "x\"]}"),
                  "malformed logs listen: Serving[0] is not an object ID");
    char *big = list_of("{\"Serving\":[", "\"s\"", MSG_MAX_LOG_SUBS, "]}");
    ASSERT_EQ_STR(err_logs_listen_req(big), "(ok)");
    free(big);
    big = list_of("{\"Serving\":[", "\"s\"", MSG_MAX_LOG_SUBS + 1, "]}");
    ASSERT_EQ_STR(err_logs_listen_req(big),
                  "malformed logs listen: Serving has more than 65536 IDs");
    free(big);

    ASSERT_EQ_STR(err_logs_listen_resp("[]"), "malformed logs_listen_resp: not a JSON object");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Closed\":[]}"),
                  "malformed logs listen answer: Subscriptions is missing");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[]}"),
                  "malformed logs listen answer: Closed is missing");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":{},\"Closed\":[]}"),
                  "malformed logs listen answer: Subscriptions has the wrong type");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[],\"Closed\":[\"S\"]}"),
                  "malformed logs listen answer: Closed[0] is not an object ID");
    /* a refusal late in the body, after arrays were made (the decoded structure stays zero) */
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"s1\",\"TaskIDs\":[\"t1\"]},"
                                       "{\"ID\":\"s2\",\"TaskIDs\":[\"T\"]}],\"Closed\":[\"s0\"]}"),
                  "malformed logs listen answer subscription 1: TaskIDs[0] is not an object ID");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[7],\"Closed\":[]}"),
                  "malformed logs listen answer subscription 0: not a JSON object");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[{\"TaskIDs\":[]}],\"Closed\":[]}"),
                  "malformed logs listen answer subscription 0: ID is missing");
    ASSERT_EQ_STR(
        err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":1,\"TaskIDs\":[]}],\"Closed\":[]}"),
        "malformed logs listen answer subscription 0: ID has the wrong type");
    ASSERT_EQ_STR(
        err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"a-b\",\"TaskIDs\":[]}],\"Closed\":[]}"),
        "malformed logs listen answer subscription 0: ID is not an object ID");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"s\"}],\"Closed\":[]}"),
                  "malformed logs listen answer subscription 0: TaskIDs is missing");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"s\",\"TaskIDs\":[],"
                                       "\"Follow\":\"yes\"}],\"Closed\":[]}"),
                  "malformed logs listen answer subscription 0: Follow has the wrong type");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"s\",\"TaskIDs\":[],"
                                       "\"Tail\":-2}],\"Closed\":[]}"),
                  "malformed logs listen answer subscription 0: Tail is out of range");
    ASSERT_EQ_STR(err_logs_listen_resp("{\"Subscriptions\":[{\"ID\":\"s\",\"TaskIDs\":[],"
                                       "\"Since\":1.5}],\"Closed\":[]}"),
                  "malformed logs listen answer subscription 0: Since has the wrong type");
    big = list_of("{\"Subscriptions\":[{\"ID\":\"s\",\"TaskIDs\":[", "\"t\"", MSG_MAX_LOG_TASKS + 1,
                  "]}],\"Closed\":[]}");
    ASSERT_EQ_STR(err_logs_listen_resp(big),
                  "malformed logs listen answer subscription 0: TaskIDs has more than 65536 IDs");
    free(big);
    big = list_of("{\"Closed\":[],\"Subscriptions\":[", "{}", MSG_MAX_LOG_SUBS + 1, "]}");
    ASSERT_EQ_STR(err_logs_listen_resp(big),
                  "malformed logs listen answer: more than 65536 subscriptions");
    free(big);

#define MSG1 "{\"TaskID\":\"t\",\"Stream\":1,\"Time\":1,\"Data\":\"YQ==\"}"
    ASSERT_EQ_STR(err_logs_publish("{\"Messages\":[]}"),
                  "malformed log publication: SubscriptionID is missing");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s/1\"}"),
                  "malformed log publication: SubscriptionID is not an object ID");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":{}}"),
                  "malformed log publication: Messages has the wrong type");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Close\":1}"),
                  "malformed log publication: Close has the wrong type");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[" MSG1 "," MSG1
                                   ",{\"TaskID\":\"t\",\"Stream\":1,\"Time\":1,\"Data\":\"Y\"}]}"),
                  "malformed log publication message 2: Data is not base64");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[" MSG1 ",[]]}"),
                  "malformed log publication message 1: not a JSON object");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"Stream\":1,"
                                   "\"Time\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: TaskID is missing");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"T\","
                                   "\"Stream\":1,\"Time\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: TaskID is not an object ID");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Time\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: Stream is missing");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Stream\":3,\"Time\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: Stream is out of range");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Stream\":0,\"Time\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: Stream is out of range");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Stream\":\"1\",\"Time\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: Stream has the wrong type");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Stream\":1,\"Data\":\"\"}]}"),
                  "malformed log publication message 0: Time is missing");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Stream\":1,\"Time\":1}]}"),
                  "malformed log publication message 0: Data is missing");
    ASSERT_EQ_STR(err_logs_publish("{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\","
                                   "\"Stream\":1,\"Time\":1,\"Data\":[]}]}"),
                  "malformed log publication message 0: Data has the wrong type");
    static const char *const bad_b64[] = {"Y", "YQ=", "YQ===", "YQ==YQ==", "Y*==", "-_8="};
    for (size_t i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\",\"Stream\":1,"
                 "\"Time\":1,\"Data\":\"%s\"}]}",
                 bad_b64[i]);
        ASSERT_EQ_STR(err_logs_publish(text),
                      "malformed log publication message 0: Data is not base64");
    }
    /* a message of more than MSG_MAX_LOG_DATA bytes: as base64 text, then decoded */
    size_t n = (MSG_MAX_LOG_DATA + 2) / 3 * 4;
    char *data = xmalloc(n + 2);
    memset(data, 'A', n + 1);
    data[n + 1] = 0;
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\",\"Stream\":1,"
               "\"Time\":1,\"Data\":\"%s\"}]}",
               data);
    ASSERT_EQ_STR(err_logs_publish(b.p),
                  "malformed log publication message 0: Data is longer than 1398104 bytes");
    buf_reset(&b);
    data[n] = 0;
    buf_printf(&b,
               "{\"SubscriptionID\":\"s\",\"Messages\":[{\"TaskID\":\"t\",\"Stream\":1,"
               "\"Time\":1,\"Data\":\"%s\"}]}",
               data);
    ASSERT_EQ_STR(err_logs_publish(b.p),
                  "malformed log publication message 0: Data is longer than 1048576 bytes");
    buf_release(&b);
    free(data);
    big = list_of("{\"SubscriptionID\":\"s\",\"Messages\":[", MSG1, MSG_MAX_LOG_MSGS, "]}");
    ASSERT_EQ_STR(err_logs_publish(big), "(ok)");
    free(big);
    big = list_of("{\"SubscriptionID\":\"s\",\"Messages\":[", MSG1, MSG_MAX_LOG_MSGS + 1, "]}");
    ASSERT_EQ_STR(err_logs_publish(big), "malformed log publication: more than 65536 messages");
    free(big);
#undef MSG1
}
