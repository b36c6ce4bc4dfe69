/* exec_int.h — private to src/exec: the executor's structures shared by its files.
 *
 * Ownership: struct exec owns its containers (a list); a container embeds libuv handles
 * (pidfd poll, stop timer) and is freed only after their close callbacks ran. All on the
 * loop thread. */
#ifndef SHOAL_EXEC_INT_H
#define SHOAL_EXEC_INT_H

#include "exec/exec.h"

struct exec_ctr;

/* [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127} */
bool exec_id_valid(const char *id);

/* Parses one k8s-file line "<RFC3339Nano> <stdout|stderr> <P|F> <text>" (no newline in
 * line[0..n)); returns 0 and fills the fields, or -1. */
int exec_logs_parse_line(const char *line, size_t n, int64_t *ts, int *stream, bool *partial,
                         const char **text, size_t *text_len);

/* For exec_logs.c's follower: whether the container has exited (or is gone). */
bool exec_ctr_exited(struct exec *x, const char *id);
uv_loop_t *exec_loop(struct exec *x);
/* Followers are registered with their executor, which stops them in exec_free and is freed
 * only after their timers have closed (exec_follower_closed). */
void exec_follower_add(struct exec *x, struct exec_logs_follower *f);
void exec_follower_remove(struct exec *x, struct exec_logs_follower *f);
void exec_follower_closed(struct exec *x);

#endif
