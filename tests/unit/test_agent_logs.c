/* test_agent_logs.c — the worker's side of the log broker with a fake transport (the test
 * answers each call) and a fake log source (the test emits messages and ends): listen,
 * open the subscription's task logs, batched publications one at a time and in order,
 * Close after every log ended, a closed subscription dropped, a missing container ended. */
#include "agent/agent.h"
#include "harness.h"

#include <string.h>

struct call {
    char path[64];
    json_t *body;
    agent_call_cb cb;
    void *arg;
};

struct fake {
    struct call calls[16];
    int ncalls;
    /* the log source */
    int opened, closed;
    agent_log_data_cb data[4];
    agent_log_end_cb end[4];
    void *arg[4];
    char task[4][32];
    int handles[4];
};

static void fake_call(void *ctx, const char *path, json_t *body, agent_call_cb cb, void *arg)
{
    struct fake *f = ctx;
    struct call *c = &f->calls[f->ncalls++];
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->body = json_deep_copy(body);
    c->cb = cb;
    c->arg = arg;
}

/* Answers the oldest call to path; returns its body (caller frees). */
static json_t *answer(struct fake *f, const char *path, int status, json_t *ans)
{
    for (int i = 0; i < f->ncalls; i++)
        if (!strcmp(f->calls[i].path, path)) {
            struct call c = f->calls[i];
            memmove(&f->calls[i], &f->calls[i + 1], (size_t)(f->ncalls - i - 1) * sizeof(c));
            f->ncalls--;
            c.cb(c.arg, status, ans);
            json_decref(ans);
            return c.body;
        }
    return NULL;
}

static int pending(struct fake *f, const char *path)
{
    int n = 0;
    for (int i = 0; i < f->ncalls; i++)
        n += !strcmp(f->calls[i].path, path);
    return n;
}

static void *fake_open(void *ctx, const char *task_id, const struct agent_log_opts *o,
                       agent_log_data_cb data, agent_log_end_cb end, void *arg, struct err *e)
{
    struct fake *f = ctx;
    (void)o;
    if (!strcmp(task_id, "gone")) {
        err_set(e, ERR_NOT_FOUND, "no container for task gone");
        return NULL;
    }
    int i = f->opened++;
    f->data[i] = data;
    f->end[i] = end;
    f->arg[i] = arg;
    snprintf(f->task[i], sizeof(f->task[i]), "%s", task_id);
    return &f->handles[i];
}

static void fake_close(void *ctx, void *handle)
{
    (void)handle;
    ((struct fake *)ctx)->closed++;
}

static const struct agent_log_ops fake_ops = {fake_open, fake_close};

