/* store_json.c — small JSON helpers for store objects: dotted paths ("Spec.Name",
 * "Version.Index"), the one encoder and the one decoder of the values kept in etcd, and
 * Go's decoder rules for integer fields of request bodies.
 *
 * A dotted path walks nested objects one key per segment; a missing key, a non-object
 * in the middle, or an empty segment yields NULL. Nothing is allocated and nothing
 * changes ownership: results are borrowed from obj.
 * Invariant: store_json_encode returns only text that store_json_decode reads back as an
 * equal object, so nothing written to etcd can be unreadable after a restart.
 * Any thread (pure functions). */
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *store_json_path(json_t *obj, const char *dotted)
{
    if (!obj || !dotted || !*dotted)
        return NULL;
    const char *seg = dotted;
    for (;;) {
        if (!json_is_object(obj))
            return NULL;
        const char *dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (!len)
            return NULL;
        obj = json_object_getn(obj, seg, len);
        if (!obj || !dot)
            return obj;
        seg = dot + 1;
    }
}

const char *store_json_str(json_t *obj, const char *dotted)
{
    return json_string_value(store_json_path(obj, dotted)); /* NULL unless a string */
}

uint64_t store_obj_version(json_t *obj)
{
    json_t *v = store_json_path(obj, "Version.Index");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    return (uint64_t)json_integer_value(v);
}

/* ---- the etcd value codec ---- */

json_t *store_json_decode(const char *p, size_t n, struct err *e)
{
    json_error_t je;
    json_t *obj = json_loadb(p, n, 0, &je);
    if (!obj || !json_is_object(obj)) {
        err_set(e, ERR_INTERNAL, "%s", obj ? "not an object" : je.text);
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *store_json_encode(json_t *obj, struct err *e)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s) { /* a string that is not UTF-8 */
        err_set(e, ERR_INVALID, "the object cannot be encoded as JSON");
        return NULL;
    }
    struct err e2;
    json_t *back = store_json_decode(s, strlen(s), &e2);
    bool same = back && json_equal(back, obj);
    json_decref(back);
    if (!same) {
        err_set(e, ERR_INVALID, "the object would not read back from the store%s%s",
                back ? "" : ": ", back ? "" : e2.msg);
        free(s);
        return NULL;
    }
    return s;
}

/* ---- Go's json decoder on integer fields ---- */

static const char *type_word(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

int store_json_go_int(json_t *v, const char *field, const char *gotype, int64_t *out, struct err *e)
{
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID,
                       "json: cannot unmarshal %s into Go struct field %s of type %s", type_word(v),
                       field, gotype);
    bool is_unsigned = gotype[0] == 'u';
    int64_t max = !strcmp(gotype, "uint32")  ? (int64_t)UINT32_MAX
                  : !strcmp(gotype, "int32") ? (int64_t)INT32_MAX
                                             : INT64_MAX;
    int64_t min = is_unsigned ? 0 : !strcmp(gotype, "int32") ? (int64_t)INT32_MIN : INT64_MIN;
    char lit[64];
    if (json_is_real(v)) { /* Go refuses any fraction or exponent into an integer type; it
                            * quotes the literal, shoal its shortest %g form */
        double d = json_real_value(v);
        int prec = 1;
        do
            snprintf(lit, sizeof(lit), "%.*g", prec, d);
        while (strtod(lit, NULL) != d && ++prec <= 17);
    } else {
        json_int_t i = json_integer_value(v);
        if (i >= min && i <= max) {
            *out = i;
            return 0;
        }
        snprintf(lit, sizeof(lit), "%" PRId64, (int64_t)i);
    }
    return err_set(e, ERR_INVALID,
                   "json: cannot unmarshal number %s into Go struct field %s of type %s", lit,
                   field, gotype);
}
