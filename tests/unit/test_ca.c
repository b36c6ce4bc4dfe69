/* test_ca.c — unit tests for the swarm CA (src/ca): root and node certificates, chain
 * verification and its refusals, key matching, root digest, join tokens, unlock keys,
 * AES-256-GCM sealing, and when a certificate renews (with a fake clock). Certificates are
 * inspected with OpenSSL directly, not through ca_*. */
#include "ca/ca.h"
#include "harness.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

static X509 *t_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!x)
        FAIL_AT("unparsable certificate");
    return x;
}

static EVP_PKEY *t_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!k)
        FAIL_AT("unparsable key");
    return k;
}

static char *t_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = xstrndup(data, (size_t)n);
    BIO_free(bio);
    return s;
}

struct t_ca {
    char *cert, *key;
};

static void t_ca_new(struct t_ca *ca)
{
    struct err e = {0};
    ASSERT_EQ_INT(ca_root_new(&ca->cert, &ca->key, &e), 0);
}

static void t_ca_free(struct t_ca *ca)
{
    free(ca->cert);
    free(ca->key);
}

static const struct ca_identity t_id = {
    .cn = "f2k7w0hy4c0x8bspykaw8qzuk",
    .ou = "swarm-manager",
    .org = "ny5qvmeqjr6ilsbbecsj6uvgc",
};

/* Issues a node certificate; returns its PEM and sets *key_pem. */
static char *t_issue(const struct t_ca *ca, int64_t expiry_ns, const char *const *ips, size_t nips,
                     char **key_pem)
{
    struct err e = {0};
    char *csr = NULL, *cert = NULL;
    ASSERT_EQ_INT(ca_key_csr_new(key_pem, &csr, &e), 0);
    ASSERT_CONTAINS(csr, "-----BEGIN CERTIFICATE REQUEST-----");
    if (ca_issue(ca->cert, ca->key, csr, &t_id, expiry_ns, ips, nips, &cert, &e) != 0)
        FAIL_AT("ca_issue: %s", e.msg);
    free(csr);
    return cert;
}

/* Re-signs a copy of cert_pem with new validity [now+nb_s, now+na_s]. */
static char *t_resign(const struct t_ca *ca, const char *cert_pem, long nb_s, long na_s)
{
    X509 *x = t_cert(cert_pem);
    EVP_PKEY *k = t_key(ca->key);
    time_t now = time(NULL);
    ASSERT_NOT_NULL(ASN1_TIME_set(X509_getm_notBefore(x), now + nb_s));
    ASSERT_NOT_NULL(ASN1_TIME_set(X509_getm_notAfter(x), now + na_s));
    ASSERT_TRUE(X509_sign(x, k, EVP_sha256()) > 0);
    char *s = t_pem(x);
    X509_free(x);
    EVP_PKEY_free(k);
    return s;
}

TEST(ca_root_self)
{
    struct t_ca ca;
    t_ca_new(&ca);
    ASSERT_CONTAINS(ca.cert, "-----BEGIN CERTIFICATE-----");
    ASSERT_CONTAINS(ca.key, "PRIVATE KEY-----");

    struct ca_identity id;
    struct err e = {0};
    ASSERT_EQ_INT(ca_verify(ca.cert, ca.cert, &id, &e), 0);
    ASSERT_EQ_STR(id.cn, "swarm-ca");
    ASSERT_EQ_STR(id.ou, "");
    int64_t now = time_now_ns();
    ASSERT_TRUE(id.not_before_ns <= now && id.not_before_ns >= now - 120 * 1000000000LL);
    int64_t d = id.not_after_ns - (now + CA_ROOT_EXPIRY_NS);
    ASSERT_TRUE(d > -10 * 1000000000LL && d < 10 * 1000000000LL);

    X509 *x = t_cert(ca.cert);
    ASSERT_EQ_INT(X509_check_ca(x), 1);
    ASSERT_TRUE(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
    ASSERT_TRUE(X509_get_key_usage(x) & KU_CRL_SIGN);
    ASSERT_NOT_NULL(X509_get0_subject_key_id(x));
    ASSERT_EQ_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    ASSERT_EQ_INT(X509_check_issued(x, x), X509_V_OK); /* self-signed */
    EVP_PKEY *pub = X509_get0_pubkey(x);
    ASSERT_EQ_INT(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    char group[64];
    size_t glen = 0;
    ASSERT_EQ_INT(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof(group), &glen), 1);
    ASSERT_EQ_STR(group, "prime256v1");
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    ASSERT_NOT_NULL(bc);
    ASSERT_EQ_INT(crit, 1);
    ASSERT_TRUE(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    ASSERT_TRUE(ASN1_STRING_length(serial) >= 15);
    X509_free(x);

    /* Two roots differ (keys and serials). */
    struct t_ca other;
    t_ca_new(&other);
    ASSERT_TRUE(strcmp(ca.cert, other.cert) != 0);
    ASSERT_TRUE(strcmp(ca.key, other.key) != 0);
    t_ca_free(&other);
    t_ca_free(&ca);
}

static bool t_san_has_dns(GENERAL_NAMES *gens, const char *name)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS && !strcmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), name))
            return true;
    }
    return false;
}

static bool t_san_has_ip(GENERAL_NAMES *gens, const char *ip)
{
    unsigned char raw[16];
    int n = inet_pton(AF_INET, ip, raw) == 1 ? 4 : 16;
    if (n == 16)
        ASSERT_EQ_INT(inet_pton(AF_INET6, ip, raw), 1);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == n &&
            !memcmp(ASN1_STRING_get0_data(g->d.iPAddress), raw, (size_t)n))
            return true;
    }
    return false;
}

