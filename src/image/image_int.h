/* image_int.h — private to src/image: digests and the confined layer unpacker shared by the
 * store (image_store.c), the archive loader (image_load.c) and the unit tests' view of them. */
#ifndef SHOAL_IMAGE_INT_H
#define SHOAL_IMAGE_INT_H

#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#define IMAGE_DIGEST_LEN 71 /* "sha256:" + 64 hex */
#define IMAGE_LINK_LEN 26

bool image_hex64(const char *s);

/* sha256 of a byte string as "sha256:<hex>". */
void image_sha256(const void *data, size_t n, char out[IMAGE_DIGEST_LEN + 1]);
/* sha256 of a whole file. */
int image_sha256_file(const char *path, char out[IMAGE_DIGEST_LEN + 1], struct err *e);
/* sha256 of the file's content once decompressed (gzip, zstd, xz, bzip2 or none): the diff_id
 * of a layer blob. Fills *size with the uncompressed length. */
int image_diff_id_file(const char *path, char out[IMAGE_DIGEST_LEN + 1], int64_t *size,
                       struct err *e);
/* chainID = sha256(parent_chain + " " + diff_id); the first layer's chainID is its diff_id. */
void image_chain_id(const char *parent, const char *diff_id, char out[IMAGE_DIGEST_LEN + 1]);

/* Unpacks the (possibly compressed) layer tar at path into the existing empty directory dir,
 * confined to it: paths resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
 * leaves created with *at() and O_NOFOLLOW, ".." escaping the root refused, whiteouts turned
 * into overlay form (".wh.x" → char 0:0 "x", ".wh..wh..opq" → trusted.overlay.opaque=y).
 * Fills *size with the bytes of regular files. On error the directory may hold a part of
 * the layer: the caller removes it. */
int image_unpack_layer(const char *path, const char *dir, int64_t *size, struct err *e);

/* The loader's view of the store (image_store.c): a parsed, verified image ready to commit. */
struct image_pending_layer {
    char *file;                             /* spooled blob */
    char diff_id[IMAGE_DIGEST_LEN + 1];     /* from the config */
    char blob_digest[IMAGE_DIGEST_LEN + 1]; /* "" when the archive names none */
};
struct image_pending {
    char *config_raw; /* the config bytes as in the archive */
    size_t config_len;
    char **tags; /* full references to tag ("docker.io/library/busybox:latest") */
    size_t n_tags;
    struct image_pending_layer *layers;
    size_t n_layers;
};
void image_pending_release(struct image_pending *p);

/* Verifies, unpacks (what is missing) and commits a set of pending images from one archive:
 * all of them or none. Appends the `docker load` lines to out. */
int image_store_commit(struct image_store *s, struct image_pending *p, size_t n, struct buf *out,
                       struct err *e);
/* The store's scratch directory (<root>/tmp). */
const char *image_store_tmp(const struct image_store *s);

/* ---- libarchive, loaded at run time (image_archive.c) ----
 * The functions this module reads archives with, through dlopen: the daemon never maps the
 * library (it reads archives only in its image helper process). Call image_ar_load first;
 * after it returned 0 every member is set. Types and constants come from archive.h. */
struct image_ar_fns {
    bool loaded;
    struct archive *(*read_new)(void);
    int (*read_free)(struct archive *);
    int (*read_support_filter_all)(struct archive *);
    int (*read_support_format_tar)(struct archive *);
    int (*read_support_format_raw)(struct archive *);
    int (*read_support_format_empty)(struct archive *);
    int (*read_open_fd)(struct archive *, int, size_t);
    int (*read_open_filename)(struct archive *, const char *, size_t);
    int (*read_next_header)(struct archive *, struct archive_entry **);
    la_ssize_t (*read_data)(struct archive *, void *, size_t);
    const char *(*error_string)(struct archive *);
    const char *(*entry_pathname)(struct archive_entry *);
    const char *(*entry_hardlink)(struct archive_entry *);
    const char *(*entry_symlink)(struct archive_entry *);
    __LA_MODE_T (*entry_filetype)(struct archive_entry *);
    __LA_MODE_T (*entry_perm)(struct archive_entry *);
    la_int64_t (*entry_uid)(struct archive_entry *);
    la_int64_t (*entry_gid)(struct archive_entry *);
    time_t (*entry_atime)(struct archive_entry *);
    time_t (*entry_mtime)(struct archive_entry *);
    la_int64_t (*entry_size)(struct archive_entry *);
    dev_t (*entry_rdev)(struct archive_entry *);
    int (*entry_xattr_reset)(struct archive_entry *);
    int (*entry_xattr_next)(struct archive_entry *, const char **, const void **, size_t *);
};
extern struct image_ar_fns image_ar;
/* Loads libarchive once per process; ERR_INTERNAL naming the cause if it cannot. */
int image_ar_load(struct err *e);

#endif
