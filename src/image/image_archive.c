/* image_archive.c — libarchive, loaded at run time: the table of the few libarchive functions
 * src/image reads archives with, filled by dlopen("libarchive.so.13") on first use.
 *
 * Why: libarchive and what it pulls in (xml2, lzma, zstd, acl, nettle, ...) cost the daemon
 * about 3 MB of resident memory just by being mapped. The daemon only reads archives inside
 * its image helper process (`shoal image-helper`, image_helper.c), so it never links nor
 * maps the library; the helper (and the unit tests) map it on their first archive read.
 *
 * Invariant: every path that calls through image_ar first called image_ar_load and stopped
 * on its error; once loaded the library stays mapped for the life of the process.
 * Thread: loaded under a pthread_once, so any thread may call image_ar_load. */
#include "image_int.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct image_ar_fns image_ar;

static pthread_once_t ar_once = PTHREAD_ONCE_INIT;
static char ar_error[256];

#define AR_SONAME "libarchive.so.13"

static void ar_open(void)
{
    void *h = dlopen(AR_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(ar_error, sizeof(ar_error), "%s", why ? why : "dlopen failed");
        return;
    }
    struct {
        const char *name;
        void **slot;
    } syms[] = {
#define AR_SYM(f) {"archive_" #f, (void **)&image_ar.f}
        AR_SYM(read_new),
        AR_SYM(read_free),
        AR_SYM(read_support_filter_all),
        AR_SYM(read_support_format_tar),
        AR_SYM(read_support_format_raw),
        AR_SYM(read_support_format_empty),
        AR_SYM(read_open_fd),
        AR_SYM(read_open_filename),
        AR_SYM(read_next_header),
        AR_SYM(read_data),
        AR_SYM(error_string),
        AR_SYM(entry_pathname),
        AR_SYM(entry_hardlink),
        AR_SYM(entry_symlink),
        AR_SYM(entry_filetype),
        AR_SYM(entry_perm),
        AR_SYM(entry_uid),
        AR_SYM(entry_gid),
        AR_SYM(entry_atime),
        AR_SYM(entry_mtime),
        AR_SYM(entry_size),
        AR_SYM(entry_rdev),
        AR_SYM(entry_xattr_reset),
        AR_SYM(entry_xattr_next),
#undef AR_SYM
    };
    for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (!*syms[i].slot) {
            snprintf(ar_error, sizeof(ar_error), "%s: no symbol %s", AR_SONAME, syms[i].name);
            memset(&image_ar, 0, sizeof(image_ar));
            dlclose(h);
            return;
        }
    }
    image_ar.loaded = true;
}

/* The table's types are the library's own (typeof does not reference the symbols). */
#define AR_SAME(f)                                                                                 \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&archive_##f), __typeof__(image_ar.f)), \
                   "image_ar." #f " has libarchive's type")
AR_SAME(read_new);
AR_SAME(read_free);
AR_SAME(read_support_filter_all);
AR_SAME(read_support_format_tar);
AR_SAME(read_support_format_raw);
AR_SAME(read_support_format_empty);
AR_SAME(read_open_fd);
AR_SAME(read_open_filename);
AR_SAME(read_next_header);
AR_SAME(read_data);
AR_SAME(error_string);
AR_SAME(entry_pathname);
AR_SAME(entry_hardlink);
AR_SAME(entry_symlink);
AR_SAME(entry_filetype);
AR_SAME(entry_perm);
AR_SAME(entry_uid);
AR_SAME(entry_gid);
AR_SAME(entry_atime);
AR_SAME(entry_mtime);
AR_SAME(entry_size);
AR_SAME(entry_rdev);
AR_SAME(entry_xattr_reset);
AR_SAME(entry_xattr_next);

int image_ar_load(struct err *e)
{
    pthread_once(&ar_once, ar_open);
    if (!image_ar.loaded)
        return err_set(e, ERR_INTERNAL, "cannot read archives: %s (install libarchive13)",
                       ar_error);
    return 0;
}
