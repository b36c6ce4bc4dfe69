/* image_store.c — the store's state (images, layers, references), its files and the Docker
 * verbs over it: commit of loaded images, import, resolve, tag, remove, list, inspect and the
 * lower-dir list of a container rootfs.
 *
 * Invariants: every image in memory has its config blob, its images/<hex>.json and all the
 * layers of its chain on disk; every reference points to an image in memory; a layer stays
 * exactly as long as an image's chain holds it. Files are written before memory is changed,
 * references last, so a crash leaves at worst an untagged image or an unreferenced layer,
 * which image_store_open cleans up. Blocking; one caller at a time (see image.h). */
#include "image_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct layer {
    char chain[IMAGE_DIGEST_LEN + 1];
    char diff_id[IMAGE_DIGEST_LEN + 1];
    char parent[IMAGE_DIGEST_LEN + 1]; /* "" for a base layer */
    char link[IMAGE_LINK_LEN + 1];
    int64_t size;
};

struct image {
    char id[IMAGE_DIGEST_LEN + 1];
    char **chain; /* chainIDs, bottom first */
    size_t n;
    json_t *config;
    int64_t last_tag_ns;
};

struct image_store {
    char *root, *tmp;
    struct strmap *layers; /* chainID -> struct layer */
    struct strmap *images; /* ID -> struct image */
    struct strmap *refs;   /* full reference -> heap ID */
    image_user_cb user_cb;
    void *user_arg;
    unsigned unpacked;
};

static char *layer_dir(const struct image_store *s, const char *chain)
{
    return xasprintf("%s/layers/%s", s->root, chain + 7);
}

static void image_free(struct image *img)
{
    if (!img)
        return;
    for (size_t i = 0; i < img->n; i++)
        free(img->chain[i]);
    free(img->chain);
    json_decref(img->config);
    free(img);
}

const char *image_store_tmp(const struct image_store *s)
{
    return s->tmp;
}

unsigned image_store_unpacked(const struct image_store *s)
{
    return s->unpacked;
}

void image_store_set_user_cb(struct image_store *s, image_user_cb cb, void *arg)
{
    s->user_cb = cb;
    s->user_arg = arg;
}

/* ---- files ---- */

static int write_json(const char *path, json_t *j, struct err *e)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    BUG_ON(!text);
    int rc = file_write_atomic(path, text, strlen(text), 0600, e);
    free(text);
    return rc;
}

static int save_refs(struct image_store *s, struct err *e)
{
    json_t *refs = json_object();
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(s->refs, &it, &k, &v))
        json_object_set_new(refs, k, json_string(v));
    json_t *j = json_pack("{s:o}", "refs", refs);
    char *path = xasprintf("%s/repositories.json", s->root);
    int rc = write_json(path, j, e);
    free(path);
    json_decref(j);
    return rc;
}

static int save_image(struct image_store *s, const struct image *img, struct err *e)
{
    json_t *chain = json_array();
    for (size_t i = 0; i < img->n; i++)
        json_array_append_new(chain, json_string(img->chain[i]));
    json_t *j = json_pack("{s:s, s:o, s:I}", "id", img->id, "layers", chain, "last_tag_time",
                          (json_int_t)img->last_tag_ns);
    char *path = xasprintf("%s/images/%s.json", s->root, img->id + 7);
    int rc = write_json(path, j, e);
    free(path);
    json_decref(j);
    return rc;
}

static void make_link_name(char out[IMAGE_LINK_LEN + 1])
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[IMAGE_LINK_LEN];
    rand_bytes(r, sizeof(r));
    for (int i = 0; i < IMAGE_LINK_LEN; i++)
        out[i] = alpha[r[i] % 36];
    out[IMAGE_LINK_LEN] = '\0';
}

static int ensure_link(struct image_store *s, const struct layer *l, struct err *e)
{
    char *lp = xasprintf("%s/l/%s", s->root, l->link);
    char *target = xasprintf("../layers/%s/diff", l->chain + 7);
    int rc = 0;
    if (symlink(target, lp) < 0 && errno != EEXIST)
        rc = err_set(e, ERR_INTERNAL, "symlink %s: %s", lp, strerror(errno));
    free(lp);
    free(target);
    return rc;
}

/* Removes a layer's files and forgets it. */
static void layer_drop(struct image_store *s, const char *chain)
{
    struct layer *l = strmap_del(s->layers, chain);
    if (!l)
        return;
    char *lp = xasprintf("%s/l/%s", s->root, l->link);
    unlink(lp);
    free(lp);
    char *dir = layer_dir(s, chain);
    struct err ignored = {0};
    dir_remove_all(dir, &ignored);
    free(dir);
    free(l);
}

static bool layer_used(struct image_store *s, const char *chain)
{
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(s->images, &it, &k, &v)) {
        struct image *img = v;
        for (size_t i = 0; i < img->n; i++)
            if (!strcmp(img->chain[i], chain))
                return true;
    }
    return false;
}

