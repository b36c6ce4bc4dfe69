/* daemon_int.h — private to src/daemon: the loop stall detector (daemon_stall.c). */
#ifndef SHOAL_DAEMON_INT_H
#define SHOAL_DAEMON_INT_H

#include "base/base.h"

#include <stdint.h>
#include <uv.h>

struct daemon_stall {
    uv_timer_t timer;
    uint64_t due_ns; /* uv_hrtime() when the next tick is due */
};

/* Logs a warning whenever the loop was held for 200 ms or more. The timer does not keep the
 * loop alive; stop closes it (the struct must live until the loop has run the close). */
void daemon_stall_start(struct daemon_stall *s, uv_loop_t *loop);
void daemon_stall_stop(struct daemon_stall *s);

#endif
