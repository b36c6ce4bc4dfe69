/* spec_service.c — the service spec: decoding (with the tables of spec_service_tables.c),
 * dockerd's and swarmkit's refusals in their order and words, the defaults dockerd stores,
 * the ones ?insertDefaults=true shows, and the views the scheduler and the orchestrator
 * read. Pure; any thread.
 *
 * Order of the checks, as a create or update meets them in dockerd 20.10: first its
 * converter (daemon/cluster/convert: runtime, credential spec, configs, mount types,
 * restart condition, update and rollback enums, resolution mode, one mode), plain words;
 * then swarmkit's controlapi validateServiceSpec (name, resources, restart, constraints,
 * secrets, configs, image, mounts, health check, mode, update, endpoint), words prefixed
 * "rpc error: code = InvalidArgument desc = ". */
#include "spec_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_INVALID "rpc error: code = InvalidArgument desc = "
#define SECOND 1000000000LL

int spec_service_decode(const char *json, size_t n, struct spec_service **out, struct err *e)
{
    struct spec_service *s = xcalloc(1, sizeof(*s));
    *out = NULL;
    if (spec_decode(&spec_type_service, json, n, s, e)) {
        spec_service_free(s);
        return -ERR_INVALID;
    }
    *out = s;
    return 0;
}

int spec_service_decode_json(json_t *v, struct spec_service **out, struct err *e)
{
    struct spec_service *s = xcalloc(1, sizeof(*s));
    *out = NULL;
    if (spec_decode_json(&spec_type_service, v, s, e)) {
        spec_service_free(s);
        return -ERR_INVALID;
    }
    *out = s;
    return 0;
}

void spec_service_free(struct spec_service *s)
{
    if (!s)
        return;
    spec_release(&spec_type_service, s);
    free(s);
}

struct spec_service *spec_service_dup(const struct spec_service *s)
{
    struct spec_service *d = xcalloc(1, sizeof(*d));
    spec_copy(&spec_type_service, d, s);
    return d;
}

json_t *spec_service_encode(const struct spec_service *s)
{
    return spec_encode(&spec_type_service, s);
}

/* ---- helpers ---- */

static bool str_empty(const char *s)
{
    return !s || !*s;
}

static bool str_is(const char *s, const char *v)
{
    return strcmp(s ? s : "", v) == 0;
}

/* Index of s in names compared upper-case (as dockerd's protobuf enum lookups do), -1. */
static int enum_index(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s ? s : "", names[i]))
            return (int)i;
    return -1;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? xstrdup(v) : NULL;
}

