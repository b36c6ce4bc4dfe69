/* image_unpack.c — digests of blobs and layers, and the confined layer unpacker.
 *
 * libarchive is used only as a reader (archive_read_next_header / archive_read_data): it
 * never creates a file. Every path of an entry is created here, relative to a directory fd of
 * the layer root: parents are resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
 * (so a symlink in the layer, absolute or relative, is resolved as if the layer were "/", and
 * can never lead outside), leaves with *at() calls that do not follow a final symlink
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW). A name whose ".." would climb above the root is refused,
 * as Docker does ("... is outside of ..."); an absolute name is taken relative to the root. */
#include "image_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static void hex_out(const unsigned char *md, char out[IMAGE_DIGEST_LEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++) {
        out[7 + 2 * i] = hx[md[i] >> 4];
        out[8 + 2 * i] = hx[md[i] & 15];
    }
    out[IMAGE_DIGEST_LEN] = '\0';
}

void image_sha256(const void *data, size_t n, char out[IMAGE_DIGEST_LEN + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    BUG_ON(!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL));
    hex_out(md, out);
}

void image_chain_id(const char *parent, const char *diff_id, char out[IMAGE_DIGEST_LEN + 1])
{
    if (!parent || !*parent) {
        memcpy(out, diff_id, IMAGE_DIGEST_LEN + 1);
        return;
    }
    char *s = xasprintf("%s %s", parent, diff_id);
    image_sha256(s, strlen(s), out);
    free(s);
}

int image_sha256_file(const char *path, char out[IMAGE_DIGEST_LEN + 1], struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "open %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    BUG_ON(!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_set(e, ERR_INTERNAL, "read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(ctx, chunk, (size_t)r);
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (rc == 0)
        hex_out(md, out);
    return rc;
}

int image_diff_id_file(const char *path, char out[IMAGE_DIGEST_LEN + 1], int64_t *size,
                       struct err *e)
{
    if (image_ar_load(e) < 0)
        return -e->kind;
    struct archive *a = image_ar.read_new();
    image_ar.read_support_filter_all(a);
    image_ar.read_support_format_raw(a);
    int rc = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    BUG_ON(!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
    int64_t total = 0;
    struct archive_entry *ent;
    if (image_ar.read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        rc = err_set(e, ERR_INVALID, "invalid layer: %s", image_ar.error_string(a));
        goto out;
    }
    int h = image_ar.read_next_header(a, &ent);
    if (h == ARCHIVE_EOF) /* an empty file: the raw format reports no entry */
        goto out;
    if (h != ARCHIVE_OK) {
        rc = err_set(e, ERR_INVALID, "invalid layer: %s", image_ar.error_string(a));
        goto out;
    }
    char chunk[65536];
    for (;;) {
        la_ssize_t r = image_ar.read_data(a, chunk, sizeof(chunk));
        if (r < 0) {
            rc = err_set(e, ERR_INVALID, "invalid layer: %s", image_ar.error_string(a));
            goto out;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(ctx, chunk, (size_t)r);
        total += r;
    }
out:;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    image_ar.read_free(a);
    if (rc == 0) {
        hex_out(md, out);
        *size = total;
    }
    return rc;
}

/* ---- confined creation ---- */

static int sys_openat2(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Splits name into components (dropping "", "."), refusing a ".." that climbs above the
 * root. Returns the count, or -1. comps point into the modified copy *store. */
#define UNPACK_MAX_DEPTH 256
static int split_path(const char *name, char **store, char *comps[UNPACK_MAX_DEPTH])
{
    char *w = xstrdup(name);
    *store = w;
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(w, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, "."))
            continue;
        if (!strcmp(tok, "..")) {
            if (n == 0)
                return -1;
            n--;
            continue;
        }
        if (n == UNPACK_MAX_DEPTH)
            return -1;
        comps[n++] = tok;
    }
    return n;
}

static char *join_path(char **comps, int n)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, ".");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "/%s", comps[i]);
    return buf_detach(&b, NULL);
}

/* Opens (O_PATH) the directory comps[0..n) under the root, creating missing ones (0755). */
static int open_dir(int rootfd, char **comps, int n, struct err *e)
{
    char *p = join_path(comps, n);
    int fd = sys_openat2(rootfd, p, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT && n > 0) {
        int pfd = open_dir(rootfd, comps, n - 1, e);
        if (pfd < 0) {
            free(p);
            return pfd;
        }
        if (mkdirat(pfd, comps[n - 1], 0755) < 0 && errno != EEXIST) {
            int saved = errno;
            close(pfd);
            err_set(e, ERR_INVALID, "invalid layer: mkdir %s: %s", p, strerror(saved));
            free(p);
            return -ERR_INVALID;
        }
        close(pfd);
        fd = sys_openat2(rootfd, p, O_PATH | O_DIRECTORY);
    }
    if (fd < 0) {
        int saved = errno;
        err_set(e, ERR_INVALID, "invalid layer: %s: %s", p, strerror(saved));
        free(p);
        return -ERR_INVALID;
    }
    free(p);
    return fd;
}

