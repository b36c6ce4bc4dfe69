/* base_time.c — wall-clock time and RFC 3339 formatting/parsing in UTC. Any thread. */
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

int time_parse_rfc3339(const char *s, int64_t *ns)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    long frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 9)
                frac = frac * 10 + (*p - '0'), digits++;
            p++;
        }
        while (digits++ < 9)
            frac *= 10;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *ns = ((int64_t)timegm(&tm) - off) * 1000000000LL + frac;
    return 0;
}