/* ---- open ---- */

static int load_layers(struct image_store *s, struct err *e)
{
    char *dir = xasprintf("%s/layers", s->root);
    DIR *d = opendir(dir);
    if (!d) {
        int rc = err_set(e, ERR_INTERNAL, "open %s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        char *meta = xasprintf("%s/meta.json", p);
        json_t *j = image_hex64(de->d_name) ? json_load_file(meta, 0, NULL) : NULL;
        const char *chain = json_string_value(json_object_get(j, "chain_id"));
        const char *did = json_string_value(json_object_get(j, "diff_id"));
        const char *parent = json_string_value(json_object_get(j, "parent"));
        const char *link = json_string_value(json_object_get(j, "link"));
        if (chain && did && parent && link && strlen(chain) == IMAGE_DIGEST_LEN &&
            !strcmp(chain + 7, de->d_name) && strlen(did) == IMAGE_DIGEST_LEN &&
            strlen(link) == IMAGE_LINK_LEN && strlen(parent) <= IMAGE_DIGEST_LEN) {
            struct layer *l = xcalloc(1, sizeof(*l));
            memcpy(l->chain, chain, sizeof(l->chain));
            memcpy(l->diff_id, did, sizeof(l->diff_id));
            memcpy(l->link, link, sizeof(l->link));
            snprintf(l->parent, sizeof(l->parent), "%s", parent);
            l->size = json_integer_value(json_object_get(j, "size"));
            free(strmap_put(s->layers, chain, l));
        } else {
            /* an interrupted unpack (<hex>.tmp) or something that is not ours */
            struct err ignored = {0};
            dir_remove_all(p, &ignored);
        }
        json_decref(j);
        free(meta);
        free(p);
    }
    closedir(d);
    free(dir);
    return 0;
}

static int load_images(struct image_store *s, struct err *e)
{
    char *dir = xasprintf("%s/images", s->root);
    DIR *d = opendir(dir);
    if (!d) {
        int rc = err_set(e, ERR_INTERNAL, "open %s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n != 64 + 5 || strcmp(de->d_name + 64, ".json"))
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        json_t *j = json_load_file(p, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        json_t *chain = json_object_get(j, "layers");
        char *cfgp = id ? xasprintf("%s/blobs/sha256/%s", s->root, id + 7) : NULL;
        json_t *config = cfgp ? json_load_file(cfgp, JSON_DECODE_ANY, NULL) : NULL;
        bool ok = id && strlen(id) == IMAGE_DIGEST_LEN && !strncmp(id + 7, de->d_name, 64) &&
                  json_is_array(chain) && json_is_object(config);
        for (size_t i = 0; ok && i < json_array_size(chain); i++) {
            const char *c = json_string_value(json_array_get(chain, i));
            ok = c && strmap_get(s->layers, c);
        }
        if (ok) {
            struct image *img = xcalloc(1, sizeof(*img));
            memcpy(img->id, id, sizeof(img->id));
            img->n = json_array_size(chain);
            img->chain = xcalloc(img->n ? img->n : 1, sizeof(*img->chain));
            for (size_t i = 0; i < img->n; i++)
                img->chain[i] = xstrdup(json_string_value(json_array_get(chain, i)));
            img->config = json_incref(config);
            img->last_tag_ns = json_integer_value(json_object_get(j, "last_tag_time"));
            image_free(strmap_put(s->images, id, img));
        } else {
            log_warn("image: dropping the unreadable or incomplete image record %s", p);
            unlink(p);
        }
        json_decref(config);
        free(cfgp);
        json_decref(j);
        free(p);
    }
    closedir(d);
    free(dir);
    return 0;
}

static void load_refs(struct image_store *s)
{
    char *p = xasprintf("%s/repositories.json", s->root);
    json_t *j = json_load_file(p, 0, NULL);
    free(p);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(j, "refs"), k, v)
    {
        const char *id = json_string_value(v);
        if (id && strmap_get(s->images, id))
            free(strmap_put(s->refs, k, xstrdup(id)));
    }
    json_decref(j);
}

struct image_store *image_store_open(const char *root, struct err *e)
{
    static const char *const dirs[] = {"", "/blobs/sha256", "/images", "/layers", "/l", "/tmp"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        char *p = xasprintf("%s%s", root, dirs[i]);
        int rc = dir_make(p, 0700, e);
        free(p);
        if (rc < 0)
            return NULL;
    }
    struct image_store *s = xcalloc(1, sizeof(*s));
    s->root = xstrdup(root);
    s->tmp = xasprintf("%s/tmp", root);
    s->layers = strmap_new();
    s->images = strmap_new();
    s->refs = strmap_new();
    /* leftovers of interrupted loads */
    struct err ignored = {0};
    dir_remove_all(s->tmp, &ignored);
    if (dir_make(s->tmp, 0700, e) < 0 || load_layers(s, e) < 0 || load_images(s, e) < 0) {
        image_store_free(s);
        return NULL;
    }
    load_refs(s);
    /* layers no image holds (a crash between unpack and commit), and missing short links */
    const char *k;
    void *v;
    size_t it = 0;
    char **unused = NULL;
    size_t n_unused = 0;
    while (strmap_next(s->layers, &it, &k, &v)) {
        if (!layer_used(s, k)) {
            unused = xrealloc(unused, (n_unused + 1) * sizeof(*unused));
            unused[n_unused++] = xstrdup(k);
        } else if (ensure_link(s, v, e) < 0) {
            free(unused);
            image_store_free(s);
            return NULL;
        }
    }
    for (size_t i = 0; i < n_unused; i++) {
        layer_drop(s, unused[i]);
        free(unused[i]);
    }
    free(unused);
    return s;
}

void image_store_free(struct image_store *s)
{
    if (!s)
        return;
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(s->layers, &it, &k, &v))
        free(v);
    it = 0;
    while (strmap_next(s->images, &it, &k, &v))
        image_free(v);
    it = 0;
    while (strmap_next(s->refs, &it, &k, &v))
        free(v);
    strmap_free(s->layers);
    strmap_free(s->images);
    strmap_free(s->refs);
    free(s->root);
    free(s->tmp);
    free(s);
}

const char *image_store_root(const struct image_store *s)
{
    return s->root;
}

int image_store_reload(struct image_store *s, struct err *e)
{
    struct image_store *n = image_store_open(s->root, e);
    if (!n)
        return -e->kind;
    struct image_store old = *s;
    *s = *n;
    s->user_cb = old.user_cb;
    s->user_arg = old.user_arg;
    s->unpacked = old.unpacked;
    *n = old;
    image_store_free(n);
    return 0;
}

/* ---- commit of loaded or imported images ---- */

/* Unpacks one layer if its chainID is not there yet. */
static int layer_add(struct image_store *s, const struct image_pending_layer *pl,
                     const char *parent, const char *chain, bool *created, struct err *e)
{
    *created = false;
    if (strmap_get(s->layers, chain))
        return 0;
    char got[IMAGE_DIGEST_LEN + 1];
    int64_t tar_size = 0;
    int rc = image_diff_id_file(pl->file, got, &tar_size, e);
    if (rc < 0)
        return rc;
    if (strcmp(got, pl->diff_id))
        return err_set(e, ERR_INVALID,
                       "invalid archive: layer diff_id mismatch: the image config says %s, the "
                       "layer content is %s",
                       pl->diff_id, got);
    char *dir = layer_dir(s, chain);
    char *tmp = xasprintf("%s.tmp", dir);
    char *diff = xasprintf("%s/diff", tmp);
    struct err ignored = {0};
    dir_remove_all(tmp, &ignored);
    struct layer *l = xcalloc(1, sizeof(*l));
    memcpy(l->chain, chain, sizeof(l->chain));
    memcpy(l->diff_id, pl->diff_id, sizeof(l->diff_id));
    snprintf(l->parent, sizeof(l->parent), "%s", parent);
    make_link_name(l->link);
    if ((rc = dir_make(diff, 0755, e)) < 0 ||
        (rc = image_unpack_layer(pl->file, diff, &l->size, e)) < 0)
        goto fail;
    json_t *meta =
        json_pack("{s:s, s:s, s:s, s:s, s:I}", "chain_id", l->chain, "diff_id", l->diff_id,
                  "parent", l->parent, "link", l->link, "size", (json_int_t)l->size);
    char *mp = xasprintf("%s/meta.json", tmp);
    rc = write_json(mp, meta, e);
    free(mp);
    json_decref(meta);
    if (rc < 0)
        goto fail;
    if (rename(tmp, dir) < 0) {
        rc = err_set(e, ERR_INTERNAL, "rename %s: %s", tmp, strerror(errno));
        goto fail;
    }
    strmap_put(s->layers, chain, l);
    s->unpacked++;
    *created = true;
    if ((rc = ensure_link(s, l, e)) < 0) {
        free(tmp);
        free(diff);
        free(dir);
        return rc; /* the caller drops created layers */
    }
    free(tmp);
    free(diff);
    free(dir);
    return 0;
fail:
    dir_remove_all(tmp, &ignored);
    free(l);
    free(tmp);
    free(diff);
    free(dir);
    return rc;
}

static struct image *image_get_by_id(struct image_store *s, const char *id)
{
    return strmap_get(s->images, id);
}

/* Points ref at id, appending Docker's rename notice to out if it named another image. */
static void ref_set(struct image_store *s, const char *full, const char *id, struct buf *out)
{
    char *old = strmap_get(s->refs, full);
    if (old && out && strcmp(old, id)) {
        char *fam = image_ref_familiar(full);
        buf_printf(out,
                   "The image %s already exists, renaming the old one with ID %s to empty "
                   "string\n",
                   fam, old);
        free(fam);
    }
    free(strmap_put(s->refs, full, xstrdup(id)));
}

int image_store_commit(struct image_store *s, struct image_pending *p, size_t n, struct buf *out,
                       struct err *e)
{
    char **created = NULL;
    size_t n_created = 0;
    struct image **imgs = xcalloc(n, sizeof(*imgs));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_error_t je;
        json_t *config = json_loadb(p[i].config_raw, p[i].config_len, 0, &je);
        if (!json_is_object(config)) {
            json_decref(config);
            rc = err_set(e, ERR_INVALID, "invalid archive: the image config is not a JSON object");
            break;
        }
        struct image *img = xcalloc(1, sizeof(*img));
        imgs[i] = img;
        image_sha256(p[i].config_raw, p[i].config_len, img->id);
        img->config = config;
        img->n = p[i].n_layers;
        img->chain = xcalloc(img->n ? img->n : 1, sizeof(*img->chain));
        char parent[IMAGE_DIGEST_LEN + 1] = "";
        for (size_t l = 0; l < p[i].n_layers && rc == 0; l++) {
            char chain[IMAGE_DIGEST_LEN + 1];
            image_chain_id(parent, p[i].layers[l].diff_id, chain);
            bool made = false;
            rc = layer_add(s, &p[i].layers[l], parent, chain, &made, e);
            if (made) {
                created = xrealloc(created, (n_created + 1) * sizeof(*created));
                created[n_created++] = xstrdup(chain);
            }
            img->chain[l] = xstrdup(chain);
            memcpy(parent, chain, sizeof(parent));
        }
    }
    /* files: config blobs and image records */
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct image *img = imgs[i];
        char *bp = xasprintf("%s/blobs/sha256/%s", s->root, img->id + 7);
        rc = file_write_atomic(bp, p[i].config_raw, p[i].config_len, 0600, e);
        free(bp);
        if (rc == 0 && p[i].n_tags)
            img->last_tag_ns = time_now_ns();
        struct image *have = image_get_by_id(s, img->id);
        if (rc == 0 && have && !p[i].n_tags)
            img->last_tag_ns = have->last_tag_ns;
        if (rc == 0)
            rc = save_image(s, img, e);
    }
    if (rc < 0) {
        for (size_t i = 0; i < n; i++) {
            /* an image record written for an ID not known before is removed again */
            if (imgs[i] && !image_get_by_id(s, imgs[i]->id)) {
                char *ip = xasprintf("%s/images/%s.json", s->root, imgs[i]->id + 7);
                char *bp = xasprintf("%s/blobs/sha256/%s", s->root, imgs[i]->id + 7);
                unlink(ip);
                unlink(bp);
                free(ip);
                free(bp);
            }
            image_free(imgs[i]);
        }
        for (size_t i = 0; i < n_created; i++) {
            if (!layer_used(s, created[i]))
                layer_drop(s, created[i]);
            free(created[i]);
        }
        free(created);
        free(imgs);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        image_free(strmap_put(s->images, imgs[i]->id, imgs[i]));
        if (!p[i].n_tags && out)
            buf_printf(out, "Loaded image ID: %s\n", imgs[i]->id);
        for (size_t t = 0; t < p[i].n_tags; t++) {
            ref_set(s, p[i].tags[t], imgs[i]->id, out);
            if (out) {
                char *fam = image_ref_familiar(p[i].tags[t]);
                buf_printf(out, "Loaded image: %s\n", fam);
                free(fam);
            }
        }
    }
    for (size_t i = 0; i < n_created; i++)
        free(created[i]);
    free(created);
    free(imgs);
    return save_refs(s, e);
}

