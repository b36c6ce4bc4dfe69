/* exec_health.c — a container's healthcheck as Docker's daemon keeps it (daemon/health.go):
 * the probe's command, when the next probe is due, and what a result does to the status,
 * the failing streak and the log of the last five results. Pure: no I/O, no clock (every
 * decision takes `now` or the result's own times), so a unit test drives it with a fake
 * clock; exec_core.c runs the probes and the timers. One thread (the loop's).
 *
 * Rules (moby): the status starts as "starting"; a probe that exits 0 makes it healthy and
 * resets the streak; any other result (a timeout is exit -1) adds one to the streak, except
 * while starting within the start period, and retries failures in a row make it unhealthy.
 * The next probe is due an interval after the previous one ended (after the start for the
 * first); while starting within the start period, start_interval is used instead. */
#include "exec/exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_DURATION_NS 1000000LL /* Docker's containertypes.MinimumDuration: 1 ms */

const char *exec_health_status_name(enum exec_health_status s)
{
    switch (s) {
    case EXEC_HEALTH_STARTING:
        return "starting";
    case EXEC_HEALTH_HEALTHY:
        return "healthy";
    case EXEC_HEALTH_UNHEALTHY:
        return "unhealthy";
    case EXEC_HEALTH_NONE:
        break;
    }
    return "none";
}

