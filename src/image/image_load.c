/* image_load.c — reading `docker load` archives: `docker save` (manifest.json, old and
 * Docker 25+ layouts) and OCI image layouts (index.json), plain or compressed.
 *
 * The outer archive is first spooled: each regular file is copied to a flat, numbered file
 * under the store's tmp dir (its archive path is only a key in a map, never a file system
 * path), symlinks and hardlinks of the archive are resolved inside the archive's own name
 * space. Then the manifests are read, every blob named by digest is checked against it, and
 * the images go to image_store_commit (which checks diff_ids and unpacks). The spool dir is
 * removed whatever happens. */
#include "image_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spool {
    char *dir;
    struct strmap *files; /* archive path -> spooled file path (heap) */
    struct strmap *links; /* archive path -> archive path it points to (heap) */
    unsigned n;
};

/* Cleans an archive path: no leading "/" or "./", no "." components; ".." is resolved and
 * may not climb above the top. Returns NULL when it would. */
static char *clean_name(const char *base_dir, const char *name)
{
    struct buf b = BUF_INIT;
    if (base_dir && name[0] != '/')
        buf_printf(&b, "%s/", base_dir);
    buf_adds(&b, name);
    char *w = buf_detach(&b, NULL);
    char *comps[64];
    int n = 0;
    bool bad = false;
    for (char *save = NULL, *t = strtok_r(w, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (!strcmp(t, "."))
            continue;
        if (!strcmp(t, "..")) {
            if (n == 0) {
                bad = true;
                break;
            }
            n--;
            continue;
        }
        if (n == (int)ARRAY_SIZE(comps)) {
            bad = true;
            break;
        }
        comps[n++] = t;
    }
    char *out = NULL;
    if (!bad) {
        struct buf o = BUF_INIT;
        for (int i = 0; i < n; i++)
            buf_printf(&o, "%s%s", i ? "/" : "", comps[i]);
        out = buf_detach(&o, NULL);
    }
    free(w);
    return out;
}

static char *dir_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? xstrndup(p, (size_t)(s - p)) : NULL;
}

/* The spooled file for an archive path, following the archive's own links. */
static const char *spool_get(struct spool *sp, const char *name)
{
    char *cur = xstrdup(name);
    const char *found = NULL;
    for (int hops = 0; hops < 16 && cur; hops++) {
        if ((found = strmap_get(sp->files, cur)))
            break;
        const char *to = strmap_get(sp->links, cur);
        free(cur);
        cur = to ? xstrdup(to) : NULL;
    }
    free(cur);
    return found;
}

static void spool_release(struct spool *sp)
{
    const char *k;
    void *v;
    size_t it = 0;
    if (sp->files) {
        while (strmap_next(sp->files, &it, &k, &v))
            free(v);
        strmap_free(sp->files);
    }
    it = 0;
    if (sp->links) {
        while (strmap_next(sp->links, &it, &k, &v))
            free(v);
        strmap_free(sp->links);
    }
    if (sp->dir) {
        struct err ignored = {0};
        dir_remove_all(sp->dir, &ignored);
        free(sp->dir);
    }
}

static int spool_entry(struct spool *sp, struct archive *a, struct archive_entry *ent,
                       struct err *e)
{
    const char *raw = image_ar.entry_pathname(ent);
    if (!raw)
        return err_set(e, ERR_INVALID, "invalid archive: an entry has no name");
    char *name = clean_name(NULL, raw);
    if (!name)
        return err_set(e, ERR_INVALID, "invalid archive: %s is outside of the archive", raw);
    int rc = 0;
    const char *hl = image_ar.entry_hardlink(ent);
    mode_t type = image_ar.entry_filetype(ent);
    if (hl || type == AE_IFLNK) {
        char *d = dir_of(name);
        char *to = hl ? clean_name(NULL, hl) : clean_name(d, image_ar.entry_symlink(ent));
        free(d);
        if (to)
            free(strmap_put(sp->links, name, to));
        /* a link out of the archive is simply not followed */
        goto out;
    }
    if (type != AE_IFREG)
        goto out;
    char *file = xasprintf("%s/%u", sp->dir, sp->n++);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = err_set(e, ERR_INTERNAL, "create %s: %s", file, strerror(errno));
        free(file);
        goto out;
    }
    char chunk[65536];
    for (;;) {
        la_ssize_t r = image_ar.read_data(a, chunk, sizeof(chunk));
        if (r < 0) {
            rc = err_set(e, ERR_INVALID, "invalid archive: %s: %s", name, image_ar.error_string(a));
            break;
        }
        if (r == 0)
            break;
        la_ssize_t off = 0;
        while (off < r) {
            ssize_t w = write(fd, chunk + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = err_set(e, ERR_INTERNAL, "write %s: %s", file, strerror(errno));
                break;
            }
            off += w;
        }
        if (rc < 0)
            break;
    }
    close(fd);
    if (rc < 0) {
        free(file);
        goto out;
    }
    free(strmap_put(sp->files, name, file));
