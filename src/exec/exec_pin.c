/* exec_pin.c — the OCI runtime's binary pinned read-only, so it does not clone itself on
 * every call.
 *
 * crun and runc guard against CVE-2019-5736 (a container overwriting the runtime through
 * /proc/self/exe) by copying or bind-mounting themselves somewhere read-only and re-executing
 * that copy, unless they already run from a sealed memfd, or from a read-only file with
 * _LIBCONTAINER_CLONED_BINARY in the environment (the case their check names an admin's
 * read-only bind mount). crun 1.8 does it on every call: a bind mount in /tmp, a remount and a
 * second exec with all its libraries. Measured here: `crun state` 2.2 ms of CPU as installed,
 * 1.0 ms from a read-only bind mount with the variable set; a task start makes two calls and a
 * removal two more.
 *
 * So exec_new bind-mounts the runtime read-only at <state root>/bin/<name> and runs it from
 * there with _LIBCONTAINER_CLONED_BINARY=1: the protection stays (the file a container could
 * reach through /proc/<pid>/exe is on a read-only mount), the copy goes. The mount is the
 * daemon's: made fresh at start (a stale one from a killed daemon is detached first), removed
 * by exec_free. Where it cannot be made, the runtime runs as installed. Thread: loop. */
#include "exec/exec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Detaches whatever is mounted at path (mounts may be stacked by daemons killed in turn). */
static void pin_detach(const char *path)
{
    for (int i = 0; i < 16 && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
        ;
}

char *exec_pin_runtime(const char *root, const char *bin)
{
    const char *base = strrchr(bin, '/');
    base = base ? base + 1 : bin;
    char *dir = xasprintf("%s/bin", root), *path = xasprintf("%s/%s", dir, base);
    struct err e = {0};
    const char *why = NULL;
    int err = 0;
    if (dir_make(dir, 0700, &e) < 0) {
        why = e.msg;
        goto fail;
    }
    pin_detach(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0700);
    if (fd < 0) {
        why = "create the mount point";
        err = errno;
        goto fail;
    }
    close(fd);
    if (mount(bin, path, NULL, MS_BIND, NULL) < 0) {
        why = "bind mount";
        err = errno;
        goto fail;
    }
    if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
        0) {
        why = "remount read-only";
        err = errno;
        pin_detach(path);
        goto fail;
    }
    struct statvfs sv;
    if (statvfs(path, &sv) < 0 || !(sv.f_flag & ST_RDONLY) || access(path, X_OK) < 0) {
        why = "check the read-only mount";
        err = errno;
        pin_detach(path);
        goto fail;
    }
    free(dir);
    return path;
fail:
    log_warn("exec: cannot pin %s read-only at %s (%s%s%s): it clones itself on every call", bin,
             path, why, err ? ": " : "", err ? strerror(err) : "");
    free(dir);
    free(path);
    return NULL;
}

void exec_unpin_runtime(const char *path)
{
    if (!path)
        return;
    pin_detach(path);
    unlink(path);
}