static void lower_in_place(char *s)
{
    for (; s && *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Go's %g: the shortest decimal that reads back as the same double. */
static void go_g(double d, char out[40])
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, 40, "%.*g", p, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* ---- image references (docker/distribution's reference.ParseNormalizedNamed) ---- */

static bool ref_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool ref_path_component(const char *s, size_t n)
{
    size_t i = 0;
    if (!n || !ref_alnum_lower(s[0]))
        return false;
    while (i < n) {
        while (i < n && ref_alnum_lower(s[i]))
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
        if (i == sep || i >= n || !ref_alnum_lower(s[i]))
            return false;
    }
    return true;
}

/* domain: component(.component)*(:port)?; component [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
static bool ref_domain(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t hn = colon ? (size_t)(colon - s) : n;
    if (colon) {
        if (colon + 1 == s + n)
            return false;
        for (const char *p = colon + 1; p < s + n; p++)
            if (*p < '0' || *p > '9')
                return false;
    }
    size_t i = 0;
    while (i <= hn) {
        size_t st = i;
        while (i < hn && s[i] != '.')
            i++;
        if (i == st || !isalnum((unsigned char)s[st]) || !isalnum((unsigned char)s[i - 1]))
            return false;
        for (size_t k = st; k < i; k++)
            if (!isalnum((unsigned char)s[k]) && s[k] != '-')
                return false;
        if (i == hn)
            break;
        i++;
    }
    return true;
}

static bool ref_valid(const char *ref)
{
    size_t n = strlen(ref);
    if (!n)
        return false;
    /* a 64-hex string alone is refused (it would be an image ID) */
    if (n == 64 && strspn(ref, "0123456789abcdef") == 64)
        return false;
    const char *at = strchr(ref, '@');
    size_t namelen = at ? (size_t)(at - ref) : n;
    if (at) {
        const char *d = at + 1, *c = strchr(d, ':');
        if (!c)
            return false;
        size_t alg = (size_t)(c - d), hex = strlen(c + 1);
        size_t want = alg == 6 && !strncmp(d, "sha256", 6)   ? 64
                      : alg == 6 && !strncmp(d, "sha384", 6) ? 96
                      : alg == 6 && !strncmp(d, "sha512", 6) ? 128
                                                             : 0;
        if (!want || hex != want || strspn(c + 1, "0123456789abcdef") != hex)
            return false;
    }
    /* a tag is after the last ':' that follows the last '/' */
    size_t slash = 0;
    for (size_t i = 0; i < namelen; i++)
        if (ref[i] == '/')
            slash = i + 1;
    const char *tag = memchr(ref + slash, ':', namelen - slash);
    if (tag) {
        size_t tl = namelen - (size_t)(tag + 1 - ref);
        if (!tl || tl > 128)
            return false;
        const char *t = tag + 1;
        if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
            return false;
        for (size_t i = 1; i < tl; i++)
            if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
                return false;
        namelen = (size_t)(tag - ref);
    }
    if (namelen > 255)
        return false;
    /* the first component is a domain if it has '.' or ':', is localhost, or has capitals */
    const char *first_end = memchr(ref, '/', namelen);
    size_t pos = 0;
    if (first_end) {
        size_t fl = (size_t)(first_end - ref);
        bool upper = false;
        for (size_t i = 0; i < fl; i++)
            upper |= isupper((unsigned char)ref[i]);
        if (memchr(ref, '.', fl) || memchr(ref, ':', fl) ||
            (fl == 9 && !strncmp(ref, "localhost", 9)) || upper) {
            if (!ref_domain(ref, fl))
                return false;
            pos = fl + 1;
        }
    }
    if (pos >= namelen)
        return false;
    while (pos <= namelen) {
        const char *e = memchr(ref + pos, '/', namelen - pos);
        size_t cl = e ? (size_t)(e - (ref + pos)) : namelen - pos;
        if (!ref_path_component(ref + pos, cl))
            return false;
        if (!e)
            break;
        pos += cl + 1;
    }
    return true;
}

/* swarmkit's isValidDNSName: ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$ */
static bool dns_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (!n || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* ---- validation ---- */

static const char *const mount_types[] = {"BIND", "VOLUME", "TMPFS", "NPIPE"};
static const char *const propagations[] = {"RPRIVATE", "PRIVATE", "RSHARED",
                                           "SHARED",   "RSLAVE",  "SLAVE"};
static const char *const protocols[] = {"TCP", "UDP", "SCTP"};
static const char *const publish_modes[] = {"INGRESS", "HOST"};

static int check_container_convert(const struct spec_container *c, struct err *e)
{
    if (c->has_privileges && c->privileges.has_credential_spec) {
        const char *opts[3];
        size_t l = 0;
        if (!str_empty(c->privileges.credential_spec.config))
            opts[l++] = "\"config\"";
        if (!str_empty(c->privileges.credential_spec.file))
            opts[l++] = "\"file\"";
        if (!str_empty(c->privileges.credential_spec.registry))
            opts[l++] = "\"registry\"";
        if (l == 0)
            return err_set(e, ERR_INVALID,
                           "invalid CredentialSpec: must either provide \"file\", \"registry\", "
                           "or \"config\" for credential spec");
        if (l == 2)
            return err_set(e, ERR_INVALID,
                           "invalid CredentialSpec: cannot specify both %s and %s credential specs",
                           opts[0], opts[1]);
        if (l == 3)
            return err_set(e, ERR_INVALID,
                           "invalid CredentialSpec: cannot specify both %s, %s, and %s credential "
                           "specs",
                           opts[0], opts[1], opts[2]);
    }
    for (size_t i = 0; i < c->nconfigs; i++) {
        const struct spec_config_ref *r = &c->configs[i];
        if (!r->has_file && !r->has_runtime)
            return err_set(e, ERR_INVALID, "invalid Config: either File or Runtime should be set");
        if (r->has_file && r->has_runtime)
            return err_set(e, ERR_INVALID, "invalid Config: cannot specify both File and Runtime");
    }
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct spec_mount *m = &c->mounts[i];
        if (!str_empty(m->type) && enum_index(m->type, mount_types, ARRAY_SIZE(mount_types)) < 0)
            return err_set(e, ERR_INVALID, "invalid MountType: \"%s\"", m->type);
        if (m->has_bind && !str_empty(m->bind.propagation) &&
            enum_index(m->bind.propagation, propagations, ARRAY_SIZE(propagations)) < 0)
            return err_set(e, ERR_INVALID, "invalid MountPropagation: \"%s\"", m->bind.propagation);
    }
    return 0;
}

static int check_update_convert(const struct spec_update *u, struct err *e)
{
    const char *fa = u->failure_action ? u->failure_action : "";
    if (*fa && !str_is(fa, "pause") && !str_is(fa, "continue") && !str_is(fa, "rollback"))
        return err_set(e, ERR_INVALID, "unrecognized update failure action %s", fa);
    const char *o = u->order ? u->order : "";
    if (*o && !str_is(o, "stop-first") && !str_is(o, "start-first"))
        return err_set(e, ERR_INVALID, "unrecognized update order %s", o);
    return 0;
}

/* dockerd's convert.ServiceSpecToGRPC */
static int check_convert(const struct spec_service *s, struct err *e)
{
    const struct spec_task *t = &s->task;
    const char *rt = t->runtime ? t->runtime : "";
    if (!*rt || str_is(rt, "container")) {
        if (!t->has_container)
            return err_set(e, ERR_INVALID, "mismatched Runtime and *Spec fields");
        if (check_container_convert(&t->container, e))
            return -ERR_INVALID;
    } else if (str_is(rt, "plugin")) {
        if (!t->plugin_spec)
            return err_set(e, ERR_INVALID, "mismatched Runtime and *Spec fields");
        if (s->mode.has_replicated)
            return err_set(e, ERR_INVALID, "plugins must not use replicated mode");
        return err_set(e, ERR_INVALID, "unsupported runtime"); /* shoal runs no plugins */
    } else {
        return err_set(e, ERR_INVALID, "unsupported runtime");
    }
    if (t->has_restart) {
        const char *c = t->restart.condition ? t->restart.condition : "";
        if (*c && !str_is(c, "none") && !str_is(c, "on-failure") && !str_is(c, "any"))
            return err_set(e, ERR_INVALID, "invalid RestartCondition: \"%s\"", c);
    }
    if (s->has_update && check_update_convert(&s->update, e))
        return -ERR_INVALID;
    if (s->has_rollback && check_update_convert(&s->rollback, e))
        return -ERR_INVALID;
    if (s->has_endpoint) {
        const char *m = s->endpoint.mode ? s->endpoint.mode : "";
        if (*m && !str_is(m, "vip") && !str_is(m, "dnsrr"))
            return err_set(e, ERR_INVALID, "invalid resolution mode: \"%s\"", m);
    }
    int modes = s->mode.has_global + s->mode.has_replicated + s->mode.has_replicated_job +
                s->mode.has_global_job;
    if (modes > 1)
        return err_set(e, ERR_INVALID, "must specify only one service mode");
    return 0;
}

static int check_resources(int64_t cpus, int64_t mem, struct err *e)
{
    if (cpus != 0 && cpus < 1000000) {
        char v[40], m[40];
        go_g((double)cpus / 1e9, v);
        go_g(1e6 / 1e9, m);
        return err_set(e, ERR_INVALID, RPC_INVALID "invalid cpu value %s: Must be at least %s", v,
                       m);
    }
    if (mem != 0 && mem < 4 * 1024 * 1024)
        return err_set(e, ERR_INVALID,
                       RPC_INVALID "invalid memory value %lld: Must be at least 4MiB",
                       (long long)mem);
    return 0;
}

static int check_health(const struct spec_health *h, struct err *e)
{
    static const int64_t min = 1000000; /* 1ms */
    if (h->interval != 0 && h->interval < min)
        return err_set(e, ERR_INVALID,
                       RPC_INVALID
                       "ContainerSpec: Interval in HealthConfig cannot be less than 1ms");
    if (h->timeout != 0 && h->timeout < min)
        return err_set(e, ERR_INVALID,
                       RPC_INVALID
                       "ContainerSpec: Timeout in HealthConfig cannot be less than 1ms");
    if (h->start_period != 0 && h->start_period < min)
        return err_set(e, ERR_INVALID,
                       RPC_INVALID
                       "ContainerSpec: StartPeriod in HealthConfig cannot be less than 1ms");
    if (h->start_interval != 0 && h->start_interval < min)
        return err_set(e, ERR_INVALID,
                       RPC_INVALID
                       "ContainerSpec: StartInterval in HealthConfig cannot be less than 1ms");
    if ((int32_t)h->retries < 0) /* swarmkit keeps Retries as int32 */
        return err_set(e, ERR_INVALID,
                       RPC_INVALID "ContainerSpec: Retries in HealthConfig cannot be negative");
    return 0;
}

static int check_refs(const struct spec_container *c, struct err *e)
{
    int rc = 0;
    struct strmap *targets = strmap_new();
    for (size_t i = 0; i < c->nsecrets && !rc; i++) {
        const struct spec_secret_ref *r = &c->secrets[i];
        if (str_empty(r->secret_id) || str_empty(r->secret_name))
            rc = err_set(e, ERR_INVALID, RPC_INVALID "malformed secret reference");
        else if (!r->has_file)
            rc = err_set(e, ERR_INVALID,
                         RPC_INVALID "malformed secret reference, no target provided");
        else if (str_empty(r->file.name))
            rc = err_set(e, ERR_INVALID,
                         RPC_INVALID "malformed file secret reference, invalid target file name "
                                     "provided");
        else if (strmap_get(targets, r->file.name))
            rc = err_set(e, ERR_INVALID,
                         RPC_INVALID "secret references '%s' and '%s' have a conflicting target: "
                                     "'%s'",
                         (const char *)strmap_get(targets, r->file.name), r->secret_name,
                         r->file.name);
        else
            strmap_put(targets, r->file.name, r->secret_name);
    }
    strmap_free(targets);
    if (rc)
        return rc;
    const char *cred_config = NULL;
    if (c->has_privileges && c->privileges.has_credential_spec &&
        !str_empty(c->privileges.credential_spec.config))
        cred_config = c->privileges.credential_spec.config;
    bool cred_found = false;
    targets = strmap_new();
    for (size_t i = 0; i < c->nconfigs && !rc; i++) {
        const struct spec_config_ref *r = &c->configs[i];
        if (str_empty(r->config_id) || str_empty(r->config_name)) {
            rc = err_set(e, ERR_INVALID, RPC_INVALID "malformed config reference");
            break;
        }
        if (r->has_file) {
            if (str_empty(r->file.name)) {
                rc = err_set(e, ERR_INVALID,
                             RPC_INVALID "malformed file config reference, invalid target file "
                                         "name provided");
                break;
            }
            if (strmap_get(targets, r->file.name)) {
                rc = err_set(e, ERR_INVALID,
                             RPC_INVALID "config references '%s' and '%s' have a conflicting "
                                         "target: '%s'",
                             (const char *)strmap_get(targets, r->file.name), r->config_name,
                             r->file.name);
                break;
            }
            strmap_put(targets, r->file.name, r->config_name);
        }
        if (r->has_runtime && cred_config && str_is(r->config_id, cred_config))
            cred_found = true;
    }
    strmap_free(targets);
    if (!rc && cred_config && !cred_found)
        rc = err_set(e, ERR_INVALID,
                     RPC_INVALID "CredentialSpec references config '%s', but that config isn't "
                                 "in config references with RuntimeTarget",
                     cred_config);
    return rc;
}

/* swarmkit's controlapi validateServiceSpec, on what the converter would have produced */
static int check_swarmkit(const struct spec_service *s, struct err *e)
{
    if (!str_empty(s->name)) {
        if (!dns_name_valid(s->name))
            return err_set(e, ERR_INVALID,
                           RPC_INVALID "name must be valid as a DNS name component");
        if (strlen(s->name) > 63)
            return err_set(e, ERR_INVALID, RPC_INVALID "name must be 63 characters or fewer");
    }
    const struct spec_task *t = &s->task;
    if (t->has_resources) {
        const struct spec_resources *r = &t->resources;
        if (r->has_limits && check_resources(r->limits.nano_cpus, r->limits.memory_bytes, e))
            return -ERR_INVALID;
        if (r->has_reservations &&
            check_resources(r->reservations.nano_cpus, r->reservations.memory_bytes, e))
            return -ERR_INVALID;
    }
    if (t->has_restart) {
        if (t->restart.has_delay && t->restart.delay < 0)
            return err_set(e, ERR_INVALID,
                           RPC_INVALID "TaskSpec: restart-delay cannot be negative");
        if (t->restart.has_window && t->restart.window < 0)
            return err_set(e, ERR_INVALID,
                           RPC_INVALID "TaskSpec: restart-window cannot be negative");
    }
    if (t->has_placement && t->placement.constraints.n) {
        struct sched_constraint *c = NULL;
        struct err ce;
        if (sched_constraints_parse((const char *const *)t->placement.constraints.v,
                                    t->placement.constraints.n, &c, &ce))
            /* swarmkit returns the parser's error bare: gRPC calls it Unknown, dockerd 500 */
            return err_set(e, ERR_INTERNAL, "rpc error: code = Unknown desc = %s", ce.msg);
        sched_constraints_free(c, t->placement.constraints.n);
    }
    const struct spec_container *c = &t->container;
    if (check_refs(c, e))
        return -ERR_INVALID;
    if (str_empty(c->image))
        return err_set(e, ERR_INVALID,
                       RPC_INVALID "ContainerSpec: image reference must be provided");
    if (!ref_valid(c->image))
        return err_set(e, ERR_INVALID,
                       RPC_INVALID "ContainerSpec: \"%s\" is not a valid repository/tag", c->image);
    struct strmap *targets = strmap_new();
    int rc = 0;
    for (size_t i = 0; i < c->nmounts && !rc; i++) {
        const char *tg = c->mounts[i].target ? c->mounts[i].target : "";
        if (strmap_get(targets, tg))
            rc =
                err_set(e, ERR_INVALID, RPC_INVALID "ContainerSpec: duplicate mount point: %s", tg);
        strmap_put(targets, tg, (void *)1);
    }
    strmap_free(targets);
    if (rc)
        return rc;
    if (c->has_healthcheck && check_health(&c->healthcheck, e))
        return -ERR_INVALID;
    if (s->mode.has_replicated && s->mode.has_replicas && (int64_t)s->mode.replicas < 0)
        return err_set(e, ERR_INVALID, RPC_INVALID "Number of replicas must be non-negative");
    if (s->mode.has_replicated_job) {
        if (s->mode.has_max_concurrent && (int64_t)s->mode.max_concurrent < 0)
            return err_set(e, ERR_INVALID,
                           RPC_INVALID "Maximum concurrent jobs must not be negative");
        uint64_t total = s->mode.has_total_completions ? s->mode.total_completions
                         : s->mode.has_max_concurrent  ? s->mode.max_concurrent
                                                       : 1;
        if ((int64_t)total < 0)
            return err_set(e, ERR_INVALID, RPC_INVALID "Total completed jobs must not be negative");
    }
    if (s->mode.has_replicated_job || s->mode.has_global_job) {
        if (s->has_update)
            return err_set(e, ERR_INVALID, RPC_INVALID "Jobs may not have an update config");
    } else if (s->has_update) {
        const struct spec_update *u = &s->update;
        if (u->delay < 0)
            return err_set(e, ERR_INVALID, RPC_INVALID "TaskSpec: update-delay cannot be negative");
        if (u->monitor < 0)
            return err_set(e, ERR_INVALID,
                           RPC_INVALID "TaskSpec: update-monitor cannot be negative");
        if (u->max_failure_ratio < 0 || u->max_failure_ratio > 1)
            return err_set(e, ERR_INVALID,
                           RPC_INVALID "TaskSpec: update-maxfailureratio cannot be less than 0 "
                                       "or bigger than 1");
    }
    if (s->has_endpoint) {
        bool dnsrr = str_is(s->endpoint.mode, "dnsrr");
        for (size_t i = 0; i < s->endpoint.nports; i++) {
            const struct spec_port *p = &s->endpoint.ports[i];
            int pm = enum_index(p->publish_mode, publish_modes, ARRAY_SIZE(publish_modes));
            if (dnsrr && pm != 1)
                return err_set(e, ERR_INVALID,
                               RPC_INVALID "EndpointSpec: port published with ingress mode can't "
                                           "be used with dnsrr mode");
            if (!p->published_port)
                continue;
            int pr = enum_index(p->protocol, protocols, ARRAY_SIZE(protocols));
            for (size_t k = 0; k < i; k++) {
                const struct spec_port *q = &s->endpoint.ports[k];
                int qr = enum_index(q->protocol, protocols, ARRAY_SIZE(protocols));
                if (q->published_port == p->published_port &&
                    (qr < 0 ? 0 : qr) == (pr < 0 ? 0 : pr))
                    return err_set(e, ERR_INVALID,
                                   RPC_INVALID "EndpointSpec: duplicate published ports provided");
            }
        }
    }
    return 0;
}

int spec_service_validate(const struct spec_service *s, struct err *e)
{
    int rc = check_convert(s, e);
    if (!rc)
        rc = check_swarmkit(s, e);
    return rc;
}

/* ---- defaults ---- */

/* A generated name as dockerd's namesgenerator makes them: adjective_surname. (Our own
 * short lists of adjectives and of scientists' surnames.) */
static char *random_name(void)
{
    static const char *const left[] = {"brave",   "calm",  "eager", "fervent", "gallant",
                                       "jolly",   "keen",  "lucid", "modest",  "nifty",
                                       "patient", "quiet", "sharp", "stoic",   "zealous"};
    static const char *const right[] = {"agnesi",  "babbage", "curie",   "darwin", "euler",
                                        "fermi",   "gauss",   "hopper",  "kepler", "lovelace",
                                        "meitner", "noether", "pasteur", "turing", "wozniak"};
    uint8_t r[2];
    rand_bytes(r, sizeof(r));
    return xasprintf("%s_%s", left[r[0] % ARRAY_SIZE(left)], right[r[1] % ARRAY_SIZE(right)]);
}

static void update_defaults(struct spec_update *u)
{
    if (str_empty(u->failure_action))
        set_str(&u->failure_action, "pause");
    if (str_empty(u->order))
        set_str(&u->order, "stop-first");
}

static void secret_ref_release(struct spec_secret_ref *r)
{
    free(r->secret_id);
    free(r->secret_name);
    free(r->file.name);
    free(r->file.uid);
    free(r->file.gid);
}

static void container_defaults(struct spec_container *c)
{
    const char *iso = "default";
    if (c->isolation && !strcasecmp(c->isolation, "hyperv"))
        iso = "hyperv";
    else if (c->isolation && !strcasecmp(c->isolation, "process"))
        iso = "process";
    set_str(&c->isolation, iso);
    for (size_t i = 0; i < c->nmounts; i++) {
        struct spec_mount *m = &c->mounts[i];
        if (str_empty(m->type))
            set_str(&m->type, "bind");
        lower_in_place(m->type);
        set_str(&m->consistency, NULL); /* swarmkit's Mount has no Consistency */
        if (m->has_bind) {
            if (str_empty(m->bind.propagation) && !m->bind.non_recursive) {
                set_str(&m->bind.propagation, NULL);
                m->has_bind = false;
            } else if (str_empty(m->bind.propagation)) {
                set_str(&m->bind.propagation, "rprivate");
            } else {
                lower_in_place(m->bind.propagation);
            }
        }
    }
    /* a secret without a file target is not shown (validation refuses it anyway) */
    size_t k = 0;
    for (size_t i = 0; i < c->nsecrets; i++) {
        if (c->secrets[i].has_file)
            c->secrets[k++] = c->secrets[i];
        else
            secret_ref_release(&c->secrets[i]);
    }
    c->nsecrets = k;
    if (c->has_healthcheck)
        c->healthcheck.retries = (int32_t)c->healthcheck.retries;
    if (c->has_privileges && c->privileges.has_credential_spec) {
        /* only one source is kept: config, else file, else registry */
        if (!str_empty(c->privileges.credential_spec.config)) {
            set_str(&c->privileges.credential_spec.file, "");
            set_str(&c->privileges.credential_spec.registry, "");
        } else if (!str_empty(c->privileges.credential_spec.file)) {
            set_str(&c->privileges.credential_spec.registry, "");
        }
    }
}

void spec_service_defaults(struct spec_service *s)
{
    if (str_empty(s->name)) {
        free(s->name);
        s->name = random_name();
    }
    struct spec_task *t = &s->task;
    set_str(&t->runtime, "container");
    if (t->has_container)
        container_defaults(&t->container);
    if (t->has_resources && t->resources.has_reservations) {
        size_t k = 0;
        struct spec_generic_resource *g = t->resources.reservations.generic;
        for (size_t i = 0; i < t->resources.reservations.ngeneric; i++) {
            if (g[i].has_named || g[i].has_discrete) {
                g[k++] = g[i];
            } else {
                free(g[i].named.kind);
                free(g[i].named.value);
                free(g[i].discrete.kind);
            }
        }
        t->resources.reservations.ngeneric = k;
    }
    if (t->has_restart) {
        if (str_empty(t->restart.condition))
            set_str(&t->restart.condition, "any");
        t->restart.has_max_attempts = true;
    }
    if (t->has_placement) {
        size_t k = 0;
        for (size_t i = 0; i < t->placement.nprefs; i++) {
            if (t->placement.prefs[i].has_spread)
                t->placement.prefs[k++] = t->placement.prefs[i];
            else
                free(t->placement.prefs[i].spread_descriptor);
        }
        t->placement.nprefs = k;
    }
    if (!s->mode.has_replicated && !s->mode.has_global && !s->mode.has_replicated_job &&
        !s->mode.has_global_job)
        s->mode.has_replicated = true;
    if (s->mode.has_replicated && !s->mode.has_replicas) {
        s->mode.has_replicas = true;
        s->mode.replicas = 1;
    }
    if (s->mode.has_replicated_job) {
        if (!s->mode.has_max_concurrent)
            s->mode.max_concurrent = 1;
        if (!s->mode.has_total_completions)
            s->mode.total_completions = s->mode.max_concurrent;
        s->mode.has_max_concurrent = s->mode.has_total_completions = true;
    }
    if (s->has_update)
        update_defaults(&s->update);
    if (s->has_rollback)
        update_defaults(&s->rollback);
    if (s->has_endpoint) {
        if (str_empty(s->endpoint.mode))
            set_str(&s->endpoint.mode, "vip");
        for (size_t i = 0; i < s->endpoint.nports; i++) {
            struct spec_port *p = &s->endpoint.ports[i];
            int pr = enum_index(p->protocol, protocols, ARRAY_SIZE(protocols));
            set_str(&p->protocol, pr == 1 ? "udp" : pr == 2 ? "sctp" : "tcp");
            int pm = enum_index(p->publish_mode, publish_modes, ARRAY_SIZE(publish_modes));
            set_str(&p->publish_mode, pm == 1 ? "host" : "ingress");
        }
    }
}

static void default_update(struct spec_update *u)
{
    memset(u, 0, sizeof(*u));
    u->parallelism = 1;
    u->failure_action = xstrdup("pause");
    u->monitor = 5 * SECOND;
    u->order = xstrdup("stop-first");
}

void spec_service_insert_defaults(struct spec_service *s)
{
    struct spec_task *t = &s->task;
    if (t->has_container) {
        if (!t->container.has_stop_grace_period) {
            t->container.has_stop_grace_period = true;
            t->container.stop_grace_period = 10 * SECOND;
        }
        t->container.has_dns = true;
    }
    t->has_resources = true; /* an empty ResourceRequirements: no limits, no reservations */
    if (!t->has_restart) {
        t->has_restart = true;
        set_str(&t->restart.condition, "any");
        t->restart.has_max_attempts = true;
        t->restart.max_attempts = 0;
    }
    if (!t->restart.has_delay) {
        t->restart.has_delay = true;
        t->restart.delay = 5 * SECOND;
    }
    t->has_placement = true;
    /* a zero Monitor is an unset one (the converter only sets a non-zero one) */
    if (!s->has_update) {
        s->has_update = true;
        default_update(&s->update);
    } else if (!s->update.monitor) {
        s->update.monitor = 5 * SECOND;
    }
    if (!s->has_rollback) {
        s->has_rollback = true;
        default_update(&s->rollback);
    } else if (!s->rollback.monitor) {
        s->rollback.monitor = 5 * SECOND;
    }
}

/* ---- views ---- */

int spec_placement_view(const struct spec_service *s, struct spec_placement_view *v, struct err *e)
{
    memset(v, 0, sizeof(*v));
    const struct spec_task *t = &s->task;
    struct sched_group *g = &v->group;
    if (t->has_resources && t->resources.has_reservations) {
        g->nano_cpus = t->resources.reservations.nano_cpus;
        g->memory_bytes = t->resources.reservations.memory_bytes;
    }
    if (t->has_placement) {
        const struct spec_placement *p = &t->placement;
        if (p->constraints.n && sched_constraints_parse((const char *const *)p->constraints.v,
                                                        p->constraints.n, &v->constraints, e))
            return -ERR_INVALID;
        g->constraints = v->constraints;
        g->nconstraints = p->constraints.n;
        if (p->nplatforms) {
            v->platforms = xcalloc(p->nplatforms, sizeof(*v->platforms));
            for (size_t i = 0; i < p->nplatforms; i++)
                v->platforms[i] = (struct sched_platform){
                    p->platforms[i].os ? p->platforms[i].os : "",
                    p->platforms[i].architecture ? p->platforms[i].architecture : ""};
        }
        g->platforms = v->platforms;
        g->nplatforms = p->nplatforms;
        g->max_replicas = p->max_replicas;
        if (p->nprefs) {
            v->prefs = xcalloc(p->nprefs, sizeof(*v->prefs));
            for (size_t i = 0; i < p->nprefs; i++)
                if (p->prefs[i].has_spread)
                    v->prefs[g->nspread_prefs++] =
                        p->prefs[i].spread_descriptor ? p->prefs[i].spread_descriptor : "";
        }
        g->spread_prefs = v->prefs;
    }
    if (s->has_endpoint && s->endpoint.nports) {
        v->ports = xcalloc(s->endpoint.nports, sizeof(*v->ports));
        for (size_t i = 0; i < s->endpoint.nports; i++) {
            const struct spec_port *p = &s->endpoint.ports[i];
            if (enum_index(p->publish_mode, publish_modes, ARRAY_SIZE(publish_modes)) != 1 ||
                !p->published_port)
                continue;
            int pr = enum_index(p->protocol, protocols, ARRAY_SIZE(protocols));
            v->ports[g->nhost_ports++] =
                (struct sched_port){(uint16_t)p->published_port, (uint8_t)(pr == 1   ? SCHED_UDP
                                                                           : pr == 2 ? SCHED_SCTP
                                                                                     : SCHED_TCP)};
        }
        g->host_ports = v->ports;
    }
    return 0;
}

void spec_placement_view_release(struct spec_placement_view *v)
{
    sched_constraints_free(v->constraints, v->group.nconstraints);
    free(v->platforms);
    free(v->ports);
    free(v->prefs);
    memset(v, 0, sizeof(*v));
}

void spec_restart_view(const struct spec_service *s, struct orch_restart *out)
{
    const struct spec_restart *r = &s->task.restart;
    bool has = s->task.has_restart;
    out->condition = ORCH_RESTART_ANY;
    if (has && str_is(r->condition, "none"))
        out->condition = ORCH_RESTART_NONE;
    else if (has && str_is(r->condition, "on-failure"))
        out->condition = ORCH_RESTART_ON_FAILURE;
    out->delay_ns = has && r->has_delay ? r->delay : 5 * SECOND;
    out->max_attempts = has && r->has_max_attempts ? r->max_attempts : 0;
    out->window_ns = has && r->has_window ? r->window : 0;
}

void spec_mode_view(const struct spec_service *s, enum orch_mode *mode, uint64_t *replicas)
{
    if (s->mode.has_global || s->mode.has_global_job) {
        *mode = ORCH_GLOBAL;
        *replicas = 0;
        return;
    }
    *mode = ORCH_REPLICATED;
    if (s->mode.has_replicated_job)
        *replicas = s->mode.has_max_concurrent ? s->mode.max_concurrent : 1;
    else
        *replicas = s->mode.has_replicas ? s->mode.replicas : 1;
}

/* ---- API versions and updates ---- */

void spec_service_adjust_for_version(struct spec_service *s, int major, int minor)
{
    struct spec_container *c = &s->task.container;
    bool below140 = major < 1 || (major == 1 && minor < 40);
    bool below141 = major < 1 || (major == 1 && minor < 41);
    if (below140) {
        if (s->task.has_container) {
            for (size_t i = 0; i < c->sysctls.n; i++) {
                free(c->sysctls.v[i].key);
                free(c->sysctls.v[i].value);
            }
            free(c->sysctls.v);
            c->sysctls.v = NULL;
            c->sysctls.n = 0;
            if (c->has_privileges && c->privileges.has_credential_spec)
                set_str(&c->privileges.credential_spec.config, "");
            for (size_t i = 0; i < c->nconfigs; i++)
                c->configs[i].has_runtime = false;
        }
        if (s->task.has_placement)
            s->task.placement.max_replicas = 0;
    }
    if (below141) {
        if (s->task.has_container) {
            struct spec_strv *caps[] = {&c->cap_add, &c->cap_drop};
            for (size_t k = 0; k < 2; k++) {
                for (size_t i = 0; i < caps[k]->n; i++)
                    free(caps[k]->v[i]);
                free(caps[k]->v);
                caps[k]->v = NULL;
                caps[k]->n = 0;
            }
            for (size_t i = 0; i < c->nulimits; i++)
                free(c->ulimits[i].name);
            free(c->ulimits);
            c->ulimits = NULL;
            c->nulimits = 0;
        }
        if (s->task.has_resources && s->task.resources.has_limits)
            s->task.resources.limits.pids = 0;
        s->mode.has_replicated_job = s->mode.has_global_job = false;
        s->mode.has_max_concurrent = s->mode.has_total_completions = false;
    }
}

static bool strv_equal(const struct spec_strv *a, const struct spec_strv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]))
            return false;
    return true;
}