/* ---- import ---- */

int image_import(struct image_store *s, int fd, const char *ref, const char *comment,
                 json_t *config, char id[72], struct err *e)
{
    char *full = NULL;
    if (ref && *ref) {
        struct image_ref r;
        int rc = image_ref_parse(ref, true, &r, e);
        if (rc < 0)
            return rc;
        if (r.digest) {
            image_ref_release(&r);
            return err_set(e, ERR_INVALID, "refusing to create a tag with a digest reference");
        }
        full = image_ref_full(&r);
        image_ref_release(&r);
    }
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/import-XXXXXX", s->tmp);
    int tfd = mkstemp(tmpl);
    if (tfd < 0) {
        free(full);
        return err_set(e, ERR_INTERNAL, "mkstemp %s: %s", tmpl, strerror(errno));
    }
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_set(e, ERR_INTERNAL, "read: %s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r && rc == 0;) {
            ssize_t w = write(tfd, chunk + off, (size_t)(r - off));
            if (w < 0 && errno != EINTR)
                rc = err_set(e, ERR_INTERNAL, "write %s: %s", tmpl, strerror(errno));
            else if (w > 0)
                off += w;
        }
        if (rc < 0)
            break;
    }
    close(tfd);
    struct image_pending p = {0};
    p.layers = xcalloc(1, sizeof(*p.layers));
    int64_t tar_size = 0;
    if (rc == 0)
        rc = image_diff_id_file(tmpl, p.layers[0].diff_id, &tar_size, e);
    if (rc == 0) {
        p.n_layers = 1;
        p.layers[0].file = xstrdup(tmpl);
        char created[40];
        time_format_rfc3339(time_now_ns(), created);
        json_t *cfg = json_pack("{s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s}]}",
                                "architecture", "amd64", "os", "linux", "created", created,
                                "config", config ? config : json_object(), "rootfs", "type",
                                "layers", "diff_ids", p.layers[0].diff_id, "history", "created",
                                created, "comment", comment ? comment : "Imported from -");
        if (!config)
            json_decref(json_object_get(cfg, "config")); /* the O above took a second ref */
        p.config_raw = json_dumps(cfg, JSON_COMPACT);
        p.config_len = strlen(p.config_raw);
        json_decref(cfg);
        if (full) {
            p.tags = xcalloc(1, sizeof(*p.tags));
            p.tags[0] = full;
            p.n_tags = 1;
            full = NULL;
        }
        rc = image_store_commit(s, &p, 1, NULL, e);
        if (rc == 0)
            image_sha256(p.config_raw, p.config_len, id);
    }
    image_pending_release(&p);
    unlink(tmpl);
    free(full);
    return rc;
}

