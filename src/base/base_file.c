/* base_file.c — whole-file reads, atomic durable writes, mkdir -p and rm -rf.
 * Blocking; used at start-up and for small state files. */
#include "base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read(const char *path, char **data, size_t *len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "open %s: %s", path,
                       strerror(errno));
    struct buf b = BUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            close(fd);
            buf_release(&b);
            return err_set(e, ERR_INTERNAL, "read %s: %s", path, strerror(saved));
        }
        if (r == 0)
            break;
        buf_add(&b, chunk, (size_t)r);
    }
    close(fd);
    *data = buf_detach(&b, len);
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int fd_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_replace(const char *path, const void *data, size_t len, int mode, bool durable,
                         struct err *e)
{
    char *tmp = xasprintf("%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = err_set(e, ERR_INTERNAL, "create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fd_write_all(fd, data, len) < 0) {
        rc = err_set(e, ERR_INTERNAL, "write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if ((durable && fsync(fd) < 0) || close(fd) < 0) {
        rc = err_set(e, ERR_INTERNAL, "sync %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        rc = err_set(e, ERR_INTERNAL, "rename %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (durable)
        fsync_dir_of(path);
out:
    free(tmp);
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *e)
{
    return write_replace(path, data, len, mode, true, e);
}

int file_write_replace(const char *path, const void *data, size_t len, int mode, struct err *e)
{
    return write_replace(path, data, len, mode, false, e);
}

int dir_make(const char *path, int mode, struct err *e)
{
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                rc = err_set(e, ERR_INTERNAL, "mkdir %s: %s", p, strerror(errno));
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

int dir_remove_all(const char *path, struct err *e)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : err_set(e, ERR_INTERNAL, "stat %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return err_set(e, ERR_INTERNAL, "opendir %s: %s", path, strerror(errno));
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d)) && !rc) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *child = xasprintf("%s/%s", path, de->d_name);
            rc = dir_remove_all(child, e);
            free(child);
        }
        closedir(d);
        if (rc)
            return rc;
        if (rmdir(path) < 0)
            return err_set(e, ERR_INTERNAL, "rmdir %s: %s", path, strerror(errno));
        return 0;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return err_set(e, ERR_INTERNAL, "unlink %s: %s", path, strerror(errno));
    return 0;
}
