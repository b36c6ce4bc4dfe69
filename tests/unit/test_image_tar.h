/* test_image_tar.h — builds tar archives byte by byte for the image tests, so a test can
 * craft exactly the hostile entries it needs (names with "..", absolute names, links out of
 * the root, lying size fields) that a well-behaved tar writer would refuse to produce. Also
 * sha256 hex of a buffer, and gzip through libarchive's writer. Test code only. */
#ifndef SHOAL_TEST_IMAGE_TAR_H
#define SHOAL_TEST_IMAGE_TAR_H

#include "base/base.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void tt_octal(char *field, size_t width, unsigned long long v)
{
    snprintf(field, width, "%0*llo", (int)(width - 1), v);
}

/* Appends one ustar entry; type '0' file, '1' hardlink, '2' symlink, '3' char, '5' dir. */
static inline void tt_entry(struct buf *b, const char *name, char type, const void *data, size_t n,
                            const char *link, int mode, unsigned long long size_field)
{
    char h[512];
    memset(h, 0, sizeof(h));
    size_t nl = strlen(name);
    if (nl > 100) { /* ustar prefix split */
        const char *cut = name + nl - 100;
        const char *slash = strchr(cut, '/');
        size_t pl = (size_t)(slash - name);
        memcpy(h + 345, name, pl);
        memcpy(h, slash + 1, strlen(slash + 1));
    } else {
        memcpy(h, name, nl);
    }
    tt_octal(h + 100, 8, (unsigned)mode);
    tt_octal(h + 108, 8, 0);
    tt_octal(h + 116, 8, 0);
    tt_octal(h + 124, 12, size_field);
    tt_octal(h + 136, 12, 1700000000);
    h[156] = type;
    if (link)
        memcpy(h + 157, link, strlen(link));
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    buf_add(b, h, 512);
    if (n) {
        buf_add(b, data, n);
        static const char zero[512];
        if (n % 512)
            buf_add(b, zero, 512 - n % 512);
    }
}

static inline void tt_file(struct buf *b, const char *name, const char *data)
{
    tt_entry(b, name, '0', data, strlen(data), NULL, 0644, strlen(data));
}

static inline void tt_file_n(struct buf *b, const char *name, const void *data, size_t n, int mode)
{
    tt_entry(b, name, '0', data, n, NULL, mode, n);
}

static inline void tt_dir(struct buf *b, const char *name)
{
    tt_entry(b, name, '5', NULL, 0, NULL, 0755, 0);
}

static inline void tt_symlink(struct buf *b, const char *name, const char *target)
{
    tt_entry(b, name, '2', NULL, 0, target, 0777, 0);
}

static inline void tt_hardlink(struct buf *b, const char *name, const char *target)
{
    tt_entry(b, name, '1', NULL, 0, target, 0644, 0);
}

static inline void tt_end(struct buf *b)
{
    static const char zero[1024];
    buf_add(b, zero, sizeof(zero));
}

/* "<64 hex>" (no prefix) */
static inline void tt_sha256(const void *d, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_Digest(d, n, md, &ml, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* data compressed with a libarchive filter (ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD) */
static inline void tt_compress(const void *data, size_t n, int filter, struct buf *out)
{
    struct archive *a = archive_write_new();
    archive_write_add_filter(a, filter);
    archive_write_set_format_raw(a);
    size_t cap = n + 65536, used = 0;
    char *mem = xmalloc(cap);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open_memory(a, mem, cap, &used);
    struct archive_entry *ent = archive_entry_new();
    archive_entry_set_filetype(ent, AE_IFREG);
    archive_entry_set_pathname(ent, "data");
    archive_write_header(a, ent);
    archive_write_data(a, data, n);
    archive_entry_free(ent);
    archive_write_close(a);
    archive_write_free(a);
    buf_add(out, mem, used);
    free(mem);
}

static inline void tt_gzip(const void *data, size_t n, struct buf *out)
{
    tt_compress(data, n, ARCHIVE_FILTER_GZIP, out);
}

/* A layer holding Debian's static busybox as bin/busybox, a relative symlink per applet, and
 * the usual top-level dirs. Returns false when /bin/busybox is missing. */
static inline bool tt_busybox_layer(struct buf *b)
{
    char *bin = NULL;
    size_t n = 0;
    struct err e = {0};
    if (file_read("/bin/busybox", &bin, &n, &e) < 0)
        return false;
    static const char *const dirs[] = {"bin/", "dev/", "etc/", "proc/", "sys/", "tmp/"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        tt_dir(b, dirs[i]);
    tt_file_n(b, "bin/busybox", bin, n, 0755);
    free(bin);
    int p[2];
    if (pipe(p) < 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl("/bin/busybox", "busybox", "--list", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    struct buf list = BUF_INIT;
    char chunk[4096];
    ssize_t r;
    while ((r = read(p[0], chunk, sizeof(chunk))) > 0)
        buf_add(&list, chunk, (size_t)r);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    buf_add(&list, "", 0);
    for (char *save = NULL, *a = strtok_r(list.p, "\n", &save); a;
         a = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(a, "busybox"))
            continue;
        char *name = xasprintf("bin/%s", a);
        tt_symlink(b, name, "busybox");
        free(name);
    }
    buf_release(&list);
    tt_end(b);
    return true;
}

#endif
