/* state_etcd_proc.c — the etcd child: spawn it (uv_spawn), wait until it answers, check
 * its health while it runs, restart it with backoff when it dies, and stop it (SIGTERM,
 * SIGKILL after 5 s).
 *
 * Invariants: at most one child (st->run) at a time; st->proc_timer has one job at a time
 * (st->proc_mode); at most one health call in flight. The child stays in our process
 * group and is killed by PID; state_stop() always waits for its exit. etcd's stdout and
 * stderr go to cfg.log_file (or /dev/null); ETCD_* variables from our environment are
 * not passed on, so only our flags configure it. With TLS, etcd trusts cfg.ca_file alone on
 * both ports and requires client certificates on both (--client-cert-auth,
 * --peer-client-cert-auth); with cfg.crl_file it checks every new connection's certificate
 * against that file, which it reads again for each connection (etcd 3.4
 * pkg/transport/listener_tls.go, checkCRL: no cache, the CRL's signature is not checked, a
 * missing or unparsable file refuses the connection).
 * The child is started as `setpriv --pdeathsig KILL -- etcd ...` when setpriv exists:
 * setpriv sets PR_SET_PDEATHSIG and execs etcd (same PID), so the kernel kills etcd when
 * the thread that spawned it dies, SIGKILL included; an orphan etcd would hold the ports
 * and the data dir's lock against the next daemon. Without setpriv it is spawned directly.
 * Thread: the loop thread only (which is also why pdeathsig, tied to the spawning thread,
 * is right: the loop thread lives as long as the daemon). */
#include "state/state_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define PROC_POLL_MS 50
#define PROC_START_TIMEOUT_MS 20000
#define PROC_MONITOR_MS 1000
#define PROC_HURRY_MS 50 /* the monitor's period while someone waits on etcd's leader */
#define PROC_HURRY_AFTER_LOSS_MS 2000 /* ... and for this long after a check found none */
#define PROC_HEALTH_TIMEOUT_MS 2000
#define PROC_KILL_AFTER_MS 5000
#define PROC_BACKOFF_MIN_MS 100
#define PROC_BACKOFF_MAX_MS 5000
#define PROC_STABLE_MS 10000 /* up this long: the next crash restarts with minimal backoff */
#define PROC_SETPRIV "/usr/bin/setpriv"
#define PROC_HEARTBEAT_MS 50 /* a LAN; see state_config */
#define PROC_ELECTION_MS 500

enum { PROC_IDLE, PROC_POLL, PROC_MONITOR, PROC_RESPAWN };

struct state_etcd_run {
    uv_process_t proc;
    struct state *st;
};

static void proc_spawn(struct state *st);

/* ---- argv ---- */

static void argv_add(char ***argv, size_t *n, const char *a)
{
    *argv = xrealloc(*argv, (*n + 2) * sizeof(char *));
    (*argv)[(*n)++] = xstrdup(a);
    (*argv)[*n] = NULL;
}

static void argv_add2(char ***argv, size_t *n, const char *flag, const char *val)
{
    argv_add(argv, n, flag);
    argv_add(argv, n, val);
}

