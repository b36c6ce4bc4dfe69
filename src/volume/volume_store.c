/* volume_store.c — the volumes of this node: <root>/<name>/{meta.json,_data}, their users
 * (containers) in memory, and the local driver's mounts.
 *
 * Invariants: the map holds exactly the volumes whose directory is in place with a readable
 * meta.json; a volume with users is never removed; a volume with options (type/device) is
 * mounted on its _data while it has users. Made under .tmp-*, renamed into place; removed by a
 * rename to .rm-* first, so a crash never leaves half a volume that looks whole.
 * Thread: the loop thread. */
#include "volume/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct vol {
    struct volume_meta m;
    char **users; /* container IDs */
    size_t nusers;
};

struct volume_store {
    char *root;
    struct strmap *vols; /* name -> struct vol */
};

static void vol_free(struct vol *v)
{
    if (!v)
        return;
    volume_meta_release(&v->m);
    for (size_t i = 0; i < v->nusers; i++)
        free(v->users[i]);
    free(v->users);
    free(v);
}

static bool vol_anonymous(const struct vol *v)
{
    return json_object_get(v->m.labels, VOLUME_ANON_LABEL) != NULL;
}

static char *vol_dir(const struct volume_store *vs, const char *name)
{
    return xasprintf("%s/%s", vs->root, name);
}

char *volume_data_path(struct volume_store *vs, const char *name)
{
    return strmap_get(vs->vols, name) ? xasprintf("%s/%s/_data", vs->root, name) : NULL;
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char rnd[32];
    BUG_ON(bytes > sizeof(rnd));
    rand_bytes(rnd, bytes);
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

static void fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* ---- open ---- */

static void load_one(struct volume_store *vs, const char *name)
{
    struct err e = {0};
    char *path = xasprintf("%s/%s/meta.json", vs->root, name), *data = NULL;
    size_t n = 0;
    struct vol *v = xcalloc(1, sizeof(*v));
    if (file_read(path, &data, &n, &e) < 0 || volume_meta_decode(data, n, &v->m, &e) < 0) {
        log_warn("volumes: %s: %s (skipped)", path, e.msg);
        vol_free(v);
    } else if (strcmp(v->m.name, name)) {
        log_warn("volumes: %s names volume %s (skipped)", path, v->m.name);
        vol_free(v);
    } else {
        strmap_put(vs->vols, v->m.name, v);
    }
    free(data);
    free(path);
}

struct volume_store *volume_store_open(const char *root, struct err *e)
{
    if (dir_make(root, 0701, e) < 0)
        return NULL;
    DIR *d = opendir(root);
    if (!d) {
        err_set(e, ERR_INTERNAL, "open %s: %s", root, strerror(errno));
        return NULL;
    }
    struct volume_store *vs = xcalloc(1, sizeof(*vs));
    vs->root = xstrdup(root);
    vs->vols = strmap_new();
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (str_has_prefix(de->d_name, ".tmp-") || str_has_prefix(de->d_name, ".rm-")) {
            /* a create or a removal that did not finish */
            char *p = vol_dir(vs, de->d_name);
            struct err ig = {0};
            if (dir_remove_all(p, &ig) < 0)
                log_warn("volumes: %s", ig.msg);
            free(p);
            continue;
        }
        if (volume_name_check(de->d_name, NULL) == 0)
            load_one(vs, de->d_name);
    }
    closedir(d);
    log_debug("volumes: %zu in %s", strmap_len(vs->vols), root);
    return vs;
}

void volume_store_free(struct volume_store *vs)
{
    if (!vs)
        return;
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(vs->vols, &it, &k, &v))
        vol_free(v);
    strmap_free(vs->vols);
    free(vs->root);
    free(vs);
}

/* ---- create, inspect ---- */

static json_t *strings_copy(const json_t *j)
{
    return json_is_object(j) ? json_deep_copy(j) : NULL;
}

