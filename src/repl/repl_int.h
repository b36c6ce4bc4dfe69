/* repl_int.h — the replication module's private structure; only src/repl/ includes it. */
#ifndef SHOAL_REPL_INT_H
#define SHOAL_REPL_INT_H

#include "repl.h"

struct repl {
    uv_loop_t *loop;
    struct repl_config cfg; /* its strings point at the copies below */
    char *prefix, *private_prefix, *fence_key;
};

#endif