/* ---- lookup ---- */

static int not_found(const char *name, struct err *e)
{
    struct image_ref r;
    struct err ignored = {0};
    if (image_ref_parse(name, true, &r, &ignored) == 0) {
        char *full = image_ref_full(&r);
        char *fam = image_ref_familiar(full);
        err_set(e, ERR_NOT_FOUND, "No such image: %s", fam);
        free(fam);
        free(full);
        image_ref_release(&r);
        return -ERR_NOT_FOUND;
    }
    return err_set(e, ERR_NOT_FOUND, "No such image: %s", name);
}

static struct image *lookup(struct image_store *s, const char *name, struct err *e)
{
    /* a full ID */
    char id[IMAGE_DIGEST_LEN + 1];
    const char *hex = str_has_prefix(name, "sha256:") ? name + 7 : name;
    if (image_hex64(hex)) {
        snprintf(id, sizeof(id), "sha256:%s", hex);
        struct image *img = image_get_by_id(s, id);
        if (!img)
            not_found(name, e);
        return img;
    }
    /* a reference */
    struct image_ref r;
    struct err ignored = {0};
    if (image_ref_parse(name, true, &r, &ignored) == 0) {
        char *full = image_ref_full(&r);
        const char *rid = strmap_get(s->refs, full);
        struct image *img = rid ? image_get_by_id(s, rid) : NULL;
        free(full);
        image_ref_release(&r);
        if (img)
            return img;
    }
    /* a unique ID prefix */
    size_t hn = strlen(hex);
    bool hexy = hn > 0;
    for (size_t i = 0; i < hn; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            hexy = false;
    struct image *found = NULL;
    if (hexy) {
        const char *k;
        void *v;
        size_t it = 0;
        while (strmap_next(s->images, &it, &k, &v))
            if (!strncmp(k + 7, hex, hn)) {
                if (found) { /* ambiguous: Docker finds nothing */
                    found = NULL;
                    break;
                }
                found = v;
            }
    }
    if (!found)
        not_found(name, e);
    return found;
}

int image_resolve(struct image_store *s, const char *name, char id[72], struct err *e)
{
    struct image *img = lookup(s, name, e);
    if (!img)
        return -ERR_NOT_FOUND;
    memcpy(id, img->id, IMAGE_DIGEST_LEN + 1);
    return 0;
}

int image_tag(struct image_store *s, const char *source, const char *target, struct err *e)
{
    struct image *img = lookup(s, source, e);
    if (!img)
        return -ERR_NOT_FOUND;
    struct image_ref r;
    int rc = image_ref_parse(target, true, &r, e);
    if (rc < 0)
        return rc;
    if (r.digest) {
        image_ref_release(&r);
        return err_set(e, ERR_INVALID, "refusing to create a tag with a digest reference");
    }
    char *full = image_ref_full(&r);
    image_ref_release(&r);
    ref_set(s, full, img->id, NULL);
    free(full);
    img->last_tag_ns = time_now_ns();
    if ((rc = save_image(s, img, e)) < 0)
        return rc;
    return save_refs(s, e);
}

/* ---- remove ---- */

/* The references to id, sorted (a NULL-terminated array of borrowed keys). */
static const char **refs_of(struct image_store *s, const char *id, size_t *n_out)
{
    const char **out = NULL;
    size_t n = 0;
    const char *k;
    void *v;
    size_t it = 0;
    while (strmap_next(s->refs, &it, &k, &v))
        if (!strcmp(v, id)) {
            out = xrealloc(out, (n + 2) * sizeof(*out));
            out[n++] = k;
        }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of tags */
        for (size_t j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            const char *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    if (out)
        out[n] = NULL;
    *n_out = n;
    return out;
}

static size_t repo_len(const char *full)
{
    /* the name part: up to '@', or up to the ':' after the last '/' */
    size_t at = strcspn(full, "@");
    const char *slash = memrchr(full, '/', at);
    const char *colon =
        memchr(slash ? slash : full, ':', at - (size_t)((slash ? slash : full) - full));
    return colon ? (size_t)(colon - full) : at;
}

static bool is_digest_ref(const char *full)
{
    return strchr(full, '@') != NULL;
}

/* Docker's isSingleReference: at most one tag, all in one repository. */
static bool single_reference(const char **refs, size_t n)
{
    size_t tags = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digest_ref(refs[i]))
            tags++;
        if (repo_len(refs[i]) != repo_len(refs[0]) || strncmp(refs[i], refs[0], repo_len(refs[0])))
            return false;
    }
    return tags <= 1;
}

