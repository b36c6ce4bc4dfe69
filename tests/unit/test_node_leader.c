/* test_node_leader.c — the follower's decision to revoke the leader's lease (node_leader.c),
 * driven with a fake clock: only the leader it watched go silent for the whole window,
 * counted from when it learned that leader leads; an "etcd has no leader" answer is not
 * silence; a minority (no etcd leader) never revokes, nor acts, once healed, on what it saw
 * from its isolation. And the leader's own check that it reaches a majority of managers. */
#include "harness.h"
#include "node/node_int.h"

/* probes every 250 ms from t, all with outcome p; returns the time of the last one */
static uint64_t probes(struct node_silence *s, uint64_t t, int n, enum node_probe p)
{
    for (int i = 0; i < n; i++, t += 250)
        node_silence_probe(s, p, t, true);
    return t - 250;
}

TEST(node_silence_dead_leader_is_revoked_after_the_window)
{
    struct node_silence s;
    node_silence_reset(&s, 42, 1000);
    probes(&s, 1250, 4, NODE_PROBE_LEADS); /* heard last at 2000 */
    /* dies: the probes at 2250 and 2500 find nobody */
    node_silence_probe(&s, NODE_PROBE_SILENT, 2250, true);
    ASSERT_FALSE(node_silence_may_revoke(&s, 2250, true));
    node_silence_probe(&s, NODE_PROBE_SILENT, 2500, true);
    ASSERT_TRUE(node_silence_may_revoke(&s, 2500, true));
    /* a follower whose etcd has no leader (a minority) never does */
    ASSERT_FALSE(node_silence_may_revoke(&s, 2500, false));
}

TEST(node_silence_new_leader_gets_the_whole_window)
{
    /* failed probes from before this follower learned of the new leader do not count,
     * nor do early failures: the window starts when it was elected */
    struct node_silence s;
    node_silence_reset(&s, 7, 5000);
    node_silence_probe(&s, NODE_PROBE_SILENT, 5100, true);
    node_silence_probe(&s, NODE_PROBE_SILENT, 5350, true);
    ASSERT_FALSE(node_silence_may_revoke(&s, 5350, true));
    node_silence_probe(&s, NODE_PROBE_SILENT, 5500, true);
    ASSERT_TRUE(node_silence_may_revoke(&s, 5500, true));
    /* a newer leader: the count starts over */
    node_silence_reset(&s, 9, 5600);
    node_silence_probe(&s, NODE_PROBE_SILENT, 5700, true);
    ASSERT_FALSE(node_silence_may_revoke(&s, 6000, true));
    ASSERT_EQ_INT(s.rev, 9);
}

TEST(node_silence_etcd_election_is_not_silence)
{
    /* the leader answers "my etcd has no leader" for 800 ms while etcd elects: alive */
    struct node_silence s;
    node_silence_reset(&s, 3, 0);
    uint64_t t = probes(&s, 250, 4, NODE_PROBE_ELECTING);
    ASSERT_FALSE(node_silence_may_revoke(&s, t, true));
    /* one silent probe after that is not enough either: the window restarts at the answer */
    node_silence_probe(&s, NODE_PROBE_SILENT, t + 250, true);
    node_silence_probe(&s, NODE_PROBE_SILENT, t + 400, true);
    ASSERT_FALSE(node_silence_may_revoke(&s, t + 400, true));
    node_silence_probe(&s, NODE_PROBE_SILENT, t + 500, true);
    ASSERT_TRUE(node_silence_may_revoke(&s, t + 500, true));
}

TEST(node_silence_nobody_to_revoke)
{
    struct node_silence s;
    node_silence_reset(&s, 0, 0); /* no leader known, or this manager leads */
    probes(&s, 250, 10, NODE_PROBE_SILENT);
    ASSERT_FALSE(node_silence_may_revoke(&s, 5000, true));
}

