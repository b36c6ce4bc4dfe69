/* test_etcd_side.h — a blocking POST to http://127.0.0.1:port/path for the state tests; the
 * answer's body is appended to out; anything but HTTP 200 fails the test. */
#ifndef SHOAL_TEST_ETCD_SIDE_H
#define SHOAL_TEST_ETCD_SIDE_H

#include "base/base.h"

void blocking_post(int port, const char *path, const char *body, struct buf *out);

#endif
