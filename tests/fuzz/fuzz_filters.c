/* fuzz_filters.c — libFuzzer target: ?filters= as api_filters_decode reads it (moby's
 * filters.FromJSON), then validation and label matching as GET /nodes and /events use them,
 * GET /networks' checks and matching (its name and id filters are regular expressions, which
 * must never take long to compile), and the same bytes as a since/until value. */
#include "api/api_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const allowed[] = {"id", "label", "name", "node.label", "role", NULL};
    struct err e;
    struct api_filters f = {0};
    if (api_filters_decode((const char *)data, size, &f, &e) == 0) {
        (void)api_filters_validate(&f, allowed, &e);
        json_t *labels = json_pack("{s:s, s:s}", "env", "prod", "a=b", "");
        (void)api_filters_match_labels(&f, "label", labels);
        (void)api_filters_match_labels(&f, "node.label", labels);
        json_decref(labels);
        if (api_network_filters_check(&f, &e) == 0) {
            json_t *nets = json_pack(
                "[o, o]", api_network_json("shoal_gwbridge", "3f0a", 1, "bridge", NULL, NULL, NULL),
                api_network_json("host", "9e2d", 1, "host", NULL, NULL, NULL));
            json_decref(api_networks_filter(nets, &f));
            json_decref(nets);
        }
    } else if (strcmp(e.msg, "invalid filter") != 0) {
        abort(); /* moby has one answer for every malformed filter */
    }
    api_filters_release(&f);
    char *s = strndup((const char *)data, size);
    int64_t ns;
    (void)api_events_parse_time("since", s, &ns, &e);
    free(s);
    return 0;
}
