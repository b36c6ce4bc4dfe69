/* test_base.c — unit tests for base: ids, base36, buffers, errors, time, names. */
#include "base/base.h"
#include "harness.h"

TEST(base_id_format)
{
    char a[ID_LEN + 1], b[ID_LEN + 1];
    id_new(a);
    id_new(b);
    ASSERT_EQ_INT(strlen(a), 25);
    ASSERT_TRUE(id_valid(a));
    ASSERT_TRUE(strcmp(a, b) != 0);
    ASSERT_FALSE(id_valid("ABC"));
    ASSERT_FALSE(id_valid("abcdefghijklmnopqrstuvwx-"));
}

TEST(base_base36)
{
    uint8_t v[] = {0x01, 0x00};
    char *s = base36_encode(v, 2, 0);
    ASSERT_EQ_STR(s, "74"); /* 256 = 7*36 + 4 */
    free(s);
    s = base36_encode(v, 2, 5);
    ASSERT_EQ_STR(s, "00074");
    free(s);
}

TEST(base_buf)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, "hello ");
    buf_printf(&b, "%d", 42);
    ASSERT_EQ_STR(b.p, "hello 42");
    buf_consume(&b, 6);
    ASSERT_EQ_STR(b.p, "42");
    buf_release(&b);
}

TEST(base_err)
{
    struct err e;
    ASSERT_EQ_INT(err_set(&e, ERR_NOT_FOUND, "node %s not found", "x"), -ERR_NOT_FOUND);
    err_wrap(&e, "lookup");
    ASSERT_EQ_STR(e.msg, "lookup: node x not found");
    ASSERT_EQ_INT(err_http_status(e.kind), 404);
    ASSERT_EQ_INT(err_http_status(ERR_UNAVAILABLE), 503);
}

TEST(base_time_roundtrip)
{
    int64_t ns;
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:10:29.123456789Z", &ns), 0);
    char out[40];
    time_format_rfc3339(ns, out);
    ASSERT_EQ_STR(out, "2026-11-21T21:10:29.123456789Z");
    ASSERT_EQ_INT(time_parse_rfc3339("garbage", &ns), NUM_SYNTAX);
    time_format_rfc3339(1795295544LL * 1000000000LL + 120000000, out);
    ASSERT_EQ_STR(out, "2026-11-21T21:12:24.12Z");
    time_format_rfc3339(1795295544LL * 1000000000LL, out);
    ASSERT_EQ_STR(out, "2026-11-21T21:12:24Z");
}

TEST(base_names)
{
    ASSERT_TRUE(name_valid("web_1.a-b"));
    ASSERT_FALSE(name_valid("-web"));
    ASSERT_FALSE(name_valid(""));
    ASSERT_FALSE(name_valid("a/b"));
}

TEST(base_rate_limiter)
{
    const int64_t s = 1000000000LL;
    struct rate_table *t = rate_table_new(2, 3, s); /* 3 failures, then one per second */
    int64_t now = 5 * s;
    ASSERT_FALSE(rate_blocked(t, "10.0.0.1", now));
    ASSERT_FALSE(rate_failed(t, "10.0.0.1", now));
    ASSERT_FALSE(rate_failed(t, "10.0.0.1", now));
    ASSERT_TRUE(rate_failed(t, "10.0.0.1", now)); /* the third used the last try */
    ASSERT_TRUE(rate_blocked(t, "10.0.0.1", now));
    ASSERT_FALSE(rate_blocked(t, "10.0.0.2", now)); /* keys are apart */
    ASSERT_TRUE(rate_blocked(t, "10.0.0.1", now + s - 1));
    /* one try comes back per second, no more */
    ASSERT_FALSE(rate_blocked(t, "10.0.0.1", now + s));
    ASSERT_TRUE(rate_failed(t, "10.0.0.1", now + s));
    ASSERT_TRUE(rate_blocked(t, "10.0.0.1", now + s));
    /* a long quiet spell restores the whole burst, not more */
    now += 100 * s;
    ASSERT_FALSE(rate_failed(t, "10.0.0.1", now));
    ASSERT_FALSE(rate_failed(t, "10.0.0.1", now));
    ASSERT_TRUE(rate_failed(t, "10.0.0.1", now));
    /* a full table forgets the key seen longest ago: .1 (fresh) stays, .2 is evicted by .3 */
    ASSERT_FALSE(rate_failed(t, "10.0.0.2", now - 1));
    ASSERT_FALSE(rate_failed(t, "10.0.0.3", now + 1));
    ASSERT_TRUE(rate_blocked(t, "10.0.0.1", now + 1));
    /* time going backwards never adds tries */
    ASSERT_TRUE(rate_blocked(t, "10.0.0.1", now - 10 * s));
    ASSERT_TRUE(rate_blocked(t, "10.0.0.1", now + 1)); /* ... nor later */
    rate_table_free(t);
    rate_table_free(NULL);
}

