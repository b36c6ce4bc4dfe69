/* node_keys.c — encryption at rest: the data key (DEK) that seals every value shoal writes
 * to etcd, kept in keys/dek sealed either by a key-encryption key in keys/kek or, with
 * autolock, by the operator's unlock key (then no key is on disk and the node starts
 * locked). Thread: the loop thread; small blocking file I/O. */
#include "node_int.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_dek(struct node *n, const uint8_t wrap[32], const char *sealed_by, struct err *e)
{
    struct buf sealed = BUF_INIT;
    ca_seal(wrap, n->dek, sizeof(n->dek), &sealed);
    char *b64 = b64_encode(sealed.p, sealed.len, true);
    buf_release(&sealed);
    json_t *j = json_pack("{s:s, s:s}", "SealedBy", sealed_by, "DEK", b64);
    free(b64);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *path = xasprintf("%s/dek", n->keys_dir);
    int rc = file_write_atomic(path, s, strlen(s), 0600, e);
    free(path);
    free(s);
    return rc;
}

static int write_new_kek(struct node *n, uint8_t kek[32], struct err *e)
{
    rand_bytes(kek, 32);
    char *path = xasprintf("%s/kek", n->keys_dir);
    int rc = file_write_atomic(path, kek, 32, 0600, e);
    free(path);
    return rc;
}

static void remove_kek(struct node *n)
{
    char *path = xasprintf("%s/kek", n->keys_dir);
    unlink(path);
    free(path);
}

int node_keys_reseal(struct node *n, const char *unlock_key, struct err *e)
{
    BUG_ON(!n->have_dek);
    int rc = dir_make(n->keys_dir, 0700, e);
    if (rc)
        return rc;
    uint8_t wrap[32];
    if (unlock_key) {
        rc = ca_unlock_key_parse(unlock_key, wrap, e);
        if (!rc)
            rc = write_dek(n, wrap, "unlock", e);
        if (!rc)
            remove_kek(n);
    } else {
        rc = write_new_kek(n, wrap, e);
        if (!rc)
            rc = write_dek(n, wrap, "kek", e);
    }
    memset(wrap, 0, sizeof(wrap));
    return rc;
}

int node_keys_create(struct node *n, const char *unlock_key, struct err *e)
{
    rand_bytes(n->dek, sizeof(n->dek));
    n->have_dek = true;
    return node_keys_reseal(n, unlock_key, e);
}

/* Reads keys/dek: fills *sealed (raw bytes) and returns whether an unlock key seals it. */
static int read_dek(struct node *n, struct buf *sealed, bool *by_unlock, struct err *e)
{
    char *path = xasprintf("%s/dek", n->keys_dir), *data = NULL;
    size_t len;
    int rc = file_read(path, &data, &len, e);
    free(path);
    if (rc)
        return err_wrap(e, "cannot read the swarm's data key");
    json_t *j = json_loadb(data, len, 0, NULL);
    free(data);
    const char *by = json_string_value(json_object_get(j, "SealedBy"));
    const char *b64 = json_string_value(json_object_get(j, "DEK"));
    if (!by || !b64) {
        json_decref(j);
        return err_set(e, ERR_INTERNAL, "the swarm's data key file is corrupt");
    }
    *by_unlock = !strcmp(by, "unlock");
    rc = b64_decode(b64, strlen(b64), sealed, e);
    json_decref(j);
    return rc;
}

int node_keys_load(struct node *n, struct err *e)
{
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    bool by_unlock = false;
    int rc = read_dek(n, &sealed, &by_unlock, e);
    if (rc || by_unlock)
        goto out;
    char *path = xasprintf("%s/kek", n->keys_dir), *kek = NULL;
    size_t len = 0;
    rc = file_read(path, &kek, &len, e);
    free(path);
    if (rc)
        goto out;
    if (len != 32) {
        free(kek);
        rc = err_set(e, ERR_INTERNAL, "the swarm's key-encryption key is corrupt");
        goto out;
    }
    rc = ca_unseal((const uint8_t *)kek, sealed.p, sealed.len, &plain, e);
    memset(kek, 0, 32);
    free(kek);
    if (!rc && plain.len != 32)
        rc = err_set(e, ERR_INTERNAL, "the swarm's data key is corrupt");
    if (!rc) {
        memcpy(n->dek, plain.p, 32);
        n->have_dek = true;
    }
out:
    buf_release(&sealed);
    if (plain.p)
        memset(plain.p, 0, plain.len);
    buf_release(&plain);
    if (rc)
        return rc;
    return by_unlock ? 1 : 0;
}

int node_keys_unlock(struct node *n, const char *unlock_key, struct err *e)
{
    uint8_t wrap[32];
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    bool by_unlock = false;
    int rc = ca_unlock_key_parse(unlock_key, wrap, e);
    if (rc) {
        rc = err_set(e, ERR_INVALID, "invalid key string");
        goto out;
    }
    rc = read_dek(n, &sealed, &by_unlock, e);
    if (rc)
        goto out;
    if (ca_unseal(wrap, sealed.p, sealed.len, &plain, e) < 0 || plain.len != 32) {
        rc = err_set(e, ERR_UNAUTHORIZED, "swarm could not be unlocked: invalid key provided");
        goto out;
    }
    memcpy(n->dek, plain.p, 32);
    n->have_dek = true;
    free(n->unlock_key);
    n->unlock_key = xstrdup(unlock_key);
out:
    memset(wrap, 0, sizeof(wrap));
    buf_release(&sealed);
    if (plain.p)
        memset(plain.p, 0, plain.len);
    buf_release(&plain);
    return rc;
}