out:
    free(name);
    return rc;
}

static int spool_archive(struct spool *sp, int fd, struct err *e)
{
    if (image_ar_load(e) < 0)
        return -e->kind;
    struct archive *a = image_ar.read_new();
    image_ar.read_support_filter_all(a);
    image_ar.read_support_format_tar(a);
    int rc = 0;
    if (image_ar.read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        rc = err_set(e, ERR_INVALID, "invalid archive: %s", image_ar.error_string(a));
        goto out;
    }
    for (;;) {
        struct archive_entry *ent;
        int h = image_ar.read_next_header(a, &ent);
        if (h == ARCHIVE_EOF)
            break;
        if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
            rc = err_set(e, ERR_INVALID, "invalid archive: %s", image_ar.error_string(a));
            goto out;
        }
        if ((rc = spool_entry(sp, a, ent, e)) < 0)
            goto out;
    }
out:
    image_ar.read_free(a);
    return rc;
}

static int read_json(const char *file, const char *what, char **raw, size_t *len, json_t **out,
                     struct err *e)
{
    char *data = NULL;
    size_t n = 0;
    int rc = file_read(file, &data, &n, e);
    if (rc < 0)
        return rc;
    json_error_t je;
    json_t *j = json_loadb(data, n, 0, &je);
    if (!j) {
        free(data);
        return err_set(e, ERR_INVALID, "invalid archive: %s: %s", what, je.text);
    }
    *out = j;
    if (raw) {
        *raw = data;
        *len = n;
    } else {
        free(data);
    }
    return 0;
}

/* A blob named blobs/<alg>/<hex> must hash to that digest. Fills digest ("" if the path
 * names none). */
static int check_blob_path(struct spool *sp, const char *path, const char *file,
                           char digest[IMAGE_DIGEST_LEN + 1], struct err *e)
{
    digest[0] = '\0';
    char *clean = clean_name(NULL, path);
    int rc = 0;
    if (clean && str_has_prefix(clean, "blobs/sha256/") && image_hex64(clean + 13)) {
        char got[IMAGE_DIGEST_LEN + 1];
        if ((rc = image_sha256_file(file, got, e)) == 0) {
            snprintf(digest, IMAGE_DIGEST_LEN + 1, "sha256:%s", clean + 13);
            if (strcmp(got, digest))
                rc = err_set(e, ERR_INVALID,
                             "invalid archive: digest mismatch for %s: the content has %s", path,
                             got);
        }
    }
    free(clean);
    (void)sp;
    return rc;
}

/* Fills the config part of p from the archive path of a config. */
static int pending_config(struct spool *sp, struct image_pending *p, const char *path,
                          json_t **config, struct err *e)
{
    const char *file = spool_get(sp, path);
    if (!file)
        return err_set(e, ERR_INVALID, "invalid archive: %s is missing", path);
    char digest[IMAGE_DIGEST_LEN + 1];
    int rc = check_blob_path(sp, path, file, digest, e);
    if (rc < 0)
        return rc;
    return read_json(file, path, &p->config_raw, &p->config_len, config, e);
}

static int pending_layers(struct spool *sp, struct image_pending *p, json_t *config,
                          json_t *layer_paths, const char *const *expected_digests, struct err *e)
{
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (!json_is_array(diff_ids))
        return err_set(e, ERR_INVALID, "invalid archive: the image config has no rootfs.diff_ids");
    size_t n = json_array_size(layer_paths);
    if (json_array_size(diff_ids) != n)
        return err_set(e, ERR_INVALID,
                       "invalid archive: %zu layers for %zu diff_ids in the image config", n,
                       json_array_size(diff_ids));
    p->layers = xcalloc(n ? n : 1, sizeof(*p->layers));
    for (size_t i = 0; i < n; i++) {
        const char *path = json_string_value(json_array_get(layer_paths, i));
        const char *did = json_string_value(json_array_get(diff_ids, i));
        if (!path || !did || !str_has_prefix(did, "sha256:") || !image_hex64(did + 7))
            return err_set(e, ERR_INVALID, "invalid archive: bad layer %zu", i);
        const char *file = spool_get(sp, path);
        if (!file)
            return err_set(e, ERR_INVALID, "invalid archive: layer %s is missing", path);
        struct image_pending_layer *l = &p->layers[p->n_layers++];
        l->file = xstrdup(file);
        memcpy(l->diff_id, did, IMAGE_DIGEST_LEN + 1);
        int rc = check_blob_path(sp, path, file, l->blob_digest, e);
        if (rc < 0)
            return rc;
        if (expected_digests && expected_digests[i]) {
            if (!l->blob_digest[0]) {
                int r2 = image_sha256_file(file, l->blob_digest, e);
                if (r2 < 0)
                    return r2;
            }
            if (strcmp(l->blob_digest, expected_digests[i]))
                return err_set(e, ERR_INVALID,
                               "invalid archive: digest mismatch for layer %s: expected %s, got %s",
                               path, expected_digests[i], l->blob_digest);
        }
    }
    return 0;
}

