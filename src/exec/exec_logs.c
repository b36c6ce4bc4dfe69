/* exec_logs.c — container logs: conmon's k8s-file lines turned into Docker's multiplexed
 * (stdcopy) stream, or into the raw stream of a TTY container (no headers; the terminal's
 * "\r\n" kept: conmon splits at "\n" and leaves the "\r" in the text), and a follower for
 * `logs -f`.
 *
 * k8s-file: "<time RFC3339Nano with offset> <stdout|stderr> <F|P> <text>\n"; F ends a line
 * (the newline is implied), P is a chunk of a longer line. The converter is pure and works on
 * whole messages: a message is a run of P lines plus the F that ends it, emitted as one frame
 * whose payload ends in "\n" (the reassembled line), stamped with the first chunk's time.
 * Docker's own reader applies tail first, then since/until and the stream choice; so does
 * this one. The follower polls the file with a 100 ms timer (one fstat per tick; conmon
 * truncates in place when the log reaches its size cap, seen as a size below our offset). */
#include "exec/exec_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void exec_logs_time_fixed(int64_t ns, char out[40])
{
    time_format_rfc3339_fixed(ns, out);
}

int exec_logs_parse_line(const char *line, size_t n, int64_t *ts, int *stream, bool *partial,
                         const char **text, size_t *text_len)
{
    const char *sp1 = memchr(line, ' ', n);
    if (!sp1 || sp1 - line >= 64)
        return -1;
    char tbuf[64];
    memcpy(tbuf, line, (size_t)(sp1 - line));
    tbuf[sp1 - line] = 0;
    if (time_parse_rfc3339(tbuf, ts) < 0)
        return -1;
    const char *p = sp1 + 1, *end = line + n;
    if ((size_t)(end - p) >= 7 && !memcmp(p, "stdout ", 7))
        *stream = 1;
    else if ((size_t)(end - p) >= 7 && !memcmp(p, "stderr ", 7))
        *stream = 2;
    else
        return -1;
    p += 7;
    if (end - p < 1 || (*p != 'F' && *p != 'P'))
        return -1;
    *partial = *p == 'P';
    p++;
    if (p < end) {
        if (*p != ' ')
            return -1;
        p++;
    }
    *text = p;
    *text_len = (size_t)(end - p);
    return 0;
}

struct msg {
    int64_t ts;
    int stream;
    size_t start, len; /* in the joined-text buffer */
    size_t end_pos;    /* input offset just after the line that completed it */
};

/* One message: a stdcopy frame, or (raw, a TTY's stream as dockerd serves it) the bare text. */
static void frame_add(struct buf *out, bool raw, int stream, const char *ts_prefix,
                      const char *text, size_t n)
{
    size_t plen = ts_prefix ? strlen(ts_prefix) + 1 : 0;
    uint32_t len = (uint32_t)(plen + n);
    unsigned char h[8] = {(unsigned char)stream,
                          0,
                          0,
                          0,
                          (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8),
                          (unsigned char)len};
    if (!raw)
        buf_add(out, h, 8);
    if (ts_prefix) {
        buf_adds(out, ts_prefix);
        buf_add(out, " ", 1);
    }
    buf_add(out, text, n);
}

static void msg_push(struct msg **msgs, size_t *n, size_t *cap, struct msg m)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *msgs = xrealloc(*msgs, *cap * sizeof(**msgs));
    }
    (*msgs)[(*n)++] = m;
}

size_t exec_logs_convert(const char *data, size_t len, const struct exec_log_opts *o, bool final,
                         struct buf *out, size_t *consumed)
{
    struct msg *msgs = NULL;
    size_t nmsg = 0, cap = 0;
    struct buf text = BUF_INIT;
    struct buf pend[3] = {BUF_INIT, BUF_INIT, BUF_INIT}; /* per stream: an open run of P */
    bool open[3] = {false, false, false};
    int64_t open_ts[3] = {0, 0, 0};
    size_t pos = 0;
    /* Start of the oldest run still open (overlapping runs of both streams chain). */
    size_t open_from = (size_t)-1;

    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl)
            break;
        size_t n = (size_t)(nl - (data + pos)), line_pos = pos;
        int64_t ts;
        int stream;
        bool partial;
        const char *t;
        size_t tl;
        pos += n + 1;
        if (exec_logs_parse_line(data + line_pos, n, &ts, &stream, &partial, &t, &tl) < 0)
            continue;
        if (!open[stream]) {
            open[stream] = true;
            open_ts[stream] = ts;
            buf_reset(&pend[stream]);
            if (open_from == (size_t)-1)
                open_from = line_pos;
        }
        buf_add(&pend[stream], t, tl);
        if (partial)
            continue;
        buf_add(&pend[stream], "\n", 1);
        msg_push(&msgs, &nmsg, &cap,
                 (struct msg){open_ts[stream], stream, text.len, pend[stream].len, pos});
        buf_add(&text, pend[stream].p, pend[stream].len);
        open[stream] = false;
        if (!open[1] && !open[2])
            open_from = (size_t)-1;
    }
    size_t done_to = pos;
    if (final) {
        /* A run of P lines that the file ends with: emitted as it is, without a newline. */
        for (int s = 1; s <= 2; s++)
            if (open[s]) {
                msg_push(&msgs, &nmsg, &cap,
                         (struct msg){open_ts[s], s, text.len, pend[s].len, pos});
                buf_add(&text, pend[s].p, pend[s].len);
            }
    } else if (open_from != (size_t)-1) {
        /* Re-read from the open run next time; messages completed after it wait until then. */
        done_to = open_from;
    }
    size_t emit = 0;
    while (emit < nmsg && msgs[emit].end_pos <= done_to)
        emit++;
    size_t first = 0;
    if (o->tail >= 0 && (size_t)o->tail < emit)
        first = emit - (size_t)o->tail;
    size_t frames = 0;
    for (size_t i = first; i < emit; i++) {
        const struct msg *m = &msgs[i];
        if (o->since_ns && m->ts < o->since_ns)
            continue;
        if (o->until_ns && m->ts > o->until_ns)
            continue;
        if ((m->stream == 1 && !o->want_stdout) || (m->stream == 2 && !o->want_stderr))
            continue;
        char tsb[40];
        if (o->timestamps)
            exec_logs_time_fixed(m->ts, tsb);
        frame_add(out, o->raw, m->stream, o->timestamps ? tsb : NULL, text.p + m->start, m->len);
        frames++;
    }
    *consumed = done_to;
    free(msgs);
    buf_release(&text);
    for (int s = 0; s < 3; s++)
        buf_release(&pend[s]);
    return frames;
}

