/* test_disp.c — the dispatcher's incremental assignments (src/manager/dispatcher): a new
 * session sends everything as `full`, then only what changed; removals; lost answers are
 * re-sent; a randomised check that a node applying what it receives (and sometimes losing
 * answers) always ends with exactly its current tasks. */
#include "harness.h"
#include "manager/dispatcher/disp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct disp_change *t_find(const struct disp_changes *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].id, id))
            return &c->v[i];
    return NULL;
}

TEST(disp_incremental)
{
    struct disp_session *s = disp_session_new();
    struct disp_changes c = {0};
    struct disp_item cur[] = {{"a", 1}, {"b", 1}};
    disp_session_changes(s, cur, 2, &c);
    ASSERT_TRUE(c.full);
    ASSERT_EQ_INT(c.n, 2);
    uint64_t seq = c.seq;
    /* not acknowledged yet: the next answer is still full */
    disp_session_changes(s, cur, 2, &c);
    ASSERT_TRUE(c.full);
    disp_session_ack(s, seq); /* an old number: nothing */
    disp_session_ack(s, c.seq);
    disp_session_changes(s, cur, 2, &c);
    ASSERT_FALSE(c.full);
    ASSERT_EQ_INT(c.n, 0); /* nothing changed */
    disp_session_ack(s, c.seq);
    /* b changes, c appears, a goes */
    struct disp_item next[] = {{"b", 2}, {"c", 1}};
    disp_session_changes(s, next, 2, &c);
    ASSERT_EQ_INT(c.n, 3);
    ASSERT_EQ_INT(t_find(&c, "b")->version, 2);
    ASSERT_FALSE(t_find(&c, "c")->removed);
    ASSERT_TRUE(t_find(&c, "a")->removed);
    /* that answer was lost: the next one carries the same changes again */
    disp_session_changes(s, next, 2, &c);
    ASSERT_EQ_INT(c.n, 3);
    disp_session_ack(s, c.seq);
    disp_session_changes(s, next, 2, &c);
    ASSERT_EQ_INT(c.n, 0);
    disp_changes_release(&c);
    disp_session_free(s);
    disp_session_free(NULL);
}

static uint64_t t_rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

TEST(disp_random_converges)
{
    uint64_t seed = 0x1234567887654321ULL;
    char names[32][8];
    for (int i = 0; i < 32; i++)
        snprintf(names[i], sizeof(names[i]), "t%d", i);
    for (int run = 0; run < 200; run++) {
        struct disp_session *s = disp_session_new();
        struct disp_changes c = {0};
        uint64_t have[32] = {0}; /* node side: version + 1, 0 = absent */
        uint64_t truth[32] = {0};
        uint64_t last_ack = 0;
        for (int step = 0; step < 60; step++) {
            for (int k = (int)(t_rng(&seed) % 4); k > 0; k--) {
                int i = (int)(t_rng(&seed) % 32);
                truth[i] = t_rng(&seed) % 3 ? truth[i] + 1 : 0; /* change or remove */
            }
            struct disp_item cur[32];
            size_t n = 0;
            for (int i = 0; i < 32; i++)
                if (truth[i])
                    cur[n++] = (struct disp_item){names[i], truth[i] - 1};
            disp_session_ack(s, last_ack);
            if (t_rng(&seed) % 3 == 0) /* two answers in flight: the first one is lost */
                disp_session_changes(s, cur, n, &c);
            disp_session_changes(s, cur, n, &c);
            if (t_rng(&seed) % 4 == 0)
                continue; /* the answer is lost */
            if (c.full)
                memset(have, 0, sizeof(have));
            for (size_t i = 0; i < c.n; i++) {
                int k = atoi(c.v[i].id + 1);
                have[k] = c.v[i].removed ? 0 : c.v[i].version + 1;
            }
            last_ack = c.seq;
            for (int i = 0; i < 32; i++)
                ASSERT_EQ_INT(have[i], truth[i]);
        }
        disp_changes_release(&c);
        disp_session_free(s);
    }
}
