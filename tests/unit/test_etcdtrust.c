/* test_etcdtrust.c — etcd's own trust (src/etcdtrust/): the files a manager keeps in a
 * temporary data root, without etcd; whether an etcd certificate is usable, with a fake clock;
 * and the leader's decision of which serials to revoke, from the store's view of the nodes and
 * etcd's members. */
#include "ca/ca.h"
#include "etcdtrust/etcdtrust.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SELF_ID "f2k7w0hy4c0x8bspykaw8qzuk"
#define CLUSTER_ID "ny5qvmeqjr6ilsbbecsj6uvgc"

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
TEST(etcdtrust_files_on_a_manager)
{
    char dir[] = "/tmp/shoal-etcdtrust-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    struct err e = {0};
    char *certs_dir = xasprintf("%s/certs", dir), *keys_dir = xasprintf("%s/keys", dir);
    struct etcdtrust trust, *t = &trust;
    etcdtrust_init(t, certs_dir, keys_dir);
    struct etcdtrust_self self = {SELF_ID, CLUSTER_ID, "10.1.2.3"};
    uint8_t dek[32];
    rand_bytes(dek, sizeof(dek));
    ASSERT_EQ_INT(dir_make(certs_dir, 0700, &e), 0);
    int64_t now = time_now_ns();

    ASSERT_EQ_INT(etcdtrust_prepare(t, dek, &self, now, &e), 0);
    ASSERT_FALSE(t->on);
    ASSERT_FALSE(t_exists(certs_dir, "etcd.crt"));
    ASSERT_NULL(etcdtrust_ca_record(t));

    ASSERT_EQ_INT(etcdtrust_ca_create(t, dek, &e), 0);
    char *sealed = t_read(keys_dir, "etcd-ca.key");
    ASSERT_NOT_NULL(sealed);
    ASSERT_TRUE(strstr(sealed, "PRIVATE KEY") == NULL);
    free(sealed);
    ASSERT_EQ_INT(etcdtrust_prepare(t, dek, &self, now, &e), 0);
    ASSERT_TRUE(t->on);
    char *ca = t_read(certs_dir, "etcd-ca.crt"), *cert = t_read(certs_dir, "etcd.crt");
    char *key = t_read(certs_dir, "etcd.key"), *crl = t_read(certs_dir, "etcd-crl.pem");
    ASSERT_NOT_NULL(ca);
    ASSERT_NOT_NULL(cert);
    ASSERT_NOT_NULL(key);
    ASSERT_NOT_NULL(crl);
    ASSERT_CONTAINS(crl, "BEGIN X509 CRL");
    struct ca_identity id;
    ASSERT_EQ_INT(ca_verify(ca, cert, &id, &e), 0);
    ASSERT_EQ_STR(id.cn, SELF_ID);
    ASSERT_EQ_STR(id.ou, CA_ETCD_OU);
    ASSERT_EQ_INT(ca_key_matches(cert, key, &e), 0);
    ASSERT_EQ_INT(ca_verify(t->ca_cert, cert, NULL, &e), 0);
    json_t *rec = etcdtrust_ca_record(t);
    ASSERT_EQ_STR(json_string_value(json_object_get(rec, "Cert")), ca);
    ASSERT_EQ_STR(json_string_value(json_object_get(rec, "Key")), t->ca_key);

    /* a restart: the CA comes from disk, the certificate is kept */
    etcdtrust_forget(t, false);
    ASSERT_EQ_INT(etcdtrust_prepare(t, dek, &self, now, &e), 0);
    ASSERT_TRUE(t->on);
    char *again = t_read(certs_dir, "etcd.crt");
    ASSERT_EQ_STR(again, cert);
    free(again);
    /* a broken certificate is re-issued */
    char *cp = xasprintf("%s/etcd.crt", certs_dir);
    ASSERT_EQ_INT(file_write_atomic(cp, "junk", 4, 0644, &e), 0);
    ASSERT_EQ_INT(etcdtrust_prepare(t, dek, &self, now, &e), 0);
    again = t_read(certs_dir, "etcd.crt");
    ASSERT_TRUE(strcmp(again, cert) != 0);
    ASSERT_EQ_INT(ca_verify(ca, again, NULL, &e), 0);
    ASSERT_TRUE(ca_cert_has_ip(again, "10.1.2.3"));
    ASSERT_TRUE(ca_cert_has_ip(again, "127.0.0.1"));
    /* so is one that does not name a new advertise address */
    self.ip = "10.1.2.4";
    ASSERT_EQ_INT(etcdtrust_prepare(t, dek, &self, now, &e), 0);
    char *moved = t_read(certs_dir, "etcd.crt");
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
    ASSERT_EQ_INT(ca_crl_new(ca, t->ca_key, list, 1, &crl2, &e), 0);
    json_t *crec = json_pack("{s:[s], s:s}", "Serials", s1, "CRL", crl2);
    ASSERT_TRUE(etcdtrust_apply(t, dek, "etcdcrl", crec));
    char *written = t_read(certs_dir, "etcd-crl.pem");
    ASSERT_EQ_STR(written, crl2);
    ASSERT_EQ_INT(json_array_size(t->revoked), 1);
    json_t *srec = json_pack("{s:[s]}", "Serials", s1);
    ASSERT_TRUE(etcdtrust_apply(t, dek, "etcdcert-abc", srec));
    ASSERT_EQ_INT(json_array_size(json_object_get(t->serials, "abc")), 1);
    ASSERT_FALSE(etcdtrust_apply(t, dek, "rootca", srec));

    /* the wrong data key cannot open the CA key */
    etcdtrust_forget(t, false);
    dek[0] ^= 1;
    ASSERT_TRUE(etcdtrust_prepare(t, dek, &self, now, &e) < 0);
    ASSERT_CONTAINS(e.msg, "etcd CA");
    ASSERT_FALSE(t->on);
    dek[0] ^= 1;

    /* demotion removes every etcd file */
    etcdtrust_forget(t, true);
    const char *names[] = {"etcd.crt", "etcd.key", "etcd-ca.crt", "etcd-crl.pem"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        ASSERT_FALSE(t_exists(certs_dir, names[i]));
    ASSERT_FALSE(t_exists(keys_dir, "etcd-ca.key"));

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
    etcdtrust_release(t);
    free(certs_dir);
    free(keys_dir);
    dir_remove_all(dir, &e);
}

/* An etcd certificate with a fake clock: usable from its start until 80% of its life, for
 * its own identity and address only, with its own key, from the etcd CA. */
TEST(etcdtrust_cert_ok_with_a_fake_clock)
{
    struct err e = {0};
    char *ca = NULL, *ca_key = NULL, *key = NULL, *csr = NULL, *cert = NULL;
    char *other_key = NULL, *other_csr = NULL;
    ASSERT_EQ_INT(ca_etcd_root_new(&ca, &ca_key, &e), 0);
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    ASSERT_EQ_INT(ca_key_csr_new(&other_key, &other_csr, &e), 0);
    struct ca_identity ident = {.cn = SELF_ID, .ou = CA_ETCD_OU, .org = CLUSTER_ID};
    const char *ips[] = {"10.1.2.3"};
    ASSERT_EQ_INT(ca_issue(ca, ca_key, csr, &ident, 1000LL * 1000000000LL, ips, 1, &cert, &e), 0);
    struct ca_identity id;
    ASSERT_EQ_INT(ca_verify(ca, cert, &id, &e), 0);
    int64_t nb = id.not_before_ns, na = id.not_after_ns, s = 1000000000LL;
    int64_t at = ca_renew_at(nb, na, 1.0); /* 80% of its life */
    struct etcdtrust_self self = {SELF_ID, CLUSTER_ID, "10.1.2.3"};
    ASSERT_TRUE(etcdtrust_cert_ok(ca, cert, key, &self, nb));
    ASSERT_TRUE(etcdtrust_cert_ok(ca, cert, key, &self, at - s));
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, key, &self, at));
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, key, &self, na + s));
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, key, &self, nb - s));
    /* another key, CA, node, address; nothing at all */
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, other_key, &self, nb + s));
    char *swarm = NULL, *swarm_key = NULL;
    ASSERT_EQ_INT(ca_root_new(&swarm, &swarm_key, &e), 0);
    ASSERT_FALSE(etcdtrust_cert_ok(swarm, cert, key, &self, nb + s));
    struct etcdtrust_self other = {"g2k7w0hy4c0x8bspykaw8qzuk", CLUSTER_ID, "10.1.2.3"};
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, key, &other, nb + s));
    struct etcdtrust_self moved = {SELF_ID, CLUSTER_ID, "10.1.2.4"};
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, key, &moved, nb + s));
    struct etcdtrust_self no_ip = {SELF_ID, CLUSTER_ID, ""};
    ASSERT_TRUE(etcdtrust_cert_ok(ca, cert, key, &no_ip, nb + s));
    ASSERT_FALSE(etcdtrust_cert_ok(ca, NULL, key, &self, nb + s));
    ASSERT_FALSE(etcdtrust_cert_ok(ca, cert, NULL, &self, nb + s));
    ASSERT_FALSE(etcdtrust_cert_ok(NULL, cert, key, &self, nb + s));
    free(ca);
    free(ca_key);
    free(key);
    free(csr);
    free(cert);
    free(other_key);
    free(other_csr);
    free(swarm);
    free(swarm_key);
}

