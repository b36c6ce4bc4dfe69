/* spec_decode.c — the table-driven decoder and encoder: a struct spec_type says where each
 * JSON key of a Go struct goes in a C struct; decoding follows encoding/json's rules for a
 * Go struct (Go 1.19/1.20, the compilers of dockerd 20.10 and Debian's docker.io), encoding
 * follows json.Marshal's (field order, omitempty, nil pointers as null).
 *
 * Go's rules kept here: a key matches a field's name exactly, else case-insensitively
 * (with the Kelvin sign and long s folding as Go folds them); unknown keys are skipped; a
 * null leaves a scalar as it is and empties a pointer, slice or map; duplicate keys decode
 * again into the same field (maps and structs merge, slices are replaced); the first type
 * error is reported as
 *   json: cannot unmarshal <what> into Go struct field <Struct>.<Path> of type <type>
 * where Struct is the innermost struct holding the field, Path the JSON names from the top
 * (slice indexes and map keys do not appear), <what> is number|string|bool|array|object,
 * or "number <literal>" when a number does not fit the Go type (fraction, exponent,
 * negative into unsigned, out of range). A top-level value that is not an object gives
 * "json: cannot unmarshal <what> into Go value of type <type>".
 * Pure; any thread. */
#include "spec_int.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dctx {
    const char *src;   /* the input, for SPEC_RAW */
    const char *strct; /* innermost struct's name */
    char path[1024];   /* JSON names from the top, dot-separated */
    size_t plen;
    struct err *e;
};

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)((const char *)(base) + (off)))

static int type_error(struct dctx *c, const char *what, const char *gotype)
{
    return err_set(c->e, ERR_INVALID,
                   "json: cannot unmarshal %s into Go struct field %s.%s of type %s", what,
                   c->strct, c->path, gotype);
}

static int num_error(struct dctx *c, const struct sj *v, const char *gotype)
{
    char what[96];
    snprintf(what, sizeof(what), "number %.80s", v->s);
    return type_error(c, what, gotype);
}

static const char *kind_gotype(const struct spec_field *f)
{
    if (f->gotype)
        return f->gotype;
    switch (f->kind) {
    case SPEC_STR:
        return "string";
    case SPEC_BOOL:
        return "bool";
    case SPEC_INT:
        return f->bits == 64 ? "int64" : f->bits == 32 ? "int32" : f->bits == 16 ? "int16" : "int8";
    case SPEC_UINT:
        return f->bits == 64   ? "uint64"
               : f->bits == 32 ? "uint32"
               : f->bits == 16 ? "uint16"
                               : "uint8";
    case SPEC_FLOAT:
        return f->bits == 32 ? "float32" : "float64";
    case SPEC_STRV:
        return "[]string";
    case SPEC_MAP:
        return "map[string]string";
    case SPEC_STRUCT:
        return f->sub->gotype;
    default:
        return "json.RawMessage";
    }
}

/* Go's strconv.ParseInt/ParseUint (base 10) of a JSON number literal, then the range of an
 * N-bit integer. */
static bool parse_int(const char *s, unsigned bits, bool is_signed, int64_t *iv, uint64_t *uv)
{
    bool neg = false;
    if (*s == '-') {
        if (!is_signed)
            return false;
        neg = true;
        s++;
    }
    if (!*s)
        return false;
    uint64_t acc = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (is_signed) {
        uint64_t lim = (uint64_t)1 << (bits - 1); /* |min| */
        if (neg ? acc > lim : acc >= lim)
            return false;
        *iv = neg ? (int64_t)(0 - acc) : (int64_t)acc;
        return true;
    }
    if (bits < 64 && acc >> bits)
        return false;
    *uv = acc;
    return true;
}

static bool key_matches_fold(const char *name, const char *key, size_t klen)
{
    size_t i = 0;
    for (; *name; name++) {
        if (i >= klen)
            return false;
        unsigned char k = (unsigned char)key[i];
        char nc = (char)(*name >= 'A' && *name <= 'Z' ? *name + 32 : *name);
        if (k == 0xe2 && i + 2 < klen && (unsigned char)key[i + 1] == 0x84 &&
            (unsigned char)key[i + 2] == 0xaa) { /* U+212A KELVIN SIGN folds to k */
            if (nc != 'k')
                return false;
            i += 3;
            continue;
        }
        if (k == 0xc5 && i + 1 < klen && (unsigned char)key[i + 1] == 0xbf) { /* U+017F ſ */
            if (nc != 's')
                return false;
            i += 2;
            continue;
        }
        char kc = (char)(k >= 'A' && k <= 'Z' ? k + 32 : k);
        if (kc != nc)
            return false;
        i++;
    }
    return i == klen;
}

