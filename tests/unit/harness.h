/* harness.h — shoal's own small unit-test harness.
 *
 * TEST(name) { ... } registers a test at load time. The runner (harness.c) forks one child per
 * test with a timeout, prints TAP lines and closes with "N passed, N failed, N skipped".
 * Assertions print both sides and end the child with status 1; SKIP() ends it with 77. */
#ifndef SHOAL_HARNESS_H
#define SHOAL_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, test_fn fn, int timeout_s);

#define TEST_T(name, timeout_s)                                                                    \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        harness_register(#name, test_##name, timeout_s);                                           \
    }                                                                                              \
    static void test_##name(void)
#define TEST(name) TEST_T(name, 30)

#define FAIL_AT(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "# skip: ");                                                               \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(77);                                                                                  \
    } while (0)

/* NEED_TOOL: a tool the test needs is missing. Skipped outside CI; with CI set in the
 * environment the test fails, so that a green CI run means every test ran. */
#define NEED_TOOL(...)                                                                             \
    do {                                                                                           \
        if (getenv("CI") && *getenv("CI")) {                                                       \
            fprintf(stderr, "# missing tool (CI is set, so this fails): ");                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
        SKIP(__VA_ARGS__);                                                                         \
    } while (0)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            FAIL_AT("expected true: %s", #c);                                                      \
    } while (0)
#define ASSERT_FALSE(c)                                                                            \
    do {                                                                                           \
        if (c)                                                                                     \
            FAIL_AT("expected false: %s", #c);                                                     \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_);                                     \
    } while (0)
#define ASSERT_NE_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            FAIL_AT("%s != %s: both %lld", #a, #b, a_);                                            \
    } while (0)
#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_))                                                          \
            FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            FAIL_AT("%s contains \"%s\": got \"%s\"", #hay, n_, h_ ? h_ : "(null)");               \
    } while (0)
#define ASSERT_NULL(p)                                                                             \
    do {                                                                                           \
        if ((p) != NULL)                                                                           \
            FAIL_AT("expected NULL: %s", #p);                                                      \
    } while (0)
#define ASSERT_NOT_NULL(p)                                                                         \
    do {                                                                                           \
        if ((p) == NULL)                                                                           \
            FAIL_AT("expected non-NULL: %s", #p);                                                  \
    } while (0)

#endif
