/* fuzz_token.c — libFuzzer target: join tokens and unlock keys (ca_token.c) and the base64
 * decoder under them. A token that parses must have the documented shape. */
#include "ca/ca.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    struct err e;
    char digest[CA_TOKEN_DIGEST_LEN + 1], secret[CA_TOKEN_SECRET_LEN + 1];
    if (ca_token_parse(s, digest, secret, &e) == 0 &&
        (strlen(digest) != CA_TOKEN_DIGEST_LEN || strlen(secret) != CA_TOKEN_SECRET_LEN ||
         strncmp(s, "SWMTKN-1-", 9) != 0))
        abort();
    uint8_t key[32];
    (void)ca_unlock_key_parse(s, key, &e);
    struct buf out = BUF_INIT;
    (void)b64_decode((const char *)data, size, &out, &e);
    buf_release(&out);
    free(s);
    return 0;
}