static bool map_equal(const struct spec_map *a, const struct spec_map *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].key, b->v[i].key) || strcmp(a->v[i].value, b->v[i].value))
            return false;
    return true;
}

static bool networks_equal(const struct spec_network *a, size_t na, const struct spec_network *b,
                           size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_is(a[i].target, b[i].target ? b[i].target : "") ||
            !strv_equal(&a[i].aliases, &b[i].aliases) ||
            !map_equal(&a[i].driver_opts, &b[i].driver_opts))
            return false;
    return true;
}

static int mode_kind(const struct spec_service *s)
{
    return s->mode.has_global ? 1 : s->mode.has_replicated_job ? 2 : s->mode.has_global_job ? 3 : 0;
}

int spec_service_check_update(const struct spec_service *cur, const struct spec_service *next,
                              struct err *e)
{
    if ((next->nnetworks || cur->nnetworks) &&
        !networks_equal(next->networks, next->nnetworks, cur->networks, cur->nnetworks) &&
        networks_equal(next->task.networks, next->task.nnetworks, cur->task.networks,
                       cur->task.nnetworks))
        return err_set(e, ERR_NOT_IMPLEMENTED,
                       "rpc error: code = Unimplemented desc = networks must be migrated to "
                       "TaskSpec before being changed");
    if (mode_kind(cur) != mode_kind(next))
        return err_set(e, ERR_NOT_IMPLEMENTED,
                       "rpc error: code = Unimplemented desc = service mode change is not allowed");
    if (!str_is(cur->name, next->name ? next->name : ""))
        return err_set(e, ERR_NOT_IMPLEMENTED,
                       "rpc error: code = Unimplemented desc = renaming services is not supported");
    return 0;
}

