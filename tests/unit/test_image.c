/* test_image.c — the image store: references, loads of docker-save and OCI archives built in
 * the test, layer reuse, tags, removal with Docker's conflicts, import, reload, and hostile
 * archives (nothing written outside the layer dir, nothing kept of a failed load).
 * Each test works in its own temp dir (removed at the end); whiteouts need root (skipped
 * otherwise). */
#include "harness.h"
#include "image/image.h"
#include "test_image_tar.h"

#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- references ---- */

static void ref_ok(const char *in, const char *full, const char *familiar)
{
    struct image_ref r;
    struct err e = {0};
    if (image_ref_parse(in, true, &r, &e) < 0)
        FAIL_AT("%s: %s", in, e.msg);
    char *f = image_ref_full(&r);
    ASSERT_EQ_STR(f, full);
    char *fam = image_ref_familiar(f);
    ASSERT_EQ_STR(fam, familiar);
    free(fam);
    free(f);
    image_ref_release(&r);
}

static void ref_bad(const char *in, const char *msg)
{
    struct image_ref r;
    struct err e = {0};
    ASSERT_EQ_INT(image_ref_parse(in, true, &r, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, msg);
}

TEST(image_ref_normalise)
{
    ref_ok("busybox", "docker.io/library/busybox:latest", "busybox:latest");
    ref_ok("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36");
    ref_ok("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest");
    ref_ok("index.docker.io/busybox:x", "docker.io/library/busybox:x", "busybox:x");
    ref_ok("me/app:v1", "docker.io/me/app:v1", "me/app:v1");
    ref_ok("localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1");
    ref_ok("localhost/x", "localhost/x:latest", "localhost/x:latest");
    ref_ok("reg.example.com/a/b-c__d.e", "reg.example.com/a/b-c__d.e:latest",
           "reg.example.com/a/b-c__d.e:latest");
    ref_ok("busybox@sha256:"
           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           "docker.io/library/busybox@sha256:"
           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    ref_bad("Busybox", "invalid reference format: repository name (library/Busybox) must be "
                       "lowercase");
    ref_bad("busybox:", "invalid reference format");
    ref_bad("bus..box", "invalid reference format");
    ref_bad("-a", "invalid reference format");
    ref_bad("a:b:c", "invalid reference format");
    ref_bad("a@sha256:12", "invalid reference format");
    ref_bad("", "invalid reference format");
    ref_bad("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "invalid repository name "
            "(0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot "
            "specify 64-byte hexadecimal strings");
}

/* ---- archives ---- */

static char tmp[256];

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/shoal-image-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(tmp));
    char *out = xasprintf("%s/outside", tmp);
    ASSERT_EQ_INT(mkdir(out, 0755), 0);
    char *sentinel = xasprintf("%s/secret", out);
    int fd = open(sentinel, O_WRONLY | O_CREAT, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, "s", 1), 1);
    close(fd);
    free(sentinel);
    free(out);
}

static void teardown(void)
{
    struct err e = {0};
    dir_remove_all(tmp, &e);
}

static struct image_store *open_store(void)
{
    char *root = xasprintf("%s/store", tmp);
    struct err e = {0};
    struct image_store *s = image_store_open(root, &e);
    if (!s)
        FAIL_AT("open: %s", e.msg);
    free(root);
    return s;
}

