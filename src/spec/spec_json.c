/* spec_json.c — a small JSON reader for the spec decoder: builds a tree that keeps number
 * literals as text and object members in order (see spec_int.h). Syntax errors use the
 * words of Go's scanner for the common cases. Strings are decoded as Go decodes them:
 * escapes, surrogate pairs, and U+FFFD for invalid UTF-8 or a lone surrogate.
 * Pure; any thread. Nesting deeper than SJ_MAX_DEPTH is refused ("exceeded max depth"). */
#include "spec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SJ_MAX_DEPTH 512

struct rd {
    const char *p;
    size_t n, i;
    struct err *e;
};

void spec_go_quote_byte(unsigned char c, char out[16])
{
    if (c == '\'')
        snprintf(out, 16, "'\\''");
    else if (c == '"')
        snprintf(out, 16, "'\"'");
    else if (c == '\n')
        snprintf(out, 16, "'\\n'");
    else if (c == '\r')
        snprintf(out, 16, "'\\r'");
    else if (c == '\t')
        snprintf(out, 16, "'\\t'");
    else if (c < 0x20 || c == 0x7f)
        snprintf(out, 16, "'\\x%02x'", c);
    else if (c >= 0x80)
        snprintf(out, 16, "'\\ufffd'");
    else
        snprintf(out, 16, "'%c'", c);
}

static int bad(struct rd *r, const char *where)
{
    if (r->i >= r->n)
        return err_set(r->e, ERR_INVALID, "unexpected EOF");
    char q[16];
    spec_go_quote_byte((unsigned char)r->p[r->i], q);
    return err_set(r->e, ERR_INVALID, "invalid character %s %s", q, where);
}

static void skip_ws(struct rd *r)
{
    while (r->i < r->n &&
           (r->p[r->i] == ' ' || r->p[r->i] == '\t' || r->p[r->i] == '\n' || r->p[r->i] == '\r'))
        r->i++;
}

