/* test_api_services.c — the pure parts of /services: ServiceStatus counting as dockerd
 * computes it, and the list filters. */
#include "api/api_int.h"
#include "harness.h"

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, 0, &je);
    if (!v)
        abort();
    return v;
}

static json_t *task(const char *svc, const char *desired, const char *state)
{
    return json_pack("{s:s, s:s, s:{s:s}}", "ServiceID", svc, "DesiredState", desired, "Status",
                     "State", state);
}

TEST(api_service_status_replicated_and_jobs)
{
    json_t *tasks = json_array();
    json_array_append_new(tasks, task("s1", "running", "running"));
    json_array_append_new(tasks, task("s1", "running", "pending"));
    json_array_append_new(tasks, task("s1", "shutdown", "running")); /* being stopped */
    json_array_append_new(tasks, task("s2", "complete", "complete"));
    json_array_append_new(tasks, task("s2", "complete", "complete"));
    json_array_append_new(tasks, task("s3", "running", "running"));
    json_array_append_new(tasks, task("s3", "shutdown", "shutdown"));
    json_array_append_new(tasks, task("s4", "complete", "complete"));
    struct api_service_status st;

    json_t *s1 = J("{\"ID\":\"s1\",\"Spec\":{\"Mode\":{\"Replicated\":{\"Replicas\":3}}}}");
    api_service_status_count(s1, tasks, &st);
    ASSERT_EQ_INT(st.running, 1);
    ASSERT_EQ_INT(st.desired, 3);
    ASSERT_EQ_INT(st.completed, 0);

    json_t *s2 = J("{\"ID\":\"s2\",\"Spec\":{\"Mode\":{\"ReplicatedJob\":{\"MaxConcurrent\":1,"
                   "\"TotalCompletions\":2}}}}");
    api_service_status_count(s2, tasks, &st);
    ASSERT_EQ_INT(st.running, 0);
    ASSERT_EQ_INT(st.desired, 1); /* MaxConcurrent, as the transcript's rec-job shows */
    ASSERT_EQ_INT(st.completed, 2);

    json_t *s3 = J("{\"ID\":\"s3\",\"Spec\":{\"Mode\":{\"Global\":{}}}}");
    api_service_status_count(s3, tasks, &st);
    ASSERT_EQ_INT(st.running, 1);
    ASSERT_EQ_INT(st.desired, 1);

    json_t *s4 = J("{\"ID\":\"s4\",\"Spec\":{\"Mode\":{\"GlobalJob\":{}}}}");
    api_service_status_count(s4, tasks, &st);
    ASSERT_EQ_INT(st.desired, 0); /* rec-gjob: 0/0 (1/1 completed) */
    ASSERT_EQ_INT(st.completed, 1);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(s4);
    json_decref(tasks);
}

static int filt(const char *raw, struct api_filters *f)
{
    struct err e;
    if (api_filters_decode(raw, strlen(raw), f, &e) < 0)
        return -1;
    return api_service_filters_check(f, &e);
}

TEST(api_service_filters)
{
    json_t *svc = J("{\"ID\":\"abc123\",\"Spec\":{\"Name\":\"web\",\"Labels\":{\"team\":\"core\"},"
                    "\"Mode\":{\"ReplicatedJob\":{}}}}");
    struct api_filters f = {0};
    ASSERT_EQ_INT(filt("{\"mode\":[\"replicated-job\"],\"name\":[\"we\"]}", &f), 0);
    ASSERT_TRUE(api_service_filters_match(&f, svc));
    api_filters_release(&f);
    ASSERT_EQ_INT(filt("{\"mode\":[\"replicated\"]}", &f), 0);
    ASSERT_TRUE(!api_service_filters_match(&f, svc));
    api_filters_release(&f);
    ASSERT_EQ_INT(filt("{\"id\":[\"abc\"],\"label\":[\"team=core\"]}", &f), 0);
    ASSERT_TRUE(api_service_filters_match(&f, svc));
    api_filters_release(&f);
    ASSERT_EQ_INT(filt("{\"label\":[\"team=other\"]}", &f), 0);
    ASSERT_TRUE(!api_service_filters_match(&f, svc));
    api_filters_release(&f);
    ASSERT_TRUE(filt("{\"mode\":[\"bogus\"]}", &f) < 0);
    api_filters_release(&f);
    ASSERT_TRUE(filt("{\"nope\":[\"x\"]}", &f) < 0);
    api_filters_release(&f);
    json_decref(svc);
}

TEST(api_task_name_and_up_to_date)
{
    struct store *st = store_new();
    store_apply_put(st, STORE_SERVICE,
                    J("{\"ID\":\"svc1\",\"Version\":{\"Index\":1},\"Spec\":{\"Name\":\"web\","
                      "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}}}"));
    json_t *t1 = J("{\"ID\":\"t1\",\"ServiceID\":\"svc1\",\"Slot\":2,\"Spec\":{\"ContainerSpec\":"
                   "{\"Image\":\"busybox\"}}}");
    json_t *t2 = J("{\"ID\":\"t2\",\"ServiceID\":\"svc1\",\"NodeID\":\"n1\",\"Spec\":{"
                   "\"ContainerSpec\":{\"Image\":\"old\"}}}");
    json_t *t3 = J("{\"ID\":\"t3\",\"ServiceID\":\"gone\",\"Slot\":1,\"Spec\":{}}");
    char *n = api_task_name(st, t1);
    ASSERT_EQ_STR(n, "web.2.t1");
    free(n);
    n = api_task_name(st, t2);
    ASSERT_EQ_STR(n, "web.n1.t2");
    free(n);
    ASSERT_TRUE(api_task_up_to_date(st, t1));
    ASSERT_FALSE(api_task_up_to_date(st, t2));
    ASSERT_FALSE(api_task_up_to_date(st, t3));
    json_decref(t1);
    json_decref(t2);
    json_decref(t3);
    store_free(st);
}
