/* test_logbroker.c — the leader's log broker on a real loop, with short timings: listens
 * parked and answered, publications delivered in order, ends (complete, incomplete, cancel),
 * malformed and foreign publications refused. Waits are for events, with deadlines. */
#include "harness.h"
#include "manager/logbroker/logbroker.h"

#include <string.h>

struct sink {
    struct buf got; /* "task:stream:data|" per message */
    bool ended;
    char incomplete[256];
};

static void on_msg(void *arg, const struct lb_msg *m)
{
    struct sink *s = arg;
    buf_printf(&s->got, "%s@%s:%d:%.*s|", m->task_id, m->node_id, m->stream, (int)m->len, m->data);
}

static void on_end(void *arg, const char *incomplete)
{
    struct sink *s = arg;
    s->ended = true;
    snprintf(s->incomplete, sizeof(s->incomplete), "%s", incomplete);
}

struct answer {
    bool got;
    int status;
    json_t *body;
};

static void on_reply(void *arg, int status, json_t *body)
{
    struct answer *a = arg;
    a->got = true;
    a->status = status;
    json_decref(a->body);
    a->body = body;
}

static void lb_wake(uv_timer_t *t)
{
    (void)t;
}

static void lb_run_until(uv_loop_t *loop, bool *flag, int64_t ms, const char *what)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, lb_wake, 10, 10);
    int64_t end = (int64_t)uv_hrtime() / 1000000 + ms;
    while (!*flag && (int64_t)uv_hrtime() / 1000000 < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!*flag)
        FAIL_AT("timed out after %lld ms waiting for %s", (long long)ms, what);
}

static json_t *publish_body(const char *sub, const char *task, int stream, const char *text,
                            bool close)
{
    char *b64 = b64_encode(text, strlen(text), true);
    json_t *b = json_pack("{s:s, s:[{s:s, s:i, s:I, s:s}], s:b}", "SubscriptionID", sub, "Messages",
                          "TaskID", task, "Stream", stream, "Time", (json_int_t)1, "Data", b64,
                          "Close", close);
    free(b64);
    return b;
}

/* The bodies as the leader's peer calls decode them (node_logs.c), then the broker. */
static void listen_json(struct logbroker *lb, const char *node_id, json_t *req, lb_reply_cb cb,
                        void *arg)
{
    struct msg_logs_listen_req m;
    struct err e;
    if (msg_logs_listen_req_decode(req, &m, &e) < 0)
        FAIL_AT("%s", e.msg);
    logbroker_listen(lb, node_id, &m, cb, arg);
    msg_logs_listen_req_release(&m);
}

static int publish_json(struct logbroker *lb, const char *node_id, json_t *req, struct err *e)
{
    struct msg_logs_publish m;
    int rc = msg_logs_publish_decode(req, &m, e);
    if (rc == 0)
        rc = logbroker_publish(lb, node_id, &m, e);
    msg_logs_publish_release(&m);
    return rc;
}

static const char *sub_id_of(json_t *answer, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(answer, "Subscriptions"), i), "ID"));
}