static void untag(struct image_store *s, const char *full, json_t *records)
{
    char *fam = image_ref_familiar(full);
    json_array_append_new(records, json_pack("{s:s}", "Untagged", fam));
    free(fam);
    free(strmap_del(s->refs, full));
}

enum { CONFLICT_HARD = 1, CONFLICT_SOFT_REF = 2, CONFLICT_SOFT_STOPPED = 4 };

/* Docker's checkImageDeleteConflict; returns 0 or -ERR_CONFLICT (*used tells a container). */
static int delete_conflict(struct image_store *s, struct image *img, int mask, bool *used,
                           struct err *e)
{
    char ctr[128] = "";
    bool running = false;
    bool in_use = s->user_cb && s->user_cb(s->user_arg, img->id, ctr, sizeof(ctr), &running);
    *used = false;
    if (in_use && running) {
        *used = true;
        return err_set(e, ERR_CONFLICT,
                       "conflict: unable to delete %.12s (cannot be forced) - image is being "
                       "used by running container %.12s",
                       img->id + 7, ctr);
    }
    size_t nrefs = 0;
    const char **refs = refs_of(s, img->id, &nrefs);
    free(refs);
    if ((mask & CONFLICT_SOFT_REF) && nrefs > 0)
        return err_set(e, ERR_CONFLICT,
                       "conflict: unable to delete %.12s (must be forced) - image is referenced "
                       "in multiple repositories",
                       img->id + 7);
    if ((mask & CONFLICT_SOFT_STOPPED) && in_use) {
        *used = true;
        return err_set(e, ERR_CONFLICT,
                       "conflict: unable to delete %.12s (must be forced) - image is being used "
                       "by stopped container %.12s",
                       img->id + 7, ctr);
    }
    return 0;
}