/* Removes a non-directory leaf if there is one (a later entry replaces an earlier one). */
static int clear_leaf(int pfd, const char *leaf, bool keep_dir, struct err *e)
{
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir)
            return 0;
        if (unlinkat(pfd, leaf, AT_REMOVEDIR) == 0)
            return 0;
        return err_set(e, ERR_INVALID, "invalid layer: cannot replace directory %s: %s", leaf,
                       strerror(errno));
    }
    if (unlinkat(pfd, leaf, 0) < 0)
        return err_set(e, ERR_INVALID, "invalid layer: unlink %s: %s", leaf, strerror(errno));
    return 0;
}

static int write_data(struct archive *a, int fd, const char *name, struct err *e)
{
    char chunk[65536];
    for (;;) {
        la_ssize_t r = image_ar.read_data(a, chunk, sizeof(chunk));
        if (r < 0)
            return err_set(e, ERR_INVALID, "invalid layer: %s: %s", name, image_ar.error_string(a));
        if (r == 0)
            return 0;
        if (fd_write_all(fd, chunk, (size_t)r) < 0)
            return err_set(e, ERR_INTERNAL, "write %s: %s", name, strerror(errno));
    }
}

static void apply_xattrs(struct archive_entry *ent, int fd)
{
    const char *xname;
    const void *xval;
    size_t xlen;
    image_ar.entry_xattr_reset(ent);
    while (image_ar.entry_xattr_next(ent, &xname, &xval, &xlen) == ARCHIVE_OK)
        if (fsetxattr(fd, xname, xval, xlen, 0) < 0)
            log_debug("image: xattr %s not set: %s", xname, strerror(errno));
}

