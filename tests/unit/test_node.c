/* test_node.c — the etcd trust files a manager keeps (node_etcd.c) in a temporary data root,
 * without etcd. */
#include "ca/ca.h"
#include "harness.h"
#include "node/node_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *t_read(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name), *data = NULL;
    size_t len;
    struct err e;
    if (file_read(p, &data, &len, &e) < 0)
        data = NULL;
    free(p);
    return data;
}

static bool t_exists(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* A manager's etcd trust on disk: nothing without an etcd CA (older data roots keep the old
 * trust); with one, its key is sealed with the DEK, the manager issues itself an etcd
 * certificate for its identity once (reused while valid, re-issued when broken), an empty
 * CRL exists before etcd starts, the replicated CRL record is written to etcd's file, and
 * demotion removes every file. A wrong DEK cannot open the CA key. */
TEST(node_etcd_trust_files)
{
    char dir[] = "/tmp/shoal-node-etcd-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node_config cfg = {.data_root = dir};
    struct node *n = node_new(&loop, &cfg);
    struct err e = {0};
    snprintf(n->id, sizeof(n->id), "f2k7w0hy4c0x8bspykaw8qzuk");
    snprintf(n->cluster_id, sizeof(n->cluster_id), "ny5qvmeqjr6ilsbbecsj6uvgc");
    snprintf(n->role, sizeof(n->role), "manager");
    snprintf(n->advertise_ip, sizeof(n->advertise_ip), "10.1.2.3");
    rand_bytes(n->dek, sizeof(n->dek));
    n->have_dek = true;
    ASSERT_EQ_INT(dir_make(n->swarm_dir, 0700, &e), 0);
    ASSERT_EQ_INT(dir_make(n->certs_dir, 0700, &e), 0);

    ASSERT_EQ_INT(node_etcd_prepare(n, &e), 0);
    ASSERT_FALSE(n->etcd_trust);
    ASSERT_FALSE(t_exists(n->certs_dir, "etcd.crt"));
    ASSERT_NULL(node_etcd_ca_record(n));

    ASSERT_EQ_INT(node_etcd_ca_create(n, &e), 0);
    char *sealed = t_read(n->keys_dir, "etcd-ca.key");
    ASSERT_NOT_NULL(sealed);
    ASSERT_TRUE(strstr(sealed, "PRIVATE KEY") == NULL);
    free(sealed);
    ASSERT_EQ_INT(node_etcd_prepare(n, &e), 0);
    ASSERT_TRUE(n->etcd_trust);
    char *ca = t_read(n->certs_dir, "etcd-ca.crt"), *cert = t_read(n->certs_dir, "etcd.crt");
    char *key = t_read(n->certs_dir, "etcd.key"), *crl = t_read(n->certs_dir, "etcd-crl.pem");
    ASSERT_NOT_NULL(ca);
    ASSERT_NOT_NULL(cert);
    ASSERT_NOT_NULL(key);
    ASSERT_NOT_NULL(crl);
    ASSERT_CONTAINS(crl, "BEGIN X509 CRL");
    struct ca_identity id;
    ASSERT_EQ_INT(ca_verify(ca, cert, &id, &e), 0);
    ASSERT_EQ_STR(id.cn, n->id);
    ASSERT_EQ_STR(id.ou, CA_ETCD_OU);
    ASSERT_EQ_INT(ca_key_matches(cert, key, &e), 0);
    ASSERT_EQ_INT(ca_verify(n->etcd_ca_cert, cert, NULL, &e), 0);
    json_t *rec = node_etcd_ca_record(n);
    ASSERT_EQ_STR(json_string_value(json_object_get(rec, "Cert")), ca);
    ASSERT_EQ_STR(json_string_value(json_object_get(rec, "Key")), n->etcd_ca_key);

    /* a restart: the CA comes from disk, the certificate is kept */
    node_etcd_forget(n, false);
    ASSERT_EQ_INT(node_etcd_prepare(n, &e), 0);
    ASSERT_TRUE(n->etcd_trust);
    char *again = t_read(n->certs_dir, "etcd.crt");
    ASSERT_EQ_STR(again, cert);
    free(again);
    /* a broken certificate is re-issued */
    char *cp = xasprintf("%s/etcd.crt", n->certs_dir);
    ASSERT_EQ_INT(file_write_atomic(cp, "junk", 4, 0644, &e), 0);
    ASSERT_EQ_INT(node_etcd_prepare(n, &e), 0);
    again = t_read(n->certs_dir, "etcd.crt");
    ASSERT_TRUE(strcmp(again, cert) != 0);
    ASSERT_EQ_INT(ca_verify(ca, again, NULL, &e), 0);
    ASSERT_TRUE(ca_cert_has_ip(again, "10.1.2.3"));
    ASSERT_TRUE(ca_cert_has_ip(again, "127.0.0.1"));
    /* so is one that does not name a new advertise address */
    snprintf(n->advertise_ip, sizeof(n->advertise_ip), "10.1.2.4");
    ASSERT_EQ_INT(node_etcd_prepare(n, &e), 0);
    char *moved = t_read(n->certs_dir, "etcd.crt");
    ASSERT_TRUE(strcmp(moved, again) != 0);
    ASSERT_TRUE(ca_cert_has_ip(moved, "10.1.2.4"));
    ASSERT_FALSE(ca_cert_has_ip(moved, "10.1.2.3"));
    free(moved);
    free(again);
    free(cp);

    /* the replicated CRL lands in etcd's file; serial records accumulate per node */
    char *s1 = NULL, *crl2 = NULL;
    ASSERT_EQ_INT(ca_cert_serial(cert, &s1, &e), 0);
    const char *list[] = {s1};
    ASSERT_EQ_INT(ca_crl_new(ca, n->etcd_ca_key, list, 1, &crl2, &e), 0);
    json_t *crec = json_pack("{s:[s], s:s}", "Serials", s1, "CRL", crl2);
    ASSERT_TRUE(node_etcd_apply(n, "etcdcrl", crec));
    char *written = t_read(n->certs_dir, "etcd-crl.pem");
    ASSERT_EQ_STR(written, crl2);
    ASSERT_EQ_INT(json_array_size(n->etcd_revoked), 1);
    json_t *srec = json_pack("{s:[s]}", "Serials", s1);
    ASSERT_TRUE(node_etcd_apply(n, "etcdcert-abc", srec));
    ASSERT_EQ_INT(json_array_size(json_object_get(n->etcd_serials, "abc")), 1);
    ASSERT_FALSE(node_etcd_apply(n, "rootca", srec));

    /* the wrong data key cannot open the CA key */
    node_etcd_forget(n, false);
    n->dek[0] ^= 1;
    ASSERT_TRUE(node_etcd_prepare(n, &e) < 0);
    ASSERT_CONTAINS(e.msg, "etcd CA");
    ASSERT_FALSE(n->etcd_trust);
    n->dek[0] ^= 1;

    /* demotion removes every etcd file */
    node_etcd_forget(n, true);
    const char *names[] = {"etcd.crt", "etcd.key", "etcd-ca.crt", "etcd-crl.pem"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        ASSERT_FALSE(t_exists(n->certs_dir, names[i]));
    ASSERT_FALSE(t_exists(n->keys_dir, "etcd-ca.key"));

    json_decref(rec);
    json_decref(crec);
    json_decref(srec);
    free(written);
    free(crl2);
    free(s1);
    free(ca);
    free(cert);
    free(key);
    free(crl);
    node_stop(n, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
    dir_remove_all(dir, &e);
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
