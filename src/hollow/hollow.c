/* hollow.c — hollow workers (see hollow.h): one fetch of the root CA checked against the
 * token's digest, then a bounded number of joins in flight through one CA-verified client
 * (no client certificate is needed to join), then per identity one client with its own
 * certificate that heartbeats at a fixed offset within the period, and an agent session
 * whose calls go over that client (leader_call) to the manager it heartbeats, driving the
 * fake executor of hollow_exec.c.
 *
 * Invariants: an identity is in exactly one of three states: waiting in the join queue,
 * joining (one call in flight on the shared join client), or joined (its own client, one
 * timer, at most one heartbeat in flight, one session whose calls in flight are listed in
 * `calls`, answered before the client closes). The manager list is append-only and shared; an
 * identity holds an index into it. Nothing is freed before every handle has closed.
 * Thread: the loop thread. */
#include "hollow.h"
#include "hollow_int.h"

#include "ca/ca.h"
#include "httpc/httpc.h"
#include "manager/dispatcher/disp.h"
#include "msg/msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#define HOLLOW_JOIN_TIMEOUT_MS 15000
#define HOLLOW_JOIN_RETRY_MS 1000
#define HOLLOW_RETRY_MS 500
#define HOLLOW_REDIRECT_MS 20
#define HOLLOW_MAX_MANAGERS 32
#define HOLLOW_NANO_CPUS (4LL * 1000000000LL)
#define HOLLOW_MEMORY (8LL << 30)
#define HOLLOW_CALL_TIMEOUT_MS 10000
#define HOLLOW_POLL_TIMEOUT_MS (DISP_POLL_MS + 10000)
#define HOLLOW_CALL_REDIRECTS 3

enum hn_state { HN_WAITING, HN_JOINING, HN_JOINED };

struct hollow_node {
    struct hollow *h;
    uv_timer_t timer;           /* heartbeats (initialised once joined) */
    struct httpc *client;       /* own certificate; once joined */
    struct httpc_call *call;    /* join or heartbeat in flight */
    struct agent_session *sess; /* once joined */
    struct hollow_ctrs *ctrs;   /* its fake containers; once joined */
    struct hcall *calls;        /* the session's calls in flight */
    char *key_pem;              /* while joining only */
    int64_t not_before;         /* waiting: loop ms before which no join is tried */
    int idx;
    int mgr; /* index into h->managers */
    uint8_t state;
    char id[ID_LEN + 1];
};

struct hollow {
    uv_loop_t *loop;
    int count, parallel;
    char *token, *manager, *advertise, *prefix, *tmp_parent;
    char digest[CA_TOKEN_DIGEST_LEN + 1];
    char machine[65];
    hollow_fatal_cb fatal;
    void *data;

    char *root_pem;
    char *beat_body;      /* what every heartbeat says: the TLS state all hollow nodes share */
    char *dir;            /* private temp dir: ca.crt, <i>.crt, <i>.key */
    char *ca_file;        /* dir/ca.crt */
    struct httpc *boot;   /* insecure: fetches the CA only */
    struct httpc *joiner; /* verifies the manager against the CA; no client certificate */
    struct hollow_node *nodes;
    int *queue; /* ring of identities waiting to join */
    int qhead, qlen;
    int joining;
    uv_timer_t join_timer; /* wakes the queue when its head may retry */
    char *managers[HOLLOW_MAX_MANAGERS];
    int nmanagers;
    uint64_t t0;              /* loop ms the heartbeat slots count from */
    struct hollow_exec *exec; /* the fake executor every session drives */

    struct hollow_stats st;
    bool started, failed, stopping;
    int pending; /* handles and clients still closing */
    void (*stop_cb)(void *data);
    void *stop_data;
};

/* ---- helpers ---- */

static int64_t now_ms(struct hollow *h)
{
    return (int64_t)uv_now(h->loop);
}

static void fail(struct hollow *h, const struct err *e)
{
    if (h->failed || h->stopping)
        return;
    h->failed = true;
    if (h->fatal)
        h->fatal(h->data, e);
}

/* Writes a small private file without fsync: the temp dir does not outlive the process. */
static int write_private(const char *path, const char *data, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return err_set(e, ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
        }
        off += (size_t)w;
    }
    close(fd);
    return 0;
}