static bool id_prefix(const char *id, const char *name)
{
    return str_has_prefix(id, name) || str_has_prefix(id + 7, name);
}

static int delete_image(struct image_store *s, struct image *img, bool force, bool quiet,
                        json_t *records, struct err *e)
{
    int mask = CONFLICT_HARD | (force ? 0 : CONFLICT_SOFT_REF | CONFLICT_SOFT_STOPPED);
    bool used = false;
    struct err ce = {0};
    if (delete_conflict(s, img, mask, &used, &ce) < 0) {
        if (quiet && used) /* untagged already; the container keeps the image */
            return 0;
        *e = ce;
        return -ce.kind;
    }
    size_t nrefs = 0;
    const char **refs = refs_of(s, img->id, &nrefs);
    for (size_t i = 0; i < nrefs; i++) {
        char *k = xstrdup(refs[i]);
        untag(s, k, records);
        free(k);
    }
    free(refs);
    int rc = save_refs(s, e);
    if (rc < 0)
        return rc;
    char *ip = xasprintf("%s/images/%s.json", s->root, img->id + 7);
    char *bp = xasprintf("%s/blobs/sha256/%s", s->root, img->id + 7);
    unlink(ip);
    unlink(bp);
    free(ip);
    free(bp);
    strmap_del(s->images, img->id);
    json_array_append_new(records, json_pack("{s:s}", "Deleted", img->id));
    for (size_t i = img->n; i-- > 0;)
        if (!layer_used(s, img->chain[i])) {
            json_array_append_new(records, json_pack("{s:s}", "Deleted", img->chain[i]));
            layer_drop(s, img->chain[i]);
        }
    image_free(img);
    return 0;
}

