/* rootca.c — root CA rotation's state and decisions (see rootca.h): pure functions over the
 * roots, the cluster object and the nodes' reported TLSInfo; digests and TLSInfo fields come
 * from src/ca (pure crypto). Thread: any, one at a time. */
#include "rootca.h"

#include "ca/ca.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

void rootca_roots_release(struct rootca_roots *r)
{
    free(r->cert);
    free(r->key);
    free(r->new_cert);
    free(r->new_key);
    free(r->cross);
    *r = (struct rootca_roots){0};
}

static char *dup_nonempty(json_t *rec, const char *field)
{
    const char *s = json_string_value(json_object_get(rec, field));
    return s && s[0] ? xstrdup(s) : NULL;
}

void rootca_roots_load(struct rootca_roots *r, json_t *rec)
{
    rootca_roots_release(r);
    r->cert = xstrdup(json_string_value(json_object_get(rec, "Cert")) ?: "");
    r->key = xstrdup(json_string_value(json_object_get(rec, "Key")) ?: "");
    r->new_cert = dup_nonempty(rec, "NewCert");
    r->new_key = dup_nonempty(rec, "NewKey");
    r->cross = dup_nonempty(rec, "Cross");
}

char *rootca_trust_bundle(const struct rootca_roots *r)
{
    if (!r->cert)
        return NULL;
    return r->new_cert ? xasprintf("%s%s", r->cert, r->new_cert) : xstrdup(r->cert);
}

const char *rootca_signing_cert(const struct rootca_roots *r)
{
    return r->new_cert ? r->new_cert : r->cert;
}

const char *rootca_signing_key(const struct rootca_roots *r)
{
    return r->new_cert ? r->new_key : r->key;
}

char *rootca_chain(const struct rootca_roots *r, const char *cert)
{
    return r->cross ? xasprintf("%s%s", cert, r->cross) : xstrdup(cert);
}

json_t *rootca_tls_info(const char *root_pem)
{
    char *subj = NULL, *pub = NULL;
    struct err e;
    if (ca_tls_info(root_pem, &subj, &pub, &e) < 0)
        return json_object();
    json_t *j = json_pack("{s:s, s:s, s:s}", "TrustRoot", root_pem, "CertIssuerSubject", subj,
                          "CertIssuerPublicKey", pub);
    free(subj);
    free(pub);
    return j;
}

/* ---- the start ---- */

int rootca_start_wanted(json_t *cur_cluster, json_t *spec, const char **cert, const char **key,
                        struct err *e)
{
    json_t *ca = json_object_get(spec, "CAConfig");
    json_int_t want = json_integer_value(json_object_get(ca, "ForceRotate"));
    json_int_t had = json_integer_value(store_json_path(cur_cluster, "Spec.CAConfig.ForceRotate"));
    const char *given = json_string_value(json_object_get(ca, "SigningCACert"));
    const char *given_key = json_string_value(json_object_get(ca, "SigningCAKey"));
    *cert = *key = NULL;
    if (given && given[0]) {
        if (!given_key || !given_key[0])
            return err_set(e, ERR_INVALID,
                           "rpc error: code = InvalidArgument desc = the signing CA key is "
                           "required: shoal does not support external CAs");
        *cert = given;
        *key = given_key;
        return ROOTCA_START_GIVEN;
    }
    return want != had ? ROOTCA_START_GENERATE : ROOTCA_START_NONE;
}

json_t *rootca_start_record(const struct rootca_roots *r, const char *new_cert, const char *new_key,
                            const char *cross)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "Cert", r->cert ?: "", "Key", r->key ?: "",
                     "NewCert", new_cert, "NewKey", new_key, "Cross", cross);
}

void rootca_start_cluster(json_t *obj, const char *new_cert)
{
    json_object_set_new(obj, "TLSInfo", rootca_tls_info(new_cert));
    json_object_set_new(obj, "RootRotationInProgress", json_true());
}

/* ---- the leader's decision ---- */

bool rootca_rotating(const struct rootca_view *v)
{
    return v->in_progress && v->have_new_root && !v->finishing && v->want;
}

enum rootca_next rootca_reconcile(const struct rootca_view *v, const struct rootca_node *nodes,
                                  size_t n, const char **lagging, size_t *nlagging)
{
    size_t lag = 0;
    if (!rootca_rotating(v)) {
        if (nlagging)
            *nlagging = 0;
        return ROOTCA_IDLE;
    }
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].issuer_key && !strcmp(nodes[i].issuer_key, v->want))
            continue;
        if (lagging)
            lagging[lag] = nodes[i].id;
        lag++;
    }
    if (nlagging)
        *nlagging = lag;
    return lag ? ROOTCA_WAIT : ROOTCA_FINISH;
}

/* A join token "SWMTKN-1-<digest>-<secret>" with the digest replaced (malformed: left). */
static void retoken(json_t *tokens, const char *role, const char *digest)
{
    const char *t = json_string_value(json_object_get(tokens, role));
    if (t && strlen(t) > 9 + CA_TOKEN_DIGEST_LEN + 1) {
        char *nt = xasprintf("SWMTKN-1-%s-%s", digest, t + 9 + CA_TOKEN_DIGEST_LEN + 1);
        json_object_set_new(tokens, role, json_string(nt));
        free(nt);
    }
}

json_t *rootca_finish_cluster(json_t *cluster, const char *new_root, int64_t now_ns)
{
    json_t *c = json_deep_copy(cluster);
    json_object_set_new(c, "RootRotationInProgress", json_false());
    json_t *tokens = json_object_get(c, "JoinTokens");
    char *digest = ca_digest(new_root);
    retoken(tokens, "Worker", digest);
    retoken(tokens, "Manager", digest);
    free(digest);
    char now[40];
    time_format_rfc3339(now_ns, now);
    json_object_set_new(c, "UpdatedAt", json_string(now));
    return c;
}

json_t *rootca_finish_record(const struct rootca_roots *r)
{
    if (!r->new_cert)
        return NULL;
    return json_pack("{s:s, s:s, s:s}", "Cert", r->new_cert, "Key", r->new_key ?: "", "Cross",
                     r->cross ?: "");
}

/* ---- heartbeats ---- */

bool rootca_send_roots(const char *bundle, const char *want, const char *trusts, const char *issuer)
{
    return bundle &&
           (!trusts || strcmp(trusts, bundle) || !want || !issuer || strcmp(want, issuer));
}
