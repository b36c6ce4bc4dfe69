/* base_rate.c — a failure limiter keyed by a short string (a peer's IP address): each key
 * may fail `burst` times, then regains one try per `refill_ns` (a token bucket per key).
 * Keys live in a fixed table; when it is full the key seen longest ago is forgotten, so a
 * flood of distinct keys costs a bounded amount of memory.
 *
 * Pure logic: the time is an argument, nothing here reads a clock. Single-threaded. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rate_slot {
    char key[64];
    int64_t tokens_ns; /* budget in time units: burst * refill_ns when full */
    int64_t last_ns;   /* when the budget was last brought up to date */
    bool used;
};

struct rate_table {
    struct rate_slot *slots;
    size_t n;
    int burst;
    int64_t refill_ns;
};

struct rate_table *rate_table_new(size_t slots, int burst, int64_t refill_ns)
{
    BUG_ON(slots == 0 || burst < 1 || refill_ns < 1);
    struct rate_table *t = xcalloc(1, sizeof(*t));
    t->slots = xcalloc(slots, sizeof(*t->slots));
    t->n = slots;
    t->burst = burst;
    t->refill_ns = refill_ns;
    return t;
}

void rate_table_free(struct rate_table *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

/* The key's slot brought up to now, or NULL if the key is unknown (a full budget). */
static struct rate_slot *rate_find(struct rate_table *t, const char *key, int64_t now_ns)
{
    for (size_t i = 0; i < t->n; i++) {
        struct rate_slot *s = &t->slots[i];
        if (!s->used || strcmp(s->key, key))
            continue;
        int64_t full = (int64_t)t->burst * t->refill_ns;
        if (now_ns > s->last_ns) { /* a clock that steps back adds nothing */
            int64_t gain = now_ns - s->last_ns;
            s->tokens_ns = gain >= full - s->tokens_ns ? full : s->tokens_ns + gain;
            s->last_ns = now_ns;
        }
        return s;
    }
    return NULL;
}

bool rate_blocked(struct rate_table *t, const char *key, int64_t now_ns)
{
    struct rate_slot *s = rate_find(t, key, now_ns);
    return s && s->tokens_ns < t->refill_ns;
}

bool rate_failed(struct rate_table *t, const char *key, int64_t now_ns)
{
    struct rate_slot *s = rate_find(t, key, now_ns);
    if (!s) {
        s = &t->slots[0];
        for (size_t i = 0; i < t->n; i++) {
            if (!t->slots[i].used) {
                s = &t->slots[i];
                break;
            }
            if (t->slots[i].last_ns < s->last_ns)
                s = &t->slots[i];
        }
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->tokens_ns = (int64_t)t->burst * t->refill_ns;
        s->last_ns = now_ns;
        s->used = true;
    }
    s->tokens_ns = s->tokens_ns >= t->refill_ns ? s->tokens_ns - t->refill_ns : 0;
    return s->tokens_ns < t->refill_ns;
}