/* entries in a directory (not . and ..) */
static int count_dir(const char *rel)
{
    char *p = xasprintf("%s/%s", tmp, rel);
    DIR *d = opendir(p);
    free(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void assert_store_empty(void)
{
    ASSERT_EQ_INT(count_dir("store/layers"), 0);
    ASSERT_EQ_INT(count_dir("store/images"), 0);
    ASSERT_EQ_INT(count_dir("store/l"), 0);
    ASSERT_EQ_INT(count_dir("store/blobs/sha256"), 0);
    ASSERT_EQ_INT(count_dir("store/tmp"), 0);
}

static void assert_outside_untouched(void)
{
    ASSERT_EQ_INT(count_dir("outside"), 1);
    char *p = xasprintf("%s/outside/secret", tmp);
    char *d = NULL;
    size_t n = 0;
    struct err e = {0};
    ASSERT_EQ_INT(file_read(p, &d, &n, &e), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(d[0], 's');
    free(d);
    free(p);
    /* and nothing appeared next to the temp dir either */
    struct stat st;
    ASSERT_TRUE(stat("/tmp/ESCAPED", &st) < 0);
}

struct layer_in {
    struct buf tar; /* uncompressed layer tar */
};

static char *config_json(const char *const *diff_ids, size_t n, const char *created)
{
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"%s\","
               "\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"PATH=/bin\"]},"
               "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[",
               created);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s\"sha256:%s\"", i ? "," : "", diff_ids[i]);
    buf_adds(&b, "]}}");
    return buf_detach(&b, NULL);
}

/* A docker-save archive, old layout: <id>.json, <l>/layer.tar, manifest.json, repositories.
 * bad_diff: the config's first diff_id is wrong. */
static void docker_save(struct buf *out, struct buf *layers, size_t n, const char *tag,
                        bool bad_diff, char id_hex[65])
{
    char(*dids)[65] = xcalloc(n ? n : 1, 65);
    const char **dp = xcalloc(n ? n : 1, sizeof(*dp));
    for (size_t i = 0; i < n; i++) {
        tt_sha256(layers[i].p, layers[i].len, dids[i]);
        dp[i] = dids[i];
    }
    if (bad_diff)
        dids[0][0] = dids[0][0] == '0' ? '1' : '0';
    char *cfg = config_json(dp, n, "2026-01-02T03:04:05Z");
    tt_sha256(cfg, strlen(cfg), id_hex);
    struct buf m = BUF_INIT;
    buf_printf(&m, "[{\"Config\":\"%s.json\",\"RepoTags\":[", id_hex);
    if (tag)
        buf_printf(&m, "\"%s\"", tag);
    buf_adds(&m, "],\"Layers\":[");
    for (size_t i = 0; i < n; i++)
        buf_printf(&m, "%s\"l%zu/layer.tar\"", i ? "," : "", i);
    buf_adds(&m, "]}]");
    char *cname = xasprintf("%s.json", id_hex);
    tt_file(out, cname, cfg);
    for (size_t i = 0; i < n; i++) {
        char *d = xasprintf("l%zu/", i), *f = xasprintf("l%zu/layer.tar", i);
        tt_dir(out, d);
        tt_file_n(out, f, layers[i].p, layers[i].len, 0644);
        free(d);
        free(f);
    }
    tt_file(out, "manifest.json", m.p);
    tt_end(out);
    free(cname);
    buf_release(&m);
    free(cfg);
    free(dp);
    free(dids);
}

static int load_buf(struct image_store *s, struct buf *archive, struct buf *out, struct err *e)
{
    char *p = xasprintf("%s/archive.tar", tmp);
    struct err we = {0};
    if (file_write_atomic(p, archive->p, archive->len, 0600, &we) < 0)
        FAIL_AT("%s", we.msg);
    int rc = image_load_path(s, p, out, e);
    unlink(p);
    free(p);
    return rc;
}

static void two_layers(struct buf *l)
{
    buf_init(&l[0]);
    buf_init(&l[1]);
    tt_dir(&l[0], "etc/");
    tt_file(&l[0], "etc/motd", "hello\n");
    tt_dir(&l[0], "etc/app/");
    tt_file(&l[0], "etc/app/a", "a\n");
    tt_file(&l[0], "bin/vi", "vi\n"); /* parent created on the fly */
    tt_symlink(&l[0], "bin/view", "vi");
    tt_hardlink(&l[0], "bin/ex", "bin/vi");
    tt_end(&l[0]);
    tt_file(&l[1], "etc/motd", "changed\n");
    tt_file(&l[1], "bin/.wh.vi", "");
    tt_file(&l[1], "etc/app/.wh..wh..opq", "");
    tt_file(&l[1], "etc/app/c", "c\n");
    tt_end(&l[1]);
}

static char *read_in(const char *dir, const char *rel)
{
    char *p = xasprintf("%s/%s", dir, rel);
    char *d = NULL;
    size_t n;
    struct err e = {0};
    int rc = file_read(p, &d, &n, &e);
    free(p);
    return rc == 0 ? d : NULL;
}

TEST(image_load_docker_save_and_reuse)
{
    if (getuid() != 0)
        SKIP("whiteouts (char 0:0, trusted.* xattrs) need root");
    setup();
    struct buf layers[2];
    two_layers(layers);
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id[65];
    docker_save(&ar, layers, 2, "busybox:latest", false, id);
    struct image_store *s = open_store();
    struct err e = {0};
    if (load_buf(s, &ar, &out, &e) < 0)
        FAIL_AT("load: %s", e.msg);
    ASSERT_EQ_STR(out.p, "Loaded image: busybox:latest\n");
    ASSERT_EQ_INT(image_store_unpacked(s), 2);

    char full_id[72];
    ASSERT_EQ_INT(image_resolve(s, "busybox", full_id, &e), 0);
    char *want = xasprintf("sha256:%s", id);
    ASSERT_EQ_STR(full_id, want);
    ASSERT_EQ_INT(image_resolve(s, "docker.io/library/busybox:latest", full_id, &e), 0);
    char shortid[13];
    memcpy(shortid, id, 12);
    shortid[12] = '\0';
    ASSERT_EQ_INT(image_resolve(s, shortid, full_id, &e), 0);
    ASSERT_EQ_INT(image_resolve(s, want, full_id, &e), 0);
    ASSERT_EQ_INT(image_resolve(s, "busybox:1", full_id, &e), -ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "No such image: busybox:1");
    ASSERT_EQ_INT(image_resolve(s, "nosuch", full_id, &e), -ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "No such image: nosuch:latest");

    char **lower = NULL;
    ASSERT_EQ_INT(image_lower_dirs(s, "busybox", &lower, &e), 0);
    ASSERT_NOT_NULL(lower[0]);
    ASSERT_NOT_NULL(lower[1]);
    ASSERT_NULL(lower[2]);
    char *prefix = xasprintf("%s/store/l/", tmp);
    ASSERT_TRUE(str_has_prefix(lower[0], prefix));
    ASSERT_EQ_INT(strlen(lower[0]), strlen(prefix) + 26);
    /* top layer: the changed motd, the whiteout and the opaque dir */
    char *motd = read_in(lower[0], "etc/motd");
    ASSERT_EQ_STR(motd, "changed\n");
    free(motd);
    struct stat st;
    char *wh = xasprintf("%s/bin/vi", lower[0]);
    ASSERT_EQ_INT(lstat(wh, &st), 0);
    ASSERT_TRUE(S_ISCHR(st.st_mode));
    ASSERT_EQ_INT(st.st_rdev, makedev(0, 0));
    char *opq = xasprintf("%s/etc/app", lower[0]), val[4] = "";
    ASSERT_EQ_INT(getxattr(opq, "trusted.overlay.opaque", val, sizeof(val)), 1);
    ASSERT_EQ_INT(val[0], 'y');
    char *marker = xasprintf("%s/etc/app/.wh..wh..opq", lower[0]);
    ASSERT_TRUE(lstat(marker, &st) < 0);
    /* bottom layer: file, relative symlink, hardlink */
    char *vi = read_in(lower[1], "bin/vi");
    ASSERT_EQ_STR(vi, "vi\n");
    free(vi);
    char *view = xasprintf("%s/bin/view", lower[1]), lt[16] = "";
    ASSERT_EQ_INT(readlink(view, lt, sizeof(lt)), 2);
    ASSERT_EQ_STR(lt, "vi");
    char *ex = xasprintf("%s/bin/ex", lower[1]), *vip = xasprintf("%s/bin/vi", lower[1]);
    struct stat s1, s2;
    ASSERT_EQ_INT(stat(ex, &s1), 0);
    ASSERT_EQ_INT(stat(vip, &s2), 0);
    ASSERT_EQ_INT(s1.st_ino, s2.st_ino);

    /* list and inspect */
    json_t *list = image_list(s);
    ASSERT_EQ_INT(json_array_size(list), 1);
    json_t *it = json_array_get(list, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(it, "Id")), want);
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(it, "RepoTags"), 0)),
                  "busybox:latest");
    ASSERT_EQ_INT(json_integer_value(json_object_get(it, "Created")), 1767323045);
    ASSERT_EQ_INT(json_integer_value(json_object_get(it, "Size")), 6 + 2 + 3 + 8 + 2);
    json_decref(list);
    json_t *ins = NULL;
    ASSERT_EQ_INT(image_inspect(s, "busybox", &ins, &e), 0);
    json_t *rl = json_object_get(json_object_get(ins, "RootFS"), "Layers");
    ASSERT_EQ_INT(json_array_size(rl), 2);
    char dl0[65];
    tt_sha256(layers[0].p, layers[0].len, dl0);
    ASSERT_EQ_STR(json_string_value(json_array_get(rl, 0)) + 7, dl0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ins, "Created")), "2026-01-02T03:04:05Z");
    ASSERT_EQ_STR(json_string_value(
                      json_array_get(json_object_get(json_object_get(ins, "Config"), "Cmd"), 0)),
                  "sh");
    json_decref(ins);

    /* the same archive again: nothing unpacked twice, same inode */
    struct stat before;
    ASSERT_EQ_INT(stat(vip, &before), 0);
    buf_reset(&out);
    if (load_buf(s, &ar, &out, &e) < 0)
        FAIL_AT("reload: %s", e.msg);
    ASSERT_EQ_STR(out.p, "Loaded image: busybox:latest\n");
    ASSERT_EQ_INT(image_store_unpacked(s), 2);
    struct stat after;
    ASSERT_EQ_INT(stat(vip, &after), 0);
    ASSERT_EQ_INT(before.st_ino, after.st_ino);

    /* a reopened store knows it all again */
    image_store_free(s);
    s = open_store();
    ASSERT_EQ_INT(image_resolve(s, "busybox:latest", full_id, &e), 0);
    ASSERT_EQ_STR(full_id, want);
    char **lower2 = NULL;
    ASSERT_EQ_INT(image_lower_dirs(s, full_id, &lower2, &e), 0);
    ASSERT_EQ_STR(lower2[0], lower[0]);
    image_lower_free(lower2);

    /* remove: untag + delete, layers gone */
    json_t *rec = NULL;
    ASSERT_EQ_INT(image_remove(s, "busybox", false, &rec, &e), 0);
    ASSERT_EQ_INT(json_array_size(rec), 4);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(rec, 0), "Untagged")),
                  "busybox:latest");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(rec, 1), "Deleted")), want);
    json_decref(rec);
    assert_store_empty();
    ASSERT_TRUE(lstat(lower[0], &st) < 0);

    image_lower_free(lower);
    free(ex);
    free(vip);
    free(view);
    free(marker);
    free(opq);
    free(wh);
    free(prefix);
    free(want);
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&layers[0]);
    buf_release(&layers[1]);
    teardown();
}

