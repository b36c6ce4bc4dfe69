/* test_b64.c — unit tests for base64 (base_b64.c): RFC 4648 vectors, raw and padded forms,
 * rejection of bad characters, lengths and padding. */
#include "base/base.h"
#include "harness.h"

static const struct {
    const char *plain, *padded, *raw;
} b64_vectors[] = {
    /* RFC 4648 §10 */
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

TEST(b64_encode_vectors)
{
    for (size_t i = 0; i < ARRAY_SIZE(b64_vectors); i++) {
        const char *p = b64_vectors[i].plain;
        char *a = b64_encode(p, strlen(p), true);
        char *b = b64_encode(p, strlen(p), false);
        ASSERT_EQ_STR(a, b64_vectors[i].padded);
        ASSERT_EQ_STR(b, b64_vectors[i].raw);
        free(a);
        free(b);
    }
}

static void b64_check_decode(const char *in, const char *want)
{
    struct buf b = BUF_INIT;
    struct err e = {0};
    buf_adds(&b, "x"); /* decode appends */
    if (b64_decode(in, strlen(in), &b, &e) != 0)
        FAIL_AT("decode \"%s\" failed: %s", in, e.msg);
    ASSERT_EQ_INT(b.len, 1 + strlen(want));
    ASSERT_TRUE(memcmp(b.p + 1, want, strlen(want)) == 0);
    ASSERT_EQ_INT(b.p[b.len], 0);
    buf_release(&b);
}

TEST(b64_decode_vectors)
{
    for (size_t i = 0; i < ARRAY_SIZE(b64_vectors); i++) {
        b64_check_decode(b64_vectors[i].padded, b64_vectors[i].plain);
        b64_check_decode(b64_vectors[i].raw, b64_vectors[i].plain);
    }
    b64_check_decode("Zm9v\r\nYmFy\n", "foobar"); /* Go skips CR/LF too */
}

TEST(b64_binary_round_trip)
{
    uint8_t data[256];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(255 - i);
    for (size_t n = 0; n <= sizeof(data); n += 17) {
        for (int pad = 0; pad < 2; pad++) {
            char *s = b64_encode(data, n, pad);
            ASSERT_EQ_INT(strlen(s), pad ? (n + 2) / 3 * 4 : (n * 4 + 2) / 3);
            struct buf b = BUF_INIT;
            struct err e = {0};
            ASSERT_EQ_INT(b64_decode(s, strlen(s), &b, &e), 0);
            ASSERT_EQ_INT(b.len, n);
            ASSERT_TRUE(n == 0 || memcmp(b.p, data, n) == 0);
            buf_release(&b);
            free(s);
        }
    }
    /* The whole alphabet, including '+' and '/'. */
    uint8_t hi[3] = {0xfb, 0xff, 0xbf};
    char *s = b64_encode(hi, 3, true);
    ASSERT_EQ_STR(s, "+/+/");
    free(s);
}

TEST(b64_decode_rejects)
{
    const char *bad[] = {
        "Zm9v!",    /* bad char */
        "Zm-v",     /* url alphabet is not std */
        "Zm_v",     /* idem */
        "Zm9 v",    /* space */
        "Z",        /* one symbol: no whole byte */
        "Zm9vY",    /* idem after a full group */
        "Zg=",      /* incomplete padding */
        "Zg===",    /* too much padding */
        "Zm9v====", /* padding only group */
        "=",        /* padding alone */
        "Zg==Zm8=", /* data after padding */
        "Zm=9",     /* padding in the middle */
        "Zm9\x80",  /* high byte */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct buf b = BUF_INIT;
        struct err e = {0};
        buf_adds(&b, "keep");
        int rc = b64_decode(bad[i], strlen(bad[i]), &b, &e);
        if (rc != -ERR_INVALID)
            FAIL_AT("\"%s\" gave %d, want %d", bad[i], rc, -ERR_INVALID);
        ASSERT_EQ_INT(e.kind, ERR_INVALID);
        ASSERT_CONTAINS(e.msg, "base64");
        ASSERT_EQ_STR(b.p, "keep"); /* out untouched on failure */
        buf_release(&b);
    }
    /* An embedded NUL inside slen is a bad character, not the end. */
    struct buf b = BUF_INIT;
    ASSERT_EQ_INT(b64_decode("Zm9v\0Zm9v", 9, &b, NULL), -ERR_INVALID);
    buf_release(&b);
}
