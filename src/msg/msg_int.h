/* msg_int.h — the field readers the decoders of src/msg share (msg_codec.c). Each reads one
 * field of an object, checks its type and bounds, and on failure fills e with
 * "malformed <what>: <key> ..." and returns -ERR_INVALID. A JSON null counts as absent. */
#ifndef SHOAL_MSG_INT_H
#define SHOAL_MSG_INT_H

#include "msg.h"

/* A string of at most max bytes; absent: *out = NULL, refused when required. */
int msg_get_str(json_t *o, const char *what, const char *key, size_t max, bool required,
                const char **out, struct err *e);
/* An integer in [min, max]; absent: *out = 0 and *present false (may be NULL). */
int msg_get_int(json_t *o, const char *what, const char *key, int64_t min, int64_t max,
                bool required, int64_t *out, bool *present, struct err *e);
int msg_get_bool(json_t *o, const char *what, const char *key, bool *out, struct err *e);
/* An object or array (by `array`); absent: *out = NULL. */
int msg_get_obj(json_t *o, const char *what, const char *key, bool array, bool required,
                json_t **out, struct err *e);
/* A managers list: an array of at most MSG_MAX_MANAGERS addresses. */
int msg_get_addrs(json_t *o, const char *what, const char *key, json_t **out, struct err *e);
/* A task state by name. */
int msg_get_state(json_t *o, const char *what, const char *key, bool required, enum task_state *out,
                  bool *present, struct err *e);
/* The opening check of every decoder: j is an object. */
int msg_is_object(json_t *j, const char *what, struct err *e);

bool msg_ip_valid(const char *s);
/* A task or node ID as shoal and Docker make them: 1..ID_LEN of [a-z0-9]. */
bool msg_task_id_valid(const char *s);

#endif
