/* agent_exec_logs.c — agent_log_ops over the real executor's containers: a task's log is its
 * container's k8s-file log, read through exec's follower (exec_logs_follow; `once` without
 * follow) with timestamps on, and each stdcopy frame split back into its time and message
 * for the log broker. Thread: the loop thread. */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

struct exec_log {
    struct exec_logs_follower *f;
    agent_log_data_cb data;
    agent_log_end_cb end;
    void *arg;
    struct buf carry; /* a frame split across chunks */
};

/* Hands every complete frame of l->carry to l->data. Frames are [stream, 0, 0, 0, u32 BE
 * length] + "2006-01-02T15:04:05.000000000Z " + message. */
static void deliver(struct exec_log *l)
{
    size_t off = 0;
    const unsigned char *p = (const unsigned char *)l->carry.p;
    while (l->carry.len - off >= 8) {
        uint32_t n = (uint32_t)p[off + 4] << 24 | (uint32_t)p[off + 5] << 16 |
                     (uint32_t)p[off + 6] << 8 | p[off + 7];
        if (l->carry.len - off - 8 < n)
            break;
        const char *msg = (const char *)p + off + 8;
        size_t len = n;
        int64_t ts = 0;
        const char *sp = memchr(msg, ' ', len < 40 ? len : 40);
        if (sp) {
            char stamp[48];
            snprintf(stamp, sizeof(stamp), "%.*s", (int)(sp - msg), msg);
            if (time_parse_rfc3339(stamp, &ts) == 0) {
                len -= (size_t)(sp + 1 - msg);
                msg = sp + 1;
            }
        }
        l->data(l->arg, p[off], ts, msg, len);
        off += 8 + n;
    }
    buf_consume(&l->carry, off);
}

static void on_frames(void *arg, const char *frames, size_t len)
{
    struct exec_log *l = arg;
    buf_add(&l->carry, frames, len);
    deliver(l);
}

static void on_end(void *arg, int rc, const struct err *e)
{
    struct exec_log *l = arg;
    if (rc < 0)
        log_debug("a task log ended early: %s", e ? e->msg : "");
    l->f = NULL;
    agent_log_end_cb end = l->end;
    void *earg = l->arg;
    buf_release(&l->carry);
    free(l);
    end(earg);
}

static void *exec_log_open(void *ctx, const char *task_id, const struct agent_log_opts *o,
                           agent_log_data_cb data, agent_log_end_cb end, void *arg, struct err *e)
{
    struct agent_exec *ae = ctx;
    const char *ctr = agent_exec_container(ae, task_id);
    if (!ctr) {
        err_set(e, ERR_NOT_FOUND, "no container for task %s on this node", task_id);
        return NULL;
    }
    struct exec_log *l = xcalloc(1, sizeof(*l));
    l->data = data;
    l->end = end;
    l->arg = arg;
    buf_init(&l->carry);
    struct exec_log_opts xo = {
        .want_stdout = o->want_stdout,
        .want_stderr = o->want_stderr,
        .since_ns = o->since_ns,
        .until_ns = o->until_ns,
        .tail = o->tail,
        .timestamps = true,
        .once = !o->follow,
    };
    l->f = exec_logs_follow(agent_exec_exec(ae), ctr, &xo, on_frames, on_end, l, e);
    if (!l->f) {
        buf_release(&l->carry);
        free(l);
        return NULL;
    }
    return l;
}

static void exec_log_close(void *ctx, void *handle)
{
    (void)ctx;
    struct exec_log *l = handle;
    exec_logs_follow_stop(l->f);
    buf_release(&l->carry);
    free(l);
}

const struct agent_log_ops agent_exec_log_ops = {exec_log_open, exec_log_close};