static int add_manager(struct hollow *h, const char *addr)
{
    for (int i = 0; i < h->nmanagers; i++)
        if (!strcmp(h->managers[i], addr))
            return i;
    if (h->nmanagers == HOLLOW_MAX_MANAGERS)
        return -1;
    h->managers[h->nmanagers] = xstrdup(addr);
    return h->nmanagers++;
}

static void merge_managers(struct hollow *h, json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && json_string_value(v)[0])
            add_manager(h, json_string_value(v));
    }
}

/* Splits "IP:PORT" / "IP" / "[v6]:PORT" / bare v6 into the IP and a normalised "host:port"
 * for URLs (brackets for v6). */
static int parse_manager(const char *s, char *ip, size_t iplen, char **norm, struct err *e)
{
    char host[INET6_ADDRSTRLEN + 1];
    long port = 2377;
    const char *colon = NULL;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || (size_t)(end - s - 1) >= sizeof(host))
            return err_set(e, ERR_INVALID, "invalid manager address %s", s);
        snprintf(host, sizeof(host), "%.*s", (int)(end - s - 1), s + 1);
        if (end[1] == ':')
            colon = end + 1;
        else if (end[1])
            return err_set(e, ERR_INVALID, "invalid manager address %s", s);
    } else if ((colon = strchr(s, ':')) && strchr(colon + 1, ':')) {
        snprintf(host, sizeof(host), "%s", s);
        colon = NULL;
    } else {
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n >= sizeof(host))
            return err_set(e, ERR_INVALID, "invalid manager address %s", s);
        snprintf(host, sizeof(host), "%.*s", (int)n, s);
    }
    if (colon) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 1 || port > 65535)
            return err_set(e, ERR_INVALID, "invalid port in manager address %s", s);
    }
    unsigned char tmp[16];
    bool v6 = inet_pton(AF_INET6, host, tmp) == 1;
    if (!v6 && inet_pton(AF_INET, host, tmp) != 1)
        return err_set(e, ERR_INVALID, "the manager address must be IP:PORT, got %s", s);
    snprintf(ip, iplen, "%s", host);
    *norm = xasprintf(v6 ? "[%s]:%ld" : "%s:%ld", host, port);
    return 0;
}

/* The local address the kernel would use to reach ip (no packet is sent). */
static int route_source(const char *ip, char *out, size_t cap, struct err *e)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fam;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(2377);
        inet_pton(AF_INET6, ip, &a->sin6_addr);
        sl = sizeof(*a);
        fam = AF_INET6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(2377);
        inet_pton(AF_INET, ip, &a->sin_addr);
        sl = sizeof(*a);
        fam = AF_INET;
    }
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "socket: %s", strerror(errno));
    int rc = 0;
    struct sockaddr_storage local;
    socklen_t ll = sizeof(local);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 ||
        getsockname(fd, (struct sockaddr *)&local, &ll) < 0) {
        rc = err_set(e, ERR_INVALID, "no route to the manager %s (%s): give --advertise-addr", ip,
                     strerror(errno));
    } else if (fam == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&local)->sin_addr, out, (socklen_t)cap);
    } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&local)->sin6_addr, out, (socklen_t)cap);
    }
    close(fd);
    return rc;
}

/* The manager's message from an error answer, or `what`. Heap string. */
static char *answer_message(struct buf *body, const char *what)
{
    struct err e;
    struct msg_heartbeat_resp m = {0}; /* every error answer's shape: {"message"} */
    json_t *j = body && body->len ? msg_load(body->p, body->len, "answer", &e) : NULL;
    if (j && msg_heartbeat_resp_decode(j, &m, &e) < 0)
        m.message = NULL;
    char *s = xstrdup(m.message && m.message[0] ? m.message : what);
    msg_heartbeat_resp_release(&m);
    json_decref(j);
    return s;
}

