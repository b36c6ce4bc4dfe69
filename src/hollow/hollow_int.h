/* hollow_int.h — inside src/hollow only: the fake executor the hollow identities' agent
 * sessions drive (hollow_exec.c).
 *
 * One engine (struct hollow_exec) is shared by every identity: it answers operations on the
 * loop after a configured delay, from two FIFO queues (start, and everything else) with one
 * timer each, so an identity holds no libuv handle of its own for its containers. Each
 * identity's containers are a struct hollow_ctrs (the ctx of hollow_exec_ops): task ID → a
 * fake container with a random 64-hex ID and, once started, a fake PID. Operations take
 * effect when called and answer later (never inside the call); a fake container never exits
 * by itself, and stop does not call on_exit (the stop's answer moves the task to SHUTDOWN).
 * Thread: the loop thread. */
#ifndef SHOAL_HOLLOW_INT_H
#define SHOAL_HOLLOW_INT_H

#include "agent/agent.h"

#include <uv.h>

struct hollow_exec;
struct hollow_ctrs;

/* start_ms: how long a start takes; op_ms: prepare, stop, remove, restore, remove_all. */
struct hollow_exec *hollow_exec_new(uv_loop_t *loop, int64_t start_ms, int64_t op_ms);
/* Answers every operation still queued (rc -ERR_UNAVAILABLE, "hollow: stopping") at once,
 * then closes the timers; x is freed in their close callbacks, after which cb (may be NULL)
 * runs. Free the sessions first: their answers then go nowhere. */
void hollow_exec_free(struct hollow_exec *x, void (*cb)(void *data), void *data);
/* Containers running on all identities. */
int hollow_exec_running(const struct hollow_exec *x);

struct hollow_ctrs *hollow_ctrs_new(struct hollow_exec *x);
/* Forgets the identity's containers (no callback runs); NULL is a no-op. */
void hollow_ctrs_free(struct hollow_ctrs *c);

extern const struct agent_exec_ops hollow_exec_ops;

#endif
