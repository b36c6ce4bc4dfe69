/* ca_seal.c — AES-256-GCM sealing for data at rest (store values, raft-style snapshots).
 *
 * Sealed format: 12-byte random nonce || ciphertext (same length as the plaintext) ||
 * 16-byte tag; no associated data. Invariant: ca_unseal appends to out only when the tag
 * verifies; on any failure out is left exactly as it was. Pure functions; any thread. */
#include "ca/ca.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#define CA_NONCE_LEN 12
#define CA_TAG_LEN 16
#define CA_CHUNK (1 << 30) /* EVP takes int lengths */

_Static_assert(CA_SEAL_OVERHEAD == CA_NONCE_LEN + CA_TAG_LEN, "sealed format");

void ca_seal(const uint8_t key[32], const void *plain, size_t n, struct buf *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    BUG_ON(!ctx);
    buf_reserve(out, n + CA_SEAL_OVERHEAD);
    uint8_t *nonce = (uint8_t *)out->p + out->len;
    rand_bytes(nonce, CA_NONCE_LEN);
    BUG_ON(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1);

    uint8_t *dst = nonce + CA_NONCE_LEN;
    const uint8_t *src = plain;
    size_t left = n;
    while (left) {
        int chunk = left > CA_CHUNK ? CA_CHUNK : (int)left, wrote = 0;
        BUG_ON(EVP_EncryptUpdate(ctx, dst, &wrote, src, chunk) != 1);
        BUG_ON(wrote != chunk); /* GCM is a stream mode */
        dst += wrote;
        src += chunk;
        left -= (size_t)chunk;
    }
    int fin = 0;
    BUG_ON(EVP_EncryptFinal_ex(ctx, dst, &fin) != 1);
    BUG_ON(fin != 0);
    BUG_ON(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CA_TAG_LEN, dst) != 1);
    out->len += n + CA_SEAL_OVERHEAD;
    out->p[out->len] = 0;
    EVP_CIPHER_CTX_free(ctx);
}

int ca_unseal(const uint8_t key[32], const void *sealed, size_t n, struct buf *out, struct err *e)
{
    if (n < CA_SEAL_OVERHEAD)
        return err_set(e, ERR_UNAUTHORIZED, "invalid key provided");
    const uint8_t *nonce = sealed, *src = nonce + CA_NONCE_LEN;
    size_t clen = n - CA_SEAL_OVERHEAD;
    uint8_t tag[CA_TAG_LEN];
    memcpy(tag, src + clen, CA_TAG_LEN); /* the ctrl wants a non-const pointer */

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    BUG_ON(!ctx);
    BUG_ON(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1);
    buf_reserve(out, clen);
    uint8_t *dst = (uint8_t *)out->p + out->len;
    size_t left = clen;
    int rc = 0;
    while (left) {
        int chunk = left > CA_CHUNK ? CA_CHUNK : (int)left, wrote = 0;
        BUG_ON(EVP_DecryptUpdate(ctx, dst, &wrote, src, chunk) != 1);
        BUG_ON(wrote != chunk);
        dst += wrote;
        src += chunk;
        left -= (size_t)chunk;
    }
    BUG_ON(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CA_TAG_LEN, tag) != 1);
    int fin = 0;
    if (EVP_DecryptFinal_ex(ctx, dst, &fin) != 1) {
        /* Wipe the unauthenticated plaintext we wrote past out->len. */
        explicit_bzero(out->p + out->len, clen);
        out->p[out->len] = 0;
        ERR_clear_error();
        rc = err_set(e, ERR_UNAUTHORIZED, "invalid key provided");
    } else {
        out->len += clen;
        out->p[out->len] = 0;
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