/* A 200 answer decoded by kind (decode: msg_<kind>_decode); -ERR_INVALID with e. */
#define DECODE_ANSWER(kind, body, m, e)                                                            \
    ({                                                                                             \
        json_t *j_ = msg_load((body)->p, (body)->len, #kind, (e));                                 \
        int rc_ = j_ ? msg_##kind##_decode(j_, (m), (e)) : -ERR_INVALID;                           \
        json_decref(j_);                                                                           \
        rc_;                                                                                       \
    })

/* ---- heartbeats ---- */

static void beat(uv_timer_t *t);

/* Delay until identity n's next slot: offset idx/count of the period after t0. */
static uint64_t next_slot(struct hollow_node *n)
{
    struct hollow *h = n->h;
    int64_t period = h->st.period_ms > 0 ? h->st.period_ms : 5000;
    int64_t off = period * n->idx / h->count;
    int64_t pos = (now_ms(h) - (int64_t)h->t0) % period;
    int64_t d = off - pos;
    while (d <= 0)
        d += period;
    return (uint64_t)d;
}

static void schedule(struct hollow_node *n, uint64_t ms)
{
    if (!n->h->stopping)
        uv_timer_start(&n->timer, beat, ms, 0);
}

static void retry_later(struct hollow_node *n)
{
    uint32_t jitter;
    rand_bytes(&jitter, sizeof(jitter));
    schedule(n, HOLLOW_RETRY_MS + jitter % HOLLOW_RETRY_MS);
}

static void beat_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct hollow_node *n = data;
    struct hollow *h = n->h;
    n->call = NULL;
    struct err e2;
    struct msg_heartbeat_resp m;
    bool decoded = rc == 0 && DECODE_ANSWER(heartbeat_resp, body, &m, &e2) == 0;
    if (decoded && status == 200) {
        h->st.hb_ok++;
        if (m.heartbeat_ms > 0)
            h->st.period_ms = m.heartbeat_ms;
        merge_managers(h, m.managers);
        msg_heartbeat_resp_release(&m);
        schedule(n, next_slot(n));
        return;
    }
    if (decoded && status == 503) {
        int idx = m.leader && m.leader[0] ? add_manager(h, m.leader) : -1;
        if (idx >= 0 && idx != n->mgr) {
            msg_heartbeat_resp_release(&m);
            h->st.redirects++;
            n->mgr = idx;
            schedule(n, HOLLOW_REDIRECT_MS);
            return;
        }
    }
    if (decoded)
        msg_heartbeat_resp_release(&m);
    h->st.hb_errors++;
    if (rc < 0) {
        log_debug("hollow %d: heartbeat to %s failed: %s", n->idx, h->managers[n->mgr], e->msg);
    } else {
        char *why = answer_message(body, "unexpected answer");
        log_debug("hollow %d: heartbeat to %s: %ld %s", n->idx, h->managers[n->mgr], status, why);
        free(why);
    }
    n->mgr = (n->mgr + 1) % h->nmanagers;
    retry_later(n);
}

static void beat(uv_timer_t *t)
{
    struct hollow_node *n = t->data;
    struct hollow *h = n->h;
    char *url = xasprintf("https://%s/swarm-rpc/heartbeat", h->managers[n->mgr]);
    int64_t period = h->st.period_ms > 0 ? h->st.period_ms : 5000;
    n->call = httpc_post(n->client, url, h->beat_body, strlen(h->beat_body), (long)period, NULL,
                         beat_done, n);
    free(url);
}

/* ---- the agent sessions' calls to the leader ---- */

/* One call of an identity's session in flight; a 503 naming another manager as the leader
 * is followed (the identity moves there, as its heartbeats do) and the call sent again. */
struct hcall {
    struct hollow_node *n;
    agent_call_cb cb;
    void *arg;
    char *path, *body;
    struct httpc_call *hc;
    int redirects;
    struct hcall *prev, *next;
};

static void hcall_unlink(struct hcall *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->n->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void hcall_free(struct hcall *c)
{
    free(c->path);
    free(c->body);
    free(c);
}

static void hcall_send(struct hcall *c);

static void hcall_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct hcall *c = data;
    struct hollow_node *n = c->n;
    struct hollow *h = n->h;
    c->hc = NULL;
    json_t *j = rc == 0 && body->len ? json_loadb(body->p, body->len, 0, NULL) : NULL;
    if (rc == 0 && status == 503 && c->redirects < HOLLOW_CALL_REDIRECTS) {
        const char *leader = json_string_value(json_object_get(j, "Leader"));
        int idx = leader && leader[0] ? add_manager(h, leader) : -1;
        if (idx >= 0 && idx != n->mgr) {
            json_decref(j);
            h->st.redirects++;
            n->mgr = idx;
            c->redirects++;
            hcall_send(c);
            return;
        }
    }
    if (rc < 0)
        log_debug("hollow %d: %s to %s failed: %s", n->idx, c->path, h->managers[n->mgr], e->msg);
    hcall_unlink(c);
    c->cb(c->arg, rc == 0 ? (int)status : 0, j);
    json_decref(j);
    hcall_free(c);
}

