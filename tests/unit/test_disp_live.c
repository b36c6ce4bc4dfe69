/* test_disp_live.c — the dispatcher's node liveness (src/manager/dispatcher/disp_live.c) with
 * a fake clock, step by step: a node silent three periods is marked down, heard again it is
 * marked ready; the grace window of a new table and of a period change; the check interval;
 * the leader itself; nodes that are down; a lost write; many nodes; removed nodes. */
#include "harness.h"
#include "manager/dispatcher/disp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF "self000000000000000000000"

/* A small world: the store's node table (ID, ready) as the wiring builds it each tick. */
struct world {
    struct disp_live *l;
    struct disp_live_node v[16];
    size_t n;
    struct disp_live_marks marks;
    int64_t period;
    uint64_t now;
};

static void w_init(struct world *w, int64_t period, uint64_t now)
{
    memset(w, 0, sizeof(*w));
    w->l = disp_live_new(SELF);
    w->period = period;
    w->now = now;
}

static void w_add(struct world *w, const char *id, bool ready)
{
    w->v[w->n++] = (struct disp_live_node){id, ready};
}

static struct disp_live_node *w_node(struct world *w, const char *id)
{
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->v[i].id, id))
            return &w->v[i];
    FAIL_AT("no node %s", id);
}

/* One check at the current time; the marks are "written" (the store follows them). Returns
 * how many nodes were marked down. */
static size_t w_check(struct world *w)
{
    disp_live_check(w->l, w->v, w->n, w->period, w->now, &w->marks);
    for (size_t i = 0; i < w->marks.n; i++) {
        ASSERT_EQ_STR(w->marks.v[i].state, "down");
        ASSERT_EQ_STR(w->marks.v[i].message, "heartbeat failure");
        w_node(w, w->marks.v[i].id)->ready = false;
    }
    return w->marks.n;
}

static bool w_marked(const struct world *w, const char *id)
{
    for (size_t i = 0; i < w->marks.n; i++)
        if (!strcmp(w->marks.v[i].id, id))
            return true;
    return false;
}

/* A heartbeat from id now; a ready mark is written too. */
static bool w_beat(struct world *w, const char *id)
{
    struct disp_live_node *nd = w_node(w, id);
    bool mark = disp_live_heard(w->l, id, nd->ready, w->now);
    if (mark)
        nd->ready = true;
    return mark;
}

static void w_free(struct world *w)
{
    disp_live_marks_release(&w->marks);
    disp_live_free(w->l);
}

TEST(disp_live_period_and_tick)
{
    ASSERT_EQ_INT(disp_live_period_ms(0), 5000);
    ASSERT_EQ_INT(disp_live_period_ms(-1), 5000);
    ASSERT_EQ_INT(disp_live_period_ms(1000000000LL), 1000);
    ASSERT_EQ_INT(disp_live_period_ms(10000000000LL), 10000);
    /* a quarter of the period, within [250 ms, 1 s] */
    ASSERT_EQ_INT(disp_live_tick_ms(5000), 1000);
    ASSERT_EQ_INT(disp_live_tick_ms(2000), 500);
    ASSERT_EQ_INT(disp_live_tick_ms(1000), 250);
    ASSERT_EQ_INT(disp_live_tick_ms(200), 250);
    ASSERT_EQ_INT(disp_live_tick_ms(60000), 1000);
    struct world w;
    w_init(&w, 2000, 7000);
    w_check(&w);
    ASSERT_EQ_INT(w.marks.next, 7500);
    w_free(&w);
    disp_live_free(NULL);
}

TEST(disp_live_silent_three_periods_down_then_ready)
{
    struct world w;
    w_init(&w, 1000, 100000);
    w_add(&w, "a", true);
    w_add(&w, "b", true);
    ASSERT_FALSE(w_beat(&w, "a")); /* ready already: nothing to write */
    ASSERT_FALSE(w_beat(&w, "b"));
    /* b keeps beating once a period, a falls silent at 100000 */
    for (uint64_t t = 100000; t <= 103000; t += 250) {
        w.now = t;
        if (t % 1000 == 0)
            w_beat(&w, "b");
        ASSERT_EQ_INT(w_check(&w), 0); /* silent exactly three periods: not yet */
    }
    w.now = 103001;
    ASSERT_EQ_INT(w_check(&w), 1);
    ASSERT_TRUE(w_marked(&w, "a"));
    ASSERT_FALSE(w_node(&w, "a")->ready);
    /* down stays down, however long, without a mark again */
    for (w.now = 103250; w.now < 120000; w.now += 250) {
        if (w.now % 1000 == 0)
            w_beat(&w, "b");
        ASSERT_EQ_INT(w_check(&w), 0);
    }
    /* heard again: marked ready at once, and a new window from that heartbeat */
    ASSERT_TRUE(w_beat(&w, "a"));
    ASSERT_TRUE(w_node(&w, "a")->ready);
    ASSERT_FALSE(w_beat(&w, "a"));
    uint64_t heard = w.now;
    for (; w.now <= heard + 3000; w.now += 250) {
        if (w.now % 1000 == 0)
            w_beat(&w, "b");
        ASSERT_EQ_INT(w_check(&w), 0);
    }
    w.now = heard + 3250;
    w_beat(&w, "b");
    ASSERT_EQ_INT(w_check(&w), 1);
    ASSERT_TRUE(w_marked(&w, "a"));
    w_free(&w);
}

