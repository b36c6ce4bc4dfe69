/* volume_meta.c — the pure parts of volumes: Docker's name, driver and option rules for the
 * local driver, the o option split into mount flags and data, meta.json and Docker's Volume
 * object. No I/O.
 * Thread: any. */
#include "volume/volume.h"

#include <string.h>
#include <sys/mount.h>
#include <time.h>

static bool name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

int volume_name_check(const char *name, struct err *e)
{
    size_t n = strlen(name);
    /* moby's local driver: one character is "too short" before the pattern is checked */
    if (n == 1)
        return err_set(e, ERR_INVALID,
                       "volume name is too short, names should be at least two alphanumeric "
                       "characters");
    bool ok = n >= 2 && n <= VOLUME_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = name_char(name[i], i == 0);
    if (!ok)
        return err_set(e, ERR_INVALID,
                       "\"%s\" includes invalid characters for a local volume name, only "
                       "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                       "directory, use absolute path",
                       name);
    return 0;
}

int volume_driver_check(const char *driver, struct err *e)
{
    if (!driver || !driver[0] || !strcmp(driver, VOLUME_DRIVER))
        return 0;
    return err_set(e, ERR_NOT_FOUND, "error looking up volume plugin %s: plugin \"%s\" not found",
                   driver, driver);
}

int volume_opts_check(const json_t *opts, struct err *e)
{
    static const char *const valid[] = {"type", "device", "o", "size"};
    /* moby's mandatoryOpts: each of these needs the ones listed */
    static const struct {
        const char *opt, *needs[2];
    } mandatory[] = {
        {"o", {"device", "type"}},
        {"type", {"device", NULL}},
        {"device", {"type", NULL}},
    };
    const char *k;
    json_t *v;
    if (opts && !json_is_object(opts))
        return err_set(e, ERR_INVALID, "invalid volume options");
    json_object_foreach((json_t *)opts, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < ARRAY_SIZE(valid) && !known; i++)
            known = !strcmp(k, valid[i]);
        if (!known)
            return err_set(e, ERR_INVALID, "invalid option: \"%s\"", k);
        if (!json_is_string(v))
            return err_set(e, ERR_INVALID, "invalid value for option \"%s\"", k);
    }
    if (json_object_get(opts, "size"))
        return err_set(e, ERR_INVALID, "quota size requested but no quota support");
    for (size_t i = 0; i < ARRAY_SIZE(mandatory); i++) {
        if (!json_object_get(opts, mandatory[i].opt))
            continue;
        for (size_t j = 0; j < 2 && mandatory[i].needs[j]; j++)
            if (!json_object_get(opts, mandatory[i].needs[j]))
                return err_set(e, ERR_INVALID, "missing required option: \"%s\"",
                               mandatory[i].needs[j]);
    }
    return 0;
}

void volume_mount_opts(const char *o, unsigned long *flags, char **data)
{
    static const struct {
        const char *word;
        bool clear;
        unsigned long flag;
    } words[] = {
        {"defaults", false, 0},
        {"ro", false, MS_RDONLY},
        {"rw", true, MS_RDONLY},
        {"nosuid", false, MS_NOSUID},
        {"suid", true, MS_NOSUID},
        {"nodev", false, MS_NODEV},
        {"dev", true, MS_NODEV},
        {"noexec", false, MS_NOEXEC},
        {"exec", true, MS_NOEXEC},
        {"sync", false, MS_SYNCHRONOUS},
        {"async", true, MS_SYNCHRONOUS},
        {"dirsync", false, MS_DIRSYNC},
        {"noatime", false, MS_NOATIME},
        {"atime", true, MS_NOATIME},
        {"nodiratime", false, MS_NODIRATIME},
        {"diratime", true, MS_NODIRATIME},
        {"relatime", false, MS_RELATIME},
        {"norelatime", true, MS_RELATIME},
        {"strictatime", false, MS_STRICTATIME},
        {"nostrictatime", true, MS_STRICTATIME},
        {"bind", false, MS_BIND},
        {"rbind", false, MS_BIND | MS_REC},
    };
    struct buf b = BUF_INIT;
    *flags = 0;
    const char *p = o ? o : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < ARRAY_SIZE(words) && !found; i++) {
            if (strlen(words[i].word) != n || strncmp(p, words[i].word, n))
                continue;
            found = true;
            if (words[i].clear)
                *flags &= ~words[i].flag;
            else
                *flags |= words[i].flag;
        }
        if (!found && n) {
            if (b.len)
                buf_adds(&b, ",");
            buf_add(&b, p, n);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (!b.p)
        buf_adds(&b, "");
    *data = buf_detach(&b, NULL);
}

