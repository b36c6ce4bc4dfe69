/* image.h — the local content-addressed image store: images loaded from `docker save` and OCI
 * image-layout archives (`docker load`) or from a plain rootfs tarball (`docker import`),
 * their tags, and the unpacked layers a container's overlay rootfs is made of.
 *
 * Layout under the store root (every metadata file is written atomically, tmp + rename, and
 * everything is read back by image_store_open):
 *   blobs/sha256/<hex>          image configs, by digest (the hex is the image ID)
 *   images/<hex>.json           {"id", "layers": [chainID, ...] bottom first, "last_tag_time"}
 *   layers/<chainhex>/diff/     one unpacked layer (overlay lower dir, whiteouts converted)
 *   layers/<chainhex>/meta.json {"chain_id", "diff_id", "parent", "size", "link"}
 *   l/<26 chars> -> ../layers/<chainhex>/diff   short lower-dir names (mount data is one page)
 *   repositories.json           {"refs": {"docker.io/library/busybox:latest": "sha256:..."}}
 *   tmp/                        spooled archives and layers being unpacked (emptied at open)
 * A layer is unpacked into layers/<chainhex>.tmp and renamed into place once complete, so a
 * crash never leaves half a layer; a layer is unpacked once per chainID and shared by every
 * image whose chain contains it; a layer no image references is removed.
 *
 * Where blobs come from is not this module's business: a load reads a tar stream, an import a
 * rootfs tar stream; a registry pull can later feed image_load_layer-like calls the same way.
 *
 * Safety: archive entries are only ever read through libarchive (never extracted by it); every
 * path is created by this module with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative
 * to the layer root and O_NOFOLLOW / *at() leaves, names with ".." escaping the root are
 * refused, and each layer's digest and diff_id are checked before anything of it is kept.
 *
 * Threading: not thread-safe; every call blocks (disk I/O, decompression). A caller on the
 * event loop runs loads in a worker and serialises all calls on one store. */
#ifndef SHOAL_IMAGE_H
#define SHOAL_IMAGE_H

#include "base/base.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* ---- references (image_ref.c; pure) ----
 * Docker's local-name rules: "busybox" is docker.io/library/busybox:latest, "localhost:5000/x:1"
 * keeps its domain, "name@sha256:<64 hex>" is a digest reference. */
struct image_ref {
    char *name;   /* full repository name: "docker.io/library/busybox" */
    char *tag;    /* "latest" when neither a tag nor a digest was given; NULL with a digest only */
    char *digest; /* "sha256:<hex>" or NULL */
};
/* Parses s. With default_tag, a reference with neither tag nor digest gets ":latest".
 * Errors (ERR_INVALID, Docker's words): "invalid reference format", "invalid reference
 * format: repository name (library/Busybox) must be lowercase", 64-hex names. */
int image_ref_parse(const char *s, bool default_tag, struct image_ref *r, struct err *e);
void image_ref_release(struct image_ref *r);
/* "docker.io/library/busybox:latest" (the store's key); heap string. */
char *image_ref_full(const struct image_ref *r);
/* Docker's familiar form of a full key or name: "busybox:latest", "localhost:5000/x:1". */
char *image_ref_familiar(const char *full);

/* ---- the store (image_store.c) ---- */
struct image_store;

/* Tells whether a container uses the image (ID "sha256:<hex>"): returns true and fills
 * container (its ID) and running for one that does, preferring a running one. */
typedef bool (*image_user_cb)(void *arg, const char *image_id, char *container, size_t cap,
                              bool *running);

/* Opens (creating if needed) the store at root: drops leftovers of interrupted work, reloads
 * images, layers and references, removes layers no image references and re-creates missing
 * short links. Returns NULL with e filled on error. */
struct image_store *image_store_open(const char *root, struct err *e);
void image_store_free(struct image_store *s); /* NULL is a no-op */
/* Sets who is asked before an image is removed (none: no image is in use). */
void image_store_set_user_cb(struct image_store *s, image_user_cb cb, void *arg);
/* How many layers this store has unpacked since it was opened (reuse shows as no change). */
unsigned image_store_unpacked(const struct image_store *s);

/* Loads a `docker save` archive (manifest.json; the old layout with <id>.json and
 * <dir>/layer.tar and the Docker 25+ one with blobs/sha256/...) or an OCI image-layout archive
 * (oci-layout, index.json, blobs/...), plain or compressed, read from fd to its end.
 * Verifies every blob digest and every layer's diff_id; on any error nothing of the archive is
 * kept. Tags as the archive says. Appends what `docker load` prints to out, one line each:
 * "Loaded image: busybox:latest" or "Loaded image ID: sha256:...". */