static const struct spec_field *find_field(const struct spec_type *t, const char *key, size_t klen)
{
    for (size_t i = 0; i < t->nfields; i++)
        if (strlen(t->fields[i].name) == klen && !memcmp(t->fields[i].name, key, klen))
            return &t->fields[i];
    for (size_t i = 0; i < t->nfields; i++)
        if (key_matches_fold(t->fields[i].name, key, klen))
            return &t->fields[i];
    return NULL;
}

static void strv_release(struct spec_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

static void map_release(struct spec_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].value);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static void release_struct(const struct spec_type *t, void *obj);

static void release_field(const struct spec_field *f, void *base)
{
    switch (f->kind) {
    case SPEC_STR:
    case SPEC_RAW:
        free(*AT(base, f->off, char *));
        *AT(base, f->off, char *) = NULL;
        break;
    case SPEC_STRV:
        strv_release(AT(base, f->off, struct spec_strv));
        break;
    case SPEC_MAP:
        map_release(AT(base, f->off, struct spec_map));
        break;
    case SPEC_STRUCT:
        release_struct(f->sub, AT(base, f->off, char));
        break;
    case SPEC_LIST: {
        char *arr = *AT(base, f->off, char *);
        size_t *n = AT(base, f->aux, size_t);
        for (size_t i = 0; i < *n; i++)
            release_struct(f->sub, arr + i * f->sub->size);
        free(arr);
        *AT(base, f->off, char *) = NULL;
        *n = 0;
        break;
    }
    default:
        break;
    }
    if (f->flags & SPEC_PTR)
        *AT(base, f->aux, bool) = false;
}

static void release_struct(const struct spec_type *t, void *obj)
{
    for (size_t i = 0; i < t->nfields; i++)
        release_field(&t->fields[i], obj);
    memset(obj, 0, t->size);
}

void spec_release(const struct spec_type *t, void *obj)
{
    if (obj)
        release_struct(t, obj);
}

struct kvseq {
    struct spec_kv kv;
    size_t seq;
};