static void hcall_send(struct hcall *c)
{
    struct hollow *h = c->n->h;
    char *url = xasprintf("https://%s%s", h->managers[c->n->mgr], c->path);
    long timeout =
        strstr(c->path, "/assignments") ? HOLLOW_POLL_TIMEOUT_MS : HOLLOW_CALL_TIMEOUT_MS;
    c->hc = httpc_post(c->n->client, url, c->body, strlen(c->body), timeout, NULL, hcall_done, c);
    free(url);
}

/* An agent_call_fn (ctx: the identity). */
static void leader_call(void *ctx, const char *path, json_t *body, agent_call_cb cb, void *arg)
{
    struct hollow_node *n = ctx;
    struct hcall *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->cb = cb;
    c->arg = arg;
    c->path = xstrdup(path);
    c->body = json_dumps(body, JSON_COMPACT);
    c->next = n->calls;
    if (c->next)
        c->next->prev = c;
    n->calls = c;
    hcall_send(c);
}

/* Closing the client cancels its calls without their callbacks: answer them (0) first. */
static void calls_fail_all(struct hollow_node *n)
{
    while (n->calls) {
        struct hcall *c = n->calls;
        hcall_unlink(c);
        httpc_cancel(c->hc);
        c->cb(c->arg, 0, NULL);
        hcall_free(c);
    }
}

/* ---- joins ---- */

static void pump_joins(struct hollow *h);

static void join_timer_fired(uv_timer_t *t)
{
    pump_joins(t->data);
}

static void enqueue(struct hollow *h, struct hollow_node *n, int64_t delay_ms)
{
    BUG_ON(h->qlen >= h->count);
    n->state = HN_WAITING;
    n->not_before = now_ms(h) + delay_ms;
    h->queue[(h->qhead + h->qlen) % h->count] = n->idx;
    h->qlen++;
}

static void join_failed(struct hollow_node *n, const char *why)
{
    struct hollow *h = n->h;
    free(n->key_pem);
    n->key_pem = NULL;
    h->st.join_errors++;
    log_warn("hollow %d: join failed: %s", n->idx, why);
    enqueue(h, n, HOLLOW_JOIN_RETRY_MS);
}

/* Identity n has its certificate: files for httpc, its own client, its first beat. */
static int joined(struct hollow_node *n, const char *cert, struct err *e)
{
    struct hollow *h = n->h;
    char *cpath = xasprintf("%s/%d.crt", h->dir, n->idx);
    char *kpath = xasprintf("%s/%d.key", h->dir, n->idx);
    int rc = write_private(kpath, n->key_pem, e);
    if (!rc)
        rc = write_private(cpath, cert, e);
    if (!rc) {
        struct httpc_tls tls = {.ca_file = h->ca_file,
                                .cert_file = cpath,
                                .key_file = kpath,
                                .skip_host_check = true,
                                .tls13 = true};
        n->client = httpc_new(h->loop, &tls);
        uv_timer_init(h->loop, &n->timer);
        n->timer.data = n;
        n->state = HN_JOINED;
        if (++h->st.joined == h->count)
            h->st.all_joined_ms = now_ms(h) - (int64_t)h->t0;
        schedule(n, next_slot(n));
        n->ctrs = hollow_ctrs_new(h->exec);
        n->sess = agent_session_new(h->loop, leader_call, n, &hollow_exec_ops, n->ctrs);
        agent_session_start(n->sess);
    }
    free(cpath);
    free(kpath);
    return rc;
}

