/* fuzz_node_msg.c — libFuzzer target: the node-to-node bodies of /swarm-rpc/ (join request
 * and answer, heartbeat and its answer, renewal, promotion, CA answer) through
 * node_msg_decode, the check every receiver runs first. The first byte picks the kind. A
 * body that passes is then read the way its receiver reads it, which must be safe: every
 * field the receivers use has the promised type. */
#include "ca/ca.h"
#include "node/node_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void read_as_receiver(enum node_msg_kind k, json_t *j)
{
    struct err e;
    const char *s;
    size_t i;
    json_t *v;
    switch (k) {
    case NODE_MSG_JOIN_REQ: {
        char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1];
        (void)ca_token_parse(json_string_value(json_object_get(j, "Token")), digest, secret, &e);
        if (strlen(json_string_value(json_object_get(j, "CSR"))) > (1u << 20))
            abort();
        break;
    }
    case NODE_MSG_JOIN_ANSWER:
        if (!id_valid(json_string_value(json_object_get(j, "NodeID"))))
            abort(); /* the check promised a valid identity */
        if ((s = json_string_value(json_object_get(j, "DEK")))) {
            struct buf raw = BUF_INIT;
            (void)b64_decode(s, strlen(s), &raw, &e);
            buf_release(&raw);
        }
        /* fall through: the managers list is read as the heartbeat's */
    case NODE_MSG_BEAT_ANSWER:
        json_array_foreach(json_object_get(j, "Managers"), i, v)
        {
            if (strcmp(json_string_value(v), "10.0.0.1:2377") == 0) /* as follow_leader */
                break;
        }
        break;
    case NODE_MSG_BEAT_REQ: {
        json_t *tls = json_object_get(j, "TLSInfo");
        const char *k2;
        json_object_foreach(tls, k2, v)
        {
            if (!json_is_string(v) && !json_is_null(v))
                abort(); /* stored as sent: strings only */
        }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum node_msg_kind k = (enum node_msg_kind)(data[0] % NODE_MSG_COUNT);
    struct err e;
    json_t *j = node_msg_decode(k, (const char *)data + 1, size - 1, &e);
    if (j)
        read_as_receiver(k, j);
    json_decref(j);
    return 0;
}