static void al_wake(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until cond holds (checked between turns), with a deadline. */
#define RUN_UNTIL(loop, cond, ms)                                                                  \
    do {                                                                                           \
        uv_timer_t wk_;                                                                            \
        uv_timer_init((loop), &wk_);                                                               \
        uv_timer_start(&wk_, al_wake, 5, 5);                                                       \
        int64_t end_ = (int64_t)(uv_hrtime() / 1000000) + (ms);                                    \
        while (!(cond) && (int64_t)(uv_hrtime() / 1000000) < end_)                                 \
            uv_run((loop), UV_RUN_ONCE);                                                           \
        uv_close((uv_handle_t *)&wk_, NULL);                                                       \
        uv_run((loop), UV_RUN_NOWAIT);                                                             \
        if (!(cond))                                                                               \
            FAIL_AT("timed out waiting for " #cond);                                               \
    } while (0)

TEST(agent_logs_serves_a_subscription_in_order_then_closes)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake f = {0};
    struct agent_logs *l = agent_logs_new(&loop, fake_call, &f, &fake_ops, &f);
    agent_logs_start(l);
    ASSERT_EQ_INT(pending(&f, "/swarm-rpc/logs/listen"), 1);
    json_t *ans = json_pack("{s:[{s:s, s:[s, s, s], s:b, s:I, s:b, s:b}], s:[]}", "Subscriptions",
                            "ID", "sub1", "TaskIDs", "t1", "t2", "gone", "Follow", 0, "Tail",
                            (json_int_t)5, "Stdout", 1, "Stderr", 1, "Closed");
    json_t *sent = answer(&f, "/swarm-rpc/logs/listen", 200, ans);
    ASSERT_EQ_INT((int)json_array_size(json_object_get(sent, "Serving")), 0);
    json_decref(sent);
    ASSERT_EQ_INT(f.opened, 2); /* "gone" has no container: ended at once */
    ASSERT_EQ_INT((int)agent_logs_serving(l), 1);
    /* it polls again, naming what it serves */
    ASSERT_EQ_INT(pending(&f, "/swarm-rpc/logs/listen"), 1);
    ASSERT_EQ_STR(json_string_value(
                      json_array_get(json_object_get(f.calls[f.ncalls - 1].body, "Serving"), 0)),
                  "sub1");
    f.data[0](f.arg[0], 1, 100, "a\n", 2);
    f.data[1](f.arg[1], 2, 101, "b\n", 2);
    RUN_UNTIL(&loop, pending(&f, "/swarm-rpc/logs/publish") == 1, 2000);
    /* while the first publication is out, more messages wait for the next one */
    f.data[0](f.arg[0], 1, 102, "c\n", 2);
    f.end[0](f.arg[0]);
    f.end[1](f.arg[1]);
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ_INT(pending(&f, "/swarm-rpc/logs/publish"), 1);
    json_t *p1 = answer(&f, "/swarm-rpc/logs/publish", 200, json_object());
    ASSERT_EQ_INT((int)json_array_size(json_object_get(p1, "Messages")), 2);
    ASSERT_FALSE(json_is_true(json_object_get(p1, "Close")));
    json_t *m0 = json_array_get(json_object_get(p1, "Messages"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(m0, "TaskID")), "t1");
    ASSERT_EQ_STR(json_string_value(json_object_get(m0, "Data")), "YQo=");
    json_decref(p1);
    /* the answer sends the rest at once, with Close: every log has ended */
    ASSERT_EQ_INT(pending(&f, "/swarm-rpc/logs/publish"), 1);
    json_t *p2 = answer(&f, "/swarm-rpc/logs/publish", 200, json_object());
    ASSERT_EQ_INT((int)json_array_size(json_object_get(p2, "Messages")), 1);
    ASSERT_TRUE(json_is_true(json_object_get(p2, "Close")));
    json_decref(p2);
    ASSERT_EQ_INT((int)agent_logs_serving(l), 0);
    agent_logs_free(l);
    /* the parked listen answers after free: ignored, then the memory goes */
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 503, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(agent_logs_drops_a_closed_subscription_and_retries_a_failed_listen)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake f = {0};
    struct agent_logs *l = agent_logs_new(&loop, fake_call, &f, &fake_ops, &f);
    agent_logs_start(l);
    /* no leader reachable: it asks again after a pause */
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 0, NULL));
    ASSERT_EQ_INT(pending(&f, "/swarm-rpc/logs/listen"), 0);
    RUN_UNTIL(&loop, pending(&f, "/swarm-rpc/logs/listen") == 1, 3000);
    json_t *ans = json_pack("{s:[{s:s, s:[s], s:b, s:b}], s:[]}", "Subscriptions", "ID", "s2",
                            "TaskIDs", "t9", "Follow", 1, "Stdout", 1, "Closed");
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 200, ans));
    ASSERT_EQ_INT(f.opened, 1);
    ans = json_pack("{s:[], s:[s]}", "Subscriptions", "Closed", "s2");
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 200, ans));
    ASSERT_EQ_INT(f.closed, 1); /* the follower is stopped */
    ASSERT_EQ_INT((int)agent_logs_serving(l), 0);
    agent_logs_free(l);
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 503, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(agent_logs_refuses_a_malformed_listen_answer_whole)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake f = {0};
    struct agent_logs *l = agent_logs_new(&loop, fake_call, &f, &fake_ops, &f);
    agent_logs_start(l);
    /* the second subscription names a task that is no object ID: none of them is served,
     * and the node asks again after a pause */
    json_t *ans = json_pack("{s:[{s:s, s:[s], s:b}, {s:s, s:[s], s:b}], s:[]}", "Subscriptions",
                            "ID", "s1", "TaskIDs", "t1", "Stdout", 1, "ID", "s2", "TaskIDs",
                            "../t2", "Stdout", 1, "Closed");
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 200, ans));
    ASSERT_EQ_INT(f.opened, 0);
    ASSERT_EQ_INT((int)agent_logs_serving(l), 0);
    ASSERT_EQ_INT(pending(&f, "/swarm-rpc/logs/listen"), 0);
    RUN_UNTIL(&loop, pending(&f, "/swarm-rpc/logs/listen") == 1, 3000);
    agent_logs_free(l);
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 503, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(agent_logs_batches_by_encoded_size)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct fake f = {0};
    struct agent_logs *l = agent_logs_new(&loop, fake_call, &f, &fake_ops, &f);
    agent_logs_start(l);
    json_t *ans = json_pack("{s:[{s:s, s:[s], s:b}], s:[]}", "Subscriptions", "ID",
                            "abcdefghijklmnopqrstuvwxy", "TaskIDs", "0123456789abcdefghijklmno",
                            "Stdout", 1, "Closed");
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 200, ans));
    ASSERT_EQ_INT(f.opened, 1);
    /* many short lines at once (a log read from the start): each costs far more on the wire
     * than its bytes, and a publication must stay well within the peer port's 1 MiB body */
    size_t sent = 0, calls = 0;
    for (int i = 0; i < 20000; i++)
        f.data[0](f.arg[0], 1, 1700000000000000000 + i, "a\n", 2);
    f.end[0](f.arg[0]);
    for (;;) {
        RUN_UNTIL(&loop, pending(&f, "/swarm-rpc/logs/publish") == 1, 2000);
        json_t *p = answer(&f, "/swarm-rpc/logs/publish", 200, json_object());
        char *s = json_dumps(p, JSON_COMPACT);
        ASSERT_TRUE(strlen(s) <= 300 * 1024);
        free(s);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(p, "Messages"), i, m)
        {
            /* in order, none lost */
            ASSERT_EQ_INT(json_integer_value(json_object_get(m, "Time")),
                          1700000000000000000 + (json_int_t)sent);
            sent++;
        }
        calls++;
        bool last = json_is_true(json_object_get(p, "Close"));
        json_decref(p);
        if (last)
            break;
    }
    ASSERT_EQ_INT(sent, 20000);
    ASSERT_TRUE(calls >= 7); /* 20000 * ~90 bytes in batches of at most 256 KiB */
    agent_logs_free(l);
    json_decref(answer(&f, "/swarm-rpc/logs/listen", 503, NULL));
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}
