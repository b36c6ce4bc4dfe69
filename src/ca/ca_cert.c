/* ca_cert.c — the swarm's X.509 side: root CA creation (the swarm root and the separate etcd
 * CA), node keys and CSRs, issuing node certificates, the etcd CA's CRL of removed members,
 * verifying certificates against the root, when a certificate is due for renewal, key/cert
 * matching and the root digest.
 *
 * Invariants: everything is PEM in, PEM out; every OpenSSL object made here is freed before
 * return, and the thread's OpenSSL error queue is left empty (its text is copied into the
 * struct err). Certificates follow what swarmkit issues: ECDSA P-256 keys, ecdsa-with-SHA256
 * signatures, subject O=<cluster>, OU=<role>, CN=<node>, and SANs that let Go's TLS stack
 * (etcd) use one certificate as server and client. Pure functions; any thread. */
#include "ca/ca.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

#define CA_BACKDATE_S 60

/* Sets e to kind with "<what>: <first OpenSSL error>" and empties the error queue. */
static int ca_ossl_err(struct err *e, int kind, const char *what)
{
    unsigned long code = ERR_peek_error();
    char detail[256] = "";
    if (code)
        ERR_error_string_n(code, detail, sizeof(detail));
    ERR_clear_error();
    if (detail[0])
        return err_set(e, kind, "%s: %s", what, detail);
    return err_set(e, kind, "%s", what);
}

static char *ca_bio_take(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    BUG_ON(n < 0);
    return xstrndup(data, (size_t)n);
}

/* Reads the first certificate of pem into *x (caller frees). */
static int ca_load_cert(const char *pem, const char *what, X509 **x, struct err *e)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    BUG_ON(!bio);
    *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return *x ? 0 : ca_ossl_err(e, ERR_INVALID, what);
}

static int ca_load_key(const char *pem, const char *what, EVP_PKEY **k, struct err *e)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    BUG_ON(!bio);
    *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return *k ? 0 : ca_ossl_err(e, ERR_INVALID, what);
}

static char *ca_key_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    BUG_ON(!bio);
    BUG_ON(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1);
    char *s = ca_bio_take(bio);
    BIO_free(bio);
    return s;
}

static char *ca_cert_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    BUG_ON(!bio);
    BUG_ON(PEM_write_bio_X509(bio, x) != 1);
    char *s = ca_bio_take(bio);
    BIO_free(bio);
    return s;
}

static EVP_PKEY *ca_p256_new(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BUG_ON(!k);
    return k;
}

/* A random positive 128-bit serial number, as Go and cfssl use. */
static void ca_set_serial(X509 *x)
{
    uint8_t r[16];
    rand_bytes(r, sizeof(r));
    r[0] &= 0x7f;
    r[0] |= 0x40; /* keep it 16 octets in DER and never zero */
    BIGNUM *bn = BN_bin2bn(r, sizeof(r), NULL);
    BUG_ON(!bn);
    BUG_ON(!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
}

/* Validity [now - 1 min, now + expiry_ns]. */
static void ca_set_validity(X509 *x, int64_t expiry_ns)
{
    time_t now = (time_t)(time_now_ns() / 1000000000LL);
    BUG_ON(!ASN1_TIME_set(X509_getm_notBefore(x), now - CA_BACKDATE_S));
    BUG_ON(!ASN1_TIME_set(X509_getm_notAfter(x), now + (time_t)(expiry_ns / 1000000000LL)));
}

/* Adds an extension from OpenSSL's config syntax; only ever called with constant text. */
static void ca_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    BUG_ON(!ext);
    BUG_ON(X509_add_ext(x, ext, -1) != 1);
    X509_EXTENSION_free(ext);
}

static int ca_name_add(X509_NAME *name, int nid, const char *value, struct err *e)
{
    if (!value[0])
        return err_set(e, ERR_INVALID, "empty certificate subject field %s", OBJ_nid2sn(nid));
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)value, -1, -1,
                                   0) != 1)
        return ca_ossl_err(e, ERR_INVALID, "bad certificate subject");
    return 0;
}

