/* base_time.c — wall-clock time, RFC 3339 formatting/parsing in UTC, and Docker's
 * "seconds[.fraction]" timestamps. Invariant: a parsed time is int64 nanoseconds since the
 * epoch or NUM_RANGE, never a wrapped value (years outside 1678..2261 do not fit).
 * Any thread. */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void time_format_rfc3339_fixed(int64_t ns, char out[40])
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void time_format_rfc3339(int64_t ns, char out[40])
{
    time_t sec = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    /* Go's RFC3339Nano, as Docker prints: trailing zeros of the fraction dropped. */
    char fr[16] = "";
    if (frac) {
        snprintf(fr, sizeof(fr), ".%09ld", frac);
        size_t n = strlen(fr);
        while (fr[n - 1] == '0')
            fr[--n] = 0;
    }
    snprintf(out, 40, "%.19s%sZ", date, fr);
}

/* ns = sec * 1e9 + frac without overflowing int64. */
static int to_ns(int64_t sec, int64_t frac, int64_t *ns)
{
    int64_t v;
    if (__builtin_mul_overflow(sec, (int64_t)1000000000, &v) || __builtin_add_overflow(v, frac, &v))
        return NUM_RANGE;
    *ns = v;
    return 0;
}

/* Up to 9 digits of a fraction of a second as nanoseconds (further digits are dropped);
 * returns the end of the digits, or NULL if there is none. */
static const char *fraction(const char *p, int64_t *frac)
{
    int n = 0;
    int64_t f = 0;
    if (*p < '0' || *p > '9') /* at least one digit after the point */
        return NULL;
    for (; *p >= '0' && *p <= '9'; p++, n++)
        if (n < 9)
            f = f * 10 + (*p - '0');
    for (; n < 9; n++)
        f *= 10;
    *frac = f;
    return p;
}

static bool two_digits(const char *p, int *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return false;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

int time_parse_rfc3339(const char *s, int64_t *ns)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    /* strptime skips spaces and takes short fields: require the fixed RFC 3339 shape */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        bool ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9'
                                  : (s[i] == shape[i] || (shape[i] == 'T' && s[i] == 't'));
        if (!ok)
            return NUM_SYNTAX;
    }
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p || p != s + sizeof(shape) - 1)
        return NUM_SYNTAX;
    int64_t frac = 0;
    if (*p == '.' && !(p = fraction(p + 1, &frac)))
        return NUM_SYNTAX;
    long off = 0;
    int hh, mm;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && two_digits(p + 1, &hh) && p[3] == ':' &&
               two_digits(p + 4, &mm) && hh < 24 && mm < 60) {
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return NUM_SYNTAX;
    }
    if (*p)
        return NUM_SYNTAX;
    return to_ns((int64_t)timegm(&tm) - off, frac, ns);
}

int time_parse_unix(const char *s, int64_t *ns)
{
    const char *dot = strchr(s, '.');
    char *secs = dot ? xstrndup(s, (size_t)(dot - s)) : xstrdup(s);
    int64_t sec, frac = 0;
    int rc = num_parse_i64(secs, &sec);
    bool neg = secs[0] == '-';
    free(secs);
    if (rc)
        return rc;
    if (dot) {
        const char *end = fraction(dot + 1, &frac);
        if (!end || *end)
            return NUM_SYNTAX;
        if (neg)
            frac = -frac; /* "-1.5" is one and a half seconds before the epoch */
    }
    return to_ns(sec, frac, ns);
}
