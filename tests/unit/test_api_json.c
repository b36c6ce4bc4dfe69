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
