/* test_api_json.c — request bodies are decoded with Go's json.Decoder words. */
#include "api/api_int.h"
#include "harness.h"

static const char *decode_err(const char *s)
{
    static struct err e;
    json_t *j = api_json_decode(s, strlen(s), &e);
    if (j) {
        json_decref(j);
        return "(ok)";
    }
    return e.msg;
}

TEST(api_json_go_errors)
{
    ASSERT_EQ_STR(decode_err("{bad"),
                  "invalid character 'b' looking for beginning of object key string");
    ASSERT_EQ_STR(decode_err(""), "got EOF while reading request body");
    ASSERT_EQ_STR(decode_err("  \n"), "got EOF while reading request body");
    ASSERT_EQ_STR(decode_err("{\"a\":1"), "unexpected EOF");
    ASSERT_EQ_STR(decode_err("{\"a\" 1}"), "invalid character '1' after object key");
    ASSERT_EQ_STR(decode_err("{\"a\":1 \"b\"}"),
                  "invalid character '\"' after object key:value pair");
    ASSERT_EQ_STR(decode_err("[1 2]"), "invalid character '2' after array element");
    ASSERT_EQ_STR(decode_err("{\"a\":tru}"),
                  "invalid character '}' in literal true (expecting 'e')");
    ASSERT_EQ_STR(decode_err("{\"a\":-x}"), "invalid character 'x' in numeric literal");
    ASSERT_EQ_STR(decode_err("{\"a\":1.}"),
                  "invalid character '}' after decimal point in numeric literal");
    ASSERT_EQ_STR(decode_err("{\"a\":\"\\q\"}"), "invalid character 'q' in string escape code");
    ASSERT_EQ_STR(decode_err("x"), "invalid character 'x' looking for beginning of value");
    ASSERT_EQ_STR(decode_err("{\"a\":\"\n\"}"), "invalid character '\\n' in string literal");
}

TEST(api_json_accepts_values)
{
    ASSERT_EQ_STR(decode_err("{\"a\":[1,2.5e3,{\"b\":null}],\"c\":true}"), "(ok)");
    ASSERT_EQ_STR(decode_err("{} trailing"), "(ok)"); /* Decoder reads one value */
    ASSERT_EQ_STR(decode_err("[]"), "(ok)");
    ASSERT_EQ_STR(decode_err("\"s\""), "(ok)");
    ASSERT_EQ_STR(decode_err("-0.5E+2"), "(ok)");
}

TEST(api_json_random_input_never_crashes)
{
    unsigned seed = 7;
    char buf[64];
    const char alphabet[] = "{}[]\":,0123456789-+.eEtrufalsn \\u\n";
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
        struct err e;
        json_t *j = api_json_decode(buf, n, &e);
        json_decref(j);
    }
}

static const char *filters_err(const char *s, json_t **map)
{
    static struct err e;
    struct api_filters f = {0};
    int rc = api_filters_decode(s, strlen(s), &f, &e);
    if (map)
        *map = json_incref(f.map);
    api_filters_release(&f);
    return rc ? e.msg : "(ok)";
}

TEST(api_filters_as_moby)
{
    /* a value that is neither a set nor a list: used to read a freed key (ASan abort) */
    ASSERT_EQ_STR(filters_err("{\"name\":\"x\"}", NULL), "invalid filter");
    ASSERT_EQ_STR(filters_err("{\"name\":1,\"id\":{\"a\":true}}", NULL), "invalid filter");
    ASSERT_EQ_STR(filters_err("{\"role\":", NULL), "invalid filter");
    ASSERT_EQ_STR(filters_err("[]", NULL), "invalid filter");
    ASSERT_EQ_STR(filters_err("{} x", NULL), "invalid filter"); /* json.Unmarshal: one value */
    ASSERT_EQ_STR(filters_err("{\"name\":{\"x\":\"yes\"}}", NULL), "invalid filter");
    ASSERT_EQ_STR(filters_err("{\"name\":[\"x\",1]}", NULL), "invalid filter");
    /* both forms at once is neither form */
    ASSERT_EQ_STR(filters_err("{\"a\":{\"x\":true},\"b\":[\"y\"]}", NULL), "invalid filter");
    json_t *m = NULL;
    ASSERT_EQ_STR(filters_err("{\"name\":{\"x\":true,\"y\":false},\"id\":null}", &m), "(ok)");
    ASSERT_EQ_INT(json_array_size(json_object_get(m, "name")), 2); /* Args.Get: every key */
    ASSERT_EQ_INT(json_array_size(json_object_get(m, "id")), 0);
    json_decref(m);
    ASSERT_EQ_STR(filters_err("{\"name\":[\"x\"]}", &m), "(ok)");
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(m, "name"), 0)), "x");
    json_decref(m);
    ASSERT_EQ_STR(filters_err("null", NULL), "(ok)");
    ASSERT_EQ_STR(filters_err("", NULL), "(ok)");
}

TEST(api_events_time_bounds)
{
    struct err e;
    int64_t ns;
    ASSERT_EQ_INT(api_events_parse_time("since", "99999999999", &ns, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "invalid value for since: 99999999999: time out of range");
    ASSERT_EQ_INT(api_events_parse_time("since", "-99999999999", &ns, &e), -ERR_INVALID);
    ASSERT_EQ_INT(api_events_parse_time("since", "0001-01-01T00:00:00Z", &ns, &e), -ERR_INVALID);
    ASSERT_EQ_INT(api_events_parse_time("until", "soon", &ns, &e), -ERR_INVALID);
    ASSERT_EQ_STR(e.msg, "invalid value for until: soon");
    ASSERT_EQ_INT(api_events_parse_time("until", "1", &ns, &e), 0);
    ASSERT_EQ_INT(ns, 1000000000);
    ASSERT_EQ_INT(api_events_parse_time("until", "2026-11-21T21:10:29.5Z", &ns, &e), 0);
    ASSERT_EQ_INT(ns, 1795295429500000000LL);
}

TEST(api_json_refuses_nul_in_strings)
{
    ASSERT_EQ_STR(decode_err("{\"Labels\":{\"k\":\"x\\u0000y\"}}"),
                  "invalid value for Labels.k: strings may not contain the NUL character "
                  "(\\u0000)");
    ASSERT_EQ_STR(decode_err("{\"a\":[\"ok\",\"\\u0000\"]}"),
                  "invalid value for a[1]: strings may not contain the NUL character (\\u0000)");
    ASSERT_EQ_STR(decode_err("\"\\u0000\""),
                  "invalid value for the request body: strings may not contain the NUL "
                  "character (\\u0000)");
    ASSERT_EQ_STR(decode_err("{\"a\":{\"b\":\"fine\"},\"c\":\"\\u0001\"}"), "(ok)");
}

TEST(api_bool_value_as_httputils)
{
    ASSERT_TRUE(api_bool_value("1"));
    ASSERT_TRUE(api_bool_value("yes"));
    ASSERT_TRUE(api_bool_value("TRUE"));
    ASSERT_TRUE(api_bool_value("anything"));
    ASSERT_FALSE(api_bool_value(NULL));
    ASSERT_FALSE(api_bool_value(""));
    ASSERT_FALSE(api_bool_value(" 0 "));
    ASSERT_FALSE(api_bool_value("No"));
    ASSERT_FALSE(api_bool_value("FALSE"));
    ASSERT_FALSE(api_bool_value("none"));
    ASSERT_TRUE(api_bool_value("nonE!"));
}