int volume_create(struct volume_store *vs, const struct volume_req *rq, char **name_out,
                  bool *created, struct err *e)
{
    char rnd[65];
    const char *name = rq->name && rq->name[0] ? rq->name : NULL;
    if (!name) {
        random_hex(rnd, 32);
        name = rnd;
    }
    if (volume_name_check(name, e) < 0 || volume_driver_check(rq->driver, e) < 0 ||
        volume_opts_check(rq->options, e) < 0)
        return err_wrap(e, "create %s", name);
    if (rq->labels && !json_is_object(rq->labels))
        return err_set(e, ERR_INVALID, "create %s: invalid labels", name);
    if (strmap_get(vs->vols, name)) {
        if (name_out)
            *name_out = xstrdup(name);
        if (created)
            *created = false;
        return 0;
    }
    char tmpname[24] = ".tmp-";
    random_hex(tmpname + 5, 8);
    char *tmp = vol_dir(vs, tmpname), *data = xasprintf("%s/_data", tmp);
    char *meta_path = xasprintf("%s/meta.json", tmp), *final = vol_dir(vs, name);
    struct vol *v = xcalloc(1, sizeof(*v));
    v->m.name = xstrdup(name);
    v->m.labels = strings_copy(rq->labels);
    v->m.options = strings_copy(rq->options);
    v->m.created_s = time(NULL);
    if (rq->anonymous) {
        if (!v->m.labels)
            v->m.labels = json_object();
        json_object_set_new(v->m.labels, VOLUME_ANON_LABEL, json_string(""));
    }
    char *text = volume_meta_encode(&v->m);
    int rc = 0;
    if (mkdir(tmp, 0755) < 0 || mkdir(data, 0755) < 0)
        rc = err_set(e, ERR_INTERNAL, "create %s: mkdir %s: %s", name, tmp, strerror(errno));
    else if (file_write_atomic(meta_path, text, strlen(text), 0600, e) < 0)
        rc = err_wrap(e, "create %s", name);
    else if (rename(tmp, final) < 0)
        rc =
            err_set(e, ERR_INTERNAL, "create %s: rename into %s: %s", name, final, strerror(errno));
    if (rc < 0) {
        struct err ig = {0};
        dir_remove_all(tmp, &ig);
        vol_free(v);
    } else {
        fsync_path(vs->root);
        strmap_put(vs->vols, v->m.name, v);
        log_info("volumes: created %s", name);
        if (name_out)
            *name_out = xstrdup(name);
        if (created)
            *created = true;
    }
    free(text);
    free(final);
    free(meta_path);
    free(data);
    free(tmp);
    return rc;
}

json_t *volume_inspect(struct volume_store *vs, const char *name, struct err *e)
{
    struct vol *v = strmap_get(vs->vols, name);
    if (!v) {
        err_set(e, ERR_NOT_FOUND, "get %s: no such volume", name);
        return NULL;
    }
    char *mp = xasprintf("%s/%s/_data", vs->root, name);
    json_t *j = volume_meta_json(&v->m, mp);
    free(mp);
    return j;
}

/* ---- the local driver's mounts ---- */

static bool vol_mounts(const struct vol *v)
{
    return json_string_value(json_object_get(v->m.options, "type")) != NULL;
}

/* 1 when path is the root of a mount, 0 when not, negative on error. */
static int is_mount_root(const char *path)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
        return -1;
    if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
        return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    struct stat a, b; /* an older kernel: a different device than the parent's */
    char *parent = xasprintf("%s/..", path);
    int rc = stat(path, &a) == 0 && stat(parent, &b) == 0 ? a.st_dev != b.st_dev : -1;
    free(parent);
    return rc;
}

static int vol_mount(struct volume_store *vs, struct vol *v, struct err *e)
{
    char *data = xasprintf("%s/%s/_data", vs->root, v->m.name);
    int rc = 0;
    if (is_mount_root(data) != 1) { /* mounted already: a daemon restart keeps it */
        const char *type = json_string_value(json_object_get(v->m.options, "type"));
        const char *dev = json_string_value(json_object_get(v->m.options, "device"));
        unsigned long flags;
        char *mdata;
        volume_mount_opts(json_string_value(json_object_get(v->m.options, "o")), &flags, &mdata);
        if (mount(dev, data, type, flags, mdata) < 0)
            rc = err_set(e, ERR_INTERNAL,
                         "error while mounting volume '%s': failed to mount local volume: mount "
                         "%s:%s, flags: %#lx, data: %s: %s",
                         data, dev, data, flags, mdata, strerror(errno));
        free(mdata);
    }
    free(data);
    return rc;
}

static int vol_unmount(struct volume_store *vs, struct vol *v, struct err *e)
{
    char *data = xasprintf("%s/%s/_data", vs->root, v->m.name);
    int rc = 0;
    if (is_mount_root(data) == 1 && umount2(data, 0) < 0 &&
        (errno != EBUSY || umount2(data, MNT_DETACH) < 0))
        rc = err_set(e, ERR_INTERNAL, "unmount %s: %s", data, strerror(errno));
    free(data);
    return rc;
}

/* ---- users ---- */

int volume_use(struct volume_store *vs, const char *name, const char *ctr_id, struct err *e)
{
    struct vol *v = strmap_get(vs->vols, name);
    if (!v)
        return err_set(e, ERR_NOT_FOUND, "get %s: no such volume", name);
    for (size_t i = 0; i < v->nusers; i++)
        if (!strcmp(v->users[i], ctr_id))
            return 0;
    if (vol_mounts(v) && vol_mount(vs, v, e) < 0)
        return -ERR_INTERNAL;
    v->users = xrealloc(v->users, (v->nusers + 1) * sizeof(*v->users));
    v->users[v->nusers++] = xstrdup(ctr_id);
    return 0;
}

