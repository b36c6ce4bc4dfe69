/* fuzz_spec.c — libFuzzer target: a service create/update body the whole way dockerd takes
 * it (decode as Go's encoding/json, strip for an old API version, validate, defaults, encode
 * for inspect), and the same bytes as a node spec and a swarm spec. Any input must give a
 * spec or an error, never a crash, a leak or a sanitizer report. */
#include "spec/spec.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e;
    struct spec_service *s = NULL;
    int major = 1, minor = size ? 24 + data[0] % 18 : 41;
    if (spec_service_prepare((const char *)data, size, major, minor, &s, &e) == 0) {
        json_t *j = spec_service_encode(s);
        json_decref(j);
        spec_service_insert_defaults(s);
        j = spec_service_encode(s);
        json_decref(j);
        spec_service_free(s);
    }
    struct spec_node n;
    if (spec_node_decode((const char *)data, size, &n, &e) == 0) {
        if (spec_node_validate(&n, &e) == 0)
            json_decref(spec_node_encode(&n));
        spec_node_release(&n);
    }
    struct spec_swarm w;
    if (spec_swarm_decode((const char *)data, size, &w, &e) == 0) {
        (void)spec_swarm_validate(&w, &e);
        spec_swarm_release(&w);
    }
    return 0;
}