TEST(ca_issue_and_verify)
{
    struct t_ca ca;
    t_ca_new(&ca);
    const char *ips[] = {"10.0.0.7", "fd00::1:2"};
    char *key = NULL;
    char *cert = t_issue(&ca, CA_NODE_EXPIRY_NS, ips, 2, &key);

    struct ca_identity id;
    struct err e = {0};
    if (ca_verify(ca.cert, cert, &id, &e) != 0)
        FAIL_AT("ca_verify: %s", e.msg);
    ASSERT_EQ_STR(id.cn, t_id.cn);
    ASSERT_EQ_STR(id.ou, t_id.ou);
    ASSERT_EQ_STR(id.org, t_id.org);
    int64_t now = time_now_ns();
    int64_t d = id.not_after_ns - (now + CA_NODE_EXPIRY_NS);
    ASSERT_TRUE(d > -10 * 1000000000LL && d < 10 * 1000000000LL);
    d = id.not_before_ns - (now - 60 * 1000000000LL);
    ASSERT_TRUE(d > -10 * 1000000000LL && d < 10 * 1000000000LL);

    X509 *x = t_cert(cert);
    X509 *root = t_cert(ca.cert);
    /* Subject order O, OU, CN as swarmkit. */
    X509_NAME *name = X509_get_subject_name(x);
    ASSERT_EQ_INT(X509_NAME_entry_count(name), 3);
    ASSERT_EQ_INT(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 0))),
                  NID_organizationName);
    ASSERT_EQ_INT(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 1))),
                  NID_organizationalUnitName);
    ASSERT_EQ_INT(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 2))),
                  NID_commonName);
    ASSERT_EQ_INT(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(root)), 0);
    ASSERT_EQ_INT(X509_check_issued(root, x), X509_V_OK);
    ASSERT_EQ_INT(X509_check_ca(x), 0);
    ASSERT_TRUE(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    ASSERT_TRUE(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
    ASSERT_TRUE(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
    ASSERT_TRUE(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
    ASSERT_EQ_INT(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    ASSERT_EQ_INT(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);
    ASSERT_EQ_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
    /* AKI = root's SKI. */
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
    ASSERT_NOT_NULL(aki);
    ASSERT_EQ_INT(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(root)), 0);

    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ASSERT_NOT_NULL(gens);
    ASSERT_TRUE(t_san_has_dns(gens, "swarm-manager"));
    ASSERT_TRUE(t_san_has_dns(gens, t_id.cn));
    ASSERT_TRUE(t_san_has_dns(gens, "localhost"));
    ASSERT_FALSE(t_san_has_dns(gens, "swarm-worker"));
    ASSERT_TRUE(t_san_has_ip(gens, "127.0.0.1"));
    ASSERT_TRUE(t_san_has_ip(gens, "10.0.0.7"));
    ASSERT_TRUE(t_san_has_ip(gens, "fd00::1:2"));
    ASSERT_FALSE(t_san_has_ip(gens, "10.0.0.8"));
    ASSERT_EQ_INT(sk_GENERAL_NAME_num(gens), 6);
    GENERAL_NAMES_free(gens);
    /* Host checks as a TLS client would do them. */
    ASSERT_EQ_INT(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    ASSERT_EQ_INT(X509_check_ip_asc(x, "fd00::1:2", 0), 1);
    ASSERT_EQ_INT(X509_check_host(x, "localhost", 0, 0, NULL), 1);

    ASSERT_EQ_INT(ca_key_matches(cert, key, &e), 0);
    X509_free(root);
    X509_free(x);
    free(cert);
    free(key);
    t_ca_free(&ca);
}

TEST(ca_issue_no_ips_and_bad_ip)
{
    struct t_ca ca;
    t_ca_new(&ca);
    char *key = NULL;
    char *cert = t_issue(&ca, CA_NODE_EXPIRY_NS, NULL, 0, &key);
    X509 *x = t_cert(cert);
    ASSERT_EQ_INT(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    X509_free(x);
    free(cert);
    free(key);

    char *csr = NULL;
    cert = NULL;
    struct err e = {0};
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    const char *bad[] = {"10.0.0.300"};
    ASSERT_EQ_INT(ca_issue(ca.cert, ca.key, csr, &t_id, CA_NODE_EXPIRY_NS, bad, 1, &cert, &e),
                  -ERR_INVALID);
    ASSERT_NULL(cert);
    ASSERT_CONTAINS(e.msg, "10.0.0.300");
    /* Empty subject fields are refused. */
    struct ca_identity id = t_id;
    id.ou[0] = 0;
    ASSERT_EQ_INT(ca_issue(ca.cert, ca.key, csr, &id, CA_NODE_EXPIRY_NS, NULL, 0, &cert, &e),
                  -ERR_INVALID);
    ASSERT_NULL(cert);
    /* A root key that is not the root's. */
    struct t_ca other;
    t_ca_new(&other);
    ASSERT_EQ_INT(ca_issue(ca.cert, other.key, csr, &t_id, CA_NODE_EXPIRY_NS, NULL, 0, &cert, &e),
                  -ERR_INVALID);
    ASSERT_NULL(cert);
    t_ca_free(&other);
    free(csr);
    free(key);
    t_ca_free(&ca);
}

TEST(ca_verify_other_root_refused)
{
    struct t_ca ca, other;
    t_ca_new(&ca);
    t_ca_new(&other);
    char *key = NULL;
    char *cert = t_issue(&other, CA_NODE_EXPIRY_NS, NULL, 0, &key);
    struct ca_identity id;
    struct err e = {0};
    ASSERT_EQ_INT(ca_verify(ca.cert, cert, &id, &e), -ERR_UNAUTHORIZED);
    ASSERT_EQ_INT(e.kind, ERR_UNAUTHORIZED);
    ASSERT_CONTAINS(e.msg, "certificate signed by unknown authority");
    /* The other root itself is not trusted either. */
    err_clear(&e);
    ASSERT_EQ_INT(ca_verify(ca.cert, other.cert, &id, &e), -ERR_UNAUTHORIZED);
    ASSERT_CONTAINS(e.msg, "certificate signed by unknown authority");
    /* But it verifies against its own root. */
    ASSERT_EQ_INT(ca_verify(other.cert, cert, &id, &e), 0);
    free(cert);
    free(key);
    t_ca_free(&other);
    t_ca_free(&ca);
}

TEST(ca_verify_trust_bundle)
{
    struct t_ca old_root, new_root, third;
    t_ca_new(&old_root);
    t_ca_new(&new_root);
    t_ca_new(&third);
    char *k1 = NULL, *k2 = NULL, *k3 = NULL;
    char *c1 = t_issue(&old_root, CA_NODE_EXPIRY_NS, NULL, 0, &k1);
    char *c2 = t_issue(&new_root, CA_NODE_EXPIRY_NS, NULL, 0, &k2);
    char *c3 = t_issue(&third, CA_NODE_EXPIRY_NS, NULL, 0, &k3);
    char *bundle = xasprintf("%s%s", old_root.cert, new_root.cert);
    struct err e = {0};
    /* During a rotation both roots are trusted, a third one is not. */
    ASSERT_EQ_INT(ca_verify(bundle, c1, NULL, &e), 0);
    ASSERT_EQ_INT(ca_verify(bundle, c2, NULL, &e), 0);
    ASSERT_EQ_INT(ca_verify(bundle, c3, NULL, &e), -ERR_UNAUTHORIZED);
    /* The new root alone no longer trusts the old root's certificates. */
    ASSERT_EQ_INT(ca_verify(new_root.cert, c1, NULL, &e), -ERR_UNAUTHORIZED);
    free(bundle);
    free(c1);
    free(c2);
    free(c3);
    free(k1);
    free(k2);
    free(k3);
    t_ca_free(&third);
    t_ca_free(&new_root);
    t_ca_free(&old_root);
}

TEST(ca_cross_signed_chain)
{
    struct t_ca old_root, new_root;
    t_ca_new(&old_root);
    t_ca_new(&new_root);
    char *cross = NULL, *key = NULL, *issuer = NULL;
    struct err e = {0};
    ASSERT_EQ_INT(ca_cross_sign(old_root.cert, old_root.key, new_root.cert, &cross, &e), 0);
    char *leaf = t_issue(&new_root, CA_NODE_EXPIRY_NS, NULL, 0, &key);
    /* leaf + cross: the old root alone accepts it through OpenSSL's chain building */
    char *chain = xasprintf("%s%s", leaf, cross);
    X509_STORE *store = X509_STORE_new();
    BIO *b = BIO_new_mem_buf(old_root.cert, -1);
    X509 *oldx = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    X509_STORE_add_cert(store, oldx);
    b = BIO_new_mem_buf(chain, -1);
    X509 *lx = PEM_read_bio_X509(b, NULL, NULL, NULL);
    X509 *ix = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, ix);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, lx, untrusted);
    ASSERT_EQ_INT(X509_verify_cert(ctx), 1);
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(lx);
    X509_free(oldx);
    X509_STORE_free(store);
    /* the new root (alone, or in a bundle) verifies the chain too */
    ASSERT_EQ_INT(ca_verify(new_root.cert, chain, NULL, &e), 0);
    /* which root issued the leaf */
    char *bundle = xasprintf("%s%s", old_root.cert, new_root.cert);
    ASSERT_EQ_INT(ca_cert_issuer(bundle, chain, &issuer, &e), 0);
    ASSERT_EQ_STR(issuer, new_root.cert);
    free(issuer);
    ASSERT_EQ_INT(ca_cert_issuer(old_root.cert, leaf, &issuer, &e), -ERR_NOT_FOUND);
    /* a wrong old key is refused */
    free(cross);
    ASSERT_EQ_INT(ca_cross_sign(old_root.cert, new_root.key, new_root.cert, &cross, &e),
                  -ERR_INVALID);
    free(bundle);
    free(chain);
    free(leaf);
    free(key);
    t_ca_free(&new_root);
    t_ca_free(&old_root);
}

TEST(ca_verify_expired_and_future_refused)
{
    struct t_ca ca;
    t_ca_new(&ca);
    char *key = NULL;
    struct ca_identity id;
    struct err e = {0};
    /* Issued already expired. */
    char *cert = t_issue(&ca, -3600 * 1000000000LL, NULL, 0, &key);
    ASSERT_EQ_INT(ca_verify(ca.cert, cert, &id, &e), -ERR_UNAUTHORIZED);
    ASSERT_CONTAINS(e.msg, "certificate has expired");
    free(key);

    /* Tiny expiry, then a clock past it (the verification time is a seam: no sleeping). */
    char *cert2 = t_issue(&ca, 1000000000LL, NULL, 0, &key);
    ASSERT_EQ_INT(ca_verify(ca.cert, cert2, &id, &e), 0);
    int64_t now = time_now_ns();
    ASSERT_EQ_INT(ca_verify_at(ca.cert, cert2, now, &id, &e), 0);
    ASSERT_EQ_INT(ca_verify_at(ca.cert, cert2, now + 3000000000LL, &id, &e), -ERR_UNAUTHORIZED);
    ASSERT_CONTAINS(e.msg, "certificate has expired");

    /* Not yet valid: re-signed by the same root with a future notBefore. */
    char *future = t_resign(&ca, cert2, 3600, 7200);
    ASSERT_EQ_INT(ca_verify(ca.cert, future, &id, &e), -ERR_UNAUTHORIZED);
    ASSERT_CONTAINS(e.msg, "not yet valid");
    /* The re-signing helper itself produces good certs. */
    char *good = t_resign(&ca, cert2, -60, 3600);
    ASSERT_EQ_INT(ca_verify(ca.cert, good, &id, &e), 0);
    free(good);
    free(future);
    free(cert2);
    free(cert);
    free(key);
    t_ca_free(&ca);
}

TEST(ca_verify_garbage)
{
    struct t_ca ca;
    t_ca_new(&ca);
    struct ca_identity id;
    struct err e = {0};
    ASSERT_EQ_INT(ca_verify(ca.cert, "not a cert", &id, &e), -ERR_INVALID);
    ASSERT_EQ_INT(ca_verify("", ca.cert, &id, &e), -ERR_INVALID);
    ASSERT_EQ_INT(ca_verify(ca.cert,
                            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", &id,
                            &e),
                  -ERR_INVALID);
    /* A tampered signature is refused. */
    char *key = NULL;
    char *cert = t_issue(&ca, CA_NODE_EXPIRY_NS, NULL, 0, &key);
    X509 *x = t_cert(cert);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    ASSERT_TRUE(n > 10);
    der[n - 1] ^= 0x01;
    const unsigned char *p = der;
    X509 *y = d2i_X509(NULL, &p, n);
    ASSERT_NOT_NULL(y);
    char *bad = t_pem(y);
    ASSERT_EQ_INT(ca_verify(ca.cert, bad, &id, &e), -ERR_UNAUTHORIZED);
    free(bad);
    X509_free(y);
    OPENSSL_free(der);
    X509_free(x);
    free(cert);
    free(key);
    t_ca_free(&ca);
}

TEST(ca_csr_bad_signature_refused)
{
    struct t_ca ca;
    t_ca_new(&ca);
    struct err e = {0};
    char *key = NULL, *csr = NULL, *cert = NULL;
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);

    BIO *bio = BIO_new_mem_buf(csr, -1);
    X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ASSERT_NOT_NULL(req);
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);
    ASSERT_TRUE(n > 10);
    der[n - 1] ^= 0x01; /* last byte of the ECDSA signature's s */
    const unsigned char *p = der;
    X509_REQ *bad = d2i_X509_REQ(NULL, &p, n);
    ASSERT_NOT_NULL(bad);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(bio, bad);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *bad_pem = xstrndup(data, (size_t)len);
    BIO_free(bio);

    ASSERT_EQ_INT(ca_issue(ca.cert, ca.key, bad_pem, &t_id, CA_NODE_EXPIRY_NS, NULL, 0, &cert, &e),
                  -ERR_INVALID);
    ASSERT_NULL(cert);
    ASSERT_CONTAINS(e.msg, "signature");
    ASSERT_EQ_INT(
        ca_issue(ca.cert, ca.key, "garbage", &t_id, CA_NODE_EXPIRY_NS, NULL, 0, &cert, &e),
        -ERR_INVALID);
    ASSERT_NULL(cert);
    /* The untampered CSR is fine. */
    ASSERT_EQ_INT(ca_issue(ca.cert, ca.key, csr, &t_id, CA_NODE_EXPIRY_NS, NULL, 0, &cert, &e), 0);
    ASSERT_NOT_NULL(cert);

    free(cert);
    free(bad_pem);
    X509_REQ_free(bad);
    X509_REQ_free(req);
    OPENSSL_free(der);
    free(csr);
    free(key);
    t_ca_free(&ca);
}

TEST(ca_key_matches)
{
    struct t_ca ca;
    t_ca_new(&ca);
    char *k1 = NULL, *k2 = NULL;
    char *c1 = t_issue(&ca, CA_NODE_EXPIRY_NS, NULL, 0, &k1);
    char *c2 = t_issue(&ca, CA_NODE_EXPIRY_NS, NULL, 0, &k2);
    struct err e = {0};
    ASSERT_EQ_INT(ca_key_matches(c1, k1, &e), 0);
    ASSERT_EQ_INT(ca_key_matches(c2, k2, &e), 0);
    ASSERT_EQ_INT(ca_key_matches(ca.cert, ca.key, &e), 0);
    ASSERT_TRUE(ca_key_matches(c1, k2, &e) < 0);
    ASSERT_CONTAINS(e.msg, "does not match");
    ASSERT_TRUE(ca_key_matches(c2, ca.key, &e) < 0);
    ASSERT_EQ_INT(ca_key_matches(c1, "nope", &e), -ERR_INVALID);
    ASSERT_EQ_INT(ca_key_matches("nope", k1, &e), -ERR_INVALID);
    free(c1);
    free(c2);
    free(k1);
    free(k2);
    t_ca_free(&ca);
}

static bool t_is_base36(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

TEST(ca_digest)
{
    struct t_ca ca, other;
    t_ca_new(&ca);
    t_ca_new(&other);
    char *d1 = ca_digest(ca.cert), *d2 = ca_digest(ca.cert), *d3 = ca_digest(other.cert);
    ASSERT_EQ_INT(strlen(d1), CA_TOKEN_DIGEST_LEN);
    ASSERT_TRUE(t_is_base36(d1, strlen(d1)));
    ASSERT_EQ_STR(d1, d2);
    ASSERT_TRUE(strcmp(d1, d3) != 0);
    /* Known values (computed independently with Python's hashlib and int base 36). */
    char *d4 = ca_digest("");
    ASSERT_EQ_STR(d4, "5oaq0bjhj6un82wg98mgigso5q7qlhc63je4gw7ivixqqhkd3p");
    free(d4);
    d4 = ca_digest("abc");
    ASSERT_EQ_STR(d4, "4nb7oofka9ml8nasnokxxc1unhmtpr1wxsuwhpd9km3vt5as31");
    free(d1);
    free(d2);
    free(d3);
    free(d4);
    t_ca_free(&other);
    t_ca_free(&ca);
}

static bool t_token_shape(const char *t)
{
    return strlen(t) == 85 && !strncmp(t, "SWMTKN-1-", 9) && t_is_base36(t + 9, 50) &&
           t[59] == '-' && t_is_base36(t + 60, 25);
}

TEST(ca_token_new_parse)
{
    struct t_ca ca;
    t_ca_new(&ca);
    char *t1 = ca_token_new(ca.cert), *t2 = ca_token_new(ca.cert);
    ASSERT_TRUE(t_token_shape(t1));
    ASSERT_TRUE(t_token_shape(t2));
    ASSERT_TRUE(strcmp(t1, t2) != 0);
    ASSERT_TRUE(strncmp(t1, t2, 60) == 0); /* same root, same digest */

    char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1];
    struct err e = {0};
    ASSERT_EQ_INT(ca_token_parse(t1, digest, secret, &e), 0);
    char *d = ca_digest(ca.cert);
    ASSERT_EQ_STR(digest, d);
    ASSERT_EQ_STR(secret, t1 + 60);
    free(d);
    free(t1);
    free(t2);
    t_ca_free(&ca);
}

TEST(ca_token_rejects)
{
    const char *good = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-"
                       "1awxwuwd3z9j1z3puu7rcgdbx";
    char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1];
    struct err e = {0};
    ASSERT_EQ_INT(ca_token_parse(good, digest, secret, &e), 0);
    ASSERT_EQ_STR(secret, "1awxwuwd3z9j1z3puu7rcgdbx");

    const char *bad[] = {
        "",
        "SWMTKN-1-",
        "SWMTKX-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        "SWMTKN-2-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        "swmtkn-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        /* short digest */
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lk-1awxwuwd3z9j1z3puu7rcgdbx",
        /* short digest, long secret (same total length) */
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lk-1awxwuwd3z9j1z3puu7rcgdbxa",
        /* uppercase */
        "SWMTKN-1-3PU6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1AWXwuwd3z9j1z3puu7rcgdbx",
        /* extra dash */
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx-",
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl--awxwuwd3z9j1z3puu7rcgdbx",
        "SWMTKN-1--pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        /* short secret */
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdb",
        /* leading/trailing space */
        " SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx",
        "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx\n",
        /* unlock key is not a token */
        "SWMKEY-1-mJ7ZKmTcFZ0ZGkWqoeZAKQoDx7mONfXnVOKpwvWHE14",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err_clear(&e);
        if (ca_token_parse(bad[i], digest, secret, &e) != -ERR_INVALID)
            FAIL_AT("accepted bad token #%zu \"%s\"", i, bad[i]);
        ASSERT_EQ_STR(e.msg, "invalid join token");
        ASSERT_EQ_INT(e.kind, ERR_INVALID);
    }
    ASSERT_EQ_INT(ca_token_parse(NULL, digest, secret, &e), -ERR_INVALID);
}