static char **names_sorted(struct volume_store *vs, size_t *n);

void volume_unuse(struct volume_store *vs, const char *ctr_id, bool remove_anonymous)
{
    size_t n;
    char **names = names_sorted(vs, &n);
    for (size_t i = 0; i < n; i++) {
        struct vol *v = strmap_get(vs->vols, names[i]);
        bool was = false;
        for (size_t k = 0; k < v->nusers; k++) {
            if (strcmp(v->users[k], ctr_id))
                continue;
            free(v->users[k]);
            v->users[k] = v->users[--v->nusers];
            was = true;
            break;
        }
        struct err e = {0};
        if (!was || v->nusers)
            continue;
        if (remove_anonymous && vol_anonymous(v)) {
            if (volume_remove(vs, names[i], false, NULL, &e) < 0)
                log_warn("volumes: removing anonymous volume %s: %s", names[i], e.msg);
        } else if (vol_mounts(v) && vol_unmount(vs, v, &e) < 0) {
            log_warn("volumes: %s", e.msg);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- remove ---- */

/* Bytes of the files below dfd (Docker's directory.Size: regular files' sizes, once per
 * inode would be better; it counts each name), not crossing into other file systems. */
static int64_t tree_size(int dfd, dev_t dev, int depth)
{
    int fd = dup(dfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    int64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 256) {
            int c = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (c >= 0) {
                sum += tree_size(c, dev, depth + 1);
                close(c);
            }
        } else if (!S_ISDIR(st.st_mode)) {
            sum += st.st_size;
        }
    }
    closedir(d);
    return sum;
}

int volume_remove(struct volume_store *vs, const char *name, bool force, int64_t *reclaimed,
                  struct err *e)
{
    struct vol *v = strmap_get(vs->vols, name);
    if (reclaimed)
        *reclaimed = 0;
    if (!v)
        return force ? 0 : err_set(e, ERR_NOT_FOUND, "get %s: no such volume", name);
    if (v->nusers) {
        char *ids = volume_users_text(v->users, v->nusers);
        err_set(e, ERR_CONFLICT, "remove %s: volume is in use - %s", name, ids);
        free(ids);
        return -ERR_CONFLICT;
    }
    /* never delete through a mount (a bind of a host directory, say) */
    if (vol_unmount(vs, v, e) < 0)
        return err_wrap(e, "remove %s", name);
    char *dir = vol_dir(vs, name), *data = xasprintf("%s/_data", dir);
    if (is_mount_root(data) == 1) {
        err_set(e, ERR_INTERNAL, "remove %s: %s is still mounted", name, data);
        free(data);
        free(dir);
        return -ERR_INTERNAL;
    }
    if (reclaimed) {
        int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0)
            *reclaimed = tree_size(fd, st.st_dev, 0);
        if (fd >= 0)
            close(fd);
    }
    char rmname[24] = ".rm-";
    random_hex(rmname + 4, 8);
    char *gone = vol_dir(vs, rmname);
    int rc = 0;
    if (rename(dir, gone) < 0) {
        rc = err_set(e, ERR_INTERNAL, "remove %s: rename %s: %s", name, dir, strerror(errno));
    } else {
        fsync_path(vs->root);
        strmap_del(vs->vols, name);
        vol_free(v);
        struct err ig = {0};
        if (dir_remove_all(gone, &ig) < 0) /* out of sight already; the next open retries */
            log_warn("volumes: %s", ig.msg);
        log_info("volumes: removed %s", name);
    }
    free(gone);
    free(data);
    free(dir);
    return rc;
}

/* ---- list ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **names_sorted(struct volume_store *vs, size_t *n)
{
    char **names = xcalloc(strmap_len(vs->vols) + 1, sizeof(*names));
    const char *k;
    void *v;
    size_t it = 0;
    *n = 0;
    while (strmap_next(vs->vols, &it, &k, &v))
        names[(*n)++] = xstrdup(k);
    qsort(names, *n, sizeof(*names), cmp_str);
    return names;
}

void volume_each(struct volume_store *vs, volume_each_fn fn, void *arg)
{
    size_t n;
    char **names = names_sorted(vs, &n);
    for (size_t i = 0; i < n; i++) {
        struct vol *v = strmap_get(vs->vols, names[i]);
        json_t *j = volume_inspect(vs, names[i], NULL);
        fn(arg, j, vol_anonymous(v), v->nusers);
        json_decref(j);
        free(names[i]);
    }
    free(names);
}
