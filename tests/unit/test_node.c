/* test_node.c — pure parts of the node module: when certificates renew. */
#include "harness.h"
#include "node/node_int.h"

TEST(node_cert_renew_window)
{
    int64_t nb = 1000, na = 1000 + 3600LL * 1000000000LL; /* one hour */
    int64_t life = na - nb;
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, 0.0), nb + life / 2);
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, 1.0), nb + life / 2 + life * 3 / 10);
    int64_t mid = node_cert_renew_at(nb, na, 0.5);
    ASSERT_TRUE(mid > nb + life / 2 && mid < nb + life * 8 / 10);
    /* out-of-range draws are clamped into the 50%..80% window */
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, -3.0), nb + life / 2);
    ASSERT_EQ_INT(node_cert_renew_at(nb, na, 7.0), nb + life / 2 + life * 3 / 10);
}