static int root_new(const char *cn, char **cert_pem, char **key_pem)
{
    EVP_PKEY *key = ca_p256_new();
    X509 *x = X509_new();
    BUG_ON(!x);
    BUG_ON(X509_set_version(x, X509_VERSION_3) != 1);
    ca_set_serial(x);
    ca_set_validity(x, CA_ROOT_EXPIRY_NS);
    X509_NAME *name = X509_get_subject_name(x);
    BUG_ON(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC, (const unsigned char *)cn,
                                      -1, -1, 0) != 1);
    BUG_ON(X509_set_issuer_name(x, name) != 1);
    BUG_ON(X509_set_pubkey(x, key) != 1);

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    ca_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    ca_add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    BUG_ON(X509_sign(x, key, EVP_sha256()) <= 0);

    *cert_pem = ca_cert_pem(x);
    *key_pem = ca_key_pem(key);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

/* Nothing in root_new() can fail short of a broken OpenSSL, which BUG_ON catches. */
int ca_root_new(char **cert_pem, char **key_pem, struct err *e)
{
    (void)e;
    return root_new("swarm-ca", cert_pem, key_pem);
}

int ca_etcd_root_new(char **cert_pem, char **key_pem, struct err *e)
{
    (void)e;
    return root_new("shoal-etcd-ca", cert_pem, key_pem);
}

int ca_key_csr_new(char **key_pem, char **csr_pem, struct err *e)
{
    (void)e;
    EVP_PKEY *key = ca_p256_new();
    X509_REQ *req = X509_REQ_new();
    BUG_ON(!req);
    BUG_ON(X509_REQ_set_version(req, 0) != 1);
    BUG_ON(X509_REQ_set_pubkey(req, key) != 1);
    BUG_ON(X509_REQ_sign(req, key, EVP_sha256()) <= 0);

    BIO *bio = BIO_new(BIO_s_mem());
    BUG_ON(!bio);
    BUG_ON(PEM_write_bio_X509_REQ(bio, req) != 1);
    *csr_pem = ca_bio_take(bio);
    *key_pem = ca_key_pem(key);
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return 0;
}

static void ca_san_push(GENERAL_NAMES *gens, GENERAL_NAME *gen)
{
    BUG_ON(!sk_GENERAL_NAME_push(gens, gen));
}

static void ca_san_dns(GENERAL_NAMES *gens, const char *name)
{
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS && !strcmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), name))
            return; /* no duplicates */
    }
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    BUG_ON(!s);
    BUG_ON(ASN1_STRING_set(s, name, -1) != 1);
    GENERAL_NAME *g = GENERAL_NAME_new();
    BUG_ON(!g);
    GENERAL_NAME_set0_value(g, GEN_DNS, s);
    ca_san_push(gens, g);
}

/* Accepts IPv4 or IPv6 text (no brackets, no zone). */
static int ca_san_ip(GENERAL_NAMES *gens, const char *ip, struct err *e)
{
    unsigned char raw[16];
    int n;
    if (inet_pton(AF_INET, ip, raw) == 1)
        n = 4;
    else if (inet_pton(AF_INET6, ip, raw) == 1)
        n = 16;
    else
        return err_set(e, ERR_INVALID, "invalid IP address for certificate: \"%s\"", ip);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == n &&
            !memcmp(ASN1_STRING_get0_data(g->d.iPAddress), raw, (size_t)n))
            return 0;
    }
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
    BUG_ON(!s);
    BUG_ON(ASN1_OCTET_STRING_set(s, raw, n) != 1);
    GENERAL_NAME *g = GENERAL_NAME_new();
    BUG_ON(!g);
    GENERAL_NAME_set0_value(g, GEN_IPADD, s);
    ca_san_push(gens, g);
    return 0;
}

/* A CSR's key must be one a peer's TLS would accept for years: ECDSA on P-256 or a larger
 * NIST curve, or RSA of at least 2048 bits (swarmkit's own keys are P-256). Anything else
 * (RSA-512, DSA, exotic curves) → ERR_INVALID. */