static bool has(json_t *a, const char *s)
{
    return etcdtrust_has(a, s);
}

/* The leader's revocation decision: managers keep their serials; a demoted or removed node's
 * serials go once etcd no longer lists it as a member (a demoting manager takes itself out
 * first); serials already revoked are not named again; nothing to do gives an empty list. */
TEST(etcdtrust_to_revoke_decides_from_store_and_members)
{
    json_t *s_mgr = json_pack("[s]", "0A"), *s_demoted = json_pack("[s, s]", "1B", "1C");
    json_t *s_removed = json_pack("[s]", "2D"), *s_gone = json_pack("[s]", "3E");
    struct etcdtrust_holder h[] = {
        {"mgr", s_mgr, true, false},
        {"demoted", s_demoted, false, true},  /* still leaving etcd */
        {"removed", s_removed, false, false}, /* node rm --force */
        {"gone", s_gone, false, false},       /* revoked already */
    };
    json_t *revoked = json_pack("[s]", "3E");
    json_t *who = json_array();
    json_t *add = etcdtrust_to_revoke(h, 4, revoked, who);
    ASSERT_EQ_INT(json_array_size(add), 1);
    ASSERT_TRUE(has(add, "2D"));
    ASSERT_EQ_INT(json_array_size(who), 1);
    ASSERT_TRUE(has(who, "removed"));
    json_decref(add);
    /* the demoted manager left etcd: its serials go too */
    h[1].member = false;
    add = etcdtrust_to_revoke(h, 4, revoked, NULL);
    ASSERT_EQ_INT(json_array_size(add), 3);
    ASSERT_TRUE(has(add, "1B") && has(add, "1C") && has(add, "2D"));
    ASSERT_FALSE(has(add, "0A") || has(add, "3E"));
    json_decref(add);
    /* once the CRL holds them, nothing is left to do */
    json_t *all = json_pack("[s, s, s, s]", "1B", "1C", "2D", "3E");
    add = etcdtrust_to_revoke(h, 4, all, NULL);
    ASSERT_EQ_INT(json_array_size(add), 0);
    json_decref(add);
    /* no CRL yet; a serial recorded twice is named once; a promoted node again keeps it */
    json_t *twice = json_pack("[s, s]", "4F", "4F");
    struct etcdtrust_holder h2[] = {{"twice", twice, false, false},
                                    {"back", s_removed, true, false}};
    add = etcdtrust_to_revoke(h2, 2, NULL, NULL);
    ASSERT_EQ_INT(json_array_size(add), 1);
    ASSERT_TRUE(has(add, "4F"));
    json_decref(add);
    add = etcdtrust_to_revoke(NULL, 0, NULL, NULL);
    ASSERT_EQ_INT(json_array_size(add), 0);
    json_decref(add);
    json_decref(s_mgr);
    json_decref(s_demoted);
    json_decref(s_removed);
    json_decref(s_gone);
    json_decref(revoked);
    json_decref(who);
    json_decref(all);
    json_decref(twice);
}