static void pending_add_tag(struct image_pending *p, const char *full)
{
    p->tags = xrealloc(p->tags, (p->n_tags + 1) * sizeof(*p->tags));
    p->tags[p->n_tags++] = xstrdup(full);
}

static int add_tag_str(struct image_pending *p, const char *s, struct err *e)
{
    struct image_ref r;
    int rc = image_ref_parse(s, true, &r, e);
    if (rc < 0)
        return err_wrap(e, "invalid archive: tag %s", s);
    if (r.digest) { /* "name@digest" is not a tag to set from an archive */
        image_ref_release(&r);
        return 0;
    }
    char *full = image_ref_full(&r);
    pending_add_tag(p, full);
    free(full);
    image_ref_release(&r);
    return 0;
}

static int load_docker_save(struct spool *sp, const char *manifest_file, struct image_pending **out,
                            size_t *n_out, struct err *e)
{
    json_t *m = NULL;
    int rc = read_json(manifest_file, "manifest.json", NULL, NULL, &m, e);
    if (rc < 0)
        return rc;
    if (!json_is_array(m)) {
        json_decref(m);
        return err_set(e, ERR_INVALID, "invalid archive: manifest.json is not an array");
    }
    size_t n = json_array_size(m);
    struct image_pending *p = xcalloc(n ? n : 1, sizeof(*p));
    *out = p;
    *n_out = n;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *item = json_array_get(m, i);
        const char *cfg = json_string_value(json_object_get(item, "Config"));
        json_t *layers = json_object_get(item, "Layers");
        if (!cfg || !json_is_array(layers)) {
            rc = err_set(e, ERR_INVALID,
                         "invalid archive: manifest.json item %zu lacks Config "
                         "or Layers",
                         i);
            break;
        }
        json_t *config = NULL;
        if ((rc = pending_config(sp, &p[i], cfg, &config, e)) < 0)
            break;
        rc = pending_layers(sp, &p[i], config, layers, NULL, e);
        json_decref(config);
        json_t *tags = json_object_get(item, "RepoTags");
        for (size_t t = 0; rc == 0 && t < json_array_size(tags); t++) {
            const char *s = json_string_value(json_array_get(tags, t));
            if (s)
                rc = add_tag_str(&p[i], s, e);
        }
    }
    json_decref(m);
    return rc;
}

static char *blob_path(const char *digest)
{
    if (!digest || !str_has_prefix(digest, "sha256:") || !image_hex64(digest + 7))
        return NULL;
    return xasprintf("blobs/sha256/%s", digest + 7);
}

/* Reads the blob named by a descriptor, verified. */
static int oci_blob_json(struct spool *sp, json_t *desc, json_t **out, char **raw, size_t *len,
                         struct err *e)
{
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    char *path = blob_path(digest);
    if (!path)
        return err_set(e, ERR_INVALID, "invalid archive: bad descriptor digest %s",
                       digest ? digest : "(none)");
    const char *file = spool_get(sp, path);
    int rc;
    char got[IMAGE_DIGEST_LEN + 1];
    if (!file)
        rc = err_set(e, ERR_INVALID, "invalid archive: blob %s is missing", digest);
    else if ((rc = check_blob_path(sp, path, file, got, e)) == 0)
        rc = read_json(file, path, raw, len, out, e);
    free(path);
    return rc;
}

/* Picks, in an index, the manifest for this host (linux/amd64 or the first that is not an
 * attestation). */
