/* test_rootca.c — root CA rotation's decisions (src/manager/rootca/), with real roots from
 * src/ca and a fake clock: when a swarm update starts a rotation; the roots a manager trusts,
 * signs with and chains to before, during and after one; the leader keeps waiting while any
 * node (one that never reported, one still on the old root) lags, and finishes once all are
 * on the new root; the end's cluster object (tokens re-digested, secrets kept, UpdatedAt the
 * given time) and record; which heartbeat answers carry the roots. */
#include "ca/ca.h"
#include "harness.h"
#include "manager/rootca/rootca.h"

#include <stdlib.h>
#include <string.h>

TEST(rootca_start_wanted_by_the_spec)
{
    struct err e = {0};
    json_t *cur = json_pack("{s:{s:{s:i}}}", "Spec", "CAConfig", "ForceRotate", 1);
    const char *cert = "x", *key = "x";
    json_t *same = json_pack("{s:{s:i}}", "CAConfig", "ForceRotate", 1);
    ASSERT_EQ_INT(rootca_start_wanted(cur, same, &cert, &key, &e), ROOTCA_START_NONE);
    ASSERT_NULL(cert);
    ASSERT_NULL(key);
    json_t *bumped = json_pack("{s:{s:i}}", "CAConfig", "ForceRotate", 2);
    ASSERT_EQ_INT(rootca_start_wanted(cur, bumped, &cert, &key, &e), ROOTCA_START_GENERATE);
    /* a spec without CAConfig on a cluster that never rotated asks for nothing */
    json_t *bare = json_object();
    ASSERT_EQ_INT(rootca_start_wanted(json_object_get(bare, "none"), bare, &cert, &key, &e),
                  ROOTCA_START_NONE);
    /* a given root rotates even with ForceRotate unchanged, and needs its key */
    json_t *given = json_pack("{s:{s:i, s:s, s:s}}", "CAConfig", "ForceRotate", 1, "SigningCACert",
                              "CERT", "SigningCAKey", "KEY");
    ASSERT_EQ_INT(rootca_start_wanted(cur, given, &cert, &key, &e), ROOTCA_START_GIVEN);
    ASSERT_EQ_STR(cert, "CERT");
    ASSERT_EQ_STR(key, "KEY");
    json_t *keyless = json_pack("{s:{s:s}}", "CAConfig", "SigningCACert", "CERT");
    ASSERT_EQ_INT(rootca_start_wanted(cur, keyless, &cert, &key, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "the signing CA key is required");
    json_t *empty = json_pack("{s:{s:i, s:s}}", "CAConfig", "ForceRotate", 1, "SigningCACert", "");
    ASSERT_EQ_INT(rootca_start_wanted(cur, empty, &cert, &key, &e), ROOTCA_START_NONE);
    json_decref(cur);
    json_decref(same);
    json_decref(bumped);
    json_decref(bare);
    json_decref(given);
    json_decref(keyless);
    json_decref(empty);
}

struct two_roots {
    char *old_cert, *old_key, *new_cert, *new_key, *cross;
};

static void two_roots_new(struct two_roots *t)
{
    struct err e = {0};
    ASSERT_EQ_INT(ca_root_new(&t->old_cert, &t->old_key, &e), 0);
    ASSERT_EQ_INT(ca_root_new(&t->new_cert, &t->new_key, &e), 0);
    ASSERT_EQ_INT(ca_cross_sign(t->old_cert, t->old_key, t->new_cert, &t->cross, &e), 0);
}

static void two_roots_free(struct two_roots *t)
{
    free(t->old_cert);
    free(t->old_key);
    free(t->new_cert);
    free(t->new_key);
    free(t->cross);
}

static const char *issuer_key(json_t *tls)
{
    return json_string_value(json_object_get(tls, "CertIssuerPublicKey"));
}

/* A rotation's life in the roots: one root; then both trusted, the new one signing with the
 * cross-signed root chained; then the new one alone, the cross kept for the chains. */
TEST(rootca_roots_through_a_rotation)
{
    struct two_roots t = {0};
    two_roots_new(&t);
    struct rootca_roots r = {0};
    ASSERT_NULL(rootca_trust_bundle(&r));
    json_t *rec = json_pack("{s:s, s:s}", "Cert", t.old_cert, "Key", t.old_key);
    rootca_roots_load(&r, rec);
    json_decref(rec);
    char *bundle = rootca_trust_bundle(&r);
    ASSERT_EQ_STR(bundle, t.old_cert);
    free(bundle);
    ASSERT_EQ_STR(rootca_signing_cert(&r), t.old_cert);
    ASSERT_EQ_STR(rootca_signing_key(&r), t.old_key);
    char *chain = rootca_chain(&r, "LEAF\n");
    ASSERT_EQ_STR(chain, "LEAF\n");
    free(chain);

    /* the start: the cluster names the new root; the record holds both and the cross */
    json_t *cluster = json_pack("{s:b}", "RootRotationInProgress", 0);
    rootca_start_cluster(cluster, t.new_cert);
    ASSERT_TRUE(json_is_true(json_object_get(cluster, "RootRotationInProgress")));
    json_t *want = rootca_tls_info(t.new_cert);
    ASSERT_EQ_STR(issuer_key(json_object_get(cluster, "TLSInfo")), issuer_key(want));
    json_decref(cluster);
    json_decref(want);
    rec = rootca_start_record(&r, t.new_cert, t.new_key, t.cross);
    ASSERT_NULL(rootca_finish_record(&r)); /* nothing to finish before the record lands */
    rootca_roots_load(&r, rec);
    json_decref(rec);
    bundle = rootca_trust_bundle(&r);
    char *both = xasprintf("%s%s", t.old_cert, t.new_cert);
    ASSERT_EQ_STR(bundle, both);
    free(both);
    free(bundle);
    ASSERT_EQ_STR(rootca_signing_cert(&r), t.new_cert);
    ASSERT_EQ_STR(rootca_signing_key(&r), t.new_key);
    chain = rootca_chain(&r, "LEAF\n");
    char *want_chain = xasprintf("LEAF\n%s", t.cross);
    ASSERT_EQ_STR(chain, want_chain);
    free(chain);
    free(want_chain);

    /* the end */
    rec = rootca_finish_record(&r);
    ASSERT_NOT_NULL(rec);
    rootca_roots_load(&r, rec);
    json_decref(rec);
    bundle = rootca_trust_bundle(&r);
    ASSERT_EQ_STR(bundle, t.new_cert);
    free(bundle);
    ASSERT_NULL(r.new_cert);
    ASSERT_NULL(r.new_key);
    ASSERT_EQ_STR(rootca_signing_cert(&r), t.new_cert);
    ASSERT_EQ_STR(rootca_signing_key(&r), t.new_key);
    ASSERT_EQ_STR(r.cross, t.cross);
    rootca_roots_release(&r);
    ASSERT_NULL(r.cert);
    two_roots_free(&t);
}

#define N1 "n1aaaaaaaaaaaaaaaaaaaaaaa"
#define N2 "n2aaaaaaaaaaaaaaaaaaaaaaa"
#define N3 "n3aaaaaaaaaaaaaaaaaaaaaaa"

/* The leader's decision, node reports arriving one by one: nothing to drive until the record
 * with the new root reached this leader; wait while a node reported nothing or the old root,
 * naming the laggards; finish when all are on the new root; nothing again while finishing. */
TEST(rootca_reconcile_waits_for_every_node)
{
    const char *old_key = "OLDKEY", *new_key = "NEWKEY";
    struct rootca_view v = {.in_progress = true, .want = new_key, .have_new_root = false};
    struct rootca_node nodes[] = {{N1, new_key}, {N2, old_key}, {N3, NULL}};
    const char *lag[3];
    size_t nlag = 99;
    ASSERT_FALSE(rootca_rotating(&v));
    ASSERT_EQ_INT(rootca_reconcile(&v, nodes, 3, lag, &nlag), ROOTCA_IDLE);
    ASSERT_EQ_INT(nlag, 0);
    v.have_new_root = true;
    ASSERT_TRUE(rootca_rotating(&v));
    ASSERT_EQ_INT(rootca_reconcile(&v, nodes, 3, lag, &nlag), ROOTCA_WAIT);
    ASSERT_EQ_INT(nlag, 2);
    ASSERT_EQ_STR(lag[0], N2);
    ASSERT_EQ_STR(lag[1], N3);
    nodes[2].issuer_key = new_key; /* N3 reports: renewed from the new root */
    ASSERT_EQ_INT(rootca_reconcile(&v, nodes, 3, lag, &nlag), ROOTCA_WAIT);
    ASSERT_EQ_INT(nlag, 1);
    ASSERT_EQ_STR(lag[0], N2);
    ASSERT_EQ_INT(rootca_reconcile(&v, nodes, 3, NULL, NULL), ROOTCA_WAIT);
    nodes[1].issuer_key = new_key;
    ASSERT_EQ_INT(rootca_reconcile(&v, nodes, 3, lag, &nlag), ROOTCA_FINISH);
    ASSERT_EQ_INT(nlag, 0);
    /* a node removed from the store no longer holds anything: N2 back on the old root, gone */
    nodes[1].issuer_key = old_key;
    ASSERT_EQ_INT(rootca_reconcile(&v, nodes, 3, NULL, NULL), ROOTCA_WAIT);
    struct rootca_node rest[] = {nodes[0], nodes[2]};
    ASSERT_EQ_INT(rootca_reconcile(&v, rest, 2, NULL, NULL), ROOTCA_FINISH);
    /* finishing already, or no rotation, or no target known: nothing */
    v.finishing = true;
    ASSERT_EQ_INT(rootca_reconcile(&v, rest, 2, NULL, NULL), ROOTCA_IDLE);
    v.finishing = false;
    v.in_progress = false;
    ASSERT_EQ_INT(rootca_reconcile(&v, rest, 2, NULL, NULL), ROOTCA_IDLE);
    v.in_progress = true;
    v.want = NULL;
    ASSERT_EQ_INT(rootca_reconcile(&v, rest, 2, NULL, NULL), ROOTCA_IDLE);
}

/* The end's cluster object with a fake clock: the rotation flag off, both tokens carry the new
 * root's digest and keep their secrets, UpdatedAt is the time given; the input is untouched. */
TEST(rootca_finish_cluster_with_a_fake_clock)
{
    struct two_roots t = {0};
    two_roots_new(&t);
    char *wt = ca_token_new(t.old_cert), *mt = ca_token_new(t.old_cert);
    json_t *cluster =
        json_pack("{s:s, s:b, s:s, s:{s:s, s:s}}", "ID", "c1", "RootRotationInProgress", 1,
                  "UpdatedAt", "2020-01-01T00:00:00Z", "JoinTokens", "Worker", wt, "Manager", mt);
    int64_t now = 1700000000LL * 1000000000LL + 5;
    json_t *done = rootca_finish_cluster(cluster, t.new_cert, now);
    ASSERT_FALSE(json_is_true(json_object_get(done, "RootRotationInProgress")));
    char want_time[40];
    time_format_rfc3339(now, want_time);
    ASSERT_EQ_STR(json_string_value(json_object_get(done, "UpdatedAt")), want_time);
    char *digest = ca_digest(t.new_cert);
    const char *roles[] = {"Worker", "Manager"};
    const char *before[] = {wt, mt};
    for (int i = 0; i < 2; i++) {
        const char *tok =
            json_string_value(json_object_get(json_object_get(done, "JoinTokens"), roles[i]));
        char d[CA_TOKEN_DIGEST_LEN + 1], s[CA_TOKEN_SECRET_LEN + 1], d0[CA_TOKEN_DIGEST_LEN + 1],
            s0[CA_TOKEN_SECRET_LEN + 1];
        struct err e = {0};
        ASSERT_EQ_INT(ca_token_parse(tok, d, s, &e), 0);
        ASSERT_EQ_INT(ca_token_parse(before[i], d0, s0, &e), 0);
        ASSERT_EQ_STR(d, digest);
        ASSERT_EQ_STR(s, s0);
    }
    /* the cluster object read from the store is not changed */
    ASSERT_TRUE(json_is_true(json_object_get(cluster, "RootRotationInProgress")));
    ASSERT_EQ_STR(
        json_string_value(json_object_get(json_object_get(cluster, "JoinTokens"), "Worker")), wt);
    free(digest);
    free(wt);
    free(mt);
    json_decref(cluster);
    json_decref(done);
    two_roots_free(&t);
}

/* A heartbeat answer carries the roots only to a node that trusts something else or holds a
 * certificate of another issuer. */
TEST(rootca_send_roots_when_the_node_needs_them)
{
    ASSERT_FALSE(rootca_send_roots(NULL, "K", NULL, NULL));
    ASSERT_FALSE(rootca_send_roots("B", "K", "B", "K"));
    ASSERT_TRUE(rootca_send_roots("B", "K", NULL, "K"));
    ASSERT_TRUE(rootca_send_roots("B", "K", "A", "K"));
    ASSERT_TRUE(rootca_send_roots("B", "K", "B", "J"));
    ASSERT_TRUE(rootca_send_roots("B", "K", "B", NULL));
    ASSERT_TRUE(rootca_send_roots("B", NULL, "B", "K"));
}

/* TLSInfo of a root names its subject and key; garbage gives {}. */
TEST(rootca_tls_info_of_a_root)
{
    struct two_roots t = {0};
    two_roots_new(&t);
    json_t *a = rootca_tls_info(t.old_cert), *b = rootca_tls_info(t.new_cert);
    ASSERT_EQ_STR(json_string_value(json_object_get(a, "TrustRoot")), t.old_cert);
    ASSERT_NOT_NULL(issuer_key(a));
    ASSERT_NOT_NULL(json_string_value(json_object_get(a, "CertIssuerSubject")));
    ASSERT_TRUE(strcmp(issuer_key(a), issuer_key(b)) != 0);
    json_t *bad = rootca_tls_info("junk");
    ASSERT_EQ_INT(json_object_size(bad), 0);
    json_decref(a);
    json_decref(b);
    json_decref(bad);
    two_roots_free(&t);
}