/* xorshift64: deterministic mutations, so a failure reproduces. */
static uint64_t t_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

TEST(ca_token_mutations)
{
    struct t_ca ca;
    t_ca_new(&ca);
    char *good = ca_token_new(ca.cert);
    size_t glen = strlen(good);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    int accepted = 0;
    for (int round = 0; round < 1000; round++) {
        char m[200];
        size_t n = glen;
        memcpy(m, good, glen);
        int edits = 1 + (int)(t_rng(&seed) % 4);
        for (int k = 0; k < edits; k++) {
            size_t pos = n ? t_rng(&seed) % n : 0;
            switch (t_rng(&seed) % 3) {
            case 0: /* overwrite with any byte but NUL */
                if (n)
                    m[pos] = (char)(1 + t_rng(&seed) % 255);
                break;
            case 1: /* delete */
                if (n) {
                    memmove(m + pos, m + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            default: /* insert */
                if (n < sizeof(m) - 2) {
                    memmove(m + pos + 1, m + pos, n - pos);
                    m[pos] = (char)(1 + t_rng(&seed) % 255);
                    n++;
                }
            }
        }
        m[n] = 0;
        char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1];
        struct err e = {0};
        int rc = ca_token_parse(m, digest, secret, &e);
        /* Whatever parses must have the exact shape; whatever has it must parse. */
        ASSERT_EQ_INT(rc == 0, t_token_shape(m));
        if (rc == 0) {
            accepted++;
            ASSERT_TRUE(!strncmp(m + 9, digest, 50) && !strcmp(m + 60, secret));
        } else {
            ASSERT_EQ_STR(e.msg, "invalid join token");
        }
    }
    ASSERT_TRUE(accepted < 1000);
    free(good);
    t_ca_free(&ca);
}

TEST(ca_unlock_key)
{
    char *k1 = ca_unlock_key_new(), *k2 = ca_unlock_key_new();
    ASSERT_EQ_INT(strlen(k1), 9 + 43);
    ASSERT_TRUE(!strncmp(k1, "SWMKEY-1-", 9));
    ASSERT_NULL(strchr(k1, '='));
    ASSERT_TRUE(strcmp(k1, k2) != 0);

    uint8_t raw[32], raw2[32];
    struct err e = {0};
    ASSERT_EQ_INT(ca_unlock_key_parse(k1, raw, &e), 0);
    ASSERT_EQ_INT(ca_unlock_key_parse(k2, raw2, &e), 0);
    ASSERT_TRUE(memcmp(raw, raw2, 32) != 0);
    /* Round trip: the bytes re-encode to the same key text. */
    char *b = b64_encode(raw, 32, false);
    ASSERT_EQ_STR(b, k1 + 9);
    free(b);

    /* A fixed key decodes to known bytes. */
    uint8_t want[32];
    for (int i = 0; i < 32; i++)
        want[i] = (uint8_t)i;
    char *enc = b64_encode(want, 32, false);
    char *fixed = xasprintf("SWMKEY-1-%s", enc);
    ASSERT_EQ_STR(fixed, "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    ASSERT_EQ_INT(ca_unlock_key_parse(fixed, raw, &e), 0);
    ASSERT_TRUE(memcmp(raw, want, 32) == 0);

    const char *bad[] = {
        "",
        "SWMKEY-1-",
        "SWMKEY-2-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "swmkey-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",   /* short */
        "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", /* padded */
        "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", /* long */
        "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!",  /* alphabet */
        "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH-_",  /* url alphabet */
        "SWMKEY-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\n", /* newline */
        "SWMTKN-1-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err_clear(&e);
        if (ca_unlock_key_parse(bad[i], raw, &e) != -ERR_INVALID)
            FAIL_AT("accepted bad unlock key #%zu \"%s\"", i, bad[i]);
        ASSERT_EQ_STR(e.msg, "invalid unlock key");
    }
    ASSERT_EQ_INT(ca_unlock_key_parse(NULL, raw, &e), -ERR_INVALID);
    free(fixed);
    free(enc);
    free(k1);
    free(k2);
}

static void t_seal_round_trip(const uint8_t key[32], size_t n)
{
    uint8_t *plain = xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        plain[i] = (uint8_t)(i * 31 + 7);
    struct buf sealed = BUF_INIT, out = BUF_INIT;
    buf_adds(&sealed, "hdr");
    ca_seal(key, plain, n, &sealed);
    ASSERT_EQ_INT(sealed.len, 3 + n + CA_SEAL_OVERHEAD);
    ASSERT_TRUE(!memcmp(sealed.p, "hdr", 3));
    if (n >= 16)
        ASSERT_TRUE(memcmp(sealed.p + 3 + 12, plain, 16) != 0); /* it is encrypted */
    struct err e = {0};
    buf_adds(&out, "pre");
    ASSERT_EQ_INT(ca_unseal(key, sealed.p + 3, sealed.len - 3, &out, &e), 0);
    ASSERT_EQ_INT(out.len, 3 + n);
    ASSERT_TRUE(!memcmp(out.p, "pre", 3));
    ASSERT_TRUE(n == 0 || !memcmp(out.p + 3, plain, n));
    buf_release(&sealed);
    buf_release(&out);
    free(plain);
}

TEST(ca_seal_round_trip)
{
    uint8_t key[32];
    rand_bytes(key, sizeof(key));
    t_seal_round_trip(key, 0);
    t_seal_round_trip(key, 1);
    t_seal_round_trip(key, 1000);
    t_seal_round_trip(key, 1 << 20);

    /* Fresh nonce each time: the same plaintext seals differently. */
    struct buf a = BUF_INIT, b = BUF_INIT;
    ca_seal(key, "same", 4, &a);
    ca_seal(key, "same", 4, &b);
    ASSERT_EQ_INT(a.len, b.len);
    ASSERT_TRUE(memcmp(a.p, b.p, a.len) != 0);
    buf_release(&a);
    buf_release(&b);
}

static void t_unseal_fails(const uint8_t key[32], const void *p, size_t n)
{
    struct buf out = BUF_INIT;
    struct err e = {0};
    buf_adds(&out, "keep");
    ASSERT_EQ_INT(ca_unseal(key, p, n, &out, &e), -ERR_UNAUTHORIZED);
    ASSERT_EQ_STR(e.msg, "invalid key provided");
    ASSERT_EQ_STR(out.p, "keep");
    ASSERT_EQ_INT(out.len, 4);
    buf_release(&out);
}

TEST(ca_seal_tamper)
{
    uint8_t key[32], wrong[32];
    rand_bytes(key, sizeof(key));
    memcpy(wrong, key, 32);
    wrong[31] ^= 0x80;
    const char *msg = "the quick brown fox jumps over the lazy dog";
    struct buf s = BUF_INIT;
    ca_seal(key, msg, strlen(msg), &s);

    t_unseal_fails(wrong, s.p, s.len);
    size_t where[] = {0, 11, 12, 20, s.len - 17, s.len - 16, s.len - 1}; /* nonce, ct, tag */
    for (size_t i = 0; i < ARRAY_SIZE(where); i++) {
        s.p[where[i]] ^= 0x04;
        t_unseal_fails(key, s.p, s.len);
        s.p[where[i]] ^= 0x04;
    }
    t_unseal_fails(key, s.p, s.len - 1); /* truncated tag */
    t_unseal_fails(key, s.p + 1, s.len - 1);
    t_unseal_fails(key, s.p, CA_SEAL_OVERHEAD - 1);
    t_unseal_fails(key, s.p, 0);
    /* Extra trailing byte shifts the tag. */
    buf_add(&s, "x", 1);
    t_unseal_fails(key, s.p, s.len);
    s.len--;

    /* Untouched it still opens. */
    struct buf out = BUF_INIT;
    struct err e = {0};
    ASSERT_EQ_INT(ca_unseal(key, s.p, s.len, &out, &e), 0);
    ASSERT_EQ_STR(out.p, msg);
    buf_release(&out);

    /* Empty payload: tag-only, still authenticated. */
    struct buf z = BUF_INIT;
    ca_seal(key, NULL, 0, &z);
    ASSERT_EQ_INT(z.len, CA_SEAL_OVERHEAD);
    t_unseal_fails(wrong, z.p, z.len);
    z.p[z.len - 1] ^= 1;
    t_unseal_fails(key, z.p, z.len);
    buf_release(&z);
    buf_release(&s);
}

/* The etcd CA is a different authority: its certificates do not verify against the swarm
 * root and the other way round; its CRL is signed by it, lists exactly the serials given
 * (as OpenSSL reads them back), and refuses a malformed serial. */
TEST(ca_etcd_crl)
{
    struct err e = {0};
    struct t_ca swarm, etcd;
    t_ca_new(&swarm);
    ASSERT_EQ_INT(ca_etcd_root_new(&etcd.cert, &etcd.key, &e), 0);
    X509 *ex = t_cert(etcd.cert);
    char cn[64];
    X509_NAME_get_text_by_NID(X509_get_subject_name(ex), NID_commonName, cn, sizeof(cn));
    ASSERT_EQ_STR(cn, "shoal-etcd-ca");

    const char *ips[] = {"10.0.0.7"};
    char *k1 = NULL, *k2 = NULL, *kw = NULL;
    char *c1 = t_issue(&etcd, CA_NODE_EXPIRY_NS, ips, 1, &k1);
    char *c2 = t_issue(&etcd, CA_NODE_EXPIRY_NS, ips, 1, &k2);
    char *cw = t_issue(&swarm, CA_NODE_EXPIRY_NS, ips, 1, &kw);
    ASSERT_EQ_INT(ca_verify(etcd.cert, c1, NULL, &e), 0);
    ASSERT_EQ_INT(ca_verify(etcd.cert, cw, NULL, &e), -ERR_UNAUTHORIZED);
    ASSERT_EQ_INT(ca_verify(swarm.cert, c1, NULL, &e), -ERR_UNAUTHORIZED);

    char *s1 = NULL, *s2 = NULL;
    ASSERT_EQ_INT(ca_cert_serial(c1, &s1, &e), 0);
    ASSERT_EQ_INT(ca_cert_serial(c2, &s2, &e), 0);
    ASSERT_TRUE(strcmp(s1, s2) != 0);
    ASSERT_EQ_INT(strlen(s1), 32); /* 16 octets */

    const char *revoked[] = {s1};
    char *crl_pem = NULL;
    ASSERT_EQ_INT(ca_crl_new(etcd.cert, etcd.key, revoked, 1, &crl_pem, &e), 0);
    ASSERT_CONTAINS(crl_pem, "-----BEGIN X509 CRL-----");
    BIO *bio = BIO_new_mem_buf(crl_pem, -1);
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ASSERT_NOT_NULL(crl);
    ASSERT_EQ_INT(X509_CRL_verify(crl, X509_get0_pubkey(ex)), 1);
    ASSERT_EQ_INT(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ex)), 0);
    ASSERT_EQ_INT(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
    X509 *x1 = t_cert(c1), *x2 = t_cert(c2);
    X509_REVOKED *r = NULL;
    ASSERT_EQ_INT(X509_CRL_get0_by_cert(crl, &r, x1), 1);
    ASSERT_EQ_INT(X509_CRL_get0_by_cert(crl, &r, x2), 0);
    ASSERT_TRUE(X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)) > 0);
    X509_CRL_free(crl);
    free(crl_pem);

    /* empty list: still a valid CRL; a bad serial or the wrong key: refused */
    ASSERT_EQ_INT(ca_crl_new(etcd.cert, etcd.key, NULL, 0, &crl_pem, &e), 0);
    ASSERT_CONTAINS(crl_pem, "-----BEGIN X509 CRL-----");
    free(crl_pem);
    const char *bad[] = {s1, "12zz"};
    ASSERT_EQ_INT(ca_crl_new(etcd.cert, etcd.key, bad, 2, &crl_pem, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "12zz");
    ASSERT_EQ_INT(ca_crl_new(etcd.cert, swarm.key, revoked, 1, &crl_pem, &e), -ERR_INVALID);

    X509_free(x1);
    X509_free(x2);
    X509_free(ex);
    free(s1);
    free(s2);
    free(c1);
    free(c2);
    free(cw);
    free(k1);
    free(k2);
    free(kw);
    t_ca_free(&etcd);
    t_ca_free(&swarm);
}

