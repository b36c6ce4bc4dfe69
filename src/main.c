/* main.c — entry point: `shoal daemon [flags]` runs the daemon; `shoal hollow` runs simulated
 * workers (hollow.h); `shoal version` prints the version; `shoal image-helper` (hidden) is
 * the child process in which the daemon reads image archives (image.h). */
#include "base/base.h"
#include "daemon/daemon.h"
#include "hollow/hollow.h"
#include "image/image.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "daemon"))
        return daemon_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "hollow"))
        return hollow_main(argc - 1, argv + 1);
    /* hidden: the daemon's own helper for reading image archives (image_helper.c) */
    if (argc >= 2 && !strcmp(argv[1], "image-helper"))
        return image_helper_main(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version"))) {
        printf("shoal version %s\n", SHOAL_VERSION);
        return 0;
    }
    fprintf(stderr, "Usage: shoal daemon [OPTIONS]\n       shoal hollow [OPTIONS]\n"
                    "       shoal version\n\n"
                    "Point the docker CLI at the daemon: "
                    "DOCKER_HOST=unix:///run/shoal/shoal.sock docker info\n");
    return 2;
}