/* A user callback: one container, "c0ffee...", running or not. */
static int users_mode; /* 0 none, 1 stopped, 2 running */
static bool users(void *arg, const char *image_id, char *ctr, size_t cap, bool *running)
{
    if (!users_mode)
        return false;
    snprintf(ctr, cap, "c0ffee0123456789abcdef");
    *running = users_mode == 2;
    return true;
}

static void one_layer(struct buf *l, const char *content)
{
    buf_init(l);
    tt_file(l, "f", content);
    tt_end(l);
}

TEST(image_tag_remove_conflicts)
{
    setup();
    struct buf layer;
    one_layer(&layer, "x");
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id[65];
    docker_save(&ar, &layer, 1, "app:1", false, id);
    struct image_store *s = open_store();
    image_store_set_user_cb(s, users, NULL);
    struct err e = {0};
    if (load_buf(s, &ar, &out, &e) < 0)
        FAIL_AT("load: %s", e.msg);
    ASSERT_EQ_INT(image_tag(s, "app:1", "localhost:5000/app:2", &e), 0);
    ASSERT_EQ_INT(image_tag(s, "nosuch", "x", &e), -ERR_NOT_FOUND);
    ASSERT_EQ_INT(image_tag(s, "app:1", "Bad", &e), -ERR_INVALID);
    char sid[13];
    memcpy(sid, id, 12);
    sid[12] = '\0';
    json_t *rec = NULL;

    /* two repositories: deleting by ID needs force */
    ASSERT_EQ_INT(image_remove(s, sid, false, &rec, &e), -ERR_CONFLICT);
    char *msg = xasprintf("conflict: unable to delete %s (must be forced) - image is referenced "
                          "in multiple repositories",
                          sid);
    ASSERT_EQ_STR(e.msg, msg);
    free(msg);

    /* a tag of several: just untagged, even with a container */
    users_mode = 1;
    ASSERT_EQ_INT(image_remove(s, "localhost:5000/app:2", false, &rec, &e), 0);
    ASSERT_EQ_INT(json_array_size(rec), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(rec, 0), "Untagged")),
                  "localhost:5000/app:2");
    json_decref(rec);

    /* the last tag while a container uses the image */
    ASSERT_EQ_INT(image_remove(s, "app:1", false, &rec, &e), -ERR_CONFLICT);
    msg = xasprintf("conflict: unable to remove repository reference \"app:1\" (must force) - "
                    "container c0ffee012345 is using its referenced image %s",
                    sid);
    ASSERT_EQ_STR(e.msg, msg);
    free(msg);
    ASSERT_EQ_INT(image_remove(s, sid, false, &rec, &e), -ERR_CONFLICT);
    msg = xasprintf("conflict: unable to delete %s (must be forced) - image is being used by "
                    "stopped container c0ffee012345",
                    sid);
    ASSERT_EQ_STR(e.msg, msg);
    free(msg);
    users_mode = 2;
    ASSERT_EQ_INT(image_remove(s, sid, true, &rec, &e), -ERR_CONFLICT);
    msg = xasprintf("conflict: unable to delete %s (cannot be forced) - image is being used by "
                    "running container c0ffee012345",
                    sid);
    ASSERT_EQ_STR(e.msg, msg);
    free(msg);
    char full[72];
    ASSERT_EQ_INT(image_resolve(s, "app:1", full, &e), 0); /* still tagged */

    /* force with a stopped container: untagged and deleted */
    users_mode = 1;
    ASSERT_EQ_INT(image_remove(s, sid, true, &rec, &e), 0);
    ASSERT_EQ_INT(json_array_size(rec), 3); /* Untagged app:1, Deleted id, Deleted layer */
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(rec, 0), "Untagged")), "app:1");
    json_decref(rec);
    ASSERT_EQ_INT(image_remove(s, sid, true, &rec, &e), -ERR_NOT_FOUND);
    assert_store_empty();
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&layer);
    teardown();
}