/* ---- meta.json ---- */

static bool string_map(const json_t *j)
{
    const char *k;
    json_t *v;
    if (!json_is_object(j))
        return false;
    json_object_foreach((json_t *)j, k, v) if (!json_is_string(v)) return false;
    return true;
}

static void created_text(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *map_or_null(json_t *m)
{
    return m ? json_deep_copy(m) : json_null();
}

char *volume_meta_encode(const struct volume_meta *m)
{
    char created[32];
    created_text(m->created_s, created);
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:o, s:s, s:I}", "Name", m->name, "Driver", VOLUME_DRIVER,
                  "Labels", map_or_null(m->labels), "Options", map_or_null(m->options), "CreatedAt",
                  created, "Created", (json_int_t)m->created_s);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    BUG_ON(!s);
    return s;
}

int volume_meta_decode(const char *s, size_t n, struct volume_meta *m, struct err *e)
{
    memset(m, 0, sizeof(*m));
    json_error_t je;
    json_t *j = json_loadb(s, n, 0, &je);
    const char *name = json_string_value(json_object_get(j, "Name"));
    const char *driver = json_string_value(json_object_get(j, "Driver"));
    json_t *labels = json_object_get(j, "Labels"), *opts = json_object_get(j, "Options");
    json_t *created = json_object_get(j, "Created");
    int rc = 0;
    if (!json_is_object(j))
        rc = err_set(e, ERR_INVALID, "not a volume's metadata: %s", j ? "not an object" : je.text);
    else if (!name || volume_name_check(name, NULL) < 0)
        rc = err_set(e, ERR_INVALID, "not a volume's metadata: bad Name");
    else if (!driver || strcmp(driver, VOLUME_DRIVER))
        rc = err_set(e, ERR_INVALID, "volume %s: driver \"%s\" is not the local driver", name,
                     driver ? driver : "");
    else if ((labels && !json_is_null(labels) && !string_map(labels)) ||
             (opts && !json_is_null(opts) && !string_map(opts)))
        rc = err_set(e, ERR_INVALID, "volume %s: Labels and Options must be maps of strings", name);
    else if (!json_is_integer(created))
        rc = err_set(e, ERR_INVALID, "volume %s: no Created time", name);
    if (rc == 0) {
        m->name = xstrdup(name);
        m->labels = json_is_object(labels) ? json_deep_copy(labels) : NULL;
        m->options = json_is_object(opts) ? json_deep_copy(opts) : NULL;
        m->created_s = json_integer_value(created);
    }
    json_decref(j);
    return rc;
}

void volume_meta_release(struct volume_meta *m)
{
    free(m->name);
    json_decref(m->labels);
    json_decref(m->options);
    memset(m, 0, sizeof(*m));
}

json_t *volume_meta_json(const struct volume_meta *m, const char *mountpoint)
{
    char created[32];
    created_text(m->created_s, created);
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s}", "CreatedAt", created, "Driver",
                     VOLUME_DRIVER, "Labels", map_or_null(m->labels), "Mountpoint", mountpoint,
                     "Name", m->name, "Options", map_or_null(m->options), "Scope", "local");
}

char *volume_users_text(char *const *ids, size_t n)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_adds(&b, " ");
        buf_adds(&b, ids[i]);
    }
    buf_adds(&b, "]");
    return buf_detach(&b, NULL);
}