static int kvseq_cmp(const void *a, const void *b)
{
    const struct kvseq *x = a, *y = b;
    int c = strcmp(x->kv.key, y->kv.key);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts entries by key and keeps the last of equal keys (Go's map assignment order). */
static void map_normalise(struct spec_map *m)
{
    if (m->n < 2)
        return;
    struct kvseq *t = xcalloc(m->n, sizeof(*t));
    for (size_t i = 0; i < m->n; i++)
        t[i] = (struct kvseq){m->v[i], i};
    qsort(t, m->n, sizeof(*t), kvseq_cmp);
    size_t out = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (i + 1 < m->n && !strcmp(t[i].kv.key, t[i + 1].kv.key)) {
            free(t[i].kv.key);
            free(t[i].kv.value);
            continue;
        }
        m->v[out++] = t[i].kv;
    }
    m->n = out;
    free(t);
}

const char *spec_map_get(const struct spec_map *m, const char *key)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->v[mid].key, key);
        if (!c)
            return m->v[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int decode_struct(struct dctx *c, const struct spec_type *t, const struct sj *v, void *obj);

static int decode_field(struct dctx *c, const struct spec_field *f, const struct sj *v, void *base)
{
    if (v->t == SJ_NULL) {
        if ((f->flags & SPEC_PTR) || f->kind == SPEC_STRV || f->kind == SPEC_MAP ||
            f->kind == SPEC_LIST || f->kind == SPEC_RAW)
            release_field(f, base);
        return 0;
    }
    const char *gt = kind_gotype(f);
    switch (f->kind) {
    case SPEC_STR:
        if (v->t != SJ_STR)
            return type_error(c, sj_kind_word(v), gt);
        free(*AT(base, f->off, char *));
        *AT(base, f->off, char *) = xstrdup(v->s);
        break;
    case SPEC_BOOL:
        if (v->t != SJ_BOOL)
            return type_error(c, sj_kind_word(v), gt);
        *AT(base, f->off, bool) = v->b;
        break;
    case SPEC_INT:
    case SPEC_UINT: {
        if (v->t != SJ_NUM)
            return type_error(c, sj_kind_word(v), gt);
        int64_t iv = 0;
        uint64_t uv = 0;
        if (!parse_int(v->s, f->bits, f->kind == SPEC_INT, &iv, &uv))
            return num_error(c, v, gt);
        if (f->kind == SPEC_INT)
            *AT(base, f->off, int64_t) = iv;
        else
            *AT(base, f->off, uint64_t) = uv;
        break;
    }
    case SPEC_FLOAT: {
        if (v->t != SJ_NUM)
            return type_error(c, sj_kind_word(v), gt);
        double d = strtod(v->s, NULL);
        /* Go's ParseFloat(s, 32) overflows where a float32 would round to infinity: at or
         * above FLT_MAX plus half an ulp (0x1.ffffffp127) */
        if (isinf(d) || (f->bits == 32 && fabs(d) >= 0x1.ffffffp127))
            return num_error(c, v, gt);
        if (f->bits == 32)
            d = fabs(d) > FLT_MAX ? copysign(FLT_MAX, d) : (double)(float)d;
        *AT(base, f->off, double) = d;
        break;
    }
    case SPEC_STRV: {
        if (v->t != SJ_ARR)
            return type_error(c, sj_kind_word(v), gt);
        struct spec_strv *sv = AT(base, f->off, struct spec_strv);
        strv_release(sv);
        if (!v->n)
            break;
        sv->v = xcalloc(v->n, sizeof(char *));
        for (size_t i = 0; i < v->n; i++) {
            const struct sj *el = &v->kids[i];
            if (el->t != SJ_STR && el->t != SJ_NULL)
                return type_error(c, sj_kind_word(el), "string");
            sv->v[sv->n++] = xstrdup(el->t == SJ_STR ? el->s : "");
        }
        break;
    }
    case SPEC_MAP: {
        if (v->t != SJ_OBJ)
            return type_error(c, sj_kind_word(v), gt);
        struct spec_map *m = AT(base, f->off, struct spec_map);
        m->v = xrealloc(m->v, (m->n + v->n + 1) * sizeof(*m->v));
        int rc = 0;
        for (size_t i = 0; i < v->n && !rc; i++) {
            const struct sj *el = &v->kids[i];
            if (el->t != SJ_STR && el->t != SJ_NULL) {
                rc = type_error(c, sj_kind_word(el), "string");
                break;
            }
            m->v[m->n].key = xstrdup(v->keys[i]);
            m->v[m->n].value = xstrdup(el->t == SJ_STR ? el->s : "");
            m->n++;
        }
        map_normalise(m);
        if (rc)
            return rc;
        break;
    }
    case SPEC_STRUCT:
        if (v->t != SJ_OBJ)
            return type_error(c, sj_kind_word(v), gt);
        if (f->flags & SPEC_PTR)
            *AT(base, f->aux, bool) = true;
        return decode_struct(c, f->sub, v, AT(base, f->off, char));
    case SPEC_LIST: {
        if (v->t != SJ_ARR)
            return type_error(c, sj_kind_word(v), gt);
        release_field(f, base);
        if (!v->n)
            break;
        char *arr = xcalloc(v->n, f->sub->size);
        size_t *n = AT(base, f->aux, size_t);
        *AT(base, f->off, char *) = arr;
        for (size_t i = 0; i < v->n; i++) {
            const struct sj *el = &v->kids[i];
            (*n)++;
            if (el->t == SJ_NULL)
                continue;
            if (el->t != SJ_OBJ)
                return type_error(c, sj_kind_word(el), f->sub->gotype);
            int rc = decode_struct(c, f->sub, el, arr + i * f->sub->size);
            if (rc)
                return rc;
        }
        break;
    }
    case SPEC_RAW:
        if ((f->flags & SPEC_RAW_OBJ) && v->t != SJ_OBJ)
            return type_error(c, sj_kind_word(v), gt);
        free(*AT(base, f->off, char *));
        *AT(base, f->off, char *) = xstrndup(c->src + v->start, v->end - v->start);
        break;
    }
    if ((f->flags & SPEC_PTR) && f->kind != SPEC_STRUCT)
        *AT(base, f->aux, bool) = true;
    return 0;
}

static int decode_struct(struct dctx *c, const struct spec_type *t, const struct sj *v, void *obj)
{
    for (size_t i = 0; i < v->n; i++) {
        const struct spec_field *f = find_field(t, v->keys[i], v->keylens[i]);
        if (!f)
            continue; /* unknown keys are dropped, as Go drops them */
        size_t save = c->plen;
        const char *save_struct = c->strct;
        int w = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? "." : "",
                         f->name);
        if (w > 0)
            c->plen =
                c->plen + (size_t)w < sizeof(c->path) ? c->plen + (size_t)w : sizeof(c->path) - 1;
        c->strct = t->name;
        int rc = decode_field(c, f, &v->kids[i], obj);
        c->plen = save;
        c->path[save] = '\0';
        c->strct = save_struct;
        if (rc)
            return rc;
    }
    return 0;
}