int image_remove(struct image_store *s, const char *name, bool force, json_t **records,
                 struct err *e)
{
    struct image *img = lookup(s, name, e);
    if (!img)
        return -ERR_NOT_FOUND;
    json_t *rec = json_array();
    size_t nrefs = 0;
    const char **refs = refs_of(s, img->id, &nrefs);
    int rc = 0;
    bool quiet = false;
    if (!id_prefix(img->id, name)) {
        char ctr[128] = "";
        bool running = false;
        if (!force && single_reference(refs, nrefs) && s->user_cb &&
            s->user_cb(s->user_arg, img->id, ctr, sizeof(ctr), &running)) {
            rc = err_set(e, ERR_CONFLICT,
                         "conflict: unable to remove repository reference \"%s\" (must force) - "
                         "container %.12s is using its referenced image %.12s",
                         name, ctr, img->id + 7);
            goto out;
        }
        struct image_ref r;
        if ((rc = image_ref_parse(name, true, &r, e)) < 0)
            goto out;
        char *full = image_ref_full(&r);
        bool canonical = r.digest != NULL;
        image_ref_release(&r);
        untag(s, full, rec);
        free(refs);
        refs = refs_of(s, img->id, &nrefs);
        if (!canonical) {
            /* no tag of this repository left: its digest references go too */
            size_t rl = repo_len(full);
            bool tag_left = false;
            for (size_t i = 0; i < nrefs; i++)
                if (!is_digest_ref(refs[i]) && repo_len(refs[i]) == rl &&
                    !strncmp(refs[i], full, rl))
                    tag_left = true;
            if (!tag_left)
                for (size_t i = 0; i < nrefs; i++)
                    if (is_digest_ref(refs[i]) && repo_len(refs[i]) == rl &&
                        !strncmp(refs[i], full, rl)) {
                        char *k = xstrdup(refs[i]);
                        untag(s, k, rec);
                        free(k);
                    }
            free(refs);
            refs = refs_of(s, img->id, &nrefs);
        }
        free(full);
        if (nrefs > 0) {
            rc = save_refs(s, e);
            goto out;
        }
        quiet = true;
    } else if (single_reference(refs, nrefs)) {
        int mask = CONFLICT_HARD | (force ? 0 : CONFLICT_SOFT_STOPPED);
        bool used = false;
        if ((rc = delete_conflict(s, img, mask, &used, e)) < 0)
            goto out;
        for (size_t i = 0; i < nrefs; i++) {
            char *k = xstrdup(refs[i]);
            untag(s, k, rec);
            free(k);
        }
    }
    rc = delete_image(s, img, force, quiet, rec, e);
    if (rc == 0)
        rc = save_refs(s, e);
out:
    free(refs);
    if (rc < 0) {
        json_decref(rec);
        /* what was untagged in memory before a conflict must stay as it was on disk */
        return rc;
    }
    *records = rec;
    return 0;
}

/* ---- list, inspect, lower dirs ---- */

static int64_t image_size(struct image_store *s, const struct image *img)
{
    int64_t n = 0;
    for (size_t i = 0; i < img->n; i++) {
        struct layer *l = strmap_get(s->layers, img->chain[i]);
        if (l)
            n += l->size;
    }
    return n;
}

static void ref_arrays(struct image_store *s, const struct image *img, json_t **tags,
                       json_t **digests)
{
    *tags = json_array();
    *digests = json_array();
    size_t n = 0;
    const char **refs = refs_of(s, img->id, &n);
    for (size_t i = 0; i < n; i++) {
        char *fam = image_ref_familiar(refs[i]);
        json_array_append_new(is_digest_ref(refs[i]) ? *digests : *tags, json_string(fam));
        free(fam);
    }
    free(refs);
}

static int64_t created_ns(const struct image *img)
{
    int64_t ns = 0;
    const char *c = json_string_value(json_object_get(img->config, "created"));
    if (c && time_parse_rfc3339(c, &ns) == 0)
        return ns;
    return 0;
}

json_t *image_list(struct image_store *s)
{
    size_t n = strmap_len(s->images), k = 0;
    struct image **all = xcalloc(n ? n : 1, sizeof(*all));
    const char *key;
    void *v;
    size_t it = 0;
    while (strmap_next(s->images, &it, &key, &v))
        all[k++] = v;
    for (size_t i = 1; i < n; i++) /* newest first */
        for (size_t j = i; j > 0 && created_ns(all[j - 1]) < created_ns(all[j]); j--) {
            struct image *t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *tags, *digests;
        ref_arrays(s, all[i], &tags, &digests);
        json_t *labels = json_object_get(json_object_get(all[i]->config, "config"), "Labels");
        int64_t size = image_size(s, all[i]);
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:O, s:I}", "Id", all[i]->id,
                           "ParentId", "", "RepoTags", tags, "RepoDigests", digests, "Created",
                           (json_int_t)(created_ns(all[i]) / 1000000000), "Size", (json_int_t)size,
                           "SharedSize", (json_int_t)-1, "VirtualSize", (json_int_t)size, "Labels",
                           json_is_object(labels) ? labels : json_object(), "Containers",
                           (json_int_t)-1));
        if (!json_is_object(labels)) /* drop the extra reference the O took on a new {} */
            json_decref(json_object_get(json_array_get(out, i), "Labels"));
    }
    free(all);
    return out;
}