/* ---- the executor's checks ---- */

int spec_container_check_task(const struct spec_container *c, struct err *e)
{
    if (str_empty(c->image))
        return err_set(e, ERR_INVALID, "dockerexec: image required");
    for (size_t i = 0; i < c->nmounts; i++) {
        const struct spec_mount *m = &c->mounts[i];
        const char *type = m->type ? m->type : "bind", *src = m->source ? m->source : "",
                   *tgt = m->target ? m->target : "";
        bool npipe = str_is(type, "npipe");
        if (tgt[0] != '/' && !npipe)
            return err_set(e, ERR_INVALID, "invalid mount target, must be an absolute path: %s",
                           tgt);
        if (str_is(type, "bind")) {
            if (src[0] != '/')
                return err_set(e, ERR_INVALID,
                               "invalid bind mount source, must be an absolute path: %s", src);
        } else if (str_is(type, "volume")) {
            if (src[0] == '/')
                return err_set(e, ERR_INVALID,
                               "invalid volume mount source, must not be an absolute path: %s",
                               src);
        } else if (str_is(type, "tmpfs")) {
            if (*src)
                return err_set(e, ERR_INVALID, "invalid tmpfs source, source must be empty");
        } else if (npipe) {
            if (!*src)
                return err_set(e, ERR_INVALID, "invalid npipe source, source must not be empty");
        } else {
            return err_set(e, ERR_INVALID, "invalid mount type: %s", type);
        }
    }
    return 0;
}

int spec_service_prepare(const char *json, size_t n, int api_major, int api_minor,
                         struct spec_service **out, struct err *e)
{
    struct spec_service *s;
    *out = NULL;
    int rc = spec_service_decode(json, n, &s, e);
    if (rc)
        return rc;
    if (api_major || api_minor)
        spec_service_adjust_for_version(s, api_major, api_minor);
    if ((rc = spec_service_validate(s, e))) {
        spec_service_free(s);
        return rc;
    }
    spec_service_defaults(s);
    *out = s;
    return 0;
}
