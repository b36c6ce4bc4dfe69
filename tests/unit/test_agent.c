/* test_agent.c — the agent's task state machine (src/agent): the path to RUNNING with
 * Docker's messages, exits, refusals, shutdown at every point, desired READY holding, and a
 * randomised run checking that the observed state never goes backwards and never passes the
 * desired state (but for terminal states). Pure: no executor, no clock. */
#include "agent/agent.h"
#include "harness.h"

#include <string.h>

/* Steps until nothing changes; returns the operation handed out (or NONE). */
static enum agent_op settle(struct agent_task *t, enum task_state desired)
{
    enum agent_op op = AGENT_OP_NONE;
    for (int i = 0; i < 20; i++) {
        enum agent_op o;
        bool changed = agent_task_step(t, desired, &o);
        if (o != AGENT_OP_NONE)
            op = o;
        if (!changed)
            return op;
    }
    FAIL_AT("the state machine does not settle");
}

TEST(agent_task_to_running_and_exit)
{
    struct agent_task t;
    agent_task_init(&t);
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_PREPARE);
    ASSERT_EQ_INT(t.state, TASK_PREPARING);
    ASSERT_EQ_STR(t.message, "preparing");
    /* while the prepare runs, stepping hands out nothing more */
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_NONE);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_READY);
    ASSERT_EQ_STR(t.message, "prepared");
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_START);
    ASSERT_EQ_INT(t.state, TASK_STARTING);
    ASSERT_EQ_STR(t.message, "starting");
    agent_task_result(&t, AGENT_OP_START, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_RUNNING);
    ASSERT_EQ_STR(t.message, "started");
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_WAIT);
    agent_task_exited(&t, 3, NULL);
    ASSERT_EQ_INT(t.state, TASK_FAILED);
    ASSERT_EQ_STR(t.err, "task: non-zero exit (3)");
    ASSERT_EQ_INT(t.exit_code, 3);
    ASSERT_EQ_INT(settle(&t, TASK_SHUTDOWN), AGENT_OP_NONE); /* terminal: nothing to stop */

    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_START, 0, NULL);
    settle(&t, TASK_RUNNING);
    agent_task_exited(&t, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_COMPLETE);
    ASSERT_EQ_STR(t.message, "finished");
    ASSERT_EQ_STR(t.err, "");
}

/* A container that ends before its start is confirmed (sh -c 'exit 3' is that fast): the
 * exit, seen while STARTING, is applied once the start succeeds; the task is not left
 * RUNNING for ever. */
TEST(agent_task_exit_before_start_confirmed)
{
    struct agent_task t;
    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_START);
    agent_task_exited(&t, 3, NULL);
    ASSERT_EQ_INT(t.state, TASK_STARTING);
    agent_task_result(&t, AGENT_OP_START, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_FAILED);
    ASSERT_EQ_STR(t.err, "task: non-zero exit (3)");
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_NONE);

    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    settle(&t, TASK_RUNNING);
    agent_task_exited(&t, 0, NULL);
    agent_task_result(&t, AGENT_OP_START, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_COMPLETE);
}

TEST(agent_task_refusals)
{
    struct agent_task t;
    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, -ERR_NOT_FOUND, "No such image: nosuch:latest");
    ASSERT_EQ_INT(t.state, TASK_REJECTED);
    ASSERT_EQ_STR(t.err, "No such image: nosuch:latest");
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_NONE);

    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_START, -ERR_INTERNAL, "exec: \"nosuch\": not found");
    ASSERT_EQ_INT(t.state, TASK_FAILED);
    ASSERT_EQ_STR(t.err, "exec: \"nosuch\": not found");
}

