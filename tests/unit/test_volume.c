/* test_volume.c — src/volume: Docker's name/driver/option rules, the o option split, meta.json,
 * copy-up (confined to the container's root, symlinks copied, modes, owners, hard links), the
 * store (create, find, users, in-use refusal, anonymous removal, reopen); and the pure filter
 * parts of /volumes (api_volumes.c). */
#include "api/api_int.h"
#include "harness.h"
#include "volume/volume.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(volume_name_rules)
{
    struct err e = {0};
    ASSERT_EQ_INT(volume_name_check("ab", &e), 0);
    ASSERT_EQ_INT(volume_name_check("a_b.c-D9", &e), 0);
    ASSERT_EQ_INT(volume_name_check("a", &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "volume name is too short, names should be at least two alphanumeric "
                         "characters");
    ASSERT_EQ_INT(volume_name_check("a b", &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "\"a b\" includes invalid characters for a local volume name, only "
                         "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
                         "host directory, use absolute path");
    ASSERT_EQ_INT(volume_name_check(".x", &e), -ERR_INVALID);
    ASSERT_EQ_INT(volume_name_check("-x", &e), -ERR_INVALID);
    ASSERT_EQ_INT(volume_name_check("x/y", &e), -ERR_INVALID);
    ASSERT_EQ_INT(volume_name_check("..", &e), -ERR_INVALID);
    ASSERT_EQ_INT(volume_name_check("", &e), -ERR_INVALID);
    char longname[VOLUME_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    ASSERT_EQ_INT(volume_name_check(longname, &e), -ERR_INVALID);
    longname[VOLUME_NAME_MAX] = 0;
    ASSERT_EQ_INT(volume_name_check(longname, &e), 0);
}

TEST(volume_driver_and_options)
{
    struct err e = {0};
    ASSERT_EQ_INT(volume_driver_check(NULL, &e), 0);
    ASSERT_EQ_INT(volume_driver_check("", &e), 0);
    ASSERT_EQ_INT(volume_driver_check("local", &e), 0);
    ASSERT_EQ_INT(volume_driver_check("foo", &e), -ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "error looking up volume plugin foo: plugin \"foo\" not found");

    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{}", NULL},
        {"{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=1m\"}", NULL},
        {"{\"type\":\"tmpfs\",\"device\":\"tmpfs\"}", NULL},
        {"{\"bogus\":\"1\"}", "invalid option: \"bogus\""},
        {"{\"type\":\"tmpfs\"}", "missing required option: \"device\""},
        {"{\"o\":\"size=1m\"}", "missing required option: \"device\""},
        {"{\"o\":\"size=1m\",\"device\":\"x\"}", "missing required option: \"type\""},
        {"{\"device\":\"tmpfs\"}", "missing required option: \"type\""},
        {"{\"size\":\"1m\"}", "quota size requested but no quota support"},
        {"{\"type\":1}", "invalid value for option \"type\""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *o = json_loads(cases[i].json, 0, NULL);
        int rc = volume_opts_check(o, &e);
        json_decref(o);
        if (!cases[i].msg) {
            ASSERT_EQ_INT(rc, 0);
        } else {
            ASSERT_EQ_INT(rc, -ERR_INVALID);
            ASSERT_EQ_STR(e.msg, cases[i].msg);
        }
    }
    ASSERT_EQ_INT(volume_opts_check(NULL, &e), 0);
}

TEST(volume_mount_opts_split)
{
    unsigned long flags;
    char *data;
    volume_mount_opts("size=1m,ro,nosuid,uid=1000,nodev", &flags, &data);
    ASSERT_EQ_INT(flags, MS_RDONLY | MS_NOSUID | MS_NODEV);
    ASSERT_EQ_STR(data, "size=1m,uid=1000");
    free(data);
    volume_mount_opts("ro,rw,bind", &flags, &data);
    ASSERT_EQ_INT(flags, MS_BIND);
    ASSERT_EQ_STR(data, "");
    free(data);
    volume_mount_opts(NULL, &flags, &data);
    ASSERT_EQ_INT(flags, 0);
    ASSERT_EQ_STR(data, "");
    free(data);
    volume_mount_opts(",,addr=1.2.3.4,,rbind", &flags, &data);
    ASSERT_EQ_INT(flags, MS_BIND | MS_REC);
    ASSERT_EQ_STR(data, "addr=1.2.3.4");
    free(data);
}

TEST(volume_meta_round_trip)
{
    struct volume_meta m = {.name = "data",
                            .labels = json_pack("{s:s}", "a", "b"),
                            .options = NULL,
                            .created_s = 1700000000};
    char *s = volume_meta_encode(&m);
    struct volume_meta d;
    struct err e = {0};
    ASSERT_EQ_INT(volume_meta_decode(s, strlen(s), &d, &e), 0);
    ASSERT_EQ_STR(d.name, "data");
    ASSERT_EQ_STR(json_string_value(json_object_get(d.labels, "a")), "b");
    ASSERT_NULL(d.options);
    ASSERT_EQ_INT(d.created_s, 1700000000);
    json_t *j = volume_meta_json(&d, "/r/data/_data");
    char *js = json_dumps(j, JSON_COMPACT);
    ASSERT_EQ_STR(js, "{\"CreatedAt\":\"2023-11-14T22:13:20Z\",\"Driver\":\"local\",\"Labels\":"
                      "{\"a\":\"b\"},\"Mountpoint\":\"/r/data/_data\",\"Name\":\"data\","
                      "\"Options\":null,\"Scope\":\"local\"}");
    free(js);
    json_decref(j);
    volume_meta_release(&d);
    free(s);
    json_decref(m.labels);

    static const char *const bad[] = {
        "[]",
        "{\"Name\":\"a b\",\"Driver\":\"local\",\"Created\":1}",
        "{\"Name\":\"ab\",\"Driver\":\"nfs\",\"Created\":1}",
        "{\"Name\":\"ab\",\"Driver\":\"local\",\"Labels\":{\"a\":1},\"Created\":1}",
        "{\"Name\":\"ab\",\"Driver\":\"local\",\"Options\":[],\"Created\":1}",
        "{\"Name\":\"ab\",\"Driver\":\"local\"}",
        "not json",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        ASSERT_EQ_INT(volume_meta_decode(bad[i], strlen(bad[i]), &d, &e), -ERR_INVALID);
        ASSERT_NULL(d.name);
    }
    char *ids[] = {"abc", "def"};
    char *t = volume_users_text(ids, 2);
    ASSERT_EQ_STR(t, "[abc def]");
    free(t);
    t = volume_users_text(NULL, 0);
    ASSERT_EQ_STR(t, "[]");
    free(t);
}

static char *tmpdir(void)
{
    char *d = xstrdup("/tmp/shoal-volume-test.XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(d));
    return d;
}

static void write_file(const char *path, const char *text, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    ASSERT_EQ_INT(chmod(path, mode), 0);
}

static char *read_text(const char *path)
{
    char *d = NULL;
    size_t n;
    struct err e;
    if (file_read(path, &d, &n, &e) < 0)
        return NULL;
    return d;
}

TEST(volume_copy_up_tree)
{
    char *root = tmpdir();
    char *p = xasprintf("%s/rootfs/srv/seed/sub", root);
    struct err e = {0};
    ASSERT_EQ_INT(dir_make(p, 0755, &e), 0);
    free(p);
    char *seed = xasprintf("%s/rootfs/srv/seed", root);
    p = xasprintf("%s/hello.txt", seed);
    write_file(p, "hello\n", 0640);
    bool root_user = geteuid() == 0;
    if (root_user)
        ASSERT_EQ_INT(chown(p, 1000, 1001), 0);
    char *hard = xasprintf("%s/hard.txt", seed);
    ASSERT_EQ_INT(link(p, hard), 0);
    free(hard);
    free(p);
    p = xasprintf("%s/link", seed);
    ASSERT_EQ_INT(symlink("/etc/passwd", p), 0); /* copied as it is, never followed */
    free(p);
    p = xasprintf("%s/sub/deep.txt", seed);
    write_file(p, "deep\n", 0600);
    free(p);
    ASSERT_EQ_INT(chmod(seed, 0750), 0);
    /* a symlink that climbs out: resolved inside the root (rootfs/etc is missing) */
    p = xasprintf("%s/rootfs/esc", root);
    ASSERT_EQ_INT(symlink("../../../../../../", p), 0);
    free(p);
    /* and one that leads to seed through an absolute path inside the root */
    p = xasprintf("%s/rootfs/abs", root);
    ASSERT_EQ_INT(symlink("/srv/seed", p), 0);
    free(p);

    char *rootfs = xasprintf("%s/rootfs", root), *dst = xasprintf("%s/dst", root);
    ASSERT_EQ_INT(mkdir(dst, 0755), 0);
    ASSERT_EQ_INT(volume_dir_empty(dst, &e), 1);
    ASSERT_EQ_INT(volume_copy_up(rootfs, "/esc/etc", dst, &e), 0);
    ASSERT_EQ_INT(volume_dir_empty(dst, &e), 1);
    ASSERT_EQ_INT(volume_copy_up(rootfs, "/missing", dst, &e), 0);
    ASSERT_EQ_INT(volume_copy_up(rootfs, "/srv/seed/hello.txt", dst, &e), 0); /* not a dir */
    ASSERT_EQ_INT(volume_dir_empty(dst, &e), 1);

    ASSERT_EQ_INT(volume_copy_up(rootfs, "/abs", dst, &e), 0);
    ASSERT_EQ_INT(volume_dir_empty(dst, &e), 0);
    struct stat st, st2;
    p = xasprintf("%s/hello.txt", dst);
    char *text = read_text(p);
    ASSERT_EQ_STR(text, "hello\n");
    free(text);
    ASSERT_EQ_INT(lstat(p, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 07777, 0640);
    if (root_user) {
        ASSERT_EQ_INT(st.st_uid, 1000);
        ASSERT_EQ_INT(st.st_gid, 1001);
    }
    free(p);
    p = xasprintf("%s/hard.txt", dst);
    ASSERT_EQ_INT(lstat(p, &st2), 0);
    ASSERT_EQ_INT(st2.st_ino, st.st_ino);
    free(p);
    p = xasprintf("%s/link", dst);
    char lt[64] = {0};
    ASSERT_EQ_INT(readlink(p, lt, sizeof(lt) - 1), 11);
    ASSERT_EQ_STR(lt, "/etc/passwd");
    free(p);
    p = xasprintf("%s/sub/deep.txt", dst);
    text = read_text(p);
    ASSERT_EQ_STR(text, "deep\n");
    free(text);
    free(p);
    ASSERT_EQ_INT(stat(dst, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 07777, 0750); /* the volume takes the directory's mode */

    /* existing entries are kept */
    p = xasprintf("%s/hello.txt", dst);
    write_file(p, "mine\n", 0644);
    ASSERT_EQ_INT(volume_copy_up(rootfs, "/srv/seed", dst, &e), 0);
    text = read_text(p);
    ASSERT_EQ_STR(text, "mine\n");
    free(text);
    free(p);

    /* an empty directory copies nothing, its mode neither */
    char *empty = xasprintf("%s/rootfs/empty", root), *dst2 = xasprintf("%s/dst2", root);
    ASSERT_EQ_INT(mkdir(empty, 0700), 0);
    ASSERT_EQ_INT(mkdir(dst2, 0755), 0);
    ASSERT_EQ_INT(volume_copy_up(rootfs, "/empty", dst2, &e), 0);
    ASSERT_EQ_INT(stat(dst2, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 07777, 0755);
    ASSERT_EQ_INT(volume_copy_up("/nonexistent-root", "/x", dst2, &e), -ERR_INTERNAL);
    free(empty);
    free(dst2);
    ASSERT_EQ_INT(dir_remove_all(root, &e), 0);
    free(rootfs);
    free(dst);
    free(seed);
    free(root);
}

static size_t count_each;
static void count_one(void *arg, json_t *vol, bool anonymous, size_t users)
{
    (void)arg;
    (void)vol;
    (void)anonymous;
    (void)users;
    count_each++;
}

TEST(volume_store_lifecycle)
{
    char *root = tmpdir();
    char *vroot = xasprintf("%s/volumes", root);
    struct err e = {0};
    struct volume_store *vs = volume_store_open(vroot, &e);
    ASSERT_NOT_NULL(vs);
    json_t *labels = json_pack("{s:s}", "team", "a");
    struct volume_req rq = {.name = "data", .labels = labels};
    char *name = NULL;
    bool created = false;
    ASSERT_EQ_INT(volume_create(vs, &rq, &name, &created, &e), 0);
    ASSERT_EQ_STR(name, "data");
    ASSERT_TRUE(created);
    free(name);
    name = NULL;
    struct volume_req again = {.name = "data"}; /* found, left as it is */
    ASSERT_EQ_INT(volume_create(vs, &again, &name, &created, &e), 0);
    ASSERT_FALSE(created);
    free(name);
    json_t *j = volume_inspect(vs, "data", &e);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(j, "Labels"), "team")), "a");
    json_decref(j);
    ASSERT_NULL(volume_inspect(vs, "nosuch", &e));
    ASSERT_EQ_STR(e.msg, "get nosuch: no such volume");

    struct volume_req badname = {.name = "a b"}, baddrv = {.name = "ok", .driver = "nfs"};
    ASSERT_EQ_INT(volume_create(vs, &badname, NULL, NULL, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "create a b: \"a b\" includes invalid characters");
    ASSERT_EQ_INT(volume_create(vs, &baddrv, NULL, NULL, &e), -ERR_NOT_FOUND);
    ASSERT_EQ_STR(e.msg, "create ok: error looking up volume plugin nfs: plugin \"nfs\" not found");

    struct volume_req anon = {.anonymous = true};
    char *aname = NULL;
    ASSERT_EQ_INT(volume_create(vs, &anon, &aname, NULL, &e), 0);
    ASSERT_EQ_INT(strlen(aname), 64);
    j = volume_inspect(vs, aname, &e);
    ASSERT_NOT_NULL(json_object_get(json_object_get(j, "Labels"), VOLUME_ANON_LABEL));
    json_decref(j);

    ASSERT_EQ_INT(volume_use(vs, "data", "c1", &e), 0);
    ASSERT_EQ_INT(volume_use(vs, "data", "c1", &e), 0); /* once per container */
    ASSERT_EQ_INT(volume_use(vs, "data", "c2", &e), 0);
    ASSERT_EQ_INT(volume_use(vs, aname, "c1", &e), 0);
    ASSERT_EQ_INT(volume_use(vs, "nosuch", "c1", &e), -ERR_NOT_FOUND);
    ASSERT_EQ_INT(volume_remove(vs, "data", false, NULL, &e), -ERR_CONFLICT);
    ASSERT_EQ_STR(e.msg, "remove data: volume is in use - [c1 c2]");
    ASSERT_EQ_INT(volume_remove(vs, "data", true, NULL, &e), -ERR_CONFLICT);
    ASSERT_EQ_INT(volume_remove(vs, "nosuch", false, NULL, &e), -ERR_NOT_FOUND);
    ASSERT_EQ_INT(volume_remove(vs, "nosuch", true, NULL, &e), 0);

    char *data = volume_data_path(vs, "data");
    char *f = xasprintf("%s/f", data);
    write_file(f, "12345", 0644);
    free(f);

    /* c1 goes: its anonymous volume goes with it (remove_anonymous), data stays used by c2 */
    volume_unuse(vs, "c1", true);
    ASSERT_FALSE(volume_data_path(vs, aname) != NULL);
    ASSERT_EQ_INT(volume_remove(vs, "data", false, NULL, &e), -ERR_CONFLICT);
    ASSERT_EQ_STR(e.msg, "remove data: volume is in use - [c2]");
    volume_unuse(vs, "c2", true); /* named: kept */
    char *kept = volume_data_path(vs, "data");
    ASSERT_NOT_NULL(kept);
    free(kept);

    /* reopen: the volumes are on disk; users are not (the agent records them again) */
    volume_store_free(vs);
    char *junk = xasprintf("%s/.tmp-0123", vroot);
    ASSERT_EQ_INT(mkdir(junk, 0755), 0);
    vs = volume_store_open(vroot, &e);
    ASSERT_NOT_NULL(vs);
    ASSERT_EQ_INT(access(junk, F_OK), -1); /* an unfinished create is cleaned up */
    count_each = 0;
    volume_each(vs, count_one, NULL);
    ASSERT_EQ_INT(count_each, 1);
    int64_t bytes = 0;
    ASSERT_EQ_INT(volume_remove(vs, "data", false, &bytes, &e), 0);
    ASSERT_EQ_INT(bytes, 5);
    ASSERT_EQ_INT(access(data, F_OK), -1);
    volume_store_free(vs);
    free(junk);
    free(data);
    free(aname);
    json_decref(labels);
    ASSERT_EQ_INT(dir_remove_all(root, &e), 0);
    free(vroot);
    free(root);
}

static void filters(const char *raw, struct api_filters *f)
{
    struct err e;
    if (api_filters_decode(raw, strlen(raw), f, &e) < 0)
        FAIL_AT("filters %s: %s", raw, e.msg);
}

TEST(api_volume_filters)
{
    json_t *vol = json_pack("{s:s, s:s, s:{s:s}}", "Name", "mydata", "Driver", "local", "Labels",
                            "team", "a");
    struct api_filters f = {0};
    struct err e = {0};
    static const struct {
        const char *filters;
        size_t users;
        bool match;
    } cases[] = {
        {"", 0, true},
        {"{\"name\":{\"data\":true}}", 0, true}, /* a substring, not a prefix */
        {"{\"name\":{\"other\":true}}", 0, false},
        {"{\"driver\":{\"local\":true}}", 0, true},
        {"{\"driver\":{\"loc\":true}}", 0, false},
        {"{\"label\":{\"team=a\":true}}", 0, true},
        {"{\"label\":{\"team=b\":true}}", 0, false},
        {"{\"dangling\":{\"true\":true}}", 0, true},
        {"{\"dangling\":{\"1\":true}}", 1, false},
        {"{\"dangling\":{\"false\":true}}", 1, true},
        {"{\"dangling\":{\"0\":true}}", 0, false},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        filters(cases[i].filters, &f);
        ASSERT_EQ_INT(api_volume_filters_check(&f, &e), 0);
        if (api_volume_filters_match(&f, vol, cases[i].users) != cases[i].match)
            FAIL_AT("filters %s with %zu users: expected %d", cases[i].filters, cases[i].users,
                    cases[i].match);
        api_filters_release(&f);
    }
    filters("{\"dangling\":[\"maybe\"]}", &f);
    ASSERT_EQ_INT(api_volume_filters_check(&f, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Invalid filter 'dangling=[maybe]'");
    api_filters_release(&f);
    filters("{\"bogus\":[\"x\"]}", &f);
    ASSERT_EQ_INT(api_volume_filters_check(&f, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Invalid filter 'bogus'");
    api_filters_release(&f);

    /* prune: anonymous only unless all; label and label! */
    bool all;
    filters("", &f);
    ASSERT_EQ_INT(api_volume_prune_check(&f, &all, &e), 0);
    ASSERT_FALSE(all);
    ASSERT_FALSE(api_volume_prune_match(&f, all, vol, false, 0));
    ASSERT_TRUE(api_volume_prune_match(&f, all, vol, true, 0));
    ASSERT_FALSE(api_volume_prune_match(&f, all, vol, true, 1));
    api_filters_release(&f);
    filters("{\"all\":[\"true\"]}", &f);
    ASSERT_EQ_INT(api_volume_prune_check(&f, &all, &e), 0);
    ASSERT_TRUE(all);
    ASSERT_TRUE(api_volume_prune_match(&f, all, vol, false, 0));
    api_filters_release(&f);
    filters("{\"all\":[\"1\"],\"label!\":[\"team=a\"]}", &f);
    ASSERT_EQ_INT(api_volume_prune_check(&f, &all, &e), 0);
    ASSERT_FALSE(api_volume_prune_match(&f, all, vol, false, 0));
    api_filters_release(&f);
    filters("{\"all\":[\"yes\"]}", &f);
    ASSERT_EQ_INT(api_volume_prune_check(&f, &all, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Invalid filter 'all=[yes]'");
    api_filters_release(&f);
    filters("{\"dangling\":[\"true\"]}", &f);
    ASSERT_EQ_INT(api_volume_prune_check(&f, &all, &e), -ERR_INVALID);
    api_filters_release(&f);
    json_decref(vol);
}