TEST(image_shared_layer_and_retag)
{
    setup();
    struct buf base, top;
    one_layer(&base, "base");
    one_layer(&top, "top");
    struct buf two[2] = {base, top};
    struct buf a1 = BUF_INIT, a2 = BUF_INIT, out = BUF_INIT;
    char id1[65], id2[65];
    docker_save(&a1, &base, 1, "base:1", false, id1);
    docker_save(&a2, two, 2, "base:1", false, id2);
    struct image_store *s = open_store();
    struct err e = {0};
    ASSERT_EQ_INT(load_buf(s, &a1, &out, &e), 0);
    buf_reset(&out);
    ASSERT_EQ_INT(load_buf(s, &a2, &out, &e), 0);
    char *want = xasprintf("The image base:1 already exists, renaming the old one with ID "
                           "sha256:%s to empty string\nLoaded image: base:1\n",
                           id1);
    ASSERT_EQ_STR(out.p, want);
    free(want);
    ASSERT_EQ_INT(image_store_unpacked(s), 2); /* the base layer is shared */
    /* the first image is dangling now; deleting it keeps the shared layer */
    json_t *rec = NULL;
    ASSERT_EQ_INT(image_remove(s, id1, false, &rec, &e), 0);
    ASSERT_EQ_INT(json_array_size(rec), 1);
    json_decref(rec);
    ASSERT_EQ_INT(count_dir("store/layers"), 2);
    char **lower = NULL;
    ASSERT_EQ_INT(image_lower_dirs(s, "base:1", &lower, &e), 0);
    char *f = read_in(lower[1], "f");
    ASSERT_EQ_STR(f, "base");
    free(f);
    image_lower_free(lower);
    ASSERT_EQ_INT(image_remove(s, "base:1", false, &rec, &e), 0);
    ASSERT_EQ_INT(json_array_size(rec), 4);
    json_decref(rec);
    assert_store_empty();
    image_store_free(s);
    buf_release(&a1);
    buf_release(&a2);
    buf_release(&out);
    buf_release(&base);
    buf_release(&top);
    teardown();
}

/* Docker 25+ save layout and a pure OCI layout: blobs/sha256/..., index.json; the layer is
 * gzip-compressed in the OCI one. */
static void oci_archive(struct buf *out, bool with_manifest_json, bool gzip_layer,
                        bool corrupt_layer, bool nested, char id_hex[65])
{
    struct buf layer;
    one_layer(&layer, "oci");
    char did[65];
    tt_sha256(layer.p, layer.len, did);
    struct buf blob = BUF_INIT;
    if (gzip_layer)
        tt_gzip(layer.p, layer.len, &blob);
    else
        buf_add(&blob, layer.p, layer.len);
    char lhex[65];
    tt_sha256(blob.p, blob.len, lhex);
    if (corrupt_layer)
        blob.p[blob.len / 2] ^= 1;
    const char *dp[1] = {did};
    char *cfg = config_json(dp, 1, "2026-02-03T04:05:06.5Z");
    tt_sha256(cfg, strlen(cfg), id_hex);
    char *man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
                          "manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci."
                          "image.config.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu},"
                          "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar%s"
                          "\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
                          id_hex, strlen(cfg), gzip_layer ? "+gzip" : "", lhex, blob.len);
    char mhex[65];
    tt_sha256(man, strlen(man), mhex);
    char *nidx = NULL, nhex[65] = "";
    if (nested) { /* a multi-platform index: arm64 (absent), amd64, an attestation */
        nidx = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index."
                         "v1+json\",\"manifests\":[{\"digest\":\"sha256:%064d\",\"platform\":"
                         "{\"os\":\"linux\",\"architecture\":\"arm64\"}},{\"digest\":\"sha256:"
                         "%s\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                         "{\"digest\":\"sha256:%064d\",\"platform\":{\"os\":\"unknown\","
                         "\"architecture\":\"unknown\"}}]}",
                         7, mhex, 8);
        tt_sha256(nidx, strlen(nidx), nhex);
    }
    char *index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                            "vnd.oci.image.%s.v1+json\",\"digest\":\"sha256:%s\",\"size\":"
                            "%zu,\"annotations\":{\"io.containerd.image.name\":\"docker.io/"
                            "library/oci:v1\",\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
                            nested ? "index" : "manifest", nested ? nhex : mhex,
                            nested ? strlen(nidx) : strlen(man));
    if (nested) {
        char *np = xasprintf("blobs/sha256/%s", nhex);
        tt_file(out, np, nidx);
        free(np);
        free(nidx);
    }
    tt_file(out, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    tt_dir(out, "blobs/");
    tt_dir(out, "blobs/sha256/");
    char *p = xasprintf("blobs/sha256/%s", id_hex);
    tt_file(out, p, cfg);
    free(p);
    p = xasprintf("blobs/sha256/%s", lhex);
    tt_file_n(out, p, blob.p, blob.len, 0644);
    free(p);
    p = xasprintf("blobs/sha256/%s", mhex);
    tt_file(out, p, man);
    free(p);
    tt_file(out, "index.json", index);
    if (with_manifest_json) {
        char *mj = xasprintf("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"oci:v1\"],"
                             "\"Layers\":[\"blobs/sha256/%s\"]}]",
                             id_hex, lhex);
        tt_file(out, "manifest.json", mj);
        free(mj);
    }
    tt_end(out);
    free(index);
    free(man);
    free(cfg);
    buf_release(&blob);
    buf_release(&layer);
}

