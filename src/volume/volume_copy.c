/* volume_copy.c — Docker's copy-up: the image's content at a mount's target copied into a
 * new, empty volume before the container first runs.
 *
 * The source is the container's root file system (the overlay of its image). The target is
 * resolved there with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so an absolute or
 * relative symlink on the way is resolved as if that root were "/" and never leads out of it.
 * Below it every entry is reached with *at() calls relative to its directory's fd that never
 * follow a final symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): a symlink is copied as a symlink,
 * and nothing outside the two trees is read or written, even if a container that shares the
 * volume changes it meanwhile. Files keep their mode, owner, times and extended attributes
 * (file capabilities, best effort); hard links inside the tree stay hard links.
 * Thread: any (touches only the paths given). */
#include "volume/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define COPY_MAX_DEPTH 256

struct copy_link {
    dev_t dev;
    ino_t ino;
    char *rel; /* the copy's path below dst */
};

struct copy_ctx {
    int dst_root;
    struct copy_link *links;
    size_t nlinks;
    struct buf rel; /* the current directory below dst, "" or "a/b/" */
    struct err *e;
};

int volume_dir_empty(const char *path, struct err *e)
{
    DIR *d = opendir(path);
    if (!d)
        return err_set(e, ERR_INTERNAL, "open %s: %s", path, strerror(errno));
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

static int fail(struct copy_ctx *c, const char *what, const char *name)
{
    return err_set(c->e, ERR_INTERNAL, "copy-up: %s %s%s: %s", what, c->rel.p ? c->rel.p : "", name,
                   strerror(errno));
}

/* Owner, mode (after the owner: chown clears set-id bits) and times of what fd or (dfd, name)
 * names. Symlinks get owner and times only. */
static int copy_attrs(struct copy_ctx *c, int fd, int dfd, const char *name, const struct stat *st)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (S_ISLNK(st->st_mode)) {
        if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return fail(c, "set attributes of", name);
        return 0;
    }
    if (fd >= 0) {
        if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0 ||
            futimens(fd, ts) < 0)
            return fail(c, "set attributes of", name);
        return 0;
    }
    if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        fchmodat(dfd, name, st->st_mode & 07777, 0) < 0 ||
        utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return fail(c, "set attributes of", name);
    return 0;
}

/* Extended attributes, best effort (a file system without them, or a namespace this process
 * may not write, is no error: Docker's copy skips those too). */
static void copy_xattrs(int sfd, int dfd)
{
    char names[4096], val[4096];
    ssize_t n = flistxattr(sfd, names, sizeof(names));
    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
        ssize_t vl = fgetxattr(sfd, names + off, val, sizeof(val));
        if (vl >= 0)
            (void)fsetxattr(dfd, names + off, val, (size_t)vl, 0);
    }
}