TEST(node_silence_isolation_view_does_not_act_after_the_heal)
{
    /* a partitioned follower: the leader is silent for 20 s while its etcd has no leader */
    struct node_silence s;
    node_silence_reset(&s, 5, 0);
    uint64_t t = 250;
    for (; t <= 20000; t += 250) {
        node_silence_probe(&s, NODE_PROBE_SILENT, t, false);
        ASSERT_FALSE(node_silence_may_revoke(&s, t, false));
    }
    /* healed: its etcd has a leader again, and a probe sent during the partition times out */
    node_silence_probe(&s, NODE_PROBE_SILENT, t, true);
    ASSERT_FALSE(node_silence_may_revoke(&s, t, true));
    node_silence_probe(&s, NODE_PROBE_LEADS, t + 250, true);
    ASSERT_FALSE(node_silence_may_revoke(&s, t + 250, true));
    /* an etcd election (no leader for 0.5 s) is no isolation: a dead leader is still deposed */
    node_silence_reset(&s, 6, 30000);
    node_silence_probe(&s, NODE_PROBE_SILENT, 30250, true);
    node_silence_probe(&s, NODE_PROBE_SILENT, 30500, false);
    node_silence_probe(&s, NODE_PROBE_SILENT, 30750, false);
    node_silence_probe(&s, NODE_PROBE_SILENT, 31000, true);
    ASSERT_TRUE(node_silence_may_revoke(&s, 31000, true));
}

#define ME "me0000000000000000000000a"
#define M2 "m20000000000000000000000a"
#define M3 "m30000000000000000000000a"

/* The leader's majority check with a fake clock (node_reach_isolated): managers first seen
 * get a window; answers keep them reachable for NODE_REACH_WINDOW_MS; a leader that hears
 * from no other of three managers is isolated once the window passes, and not once one
 * answers again; alone, it never is; of two, it needs the other. */
TEST(node_reach_majority_with_a_fake_clock)
{
    json_t *reach = json_object();
    const char *three[] = {ME, M2, M3};
    int ok = -1;
    /* a new leader: everyone gets a window from now */
    ASSERT_FALSE(node_reach_isolated(reach, ME, three, 3, 1000, &ok));
    ASSERT_EQ_INT(ok, 3);
    ASSERT_FALSE(node_reach_isolated(reach, ME, three, 3, 1000 + NODE_REACH_WINDOW_MS, &ok));
    ASSERT_EQ_INT(ok, 3);
    /* nobody answered: past the window only the leader counts */
    ASSERT_TRUE(node_reach_isolated(reach, ME, three, 3, 1001 + NODE_REACH_WINDOW_MS, &ok));
    ASSERT_EQ_INT(ok, 1);
    /* M2 answers: two of three */
    node_reach_heard(reach, M2, 2000);
    ASSERT_FALSE(node_reach_isolated(reach, ME, three, 3, 2000 + NODE_REACH_WINDOW_MS, &ok));
    ASSERT_EQ_INT(ok, 2);
    ASSERT_TRUE(node_reach_isolated(reach, ME, three, 3, 2001 + NODE_REACH_WINDOW_MS, NULL));
    /* alone: never isolated */
    const char *one[] = {ME};
    ASSERT_FALSE(node_reach_isolated(reach, ME, one, 1, 100000, &ok));
    ASSERT_EQ_INT(ok, 1);
    /* two managers: half is not a majority */
    const char *two[] = {ME, M3};
    ASSERT_TRUE(node_reach_isolated(reach, ME, two, 2, 100000, NULL));
    node_reach_heard(reach, M3, 100000);
    ASSERT_FALSE(node_reach_isolated(reach, ME, two, 2, 100100, NULL));
    /* a manager added later gets its own window */
    const char *four[] = {ME, M2, M3, "m40000000000000000000000a"};
    ASSERT_FALSE(node_reach_isolated(reach, ME, four, 4, 100200, &ok));
    ASSERT_EQ_INT(ok, 3); /* M2 is long silent */
    json_decref(reach);
}