TEST(image_load_oci_layouts)
{
    setup();
    struct image_store *s = open_store();
    for (int variant = 0; variant < 3; variant++) {
        struct buf ar = BUF_INIT, out = BUF_INIT;
        char id[65];
        oci_archive(&ar, variant == 0, variant >= 1, false, variant == 2, id);
        struct err e = {0};
        if (load_buf(s, &ar, &out, &e) < 0)
            FAIL_AT("variant %d: %s", variant, e.msg);
        ASSERT_EQ_STR(out.p, "Loaded image: oci:v1\n");
        char full[72];
        ASSERT_EQ_INT(image_resolve(s, "oci:v1", full, &e), 0);
        ASSERT_EQ_STR(full + 7, id);
        char **lower = NULL;
        ASSERT_EQ_INT(image_lower_dirs(s, "oci:v1", &lower, &e), 0);
        char *f = read_in(lower[0], "f");
        ASSERT_EQ_STR(f, "oci");
        free(f);
        image_lower_free(lower);
        json_t *rec = NULL;
        ASSERT_EQ_INT(image_remove(s, "oci:v1", false, &rec, &e), 0);
        json_decref(rec);
        assert_store_empty();
        buf_release(&ar);
        buf_release(&out);
    }
    /* a changed byte in a blob: digest mismatch, nothing kept */
    for (int variant = 0; variant < 2; variant++) {
        struct buf ar = BUF_INIT, out = BUF_INIT;
        char id[65];
        oci_archive(&ar, variant == 0, true, true, false, id);
        struct err e = {0};
        ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), -ERR_INVALID);
        ASSERT_CONTAINS(e.msg, "digest mismatch");
        ASSERT_EQ_INT(out.len, 0);
        assert_store_empty();
        buf_release(&ar);
        buf_release(&out);
    }
    image_store_free(s);
    teardown();
}

TEST(image_load_untagged_and_diff_id_mismatch)
{
    setup();
    struct image_store *s = open_store();
    struct buf layer;
    one_layer(&layer, "u");
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id[65];
    docker_save(&ar, &layer, 1, NULL, false, id);
    struct buf gz = BUF_INIT; /* `docker save | gzip`: docker load takes it as it is */
    tt_gzip(ar.p, ar.len, &gz);
    struct err e = {0};
    ASSERT_EQ_INT(load_buf(s, &gz, &out, &e), 0);
    buf_release(&gz);
    char *want = xasprintf("Loaded image ID: sha256:%s\n", id);
    ASSERT_EQ_STR(out.p, want);
    free(want);
    json_t *list = image_list(s);
    ASSERT_EQ_INT(json_array_size(json_object_get(json_array_get(list, 0), "RepoTags")), 0);
    json_decref(list);
    json_t *rec = NULL;
    ASSERT_EQ_INT(image_remove(s, id, false, &rec, &e), 0);
    json_decref(rec);
    assert_store_empty();

    buf_reset(&ar);
    buf_reset(&out);
    docker_save(&ar, &layer, 1, "bad:1", true, id);
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "diff_id mismatch");
    ASSERT_EQ_INT(out.len, 0);
    assert_store_empty();
    char full[72];
    ASSERT_EQ_INT(image_resolve(s, "bad:1", full, &e), -ERR_NOT_FOUND);
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&layer);
    teardown();
}