static int ca_csr_key_strong(EVP_PKEY *pub, struct err *e)
{
    int bits = EVP_PKEY_get_bits(pub);
    switch (EVP_PKEY_get_base_id(pub)) {
    case EVP_PKEY_EC: {
        char curve[64] = "";
        size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                           &len) == 1 &&
            (!strcmp(curve, "prime256v1") || !strcmp(curve, "P-256") ||
             !strcmp(curve, "secp384r1") || !strcmp(curve, "P-384") ||
             !strcmp(curve, "secp521r1") || !strcmp(curve, "P-521")))
            return 0;
        return err_set(e, ERR_INVALID,
                       "certificate signing request key must be ECDSA on P-256, P-384 or P-521 "
                       "(got curve %s)",
                       curve[0] ? curve : "unknown");
    }
    case EVP_PKEY_RSA:
        if (bits >= 2048)
            return 0;
        return err_set(e, ERR_INVALID,
                       "certificate signing request key is RSA with %d bits: at least 2048 are "
                       "required",
                       bits);
    default:
        return err_set(e, ERR_INVALID,
                       "certificate signing request key must be ECDSA (P-256 or larger) or RSA "
                       "(2048 bits or more)");
    }
}

int ca_issue(const char *root_cert_pem, const char *root_key_pem, const char *csr_pem,
             const struct ca_identity *id, int64_t expiry_ns, const char *const *ips, size_t nips,
             char **cert_pem, struct err *e)
{
    int rc = 0;
    X509 *root = NULL, *x = NULL;
    EVP_PKEY *root_key = NULL, *pub = NULL;
    X509_REQ *req = NULL;
    GENERAL_NAMES *gens = NULL;
    BIO *bio = NULL;

    if ((rc = ca_load_cert(root_cert_pem, "invalid root CA certificate", &root, e)) < 0 ||
        (rc = ca_load_key(root_key_pem, "invalid root CA key", &root_key, e)) < 0)
        goto out;
    if (X509_check_private_key(root, root_key) != 1) {
        rc = ca_ossl_err(e, ERR_INVALID, "root CA key does not match its certificate");
        goto out;
    }

    bio = BIO_new_mem_buf(csr_pem, -1);
    BUG_ON(!bio);
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    if (!req) {
        rc = ca_ossl_err(e, ERR_INVALID, "invalid certificate signing request");
        goto out;
    }
    pub = X509_REQ_get_pubkey(req);
    if (!pub) {
        rc = ca_ossl_err(e, ERR_INVALID, "certificate signing request has no usable public key");
        goto out;
    }
    if (X509_REQ_verify(req, pub) != 1) {
        rc = ca_ossl_err(e, ERR_INVALID, "certificate signing request signature is invalid");
        goto out;
    }
    if ((rc = ca_csr_key_strong(pub, e)) < 0)
        goto out;

    x = X509_new();
    BUG_ON(!x);
    BUG_ON(X509_set_version(x, X509_VERSION_3) != 1);
    ca_set_serial(x);
    ca_set_validity(x, expiry_ns);
    X509_NAME *name = X509_get_subject_name(x);
    if ((rc = ca_name_add(name, NID_organizationName, id->org, e)) < 0 ||
        (rc = ca_name_add(name, NID_organizationalUnitName, id->ou, e)) < 0 ||
        (rc = ca_name_add(name, NID_commonName, id->cn, e)) < 0)
        goto out;
    BUG_ON(X509_set_issuer_name(x, X509_get_subject_name(root)) != 1);
    BUG_ON(X509_set_pubkey(x, pub) != 1);

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, root, x, NULL, NULL, 0);
    ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    ca_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    ca_add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    ca_add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    ca_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");

    gens = GENERAL_NAMES_new();
    BUG_ON(!gens);
    ca_san_dns(gens, id->ou);
    ca_san_dns(gens, id->cn);
    ca_san_dns(gens, "localhost");
    if ((rc = ca_san_ip(gens, "127.0.0.1", e)) < 0)
        goto out;
    for (size_t i = 0; i < nips; i++)
        if ((rc = ca_san_ip(gens, ips[i], e)) < 0)
            goto out;
    BUG_ON(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1);

    if (X509_sign(x, root_key, EVP_sha256()) <= 0) {
        rc = ca_ossl_err(e, ERR_INTERNAL, "signing the certificate failed");
        goto out;
    }
    *cert_pem = ca_cert_pem(x);

