/* spec_int.h — private to src/spec: the small JSON tree the decoder walks. Unlike jansson's
 * it keeps every number's literal text (Go's errors quote it: "number 1.5", "number -1"),
 * numbers of any size, and every object member in document order, duplicates included. */
#ifndef SHOAL_SPEC_INT_H
#define SHOAL_SPEC_INT_H

#include "spec.h"

enum sj_type { SJ_NULL, SJ_BOOL, SJ_NUM, SJ_STR, SJ_ARR, SJ_OBJ };

struct sj {
    enum sj_type t;
    bool b;
    char *s;      /* SJ_STR: the decoded string (NUL-terminated); SJ_NUM: the literal */
    size_t len;   /* of s */
    size_t start; /* byte span of the value in the input, for SPEC_RAW */
    size_t end;
    struct sj *kids; /* SJ_ARR elements, SJ_OBJ member values */
    char **keys;     /* SJ_OBJ member names (decoded) */
    size_t *keylens;
    size_t n;
};

/* Parses the first JSON value of p[0..n). Returns a heap tree (sj_free) or NULL with e set
 * (ERR_INVALID, Go's words: "unexpected EOF", "invalid character 'x' looking for
 * beginning of value", ...). */
struct sj *sj_parse(const char *p, size_t n, struct err *e);
void sj_free(struct sj *v);

/* Go's word for a JSON value's kind in type errors: "number", "string", "bool", "array",
 * "object" ("null" never reaches an error). */
const char *sj_kind_word(const struct sj *v);

#endif
