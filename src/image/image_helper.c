/* image_helper.c — archive reading out of the daemon's process: `shoal image-helper load|import`
 * (the child side) and image_job (the loop side that runs it).
 *
 * The daemon never reads archives itself: libarchive and its libraries would cost its idle
 * memory, and a hostile archive's decompression would run in the process that holds the
 * swarm's keys. It spawns itself (/proc/self/exe image-helper ...) with uv_spawn, writes the
 * request body to the child's stdin, relays the child's stdout lines (Docker's JSON messages:
 * {"stream":"Loaded image: busybox:latest\n"}, {"status":"sha256:..."} or
 * {"errorDetail":{"message":...},"error":...}) and, once it has exited, re-reads the store's
 * index (image_store_reload). The caller runs one job at a time per store and no other
 * change to the store meanwhile: the child writes the same files.
 *
 * Thread: image_job runs on the loop thread; the child is single-threaded and blocking. */
#include "image_int.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the child ---- */

static void emit(json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!s)
        return;
    fputs(s, stdout);
    fputs("\r\n", stdout); /* dockerd's streamformatter ends each message so */
    fflush(stdout);
    free(s);
}

static void emit_error(const char *msg)
{
    emit(json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
}

int image_helper_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"root", required_argument, NULL, 'r'},
        {"ref", required_argument, NULL, 't'},
        {"comment", required_argument, NULL, 'm'},
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *root = NULL, *ref = NULL, *comment = NULL, *config = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 't':
            ref = optarg;
            break;
        case 'm':
            comment = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        default:
            return 2;
        }
    }
    const char *op = optind < argc ? argv[optind] : NULL;
    if (!root || !op || (strcmp(op, "load") && strcmp(op, "import"))) {
        fprintf(stderr, "usage: shoal image-helper --root DIR [--ref R] [--comment C] "
                        "[--config JSON] load|import < archive\n");
        return 2;
    }
    struct err e = {0};
    struct image_store *s = image_store_open(root, &e);
    int rc = s ? 0 : -e.kind;
    if (s && !strcmp(op, "load")) {
        struct buf out = BUF_INIT;
        rc = image_load(s, 0, &out, &e);
        for (char *save = NULL, *l = out.p ? strtok_r(out.p, "\n", &save) : NULL; rc == 0 && l;
             l = strtok_r(NULL, "\n", &save)) {
            char *line = xasprintf("%s\n", l);
            emit(json_pack("{s:s}", "stream", line));
            free(line);
        }
        buf_release(&out);
    } else if (s) {
        json_t *cfg = config ? json_loads(config, 0, NULL) : NULL;
        char id[72];
        rc = image_import(s, 0, ref, comment, cfg, id, &e);
        if (rc == 0)
            emit(json_pack("{s:s}", "status", id));
        json_decref(cfg);
    }
    if (rc < 0)
        emit_error(e.msg);
    image_store_free(s);
    return rc < 0 ? 1 : 0;
}

/* ---- the loop side ---- */

struct image_job {
    uv_process_t proc;
    uv_pipe_t in, out;
    uv_write_t wr;
    uv_shutdown_t sd;
    struct buf line;
    int open_handles;
    bool exited, eof, failed;
    int64_t status;
    int term_sig;
    image_job_line_cb on_line;
    image_job_done_cb done;
    void *arg;
};

static void job_maybe_done(struct image_job *j)
{
    if (j->open_handles > 0)
        return;
    if (j->failed) {
        buf_release(&j->line);
        free(j);
        return;
    }
    struct err e = {0};
    int rc = 0;
    if (j->term_sig)
        rc = err_set(&e, ERR_INTERNAL, "image helper killed by signal %d", j->term_sig);
    else if (j->status)
        rc = err_set(&e, ERR_INVALID, "image helper failed (exit %lld)", (long long)j->status);
    if (j->line.len && j->on_line) /* a last line without its newline */
        j->on_line(j->arg, j->line.p, j->line.len);
    buf_release(&j->line);
    image_job_done_cb done = j->done;
    void *arg = j->arg;
    free(j);
    done(arg, rc, rc < 0 ? &e : NULL);
}

static void job_closed(uv_handle_t *h)
{
    struct image_job *j = h->data;
    j->open_handles--;
    job_maybe_done(j);
}

static void job_exit(uv_process_t *p, int64_t status, int sig)
{
    struct image_job *j = p->data;
    j->exited = true;
    j->status = status;
    j->term_sig = sig;
    uv_close((uv_handle_t *)p, job_closed);
}

static void job_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    b->base = xmalloc(16384);
    b->len = 16384;
}

static void job_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct image_job *j = s->data;
    if (n > 0) {
        buf_add(&j->line, b->base, (size_t)n);
        char *nl;
        while ((nl = memchr(j->line.p, '\n', j->line.len))) {
            size_t len = (size_t)(nl - j->line.p) + 1;
            if (j->on_line)
                j->on_line(j->arg, j->line.p, len);
            buf_consume(&j->line, len);
        }
    } else if (n < 0) {
        j->eof = true;
        uv_read_stop(s);
        uv_close((uv_handle_t *)s, job_closed);
    }
    free(b->base);
}

static void job_shut(uv_shutdown_t *r, int status)
{
    struct image_job *j = r->data;
    uv_close((uv_handle_t *)&j->in, job_closed);
}

static void job_written(uv_write_t *w, int status)
{
    struct image_job *j = w->data;
    /* EOF on the child's stdin; a child that quit early (bad archive) gives EPIPE here */
    if (status < 0 || uv_shutdown(&j->sd, (uv_stream_t *)&j->in, job_shut) < 0)
        uv_close((uv_handle_t *)&j->in, job_closed);
}

void image_job_kill(struct image_job *j)
{
    if (!j->exited)
        uv_process_kill(&j->proc, SIGKILL);
}

struct image_job *image_job_start(uv_loop_t *loop, char *const *argv, const void *input, size_t len,
                                  image_job_line_cb on_line, image_job_done_cb done, void *arg,
                                  struct err *e)
{
    struct image_job *j = xcalloc(1, sizeof(*j));
    j->on_line = on_line;
    j->done = done;
    j->arg = arg;
    uv_pipe_init(loop, &j->in, 0);
    uv_pipe_init(loop, &j->out, 0);
    j->in.data = j->out.data = j->proc.data = j->wr.data = j->sd.data = j;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t po = {
        .exit_cb = job_exit,
        .file = argv[0],
        .args = (char **)argv,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int r = uv_spawn(loop, &j->proc, &po);
    j->open_handles = 3; /* process, stdin, stdout */
    if (r < 0) {
        /* the handles were initialised: close them; j goes with the last, without done */
        j->failed = true;
        uv_close((uv_handle_t *)&j->in, job_closed);
        uv_close((uv_handle_t *)&j->out, job_closed);
        uv_close((uv_handle_t *)&j->proc, job_closed);
        err_set(e, ERR_INTERNAL, "cannot start the image helper %s: %s", argv[0], uv_strerror(r));
        return NULL;
    }
    uv_read_start((uv_stream_t *)&j->out, job_alloc, job_read);
    uv_buf_t b = uv_buf_init((char *)input, (unsigned)len);
    if (len == 0 || uv_write(&j->wr, (uv_stream_t *)&j->in, &b, 1, job_written) < 0)
        job_written(&j->wr, len == 0 ? 0 : -EPIPE);
    return j;
}
