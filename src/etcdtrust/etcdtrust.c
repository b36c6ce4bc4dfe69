/* etcdtrust.c — etcd's trust on a manager (see etcdtrust.h): the etcd CA on disk (its key
 * sealed with the data key), this manager's etcd certificate, etcd's CRL file, the contents
 * of the replicated records, and the two decisions (is the etcd certificate usable at now,
 * which serials to revoke). Files are written atomically; key material read into memory is
 * wiped before it is freed. Thread: the loop thread; small blocking file I/O. */
#include "etcdtrust.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *cpath(const struct etcdtrust *t, const char *name)
{
    return xasprintf("%s/%s", t->certs_dir, name);
}

static char *ca_key_path(const struct etcdtrust *t)
{
    return xasprintf("%s/etcd-ca.key", t->keys_dir);
}

static void set_ca(struct etcdtrust *t, const char *cert, const char *key)
{
    free(t->ca_cert);
    if (t->ca_key)
        memset(t->ca_key, 0, strlen(t->ca_key));
    free(t->ca_key);
    t->ca_cert = cert ? xstrdup(cert) : NULL;
    t->ca_key = key ? xstrdup(key) : NULL;
}

void etcdtrust_init(struct etcdtrust *t, const char *certs_dir, const char *keys_dir)
{
    *t = (struct etcdtrust){.certs_dir = xstrdup(certs_dir), .keys_dir = xstrdup(keys_dir)};
}

void etcdtrust_release(struct etcdtrust *t)
{
    etcdtrust_forget(t, false);
    free(t->certs_dir);
    free(t->keys_dir);
    *t = (struct etcdtrust){0};
}

int etcdtrust_ca_install(struct etcdtrust *t, const uint8_t dek[32], const char *cert,
                         const char *key, struct err *e)
{
    BUG_ON(!dek);
    int rc = ca_key_matches(cert, key, e);
    if (!rc)
        rc = dir_make(t->certs_dir, 0700, e);
    if (!rc)
        rc = dir_make(t->keys_dir, 0700, e);
    if (rc)
        return err_wrap(e, "the etcd CA");
    struct buf sealed = BUF_INIT;
    ca_seal(dek, key, strlen(key), &sealed);
    char *b64 = b64_encode(sealed.p, sealed.len, true);
    buf_release(&sealed);
    json_t *j = json_pack("{s:s, s:s}", "SealedBy", "dek", "Key", b64);
    free(b64);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *kp = ca_key_path(t), *cp = cpath(t, "etcd-ca.crt");
    rc = file_write_atomic(kp, s, strlen(s), 0600, e);
    if (!rc)
        rc = file_write_atomic(cp, cert, strlen(cert), 0644, e);
    free(kp);
    free(cp);
    free(s);
    if (!rc)
        set_ca(t, cert, key);
    return rc;
}

int etcdtrust_ca_create(struct etcdtrust *t, const uint8_t dek[32], struct err *e)
{
    char *cert = NULL, *key = NULL;
    int rc = ca_etcd_root_new(&cert, &key, e);
    if (!rc)
        rc = etcdtrust_ca_install(t, dek, cert, key, e);
    free(cert);
    free(key);
    return rc;
}

/* Reads the etcd CA from disk into t; -ERR_NOT_FOUND when this data root has none. */
static int load_ca(struct etcdtrust *t, const uint8_t dek[32], struct err *e)
{
    char *kp = ca_key_path(t), *cp = cpath(t, "etcd-ca.crt"), *cert = NULL, *data = NULL;
    size_t len;
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    json_t *j = NULL;
    int rc = 0;
    if (access(kp, F_OK) != 0 || access(cp, F_OK) != 0) {
        rc = err_set(e, ERR_NOT_FOUND, "no etcd CA on this manager");
        goto out;
    }
    if ((rc = file_read(cp, &cert, &len, e)) < 0 || (rc = file_read(kp, &data, &len, e)) < 0)
        goto out;
    j = json_loadb(data, len, 0, NULL);
    const char *b64 = json_string_value(json_object_get(j, "Key"));
    if (!b64) {
        rc = err_set(e, ERR_INTERNAL, "keys/etcd-ca.key is corrupt");
        goto out;
    }
    if ((rc = b64_decode(b64, strlen(b64), &sealed, e)) < 0 ||
        (rc = ca_unseal(dek, sealed.p, sealed.len, &plain, e)) < 0)
        goto out;
    buf_add(&plain, "", 1); /* NUL-terminate the PEM */
    if ((rc = ca_key_matches(cert, plain.p, e)) < 0)
        goto out;
    set_ca(t, cert, plain.p);
out:
    if (rc < 0 && rc != -ERR_NOT_FOUND)
        err_wrap(e, "cannot load the etcd CA");
    if (plain.p)
        memset(plain.p, 0, plain.len);
    buf_release(&plain);
    buf_release(&sealed);
    json_decref(j);
    free(kp);
    free(cp);
    free(cert);
    free(data);
    return rc;
}