int spec_decode(const struct spec_type *t, const char *p, size_t n, void *obj, struct err *e)
{
    struct sj *v = sj_parse(p, n, e);
    if (!v)
        return -ERR_INVALID;
    int rc = 0;
    if (v->t == SJ_OBJ) {
        struct dctx c = {.src = p, .strct = t->name, .e = e};
        rc = decode_struct(&c, t, v, obj);
    } else if (v->t != SJ_NULL) {
        rc = err_set(e, ERR_INVALID, "json: cannot unmarshal %s into Go value of type %s",
                     sj_kind_word(v), t->gotype);
    }
    sj_free(v);
    return rc;
}

int spec_decode_json(const struct spec_type *t, json_t *v, void *obj, struct err *e)
{
    if (!v)
        return 0;
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return err_set(e, ERR_INVALID, "json: cannot encode the value");
    int rc = spec_decode(t, s, strlen(s), obj, e);
    free(s);
    return rc;
}

/* ---- encoding ---- */

/* Go encodes a float32 with the shortest decimal that reads back as the same float32, and
 * an integral value without a fraction. */
static json_t *float_json(double d, unsigned bits)
{
    if (d == floor(d) && fabs(d) < 1e15)
        return json_integer((json_int_t)d);
    if (bits == 32) {
        char buf[64];
        for (int prec = 1; prec <= 9; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, d);
            if ((float)strtod(buf, NULL) == (float)d)
                return json_real(strtod(buf, NULL));
        }
    }
    return json_real(d);
}

static json_t *encode_struct(const struct spec_type *t, const void *obj);

static json_t *encode_field(const struct spec_field *f, const void *base, bool *skip)
{
    bool omit = f->flags & SPEC_OMITEMPTY;
    *skip = false;
    if ((f->flags & SPEC_PTR) && !*CAT(base, f->aux, bool)) {
        *skip = omit;
        return omit ? NULL : json_null();
    }
    bool ptr = f->flags & SPEC_PTR; /* a set pointer is never empty */
    switch (f->kind) {
    case SPEC_STR: {
        const char *s = *CAT(base, f->off, char *);
        if (omit && (!s || !*s)) {
            *skip = true;
            return NULL;
        }
        return json_string(s ? s : "");
    }
    case SPEC_BOOL: {
        bool b = *CAT(base, f->off, bool);
        if (omit && !b && !ptr) {
            *skip = true;
            return NULL;
        }
        return json_boolean(b);
    }
    case SPEC_INT: {
        int64_t v = *CAT(base, f->off, int64_t);
        if (omit && !v && !ptr) {
            *skip = true;
            return NULL;
        }
        return json_integer(v);
    }
    case SPEC_UINT: {
        uint64_t v = *CAT(base, f->off, uint64_t);
        if (omit && !v && !ptr) {
            *skip = true;
            return NULL;
        }
        /* jansson's integers are signed 64-bit: larger values saturate */
        return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
    }
    case SPEC_FLOAT: {
        double d = *CAT(base, f->off, double);
        if (omit && d == 0 && !ptr) {
            *skip = true;
            return NULL;
        }
        return float_json(d, f->bits);
    }
    case SPEC_STRV: {
        const struct spec_strv *sv = CAT(base, f->off, struct spec_strv);
        if (!sv->n) {
            *skip = omit;
            return omit ? NULL : json_null();
        }
        json_t *a = json_array();
        for (size_t i = 0; i < sv->n; i++)
            json_array_append_new(a, json_string(sv->v[i]));
        return a;
    }
    case SPEC_MAP: {
        const struct spec_map *m = CAT(base, f->off, struct spec_map);
        if (!m->n && !(f->flags & SPEC_EMPTY_OBJ)) {
            *skip = omit;
            return omit ? NULL : json_null();
        }
        json_t *o = json_object();
        for (size_t i = 0; i < m->n; i++)
            json_object_set_new(o, m->v[i].key, json_string(m->v[i].value));
        return o;
    }
    case SPEC_STRUCT:
        return encode_struct(f->sub, CAT(base, f->off, char));
    case SPEC_LIST: {
        const char *arr = *CAT(base, f->off, char *);
        size_t n = *CAT(base, f->aux, size_t);
        if (!n) {
            *skip = omit;
            return omit ? NULL : json_null();
        }
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, encode_struct(f->sub, arr + i * f->sub->size));
        return a;
    }
    case SPEC_RAW: {
        const char *s = *CAT(base, f->off, char *);
        json_t *j = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
        if (!j) {
            *skip = omit;
            return omit ? NULL : json_null();
        }
        return j;
    }
    }
    return json_null();
}

