/* base_log.c — leveled logging to stderr with a UTC timestamp, like dockerd's text log.
 * Loop thread (not synchronised). */
#include "base.h"

#include <stdio.h>
#include <string.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level l)
{
    min_level = l;
}

int log_parse_level(const char *s)
{
    static const struct {
        const char *name;
        enum log_level l;
    } names[] = {{"debug", LOG_DEBUG},  {"info", LOG_INFO},   {"warn", LOG_WARN},
                 {"warning", LOG_WARN}, {"error", LOG_ERROR}, {"fatal", LOG_ERROR}};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (!strcmp(s, names[i].name))
            return (int)names[i].l;
    return -1;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
    static const char *const tags[] = {"debug", "info", "warning", "error"};
    if (l < min_level)
        return;
    char ts[40];
    time_format_rfc3339(time_now_ns(), ts);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "time=\"%s\" level=%s msg=\"%s\"\n", ts, tags[l], line);
}