out:
    GENERAL_NAMES_free(gens);
    X509_free(x);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    BIO_free(bio);
    EVP_PKEY_free(root_key);
    X509_free(root);
    ERR_clear_error();
    return rc;
}

static void ca_name_get(X509_NAME *name, int nid, char *out, size_t outsz)
{
    out[0] = 0;
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return;
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n < 0)
        return;
    snprintf(out, outsz, "%.*s", n, (const char *)utf8);
    OPENSSL_free(utf8);
}

/* A certificate time in ns since the epoch, saturated to int64 (a Go-duration expiry can
 * reach 2318, past the last nanosecond int64 holds). */
static int64_t ca_time_ns(const ASN1_TIME *t)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    int64_t ns;
    int64_t sec = (int64_t)timegm(&tm);
    if (__builtin_mul_overflow(sec, (int64_t)1000000000, &ns))
        return sec < 0 ? INT64_MIN : INT64_MAX;
    return ns;
}

int ca_verify(const char *root_cert_pem, const char *cert_pem, struct ca_identity *id,
              struct err *e)
{
    return ca_verify_at(root_cert_pem, cert_pem, time_now_ns(), id, e);
}

int ca_verify_at(const char *root_cert_pem, const char *cert_pem, int64_t now_ns,
                 struct ca_identity *id, struct err *e)
{
    int rc = 0;
    X509 *root = NULL, *x = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;

    if ((rc = ca_load_cert(root_cert_pem, "invalid root CA certificate", &root, e)) < 0 ||
        (rc = ca_load_cert(cert_pem, "invalid certificate", &x, e)) < 0)
        goto out;
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    BUG_ON(!store || !ctx);
    BUG_ON(X509_STORE_add_cert(store, root) != 1);
    /* A trust bundle (during a root rotation: old and new root) trusts every root in it. */
    BIO *bio = BIO_new_mem_buf(root_cert_pem, -1);
    X509 *more;
    BUG_ON(!bio);
    X509_free(PEM_read_bio_X509(bio, NULL, NULL, NULL)); /* the first one is `root` */
    while ((more = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        X509_STORE_add_cert(store, more);
        X509_free(more);
    }
    ERR_clear_error();
    BIO_free(bio);
    BUG_ON(X509_STORE_CTX_init(ctx, store, x, NULL) != 1);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
    X509_STORE_CTX_set_time(ctx, 0, (time_t)(now_ns / 1000000000LL));
    if (X509_verify_cert(ctx) != 1) {
        int verr = X509_STORE_CTX_get_error(ctx);
        switch (verr) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            rc = err_set(e, ERR_UNAUTHORIZED, "x509: certificate has expired");
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            rc = err_set(e, ERR_UNAUTHORIZED, "x509: certificate is not yet valid");
            break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
            rc = err_set(e, ERR_UNAUTHORIZED, "x509: certificate signed by unknown authority");
            break;
        default:
            rc = err_set(e, ERR_UNAUTHORIZED, "x509: %s", X509_verify_cert_error_string(verr));
            break;
        }
        goto out;
    }
    if (id) {
        X509_NAME *name = X509_get_subject_name(x);
        ca_name_get(name, NID_commonName, id->cn, sizeof(id->cn));
        ca_name_get(name, NID_organizationalUnitName, id->ou, sizeof(id->ou));
        ca_name_get(name, NID_organizationName, id->org, sizeof(id->org));
        id->not_before_ns = ca_time_ns(X509_get0_notBefore(x));
        id->not_after_ns = ca_time_ns(X509_get0_notAfter(x));
    }

out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(x);
    X509_free(root);
    ERR_clear_error();
    return rc;
}