TEST(agent_task_ready_holds_and_shutdown)
{
    struct agent_task t;
    agent_task_init(&t);
    settle(&t, TASK_READY);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    ASSERT_EQ_INT(settle(&t, TASK_READY), AGENT_OP_NONE); /* a restart delay: it waits */
    ASSERT_EQ_INT(t.state, TASK_READY);
    /* shutdown while a prepare runs: after it */
    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    ASSERT_EQ_INT(settle(&t, TASK_SHUTDOWN), AGENT_OP_NONE);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    ASSERT_EQ_INT(settle(&t, TASK_SHUTDOWN), AGENT_OP_SHUTDOWN);
    agent_task_result(&t, AGENT_OP_SHUTDOWN, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_SHUTDOWN);
    ASSERT_EQ_STR(t.message, "shutdown");
    /* shutdown of a running task: its exit (from our signal) is not a failure */
    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_START, 0, NULL);
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_WAIT);
    ASSERT_EQ_INT(settle(&t, TASK_SHUTDOWN), AGENT_OP_SHUTDOWN);
    agent_task_exited(&t, 143, NULL);
    ASSERT_EQ_INT(t.state, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_SHUTDOWN, 0, NULL);
    ASSERT_EQ_INT(t.state, TASK_SHUTDOWN);
    /* stopped by the executor as unhealthy: moby's exit error with its cause */
    agent_task_init(&t);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_PREPARE, 0, NULL);
    settle(&t, TASK_RUNNING);
    agent_task_result(&t, AGENT_OP_START, 0, NULL);
    ASSERT_EQ_INT(settle(&t, TASK_RUNNING), AGENT_OP_WAIT);
    agent_task_exited(&t, 137, "dockerexec: unhealthy container");
    ASSERT_EQ_INT(t.state, TASK_FAILED);
    ASSERT_EQ_STR(t.err, "task: non-zero exit (137): dockerexec: unhealthy container");
    /* a failed stop fails the task with the executor's words */
    agent_task_init(&t);
    ASSERT_EQ_INT(settle(&t, TASK_REMOVE), AGENT_OP_SHUTDOWN);
    agent_task_result(&t, AGENT_OP_SHUTDOWN, -ERR_INTERNAL, "cannot stop");
    ASSERT_EQ_INT(t.state, TASK_REJECTED);
    ASSERT_EQ_STR(t.err, "cannot stop");
}

static uint64_t t_rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

TEST(agent_task_random_never_backwards)
{
    uint64_t seed = 0x853c49e6748fea9bULL;
    static const enum task_state desired_choice[] = {TASK_READY, TASK_RUNNING, TASK_SHUTDOWN,
                                                     TASK_REMOVE};
    for (int run = 0; run < 2000; run++) {
        struct agent_task t;
        agent_task_init(&t);
        enum task_state desired = t_rng(&seed) % 2 ? TASK_READY : TASK_RUNNING;
        enum task_state prev = t.state;
        enum agent_op pending = AGENT_OP_NONE;
        for (int step = 0; step < 30; step++) {
            uint64_t r = t_rng(&seed) % 10;
            if (r == 0) { /* desired only moves forward */
                enum task_state d = desired_choice[t_rng(&seed) % 4];
                if (d > desired)
                    desired = d;
            }
            enum agent_op op;
            agent_task_step(&t, desired, &op);
            if (op != AGENT_OP_NONE && op != AGENT_OP_WAIT)
                pending = op;
            if (pending != AGENT_OP_NONE && r < 6) {
                agent_task_result(&t, pending, r == 1 ? -ERR_INTERNAL : 0, "boom");
                pending = AGENT_OP_NONE;
            }
            if (r == 9)
                agent_task_exited(&t, (int)(t_rng(&seed) % 3), NULL);
            ASSERT_TRUE(t.state >= prev);
            if (t.state <= TASK_RUNNING && desired <= TASK_RUNNING)
                ASSERT_TRUE(t.state <= desired);
            if (t.state == TASK_REJECTED || t.state == TASK_FAILED)
                ASSERT_TRUE(t.err[0] != '\0');
            prev = t.state;
        }
    }
}