static void join_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct hollow_node *n = data;
    struct hollow *h = n->h;
    struct err e2;
    n->call = NULL;
    h->joining--;
    if (rc < 0) {
        join_failed(n, e->msg);
        pump_joins(h);
        return;
    }
    if (status != 200) {
        char *m = answer_message(body, "the manager refused the join");
        if (status >= 400 && status < 500) {
            /* The same request would be refused for every identity. */
            h->st.join_errors++;
            err_set(&e2, ERR_INVALID, "%s", m);
            free(m);
            fail(h, &e2);
            return;
        }
        join_failed(n, m);
        free(m);
        pump_joins(h);
        return;
    }
    struct msg_join_resp m;
    struct ca_identity ident;
    rc = DECODE_ANSWER(join_resp, body, &m, &e2);
    if (!rc)
        rc = ca_verify(h->root_pem, m.cert, &ident, &e2);
    if (!rc && (strcmp(ident.cn, m.node_id) || strcmp(ident.ou, "swarm-worker")))
        rc = err_set(&e2, ERR_INTERNAL, "the manager issued a certificate for %s/%s, not a worker",
                     ident.cn, ident.ou);
    if (!rc) {
        if (m.heartbeat_ms > 0)
            h->st.period_ms = m.heartbeat_ms;
        merge_managers(h, m.managers);
        snprintf(n->id, sizeof(n->id), "%s", m.node_id);
        rc = joined(n, m.cert, &e2);
    }
    msg_join_resp_release(&m);
    free(n->key_pem);
    n->key_pem = NULL;
    if (rc) {
        h->st.join_errors++;
        fail(h, &e2);
        return;
    }
    pump_joins(h);
}

static void join_start(struct hollow *h, struct hollow_node *n)
{
    struct err e;
    char *csr = NULL;
    if (ca_key_csr_new(&n->key_pem, &csr, &e) < 0) {
        fail(h, &e);
        return;
    }
    char *host = xasprintf("%s%d", h->prefix, n->idx);
    json_t *labels = json_pack("{s:s}", "hollow", "true");
    struct msg_join_req m = {.token = h->token,
                             .csr = csr,
                             .addr = h->advertise,
                             .availability = "active",
                             .desc = {.hostname = host,
                                      .arch = h->machine,
                                      .os = "linux",
                                      .has_resources = true,
                                      .nano_cpus = HOLLOW_NANO_CPUS,
                                      .memory_bytes = HOLLOW_MEMORY,
                                      .engine_version = HOLLOW_ENGINE_VERSION,
                                      .engine_labels = labels}};
    json_t *req = msg_join_req_encode(&m);
    json_decref(labels);
    free(host);
    free(csr);
    char *s = msg_dump(req);
    json_decref(req);
    char *url = xasprintf("https://%s/swarm-rpc/join", h->manager);
    n->state = HN_JOINING;
    h->joining++;
    n->call = httpc_post(h->joiner, url, s, strlen(s), HOLLOW_JOIN_TIMEOUT_MS, NULL, join_done, n);
    free(url);
    free(s);
}

static void pump_joins(struct hollow *h)
{
    while (!h->failed && !h->stopping && h->qlen && h->joining < h->parallel) {
        struct hollow_node *n = &h->nodes[h->queue[h->qhead]];
        int64_t wait = n->not_before - now_ms(h);
        if (wait > 0) {
            uv_timer_start(&h->join_timer, join_timer_fired, (uint64_t)wait, 0);
            return;
        }
        h->qhead = (h->qhead + 1) % h->count;
        h->qlen--;
        join_start(h, n);
    }
}

/* ---- the CA ---- */