/* A CSR for a fresh key of the given kind, signed with it (PEM; caller frees). */
static char *t_csr_for(EVP_PKEY *k)
{
    X509_REQ *req = X509_REQ_new();
    ASSERT_TRUE(X509_REQ_set_pubkey(req, k) == 1);
    /* Ed25519 signs without a separate digest */
    const EVP_MD *md = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    ASSERT_TRUE(X509_REQ_sign(req, k, md) > 0);
    BIO *bio = BIO_new(BIO_s_mem());
    ASSERT_TRUE(PEM_write_bio_X509_REQ(bio, req) == 1);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = xstrndup(data, (size_t)len);
    BIO_free(bio);
    X509_REQ_free(req);
    return pem;
}

static int t_issue_key(const struct t_ca *ca, EVP_PKEY *k, struct err *e)
{
    char *csr = t_csr_for(k), *cert = NULL;
    int rc = ca_issue(ca->cert, ca->key, csr, &t_id, CA_NODE_EXPIRY_NS, NULL, 0, &cert, e);
    if (rc == 0)
        ASSERT_NOT_NULL(cert);
    else
        ASSERT_NULL(cert);
    free(cert);
    free(csr);
    EVP_PKEY_free(k);
    return rc;
}

TEST(ca_csr_weak_keys_refused)
{
    struct t_ca ca;
    t_ca_new(&ca);
    struct err e = {0};
    /* RSA-512 and RSA-1024 were signed before: a node could hold a certificate anyone can
     * factor. */
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_RSA_gen(512), &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "2048");
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_RSA_gen(1024), &e), -ERR_INVALID);
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_EC_gen("secp224r1"), &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "P-256");
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), &e), -ERR_INVALID);
    /* what is strong enough is signed */
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_RSA_gen(2048), &e), 0);
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_EC_gen("P-256"), &e), 0);
    ASSERT_EQ_INT(t_issue_key(&ca, EVP_EC_gen("P-384"), &e), 0);
    t_ca_free(&ca);
}

