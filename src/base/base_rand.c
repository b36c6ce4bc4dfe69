/* base_rand.c — CSPRNG bytes, Docker-style object IDs and base36 encoding. Any thread. */
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void rand_bytes(void *p, size_t n)
{
    uint8_t *q = p;
    while (n) {
        ssize_t r = getrandom(q, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        BUG_ON(r <= 0);
        q += r;
        n -= (size_t)r;
    }
}

char *base36_encode(const uint8_t *bytes, size_t n, size_t width)
{
    /* Repeated division of a big-endian number by 36. */
    uint8_t *num = xmalloc(n ? n : 1);
    memcpy(num, bytes, n);
    size_t cap = n * 2 + width + 2;
    char *rev = xmalloc(cap);
    size_t len = 0;
    for (;;) {
        bool zero = true;
        unsigned rem = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned cur = (rem << 8) | num[i];
            num[i] = (uint8_t)(cur / 36);
            rem = cur % 36;
            if (num[i])
                zero = false;
        }
        rev[len++] = "0123456789abcdefghijklmnopqrstuvwxyz"[rem];
        if (zero)
            break;
    }
    while (len < width)
        rev[len++] = '0';
    char *out = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++)
        out[i] = rev[len - 1 - i];
    out[len] = 0;
    free(num);
    free(rev);
    return out;
}

void hex_id_new(char out[HEX_ID_LEN + 1])
{
    unsigned char rnd[HEX_ID_LEN / 2];
    rand_bytes(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

void id_new(char out[ID_LEN + 1])
{
    /* 128 random bits, base36, exactly 25 characters (36^25 > 2^128), as swarmkit. */
    uint8_t r[16];
    rand_bytes(r, sizeof(r));
    char *s = base36_encode(r, sizeof(r), ID_LEN);
    memcpy(out, s + strlen(s) - ID_LEN, ID_LEN + 1);
    free(s);
}

bool id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z')))
            return false;
    return n == ID_LEN;
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool name_valid(const char *s)
{
    if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                   (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}