static void got_ca(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct hollow *h = data;
    struct err e2;
    if (rc < 0) {
        err_set(&e2, ERR_UNAVAILABLE, "could not reach the manager at %s: %s", h->manager, e->msg);
        fail(h, &e2);
        return;
    }
    struct msg_ca_resp ca;
    if (status != 200 || DECODE_ANSWER(ca_resp, body, &ca, &e2) < 0) {
        char *m = answer_message(body, "the manager did not give its CA certificate");
        err_set(&e2, ERR_UNAVAILABLE, "%s", m);
        free(m);
        fail(h, &e2);
        return;
    }
    const char *root = ca.root_ca;
    char *digest = ca_digest(root);
    bool match = !strcmp(digest, h->digest);
    free(digest);
    if (!match) {
        msg_ca_resp_release(&ca);
        err_set(&e2, ERR_INVALID, "remote CA does not match fingerprint. Expected: %s", h->digest);
        fail(h, &e2);
        return;
    }
    h->root_pem = xstrdup(root);
    /* like a real node's session: report what it trusts and who issued its certificate */
    char *subj = NULL, *pub = NULL;
    struct msg_heartbeat_req beat = {0};
    if (ca_tls_info(root, &subj, &pub, &e2) == 0)
        beat = (struct msg_heartbeat_req){.has_tls = true, .tls = {root, subj, pub}};
    json_t *bj = msg_heartbeat_req_encode(&beat);
    h->beat_body = msg_dump(bj);
    json_decref(bj);
    free(subj);
    free(pub);
    msg_ca_resp_release(&ca);
    if (write_private(h->ca_file, h->root_pem, &e2) < 0) {
        fail(h, &e2);
        return;
    }
    httpc_close(h->boot, NULL, NULL);
    h->boot = NULL;
    struct httpc_tls tls = {.ca_file = h->ca_file, .skip_host_check = true, .tls13 = true};
    h->joiner = httpc_new(h->loop, &tls);
    log_info("hollow: CA of %s matches the token; joining %d workers", h->manager, h->count);
    pump_joins(h);
}

/* ---- public ---- */

struct hollow *hollow_new(uv_loop_t *loop, const struct hollow_opts *o, struct err *e)
{
    char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1], ip[64];
    char *manager = NULL, adv[64];
    if (o->count < 1 || o->count > 1000000) {
        err_set(e, ERR_INVALID, "--count must be between 1 and 1000000");
        return NULL;
    }
    if (!o->join_token || ca_token_parse(o->join_token, digest, secret, e) < 0) {
        if (!o->join_token)
            err_set(e, ERR_INVALID, "a join token is required (--join-token)");
        return NULL;
    }
    if (!o->manager || !o->manager[0]) {
        err_set(e, ERR_INVALID, "a manager address is required (--manager IP:PORT)");
        return NULL;
    }
    if (parse_manager(o->manager, ip, sizeof(ip), &manager, e) < 0)
        return NULL;
    if (o->advertise_addr && o->advertise_addr[0]) {
        unsigned char tmp[16];
        if (inet_pton(AF_INET, o->advertise_addr, tmp) != 1 &&
            inet_pton(AF_INET6, o->advertise_addr, tmp) != 1) {
            free(manager);
            err_set(e, ERR_INVALID, "--advertise-addr must be an IP address");
            return NULL;
        }
        snprintf(adv, sizeof(adv), "%s", o->advertise_addr);
    } else if (route_source(ip, adv, sizeof(adv), e) < 0) {
        free(manager);
        return NULL;
    }
    struct hollow *h = xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->count = o->count;
    h->parallel = o->join_parallel > 0 ? o->join_parallel : 32;
    h->token = xstrdup(o->join_token);
    h->manager = manager;
    h->advertise = xstrdup(adv);
    h->prefix = xstrdup(o->hostname_prefix ? o->hostname_prefix : "hollow-");
    h->tmp_parent = xstrdup(o->tmp_parent ? o->tmp_parent : "/tmp");
    snprintf(h->digest, sizeof(h->digest), "%s", digest);
    struct utsname u;
    snprintf(h->machine, sizeof(h->machine), "%s", uname(&u) == 0 ? u.machine : "x86_64");
    h->fatal = o->fatal;
    h->data = o->data;
    h->st.count = o->count;
    add_manager(h, manager);
    h->nodes = xcalloc((size_t)h->count, sizeof(*h->nodes));
    h->queue = xcalloc((size_t)h->count, sizeof(*h->queue));
    for (int i = 0; i < h->count; i++) {
        h->nodes[i].h = h;
        h->nodes[i].idx = i;
        h->nodes[i].state = HN_WAITING;
        h->queue[i] = i;
    }
    h->qlen = h->count;
    uv_timer_init(loop, &h->join_timer);
    h->join_timer.data = h;
    h->exec = hollow_exec_new(loop, o->task_start_ms, o->task_op_ms);
    return h;
}