TEST(image_import_rootfs)
{
    setup();
    struct image_store *s = open_store();
    struct buf rootfs = BUF_INIT, gz = BUF_INIT;
    tt_file(&rootfs, "./etc/hostname", "imported\n");
    tt_end(&rootfs);
    tt_gzip(rootfs.p, rootfs.len, &gz);
    char *p = xasprintf("%s/rootfs.tar.gz", tmp);
    struct err e = {0};
    ASSERT_EQ_INT(file_write_atomic(p, gz.p, gz.len, 0600, &e), 0);
    int fd = open(p, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    json_t *cfg = json_pack("{s:[s]}", "Cmd", "/bin/sh");
    char id[72];
    if (image_import(s, fd, "imp:1", NULL, cfg, id, &e) < 0)
        FAIL_AT("import: %s", e.msg);
    close(fd);
    json_decref(cfg);
    char full[72];
    ASSERT_EQ_INT(image_resolve(s, "imp:1", full, &e), 0);
    ASSERT_EQ_STR(full, id);
    json_t *ins = NULL;
    ASSERT_EQ_INT(image_inspect(s, "imp:1", &ins, &e), 0);
    char did[65];
    tt_sha256(rootfs.p, rootfs.len, did);
    ASSERT_EQ_STR(json_string_value(json_array_get(
                      json_object_get(json_object_get(ins, "RootFS"), "Layers"), 0)) +
                      7,
                  did);
    ASSERT_EQ_STR(json_string_value(
                      json_array_get(json_object_get(json_object_get(ins, "Config"), "Cmd"), 0)),
                  "/bin/sh");
    json_decref(ins);
    char **lower = NULL;
    ASSERT_EQ_INT(image_lower_dirs(s, id, &lower, &e), 0);
    char *h = read_in(lower[0], "etc/hostname");
    ASSERT_EQ_STR(h, "imported\n");
    free(h);
    image_lower_free(lower);
    ASSERT_EQ_INT(count_dir("store/tmp"), 0);
    /* the same rootfs zstd-compressed: the same layer (diff_id of the tar) */
    buf_reset(&gz);
    tt_compress(rootfs.p, rootfs.len, ARCHIVE_FILTER_ZSTD, &gz);
    ASSERT_TRUE(gz.len > 4 && !memcmp(gz.p, "\x28\xb5\x2f\xfd", 4));
    ASSERT_EQ_INT(file_write_atomic(p, gz.p, gz.len, 0600, &e), 0);
    fd = open(p, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    char id2[72];
    if (image_import(s, fd, NULL, "zstd", NULL, id2, &e) < 0)
        FAIL_AT("import zstd: %s", e.msg);
    close(fd);
    ASSERT_EQ_INT(image_store_unpacked(s), 1);
    json_t *list = image_list(s);
    ASSERT_EQ_INT(json_array_size(list), 2);
    json_decref(list);
    free(p);
    image_store_free(s);
    buf_release(&rootfs);
    buf_release(&gz);
    teardown();
}

/* ---- hostile archives ---- */

/* Loads a docker-save archive whose only layer is the given tar; expects failure (or, when
 * may_succeed, a confined success) and that nothing outside was touched. */
static void hostile(struct buf *layer, const char *expect_msg, const char *inside_ok)
{
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id[65];
    docker_save(&ar, layer, 1, "evil:1", false, id);
    struct image_store *s = open_store();
    struct err e = {0};
    int rc = load_buf(s, &ar, &out, &e);
    if (inside_ok) {
        if (rc < 0)
            FAIL_AT("load: %s", e.msg);
        char **lower = NULL;
        ASSERT_EQ_INT(image_lower_dirs(s, "evil:1", &lower, &e), 0);
        char *f = xasprintf("%s/%s", lower[0], inside_ok);
        struct stat st;
        if (lstat(f, &st) < 0)
            FAIL_AT("%s is not inside the layer", inside_ok);
        free(f);
        image_lower_free(lower);
        json_t *rec = NULL;
        ASSERT_EQ_INT(image_remove(s, "evil:1", false, &rec, &e), 0);
        json_decref(rec);
    } else {
        ASSERT_EQ_INT(rc, -ERR_INVALID);
        ASSERT_CONTAINS(e.msg, expect_msg);
        ASSERT_EQ_INT(out.len, 0);
        char full[72];
        ASSERT_EQ_INT(image_resolve(s, "evil:1", full, &e), -ERR_NOT_FOUND);
    }
    assert_store_empty();
    assert_outside_untouched();
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
}

TEST(image_hostile_paths)
{
    setup();
    char *outside = xasprintf("%s/outside", tmp);
    struct buf l = BUF_INIT;

    /* "../" climbing out of the root is refused, as Docker does */
    tt_file(&l, "../../../../../../tmp/ESCAPED", "x");
    tt_end(&l);
    hostile(&l, "is outside of the layer root", NULL);
    buf_reset(&l);
    char *up = xasprintf("a/../../../../../..%s/pwned", outside);
    tt_file(&l, up, "x");
    tt_end(&l);
    hostile(&l, "is outside of the layer root", NULL);
    free(up);

    /* an absolute name lands inside the root */
    buf_reset(&l);
    char *abs = xasprintf("%s/abs", outside);
    tt_file(&l, abs, "x");
    tt_end(&l);
    hostile(&l, NULL, abs + 1);
    free(abs);

    /* a symlink to the outside, then a file through it: resolved inside the root, where the
     * target does not exist */
    buf_reset(&l);
    tt_symlink(&l, "evil", outside);
    tt_file(&l, "evil/pwned", "x");
    tt_end(&l);
    hostile(&l, "invalid layer", NULL);
    /* the same with a relative symlink climbing out */
    buf_reset(&l);
    tt_symlink(&l, "evil", "../../../../../../../../../tmp");
    tt_file(&l, "evil/ESCAPED", "x");
    tt_end(&l);
    hostile(&l, "invalid layer", NULL);
    /* a symlink whose target exists inside: the file goes to the inside target */
    buf_reset(&l);
    char *in_dir = xasprintf("%s/", outside + 1);
    tt_dir(&l, "tmp/");
    tt_entry(&l, in_dir, '5', NULL, 0, NULL, 0755, 0);
    tt_symlink(&l, "evil", outside);
    tt_file(&l, "evil/secret", "overwritten");
    tt_end(&l);
    char *in_file = xasprintf("%s/secret", outside + 1);
    hostile(&l, NULL, in_file);
    free(in_file);
    free(in_dir);

    /* hardlinks to the outside: absolute (resolved inside, missing) and climbing */
    buf_reset(&l);
    char *secret = xasprintf("%s/secret", outside);
    tt_hardlink(&l, "link", secret);
    tt_end(&l);
    hostile(&l, "hardlink", NULL);
    buf_reset(&l);
    tt_hardlink(&l, "link", "../../../../../../../../etc/passwd");
    tt_end(&l);
    hostile(&l, "is outside of the layer root", NULL);
    /* through a symlink to a dir outside */
    buf_reset(&l);
    tt_symlink(&l, "evil", outside);
    tt_hardlink(&l, "link", "evil/secret");
    tt_end(&l);
    hostile(&l, "hardlink", NULL);

    /* whiteouts trying to escape */
    buf_reset(&l);
    tt_file(&l, "../../../../../../../tmp/.wh.ESCAPED", "");
    tt_end(&l);
    hostile(&l, "is outside of the layer root", NULL);
    buf_reset(&l);
    tt_symlink(&l, "evil", outside);
    tt_file(&l, "evil/.wh.secret", "");
    tt_end(&l);
    hostile(&l, "invalid layer", NULL);
    buf_reset(&l);
    tt_file(&l, ".wh...", "");
    tt_end(&l);
    hostile(&l, "bad whiteout", NULL);
    buf_reset(&l);
    tt_symlink(&l, "evil", outside);
    tt_file(&l, "evil/.wh..wh..opq", "");
    tt_end(&l);
    hostile(&l, "", NULL);
    /* a leaf that is a symlink is replaced, not written through */
    buf_reset(&l);
    tt_symlink(&l, "evil", secret);
    tt_file(&l, "evil", "replaced");
    tt_end(&l);
    hostile(&l, NULL, "evil");

    free(secret);
    free(outside);
    buf_release(&l);
    teardown();
}

TEST(image_hostile_streams)
{
    setup();
    /* a header announcing 8 GiB with no data behind it */
    struct buf l = BUF_INIT;
    tt_entry(&l, "huge", '0', NULL, 0, NULL, 0644, 8ULL << 30);
    tt_end(&l);
    hostile(&l, "invalid layer", NULL);

    /* a truncated gzip layer */
    buf_reset(&l);
    struct buf t = BUF_INIT, gz = BUF_INIT;
    char big[20000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7919 % 251);
    tt_file_n(&t, "data", big, sizeof(big), 0644);
    tt_end(&t);
    tt_gzip(t.p, t.len, &gz);
    buf_add(&l, gz.p, gz.len / 2);
    hostile(&l, "invalid layer", NULL);

    /* the outer archive itself truncated, and garbage */
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id[65];
    docker_save(&ar, &t, 1, "evil:1", false, id);
    ar.len = ar.len / 2 + 100;
    struct image_store *s = open_store();
    struct err e = {0};
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "invalid archive");
    buf_reset(&ar);
    buf_adds(&ar, "not a tar at all, not even close................................");
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), -ERR_INVALID);
    /* a manifest naming a layer that is not there */
    buf_reset(&ar);
    tt_file(&ar, "manifest.json", "[{\"Config\":\"c.json\",\"Layers\":[\"l/layer.tar\"]}]");
    tt_file(&ar, "c.json",
            "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
            "0000000000000000000000000000000000000000000000000000000000000000\"]}}");
    tt_end(&ar);
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "layer l/layer.tar is missing");
    ASSERT_EQ_INT(out.len, 0);
    assert_store_empty();
    assert_outside_untouched();
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&t);
    buf_release(&gz);
    buf_release(&l);
    teardown();
}

