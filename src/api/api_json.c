/* api_json.c — request bodies decoded as dockerd decodes them (Go's json.Decoder): the same
 * syntax errors in the same words ("invalid character 'b' looking for beginning of object
 * key string", "unexpected EOF", "got EOF while reading request body"), then jansson builds
 * the value. Only the first JSON value counts; anything after it is ignored, as Decoder does.
 * Pure function; any thread. */
#include "api_int.h"

#include "spec/spec.h"

#include <stdio.h>
#include <string.h>

enum ctx {
    CTX_VALUE,
    CTX_OBJ_KEY_OR_END,
    CTX_OBJ_KEY,
    CTX_OBJ_COLON,
    CTX_OBJ_NEXT,
    CTX_ARR_VALUE_OR_END,
    CTX_ARR_NEXT
};

static int bad(struct err *e, unsigned char c, const char *where)
{
    char q[16];
    spec_go_quote_byte(c, q);
    return err_set(e, ERR_INVALID, "invalid character %s %s", q, where);
}

static bool ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Scans a string starting after its opening quote; *i ends after the closing quote. */
static int scan_string(const char *p, size_t n, size_t *i, struct err *e)
{
    while (*i < n) {
        unsigned char c = (unsigned char)p[(*i)++];
        if (c == '"')
            return 0;
        if (c < 0x20)
            return bad(e, c, "in string literal");
        if (c != '\\')
            continue;
        if (*i >= n)
            break;
        c = (unsigned char)p[(*i)++];
        if (c == 'u') {
            for (int k = 0; k < 4; k++) {
                if (*i >= n)
                    return err_set(e, ERR_INVALID, "unexpected EOF");
                c = (unsigned char)p[(*i)++];
                if (!strchr("0123456789abcdefABCDEF", c) || !c)
                    return bad(e, c, "in \\u hexadecimal character escape");
            }
        } else if (!c || !strchr("\"\\/bfnrt", c)) {
            return bad(e, c, "in string escape code");
        }
    }
    return err_set(e, ERR_INVALID, "unexpected EOF");
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Scans a number; *i ends at the first byte after it (checked by the caller's context). */
static int scan_number(const char *p, size_t n, size_t *i, struct err *e)
{
    if (p[*i] == '-') {
        if (++*i >= n)
            return err_set(e, ERR_INVALID, "unexpected EOF");
        if (!digit(p[*i]))
            return bad(e, (unsigned char)p[*i], "in numeric literal");
    }
    if (p[*i] == '0')
        ++*i;
    else
        while (*i < n && digit(p[*i]))
            ++*i;
    if (*i < n && p[*i] == '.') {
        if (++*i >= n)
            return err_set(e, ERR_INVALID, "unexpected EOF");
        if (!digit(p[*i]))
            return bad(e, (unsigned char)p[*i], "after decimal point in numeric literal");
        while (*i < n && digit(p[*i]))
            ++*i;
    }
    if (*i < n && (p[*i] == 'e' || p[*i] == 'E')) {
        if (++*i < n && (p[*i] == '+' || p[*i] == '-'))
            ++*i;
        if (*i >= n)
            return err_set(e, ERR_INVALID, "unexpected EOF");
        if (!digit(p[*i]))
            return bad(e, (unsigned char)p[*i], "in exponent of numeric literal");
        while (*i < n && digit(p[*i]))
            ++*i;
    }
    return 0;
}

static int scan_literal(const char *p, size_t n, size_t *i, const char *word, struct err *e)
{
    for (size_t k = 1; word[k]; k++) {
        if (*i + k >= n)
            return err_set(e, ERR_INVALID, "unexpected EOF");
        if (p[*i + k] != word[k]) {
            char where[64];
            snprintf(where, sizeof(where), "in literal %s (expecting '%c')", word, word[k]);
            return bad(e, (unsigned char)p[*i + k], where);
        }
    }
    *i += strlen(word);
    return 0;
}

/* Checks that p[0..n) starts with one syntactically valid JSON value. */
static int scan_value(const char *p, size_t n, struct err *e)
{
    enum ctx stack[512];
    int depth = 0;
    enum ctx cur = CTX_VALUE;
    size_t i = 0;
    for (;;) {
        while (i < n && ws(p[i]))
            i++;
        if (i >= n)
            return err_set(e, ERR_INVALID,
                           depth == 0 && cur == CTX_VALUE && i == n
                               ? "got EOF while reading request body"
                               : "unexpected EOF");
        unsigned char c = (unsigned char)p[i];
        bool value_done = false;
        switch (cur) {
        case CTX_OBJ_KEY_OR_END:
        case CTX_OBJ_KEY:
            if (c == '}' && cur == CTX_OBJ_KEY_OR_END) {
                i++;
                value_done = true;
                break;
            }
            if (c != '"')
                return bad(e, c, "looking for beginning of object key string");
            i++;
            if (scan_string(p, n, &i, e))
                return -ERR_INVALID;
            cur = CTX_OBJ_COLON;
            continue;
        case CTX_OBJ_COLON:
            if (c != ':')
                return bad(e, c, "after object key");
            i++;
            stack[depth - 1] = CTX_OBJ_NEXT;
            cur = CTX_VALUE;
            continue;
        case CTX_OBJ_NEXT:
            if (c == ',') {
                i++;
                cur = CTX_OBJ_KEY;
                continue;
            }
            if (c != '}')
                return bad(e, c, "after object key:value pair");
            i++;
            value_done = true;
            break;
        case CTX_ARR_NEXT:
            if (c == ',') {
                i++;
                stack[depth - 1] = CTX_ARR_NEXT;
                cur = CTX_VALUE;
                continue;
            }
            if (c != ']')
                return bad(e, c, "after array element");
            i++;
            value_done = true;
            break;
        case CTX_ARR_VALUE_OR_END:
            if (c == ']') {
                i++;
                value_done = true;
                break;
            }
            cur = CTX_VALUE;
            /* fall through */
        case CTX_VALUE:
            if (c == '{' || c == '[') {
                if (depth == (int)ARRAY_SIZE(stack))
                    return err_set(e, ERR_INVALID, "exceeded max depth");
                i++;
                stack[depth++] = c == '{' ? CTX_OBJ_NEXT : CTX_ARR_NEXT;
                cur = c == '{' ? CTX_OBJ_KEY_OR_END : CTX_ARR_VALUE_OR_END;
                continue;
            }
            if (c == '"') {
                i++;
                if (scan_string(p, n, &i, e))
                    return -ERR_INVALID;
            } else if (c == '-' || digit((char)c)) {
                if (scan_number(p, n, &i, e))
                    return -ERR_INVALID;
            } else if (c == 't' || c == 'f' || c == 'n') {
                if (scan_literal(p, n, &i, c == 't' ? "true" : c == 'f' ? "false" : "null", e))
                    return -ERR_INVALID;
            } else {
                return bad(e, c, "looking for beginning of value");
            }
            /* a scalar is complete: pop to the enclosing context */
            if (depth == 0)
                return 0;
            cur = stack[depth - 1];
            continue;
        }
        if (value_done) { /* an object or array closed */
            depth--;
            if (depth == 0)
                return 0;
            cur = stack[depth - 1];
        }
    }
}

/* The first string under v (path so far in path) that holds a NUL: Go's strings can, but
 * nothing the store writes to etcd may (its reader refuses them), so the API edge refuses
 * them with the path to the value. */
static bool find_nul(json_t *v, struct buf *path)
{
    size_t mark = path->len;
    if (json_is_string(v))
        return memchr(json_string_value(v), 0, json_string_length(v)) != NULL;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (path->len)
                buf_add(path, ".", 1);
            buf_adds(path, k);
            if (find_nul(x, path))
                return true;
            path->len = mark;
            path->p[mark] = 0;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            buf_printf(path, "[%zu]", i);
            if (find_nul(x, path))
                return true;
            path->len = mark;
            path->p[mark] = 0;
        }
    }
    return false;
}

json_t *api_json_decode(const char *p, size_t n, struct err *e)
{
    if (scan_value(p, n, e) < 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &je);
    if (!j) {
        err_set(e, ERR_INVALID, "%s", je.text);
        return NULL;
    }
    struct buf path = BUF_INIT;
    if (find_nul(j, &path)) {
        err_set(e, ERR_INVALID,
                "invalid value for %s: strings may not contain the NUL character (\\u0000)",
                path.len ? path.p : "the request body");
        json_decref(j);
        j = NULL;
    }
    buf_release(&path);
    return j;
}