static int unpack_entry(struct archive *a, struct archive_entry *ent, int rootfd, int64_t *size,
                        struct err *e)
{
    const char *name = image_ar.entry_pathname(ent);
    if (!name)
        return err_set(e, ERR_INVALID, "invalid layer: an entry has no name");
    char *store = NULL, *comps[UNPACK_MAX_DEPTH];
    int n = split_path(name, &store, comps);
    int rc = 0, pfd = -1, fd = -1;
    if (n < 0) {
        rc = err_set(e, ERR_INVALID, "invalid layer: %s is outside of the layer root", name);
        goto out;
    }
    if (n == 0) /* the root itself ("./") */
        goto out;
    const char *leaf = comps[n - 1];
    pfd = open_dir(rootfd, comps, n - 1, e);
    if (pfd < 0) {
        rc = pfd;
        goto out;
    }
    mode_t type = image_ar.entry_filetype(ent);
    mode_t perm = image_ar.entry_perm(ent);
    uid_t uid = (uid_t)image_ar.entry_uid(ent);
    gid_t gid = (gid_t)image_ar.entry_gid(ent);
    if (str_has_prefix(leaf, ".wh.")) {
        const char *hidden = leaf + 4;
        if (!strcmp(hidden, ".wh..opq")) {
            char *dp = join_path(comps, n - 1);
            fd = sys_openat2(rootfd, dp, O_RDONLY | O_DIRECTORY);
            free(dp);
            if (fd < 0 || fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                rc = err_set(e, ERR_INTERNAL, "opaque whiteout %s: %s", name, strerror(errno));
            goto out;
        }
        if (!*hidden || !strcmp(hidden, ".") || !strcmp(hidden, "..") || strchr(hidden, '/')) {
            rc = err_set(e, ERR_INVALID, "invalid layer: bad whiteout %s", name);
            goto out;
        }
        if (str_has_prefix(hidden, ".wh.")) /* other AUFS metadata (.wh..wh.plnk, ...) */
            goto out;
        if ((rc = clear_leaf(pfd, hidden, false, e)) < 0)
            goto out;
        if (mknodat(pfd, hidden, S_IFCHR | 0, makedev(0, 0)) < 0)
            rc = err_set(e, ERR_INTERNAL, "whiteout %s: %s", name, strerror(errno));
        goto out;
    }
    const char *hl = image_ar.entry_hardlink(ent);
    if (hl) {
        char *hstore = NULL, *hcomps[UNPACK_MAX_DEPTH];
        int hn = split_path(hl, &hstore, hcomps);
        if (hn <= 0) {
            free(hstore);
            rc = err_set(e, ERR_INVALID,
                         "invalid layer: hardlink %s -> %s is outside of the "
                         "layer root",
                         name, hl);
            goto out;
        }
        char *hp = join_path(hcomps, hn);
        free(hstore);
        int tfd = sys_openat2(rootfd, hp, O_PATH | O_NOFOLLOW);
        free(hp);
        if (tfd < 0) {
            rc = err_set(e, ERR_INVALID, "invalid layer: hardlink %s -> %s: %s", name, hl,
                         strerror(errno));
            goto out;
        }
        if ((rc = clear_leaf(pfd, leaf, false, e)) == 0 &&
            linkat(tfd, "", pfd, leaf, AT_EMPTY_PATH) < 0)
            rc = err_set(e, ERR_INVALID, "invalid layer: hardlink %s -> %s: %s", name, hl,
                         strerror(errno));
        close(tfd);
        goto out;
    }
    struct timespec ts[2] = {{image_ar.entry_atime(ent), 0}, {image_ar.entry_mtime(ent), 0}};
    switch (type) {
    case AE_IFDIR:
        if ((rc = clear_leaf(pfd, leaf, true, e)) < 0)
            goto out;
        if (mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST) {
            rc = err_set(e, ERR_INTERNAL, "mkdir %s: %s", name, strerror(errno));
            goto out;
        }
        fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = err_set(e, ERR_INTERNAL, "open %s: %s", name, strerror(errno));
            goto out;
        }
        break;
    case AE_IFREG:
        if ((rc = clear_leaf(pfd, leaf, false, e)) < 0)
            goto out;
        fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = err_set(e, ERR_INTERNAL, "create %s: %s", name, strerror(errno));
            goto out;
        }
        if ((rc = write_data(a, fd, name, e)) < 0)
            goto out;
        *size += image_ar.entry_size(ent);
        break;
    case AE_IFLNK: {
        const char *target = image_ar.entry_symlink(ent);
        if ((rc = clear_leaf(pfd, leaf, false, e)) < 0)
            goto out;
        if (!target || symlinkat(target, pfd, leaf) < 0) {
            rc = err_set(e, ERR_INVALID, "invalid layer: symlink %s: %s", name,
                         target ? strerror(errno) : "no target");
            goto out;
        }
        if (fchownat(pfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            log_debug("image: lchown %s: %s", name, strerror(errno));
        utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
        goto out;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        if ((rc = clear_leaf(pfd, leaf, false, e)) < 0)
            goto out;
        if (mknodat(pfd, leaf, type | perm, image_ar.entry_rdev(ent)) < 0) {
            rc = err_set(e, ERR_INTERNAL, "mknod %s: %s", name, strerror(errno));
            goto out;
        }
        fd = openat(pfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            goto out;
        if (fchownat(pfd, leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            log_debug("image: chown %s: %s", name, strerror(errno));
        fchmodat(pfd, leaf, perm, 0);
        utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
        goto out;
    default: /* sockets and the like are not layer content */
        goto out;
    }
    /* fd is an open directory or regular file created above */
    if (fchown(fd, uid, gid) < 0)
        log_debug("image: chown %s: %s", name, strerror(errno));
    if (fchmod(fd, perm) < 0)
        rc = err_set(e, ERR_INTERNAL, "chmod %s: %s", name, strerror(errno));
    apply_xattrs(ent, fd);
    futimens(fd, ts);
out:
    if (fd >= 0)
        close(fd);
    if (pfd >= 0)
        close(pfd);
    free(store);
    return rc;
}

int image_unpack_layer(const char *path, const char *dir, int64_t *size, struct err *e)
{
    if (image_ar_load(e) < 0)
        return -e->kind;
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return err_set(e, ERR_INTERNAL, "open %s: %s", dir, strerror(errno));
    struct archive *a = image_ar.read_new();
    image_ar.read_support_filter_all(a);
    image_ar.read_support_format_tar(a);
    image_ar.read_support_format_empty(a);
    int rc = 0;
    int64_t total = 0;
    if (image_ar.read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        rc = err_set(e, ERR_INVALID, "invalid layer: %s", image_ar.error_string(a));
        goto out;
    }
    for (;;) {
        struct archive_entry *ent;
        int h = image_ar.read_next_header(a, &ent);
        if (h == ARCHIVE_EOF)
            break;
        if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
            rc = err_set(e, ERR_INVALID, "invalid layer: %s", image_ar.error_string(a));
            goto out;
        }
        if ((rc = unpack_entry(a, ent, rootfd, &total, e)) < 0)
            goto out;
    }
    *size = total;
out:
    image_ar.read_free(a);
    close(rootfd);
    return rc;
}