/* The round trip the issue asks for: a docker-save archive of Debian's busybox-static. */
TEST_T(image_busybox_round_trip, 60)
{
    setup();
    struct buf layer = BUF_INIT;
    if (!tt_busybox_layer(&layer))
        NEED_TOOL("busybox-static (/bin/busybox)");
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id[65];
    docker_save(&ar, &layer, 1, "busybox:latest", false, id);
    struct image_store *s = open_store();
    struct err e = {0};
    if (load_buf(s, &ar, &out, &e) < 0)
        FAIL_AT("load: %s", e.msg);
    ASSERT_EQ_STR(out.p, "Loaded image: busybox:latest\n");
    char **lower = NULL;
    ASSERT_EQ_INT(image_lower_dirs(s, "busybox", &lower, &e), 0);
    ASSERT_NULL(lower[1]);
    char *bb = xasprintf("%s/bin/busybox", lower[0]);
    struct stat st, host;
    ASSERT_EQ_INT(stat(bb, &st), 0);
    ASSERT_EQ_INT(stat("/bin/busybox", &host), 0);
    ASSERT_EQ_INT(st.st_size, host.st_size);
    ASSERT_EQ_INT(st.st_mode & 07777, 0755);
    char *sh = xasprintf("%s/bin/sh", lower[0]), lt[16] = "";
    ASSERT_EQ_INT(readlink(sh, lt, sizeof(lt)), 7);
    ASSERT_EQ_STR(lt, "busybox");
    ASSERT_EQ_INT(image_store_unpacked(s), 1);

    /* again: the layer is reused, nothing unpacked */
    buf_reset(&out);
    if (load_buf(s, &ar, &out, &e) < 0)
        FAIL_AT("second load: %s", e.msg);
    ASSERT_EQ_INT(image_store_unpacked(s), 1);
    struct stat again;
    ASSERT_EQ_INT(stat(bb, &again), 0);
    ASSERT_EQ_INT(again.st_ino, st.st_ino);

    /* removed: the layer dir and its short link go with it */
    json_t *rec = NULL;
    ASSERT_EQ_INT(image_remove(s, "busybox:latest", false, &rec, &e), 0);
    json_decref(rec);
    ASSERT_TRUE(stat(bb, &st) < 0);
    assert_store_empty();
    image_lower_free(lower);
    free(sh);
    free(bb);
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
    buf_release(&layer);
    teardown();
}

/* Two images in one archive, the second's layer a symlink to the first's (as old docker save
 * writes shared layers); and the same archive with the second image's layer not matching its
 * diff_id: all or nothing (the first image's layer, already unpacked, goes again). */