int ca_key_matches(const char *cert_pem, const char *key_pem, struct err *e)
{
    int rc = 0;
    X509 *x = NULL;
    EVP_PKEY *key = NULL;
    if ((rc = ca_load_cert(cert_pem, "invalid certificate", &x, e)) < 0 ||
        (rc = ca_load_key(key_pem, "invalid private key", &key, e)) < 0)
        goto out;
    if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1)
        rc = err_set(e, ERR_INVALID, "private key does not match the certificate");
out:
    EVP_PKEY_free(key);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

char *ca_digest(const char *root_cert_pem)
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    BUG_ON(EVP_Digest(root_cert_pem, strlen(root_cert_pem), md, &mdlen, EVP_sha256(), NULL) != 1);
    BUG_ON(mdlen != sizeof(md));
    return base36_encode(md, sizeof(md), CA_TOKEN_DIGEST_LEN);
}

int ca_cross_sign(const char *old_cert_pem, const char *old_key_pem, const char *new_cert_pem,
                  char **cross_pem, struct err *e)
{
    X509 *old = NULL, *nw = NULL, *x = NULL;
    EVP_PKEY *old_key = NULL;
    int rc;
    if ((rc = ca_load_cert(old_cert_pem, "invalid old root certificate", &old, e)) < 0 ||
        (rc = ca_load_key(old_key_pem, "invalid old root key", &old_key, e)) < 0 ||
        (rc = ca_load_cert(new_cert_pem, "invalid new root certificate", &nw, e)) < 0)
        goto out;
    if (X509_check_private_key(old, old_key) != 1) {
        rc = err_set(e, ERR_INVALID, "the old root key does not match its certificate");
        goto out;
    }
    /* The new root's name and key, vouched for by the old root: a chain through it leads
     * peers that still trust only the old root to the new one. */
    x = X509_new();
    BUG_ON(!x);
    BUG_ON(X509_set_version(x, X509_VERSION_3) != 1);
    ca_set_serial(x);
    BUG_ON(!X509_set1_notBefore(x, X509_get0_notBefore(nw)));
    const ASN1_TIME *na = ASN1_TIME_compare(X509_get0_notAfter(nw), X509_get0_notAfter(old)) < 0
                              ? X509_get0_notAfter(nw)
                              : X509_get0_notAfter(old);
    BUG_ON(!X509_set1_notAfter(x, na));
    BUG_ON(X509_set_subject_name(x, X509_get_subject_name(nw)) != 1);
    BUG_ON(X509_set_issuer_name(x, X509_get_subject_name(old)) != 1);
    BUG_ON(X509_set_pubkey(x, X509_get0_pubkey(nw)) != 1);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, old, x, NULL, NULL, 0);
    ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    ca_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    ca_add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    ca_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    BUG_ON(X509_sign(x, old_key, EVP_sha256()) <= 0);
    *cross_pem = ca_cert_pem(x);
out:
    X509_free(x);
    X509_free(nw);
    X509_free(old);
    EVP_PKEY_free(old_key);
    return rc;
}