char **state_proc_argv(const struct state_config *cfg)
{
    char **argv = NULL;
    size_t n = 0;
    bool tls = cfg->ca_file != NULL;
    const char *scheme = tls ? "https" : "http";
    char *client = xasprintf("%s://127.0.0.1:%d", scheme, cfg->client_port);
    char *peer = state_peer_url(cfg);
    argv_add(&argv, &n, cfg->etcd_bin ? cfg->etcd_bin : "/usr/bin/etcd");
    argv_add2(&argv, &n, "--name", cfg->name);
    argv_add2(&argv, &n, "--data-dir", cfg->data_dir);
    argv_add2(&argv, &n, "--listen-client-urls", client);
    argv_add2(&argv, &n, "--advertise-client-urls", client);
    argv_add2(&argv, &n, "--listen-peer-urls", peer);
    argv_add2(&argv, &n, "--initial-advertise-peer-urls", peer);
    if (cfg->initial_cluster) {
        argv_add2(&argv, &n, "--initial-cluster", cfg->initial_cluster);
        argv_add2(&argv, &n, "--initial-cluster-state", "existing");
    } else {
        char *ic = xasprintf("%s=%s", cfg->name, peer);
        argv_add2(&argv, &n, "--initial-cluster", ic);
        argv_add2(&argv, &n, "--initial-cluster-state", "new");
        free(ic);
    }
    if (cfg->force_new_cluster)
        argv_add(&argv, &n, "--force-new-cluster");
    if (tls) {
        argv_add2(&argv, &n, "--cert-file", cfg->cert_file);
        argv_add2(&argv, &n, "--key-file", cfg->key_file);
        argv_add2(&argv, &n, "--trusted-ca-file", cfg->ca_file);
        argv_add(&argv, &n, "--client-cert-auth");
        argv_add2(&argv, &n, "--peer-cert-file", cfg->cert_file);
        argv_add2(&argv, &n, "--peer-key-file", cfg->key_file);
        argv_add2(&argv, &n, "--peer-trusted-ca-file", cfg->ca_file);
        argv_add(&argv, &n, "--peer-client-cert-auth");
        if (cfg->crl_file) {
            argv_add2(&argv, &n, "--client-crl-file", cfg->crl_file);
            argv_add2(&argv, &n, "--peer-crl-file", cfg->crl_file);
        }
    }
    /* Small footprint; store transactions batch many objects, so allow big txns. */
    argv_add2(&argv, &n, "--quota-backend-bytes", "2147483648");
    argv_add2(&argv, &n, "--snapshot-count", "10000");
    argv_add2(&argv, &n, "--auto-compaction-mode", "periodic");
    argv_add2(&argv, &n, "--auto-compaction-retention", "1h");
    argv_add2(&argv, &n, "--max-txn-ops", "4096");
    argv_add2(&argv, &n, "--max-request-bytes", "8388608");
    /* Raft timing; pre-vote keeps a member that was cut off (or restarted) from forcing an
     * election, with a higher term, on a healthy majority when it comes back. */
    char num[32];
    snprintf(num, sizeof(num), "%d", cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : PROC_HEARTBEAT_MS);
    argv_add2(&argv, &n, "--heartbeat-interval", num);
    snprintf(num, sizeof(num), "%d", cfg->election_ms > 0 ? cfg->election_ms : PROC_ELECTION_MS);
    argv_add2(&argv, &n, "--election-timeout", num);
    argv_add(&argv, &n, "--pre-vote");
    argv_add2(&argv, &n, "--logger", "zap");
    argv_add2(&argv, &n, "--log-level", "warn");
    argv_add2(&argv, &n, "--log-outputs", "stderr");
    free(client);
    free(peer);
    return argv;
}

void state_proc_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

/* Our environment minus ETCD_*: etcd refuses flags that an ETCD_ variable shadows. */
static char **child_env(void)
{
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (!str_has_prefix(*e, "ETCD_"))
            env[k++] = *e;
    env[k] = NULL;
    return env;
}

/* etcd logs JSON lines (zap): {"level":"fatal","msg":"...","error":"...",...}. */
static char *log_line_summary(const char *line, size_t n)
{
    json_t *j = json_loadb(line, n, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return xstrndup(line, n);
    }
    const char *level = json_string_value(json_object_get(j, "level"));
    const char *msg = json_string_value(json_object_get(j, "msg"));
    const char *error = json_string_value(json_object_get(j, "error"));
    char *out = NULL;
    if (level && msg && strcmp(level, "debug") && strcmp(level, "info"))
        out = error ? xasprintf("%s: %s", msg, error) : xstrdup(msg);
    json_decref(j);
    return out;
}