TEST(disp_live_grace_window_of_a_new_table)
{
    /* a new leader: nodes ready in the store, never heard by this table */
    struct world w;
    w_init(&w, 5000, 50000);
    w_add(&w, "a", true);
    w_add(&w, "b", true);
    /* the first check starts every window; nobody is down during it (b beats once) */
    for (; w.now <= 50000 + 15000; w.now += 1000) {
        if (w.now == 62000)
            w_beat(&w, "b");
        ASSERT_EQ_INT(w_check(&w), 0);
    }
    /* a goes after its whole window, b is counted from its heartbeat */
    w.now = 65001;
    ASSERT_EQ_INT(w_check(&w), 1);
    ASSERT_TRUE(w_marked(&w, "a"));
    w_free(&w);

    /* a heartbeat before the first check counts as is */
    w_init(&w, 1000, 1000);
    w_add(&w, "a", true);
    w_beat(&w, "a");
    w.now = 3500;
    ASSERT_EQ_INT(w_check(&w), 0); /* the window starts at the heartbeat, not here */
    w.now = 4001;
    ASSERT_EQ_INT(w_check(&w), 1);
    w_free(&w);
}

TEST(disp_live_period_change_restarts_every_window)
{
    struct world w;
    w_init(&w, 1000, 0);
    w_add(&w, "a", true);
    w_add(&w, "b", true);
    w_beat(&w, "a");
    w_beat(&w, "b");
    w.now = 2000;
    ASSERT_EQ_INT(w_check(&w), 0);
    /* swarm update --dispatcher-heartbeat 10s at 2500: silent since 0, but nodes learn the
     * period with their next heartbeat, so every window starts at the check that sees it */
    w.period = 10000;
    w.now = 2500;
    ASSERT_EQ_INT(w_check(&w), 0);
    ASSERT_EQ_INT(w.marks.next, 3500);
    w.now = 2500 + 30000;
    ASSERT_EQ_INT(w_check(&w), 0);
    w_beat(&w, "b");
    w.now = 2500 + 30001;
    ASSERT_EQ_INT(w_check(&w), 1);
    ASSERT_TRUE(w_marked(&w, "a"));
    /* shorter again (1 s) at 40 s: a and b were heard at 32.5 s, more than three new
     * periods ago, yet their windows start over at the change */
    w_beat(&w, "a");
    w.period = 1000;
    w.now = 40000;
    ASSERT_EQ_INT(w_check(&w), 0);
    w.now = 43000;
    ASSERT_EQ_INT(w_check(&w), 0);
    w.now = 43001;
    ASSERT_EQ_INT(w_check(&w), 2);
    w_free(&w);
}

TEST(disp_live_self_and_not_ready_nodes)
{
    struct world w;
    w_init(&w, 1000, 0);
    w_add(&w, SELF, true);
    w_add(&w, "down", false);
    w_add(&w, "late", true);
    size_t marked = 0;
    for (; w.now <= 20000; w.now += 250) {
        marked += w_check(&w);
        ASSERT_TRUE(w.marks.n == 0 || w_marked(&w, "late"));
    }
    ASSERT_EQ_INT(marked, 1); /* late, after its grace window; not the leader, not "down" */
    ASSERT_TRUE(w_node(&w, SELF)->ready); /* the leader never marks itself */
    ASSERT_FALSE(w_node(&w, "down")->ready);
    /* a node down all along that becomes ready through its store object (not a heartbeat)
     * gets a grace window from the check that sees it ready, not from when it was listed */
    w_node(&w, "down")->ready = true;
    ASSERT_EQ_INT(w_check(&w), 0);
    w.now += 3000;
    ASSERT_EQ_INT(w_check(&w), 0);
    w.now += 1;
    ASSERT_EQ_INT(w_check(&w), 1);
    ASSERT_TRUE(w_marked(&w, "down"));
    w_free(&w);
}