static void put_utf8(struct buf *b, unsigned cp)
{
    unsigned char o[4];
    size_t k;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        o[0] = (unsigned char)(0xf0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    buf_add(b, o, k);
}

/* Length of a well-formed UTF-8 sequence at s (as Go's utf8.DecodeRune accepts), 0 if not. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0; /* overlong, surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(struct rd *r, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++, r->i++) {
        if (r->i >= r->n)
            return err_set(r->e, ERR_INVALID, "unexpected EOF");
        char c = r->p[r->i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return bad(r, "in \\u hexadecimal character escape");
    }
    *out = v;
    return 0;
}

/* Reads a string; r->i is at the opening quote. The result is NUL-terminated. */
static int read_string(struct rd *r, char **out, size_t *outlen)
{
    struct buf b = BUF_INIT;
    r->i++;
    for (;;) {
        if (r->i >= r->n) {
            buf_release(&b);
            return err_set(r->e, ERR_INVALID, "unexpected EOF");
        }
        unsigned char c = (unsigned char)r->p[r->i];
        if (c == '"') {
            r->i++;
            break;
        }
        if (c < 0x20) {
            buf_release(&b);
            return bad(r, "in string literal");
        }
        if (c == '\\') {
            r->i++;
            if (r->i >= r->n) {
                buf_release(&b);
                return err_set(r->e, ERR_INVALID, "unexpected EOF");
            }
            char x = r->p[r->i], ch = 0;
            switch (x) {
            case '"':
            case '\\':
            case '/':
                ch = x;
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'n':
                ch = '\n';
                break;
            case 'r':
                ch = '\r';
                break;
            case 't':
                ch = '\t';
                break;
            }
            if (ch) {
                buf_add(&b, &ch, 1);
                r->i++;
                continue;
            }
            if (x != 'u') {
                buf_release(&b);
                return bad(r, "in string escape code");
            }
            r->i++;
            unsigned cp;
            if (hex4(r, &cp)) {
                buf_release(&b);
                return -ERR_INVALID;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && r->i + 1 < r->n && r->p[r->i] == '\\' &&
                r->p[r->i + 1] == 'u') {
                size_t save = r->i;
                unsigned lo;
                r->i += 2;
                if (hex4(r, &lo)) {
                    buf_release(&b);
                    return -ERR_INVALID;
                }
                if (lo >= 0xdc00 && lo < 0xe000) {
                    put_utf8(&b, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
                    continue;
                }
                r->i = save; /* Go: the first becomes U+FFFD, the second is read again */
                cp = 0xfffd;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;
            }
            put_utf8(&b, cp);
            continue;
        }
        if (c < 0x80) {
            buf_add(&b, &c, 1);
            r->i++;
            continue;
        }
        size_t k = utf8_len((const unsigned char *)r->p + r->i, r->n - r->i);
        if (k) {
            buf_add(&b, r->p + r->i, k);
            r->i += k;
        } else {
            put_utf8(&b, 0xfffd);
            r->i++;
        }
    }
    *outlen = b.len;
    if (!b.len) {
        buf_release(&b);
        *out = xstrdup("");
        return 0;
    }
    *out = buf_detach(&b, NULL);
    return 0;
}

static bool isdig(char c)
{
    return c >= '0' && c <= '9';
}

static int read_number(struct rd *r, struct sj *v)
{
    size_t s = r->i;
    if (r->p[r->i] == '-') {
        r->i++;
        if (r->i >= r->n || !isdig(r->p[r->i]))
            return bad(r, "in numeric literal");
    }
    if (r->p[r->i] == '0')
        r->i++;
    else
        while (r->i < r->n && isdig(r->p[r->i]))
            r->i++;
    if (r->i < r->n && r->p[r->i] == '.') {
        r->i++;
        if (r->i >= r->n || !isdig(r->p[r->i]))
            return bad(r, "after decimal point in numeric literal");
        while (r->i < r->n && isdig(r->p[r->i]))
            r->i++;
    }
    if (r->i < r->n && (r->p[r->i] == 'e' || r->p[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->p[r->i] == '+' || r->p[r->i] == '-'))
            r->i++;
        if (r->i >= r->n || !isdig(r->p[r->i]))
            return bad(r, "in exponent of numeric literal");
        while (r->i < r->n && isdig(r->p[r->i]))
            r->i++;
    }
    v->t = SJ_NUM;
    v->len = r->i - s;
    v->s = xstrndup(r->p + s, v->len);
    return 0;
}

static int read_word(struct rd *r, const char *w)
{
    for (size_t k = 0; w[k]; k++, r->i++) {
        if (r->i >= r->n)
            return err_set(r->e, ERR_INVALID, "unexpected EOF");
        if (r->p[r->i] != w[k]) {
            if (k == 0)
                return bad(r, "looking for beginning of value");
            char where[48];
            snprintf(where, sizeof(where), "in literal %s (expecting '%c')", w, w[k]);
            return bad(r, where);
        }
    }
    return 0;
}

static int read_value(struct rd *r, struct sj *v, int depth)
{
    skip_ws(r);
    if (r->i >= r->n)
        return err_set(r->e, ERR_INVALID, "unexpected EOF");
    v->start = r->i;
    char c = r->p[r->i];
    int rc = 0;
    if (c == '{' || c == '[') {
        if (depth >= SJ_MAX_DEPTH)
            return err_set(r->e, ERR_INVALID, "exceeded max depth");
        bool obj = c == '{';
        size_t cap = 0;
        v->t = obj ? SJ_OBJ : SJ_ARR;
        r->i++;
        skip_ws(r);
        if (r->i < r->n && r->p[r->i] == (obj ? '}' : ']')) {
            r->i++;
            v->end = r->i;
            return 0;
        }
        for (;;) {
            if (v->n == cap) {
                cap = cap ? cap * 2 : 4;
                v->kids = xrealloc(v->kids, cap * sizeof(*v->kids));
                if (obj) {
                    v->keys = xrealloc(v->keys, cap * sizeof(*v->keys));
                    v->keylens = xrealloc(v->keylens, cap * sizeof(*v->keylens));
                }
            }
            memset(&v->kids[v->n], 0, sizeof(v->kids[0]));
            if (obj) {
                skip_ws(r);
                if (r->i >= r->n || r->p[r->i] != '"')
                    return bad(r, "looking for beginning of object key string");
                if (read_string(r, &v->keys[v->n], &v->keylens[v->n]))
                    return -ERR_INVALID;
                skip_ws(r);
                if (r->i >= r->n || r->p[r->i] != ':') {
                    free(v->keys[v->n]);
                    return bad(r, "after object key");
                }
                r->i++;
            }
            v->n++;
            if ((rc = read_value(r, &v->kids[v->n - 1], depth + 1)))
                return rc;
            skip_ws(r);
            if (r->i < r->n && r->p[r->i] == ',') {
                r->i++;
                continue;
            }
            if (r->i < r->n && r->p[r->i] == (obj ? '}' : ']')) {
                r->i++;
                break;
            }
            return bad(r, obj ? "after object key:value pair" : "after array element");
        }
    } else if (c == '"') {
        v->t = SJ_STR;
        rc = read_string(r, &v->s, &v->len);
    } else if (c == '-' || isdig(c)) {
        rc = read_number(r, v);
    } else if (c == 't' || c == 'f') {
        v->t = SJ_BOOL;
        v->b = c == 't';
        rc = read_word(r, c == 't' ? "true" : "false");
    } else if (c == 'n') {
        v->t = SJ_NULL;
        rc = read_word(r, "null");
    } else {
        return bad(r, "looking for beginning of value");
    }
    v->end = r->i;
    return rc;
}

static void sj_release(struct sj *v)
{
    free(v->s);
    for (size_t i = 0; i < v->n; i++) {
        sj_release(&v->kids[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->keylens);
}

void sj_free(struct sj *v)
{
    if (!v)
        return;
    sj_release(v);
    free(v);
}

struct sj *sj_parse(const char *p, size_t n, struct err *e)
{
    struct rd r = {p, n, 0, e};
    skip_ws(&r);
    if (r.i >= n) {
        err_set(e, ERR_INVALID, "got EOF while reading request body");
        return NULL;
    }
    struct sj *v = xcalloc(1, sizeof(*v));
    if (read_value(&r, v, 0)) {
        sj_free(v);
        return NULL;
    }
    return v;
}

const char *sj_kind_word(const struct sj *v)
{
    static const char *const w[] = {"null", "bool", "number", "string", "array", "object"};
    return w[v->t];
}
