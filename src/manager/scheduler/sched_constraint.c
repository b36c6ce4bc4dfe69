/* sched_constraint.c — placement constraints: parsing with Docker's rules and words, and
 * matching against a node (node.id, node.hostname, node.ip, node.role, node.platform.os,
 * node.platform.arch, node.labels.*, engine.labels.*; values compare case-insensitively,
 * label keys exactly). Pure; any thread. */
#include "sched_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool key_ok(const char *k, size_t n)
{
    /* [A-Za-z_][A-Za-z0-9._-]+ : at least two characters */
    if (n < 2 || !(isalpha((unsigned char)k[0]) || k[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)k[i]) && !strchr("-_.", k[i]))
            return false;
    return true;
}

static bool value_ok(const char *v, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!isalnum(c) && !isspace(c) && !strchr(":-_.*()?+[]\\^$|/", c))
            return false;
    }
    return true;
}

/* [p, p+n) without leading and trailing white space. */
static void trim(const char **p, size_t *n)
{
    while (*n && isspace((unsigned char)**p))
        (*p)++, (*n)--;
    while (*n && isspace((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

int sched_constraints_parse(const char *const *exprs, size_t n, struct sched_constraint **out,
                            struct err *e)
{
    static const char *const ops[] = {"==", "!="};
    struct sched_constraint *c = n ? xcalloc(n, sizeof(*c)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *x = exprs[i], *at = NULL;
        size_t op = 0;
        for (; op < ARRAY_SIZE(ops); op++)
            if ((at = strstr(x, ops[op])))
                break;
        if (!at) {
            sched_constraints_free(c, i);
            return err_set(e, ERR_INVALID, "constraint expected one operator from ==, !=");
        }
        const char *k = x, *v = at + 2;
        size_t kn = (size_t)(at - x), vn = strlen(v);
        trim(&k, &kn);
        trim(&v, &vn);
        if (!key_ok(k, kn) || !value_ok(v, vn)) {
            int rc = !key_ok(k, kn)
                         ? err_set(e, ERR_INVALID, "key '%.*s' is invalid", (int)kn, k)
                         : err_set(e, ERR_INVALID, "value '%.*s' is invalid", (int)vn, v);
            sched_constraints_free(c, i);
            return rc;
        }
        c[i].key = xstrndup(k, kn);
        c[i].value = xstrndup(v, vn);
        c[i].equal = op == 0;
    }
    *out = c;
    return 0;
}

void sched_constraints_free(struct sched_constraint *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].key);
        free(c[i].value);
    }
    free(c);
}

static const char *label_get(const struct sched_kv *l, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].key, key))
            return l[i].value;
    return "";
}

const char *sched_pref_value(const struct snode *nd, const char *descriptor)
{
    static const char node_p[] = "node.labels.", engine_p[] = "engine.labels.";
    size_t np = sizeof(node_p) - 1, ep = sizeof(engine_p) - 1;
    if (strlen(descriptor) > np && !strncasecmp(descriptor, node_p, np))
        return label_get(nd->labels, nd->nlabels, descriptor + np);
    if (strlen(descriptor) > ep && !strncasecmp(descriptor, engine_p, ep))
        return label_get(nd->engine_labels, nd->nengine_labels, descriptor + ep);
    return "";
}

/* node.ip: an address or a CIDR; anything else never matches (as Docker). */
static bool ip_matches(const struct sched_constraint *c, const char *addr)
{
    unsigned char want[16], have[16];
    int fam = strchr(c->value, ':') ? AF_INET6 : AF_INET;
    int len = fam == AF_INET ? 4 : 16;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", c->value);
    char *slash = strchr(buf, '/');
    long bits = len * 8;
    if (slash) {
        char *end;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (*end || slash[1] == '\0' || bits < 0 || bits > len * 8)
            return false;
    }
    if (inet_pton(fam, buf, want) != 1)
        return false;
    bool in = inet_pton(fam, addr ? addr : "", have) == 1;
    for (long b = 0; in && b < bits; b++) {
        unsigned char m = (unsigned char)(0x80 >> (b % 8));
        if ((want[b / 8] & m) != (have[b / 8] & m))
            in = false;
    }
    return in == c->equal;
}

static bool value_matches(const struct sched_constraint *c, const char *have)
{
    return (strcasecmp(c->value, have ? have : "") == 0) == c->equal;
}

bool sched_constraint_matches(const struct sched_constraint *c, const struct snode *nd)
{
    static const char node_p[] = "node.labels.", engine_p[] = "engine.labels.";
    const char *k = c->key;
    if (!strcasecmp(k, "node.id"))
        return value_matches(c, nd->id);
    if (!strcasecmp(k, "node.hostname"))
        return value_matches(c, nd->hostname);
    if (!strcasecmp(k, "node.ip"))
        return ip_matches(c, nd->addr);
    if (!strcasecmp(k, "node.role"))
        return value_matches(c, nd->role);
    if (!strcasecmp(k, "node.platform.os"))
        return value_matches(c, nd->os);
    if (!strcasecmp(k, "node.platform.arch"))
        return value_matches(c, nd->arch);
    if (strlen(k) > sizeof(node_p) - 1 && !strncasecmp(k, node_p, sizeof(node_p) - 1))
        return value_matches(c, label_get(nd->labels, nd->nlabels, k + sizeof(node_p) - 1));
    if (strlen(k) > sizeof(engine_p) - 1 && !strncasecmp(k, engine_p, sizeof(engine_p) - 1))
        return value_matches(
            c, label_get(nd->engine_labels, nd->nengine_labels, k + sizeof(engine_p) - 1));
    return false; /* an unknown key matches no node, as in Docker */
}
