/* agent_task.c — the task state machine of agent.h, step by step as swarmkit's agent
 * drives its controllers: one transition or one operation per step. Pure; one thread. */
#include "agent/agent.h"

#include <stdio.h>
#include <string.h>

void agent_task_init(struct agent_task *t)
{
    memset(t, 0, sizeof(*t));
    t->state = TASK_ASSIGNED;
    snprintf(t->message, sizeof(t->message), "assigned");
}

static bool go(struct agent_task *t, enum task_state s, const char *msg)
{
    BUG_ON(s < t->state); /* observed state never goes backwards */
    t->state = s;
    snprintf(t->message, sizeof(t->message), "%s", msg);
    t->err[0] = '\0';
    return true;
}

static bool hand_out(struct agent_task *t, enum agent_op want, enum agent_op *op)
{
    if (!t->op_running) {
        t->op_running = true;
        t->op = want;
        *op = want;
    }
    return false;
}

bool agent_task_step(struct agent_task *t, enum task_state desired, enum agent_op *op)
{
    *op = AGENT_OP_NONE;
    if (desired >= TASK_SHUTDOWN) {
        if (t->state >= TASK_COMPLETE)
            return false;
        if (t->op_running && t->op != AGENT_OP_SHUTDOWN && t->op != AGENT_OP_WAIT)
            return false; /* let the prepare or start finish first, then stop */
        if (t->op_running && t->op == AGENT_OP_WAIT)
            t->op_running = false; /* the wait is over: we stop it ourselves */
        return hand_out(t, AGENT_OP_SHUTDOWN, op);
    }
    if (t->state > desired)
        return false; /* beyond what is wanted: wait */
    switch (t->state) {
    case TASK_PREPARING:
        return hand_out(t, AGENT_OP_PREPARE, op);
    case TASK_STARTING:
        return hand_out(t, AGENT_OP_START, op);
    case TASK_RUNNING:
        return hand_out(t, AGENT_OP_WAIT, op);
    default:
        break;
    }
    if (t->state >= desired)
        return false;
    switch (t->state) {
    case TASK_NEW:
    case TASK_PENDING:
    case TASK_ASSIGNED:
        return go(t, TASK_ACCEPTED, "accepted");
    case TASK_ACCEPTED:
        return go(t, TASK_PREPARING, "preparing");
    case TASK_READY:
        return go(t, TASK_STARTING, "starting");
    default:
        return false; /* terminal */
    }
}

/* A failure before STARTING rejects the task, at or after it fails it (Docker's rule). */
static void fatal(struct agent_task *t, const char *err)
{
    char msg[sizeof(t->message)]; /* the message stays: copied, as go() rewrites it */
    snprintf(msg, sizeof(msg), "%s", t->message);
    go(t, t->state < TASK_STARTING ? TASK_REJECTED : TASK_FAILED, msg);
    snprintf(t->err, sizeof(t->err), "%s", err && err[0] ? err : "unknown error");
}

static void exited(struct agent_task *t, int exit_code, const char *cause);

void agent_task_result(struct agent_task *t, enum agent_op op, int rc, const char *err)
{
    if (!t->op_running || t->op != op)
        return; /* a stale outcome (the wait was replaced by a shutdown) */
    t->op_running = false;
    if (t->state >= TASK_COMPLETE)
        return;
    if (rc < 0) {
        fatal(t, err);
        return;
    }
    switch (op) {
    case AGENT_OP_PREPARE:
        if (t->state == TASK_PREPARING)
            go(t, TASK_READY, "prepared");
        break;
    case AGENT_OP_START:
        if (t->state == TASK_STARTING)
            go(t, TASK_RUNNING, "started");
        if (t->exit_early) {
            t->exit_early = false;
            exited(t, t->early_code, NULL);
        }
        break;
    case AGENT_OP_SHUTDOWN:
        go(t, TASK_SHUTDOWN, "shutdown");
        break;
    default:
        break;
    }
}

void agent_task_exited(struct agent_task *t, int exit_code, const char *cause)
{
    if (t->state == TASK_STARTING) {
        t->exit_early = true;
        t->early_code = exit_code;
        return;
    }
    if (t->state != TASK_RUNNING)
        return;
    exited(t, exit_code, cause);
}

static void exited(struct agent_task *t, int exit_code, const char *cause)
{
    if (t->op_running && t->op == AGENT_OP_SHUTDOWN)
        return; /* our own stop: its outcome reports SHUTDOWN */
    if (t->op_running && t->op == AGENT_OP_WAIT)
        t->op_running = false;
    t->exit_code = exit_code;
    if (exit_code == 0) {
        go(t, TASK_COMPLETE, "finished");
        return;
    }
    go(t, TASK_FAILED, "started");
    if (cause && cause[0])
        snprintf(t->err, sizeof(t->err), "task: non-zero exit (%d): %s", exit_code, cause);
    else
        snprintf(t->err, sizeof(t->err), "task: non-zero exit (%d)", exit_code);
}
