/* daemon.h — `shoal daemon`: dockerd-like flags, the data-root lock, pidfile, signals, and
 * the wiring of node + API on one libuv loop. Thread: the main (loop) thread. */
#ifndef SHOAL_DAEMON_H
#define SHOAL_DAEMON_H

#define SHOAL_VERSION "0.1.0"

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

/* Runs the daemon with argv (after "daemon"); returns the process exit code. */
int daemon_main(int argc, char **argv);

/* Connection caps sized from the descriptor limit, so that the listeners together can never
 * take the descriptors that etcd, the peer clients and files need, and the peer port cannot
 * starve the local API: DAEMON_FD_RESERVE (at most half the limit) stays free, the peer
 * listener gets at most half of the rest and the Engine API listeners a quarter between
 * them (each cap is at least 1, so below 4 descriptors per API listener the sum can pass). */
#define DAEMON_FD_RESERVE 256
struct daemon_caps {
    size_t api_max_conns;  /* per Engine API listener (-H) */
    size_t peer_max_conns; /* the swarm peer listener (2377) */
};
/* Pure: caps for a soft RLIMIT_NOFILE of nofile and napi API listeners (>= 1). */
void daemon_size_caps(uint64_t nofile, int napi, struct daemon_caps *out);

/* Pure: checks a --cgroup-parent value: an absolute cgroupfs path below the root ("/shoal",
 * "/dsw/host1/ctr"), components of [A-Za-z0-9._-:@+] other than "." and "..", no empty
 * component (so no "//" and no trailing '/'), at most DAEMON_CGROUP_PARENT_MAX characters.
 * Task containers then go to <path>/<container id> in every hierarchy. 0 or -ERR_INVALID. */
#define DAEMON_CGROUP_PARENT_MAX 200
int daemon_cgroup_parent_check(const char *path, struct err *e);

#endif
