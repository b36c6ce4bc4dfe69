/* base.h — shoal's lowest layer: allocation, errors, logging, buffers, ids, time.
 *
 * Everything here is plain C with no I/O beyond stderr logging and getrandom(2); every
 * module may include it. Allocation wrappers abort on out-of-memory, so callers never
 * check for NULL. Errors travel in a caller-owned struct err (see STYLE.md). */
#ifndef SHOAL_BASE_H
#define SHOAL_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- allocation (abort on OOM) ---- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* NULL-terminated string vectors: a deep copy, and freeing one (NULL: nothing). */
char **strv_dup(char *const *v);
void strv_free(char **v);
/* Returns a heap string formatted like printf; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always-on check for impossible states. */
#define BUG_ON(cond)                                                                               \
    do {                                                                                           \
        if (__builtin_expect(!!(cond), 0))                                                         \
            base_bug(__FILE__, __LINE__, #cond);                                                   \
    } while (0)
void base_bug(const char *file, int line, const char *what) __attribute__((noreturn));

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ----
 * Kinds map one-to-one to the HTTP status the API answers with (err_http_status). */
enum err_kind {
    ERR_NONE = 0,
    ERR_INVALID,         /* 400 bad request / refused request */
    ERR_UNAUTHORIZED,    /* 401 */
    ERR_FORBIDDEN,       /* 403 */
    ERR_NOT_FOUND,       /* 404 */
    ERR_CONFLICT,        /* 409 name already in use */
    ERR_TOO_LARGE,       /* 413 */
    ERR_INTERNAL,        /* 500 (also: update out of sequence, as Docker) */
    ERR_NOT_IMPLEMENTED, /* 501 */
    ERR_UNAVAILABLE,     /* 503 swarm state problems, etcd down, locked */
};

#define ERR_MSG_MAX 512
/* Docker's words for a write whose version is stale (status 500). */
#define ERR_MSG_OUT_OF_SEQUENCE "rpc error: code = Unknown desc = update out of sequence"
struct err {
    int kind;
    char msg[ERR_MSG_MAX];
};

/* Fills e (if non-NULL) and returns -kind. */
int err_set(struct err *e, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes e->msg with "<context>: "; returns -e->kind. */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
int err_http_status(int kind);

/* ---- logging (stderr) ---- */
enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level l);
/* Parses "debug|info|warn|error" (also "warning", "fatal"); returns -1 if unknown. */
int log_parse_level(const char *s);
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* ---- growable byte buffer; always NUL-terminated after its data ---- */
struct buf {
    char *p;
    size_t len, cap;
};
#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n); /* drops n bytes from the front */
void buf_reset(struct buf *b);
/* Takes ownership of the data out of b; b is left empty. */
char *buf_detach(struct buf *b, size_t *len);

/* ---- randomness and ids ---- */
/* Fills p with n bytes from getrandom(2); aborts on failure. */
void rand_bytes(void *p, size_t n);
#define ID_LEN 25
/* Writes a new object ID: 25 lower-case base36 characters + NUL, as Docker's. */
void id_new(char out[ID_LEN + 1]);
bool id_valid(const char *s);
#define HEX_ID_LEN 64
/* Writes a new random 64-hex ID + NUL (Docker's container, network, endpoint IDs). */
void hex_id_new(char out[HEX_ID_LEN + 1]);
/* Encodes big-endian bytes as base36 (lower-case), left-padded with '0' to width
 * (width 0: no padding). Returns a heap string. */
char *base36_encode(const uint8_t *bytes, size_t n, size_t width);

/* ---- base64 (std alphabet) ---- */
/* Heap string; with pad=false the trailing '=' are left out (Go's RawStdEncoding). */
char *b64_encode(const void *data, size_t n, bool pad);
/* Accepts padded or unpadded input; appends to out; returns 0 or -ERR_INVALID. */
int b64_decode(const char *s, size_t slen, struct buf *out, struct err *e);

/* ---- string-keyed hash map (base_map.c): keys copied, values borrowed ---- */
struct strmap;
struct strmap *strmap_new(void);
void strmap_free(struct strmap *m); /* frees the keys, not the values; NULL is a no-op */
void *strmap_get(const struct strmap *m, const char *key); /* NULL if absent */
/* Sets key's value; returns the value it replaced (NULL if the key is new). */
void *strmap_put(struct strmap *m, const char *key, void *value);
/* Removes key; returns its value (NULL if absent). */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_len(const struct strmap *m);
/* Iteration: size_t it = 0; while (strmap_next(m, &it, &k, &v)) ...; no changes meanwhile. */
bool strmap_next(const struct strmap *m, size_t *iter, const char **key, void **value);

/* ---- failure limiter (base_rate.c): pure, the time is an argument ----
 * Each key (e.g. a peer's IP) may fail `burst` times, then once per refill_ns; a table of
 * `slots` keys, the stalest forgotten when full. */
struct rate_table;
struct rate_table *rate_table_new(size_t slots, int burst, int64_t refill_ns);
void rate_table_free(struct rate_table *t); /* NULL is a no-op */
/* True if the key has no try left now (callers refuse it without trying). */
bool rate_blocked(struct rate_table *t, const char *key, int64_t now_ns);
/* Records a failure of key at now_ns; returns true if that used its last try. */
bool rate_failed(struct rate_table *t, const char *key, int64_t now_ns);

/* ---- time ----
 * The clock seam, one way only: logic never reads a clock. A decision that depends on time
 * (node liveness, restart and update delays and monitors, certificate renewal and expiry,
 * failure limits) takes `now` as an argument and, where it has to be woken, returns when;
 * the I/O wiring reads the clock once per event (uv_now() for intervals: monotonic ms;
 * time_now_ns() for instants: timestamps, certificate validity) and arms its libuv timer.
 * A unit test's fake clock is the numbers it passes. */
/* Wall clock in nanoseconds since the epoch. */
int64_t time_now_ns(void);
/* Formats ns-since-epoch as Go's RFC3339Nano in UTC: "2026-11-21T21:10:29.12345Z" (trailing
 * zeros of the fraction dropped; no fraction when it is zero). */
void time_format_rfc3339(int64_t ns, char out[40]);
/* The same with 9 fraction digits always (Go's RFC3339NanoFixed, as `docker logs -t` prints):
 * "2026-11-21T21:10:29.123450000Z". */
void time_format_rfc3339_fixed(int64_t ns, char out[40]);
/* Parses RFC 3339 (with optional fraction and Z or ±hh:mm). Returns 0, NUM_SYNTAX, or
 * NUM_RANGE when the time does not fit int64 nanoseconds (years 1678..2261). */
int time_parse_rfc3339(const char *s, int64_t *ns);
/* Parses Docker's "seconds[.fraction]" since the epoch (seconds as strconv.ParseInt takes
 * them). Returns 0, NUM_SYNTAX or NUM_RANGE (outside int64 nanoseconds). */
int time_parse_unix(const char *s, int64_t *ns);

/* ---- decimal integers as Go's strconv parses them (base 10, 64 bits) ---- */
#define NUM_SYNTAX (-1) /* Go: "invalid syntax" (empty, sign on unsigned, spaces, ...) */
#define NUM_RANGE (-2)  /* Go: "value out of range" */
/* strconv.ParseUint(s, 10, 64): digits only. Returns 0, NUM_SYNTAX or NUM_RANGE. */
int num_parse_u64(const char *s, uint64_t *out);
/* strconv.ParseInt(s, 10, 64): one optional '+' or '-', then digits. */
int num_parse_i64(const char *s, int64_t *out);
/* strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; else NUM_SYNTAX. */
int num_parse_bool(const char *s, bool *out);
/* Go's words for a num_parse_* failure: "invalid syntax" or "value out of range". */
const char *num_err_word(int rc);

/* ---- strings ---- */
bool str_has_prefix(const char *s, const char *prefix);
/* Docker object-name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
bool name_valid(const char *s);

/* ---- files ---- */
/* Reads a whole file; returns 0 or an ERR_* (ERR_NOT_FOUND when it does not exist). */
int file_read(const char *path, char **data, size_t *len, struct err *e);
/* Writes atomically (tmp + fsync + rename + fsync dir) with the given mode. */
int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct err *e);
/* The same without the fsyncs: readers never see a torn file while the host runs, but a host
 * crash may lose it. For state that does not outlive the host anyway (a container's). */
int file_write_replace(const char *path, const void *data, size_t len, int mode, struct err *e);
/* Writes all n bytes to fd (retrying short writes and EINTR); 0, or -1 with errno set. */
int fd_write_all(int fd, const void *p, size_t n);
/* mkdir -p with mode. */
int dir_make(const char *path, int mode, struct err *e);
/* rm -rf; missing path is fine. */
int dir_remove_all(const char *path, struct err *e);

#endif
