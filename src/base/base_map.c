/* base_map.c — a hash map from strings to pointers: open addressing with linear probing,
 * backward-shift deletion (no tombstones), grown at 50% load. Keys are copied; values are
 * the caller's. Iteration order is unspecified and changes when the map changes.
 * Single-threaded. */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

struct strmap_slot {
    char *key; /* NULL: empty */
    size_t hash;
    void *value;
};

struct strmap {
    struct strmap_slot *s;
    size_t cap, n; /* cap: a power of two */
};

static size_t map_hash(const char *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

struct strmap *strmap_new(void)
{
    struct strmap *m = xcalloc(1, sizeof(*m));
    m->cap = 16;
    m->s = xcalloc(m->cap, sizeof(*m->s));
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->s[i].key);
    free(m->s);
    free(m);
}

static size_t map_find(const struct strmap *m, const char *key, size_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask)
        if (!m->s[i].key || (m->s[i].hash == h && !strcmp(m->s[i].key, key)))
            return i;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    size_t i = map_find(m, key, map_hash(key));
    return m->s[i].key ? m->s[i].value : NULL;
}

static void map_grow(struct strmap *m)
{
    struct strmap_slot *old = m->s;
    size_t oldcap = m->cap;
    m->cap *= 2;
    m->s = xcalloc(m->cap, sizeof(*m->s));
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            m->s[map_find(m, old[i].key, old[i].hash)] = old[i];
    free(old);
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
    if ((m->n + 1) * 2 > m->cap)
        map_grow(m);
    size_t h = map_hash(key), i = map_find(m, key, h);
    if (m->s[i].key) {
        void *prev = m->s[i].value;
        m->s[i].value = value;
        return prev;
    }
    m->s[i] = (struct strmap_slot){xstrdup(key), h, value};
    m->n++;
    return NULL;
}

void *strmap_del(struct strmap *m, const char *key)
{
    size_t mask = m->cap - 1, i = map_find(m, key, map_hash(key));
    if (!m->s[i].key)
        return NULL;
    void *prev = m->s[i].value;
    free(m->s[i].key);
    m->s[i].key = NULL;
    m->n--;
    /* shift back the entries of the run after i that belong at or before i */
    for (size_t j = (i + 1) & mask; m->s[j].key; j = (j + 1) & mask) {
        size_t home = m->s[j].hash & mask;
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->s[i] = m->s[j];
            m->s[j].key = NULL;
            i = j;
        }
    }
    return prev;
}

size_t strmap_len(const struct strmap *m)
{
    return m->n;
}

bool strmap_next(const struct strmap *m, size_t *iter, const char **key, void **value)
{
    for (; *iter < m->cap; (*iter)++) {
        if (m->s[*iter].key) {
            *key = m->s[*iter].key;
            *value = m->s[*iter].value;
            (*iter)++;
            return true;
        }
    }
    return false;
}
