/* volume.h — named local volumes: Docker's "local" volume driver on one node.
 *
 * A volume is a directory <root>/<name>/ (root is <data-root>/volumes) holding meta.json (name,
 * driver "local", labels, options, CreatedAt) and _data, the directory containers see. A
 * volume appears whole or not at all: it is made as <root>/.tmp-<random>/ and renamed into
 * place; removal renames it to <root>/.rm-<random>/ before deleting the files, and leftovers of
 * both are deleted at open. Volumes with the local driver's options type/device/o are mounted
 * (mount(2) of device on _data with type and the o flags/data) while a container uses them,
 * and unmounted when the last one lets go, as Docker's local driver does.
 *
 * Users: every container that uses a volume is recorded against it (volume_use) until it is
 * removed (volume_unuse); a volume in use cannot be removed ("volume is in use - [ids]"). Users
 * live in memory only: after a restart the agent records them again from the containers it
 * finds. An anonymous volume (made for a mount without a source) carries the label
 * com.docker.volume.anonymous, as Docker 23+ marks them; prune removes only those unless
 * asked for all.
 *
 * Thread: the loop thread, except volume_copy_up and volume_dir_empty, which only touch the
 * paths they are given and may run on the thread pool. Calls block for a few syscalls (a
 * mount, a small file write); removing a volume deletes its files in the call. */
#ifndef SHOAL_VOLUME_H
#define SHOAL_VOLUME_H

#include "base/base.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define VOLUME_DRIVER "local"
#define VOLUME_ANON_LABEL "com.docker.volume.anonymous"
#define VOLUME_NAME_MAX 255

/* ---- the pure parts (volume_meta.c) ---- */

/* Docker's local driver name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most VOLUME_NAME_MAX bytes.
 * Returns 0 or -ERR_INVALID with Docker's words (without the "create <name>: " prefix). */
int volume_name_check(const char *name, struct err *e);
/* The driver: NULL, "" or "local"; else -ERR_NOT_FOUND with Docker's words ("error looking up
 * volume plugin foo: plugin \"foo\" not found"). */
int volume_driver_check(const char *driver, struct err *e);
/* The local driver's options (an object of strings, or NULL): only type, device and o, each
 * needing the others as Docker requires them ("invalid option: \"x\"", "missing required
 * option: \"device\""); size (quotas) is refused as on a host without quota support. */
int volume_opts_check(const json_t *opts, struct err *e);
/* Splits the o option as mount(8) does: the flag words (ro, rw, nosuid, nodev, noexec, sync,
 * noatime, nodiratime, relatime, strictatime, bind, rbind, ...) become MS_* flags, the rest is
 * joined (comma-separated, in order) into *data (heap; "" when none). */
void volume_mount_opts(const char *o, unsigned long *flags, char **data);

/* What meta.json keeps. labels and options are objects of strings or NULL (Docker shows
 * null: a volume created without them). */
struct volume_meta {
    char *name;
    json_t *labels;
    json_t *options;
    int64_t created_s; /* CreatedAt, Unix seconds */
};
/* meta.json's text (heap). */
char *volume_meta_encode(const struct volume_meta *m);
/* Parses meta.json; -ERR_INVALID when it is not one (wrong driver, bad name, bad types). */
int volume_meta_decode(const char *s, size_t n, struct volume_meta *m, struct err *e);
void volume_meta_release(struct volume_meta *m);
/* Docker's Volume object: {CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope}. */
json_t *volume_meta_json(const struct volume_meta *m, const char *mountpoint);
/* Go's fmt of a []string: "[a b c]" (heap). */
char *volume_users_text(char *const *ids, size_t n);

/* ---- copy-up (volume_copy.c; any thread) ---- */

/* 1 when the directory at path is empty, 0 when it has entries, negative with e filled when it
 * cannot be read. */
int volume_dir_empty(const char *path, struct err *e);
/* Docker's copy-up: the content of target (an absolute path inside the container's root file
 * system at rootfs, resolved in that root: symlinks never lead out of it) is copied into the
 * directory dst: files, directories, symlinks (copied, never followed), fifos and devices, with
 * modes, owners and times. Entries that exist in dst already are kept. A target that does not
 * exist, is not a directory or is empty copies nothing (an empty one gives its owner and mode
 * neither: called after the runtime made the mount point, it cannot tell one it made from the
 * image's). Returns 0 or negative with e filled. */
int volume_copy_up(const char *rootfs, const char *target, const char *dst, struct err *e);

/* ---- the store (volume_store.c; loop thread) ---- */

struct volume_store;

/* Opens (creating) root and reads every volume in it. NULL with e filled on error. */
struct volume_store *volume_store_open(const char *root, struct err *e);
/* Forgets the volumes without unmounting anything (containers keep using them). NULL: no-op. */
void volume_store_free(struct volume_store *vs);

struct volume_req {
    const char *name;   /* NULL or "": a new random 64-hex name */
    const char *driver; /* NULL, "" or "local" */
    json_t *labels;     /* object of strings, or NULL */
    json_t *options;    /* the local driver's options, or NULL */
    bool anonymous;     /* made for a mount without a source: labelled VOLUME_ANON_LABEL */
};
/* Creates the volume, or finds the existing one of that name (left as it is, as Docker's
 * create does). *name (heap, may be NULL) gets the volume's name, *created whether it is new
 * (may be NULL). Errors carry Docker's words prefixed "create <name>: ". */
int volume_create(struct volume_store *vs, const struct volume_req *rq, char **name, bool *created,
                  struct err *e);
/* Docker's Volume object of name (new reference), or NULL with e filled: ERR_NOT_FOUND "get
 * <name>: no such volume". */
json_t *volume_inspect(struct volume_store *vs, const char *name, struct err *e);
/* The directory containers see (heap), or NULL when name is unknown. */
char *volume_data_path(struct volume_store *vs, const char *name);
/* Records ctr_id as a user of name (once per container), mounting a volume with options when
 * it gets its first user. -ERR_NOT_FOUND for an unknown volume; a mount failure leaves the
 * user unrecorded. */
int volume_use(struct volume_store *vs, const char *name, const char *ctr_id, struct err *e);
/* Drops ctr_id from every volume it uses (unmounting those left without users); with
 * remove_anonymous, removes the anonymous ones among them that no one else uses (Docker's
 * container removal with RemoveVolumes). Failures are logged. */
void volume_unuse(struct volume_store *vs, const char *ctr_id, bool remove_anonymous);
/* Removes the volume: ERR_NOT_FOUND "get <name>: no such volume" (0 with force), ERR_CONFLICT
 * "remove <name>: volume is in use - [ids]". *reclaimed (may be NULL) gets the bytes its files
 * took. */
int volume_remove(struct volume_store *vs, const char *name, bool force, int64_t *reclaimed,
                  struct err *e);
/* Calls fn for each volume, in name order: its Volume object (borrowed for the call), whether
 * it is anonymous, and how many containers use it. fn must not change the store. */
typedef void (*volume_each_fn)(void *arg, json_t *vol, bool anonymous, size_t users);
void volume_each(struct volume_store *vs, volume_each_fn fn, void *arg);

#endif