bool etcdtrust_cert_ok(const char *ca_pem, const char *cert_pem, const char *key_pem,
                       const struct etcdtrust_self *self, int64_t now_ns)
{
    struct err e;
    struct ca_identity id;
    const char *ip = self->ip ? self->ip : "";
    return ca_pem && cert_pem && key_pem && ca_key_matches(cert_pem, key_pem, &e) == 0 &&
           ca_verify_at(ca_pem, cert_pem, now_ns, &id, &e) == 0 && !strcmp(id.cn, self->id) &&
           !strcmp(id.ou, CA_ETCD_OU) && (!ip[0] || ca_cert_has_ip(cert_pem, ip)) &&
           now_ns < ca_renew_at(id.not_before_ns, id.not_after_ns, 1.0);
}

/* True if certs/etcd.crt and etcd.key are usable for self at now_ns (etcdtrust_cert_ok). */
static bool cert_usable(const struct etcdtrust *t, const struct etcdtrust_self *self,
                        int64_t now_ns)
{
    char *cp = cpath(t, "etcd.crt"), *kp = cpath(t, "etcd.key"), *cert = NULL, *key = NULL;
    size_t len;
    bool ok = file_read(cp, &cert, &len, NULL) == 0 && file_read(kp, &key, &len, NULL) == 0 &&
              etcdtrust_cert_ok(t->ca_cert, cert, key, self, now_ns);
    if (key)
        memset(key, 0, strlen(key));
    free(cp);
    free(kp);
    free(cert);
    free(key);
    return ok;
}

static int issue_cert(const struct etcdtrust *t, const struct etcdtrust_self *self, struct err *e)
{
    char *key = NULL, *csr = NULL, *cert = NULL;
    const char *ip = self->ip ? self->ip : "";
    struct ca_identity ident = {0};
    snprintf(ident.cn, sizeof(ident.cn), "%s", self->id);
    snprintf(ident.ou, sizeof(ident.ou), "%s", CA_ETCD_OU);
    snprintf(ident.org, sizeof(ident.org), "%s", self->cluster_id);
    const char *ips[] = {ip};
    int rc = ca_key_csr_new(&key, &csr, e);
    if (!rc)
        rc = ca_issue(t->ca_cert, t->ca_key, csr, &ident, ETCDTRUST_CERT_EXPIRY_NS, ips,
                      ip[0] ? 1 : 0, &cert, e);
    char *kp = cpath(t, "etcd.key"), *cp = cpath(t, "etcd.crt");
    if (!rc)
        rc = file_write_atomic(kp, key, strlen(key), 0600, e);
    if (!rc)
        rc = file_write_atomic(cp, cert, strlen(cert), 0644, e);
    if (!rc)
        log_info("issued this manager's etcd certificate");
    free(kp);
    free(cp);
    if (key)
        memset(key, 0, strlen(key));
    free(key);
    free(csr);
    free(cert);
    return rc;
}

static int write_crl(const struct etcdtrust *t, const char *crl, struct err *e)
{
    char *p = cpath(t, "etcd-crl.pem");
    int rc = file_write_atomic(p, crl, strlen(crl), 0644, e);
    free(p);
    return rc;
}

int etcdtrust_prepare(struct etcdtrust *t, const uint8_t dek[32], const struct etcdtrust_self *self,
                      int64_t now_ns, struct err *e)
{
    t->on = false;
    int rc = load_ca(t, dek, e);
    if (rc == -ERR_NOT_FOUND) {
        log_warn("this manager has no etcd CA yet (a data root from an older version): etcd "
                 "trusts the swarm's certificates until the next restart after the leader "
                 "distributed one");
        return 0;
    }
    if (rc < 0)
        return rc;
    if (!cert_usable(t, self, now_ns) && (rc = issue_cert(t, self, e)) < 0)
        return err_wrap(e, "cannot issue this manager's etcd certificate");
    char *p = cpath(t, "etcd-crl.pem");
    bool have_crl = access(p, F_OK) == 0;
    free(p);
    if (!have_crl) {
        /* etcd refuses every connection without a readable CRL: start with an empty one;
         * the swarm's record replaces it as soon as the store feed delivers it */
        char *crl = NULL;
        rc = ca_crl_new(t->ca_cert, t->ca_key, NULL, 0, &crl, e);
        if (!rc)
            rc = write_crl(t, crl, e);
        free(crl);
        if (rc < 0)
            return err_wrap(e, "cannot write etcd's CRL");
    }
    t->on = true;
    return 0;
}

