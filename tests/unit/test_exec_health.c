/* test_exec_health.c — the healthcheck state machine of exec_health.c with a fake clock:
 * probe commands, defaults and refusals, when probes are due (interval, start interval
 * within the start period), failing streaks and retries, the start period, the log of the
 * last five results with Docker's output cut, State.Health's JSON, Go duration text. */
#include "exec/exec.h"
#include "harness.h"

#define S 1000000000LL
#define MS 1000000LL

static const int64_t T0 = 1700000000LL * S; /* the container's start */

TEST(exec_health_commands_defaults_and_refusals)
{
    struct exec_health h;
    struct err e = {0};
    const char *none[] = {"NONE", NULL};
    struct exec_healthcheck c = {.test = none};
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 1);
    ASSERT_EQ_INT(exec_health_init(&h, NULL, T0, &e), 1);
    c.test = NULL;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 1);

    const char *sh[] = {"CMD-SHELL", "test -e /tmp/ok", NULL};
    c.test = sh;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 0);
    ASSERT_EQ_STR(h.argv[0], "/bin/sh");
    ASSERT_EQ_STR(h.argv[1], "-c");
    ASSERT_EQ_STR(h.argv[2], "test -e /tmp/ok");
    ASSERT_NULL(h.argv[3]);
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_STARTING);
    ASSERT_EQ_INT(h.interval_ns, 30 * S);
    ASSERT_EQ_INT(h.timeout_ns, 30 * S);
    ASSERT_EQ_INT(h.start_period_ns, 0);
    ASSERT_EQ_INT(h.start_interval_ns, 5 * S);
    ASSERT_EQ_INT(h.retries, 3);
    exec_health_release(&h);

    const char *cmd[] = {"CMD", "cat", "/etc/hostname", NULL};
    c.test = cmd;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 0);
    ASSERT_EQ_STR(h.argv[0], "cat");
    ASSERT_EQ_STR(h.argv[1], "/etc/hostname");
    ASSERT_NULL(h.argv[2]);
    exec_health_release(&h);

    c.interval_ns = 500000; /* 0.5 ms */
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Interval in Healthcheck cannot be less than 1ms");
    c.interval_ns = 0;
    c.timeout_ns = 1;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Timeout in Healthcheck cannot be less than 1ms");
    c.timeout_ns = 0;
    c.retries = -1;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "Retries in Healthcheck cannot be negative");
    c.retries = 0;
    const char *odd[] = {"HTTP", "/", NULL};
    c.test = odd;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), -ERR_INVALID);
    ASSERT_CONTAINS(e.msg, "unknown healthcheck type \"HTTP\"");
    const char *empty[] = {"CMD", NULL};
    c.test = empty;
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), -ERR_INVALID);
}

TEST(exec_health_streaks_and_retries)
{
    struct exec_health h;
    struct err e = {0};
    const char *sh[] = {"CMD-SHELL", "x", NULL};
    struct exec_healthcheck c = {.test = sh, .interval_ns = 200 * MS, .retries = 2};
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 0);
    int64_t now = T0;
    ASSERT_EQ_INT(exec_health_delay(&h, now), 200 * MS);
    /* a failure, then a success: healthy, the streak reset */
    now += 200 * MS;
    ASSERT_FALSE(exec_health_record(&h, now, now + MS, 1, "no\n", 3));
    ASSERT_EQ_INT(h.failing_streak, 1);
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_STARTING);
    now += 201 * MS;
    ASSERT_TRUE(exec_health_record(&h, now, now + MS, 0, "", 0));
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_HEALTHY);
    ASSERT_EQ_INT(h.failing_streak, 0);
    /* retries failures in a row: unhealthy; one success: healthy again */
    now += 201 * MS;
    ASSERT_FALSE(exec_health_record(&h, now, now + MS, 1, "", 0));
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_HEALTHY);
    now += 201 * MS;
    ASSERT_TRUE(exec_health_record(&h, now, now + MS, -1, "Health check exceeded timeout", 29));
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_UNHEALTHY);
    ASSERT_EQ_INT(h.failing_streak, 2);
    now += 201 * MS;
    ASSERT_FALSE(exec_health_record(&h, now, now + MS, 2, "", 0));
    ASSERT_EQ_INT(h.failing_streak, 3);
    now += 201 * MS;
    ASSERT_TRUE(exec_health_record(&h, now, now + MS, 0, "ok", 2));
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_HEALTHY);
    /* the log keeps the last five, oldest first */
    ASSERT_EQ_INT(h.n_log, 5);
    ASSERT_EQ_INT(h.log[0].exit_code, 0);
    ASSERT_EQ_INT(h.log[4].exit_code, 0);
    ASSERT_EQ_STR(h.log[4].output, "ok");
    ASSERT_EQ_INT(h.log[2].exit_code, -1);
    exec_health_release(&h);
}