static json_t *str_or_empty(const json_t *config, const char *key)
{
    const char *v = json_string_value(json_object_get(config, key));
    return json_string(v ? v : "");
}

int image_inspect(struct image_store *s, const char *name, json_t **out, struct err *e)
{
    struct image *img = lookup(s, name, e);
    if (!img)
        return -ERR_NOT_FOUND;
    json_t *tags, *digests;
    ref_arrays(s, img, &tags, &digests);
    json_t *layers = json_array();
    for (size_t i = 0; i < img->n; i++) {
        struct layer *l = strmap_get(s->layers, img->chain[i]);
        json_array_append_new(layers, json_string(l ? l->diff_id : ""));
    }
    json_t *cfg = json_object_get(img->config, "config");
    char created[40] = "0001-01-01T00:00:00Z";
    int64_t cns = created_ns(img);
    if (cns)
        time_format_rfc3339(cns, created);
    char last_tag[40] = "0001-01-01T00:00:00Z";
    if (img->last_tag_ns)
        time_format_rfc3339(img->last_tag_ns, last_tag);
    /* GraphDriver as overlay2 shows it: the top diff, the lower ones joined by ':' */
    json_t *gdata = json_object();
    if (img->n > 0) {
        char *top = layer_dir(s, img->chain[img->n - 1]);
        char *up = xasprintf("%s/diff", top);
        json_object_set_new(gdata, "UpperDir", json_string(up));
        json_object_set_new(gdata, "MergedDir", json_string(""));
        json_object_set_new(gdata, "WorkDir", json_string(""));
        free(up);
        free(top);
        struct buf lb = BUF_INIT;
        for (size_t i = img->n - 1; i-- > 0;) {
            char *d = layer_dir(s, img->chain[i]);
            buf_printf(&lb, "%s%s/diff", lb.len ? ":" : "", d);
            free(d);
        }
        if (lb.len)
            json_object_set_new(gdata, "LowerDir", json_string(lb.p));
        buf_release(&lb);
    }
    json_t *o = json_object();
    json_object_set_new(o, "Id", json_string(img->id));
    json_object_set_new(o, "RepoTags", tags);
    json_object_set_new(o, "RepoDigests", digests);
    json_object_set_new(o, "Parent", json_string(""));
    json_object_set_new(o, "Comment", str_or_empty(img->config, "comment"));
    json_object_set_new(o, "Created", json_string(created));
    json_object_set_new(o, "DockerVersion", str_or_empty(img->config, "docker_version"));
    json_object_set_new(o, "Author", str_or_empty(img->config, "author"));
    json_object_set_new(o, "Config", cfg ? json_deep_copy(cfg) : json_null());
    json_object_set_new(o, "Architecture", str_or_empty(img->config, "architecture"));
    const char *variant = json_string_value(json_object_get(img->config, "variant"));
    if (variant)
        json_object_set_new(o, "Variant", json_string(variant));
    json_object_set_new(o, "Os", str_or_empty(img->config, "os"));
    json_object_set_new(o, "Size", json_integer(image_size(s, img)));
    json_object_set_new(o, "GraphDriver",
                        json_pack("{s:s, s:o}", "Name", "overlay2", "Data", gdata));
    json_object_set_new(o, "RootFS", json_pack("{s:s, s:o}", "Type", "layers", "Layers", layers));
    json_object_set_new(o, "Metadata", json_pack("{s:s}", "LastTagTime", last_tag));
    *out = o;
    return 0;
}

int image_config_get(struct image_store *s, const char *name, const json_t **config, struct err *e)
{
    struct image *img = lookup(s, name, e);
    if (!img)
        return -ERR_NOT_FOUND;
    *config = img->config;
    return 0;
}

int image_lower_dirs(struct image_store *s, const char *name, char ***lower, struct err *e)
{
    struct image *img = lookup(s, name, e);
    if (!img)
        return -ERR_NOT_FOUND;
    if (img->n == 0)
        return err_set(e, ERR_INVALID, "image %s has no layers", img->id);
    char **out = xcalloc(img->n + 1, sizeof(*out));
    for (size_t i = 0; i < img->n; i++) {
        struct layer *l = strmap_get(s->layers, img->chain[img->n - 1 - i]);
        BUG_ON(!l);
        out[i] = xasprintf("%s/l/%s", s->root, l->link);
    }
    *lower = out;
    return 0;
}

void image_lower_free(char **lower)
{
    if (!lower)
        return;
    for (size_t i = 0; lower[i]; i++)
        free(lower[i]);
    free(lower);
}