static int copy_bytes(struct copy_ctx *c, int sfd, int dfd, const char *name)
{
    char buf[65536];
    for (;;) {
        ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return fail(c, "copy", name);
        break;
    }
    for (;;) { /* copy_file_range refused (across file systems on older kernels) */
        ssize_t n = read(sfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(c, "read", name);
        if (n == 0)
            return 0;
        if (fd_write_all(dfd, buf, (size_t)n) < 0)
            return fail(c, "write", name);
    }
}

static int copy_file(struct copy_ctx *c, int sdir, int ddir, const char *name,
                     const struct stat *st)
{
    if (st->st_nlink > 1) {
        for (size_t i = 0; i < c->nlinks; i++) {
            if (c->links[i].dev != st->st_dev || c->links[i].ino != st->st_ino)
                continue;
            if (linkat(c->dst_root, c->links[i].rel, ddir, name, 0) < 0)
                return fail(c, "link", name);
            return 0;
        }
    }
    int sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return fail(c, "open", name);
    int dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (dfd < 0) {
        close(sfd);
        return fail(c, "create", name);
    }
    int rc = copy_bytes(c, sfd, dfd, name);
    if (!rc) {
        copy_xattrs(sfd, dfd);
        rc = copy_attrs(c, dfd, ddir, name, st);
    }
    close(sfd);
    close(dfd);
    if (!rc && st->st_nlink > 1) {
        c->links = xrealloc(c->links, (c->nlinks + 1) * sizeof(*c->links));
        c->links[c->nlinks++] = (struct copy_link){
            .dev = st->st_dev,
            .ino = st->st_ino,
            .rel = xasprintf("%s%s", c->rel.p ? c->rel.p : "", name),
        };
    }
    return rc;
}

static int copy_dir(struct copy_ctx *c, int sdir, int ddir, int depth);

static int copy_entry(struct copy_ctx *c, int sdir, int ddir, const char *name, int depth)
{
    struct stat st, dst;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : fail(c, "stat", name);
    bool exists = fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(S_ISDIR(st.st_mode) && S_ISDIR(dst.st_mode)))
        return 0; /* kept as it is (a mount point the runtime made, say) */
    if (S_ISDIR(st.st_mode)) {
        if (depth >= COPY_MAX_DEPTH)
            return err_set(c->e, ERR_INTERNAL, "copy-up: %s%s: more than %d levels deep",
                           c->rel.p ? c->rel.p : "", name, COPY_MAX_DEPTH);
        if (!exists && mkdirat(ddir, name, 0700) < 0)
            return fail(c, "mkdir", name);
        int s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int d = s < 0 ? -1 : openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 || d < 0) {
            if (s >= 0)
                close(s);
            return fail(c, "open", name);
        }
        size_t keep = c->rel.len;
        buf_printf(&c->rel, "%s/", name);
        int rc = copy_dir(c, s, d, depth + 1);
        c->rel.len = keep;
        c->rel.p[keep] = 0;
        if (!rc && !exists) {
            copy_xattrs(s, d);
            rc = copy_attrs(c, d, ddir, name, &st);
        }
        close(s);
        close(d);
        return rc;
    }
    if (S_ISREG(st.st_mode))
        return copy_file(c, sdir, ddir, name, &st);
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
        if (n < 0)
            return fail(c, "readlink", name);
        target[n] = 0;
        if (symlinkat(target, ddir, name) < 0)
            return fail(c, "symlink", name);
        return copy_attrs(c, -1, ddir, name, &st);
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        if (mknodat(ddir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
            return fail(c, "mknod", name);
        return copy_attrs(c, -1, ddir, name, &st);
    }
    return 0; /* sockets are not copied (as Docker's fs.CopyDir) */
}

static int copy_dir(struct copy_ctx *c, int sdir, int ddir, int depth)
{
    int fd = dup(sdir);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return fail(c, "read directory", "");
    }
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        rc = copy_entry(c, sdir, ddir, de->d_name, depth);
    }
    closedir(d);
    return rc;
}

int volume_copy_up(const char *rootfs, const char *target, const char *dst, struct err *e)
{
    int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return err_set(e, ERR_INTERNAL, "copy-up: open %s: %s", rootfs, strerror(errno));
    struct open_how how = {
        .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int src = (int)syscall(SYS_openat2, root, target, &how, sizeof(how));
    int serr = errno;
    close(root);
    if (src < 0) {
        if (serr == ENOENT || serr == ENOTDIR)
            return 0; /* nothing in the image there (or not a directory): nothing to copy */
        return err_set(e, ERR_INTERNAL, "copy-up: open %s in the container: %s", target,
                       strerror(serr));
    }
    /* Empty: nothing to copy, and the owner and mode are not taken either, because this runs
     * after the runtime's create, which makes a missing mount point as an empty directory
     * (Docker copies before, and finds no directory there) */
    char self[32];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", src);
    int empty = volume_dir_empty(self, e);
    if (empty != 0) {
        close(src);
        return empty < 0 ? empty : 0;
    }
    int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        close(src);
        return err_set(e, ERR_INTERNAL, "copy-up: open %s: %s", dst, strerror(errno));
    }
    struct copy_ctx c = {.dst_root = dfd, .e = e};
    buf_adds(&c.rel, "");
    int rc = copy_dir(&c, src, dfd, 0);
    struct stat st;
    /* the volume's root takes the owner and mode of the image's directory (moby's
     * copyOwnership) */
    if (!rc && fstat(src, &st) == 0 &&
        (fchown(dfd, st.st_uid, st.st_gid) < 0 || fchmod(dfd, st.st_mode & 07777) < 0))
        rc = err_set(e, ERR_INTERNAL, "copy-up: chown %s: %s", dst, strerror(errno));
    for (size_t i = 0; i < c.nlinks; i++)
        free(c.links[i].rel);
    free(c.links);
    buf_release(&c.rel);
    close(src);
    close(dfd);
    return rc;
}
