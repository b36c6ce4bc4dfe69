/* image_ref.c — image references normalised as Docker's reference package does for local
 * names: an optional domain (a first component with '.' or ':', or "localhost"; docker.io
 * otherwise, with "library/" for one-component names), lower-case path components separated
 * by '.', '_', "__" or dashes, an optional ":tag" ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) and an
 * optional "@sha256:<64 hex>". Pure functions; no I/O. */
#include "image_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

bool image_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

static bool path_component_ok(const char *s, size_t n)
{
    /* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
    if (n == 0)
        return false;
    size_t i = 0;
    while (i < n) {
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
            return false;
        while (i < n && (islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
            i++;
        if (i == n)
            return true;
        size_t sep = i;
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else if (s[i] == '-')
            while (i < n && s[i] == '-')
                i++;
        else
            return false;
        if (i == sep || i == n)
            return false;
    }
    return true;
}

static bool domain_ok(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t host = colon ? (size_t)(colon - s) : n;
    if (host == 0)
        return false;
    /* labels of [A-Za-z0-9-], not starting or ending with '-' */
    size_t start = 0;
    for (size_t i = 0; i <= host; i++) {
        if (i == host || s[i] == '.') {
            if (i == start || s[start] == '-' || s[i - 1] == '-')
                return false;
            start = i + 1;
        } else if (!(isalnum((unsigned char)s[i]) || s[i] == '-')) {
            return false;
        }
    }
    if (colon) {
        if (host + 1 == n)
            return false;
        for (size_t i = host + 1; i < n; i++)
            if (!isdigit((unsigned char)s[i]))
                return false;
    }
    return true;
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        bool word = isalnum(c) || c == '_';
        if (!(word || (i > 0 && (c == '.' || c == '-'))))
            return false;
    }
    return true;
}

int image_ref_parse(const char *s, bool default_tag, struct image_ref *r, struct err *e)
{
    memset(r, 0, sizeof(*r));
    if (image_hex64(s))
        return err_set(e, ERR_INVALID,
                       "invalid repository name (%s), cannot specify 64-byte hexadecimal strings",
                       s);
    char *work = xstrdup(s);
    char *digest = NULL, *tag = NULL;
    char *at = strchr(work, '@');
    if (at) {
        *at = '\0';
        digest = at + 1;
        if (!str_has_prefix(digest, "sha256:") || !image_hex64(digest + 7))
            goto bad;
    }
    char *slash = strrchr(work, '/');
    char *colon = strrchr(slash ? slash : work, ':');
    if (colon) {
        *colon = '\0';
        tag = colon + 1;
        if (!tag_ok(tag))
            goto bad;
    }
    if (!*work)
        goto bad;
    /* split the domain off as Docker's splitDockerDomain */
    const char *domain = "docker.io";
    const char *rest = work;
    char *first = strchr(work, '/');
    if (first) {
        size_t dn = (size_t)(first - work);
        bool lower = true;
        for (size_t i = 0; i < dn; i++)
            if (isupper((unsigned char)work[i]))
                lower = false;
        bool is_domain = memchr(work, '.', dn) || memchr(work, ':', dn) ||
                         (dn == 9 && !memcmp(work, "localhost", 9)) || !lower;
        if (is_domain) {
            if (!domain_ok(work, dn))
                goto bad;
            *first = '\0';
            domain = work;
            rest = first + 1;
            if (!strcmp(domain, "index.docker.io"))
                domain = "docker.io";
        }
    }
    char *path;
    if (!strcmp(domain, "docker.io") && !strchr(rest, '/'))
        path = xasprintf("library/%s", rest);
    else
        path = xstrdup(rest);
    for (const char *p = path; *p; p++)
        if (isupper((unsigned char)*p)) {
            err_set(e, ERR_INVALID,
                    "invalid reference format: repository name (%s) must be lowercase", path);
            free(path);
            free(work);
            return -ERR_INVALID;
        }
    /* every path component must match */
    for (const char *p = path;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!path_component_ok(p, n)) {
            free(path);
            goto bad;
        }
        if (!end)
            break;
        p = end + 1;
    }
    r->name = xasprintf("%s/%s", domain, path);
    free(path);
    if (strlen(r->name) - strlen(domain) - 1 > 255) {
        image_ref_release(r);
        free(work);
        return err_set(e, ERR_INVALID,
                       "invalid reference format: repository name must not be more than 255 "
                       "characters");
    }
    if (tag)
        r->tag = xstrdup(tag);
    else if (!digest && default_tag)
        r->tag = xstrdup("latest");
    if (digest)
        r->digest = xstrdup(digest);
    free(work);
    return 0;
bad:
    free(work);
    return err_set(e, ERR_INVALID, "invalid reference format");
}

void image_ref_release(struct image_ref *r)
{
    free(r->name);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

char *image_ref_full(const struct image_ref *r)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, r->name);
    if (r->tag)
        buf_printf(&b, ":%s", r->tag);
    if (r->digest)
        buf_printf(&b, "@%s", r->digest);
    return buf_detach(&b, NULL);
}

char *image_ref_familiar(const char *full)
{
    if (str_has_prefix(full, "docker.io/")) {
        const char *rest = full + strlen("docker.io/");
        if (str_has_prefix(rest, "library/")) {
            const char *after = rest + strlen("library/");
            size_t n = strcspn(after, ":@");
            if (!memchr(after, '/', n))
                return xstrdup(after);
        }
        return xstrdup(rest);
    }
    return xstrdup(full);
}