int image_load(struct image_store *s, int fd, struct buf *out, struct err *e);
int image_load_path(struct image_store *s, const char *path, struct buf *out, struct err *e);

/* `docker import`: a plain (possibly compressed) rootfs tar read from fd becomes a one-layer
 * image; config (borrowed, may be NULL) is the image's "config" object (Cmd, Env, ...);
 * comment goes into its history (NULL: "Imported from -"); ref (may be NULL) is tagged.
 * Fills id ("sha256:<hex>"). */
int image_import(struct image_store *s, int fd, const char *ref, const char *comment,
                 json_t *config, char id[72], struct err *e);

/* Resolves a name as Docker does: a full ID ("sha256:<hex>" or the 64 hex), a reference (tag
 * or digest; ":latest" if neither), else a unique prefix of an ID (with or without "sha256:").
 * ERR_NOT_FOUND: "No such image: busybox:latest". Fills id. */
int image_resolve(struct image_store *s, const char *name, char id[72], struct err *e);

/* Tags the image source resolves to as target (re-pointing target if it names another). */
int image_tag(struct image_store *s, const char *source, const char *target, struct err *e);

/* `docker rmi`: untags or deletes as Docker does (a tag is untagged; the image goes when no
 * reference is left; a container using it is a conflict, a running one even with force).
 * *records (new JSON array, caller owns) gets {"Untagged": "busybox:latest"} and
 * {"Deleted": "sha256:..."} items, layers included. ERR_NOT_FOUND / ERR_CONFLICT with
 * Docker's messages. */
int image_remove(struct image_store *s, const char *name, bool force, json_t **records,
                 struct err *e);

/* `GET /images/json` items: a new array of {"Id", "ParentId", "RepoTags", "RepoDigests",
 * "Created" (unix seconds), "Size", "SharedSize", "VirtualSize", "Labels", "Containers"},
 * newest first. */
json_t *image_list(struct image_store *s);

/* `GET /images/{name}/json`: a new object {"Id", "RepoTags", "RepoDigests", "Parent",
 * "Comment", "Created", "DockerVersion", "Author", "Config", "Architecture", "Os", "Size",
 * "GraphDriver", "RootFS": {"Type": "layers", "Layers": [diff_id...]}, "Metadata"}. */
int image_inspect(struct image_store *s, const char *name, json_t **out, struct err *e);

/* The image's config object (the whole config JSON as loaded; borrowed until the image is
 * removed). */
int image_config_get(struct image_store *s, const char *name, const json_t **config, struct err *e);

/* The overlay lower dirs of the image, top layer first, as short link paths
 * (<root>/l/<26 chars>): a new NULL-terminated array (free with image_lower_free). */
int image_lower_dirs(struct image_store *s, const char *name, char ***lower, struct err *e);
void image_lower_free(char **lower);

/* Re-reads the whole store from disk (after an image helper changed it), in place: the
 * pointer stays valid, borrowed configs and lists taken before do not. Same work as
 * image_store_open; on error the store is left as it was. */
int image_store_reload(struct image_store *s, struct err *e);
/* The store's root directory (borrowed). */
const char *image_store_root(const struct image_store *s);

/* ---- archive reading in a child process (image_helper.c) ----
 * `shoal image-helper --root DIR [--ref R] [--comment C] [--config JSON] load|import`: reads
 * the archive from stdin into the store at DIR and writes Docker's JSON messages to stdout,
 * one per line ("\r\n"): {"stream":"Loaded image: x\n"} per image loaded, {"status":
 * "sha256:..."} for an import, {"errorDetail":{"message":m},"error":m} on failure (exit 1). */
int image_helper_main(int argc, char **argv);

/* Runs argv (the helper, normally /proc/self/exe image-helper ...) with input (borrowed until
 * done) on its stdin; on_line gets each line of its stdout with its newline; done once the
 * child has exited and its pipes are closed (rc < 0 when it failed: its own error message
 * came as a line before). On a spawn failure returns < 0 with e filled and never calls done.
 * The loop thread. Run one job per store at a time, with no other change to the store
 * meanwhile, and image_store_reload after it. */
typedef void (*image_job_line_cb)(void *arg, const char *line, size_t n);
typedef void (*image_job_done_cb)(void *arg, int rc, const struct err *e);
struct image_job;
struct image_job *image_job_start(uv_loop_t *loop, char *const *argv, const void *input, size_t len,
                                  image_job_line_cb on_line, image_job_done_cb done, void *arg,
                                  struct err *e);
/* SIGKILLs the helper (shutdown); done still follows. */
void image_job_kill(struct image_job *j);

#endif