char *state_proc_log_tail(const struct state *st, size_t max)
{
    char *out = NULL;
    int fd = st->cfg.log_file ? open(st->cfg.log_file, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return xstrdup("");
    /* The last warning/error line (etcd's) or the last line of anything else. */
    struct stat sb;
    size_t win = 8192;
    char *tail = xcalloc(1, win + 1);
    ssize_t r = 0;
    if (fstat(fd, &sb) == 0) {
        off_t from = sb.st_size > (off_t)win ? sb.st_size - (off_t)win : 0;
        r = pread(fd, tail, win, from);
        if (r < 0)
            r = 0;
    }
    close(fd);
    size_t end = (size_t)r;
    while (!out && end > 0) {
        while (end > 0 && (tail[end - 1] == '\n' || tail[end - 1] == ' ' || tail[end - 1] == '\r'))
            end--;
        size_t begin = end;
        while (begin > 0 && tail[begin - 1] != '\n')
            begin--;
        if (end > begin)
            out = log_line_summary(tail + begin, end - begin);
        end = begin;
    }
    free(tail);
    if (!out)
        return xstrdup("");
    if (strlen(out) > max)
        out[max] = 0;
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return out;
}

/* True if the last 16 KB of etcd's log contain needle. */
static bool log_tail_has(const struct state *st, const char *needle)
{
    int fd = st->cfg.log_file ? open(st->cfg.log_file, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return false;
    struct stat sb;
    size_t win = 16384;
    char *tail = xcalloc(1, win + 1);
    ssize_t r = 0;
    if (fstat(fd, &sb) == 0) {
        off_t from = sb.st_size > (off_t)win ? sb.st_size - (off_t)win : 0;
        r = pread(fd, tail, win, from);
    }
    close(fd);
    bool found = r > 0 && memmem(tail, (size_t)r, needle, strlen(needle)) != NULL;
    free(tail);
    return found;
}

/* ---- health ---- */

static void timer_start(struct state *st, int mode, uint64_t ms);
static uint64_t monitor_period(const struct state *st);

/* An answer counts as healthy when it is a status document with a header; in a
 * multi-member cluster the member must also know a leader. Records the leader's and the
 * local member's IDs. */
static int parse_status(struct state *st, long status, struct buf *body, bool *answered,
                        struct err *e)
{
    st->etcd_leader = 0;
    if (status != 200)
        return err_set(e, ERR_UNAVAILABLE, "etcd answered HTTP %ld", status);
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL);
    if (!j || !json_is_object(json_object_get(j, "header"))) {
        json_decref(j);
        return err_set(e, ERR_UNAVAILABLE, "etcd answered an unexpected status document");
    }
    const char *leader = json_string_value(json_object_get(j, "leader"));
    const char *member =
        json_string_value(json_object_get(json_object_get(j, "header"), "member_id"));
    int rc = 0;
    *answered = true;
    if (member)
        st->etcd_member = strtoull(member, NULL, 10);
    if (leader)
        st->etcd_leader = strtoull(leader, NULL, 10);
    int64_t term = state_json_int64(json_object_get(j, "raftTerm"));
    if (term > st->etcd_term)
        st->etcd_term = term;
    if (!st->etcd_leader)
        rc = err_set(e, ERR_UNAVAILABLE, "etcd has no leader (no quorum?)");
    json_decref(j);
    return rc;
}

static void on_health_done(void *data, int rc, long status, struct buf *body, struct err *e)
{
    struct state *st = data;
    struct err pe = {0};
    bool answered = false;
    st->health_call = NULL;
    if (rc == 0)
        rc = parse_status(st, status, body, &answered, &pe);
    else {
        pe = *e;
        st->etcd_leader = 0;
    }
    if (st->proc_stopping || !st->run)
        return;
    if (answered)
        state_client_etcd_status(st);
    if (st->proc_stopping || !st->run)
        return;
    if (st->proc_mode == PROC_POLL) {
        if (rc == 0) {
            st->ever_up = true;
            st->up_since = uv_now(st->loop);
            st->proc_mode = PROC_IDLE;
            uv_timer_stop(&st->proc_timer);
            state_client_etcd_up(st);
            if (!st->proc_stopping && st->run && st->proc_mode == PROC_IDLE)
                timer_start(st, PROC_MONITOR, monitor_period(st));
            return;
        }
        if (answered && st->ever_up) {
            /* Running but without quorum: killing it would not help; wait for a leader. */
            state_client_etcd_down(st, pe.msg, false);
            timer_start(st, PROC_MONITOR, monitor_period(st));
            return;
        }
        if (uv_now(st->loop) >= st->health_deadline) {
            struct err te = {0};
            char *tail = state_proc_log_tail(st, 300);
            err_set(&te, ERR_UNAVAILABLE, "etcd did not answer within %g s (%s)%s%s",
                    (double)st->start_timeout_ms / 1000, pe.msg, tail[0] ? "; etcd log: " : "",
                    tail);
            free(tail);
            /* SIGKILL: the exit callback restarts it (or the state was never up). */
            uv_process_kill(&st->run->proc, SIGKILL);
            st->proc_mode = PROC_IDLE;
            uv_timer_stop(&st->proc_timer);
            if (!st->ever_up)
                state_client_start_failed(st, &te);
            else
                state_client_etcd_down(st, te.msg, false);
            return;
        }
        timer_start(st, PROC_POLL, PROC_POLL_MS);
        return;
    }
    if (st->proc_mode == PROC_MONITOR) {
        if (rc == 0 && !st->available) {
            state_client_etcd_up(st);
        } else if (rc < 0 && st->available) {
            /* most often an etcd election: notice its end within 50 ms, not a second */
            st->hurry_until = uv_now(st->loop) + PROC_HURRY_AFTER_LOSS_MS;
            state_client_etcd_down(st, pe.msg, false);
        }
        if (!st->proc_stopping && st->run && st->proc_mode == PROC_MONITOR)
            timer_start(st, PROC_MONITOR, monitor_period(st));
    }
}

/* Polls every PROC_HURRY_MS until st->hurry_until, else every PROC_MONITOR_MS. */
static uint64_t monitor_period(const struct state *st)
{
    return uv_now(st->loop) < st->hurry_until ? PROC_HURRY_MS : PROC_MONITOR_MS;
}

void state_proc_hurry(struct state *st, uint64_t for_ms)
{
    uint64_t now = uv_now(st->loop);
    if (now + for_ms > st->hurry_until)
        st->hurry_until = now + for_ms;
    /* The next check comes within PROC_HURRY_MS (the one in flight answers first). */
    if (st->proc_mode == PROC_MONITOR && !st->health_call &&
        uv_timer_get_due_in(&st->proc_timer) > PROC_HURRY_MS)
        timer_start(st, PROC_MONITOR, PROC_HURRY_MS);
}

static void health_check(struct state *st, long timeout_ms)
{
    if (st->health_call)
        return;
    char *url = xasprintf("%s/v3/maintenance/status", st->client_url);
    st->health_call = httpc_post(st->ctl_curl, url, "{}", 2, timeout_ms, NULL, on_health_done, st);
    free(url);
}

static void on_proc_timer(uv_timer_t *t)
{
    struct state *st = t->data;
    switch (st->proc_mode) {
    case PROC_POLL:
        health_check(st, 1000);
        break;
    case PROC_MONITOR:
        health_check(st, PROC_HEALTH_TIMEOUT_MS);
        break;
    case PROC_RESPAWN:
        st->proc_mode = PROC_IDLE;
        proc_spawn(st);
        break;
    default:
        break;
    }
}

static void timer_start(struct state *st, int mode, uint64_t ms)
{
    st->proc_mode = mode;
    uv_timer_start(&st->proc_timer, on_proc_timer, ms, 0);
}

/* ---- process lifecycle ---- */

static void run_closed(uv_handle_t *h)
{
    struct state_etcd_run *run = h->data;
    struct state *st = run->st;
    free(run);
    state_client_handle_closed(st);
}

static void on_etcd_exit(uv_process_t *p, int64_t status, int term_signal)
{
    struct state_etcd_run *run = p->data;
    struct state *st = run->st;
    st->pending_closes++;
    uv_close((uv_handle_t *)p, run_closed);
    st->run = NULL;
    st->etcd_leader = 0;
    uv_timer_stop(&st->kill_timer);
    httpc_cancel(st->health_call);
    st->health_call = NULL;
    uv_timer_stop(&st->proc_timer);
    st->proc_mode = PROC_IDLE;
    /* Also while state_stop() waits for election revokes: no restart when stopping. */
    if (st->proc_stopping || st->stopping) {
        state_client_etcd_stopped(st);
        return;
    }
    char how[64];
    if (term_signal)
        snprintf(how, sizeof(how), "was killed by signal %d", term_signal);
    else
        snprintf(how, sizeof(how), "exited with status %lld", (long long)status);
    if (!st->ever_up) {
        struct err e = {0};
        char *tail = state_proc_log_tail(st, 300);
        err_set(&e, ERR_UNAVAILABLE, "etcd %s during start-up%s%s", how,
                tail[0] ? "; etcd log: " : "", tail);
        free(tail);
        state_client_start_failed(st, &e);
        return;
    }
    /* Removed from the cluster (member remove): a restart would only fail the same way. */
    if (log_tail_has(st, "data-dir used by this member must be removed")) {
        log_warn("state: etcd %s: this member was removed from the etcd cluster", how);
        state_client_etcd_down(st, "this member was removed from the etcd cluster", true);
        return;
    }
    if (uv_now(st->loop) - st->up_since >= PROC_STABLE_MS)
        st->backoff_ms = PROC_BACKOFF_MIN_MS;
    char *reason = xasprintf("etcd %s; restarting", how);
    log_warn("state: %s in %lld ms", reason, (long long)st->backoff_ms);
    state_client_etcd_down(st, reason, true);
    free(reason);
    timer_start(st, PROC_RESPAWN, (uint64_t)st->backoff_ms);
    st->backoff_ms *= 2;
    if (st->backoff_ms > PROC_BACKOFF_MAX_MS)
        st->backoff_ms = PROC_BACKOFF_MAX_MS;
}

static int do_spawn(struct state *st, struct err *e)
{
    if (dir_make(st->cfg.data_dir, 0700, e) < 0)
        return err_wrap(e, "etcd data dir");
    const char *log = st->cfg.log_file ? st->cfg.log_file : "/dev/null";
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(e, ERR_UNAVAILABLE, "cannot open etcd log %s: %s", log, strerror(errno));
    char **argv = state_proc_argv(&st->cfg);
    /* Through setpriv, a missing etcd would only show as setpriv's exit status. */
    if (access(argv[0], X_OK) != 0) {
        int err = errno;
        close(fd);
        state_proc_argv_free(argv);
        return err_set(e, ERR_UNAVAILABLE, "cannot start etcd (%s): %s",
                       st->cfg.etcd_bin ? st->cfg.etcd_bin : "/usr/bin/etcd", uv_strerror(-err));
    }
    if (access(PROC_SETPRIV, X_OK) == 0) {
        /* setpriv --pdeathsig KILL -- etcd ... (argv is NULL-terminated heap strings) */
        const char *pre[] = {PROC_SETPRIV, "--pdeathsig", "KILL", "--"};
        size_t n = 0;
        while (argv[n])
            n++;
        char **wrapped = xcalloc(n + ARRAY_SIZE(pre) + 1, sizeof(char *));
        for (size_t i = 0; i < ARRAY_SIZE(pre); i++)
            wrapped[i] = xstrdup(pre[i]);
        memcpy(wrapped + ARRAY_SIZE(pre), argv, (n + 1) * sizeof(char *));
        free(argv);
        argv = wrapped;
    }
    char **env = child_env();
    struct state_etcd_run *run = xcalloc(1, sizeof(*run));
    run->st = st;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fd},
        {.flags = UV_INHERIT_FD, .data.fd = fd},
    };
    uv_process_options_t opt = {
        .exit_cb = on_etcd_exit,
        .file = argv[0],
        .args = argv,
        .env = env,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int r = uv_spawn(st->loop, &run->proc, &opt);
    close(fd);
    int rc = 0;
    if (r < 0) {
        rc = err_set(e, ERR_UNAVAILABLE, "cannot start etcd (%s): %s", argv[0], uv_strerror(r));
        /* A failed uv_spawn still initialised the handle: it must be closed. */
        run->proc.data = run;
        st->pending_closes++;
        uv_close((uv_handle_t *)&run->proc, run_closed);
    } else {
        run->proc.data = run;
        st->run = run;
        log_debug("state: etcd started, pid %d, client %s", run->proc.pid, st->client_url);
    }
    free(env);
    state_proc_argv_free(argv);
    return rc;
}

