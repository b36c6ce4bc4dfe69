/* ca_token.c — join tokens ("SWMTKN-1-<digest>-<secret>") and unlock keys ("SWMKEY-1-<b64>").
 *
 * Invariants: a token is exactly "SWMTKN-1-", 50 base36 lower-case digest characters, '-',
 * 25 base36 lower-case secret characters; an unlock key is "SWMKEY-1-" and 43 characters of
 * unpadded standard base64 holding 32 bytes. Parsers accept nothing else. Secrets come from
 * getrandom(2) via rand_bytes. Pure functions; any thread. */
#include "ca/ca.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define CA_TOKEN_PREFIX "SWMTKN-1-"
#define CA_UNLOCK_PREFIX "SWMKEY-1-"
#define CA_UNLOCK_B64_LEN 43

char *ca_token_new(const char *root_cert_pem)
{
    /* As swarmkit: 128 random bits rendered in base36, left-padded to 25 (36^25 > 2^128). */
    uint8_t r[16];
    rand_bytes(r, sizeof(r));
    char *secret = base36_encode(r, sizeof(r), CA_TOKEN_SECRET_LEN);
    BUG_ON(strlen(secret) != CA_TOKEN_SECRET_LEN);
    char *digest = ca_digest(root_cert_pem);
    BUG_ON(strlen(digest) != CA_TOKEN_DIGEST_LEN);
    char *tok = xasprintf(CA_TOKEN_PREFIX "%s-%s", digest, secret);
    explicit_bzero(r, sizeof(r));
    explicit_bzero(secret, strlen(secret));
    free(secret);
    free(digest);
    return tok;
}

static bool ca_base36_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

int ca_token_parse(const char *token, char digest[CA_TOKEN_DIGEST_LEN + 1],
                   char secret[CA_TOKEN_SECRET_LEN + 1], struct err *e)
{
    const size_t plen = strlen(CA_TOKEN_PREFIX);
    if (!token || strlen(token) != plen + CA_TOKEN_DIGEST_LEN + 1 + CA_TOKEN_SECRET_LEN ||
        !str_has_prefix(token, CA_TOKEN_PREFIX))
        return err_set(e, ERR_INVALID, "invalid join token");
    const char *d = token + plen, *s = d + CA_TOKEN_DIGEST_LEN + 1;
    if (!ca_base36_run(d, CA_TOKEN_DIGEST_LEN) || d[CA_TOKEN_DIGEST_LEN] != '-' ||
        !ca_base36_run(s, CA_TOKEN_SECRET_LEN))
        return err_set(e, ERR_INVALID, "invalid join token");
    memcpy(digest, d, CA_TOKEN_DIGEST_LEN);
    digest[CA_TOKEN_DIGEST_LEN] = 0;
    memcpy(secret, s, CA_TOKEN_SECRET_LEN);
    secret[CA_TOKEN_SECRET_LEN] = 0;
    return 0;
}

char *ca_unlock_key_new(void)
{
    uint8_t k[32];
    rand_bytes(k, sizeof(k));
    char *b = b64_encode(k, sizeof(k), false);
    char *key = xasprintf(CA_UNLOCK_PREFIX "%s", b);
    explicit_bzero(k, sizeof(k));
    explicit_bzero(b, strlen(b));
    free(b);
    return key;
}

int ca_unlock_key_parse(const char *key, uint8_t out[32], struct err *e)
{
    const size_t plen = strlen(CA_UNLOCK_PREFIX);
    if (!key || strlen(key) != plen + CA_UNLOCK_B64_LEN || !str_has_prefix(key, CA_UNLOCK_PREFIX))
        return err_set(e, ERR_INVALID, "invalid unlock key");
    const char *b = key + plen;
    /* b64_decode skips CR/LF, which an unlock key must not contain. */
    if (memchr(b, '\r', CA_UNLOCK_B64_LEN) || memchr(b, '\n', CA_UNLOCK_B64_LEN))
        return err_set(e, ERR_INVALID, "invalid unlock key");
    struct buf raw = BUF_INIT;
    int rc = 0;
    if (b64_decode(b, CA_UNLOCK_B64_LEN, &raw, NULL) < 0 || raw.len != 32) {
        rc = err_set(e, ERR_INVALID, "invalid unlock key");
        goto out;
    }
    memcpy(out, raw.p, 32);
out:
    if (raw.p)
        explicit_bzero(raw.p, raw.cap);
    buf_release(&raw);
    return rc;
}

bool ca_token_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    /* the lengths are public (every token has the same shape); the bytes are not */
    return na == nb && CRYPTO_memcmp(a, b, na) == 0;
}
