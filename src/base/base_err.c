/* base_err.c — the one error type: a kind (mapped to an HTTP status) and a message.
 * Any thread; a struct err belongs to its caller. */
#include "base.h"

#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int kind, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->kind = kind;
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return -kind;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
    if (!e)
        return -ERR_INTERNAL;
    char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
    return -e->kind;
}

void err_clear(struct err *e)
{
    e->kind = ERR_NONE;
    e->msg[0] = 0;
}

int err_http_status(int kind)
{
    switch (kind) {
    case ERR_INVALID:
        return 400;
    case ERR_UNAUTHORIZED:
        return 401;
    case ERR_FORBIDDEN:
        return 403;
    case ERR_NOT_FOUND:
        return 404;
    case ERR_CONFLICT:
        return 409;
    case ERR_TOO_LARGE:
        return 413;
    case ERR_NOT_IMPLEMENTED:
        return 501;
    case ERR_UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}