static json_t *encode_struct(const struct spec_type *t, const void *obj)
{
    json_t *o = json_object();
    for (size_t i = 0; i < t->nfields; i++) {
        bool skip;
        json_t *v = encode_field(&t->fields[i], obj, &skip);
        if (!skip)
            json_object_set_new(o, t->fields[i].name, v);
    }
    return o;
}

json_t *spec_encode(const struct spec_type *t, const void *obj)
{
    return encode_struct(t, obj);
}

/* ---- deep copy ---- */

static void copy_struct(const struct spec_type *t, void *dst, const void *src);

static void copy_field(const struct spec_field *f, void *dst, const void *src)
{
    switch (f->kind) {
    case SPEC_STR:
    case SPEC_RAW: {
        const char *s = *CAT(src, f->off, char *);
        *AT(dst, f->off, char *) = s ? xstrdup(s) : NULL;
        break;
    }
    case SPEC_STRV: {
        const struct spec_strv *s = CAT(src, f->off, struct spec_strv);
        struct spec_strv *d = AT(dst, f->off, struct spec_strv);
        d->v = s->n ? xcalloc(s->n, sizeof(char *)) : NULL;
        for (size_t i = 0; i < s->n; i++)
            d->v[i] = xstrdup(s->v[i]);
        d->n = s->n;
        break;
    }
    case SPEC_MAP: {
        const struct spec_map *s = CAT(src, f->off, struct spec_map);
        struct spec_map *d = AT(dst, f->off, struct spec_map);
        d->v = s->n ? xcalloc(s->n, sizeof(*d->v)) : NULL;
        for (size_t i = 0; i < s->n; i++)
            d->v[i] = (struct spec_kv){xstrdup(s->v[i].key), xstrdup(s->v[i].value)};
        d->n = s->n;
        break;
    }
    case SPEC_STRUCT:
        copy_struct(f->sub, AT(dst, f->off, char), CAT(src, f->off, char));
        break;
    case SPEC_LIST: {
        const char *s = *CAT(src, f->off, char *);
        size_t n = *CAT(src, f->aux, size_t);
        char *d = n ? xcalloc(n, f->sub->size) : NULL;
        for (size_t i = 0; i < n; i++)
            copy_struct(f->sub, d + i * f->sub->size, s + i * f->sub->size);
        *AT(dst, f->off, char *) = d;
        *AT(dst, f->aux, size_t) = n;
        break;
    }
    default:
        break; /* scalars came with the memcpy */
    }
}

static void copy_struct(const struct spec_type *t, void *dst, const void *src)
{
    memcpy(dst, src, t->size);
    for (size_t i = 0; i < t->nfields; i++)
        copy_field(&t->fields[i], dst, src);
}

void spec_copy(const struct spec_type *t, void *dst, const void *src)
{
    copy_struct(t, dst, src);
}
