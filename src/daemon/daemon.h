/* daemon.h — `shoal daemon`: dockerd-like flags, the data-root lock, pidfile, signals, and
 * the wiring of node + API on one libuv loop. Thread: the main (loop) thread. */
#ifndef SHOAL_DAEMON_H
#define SHOAL_DAEMON_H

#define SHOAL_VERSION "0.1.0"

/* Runs the daemon with argv (after "daemon"); returns the process exit code. */
int daemon_main(int argc, char **argv);

#endif