TEST(exec_health_start_period_and_start_interval)
{
    struct exec_health h;
    struct err e = {0};
    const char *sh[] = {"CMD-SHELL", "x", NULL};
    struct exec_healthcheck c = {.test = sh,
                                 .interval_ns = 10 * S,
                                 .start_period_ns = 3 * S,
                                 .start_interval_ns = 500 * MS,
                                 .retries = 1};
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 0);
    /* within the start period, starting: the start interval; failures do not count */
    ASSERT_EQ_INT(exec_health_delay(&h, T0), 500 * MS);
    int64_t now = T0 + 500 * MS;
    ASSERT_FALSE(exec_health_record(&h, now, now + MS, 1, "", 0));
    ASSERT_EQ_INT(h.failing_streak, 0);
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_STARTING);
    ASSERT_EQ_INT(exec_health_delay(&h, now + MS), 500 * MS);
    /* a probe that starts after the start period counts (retries 1: unhealthy at once) */
    now = T0 + 3 * S;
    ASSERT_EQ_INT(exec_health_delay(&h, now), 10 * S);
    ASSERT_TRUE(exec_health_record(&h, now, now + MS, 1, "", 0));
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_UNHEALTHY);
    exec_health_release(&h);

    /* healthy within the start period: failures count from then on, the interval applies */
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 0);
    now = T0 + 500 * MS;
    ASSERT_TRUE(exec_health_record(&h, now, now + MS, 0, "", 0));
    ASSERT_EQ_INT(exec_health_delay(&h, now + MS), 10 * S);
    now += 600 * MS;
    ASSERT_TRUE(exec_health_record(&h, now, now + MS, 1, "", 0));
    ASSERT_EQ_INT(h.status, EXEC_HEALTH_UNHEALTHY);
    exec_health_release(&h);
}

TEST(exec_health_output_and_json)
{
    struct exec_health h;
    struct err e = {0};
    const char *sh[] = {"CMD-SHELL", "x", NULL};
    struct exec_healthcheck c = {.test = sh};
    ASSERT_EQ_INT(exec_health_init(&h, &c, T0, &e), 0);
    char big[5000];
    memset(big, 'a', sizeof(big));
    ASSERT_FALSE(exec_health_record(&h, T0 + S, T0 + S + 250 * MS, 1, big, sizeof(big)));
    ASSERT_EQ_INT(strlen(h.log[0].output), 4096 + 3);
    ASSERT_EQ_STR(h.log[0].output + 4096 - 3, "aaa...");
    /* exactly the limit: not cut */
    ASSERT_FALSE(exec_health_record(&h, T0 + 2 * S, T0 + 2 * S, 1, big, 4096));
    ASSERT_EQ_INT(strlen(h.log[1].output), 4096);
    /* bytes that are not UTF-8 become U+FFFD */
    ASSERT_TRUE(exec_health_record(&h, T0 + 3 * S, T0 + 3 * S + 5, 7,
                                   "a\xff"
                                   "b\n",
                                   4));
    ASSERT_EQ_STR(h.log[2].output, "a\xEF\xBF\xBD"
                                   "b\n");
    json_t *j = exec_health_json(&h);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "Status")), "unhealthy");
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "FailingStreak")), 3);
    json_t *l0 = json_array_get(json_object_get(j, "Log"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(l0, "Start")), "2023-11-14T22:13:21Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(l0, "End")), "2023-11-14T22:13:21.25Z");
    ASSERT_EQ_INT(json_integer_value(json_object_get(l0, "ExitCode")), 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "Log")), 3);
    json_decref(j);
    exec_health_release(&h);
}

TEST(exec_duration_text_as_go)
{
    char b[32];
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {
        {0, "0s"},         {200 * MS, "200ms"},           {30 * S, "30s"}, {1500 * MS, "1.5s"},
        {90 * S, "1m30s"}, {3600 * S, "1h0m0s"},          {1500, "1.5µs"}, {1234567, "1.234567ms"},
        {7, "7ns"},        {61 * S + 5 * MS, "1m1.005s"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        exec_duration_text(cases[i].ns, b, sizeof(b));
        ASSERT_EQ_STR(b, cases[i].want);
    }
}