TEST(base_strmap)
{
    struct strmap *m = strmap_new();
    char k[32];
    /* many keys: growth and probing; values are the numbers + 1 */
    for (uintptr_t i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key-%lu", (unsigned long)i);
        ASSERT_NULL(strmap_put(m, k, (void *)(i + 1)));
    }
    ASSERT_EQ_INT(strmap_len(m), 5000);
    snprintf(k, sizeof(k), "key-%d", 17);
    ASSERT_TRUE(strmap_put(m, k, (void *)1000) == (void *)18); /* replace gives the old */
    ASSERT_TRUE(strmap_put(m, k, (void *)18) == (void *)1000);
    /* delete every third: the rest must stay reachable (backward shift keeps runs whole) */
    for (uintptr_t i = 0; i < 5000; i += 3) {
        snprintf(k, sizeof(k), "key-%lu", (unsigned long)i);
        ASSERT_TRUE(strmap_del(m, k) == (void *)(i + 1));
    }
    ASSERT_NULL(strmap_del(m, "key-0"));
    for (uintptr_t i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "key-%lu", (unsigned long)i);
        void *want = i % 3 ? (void *)(i + 1) : NULL;
        ASSERT_TRUE(strmap_get(m, k) == want);
    }
    size_t it = 0, seen = 0;
    const char *key;
    void *v;
    while (strmap_next(m, &it, &key, &v)) {
        ASSERT_TRUE(strmap_get(m, key) == v);
        seen++;
    }
    ASSERT_EQ_INT(seen, strmap_len(m));
    ASSERT_EQ_INT(seen, 5000 - 1667);
    strmap_free(m);
    strmap_free(NULL);
}

TEST(base_num_parse_as_go)
{
    uint64_t u = 7;
    int64_t i = 7;
    ASSERT_EQ_INT(num_parse_u64("18446744073709551615", &u), 0);
    ASSERT_TRUE(u == UINT64_MAX);
    ASSERT_EQ_INT(num_parse_u64("18446744073709551616", &u), NUM_RANGE);
    ASSERT_EQ_INT(num_parse_u64("99999999999999999999999", &u), NUM_RANGE);
    ASSERT_EQ_INT(num_parse_u64("+5", &u), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_u64(" -1", &u), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_u64("-1", &u), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_u64("", &u), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_u64("5 ", &u), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_u64("0x10", &u), NUM_SYNTAX);
    ASSERT_TRUE(u == UINT64_MAX); /* untouched on failure */
    ASSERT_EQ_INT(num_parse_u64("0042", &u), 0);
    ASSERT_EQ_INT(u, 42);
    ASSERT_EQ_INT(num_parse_i64("+5", &i), 0);
    ASSERT_EQ_INT(i, 5);
    ASSERT_EQ_INT(num_parse_i64("-9223372036854775808", &i), 0);
    ASSERT_TRUE(i == INT64_MIN);
    ASSERT_EQ_INT(num_parse_i64("9223372036854775808", &i), NUM_RANGE);
    ASSERT_EQ_INT(num_parse_i64("-9223372036854775809", &i), NUM_RANGE);
    ASSERT_EQ_INT(num_parse_i64("-", &i), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_i64("+-1", &i), NUM_SYNTAX);
    ASSERT_EQ_STR(num_err_word(NUM_RANGE), "value out of range");
    ASSERT_EQ_STR(num_err_word(NUM_SYNTAX), "invalid syntax");
}

TEST(base_time_parse_out_of_range)
{
    int64_t ns = 0;
    /* seconds × 10⁹ used to overflow (UBSan abort): now a range error */
    ASSERT_EQ_INT(time_parse_unix("99999999999", &ns), NUM_RANGE);
    ASSERT_EQ_INT(time_parse_unix("-99999999999", &ns), NUM_RANGE);
    ASSERT_EQ_INT(time_parse_unix("9223372036.854775808", &ns), NUM_RANGE);
    ASSERT_EQ_INT(time_parse_unix("9223372036.854775807", &ns), 0);
    ASSERT_TRUE(ns == INT64_MAX);
    ASSERT_EQ_INT(time_parse_unix("1.5", &ns), 0);
    ASSERT_EQ_INT(ns, 1500000000);
    ASSERT_EQ_INT(time_parse_unix("-1.5", &ns), 0);
    ASSERT_EQ_INT(ns, -1500000000);
    ASSERT_EQ_INT(time_parse_unix("+2", &ns), 0); /* strconv.ParseInt takes a '+' */
    ASSERT_EQ_INT(ns, 2000000000);
    ASSERT_EQ_INT(time_parse_unix("1.", &ns), NUM_SYNTAX);
    ASSERT_EQ_INT(time_parse_unix("1.x", &ns), NUM_SYNTAX);
    ASSERT_EQ_INT(time_parse_unix(" 1", &ns), NUM_SYNTAX);
    ASSERT_EQ_INT(time_parse_rfc3339("0001-01-01T00:00:00Z", &ns), NUM_RANGE);
    ASSERT_EQ_INT(time_parse_rfc3339("9999-12-31T23:59:59Z", &ns), NUM_RANGE);
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:10:29+01:00", &ns), 0);
    ASSERT_EQ_INT(ns, 1795291829LL * 1000000000LL);
    /* a short offset used to step past the end of the string */
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:10:29+1:2", &ns), NUM_SYNTAX);
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:10:29+01:0", &ns), NUM_SYNTAX);
    ASSERT_EQ_INT(time_parse_rfc3339(" 2026-11-21T21:10:29Z", &ns), NUM_SYNTAX);
    ASSERT_EQ_INT(time_parse_rfc3339("2026-11-21T21:10:29.Z", &ns), NUM_SYNTAX);
}

TEST(base_parse_bool_as_go)
{
    bool b = false;
    ASSERT_EQ_INT(num_parse_bool("t", &b), 0);
    ASSERT_TRUE(b);
    ASSERT_EQ_INT(num_parse_bool("TRUE", &b), 0);
    ASSERT_TRUE(b);
    ASSERT_EQ_INT(num_parse_bool("False", &b), 0);
    ASSERT_FALSE(b);
    ASSERT_EQ_INT(num_parse_bool("0", &b), 0);
    ASSERT_FALSE(b);
    ASSERT_EQ_INT(num_parse_bool("yes", &b), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_bool("tRUE", &b), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_bool(" true", &b), NUM_SYNTAX);
    ASSERT_EQ_INT(num_parse_bool("", &b), NUM_SYNTAX);
}
