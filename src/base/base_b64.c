/* base_b64.c — base64 with the standard alphabet (RFC 4648 §4), padded or raw.
 *
 * Encoding writes '=' padding only when asked (Go's StdEncoding vs RawStdEncoding).
 * Decoding accepts both forms: padding, when present, must be complete (length a multiple
 * of 4, at most two '=' and only at the end); '\r' and '\n' are skipped as Go does; any
 * other byte outside the alphabet is ERR_INVALID and out is left as it was. Any thread. */
#include "base.h"

#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const void *data, size_t n, bool pad)
{
    const uint8_t *p = data;
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    size_t rest = n - i;
    if (rest) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (rest == 2)
            v |= (uint32_t)p[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        if (rest == 2)
            out[o++] = b64_alphabet[v >> 6 & 63];
        if (pad) {
            out[o++] = '=';
            if (rest == 1)
                out[o++] = '=';
        }
    }
    out[o] = 0;
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int b64_decode(const char *s, size_t slen, struct buf *out, struct err *e)
{
    size_t start = out->len;
    uint32_t acc = 0;
    size_t nsym = 0, npad = 0, pos = 0;
    for (size_t i = 0; i < slen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n')
            continue;
        pos++;
        if (c == '=') {
            npad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0)
            goto bad_char;
        if (npad)
            goto bad; /* data after padding */
        acc = acc << 6 | (uint32_t)v;
        if (++nsym == 4) {
            uint8_t b[3] = {(uint8_t)(acc >> 16), (uint8_t)(acc >> 8), (uint8_t)acc};
            buf_add(out, b, 3);
            acc = 0;
            nsym = 0;
        }
    }
    /* A final group of one symbol carries fewer than 8 bits: never valid. */
    if (nsym == 1)
        goto bad;
    if (npad) {
        if (npad > 2 || pos % 4 != 0 || nsym == 0 || nsym + npad != 4)
            goto bad;
    }
    if (nsym == 2) {
        uint8_t b = (uint8_t)(acc >> 4);
        buf_add(out, &b, 1);
    } else if (nsym == 3) {
        uint8_t b[2] = {(uint8_t)(acc >> 10), (uint8_t)(acc >> 2)};
        buf_add(out, b, 2);
    }
    return 0;

bad_char:
    out->len = start;
    if (out->p)
        out->p[start] = 0;
    return err_set(e, ERR_INVALID, "illegal base64 data: invalid character");
bad:
    out->len = start;
    if (out->p)
        out->p[start] = 0;
    return err_set(e, ERR_INVALID, "illegal base64 data: bad length or padding");
}