static void proc_spawn(struct state *st)
{
    struct err e = {0};
    if (do_spawn(st, &e) < 0) {
        if (!st->ever_up) {
            state_client_start_failed(st, &e);
            return;
        }
        log_warn("state: %s", e.msg);
        state_client_etcd_down(st, e.msg, true);
        timer_start(st, PROC_RESPAWN, (uint64_t)st->backoff_ms);
        st->backoff_ms =
            st->backoff_ms * 2 > PROC_BACKOFF_MAX_MS ? PROC_BACKOFF_MAX_MS : st->backoff_ms * 2;
        return;
    }
    /* --force-new-cluster rewrites membership: only on the first spawn. */
    st->cfg.force_new_cluster = false;
    st->health_deadline = uv_now(st->loop) + st->start_timeout_ms;
    timer_start(st, PROC_POLL, PROC_POLL_MS);
}

void state_proc_start(struct state *st)
{
    st->proc_timer.data = st;
    st->kill_timer.data = st;
    st->backoff_ms = PROC_BACKOFF_MIN_MS;
    if (!st->start_timeout_ms)
        st->start_timeout_ms = PROC_START_TIMEOUT_MS;
    proc_spawn(st);
}

static void on_kill_timer(uv_timer_t *t)
{
    struct state *st = t->data;
    if (st->run) {
        log_warn("state: etcd did not stop within %d s; killing it", PROC_KILL_AFTER_MS / 1000);
        uv_process_kill(&st->run->proc, SIGKILL);
    }
}

void state_proc_stop(struct state *st)
{
    st->proc_stopping = true;
    uv_timer_stop(&st->proc_timer);
    st->proc_mode = PROC_IDLE;
    httpc_cancel(st->health_call);
    st->health_call = NULL;
    if (!st->run) {
        state_client_etcd_stopped(st);
        return;
    }
    uv_process_kill(&st->run->proc, SIGTERM);
    uv_timer_start(&st->kill_timer, on_kill_timer, PROC_KILL_AFTER_MS, 0);
}

int state_etcd_pid(const struct state *st)
{
    return st && st->run ? st->run->proc.pid : 0;
}

bool state_has_leader(const struct state *st)
{
    return st && st->run && !st->stopping && st->etcd_leader != 0;
}

char *state_peer_url(const struct state_config *cfg)
{
    const char *host = cfg->peer_host ? cfg->peer_host : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    return xasprintf("%s://%s%s%s:%d", cfg->ca_file ? "https" : "http", v6 ? "[" : "", host,
                     v6 ? "]" : "", cfg->peer_port);
}