void etcdtrust_forget(struct etcdtrust *t, bool remove_files)
{
    set_ca(t, NULL, NULL);
    t->on = false;
    t->ca_recorded = false;
    json_decref(t->serials);
    json_decref(t->revoked);
    t->serials = t->revoked = NULL;
    if (!remove_files)
        return;
    const char *names[] = {"etcd.crt", "etcd.key", "etcd-ca.crt", "etcd-crl.pem"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char *p = cpath(t, names[i]);
        unlink(p);
        free(p);
    }
    char *kp = ca_key_path(t);
    unlink(kp);
    free(kp);
}

json_t *etcdtrust_ca_record(const struct etcdtrust *t)
{
    if (!t->on || !t->ca_cert || !t->ca_key)
        return NULL;
    return json_pack("{s:s, s:s}", "Cert", t->ca_cert, "Key", t->ca_key);
}

int etcdtrust_ca_from_answer(struct etcdtrust *t, const uint8_t dek[32], const char *cert,
                             const char *key, struct err *e)
{
    if (!cert && !key)
        return 0; /* an older manager: this one runs etcd on the swarm's certificates */
    if (!cert || !key)
        return err_set(e, ERR_INTERNAL, "the manager sent a malformed etcd CA");
    return etcdtrust_ca_install(t, dek, cert, key, e);
}

bool etcdtrust_has(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!strcmp(json_string_value(v) ?: "", s))
            return true;
    }
    return false;
}

bool etcdtrust_apply(struct etcdtrust *t, const uint8_t *dek, const char *name, json_t *rec)
{
    struct err e;
    if (!strcmp(name, "etcdca")) {
        const char *cert = json_string_value(json_object_get(rec, "Cert"));
        const char *key = json_string_value(json_object_get(rec, "Key"));
        t->ca_recorded = true;
        if (!cert || !key || !dek)
            return true;
        if (!t->ca_cert) {
            /* an older data root: keep it for the next start of etcd */
            if (etcdtrust_ca_install(t, dek, cert, key, &e) < 0)
                log_error("cannot store the swarm's etcd CA: %s", e.msg);
            else
                log_info("stored the swarm's etcd CA: etcd uses it from its next restart");
        } else if (strcmp(cert, t->ca_cert) != 0) {
            log_warn("the swarm's etcd CA differs from this manager's; keeping this one");
        }
        return true;
    }
    if (!strcmp(name, "etcdcrl")) {
        json_decref(t->revoked);
        json_t *serials = json_object_get(rec, "Serials");
        t->revoked = json_is_array(serials) ? json_deep_copy(serials) : json_array();
        const char *crl = json_string_value(json_object_get(rec, "CRL"));
        if (crl && t->on && write_crl(t, crl, &e) < 0)
            log_error("cannot write etcd's CRL: %s", e.msg);
        return true;
    }
    if (str_has_prefix(name, "etcdcert-")) {
        json_t *serials = json_object_get(rec, "Serials");
        if (!t->serials)
            t->serials = json_object();
        if (json_is_array(serials))
            json_object_set(t->serials, name + strlen("etcdcert-"), serials);
        return true;
    }
    return false;
}

int etcdtrust_cert_serial(const struct etcdtrust *t, char **serial, struct err *e)
{
    char *cp = cpath(t, "etcd.crt"), *cert = NULL;
    size_t len;
    int rc = file_read(cp, &cert, &len, e);
    if (!rc)
        rc = ca_cert_serial(cert, serial, e);
    free(cp);
    free(cert);
    return rc;
}

int etcdtrust_crl_sign(const struct etcdtrust *t, json_t *serials, char **crl, struct err *e)
{
    if (!t->ca_cert || !t->ca_key)
        return err_set(e, ERR_UNAVAILABLE, "no etcd CA on this manager");
    size_t ns = json_array_size(serials);
    const char **list = xcalloc(ns ? ns : 1, sizeof(char *));
    for (size_t i = 0; i < ns; i++)
        list[i] = json_string_value(json_array_get(serials, i));
    int rc = ca_crl_new(t->ca_cert, t->ca_key, list, ns, crl, e);
    free(list);
    return rc;
}

/* ---- the leader's revocation decision (pure) ---- */

json_t *etcdtrust_to_revoke(const struct etcdtrust_holder *h, size_t n, json_t *revoked,
                            json_t *who)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (h[i].manager || h[i].member)
            continue; /* a demoting manager takes itself out of etcd first */
        size_t before = json_array_size(out), j;
        json_t *s;
        json_array_foreach(h[i].serials, j, s)
        {
            const char *serial = json_string_value(s);
            if (serial && !etcdtrust_has(revoked, serial) && !etcdtrust_has(out, serial))
                json_array_append(out, s);
        }
        if (who && json_array_size(out) > before)
            json_array_append_new(who, json_string(h[i].id));
    }
    return out;
}
