/* disp.h — the dispatcher's assignments: what each node must be told about its tasks, as
 * incremental changes (tasks added or changed, tasks removed) that survive lost messages.
 *
 * Per node session the dispatcher remembers the assignment state the node has acknowledged
 * and the one it sent last (with a sequence number). Each answer to the node carries the
 * changes from the acknowledged state to the current one and a new sequence number; the node
 * applies them and acknowledges that number in its next message, which makes the sent state
 * the acknowledged one. An answer that is lost is simply sent again, larger, next time. A new
 * session (a node that restarted, or a new leader) starts from nothing: its first changes
 * are marked `full`, and the node replaces everything it holds with them.
 *
 * Pure logic: the caller passes the node's current tasks (ID and version of each) and the
 * acknowledgement it received. No I/O; one thread. */
#ifndef SHOAL_DISP_H
#define SHOAL_DISP_H

#include "base/base.h"

struct disp_item {
    const char *id;
    uint64_t version; /* the task object's Version.Index */
};

struct disp_change {
    const char *id; /* borrowed: from the current items, or from the session for removals */
    uint64_t version;
    bool removed;
};

struct disp_changes {
    struct disp_change *v;
    size_t n, cap;
    uint64_t seq; /* to be acknowledged by the node */
    bool full;    /* the node replaces its whole set with these (no removals then) */
};
void disp_changes_release(struct disp_changes *c);

struct disp_session;
struct disp_session *disp_session_new(void);
void disp_session_free(struct disp_session *s); /* NULL is a no-op */

/* The node acknowledged sequence number `ack` (0: nothing yet). Acknowledging the last sent
 * number, or the one before it (the last answer was lost), makes that state the acknowledged
 * one; older numbers change nothing. */
void disp_session_ack(struct disp_session *s, uint64_t ack);

/* The changes that bring the node from its acknowledged state to `cur` (n items, unique
 * IDs); remembers `cur` as sent under out->seq. Borrowed IDs in out stay valid until the
 * next call on this session. */
void disp_session_changes(struct disp_session *s, const struct disp_item *cur, size_t n,
                          struct disp_changes *out);

#endif
