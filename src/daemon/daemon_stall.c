/* daemon_stall.c — the loop's own stall detector: a repeating timer notes how late it fires;
 * a callback that holds the loop thread (a slow syscall, a burst of work done in one go)
 * shows as lateness, and the log says so with the figure, so a lease step-down or a late
 * heartbeat can be traced to what blocked the loop. Costs 4 wakeups per second.
 * Thread: the loop thread. */
#include "daemon/daemon_int.h"

#include <inttypes.h>

#define STALL_PERIOD_MS 250
#define STALL_WARN_MS 200

static void on_tick(uv_timer_t *t)
{
    struct daemon_stall *s = t->data;
    uint64_t now = uv_hrtime();
    uint64_t late_ms = now > s->due_ns ? (now - s->due_ns) / 1000000 : 0;
    if (late_ms >= STALL_WARN_MS)
        log_warn("daemon: the event loop was blocked for about %" PRIu64 " ms", late_ms);
    s->due_ns = now + (uint64_t)STALL_PERIOD_MS * 1000000;
}

void daemon_stall_start(struct daemon_stall *s, uv_loop_t *loop)
{
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->due_ns = uv_hrtime() + (uint64_t)STALL_PERIOD_MS * 1000000;
    uv_timer_start(&s->timer, on_tick, STALL_PERIOD_MS, STALL_PERIOD_MS);
    uv_unref((uv_handle_t *)&s->timer);
}

void daemon_stall_stop(struct daemon_stall *s)
{
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, NULL);
}