void hollow_start(struct hollow *h)
{
    struct err e;
    BUG_ON(h->started);
    h->started = true;
    h->t0 = uv_now(h->loop);
    char *tmpl = xasprintf("%s/shoal-hollow.XXXXXX", h->tmp_parent);
    if (!mkdtemp(tmpl)) {
        err_set(&e, ERR_INTERNAL, "cannot create a temp dir in %s: %s", h->tmp_parent,
                strerror(errno));
        free(tmpl);
        fail(h, &e);
        return;
    }
    h->dir = tmpl;
    h->ca_file = xasprintf("%s/ca.crt", h->dir);
    struct httpc_tls tls = {.insecure = true, .tls13 = true};
    h->boot = httpc_new(h->loop, &tls);
    char *url = xasprintf("https://%s/swarm-rpc/ca", h->manager);
    httpc_post(h->boot, url, "{}", 2, 5000, NULL, got_ca, h);
    free(url);
}

void hollow_get_stats(const struct hollow *h, struct hollow_stats *out)
{
    *out = h->st;
    out->tasks = 0;
    for (int i = 0; i < h->count; i++)
        if (h->nodes[i].sess)
            out->tasks += agent_session_tasks(h->nodes[i].sess);
    out->running = h->exec ? hollow_exec_running(h->exec) : 0;
}

const char *hollow_node_id(const struct hollow *h, int i)
{
    if (i < 0 || i >= h->count || h->nodes[i].state != HN_JOINED)
        return NULL;
    return h->nodes[i].id;
}

static void finish_stop(struct hollow *h)
{
    if (h->pending > 0)
        return;
    struct err e;
    if (h->dir && dir_remove_all(h->dir, &e) < 0)
        log_warn("hollow: %s", e.msg);
    void (*cb)(void *) = h->stop_cb;
    void *data = h->stop_data;
    for (int i = 0; i < h->count; i++)
        free(h->nodes[i].key_pem);
    for (int i = 0; i < h->nmanagers; i++)
        free(h->managers[i]);
    free(h->nodes);
    free(h->queue);
    free(h->root_pem);
    free(h->beat_body);
    free(h->dir);
    free(h->ca_file);
    free(h->token);
    free(h->manager);
    free(h->advertise);
    free(h->prefix);
    free(h->tmp_parent);
    free(h);
    if (cb)
        cb(data);
}

static void closed_one(void *data)
{
    struct hollow *h = data;
    h->pending--;
    finish_stop(h);
}

static void join_timer_closed(uv_handle_t *hd)
{
    closed_one(hd->data);
}

static void node_timer_closed(uv_handle_t *hd)
{
    closed_one(((struct hollow_node *)hd->data)->h);
}

void hollow_stop(struct hollow *h, void (*cb)(void *data), void *data)
{
    BUG_ON(h->stopping);
    h->stopping = true;
    h->stop_cb = cb;
    h->stop_data = data;
    h->pending = 1; /* held until every close below is started */
    h->pending++;
    uv_close((uv_handle_t *)&h->join_timer, join_timer_closed);
    struct httpc *clients[] = {h->boot, h->joiner};
    for (size_t i = 0; i < ARRAY_SIZE(clients); i++) {
        if (clients[i]) {
            h->pending++;
            httpc_close(clients[i], closed_one, h);
        }
    }
    h->boot = h->joiner = NULL;
    for (int i = 0; i < h->count; i++) {
        struct hollow_node *n = &h->nodes[i];
        if (n->state != HN_JOINED)
            continue;
        h->pending += 2;
        uv_close((uv_handle_t *)&n->timer, node_timer_closed);
        /* the session goes first: the answers below then go nowhere and free it */
        agent_session_free(n->sess);
        n->sess = NULL;
        calls_fail_all(n);
        httpc_close(n->client, closed_one, h);
        n->client = NULL;
        n->call = NULL;
    }
    /* answers the operations still queued: the dead sessions then free themselves */
    h->pending++;
    hollow_exec_free(h->exec, closed_one, h);
    h->exec = NULL;
    for (int i = 0; i < h->count; i++) {
        hollow_ctrs_free(h->nodes[i].ctrs);
        h->nodes[i].ctrs = NULL;
    }
    closed_one(h);
}