TEST(ca_verify_far_expiry_saturates)
{
    /* --cert-expiry of the longest Go duration (292 years): notAfter in 2318 used to
     * overflow timegm() x 1e9 in ca_verify (UBSan abort in the renewal timer) */
    struct t_ca ca;
    t_ca_new(&ca);
    char *key = NULL;
    char *cert = t_issue(&ca, INT64_MAX, NULL, 0, &key);
    struct ca_identity id;
    struct err e = {0};
    if (ca_verify(ca.cert, cert, &id, &e) != 0)
        FAIL_AT("ca_verify: %s", e.msg);
    ASSERT_TRUE(id.not_after_ns == INT64_MAX);
    ASSERT_TRUE(id.not_before_ns > 0 && id.not_before_ns < id.not_after_ns);
    free(cert);
    free(key);
    t_ca_free(&ca);
}

TEST(ca_renew_window)
{
    int64_t nb = 1000, na = 1000 + 3600LL * 1000000000LL; /* one hour */
    int64_t life = na - nb;
    ASSERT_EQ_INT(ca_renew_at(nb, na, 0.0), nb + life / 2);
    ASSERT_EQ_INT(ca_renew_at(nb, na, 1.0), nb + life / 2 + life * 3 / 10);
    int64_t mid = ca_renew_at(nb, na, 0.5);
    ASSERT_TRUE(mid > nb + life / 2 && mid < nb + life * 8 / 10);
    /* out-of-range draws are clamped into the 50%..80% window */
    ASSERT_EQ_INT(ca_renew_at(nb, na, -3.0), nb + life / 2);
    ASSERT_EQ_INT(ca_renew_at(nb, na, 7.0), nb + life / 2 + life * 3 / 10);
}