/* ---- follower ---- */
struct exec_logs_follower;
struct exec_logs_follower {
    struct exec *x;
    struct exec_logs_follower *next; /* in the executor's list */
    char *id, *path;
    struct exec_log_opts o;
    exec_logs_data_cb data;
    exec_done_cb end;
    void *arg;
    uv_timer_t timer;
    off_t offset;
    struct buf pending; /* bytes read but not yet consumed */
    bool first, ending;
};

static void follower_closed(uv_handle_t *h)
{
    struct exec_logs_follower *f = h->data;
    exec_follower_closed(f->x);
    free(f->id);
    free(f->path);
    buf_release(&f->pending);
    free(f);
}

/* Reads what is new; returns 0, or -1 on a read error (e filled). */
static int follower_read(struct exec_logs_follower *f, bool final, struct err *e)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0; /* not written yet */
        return err_set(e, ERR_INTERNAL, "open %s: %s", f->path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size < f->offset) {
        f->offset = 0; /* conmon truncated the log in place */
        buf_reset(&f->pending);
    }
    char chunk[65536];
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof(chunk), f->offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return err_set(e, ERR_INTERNAL, "read %s: %s", f->path, strerror(errno));
        }
        if (n == 0)
            break;
        buf_add(&f->pending, chunk, (size_t)n);
        f->offset += n;
        if (!f->first && f->pending.len > (1u << 20))
            break; /* hand over what we have; continue at the next tick */
    }
    close(fd);
    struct exec_log_opts o = f->o;
    if (!f->first)
        o.tail = -1;
    struct buf out = BUF_INIT;
    size_t used = 0;
    exec_logs_convert(f->pending.p ? f->pending.p : "", f->pending.len, &o, final, &out, &used);
    if (used)
        buf_consume(&f->pending, used);
    f->first = false;
    if (out.len)
        f->data(f->arg, out.p, out.len);
    buf_release(&out);
    return 0;
}

static void follower_finish(struct exec_logs_follower *f, int rc, const struct err *e)
{
    f->ending = true;
    exec_follower_remove(f->x, f);
    uv_timer_stop(&f->timer);
    if (f->end)
        f->end(f->arg, rc, e);
    uv_close((uv_handle_t *)&f->timer, follower_closed);
}

static void follower_tick(uv_timer_t *t)
{
    struct exec_logs_follower *f = t->data;
    struct err e = {0};
    bool exited = exec_ctr_exited(f->x, f->id) || f->o.once;
    if (follower_read(f, exited, &e) < 0) {
        follower_finish(f, -e.kind, &e);
        return;
    }
    if (exited)
        follower_finish(f, 0, NULL);
}

struct exec_logs_follower *exec_logs_follow(struct exec *x, const char *id,
                                            const struct exec_log_opts *o, exec_logs_data_cb data,
                                            exec_done_cb end, void *arg, struct err *e)
{
    struct exec_state st;
    if (exec_state_get(x, id, &st, e) < 0)
        return NULL;
    struct exec_logs_follower *f = xcalloc(1, sizeof(*f));
    f->x = x;
    f->id = xstrdup(id);
    f->path = exec_log_path(x, id);
    f->o = *o;
    f->data = data;
    f->end = end;
    f->arg = arg;
    f->first = true;
    buf_init(&f->pending);
    uv_timer_init(exec_loop(x), &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, follower_tick, 0, 100);
    exec_follower_add(x, f);
    return f;
}

void exec_logs_follow_stop(struct exec_logs_follower *f)
{
    if (!f || f->ending)
        return;
    f->ending = true;
    exec_follower_remove(f->x, f);
    uv_timer_stop(&f->timer);
    uv_close((uv_handle_t *)&f->timer, follower_closed);
}
