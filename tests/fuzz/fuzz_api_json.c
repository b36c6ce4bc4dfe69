/* fuzz_api_json.c — libFuzzer target: the Engine API's JSON request decoders. Bytes go
 * through api_json_decode (Go's json.Decoder words, NUL refusal) and the value through the
 * swarm spec, init request, join request and node spec checks the handlers run. The first
 * byte picks which, so each decoder gets the whole input. */
#include "api/api_int.h"
#include "node/node_int.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct err e;
    json_t *j = api_json_decode((const char *)data + 1, size - 1, &e);
    if (!j)
        return 0;
    switch (data[0] % 4) {
    case 0:
        if (node_spec_check(j, &e) == 0) { /* what update then does with an accepted spec */
            json_t *sp = json_deep_copy(j);
            node_spec_defaults(sp);
            json_decref(sp);
        }
        break;
    case 1:
        (void)node_init_request_check(j, &e);
        break;
    case 2:
        (void)node_join_request_check(j, &e);
        break;
    default: {
        json_t *out = NULL;
        if (node_node_spec_check(j, &out, &e) == 0)
            json_decref(out);
    }
    }
    json_decref(j);
    return 0;
}
