/* bench_client.c — a tiny HTTP/1.1 latency probe for the Engine API over a unix socket.
 *
 * Usage: bench_client SOCKET PATH COUNT [WARMUP]
 * Sends COUNT sequential "GET PATH" requests on ONE keep-alive connection (after WARMUP
 * untimed ones, default 50), reads each response completely (Content-Length or chunked), and
 * prints one line: "n=COUNT p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=.. bytes=..".
 * Exits 1 if a response is not 200 or the connection breaks.
 *
 * Invariants: one request in flight at a time; the time of a request runs from just before
 * write() of the request to the moment its last body byte is read (CLOCK_MONOTONIC).
 * Single-threaded. Built by bench/api.sh with cc; not part of the shoal binary.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    char buf[1 << 16];
    size_t off, len; /* unread bytes are buf[off, len) */
};

static void die(const char *what)
{
    fprintf(stderr, "bench_client: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
    exit(1);
}

/* Make at least one more byte available; dies on EOF. */
static void fill(struct conn *c)
{
    if (c->off > 0 && c->off == c->len)
        c->off = c->len = 0;
    if (c->len == sizeof(c->buf)) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    ssize_t n;
    do {
        n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n == 0)
            errno = 0;
        die("read");
    }
    c->len += (size_t)n;
}

/* Reads one CRLF-terminated line into out (NUL-terminated, CRLF stripped). */
static void read_line(struct conn *c, char *out, size_t outsz)
{
    size_t n = 0;
    for (;;) {
        if (c->off == c->len)
            fill(c);
        char ch = c->buf[c->off++];
        if (ch == '\n')
            break;
        if (n + 1 < outsz)
            out[n++] = ch;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = 0;
}

static void skip_bytes(struct conn *c, size_t n)
{
    while (n > 0) {
        if (c->off == c->len)
            fill(c);
        size_t avail = c->len - c->off;
        size_t k = avail < n ? avail : n;
        c->off += k;
        n -= k;
    }
}

/* Reads one full response; returns the status code, adds the body size to *bytes. */
static int read_response(struct conn *c, size_t *bytes)
{
    char line[8192];
    read_line(c, line, sizeof(line));
    int status = 0;
    if (sscanf(line, "HTTP/1.%*d %d", &status) != 1) {
        errno = 0;
        die("status line");
    }
    long long clen = -1;
    int chunked = 0;
    for (;;) {
        read_line(c, line, sizeof(line));
        if (!line[0])
            break;
        if (!strncasecmp(line, "Content-Length:", 15))
            clen = atoll(line + 15);
        else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strstr(line, "chunked"))
            chunked = 1;
    }
    if (chunked) {
        for (;;) {
            read_line(c, line, sizeof(line));
            size_t n = strtoul(line, NULL, 16);
            if (n == 0) {
                do
                    read_line(c, line, sizeof(line));
                while (line[0]);
                break;
            }
            skip_bytes(c, n + 2);
            *bytes += n;
        }
    } else if (clen > 0) {
        skip_bytes(c, (size_t)clen);
        *bytes += (size_t)clen;
    }
    return status;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
    int i = (int)(p / 100.0 * n + 0.5) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return sorted[i];
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_client SOCKET PATH COUNT [WARMUP]\n");
        return 2;
    }
    int count = atoi(argv[3]);
    int warmup = argc > 4 ? atoi(argv[4]) : 50;
    if (count <= 0 || warmup < 0)
        return 2;

    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        die("calloc");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        die("socket path");
    }
    memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");

    char req[1024];
    int reqlen =
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: shoal-bench\r\n\r\n", argv[2]);
    if (reqlen <= 0 || (size_t)reqlen >= sizeof(req)) {
        errno = 0;
        die("path too long");
    }

    double *lat = calloc((size_t)count, sizeof(double));
    if (!lat)
        die("calloc");
    size_t bytes = 0;
    for (int i = 0; i < warmup + count; i++) {
        double t0 = now_ms();
        if (write(c->fd, req, (size_t)reqlen) != reqlen)
            die("write");
        size_t b = 0;
        int status = read_response(c, &b);
        double t1 = now_ms();
        if (status != 200) {
            fprintf(stderr, "bench_client: GET %s answered %d\n", argv[2], status);
            return 1;
        }
        if (i >= warmup) {
            lat[i - warmup] = t1 - t0;
            bytes = b;
        }
    }
    double sum = 0;
    for (int i = 0; i < count; i++)
        sum += lat[i];
    qsort(lat, (size_t)count, sizeof(double), cmp_double);
    printf("n=%d p50_ms=%.4f p90_ms=%.4f p99_ms=%.4f max_ms=%.4f mean_ms=%.4f bytes=%zu\n", count,
           pct(lat, count, 50), pct(lat, count, 90), pct(lat, count, 99), lat[count - 1],
           sum / count, bytes);
    close(c->fd);
    free(lat);
    free(c);
    return 0;
}