/* The renewal check with a fake clock: a 1 h certificate is kept until its renewal point,
 * due from there to its end, and refused (not renewable over mutual TLS) before its start and
 * after its end. */
TEST(ca_cert_due_with_a_fake_clock)
{
    struct err e = {0};
    char *root = NULL, *root_key = NULL, *key = NULL, *csr = NULL, *cert = NULL;
    ASSERT_EQ_INT(ca_root_new(&root, &root_key, &e), 0);
    ASSERT_EQ_INT(ca_key_csr_new(&key, &csr, &e), 0);
    struct ca_identity ident = {.cn = "f2k7w0hy4c0x8bspykaw8qzuk",
                                .ou = "swarm-worker",
                                .org = "ny5qvmeqjr6ilsbbecsj6uvgc"};
    ASSERT_EQ_INT(ca_issue(root, root_key, csr, &ident, 3600LL * 1000000000LL, NULL, 0, &cert, &e),
                  0);
    struct ca_identity id;
    ASSERT_EQ_INT(ca_verify(root, cert, &id, &e), 0);
    int64_t nb = id.not_before_ns, na = id.not_after_ns, s = 1000000000LL;
    for (int i = 0; i <= 10; i++) {
        double r = i / 10.0;
        int64_t at = ca_renew_at(nb, na, r);
        ASSERT_EQ_INT(ca_cert_due(root, cert, r, nb, &e), 0);
        ASSERT_EQ_INT(ca_cert_due(root, cert, r, at - s, &e), 0);
        ASSERT_EQ_INT(ca_cert_due(root, cert, r, at, &e), 1);
        ASSERT_EQ_INT(ca_cert_due(root, cert, r, na - s, &e), 1);
    }
    ASSERT_EQ_INT(ca_cert_due(root, cert, 0.5, na + s, &e), -ERR_UNAUTHORIZED);
    ASSERT_EQ_INT(ca_cert_due(root, cert, 0.5, nb - s, &e), -ERR_UNAUTHORIZED);
    char *other = NULL, *other_key = NULL;
    ASSERT_EQ_INT(ca_root_new(&other, &other_key, &e), 0);
    ASSERT_EQ_INT(ca_cert_due(other, cert, 0.5, nb + s, &e), -ERR_UNAUTHORIZED);
    free(root);
    free(root_key);
    free(other);
    free(other_key);
    free(key);
    free(csr);
    free(cert);
}
