/* msg_codec.c — what every message decoder of src/msg shares: loading bytes, the typed field
 * readers of msg_int.h, and the checks of addresses and IDs. Pure functions; any thread. */
#include "msg_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

json_t *msg_load(const char *p, size_t n, const char *what, struct err *e)
{
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        err_set(e, ERR_INVALID, "malformed %s: %s", what, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        err_set(e, ERR_INVALID, "malformed %s: not a JSON object", what);
        return NULL;
    }
    return j;
}

char *msg_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    BUG_ON(!s); /* only out of memory */
    return s;
}

int msg_is_object(json_t *j, const char *what, struct err *e)
{
    if (!json_is_object(j))
        return err_set(e, ERR_INVALID, "malformed %s: not a JSON object", what);
    return 0;
}

static json_t *field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

static int missing(const char *what, const char *key, struct err *e)
{
    return err_set(e, ERR_INVALID, "malformed %s: %s is missing", what, key);
}

static int wrong_type(const char *what, const char *key, struct err *e)
{
    return err_set(e, ERR_INVALID, "malformed %s: %s has the wrong type", what, key);
}

int msg_get_str(json_t *o, const char *what, const char *key, size_t max, bool required,
                const char **out, struct err *e)
{
    json_t *v = field(o, key);
    *out = NULL;
    if (!v)
        return required ? missing(what, key, e) : 0;
    if (!json_is_string(v))
        return wrong_type(what, key, e);
    if (json_string_length(v) > max)
        return err_set(e, ERR_INVALID, "malformed %s: %s is longer than %zu bytes", what, key, max);
    *out = json_string_value(v);
    return 0;
}

int msg_get_int(json_t *o, const char *what, const char *key, int64_t min, int64_t max,
                bool required, int64_t *out, bool *present, struct err *e)
{
    json_t *v = field(o, key);
    *out = 0;
    if (present)
        *present = v != NULL;
    if (!v)
        return required ? missing(what, key, e) : 0;
    if (!json_is_integer(v))
        return wrong_type(what, key, e);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return err_set(e, ERR_INVALID, "malformed %s: %s is out of range", what, key);
    *out = (int64_t)x;
    return 0;
}

int msg_get_bool(json_t *o, const char *what, const char *key, bool *out, struct err *e)
{
    json_t *v = field(o, key);
    *out = false;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(what, key, e);
    *out = json_is_true(v);
    return 0;
}

int msg_get_obj(json_t *o, const char *what, const char *key, bool array, bool required,
                json_t **out, struct err *e)
{
    json_t *v = field(o, key);
    *out = NULL;
    if (!v)
        return required ? missing(what, key, e) : 0;
    if (array ? !json_is_array(v) : !json_is_object(v))
        return wrong_type(what, key, e);
    *out = v;
    return 0;
}

int msg_get_addrs(json_t *o, const char *what, const char *key, json_t **out, struct err *e)
{
    json_t *a;
    if (msg_get_obj(o, what, key, true, false, &a, e) < 0)
        return -ERR_INVALID;
    *out = NULL;
    if (!a)
        return 0;
    if (json_array_size(a) > MSG_MAX_MANAGERS)
        return err_set(e, ERR_INVALID, "malformed %s: %s has more than %d addresses", what, key,
                       MSG_MAX_MANAGERS);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return wrong_type(what, key, e);
        if (!msg_addr_valid(json_string_value(v)))
            return err_set(e, ERR_INVALID, "malformed %s: %s[%zu] is not an IP:port address", what,
                           key, i);
    }
    *out = a;
    return 0;
}

int msg_get_state(json_t *o, const char *what, const char *key, bool required, enum task_state *out,
                  bool *present, struct err *e)
{
    const char *s;
    *out = TASK_NEW;
    if (present)
        *present = false;
    if (msg_get_str(o, what, key, MSG_MAX_SHORT, required, &s, e) < 0)
        return -ERR_INVALID;
    if (!s)
        return 0;
    int st = task_state_parse(s);
    if (st < 0)
        return err_set(e, ERR_INVALID, "malformed %s: %s: unknown task state %s", what, key, s);
    *out = (enum task_state)st;
    if (present)
        *present = true;
    return 0;
}

bool msg_ip_valid(const char *s)
{
    unsigned char tmp[16];
    return s && (inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1);
}

bool msg_addr_valid(const char *s)
{
    if (!s || strlen(s) > MSG_MAX_ADDR)
        return false;
    char host[MSG_MAX_ADDR + 1];
    const char *port;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return false;
        snprintf(host, sizeof(host), "%.*s", (int)(end - s - 1), s + 1);
        unsigned char tmp[16];
        if (inet_pton(AF_INET6, host, tmp) != 1)
            return false;
        port = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return false;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
        unsigned char tmp[4];
        if (inet_pton(AF_INET, host, tmp) != 1)
            return false;
        port = colon + 1;
    }
    if (!port[0] || strlen(port) > 5)
        return false;
    long p = 0;
    for (const char *c = port; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        p = p * 10 + (*c - '0');
    }
    return p >= 1 && p <= 65535;
}

bool msg_task_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}
