/* base_num.c — decimal integers parsed as Go's strconv.ParseUint / ParseInt (base 10, 64
 * bits) parse them, so that a query parameter shoal accepts is one dockerd accepts.
 *
 * Invariants: the whole string must be digits (ParseInt also takes one leading '+' or '-');
 * no spaces, no empty string, no "0x"; a value outside the type's range is NUM_RANGE, never
 * a wrapped or clamped value. *out is written only on success. Pure functions; any thread. */
#include "base.h"

#include <string.h>

/* Accumulates the digits of s[0..] into *v; NUM_SYNTAX if a non-digit or nothing,
 * NUM_RANGE if the value exceeds limit. Go checks the syntax of the whole string first. */
static int digits(const char *s, uint64_t limit, uint64_t *v)
{
    if (!*s)
        return NUM_SYNTAX;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return NUM_SYNTAX;
    uint64_t n = 0;
    for (const char *p = s; *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (limit - d) / 10)
            return NUM_RANGE;
        n = n * 10 + d;
    }
    *v = n;
    return 0;
}

int num_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v;
    int rc = s ? digits(s, UINT64_MAX, &v) : NUM_SYNTAX;
    if (rc == 0)
        *out = v;
    return rc;
}

int num_parse_i64(const char *s, int64_t *out)
{
    if (!s)
        return NUM_SYNTAX;
    bool neg = s[0] == '-';
    if (s[0] == '-' || s[0] == '+')
        s++;
    uint64_t v;
    int rc = digits(s, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v);
    if (rc == 0)
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return rc;
}

int num_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; s && i < ARRAY_SIZE(yes); i++) {
        if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
            *out = !strcmp(s, yes[i]);
            return 0;
        }
    }
    return NUM_SYNTAX;
}

const char *num_err_word(int rc)
{
    return rc == NUM_RANGE ? "value out of range" : "invalid syntax";
}