static void two_image_archive(struct buf *ar, bool break_second, char id1[65], char id2[65])
{
    struct buf layer, other;
    one_layer(&layer, "shared");
    one_layer(&other, "other");
    char did[65], odid[65];
    tt_sha256(layer.p, layer.len, did);
    tt_sha256(other.p, other.len, odid);
    if (break_second) /* checked only once the first image's layer is unpacked */
        odid[5] = odid[5] == 'a' ? 'b' : 'a';
    const char *dp[2] = {did, odid};
    char *c1 = config_json(dp, 1, "2026-01-01T00:00:00Z");
    char *c2 = config_json(dp, break_second ? 2 : 1, "2026-01-01T00:00:01Z");
    tt_sha256(c1, strlen(c1), id1);
    tt_sha256(c2, strlen(c2), id2);
    char *n1 = xasprintf("%s.json", id1), *n2 = xasprintf("%s.json", id2);
    tt_file(ar, n1, c1);
    tt_file(ar, n2, c2);
    tt_file_n(ar, "l0/layer.tar", layer.p, layer.len, 0644);
    tt_symlink(ar, "l1/layer.tar", "../l0/layer.tar");
    tt_file_n(ar, "l2/layer.tar", other.p, other.len, 0644);
    char *m =
        xasprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"one:1\"],\"Layers\":[\"l0/layer.tar\"]},"
                  "{\"Config\":\"%s\",\"RepoTags\":[\"two:1\",\"two:latest\"],\"Layers\":["
                  "\"l1/layer.tar\"%s]}]",
                  n1, n2, break_second ? ",\"l2/layer.tar\"" : "");
    tt_file(ar, "manifest.json", m);
    tt_end(ar);
    free(m);
    free(n1);
    free(n2);
    free(c1);
    free(c2);
    buf_release(&layer);
    buf_release(&other);
}

TEST(image_load_two_images_all_or_nothing)
{
    setup();
    struct image_store *s = open_store();
    struct buf ar = BUF_INIT, out = BUF_INIT;
    char id1[65], id2[65];
    two_image_archive(&ar, true, id1, id2);
    struct err e = {0};
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "diff_id mismatch");
    ASSERT_EQ_INT(image_store_unpacked(s), 1); /* the first image's layer was unpacked... */
    assert_store_empty();                      /* ...and removed again */
    buf_reset(&ar);
    two_image_archive(&ar, false, id1, id2);
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), 0);
    ASSERT_EQ_STR(out.p, "Loaded image: one:1\nLoaded image: two:1\nLoaded image: two:latest\n");
    ASSERT_EQ_INT(image_store_unpacked(s), 2); /* the shared layer once more, not twice */
    char full[72];
    ASSERT_EQ_INT(image_resolve(s, "two", full, &e), 0);
    ASSERT_EQ_STR(full + 7, id2);
    /* a 1-character prefix is ambiguous only if both IDs start alike */
    char p1[2] = {id1[0], 0};
    ASSERT_EQ_INT(image_resolve(s, p1, full, &e), id1[0] == id2[0] ? -ERR_NOT_FOUND : 0);
    json_t *list = image_list(s);
    ASSERT_EQ_INT(json_array_size(list), 2);
    /* newest first */
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "Id")) + 7, id2);
    json_decref(list);
    image_store_free(s);
    buf_release(&ar);
    buf_release(&out);
    teardown();
}

TEST(image_store_open_drops_leftovers)
{
    setup();
    struct image_store *s = open_store();
    struct buf layer, ar = BUF_INIT, out = BUF_INIT;
    one_layer(&layer, "keep");
    char id[65];
    docker_save(&ar, &layer, 1, "keep:1", false, id);
    struct err e = {0};
    ASSERT_EQ_INT(load_buf(s, &ar, &out, &e), 0);
    image_store_free(s);
    /* what a crash can leave: a half-unpacked layer, an unreferenced layer, a spool dir, a
     * lost short link */
    char *half = xasprintf("%s/store/layers/%064d.tmp/diff", tmp, 0);
    ASSERT_EQ_INT(dir_make(half, 0755, &e), 0);
    char *orphan = xasprintf("%s/store/layers/%064d", tmp, 1);
    ASSERT_EQ_INT(dir_make(orphan, 0755, &e), 0);
    char *meta = xasprintf("%s/meta.json", orphan);
    char *mj = xasprintf("{\"chain_id\":\"sha256:%064d\",\"diff_id\":\"sha256:%064d\","
                         "\"parent\":\"\",\"link\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ\",\"size\":0}",
                         1, 1);
    ASSERT_EQ_INT(file_write_atomic(meta, mj, strlen(mj), 0600, &e), 0);
    char *spool = xasprintf("%s/store/tmp/load-xyz", tmp);
    ASSERT_EQ_INT(dir_make(spool, 0700, &e), 0);
    char **lower = NULL;
    s = open_store();
    ASSERT_EQ_INT(image_lower_dirs(s, "keep:1", &lower, &e), 0);
    image_store_free(s);
    ASSERT_EQ_INT(unlink(lower[0]), 0);
    s = open_store();
    struct stat st;
    ASSERT_TRUE(stat(half, &st) < 0);
    ASSERT_TRUE(stat(orphan, &st) < 0);
    ASSERT_TRUE(stat(spool, &st) < 0);
    ASSERT_EQ_INT(count_dir("store/layers"), 1);
    char *f = read_in(lower[0], "f"); /* the link is back */
    ASSERT_EQ_STR(f, "keep");
    free(f);
    image_lower_free(lower);
    image_store_free(s);
    free(half);
    free(orphan);
    free(meta);
    free(mj);
    free(spool);
    buf_release(&layer);
    buf_release(&ar);
    buf_release(&out);
    teardown();
}
