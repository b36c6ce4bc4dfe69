/* store_json.c — small JSON path helpers for store objects ("Spec.Name", "Version.Index").
 *
 * A dotted path walks nested objects one key per segment; a missing key, a non-object
 * in the middle, or an empty segment yields NULL. Nothing is allocated and nothing
 * changes ownership: results are borrowed from obj. Any thread (pure functions). */
#include "store/store.h"

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
