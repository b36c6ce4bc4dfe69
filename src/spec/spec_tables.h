/* spec_tables.h — private to src/spec: macros that build field tables (struct spec_field)
 * from a C struct and its members. S is the C struct, m the member, N the JSON key, GT the
 * Go type as Go prints it (NULL for the plain ones), FL the flags. */
#ifndef SHOAL_SPEC_TABLES_H
#define SHOAL_SPEC_TABLES_H

#include "spec.h"

#include <stddef.h>

#define F_STR(S, m, N, GT, FL)                                                                     \
    {                                                                                              \
        N, SPEC_STR, offsetof(S, m), GT, 0, FL, 0, NULL                                            \
    }
#define F_BOOL(S, m, N, FL)                                                                        \
    {                                                                                              \
        N, SPEC_BOOL, offsetof(S, m), NULL, 0, FL, 0, NULL                                         \
    }
#define F_PBOOL(S, m, has, N)                                                                      \
    {                                                                                              \
        N, SPEC_BOOL, offsetof(S, m), NULL, 0, SPEC_OMITEMPTY | SPEC_PTR, offsetof(S, has), NULL   \
    }
#define F_INT(S, m, N, BITS, GT, FL)                                                               \
    {                                                                                              \
        N, SPEC_INT, offsetof(S, m), GT, BITS, FL, 0, NULL                                         \
    }
#define F_PINT(S, m, has, N, GT)                                                                   \
    {                                                                                              \
        N, SPEC_INT, offsetof(S, m), GT, 64, SPEC_OMITEMPTY | SPEC_PTR, offsetof(S, has), NULL     \
    }
#define F_UINT(S, m, N, BITS, GT, FL)                                                              \
    {                                                                                              \
        N, SPEC_UINT, offsetof(S, m), GT, BITS, FL, 0, NULL                                        \
    }
#define F_PUINT(S, m, has, N)                                                                      \
    {                                                                                              \
        N, SPEC_UINT, offsetof(S, m), NULL, 64, SPEC_OMITEMPTY | SPEC_PTR, offsetof(S, has), NULL  \
    }
#define F_FLOAT(S, m, N, BITS, FL)                                                                 \
    {                                                                                              \
        N, SPEC_FLOAT, offsetof(S, m), NULL, BITS, FL, 0, NULL                                     \
    }
#define F_STRV(S, m, N, FL)                                                                        \
    {                                                                                              \
        N, SPEC_STRV, offsetof(S, m), NULL, 0, FL, 0, NULL                                         \
    }
#define F_MAP(S, m, N, FL)                                                                         \
    {                                                                                              \
        N, SPEC_MAP, offsetof(S, m), NULL, 0, FL, 0, NULL                                          \
    }
#define F_SUB(S, m, N, SUB)                                                                        \
    {                                                                                              \
        N, SPEC_STRUCT, offsetof(S, m), NULL, 0, 0, 0, &(SUB)                                      \
    }
/* A Go pointer to a struct: omitempty unless FL says otherwise (pass 0 for a bare pointer,
 * which encodes as null when unset). */
#define F_PSUB(S, m, has, N, SUB, FL)                                                              \
    {                                                                                              \
        N, SPEC_STRUCT, offsetof(S, m), NULL, 0, SPEC_PTR | (FL), offsetof(S, has), &(SUB)         \
    }
#define F_LIST(S, m, cnt, N, GT, SUB)                                                              \
    {                                                                                              \
        N, SPEC_LIST, offsetof(S, m), GT, 0, SPEC_OMITEMPTY, offsetof(S, cnt), &(SUB)              \
    }
#define F_RAW(S, m, N, GT)                                                                         \
    {                                                                                              \
        N, SPEC_RAW, offsetof(S, m), GT, 0, SPEC_OMITEMPTY | SPEC_RAW_OBJ, 0, NULL                 \
    }

#define SPEC_TYPE(var, NAME, GOTYPE, S, FIELDS)                                                    \
    static const struct spec_type var = {NAME, GOTYPE, sizeof(S), FIELDS, ARRAY_SIZE(FIELDS)}
#define SPEC_TYPE_PUBLIC(var, NAME, GOTYPE, S, FIELDS)                                             \
    const struct spec_type var = {NAME, GOTYPE, sizeof(S), FIELDS, ARRAY_SIZE(FIELDS)}

#define OE SPEC_OMITEMPTY

#endif