void exec_duration_text(int64_t ns, char *out, size_t cap)
{
    /* Go's time.Duration.String: "0s", "750ms", "1.5s", "2m30s", "1h0m0s" */
    const char *sign = ns < 0 ? "-" : "";
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    char frac[16] = "";
    if (u == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    if (u < 1000000000ULL) {
        const char *unit = "ns";
        uint64_t whole = u, div = 1;
        if (u >= 1000000ULL)
            unit = "ms", div = 1000000ULL;
        else if (u >= 1000ULL)
            unit = "µs", div = 1000ULL;
        whole = u / div;
        uint64_t rest = u % div;
        if (rest) {
            int digits = div == 1000000ULL ? 6 : 3;
            snprintf(frac, sizeof(frac), ".%0*llu", digits, (unsigned long long)rest);
            for (size_t n = strlen(frac); n > 1 && frac[n - 1] == '0'; n--)
                frac[n - 1] = 0;
        }
        snprintf(out, cap, "%s%llu%s%s", sign, (unsigned long long)whole, frac, unit);
        return;
    }
    uint64_t secs = u / 1000000000ULL, nsec = u % 1000000000ULL;
    if (nsec) {
        snprintf(frac, sizeof(frac), ".%09llu", (unsigned long long)nsec);
        for (size_t n = strlen(frac); n > 1 && frac[n - 1] == '0'; n--)
            frac[n - 1] = 0;
    }
    uint64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
    if (h)
        snprintf(out, cap, "%s%lluh%llum%llu%ss", sign, (unsigned long long)h,
                 (unsigned long long)m, (unsigned long long)s, frac);
    else if (m)
        snprintf(out, cap, "%s%llum%llu%ss", sign, (unsigned long long)m, (unsigned long long)s,
                 frac);
    else
        snprintf(out, cap, "%s%llu%ss", sign, (unsigned long long)s, frac);
}

static int64_t or_default(int64_t v, int64_t def)
{
    return v > 0 ? v : def;
}

int exec_health_init(struct exec_health *h, const struct exec_healthcheck *c, int64_t started_ns,
                     struct err *e)
{
    memset(h, 0, sizeof(*h));
    const char *const *t = c ? c->test : NULL;
    if (!t || !t[0] || !strcmp(t[0], "NONE"))
        return 1;
    if (c->interval_ns < 0 || (c->interval_ns && c->interval_ns < MIN_DURATION_NS))
        return err_set(e, ERR_INVALID, "Interval in Healthcheck cannot be less than 1ms");
    if (c->timeout_ns < 0 || (c->timeout_ns && c->timeout_ns < MIN_DURATION_NS))
        return err_set(e, ERR_INVALID, "Timeout in Healthcheck cannot be less than 1ms");
    if (c->start_period_ns < 0 || (c->start_period_ns && c->start_period_ns < MIN_DURATION_NS))
        return err_set(e, ERR_INVALID, "StartPeriod in Healthcheck cannot be less than 1ms");
    if (c->start_interval_ns < 0 ||
        (c->start_interval_ns && c->start_interval_ns < MIN_DURATION_NS))
        return err_set(e, ERR_INVALID, "StartInterval in Healthcheck cannot be less than 1ms");
    if (c->retries < 0)
        return err_set(e, ERR_INVALID, "Retries in Healthcheck cannot be negative");
    size_t n = 0;
    if (!strcmp(t[0], "CMD")) {
        if (!t[1] || !t[1][0])
            return err_set(e, ERR_INVALID, "Healthcheck CMD has no command");
        for (size_t i = 1; t[i]; i++)
            n++;
        h->argv = xcalloc(n + 1, sizeof(*h->argv));
        for (size_t i = 0; i < n; i++)
            h->argv[i] = xstrdup(t[i + 1]);
    } else if (!strcmp(t[0], "CMD-SHELL")) {
        if (!t[1] || t[2])
            return err_set(e, ERR_INVALID, "Healthcheck CMD-SHELL takes exactly one command");
        h->argv = xcalloc(4, sizeof(*h->argv));
        h->argv[0] = xstrdup("/bin/sh");
        h->argv[1] = xstrdup("-c");
        h->argv[2] = xstrdup(t[1]);
    } else {
        return err_set(e, ERR_INVALID,
                       "unknown healthcheck type \"%s\" (expected CMD, CMD-SHELL or NONE)", t[0]);
    }
    h->interval_ns = or_default(c->interval_ns, EXEC_HEALTH_DEFAULT_INTERVAL_NS);
    h->timeout_ns = or_default(c->timeout_ns, EXEC_HEALTH_DEFAULT_TIMEOUT_NS);
    h->start_period_ns = or_default(c->start_period_ns, 0);
    h->start_interval_ns = or_default(c->start_interval_ns, EXEC_HEALTH_DEFAULT_START_INTERVAL_NS);
    h->retries = c->retries > 0 ? c->retries : EXEC_HEALTH_DEFAULT_RETRIES;
    h->started_ns = started_ns;
    h->status = EXEC_HEALTH_STARTING;
    return 0;
}

void exec_health_release(struct exec_health *h)
{
    if (!h)
        return;
    for (size_t i = 0; h->argv && h->argv[i]; i++)
        free(h->argv[i]);
    free(h->argv);
    for (size_t i = 0; i < h->n_log; i++)
        free(h->log[i].output);
    memset(h, 0, sizeof(*h));
}

int64_t exec_health_delay(const struct exec_health *h, int64_t now_ns)
{
    if (now_ns - h->started_ns >= h->start_period_ns)
        return h->interval_ns;
    return h->status == EXEC_HEALTH_STARTING ? h->start_interval_ns : h->interval_ns;
}

/* Copies out[0..len) as valid UTF-8 (JSON needs it; Go's encoder writes U+FFFD for a bad
 * byte, and so does this). */
static char *utf8_clean(const char *s, size_t len)
{
    struct buf b = BUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n > 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && n == 2)
            ok = c >= 0xC2; /* no overlong forms */
        if (ok && n == 3)
            ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
        if (ok && n == 4)
            ok = c <= 0xF4 && !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
        if (ok && c == 0)
            ok = false; /* keep the C string whole */
        if (!ok) {
            buf_adds(&b, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        buf_add(&b, s + i, n);
        i += n;
    }
    buf_adds(&b, "");
    return buf_detach(&b, NULL);
}

bool exec_health_record(struct exec_health *h, int64_t start_ns, int64_t end_ns, int exit_code,
                        const char *out, size_t len)
{
    enum exec_health_status old = h->status;
    struct exec_health_result r = {.start_ns = start_ns, .end_ns = end_ns, .exit_code = exit_code};
    bool cut = len > EXEC_HEALTH_OUTPUT_MAX;
    char *clean = utf8_clean(out ? out : "", cut ? EXEC_HEALTH_OUTPUT_MAX : len);
    r.output = cut ? xasprintf("%s...", clean) : clean;
    if (cut)
        free(clean);
    if (h->n_log == EXEC_HEALTH_LOG_MAX) {
        free(h->log[0].output);
        memmove(h->log, h->log + 1, (EXEC_HEALTH_LOG_MAX - 1) * sizeof(h->log[0]));
        h->n_log--;
    }
    h->log[h->n_log++] = r;
    if (exit_code == 0) {
        h->failing_streak = 0;
        h->status = EXEC_HEALTH_HEALTHY;
    } else if (h->status != EXEC_HEALTH_STARTING ||
               start_ns - h->started_ns >= h->start_period_ns) {
        /* a failure within the start period of a container never healthy does not count */
        if (++h->failing_streak >= h->retries)
            h->status = EXEC_HEALTH_UNHEALTHY;
    }
    return h->status != old;
}

json_t *exec_health_json(const struct exec_health *h)
{
    json_t *log = json_array();
    for (size_t i = 0; i < h->n_log; i++) {
        char s[40], e[40];
        time_format_rfc3339(h->log[i].start_ns, s);
        time_format_rfc3339(h->log[i].end_ns, e);
        json_array_append_new(log,
                              json_pack("{s:s, s:s, s:i, s:s}", "Start", s, "End", e, "ExitCode",
                                        h->log[i].exit_code, "Output", h->log[i].output));
    }
    return json_pack("{s:s, s:i, s:o}", "Status", exec_health_status_name(h->status),
                     "FailingStreak", h->failing_streak, "Log", log);
}