TEST(logbroker_delivers_in_order_and_ends_when_every_node_closed)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct logbroker *lb = logbroker_new(&loop);
    logbroker_set_timing(lb, 5000, 5000, 5000);
    /* node A listens before anything exists: parked */
    struct answer a = {0}, b = {0};
    json_t *req = json_pack("{s:[]}", "Serving");
    listen_json(lb, "nodeA", req, on_reply, &a);
    ASSERT_FALSE(a.got);
    struct lb_target t[] = {{"t1", "nodeA"}, {"t2", "nodeB"}, {"t3", "nodeA"}};
    struct lb_opts o = {.want_stdout = true, .want_stderr = true, .tail = -1};
    struct sink s = {0};
    logbroker_subscribe(lb, t, 3, &o, on_msg, on_end, &s);
    ASSERT_TRUE(a.got); /* the parked listen learns of it at once */
    ASSERT_EQ_INT(a.status, 200);
    const char *sid = sub_id_of(a.body, 0);
    ASSERT_TRUE(sid != NULL);
    char id[64];
    snprintf(id, sizeof(id), "%s", sid);
    json_t *tasks =
        json_object_get(json_array_get(json_object_get(a.body, "Subscriptions"), 0), "TaskIDs");
    ASSERT_EQ_INT((int)json_array_size(tasks), 2);
    /* node B listens: answered at once */
    listen_json(lb, "nodeB", req, on_reply, &b);
    ASSERT_TRUE(b.got);
    ASSERT_EQ_STR(sub_id_of(b.body, 0), id);
    /* a node that serves it already is not told again: parked */
    struct answer a2 = {0};
    json_t *serving = json_pack("{s:[s]}", "Serving", id);
    listen_json(lb, "nodeA", serving, on_reply, &a2);
    ASSERT_FALSE(a2.got);
    struct err e;
    json_t *p = publish_body(id, "t1", 1, "one\n", false);
    ASSERT_EQ_INT(publish_json(lb, "nodeA", p, &e), 0);
    json_decref(p);
    /* a task of another node, and a malformed body, are refused */
    p = publish_body(id, "t2", 1, "forged\n", false);
    ASSERT_EQ_INT(publish_json(lb, "nodeA", p, &e), -ERR_INVALID);
    json_decref(p);
    p = json_pack("{s:s, s:[{s:s, s:i}]}", "SubscriptionID", id, "Messages", "TaskID", "t1",
                  "Stream", 7);
    ASSERT_EQ_INT(publish_json(lb, "nodeA", p, &e), -ERR_INVALID);
    json_decref(p);
    p = publish_body(id, "t3", 2, "two\n", true);
    ASSERT_EQ_INT(publish_json(lb, "nodeA", p, &e), 0);
    json_decref(p);
    ASSERT_FALSE(s.ended); /* node B has not closed */
    p = publish_body(id, "t2", 1, "three\n", true);
    ASSERT_EQ_INT(publish_json(lb, "nodeB", p, &e), 0);
    json_decref(p);
    ASSERT_FALSE(s.ended); /* never inside the call */
    lb_run_until(&loop, &s.ended, 2000, "the end of the subscription");
    ASSERT_EQ_STR(s.got.p, "t1@nodeA:1:one\n|t3@nodeA:2:two\n|t2@nodeB:1:three\n|");
    ASSERT_EQ_STR(s.incomplete, "");
    /* node A's parked listen hears that the subscription is closed */
    ASSERT_TRUE(a2.got);
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(a2.body, "Closed"), 0)), id);
    ASSERT_EQ_INT((int)logbroker_count(lb), 0);
    json_decref(req);
    json_decref(serving);
    json_decref(a.body);
    json_decref(a2.body);
    json_decref(b.body);
    buf_release(&s.got);
    logbroker_free(lb);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(logbroker_node_that_never_listens_makes_it_incomplete)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct logbroker *lb = logbroker_new(&loop);
    logbroker_set_timing(lb, 50, 5000, 5000);
    struct lb_target t[] = {{"t1", "nodeA"}, {"t2", "nodeDown"}};
    struct lb_opts o = {.want_stdout = true, .tail = -1};
    struct sink s = {0};
    logbroker_subscribe(lb, t, 2, &o, on_msg, on_end, &s);
    struct answer a = {0};
    json_t *req = json_pack("{s:[]}", "Serving");
    listen_json(lb, "nodeA", req, on_reply, &a);
    ASSERT_TRUE(a.got);
    char id[64];
    snprintf(id, sizeof(id), "%s", sub_id_of(a.body, 0));
    struct err e;
    json_t *p = publish_body(id, "t1", 1, "hello\n", true);
    ASSERT_EQ_INT(publish_json(lb, "nodeA", p, &e), 0);
    json_decref(p);
    lb_run_until(&loop, &s.ended, 3000, "the pickup deadline");
    ASSERT_EQ_STR(s.incomplete, "nodeDown");
    ASSERT_EQ_STR(s.got.p, "t1@nodeA:1:hello\n|");
    /* a late publication for the ended subscription is dropped quietly */
    p = publish_body(id, "t2", 1, "late\n", true);
    ASSERT_EQ_INT(publish_json(lb, "nodeDown", p, &e), 0);
    json_decref(p);
    json_decref(req);
    json_decref(a.body);
    buf_release(&s.got);
    logbroker_free(lb);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(logbroker_cancel_and_free)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct logbroker *lb = logbroker_new(&loop);
    logbroker_set_timing(lb, 5000, 5000, 5000);
    struct lb_target t[] = {{"t1", "nodeA"}};
    struct lb_opts o = {.follow = true, .want_stdout = true, .tail = 10};
    struct sink s = {0};
    struct lb_sub *sub = logbroker_subscribe(lb, t, 1, &o, on_msg, on_end, &s);
    struct answer a = {0};
    json_t *req = json_pack("{s:[]}", "Serving");
    listen_json(lb, "nodeA", req, on_reply, &a);
    ASSERT_TRUE(a.got);
    json_t *sub0 = json_array_get(json_object_get(a.body, "Subscriptions"), 0);
    ASSERT_TRUE(json_is_true(json_object_get(sub0, "Follow")));
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(sub0, "Tail")), 10);
    char id[64];
    snprintf(id, sizeof(id), "%s", sub_id_of(a.body, 0));
    /* follow: closing its part does not end it */
    struct err e;
    json_t *p = publish_body(id, "t1", 1, "x\n", true);
    ASSERT_EQ_INT(publish_json(lb, "nodeA", p, &e), 0);
    json_decref(p);
    struct answer a2 = {0};
    json_t *serving = json_pack("{s:[s]}", "Serving", id);
    listen_json(lb, "nodeA", serving, on_reply, &a2);
    ASSERT_TRUE(a2.got); /* its part is closed: told to stop serving it */
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(a2.body, "Closed"), 0)), id);
    ASSERT_EQ_INT((int)logbroker_count(lb), 1);
    logbroker_cancel(sub);
    ASSERT_EQ_INT((int)logbroker_count(lb), 0);
    ASSERT_FALSE(s.ended); /* cancel: no callback */
    /* a parked listen is answered 503 when the broker goes */
    struct answer a3 = {0};
    listen_json(lb, "nodeB", req, on_reply, &a3);
    ASSERT_FALSE(a3.got);
    logbroker_free(lb);
    ASSERT_TRUE(a3.got);
    ASSERT_EQ_INT(a3.status, 503);
    json_decref(req);
    json_decref(serving);
    json_decref(a.body);
    json_decref(a2.body);
    buf_release(&s.got);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(logbroker_frames_as_dockerd)
{
    struct lb_msg m = {.task_id = "t1",
                       .node_id = "n1",
                       .stream = 2,
                       .time_ns = 1700000000123456789LL,
                       .data = "hi\n",
                       .len = 3};
    struct buf b = BUF_INIT;
    logbroker_frame(&m, "s1", false, false, &b);
    ASSERT_EQ_INT(b.len, 8 + 3);
    ASSERT_TRUE(!memcmp(b.p, "\x02\0\0\0\0\0\0\x03hi\n", 11));
    buf_reset(&b);
    logbroker_frame(&m, "s1", true, true, &b);
    const char *want = "2023-11-14T22:13:20.123456789Z com.docker.swarm.node.id=n1,"
                       "com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hi\n";
    ASSERT_EQ_INT(b.len, 8 + strlen(want));
    ASSERT_EQ_INT((unsigned char)b.p[7], strlen(want));
    ASSERT_TRUE(!memcmp(b.p + 8, want, strlen(want)));
    size_t one = b.len;
    logbroker_frame_error("Error grabbing logs: x\n", &b);
    ASSERT_EQ_INT(b.p[one], LB_STREAM_SYSERR);
    ASSERT_EQ_INT(b.len, one + 8 + 23);

    /* whole frames: none of a partial header or body, all of complete ones */
    struct err e;
    ASSERT_EQ_INT(logbroker_frames_whole(b.p, 0, &e), 0);
    ASSERT_EQ_INT(logbroker_frames_whole(b.p, 7, &e), 0);
    ASSERT_EQ_INT(logbroker_frames_whole(b.p, one - 1, &e), 0);
    ASSERT_EQ_INT(logbroker_frames_whole(b.p, one, &e), one);
    ASSERT_EQ_INT(logbroker_frames_whole(b.p, one + 9, &e), one);
    ASSERT_EQ_INT(logbroker_frames_whole(b.p, b.len, &e), b.len);
    /* what no frame of ours looks like */
    ASSERT_EQ_INT(logbroker_frames_whole("\x04\0\0\0\0\0\0\0", 8, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "not a log frame");
    ASSERT_EQ_INT(logbroker_frames_whole("{\"messa", 8, &e), -ERR_INVALID);
    ASSERT_EQ_INT(logbroker_frames_whole("\x01\0\0\0\x7f\0\0\0", 8, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "at most");
    buf_release(&b);
}