static json_t *oci_pick(json_t *index)
{
    json_t *ms = json_object_get(index, "manifests"), *first = NULL;
    for (size_t i = 0; i < json_array_size(ms); i++) {
        json_t *d = json_array_get(ms, i);
        json_t *plat = json_object_get(d, "platform");
        const char *os = json_string_value(json_object_get(plat, "os"));
        const char *arch = json_string_value(json_object_get(plat, "architecture"));
        if (os && !strcmp(os, "unknown"))
            continue;
        if (!first)
            first = d;
        if (os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64"))
            return d;
    }
    return first;
}

static int load_oci(struct spool *sp, const char *index_file, struct image_pending **out,
                    size_t *n_out, struct err *e)
{
    json_t *idx = NULL;
    int rc = read_json(index_file, "index.json", NULL, NULL, &idx, e);
    if (rc < 0)
        return rc;
    json_t *ms = json_object_get(idx, "manifests");
    size_t n = json_array_size(ms);
    struct image_pending *p = xcalloc(n ? n : 1, sizeof(*p));
    *out = p;
    *n_out = n;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *desc = json_array_get(ms, i);
        json_t *ann = json_object_get(desc, "annotations");
        json_t *man = NULL;
        if ((rc = oci_blob_json(sp, desc, &man, NULL, NULL, e)) < 0)
            break;
        for (int depth = 0; depth < 4 && json_is_array(json_object_get(man, "manifests"));
             depth++) {
            json_t *pick = oci_pick(man);
            json_t *next = NULL;
            if (!pick) {
                rc = err_set(e, ERR_INVALID, "invalid archive: an image index with no manifest");
                break;
            }
            rc = oci_blob_json(sp, pick, &next, NULL, NULL, e);
            json_decref(man);
            man = next;
            if (rc < 0)
                break;
        }
        if (rc < 0)
            break;
        json_t *cdesc = json_object_get(man, "config");
        json_t *layers = json_object_get(man, "layers");
        json_t *config = NULL;
        if (!cdesc || !json_is_array(layers)) {
            rc = err_set(e, ERR_INVALID, "invalid archive: a manifest without config or layers");
        } else if ((rc = oci_blob_json(sp, cdesc, &config, &p[i].config_raw, &p[i].config_len,
                                       e)) == 0) {
            size_t nl = json_array_size(layers);
            json_t *paths = json_array();
            const char **digests = xcalloc(nl + 1, sizeof(*digests));
            for (size_t l = 0; l < nl; l++) {
                const char *d =
                    json_string_value(json_object_get(json_array_get(layers, l), "digest"));
                char *bp = blob_path(d);
                json_array_append_new(paths, json_string(bp ? bp : "(bad digest)"));
                free(bp);
                digests[l] = d;
            }
            rc = pending_layers(sp, &p[i], config, paths, digests, e);
            free(digests);
            json_decref(paths);
        }
        json_decref(config);
        json_decref(man);
        const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        const char *refname =
            json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        if (rc == 0 && name)
            rc = add_tag_str(&p[i], name, e);
        else if (rc == 0 && refname && (strchr(refname, '/') || strchr(refname, ':'))) {
            /* a bare "latest" is only a tag without a name: Docker loads it untagged */
            struct err ignored = {0};
            add_tag_str(&p[i], refname, &ignored);
        }
    }
    json_decref(idx);
    return rc;
}

void image_pending_release(struct image_pending *p)
{
    free(p->config_raw);
    for (size_t i = 0; i < p->n_tags; i++)
        free(p->tags[i]);
    free(p->tags);
    for (size_t i = 0; i < p->n_layers; i++)
        free(p->layers[i].file);
    free(p->layers);
    memset(p, 0, sizeof(*p));
}

int image_load(struct image_store *s, int fd, struct buf *out, struct err *e)
{
    struct spool sp = {0};
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/load-XXXXXX", image_store_tmp(s));
    if (!mkdtemp(tmpl))
        return err_set(e, ERR_INTERNAL, "mkdtemp %s: %s", tmpl, strerror(errno));
    sp.dir = xstrdup(tmpl);
    sp.files = strmap_new();
    sp.links = strmap_new();
    struct image_pending *p = NULL;
    size_t n = 0;
    int rc = spool_archive(&sp, fd, e);
    if (rc == 0) {
        const char *manifest = spool_get(&sp, "manifest.json");
        const char *index = spool_get(&sp, "index.json");
        if (manifest)
            rc = load_docker_save(&sp, manifest, &p, &n, e);
        else if (index)
            rc = load_oci(&sp, index, &p, &n, e);
        else
            rc = err_set(e, ERR_INVALID,
                         "invalid archive: neither manifest.json (docker save) nor index.json "
                         "(OCI layout) found");
    }
    if (rc == 0 && n == 0)
        rc = err_set(e, ERR_INVALID, "invalid archive: no image in it");
    if (rc == 0)
        rc = image_store_commit(s, p, n, out, e);
    for (size_t i = 0; i < n; i++)
        image_pending_release(&p[i]);
    free(p);
    spool_release(&sp);
    return rc;
}

int image_load_path(struct image_store *s, const char *path, struct buf *out, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "open %s: %s", path,
                       strerror(errno));
    int rc = image_load(s, fd, out, e);
    close(fd);
    return rc;
}