TEST(disp_live_lost_write_is_asked_again)
{
    struct world w;
    w_init(&w, 1000, 0);
    w_add(&w, "a", true);
    w_beat(&w, "a");
    w.now = 3001;
    struct disp_live_node store[] = {{"a", true}};
    struct disp_live_marks m = {0};
    disp_live_check(w.l, store, 1, 1000, w.now, &m);
    ASSERT_EQ_INT(m.n, 1);
    /* the write failed: the store still says ready, the next check asks again */
    disp_live_check(w.l, store, 1, 1000, w.now + 250, &m);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.v[0].id, "a");
    /* a heartbeat meanwhile: nothing to write any more */
    ASSERT_FALSE(disp_live_heard(w.l, "a", true, w.now + 300));
    disp_live_check(w.l, store, 1, 1000, w.now + 500, &m);
    ASSERT_EQ_INT(m.n, 0);
    disp_live_marks_release(&m);
    w_free(&w);
}

TEST(disp_live_removed_and_joining_nodes)
{
    struct disp_live *l = disp_live_new(SELF);
    struct disp_live_marks m = {0};
    struct disp_live_node two[] = {{"a", true}, {"b", true}}, one[] = {{"a", true}};
    disp_live_heard(l, "a", true, 0);
    disp_live_heard(l, "b", true, 0);
    disp_live_check(l, two, 2, 1000, 250, &m);
    ASSERT_EQ_INT(disp_live_size(l), 2);
    /* b removed from the swarm: forgotten at the next check */
    disp_live_check(l, one, 1, 1000, 500, &m);
    ASSERT_EQ_INT(disp_live_size(l), 1);
    /* a joining node is heard before its object is committed: kept for one check... */
    disp_live_heard(l, "c", false, 600);
    disp_live_check(l, one, 1, 1000, 750, &m);
    ASSERT_EQ_INT(disp_live_size(l), 2);
    /* ... and its heartbeat counts once the store has it */
    struct disp_live_node withc[] = {{"a", true}, {"c", true}};
    disp_live_heard(l, "a", true, 1000);
    disp_live_check(l, withc, 2, 1000, 3600, &m);
    ASSERT_EQ_INT(m.n, 0);
    disp_live_check(l, withc, 2, 1000, 3601, &m);
    ASSERT_EQ_INT(m.n, 1);
    ASSERT_EQ_STR(m.v[0].id, "c");
    /* a join whose commit failed: gone after two checks without it */
    disp_live_heard(l, "d", false, 3700);
    disp_live_check(l, withc, 2, 1000, 3750, &m);
    disp_live_check(l, withc, 2, 1000, 4000, &m);
    ASSERT_EQ_INT(disp_live_size(l), 2);
    disp_live_marks_release(&m);
    disp_live_free(l);
}

TEST(disp_live_many_nodes)
{
    enum { N = 10000 };
    struct disp_live *l = disp_live_new(SELF);
    struct disp_live_node *v = xcalloc(N, sizeof(*v));
    char(*ids)[ID_LEN + 1] = xcalloc(N, sizeof(*ids));
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof(ids[i]), "n%024d", i);
        v[i] = (struct disp_live_node){ids[i], true};
    }
    struct disp_live_marks m = {0};
    uint64_t now = 0;
    const int64_t period = 5000;
    /* every node beats once per period at its own offset; from 20 s on, every third node
     * falls silent */
    size_t down = 0;
    for (now = 0; now <= 60000; now += disp_live_tick_ms(period)) {
        for (int i = 0; i < N; i++) {
            bool silent = i % 3 == 0 && now >= 20000;
            if (!silent && (uint64_t)(i % 5) * 1000 == now % 5000)
                ASSERT_EQ_INT(disp_live_heard(l, ids[i], v[i].ready, now), !v[i].ready);
        }
        disp_live_check(l, v, N, period, now, &m);
        for (size_t k = 0; k < m.n; k++) {
            int i = atoi(m.v[k].id + 1);
            ASSERT_EQ_INT(i % 3, 0);
            ASSERT_TRUE(v[i].ready);
            v[i].ready = false;
            down++;
            /* marked within three periods and one check of its last heartbeat */
            uint64_t last = 20000 - 5000 + (uint64_t)(i % 5) * 1000;
            if (last >= 20000)
                last -= 5000;
            ASSERT_TRUE(now > last + 3 * period);
            ASSERT_TRUE(now <= last + 3 * period + disp_live_tick_ms(period));
        }
    }
    ASSERT_EQ_INT(down, (N + 2) / 3);
    ASSERT_EQ_INT(disp_live_size(l), N);
    disp_live_marks_release(&m);
    free(v);
    free(ids);
    disp_live_free(l);
}