int ca_cert_issuer(const char *bundle_pem, const char *cert_pem, char **issuer_pem, struct err *e)
{
    X509 *leaf = NULL;
    int rc = ca_load_cert(cert_pem, "invalid certificate", &leaf, e);
    if (rc < 0)
        return rc;
    BIO *bio = BIO_new_mem_buf(bundle_pem, -1);
    BUG_ON(!bio);
    X509 *root;
    rc = err_set(e, ERR_NOT_FOUND, "no root in the bundle issued this certificate");
    while ((root = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        bool found = X509_check_issued(root, leaf) == X509_V_OK &&
                     X509_verify(leaf, X509_get0_pubkey(root)) == 1;
        if (found) {
            *issuer_pem = ca_cert_pem(root);
            rc = 0;
        }
        X509_free(root);
        if (found)
            break;
    }
    ERR_clear_error();
    BIO_free(bio);
    X509_free(leaf);
    return rc;
}

/* ---- the etcd CA's serials and CRL ---- */

bool ca_cert_has_ip(const char *cert_pem, const char *ip)
{
    X509 *x = NULL;
    struct err e;
    if (ca_load_cert(cert_pem, "invalid certificate", &x, &e) < 0)
        return false;
    bool ok = X509_check_ip_asc(x, ip, 0) == 1;
    X509_free(x);
    ERR_clear_error();
    return ok;
}

int ca_cert_serial(const char *cert_pem, char **serial_hex, struct err *e)
{
    X509 *x = NULL;
    int rc = ca_load_cert(cert_pem, "invalid certificate", &x, e);
    if (rc < 0)
        return rc;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    BUG_ON(!bn);
    char *hex = BN_bn2hex(bn);
    BUG_ON(!hex);
    *serial_hex = xstrdup(hex);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return 0;
}

int ca_crl_new(const char *ca_cert_pem, const char *ca_key_pem, const char *const *serials,
               size_t n, char **crl_pem, struct err *e)
{
    X509 *ca = NULL;
    EVP_PKEY *key = NULL;
    X509_CRL *crl = NULL;
    BIGNUM *bn = NULL;
    ASN1_TIME *now = NULL;
    int rc;
    if ((rc = ca_load_cert(ca_cert_pem, "invalid etcd CA certificate", &ca, e)) < 0 ||
        (rc = ca_load_key(ca_key_pem, "invalid etcd CA key", &key, e)) < 0)
        goto out;
    if (X509_check_private_key(ca, key) != 1) {
        rc = ca_ossl_err(e, ERR_INVALID, "etcd CA key does not match its certificate");
        goto out;
    }
    crl = X509_CRL_new();
    BUG_ON(!crl);
    BUG_ON(X509_CRL_set_version(crl, 1) != 1); /* v2 */
    BUG_ON(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1);
    now = ASN1_TIME_set(NULL, (time_t)(time_now_ns() / 1000000000LL) - CA_BACKDATE_S);
    BUG_ON(!now);
    BUG_ON(X509_CRL_set1_lastUpdate(crl, now) != 1);
    BUG_ON(X509_CRL_set1_nextUpdate(crl, X509_get0_notAfter(ca)) != 1);
    for (size_t i = 0; i < n; i++) {
        if (!serials[i][0] || strspn(serials[i], "0123456789abcdefABCDEF") != strlen(serials[i]) ||
            !BN_hex2bn(&bn, serials[i])) {
            rc = err_set(e, ERR_INVALID, "invalid certificate serial \"%s\"", serials[i]);
            goto out;
        }
        X509_REVOKED *r = X509_REVOKED_new();
        BUG_ON(!r);
        ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
        BUG_ON(!ai);
        BUG_ON(X509_REVOKED_set_serialNumber(r, ai) != 1);
        ASN1_INTEGER_free(ai);
        BUG_ON(X509_REVOKED_set_revocationDate(r, now) != 1);
        BUG_ON(X509_CRL_add0_revoked(crl, r) != 1);
    }
    BUG_ON(X509_CRL_sort(crl) != 1);
    if (X509_CRL_sign(crl, key, EVP_sha256()) <= 0) {
        rc = ca_ossl_err(e, ERR_INTERNAL, "signing the CRL failed");
        goto out;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    BUG_ON(!bio);
    BUG_ON(PEM_write_bio_X509_CRL(bio, crl) != 1);
    *crl_pem = ca_bio_take(bio);
    BIO_free(bio);
out:
    ASN1_TIME_free(now);
    BN_free(bn);
    X509_CRL_free(crl);
    EVP_PKEY_free(key);
    X509_free(ca);
    ERR_clear_error();
    return rc;
}

int64_t ca_renew_at(int64_t not_before_ns, int64_t not_after_ns, double r)
{
    int64_t life = not_after_ns - not_before_ns;
    if (r < 0)
        r = 0;
    if (r > 1)
        r = 1;
    return not_before_ns + life / 2 + (int64_t)((double)life * 0.3 * r);
}

int ca_cert_due(const char *ca_pem, const char *cert_pem, double r, int64_t now_ns, struct err *e)
{
    struct ca_identity id;
    int rc = ca_verify_at(ca_pem, cert_pem, now_ns, &id, e);
    if (rc < 0)
        return rc;
    return now_ns >= ca_renew_at(id.not_before_ns, id.not_after_ns, r);
}
